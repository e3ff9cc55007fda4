//! The module layering, read from the source: which top-level modules of
//! the library each one uses (`crate::name` outside comments). No two may
//! use each other, directly or round a longer loop, and the store, the
//! bottom layer that writes, uses nothing that decides.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// What `store/` may never use: everything that decides or serves.
const ABOVE_STORE: &[&str] = &[
    "ingest", "feed", "catchup", "session", "trust", "groups", "peers", "node", "server",
    "release", "client",
];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read src") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The top-level module a file belongs to (`src/store/commit.rs` → store).
fn module_of(src: &Path, file: &Path) -> Option<String> {
    let relative = file.strip_prefix(src).ok()?;
    let first = relative.components().next()?.as_os_str().to_str()?;
    let name = first.trim_end_matches(".rs");
    (name != "lib" && name != "main" && name != "cli").then(|| name.to_string())
}

/// `crate::name` uses in code (not comments).
fn uses(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for line in text.lines() {
        let code = line.split("//").next().unwrap_or_default();
        let mut rest = code;
        while let Some(at) = rest.find("crate::") {
            rest = &rest[at + "crate::".len()..];
            let name: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() {
                out.insert(name);
            }
        }
    }
    out
}

fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in files {
        let Some(module) = module_of(&src, &file) else {
            continue;
        };
        let text = std::fs::read_to_string(&file).expect("read");
        let used: Vec<String> = uses(&text).into_iter().filter(|u| *u != module).collect();
        graph.entry(module).or_default().extend(used);
    }
    graph
}

/// A loop through `start`, if there is one.
fn cycle_from(graph: &BTreeMap<String, BTreeSet<String>>, start: &str) -> Option<Vec<String>> {
    let mut stack = vec![vec![start.to_string()]];
    let mut seen = BTreeSet::new();
    while let Some(path) = stack.pop() {
        let last = path.last().expect("non-empty").clone();
        for next in graph.get(&last).into_iter().flatten() {
            if next == start {
                let mut found = path.clone();
                found.push(next.clone());
                return Some(found);
            }
            if seen.insert(next.clone()) {
                let mut longer = path.clone();
                longer.push(next.clone());
                stack.push(longer);
            }
        }
    }
    None
}

#[test]
fn no_two_top_level_modules_use_each_other() {
    let graph = graph();
    assert!(graph.contains_key("store"), "read the tree: {graph:?}");
    let cycles: Vec<String> = graph
        .keys()
        .filter_map(|m| cycle_from(&graph, m))
        .map(|c| c.join(" -> "))
        .collect();
    assert!(cycles.is_empty(), "import cycles:\n{}", cycles.join("\n"));
}

#[test]
fn the_store_uses_nothing_that_decides() {
    let graph = graph();
    let store = graph.get("store").expect("store");
    let bad: Vec<&String> = store
        .iter()
        .filter(|m| ABOVE_STORE.contains(&m.as_str()))
        .collect();
    assert!(bad.is_empty(), "store/ uses {bad:?}");
}

#[test]
fn uses_are_read_from_code_not_comments() {
    let text = "use crate::store::Store;\n//! see [`crate::node`]\nlet x = crate::proto::Code::OK; // crate::feed\n";
    let found: Vec<String> = uses(text).into_iter().collect();
    assert_eq!(found, vec!["proto", "store"]);
}

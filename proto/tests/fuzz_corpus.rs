//! Replays the fuzzing seed corpus (`fuzz/corpus/<target>/`) and every crash
//! the fuzzers found (`fuzz/regressions/<target>/`) through the target
//! bodies in `tidings_proto::fuzz_targets`, so a fixed crash stays fixed
//! under plain `cargo test`. A missing or empty corpus directory fails the
//! test rather than passing without having run anything.

use std::fs;
use std::panic;
use std::path::{Path, PathBuf};

use tidings_proto::fuzz_targets::TARGETS;

fn fuzz_dir() -> PathBuf {
    // Where cargo runs the test from, rather than where it was compiled: a
    // target directory shared between checkouts may hold a binary built in
    // another one.
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")), PathBuf::from)
        .join("../fuzz")
}

/// The files of one directory, sorted, skipping README files.
fn inputs(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.expect("directory entry").path())
        .filter(|p| p.is_file())
        .filter(|p| {
            !p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("README"))
        })
        .collect();
    files.sort();
    files
}

/// Runs every file of `dir` through `target`; returns the names of those
/// that panicked.
fn replay(target: fn(&[u8]), dir: &Path) -> (usize, Vec<String>) {
    let files = inputs(dir);
    let mut failed = Vec::new();
    for file in &files {
        let data = fs::read(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        if panic::catch_unwind(|| target(&data)).is_err() {
            failed.push(file.display().to_string());
        }
    }
    (files.len(), failed)
}

#[test]
fn every_target_has_a_seed_corpus_and_it_passes() {
    let mut failed = Vec::new();
    for (name, target) in TARGETS {
        let dir = fuzz_dir().join("corpus").join(name);
        assert!(dir.is_dir(), "no seed corpus for {name}: {}", dir.display());
        let (count, bad) = replay(*target, &dir);
        assert!(count > 0, "the seed corpus of {name} is empty");
        failed.extend(bad);
    }
    assert!(failed.is_empty(), "seed inputs that fail: {failed:#?}");
}

#[test]
fn every_crash_found_stays_fixed() {
    let mut failed = Vec::new();
    for (name, target) in TARGETS {
        let dir = fuzz_dir().join("regressions").join(name);
        assert!(
            dir.is_dir(),
            "no regressions directory for {name}: {}",
            dir.display()
        );
        // A target the fuzzer never crashed has only its README here.
        let (_, bad) = replay(*target, &dir);
        failed.extend(bad);
    }
    assert!(
        failed.is_empty(),
        "crash inputs that still fail: {failed:#?}"
    );
}

#[test]
fn the_corpus_directories_are_exactly_the_targets() {
    for kind in ["corpus", "regressions"] {
        let mut dirs: Vec<String> = fs::read_dir(fuzz_dir().join(kind))
            .unwrap_or_else(|e| panic!("fuzz/{kind}: {e}"))
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .filter(|n| !n.starts_with("README"))
            .collect();
        dirs.sort();
        let mut names: Vec<String> = TARGETS.iter().map(|(n, _)| n.to_string()).collect();
        names.sort();
        assert_eq!(dirs, names, "fuzz/{kind}");
    }
}

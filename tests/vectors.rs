//! Runs every article vector of protocol-spec/vectors/articles through IHAVE.

mod common;

use common::*;

#[test]
fn article_vectors_get_their_expected_replies() {
    let (_dir, node) = start_node();
    let base =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("protocol-spec/vectors/articles");
    let manifest = std::fs::read_to_string(base.join("expected.tsv")).expect("manifest");
    let mut c = Client::connect(node.addr);
    let mut checked = 0;
    for row in manifest
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
    {
        let cols: Vec<&str> = row.split('\t').collect();
        let [file, id, code, reason] = cols[..] else {
            panic!("bad row {row:?}")
        };
        let text = std::fs::read(base.join(file)).expect("vector file");
        let text = String::from_utf8_lossy(&text).replace('\n', "\r\n");
        assert_eq!(c.cmd(&format!("IHAVE {id}")).0, 335, "{file}");
        c.send_article(&text);
        let (got, why) = c.status();
        assert_eq!(got.to_string(), code, "{file}: {why}");
        assert!(
            why.contains(reason),
            "{file}: reason {why:?} lacks {reason:?}"
        );
        if code == "235" {
            assert_eq!(c.cmd(&format!("HEAD {id}")).0, 221);
            let head = c.block();
            assert_eq!(
                head[0], "Path: test.node!far.example!not-for-mail",
                "{file}"
            );
            assert!(!head.iter().any(|l| l.starts_with("Xref:")), "{file}");
        }
        checked += 1;
    }
    assert_eq!(checked, 16);
}

//! The conformance suite, run against a node this test starts.

mod common;

use common::*;

#[test]
fn conformance_suite_passes_against_tidings() {
    let dir = temp_dir();
    let mut config = config(dir.path());
    // The default: transit only from peers authenticated with XPEER.
    config.listen.open_transit = false;
    // A reader to log in as, so AUTHINFO is offered (access.md §3).
    let hash = tidings::access::hash_password("conformance").expect("hash");
    std::fs::write(dir.path().join("users"), format!("reader:{hash}\n")).expect("users");
    let node = TestNode::start(config);
    // The suite signs transit articles with a key the node trusts.
    let key = dir.path().join("author.key");
    std::fs::write(&key, format!("{}\n", hex::encode(author().to_bytes()))).expect("key file");
    let options = conformance::Options {
        target: node.addr.to_string(),
        group: Some("test.one".into()),
        timeout: std::time::Duration::from_secs(20),
        verbose: false,
        key: Some(key),
        peer_name: Some("tests.peer".into()),
        http: node.http.map(|a| a.to_string()),
    };
    let mut out = Vec::new();
    let summary = conformance::run(&options, &mut out);
    let report = String::from_utf8_lossy(&out);
    eprintln!("{report}");
    assert_eq!(summary.failed, 0, "failures: {:#?}", summary.failures);
    assert!(summary.skipped <= 1, "skipped: {report}");
    assert!(summary.passed >= 60, "only {} cases passed", summary.passed);
}

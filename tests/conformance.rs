//! The conformance suite, run against a node this test starts.

mod common;

use common::*;

#[test]
fn conformance_suite_passes_against_tidings() {
    let (_dir, node) = start_node();
    let options = conformance::Options {
        target: node.addr.to_string(),
        group: Some("test.one".into()),
        timeout: std::time::Duration::from_secs(20),
        verbose: false,
    };
    let mut out = Vec::new();
    let summary = conformance::run(&options, &mut out);
    let report = String::from_utf8_lossy(&out);
    eprintln!("{report}");
    assert_eq!(summary.failed, 0, "failures: {:#?}", summary.failures);
    assert!(summary.passed >= 30, "only {} cases passed", summary.passed);
}

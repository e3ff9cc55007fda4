//! The chan's own stack against the HTTP API: a PHP script (Debian
//! `php-cli` with its curl extension) posts a thread and replies through
//! the API, reads them back through the chan and native APIs
//! (tests/php/chan_client.php), and an NNTP reader then finds the thread.
//!
//! Needs the Debian packages `php-cli` and `php-curl`; without them the
//! test fails and says so.

mod common;

use std::process::Command;

use common::*;

#[test]
fn a_php_chan_back_end_posts_and_reads_a_thread() {
    let has_curl = Command::new("php")
        .args(["-r", "exit(function_exists('curl_init') ? 0 : 1);"])
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        has_curl,
        "`php` with the curl extension does not run: this test drives the HTTP API from \
         PHP; install it with `apt-get update && apt-get install -y php-cli php-curl`"
    );
    let dir = temp_dir();
    let node = TestNode::start(config(dir.path()));
    let http = node.http.expect("HTTP");
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/php/chan_client.php");
    let output = Command::new("php")
        .arg(script)
        .arg(http.to_string())
        .arg("test.one")
        .output()
        .expect("php runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "the PHP client failed: {stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let mut words = stdout.split_whitespace();
    assert_eq!(words.next(), Some("ok"), "{stdout}");
    let number: u64 = words
        .next()
        .and_then(|n| n.parse().ok())
        .expect("thread number");
    let id = words.next().expect("message-id").to_string();

    // What PHP posted is an NNTP article like any other.
    let mut reader = Client::connect(node.addr);
    assert_eq!(reader.cmd("GROUP test.one").0, 211);
    let (code, text) = reader.cmd(&format!("STAT {number}"));
    assert_eq!((code, text), (223, format!("{number} {id}")));
    let (code, _) = reader.cmd(&format!("HEAD {id}"));
    assert_eq!(code, 221);
    let head = reader.block();
    assert!(
        head.iter().any(|l| l == "Subject: posted from PHP"),
        "{head:?}"
    );
    assert!(
        head.iter().any(|l| l.starts_with("Tidings-Signature:")),
        "signed by the node: {head:?}"
    );
}

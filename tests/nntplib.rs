//! Python's standard nntplib as a client: post, then group/over/article/
//! head/body/newnews return the article, and numbers hold after a restart.

mod common;

use common::*;

fn run(addr: std::net::SocketAddr, args: &[&str]) -> String {
    nntplib(addr, args).trim().to_string()
}

#[test]
fn nntplib_posts_reads_and_survives_restart() {
    // nntplib left the standard library in Python 3.13; .ci/run uses the
    // machine's 3.11. Say so loudly rather than pass silently elsewhere.
    if !python_has_nntplib() {
        eprintln!("SKIPPED: python3 with nntplib (Python <= 3.12) is not installed");
        return;
    }
    let dir = temp_dir();
    let node = TestNode::start(config(dir.path()));
    let posted = run(node.addr, &["post", "test.one"]);
    let (id, number) = posted.split_once(' ').expect("ID NUMBER");
    node.stop();
    let node = TestNode::start(config(dir.path()));
    assert_eq!(run(node.addr, &["check", "test.one", id, number]), "ok");
}

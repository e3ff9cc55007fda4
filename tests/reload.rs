//! Reloading a running node's configuration (issue 17): SIGHUP to a real
//! process, and POST /reload on the admin listener. New peers are fed
//! without a restart, rules and boards change under open connections, and
//! a broken file is refused with the key named while the running
//! configuration stays.

mod common;

use std::net::SocketAddr;
use std::path::Path;

use common::*;
use tidings::clock::Clock;

/// A node's configuration file: `name` on `data_dir`, the admin listener
/// on a free port, boards test.one and test.two, then `more` (peers,
/// rules, boards) as TOML.
fn config_text(name: &str, data_dir: &Path, nntp: SocketAddr, more: &str) -> String {
    format!(
        "[node]\nname = \"{name}\"\ndata_dir = {data_dir:?}\n\
         [listen]\nnntp = \"{nntp}\"\nhttp = false\nadmin = \"127.0.0.1:0\"\n\
         [[group]]\nname = \"test.one\"\n[[group]]\nname = \"test.two\"\n{more}"
    )
}

/// A `[[peer]]` entry fed at `address`, sent the boards of `send`.
fn peer_entry(name: &str, key: &str, address: SocketAddr, send: &str) -> String {
    format!("[[peer]]\nname = \"{name}\"\nkey = \"{key}\"\naddress = \"{address}\"\nsend = \"{send}\"\n")
}

/// POST /reload on `admin`: the status and the JSON answer.
fn reload(admin: SocketAddr) -> (u16, serde_json::Value) {
    let (status, _, body) = http_exchange(
        admin,
        "POST /reload HTTP/1.1\r\nHost: admin\r\nContent-Length: 0\r\n",
        b"",
    );
    (
        status,
        serde_json::from_slice(&body).expect("a JSON answer"),
    )
}

fn has(c: &mut Client, id: &str) -> bool {
    c.cmd(&format!("STAT {id}")).0 == 223
}

#[test]
fn sighup_feeds_a_new_peer_and_refuses_a_broken_file() {
    let dir = temp_dir();
    let a_data = dir.path().join("a");
    std::fs::create_dir_all(&a_data).expect("data dir");
    let a_key = tidings::keys::write_new_secret_key(&a_data.join("node.key")).expect("key");
    // B knows A's key and takes its articles; it does not dial A.
    let b_dir = temp_dir();
    let mut b_config = config(b_dir.path());
    b_config.node.name = "b.hup".into();
    b_config.listen.open_transit = false;
    b_config
        .peers
        .push(tidings::config::PeerConfig::new("a.hup", hex_key(&a_key)));
    let b = TestNode::start(b_config);
    let b_key = tidings::keys::read_secret_key(&b_dir.path().join("node.key")).expect("B's key");

    let path = dir.path().join("a.toml");
    let any: SocketAddr = "127.0.0.1:0".parse().expect("addr");
    std::fs::write(&path, config_text("a.hup", &a_data, any, "")).expect("write");
    let a = NodeProcess::start(&path);
    let mut reader = Client::connect(a.addr);
    let mut at_b = Client::connect(b.addr);
    let before = reader.post("test.one", "before", "posted before B was a peer\r\n");

    // Add B with SIGHUP: A feeds it without a restart, and the catch-up
    // a new link starts with brings what A had before.
    let with_b = peer_entry("b.hup", &hex_key(&b_key), b.addr, "*");
    std::fs::write(&path, config_text("a.hup", &a_data, any, &with_b)).expect("write");
    a.hang_up();
    wait_until(TIMEOUT, "the reload to be logged", || {
        a.log_count(&["configuration reloaded", "b.hup"]) == 1
    });
    let after = reader.post("test.one", "after", "posted after the reload\r\n");
    wait_until(TIMEOUT, "the new post at B", || has(&mut at_b, &after));
    wait_until(TIMEOUT, "the earlier post at B", || has(&mut at_b, &before));

    // A broken file: refused with the key named, logged, the old one kept.
    let broken = format!("{with_b}[[retention]]\nboards = \"*\"\ndays = 0\n");
    std::fs::write(&path, config_text("a.hup", &a_data, any, &broken)).expect("write");
    a.hang_up();
    wait_until(TIMEOUT, "the refusal to be logged", || {
        a.log_count(&["reload refused", "retention"]) == 1
    });
    let admin = a.admin_addr().expect("A's admin listener");
    let (status, answer) = reload(admin);
    assert_eq!(status, 422, "{answer}");
    assert!(
        answer["reason"]
            .as_str()
            .is_some_and(|r| r.contains("retention")),
        "{answer}"
    );
    let still = reader.post("test.one", "still", "the running configuration stays\r\n");
    wait_until(TIMEOUT, "a post after the refusal at B", || {
        has(&mut at_b, &still)
    });
    // The reader's connection lived through all of it.
    assert_eq!(reader.cmd("GROUP test.one").0, 211);
    assert_eq!(a.log_count(&["configuration reloaded"]), 1);
    // And SIGTERM still stops the node cleanly (nothing holds it open).
    drop(reader);
    let status = a.terminate();
    assert!(status.success(), "{status}");
}

#[test]
fn a_reload_changes_rights_and_boards_under_open_connections() {
    let mut net = Net::new(&["a.reload", "b.reload"], &[(0, 1)]);
    let (a, b) = (0, 1);
    let b_node = net.start(b, net.config(b), Clock::system());
    let path = net.dirs[a].path().join("a.toml");
    let data = net.dirs[a].path().to_path_buf();
    let b_key = hex_key(&net.keys[b]);
    let (a_addr, b_addr) = (net.addrs[a], net.addrs[b]);
    let write = |more: &str| {
        std::fs::write(&path, config_text("a.reload", &data, a_addr, more)).expect("write")
    };
    write(&peer_entry("b.reload", &b_key, b_addr, "*"));
    let a_node = TestNode::start_from_file(&path, net.take_listener(a));
    let admin = a_node.admin.expect("admin listener");
    let mut reader = Client::connect(a_node.addr);
    let mut at_b = Client::connect(b_node.addr);
    assert_eq!(reader.cmd("GROUP test.two").0, 211);
    let first = reader.post("test.one", "first", "to B\r\n");
    wait_until(TIMEOUT, "the first post at B", || has(&mut at_b, &first));

    // B is sent test.one only now; test.two needs a login at A; a third
    // board appears. B's link is kept (dialled the same way).
    let second = format!(
        "{}[[group]]\nname = \"test.three\"\ndescription = \"added by a reload\"\n\
         [[access.rule]]\nboards = \"test.two\"\nread = [\"authenticated\"]\n",
        peer_entry("b.reload", &b_key, b_addr, "test.one")
    );
    write(&second);
    let (status, done) = reload(admin);
    assert_eq!(status, 200, "{done}");
    assert_eq!(
        done["applied"],
        serde_json::json!(["group", "peer", "access"])
    );
    assert_eq!(done["groups_created"], serde_json::json!(["test.three"]));
    assert_eq!(done["peers_started"], serde_json::json!([]));
    assert_eq!(done["peers_stopped"], serde_json::json!([]));
    assert_eq!(reader.cmd("GROUP test.two").0, 480, "rules apply at once");
    let (code, line) = reader.cmd("GROUP test.three");
    assert_eq!(code, 211, "{line}");
    let mut poster = Client::connect(a_node.addr);
    let not_sent = poster.post("test.two", "kept here", "not for B\r\n");
    let sent = poster.post("test.one", "sent", "for B\r\n");
    wait_until(TIMEOUT, "the test.one post at B", || has(&mut at_b, &sent));
    // A peer's outbox is sent in order: had test.two gone to B, it would
    // be there before the later test.one post.
    assert!(!has(&mut at_b, &not_sent), "B is no longer sent test.two");

    // A change only a restart makes is named and not taken.
    write(&format!("{second}[storage]\ncommit_batch = 7\n"));
    let (status, done) = reload(admin);
    assert_eq!(status, 200, "{done}");
    assert_eq!(done["restart_needed"], serde_json::json!(["storage"]));
    assert_eq!(done["applied"], serde_json::json!([]));

    // Unknown keys are refused with the key named; nothing changes.
    write(&format!(
        "{second}[[peer]]\nname = \"c.reload\"\nkey = \"beef\"\nhosts = [\"127.0.0.9\"]\n"
    ));
    let (status, refused) = reload(admin);
    assert_eq!(status, 422, "{refused}");
    let reason = refused["reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains("c.reload") && reason.contains("key"),
        "{reason}"
    );
    assert_eq!(reader.cmd("GROUP test.three").0, 211);
    let again = poster.post("test.one", "again", "B is still fed\r\n");
    wait_until(TIMEOUT, "a post after the refusal at B", || {
        has(&mut at_b, &again)
    });

    // Removing B stops its link; the status no longer lists it.
    write("");
    let (status, done) = reload(admin);
    assert_eq!(status, 200, "{done}");
    assert_eq!(done["peers_stopped"], serde_json::json!(["b.reload"]));
    let (_, _, body) = http_exchange(admin, "GET /status HTTP/1.1\r\nHost: admin\r\n", b"");
    let status: serde_json::Value = serde_json::from_slice(&body).expect("status JSON");
    assert_eq!(status["peers"], serde_json::json!([]), "{status}");
    assert_eq!(reader.cmd("DATE").0, 111, "the reader's connection stayed");
}

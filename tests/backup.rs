//! Backups (README "Backups", issue 17): a backup of a node under a
//! running ingest load restores, into an empty data directory, a node that
//! serves every article acknowledged before the backup started and has the
//! state digest the backup recorded; a second backup adds far less than
//! the first.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;

/// `POST /backup` on the admin listener: the JSON answer.
fn back_up(admin: std::net::SocketAddr, to: &std::path::Path) -> serde_json::Value {
    let body = serde_json::json!({ "to": to }).to_string();
    let head = format!(
        "POST /backup HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\n",
        body.len()
    );
    let (status, _, answer) = http_exchange(admin, &head, body.as_bytes());
    let answer: serde_json::Value = serde_json::from_slice(&answer).expect("JSON");
    assert_eq!(status, 200, "{answer}");
    answer
}

fn state(c: &mut Client) -> String {
    let (code, text) = c.cmd("XSTATE");
    assert_eq!(code, 293, "{text}");
    text.split_whitespace().next().expect("digest").to_string()
}

#[test]
fn a_backup_under_load_restores_what_was_acknowledged_with_its_digest() {
    let dir = temp_dir();
    let node = TestNode::start(config(dir.path()));
    let admin = node.admin.expect("admin listener");

    // A load: signed articles offered one after another, each id kept once
    // the node acknowledged it (235).
    let stop = Arc::new(AtomicBool::new(false));
    let acked = Arc::new(Mutex::new(Vec::<String>::new()));
    let load = {
        let (stop, acked, addr) = (stop.clone(), acked.clone(), node.addr);
        std::thread::spawn(move || {
            let mut c = Client::connect(addr);
            while !stop.load(Ordering::Relaxed) {
                let id = unique_id("load");
                // Hex of hashes: text compression cannot shrink it away.
                let body: String = (0..32u8)
                    .map(|i| {
                        let line =
                            <sha2::Sha256 as sha2::Digest>::digest([id.as_bytes(), &[i]].concat());
                        format!("{}\r\n", hex::encode(line))
                    })
                    .collect();
                let (code, text) = ihave(&mut c, &id, &article(&id, "test.one", &body));
                assert_eq!(code, 235, "{text}");
                acked.lock().expect("ids").push(id);
            }
        })
    };
    let count = || acked.lock().expect("ids").len();
    wait_until(Duration::from_secs(120), "2000 articles in", || {
        count() >= 2000
    });

    let to = temp_dir();
    let first = back_up(admin, to.path());
    let at_first = count();
    wait_until(Duration::from_secs(60), "20 more", || {
        count() >= at_first + 20
    });
    let before_second: Vec<String> = acked.lock().expect("ids").clone();
    let second = back_up(admin, to.path());
    eprintln!("first backup: {first}\nsecond backup: {second}");
    stop.store(true, Ordering::Relaxed);
    load.join().expect("load");
    assert_eq!(
        second["backup_id"],
        first["backup_id"].as_u64().expect("id") + 1
    );
    let (added_first, added_second) = (
        first["db_bytes_added"].as_u64().expect("bytes"),
        second["db_bytes_added"].as_u64().expect("bytes"),
    );
    assert!(
        added_second * 4 < added_first,
        "the second backup added {added_second} bytes, the first {added_first}"
    );
    node.stop();

    // Restored into an empty directory, a node with the same key serves
    // every article acknowledged before the second backup started, and has
    // the digest it recorded.
    let restored = temp_dir();
    let digest = tidings::backup::restore(to.path(), restored.path()).expect("restore");
    assert_eq!(digest, second["state"].as_str().expect("state"));
    assert!(
        tidings::backup::restore(to.path(), restored.path()).is_err(),
        "a store is there now"
    );
    let again = TestNode::start(config(restored.path()));
    let mut c = Client::connect(again.addr);
    assert_eq!(state(&mut c), digest);
    for id in &before_second {
        assert_eq!(c.cmd(&format!("STAT {id}")).0, 223, "{id}");
    }
    again.stop();
}

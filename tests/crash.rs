//! kill -9 of a real node process in the middle of a TAKETHIS stream: every
//! article that was answered 239 must be there after a restart.

mod common;

use std::io::{BufRead, Write};
use std::time::{Duration, Instant};

use common::*;

#[test]
fn kill_9_mid_stream_loses_no_acknowledged_article() {
    let dir = temp_dir();
    let config_path = dir.path().join("node.toml");
    std::fs::write(
        &config_path,
        format!(
            "[node]\nname = \"crash.node\"\ndata_dir = {:?}\n[listen]\nnntp = \"127.0.0.1:0\"\nhttp = \"127.0.0.1:0\"\nadmin = \"127.0.0.1:0\"\nopen_transit = true\n[[group]]\nname = \"test.crash\"\n[[peer]]\nname = \"tests.peer\"\nkey = \"{}\"\n",
            dir.path().join("data"),
            hex::encode(author().verifying_key().as_bytes())
        ),
    )
    .expect("config");
    let node = NodeProcess::start(&config_path);

    let mut c = Client::connect(node.addr);
    assert_eq!(c.cmd("MODE STREAM").0, 203);
    let ids: Vec<String> = (0..50_000).map(|_| unique_id("crash")).collect();
    let mut writer = c.writer_clone();
    let to_send = ids.clone();
    let sender = std::thread::spawn(move || {
        for chunk in to_send.chunks(100) {
            let mut wire = Vec::new();
            for id in chunk {
                wire.extend_from_slice(format!("TAKETHIS {id}\r\n").as_bytes());
                wire.extend_from_slice(
                    article(id, "test.crash", &"some text\r\n".repeat(50)).as_bytes(),
                );
                wire.extend_from_slice(b".\r\n");
            }
            // The write fails once the node is killed; that is the point.
            if writer.write_all(&wire).is_err() {
                return;
            }
        }
    });

    let mut acknowledged = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut node = Some(node);
    loop {
        let mut line = String::new();
        match c.reader_mut().read_line(&mut line) {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
        if let Some(rest) = line.strip_prefix("239 ") {
            acknowledged.push(
                rest.split_whitespace()
                    .next()
                    .unwrap_or_default()
                    .to_string(),
            );
        }
        if acknowledged.len() >= 3000 {
            if let Some(node) = node.take() {
                node.kill_9();
            }
        }
        assert!(Instant::now() < deadline, "stream took too long");
    }
    assert!(
        node.is_none(),
        "the node acknowledged fewer than 3000 articles before the stream ended"
    );
    let _ = sender.join();
    assert!(
        acknowledged.len() < ids.len(),
        "the kill should interrupt the stream"
    );

    let node = NodeProcess::start(&config_path);
    let mut c = Client::connect(node.addr);
    let mut wire = String::new();
    for id in &acknowledged {
        wire.push_str(&format!("STAT {id}\r\n"));
    }
    c.send(wire.as_bytes());
    for id in &acknowledged {
        let (code, text) = c.status();
        assert_eq!(
            code, 223,
            "{id} was acknowledged with 239 but is missing after kill -9: {text}"
        );
    }
    let (code, text) = c.cmd("GROUP test.crash");
    assert_eq!(code, 211);
    let count: usize = text
        .split(' ')
        .next()
        .and_then(|n| n.parse().ok())
        .expect("count");
    assert!(
        count >= acknowledged.len(),
        "{count} stored, {} acknowledged",
        acknowledged.len()
    );
    eprintln!(
        "{} acknowledged before kill -9, {count} stored after restart",
        acknowledged.len()
    );
}

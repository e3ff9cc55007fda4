//! kill -9 of a real node process in the middle of a TAKETHIS stream: every
//! article that was answered 239 must be there after a restart.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

fn spawn_node(config_path: &std::path::Path) -> (Child, SocketAddr) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_tidings"))
        .args(["serve", "--config"])
        .arg(config_path)
        .env("RUST_LOG", "info")
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("spawn tidings");
    let stderr = child.stderr.take().expect("stderr");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut sent = false;
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if !sent && line.contains("listening for NNTP") {
                if let Some(addr) = line
                    .split_whitespace()
                    .find_map(|w| w.strip_prefix("addr="))
                {
                    sent = tx.send(addr.parse::<SocketAddr>().expect("addr")).is_ok();
                }
            }
        }
    });
    let addr = rx
        .recv_timeout(Duration::from_secs(60))
        .expect("node reports its address");
    (child, addr)
}

#[test]
fn kill_9_mid_stream_loses_no_acknowledged_article() {
    let dir = temp_dir();
    let config_path = dir.path().join("node.toml");
    std::fs::write(
        &config_path,
        format!(
            "[node]\nname = \"crash.node\"\ndata_dir = {:?}\n[listen]\nnntp = \"127.0.0.1:0\"\n[[group]]\nname = \"test.crash\"\n[[peer]]\nname = \"tests.peer\"\nkey = \"{}\"\n",
            dir.path().join("data"),
            hex::encode(author().verifying_key().as_bytes())
        ),
    )
    .expect("config");
    let (mut child, addr) = spawn_node(&config_path);

    let mut c = Client::connect(addr);
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
    let mut killed = false;
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
        if !killed && acknowledged.len() >= 3000 {
            child.kill().expect("SIGKILL");
            killed = true;
        }
        assert!(Instant::now() < deadline, "stream took too long");
    }
    assert!(
        killed,
        "the node acknowledged fewer than 3000 articles before the stream ended"
    );
    child.wait().expect("reaped");
    let _ = sender.join();
    assert!(
        acknowledged.len() < ids.len(),
        "the kill should interrupt the stream"
    );

    let (mut child, addr) = spawn_node(&config_path);
    let mut c = Client::connect(addr);
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
    child.kill().expect("kill");
    child.wait().expect("reaped");
}

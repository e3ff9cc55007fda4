//! `cargo bench --bench settle`: what a moved thread's late replies cost
//! the settling (protocol-spec/state.md §3).
//!
//! A node's opening post is moved to another board; then BENCH_REPLIES
//! (default 2,000) replies arrive one by one, each followed by the
//! settling a running node does after the commit. Settling only the reply
//! that came costs the same for the first reply and the last; settling the
//! whole thread again (what the node did before) grows with the thread,
//! which this bench shows by timing both at the end.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use tidings::config::{Config, GroupConfig};
use tidings::ingest::Source;
use tidings::node::{Node, Settle};
use tidings::proto::article::Article;
use tidings::proto::signing;

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A transit article signed by `key` under a Message-ID bound to it.
fn signed(key: &ed25519_dalek::SigningKey, tag: &str, extra: &str) -> (Vec<u8>, Bytes) {
    let id = signing::new_message_id(&key.verifying_key(), tag, "bench.invalid");
    let text = format!(
        "Path: bench!not-for-mail\r\nFrom: bench <b@bench.invalid>\r\nNewsgroups: bench.one\r\nSubject: s\r\nDate: Sun, 22 Nov 2026 04:20:54 +0000\r\nMessage-ID: {}\r\n{extra}\r\nbody\r\n",
        String::from_utf8_lossy(&id)
    );
    let article = Article::parse(Bytes::from(text)).expect("parses");
    (id, signing::sign(&article, key).expect("signs"))
}

async fn offer(node: &Arc<Node>, (id, bytes): (Vec<u8>, Bytes)) {
    let source = Source::Transit {
        offered_id: id,
        peer: None,
    };
    node.ingest(bytes, source, None).await;
}

fn main() {
    let replies = env_or("BENCH_REPLIES", 2_000);
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = Config::default();
    config.node.name = "bench.node".into();
    config.node.data_dir = dir.path().to_path_buf();
    config.groups = ["bench.one", "bench.two"]
        .map(|name| GroupConfig {
            name: name.into(),
            description: String::new(),
        })
        .to_vec();
    let key_path = config.key_path();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let (node, commit) = Node::open(config.validated().expect("valid")).expect("node");
    // The node's own key signs everything: trusted, and it may move.
    let key = tidings::keys::read_secret_key(&key_path).expect("node key");
    runtime.block_on(async {
        let (op, op_bytes) = signed(&key, "op", "");
        let root = String::from_utf8_lossy(&op).into_owned();
        offer(&node, (op.clone(), op_bytes)).await;
        let (mv, mv_bytes) = signed(
            &key,
            "move",
            &format!("Control: move {root} bench.two\r\n"),
        );
        offer(&node, (mv, mv_bytes)).await;
        tidings::settle::settle(&node, Settle::All).await;

        let mut first = Duration::ZERO;
        let mut last = Duration::ZERO;
        let started = Instant::now();
        for n in 0..replies {
            let (id, bytes) = signed(&key, &format!("r{n}"), &format!("References: {root}\r\n"));
            offer(&node, (id.clone(), bytes)).await;
            let t = Instant::now();
            let moved = tidings::settle::settle(&node, Settle::Targets(vec![id])).await;
            assert_eq!(moved, 1, "each reply joins its thread on bench.two");
            let took = t.elapsed();
            if n < 100 {
                first += took;
            }
            if n + 100 >= replies {
                last += took;
            }
        }
        let total = started.elapsed();
        let t = Instant::now();
        tidings::settle::settle(&node, Settle::Targets(vec![op])).await;
        let whole = t.elapsed();
        println!(
            "{replies} late replies to a moved thread, each filed and settled: {:.0} replies/s; settling one reply: {:.2} ms over the first 100, {:.2} ms over the last 100; settling the whole thread of {} once: {:.1} ms",
            replies as f64 / total.as_secs_f64(),
            first.as_secs_f64() * 1000.0 / 100.0,
            last.as_secs_f64() * 1000.0 / 100.0,
            replies + 1,
            whole.as_secs_f64() * 1000.0
        );
    });
    drop(node);
    commit.join();
}

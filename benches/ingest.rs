//! `cargo bench --bench ingest`: ingest throughput of a real node.
//!
//! 1. Parse + check + prepare of a 1 KiB article on one core (no I/O).
//! 2. End to end: a node on 127.0.0.1 with RocksDB in a temp dir, fed by the
//!    load generator over pipelined TAKETHIS on several connections; every
//!    239 is sent only after its group commit is synced.
//!
//! Environment: BENCH_ARTICLES (default 200000), BENCH_CONNECTIONS (4).

use std::time::Instant;

use bytes::Bytes;
use tidings::config::{Config, GroupConfig};
use tidings::groups::Groups;
use tidings::ingest::{Ingest, Source};
use tidings::loadgen::{self, Load};
use tidings::node::Node;
use tidings::proto::article::Article;
use tidings::proto::signing;
use tidings::store::schema::GroupRecord;
use tidings::trust::Trust;
use tokio_util::sync::CancellationToken;

// The same allocator as the `tidings` binary, so the figure is the node's.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn prepare_rate() {
    let groups = Groups::new([(
        "bench.group".to_string(),
        GroupRecord::new(0, String::new()),
    )]);
    let key = ed25519_dalek::SigningKey::from_bytes(&[7; 32]);
    let peers = tidings::peers::Peers::default();
    let trust = Trust::new(&Config::default(), key.verifying_key(), &peers, []).expect("trust");
    let id = String::from_utf8(signing::new_message_id(
        &key.verifying_key(),
        "1",
        "bench.invalid",
    ))
    .expect("ascii");
    let mut article = format!("Path: a!not-for-mail\r\nFrom: B <b@bench.invalid>\r\nNewsgroups: bench.group\r\nSubject: bench\r\nDate: Sun, 22 Nov 2026 04:20:54 +0000\r\nMessage-ID: {id}\r\n\r\n").into_bytes();
    while article.len() < 1024 {
        article.extend_from_slice(
            b"The quick brown fox jumps over the lazy dog, again and again.\r\n",
        );
    }
    let article =
        signing::sign(&Article::parse(Bytes::from(article)).expect("parses"), &key).expect("signs");
    let source = Source::Transit {
        offered_id: id.into_bytes(),
        peer: None,
    };
    let n = 100_000;
    let config = tidings::config::Config::default()
        .validated()
        .expect("valid");
    let access = tidings::access::Access::from_rules(&config);
    let started = Instant::now();
    for _ in 0..n {
        let ingest = Ingest {
            node: "bench.node",
            groups: &groups,
            trust: &trust,
            peers: &peers,
            node_key: &key,
            lookup: &tidings::ingest::EmptyLookup,
            hop_limit: 64,
            stores: &tidings::proto::wildmat::Wildmat::any(),
            premoderate: None,
            config: &config,
            access: &access,
            now: chrono::Utc::now(),
        };
        std::hint::black_box(ingest.prepare(article.clone(), &source).expect("valid"));
    }
    let elapsed = started.elapsed();
    println!(
        "prepare (parse, verify signature, check, rewrite, overview) of signed 1 KiB articles: {:.0}/s on one core",
        n as f64 / elapsed.as_secs_f64()
    );
}

fn end_to_end() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = Config::default();
    config.node.name = "bench.node".into();
    config.node.data_dir = dir.path().to_path_buf();
    // The load generator is not a configured peer; it signs with the
    // node's own key, which the node trusts.
    config.listen.open_transit = true;
    config.groups = vec![GroupConfig {
        name: "bench.group".into(),
        description: String::new(),
    }];
    let key_path = config.key_path();
    let (tx, rx) = std::sync::mpsc::channel();
    let shutdown = CancellationToken::new();
    let token = shutdown.clone();
    let server = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let (node, commit) = Node::open(config.validated().expect("valid")).expect("node");
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind");
            tx.send(listener.local_addr().expect("addr")).expect("send");
            tidings::server::run(listener, node, token).await;
        });
        commit.join();
    });
    let target = rx.recv().expect("server address");
    let load = Load {
        target,
        connections: env_or("BENCH_CONNECTIONS", 4),
        articles: env_or("BENCH_ARTICLES", 200_000),
        size: 1024,
        group: "bench.group".into(),
        window: 64,
        // The node's own key: trusted, so every article is filed.
        key: Some(tidings::keys::read_secret_key(&key_path).expect("node key")),
        peer: None,
    };
    let outcome = loadgen::run(&load).expect("load ran");
    println!(
        "TAKETHIS ingest, {} connections, 1 KiB articles, durable before 239: {outcome}",
        load.connections
    );
    shutdown.cancel();
    server.join().expect("server thread");
}

fn main() {
    // `cargo test` runs benches with --bench absent; only measure when asked.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    prepare_rate();
    end_to_end();
}

//! `cargo bench --bench cancel`: what removing a big group's lowest article
//! costs the single writer, and so every connection waiting on it.
//!
//! A RocksDB store gets BENCH_ARTICLES (default 200,000) articles in one
//! group through the committer; then single-article commits are timed
//! before and after a cancel of the group's lowest article, and the
//! cancel's own commit. Finding the group's new low number must cost one
//! short seek, not a walk over every number in the group, so the cancel
//! commit should cost about what an ordinary commit does.

use std::time::{Duration, Instant};

use bytes::Bytes;
use tidings::clock::Clock;
use tidings::store::commit::{Committer, Disposition, Effect, Prepared, Stored, Waited};
use tidings::store::schema::GroupRecord;
use tidings::store::Store;

const GROUP: &str = "bench.cancel";

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn article(n: usize) -> Prepared {
    let id = format!("<{n}.cancel@bench.invalid>");
    Prepared {
        bytes: Bytes::from(format!("Message-ID: {id}\r\n\r\n{}\r\n", "x".repeat(900))),
        thread: id.clone().into_bytes(),
        message_id: id.into_bytes(),
        groups: vec![GROUP.into()],
        overview: b"subject\tfrom\tdate\tid\t\t1000\t1".to_vec(),
        effects: Vec::new(),
        disposition: Disposition::File,
        from: Waited::Nowhere,
        outboxes: Vec::new(),
        supersedes: None,
        signer: None,
        waits: Vec::new(),
    }
}

fn cancel(n: usize) -> Prepared {
    let mut control = article(usize::MAX - n);
    control.groups.clear();
    control.disposition = Disposition::Local;
    control.effects = vec![Effect::Remove {
        message_id: format!("<{n}.cancel@bench.invalid>").into_bytes(),
        reason: "cancelled".into(),
    }];
    control
}

async fn timed(committer: &Committer, prepared: Prepared) -> Duration {
    let start = Instant::now();
    let stored = committer.store(prepared).await.expect("stored");
    assert!(
        matches!(stored, Stored::Accepted { .. } | Stored::Applied),
        "{stored:?}"
    );
    start.elapsed()
}

fn percentile(samples: &mut [Duration], p: f64) -> Duration {
    samples.sort();
    samples[((samples.len() - 1) as f64 * p) as usize]
}

fn main() {
    let total = env_or("BENCH_ARTICLES", 200_000);
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path(), 64).expect("store");
    store
        .put_group(GROUP, &GroupRecord::new(0, String::new()))
        .expect("group");
    let (committer, thread) =
        Committer::start(store, Box::new(|_| {}), 1024, Clock::system(), 1 << 20)
            .expect("committer");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let start = Instant::now();
        let mut next = 0;
        while next < total {
            let waits: Vec<_> = (next..(next + 1024).min(total))
                .map(|n| committer.submit(article(n)))
                .collect();
            for wait in waits {
                wait.await.expect("stored");
            }
            next += 1024;
        }
        println!(
            "filed {total} articles in one group in {:.1} s",
            start.elapsed().as_secs_f64()
        );
        let mut before = Vec::new();
        for n in 0..500 {
            before.push(timed(&committer, article(total + n)).await);
        }
        let mut cancels = Vec::new();
        for n in 0..20 {
            // Each removes the group's current lowest article.
            cancels.push(timed(&committer, cancel(n)).await);
        }
        let mut after = Vec::new();
        for n in 0..500 {
            after.push(timed(&committer, article(total + 500 + n)).await);
        }
        let show = |what: &str, samples: &mut Vec<Duration>| {
            println!(
                "{what:<38} p50 {:>8.3} ms  p99 {:>8.3} ms  max {:>8.3} ms",
                percentile(samples, 0.5).as_secs_f64() * 1e3,
                percentile(samples, 0.99).as_secs_f64() * 1e3,
                percentile(samples, 1.0).as_secs_f64() * 1e3,
            )
        };
        show("one-article commit, before", &mut before);
        show("cancel of the lowest article (x20)", &mut cancels);
        show("one-article commit, after", &mut after);
    });
    drop(committer);
    thread.join();
}

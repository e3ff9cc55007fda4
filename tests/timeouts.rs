//! Behaviour in time, run in paused tokio time: the idle timeout of a
//! connection and the feed's reconnect backoff. Nothing sleeps; the
//! runtime jumps to the next timer whenever every task waits.

mod common;

use std::time::Duration;

use common::*;
use tidings::clock::Clock;
use tidings::config::PeerConfig;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

#[tokio::test(start_paused = true)]
async fn an_idle_connection_is_closed_after_the_idle_timeout_and_activity_restarts_it() {
    let opened = OpenNode::new(Clock::system(), |c| c.limits.idle_timeout_secs = 600);
    let (client, server) = tokio::io::duplex(64 * 1024);
    let address = "127.0.0.1:9".parse().expect("addr");
    let shutdown = CancellationToken::new();
    let session = tokio::spawn(tidings::session::serve(
        Box::new(server),
        false,
        opened.node().clone(),
        address,
        address,
        shutdown.clone(),
    ));
    let (read, mut write) = tokio::io::split(client);
    let mut lines = BufReader::new(read).lines();
    let greeting = lines.next_line().await.expect("read").expect("greeting");
    assert!(greeting.starts_with("200 "), "{greeting}");

    let started = Instant::now();
    tokio::time::advance(Duration::from_secs(599)).await;
    write.write_all(b"DATE\r\n").await.expect("write");
    let date = lines.next_line().await.expect("read").expect("line");
    assert!(date.starts_with("111 "), "still open at 599 s: {date}");

    let line = lines.next_line().await.expect("read").expect("line");
    let idle = started.elapsed();
    assert!(line.starts_with("400 ") && line.contains("idle"), "{line}");
    assert!(
        idle >= Duration::from_secs(599 + 600) && idle < Duration::from_secs(599 + 601),
        "closed {idle:?} after the greeting: 600 s after the last command"
    );
    assert!(lines.next_line().await.expect("read").is_none(), "closed");
    session.await.expect("session ended");
}

#[tokio::test(start_paused = true)]
async fn a_feed_that_keeps_failing_backs_off_doubling_with_jitter_up_to_a_minute() {
    // A "peer" that accepts and hangs up at once, noting when.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = listener.local_addr().expect("addr").to_string();
    let opened = OpenNode::new(Clock::system(), |c| {
        c.peers.push(PeerConfig {
            address: Some(address),
            ..PeerConfig::new(
                "flaky.peer",
                hex::encode(stranger().verifying_key().as_bytes()),
            )
        })
    });
    let node = opened.node().clone();
    let peer = node.peers().get("flaky.peer").expect("configured").clone();
    let shutdown = CancellationToken::new();
    let feeder = tokio::spawn(tidings::feed::run(node, peer, shutdown.clone()));

    let mut attempts = Vec::new();
    while attempts.len() < 14 {
        let (socket, _) = listener.accept().await.expect("accept");
        attempts.push(Instant::now());
        drop(socket);
    }
    let mut base = Duration::from_millis(100);
    for pair in attempts.windows(2) {
        let waited = pair[1] - pair[0];
        assert!(
            waited >= base && waited <= base.mul_f64(1.5) + Duration::from_millis(1),
            "waited {waited:?}, expected {base:?} plus up to half of it"
        );
        base = (base * 2).min(Duration::from_secs(60));
    }
    assert_eq!(base, Duration::from_secs(60), "the cap was reached");
    shutdown.cancel();
    feeder.await.expect("feeder stopped");
}

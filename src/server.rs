//! The accept loop: one task per connection, a connection limit, a tracing
//! span per connection, and graceful shutdown. It takes an already-bound
//! listener so tests can bind port 0.

use std::sync::Arc;
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{info, warn, Instrument};

use crate::node::Node;
use crate::session;

/// Serves until `shutdown` is cancelled, then waits for every connection to
/// finish its in-flight commits.
pub async fn run(listener: TcpListener, node: Arc<Node>, shutdown: CancellationToken) {
    let limit = Arc::new(Semaphore::new(node.config.limits.max_connections));
    let tracker = TaskTracker::new();
    let mut next_id: u64 = 0;
    for index in 0..node.feeds.peers.len() {
        tracker.spawn(crate::feed::run(node.clone(), index, shutdown.clone()));
    }
    if let Some(queue) = node.take_release_queue() {
        tracker.spawn(crate::release::run(node.clone(), queue, shutdown.clone()));
    }
    if let Ok(addr) = listener.local_addr() {
        info!(%addr, node = node.name(), "listening for NNTP");
    }
    loop {
        let accepted = tokio::select! {
            () = shutdown.cancelled() => break,
            accepted = listener.accept() => accepted,
        };
        let (stream, peer) = match accepted {
            Ok(pair) => pair,
            Err(e) => {
                // Usually out of file descriptors; back off instead of spinning.
                warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        next_id += 1;
        let _ = stream.set_nodelay(true);
        let span = tracing::info_span!("conn", id = next_id, %peer);
        match limit.clone().try_acquire_owned() {
            Ok(permit) => {
                let node = node.clone();
                let shutdown = shutdown.clone();
                tracker.spawn(
                    async move {
                        session::serve(stream, node, peer, shutdown).await;
                        drop(permit);
                    }
                    .instrument(span),
                );
            }
            Err(_) => {
                tracker.spawn(
                    async move {
                        warn!("connection limit reached, refusing");
                        let mut stream = stream;
                        let _ = stream
                            .write_all(b"400 too many connections, try again later\r\n")
                            .await;
                        let _ = stream.shutdown().await;
                    }
                    .instrument(span),
                );
            }
        }
    }
    tracker.close();
    tracker.wait().await;
    info!("all connections closed");
}

//! The accept loop: one task per connection, a connection limit, a tracing
//! span per connection, and graceful shutdown. It takes already-bound
//! listeners so tests can bind port 0: the plain NNTP one (which offers
//! STARTTLS) and, optionally, one that speaks TLS from the first byte.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{debug, info, warn, Instrument};

use crate::node::Node;
use crate::session;
use crate::slots::HostSlots;
use crate::tls::{self, BoxStream};

/// The sockets a node serves on.
pub struct Listeners {
    pub nntp: TcpListener,
    /// Implicit TLS (`[listen] nntps`), if configured.
    pub nntps: Option<TcpListener>,
    /// The HTTP/JSON API (`[listen] http`), if configured.
    pub http: Option<TcpListener>,
    /// Metrics and status for the operator (`[listen] admin`).
    pub admin: Option<TcpListener>,
}

/// Serves plain NNTP on `listener` until `shutdown`; see [`serve`].
pub async fn run(listener: TcpListener, node: Arc<Node>, shutdown: CancellationToken) {
    let listeners = Listeners {
        nntp: listener,
        nntps: None,
        http: None,
        admin: None,
    };
    serve(listeners, node, shutdown).await;
}

/// Serves until `shutdown` is cancelled, then waits for every connection to
/// finish its in-flight commits.
pub async fn serve(listeners: Listeners, node: Arc<Node>, shutdown: CancellationToken) {
    let limit = Arc::new(Semaphore::new(node.config().limits.max_connections));
    let hosts = Arc::new(HostSlots::new(
        node.config().limits.max_connections_per_host,
    ));
    let tracker = TaskTracker::new();
    let mut next_id: u64 = 0;
    let _ = node.tasks.set((tracker.clone(), shutdown.clone()));
    for peer in node.peers().fed() {
        crate::reload::start_link(&node, peer.clone());
    }
    if let Some(queue) = node.take_release_queue() {
        tracker.spawn(crate::release::run(node.clone(), queue, shutdown.clone()));
    }
    if let Some(queue) = node.take_settle_queue() {
        tracker.spawn(crate::settle::run(node.clone(), queue, shutdown.clone()));
    }
    tracker.spawn(crate::sweep::run(node.clone(), shutdown.clone()));
    tracker.spawn(crate::levels::issue(node.clone()));
    tracker.spawn(crate::transfer::replicate::run(
        node.fetcher.clone(),
        node.config().eager_files.clone(),
        node.changes.clone(),
        Duration::from_secs(node.config().feed.catch_up_every_secs),
        shutdown.clone(),
    ));
    if let Some(admin) = listeners.admin {
        tracker.spawn(crate::admin::serve(admin, node.clone(), shutdown.clone()));
    }
    if let Some(http) = listeners.http {
        tracker.spawn(crate::http::serve(http, node.clone(), shutdown.clone()));
    }
    if let Ok(addr) = listeners.nntp.local_addr() {
        info!(%addr, node = node.name(), "listening for NNTP");
    }
    if let Some(Ok(addr)) = listeners.nntps.as_ref().map(TcpListener::local_addr) {
        // Worded so that log scrapers looking for the plain port's line
        // ("listening for NNTP") do not take this one.
        info!(%addr, node = node.name(), "listening for TLS (implicit NNTPS)");
    }
    loop {
        let (accepted, implicit_tls) = tokio::select! {
            () = shutdown.cancelled() => break,
            accepted = listeners.nntp.accept() => (accepted, false),
            accepted = accept_if(listeners.nntps.as_ref()) => (accepted, true),
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
        let local = stream.local_addr().unwrap_or(peer);
        let span = tracing::info_span!("conn", id = next_id, %peer, implicit_tls);
        let permit = match hosts.take(peer.ip()) {
            None => Err("too many connections from your address, try again later"),
            Some(slot) => match limit.clone().try_acquire_owned() {
                Ok(permit) => Ok((permit, slot)),
                Err(_) => Err("too many connections, try again later"),
            },
        };
        let node = node.clone();
        let shutdown = shutdown.clone();
        tracker.spawn(
            async move {
                let Some(stream) = open(stream, implicit_tls, &node, &shutdown).await else {
                    return;
                };
                match permit {
                    Ok(permit) => {
                        session::serve(stream, implicit_tls, node, peer, local, shutdown).await;
                        drop(permit);
                    }
                    Err(why) => refuse(stream, why).await,
                }
            }
            .instrument(span),
        );
    }
    tracker.close();
    tracker.wait().await;
    info!("all connections closed");
}

/// Accepts on the listener if there is one; never returns otherwise.
async fn accept_if(listener: Option<&TcpListener>) -> std::io::Result<(TcpStream, SocketAddr)> {
    match listener {
        Some(listener) => listener.accept().await,
        None => std::future::pending().await,
    }
}

/// The stream a session runs on: the TCP stream itself, or TLS on top of
/// it for the implicit-TLS port. None when that handshake failed or the
/// node is shutting down.
async fn open(
    stream: TcpStream,
    implicit_tls: bool,
    node: &Node,
    shutdown: &CancellationToken,
) -> Option<BoxStream> {
    if !implicit_tls {
        return Some(Box::new(stream));
    }
    let handshake = tls::accept(&node.tls.acceptor, Box::new(stream));
    let result = tokio::select! {
        () = shutdown.cancelled() => return None,
        result = handshake => result,
    };
    match result {
        Ok(secure) => {
            node.counters.tls_sessions.fetch_add(1, Ordering::Relaxed);
            Some(secure)
        }
        Err(e) => {
            debug!(error = %e, "TLS handshake failed");
            None
        }
    }
}

/// Over a connection limit: a 400 greeting, then close (RFC 3977 §5.1).
async fn refuse(mut stream: BoxStream, why: &str) {
    warn!(why, "connection limit reached, refusing");
    let _ = stream.write_all(format!("400 {why}\r\n").as_bytes()).await;
    let _ = stream.shutdown().await;
}

//! The admin listener (`[listen] admin`, loopback by default): what an
//! operator's tools read. `GET /metrics` is every series of
//! [`crate::metrics`] in the OpenMetrics text format Prometheus scrapes;
//! `GET /status` is the node's state as JSON (what `tidings status`
//! prints): version, uptime, its state digest, pending and held posts, and
//! per fed peer whether its link is up, its outbox and its last catch-up.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::metrics::{Outbox, Scraped};
use crate::node::Node;

/// The media type of the OpenMetrics text format.
const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Serves the admin routes until `shutdown`.
pub async fn serve(listener: TcpListener, node: Arc<Node>, shutdown: CancellationToken) {
    if let Ok(addr) = listener.local_addr() {
        tracing::info!(%addr, node = node.name(), "listening for admin (metrics, status)");
    }
    let router = Router::new()
        .route("/metrics", get(metrics))
        .route("/status", get(status))
        .with_state(node);
    let stopped = axum::serve(listener, router)
        .with_graceful_shutdown(async move { shutdown.cancelled().await })
        .await;
    if let Err(e) = stopped {
        tracing::error!(error = %e, "the admin listener stopped");
    }
}

fn failed(why: String) -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        Json(json!({ "error": "Service Unavailable", "reason": why })),
    )
        .into_response()
}

/// `GET /metrics`: read off the async workers (store reads, a statvfs).
async fn metrics(State(node): State<Arc<Node>>) -> Response {
    let rendered = tokio::task::spawn_blocking(move || {
        let scraped = scrape(&node).map_err(|e| e.to_string());
        node.metrics.render(scraped)
    })
    .await;
    match rendered {
        Ok(text) => ([(header::CONTENT_TYPE, OPENMETRICS)], text).into_response(),
        Err(e) => failed(e.to_string()),
    }
}

/// What the gauges show, read now.
fn scrape(node: &Node) -> Result<Scraped, crate::store::StoreError> {
    let commits = node.commits();
    let store = &node.store;
    let mut scraped = Scraped {
        commit_syncs: commits.synced_writes.load(Ordering::Relaxed),
        commit_articles: commits.articles.load(Ordering::Relaxed),
        commit_sync_micros: commits.sync_micros.load(Ordering::Relaxed),
        pending: store.set_count(crate::store::schema::PENDING_SET)?,
        held: store.set_count(crate::store::schema::HELD_SET)?,
        db: store.health(),
        disk_free: rustix::fs::statvfs(&node.config.node.data_dir)
            .ok()
            .map(|s| s.f_bavail.saturating_mul(s.f_frsize)),
        ..Scraped::default()
    };
    (scraped.files, scraped.files_bytes) = store.files_total()?;
    let now = node.clock.now_micros();
    for peer in node.peers.fed() {
        let (depth, oldest) = outbox(node, &peer.name, now)?;
        scraped.outboxes.push(Outbox {
            peer: peer.name.clone(),
            depth,
            oldest_secs: oldest.unwrap_or(0) as f64 / 1e6,
        });
    }
    Ok(scraped)
}

/// A peer's outbox: how many entries (the span of their sequence
/// numbers) and how old the oldest is, in microseconds.
fn outbox(
    node: &Node,
    peer: &str,
    now: u64,
) -> Result<(u64, Option<u64>), crate::store::StoreError> {
    Ok(match node.store.outbox_span(peer)? {
        Some((first, last)) => (
            last.saturating_sub(first.seq) + 1,
            Some(now.saturating_sub(first.queued)),
        ),
        None => (0, None),
    })
}

/// `GET /status`.
async fn status(State(node): State<Arc<Node>>) -> Response {
    let answered = tokio::task::spawn_blocking(move || report(&node)).await;
    match answered {
        Ok(Ok(report)) => Json(report).into_response(),
        Ok(Err(e)) => failed(e.to_string()),
        Err(e) => failed(e.to_string()),
    }
}

/// The node's status as `tidings status` shows it.
pub fn report(node: &Node) -> Result<serde_json::Value, crate::store::StoreError> {
    let store = &node.store;
    let now = node.clock.now_micros();
    let mut peers = Vec::new();
    for peer in node.peers.fed() {
        let (depth, oldest) = outbox(node, &peer.name, now)?;
        let oldest = oldest.map(|micros| micros / 1_000_000);
        let (up, last_catch_up) = node.metrics.peer_state(&peer.name);
        peers.push(json!({
            "name": peer.name,
            "address": peer.address,
            "up": up,
            "outbox_depth": depth,
            "outbox_oldest_seconds": oldest,
            "last_catch_up": last_catch_up,
        }));
    }
    Ok(json!({
        "node": node.name(),
        "version": env!("CARGO_PKG_VERSION"),
        "uptime_seconds": node.metrics.uptime_secs(now),
        "state": hex::encode(store.state_digest()?),
        "pending": store.set_count(crate::store::schema::PENDING_SET)?,
        "held": store.set_count(crate::store::schema::HELD_SET)?,
        "peers": peers,
    }))
}

//! The admin listener (`[listen] admin`, loopback by default): what an
//! operator's tools read. `GET /metrics` is every series of
//! [`crate::metrics`] in the OpenMetrics text format Prometheus scrapes;
//! `GET /status` is the node's state as JSON (what `tidings status`
//! prints): version, uptime, its state digest, pending and held posts, and
//! per fed peer whether its link is up, its outbox and its last catch-up.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use axum::extract::Path;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::json;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::metrics::{Outbox, Scraped};
use crate::node::Node;
use crate::store::schema::overview_date;

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
        .route("/backup", post(backup))
        .route("/expire", post(expire))
        .route("/reload", post(reload))
        .route("/waiting/{room}", get(waiting))
        .route("/waiting/{room}/{message_id}/{action}", post(decide))
        .with_state(node);
    let stopped = axum::serve(listener, router)
        .with_graceful_shutdown(async move { shutdown.cancelled().await })
        .await;
    if let Err(e) = stopped {
        tracing::error!(error = %e, "the admin listener stopped");
    }
}

/// A store or task failure, as the HTTP API answers one (http.md §2).
fn failed(why: String) -> Response {
    crate::http::error(StatusCode::SERVICE_UNAVAILABLE, &why)
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

/// Bytes free to the node on its data directory's file system.
fn disk_free(node: &Node) -> Option<u64> {
    rustix::fs::statvfs(&node.config().node.data_dir)
        .ok()
        .map(|s| s.f_bavail.saturating_mul(s.f_frsize))
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
        disk_free: disk_free(node),
        ..Scraped::default()
    };
    (scraped.files, scraped.files_bytes) = store.files_total()?;
    let now = node.clock.now_micros();
    for peer in node.peers().fed() {
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
    match crate::http::blocking(move || report(&node)).await {
        Ok(report) => Json(report).into_response(),
        Err(failed) => failed,
    }
}

/// The node's status as `tidings status` shows it.
pub fn report(node: &Node) -> Result<serde_json::Value, crate::store::StoreError> {
    let store = &node.store;
    let now = node.clock.now_micros();
    let mut peers = Vec::new();
    for peer in node.peers().fed() {
        let (depth, oldest) = outbox(node, &peer.name, now)?;
        let oldest = oldest.map(|micros| micros / 1_000_000);
        let link = node.metrics.peer_state(&peer.name);
        peers.push(json!({
            "name": peer.name,
            "address": peer.address,
            "up": link.up,
            "since": link.since,
            "outbox_depth": depth,
            "outbox_oldest_seconds": oldest,
            "last_catch_up": link.last_catch_up,
        }));
    }
    let config = node.config();
    let mut boards = Vec::new();
    for (name, record) in node.groups.all() {
        let ends = store.overview_ends(&name)?;
        let retention = crate::retention::rule(&config.retention_rules, &name);
        boards.push(json!({
            "name": name,
            "articles": record.count,
            "low": record.low,
            "high": record.high,
            "oldest": ends.as_ref().and_then(|(first, _)| overview_date(first)),
            "newest": ends.as_ref().and_then(|(_, last)| overview_date(last)),
            "retention_days": retention.map(|r| r.days),
        }));
    }
    let (files, file_bytes) = store.files_total()?;
    Ok(json!({
        "node": node.name(),
        "version": env!("CARGO_PKG_VERSION"),
        "uptime_seconds": node.metrics.uptime_secs(now),
        "state": hex::encode(store.state_digest()?),
        "store_bytes": store.health().live_bytes,
        "files": files,
        "file_bytes": file_bytes,
        "disk_free_bytes": disk_free(node),
        "pending": store.set_count(crate::store::schema::PENDING_SET)?,
        "held": store.set_count(crate::store::schema::HELD_SET)?,
        "peers": peers,
        "boards": boards,
    }))
}

/// How many waiting posts a listing shows at most.
const LISTED: usize = 1000;

/// A waiting post as the listings show it: its Message-ID, arrival,
/// boards, subject and sender.
fn waiting_entry(message_id: &[u8], arrived: u64, raw: &[u8]) -> serde_json::Value {
    let article = crate::proto::article::Article::parse(bytes::Bytes::copy_from_slice(raw)).ok();
    let header = |name: &str| {
        article
            .as_ref()
            .and_then(|a| a.header_unfolded(name))
            .map(|v| String::from_utf8_lossy(&v).into_owned())
    };
    json!({
        "message_id": String::from_utf8_lossy(message_id),
        "arrived": arrived / 1_000_000,
        "newsgroups": header("Newsgroups"),
        "subject": header("Subject"),
        "from": header("From"),
    })
}

/// `GET /waiting/pending` (posts waiting for their signer's passport, with
/// the signer) and `GET /waiting/held` (posts held for approval): the
/// first thousand.
async fn waiting(State(node): State<Arc<Node>>, Path(room): Path<String>) -> Response {
    let listed = crate::http::blocking(move || -> Result<Response, crate::store::StoreError> {
        let entries: Vec<serde_json::Value> = match room.as_str() {
            "pending" => node
                .store
                .pending_page(None, &[], LISTED)?
                .into_iter()
                .map(|p| {
                    let mut entry = waiting_entry(&p.message_id, p.arrived, &p.article);
                    entry["signer"] = json!(hex::encode(p.signer));
                    entry
                })
                .collect(),
            "held" => node
                .store
                .held_page(&[], LISTED)?
                .into_iter()
                .map(|h| waiting_entry(&h.message_id, h.arrived, &h.article))
                .collect(),
            _ => return Ok(not_found("waiting rooms are pending and held")),
        };
        Ok(Json(json!({ "room": room, "posts": entries })).into_response())
    })
    .await;
    listed.unwrap_or_else(|failed| failed)
}

fn not_found(why: &str) -> Response {
    crate::http::error(StatusCode::NOT_FOUND, why)
}

/// `POST /waiting/held/<message-id>/approve`, `POST /waiting/{held,
/// pending}/<message-id>/remove`: the operator's decision, filed as a
/// `local-approve` or `local-remove` control signed with the node's key
/// (signing.md §5), so it is kept and acts like one posted by hand.
async fn decide(
    State(node): State<Arc<Node>>,
    Path((room, message_id, action)): Path<(String, String, String)>,
) -> Response {
    if !crate::proto::grammar::is_article_message_id(message_id.as_bytes()) {
        let why = format!("{message_id:?} is not a message-id");
        return crate::http::error(StatusCode::BAD_REQUEST, &why);
    }
    let verb = match (room.as_str(), action.as_str()) {
        ("held", "approve") => "local-approve",
        ("held" | "pending", "remove") => "local-remove",
        _ => return not_found("held posts are approved or removed, pending ones removed"),
    };
    let waits = {
        let (node, id) = (node.clone(), message_id.clone());
        crate::http::blocking(move || match room.as_str() {
            "held" => node.store.held(id.as_bytes()).map(|h| h.is_some()),
            _ => node
                .store
                .history(id.as_bytes())
                .map(|h| matches!(h, Some(crate::store::schema::HistoryEntry::Pending { .. }))),
        })
        .await
    };
    match waits {
        Ok(true) => {}
        Ok(false) => return not_found("no such post waits there"),
        Err(failed) => return failed,
    }
    let command = format!("{verb} {message_id}");
    match node.own_control(&command, "the operator's decision").await {
        Ok(crate::node::Ingested::Stored {
            message_id: control,
            ..
        }) => {
            tracing::info!(%command, "the operator decided on a waiting post");
            Json(json!({ "message_id": message_id, "control": String::from_utf8_lossy(&control), "done": verb }))
                .into_response()
        }
        Ok(crate::node::Ingested::Refused(r)) => {
            crate::http::error(StatusCode::UNPROCESSABLE_ENTITY, &r.reason)
        }
        Ok(crate::node::Ingested::Fault { fault, .. }) => failed(fault.to_string()),
        Err(why) => failed(why),
    }
}

/// What `POST /backup` takes: the directory to back up into.
#[derive(serde::Deserialize)]
struct BackupTo {
    to: std::path::PathBuf,
}

/// `POST /backup` with `{"to": DIR}`: a consistent, incremental backup of
/// the running node (backup.rs); answers what it did.
async fn backup(State(node): State<Arc<Node>>, Json(request): Json<BackupTo>) -> Response {
    if !request.to.is_absolute() {
        return crate::http::error(StatusCode::BAD_REQUEST, "to must be an absolute path");
    }
    let made = tokio::task::spawn_blocking(move || crate::backup::backup(&node, &request.to)).await;
    match made {
        Ok(Ok(made)) => {
            tracing::info!(backup = made.backup_id, state = %made.state, added = made.db_bytes_added, "backup made");
            Json(json!(made)).into_response()
        }
        Ok(Err(e)) => failed(e.to_string()),
        Err(e) => failed(e.to_string()),
    }
}

/// `POST /expire`: removes the articles whose retention has run out now,
/// rather than at the next sweep; answers how many.
async fn expire(State(node): State<Arc<Node>>) -> Response {
    match crate::sweep::expire(&node).await {
        Ok(expired) => Json(json!({ "expired": expired })).into_response(),
        Err(e) => failed(e.to_string()),
    }
}

/// `POST /reload`: reads the configuration file again and puts it in
/// effect (reload.rs); 422 with the reason when it is refused, the running
/// configuration staying.
async fn reload(State(node): State<Arc<Node>>) -> Response {
    match crate::reload::from_source(&node).await {
        Ok(done) => Json(json!(done)).into_response(),
        Err(e) => crate::http::error(StatusCode::UNPROCESSABLE_ENTITY, &e.to_string()),
    }
}

//! The HTTP/JSON API for web front ends (protocol-spec/http.md), served by
//! the node next to NNTP on `[listen] http`: the chan read API in the shape
//! of the 4chan JSON API (`chan`), and the native API under `/api/v1`
//! (`native`). Handlers read what readers see; they never write the store
//! themselves.

mod chan;
mod compose;
mod events;
mod native;
mod posting;
mod threads;
mod web;

use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Router};
use sha2::{Digest, Sha256};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::node::Node;

/// Room in a request body beyond the largest article, for JSON quoting
/// and form encoding.
const BODY_SLACK: usize = 64 << 10;

/// The routes of the API over `node`; event streams end at `shutdown`.
pub fn router(node: Arc<Node>, shutdown: CancellationToken) -> Router {
    let body_limit = node.config.limits.max_article_bytes + BODY_SLACK;
    Router::new()
        .route("/", get(web::index))
        .route("/web/{file}", get(web::asset))
        .route("/boards.json", get(chan::boards))
        .route("/{board}/threads.json", get(chan::threads))
        .route("/{board}/catalog.json", get(chan::catalog))
        .route("/{board}/thread/{file}", get(chan::thread))
        .route("/{board}/post", post(posting::board_post))
        .route("/api/v1/boards", get(native::boards))
        .route("/api/v1/articles", post(posting::article))
        .route("/api/v1/articles/{message_id}", get(native::article))
        .route("/api/v1/posts", post(posting::post))
        .route("/api/v1/changes", get(events::changes))
        .route("/api/v1/changes/latest", get(events::latest))
        .route("/api/v1/events", get(events::events))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(Extension(shutdown))
        .with_state(node)
}

/// Serves the API on `listener` until `shutdown`; requests under way are
/// finished first.
pub async fn serve(listener: TcpListener, node: Arc<Node>, shutdown: CancellationToken) {
    if let Ok(addr) = listener.local_addr() {
        info!(%addr, node = node.name(), "listening for HTTP");
    }
    let app = router(node, shutdown.clone());
    if let Err(e) = axum::serve(listener, app)
        .with_graceful_shutdown(shutdown.cancelled_owned())
        .await
    {
        warn!(error = %e, "HTTP listener failed");
    }
}

/// A JSON error body: `{"error": <status reason>, "reason": <why>}`.
pub(crate) fn error(status: StatusCode, reason: &str) -> Response {
    let body = serde_json::json!({
        "error": status.canonical_reason().unwrap_or("error"),
        "reason": reason,
    });
    (status, axum::Json(body)).into_response()
}

/// Runs `work` (store reads, RocksDB gets and scans) off the async
/// workers: a store fault answers 503, a task that died 500.
pub(crate) async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, crate::store::StoreError> + Send + 'static,
) -> Result<T, Response> {
    match tokio::task::spawn_blocking(work).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(e)) => Err(error(StatusCode::SERVICE_UNAVAILABLE, &e.to_string())),
        Err(e) => Err(error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string())),
    }
}

async fn not_found() -> Response {
    error(StatusCode::NOT_FOUND, "no such resource")
}

async fn method_not_allowed() -> Response {
    error(
        StatusCode::METHOD_NOT_ALLOWED,
        "this resource does not take that method",
    )
}

/// The API's error: a status and the reason its JSON body gives (§2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ApiError {
    pub status: StatusCode,
    pub reason: String,
}

impl ApiError {
    pub fn new(status: StatusCode, reason: impl Into<String>) -> ApiError {
        ApiError {
            status,
            reason: reason.into(),
        }
    }

    /// 400: the request itself is wrong.
    pub fn bad(reason: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, reason)
    }

    /// An extractor's refusal (a body over the limit, one that could not
    /// be read), with its status.
    pub fn rejected(rejection: impl IntoResponse + std::fmt::Display) -> ApiError {
        let reason = rejection.to_string();
        ApiError::new(rejection.into_response().status(), reason)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        error(self.status, &self.reason)
    }
}

impl From<crate::store::StoreError> for ApiError {
    fn from(e: crate::store::StoreError) -> ApiError {
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, e.to_string())
    }
}

/// `value` as JSON with a strong ETag over its bytes, or 304 when the
/// request's If-None-Match names that tag (RFC 9110 §13.1.2).
pub(crate) fn json_tagged(request: &HeaderMap, value: &serde_json::Value) -> Response {
    let body = match serde_json::to_vec(value) {
        Ok(body) => body,
        Err(e) => {
            return error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string());
        }
    };
    let digest = Sha256::digest(&body);
    let tag = format!("\"{}\"", hex::encode(&digest[..16]));
    let matches = request
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| {
            let t = t.trim();
            t == "*" || t.trim_start_matches("W/") == tag
        });
    let etag = HeaderValue::from_str(&tag).unwrap_or(HeaderValue::from_static("\"\""));
    if matches {
        return (StatusCode::NOT_MODIFIED, [(header::ETAG, etag)]).into_response();
    }
    (
        StatusCode::OK,
        [
            (header::ETAG, etag),
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            ),
        ],
        body,
    )
        .into_response()
}

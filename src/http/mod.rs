//! The HTTP/JSON API for web front ends (protocol-spec/http.md), served by
//! the node next to NNTP on `[listen] http`: the chan read API in the shape
//! of the 4chan JSON API (`chan`), and the native API under `/api/v1`
//! (`native`). Handlers read what readers see; they never write the store
//! themselves.

mod auth;
mod cache;
mod chan;
mod coding;
mod compose;
mod events;
mod files;
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
use bytes::Bytes;
use sha2::{Digest, Sha256};
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{info, warn};

use crate::node::Node;
use crate::slots::HostSlots;

/// Room in a request body beyond the largest article, for JSON quoting
/// and form encoding.
const BODY_SLACK: usize = 64 << 10;

/// The routes of the API over `node`; event streams end at `shutdown`.
pub fn router(node: Arc<Node>, shutdown: CancellationToken) -> Router {
    let body_limit = node.config().limits.max_article_bytes + BODY_SLACK;
    Router::new()
        .route("/", get(web::index))
        .route("/web/{file}", get(web::asset))
        .route(
            "/upload",
            axum::routing::put(files::upload)
                .head(files::preflight)
                .options(files::options),
        )
        .route(
            "/{blob}",
            get(files::blob).head(files::blob).options(files::options),
        )
        .route("/boards.json", get(chan::boards))
        .route("/{board}/threads.json", get(chan::threads))
        .route("/{board}/catalog.json", get(chan::catalog))
        .route("/{board}/thread/{file}", get(chan::thread))
        .route("/{board}/archive.json", get(chan::archive))
        .route("/{board}/post", post(posting::board_post))
        .route("/api/v1/boards", get(native::boards))
        .route("/api/v1/boards/{board}/threads", get(native::board_threads))
        .route(
            "/api/v1/boards/{board}/threads/{no}/posts",
            get(native::thread_posts),
        )
        .route("/api/v1/articles", post(posting::article))
        .route("/api/v1/articles/{message_id}", get(native::article))
        .route("/api/v1/posts", post(posting::post))
        .route("/api/v1/authors/{key}/posts", get(native::author_posts))
        .route("/api/v1/changes", get(events::changes))
        .route("/api/v1/changes/latest", get(events::latest))
        .route("/api/v1/events", get(events::events))
        .route("/api/v1/openapi.json", get(native::openapi))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(
            (node.clone(), Arc::new(auth::Logins::default())),
            auth::authenticate,
        ))
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(Extension(shutdown))
        .layer(Extension(Arc::new(cache::Cache::default())))
        .with_state(node)
}

/// Serves the API on `listener` until `shutdown`; requests under way are
/// finished first and event streams end. Connections are limited as NNTP's
/// are (`limits.max_connections`, `limits.max_connections_per_host`, a
/// pool of their own): one over the limit gets a 503 and is closed. A
/// client has `limits.http_request_secs` to send a request's headers, and
/// a request as long to be read and answered (event streams excepted once
/// they have started).
pub async fn serve(listener: TcpListener, node: Arc<Node>, shutdown: CancellationToken) {
    if let Ok(addr) = listener.local_addr() {
        info!(%addr, node = node.name(), "listening for HTTP");
    }
    let limits = &node.config().limits;
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let hosts = Arc::new(HostSlots::new(limits.max_connections_per_host));
    let patience = Duration::from_secs(limits.http_request_secs.max(1));
    let app = router(node.clone(), shutdown.clone()).layer(axum::middleware::from_fn(
        move |request: axum::extract::Request, next: axum::middleware::Next| async move {
            let (method, path) = (request.method().clone(), request.uri().path().to_string());
            let started = std::time::Instant::now();
            let response = match tokio::time::timeout(patience, next.run(request)).await {
                Ok(response) => response,
                Err(_) => error(
                    StatusCode::REQUEST_TIMEOUT,
                    "the request took too long to send or to answer",
                ),
            };
            tracing::debug!(
                target: "tidings::http",
                %method,
                path,
                status = response.status().as_u16(),
                micros = started.elapsed().as_micros() as u64,
                "HTTP request"
            );
            response
        },
    ));
    let tracker = TaskTracker::new();
    loop {
        let accepted = tokio::select! {
            () = shutdown.cancelled() => break,
            accepted = listener.accept() => accepted,
        };
        let (stream, peer) = match accepted {
            Ok(pair) => pair,
            Err(e) => {
                warn!(error = %e, "HTTP accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let permit = match hosts.take(peer.ip()) {
            None => Err("too many connections from your address, try again later"),
            Some(slot) => match slots.clone().try_acquire_owned() {
                Ok(permit) => Ok((permit, slot)),
                Err(_) => Err("too many connections, try again later"),
            },
        };
        let (app, shutdown) = (app.clone(), shutdown.clone());
        tracker.spawn(async move {
            match permit {
                Ok(held) => {
                    connection(stream, peer, app, patience, shutdown).await;
                    drop(held);
                }
                Err(why) => refuse(stream, why).await,
            }
        });
    }
    tracker.close();
    tracker.wait().await;
}

/// One connection, HTTP/1.1 with keep-alive, until the client closes it,
/// it is slow to send headers, or the node shuts down.
async fn connection(
    stream: tokio::net::TcpStream,
    peer: std::net::SocketAddr,
    app: Router,
    patience: Duration,
    shutdown: CancellationToken,
) {
    let app = tower::ServiceExt::map_request(
        app,
        move |mut request: axum::http::Request<hyper::body::Incoming>| {
            request.extensions_mut().insert(auth::ClientAddr(peer));
            request
        },
    );
    let service = hyper_util::service::TowerToHyperService::new(app);
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(patience);
    let conn = builder.serve_connection(hyper_util::rt::TokioIo::new(stream), service);
    tokio::pin!(conn);
    let served = tokio::select! {
        served = conn.as_mut() => served,
        () = shutdown.cancelled() => {
            conn.as_mut().graceful_shutdown();
            conn.await
        }
    };
    if let Err(e) = served {
        tracing::debug!(error = %e, "HTTP connection ended");
    }
}

/// Answers a connection over the limits with 503 and closes it.
async fn refuse(mut stream: tokio::net::TcpStream, why: &str) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    warn!(why, "HTTP connection limit reached, refusing");
    let body = serde_json::json!({ "error": "Service Unavailable", "reason": why }).to_string();
    let response = format!(
        "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nContent-Length: {}\r\nRetry-After: 5\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.write_all(response.as_bytes()).await;
    let _ = stream.shutdown().await;
    // A lingering close: the request the client is sending meanwhile is
    // read and dropped, briefly, so the close does not reset the
    // connection before the client has read the 503.
    let mut sink = [0u8; 4096];
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        while matches!(stream.read(&mut sink).await, Ok(n) if n > 0) {}
    })
    .await;
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

/// A request's query parameters, or a 400 that says what is wrong with
/// them (an unknown parameter among them).
pub(crate) fn query_of<T>(
    query: Result<axum::extract::Query<T>, axum::extract::rejection::QueryRejection>,
) -> Result<T, ApiError> {
    query
        .map(|axum::extract::Query(query)| query)
        .map_err(|e| ApiError::bad(e.body_text()))
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
    match rendered(value) {
        Ok(rendered) => answer(request, &rendered.body, &rendered.etag, Sent::Only),
        Err(e) => e.into_response(),
    }
}

/// `value` as JSON bytes and their strong ETag (the first 16 octets of
/// their SHA-256, in hex, quoted).
fn rendered(value: &serde_json::Value) -> Result<cache::Rendered, ApiError> {
    let body = serde_json::to_vec(value)
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    let digest = Sha256::digest(&body);
    Ok(cache::Rendered::new(
        body.into(),
        format!("\"{}\"", hex::encode(&digest[..16])),
    ))
}

/// How an answer's bytes go out: as they are, as they are of a page that
/// is also sent coded (so caches must key on Accept-Encoding), or coded.
#[derive(Clone, Copy, PartialEq)]
enum Sent {
    Only,
    Identity,
    Gzip,
}

/// An answer (`body` tagged `tag`), or 304 when If-None-Match names its
/// tag.
fn answer(request: &HeaderMap, body: &Bytes, tag: &str, sent: Sent) -> Response {
    let matches = request
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| {
            let t = t.trim();
            t == "*" || t.trim_start_matches("W/") == tag
        });
    let etag = HeaderValue::from_str(tag).unwrap_or(HeaderValue::from_static("\"\""));
    let mut response = if matches {
        (StatusCode::NOT_MODIFIED, [(header::ETAG, etag)]).into_response()
    } else {
        (
            StatusCode::OK,
            [
                (header::ETAG, etag),
                (
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                ),
            ],
            body.clone(),
        )
            .into_response()
    };
    let headers = response.headers_mut();
    if sent != Sent::Only {
        // On the 304 too: it stands for the 200 it replaces (RFC 9110 §15.4.5).
        headers.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    }
    if sent == Sent::Gzip && !matches {
        headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    }
    response
}

/// The answer `render` gives (store reads, off the async workers),
/// rendered once per change of the store: while the change log stands
/// still, the same page is answered from `cache`, and requests that come
/// while it is rendered wait for that rendering. Errors are not kept. A
/// request that accepts gzip gets the page's gzip coding (http.md §2).
pub(crate) async fn cached(
    node: &Node,
    cache: &cache::Cache,
    key: String,
    request: &HeaderMap,
    render: impl FnOnce() -> Result<serde_json::Value, ApiError> + Send + 'static,
) -> Response {
    // Read before rendering: a change that lands meanwhile makes the
    // next request render again. Files arriving change no article but do
    // change what a page says of them ("here").
    let seq = *node.changes.borrow();
    let key = format!("{key}#{}", node.blobs.generation());
    let slot = cache.slot(&key, seq);
    let done = slot
        .get_or_try_init(|| async move {
            let value = tokio::task::spawn_blocking(render)
                .await
                .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))??;
            rendered(&value).map(Arc::new)
        })
        .await;
    let rendered = match done {
        Ok(rendered) => rendered,
        Err(e) => return e.clone().into_response(),
    };
    let accepted = request
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .map(HeaderValue::as_bytes);
    if coding::accepts_gzip(accepted) {
        if let Some(coded) = rendered.gzipped().await {
            return answer(request, &coded.body, &coded.etag, Sent::Gzip);
        }
    }
    answer(request, &rendered.body, &rendered.etag, Sent::Identity)
}

//! Files over HTTP, by hash, on Blossom's endpoints (BUD-01, BUD-02,
//! BUD-06) so its tools work (protocol-spec/files.md §3): `PUT /upload`,
//! `HEAD /upload` (a preflight), `GET` and `HEAD /<sha256>[.ext]` with
//! Range. Served so a file can never act as a page of this origin
//! (sandboxing CSP, nosniff), and readable from any origin (CORS), as
//! Blossom requires.

use std::io::SeekFrom;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use futures::TryStreamExt;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncSeekExt};

use super::ApiError;
use crate::access::Identity;
use crate::node::Node;
use crate::store::blobs::{self, BlobError};
use crate::store::schema::FileRecord;
use crate::transfer::{Fetched, FileState};

const X_REASON: HeaderName = HeaderName::from_static("x-reason");
const X_SHA256: &str = "x-sha-256";

/// An error as Blossom clients read it (`X-Reason`) and as the rest of
/// the API gives it (a JSON body with the reason), with CORS.
fn refuse(status: StatusCode, reason: &str) -> Response {
    let mut response = super::error(status, reason);
    let headers = response.headers_mut();
    // A reason is text for people; header values must be visible ASCII.
    let ascii: String = reason
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() || c == ' ' {
                c
            } else {
                '?'
            }
        })
        .collect();
    if let Ok(value) = HeaderValue::from_str(&ascii) {
        headers.insert(X_REASON, value);
    }
    cors(headers);
    response
}

fn cors(headers: &mut HeaderMap) {
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
}

/// `OPTIONS` on the file routes: the CORS preflight Blossom asks for.
pub async fn options() -> Response {
    let mut response = StatusCode::NO_CONTENT.into_response();
    let headers = response.headers_mut();
    cors(headers);
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static("Authorization, *"),
    );
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("GET, HEAD, PUT"),
    );
    headers.insert(
        header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from_static("86400"),
    );
    response
}

/// The media type of a header value, parameters left out, lower-cased.
fn media_type(value: Option<&HeaderValue>) -> Option<String> {
    let text = value?.to_str().ok()?;
    let media = text.split(';').next()?.trim().to_ascii_lowercase();
    (!media.is_empty()).then_some(media)
}

fn number(value: Option<&HeaderValue>) -> Option<u64> {
    value?.to_str().ok()?.trim().parse().ok()
}

/// 415 unless files of `media` type are taken here (files.md §2).
pub(crate) fn taken_type(node: &Node, media: &str) -> Result<(), ApiError> {
    let types = &node.config().files.types;
    if types.iter().any(|t| t.eq_ignore_ascii_case(media)) {
        return Ok(());
    }
    Err(ApiError::new(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        format!(
            "{media} files are not taken here; this node takes {}",
            types.join(", ")
        ),
    ))
}

/// An upload as announced, within the node's limits.
struct Upload {
    length: u64,
    media: String,
    announced: Option<[u8; 32]>,
}

/// What an upload announces, checked against the node's limits before a
/// byte of it is read: its length, type and announced hash, or the
/// status and reason of its refusal.
fn checked(
    node: &Node,
    length: Option<u64>,
    media: Option<&str>,
    hash: Option<&HeaderValue>,
) -> Result<Upload, ApiError> {
    if !node.config().node.posting {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "uploads are not allowed on this node".to_string(),
        ));
    }
    let limits = &node.config().files;
    let Some(length) = length else {
        return Err(ApiError::new(
            StatusCode::LENGTH_REQUIRED,
            "say the file's size (Content-Length, or X-Content-Length for a preflight)".to_string(),
        ));
    };
    if length > limits.max_bytes {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "the file is {length} bytes; this node takes files of at most {} bytes",
                limits.max_bytes
            ),
        ));
    }
    let media = media.unwrap_or("application/octet-stream").to_string();
    taken_type(node, &media)?;
    let announced =
        match hash {
            None => None,
            Some(value) => Some(value.to_str().ok().and_then(blobs::parse_hash).ok_or_else(
                || ApiError::bad("X-SHA-256 is the file's SHA-256 in 64 hex digits"),
            )?),
        };
    if let Some((status, reason)) = announced.and_then(|h| refusal(node, &h)) {
        return Err(ApiError::new(status, reason));
    }
    Ok(Upload {
        length,
        media,
        announced,
    })
}

/// `HEAD /upload` (BUD-06): would this upload be taken? From
/// X-Content-Length, X-Content-Type and X-SHA-256.
pub async fn preflight(State(node): State<Arc<Node>>, request: HeaderMap) -> Response {
    let length = number(request.get("x-content-length"));
    let media = media_type(request.get("x-content-type"));
    match checked(&node, length, media.as_deref(), request.get(X_SHA256)) {
        Ok(_) => {
            let mut response = StatusCode::OK.into_response();
            cors(response.headers_mut());
            response
        }
        Err(e) => refuse(e.status, &e.reason),
    }
}

/// `PUT /upload` (BUD-02): the body is the file, stored as sent and named
/// by its hash. 201 with a blob descriptor when new, 200 when it was here.
pub async fn upload(State(node): State<Arc<Node>>, request: Request) -> Response {
    let headers = request.headers().clone();
    let length = number(headers.get(header::CONTENT_LENGTH));
    let media = media_type(headers.get(header::CONTENT_TYPE));
    let Upload {
        length,
        media,
        announced,
    } = match checked(&node, length, media.as_deref(), headers.get(X_SHA256)) {
        Ok(upload) => upload,
        Err(e) => return refuse(e.status, &e.reason),
    };
    let body = request
        .into_body()
        .into_data_stream()
        .map_err(|e| e.to_string());
    let stored = match node
        .blobs
        .write(
            Box::pin(body),
            node.config().files.max_bytes,
            announced,
            |h| refusal(&node, h).map(|(_, why)| why),
        )
        .await
    {
        Ok(stored) => stored,
        Err(BlobError::Mismatch { announced, got }) => {
            return refuse(
                StatusCode::CONFLICT,
                &format!("the body's SHA-256 is {got}, not {announced} as X-SHA-256 says"),
            )
        }
        Err(e @ BlobError::TooLarge { .. }) => {
            return refuse(StatusCode::PAYLOAD_TOO_LARGE, &e.to_string())
        }
        Err(e @ BlobError::Body(_)) => return refuse(StatusCode::BAD_REQUEST, &e.to_string()),
        Err(BlobError::Refused { hash, reason }) => {
            let status = refusal(&node, &hash).map_or(StatusCode::GONE, |(s, _)| s);
            return refuse(status, &reason);
        }
        Err(e @ BlobError::Io(_)) => {
            tracing::error!(error = %e, "file not stored");
            return refuse(StatusCode::SERVICE_UNAVAILABLE, &e.to_string());
        }
    };
    if stored.size != length {
        return refuse(
            StatusCode::BAD_REQUEST,
            &format!(
                "Content-Length said {length} bytes, the body had {}",
                stored.size
            ),
        );
    }
    let record = {
        let (node, hash) = (node.clone(), stored.hash);
        let now = node.clock.now().timestamp();
        super::blocking(move || {
            // Uploaded again: the type it was first stored under stays,
            // and its grace period (files.md §5) starts again.
            let media_type = match node.store.file(&hash)? {
                Some(known) => known.media_type,
                None => media,
            };
            let record = FileRecord {
                size: stored.size,
                stored: now,
                media_type,
            };
            node.store.put_file(&hash, &record)?;
            Ok(record)
        })
        .await
    };
    let record = match record {
        Ok(record) => record,
        Err(failed) => return failed,
    };
    let status = if stored.existed {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    let mut response = (
        status,
        axum::Json(descriptor(&headers, &stored.hash, &record)),
    )
        .into_response();
    cors(response.headers_mut());
    response
}

/// A Blossom blob descriptor: `url` (absolute, with an extension),
/// `sha256`, `size`, `type`, `uploaded`.
fn descriptor(request: &HeaderMap, hash: &[u8; 32], record: &FileRecord) -> serde_json::Value {
    let host = request
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("127.0.0.1");
    let name = hex::encode(hash);
    json!({
        "url": format!("http://{host}/{name}.{}", extension(&record.media_type)),
        "sha256": name,
        "size": record.size,
        "type": record.media_type,
        "uploaded": record.stored,
    })
}

/// The usual extension of a media type, `bin` for others.
fn extension(media: &str) -> &'static str {
    match media {
        "image/png" => "png",
        "image/jpeg" => "jpg",
        "image/gif" => "gif",
        "image/webp" => "webp",
        "image/avif" => "avif",
        "video/mp4" => "mp4",
        "video/webm" => "webm",
        _ => "bin",
    }
}

/// The files an article references, as the APIs show them (files.md
/// §4, §8): hash, size, type, name, dimensions, thumbnail, where to GET
/// it, and its state: `here`, `not-here-yet`, `removed` (with why, and no
/// url), or `replaced` (a moderator's placeholder: `placeholder` is its
/// hash and `url` serves it). References that do not parse are left out
/// (the article was taken as a relay takes it).
pub(crate) fn file_objects(
    node: &Node,
    article: &crate::proto::article::Article,
) -> Vec<serde_json::Value> {
    let Ok(files) = crate::proto::file_ref::of(article) else {
        return Vec::new();
    };
    let here = |hash: &[u8; 32], size: Option<u64>| matches!(node.blobs.size(hash), Ok(Some(got)) if size.is_none_or(|s| s == got));
    files
        .iter()
        .map(|file| {
            let name = hex::encode(file.hash);
            let mut object = json!({
                "sha256": name,
                "size": file.size,
                "type": file.media_type,
                "name": file.name,
                "width": file.width,
                "height": file.height,
                "thumbnail": file.thumbnail.map(hex::encode),
                "url": format!("/{name}.{}", extension(&file.media_type)),
                "state": if here(&file.hash, Some(file.size)) { "here" } else { "not-here-yet" },
            });
            match node.fetcher.state(&file.hash) {
                Ok(FileState::Removed(why)) => {
                    object["url"] = serde_json::Value::Null;
                    object["state"] = json!("removed");
                    object["reason"] = json!(why);
                }
                Ok(FileState::Placeholder(placeholder)) => {
                    let shown = hex::encode(placeholder);
                    let media = node
                        .store
                        .file(&placeholder)
                        .ok()
                        .flatten()
                        .map_or_else(|| file.media_type.clone(), |r| r.media_type);
                    object["url"] = json!(format!("/{shown}.{}", extension(&media)));
                    object["placeholder"] = json!(shown);
                    object["state"] = json!("replaced");
                    object["placeholder_state"] = json!(if here(&placeholder, None) {
                        "here"
                    } else {
                        "not-here-yet"
                    });
                }
                _ => {}
            }
            object
        })
        .collect()
}

/// A `Range: bytes=…` header of one range over `size` bytes: the first
/// and last byte, clamped to the file (RFC 9110 §14.1.2); Err for one
/// that cannot be met (416); None when absent or not one byte range
/// (the whole file is sent, as RFC 9110 allows).
pub fn byte_range(value: Option<&str>, size: u64) -> Option<Result<(u64, u64), ()>> {
    let spec = value?.trim().strip_prefix("bytes=")?;
    if spec.contains(',') {
        return None;
    }
    let (first, last) = spec.split_once('-')?;
    let (first, last) = (first.trim(), last.trim());
    if first.is_empty() {
        // The last N bytes.
        let n: u64 = last.parse().ok()?;
        if n == 0 || size == 0 {
            return Some(Err(()));
        }
        return Some(Ok((size.saturating_sub(n), size - 1)));
    }
    let first: u64 = first.parse().ok()?;
    let last: u64 = if last.is_empty() {
        u64::MAX
    } else {
        last.parse().ok()?
    };
    if last < first {
        return None;
    }
    if first >= size {
        return Some(Err(()));
    }
    Some(Ok((first, last.min(size - 1))))
}

/// Why this node neither takes nor serves the file `hash`, with the
/// status that says so: its operator blocked it (451), or a removal of it
/// held (410, files.md §8). None when it is taken.
pub(crate) fn refusal(node: &Node, hash: &[u8; 32]) -> Option<(StatusCode, String)> {
    if node.config().files.blocks(hash) {
        return Some((
            StatusCode::UNAVAILABLE_FOR_LEGAL_REASONS,
            "that file is blocked by this node's operator".into(),
        ));
    }
    match node.fetcher.state(hash) {
        Ok(FileState::Removed(why)) => Some((
            StatusCode::GONE,
            format!("that file was removed ({why}); it is neither taken nor served again"),
        )),
        Ok(_) => None,
        Err(e) => Some((StatusCode::SERVICE_UNAVAILABLE, e.to_string())),
    }
}

/// The file `hash` and its record, opened; when it is not here but an
/// article here references it, first fetched from a peer (files.md §7,
/// on-demand), waiting at most `[files] fetch_wait_secs`.
async fn open_or_fetch(
    node: &Arc<Node>,
    hash: [u8; 32],
) -> Result<(FileRecord, tokio::fs::File), Response> {
    let mut fetched = false;
    loop {
        let found = {
            let node = node.clone();
            super::blocking(move || {
                let record = node.store.file(&hash)?;
                let referenced = record.is_none()
                    && (node.fetcher.pinned(&hash)? || node.store.file_referenced(&hash)?);
                Ok((record, referenced))
            })
            .await?
        };
        let gone = match found {
            (Some(record), _) => match tokio::fs::File::open(node.blobs.path(&hash)).await {
                Ok(file) => {
                    // Opened first: an eviction now leaves this read whole.
                    noted_read(node, hash, fetched).await?;
                    return Ok((record, file));
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    "the file's bytes are not here"
                }
                Err(e) => return Err(refuse(StatusCode::SERVICE_UNAVAILABLE, &e.to_string())),
            },
            (None, true) => "no file with that hash here",
            (None, false) => {
                return Err(refuse(StatusCode::NOT_FOUND, "no file with that hash here"))
            }
        };
        if fetched {
            return Err(refuse(StatusCode::NOT_FOUND, gone));
        }
        let within = std::time::Duration::from_secs(node.config().files.fetch_wait_secs);
        match node.fetcher.fetch(hash, within).await {
            Some(Fetched::Here) => fetched = true,
            Some(Fetched::NotFound { asked }) => {
                return Err(refuse(
                    StatusCode::NOT_FOUND,
                    &format!("{gone}, and none of the {asked} peers asked has it"),
                ))
            }
            Some(Fetched::Refused(why)) => return Err(refuse(StatusCode::NOT_FOUND, &why)),
            Some(Fetched::Failed(why)) => {
                return Err(refuse(
                    StatusCode::BAD_GATEWAY,
                    &format!("fetching the file from peers failed: {why}"),
                ))
            }
            None => {
                let mut busy = refuse(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "the file is being fetched from a peer; try again shortly",
                );
                busy.headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
                return Err(busy);
            }
        }
    }
}

/// Notes a read of the file `hash` for the cache of files fetched for
/// readers (files.md §5): one just fetched for this reader joins it, and
/// the cache is brought back within its budget; one of it read again is
/// the most recently read.
async fn noted_read(node: &Arc<Node>, hash: [u8; 32], fetched: bool) -> Result<(), Response> {
    let node = node.clone();
    super::blocking(move || {
        let now = u64::try_from(node.clock.now().timestamp_micros()).unwrap_or(0);
        if fetched {
            node.store.touch_file(&hash, now)?;
            if let Err(e) = crate::sweep::evict(&node) {
                tracing::warn!(error = %e, "evicting cached files failed");
            }
        } else if node.store.file_read_at(&hash)?.is_some() {
            node.store.touch_file(&hash, now)?;
        }
        Ok(())
    })
    .await
}

/// `GET /<sha256>[.ext]` and `HEAD` (BUD-01): the file, whole or a byte
/// range, with the media type it was stored under.
pub async fn blob(
    State(node): State<Arc<Node>>,
    Path(segment): Path<String>,
    Extension(who): Extension<Identity>,
    method: axum::http::Method,
    request: HeaderMap,
) -> Response {
    let Some(hash) = blobs::parse_hash(&segment) else {
        return refuse(StatusCode::NOT_FOUND, "no such resource");
    };
    if let Some((status, reason)) = refusal(&node, &hash) {
        return refuse(status, &reason);
    }
    // A file only posts its reader may not read reference is not here to
    // it (access.md §4), as such a post is not.
    match node.file_readable(&who, &hash) {
        Ok(true) => {}
        Ok(false) if who.is_anonymous() => {
            return refuse(StatusCode::UNAUTHORIZED, "log in to read this file")
        }
        Ok(false) => return refuse(StatusCode::NOT_FOUND, "no such file here"),
        Err(e) => return refuse(StatusCode::SERVICE_UNAVAILABLE, &e.to_string()),
    }
    let (record, mut file) = match open_or_fetch(&node, hash).await {
        Ok(found) => found,
        Err(failed) => return failed,
    };
    let size = match file.metadata().await {
        Ok(meta) => meta.len(),
        Err(e) => return refuse(StatusCode::SERVICE_UNAVAILABLE, &e.to_string()),
    };
    let etag = format!("\"{}\"", hex::encode(hash));
    let mut headers = HeaderMap::new();
    cors(&mut headers);
    let safe = node
        .config()
        .files
        .types
        .iter()
        .any(|t| t.eq_ignore_ascii_case(&record.media_type));
    let shown = if safe {
        record.media_type.as_str()
    } else {
        "application/octet-stream"
    };
    let put = |headers: &mut HeaderMap, name: HeaderName, value: &str| {
        if let Ok(value) = HeaderValue::from_str(value) {
            headers.insert(name, value);
        }
    };
    put(&mut headers, header::CONTENT_TYPE, shown);
    if !safe {
        put(&mut headers, header::CONTENT_DISPOSITION, "attachment");
    }
    put(&mut headers, header::ETAG, &etag);
    put(&mut headers, header::ACCEPT_RANGES, "bytes");
    put(
        &mut headers,
        header::CACHE_CONTROL,
        "public, max-age=31536000, immutable",
    );
    put(&mut headers, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    put(
        &mut headers,
        header::CONTENT_SECURITY_POLICY,
        "default-src 'none'; sandbox",
    );
    put(
        &mut headers,
        HeaderName::from_static("cross-origin-resource-policy"),
        "cross-origin",
    );
    let not_modified = request
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    if not_modified {
        return (StatusCode::NOT_MODIFIED, headers).into_response();
    }
    // If-Range naming another entity: the whole file, not the range.
    let range_applies = request
        .get(header::IF_RANGE)
        .and_then(|v| v.to_str().ok())
        .is_none_or(|v| v.trim() == etag);
    let range = if range_applies {
        byte_range(
            request.get(header::RANGE).and_then(|v| v.to_str().ok()),
            size,
        )
    } else {
        None
    };
    let (status, first, length) = match range {
        None => (StatusCode::OK, 0, size),
        Some(Ok((first, last))) => {
            put(
                &mut headers,
                header::CONTENT_RANGE,
                &format!("bytes {first}-{last}/{size}"),
            );
            (StatusCode::PARTIAL_CONTENT, first, last - first + 1)
        }
        Some(Err(())) => {
            put(
                &mut headers,
                header::CONTENT_RANGE,
                &format!("bytes */{size}"),
            );
            let mut response = refuse(
                StatusCode::RANGE_NOT_SATISFIABLE,
                "the range is past the end of the file",
            );
            response.headers_mut().extend(headers);
            return response;
        }
    };
    put(&mut headers, header::CONTENT_LENGTH, &length.to_string());
    if method == axum::http::Method::HEAD {
        return (status, headers).into_response();
    }
    if let Err(e) = file.seek(SeekFrom::Start(first)).await {
        return refuse(StatusCode::SERVICE_UNAVAILABLE, &e.to_string());
    }
    let stream = tokio_util::io::ReaderStream::new(file.take(length));
    (status, headers, Body::from_stream(stream)).into_response()
}

#[cfg(test)]
mod tests {
    use super::byte_range;

    #[test]
    fn byte_ranges_are_clamped_or_refused_as_rfc_9110_says() {
        assert_eq!(byte_range(None, 10), None);
        assert_eq!(byte_range(Some("bytes=0-3"), 10), Some(Ok((0, 3))));
        assert_eq!(byte_range(Some("bytes=4-"), 10), Some(Ok((4, 9))));
        assert_eq!(
            byte_range(Some("bytes=8-99"), 10),
            Some(Ok((8, 9))),
            "clamped"
        );
        assert_eq!(byte_range(Some("bytes=-3"), 10), Some(Ok((7, 9))));
        assert_eq!(byte_range(Some("bytes=-30"), 10), Some(Ok((0, 9))));
        assert_eq!(byte_range(Some("bytes=10-"), 10), Some(Err(())));
        assert_eq!(byte_range(Some("bytes=-0"), 10), Some(Err(())));
        assert_eq!(byte_range(Some("bytes=5-2"), 10), None, "invalid: ignored");
        assert_eq!(
            byte_range(Some("bytes=0-1,4-5"), 10),
            None,
            "several: whole file"
        );
        assert_eq!(byte_range(Some("items=0-1"), 10), None);
        assert_eq!(byte_range(Some("bytes=x-1"), 10), None);
    }
}

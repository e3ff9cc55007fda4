//! Writes through the HTTP API (protocol-spec/http.md §4.4): a post made
//! from fields (JSON, a URL-encoded or multipart form, 4chan's
//! `/{board}/post`), or a whole article, signed by its author or not.
//! Either way it goes to the node as an NNTP POST does, under the same
//! rules, and a refusal carries the reason the NNTP reply would.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::{FromRequest, Multipart, Path, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde_json::json;

use super::compose::{self, NewPost, Parent};
use super::ApiError;
use crate::access::Identity;
use crate::ingest::Source;
use crate::node::{Ingested, Node};
use crate::proto::article::Article;
use crate::proto::file_ref::FileRef;
use crate::store::commit::Stored;
use crate::store::schema::HistoryEntry;
use futures::StreamExt;

/// `POST /api/v1/posts`: a new thread or a reply from fields.
pub async fn post(State(node): State<Arc<Node>>, request: Request) -> Response {
    from_fields(node, request, None).await
}

/// `POST /{board}/post`: the same, with the board in the URL, for chan
/// back ends that post forms where 4chan's did.
pub async fn board_post(
    State(node): State<Arc<Node>>,
    Path(board): Path<String>,
    request: Request,
) -> Response {
    from_fields(node, request, Some(board)).await
}

async fn from_fields(node: Arc<Node>, request: Request, board: Option<String>) -> Response {
    if let Some(refused) = posting_refused(&node) {
        return refused;
    }
    let who = identity(&request);
    let (fields, files) = match fields(&node, request).await {
        Ok(found) => found,
        Err(refused) => return refused.into_response(),
    };
    let mut post = match NewPost::from_fields(&fields, board.as_deref()) {
        Ok(post) => post,
        Err(why) => return super::error(StatusCode::BAD_REQUEST, &why),
    };
    post.files = files;
    if !node.groups.contains(&post.board) || post.board == crate::ingest::CONTROL_GROUP {
        return super::error(
            StatusCode::NOT_FOUND,
            &format!("no such board here: {}", post.board),
        );
    }
    let parent = {
        let (node, post) = (node.clone(), post.clone());
        let found = tokio::task::spawn_blocking(move || parent(&node, &post)).await;
        match found {
            Ok(Ok(parent)) => parent,
            Ok(Err(refused)) => return refused.into_response(),
            Err(e) => return super::error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
        }
    };
    match compose::article(&post, parent.as_ref()) {
        Ok(article) => ingest(&node, &who, Bytes::from(article)).await,
        Err(why) => super::error(StatusCode::BAD_REQUEST, &why),
    }
}

/// `POST /api/v1/articles`: a whole article, as a reader would POST it
/// (`message/rfc822` or `text/plain`), or JSON `{"article": "..."}`. A
/// signed article is taken as signed; edits, cancels and moves must be.
pub async fn article(State(node): State<Arc<Node>>, request: Request) -> Response {
    if let Some(refused) = posting_refused(&node) {
        return refused;
    }
    let who = identity(&request);
    let json = content_type(&request).is_some_and(|t| t == "application/json");
    let body = match Bytes::from_request(request, &()).await {
        Ok(body) => body,
        Err(rejection) => return ApiError::rejected(rejection).into_response(),
    };
    let text = if json {
        #[derive(serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Wrapped {
            article: String,
        }
        match serde_json::from_slice::<Wrapped>(&body) {
            Ok(wrapped) => wrapped.article,
            Err(e) => return super::error(StatusCode::BAD_REQUEST, &format!("bad JSON: {e}")),
        }
    } else {
        match String::from_utf8(body.to_vec()) {
            Ok(text) => text,
            // 8-bit articles in other charsets are NNTP's to take.
            Err(_) => {
                return super::error(
                    StatusCode::BAD_REQUEST,
                    "the article is not UTF-8; post it over NNTP",
                )
            }
        }
    };
    ingest(&node, &who, Bytes::from(compose::crlf(&text).into_bytes())).await
}

/// 403 when the node takes no posts (NNTP greets such readers with 201).
fn posting_refused(node: &Node) -> Option<Response> {
    (!node.config().node.posting)
        .then(|| super::error(StatusCode::FORBIDDEN, "posting is not allowed on this node"))
}

/// The media type of a request, without parameters, lower-cased.
fn content_type(request: &Request) -> Option<String> {
    let value = request.headers().get(header::CONTENT_TYPE)?.to_str().ok()?;
    Some(
        value
            .split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase(),
    )
}

/// Files one post may carry, as NNTP POST allows.
pub use crate::ingest::injection::MAX_FILES;

/// A request's fields from a JSON object, a URL-encoded form or a
/// multipart form, and the files a multipart form carries, each streamed
/// into the node's files as it is read (files.md §4); an empty file
/// input, which every chan form sends, is not a file.
async fn fields(
    node: &Node,
    request: Request,
) -> Result<(BTreeMap<String, String>, Vec<FileRef>), ApiError> {
    let bad = ApiError::bad;
    match content_type(&request).as_deref() {
        Some("application/json") => {
            let body = Bytes::from_request(request, &())
                .await
                .map_err(ApiError::rejected)?;
            let value: serde_json::Value =
                serde_json::from_slice(&body).map_err(|e| bad(format!("bad JSON: {e}")))?;
            let serde_json::Value::Object(object) = value else {
                return Err(bad("the JSON body must be an object".into()));
            };
            let mut fields = BTreeMap::new();
            for (key, value) in object {
                let text = match value {
                    serde_json::Value::String(s) => s,
                    serde_json::Value::Number(n) => n.to_string(),
                    serde_json::Value::Null => continue,
                    _ => return Err(bad(format!("field {key:?} must be a string or a number"))),
                };
                fields.insert(key, text);
            }
            Ok((fields, Vec::new()))
        }
        Some("application/x-www-form-urlencoded") => {
            let body = Bytes::from_request(request, &())
                .await
                .map_err(ApiError::rejected)?;
            let mut fields = BTreeMap::new();
            for (key, value) in form_urlencoded(&body)? {
                if fields.insert(key.clone(), value).is_some() {
                    return Err(bad(format!("field {key:?} given twice")));
                }
            }
            Ok((fields, Vec::new()))
        }
        Some("multipart/form-data") => {
            let mut multipart = Multipart::from_request(request, &())
                .await
                .map_err(|e| bad(format!("bad multipart form: {e}")))?;
            let mut fields = BTreeMap::new();
            let mut files = Vec::new();
            loop {
                let mut field = match multipart.next_field().await {
                    Ok(Some(field)) => field,
                    Ok(None) => break,
                    Err(e) => return Err(multipart_error(e)),
                };
                let key = field.name().unwrap_or_default().to_string();
                if let Some(name) = field.file_name().map(str::to_string) {
                    // An empty file input (no file chosen) is no file.
                    let mut first = Bytes::new();
                    while first.is_empty() {
                        match field.chunk().await.map_err(multipart_error)? {
                            Some(chunk) => first = chunk,
                            None => break,
                        }
                    }
                    if first.is_empty() {
                        continue;
                    }
                    if files.len() >= MAX_FILES {
                        return Err(ApiError::new(
                            StatusCode::UNPROCESSABLE_ENTITY,
                            format!("a post carries at most {MAX_FILES} files"),
                        ));
                    }
                    let media = field
                        .content_type()
                        .map(|m| m.split(';').next().unwrap_or(m).trim().to_ascii_lowercase())
                        .unwrap_or_else(|| "application/octet-stream".into());
                    files.push(store_file(node, first, field, media, name).await?);
                    continue;
                }
                let bytes = field.bytes().await.map_err(multipart_error)?;
                let text = String::from_utf8(bytes.to_vec())
                    .map_err(|_| bad(format!("field {key:?} is not UTF-8")))?;
                if fields.insert(key.clone(), text).is_some() {
                    return Err(bad(format!("field {key:?} given twice")));
                }
            }
            Ok((fields, files))
        }
        Some(other) => Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!("{other} is not taken: send application/json, application/x-www-form-urlencoded or multipart/form-data"),
        )),
        None => Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "no Content-Type: send application/json, application/x-www-form-urlencoded or multipart/form-data",
        )),
    }
}

/// Streams a form's file part into the node's files (its first chunk
/// read already), under the same limits as an upload (files.md §2), and
/// records it.
async fn store_file(
    node: &Node,
    first: Bytes,
    mut field: axum::extract::multipart::Field<'_>,
    media: String,
    name: String,
) -> Result<FileRef, ApiError> {
    let limits = &node.config().files;
    super::files::taken_type(node, &media)?;
    let rest = futures::stream::poll_fn(move |cx| {
        use futures::Stream;
        std::pin::Pin::new(&mut field).poll_next(cx)
    });
    let body = futures::stream::once(async move { Ok(first) })
        .chain(rest)
        .map(|chunk| chunk.map_err(|e| e.to_string()));
    let stored = node
        .blobs
        .write(Box::pin(body), limits.max_bytes, None, |h| {
            super::files::refusal(node, h).map(|(_, why)| why)
        })
        .await
        .map_err(|e| match e {
            crate::store::blobs::BlobError::TooLarge { .. } => {
                ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, e.to_string())
            }
            crate::store::blobs::BlobError::Io(_) => {
                ApiError::new(StatusCode::SERVICE_UNAVAILABLE, e.to_string())
            }
            crate::store::blobs::BlobError::Refused { hash, reason } => {
                let status =
                    super::files::refusal(node, &hash).map_or(StatusCode::GONE, |(s, _)| s);
                ApiError::new(status, reason)
            }
            _ => ApiError::bad(e.to_string()),
        })?;
    let now = node.clock.now().timestamp();
    // A synced write: off the async workers. Bytes here already keep the
    // type they were first stored under, and their grace period (files.md
    // §5) starts again, so a sweep cannot take them before the post lands.
    let store = node.store.clone();
    let (hash, size, fresh_type) = (stored.hash, stored.size, media.clone());
    tokio::task::spawn_blocking(move || {
        let media_type = match store.file(&hash)? {
            Some(known) => known.media_type,
            None => fresh_type,
        };
        let record = crate::store::schema::FileRecord {
            size,
            stored: now,
            media_type,
        };
        store.put_file(&hash, &record)
    })
    .await
    .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))??;
    // A name is shown to readers: no path, no control characters.
    let name = name
        .rsplit(['/', '\\'])
        .next()
        .unwrap_or_default()
        .chars()
        .filter(|c| !c.is_control())
        .take(200)
        .collect::<String>();
    Ok(FileRef {
        hash: stored.hash,
        size: stored.size,
        media_type: media,
        name: (!name.is_empty()).then_some(name),
        width: None,
        height: None,
        thumbnail: None,
    })
}

fn multipart_error(e: axum::extract::multipart::MultipartError) -> ApiError {
    ApiError::new(e.status(), format!("bad multipart form: {}", e.body_text()))
}

/// `key=value&...` with `+` and percent escapes decoded, as UTF-8.
fn form_urlencoded(body: &[u8]) -> Result<Vec<(String, String)>, ApiError> {
    let decode = |part: &[u8]| -> Option<String> {
        let mut out = Vec::with_capacity(part.len());
        let mut i = 0;
        while i < part.len() {
            match part[i] {
                b'+' => out.push(b' '),
                b'%' => {
                    let hex = part.get(i + 1..i + 3)?;
                    out.push(u8::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()?);
                    i += 2;
                }
                b => out.push(b),
            }
            i += 1;
        }
        String::from_utf8(out).ok()
    };
    body.split(|&b| b == b'&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (key, value) = match pair.iter().position(|&b| b == b'=') {
                Some(eq) => (&pair[..eq], &pair[eq + 1..]),
                None => (pair, &b""[..]),
            };
            decode(key).zip(decode(value)).ok_or_else(|| {
                ApiError::bad("bad form: an escape is broken or a field is not UTF-8")
            })
        })
        .collect()
}

/// The post a reply answers: the opening post numbered `thread` on the
/// board, or the post named by `in_reply_to` (its current version).
fn parent(node: &Node, post: &NewPost) -> Result<Option<Parent>, ApiError> {
    if let Some(number) = post.thread {
        let page = node.store.overview_page(&post.board, number, number, 1)?;
        let Some((_, record)) = page.into_iter().next() else {
            return Err(ApiError::new(
                StatusCode::NOT_FOUND,
                format!("no post {number} on {}", post.board),
            ));
        };
        let fields: Vec<String> = record
            .split(|&b| b == b'\t')
            .map(|f| String::from_utf8_lossy(f).into_owned())
            .collect();
        let field = |i: usize| fields.get(i).cloned().unwrap_or_default();
        if !field(4).trim().is_empty() {
            return Err(ApiError::bad(format!(
                "post {number} on {} is a reply, not an opening post",
                post.board
            )));
        }
        return Ok(Some(Parent {
            message_id: field(3),
            references: String::new(),
            subject: field(0),
        }));
    }
    let Some(id) = &post.in_reply_to else {
        return Ok(None);
    };
    let id = if id.starts_with('<') {
        id.clone()
    } else {
        format!("<{id}>")
    };
    let current = super::threads::current_version(&node.store, &id)?;
    let filed = matches!(
        node.store.history(current.as_bytes())?,
        Some(HistoryEntry::Accepted { .. })
    );
    let article = if filed {
        node.store
            .article(current.as_bytes())?
            .and_then(|bytes| Article::parse(Bytes::from(bytes)).ok())
    } else {
        None
    };
    let Some(article) = article else {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            format!("{id} is not filed here: it may not have reached this node yet"),
        ));
    };
    let text = |name: &str| {
        String::from_utf8_lossy(&article.header_unfolded(name).unwrap_or_default()).into_owned()
    };
    Ok(Some(Parent {
        message_id: current,
        references: text("References"),
        subject: text("Subject"),
    }))
}

/// Gives `article` to the node as a reader's POST and answers as the NNTP
/// reply would, in HTTP: 201 filed, 202 waiting (for a passport or the
/// operator), 200 a control applied here only, 409 a duplicate, 422
/// refused with the NNTP reason, 503 a storage fault.
/// Who sent the request (http/auth.rs put it there).
fn identity(request: &Request) -> Identity {
    request
        .extensions()
        .get::<Identity>()
        .cloned()
        .unwrap_or(Identity::Anonymous)
}

async fn ingest(node: &Node, who: &Identity, article: Bytes) -> Response {
    // Every board the post names must be one its sender may post to
    // (protocol-spec/access.md §4).
    if !node.access().all_open() {
        let boards = crate::proto::article::Article::parse(article.clone())
            .map(|a| a.newsgroups())
            .unwrap_or_default();
        let refused = node.access().unpostable(who, &boards);
        if !refused.is_empty() {
            let status = if who.is_anonymous() {
                StatusCode::UNAUTHORIZED
            } else {
                StatusCode::FORBIDDEN
            };
            return super::error(
                status,
                &format!("you may not post to {}", refused.join(", ")),
            );
        }
    }
    let created = |status: StatusCode, id: &[u8], what: &str, boards: serde_json::Value| {
        let id = String::from_utf8_lossy(id).into_owned();
        let location = format!("/api/v1/articles/{}", percent_id(&id));
        let no = boards
            .as_array()
            .and_then(|b| b.first())
            .map(|b| b["number"].clone())
            .unwrap_or(serde_json::Value::Null);
        let body = json!({ "message_id": id, "status": what, "boards": boards, "no": no });
        let mut response = (status, axum::Json(body)).into_response();
        if let Ok(location) = HeaderValue::from_str(&location) {
            response.headers_mut().insert(header::LOCATION, location);
        }
        response
    };
    match node.ingest(article, Source::Post, None).await {
        Ingested::Refused(rejection) => {
            tracing::info!(reason = %rejection.reason, "HTTP post rejected");
            super::error(StatusCode::UNPROCESSABLE_ENTITY, &rejection.reason)
        }
        Ingested::Fault { fault, .. } => {
            tracing::error!(error = %fault, "HTTP post not stored");
            let mut response = super::error(
                StatusCode::SERVICE_UNAVAILABLE,
                "storage fault, article not stored; try again later",
            );
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
            response
        }
        Ingested::Stored { message_id, stored } => match stored {
            Stored::Accepted { numbers } => {
                let boards: Vec<serde_json::Value> = numbers
                    .iter()
                    .filter(|(board, _)| board != crate::ingest::CONTROL_GROUP)
                    .map(|(board, number)| json!({ "board": board, "number": number }))
                    .collect();
                created(StatusCode::CREATED, &message_id, "filed", json!(boards))
            }
            Stored::Pending => created(StatusCode::ACCEPTED, &message_id, "pending", json!([])),
            Stored::Held => created(StatusCode::ACCEPTED, &message_id, "held", json!([])),
            Stored::Applied => created(StatusCode::OK, &message_id, "applied", json!([])),
            Stored::Duplicate => super::error(
                StatusCode::CONFLICT,
                &format!(
                    "duplicate: {} is already known",
                    String::from_utf8_lossy(&message_id)
                ),
            ),
        },
    }
}

/// A Message-ID as a path segment: `<`, `>`, `/`, `%` and the like
/// percent-encoded.
pub fn percent_id(id: &str) -> String {
    let mut out = String::with_capacity(id.len() + 8);
    for b in id.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~@!$&'()*+,;=:".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn forms_decode_plus_and_escapes() {
        let fields =
            super::form_urlencoded(b"com=a+b%0D%0Ac&name=J%C3%B6&empty=&flag").expect("decoded");
        assert_eq!(
            fields,
            vec![
                ("com".to_string(), "a b\r\nc".to_string()),
                ("name".to_string(), "Jö".to_string()),
                ("empty".to_string(), String::new()),
                ("flag".to_string(), String::new()),
            ]
        );
        assert!(super::form_urlencoded(b"com=%zz").is_err());
        assert!(super::form_urlencoded(b"com=%FF").is_err(), "not UTF-8");
    }

    #[test]
    fn message_ids_are_percent_encoded_in_paths() {
        assert_eq!(super::percent_id("<a/b@c>"), "%3Ca%2Fb@c%3E");
    }
}

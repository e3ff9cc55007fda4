//! The native API under `/api/v1`: what the 4chan shape cannot say
//! (protocol-spec/http.md §4).

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use bytes::Bytes;
use serde_json::json;

use std::time::Duration;

use crate::access::Identity;
use crate::catchup::ask::Asked;
use crate::node::Node;
use crate::proto::article::Article;
use crate::proto::grammar::is_message_id;
use crate::store::schema::HistoryEntry;
use crate::store::StoreError;

/// The API as an OpenAPI 3.1 document (http.md is the normative text).
const OPENAPI: &str = include_str!("../../protocol-spec/openapi.json");

/// `GET /api/v1/openapi.json`.
pub async fn openapi(request: HeaderMap) -> Response {
    match serde_json::from_str::<serde_json::Value>(OPENAPI) {
        Ok(document) => super::json_tagged(&request, &document),
        Err(e) => super::error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    }
}

/// `GET /api/v1/boards`: every board this node carries, hidden ones
/// included and marked (`control` is no board), with its numbering as
/// NNTP readers see it.
pub async fn boards(
    State(node): State<Arc<Node>>,
    Extension(who): Extension<Identity>,
    request: HeaderMap,
) -> Response {
    let mut all = node.groups.all();
    all.retain(|(name, _)| node.access().may_read(&who, name));
    all.sort_by(|a, b| a.0.cmp(&b.0));
    let boards: Vec<serde_json::Value> = all
        .into_iter()
        .filter(|(name, _)| name != crate::ingest::CONTROL_GROUP)
        .map(|(name, record)| {
            json!({
                "name": name,
                "description": record.description,
                "hidden": record.hidden,
                "count": record.count,
                "low": record.low,
                "high": record.high,
                "created": record.created,
            })
        })
        .collect();
    super::json_tagged(&request, &json!({ "boards": boards }))
}

/// `GET /api/v1/articles/{message-id}` (angle brackets optional, the path
/// percent-encoded): one article as this node holds it, with its status
/// (http.md §4.2). A superseded version names the current one.
pub async fn article(
    State(node): State<Arc<Node>>,
    Extension(who): Extension<Identity>,
    Path(id): Path<String>,
    request: HeaderMap,
) -> Response {
    let id = if id.starts_with('<') {
        id
    } else {
        format!("<{id}>")
    };
    if !is_message_id(id.as_bytes()) {
        return super::error(StatusCode::BAD_REQUEST, "not a Message-ID");
    }
    let reader = node.clone();
    let lookup = id.clone();
    let found = match super::blocking(move || describe(&reader, &lookup)).await {
        Ok(found) => found,
        Err(failed) => return failed,
    };
    let found = match found {
        Found::Absent => {
            // Not here at all: maybe not synced yet. Ask the peers, briefly.
            let within = Duration::from_millis(node.config().limits.http_ask_peers_ms);
            let asked = if within.is_zero() {
                Asked::NotFound { asked: 0 }
            } else {
                crate::catchup::ask::ask(&node, id.as_bytes(), within).await
            };
            let reader = node.clone();
            let again = match super::blocking(move || describe(&reader, &id)).await {
                Ok(found) => found,
                Err(failed) => return failed,
            };
            match (again, asked) {
                (Found::Absent, Asked::NotFound { asked }) => {
                    let reason = if asked == 0 {
                        "not here: it may not have reached this node yet".to_string()
                    } else {
                        format!(
                            "not here, and none of the {asked} peers asked had it within {} ms: it may not be synced yet",
                            within.as_millis()
                        )
                    };
                    return super::error(StatusCode::NOT_FOUND, &reason);
                }
                (found, _) => found,
            }
        }
        found => found,
    };
    match found {
        Found::Article(value) if !readable(&node, &who, &value) => {
            if who.is_anonymous() {
                super::error(StatusCode::UNAUTHORIZED, "log in to read this article")
            } else {
                super::error(StatusCode::NOT_FOUND, "not here")
            }
        }
        Found::Article(value) => super::json_tagged(&request, &value),
        Found::Not(status, reason) => super::error(status, &reason),
        Found::Absent => super::error(
            StatusCode::NOT_FOUND,
            "not here: it may not have reached this node yet",
        ),
    }
}

/// Whether `who` may read the article `value` shows: one board of its
/// Newsgroups header is readable (protocol-spec/access.md §4).
fn readable(node: &Node, who: &Identity, value: &serde_json::Value) -> bool {
    let headers = value["headers"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    let boards = headers
        .iter()
        .filter(|h| {
            h[0].as_str()
                .is_some_and(|n| n.eq_ignore_ascii_case("Newsgroups"))
        })
        .filter_map(|h| h[1].as_str())
        .flat_map(|v| v.split(','))
        .map(str::trim);
    node.access().may_read_any(who, boards)
}

/// An xref (`board:number ...`) as `[{"board", "number"}]`, control
/// left out.
pub fn xref_boards(xref: &str) -> Vec<serde_json::Value> {
    xref.split_whitespace()
        .filter_map(|pair| pair.rsplit_once(':'))
        .filter(|(board, _)| *board != crate::ingest::CONTROL_GROUP)
        .map(|(board, number)| json!({ "board": board, "number": number.parse::<u64>().ok() }))
        .collect()
}

enum Found {
    Article(serde_json::Value),
    Not(StatusCode, String),
    /// History knows nothing of it.
    Absent,
}

fn describe(node: &Node, id: &str) -> Result<Found, StoreError> {
    let store = &node.store;
    let (status, boards, current) = match store.history(id.as_bytes())? {
        None => return Ok(Found::Absent),
        Some(HistoryEntry::Accepted { xref, .. }) => ("filed", xref_boards(&xref), id.to_string()),
        Some(HistoryEntry::Superseded { by, .. }) => ("superseded", Vec::new(), by),
        Some(HistoryEntry::Pending { key, .. }) => {
            return Ok(Found::Article(json!({
                "message_id": id,
                "status": "pending",
                "waits_for_passport_of": key,
            })))
        }
        Some(HistoryEntry::Held { .. }) => {
            return Ok(Found::Article(
                json!({ "message_id": id, "status": "held" }),
            ))
        }
        Some(HistoryEntry::Removed { reason, .. } | HistoryEntry::Rejected { reason, .. }) => {
            return Ok(Found::Not(StatusCode::GONE, format!("removed: {reason}")))
        }
        Some(HistoryEntry::Refused { reason, .. }) => {
            return Ok(Found::Not(
                StatusCode::NOT_FOUND,
                format!("not here: a copy was refused ({reason})"),
            ))
        }
    };
    let Some(article) = store
        .article(id.as_bytes())?
        .and_then(|bytes| Article::parse(Bytes::from(bytes)).ok())
    else {
        return Ok(Found::Not(StatusCode::GONE, "its text is gone".into()));
    };
    let mut names: Vec<String> = Vec::new();
    for (name, _) in article.field_spans() {
        let name = String::from_utf8_lossy(name).into_owned();
        if !names.iter().any(|n| n.eq_ignore_ascii_case(&name)) {
            names.push(name);
        }
    }
    let headers: Vec<serde_json::Value> = names
        .iter()
        .map(|name| {
            let value = article.header_unfolded(name).unwrap_or_default();
            json!([name, String::from_utf8_lossy(&value)])
        })
        .collect();
    let delivery = if status == "filed" {
        delivery(node, &article, id.as_bytes())?
    } else {
        serde_json::Value::Null
    };
    // The stored copy was verified when it was taken; this names the key.
    let signer = crate::proto::signing::claimed_key(&article)
        .ok()
        .map(|key| hex::encode(key.as_bytes()));
    let edits: Vec<String> = store
        .edits_of(id.as_bytes())?
        .iter()
        .map(|e| String::from_utf8_lossy(e).into_owned())
        .collect();
    Ok(Found::Article(json!({
        "message_id": id,
        "status": status,
        "current": current,
        "signer": signer,
        "edits": edits,
        "boards": boards,
        "headers": headers,
        "body": String::from_utf8_lossy(&article.body()),
        "files": super::files::file_objects(node, &article),
        "delivery": delivery,
    })))
}

/// Outbox entries looked through for an article, per peer: an outbox
/// longer than this (a peer long away) leaves its state unknown.
const OUTBOX_LOOK: usize = 10_000;

/// Where a filed article stands with each fed peer (http.md §4.2):
/// `source` (it came through that peer), `queued` (in its outbox),
/// `delivered` (routed to it and out of its outbox: the peer took it,
/// had it, or refused it), `not-sent` (its `send` list does not take these
/// boards), or `unknown` (an outbox too long to look through).
fn delivery(node: &Node, article: &Article, id: &[u8]) -> Result<serde_json::Value, StoreError> {
    let path = article.header_unfolded("Path").unwrap_or_default();
    let entries: Vec<&[u8]> = path.split(|&b| b == b'!').map(|e| e.trim_ascii()).collect();
    let ours = node.name().as_bytes();
    // Our entry followed by the .POSTED diagnostic: a reader posted it here.
    let injected_here = entries
        .windows(2)
        .any(|w| w[0] == ours && w[1].len() >= 7 && w[1][..7].eq_ignore_ascii_case(b".POSTED"));
    let wanting = node.peers().wanting(&path, &article.newsgroups());
    let mut peers = Vec::new();
    for peer in node.peers().all().iter().filter(|p| p.address.is_some()) {
        let state = if entries.contains(&peer.name.as_bytes()) {
            "source"
        } else if !wanting.contains(&peer.name) {
            "not-sent"
        } else {
            let queue = node.store.outbox(&peer.name, 0, OUTBOX_LOOK)?;
            if queue.iter().any(|e| e.message_id == id) {
                "queued"
            } else if queue.len() >= OUTBOX_LOOK {
                "unknown"
            } else {
                "delivered"
            }
        };
        peers.push(json!({ "peer": peer.name, "state": state }));
    }
    Ok(json!({ "injected_here": injected_here, "peers": peers }))
}

/// Threads a page holds unless asked for fewer, and at most.
pub const THREADS_LIMIT: (usize, usize) = (50, 500);
/// Replies a page holds unless asked for fewer, and at most.
pub const POSTS_LIMIT: (usize, usize) = (100, 1000);

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PageQuery {
    before: Option<String>,
    after: Option<String>,
    limit: Option<String>,
}

fn page_number(value: Option<&str>, what: &str) -> Result<Option<u64>, super::ApiError> {
    value
        .map(|v| {
            v.trim().parse::<u64>().map_err(|_| {
                super::ApiError::bad(format!("{what} is a number from this API, not {v:?}"))
            })
        })
        .transpose()
}

fn page_limit(
    value: Option<&str>,
    (default, max): (usize, usize),
) -> Result<usize, super::ApiError> {
    Ok(page_number(value, "limit")?.map_or(default, |l| (l as usize).clamp(1, max)))
}

/// A Link header to the next page, when the page is full.
fn with_next(mut response: Response, next: Option<String>) -> Response {
    if let Some(link) =
        next.and_then(|n| axum::http::HeaderValue::from_str(&format!("<{n}>; rel=\"next\"")).ok())
    {
        response
            .headers_mut()
            .insert(axum::http::header::LINK, link);
    }
    response
}

/// `GET /api/v1/boards/{board}/threads?before=B&limit=L`: the board's
/// threads bumped below B (from the latest without it), most recently
/// bumped first; `next` is the cursor for the page after (http.md §4.3).
pub async fn board_threads(
    State(node): State<Arc<Node>>,
    Path(board): Path<String>,
    query: Result<axum::extract::Query<PageQuery>, axum::extract::rejection::QueryRejection>,
    request: HeaderMap,
) -> Response {
    let query = match super::query_of(query) {
        Ok(query) => query,
        Err(e) => return e.into_response(),
    };
    if let Some(missing) = super::chan::not_a_board(&node, &board) {
        return missing;
    }
    let (before, limit) = match (
        page_number(query.before.as_deref(), "before"),
        page_limit(query.limit.as_deref(), THREADS_LIMIT),
        query.after,
    ) {
        (_, _, Some(_)) => {
            return super::error(
                StatusCode::BAD_REQUEST,
                "threads page with before=, not after=",
            )
        }
        (Ok(before), Ok(limit), None) => (before, limit),
        (Err(e), _, _) | (_, Err(e), _) => return e.into_response(),
    };
    let path_board = board.clone();
    let page = super::blocking(move || {
        let threads = super::threads::page(&node.store, &board, before, limit)?;
        let mut out = Vec::with_capacity(threads.len());
        for thread in &threads {
            let mut entry = super::chan::catalog_entry(&node, &board, thread)?;
            entry["root"] = json!(String::from_utf8_lossy(&thread.root));
            entry["bump"] = json!(thread.bumped());
            out.push(entry);
        }
        let next = (threads.len() == limit)
            .then(|| threads.last().map(super::threads::Thread::bumped))
            .flatten();
        Ok((out, next))
    })
    .await;
    match page {
        Ok((threads, next)) => {
            let link = next
                .map(|n| format!("/api/v1/boards/{path_board}/threads?before={n}&limit={limit}"));
            with_next(
                super::json_tagged(&request, &json!({ "threads": threads, "next": next })),
                link,
            )
        }
        Err(failed) => failed,
    }
}

/// `GET /api/v1/boards/{board}/threads/{no}/posts?after=N&limit=L`: the
/// replies of the thread opened by post `no`, numbered after N, in order
/// (replies n..n+k; http.md §4.3).
pub async fn thread_posts(
    State(node): State<Arc<Node>>,
    Path((board, no)): Path<(String, String)>,
    query: Result<axum::extract::Query<PageQuery>, axum::extract::rejection::QueryRejection>,
    request: HeaderMap,
) -> Response {
    let query = match super::query_of(query) {
        Ok(query) => query,
        Err(e) => return e.into_response(),
    };
    if let Some(missing) = super::chan::not_a_board(&node, &board) {
        return missing;
    }
    let parsed = (|| {
        let no = page_number(Some(&no), "the thread")?.unwrap_or_default();
        if query.before.is_some() {
            return Err(super::ApiError::bad("posts page with after=, not before="));
        }
        let after = page_number(query.after.as_deref(), "after")?.unwrap_or(0);
        Ok((no, after, page_limit(query.limit.as_deref(), POSTS_LIMIT)?))
    })();
    let (no, after, limit) = match parsed {
        Ok(parsed) => parsed,
        Err(e) => return e.into_response(),
    };
    let path_board = board.clone();
    let page = super::blocking(move || {
        let Some(thread) = super::threads::find(&node.store, &board, no)? else {
            return Ok(None);
        };
        let replies = thread.replies(&node.store, &board, after, limit)?;
        let mut posts = Vec::with_capacity(replies.len());
        for reply in &replies {
            let mut post = super::chan::post_json(&node, reply, no)?;
            post["subject"] = json!(reply.subject);
            posts.push(post);
        }
        let next = (replies.len() == limit)
            .then(|| replies.last().map(|r| r.number))
            .flatten();
        Ok(Some((posts, next, thread.head.replies)))
    })
    .await;
    match page {
        Ok(Some((posts, next, replies))) => {
            let link = next.map(|n| {
                format!("/api/v1/boards/{path_board}/threads/{no}/posts?after={n}&limit={limit}")
            });
            with_next(
                super::json_tagged(
                    &request,
                    &json!({ "posts": posts, "next": next, "replies": replies }),
                ),
                link,
            )
        }
        Ok(None) => super::error(
            StatusCode::NOT_FOUND,
            "no thread opens with that number on this board",
        ),
        Err(failed) => failed,
    }
}

/// Posts an author page holds unless asked for fewer, and at most.
pub const AUTHOR_LIMIT: (usize, usize) = (50, 500);

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthorQuery {
    since: Option<String>,
    until: Option<String>,
    after: Option<String>,
    limit: Option<String>,
}

/// A time bound: seconds since the epoch, or an RFC 3339 date.
fn time_bound(value: Option<&str>, what: &str) -> Result<Option<u64>, super::ApiError> {
    let Some(value) = value else { return Ok(None) };
    if let Ok(seconds) = value.trim().parse::<u64>() {
        return Ok(Some(seconds));
    }
    chrono::DateTime::parse_from_rfc3339(value.trim())
        .map(|d| Some(d.timestamp().max(0) as u64))
        .map_err(|_| {
            super::ApiError::bad(format!(
                "{what} is seconds since the epoch or an RFC 3339 date, not {value:?}"
            ))
        })
}

/// `GET /api/v1/authors/{key}/posts?since=S&until=U&after=C&limit=L`:
/// the filed posts signed by `key` (64 hex digits) with a Date from S up
/// to U, oldest first, a page at a time behind an opaque cursor
/// (http.md §4.6).
pub async fn author_posts(
    State(node): State<Arc<Node>>,
    Extension(who): Extension<Identity>,
    Path(key): Path<String>,
    query: Result<axum::extract::Query<AuthorQuery>, axum::extract::rejection::QueryRejection>,
    request: HeaderMap,
) -> Response {
    let query = match super::query_of(query) {
        Ok(query) => query,
        Err(e) => return e.into_response(),
    };
    let parsed = (|| {
        let signer: [u8; 32] = hex::decode(&key)
            .ok()
            .and_then(|k| k.try_into().ok())
            .ok_or_else(|| super::ApiError::bad("the author is a public key, 64 hex digits"))?;
        let since = time_bound(query.since.as_deref(), "since")?.unwrap_or(0);
        let until = time_bound(query.until.as_deref(), "until")?.unwrap_or(u64::MAX);
        let after = match query.after.as_deref() {
            None => None,
            Some(cursor) => Some(
                hex::decode(cursor)
                    .ok()
                    .filter(|c| c.len() > 8)
                    .ok_or_else(|| super::ApiError::bad("after is a cursor this API gave out"))?,
            ),
        };
        let limit = page_limit(query.limit.as_deref(), AUTHOR_LIMIT)?;
        Ok::<_, super::ApiError>((signer, since, until, after, limit))
    })();
    let (signer, since, until, after, limit) = match parsed {
        Ok(parsed) => parsed,
        Err(e) => return e.into_response(),
    };
    let page = super::blocking(move || {
        let found = node
            .store
            .authored(&signer, since, until, after.as_deref(), limit)?;
        let mut posts = Vec::with_capacity(found.len());
        for (date, id) in &found {
            let Some(HistoryEntry::Accepted { xref, .. }) = node.store.history(id)? else {
                continue;
            };
            // Filed only where the requester may not read: left out.
            let boards: Vec<serde_json::Value> = xref_boards(&xref)
                .into_iter()
                .filter(|b| {
                    b["board"]
                        .as_str()
                        .is_some_and(|board| node.access().may_read(&who, board))
                })
                .collect();
            if boards.is_empty() && !node.access().all_open() {
                continue;
            }
            let subject = match boards.first() {
                Some(first) => {
                    let board = first["board"].as_str().unwrap_or_default();
                    let number = first["number"].as_u64().unwrap_or_default();
                    super::threads::Post::read(&node.store, board, number)?.map(|p| p.subject)
                }
                None => None,
            };
            posts.push(json!({
                "message_id": String::from_utf8_lossy(id),
                "time": date,
                "boards": boards,
                "subject": subject,
            }));
        }
        let next = (found.len() == limit)
            .then(|| {
                found
                    .last()
                    .map(|(date, id)| hex::encode([&date.to_be_bytes()[..], id].concat()))
            })
            .flatten();
        Ok((posts, next))
    })
    .await;
    match page {
        Ok((posts, next)) => {
            let mut link = format!("/api/v1/authors/{key}/posts?");
            if since > 0 {
                link.push_str(&format!("since={since}&"));
            }
            if until < u64::MAX {
                link.push_str(&format!("until={until}&"));
            }
            let link = next
                .as_ref()
                .map(|n| format!("{link}after={n}&limit={limit}"));
            with_next(
                super::json_tagged(&request, &json!({ "posts": posts, "next": next })),
                link,
            )
        }
        Err(failed) => failed,
    }
}

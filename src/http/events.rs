//! The change log over HTTP (protocol-spec/http.md §4.5): pages of it
//! behind a keyset cursor (`/api/v1/changes`) and a Server-Sent Events
//! stream (`/api/v1/events`) resumable with Last-Event-ID. Sequence
//! numbers are this node's own order of changes, never wall-clock Dates
//! from many nodes, so a consumer that resumes misses nothing still kept.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use futures::stream::{self, Stream};
use serde_json::json;
use tokio_util::sync::CancellationToken;

use super::ApiError;
use crate::access::Identity;
use crate::node::Node;
use crate::store::schema::{Change, ChangeKind};

/// Changes a page holds unless the request asks for fewer.
pub const DEFAULT_LIMIT: usize = 100;
/// Most changes a page holds whatever the request asks.
pub const MAX_LIMIT: usize = 1000;
/// Changes the event stream reads from the store at a time.
const STREAM_PAGE: usize = 256;

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChangesQuery {
    after: Option<String>,
    limit: Option<String>,
}

/// Whether `who` may see `change` (protocol-spec/access.md §4): a post's
/// when it may read one of its boards, a board's when it may read the
/// board; keys and file controls name no board.
fn visible(node: &Node, who: &Identity, change: &Change) -> Result<bool, crate::store::StoreError> {
    if node.access().all_open() {
        return Ok(true);
    }
    let readable = |board: &str| node.access().may_read(who, board);
    Ok(match change.kind {
        ChangeKind::Created
        | ChangeKind::Released
        | ChangeKind::Approved
        | ChangeKind::Moved
        | ChangeKind::Restored => change
            .detail
            .split_whitespace()
            .filter_map(|pair| pair.rsplit_once(':'))
            .any(|(board, _)| readable(board)),
        ChangeKind::Edited | ChangeKind::Removed | ChangeKind::Pending | ChangeKind::Held => node
            .store
            .any_article(change.subject.as_bytes())?
            .and_then(|bytes| crate::proto::article::Article::parse(bytes.into()).ok())
            .is_some_and(|article| {
                article
                    .newsgroups()
                    .iter()
                    .any(|b| readable(&String::from_utf8_lossy(b)))
            }),
        ChangeKind::BoardCreated | ChangeKind::BoardChanged | ChangeKind::BoardRemoved => {
            readable(&change.subject)
        }
        ChangeKind::Key | ChangeKind::File => true,
    })
}

/// The changes of `page` that `who` may see.
fn visible_only(
    node: &Node,
    who: &Identity,
    page: Vec<(u64, Change)>,
) -> Result<Vec<(u64, Change)>, crate::store::StoreError> {
    let mut shown = Vec::with_capacity(page.len());
    for (seq, change) in page {
        if visible(node, who, &change)? {
            shown.push((seq, change));
        }
    }
    Ok(shown)
}

/// One change as the API shows it.
pub fn change_json(seq: u64, change: &Change) -> serde_json::Value {
    let mut value = json!({ "seq": seq, "type": change.kind.name() });
    let detail = &change.detail;
    match change.kind {
        ChangeKind::Created
        | ChangeKind::Released
        | ChangeKind::Approved
        | ChangeKind::Moved
        | ChangeKind::Restored => {
            value["message_id"] = json!(change.subject);
            value["boards"] = json!(super::native::xref_boards(detail));
        }
        ChangeKind::Edited => {
            value["message_id"] = json!(change.subject);
            value["current"] = json!(detail);
        }
        ChangeKind::Removed => {
            value["message_id"] = json!(change.subject);
            value["reason"] = json!(detail);
        }
        ChangeKind::Pending => {
            value["message_id"] = json!(change.subject);
            value["waits_for_passport_of"] = json!(detail);
        }
        ChangeKind::Held => value["message_id"] = json!(change.subject),
        ChangeKind::BoardCreated | ChangeKind::BoardChanged | ChangeKind::BoardRemoved => {
            value["board"] = json!(change.subject)
        }
        ChangeKind::Key => {
            value["key"] = json!(change.subject);
            value["record"] = json!(detail);
        }
        ChangeKind::File => {
            value["sha256"] = json!(change.subject);
            value["control"] = json!(detail);
        }
    }
    value
}

/// Why a consumer cannot resume after its cursor.
enum Unplaced {
    /// Changes after the cursor are gone: resync from the API's state.
    Gone { oldest: u64 },
    /// A cursor this node never gave out.
    Ahead { latest: u64 },
}

/// Checks `after` against the log's bounds: Ok when a consumer can
/// resume after it. An empty log (never written, or a new store) takes
/// cursor 0 only.
fn place(node: &Node, after: u64) -> Result<Result<u64, Unplaced>, crate::store::StoreError> {
    let latest = *node.changes.borrow();
    if after > latest {
        return Ok(Err(Unplaced::Ahead { latest }));
    }
    match node.store.change_bounds()? {
        Some((oldest, _)) if after + 1 < oldest => Ok(Err(Unplaced::Gone { oldest })),
        _ => Ok(Ok(after)),
    }
}

fn refused(unplaced: Unplaced) -> Response {
    match unplaced {
        Unplaced::Gone { oldest } => {
            let body = json!({
                "error": "Gone",
                "reason": format!("changes after this cursor are no longer kept (the oldest kept is {oldest}): resync from the boards and threads, then follow the stream from /api/v1/changes/latest"),
                "oldest": oldest,
                "resync": true,
            });
            (StatusCode::GONE, axum::Json(body)).into_response()
        }
        Unplaced::Ahead { latest } => super::error(
            StatusCode::BAD_REQUEST,
            &format!("cursor is past this node's latest change, {latest}: cursors are this node's own sequence numbers"),
        ),
    }
}

fn number(text: &str, what: &str) -> Result<u64, ApiError> {
    text.trim()
        .parse::<u64>()
        .map_err(|_| ApiError::bad(format!("{what} is a change sequence number, not {text:?}")))
}

/// `GET /api/v1/changes?after=N&limit=L`: changes after cursor N
/// (without one, from the oldest kept), oldest first, with a Link to the
/// next page.
pub async fn changes(
    State(node): State<Arc<Node>>,
    Extension(who): Extension<Identity>,
    query: Result<Query<ChangesQuery>, axum::extract::rejection::QueryRejection>,
    request: HeaderMap,
) -> Response {
    let query = match super::query_of(query) {
        Ok(query) => query,
        Err(e) => return e.into_response(),
    };
    let after = match query
        .after
        .as_deref()
        .map(|a| number(a, "after"))
        .transpose()
    {
        Ok(after) => after,
        Err(bad) => return bad.into_response(),
    };
    let limit = match query
        .limit
        .as_deref()
        .map(|l| number(l, "limit"))
        .transpose()
    {
        Ok(limit) => limit.map_or(DEFAULT_LIMIT, |l| (l as usize).clamp(1, MAX_LIMIT)),
        Err(bad) => return bad.into_response(),
    };
    let page = super::blocking(move || {
        // No cursor: from the oldest change kept.
        let after = match after {
            Some(after) => after,
            None => node
                .store
                .change_bounds()?
                .map_or(0, |(oldest, _)| oldest - 1),
        };
        let after = match place(&node, after)? {
            Ok(after) => after,
            Err(unplaced) => return Ok(Err(unplaced)),
        };
        let latest = *node.changes.borrow();
        let page = node.store.changes_after(after, limit)?;
        // The cursor moves past what is not shown too.
        let last = page.last().map(|(seq, _)| *seq);
        let page = visible_only(&node, &who, page)?;
        Ok(Ok((after, page, latest, last)))
    })
    .await;
    let (after, page, latest, last) = match page {
        Ok(Ok(page)) => page,
        Ok(Err(unplaced)) => return refused(unplaced),
        Err(failed) => return failed,
    };
    let next = last.unwrap_or(after);
    let changes: Vec<serde_json::Value> =
        page.iter().map(|(seq, c)| change_json(*seq, c)).collect();
    let mut response = super::json_tagged(
        &request,
        &json!({ "changes": changes, "next": next, "latest": latest }),
    );
    if next < latest {
        let link = format!("</api/v1/changes?after={next}&limit={limit}>; rel=\"next\"");
        if let Ok(link) = HeaderValue::from_str(&link) {
            response.headers_mut().insert(header::LINK, link);
        }
    }
    response
}

/// `GET /api/v1/changes/latest`: the latest sequence number, where a
/// consumer that has just read the state starts following.
pub async fn latest(State(node): State<Arc<Node>>) -> Response {
    let latest = *node.changes.borrow();
    let mut response = axum::Json(json!({ "latest": latest })).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventsQuery {
    after: Option<String>,
}

/// `GET /api/v1/events`: Server-Sent Events, one per change, with the
/// sequence number as its id and the change type as its event name. It
/// starts after Last-Event-ID (what a browser's EventSource sends when it
/// reconnects), else after `?after=`, else at the latest change.
pub async fn events(
    State(node): State<Arc<Node>>,
    Extension(who): Extension<Identity>,
    Extension(shutdown): Extension<CancellationToken>,
    query: Result<Query<EventsQuery>, axum::extract::rejection::QueryRejection>,
    request: HeaderMap,
) -> Response {
    let query = match super::query_of(query) {
        Ok(query) => query,
        Err(e) => return e.into_response(),
    };
    let resume = request
        .get("last-event-id")
        .map(|v| v.to_str().unwrap_or("?").to_string())
        .or(query.after);
    let after = match resume
        .as_deref()
        .map(|a| number(a, "Last-Event-ID"))
        .transpose()
    {
        Ok(Some(after)) => after,
        Ok(None) => *node.changes.borrow(),
        Err(bad) => return bad.into_response(),
    };
    let placed = {
        let node = node.clone();
        super::blocking(move || place(&node, after)).await
    };
    match placed {
        Ok(Ok(after)) => Sse::new(follow(node, who, after, shutdown))
            .keep_alive(KeepAlive::default())
            .into_response(),
        Ok(Err(unplaced)) => refused(unplaced),
        Err(failed) => failed,
    }
}

struct Following {
    node: Arc<Node>,
    /// Who follows: only what it may see is sent.
    who: Identity,
    after: u64,
    waiting: VecDeque<(u64, Change)>,
    changed: tokio::sync::watch::Receiver<u64>,
    shutdown: CancellationToken,
    /// Set once the stream has said why it ends.
    done: bool,
}

/// The events after `after`, then each change as it becomes durable,
/// until the client goes, the node shuts down, or the consumer falls
/// behind what the log keeps (a last `resync` event says so).
fn follow(
    node: Arc<Node>,
    who: Identity,
    after: u64,
    shutdown: CancellationToken,
) -> impl Stream<Item = Result<Event, Infallible>> {
    let changed = node.changes.clone();
    let state = Following {
        node,
        who,
        after,
        waiting: VecDeque::new(),
        changed,
        shutdown,
        done: false,
    };
    stream::unfold(state, |mut st| async move {
        loop {
            if st.done {
                return None;
            }
            if let Some((seq, change)) = st.waiting.pop_front() {
                let event = Event::default()
                    .id(seq.to_string())
                    .event(change.kind.name())
                    .data(change_json(seq, &change).to_string());
                return Some((Ok(event), st));
            }
            let latest = *st.changed.borrow_and_update();
            if latest > st.after {
                let (node, who, after) = (st.node.clone(), st.who.clone(), st.after);
                let read = tokio::task::spawn_blocking(move || {
                    let page = node.store.changes_after(after, STREAM_PAGE)?;
                    let first = page.first().map(|(seq, _)| *seq);
                    let last = page.last().map(|(seq, _)| *seq);
                    Ok::<_, crate::store::StoreError>((
                        first,
                        last,
                        visible_only(&node, &who, page)?,
                    ))
                })
                .await;
                let (first, last, shown) = match read {
                    Ok(Ok(read)) => read,
                    _ => {
                        st.done = true;
                        let event = Event::default().event("error").data(
                            json!({ "reason": "the change log could not be read; reconnect" })
                                .to_string(),
                        );
                        return Some((Ok(event), st));
                    }
                };
                // Sequence numbers have no gaps but what trimming made.
                if first.is_none_or(|seq| seq != st.after + 1) {
                    st.done = true;
                    let event = Event::default().event("resync").data(
                        json!({ "reason": "this stream fell behind what the change log keeps: resync, then follow from /api/v1/changes/latest" })
                            .to_string(),
                    );
                    return Some((Ok(event), st));
                }
                if let Some(last) = last {
                    st.after = last;
                }
                // What the follower may not see is passed over, not sent.
                st.waiting.extend(shown);
                continue;
            }
            tokio::select! {
                changed = st.changed.changed() => {
                    if changed.is_err() {
                        return None;
                    }
                }
                () = st.shutdown.cancelled() => return None,
            }
        }
    })
}

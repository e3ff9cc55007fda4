//! The chan read API in the shape of the 4chan JSON API, so chan clients
//! and parsers that read it work unchanged; what each field holds here is
//! in protocol-spec/http.md §3.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::Extension;
use bytes::Bytes;
use serde_json::json;

use super::cache::Cache;
use super::ApiError;
use crate::access::Identity;
use crate::node::Node;
use crate::proto::article::Article;
use crate::store::StoreError;

/// Threads a catalog page holds (4chan's `per_page`).
pub const PER_PAGE: u64 = 15;

/// Pages threads.json and catalog.json hold at most: a board keeps its
/// threads until they are removed, so its oldest are read a page at a
/// time from the native API (http.md §4.3) rather than in one answer of
/// unbounded size.
pub const MAX_PAGES: u64 = 100;

/// `GET /boards.json`: the boards shown in LIST (hidden ones left out),
/// in name order.
pub async fn boards(
    State(node): State<Arc<Node>>,
    Extension(who): Extension<Identity>,
    request: HeaderMap,
) -> Response {
    let mut all = node.groups.all();
    all.retain(|(name, _)| node.access().may_read(&who, name));
    all.sort_by(|a, b| a.0.cmp(&b.0));
    let max = node.config().limits.max_article_bytes;
    let boards: Vec<serde_json::Value> = all
        .into_iter()
        .filter(|(name, record)| !record.hidden && name != crate::ingest::CONTROL_GROUP)
        .map(|(name, record)| {
            let title = if record.description.is_empty() {
                name.clone()
            } else {
                record.description.clone()
            };
            json!({
                "board": name,
                "title": title,
                "ws_board": 1,
                "per_page": PER_PAGE,
                "pages": record.count.div_ceil(PER_PAGE).max(1),
                "max_filesize": node.config().file_limits(&name).max_bytes,
                "max_comment_chars": max,
                "meta_description": record.description,
                "is_archived": 0,
            })
        })
        .collect();
    super::json_tagged(&request, &json!({ "boards": boards }))
}

/// `GET /{board}/threads.json`: the board's threads in bump order, in
/// pages of [`PER_PAGE`] (http.md §3.2).
pub async fn threads(
    State(node): State<Arc<Node>>,
    Extension(cache): Extension<Arc<Cache>>,
    Path(board): Path<String>,
    request: HeaderMap,
) -> Response {
    paged(
        node,
        cache,
        board,
        "threads.json",
        request,
        |node, board, t| {
            Ok(json!({
                "no": t.op.number,
                "last_modified": t.last_modified(&node.store, board)?,
                "replies": t.head.replies,
            }))
        },
    )
    .await
}

/// Replies a catalog entry shows (4chan's `last_replies`).
const LAST_REPLIES: usize = 5;

/// `GET /{board}/catalog.json`: every thread in bump order, pages of
/// [`PER_PAGE`], each with its opening post and its last replies
/// (http.md §3.4).
pub async fn catalog(
    State(node): State<Arc<Node>>,
    Extension(cache): Extension<Arc<Cache>>,
    Path(board): Path<String>,
    request: HeaderMap,
) -> Response {
    paged(node, cache, board, "catalog.json", request, catalog_entry).await
}

/// A board's listed threads in 4chan's pages (`[{"page", "threads"}]`,
/// [`PER_PAGE`] each, at most [`MAX_PAGES`]), each thread as `entry`
/// makes it, answered from the renderings cache.
async fn paged(
    node: Arc<Node>,
    cache: Arc<Cache>,
    board: String,
    file: &str,
    request: HeaderMap,
    entry: fn(&Node, &str, &super::threads::Thread) -> Result<serde_json::Value, StoreError>,
) -> Response {
    if let Some(missing) = not_a_board(&node, &board) {
        return missing;
    }
    let key = format!("/{board}/{file}");
    let reader = node.clone();
    super::cached(&node, &cache, key, &request, move || {
        let threads =
            super::threads::of_board(&reader.store, &board, (MAX_PAGES * PER_PAGE) as usize)?;
        let mut pages = Vec::new();
        for (i, page) in threads.chunks(PER_PAGE as usize).enumerate() {
            let entries = page
                .iter()
                .map(|thread| entry(&reader, &board, thread))
                .collect::<Result<Vec<_>, _>>()?;
            pages.push(json!({ "page": i + 1, "threads": entries }));
        }
        Ok(serde_json::Value::Array(pages))
    })
    .await
}

/// A thread as a catalog lists it: its opening post with `sub`,
/// `replies`, `last_modified` and `last_replies`.
pub(crate) fn catalog_entry(
    node: &Node,
    board: &str,
    thread: &super::threads::Thread,
) -> Result<serde_json::Value, StoreError> {
    let mut entry = post_json(node, &thread.op, 0)?;
    entry["sub"] = json!(thread.op.subject);
    entry["replies"] = json!(thread.head.replies);
    entry["last_modified"] = json!(thread.last_modified(&node.store, board)?);
    let mut replies = Vec::new();
    for reply in thread.last_replies(&node.store, board, LAST_REPLIES)? {
        replies.push(post_json(node, &reply, thread.op.number)?);
    }
    entry["last_replies"] = json!(replies);
    Ok(entry)
}

/// One post in the 4chan shape (http.md §3.3); `resto` 0 for an opening
/// post.
pub(crate) fn post_json(
    node: &Node,
    post: &super::threads::Post,
    resto: u64,
) -> Result<serde_json::Value, StoreError> {
    let article = node
        .store
        .article(post.message_id.as_bytes())?
        .and_then(|bytes| Article::parse(Bytes::from(bytes)).ok());
    let body = article
        .as_ref()
        .map(|a| String::from_utf8_lossy(&a.body()).into_owned())
        .unwrap_or_default();
    let mut value = json!({
        "no": post.number,
        "resto": resto,
        "time": post.time,
        "name": display_name(&post.from),
        "com": comment(&body),
        "message_id": post.message_id,
    });
    let files = article
        .as_ref()
        .map(|a| super::files::file_objects(node, a))
        .unwrap_or_default();
    // 4chan's fields for a post's file, from its first (http.md §3.3).
    if let Some(first) = files.first() {
        let name = first["name"].as_str().unwrap_or_default();
        let url = first["url"].as_str().unwrap_or_default();
        let ext = url.rfind('.').map_or("", |i| &url[i..]);
        let stem = name.rsplit_once('.').map_or(name, |(stem, _)| stem);
        value["filename"] = json!(stem);
        value["ext"] = json!(ext);
        value["fsize"] = first["size"].clone();
        if first["width"].is_u64() {
            value["w"] = first["width"].clone();
            value["h"] = first["height"].clone();
        }
        value["sha256"] = first["sha256"].clone();
        value["file_url"] = first["url"].clone();
        value["file_state"] = first["state"].clone();
        if first["state"] == "removed" {
            // 4chan's mark of a file deleted by its poster or a moderator.
            value["filedeleted"] = json!(1);
        }
    }
    if !files.is_empty() {
        value["files"] = json!(files);
    }
    Ok(value)
}

/// `GET /{board}/thread/{no}.json`: the thread whose opening post has
/// number `no` in the board, every post with its text (http.md §3.3).
pub async fn thread(
    State(node): State<Arc<Node>>,
    Extension(cache): Extension<Arc<Cache>>,
    Path((board, file)): Path<(String, String)>,
    request: HeaderMap,
) -> Response {
    let Some(no) = file
        .strip_suffix(".json")
        .and_then(|n| n.parse::<u64>().ok())
    else {
        return super::error(
            StatusCode::NOT_FOUND,
            "a thread is /{board}/thread/{number}.json",
        );
    };
    if let Some(missing) = not_a_board(&node, &board) {
        return missing;
    }
    let key = format!("/{board}/thread/{no}.json");
    let reader = node.clone();
    super::cached(&node, &cache, key, &request, move || {
        let node = reader;
        let Some(thread) = super::threads::find(&node.store, &board, no)? else {
            return Err(ApiError::new(
                StatusCode::NOT_FOUND,
                "no thread opens with that number on this board",
            ));
        };
        let replies = thread.replies(&node.store, &board, 0, usize::MAX)?;
        let mut posts = Vec::with_capacity(1 + replies.len());
        let mut op = post_json(&node, &thread.op, 0)?;
        op["sub"] = json!(thread.op.subject);
        op["replies"] = json!(thread.head.replies);
        posts.push(op);
        for reply in &replies {
            posts.push(post_json(&node, reply, no)?);
        }
        Ok(json!({ "posts": posts }))
    })
    .await
}

/// `GET /{board}/archive.json`: the numbers of the board's archived
/// threads. Threads are not archived here (they stay in threads.json
/// until removed), so the list is empty (http.md §3.5).
pub async fn archive(
    State(node): State<Arc<Node>>,
    Path(board): Path<String>,
    request: HeaderMap,
) -> Response {
    if let Some(missing) = not_a_board(&node, &board) {
        return missing;
    }
    super::json_tagged(&request, &json!([]))
}

/// A 404 unless `board` is a board this node carries (`control` is none).
pub(crate) fn not_a_board(node: &Node, board: &str) -> Option<Response> {
    (!node.groups.contains(board) || board == crate::ingest::CONTROL_GROUP)
        .then(|| super::error(StatusCode::NOT_FOUND, "no such board here"))
}

/// The name a chan shows for a From field: its display name, unquoted
/// (`"Jo" <a@b>`, `Jo <a@b>`), the comment of `a@b (Jo)`, else the
/// address's local part.
fn display_name(from: &str) -> String {
    let from = from.trim();
    if let Some(open) = from.rfind('<') {
        let name = from[..open].trim();
        if !name.is_empty() {
            let unquoted = name
                .strip_prefix('"')
                .and_then(|n| n.strip_suffix('"'))
                .map_or(name.to_string(), |n| {
                    n.replace("\\\"", "\"").replace("\\\\", "\\")
                });
            return unquoted;
        }
        let address = from[open + 1..].trim_end_matches('>');
        return address.split('@').next().unwrap_or(address).to_string();
    }
    if let (Some(open), Some(close)) = (from.find('('), from.rfind(')')) {
        if open < close {
            return from[open + 1..close].trim().to_string();
        }
    }
    from.split('@').next().unwrap_or(from).to_string()
}

/// A body as 4chan's `com`: HTML-escaped text, lines joined by `<br>`.
fn comment(body: &str) -> String {
    let mut out = String::with_capacity(body.len());
    for (i, line) in body.trim_end_matches(['\r', '\n']).lines().enumerate() {
        if i > 0 {
            out.push_str("<br>");
        }
        for c in line.trim_end_matches('\r').chars() {
            match c {
                '&' => out.push_str("&amp;"),
                '<' => out.push_str("&lt;"),
                '>' => out.push_str("&gt;"),
                '"' => out.push_str("&quot;"),
                '\'' => out.push_str("&#039;"),
                c => out.push(c),
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn comments_are_escaped_html_with_line_breaks() {
        assert_eq!(
            super::comment("a <b> & \"c\"\r\nsecond 'line'\r\n"),
            "a &lt;b&gt; &amp; &quot;c&quot;<br>second &#039;line&#039;"
        );
        assert_eq!(super::comment(""), "");
    }

    #[test]
    fn names_are_the_display_names_of_from() {
        for (from, name) in [
            ("\"Jo \\\"JJ\\\"\" <anonymous@poster.invalid>", "Jo \"JJ\""),
            ("Jo Bloggs <jo@example.org>", "Jo Bloggs"),
            ("<jo@example.org>", "jo"),
            ("jo@example.org (Jo)", "Jo"),
            ("jo@example.org", "jo"),
        ] {
            assert_eq!(super::display_name(from), name, "{from}");
        }
    }
}

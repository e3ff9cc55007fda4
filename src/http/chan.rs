//! The chan read API in the shape of the 4chan JSON API, so chan clients
//! and parsers that read it work unchanged; what each field holds here is
//! in protocol-spec/http.md §3.

use std::sync::Arc;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use serde_json::json;

use crate::node::Node;

/// Threads a catalog page holds (4chan's `per_page`).
pub const PER_PAGE: u64 = 15;

/// `GET /boards.json`: the boards shown in LIST (hidden ones left out),
/// in name order.
pub async fn boards(State(node): State<Arc<Node>>, request: HeaderMap) -> Response {
    let mut all = node.groups.all();
    all.sort_by(|a, b| a.0.cmp(&b.0));
    let max = node.config.limits.max_article_bytes;
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
                "max_filesize": max,
                "max_comment_chars": max,
                "meta_description": record.description,
                "is_archived": 0,
            })
        })
        .collect();
    super::json_tagged(&request, &json!({ "boards": boards }))
}

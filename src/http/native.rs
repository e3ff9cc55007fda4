//! The native API under `/api/v1`: what the 4chan shape cannot say
//! (protocol-spec/http.md §4).

use std::sync::Arc;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use serde_json::json;

use crate::node::Node;

/// `GET /api/v1/boards`: every board this node carries, hidden ones
/// included and marked, with its numbering as NNTP readers see it.
pub async fn boards(State(node): State<Arc<Node>>, request: HeaderMap) -> Response {
    let mut all = node.groups.all();
    all.sort_by(|a, b| a.0.cmp(&b.0));
    let boards: Vec<serde_json::Value> = all
        .into_iter()
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

//! The native API under `/api/v1`: what the 4chan shape cannot say
//! (protocol-spec/http.md §4).

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use bytes::Bytes;
use serde_json::json;

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
pub async fn boards(State(node): State<Arc<Node>>, request: HeaderMap) -> Response {
    let mut all = node.groups.all();
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
    match super::blocking(move || describe(&node, &id)).await {
        Ok(Found::Article(value)) => super::json_tagged(&request, &value),
        Ok(Found::Not(status, reason)) => super::error(status, &reason),
        Err(failed) => failed,
    }
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
}

fn describe(node: &Node, id: &str) -> Result<Found, StoreError> {
    let store = &node.store;
    let (status, boards, current) = match store.history(id.as_bytes())? {
        None => {
            return Ok(Found::Not(
                StatusCode::NOT_FOUND,
                "not here: it may not have reached this node yet".into(),
            ))
        }
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
    Ok(Found::Article(json!({
        "message_id": id,
        "status": status,
        "current": current,
        "boards": boards,
        "headers": headers,
        "body": String::from_utf8_lossy(&article.body()),
    })))
}

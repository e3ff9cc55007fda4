//! The reference web front end (protocol-spec/http.md §5): a static page
//! and its script, compiled into the binary so the node serves it on the
//! embedded defaults with nothing to install. It reads the chan API,
//! posts forms to `/{board}/post` and follows `/api/v1/events`.

use axum::extract::Path;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};

const INDEX: &str = include_str!("web/index.html");
const ASSETS: &[(&str, &str, &str)] = &[
    (
        "app.js",
        "text/javascript; charset=utf-8",
        include_str!("web/app.js"),
    ),
    (
        "style.css",
        "text/css; charset=utf-8",
        include_str!("web/style.css"),
    ),
];

/// `GET /`: the page.
pub async fn index() -> Response {
    ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], INDEX).into_response()
}

/// `GET /web/{file}`: its script and style sheet.
pub async fn asset(Path(file): Path<String>) -> Response {
    match ASSETS.iter().find(|(name, _, _)| *name == file) {
        Some((_, media, text)) => ([(header::CONTENT_TYPE, *media)], *text).into_response(),
        None => super::error(StatusCode::NOT_FOUND, "no such file"),
    }
}

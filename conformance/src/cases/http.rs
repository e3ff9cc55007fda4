//! The HTTP/JSON API (protocol-spec/http.md), for servers given with
//! `--http host:port`: the 4chan-shaped board list, ETags with
//! If-None-Match, and JSON errors. Every case skips without `--http`.

use std::io::{Read, Write};
use std::net::TcpStream;

use super::{fail, skip, Case, CaseError, CaseResult, Need, Side};
use crate::ctx::Ctx;

pub const CASES: &[Case] = &[
    Case {
        name: "boards-json-lists-boards-in-the-4chan-shape",
        side: Side::Transit,
        need: Need::Nothing,
        needs_group: false,
        rfc: "tidings http.md §3.1",
        run: boards_json,
    },
    Case {
        name: "a-get-with-its-etag-in-if-none-match-is-304",
        side: Side::Transit,
        need: Need::Nothing,
        needs_group: false,
        rfc: "tidings http.md §2, RFC 9110 §13.1.2",
        run: etag_304,
    },
    Case {
        name: "an-unknown-path-is-a-json-404-with-a-reason",
        side: Side::Transit,
        need: Need::Nothing,
        needs_group: false,
        rfc: "tidings http.md §2",
        run: json_404,
    },
];

/// A response: status, headers (names lower-cased), body.
struct Response {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Response {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    fn json(&self, what: &str) -> Result<serde_json::Value, CaseError> {
        if self.header("content-type") != Some("application/json") {
            return fail(format!(
                "{what}: Content-Type is {:?}, want application/json",
                self.header("content-type")
            ));
        }
        serde_json::from_slice(&self.body)
            .or_else(|e| fail(format!("{what}: the body is not JSON: {e}")))
    }
}

/// One HTTP/1.1 GET on a fresh connection, read to its close.
fn get(ctx: &Ctx, path: &str, extra: &str) -> Result<Response, CaseError> {
    let Some(addr) = ctx.http.as_deref() else {
        return skip("no --http given");
    };
    let what = format!("GET {path}");
    let io = |e: std::io::Error| CaseError::Fail(format!("{what}: {e}"));
    let mut stream = TcpStream::connect(addr).map_err(io)?;
    stream.set_read_timeout(Some(ctx.timeout)).map_err(io)?;
    stream.set_write_timeout(Some(ctx.timeout)).map_err(io)?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\n{extra}Connection: close\r\n\r\n"
    )
    .map_err(io)?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).map_err(io)?;
    let Some(split) = raw.windows(4).position(|w| w == b"\r\n\r\n") else {
        return fail(format!("{what}: no end of headers in {} bytes", raw.len()));
    };
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.split("\r\n");
    let Some(status) = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|c| c.parse().ok())
    else {
        return fail(format!("{what}: no status line"));
    };
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    Ok(Response {
        status,
        headers,
        body: raw[split + 4..].to_vec(),
    })
}

fn boards_json(ctx: &mut Ctx) -> CaseResult {
    let response = get(ctx, "/boards.json", "")?;
    if response.status != 200 {
        return fail(format!("GET /boards.json: {}, want 200", response.status));
    }
    let json = response.json("GET /boards.json")?;
    let Some(boards) = json["boards"].as_array() else {
        return fail(format!("GET /boards.json: no \"boards\" array in {json}"));
    };
    for board in boards {
        if !board["board"].is_string() || !board["title"].is_string() || !board["per_page"].is_u64()
        {
            return fail(format!(
                "GET /boards.json: a board without string board and title and a numeric per_page: {board}"
            ));
        }
        if board["board"] == "control" {
            return fail("GET /boards.json lists control, which is not a board");
        }
    }
    Ok(())
}

fn etag_304(ctx: &mut Ctx) -> CaseResult {
    let first = get(ctx, "/boards.json", "")?;
    let Some(tag) = first.header("etag").map(str::to_string) else {
        return fail("GET /boards.json: 200 without an ETag");
    };
    let again = get(ctx, "/boards.json", &format!("If-None-Match: {tag}\r\n"))?;
    if again.status != 304 || !again.body.is_empty() {
        return fail(format!(
            "GET /boards.json with If-None-Match: {tag}: {} and {} body bytes, want 304 and none",
            again.status,
            again.body.len()
        ));
    }
    Ok(())
}

fn json_404(ctx: &mut Ctx) -> CaseResult {
    let path = "/conformance/no/such/resource";
    let response = get(ctx, path, "")?;
    if response.status != 404 {
        return fail(format!("GET {path}: {}, want 404", response.status));
    }
    let json = response.json(&format!("GET {path}"))?;
    match json["reason"].as_str() {
        Some(reason) if !reason.is_empty() => Ok(()),
        _ => fail(format!("GET {path}: no \"reason\" in {json}")),
    }
}

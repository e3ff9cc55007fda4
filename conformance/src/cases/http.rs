//! The HTTP/JSON API (protocol-spec/http.md), for servers given with
//! `--http host:port`: the 4chan-shaped board list, ETags with
//! If-None-Match, gzip-coded pages, JSON errors, posts from fields,
//! refusals with reasons, and the change log as pages and as an event
//! stream. Every case skips without `--http`.

use std::io::{Read, Write};
use std::net::TcpStream;

use sha2::Digest;

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
    Case {
        name: "a-post-from-json-fields-is-filed-and-shown-in-its-thread",
        side: Side::Reader,
        need: Need::Nothing,
        needs_group: true,
        rfc: "tidings http.md §4.4, §3.3",
        run: post_from_fields,
    },
    Case {
        name: "a-long-page-goes-gzip-coded-to-a-client-that-accepts-it",
        side: Side::Reader,
        need: Need::Nothing,
        needs_group: true,
        rfc: "tidings http.md §2, RFC 9110 §8.4, §12.5.3",
        run: gzip_page,
    },
    Case {
        name: "an-unsigned-control-article-is-422-with-a-reason",
        side: Side::Reader,
        need: Need::Nothing,
        needs_group: true,
        rfc: "tidings http.md §4.4, signing.md",
        run: unsigned_control_refused,
    },
    Case {
        name: "the-event-stream-reports-a-post-after-its-cursor",
        side: Side::Reader,
        need: Need::Nothing,
        needs_group: true,
        rfc: "tidings http.md §4.5, WHATWG HTML §9.2 (Server-sent events)",
        run: event_stream,
    },
    Case {
        name: "replies-page-by-keyset-cursor-with-a-link",
        side: Side::Reader,
        need: Need::Nothing,
        needs_group: true,
        rfc: "tidings http.md §4.3, RFC 8288",
        run: replies_by_cursor,
    },
    Case {
        name: "archive-json-is-an-empty-list",
        side: Side::Reader,
        need: Need::Nothing,
        needs_group: true,
        rfc: "tidings http.md §3.5",
        run: archive_empty,
    },
    Case {
        name: "an-unknown-message-id-is-404-with-a-reason",
        side: Side::Reader,
        need: Need::Nothing,
        needs_group: false,
        rfc: "tidings http.md §4.2",
        run: unknown_article,
    },
    Case {
        name: "a-file-put-to-upload-is-served-by-its-hash-with-ranges",
        side: Side::Reader,
        need: Need::Nothing,
        needs_group: false,
        rfc: "tidings files.md §3, Blossom BUD-01/02, RFC 9110 §14",
        run: file_upload,
    },
    Case {
        name: "an-upload-whose-x-sha-256-differs-is-409",
        side: Side::Reader,
        need: Need::Nothing,
        needs_group: false,
        rfc: "tidings files.md §3, Blossom BUD-02",
        run: file_mismatch,
    },
    Case {
        name: "a-cursor-past-the-latest-change-is-400",
        side: Side::Reader,
        need: Need::Nothing,
        needs_group: false,
        rfc: "tidings http.md §4.5",
        run: forged_cursor,
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
    request(ctx, "GET", path, extra, b"")
}

/// A POST of a JSON body.
fn post_json(ctx: &Ctx, path: &str, body: &serde_json::Value) -> Result<Response, CaseError> {
    request(
        ctx,
        "POST",
        path,
        "Content-Type: application/json\r\n",
        body.to_string().as_bytes(),
    )
}

/// One HTTP/1.1 request on a fresh connection, read to its close.
fn request(
    ctx: &Ctx,
    method: &str,
    path: &str,
    extra: &str,
    body: &[u8],
) -> Result<Response, CaseError> {
    let Some(addr) = ctx.http.as_deref() else {
        return skip("no --http given");
    };
    let what = format!("{method} {path}");
    let io = |e: std::io::Error| CaseError::Fail(format!("{what}: {e}"));
    let mut stream = TcpStream::connect(addr).map_err(io)?;
    stream.set_read_timeout(Some(ctx.timeout)).map_err(io)?;
    stream.set_write_timeout(Some(ctx.timeout)).map_err(io)?;
    let length = if body.is_empty() && method == "GET" {
        String::new()
    } else {
        format!("Content-Length: {}\r\n", body.len())
    };
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\n{extra}{length}Connection: close\r\n\r\n"
    )
    .map_err(io)?;
    stream.write_all(body).map_err(io)?;
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
    revalidated(ctx, "/boards.json", "", &tag, "GET /boards.json")
}

/// A GET of `path` (with `extra` header lines) naming `tag` in
/// If-None-Match is 304 without a body.
fn revalidated(ctx: &Ctx, path: &str, extra: &str, tag: &str, what: &str) -> CaseResult {
    let again = get(ctx, path, &format!("{extra}If-None-Match: {tag}\r\n"))?;
    if again.status != 304 || !again.body.is_empty() {
        return fail(format!(
            "{what} with If-None-Match: {tag}: {} and {} body octets, want 304 and none",
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

fn group(ctx: &Ctx) -> Result<String, CaseError> {
    match &ctx.group {
        Ok(group) => Ok(group.clone()),
        Err(why) => skip(format!("no test group: {why}")),
    }
}

/// A Message-ID as a path segment.
fn id_path(id: &str) -> String {
    format!(
        "/api/v1/articles/{}",
        id.replace('%', "%25")
            .replace('<', "%3C")
            .replace('>', "%3E")
            .replace('/', "%2F")
    )
}

/// Posts `body` as a new thread on the test group from JSON fields; the
/// 201 answer's JSON.
fn post_thread(ctx: &Ctx, board: &str, body: &str) -> Result<serde_json::Value, CaseError> {
    let what = "POST /api/v1/posts";
    let response = post_json(
        ctx,
        "/api/v1/posts",
        &serde_json::json!({ "board": board, "subject": "conformance", "body": body }),
    )?;
    let json = response.json(what)?;
    if response.status != 201 {
        return fail(format!("{what}: {} {json}, want 201", response.status));
    }
    if !json["message_id"].is_string() || !json["no"].is_u64() || json["status"] != "filed" {
        return fail(format!(
            "{what}: 201 without message_id, no and status \"filed\": {json}"
        ));
    }
    if response.header("location") != json["message_id"].as_str().map(id_path).as_deref() {
        return fail(format!(
            "{what}: Location {:?} does not name the article {}",
            response.header("location"),
            json["message_id"]
        ));
    }
    Ok(json)
}

fn post_from_fields(ctx: &mut Ctx) -> CaseResult {
    let board = group(ctx)?;
    let text = format!(
        "conformance post {}",
        ctx.timeout.as_nanos() ^ std::process::id() as u128
    );
    let posted = post_thread(ctx, &board, &text)?;
    let id = posted["message_id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let no = posted["no"].as_u64().unwrap_or_default();
    let article = get(ctx, &id_path(&id), "")?;
    let json = article.json("GET the posted article")?;
    if article.status != 200 || json["status"] != "filed" {
        return fail(format!(
            "GET {}: {} {json}, want 200 filed",
            id_path(&id),
            article.status
        ));
    }
    let path = format!("/{board}/thread/{no}.json");
    let thread = get(ctx, &path, "")?;
    let json = thread.json(&format!("GET {path}"))?;
    if thread.status != 200 || json["posts"][0]["com"] != text.as_str() {
        return fail(format!(
            "GET {path}: {} {json}, want the post with com {text:?}",
            thread.status
        ));
    }
    Ok(())
}

/// A thread page of 1024 octets or more: gzip-coded when the request
/// accepts gzip, decoding to the JSON sent without the field, with
/// `Vary: accept-encoding` and a tag of its own that revalidates it.
fn gzip_page(ctx: &mut Ctx) -> CaseResult {
    let board = group(ctx)?;
    let text = "a line of an opening post long enough to be worth coding\n".repeat(40);
    let posted = post_thread(ctx, &board, &text)?;
    let path = format!("/{board}/thread/{}.json", posted["no"]);
    let plain = get(ctx, &path, "")?;
    plain.json(&format!("GET {path}"))?;
    if plain.status != 200 || plain.body.len() < 1024 {
        return fail(format!(
            "GET {path}: {} with {} octets, want 200 with at least 1024",
            plain.status,
            plain.body.len()
        ));
    }
    let accept = "Accept-Encoding: gzip, deflate, br\r\n";
    let what = format!("GET {path} with {}", accept.trim_end());
    let coded = get(ctx, &path, accept)?;
    if coded.status != 200 || coded.header("content-encoding") != Some("gzip") {
        return fail(format!(
            "{what}: {} with Content-Encoding {:?}, want 200 gzip",
            coded.status,
            coded.header("content-encoding")
        ));
    }
    for response in [&plain, &coded] {
        let vary = response.header("vary").unwrap_or_default();
        if !vary
            .split(',')
            .any(|v| v.trim().eq_ignore_ascii_case("accept-encoding"))
        {
            return fail(format!(
                "GET {path}: Vary {vary:?} does not name Accept-Encoding"
            ));
        }
    }
    let mut decoded = Vec::new();
    if let Err(e) = flate2::read::GzDecoder::new(&coded.body[..]).read_to_end(&mut decoded) {
        return fail(format!("{what}: the body is not gzip: {e}"));
    }
    if decoded != plain.body {
        return fail(format!(
            "{what}: the body decodes to {} octets that differ from the {} sent uncoded",
            decoded.len(),
            plain.body.len()
        ));
    }
    let (Some(plain_tag), Some(tag)) = (plain.header("etag"), coded.header("etag")) else {
        return fail(format!("GET {path}: a 200 without an ETag"));
    };
    if plain_tag == tag {
        return fail(format!(
            "{what}: ETag {tag}, the same as the uncoded JSON's (RFC 9110 §8.8.3)"
        ));
    }
    revalidated(ctx, &path, accept, tag, &what)
}

fn unsigned_control_refused(ctx: &mut Ctx) -> CaseResult {
    let board = group(ctx)?;
    let article = format!(
        "From: conformance@example.invalid\r\nNewsgroups: {board}\r\nSubject: cmsg cancel <nothing@example.invalid>\r\nControl: cancel <nothing@example.invalid>\r\n\r\ncancel\r\n"
    );
    let response = request(
        ctx,
        "POST",
        "/api/v1/articles",
        "Content-Type: message/rfc822\r\n",
        article.as_bytes(),
    )?;
    let json = response.json("POST /api/v1/articles")?;
    if response.status != 422 || json["reason"].as_str().is_none_or(str::is_empty) {
        return fail(format!(
            "POST /api/v1/articles with an unsigned cancel: {} {json}, want 422 with a reason",
            response.status
        ));
    }
    Ok(())
}

fn latest(ctx: &Ctx) -> Result<u64, CaseError> {
    let response = get(ctx, "/api/v1/changes/latest", "")?;
    let json = response.json("GET /api/v1/changes/latest")?;
    match json["latest"].as_u64() {
        Some(latest) if response.status == 200 => Ok(latest),
        _ => fail(format!(
            "GET /api/v1/changes/latest: {} {json}",
            response.status
        )),
    }
}

fn event_stream(ctx: &mut Ctx) -> CaseResult {
    let board = group(ctx)?;
    let start = latest(ctx)?;
    let posted = post_thread(ctx, &board, "conformance event")?;
    let id = posted["message_id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let Some(addr) = ctx.http.clone() else {
        return skip("no --http given");
    };
    let path = format!("/api/v1/events?after={start}");
    let io = |e: std::io::Error| CaseError::Fail(format!("GET {path}: {e}"));
    let mut stream = TcpStream::connect(&addr).map_err(io)?;
    stream.set_read_timeout(Some(ctx.timeout)).map_err(io)?;
    // HTTP/1.0: the stream is not chunked, so lines read as they are.
    write!(
        stream,
        "GET {path} HTTP/1.0\r\nHost: {addr}\r\nAccept: text/event-stream\r\n\r\n"
    )
    .map_err(io)?;
    let mut reader = std::io::BufReader::new(stream);
    let mut line = String::new();
    use std::io::BufRead;
    reader.read_line(&mut line).map_err(io)?;
    if line.split(' ').nth(1) != Some("200") {
        return fail(format!("GET {path}: {}", line.trim_end()));
    }
    let mut content_type = None;
    loop {
        line.clear();
        if reader.read_line(&mut line).map_err(io)? == 0 || line == "\r\n" {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            if name.eq_ignore_ascii_case("content-type") {
                content_type = Some(value.trim().to_string());
            }
        }
    }
    if content_type.as_deref() != Some("text/event-stream") {
        return fail(format!(
            "GET {path}: Content-Type {content_type:?}, want text/event-stream"
        ));
    }
    let (mut event_id, mut name) = (String::new(), String::new());
    loop {
        line.clear();
        if reader.read_line(&mut line).map_err(io)? == 0 {
            return fail(format!(
                "GET {path}: the stream ended before {id} was reported"
            ));
        }
        let text = line.trim_end();
        if let Some(v) = text.strip_prefix("id:") {
            event_id = v.trim().to_string();
        } else if let Some(v) = text.strip_prefix("event:") {
            name = v.trim().to_string();
        } else if let Some(v) = text.strip_prefix("data:") {
            let data: serde_json::Value = serde_json::from_str(v.trim())
                .or_else(|e| fail(format!("GET {path}: event data is not JSON ({e}): {v}")))?;
            if data["message_id"] == id.as_str() {
                let seq = event_id.parse::<u64>().ok();
                if name != "created"
                    || seq.is_none_or(|s| s <= start)
                    || data["seq"].as_u64() != seq
                {
                    return fail(format!(
                        "GET {path}: the post was reported as id {event_id:?}, event {name:?}, data {data}; want a created event numbered after {start}"
                    ));
                }
                return Ok(());
            }
        }
    }
}

fn forged_cursor(ctx: &mut Ctx) -> CaseResult {
    let past = latest(ctx)? + 1_000_000;
    for (path, extra) in [
        (format!("/api/v1/changes?after={past}"), String::new()),
        (
            "/api/v1/events".to_string(),
            format!("Last-Event-ID: {past}\r\n"),
        ),
    ] {
        let response = get(ctx, &path, &extra)?;
        let json = response.json(&format!("GET {path}"))?;
        if response.status != 400 {
            return fail(format!(
                "GET {path} {}: {} {json}, want 400",
                extra.trim(),
                response.status
            ));
        }
    }
    Ok(())
}

fn replies_by_cursor(ctx: &mut Ctx) -> CaseResult {
    let board = group(ctx)?;
    let thread = post_thread(ctx, &board, "conformance paging")?;
    let no = thread["no"].as_u64().unwrap_or_default();
    for i in 0..3 {
        let what = format!("reply {i}");
        let response = post_json(
            ctx,
            "/api/v1/posts",
            &serde_json::json!({ "board": board, "thread": no, "body": what }),
        )?;
        if response.status != 201 {
            return fail(format!("POST {what}: {}", response.status));
        }
    }
    let mut path = format!("/api/v1/boards/{board}/threads/{no}/posts?limit=1");
    let mut seen = Vec::new();
    for _ in 0..4 {
        let response = get(ctx, &path, "")?;
        let json = response.json(&format!("GET {path}"))?;
        if response.status != 200 {
            return fail(format!("GET {path}: {} {json}", response.status));
        }
        for post in json["posts"].as_array().into_iter().flatten() {
            seen.push(post["com"].as_str().unwrap_or_default().to_string());
        }
        match response.header("link") {
            Some(link) => {
                let Some(next) = link.strip_prefix('<').and_then(|l| l.split('>').next()) else {
                    return fail(format!("GET {path}: Link {link:?} names no target"));
                };
                path = next.to_string();
            }
            None => break,
        }
    }
    if seen != ["reply 0", "reply 1", "reply 2"] {
        return fail(format!(
            "replies one a page following Link: {seen:?}, want reply 0, 1, 2"
        ));
    }
    Ok(())
}

fn archive_empty(ctx: &mut Ctx) -> CaseResult {
    let board = group(ctx)?;
    let path = format!("/{board}/archive.json");
    let response = get(ctx, &path, "")?;
    let json = response.json(&format!("GET {path}"))?;
    if response.status != 200 || json != serde_json::json!([]) {
        return fail(format!(
            "GET {path}: {} {json}, want 200 []",
            response.status
        ));
    }
    Ok(())
}

fn unknown_article(ctx: &mut Ctx) -> CaseResult {
    let path = id_path("<conformance.never.posted@example.invalid>");
    let response = get(ctx, &path, "")?;
    let json = response.json(&format!("GET {path}"))?;
    if response.status != 404 || json["reason"].as_str().is_none_or(str::is_empty) {
        return fail(format!(
            "GET {path}: {} {json}, want 404 with a reason",
            response.status
        ));
    }
    Ok(())
}

/// A small PNG-typed body unique to this run.
pub(super) fn file_body(ctx: &Ctx) -> Vec<u8> {
    let seed = format!(
        "conformance {} {}",
        std::process::id(),
        ctx.timeout.as_nanos()
    );
    let mut body = b"\x89PNG\r\n\x1a\n".to_vec();
    for i in 0..200u32 {
        body.extend_from_slice(format!("{seed} {i}\n").as_bytes());
    }
    body
}

/// Puts `body` as a PNG with its X-SHA-256 and checks the descriptor;
/// its hash.
pub(super) fn upload(ctx: &Ctx, body: &[u8]) -> Result<String, CaseError> {
    let hash = hex::encode(sha2::Sha256::digest(body));
    let put = request(
        ctx,
        "PUT",
        "/upload",
        &format!("Content-Type: image/png\r\nX-SHA-256: {hash}\r\n"),
        body,
    )?;
    let json = put.json("PUT /upload")?;
    if !matches!(put.status, 200 | 201)
        || json["sha256"] != hash.as_str()
        || json["size"] != body.len()
    {
        return fail(format!(
            "PUT /upload: {} {json}, want 201 (or 200) with sha256 {hash}",
            put.status
        ));
    }
    Ok(hash)
}

fn file_upload(ctx: &mut Ctx) -> CaseResult {
    let body = file_body(ctx);
    let hash = upload(ctx, &body)?;
    let whole = request(ctx, "GET", &format!("/{hash}.png"), "", b"")?;
    if whole.status != 200
        || whole.body != body
        || whole.header("x-content-type-options") != Some("nosniff")
    {
        return fail(format!(
            "GET /{hash}.png: {}, {} bytes, nosniff {:?}; want 200, the {} bytes put, nosniff",
            whole.status,
            whole.body.len(),
            whole.header("x-content-type-options"),
            body.len()
        ));
    }
    let part = request(
        ctx,
        "GET",
        &format!("/{hash}"),
        "Range: bytes=8-15\r\n",
        b"",
    )?;
    if part.status != 206 || part.body != body[8..16] {
        return fail(format!(
            "GET /{hash} with Range: bytes=8-15: {}, want 206 and those 8 bytes",
            part.status
        ));
    }
    Ok(())
}

fn file_mismatch(ctx: &mut Ctx) -> CaseResult {
    // Bytes no upload stores, so their hash must stay unknown.
    let mut body = file_body(ctx);
    body.extend_from_slice(b"refused: the announced hash is wrong\n");
    let wrong = hex::encode(sha2::Sha256::digest(b"not the body"));
    let put = request(
        ctx,
        "PUT",
        "/upload",
        &format!("Content-Type: image/png\r\nX-SHA-256: {wrong}\r\n"),
        &body,
    )?;
    if put.status != 409 {
        return fail(format!(
            "PUT /upload with a wrong X-SHA-256: {}, want 409",
            put.status
        ));
    }
    let hash = hex::encode(sha2::Sha256::digest(&body));
    let get = request(ctx, "GET", &format!("/{hash}"), "", b"")?;
    if get.status != 404 {
        return fail(format!(
            "GET /{hash} after a refused upload: {}, want 404",
            get.status
        ));
    }
    Ok(())
}

//! The HTTP/JSON API (protocol-spec/http.md) over real TCP on loopback:
//! the 4chan-shaped board list, the native one, ETags and JSON errors.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};

use common::*;

/// One HTTP/1.1 request on a fresh connection: status, headers (names in
/// lower case) and body.
fn get(addr: SocketAddr, path: &str, extra: &str) -> (u16, Vec<(String, String)>, Vec<u8>) {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream.set_read_timeout(Some(TIMEOUT)).expect("timeout");
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: tidings.test\r\n{extra}Connection: close\r\n\r\n"
    )
    .expect("request");
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).expect("response");
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("end of headers");
    let head = String::from_utf8(raw[..split].to_vec()).expect("ascii head");
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|c| c.parse().ok())
        .expect("status");
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    (status, headers, raw[split + 4..].to_vec())
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

#[test]
fn boards_json_lists_the_boards_in_the_4chan_shape_with_etags() {
    let dir = temp_dir();
    let node = TestNode::start(config(dir.path()));
    let http = node.http.expect("the default config serves HTTP");

    let (status, headers, body) = get(http, "/boards.json", "");
    assert_eq!(status, 200);
    assert_eq!(header(&headers, "content-type"), Some("application/json"));
    let json: serde_json::Value = serde_json::from_slice(&body).expect("json");
    let boards = json["boards"].as_array().expect("boards");
    let names: Vec<&str> = boards.iter().filter_map(|b| b["board"].as_str()).collect();
    assert!(
        names.contains(&"test.one") && names.contains(&"test.two"),
        "{json}"
    );
    assert!(
        !names.contains(&"control"),
        "control is not a board: {json}"
    );
    let one = boards
        .iter()
        .find(|b| b["board"] == "test.one")
        .expect("test.one");
    assert_eq!(one["title"], "first");
    assert_eq!(one["per_page"], 15);
    assert_eq!(one["max_comment_chars"], 64 * 1024);

    let tag = header(&headers, "etag").expect("an ETag").to_string();
    let (status, _, body) = get(http, "/boards.json", &format!("If-None-Match: {tag}\r\n"));
    assert_eq!((status, body.len()), (304, 0), "unchanged: not modified");

    // A post changes the native listing's count, and so its tag.
    let (_, headers, body) = get(http, "/api/v1/boards", "");
    let before: serde_json::Value = serde_json::from_slice(&body).expect("json");
    assert!(
        before["boards"]
            .as_array()
            .is_some_and(|b| b.iter().all(|b| b["name"] != "control")),
        "control is not a board: {before}"
    );
    let native_tag = header(&headers, "etag").expect("an ETag").to_string();
    let id = unique_id("http");
    Client::connect(node.addr).stream_accepted([(id.clone(), article(&id, "test.one", "hi\r\n"))]);
    let (status, headers, body) = get(
        http,
        "/api/v1/boards",
        &format!("If-None-Match: {native_tag}\r\n"),
    );
    assert_eq!(status, 200, "changed since the tag");
    assert_ne!(header(&headers, "etag"), Some(native_tag.as_str()));
    let after: serde_json::Value = serde_json::from_slice(&body).expect("json");
    let count = |v: &serde_json::Value| {
        v["boards"]
            .as_array()
            .and_then(|b| b.iter().find(|b| b["name"] == "test.one"))
            .and_then(|b| b["count"].as_u64())
            .expect("test.one count")
    };
    assert_eq!(count(&after), count(&before) + 1);
}

#[test]
fn an_unknown_path_is_a_json_404_with_a_reason() {
    let dir = temp_dir();
    let node = TestNode::start(config(dir.path()));
    let http = node.http.expect("HTTP");
    let (status, headers, body) = get(http, "/no/such/thing", "");
    assert_eq!(status, 404);
    assert_eq!(header(&headers, "content-type"), Some("application/json"));
    let json: serde_json::Value = serde_json::from_slice(&body).expect("json");
    assert_eq!(json["error"], "Not Found");
    assert!(
        json["reason"].as_str().is_some_and(|r| !r.is_empty()),
        "{json}"
    );
}

#[test]
fn an_article_by_message_id_with_its_status_and_versions() {
    let dir = temp_dir();
    let node = TestNode::start(config(dir.path()));
    let http = node.http.expect("HTTP");
    let first = unique_id("first");
    let edit = unique_id("edit");
    let edit_text = sign(
        &article_text(&edit, "test.one", "edited\r\n")
            .replacen("\r\n\r\n", &format!("\r\nSupersedes: {first}\r\n\r\n"), 1)
            .replace(ARTICLE_DATE, "Sun, 22 Nov 2026 05:00:00 +0000"),
    );
    Client::connect(node.addr).stream_accepted([
        (first.clone(), article(&first, "test.one", "first text\r\n")),
        (edit.clone(), edit_text),
    ]);
    let path = |id: &str| {
        format!(
            "/api/v1/articles/{}",
            id.replace('<', "%3C").replace('>', "%3E")
        )
    };
    let json = |body: &[u8]| -> serde_json::Value { serde_json::from_slice(body).expect("json") };

    wait_until(TIMEOUT, "the edit settled", || {
        let (status, _, body) = get(http, &path(&first), "");
        status == 200 && json(&body)["status"] == "superseded"
    });
    let (_, _, body) = get(http, &path(&first), "");
    let old = json(&body);
    assert_eq!(old["current"], edit.as_str(), "{old}");
    assert_eq!(old["body"], "first text\r\n");

    // Without angle brackets too.
    let bare = edit.trim_start_matches('<').trim_end_matches('>');
    let (status, headers, body) = get(http, &format!("/api/v1/articles/{bare}"), "");
    assert_eq!(status, 200);
    let current = json(&body);
    assert_eq!(current["status"], "filed");
    assert_eq!(current["boards"][0]["board"], "test.one");
    assert!(
        current["boards"][0]["number"].as_u64().is_some(),
        "{current}"
    );
    let supersedes = current["headers"]
        .as_array()
        .and_then(|h| h.iter().find(|h| h[0] == "Supersedes"))
        .expect("the Supersedes header");
    assert_eq!(supersedes[1], first.as_str());
    let tag = header(&headers, "etag").expect("ETag").to_string();
    let (status, _, _) = get(
        http,
        &format!("/api/v1/articles/{bare}"),
        &format!("If-None-Match: {tag}\r\n"),
    );
    assert_eq!(status, 304);

    let (status, _, body) = get(http, &path(&unique_id("never")), "");
    assert_eq!(status, 404);
    assert!(json(&body)["reason"]
        .as_str()
        .is_some_and(|r| r.contains("not here")));
    let (status, _, _) = get(http, "/api/v1/articles/%3Cno%20good%3E", "");
    assert_eq!(status, 400);
}

#[test]
fn threads_and_a_thread_in_the_4chan_shape_in_bump_order() {
    let dir = temp_dir();
    let node = TestNode::start(config(dir.path()));
    let http = node.http.expect("HTTP");
    let json = |body: &[u8]| -> serde_json::Value { serde_json::from_slice(body).expect("json") };
    let older = unique_id("older");
    let newer = unique_id("newer");
    let reply = unique_id("reply");
    let reply_text = sign(
        &article_text(&reply, "test.one", "a <reply>\r\nline two\r\n").replacen(
            "\r\n\r\n",
            &format!("\r\nReferences: {older}\r\n\r\n"),
            1,
        ),
    );
    Client::connect(node.addr).stream_accepted([
        (
            older.clone(),
            article(&older, "test.one", "older thread\r\n"),
        ),
        (
            newer.clone(),
            article(&newer, "test.one", "newer thread\r\n"),
        ),
        (reply.clone(), reply_text),
    ]);

    let (status, _, body) = get(http, "/test.one/threads.json", "");
    assert_eq!(status, 200);
    let pages = json(&body);
    let threads = pages[0]["threads"].as_array().expect("threads");
    assert_eq!(pages[0]["page"], 1);
    assert_eq!(threads.len(), 2, "{pages}");
    // The reply bumped the older thread above the newer one.
    assert_eq!(threads[0]["replies"], 1, "{pages}");
    assert_eq!(threads[1]["replies"], 0, "{pages}");
    let no = threads[0]["no"].as_u64().expect("no");

    let (status, _, body) = get(http, &format!("/test.one/thread/{no}.json"), "");
    assert_eq!(status, 200);
    let thread = json(&body);
    let posts = thread["posts"].as_array().expect("posts");
    assert_eq!(posts.len(), 2, "{thread}");
    assert_eq!(posts[0]["resto"], 0);
    assert_eq!(posts[0]["message_id"], older.as_str());
    assert_eq!(posts[1]["resto"], no);
    assert_eq!(posts[1]["com"], "a &lt;reply&gt;<br>line two");

    let (status, _, body) = get(http, "/test.one/catalog.json", "");
    assert_eq!(status, 200);
    let catalog = json(&body);
    let first = &catalog[0]["threads"][0];
    assert_eq!(first["no"], no, "{catalog}");
    assert_eq!(
        first["sub"].as_str().map(str::is_empty),
        Some(false),
        "{catalog}"
    );
    assert_eq!(first["com"], "older thread");
    assert_eq!(first["last_replies"][0]["message_id"], reply.as_str());
    assert_eq!(first["last_replies"][0]["resto"], no);
    assert_eq!(
        catalog[0]["threads"][1]["last_replies"],
        serde_json::json!([])
    );

    for missing in [
        "/test.one/thread/999999.json",
        "/test.one/thread/x.json",
        "/no.such.board/threads.json",
        "/no.such.board/catalog.json",
    ] {
        let (status, _, _) = get(http, missing, "");
        assert_eq!(status, 404, "{missing}");
    }
}

//! The HTTP/JSON API (protocol-spec/http.md) over real TCP on loopback:
//! the 4chan-shaped board list, the native one, ETags and JSON errors.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};

use common::*;

/// One HTTP/1.1 request on a fresh connection: status, headers (names in
/// lower case) and body; a body is sent with its Content-Length.
fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    extra: &str,
    body: &[u8],
) -> (u16, Vec<(String, String)>, Vec<u8>) {
    let length = if method == "GET" {
        String::new()
    } else {
        format!("Content-Length: {}\r\n", body.len())
    };
    let head = format!("{method} {path} HTTP/1.1\r\nHost: tidings.test\r\n{extra}{length}");
    http_exchange(addr, &head, body)
}

fn get(addr: SocketAddr, path: &str, extra: &str) -> (u16, Vec<(String, String)>, Vec<u8>) {
    request(addr, "GET", path, extra, b"")
}

/// A POST with a JSON body: status, headers and the JSON answer.
fn post_json(
    addr: SocketAddr,
    path: &str,
    body: &serde_json::Value,
) -> (u16, Vec<(String, String)>, serde_json::Value) {
    let (status, headers, body) = request(
        addr,
        "POST",
        path,
        "Content-Type: application/json\r\n",
        body.to_string().as_bytes(),
    );
    (status, headers, json(&body))
}

fn json(body: &[u8]) -> serde_json::Value {
    serde_json::from_slice(body)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(body)))
}

/// A multipart/form-data body of text fields, and an empty file input as
/// browsers send one; returns the Content-Type header and the body.
fn multipart(fields: &[(&str, &str)]) -> (String, Vec<u8>) {
    let boundary = "----tidings-test-boundary";
    let mut body = String::new();
    for (name, value) in fields {
        body.push_str(&format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
        ));
    }
    body.push_str(&format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"upfile\"; filename=\"\"\r\nContent-Type: application/octet-stream\r\n\r\n\r\n--{boundary}--\r\n"
    ));
    (
        format!("Content-Type: multipart/form-data; boundary={boundary}\r\n"),
        body.into_bytes(),
    )
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    http_header(headers, name)
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

    wait_until(TIMEOUT, "the edit settled", || {
        let (status, _, body) = get(http, &path(&first), "");
        status == 200 && json(&body)["status"] == "superseded"
    });
    let (_, _, body) = get(http, &path(&first), "");
    let old = json(&body);
    assert_eq!(old["current"], edit.as_str(), "{old}");
    assert_eq!(old["edits"], serde_json::json!([edit.as_str()]), "{old}");
    assert_eq!(
        old["signer"],
        hex::encode(author().verifying_key().as_bytes()).as_str()
    );
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

#[test]
fn pages_go_gzip_coded_to_clients_that_accept_it() {
    let dir = temp_dir();
    let node = TestNode::start(config(dir.path()));
    let http = node.http.expect("HTTP");
    let long = unique_id("long");
    let short = unique_id("short");
    let text = "a line of an opening post long enough to be worth coding\r\n".repeat(40);
    Client::connect(node.addr).stream_accepted([
        (long.clone(), article(&long, "test.one", &text)),
        (short.clone(), article(&short, "test.one", "short\r\n")),
    ]);
    let gunzip = |body: &[u8]| {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(body)
            .read_to_end(&mut out)
            .expect("a gzip body");
        out
    };

    let catalog = "/test.one/catalog.json";
    let (status, headers, plain) = get(http, catalog, "");
    assert_eq!(status, 200);
    assert_eq!(header(&headers, "content-encoding"), None);
    assert_eq!(header(&headers, "vary"), Some("accept-encoding"));
    let plain_tag = header(&headers, "etag").expect("ETag").to_string();
    assert!(plain.len() >= 1024, "{} bytes", plain.len());

    let accept = "Accept-Encoding: gzip, deflate, br, zstd\r\n";
    let (status, headers, coded) = get(http, catalog, accept);
    assert_eq!(status, 200);
    assert_eq!(header(&headers, "content-encoding"), Some("gzip"));
    assert_eq!(header(&headers, "vary"), Some("accept-encoding"));
    assert_eq!(header(&headers, "content-type"), Some("application/json"));
    let coded_tag = header(&headers, "etag").expect("ETag").to_string();
    assert_ne!(coded_tag, plain_tag, "one tag for two representations");
    assert!(
        coded.len() * 3 < plain.len(),
        "{} of {}",
        coded.len(),
        plain.len()
    );
    assert_eq!(gunzip(&coded), plain);

    // Each representation is revalidated by its own tag.
    let (status, headers, body) = get(
        http,
        catalog,
        &format!("{accept}If-None-Match: {coded_tag}\r\n"),
    );
    assert_eq!((status, body.len()), (304, 0));
    assert_eq!(header(&headers, "etag"), Some(coded_tag.as_str()));
    assert_eq!(header(&headers, "vary"), Some("accept-encoding"));
    assert_eq!(header(&headers, "content-encoding"), None);
    let (status, _, body) = get(
        http,
        catalog,
        &format!("{accept}If-None-Match: {plain_tag}\r\n"),
    );
    assert_eq!(status, 200, "the JSON's tag revalidated the gzip coding");
    assert_eq!(gunzip(&body), plain);
    let (status, _, _) = get(http, catalog, &format!("If-None-Match: {plain_tag}\r\n"));
    assert_eq!(status, 304);

    // A zero weight refuses gzip.
    let (status, headers, body) = get(http, catalog, "Accept-Encoding: gzip;q=0, br\r\n");
    assert_eq!(status, 200);
    assert_eq!(header(&headers, "content-encoding"), None);
    assert_eq!(body, plain);

    // A short page is sent as it is, still varying with the field.
    let (_, headers, _) = get(http, "/test.one/threads.json", accept);
    assert_eq!(header(&headers, "content-encoding"), None);
    let no = |id: &str| {
        json(&plain)[0]["threads"]
            .as_array()
            .expect("threads")
            .iter()
            .find(|t| t["message_id"] == id)
            .and_then(|t| t["no"].as_u64())
            .expect("the thread")
    };
    assert_eq!(header(&headers, "vary"), Some("accept-encoding"));
    let (status, headers, page) = get(
        http,
        &format!("/test.one/thread/{}.json", no(&short)),
        accept,
    );
    assert_eq!(status, 200);
    assert!(page.len() < 1024, "{} bytes", page.len());
    assert_eq!(header(&headers, "content-encoding"), None);
    assert_eq!(header(&headers, "vary"), Some("accept-encoding"));
    json(&page);
    let (_, headers, page) = get(
        http,
        &format!("/test.one/thread/{}.json", no(&long)),
        accept,
    );
    assert_eq!(header(&headers, "content-encoding"), Some("gzip"));
    assert_eq!(
        json(&gunzip(&page))["posts"][0]["message_id"],
        long.as_str()
    );

    // Answers that are not kept renderings are never coded.
    let (status, headers, _) = get(http, "/boards.json", accept);
    assert_eq!(status, 200);
    assert_eq!(header(&headers, "content-encoding"), None);
    assert_eq!(header(&headers, "vary"), None);
}

/// Two nodes that feed each other, each trusting the other's node key.
fn peered_pair() -> (Vec<tempfile::TempDir>, TestNode, TestNode) {
    use tidings::config::PeerConfig;
    let dirs: Vec<_> = (0..2).map(|_| temp_dir()).collect();
    let keys: Vec<_> = dirs
        .iter()
        .map(|d| tidings::keys::write_new_secret_key(&d.path().join("node.key")).expect("key"))
        .collect();
    let listeners: Vec<_> = (0..2)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0").expect("bind"))
        .collect();
    let addrs: Vec<_> = listeners
        .iter()
        .map(|l| l.local_addr().expect("addr"))
        .collect();
    let mut nodes = Vec::new();
    for (i, listener) in listeners.into_iter().enumerate() {
        let other = 1 - i;
        let mut config = config(dirs[i].path());
        config.node.name = format!("n{i}.test");
        config.peers.push(PeerConfig {
            address: Some(addrs[other].to_string()),
            ..PeerConfig::new(
                format!("n{other}.test"),
                hex::encode(keys[other].verifying_key().as_bytes()),
            )
        });
        nodes.push(TestNode::start_on(config, listener));
    }
    let b = nodes.pop().expect("b");
    let a = nodes.pop().expect("a");
    (dirs, a, b)
}

#[test]
fn posts_made_through_the_api_are_nntp_articles_and_flood_to_a_peer() {
    let (_dirs, a, b) = peered_pair();
    let http = a.http.expect("HTTP");

    // A thread from a chan's multipart form, posted where 4chan's were.
    let (content_type, body) = multipart(&[
        ("name", "Jö"),
        ("sub", "Ünïcode thread"),
        ("com", "first line\r\n>quoted <b>\r\n"),
        ("mode", "regist"),
    ]);
    let (status, headers, body) = request(http, "POST", "/test.one/post", &content_type, &body);
    let thread = json(&body);
    assert_eq!(status, 201, "{thread}");
    assert_eq!(thread["status"], "filed");
    let op_id = thread["message_id"]
        .as_str()
        .expect("message_id")
        .to_string();
    let no = thread["no"].as_u64().expect("no");
    let location = header(&headers, "location").expect("Location").to_string();
    assert!(location.starts_with("/api/v1/articles/%3C"), "{location}");
    let (status, _, body) = get(http, &location, "");
    assert_eq!(status, 200, "the Location answers");
    assert_eq!(json(&body)["message_id"], op_id.as_str());

    // A reply as JSON by thread number, and one as a URL-encoded form.
    let (status, _, reply) = post_json(
        http,
        "/api/v1/posts",
        &serde_json::json!({ "board": "test.one", "thread": no, "body": "json reply" }),
    );
    assert_eq!(status, 201, "{reply}");
    let form = "com=form+reply%21&resto=".to_string() + &no.to_string();
    let (status, _, body) = request(
        http,
        "POST",
        "/test.one/post",
        "Content-Type: application/x-www-form-urlencoded\r\n",
        form.as_bytes(),
    );
    assert_eq!(status, 201, "{}", String::from_utf8_lossy(&body));

    // Both APIs show the thread.
    let (_, _, body) = get(http, &format!("/test.one/thread/{no}.json"), "");
    let posts = json(&body)["posts"].as_array().expect("posts").clone();
    let coms: Vec<&str> = posts.iter().filter_map(|p| p["com"].as_str()).collect();
    assert_eq!(
        coms,
        [
            "first line<br>&gt;quoted &lt;b&gt;",
            "json reply",
            "form reply!"
        ]
    );
    assert_eq!(posts[0]["sub"], "Ünïcode thread");
    assert_eq!(posts[0]["name"], "Jö");
    assert_eq!(posts[1]["resto"], no);

    // nntplib reads the API's post as any article.
    if python_has_nntplib() {
        let out = nntplib(a.addr, &["read", "test.one", &op_id]);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines[0], no.to_string(), "{out}");
        assert_eq!(lines[1], "Ünïcode thread", "{out}");
        assert_eq!(&lines[2..], ["first line", ">quoted <b>"], "{out}");
    } else {
        eprintln!("SKIPPED nntplib part: python3 with nntplib (Python <= 3.12) is not installed");
    }

    // And it floods: the peer serves the thread over its own HTTP API.
    let peer_http = b.http.expect("peer HTTP");
    let path = format!(
        "/api/v1/articles/{}",
        op_id.replace('<', "%3C").replace('>', "%3E")
    );
    wait_until(TIMEOUT, "the thread reached the peer", || {
        get(peer_http, &path, "").0 == 200
    });
    // Each node says where the post stands with its peers.
    let delivery = |http, path: &str| json(&get(http, path, "").2)["delivery"].clone();
    wait_until(TIMEOUT, "a's outbox to b emptied", || {
        delivery(http, &path)["peers"]
            == serde_json::json!([{ "peer": "n1.test", "state": "delivered" }])
    });
    assert_eq!(delivery(http, &path)["injected_here"], true);
    let there = delivery(peer_http, &path);
    assert_eq!(there["injected_here"], false, "{there}");
    assert_eq!(
        there["peers"],
        serde_json::json!([{ "peer": "n0.test", "state": "source" }])
    );
}

#[test]
fn refusals_are_http_statuses_with_the_reason_nntp_would_give() {
    let dir = temp_dir();
    let node = TestNode::start(config(dir.path()));
    let http = node.http.expect("HTTP");
    let reason = |v: &serde_json::Value| v["reason"].as_str().unwrap_or_default().to_string();

    // What NNTP POST refuses with 441, with the same text.
    let control = "From: x@example.org\r\nNewsgroups: test.one\r\nSubject: cmsg cancel <a@b>\r\nControl: cancel <a@b>\r\n\r\ncancel\r\n";
    let (status, _, body) = request(
        http,
        "POST",
        "/api/v1/articles",
        "Content-Type: message/rfc822\r\n",
        control.as_bytes(),
    );
    let refused = json(&body);
    assert_eq!(status, 422, "{refused}");
    let mut nntp = Client::connect(node.addr);
    assert_eq!(nntp.cmd("POST").0, 340);
    nntp.send_article(control);
    let (code, text) = nntp.status();
    assert_eq!(code, 441);
    assert_eq!(reason(&refused), text, "the same reason as NNTP's 441");

    // A signed article posted whole is taken as signed; again is 409.
    let id = unique_id("whole");
    let text = sign(
        &article_text(&id, "test.one", "whole article\r\n")
            .replace(ARTICLE_DATE, &chrono::Utc::now().to_rfc2822()),
    );
    let (status, _, body) = post_json(
        http,
        "/api/v1/articles",
        &serde_json::json!({ "article": text }),
    );
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["message_id"], id.as_str());
    let (status, _, body) = post_json(
        http,
        "/api/v1/articles",
        &serde_json::json!({ "article": text }),
    );
    assert_eq!(status, 409, "{body}");
    assert!(reason(&body).contains("duplicate"), "{body}");

    let cases: Vec<(u16, &str, &str, Vec<u8>, &str)> = vec![
        (
            404,
            "/api/v1/posts",
            "Content-Type: application/json\r\n",
            br#"{"board":"no.such","body":"x"}"#.to_vec(),
            "no such board",
        ),
        (
            400,
            "/api/v1/posts",
            "Content-Type: application/json\r\n",
            br#"{"board":"test.one","body":"x""#.to_vec(),
            "bad JSON",
        ),
        (
            400,
            "/api/v1/posts",
            "Content-Type: application/json\r\n",
            br#"{"board":"test.one","body":"x","colour":"red"}"#.to_vec(),
            "unknown field",
        ),
        (
            400,
            "/api/v1/posts",
            "Content-Type: application/json\r\n",
            br#"{"board":"test.one","body":{"nested":1}}"#.to_vec(),
            "string or a number",
        ),
        (
            400,
            "/api/v1/posts",
            "Content-Type: application/json\r\n",
            br#"{"board":"test.one","name":"a\r\nControl: cancel <x@y>","body":"x"}"#.to_vec(),
            "line breaks",
        ),
        (
            404,
            "/api/v1/posts",
            "Content-Type: application/json\r\n",
            br#"{"board":"test.one","thread":999999,"body":"x"}"#.to_vec(),
            "no post 999999",
        ),
        (
            400,
            "/api/v1/posts",
            "Content-Type: application/x-www-form-urlencoded\r\n",
            b"board=test.one&com=%FF".to_vec(),
            "UTF-8",
        ),
        (
            415,
            "/api/v1/posts",
            "Content-Type: text/csv\r\n",
            b"a,b".to_vec(),
            "text/csv",
        ),
        (415, "/api/v1/posts", "", b"x".to_vec(), "Content-Type"),
        (
            400,
            "/api/v1/articles",
            "Content-Type: text/plain\r\n",
            b"\xff\xfe".to_vec(),
            "UTF-8",
        ),
        (
            413,
            "/api/v1/posts",
            "Content-Type: application/json\r\n",
            format!(
                r#"{{"board":"test.one","body":"{}"}}"#,
                "x".repeat(200 * 1024)
            )
            .into_bytes(),
            "length limit",
        ),
    ];
    for (want, path, headers, body, says) in cases {
        let (status, response_headers, answer) = request(http, "POST", path, headers, &body);
        assert_eq!(
            header(&response_headers, "content-type"),
            Some("application/json"),
            "{path} {headers}: {}",
            String::from_utf8_lossy(&answer)
        );
        let answer = json(&answer);
        assert_eq!(status, want, "{path} {headers}: {answer}");
        assert!(
            reason(&answer).contains(says),
            "{path} {headers}: {answer} lacks {says:?}"
        );
    }
    let (content_type, mut body) = multipart(&[("com", "with a file")]);
    let file = b"\r\nContent-Disposition: form-data; name=\"upfile\"; filename=\"a.png\"\r\n\r\nPNG\r\n------tidings-test-boundary--\r\n";
    body.truncate(body.len() - 4);
    body.extend_from_slice(file);
    let (status, _, answer) = request(http, "POST", "/test.one/post", &content_type, &body);
    assert_eq!(
        status,
        415,
        "a file of no type the node takes: {}",
        String::from_utf8_lossy(&answer)
    );
    let (status, _, _) = request(http, "DELETE", "/boards.json", "", b"");
    assert_eq!(status, 405);
    node.stop();

    let dir = temp_dir();
    let mut closed = config(dir.path());
    closed.node.posting = false;
    let node = TestNode::start(closed);
    let (status, _, body) = post_json(
        node.http.expect("HTTP"),
        "/api/v1/posts",
        &serde_json::json!({ "board": "test.one", "body": "x" }),
    );
    assert_eq!(status, 403, "{body}");
}

/// Reads a Server-Sent Events stream (HTTP/1.0, so the body is not
/// chunked) until `wanted` says yes to an event's data, or the stream
/// ends: the events read, as (id, event name, data).
fn read_events(
    addr: SocketAddr,
    path: &str,
    extra: &str,
    mut wanted: impl FnMut(&serde_json::Value) -> bool,
) -> (u16, Vec<(String, String, serde_json::Value)>) {
    use std::io::BufRead;
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream.set_read_timeout(Some(TIMEOUT)).expect("timeout");
    write!(
        stream,
        "GET {path} HTTP/1.0\r\nHost: tidings.test\r\nAccept: text/event-stream\r\n{extra}\r\n"
    )
    .expect("request");
    let mut reader = std::io::BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line).expect("status line");
    let status = line
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .expect("status");
    loop {
        line.clear();
        reader.read_line(&mut line).expect("header");
        if line == "\r\n" || line.is_empty() {
            break;
        }
    }
    let mut events = Vec::new();
    let (mut id, mut name) = (String::new(), String::new());
    loop {
        line.clear();
        if reader.read_line(&mut line).expect("event line") == 0 {
            return (status, events);
        }
        let line = line.trim_end();
        if let Some(v) = line.strip_prefix("id:") {
            id = v.trim().to_string();
        } else if let Some(v) = line.strip_prefix("event:") {
            name = v.trim().to_string();
        } else if let Some(v) = line.strip_prefix("data:") {
            let data: serde_json::Value = serde_json::from_str(v.trim()).unwrap_or_default();
            let done = wanted(&data);
            events.push((std::mem::take(&mut id), std::mem::take(&mut name), data));
            if done {
                return (status, events);
            }
        }
    }
}

#[test]
fn the_event_stream_shows_nntp_posts_and_resumes_from_last_event_id() {
    let dir = temp_dir();
    let node = TestNode::start(config(dir.path()));
    let http = node.http.expect("HTTP");
    let (_, _, latest) = get(http, "/api/v1/changes/latest", "");
    let start = json(&latest)["latest"].as_u64().expect("latest");

    // A reader's NNTP POST reaches a stream following from before it
    // (from `start`, so it does not matter whether the stream or the
    // post comes first).
    let watcher = std::thread::spawn(move || {
        read_events(http, &format!("/api/v1/events?after={start}"), "", |data| {
            data["type"] == "created" && data["boards"][0]["board"] == "test.one"
        })
    });
    let id = Client::connect(node.addr).post("test.one", "over NNTP", "seen on the stream");
    let (status, events) = watcher.join().expect("watcher");
    assert_eq!(status, 200);
    let (event_id, name, data) = events.last().expect("an event").clone();
    assert_eq!(name, "created");
    assert_eq!(data["message_id"], id.as_str());
    let seq: u64 = event_id.parse().expect("numeric id");
    assert!(seq > start, "{seq} after {start}");
    assert_eq!(data["seq"], seq);

    // A post of the author's and its edit, each an event; a stream
    // resumed with the first event's id gets what came after it and
    // nothing before.
    let first = unique_id("first");
    let edit = unique_id("edit");
    let edit_text = sign(
        &article_text(&edit, "test.one", "edited\r\n")
            .replacen("\r\n\r\n", &format!("\r\nSupersedes: {first}\r\n\r\n"), 1)
            .replace(ARTICLE_DATE, "Sun, 22 Nov 2026 05:00:00 +0000"),
    );
    Client::connect(node.addr).stream_accepted([
        (first.clone(), article(&first, "test.one", "first\r\n")),
        (edit.clone(), edit_text),
    ]);
    let (status, resumed) = read_events(
        http,
        "/api/v1/events",
        &format!("Last-Event-ID: {event_id}\r\n"),
        |data| data["type"] == "edited",
    );
    assert_eq!(status, 200);
    let kinds: Vec<(&str, &str)> = resumed
        .iter()
        .map(|(_, name, data)| (name.as_str(), data["message_id"].as_str().unwrap_or("")))
        .collect();
    assert_eq!(
        kinds,
        [
            ("created", first.as_str()),
            ("created", edit.as_str()),
            ("edited", first.as_str())
        ]
    );
    assert_eq!(resumed[2].2["current"], edit.as_str());
    assert_eq!(resumed[0].0, (seq + 1).to_string());

    // The same changes as pages behind a cursor, with a Link onwards.
    let (status, headers, body) = get(http, &format!("/api/v1/changes?after={start}&limit=1"), "");
    assert_eq!(status, 200);
    let page = json(&body);
    assert_eq!(page["changes"][0]["message_id"], id.as_str());
    assert_eq!(page["next"], seq);
    assert_eq!(
        header(&headers, "link"),
        Some(format!("</api/v1/changes?after={seq}&limit=1>; rel=\"next\"").as_str())
    );

    // Forged and malformed cursors are refused with a reason.
    for (path, extra) in [
        ("/api/v1/events", "Last-Event-ID: 99999999\r\n"),
        ("/api/v1/events", "Last-Event-ID: yesterday\r\n"),
        ("/api/v1/changes?after=99999999", ""),
        ("/api/v1/changes?after=-1", ""),
        ("/api/v1/changes?limit=many", ""),
        ("/api/v1/changes?colour=red", ""),
    ] {
        let (status, _, body) = get(http, path, extra);
        assert_eq!(
            status,
            400,
            "{path} {extra}: {}",
            String::from_utf8_lossy(&body)
        );
    }
}

#[test]
fn a_consumer_behind_what_the_log_keeps_is_told_to_resync() {
    let dir = temp_dir();
    let mut small = config(dir.path());
    small.storage.changes_kept = 2;
    let node = TestNode::start(small);
    let http = node.http.expect("HTTP");
    let mut nntp = Client::connect(node.addr);
    for i in 0..4 {
        nntp.post("test.one", "churn", &format!("post {i}"));
    }
    let (status, _, body) = get(http, "/api/v1/changes?after=0", "");
    let gone = json(&body);
    assert_eq!(status, 410, "{gone}");
    assert_eq!(gone["resync"], true);
    let (status, _) = read_events(http, "/api/v1/events", "Last-Event-ID: 0\r\n", |_| true);
    assert_eq!(status, 410);
    // Without a cursor, the page starts at the oldest change kept.
    let (status, _, body) = get(http, "/api/v1/changes", "");
    assert_eq!(status, 200);
    let page = json(&body);
    assert_eq!(page["changes"].as_array().map(Vec::len), Some(2), "{page}");
    assert_eq!(page["changes"][1]["seq"], page["latest"]);
}

#[test]
fn the_web_front_end_is_served_at_the_root() {
    let dir = temp_dir();
    let node = TestNode::start(config(dir.path()));
    let http = node.http.expect("HTTP");
    let (status, headers, body) = get(http, "/", "");
    assert_eq!(status, 200);
    assert_eq!(
        header(&headers, "content-type"),
        Some("text/html; charset=utf-8")
    );
    let page = String::from_utf8(body).expect("utf8");
    assert!(page.contains("/web/app.js"), "{page}");
    for (path, media) in [
        ("/web/app.js", "text/javascript; charset=utf-8"),
        ("/web/style.css", "text/css; charset=utf-8"),
    ] {
        let (status, headers, _) = get(http, path, "");
        assert_eq!(
            (status, header(&headers, "content-type")),
            (200, Some(media)),
            "{path}"
        );
    }
    assert_eq!(get(http, "/web/../Cargo.toml", "").0, 404);
}

#[test]
fn slow_and_idle_clients_are_cut_off_and_extra_connections_refused() {
    let dir = temp_dir();
    let mut strict = config(dir.path());
    strict.limits.http_request_secs = 1;
    let node = TestNode::start(strict);
    let http = node.http.expect("HTTP");

    // Headers that never end: the connection is closed, whatever the
    // client does next.
    let mut slow = TcpStream::connect(http).expect("connect");
    slow.set_read_timeout(Some(TIMEOUT)).expect("timeout");
    slow.write_all(b"GET /boards.json HTTP/1.1\r\nHost: x\r\n")
        .expect("partial request");
    let mut rest = Vec::new();
    let _ = slow.read_to_end(&mut rest);
    assert!(
        !String::from_utf8_lossy(&rest).contains("200 OK"),
        "{}",
        String::from_utf8_lossy(&rest)
    );

    // A keep-alive connection left idle after a request is closed too.
    let mut idle = TcpStream::connect(http).expect("connect");
    idle.set_read_timeout(Some(TIMEOUT)).expect("timeout");
    idle.write_all(b"GET /boards.json HTTP/1.1\r\nHost: x\r\n\r\n")
        .expect("request");
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match idle.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => seen.extend_from_slice(&buf[..n]),
            Err(e) => panic!("the idle connection was not closed: {e}"),
        }
    }
    assert!(String::from_utf8_lossy(&seen).starts_with("HTTP/1.1 200"));
    drop((slow, idle));
    node.stop();

    // Two connections held open from this address (patiently: they send
    // nothing); a third is refused with 503 once both are counted.
    let dir = temp_dir();
    let mut strict = config(dir.path());
    strict.limits.max_connections_per_host = 2;
    let node = TestNode::start(strict);
    let http = node.http.expect("HTTP");
    let held: Vec<TcpStream> = (0..2)
        .map(|_| TcpStream::connect(http).expect("connect"))
        .collect();
    let mut refused = String::new();
    wait_until(
        TIMEOUT,
        "a connection over the per-address limit refused",
        || {
            let (status, _, body) = get(http, "/boards.json", "");
            refused = String::from_utf8_lossy(&body).into_owned();
            status == 503
        },
    );
    assert!(refused.contains("too many connections"), "{refused}");
    drop(held);
}

#[test]
fn every_route_in_the_openapi_document_is_served() {
    let dir = temp_dir();
    let node = TestNode::start(config(dir.path()));
    let http = node.http.expect("HTTP");
    let (status, _, body) = get(http, "/api/v1/openapi.json", "");
    assert_eq!(status, 200);
    let document = json(&body);
    assert_eq!(document["openapi"], "3.1.0");
    let paths = document["paths"].as_object().expect("paths");
    assert!(paths.len() >= 13, "{}", paths.len());
    for (path, operations) in paths {
        let mut concrete = path
            .replace("{board}", "test.one")
            .replace("{file}", "1.json")
            .replace("{no}", "1")
            .replace("{key}", &"ab".repeat(32))
            .replace("{blob}", &"cd".repeat(32))
            .replace("{message_id}", "%3Cnone%40x%3E");
        if concrete == "/api/v1/events" {
            // A stream would not end; a cursor past the latest is a 400.
            concrete.push_str("?after=99999999999");
        }
        for method in operations.as_object().expect("operations").keys() {
            let method = method.to_ascii_uppercase();
            let body: &[u8] = if method == "GET" { b"" } else { b"{}" };
            let (status, _, answer) = request(
                http,
                &method,
                &concrete,
                "Content-Type: application/json\r\n",
                body,
            );
            let text = String::from_utf8_lossy(&answer);
            assert!(
                status != 405 && !(status == 404 && text.contains("no such resource")),
                "{method} {path} is documented but not served: {status} {text}"
            );
        }
    }
}

#[test]
fn threads_and_replies_page_by_keyset_cursors_with_links() {
    let dir = temp_dir();
    let node = TestNode::start(config(dir.path()));
    let http = node.http.expect("HTTP");
    let mut numbers = Vec::new();
    for i in 0..5 {
        let (status, _, body) = post_json(
            http,
            "/api/v1/posts",
            &serde_json::json!({ "board": "test.one", "subject": format!("t{i}"), "body": "op" }),
        );
        assert_eq!(status, 201, "{body}");
        numbers.push(body["no"].as_u64().expect("no"));
    }
    let oldest = numbers[0];
    for i in 0..7 {
        let (status, _, body) = post_json(
            http,
            "/api/v1/posts",
            &serde_json::json!({ "board": "test.one", "thread": oldest, "body": format!("r{i}") }),
        );
        assert_eq!(status, 201, "{body}");
    }

    // Threads two at a time, following the Link header.
    let mut path = "/api/v1/boards/test.one/threads?limit=2".to_string();
    let mut seen = Vec::new();
    loop {
        let (status, headers, body) = get(http, &path, "");
        assert_eq!(status, 200, "{path}");
        let page = json(&body);
        for thread in page["threads"].as_array().expect("threads") {
            seen.push((
                thread["no"].as_u64().expect("no"),
                thread["bump"].as_u64().expect("bump"),
            ));
        }
        match header(&headers, "link") {
            Some(link) => {
                path = link
                    .trim_start_matches('<')
                    .split('>')
                    .next()
                    .expect("link target")
                    .to_string();
                assert_eq!(page["next"], seen.last().map(|s| s.1).expect("a thread"));
            }
            None => break,
        }
    }
    let order: Vec<u64> = seen.iter().map(|s| s.0).collect();
    let mut want = vec![oldest];
    want.extend(numbers[1..].iter().rev());
    assert_eq!(order, want, "the bumped thread first, then newest first");
    assert!(seen.windows(2).all(|w| w[0].1 > w[1].1), "{seen:?}");

    // Replies n..n+k of the bumped thread.
    let posts = |query: &str| {
        let (status, headers, body) = get(
            http,
            &format!("/api/v1/boards/test.one/threads/{oldest}/posts{query}"),
            "",
        );
        (
            status,
            header(&headers, "link").map(str::to_string),
            json(&body),
        )
    };
    let (status, link, first) = posts("?limit=3");
    assert_eq!(status, 200);
    let coms = |page: &serde_json::Value| -> Vec<String> {
        page["posts"]
            .as_array()
            .expect("posts")
            .iter()
            .map(|p| p["com"].as_str().unwrap_or_default().to_string())
            .collect()
    };
    assert_eq!(coms(&first), ["r0", "r1", "r2"]);
    assert_eq!(first["replies"], 7);
    let next = first["next"].as_u64().expect("next");
    assert_eq!(
        link.as_deref(),
        Some(format!("</api/v1/boards/test.one/threads/{oldest}/posts?after={next}&limit=3>; rel=\"next\"").as_str())
    );
    let (_, _, second) = posts(&format!("?after={next}&limit=3"));
    assert_eq!(coms(&second), ["r3", "r4", "r5"]);
    let (_, link, last) = posts(&format!("?after={}&limit=3", second["next"]));
    assert_eq!(coms(&last), ["r6"]);
    assert_eq!(
        (link, last["next"].clone()),
        (None, serde_json::Value::Null)
    );
    let (_, _, beyond) = posts("?after=999999");
    assert_eq!(coms(&beyond), Vec::<String>::new());
    let (_, _, all) = posts("?limit=999999");
    assert_eq!(coms(&all).len(), 7, "a huge limit is clamped, not refused");

    for bad in [
        "/api/v1/boards/test.one/threads?before=yesterday",
        "/api/v1/boards/test.one/threads?after=3",
        "/api/v1/boards/test.one/threads?colour=red",
        &format!("/api/v1/boards/test.one/threads/{oldest}/posts?after=-1"),
        &format!("/api/v1/boards/test.one/threads/{oldest}/posts?before=3"),
        "/api/v1/boards/test.one/threads/x/posts",
    ] {
        assert_eq!(get(http, bad, "").0, 400, "{bad}");
    }
    for missing in [
        "/api/v1/boards/no.such/threads",
        &format!(
            "/api/v1/boards/test.one/threads/{}/posts",
            numbers[0] + 1000
        ),
    ] {
        assert_eq!(get(http, missing, "").0, 404, "{missing}");
    }
    let (status, _, body) = get(http, "/test.one/archive.json", "");
    assert_eq!((status, json(&body)), (200, serde_json::json!([])));
}

#[test]
fn an_edited_opening_post_keeps_its_replies_and_a_cancelled_reply_unbumps() {
    let dir = temp_dir();
    let node = TestNode::start(config(dir.path()));
    let http = node.http.expect("HTTP");
    let op = unique_id("op");
    let other = unique_id("other");
    let reply = unique_id("reply");
    let edit = unique_id("edit");
    let reply_text = sign(&article_text(&reply, "test.one", "the reply\r\n").replacen(
        "\r\n\r\n",
        &format!("\r\nReferences: {op}\r\n\r\n"),
        1,
    ));
    let edit_text = sign(
        &article_text(&edit, "test.one", "edited op\r\n")
            .replacen("\r\n\r\n", &format!("\r\nSupersedes: {op}\r\n\r\n"), 1)
            .replace(ARTICLE_DATE, "Sun, 22 Nov 2026 05:00:00 +0000"),
    );
    Client::connect(node.addr).stream_accepted([
        (op.clone(), article(&op, "test.one", "first op\r\n")),
        (reply.clone(), reply_text),
        (
            other.clone(),
            article(&other, "test.one", "other thread\r\n"),
        ),
        (edit.clone(), edit_text),
    ]);
    let catalog = |http| {
        let (status, _, body) = get(http, "/test.one/catalog.json", "");
        assert_eq!(status, 200);
        json(&body)[0]["threads"].clone()
    };
    // The edit is filed last, so it bumps its thread above the other.
    let threads = catalog(http);
    assert_eq!(threads[0]["message_id"], edit.as_str(), "{threads}");
    assert_eq!(threads[0]["com"], "edited op");
    assert_eq!(threads[0]["replies"], 1);
    assert_eq!(threads[0]["last_replies"][0]["message_id"], reply.as_str());
    let no = threads[0]["no"].as_u64().expect("no");
    let (_, _, body) = get(http, &format!("/test.one/thread/{no}.json"), "");
    let posts = json(&body)["posts"].clone();
    assert_eq!(posts[1]["message_id"], reply.as_str(), "{posts}");

    // The author cancels the edit's thread's reply: its thread has no
    // replies left, and the other thread is bumped above it only if it
    // was filed later (it was not: the edit came last).
    let cancel = unique_id("cancel");
    let cancel_text = sign(&article_text(&cancel, "control", "cancel\r\n").replacen(
        "\r\n\r\n",
        &format!("\r\nControl: cancel {reply}\r\n\r\n"),
        1,
    ));
    Client::connect(node.addr).stream_accepted([(cancel.clone(), cancel_text)]);
    wait_until(TIMEOUT, "the reply is gone from the catalog", || {
        catalog(http)[0]["replies"] == 0
    });
    let threads = catalog(http);
    assert_eq!(threads[0]["message_id"], edit.as_str(), "{threads}");
    assert_eq!(threads[0]["last_replies"], serde_json::json!([]));
    assert_eq!(threads[1]["message_id"], other.as_str());
}

#[test]
fn an_authors_posts_between_two_dates_page_by_cursor() {
    let dir = temp_dir();
    let node = TestNode::start(config(dir.path()));
    let http = node.http.expect("HTTP");
    // Four posts by the author at 05:00, 05:10, 05:20, 05:30, and one by
    // the node (unsigned, over the API) that is not theirs.
    let mut ids = Vec::new();
    let mut articles = Vec::new();
    for minute in [0, 10, 20, 30] {
        let id = unique_id(&format!("m{minute}"));
        let text = sign(
            &article_text(&id, "test.one", &format!("at {minute}\r\n")).replace(
                ARTICLE_DATE,
                &format!("Sun, 22 Nov 2026 05:{minute:02}:00 +0000"),
            ),
        );
        articles.push((id.clone(), text));
        ids.push(id);
    }
    // Out of Date order: the index orders by Date, not by arrival.
    articles.reverse();
    Client::connect(node.addr).stream_accepted(articles);
    let (status, _, _) = post_json(
        http,
        "/api/v1/posts",
        &serde_json::json!({ "board": "test.one", "body": "the node's" }),
    );
    assert_eq!(status, 201);
    let key = hex::encode(author().verifying_key().as_bytes());
    let at = |minute: u32| {
        chrono::DateTime::parse_from_rfc3339(&format!("2026-11-22T05:{minute:02}:00Z"))
            .expect("date")
            .timestamp()
    };

    // 05:05 (as seconds) up to 05:30 (as RFC 3339): the 05:10 and 05:20
    // posts, one a page, following Link.
    let mut path = format!(
        "/api/v1/authors/{key}/posts?since={}&until=2026-11-22T05:30:00Z&limit=1",
        at(5)
    );
    let mut seen = Vec::new();
    loop {
        let (status, headers, body) = get(http, &path, "");
        assert_eq!(status, 200, "{path}: {}", String::from_utf8_lossy(&body));
        let page = json(&body);
        for post in page["posts"].as_array().expect("posts") {
            seen.push((
                post["message_id"].as_str().expect("id").to_string(),
                post["time"].as_i64().expect("time"),
            ));
            assert_eq!(post["boards"][0]["board"], "test.one", "{post}");
            assert!(post["subject"].is_string(), "{post}");
        }
        match header(&headers, "link") {
            Some(link) => {
                path = link
                    .trim_start_matches('<')
                    .split('>')
                    .next()
                    .expect("target")
                    .to_string();
            }
            None => break,
        }
    }
    assert_eq!(
        seen,
        vec![(ids[1].clone(), at(10)), (ids[2].clone(), at(20))]
    );
    // All of them, oldest first, and none of the node's.
    let (_, _, body) = get(http, &format!("/api/v1/authors/{key}/posts"), "");
    let all: Vec<String> = json(&body)["posts"]
        .as_array()
        .expect("posts")
        .iter()
        .map(|p| p["message_id"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(all, ids);
    for bad in [
        "/api/v1/authors/nothex/posts".to_string(),
        format!("/api/v1/authors/{key}/posts?since=yesterday"),
        format!("/api/v1/authors/{key}/posts?after=zz"),
        format!("/api/v1/authors/{key}/posts?after=00"),
        format!("/api/v1/authors/{key}/posts?colour=red"),
    ] {
        assert_eq!(get(http, &bad, "").0, 400, "{bad}");
    }
}

#[test]
fn a_get_of_a_post_this_node_lacks_asks_its_peers() {
    use tidings::config::PeerConfig;
    // B has the post; A peers with B but does not catch up, so only the
    // asking can bring it.
    let (dir_a, dir_b) = (temp_dir(), temp_dir());
    let b_key = tidings::keys::write_new_secret_key(&dir_b.path().join("node.key")).expect("key");
    let mut b_config = config(dir_b.path());
    b_config.node.name = "b.test".into();
    let b = TestNode::start(b_config);
    let id = unique_id("elsewhere");
    Client::connect(b.addr)
        .stream_accepted([(id.clone(), article(&id, "test.one", "only on b\r\n"))]);

    let mut a_config = config(dir_a.path());
    a_config.node.name = "a.test".into();
    a_config.feed.catch_up = false;
    a_config.peers.push(PeerConfig {
        address: Some(b.addr.to_string()),
        ..PeerConfig::new("b.test", hex::encode(b_key.verifying_key().as_bytes()))
    });
    let a = TestNode::start(a_config);
    let http = a.http.expect("HTTP");
    let path = |id: &str| {
        format!(
            "/api/v1/articles/{}",
            id.replace('<', "%3C").replace('>', "%3E")
        )
    };
    let (status, _, body) = get(http, &path(&id), "");
    let found = json(&body);
    assert_eq!(status, 200, "{found}");
    assert_eq!(found["status"], "filed");
    assert_eq!(found["body"], "only on b\r\n");
    // Filed here now, as any catch-up would have filed it.
    let mut reader = Client::connect(a.addr);
    assert_eq!(reader.cmd(&format!("STAT {id}")).0, 223);

    let (status, _, body) = get(http, &path(&unique_id("nowhere")), "");
    let missing = json(&body);
    assert_eq!(status, 404, "{missing}");
    assert!(
        missing["reason"].as_str().is_some_and(
            |r| r.contains("none of the 1 peers asked") && r.contains("not be synced yet")
        ),
        "{missing}"
    );
}

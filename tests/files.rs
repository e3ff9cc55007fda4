//! Files by hash over HTTP (protocol-spec/files.md §3), on Blossom's
//! endpoints: upload, preflight, GET and HEAD with ranges, over real TCP
//! on loopback, and what survives a restart.

mod common;

use std::net::SocketAddr;

use common::*;
use sha2::{Digest, Sha256};

/// One request on a fresh connection: status, headers, body.
fn call(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &str,
    body: &[u8],
) -> (u16, Vec<(String, String)>, Vec<u8>) {
    let head = format!("{method} {path} HTTP/1.1\r\nHost: files.test\r\n{headers}");
    http_exchange(addr, &head, body)
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    http_header(headers, name)
}

/// Bytes that look like nothing in particular, `len` long.
fn bytes(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

fn put(
    addr: SocketAddr,
    body: &[u8],
    media: &str,
    extra: &str,
) -> (u16, Vec<(String, String)>, serde_json::Value) {
    let (status, headers, answer) = call(
        addr,
        "PUT",
        "/upload",
        &format!(
            "Content-Type: {media}\r\nContent-Length: {}\r\n{extra}",
            body.len()
        ),
        body,
    );
    let json = serde_json::from_slice(&answer).unwrap_or_default();
    (status, headers, json)
}

#[test]
fn a_file_is_uploaded_once_and_served_by_hash_with_ranges() {
    let dir = temp_dir();
    let node = TestNode::start(config(dir.path()));
    let http = node.http.expect("HTTP");
    // Larger than any other request body the API takes (64 KiB + slack
    // in these tests): files stream to disk, they are not read whole.
    let file = bytes(2 << 20, 7);
    let hash = hex::encode(Sha256::digest(&file));

    let (status, headers, descriptor) =
        put(http, &file, "image/png", &format!("X-SHA-256: {hash}\r\n"));
    assert_eq!(status, 201, "{descriptor}");
    assert_eq!(header(&headers, "access-control-allow-origin"), Some("*"));
    assert_eq!(descriptor["sha256"], hash.as_str());
    assert_eq!(descriptor["size"], file.len());
    assert_eq!(descriptor["type"], "image/png");
    assert_eq!(
        descriptor["url"],
        format!("http://files.test/{hash}.png").as_str()
    );
    assert!(descriptor["uploaded"].is_i64());
    let (status, _, again) = put(http, &file, "image/png", "");
    assert_eq!(status, 200, "the same bytes again: {again}");
    assert_eq!(again["sha256"], hash.as_str());
    let stored: Vec<_> = walk(&dir.path().join("files"))
        .into_iter()
        .filter(|p| !p.contains("/files/tmp/"))
        .collect();
    assert_eq!(stored.len(), 1, "stored once: {stored:?}");
    assert!(stored[0].ends_with(&format!("/{}/{}/{hash}", &hash[..2], &hash[2..4])));

    let (status, headers, body) = call(http, "GET", &format!("/{hash}.png"), "", b"");
    assert_eq!(status, 200);
    assert!(body == file, "the bytes as uploaded");
    for (name, value) in [
        ("content-type", "image/png"),
        ("x-content-type-options", "nosniff"),
        ("content-security-policy", "default-src 'none'; sandbox"),
        ("accept-ranges", "bytes"),
        ("access-control-allow-origin", "*"),
    ] {
        assert_eq!(header(&headers, name), Some(value), "{name}");
    }
    let etag = header(&headers, "etag").expect("ETag").to_string();
    assert_eq!(etag, format!("\"{hash}\""));
    let (status, _, body) = call(
        http,
        "GET",
        &format!("/{hash}"),
        &format!("If-None-Match: {etag}\r\n"),
        b"",
    );
    assert_eq!((status, body.len()), (304, 0));

    let (status, headers, body) = call(
        http,
        "GET",
        &format!("/{hash}"),
        "Range: bytes=100-199\r\n",
        b"",
    );
    assert_eq!(status, 206);
    assert_eq!(body, &file[100..200]);
    assert_eq!(
        header(&headers, "content-range"),
        Some(format!("bytes 100-199/{}", file.len()).as_str())
    );
    let (status, _, body) = call(
        http,
        "GET",
        &format!("/{hash}"),
        "Range: bytes=-10\r\n",
        b"",
    );
    assert_eq!((status, body.as_slice()), (206, &file[file.len() - 10..]));
    let past = format!("Range: bytes={}-\r\n", file.len());
    let (status, headers, _) = call(http, "GET", &format!("/{hash}"), &past, b"");
    assert_eq!(status, 416);
    assert_eq!(
        header(&headers, "content-range"),
        Some(format!("bytes */{}", file.len()).as_str())
    );
    let (status, headers, body) = call(http, "HEAD", &format!("/{hash}"), "", b"");
    assert_eq!((status, body.len()), (200, 0));
    assert_eq!(
        header(&headers, "content-length"),
        Some(file.len().to_string().as_str())
    );

    // Still there after a restart.
    node.stop();
    let node = TestNode::start(config(dir.path()));
    let http = node.http.expect("HTTP");
    let (status, _, body) = call(http, "GET", &format!("/{hash}"), "", b"");
    assert_eq!(status, 200);
    assert!(body == file);
}

/// Every file path under `dir`, as text.
fn walk(dir: &std::path::Path) -> Vec<String> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path.display().to_string());
        }
    }
    out
}

#[test]
fn uploads_the_node_does_not_take_are_refused_with_a_reason_and_leave_nothing() {
    let dir = temp_dir();
    let mut small = config(dir.path());
    small.files.max_bytes = 1000;
    let node = TestNode::start(small);
    let http = node.http.expect("HTTP");
    let file = bytes(500, 1);
    let wrong = hex::encode(Sha256::digest(b"something else"));

    let cases: Vec<(u16, &str, String, Vec<u8>, &str)> = vec![
        (
            409,
            "PUT",
            format!("Content-Type: image/png\r\nContent-Length: 500\r\nX-SHA-256: {wrong}\r\n"),
            file.clone(),
            "X-SHA-256",
        ),
        (
            413,
            "PUT",
            "Content-Type: image/png\r\nContent-Length: 5000\r\n".into(),
            bytes(5000, 2),
            "at most 1000",
        ),
        (
            415,
            "PUT",
            "Content-Type: text/html\r\nContent-Length: 500\r\n".into(),
            file.clone(),
            "text/html",
        ),
        (
            411,
            "PUT",
            "Content-Type: image/png\r\nTransfer-Encoding: chunked\r\n".into(),
            b"1f4\r\n"
                .iter()
                .chain(&file)
                .chain(b"\r\n0\r\n\r\n")
                .copied()
                .collect(),
            "size",
        ),
        (
            400,
            "PUT",
            "Content-Type: image/png\r\nContent-Length: 500\r\nX-SHA-256: nothex\r\n".into(),
            file.clone(),
            "64 hex",
        ),
    ];
    for (want, method, headers, body, says) in cases {
        let (status, response, answer) = call(http, method, "/upload", &headers, &body);
        let reason = header(&response, "x-reason")
            .unwrap_or_default()
            .to_string();
        assert_eq!(
            status,
            want,
            "{headers}: {}",
            String::from_utf8_lossy(&answer)
        );
        assert!(
            reason.contains(says),
            "{headers}: X-Reason {reason:?} lacks {says:?}"
        );
        assert_eq!(header(&response, "access-control-allow-origin"), Some("*"));
    }
    let left: Vec<_> = walk(&dir.path().join("files"));
    assert!(
        left.is_empty(),
        "nothing stored, nothing left over: {left:?}"
    );

    // The preflight says the same before anything is sent.
    for (want, headers) in [
        (
            200,
            "X-Content-Length: 500\r\nX-Content-Type: image/png\r\n",
        ),
        (
            413,
            "X-Content-Length: 5000\r\nX-Content-Type: image/png\r\n",
        ),
        (
            415,
            "X-Content-Length: 5\r\nX-Content-Type: image/svg+xml\r\n",
        ),
        (411, "X-Content-Type: image/png\r\n"),
    ] {
        let (status, _, _) = call(http, "HEAD", "/upload", headers, b"");
        assert_eq!(status, want, "{headers}");
    }
    let (status, headers, _) = call(http, "OPTIONS", "/upload", "", b"");
    assert_eq!(status, 204);
    assert_eq!(
        header(&headers, "access-control-allow-methods"),
        Some("GET, HEAD, PUT")
    );
    let unknown = hex::encode(Sha256::digest(b"never uploaded"));
    assert_eq!(call(http, "GET", &format!("/{unknown}"), "", b"").0, 404);
    assert_eq!(call(http, "DELETE", &format!("/{unknown}"), "", b"").0, 405);
    assert_eq!(call(http, "GET", "/not-a-hash", "", b"").0, 404);
    node.stop();

    let dir = temp_dir();
    let mut closed = config(dir.path());
    closed.node.posting = false;
    let node = TestNode::start(closed);
    let (status, _, _) = put(node.http.expect("HTTP"), &file, "image/png", "");
    assert_eq!(status, 403);
}

#[test]
fn a_post_from_a_form_with_a_file_references_it_and_the_apis_show_it() {
    let dir = temp_dir();
    let node = TestNode::start(config(dir.path()));
    let http = node.http.expect("HTTP");
    let image = bytes(3000, 9);
    let hash = hex::encode(Sha256::digest(&image));
    let (status, _, answer) = post_form_with_file(
        http,
        "test.one",
        &[("sub", "with a picture"), ("com", "look at this")],
        "C:\\\\pics\\\\cat pic.png",
        "image/png",
        &image,
    );
    let posted: serde_json::Value = serde_json::from_slice(&answer).expect("json");
    assert_eq!(status, 201, "{posted}");
    let no = posted["no"].as_u64().expect("no");
    let id = posted["message_id"].as_str().expect("id").to_string();

    let (_, _, thread) = call(http, "GET", &format!("/test.one/thread/{no}.json"), "", b"");
    let thread: serde_json::Value = serde_json::from_slice(&thread).expect("json");
    let op = &thread["posts"][0];
    assert_eq!(op["sha256"], hash.as_str(), "{op}");
    assert_eq!(op["filename"], "cat pic", "the name without its path: {op}");
    assert_eq!(op["ext"], ".png");
    assert_eq!(op["fsize"], image.len());
    assert_eq!(op["file_state"], "here");
    let url = op["file_url"].as_str().expect("file_url").to_string();
    assert_eq!(url, format!("/{hash}.png"));
    let (status, _, served) = call(http, "GET", &url, "", b"");
    assert_eq!(status, 200);
    assert!(served == image);

    let path = format!(
        "/api/v1/articles/{}",
        id.replace('<', "%3C").replace('>', "%3E")
    );
    let (_, _, article) = call(http, "GET", &path, "", b"");
    let article: serde_json::Value = serde_json::from_slice(&article).expect("json");
    assert_eq!(article["files"][0]["name"], "cat pic.png", "{article}");
    assert_eq!(article["files"][0]["type"], "image/png");
    // The reference is a header of the signed article, as NNTP gives it.
    let mut reader = Client::connect(node.addr);
    assert_eq!(reader.cmd(&format!("HEAD {id}")).0, 221);
    let head = reader.block();
    let want = format!("Tidings-File: {hash} 3000 image/png name=cat%20pic.png");
    assert!(head.contains(&want), "{head:?}");

    // A post that arrives referencing a file whose bytes are not here.
    let elsewhere = hex::encode(Sha256::digest(b"bytes on another node"));
    let other = unique_id("remote-file");
    let text = sign(&article_text(&other, "test.one", "from afar\r\n").replacen(
        "\r\n\r\n",
        &format!("\r\nTidings-File: {elsewhere} 21 image/jpeg\r\n\r\n"),
        1,
    ));
    Client::connect(node.addr).stream_accepted([(other.clone(), text)]);
    let path = format!(
        "/api/v1/articles/{}",
        other.replace('<', "%3C").replace('>', "%3E")
    );
    let (_, _, article) = call(http, "GET", &path, "", b"");
    let article: serde_json::Value = serde_json::from_slice(&article).expect("json");
    assert_eq!(article["files"][0]["state"], "not-here-yet", "{article}");
    assert_eq!(
        article["files"][0]["url"],
        format!("/{elsewhere}.jpg").as_str()
    );
    let no = article["boards"][0]["number"].as_u64().expect("number");
    let state = || {
        let (_, _, thread) = call(http, "GET", &format!("/test.one/thread/{no}.json"), "", b"");
        let thread: serde_json::Value = serde_json::from_slice(&thread).expect("json");
        thread["posts"][0]["file_state"].clone()
    };
    assert_eq!(state(), "not-here-yet");
    // Once the bytes come, every page says so (none stays as rendered).
    let (status, _, _) = put(http, b"bytes on another node", "image/jpeg", "");
    assert_eq!(status, 201);
    assert_eq!(state(), "here");
}

#[test]
fn unreferenced_files_are_collected_after_the_grace_period_and_referenced_ones_kept() {
    use tidings::clock::Clock;
    use tidings::ingest::Source;
    use tidings::store::schema::FileRecord;

    let clock = Clock::manual_from_now();
    let open = OpenNode::new(clock.clone(), |c| c.files.grace_hours = 1);
    let node = open.node().clone();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let store_file = |bytes: &'static [u8]| {
        let body = futures::stream::iter([Ok::<_, String>(bytes::Bytes::from_static(bytes))]);
        let stored = runtime
            .block_on(node.blobs.write(body, 1 << 20, None, |_| None))
            .expect("stored");
        let record = FileRecord {
            size: stored.size,
            stored: clock.now().timestamp(),
            media_type: "image/png".into(),
        };
        node.store.put_file(&stored.hash, &record).expect("record");
        stored.hash
    };
    let kept = store_file(b"referenced by a post");
    let dropped = store_file(b"never referenced");
    let offer = |id: &str, text: String| {
        let source = Source::Transit {
            offered_id: id.as_bytes().to_vec(),
            peer: None,
        };
        runtime.block_on(node.ingest(bytes::Bytes::from(text), source, None))
    };
    let post = unique_id("with-file");
    let text = sign(&article_text(&post, "test.one", "see file\r\n").replacen(
        "\r\n\r\n",
        &format!(
            "\r\nTidings-File: {} 20 image/png\r\n\r\n",
            hex::encode(kept)
        ),
        1,
    ));
    assert!(matches!(
        offer(&post, text),
        tidings::node::Ingested::Stored { .. }
    ));
    let sweep = || {
        runtime
            .block_on(tidings::sweep::sweep(&node))
            .expect("sweep")
    };

    assert_eq!(sweep(), 0, "within the grace period nothing goes");
    clock.advance(std::time::Duration::from_secs(2 * 3600));
    assert_eq!(sweep(), 1, "the unreferenced upload goes");
    assert!(!node.blobs.path(&dropped).exists());
    assert!(node.store.file(&dropped).expect("read").is_none());
    assert!(node.blobs.path(&kept).exists(), "the referenced file stays");

    // Once the post is cancelled, nothing references the file any more.
    let cancel = unique_id("cancel");
    let cancel_text = sign(&article_text(&cancel, "control", "cancel\r\n").replacen(
        "\r\n\r\n",
        &format!("\r\nControl: cancel {post}\r\n\r\n"),
        1,
    ));
    offer(&cancel, cancel_text);
    assert_eq!(sweep(), 1);
    assert!(!node.blobs.path(&kept).exists());
}

#[test]
fn a_file_the_operator_blocked_is_refused_by_every_route() {
    let banned = b"bytes the operator will not host".to_vec();
    let hash = hex::encode(Sha256::digest(&banned));
    let dir = temp_dir();
    let mut blocking = config(dir.path());
    blocking.files.blocked = vec![hash.to_uppercase()];
    let node = TestNode::start(blocking);
    let http = node.http.expect("HTTP");

    let (status, headers, _) = put(http, &banned, "image/png", "");
    assert_eq!(status, 451);
    assert!(header(&headers, "x-reason").is_some_and(|r| r.contains("blocked")));
    let (status, _, _) = put(
        http,
        &banned,
        "image/png",
        &format!("X-SHA-256: {hash}\r\n"),
    );
    assert_eq!(status, 451, "refused before a byte is read");
    let preflight =
        format!("X-Content-Length: 10\r\nX-Content-Type: image/png\r\nX-SHA-256: {hash}\r\n");
    assert_eq!(call(http, "HEAD", "/upload", &preflight, b"").0, 451);
    assert_eq!(call(http, "GET", &format!("/{hash}.png"), "", b"").0, 451);
    let (status, _, _) = post_form_with_file(
        http,
        "test.one",
        &[("com", "hi")],
        "x.png",
        "image/png",
        &banned,
    );
    assert_eq!(status, 451);
    let left: Vec<_> = walk(&dir.path().join("files"));
    assert!(left.is_empty(), "nothing of it stored: {left:?}");
    let (status, _, _) = put(http, b"other bytes", "image/png", "");
    assert_eq!(status, 201, "other files are taken");

    let mut bad = config(temp_dir().path());
    bad.files.blocked = vec!["not-a-hash".into()];
    let err = bad.validated().expect_err("invalid");
    assert!(err.to_string().contains("files.blocked"), "{err}");
}

#[test]
fn a_boards_file_limits_are_advertised_and_posts_beyond_them_refused() {
    use tidings::config::BoardFilesConfig;

    let dir = temp_dir();
    let mut config = config(dir.path());
    config.files.boards = vec![BoardFilesConfig {
        boards: "test.two".into(),
        max_bytes: Some(1000),
        types: Some(vec!["image/gif".into()]),
    }];
    let node = TestNode::start(config);
    let mut c = Client::connect(node.addr);
    let (_, caps) = (c.cmd("CAPABILITIES"), c.block());
    assert!(
        caps.iter()
            .any(|l| l.starts_with("LIST ") && l.contains("X-TIDINGS-FILES")),
        "{caps:?}"
    );
    assert_eq!(c.cmd("LIST X-TIDINGS-FILES test.*").0, 215);
    let lines = c.block();
    assert_eq!(
        lines,
        vec![
            "test.one 16777216 image/png,image/jpeg,image/gif,image/webp,image/avif,video/mp4,video/webm",
            "test.two 1000 image/gif",
        ]
    );
    let post = |c: &mut Client, board: &str, size: u64, media: &str| {
        assert_eq!(c.cmd("POST").0, 340);
        c.send_article(&format!(
            "From: a <a@example.org>\r\nNewsgroups: {board}\r\nSubject: file\r\nTidings-File: {} {size} {media}\r\n\r\nbody\r\n",
            "cd".repeat(32)
        ));
        c.status()
    };
    assert_eq!(post(&mut c, "test.one", 5000, "image/png").0, 240);
    let (code, why) = post(&mut c, "test.two", 5000, "image/gif");
    assert_eq!(code, 441, "{why}");
    assert!(why.contains("test.two") && why.contains("1000"), "{why}");
    let (code, why) = post(&mut c, "test.one,test.two", 500, "image/png");
    assert_eq!(code, 441, "{why}");
    assert!(why.contains("image/png"), "{why}");
    assert_eq!(post(&mut c, "test.two", 1000, "image/gif").0, 240);

    let (_, _, boards) = call(node.http.expect("HTTP"), "GET", "/boards.json", "", b"");
    let boards: serde_json::Value = serde_json::from_slice(&boards).expect("json");
    let of = |name: &str| {
        boards["boards"]
            .as_array()
            .and_then(|all| all.iter().find(|b| b["board"] == name))
            .map(|b| b["max_filesize"].clone())
    };
    assert_eq!(of("test.one"), Some(serde_json::json!(16777216)));
    assert_eq!(of("test.two"), Some(serde_json::json!(1000)));
}

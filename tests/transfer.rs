//! Files between nodes (protocol-spec/files.md §6, §7): three real nodes
//! on loopback, peered with XPEER, fetching files with XFILE: eagerly on
//! one board, when a reader asks on another, from whichever peer has them,
//! never from bytes that do not hash right.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::*;
use ed25519_dalek::SigningKey;
use sha2::{Digest, Sha256};
use tidings::config::{Config, GroupConfig, PeerConfig};

const NODES: usize = 3;
const EAGER: &str = "test.eager";
const ON_DEMAND: &str = "test.lazy";
const LIMIT: Duration = Duration::from_secs(60);

fn name(i: usize) -> String {
    format!("n{}.test", i + 1)
}

struct Net {
    dirs: Vec<tempfile::TempDir>,
    addrs: Vec<SocketAddr>,
    keys: Vec<SigningKey>,
    nodes: Vec<Option<TestNode>>,
}

impl Net {
    fn config(&self, i: usize) -> Config {
        let mut config = Config::default();
        config.node.name = name(i);
        config.node.data_dir = self.dirs[i].path().to_path_buf();
        config.groups = [EAGER, ON_DEMAND]
            .map(|board| GroupConfig {
                name: board.into(),
                description: String::new(),
            })
            .to_vec();
        config.files.eager = EAGER.into();
        config.files.fetch_wait_secs = 30;
        config.peers = (0..NODES)
            .filter(|&j| j != i)
            .map(|j| PeerConfig {
                address: Some(self.addrs[j].to_string()),
                ..PeerConfig::new(
                    name(j),
                    hex::encode(self.keys[j].verifying_key().as_bytes()),
                )
            })
            .collect();
        config
    }

    fn start() -> Net {
        let dirs: Vec<_> = (0..NODES).map(|_| temp_dir()).collect();
        let keys = dirs
            .iter()
            .map(|d| tidings::keys::write_new_secret_key(&d.path().join("node.key")).expect("key"))
            .collect();
        let listeners: Vec<_> = (0..NODES)
            .map(|_| std::net::TcpListener::bind("127.0.0.1:0").expect("bind"))
            .collect();
        let addrs = listeners
            .iter()
            .map(|l| l.local_addr().expect("addr"))
            .collect();
        let mut net = Net {
            dirs,
            addrs,
            keys,
            nodes: Vec::new(),
        };
        for (i, listener) in listeners.into_iter().enumerate() {
            let node = TestNode::start_on(net.config(i), listener);
            net.nodes.push(Some(node));
        }
        net
    }

    fn http(&self, i: usize) -> SocketAddr {
        self.nodes[i]
            .as_ref()
            .and_then(|n| n.http)
            .expect("a running node with HTTP")
    }

    fn stop(&mut self, i: usize) {
        if let Some(node) = self.nodes[i].take() {
            node.stop();
        }
    }

    /// Starts node `i` again on its old address, with its old store.
    fn restart(&mut self, i: usize) {
        let listener = std::net::TcpListener::bind(self.addrs[i]).expect("bind the old address");
        self.nodes[i] = Some(TestNode::start_on(self.config(i), listener));
    }

    /// The files stored under node `i`'s data directory (not parts).
    fn stored(&self, i: usize) -> Vec<String> {
        let mut out = Vec::new();
        walk(&self.dirs[i].path().join("files"), &mut out);
        out
    }
}

fn walk(dir: &std::path::Path, out: &mut Vec<String>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            if path.file_name().is_some_and(|n| n != "tmp") {
                walk(&path, out);
            }
        } else if let Some(name) = path.file_name().and_then(|n| n.to_str()) {
            out.push(name.to_string());
        }
    }
}

/// An "image": bytes no other call makes.
fn image(seed: u32, len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len);
    let mut state = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
    while out.len() < len {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        out.extend_from_slice(&state.to_le_bytes());
    }
    out.truncate(len);
    out
}

/// Posts a new thread with `file` through the chan form at `http`; its
/// Message-ID.
fn post_with_file(http: SocketAddr, board: &str, file: &[u8]) -> String {
    let (status, _, answer) = post_form_with_file(
        http,
        board,
        &[("com", "a picture")],
        "pic.png",
        "image/png",
        file,
    );
    let posted: serde_json::Value = serde_json::from_slice(&answer).expect("json");
    assert_eq!(status, 201, "{posted}");
    posted["message_id"].as_str().expect("id").to_string()
}

fn get(http: SocketAddr, path: &str) -> (u16, Vec<(String, String)>, Vec<u8>) {
    http_exchange(http, &format!("GET {path} HTTP/1.1\r\nHost: t\r\n"), b"")
}

/// Whether node `http` has filed the article `id`.
fn has_article(http: SocketAddr, id: &str) -> bool {
    let path = format!(
        "/api/v1/articles/{}",
        id.replace('<', "%3C").replace('>', "%3E")
    );
    get(http, &path).0 == 200
}

#[test]
fn eager_boards_replicate_on_filing_and_on_demand_ones_on_first_read() {
    let mut net = Net::start();
    let (a, b, c) = (0, 1, 2);

    // Eager: 50 images posted at A are on B and C without anyone asking;
    // one of them posted again, on the other board, is stored once.
    let images: Vec<Vec<u8>> = (0..50)
        .map(|i| image(i, 20_000 + i as usize * 97))
        .collect();
    let hashes: Vec<String> = images
        .iter()
        .map(|f| hex::encode(Sha256::digest(f)))
        .collect();
    for file in &images {
        post_with_file(net.http(a), EAGER, file);
    }
    let twice = post_with_file(net.http(a), ON_DEMAND, &images[0]);
    for node in [b, c] {
        wait_until(LIMIT, "50 eager files on every node", || {
            let stored = net.stored(node);
            hashes.iter().all(|h| stored.contains(h))
        });
        wait_until(LIMIT, "the on-demand post", || {
            has_article(net.http(node), &twice)
        });
    }
    for node in [a, b, c] {
        let mut stored = net.stored(node);
        stored.sort();
        let mut want = hashes.clone();
        want.sort();
        assert_eq!(stored, want, "node {node}: each image once, none twice");
        let (status, _, bytes) = get(net.http(node), &format!("/{}.png", hashes[7]));
        assert_eq!(status, 200);
        assert!(bytes == images[7], "node {node} serves the right bytes");
    }

    // On-demand: posts reach every node, their files only where read.
    let later = image(1000, 300_000);
    let broken = image(1001, 200_000);
    let (later_hash, broken_hash) = (
        hex::encode(Sha256::digest(&later)),
        hex::encode(Sha256::digest(&broken)),
    );
    let ids = [
        post_with_file(net.http(a), ON_DEMAND, &later),
        post_with_file(net.http(a), ON_DEMAND, &broken),
    ];
    for node in [b, c] {
        wait_until(LIMIT, "the on-demand posts", || {
            ids.iter().all(|id| has_article(net.http(node), id))
        });
    }
    assert!(!net.stored(c).contains(&later_hash), "not fetched unasked");
    // B reads both (from A, the only holder), then its copy of one is
    // damaged on disk.
    for (hash, bytes) in [(&later_hash, &later), (&broken_hash, &broken)] {
        let (status, _, got) = get(net.http(b), &format!("/{hash}"));
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&got));
        assert!(&got == bytes);
    }
    let damaged = net.dirs[b]
        .path()
        .join("files")
        .join(&broken_hash[..2])
        .join(&broken_hash[2..4])
        .join(&broken_hash);
    let mut bad = broken.clone();
    bad[100_000] ^= 0xff;
    std::fs::write(&damaged, &bad).expect("damage B's copy");

    // With A down, C's first read fetches from B.
    net.stop(a);
    let (status, headers, got) = get(net.http(c), &format!("/{later_hash}.png"));
    assert_eq!(status, 200, "{headers:?}");
    assert!(got == later, "C got the file from B");
    assert_eq!(
        http_header(&headers, "etag"),
        Some(format!("\"{later_hash}\"").as_str())
    );

    // B's damaged copy is refused: nothing stored, no part kept.
    let (status, headers, _) = get(net.http(c), &format!("/{broken_hash}"));
    assert_eq!(status, 502, "{headers:?}");
    let reason = http_header(&headers, "x-reason").unwrap_or_default();
    assert!(
        reason.contains("n2.test sent bytes that hash to"),
        "{reason}"
    );
    assert!(!net.stored(c).contains(&broken_hash));
    let parts = std::fs::read_dir(net.dirs[c].path().join("files").join("tmp"))
        .expect("tmp")
        .count();
    assert_eq!(parts, 0, "bytes that did not hash right are not kept");

    // Once A is back, another holder with the right bytes is found.
    net.restart(a);
    let (status, headers, got) = get(net.http(c), &format!("/{broken_hash}"));
    assert_eq!(status, 200, "{headers:?}");
    assert!(got == broken, "C got the right bytes from A");

    // A file lost from B's disk is found again: at start B scans what its
    // articles reference and asks its peers for what is missing.
    let lost = net.dirs[b]
        .path()
        .join("files")
        .join(&hashes[3][..2])
        .join(&hashes[3][2..4])
        .join(&hashes[3]);
    net.stop(b);
    std::fs::remove_file(&lost).expect("lose B's copy");
    net.restart(b);
    wait_until(LIMIT, "the lost file back on B", || lost.exists());
    let (status, _, bytes) = get(net.http(b), &format!("/{}", hashes[3]));
    assert_eq!(status, 200);
    assert!(bytes == images[3]);
    for i in 0..NODES {
        net.stop(i);
    }
}

/// The number after `key=` in a log line.
fn logged_number(line: &str, key: &str) -> Option<u64> {
    line.split_whitespace()
        .find_map(|w| w.strip_prefix(key))
        .and_then(|n| n.parse().ok())
}

#[test]
fn a_transfer_cut_by_kill_9_resumes_from_its_offset_after_a_restart() {
    const SIZE: usize = 200 << 20;
    // A, in this process, holds the file; B, a real process, fetches it
    // and is killed in the middle.
    let dir_a = temp_dir();
    let dir_b = temp_dir();
    let key_a = tidings::keys::write_new_secret_key(&dir_a.path().join("node.key")).expect("key A");
    let data_b = dir_b.path().join("data");
    std::fs::create_dir_all(&data_b).expect("data B");
    let key_b = tidings::keys::write_new_secret_key(&data_b.join("node.key")).expect("key B");
    let mut config_a = config(dir_a.path());
    config_a.files.max_bytes = SIZE as u64;
    config_a.limits.http_request_secs = 600;
    config_a.peers.push(PeerConfig::new(
        "resume.b",
        hex::encode(key_b.verifying_key().as_bytes()),
    ));
    let a = TestNode::start(config_a);
    let file = image(7, SIZE);
    let hash = hex::encode(Sha256::digest(&file));
    let head = format!(
        "PUT /upload HTTP/1.1\r\nHost: t\r\nContent-Type: image/png\r\nContent-Length: {SIZE}\r\n"
    );
    let (status, _, answer) = http_exchange(a.http.expect("HTTP"), &head, &file);
    assert_eq!(status, 201, "{}", String::from_utf8_lossy(&answer));
    drop(file);

    let config_b = dir_b.path().join("b.toml");
    std::fs::write(
        &config_b,
        format!(
            "[node]\nname = \"resume.b\"\ndata_dir = {data_b:?}\n[listen]\nnntp = \"127.0.0.1:0\"\nhttp = \"127.0.0.1:0\"\nadmin = \"127.0.0.1:0\"\n[files]\nmax_bytes = {SIZE}\n[[group]]\nname = \"test.one\"\n[[peer]]\nname = \"test.node\"\nkey = \"{}\"\naddress = \"{}\"\n",
            hex::encode(key_a.verifying_key().as_bytes()),
            a.addr
        ),
    )
    .expect("config B");
    let b = NodeProcess::start(&config_b);
    let mut c = Client::connect(b.addr);
    assert_eq!(c.cmd("POST").0, 340);
    c.send_article(&format!(
        "From: poster <poster@example.org>\r\nNewsgroups: test.one\r\nSubject: a large file\r\nTidings-File: {hash} {SIZE} image/png name=large.png\r\n\r\nsee the file\r\n"
    ));
    assert_eq!(c.status().0, 240);

    let path = data_b
        .join("files")
        .join(&hash[..2])
        .join(&hash[2..4])
        .join(&hash);
    let part = data_b
        .join("files")
        .join("tmp")
        .join(format!("{hash}.part"));
    let part_len = || std::fs::metadata(&part).map(|m| m.len()).unwrap_or(0);
    wait_until(LIMIT, "a fifth of the file at B", || {
        part_len() >= (SIZE / 5) as u64
    });
    b.kill_9();
    let cut_at = part_len();
    assert!(
        cut_at > 0 && cut_at < SIZE as u64 && !path.exists(),
        "killed in the middle: {cut_at} of {SIZE} bytes in the part, no file yet"
    );

    let b = NodeProcess::start(&config_b);
    // The log, read by another thread, is what says the fetch ended.
    wait_until(LIMIT, "the file fetched at B after the restart", || {
        b.log_count(&["file fetched", &hash]) > 0
    });
    assert!(path.exists());
    let resumed = b.log_lines(&["resuming a file transfer", &hash]);
    assert_eq!(
        resumed
            .first()
            .and_then(|line| logged_number(line, "offset=")),
        Some(cut_at),
        "resumed from the part's length: {resumed:?}"
    );
    let fetched = b.log_lines(&["file fetched", &hash]);
    assert_eq!(
        fetched
            .first()
            .and_then(|line| logged_number(line, "resumed_from=")),
        Some(cut_at),
        "{fetched:?}"
    );
    let stored = std::fs::read(&path).expect("the file");
    assert_eq!(
        hex::encode(Sha256::digest(&stored)),
        hash,
        "whole and right"
    );
    assert!(!part.exists(), "the part became the file");
    let http = b.http_addr().expect("B's HTTP address");
    let (status, headers, _) =
        http_exchange(http, &format!("HEAD /{hash} HTTP/1.1\r\nHost: t\r\n"), b"");
    assert_eq!(status, 200);
    assert_eq!(
        http_header(&headers, "content-length"),
        Some(SIZE.to_string().as_str())
    );
    a.stop();
}

/// Posts a control signed by `key` (controls are signed by their author)
/// over NNTP at `addr`; the reply's code and text.
fn post_control(addr: SocketAddr, key: &SigningKey, control: &str, extra: &str) -> (u16, String) {
    let text = format!(
        "From: mod <mod@example.org>\r\nNewsgroups: {EAGER}\r\nSubject: cmsg {control}\r\nDate: {}\r\nMessage-ID: {}\r\nControl: {control}\r\n{extra}\r\ncontrol\r\n",
        chrono::Utc::now().to_rfc2822(),
        unique_id_for("file-control", key)
    );
    let mut c = Client::connect(addr);
    assert_eq!(c.cmd("POST").0, 340);
    c.send_article(&sign_with(&text, key));
    c.status()
}

/// The files of the article `id` as node `http` shows them.
fn files_at(http: SocketAddr, id: &str) -> Vec<serde_json::Value> {
    let path = format!(
        "/api/v1/articles/{}",
        id.replace('<', "%3C").replace('>', "%3E")
    );
    let (status, _, body) = get(http, &path);
    if status != 200 {
        return Vec::new();
    }
    let article: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
    article["files"].as_array().cloned().unwrap_or_default()
}

#[test]
fn a_removal_and_a_placeholder_reach_every_node_and_removed_bytes_stay_gone() {
    let mut net = Net::start();
    let (a, b, c) = (0, 1, 2);
    let removed = image(2000, 50_000);
    let replaced = image(2001, 40_000);
    let placeholder = image(2002, 3_000);
    let [removed_hash, replaced_hash, placeholder_hash] =
        [&removed, &replaced, &placeholder].map(|f| hex::encode(Sha256::digest(f)));
    let removed_post = post_with_file(net.http(a), EAGER, &removed);
    let replaced_post = post_with_file(net.http(a), EAGER, &replaced);
    for node in [b, c] {
        wait_until(LIMIT, "both files on every node", || {
            let stored = net.stored(node);
            stored.contains(&removed_hash) && stored.contains(&replaced_hash)
        });
    }

    // The post's author (A's node key signed it) removes its file.
    let (code, text) = post_control(
        net.nodes[a].as_ref().expect("A").addr,
        &net.keys[a],
        &format!("file-remove {removed_hash} {removed_post}"),
        "",
    );
    assert_eq!(code, 240, "{text}");
    for node in [a, b, c] {
        wait_until(LIMIT, "the removed file's bytes gone", || {
            !net.stored(node).contains(&removed_hash)
        });
        let (status, headers, _) = get(net.http(node), &format!("/{removed_hash}.png"));
        assert_eq!(status, 410, "node {node}: {headers:?}");
        let files = files_at(net.http(node), &removed_post);
        assert_eq!(files[0]["state"], "removed", "node {node}: {files:?}");
        assert!(files[0]["url"].is_null());
    }
    // Nothing takes it again: XFILE, an upload, a restart's scan.
    let mut client = Client::connect(net.nodes[b].as_ref().expect("B").addr);
    assert_eq!(client.cmd(&format!("XFILE {removed_hash}")).0, 495);
    let head = format!(
        "PUT /upload HTTP/1.1\r\nHost: t\r\nContent-Type: image/png\r\nContent-Length: {}\r\n",
        removed.len()
    );
    assert_eq!(http_exchange(net.http(b), &head, &removed).0, 410);
    net.stop(c);
    net.restart(c);
    let (status, _, _) = get(net.http(c), &format!("/{removed_hash}"));
    assert_eq!(status, 410);
    assert!(!net.stored(c).contains(&removed_hash));

    // A placeholder for the other file, carried by the control itself.
    let head = format!(
        "PUT /upload HTTP/1.1\r\nHost: t\r\nContent-Type: image/png\r\nContent-Length: {}\r\n",
        placeholder.len()
    );
    assert_eq!(http_exchange(net.http(a), &head, &placeholder).0, 201);
    let (code, text) = post_control(
        net.nodes[a].as_ref().expect("A").addr,
        &net.keys[a],
        &format!("file-placeholder {replaced_hash} {replaced_post} {placeholder_hash}"),
        &format!(
            "Tidings-File: {placeholder_hash} {} image/png\r\n",
            placeholder.len()
        ),
    );
    assert_eq!(code, 240, "{text}");
    for node in [a, b, c] {
        wait_until(LIMIT, "the placeholder shown", || {
            files_at(net.http(node), &replaced_post)
                .first()
                .is_some_and(|f| f["placeholder"] == placeholder_hash.as_str())
        });
        let files = files_at(net.http(node), &replaced_post);
        assert_eq!(files[0]["state"], "replaced");
        let url = files[0]["url"].as_str().expect("url").to_string();
        assert_eq!(url, format!("/{placeholder_hash}.png"));
        let (status, _, bytes) = get(net.http(node), &url);
        assert_eq!(status, 200, "node {node}");
        assert!(bytes == placeholder);
        // The replaced file itself is still served.
        assert_eq!(get(net.http(node), &format!("/{replaced_hash}")).0, 200);
    }
    for i in 0..NODES {
        net.stop(i);
    }
}

#[test]
fn a_blocked_file_is_neither_fetched_nor_served_by_xfile() {
    let mut net = Net::start();
    let (a, b, c) = (0, 1, 2);
    let banned = image(3000, 10_000);
    let banned_hash = hex::encode(Sha256::digest(&banned));
    net.stop(c);
    let listener = std::net::TcpListener::bind(net.addrs[c]).expect("rebind");
    let mut blocking = net.config(c);
    blocking.files.blocked = vec![banned_hash.clone()];
    net.nodes[c] = Some(TestNode::start_on(blocking, listener));

    let id = post_with_file(net.http(a), EAGER, &banned);
    wait_until(LIMIT, "the file on B", || {
        net.stored(b).contains(&banned_hash)
    });
    wait_until(LIMIT, "the post on C", || has_article(net.http(c), &id));
    let (status, _, _) = get(net.http(c), &format!("/{banned_hash}"));
    assert_eq!(status, 451);
    let mut client = Client::connect(net.nodes[c].as_ref().expect("C").addr);
    let (code, text) = client.cmd(&format!("XFILE {banned_hash}"));
    assert_eq!(code, 495, "{text}");
    assert!(text.contains("blocked"), "{text}");
    assert!(!net.stored(c).contains(&banned_hash));
    for i in 0..NODES {
        net.stop(i);
    }
}

#[test]
fn files_read_on_demand_are_evicted_least_recently_read_past_the_budget_and_pins_stay() {
    let mut net = Net::start();
    let (a, c) = (0, 2);
    let files: Vec<Vec<u8>> = (0..4).map(|i| image(4000 + i, 40_000)).collect();
    let hashes: Vec<String> = files
        .iter()
        .map(|f| hex::encode(Sha256::digest(f)))
        .collect();
    let ids: Vec<String> = files
        .iter()
        .map(|f| post_with_file(net.http(a), ON_DEMAND, f))
        .collect();
    wait_until(LIMIT, "the posts on C", || {
        ids.iter().all(|id| has_article(net.http(c), id))
    });
    // C again, with a budget of two and a half files and the fourth
    // pinned: its scan at start fetches the pinned one unasked.
    net.stop(c);
    let listener = std::net::TcpListener::bind(net.addrs[c]).expect("rebind");
    let mut config = net.config(c);
    config.files.cache_bytes = 100_000;
    config.files.pinned = vec![hashes[3].clone()];
    net.nodes[c] = Some(TestNode::start_on(config, listener));
    wait_until(LIMIT, "the pinned file on C", || {
        net.stored(c).contains(&hashes[3])
    });

    let read = |net: &Net, i: usize| {
        let (status, _, bytes) = get(net.http(c), &format!("/{}", hashes[i]));
        assert_eq!(status, 200, "file {i}");
        assert!(bytes == files[i], "file {i} served whole");
    };
    let stored = |net: &Net| {
        let on_disk = net.stored(c);
        (0..4)
            .filter(|&i| on_disk.contains(&hashes[i]))
            .collect::<Vec<_>>()
    };
    read(&net, 0);
    read(&net, 1);
    assert_eq!(stored(&net), vec![0, 1, 3]);
    read(&net, 0);
    read(&net, 2);
    assert_eq!(stored(&net), vec![0, 2, 3], "the least recently read went");
    read(&net, 1);
    assert_eq!(stored(&net), vec![1, 2, 3], "fetched again; the next went");

    // The operator pins the evicted one with a local control: C fetches it
    // unasked, and it is outside the budget from then on.
    let c_addr = net.nodes[c].as_ref().expect("C").addr;
    let (code, text) = post_control(
        c_addr,
        &net.keys[c],
        &format!("local-file-pin {}", hashes[0]),
        "",
    );
    assert_eq!(code, 240, "{text}");
    wait_until(LIMIT, "the pinned file fetched", || {
        stored(&net) == vec![0, 1, 2, 3]
    });
    read(&net, 0);
    assert_eq!(stored(&net), vec![0, 1, 2, 3]);
    for i in 0..NODES {
        net.stop(i);
    }
}

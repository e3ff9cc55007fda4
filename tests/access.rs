//! Who may read what (protocol-spec/access.md): a closed node serves an
//! anonymous connection nothing but what it needs to log in; AUTHINFO
//! USER/PASS (RFC 4643) against the users file; board rules decide what a
//! reader sees, reads and posts, by every route.

mod common;

use common::*;
use tidings::config::{AccessRule, Config};

const BOARD_FRIENDS: &str = "test.two";

fn closed_config(dir: &std::path::Path, plain: bool) -> Config {
    let mut config = config(dir);
    config.access.closed = true;
    config.access.plain_authinfo = plain;
    config.access.rules = vec![AccessRule {
        boards: BOARD_FRIENDS.into(),
        read: Some(vec!["group:friends".into()]),
        post: Some(vec!["group:friends".into()]),
    }];
    let ann = tidings::access::hash_password("ann's secret").expect("hash");
    let bob = tidings::access::hash_password("bob's secret").expect("hash");
    std::fs::write(dir.join("users"), format!("ann:{ann}:friends\nbob:{bob}\n"))
        .expect("users file");
    config
}

fn login(c: &mut Client, user: &str, password: &str) -> u16 {
    assert_eq!(c.cmd(&format!("AUTHINFO USER {user}")).0, 381);
    c.cmd(&format!("AUTHINFO PASS {password}")).0
}

#[test]
fn a_closed_node_serves_only_logged_in_readers_what_their_rules_allow() {
    let dir = temp_dir();
    let node = TestNode::start(closed_config(dir.path(), true));

    // Ann (group friends) posts on both boards.
    let mut ann = Client::connect(node.addr);
    assert_eq!(login(&mut ann, "ann", "ann's secret"), 281);
    let open_id = ann.post("test.one", "for all members", "body\r\n");
    let friends_id = ann.post(BOARD_FRIENDS, "for friends", "body\r\n");
    assert_eq!(ann.cmd("GROUP test.two").0, 211);
    assert_eq!(ann.cmd(&format!("ARTICLE {friends_id}")).0, 220);
    ann.block();
    assert_eq!(ann.cmd("AUTHINFO USER ann").0, 502, "already logged in");

    // A stranger gets 480 on every read route, and what logging in needs.
    let mut stranger = Client::connect(node.addr);
    assert_eq!(stranger.cmd("CAPABILITIES").0, 101);
    let caps = stranger.block();
    assert!(caps.contains(&"AUTHINFO USER".to_string()), "{caps:?}");
    for command in [
        "GROUP test.one".to_string(),
        "LISTGROUP test.one".to_string(),
        format!("ARTICLE {open_id}"),
        format!("HEAD {open_id}"),
        format!("STAT {open_id}"),
        format!("OVER {open_id}"),
        format!("HDR Subject {open_id}"),
        "LIST ACTIVE".to_string(),
        "NEWGROUPS 20000101 000000 GMT".to_string(),
        "NEWNEWS * 20000101 000000 GMT".to_string(),
        "POST".to_string(),
        "XSTATE".to_string(),
    ] {
        assert_eq!(stranger.cmd(&command).0, 480, "{command}");
    }
    stranger.send(b"XRECONCILE test.one\r\n.\r\n");
    assert_eq!(stranger.status().0, 480, "XRECONCILE, its block read");
    assert_eq!(stranger.cmd("DATE").0, 111, "still in step");
    assert_eq!(stranger.cmd("AUTHINFO PASS x").0, 482, "PASS before USER");
    assert_eq!(login(&mut stranger, "ann", "wrong"), 481);
    assert_eq!(login(&mut stranger, "nobody", "ann's secret"), 481);

    // Bob may read the open board, not the friends' one, by any route.
    let mut bob = Client::connect(node.addr);
    assert_eq!(login(&mut bob, "bob", "bob's secret"), 281);
    let caps = {
        bob.cmd("CAPABILITIES");
        bob.block()
    };
    assert!(!caps.iter().any(|l| l.starts_with("AUTHINFO")), "{caps:?}");
    assert_eq!(bob.cmd("GROUP test.one").0, 211);
    assert_eq!(bob.cmd(&format!("ARTICLE {open_id}")).0, 220);
    bob.block();
    assert_eq!(bob.cmd("GROUP test.two").0, 411);
    assert_eq!(bob.cmd(&format!("ARTICLE {friends_id}")).0, 430);
    assert_eq!(bob.cmd(&format!("OVER {friends_id}")).0, 430);
    assert_eq!(bob.cmd("LIST ACTIVE").0, 215);
    let active = bob.block();
    assert!(
        active.iter().any(|l| l.starts_with("test.one ")),
        "{active:?}"
    );
    assert!(
        !active.iter().any(|l| l.starts_with("test.two ")),
        "{active:?}"
    );
    assert_eq!(bob.cmd("NEWNEWS test.* 20000101 000000 GMT").0, 230);
    let new = bob.block();
    assert_eq!(new, vec![open_id.clone()], "only what bob may read");
    bob.send(b"XRECONCILE test.two\r\n.\r\n");
    assert_eq!(bob.status().0, 411);
    assert_eq!(bob.cmd("POST").0, 340);
    bob.send_article(
        "From: b <b@example.org>\r\nNewsgroups: test.two\r\nSubject: no\r\n\r\nbody\r\n",
    );
    let (code, why) = bob.status();
    assert_eq!(code, 441, "{why}");
    assert!(why.contains("test.two"), "{why}");
    node.stop();
}

#[test]
fn authinfo_needs_tls_unless_the_operator_allows_it_in_clear() {
    let dir = temp_dir();
    let node = TestNode::start(closed_config(dir.path(), false));
    let mut c = Client::connect(node.addr);
    assert_eq!(c.cmd("CAPABILITIES").0, 101);
    let caps = c.block();
    assert!(caps.contains(&"AUTHINFO".to_string()), "bare: {caps:?}");
    assert!(caps.contains(&"STARTTLS".to_string()), "{caps:?}");
    assert_eq!(c.cmd("AUTHINFO USER ann").0, 483);
    assert_eq!(c.cmd("AUTHINFO PASS ann's secret").0, 483);
    node.stop();
}

#[test]
fn the_http_api_takes_the_same_users_and_rules() {
    use base64::Engine;

    let dir = temp_dir();
    let node = TestNode::start(closed_config(dir.path(), true));
    let http = node.http.expect("HTTP");
    let get = |path: &str, credentials: Option<&str>| {
        let auth = credentials
            .map(|c| {
                format!(
                    "Authorization: Basic {}\r\n",
                    base64::engine::general_purpose::STANDARD.encode(c)
                )
            })
            .unwrap_or_default();
        http_exchange(
            http,
            &format!("GET {path} HTTP/1.1\r\nHost: t\r\n{auth}"),
            b"",
        )
    };
    let (status, headers, _) = get("/boards.json", None);
    assert_eq!(status, 401);
    assert!(
        http_header(&headers, "www-authenticate").is_some_and(|v| v.starts_with("Basic")),
        "{headers:?}"
    );
    assert_eq!(get("/boards.json", Some("ann:ann's secret")).0, 200);
    assert_eq!(get("/boards.json", Some("ann:wrong")).0, 401);
    assert_eq!(
        get("/test.two/catalog.json", Some("ann:ann's secret")).0,
        200
    );
    assert_eq!(
        get("/test.two/catalog.json", Some("bob:bob's secret")).0,
        404
    );
    assert_eq!(
        get("/api/v1/boards/test.two/threads", Some("bob:bob's secret")).0,
        404
    );
    assert_eq!(
        get("/test.one/catalog.json", Some("bob:bob's secret")).0,
        200
    );
    assert_eq!(get("/test.one/catalog.json", None).0, 401);

    // What lists boards, articles and changes shows bob only what he may
    // read; his post to the friends' board is refused.
    let mut ann = Client::connect(node.addr);
    assert_eq!(login(&mut ann, "ann", "ann's secret"), 281);
    let open_id = ann.post("test.one", "for members", "body\r\n");
    let friends_id = ann.post(BOARD_FRIENDS, "for friends", "body\r\n");
    let json = |(status, _, body): (u16, Vec<(String, String)>, Vec<u8>)| {
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
        serde_json::from_slice::<serde_json::Value>(&body).expect("json")
    };
    let bob = Some("bob:bob's secret");
    let boards = json(get("/boards.json", bob));
    let names: Vec<&str> = boards["boards"]
        .as_array()
        .expect("boards")
        .iter()
        .filter_map(|b| b["board"].as_str())
        .collect();
    assert!(
        names.contains(&"test.one") && !names.contains(&BOARD_FRIENDS),
        "{names:?}"
    );
    let native = json(get("/api/v1/boards", bob));
    assert!(!native.to_string().contains(BOARD_FRIENDS), "{native}");
    let path = |id: &str| {
        format!(
            "/api/v1/articles/{}",
            id.replace('<', "%3C").replace('>', "%3E")
        )
    };
    assert_eq!(get(&path(&open_id), bob).0, 200);
    assert_eq!(get(&path(&friends_id), bob).0, 404);
    assert_eq!(get(&path(&friends_id), Some("ann:ann's secret")).0, 200);
    let changes = json(get("/api/v1/changes?after=0", bob)).to_string();
    assert!(
        changes.contains(&open_id) && !changes.contains(&friends_id),
        "{changes}"
    );
    let changes = json(get("/api/v1/changes?after=0", Some("ann:ann's secret"))).to_string();
    assert!(changes.contains(&friends_id), "{changes}");
    // Ann's posts as bob may list them: the one he may read.
    let signer = {
        let article = json(get(&path(&open_id), bob));
        article["signer"].as_str().expect("signer").to_string()
    };
    let authored = json(get(&format!("/api/v1/authors/{signer}/posts"), bob)).to_string();
    assert!(
        authored.contains(&open_id) && !authored.contains(&friends_id),
        "{authored}"
    );
    let authored = json(get(
        &format!("/api/v1/authors/{signer}/posts"),
        Some("ann:ann's secret"),
    ))
    .to_string();
    assert!(authored.contains(&friends_id), "{authored}");
    let body = format!(r#"{{"board":"{BOARD_FRIENDS}","body":"mine too"}}"#);
    let auth = base64::engine::general_purpose::STANDARD.encode("bob:bob's secret");
    let (status, _, answer) = http_exchange(
        http,
        &format!(
            "POST /api/v1/posts HTTP/1.1\r\nHost: t\r\nAuthorization: Basic {auth}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n",
            body.len()
        ),
        body.as_bytes(),
    );
    assert_eq!(status, 403, "{}", String::from_utf8_lossy(&answer));
    node.stop();
}

#[test]
fn a_peer_is_sent_and_reconciles_only_the_boards_it_may_read() {
    use tidings::config::PeerConfig;

    let (dir_a, dir_b) = (temp_dir(), temp_dir());
    let key_a = tidings::keys::write_new_secret_key(&dir_a.path().join("node.key")).expect("key");
    let key_b = tidings::keys::write_new_secret_key(&dir_b.path().join("node.key")).expect("key");
    let (listen_a, listen_b) = (
        std::net::TcpListener::bind("127.0.0.1:0").expect("bind"),
        std::net::TcpListener::bind("127.0.0.1:0").expect("bind"),
    );
    let (addr_a, addr_b) = (
        listen_a.local_addr().expect("addr"),
        listen_b.local_addr().expect("addr"),
    );
    let node_config = |dir: &std::path::Path, name: &str, peer: &str, key: &str, at| {
        let mut config = config(dir);
        config.node.name = name.into();
        config.listen.open_transit = false;
        config.peers = vec![PeerConfig {
            address: Some(format!("{at}")),
            ..PeerConfig::new(peer, key)
        }];
        config
    };
    let mut config_a = node_config(dir_a.path(), "a.test", "b.test", &hex_key(&key_b), addr_b);
    // B may not read test.two on A.
    config_a.access.rules = vec![AccessRule {
        boards: BOARD_FRIENDS.into(),
        read: Some(vec!["user:ann".into()]),
        post: None,
    }];
    let config_b = node_config(dir_b.path(), "b.test", "a.test", &hex_key(&key_a), addr_a);
    let a = TestNode::start_on(config_a, listen_a);
    let b = TestNode::start_on(config_b, listen_b);

    let mut poster = Client::connect(a.addr);
    let hidden = poster.post(BOARD_FRIENDS, "not for b", "body\r\n");
    let shown = poster.post("test.one", "for b", "body\r\n");
    // B's outbox at A is in order: once the later post is at B, the
    // earlier one would have been too, had it been routed.
    let mut reader = Client::connect(b.addr);
    wait_until(
        std::time::Duration::from_secs(30),
        "the open post at B",
        || reader.cmd(&format!("STAT {shown}")).0 == 223,
    );
    assert_eq!(reader.cmd(&format!("STAT {hidden}")).0, 430);

    // B, as a peer, cannot reconcile the board either.
    let mut peer = Client::connect(a.addr);
    peer.xpeer("a.test", "b.test", &key_b);
    peer.send(b"XRECONCILE test.two\r\n.\r\n");
    assert_eq!(peer.status().0, 411);
    peer.send(b"XRECONCILE test.one\r\n.\r\n");
    assert_eq!(peer.status().0, 290);
    peer.block();
    // Nor can it fetch the article by its Message-ID, as a catch-up would;
    // an XIHAVE offer of it gets nothing sent either.
    assert_eq!(peer.cmd(&format!("ARTICLE {hidden}")).0, 430);
    assert_eq!(peer.cmd(&format!("ARTICLE {shown}")).0, 220);
    peer.block();
    peer.send(format!("XIHAVE\r\n{hidden}\r\n.\r\n").as_bytes());
    assert_eq!(peer.status().0, 291);
    assert!(peer.block().is_empty(), "A has it: not wanted");
    assert_eq!(peer.cmd("DATE").0, 111, "and nothing else follows");
    b.stop();
    a.stop();
}

#[test]
fn a_reader_logs_in_as_its_key_by_signing_a_challenge() {
    let dir = temp_dir();
    let mut config = closed_config(dir.path(), true);
    with_moderator_and_third_board(&mut config);
    config.access.rules.push(AccessRule {
        boards: "test.three".into(),
        read: Some(vec![format!("key:{}", hex_key(&moderator()))]),
        post: None,
    });
    let node = TestNode::start(config);
    let server = "test.node";
    let answer = |c: &mut Client, key: &ed25519_dalek::SigningKey| log_in_as_key(c, server, key);

    let mut c = Client::connect(node.addr);
    assert_eq!(c.cmd("CAPABILITIES").0, 101);
    assert!(c.block().contains(&"X-TIDINGS-AUTHKEY 1".to_string()));
    // A key nobody vouched for, and a wrong signature, are 481.
    assert_eq!(answer(&mut c, &stranger()).0, 481);
    let hex = hex_key(&moderator());
    assert_eq!(c.cmd(&format!("XAUTHKEY {hex}")).0, 381);
    assert_eq!(c.cmd(&format!("XAUTHKEY {hex} {}", "00".repeat(64))).0, 481);
    assert_eq!(
        c.cmd(&format!("XAUTHKEY {hex} {}", "00".repeat(64))).0,
        482,
        "a challenge answers once"
    );
    assert_eq!(c.cmd("GROUP test.three").0, 480);
    // The moderator's key signs its challenge: it reads what its key may.
    let (code, text) = answer(&mut c, &moderator());
    assert_eq!(code, 281, "{text}");
    assert_eq!(c.cmd("GROUP test.three").0, 211);
    assert_eq!(c.cmd("GROUP test.one").0, 211, "any authenticated reader");
    assert_eq!(c.cmd("GROUP test.two").0, 411, "not in group friends");
    assert_eq!(c.cmd(&format!("XAUTHKEY {hex}")).0, 502);
    node.stop();
}

#[test]
fn wrong_passwords_slow_their_own_address_not_other_clients() {
    let dir = temp_dir();
    let node = TestNode::start(closed_config(dir.path(), true));
    let mut guesser = Client::connect(node.addr);
    for _ in 0..8 {
        assert_eq!(login(&mut guesser, "ann", "guess"), 481);
    }
    // The ninth wrong password from this address waits 1.6 s before its
    // answer; meanwhile a reader from another address (loopback answers
    // for all of 127/8) logs in at once.
    assert_eq!(guesser.cmd("AUTHINFO USER ann").0, 381);
    guesser.send(b"AUTHINFO PASS guess again\r\n");
    let mut other = Client::connect_from("127.0.0.2".parse().expect("ip"), node.addr);
    assert_eq!(login(&mut other, "bob", "bob's secret"), 281);
    let peek = guesser.writer_clone();
    peek.set_nonblocking(true).expect("nonblocking");
    let mut byte = [0u8; 1];
    assert!(
        matches!(peek.peek(&mut byte), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock),
        "the guesser is still waiting when the other reader is in"
    );
    peek.set_nonblocking(false).expect("blocking");
    assert_eq!(guesser.status().0, 481);
    node.stop();
}

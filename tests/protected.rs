//! Protected posts (protocol-spec/access.md §7): a post naming an audience
//! travels to, is kept by and is served by only the nodes and readers
//! holding a grant of it, signed by its owner; an ungrant stops new ones.

mod common;

use std::time::Duration;

use common::*;
use tidings::clock::Clock;
use tidings::config::{AccessRule, GroupConfig};

const FRIENDS: &str = "test.friends";

/// A POST protected for `audience` (`<owner hex> <name>`) on FRIENDS, with
/// more header lines; the Message-ID the 240 names.
fn post_protected_with(c: &mut Client, audience: &str, subject: &str, headers: &str) -> String {
    let headers = format!("Tidings-Audience: {audience}\r\n{headers}");
    c.post_with(FRIENDS, subject, &headers, "for friends\r\n")
}

fn post_protected(c: &mut Client, audience: &str, subject: &str) -> String {
    post_protected_with(c, audience, subject, "")
}

#[test]
fn a_protected_post_reaches_only_nodes_and_readers_holding_a_grant() {
    // A — C — B: B hears from A only through C, and knows A's key.
    let mut net = Net::new(&["a.prot", "c.prot", "b.prot"], &[(0, 1), (1, 2)]);
    let (a, c, b) = (0, 1, 2);
    let owner = author();
    let audience = format!("{} friends", hex_key(&owner));
    let reader = stranger();
    let configs: Vec<_> = (0..3)
        .map(|i| {
            let mut config = net.config(i);
            net.trust(&mut config, a);
            config.groups.push(GroupConfig {
                name: FRIENDS.into(),
                description: "friends only".into(),
            });
            config.access.rules = vec![AccessRule {
                boards: FRIENDS.into(),
                read: Some(vec![format!("audience:{}/friends", hex_key(&owner))]),
                post: Some(vec!["anyone".into()]),
            }];
            config
        })
        .collect();
    let nodes: Vec<TestNode> = configs
        .into_iter()
        .enumerate()
        .map(|(i, config)| net.start(i, config, Clock::system()))
        .collect();
    let limit = Duration::from_secs(30);
    let at = |i: usize, who: Option<&ed25519_dalek::SigningKey>| {
        let mut client = Client::connect(nodes[i].addr);
        if let Some(key) = who {
            assert_eq!(log_in_as_key(&mut client, &net.names[i], key).0, 281);
        }
        client
    };
    let arrived = |client: &mut Client, id: &str, what: &str| {
        wait_until(limit, what, || client.cmd(&format!("STAT {id}")).0 == 223);
    };

    // The owner grants A and C the audience as caches, the reader as a
    // reader, dated a minute ago (an ungrant later is dated now).
    let granted = chrono::Utc::now() - chrono::Duration::seconds(60);
    let mut last = String::new();
    for (key, scope) in [
        (&net.keys[a], "cache"),
        (&net.keys[c], "cache"),
        (&reader, "read"),
    ] {
        let command = format!("grant friends {} {scope} never", hex_key(key));
        last = post_control(nodes[a].addr, &owner, &command, "control", granted);
    }
    let mut anonymous_b = at(b, None);
    arrived(&mut anonymous_b, &last, "the grants at B");

    // A protected post, with a file, reaches C, not B, which holds no
    // grant.
    let image = b"\x89PNG\r\n\x1a\n a picture for friends only".to_vec();
    let hash = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&image));
    let upload = format!(
        "PUT /upload HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\nContent-Length: {}\r\n",
        image.len()
    );
    let (status, _, _) = http_exchange(nodes[a].http.expect("HTTP"), &upload, &image);
    assert_eq!(status, 201);
    let mut poster = at(a, None);
    let file = format!("Tidings-File: {hash} {} image/png\r\n", image.len());
    let first = post_protected_with(&mut poster, &audience, "before B's grant", &file);
    let marker = poster.post("test.one", "after the first", "open\r\n");
    let mut reader_c = at(c, Some(&reader));
    let mut reader_b = at(b, Some(&reader));
    arrived(&mut reader_c, &first, "the protected post at C");
    arrived(&mut anonymous_b, &marker, "the open post after it at B");
    assert_eq!(reader_b.cmd(&format!("STAT {first}")).0, 430, "not at B");
    // C serves it to the reader holding a grant, not to one without.
    assert_eq!(reader_c.cmd(&format!("ARTICLE {first}")).0, 220);
    assert!(reader_c.block().iter().any(|l| l == "for friends"));
    let mut anonymous_c = at(c, None);
    assert_eq!(anonymous_c.cmd(&format!("ARTICLE {first}")).0, 480);
    assert_eq!(anonymous_c.cmd(&format!("GROUP {FRIENDS}")).0, 480);
    // Over HTTP too: the reader signs its request (Tidings-Key).
    let http_c = nodes[c].http.expect("HTTP");
    let target = format!(
        "/api/v1/articles/{}",
        first.replace('<', "%3C").replace('>', "%3E")
    );
    let signed_get = |key: &ed25519_dalek::SigningKey, target: &str, time: u64, tamper: bool| {
        let message = tidings::proto::signing::http_key_message(
            &net.names[c],
            "GET",
            target,
            &hex_key(key),
            time,
        );
        let mut signature = ed25519_dalek::Signer::sign(key, &message).to_bytes();
        if tamper {
            signature[0] ^= 1;
        }
        let head = format!(
            "GET {target} HTTP/1.1\r\nHost: x\r\nAuthorization: Tidings-Key {} {time} {}\r\n",
            hex_key(key),
            hex::encode(signature)
        );
        http_exchange(http_c, &head, b"").0
    };
    let now = chrono::Utc::now().timestamp() as u64;
    assert_eq!(signed_get(&reader, &target, now, false), 200);
    assert_eq!(
        signed_get(&reader, &target, now, true),
        401,
        "a wrong signature"
    );
    assert_eq!(
        signed_get(&reader, &target, now - 300, false),
        401,
        "too old"
    );
    let anonymous = |target: &str| {
        let head = format!("GET {target} HTTP/1.1\r\nHost: x\r\n");
        http_exchange(http_c, &head, b"").0
    };
    assert_eq!(anonymous(&target), 401);
    // Its file likewise: C fetched it from A as a holder of the audience,
    // and serves it only to readers of the post.
    let file_target = format!("/{hash}");
    assert_eq!(signed_get(&reader, &file_target, now, false), 200);
    assert_eq!(anonymous(&file_target), 401);
    let mut stranger_c = at(c, None);
    let other = ed25519_dalek::SigningKey::from_bytes(&[77; 32]);
    assert_eq!(
        log_in_as_key(&mut stranger_c, &net.names[c], &other).0,
        481,
        "a key with neither passport nor grant cannot log in"
    );

    // B is granted: the next protected post reaches it through C.
    let command = format!("grant friends {} cache never", hex_key(&net.keys[b]));
    let grant_b = post_control(nodes[a].addr, &owner, &command, "control", granted);
    arrived(&mut anonymous_b, &grant_b, "B's grant at B");
    let second = post_protected(&mut poster, &audience, "after B's grant");
    arrived(&mut reader_b, &second, "the protected post at B");
    assert_eq!(anonymous_b.cmd(&format!("STAT {second}")).0, 480);

    // The owner ungrants B: new protected posts stop reaching it.
    let command = format!("ungrant friends {}", hex_key(&net.keys[b]));
    let ungrant = post_control(
        nodes[a].addr,
        &owner,
        &command,
        "control",
        chrono::Utc::now(),
    );
    arrived(&mut anonymous_b, &ungrant, "the ungrant at B");
    let third = post_protected(&mut poster, &audience, "after the ungrant");
    let marker = poster.post("test.one", "after the third", "open\r\n");
    arrived(&mut reader_c, &third, "the third at C");
    arrived(
        &mut anonymous_b,
        &marker,
        "the open post after the third at B",
    );
    assert_eq!(reader_b.cmd(&format!("STAT {third}")).0, 430, "not at B");
    // Nor may B take one from its own readers now, and no node files a
    // protected post in a board not reserved for its audience.
    let mut poster_b = at(b, None);
    assert_eq!(poster_b.cmd("POST").0, 340);
    poster_b.send_article(&format!(
        "From: a@b\r\nNewsgroups: {FRIENDS}\r\nSubject: at B\r\nTidings-Audience: {audience}\r\n\r\nx\r\n"
    ));
    let (code, text) = poster_b.status();
    assert_eq!(code, 441, "{text}");
    assert!(text.contains("no grant"), "{text}");
    assert_eq!(poster.cmd("POST").0, 340);
    poster.send_article(&format!(
        "From: a@b\r\nNewsgroups: test.one\r\nSubject: open\r\nTidings-Audience: {audience}\r\n\r\nx\r\n"
    ));
    let (code, text) = poster.status();
    assert_eq!(code, 441, "{text}");
    assert!(text.contains("not reserved"), "{text}");
    // What B holds already it keeps serving to granted readers.
    assert_eq!(reader_b.cmd(&format!("STAT {second}")).0, 223);

    for node in nodes {
        node.stop();
    }
}

#[test]
fn trust_levels_grant_this_nodes_audiences_to_their_peers() {
    // A feeds B (cache-friends) and C (cache-open); both know only A.
    let mut net = Net::new(&["a.level", "b.level", "c.level"], &[(0, 1), (0, 2)]);
    let (a, b, c) = (0, 1, 2);
    let friends = format!("{}/friends", hex_key(&net.keys[a]));
    let reserve = |config: &mut tidings::config::Config| {
        config.groups.push(GroupConfig {
            name: FRIENDS.into(),
            description: "friends only".into(),
        });
        config.access.rules = vec![AccessRule {
            boards: FRIENDS.into(),
            read: Some(vec![format!("audience:{friends}")]),
            post: Some(vec!["anyone".into()]),
        }];
    };
    let mut config_a = net.config(a);
    reserve(&mut config_a);
    for peer in &mut config_a.peers {
        if peer.name == net.names[b] {
            peer.trust = Some(tidings::config::TrustLevel::CacheFriends);
        } else if peer.name == net.names[c] {
            peer.trust = Some(tidings::config::TrustLevel::CacheOpen);
        }
    }
    let configs = [config_a, net.config(b), net.config(c)];
    let nodes: Vec<TestNode> = configs
        .into_iter()
        .enumerate()
        .map(|(i, mut config)| {
            if i != a {
                reserve(&mut config);
            }
            net.start(i, config, Clock::system())
        })
        .collect();
    let limit = Duration::from_secs(30);

    // At start A signs `grant protected <B> cache never` and `grant
    // friends <B> …`, nothing for C; they flood to both.
    for i in [a, b, c] {
        let mut client = Client::connect(nodes[i].addr);
        wait_until(limit, "A's two grants", || client.count("control") == 2);
    }
    // B keeps A's friends-only posts, C does not. This one comes from a
    // web front end, as JSON with its audience; on an open board it is
    // refused with the reason.
    let mut poster = Client::connect(nodes[a].addr);
    let http_a = nodes[a].http.expect("HTTP");
    let json_post = |board: &str| {
        let body = serde_json::json!({
            "board": board,
            "body": "for friends",
            "audience": friends.replace('/', " "),
        })
        .to_string();
        let head = format!(
            "POST /api/v1/posts HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\n",
            body.len()
        );
        let (status, _, answer) = http_exchange(http_a, &head, body.as_bytes());
        let answer: serde_json::Value = serde_json::from_slice(&answer).expect("JSON");
        (status, answer)
    };
    let (status, answer) = json_post("test.one");
    assert_eq!(status, 422, "{answer}");
    assert!(
        answer["reason"]
            .as_str()
            .is_some_and(|r| r.contains("not reserved")),
        "{answer}"
    );
    let (status, answer) = json_post(FRIENDS);
    assert_eq!(status, 201, "{answer}");
    let post = answer["message_id"]
        .as_str()
        .expect("message_id")
        .to_string();
    let marker = poster.post("test.one", "open", "for all\r\n");
    let mut reader_b = Client::connect(nodes[b].addr);
    assert_eq!(
        log_in_as_key(&mut reader_b, &net.names[b], &net.keys[b]).0,
        281
    );
    wait_until(limit, "the friends-only post at B", || {
        reader_b.cmd(&format!("STAT {post}")).0 == 223
    });
    // B's key holds the audience, so it may look at C too: nothing there.
    let mut reader_c = Client::connect(nodes[c].addr);
    wait_until(limit, "the open post at C", || {
        reader_c.cmd(&format!("STAT {marker}")).0 == 223
    });
    assert_eq!(
        log_in_as_key(&mut reader_c, &net.names[c], &net.keys[b]).0,
        281
    );
    assert_eq!(
        reader_c.count(FRIENDS),
        0,
        "C keeps none of A's friends-only posts"
    );
    assert_eq!(reader_c.cmd(&format!("STAT {post}")).0, 430);
    for node in nodes {
        node.stop();
    }
}

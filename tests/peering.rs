//! Peer authentication and rights on a node that takes transit only from
//! configured peers (the default).

mod common;

use common::*;
use ed25519_dalek::SigningKey;
use tidings::config::PeerConfig;

/// A node whose peer "limited.peer" (key 51) may announce articles only.
fn node() -> (tempfile::TempDir, TestNode) {
    let dir = temp_dir();
    let mut config = config(dir.path());
    config.listen.open_transit = false;
    config.peers.push(PeerConfig {
        accept: vec!["articles".into()],
        ..PeerConfig::new("limited.peer", hex_key(&SigningKey::from_bytes(&[51; 32])))
    });
    let node = TestNode::start(config);
    (dir, node)
}

#[test]
fn strangers_cannot_use_transit_commands() {
    let (_dir, node) = node();
    let mut c = Client::connect(node.addr);
    let id = unique_id("stranger");
    assert_eq!(c.cmd(&format!("IHAVE {id}")).0, 480);
    assert_eq!(c.cmd(&format!("CHECK {id}")).0, 480);
    assert_eq!(c.cmd("MODE STREAM").0, 480);
    // TAKETHIS is followed by its article, which is read and refused.
    c.send(format!("TAKETHIS {id}\r\n").as_bytes());
    c.send_article(&article(&id, "test.one", "x\r\n"));
    assert_eq!(c.status().0, 480);
    assert_eq!(c.cmd("DATE").0, 111, "still in sync");
    assert_eq!(c.cmd(&format!("STAT {id}")).0, 430);
    // Readers and posters are not affected.
    assert_eq!(c.cmd("GROUP test.one").0, 211);
    assert_eq!(c.cmd("CAPABILITIES").0, 101);
    assert!(c.block().iter().any(|l| l == "X-TIDINGS-PEER 1"));
}

#[test]
fn a_peer_proves_its_key() {
    let (_dir, node) = node();
    let mut c = Client::connect(node.addr);
    assert_eq!(c.cmd("XPEER nobody.invalid").0, 481);
    // The right name with the wrong key is refused.
    let (code, challenge) = c.cmd("XPEER tests.peer");
    assert_eq!(code, 381);
    let wrong = SigningKey::from_bytes(&[99; 32]);
    let message =
        tidings::proto::signing::peer_challenge_message("test.node", "tests.peer", &challenge);
    let signature = ed25519_dalek::Signer::sign(&wrong, &message);
    let (code, text) = c.cmd(&format!(
        "XPEER tests.peer {}",
        hex::encode(signature.to_bytes())
    ));
    assert_eq!(code, 481, "{text}");
    assert_eq!(c.cmd(&format!("IHAVE {}", unique_id("x"))).0, 480);

    // The right key works, once.
    c.xpeer("test.node", "tests.peer", &author());
    let id = unique_id("peer");
    assert_eq!(c.cmd(&format!("IHAVE {id}")).0, 335);
    c.send_article(&article(&id, "test.one", "from a peer\r\n"));
    assert_eq!(c.status().0, 235);
    assert_eq!(c.cmd("XPEER tests.peer").0, 502);
}

#[test]
fn a_peer_without_the_board_right_cannot_announce_boards() {
    let (_dir, node) = node();
    let mut c = Client::connect(node.addr);
    c.xpeer(
        "test.node",
        "limited.peer",
        &SigningKey::from_bytes(&[51; 32]),
    );
    // Signed by a key allowed to create boards, but relayed by a peer that
    // may not announce them.
    let id = unique_id("newgroup");
    let text = article_text(&id, "chan.new", "A board\r\n").replacen(
        "\r\n\r\n",
        "\r\nControl: newgroup chan.new\r\n\r\n",
        1,
    );
    assert_eq!(c.cmd(&format!("IHAVE {id}")).0, 335);
    c.send_article(&sign(&text));
    let (code, reason) = c.status();
    assert_eq!(code, 437);
    assert!(reason.contains("may not announce boards"), "{reason}");
    assert_eq!(c.cmd("GROUP chan.new").0, 411);
    // Not remembered: a peer with the right may still bring it.
    let mut full = Client::connect(node.addr);
    full.xpeer("test.node", "tests.peer", &author());
    assert_eq!(full.cmd(&format!("IHAVE {id}")).0, 335);
    full.send_article(&sign(&text));
    assert_eq!(full.status().0, 235);
    assert_eq!(full.cmd("GROUP chan.new").0, 211);
    // Ordinary articles from the limited peer are fine.
    let post = unique_id("post");
    assert_eq!(c.cmd(&format!("IHAVE {post}")).0, 335);
    c.send_article(&article(&post, "test.one", "x\r\n"));
    assert_eq!(c.status().0, 235);
}

#[test]
fn the_load_generator_authenticates_as_a_peer() {
    let (_dir, node) = node();
    let load = tidings::loadgen::Load {
        target: node.addr,
        connections: 2,
        articles: 200,
        size: 512,
        group: "test.one".into(),
        window: 16,
        key: Some(author()),
        peer: Some("tests.peer".into()),
    };
    let outcome = tidings::loadgen::run(&load).expect("load ran");
    assert_eq!(
        (outcome.accepted, outcome.refused, outcome.other),
        (200, 0, 0),
        "{outcome}"
    );
    assert_eq!(Client::connect(node.addr).count("test.one"), 200);
}

/// A plain NNTP peer (INN) cannot XPEER: it is known by its address, and
/// its unsigned articles are taken only because its entry says so.
#[test]
fn a_plain_peer_is_known_by_its_host_and_may_send_unsigned() {
    let dir = temp_dir();
    let mut config = config(dir.path());
    config.listen.open_transit = false;
    config.peers.push(PeerConfig {
        hosts: vec!["127.0.0.1".parse().expect("ip")],
        unsigned: tidings::config::Unsigned::Accept,
        ..PeerConfig::new("inn.example", "")
    });
    let node = TestNode::start(config);
    let mut c = Client::connect(node.addr);
    // No XPEER needed from the plain peer's host.
    let id = "<plain.1@inn.example>";
    let text = article_text(id, "test.one", "from INN\r\n")
        .replace("Path: elsewhere!", "Path: inn.example!");
    c.send(format!("TAKETHIS {id}\r\n").as_bytes());
    c.send_article(&text);
    let (code, reply) = c.status();
    assert_eq!(code, 239, "{reply}");
    assert_eq!(c.cmd("HEAD <plain.1@inn.example>").0, 221);
    let path = c
        .block()
        .into_iter()
        .find_map(|l| l.strip_prefix("Path: ").map(str::to_string))
        .expect("Path");
    assert_eq!(path, "test.node!inn.example!not-for-mail");
    // A keyed peer on the same host still proves itself with XPEER.
    let mut k = Client::connect(node.addr);
    k.xpeer("test.node", "tests.peer", &author());
    let unsigned = "<plain.2@elsewhere.example>";
    k.send(format!("TAKETHIS {unsigned}\r\n").as_bytes());
    k.send_article(&article_text(unsigned, "test.one", "unsigned\r\n"));
    let (code, reply) = k.status();
    assert_eq!(code, 439, "{reply}");
    assert!(reply.contains("not signed"), "{reply}");
}

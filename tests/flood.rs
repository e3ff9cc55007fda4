//! Flooding between peers on loopback: five nodes in a ring with one
//! chord, each feeding its neighbours from a durable outbox.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::*;
use ed25519_dalek::SigningKey;
use tidings::config::{Config, GroupConfig, PeerConfig};

const NODES: usize = 5;
/// Ring 1-2-3-4-5-1 plus the chord 1-3 (0-based below).
const EDGES: &[(usize, usize)] = &[(0, 1), (1, 2), (2, 3), (3, 4), (4, 0), (0, 2)];

fn name(i: usize) -> String {
    format!("n{}.test", i + 1)
}

fn neighbours(i: usize) -> Vec<usize> {
    EDGES
        .iter()
        .filter_map(|&(a, b)| {
            if a == i {
                Some(b)
            } else if b == i {
                Some(a)
            } else {
                None
            }
        })
        .collect()
}

struct Mesh {
    dirs: Vec<tempfile::TempDir>,
    addrs: Vec<SocketAddr>,
    keys: Vec<SigningKey>,
    nodes: Vec<Option<TestNode>>,
}

impl Mesh {
    fn config(&self, i: usize) -> Config {
        let mut config = Config::default();
        config.node.name = name(i);
        config.node.data_dir = self.dirs[i].path().to_path_buf();
        config.groups = vec![GroupConfig {
            name: "test.flood".into(),
            description: String::new(),
        }];
        // Every node knows every node's key (their posts verify anywhere);
        // only neighbours have an address to feed.
        config.peers = (0..NODES)
            .filter(|&j| j != i)
            .map(|j| PeerConfig {
                address: neighbours(i)
                    .contains(&j)
                    .then(|| self.addrs[j].to_string()),
                ..PeerConfig::new(
                    name(j),
                    hex::encode(self.keys[j].verifying_key().as_bytes()),
                )
            })
            .collect();
        config
    }

    fn start() -> Mesh {
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
        let mut mesh = Mesh {
            dirs,
            addrs,
            keys,
            nodes: Vec::new(),
        };
        for (i, listener) in listeners.into_iter().enumerate() {
            let node = TestNode::start_on(mesh.config(i), listener);
            mesh.nodes.push(Some(node));
        }
        mesh
    }

    fn node(&self, i: usize) -> &TestNode {
        self.nodes[i].as_ref().expect("running")
    }

    fn stop(&mut self, i: usize) {
        if let Some(node) = self.nodes[i].take() {
            node.stop();
        }
    }

    fn restart(&mut self, i: usize) {
        let listener = std::net::TcpListener::bind(self.addrs[i]).expect("rebind the same port");
        self.nodes[i] = Some(TestNode::start_on(self.config(i), listener));
    }
}

fn has(addr: SocketAddr, id: &str) -> bool {
    Client::connect(addr).cmd(&format!("STAT {id}")).0 == 223
}

fn count(addr: SocketAddr) -> u64 {
    Client::connect(addr).count("test.flood")
}

#[test]
fn a_post_reaches_every_node_once_by_a_real_route() {
    let mesh = Mesh::start();
    let mut c = Client::connect(mesh.node(0).addr);
    let id = c.post("test.flood", "flood", "to everyone\r\n");

    let took = wait_until(Duration::from_secs(2), "the post on all 5 nodes", || {
        (0..NODES).all(|i| has(mesh.node(i).addr, &id))
    });
    eprintln!("post reached all {NODES} nodes in {took:?}");

    // Path at the farthest node (n4) is a real route back to n1.
    let edges: Vec<(String, String)> = EDGES.iter().map(|&(a, b)| (name(a), name(b))).collect();
    assert_route(mesh.node(3).addr, &id, &name(0), &name(3), &edges);

    // Each node but the origin got the body, from a feed (IHAVE or
    // TAKETHIS) or, when its catch-up on connecting ran first, fetched by
    // it; the origin got none back. Whether a race sent a second copy is
    // the churn harness's figure (duplicate transfers), not asserted here.
    for i in 0..NODES {
        let counters = &mesh.node(i).counters;
        let bodies = counters
            .bodies_received
            .load(std::sync::atomic::Ordering::Relaxed)
            + counters
                .bodies_fetched
                .load(std::sync::atomic::Ordering::Relaxed);
        if i == 0 {
            assert_eq!(bodies, 0, "{} got its own post back", name(i));
        } else {
            assert!(bodies >= 1, "{} received {bodies} bodies", name(i));
        }
    }
    for i in 0..NODES {
        assert_eq!(count(mesh.node(i).addr), 1, "{} stored it once", name(i));
    }
}

/// A newsreader's own Message-ID (free: it names no key) is kept by the
/// injecting node, and every other node takes it under that id, signed by
/// the injecting node's key (signing.md §3).
#[test]
fn a_posters_own_message_id_is_kept_across_the_network() {
    let mesh = Mesh::start();
    let mut c = Client::connect(mesh.node(0).addr);
    let id = free_id("newsreader");
    assert_eq!(c.cmd("POST").0, 340);
    c.send_article(&format!(
        "From: Reader <reader@example.org>\r\nNewsgroups: test.flood\r\nSubject: my id\r\nMessage-ID: {id}\r\n\r\nfollow me\r\n"
    ));
    let (code, text) = c.status();
    assert_eq!(code, 240, "{text}");
    wait_until(Duration::from_secs(5), "the post on all nodes", || {
        (0..NODES).all(|i| has(mesh.node(i).addr, &id))
    });
    let mut far = Client::connect(mesh.node(3).addr);
    assert_eq!(far.cmd(&format!("ARTICLE {id}")).0, 220);
    let served = far.block().join("\r\n") + "\r\n";
    let article =
        tidings::proto::article::Article::parse(bytes::Bytes::from(served)).expect("parses");
    assert_eq!(article.message_id(), Some(id.into_bytes()));
    assert_eq!(
        tidings::proto::signing::verify(&article),
        Ok(mesh.keys[0].verifying_key()),
        "signed by the injecting node"
    );
}

#[test]
fn a_node_that_was_down_catches_up_from_the_outboxes() {
    let mut mesh = Mesh::start();
    mesh.stop(2);
    let key = mesh.keys[0].clone();
    let ids: Vec<String> = (0..1000).map(|_| unique_id_for("flood", &key)).collect();
    let mut c = Client::connect(mesh.node(0).addr);
    c.xpeer(&name(0), &name(1), &mesh.keys[1]);
    c.stream_accepted(ids.iter().map(|id| {
        (
            id.clone(),
            sign_with(&article_text(id, "test.flood", "catch me up\r\n"), &key),
        )
    }));
    for i in [0, 1, 3, 4] {
        wait_until(
            Duration::from_secs(30),
            "the live nodes to have all 1000",
            || count(mesh.node(i).addr) == 1000,
        );
    }
    mesh.restart(2);
    let took = wait_until(
        Duration::from_secs(30),
        "the restarted node to catch up",
        || count(mesh.node(2).addr) == 1000,
    );
    eprintln!(
        "restarted node caught up on 1000 articles in {took:?} ({:.0} articles/s)",
        1000.0 / took.as_secs_f64()
    );
    // Outboxes push and the catch-up on reconnect pulls; between them
    // each article still crosses once.
    let counters = &mesh.node(2).counters;
    let pushed = counters
        .bodies_received
        .load(std::sync::atomic::Ordering::Relaxed);
    let pulled = counters
        .bodies_fetched
        .load(std::sync::atomic::Ordering::Relaxed);
    assert_eq!(
        pushed + pulled,
        1000,
        "each article was transferred to the restarted node once ({pushed} pushed, {pulled} pulled)"
    );
}

/// A plain NNTP peer (no STREAMING, no XPEER, like INN before MODE
/// STREAM): the feeder falls back to IHAVE, and retries after a 436.
#[test]
fn peers_without_streaming_are_fed_by_ihave() {
    use std::io::{BufRead, Write};
    let fake = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let fake_addr = fake.local_addr().expect("addr");
    let (got_tx, got_rx) = std::sync::mpsc::channel::<(String, Vec<String>)>();
    std::thread::spawn(move || {
        let mut deferred_once = false;
        for stream in fake.incoming().flatten() {
            let _ = stream.set_read_timeout(Some(TIMEOUT));
            let Ok(mut writer) = stream.try_clone() else {
                return;
            };
            let _ = writer.write_all(b"200 plain.test ready\r\n");
            let mut lines = std::io::BufReader::new(stream).lines();
            while let Some(Ok(line)) = lines.next() {
                let reply = if line == "CAPABILITIES" {
                    "101 caps\r\nVERSION 2\r\nIHAVE\r\n.\r\n".to_string()
                } else if let Some(id) = line.strip_prefix("IHAVE ") {
                    if !deferred_once {
                        deferred_once = true;
                        "436 busy, later\r\n".to_string()
                    } else {
                        let _ = writer.write_all(b"335 send it\r\n");
                        let body: Vec<String> = lines
                            .by_ref()
                            .map_while(Result::ok)
                            .take_while(|l| l != ".")
                            .collect();
                        let _ = got_tx.send((id.to_string(), body));
                        "235 thanks\r\n".to_string()
                    }
                } else {
                    "500 what\r\n".to_string()
                };
                if writer.write_all(reply.as_bytes()).is_err() {
                    break;
                }
            }
        }
    });

    let dir = temp_dir();
    let mut config = Config::default();
    config.node.name = "feeder.test".into();
    config.node.data_dir = dir.path().to_path_buf();
    config.groups = vec![GroupConfig {
        name: "test.flood".into(),
        description: String::new(),
    }];
    config.peers = vec![PeerConfig {
        address: Some(fake_addr.to_string()),
        send: "test.*".into(),
        ..PeerConfig::new(
            "plain.test",
            hex::encode(SigningKey::from_bytes(&[5; 32]).verifying_key().as_bytes()),
        )
    }];
    let node = TestNode::start(config);
    let mut c = Client::connect(node.addr);
    let id = c.post("test.flood", "plain", "by ihave\r\n");
    let (offered, body) = got_rx
        .recv_timeout(Duration::from_secs(10))
        .expect("fed by IHAVE after a retry");
    assert_eq!(offered, id);
    assert!(
        body.iter().any(|l| l.starts_with("Path: feeder.test!")),
        "{body:?}"
    );
    assert!(
        body.iter().any(|l| l.starts_with("Tidings-Signature: ")),
        "{body:?}"
    );
    assert_eq!(body.last().map(String::as_str), Some("by ihave"));
}

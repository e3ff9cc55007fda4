//! Five real `tidings serve` processes on loopback, in a ring with one
//! chord (1-2-3-4-5-1 and 1-3): a post reaches every node once by a real
//! route, and a node that was down catches up from its neighbours.

mod common;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use common::*;
use ed25519_dalek::SigningKey;

const NODES: usize = 5;
const EDGES: &[(usize, usize)] = &[(0, 1), (1, 2), (2, 3), (3, 4), (4, 0), (0, 2)];

fn name(i: usize) -> String {
    format!("n{}.mesh", i + 1)
}

fn neighbours(i: usize) -> impl Iterator<Item = usize> {
    EDGES.iter().filter_map(move |&(a, b)| {
        if a == i {
            Some(b)
        } else if b == i {
            Some(a)
        } else {
            None
        }
    })
}

struct Mesh {
    _dir: tempfile::TempDir,
    configs: Vec<PathBuf>,
    keys: Vec<SigningKey>,
    nodes: Vec<Option<NodeProcess>>,
}

impl Mesh {
    fn start() -> Mesh {
        let dir = temp_dir();
        // Reserve five ports, then free them for the processes to bind.
        let ports: Vec<u16> = {
            let held: Vec<_> = (0..NODES)
                .map(|_| std::net::TcpListener::bind("127.0.0.1:0").expect("bind"))
                .collect();
            held.iter()
                .map(|l| l.local_addr().expect("addr").port())
                .collect()
        };
        let mut keys = Vec::new();
        let mut configs = Vec::new();
        for i in 0..NODES {
            let data = dir.path().join(name(i));
            std::fs::create_dir_all(&data).expect("data dir");
            keys.push(tidings::keys::write_new_secret_key(&data.join("node.key")).expect("key"));
        }
        for i in 0..NODES {
            let data = dir.path().join(name(i));
            let mut text = format!(
                "[node]\nname = \"{}\"\ndata_dir = {:?}\n[listen]\nnntp = \"127.0.0.1:{}\"\nhttp = \"127.0.0.1:0\"\nadmin = \"127.0.0.1:0\"\n[[group]]\nname = \"mesh.test\"\n",
                name(i),
                data,
                ports[i]
            );
            for j in (0..NODES).filter(|&j| j != i) {
                text.push_str(&format!(
                    "[[peer]]\nname = \"{}\"\nkey = \"{}\"\n",
                    name(j),
                    hex::encode(keys[j].verifying_key().as_bytes())
                ));
                if neighbours(i).any(|n| n == j) {
                    text.push_str(&format!("address = \"127.0.0.1:{}\"\n", ports[j]));
                }
            }
            let path = dir.path().join(format!("{}.toml", name(i)));
            std::fs::write(&path, text).expect("config");
            configs.push(path);
        }
        let nodes = configs
            .iter()
            .map(|c| Some(NodeProcess::start(c)))
            .collect();
        Mesh {
            _dir: dir,
            configs,
            keys,
            nodes,
        }
    }

    fn node(&self, i: usize) -> &NodeProcess {
        self.nodes[i].as_ref().expect("running")
    }
}

fn count(node: &NodeProcess) -> u64 {
    Client::connect(node.addr).count("mesh.test")
}

#[test]
fn five_processes_flood_and_catch_up() {
    let mut mesh = Mesh::start();

    // 1. A post at node 1 reaches all five, each taking its body once.
    let mut c = Client::connect(mesh.node(0).addr);
    let id = c.post("mesh.test", "hello mesh", "to all five\r\n");
    let took = wait_until(Duration::from_secs(2), "the post on all five nodes", || {
        (0..NODES).all(|i| {
            Client::connect(mesh.node(i).addr)
                .cmd(&format!("STAT {id}"))
                .0
                == 223
        })
    });
    eprintln!("a post at node 1 was on all {NODES} processes after {took:?}");
    let edges: Vec<(String, String)> = EDGES.iter().map(|&(a, b)| (name(a), name(b))).collect();
    assert_route(mesh.node(3).addr, &id, &name(0), &name(3), &edges);
    std::thread::sleep(Duration::from_millis(300));
    for i in 0..NODES {
        let bodies = mesh.node(i).log_count(&["article body received", &id]);
        assert_eq!(
            bodies,
            usize::from(i != 0),
            "{} received the body {bodies} times",
            name(i)
        );
    }

    // 2. Node 3 is down while 1000 articles are posted at node 1.
    if let Some(node) = mesh.nodes[2].take() {
        node.kill_9();
    }
    let key = mesh.keys[0].clone();
    let ids: Vec<String> = (0..1000).map(|_| unique_id_for("mesh", &key)).collect();
    let mut c = Client::connect(mesh.node(0).addr);
    c.xpeer(&name(0), &name(1), &mesh.keys[1]);
    c.stream_accepted(ids.iter().map(|id| {
        (
            id.clone(),
            sign_with(
                &article_text(id, "mesh.test", "while node 3 was down\r\n"),
                &key,
            ),
        )
    }));
    for i in [0, 1, 3, 4] {
        wait_until(
            Duration::from_secs(30),
            "the live nodes to have all 1001",
            || count(mesh.node(i)) == 1001,
        );
    }
    let restarted = Instant::now();
    mesh.nodes[2] = Some(NodeProcess::start(&mesh.configs[2]));
    let took = wait_until(Duration::from_secs(30), "node 3 to catch up", || {
        count(mesh.node(2)) == 1001
    });
    let took = took.max(restarted.elapsed());
    eprintln!(
        "node 3 caught up on 1000 articles {took:?} after its restart ({:.0} articles/s including reconnect backoff)",
        1000.0 / took.as_secs_f64()
    );
    let bodies = mesh
        .node(2)
        .log_count(&["article body received", "message_id=<mesh."]);
    assert_eq!(bodies, 1000, "each article reached node 3 once");
}

//! Peering with INN, the reference NNTP server: a throwaway INN
//! (conformance/inn/throwaway-inn.sh) feeds a tidings node with innfeed,
//! and the tidings node feeds INN; articles flow both ways with the right
//! Path, nothing comes back, and a tidings signature survives INN.
//!
//! Needs the Debian package inn2 and root (innd runs as `news`); `.ci/run`
//! installs it. Without it the test fails and says so.

mod common;

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use bytes::Bytes;
use common::*;
use tidings::config::{GroupConfig, PeerConfig, Unsigned};
use tidings::proto::article::Article;
use tidings::proto::signing;

const TIDINGS: &str = "tidings.interop";
const INN: &str = "inn.interop";
const GROUP: &str = "tidings.interop";

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("conformance/inn/throwaway-inn.sh")
}

fn inn(args: &[&str]) -> String {
    let output = Command::new(script())
        .args(args)
        .output()
        .expect("run throwaway-inn.sh");
    assert!(
        output.status.success(),
        "throwaway-inn.sh {args:?} failed (is inn2 installed? `conformance/inn/throwaway-inn.sh install`, as root):\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// A throwaway INN, stopped when dropped.
struct Inn {
    dir: tempfile::TempDir,
    addr: SocketAddr,
}

impl Inn {
    fn start() -> Inn {
        assert!(
            Path::new("/usr/lib/news/bin/innd").exists(),
            "INN is not installed: run `conformance/inn/throwaway-inn.sh install` (Debian inn2) as root"
        );
        // Under /tmp: every parent must be searchable by the news user.
        let dir = tempfile::Builder::new()
            .prefix("tidings-inn")
            .tempdir_in("/tmp")
            .expect("tempdir");
        let port = free_port();
        let path = dir.path().to_str().expect("utf-8 path").to_string();
        inn(&["start", &path, &port.to_string(), INN]);
        Inn {
            dir,
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
        }
    }

    fn dir(&self) -> &str {
        self.dir.path().to_str().expect("utf-8 path")
    }

    /// A reader connection (INN hands it to nnrpd after MODE READER).
    fn reader(&self) -> Client {
        let mut c = Client::connect(self.addr);
        let (code, text) = c.cmd("MODE READER");
        assert!(code == 200 || code == 201, "{text}");
        c
    }
}

impl Drop for Inn {
    fn drop(&mut self) {
        let _ = Command::new(script()).args(["stop", self.dir()]).output();
    }
}

fn path_on(c: &mut Client, id: &str) -> String {
    assert_eq!(c.cmd(&format!("HEAD {id}")).0, 221, "{id}");
    c.block()
        .into_iter()
        .find_map(|l| l.strip_prefix("Path: ").map(str::to_string))
        .expect("Path")
}

/// A tidings node peered with `inn`: INN cannot XPEER or sign, so it is
/// known by its address and its unsigned articles are taken.
fn peered_with(inn: &Inn, data: &Path) -> tidings::config::Config {
    let mut config = config(data);
    config.node.name = TIDINGS.into();
    config.listen.open_transit = false;
    config.groups.push(GroupConfig {
        name: GROUP.into(),
        description: "shared with INN".into(),
    });
    config.peers.push(PeerConfig {
        hosts: vec!["127.0.0.1".parse().expect("ip")],
        unsigned: Unsigned::Accept,
        address: Some(inn.addr.to_string()),
        send: GROUP.into(),
        ..PeerConfig::new(INN, "")
    });
    config
}

/// Posts a plain article to INN as a reader; returns its Message-ID.
fn post_on_inn(inn: &Inn, subject: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let id = format!("<{subject}.{nanos}@inn.interop>");
    let mut c = inn.reader();
    assert_eq!(c.cmd("POST").0, 340);
    c.send_article(&format!(
        "From: INN user <user@inn.interop>\r\nNewsgroups: {GROUP}\r\nSubject: {subject}\r\nMessage-ID: {id}\r\n\r\nposted on INN\r\n"
    ));
    let (code, text) = c.status();
    assert_eq!(code, 240, "{text}");
    id
}

#[test]
fn articles_flow_both_ways_between_inn_and_tidings() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let tidings_addr = listener.local_addr().expect("addr");
    let inn_server = Inn::start();

    let dir = temp_dir();
    let node = TestNode::start_on(peered_with(&inn_server, dir.path()), listener);
    inn(&[
        "feed",
        inn_server.dir(),
        TIDINGS,
        &tidings_addr.to_string(),
        GROUP,
    ]);

    // INN to tidings: a post on INN arrives by innfeed.
    let from_inn = post_on_inn(&inn_server, "from-inn");
    let mut on_tidings = Client::connect(node.addr);
    wait_until(Duration::from_secs(30), "INN's post on tidings", || {
        on_tidings.cmd(&format!("STAT {from_inn}")).0 == 223
    });
    let path = path_on(&mut on_tidings, &from_inn);
    assert!(
        path.starts_with(&format!("{TIDINGS}!{INN}!")),
        "tidings, then INN: {path}"
    );

    // tidings to INN: a post on tidings, signed by the node, is fed to INN.
    let from_tidings = on_tidings.post(GROUP, "hello from tidings", "posted on tidings\r\n");
    let mut on_inn = inn_server.reader();
    wait_until(Duration::from_secs(30), "tidings' post on INN", || {
        on_inn.cmd(&format!("STAT {from_tidings}")).0 == 223
    });
    let path = path_on(&mut on_inn, &from_tidings);
    assert!(
        path.starts_with(&format!("{INN}!{TIDINGS}")),
        "INN, then tidings: {path}"
    );
    // INN passes the article on as it is: our signature still verifies.
    assert_eq!(on_inn.cmd(&format!("ARTICLE {from_tidings}")).0, 220);
    let text = on_inn.block().join("\r\n") + "\r\n";
    let article = Article::parse(Bytes::from(text)).expect("parses");
    assert!(signing::verify(&article).is_ok(), "signature survives INN");

    // Nothing loops: INN does not send tidings' own post back, and each
    // side stored each article once.
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(
        node.counters
            .bodies_received
            .load(std::sync::atomic::Ordering::Relaxed),
        1,
        "tidings received INN's article, and nothing else"
    );
    assert_eq!(on_tidings.count(GROUP), 2);
    let (code, text) = on_inn.cmd(&format!("GROUP {GROUP}"));
    assert_eq!(code, 211);
    assert!(text.starts_with("2 "), "{text}");
}

/// What INN took before the peering existed (no innfeed to us, no outbox
/// of ours) reaches a new tidings node by the catch-up on connect: INN has
/// no X-TIDINGS-SYNC, so the node lists each group with NEWNEWS as a
/// reader and fetches what it lacks.
#[test]
fn a_new_node_catches_up_from_inn_with_newnews() {
    let inn_server = Inn::start();
    let ids: Vec<String> = (0..3)
        .map(|i| post_on_inn(&inn_server, &format!("before-{i}")))
        .collect();
    let dir = temp_dir();
    let node = TestNode::start(peered_with(&inn_server, dir.path()));
    let mut c = Client::connect(node.addr);
    wait_until(Duration::from_secs(30), "INN's articles on tidings", || {
        c.count(GROUP) == 3
    });
    for id in &ids {
        let path = path_on(&mut c, id);
        assert!(path.starts_with(&format!("{TIDINGS}!{INN}!")), "{path}");
    }
    let counters = &node.counters;
    assert_eq!(
        counters
            .bodies_fetched
            .load(std::sync::atomic::Ordering::Relaxed),
        3,
        "fetched by the catch-up"
    );
    assert_eq!(
        counters
            .bodies_received
            .load(std::sync::atomic::Ordering::Relaxed),
        0,
        "nothing was fed"
    );
}

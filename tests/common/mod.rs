//! Helpers for integration tests: a node on 127.0.0.1 port 0 with RocksDB in
//! a temp dir, and a small blocking NNTP client with timeouts.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;
use tidings::clock::Clock;

use ed25519_dalek::SigningKey;
use tidings::config::{Config, GroupConfig, PeerConfig};
use tidings::node::{Counters, Node};
use tidings::proto::article::Article;
use tidings::proto::signing;
use tidings::store::commit::CommitStats;
use tokio_util::sync::CancellationToken;

pub const TIMEOUT: Duration = Duration::from_secs(20);

/// The key test articles are signed with; the test node trusts it as a
/// peer's node key.
pub fn author() -> SigningKey {
    SigningKey::from_bytes(&[42; 32])
}

/// Another key the test node has never heard of.
pub fn stranger() -> SigningKey {
    SigningKey::from_bytes(&[43; 32])
}

pub fn config(data_dir: &Path) -> Config {
    let mut config = Config::default();
    config.node.name = "test.node".into();
    config.node.data_dir = data_dir.to_path_buf();
    config.listen.nntp = "127.0.0.1:0".parse().expect("addr");
    // Most suites offer articles from a plain client connection; peering
    // tests turn this off and authenticate with XPEER.
    config.listen.open_transit = true;
    config.limits.max_article_bytes = 64 * 1024;
    config.peers = vec![PeerConfig {
        passports: true,
        boards: Some("*".into()),
        ..PeerConfig::new(
            "tests.peer",
            hex::encode(author().verifying_key().as_bytes()),
        )
    }];
    config.groups = vec![
        GroupConfig {
            name: "test.one".into(),
            description: "first".into(),
        },
        GroupConfig {
            name: "test.two".into(),
            description: "second".into(),
        },
    ];
    config
}

/// A node running in-process on its own runtime thread.
pub struct TestNode {
    pub addr: SocketAddr,
    /// The HTTP API's address, when the config has `[listen] http` (bound
    /// on a free loopback port, whatever the config says).
    pub http: Option<SocketAddr>,
    /// The admin listener's address (metrics, status), bound like `http`.
    pub admin: Option<SocketAddr>,
    pub commits: Arc<CommitStats>,
    pub counters: Arc<Counters>,
    shutdown: CancellationToken,
    thread: Option<JoinHandle<()>>,
}

impl TestNode {
    pub fn start(config: Config) -> TestNode {
        TestNode::start_on(
            config,
            std::net::TcpListener::bind("127.0.0.1:0").expect("bind"),
        )
    }

    /// Starts on a listener bound beforehand, so peers can be configured
    /// with each other's addresses before any of them runs.
    pub fn start_on(config: Config, listener: std::net::TcpListener) -> TestNode {
        TestNode::launch(config, listener, None, Clock::system())
    }

    /// [`TestNode::start_on`] with a clock the test moves.
    pub fn start_on_with_clock(
        config: Config,
        listener: std::net::TcpListener,
        clock: Clock,
    ) -> TestNode {
        TestNode::launch(config, listener, None, clock)
    }

    /// Starts with a clock the test moves (and a paused-free runtime: the
    /// node's timers still run on real time).
    pub fn start_with_clock(config: Config, clock: Clock) -> TestNode {
        TestNode::launch(
            config,
            std::net::TcpListener::bind("127.0.0.1:0").expect("bind"),
            None,
            clock,
        )
    }

    /// Starts on a plain listener and an implicit-TLS one, both bound
    /// beforehand (see [`TestNode::start_on`]).
    pub fn start_with_nntps(
        config: Config,
        nntp: std::net::TcpListener,
        nntps: std::net::TcpListener,
    ) -> TestNode {
        TestNode::launch(config, nntp, Some(nntps), Clock::system())
    }

    /// Starts on `listener` with the configuration file at `path`, which a
    /// reload (POST /reload on the admin listener) reads again.
    pub fn start_from_file(path: &Path, listener: std::net::TcpListener) -> TestNode {
        let config = Config::load(path).expect("config file");
        TestNode::launch_valid(
            config
                .validated()
                .expect("valid config")
                .read_from(Some(path.to_path_buf())),
            listener,
            None,
            Clock::system(),
        )
    }

    fn launch(
        config: Config,
        nntp: std::net::TcpListener,
        nntps: Option<std::net::TcpListener>,
        clock: Clock,
    ) -> TestNode {
        let config = config.validated().expect("valid config");
        TestNode::launch_valid(config, nntp, nntps, clock)
    }

    fn launch_valid(
        config: tidings::config::Valid,
        nntp: std::net::TcpListener,
        nntps: Option<std::net::TcpListener>,
        clock: Clock,
    ) -> TestNode {
        let (tx, rx) = std::sync::mpsc::channel();
        let http = config
            .listen
            .http
            .map(|_| std::net::TcpListener::bind("127.0.0.1:0").expect("bind http"));
        let http_addr = http.as_ref().map(|l| l.local_addr().expect("http addr"));
        let admin = config
            .listen
            .admin
            .map(|_| std::net::TcpListener::bind("127.0.0.1:0").expect("bind admin"));
        let admin_addr = admin.as_ref().map(|l| l.local_addr().expect("admin addr"));
        let shutdown = CancellationToken::new();
        let token = shutdown.clone();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("runtime");
            let (node, commit) = Node::open_with_clock(config, clock).expect("node opens");
            let stats = (node.committer.stats(), node.counters.clone());
            runtime.block_on(async move {
                let tokio_listener = |l: std::net::TcpListener| {
                    l.set_nonblocking(true).expect("nonblocking");
                    tokio::net::TcpListener::from_std(l).expect("listener")
                };
                let listeners = tidings::server::Listeners {
                    nntp: tokio_listener(nntp),
                    nntps: nntps.map(tokio_listener),
                    http: http.map(tokio_listener),
                    admin: admin.map(tokio_listener),
                };
                tx.send((listeners.nntp.local_addr().expect("addr"), stats))
                    .expect("send addr");
                tidings::server::serve(listeners, node, token).await;
            });
            commit.join();
        });
        let (addr, (commits, counters)) = rx.recv_timeout(TIMEOUT).expect("node started");
        TestNode {
            addr,
            http: http_addr,
            admin: admin_addr,
            commits,
            counters,
            shutdown,
            thread: Some(thread),
        }
    }

    /// Stops the node and waits until its store is closed, so the same data
    /// directory can be opened again.
    pub fn stop(self) {
        drop(self);
    }
}

impl Drop for TestNode {
    /// Joining matters: a RocksDB still open when the test process exits
    /// aborts in its static destructors.
    fn drop(&mut self) {
        self.shutdown.cancel();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

pub struct Client {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl Client {
    pub fn connect(addr: SocketAddr) -> Client {
        let stream = TcpStream::connect_timeout(&addr, TIMEOUT).expect("connect");
        Client::greeted(stream)
    }

    /// Connects from `local` (another loopback address: 127/8 all answer),
    /// as a second client host would.
    pub fn connect_from(local: std::net::IpAddr, addr: SocketAddr) -> Client {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let stream = runtime
            .block_on(async {
                let socket = tokio::net::TcpSocket::new_v4()?;
                socket.bind(SocketAddr::new(local, 0))?;
                socket.connect(addr).await
            })
            .expect("connect from a second address");
        let stream = stream.into_std().expect("std stream");
        stream.set_nonblocking(false).expect("blocking");
        Client::greeted(stream)
    }

    fn greeted(stream: TcpStream) -> Client {
        stream.set_read_timeout(Some(TIMEOUT)).expect("timeout");
        stream.set_write_timeout(Some(TIMEOUT)).expect("timeout");
        let writer = stream.try_clone().expect("clone");
        let mut client = Client {
            reader: BufReader::new(stream),
            writer,
        };
        let (code, _) = client.status();
        assert!(code == 200 || code == 201, "greeting {code}");
        client
    }

    pub fn reader_mut(&mut self) -> &mut BufReader<TcpStream> {
        &mut self.reader
    }

    /// A second handle on the socket, for writing from another thread.
    pub fn writer_clone(&self) -> TcpStream {
        self.writer.try_clone().expect("clone")
    }

    pub fn send(&mut self, bytes: &[u8]) {
        self.writer.write_all(bytes).expect("write");
    }

    pub fn line(&mut self) -> String {
        let mut line = Vec::new();
        self.reader.read_until(b'\n', &mut line).expect("read line");
        assert!(
            line.ends_with(b"\r\n"),
            "line without CRLF: {:?}",
            String::from_utf8_lossy(&line)
        );
        line.truncate(line.len() - 2);
        String::from_utf8_lossy(&line).into_owned()
    }

    /// Reads a status line: (code, rest of the line).
    pub fn status(&mut self) -> (u16, String) {
        let line = self.line();
        let code = line
            .get(..3)
            .and_then(|c| c.parse().ok())
            .unwrap_or_else(|| panic!("bad status {line:?}"));
        (code, line.get(4..).unwrap_or("").to_string())
    }

    pub fn cmd(&mut self, command: &str) -> (u16, String) {
        self.send(format!("{command}\r\n").as_bytes());
        self.status()
    }

    /// Reads a dot-terminated block, undoing dot-stuffing.
    pub fn block(&mut self) -> Vec<String> {
        let mut lines = Vec::new();
        loop {
            let line = self.line();
            if line == "." {
                return lines;
            }
            lines.push(line.strip_prefix('.').map(str::to_string).unwrap_or(line));
        }
    }

    /// Sends an article (CRLF lines) dot-stuffed and terminated.
    pub fn send_article(&mut self, article: &str) {
        self.send(stuffed(article).as_bytes());
    }

    /// Sends every `(id, article)` with TAKETHIS in one write and expects
    /// 239 for each, in order.
    pub fn stream_accepted(&mut self, articles: impl IntoIterator<Item = (String, String)>) {
        let mut wire = String::new();
        let mut count = 0;
        for (id, text) in articles {
            wire.push_str(&format!("TAKETHIS {id}\r\n"));
            wire.push_str(&stuffed(&text));
            count += 1;
        }
        self.send(wire.as_bytes());
        for _ in 0..count {
            let (code, text) = self.status();
            assert_eq!(code, 239, "{text}");
        }
    }

    /// Authenticates as peer `name` with its node `key` (peering.md §2);
    /// `server` is the node's name.
    pub fn xpeer(&mut self, server: &str, name: &str, key: &SigningKey) {
        let (code, challenge) = self.cmd(&format!("XPEER {name}"));
        assert_eq!(code, 381, "{challenge}");
        let message = signing::peer_challenge_message(server, name, &challenge);
        let signature = ed25519_dalek::Signer::sign(key, &message);
        let (code, text) = self.cmd(&format!(
            "XPEER {name} {}",
            hex::encode(signature.to_bytes())
        ));
        assert_eq!(code, 281, "{text}");
    }

    /// POSTs a plain article and returns the Message-ID the 240 names.
    pub fn post(&mut self, group: &str, subject: &str, body: &str) -> String {
        self.post_with(group, subject, "", body)
    }

    /// [`Client::post`] with more header lines (each ending in CRLF).
    pub fn post_with(&mut self, group: &str, subject: &str, headers: &str, body: &str) -> String {
        assert_eq!(self.cmd("POST").0, 340);
        self.send_article(&format!(
            "From: a@b\r\nNewsgroups: {group}\r\nSubject: {subject}\r\n{headers}\r\n{body}"
        ));
        let (code, text) = self.status();
        assert_eq!(code, 240, "{text}");
        text.split_whitespace()
            .find(|w| w.starts_with('<'))
            .expect("240 names the Message-ID")
            .trim_end_matches(',')
            .to_string()
    }

    /// The article count GROUP reports (0 for an unknown group).
    pub fn count(&mut self, group: &str) -> u64 {
        let (_, text) = self.cmd(&format!("GROUP {group}"));
        text.split(' ')
            .next()
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    }

    /// True once the server has closed the connection.
    pub fn closed(&mut self) -> bool {
        let mut buf = [0u8; 1];
        matches!(self.reader.read(&mut buf), Ok(0))
    }
}

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// An article (CRLF lines) dot-stuffed and terminated for the wire.
pub fn stuffed(article: &str) -> String {
    let mut wire = String::new();
    for line in article.split_terminator("\r\n") {
        if line.starts_with('.') {
            wire.push('.');
        }
        wire.push_str(line);
        wire.push_str("\r\n");
    }
    wire.push_str(".\r\n");
    wire
}

/// A Message-ID no other test uses, bound to the author's key.
pub fn unique_id(tag: &str) -> String {
    unique_id_for(tag, &author())
}

/// A moderator of `test.one` only, in the convergence tests.
pub fn moderator() -> SigningKey {
    SigningKey::from_bytes(&[44; 32])
}

/// The convergence tests' node: a third board to move threads to, and
/// [`moderator`] as moderator of `test.one`.
pub fn with_moderator_and_third_board(config: &mut Config) {
    config.groups.push(GroupConfig {
        name: "test.three".into(),
        description: "third".into(),
    });
    config.moderators.push(tidings::config::ModeratorConfig {
        key: hex_key(&moderator()),
        groups: "test.one".into(),
    });
}

pub fn hex_key(key: &SigningKey) -> String {
    hex::encode(key.verifying_key().as_bytes())
}

/// Sends one article by IHAVE and returns the reply to the article (or to
/// the offer when it is refused outright).
pub fn ihave(c: &mut Client, id: &str, text: &str) -> (u16, String) {
    let offer = c.cmd(&format!("IHAVE {id}"));
    if offer.0 != 335 {
        return offer;
    }
    c.send_article(text);
    c.status()
}

/// A Message-ID no other test uses that names no key, as a newsreader
/// makes them (signing.md §3: free, for node keys only).
pub fn free_id(tag: &str) -> String {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("<{tag}.{nanos}.{}.{n}@reader.example>", std::process::id())
}

/// A Message-ID no other test uses, bound to `key`.
pub fn unique_id_for(tag: &str, key: &SigningKey) -> String {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let unique = format!("{tag}.{nanos}.{}.{n}", std::process::id());
    String::from_utf8(signing::new_message_id(
        &key.verifying_key(),
        &unique,
        "tests.invalid",
    ))
    .expect("ascii")
}

/// The text of a transit article for `group` with the given Message-ID,
/// unsigned (see [`sign`]).
pub fn article_text(id: &str, group: &str, body: &str) -> String {
    format!(
        "Path: elsewhere!not-for-mail\r\nFrom: Tester <tester@tests.invalid>\r\nNewsgroups: {group}\r\nSubject: test {id}\r\nDate: {ARTICLE_DATE}\r\nMessage-ID: {id}\r\n\r\n{body}"
    )
}

/// The Date of [`article_text`]: fixed, so signatures are too. Fine in
/// transit, which has no stale cutoff; a POST must replace it with a
/// current one (nntp.md §5.3).
pub const ARTICLE_DATE: &str = "Sun, 22 Nov 2026 04:20:54 +0000";

/// Signs article text (CRLF lines) with `key`.
pub fn sign_with(text: &str, key: &SigningKey) -> String {
    let article = Article::parse(bytes::Bytes::copy_from_slice(text.as_bytes()))
        .expect("test article parses");
    String::from_utf8(signing::sign(&article, key).expect("signs").to_vec()).expect("utf8")
}

/// Signs article text with the author's key.
pub fn sign(text: &str) -> String {
    sign_with(text, &author())
}

/// A complete transit article for `group`, signed by the author.
pub fn article(id: &str, group: &str, body: &str) -> String {
    sign(&article_text(id, group, body))
}

/// POSTs a control message signed by `key`, dated `date`, filed in
/// `group`; returns its Message-ID.
pub fn post_control(
    addr: SocketAddr,
    key: &SigningKey,
    command: &str,
    group: &str,
    date: chrono::DateTime<chrono::Utc>,
) -> String {
    let id = unique_id_for("control", key);
    let text = article_text(&id, group, "")
        .replacen("\r\n\r\n", &format!("\r\nControl: {command}\r\n\r\n"), 1)
        .replace(ARTICLE_DATE, &date.to_rfc2822());
    let mut c = Client::connect(addr);
    assert_eq!(c.cmd("POST").0, 340);
    c.send_article(&sign_with(&text, key));
    let (code, text) = c.status();
    assert_eq!(code, 240, "{command}: {text}");
    id
}

/// A node on the test configuration in a fresh temp dir; keep the dir
/// alive as long as the node.
pub fn start_node() -> (tempfile::TempDir, TestNode) {
    let dir = temp_dir();
    let node = TestNode::start(config(dir.path()));
    (dir, node)
}

pub fn temp_dir() -> tempfile::TempDir {
    tempfile::tempdir().expect("tempdir")
}

/// A loopback port free at the time of asking, for a config that must
/// name its port before the process starts; taken by the next bind
/// anywhere on the machine, so ask just before starting.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

/// A `tidings serve` child process, killed when dropped so a failing test
/// leaves nothing running.
pub struct NodeProcess {
    child: Child,
    pub addr: SocketAddr,
    /// Every line the node logged so far.
    log: Arc<std::sync::Mutex<Vec<String>>>,
}

impl NodeProcess {
    pub fn start(config: &Path) -> NodeProcess {
        let mut child = Command::new(env!("CARGO_BIN_EXE_tidings"))
            .args(["serve", "--config"])
            .arg(config)
            .env(
                "RUST_LOG",
                "info,tidings::bodies=debug,tidings::files=debug",
            )
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn tidings serve");
        let stderr = child.stderr.take().expect("stderr");
        let (tx, rx) = std::sync::mpsc::channel();
        let log = Arc::new(std::sync::Mutex::new(Vec::new()));
        let kept = log.clone();
        // Keeps reading after the address so the node never blocks on a
        // full stderr pipe.
        std::thread::spawn(move || {
            let mut tx = Some(tx);
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                kept.lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push(line.clone());
                if !line.contains("listening for NNTP") {
                    continue;
                }
                let addr = line
                    .split_whitespace()
                    .find_map(|w| w.strip_prefix("addr="))
                    .and_then(|a| a.parse::<SocketAddr>().ok());
                if let (Some(tx), Some(addr)) = (tx.take(), addr) {
                    let _ = tx.send(addr);
                }
            }
        });
        match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(addr) if addr.ip().is_loopback() => NodeProcess { child, addr, log },
            other => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("node did not report a 127.0.0.1 address: {other:?}");
            }
        }
    }
}

impl NodeProcess {
    /// How many logged lines contain all of `needles`.
    pub fn log_count(&self, needles: &[&str]) -> usize {
        let log = self.log.lock().unwrap_or_else(|e| e.into_inner());
        log.iter()
            .filter(|line| needles.iter().all(|n| line.contains(n)))
            .count()
    }

    /// The HTTP listener's address, once the node logged it.
    pub fn http_addr(&self) -> Option<SocketAddr> {
        let log = self.log.lock().unwrap_or_else(|e| e.into_inner());
        log.iter()
            .filter(|line| line.contains("listening for HTTP"))
            .find_map(|line| {
                line.split_whitespace()
                    .find_map(|w| w.strip_prefix("addr="))
                    .and_then(|a| a.parse().ok())
            })
    }

    /// The logged lines that contain all of `needles`.
    pub fn log_lines(&self, needles: &[&str]) -> Vec<String> {
        let log = self.log.lock().unwrap_or_else(|e| e.into_inner());
        log.iter()
            .filter(|line| needles.iter().all(|n| line.contains(n)))
            .cloned()
            .collect()
    }

    /// Sends the node SIGHUP (reload its configuration file).
    pub fn hang_up(&self) {
        let status = Command::new("kill")
            .args(["-HUP", &self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -HUP failed");
    }

    /// The admin listener's address, once the node logged it.
    pub fn admin_addr(&self) -> Option<SocketAddr> {
        self.log_lines(&["listening for admin"])
            .iter()
            .find_map(|line| {
                line.split_whitespace()
                    .find_map(|w| w.strip_prefix("addr="))
                    .and_then(|a| a.parse().ok())
            })
    }

    /// SIGTERM, then the exit status once the node has stopped (within
    /// `TIMEOUT`).
    pub fn terminate(mut self) -> std::process::ExitStatus {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -TERM failed");
        let deadline = std::time::Instant::now() + TIMEOUT;
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return status;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the node did not stop within {TIMEOUT:?} of SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// SIGKILL: the node gets no chance to flush or clean up.
    pub fn kill_9(mut self) {
        self.child.kill().expect("SIGKILL");
        self.child.wait().expect("reaped");
    }
}

impl Drop for NodeProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Polls `done` until it holds; fails the test after `limit`. Returns how
/// long it took.
pub fn wait_until(limit: Duration, what: &str, mut done: impl FnMut() -> bool) -> Duration {
    let started = std::time::Instant::now();
    while !done() {
        assert!(
            started.elapsed() < limit,
            "timed out after {limit:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    started.elapsed()
}

/// The Path of `id` as `addr` serves it, checked to be a real route from
/// `to` back to `from` over `edges` (pairs of node names, either way).
pub fn assert_route(
    addr: SocketAddr,
    id: &str,
    from: &str,
    to: &str,
    edges: &[(String, String)],
) -> String {
    let mut c = Client::connect(addr);
    assert_eq!(c.cmd(&format!("HEAD {id}")).0, 221);
    let path = c
        .block()
        .into_iter()
        .find_map(|l| l.strip_prefix("Path: ").map(str::to_string))
        .expect("Path");
    let hops: Vec<&str> = path.split('!').take_while(|h| *h != ".POSTED").collect();
    assert_eq!(
        (hops.first().copied(), hops.last().copied()),
        (Some(to), Some(from)),
        "{path}"
    );
    for pair in hops.windows(2) {
        let edge = |(a, b): &(String, String)| {
            (a == pair[0] && b == pair[1]) || (b == pair[0] && a == pair[1])
        };
        assert!(edges.iter().any(edge), "{path} is not a route");
    }
    path
}

/// A node opened in-process without a server, for tests that drive it
/// through its API (ingest, release, sessions over in-memory streams);
/// closed and its commit thread joined when dropped.
pub struct OpenNode {
    node: Option<Arc<Node>>,
    commit: Option<tidings::store::commit::CommitThread>,
    _dir: Option<tempfile::TempDir>,
}

impl OpenNode {
    /// Opens a node on the test configuration in a fresh temp dir, after
    /// `adjust` has changed what the test needs.
    pub fn new(clock: Clock, adjust: impl FnOnce(&mut Config)) -> OpenNode {
        let dir = temp_dir();
        let mut cfg = config(dir.path());
        adjust(&mut cfg);
        let (node, commit) = Node::open_with_clock(cfg.validated().expect("valid config"), clock)
            .expect("node opens");
        OpenNode {
            node: Some(node),
            commit: Some(commit),
            _dir: Some(dir),
        }
    }

    pub fn node(&self) -> &Arc<Node> {
        self.node.as_ref().expect("open until dropped")
    }

    /// The data directory (the node key is `node.key` in it).
    pub fn dir(&self) -> &Path {
        self._dir.as_ref().expect("open until dropped").path()
    }
}

impl Drop for OpenNode {
    fn drop(&mut self) {
        // The commit thread stops once the last committer (the node's) is
        // gone; a store still open at exit aborts in RocksDB's destructors.
        drop(self.node.take());
        if let Some(commit) = self.commit.take() {
            commit.join();
        }
    }
}

/// Whether this machine's python3 has nntplib (it left the standard
/// library in Python 3.13; .ci/run uses the machine's 3.11).
pub fn python_has_nntplib() -> bool {
    Command::new("python3")
        .args(["-c", "import nntplib"])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Runs tests/nntplib_client.py against `addr` with `args`; its output.
pub fn nntplib(addr: SocketAddr, args: &[&str]) -> String {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/nntplib_client.py");
    let output = Command::new("python3")
        .arg(script)
        .arg(addr.ip().to_string())
        .arg(addr.port().to_string())
        .args(args)
        .output()
        .expect("python3 runs");
    assert!(
        output.status.success(),
        "nntplib client failed: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Sends `head` (request line and header fields, without the blank line)
/// and `body` on a fresh connection and reads the answer to its close:
/// status, header fields (names lower-cased), body. The server may close
/// before reading what it refuses; that is not an error here.
pub fn http_exchange(
    addr: SocketAddr,
    head: &str,
    body: &[u8],
) -> (u16, Vec<(String, String)>, Vec<u8>) {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream.set_read_timeout(Some(TIMEOUT)).expect("timeout");
    let _ = write!(stream, "{head}Connection: close\r\n\r\n");
    let _ = stream.write_all(body);
    let mut raw = Vec::new();
    let _ = stream.read_to_end(&mut raw);
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("end of headers");
    let text = String::from_utf8(raw[..split].to_vec()).expect("ascii head");
    let mut lines = text.split("\r\n");
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

/// POSTs a chan form to `/{board}/post` at `http`: the text `fields`,
/// then one file part `upfile` named `filename` of type `media`.
pub fn post_form_with_file(
    http: SocketAddr,
    board: &str,
    fields: &[(&str, &str)],
    filename: &str,
    media: &str,
    file: &[u8],
) -> (u16, Vec<(String, String)>, Vec<u8>) {
    let boundary = "----tidings-test-form";
    let mut body = Vec::new();
    for (name, value) in fields {
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n")
                .as_bytes(),
        );
    }
    body.extend_from_slice(
        format!("--{boundary}\r\nContent-Disposition: form-data; name=\"upfile\"; filename=\"{filename}\"\r\nContent-Type: {media}\r\n\r\n").as_bytes(),
    );
    body.extend_from_slice(file);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let head = format!(
        "POST /{board}/post HTTP/1.1\r\nHost: t\r\nContent-Type: multipart/form-data; boundary={boundary}\r\nContent-Length: {}\r\n",
        body.len()
    );
    http_exchange(http, &head, &body)
}

/// A header field of an answer [`http_exchange`] read.
pub fn http_header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

/// Nodes peered along given links, each on a port bound before any
/// starts, so every config can name its neighbours' addresses.
pub struct Net {
    pub dirs: Vec<tempfile::TempDir>,
    pub keys: Vec<SigningKey>,
    pub names: Vec<String>,
    listeners: Vec<Option<std::net::TcpListener>>,
    pub addrs: Vec<SocketAddr>,
    links: Vec<(usize, usize)>,
}

impl Net {
    pub fn new(names: &[&str], links: &[(usize, usize)]) -> Net {
        let dirs: Vec<_> = names.iter().map(|_| temp_dir()).collect();
        let keys = dirs
            .iter()
            .map(|d| tidings::keys::write_new_secret_key(&d.path().join("node.key")).expect("key"))
            .collect();
        let listeners: Vec<_> = names
            .iter()
            .map(|_| std::net::TcpListener::bind("127.0.0.1:0").expect("bind"))
            .collect();
        Net {
            addrs: listeners
                .iter()
                .map(|l| l.local_addr().expect("addr"))
                .collect(),
            listeners: listeners.into_iter().map(Some).collect(),
            dirs,
            keys,
            names: names.iter().map(|n| n.to_string()).collect(),
            links: links.to_vec(),
        }
    }

    /// Node `i`'s peer entry at another node.
    pub fn peer(&self, i: usize) -> PeerConfig {
        PeerConfig {
            address: Some(self.addrs[i].to_string()),
            ..PeerConfig::new(self.names[i].clone(), hex_key(&self.keys[i]))
        }
    }

    /// The test configuration for node `i`, peered (XPEER, no open
    /// transit) with its linked neighbours.
    pub fn config(&self, i: usize) -> Config {
        let mut config = config(self.dirs[i].path());
        config.node.name = self.names[i].clone();
        config.listen.open_transit = false;
        for &(x, y) in &self.links {
            if x == i {
                config.peers.push(self.peer(y));
            } else if y == i {
                config.peers.push(self.peer(x));
            }
        }
        config
    }

    /// Node `j`'s key trusted as a node's in `config`, without peering:
    /// its posts relayed by others are believed.
    pub fn trust(&self, config: &mut Config, j: usize) {
        if !config.peers.iter().any(|p| p.name == self.names[j]) {
            config.peers.push(PeerConfig::new(
                self.names[j].clone(),
                hex_key(&self.keys[j]),
            ));
        }
    }

    /// Node `i`'s bound listener, for a test that starts it another way
    /// (once).
    pub fn take_listener(&mut self, i: usize) -> std::net::TcpListener {
        self.listeners[i].take().expect("each node starts once")
    }

    /// Starts node `i` on its port with `config` (once).
    pub fn start(&mut self, i: usize, config: Config, clock: Clock) -> TestNode {
        let listener = self.listeners[i].take().expect("each node starts once");
        TestNode::start_on_with_clock(config, listener, clock)
    }
}

/// Logs `c` in as `key` with XAUTHKEY (access.md §3.2) on the node
/// called `server`; the last reply.
pub fn log_in_as_key(c: &mut Client, server: &str, key: &SigningKey) -> (u16, String) {
    let hex = hex_key(key);
    let (code, challenge) = c.cmd(&format!("XAUTHKEY {hex}"));
    if code != 381 {
        return (code, challenge);
    }
    let message = signing::key_challenge_message(server, &hex, challenge.trim());
    let signature = ed25519_dalek::Signer::sign(key, &message);
    c.cmd(&format!(
        "XAUTHKEY {hex} {}",
        hex::encode(signature.to_bytes())
    ))
}

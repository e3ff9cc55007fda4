//! TLS on NNTP links (RFC 4642): STARTTLS by hand, the implicit-TLS port,
//! openssl's client, and two peers feeding each other over TLS.

mod common;

use std::io::{BufRead, Read, Write};
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use common::*;
use ed25519_dalek::SigningKey;
use tidings::config::{Config, GroupConfig, PeerConfig};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

/// A small async NNTP client over any stream, plain or TLS.
struct Nntp<S> {
    stream: BufReader<S>,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Nntp<S> {
    fn new(stream: S) -> Nntp<S> {
        Nntp {
            stream: BufReader::new(stream),
        }
    }

    async fn send(&mut self, bytes: &[u8]) {
        tokio::time::timeout(TIMEOUT, self.stream.write_all(bytes))
            .await
            .expect("write in time")
            .expect("write");
    }

    async fn line(&mut self) -> String {
        let mut line = Vec::new();
        tokio::time::timeout(TIMEOUT, self.stream.read_until(b'\n', &mut line))
            .await
            .expect("reply in time")
            .expect("read");
        assert!(
            line.ends_with(b"\r\n"),
            "line without CRLF: {:?}",
            String::from_utf8_lossy(&line)
        );
        line.truncate(line.len() - 2);
        String::from_utf8_lossy(&line).into_owned()
    }

    async fn status(&mut self) -> (u16, String) {
        let line = self.line().await;
        let code = line
            .get(..3)
            .and_then(|c| c.parse().ok())
            .unwrap_or_else(|| panic!("bad status {line:?}"));
        (code, line.get(4..).unwrap_or("").to_string())
    }

    async fn cmd(&mut self, command: &str) -> (u16, String) {
        self.send(format!("{command}\r\n").as_bytes()).await;
        self.status().await
    }

    async fn block(&mut self) -> Vec<String> {
        let mut lines = Vec::new();
        loop {
            let line = self.line().await;
            if line == "." {
                return lines;
            }
            lines.push(line);
        }
    }

    async fn capabilities(&mut self) -> Vec<String> {
        assert_eq!(self.cmd("CAPABILITIES").await.0, 101);
        self.block().await
    }

    /// The stream beneath, once nothing is left unread in the buffer.
    fn into_inner(self) -> S {
        assert!(self.stream.buffer().is_empty(), "bytes after the reply");
        self.stream.into_inner()
    }
}

/// The client side of TLS as the feeder does it: any certificate, the
/// handshake signature checked.
async fn handshake<S: AsyncRead + AsyncWrite + Unpin>(
    stream: S,
    name: &str,
) -> tokio_rustls::client::TlsStream<S> {
    let connector = TlsConnector::from(tidings::tls::client_config().expect("client config"));
    let name = tidings::tls::server_name(name).expect("server name");
    tokio::time::timeout(TIMEOUT, connector.connect(name, stream))
        .await
        .expect("handshake in time")
        .expect("handshake")
}

fn has_starttls(capabilities: &[String]) -> bool {
    capabilities.iter().any(|l| l == "STARTTLS")
}

#[tokio::test]
async fn starttls_switches_the_connection_and_resets_it() {
    let (_dir, node) = start_node();
    let tcp = TcpStream::connect(node.addr).await.expect("connect");
    let mut c = Nntp::new(tcp);
    assert_eq!(c.status().await.0, 200);
    assert!(has_starttls(&c.capabilities().await));
    assert_eq!(c.cmd("STARTTLS now").await.0, 501);
    assert_eq!(c.cmd("GROUP test.one").await.0, 211);
    let (code, text) = c.cmd("STARTTLS").await;
    assert_eq!(code, 382, "{text}");

    let mut c = Nntp::new(handshake(c.into_inner(), "test.node").await);
    let capabilities = c.capabilities().await;
    assert!(capabilities.iter().any(|l| l == "VERSION 2"));
    assert!(!has_starttls(&capabilities), "{capabilities:?}");
    assert_eq!(c.cmd("STARTTLS").await.0, 502);
    // The group selected before TLS is forgotten (RFC 4642 §2.2.2).
    assert_eq!(c.cmd("NEXT").await.0, 412);
    assert_eq!(c.cmd("GROUP test.one").await.0, 211);
    assert_eq!(c.cmd("POST").await.0, 340);
    c.send(b"From: a@b\r\nNewsgroups: test.one\r\nSubject: over TLS\r\n\r\nprivate\r\n.\r\n")
        .await;
    let (code, text) = c.status().await;
    assert_eq!(code, 240, "{text}");
    assert_eq!(c.cmd("QUIT").await.0, 205);
    assert_eq!(node.counters.tls_sessions.load(Ordering::Relaxed), 1);
}

/// Commands pipelined behind STARTTLS were sent in plain text, where anyone
/// could have put them; they must not run inside the TLS session.
#[tokio::test]
async fn commands_pipelined_after_starttls_are_discarded() {
    let (_dir, node) = start_node();
    let mut c = Nntp::new(TcpStream::connect(node.addr).await.expect("connect"));
    assert_eq!(c.status().await.0, 200);
    c.send(b"STARTTLS\r\nDATE\r\n").await;
    assert_eq!(c.status().await.0, 382);
    let mut c = Nntp::new(handshake(c.into_inner(), "test.node").await);
    let (code, text) = c.cmd("HELP").await;
    assert_eq!(
        code, 100,
        "the first reply over TLS is HELP's, not DATE's: {text}"
    );
    c.block().await;
}

#[test]
fn starttls_is_refused_after_xpeer() {
    let (_dir, node) = start_node();
    let mut c = Client::connect(node.addr);
    c.xpeer("test.node", "tests.peer", &author());
    assert_eq!(c.cmd("CAPABILITIES").0, 101);
    assert!(!has_starttls(&c.block()));
    assert_eq!(c.cmd("STARTTLS").0, 502);
    assert_eq!(c.cmd("DATE").0, 111, "still a plain connection in sync");
}

#[tokio::test]
async fn the_implicit_tls_port_speaks_tls_from_the_first_byte() {
    let dir = temp_dir();
    let nntp = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let nntps = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let tls_addr = nntps.local_addr().expect("addr");
    let node = TestNode::start_with_nntps(config(dir.path()), nntp, nntps);

    let tcp = TcpStream::connect(tls_addr).await.expect("connect");
    let mut c = Nntp::new(handshake(tcp, "test.node").await);
    let (code, text) = c.status().await;
    assert_eq!(code, 200, "{text}");
    assert!(text.starts_with("test.node "), "{text}");
    assert_eq!(c.cmd("DATE").await.0, 111);
    assert!(!has_starttls(&c.capabilities().await));
    assert_eq!(c.cmd("STARTTLS").await.0, 502);

    // An article spanning many TLS records goes in and comes back whole.
    let body: Vec<String> = (0..600)
        .map(|i| format!("{i:04} {}", "x".repeat(70)))
        .collect();
    assert_eq!(c.cmd("POST").await.0, 340);
    let mut article = "From: a@b\r\nNewsgroups: test.one\r\nSubject: big\r\n\r\n".to_string();
    for line in &body {
        article.push_str(line);
        article.push_str("\r\n");
    }
    article.push_str(".\r\n");
    c.send(article.as_bytes()).await;
    let (code, text) = c.status().await;
    assert_eq!(code, 240, "{text}");
    let id = text
        .split_whitespace()
        .find(|w| w.starts_with('<'))
        .expect("id")
        .to_string();
    let (code, text) = c.cmd(&format!("BODY {id}")).await;
    assert_eq!(code, 222, "{text}");
    let got = c.block().await;
    assert!(got.ends_with(&body), "body came back changed");
    assert_eq!(c.cmd("QUIT").await.0, 205);
    assert_eq!(node.counters.tls_sessions.load(Ordering::Relaxed), 1);

    // The plain port still works beside it.
    assert_eq!(Client::connect(node.addr).cmd("DATE").0, 111);
}

#[test]
fn openssl_s_client_starttls_nntp_works() {
    let available = Command::new("openssl")
        .arg("version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !available {
        eprintln!("SKIPPED: openssl is not on PATH; `openssl s_client -starttls nntp` untested");
        return;
    }
    let (_dir, node) = start_node();
    let mut child = Command::new("openssl")
        .args(["s_client", "-starttls", "nntp", "-quiet", "-connect"])
        .arg(node.addr.to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn openssl");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(b"DATE\r\nQUIT\r\n")
        .expect("write to openssl");
    // -quiet implies -ign_eof: openssl keeps reading until QUIT closes.
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if started.elapsed() > TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            panic!("openssl s_client did not finish within {TIMEOUT:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut stdout = String::new();
    let mut stderr = String::new();
    child
        .stdout
        .take()
        .expect("stdout")
        .read_to_string(&mut stdout)
        .expect("read stdout");
    child
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut stderr)
        .expect("read stderr");
    assert!(
        stdout.lines().any(|l| l.starts_with("111 ")),
        "openssl {status}: stdout {stdout:?}, stderr {stderr:?}"
    );
    assert!(stdout.contains("205 "), "{stdout:?}");
    assert_eq!(node.counters.tls_sessions.load(Ordering::Relaxed), 1);
}

fn peer_name(i: usize) -> String {
    ["a.test", "b.test"][i].to_string()
}

fn peer_config(dir: &std::path::Path, i: usize, keys: &[SigningKey], other: SocketAddr) -> Config {
    let j = 1 - i;
    let mut config = Config::default();
    config.node.name = peer_name(i);
    config.node.data_dir = dir.to_path_buf();
    config.groups = vec![GroupConfig {
        name: "test.tls".into(),
        description: String::new(),
    }];
    config.peers = vec![PeerConfig {
        address: Some(other.to_string()),
        tls: true,
        ..PeerConfig::new(
            peer_name(j),
            hex::encode(keys[j].verifying_key().as_bytes()),
        )
    }];
    config
}

#[test]
fn peers_configured_for_tls_feed_each_other_over_it() {
    let dirs = [temp_dir(), temp_dir()];
    let keys: Vec<SigningKey> = dirs
        .iter()
        .map(|d| tidings::keys::write_new_secret_key(&d.path().join("node.key")).expect("key"))
        .collect();
    let listeners: Vec<_> = (0..2)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0").expect("bind"))
        .collect();
    let addrs: Vec<SocketAddr> = listeners
        .iter()
        .map(|l| l.local_addr().expect("addr"))
        .collect();
    let nodes: Vec<TestNode> = listeners
        .into_iter()
        .enumerate()
        .map(|(i, l)| TestNode::start_on(peer_config(dirs[i].path(), i, &keys, addrs[1 - i]), l))
        .collect();

    let mut c = Client::connect(nodes[0].addr);
    let id = c.post("test.tls", "tls", "over TLS\r\n");
    wait_until(Duration::from_secs(5), "the post at node b", || {
        Client::connect(nodes[1].addr).cmd(&format!("STAT {id}")).0 == 223
    });
    // Both feeders came in over STARTTLS: each node took one TLS session.
    for node in &nodes {
        wait_until(Duration::from_secs(5), "a TLS feed connection", || {
            node.counters.tls_sessions.load(Ordering::Relaxed) >= 1
        });
    }
}

/// A peer that should be fed over TLS but does not offer STARTTLS (or an
/// attacker stripped it from CAPABILITIES) gets nothing in plain text.
#[test]
fn a_tls_peer_without_starttls_is_not_fed() {
    let fake = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let fake_addr = fake.local_addr().expect("addr");
    let (seen_tx, seen_rx) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        for stream in fake.incoming().flatten() {
            let seen = seen_tx.clone();
            std::thread::spawn(move || {
                let _ = stream.set_read_timeout(Some(TIMEOUT));
                let Ok(mut writer) = stream.try_clone() else {
                    return;
                };
                let _ = writer.write_all(b"200 b.test fake ready\r\n");
                for line in std::io::BufReader::new(stream).lines() {
                    let Ok(line) = line else { return };
                    let _ = seen.send(line.clone());
                    let reply: &[u8] = match line.as_str() {
                        "CAPABILITIES" => b"101 caps\r\nVERSION 2\r\nIHAVE\r\nSTREAMING\r\n.\r\n",
                        _ => b"500 no\r\n",
                    };
                    if writer.write_all(reply).is_err() {
                        return;
                    }
                }
            });
        }
    });

    let dirs = [temp_dir(), temp_dir()];
    let keys: Vec<SigningKey> = dirs
        .iter()
        .map(|d| tidings::keys::write_new_secret_key(&d.path().join("node.key")).expect("key"))
        .collect();
    let node = TestNode::start(peer_config(dirs[0].path(), 0, &keys, fake_addr));
    let mut c = Client::connect(node.addr);
    assert_eq!(c.cmd("POST").0, 340);
    c.send_article("From: a@b\r\nNewsgroups: test.tls\r\nSubject: tls\r\n\r\nsecret\r\n");
    assert_eq!(c.status().0, 240);

    let deadline = Instant::now() + Duration::from_secs(2);
    let mut lines = Vec::new();
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        match seen_rx.recv_timeout(left) {
            Ok(line) => lines.push(line),
            Err(_) => break,
        }
    }
    assert!(
        lines.iter().any(|l| l == "CAPABILITIES"),
        "the feeder connected: {lines:?}"
    );
    assert!(
        lines.iter().all(|l| l == "CAPABILITIES"),
        "nothing but CAPABILITIES in plain text: {lines:?}"
    );
}

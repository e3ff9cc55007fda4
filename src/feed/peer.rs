//! The outgoing connection to one peer: connect (with backoff and jitter),
//! then drain the peer's outbox with pipelined CHECK / TAKETHIS (RFC 4644),
//! or IHAVE when the peer does not stream. An entry leaves the outbox when
//! the peer answers 235 / 239 / 435 / 438 or refuses it for good (437 /
//! 439); 431 / 436 put it back for a retry a little later. A peer
//! configured with `tls = true` is fed only over TLS, switched on with
//! STARTTLS before anything else is said.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use super::FeedPeer;
use crate::node::Node;
use crate::proto::reply::put_stuffed_text;
use crate::store::commit::now_micros;
use crate::store::OutboxEntry;
use crate::tls::{self, BoxStream, TlsError};

const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const REPLY_TIMEOUT: Duration = Duration::from_secs(120);
const MAX_BACKOFF: Duration = Duration::from_secs(60);
/// With nothing to send, the connection is checked this often.
const IDLE_PROBE: Duration = Duration::from_secs(60);
/// An ID the peer asked us to offer later waits this long.
const RETRY_AFTER: Duration = Duration::from_secs(1);

#[derive(Debug, thiserror::Error)]
enum FeedError {
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
    #[error("timed out waiting for the peer")]
    Timeout,
    #[error("peer closed the connection")]
    Closed,
    #[error("unexpected reply {0:?}")]
    Reply(String),
    #[error("store: {0}")]
    Store(#[from] crate::store::StoreError),
    #[error("the peer does not offer STARTTLS, and its [[peer]] entry asks for TLS")]
    NoStartTls,
    #[error("TLS handshake: {0}")]
    Handshake(std::io::Error),
    #[error(transparent)]
    Tls(#[from] TlsError),
}

/// Feeds `node.feeds.peers[index]` until `shutdown`.
pub async fn run(node: Arc<Node>, index: usize, shutdown: CancellationToken) {
    let Some(peer) = node.feeds.peers.get(index) else {
        return;
    };
    let mut backoff = Duration::from_millis(100);
    loop {
        let started = Instant::now();
        let result = tokio::select! {
            () = shutdown.cancelled() => return,
            result = feed(&node, peer, &shutdown) => result,
        };
        match result {
            Ok(()) => return,
            Err(e) => {
                // A connection that worked for a while starts the backoff over.
                if started.elapsed() > Duration::from_secs(30) {
                    backoff = Duration::from_millis(100);
                }
                let wait = backoff + jitter(backoff);
                warn!(peer = %peer.name, error = %e, retry_in = ?wait, "feed connection lost");
                tokio::select! {
                    () = shutdown.cancelled() => return,
                    () = tokio::time::sleep(wait) => {}
                }
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
}

/// Up to half of `base`, so peers that lost the same node do not all
/// reconnect at once.
fn jitter(base: Duration) -> Duration {
    let mut byte = [0u8; 2];
    let _ = getrandom::getrandom(&mut byte);
    base.mul_f64(f64::from(u16::from_be_bytes(byte)) / f64::from(u16::MAX) / 2.0)
}

/// One conversation with the peer: replies are read through the buffer,
/// commands written past it to the stream beneath.
struct Link {
    stream: BufReader<BoxStream>,
}

impl Link {
    fn new(stream: BoxStream) -> Link {
        Link {
            stream: BufReader::new(stream),
        }
    }

    async fn line(&mut self) -> Result<String, FeedError> {
        let mut line = Vec::new();
        // A hostile peer cannot make us buffer more than a command line's worth.
        let mut limited = (&mut self.stream).take(4096);
        let read = limited.read_until(b'\n', &mut line);
        match tokio::time::timeout(REPLY_TIMEOUT, read).await {
            Err(_) => Err(FeedError::Timeout),
            Ok(Err(e)) => Err(e.into()),
            Ok(Ok(0)) => Err(FeedError::Closed),
            Ok(Ok(_)) => Ok(String::from_utf8_lossy(&line).trim_end().to_string()),
        }
    }

    async fn code(&mut self) -> Result<(u16, String), FeedError> {
        let line = self.line().await?;
        let code = line
            .get(..3)
            .and_then(|c| c.parse().ok())
            .ok_or_else(|| FeedError::Reply(line.clone()))?;
        Ok((code, line))
    }

    async fn send(&mut self, bytes: &[u8]) -> Result<(), FeedError> {
        // The flush matters over TLS, where a write may leave the tail of
        // its records buffered.
        let write = async {
            self.stream.write_all(bytes).await?;
            self.stream.flush().await
        };
        match tokio::time::timeout(REPLY_TIMEOUT, write).await {
            Err(_) => Err(FeedError::Timeout),
            Ok(result) => Ok(result?),
        }
    }

    async fn block(&mut self) -> Result<Vec<String>, FeedError> {
        let mut lines = Vec::new();
        loop {
            let line = self.line().await?;
            if line == "." {
                return Ok(lines);
            }
            lines.push(line);
        }
    }

    /// CAPABILITIES (RFC 3977 §5.2): the labels' lines.
    async fn capabilities(&mut self) -> Result<Capabilities, FeedError> {
        self.send(b"CAPABILITIES\r\n").await?;
        let (code, line) = self.code().await?;
        match code {
            101 => Ok(Capabilities(self.block().await?)),
            _ => Err(FeedError::Reply(line)),
        }
    }

    /// STARTTLS (RFC 4642 §2.2.2), then the handshake on the same TCP
    /// connection.
    async fn start_tls(self, node: &Node, peer: &FeedPeer) -> Result<Link, FeedError> {
        let mut link = self;
        link.send(b"STARTTLS\r\n").await?;
        let (code, line) = link.code().await?;
        if code != 382 {
            return Err(FeedError::Reply(line));
        }
        // Anything after the 382 and before the handshake would be
        // unauthenticated plain text; a server sends none.
        if !link.stream.buffer().is_empty() {
            return Err(FeedError::Reply(
                "data after 382, before the TLS handshake".into(),
            ));
        }
        let name = tls::server_name(&peer.name)?;
        let secure = tls::connect(&node.tls.connector, name, link.stream.into_inner())
            .await
            .map_err(FeedError::Handshake)?;
        Ok(Link::new(secure))
    }
}

/// A server's CAPABILITIES lines.
struct Capabilities(Vec<String>);

impl Capabilities {
    fn has(&self, label: &str) -> bool {
        self.0.iter().any(|l| {
            l.split_whitespace()
                .next()
                .is_some_and(|w| w.eq_ignore_ascii_case(label))
        })
    }
}

async fn connect(node: &Node, peer: &FeedPeer) -> Result<(Link, bool), FeedError> {
    let stream = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(&peer.address))
        .await
        .map_err(|_| FeedError::Timeout)??;
    stream.set_nodelay(true)?;
    let mut link = Link::new(Box::new(stream));
    let (code, greeting) = link.code().await?;
    if code != 200 && code != 201 {
        return Err(FeedError::Reply(greeting));
    }
    let mut capabilities = link.capabilities().await?;
    if peer.tls {
        if !capabilities.has("STARTTLS") {
            return Err(FeedError::NoStartTls);
        }
        link = link.start_tls(node, peer).await?;
        // What was advertised in plain text may have been tampered with;
        // only the list read over TLS counts (RFC 4642 §2.2.2).
        capabilities = link.capabilities().await?;
    }
    if capabilities.has("X-TIDINGS-PEER") {
        // The server's Path identity is the greeting's first word.
        let server = greeting
            .split_whitespace()
            .nth(1)
            .unwrap_or_default()
            .to_string();
        authenticate(node, &mut link, &server).await?;
    }
    let streaming = capabilities.has("STREAMING");
    if streaming {
        link.send(b"MODE STREAM\r\n").await?;
        let (code, line) = link.code().await?;
        if code != 203 {
            return Err(FeedError::Reply(line));
        }
    }
    Ok((link, streaming))
}

/// XPEER (protocol-spec/peering.md §2): prove we hold our node key.
async fn authenticate(node: &Node, link: &mut Link, server: &str) -> Result<(), FeedError> {
    let name = node.name();
    link.send(format!("XPEER {name}\r\n").as_bytes()).await?;
    let (code, line) = link.code().await?;
    let challenge = match (code, line.split_whitespace().nth(1)) {
        (381, Some(challenge)) => challenge.to_string(),
        _ => return Err(FeedError::Reply(line)),
    };
    let message = crate::proto::signing::peer_challenge_message(server, name, &challenge);
    let signature = ed25519_dalek::Signer::sign(&node.key, &message);
    link.send(format!("XPEER {name} {}\r\n", hex::encode(signature.to_bytes())).as_bytes())
        .await?;
    let (code, line) = link.code().await?;
    if code != 281 {
        return Err(FeedError::Reply(line));
    }
    Ok(())
}

/// One connection's life: connect, then offer the outbox until shutdown.
async fn feed(node: &Node, peer: &FeedPeer, shutdown: &CancellationToken) -> Result<(), FeedError> {
    let (mut link, streaming) = connect(node, peer).await?;
    info!(peer = %peer.name, address = %peer.address, streaming, tls = peer.tls, "feeding peer");
    let retention = node.config.feed.outbox_days.saturating_mul(86_400_000_000);
    let window = node.config.feed.window;
    let mut deferred: HashMap<Vec<u8>, Instant> = HashMap::new();
    loop {
        let now = Instant::now();
        deferred.retain(|_, until| *until > now);
        let mut done = Vec::new();
        let mut batch = Vec::new();
        let mut from = 0;
        // Skip what waits for a retry, and take a full window of the rest.
        while batch.len() < window {
            let entries = node.store.outbox(&peer.name, from, window)?;
            let Some(last) = entries.last() else { break };
            from = last.seq + 1;
            for entry in entries {
                if now_micros().saturating_sub(entry.queued) > retention {
                    warn!(peer = %peer.name, message_id = %String::from_utf8_lossy(&entry.message_id), "dropped from outbox after retention");
                    done.push(entry.seq);
                } else if !deferred.contains_key(&entry.message_id) {
                    batch.push(entry);
                }
            }
        }
        if batch.is_empty() {
            node.store.outbox_done(&peer.name, &done)?;
            let wait = if deferred.is_empty() {
                IDLE_PROBE
            } else {
                RETRY_AFTER
            };
            tokio::select! {
                () = shutdown.cancelled() => {
                    let _ = link.send(b"QUIT\r\n").await;
                    return Ok(());
                }
                () = peer.wake.notified() => {}
                () = tokio::time::sleep(wait) => {
                    if deferred.is_empty() {
                        link.send(b"DATE\r\n").await?;
                        link.code().await?;
                    }
                }
            }
            continue;
        }
        let outcome = if streaming {
            stream(node, &mut link, &batch).await?
        } else {
            ihave(node, &mut link, &batch).await?
        };
        for (entry, result) in batch.iter().zip(outcome) {
            match result {
                Offer::Done => done.push(entry.seq),
                Offer::Later => {
                    deferred.insert(entry.message_id.clone(), Instant::now() + RETRY_AFTER);
                }
            }
        }
        debug!(peer = %peer.name, delivered = done.len(), deferred = deferred.len(), "outbox round");
        node.store.outbox_done(&peer.name, &done)?;
    }
}

enum Offer {
    Done,
    Later,
}

/// The article as it goes on the wire, dot-stuffed and terminated; None
/// when it is no longer stored (cancelled meanwhile).
fn wire(node: &Node, id: &[u8]) -> Result<Option<BytesMut>, FeedError> {
    let Some(article) = node.store.article(id)? else {
        return Ok(None);
    };
    let mut out = BytesMut::with_capacity(article.len() + 64);
    put_stuffed_text(&mut out, &article);
    out.extend_from_slice(b".\r\n");
    Ok(Some(out))
}

/// CHECK every entry in one write, TAKETHIS the wanted ones in another.
async fn stream(
    node: &Node,
    link: &mut Link,
    batch: &[OutboxEntry],
) -> Result<Vec<Offer>, FeedError> {
    let mut checks = Vec::new();
    for entry in batch {
        checks.extend_from_slice(b"CHECK ");
        checks.extend_from_slice(&entry.message_id);
        checks.extend_from_slice(b"\r\n");
    }
    link.send(&checks).await?;
    let mut outcome = Vec::with_capacity(batch.len());
    let mut wanted = Vec::new();
    for (i, _) in batch.iter().enumerate() {
        let (code, line) = link.code().await?;
        outcome.push(match code {
            238 => {
                wanted.push(i);
                Offer::Done
            }
            438 => Offer::Done,
            431 => Offer::Later,
            _ => return Err(FeedError::Reply(line)),
        });
    }
    let mut sent = Vec::new();
    let mut takethis = BytesMut::new();
    for i in wanted {
        let id = &batch[i].message_id;
        // Gone meanwhile (cancelled): nothing to send, and nothing to keep.
        let Some(article) = wire(node, id)? else {
            continue;
        };
        takethis.extend_from_slice(b"TAKETHIS ");
        takethis.extend_from_slice(id);
        takethis.extend_from_slice(b"\r\n");
        takethis.extend_from_slice(&article);
        sent.push(i);
    }
    link.send(&takethis).await?;
    for i in sent {
        let (code, line) = link.code().await?;
        match code {
            239 => {}
            439 => debug!(reply = %line, "peer refused an article"),
            _ => {
                outcome[i] = Offer::Later;
                return Err(FeedError::Reply(line));
            }
        }
    }
    Ok(outcome)
}

/// For peers without STREAMING: one IHAVE at a time.
async fn ihave(
    node: &Node,
    link: &mut Link,
    batch: &[OutboxEntry],
) -> Result<Vec<Offer>, FeedError> {
    let mut outcome = Vec::with_capacity(batch.len());
    for entry in batch {
        let Some(article) = wire(node, &entry.message_id)? else {
            outcome.push(Offer::Done);
            continue;
        };
        let mut offer = b"IHAVE ".to_vec();
        offer.extend_from_slice(&entry.message_id);
        offer.extend_from_slice(b"\r\n");
        link.send(&offer).await?;
        let (code, line) = link.code().await?;
        outcome.push(match code {
            335 => {
                link.send(&article).await?;
                let (code, line) = link.code().await?;
                match code {
                    235 | 437 => Offer::Done,
                    436 => Offer::Later,
                    _ => return Err(FeedError::Reply(line)),
                }
            }
            435 => Offer::Done,
            436 => Offer::Later,
            _ => return Err(FeedError::Reply(line)),
        });
    }
    Ok(outcome)
}

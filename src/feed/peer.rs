//! The outgoing connection to one peer: connect (with backoff and jitter),
//! then drain the peer's outbox with pipelined CHECK / TAKETHIS (RFC 4644),
//! or IHAVE when the peer does not stream. An entry leaves the outbox when
//! the peer answers 235 / 239 / 435 / 438 or refuses it for good (437 /
//! 439); 431 / 436 put it back for a retry a little later. A peer
//! configured with `tls = true` is fed only over TLS, switched on with
//! STARTTLS before anything else is said.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use bytes::BytesMut;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use super::link::{connect, Link, LinkError};
use super::FeedPeer;
use crate::node::Node;
use crate::proto::reply::put_stuffed_text;
use crate::store::OutboxEntry;
const MAX_BACKOFF: Duration = Duration::from_secs(60);
/// With nothing to send, the connection is checked this often.
const IDLE_PROBE: Duration = Duration::from_secs(60);
/// An ID the peer asked us to offer later waits this long.
const RETRY_AFTER: Duration = Duration::from_secs(1);

/// Feeds `node.peers.all()[index]` until `shutdown`.
pub async fn run(node: Arc<Node>, index: usize, shutdown: CancellationToken) {
    let Some(peer) = node.peers.all().get(index) else {
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
pub(crate) fn jitter(base: Duration) -> Duration {
    let mut byte = [0u8; 2];
    let _ = getrandom::getrandom(&mut byte);
    base.mul_f64(f64::from(u16::from_be_bytes(byte)) / f64::from(u16::MAX) / 2.0)
}

/// One connection's life: connect, then offer the outbox until shutdown.
async fn feed(node: &Node, peer: &FeedPeer, shutdown: &CancellationToken) -> Result<(), LinkError> {
    let (mut link, _, streaming) = connect(node, peer).await?;
    if node.config.feed.catch_up {
        // Every (re)connect is a chance that we missed something: catch up
        // (by reconciliation, or with NEWNEWS from a plain NNTP peer).
        peer.resync.notify_one();
    }
    info!(peer = %peer.name, address = %peer.address.as_deref().unwrap_or_default(), streaming, tls = peer.tls, "feeding peer");
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
                if node.clock.now_micros().saturating_sub(entry.queued) > retention {
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
pub(crate) fn wire(node: &Node, id: &[u8]) -> Result<Option<BytesMut>, LinkError> {
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
) -> Result<Vec<Offer>, LinkError> {
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
            _ => return Err(LinkError::Reply(line)),
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
                return Err(LinkError::Reply(line));
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
) -> Result<Vec<Offer>, LinkError> {
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
                    _ => return Err(LinkError::Reply(line)),
                }
            }
            435 => Offer::Done,
            436 => Offer::Later,
            _ => return Err(LinkError::Reply(line)),
        });
    }
    Ok(outcome)
}

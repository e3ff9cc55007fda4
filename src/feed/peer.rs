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

use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use super::{identity, FeedPeer};
use crate::client::{self, Client, ClientError, Command, Connected};
use crate::node::Node;
use crate::proto::grammar::is_message_id;
use crate::proto::Code;
use crate::store::{OutboxEntry, StoreError};

const MAX_BACKOFF: Duration = Duration::from_secs(60);
/// With nothing to send, the connection is checked this often.
const IDLE_PROBE: Duration = Duration::from_secs(60);
/// An ID the peer asked us to offer later waits this long.
const RETRY_AFTER: Duration = Duration::from_secs(1);
/// Octets of articles one TAKETHIS write may hold, so that a window of
/// large articles is sent in parts instead of buffered whole (window ×
/// max_article_bytes); an article larger than this still goes, alone.
pub(crate) const MAX_BATCH_BYTES: usize = 8 << 20;

#[derive(Debug, thiserror::Error)]
pub enum FeedError {
    #[error(transparent)]
    Client(#[from] ClientError),
    #[error("store: {0}")]
    Store(#[from] StoreError),
    #[error("an outbox read did not finish: {0}")]
    Task(#[from] tokio::task::JoinError),
}

/// Feeds `peer` until `shutdown` (which [`crate::reload::start_link`] also
/// cancels when a reload stops the peer's link). Each connection is made
/// with the peer as it stands then (a reload may have changed what it
/// reads, not how it is dialled).
pub async fn run(node: Arc<Node>, peer: Arc<FeedPeer>, shutdown: CancellationToken) {
    let link = peer.link.clone();
    let mut backoff = Duration::from_millis(100);
    loop {
        let started = Instant::now();
        let Some(peer) = current(&node, &link) else {
            return;
        };
        let result = tokio::select! {
            () = shutdown.cancelled() => return,
            result = feed(&node, &peer, &shutdown) => result,
        };
        node.metrics
            .peer_link(&peer.name, false, node.clock.now_micros() / 1_000_000);
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

/// The peer on `link` as the peers in effect have it; None once a reload
/// dropped the link.
pub(crate) fn current(node: &Node, link: &Arc<crate::peers::Link>) -> Option<Arc<FeedPeer>> {
    if link.stopped.is_cancelled() {
        return None;
    }
    node.peers()
        .fed()
        .find(|p| Arc::ptr_eq(&p.link, link))
        .cloned()
}

/// Up to half of `base`, so peers that lost the same node do not all
/// reconnect at once.
pub(crate) fn jitter(base: Duration) -> Duration {
    let mut byte = [0u8; 2];
    let _ = getrandom::getrandom(&mut byte);
    base.mul_f64(f64::from(u16::from_be_bytes(byte)) / f64::from(u16::MAX) / 2.0)
}

/// One connection's life: connect, then offer the outbox until shutdown.
async fn feed(node: &Node, peer: &FeedPeer, shutdown: &CancellationToken) -> Result<(), FeedError> {
    let Connected {
        client: mut link,
        streaming,
        ..
    } = client::connect(&peer.remote(), &identity(node)).await?;
    if node.config().feed.catch_up {
        // Every (re)connect is a chance that we missed something: catch up
        // (by reconciliation, or with NEWNEWS from a plain NNTP peer).
        peer.link.resync.notify_one();
    }
    info!(peer = %peer.name, address = %peer.address.as_deref().unwrap_or_default(), streaming, tls = peer.tls, "feeding peer");
    node.metrics
        .peer_link(&peer.name, true, node.clock.now_micros() / 1_000_000);
    let retention = node
        .config()
        .feed
        .outbox_days
        .saturating_mul(86_400_000_000);
    let window = node.config().feed.window;
    let mut deferred: HashMap<Vec<u8>, Instant> = HashMap::new();
    loop {
        let now = Instant::now();
        deferred.retain(|_, until| *until > now);
        let mut done = Vec::new();
        let mut batch = Vec::new();
        let mut from = 0;
        // Skip what waits for a retry, and take a full window of the rest.
        while batch.len() < window {
            // A scan (many expired or deferred entries to pass over) must
            // not hold a tokio worker.
            let entries = {
                let (store, name) = (node.store.clone(), peer.name.clone());
                tokio::task::spawn_blocking(move || store.outbox(&name, from, window)).await??
            };
            let Some(last) = entries.last() else { break };
            from = last.seq + 1;
            for entry in entries {
                if node.clock.now_micros().saturating_sub(entry.queued) > retention {
                    warn!(peer = %peer.name, message_id = %String::from_utf8_lossy(&entry.message_id), "dropped from outbox after retention");
                    done.push(entry.seq);
                } else if !is_message_id(&entry.message_id) {
                    // No command can carry it; offering it would only fail.
                    warn!(peer = %peer.name, message_id = %String::from_utf8_lossy(&entry.message_id), "dropped from outbox: not a message-id");
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
                    let _ = link.quit().await;
                    return Ok(());
                }
                () = peer.link.wake.notified() => {}
                () = tokio::time::sleep(wait) => {
                    if deferred.is_empty() {
                        link.command(&Command::Date).await?;
                        link.response().await?;
                    }
                }
            }
            continue;
        }
        let outcome = if streaming {
            stream(node, &peer.name, &mut link, &batch).await?
        } else {
            ihave(node, &peer.name, &mut link, &batch).await?
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

/// CHECK every entry in one write, then TAKETHIS the wanted ones.
async fn stream(
    node: &Node,
    peer: &str,
    link: &mut Client,
    batch: &[OutboxEntry],
) -> Result<Vec<Offer>, FeedError> {
    let mut checks = Vec::new();
    for entry in batch {
        Command::Check(&entry.message_id)
            .encode(&mut checks)
            .map_err(ClientError::from)?;
    }
    link.send(&checks).await?;
    let mut outcome = Vec::with_capacity(batch.len());
    let mut wanted = Vec::new();
    for entry in batch {
        let response = link.response().await?;
        outcome.push(match response.code {
            Code::CHECK_SEND => {
                wanted.push(entry.message_id.as_slice());
                Offer::Done
            }
            Code::CHECK_NOT_WANTED => Offer::Done,
            Code::CHECK_LATER => Offer::Later,
            _ => return Err(ClientError::unexpected("CHECK", response).into()),
        });
    }
    let (mut articles, mut bytes) = (0, 0);
    takethis(link, &wanted, MAX_BATCH_BYTES, |id| {
        let article = node.store.article(id)?;
        if let Some(text) = &article {
            articles += 1;
            bytes += text.len() as u64;
        }
        Ok::<_, FeedError>(article)
    })
    .await?;
    node.metrics.fed(peer, articles, bytes);
    Ok(outcome)
}

/// TAKETHIS each of `ids` with its article, from `article` (None: gone
/// meanwhile, cancelled, so nothing to send), in writes holding at most
/// `budget` octets of articles but at least one article; each write's
/// replies are read before the next is made, so no more is held at once.
/// Returns how many the peer took (239); a refusal (439) is final.
pub(crate) async fn takethis<E: From<ClientError>>(
    link: &mut Client,
    ids: &[&[u8]],
    budget: usize,
    mut article: impl FnMut(&[u8]) -> Result<Option<Vec<u8>>, E>,
) -> Result<usize, E> {
    let mut ids = ids.iter().copied();
    // An article read that did not fit the last write: the next one's first.
    let mut carried: Option<(&[u8], Vec<u8>)> = None;
    let mut taken = 0;
    loop {
        let mut out = Vec::new();
        let mut sent = 0;
        loop {
            let (id, text) = match carried.take() {
                Some(next) => next,
                None => match ids.next() {
                    None => break,
                    Some(id) => match article(id)? {
                        Some(text) => (id, text),
                        None => continue,
                    },
                },
            };
            if sent > 0 && out.len() + text.len() > budget {
                carried = Some((id, text));
                break;
            }
            Command::Takethis { id, article: &text }
                .encode(&mut out)
                .map_err(ClientError::from)?;
            sent += 1;
        }
        if sent == 0 {
            return Ok(taken);
        }
        link.send(&out).await?;
        drop(out);
        for _ in 0..sent {
            let response = link.response().await?;
            match response.code {
                Code::TAKETHIS_OK => taken += 1,
                Code::TAKETHIS_REJECTED => debug!(reply = %response, "peer refused an article"),
                _ => return Err(ClientError::unexpected("TAKETHIS", response).into()),
            }
        }
    }
}

/// For peers without STREAMING: one IHAVE at a time.
async fn ihave(
    node: &Node,
    peer: &str,
    link: &mut Client,
    batch: &[OutboxEntry],
) -> Result<Vec<Offer>, FeedError> {
    let mut outcome = Vec::with_capacity(batch.len());
    for entry in batch {
        // Gone meanwhile (cancelled): nothing to send, and nothing to keep.
        let Some(article) = node.store.article(&entry.message_id)? else {
            outcome.push(Offer::Done);
            continue;
        };
        link.command(&Command::Ihave(&entry.message_id)).await?;
        let response = link.response().await?;
        outcome.push(match response.code {
            Code::IHAVE_SEND => {
                link.data(&article).await?;
                node.metrics.fed(peer, 1, article.len() as u64);
                let response = link.response().await?;
                match response.code {
                    Code::TRANSFER_OK | Code::TRANSFER_REJECTED => Offer::Done,
                    Code::TRANSFER_LATER => Offer::Later,
                    _ => return Err(ClientError::unexpected("IHAVE", response).into()),
                }
            }
            Code::NOT_WANTED => Offer::Done,
            Code::TRANSFER_LATER => Offer::Later,
            _ => return Err(ClientError::unexpected("IHAVE", response).into()),
        });
    }
    Ok(outcome)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::pin::Pin;
    use std::sync::Mutex;
    use std::task::{Context, Poll};
    use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader, ReadBuf};

    /// Our end of the link, keeping a copy of every write.
    struct Recorded {
        inner: tokio::io::DuplexStream,
        writes: Arc<Mutex<Vec<Vec<u8>>>>,
    }

    impl AsyncRead for Recorded {
        fn poll_read(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            buf: &mut ReadBuf<'_>,
        ) -> Poll<std::io::Result<()>> {
            Pin::new(&mut self.inner).poll_read(cx, buf)
        }
    }

    impl AsyncWrite for Recorded {
        fn poll_write(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            buf: &[u8],
        ) -> Poll<std::io::Result<usize>> {
            let poll = Pin::new(&mut self.inner).poll_write(cx, buf);
            if let Poll::Ready(Ok(n)) = &poll {
                let mut writes = self.writes.lock().expect("not poisoned");
                writes.push(buf[..*n].to_vec());
            }
            poll
        }

        fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
            Pin::new(&mut self.inner).poll_flush(cx)
        }

        fn poll_shutdown(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
        ) -> Poll<std::io::Result<()>> {
            Pin::new(&mut self.inner).poll_shutdown(cx)
        }
    }

    /// A streaming peer: 239 for every article, 439 for `<refused@x>`.
    async fn peer(theirs: tokio::io::DuplexStream) -> std::io::Result<usize> {
        let mut theirs = BufReader::new(theirs);
        let mut line = String::new();
        let mut articles = 0;
        loop {
            line.clear();
            if theirs.read_line(&mut line).await? == 0 {
                return Ok(articles);
            }
            let Some(id) = line.trim_end().strip_prefix("TAKETHIS ") else {
                continue;
            };
            let id = id.to_string();
            loop {
                line.clear();
                theirs.read_line(&mut line).await?;
                if line == ".\r\n" {
                    break;
                }
            }
            articles += 1;
            let code = if id == "<refused@x>" { 439 } else { 239 };
            theirs
                .get_mut()
                .write_all(format!("{code} {id}\r\n").as_bytes())
                .await?;
        }
    }

    #[tokio::test]
    async fn takethis_writes_stay_within_the_byte_budget() {
        const BUDGET: usize = 1000;
        let small = "s".repeat(398) + "\r\n";
        let big = "b".repeat(2998) + "\r\n";
        let articles: HashMap<&[u8], &str> = HashMap::from([
            (&b"<1@x>"[..], small.as_str()),
            (b"<2@x>", small.as_str()),
            (b"<big@x>", big.as_str()),
            (b"<refused@x>", small.as_str()),
            (b"<4@x>", small.as_str()),
        ]);
        let ids: [&[u8]; 7] = [
            b"<1@x>",
            b"<gone@x>",
            b"<2@x>",
            b"<big@x>",
            b"<refused@x>",
            b"<4@x>",
            b"<gone@x>",
        ];
        let (ours, theirs) = tokio::io::duplex(1 << 20);
        let writes = Arc::new(Mutex::new(Vec::new()));
        let recorded = Recorded {
            inner: ours,
            writes: writes.clone(),
        };
        let peer = tokio::spawn(peer(theirs));
        let mut link = Client::new(Box::new(recorded));
        let taken = takethis(&mut link, &ids, BUDGET, |id| {
            Ok::<_, ClientError>(articles.get(id).map(|a| a.as_bytes().to_vec()))
        })
        .await
        .expect("sent");
        assert_eq!(taken, 4, "all but the refused one, and none gone");
        drop(link);
        assert_eq!(peer.await.expect("peer").expect("peer io"), 5);
        let writes = writes.lock().expect("not poisoned");
        let per_write: Vec<usize> = writes
            .iter()
            .map(|w| String::from_utf8_lossy(w).matches("TAKETHIS ").count())
            .collect();
        // Two small ones fill a write; the big one goes alone, over the
        // budget; the rest follow it.
        assert_eq!(per_write, [2, 1, 2]);
        for write in writes.iter().filter(|w| w.len() < big.len()) {
            assert!(write.len() <= BUDGET + 100, "{} octets", write.len());
        }
    }
}

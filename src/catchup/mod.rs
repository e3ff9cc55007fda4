//! Catch-up with a peer (protocol-spec/sync.md): for a node whose peers'
//! outboxes expired, that never heard of an article, or that is brand new.
//! Each group both sides carry is reconciled range by range (XRECONCILE);
//! what the peer has and we lack is fetched with pipelined ARTICLE, what we
//! have and it lacks is offered with XIHAVE and sent with TAKETHIS.
//!
//! A catch-up runs whenever the feeder (re)connects to a peer that offers
//! it, and on demand (XSYNC, `tidings sync`). It keeps no state of its own:
//! what arrived is in the store, so a run cut short is simply run again,
//! and finds only what is still missing. A single article can also be
//! asked for by Message-ID from every peer at once ([`ask`]).

pub mod ask;
mod exchange;

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::client::ClientError;
use crate::feed::{jitter, FeedPeer};
use crate::node::Node;
use crate::store::StoreError;

/// The CAPABILITIES label of the extension.
pub const CAPABILITY: &str = "X-TIDINGS-SYNC";

const MAX_BACKOFF: Duration = Duration::from_secs(300);
/// A running catch-up logs its progress this often.
const LOG_EVERY: Duration = Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error(transparent)]
    Client(#[from] ClientError),
    #[error("store: {0}")]
    Store(#[from] StoreError),
    #[error("the peer does not offer {CAPABILITY}")]
    Unsupported,
    #[error("protocol: {0}")]
    Protocol(String),
    #[error("fetched article not stored: {0}")]
    NotStored(Arc<StoreError>),
}

/// How far a catch-up got; the last one is its summary.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Progress {
    /// Groups reconciled so far, of how many.
    pub groups_done: usize,
    pub groups: usize,
    /// Message-IDs in our sets of the groups reconciled.
    pub compared: u64,
    /// Articles the peer has and we lack (and have not refused or removed).
    pub missing: u64,
    /// Of those, received and stored.
    pub fetched: u64,
    /// Articles we have that the peer lacks and asked for.
    pub wanted: u64,
    /// Of those, sent and taken.
    pub sent: u64,
    pub bytes_in: u64,
    pub bytes_out: u64,
    pub seconds: f64,
}

impl Progress {
    const FIELDS: [&'static str; 10] = [
        "groups-done",
        "groups",
        "compared",
        "missing",
        "fetched",
        "wanted",
        "sent",
        "bytes-in",
        "bytes-out",
        "seconds",
    ];

    /// `key=value` pairs, as XSYNC sends them (sync.md §5).
    pub fn to_line(&self) -> String {
        let values = [
            self.groups_done.to_string(),
            self.groups.to_string(),
            self.compared.to_string(),
            self.missing.to_string(),
            self.fetched.to_string(),
            self.wanted.to_string(),
            self.sent.to_string(),
            self.bytes_in.to_string(),
            self.bytes_out.to_string(),
            format!("{:.3}", self.seconds),
        ];
        Self::FIELDS
            .iter()
            .zip(values)
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// Reads [`Progress::to_line`]'s form; unknown keys are ignored.
    pub fn parse(line: &str) -> Option<Progress> {
        let mut progress = Progress::default();
        let mut seen = 0;
        for pair in line.split_whitespace() {
            let Some((key, value)) = pair.split_once('=') else {
                continue;
            };
            let int = || value.parse::<u64>().ok();
            match key {
                "groups-done" => progress.groups_done = int()? as usize,
                "groups" => progress.groups = int()? as usize,
                "compared" => progress.compared = int()?,
                "missing" => progress.missing = int()?,
                "fetched" => progress.fetched = int()?,
                "wanted" => progress.wanted = int()?,
                "sent" => progress.sent = int()?,
                "bytes-in" => progress.bytes_in = int()?,
                "bytes-out" => progress.bytes_out = int()?,
                "seconds" => progress.seconds = value.parse().ok()?,
                _ => continue,
            }
            seen += 1;
        }
        (seen > 0).then_some(progress)
    }
}

/// One catch-up with `peer`, reporting progress on `progress` as it goes.
/// Waits if another catch-up with the same peer is running.
pub async fn sync_peer(
    node: &Arc<Node>,
    peer: &FeedPeer,
    progress: &watch::Sender<Progress>,
) -> Result<Progress, SyncError> {
    let _one_at_a_time = peer.link.syncing.lock().await;
    let started = Instant::now();
    info!(peer = %peer.name, "catch-up started");
    let result = exchange::run(node, peer, progress, started).await;
    match &result {
        Ok(done) => {
            info!(peer = %peer.name, summary = %done.to_line(), "catch-up done");
            let now = node.clock.now_micros() as f64 / 1e6;
            node.metrics
                .caught_up(&peer.name, now, done.missing, done.bytes_in, done.bytes_out);
        }
        Err(e) => {
            let so_far = progress.borrow().to_line();
            warn!(peer = %peer.name, error = %e, progress = %so_far, "catch-up failed");
        }
    }
    result
}

/// Catches up with `peer` whenever its feeder connects and every `[feed]
/// catch_up_every_secs` after, retrying with backoff until a run completes,
/// until `shutdown` (which [`crate::reload::start_link`] also cancels when a
/// reload stops the peer's link). Each run is made with the peer as it
/// stands then (what it reads may have changed).
pub async fn run(node: Arc<Node>, peer: Arc<FeedPeer>, shutdown: CancellationToken) {
    let link = peer.link.clone();
    let config = node.config();
    let every = (config.feed.catch_up && config.feed.catch_up_every_secs > 0)
        .then(|| Duration::from_secs(config.feed.catch_up_every_secs));
    loop {
        let periodic = async {
            match every {
                Some(every) => tokio::time::sleep(every).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = link.resync.notified() => {}
            () = periodic => {}
        }
        let mut backoff = Duration::from_secs(1);
        loop {
            let Some(peer) = crate::feed::current(&node, &link) else {
                return;
            };
            let (progress, _) = watch::channel(Progress::default());
            let result = tokio::select! {
                () = shutdown.cancelled() => return,
                result = sync_peer(&node, &peer, &progress) => result,
            };
            match result {
                Ok(_) | Err(SyncError::Unsupported) => break,
                Err(_) => {
                    let wait = backoff + jitter(backoff);
                    tokio::select! {
                        () = shutdown.cancelled() => return,
                        () = tokio::time::sleep(wait) => {}
                    }
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_lines_round_trip() {
        let progress = Progress {
            groups_done: 1,
            groups: 3,
            compared: 100_000,
            missing: 12,
            fetched: 11,
            wanted: 4,
            sent: 4,
            bytes_in: 123_456,
            bytes_out: 789,
            seconds: 1.5,
        };
        let line = progress.to_line();
        assert!(line.starts_with("groups-done=1 groups=3 compared=100000"));
        assert_eq!(Progress::parse(&line), Some(progress));
        assert_eq!(Progress::parse("nothing here"), None);
        assert_eq!(Progress::parse("fetched=x"), None);
    }
}

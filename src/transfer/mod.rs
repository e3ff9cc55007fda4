//! Files fetched from peers (protocol-spec/files.md §6, §7): a file an
//! article here references but whose bytes are not here is asked of every
//! peer at once with XFILE, taken from the first that has it, gathered
//! into a part named by its hash (so a transfer cut off resumes from what
//! arrived), checked against the hash, and only then made the file.
//!
//! One fetch per hash at a time, node-wide: whoever else wants the same
//! file waits for the fetch under way. A holder whose bytes do not hash
//! right is dropped and the others are asked again.
//!
//! [`replicate`] decides what to fetch without a reader asking: every file
//! of an `eager` board as its article is filed, and at start and with each
//! catch-up period whatever is referenced here and missing.

pub mod moderation;
mod receive;
pub mod replicate;

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use arc_swap::ArcSwap;
use ed25519_dalek::SigningKey;
use futures::stream::{FuturesUnordered, StreamExt};
use tokio::sync::{watch, Semaphore};
use tokio_rustls::TlsConnector;
use tracing::{debug, info, warn};

use crate::client::{self, Client, ClientError, Command};
use crate::clock::Clock;
use crate::config::FilesConfig;
use crate::peers::{Peer, Peers};
use crate::proto::file_ref::Piece;
use crate::proto::Code;
use crate::store::blobs::Blobs;
use crate::store::schema::FileRecord;
use crate::store::{Store, StoreError};
use crate::trust::Trust;

pub use moderation::FileState;
pub use receive::ReceiveError;

/// Fetches under way at once: each holds a connection and writes a part.
const TRANSFERS_AT_ONCE: usize = 4;

/// Why removing a file's bytes failed.
#[derive(Debug, thiserror::Error)]
pub enum TransferError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("file storage: {0}")]
    Io(#[from] std::io::Error),
}

/// How a fetch ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fetched {
    /// The file is here (fetched now, or here already).
    Here,
    /// None of the peers asked had it.
    NotFound { asked: usize },
    /// This node does not take it: blocked, too large, or of a type it
    /// does not take.
    Refused(String),
    /// Holders were found but every transfer broke off; what arrived is
    /// kept for the next try.
    Failed(String),
}

/// Counters for tests, benchmarks and logs.
#[derive(Debug, Default)]
pub struct TransferCounters {
    /// Files made whole here from a peer's bytes.
    pub fetched: AtomicU64,
    /// Bytes of files received from peers.
    pub bytes: AtomicU64,
    /// Transfers whose bytes did not hash to the file asked for.
    pub mismatched: AtomicU64,
}

/// Who this node is to the peers it asks.
pub struct Us {
    pub name: String,
    pub key: SigningKey,
    pub connector: TlsConnector,
}

/// The node's fetcher of files.
pub struct Fetcher {
    store: Store,
    blobs: Blobs,
    /// The node's peers in effect (a reload replaces them).
    peers: Arc<ArcSwap<Peers>>,
    trust: Arc<Trust>,
    files: FilesConfig,
    clock: Clock,
    us: Us,
    in_flight: Mutex<HashMap<[u8; 32], watch::Receiver<Option<Fetched>>>>,
    turns: Semaphore,
    pub counters: TransferCounters,
}

/// A peer that has the file, with the connection it said so on.
struct Holder {
    peer: Arc<Peer>,
    client: Client,
    piece: Piece,
}

impl Fetcher {
    pub fn new(
        store: Store,
        blobs: Blobs,
        peers: Arc<ArcSwap<Peers>>,
        trust: Arc<Trust>,
        files: FilesConfig,
        clock: Clock,
        us: Us,
    ) -> Fetcher {
        Fetcher {
            store,
            blobs,
            peers,
            trust,
            files,
            clock,
            us,
            in_flight: Mutex::new(HashMap::new()),
            turns: Semaphore::new(TRANSFERS_AT_ONCE),
            counters: TransferCounters::default(),
        }
    }

    /// Starts fetching `hash` unless a fetch of it is under way; the
    /// receiver holds how it ended once it has.
    pub fn want(self: &Arc<Self>, hash: [u8; 32]) -> watch::Receiver<Option<Fetched>> {
        let mut in_flight = self.in_flight.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(under_way) = in_flight.get(&hash) {
            return under_way.clone();
        }
        let (done, outcome) = watch::channel(None);
        in_flight.insert(hash, outcome.clone());
        drop(in_flight);
        let fetcher = self.clone();
        tokio::spawn(async move {
            let fetched = fetcher.clone().run(hash).await;
            // Out of the table first: a later want starts afresh.
            fetcher
                .in_flight
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&hash);
            let _ = done.send(Some(fetched));
        });
        outcome
    }

    /// Fetches `hash` (or joins its fetch) and waits at most `within`;
    /// None when it is still under way then.
    pub async fn fetch(self: &Arc<Self>, hash: [u8; 32], within: Duration) -> Option<Fetched> {
        let mut outcome = self.want(hash);
        let done = async {
            match outcome.wait_for(Option::is_some).await {
                Ok(fetched) => fetched.clone(),
                // The task ended without a word: only a panic does that.
                Err(_) => Some(Fetched::Failed("the fetch task ended".into())),
            }
        };
        tokio::time::timeout(within, done).await.ok().flatten()
    }

    /// Whether the operator pinned the file `hash` (`[files] pinned`, or
    /// local-file-pin): kept, fetched if missing, never evicted.
    pub fn pinned(&self, hash: &[u8; 32]) -> Result<bool, StoreError> {
        Ok(self.files.pins(hash) || self.store.file_pinned(hash)?)
    }

    /// Every file the operator pinned, either way.
    pub fn pinned_files(&self) -> Result<Vec<[u8; 32]>, StoreError> {
        let mut all = self.files.pinned_hashes();
        all.extend(self.store.pinned_files()?);
        all.sort_unstable();
        all.dedup();
        Ok(all)
    }

    /// Whether a fetch of `hash` is under way.
    pub fn fetching(&self, hash: &[u8; 32]) -> bool {
        self.in_flight
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains_key(hash)
    }

    /// Whether the file `hash` is here: its record and its bytes.
    pub fn is_here(&self, hash: &[u8; 32]) -> bool {
        matches!(self.store.file(hash), Ok(Some(_))) && matches!(self.blobs.size(hash), Ok(Some(_)))
    }

    /// What readers are shown of the file `hash` (moderation.rs), and
    /// whether this node refuses it: its operator blocked it, or a
    /// removal of it held.
    pub fn state(&self, hash: &[u8; 32]) -> Result<FileState, StoreError> {
        if self.files.blocks(hash) {
            return Ok(FileState::Removed(format!(
                "{} is blocked by this node's operator",
                hex::encode(hash)
            )));
        }
        moderation::judge(&self.store, &self.trust, hash)
    }

    /// Judges the file `hash` and, when it is removed, removes its bytes
    /// (and any part of a fetch) and its record; the posts keep naming it.
    pub fn enforce(&self, hash: &[u8; 32]) -> Result<FileState, TransferError> {
        let state = self.state(hash)?;
        if let FileState::Removed(reason) = &state {
            let here = self.store.file(hash)?.is_some() || self.blobs.size(hash)?.is_some();
            // Bytes first, as the sweep does: a record left alone is
            // answered as gone and finished by the next judgement.
            self.blobs.remove(hash)?;
            match std::fs::remove_file(self.blobs.part_path(hash)) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e.into()),
                _ => {}
            }
            self.store.forget_file_record(hash)?;
            if here {
                info!(target: "tidings::files", file = %hex::encode(hash), %reason, "file removed");
            }
        }
        Ok(state)
    }

    async fn run(self: Arc<Self>, hash: [u8; 32]) -> Fetched {
        let name = hex::encode(hash);
        match self.state(&hash) {
            Ok(FileState::Removed(why)) => return Fetched::Refused(why),
            Ok(_) => {}
            Err(e) => return Fetched::Failed(e.to_string()),
        }
        if self.is_here(&hash) {
            return Fetched::Here;
        }
        let Ok(_turn) = self.turns.acquire().await else {
            return Fetched::Failed("the fetcher is closed".into());
        };
        let mut passed_over: HashSet<String> = HashSet::new();
        let mut last_failure: Option<Fetched> = None;
        loop {
            let (holder, asked) = self.find_holder(&hash, &passed_over).await;
            let Some(mut holder) = holder else {
                return last_failure.unwrap_or(Fetched::NotFound { asked });
            };
            let peer = holder.peer.name.clone();
            passed_over.insert(peer.clone());
            if let Err(why) = self.takes(&holder.piece) {
                warn!(file = %name, %peer, reason = %why, "a holder's file is not taken here");
                last_failure = Some(Fetched::Refused(why));
                continue;
            }
            let received = receive::receive(
                &mut holder.client,
                &self.blobs,
                &hash,
                holder.piece.size,
                &self.counters,
            )
            .await;
            let _ = holder.client.quit().await;
            match received {
                Ok(resumed_from) => {
                    // Removed while it crossed: it is not taken.
                    if let Ok(FileState::Removed(why)) = self.state(&hash) {
                        let _ = std::fs::remove_file(self.blobs.part_path(&hash));
                        return Fetched::Refused(why);
                    }
                    match self.adopt(&hash, &holder.piece).await {
                        Ok(()) => {}
                        Err(e) => {
                            warn!(file = %name, error = %e, "a fetched file could not be stored");
                            return Fetched::Failed(e.to_string());
                        }
                    }
                    self.counters.fetched.fetch_add(1, Ordering::Relaxed);
                    info!(target: "tidings::files", file = %name, %peer, size = holder.piece.size, resumed_from, "file fetched");
                    return Fetched::Here;
                }
                Err(ReceiveError::Mismatch { got }) => {
                    self.counters.mismatched.fetch_add(1, Ordering::Relaxed);
                    warn!(file = %name, %peer, got = %got, "a peer's bytes do not hash to the file asked for; asking another holder");
                    last_failure = Some(Fetched::Failed(format!(
                        "{peer} sent bytes that hash to {got}"
                    )));
                }
                Err(e) => {
                    warn!(file = %name, %peer, error = %e, "a file transfer broke off; what arrived is kept");
                    last_failure = Some(Fetched::Failed(format!("{peer}: {e}")));
                }
            }
        }
    }

    /// Why this node does not take a file a holder describes, if it does
    /// not: the node's `[files]` limits.
    fn takes(&self, piece: &Piece) -> Result<(), String> {
        match self.files.limits().refuses(piece.size, &piece.media_type) {
            Some(why) => Err(format!("this node does not take the file: {why}")),
            None => Ok(()),
        }
    }

    /// The record of a file made whole from a peer's part.
    async fn adopt(&self, hash: &[u8; 32], piece: &Piece) -> Result<(), String> {
        self.blobs
            .adopt_part(hash)
            .await
            .map_err(|e| e.to_string())?;
        let record = FileRecord {
            size: piece.size,
            stored: self.clock.now().timestamp(),
            media_type: piece.media_type.clone(),
        };
        let store = self.store.clone();
        let hash = *hash;
        tokio::task::spawn_blocking(move || {
            // Here already (uploaded meanwhile): its record stays.
            if store.file(&hash)?.is_none() {
                store.put_file(&hash, &record)?;
            }
            Ok::<_, crate::store::StoreError>(())
        })
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())
    }

    /// Asks every peer with an address but those passed over whether it
    /// has `hash` (`XFILE hash 0 0`); the first that has it, and how many
    /// were asked.
    async fn find_holder(
        &self,
        hash: &[u8; 32],
        passed_over: &HashSet<String>,
    ) -> (Option<Holder>, usize) {
        let candidates: Vec<Arc<Peer>> = self
            .peers
            .load()
            .fed()
            .filter(|p| !passed_over.contains(&p.name))
            .cloned()
            .collect();
        let asked = candidates.len();
        let mut asking: FuturesUnordered<_> = candidates
            .into_iter()
            .map(|peer| async move {
                let name = peer.name.clone();
                match self.ask(peer, hash).await {
                    Ok(found) => found,
                    Err(e) => {
                        debug!(peer = %name, error = %e, "asking a peer for a file failed");
                        None
                    }
                }
            })
            .collect();
        while let Some(found) = asking.next().await {
            if found.is_some() {
                return (found, asked);
            }
        }
        (None, asked)
    }

    /// Connects to one peer and asks for `hash`.
    async fn ask(&self, peer: Arc<Peer>, hash: &[u8; 32]) -> Result<Option<Holder>, ClientError> {
        let us = client::Identity {
            name: &self.us.name,
            key: &self.us.key,
            tls: &self.us.connector,
        };
        let connected = client::connect(&peer.remote(), &us).await?;
        if files_version(&connected.capabilities) < 2 {
            return Ok(None);
        }
        let mut client = connected.client;
        let probe = Command::Xfile {
            hash,
            offset: 0,
            count: 0,
        };
        client.command(&probe).await?;
        let response = client.response().await?;
        if response.code != Code::FILE_FOLLOWS {
            return Ok(None);
        }
        let piece = Piece::parse(response.text.as_bytes())
            .map_err(|e| ClientError::Garbled(e.to_string()))?;
        if piece.hash != *hash || piece.count != 0 {
            return Err(ClientError::Garbled(response.to_string()));
        }
        Ok(Some(Holder {
            peer,
            client,
            piece,
        }))
    }
}

/// The version of `X-TIDINGS-FILES` a peer advertises, 0 for none.
fn files_version(capabilities: &client::Capabilities) -> u32 {
    capabilities
        .0
        .iter()
        .filter_map(|line| {
            let mut words = line.split_ascii_whitespace();
            let label = words.next()?;
            label
                .eq_ignore_ascii_case("X-TIDINGS-FILES")
                .then(|| words.next()?.parse().ok())
                .flatten()
        })
        .max()
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_files_version_is_read_from_capabilities() {
        let caps =
            |lines: &[&str]| client::Capabilities(lines.iter().map(|l| l.to_string()).collect());
        assert_eq!(files_version(&caps(&["VERSION 2", "READER"])), 0);
        assert_eq!(files_version(&caps(&["X-TIDINGS-FILES 1"])), 1);
        assert_eq!(files_version(&caps(&["x-tidings-files 2"])), 2);
        assert_eq!(files_version(&caps(&["X-TIDINGS-FILESX 9"])), 0);
    }
}

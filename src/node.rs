//! A node's shared state, opened once at start and handed to every
//! connection: configuration, store, boards, peers, trust, the committer,
//! the pre-commit table and TLS; and [`Node::ingest`], the one way in for
//! an article, whatever brought it.

use std::sync::{Arc, Mutex};

use arc_swap::ArcSwap;
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use ed25519_dalek::SigningKey;

use crate::clock::Clock;
use crate::config::{ConfigError, Valid};
use crate::groups::Groups;
use crate::ingest::{Ingest, CONTROL_GROUP};
use crate::ingest::{Rejection, Remember, Source};
use crate::keys;
use crate::peers::Peers;
use crate::precommit::PreCommit;
use crate::store::commit::{CommitThread, Committer, Disposition, Published, Stored};
use crate::store::schema::{GroupRecord, KeyRecord};
use crate::store::{Store, StoreError};
use crate::tls::{Tls, TlsError};
use crate::trust::{Standing, Trust};
use crate::verify::Verifier;

#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("cannot create data directory {path}: {source}")]
    DataDir {
        path: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    Key(#[from] keys::KeyError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot start the commit thread: {0}")]
    Thread(std::io::Error),
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Tls(#[from] TlsError),
    #[error(transparent)]
    Access(#[from] crate::access::AccessError),
}

/// Counters for logs, tests and benchmarks.
#[derive(Debug, Default)]
pub struct Counters {
    /// Article bodies received by IHAVE or TAKETHIS, wanted or not.
    pub bodies_received: std::sync::atomic::AtomicU64,
    /// Article bodies fetched from peers by a catch-up (ARTICLE).
    pub bodies_fetched: std::sync::atomic::AtomicU64,
    /// TLS handshakes completed by incoming connections (STARTTLS or the
    /// implicit-TLS port).
    pub tls_sessions: std::sync::atomic::AtomicU64,
}

pub struct Node {
    /// The configuration in effect; a reload replaces it (reload.rs).
    config: ArcSwap<Valid>,
    /// `[node] name`, which only a restart changes.
    name: String,
    pub store: Store,
    /// The bytes of stored files, under `data_dir/files`.
    pub blobs: crate::store::blobs::Blobs,
    pub groups: Arc<Groups>,
    pub committer: Committer,
    pub precommit: Arc<PreCommit>,
    pub key: SigningKey,
    pub trust: Arc<Trust>,
    pub verifier: Verifier,
    /// The peers in effect, shared with the file fetcher.
    peers: Arc<ArcSwap<Peers>>,
    pub counters: Arc<Counters>,
    /// What the admin listener's /metrics reports.
    pub metrics: crate::metrics::Metrics,
    /// Wall-clock time for everything the node stamps or expires.
    pub clock: Clock,
    pub tls: Tls,
    /// Keys whose passports were just committed; taken by the release task.
    released: Mutex<Option<mpsc::UnboundedReceiver<[u8; 32]>>>,
    /// The same queue, for a pending post whose passport was committed
    /// while the post was on its way to the committer.
    release_again: mpsc::UnboundedSender<[u8; 32]>,
    /// Threads whose moves are to be settled; taken by the settle task.
    settling: Mutex<Option<mpsc::UnboundedReceiver<Settle>>>,
    /// The change log's last durable sequence number, for the HTTP event
    /// stream to wait on.
    pub changes: watch::Receiver<u64>,
    /// Fetches files from peers (XFILE), one fetch per hash.
    pub fetcher: Arc<crate::transfer::Fetcher>,
    /// Who may read and post where, and the users who may log in.
    access: ArcSwap<crate::access::Access>,
    /// Where a reload starts the tasks of new peers' links: the server's
    /// task tracker and shutdown token, once it serves.
    pub(crate) tasks: std::sync::OnceLock<(TaskTracker, CancellationToken)>,
    /// One reload at a time (SIGHUP and the admin listener may race).
    pub(crate) reloading: tokio::sync::Mutex<()>,
}

impl Node {
    /// Opens the store, creates configured groups that are missing and
    /// starts the committer. The returned thread handle must be joined
    /// after the last connection closes, so queued writes finish.
    pub fn open(config: Valid) -> Result<(Arc<Node>, CommitThread), OpenError> {
        Node::open_with_clock(config, Clock::system())
    }

    /// [`Node::open`] with a clock of the caller's, for tests that move
    /// time.
    pub fn open_with_clock(
        config: Valid,
        clock: Clock,
    ) -> Result<(Arc<Node>, CommitThread), OpenError> {
        let dir = &config.node.data_dir;
        std::fs::create_dir_all(dir).map_err(|source| OpenError::DataDir {
            path: dir.display().to_string(),
            source,
        })?;
        let (key, created) = keys::read_or_create_secret_key(&config.key_path())?;
        if created {
            tracing::info!(path = %config.key_path().display(), "created node key");
        }
        tracing::info!(public = %hex::encode(key.verifying_key().as_bytes()), "node key");
        let (cert_path, key_path) = config.tls_paths();
        let (tls, created) = Tls::load_or_create(&cert_path, &key_path, &config.node.name)?;
        if created {
            tracing::info!(path = %cert_path.display(), "created self-signed TLS certificate");
        }
        let store = Store::open(&dir.join("db"), config.storage.block_cache_mib)?;
        let blobs = crate::store::blobs::Blobs::open(&dir.join("files")).map_err(|source| {
            OpenError::DataDir {
                path: dir.join("files").display().to_string(),
                source,
            }
        })?;
        let mut records: Vec<(String, GroupRecord)> = store.groups()?;
        let now = clock.now().timestamp();
        let control = crate::config::GroupConfig {
            name: CONTROL_GROUP.into(),
            description: "Control messages (passports, cancels, board changes)".into(),
        };
        for group in config.groups.iter().chain([&control]) {
            match records.iter_mut().find(|(name, _)| *name == group.name) {
                Some((_, record)) if record.description == group.description => {}
                Some((_, record)) => {
                    record.description = group.description.clone();
                    store.put_group(&group.name, record)?;
                }
                None => {
                    let record = GroupRecord::new(now, group.description.clone());
                    store.put_group(&group.name, &record)?;
                    tracing::info!(group = %group.name, "created newsgroup");
                    records.push((group.name.clone(), record));
                }
            }
        }
        let groups = Arc::new(Groups::new(records));
        let users = crate::access::Users::load(&config.users_path())?;
        if !users.is_empty() {
            tracing::info!(users = users.len(), "read the users file");
        }
        let grants = Arc::new(crate::grants::Grants::new(clock.clone(), store.grants()?));
        let access = crate::access::Access::new(&config, users, grants.clone());
        let (peers, _) = Peers::reloaded(&config.peers, &access, &Peers::default())?;
        let peers = Arc::new(ArcSwap::from_pointee(peers));
        let trust = Arc::new(
            Trust::new(
                &config,
                key.verifying_key(),
                &peers.load(),
                store.learnt_keys()?,
            )?
            .with_clock(clock.clone()),
        );
        let (released_tx, released_rx) = mpsc::unbounded_channel();
        let release_again = released_tx.clone();
        let (settle_tx, settle_rx) = mpsc::unbounded_channel();
        let last_change = store.change_bounds()?.map_or(0, |(_, last)| last);
        let (changes_tx, changes) = watch::channel(last_change);
        let publish = {
            let (groups, trust, peers) = (groups.clone(), trust.clone(), peers.clone());
            let grants = grants.clone();
            Box::new(move |published: Published| {
                changes_tx.send_if_modified(|last| {
                    let moved = *last != published.last_change;
                    *last = published.last_change;
                    moved
                });
                let mut created = false;
                for (name, record) in published.groups {
                    match record {
                        Some(record) => {
                            created |= !groups.contains(&name);
                            groups.publish(&name, record);
                        }
                        None => groups.remove(&name),
                    }
                }
                // The settle task may be gone at shutdown; every move is
                // settled again at the next start.
                if created || published.settle_all {
                    // A move to a board that did not exist may win now; one
                    // planned before an rmgroup may no longer hold.
                    let _ = settle_tx.send(Settle::All);
                }
                if !published.settle.is_empty() {
                    let _ = settle_tx.send(Settle::Targets(published.settle));
                }
                let peers = peers.load();
                for peer in &published.outboxes {
                    peers.wake(peer);
                }
                for granted in published.grants {
                    grants.learn(granted);
                }
                for (key, record) in published.keys {
                    trust.learn(key, record.clone());
                    // The release task may be gone at shutdown; pending
                    // articles are released again at the next start. A
                    // revoked key's pending articles dated before the
                    // revocation are filed, the rest refused.
                    if let KeyRecord::Passport { .. }
                    | KeyRecord::Revoked { .. }
                    | KeyRecord::Introduced { .. } = record
                    {
                        let _ = released_tx.send(key);
                    }
                    if let KeyRecord::Revoked { .. } = record {
                        let _ = settle_tx.send(Settle::Revoked(key));
                    }
                }
            })
        };
        let (committer, thread) = Committer::start(
            store.clone(),
            publish,
            config.storage.commit_batch,
            clock.clone(),
            config.storage.changes_kept,
        )?;
        let precommit = Arc::new(PreCommit::new(
            config.limits.max_claims,
            std::time::Duration::from_secs(config.limits.claim_expiry_secs),
        ));
        let fetcher = Arc::new(crate::transfer::Fetcher::new(
            store.clone(),
            blobs.clone(),
            peers.clone(),
            trust.clone(),
            config.files.clone(),
            clock.clone(),
            crate::transfer::Us {
                name: config.node.name.clone(),
                key: key.clone(),
                connector: tls.connector.clone(),
            },
        ));
        let node = Node {
            access: ArcSwap::from_pointee(access),
            fetcher,
            name: config.node.name.clone(),
            config: ArcSwap::from_pointee(config),
            tasks: std::sync::OnceLock::new(),
            reloading: tokio::sync::Mutex::new(()),
            store,
            blobs,
            groups,
            committer,
            precommit,
            key,
            trust,
            peers,
            counters: Arc::default(),
            metrics: {
                let metrics = crate::metrics::Metrics::new();
                metrics.started_at(clock.now_micros() as f64 / 1e6);
                metrics
            },
            clock,
            tls,
            verifier: Verifier::start(verify_threads()).map_err(OpenError::Thread)?,
            released: Mutex::new(Some(released_rx)),
            release_again,
            settling: Mutex::new(Some(settle_rx)),
            changes,
        };
        Ok((Arc::new(node), thread))
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The configuration in effect now.
    pub fn config(&self) -> Arc<Valid> {
        self.config.load_full()
    }

    /// The peers in effect now.
    pub fn peers(&self) -> Arc<Peers> {
        self.peers.load_full()
    }

    /// The access rules and users in effect now.
    pub fn access(&self) -> Arc<crate::access::Access> {
        self.access.load_full()
    }

    /// Puts a reloaded configuration in effect (reload.rs decided it):
    /// access first, so new peers never read by old rules.
    pub(crate) fn put_in_effect(&self, config: Valid, peers: Peers, access: crate::access::Access) {
        self.access.store(Arc::new(access));
        self.peers.store(Arc::new(peers));
        self.config.store(Arc::new(config));
    }

    /// Signs a control message of this node's (`Control: <command>`,
    /// `body` its text) and files it as a local POST: the operator's
    /// approvals and removals, the grants of trust levels. Err: it could
    /// not be made (a command that is not one line, say).
    pub async fn own_control(&self, command: &str, body: &str) -> Result<Ingested, String> {
        if command.contains(['\r', '\n']) || body.contains('\r') {
            return Err("a control command is one line".into());
        }
        let own = self.key.verifying_key();
        let now = self.clock.now();
        let unique = format!("{}.{:08x}", now.timestamp_micros(), rand_u32());
        let id = crate::proto::signing::new_message_id(&own, &unique, self.name());
        let text = format!(
            "From: {name} <tidings@{name}>\r\nNewsgroups: control\r\nSubject: {command}\r\nControl: {command}\r\nDate: {}\r\nMessage-ID: {}\r\n\r\n{}\r\n",
            now.to_rfc2822(),
            String::from_utf8_lossy(&id),
            body.replace('\n', "\r\n"),
            name = self.name(),
        );
        let raw = crate::proto::article::Article::parse(bytes::Bytes::from(text))
            .map_err(|e| e.to_string())
            .and_then(|a| crate::proto::signing::sign(&a, &self.key).map_err(|e| e.to_string()))?;
        Ok(self.ingest(raw, Source::Post, None).await)
    }

    /// The committer's counts of synced writes.
    pub fn commits(&self) -> Arc<crate::store::commit::CommitStats> {
        self.committer.stats()
    }

    /// Whether `key` may log in as itself (XAUTHKEY, HTTP Tidings-Key;
    /// access.md §3.2): it has standing here (a passport, a moderator's, a
    /// node's) or holds a grant.
    pub fn key_may_log_in(&self, key: &[u8; 32]) -> bool {
        let standing =
            ed25519_dalek::VerifyingKey::from_bytes(key).map(|k| self.trust.standing(&k));
        matches!(
            standing,
            Ok(crate::trust::Standing::Passport | crate::trust::Standing::Node(_))
        ) || self.access.load().grants().holds_any(key)
    }

    /// Whether `who` may have the file `hash` (access.md §4): nothing
    /// filed here references it (an upload not posted yet), or one of the
    /// posts filed here that do is readable to it. So a file of protected
    /// posts goes only to their readers, by HTTP and by XFILE.
    pub fn file_readable(
        &self,
        who: &crate::access::Identity,
        hash: &[u8; 32],
    ) -> Result<bool, crate::store::StoreError> {
        let access = self.access();
        if access.all_open() {
            return Ok(true);
        }
        let mut referenced = false;
        for id in self.store.file_referrers(hash)? {
            if let Some(raw) = self.store.article(&id)? {
                if access.may_read_article(who, &raw) {
                    return Ok(true);
                }
                referenced = true;
            }
        }
        Ok(!referenced)
    }

    /// Runs `judge` with the ingest rules as they stand now.
    fn with_ingest_rules<R>(&self, judge: impl FnOnce(&Ingest<'_>) -> R) -> R {
        // Guards, not clones: nothing here awaits, and this runs twice per
        // article.
        let (config, peers, access) = (self.config.load(), self.peers.load(), self.access.load());
        judge(&Ingest {
            node: self.name(),
            groups: &self.groups,
            trust: &self.trust,
            peers: &peers,
            node_key: &self.key,
            lookup: &self.store,
            hop_limit: config.feed.hop_limit,
            stores: &config.stores,
            premoderate: config.premoderate.as_ref(),
            config: &config,
            access: &access,
            now: self.clock.now(),
        })
    }

    /// The one way in for an article, whatever brought it (POST, IHAVE,
    /// TAKETHIS, catch-up, release of a pending post, approval): parse,
    /// verify (batched with other connections'), decide, then either hand
    /// the records to the committer and wait until they are durable, or
    /// remember the refusal as the rejection says and answer once it is
    /// written. `turn`, for a pipelined stream, makes articles reach the
    /// committer in the order they came while they are verified in
    /// parallel.
    pub async fn ingest(&self, raw: bytes::Bytes, source: Source, turn: Option<Turn>) -> Ingested {
        let from = match source {
            Source::Post => "post",
            Source::Transit { .. } => "transit",
            Source::Released => "released",
            Source::Approved => "approved",
        };
        self.metrics.received(from, raw.len());
        let outcome = self.decide_and_store(raw, source, turn).await;
        let result = match &outcome {
            Ingested::Stored { stored, .. } => match stored {
                Stored::Accepted { .. } => "accepted",
                Stored::Pending => "pending",
                Stored::Held => "held",
                Stored::Applied => "applied",
                Stored::Duplicate => "duplicate",
            },
            Ingested::Refused(_) => "refused",
            Ingested::Fault { .. } => "fault",
        };
        self.metrics.ingested(from, result);
        if let Ingested::Refused(rejection) = &outcome {
            self.metrics.refused(from, rejection.kind.label());
        }
        outcome
    }

    async fn decide_and_store(
        &self,
        raw: bytes::Bytes,
        source: Source,
        turn: Option<Turn>,
    ) -> Ingested {
        let parsed = self.with_ingest_rules(|rules| rules.parse(raw, &source));
        let decided = match parsed {
            Err(rejection) => Err(rejection),
            Ok(parsed) => {
                let verified = match parsed.claimed.clone() {
                    Ok(claimed) => self.verifier.verify(claimed).await,
                    Err(e) => Err(e),
                };
                if matches!(&verified, Err(e) if *e != crate::proto::signing::SigError::Missing) {
                    self.metrics.signature_failed();
                }
                // Decided after the verification wait, with the trust and
                // boards as they stand now.
                self.with_ingest_rules(|rules| rules.decide(parsed, verified))
            }
        };
        let done = match turn {
            Some(Turn { wait, done }) => {
                if let Some(wait) = wait {
                    // An error only means the previous article is done with.
                    let _ = wait.await;
                }
                Some(done)
            }
            None => None,
        };
        match decided {
            Err(rejection) => {
                drop(done);
                if let (remember @ (Remember::Record | Remember::Block), Some(id)) =
                    (rejection.remember, rejection.message_id.clone())
                {
                    let blocks = remember == Remember::Block;
                    self.committer
                        .remember_rejection(id, rejection.reason.clone(), blocks)
                        .await;
                }
                Ingested::Refused(rejection)
            }
            Ok(prepared) => {
                let message_id = prepared.message_id.clone();
                let waits_for = match prepared.disposition {
                    Disposition::Pending { key } => Some(key),
                    _ => None,
                };
                let committed = self.committer.submit(prepared);
                drop(done);
                match committed.await {
                    Ok(stored) => {
                        // The post was decided pending before its passport
                        // was committed, and written after the release pass
                        // that passport started: nothing would look at it
                        // again until the next start.
                        if let (Stored::Pending, Some(key)) = (&stored, waits_for) {
                            let known = !matches!(self.trust.standing_of(&key), Standing::Unknown);
                            if known {
                                let _ = self.release_again.send(key);
                            }
                        }
                        Ingested::Stored { message_id, stored }
                    }
                    Err(fault) => Ingested::Fault { message_id, fault },
                }
            }
        }
    }

    /// The queue of keys whose pending articles can be released; there is
    /// one, taken by whoever runs the release task.
    pub fn take_release_queue(&self) -> Option<mpsc::UnboundedReceiver<[u8; 32]>> {
        self.released
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
    }

    pub fn take_settle_queue(&self) -> Option<mpsc::UnboundedReceiver<Settle>> {
        self.settling
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
    }
}

/// What the settle task is to work out again (settle.rs).
#[derive(Debug)]
pub enum Settle {
    /// The threads of these articles, named by moves.
    Targets(Vec<Vec<u8>>),
    /// Every move (at start, or when a board appeared).
    All,
    /// What this revoked key signed after its revocation's Date.
    Revoked([u8; 32]),
}

/// What became of an article given to [`Node::ingest`].
#[derive(Debug)]
pub enum Ingested {
    /// Durable (or known already: [`Stored::Duplicate`]).
    Stored { message_id: Vec<u8>, stored: Stored },
    /// Refused; remembered in history as the rejection asked.
    Refused(Rejection),
    /// Decided, but the write failed: nothing was stored.
    Fault {
        message_id: Vec<u8>,
        fault: Arc<StoreError>,
    },
}

/// A pipelined article's place in its connection's order: wait for the
/// previous one to be queued, then let the next one go.
pub struct Turn {
    wait: Option<tokio::sync::oneshot::Receiver<()>>,
    done: tokio::sync::oneshot::Sender<()>,
}

impl Turn {
    /// The next turn after `last` (None for the first), and what the turn
    /// after it will wait for.
    pub fn after(
        last: Option<tokio::sync::oneshot::Receiver<()>>,
    ) -> (Turn, tokio::sync::oneshot::Receiver<()>) {
        let (done, next) = tokio::sync::oneshot::channel();
        (Turn { wait: last, done }, next)
    }
}

/// One verification thread per core.
fn verify_threads() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get())
}

/// A random number for Message-IDs the node makes for itself.
fn rand_u32() -> u32 {
    let mut bytes = [0u8; 4];
    let _ = getrandom::getrandom(&mut bytes);
    u32::from_be_bytes(bytes)
}

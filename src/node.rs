//! A node's shared state, opened once at start and handed to every
//! connection: configuration, store, boards, trust, the committer, the
//! pre-commit table and TLS.

use std::sync::{Arc, Mutex};

use tokio::sync::mpsc;

use ed25519_dalek::SigningKey;

use crate::config::{Config, ConfigError};
use crate::feed::Feeds;
use crate::groups::Groups;
use crate::ingest::{Ingest, CONTROL_GROUP};
use crate::ingest::{Rejection, Source};
use crate::keys;
use crate::precommit::PreCommit;
use crate::store::commit::Prepared;
use crate::store::commit::{CommitThread, Committer};
use crate::store::schema::GroupRecord;
use crate::store::{Store, StoreError};
use crate::tls::{Tls, TlsError};
use crate::trust::Trust;
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
    pub config: Config,
    pub store: Store,
    pub groups: Arc<Groups>,
    pub committer: Committer,
    pub precommit: Arc<PreCommit>,
    pub key: SigningKey,
    pub trust: Arc<Trust>,
    pub verifier: Verifier,
    pub feeds: Arc<Feeds>,
    pub counters: Arc<Counters>,
    /// `[node] store`, parsed.
    pub stores: crate::proto::wildmat::Wildmat,
    /// `[node] premoderate`, parsed.
    pub premoderate: Option<crate::proto::wildmat::Wildmat>,
    pub tls: Tls,
    /// Keys whose passports were just committed; taken by the release task.
    released: Mutex<Option<mpsc::UnboundedReceiver<[u8; 32]>>>,
}

impl Node {
    /// Opens the store, creates configured groups that are missing and
    /// starts the committer. The returned thread handle must be joined
    /// after the last connection closes, so queued writes finish.
    pub fn open(config: Config) -> Result<(Arc<Node>, CommitThread), OpenError> {
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
        let mut records: Vec<(String, GroupRecord)> = store.groups()?;
        let now = chrono::Utc::now().timestamp();
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
        let trust = Arc::new(Trust::new(
            &config,
            key.verifying_key(),
            store.learnt_keys()?,
        )?);
        let (released_tx, released_rx) = mpsc::unbounded_channel();
        let feeds = Arc::new(Feeds::from_config(&config)?);
        let premoderate = config
            .node
            .premoderate
            .as_ref()
            .map(|w| crate::proto::wildmat::Wildmat::parse(w.as_bytes()))
            .transpose()
            .map_err(ConfigError::Invalid)?;
        let stores = crate::proto::wildmat::Wildmat::parse(config.node.store.as_bytes())
            .map_err(ConfigError::Invalid)?;
        let (committer, thread) = Committer::start(
            store.clone(),
            groups.clone(),
            trust.clone(),
            feeds.clone(),
            released_tx,
            config.storage.commit_batch,
        )?;
        let node = Node {
            config,
            store,
            groups,
            committer,
            precommit: Arc::default(),
            key,
            trust,
            feeds,
            counters: Arc::default(),
            stores,
            premoderate,
            tls,
            verifier: Verifier::start(verify_threads()).map_err(OpenError::Thread)?,
            released: Mutex::new(Some(released_rx)),
        };
        Ok((Arc::new(node), thread))
    }

    pub fn name(&self) -> &str {
        &self.config.node.name
    }

    /// The ingest rules as they stand now.
    pub fn ingest(&self) -> Ingest<'_> {
        Ingest {
            node: self.name(),
            groups: &self.groups,
            trust: &self.trust,
            node_key: &self.key,
            lookup: &self.store,
            hop_limit: self.config.feed.hop_limit,
            stores: &self.stores,
            premoderate: self.premoderate.as_ref(),
            now: chrono::Utc::now(),
        }
    }

    /// Parses, verifies (batched with other connections) and decides one
    /// article.
    pub async fn prepare(&self, raw: bytes::Bytes, source: Source) -> Result<Prepared, Rejection> {
        let parsed = self.ingest().parse(raw, &source)?;
        let verified = match parsed.claimed.clone() {
            Ok(claimed) => self.verifier.verify(claimed).await,
            Err(e) => Err(e),
        };
        self.ingest().decide(parsed, verified)
    }

    /// The queue of keys whose pending articles can be released; there is
    /// one, taken by whoever runs the release task.
    pub fn take_release_queue(&self) -> Option<mpsc::UnboundedReceiver<[u8; 32]>> {
        self.released
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
    }
}

/// One verification thread per core.
fn verify_threads() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get())
}

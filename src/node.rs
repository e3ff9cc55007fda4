//! A node's shared state, opened once at start and handed to every
//! connection: configuration, store, boards, the committer and the
//! pre-commit table.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::sync::Arc;

use ed25519_dalek::SigningKey;

use crate::config::Config;
use crate::groups::Groups;
use crate::precommit::PreCommit;
use crate::store::commit::{CommitThread, Committer};
use crate::store::schema::GroupRecord;
use crate::store::{Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("cannot create data directory {path}: {source}")]
    DataDir {
        path: String,
        source: std::io::Error,
    },
    #[error("node key {path}: {message}")]
    Key { path: String, message: String },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot start the commit thread: {0}")]
    Thread(std::io::Error),
}

pub struct Node {
    pub config: Config,
    pub store: Store,
    pub groups: Arc<Groups>,
    pub committer: Committer,
    pub precommit: Arc<PreCommit>,
    pub key: SigningKey,
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
        let key = load_or_create_key(&config.key_path())?;
        let store = Store::open(&dir.join("db"), config.storage.block_cache_mib)?;
        let mut records: Vec<(String, GroupRecord)> = store.groups()?;
        let now = chrono::Utc::now().timestamp();
        for group in &config.groups {
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
        let (committer, thread) =
            Committer::start(store.clone(), groups.clone(), config.storage.commit_batch)
                .map_err(OpenError::Thread)?;
        let node = Node {
            config,
            store,
            groups,
            committer,
            precommit: Arc::default(),
            key,
        };
        Ok((Arc::new(node), thread))
    }

    pub fn name(&self) -> &str {
        &self.config.node.name
    }
}

/// The key file holds the 32-byte ed25519 secret as 64 hex digits.
fn load_or_create_key(path: &Path) -> Result<SigningKey, OpenError> {
    let err = |message: String| OpenError::Key {
        path: path.display().to_string(),
        message,
    };
    match std::fs::read_to_string(path) {
        Ok(text) => {
            let bytes = hex::decode(text.trim()).map_err(|e| err(format!("not hex: {e}")))?;
            let secret: [u8; 32] = bytes
                .try_into()
                .map_err(|_| err("must hold 32 bytes (64 hex digits)".into()))?;
            Ok(SigningKey::from_bytes(&secret))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let mut secret = [0u8; 32];
            getrandom::getrandom(&mut secret).map_err(|e| err(format!("no randomness: {e}")))?;
            let mut file = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(path)
                .map_err(|e| err(e.to_string()))?;
            writeln!(file, "{}", hex::encode(secret))
                .and_then(|()| file.sync_all())
                .map_err(|e| err(e.to_string()))?;
            let key = SigningKey::from_bytes(&secret);
            tracing::info!(path = %path.display(), public = %hex::encode(key.verifying_key().as_bytes()), "created node key");
            Ok(key)
        }
        Err(e) => Err(err(e.to_string())),
    }
}

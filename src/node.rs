//! A node's shared state, opened once at start and handed to every
//! connection: configuration, store, boards, the committer and the
//! pre-commit table.

use std::sync::Arc;

use ed25519_dalek::SigningKey;

use crate::config::Config;
use crate::groups::Groups;
use crate::keys;
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
    #[error(transparent)]
    Key(#[from] keys::KeyError),
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
        let (key, created) = keys::read_or_create_secret_key(&config.key_path())?;
        if created {
            tracing::info!(path = %config.key_path().display(), "created node key");
        }
        tracing::info!(public = %hex::encode(key.verifying_key().as_bytes()), "node key");
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

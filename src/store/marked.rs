//! The Message-IDs with a kept cancel under them and the roots of refused
//! threads, held in memory. Ingest asks both of every article that comes
//! in, and the answer is almost always no: asked of RocksDB, the cancels
//! (a prefix scan) cost an iterator each, about 1.4 us and 5.6 % of the
//! sessions' time in a load's profile, and the refused thread a point read
//! missing every level (2 %). Both families are only ever added to, by the
//! commit thread, and hold one row per moderation action, not per article.

use std::collections::HashSet;
use std::sync::{RwLock, RwLockReadGuard};

#[derive(Default)]
pub(super) struct Marked {
    /// Targets of kept cancels (the first part of every CANCELS key).
    pub(super) cancelled: Marks,
    /// Roots of refused threads (every REFUSED key).
    pub(super) refused: Marks,
}

/// Message-IDs marked before the write that stores a row under them, so
/// an unmarked one has none.
#[derive(Default)]
pub(super) struct Marks(RwLock<HashSet<Vec<u8>>>);

impl Marks {
    pub(super) fn new(ids: impl IntoIterator<Item = Vec<u8>>) -> Marks {
        Marks(RwLock::new(ids.into_iter().collect()))
    }

    /// False when no row is stored under `id`.
    pub(super) fn may_hold(&self, id: &[u8]) -> bool {
        self.read().contains(id)
    }

    pub(super) fn mark(&self, id: &[u8]) {
        if !self.may_hold(id) {
            // A panic elsewhere while holding the lock left a whole set:
            // every update is a single insert.
            let mut ids = self.0.write().unwrap_or_else(|e| e.into_inner());
            ids.insert(id.to_vec());
        }
    }

    fn read(&self) -> RwLockReadGuard<'_, HashSet<Vec<u8>>> {
        self.0.read().unwrap_or_else(|e| e.into_inner())
    }
}

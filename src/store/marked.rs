//! The Message-IDs with a kept cancel under them and the roots of refused
//! threads, held in memory. Ingest asks both of every article that comes
//! in, and the answer is almost always no: asked of RocksDB, the cancels
//! (a prefix scan) cost an iterator each, about 1.4 us and 5.6 % of the
//! sessions' time in a load's profile, and the refused thread a point read
//! missing every level (2 %). Both families are only ever added to, by the
//! commit thread, and hold one row per moderation action, not per article.

use std::collections::HashSet;
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

#[derive(Default)]
pub(super) struct Marked {
    /// Targets of kept cancels (the first part of every CANCELS key).
    cancelled: RwLock<HashSet<Vec<u8>>>,
    /// Roots of refused threads (every REFUSED key).
    refused: RwLock<HashSet<Vec<u8>>>,
}

impl Marked {
    pub(super) fn new(
        cancelled: impl IntoIterator<Item = Vec<u8>>,
        refused: impl IntoIterator<Item = Vec<u8>>,
    ) -> Marked {
        Marked {
            cancelled: RwLock::new(cancelled.into_iter().collect()),
            refused: RwLock::new(refused.into_iter().collect()),
        }
    }

    /// Whether a cancel of `target` may be kept: false means none is.
    pub(super) fn may_be_cancelled(&self, target: &[u8]) -> bool {
        read(&self.cancelled).contains(target)
    }

    /// Whether the thread `root` opens may be refused: false means not.
    pub(super) fn may_be_refused(&self, root: &[u8]) -> bool {
        read(&self.refused).contains(root)
    }

    pub(super) fn cancelling(&self, target: &[u8]) {
        if !self.may_be_cancelled(target) {
            write(&self.cancelled).insert(target.to_vec());
        }
    }

    pub(super) fn refusing(&self, root: &[u8]) {
        if !self.may_be_refused(root) {
            write(&self.refused).insert(root.to_vec());
        }
    }
}

// A panic elsewhere while holding a lock leaves a whole set: every update
// is a single insert.
fn read(set: &RwLock<HashSet<Vec<u8>>>) -> RwLockReadGuard<'_, HashSet<Vec<u8>>> {
    set.read().unwrap_or_else(|e| e.into_inner())
}

fn write(set: &RwLock<HashSet<Vec<u8>>>) -> RwLockWriteGuard<'_, HashSet<Vec<u8>>> {
    set.write().unwrap_or_else(|e| e.into_inner())
}

//! The boards (newsgroups) this node carries, as readers see them. The
//! committer is the only writer of article counters; it publishes them here
//! after each durable write, so a reader never sees a number whose article
//! is not on disk.

use std::collections::BTreeMap;
use std::sync::RwLock;

use crate::store::schema::GroupRecord;

#[derive(Default)]
pub struct Groups {
    table: RwLock<BTreeMap<String, GroupRecord>>,
}

impl Groups {
    pub fn new(records: impl IntoIterator<Item = (String, GroupRecord)>) -> Groups {
        Groups {
            table: RwLock::new(records.into_iter().collect()),
        }
    }

    pub fn get(&self, name: &str) -> Option<GroupRecord> {
        self.read().get(name).cloned()
    }

    pub fn contains(&self, name: &str) -> bool {
        self.read().contains_key(name)
    }

    /// A copy of every group, sorted by name.
    pub fn all(&self) -> Vec<(String, GroupRecord)> {
        self.read()
            .iter()
            .map(|(n, r)| (n.clone(), r.clone()))
            .collect()
    }

    pub(crate) fn remove(&self, name: &str) {
        self.write().remove(name);
    }

    pub(crate) fn publish(&self, name: &str, record: GroupRecord) {
        self.write().insert(name.to_string(), record);
    }

    // A poisoned lock only means a panic elsewhere while holding it; the map
    // itself is always consistent because every update is a single insert.
    fn read(&self) -> std::sync::RwLockReadGuard<'_, BTreeMap<String, GroupRecord>> {
        self.table.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, BTreeMap<String, GroupRecord>> {
        self.table.write().unwrap_or_else(|e| e.into_inner())
    }
}

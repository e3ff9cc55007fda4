//! Each newsgroup's set of Message-IDs as reconciliation reads it
//! (protocol-spec/sync.md): the members themselves, ordered by item hash,
//! and digests of every hash prefix down to [`STORED_DEPTH`] hex digits,
//! kept up to date by a RocksDB merge operator in the same write that files
//! or removes an article. Deeper ranges are small enough to add up from
//! their members on demand.

use std::collections::HashMap;

use rocksdb::{Direction, IteratorMode, MergeOperands, ReadOptions, WriteBatch};

use super::{schema, Store, StoreError};
use crate::proto::reconcile::Members;
use crate::proto::reconcile::{item_hash, Digest, ItemHash, Prefix};

/// Digests are stored for ranges of 1 to this many hex digits: 16 + 256 +
/// 4096 per group at most. At a million articles in one group a deepest
/// range holds about 244, which one short scan adds up. A fourth stored
/// level made a 1M/1% reconciliation 17% faster (1.41 s against 1.69 s)
/// but cost a random merge per article: ingest measured 28k against 32k
/// articles/s (`cargo bench --bench ingest`).
pub const STORED_DEPTH: usize = 3;

/// `members` key: group NUL item-hash.
fn member_key(group: &str, hash: &ItemHash) -> Vec<u8> {
    let mut key = Vec::with_capacity(group.len() + 33);
    key.extend_from_slice(group.as_bytes());
    key.push(0);
    key.extend_from_slice(hash);
    key
}

/// `digests` key: group NUL depth prefix-bytes.
fn digest_key(group: &str, range: &Prefix) -> Vec<u8> {
    let mut key = Vec::with_capacity(group.len() + 4);
    key.extend_from_slice(group.as_bytes());
    key.push(0);
    key.push(range.depth() as u8);
    key.extend_from_slice(range.bytes());
    key
}

/// The merge operator of the `digests` family: digests add up. A corrupt
/// operand is skipped rather than poisoning the key; reconciliation then
/// sees a difference and lists the range, which is slower but still right.
pub fn merge_digests(
    _key: &[u8],
    existing: Option<&[u8]>,
    operands: &MergeOperands,
) -> Option<Vec<u8>> {
    let mut total = existing.and_then(Digest::decode).unwrap_or_default();
    for operand in operands {
        if let Some(digest) = Digest::decode(operand) {
            total.add(&digest);
        }
    }
    Some(total.encode().to_vec())
}

/// Set changes on their way into one write: member puts and deletes go
/// into the batch at once; digest changes are added up per range and
/// merged once each by [`Changes::write`], so a commit of many articles
/// writes each shared range's digest once, not once per article.
#[derive(Default)]
pub struct Changes {
    deltas: HashMap<Vec<u8>, Digest>,
}

impl Changes {
    /// Puts `message_id` into `group`'s set.
    pub fn add(&mut self, store: &Store, batch: &mut WriteBatch, group: &str, message_id: &[u8]) {
        let hash = item_hash(message_id);
        batch.put_cf(
            store.cf(schema::MEMBERS),
            member_key(group, &hash),
            message_id,
        );
        self.change(group, &hash, &Digest::of(&hash));
    }

    /// Takes `message_id`, which must be in it, out of `group`'s set.
    pub fn remove(
        &mut self,
        store: &Store,
        batch: &mut WriteBatch,
        group: &str,
        message_id: &[u8],
    ) {
        let hash = item_hash(message_id);
        batch.delete_cf(store.cf(schema::MEMBERS), member_key(group, &hash));
        self.change(group, &hash, &Digest::removal(&hash));
    }

    fn change(&mut self, group: &str, hash: &ItemHash, delta: &Digest) {
        let mut range = Prefix::ROOT;
        for depth in 0..STORED_DEPTH {
            let Some(deeper) = range.child(Prefix::nibble_of(hash, depth)) else {
                return;
            };
            range = deeper;
            self.deltas
                .entry(digest_key(group, &range))
                .or_default()
                .add(delta);
        }
    }

    /// Empties `group`'s set (rmgroup), changes to it so far included.
    pub fn clear(&mut self, store: &Store, batch: &mut WriteBatch, group: &str) {
        let mut start = group.as_bytes().to_vec();
        start.push(0);
        let mut end = group.as_bytes().to_vec();
        end.push(1);
        for family in [schema::MEMBERS, schema::DIGESTS] {
            batch.delete_range_cf(store.cf(family), &start, &end);
        }
        self.deltas.retain(|key, _| !key.starts_with(&start));
    }

    /// Adds the digest merges to the batch, after everything else in it.
    pub fn write(&mut self, store: &Store, batch: &mut WriteBatch) {
        for (key, delta) in self.deltas.drain() {
            if delta != Digest::default() {
                batch.merge_cf(store.cf(schema::DIGESTS), key, delta.encode());
            }
        }
    }
}

/// Puts many Message-IDs into `group`'s set in large unsynced writes:
/// for benchmarks and tools that build a set without filing articles (the
/// node itself only changes sets through the committer).
pub fn insert_many<'a>(
    store: &Store,
    group: &str,
    ids: impl IntoIterator<Item = &'a [u8]>,
) -> Result<(), StoreError> {
    let mut batch = WriteBatch::default();
    let mut changes = Changes::default();
    for id in ids {
        changes.add(store, &mut batch, group, id);
        if batch.len() >= 50_000 {
            changes.write(store, &mut batch);
            store.db().write(std::mem::take(&mut batch))?;
        }
    }
    changes.write(store, &mut batch);
    store.db().write(batch)?;
    Ok(())
}

/// One group's set in the store.
pub struct GroupSet<'a> {
    pub store: &'a Store,
    pub group: &'a str,
}

impl GroupSet<'_> {
    /// Visits the members in `range`, in hash order, until `visit` says stop.
    fn scan(
        &self,
        range: &Prefix,
        mut visit: impl FnMut(ItemHash, &[u8]) -> bool,
    ) -> Result<(), StoreError> {
        let mut start = member_key(self.group, &[0; 32]);
        start.truncate(self.group.len() + 1);
        start.extend_from_slice(range.bytes());
        let mut upper = self.group.as_bytes().to_vec();
        upper.push(1);
        let mut opts = ReadOptions::default();
        opts.set_iterate_upper_bound(upper);
        let family = self.store.cf(schema::MEMBERS);
        let mode = IteratorMode::From(&start, Direction::Forward);
        for item in self.store.db().iterator_cf_opt(family, opts, mode) {
            let (key, id) = item?;
            let Some(hash) = key
                .get(self.group.len() + 1..)
                .and_then(|h| <ItemHash>::try_from(h).ok())
            else {
                continue;
            };
            if !range.contains(&hash) || !visit(hash, &id) {
                break;
            }
        }
        Ok(())
    }

    fn stored(&self, range: &Prefix) -> Result<Digest, StoreError> {
        let key = digest_key(self.group, range);
        match self
            .store
            .db()
            .get_pinned_cf(self.store.cf(schema::DIGESTS), &key)?
        {
            None => Ok(Digest::default()),
            Some(bytes) => Digest::decode(&bytes).ok_or_else(|| StoreError::Corrupt {
                what: "digest",
                key: format!("{} {}", self.group, range.to_text()),
            }),
        }
    }
}

impl Members for GroupSet<'_> {
    type Error = StoreError;

    fn digest(&self, range: &Prefix) -> Result<Digest, StoreError> {
        match range.depth() {
            0 => {
                let mut total = Digest::default();
                for child in self.children(range)? {
                    total.add(&child);
                }
                Ok(total)
            }
            d if d <= STORED_DEPTH => self.stored(range),
            _ => {
                let mut total = Digest::default();
                self.scan(range, |hash, _| {
                    total.add(&Digest::of(&hash));
                    true
                })?;
                Ok(total)
            }
        }
    }

    fn children(&self, range: &Prefix) -> Result<[Digest; 16], StoreError> {
        let mut out = [Digest::default(); 16];
        if range.depth() < STORED_DEPTH {
            for (nibble, slot) in (0u8..).zip(out.iter_mut()) {
                if let Some(child) = range.child(nibble) {
                    *slot = self.stored(&child)?;
                }
            }
        } else {
            let depth = range.depth();
            self.scan(range, |hash, _| {
                if depth < 64 {
                    out[usize::from(Prefix::nibble_of(&hash, depth))].add(&Digest::of(&hash));
                }
                true
            })?;
        }
        Ok(out)
    }

    fn items(&self, range: &Prefix) -> Result<Vec<(ItemHash, Vec<u8>)>, StoreError> {
        let mut out = Vec::new();
        self.scan(range, |hash, id| {
            out.push((hash, id.to_vec()));
            true
        })?;
        Ok(out)
    }
}

/// Builds every group's set from history, for a store written before sets
/// were kept (schema 1). Returns how many memberships were written.
pub fn rebuild(store: &Store) -> Result<u64, StoreError> {
    let mut batch = WriteBatch::default();
    let mut changes = Changes::default();
    let mut written = 0u64;
    let family = store.cf(schema::HISTORY);
    for item in store.db().iterator_cf(family, IteratorMode::Start) {
        let (id, value) = item?;
        let Some(entry) = schema::HistoryEntry::decode(&value) else {
            continue;
        };
        for (group, _) in entry.numbers() {
            changes.add(store, &mut batch, group, &id);
            written += 1;
        }
        if batch.len() >= 50_000 {
            changes.write(store, &mut batch);
            store.db().write(std::mem::take(&mut batch))?;
        }
    }
    changes.write(store, &mut batch);
    store.db().write(batch)?;
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::reconcile::MemorySet;

    fn ids(range: std::ops::Range<usize>) -> Vec<Vec<u8>> {
        range
            .map(|i| format!("<{i}.members@example.org>").into_bytes())
            .collect()
    }

    #[test]
    fn stored_sets_read_like_the_same_set_in_memory() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(dir.path(), 8).expect("open");
        let mut batch = WriteBatch::default();
        let mut changes = Changes::default();
        for id in ids(0..3000) {
            changes.add(&store, &mut batch, "a.b", &id);
        }
        // Another group's members must not leak into a.b's ranges.
        for id in ids(5000..5100) {
            changes.add(&store, &mut batch, "a.bc", &id);
        }
        changes.write(&store, &mut batch);
        store.db().write(batch).expect("write");
        // Removals in the same batch as additions add up too.
        let mut batch = WriteBatch::default();
        let mut expected = MemorySet::default();
        for (i, id) in ids(0..3000).into_iter().enumerate() {
            if i % 7 == 0 {
                changes.remove(&store, &mut batch, "a.b", &id);
            } else {
                expected.insert(&id);
            }
        }
        for id in ids(7000..7010) {
            changes.add(&store, &mut batch, "a.b", &id);
            changes.remove(&store, &mut batch, "a.b", &id);
        }
        changes.write(&store, &mut batch);
        store.db().write(batch).expect("write");
        let stored = GroupSet {
            store: &store,
            group: "a.b",
        };
        let mut ranges = vec![Prefix::ROOT];
        for digits in [&b"7"[..], b"7c", b"7c0", b"7c0e", b"7c0e1", b"7c0e1f"] {
            ranges.push(Prefix::from_hex(digits).expect("hex"));
        }
        for range in &ranges {
            assert_eq!(
                stored.digest(range).expect("digest"),
                expected.digest(range).expect("digest"),
                "{}",
                range.to_text()
            );
            assert_eq!(
                stored.children(range).expect("children"),
                expected.children(range).expect("children")
            );
            assert_eq!(
                stored.items(range).expect("items"),
                expected.items(range).expect("items")
            );
        }
        let mut batch = WriteBatch::default();
        changes.add(&store, &mut batch, "a.b", b"<added.then@cleared>");
        changes.clear(&store, &mut batch, "a.b");
        changes.write(&store, &mut batch);
        store.db().write(batch).expect("write");
        assert_eq!(
            stored.digest(&Prefix::ROOT).expect("digest"),
            Digest::default()
        );
        let other = GroupSet {
            store: &store,
            group: "a.bc",
        };
        assert_eq!(other.digest(&Prefix::ROOT).expect("digest").count, 100);
    }

    #[test]
    fn an_older_store_gets_its_sets_built_from_history() {
        let dir = tempfile::tempdir().expect("tempdir");
        {
            let store = Store::open(dir.path(), 8).expect("open");
            let history = store.cf(schema::HISTORY);
            for (i, id) in ids(0..40).into_iter().enumerate() {
                let entry = if i % 4 == 0 {
                    schema::HistoryEntry::Removed {
                        micros: 1,
                        reason: "cancelled".into(),
                    }
                } else {
                    schema::HistoryEntry::Accepted {
                        micros: 1,
                        xref: format!("x.y:{i} x.z:{i}"),
                    }
                };
                store
                    .db()
                    .put_cf(history, &id, entry.encode())
                    .expect("put");
            }
            store
                .db()
                .put(schema::SCHEMA_KEY, schema::SCHEMA_WITHOUT_SETS)
                .expect("put");
        }
        let store = Store::open(dir.path(), 8).expect("reopen");
        for group in ["x.y", "x.z"] {
            let set = GroupSet {
                store: &store,
                group,
            };
            assert_eq!(set.digest(&Prefix::ROOT).expect("digest").count, 30);
        }
        let version = store.db().get(schema::SCHEMA_KEY).expect("get");
        assert_eq!(version.as_deref(), Some(schema::SCHEMA_VERSION));
    }
}

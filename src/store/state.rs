//! A digest of a node's derived state: what readers see and what waits,
//! never how it got there. Two nodes holding the same articles under the
//! same configuration have the same digest whatever order the articles
//! came in (protocol-spec/state.md §5); article numbers, arrival times and
//! refusals are left out because they do depend on it.

use rocksdb::IteratorMode;
use sha2::{Digest, Sha256};

use super::members::GroupSet;
use super::schema::{self, GroupRecord, KeyRecord};
use super::{Result, Store, StoreError};
use crate::proto::reconcile::{Members, Prefix};

impl Store {
    /// SHA-256 over the lines of protocol-spec/state.md §5: each board
    /// with its hidden flag, description and the digest of the set of
    /// articles filed in it; each learnt key; the digests of the sets of
    /// pending, held and superseded posts. The sets' digests are kept up to date by
    /// every write that changes them, so this costs a read per board and
    /// per learnt key, never a scan of the articles.
    pub fn state_digest(&self) -> Result<[u8; 32]> {
        let mut hash = Sha256::new();
        let mut line = |parts: &[&[u8]]| {
            hash.update(parts.join(&b'\t'));
            hash.update(b"\n");
        };
        line(&[b"tidings-state 1"]);
        for (name, record) in self.boards()? {
            let hidden: &[u8] = if record.hidden { b"hidden" } else { b"shown" };
            let (count, sum) = self.set_digest(&String::from_utf8_lossy(&name))?;
            line(&[
                b"board",
                &name,
                hidden,
                count.as_bytes(),
                sum.as_bytes(),
                record.description.as_bytes(),
            ]);
        }
        self.learnt_lines(|parts| line(parts))?;
        for (name, set) in [
            (&b"pending"[..], schema::PENDING_SET),
            (b"held", schema::HELD_SET),
            (b"superseded", schema::SUPERSEDED_SET),
        ] {
            let (count, sum) = self.set_digest(set)?;
            line(&[name, count.as_bytes(), sum.as_bytes()]);
        }
        Ok(hash.finalize().into())
    }

    /// Every board with its record, in byte order of its name.
    fn boards(&self) -> Result<Vec<(Vec<u8>, GroupRecord)>> {
        let mut out = Vec::new();
        for item in self
            .db()
            .iterator_cf(self.cf(schema::GROUPS), IteratorMode::Start)
        {
            let (name, value) = item?;
            let record = GroupRecord::decode(&value).ok_or_else(|| StoreError::Corrupt {
                what: "group",
                key: String::from_utf8_lossy(&name).into_owned(),
            })?;
            out.push((name.to_vec(), record));
        }
        Ok(out)
    }

    /// How many Message-IDs a set holds (a board, or the pending and held
    /// sets): one read of its root digest.
    pub fn set_count(&self, set: &str) -> Result<u64> {
        Ok(GroupSet {
            store: self,
            group: set,
        }
        .digest(&Prefix::ROOT)?
        .count)
    }

    /// A set's digest as the digest lines write it: count in decimal, sum
    /// in lower-case hex.
    fn set_digest(&self, set: &str) -> Result<(String, String)> {
        let digest = GroupSet {
            store: self,
            group: set,
        }
        .digest(&Prefix::ROOT)?;
        Ok((digest.count.to_string(), hex::encode(digest.sum)))
    }

    /// `key <hex> passport <issuer hex>`, `key <hex> revoked`, `key <hex>
    /// rotated <old hex>` or `key <hex> introduced <voucher hex> …` for
    /// each learnt key, in key order; then each grant record (owner,
    /// audience, grantee order).
    fn learnt_lines(&self, mut line: impl FnMut(&[&[u8]])) -> Result<()> {
        for item in self
            .db()
            .iterator_cf(self.cf(schema::KEYS), IteratorMode::Start)
        {
            let (key, value) = item?;
            let key = hex::encode(&key);
            match KeyRecord::decode(&value) {
                Some(KeyRecord::Passport { issuer, .. }) => line(&[
                    b"key",
                    key.as_bytes(),
                    b"passport",
                    hex::encode(issuer).as_bytes(),
                ]),
                Some(KeyRecord::Revoked { since, .. }) => line(&[
                    b"key",
                    key.as_bytes(),
                    b"revoked",
                    since.to_string().as_bytes(),
                ]),
                Some(KeyRecord::Rotated { old, .. }) => line(&[
                    b"key",
                    key.as_bytes(),
                    b"rotated",
                    hex::encode(old).as_bytes(),
                ]),
                Some(KeyRecord::Introduced { by, intro, .. }) => line(&[
                    b"key",
                    key.as_bytes(),
                    b"introduced",
                    hex::encode(by).as_bytes(),
                    intro.name.as_bytes(),
                    expiry(intro.expires).as_bytes(),
                    if intro.passports { b"passports" } else { b"-" },
                    intro.boards.as_deref().unwrap_or("-").as_bytes(),
                ]),
                None => return Err(StoreError::Corrupt { what: "key", key }),
            }
        }
        for (audience, grantee, record) in self.grants()? {
            line(&[
                b"grant",
                hex::encode(audience.owner).as_bytes(),
                audience.name.as_bytes(),
                hex::encode(grantee).as_bytes(),
                record.scope.map_or("none", |s| s.name()).as_bytes(),
                expiry(record.expires).as_bytes(),
            ]);
        }
        Ok(())
    }

    /// What the digest adds up, item by item, TAB-separated, each to
    /// `out`: to see where two nodes differ. A full scan.
    pub fn state_lines(&self, mut out: impl FnMut(&[u8])) -> Result<()> {
        let mut line = |parts: &[&[u8]]| out(&parts.join(&b'\t'));
        for (name, record) in self.boards()? {
            let hidden: &[u8] = if record.hidden { b"hidden" } else { b"shown" };
            line(&[b"board", &name, hidden, record.description.as_bytes()]);
        }
        // Keyed by set and the hash of the Message-ID: an order that does
        // not depend on numbers.
        for item in self
            .db()
            .iterator_cf(self.cf(schema::MEMBERS), IteratorMode::Start)
        {
            let (key, id) = item?;
            let set = key.split(|&b| b == 0).next().unwrap_or_default();
            if set == schema::PENDING_SET.as_bytes() {
                line(&[b"pending", &id]);
            } else if set == schema::HELD_SET.as_bytes() {
                line(&[b"held", &id]);
            } else if set == schema::SUPERSEDED_SET.as_bytes() {
                line(&[b"superseded", &id]);
            } else {
                line(&[b"filed", set, &id]);
            }
        }
        self.learnt_lines(|parts| line(parts))
    }
}

/// An expiry as the digest lines write it: seconds, or `never`.
fn expiry(expires: Option<u64>) -> String {
    expires.map_or_else(|| "never".to_string(), |e| e.to_string())
}

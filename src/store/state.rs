//! A digest of a node's derived state: what readers see and what waits,
//! never how it got there. Two nodes holding the same articles under the
//! same configuration have the same digest whatever order the articles
//! came in (protocol-spec/state.md §5); article numbers, arrival times and
//! refusals are left out because they do depend on it.

use rocksdb::IteratorMode;
use sha2::{Digest, Sha256};

use super::schema::{self, GroupRecord, HistoryEntry, KeyRecord};
use super::{Result, Store, StoreError};

impl Store {
    /// SHA-256 over, in key order: each board's name, hidden flag and
    /// description; each (board, Message-ID) filing; each learnt key with
    /// what was learnt (passport and its issuer, revocation, rotation);
    /// each Message-ID pending or held. A full scan: for tests and the
    /// operator, not for every request.
    pub fn state_digest(&self) -> Result<[u8; 32]> {
        let mut hash = Sha256::new();
        self.state_lines(|line| {
            hash.update(line);
            hash.update(b"\n");
        })?;
        Ok(hash.finalize().into())
    }

    /// The lines [`Store::state_digest`] hashes, TAB-separated, each to
    /// `out`: to see where two nodes differ.
    pub fn state_lines(&self, mut out: impl FnMut(&[u8])) -> Result<()> {
        let mut line = |parts: &[&[u8]]| out(&parts.join(&b'\t'));
        for item in self
            .db()
            .iterator_cf(self.cf(schema::GROUPS), IteratorMode::Start)
        {
            let (name, value) = item?;
            let record = GroupRecord::decode(&value).ok_or_else(|| StoreError::Corrupt {
                what: "group",
                key: String::from_utf8_lossy(&name).into_owned(),
            })?;
            let hidden: &[u8] = if record.hidden { b"hidden" } else { b"shown" };
            line(&[b"board", &name, hidden, record.description.as_bytes()]);
        }
        // Keyed by board and the hash of the Message-ID: an order that does
        // not depend on numbers.
        for item in self
            .db()
            .iterator_cf(self.cf(schema::MEMBERS), IteratorMode::Start)
        {
            let (key, id) = item?;
            let board = key.split(|&b| b == 0).next().unwrap_or_default();
            line(&[b"filed", board, &id]);
        }
        for item in self
            .db()
            .iterator_cf(self.cf(schema::KEYS), IteratorMode::Start)
        {
            let (key, value) = item?;
            let learnt = match KeyRecord::decode(&value) {
                Some(KeyRecord::Passport { issuer, .. }) => {
                    [b"passport".as_slice(), &issuer].concat()
                }
                Some(KeyRecord::Revoked { .. }) => b"revoked".to_vec(),
                Some(KeyRecord::Rotated { old, .. }) => [b"rotated".as_slice(), &old].concat(),
                None => {
                    return Err(StoreError::Corrupt {
                        what: "key",
                        key: hex::encode(&key),
                    })
                }
            };
            line(&[b"key", &key, &learnt]);
        }
        for item in self
            .db()
            .iterator_cf(self.cf(schema::HISTORY), IteratorMode::Start)
        {
            let (id, value) = item?;
            match HistoryEntry::decode(&value) {
                Some(HistoryEntry::Pending { .. }) => line(&[b"pending", &id]),
                Some(HistoryEntry::Held { .. }) => line(&[b"held", &id]),
                _ => {}
            }
        }
        Ok(())
    }
}

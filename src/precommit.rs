//! The pre-commit table: Message-IDs that some connection is receiving
//! right now or has been told to send (CHECK 238, XIHAVE). A second peer
//! offering the same article meanwhile is told to try later (431 / 436)
//! instead of sending it too, as INN's precommit cache does.
//!
//! Bounded as INN's is: each connection holds at most `per_session`
//! claims at once, and a claim older than `expiry` lapses, so a peer that
//! CHECKs a million IDs and never sends cannot keep them from anyone else
//! for longer than that. Ages are read on tokio's clock, which tests pause.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

pub struct PreCommit {
    ids: Mutex<HashMap<Vec<u8>, Entry>>,
    per_session: usize,
    expiry: Duration,
    next_owner: AtomicU64,
}

struct Entry {
    owner: u64,
    since: Instant,
}

/// One connection's right to claim, counting what it holds.
pub struct Claimant {
    table: Arc<PreCommit>,
    owner: u64,
    held: Arc<AtomicUsize>,
}

/// Held while an article is being received; releases the ID when dropped,
/// however the transfer ends (unless it lapsed and another took it).
pub struct Claim {
    table: Arc<PreCommit>,
    owner: u64,
    held: Arc<AtomicUsize>,
    id: Vec<u8>,
}

/// Why a claim was not given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Busy {
    /// Another connection holds the ID (and its claim has not lapsed).
    Elsewhere,
    /// This connection already holds its limit of claims.
    TooMany,
}

impl Default for PreCommit {
    fn default() -> Self {
        PreCommit::new(10_000, Duration::from_secs(60))
    }
}

impl PreCommit {
    pub fn new(per_session: usize, expiry: Duration) -> PreCommit {
        PreCommit {
            ids: Mutex::new(HashMap::new()),
            per_session: per_session.max(1),
            expiry,
            next_owner: AtomicU64::new(1),
        }
    }

    /// A new connection's handle.
    pub fn claimant(self: &Arc<Self>) -> Claimant {
        Claimant {
            table: self.clone(),
            owner: self.next_owner.fetch_add(1, Ordering::Relaxed),
            held: Arc::new(AtomicUsize::new(0)),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Vec<u8>, Entry>> {
        // A poisoned lock only means a panic elsewhere while holding it;
        // every update is a single insert or remove.
        self.ids.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Claimant {
    /// Claims `id` for this connection.
    pub fn claim(&self, id: &[u8]) -> Result<Claim, Busy> {
        if self.held.load(Ordering::Relaxed) >= self.table.per_session {
            return Err(Busy::TooMany);
        }
        let now = Instant::now();
        let mut ids = self.table.lock();
        if let Some(entry) = ids.get(id) {
            if now.duration_since(entry.since) < self.table.expiry {
                return Err(Busy::Elsewhere);
            }
            // Lapsed: its holder's Claim no longer owns it.
        }
        ids.insert(
            id.to_vec(),
            Entry {
                owner: self.owner,
                since: now,
            },
        );
        self.held.fetch_add(1, Ordering::Relaxed);
        Ok(Claim {
            table: self.table.clone(),
            owner: self.owner,
            held: self.held.clone(),
            id: id.to_vec(),
        })
    }
}

impl Drop for Claim {
    fn drop(&mut self) {
        self.held.fetch_sub(1, Ordering::Relaxed);
        let mut ids = self.table.lock();
        if ids.get(&self.id).is_some_and(|e| e.owner == self.owner) {
            ids.remove(&self.id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn second_claim_waits_for_the_first_to_drop() {
        let table = Arc::new(PreCommit::new(10, Duration::from_secs(60)));
        let (a, b) = (table.claimant(), table.claimant());
        let first = a.claim(b"<a@b>").expect("free");
        assert_eq!(b.claim(b"<a@b>").err(), Some(Busy::Elsewhere));
        assert!(b.claim(b"<c@d>").is_ok());
        drop(first);
        assert!(b.claim(b"<a@b>").is_ok());
    }

    #[tokio::test(start_paused = true)]
    async fn a_claim_lapses_after_the_expiry_and_its_late_drop_frees_nothing() {
        let table = Arc::new(PreCommit::new(10, Duration::from_secs(60)));
        let (idle, other) = (table.claimant(), table.claimant());
        let stale = idle.claim(b"<a@b>").expect("free");
        tokio::time::advance(Duration::from_secs(59)).await;
        assert_eq!(other.claim(b"<a@b>").err(), Some(Busy::Elsewhere));
        tokio::time::advance(Duration::from_secs(2)).await;
        let taken = other.claim(b"<a@b>").expect("lapsed");
        drop(stale);
        let third = table.claimant();
        assert_eq!(
            third.claim(b"<a@b>").err(),
            Some(Busy::Elsewhere),
            "still the new holder's"
        );
        drop(taken);
        assert!(third.claim(b"<a@b>").is_ok());
    }

    #[tokio::test(start_paused = true)]
    async fn one_connection_holds_at_most_its_limit() {
        let table = Arc::new(PreCommit::new(3, Duration::from_secs(60)));
        let greedy = table.claimant();
        let held: Vec<Claim> = (0..3)
            .map(|i| greedy.claim(format!("<{i}@x>").as_bytes()).expect("room"))
            .collect();
        assert_eq!(greedy.claim(b"<3@x>").err(), Some(Busy::TooMany));
        assert!(
            table.claimant().claim(b"<3@x>").is_ok(),
            "others are not limited by it"
        );
        drop(held);
        assert!(greedy.claim(b"<3@x>").is_ok());
    }
}

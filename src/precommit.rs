//! The pre-commit table: Message-IDs that some connection is receiving
//! right now. A second peer offering the same article meanwhile is told to
//! try later (431 / 436) instead of sending it too, as INN's precommit cache
//! does.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

#[derive(Default)]
pub struct PreCommit {
    ids: Mutex<HashSet<Vec<u8>>>,
}

/// Held while an article is being received; releases the ID when dropped,
/// however the transfer ends.
pub struct Claim {
    table: Arc<PreCommit>,
    id: Vec<u8>,
}

impl PreCommit {
    /// Claims `id`, or returns None when another connection holds it.
    pub fn claim(self: &Arc<Self>, id: &[u8]) -> Option<Claim> {
        let mut ids = self.ids.lock().unwrap_or_else(|e| e.into_inner());
        ids.insert(id.to_vec()).then(|| Claim {
            table: self.clone(),
            id: id.to_vec(),
        })
    }
}

impl Drop for Claim {
    fn drop(&mut self) {
        let mut ids = self.table.ids.lock().unwrap_or_else(|e| e.into_inner());
        ids.remove(&self.id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_claim_waits_for_the_first_to_drop() {
        let table = Arc::new(PreCommit::default());
        let first = table.claim(b"<a@b>").expect("free");
        assert!(table.claim(b"<a@b>").is_none());
        assert!(table.claim(b"<c@d>").is_some());
        drop(first);
        assert!(table.claim(b"<a@b>").is_some());
    }
}

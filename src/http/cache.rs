//! Rendered answers to the read routes that cost the most (catalogs,
//! thread lists, threads), kept until the change log moves on: any durable
//! change bumps its sequence (http.md §4.5), so an answer rendered at the
//! current sequence is still right. Concurrent requests for the same page
//! share one rendering.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use tokio::sync::OnceCell;

/// Pages kept; past it the cache is emptied (entries of older sequences
/// first, which every change makes stale anyway).
const PAGES: usize = 64;

/// A rendered answer: its JSON bytes and strong ETag.
pub struct Rendered {
    pub body: Bytes,
    pub etag: String,
}

type Slot = Arc<OnceCell<Arc<Rendered>>>;

#[derive(Default)]
pub struct Cache {
    pages: Mutex<HashMap<String, (u64, Slot)>>,
}

impl Cache {
    /// The slot for `key` at change sequence `seq`: the one rendered at
    /// `seq` if any, else a fresh one replacing an older rendering.
    pub fn slot(&self, key: &str, seq: u64) -> Slot {
        let mut pages = self.pages.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((at, slot)) = pages.get(key) {
            if *at == seq {
                return slot.clone();
            }
        }
        if pages.len() >= PAGES {
            pages.retain(|_, (at, _)| *at == seq);
            if pages.len() >= PAGES {
                pages.clear();
            }
        }
        let slot = Slot::default();
        pages.insert(key.to_string(), (seq, slot.clone()));
        slot
    }
}

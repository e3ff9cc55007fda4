//! Rendered answers to the read routes that cost the most (catalogs,
//! thread lists, threads), kept until the change log moves on: any durable
//! change bumps its sequence (http.md §4.5), so an answer rendered at the
//! current sequence is still right. Concurrent requests for the same page
//! share one rendering, and its gzip coding, made for the first request
//! that accepts it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use tokio::sync::OnceCell;

use super::coding;

/// Pages kept; past it the cache is emptied (entries of older sequences
/// first, which every change makes stale anyway).
const PAGES: usize = 64;

/// A rendered answer: its JSON bytes and strong ETag.
pub struct Rendered {
    pub body: Bytes,
    pub etag: String,
    /// The same JSON gzip-coded with its own tag, once asked for; `None`
    /// when the page is too short to code or the coding failed.
    gzip: OnceCell<Option<Coded>>,
}

/// A page's coded representation and its tag.
pub struct Coded {
    pub body: Bytes,
    pub etag: String,
}

impl Rendered {
    pub fn new(body: Bytes, etag: String) -> Rendered {
        Rendered {
            body,
            etag,
            gzip: OnceCell::new(),
        }
    }

    /// The page gzip-coded (off the async workers, once for all the
    /// requests that ask), or `None` when it is sent as it is.
    pub async fn gzipped(&self) -> Option<&Coded> {
        if self.body.len() < coding::GZIP_MIN {
            return None;
        }
        self.gzip
            .get_or_init(|| async {
                let body = self.body.clone();
                let etag = coding::gzip_tag(&self.etag);
                let coded = tokio::task::spawn_blocking(move || coding::gzip(&body));
                match coded.await {
                    Ok(Ok(coded)) => Some(Coded {
                        body: coded.into(),
                        etag,
                    }),
                    _ => None,
                }
            })
            .await
            .as_ref()
    }
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

//! A board's threads as the chan read API lists them: worked out from the
//! board's overview on each request (opening posts, and replies grouped
//! under the thread their References root names), in bump order. A scan of
//! the board; the thread index that makes it a lookup is issue 18's.

use std::collections::HashMap;

use crate::store::schema::HistoryEntry;
use crate::store::{Store, StoreError};

/// Overview entries read at a time.
const PAGE: usize = 1000;

/// One post of a thread as the overview gives it.
#[derive(Debug, Clone)]
pub struct Post {
    pub number: u64,
    pub message_id: String,
    pub subject: String,
    pub from: String,
    /// Seconds since the epoch (0 when the Date does not parse).
    pub time: i64,
}

/// A thread: its opening post (as filed in this board) and its replies
/// filed here, oldest first.
#[derive(Debug, Clone)]
pub struct Thread {
    pub op: Post,
    pub replies: Vec<Post>,
}

impl Thread {
    /// What bumps a thread: its latest post, by number (the order posts
    /// were filed here), so the order does not depend on skewed Dates.
    pub fn bumped(&self) -> u64 {
        self.replies.last().map_or(self.op.number, |r| r.number)
    }

    /// The latest Date among its posts, for `last_modified`.
    pub fn last_modified(&self) -> i64 {
        self.replies
            .iter()
            .map(|r| r.time)
            .fold(self.op.time, i64::max)
    }
}

/// The threads of `board`, most recently bumped first. A reply whose
/// opening post is not filed here (moved elsewhere, or not here yet) is
/// left out; one naming a superseded version goes under its current one.
pub fn of_board(store: &Store, board: &str) -> Result<Vec<Thread>, StoreError> {
    let mut ops: Vec<Post> = Vec::new();
    let mut replies: Vec<(String, Post)> = Vec::new();
    let mut from = 0;
    loop {
        let page = store.overview_page(board, from, u64::MAX, PAGE)?;
        let Some(&(last, _)) = page.last() else { break };
        for (number, record) in page {
            let fields: Vec<&[u8]> = record.split(|&b| b == b'\t').collect();
            let field = |i: usize| {
                String::from_utf8_lossy(fields.get(i).copied().unwrap_or_default()).into_owned()
            };
            let post = Post {
                number,
                message_id: field(3),
                subject: field(0),
                from: field(1),
                time: fields
                    .get(2)
                    .and_then(|d| crate::proto::article::parse_date(d))
                    .map_or(0, |d| d.timestamp()),
            };
            match field(4).split_whitespace().next() {
                Some(root) => replies.push((root.to_string(), post)),
                None => ops.push(post),
            }
        }
        match last.checked_add(1) {
            Some(next) => from = next,
            None => break,
        }
    }
    let mut index: HashMap<String, usize> = HashMap::new();
    let mut threads: Vec<Thread> = ops
        .into_iter()
        .enumerate()
        .map(|(i, op)| {
            index.insert(op.message_id.clone(), i);
            Thread {
                op,
                replies: Vec::new(),
            }
        })
        .collect();
    let mut current: HashMap<String, String> = HashMap::new();
    for (root, reply) in replies {
        let root = match current.get(&root) {
            Some(now) => now.clone(),
            None => {
                let now = current_version(store, &root)?;
                current.insert(root, now.clone());
                now
            }
        };
        if let Some(&i) = index.get(&root) {
            threads[i].replies.push(reply);
        }
    }
    threads.sort_by_key(|t| std::cmp::Reverse(t.bumped()));
    Ok(threads)
}

/// The current version of the post `id` names (state.md §3b), following
/// a chain of edits as far as settle.rs does.
pub fn current_version(store: &Store, id: &str) -> Result<String, StoreError> {
    let mut id = id.to_string();
    for _ in 0..64 {
        match store.history(id.as_bytes())? {
            Some(HistoryEntry::Superseded { by, .. }) if !by.is_empty() => id = by,
            _ => break,
        }
    }
    Ok(id)
}

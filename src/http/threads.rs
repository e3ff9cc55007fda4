//! A board's threads as the chan and native APIs show them, read from the
//! board's thread index (store/board_threads.rs): threads in bump order a
//! page at a time, and a thread's posts by number, each a range read.
//! Post fields come from the board's overview.

use crate::store::board_threads::{self, Head, Range};
use crate::store::schema::HistoryEntry;
use crate::store::{Store, StoreError};

/// One post as the overview gives it.
#[derive(Debug, Clone)]
pub struct Post {
    pub number: u64,
    pub message_id: String,
    pub subject: String,
    pub from: String,
    /// Seconds since the epoch (0 when the Date does not parse).
    pub time: i64,
}

impl Post {
    /// Post `number` of `board`, if it is filed there.
    pub fn read(store: &Store, board: &str, number: u64) -> Result<Option<Post>, StoreError> {
        Ok(store
            .overview(board, number)?
            .map(|record| Post::from_record(number, &record)))
    }

    fn from_record(number: u64, record: &[u8]) -> Post {
        let fields: Vec<&[u8]> = record.split(|&b| b == b'\t').collect();
        let field = |i: usize| {
            String::from_utf8_lossy(fields.get(i).copied().unwrap_or_default()).into_owned()
        };
        Post {
            number,
            message_id: field(3),
            subject: field(0),
            from: field(1),
            time: fields
                .get(2)
                .and_then(|d| crate::proto::article::parse_date(d))
                .map_or(0, |d| d.timestamp()),
        }
    }
}

/// A thread listed on a board: its opening post (the current version),
/// and its head in the index.
#[derive(Debug, Clone)]
pub struct Thread {
    pub root: Vec<u8>,
    pub op: Post,
    pub head: Head,
}

impl Thread {
    /// Its bump: the highest number a post of it was filed under here.
    pub fn bumped(&self) -> u64 {
        self.head.bump
    }

    /// The Date of the post that last bumped it (the opening post's when
    /// that one is gone), for `last_modified`.
    pub fn last_modified(&self, store: &Store, board: &str) -> Result<i64, StoreError> {
        if self.head.bump == self.op.number {
            return Ok(self.op.time);
        }
        Ok(Post::read(store, board, self.head.bump)?.map_or(self.op.time, |p| p.time))
    }

    /// Up to `limit` replies after number `after`, in order.
    pub fn replies(
        &self,
        store: &Store,
        board: &str,
        after: u64,
        limit: usize,
    ) -> Result<Vec<Post>, StoreError> {
        let mut out = Vec::new();
        let mut from = after;
        // The opening post is among the thread's numbers: one more read.
        while out.len() < limit {
            let numbers = store.thread_numbers(
                board,
                &self.root,
                Range::After(from),
                (limit - out.len()).saturating_add(1),
            )?;
            let Some(&(last, _)) = numbers.last() else {
                break;
            };
            for (number, opening) in numbers {
                // Another version of the opening post, filed until its
                // edit is settled, is no reply.
                if opening || out.len() >= limit {
                    continue;
                }
                if let Some(post) = Post::read(store, board, number)? {
                    out.push(post);
                }
            }
            from = last;
        }
        Ok(out)
    }

    /// Its last `count` replies, oldest first.
    pub fn last_replies(
        &self,
        store: &Store,
        board: &str,
        count: usize,
    ) -> Result<Vec<Post>, StoreError> {
        let mut out = Vec::new();
        let mut from = Range::Last;
        'pages: while out.len() < count {
            let numbers = store.thread_numbers(board, &self.root, from, count.saturating_add(1))?;
            let Some(&(first, _)) = numbers.last() else {
                break;
            };
            for (number, opening) in numbers {
                if out.len() >= count {
                    break 'pages;
                }
                if opening {
                    continue;
                }
                if let Some(post) = Post::read(store, board, number)? {
                    out.push(post);
                }
            }
            from = Range::Before(first);
        }
        out.reverse();
        Ok(out)
    }
}

/// Up to `limit` threads of `board` bumped below `before` (from the
/// latest bump without it), most recently bumped first.
pub fn page(
    store: &Store,
    board: &str,
    before: Option<u64>,
    limit: usize,
) -> Result<Vec<Thread>, StoreError> {
    let mut out = Vec::new();
    for (_, root) in store.bumped_threads(board, before, limit)? {
        if let Some(thread) = listed(store, board, root)? {
            out.push(thread);
        }
    }
    Ok(out)
}

/// The first `most` listed threads of `board`, most recently bumped
/// first.
pub fn of_board(store: &Store, board: &str, most: usize) -> Result<Vec<Thread>, StoreError> {
    let mut out: Vec<Thread> = Vec::new();
    while out.len() < most {
        let before = out.last().map(Thread::bumped);
        let page = page(store, board, before, (most - out.len()).min(1000))?;
        if page.is_empty() {
            break;
        }
        out.extend(page);
    }
    Ok(out)
}

/// The thread whose opening post is number `no` on `board`, if that is
/// an opening post listed there.
pub fn find(store: &Store, board: &str, no: u64) -> Result<Option<Thread>, StoreError> {
    let Some(record) = store.overview(board, no)? else {
        return Ok(None);
    };
    let Some((root, true)) =
        board_threads::record_root(&record, |id| board_threads::opening_root(store, id))?
    else {
        return Ok(None);
    };
    let thread = listed(store, board, root)?;
    Ok(thread.filter(|t| t.op.number == no))
}

fn listed(store: &Store, board: &str, root: Vec<u8>) -> Result<Option<Thread>, StoreError> {
    let Some(head) = store.thread_head(board, &root)? else {
        return Ok(None);
    };
    let Some(op) = Post::read(store, board, head.op)? else {
        return Ok(None);
    };
    Ok(Some(Thread { root, op, head }))
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

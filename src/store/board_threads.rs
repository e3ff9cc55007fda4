//! Each board's threads in bump order, and each thread's posts on the
//! board in number order: the indexes the chan API's catalog, thread list
//! and thread pages read (protocol-spec/http.md §3), kept by the committer
//! from the overview entries a batch adds and deletes, so a page is a
//! range read, never a scan of the board.
//!
//! | column family   | key                               | value           |
//! |-----------------|-----------------------------------|-----------------|
//! | `board_threads` | board NUL root-id                 | [`Head`]        |
//! | `bumps`         | board NUL bump(u64 BE) root-id    | empty           |
//! | `thread_posts`  | board NUL root-id NUL number(u64 BE) | `o` for an opening post, else empty |
//!
//! A thread's root is the Message-ID its posts' References start with
//! (an opening post and its edits have none: theirs is the first version's
//! id). Its bump is the highest number any of its posts was filed under on
//! the board now; its opening post is its highest-numbered version filed
//! there. A thread is listed (in `bumps`) while an opening post of it is
//! filed on the board. So the index is a function of the overview alone,
//! whatever order filings and removals came in.

use std::collections::{BTreeMap, HashSet};

use rocksdb::WriteBatch;

pub use super::schema::{BOARD_THREADS, BUMPS, THREAD_POSTS};
use super::{Store, StoreError};

/// The `thread_posts` value of an opening post.
const OPENING: &[u8] = b"o";

/// A thread on a board.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Head {
    /// The number of its opening post (its current version) on the board;
    /// 0 while none is filed there.
    pub op: u64,
    /// The highest number of its posts filed on the board.
    pub bump: u64,
    /// Its replies filed on the board.
    pub replies: u64,
}

impl Head {
    pub fn encode(&self) -> [u8; 24] {
        let mut out = [0u8; 24];
        out[..8].copy_from_slice(&self.op.to_be_bytes());
        out[8..16].copy_from_slice(&self.bump.to_be_bytes());
        out[16..].copy_from_slice(&self.replies.to_be_bytes());
        out
    }

    pub fn decode(bytes: &[u8]) -> Option<Head> {
        let number = |range: std::ops::Range<usize>| -> Option<u64> {
            Some(u64::from_be_bytes(bytes.get(range)?.try_into().ok()?))
        };
        if bytes.len() != 24 {
            return None;
        }
        Some(Head {
            op: number(0..8)?,
            bump: number(8..16)?,
            replies: number(16..24)?,
        })
    }

    fn listed(&self) -> bool {
        self.op != 0
    }

    fn empty(&self) -> bool {
        self.op == 0 && self.replies == 0
    }
}

/// `board NUL`: every key of a board in the three families starts so.
pub fn board_prefix(board: &str) -> Vec<u8> {
    let mut key = Vec::with_capacity(board.len() + 1);
    key.extend_from_slice(board.as_bytes());
    key.push(0);
    key
}

pub fn head_key(board: &str, root: &[u8]) -> Vec<u8> {
    [board_prefix(board).as_slice(), root].concat()
}

pub fn bump_key(board: &str, bump: u64, root: &[u8]) -> Vec<u8> {
    [board_prefix(board).as_slice(), &bump.to_be_bytes(), root].concat()
}

/// The bump and root of a `bumps` key of `board`.
pub fn split_bump_key<'a>(board: &str, key: &'a [u8]) -> Option<(u64, &'a [u8])> {
    let rest = key.strip_prefix(board.as_bytes())?.strip_prefix(&[0])?;
    let (bump, root) = rest.split_at_checked(8)?;
    Some((u64::from_be_bytes(bump.try_into().ok()?), root))
}

/// `board NUL root NUL`: the prefix of a thread's posts.
pub fn posts_prefix(board: &str, root: &[u8]) -> Vec<u8> {
    let mut key = head_key(board, root);
    key.push(0);
    key
}

pub fn post_key(board: &str, root: &[u8], number: u64) -> Vec<u8> {
    [posts_prefix(board, root).as_slice(), &number.to_be_bytes()].concat()
}

/// The number in a `thread_posts` key under `prefix`.
pub fn post_number(prefix: &[u8], key: &[u8]) -> Option<u64> {
    let rest = key.strip_prefix(prefix)?;
    Some(u64::from_be_bytes(rest.try_into().ok()?))
}

/// One overview entry added to or taken from a board.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filing {
    pub board: String,
    pub root: Vec<u8>,
    pub number: u64,
    /// An opening post (a version of one): no References.
    pub opening: bool,
}

/// The index changes of one batch (or of a rebuild): heads as the store
/// had them and as they are now, and the post keys to add or delete.
#[derive(Default)]
pub struct Changes {
    heads: BTreeMap<(String, Vec<u8>), (Option<Head>, Head)>,
    /// Post keys added (whether an opening post) or deleted (None).
    posts: BTreeMap<Vec<u8>, Option<bool>>,
    /// Boards whose index the batch dropped: their heads start empty.
    dropped: HashSet<String>,
    /// Threads whose bumping post was taken out: their bump is worked out
    /// again from the posts left.
    rebump: HashSet<(String, Vec<u8>)>,
    /// Threads whose opening post was taken out: another version of it may
    /// still be filed.
    reopen: HashSet<(String, Vec<u8>)>,
}

impl Changes {
    /// The board's index is gone (the board was removed in this batch).
    pub fn dropped(&mut self, board: &str) {
        self.dropped.insert(board.to_string());
        self.heads.retain(|(b, _), _| b != board);
        self.rebump.retain(|(b, _)| b != board);
        self.reopen.retain(|(b, _)| b != board);
        let prefix = board_prefix(board);
        self.posts.retain(|key, _| !key.starts_with(&prefix));
    }

    /// Whether `root` has posts on `board`, as the store has them with
    /// this batch's changes.
    pub fn has_thread(
        &mut self,
        store: &Store,
        board: &str,
        root: &[u8],
    ) -> Result<bool, StoreError> {
        let head = *self.head(store, board, root)?;
        Ok(head != Head::default())
    }

    /// Whether the board's index was dropped in this batch.
    pub fn was_dropped(&self, board: &str) -> bool {
        self.dropped.contains(board)
    }

    /// Reads the stored heads of `threads` (board, root) that this batch
    /// has not read yet, in one MultiGet: one read each, most of them
    /// misses (new threads), was a tenth of the commit thread's time in a
    /// catch-up.
    pub fn prefetch(&mut self, store: &Store, threads: &[(&str, &[u8])]) -> Result<(), StoreError> {
        let mut wanted: BTreeMap<Vec<u8>, (String, Vec<u8>)> = BTreeMap::new();
        for &(board, root) in threads {
            let key = (board.to_string(), root.to_vec());
            if !self.heads.contains_key(&key) && !self.dropped.contains(board) {
                wanted.insert(head_key(board, root), key);
            }
        }
        let keys: Vec<&Vec<u8>> = wanted.keys().collect();
        let found = store
            .db()
            .batched_multi_get_cf(store.cf(BOARD_THREADS), keys, true);
        for (value, key) in found.into_iter().zip(wanted.into_values()) {
            let stored = value?.and_then(|v| Head::decode(&v));
            self.heads.insert(key, (stored, stored.unwrap_or_default()));
        }
        Ok(())
    }

    fn head(&mut self, store: &Store, board: &str, root: &[u8]) -> Result<&mut Head, StoreError> {
        let key = (board.to_string(), root.to_vec());
        let stored = if self.heads.contains_key(&key) || self.dropped.contains(board) {
            None
        } else {
            store
                .db()
                .get_cf(store.cf(BOARD_THREADS), head_key(board, root))?
                .and_then(|v| Head::decode(&v))
        };
        let (_, now) = self
            .heads
            .entry(key)
            .or_insert((stored, stored.unwrap_or_default()));
        Ok(now)
    }

    pub fn add(&mut self, store: &Store, filing: &Filing) -> Result<(), StoreError> {
        let head = self.head(store, &filing.board, &filing.root)?;
        if filing.opening {
            head.op = head.op.max(filing.number);
        } else {
            head.replies += 1;
        }
        head.bump = head.bump.max(filing.number);
        self.posts.insert(
            post_key(&filing.board, &filing.root, filing.number),
            Some(filing.opening),
        );
        Ok(())
    }

    pub fn remove(&mut self, store: &Store, filing: &Filing) -> Result<(), StoreError> {
        let head = self.head(store, &filing.board, &filing.root)?;
        let mut reopen = false;
        if filing.opening {
            if head.op == filing.number {
                head.op = 0;
                reopen = true;
            }
        } else {
            head.replies = head.replies.saturating_sub(1);
        }
        let rebump = head.bump == filing.number;
        let thread = (filing.board.clone(), filing.root.clone());
        if reopen {
            self.reopen.insert(thread.clone());
        }
        if rebump {
            self.rebump.insert(thread);
        }
        self.posts
            .insert(post_key(&filing.board, &filing.root, filing.number), None);
        Ok(())
    }

    /// Moves every post of thread `from` on `board` to thread `to`: `from`
    /// was taken for a root while the article it names was not here, and
    /// that article, now here, is a version of `to`'s opening post.
    pub fn rehome(
        &mut self,
        store: &Store,
        board: &str,
        from: &[u8],
        to: &[u8],
    ) -> Result<(), StoreError> {
        let prefix = posts_prefix(board, from);
        let mut posts: BTreeMap<u64, bool> = BTreeMap::new();
        if !self.dropped.contains(board) {
            let mode = rocksdb::IteratorMode::From(&prefix, rocksdb::Direction::Forward);
            for item in store.db().iterator_cf(store.cf(THREAD_POSTS), mode) {
                let (key, value) = item?;
                let Some(number) = post_number(&prefix, &key) else {
                    break;
                };
                posts.insert(number, value.as_ref() == OPENING);
            }
        }
        for (key, put) in self
            .posts
            .range(prefix.clone()..)
            .take_while(|(key, _)| key.starts_with(&prefix))
        {
            if let Some(number) = post_number(&prefix, key) {
                match put {
                    Some(opening) => posts.insert(number, *opening),
                    None => posts.remove(&number),
                };
            }
        }
        for (number, opening) in posts {
            let filing = |root: &[u8]| Filing {
                board: board.to_string(),
                root: root.to_vec(),
                number,
                opening,
            };
            self.remove(store, &filing(from))?;
            self.add(store, &filing(to))?;
        }
        Ok(())
    }

    /// The highest number of a thread's posts (opening posts only, if
    /// `opening`) as the store has them with this batch's changes, 0 for
    /// none.
    fn highest(
        &self,
        store: &Store,
        board: &str,
        root: &[u8],
        opening: bool,
    ) -> Result<u64, StoreError> {
        let prefix = posts_prefix(board, root);
        let added = self
            .posts
            .range(prefix.clone()..)
            .take_while(|(key, _)| key.starts_with(&prefix))
            .filter(|(_, put)| matches!(put, Some(o) if *o || !opening))
            .filter_map(|(key, _)| post_number(&prefix, key))
            .max()
            .unwrap_or(0);
        let start = [prefix.as_slice(), &[0xFF; 9]].concat();
        let mode = rocksdb::IteratorMode::From(&start, rocksdb::Direction::Reverse);
        let mut stored = 0;
        if !self.dropped.contains(board) {
            for item in store.db().iterator_cf(store.cf(THREAD_POSTS), mode) {
                let (key, value) = item?;
                let Some(number) = post_number(&prefix, &key) else {
                    break;
                };
                let deleted = matches!(self.posts.get(key.as_ref()), Some(None));
                if !deleted && (!opening || value.as_ref() == OPENING) {
                    stored = number;
                    break;
                }
            }
        }
        Ok(added.max(stored))
    }

    /// Adds the changes to `batch`. A thread whose bumping post went is
    /// bumped by the highest post it has left, so the index is a function
    /// of the overview alone, whatever order the filings came in.
    pub fn write(&mut self, store: &Store, batch: &mut WriteBatch) -> Result<(), StoreError> {
        for key in std::mem::take(&mut self.rebump) {
            let highest = self.highest(store, &key.0, &key.1, false)?;
            if let Some((_, now)) = self.heads.get_mut(&key) {
                now.bump = highest;
            }
        }
        for key in std::mem::take(&mut self.reopen) {
            let highest = self.highest(store, &key.0, &key.1, true)?;
            if let Some((_, now)) = self.heads.get_mut(&key) {
                now.op = now.op.max(highest);
            }
        }
        let (heads, bumps, posts) = (
            store.cf(BOARD_THREADS),
            store.cf(BUMPS),
            store.cf(THREAD_POSTS),
        );
        for ((board, root), (before, now)) in &self.heads {
            // Unchanged, or looked at and never there.
            if before.as_ref() == Some(now) || (before.is_none() && *now == Head::default()) {
                continue;
            }
            if let Some(before) = before.filter(Head::listed) {
                if !now.listed() || before.bump != now.bump {
                    batch.delete_cf(bumps, bump_key(board, before.bump, root));
                }
            }
            if now.listed() {
                batch.put_cf(bumps, bump_key(board, now.bump, root), b"");
            }
            if now.empty() {
                batch.delete_cf(heads, head_key(board, root));
            } else {
                batch.put_cf(heads, head_key(board, root), now.encode());
            }
        }
        for (key, put) in &self.posts {
            match put {
                Some(true) => batch.put_cf(posts, key, OPENING),
                Some(false) => batch.put_cf(posts, key, b""),
                None => batch.delete_cf(posts, key),
            }
        }
        Ok(())
    }
}

/// Deletes a board's whole index (the board is removed).
pub fn drop_board(store: &Store, batch: &mut WriteBatch, board: &str) {
    let start = board_prefix(board);
    let mut end = board.as_bytes().to_vec();
    end.push(1);
    for family in [BOARD_THREADS, BUMPS, THREAD_POSTS] {
        batch.delete_range_cf(store.cf(family), &start, &end);
    }
}

/// The thread root of an overview record, and whether it is an opening
/// post (no References). `resolve` gives the root of the post a record
/// starts from (the first entry of its References, or the record's own
/// Message-ID): for a version of an opening post, the first version's id,
/// so replies to an edited opening post stay in its thread.
pub fn record_root(
    record: &[u8],
    resolve: impl FnOnce(&[u8]) -> Result<Vec<u8>, StoreError>,
) -> Result<Option<(Vec<u8>, bool)>, StoreError> {
    let mut fields = record.split(|&b| b == b'\t');
    let Some(id) = fields.nth(3) else {
        return Ok(None);
    };
    let first = fields.next().and_then(|refs| {
        refs.split(|b| b.is_ascii_whitespace())
            .find(|r| !r.is_empty())
    });
    Ok(Some(match first {
        Some(parent) => (resolve(parent)?, false),
        None => (resolve(id)?, true),
    }))
}

/// The root of the thread `id` opens or belongs to: `thread_root` of it
/// (its first reference, else what it supersedes, else itself), followed
/// until it names itself or nothing known (at most 64 steps, as settle.rs
/// follows chains of edits). `step` gives an article's `thread_root`, or
/// None when the article is not known.
pub fn root_of(
    id: &[u8],
    mut step: impl FnMut(&[u8]) -> Result<Option<Vec<u8>>, StoreError>,
) -> Result<Vec<u8>, StoreError> {
    let mut current = id.to_vec();
    for _ in 0..64 {
        match step(&current)? {
            Some(next) if next != current => current = next,
            _ => break,
        }
    }
    Ok(current)
}

/// [`root_of`] with every step read from the stored article.
pub fn opening_root(store: &Store, id: &[u8]) -> Result<Vec<u8>, StoreError> {
    root_of(id, |x| stored_thread_root(store, x))
}

/// The `thread_root` of a stored article, None when it is not stored.
pub fn stored_thread_root(store: &Store, id: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
    Ok(store
        .article(id)?
        .and_then(|bytes| crate::proto::article::Article::parse(bytes::Bytes::from(bytes)).ok())
        .and_then(|article| article.thread_root()))
}

/// Builds the whole index from the overview of every board (an older
/// store, schema 5 and before): returns the threads indexed.
pub fn rebuild(store: &Store) -> Result<u64, StoreError> {
    let mut changes = Changes::default();
    let boards: Vec<String> = store.groups()?.into_iter().map(|(name, _)| name).collect();
    for board in &boards {
        changes.dropped(board);
        let mut from = 0;
        loop {
            let page = store.overview_page(board, from, u64::MAX, 1000)?;
            let Some(&(last, _)) = page.last() else { break };
            for (number, record) in page {
                if let Some((root, opening)) = record_root(&record, |id| opening_root(store, id))? {
                    changes.add(
                        store,
                        &Filing {
                            board: board.clone(),
                            root,
                            number,
                            opening,
                        },
                    )?;
                }
            }
            match last.checked_add(1) {
                Some(next) => from = next,
                None => break,
            }
        }
    }
    let threads = changes.heads.len() as u64;
    let mut batch = WriteBatch::default();
    for board in &boards {
        drop_board(store, &mut batch, board);
    }
    changes.write(store, &mut batch)?;
    store.db().write(batch)?;
    Ok(threads)
}

/// The index as the overview says it should be against what is stored:
/// the differences, one line each (none when they agree). For tests.
pub fn differences(store: &Store) -> Result<Vec<String>, StoreError> {
    let mut want = Changes::default();
    let boards: Vec<String> = store.groups()?.into_iter().map(|(name, _)| name).collect();
    for board in &boards {
        want.dropped(board);
        for (number, record) in store.overview_page(board, 0, u64::MAX, usize::MAX)? {
            if let Some((root, opening)) = record_root(&record, |id| opening_root(store, id))? {
                let filing = Filing {
                    board: board.clone(),
                    root,
                    number,
                    opening,
                };
                want.add(store, &filing)?;
            }
        }
    }
    let shown = |key: &[u8]| String::from_utf8_lossy(key).replace('\0', "/");
    let mut out = Vec::new();
    let all = |family: &'static str| -> Result<BTreeMap<Vec<u8>, Vec<u8>>, StoreError> {
        let mut map = BTreeMap::new();
        for item in store
            .db()
            .iterator_cf(store.cf(family), rocksdb::IteratorMode::Start)
        {
            let (key, value) = item?;
            map.insert(key.to_vec(), value.to_vec());
        }
        Ok(map)
    };
    let (heads, bumps, posts) = (all(BOARD_THREADS)?, all(BUMPS)?, all(THREAD_POSTS)?);
    let mut want_heads = BTreeMap::new();
    let mut want_bumps = BTreeMap::new();
    for ((board, root), (_, head)) in &want.heads {
        if !head.empty() {
            want_heads.insert(head_key(board, root), head.encode().to_vec());
        }
        if head.listed() {
            want_bumps.insert(bump_key(board, head.bump, root), Vec::new());
        }
    }
    let want_posts: BTreeMap<Vec<u8>, Vec<u8>> = want
        .posts
        .iter()
        .filter_map(|(key, put)| {
            put.map(|opening| {
                (
                    key.clone(),
                    if opening {
                        OPENING.to_vec()
                    } else {
                        Vec::new()
                    },
                )
            })
        })
        .collect();
    for (family, want, have) in [
        (BOARD_THREADS, &want_heads, &heads),
        (BUMPS, &want_bumps, &bumps),
        (THREAD_POSTS, &want_posts, &posts),
    ] {
        for (key, value) in want {
            match have.get(key) {
                None => out.push(format!("{family}: missing {}", shown(key))),
                Some(v) if v != value => out.push(format!(
                    "{family}: {} is {:?}, want {:?}",
                    shown(key),
                    Head::decode(v),
                    Head::decode(value)
                )),
                Some(_) => {}
            }
        }
        for key in have.keys().filter(|k| !want.contains_key(*k)) {
            out.push(format!("{family}: stray {}", shown(key)));
        }
    }
    Ok(out)
}

impl Store {
    /// A thread's head on a board.
    pub fn thread_head(&self, board: &str, root: &[u8]) -> Result<Option<Head>, StoreError> {
        Ok(self
            .db()
            .get_cf(self.cf(BOARD_THREADS), head_key(board, root))?
            .and_then(|v| Head::decode(&v)))
    }

    /// Up to `limit` of the board's listed threads bumped below `before`
    /// (all, without it), latest bump first: `(bump, root)`.
    pub fn bumped_threads(
        &self,
        board: &str,
        before: Option<u64>,
        limit: usize,
    ) -> Result<Vec<(u64, Vec<u8>)>, StoreError> {
        let start = match before {
            Some(before) => bump_key(board, before, b""),
            None => [board_prefix(board).as_slice(), &[0xFF; 9]].concat(),
        };
        let mode = rocksdb::IteratorMode::From(&start, rocksdb::Direction::Reverse);
        let mut out = Vec::new();
        for item in self.db().iterator_cf(self.cf(BUMPS), mode) {
            if out.len() >= limit {
                break;
            }
            let (key, _) = item?;
            let Some((bump, root)) = split_bump_key(board, &key) else {
                break;
            };
            if before.is_some_and(|before| bump >= before) {
                continue;
            }
            out.push((bump, root.to_vec()));
        }
        Ok(out)
    }

    /// Up to `limit` of a thread's posts on a board, as (number, whether
    /// an opening post), after a number in order, or the last ones latest
    /// first.
    pub fn thread_numbers(
        &self,
        board: &str,
        root: &[u8],
        from: Range,
        limit: usize,
    ) -> Result<Vec<(u64, bool)>, StoreError> {
        let prefix = posts_prefix(board, root);
        let (start, direction) = match from {
            Range::After(after) => match after.checked_add(1) {
                Some(next) => (post_key(board, root, next), rocksdb::Direction::Forward),
                None => return Ok(Vec::new()),
            },
            Range::Last => (
                [prefix.as_slice(), &[0xFF; 9]].concat(),
                rocksdb::Direction::Reverse,
            ),
            Range::Before(before) => match before.checked_sub(1) {
                Some(last) => (post_key(board, root, last), rocksdb::Direction::Reverse),
                None => return Ok(Vec::new()),
            },
        };
        let mode = rocksdb::IteratorMode::From(&start, direction);
        let mut out = Vec::new();
        for item in self.db().iterator_cf(self.cf(THREAD_POSTS), mode) {
            if out.len() >= limit {
                break;
            }
            let (key, value) = item?;
            match post_number(&prefix, &key) {
                Some(number) => out.push((number, value.as_ref() == OPENING)),
                None => break,
            }
        }
        Ok(out)
    }
}

/// Where [`Store::thread_numbers`] starts.
#[derive(Debug, Clone, Copy)]
pub enum Range {
    /// After this number, in order.
    After(u64),
    /// From the latest, backwards.
    Last,
    /// Before this number, backwards.
    Before(u64),
}

#[cfg(test)]
mod tests {
    use super::super::schema;
    use super::*;

    #[test]
    fn heads_and_keys_round_trip() {
        let head = Head {
            op: 3,
            bump: 90,
            replies: 12,
        };
        assert_eq!(Head::decode(&head.encode()), Some(head));
        assert_eq!(Head::decode(b"short"), None);
        let key = bump_key("b.x", 90, b"<r@x>");
        assert_eq!(split_bump_key("b.x", &key), Some((90, &b"<r@x>"[..])));
        assert_eq!(split_bump_key("b", &key), None, "another board's key");
        let prefix = posts_prefix("b.x", b"<r@x>");
        assert_eq!(post_number(&prefix, &post_key("b.x", b"<r@x>", 7)), Some(7));
    }

    #[test]
    fn an_older_store_gets_its_board_threads_indexed_when_opened() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("db");
        {
            let store = Store::open(&path, 8).expect("open");
            store
                .put_group("b.x", &schema::GroupRecord::new(0, String::new()))
                .expect("group");
            let records: [(u64, &[u8]); 4] = [
                (1, b"old\tf\td\t<1@x>\t\t1\t1"),
                (2, b"new\tf\td\t<2@x>\t\t1\t1"),
                (3, b"Re: old\tf\td\t<3@x>\t<1@x>\t1\t1"),
                (4, b"Re: new\tf\td\t<4@x>\t<2@x>\t1\t1"),
            ];
            for (number, record) in records {
                store
                    .db()
                    .put_cf(
                        store.cf(schema::OVERVIEW),
                        schema::overview_key("b.x", number),
                        record,
                    )
                    .expect("overview");
            }
            // What a schema 5 store is: no index, and its version.
            store
                .db()
                .put(schema::SCHEMA_KEY, schema::SCHEMA_WITHOUT_BOARD_THREADS)
                .expect("version");
        }
        let store = Store::open(&path, 8).expect("reopen builds the index");
        assert_eq!(
            store.db().get(schema::SCHEMA_KEY).expect("read").as_deref(),
            Some(schema::SCHEMA_VERSION)
        );
        assert_eq!(
            store.bumped_threads("b.x", None, 10).expect("threads"),
            vec![(4, b"<2@x>".to_vec()), (3, b"<1@x>".to_vec())]
        );
        assert_eq!(
            store.bumped_threads("b.x", Some(4), 10).expect("page two"),
            vec![(3, b"<1@x>".to_vec())]
        );
        assert_eq!(
            store.thread_head("b.x", b"<1@x>").expect("head"),
            Some(Head {
                op: 1,
                bump: 3,
                replies: 1
            })
        );
        assert_eq!(
            store
                .thread_numbers("b.x", b"<2@x>", Range::After(0), 10)
                .expect("posts"),
            vec![(2, true), (4, false)]
        );
        assert_eq!(differences(&store).expect("check"), Vec::<String>::new());
    }

    #[test]
    fn a_records_root_is_its_first_reference_or_the_opening_posts() {
        let reply = b"Re: s\tfrom\tdate\t<2@x>\t<1@x> <1b@x>\t10\t1";
        let op = b"s\tfrom\tdate\t<e@x>\t\t10\t1";
        let resolve = |id: &[u8]| -> Result<Vec<u8>, StoreError> { Ok([id, b"!"].concat()) };
        assert_eq!(
            record_root(reply, resolve).expect("ok"),
            Some((b"<1@x>!".to_vec(), false))
        );
        assert_eq!(
            record_root(op, resolve).expect("ok"),
            Some((b"<e@x>!".to_vec(), true))
        );
        assert_eq!(record_root(b"short", resolve).expect("ok"), None);
    }
}

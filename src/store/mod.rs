//! Article storage on RocksDB: opening the database with its column
//! families, and every read the node makes. Writes go through
//! [`commit::Committer`], which batches them into shared synced writes.

pub mod blobs;
pub mod board_threads;
pub mod commit;
mod marked;
pub mod members;
pub mod schema;
mod state;

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use rocksdb::{
    BlockBasedIndexType, BlockBasedOptions, Cache, ColumnFamily, ColumnFamilyDescriptor,
    DBCompressionType, Direction, IteratorMode, LruCacheOptions, Options, ReadOptions,
    WriteBufferManager, DB,
};

use schema::{GroupRecord, HistoryEntry, KeyRecord};

/// One error type for the storage layer; every RocksDB error is mapped here.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Db(#[from] rocksdb::Error),
    #[error("corrupt {what} record for key {key:?}")]
    Corrupt { what: &'static str, key: String },
    #[error("store schema version {found:?} is not the {expected:?} this build understands")]
    Schema { found: String, expected: String },
    #[error("the commit thread has stopped")]
    CommitterGone,
    #[error("cannot start the commit thread: {0}")]
    Thread(std::io::Error),
}

pub type Result<T> = std::result::Result<T, StoreError>;

/// One entry of the arrival log.
pub struct Arrival {
    /// Its key, to continue a scan after it.
    pub key: Vec<u8>,
    pub message_id: Vec<u8>,
    /// The groups it was filed in here, comma-separated.
    pub filed_in: Vec<u8>,
}

/// An article waiting to be offered to a peer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxEntry {
    pub seq: u64,
    /// When it was queued, microseconds since the epoch.
    pub queued: u64,
    pub message_id: Vec<u8>,
}

/// An article waiting for its signer's passport.
pub struct PendingArticle {
    pub signer: [u8; 32],
    pub message_id: Vec<u8>,
    /// Arrival time, microseconds since the epoch.
    pub arrived: u64,
    pub article: Vec<u8>,
}

/// Which way NEXT and LAST move through a group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Towards {
    Next,
    Previous,
}

/// A post held for premoderation, as [`Store::held_page`] lists it.
#[derive(Debug, Clone)]
pub struct HeldPost {
    pub message_id: Vec<u8>,
    /// Arrival time, microseconds since the epoch.
    pub arrived: u64,
    pub article: Vec<u8>,
}

/// RocksDB's own view of its health ([`Store::health`]).
#[derive(Debug, Default, Clone, Copy)]
pub struct DbHealth {
    pub pending_compaction_bytes: u64,
    pub background_errors: u64,
    pub block_cache_bytes: u64,
    /// Table files and memtables: what the store holds on disk and in
    /// memory.
    pub live_bytes: u64,
    /// Memory of the memtables, those being flushed included.
    pub memtable_bytes: u64,
    /// Memory of open table files' readers outside the block cache.
    pub table_readers_bytes: u64,
}

#[derive(Clone)]
pub struct Store {
    db: Arc<DB>,
    boards: Arc<BoardsRead>,
    marked: Arc<marked::Marked>,
}

/// Each board's kept controls as last read. Deciding an article looks up
/// the controls of every board it names, and opening a RocksDB iterator
/// costs about a microsecond even over an empty family: in a load's
/// profile that lookup was 1.6 % of the node's CPU (issue 18's note).
/// Controls are few and rarely written, and the commit thread, their one
/// writer, calls [`Store::boards_written`] after each write of one.
#[derive(Default)]
struct BoardsRead {
    /// Bumped after every write of a board control: an entry read before
    /// it may be stale.
    written: AtomicU64,
    read: Mutex<HashMap<String, ReadControls>>,
}

impl BoardsRead {
    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<String, ReadControls>> {
        // A panic elsewhere while holding it left a whole map of reads.
        self.read.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A board's controls and the count of writes they were read under.
type ReadControls = (u64, Arc<[schema::BoardControl]>);

/// Boards whose controls [`BoardsRead`] keeps at most: articles may name
/// any board, so the map is emptied when it reaches this.
const BOARDS_READ: usize = 4096;

/// The share of the block cache the memtables may take, in thirds: with
/// the default 96 MiB, memtables up to 64 MiB and at least 32 MiB of
/// blocks. 64 MiB of memtables rather than 96 took a node's peak after
/// 600k articles from 304 to 272 MiB at the same rate (19.7k and 19.6k
/// articles/s).
const MEMTABLE_THIRDS: usize = 2;

/// How many level-0 files a family gathers before they are compacted into
/// the level below. The memtables share one budget, so when the articles'
/// fills it every family is flushed: the others' level-0 files are 2-8 MB.
/// Most of those families are keyed by hash or Message-ID, so each file
/// overlaps the whole level below, and at RocksDB's 4 files a compaction
/// rewrote a family's whole bottom level for 16-30 MB of news: each key
/// about 11 times over a 10M-article load, 249 of the node's 1076
/// CPU-seconds. Gathering 16 files (8 of the articles' 34 MB ones) took
/// that load's compactions from 390 to 253 CPU-seconds and its rate from
/// 13390 to 15419 articles/s. The price is in reads: a lookup of a missing
/// key probes each level-0 file's filter, so a 1M-article catch-up's
/// receiver spent about as much more on its lookups as it saved on
/// compactions; at 10M, where compactions are 40 % of its CPU, the
/// catch-up was faster (issue 18's note).
const LEVEL0_FILES: i32 = 16;
const ARTICLES_LEVEL0_FILES: i32 = 8;

/// Level-0 files at which RocksDB slows, then stops, writes; above its
/// defaults (20 and 36) because a family now gathers 16, and with one
/// compaction at a time another may wait its turn meanwhile.
const LEVEL0_SLOWDOWN: i32 = 48;
const LEVEL0_STOP: i32 = 64;

/// The size RocksDB cuts compaction output files at, in the families
/// other than the articles. Their entries are a key and a few bytes, so a
/// file of RocksDB's default 64 MiB held 7-9M entries, and RocksDB keeps a
/// file's whole index and filter in memory while it writes the file
/// (two index builders) and reads them whole again when it opens the new
/// file. At 10M articles a node's peak of resident memory fell in such a
/// compaction, a heap profile showing 57 MB in the table builder (45 MB
/// of it index) and 23 MB reading new files' index and filter, all
/// outside the block cache's budget; the authors' and authored families'
/// files had indexes of 15-20 MB. With 16 MiB files the same load peaked
/// at 225 MiB instead of 268-283 (issue 18's note).
const SMALL_ENTRY_FILE_BYTES: u64 = 16 << 20;

/// The block cache is split into 2^CACHE_SHARD_BITS shards, each with
/// its share of the capacity. RocksDB's default for 96 MiB is 64 shards
/// of 1.5 MiB, and the memtables' charge is 256 KiB placeholders spread
/// over the shards by hash: with 64 MiB of memtables some shards held 6
/// or more (full) and cached nothing, so the filter partitions falling
/// in them were read from the files again on every lookup. Four shards
/// of 24 MiB even the placeholders out; a node's few threads do not
/// contend on four locks.
const CACHE_SHARD_BITS: i32 = 2;

impl Store {
    /// Opens (or creates) the store under `dir`. `cache_mib` bounds
    /// RocksDB's memory: the block cache shared by all column families,
    /// which the memtables are charged to.
    pub fn open(dir: &Path, cache_mib: usize) -> Result<Store> {
        let cache_bytes = cache_mib.max(1) << 20;
        let mut cache_opts = LruCacheOptions::default();
        cache_opts.set_capacity(cache_bytes);
        cache_opts.set_num_shard_bits(CACHE_SHARD_BITS);
        let cache = Cache::new_lru_cache_opts(&cache_opts);
        // Every family: partitioned index and filter, their top level
        // pinned, the partitions in the cache. With whole-file index and
        // filter blocks in a cache smaller than the store's metadata, a
        // lookup read a whole file's filter again (megabytes, checksummed)
        // whenever another family's had pushed it out: at 800k articles the
        // commit thread spent four fifths of its time reading filters and
        // ingest fell to 3k articles/s; with articles' random reads, LZ4
        // took two thirds of a node serving a catch-up. A partition is 4 KiB.
        let mut table = BlockBasedOptions::default();
        table.set_block_cache(&cache);
        table.set_bloom_filter(10.0, false);
        table.set_cache_index_and_filter_blocks(true);
        table.set_index_type(BlockBasedIndexType::TwoLevelIndexSearch);
        table.set_partition_filters(true);
        table.set_metadata_block_size(4096);
        table.set_pin_top_level_index_and_filter(true);
        table.set_cache_index_and_filter_blocks_with_high_priority(true);

        let mut db_opts = Options::default();
        db_opts.create_if_missing(true);
        db_opts.create_missing_column_families(true);
        db_opts.set_block_based_table_factory(&table);
        // Bounded memtables: four per column family at 32 MiB at most, and
        // all of them together at most two thirds of the cache (RocksDB
        // flushes one when the sum passes it), so memory does not grow
        // with the number of column families written. They are charged to
        // the block cache, which gives up blocks while they grow: one
        // budget for both instead of two side by side took a node's peak
        // after 600k articles from 270-273 to 231-237 MiB (96 MiB for
        // both against 64 + 64), at 23.3-23.6k articles/s against
        // 24.1-24.4k.
        db_opts.set_write_buffer_size(32 << 20);
        db_opts.set_max_write_buffer_number(4);
        let memtables = WriteBufferManager::new_write_buffer_manager_with_cache(
            cache_bytes / 3 * MEMTABLE_THIRDS,
            false,
            cache.clone(),
        );
        db_opts.set_write_buffer_manager(&memtables);
        db_opts.increase_parallelism(2);

        let families = schema::ALL.iter().map(|name| {
            let mut opts = Options::default();
            opts.set_write_buffer_size(32 << 20);
            opts.set_max_write_buffer_number(4);
            opts.set_block_based_table_factory(&table);
            opts.set_level_zero_slowdown_writes_trigger(LEVEL0_SLOWDOWN);
            opts.set_level_zero_stop_writes_trigger(LEVEL0_STOP);
            if *name == schema::ARTICLES {
                opts.set_compression_type(DBCompressionType::Lz4);
                opts.set_level_zero_file_num_compaction_trigger(ARTICLES_LEVEL0_FILES);
            } else {
                opts.set_level_zero_file_num_compaction_trigger(LEVEL0_FILES);
                opts.set_target_file_size_base(SMALL_ENTRY_FILE_BYTES);
            }
            if *name == schema::DIGESTS {
                opts.set_merge_operator_associative("digest-sum", members::merge_digests);
            }
            ColumnFamilyDescriptor::new(*name, opts)
        });
        let db = DB::open_cf_descriptors(&db_opts, dir, families)?;
        let mut store = Store {
            db: Arc::new(db),
            boards: Arc::default(),
            marked: Arc::default(),
        };
        match store.db.get(schema::SCHEMA_KEY)? {
            None => store.db.put(schema::SCHEMA_KEY, schema::SCHEMA_VERSION)?,
            Some(v) if v == schema::SCHEMA_VERSION => {}
            Some(v) if v == schema::SCHEMA_WITHOUT_BOARD_THREADS => {
                store.index_board_threads()?;
            }
            Some(v)
                if v == schema::SCHEMA_WITHOUT_SETS
                    || v == schema::SCHEMA_HELD_IN_PENDING
                    || v == schema::SCHEMA_WITHOUT_THREADS
                    || v == schema::SCHEMA_WITHOUT_WAITING_SETS =>
            {
                if v == schema::SCHEMA_WITHOUT_SETS {
                    let written = members::rebuild(&store)?;
                    tracing::info!(
                        memberships = written,
                        "built reconciliation sets for an older store"
                    );
                }
                if v != schema::SCHEMA_WITHOUT_WAITING_SETS {
                    let moved = store.move_held_out_of_pending()?;
                    if moved > 0 {
                        tracing::info!(posts = moved, "moved held posts out of pending");
                    }
                }
                let waiting = store.build_waiting_sets()?;
                tracing::info!(posts = waiting, "built the sets of waiting posts");
                let indexed = store.index_stored_articles()?;
                tracing::info!(
                    articles = indexed,
                    "indexed the stored articles under their threads and signers"
                );
                store.index_board_threads()?;
            }
            Some(v) => {
                return Err(StoreError::Schema {
                    found: String::from_utf8_lossy(&v).into_owned(),
                    expected: String::from_utf8_lossy(schema::SCHEMA_VERSION).into_owned(),
                })
            }
        }
        let refused = store
            .db
            .iterator_cf(store.cf(schema::REFUSED), IteratorMode::Start)
            .map(|item| item.map(|(root, _)| root.into_vec()))
            .collect::<std::result::Result<Vec<_>, _>>()?;
        store.marked = Arc::new(marked::Marked {
            cancelled: marked::Marks::new(store.targets(schema::CANCELS)?),
            refused: marked::Marks::new(refused),
        });
        Ok(store)
    }

    /// Schema 5 → 6 (the last step from any older one): each board's
    /// threads indexed from its overview, each signer's posts by Date,
    /// then the version written.
    fn index_board_threads(&self) -> Result<()> {
        let threads = board_threads::rebuild(self)?;
        tracing::info!(threads, "indexed each board's threads");
        let mut batch = rocksdb::WriteBatch::default();
        let mut posts = 0u64;
        for item in self
            .db
            .iterator_cf(self.cf(schema::AUTHORS), IteratorMode::Start)
        {
            let (key, _) = item?;
            let Some((signer, id)) = key.split_at_checked(32) else {
                continue;
            };
            let Ok(signer) = <[u8; 32]>::try_from(signer) else {
                continue;
            };
            let date = self
                .article(id)?
                .and_then(|bytes| {
                    crate::proto::article::Article::parse(bytes::Bytes::from(bytes)).ok()
                })
                .and_then(|a| a.header_unfolded("Date"))
                .and_then(|d| crate::proto::article::parse_date(&d))
                .map_or(0, |d| d.timestamp().max(0) as u64);
            batch.put_cf(
                self.cf(schema::AUTHORED),
                schema::authored_key(&signer, date, id),
                b"",
            );
            posts += 1;
            if batch.len() >= 50_000 {
                self.db.write(std::mem::take(&mut batch))?;
            }
        }
        self.db.write(batch)?;
        tracing::info!(posts, "indexed each signer's posts by Date");
        let mut opts = rocksdb::WriteOptions::default();
        opts.set_sync(true);
        self.db
            .put_opt(schema::SCHEMA_KEY, schema::SCHEMA_VERSION, &opts)?;
        Ok(())
    }

    /// Schema 3 and 4 → 5: every stored article is entered under its
    /// thread's opening post (an edit without References under what it
    /// supersedes) and, if signed, under its signer.
    fn index_stored_articles(&self) -> Result<u64> {
        let mut batch = rocksdb::WriteBatch::default();
        let mut indexed = 0;
        for item in self
            .db
            .iterator_cf(self.cf(schema::ARTICLES), IteratorMode::Start)
        {
            let (id, bytes) = item?;
            let Ok(article) =
                crate::proto::article::Article::parse(bytes::Bytes::from(bytes.to_vec()))
            else {
                continue;
            };
            let root = article.thread_root().unwrap_or_else(|| id.to_vec());
            batch.put_cf(self.cf(schema::THREADS), schema::pair_key(&root, &id), b"");
            if let Ok(signer) = crate::proto::signing::claimed_key(&article) {
                let key = [signer.as_bytes().as_slice(), &id].concat();
                batch.put_cf(self.cf(schema::AUTHORS), key, b"");
            }
            indexed += 1;
            if batch.len() >= 50_000 {
                self.db.write(std::mem::take(&mut batch))?;
            }
        }
        self.db.write(batch)?;
        Ok(indexed)
    }

    /// The second parts of the keys of `family` under `first`, in order.
    pub(crate) fn seconds_of(&self, family: &'static str, first: &[u8]) -> Result<Vec<Vec<u8>>> {
        Ok(self
            .seconds(family, first)?
            .into_iter()
            .map(|(second, _)| second)
            .collect())
    }

    /// The second parts of every key of `family` under `first`, in order.
    fn seconds(&self, family: &'static str, first: &[u8]) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        let prefix = schema::pair_prefix(first);
        let mut out = Vec::new();
        let mode = IteratorMode::From(&prefix, Direction::Forward);
        for item in self.db.iterator_cf(self.cf(family), mode) {
            let (key, value) = item?;
            let Some(second) = key.strip_prefix(prefix.as_slice()) else {
                break;
            };
            out.push((second.to_vec(), value.to_vec()));
        }
        Ok(out)
    }

    /// The filed articles whose thread's opening post is `root` (the
    /// opening post among them once it is here).
    pub fn thread_members(&self, root: &[u8]) -> Result<Vec<Vec<u8>>> {
        Ok(self
            .seconds(schema::THREADS, root)?
            .into_iter()
            .map(|(id, _)| id)
            .collect())
    }

    /// Every move control that names `target`.
    pub fn moves_for(&self, target: &[u8]) -> Result<Vec<schema::MoveRecord>> {
        self.seconds(schema::MOVES, target)?
            .into_iter()
            .map(|(control, value)| {
                schema::MoveRecord::decode(&control, &value).ok_or_else(|| StoreError::Corrupt {
                    what: "move",
                    key: String::from_utf8_lossy(&control).into_owned(),
                })
            })
            .collect()
    }

    /// Every newgroup, modgroup and rmgroup kept for `board`.
    pub fn board_controls(&self, board: &str) -> Result<Arc<[schema::BoardControl]>> {
        // Read before the controls: a write after this makes the entry
        // stored below stale for the next reader.
        let written = self.boards.written.load(Ordering::Acquire);
        if let Some((_, controls)) = self
            .boards
            .map()
            .get(board)
            .filter(|(at, _)| *at == written)
        {
            return Ok(Arc::clone(controls));
        }
        let controls = self
            .seconds(schema::BOARDS, board.as_bytes())?
            .into_iter()
            .map(|(control, value)| {
                schema::BoardControl::decode(&control, &value).ok_or_else(|| StoreError::Corrupt {
                    what: "board control",
                    key: String::from_utf8_lossy(&control).into_owned(),
                })
            })
            .collect::<Result<Arc<[_]>>>()?;
        let mut map = self.boards.map();
        if map.len() >= BOARDS_READ {
            map.clear();
        }
        map.insert(board.to_string(), (written, Arc::clone(&controls)));
        Ok(controls)
    }

    /// Tells the store a cancel of `target` is about to be kept, before
    /// the write that keeps it, so [`Store::cancels_of`] never misses one;
    /// should the write fail, the mark only costs a read that finds none.
    pub(crate) fn keeping_cancel(&self, target: &[u8]) {
        self.marked.cancelled.mark(target);
    }

    /// Tells the store the thread `root` opens is about to be refused, as
    /// [`Store::keeping_cancel`] does for cancels.
    pub(crate) fn refusing_thread(&self, root: &[u8]) {
        self.marked.refused.mark(root);
    }

    /// Tells the store a write of board controls has completed (or
    /// failed), so [`Store::board_controls`] reads them again.
    pub(crate) fn boards_written(&self) {
        self.boards.written.fetch_add(1, Ordering::Release);
    }

    /// The stored articles waiting for `board`, with their overview
    /// records.
    pub fn waiting_for(&self, board: &str) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        self.seconds(schema::UNFILED, board.as_bytes())
    }

    /// Why the thread that `root` opens was refused here, if it was.
    pub fn refused_thread(&self, root: &[u8]) -> Result<Option<String>> {
        if !self.marked.refused.may_hold(root) {
            return Ok(None);
        }
        Ok(self
            .db
            .get_cf(self.cf(schema::REFUSED), root)?
            .map(|reason| String::from_utf8_lossy(&reason).into_owned()))
    }

    /// The kept cancels of `target`: each control's Message-ID and signer.
    pub fn cancels_of(&self, target: &[u8]) -> Result<Vec<(Vec<u8>, [u8; 32])>> {
        if !self.marked.cancelled.may_hold(target) {
            return Ok(Vec::new());
        }
        self.seconds(schema::CANCELS, target)?
            .into_iter()
            .map(|(control, signer)| {
                let signer =
                    <[u8; 32]>::try_from(signer.as_slice()).map_err(|_| StoreError::Corrupt {
                        what: "cancel",
                        key: String::from_utf8_lossy(&control).into_owned(),
                    })?;
                Ok((control, signer))
            })
            .collect()
    }

    /// Every article a move, kept cancel or edit names, once each: what
    /// the settling works out at start.
    pub fn move_targets(&self) -> Result<Vec<Vec<u8>>> {
        let mut out = std::collections::BTreeSet::new();
        for family in [schema::MOVES, schema::CANCELS, schema::VERSIONS] {
            out.extend(self.targets(family)?);
        }
        Ok(out.into_iter().collect())
    }

    /// Every kept move control with the article it names.
    pub fn move_controls(&self) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        let mut out = Vec::new();
        for item in self
            .db
            .iterator_cf(self.cf(schema::MOVES), IteratorMode::Start)
        {
            let (key, _) = item?;
            if let Some(nul) = key.iter().position(|&b| b == 0) {
                out.push((key[nul + 1..].to_vec(), key[..nul].to_vec()));
            }
        }
        Ok(out)
    }

    /// The filed edits whose Supersedes names `target`.
    pub fn edits_of(&self, target: &[u8]) -> Result<Vec<Vec<u8>>> {
        Ok(self
            .seconds(schema::VERSIONS, target)?
            .into_iter()
            .map(|(id, _)| id)
            .collect())
    }

    /// What the edits stored here supersede and this node never had (or
    /// refused for the record only): the earlier versions catch-up asks a
    /// peer for, since no group's set holds them (sync.md §1, state.md §5).
    pub fn missing_versions(&self) -> Result<Vec<Vec<u8>>> {
        let mut out = Vec::new();
        for id in self.targets(schema::VERSIONS)? {
            if !self.history(&id)?.is_some_and(|e| e.blocks()) {
                out.push(id);
            }
        }
        Ok(out)
    }

    /// The first parts of the keys of `family`, once each.
    fn targets(&self, family: &'static str) -> Result<Vec<Vec<u8>>> {
        let mut out: Vec<Vec<u8>> = Vec::new();
        for item in self.db.iterator_cf(self.cf(family), IteratorMode::Start) {
            let (key, _) = item?;
            let Some(nul) = key.iter().position(|&b| b == 0) else {
                continue;
            };
            if out.last().is_none_or(|last| last.as_slice() != &key[..nul]) {
                out.push(key[..nul].to_vec());
            }
        }
        Ok(out)
    }

    /// Schema 4 → 5: the pending and held posts are entered in their sets.
    fn build_waiting_sets(&self) -> Result<usize> {
        let mut batch = rocksdb::WriteBatch::default();
        let mut changes = members::Changes::default();
        let mut built = 0;
        for item in self
            .db
            .iterator_cf(self.cf(schema::HISTORY), IteratorMode::Start)
        {
            let (id, value) = item?;
            let set = match HistoryEntry::decode(&value) {
                Some(HistoryEntry::Pending { .. }) => schema::PENDING_SET,
                Some(HistoryEntry::Held { .. }) => schema::HELD_SET,
                _ => continue,
            };
            changes.add(self, &mut batch, set, &id);
            built += 1;
        }
        changes.write(self, &mut batch);
        self.db.write(batch)?;
        Ok(built)
    }

    /// Schema 2 → 3: held posts leave `pending` (where the release pass
    /// expired them as if their passport never came) for `held`.
    fn move_held_out_of_pending(&self) -> Result<usize> {
        let prefix = schema::HELD_IN_PENDING;
        let mut batch = rocksdb::WriteBatch::default();
        let mut moved = 0;
        let mode = IteratorMode::From(&prefix, Direction::Forward);
        for item in self.db.iterator_cf(self.cf(schema::PENDING), mode) {
            let (key, value) = item?;
            let Some(id) = key.strip_prefix(prefix.as_slice()) else {
                break;
            };
            let micros = schema::split_waiting_value(&value).map_or(0, |(m, _)| m);
            batch.put_cf(self.cf(schema::HELD), id, &value);
            batch.delete_cf(self.cf(schema::PENDING), &key);
            batch.put_cf(
                self.cf(schema::HISTORY),
                id,
                HistoryEntry::Held { micros }.encode(),
            );
            moved += 1;
        }
        self.db.write(batch)?;
        Ok(moved)
    }

    pub(crate) fn db(&self) -> &Arc<DB> {
        &self.db
    }

    pub(crate) fn cf(&self, name: &'static str) -> &ColumnFamily {
        cf(&self.db, name)
    }

    pub fn article(&self, message_id: &[u8]) -> Result<Option<Vec<u8>>> {
        Ok(self.db.get_cf(self.cf(schema::ARTICLES), message_id)?)
    }

    /// An article read once by a scan that follows every article filed
    /// (the file replicator): its blocks are not kept in the block cache.
    /// Kept, that scan pushed some 30 MB/s of article blocks nobody reads
    /// again through the cache while a node loads, pushing out the index
    /// and filter partitions every lookup needs.
    pub fn article_passing(&self, message_id: &[u8]) -> Result<Option<Vec<u8>>> {
        let mut opts = ReadOptions::default();
        opts.fill_cache(false);
        Ok(self
            .db
            .get_cf_opt(self.cf(schema::ARTICLES), message_id, &opts)?)
    }

    /// The history of each of `ids` (sorted), read in one MultiGet, which
    /// shares the index and filter lookups of keys in the same blocks and
    /// the setup of each lookup.
    pub fn histories(&self, ids: &[&[u8]]) -> Result<Vec<Option<HistoryEntry>>> {
        let found = self
            .db
            .batched_multi_get_cf(self.cf(schema::HISTORY), ids, true);
        found
            .into_iter()
            .zip(ids)
            .map(|(value, id)| history_entry(id, value?.as_deref()))
            .collect()
    }

    pub fn history(&self, message_id: &[u8]) -> Result<Option<HistoryEntry>> {
        let value = self
            .db
            .get_pinned_cf(self.cf(schema::HISTORY), message_id)?;
        history_entry(message_id, value.as_deref())
    }

    pub fn groups(&self) -> Result<Vec<(String, GroupRecord)>> {
        let mut out = Vec::new();
        for item in self
            .db
            .iterator_cf(self.cf(schema::GROUPS), IteratorMode::Start)
        {
            let (key, value) = item?;
            let name = String::from_utf8_lossy(&key).into_owned();
            let record = GroupRecord::decode(&value).ok_or_else(|| StoreError::Corrupt {
                what: "group",
                key: name.clone(),
            })?;
            out.push((name, record));
        }
        Ok(out)
    }

    /// Writes a group record synchronously; used at start, before the
    /// committer owns the groups.
    pub fn put_group(&self, name: &str, record: &GroupRecord) -> Result<()> {
        let mut opts = rocksdb::WriteOptions::default();
        opts.set_sync(true);
        Ok(self.db.put_cf_opt(
            self.cf(schema::GROUPS),
            name.as_bytes(),
            record.encode(),
            &opts,
        )?)
    }

    /// The overview record of article `number` in `group`.
    pub fn overview(&self, group: &str, number: u64) -> Result<Option<Vec<u8>>> {
        Ok(self.db.get_cf(
            self.cf(schema::OVERVIEW),
            schema::overview_key(group, number),
        )?)
    }

    /// The overview records of the lowest and the highest numbered
    /// article of `group`, None when it has none.
    pub fn overview_ends(&self, group: &str) -> Result<Option<(Vec<u8>, Vec<u8>)>> {
        let mut ends = Vec::with_capacity(2);
        for direction in [Direction::Forward, Direction::Reverse] {
            self.scan_group(group, 1, u64::MAX, direction, |_, value| {
                ends.push(value.to_vec());
                false
            })?;
        }
        let last = ends.pop();
        Ok(ends.pop().zip(last))
    }

    /// Overview records of `group` with numbers in `lo..=hi`, in order.
    pub fn overview_range(&self, group: &str, lo: u64, hi: u64) -> Result<Vec<(u64, Vec<u8>)>> {
        let mut out = Vec::new();
        self.scan_group(group, lo, hi, Direction::Forward, |number, value| {
            out.push((number, value.to_vec()));
            true
        })?;
        Ok(out)
    }

    /// At most `limit` overview records of `group` from `lo` to `hi`, in
    /// order: one page of a long OVER, HDR or LISTGROUP.
    pub fn overview_page(
        &self,
        group: &str,
        lo: u64,
        hi: u64,
        limit: usize,
    ) -> Result<Vec<(u64, Vec<u8>)>> {
        let mut out = Vec::new();
        self.scan_group(group, lo, hi, Direction::Forward, |number, value| {
            out.push((number, value.to_vec()));
            out.len() < limit
        })?;
        Ok(out)
    }

    /// The first article number of `group` in `lo..=hi` for which `keep`
    /// holds, reading no further than that one.
    pub fn first_number(
        &self,
        group: &str,
        lo: u64,
        hi: u64,
        mut keep: impl FnMut(u64) -> bool,
    ) -> Result<Option<u64>> {
        let mut found = None;
        self.scan_group(group, lo, hi, Direction::Forward, |number, _| {
            if keep(number) {
                found = Some(number);
                return false;
            }
            true
        })?;
        Ok(found)
    }

    /// The first existing article after or before `from`, with its
    /// overview record, for NEXT and LAST.
    pub fn neighbour(
        &self,
        group: &str,
        from: u64,
        towards: Towards,
    ) -> Result<Option<(u64, Vec<u8>)>> {
        let (lo, hi, direction) = match towards {
            Towards::Next if from == u64::MAX => return Ok(None),
            Towards::Previous if from == 0 => return Ok(None),
            Towards::Next => (from + 1, u64::MAX, Direction::Forward),
            Towards::Previous => (0, from - 1, Direction::Reverse),
        };
        let mut found = None;
        self.scan_group(group, lo, hi, direction, |number, value| {
            found = Some((number, value.to_vec()));
            false
        })?;
        Ok(found)
    }

    fn scan_group(
        &self,
        group: &str,
        lo: u64,
        hi: u64,
        direction: Direction,
        mut visit: impl FnMut(u64, &[u8]) -> bool,
    ) -> Result<()> {
        if lo > hi {
            return Ok(());
        }
        let start = schema::overview_key(group, lo);
        let end = schema::overview_key(group, hi);
        let mut opts = ReadOptions::default();
        opts.set_iterate_lower_bound(start.clone());
        let mut upper = end.clone();
        upper.push(0);
        opts.set_iterate_upper_bound(upper);
        let mode = match direction {
            Direction::Forward => IteratorMode::From(&start, Direction::Forward),
            Direction::Reverse => IteratorMode::From(&end, Direction::Reverse),
        };
        for item in self
            .db
            .iterator_cf_opt(self.cf(schema::OVERVIEW), opts, mode)
        {
            let (key, value) = item?;
            let Some(number) = schema::overview_number(group, &key) else {
                continue;
            };
            if !visit(number, &value) {
                break;
            }
        }
        Ok(())
    }

    /// Up to `limit` entries of the arrival log from key `from` on (an
    /// arrival key, or just a big-endian time): `(key, message-id,
    /// groups it was filed in)`, oldest first. Used a page at a time.
    pub fn arrivals_page(&self, from: &[u8], limit: usize) -> Result<Vec<Arrival>> {
        let mut out = Vec::new();
        let mode = IteratorMode::From(from, Direction::Forward);
        for item in self.db.iterator_cf(self.cf(schema::ARRIVAL), mode) {
            let (key, groups) = item?;
            let Some((_, id)) = schema::split_arrival_key(&key) else {
                continue;
            };
            out.push(Arrival {
                key: key.to_vec(),
                message_id: id.to_vec(),
                filed_in: groups.to_vec(),
            });
            if out.len() >= limit {
                break;
            }
        }
        Ok(out)
    }

    /// Up to `limit` entries of `peer`'s outbox with sequence numbers at
    /// or after `from`, oldest first.
    pub fn outbox(&self, peer: &str, from: u64, limit: usize) -> Result<Vec<OutboxEntry>> {
        let mut out = Vec::new();
        let start = schema::outbox_key(peer, from);
        let mut upper = schema::outbox_key(peer, u64::MAX);
        upper.push(0);
        let mut opts = ReadOptions::default();
        opts.set_iterate_upper_bound(upper);
        let mode = IteratorMode::From(&start, Direction::Forward);
        for item in self.db.iterator_cf_opt(self.cf(schema::OUTBOX), opts, mode) {
            let (key, value) = item?;
            let Some(seq) = schema::overview_number(peer, &key) else {
                continue;
            };
            let Some((queued, id)) = schema::split_arrival_key(&value) else {
                continue;
            };
            out.push(OutboxEntry {
                seq,
                queued,
                message_id: id.to_vec(),
            });
            if out.len() >= limit {
                break;
            }
        }
        Ok(out)
    }

    /// The oldest entry of `peer`'s outbox and the highest sequence number
    /// in it, None when empty: its depth (an upper bound, as entries
    /// delivered out of order leave holes) and age, in two reads.
    pub fn outbox_span(&self, peer: &str) -> Result<Option<(OutboxEntry, u64)>> {
        let Some(first) = self.outbox(peer, 0, 1)?.into_iter().next() else {
            return Ok(None);
        };
        Ok(Some((first, self.outbox_last(peer)?)))
    }

    /// What RocksDB says of its health, summed over the column families.
    pub fn health(&self) -> DbHealth {
        let mut health = DbHealth::default();
        for name in schema::ALL {
            let int = |property: &str| {
                self.db
                    .property_int_value_cf(self.cf(name), property)
                    .ok()
                    .flatten()
                    .unwrap_or(0)
            };
            health.pending_compaction_bytes += int("rocksdb.estimate-pending-compaction-bytes");
            health.background_errors = health
                .background_errors
                .max(int("rocksdb.background-errors"));
            health.block_cache_bytes = health
                .block_cache_bytes
                .max(int("rocksdb.block-cache-usage"));
            health.live_bytes +=
                int("rocksdb.total-sst-files-size") + int("rocksdb.cur-size-all-mem-tables");
            health.memtable_bytes += int("rocksdb.size-all-mem-tables");
            health.table_readers_bytes += int("rocksdb.estimate-table-readers-mem");
        }
        health
    }

    /// How many files are stored and their bytes: a scan of the `files`
    /// records (one per file, tens of bytes).
    pub fn files_total(&self) -> Result<(u64, u64)> {
        let (mut count, mut bytes) = (0, 0);
        for item in self
            .db
            .iterator_cf(self.cf(schema::FILES), IteratorMode::Start)
        {
            let (_, value) = item?;
            count += 1;
            bytes += schema::FileRecord::decode(&value).map_or(0, |r| r.size);
        }
        Ok((count, bytes))
    }

    /// The highest sequence number in `peer`'s outbox, 0 when empty.
    pub fn outbox_last(&self, peer: &str) -> Result<u64> {
        let end = schema::outbox_key(peer, u64::MAX);
        let mode = IteratorMode::From(&end, Direction::Reverse);
        match self.db.iterator_cf(self.cf(schema::OUTBOX), mode).next() {
            Some(item) => Ok(schema::overview_number(peer, &item?.0).unwrap_or(0)),
            None => Ok(0),
        }
    }

    /// Deletes delivered entries. Not synced: an entry that comes back
    /// after a crash is offered again and refused as a duplicate.
    pub fn outbox_done(&self, peer: &str, seqs: &[u64]) -> Result<()> {
        let mut batch = rocksdb::WriteBatch::default();
        for seq in seqs {
            batch.delete_cf(self.cf(schema::OUTBOX), schema::outbox_key(peer, *seq));
        }
        Ok(self.db.write(batch)?)
    }

    /// Every key record learnt from control messages.
    /// The filed articles `key` signed.
    pub fn articles_by(&self, key: &[u8; 32]) -> Result<Vec<Vec<u8>>> {
        let mut out = Vec::new();
        let mode = IteratorMode::From(key, Direction::Forward);
        for item in self.db.iterator_cf(self.cf(schema::AUTHORS), mode) {
            let (k, _) = item?;
            let Some(id) = k.strip_prefix(key.as_slice()) else {
                break;
            };
            out.push(id.to_vec());
        }
        Ok(out)
    }

    /// What was learnt about one key, if anything.
    pub fn key_record(&self, key: &[u8; 32]) -> Result<Option<KeyRecord>> {
        match self.db.get_pinned_cf(self.cf(schema::KEYS), key)? {
            None => Ok(None),
            Some(value) => KeyRecord::decode(&value)
                .map(Some)
                .ok_or_else(|| StoreError::Corrupt {
                    what: "key",
                    key: hex::encode(key),
                }),
        }
    }

    /// The grant or ungrant of `audience` to `grantee` that stands.
    pub fn grant(
        &self,
        audience: &crate::proto::audience::Audience,
        grantee: &[u8; 32],
    ) -> Result<Option<schema::GrantRecord>> {
        let key = schema::GrantRecord::key(audience, grantee);
        match self.db.get_pinned_cf(self.cf(schema::GRANTS), &key)? {
            None => Ok(None),
            Some(value) => schema::GrantRecord::decode(&value)
                .map(Some)
                .ok_or_else(|| StoreError::Corrupt {
                    what: "grant",
                    key: hex::encode(&key),
                }),
        }
    }

    /// Every grant record, in key order (owner, audience, grantee).
    pub fn grants(&self) -> Result<Vec<commit::Granted>> {
        let mut out = Vec::new();
        for item in self
            .db
            .iterator_cf(self.cf(schema::GRANTS), IteratorMode::Start)
        {
            let (key, value) = item?;
            let corrupt = || StoreError::Corrupt {
                what: "grant",
                key: hex::encode(&key),
            };
            let (audience, grantee) = schema::GrantRecord::parse_key(&key).ok_or_else(corrupt)?;
            let record = schema::GrantRecord::decode(&value).ok_or_else(corrupt)?;
            out.push((audience, grantee, record));
        }
        Ok(out)
    }

    pub fn learnt_keys(&self) -> Result<Vec<([u8; 32], KeyRecord)>> {
        let mut out = Vec::new();
        for item in self
            .db
            .iterator_cf(self.cf(schema::KEYS), IteratorMode::Start)
        {
            let (key, value) = item?;
            let corrupt = || StoreError::Corrupt {
                what: "key",
                key: hex::encode(&key),
            };
            let key: [u8; 32] = key.as_ref().try_into().map_err(|_| corrupt())?;
            out.push((key, KeyRecord::decode(&value).ok_or_else(corrupt)?));
        }
        Ok(out)
    }

    /// Up to `limit` pending articles after the `pending` key `after`
    /// (empty: from the start), all or only those signed by `key`: the
    /// release pass reads them a page at a time.
    pub fn pending_page(
        &self,
        key: Option<&[u8; 32]>,
        after: &[u8],
        limit: usize,
    ) -> Result<Vec<PendingArticle>> {
        let mut out = Vec::new();
        let prefix: &[u8] = key.map_or(&[], |k| k.as_slice());
        let from: &[u8] = if after.is_empty() { prefix } else { after };
        let mode = IteratorMode::From(from, Direction::Forward);
        for item in self.db.iterator_cf(self.cf(schema::PENDING), mode) {
            let (k, value) = item?;
            if !k.starts_with(prefix) {
                break;
            }
            if !after.is_empty() && k.as_ref() <= after {
                continue;
            }
            let (Some(signer), Some(id)) = (k.get(..32), k.get(32..)) else {
                continue;
            };
            let Some((micros, article)) = schema::split_waiting_value(&value) else {
                continue;
            };
            let Ok(signer) = <[u8; 32]>::try_from(signer) else {
                continue;
            };
            out.push(PendingArticle {
                signer,
                message_id: id.to_vec(),
                arrived: micros,
                article: article.to_vec(),
            });
            if out.len() >= limit {
                break;
            }
        }
        Ok(out)
    }

    /// An article's bytes wherever it is kept: filed, superseded by an
    /// edit, pending its signer's passport, or held for the operator.
    pub fn any_article(&self, message_id: &[u8]) -> Result<Option<Vec<u8>>> {
        match self.history(message_id)? {
            Some(HistoryEntry::Accepted { .. } | HistoryEntry::Superseded { .. }) => {
                self.article(message_id)
            }
            Some(HistoryEntry::Pending { key, .. }) => {
                let Some(key) = hex::decode(&key)
                    .ok()
                    .and_then(|k| <[u8; 32]>::try_from(k).ok())
                else {
                    return Ok(None);
                };
                let value = self.db.get_cf(
                    self.cf(schema::PENDING),
                    schema::pending_key(&key, message_id),
                )?;
                Ok(value.and_then(|v| schema::split_waiting_value(&v).map(|(_, a)| a.to_vec())))
            }
            Some(HistoryEntry::Held { .. }) => Ok(self.held(message_id)?.map(|(_, a)| a)),
            _ => Ok(None),
        }
    }

    /// Up to `limit` of what `key` signed with a Date from `since` up to
    /// (not including) `until`, after the `authored` key suffix `after`
    /// (Date BE, Message-ID) when given, oldest first: (Date, Message-ID).
    pub fn authored(
        &self,
        key: &[u8; 32],
        since: u64,
        until: u64,
        after: Option<&[u8]>,
        limit: usize,
    ) -> Result<Vec<(u64, Vec<u8>)>> {
        let start = match after {
            // Just past the cursor: the same key with a 0 byte appended.
            Some(after) => [key.as_slice(), after, &[0]].concat(),
            None => schema::authored_key(key, since, b""),
        };
        let mode = IteratorMode::From(&start, Direction::Forward);
        let mut out = Vec::new();
        for item in self.db.iterator_cf(self.cf(schema::AUTHORED), mode) {
            if out.len() >= limit {
                break;
            }
            let (stored, _) = item?;
            let Some((date, id)) = schema::split_authored_key(key, &stored) else {
                break;
            };
            if date >= until {
                break;
            }
            if date >= since {
                out.push((date, id.to_vec()));
            }
        }
        Ok(out)
    }

    /// What is known of the file `hash`, if it is stored here.
    pub fn file(&self, hash: &[u8; 32]) -> Result<Option<schema::FileRecord>> {
        Ok(self
            .db
            .get_cf(self.cf(schema::FILES), hash)?
            .and_then(|v| schema::FileRecord::decode(&v)))
    }

    /// Records a file whose bytes are stored and synced (store/blobs.rs),
    /// synced too before it is answered for.
    pub fn put_file(&self, hash: &[u8; 32], record: &schema::FileRecord) -> Result<()> {
        let mut opts = rocksdb::WriteOptions::default();
        opts.set_sync(true);
        Ok(self
            .db
            .put_cf_opt(self.cf(schema::FILES), hash, record.encode(), &opts)?)
    }

    /// Whether an article here references the file `hash`: one filed, an
    /// earlier version kept, or one waiting for a passport or the
    /// operator (files.md §5). Removed and refused ones do not count.
    pub fn file_referenced(&self, hash: &[u8; 32]) -> Result<bool> {
        for id in self.file_referrers(hash)? {
            if matches!(
                self.history(&id)?,
                Some(
                    HistoryEntry::Accepted { .. }
                        | HistoryEntry::Superseded { .. }
                        | HistoryEntry::Pending { .. }
                        | HistoryEntry::Held { .. }
                )
            ) {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Up to `limit` file references (hash, Message-ID) after the key
    /// `after` (hash then Message-ID; empty for the first page), in key
    /// order: what a scan for missing files walks a page at a time.
    pub fn file_refs_page(&self, after: &[u8], limit: usize) -> Result<Vec<([u8; 32], Vec<u8>)>> {
        let mut out = Vec::new();
        let mode = IteratorMode::From(after, Direction::Forward);
        for item in self.db.iterator_cf(self.cf(schema::FILE_REFS), mode) {
            if out.len() >= limit {
                break;
            }
            let (key, _) = item?;
            if key.as_ref() == after {
                continue;
            }
            let Some((hash, id)) = key.split_first_chunk::<32>() else {
                continue;
            };
            out.push((*hash, id.to_vec()));
        }
        Ok(out)
    }

    /// Every file stored here first before `cutoff` (seconds since the
    /// epoch), with what is known of it.
    pub fn files_stored_before(&self, cutoff: i64) -> Result<Vec<([u8; 32], schema::FileRecord)>> {
        let mut out = Vec::new();
        for item in self
            .db
            .iterator_cf(self.cf(schema::FILES), IteratorMode::Start)
        {
            let (key, value) = item?;
            let (Ok(hash), Some(record)) = (
                <[u8; 32]>::try_from(key.as_ref()),
                schema::FileRecord::decode(&value),
            ) else {
                continue;
            };
            if record.stored < cutoff {
                out.push((hash, record));
            }
        }
        Ok(out)
    }

    /// Forgets the file `hash` and its references (its bytes are removed
    /// by store/blobs.rs before).
    pub fn forget_file(&self, hash: &[u8; 32]) -> Result<()> {
        let mut batch = rocksdb::WriteBatch::default();
        batch.delete_cf(self.cf(schema::FILES), hash);
        batch.delete_cf(self.cf(schema::FILE_ACCESS), hash);
        let mode = IteratorMode::From(hash, Direction::Forward);
        for item in self.db.iterator_cf(self.cf(schema::FILE_REFS), mode) {
            let (key, _) = item?;
            if !key.starts_with(hash) {
                break;
            }
            batch.delete_cf(self.cf(schema::FILE_REFS), key);
        }
        Ok(self.db.write(batch)?)
    }

    /// Every control kept under the file `hash`: its Message-ID and what
    /// it says.
    pub fn file_controls(&self, hash: &[u8; 32]) -> Result<Vec<(Vec<u8>, schema::FileControl)>> {
        let mut out = Vec::new();
        let mode = IteratorMode::From(hash, Direction::Forward);
        for item in self.db.iterator_cf(self.cf(schema::FILE_CONTROLS), mode) {
            let (key, value) = item?;
            let Some(control) = key.strip_prefix(hash.as_slice()) else {
                break;
            };
            if let Some(record) = schema::FileControl::decode(&value) {
                out.push((control.to_vec(), record));
            }
        }
        Ok(out)
    }

    /// Why the file `hash` was removed, if a removal of it held.
    pub fn file_tombstone(&self, hash: &[u8; 32]) -> Result<Option<String>> {
        Ok(self
            .db
            .get_cf(self.cf(schema::FILE_TOMBSTONES), hash)?
            .map(|v| String::from_utf8_lossy(&v).into_owned()))
    }

    /// Marks the file `hash` removed for good, synced: what a removal that
    /// held leaves, so nothing fetches the file again whatever happens to
    /// the post it named.
    pub fn put_file_tombstone(&self, hash: &[u8; 32], reason: &str) -> Result<()> {
        let mut opts = rocksdb::WriteOptions::default();
        opts.set_sync(true);
        Ok(self.db.put_cf_opt(
            self.cf(schema::FILE_TOMBSTONES),
            hash,
            reason.as_bytes(),
            &opts,
        )?)
    }

    /// Forgets the record of the file `hash` (its bytes were removed), its
    /// references kept: the posts still name it.
    pub fn forget_file_record(&self, hash: &[u8; 32]) -> Result<()> {
        let mut batch = rocksdb::WriteBatch::default();
        batch.delete_cf(self.cf(schema::FILES), hash);
        batch.delete_cf(self.cf(schema::FILE_ACCESS), hash);
        Ok(self.db.write(batch)?)
    }

    /// The Message-IDs of the articles that reference the file `hash`
    /// (whatever has become of them).
    pub fn file_referrers(&self, hash: &[u8; 32]) -> Result<Vec<Vec<u8>>> {
        let mut out = Vec::new();
        let mode = IteratorMode::From(hash, Direction::Forward);
        for item in self.db.iterator_cf(self.cf(schema::FILE_REFS), mode) {
            let (key, _) = item?;
            let Some(id) = key.strip_prefix(hash.as_slice()) else {
                break;
            };
            out.push(id.to_vec());
        }
        Ok(out)
    }

    /// Whether the operator pinned the file `hash` with local-file-pin.
    pub fn file_pinned(&self, hash: &[u8; 32]) -> Result<bool> {
        Ok(self.db.get_cf(self.cf(schema::FILE_PINS), hash)?.is_some())
    }

    /// Every file pinned with local-file-pin.
    pub fn pinned_files(&self) -> Result<Vec<[u8; 32]>> {
        let mut out = Vec::new();
        for item in self
            .db
            .iterator_cf(self.cf(schema::FILE_PINS), IteratorMode::Start)
        {
            let (key, _) = item?;
            if let Ok(hash) = <[u8; 32]>::try_from(key.as_ref()) {
                out.push(hash);
            }
        }
        Ok(out)
    }

    /// Notes that the cached file `hash` was read at `micros`; not synced
    /// (a crash loses only how recent a read was).
    pub fn touch_file(&self, hash: &[u8; 32], micros: u64) -> Result<()> {
        Ok(self
            .db
            .put_cf(self.cf(schema::FILE_ACCESS), hash, micros.to_be_bytes())?)
    }

    /// When the cached file `hash` was last read, if it is a cached one.
    pub fn file_read_at(&self, hash: &[u8; 32]) -> Result<Option<u64>> {
        Ok(self
            .db
            .get_cf(self.cf(schema::FILE_ACCESS), hash)?
            .and_then(|v| Some(u64::from_be_bytes(v.as_slice().try_into().ok()?))))
    }

    /// Every cached file and when it was last read.
    pub fn cached_files(&self) -> Result<Vec<([u8; 32], u64)>> {
        let mut out = Vec::new();
        for item in self
            .db
            .iterator_cf(self.cf(schema::FILE_ACCESS), IteratorMode::Start)
        {
            let (key, value) = item?;
            if let (Ok(hash), Ok(at)) = (
                <[u8; 32]>::try_from(key.as_ref()),
                <[u8; 8]>::try_from(value.as_ref()),
            ) {
                out.push((hash, u64::from_be_bytes(at)));
            }
        }
        Ok(out)
    }

    /// The first and last sequence numbers in the change log, or None
    /// when it is empty.
    pub fn change_bounds(&self) -> Result<Option<(u64, u64)>> {
        let cf = self.cf(schema::CHANGES);
        let first = self.db.iterator_cf(cf, IteratorMode::Start).next();
        let last = self.db.iterator_cf(cf, IteratorMode::End).next();
        match (first, last) {
            (Some(first), Some(last)) => {
                let (first, last) = (first?.0, last?.0);
                Ok(schema::change_seq(&first).zip(schema::change_seq(&last)))
            }
            _ => Ok(None),
        }
    }

    /// Up to `limit` changes with sequence numbers after `after`, oldest
    /// first.
    pub fn changes_after(&self, after: u64, limit: usize) -> Result<Vec<(u64, schema::Change)>> {
        let mut out = Vec::new();
        let Some(from) = after.checked_add(1) else {
            return Ok(out);
        };
        let from = schema::change_key(from);
        let mode = IteratorMode::From(&from, Direction::Forward);
        for item in self.db.iterator_cf(self.cf(schema::CHANGES), mode) {
            if out.len() >= limit {
                break;
            }
            let (key, value) = item?;
            // A record this build cannot read is skipped, not fatal: the
            // log is for consumers, the state is elsewhere.
            if let (Some(seq), Some(change)) =
                (schema::change_seq(&key), schema::Change::decode(&value))
            {
                out.push((seq, change));
            }
        }
        Ok(out)
    }

    /// Up to `limit` posts held for premoderation after the Message-ID
    /// `after` (empty: from the first), in Message-ID order: each with its
    /// arrival micros and bytes.
    pub fn held_page(&self, after: &[u8], limit: usize) -> Result<Vec<HeldPost>> {
        let mut out = Vec::new();
        let mode = IteratorMode::From(after, Direction::Forward);
        for item in self.db.iterator_cf(self.cf(schema::HELD), mode) {
            if out.len() >= limit {
                break;
            }
            let (id, value) = item?;
            if id.as_ref() == after {
                continue;
            }
            if let Some((micros, bytes)) = schema::split_waiting_value(&value) {
                out.push(HeldPost {
                    message_id: id.to_vec(),
                    arrived: micros,
                    article: bytes.to_vec(),
                });
            }
        }
        Ok(out)
    }

    /// A post held for premoderation: its arrival micros and bytes.
    pub fn held(&self, message_id: &[u8]) -> Result<Option<(u64, Vec<u8>)>> {
        let value = self.db.get_cf(self.cf(schema::HELD), message_id)?;
        Ok(value.and_then(|v| {
            schema::split_waiting_value(&v).map(|(micros, bytes)| (micros, bytes.to_vec()))
        }))
    }
}

pub(crate) fn cf<'a>(db: &'a DB, name: &'static str) -> &'a ColumnFamily {
    // Every family in schema::ALL is created at open, so absence is a bug in
    // this module, not a runtime condition.
    db.cf_handle(name)
        .unwrap_or_else(|| panic!("column family {name} was declared at open"))
}

/// A history value as read, decoded.
fn history_entry(id: &[u8], value: Option<&[u8]>) -> Result<Option<HistoryEntry>> {
    value
        .map(|bytes| {
            HistoryEntry::decode(bytes).ok_or_else(|| StoreError::Corrupt {
                what: "history",
                key: String::from_utf8_lossy(id).into_owned(),
            })
        })
        .transpose()
}

//! Group commit: one thread owns every article write. Ingest hands it
//! finished records (the article, where to file it, which peers' outboxes
//! get it, the effects of its control message, all decided above); it
//! drains whatever is queued (up to a batch limit), assigns article
//! numbers, writes one RocksDB batch with a synced WAL, and only then
//! answers each submitter. Many connections share each fsync, and because
//! one thread writes, two copies of an article arriving at once cannot both
//! be stored. What a durable batch changed (group counters, learnt keys,
//! fed outboxes) is reported through the [`Publish`] callback the node
//! wires; this module imports nothing above the store.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

use bytes::Bytes;
use rocksdb::{WriteBatch, WriteOptions};
use tokio::sync::{mpsc, oneshot};

use super::board_threads::{self, Filing};
use super::members;
use super::schema::{self, Change, ChangeKind, GroupRecord, HistoryEntry, KeyRecord};
use super::{Store, StoreError};
use crate::clock::Clock;

/// An article that passed every check, ready to be filed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prepared {
    pub message_id: Vec<u8>,
    /// The article as stored and served, CRLF lines.
    pub bytes: Bytes,
    /// Groups to file it in, in Newsgroups order.
    pub groups: Vec<String>,
    /// Overview fields after the number: subject, from, date, message-id,
    /// references, bytes, lines, TAB-separated (RFC 3977 §8.3).
    pub overview: Vec<u8>,
    /// What its control message or Supersedes header does, applied in the
    /// same atomic write as the article.
    pub effects: Vec<Effect>,
    pub disposition: Disposition,
    /// Where it waited before, if anywhere: that entry is taken out in the
    /// same write.
    pub from: Waited,
    /// The peers whose outboxes get it when it is filed (routing is
    /// decided by ingest).
    pub outboxes: Vec<String>,
    /// The opening post of its thread (itself, when it is one): a filed
    /// article is indexed under it, so moves find the whole thread.
    pub thread: Vec<u8>,
    /// What its Supersedes header names: a filed edit is indexed under
    /// it, so the post's versions are found from there.
    pub supersedes: Option<Vec<u8>>,
    /// The key that signed it: a filed article is indexed under it, so a
    /// revocation finds what the key signed.
    pub signer: Option<[u8; 32]>,
    /// Boards it names that this node would carry but does not have yet:
    /// filed there too once a newgroup creates them (state.md §4).
    pub waits: Vec<String>,
}

/// Where an article waited before this commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Waited {
    /// It is new here.
    Nowhere,
    /// In `pending`, for the passport of `key`.
    Pending { key: [u8; 32] },
    /// In `held`, for the operator.
    Held,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Disposition {
    /// Stored and served.
    File,
    /// Kept out of sight until a passport for `key` arrives.
    Pending { key: [u8; 32] },
    /// Kept out of sight until the operator approves it (premoderation).
    Held,
    /// A local control message: only its effects are written.
    Local,
}

/// A state change caused by a control message or a Supersedes header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Remove an article, or, if it has not arrived, refuse it when it does.
    Remove {
        message_id: Vec<u8>,
        reason: String,
    },
    Passport {
        key: [u8; 32],
        issuer: [u8; 32],
    },
    /// Revoke `key` for its articles dated after `since` (the
    /// revocation's Date, seconds since the epoch).
    Revoke {
        key: [u8; 32],
        by: [u8; 32],
        since: u64,
    },
    Rotate {
        old: [u8; 32],
        new: [u8; 32],
    },
    /// `by` vouches for the node key `key` (access.md §8).
    Introduce {
        key: [u8; 32],
        by: [u8; 32],
        intro: schema::Introduction,
    },
    /// Keep a newgroup, modgroup or rmgroup under its board and bring the
    /// board to the state all of them give (state.md §4).
    Board {
        name: String,
        control: schema::BoardControl,
    },
    /// Keep a cancel of `target` whose authority only the target can show;
    /// whether it removes the target is settled above the store.
    RecordCancel {
        target: Vec<u8>,
        control: Vec<u8>,
        signer: [u8; 32],
    },
    /// Keep a file control under the file it names; whether it holds is
    /// judged above the store (files.md §8).
    RecordFileControl {
        file: [u8; 32],
        control: Vec<u8>,
        record: schema::FileControl,
    },
    /// Keep a grant or ungrant of an audience to a key, if it is the
    /// latest (access.md §7).
    Grant {
        audience: crate::proto::audience::Audience,
        grantee: [u8; 32],
        record: schema::GrantRecord,
    },
    /// Pin the file, or unpin it (local-file-pin, local-file-unpin).
    PinFile {
        file: [u8; 32],
        control: Vec<u8>,
        pinned: bool,
    },
    /// Remove the thread `root` opens, here, every article of it stored
    /// or to come (local-refuse-thread).
    RefuseThread {
        root: Vec<u8>,
        reason: String,
    },
    /// Create a board the configuration lists (`[[group]]`) if it is not
    /// here, or give it the description the configuration gives (a reload).
    Configured {
        name: String,
        description: String,
    },
    /// Remove a board here at once, with the articles filed only in it
    /// (local-rmgroup).
    RmGroup {
        name: String,
    },
    /// Re-file a stored article in the boards of `to` that exist, and
    /// nowhere else (what a settled move decided, or, once its move is
    /// cancelled, where its Newsgroups put it); nothing happens if it is
    /// not filed here or none of `to` exists.
    Move {
        message_id: Vec<u8>,
        to: Vec<String>,
        /// Its overview record, for an article filed nowhere until now.
        overview: Vec<u8>,
    },
    /// Take a stored version of a post out of every board, keeping its
    /// bytes; readers asking for it get `by`, the current version (what a
    /// settled edit decided, state.md §3b).
    Supersede {
        message_id: Vec<u8>,
        by: Vec<u8>,
    },
    /// File a superseded version again, in `groups` (those that exist),
    /// under `overview`: it is the current version once more.
    Restore {
        message_id: Vec<u8>,
        groups: Vec<String>,
        overview: Vec<u8>,
    },
    /// Keep a move control under the article it names, here or not; which
    /// move wins is settled above the store (protocol-spec/state.md §3).
    RecordMove {
        target: Vec<u8>,
        record: schema::MoveRecord,
    },
    /// File a post held for premoderation, as ingest decided it again on
    /// approval (with its own effects and outboxes); nothing happens if it
    /// is no longer held when the batch is written.
    Approve {
        article: Box<Prepared>,
    },
}

/// An audience, its grantee, and the grant record that now stands.
pub type Granted = (
    crate::proto::audience::Audience,
    [u8; 32],
    schema::GrantRecord,
);

/// What a durable batch changed, for the node to publish: readers must not
/// see a number, a key or a board before it is on disk.
#[derive(Debug, Default)]
pub struct Published {
    /// Groups whose record changed (None: removed).
    pub groups: Vec<(String, Option<GroupRecord>)>,
    /// Keys learnt from passports, revocations and rotations.
    pub keys: Vec<([u8; 32], KeyRecord)>,
    /// Grants as they now stand.
    pub grants: Vec<Granted>,
    /// Peers whose outbox got entries.
    pub outboxes: Vec<String>,
    /// Articles named by move controls whose thread changed: a move was
    /// recorded, or an article of the thread was filed. Their filing is to
    /// be settled again.
    pub settle: Vec<Vec<u8>>,
    /// An rmgroup was kept: a move planned before this batch, and applied
    /// after it, may file an article in a board that no longer takes it,
    /// so every move is to be settled again (state.md §3).
    pub settle_all: bool,
    /// The change log's last sequence number after the batch.
    pub last_change: u64,
}

/// Told about every durable batch, on the commit thread: keep it short.
pub type Publish = Box<dyn Fn(Published) + Send>;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stored {
    /// Durable, with its number in each group.
    Accepted { numbers: Vec<(String, u64)> },
    /// Durable, waiting for its signer's passport.
    Pending,
    /// Durable, waiting for the operator's approval.
    Held,
    /// A local control message whose effects are durable.
    Applied,
    /// History already knows this Message-ID (stored, rejected or removed).
    Duplicate,
}

enum Job {
    Store(
        Box<Prepared>,
        oneshot::Sender<Result<Stored, Arc<StoreError>>>,
    ),
    /// Remember a refusal; `blocks`: offers of the ID are refused too.
    Reject {
        message_id: Vec<u8>,
        reason: String,
        blocks: bool,
        done: oneshot::Sender<()>,
    },
    /// Drop a pending article whose passport never came, or that was
    /// refused once it did; `blocks`: offers of the ID are refused too.
    Expire {
        key: [u8; 32],
        message_id: Vec<u8>,
        reason: String,
        blocks: bool,
        done: oneshot::Sender<()>,
    },
    /// Effects decided from what is stored (a settled move), with no
    /// article of their own.
    Effects {
        effects: Vec<Effect>,
        done: oneshot::Sender<()>,
    },
    /// A RocksDB checkpoint into `dir`, made between two batches, and the
    /// state digest at that moment (a consistent backup, backup.rs).
    Checkpoint {
        dir: std::path::PathBuf,
        done: oneshot::Sender<Result<[u8; 32], StoreError>>,
    },
}

/// An article waiting for a board: its Message-ID and overview record.
type Waiting = (Vec<u8>, Vec<u8>);

/// The Message-ID field of an overview record (RFC 3977 §8.3).
fn overview_id(record: &[u8]) -> Option<&[u8]> {
    record.split(|&b| b == b'\t').nth(3)
}

/// The opening post of an overview record's thread: the first entry of
/// its References field, or itself.
fn overview_root(record: &[u8]) -> Option<&[u8]> {
    let mut fields = record.split(|&b| b == b'\t');
    let id = fields.nth(3)?;
    let first = fields.next().and_then(|refs| {
        refs.split(|b| b.is_ascii_whitespace())
            .find(|r| !r.is_empty())
    });
    Some(first.unwrap_or(id))
}

/// The Date field of an overview record in seconds since the epoch (0
/// when it does not parse or is before it), as state.md §1 counts Dates.
fn overview_date(record: &[u8]) -> u64 {
    schema::overview_date(record).map_or(0, |secs| u64::try_from(secs).unwrap_or(0))
}

/// Article octets one write takes at most (besides `batch_limit`
/// articles): a batch is copied into a RocksDB write batch, so big articles
/// must not make it hundreds of megabytes.
const BATCH_BYTES: usize = 16 << 20;

/// How many times a filed article's Message-ID is written besides its
/// own key, in its index entries: twelve in history, arrival, overview,
/// thread (the pair of IDs), signer (twice), set member, change and the
/// board's thread index (three), and two to spare for those some articles
/// add (a version, a file reference, an outbox entry per peer). A bound
/// Message-ID names its key in hex, so it is 100-130 octets, and these
/// copies are most of what an article adds to a batch besides its bytes.
const ID_COPIES: usize = 14;

/// What an article's index entries add to a write batch besides its bytes,
/// its overview record and the copies of its Message-ID: their own keys'
/// and values' octets and each entry's framing.
const INDEX_BYTES: usize = 512;

/// The change log is trimmed once this many changes are past what it keeps.
const CHANGE_TRIM_STEP: u64 = 4096;

/// What a history write did to an article, as the change log says it, or
/// None when readers see no difference (a refusal, a removal of what was
/// never shown).
fn article_change(
    before: Option<&HistoryEntry>,
    after: &HistoryEntry,
) -> Option<(ChangeKind, String)> {
    use HistoryEntry as H;
    let waiting = matches!(before, Some(H::Pending { .. } | H::Held { .. }));
    match after {
        H::Accepted { xref, .. } => {
            let kind = match before {
                None | Some(H::Rejected { .. } | H::Refused { .. }) => ChangeKind::Created,
                Some(H::Pending { .. }) => ChangeKind::Released,
                Some(H::Held { .. }) => ChangeKind::Approved,
                Some(H::Accepted { xref: old, .. }) if old == xref => return None,
                Some(H::Accepted { .. }) => ChangeKind::Moved,
                Some(H::Superseded { .. } | H::Removed { .. }) => ChangeKind::Restored,
            };
            Some((kind, xref.clone()))
        }
        H::Superseded { by, .. } => match before {
            Some(H::Superseded { by: old, .. }) if old == by => None,
            _ => Some((ChangeKind::Edited, by.clone())),
        },
        H::Removed { reason, .. } => match before {
            None | Some(H::Removed { .. } | H::Rejected { .. } | H::Refused { .. }) => None,
            _ => Some((ChangeKind::Removed, reason.clone())),
        },
        H::Rejected { reason, .. } | H::Refused { reason, .. } if waiting => {
            Some((ChangeKind::Removed, reason.clone()))
        }
        H::Rejected { .. } | H::Refused { .. } => None,
        H::Pending { key, .. } => match before {
            Some(H::Pending { .. }) => None,
            _ => Some((ChangeKind::Pending, key.clone())),
        },
        H::Held { .. } => match before {
            Some(H::Held { .. }) => None,
            _ => Some((ChangeKind::Held, String::new())),
        },
    }
}

impl Job {
    /// About what the job adds to a write batch, so the batch is sized
    /// once: when it outgrew its reservation the whole batch (some 3 MB)
    /// was copied, 1.6-2 % of the commit thread's samples.
    fn batch_bytes(&self) -> usize {
        match self {
            Job::Store(article, _) => {
                article.bytes.len()
                    + article.overview.len()
                    + (ID_COPIES + 1) * article.message_id.len()
                    + INDEX_BYTES
            }
            Job::Reject {
                message_id, reason, ..
            }
            | Job::Expire {
                message_id, reason, ..
            } => 4 * message_id.len() + reason.len() + INDEX_BYTES,
            Job::Effects { .. } | Job::Checkpoint { .. } => INDEX_BYTES,
        }
    }

    fn bytes(&self) -> usize {
        match self {
            Job::Store(article, _) => article.bytes.len(),
            Job::Reject { .. }
            | Job::Expire { .. }
            | Job::Effects { .. }
            | Job::Checkpoint { .. } => 0,
        }
    }
}

/// The sessions' handle to the commit thread.
#[derive(Clone)]
pub struct Committer {
    tx: mpsc::UnboundedSender<Job>,
    stats: Arc<CommitStats>,
}

/// Counters of the commit thread, for logs, tests and benchmarks.
#[derive(Debug, Default)]
pub struct CommitStats {
    /// Synced RocksDB writes made.
    pub synced_writes: AtomicU64,
    /// Articles made durable by them.
    pub articles: AtomicU64,
    /// Microseconds spent in the synced writes.
    pub sync_micros: AtomicU64,
}

/// Returned by [`Committer::start`]; joining it waits until every queued
/// write has been made.
pub struct CommitThread(JoinHandle<()>);

impl CommitThread {
    pub fn join(self) {
        if self.0.join().is_err() {
            tracing::error!("commit thread panicked");
        }
    }
}

impl Committer {
    /// Starts the commit thread. It stops once every `Committer` clone is
    /// dropped and the queue is empty. `publish` hears of every durable
    /// batch's changes.
    pub fn start(
        store: Store,
        publish: Publish,
        batch_limit: usize,
        clock: Clock,
        changes_kept: u64,
    ) -> Result<(Committer, CommitThread), StoreError> {
        let (tx, rx) = mpsc::unbounded_channel();
        let records: HashMap<String, GroupRecord> = store.groups()?.into_iter().collect();
        let stats = Arc::new(CommitStats::default());
        let store_targets = store.move_targets()?.into_iter().collect();
        let move_controls = store.move_controls()?.into_iter().collect();
        let (changes_trimmed, last_change) = store.change_bounds()?.unwrap_or((1, 0));
        let mut writer = Writer {
            store,
            records,
            batch_limit,
            last_micros: 0,
            stats: stats.clone(),
            publish,
            outbox_seq: HashMap::new(),
            clock,
            named: store_targets,
            move_controls,
            last_change,
            changes_kept: changes_kept.max(1),
            changes_trimmed,
        };
        let handle = std::thread::Builder::new()
            .name("commit".into())
            .spawn(move || writer.run(rx))
            .map_err(StoreError::Thread)?;
        Ok((Committer { tx, stats }, CommitThread(handle)))
    }

    /// A checkpoint of the store into `dir` (which must not exist) taken
    /// by the commit thread between two batches, and the state digest it
    /// holds. Blocks: call it off the async workers.
    pub fn checkpoint(&self, dir: std::path::PathBuf) -> Result<[u8; 32], StoreError> {
        let (done, made) = oneshot::channel();
        self.tx
            .send(Job::Checkpoint { dir, done })
            .map_err(|_| StoreError::CommitterGone)?;
        made.blocking_recv()
            .map_err(|_| StoreError::CommitterGone)?
    }

    pub fn stats(&self) -> Arc<CommitStats> {
        self.stats.clone()
    }

    /// Files the article; resolves once it is durable (or known already).
    pub async fn store(&self, article: Prepared) -> Result<Stored, Arc<StoreError>> {
        self.submit(article).await
    }

    /// Queues the article now (so submissions keep their order) and
    /// returns the wait for its commit.
    pub fn submit(
        &self,
        article: Prepared,
    ) -> impl std::future::Future<Output = Result<Stored, Arc<StoreError>>> {
        let (reply, answer) = oneshot::channel();
        let queued = self.tx.send(Job::Store(Box::new(article), reply));
        async move {
            queued.map_err(|_| Arc::new(StoreError::CommitterGone))?;
            answer
                .await
                .map_err(|_| Arc::new(StoreError::CommitterGone))?
        }
    }

    /// Remembers a rejected Message-ID in history, so the same article is
    /// refused at once next time; resolves once it is written, so the
    /// refusal is only answered when a new offer would see it. Not synced:
    /// losing it in a crash only means the article is checked again.
    /// `blocks` says whether offers of the ID are refused from now on.
    pub async fn remember_rejection(&self, message_id: Vec<u8>, reason: String, blocks: bool) {
        let (done, written) = oneshot::channel();
        // The queue only closes at shutdown, when this is moot.
        if self
            .tx
            .send(Job::Reject {
                message_id,
                reason,
                blocks,
                done,
            })
            .is_ok()
        {
            let _ = written.await;
        }
    }

    /// Applies effects decided from stored state; resolves once they are
    /// written. Not synced: they are decided again from the same state
    /// after a crash (the settle pass at start).
    pub async fn apply(&self, effects: Vec<Effect>) {
        let (done, written) = oneshot::channel();
        // The queue only closes at shutdown, when this is moot.
        if self.tx.send(Job::Effects { effects, done }).is_ok() {
            let _ = written.await;
        }
    }

    /// Drops a pending article (its passport never came, or it was refused
    /// once it did), remembering why; resolves once that is written.
    pub async fn expire(&self, key: [u8; 32], message_id: Vec<u8>, reason: String, blocks: bool) {
        let (done, written) = oneshot::channel();
        let queued = self.tx.send(Job::Expire {
            key,
            message_id,
            reason,
            blocks,
            done,
        });
        // The queue only closes at shutdown, when this is moot.
        if queued.is_ok() {
            let _ = written.await;
        }
    }
}

struct Writer {
    store: Store,
    /// The authoritative counters; published after each durable write.
    records: HashMap<String, GroupRecord>,
    batch_limit: usize,
    last_micros: u64,
    stats: Arc<CommitStats>,
    publish: Publish,
    /// The last outbox sequence number used per peer, read from the store
    /// the first time a peer is fed.
    outbox_seq: HashMap<String, u64>,
    clock: Clock,
    /// Articles some move or kept cancel names, so filing an article asks
    /// memory, not the store, whether its thread is to be settled.
    named: HashSet<Vec<u8>>,
    /// Each kept move control and the article it names: a cancelled move
    /// loses its effect, so its target is settled again.
    move_controls: HashMap<Vec<u8>, Vec<u8>>,
    /// The change log's last sequence number.
    last_change: u64,
    /// How many changes the log keeps.
    changes_kept: u64,
    /// The log holds nothing before this sequence number.
    changes_trimmed: u64,
}

/// One commit's writes, and what to publish or undo after it.
struct Batch {
    writes: WriteBatch,
    /// History as this batch leaves it, read before the database.
    history: HashMap<Vec<u8>, HistoryEntry>,
    /// The Message-IDs whose history the batch wrote, in the order it
    /// first wrote them: the change log's order.
    history_order: Vec<Vec<u8>>,
    /// History as the store had it before the batch, where the batch
    /// read it: every article's own entry, all read at once before the
    /// batch starts (only this thread writes history). Read before the
    /// store, and by the change log instead of it.
    history_before: HashMap<Vec<u8>, Option<HistoryEntry>>,
    /// The thread of each article this batch stored, as ingest worked it
    /// out (its text is not in the store until the batch is written).
    threads: HashMap<Vec<u8>, Vec<u8>>,
    /// Each board's thread index, as this batch changes it.
    board_threads: board_threads::Changes,
    /// Edits of opening posts this batch stored: posts filed while one
    /// was not here may sit under it as their thread's root.
    opening_edits: Vec<Vec<u8>>,
    /// Group records as they were before the batch (None: did not exist).
    before: HashMap<String, Option<GroupRecord>>,
    /// Overview entries as this batch leaves them (None: deleted), read
    /// before the database.
    overview: HashMap<(String, u64), Option<Vec<u8>>>,
    learnt: Vec<([u8; 32], KeyRecord)>,
    granted: Vec<Granted>,
    /// File controls this batch kept: file, control Message-ID.
    files_controlled: Vec<([u8; 32], Vec<u8>)>,
    /// Peers whose outbox got entries.
    fed: Vec<String>,
    /// Reconciliation set changes, digests added up until the write.
    sets: members::Changes,
    /// Move targets to settle again once the batch is durable.
    settle: Vec<Vec<u8>>,
    /// Every move is to be settled again (see [`Published::settle_all`]).
    settle_all: bool,
    /// Board controls this batch kept, which reads of the store do not
    /// see yet.
    boards: Vec<(String, schema::BoardControl)>,
    /// Articles this batch set waiting for a board: board, id, overview.
    waits: Vec<(String, Vec<u8>, Vec<u8>)>,
    /// Waits this batch ended: board, id.
    unwaited: Vec<(String, Vec<u8>)>,
    synced_articles: u64,
    /// Whether something in the batch is acknowledged once written (an
    /// article, or a local control message's effects): then the write is
    /// synced before anyone hears of it.
    acknowledged: bool,
    micros: u64,
}

impl Writer {
    fn run(&mut self, mut rx: mpsc::UnboundedReceiver<Job>) {
        let mut jobs = Vec::with_capacity(self.batch_limit);
        while let Some(job) = rx.blocking_recv() {
            let mut bytes = job.bytes();
            let mut checkpoint = None;
            match job {
                Job::Checkpoint { dir, done } => checkpoint = Some((dir, done)),
                job => jobs.push(job),
            }
            while checkpoint.is_none() && jobs.len() < self.batch_limit && bytes < BATCH_BYTES {
                match rx.try_recv() {
                    Ok(Job::Checkpoint { dir, done }) => checkpoint = Some((dir, done)),
                    Ok(job) => {
                        bytes += job.bytes();
                        jobs.push(job);
                    }
                    Err(_) => break,
                }
            }
            if !jobs.is_empty() {
                self.commit(&mut jobs);
            }
            // Everything queued before it is written; nothing after it is.
            if let Some((dir, done)) = checkpoint {
                let made = rocksdb::checkpoint::Checkpoint::new(self.store.db())
                    .and_then(|c| c.create_checkpoint(&dir))
                    .map_err(StoreError::from)
                    .and_then(|()| self.store.state_digest());
                let _ = done.send(made);
            }
        }
        tracing::info!(
            synced_writes = self.stats.synced_writes.load(Ordering::Relaxed),
            articles = self.stats.articles.load(Ordering::Relaxed),
            "commit thread stopped"
        );
    }

    fn next_micros(&mut self) -> u64 {
        // Arrival times never go backwards, even if the clock does, so the
        // arrival log stays in arrival order.
        self.last_micros = self.clock.now_micros().max(self.last_micros);
        self.last_micros
    }

    /// Writes `jobs` in one batch.
    fn commit(&mut self, jobs: &mut Vec<Job>) {
        let reserve = jobs.iter().map(Job::batch_bytes).sum();
        let mut batch = Batch {
            // Sized at once: a batch of a few hundred articles grown by
            // doubling was copied about as many times as it doubled, and
            // faulted in fresh pages for each copy.
            writes: WriteBatch::with_capacity_bytes(reserve),
            // Sized for an entry per job: grown by doubling, rehashing
            // Message-IDs of 100-130 octets was 2.7 % of this thread's
            // samples (0.5 % sized).
            history: HashMap::with_capacity(jobs.len()),
            history_order: Vec::with_capacity(jobs.len()),
            history_before: self.prefetch(jobs),
            threads: HashMap::with_capacity(jobs.len()),
            board_threads: board_threads::Changes::default(),
            opening_edits: Vec::new(),
            before: HashMap::new(),
            overview: HashMap::with_capacity(jobs.len()),
            learnt: Vec::new(),
            granted: Vec::new(),
            files_controlled: Vec::new(),
            fed: Vec::new(),
            sets: members::Changes::default(),
            settle: Vec::new(),
            settle_all: false,
            boards: Vec::new(),
            waits: Vec::new(),
            unwaited: Vec::new(),
            synced_articles: 0,
            acknowledged: false,
            micros: self.next_micros(),
        };
        let outcomes: Vec<Result<Stored, Arc<StoreError>>> = jobs
            .iter()
            .map(|job| self.apply(&mut batch, job).map_err(Arc::new))
            .collect();

        for (name, _) in batch.before.iter() {
            let cf = self.store.cf(schema::GROUPS);
            match self.records.get(name) {
                Some(record) => batch.writes.put_cf(cf, name.as_bytes(), record.encode()),
                None => batch.writes.delete_cf(cf, name.as_bytes()),
            }
        }
        batch.sets.write(&self.store, &mut batch.writes);
        let (last_change, changes_trimmed) = (self.last_change, self.changes_trimmed);
        let mut opts = WriteOptions::default();
        // Keys are only learnt from acknowledged articles' effects.
        opts.set_sync(batch.acknowledged);
        let written = self
            .index_board_threads(&mut batch)
            .and_then(|()| self.log_changes(&mut batch))
            .and_then(|()| {
                let started = std::time::Instant::now();
                let wrote = self
                    .store
                    .db()
                    .write_opt(std::mem::take(&mut batch.writes), &opts);
                if !batch.boards.is_empty() {
                    self.store.boards_written();
                }
                wrote?;
                if batch.acknowledged {
                    let micros = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
                    self.stats.sync_micros.fetch_add(micros, Ordering::Relaxed);
                }
                Ok(())
            })
            .map_err(Arc::new);
        if written.is_err() {
            self.last_change = last_change;
            self.changes_trimmed = changes_trimmed;
        }
        match &written {
            Ok(()) => self.publish(&mut batch),
            Err(e) => {
                tracing::error!(error = %e, "group commit failed; articles in it are not acknowledged");
                // Numbers handed out in the failed batch were never stored;
                // roll back so the next batch reuses them.
                for (name, old) in batch.before.drain() {
                    match old {
                        Some(record) => self.records.insert(name, record),
                        None => self.records.remove(&name),
                    };
                }
            }
        }
        for (job, outcome) in jobs.drain(..).zip(outcomes) {
            // A session that went away no longer wants the answer.
            match job {
                Job::Store(_, reply) => {
                    let _ = reply.send(match &written {
                        Ok(()) => outcome,
                        Err(e) => Err(e.clone()),
                    });
                }
                Job::Reject { done, .. } => {
                    let _ = done.send(());
                }
                Job::Expire { done, .. } | Job::Effects { done, .. } => {
                    let _ = done.send(());
                }
                // Never batched: handled between batches.
                Job::Checkpoint { .. } => {}
            }
        }
    }

    /// Reports a durable batch: counters here, the rest to the node.
    fn publish(&mut self, batch: &mut Batch) {
        if batch.acknowledged {
            self.stats.synced_writes.fetch_add(1, Ordering::Relaxed);
            self.stats
                .articles
                .fetch_add(batch.synced_articles, Ordering::Relaxed);
        }
        let groups = batch
            .before
            .keys()
            .map(|name| (name.clone(), self.records.get(name).cloned()))
            .collect();
        (self.publish)(Published {
            groups,
            keys: std::mem::take(&mut batch.learnt),
            grants: std::mem::take(&mut batch.granted),
            outboxes: std::mem::take(&mut batch.fed),
            settle: std::mem::take(&mut batch.settle),
            settle_all: batch.settle_all,
            last_change: self.last_change,
        });
    }

    /// Keeps each board's thread index (store/board_threads.rs) in step
    /// with the overview entries this batch added and deleted, read
    /// against the overview as the store has it before the batch.
    fn index_board_threads(&self, batch: &mut Batch) -> Result<(), StoreError> {
        let mut changes = std::mem::take(&mut batch.board_threads);
        let mut touched: Vec<&(String, u64)> = batch.overview.keys().collect();
        touched.sort();
        // What each touched number takes out of its board's index and puts
        // in, worked out before any of it is applied.
        let mut steps = Vec::with_capacity(touched.len());
        for key in touched {
            let (board, number) = key;
            let now = batch.overview.get(key).and_then(Option::as_ref);
            let dropped = changes.was_dropped(board);
            // A number above the board's high mark before this batch was
            // given out by it: the store has no record there (numbers are
            // not reused), so the read, a miss costing every level's
            // filter, is skipped.
            let fresh = batch
                .before
                .get(board)
                .and_then(Option::as_ref)
                .is_some_and(|record| *number > record.high);
            let before = if dropped || fresh {
                None
            } else {
                self.store.overview(board, *number)?
            };
            if before.as_ref() == now {
                continue;
            }
            let gone = match &before {
                Some(record) => self.filing(batch, board, *number, record)?,
                None => None,
            };
            let came = match now {
                // A board removed in this batch and not back: nothing to
                // index under it.
                Some(_) if dropped && !self.records.contains_key(board) => None,
                Some(record) => self.filing(batch, board, *number, record)?,
                None => None,
            };
            steps.push((gone, came));
        }
        // The heads of the threads touched, read in one go first.
        let threads: Vec<(&str, &[u8])> = steps
            .iter()
            .flat_map(|(gone, came)| gone.iter().chain(came))
            .map(|filing| (filing.board.as_str(), filing.root.as_slice()))
            .collect();
        changes.prefetch(&self.store, &threads)?;
        for (gone, came) in steps {
            if let Some(filing) = gone {
                changes.remove(&self.store, &filing)?;
            }
            if let Some(filing) = came {
                changes.add(&self.store, &filing)?;
            }
        }
        // An edit that came after posts of its thread were filed rooted
        // at it (it was not here to say whose version it is): they move
        // to the thread's root, so the index does not depend on the order
        // articles came in.
        for edit in &batch.opening_edits {
            let root = board_threads::root_of(edit, |x| match batch.threads.get(x) {
                Some(thread) => Ok(Some(thread.clone())),
                None => board_threads::stored_thread_root(&self.store, x),
            })?;
            if root == *edit {
                continue;
            }
            for board in self.records.keys() {
                if changes.has_thread(&self.store, board, edit)? {
                    changes.rehome(&self.store, board, edit, &root)?;
                }
            }
        }
        changes.write(&self.store, &mut batch.writes)
    }

    /// Where an overview record goes in its board's thread index.
    fn filing(
        &self,
        batch: &Batch,
        board: &str,
        number: u64,
        record: &[u8],
    ) -> Result<Option<Filing>, StoreError> {
        // Articles of this batch are not readable from the store yet: their
        // thread roots are the ones ingest worked out.
        let root = board_threads::record_root(record, |id| {
            board_threads::root_of(id, |x| match batch.threads.get(x) {
                Some(thread) => Ok(Some(thread.clone())),
                None => board_threads::stored_thread_root(&self.store, x),
            })
        })?;
        Ok(root.map(|(root, opening)| Filing {
            board: board.to_string(),
            root,
            number,
            opening,
        }))
    }

    /// Adds what the batch changed to the change log, read from history
    /// as the store has it (before the batch) and as the batch leaves it,
    /// then from the board records and keys it changed.
    fn log_changes(&mut self, batch: &mut Batch) -> Result<(), StoreError> {
        let mut changes = Vec::new();
        for id in &batch.history_order {
            let Some(after) = batch.history.get(id) else {
                continue;
            };
            let before = match batch.history_before.remove(id) {
                Some(before) => before,
                None => self.store.history(id)?,
            };
            let subject = String::from_utf8_lossy(id);
            if let Some((kind, detail)) = article_change(before.as_ref(), after) {
                changes.push(Change::new(kind, subject, detail));
            }
        }
        let mut boards: Vec<&String> = batch.before.keys().collect();
        boards.sort();
        for name in boards {
            let before = batch.before.get(name).and_then(Option::as_ref);
            let kind = match (before, self.records.get(name)) {
                (None, Some(_)) => ChangeKind::BoardCreated,
                (Some(_), None) => ChangeKind::BoardRemoved,
                (Some(old), Some(new))
                    if old.description != new.description || old.hidden != new.hidden =>
                {
                    ChangeKind::BoardChanged
                }
                _ => continue,
            };
            changes.push(Change::new(kind, name.as_str(), ""));
        }
        for (file, control) in &batch.files_controlled {
            changes.push(Change::new(
                ChangeKind::File,
                hex::encode(file),
                String::from_utf8_lossy(control),
            ));
        }
        for (key, record) in &batch.learnt {
            let what = match record {
                KeyRecord::Passport { .. } => "passport",
                KeyRecord::Revoked { .. } => "revoked",
                KeyRecord::Rotated { .. } => "rotated",
                KeyRecord::Introduced { .. } => "introduced",
            };
            changes.push(Change::new(ChangeKind::Key, hex::encode(key), what));
        }
        let cf = self.store.cf(schema::CHANGES);
        for change in &changes {
            self.last_change += 1;
            batch
                .writes
                .put_cf(cf, schema::change_key(self.last_change), change.encode());
        }
        // Trimmed in steps, so range deletes (a tombstone each) are rare.
        let first_kept = self.last_change.saturating_sub(self.changes_kept) + 1;
        if first_kept >= self.changes_trimmed + CHANGE_TRIM_STEP.min(self.changes_kept) {
            batch
                .writes
                .delete_range_cf(cf, schema::change_key(0), schema::change_key(first_kept));
            self.changes_trimmed = first_kept;
        }
        Ok(())
    }

    fn history(&self, batch: &Batch, id: &[u8]) -> Result<Option<HistoryEntry>, StoreError> {
        if let Some(entry) = batch.history.get(id) {
            return Ok(Some(entry.clone()));
        }
        if let Some(entry) = batch.history_before.get(id) {
            return Ok(entry.clone());
        }
        self.store.history(id)
    }

    /// The history of the articles among `jobs`, read in one go: one read
    /// at a time was a tenth of this thread's time in a catch-up. When the
    /// read fails nothing is prefetched, and each article's own read
    /// reports the error.
    fn prefetch(&self, jobs: &[Job]) -> HashMap<Vec<u8>, Option<HistoryEntry>> {
        let mut ids: Vec<&[u8]> = jobs
            .iter()
            .filter_map(|job| match job {
                Job::Store(article, _) => Some(article.message_id.as_slice()),
                _ => None,
            })
            .collect();
        ids.sort_unstable();
        ids.dedup();
        match self.store.histories(&ids) {
            Ok(entries) => ids.into_iter().map(<[u8]>::to_vec).zip(entries).collect(),
            Err(_) => HashMap::new(),
        }
    }

    fn set_history(&self, batch: &mut Batch, id: &[u8], entry: HistoryEntry) {
        batch
            .writes
            .put_cf(self.store.cf(schema::HISTORY), id, entry.encode());
        if batch.history.insert(id.to_vec(), entry).is_none() {
            batch.history_order.push(id.to_vec());
        }
    }

    fn apply(&mut self, batch: &mut Batch, job: &Job) -> Result<Stored, StoreError> {
        match job {
            Job::Reject {
                message_id,
                reason,
                blocks,
                ..
            } => {
                if self.history(batch, message_id)?.is_none() {
                    // Stamped here, by the clock that orders history.
                    let (micros, reason) = (batch.micros, reason.clone());
                    let entry = if *blocks {
                        HistoryEntry::Rejected { micros, reason }
                    } else {
                        HistoryEntry::Refused { micros, reason }
                    };
                    self.set_history(batch, message_id, entry);
                }
                Ok(Stored::Duplicate)
            }
            Job::Expire {
                key,
                message_id,
                reason,
                blocks,
                ..
            } => {
                if let Some(HistoryEntry::Pending { .. }) = self.history(batch, message_id)? {
                    batch.writes.delete_cf(
                        self.store.cf(schema::PENDING),
                        schema::pending_key(key, message_id),
                    );
                    batch.sets.remove(
                        &self.store,
                        &mut batch.writes,
                        schema::PENDING_SET,
                        message_id,
                    );
                    let (micros, reason) = (batch.micros, reason.clone());
                    let entry = if *blocks {
                        HistoryEntry::Rejected { micros, reason }
                    } else {
                        HistoryEntry::Refused { micros, reason }
                    };
                    self.set_history(batch, message_id, entry);
                }
                Ok(Stored::Duplicate)
            }
            Job::Store(article, _) => self.store_article(batch, article),
            Job::Effects { effects, .. } => {
                for effect in effects {
                    self.effect(batch, effect)?;
                }
                Ok(Stored::Applied)
            }
            Job::Checkpoint { .. } => Ok(Stored::Applied),
        }
    }

    fn store_article(
        &mut self,
        batch: &mut Batch,
        article: &Prepared,
    ) -> Result<Stored, StoreError> {
        let id = &article.message_id;
        let entry = self.history(batch, id)?;
        // Already there unless the prefetch failed.
        if !batch.history.contains_key(id) && !batch.history_before.contains_key(id) {
            batch.history_before.insert(id.clone(), entry.clone());
        }
        match (entry, &article.from) {
            (Some(HistoryEntry::Pending { .. }), Waited::Pending { .. }) => {}
            (Some(HistoryEntry::Held { .. }), Waited::Held) => {}
            // It left the waiting room meanwhile (released, approved or
            // removed by an earlier job): nothing to do.
            (_, Waited::Pending { .. } | Waited::Held) => return Ok(Stored::Duplicate),
            (Some(entry), Waited::Nowhere) if entry.blocks() => return Ok(Stored::Duplicate),
            (_, Waited::Nowhere) => {}
        }
        match &article.from {
            Waited::Nowhere => {}
            Waited::Pending { key } => {
                batch
                    .writes
                    .delete_cf(self.store.cf(schema::PENDING), schema::pending_key(key, id));
                batch
                    .sets
                    .remove(&self.store, &mut batch.writes, schema::PENDING_SET, id);
            }
            Waited::Held => {
                batch.writes.delete_cf(self.store.cf(schema::HELD), id);
                batch
                    .sets
                    .remove(&self.store, &mut batch.writes, schema::HELD_SET, id);
            }
        }
        batch.acknowledged = true;
        let outcome = match &article.disposition {
            Disposition::Pending { key } => {
                batch.writes.put_cf(
                    self.store.cf(schema::PENDING),
                    schema::pending_key(key, id),
                    schema::waiting_value(batch.micros, &article.bytes),
                );
                batch
                    .sets
                    .add(&self.store, &mut batch.writes, schema::PENDING_SET, id);
                let entry = HistoryEntry::Pending {
                    micros: batch.micros,
                    key: hex::encode(key),
                };
                self.set_history(batch, id, entry);
                Stored::Pending
            }
            Disposition::Held => {
                batch.writes.put_cf(
                    self.store.cf(schema::HELD),
                    id,
                    schema::waiting_value(batch.micros, &article.bytes),
                );
                batch
                    .sets
                    .add(&self.store, &mut batch.writes, schema::HELD_SET, id);
                let entry = HistoryEntry::Held {
                    micros: batch.micros,
                };
                self.set_history(batch, id, entry);
                Stored::Held
            }
            Disposition::Local => Stored::Applied,
            Disposition::File => Stored::Accepted {
                numbers: self.file(batch, article),
            },
        };
        if outcome != Stored::Applied {
            batch.synced_articles += 1;
        }
        // A post that waits keeps its effects for when it is filed: ingest
        // works them out again then, as things stand at that time.
        if matches!(outcome, Stored::Accepted { .. } | Stored::Applied) {
            for effect in &article.effects {
                self.effect(batch, effect)?;
            }
        }
        Ok(outcome)
    }

    /// The next number in `group`, noting the record's old state for undo.
    fn number(&mut self, batch: &mut Batch, group: &str) -> Option<u64> {
        let record = self.records.get_mut(group)?;
        batch
            .before
            .entry(group.to_string())
            .or_insert_with(|| Some(record.clone()));
        record.high += 1;
        record.count += 1;
        if record.count == 1 {
            record.low = record.high;
        }
        Some(record.high)
    }

    /// Adds one article to the batch and returns its numbers.
    fn file(&mut self, batch: &mut Batch, article: &Prepared) -> Vec<(String, u64)> {
        let mut numbers = Vec::with_capacity(article.groups.len());
        // A board it waits for that a newgroup created since ingest looked
        // is filed in now; the rest wait.
        let (now, later): (Vec<&String>, Vec<&String>) = article
            .waits
            .iter()
            .partition(|board| self.records.contains_key(*board));
        for board in later {
            self.wait_for(batch, board, &article.message_id, &article.overview);
        }
        for group in article.groups.iter().chain(now) {
            let Some(number) = self.number(batch, group) else {
                continue;
            };
            self.put_overview(batch, group, number, article.overview.clone());
            batch
                .sets
                .add(&self.store, &mut batch.writes, group, &article.message_id);
            numbers.push((group.clone(), number));
        }
        let xref = numbers
            .iter()
            .map(|(g, n)| format!("{g}:{n}"))
            .collect::<Vec<_>>()
            .join(" ");
        let filed_in = numbers
            .iter()
            .map(|(g, _)| g.as_str())
            .collect::<Vec<_>>()
            .join(",");
        batch.writes.put_cf(
            self.store.cf(schema::ARTICLES),
            &article.message_id,
            &article.bytes,
        );
        let micros = batch.micros;
        self.set_history(
            batch,
            &article.message_id,
            HistoryEntry::Accepted { micros, xref },
        );
        batch.writes.put_cf(
            self.store.cf(schema::ARRIVAL),
            schema::arrival_key(micros, &article.message_id),
            filed_in,
        );
        self.index(batch, article);
        for peer in &article.outboxes {
            let seq = match self.outbox_seq.get_mut(peer) {
                Some(seq) => seq,
                None => {
                    // An unreadable outbox leaves this peer to catch-up,
                    // rather than failing the article for everyone.
                    let last = self.store.outbox_last(peer).unwrap_or_else(|e| {
                        tracing::error!(%peer, error = %e, "cannot read the outbox's last entry");
                        0
                    });
                    self.outbox_seq.entry(peer.clone()).or_insert(last)
                }
            };
            *seq += 1;
            batch.writes.put_cf(
                self.store.cf(schema::OUTBOX),
                schema::outbox_key(peer, *seq),
                schema::outbox_value(micros, &article.message_id),
            );
            if !batch.fed.contains(peer) {
                batch.fed.push(peer.clone());
            }
        }
        numbers
    }

    /// Indexes a filed article under its thread, its signer and what it
    /// supersedes; if a move, kept cancel or edit names it or its thread,
    /// its filing is to be settled again.
    fn index(&mut self, batch: &mut Batch, article: &Prepared) {
        let id = &article.message_id;
        batch.threads.insert(id.clone(), article.thread.clone());
        if article.supersedes.as_ref() == Some(&article.thread) {
            batch.opening_edits.push(id.clone());
        }
        batch.writes.put_cf(
            self.store.cf(schema::THREADS),
            schema::pair_key(&article.thread, id),
            b"",
        );
        // Only this article is settled: its thread's filing is worked out
        // for it alone, so a thread's replies cost one pass each, not a
        // pass over the whole thread each (an opening post is its thread).
        if (self.named.contains(&article.thread) || self.named.contains(id))
            && !batch.settle.contains(id)
        {
            batch.settle.push(id.clone());
        }
        if let Some(signer) = &article.signer {
            batch.writes.put_cf(
                self.store.cf(schema::AUTHORS),
                [signer.as_slice(), id].concat(),
                b"",
            );
            batch.writes.put_cf(
                self.store.cf(schema::AUTHORED),
                schema::authored_key(signer, overview_date(&article.overview), id),
                b"",
            );
        }
        // The files it references are kept while it is (files.md §5).
        if memchr::memmem::find(&article.bytes, crate::proto::file_ref::HEADER.as_bytes()).is_some()
        {
            let files = crate::proto::article::Article::parse(article.bytes.clone())
                .ok()
                .and_then(|a| crate::proto::file_ref::of(&a).ok())
                .unwrap_or_default();
            // A thumbnail is a file of its own, kept by the same article.
            for hash in files
                .iter()
                .flat_map(|file| std::iter::once(file.hash).chain(file.thumbnail))
            {
                batch.writes.put_cf(
                    self.store.cf(schema::FILE_REFS),
                    [hash.as_slice(), id].concat(),
                    b"",
                );
            }
        }
        if let Some(old) = &article.supersedes {
            batch.writes.put_cf(
                self.store.cf(schema::VERSIONS),
                schema::pair_key(old, id),
                b"",
            );
            self.named.insert(old.clone());
            if !batch.settle.contains(old) {
                batch.settle.push(old.clone());
            }
        }
    }

    fn put_overview(&self, batch: &mut Batch, group: &str, number: u64, record: Vec<u8>) {
        let key = schema::overview_key(group, number);
        batch
            .writes
            .put_cf(self.store.cf(schema::OVERVIEW), key, &record);
        batch
            .overview
            .insert((group.to_string(), number), Some(record));
    }

    /// The lowest article number in `group` above `after`, as this batch
    /// leaves the group. The store is read from `after` on and only as far
    /// as the first number this batch did not delete, so removing a big
    /// group's lowest article costs one short seek, not a scan of the group.
    fn next_number(
        &self,
        batch: &Batch,
        group: &str,
        after: u64,
        high: u64,
    ) -> Result<Option<u64>, StoreError> {
        let in_batch = batch
            .overview
            .iter()
            .filter(|((g, n), entry)| g == group && *n > after && entry.is_some())
            .map(|((_, n), _)| *n)
            .min();
        let on_disk = self.store.first_number(group, after + 1, high, |n| {
            !matches!(batch.overview.get(&(group.to_string(), n)), Some(None))
        })?;
        Ok(in_batch.into_iter().chain(on_disk).min())
    }

    /// Takes article `number`, `id`, out of `group`'s overview, set and
    /// counters.
    fn unfile(
        &mut self,
        batch: &mut Batch,
        group: &str,
        number: u64,
        id: &[u8],
    ) -> Result<(), StoreError> {
        batch.writes.delete_cf(
            self.store.cf(schema::OVERVIEW),
            schema::overview_key(group, number),
        );
        batch.sets.remove(&self.store, &mut batch.writes, group, id);
        batch.overview.insert((group.to_string(), number), None);
        let Some(record) = self.records.get(group).cloned() else {
            return Ok(());
        };
        batch
            .before
            .entry(group.to_string())
            .or_insert_with(|| Some(record.clone()));
        let low = if number == record.low {
            self.next_number(batch, group, number, record.high)?
                .unwrap_or(record.high + 1)
        } else {
            record.low
        };
        if let Some(record) = self.records.get_mut(group) {
            record.count = record.count.saturating_sub(1);
            record.low = low;
        }
        Ok(())
    }

    fn effect(&mut self, batch: &mut Batch, effect: &Effect) -> Result<(), StoreError> {
        let micros = batch.micros;
        match effect {
            Effect::Remove { message_id, reason } => {
                let entry = self.history(batch, message_id)?;
                if let Some(HistoryEntry::Accepted { .. } | HistoryEntry::Superseded { .. }) = entry
                {
                    self.resettle_without(batch, message_id)?;
                }
                match entry {
                    Some(HistoryEntry::Removed { .. }) => return Ok(()),
                    Some(entry @ HistoryEntry::Accepted { .. }) => {
                        for (group, number) in entry.numbers() {
                            self.unfile(batch, group, number, message_id)?;
                        }
                        if let HistoryEntry::Accepted {
                            micros: arrived, ..
                        } = entry
                        {
                            let key = schema::arrival_key(arrived, message_id);
                            batch.writes.delete_cf(self.store.cf(schema::ARRIVAL), key);
                        }
                        batch
                            .writes
                            .delete_cf(self.store.cf(schema::ARTICLES), message_id);
                    }
                    Some(HistoryEntry::Pending { key, .. }) => {
                        let signer = hex::decode(&key)
                            .ok()
                            .and_then(|k| <[u8; 32]>::try_from(k).ok());
                        if let Some(key) = signer {
                            let pending = schema::pending_key(&key, message_id);
                            self.leave(
                                batch,
                                schema::PENDING,
                                &pending,
                                schema::PENDING_SET,
                                message_id,
                            );
                        }
                    }
                    Some(HistoryEntry::Superseded { .. }) => {
                        let set = schema::SUPERSEDED_SET;
                        self.leave(batch, schema::ARTICLES, message_id, set, message_id);
                    }
                    Some(HistoryEntry::Held { .. }) => {
                        self.leave(
                            batch,
                            schema::HELD,
                            message_id,
                            schema::HELD_SET,
                            message_id,
                        );
                    }
                    // Not here yet, or refused: either way it is refused if
                    // it ever arrives.
                    _ => {}
                }
                if let Some(target) = self.move_controls.get(message_id) {
                    if !batch.settle.contains(target) {
                        batch.settle.push(target.clone());
                    }
                }
                let reason = reason.clone();
                self.set_history(batch, message_id, HistoryEntry::Removed { micros, reason });
                tracing::info!(message_id = %String::from_utf8_lossy(message_id), "article removed");
            }
            Effect::Passport { key, issuer } => self.learn(
                batch,
                *key,
                KeyRecord::Passport {
                    issuer: *issuer,
                    micros,
                },
            )?,
            Effect::Revoke { key, by, since } => {
                let record = KeyRecord::Revoked {
                    by: *by,
                    micros,
                    since: *since,
                };
                self.learn(batch, *key, record)?
            }
            Effect::Introduce { key, by, intro } => self.learn(
                batch,
                *key,
                KeyRecord::Introduced {
                    by: *by,
                    micros,
                    intro: intro.clone(),
                },
            )?,
            Effect::Rotate { old, new } => {
                self.learn(batch, *new, KeyRecord::Rotated { old: *old, micros })?
            }
            Effect::Board { name, control } => {
                batch.writes.put_cf(
                    self.store.cf(schema::BOARDS),
                    schema::pair_key(name.as_bytes(), &control.control),
                    control.encode(),
                );
                batch.boards.push((name.clone(), control.clone()));
                let mut controls = self.store.board_controls(name)?.to_vec();
                controls.extend(
                    batch
                        .boards
                        .iter()
                        .filter(|(board, _)| board == name)
                        .map(|(_, c)| c.clone()),
                );
                let state = schema::BoardState::of(&controls);
                let removal = control.change == schema::BoardChange::Remove;
                batch.settle_all |= removal;
                self.bring_board(batch, name, &state, removal)?;
            }
            Effect::Configured { name, description } => match self.records.get_mut(name) {
                None => {
                    batch.before.entry(name.clone()).or_insert(None);
                    let record =
                        GroupRecord::new((batch.micros / 1_000_000) as i64, description.clone());
                    self.records.insert(name.clone(), record);
                    tracing::info!(group = %name, "newsgroup created by the configuration");
                    self.file_waiting(batch, name, None)?;
                }
                Some(record) if record.description != *description => {
                    batch
                        .before
                        .entry(name.clone())
                        .or_insert_with(|| Some(record.clone()));
                    record.description = description.clone();
                }
                Some(_) => {}
            },
            Effect::RmGroup { name } => {
                batch.settle_all = true;
                self.remove_board(batch, name)?;
            }
            Effect::RecordFileControl {
                file,
                control,
                record,
            } => {
                batch.writes.put_cf(
                    self.store.cf(schema::FILE_CONTROLS),
                    [file.as_slice(), control].concat(),
                    record.encode(),
                );
                batch.files_controlled.push((*file, control.clone()));
            }
            Effect::Grant {
                audience,
                grantee,
                record,
            } => {
                let known = match batch
                    .granted
                    .iter()
                    .rev()
                    .find(|(a, g, _)| a == audience && g == grantee)
                {
                    Some((_, _, known)) => Some(known.clone()),
                    None => self.store.grant(audience, grantee)?,
                };
                if known.is_none_or(|known| record.wins_over(&known)) {
                    batch.writes.put_cf(
                        self.store.cf(schema::GRANTS),
                        schema::GrantRecord::key(audience, grantee),
                        record.encode(),
                    );
                    batch
                        .granted
                        .push((audience.clone(), *grantee, record.clone()));
                }
            }
            Effect::PinFile {
                file,
                control,
                pinned,
            } => {
                let cf = self.store.cf(schema::FILE_PINS);
                if *pinned {
                    batch.writes.put_cf(cf, file, b"");
                } else {
                    batch.writes.delete_cf(cf, file);
                }
                batch.files_controlled.push((*file, control.clone()));
            }
            Effect::RefuseThread { root, reason } => {
                self.store.refusing_thread(root);
                batch
                    .writes
                    .put_cf(self.store.cf(schema::REFUSED), root, reason.as_bytes());
                let mut members = self.store.thread_members(root)?;
                members.push(root.clone());
                for id in members {
                    self.remove(batch, &id, reason.clone())?;
                }
            }
            Effect::RecordCancel {
                target,
                control,
                signer,
            } => {
                self.store.keeping_cancel(target);
                batch.writes.put_cf(
                    self.store.cf(schema::CANCELS),
                    schema::pair_key(target, control),
                    signer,
                );
                self.named.insert(target.clone());
                if !batch.settle.contains(target) {
                    batch.settle.push(target.clone());
                }
            }
            Effect::Supersede { message_id, by } => {
                let by = String::from_utf8_lossy(by).into_owned();
                match self.history(batch, message_id)? {
                    Some(entry @ HistoryEntry::Accepted { .. }) => {
                        for (group, number) in entry.numbers() {
                            self.unfile(batch, group, number, message_id)?;
                        }
                        if let HistoryEntry::Accepted {
                            micros: arrived, ..
                        } = entry
                        {
                            let key = schema::arrival_key(arrived, message_id);
                            batch.writes.delete_cf(self.store.cf(schema::ARRIVAL), key);
                        }
                        let set = schema::SUPERSEDED_SET;
                        batch
                            .sets
                            .add(&self.store, &mut batch.writes, set, message_id);
                        let entry = HistoryEntry::Superseded { micros, by };
                        self.set_history(batch, message_id, entry);
                    }
                    Some(HistoryEntry::Superseded { by: old, .. }) if old != by => {
                        let entry = HistoryEntry::Superseded { micros, by };
                        self.set_history(batch, message_id, entry);
                    }
                    _ => {}
                }
            }
            Effect::Restore {
                message_id,
                groups,
                overview,
            } => {
                let Some(HistoryEntry::Superseded { .. }) = self.history(batch, message_id)? else {
                    return Ok(());
                };
                let set = schema::SUPERSEDED_SET;
                batch
                    .sets
                    .remove(&self.store, &mut batch.writes, set, message_id);
                let mut numbers = Vec::new();
                let mut filed = Vec::new();
                for group in groups {
                    let Some(number) = self.number(batch, group) else {
                        continue;
                    };
                    self.put_overview(batch, group, number, overview.clone());
                    batch
                        .sets
                        .add(&self.store, &mut batch.writes, group, message_id);
                    numbers.push(format!("{group}:{number}"));
                    filed.push(group.as_str());
                }
                batch.writes.put_cf(
                    self.store.cf(schema::ARRIVAL),
                    schema::arrival_key(micros, message_id),
                    filed.join(","),
                );
                let xref = numbers.join(" ");
                self.set_history(batch, message_id, HistoryEntry::Accepted { micros, xref });
            }
            Effect::RecordMove { target, record } => {
                batch.writes.put_cf(
                    self.store.cf(schema::MOVES),
                    schema::pair_key(target, &record.control),
                    record.encode(),
                );
                self.named.insert(target.clone());
                self.move_controls
                    .insert(record.control.clone(), target.clone());
                if !batch.settle.contains(target) {
                    batch.settle.push(target.clone());
                }
            }
            Effect::Approve { article } => {
                if let Stored::Accepted { .. } = self.store_article(batch, article)? {
                    tracing::info!(message_id = %String::from_utf8_lossy(&article.message_id), "held post approved");
                }
            }
            Effect::Move {
                message_id,
                to,
                overview,
            } => {
                let Some(entry @ HistoryEntry::Accepted { .. }) =
                    self.history(batch, message_id)?
                else {
                    return Ok(());
                };
                let to: Vec<&String> = to
                    .iter()
                    .filter(|g| self.records.contains_key(*g))
                    .collect();
                if to.is_empty() {
                    return Ok(());
                }
                let numbers: Vec<(String, u64)> = entry
                    .numbers()
                    .iter()
                    .map(|(g, n)| (g.to_string(), *n))
                    .collect();
                for (group, number) in &numbers {
                    self.unfile(batch, group, *number, message_id)?;
                    if !to.contains(&group) {
                        batch.writes.put_cf(
                            self.store.cf(schema::MOVED_FROM),
                            schema::pair_key(group.as_bytes(), message_id),
                            b"",
                        );
                    }
                }
                let mut xref = Vec::new();
                let mut filed = Vec::new();
                for to in to {
                    if let Some(number) = self.number(batch, to) {
                        self.put_overview(batch, to, number, overview.clone());
                        batch
                            .sets
                            .add(&self.store, &mut batch.writes, to, message_id);
                        xref.push(format!("{to}:{number}"));
                        filed.push(to.as_str());
                    }
                }
                let xref = xref.join(" ");
                let arrived = match entry {
                    HistoryEntry::Accepted { micros, .. } => micros,
                    _ => micros,
                };
                batch.writes.put_cf(
                    self.store.cf(schema::ARRIVAL),
                    schema::arrival_key(arrived, message_id),
                    filed.join(","),
                );
                self.set_history(
                    batch,
                    message_id,
                    HistoryEntry::Accepted {
                        micros: arrived,
                        xref,
                    },
                );
            }
        }
        Ok(())
    }

    /// Makes a board what its controls say: created, changed or removed.
    /// `removal`: the control just kept is an rmgroup, so the board's
    /// removed Date may have moved.
    fn bring_board(
        &mut self,
        batch: &mut Batch,
        name: &str,
        state: &schema::BoardState,
        removal: bool,
    ) -> Result<(), StoreError> {
        match (state.exists, self.records.get_mut(name)) {
            (Some(false), Some(_)) => {
                self.purge_board(batch, name, state.removed, true)?;
                self.drop_board(batch, name);
            }
            (Some(true), None) => {
                batch.before.entry(name.to_string()).or_insert(None);
                let description = state.description.clone().unwrap_or_default();
                let mut record = GroupRecord::new((batch.micros / 1_000_000) as i64, description);
                record.hidden = state.hidden.unwrap_or(false);
                self.records.insert(name.to_string(), record);
                tracing::info!(group = %name, "newsgroup created by control message");
                self.file_waiting(batch, name, state.removed)?;
            }
            (_, Some(record)) => {
                let description = state.description.as_ref().unwrap_or(&record.description);
                let hidden = state.hidden.unwrap_or(record.hidden);
                if *description != record.description || hidden != record.hidden {
                    batch
                        .before
                        .entry(name.to_string())
                        .or_insert_with(|| Some(record.clone()));
                    record.description = description.clone();
                    record.hidden = hidden;
                }
                // An rmgroup older than the newgroup still takes what was
                // posted before it.
                if removal && state.removed.is_some() {
                    self.purge_board(batch, name, state.removed, false)?;
                }
            }
            // Not here, and nothing creates it (yet): the controls are kept.
            (_, None) => {}
        }
        Ok(())
    }

    /// The operator's local-rmgroup: the board and every article filed in
    /// it alone go, whatever their dates.
    fn remove_board(&mut self, batch: &mut Batch, name: &str) -> Result<(), StoreError> {
        if self.records.contains_key(name) {
            self.purge_board(batch, name, None, true)?;
            self.drop_board(batch, name);
        }
        Ok(())
    }

    /// Takes out of `name` what an rmgroup dated `removed` takes (all of
    /// it when None): each article dated up to it is removed with its body
    /// (remembered as removed, so catch-up does not bring it back) or, if
    /// also filed elsewhere, unfiled from `name` only. When the board
    /// itself goes (`whole`), articles dated after the rmgroup are
    /// unfiled and wait for the board to come back; articles already
    /// waiting for it that are dated up to it are removed.
    fn purge_board(
        &mut self,
        batch: &mut Batch,
        name: &str,
        removed: Option<u64>,
        whole: bool,
    ) -> Result<(), StoreError> {
        let before = |date: u64| removed.is_none_or(|at| date <= at);
        let mut from = 0;
        // What this batch filed in the board is not in the store yet.
        let mut pages: Vec<Vec<(u64, Vec<u8>)>> = vec![batch
            .overview
            .iter()
            .filter_map(|((group, number), record)| {
                (group == name).then(|| record.clone().map(|r| (*number, r)))?
            })
            .collect()];
        loop {
            let page = self.store.overview_page(name, from, u64::MAX, 1000)?;
            let Some(&(last, _)) = page.last() else { break };
            pages.push(page);
            match last.checked_add(1) {
                Some(next) => from = next,
                None => break,
            }
        }
        for (_, record) in pages.into_iter().flatten() {
            let Some(id) = overview_id(&record) else {
                continue;
            };
            if let Some(root) = self.moved_in(id, &record, name)? {
                // Moved here, not posted here: the move no longer holds,
                // and settling sends the thread back where its Newsgroups
                // put it (state.md §3, §4).
                self.drop_filing(batch, id, name)?;
                if !batch.settle.contains(&root) {
                    batch.settle.push(root);
                }
                continue;
            }
            if before(overview_date(&record)) {
                self.take_out(batch, id, name)?;
            } else if whole {
                self.drop_filing(batch, id, name)?;
                self.wait_for(batch, name, id, &record);
            }
        }
        // Posted to the board, and moved out of it since: the rmgroup takes
        // it all the same, as it would have had it come first. One dated
        // after this rmgroup stays known, for a later-dated one to take.
        for id in self.store.seconds_of(schema::MOVED_FROM, name.as_bytes())? {
            let key = schema::pair_key(name.as_bytes(), &id);
            let Some(article) = self
                .store
                .article(&id)?
                .and_then(|bytes| crate::proto::article::Article::parse(Bytes::from(bytes)).ok())
            else {
                batch
                    .writes
                    .delete_cf(self.store.cf(schema::MOVED_FROM), key);
                continue;
            };
            let date = article
                .header_unfolded("Date")
                .and_then(|d| crate::proto::article::parse_date(&d))
                .map_or(0, |d| u64::try_from(d.timestamp()).unwrap_or(0));
            let posted_here_alone = article.newsgroups() == [name.as_bytes().to_vec()];
            if !posted_here_alone || before(date) {
                batch
                    .writes
                    .delete_cf(self.store.cf(schema::MOVED_FROM), key);
            }
            if posted_here_alone && before(date) {
                self.remove(batch, &id, format!("its board {name} was removed"))?;
            }
        }
        for (id, record) in self.waiting(batch, name)? {
            if before(overview_date(&record)) {
                self.unwait(batch, name, &id);
                if self.filed_nowhere(batch, &id)? {
                    let reason = format!("posted before its board {name} was removed");
                    self.remove(batch, &id, reason)?;
                }
            }
        }
        Ok(())
    }

    /// What is to be settled again once the stored article `id` goes: a
    /// removed version of an edited post (the previous one may be current
    /// again), a removed opening post of a moved thread (a moderator's
    /// move needs it), or an article a move or cancel names.
    fn resettle_without(&self, batch: &mut Batch, id: &[u8]) -> Result<(), StoreError> {
        let mut again = Vec::new();
        if self.named.contains(id) {
            again.push(id.to_vec());
        }
        if let Some(article) = self
            .store
            .article(id)?
            .and_then(|bytes| crate::proto::article::Article::parse(Bytes::from(bytes)).ok())
        {
            again.extend(article.supersedes());
            again.extend(
                article
                    .thread_root()
                    .filter(|root| self.named.contains(root)),
            );
        }
        for target in again {
            if !batch.settle.contains(&target) {
                batch.settle.push(target);
            }
        }
        Ok(())
    }

    /// What the settling is to work out again for `id` (filed with the
    /// overview `record`) when a move or an edit names its thread or `id`
    /// itself: its opening post, or `id` for an edit without References.
    /// The overview shows References only, so whether an article without
    /// them is an edit, of the thread of what it supersedes (state.md
    /// §3b), only its bytes tell.
    fn settled_thread(&self, id: &[u8], record: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        let root = overview_root(record).unwrap_or(id);
        if self.named.contains(root) || self.named.contains(id) {
            return Ok(Some(root.to_vec()));
        }
        if root != id {
            return Ok(None);
        }
        let supersedes = self
            .store
            .article(id)?
            .and_then(|bytes| crate::proto::article::Article::parse(Bytes::from(bytes)).ok())
            .and_then(|article| article.supersedes());
        Ok(supersedes
            .filter(|old| self.named.contains(old))
            .map(|_| id.to_vec()))
    }

    /// What to settle again for `id`, filed in `board`, if a move put it
    /// there rather than its own Newsgroups: only an article of a thread
    /// some move or edit names can be, and only its bytes tell.
    fn moved_in(
        &self,
        id: &[u8],
        record: &[u8],
        board: &str,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        let Some(root) = self.settled_thread(id, record)? else {
            return Ok(None);
        };
        let Some(bytes) = self.store.article(id)? else {
            return Ok(None);
        };
        let Ok(article) = crate::proto::article::Article::parse(Bytes::from(bytes)) else {
            return Ok(None);
        };
        let posted = article
            .newsgroups()
            .iter()
            .any(|g| g.as_slice() == board.as_bytes());
        Ok((!posted).then_some(root))
    }

    /// Removes a board's record, numbering, overview and set.
    fn drop_board(&mut self, batch: &mut Batch, name: &str) {
        if let Some(record) = self.records.remove(name) {
            batch.before.entry(name.to_string()).or_insert(Some(record));
            let start = schema::overview_key(name, 0);
            let end = schema::overview_key(name, u64::MAX);
            let cf = self.store.cf(schema::OVERVIEW);
            batch.writes.delete_range_cf(cf, &start, &end);
            batch.writes.delete_cf(cf, &end);
            batch.sets.clear(&self.store, &mut batch.writes, name);
            board_threads::drop_board(&self.store, &mut batch.writes, name);
            batch.board_threads.dropped(name);
            tracing::info!(group = %name, "newsgroup removed");
        }
    }

    /// Removes `id` if `name` is the only board it is filed in, else
    /// unfiles it from `name`.
    fn take_out(&mut self, batch: &mut Batch, id: &[u8], name: &str) -> Result<(), StoreError> {
        let Some(entry @ HistoryEntry::Accepted { .. }) = self.history(batch, id)? else {
            return Ok(());
        };
        let numbers = entry.numbers();
        if !numbers.iter().any(|(g, _)| *g == name) {
            return Ok(());
        }
        if numbers.iter().all(|(g, _)| *g == name) {
            self.remove(batch, id, format!("its board {name} was removed"))
        } else {
            self.drop_filing(batch, id, name)
        }
    }

    /// Deletes `key` from `family` and takes `id` out of the state set
    /// `set` (state.md §5) in the same write.
    fn leave(&self, batch: &mut Batch, family: &'static str, key: &[u8], set: &str, id: &[u8]) {
        batch.writes.delete_cf(self.store.cf(family), key);
        batch.sets.remove(&self.store, &mut batch.writes, set, id);
    }

    fn remove(&mut self, batch: &mut Batch, id: &[u8], reason: String) -> Result<(), StoreError> {
        let effect = Effect::Remove {
            message_id: id.to_vec(),
            reason,
        };
        self.effect(batch, &effect)
    }

    fn filed_nowhere(&self, batch: &Batch, id: &[u8]) -> Result<bool, StoreError> {
        Ok(matches!(
            self.history(batch, id)?,
            Some(entry @ HistoryEntry::Accepted { .. }) if entry.numbers().is_empty()
        ))
    }

    /// Unfiles `id` from `board`, history included; it stays stored.
    fn drop_filing(&mut self, batch: &mut Batch, id: &[u8], board: &str) -> Result<(), StoreError> {
        let Some(HistoryEntry::Accepted { micros, xref }) = self.history(batch, id)? else {
            return Ok(());
        };
        let entry = HistoryEntry::Accepted {
            micros,
            xref: xref.clone(),
        };
        let mut kept = Vec::new();
        for (group, number) in entry.numbers() {
            if group == board {
                self.unfile(batch, group, number, id)?;
            } else {
                kept.push(format!("{group}:{number}"));
            }
        }
        let xref = kept.join(" ");
        self.set_history(batch, id, HistoryEntry::Accepted { micros, xref });
        Ok(())
    }

    /// Files the stored articles that wait for `board`, now that it is
    /// here, unless they were posted before its latest rmgroup.
    fn file_waiting(
        &mut self,
        batch: &mut Batch,
        board: &str,
        removed: Option<u64>,
    ) -> Result<(), StoreError> {
        for (id, record) in self.waiting(batch, board)? {
            self.unwait(batch, board, &id);
            if removed.is_some_and(|at| overview_date(&record) <= at) {
                if self.filed_nowhere(batch, &id)? {
                    let reason = format!("posted before its board {board} was removed");
                    self.remove(batch, &id, reason)?;
                }
                continue;
            }
            let Some(HistoryEntry::Accepted { micros, xref }) = self.history(batch, &id)? else {
                continue;
            };
            let Some(number) = self.number(batch, board) else {
                continue;
            };
            let moved = self.settled_thread(&id, &record)?.is_some();
            self.put_overview(batch, board, number, record);
            batch.sets.add(&self.store, &mut batch.writes, board, &id);
            let xref = if xref.is_empty() {
                format!("{board}:{number}")
            } else {
                format!("{xref} {board}:{number}")
            };
            self.set_history(batch, &id, HistoryEntry::Accepted { micros, xref });
            // Of a moved thread, it follows the thread, not this board.
            if moved && !batch.settle.contains(&id) {
                batch.settle.push(id.clone());
            }
        }
        Ok(())
    }

    /// Articles waiting for `board`, with their overview records: stored
    /// ones and those this batch added.
    fn waiting(&self, batch: &Batch, board: &str) -> Result<Vec<Waiting>, StoreError> {
        let mut out: Vec<Waiting> = self
            .store
            .waiting_for(board)?
            .into_iter()
            .filter(|(id, _)| !batch.unwaited.contains(&(board.to_string(), id.clone())))
            .collect();
        for (b, id, record) in &batch.waits {
            if b == board
                && !batch.unwaited.contains(&(b.clone(), id.clone()))
                && !out.iter().any(|(o, _)| o == id)
            {
                out.push((id.clone(), record.clone()));
            }
        }
        Ok(out)
    }

    fn wait_for(&self, batch: &mut Batch, board: &str, id: &[u8], record: &[u8]) {
        batch.writes.put_cf(
            self.store.cf(schema::UNFILED),
            schema::pair_key(board.as_bytes(), id),
            record,
        );
        batch.unwaited.retain(|(b, i)| !(b == board && i == id));
        batch
            .waits
            .push((board.to_string(), id.to_vec(), record.to_vec()));
    }

    fn unwait(&self, batch: &mut Batch, board: &str, id: &[u8]) {
        batch.writes.delete_cf(
            self.store.cf(schema::UNFILED),
            schema::pair_key(board.as_bytes(), id),
        );
        batch.unwaited.push((board.to_string(), id.to_vec()));
    }

    /// Keeps what `record` teaches about `key`, merged with what was
    /// known (a revocation is never undone by a passport).
    fn learn(&self, batch: &mut Batch, key: [u8; 32], record: KeyRecord) -> Result<(), StoreError> {
        let known = match batch.learnt.iter().rev().find(|(k, _)| *k == key) {
            Some((_, known)) => Some(known.clone()),
            None => self.store.key_record(&key)?,
        };
        let record = match known {
            Some(known) => known.merged(record),
            None => record,
        };
        batch
            .writes
            .put_cf(self.store.cf(schema::KEYS), key, record.encode());
        batch.learnt.push((key, record));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc as std_mpsc;

    struct Fixture {
        committer: Option<Committer>,
        thread: Option<CommitThread>,
        published: std_mpsc::Receiver<Published>,
        store: Store,
        _dir: tempfile::TempDir,
    }

    impl Fixture {
        fn new(groups: &[&str]) -> Fixture {
            let dir = tempfile::tempdir().expect("tempdir");
            let store = Store::open(dir.path(), 8).expect("store");
            for group in groups {
                store
                    .put_group(group, &GroupRecord::new(0, String::new()))
                    .expect("group");
            }
            let (tx, published) = std_mpsc::channel();
            let publish: Publish = Box::new(move |p| {
                let _ = tx.send(p);
            });
            let (committer, thread) = Committer::start(
                store.clone(),
                publish,
                64,
                Clock::manual(1_000_000),
                1 << 20,
            )
            .expect("starts");
            Fixture {
                committer: Some(committer),
                thread: Some(thread),
                published,
                store,
                _dir: dir,
            }
        }

        fn committer(&self) -> &Committer {
            self.committer.as_ref().expect("running")
        }
    }

    impl Drop for Fixture {
        fn drop(&mut self) {
            drop(self.committer.take());
            if let Some(thread) = self.thread.take() {
                thread.join();
            }
        }
    }

    fn article(id: &str, groups: &[&str], outboxes: &[&str]) -> Prepared {
        Prepared {
            message_id: id.as_bytes().to_vec(),
            bytes: Bytes::from(format!("Message-ID: {id}\r\n\r\nbody\r\n")),
            groups: groups.iter().map(|g| g.to_string()).collect(),
            overview: b"s\tf\td\tid\t\t10\t1".to_vec(),
            effects: Vec::new(),
            disposition: Disposition::File,
            from: Waited::Nowhere,
            outboxes: outboxes.iter().map(|p| p.to_string()).collect(),
            thread: id.as_bytes().to_vec(),
            supersedes: None,
            signer: None,
            waits: Vec::new(),
        }
    }

    #[test]
    fn history_changes_are_named_as_readers_see_them() {
        use super::article_change as change;
        use HistoryEntry as H;
        let filed = |xref: &str| H::Accepted {
            micros: 1,
            xref: xref.into(),
        };
        let pending = H::Pending {
            micros: 1,
            key: "ab".into(),
        };
        let removed = H::Removed {
            micros: 1,
            reason: "cancelled".into(),
        };
        let refused = H::Refused {
            micros: 1,
            reason: "expired".into(),
        };
        let superseded = H::Superseded {
            micros: 1,
            by: "<2@x>".into(),
        };
        let kind = |before: Option<&H>, after: &H| change(before, after).map(|(k, _)| k);
        assert_eq!(kind(None, &filed("a:1")), Some(ChangeKind::Created));
        assert_eq!(
            kind(Some(&refused), &filed("a:1")),
            Some(ChangeKind::Created)
        );
        assert_eq!(
            kind(Some(&pending), &filed("a:1")),
            Some(ChangeKind::Released)
        );
        assert_eq!(
            kind(Some(&H::Held { micros: 1 }), &filed("a:1")),
            Some(ChangeKind::Approved)
        );
        assert_eq!(
            kind(Some(&filed("a:1")), &filed("b:4")),
            Some(ChangeKind::Moved)
        );
        assert_eq!(kind(Some(&filed("a:1")), &filed("a:1")), None);
        assert_eq!(
            kind(Some(&superseded), &filed("a:1")),
            Some(ChangeKind::Restored)
        );
        assert_eq!(
            change(Some(&filed("a:1")), &superseded),
            Some((ChangeKind::Edited, "<2@x>".to_string()))
        );
        assert_eq!(kind(Some(&superseded), &superseded), None);
        assert_eq!(
            kind(Some(&filed("a:1")), &removed),
            Some(ChangeKind::Removed)
        );
        assert_eq!(
            kind(None, &removed),
            None,
            "a cancel that came first shows nothing"
        );
        assert_eq!(
            kind(Some(&pending), &refused),
            Some(ChangeKind::Removed),
            "expired"
        );
        assert_eq!(kind(None, &refused), None);
        assert_eq!(kind(None, &pending), Some(ChangeKind::Pending));
        assert_eq!(kind(Some(&pending), &pending), None);
        assert_eq!(kind(None, &H::Held { micros: 1 }), Some(ChangeKind::Held));
    }

    #[tokio::test]
    async fn a_filed_article_goes_to_the_outboxes_ingest_chose_and_is_published() {
        let f = Fixture::new(&["g.one"]);
        let stored = f
            .committer()
            .store(article("<a@x>", &["g.one"], &["peer.b"]))
            .await
            .expect("stored");
        assert_eq!(
            stored,
            Stored::Accepted {
                numbers: vec![("g.one".into(), 1)]
            }
        );
        let outbox = f.store.outbox("peer.b", 0, 10).expect("outbox");
        assert_eq!(outbox.len(), 1);
        assert_eq!(outbox[0].message_id, b"<a@x>");
        assert!(f.store.outbox("peer.c", 0, 10).expect("outbox").is_empty());
        let published = f.published.recv().expect("published");
        assert_eq!(published.outboxes, vec!["peer.b".to_string()]);
        assert_eq!(published.groups.len(), 1);
        assert_eq!(published.groups[0].1.as_ref().map(|r| r.count), Some(1));
    }

    #[tokio::test]
    async fn board_controls_read_before_a_control_is_committed_are_read_again_after() {
        let f = Fixture::new(&[]);
        assert!(f.store.board_controls("chan.new").expect("read").is_empty());
        let control = |id: &str, date, change| {
            let mut newgroup = article(id, &[], &[]);
            newgroup.effects = vec![Effect::Board {
                name: "chan.new".into(),
                control: schema::BoardControl {
                    control: id.as_bytes().to_vec(),
                    date,
                    change,
                },
            }];
            newgroup
        };
        let new = schema::BoardChange::New {
            description: "new".into(),
            hidden: false,
        };
        f.committer()
            .store(control("<ng@x>", 10, new))
            .await
            .expect("stored");
        let controls = f.store.board_controls("chan.new").expect("read");
        assert_eq!(controls.len(), 1, "the newgroup is seen once committed");
        assert!(f
            .store
            .board_controls("chan.other")
            .expect("read")
            .is_empty());
        f.committer()
            .store(control("<rm@x>", 20, schema::BoardChange::Remove))
            .await
            .expect("stored");
        let controls = f.store.board_controls("chan.new").expect("read");
        assert_eq!(
            schema::BoardState::of(&controls).removed,
            Some(20),
            "the rmgroup is seen too: {controls:?}"
        );
    }

    #[tokio::test]
    async fn kept_cancels_and_refused_threads_are_read_once_committed_and_after_reopening() {
        let mut f = Fixture::new(&["g"]);
        let (target, root) = (b"<t@x>".to_vec(), b"<root@x>".to_vec());
        assert!(f.store.cancels_of(&target).expect("read").is_empty());
        assert_eq!(f.store.refused_thread(&root).expect("read"), None);
        let mut control = article("<c@x>", &["g"], &[]);
        control.effects = vec![
            Effect::RecordCancel {
                target: target.clone(),
                control: b"<c@x>".to_vec(),
                signer: [7; 32],
            },
            Effect::RefuseThread {
                root: root.clone(),
                reason: "spam".into(),
            },
        ];
        f.committer().store(control).await.expect("stored");
        let seen = |store: &Store| {
            (
                store.cancels_of(&target).expect("read"),
                store.refused_thread(&root).expect("read"),
                store.cancels_of(b"<other@x>").expect("read"),
                store.refused_thread(b"<other@x>").expect("read"),
            )
        };
        let expected = (
            vec![(b"<c@x>".to_vec(), [7; 32])],
            Some("spam".to_string()),
            Vec::new(),
            None,
        );
        assert_eq!(seen(&f.store), expected, "as committed");
        let dir = std::mem::replace(&mut f._dir, tempfile::tempdir().expect("tempdir"));
        drop(f);
        let reopened = Store::open(dir.path(), 8).expect("reopens");
        assert_eq!(seen(&reopened), expected, "as read from the files at open");
    }

    #[tokio::test]
    async fn a_local_control_message_is_synced_before_its_answer() {
        let f = Fixture::new(&["g.one"]);
        let before = f.committer().stats().synced_writes.load(Ordering::Relaxed);
        let mut local = article("<control@x>", &[], &[]);
        local.disposition = Disposition::Local;
        local.effects = vec![Effect::Remove {
            message_id: b"<gone@x>".to_vec(),
            reason: "removed by the operator".into(),
        }];
        let stored = f.committer().store(local).await.expect("applied");
        assert_eq!(stored, Stored::Applied);
        assert_eq!(
            f.committer().stats().synced_writes.load(Ordering::Relaxed),
            before + 1,
            "a batch holding only a local control message is a synced write"
        );
        assert!(matches!(
            f.store.history(b"<gone@x>").expect("history"),
            Some(HistoryEntry::Removed { .. })
        ));
    }

    #[tokio::test]
    async fn removing_the_lowest_article_moves_low_past_every_removed_number() {
        let f = Fixture::new(&["g.one"]);
        for i in 0..5 {
            f.committer()
                .store(article(&format!("<{i}@x>"), &["g.one"], &[]))
                .await
                .expect("stored");
        }
        let mut cancel = article("<cancel@x>", &[], &[]);
        cancel.disposition = Disposition::Local;
        cancel.effects = ["<0@x>", "<1@x>", "<3@x>"]
            .iter()
            .map(|id| Effect::Remove {
                message_id: id.as_bytes().to_vec(),
                reason: "cancelled".into(),
            })
            .collect();
        f.committer().store(cancel).await.expect("applied");
        let record = f
            .store
            .groups()
            .expect("groups")
            .into_iter()
            .find(|(n, _)| n == "g.one")
            .expect("g.one")
            .1;
        assert_eq!((record.low, record.high, record.count), (3, 5, 2));
    }
}

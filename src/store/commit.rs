//! Group commit: one thread owns every article write. Sessions hand it
//! prepared articles; it drains whatever is queued (up to a batch limit),
//! assigns article numbers, writes one RocksDB batch with a synced WAL, and
//! only then answers each session. Many connections share each fsync, and
//! because one thread decides, two copies of an article arriving at once
//! cannot both be stored.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

use bytes::Bytes;
use rocksdb::{WriteBatch, WriteOptions};
use tokio::sync::{mpsc, oneshot};

use super::members;
use super::schema::{self, GroupRecord, HistoryEntry, KeyRecord};
use super::{Store, StoreError};
use crate::feed::Feeds;
use crate::groups::Groups;
use crate::trust::Trust;

/// An article that passed every check, ready to be filed.
#[derive(Debug, Clone)]
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
    /// It comes out of `pending`: its own Pending history entry is expected.
    pub released: bool,
    /// Its Path (after our identity was prepended) and every group its
    /// Newsgroups header names, for choosing the peers to forward it to.
    pub path: Vec<u8>,
    pub newsgroups: Vec<String>,
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
    Revoke {
        key: [u8; 32],
        by: [u8; 32],
    },
    Rotate {
        old: [u8; 32],
        new: [u8; 32],
    },
    NewGroup {
        name: String,
        description: String,
        hidden: bool,
    },
    ModGroup {
        name: String,
        description: Option<String>,
        hidden: Option<bool>,
    },
    RmGroup {
        name: String,
    },
    Move {
        message_id: Vec<u8>,
        to: String,
    },
    /// File a post held for premoderation.
    Approve {
        message_id: Vec<u8>,
    },
}

/// The `pending` key under which premoderated posts wait: no ed25519 key
/// is all 0xFF, so it cannot collide with a signer's.
pub const HELD: [u8; 32] = [0xFF; 32];

/// How held posts are marked in history (instead of a signer's key hex).
const HELD_MARK: &str = "held";

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
    Reject {
        message_id: Vec<u8>,
        entry: HistoryEntry,
        done: oneshot::Sender<()>,
    },
    /// Drop a pending article whose passport never came.
    Expire { key: [u8; 32], message_id: Vec<u8> },
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
    /// dropped and the queue is empty.
    /// `released` receives every key a committed passport made known, so
    /// the articles waiting for it can be decided again.
    pub fn start(
        store: Store,
        groups: Arc<Groups>,
        trust: Arc<Trust>,
        feeds: Arc<Feeds>,
        released: mpsc::UnboundedSender<[u8; 32]>,
        batch_limit: usize,
    ) -> Result<(Committer, CommitThread), StoreError> {
        let (tx, rx) = mpsc::unbounded_channel();
        let records: HashMap<String, GroupRecord> = groups.all().into_iter().collect();
        let stats = Arc::new(CommitStats::default());
        let mut outbox_seq = HashMap::new();
        for peer in &feeds.peers {
            outbox_seq.insert(peer.name.clone(), store.outbox_last(&peer.name)?);
        }
        let mut writer = Writer {
            store,
            groups,
            records,
            batch_limit,
            last_micros: 0,
            stats: stats.clone(),
            trust,
            released,
            feeds,
            outbox_seq,
        };
        let handle = std::thread::Builder::new()
            .name("commit".into())
            .spawn(move || writer.run(rx))
            .map_err(StoreError::Thread)?;
        Ok((Committer { tx, stats }, CommitThread(handle)))
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
        let micros = now_micros();
        let entry = if blocks {
            HistoryEntry::Rejected { micros, reason }
        } else {
            HistoryEntry::Refused { micros, reason }
        };
        // The queue only closes at shutdown, when this is moot.
        if self
            .tx
            .send(Job::Reject {
                message_id,
                entry,
                done,
            })
            .is_ok()
        {
            let _ = written.await;
        }
    }

    /// Drops a pending article whose passport never came.
    pub fn expire(&self, key: [u8; 32], message_id: Vec<u8>) {
        let _ = self.tx.send(Job::Expire { key, message_id });
    }
}

struct Writer {
    store: Store,
    groups: Arc<Groups>,
    /// The authoritative counters; `groups` gets copies after each write.
    records: HashMap<String, GroupRecord>,
    batch_limit: usize,
    last_micros: u64,
    stats: Arc<CommitStats>,
    trust: Arc<Trust>,
    released: mpsc::UnboundedSender<[u8; 32]>,
    feeds: Arc<Feeds>,
    /// The last outbox sequence number used per peer.
    outbox_seq: HashMap<String, u64>,
}

pub fn now_micros() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}

/// One commit's writes, and what to publish or undo after it.
struct Batch {
    writes: WriteBatch,
    /// History as this batch leaves it, read before the database.
    history: HashMap<Vec<u8>, HistoryEntry>,
    /// Group records as they were before the batch (None: did not exist).
    before: HashMap<String, Option<GroupRecord>>,
    /// Overview entries as this batch leaves them (None: deleted), read
    /// before the database.
    overview: HashMap<(String, u64), Option<Vec<u8>>>,
    learnt: Vec<([u8; 32], KeyRecord)>,
    /// Peers whose outbox got entries.
    fed: Vec<String>,
    /// Reconciliation set changes, digests added up until the write.
    sets: members::Changes,
    synced_articles: u64,
    micros: u64,
}

impl Writer {
    fn run(&mut self, mut rx: mpsc::UnboundedReceiver<Job>) {
        let mut jobs = Vec::with_capacity(self.batch_limit);
        while let Some(job) = rx.blocking_recv() {
            jobs.push(job);
            while jobs.len() < self.batch_limit {
                match rx.try_recv() {
                    Ok(job) => jobs.push(job),
                    Err(_) => break,
                }
            }
            self.commit(&mut jobs);
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
        self.last_micros = now_micros().max(self.last_micros);
        self.last_micros
    }

    fn commit(&mut self, jobs: &mut Vec<Job>) {
        let mut batch = Batch {
            writes: WriteBatch::default(),
            history: HashMap::new(),
            before: HashMap::new(),
            overview: HashMap::new(),
            learnt: Vec::new(),
            fed: Vec::new(),
            sets: members::Changes::default(),
            synced_articles: 0,
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
        let mut opts = WriteOptions::default();
        opts.set_sync(batch.synced_articles > 0 || !batch.learnt.is_empty());
        let written = self
            .store
            .db()
            .write_opt(std::mem::take(&mut batch.writes), &opts)
            .map_err(|e| Arc::new(StoreError::from(e)));
        match &written {
            Ok(()) => self.publish(&batch),
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
                Job::Expire { .. } => {}
            }
        }
    }

    /// Makes a durable batch visible: counters, boards, keys.
    fn publish(&self, batch: &Batch) {
        if batch.synced_articles > 0 {
            self.stats.synced_writes.fetch_add(1, Ordering::Relaxed);
            self.stats
                .articles
                .fetch_add(batch.synced_articles, Ordering::Relaxed);
        }
        for name in batch.before.keys() {
            match self.records.get(name) {
                Some(record) => self.groups.publish(name, record.clone()),
                None => self.groups.remove(name),
            }
        }
        for peer in &batch.fed {
            self.feeds.wake(peer);
        }
        for (key, record) in &batch.learnt {
            self.trust.learn(*key, record.clone());
            if let KeyRecord::Passport { .. } = record {
                // The release task may be gone at shutdown; pending
                // articles are released again at the next start.
                let _ = self.released.send(*key);
            }
        }
    }

    fn history(&self, batch: &Batch, id: &[u8]) -> Result<Option<HistoryEntry>, StoreError> {
        if let Some(entry) = batch.history.get(id) {
            return Ok(Some(entry.clone()));
        }
        self.store.history(id)
    }

    fn set_history(&self, batch: &mut Batch, id: &[u8], entry: HistoryEntry) {
        batch
            .writes
            .put_cf(self.store.cf(schema::HISTORY), id, entry.encode());
        batch.history.insert(id.to_vec(), entry);
    }

    fn apply(&mut self, batch: &mut Batch, job: &Job) -> Result<Stored, StoreError> {
        match job {
            Job::Reject {
                message_id, entry, ..
            } => {
                if self.history(batch, message_id)?.is_none() {
                    self.set_history(batch, message_id, entry.clone());
                }
                Ok(Stored::Duplicate)
            }
            Job::Expire { key, message_id } => {
                if let Some(HistoryEntry::Pending { .. }) = self.history(batch, message_id)? {
                    batch.writes.delete_cf(
                        self.store.cf(schema::PENDING),
                        schema::pending_key(key, message_id),
                    );
                    let reason = "its signer's passport never arrived".to_string();
                    self.set_history(
                        batch,
                        message_id,
                        HistoryEntry::Refused {
                            micros: batch.micros,
                            reason,
                        },
                    );
                }
                Ok(Stored::Duplicate)
            }
            Job::Store(article, _) => self.store_article(batch, article),
        }
    }

    fn store_article(
        &mut self,
        batch: &mut Batch,
        article: &Prepared,
    ) -> Result<Stored, StoreError> {
        let id = &article.message_id;
        match self.history(batch, id)? {
            Some(HistoryEntry::Pending { .. }) if article.released => {}
            Some(entry) if entry.blocks() => return Ok(Stored::Duplicate),
            _ => {}
        }
        if let (true, Some(key)) = (article.released, crate::proto::signing::message_id_key(id)) {
            batch.writes.delete_cf(
                self.store.cf(schema::PENDING),
                schema::pending_key(&key.to_bytes(), id),
            );
        }
        let outcome = match &article.disposition {
            Disposition::Pending { key } => {
                let mut value = batch.micros.to_be_bytes().to_vec();
                value.extend_from_slice(&article.bytes);
                batch.writes.put_cf(
                    self.store.cf(schema::PENDING),
                    schema::pending_key(key, id),
                    value,
                );
                let entry = HistoryEntry::Pending {
                    micros: batch.micros,
                    key: hex::encode(key),
                };
                self.set_history(batch, id, entry);
                Stored::Pending
            }
            Disposition::Held => {
                let mut value = batch.micros.to_be_bytes().to_vec();
                value.extend_from_slice(&article.bytes);
                batch.writes.put_cf(
                    self.store.cf(schema::PENDING),
                    schema::pending_key(&HELD, id),
                    value,
                );
                let entry = HistoryEntry::Pending {
                    micros: batch.micros,
                    key: HELD_MARK.into(),
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
        for effect in &article.effects {
            self.effect(batch, effect)?;
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
        for group in &article.groups {
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
        let feeds = self.feeds.clone();
        for peer in feeds.wanting(&article.path, &article.newsgroups) {
            let seq = self.outbox_seq.entry(peer.name.clone()).or_insert(0);
            *seq += 1;
            batch.writes.put_cf(
                self.store.cf(schema::OUTBOX),
                schema::outbox_key(&peer.name, *seq),
                schema::outbox_value(micros, &article.message_id),
            );
            if !batch.fed.contains(&peer.name) {
                batch.fed.push(peer.name.clone());
            }
        }
        numbers
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

    fn overview_of(
        &self,
        batch: &Batch,
        group: &str,
        number: u64,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        match batch.overview.get(&(group.to_string(), number)) {
            Some(entry) => Ok(entry.clone()),
            None => self.store.overview(group, number),
        }
    }

    /// The lowest article number in `group` above `after`, as this batch
    /// leaves the group.
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
        let on_disk = self
            .store
            .numbers(group, after + 1, high)?
            .into_iter()
            .find(|n| !matches!(batch.overview.get(&(group.to_string(), *n)), Some(None)));
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
                match self.history(batch, message_id)? {
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
                        let signer = if key == HELD_MARK {
                            Some(HELD)
                        } else {
                            hex::decode(&key)
                                .ok()
                                .and_then(|k| <[u8; 32]>::try_from(k).ok())
                        };
                        if let Some(key) = signer {
                            let pending = schema::pending_key(&key, message_id);
                            batch
                                .writes
                                .delete_cf(self.store.cf(schema::PENDING), pending);
                        }
                    }
                    // Not here yet, or refused: either way it is refused if
                    // it ever arrives.
                    _ => {}
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
            ),
            Effect::Revoke { key, by } => {
                self.learn(batch, *key, KeyRecord::Revoked { by: *by, micros })
            }
            Effect::Rotate { old, new } => {
                self.learn(batch, *new, KeyRecord::Rotated { old: *old, micros })
            }
            Effect::NewGroup {
                name,
                description,
                hidden,
            } => {
                if !self.records.contains_key(name) {
                    batch.before.entry(name.clone()).or_insert(None);
                    let mut record =
                        GroupRecord::new((micros / 1_000_000) as i64, description.clone());
                    record.hidden = *hidden;
                    self.records.insert(name.clone(), record);
                    tracing::info!(group = %name, "newsgroup created by control message");
                }
            }
            Effect::ModGroup {
                name,
                description,
                hidden,
            } => {
                if let Some(record) = self.records.get_mut(name) {
                    batch
                        .before
                        .entry(name.clone())
                        .or_insert_with(|| Some(record.clone()));
                    if let Some(description) = description {
                        record.description = description.clone();
                    }
                    if let Some(hidden) = hidden {
                        record.hidden = *hidden;
                    }
                }
            }
            Effect::RmGroup { name } => {
                if let Some(record) = self.records.remove(name) {
                    batch.before.entry(name.clone()).or_insert(Some(record));
                    let start = schema::overview_key(name, 0);
                    let end = schema::overview_key(name, u64::MAX);
                    let cf = self.store.cf(schema::OVERVIEW);
                    batch.writes.delete_range_cf(cf, &start, &end);
                    batch.writes.delete_cf(cf, &end);
                    batch.sets.clear(&self.store, &mut batch.writes, name);
                    tracing::info!(group = %name, "newsgroup removed");
                }
            }
            Effect::Approve { message_id } => self.approve(batch, message_id)?,
            Effect::Move { message_id, to } => {
                let Some(entry @ HistoryEntry::Accepted { .. }) =
                    self.history(batch, message_id)?
                else {
                    return Ok(());
                };
                if !self.records.contains_key(to) {
                    return Ok(());
                }
                let numbers: Vec<(String, u64)> = entry
                    .numbers()
                    .iter()
                    .map(|(g, n)| (g.to_string(), *n))
                    .collect();
                let Some((first_group, first_number)) = numbers.first().cloned() else {
                    return Ok(());
                };
                let overview = self
                    .overview_of(batch, &first_group, first_number)?
                    .unwrap_or_default();
                for (group, number) in &numbers {
                    self.unfile(batch, group, *number, message_id)?;
                }
                let mut xref = String::new();
                if let Some(number) = self.number(batch, to) {
                    self.put_overview(batch, to, number, overview);
                    batch
                        .sets
                        .add(&self.store, &mut batch.writes, to, message_id);
                    xref = format!("{to}:{number}");
                }
                let arrived = match entry {
                    HistoryEntry::Accepted { micros, .. } => micros,
                    _ => micros,
                };
                batch.writes.put_cf(
                    self.store.cf(schema::ARRIVAL),
                    schema::arrival_key(arrived, message_id),
                    to.as_bytes(),
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

    /// Files a held post as ingest would have, had it not been held.
    fn approve(&mut self, batch: &mut Batch, id: &[u8]) -> Result<(), StoreError> {
        if !matches!(self.history(batch, id)?, Some(HistoryEntry::Pending { key, .. }) if key == HELD_MARK)
        {
            return Ok(());
        }
        let pending_key = schema::pending_key(&HELD, id);
        let Some(value) = self
            .store
            .db()
            .get_cf(self.store.cf(schema::PENDING), &pending_key)?
        else {
            return Ok(());
        };
        let bytes = Bytes::copy_from_slice(value.get(8..).unwrap_or_default());
        let Ok(article) = crate::proto::article::Article::parse(bytes.clone()) else {
            return Ok(());
        };
        let newsgroups: Vec<String> = article
            .newsgroups()
            .iter()
            .map(|g| String::from_utf8_lossy(g).into_owned())
            .collect();
        let prepared = Prepared {
            message_id: id.to_vec(),
            groups: newsgroups
                .iter()
                .filter(|g| self.records.contains_key(*g))
                .cloned()
                .collect(),
            overview: crate::ingest::overview_record(&article),
            path: article.header_unfolded("Path").unwrap_or_default(),
            newsgroups,
            bytes,
            effects: Vec::new(),
            disposition: Disposition::File,
            released: true,
        };
        batch
            .writes
            .delete_cf(self.store.cf(schema::PENDING), pending_key);
        self.file(batch, &prepared);
        batch.synced_articles += 1;
        tracing::info!(message_id = %String::from_utf8_lossy(id), "held post approved");
        Ok(())
    }

    fn learn(&self, batch: &mut Batch, key: [u8; 32], record: KeyRecord) {
        batch
            .writes
            .put_cf(self.store.cf(schema::KEYS), key, record.encode());
        batch.learnt.push((key, record));
    }
}

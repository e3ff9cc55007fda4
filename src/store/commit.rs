//! Group commit: one thread owns every article write. Sessions hand it
//! prepared articles; it drains whatever is queued (up to a batch limit),
//! assigns article numbers, writes one RocksDB batch with a synced WAL, and
//! only then answers each session. Many connections share each fsync, and
//! because one thread decides, two copies of an article arriving at once
//! cannot both be stored.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

use bytes::Bytes;
use rocksdb::{WriteBatch, WriteOptions};
use tokio::sync::{mpsc, oneshot};

use super::schema::{self, GroupRecord, HistoryEntry};
use super::{Store, StoreError};
use crate::groups::Groups;

/// An article that passed every check, ready to be filed.
#[derive(Debug, Clone)]
pub struct Prepared {
    pub message_id: Vec<u8>,
    /// The article as stored and served, CRLF lines.
    pub bytes: Bytes,
    /// Groups (all carried here) to file it in, in Newsgroups order.
    pub groups: Vec<String>,
    /// Overview fields after the number: subject, from, date, message-id,
    /// references, bytes, lines, TAB-separated (RFC 3977 §8.3).
    pub overview: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stored {
    /// Durable, with its number in each group.
    Accepted { numbers: Vec<(String, u64)> },
    /// History already knows this Message-ID (stored, rejected or removed).
    Duplicate,
}

enum Job {
    Store(Prepared, oneshot::Sender<Result<Stored, Arc<StoreError>>>),
    Reject {
        message_id: Vec<u8>,
        reason: String,
        done: oneshot::Sender<()>,
    },
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
    pub fn start(
        store: Store,
        groups: Arc<Groups>,
        batch_limit: usize,
    ) -> std::io::Result<(Committer, CommitThread)> {
        let (tx, rx) = mpsc::unbounded_channel();
        let records: HashMap<String, GroupRecord> = groups.all().into_iter().collect();
        let stats = Arc::new(CommitStats::default());
        let mut writer = Writer {
            store,
            groups,
            records,
            batch_limit,
            last_micros: 0,
            stats: stats.clone(),
        };
        let handle = std::thread::Builder::new()
            .name("commit".into())
            .spawn(move || writer.run(rx))?;
        Ok((Committer { tx, stats }, CommitThread(handle)))
    }

    pub fn stats(&self) -> Arc<CommitStats> {
        self.stats.clone()
    }

    /// Files the article; resolves once it is durable (or known already).
    pub async fn store(&self, article: Prepared) -> Result<Stored, Arc<StoreError>> {
        let (reply, answer) = oneshot::channel();
        self.tx
            .send(Job::Store(article, reply))
            .map_err(|_| Arc::new(StoreError::CommitterGone))?;
        answer
            .await
            .map_err(|_| Arc::new(StoreError::CommitterGone))?
    }

    /// Remembers a rejected Message-ID in history, so the same article is
    /// refused at once next time; resolves once it is written, so the
    /// refusal is only answered when a new offer would see it. Not synced:
    /// losing it in a crash only means the article is checked again.
    pub async fn remember_rejection(&self, message_id: Vec<u8>, reason: String) {
        let (done, written) = oneshot::channel();
        // The queue only closes at shutdown, when this is moot.
        if self
            .tx
            .send(Job::Reject {
                message_id,
                reason,
                done,
            })
            .is_ok()
        {
            let _ = written.await;
        }
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

    fn now_micros(&mut self) -> u64 {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_micros() as u64);
        // Arrival times never go backwards, even if the clock does, so the
        // arrival log stays in arrival order.
        self.last_micros = now.max(self.last_micros);
        self.last_micros
    }

    fn commit(&mut self, jobs: &mut Vec<Job>) {
        let store = self.store.clone();
        let db = store.db();
        let history = store.cf(schema::HISTORY);
        let mut batch = WriteBatch::default();
        let mut in_batch: HashSet<Vec<u8>> = HashSet::new();
        let mut before: HashMap<String, GroupRecord> = HashMap::new();
        let mut outcomes: Vec<Result<Stored, Arc<StoreError>>> = Vec::with_capacity(jobs.len());
        let mut stored = 0u64;
        let micros = self.now_micros();

        for job in jobs.iter() {
            let known = |id: &[u8], in_batch: &HashSet<Vec<u8>>| -> Result<bool, rocksdb::Error> {
                Ok(in_batch.contains(id) || db.get_pinned_cf(history, id)?.is_some())
            };
            match job {
                Job::Reject {
                    message_id, reason, ..
                } => {
                    if let Ok(false) = known(message_id, &in_batch) {
                        let entry = HistoryEntry::Rejected {
                            micros,
                            reason: reason.clone(),
                        };
                        batch.put_cf(history, message_id, entry.encode());
                        in_batch.insert(message_id.clone());
                    }
                    outcomes.push(Ok(Stored::Duplicate));
                }
                Job::Store(article, _) => match known(&article.message_id, &in_batch) {
                    Err(e) => outcomes.push(Err(Arc::new(e.into()))),
                    Ok(true) => outcomes.push(Ok(Stored::Duplicate)),
                    Ok(false) => {
                        let numbers = self.file(&mut batch, &mut before, article, micros);
                        in_batch.insert(article.message_id.clone());
                        stored += 1;
                        outcomes.push(Ok(Stored::Accepted { numbers }));
                    }
                },
            }
        }
        for name in before.keys() {
            if let Some(record) = self.records.get(name) {
                batch.put_cf(
                    self.store.cf(schema::GROUPS),
                    name.as_bytes(),
                    record.encode(),
                );
            }
        }

        let mut opts = WriteOptions::default();
        opts.set_sync(stored > 0);
        let written = db
            .write_opt(batch, &opts)
            .map_err(|e| Arc::new(StoreError::from(e)));
        match &written {
            Ok(()) => {
                if stored > 0 {
                    self.stats.synced_writes.fetch_add(1, Ordering::Relaxed);
                    self.stats.articles.fetch_add(stored, Ordering::Relaxed);
                }
                for name in before.keys() {
                    if let Some(record) = self.records.get(name) {
                        self.groups.publish(name, record.clone());
                    }
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "group commit failed; articles in it are not acknowledged");
                // Numbers handed out in the failed batch were never stored;
                // roll back so the next batch reuses them.
                self.records.extend(before);
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
            }
        }
    }

    /// Adds one article to the batch and returns its numbers.
    fn file(
        &mut self,
        batch: &mut WriteBatch,
        before: &mut HashMap<String, GroupRecord>,
        article: &Prepared,
        micros: u64,
    ) -> Vec<(String, u64)> {
        let mut numbers = Vec::with_capacity(article.groups.len());
        for group in &article.groups {
            let Some(record) = self.records.get_mut(group) else {
                continue;
            };
            before
                .entry(group.clone())
                .or_insert_with(|| record.clone());
            record.high += 1;
            record.count += 1;
            if record.count == 1 {
                record.low = record.high;
            }
            batch.put_cf(
                self.store.cf(schema::OVERVIEW),
                schema::overview_key(group, record.high),
                &article.overview,
            );
            numbers.push((group.clone(), record.high));
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
        batch.put_cf(
            self.store.cf(schema::ARTICLES),
            &article.message_id,
            &article.bytes,
        );
        batch.put_cf(
            self.store.cf(schema::HISTORY),
            &article.message_id,
            HistoryEntry::Accepted { micros, xref }.encode(),
        );
        batch.put_cf(
            self.store.cf(schema::ARRIVAL),
            schema::arrival_key(micros, &article.message_id),
            filed_in,
        );
        numbers
    }
}

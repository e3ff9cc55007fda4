//! One catch-up run over one connection: reconcile each group, fetch what
//! is missing here, send what is missing there.

use std::collections::{HashSet, VecDeque};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use chrono::DateTime;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracing::{debug, info, warn};

use super::{Progress, SyncError, CAPABILITY, LOG_EVERY};
use crate::client::{self, BlockLimit, Client, ClientError, Command, Connected};
use crate::feed::{identity, takethis, FeedPeer, MAX_BATCH_BYTES};
use crate::ingest::Source;
use crate::node::{Ingested, Node};
use crate::peers::Right;
use crate::precommit::{Claim, Claimant};
use crate::proto::grammar::is_message_id;
use crate::proto::reconcile::{self, Members, ReconcileError, Role};
use crate::proto::reconcile::{Entry, MAX_BLOCK, MAX_ENTRIES};
use crate::proto::Code;
use crate::store::commit::Stored;
use crate::store::members::GroupSet;

/// Entries sent in one XRECONCILE block.
const PER_ROUND: usize = 256;
/// Articles asked for (ARTICLE) or offered (XIHAVE) in one pipelined batch.
const BATCH: usize = 256;
/// Articles found missing that are asked for at once: several batches, so
/// the link is kept busy while the next XRECONCILE round waits.
const FETCH_AT: usize = 4 * BATCH;
/// Fetched articles being filed at once, across batches and groups. Filing
/// waited for at the end of each batch of 256 made the commit thread write
/// 147 articles a sync on average; left running, about 370, and a 300k
/// catch-up took 20-22 s instead of 25-27 s. 4096 was no faster and took
/// 10-15 MiB more.
const FILING: usize = 1024;
/// Rounds of asking for earlier versions of edits in one run: the links of
/// an edit chain followed (settle.rs follows at most 64 as well).
const MAX_EDIT_ROUNDS: usize = 64;

const _: () = assert!(PER_ROUND <= MAX_ENTRIES);

/// The most an answer to one XRECONCILE block may hold: each entry we send
/// is answered by at most 16 (an `S` by one for each sub-range, sync.md
/// §3.5), and no entry comes near 4 KiB (an `H` line of IDS_PER_LINE ids
/// stays near 2 KiB).
const ANSWER_LIMIT: BlockLimit = BlockLimit {
    lines: 16 * PER_ROUND,
    bytes: 16 * PER_ROUND * 4096,
};

/// The most Message-IDs one NEWNEWS list from a plain NNTP peer may hold;
/// a group with more is skipped (and logged), the run goes on.
const NEWNEWS_LIMIT: BlockLimit = BlockLimit {
    lines: 1 << 20,
    bytes: 64 << 20,
};

/// A run's state: the link, what it found, and when it last said so.
struct Run<'a> {
    node: &'a Arc<Node>,
    peer: &'a FeedPeer,
    link: Client,
    progress: Progress,
    report: &'a watch::Sender<Progress>,
    started: Instant,
    logged: Instant,
    /// Whether the peer lets us send (XIHAVE gave 480 otherwise).
    may_send: bool,
    /// This run's share of the pre-commit table.
    claimant: Claimant,
    /// Fetched articles being filed, oldest first; all are waited for
    /// before the run ends, whatever else failed.
    filing: VecDeque<JoinHandle<Result<bool, SyncError>>>,
}

pub(super) async fn run(
    node: &Arc<Node>,
    peer: &FeedPeer,
    report: &watch::Sender<Progress>,
    started: Instant,
) -> Result<Progress, SyncError> {
    let (remote, us) = (peer.remote(), identity(node));
    let Connected {
        client: mut link,
        capabilities,
        ..
    } = client::connect(&remote, &us).await?;
    let pull = node.peers().accepts(&peer.name, Right::Articles);
    let reconciles = capabilities.has(CAPABILITY);
    if !reconciles {
        // A plain NNTP peer: read what it has as a newsreader would.
        let _ = link.quit().await;
        if !pull {
            return Err(SyncError::Unsupported);
        }
        let reader = client::connect_reader(&remote, &us).await?;
        if !reader.capabilities.has("NEWNEWS") {
            return Err(SyncError::Unsupported);
        }
        link = reader.client;
    }
    let groups: Vec<String> = node
        .groups
        .all()
        .into_iter()
        .map(|(name, _)| name)
        .filter(|name| pull || node.peers().sends(&peer.name, name))
        // Reconciling a board tells the peer its Message-IDs: never one
        // it may not read (protocol-spec/access.md §4).
        .filter(|name| peer.reads.reads(name.as_bytes()))
        .collect();
    let mut run = Run {
        node,
        peer,
        link,
        progress: Progress {
            groups: groups.len(),
            ..Progress::default()
        },
        report,
        started,
        logged: started,
        may_send: true,
        claimant: node.precommit.claimant(),
        filing: VecDeque::new(),
    };
    run.tell();
    let outcome = run.groups(&groups, reconciles, pull).await;
    run.filed_after(outcome).await?;
    if reconciles && pull {
        let outcome = run.versions().await;
        run.filed_after(outcome).await?;
    }
    let _ = run.link.quit().await;
    run.tell();
    Ok(run.progress)
}

impl Run<'_> {
    async fn groups(
        &mut self,
        groups: &[String],
        reconciles: bool,
        pull: bool,
    ) -> Result<(), SyncError> {
        for group in groups {
            if reconciles {
                let push = self.node.peers().sends(&self.peer.name, group);
                self.group(group, pull, push).await?;
            } else {
                self.newnews(group).await?;
            }
            self.progress.groups_done += 1;
            self.tell();
        }
        Ok(())
    }

    /// Publishes the progress, and logs it now and then.
    fn tell(&mut self) {
        self.progress.bytes_in = self.link.received();
        self.progress.bytes_out = self.link.sent();
        self.progress.seconds = self.started.elapsed().as_secs_f64();
        self.report.send_replace(self.progress.clone());
        if self.logged.elapsed() >= LOG_EVERY {
            self.logged = Instant::now();
            info!(peer = %self.peer.name, progress = %self.progress.to_line(), "catch-up running");
        }
    }

    async fn group(&mut self, group: &str, pull: bool, push: bool) -> Result<(), SyncError> {
        let set = GroupSet {
            store: &self.node.store,
            group,
        };
        self.progress.compared += set.digest(&crate::proto::reconcile::Prefix::ROOT)?.count;
        let mut stack = vec![reconcile::open(&set)?];
        let (mut need, mut have) = (Vec::new(), Vec::new());
        while !stack.is_empty() {
            let block = stack.split_off(stack.len().saturating_sub(PER_ROUND));
            let Some(answer) = self.reconcile(group, &block).await? else {
                debug!(peer = %self.peer.name, %group, "peer does not share this group");
                return Ok(());
            };
            let step = reconcile::respond(&set, Role::Client, &answer).map_err(|e| match e {
                ReconcileError::Store(e) => SyncError::Store(e),
                ReconcileError::Protocol(why) => SyncError::Protocol(why),
            })?;
            stack.extend(step.reply);
            if pull {
                need.extend(step.need);
            }
            if push && self.may_send {
                have.extend(step.have);
            }
            if need.len() >= FETCH_AT {
                self.fetch(std::mem::take(&mut need)).await?;
            }
            if have.len() >= BATCH {
                self.offer(std::mem::take(&mut have)).await?;
            }
            self.tell();
        }
        self.fetch(need).await?;
        self.offer(have).await?;
        Ok(())
    }

    /// The earlier versions of edits stored here that this node lacks (sync.md
    /// §1 step 6): in no group's set, so reconciliation cannot bring them,
    /// yet state digests count them. Asked for by Message-ID, each once a
    /// run; a chain of edits comes one link a round.
    async fn versions(&mut self) -> Result<(), SyncError> {
        let mut asked = HashSet::new();
        for _ in 0..MAX_EDIT_ROUNDS {
            let missing: Vec<Vec<u8>> = self
                .node
                .store
                .missing_versions()?
                .into_iter()
                .filter(|id| asked.insert(id.clone()))
                .collect();
            if missing.is_empty() {
                break;
            }
            self.fetch(missing).await?;
            // The next round asks the store what is still missing.
            self.filed_all().await?;
        }
        Ok(())
    }

    /// Catch-up from a peer without X-TIDINGS-SYNC (INN): every id it lists
    /// for the group with NEWNEWS since the epoch (RFC 3977 §7.4), fetched
    /// when missing here. Its traffic grows with the peer's store, not the
    /// difference; our own articles reach such a peer through its outbox.
    async fn newnews(&mut self, group: &str) -> Result<(), SyncError> {
        let set = GroupSet {
            store: &self.node.store,
            group,
        };
        self.progress.compared += set.digest(&crate::proto::reconcile::Prefix::ROOT)?.count;
        let command = Command::Newnews {
            wildmat: group,
            since: DateTime::UNIX_EPOCH,
        };
        self.link.command(&command).await?;
        let response = self.link.response().await?;
        if response.code != Code::NEWNEWS_FOLLOWS {
            return Err(SyncError::Protocol(format!("NEWNEWS: {response}")));
        }
        let Some(listed) = self.link.block(NEWNEWS_LIMIT).await? else {
            let limit = NEWNEWS_LIMIT.lines;
            warn!(peer = %self.peer.name, %group, limit, "NEWNEWS listed more message-ids than we take; group skipped");
            return Ok(());
        };
        let listed: Vec<Vec<u8>> = listed.into_iter().filter(|id| is_message_id(id)).collect();
        for batch in listed.chunks(BATCH * 4) {
            self.fetch(batch.to_vec()).await?;
        }
        Ok(())
    }

    /// One XRECONCILE round; None when the peer does not share the group.
    async fn reconcile(
        &mut self,
        group: &str,
        block: &[Entry],
    ) -> Result<Option<Vec<Entry>>, SyncError> {
        let command = Command::Xreconcile {
            group,
            entries: block,
        };
        self.link.command(&command).await?;
        let response = self.link.response().await?;
        match response.code {
            Code::RECONCILE_FOLLOWS => {}
            Code::NO_SUCH_GROUP | Code::NOT_PERMITTED => return Ok(None),
            _ => return Err(SyncError::Protocol(format!("XRECONCILE: {response}"))),
        }
        let Some(lines) = self.link.block(ANSWER_LIMIT).await? else {
            return Err(ClientError::BlockTooLarge(command.name()).into());
        };
        let mut entries = Vec::new();
        for line in lines {
            entries.push(Entry::parse(&line).map_err(SyncError::Protocol)?);
        }
        Ok(Some(entries))
    }

    /// Fetches the articles we lack, a pipelined batch at a time, and files
    /// them as if the peer had sent them. Filing runs alongside the reading
    /// and is left running when this returns ([`Run::filed_all`] waits).
    async fn fetch(&mut self, ids: Vec<Vec<u8>>) -> Result<(), SyncError> {
        let mut wanted = Vec::new();
        for id in ids {
            // What history refuses offers of (stored, refused for good,
            // removed, pending) is never fetched again; a copy refused only
            // for the record (unverified) does not stop the genuine one.
            if self.node.store.history(&id)?.is_some_and(|e| e.blocks()) {
                continue;
            }
            // Claimed like an article being received, so a peer's CHECK
            // meanwhile is told to wait (431) instead of sending it too;
            // one being received from a peer right now is left to it. A
            // crosspost listed again in a later group is claimed or in
            // history by then, so a run keeps no list of its own.
            if let Ok(claim) = self.claimant.claim(&id) {
                wanted.push((id, claim));
            }
        }
        self.progress.missing += wanted.len() as u64;
        // Asked for in Message-ID order: reconciliation lists them by hash,
        // and the commit thread inserts keys in order into its memtables
        // for less than keys at random (a 300k catch-up: 20-22 s against
        // 22-23.5 s, the memtable inserts' share of samples 4.9 % against
        // 7.7 %).
        wanted.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        let max_article = self.node.config().limits.max_article_bytes;
        let mut batches = Vec::new();
        while !wanted.is_empty() {
            batches.push(wanted.drain(..wanted.len().min(BATCH)).collect::<Vec<_>>());
        }
        // The next batch is asked for before this one is read, and filing
        // runs behind the reading, so neither side waits for the other.
        let mut batches = batches.into_iter().peekable();
        if let Some(first) = batches.peek() {
            self.ask(first).await?;
        }
        while let Some(batch) = batches.next() {
            if let Some(next) = batches.peek() {
                self.ask(next).await?;
            }
            for (id, claim) in batch {
                if let Some(text) = self.article(&id, max_article).await? {
                    let (node, peer) = (self.node.clone(), self.peer.name.clone());
                    self.filing
                        .push_back(tokio::spawn(file(node, peer, id, text, claim)));
                }
            }
            while self.filing.len() > FILING {
                if let Some(task) = self.filing.pop_front() {
                    self.filed(task.await)?;
                }
            }
            self.tell();
        }
        Ok(())
    }

    /// Waits for what was read to be filed, even when the link failed
    /// meanwhile; then `outcome`, or the first failure to file.
    async fn filed_after(&mut self, outcome: Result<(), SyncError>) -> Result<(), SyncError> {
        let filed = self.filed_all().await;
        outcome.and(filed)
    }

    /// Waits for every fetched article to be filed; the first failure is
    /// returned once all are.
    async fn filed_all(&mut self) -> Result<(), SyncError> {
        let mut failed = None;
        while let Some(task) = self.filing.pop_front() {
            if let Err(e) = self.filed(task.await) {
                failed.get_or_insert(e);
            }
        }
        self.tell();
        failed.map_or(Ok(()), Err)
    }

    /// Sends one batch's ARTICLE commands in one write.
    async fn ask(&mut self, batch: &[(Vec<u8>, Claim)]) -> Result<(), ClientError> {
        let mut out = Vec::new();
        for (id, _) in batch {
            Command::Article(id).encode(&mut out)?;
        }
        self.link.send(&out).await
    }

    fn filed(
        &mut self,
        outcome: Result<Result<bool, SyncError>, tokio::task::JoinError>,
    ) -> Result<(), SyncError> {
        match outcome {
            Ok(Ok(true)) => self.progress.fetched += 1,
            Ok(Ok(false)) => {}
            Ok(Err(e)) => return Err(e),
            Err(e) => return Err(SyncError::Protocol(format!("filing task: {e}"))),
        }
        Ok(())
    }

    /// One pipelined ARTICLE reply: the article, or None when the peer no
    /// longer has it or it is larger than we take.
    async fn article(&mut self, id: &[u8], limit: usize) -> Result<Option<Vec<u8>>, SyncError> {
        let response = self.link.response().await?;
        match response.code {
            Code::ARTICLE_FOLLOWS => {}
            // Removed there since it was listed.
            Code::NO_SUCH_MSGID => return Ok(None),
            _ => return Err(SyncError::Protocol(format!("ARTICLE: {response}"))),
        }
        let text = self.link.text(limit).await?;
        let shown = String::from_utf8_lossy(id);
        if text.is_none() {
            info!(peer = %self.peer.name, message_id = %shown, limit, "fetched article larger than limits.max_article_bytes; skipped");
            return Ok(None);
        }
        self.node
            .counters
            .bodies_fetched
            .fetch_add(1, Ordering::Relaxed);
        // The same target as bodies received by TAKETHIS, so transfers can
        // be counted whichever way they came.
        debug!(target: "tidings::bodies", message_id = %shown, "article body received (fetched)");
        Ok(text)
    }

    /// Offers what the peer lacks (XIHAVE) and sends what it asks for.
    async fn offer(&mut self, ids: Vec<Vec<u8>>) -> Result<(), SyncError> {
        for batch in ids.chunks(BATCH) {
            if !self.may_send {
                return Ok(());
            }
            self.link.command(&Command::Xihave(batch)).await?;
            let response = self.link.response().await?;
            match response.code {
                Code::SENDME_FOLLOWS => {}
                Code::AUTH_REQUIRED | Code::NOT_PERMITTED => {
                    info!(peer = %self.peer.name, reply = %response, "peer takes no articles from us on this connection");
                    self.may_send = false;
                    return Ok(());
                }
                _ => return Err(SyncError::Protocol(format!("XIHAVE: {response}"))),
            }
            // The peer names only what we offered.
            let limit = BlockLimit {
                lines: batch.len(),
                bytes: MAX_BLOCK,
            };
            let Some(wanted) = self.link.block(limit).await? else {
                return Err(ClientError::BlockTooLarge("XIHAVE").into());
            };
            self.progress.wanted += wanted.len() as u64;
            let wanted: Vec<&[u8]> = wanted.iter().map(Vec::as_slice).collect();
            let node = self.node;
            self.progress.sent += takethis(&mut self.link, &wanted, MAX_BATCH_BYTES, |id| {
                Ok::<_, SyncError>(node.store.article(id)?)
            })
            .await? as u64;
            self.tell();
        }
        Ok(())
    }
}

/// Files one fetched article with the peer's rights, as TAKETHIS from it
/// would; true when it was stored (or is waiting for a passport or the
/// moderator). A refusal is remembered so it is never fetched again. The
/// claim is held until then.
async fn file(
    node: Arc<Node>,
    peer: String,
    id: Vec<u8>,
    text: Vec<u8>,
    _claim: Claim,
) -> Result<bool, SyncError> {
    let source = Source::Transit {
        offered_id: id,
        peer: Some(peer),
    };
    match node.ingest(Bytes::from(text), source, None).await {
        Ingested::Stored { stored, .. } => Ok(matches!(
            stored,
            Stored::Accepted { .. } | Stored::Pending | Stored::Held
        )),
        Ingested::Fault { fault, .. } => Err(SyncError::NotStored(fault)),
        Ingested::Refused(rejection) => {
            debug!(reason = %rejection.reason, "fetched article refused");
            Ok(false)
        }
    }
}

//! Collects files no article here references (protocol-spec/files.md
//! §5), any the operator blocked and any whose removal held (§8), and the
//! parts of fetches of files nothing references any more, then evicts
//! cached files past their budget; pinned files stay. An upload is kept
//! `[files] grace_hours` for the post that names it to come, then
//! removed, bytes first, unless an article here (filed, an earlier
//! version kept, or waiting) references it. Runs every quarter of
//! the grace period, and can be run at will (tests, with a moved clock).

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::node::Node;
use crate::store::schema::HistoryEntry;
use crate::store::StoreError;
use crate::transfer::FileState;

/// Why a sweep stopped.
#[derive(Debug, thiserror::Error)]
pub enum SweepError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("removing a file: {0}")]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Transfer(#[from] crate::transfer::TransferError),
    #[error("the sweep task failed: {0}")]
    Task(String),
}

/// One sweep: the files stored before the grace period and referenced by
/// nothing here are removed. Returns how many.
pub async fn sweep(node: &Arc<Node>) -> Result<u64, SweepError> {
    let node = node.clone();
    tokio::task::spawn_blocking(move || {
        let grace = node.config().files.grace_hours.saturating_mul(3600) as i64;
        let cutoff = node.clock.now().timestamp().saturating_sub(grace);
        let mut removed = 0;
        for (hash, record) in node.store.files_stored_before(i64::MAX)? {
            // What the operator blocked, or a removal that held, goes
            // whatever references it (files.md §8).
            if let FileState::Removed(_) = node.fetcher.enforce(&hash)? {
                removed += 1;
                continue;
            }
            if record.stored >= cutoff
                || node.fetcher.pinned(&hash)?
                || node.store.file_referenced(&hash)?
            {
                continue;
            }
            // Bytes first: a crash between the two leaves a record whose
            // bytes are gone, which GET answers 404 and the next sweep
            // finishes; the other order would leave bytes nothing names.
            node.blobs.remove(&hash)?;
            node.store.forget_file(&hash)?;
            info!(file = %hex::encode(hash), size = record.size, "unreferenced file collected");
            removed += 1;
        }
        // A fetch cut short keeps its part to resume; once nothing here
        // references its file, nothing will.
        for hash in node.blobs.parts()? {
            if !node.fetcher.fetching(&hash)
                && !node.fetcher.pinned(&hash)?
                && !node.store.file_referenced(&hash)?
            {
                std::fs::remove_file(node.blobs.part_path(&hash))?;
                info!(file = %hex::encode(hash), "part of an unreferenced file's fetch removed");
            }
        }
        Ok(removed + evict(&node)?)
    })
    .await
    .map_err(|e| SweepError::Task(e.to_string()))?
}

/// Removes every article whose retention has run out (retention.rs), in
/// the boards a rule covers, with its indexes, and remembers it as
/// removed, so no catch-up or offer brings it back; returns how many.
pub async fn expire(node: &Arc<Node>) -> Result<u64, StoreError> {
    if node.config().retention_rules.is_empty() {
        return Ok(0);
    }
    let reading = node.clone();
    let effects = tokio::task::spawn_blocking(
        move || -> Result<Vec<crate::store::commit::Effect>, StoreError> {
            let node = reading;
            let now = node.clock.now().timestamp();
            let rules = &node.config().retention_rules;
            let mut seen = std::collections::HashSet::new();
            let mut effects = Vec::new();
            for (board, _) in node.store.groups()? {
                if crate::retention::rule(rules, &board).is_none() {
                    continue;
                }
                for (_, record) in node.store.overview_range(&board, 1, u64::MAX)? {
                    // Overview fields: subject, from, date, message-id, ...
                    let Some(id) = record.split(|&b| b == b'\t').nth(3) else {
                        continue;
                    };
                    if !seen.insert(id.to_vec()) {
                        continue;
                    }
                    let Some(raw) = node.store.article(id)? else {
                        continue;
                    };
                    let Ok(article) =
                        crate::proto::article::Article::parse(bytes::Bytes::from(raw))
                    else {
                        continue;
                    };
                    let boards: Vec<String> = article
                        .newsgroups()
                        .iter()
                        .map(|b| String::from_utf8_lossy(b).into_owned())
                        .filter(|b| node.groups.contains(b))
                        .collect();
                    if crate::retention::article_end(rules, &article, &boards)
                        .is_some_and(|at| at <= now)
                    {
                        effects.push(crate::store::commit::Effect::Remove {
                            message_id: id.to_vec(),
                            reason: "expired: kept as long as its boards' retention says".into(),
                        });
                    }
                }
            }
            Ok(effects)
        },
    )
    .await
    .map_err(|_| StoreError::CommitterGone)??;
    let count = effects.len() as u64;
    if count > 0 {
        tracing::info!(count, "expired articles removed");
        node.committer.apply(effects).await;
    }
    Ok(count)
}

/// Evicts the least recently read of the files fetched for readers until
/// they fit `[files] cache_bytes` (files.md §5): never a pinned one, nor
/// one an article filed on an eager board references (that one is
/// replicated, not cached). Evicted files are fetched again when next
/// read. Returns how many went.
pub fn evict(node: &Node) -> Result<u64, SweepError> {
    let budget = node.config().files.cache_bytes;
    if budget == 0 {
        return Ok(0);
    }
    let mut cached = Vec::new();
    for (hash, read_at) in node.store.cached_files()? {
        if node.fetcher.pinned(&hash)? || on_an_eager_board(node, &hash)? {
            continue;
        }
        if let Some(size) = node.blobs.size(&hash)? {
            cached.push((read_at, hash, size));
        }
    }
    let mut total: u64 = cached.iter().map(|(_, _, size)| size).sum();
    cached.sort_unstable();
    let mut evicted = 0;
    for (_, hash, size) in cached {
        if total <= budget {
            break;
        }
        node.blobs.remove(&hash)?;
        node.store.forget_file_record(&hash)?;
        total -= size;
        evicted += 1;
        info!(target: "tidings::files", file = %hex::encode(hash), size, "cached file evicted");
    }
    Ok(evicted)
}

/// Whether an article filed on an eager board references the file `hash`.
fn on_an_eager_board(node: &Node, hash: &[u8; 32]) -> Result<bool, StoreError> {
    for id in node.store.file_referrers(hash)? {
        if let Some(HistoryEntry::Accepted { xref, .. }) = node.store.history(&id)? {
            if crate::transfer::replicate::on_eager_board(&xref, &node.config().eager_files) {
                return Ok(true);
            }
        }
    }
    Ok(false)
}

/// Sweeps every quarter of the grace period (at least every minute)
/// until `shutdown`.
pub async fn run(node: Arc<Node>, shutdown: CancellationToken) {
    let every = Duration::from_secs((node.config().files.grace_hours * 3600 / 4).max(60));
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(every) => {}
        }
        // Expired articles first: the files only they referenced go in
        // the same pass.
        if let Err(e) = expire(&node).await {
            warn!(error = %e, "expiry failed; trying again later");
        }
        if let Err(e) = sweep(&node).await {
            warn!(error = %e, "file sweep failed; trying again later");
        }
    }
}

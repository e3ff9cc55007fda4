//! Moves, settled from what is stored (protocol-spec/state.md §3). Every
//! move control is kept under the article it names, whatever arrived
//! first; whenever a move or an article of a moved thread is committed,
//! the thread's filing is worked out again from all of them: each article
//! goes to the board of the winning valid move, the one with the latest
//! Date (then the greatest Message-ID). Since that depends only on the
//! stored articles and this node's configuration, nodes holding the same
//! articles file them the same way, in whatever order they came.
//!
//! One task does the settling, so a later pass always sees what an earlier
//! one wrote; at start it settles every move, which also repairs what a
//! crash lost (the re-filing writes are not synced).

use std::sync::Arc;

use bytes::Bytes;
use ed25519_dalek::VerifyingKey;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::ingest::{authority, CONTROL_GROUP};
use crate::node::{Node, Settle};
use crate::proto::article::Article;
use crate::proto::signing;
use crate::store::commit::Effect;
use crate::store::schema::{HistoryEntry, MoveRecord};
use crate::store::{Store, StoreError};

/// Runs until `shutdown`: settles every move at start, then what each
/// commit reports.
pub async fn run(
    node: Arc<Node>,
    mut queue: mpsc::UnboundedReceiver<Settle>,
    shutdown: CancellationToken,
) {
    settle(&node, Settle::All).await;
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            next = queue.recv() => match next {
                Some(what) => {
                    settle(&node, what).await;
                }
                None => return,
            },
        }
    }
}

/// Works out the filing of the named threads (or of every moved thread)
/// and writes what differs; returns how many articles were re-filed.
pub async fn settle(node: &Arc<Node>, what: Settle) -> usize {
    let planned = {
        let node = node.clone();
        tokio::task::spawn_blocking(move || {
            let targets = match what {
                Settle::Targets(targets) => targets,
                Settle::All => node.store.move_targets()?,
            };
            let mut effects = Vec::new();
            for target in targets {
                effects.extend(plan(&node, &target)?);
            }
            Ok::<_, StoreError>(effects)
        })
        .await
    };
    let effects = match planned {
        Ok(Ok(effects)) => effects,
        Ok(Err(e)) => {
            warn!(error = %e, "cannot settle moves");
            return 0;
        }
        Err(e) => {
            warn!(error = %e, "settling moves did not finish");
            return 0;
        }
    };
    let moved = effects.len();
    if moved > 0 {
        info!(articles = moved, "moved articles re-filed");
        node.committer.apply(effects).await;
    }
    moved
}

/// The re-filings the moves naming `target` call for: for each filed
/// article of the thread `target` opens (and `target` itself, if it is a
/// reply), the board of the winning valid move among those naming its
/// thread's opening post or the article itself.
pub fn plan(node: &Node, target: &[u8]) -> Result<Vec<Effect>, StoreError> {
    let store = &node.store;
    let mut members = store.thread_members(target)?;
    if !members.iter().any(|m| m.as_slice() == target) {
        members.push(target.to_vec());
    }
    let mut effects = cancelled(node, target)?;
    for member in members {
        let Some(entry @ HistoryEntry::Accepted { .. }) = store.history(&member)? else {
            continue;
        };
        let Some(article) = stored(store, &member)? else {
            continue;
        };
        let root = article.thread_root().unwrap_or_else(|| member.clone());
        let mut named = vec![root.clone()];
        if member != root {
            named.push(member.clone());
        }
        let mut candidates = Vec::new();
        for id in named {
            for record in store.moves_for(&id)? {
                candidates.push((id.clone(), record));
            }
        }
        let mut best: Option<&MoveRecord> = None;
        for (named, record) in &candidates {
            if best.is_some_and(|b| b.order() >= record.order()) {
                continue;
            }
            if valid(node, named, record)? {
                best = Some(record);
            }
        }
        let Some(best) = best else { continue };
        let filed: Vec<&str> = entry.numbers().iter().map(|(g, _)| *g).collect();
        if filed != [best.to.as_str()] {
            effects.push(Effect::Move {
                message_id: member.clone(),
                to: best.to.clone(),
            });
        }
    }
    Ok(effects)
}

/// The removal a kept cancel of `target` calls for, once `target` is
/// here and one of them holds (state.md §4a).
fn cancelled(node: &Node, target: &[u8]) -> Result<Vec<Effect>, StoreError> {
    let cancels = node.store.cancels_of(target)?;
    if cancels.is_empty() {
        return Ok(Vec::new());
    }
    // Filed, pending or held: a cancel takes it wherever it waits.
    let Some(article) = node
        .store
        .any_article(target)?
        .and_then(|bytes| Article::parse(Bytes::from(bytes)).ok())
    else {
        return Ok(Vec::new());
    };
    let signer = signing::claimed(&article).ok().map(|c| c.field.key);
    for (_, by) in cancels {
        let Ok(by) = VerifyingKey::from_bytes(&by) else {
            continue;
        };
        if authority::cancel_holds(&by, &article, signer.as_ref(), &node.trust) {
            let reason = format!("cancelled by {}", &signing::key_hex(&by)[..8]);
            return Ok(vec![Effect::Remove {
                message_id: target.to_vec(),
                reason,
            }]);
        }
    }
    Ok(Vec::new())
}

fn stored(store: &Store, id: &[u8]) -> Result<Option<Article>, StoreError> {
    Ok(store
        .article(id)?
        .and_then(|bytes| Article::parse(Bytes::from(bytes)).ok()))
}

/// Whether `record`'s signer may move the thread of `named`: its author
/// (the key its Message-ID names, or for a free ID the key that signed
/// it, here), or a moderator of every board it names and of the board it
/// goes to. The board must be one this node carries. Decided only from
/// stored articles and configuration, never from what arrived when.
fn valid(node: &Node, named: &[u8], record: &MoveRecord) -> Result<bool, StoreError> {
    if record.to == CONTROL_GROUP || !node.groups.contains(&record.to) {
        return Ok(false);
    }
    let Ok(signer) = VerifyingKey::from_bytes(&record.signer) else {
        return Ok(false);
    };
    let target = stored(&node.store, named)?;
    let author = if signing::names_key(named) {
        signing::message_id_key(named)
    } else {
        target
            .as_ref()
            .and_then(|a| signing::claimed(a).ok())
            .map(|c| c.field.key)
    };
    if author == Some(signer) {
        return Ok(true);
    }
    let Some(target) = target else {
        return Ok(false);
    };
    let boards = target.newsgroups();
    Ok(!boards.is_empty()
        && node.trust.moderates(&signer, &record.to)
        && boards
            .iter()
            .all(|b| std::str::from_utf8(b).is_ok_and(|b| node.trust.moderates(&signer, b))))
}

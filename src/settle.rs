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

use std::collections::{HashSet, VecDeque};

use crate::ingest::{authority, overview_record, Lookup, CONTROL_GROUP};
use crate::node::{Node, Settle};
use crate::proto::article::Article;
use crate::proto::signing;
use crate::store::commit::Effect;
use crate::store::schema::{HistoryEntry, KeyRecord, MoveRecord};
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
            let mut effects = Vec::new();
            let targets = match what {
                Settle::Targets(targets) => targets,
                Settle::All => {
                    for (key, record) in node.store.learnt_keys()? {
                        if let KeyRecord::Revoked { since, .. } = record {
                            effects.extend(revoked(&node, &key, since)?);
                        }
                    }
                    node.store.move_targets()?
                }
                Settle::Revoked(key) => match node.store.key_record(&key)? {
                    Some(KeyRecord::Revoked { since, .. }) => {
                        effects.extend(revoked(&node, &key, since)?);
                        Vec::new()
                    }
                    _ => Vec::new(),
                },
            };
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
        // A version filed again is filed where its Newsgroups say; the
        // moves of its thread then apply to it on a second pass.
        let restored: Vec<Vec<u8>> = effects
            .iter()
            .filter_map(|e| match e {
                Effect::Restore { message_id, .. } => Some(message_id.clone()),
                _ => None,
            })
            .collect();
        info!(
            articles = moved,
            "moved, edited or cancelled articles settled"
        );
        node.committer.apply(effects).await;
        if !restored.is_empty() {
            Box::pin(settle(node, Settle::Targets(restored))).await;
        }
    }
    moved
}

/// The re-filings the moves naming `target` call for: for each filed
/// article of the thread `target` opens (and `target` itself, if it is a
/// reply), the board of the winning valid move among those naming its
/// thread's opening post or the article itself.
pub fn plan(node: &Node, target: &[u8]) -> Result<Vec<Effect>, StoreError> {
    let store = &node.store;
    let mut effects = cancelled(node, target)?;
    let versions = versions(node, target)?;
    // Versions about to be superseded are not moved; those about to be
    // filed again are moved on the pass after.
    let settled: HashSet<Vec<u8>> = versions
        .iter()
        .filter_map(|e| match e {
            Effect::Supersede { message_id, .. } => Some(message_id.clone()),
            _ => None,
        })
        .collect();
    effects.extend(versions);
    for member in members(store, target)? {
        if settled.contains(&member) {
            continue;
        }
        let Some(entry @ HistoryEntry::Accepted { .. }) = store.history(&member)? else {
            continue;
        };
        let Some(article) = stored(store, &member)? else {
            continue;
        };
        let own = unmoved(node, &article);
        if let Some(reason) = posted_to_removed(node, &article, &own) {
            effects.push(Effect::Remove {
                message_id: member,
                reason,
            });
            continue;
        }
        let root = root_of(store, &article, &member)?;
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
            // A cancelled move moves nothing, and none files an article
            // in a board removed after its Date (state.md §3, §4).
            let cancelled = matches!(
                store.history(&record.control)?,
                Some(HistoryEntry::Removed { .. })
            );
            let removed_since = Lookup::board(store, &record.to)
                .removed
                .is_some_and(|removed| authority::date_secs(&article) <= removed);
            if !cancelled && !removed_since && valid(node, named, record)? {
                best = Some(record);
            }
        }
        let mut filed: Vec<&str> = entry.numbers().iter().map(|(g, _)| *g).collect();
        filed.sort_unstable();
        let to = match best {
            Some(best) => vec![best.to.clone()],
            // Its moves were cancelled (or never valid): back where its
            // Newsgroups put it, as if no move had come.
            None if !candidates.is_empty() => own,
            None => continue,
        };
        let mut wanted: Vec<&str> = to.iter().map(String::as_str).collect();
        wanted.sort_unstable();
        if !to.is_empty() && filed != wanted {
            effects.push(Effect::Move {
                message_id: member.clone(),
                to,
                overview: overview_record(&article),
            });
        }
    }
    Ok(effects)
}

/// The boards `article`'s Newsgroups file it in here: carried, and not
/// removed after it was posted (state.md §4).
fn unmoved(node: &Node, article: &Article) -> Vec<String> {
    let date = authority::date_secs(article);
    article
        .newsgroups()
        .iter()
        .map(|g| String::from_utf8_lossy(g).into_owned())
        .filter(|g| {
            g != CONTROL_GROUP
                && node.groups.contains(g)
                && Lookup::board(&node.store, g)
                    .removed
                    .is_none_or(|removed| date > removed)
        })
        .collect()
}

/// Why `article` is not to be kept, if none of its boards takes it (`own`,
/// what [`unmoved`] gives) and one was removed after its Date: it was
/// posted to a removed board, which no move and no edit brings back
/// (state.md §4), as ingest refuses it when it comes after the rmgroup.
fn posted_to_removed(node: &Node, article: &Article, own: &[String]) -> Option<String> {
    if !own.is_empty() {
        return None;
    }
    let date = authority::date_secs(article);
    article.newsgroups().iter().find_map(|g| {
        let board = String::from_utf8_lossy(g);
        Lookup::board(&node.store, &board)
            .removed
            .is_some_and(|removed| date <= removed)
            .then(|| format!("it was posted before its board {board} was removed"))
    })
}

/// The articles of the thread `target` opens, `target` itself, and every
/// edit of any of them (an edit that does not say References is indexed
/// under what it supersedes).
fn members(store: &Store, target: &[u8]) -> Result<Vec<Vec<u8>>, StoreError> {
    let mut seen: HashSet<Vec<u8>> = HashSet::new();
    let mut queue: VecDeque<Vec<u8>> = store.thread_members(target)?.into();
    queue.push_back(target.to_vec());
    let mut out = Vec::new();
    while let Some(id) = queue.pop_front() {
        if !seen.insert(id.clone()) {
            continue;
        }
        queue.extend(store.edits_of(&id)?);
        out.push(id);
    }
    Ok(out)
}

/// Edit chains are followed this far, so a loop of Supersedes headers
/// cannot hang the settling.
const MAX_EDITS: usize = 64;

/// The opening post of `article`'s thread (state.md §2, §3b): the first
/// entry of its References; for an edit without References, the thread
/// of what it supersedes, as far as that is here.
fn root_of(store: &Store, article: &Article, id: &[u8]) -> Result<Vec<u8>, StoreError> {
    let mut current = article.clone();
    let mut current_id = id.to_vec();
    for _ in 0..MAX_EDITS {
        if let Some(first) = current.references().into_iter().next() {
            return Ok(first);
        }
        let Some(old) = current.supersedes() else {
            return Ok(current_id);
        };
        match version(store, &old)? {
            Some((_, older)) => {
                current = older;
                current_id = old;
            }
            None => return Ok(old),
        }
    }
    Ok(current_id)
}

/// A stored version of a post: filed or superseded, with its history.
fn version(store: &Store, id: &[u8]) -> Result<Option<(HistoryEntry, Article)>, StoreError> {
    let entry = match store.history(id)? {
        Some(entry @ (HistoryEntry::Accepted { .. } | HistoryEntry::Superseded { .. })) => entry,
        _ => return Ok(None),
    };
    Ok(stored(store, id)?.map(|article| (entry, article)))
}

/// What the edits of the post `target` belongs to call for (state.md
/// §3b): the post is its first version and every edit whose Supersedes
/// leads to it; an edit counts if its signer may replace what it names;
/// of the versions that count, the latest by Date (then Message-ID) is
/// the current one, filed; the others are superseded. Worked out from
/// what is stored alone, so the same in any order of arrival.
fn versions(node: &Node, target: &[u8]) -> Result<Vec<Effect>, StoreError> {
    let store = &node.store;
    let mut first = target.to_vec();
    let mut seen = HashSet::new();
    for _ in 0..MAX_EDITS {
        seen.insert(first.clone());
        match version(store, &first)?.and_then(|(_, a)| a.supersedes()) {
            Some(old) if !seen.contains(&old) => first = old,
            _ => break,
        }
    }
    // (id, what it supersedes), breadth first from the first version.
    let mut edits: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
    let mut queue = VecDeque::from([first.clone()]);
    let mut seen = HashSet::from([first.clone()]);
    while let Some(id) = queue.pop_front() {
        for edit in store.edits_of(&id)? {
            if edits.len() < MAX_EDITS && seen.insert(edit.clone()) {
                queue.push_back(edit.clone());
                edits.push((edit, id.clone()));
            }
        }
    }
    if edits.is_empty() {
        return Ok(Vec::new());
    }
    let mut present: Vec<(Vec<u8>, HistoryEntry, Article)> = Vec::new();
    let mut counts: HashSet<Vec<u8>> = HashSet::new();
    if let Some((entry, article)) = version(store, &first)? {
        counts.insert(first.clone());
        present.push((first.clone(), entry, article));
    }
    for (edit, old) in &edits {
        let Some((entry, article)) = version(store, edit)? else {
            continue;
        };
        let parent = version(store, old)?.map(|(_, a)| a);
        let parent_counts = counts.contains(old) || (*old == first && parent.is_none());
        if parent_counts && edit_holds(node, &article, old, parent.as_ref()) {
            counts.insert(edit.clone());
        }
        present.push((edit.clone(), entry, article));
    }
    let current = present
        .iter()
        .filter(|(id, _, _)| counts.contains(id))
        .max_by_key(|(id, _, article)| (authority::date_secs(article), id.clone()))
        .map(|(id, _, _)| id.clone());
    let mut effects = Vec::new();
    for (id, entry, article) in present {
        // Filed nowhere, a superseded version escapes an rmgroup's pass
        // over its board; posted before the removal, it goes all the same.
        let own = matches!(entry, HistoryEntry::Superseded { .. }).then(|| unmoved(node, &article));
        if let Some(own) = &own {
            if let Some(reason) = posted_to_removed(node, &article, own) {
                effects.push(Effect::Remove {
                    message_id: id,
                    reason,
                });
                continue;
            }
        }
        let superseded = counts.contains(&id) && current.as_ref() != Some(&id);
        match (&entry, superseded) {
            (HistoryEntry::Accepted { .. }, true) => effects.push(Effect::Supersede {
                message_id: id,
                by: current.clone().unwrap_or_default(),
            }),
            (HistoryEntry::Superseded { by, .. }, true)
                if Some(by.as_bytes()) != current.as_deref() =>
            {
                effects.push(Effect::Supersede {
                    message_id: id,
                    by: current.clone().unwrap_or_default(),
                })
            }
            (HistoryEntry::Superseded { .. }, false) => effects.push(Effect::Restore {
                message_id: id,
                groups: own.unwrap_or_default(),
                overview: overview_record(&article),
            }),
            _ => {}
        }
    }
    Ok(effects)
}

/// Whether `edit` replaces `old`: signed by the key `old`'s Message-ID
/// names, or, with `old` here, by its signer or a moderator of every board
/// it names (the rule of cancels, state.md §4a).
fn edit_holds(node: &Node, edit: &Article, old: &[u8], parent: Option<&Article>) -> bool {
    let Some(signer) = signing::claimed_key(edit).ok() else {
        return false;
    };
    if signing::message_id_key(old) == Some(signer) {
        return true;
    }
    parent.is_some_and(|parent| {
        let parent_signer = signing::claimed_key(parent).ok();
        authority::cancel_holds(&signer, parent, parent_signer.as_ref(), &node.trust)
    })
}

/// The removals a revocation of `key` dated `since` calls for (state.md
/// §4b): every filed article the key signed dated after it.
fn revoked(node: &Node, key: &[u8; 32], since: u64) -> Result<Vec<Effect>, StoreError> {
    let mut effects = Vec::new();
    // A withdrawn introduction of a node this node's configuration trusts
    // changes nothing here (access.md §8).
    if node.trust.node_rights_of(key).is_some() {
        return Ok(effects);
    }
    for id in node.store.articles_by(key)? {
        let Some((_, article)) = version(&node.store, &id)? else {
            continue;
        };
        if authority::date_secs(&article) > since {
            effects.push(Effect::Remove {
                message_id: id,
                reason: format!(
                    "its signer {} was revoked before its Date",
                    &hex::encode(key)[..8]
                ),
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
    // Filed, superseded, pending or held: a cancel takes it wherever it is.
    let Some(article) = node
        .store
        .any_article(target)?
        .and_then(|bytes| Article::parse(Bytes::from(bytes)).ok())
    else {
        return Ok(Vec::new());
    };
    let signer = signing::claimed_key(&article).ok();
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
        target.as_ref().and_then(|a| signing::claimed_key(a).ok())
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

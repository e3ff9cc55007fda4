//! Pending verification: articles signed by a key this node has not heard
//! of wait, out of sight, until a passport for the key is committed; then
//! they are decided again by ingest and filed with no operator action.
//! Those whose passport does not come within `signing.pending_days` are
//! dropped. Posts held for premoderation live apart (`held`) and are never
//! touched here: they wait for the operator however long it takes.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::ingest::Source;
use crate::node::{Ingested, Node};
use crate::store::commit::Stored;
use crate::trust::Standing;

/// How often expired pending articles are looked for.
pub const SWEEP_EVERY: Duration = Duration::from_secs(3600);

/// Pending articles read from the store at a time: the pass never holds
/// more than this many in memory, however many wait.
const PAGE: usize = 256;

/// Runs until `shutdown`: releases articles as passports arrive, and at
/// start and every hour releases what is releasable and drops what expired.
pub async fn run(
    node: Arc<Node>,
    mut keys: mpsc::UnboundedReceiver<[u8; 32]>,
    shutdown: CancellationToken,
) {
    let mut sweep = tokio::time::interval(SWEEP_EVERY);
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            key = keys.recv() => match key {
                Some(key) => {
                    release(&node, Some(&key)).await;
                }
                None => return,
            },
            _ = sweep.tick() => {
                release(&node, None).await;
            }
        }
    }
}

/// What one pass did, for logs and tests.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Pass {
    pub released: u64,
    pub expired: u64,
    pub waiting: u64,
}

/// Decides again the pending articles of `key` (or of every key), a page
/// at a time off the async workers, filing those whose signer is now known
/// and expiring those older than `signing.pending_days`.
pub async fn release(node: &Arc<Node>, key: Option<&[u8; 32]>) -> Pass {
    let max_age = node
        .config()
        .signing
        .pending_days
        .saturating_mul(86_400_000_000);
    let mut pass = Pass::default();
    let mut after = Vec::new();
    loop {
        let page = {
            let (store, key, from) = (node.store.clone(), key.copied(), after.clone());
            tokio::task::spawn_blocking(move || store.pending_page(key.as_ref(), &from, PAGE)).await
        };
        let page = match page {
            Ok(Ok(page)) => page,
            Ok(Err(e)) => {
                warn!(error = %e, "cannot read pending articles");
                return pass;
            }
            Err(e) => {
                warn!(error = %e, "pending page read did not finish");
                return pass;
            }
        };
        let Some(last) = page.last() else {
            return pass;
        };
        after = crate::store::schema::pending_key(&last.signer, &last.message_id);
        let now = node.clock.now_micros();
        for pending in page {
            let known = ed25519_dalek::VerifyingKey::from_bytes(&pending.signer)
                .is_ok_and(|k| !matches!(node.trust.standing(&k), Standing::Unknown));
            let shown = String::from_utf8_lossy(&pending.message_id).into_owned();
            if !known {
                if now.saturating_sub(pending.arrived) > max_age {
                    info!(message_id = %shown, "pending article expired: its passport never arrived");
                    let reason = "its signer's passport never arrived".to_string();
                    node.committer
                        .expire(pending.signer, pending.message_id, reason, false)
                        .await;
                    pass.expired += 1;
                } else {
                    pass.waiting += 1;
                }
                continue;
            }
            let source = Source::Released;
            match node
                .ingest(Bytes::from(pending.article), source, None)
                .await
            {
                Ingested::Stored {
                    stored: Stored::Accepted { numbers },
                    ..
                } => {
                    info!(message_id = %shown, ?numbers, "pending article released");
                    pass.released += 1;
                }
                Ingested::Stored { stored, .. } => {
                    info!(message_id = %shown, outcome = ?stored, "pending article not filed");
                }
                Ingested::Refused(rejection) => {
                    info!(message_id = %shown, reason = %rejection.reason, "pending article refused on release");
                    let reason = format!("refused when released: {}", rejection.reason);
                    // Refused for good (a revoked key, a cancel) or for the
                    // record only, as ingest decided.
                    let blocks = rejection.remember == crate::ingest::Remember::Block;
                    node.committer
                        .expire(pending.signer, pending.message_id, reason, blocks)
                        .await;
                }
                Ingested::Fault { fault, .. } => {
                    warn!(message_id = %shown, error = %fault, "pending article could not be stored")
                }
            }
        }
    }
}

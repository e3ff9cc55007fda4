//! Pending verification: articles signed by a key this node has not heard
//! of wait, out of sight, until a passport for the key is committed; then
//! they are decided again and filed with no operator action. Those whose
//! passport does not come within `signing.pending_days` are dropped.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::ingest::Source;
use crate::node::Node;
use crate::store::commit::{now_micros, Stored};
use crate::trust::Standing;

/// How often expired pending articles are looked for.
const SWEEP_EVERY: Duration = Duration::from_secs(3600);

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
                Some(key) => release(&node, Some(&key)).await,
                None => return,
            },
            _ = sweep.tick() => release(&node, None).await,
        }
    }
}

/// Decides again the pending articles of `key` (or of every key), filing
/// those whose signer is now known and expiring the old ones.
async fn release(node: &Node, key: Option<&[u8; 32]>) {
    let pending = match node.store.pending(key) {
        Ok(pending) => pending,
        Err(e) => {
            warn!(error = %e, "cannot read pending articles");
            return;
        }
    };
    let max_age = node
        .config
        .signing
        .pending_days
        .saturating_mul(86_400_000_000);
    let now = now_micros();
    for crate::store::PendingArticle {
        signer,
        message_id: id,
        arrived,
        article,
    } in pending
    {
        let known = ed25519_dalek::VerifyingKey::from_bytes(&signer)
            .is_ok_and(|k| !matches!(node.trust.standing(&k), Standing::Unknown));
        let shown = String::from_utf8_lossy(&id).into_owned();
        if !known {
            if now.saturating_sub(arrived) > max_age {
                info!(message_id = %shown, "pending article expired: its passport never arrived");
                node.committer.expire(signer, id);
            }
            continue;
        }
        let prepared = node
            .ingest()
            .prepare(Bytes::from(article), &Source::Released);
        match prepared {
            Err(rejection) => {
                info!(message_id = %shown, reason = %rejection.reason, "pending article refused on release");
                node.committer.expire(signer, id);
            }
            Ok(prepared) => match node.committer.store(prepared).await {
                Ok(Stored::Accepted { numbers }) => {
                    info!(message_id = %shown, ?numbers, "pending article released")
                }
                Ok(other) => {
                    info!(message_id = %shown, outcome = ?other, "pending article not filed")
                }
                Err(e) => {
                    warn!(message_id = %shown, error = %e, "pending article could not be stored")
                }
            },
        }
    }
}

//! One article asked for by Message-ID from this node's peers, for a
//! reader who wants a post the node does not have yet (the HTTP API,
//! http.md §4.2): every peer with an address is asked at once, as a
//! newsreader would ask (ARTICLE after MODE READER, so INN answers too),
//! and the first copy that the node files ends the asking. What is
//! fetched goes through ingest like any catch-up, so nothing is taken on
//! a peer's word that a relayed copy would not be taken on.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::stream::{FuturesUnordered, StreamExt};
use tracing::debug;

use crate::client::{self, ClientError, Command};
use crate::ingest::Source;
use crate::node::{Ingested, Node};
use crate::peers::Peer;
use crate::proto::Code;
use crate::store::commit::Stored;

/// What asking the peers gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Asked {
    /// A peer had it and the node filed it (or holds it waiting).
    Found { peer: String },
    /// Asked this many peers; none had it in time, or none could answer.
    NotFound { asked: usize },
}

/// Askings under way at once, node-wide: each opens a connection to
/// every peer, so a client requesting made-up Message-IDs cannot turn the
/// node into a flood of connections. Past it, the node does not ask.
static ASKING: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(4);

/// Asks every peer with an address for `id`, for at most `within`.
pub async fn ask(node: &Arc<Node>, id: &[u8], within: Duration) -> Asked {
    let Ok(_turn) = ASKING.try_acquire() else {
        return Asked::NotFound { asked: 0 };
    };
    let peers: Vec<Arc<Peer>> = node.peers().fed().cloned().collect();
    let asked = peers.len();
    let mut asking: FuturesUnordered<_> = peers
        .into_iter()
        .map(|peer| {
            let node = node.clone();
            let id = id.to_vec();
            async move {
                let name = peer.name.clone();
                match fetch(&node, &peer, &id).await {
                    Ok(true) => Some(name),
                    Ok(false) => None,
                    Err(e) => {
                        debug!(peer = %name, error = %e, "asking a peer for an article failed");
                        None
                    }
                }
            }
        })
        .collect();
    let first = async {
        while let Some(answer) = asking.next().await {
            if let Some(peer) = answer {
                return Some(peer);
            }
        }
        None
    };
    match tokio::time::timeout(within, first).await {
        Ok(Some(peer)) => Asked::Found { peer },
        _ => Asked::NotFound { asked },
    }
}

/// Asks one peer; true when it had the article and the node took it.
async fn fetch(node: &Arc<Node>, peer: &Peer, id: &[u8]) -> Result<bool, ClientError> {
    let us = crate::feed::identity(node);
    let mut link = client::dial::connect_reader(&peer.remote(), &us)
        .await?
        .client;
    link.command(&Command::Article(id)).await?;
    let response = link.response().await?;
    if response.code != Code::ARTICLE_FOLLOWS {
        return Ok(false);
    }
    let Some(text) = link.text(node.config().limits.max_article_bytes).await? else {
        return Ok(false);
    };
    let _ = link.command(&Command::Quit).await;
    let source = Source::Transit {
        offered_id: id.to_vec(),
        peer: Some(peer.name.clone()),
    };
    Ok(match node.ingest(Bytes::from(text), source, None).await {
        Ingested::Stored { stored, .. } => !matches!(stored, Stored::Applied),
        Ingested::Refused(rejection) => {
            debug!(peer = %peer.name, reason = %rejection.reason, "an asked-for article was refused");
            false
        }
        Ingested::Fault { .. } => false,
    })
}

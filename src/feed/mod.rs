//! Flooding: the outgoing connection to each fed peer that drains its
//! durable outbox.
//!
//! Ingest decides which peers get an article ([`crate::peers::Peers::wanting`]:
//! not in its Path, RFC 5537 §3.3, and their `send` wildmat matches one of
//! its newsgroups); the committer writes their outbox entries in the same
//! atomic write as the article, so an accepted article is forwarded even
//! across crashes.

mod peer;

pub(crate) use peer::{current, jitter, takethis, MAX_BATCH_BYTES};
pub use peer::{run, FeedError};

pub use crate::peers::Peer as FeedPeer;

use crate::client::Identity;
use crate::node::Node;

/// We, as the client introduces us to peers.
pub(crate) fn identity(node: &Node) -> Identity<'_> {
    Identity {
        name: node.name(),
        key: &node.key,
        tls: &node.tls.connector,
    }
}

//! Flooding: the outgoing connection to each fed peer that drains its
//! durable outbox.
//!
//! Ingest decides which peers get an article ([`crate::peers::Peers::wanting`]:
//! not in its Path, RFC 5537 §3.3, and their `send` wildmat matches one of
//! its newsgroups); the committer writes their outbox entries in the same
//! atomic write as the article, so an accepted article is forwarded even
//! across crashes.

pub mod link;
mod peer;

pub use peer::run;
pub(crate) use peer::{jitter, wire};

pub use crate::peers::Peer as FeedPeer;

//! tidings: a node of a federated discussion network that speaks NNTP.
//!
//! Module map, from the wire inwards:
//! - [`server`]: accept loop, connection limit, shutdown.
//! - [`session`]: one connection: frames in, commands dispatched, replies
//!   out in order, TAKETHIS pipelined behind group commits.
//! - [`codec`]: command lines and dot-terminated blocks, with size limits.
//! - [`proto`]: the protocol as pure code: commands, reply codes, articles,
//!   wildmats, argument grammars.
//! - [`ingest`]: accept or reject an article and build what is stored.
//! - [`feed`]: per-peer outboxes drained by one outgoing connection each.
//! - [`sync`]: catch-up with a peer by set reconciliation ([`reconcile`]).
//! - [`client`]: the one outgoing NNTP client (typed replies, command
//!   encoders, bounded reads), async for feeds and catch-up, blocking for
//!   the tools.
//! - [`store`]: RocksDB column families, reads, and the group committer.
//! - [`verify`]: batched signature verification shared by all connections.
//! - [`trust`]: which keys may sign what; [`release`]: pending verification.
//! - [`groups`], [`precommit`], [`node`]: shared state of a running node.
//! - [`config`]: the TOML configuration; [`keys`]: secret key files.
//! - [`tls`]: rustls for STARTTLS, the implicit-TLS port and feed links.
//! - [`loadgen`]: a TAKETHIS load generator for benchmarks.

pub mod client;
pub mod clock;
pub mod codec;
pub mod config;
pub mod feed;
pub mod groups;
pub mod ingest;
pub mod keys;
pub mod loadgen;
pub mod node;
pub mod peers;
pub mod precommit;
pub mod proto;
pub mod reconcile;
pub mod release;
pub mod server;
pub mod session;
pub mod store;
pub mod sync;
pub mod tls;
pub mod trust;
pub mod verify;

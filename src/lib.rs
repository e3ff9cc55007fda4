//! tidings: a node of a federated discussion network that speaks NNTP.
//!
//! Module map, in layers from the wire inwards; a module uses only those
//! below it (`tests/layers.rs` checks that no two use each other and that
//! the store uses nothing that decides):
//!
//! - Serving: [`server`] (accept loop, connection limit, shutdown, the
//!   background tasks); [`http`] (the HTTP/JSON API and web front end, its
//!   own accept loop); [`slots`] (connections per client address, for
//!   both); [`session`] (one connection: frames in, commands
//!   dispatched, replies out in order, TAKETHIS pipelined behind group
//!   commits); [`feed`] (each fed peer's outbox drained over one outgoing
//!   connection); [`catchup`] (catch-up with a peer by set reconciliation,
//!   or NEWNEWS from a plain one); [`release`] (pending posts released or
//!   expired); [`settle`] (which move of a thread wins, decided again from
//!   what is stored whenever a move or a member of the thread arrives);
//!   [`sweep`] (files no article references collected after a grace
//!   period); [`transfer`] (files fetched from peers with XFILE, eagerly
//!   or when a reader asks).
//! - Operating: [`admin`] (the admin listener: metrics, status, waiting
//!   posts, backups, expiry, reload); [`metrics`] (what it exports);
//!   [`backup`] (consistent, incremental backups and restore);
//!   [`retention`] (how long boards keep articles); [`reload`] (a new
//!   configuration put in effect on a running node); [`levels`] (the
//!   grants peers' trust levels call for).
//! - The node: [`node`] opens everything and owns [`node::Node::ingest`],
//!   the one way in for an article whatever brought it.
//! - Deciding: [`access`] (who a connection is, the users file, who may
//!   read and post where); [`ingest`] (accept or reject an article and build the
//!   records to store, routing included); [`trust`] (which keys may sign
//!   what); [`peers`] (the typed peer model: keys, hosts, send wildmats,
//!   rights); [`grants`] (who holds which audience); [`groups`] (boards
//!   as readers see them); [`precommit`]
//!   (bounded, expiring claims on Message-IDs being received);
//!   [`verify`] (batched signature checks).
//! - Writing: [`store`] (RocksDB column families, reads, and the committer
//!   that only writes what it is handed and reports what it made durable).
//! - Talking: [`client`] (the one outgoing NNTP client: typed replies,
//!   command encoders, bounded reads); [`tls`].
//! - Pure protocol, the `tidings-proto` crate in `proto/`: [`proto`]
//!   (commands, reply codes, articles, signing, wildmats, grammars, and set
//!   reconciliation in [`proto::reconcile`]); [`codec`] (incoming command
//!   lines and dot-terminated blocks, with size limits).
//! - Ground: [`config`] (the TOML configuration, validated into
//!   [`config::Valid`]); [`keys`] (secret key files); [`clock`] (wall time
//!   as a parameter); [`loadgen`] (a TAKETHIS load generator).
//!
//! The binary's own code (user tools, `tidings sync`) is in `src/cli/`.

// The protocol layer is its own crate so its parsers build and fuzz
// without RocksDB; these names keep `crate::proto` and `crate::codec`.
pub use tidings_proto as proto;
pub use tidings_proto::codec;

pub mod access;
pub mod admin;
pub mod backup;
pub mod catchup;
pub mod client;
pub mod clock;
pub mod config;
pub mod feed;
pub mod grants;
pub mod groups;
pub mod http;
pub mod ingest;
pub mod keys;
pub mod levels;
pub mod loadgen;
pub mod metrics;
pub mod node;
pub mod peers;
pub mod precommit;
pub mod release;
pub mod reload;
pub mod retention;
pub mod server;
pub mod session;
pub mod settle;
pub mod slots;
pub mod store;
pub mod sweep;
pub mod tls;
pub mod transfer;
pub mod trust;
pub mod verify;

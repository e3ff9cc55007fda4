//! What only the `tidings` binary does, beside `serve`: the user tools for
//! keys and signed posts ([`posting`]) and the operator's `tidings sync`
//! ([`sync`]), each a client of a running node or of files.

pub mod posting;
pub mod status;
pub mod sync;

//! What only the `tidings` binary does, beside `serve`: the user tools for
//! keys and signed posts ([`posting`]), the operator's `tidings sync`
//! ([`sync`]) and users file ([`users`]), each a client of a running node
//! or of files.

pub mod posting;
pub mod status;
pub mod sync;
pub mod users;
pub mod waiting;

//! The NNTP protocol as pure functions over bytes: no I/O, no tokio
//! runtime. [`codec`] frames the byte stream (tokio-util's `Decoder` trait
//! only); the rest parse and encode what the frames carry.

pub mod article;
pub mod audience;
pub mod codec;
pub mod codes;
pub mod command;
pub mod control;
pub mod file_ref;
#[doc(hidden)]
pub mod fuzz_targets;
pub mod grammar;
pub mod reconcile;
pub mod reply;
pub mod signing;
pub mod wildmat;

pub use codes::Code;
pub use reply::Reply;

//! The NNTP protocol as pure functions over bytes: no I/O, no tokio.

pub mod article;
pub mod codes;
pub mod command;
pub mod control;
pub mod grammar;
pub mod reconcile;
pub mod reply;
pub mod signing;
pub mod wildmat;

pub use codes::Code;
pub use reply::Reply;

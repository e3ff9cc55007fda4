//! The one outgoing NNTP client, shared by everything that talks to a
//! server: the feeder and the catch-up (async, over TCP or TLS) and the
//! command-line tools and the load generator (blocking, std::net).
//!
//! Layers, each with one job:
//! - [`command`]: [`Command`] encodes a command to its exact wire bytes,
//!   refusing arguments that would break the line.
//! - [`response`]: a status line as a typed [`Response`] (a
//!   [`Code`](crate::proto::Code), never a bare number), and
//!   [`Capabilities`].
//! - [`block`]: dot-stuffing out, and bounded readers of multi-line blocks
//!   in, fed one bounded piece at a time.
//! - [`connection`]: the async [`Client`]: bounded reads with timeouts, byte
//!   counters, STARTTLS; [`dial`]: connecting to a peer as the feeder does
//!   (greeting, CAPABILITIES, STARTTLS, XPEER, MODE STREAM or MODE READER).
//! - [`blocking`]: the same over `std::net` for the tools.
//!
//! This module knows nothing of the running node: who we are and whom we
//! call are parameters ([`Identity`], [`Remote`]).

pub mod block;
pub mod blocking;
pub mod command;
pub mod connection;
pub mod dial;
pub mod response;

pub use block::{put_data_block, BlockLimit, MAX_REPLY_LINE};
pub use command::{Command, CommandError};
pub use connection::Client;
pub use dial::{connect, connect_reader, Connected, Identity, Remote};
pub use response::{Capabilities, Response};

use crate::tls::TlsError;

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("i/o: {0}")]
    Io(std::io::Error),
    #[error("timed out waiting for the peer")]
    Timeout,
    #[error("peer closed the connection")]
    Closed,
    #[error("unexpected reply to {command}: {response}")]
    Unexpected {
        command: &'static str,
        response: Response,
    },
    #[error("unparsable reply {0:?}")]
    Garbled(String),
    #[error("the peer's reply is longer than {0} octets")]
    TooLong(usize),
    #[error("the peer's answer to {0} is larger than we take")]
    BlockTooLarge(&'static str),
    #[error(transparent)]
    Command(#[from] CommandError),
    #[error("the peer does not offer STARTTLS, and its [[peer]] entry asks for TLS")]
    NoStartTls,
    #[error("the peer sent data after 382, before the TLS handshake")]
    DataBeforeHandshake,
    #[error("TLS handshake: {0}")]
    Handshake(std::io::Error),
    #[error(transparent)]
    Tls(#[from] TlsError),
}

impl ClientError {
    pub fn unexpected(command: &'static str, response: Response) -> ClientError {
        ClientError::Unexpected { command, response }
    }
}

impl From<std::io::Error> for ClientError {
    /// A blocking socket's read timeout shows as WouldBlock or TimedOut.
    fn from(e: std::io::Error) -> ClientError {
        match e.kind() {
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut => ClientError::Timeout,
            _ => ClientError::Io(e),
        }
    }
}

/// The signature that answers XPEER's challenge (protocol-spec/peering.md
/// §2): `server` is the name in its greeting, `us` the name we gave.
fn xpeer_signature(
    server: &str,
    us: &str,
    key: &ed25519_dalek::SigningKey,
    challenge: &Response,
) -> Result<[u8; 64], ClientError> {
    let Some(challenge) = challenge.first_word() else {
        return Err(ClientError::unexpected("XPEER", challenge.clone()));
    };
    let message = crate::proto::signing::peer_challenge_message(server, us, challenge);
    Ok(ed25519_dalek::Signer::sign(key, &message).to_bytes())
}

//! Connecting to a peer the way every feed and catch-up does: greeting,
//! CAPABILITIES, STARTTLS when the peer entry asks for TLS, XPEER when the
//! peer requires it, then MODE STREAM (a feeder) or MODE READER (a reader
//! catching up from a plain NNTP server).

use std::time::Duration;

use ed25519_dalek::SigningKey;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use super::{Capabilities, Client, ClientError, Command, Response};
use crate::proto::Code;

pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The peer we call.
#[derive(Debug, Clone, Copy)]
pub struct Remote<'a> {
    /// Its Path identity, sent as the TLS server name.
    pub name: &'a str,
    /// host:port.
    pub address: &'a str,
    /// Switch to TLS with STARTTLS before anything else is said.
    pub tls: bool,
}

/// Who we are to the peer.
#[derive(Clone, Copy)]
pub struct Identity<'a> {
    /// Our Path identity, the name XPEER gives.
    pub name: &'a str,
    /// Our node key, which signs XPEER's challenge.
    pub key: &'a SigningKey,
    pub tls: &'a TlsConnector,
}

/// A connection ready for use, and what the peer offers on it.
pub struct Connected {
    pub client: Client,
    pub capabilities: Capabilities,
    /// Whether MODE STREAM was accepted (CHECK and TAKETHIS may be used).
    pub streaming: bool,
}

/// Connects as a peer: XPEER when the peer offers X-TIDINGS-PEER, MODE
/// STREAM when it offers STREAMING.
pub async fn connect(remote: &Remote<'_>, us: &Identity<'_>) -> Result<Connected, ClientError> {
    let (mut client, capabilities, greeting) = open(remote, us).await?;
    if capabilities.has("X-TIDINGS-PEER") {
        // The server's Path identity is the greeting's first word.
        let server = greeting.first_word().unwrap_or_default();
        authenticate(&mut client, server, us).await?;
    }
    let streaming = capabilities.has("STREAMING");
    if streaming {
        client
            .expect(&Command::ModeStream, &[Code::STREAMING_OK])
            .await?;
    }
    Ok(Connected {
        client,
        capabilities,
        streaming,
    })
}

/// Connects as a newsreader would (MODE READER on a mode-switching server
/// such as INN, RFC 3977 §5.3), for catching up from a plain NNTP peer with
/// NEWNEWS and ARTICLE. The capabilities are the reader's.
pub async fn connect_reader(
    remote: &Remote<'_>,
    us: &Identity<'_>,
) -> Result<Connected, ClientError> {
    let (mut client, mut capabilities, _) = open(remote, us).await?;
    if capabilities.has("MODE-READER") {
        let ready = [Code::READY_POSTING, Code::READY_NO_POSTING];
        client.expect(&Command::ModeReader, &ready).await?;
        capabilities = client.capabilities().await?;
    }
    Ok(Connected {
        client,
        capabilities,
        streaming: false,
    })
}

/// TCP, the greeting, CAPABILITIES, and STARTTLS when the peer entry asks
/// for TLS; returns the greeting too.
async fn open(
    remote: &Remote<'_>,
    us: &Identity<'_>,
) -> Result<(Client, Capabilities, Response), ClientError> {
    let stream = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(remote.address))
        .await
        .map_err(|_| ClientError::Timeout)??;
    stream.set_nodelay(true)?;
    let mut client = Client::new(Box::new(stream));
    let greeting = client.response().await?;
    if !matches!(greeting.code, Code::READY_POSTING | Code::READY_NO_POSTING) {
        return Err(ClientError::unexpected("the greeting", greeting));
    }
    let mut capabilities = client.capabilities().await?;
    if remote.tls {
        if !capabilities.has("STARTTLS") {
            return Err(ClientError::NoStartTls);
        }
        client = client.start_tls(us.tls, remote.name).await?;
        // What was advertised in plain text may have been tampered with;
        // only the list read over TLS counts (RFC 4642 §2.2.2).
        capabilities = client.capabilities().await?;
    }
    Ok((client, capabilities, greeting))
}

/// XPEER (protocol-spec/peering.md §2): prove we hold our node key.
async fn authenticate(
    client: &mut Client,
    server: &str,
    us: &Identity<'_>,
) -> Result<(), ClientError> {
    let ask = Command::Xpeer {
        name: us.name,
        signature: None,
    };
    let challenge = client.expect(&ask, &[Code::AUTH_CONTINUE]).await?;
    let signature = super::xpeer_signature(server, us.name, us.key, &challenge)?;
    let answer = Command::Xpeer {
        name: us.name,
        signature: Some(&signature),
    };
    client.expect(&answer, &[Code::AUTH_ACCEPTED]).await?;
    Ok(())
}

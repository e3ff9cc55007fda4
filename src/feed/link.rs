//! An outgoing NNTP connection to a configured peer, shared by the feeder
//! and the catch-up sync: connecting with backoff-friendly timeouts,
//! STARTTLS, XPEER, MODE STREAM, and reading replies with bounded lines.

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use super::FeedPeer;
use crate::node::Node;
use crate::tls::{self, BoxStream, TlsError};

pub const CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);
pub const REPLY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(120);
/// Longest reply line read; reconciliation lines stay well under it.
pub const MAX_REPLY_LINE: usize = 16 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
    #[error("timed out waiting for the peer")]
    Timeout,
    #[error("peer closed the connection")]
    Closed,
    #[error("unexpected reply {0:?}")]
    Reply(String),
    #[error("store: {0}")]
    Store(#[from] crate::store::StoreError),
    #[error("the peer does not offer STARTTLS, and its [[peer]] entry asks for TLS")]
    NoStartTls,
    #[error("TLS handshake: {0}")]
    Handshake(std::io::Error),
    #[error(transparent)]
    Tls(#[from] TlsError),
    #[error("the peer has no address to connect to")]
    NoAddress,
    #[error("the peer's reply is longer than {0} octets")]
    TooLong(usize),
}

/// One conversation with the peer: replies are read through the buffer,
/// commands written past it to the stream beneath.
pub struct Link {
    stream: BufReader<BoxStream>,
    /// Octets sent and received, for sync summaries.
    pub sent: u64,
    pub received: u64,
}

impl Link {
    pub fn new(stream: BoxStream) -> Link {
        Link {
            stream: BufReader::new(stream),
            sent: 0,
            received: 0,
        }
    }

    pub async fn line(&mut self) -> Result<String, LinkError> {
        let line = self.raw_line().await?;
        Ok(String::from_utf8_lossy(&line).trim_end().to_string())
    }

    /// One line with its line ending, at most MAX_REPLY_LINE octets: a
    /// hostile peer cannot make us buffer more.
    async fn raw_line(&mut self) -> Result<Vec<u8>, LinkError> {
        let mut line = Vec::new();
        if !self.piece(&mut line).await? {
            return Err(LinkError::TooLong(MAX_REPLY_LINE));
        }
        Ok(line)
    }

    /// The data block of a multi-line reply, dot-stuffing undone and
    /// every line ending in CRLF; None when it is longer than `limit`
    /// octets, in which case it is still read to its end, so the link stays
    /// in step. Lines are read in pieces: no single read buffers more than
    /// a reply line's worth.
    pub async fn text(&mut self, limit: usize) -> Result<Option<Vec<u8>>, LinkError> {
        let mut text = Some(Vec::new());
        let keep = |text: &mut Option<Vec<u8>>, bytes: &[u8]| {
            if let Some(kept) = text {
                if kept.len() + bytes.len() > limit {
                    *text = None;
                } else {
                    kept.extend_from_slice(bytes);
                }
            }
        };
        let mut piece = Vec::new();
        loop {
            piece.clear();
            let mut ended = self.piece(&mut piece).await?;
            if ended && (piece == b".\r\n" || piece == b".\n") {
                return Ok(text);
            }
            // Only the first piece starts the line, where stuffing is.
            let mut start = usize::from(piece.starts_with(b"."));
            while !ended {
                // A CR at the end of a piece may belong to the line end in
                // the next one: it is kept back until that is known.
                let held = usize::from(piece.ends_with(b"\r"));
                keep(&mut text, &piece[start..piece.len() - held]);
                piece.drain(..piece.len() - held);
                start = 0;
                ended = self.piece(&mut piece).await?;
            }
            keep(&mut text, strip_line_end(&piece[start..]));
            keep(&mut text, b"\r\n");
        }
    }

    /// Up to MAX_REPLY_LINE octets, through the next LF if it comes first;
    /// true when the piece ends a line.
    async fn piece(&mut self, into: &mut Vec<u8>) -> Result<bool, LinkError> {
        let mut limited = (&mut self.stream).take(MAX_REPLY_LINE as u64);
        let read = limited.read_until(b'\n', into);
        match tokio::time::timeout(REPLY_TIMEOUT, read).await {
            Err(_) => Err(LinkError::Timeout),
            Ok(Err(e)) => Err(e.into()),
            Ok(Ok(0)) => Err(LinkError::Closed),
            Ok(Ok(n)) => {
                self.received += n as u64;
                Ok(into.ends_with(b"\n"))
            }
        }
    }

    pub async fn code(&mut self) -> Result<(u16, String), LinkError> {
        let line = self.line().await?;
        let code = line
            .get(..3)
            .and_then(|c| c.parse().ok())
            .ok_or_else(|| LinkError::Reply(line.clone()))?;
        Ok((code, line))
    }

    pub async fn send(&mut self, bytes: &[u8]) -> Result<(), LinkError> {
        // The flush matters over TLS, where a write may leave the tail of
        // its records buffered.
        let write = async {
            self.stream.write_all(bytes).await?;
            self.stream.flush().await
        };
        match tokio::time::timeout(REPLY_TIMEOUT, write).await {
            Err(_) => Err(LinkError::Timeout),
            Ok(result) => {
                result?;
                self.sent += bytes.len() as u64;
                Ok(())
            }
        }
    }

    pub async fn block(&mut self) -> Result<Vec<String>, LinkError> {
        let mut lines = Vec::new();
        loop {
            let line = self.line().await?;
            if line == "." {
                return Ok(lines);
            }
            lines.push(line);
        }
    }

    /// CAPABILITIES (RFC 3977 §5.2): the labels' lines.
    pub async fn capabilities(&mut self) -> Result<Capabilities, LinkError> {
        self.send(b"CAPABILITIES\r\n").await?;
        let (code, line) = self.code().await?;
        match code {
            101 => Ok(Capabilities(self.block().await?)),
            _ => Err(LinkError::Reply(line)),
        }
    }

    /// STARTTLS (RFC 4642 §2.2.2), then the handshake on the same TCP
    /// connection.
    pub async fn start_tls(self, node: &Node, peer: &FeedPeer) -> Result<Link, LinkError> {
        let mut link = self;
        link.send(b"STARTTLS\r\n").await?;
        let (code, line) = link.code().await?;
        if code != 382 {
            return Err(LinkError::Reply(line));
        }
        // Anything after the 382 and before the handshake would be
        // unauthenticated plain text; a server sends none.
        if !link.stream.buffer().is_empty() {
            return Err(LinkError::Reply(
                "data after 382, before the TLS handshake".into(),
            ));
        }
        let name = tls::server_name(&peer.name)?;
        let secure = tls::connect(&node.tls.connector, name, link.stream.into_inner())
            .await
            .map_err(LinkError::Handshake)?;
        Ok(Link::new(secure))
    }
}

/// A server's CAPABILITIES lines.
pub struct Capabilities(Vec<String>);

impl Capabilities {
    pub fn has(&self, label: &str) -> bool {
        self.0.iter().any(|l| {
            l.split_whitespace()
                .next()
                .is_some_and(|w| w.eq_ignore_ascii_case(label))
        })
    }
}

/// Connects to the peer the way every feed and sync does: greeting,
/// CAPABILITIES, STARTTLS when the peer entry asks for TLS, XPEER when the
/// peer requires it, MODE STREAM when it streams. Returns the link, the
/// capabilities, and whether the peer streams.
pub async fn connect(
    node: &Node,
    peer: &FeedPeer,
) -> Result<(Link, Capabilities, bool), LinkError> {
    let (mut link, capabilities, greeting) = open(node, peer).await?;
    if capabilities.has("X-TIDINGS-PEER") {
        // The server's Path identity is the greeting's first word.
        let server = greeting
            .split_whitespace()
            .nth(1)
            .unwrap_or_default()
            .to_string();
        authenticate(node, &mut link, &server).await?;
    }
    let streaming = capabilities.has("STREAMING");
    if streaming {
        link.send(b"MODE STREAM\r\n").await?;
        let (code, line) = link.code().await?;
        if code != 203 {
            return Err(LinkError::Reply(line));
        }
    }
    Ok((link, capabilities, streaming))
}

/// Connects to the peer as a newsreader would (MODE READER on a
/// mode-switching server such as INN, RFC 3977 §5.3): for catching up from
/// a plain NNTP peer with NEWNEWS and ARTICLE. Returns the reader
/// capabilities.
pub async fn connect_reader(
    node: &Node,
    peer: &FeedPeer,
) -> Result<(Link, Capabilities), LinkError> {
    let (mut link, mut capabilities, _) = open(node, peer).await?;
    if capabilities.has("MODE-READER") {
        link.send(b"MODE READER\r\n").await?;
        let (code, line) = link.code().await?;
        if code != 200 && code != 201 {
            return Err(LinkError::Reply(line));
        }
        capabilities = link.capabilities().await?;
    }
    Ok((link, capabilities))
}

/// TCP, the greeting, CAPABILITIES, and STARTTLS when the peer entry asks
/// for TLS; returns the greeting line too.
async fn open(node: &Node, peer: &FeedPeer) -> Result<(Link, Capabilities, String), LinkError> {
    let address = peer.address.as_deref().ok_or(LinkError::NoAddress)?;
    let stream = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(address))
        .await
        .map_err(|_| LinkError::Timeout)??;
    stream.set_nodelay(true)?;
    let mut link = Link::new(Box::new(stream));
    let (code, greeting) = link.code().await?;
    if code != 200 && code != 201 {
        return Err(LinkError::Reply(greeting));
    }
    let mut capabilities = link.capabilities().await?;
    if peer.tls {
        if !capabilities.has("STARTTLS") {
            return Err(LinkError::NoStartTls);
        }
        link = link.start_tls(node, peer).await?;
        // What was advertised in plain text may have been tampered with;
        // only the list read over TLS counts (RFC 4642 §2.2.2).
        capabilities = link.capabilities().await?;
    }
    Ok((link, capabilities, greeting))
}

/// XPEER (protocol-spec/peering.md §2): prove we hold our node key.
async fn authenticate(node: &Node, link: &mut Link, server: &str) -> Result<(), LinkError> {
    let name = node.name();
    link.send(format!("XPEER {name}\r\n").as_bytes()).await?;
    let (code, line) = link.code().await?;
    let challenge = match (code, line.split_whitespace().nth(1)) {
        (381, Some(challenge)) => challenge.to_string(),
        _ => return Err(LinkError::Reply(line)),
    };
    let message = crate::proto::signing::peer_challenge_message(server, name, &challenge);
    let signature = ed25519_dalek::Signer::sign(&node.key, &message);
    link.send(format!("XPEER {name} {}\r\n", hex::encode(signature.to_bytes())).as_bytes())
        .await?;
    let (code, line) = link.code().await?;
    if code != 281 {
        return Err(LinkError::Reply(line));
    }
    Ok(())
}

fn strip_line_end(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r\n")
        .or_else(|| line.strip_suffix(b"\n"))
        .unwrap_or(line)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncWriteExt;

    async fn read_text(wire: Vec<u8>, limit: usize) -> (Option<Vec<u8>>, String) {
        let (ours, mut theirs) = tokio::io::duplex(1 << 20);
        let mut link = Link::new(Box::new(ours));
        theirs.write_all(&wire).await.expect("write");
        theirs.write_all(b"after\r\n").await.expect("write");
        let text = link.text(limit).await.expect("text");
        let next = link.line().await.expect("line");
        (text, next)
    }

    #[tokio::test]
    async fn text_is_unstuffed_and_long_lines_survive_piece_boundaries() {
        // The CR of the long line is the last octet of the first piece.
        let long = "x".repeat(MAX_REPLY_LINE - 1);
        let wire = format!("A: b\r\n\r\n..dot\r\n{long}\r\nend\n.\r\n");
        let (text, next) = read_text(wire.into_bytes(), 1 << 20).await;
        let expected = format!("A: b\r\n\r\n.dot\r\n{long}\r\nend\r\n");
        assert_eq!(text.as_deref(), Some(expected.as_bytes()));
        assert_eq!(next, "after");
    }

    #[tokio::test]
    async fn text_over_the_limit_is_read_to_its_end_and_dropped() {
        let wire = format!("{}\r\n.\r\n", "y".repeat(5000));
        let (text, next) = read_text(wire.into_bytes(), 1000).await;
        assert_eq!(text, None);
        assert_eq!(next, "after", "the link stays in step");
    }
}

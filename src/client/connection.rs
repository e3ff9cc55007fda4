//! The async connection: commands written past the read buffer to the
//! stream beneath, replies read through it in bounded pieces, every step
//! bounded in time.

use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio_rustls::TlsConnector;

use super::block::{self, BlockLimit, Collect, Lines, Text, MAX_REPLY_LINE};
use super::{Capabilities, ClientError, Command, Response};
use crate::proto::Code;
use crate::tls::{self, BoxStream};

/// Longest wait for a reply, or for a write to go out.
pub const REPLY_TIMEOUT: Duration = Duration::from_secs(120);

/// Most CAPABILITIES lines kept; servers send a few dozen.
pub const CAPABILITIES_LIMIT: BlockLimit = BlockLimit {
    lines: 512,
    bytes: 64 * 1024,
};

pub struct Client {
    stream: BufReader<BoxStream>,
    /// Octets sent and received, for catch-up progress.
    sent: u64,
    received: u64,
}

impl Client {
    pub fn new(stream: BoxStream) -> Client {
        Client {
            stream: BufReader::new(stream),
            sent: 0,
            received: 0,
        }
    }

    pub fn sent(&self) -> u64 {
        self.sent
    }

    pub fn received(&self) -> u64 {
        self.received
    }

    /// Writes bytes as they are: commands encoded into one buffer, so a
    /// pipelined batch goes out in one write.
    pub async fn send(&mut self, bytes: &[u8]) -> Result<(), ClientError> {
        // The flush matters over TLS, where a write may leave the tail of
        // its records buffered.
        let write = async {
            self.stream.write_all(bytes).await?;
            self.stream.flush().await
        };
        match tokio::time::timeout(REPLY_TIMEOUT, write).await {
            Err(_) => Err(ClientError::Timeout),
            Ok(result) => {
                result?;
                self.sent += bytes.len() as u64;
                Ok(())
            }
        }
    }

    /// Writes one command.
    pub async fn command(&mut self, command: &Command<'_>) -> Result<(), ClientError> {
        self.send(&command.to_bytes()?).await
    }

    /// Writes an article as a data block (after IHAVE's 335 or POST's 340).
    pub async fn data(&mut self, text: &[u8]) -> Result<(), ClientError> {
        let mut out = Vec::with_capacity(text.len() + 64);
        block::put_data_block(&mut out, text);
        self.send(&out).await
    }

    /// Reads one status line.
    pub async fn response(&mut self) -> Result<Response, ClientError> {
        let mut line = Vec::new();
        if !self.piece(&mut line).await? {
            return Err(ClientError::TooLong(MAX_REPLY_LINE));
        }
        Response::parse(&line)
            .ok_or_else(|| ClientError::Garbled(String::from_utf8_lossy(&line).into_owned()))
    }

    /// Writes `command` and reads its status line, which must carry one of
    /// `codes`.
    pub async fn expect(
        &mut self,
        command: &Command<'_>,
        codes: &[Code],
    ) -> Result<Response, ClientError> {
        self.command(command).await?;
        let response = self.response().await?;
        if codes.contains(&response.code) {
            Ok(response)
        } else {
            Err(ClientError::unexpected(command.name(), response))
        }
    }

    /// The lines of a multi-line block, unstuffed; None when there are
    /// more lines or octets than `limit` (the block is still read to its
    /// end, so the connection stays in step).
    pub async fn block(&mut self, limit: BlockLimit) -> Result<Option<Vec<Vec<u8>>>, ClientError> {
        self.collect(Lines::new(limit)).await
    }

    /// The text of a data block (an article), unstuffed, every line ending
    /// in CRLF; None when it is longer than `limit` octets (still read to
    /// its end). No single read buffers more than a reply line's worth.
    pub async fn text(&mut self, limit: usize) -> Result<Option<Vec<u8>>, ClientError> {
        self.collect(Text::new(limit)).await
    }

    /// Feeds a block to `sink` a piece at a time, to its terminator.
    async fn collect<C: Collect>(&mut self, mut sink: C) -> Result<Option<C::Out>, ClientError> {
        let mut piece = Vec::new();
        loop {
            piece.clear();
            self.piece(&mut piece).await?;
            if sink.feed(&piece) {
                return Ok(sink.finish());
            }
        }
    }

    /// Up to MAX_REPLY_LINE octets, through the next LF if it comes first;
    /// true when the piece ends a line.
    async fn piece(&mut self, into: &mut Vec<u8>) -> Result<bool, ClientError> {
        let mut limited = (&mut self.stream).take(MAX_REPLY_LINE as u64);
        let read = limited.read_until(b'\n', into);
        match tokio::time::timeout(REPLY_TIMEOUT, read).await {
            Err(_) => Err(ClientError::Timeout),
            Ok(Err(e)) => Err(e.into()),
            Ok(Ok(0)) => Err(ClientError::Closed),
            Ok(Ok(n)) => {
                self.received += n as u64;
                Ok(into.ends_with(b"\n"))
            }
        }
    }

    /// Exactly `count` raw octets (XFILE's piece, files.md §6), handed to
    /// `sink` as they come, a buffer's worth at a time.
    pub async fn raw<F>(&mut self, count: u64, mut sink: F) -> Result<(), ClientError>
    where
        F: FnMut(&[u8]) -> std::io::Result<()>,
    {
        let mut left = count;
        while left > 0 {
            let read = self.stream.fill_buf();
            let buffer = match tokio::time::timeout(REPLY_TIMEOUT, read).await {
                Err(_) => return Err(ClientError::Timeout),
                Ok(Err(e)) => return Err(e.into()),
                Ok(Ok([])) => return Err(ClientError::Closed),
                Ok(Ok(buffer)) => buffer,
            };
            let n = buffer.len().min(left as usize);
            sink(&buffer[..n])?;
            self.stream.consume(n);
            self.received += n as u64;
            left -= n as u64;
        }
        Ok(())
    }

    /// CAPABILITIES (RFC 3977 §5.2).
    pub async fn capabilities(&mut self) -> Result<Capabilities, ClientError> {
        let command = Command::Capabilities;
        self.expect(&command, &[Code::CAPABILITIES_FOLLOW]).await?;
        let lines = self
            .block(CAPABILITIES_LIMIT)
            .await?
            .ok_or(ClientError::BlockTooLarge(command.name()))?;
        Ok(Capabilities(
            lines
                .iter()
                .map(|l| String::from_utf8_lossy(l).into_owned())
                .collect(),
        ))
    }

    /// STARTTLS (RFC 4642 §2.2.2), then the handshake on the same
    /// connection; `server_name` is sent as SNI. The byte counters go on.
    pub async fn start_tls(
        mut self,
        connector: &TlsConnector,
        server_name: &str,
    ) -> Result<Client, ClientError> {
        self.expect(&Command::StartTls, &[Code::TLS_CONTINUE])
            .await?;
        // Anything after the 382 and before the handshake would be
        // unauthenticated plain text; a server sends none.
        if !self.stream.buffer().is_empty() {
            return Err(ClientError::DataBeforeHandshake);
        }
        let name = tls::server_name(server_name)?;
        let secure = tls::connect(connector, name, self.stream.into_inner())
            .await
            .map_err(ClientError::Handshake)?;
        Ok(Client {
            stream: BufReader::new(secure),
            sent: self.sent,
            received: self.received,
        })
    }

    /// QUIT (RFC 3977 §5.4), without waiting for the 205.
    pub async fn quit(&mut self) -> Result<(), ClientError> {
        self.command(&Command::Quit).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncWriteExt;

    /// A client whose peer has already sent `wire` and then "after".
    async fn client_after(wire: &[u8]) -> (Client, tokio::io::DuplexStream) {
        let (ours, mut theirs) = tokio::io::duplex(1 << 20);
        theirs.write_all(wire).await.expect("write");
        theirs.write_all(b"205 after\r\n").await.expect("write");
        (Client::new(Box::new(ours)), theirs)
    }

    async fn next_is_after(client: &mut Client) {
        let after = client.response().await.expect("in step");
        assert_eq!(after.code, Code::CLOSING);
    }

    #[tokio::test]
    async fn text_is_unstuffed_and_long_lines_survive_piece_boundaries() {
        // The CR of the long line is the last octet of the first piece.
        let long = "x".repeat(MAX_REPLY_LINE - 1);
        let wire = format!("A: b\r\n\r\n..dot\r\n{long}\r\nend\n.\r\n");
        let (mut client, _peer) = client_after(wire.as_bytes()).await;
        let text = client.text(1 << 20).await.expect("text");
        let expected = format!("A: b\r\n\r\n.dot\r\n{long}\r\nend\r\n");
        assert_eq!(text.as_deref(), Some(expected.as_bytes()));
        next_is_after(&mut client).await;
        assert_eq!(client.received() as usize, wire.len() + 11);
    }

    #[tokio::test]
    async fn text_over_the_limit_is_read_to_its_end_and_dropped() {
        let wire = format!("{}\r\n.\r\n", "y".repeat(5000));
        let (mut client, _peer) = client_after(wire.as_bytes()).await;
        assert_eq!(client.text(1000).await.expect("text"), None);
        next_is_after(&mut client).await;
    }

    #[tokio::test]
    async fn a_block_over_its_limit_is_none_and_the_client_stays_in_step() {
        let mut wire = Vec::new();
        for i in 0..100 {
            wire.extend_from_slice(format!("<{i}@a>\r\n").as_bytes());
        }
        wire.extend_from_slice(b".\r\n");
        let (mut client, _peer) = client_after(&wire).await;
        let limit = BlockLimit {
            lines: 10,
            bytes: 1 << 20,
        };
        assert_eq!(client.block(limit).await.expect("block"), None);
        next_is_after(&mut client).await;
    }

    #[tokio::test]
    async fn raw_octets_are_read_exactly_and_the_client_stays_in_step() {
        let mut wire = b"294 x\r\n".to_vec();
        wire.extend((0..=255u8).cycle().take(100_000));
        let (mut client, _peer) = client_after(&wire).await;
        client.response().await.expect("status");
        let mut got = Vec::new();
        client
            .raw(100_000, |piece| {
                got.extend_from_slice(piece);
                Ok(())
            })
            .await
            .expect("raw");
        assert_eq!(got, wire[7..]);
        next_is_after(&mut client).await;
    }

    #[tokio::test]
    async fn an_overlong_status_line_is_an_error() {
        let wire = format!("200 {}\r\n", "x".repeat(MAX_REPLY_LINE));
        let (mut client, _peer) = client_after(wire.as_bytes()).await;
        assert!(matches!(
            client.response().await,
            Err(ClientError::TooLong(_))
        ));
    }

    #[tokio::test]
    async fn expect_names_the_command_of_an_unexpected_reply() {
        let (mut client, mut peer) = client_after(b"500 What?\r\n").await;
        let error = client
            .expect(&Command::ModeStream, &[Code::STREAMING_OK])
            .await
            .expect_err("refused");
        assert_eq!(error.to_string(), "unexpected reply to MODE: 500 What?");
        let mut sent = vec![0; 13];
        tokio::io::AsyncReadExt::read_exact(&mut peer, &mut sent)
            .await
            .expect("read");
        assert_eq!(sent, b"MODE STREAM\r\n");
        assert_eq!(client.sent(), 13);
    }
}

//! The client over blocking `std::net`, for the command-line tools and the
//! load generator: the same commands, replies and bounded reads as the
//! async [`Client`](super::Client), with socket timeouts instead of tokio's.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

use ed25519_dalek::SigningKey;

use super::block::{self, BlockLimit, Collect, Lines, Text, MAX_REPLY_LINE};
use super::{ClientError, Command, Response};
use crate::proto::Code;

/// One conversation with a server over any blocking stream; replies are
/// read through the buffer, commands written past it.
pub struct Client<S = TcpStream> {
    stream: BufReader<S>,
    sent: u64,
    received: u64,
}

impl Client<TcpStream> {
    /// Connects to the first address of `address` that answers; `timeout`
    /// bounds the connect and every read and write after it.
    pub fn connect(address: impl ToSocketAddrs, timeout: Duration) -> Result<Client, ClientError> {
        let mut last = None;
        for addr in address.to_socket_addrs()? {
            match TcpStream::connect_timeout(&addr, timeout) {
                Ok(stream) => {
                    stream.set_nodelay(true)?;
                    stream.set_read_timeout(Some(timeout))?;
                    stream.set_write_timeout(Some(timeout))?;
                    return Ok(Client::new(stream));
                }
                Err(e) => last = Some(e),
            }
        }
        Err(last
            .unwrap_or_else(|| std::io::Error::other("the address resolves to nothing"))
            .into())
    }

    /// A second handle on the socket, for a thread that only writes while
    /// this one reads the replies.
    pub fn writer(&self) -> Result<TcpStream, ClientError> {
        Ok(self.stream.get_ref().try_clone()?)
    }
}

impl<S: Read + Write> Client<S> {
    pub fn new(stream: S) -> Client<S> {
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

    /// Writes bytes as they are (commands encoded into one buffer).
    pub fn send(&mut self, bytes: &[u8]) -> Result<(), ClientError> {
        let stream = self.stream.get_mut();
        stream.write_all(bytes)?;
        stream.flush()?;
        self.sent += bytes.len() as u64;
        Ok(())
    }

    pub fn command(&mut self, command: &Command<'_>) -> Result<(), ClientError> {
        self.send(&command.to_bytes()?)
    }

    /// Writes an article as a data block (after POST's 340).
    pub fn data(&mut self, text: &[u8]) -> Result<(), ClientError> {
        let mut out = Vec::with_capacity(text.len() + 64);
        block::put_data_block(&mut out, text);
        self.send(&out)
    }

    /// Reads one status line.
    pub fn response(&mut self) -> Result<Response, ClientError> {
        let line = self.line()?;
        Response::parse(&line)
            .ok_or_else(|| ClientError::Garbled(String::from_utf8_lossy(&line).into_owned()))
    }

    /// Writes `command` and reads its status line, which must carry one of
    /// `codes`.
    pub fn expect(
        &mut self,
        command: &Command<'_>,
        codes: &[Code],
    ) -> Result<Response, ClientError> {
        self.command(command)?;
        let response = self.response()?;
        if codes.contains(&response.code) {
            Ok(response)
        } else {
            Err(ClientError::unexpected(command.name(), response))
        }
    }

    /// The next line of a multi-line block as it arrives, unstuffed and
    /// trimmed; None at the terminator.
    pub fn block_line(&mut self) -> Result<Option<Vec<u8>>, ClientError> {
        let line = self.line()?;
        Ok(block::unstuff_line(&line).map(<[u8]>::to_vec))
    }

    /// The lines of a multi-line block, unstuffed; None when there are
    /// more lines or octets than `limit` (the block is still read to its
    /// end, so the connection stays in step).
    pub fn block(&mut self, limit: BlockLimit) -> Result<Option<Vec<Vec<u8>>>, ClientError> {
        self.collect(Lines::new(limit))
    }

    /// The text of a data block (an article), unstuffed, every line ending
    /// in CRLF; None when it is longer than `limit` octets (still read to
    /// its end). No single read buffers more than a reply line's worth.
    pub fn text(&mut self, limit: usize) -> Result<Option<Vec<u8>>, ClientError> {
        self.collect(Text::new(limit))
    }

    /// Feeds a block to `sink` a piece at a time, to its terminator.
    fn collect<C: Collect>(&mut self, mut sink: C) -> Result<Option<C::Out>, ClientError> {
        let mut piece = Vec::new();
        loop {
            piece.clear();
            self.piece(&mut piece)?;
            if sink.feed(&piece) {
                return Ok(sink.finish());
            }
        }
    }

    /// XPEER as the configured peer `name` with its node key `key`;
    /// `server` is the first word of the server's greeting.
    pub fn xpeer(&mut self, server: &str, name: &str, key: &SigningKey) -> Result<(), ClientError> {
        let ask = Command::Xpeer {
            name,
            signature: None,
        };
        let challenge = self.expect(&ask, &[Code::AUTH_CONTINUE])?;
        let signature = super::xpeer_signature(server, name, key, &challenge)?;
        let answer = Command::Xpeer {
            name,
            signature: Some(&signature),
        };
        self.expect(&answer, &[Code::AUTH_ACCEPTED])?;
        Ok(())
    }

    /// QUIT, without waiting for the 205.
    pub fn quit(&mut self) -> Result<(), ClientError> {
        self.command(&Command::Quit)
    }

    /// One whole line of at most MAX_REPLY_LINE octets.
    fn line(&mut self) -> Result<Vec<u8>, ClientError> {
        let mut line = Vec::new();
        if !self.piece(&mut line)? {
            return Err(ClientError::TooLong(MAX_REPLY_LINE));
        }
        Ok(line)
    }

    /// Up to MAX_REPLY_LINE octets, through the next LF if it comes first;
    /// true when the piece ends a line.
    fn piece(&mut self, into: &mut Vec<u8>) -> Result<bool, ClientError> {
        let read = (&mut self.stream)
            .take(MAX_REPLY_LINE as u64)
            .read_until(b'\n', into)?;
        if read == 0 {
            return Err(ClientError::Closed);
        }
        self.received += read as u64;
        Ok(into.ends_with(b"\n"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    /// A server that has already said `input`; what we write is kept.
    struct Wire {
        input: Cursor<Vec<u8>>,
        output: Vec<u8>,
    }

    impl Read for Wire {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            self.input.read(buf)
        }
    }

    impl Write for Wire {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.output.write(buf)
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn client(input: &[u8]) -> Client<Wire> {
        Client::new(Wire {
            input: Cursor::new(input.to_vec()),
            output: Vec::new(),
        })
    }

    #[test]
    fn post_conversation() {
        let mut c = client(b"200 ready\r\n340 send\r\n240 ok\r\n");
        assert_eq!(c.response().expect("greeting").code, Code::READY_POSTING);
        c.expect(&Command::Post, &[Code::POST_SEND]).expect("340");
        c.data(b"Subject: s\r\n\r\n.x\r\n").expect("sent");
        assert_eq!(c.response().expect("240").code, Code::POST_OK);
        assert_eq!(
            c.stream.get_ref().output,
            b"POST\r\nSubject: s\r\n\r\n..x\r\n.\r\n"
        );
        assert_eq!(c.sent(), c.stream.get_ref().output.len() as u64);
        assert!(matches!(c.response(), Err(ClientError::Closed)));
    }

    #[test]
    fn xpeer_signs_the_challenge() {
        let key = SigningKey::from_bytes(&[7; 32]);
        let mut c = client(b"381 c0ffee\r\n281 welcome\r\n");
        c.xpeer("server.example", "us.example", &key)
            .expect("accepted");
        let message =
            crate::proto::signing::peer_challenge_message("server.example", "us.example", "c0ffee");
        let signature = ed25519_dalek::Signer::sign(&key, &message);
        let expected = format!(
            "XPEER us.example\r\nXPEER us.example {}\r\n",
            hex::encode(signature.to_bytes())
        );
        assert_eq!(c.stream.get_ref().output, expected.as_bytes());
        let mut refused = client(b"502 no\r\n");
        let error = refused.xpeer("s", "us.example", &key).expect_err("refused");
        assert!(matches!(
            error,
            ClientError::Unexpected {
                command: "XPEER",
                ..
            }
        ));
    }

    #[test]
    fn blocks_line_by_line_and_whole() {
        let mut c = client(b"progress a=1\r\n..dot\r\n.\r\nx\r\n.\r\n<a@b>\r\n\r\n.\r\n");
        assert_eq!(
            c.block_line().expect("line"),
            Some(b"progress a=1".to_vec())
        );
        assert_eq!(c.block_line().expect("line"), Some(b".dot".to_vec()));
        assert_eq!(c.block_line().expect("end"), None);
        assert_eq!(c.text(100).expect("text"), Some(b"x\r\n".to_vec()));
        let limit = BlockLimit {
            lines: 2,
            bytes: 100,
        };
        assert_eq!(
            c.block(limit).expect("block"),
            Some(vec![b"<a@b>".to_vec(), Vec::new()])
        );
    }

    #[test]
    fn a_bad_argument_sends_nothing() {
        let mut c = client(b"");
        assert!(matches!(
            c.command(&Command::Xsync("a\r\nQUIT")),
            Err(ClientError::Command(_))
        ));
        assert!(c.stream.get_ref().output.is_empty());
    }

    #[test]
    fn garbled_and_overlong_replies_are_errors() {
        assert!(matches!(
            client(b"hello\r\n").response(),
            Err(ClientError::Garbled(_))
        ));
        let long = format!("200 {}\r\n", "x".repeat(MAX_REPLY_LINE));
        assert!(matches!(
            client(long.as_bytes()).response(),
            Err(ClientError::TooLong(_))
        ));
    }
}

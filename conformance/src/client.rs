//! A small blocking NNTP client: connect, send command lines and articles,
//! read status lines and multi-line blocks. Every read and write is bounded
//! by the run's timeout, so a silent server fails a case instead of hanging
//! the suite.

use std::error::Error;
use std::fmt;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpStream, ToSocketAddrs};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::wire::{self, BlockLine, Status};

/// Longest line accepted from a server. Status lines are at most 512 octets
/// (RFC 3977 §3.1) but article lines may be longer; the cap only keeps a
/// misbehaving server from growing our memory without end.
const MAX_LINE: usize = 1 << 20;

/// Lines of one block recorded in the transcript before eliding the rest.
const TRACE_BLOCK_LINES: usize = 12;

/// Octets of one line recorded in the transcript.
const TRACE_LINE_CHARS: usize = 160;

/// Protocol lines of the case being run, shown with `--verbose`. Shared with
/// the runner, and `Arc<Mutex>` rather than `Rc<RefCell>` so a client's
/// stream may be cloned into a writer thread.
pub type Transcript = Arc<Mutex<Vec<String>>>;

#[derive(Debug)]
pub enum ClientError {
    /// No address of the target accepted a connection.
    Connect {
        target: String,
        source: io::Error,
    },
    /// No data within the timeout.
    Timeout,
    /// The server closed or reset the connection.
    Closed,
    /// A line longer than `MAX_LINE` octets.
    LineTooLong,
    /// A reply line that is not a status line.
    BadStatus(String),
    Io(io::Error),
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientError::Connect { target, source } => {
                write!(f, "cannot connect to {target}: {source}")
            }
            ClientError::Timeout => write!(f, "timed out waiting for the server"),
            ClientError::Closed => write!(f, "server closed the connection"),
            ClientError::LineTooLong => {
                write!(f, "server sent a line longer than {MAX_LINE} octets")
            }
            ClientError::BadStatus(line) => write!(f, "malformed status line {line:?}"),
            ClientError::Io(e) => write!(f, "I/O error: {e}"),
        }
    }
}

impl Error for ClientError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match self {
            ClientError::Connect { source, .. } => Some(source),
            ClientError::Io(e) => Some(e),
            _ => None,
        }
    }
}

impl From<io::Error> for ClientError {
    fn from(e: io::Error) -> Self {
        use io::ErrorKind::*;
        match e.kind() {
            // A read timeout surfaces as WouldBlock on Unix, TimedOut elsewhere.
            WouldBlock | TimedOut => ClientError::Timeout,
            ConnectionReset | ConnectionAborted | BrokenPipe | UnexpectedEof | NotConnected => {
                ClientError::Closed
            }
            _ => ClientError::Io(e),
        }
    }
}

pub type Result<T> = std::result::Result<T, ClientError>;

pub struct Client {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
    transcript: Transcript,
}

impl Client {
    /// Connects to `target` and reads the greeting, whatever its code.
    pub fn connect(
        target: &str,
        timeout: Duration,
        transcript: Transcript,
    ) -> Result<(Client, Status)> {
        let stream = open(target, timeout)?;
        stream.set_read_timeout(Some(timeout))?;
        stream.set_write_timeout(Some(timeout))?;
        // Commands are small and each waits for its reply; Nagle would only
        // add latency to every round trip.
        stream.set_nodelay(true)?;
        let writer = stream.try_clone()?;
        let mut client = Client {
            reader: BufReader::new(stream),
            writer,
            transcript,
        };
        client.note(format!("-- connected to {target}"));
        let greeting = client.read_status()?;
        Ok((client, greeting))
    }

    /// Sends one command line; the CRLF is added here.
    pub fn send_line(&mut self, line: &str) -> Result<()> {
        self.note(format!("> {line}"));
        let mut buf = Vec::with_capacity(line.len() + 2);
        buf.extend_from_slice(line.as_bytes());
        buf.extend_from_slice(b"\r\n");
        self.writer.write_all(&buf)?;
        Ok(())
    }

    /// Sends bytes exactly as given: for malformed input and pipelining.
    pub fn send_raw(&mut self, bytes: &[u8]) -> Result<()> {
        self.note(format!(
            "> [{} raw octets] {}",
            bytes.len(),
            String::from_utf8_lossy(&bytes[..bytes.len().min(TRACE_LINE_CHARS)]).escape_debug()
        ));
        self.writer.write_all(bytes)?;
        Ok(())
    }

    /// Sends a command and reads its status line.
    pub fn command(&mut self, line: &str) -> Result<Status> {
        self.send_line(line)?;
        self.read_status()
    }

    /// Sends lines as a dot-stuffed, terminated data block (§3.1.1).
    pub fn send_block<S: AsRef<str>>(&mut self, lines: &[S]) -> Result<()> {
        self.note(format!("> [data block of {} lines]", lines.len()));
        self.writer.write_all(&wire::encode_block(lines))?;
        Ok(())
    }

    pub fn read_status(&mut self) -> Result<Status> {
        let line = self.read_line()?;
        let line = wire::trim_eol(&line);
        let text = String::from_utf8_lossy(line).into_owned();
        self.note(format!("< {text}"));
        wire::parse_status(line).ok_or(ClientError::BadStatus(text))
    }

    /// Reads a multi-line data block up to its "." line, undoing
    /// dot-stuffing. Invalid UTF-8 is replaced: cases compare against the
    /// ASCII the suite itself sent.
    pub fn read_block(&mut self) -> Result<Vec<String>> {
        let mut lines = Vec::new();
        loop {
            let raw = self.read_line()?;
            match wire::unstuff(wire::trim_eol(&raw)) {
                BlockLine::End => break,
                BlockLine::Data(d) => lines.push(String::from_utf8_lossy(d).into_owned()),
            }
        }
        self.note_block(&lines);
        Ok(lines)
    }

    /// Reads exactly `count` raw octets (a length-prefixed answer such as
    /// XFILE's), with no line structure or dot-stuffing.
    pub fn read_raw(&mut self, count: usize) -> Result<Vec<u8>> {
        let mut bytes = vec![0u8; count];
        self.reader.read_exact(&mut bytes)?;
        self.note(format!("< [{count} raw octets]"));
        Ok(bytes)
    }

    /// Waits for the server to close the connection. `Ok(true)` on EOF or
    /// reset, `Ok(false)` if it sent more data or stayed open until the
    /// timeout.
    pub fn wait_closed(&mut self) -> Result<bool> {
        let mut byte = [0u8; 1];
        match self.reader.read(&mut byte) {
            Ok(0) => Ok(true),
            Ok(_) => Ok(false),
            Err(e) => match ClientError::from(e) {
                ClientError::Closed => Ok(true),
                ClientError::Timeout => Ok(false),
                other => Err(other),
            },
        }
    }

    /// A second handle on the socket, for writing from another thread while
    /// this one reads.
    pub fn clone_stream(&self) -> Result<TcpStream> {
        Ok(self.writer.try_clone()?)
    }

    /// Closes both directions without QUIT, as a crashed peer would.
    pub fn abort(self) {
        self.note("-- connection aborted by the suite".to_string());
        // The socket is dropped right after; an error here changes nothing.
        let _ = self.writer.shutdown(Shutdown::Both);
    }

    /// Adds a free-form line to the transcript.
    pub fn note(&self, line: String) {
        let mut t = self.transcript.lock().unwrap_or_else(|e| e.into_inner());
        t.push(truncate(line));
    }

    fn note_block(&self, lines: &[String]) {
        let mut t = self.transcript.lock().unwrap_or_else(|e| e.into_inner());
        for line in lines.iter().take(TRACE_BLOCK_LINES) {
            t.push(truncate(format!("<   {line}")));
        }
        if lines.len() > TRACE_BLOCK_LINES {
            t.push(format!(
                "<   ... {} more lines",
                lines.len() - TRACE_BLOCK_LINES
            ));
        }
        t.push("<   .".to_string());
    }

    /// Reads one line including its LF, refusing lines over `MAX_LINE`.
    fn read_line(&mut self) -> Result<Vec<u8>> {
        let mut line = Vec::new();
        let n = (&mut self.reader)
            .take(MAX_LINE as u64 + 1)
            .read_until(b'\n', &mut line)?;
        if n == 0 {
            return Err(ClientError::Closed);
        }
        if line.last() != Some(&b'\n') {
            return Err(if line.len() > MAX_LINE {
                ClientError::LineTooLong
            } else {
                // EOF in the middle of a line.
                ClientError::Closed
            });
        }
        Ok(line)
    }
}

fn open(target: &str, timeout: Duration) -> Result<TcpStream> {
    let connect_err = |source| ClientError::Connect {
        target: target.to_string(),
        source,
    };
    let addrs = target.to_socket_addrs().map_err(connect_err)?;
    let mut last = io::Error::new(io::ErrorKind::NotFound, "no address to connect to");
    for addr in addrs {
        match TcpStream::connect_timeout(&addr, timeout) {
            Ok(s) => return Ok(s),
            Err(e) => last = e,
        }
    }
    Err(connect_err(last))
}

fn truncate(mut line: String) -> String {
    if line.len() > TRACE_LINE_CHARS {
        let mut cut = TRACE_LINE_CHARS;
        while !line.is_char_boundary(cut) {
            cut -= 1;
        }
        let total = line.len();
        line.truncate(cut);
        line.push_str(&format!("... ({total} octets)"));
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;
    use std::thread;

    /// Serves `script` to one connection, returning what the client sent.
    fn serve(script: &'static [u8]) -> (String, thread::JoinHandle<Vec<u8>>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let handle = thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            s.write_all(script).unwrap();
            s.shutdown(Shutdown::Write).unwrap();
            let mut got = Vec::new();
            s.read_to_end(&mut got).unwrap();
            got
        });
        (addr, handle)
    }

    fn transcript() -> Transcript {
        Arc::new(Mutex::new(Vec::new()))
    }

    #[test]
    fn reads_greeting_status_and_block() {
        let (addr, server) =
            serve(b"200 hello\r\n101 caps\r\nVERSION 2\r\n..dotted\r\nREADER\n.\r\n");
        let (mut c, greeting) =
            Client::connect(&addr, Duration::from_secs(5), transcript()).unwrap();
        assert_eq!(greeting.code, 200);
        let st = c.command("CAPABILITIES").unwrap();
        assert_eq!(st.code, 101);
        let block = c.read_block().unwrap();
        assert_eq!(block, vec!["VERSION 2", ".dotted", "READER"]);
        assert!(c.wait_closed().unwrap());
        drop(c);
        assert_eq!(server.join().unwrap(), b"CAPABILITIES\r\n");
    }

    #[test]
    fn block_cut_short_is_closed() {
        let (addr, _server) = serve(b"200 hello\r\n215 list\r\nmisc.test 1 1 y\r\n");
        let (mut c, _) = Client::connect(&addr, Duration::from_secs(5), transcript()).unwrap();
        c.read_status().unwrap();
        assert!(matches!(c.read_block(), Err(ClientError::Closed)));
    }

    #[test]
    fn malformed_status_is_reported() {
        let (addr, _server) = serve(b"hello there\r\n");
        assert!(matches!(
            Client::connect(&addr, Duration::from_secs(5), transcript()),
            Err(ClientError::BadStatus(_))
        ));
    }

    #[test]
    fn article_is_stuffed_on_the_wire() {
        let (addr, server) = serve(b"200 hello\r\n");
        let (mut c, _) = Client::connect(&addr, Duration::from_secs(5), transcript()).unwrap();
        c.send_block(&["H: v", "", ".x"]).unwrap();
        drop(c);
        assert_eq!(server.join().unwrap(), b"H: v\r\n\r\n..x\r\n.\r\n");
    }

    #[test]
    fn transcript_lines_are_truncated() {
        let long = "x".repeat(1000);
        let t = truncate(long);
        assert!(t.len() < 200);
        assert!(t.ends_with("(1000 octets)"));
    }
}

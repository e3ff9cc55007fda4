//! The harness's NNTP client. Unlike `common::Client` it returns errors
//! instead of panicking: the node at the other end may be killed at any
//! moment, and that is part of the test, not a failure of it.

use std::io::{self, BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use ed25519_dalek::SigningKey;

const TIMEOUT: Duration = Duration::from_secs(20);

pub struct Conn {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
    /// The server's Path identity, from its greeting (XPEER signs it).
    pub server: String,
}

fn broken(what: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what)
}

impl Conn {
    pub fn connect(addr: SocketAddr) -> io::Result<Conn> {
        let stream = TcpStream::connect_timeout(&addr, TIMEOUT)?;
        stream.set_read_timeout(Some(TIMEOUT))?;
        stream.set_write_timeout(Some(TIMEOUT))?;
        stream.set_nodelay(true)?;
        let writer = stream.try_clone()?;
        let mut conn = Conn {
            reader: BufReader::new(stream),
            writer,
            server: String::new(),
        };
        let (code, text) = conn.status()?;
        if code != 200 && code != 201 {
            return Err(broken(format!("greeting {code} {text}")));
        }
        conn.server = text.split(' ').next().unwrap_or_default().to_string();
        Ok(conn)
    }

    /// Connects and authenticates as peer `name` holding `key`, in
    /// streaming mode, ready for CHECK and TAKETHIS.
    pub fn peer(addr: SocketAddr, name: &str, key: &SigningKey) -> io::Result<Conn> {
        let mut conn = Conn::connect(addr)?;
        let (code, challenge) = conn.cmd(&format!("XPEER {name}"))?;
        if code != 381 {
            return Err(broken(format!("XPEER: {code} {challenge}")));
        }
        let message =
            tidings::proto::signing::peer_challenge_message(&conn.server, name, &challenge);
        let signature = ed25519_dalek::Signer::sign(key, &message);
        let (code, text) = conn.cmd(&format!(
            "XPEER {name} {}",
            hex::encode(signature.to_bytes())
        ))?;
        if code != 281 {
            return Err(broken(format!("XPEER: {code} {text}")));
        }
        let (code, text) = conn.cmd("MODE STREAM")?;
        if code != 203 {
            return Err(broken(format!("MODE STREAM: {code} {text}")));
        }
        Ok(conn)
    }

    pub fn send(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.writer.write_all(bytes)
    }

    pub fn line(&mut self) -> io::Result<String> {
        let mut line = Vec::new();
        self.reader.read_until(b'\n', &mut line)?;
        if !line.ends_with(b"\r\n") {
            return Err(broken(format!(
                "line without CRLF: {:?}",
                String::from_utf8_lossy(&line)
            )));
        }
        line.truncate(line.len() - 2);
        Ok(String::from_utf8_lossy(&line).into_owned())
    }

    pub fn status(&mut self) -> io::Result<(u16, String)> {
        let line = self.line()?;
        let code = line
            .get(..3)
            .and_then(|c| c.parse().ok())
            .ok_or_else(|| broken(format!("bad status line {line:?}")))?;
        Ok((code, line.get(4..).unwrap_or("").to_string()))
    }

    pub fn cmd(&mut self, command: &str) -> io::Result<(u16, String)> {
        self.send(format!("{command}\r\n").as_bytes())?;
        self.status()
    }

    /// A dot-terminated block, dot-stuffing undone.
    pub fn block(&mut self) -> io::Result<Vec<String>> {
        let mut lines = Vec::new();
        loop {
            let line = self.line()?;
            if line == "." {
                return Ok(lines);
            }
            lines.push(line.strip_prefix('.').map(str::to_string).unwrap_or(line));
        }
    }

    pub fn takethis(&mut self, id: &str, article: &str) -> io::Result<(u16, String)> {
        let mut wire = format!("TAKETHIS {id}\r\n");
        wire.push_str(&crate::common::stuffed(article));
        self.send(wire.as_bytes())?;
        self.status()
    }

    pub fn post(&mut self, article: &str) -> io::Result<(u16, String)> {
        let (code, text) = self.cmd("POST")?;
        if code != 340 {
            return Ok((code, text));
        }
        self.send(crate::common::stuffed(article).as_bytes())?;
        self.status()
    }

    /// CHECK of every id in one write, the replies in order.
    pub fn check_all(&mut self, ids: &[String]) -> io::Result<Vec<(u16, String)>> {
        let mut wire = String::new();
        for id in ids {
            wire.push_str(&format!("CHECK {id}\r\n"));
        }
        self.send(wire.as_bytes())?;
        ids.iter().map(|_| self.status()).collect()
    }
}

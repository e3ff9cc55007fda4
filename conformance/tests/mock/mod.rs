//! What the mock servers of these tests share: reading command lines the
//! way an NNTP server does, and running the suite against a mock.
#![allow(dead_code)]

use std::io::Read;
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::time::Duration;

use conformance::{run, Options, Summary};

/// Runs the suite against a mock that `serve` runs on a fresh loopback
/// listener (on its own thread): the summary and the report.
pub fn run_suite(
    serve: impl FnOnce(TcpListener) + Send + 'static,
    group: Option<&str>,
    key: Option<PathBuf>,
    peer_name: Option<&str>,
) -> (Summary, String) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let target = listener.local_addr().unwrap().to_string();
    std::thread::spawn(move || serve(listener));
    let opts = Options {
        target,
        group: group.map(str::to_string),
        timeout: Duration::from_secs(5),
        verbose: false,
        key,
        peer_name: peer_name.map(str::to_string),
        http: None,
    };
    let mut out = Vec::new();
    let summary = run(&opts, &mut out);
    (summary, String::from_utf8(out).unwrap())
}

/// Longest command line a mock takes (RFC 3977 §3.1).
pub const MAX_LINE: usize = 512;

/// Lines from a client, LF-terminated with a CR trimmed. A line longer than
/// [`MAX_LINE`] is cut there and flagged, unless the caller is reading an
/// article, where lines may be longer.
pub struct Lines {
    stream: TcpStream,
    buf: Vec<u8>,
    start: usize,
    end: usize,
}

impl Lines {
    pub fn new(stream: TcpStream) -> Lines {
        Lines {
            stream,
            buf: vec![0; 64 * 1024],
            start: 0,
            end: 0,
        }
    }

    /// The next line and whether it was too long; None at end of input.
    pub fn next(&mut self, article: bool) -> std::io::Result<Option<(String, bool)>> {
        let mut line = Vec::new();
        let mut overlong = false;
        loop {
            if self.start == self.end {
                self.end = self.stream.read(&mut self.buf)?;
                self.start = 0;
                if self.end == 0 {
                    return Ok(None);
                }
            }
            let b = self.buf[self.start];
            self.start += 1;
            if b == b'\n' {
                let text = String::from_utf8_lossy(&line)
                    .trim_end_matches('\r')
                    .to_string();
                return Ok(Some((text, overlong)));
            }
            if line.len() < MAX_LINE || article {
                line.push(b);
            } else {
                overlong = true;
            }
        }
    }

    /// The lines of an article up to its terminating ".", dot-stuffing
    /// undone; None if the client went away first.
    pub fn article(&mut self) -> std::io::Result<Option<Vec<String>>> {
        let mut lines = Vec::new();
        while let Some((text, _)) = self.next(true)? {
            if text == "." {
                return Ok(Some(lines));
            }
            lines.push(text.strip_prefix('.').unwrap_or(&text).to_string());
        }
        Ok(None)
    }
}

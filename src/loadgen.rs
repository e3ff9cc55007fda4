//! A load generator: streams signed-size articles to a server with
//! pipelined TAKETHIS (or IHAVE) over several connections and reports the
//! rate. Used by `tidings loadgen` and by `cargo bench`. Blocking std I/O,
//! one writer and one reader thread per connection, so it measures the
//! server rather than its own scheduler.

use std::io::Write;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::client::{blocking, ClientError, Command};
use crate::proto::Code;

#[derive(Debug, Clone)]
pub struct Load {
    pub target: SocketAddr,
    pub connections: usize,
    pub articles: usize,
    /// Approximate article size in octets (headers included).
    pub size: usize,
    pub group: String,
    /// Articles per write when streaming.
    pub window: usize,
    /// Signs every article (the target must trust the key); articles are
    /// built and signed before the clock starts, unless there are more
    /// than [`PREBUILT_BYTES`] of them.
    pub key: Option<ed25519_dalek::SigningKey>,
    /// Authenticate with XPEER as this configured peer, whose node key is
    /// `key` (protocol-spec/peering.md §2).
    pub peer: Option<String>,
}

/// The most article bytes built before the clock starts. A bigger load
/// (a store of millions of articles) is built while it is sent, each
/// connection's articles by a thread of its own a few writes ahead, so the
/// generator's memory stays flat; its signing then shares the machine with
/// the server, which the report says.
pub const PREBUILT_BYTES: usize = 1 << 30;

/// Writes a connection's builder may be ahead of its sender.
const BUILT_AHEAD: usize = 16;

#[derive(Debug, Default, Clone)]
pub struct Outcome {
    pub accepted: usize,
    pub refused: usize,
    pub other: usize,
    pub bytes: usize,
    pub elapsed: Duration,
    /// Whether the articles were built while they were sent.
    pub built_meanwhile: bool,
}

impl Outcome {
    pub fn rate(&self) -> f64 {
        (self.accepted + self.refused) as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} accepted, {} refused, {} other replies in {:.3} s: {:.0} articles/s, {:.1} MiB/s",
            self.accepted,
            self.refused,
            self.other,
            self.elapsed.as_secs_f64(),
            self.rate(),
            self.bytes as f64 / (1 << 20) as f64 / self.elapsed.as_secs_f64().max(1e-9)
        )?;
        if self.built_meanwhile {
            write!(f, " (articles built and signed while sending)")?;
        }
        Ok(())
    }
}

/// One article's Message-ID and bytes, signed when a key is given.
fn build(load: &Load, tag: &str, i: usize) -> (String, Vec<u8>) {
    let unique = format!("load.{tag}.{i}");
    match &load.key {
        None => {
            let id = format!("<{unique}@loadgen.invalid>");
            let bytes = article(&id, &load.group, load.size);
            (id, bytes)
        }
        Some(key) => {
            let id = crate::proto::signing::new_message_id(
                &key.verifying_key(),
                &unique,
                "loadgen.invalid",
            );
            let id = String::from_utf8_lossy(&id).into_owned();
            let raw = bytes::Bytes::from(article(&id, &load.group, load.size));
            let signed = crate::proto::article::Article::parse(raw)
                .ok()
                .and_then(|a| crate::proto::signing::sign(&a, key).ok())
                .map(|b| b.to_vec())
                .unwrap_or_default();
            (id, signed)
        }
    }
}

fn article(id: &str, group: &str, size: usize) -> Vec<u8> {
    let head = format!(
        "Path: loadgen!not-for-mail\r\nFrom: Load <load@loadgen.invalid>\r\nNewsgroups: {group}\r\nSubject: load {id}\r\nDate: Sun, 22 Nov 2026 04:20:54 +0000\r\nMessage-ID: {id}\r\n\r\n"
    );
    let mut out = head.into_bytes();
    let line = b"The quick brown fox jumps over the lazy dog, again and again.\r\n";
    while out.len() < size {
        out.extend_from_slice(line);
    }
    out
}

/// Runs the load; every connection streams `articles / connections`. The
/// articles are built (and signed) first, unless they are too many to
/// hold; the clock covers the transfer.
pub fn run(load: &Load) -> Result<Outcome, ClientError> {
    let run_tag = format!(
        "{}.{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_micros())
    );
    let connections = load.connections.max(1);
    let per_connection = load.articles.div_ceil(connections);
    let meanwhile = load.articles.saturating_mul(load.size + 400) > PREBUILT_BYTES;
    let start = std::sync::Arc::new(std::sync::Barrier::new(connections + 1));
    let mut workers = Vec::new();
    for c in 0..connections {
        let load = load.clone();
        let tag = format!("{run_tag}.{c}");
        let start = start.clone();
        workers.push(std::thread::spawn(move || {
            let wires: Wires = if meanwhile {
                built_ahead(&load, &tag, per_connection)
            } else {
                let built: Result<Vec<Vec<u8>>, ClientError> = windows(&load, per_connection)
                    .map(|w| wire(&load, &tag, w))
                    .collect();
                Box::new(built.map(|b| b.into_iter().map(Ok))?)
            };
            start.wait();
            stream(&load, wires, per_connection)
        }));
    }
    start.wait();
    let started = Instant::now();
    let mut total = Outcome::default();
    for worker in workers {
        let part = worker
            .join()
            .map_err(|_| std::io::Error::other("load thread panicked"))??;
        total.accepted += part.accepted;
        total.refused += part.refused;
        total.other += part.other;
        total.bytes += part.bytes;
    }
    total.elapsed = started.elapsed();
    total.built_meanwhile = meanwhile;
    Ok(total)
}

/// A connection's writes, in order.
type Wires = Box<dyn Iterator<Item = Result<Vec<u8>, ClientError>> + Send>;

/// The article ranges of a connection's writes.
fn windows(load: &Load, count: usize) -> impl Iterator<Item = std::ops::Range<usize>> {
    let window = load.window.max(1);
    (0..count)
        .step_by(window)
        .map(move |start| start..(start + window).min(count))
}

/// A connection's writes built by a thread of its own, at most
/// [`BUILT_AHEAD`] ahead of the sender.
fn built_ahead(load: &Load, tag: &str, count: usize) -> Wires {
    let (tx, rx) = std::sync::mpsc::sync_channel(BUILT_AHEAD);
    let (load, tag) = (load.clone(), tag.to_string());
    std::thread::spawn(move || {
        for range in windows(&load, count) {
            // The sender gone (an error) ends the building.
            if tx.send(wire(&load, &tag, range)).is_err() {
                return;
            }
        }
    });
    Box::new(rx.into_iter())
}

/// One write of a connection's TAKETHIS stream: the articles of `range`.
fn wire(load: &Load, tag: &str, range: std::ops::Range<usize>) -> Result<Vec<u8>, ClientError> {
    let mut wire = Vec::with_capacity(range.len() * (load.size + 400));
    for i in range {
        let (id, article) = build(load, tag, i);
        Command::Takethis {
            id: id.as_bytes(),
            article: &article,
        }
        .encode(&mut wire)?;
    }
    Ok(wire)
}

fn stream(load: &Load, wires: Wires, count: usize) -> Result<Outcome, ClientError> {
    let mut server = blocking::Client::connect(load.target, Duration::from_secs(60))?;
    let greeting = server.response()?;
    if let (Some(peer), Some(key)) = (&load.peer, &load.key) {
        // XPEER, so a node that takes transit only from peers accepts the
        // load; the server's name is its greeting's first word.
        server.xpeer(greeting.first_word().unwrap_or_default(), peer, key)?;
    }
    server.expect(&Command::ModeStream, &[Code::STREAMING_OK])?;
    let mut writer = server.writer()?;
    let sender = std::thread::spawn(move || -> Result<usize, ClientError> {
        let mut bytes = 0;
        for wire in wires {
            let wire = wire?;
            writer.write_all(&wire)?;
            bytes += wire.len();
        }
        Ok(bytes)
    });
    let mut outcome = Outcome::default();
    for _ in 0..count {
        match server.response() {
            Ok(reply) if reply.code == Code::TAKETHIS_OK => outcome.accepted += 1,
            Ok(reply) if reply.code == Code::TAKETHIS_REJECTED => outcome.refused += 1,
            Ok(_) | Err(ClientError::Garbled(_)) => outcome.other += 1,
            Err(e) => return Err(e),
        }
    }
    outcome.bytes = sender
        .join()
        .map_err(|_| std::io::Error::other("sender panicked"))??;
    Ok(outcome)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_built_while_sending_are_the_prebuilt_ones() {
        let load = Load {
            target: SocketAddr::from(([127, 0, 0, 1], 1)),
            connections: 1,
            articles: 10,
            size: 300,
            group: "load.test".into(),
            window: 3,
            key: Some(ed25519_dalek::SigningKey::from_bytes(&[7; 32])),
            peer: None,
        };
        let prebuilt: Vec<Vec<u8>> = windows(&load, 10)
            .map(|range| wire(&load, "t", range).expect("wire"))
            .collect();
        let ahead: Vec<Vec<u8>> = built_ahead(&load, "t", 10)
            .map(|w| w.expect("wire"))
            .collect();
        // 3 + 3 + 3 + 1 articles, each a signed TAKETHIS.
        assert_eq!(prebuilt.len(), 4);
        let commands = |w: &[u8]| memchr::memmem::find_iter(w, b"TAKETHIS <").count();
        assert_eq!(prebuilt.iter().map(|w| commands(w)).sum::<usize>(), 10);
        assert!(prebuilt
            .iter()
            .all(|w| memchr::memmem::find(w, b"Tidings-Signature: ed25519 ").is_some()));
        assert_eq!(ahead, prebuilt);
    }
}

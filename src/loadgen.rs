//! A load generator: streams signed-size articles to a server with
//! pipelined TAKETHIS (or IHAVE) over several connections and reports the
//! rate. Used by `tidings loadgen` and by `cargo bench`. Blocking std I/O,
//! one writer and one reader thread per connection, so it measures the
//! server rather than its own scheduler.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

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
    /// built and signed before the clock starts.
    pub key: Option<ed25519_dalek::SigningKey>,
    /// Authenticate with XPEER as this configured peer, whose node key is
    /// `key` (protocol-spec/peering.md §2).
    pub peer: Option<String>,
}

#[derive(Debug, Default, Clone)]
pub struct Outcome {
    pub accepted: usize,
    pub refused: usize,
    pub other: usize,
    pub bytes: usize,
    pub elapsed: Duration,
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
        )
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
/// articles are built (and signed) first; the clock covers the transfer.
pub fn run(load: &Load) -> std::io::Result<Outcome> {
    let run_tag = format!(
        "{}.{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_micros())
    );
    let connections = load.connections.max(1);
    let per_connection = load.articles.div_ceil(connections);
    let start = std::sync::Arc::new(std::sync::Barrier::new(connections + 1));
    let mut workers = Vec::new();
    for c in 0..connections {
        let load = load.clone();
        let tag = format!("{run_tag}.{c}");
        let start = start.clone();
        workers.push(std::thread::spawn(move || {
            let wires = wires(&load, &tag, per_connection);
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
    Ok(total)
}

/// The TAKETHIS stream of one connection, in writes of `window` articles.
fn wires(load: &Load, tag: &str, count: usize) -> Vec<Vec<u8>> {
    let window = load.window.max(1);
    (0..count)
        .step_by(window)
        .map(|start| {
            let mut wire = Vec::with_capacity(window * (load.size + 400));
            for i in start..(start + window).min(count) {
                let (id, bytes) = build(load, tag, i);
                wire.extend_from_slice(format!("TAKETHIS {id}\r\n").as_bytes());
                crate::proto::reply::put_stuffed_text_into(&mut wire, &bytes);
                wire.extend_from_slice(b".\r\n");
            }
            wire
        })
        .collect()
}

/// XPEER challenge and response, so a node that takes transit only from
/// peers accepts the load.
fn xpeer(
    reader: &mut BufReader<TcpStream>,
    writer: &mut TcpStream,
    server: &str,
    peer: &str,
    key: &ed25519_dalek::SigningKey,
) -> std::io::Result<()> {
    let mut line = String::new();
    writer.write_all(format!("XPEER {peer}\r\n").as_bytes())?;
    reader.read_line(&mut line)?;
    let challenge = match line.strip_prefix("381 ") {
        Some(challenge) => challenge.trim().to_string(),
        None => {
            return Err(std::io::Error::other(format!(
                "XPEER refused: {}",
                line.trim()
            )))
        }
    };
    let message = crate::proto::signing::peer_challenge_message(server, peer, &challenge);
    let signature = ed25519_dalek::Signer::sign(key, &message);
    writer
        .write_all(format!("XPEER {peer} {}\r\n", hex::encode(signature.to_bytes())).as_bytes())?;
    line.clear();
    reader.read_line(&mut line)?;
    if !line.starts_with("281") {
        return Err(std::io::Error::other(format!(
            "XPEER refused: {}",
            line.trim()
        )));
    }
    Ok(())
}

fn stream(load: &Load, wires: Vec<Vec<u8>>, count: usize) -> std::io::Result<Outcome> {
    let socket = TcpStream::connect(load.target)?;
    socket.set_nodelay(true)?;
    socket.set_read_timeout(Some(Duration::from_secs(60)))?;
    let mut reader = BufReader::new(socket.try_clone()?);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let mut writer = socket;
    if let (Some(peer), Some(key)) = (&load.peer, &load.key) {
        let server = line
            .split_whitespace()
            .nth(1)
            .unwrap_or_default()
            .to_string();
        xpeer(&mut reader, &mut writer, &server, peer, key)?;
    }
    writer.write_all(b"MODE STREAM\r\n")?;
    line.clear();
    reader.read_line(&mut line)?;
    if !line.starts_with("203") {
        return Err(std::io::Error::other(format!(
            "MODE STREAM refused: {}",
            line.trim()
        )));
    }
    let sender = std::thread::spawn(move || -> std::io::Result<usize> {
        let mut bytes = 0;
        for wire in &wires {
            writer.write_all(wire)?;
            bytes += wire.len();
        }
        Ok(bytes)
    });
    let mut outcome = Outcome::default();
    for _ in 0..count {
        line.clear();
        if reader.read_line(&mut line)? == 0 {
            return Err(std::io::Error::other(
                "server closed the connection mid-stream",
            ));
        }
        match line.get(..3) {
            Some("239") => outcome.accepted += 1,
            Some("439") => outcome.refused += 1,
            _ => outcome.other += 1,
        }
    }
    outcome.bytes = sender
        .join()
        .map_err(|_| std::io::Error::other("sender panicked"))??;
    Ok(outcome)
}

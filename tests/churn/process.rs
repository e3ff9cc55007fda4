//! One `tidings serve` process per node, started and killed with -9 on the
//! same data directory and configuration as often as the schedule says.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What the harness keeps of a node's log across its lives.
#[derive(Default)]
pub struct Log {
    /// The last lines, for a report when something goes wrong.
    pub tail: VecDeque<String>,
    /// Lines at ERROR level and panics: each one is worth a look.
    pub errors: Vec<String>,
    pub panics: Vec<String>,
    /// From each "catch-up done" summary: ids the peer had and this node
    /// asked for, and those of them it stored. Asked for but not stored
    /// means a body fetched in full and then refused (or gone meanwhile).
    pub catch_up_missing: u64,
    pub catch_up_fetched: u64,
}

/// The value of `key=` in a log line's fields.
fn field(line: &str, key: &str) -> Option<u64> {
    line.split_whitespace()
        .find_map(|w| w.strip_prefix(key))
        .and_then(|v| v.parse().ok())
}

const TAIL: usize = 200;

pub struct Process {
    pub name: String,
    pub config: PathBuf,
    /// Every line of every life, for a look after the run (CHURN_KEEP).
    log_file: PathBuf,
    child: Option<Child>,
    /// Where the current life listens.
    pub addr: Option<SocketAddr>,
    /// Lives so far (1 after the first start).
    pub lives: u32,
    pub log: Arc<Mutex<Log>>,
}

impl Process {
    pub fn new(name: String, config: PathBuf, log_file: PathBuf) -> Process {
        Process {
            name,
            config,
            log_file,
            child: None,
            addr: None,
            lives: 0,
            log: Arc::new(Mutex::new(Log::default())),
        }
    }

    pub fn is_up(&self) -> bool {
        self.child.is_some()
    }

    /// Starts the node and waits until it listens. A node that cannot start
    /// again on its own data directory after kill -9 is a finding, so this
    /// returns the reason instead of panicking.
    pub fn start(&mut self) -> Result<SocketAddr, String> {
        assert!(self.child.is_none(), "{} is already running", self.name);
        let mut child = Command::new(env!("CARGO_BIN_EXE_tidings"))
            .args(["serve", "--config"])
            .arg(&self.config)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("spawn tidings serve: {e}"))?;
        self.lives += 1;
        let stderr = child.stderr.take().expect("piped stderr");
        let (tx, rx) = std::sync::mpsc::channel();
        let log = self.log.clone();
        let life = self.lives;
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log_file)
            .map_err(|e| format!("{}: {e}", self.log_file.display()))?;
        // Reads to the end, so the node never blocks on a full pipe.
        std::thread::spawn(move || {
            let mut tx = Some(tx);
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                let _ = writeln!(file, "life {life}: {line}");
                if tx.is_some() && line.contains("listening for NNTP") {
                    let addr = line
                        .split_whitespace()
                        .find_map(|w| w.strip_prefix("addr="))
                        .and_then(|a| a.parse::<SocketAddr>().ok());
                    if let (Some(addr), Some(tx)) = (addr, tx.take()) {
                        let _ = tx.send(addr);
                    }
                }
                let mut log = log.lock().unwrap_or_else(|e| e.into_inner());
                if line.contains("catch-up done") {
                    log.catch_up_missing += field(&line, "missing=").unwrap_or(0);
                    log.catch_up_fetched += field(&line, "fetched=").unwrap_or(0);
                }
                if line.contains("panicked at") {
                    log.panics.push(format!("life {life}: {line}"));
                } else if line.contains(" ERROR ") {
                    log.errors.push(format!("life {life}: {line}"));
                }
                if log.tail.len() == TAIL {
                    log.tail.pop_front();
                }
                log.tail.push_back(format!("life {life}: {line}"));
            }
        });
        match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(addr) if addr.ip().is_loopback() => {
                self.child = Some(child);
                self.addr = Some(addr);
                Ok(addr)
            }
            other => {
                let _ = child.kill();
                let _ = child.wait();
                Err(format!(
                    "{} did not report a 127.0.0.1 address ({other:?}); log tail:\n{}",
                    self.name,
                    self.tail(30)
                ))
            }
        }
    }

    /// SIGKILL: the node gets no chance to flush or clean up.
    pub fn kill_9(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().expect("SIGKILL");
            child.wait().expect("reaped");
        }
        self.addr = None;
    }

    /// True when the process ended on its own (a crash).
    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        let child = self.child.as_mut()?;
        match child.try_wait() {
            Ok(Some(status)) => {
                self.child = None;
                self.addr = None;
                Some(status)
            }
            _ => None,
        }
    }

    pub fn tail(&self, lines: usize) -> String {
        let log = self.log.lock().unwrap_or_else(|e| e.into_inner());
        let skip = log.tail.len().saturating_sub(lines);
        log.tail
            .iter()
            .skip(skip)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

//! What the benchmarks that run `tidings serve` processes share.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A number from the environment, or `default`.
pub fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A node as its own process, so its memory is its own; killed when
/// dropped.
pub struct NodeProcess(pub Child);

impl Drop for NodeProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `tidings serve --config <config>` (the benchmark's build of
/// the binary) and waits until its HTTP listener at `http` answers.
pub fn spawn_node(config: &Path, http: SocketAddr) -> NodeProcess {
    let child = Command::new(env!("CARGO_BIN_EXE_tidings"))
        .arg("serve")
        .arg("--config")
        .arg(config)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("tidings serve starts");
    let node = NodeProcess(child);
    let started = Instant::now();
    while std::net::TcpStream::connect(http).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the node did not start"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    node
}

/// A loopback port free now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// A memory figure of process `pid` from /proc, in KiB: `VmRSS` (now)
/// or `VmHWM` (its peak); 0 when unreadable.
pub fn memory_kib(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field) && l[field.len()..].starts_with(':'))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|n| n.parse().ok())
        })
        .unwrap_or(0)
}

//! `cargo bench --bench transfer`: files between two nodes (issue 15).
//! Two `tidings serve` processes (the release binary) peered on loopback;
//! BENCH_FILES (default 16) files of BENCH_FILE_MIB (default 64) MiB each,
//! 1 GiB in all, are put to A over HTTP and referenced by one post each on
//! an eager board; B fetches them with XFILE as the posts reach it. Prints
//! the transfer's MB/s from the first post to the last file whole at B,
//! the same files copied with `cp` on the same disk in the same run (and
//! `cp` then `sync`, since every fetched file is synced), and both nodes'
//! resident memory sampled during the transfer, against the file size.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

mod common;

use common::{env_or, free_port, memory_kib, spawn_node, NodeProcess};

const BOARD: &str = "bench.files";

struct Node {
    name: &'static str,
    data: PathBuf,
    nntp: SocketAddr,
    http: SocketAddr,
    key: String,
}

impl Node {
    fn new(dir: &Path, name: &'static str) -> Node {
        let data = dir.join(name);
        std::fs::create_dir_all(&data).expect("data dir");
        let key = tidings::keys::write_new_secret_key(&data.join("node.key")).expect("key");
        Node {
            name,
            data,
            nntp: SocketAddr::from(([127, 0, 0, 1], free_port())),
            http: SocketAddr::from(([127, 0, 0, 1], free_port())),
            key: hex::encode(key.verifying_key().as_bytes()),
        }
    }

    fn start(&self, peer: &Node, max_bytes: usize) -> NodeProcess {
        let config = self.data.join("node.toml");
        std::fs::write(
            &config,
            format!(
                "[node]\nname = \"{}\"\ndata_dir = \"{}\"\n[listen]\nnntp = \"{}\"\nhttp = \"{}\"\nadmin = false\n[limits]\nhttp_request_secs = 3600\n[files]\nmax_bytes = {max_bytes}\n[[group]]\nname = \"{BOARD}\"\n[[peer]]\nname = \"{}\"\nkey = \"{}\"\naddress = \"{}\"\n",
                self.name,
                self.data.display(),
                self.nntp,
                self.http,
                peer.name,
                peer.key,
                peer.nntp
            ),
        )
        .expect("config");
        spawn_node(&config, self.http)
    }

    fn stored(&self, hash: &str) -> PathBuf {
        self.data
            .join("files")
            .join(&hash[..2])
            .join(&hash[2..4])
            .join(hash)
    }
}

/// A file of pseudo-random bytes, written in 1 MiB pieces; its hash.
fn make_file(path: &Path, mib: usize, seed: u64) -> String {
    let mut file = std::io::BufWriter::new(std::fs::File::create(path).expect("create"));
    let mut hasher = Sha256::new();
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut piece = vec![0u8; 1 << 20];
    for _ in 0..mib {
        for chunk in piece.chunks_mut(8) {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            chunk.copy_from_slice(&state.to_le_bytes());
        }
        hasher.update(&piece);
        file.write_all(&piece).expect("write");
    }
    file.flush().expect("flush");
    hex::encode(hasher.finalize())
}

/// PUT /upload, the body streamed from `path`.
fn upload(http: SocketAddr, path: &Path) {
    let size = std::fs::metadata(path).expect("size").len();
    let mut stream = TcpStream::connect(http).expect("connect");
    write!(
        stream,
        "PUT /upload HTTP/1.1\r\nHost: bench\r\nContent-Type: image/png\r\nContent-Length: {size}\r\nConnection: close\r\n\r\n"
    )
    .expect("head");
    std::io::copy(&mut std::fs::File::open(path).expect("open"), &mut stream).expect("body");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).expect("answer");
    assert!(
        answer.starts_with("HTTP/1.1 201") || answer.starts_with("HTTP/1.1 200"),
        "{answer}"
    );
}

/// Posts one article per file over NNTP, each referencing its file.
fn post_all(nntp: SocketAddr, files: &[(String, u64)]) {
    let stream = TcpStream::connect(nntp).expect("connect");
    let mut writer = stream.try_clone().expect("clone");
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    let mut status = |reader: &mut BufReader<TcpStream>, want: &str| {
        line.clear();
        reader.read_line(&mut line).expect("status");
        assert!(line.starts_with(want), "{line}");
    };
    status(&mut reader, "200");
    for (i, (hash, size)) in files.iter().enumerate() {
        writer.write_all(b"POST\r\n").expect("POST");
        status(&mut reader, "340");
        write!(
            writer,
            "From: bench <bench@example.org>\r\nNewsgroups: {BOARD}\r\nSubject: file {i}\r\nTidings-File: {hash} {size} image/png\r\n\r\nfile {i}\r\n.\r\n"
        )
        .expect("article");
        status(&mut reader, "240");
    }
}

fn rss_kib(pid: u32) -> u64 {
    memory_kib(pid, "VmRSS")
}

fn timed_shell(what: &str, script: &str) -> Duration {
    let started = Instant::now();
    let status = Command::new("sh")
        .arg("-c")
        .arg(script)
        .status()
        .expect("sh");
    assert!(status.success(), "{what} failed");
    started.elapsed()
}

fn main() {
    let files = env_or("BENCH_FILES", 16);
    let mib = env_or("BENCH_FILE_MIB", 64);
    let total = (files * mib) as f64 * 1_048_576.0;
    // Under target/, on the disk the nodes use, not a tmpfs.
    let root = Path::new(env!("CARGO_TARGET_TMPDIR")).join("bench-transfer");
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&root).expect("bench dir");
    let source = root.join("source");
    std::fs::create_dir_all(&source).expect("source dir");
    let made: Vec<(PathBuf, String)> = (0..files)
        .map(|i| {
            let path = source.join(format!("file-{i}.png"));
            let hash = make_file(&path, mib, i as u64 + 1);
            (path, hash)
        })
        .collect();

    let a = Node::new(&root, "a.bench");
    let b = Node::new(&root, "b.bench");
    let max = mib << 20;
    let process_a = a.start(&b, max);
    let process_b = b.start(&a, max);
    for (path, _) in &made {
        upload(a.http, path);
    }
    let refs: Vec<(String, u64)> = made
        .iter()
        .map(|(_, hash)| (hash.clone(), (mib << 20) as u64))
        .collect();
    let (pid_a, pid_b) = (process_a.0.id(), process_b.0.id());
    let rss_before = (rss_kib(pid_a), rss_kib(pid_b));

    let started = Instant::now();
    post_all(a.nntp, &refs);
    let mut peak = (0u64, 0u64);
    loop {
        peak = (peak.0.max(rss_kib(pid_a)), peak.1.max(rss_kib(pid_b)));
        if made.iter().all(|(_, hash)| b.stored(hash).exists()) {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(1800),
            "the transfer took more than 30 minutes"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let transfer = started.elapsed();
    drop(process_a);
    drop(process_b);
    for (_, hash) in &made {
        let mut file = std::fs::File::open(b.stored(hash)).expect("fetched file");
        let mut hasher = Sha256::new();
        std::io::copy(&mut file, &mut hasher).expect("read");
        assert_eq!(&hex::encode(hasher.finalize()), hash, "B's copy is right");
    }

    let copy = root.join("copy");
    let copy_synced = root.join("copy-synced");
    let cp = timed_shell(
        "cp",
        &format!("cp -r {} {}", source.display(), copy.display()),
    );
    let cp_sync = timed_shell(
        "cp and sync",
        &format!(
            "cp -r {} {} && sync",
            source.display(),
            copy_synced.display()
        ),
    );
    let rate = |d: Duration| total / 1e6 / d.as_secs_f64();
    println!(
        "transfer: {files} files x {mib} MiB = {:.0} MB, A -> B over XFILE on loopback",
        total / 1e6
    );
    println!(
        "  tidings (post at A to last file whole and synced at B): {:.2} s, {:.0} MB/s",
        transfer.as_secs_f64(),
        rate(transfer)
    );
    println!(
        "  cp -r on the same disk:                                 {:.2} s, {:.0} MB/s",
        cp.as_secs_f64(),
        rate(cp)
    );
    println!(
        "  cp -r then sync:                                        {:.2} s, {:.0} MB/s",
        cp_sync.as_secs_f64(),
        rate(cp_sync)
    );
    println!(
        "  RSS A (holder): {} MiB before, {} MiB peak during; B (fetcher): {} MiB before, {} MiB peak during; one file is {mib} MiB",
        rss_before.0 / 1024,
        peak.0 / 1024,
        rss_before.1 / 1024,
        peak.1 / 1024
    );
    let _ = std::fs::remove_dir_all(&root);
}

//! `cargo bench --bench mesh`: how fast a post reaches every node of a
//! mesh (issue 18). BENCH_NODES (default 10) `tidings serve` processes on
//! loopback in a ring with chords (node i peers with i±1 and i+n/2, so
//! every node is at most three hops from any other), each feeding its
//! neighbours. One reader POSTs BENCH_POSTS (default 200) articles at
//! node 1, one at a time; every node's event stream (`/api/v1/events`,
//! what a front end listens to) is read all along, and a post's time to
//! a node is from the POST's article being sent to the node's event for
//! it. Prints percentiles of the time to the last node (the figure the
//! issue sets: p99 under 20 ms) and of the time to each hop's nodes.

mod common;

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::{env_or, free_port, spawn_node, NodeProcess};

const BOARD: &str = "bench.mesh";

/// The mesh's edges: a ring and, across it, a chord from every node.
fn edges(n: usize) -> Vec<(usize, usize)> {
    let mut edges: Vec<(usize, usize)> = (0..n).map(|i| (i, (i + 1) % n)).collect();
    if n >= 6 {
        edges.extend((0..n / 2).map(|i| (i, i + n / 2)));
    }
    edges
}

fn neighbours(edges: &[(usize, usize)], i: usize) -> Vec<usize> {
    edges
        .iter()
        .filter_map(|&(a, b)| match (a == i, b == i) {
            (true, _) => Some(b),
            (_, true) => Some(a),
            _ => None,
        })
        .collect()
}

/// Hops from node 0 to every node, breadth first.
fn hops(edges: &[(usize, usize)], n: usize) -> Vec<usize> {
    let mut hops = vec![usize::MAX; n];
    hops[0] = 0;
    let mut frontier = vec![0];
    while !frontier.is_empty() {
        let mut next = Vec::new();
        for i in frontier {
            for j in neighbours(edges, i) {
                if hops[j] == usize::MAX {
                    hops[j] = hops[i] + 1;
                    next.push(j);
                }
            }
        }
        frontier = next;
    }
    hops
}

struct Node {
    nntp: SocketAddr,
    http: SocketAddr,
    config: PathBuf,
}

/// Reads node `index`'s event stream and reports each article event's
/// Message-ID with the moment it was read.
fn listen(index: usize, http: SocketAddr, events: mpsc::Sender<(usize, String, Instant)>) {
    let stream = TcpStream::connect(http).expect("connect to the event stream");
    let mut writer = stream.try_clone().expect("clone");
    write!(
        writer,
        "GET /api/v1/events HTTP/1.1\r\nHost: bench\r\nAccept: text/event-stream\r\n\r\n"
    )
    .expect("request");
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    loop {
        line.clear();
        match reader.read_line(&mut line) {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let now = Instant::now();
        let Some(at) = line.find("\"message_id\":\"") else {
            continue;
        };
        let rest = &line[at + 14..];
        let Some(end) = rest.find('"') else {
            continue;
        };
        if events.send((index, rest[..end].to_string(), now)).is_err() {
            return;
        }
    }
}

/// POSTs one article at `nntp`; returns when it was sent and its ID.
fn post(reader: &mut BufReader<TcpStream>, writer: &mut TcpStream, i: usize) -> (Instant, String) {
    let mut line = String::new();
    writer.write_all(b"POST\r\n").expect("POST");
    reader.read_line(&mut line).expect("340");
    assert!(line.starts_with("340"), "{line}");
    // One write: `write!` on a socket writes each piece apart, and Nagle's
    // algorithm would hold the later ones for the server's delayed ACK.
    let article = format!(
        "From: bench <bench@example.org>\r\nNewsgroups: {BOARD}\r\nSubject: post {i}\r\n\r\nbody {i}\r\n.\r\n"
    );
    let sent = Instant::now();
    writer.write_all(article.as_bytes()).expect("article");
    line.clear();
    reader.read_line(&mut line).expect("240");
    assert!(line.starts_with("240"), "{line}");
    let id = line
        .split_whitespace()
        .find(|w| w.starts_with('<'))
        .expect("240 names the Message-ID")
        .trim_end_matches(',')
        .to_string();
    (sent, id)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let at = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[at]
}

fn show(what: &str, mut times: Vec<Duration>) {
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!(
        "{what}: p50 {:.1} ms, p90 {:.1} ms, p99 {:.1} ms, max {:.1} ms ({} samples)",
        ms(percentile(&times, 0.50)),
        ms(percentile(&times, 0.90)),
        ms(percentile(&times, 0.99)),
        ms(percentile(&times, 1.0)),
        times.len()
    );
}

fn main() {
    // `cargo test` runs benches with --bench absent; only measure when asked.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let n = env_or("BENCH_NODES", 10).max(2);
    let posts = env_or("BENCH_POSTS", 200);
    let edges = edges(n);
    let hops = hops(&edges, n);
    let dir = tempfile::tempdir().expect("temp dir");

    let mut keys = Vec::new();
    let mut nodes = Vec::new();
    for i in 0..n {
        let data = dir.path().join(format!("n{i}"));
        std::fs::create_dir_all(&data).expect("data dir");
        keys.push(tidings::keys::write_new_secret_key(&data.join("node.key")).expect("key"));
        nodes.push(Node {
            nntp: SocketAddr::from(([127, 0, 0, 1], free_port())),
            http: SocketAddr::from(([127, 0, 0, 1], free_port())),
            config: data.join("node.toml"),
        });
    }
    for (i, node) in nodes.iter().enumerate() {
        let mut text = format!(
            "[node]\nname = \"n{i}.mesh.invalid\"\ndata_dir = {:?}\n[listen]\nnntp = \"{}\"\nhttp = \"{}\"\nadmin = false\n[[group]]\nname = \"{BOARD}\"\n",
            dir.path().join(format!("n{i}")),
            node.nntp,
            node.http
        );
        // Every node knows every node key, as a network's nodes do; only
        // neighbours are fed.
        for (j, other) in nodes.iter().enumerate().filter(|(j, _)| *j != i) {
            text.push_str(&format!(
                "[[peer]]\nname = \"n{j}.mesh.invalid\"\nkey = \"{}\"\n",
                hex::encode(keys[j].verifying_key().as_bytes())
            ));
            if neighbours(&edges, i).contains(&j) {
                text.push_str(&format!("address = \"{}\"\n", other.nntp));
            }
        }
        std::fs::write(&node.config, text).expect("config");
    }
    let _processes: Vec<NodeProcess> = nodes
        .iter()
        .map(|node| spawn_node(&node.config, node.http))
        .collect();

    let (events, arrivals) = mpsc::channel();
    for (i, node) in nodes.iter().enumerate() {
        let events = events.clone();
        let http = node.http;
        std::thread::spawn(move || listen(i, http, events));
    }
    let stream = TcpStream::connect(nodes[0].nntp).expect("connect");
    stream.set_nodelay(true).expect("nodelay");
    let mut writer = stream.try_clone().expect("clone");
    let mut reader = BufReader::new(stream);
    let mut greeting = String::new();
    reader.read_line(&mut greeting).expect("greeting");

    // Posts until one reaches every node, so every link is up before the
    // measured ones.
    let mut seen: HashMap<String, Vec<bool>> = HashMap::new();
    let started = Instant::now();
    'warm: loop {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the mesh did not come up"
        );
        let (_, id) = post(&mut reader, &mut writer, usize::MAX);
        let until = Instant::now() + Duration::from_secs(2);
        while let Ok((node, got, _)) =
            arrivals.recv_timeout(until.saturating_duration_since(Instant::now()))
        {
            seen.entry(got).or_insert_with(|| vec![false; n])[node] = true;
            if seen.get(&id).is_some_and(|at| at.iter().all(|&here| here)) {
                break 'warm;
            }
        }
    }
    println!(
        "mesh: {n} nodes, {} links (ring with chords), up to {} hops; {posts} posts at node 1, one at a time",
        edges.len(),
        hops.iter().max().copied().unwrap_or(0)
    );

    let mut to_all = Vec::new();
    let mut by_hops: Vec<Vec<Duration>> =
        vec![Vec::new(); hops.iter().max().copied().unwrap_or(0) + 1];
    let mut missed = 0;
    for i in 0..posts {
        let (sent, id) = post(&mut reader, &mut writer, i);
        let mut at: Vec<Option<Instant>> = vec![None; n];
        let until = Instant::now() + Duration::from_secs(5);
        while at.iter().any(Option::is_none) {
            match arrivals.recv_timeout(until.saturating_duration_since(Instant::now())) {
                Ok((node, got, when)) if got == id => at[node] = Some(when),
                Ok(_) => {}
                Err(_) => break,
            }
        }
        if at.iter().any(Option::is_none) {
            missed += 1;
            continue;
        }
        let times: Vec<Duration> = at
            .iter()
            .map(|t| t.map_or(Duration::ZERO, |t| t.saturating_duration_since(sent)))
            .collect();
        to_all.push(times.iter().copied().max().unwrap_or_default());
        for (node, time) in times.iter().enumerate() {
            by_hops[hops[node]].push(*time);
        }
    }
    show(&format!("post to all {n} nodes"), to_all);
    for (hop, times) in by_hops.into_iter().enumerate() {
        show(&format!("  to a node {hop} hops away"), times);
    }
    if missed > 0 {
        println!("{missed} posts did not reach every node within 5 s");
    }
}

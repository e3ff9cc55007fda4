//! `cargo bench --bench http`: the HTTP API under concurrent keep-alive
//! clients (issue 14): a `tidings serve` process (the release binary) on
//! loopback, a board of BENCH_THREADS (default 1,000) threads posted
//! through the API, one of them with BENCH_REPLIES (default 500) replies;
//! then BENCH_CLIENTS (default 64) keep-alive connections GET the board's
//! catalog, then that thread, for BENCH_SECONDS (default 10) each, as
//! JSON and gzip-coded (`Accept-Encoding: gzip`, as browsers ask), then
//! both again while BENCH_WRITES (default 50) replies a second arrive.
//! Prints requests per second, latency percentiles, and the node's peak
//! RSS (VmHWM of the process, read from /proc) during each run. Then, when
//! nginx is installed (`apt-get install nginx-light`), the same catalog and
//! thread bytes served as static files by nginx (two workers, sendfile,
//! keep-alive, gzip_static with the same bytes coded) to the same
//! clients: what serving those bytes costs here without building them.
//!
//! The client is this file's own: HTTP/1.1 over tokio TcpStreams, one
//! request at a time per connection, the body read by its Content-Length.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

mod common;

use common::{env_or, free_port, memory_kib, spawn_node, NodeProcess};

const BOARD: &str = "bench.board";

fn start_node(dir: &Path) -> (NodeProcess, SocketAddr, SocketAddr) {
    let http = SocketAddr::from(([127, 0, 0, 1], free_port()));
    let nntp = SocketAddr::from(([127, 0, 0, 1], free_port()));
    let config = dir.join("node.toml");
    std::fs::write(
        &config,
        format!(
            "[node]\nname = \"bench.node\"\ndata_dir = \"{}\"\n[listen]\nnntp = \"{nntp}\"\nhttp = \"{http}\"\nadmin = false\n[limits]\nmax_connections_per_host = 512\n[[group]]\nname = \"{BOARD}\"\n",
            dir.join("data").display()
        ),
    )
    .expect("config");
    (spawn_node(&config, http), http, nntp)
}

/// One keep-alive connection.
struct Conn {
    reader: BufReader<TcpStream>,
    host: String,
}

impl Conn {
    async fn open(addr: SocketAddr) -> Conn {
        let stream = TcpStream::connect(addr).await.expect("connect");
        stream.set_nodelay(true).expect("nodelay");
        Conn {
            reader: BufReader::new(stream),
            host: addr.to_string(),
        }
    }

    /// Sends a request and reads the whole answer: status and body.
    async fn call(&mut self, method: &str, path: &str, json: Option<&str>) -> (u16, Vec<u8>) {
        let (status, body, _) = self.exchange(method, path, json, "").await;
        (status, body)
    }

    /// A GET with `extra` header lines: status, body and whether it came
    /// gzip-coded.
    async fn get(&mut self, path: &str, extra: &str) -> (u16, Vec<u8>, bool) {
        self.exchange("GET", path, None, extra).await
    }

    async fn exchange(
        &mut self,
        method: &str,
        path: &str,
        json: Option<&str>,
        extra: &str,
    ) -> (u16, Vec<u8>, bool) {
        let body = json.unwrap_or_default();
        let head = match json {
            Some(_) => format!(
                "{method} {path} HTTP/1.1\r\nHost: {}\r\n{extra}Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
                self.host,
                body.len()
            ),
            None => format!("{method} {path} HTTP/1.1\r\nHost: {}\r\n{extra}\r\n", self.host),
        };
        let stream = self.reader.get_mut();
        stream.write_all(head.as_bytes()).await.expect("send");
        stream.write_all(body.as_bytes()).await.expect("send body");
        let mut line = String::new();
        self.reader.read_line(&mut line).await.expect("status line");
        let status = line
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .expect("status");
        let mut length = 0usize;
        let mut gzip = false;
        loop {
            line.clear();
            self.reader.read_line(&mut line).await.expect("header");
            if line == "\r\n" {
                break;
            }
            if let Some((name, value)) = line.split_once(':') {
                if name.eq_ignore_ascii_case("content-length") {
                    length = value.trim().parse().expect("length");
                }
                if name.eq_ignore_ascii_case("content-encoding") {
                    gzip = value.trim() == "gzip";
                }
            }
        }
        let mut body = vec![0; length];
        self.reader.read_exact(&mut body).await.expect("body");
        (status, body, gzip)
    }
}

/// Posts `count` JSON bodies from `make` over 16 connections; returns the
/// answers in order.
async fn post_all(
    addr: SocketAddr,
    count: usize,
    make: Arc<dyn Fn(usize) -> String + Send + Sync>,
) -> Vec<serde_json::Value> {
    let workers = 16.min(count.max(1));
    let mut tasks = Vec::new();
    for w in 0..workers {
        let make = make.clone();
        tasks.push(tokio::spawn(async move {
            let mut conn = Conn::open(addr).await;
            let mut out = Vec::new();
            for i in (w..count).step_by(workers) {
                let (status, body) = conn.call("POST", "/api/v1/posts", Some(&make(i))).await;
                assert_eq!(status, 201, "{}", String::from_utf8_lossy(&body));
                out.push((i, serde_json::from_slice(&body).expect("json")));
            }
            out
        }));
    }
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await.expect("poster"));
    }
    all.sort_by_key(|(i, _)| *i);
    all.into_iter().map(|(_, v)| v).collect()
}

fn peak_rss_kib(pid: u32) -> u64 {
    memory_kib(pid, "VmHWM")
}

/// Whether the clients ask for gzip, as browsers do.
const JSON: bool = false;
const GZIP: bool = true;

/// `clients` connections GET `path` for `seconds` (asking for gzip when
/// `gzip`, and then every answer must be coded); prints the figures.
/// With `writes` > 0, a writer meanwhile posts that many replies a second
/// to thread `no`, so every rendering kept is soon stale.
async fn load(
    addr: SocketAddr,
    path: &str,
    gzip: bool,
    clients: usize,
    seconds: u64,
    pid: u32,
    writes: (u64, u64),
) {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let (rate, no) = writes;
    let writer = (rate > 0).then(|| {
        tokio::spawn(async move {
            let mut conn = Conn::open(addr).await;
            let mut tick = tokio::time::interval(Duration::from_micros(1_000_000 / rate));
            let mut posted = 0u64;
            while Instant::now() < deadline {
                tick.tick().await;
                let body = serde_json::json!({ "board": BOARD, "thread": no, "body": "meanwhile" })
                    .to_string();
                let (status, _) = conn.call("POST", "/api/v1/posts", Some(&body)).await;
                assert_eq!(status, 201);
                posted += 1;
            }
            posted
        })
    });
    let mut tasks = Vec::new();
    let mut bytes = 0usize;
    for _ in 0..clients {
        let path = path.to_string();
        tasks.push(tokio::spawn(async move {
            let mut conn = Conn::open(addr).await;
            let mut latencies = Vec::new();
            let mut size = 0;
            let extra = if gzip {
                "Accept-Encoding: gzip, deflate, br\r\n"
            } else {
                ""
            };
            while Instant::now() < deadline {
                let sent = Instant::now();
                let (status, body, coded) = conn.get(&path, extra).await;
                latencies.push(sent.elapsed());
                assert_eq!(status, 200);
                assert_eq!(coded, gzip, "{path}: Content-Encoding");
                size = body.len();
            }
            (latencies, size)
        }));
    }
    let started = Instant::now();
    let mut latencies = Vec::new();
    for task in tasks {
        let (mine, size) = task.await.expect("client");
        latencies.extend(mine);
        bytes = size;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let meanwhile = match writer {
        Some(writer) => format!(
            " while {} replies were posted",
            writer.await.expect("writer")
        ),
        None => String::new(),
    };
    latencies.sort();
    let at = |q: f64| latencies[((latencies.len() - 1) as f64 * q) as usize];
    println!(
        "GET {path} ({bytes} bytes{}) x {clients} keep-alive clients, {seconds} s{meanwhile}: {} requests, {:.0} req/s, p50 {:?}, p99 {:?}, max {:?}; server peak RSS {} MiB",
        if gzip { " gzip" } else { "" },
        latencies.len(),
        latencies.len() as f64 / elapsed,
        at(0.50),
        at(0.99),
        at(1.0),
        peak_rss_kib(pid) / 1024
    );
}

/// Issue 14's acceptance 3: how long after an NNTP POST its event reaches
/// a Server-Sent Events stream opened before it. Posts one at a time over
/// NNTP and times, for each, the event's arrival after the article was
/// sent (the commit's sync included) and after its 240 (negative: the
/// event came first; both follow the same durable commit).
async fn nntp_to_event(http: SocketAddr, nntp: SocketAddr, posts: usize) {
    let stream = TcpStream::connect(http).await.expect("events");
    let mut events = BufReader::new(stream);
    events
        .get_mut()
        .write_all(b"GET /api/v1/events HTTP/1.0\r\nAccept: text/event-stream\r\n\r\n")
        .await
        .expect("subscribe");
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(String, Instant)>();
    let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
    tokio::spawn(async move {
        let mut line = String::new();
        let mut ready = Some(ready_tx);
        loop {
            line.clear();
            if events.read_line(&mut line).await.unwrap_or(0) == 0 {
                return;
            }
            // The end of the response head: the stream is following.
            if line == "\r\n" {
                if let Some(ready) = ready.take() {
                    let _ = ready.send(());
                }
            }
            if let Some(data) = line.strip_prefix("data:") {
                let value: serde_json::Value =
                    serde_json::from_str(data.trim()).unwrap_or_default();
                if let Some(id) = value["message_id"].as_str() {
                    let _ = tx.send((id.to_string(), Instant::now()));
                }
            }
        }
    });
    ready_rx.await.expect("the stream opened");
    let stream = TcpStream::connect(nntp).await.expect("nntp");
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line).await.expect("greeting");
    let (mut after_sent, mut after_ack) = (Vec::new(), Vec::new());
    for i in 0..posts {
        reader.get_mut().write_all(b"POST\r\n").await.expect("POST");
        line.clear();
        reader.read_line(&mut line).await.expect("340");
        assert!(line.starts_with("340"), "{line}");
        let article = format!(
            "From: bench <b@bench.invalid>\r\nNewsgroups: {BOARD}\r\nSubject: event {i}\r\n\r\nbody {i}\r\n.\r\n"
        );
        reader
            .get_mut()
            .write_all(article.as_bytes())
            .await
            .expect("article");
        let sent = Instant::now();
        line.clear();
        reader.read_line(&mut line).await.expect("240");
        let acked = Instant::now();
        assert!(line.starts_with("240"), "{line}");
        let id = line
            .split_whitespace()
            .find(|w| w.starts_with('<'))
            .expect("the id in the 240")
            .trim_end_matches(',')
            .to_string();
        let seen = loop {
            let (event_id, at) = rx.recv().await.expect("event");
            if event_id == id {
                break at;
            }
        };
        after_sent.push(seen.duration_since(sent).as_micros() as i64);
        after_ack.push(
            seen.saturating_duration_since(acked).as_micros() as i64
                - acked.saturating_duration_since(seen).as_micros() as i64,
        );
    }
    let quantiles = |v: &mut Vec<i64>| {
        v.sort();
        let at = |q: f64| v[((v.len() - 1) as f64 * q) as usize];
        format!(
            "p50 {} µs, p99 {} µs, max {} µs",
            at(0.5),
            at(0.99),
            at(1.0)
        )
    };
    println!(
        "NNTP POST -> event on /api/v1/events, {posts} posts one at a time: after the article was sent {}; after its 240 {}",
        quantiles(&mut after_sent),
        quantiles(&mut after_ack)
    );
}

/// nginx serving `files` (path, bytes) from `dir`, stopped when dropped.
struct StaticServer {
    child: std::process::Child,
    addr: SocketAddr,
}

impl StaticServer {
    fn start(dir: &Path, files: &[(String, Vec<u8>)]) -> Option<StaticServer> {
        use std::os::unix::fs::PermissionsExt;
        let nginx = ["/usr/sbin/nginx", "/usr/bin/nginx"]
            .into_iter()
            .find(|p| Path::new(p).exists())?;
        let root = dir.join("static");
        // nginx's workers run as nobody when started by root: every
        // directory down to a file may be entered, the file read.
        let mode = |path: &Path, mode| {
            let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode));
        };
        for (path, body) in files {
            let file = root.join(path.trim_start_matches('/'));
            std::fs::create_dir_all(file.parent().expect("parent")).expect("static dir");
            std::fs::write(&file, body).expect("static file");
            mode(&file, 0o644);
            for parent in file.ancestors().skip(1).take_while(|p| p.starts_with(dir)) {
                mode(parent, 0o755);
            }
        }
        let addr = SocketAddr::from(([127, 0, 0, 1], free_port()));
        let conf = dir.join("nginx.conf");
        std::fs::write(
            &conf,
            format!(
                "daemon off;\nworker_processes 2;\npid {dir}/nginx.pid;\nerror_log {dir}/nginx.log;\nevents {{ worker_connections 1024; }}\nhttp {{\n  access_log off;\n  sendfile on;\n  tcp_nodelay on;\n  keepalive_requests 100000000;\n  keepalive_timeout 120s;\n  default_type application/json;\n  client_body_temp_path {dir};\n  proxy_temp_path {dir};\n  fastcgi_temp_path {dir};\n  uwsgi_temp_path {dir};\n  scgi_temp_path {dir};\n  gzip_static on;\n  server {{ listen {addr}; root {root}; }}\n}}\n",
                dir = dir.display(),
                root = root.display()
            ),
        )
        .expect("nginx.conf");
        let child = std::process::Command::new(nginx)
            .arg("-c")
            .arg(&conf)
            .arg("-p")
            .arg(dir)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .ok()?;
        let server = StaticServer { child, addr };
        let started = Instant::now();
        while std::net::TcpStream::connect(addr).is_err() {
            if started.elapsed() > Duration::from_secs(10) {
                println!(
                    "nginx did not start: see {}",
                    dir.join("nginx.log").display()
                );
                return None;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Some(server)
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for StaticServer {
    fn drop(&mut self) {
        // SIGTERM would do too; SIGKILL of the master leaves the workers,
        // so ask it to quit and wait.
        let _ = std::process::Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let _ = self.child.wait();
    }
}

fn main() {
    let threads = env_or("BENCH_THREADS", 1_000);
    let replies = env_or("BENCH_REPLIES", 500);
    let clients = env_or("BENCH_CLIENTS", 64);
    let seconds = env_or("BENCH_SECONDS", 10) as u64;
    let dir = tempfile::tempdir().expect("tempdir");
    let (node, addr, nntp) = start_node(dir.path());
    let pid = node.0.id();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async move {
        let seeded = Instant::now();
        let ops = post_all(
            addr,
            threads,
            Arc::new(|i| {
                serde_json::json!({
                    "board": BOARD,
                    "subject": format!("thread {i}"),
                    "body": format!("opening post {i}\nwith a second line"),
                })
                .to_string()
            }),
        )
        .await;
        // The long thread is the oldest, so the catalog's bump order has
        // to find it at the top once its replies come.
        let no = ops[0]["no"].as_u64().expect("no");
        post_all(
            addr,
            replies,
            Arc::new(move |i| {
                serde_json::json!({ "board": BOARD, "thread": no, "body": format!("reply {i}") })
                    .to_string()
            }),
        )
        .await;
        let posts = threads + replies;
        let took = seeded.elapsed().as_secs_f64();
        println!(
            "seeded {posts} posts through POST /api/v1/posts over 16 connections in {took:.1} s ({:.0} posts/s)",
            posts as f64 / took
        );
        let mut check = Conn::open(addr).await;
        let (_, body) = check.call("GET", &format!("/{BOARD}/thread/{no}.json"), None).await;
        let thread: serde_json::Value = serde_json::from_slice(&body).expect("json");
        assert_eq!(thread["posts"].as_array().map(Vec::len), Some(replies + 1));
        let catalog = format!("/{BOARD}/catalog.json");
        let thread = format!("/{BOARD}/thread/{no}.json");
        for path in [&catalog, &thread] {
            for gzip in [JSON, GZIP] {
                load(addr, path, gzip, clients, seconds, pid, (0, no)).await;
            }
        }
        load(addr, "/boards.json", JSON, clients, seconds, pid, (0, no)).await;
        // The same bytes from a static file server, to the same clients:
        // the JSON, and beside it the node's own gzip coding of it.
        let mut fetch = Conn::open(addr).await;
        let mut files = Vec::new();
        for path in [&catalog, &thread] {
            let (_, body, _) = fetch.get(path, "").await;
            files.push((path.clone(), body));
            let (_, coded, gzip) = fetch.get(path, "Accept-Encoding: gzip\r\n").await;
            assert!(gzip, "{path} was not coded");
            files.push((format!("{path}.gz"), coded));
        }
        match StaticServer::start(dir.path(), &files) {
            Some(nginx) => {
                println!(
                    "the same bytes as static files from nginx (2 workers, sendfile, gzip_static):"
                );
                for path in [&catalog, &thread] {
                    for gzip in [JSON, GZIP] {
                        load(nginx.addr, path, gzip, clients, seconds, nginx.pid(), (0, no)).await;
                    }
                }
            }
            None => println!("nginx not found: no static file server to compare with"),
        }
        // Renderings kept until the store changes: with a reply every
        // 20 ms, most requests wait for a fresh one (and its coding).
        let rate = env_or("BENCH_WRITES", 50) as u64;
        for path in [&catalog, &thread] {
            for gzip in [JSON, GZIP] {
                load(addr, path, gzip, clients, seconds, pid, (rate, no)).await;
            }
        }
        nntp_to_event(addr, nntp, env_or("BENCH_EVENTS", 200)).await;
    });
    drop(node);
}

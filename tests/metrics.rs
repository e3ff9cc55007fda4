//! The admin listener (README "Monitoring"): Prometheus metrics and the
//! status JSON; the alert and recording rules and the Grafana dashboard in
//! contrib/ name only what the node exports, pass `promtool check rules`,
//! and a real Prometheus (Debian's `prometheus`) scrapes a node and answers
//! a query about it.

mod common;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::*;
use tidings::metrics::EXPORTED;

fn contrib(file: &str) -> String {
    std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("contrib")
            .join(file),
    )
    .expect("contrib file")
}

/// Every `tidings_…` metric name in `text`.
fn names(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find("tidings_") {
        let before = rest[..at].chars().next_back();
        let tail = &rest[at..];
        let end = tail
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(tail.len());
        // Not the tail of a longer identifier (`tidings:…` records are
        // rules' own names, not the node's).
        if end > "tidings_".len()
            && !before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
        {
            out.push(tail[..end].to_string());
        }
        rest = &tail[end..];
    }
    out
}

fn get(addr: std::net::SocketAddr, path: &str) -> (u16, Vec<(String, String)>, String) {
    let (status, headers, body) =
        http_exchange(addr, &format!("GET {path} HTTP/1.1\r\nHost: x\r\n"), b"");
    (status, headers, String::from_utf8(body).expect("utf-8"))
}

#[test]
fn the_admin_listener_serves_metrics_and_status() {
    let (_dir, node) = start_node();
    let admin = node.admin.expect("admin listener");
    let mut c = Client::connect(node.addr);
    c.post("test.one", "counted", "one\r\n");
    // Refused for want of a Subject: counted by kind of reason.
    assert_eq!(c.cmd("POST").0, 340);
    c.send_article("From: a@b\r\nNewsgroups: test.one\r\n\r\nno subject\r\n");
    assert_eq!(c.status().0, 441);

    let (status, headers, text) = get(admin, "/metrics");
    assert_eq!(status, 200);
    assert!(http_header(&headers, "content-type")
        .is_some_and(|t| t.starts_with("application/openmetrics-text")));
    assert!(
        text.contains("tidings_articles_total{source=\"post\",result=\"accepted\"} 1\n"),
        "{text}"
    );
    assert!(
        text.contains("tidings_articles_refused_total{source=\"post\",reason=\"malformed\"} 1\n"),
        "{text}"
    );
    assert!(
        text.contains("tidings_article_bytes_total{source=\"post\"} "),
        "{text}"
    );
    assert!(text.contains("tidings_commit_syncs_total "), "{text}");
    assert!(text.ends_with("# EOF\n"));
    for name in EXPORTED {
        let family = name.strip_suffix("_total").unwrap_or(name);
        assert!(
            text.contains(&format!("# TYPE {family} ")),
            "{name} is not exported: {text}"
        );
    }
    for name in names(&text) {
        let family = name.strip_suffix("_total").unwrap_or(&name);
        assert!(
            EXPORTED
                .iter()
                .any(|e| e.strip_suffix("_total").unwrap_or(e) == family),
            "{name} is exported but not listed in metrics::EXPORTED"
        );
    }

    let (status, _, text) = get(admin, "/status");
    assert_eq!(status, 200);
    let status: serde_json::Value = serde_json::from_str(&text).expect("JSON");
    assert_eq!(status["node"], "test.node");
    assert_eq!(status["pending"], 0);
    assert_eq!(status["state"].as_str().map(str::len), Some(64));
    assert!(status["peers"].as_array().is_some_and(Vec::is_empty));
    assert!(
        status["store_bytes"].as_u64().is_some_and(|b| b > 0),
        "{status}"
    );
    assert_eq!(status["files"], 0);
    assert!(status["disk_free_bytes"].as_u64().is_some(), "{status}");
    let boards = status["boards"].as_array().expect("boards");
    let one = boards
        .iter()
        .find(|b| b["name"] == "test.one")
        .expect("test.one listed");
    assert_eq!(one["articles"], 1);
    let now = chrono::Utc::now().timestamp();
    for end in ["oldest", "newest"] {
        assert!(
            one[end].as_i64().is_some_and(|at| (now - at).abs() < 600),
            "{end} is the post's Date: {one}"
        );
    }
    assert_eq!(one["retention_days"], serde_json::Value::Null);
    let two = boards
        .iter()
        .find(|b| b["name"] == "test.two")
        .expect("test.two");
    assert_eq!(two["articles"], 0);
    assert_eq!(two["oldest"], serde_json::Value::Null);
    node.stop();
}

#[test]
fn the_rules_and_the_dashboard_name_only_exported_metrics() {
    let rules = contrib("prometheus/tidings.rules.yml");
    let dashboard = contrib("grafana/tidings.json");
    serde_json::from_str::<serde_json::Value>(&dashboard).expect("the dashboard is JSON");
    for (file, text) in [("rules", &rules), ("dashboard", &dashboard)] {
        let used = names(text);
        assert!(used.len() >= 10, "{file} names few metrics: {used:?}");
        for name in used {
            assert!(
                EXPORTED.contains(&name.as_str()),
                "the {file} name {name}, which the node does not export"
            );
        }
    }
}

#[test]
fn promtool_accepts_the_rules() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("contrib/prometheus/tidings.rules.yml");
    let out = Command::new("promtool")
        .arg("check")
        .arg("rules")
        .arg(&path)
        .output()
        .expect("promtool (Debian package prometheus; .ci/run installs it)");
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Prometheus, killed when dropped.
struct Prometheus(Child);

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn a_real_prometheus_scrapes_a_node_and_answers_a_query() {
    let (_dir, node) = start_node();
    let admin = node.admin.expect("admin listener");
    let mut c = Client::connect(node.addr);
    c.post("test.one", "scraped", "one\r\n");

    let work = temp_dir();
    let config = work.path().join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nrule_files:\n  - {}\nscrape_configs:\n  - job_name: tidings\n    static_configs:\n      - targets: ['{admin}']\n",
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("contrib/prometheus/tidings.rules.yml")
                .display()
        ),
    )
    .expect("config");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let web: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().expect("addr");
    let _prometheus = Prometheus(
        Command::new("prometheus")
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                work.path().join("data").display()
            ))
            .arg(format!("--web.listen-address={web}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("prometheus (Debian package prometheus; .ci/run installs it)"),
    );
    let query = "/api/v1/query?query=tidings_articles_total%7Bresult%3D%22accepted%22%7D";
    let mut last = String::new();
    wait_until(Duration::from_secs(60), "the series in Prometheus", || {
        let Ok(stream) = std::net::TcpStream::connect(web) else {
            return false;
        };
        drop(stream);
        let (status, _, text) = get(web, query);
        last = text.clone();
        status == 200
            && serde_json::from_str::<serde_json::Value>(&text).is_ok_and(|v| {
                v["data"]["result"][0]["value"][1] == "1"
                    && v["data"]["result"][0]["metric"]["source"] == "post"
            })
    });
    assert!(last.contains("\"job\":\"tidings\""), "{last}");
    node.stop();
}

/// What A's admin listener says of its peer: the status entry and the
/// metrics text.
fn peer_seen(admin: std::net::SocketAddr) -> (serde_json::Value, String) {
    let (_, _, status) = get(admin, "/status");
    let status: serde_json::Value = serde_json::from_str(&status).expect("JSON");
    let (_, _, metrics) = get(admin, "/metrics");
    (status["peers"][0].clone(), metrics)
}

#[test]
fn a_peer_down_shows_in_status_and_metrics_until_it_returns() {
    let mut net = Net::new(&["a.ops", "b.ops"], &[(0, 1)]);
    let (config_a, config_b) = (net.config(0), net.config(1));
    let a = net.start(0, config_a, tidings::clock::Clock::system());
    let b = net.start(1, config_b.clone(), tidings::clock::Clock::system());
    let admin = a.admin.expect("admin listener");
    let limit = Duration::from_secs(30);
    let up = "tidings_peer_up{peer=\"b.ops\"} 1\n";
    wait_until(limit, "the link to B up and caught up", || {
        let metrics = peer_seen(admin).1;
        metrics.contains(up)
            && metrics.contains("tidings_catch_up_last_success_timestamp_seconds{peer=\"b.ops\"}")
    });
    // One post, sent by the feed (the catch-up is done): counted per peer.
    let mut poster = Client::connect(a.addr);
    let first = poster.post("test.one", "fed", "x\r\n");
    let mut at_b = Client::connect(b.addr);
    wait_until(limit, "the post at B", || {
        at_b.cmd(&format!("STAT {first}")).0 == 223
    });
    // Counted once A has read B's answer, which may be after B serves it.
    wait_until(limit, "the feed's counters", || {
        let metrics = peer_seen(admin).1;
        metrics.contains("tidings_fed_articles_total{peer=\"b.ops\"} 1\n")
            && metrics.contains("tidings_fed_bytes_total{peer=\"b.ops\"} ")
    });
    let up_since = peer_seen(admin).0["since"].as_u64().expect("up since");

    // B goes away: A shows the link down and its outbox growing.
    drop(at_b);
    b.stop();
    let ids: Vec<String> = (0..3)
        .map(|i| poster.post("test.one", &format!("while b is away {i}"), "x\r\n"))
        .collect();
    wait_until(limit, "B down, three queued", || {
        let (peer, metrics) = peer_seen(admin);
        peer["up"] == false
            && peer["since"].as_u64().is_some_and(|down| down >= up_since)
            && peer["outbox_depth"] == 3
            && metrics.contains("tidings_peer_up{peer=\"b.ops\"} 0\n")
            && metrics.contains("tidings_outbox_depth{peer=\"b.ops\"} 3\n")
    });

    // B comes back on its address: the link is up, the outbox drained.
    let listener = std::net::TcpListener::bind(net.addrs[1]).expect("B's address again");
    let b = TestNode::start_on(config_b, listener);
    wait_until(limit, "B up, nothing queued", || {
        let (peer, metrics) = peer_seen(admin);
        peer["up"] == true && peer["outbox_depth"] == 0 && metrics.contains(up)
    });
    let mut reader = Client::connect(b.addr);
    for id in &ids {
        assert_eq!(reader.cmd(&format!("STAT {id}")).0, 223);
    }
    b.stop();
    a.stop();
}

#[test]
fn held_and_pending_posts_are_listed_and_decided_on_the_admin_listener() {
    let dir = temp_dir();
    let mut config = config(dir.path());
    config.node.premoderate = Some("test.one".into());
    let node = TestNode::start(config);
    let admin = node.admin.expect("admin listener");
    let post = |path: &str| {
        let head = format!("POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n");
        let (status, _, body) = http_exchange(admin, &head, b"");
        (status, String::from_utf8(body).expect("utf-8"))
    };
    let listed = |room: &str| -> Vec<serde_json::Value> {
        let (status, _, text) = get(admin, &format!("/waiting/{room}"));
        assert_eq!(status, 200, "{text}");
        let v: serde_json::Value = serde_json::from_str(&text).expect("JSON");
        v["posts"].as_array().cloned().unwrap_or_default()
    };
    let escaped = |id: &str| id.replace('<', "%3C").replace('>', "%3E");

    // Two posts held for approval: one approved, one removed.
    let mut c = Client::connect(node.addr);
    let first = c.post("test.one", "held one", "x\r\n");
    let second = c.post("test.one", "held two", "x\r\n");
    let held = listed("held");
    assert_eq!(held.len(), 2, "{held:?}");
    assert!(held
        .iter()
        .any(|p| p["message_id"] == first.as_str() && p["subject"] == "held one"));
    let (status, text) = post(&format!("/waiting/held/{}/approve", escaped(&first)));
    assert_eq!(status, 200, "{text}");
    assert!(text.contains("local-approve"), "{text}");
    wait_until(Duration::from_secs(20), "the approved post filed", || {
        c.cmd(&format!("STAT {first}")).0 == 223
    });
    let (status, text) = post(&format!("/waiting/held/{}/remove", escaped(&second)));
    assert_eq!(status, 200, "{text}");
    assert!(listed("held").is_empty());
    assert_eq!(c.cmd(&format!("STAT {second}")).0, 430);
    assert_eq!(
        post(&format!("/waiting/held/{}/approve", escaped(&second))).0,
        404
    );

    // A post signed by a key nobody vouched for waits; the operator removes it.
    let id = unique_id_for("pending", &stranger());
    let text = sign_with(&article_text(&id, "test.two", "who am I\r\n"), &stranger());
    assert_eq!(ihave(&mut c, &id, &text).0, 235);
    let pending = listed("pending");
    assert_eq!(pending.len(), 1, "{pending:?}");
    assert_eq!(pending[0]["signer"], hex_key(&stranger()));
    assert_eq!(
        post(&format!("/waiting/pending/{}/approve", escaped(&id))).0,
        404
    );
    let (status, text) = post(&format!("/waiting/pending/{}/remove", escaped(&id)));
    assert_eq!(status, 200, "{text}");
    assert!(listed("pending").is_empty());
    assert_eq!(get(admin, "/waiting/elsewhere").0, 404);
    node.stop();
}

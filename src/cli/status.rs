//! `tidings status`: what the running node says of itself. From its admin
//! listener's `/status` (README "Monitoring"): version, uptime, the digest
//! of its derived state (protocol-spec/state.md §5), pending and held
//! posts, and each fed peer's link, outbox and last catch-up; `--json`
//! prints that JSON as it came. With the admin listener off, only the
//! state digest, asked on the NNTP port (XSTATE).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use anyhow::{anyhow, bail, Context};

use tidings::client::{blocking, Command};
use tidings::config::Config;
use tidings::proto::Code;

use super::sync::{local_address, loopback};

const READ_TIMEOUT: Duration = Duration::from_secs(60);

/// One request to the node's admin listener and its JSON answer; an
/// answer other than 200 is an error naming the listener's reason.
pub fn admin_request(
    admin: std::net::SocketAddr,
    method: &str,
    path: &str,
) -> anyhow::Result<serde_json::Value> {
    admin_request_with(admin, method, path, None)
}

/// [`admin_request`] with a JSON body.
pub fn admin_request_with(
    admin: std::net::SocketAddr,
    method: &str,
    path: &str,
    body: Option<&serde_json::Value>,
) -> anyhow::Result<serde_json::Value> {
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let mut stream = TcpStream::connect_timeout(&admin, READ_TIMEOUT).with_context(|| {
        format!("cannot reach the node's admin listener at {admin}; is it running?")
    })?;
    stream.set_read_timeout(Some(READ_TIMEOUT))?;
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {admin}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer)?;
    let split = answer
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| anyhow!("the admin listener sent no HTTP answer"))?;
    let head = String::from_utf8_lossy(&answer[..split]);
    let body: serde_json::Value = serde_json::from_slice(&answer[split + 4..])
        .context("the admin listener's answer is not JSON")?;
    if !head.starts_with("HTTP/1.1 200") {
        bail!(
            "{}: {}",
            head.lines().next().unwrap_or_default(),
            body["reason"].as_str().unwrap_or("no reason given")
        );
    }
    Ok(body)
}

/// The admin listener's address as seen from this machine.
pub fn admin_address(config: &Config) -> anyhow::Result<std::net::SocketAddr> {
    config
        .listen
        .admin
        .map(loopback)
        .ok_or_else(|| anyhow!("the admin listener is off ([listen] admin = false)"))
}

pub fn run(config: &Config, json: bool) -> anyhow::Result<()> {
    let Some(admin) = config.listen.admin.map(loopback) else {
        if json {
            bail!("the admin listener is off ([listen] admin = false): no status to print as JSON");
        }
        return digest_only(config);
    };
    let status = admin_request(admin, "GET", "/status")?;
    if json {
        println!("{}", serde_json::to_string_pretty(&status)?);
        return Ok(());
    }
    print!("{}", render(&status, chrono::Utc::now().timestamp()));
    Ok(())
}

/// The status for a terminal, times shown relative to `now` (seconds
/// since the epoch).
fn render(status: &serde_json::Value, now: i64) -> String {
    let text = |v: &serde_json::Value| match v {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Null => "-".to_string(),
        other => other.to_string(),
    };
    let ago = |v: &serde_json::Value, never: &str| {
        v.as_i64().map_or(never.to_string(), |at| {
            format!("{} ago", duration(now.saturating_sub(at).max(0) as u64))
        })
    };
    let bytes = |v: &serde_json::Value| v.as_u64().map_or("-".to_string(), size);
    let mut out = format!(
        "node     {} (tidings {}), up {}\nstate    {}\nstore    {}, files {} ({}), disk free {}\npending  {}\nheld     {}\n",
        text(&status["node"]),
        text(&status["version"]),
        duration(status["uptime_seconds"].as_u64().unwrap_or(0)),
        text(&status["state"]),
        bytes(&status["store_bytes"]),
        text(&status["files"]),
        bytes(&status["file_bytes"]),
        bytes(&status["disk_free_bytes"]),
        text(&status["pending"]),
        text(&status["held"]),
    );
    let peers = status["peers"].as_array().cloned().unwrap_or_default();
    if !peers.is_empty() {
        out.push_str(
            "\npeer                     link                outbox  oldest      last catch-up\n",
        );
    }
    for peer in peers {
        let link = format!(
            "{} for {}",
            if peer["up"] == true { "up" } else { "down" },
            peer["since"]
                .as_i64()
                .map_or("-".to_string(), |at| duration(
                    now.saturating_sub(at).max(0) as u64
                )),
        );
        out.push_str(&format!(
            "{:<24} {:<19} {:>6}  {:<11} {}\n",
            text(&peer["name"]),
            link,
            text(&peer["outbox_depth"]),
            peer["outbox_oldest_seconds"]
                .as_u64()
                .map_or("-".to_string(), duration),
            ago(&peer["last_catch_up"], "never"),
        ));
    }
    let boards = status["boards"].as_array().cloned().unwrap_or_default();
    if !boards.is_empty() {
        out.push_str("\nboard                    articles  oldest          newest          kept\n");
    }
    for board in boards {
        out.push_str(&format!(
            "{:<24} {:>8}  {:<15} {:<15} {}\n",
            text(&board["name"]),
            text(&board["articles"]),
            ago(&board["oldest"], "-"),
            ago(&board["newest"], "-"),
            board["retention_days"]
                .as_u64()
                .map_or("forever".to_string(), |d| format!("{d} days")),
        ));
    }
    out
}

/// `1.5 GiB`, `12.0 KiB`, `512 B`.
fn size(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// `3d 4h`, `2h 5m`, `42s`.
fn duration(secs: u64) -> String {
    match secs {
        s if s >= 86_400 => format!("{}d {}h", s / 86_400, s % 86_400 / 3600),
        s if s >= 3600 => format!("{}h {}m", s / 3600, s % 3600 / 60),
        s if s >= 60 => format!("{}m {}s", s / 60, s % 60),
        s => format!("{s}s"),
    }
}

/// The state digest alone, by XSTATE on the NNTP port.
fn digest_only(config: &Config) -> anyhow::Result<()> {
    let address = local_address(config);
    let mut node = blocking::Client::connect(address, READ_TIMEOUT)
        .with_context(|| format!("cannot reach the node at {address}; is it running?"))?;
    let greeting = node.response()?;
    if !matches!(greeting.code, Code::READY_POSTING | Code::READY_NO_POSTING) {
        bail!("unexpected greeting: {greeting}");
    }
    let state = node.expect(&Command::Xstate, &[Code::STATE_DIGEST])?;
    let Some(digest) = state.text.split_whitespace().next() else {
        bail!("the node sent no digest: {state}");
    };
    println!("node   {} at {address}", config.node.name);
    println!("state  {digest}");
    let _ = node.quit();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_status_reads_in_a_terminal() {
        let now = 1_800_000_000i64;
        let status = serde_json::json!({
            "node": "a.example", "version": "0.1.0", "uptime_seconds": 7500,
            "state": "ab", "store_bytes": 6_000_000u64, "files": 3,
            "file_bytes": 512, "disk_free_bytes": 3u64 << 30,
            "pending": 1, "held": 0,
            "peers": [
                {"name": "b.example", "up": false, "since": now - 130, "outbox_depth": 12,
                 "outbox_oldest_seconds": 130, "last_catch_up": null},
                {"name": "c.example", "up": true, "since": now - 7200, "outbox_depth": 0,
                 "outbox_oldest_seconds": null, "last_catch_up": now - 60},
            ],
            "boards": [
                {"name": "chan.b", "articles": 40, "oldest": now - 86_400 * 3,
                 "newest": now - 5, "retention_days": 30},
                {"name": "local.test", "articles": 0, "oldest": null, "newest": null,
                 "retention_days": null},
            ],
        });
        let text = render(&status, now);
        assert!(
            text.starts_with("node     a.example (tidings 0.1.0), up 2h 5m\n"),
            "{text}"
        );
        assert!(
            text.contains("store    5.7 MiB, files 3 (512 B), disk free 3.0 GiB\n"),
            "{text}"
        );
        assert!(
            text.contains(
                "b.example                down for 2m 10s         12  2m 10s      never\n"
            ),
            "{text}"
        );
        assert!(
            text.contains(
                "c.example                up for 2h 0m             0  -           1m 0s ago\n"
            ),
            "{text}"
        );
        assert!(
            text.contains(
                "chan.b                         40  3d 0h ago       5s ago          30 days\n"
            ),
            "{text}"
        );
        assert!(
            text.contains(
                "local.test                      0  -               -               forever\n"
            ),
            "{text}"
        );
    }
}

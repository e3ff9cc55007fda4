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
    print!("{}", render(&status));
    Ok(())
}

/// The status for a terminal.
fn render(status: &serde_json::Value) -> String {
    let text = |v: &serde_json::Value| match v {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Null => "-".to_string(),
        other => other.to_string(),
    };
    let mut out = format!(
        "node     {} (tidings {}), up {}\nstate    {}\npending  {}\nheld     {}\n",
        text(&status["node"]),
        text(&status["version"]),
        duration(status["uptime_seconds"].as_u64().unwrap_or(0)),
        text(&status["state"]),
        text(&status["pending"]),
        text(&status["held"]),
    );
    let peers = status["peers"].as_array().cloned().unwrap_or_default();
    if !peers.is_empty() {
        out.push_str("\npeer                     link   outbox  oldest      last catch-up\n");
    }
    for peer in peers {
        out.push_str(&format!(
            "{:<24} {:<6} {:>6}  {:<11} {}\n",
            text(&peer["name"]),
            if peer["up"] == true { "up" } else { "down" },
            text(&peer["outbox_depth"]),
            peer["outbox_oldest_seconds"]
                .as_u64()
                .map_or("-".to_string(), duration),
            peer["last_catch_up"]
                .as_u64()
                .map_or("never".to_string(), |at| format!("at {at} (unix time)")),
        ));
    }
    out
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
        let status = serde_json::json!({
            "node": "a.example", "version": "0.1.0", "uptime_seconds": 7500,
            "state": "ab", "pending": 1, "held": 0,
            "peers": [
                {"name": "b.example", "up": false, "outbox_depth": 12,
                 "outbox_oldest_seconds": 130, "last_catch_up": null},
                {"name": "c.example", "up": true, "outbox_depth": 0,
                 "outbox_oldest_seconds": null, "last_catch_up": 1800000000u64},
            ],
        });
        let text = render(&status);
        assert!(
            text.starts_with("node     a.example (tidings 0.1.0), up 2h 5m\n"),
            "{text}"
        );
        assert!(
            text.contains("b.example                down       12  2m 10s      never\n"),
            "{text}"
        );
        assert!(
            text.contains("c.example                up          0  -           at 1800000000"),
            "{text}"
        );
    }
}

//! `tidings sync --peer NAME`: asks the running node (XSYNC on its own NNTP
//! port) to catch up with a peer, shows the progress it reports, and
//! prints the summary. The node does the work, so the store stays owned
//! by one process.

use std::io::IsTerminal;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use anyhow::{bail, Context};
use indicatif::{ProgressBar, ProgressStyle};

use tidings::catchup::Progress;
use tidings::client::{blocking, Command};
use tidings::config::Config;
use tidings::proto::Code;

/// Progress lines come every half second; silence this long means trouble.
const READ_TIMEOUT: Duration = Duration::from_secs(120);

/// Where to reach the node: its NNTP listener, on loopback when it listens
/// on every address.
pub fn local_address(config: &Config) -> SocketAddr {
    loopback(config.listen.nntp)
}

/// A listener's address as a client on this machine reaches it: the
/// loopback address in place of an unspecified one.
pub fn loopback(mut address: SocketAddr) -> SocketAddr {
    match address.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => address.set_ip(IpAddr::V4(Ipv4Addr::LOCALHOST)),
        IpAddr::V6(ip) if ip.is_unspecified() => address.set_ip(IpAddr::V6(Ipv6Addr::LOCALHOST)),
        _ => {}
    }
    address
}

pub fn run(config: &Config, peer: &str) -> anyhow::Result<()> {
    let address = local_address(config);
    // The command is checked before anything is sent: a peer name with a
    // space or a line break in it would be another command.
    let xsync = Command::Xsync(peer).to_bytes()?;
    let mut node = blocking::Client::connect(address, READ_TIMEOUT)
        .with_context(|| format!("cannot reach the node at {address}; is it running?"))?;
    let greeting = node.response()?;
    if !matches!(greeting.code, Code::READY_POSTING | Code::READY_NO_POSTING) {
        bail!("unexpected greeting: {greeting}");
    }
    node.send(&xsync)?;
    let answer = node.response()?;
    if answer.code != Code::SYNC_FOLLOWS {
        bail!("the node refused: {answer}");
    }
    let shown = Display::new();
    loop {
        let Some(line) = node.block_line()? else {
            bail!("the node ended the report without a summary");
        };
        let line = String::from_utf8_lossy(&line);
        if let Some(rest) = line.strip_prefix("progress ") {
            if let Some(progress) = Progress::parse(rest) {
                shown.update(&progress);
            }
        } else if let Some(rest) = line.strip_prefix("done ") {
            shown.finish();
            let summary = Progress::parse(rest).unwrap_or_default();
            println!("{}", summarize(peer, &summary));
            let _ = node.quit();
            return Ok(());
        } else if let Some(rest) = line.strip_prefix("failed ") {
            shown.finish();
            bail!("catch-up with {peer} failed: {rest}");
        }
    }
}

/// The summary as people read it.
fn summarize(peer: &str, p: &Progress) -> String {
    format!(
        "synced with {peer}: {} groups, {} ids compared, {} fetched (of {} missing), {} sent (of {} wanted), {} bytes in, {} bytes out, {:.1} s",
        p.groups, p.compared, p.fetched, p.missing, p.sent, p.wanted, p.bytes_in, p.bytes_out, p.seconds
    )
}

/// A spinner on a terminal; plain lines every few seconds otherwise, so a
/// log still shows the sync moving.
struct Display {
    bar: Option<ProgressBar>,
    last: std::cell::Cell<Option<std::time::Instant>>,
}

impl Display {
    fn new() -> Display {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::new_spinner();
            bar.set_style(
                ProgressStyle::with_template("{spinner} {elapsed} {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            bar.enable_steady_tick(Duration::from_millis(120));
            bar
        });
        Display {
            bar,
            last: std::cell::Cell::new(None),
        }
    }

    fn update(&self, p: &Progress) {
        let text = format!(
            "groups {}/{}  compared {}  fetched {}/{}  sent {}/{}  in {} KiB  out {} KiB",
            p.groups_done,
            p.groups,
            p.compared,
            p.fetched,
            p.missing,
            p.sent,
            p.wanted,
            p.bytes_in / 1024,
            p.bytes_out / 1024
        );
        match &self.bar {
            Some(bar) => bar.set_message(text),
            None => {
                let due = self
                    .last
                    .get()
                    .is_none_or(|at| at.elapsed() >= Duration::from_secs(2));
                if due {
                    self.last.set(Some(std::time::Instant::now()));
                    eprintln!("{text}");
                }
            }
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

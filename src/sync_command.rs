//! `tidings sync --peer NAME`: asks the running node (XSYNC on its own NNTP
//! port) to catch up with a peer, shows the progress it reports, and
//! prints the summary. The node does the work, so the store stays owned
//! by one process.

use std::io::{BufRead, BufReader, IsTerminal, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream};
use std::time::Duration;

use anyhow::{bail, Context};
use indicatif::{ProgressBar, ProgressStyle};

use tidings::config::Config;
use tidings::sync::Progress;

/// Progress lines come every half second; silence this long means trouble.
const READ_TIMEOUT: Duration = Duration::from_secs(120);

/// Where to reach the node: its NNTP listener, on loopback when it listens
/// on every address.
fn local_address(config: &Config) -> SocketAddr {
    let mut address = config.listen.nntp;
    match address.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => address.set_ip(IpAddr::V4(Ipv4Addr::LOCALHOST)),
        IpAddr::V6(ip) if ip.is_unspecified() => address.set_ip(IpAddr::V6(Ipv6Addr::LOCALHOST)),
        _ => {}
    }
    address
}

pub fn run(config: &Config, peer: &str) -> anyhow::Result<()> {
    let address = local_address(config);
    let stream = TcpStream::connect(address)
        .with_context(|| format!("cannot reach the node at {address}; is it running?"))?;
    stream.set_read_timeout(Some(READ_TIMEOUT))?;
    let mut writer = stream.try_clone()?;
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    let mut next_line = |line: &mut String| -> anyhow::Result<()> {
        line.clear();
        if reader.read_line(line)? == 0 {
            bail!("the node closed the connection");
        }
        let trimmed = line.trim_end().len();
        line.truncate(trimmed);
        Ok(())
    };
    next_line(&mut line)?;
    if !line.starts_with("20") {
        bail!("unexpected greeting: {line}");
    }
    writer.write_all(format!("XSYNC {peer}\r\n").as_bytes())?;
    next_line(&mut line)?;
    if !line.starts_with("292") {
        bail!("the node refused: {line}");
    }
    let shown = Display::new();
    loop {
        next_line(&mut line)?;
        if line == "." {
            bail!("the node ended the report without a summary");
        }
        if let Some(rest) = line.strip_prefix("progress ") {
            if let Some(progress) = Progress::parse(rest) {
                shown.update(&progress);
            }
        } else if let Some(rest) = line.strip_prefix("done ") {
            shown.finish();
            let summary = Progress::parse(rest).unwrap_or_default();
            println!("{}", summarize(peer, &summary));
            let _ = writer.write_all(b"QUIT\r\n");
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

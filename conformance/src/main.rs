//! `conformance --target host:port`: runs the suite and exits 0 if every
//! case passed, was skipped or failed only as a known deviation of the
//! server, 1 if any failed, 2 if the server could not be reached at all.

use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, ValueEnum};

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Format {
    /// One line per case, then the totals.
    Text,
    /// A markdown table of the results on stdout; the text report goes to
    /// stderr.
    Markdown,
}

#[derive(Parser, Debug)]
#[command(
    version,
    about = "NNTP conformance suite: runs against any server given host:port"
)]
struct Args {
    /// Server under test, host:port.
    #[arg(long)]
    target: String,
    /// Group to post to and read from (default: first LIST ACTIVE group with status y).
    #[arg(long)]
    group: Option<String>,
    /// Seconds to wait on any connect, read or write.
    #[arg(long, default_value_t = 10)]
    timeout_secs: u64,
    /// Print each case's protocol transcript.
    #[arg(long)]
    verbose: bool,
    /// Secret key file (64 hex digits of an ed25519 secret key) to sign
    /// transit articles for a server advertising X-TIDINGS-SIGNED and to
    /// answer XPEER for one advertising X-TIDINGS-PEER; the server must
    /// trust its public key.
    #[arg(long, value_name = "FILE")]
    key: Option<PathBuf>,
    /// Peer name under which the server has --key's public key configured:
    /// transit connections authenticate with XPEER on a server advertising
    /// X-TIDINGS-PEER.
    #[arg(long, value_name = "NAME")]
    peer_name: Option<String>,
    /// host:port of the server's HTTP/JSON API (protocol-spec/http.md);
    /// the HTTP cases skip without it.
    #[arg(long, value_name = "HOST:PORT")]
    http: Option<String>,
    /// How to report the results.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// Same as --format markdown.
    #[arg(long)]
    table: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let format = if args.table {
        Format::Markdown
    } else {
        args.format
    };
    let target = args.target.clone();
    let opts = conformance::Options {
        target: args.target,
        group: args.group,
        timeout: Duration::from_secs(args.timeout_secs.max(1)),
        verbose: args.verbose,
        key: args.key,
        peer_name: args.peer_name,
        http: args.http,
    };
    let summary = match format {
        Format::Text => conformance::run(&opts, &mut io::stdout().lock()),
        Format::Markdown => {
            let summary = conformance::run(&opts, &mut io::stderr().lock());
            let mut stdout = io::stdout().lock();
            // Nowhere to report a closed stdout; the exit status still says.
            let _ = stdout.write_all(summary.markdown(&target).as_bytes());
            let _ = stdout.flush();
            summary
        }
    };
    if summary.unreachable.is_some() {
        ExitCode::from(2)
    } else if summary.failed > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

//! An NNTP conformance suite that talks to any server over the network, so
//! the same cases run against tidings and against a reference server (INN).
//!
//! Map of the modules:
//! - `wire`: pure protocol rules (status lines, dot-stuffing, reply fields).
//! - `client`: a small blocking client over `std::net::TcpStream`.
//! - `capabilities`: the CAPABILITIES list.
//! - `clock`: UTC calendar arithmetic for Date headers and DATE replies.
//! - `article`: test articles and unique Message-IDs.
//! - `signing`: tidings signed articles (canonical bytes, ed25519), from
//!   the spec alone.
//! - `peering`: the tidings XPEER challenge-response (signed bytes), from
//!   the spec alone.
//! - `reconcile`: tidings set reconciliation (hashes, fingerprints, entry
//!   lines, the rules of each side), from the spec alone.
//! - `ctx`: what a case gets (connections, capabilities, test group).
//! - `cases`: the cases, one module per capability group.
//! - `deviations`: known deviations of named servers (by IMPLEMENTATION),
//!   reported as `DEVIATION` instead of `FAIL`.
//! - `runner`: discovery, the run loop and the report.
//! - `report`: the results as a markdown table.

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

pub mod article;
pub mod capabilities;
pub mod cases;
pub mod client;
pub mod clock;
pub mod ctx;
pub mod deviations;
pub mod peering;
pub mod reconcile;
mod report;
mod runner;
pub mod signing;
pub mod wire;

/// What to test and how.
#[derive(Debug, Clone)]
pub struct Options {
    /// `host:port` of the server under test.
    pub target: String,
    /// Group to post to and read from; by default the first group of
    /// LIST ACTIVE with status `y`.
    pub group: Option<String>,
    /// Bound on every connect, read and write.
    pub timeout: Duration,
    /// Also print each case's protocol transcript.
    pub verbose: bool,
    /// File holding the ed25519 secret key (64 hex digits and a newline)
    /// that signs the suite's transit articles on a server advertising
    /// X-TIDINGS-SIGNED, and answers XPEER challenges on one advertising
    /// X-TIDINGS-PEER. The server must trust the key, or what the suite
    /// sends stays pending and cannot be read back.
    pub key: Option<PathBuf>,
    /// The peer name under which the server has `key`'s public key
    /// configured. On a server advertising X-TIDINGS-PEER every connection
    /// that sends IHAVE, CHECK, TAKETHIS or MODE STREAM first proves it
    /// holds that key with XPEER; without a name (or key) those cases skip.
    pub peer_name: Option<String>,
    /// `host:port` of the server's HTTP/JSON API (protocol-spec/http.md);
    /// without it the HTTP cases skip.
    pub http: Option<String>,
}

/// The verdict on one case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Pass,
    Fail,
    Skip,
    /// Failed in the way recorded as a known deviation of this server
    /// (`deviations::KNOWN`); not a failure.
    Deviation,
}

impl Verdict {
    /// As it begins a report line.
    pub fn label(self) -> &'static str {
        match self {
            Verdict::Pass => "PASS",
            Verdict::Fail => "FAIL",
            Verdict::Skip => "SKIP",
            Verdict::Deviation => "DEVIATION",
        }
    }
}

/// What happened to one case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// The capability group, as in `[IHAVE]`.
    pub suite: &'static str,
    pub case: &'static str,
    /// The RFC or spec section the case checks.
    pub reference: &'static str,
    pub verdict: Verdict,
    /// Why it failed or was skipped; for a deviation, the failure.
    pub detail: String,
    /// The deviation that explains a `Deviation` verdict.
    pub deviation: Option<&'static deviations::Deviation>,
}

/// The outcome of a run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    pub passed: usize,
    pub failed: usize,
    pub skipped: usize,
    /// Cases that failed as a known deviation of this server records.
    pub deviations: usize,
    /// The report line of each failed case.
    pub failures: Vec<String>,
    /// Set when the first connection failed, so nothing could be tested.
    pub unreachable: Option<String>,
    /// The arguments of the server's IMPLEMENTATION capability, if any.
    pub implementation: Option<String>,
    /// Every case in run order.
    pub outcomes: Vec<Outcome>,
}

impl Summary {
    /// The last line of every report.
    pub fn totals_line(&self) -> String {
        format!(
            "{} passed, {} failed, {} skipped, {} known deviation{}",
            self.passed,
            self.failed,
            self.skipped,
            self.deviations,
            if self.deviations == 1 { "" } else { "s" }
        )
    }

    /// The results as a markdown table, with a heading naming the server
    /// and, after the totals, the text of each deviation.
    pub fn markdown(&self, target: &str) -> String {
        report::markdown(self, target)
    }
}

/// Runs every case against `opts.target`, writing one line per case to
/// `out` and the totals line last.
pub fn run(opts: &Options, out: &mut dyn Write) -> Summary {
    runner::run(opts, out)
}

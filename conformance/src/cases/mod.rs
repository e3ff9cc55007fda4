//! The test cases, one module per capability group, and the small vocabulary
//! they share: what a case needs, how it reports, and reply checks.
//!
//! A case opens its own connection(s), so a failure never leaves a later
//! case reading the tail of an earlier reply.

use std::fmt;
use std::thread;
use std::time::{Duration, Instant};

use crate::client::{Client, ClientError};
use crate::ctx::Ctx;
use crate::wire::{self, Status};

pub mod audience;
pub mod authinfo;
pub mod base;
pub mod files;
pub mod http;
pub mod hygiene;
pub mod ihave;
pub mod list;
pub mod peer;
pub mod post;
pub mod reader;
pub mod signed;
pub mod state;
pub mod streaming;
pub mod sync;

/// Which kind of connection a case uses on a mode-switching server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// As connected: transit commands must work without MODE READER.
    Transit,
    /// After MODE READER when the server advertises MODE-READER.
    Reader,
}

/// What the server must advertise (on the case's side) for a case to run.
#[derive(Debug, Clone, Copy)]
pub enum Need {
    Nothing,
    Cap(&'static str),
    AnyCap(&'static [&'static str]),
    AllCaps(&'static [&'static str]),
    /// `LIST keyword` in the LIST capability's arguments.
    List(&'static str),
}

pub struct Case {
    /// Kebab-case, stating the expectation.
    pub name: &'static str,
    pub side: Side,
    pub need: Need,
    /// Skipped when no test group is known.
    pub needs_group: bool,
    pub rfc: &'static str,
    pub run: fn(&mut Ctx) -> Result<(), CaseError>,
}

pub struct Suite {
    /// Shown in brackets on every line: `[READER]`.
    pub label: &'static str,
    pub cases: &'static [Case],
}

/// In run order: reader cases before POST so the empty-group case sees the
/// groups before this run posts into them; PEER before the transit groups,
/// whose connections all depend on XPEER on a server that requires it;
/// SYNC last, so the test group already holds what the others posted.
pub const SUITES: &[Suite] = &[
    Suite {
        label: "BASE",
        cases: base::CASES,
    },
    Suite {
        label: "LIST",
        cases: list::CASES,
    },
    Suite {
        label: "READER",
        cases: reader::CASES,
    },
    Suite {
        label: "POST",
        cases: post::CASES,
    },
    Suite {
        label: "INJECTION",
        cases: post::POLICY_CASES,
    },
    Suite {
        label: "PEER",
        cases: peer::CASES,
    },
    Suite {
        label: "IHAVE",
        cases: ihave::CASES,
    },
    Suite {
        label: "STREAMING",
        cases: streaming::CASES,
    },
    Suite {
        label: "HYGIENE",
        cases: hygiene::CASES,
    },
    Suite {
        label: "SIGNED",
        cases: signed::CASES,
    },
    Suite {
        label: "SYNC",
        cases: sync::CASES,
    },
    Suite {
        label: "STATE",
        cases: state::CASES,
    },
    Suite {
        label: "HTTP",
        cases: http::CASES,
    },
    Suite {
        label: "FILES",
        cases: files::CASES,
    },
    Suite {
        label: "AUTHINFO",
        cases: authinfo::CASES,
    },
    Suite {
        label: "AUDIENCE",
        cases: audience::CASES,
    },
];

/// Why a case did not pass. A case may also decide at run time that it
/// cannot be tested (no empty group, XOVER not implemented), hence `Skip`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CaseError {
    Fail(String),
    Skip(String),
}

impl fmt::Display for CaseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CaseError::Fail(m) | CaseError::Skip(m) => f.write_str(m),
        }
    }
}

impl From<ClientError> for CaseError {
    fn from(e: ClientError) -> Self {
        CaseError::Fail(e.to_string())
    }
}

pub type CaseResult = Result<(), CaseError>;

pub fn fail<T>(msg: impl Into<String>) -> Result<T, CaseError> {
    Err(CaseError::Fail(msg.into()))
}

pub fn skip<T>(msg: impl Into<String>) -> Result<T, CaseError> {
    Err(CaseError::Skip(msg.into()))
}

/// Fails unless the reply code is one of `codes`.
pub fn expect(status: &Status, codes: &[u16], what: &str) -> CaseResult {
    if codes.contains(&status.code) {
        Ok(())
    } else {
        fail(format!(
            "{what}: expected {}, got \"{status}\"",
            codes
                .iter()
                .map(u16::to_string)
                .collect::<Vec<_>>()
                .join(" or ")
        ))
    }
}

/// The numeric argument `i` of a reply whose format the RFC fixes.
pub fn number_arg(status: &Status, i: usize, what: &str) -> Result<u64, CaseError> {
    match status.arg(i).and_then(wire::parse_number) {
        Some(n) => Ok(n),
        None => fail(format!(
            "{what}: argument {} of \"{status}\" is not a number",
            i + 1
        )),
    }
}

/// Fails unless argument `i` of the reply is exactly `want`.
pub fn arg_is(status: &Status, i: usize, want: &str, what: &str) -> CaseResult {
    if status.arg(i) == Some(want) {
        Ok(())
    } else {
        fail(format!(
            "{what}: expected argument {} to be {want}, got \"{status}\"",
            i + 1
        ))
    }
}

/// Checks a `223 n message-id` style reply (§6.2.4): a number and the
/// expected message-id.
pub fn number_and_msgid(status: &Status, msgid: &str, what: &str) -> Result<u64, CaseError> {
    let n = number_arg(status, 0, what)?;
    arg_is(status, 1, msgid, what)?;
    Ok(n)
}

/// Polls STAT until `msgid` is there. A 240 or 235 means the article "will
/// be made available" (RFC 3977 §6.3.1), not that it already is, so a
/// queueing server gets until the timeout. `after` names the reply that
/// accepted it, for the failure message.
pub fn wait_present(c: &mut Client, msgid: &str, timeout: Duration, after: &str) -> CaseResult {
    let deadline = Instant::now() + timeout;
    loop {
        let st = c.command(&format!("STAT {msgid}"))?;
        if st.code == 223 {
            return arg_is(&st, 1, msgid, &format!("STAT {msgid}"));
        }
        if Instant::now() >= deadline {
            return fail(format!(
                "STAT {msgid} still \"{st}\" {}s after {after}",
                timeout.as_secs()
            ));
        }
        thread::sleep(Duration::from_millis(200));
    }
}

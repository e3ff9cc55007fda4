//! What every case gets: fresh connections of the right kind, the server's
//! capabilities, the test group, and unique Message-IDs.

use std::time::Duration;

use crate::article::{Article, MsgIds};
use crate::capabilities::Capabilities;
use crate::cases::{expect, CaseError, Side};
use crate::client::{Client, ClientError, Transcript};
use crate::clock;
use crate::wire::{ActiveLine, Status};

/// The article posted once per run and read back by the POST cases.
#[derive(Debug, Clone)]
pub struct Posted {
    pub msgid: String,
    pub group: String,
    pub article: Article,
    /// Its number in `group`, or why it could not be found.
    pub number: Result<u64, String>,
}

pub struct Ctx {
    pub target: String,
    pub timeout: Duration,
    /// As advertised right after connecting.
    pub transit_caps: Capabilities,
    /// As advertised after MODE READER on a mode-switching server; otherwise
    /// the same as `transit_caps`.
    pub reader_caps: Capabilities,
    /// The server advertised MODE-READER, so reader cases switch first.
    pub mode_switching: bool,
    /// The group to post to and read from, or why there is none.
    pub group: Result<String, String>,
    /// LIST ACTIVE as seen before any case ran (empty if unavailable).
    pub active: Vec<ActiveLine>,
    /// Set by the POST cases on first use.
    pub fixture: Option<Result<Posted, String>>,
    ids: MsgIds,
    transcript: Transcript,
}

impl Ctx {
    pub fn new(target: String, timeout: Duration, transcript: Transcript) -> Ctx {
        Ctx {
            target,
            timeout,
            transit_caps: Capabilities::default(),
            reader_caps: Capabilities::default(),
            mode_switching: false,
            group: Err("not discovered yet".to_string()),
            active: Vec::new(),
            fixture: None,
            ids: MsgIds::new(),
            transcript,
        }
    }

    pub fn caps(&self, side: Side) -> &Capabilities {
        match side {
            Side::Transit => &self.transit_caps,
            Side::Reader => &self.reader_caps,
        }
    }

    /// A new connection and its greeting, whatever the code.
    pub fn connect(&self) -> Result<(Client, Status), ClientError> {
        Client::connect(&self.target, self.timeout, self.transcript.clone())
    }

    /// A new connection whose greeting was 200 or 201 (RFC 3977 §5.1).
    pub fn transit(&self) -> Result<Client, CaseError> {
        let (client, greeting) = self.connect()?;
        expect(&greeting, &[200, 201], "greeting")?;
        Ok(client)
    }

    /// A new connection ready for reader commands: MODE READER first on a
    /// mode-switching server (RFC 3977 §3.4.2), nothing otherwise.
    pub fn reader(&self) -> Result<Client, CaseError> {
        let mut client = self.transit()?;
        if self.mode_switching {
            let st = client.command("MODE READER")?;
            expect(&st, &[200, 201], "MODE READER")?;
        }
        Ok(client)
    }

    /// The test group, or a skip saying why there is none.
    pub fn group(&self) -> Result<String, CaseError> {
        self.group
            .clone()
            .map_err(|why| CaseError::Skip(format!("no test group: {why}")))
    }

    pub fn new_msgid(&mut self) -> String {
        self.ids.next_id()
    }

    /// A name no server has: for groups and wildmats that must match nothing.
    pub fn unused_name(&self, prefix: &str) -> String {
        format!("{prefix}.conf{}", self.ids.run_token())
    }

    /// Checks that a transit-side connection still answers: DATE where the
    /// server offers it without a mode switch, else CAPABILITIES, which is
    /// mandatory in every state (RFC 3977 §5.2).
    pub fn probe(&self, client: &mut Client, after: &str) -> Result<(), CaseError> {
        let what = format!("{after}, then a probe");
        if self.transit_caps.has("READER") {
            let st = client.command("DATE")?;
            expect(&st, &[111], &format!("{what} with DATE"))?;
            date_near_now(&st, &what)
        } else {
            let st = client.command("CAPABILITIES")?;
            expect(&st, &[101], &format!("{what} with CAPABILITIES"))?;
            let caps = client.read_block()?;
            match caps.first() {
                Some(l) if l.to_ascii_uppercase().starts_with("VERSION") => Ok(()),
                other => Err(CaseError::Fail(format!(
                    "{what}: CAPABILITIES did not begin with VERSION but {other:?}"
                ))),
            }
        }
    }

    /// Takes the protocol lines recorded since the last call.
    pub fn take_transcript(&self) -> Vec<String> {
        let mut t = self.transcript.lock().unwrap_or_else(|e| e.into_inner());
        std::mem::take(&mut *t)
    }
}

/// Checks a 111 reply's `yyyymmddhhmmss` (RFC 3977 §7.1) against the local
/// clock: a day either way allows for a server with a poorly set clock, not
/// for one reporting local time as a different date format.
pub fn date_near_now(status: &Status, what: &str) -> Result<(), CaseError> {
    let arg = status.arg(0).unwrap_or("");
    let Some(server) = clock::parse_yyyymmddhhmmss(arg) else {
        return Err(CaseError::Fail(format!(
            "{what}: expected 111 yyyymmddhhmmss, got \"{status}\""
        )));
    };
    let skew = (server - clock::now_secs()).abs();
    if skew > 86_400 {
        return Err(CaseError::Fail(format!(
            "{what}: server time {arg} is {skew}s away from the local clock"
        )));
    }
    Ok(())
}

//! What every case gets: fresh connections of the right kind (peer
//! connections authenticated with XPEER where the server requires it), the
//! server's capabilities, the test group, unique Message-IDs, and the
//! signing key for servers that require signed transit articles.

use std::time::Duration;

use crate::article::{Article, MsgIds};
use crate::capabilities::Capabilities;
use crate::cases::peer::{challenge_in, respond};
use crate::cases::{expect, fail, CaseError, Side};
use crate::client::{Client, ClientError, Transcript};
use crate::clock;
use crate::peering;
use crate::signing::{self, Signer};
use crate::wire::{ActiveLine, Status};

/// Why a transit case cannot run against a signing server without a key.
pub const NEEDS_KEY: &str =
    "server requires signed articles (X-TIDINGS-SIGNED); pass --key with a key it trusts";

/// Why a transit case cannot run against a peering server without a peer
/// name and its key.
pub const NEEDS_PEER: &str = "server requires peer authentication (X-TIDINGS-PEER); \
     pass --peer-name and --key of a configured peer";

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
    /// The key given with `--key`, if any.
    pub signer: Option<Signer>,
    /// The name given with `--peer-name`, if any.
    pub peer_name: Option<String>,
    /// The HTTP API's `host:port` given with `--http`, if any.
    pub http: Option<String>,
    ids: MsgIds,
    transcript: Transcript,
}

impl Ctx {
    pub fn new(
        target: String,
        timeout: Duration,
        signer: Option<Signer>,
        peer_name: Option<String>,
        transcript: Transcript,
    ) -> Ctx {
        Ctx {
            target,
            timeout,
            signer,
            peer_name,
            http: None,
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

    /// A new connection and the server name its greeting gives, which
    /// XPEER signatures bind (peering.md §2).
    pub fn greeted(&self) -> Result<(Client, String), CaseError> {
        let (client, greeting) = self.connect()?;
        expect(&greeting, &[200, 201], "greeting")?;
        match peering::server_name(&greeting) {
            Some(server) => Ok((client, server.to_string())),
            None => fail(format!(
                "greeting \"{greeting}\" gives no server name for XPEER to sign (peering.md §2)"
            )),
        }
    }

    /// A new connection for IHAVE, CHECK, TAKETHIS and MODE STREAM, as a
    /// peer opens one: on a server advertising X-TIDINGS-PEER it proves
    /// with XPEER, right after the greeting, that it holds the key of
    /// `--peer-name` (peering.md §2), or the case skips when no name or key
    /// was given. Otherwise the connection is used as connected.
    pub fn peer(&self) -> Result<Client, CaseError> {
        if !self.peering_required() {
            return self.transit();
        }
        let (name, signer) = self.peer_identity()?;
        let (mut client, server) = self.greeted()?;
        let cmd = format!("XPEER {name}");
        let st = client.command(&cmd)?;
        if st.code == peering::REFUSED {
            return fail(format!(
                "{cmd}: \"{st}\": the server has no peer named {name} (--peer-name)"
            ));
        }
        let challenge = challenge_in(&st, &cmd)?;
        let signature = signer.sign_bytes(&peering::signed_bytes(&server, name, &challenge));
        let st = respond(&mut client, name, &signature)?;
        if st.code == peering::REFUSED {
            return fail(format!(
                "XPEER {name} <signature>: \"{st}\": the server does not have the --key \
                 public key {} configured for peer {name}",
                signer.public_hex()
            ));
        }
        expect(
            &st,
            &[peering::AUTHENTICATED],
            &format!("XPEER {name} <signature>"),
        )?;
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

    /// The server speaks signing.md: transit articles must be signed, and
    /// their Message-IDs must name the key.
    pub fn signing_required(&self) -> bool {
        self.transit_caps.has(signing::CAPABILITY)
    }

    /// The server speaks peering.md: transit commands need XPEER first.
    pub fn peering_required(&self) -> bool {
        self.transit_caps.has(peering::CAPABILITY)
    }

    /// The `--peer-name`, or a skip saying one is needed.
    pub fn peer_name(&self) -> Result<&str, CaseError> {
        self.peer_name
            .as_deref()
            .ok_or_else(|| CaseError::Skip(NEEDS_PEER.to_string()))
    }

    /// The `--peer-name` and the key that proves it, or a skip saying both
    /// are needed.
    pub fn peer_identity(&self) -> Result<(&str, &Signer), CaseError> {
        match (self.peer_name.as_deref(), self.signer.as_ref()) {
            (Some(name), Some(signer)) => Ok((name, signer)),
            _ => Err(CaseError::Skip(NEEDS_PEER.to_string())),
        }
    }

    /// The key, or a skip saying one is needed.
    pub fn signer(&self) -> Result<&Signer, CaseError> {
        self.signer
            .as_ref()
            .ok_or_else(|| CaseError::Skip(NEEDS_KEY.to_string()))
    }

    /// A new Message-ID for an article the suite may send by IHAVE or
    /// TAKETHIS: bound to the key on a signing server (signing.md §3),
    /// plain otherwise.
    pub fn new_msgid(&mut self) -> String {
        let key = self
            .signer
            .as_ref()
            .filter(|_| self.signing_required())
            .map(Signer::public_hex);
        self.ids.next_id(key.as_deref())
    }

    /// A new Message-ID naming no key, for POST and for refusal cases.
    pub fn new_unbound_msgid(&mut self) -> String {
        self.ids.next_id(None)
    }

    /// Makes `article` fit for IHAVE or TAKETHIS: signed on a signing
    /// server (a skip if there is no key), unchanged otherwise.
    pub fn seal(&self, article: Article) -> Result<Article, CaseError> {
        if !self.signing_required() {
            return Ok(article);
        }
        self.sign(&article)
    }

    /// Signs `article` with the key, or skips if there is none.
    pub fn sign(&self, article: &Article) -> Result<Article, CaseError> {
        self.signer()?
            .sign(article)
            .map_err(|e| CaseError::Fail(format!("cannot sign the suite's own article: {e}")))
    }

    /// Fails, naming the cause, when a signing server accepted an article
    /// only as pending (signing.md §6): it does not trust the key, so the
    /// article cannot be read back nor act. The reply text is the only sign
    /// the spec gives of it.
    pub fn not_pending(&self, status: &Status, what: &str) -> Result<(), CaseError> {
        if self.signing_required() && status.text.to_ascii_lowercase().contains("pending") {
            return Err(CaseError::Fail(format!(
                "{what}: \"{status}\": the server keeps articles by the --key key pending \
                 (signing.md §6); it must trust that key for this case"
            )));
        }
        Ok(())
    }

    /// A new article for IHAVE or TAKETHIS to the test group, sealed, and
    /// its Message-ID.
    pub fn transit_article(&mut self) -> Result<(String, Article), CaseError> {
        let group = self.group()?;
        let msgid = self.new_msgid();
        let article = self.seal(Article::for_transit(&msgid, &group))?;
        Ok((msgid, article))
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

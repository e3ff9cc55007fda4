//! Ingest decides what happens to an offered article before anything is
//! written: parse, verify the signature, apply the RFC 5536 rules and the
//! trust rules, pick the groups we carry, work out the effects of control
//! messages, and build the bytes we store. The committer does the writing.
//!
//! Refusals of an article whose signature verified are remembered so that
//! offers of its Message-ID are refused too; refusals of anything else are
//! remembered for the record only, because blocking an ID on the strength of
//! bytes anyone could have made would let anyone poison it.

pub mod authority;
pub mod injection;
pub mod rewrite;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use ed25519_dalek::{SigningKey, VerifyingKey};

pub use rewrite::{overview_message_id, overview_record};

use crate::groups::Groups;
use crate::peers::{Peers, Right};
use crate::proto::article::{self, Article};
use crate::proto::audience::{self, Audience, Scope};
use crate::proto::control::{self, Control};
use crate::proto::signing::{self, SigError};
use crate::proto::wildmat::Wildmat;
use crate::store::commit::{Disposition, Effect, Prepared, Waited};
use crate::store::schema::{BoardState, HistoryEntry};
use crate::store::Store;
use crate::trust::{Standing, Trust};

/// The pseudo-board every control message is filed in, as INN's `control`.
pub const CONTROL_GROUP: &str = "control";

/// How the article reached us.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// POST from a reader: we are the injecting agent (RFC 5537 §3.4).
    Post,
    /// IHAVE or TAKETHIS from another server, naming this Message-ID
    /// (RFC 5537 §3.5, relaying); `peer` is the authenticated peer, if any,
    /// whose accept rights apply (protocol-spec/peering.md §3).
    Transit {
        offered_id: Vec<u8>,
        peer: Option<String>,
    },
    /// An article that waited for its signer's passport, already in its
    /// stored form, decided again now that the key is known.
    Released,
    /// A post held for premoderation, in its stored form, decided again
    /// because the operator approved it: it is filed, with its effects.
    Approved,
}

impl Source {
    /// An article already in its stored form (Path and all), coming out
    /// of a waiting room.
    fn waited(&self) -> bool {
        matches!(self, Source::Released | Source::Approved)
    }

    /// The waiting room an article from this source leaves: `pending`
    /// under its signer's key, or `held`.
    fn waited_in(&self, signer: Option<&VerifyingKey>) -> Waited {
        match (self, signer) {
            (Source::Released, Some(key)) => Waited::Pending {
                key: key.to_bytes(),
            },
            (Source::Approved, _) => Waited::Held,
            _ => Waited::Nowhere,
        }
    }
}

/// How a refusal is remembered in history.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Remember {
    /// Not at all (POST, or no trustworthy Message-ID).
    No,
    /// For the record; offers of the ID are still taken.
    Record,
    /// Offers of the ID are refused from now on.
    Block,
}

/// Why an article was refused. The reason goes to the client as-is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// What kind of refusal, for the metrics.
    pub kind: Refused,
    pub reason: String,
    pub message_id: Option<Vec<u8>>,
    pub remember: Remember,
}

/// The kinds of refusal: a small fixed set, whatever a reason's text, so
/// that `tidings_articles_refused_total{reason}` stays bounded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// Not an article as the rules for its source want it: syntax, headers,
    /// a Message-ID other than the one offered, a client's post naming
    /// boards not here or files past the limits.
    Malformed,
    /// Its signature is missing or does not verify.
    Signature,
    /// Its signer may not do this: a free Message-ID signed by a key not a
    /// node's, a revoked key, an edit or control message beyond its
    /// authority, an unsigned control message or edit from a client.
    Authority,
    /// The peer that offered it may not announce that kind of article.
    PeerRights,
    /// Its Path shows a loop or too many hops.
    Path,
    /// Its Date: from the future, or older than its boards keep articles.
    Date,
    /// No board here takes it: none carried, or not reserved for its
    /// audience, or no grant to keep it.
    Board,
    /// Removed here before: cancelled, or its thread refused.
    Removed,
    /// This node could not make its stored form.
    Fault,
}

impl Refused {
    /// Its `reason` label.
    pub fn label(self) -> &'static str {
        match self {
            Refused::Malformed => "malformed",
            Refused::Signature => "signature",
            Refused::Authority => "authority",
            Refused::PeerRights => "peer_rights",
            Refused::Path => "path",
            Refused::Date => "date",
            Refused::Board => "board",
            Refused::Removed => "removed",
            Refused::Fault => "fault",
        }
    }
}

/// Store lookups ingest needs (the targets of cancels, moves and
/// approvals).
pub trait Lookup {
    fn history(&self, message_id: &[u8]) -> Option<HistoryEntry>;
    /// A post held for premoderation, as stored.
    fn held(&self, message_id: &[u8]) -> Option<Vec<u8>>;
    /// The key that signed a stored article (its author, when its
    /// Message-ID names no key).
    fn signer(&self, message_id: &[u8]) -> Option<VerifyingKey>;
    /// A board's state as its kept controls give it.
    fn board(&self, name: &str) -> BoardState;
    /// Why the operator refused the thread `root` opens, if they did.
    fn refused_thread(&self, root: &[u8]) -> Option<String>;
    /// The signers of the kept cancels of `message_id`.
    fn cancels(&self, message_id: &[u8]) -> Vec<[u8; 32]>;
    /// Whether some move control names `root`: its thread may be filed
    /// on a board other than its articles' Newsgroups.
    fn moved(&self, root: &[u8]) -> bool;
}

/// A store that holds nothing: for measuring and fuzzing ingest alone.
pub struct EmptyLookup;

impl Lookup for EmptyLookup {
    fn history(&self, _: &[u8]) -> Option<HistoryEntry> {
        None
    }

    fn held(&self, _: &[u8]) -> Option<Vec<u8>> {
        None
    }

    fn signer(&self, _: &[u8]) -> Option<VerifyingKey> {
        None
    }

    fn board(&self, _: &str) -> BoardState {
        BoardState::default()
    }

    fn refused_thread(&self, _: &[u8]) -> Option<String> {
        None
    }

    fn cancels(&self, _: &[u8]) -> Vec<[u8; 32]> {
        Vec::new()
    }

    fn moved(&self, _: &[u8]) -> bool {
        false
    }
}

/// Refuses a transit article dated more than a day ahead of our clock
/// (RFC 5537 §3.6 via §3.5): Injection-Date when present, else Date.
fn future_dated(article: &Article, now: DateTime<Utc>) -> Result<(), String> {
    let (name, value) = match article.header_unfolded("Injection-Date") {
        Some(value) => ("Injection-Date", value),
        None => match article.header_unfolded("Date") {
            Some(value) => ("Date", value),
            None => return Ok(()),
        },
    };
    match article::parse_date(&value) {
        Some(date) if date.with_timezone(&Utc) > now + injection::FUTURE => Err(format!(
            "{name} is more than {} hours ahead of this server's clock; offer it again later",
            injection::FUTURE.num_hours()
        )),
        _ => Ok(()),
    }
}

impl Lookup for Store {
    fn history(&self, message_id: &[u8]) -> Option<HistoryEntry> {
        Store::history(self, message_id).unwrap_or_else(|e| {
            tracing::error!(error = %e, "history lookup failed");
            None
        })
    }

    fn signer(&self, message_id: &[u8]) -> Option<VerifyingKey> {
        let bytes = match Store::article(self, message_id) {
            Ok(bytes) => bytes?,
            Err(e) => {
                tracing::error!(error = %e, "article lookup failed");
                return None;
            }
        };
        let article = Article::parse(Bytes::from(bytes)).ok()?;
        // Verified when it was stored; the claim names the key.
        signing::claimed_key(&article).ok()
    }

    fn board(&self, name: &str) -> BoardState {
        match self.board_controls(name) {
            Ok(controls) => BoardState::of(&controls),
            Err(e) => {
                tracing::error!(error = %e, "board controls lookup failed");
                BoardState::default()
            }
        }
    }

    fn cancels(&self, message_id: &[u8]) -> Vec<[u8; 32]> {
        match self.cancels_of(message_id) {
            Ok(cancels) => cancels.into_iter().map(|(_, signer)| signer).collect(),
            Err(e) => {
                tracing::error!(error = %e, "cancels lookup failed");
                Vec::new()
            }
        }
    }

    fn moved(&self, root: &[u8]) -> bool {
        self.moves_for(root).map_or_else(
            |e| {
                tracing::error!(error = %e, "moves lookup failed");
                false
            },
            |moves| !moves.is_empty(),
        )
    }

    fn refused_thread(&self, root: &[u8]) -> Option<String> {
        Store::refused_thread(self, root).unwrap_or_else(|e| {
            tracing::error!(error = %e, "refused thread lookup failed");
            None
        })
    }

    fn held(&self, message_id: &[u8]) -> Option<Vec<u8>> {
        match Store::held(self, message_id) {
            Ok(held) => held.map(|(_, bytes)| bytes),
            Err(e) => {
                tracing::error!(error = %e, "held post lookup failed");
                None
            }
        }
    }
}

/// What deciding an article settled, for [`Ingest::prepared`]: where it is
/// filed, what it does, and the key whose signature was verified (none for
/// an unsigned article taken from a peer that sends them).
struct Decided {
    groups: Vec<String>,
    effects: Vec<Effect>,
    disposition: Disposition,
    from: Waited,
    signer: Option<VerifyingKey>,
}

/// An article between parsing and deciding, with its claimed signature.
pub struct Parsed {
    article: Article,
    /// The signature to verify, or why there is none to verify.
    pub claimed: Result<signing::Claimed, SigError>,
    /// The Message-ID as received (before an unsigned POST was completed).
    received_id: Option<Vec<u8>>,
    source: Source,
}

fn refusal(
    source: &Source,
    kind: Refused,
    reason: String,
    id: Option<Vec<u8>>,
    remember: Remember,
) -> Rejection {
    // A poster fixes the article and retries; nothing to remember.
    let remember = if *source == Source::Post {
        Remember::No
    } else {
        remember
    };
    Rejection {
        kind,
        reason,
        message_id: id,
        remember,
    }
}

pub struct Ingest<'a> {
    /// Our Path identity.
    pub node: &'a str,
    pub groups: &'a Groups,
    pub trust: &'a Trust,
    /// Who gets what we accept, and what each peer may announce.
    pub peers: &'a Peers,
    /// Signs what local clients POST unsigned.
    pub node_key: &'a SigningKey,
    pub lookup: &'a dyn Lookup,
    /// Most Path entries an article may arrive with.
    pub hop_limit: usize,
    /// Boards a newgroup control message may create here.
    pub stores: &'a Wildmat,
    /// Boards whose new posts wait for the operator's approval.
    pub premoderate: Option<&'a Wildmat>,
    /// The node's configuration, for each board's file limits.
    pub config: &'a crate::config::Valid,
    /// Which boards are reserved for which audience, and the grants.
    pub access: &'a crate::access::Access,
    pub now: DateTime<Utc>,
}

impl Ingest<'_> {
    /// Parses and checks all but the signature, which the caller verifies
    /// (possibly batched with other connections') before [`Ingest::decide`].
    pub fn parse(&self, raw: Bytes, source: &Source) -> Result<Parsed, Rejection> {
        let offered = match source {
            Source::Transit { offered_id, .. } => Some(offered_id.as_slice()),
            Source::Post | Source::Released | Source::Approved => None,
        };
        let refuse =
            |reason: String| refusal(source, Refused::Malformed, reason, None, Remember::No);
        let article = Article::parse(raw).map_err(|e| refuse(e.to_string()))?;
        let id = article.message_id();
        if let (Some(offered), Some(id)) = (offered, &id) {
            if offered != id.as_slice() {
                let reason = format!(
                    "Message-ID header {} does not match the offered {}",
                    String::from_utf8_lossy(id),
                    String::from_utf8_lossy(offered)
                );
                return Err(refuse(reason));
            }
        }
        if *source == Source::Post {
            injection::check(&article, self.now, |g| {
                std::str::from_utf8(g).is_ok_and(|g| self.groups.contains(g))
            })
            .map_err(refuse)?;
            injection::file_limits(&article, |board| self.config.file_limits(board))
                .map_err(refuse)?;
        }
        let article = match source {
            Source::Post if article.header(signing::HEADER).is_none() => {
                article
                    .check(article::POST_REQUIRED)
                    .map_err(|e| refuse(e.to_string()))?;
                let forbid =
                    |reason| refusal(source, Refused::Authority, reason, None, Remember::No);
                if let Some(id) = &id {
                    if !signing::may_sign(id, &self.node_key.verifying_key()) {
                        let reason = format!(
                            "Message-ID {} names another key, so only that key may sign it: sign the article with it, or choose a Message-ID that names no key",
                            String::from_utf8_lossy(id)
                        );
                        return Err(forbid(reason));
                    }
                }
                // The node key carries authority (passports, boards, its own
                // posts); lending it to whoever can POST would hand that
                // authority out. Control messages and edits must come signed.
                if let Some(name) = ["Control", "Supersedes"]
                    .into_iter()
                    .find(|h| article.header(h).is_some())
                {
                    let reason = format!("{name} articles must be signed by their author; the server signs only plain posts");
                    return Err(forbid(reason));
                }
                self.sign_for_client(&article)?
            }
            _ => article,
        };
        let claimed = signing::claimed(&article);
        Ok(Parsed {
            article,
            claimed,
            received_id: id,
            source: source.clone(),
        })
    }

    /// Parses, verifies and decides in one go, on this thread.
    pub fn prepare(&self, raw: Bytes, source: &Source) -> Result<Prepared, Rejection> {
        let parsed = self.parse(raw, source)?;
        let verified = parsed.claimed.clone().and_then(|c| c.verify());
        self.decide(parsed, verified)
    }

    /// Everything after the signature check: trust, rules, effects, and the
    /// bytes to store.
    pub fn decide(
        &self,
        parsed: Parsed,
        verified: Result<VerifyingKey, SigError>,
    ) -> Result<Prepared, Rejection> {
        let Parsed {
            article,
            received_id: id,
            source,
            ..
        } = parsed;
        let source = &source;
        let refuse = |kind: Refused, reason: String, id: Option<Vec<u8>>, remember: Remember| {
            refusal(source, kind, reason, id, remember)
        };
        let signer = match verified {
            Ok(signer) => signer,
            // A held unsigned post came from a peer whose unsigned articles
            // are taken, or it would not have been held.
            Err(SigError::Missing)
                if self.takes_unsigned(source) || *source == Source::Approved =>
            {
                return self.decide_unsigned(article, source);
            }
            Err(e) => {
                return Err(refuse(
                    Refused::Signature,
                    e.to_string(),
                    id.clone(),
                    Remember::Record,
                ))
            }
        };
        let id = article.message_id().unwrap_or_default();
        let standing = self.trust.standing(&signer);
        // A free ID is claimed by whichever node injects it first, so only a
        // node key may; anyone else's bytes under it prove nothing and must
        // not block the ID (signing.md §3).
        if !signing::names_key(&id) && !matches!(standing, Standing::Node(_)) {
            let reason = format!(
                "Message-ID {} names no key, so only a node key, as injecting agent, may sign it; {} is not a node key here (end the part before @ with .<your key hex> to bind it to yours)",
                String::from_utf8_lossy(&id),
                authority::short(&signer)
            );
            return Err(refuse(
                Refused::Authority,
                reason,
                Some(id),
                Remember::Record,
            ));
        }
        if let Source::Transit { .. } = source {
            // On the sender's word the article is from the future; it may
            // be taken when it is offered again (nntp.md §5.4).
            future_dated(&article, self.now).map_err(|reason| {
                refuse(Refused::Date, reason, Some(id.clone()), Remember::Record)
            })?;
        }
        // From here on the article is exactly what its Message-ID names, so
        // refusing it may block the ID.
        let block = |kind: Refused| {
            let id = &id;
            move |reason: String| refusal(source, kind, reason, Some(id.clone()), Remember::Block)
        };
        let required: &[&str] = match source {
            Source::Post => &["Date", "From", "Message-ID", "Newsgroups", "Subject"],
            Source::Transit { .. } | Source::Released | Source::Approved => {
                article::TRANSIT_REQUIRED
            }
        };
        article
            .check(required)
            .map_err(|e| block(Refused::Malformed)(e.to_string()))?;
        if let Some(reason) = article
            .thread_root()
            .and_then(|root| self.lookup.refused_thread(&root))
        {
            return Err(block(Refused::Removed)(reason));
        }
        if let Some(by) = self.lookup.cancels(&id).into_iter().find(|by| {
            VerifyingKey::from_bytes(by)
                .is_ok_and(|by| authority::cancel_holds(&by, &article, Some(&signer), self.trust))
        }) {
            return Err(block(Refused::Removed)(format!(
                "cancelled by {}",
                &hex::encode(by)[..8]
            )));
        }

        // A revocation counts from its Date: what the key signed before
        // stands, whichever arrived first (state.md §4b).
        let standing = match standing {
            Standing::Revoked { since } if authority::date_secs(&article) <= since => {
                Standing::Passport
            }
            Standing::Revoked { .. } => {
                return Err(block(Refused::Authority)(format!(
                    "the signing key {} was revoked before this article's Date",
                    signing::key_hex(&signer)
                )));
            }
            other => other,
        };
        let control = article
            .header_unfolded("Control")
            .map(|value| control::parse(&value))
            .transpose()
            .map_err(block(Refused::Malformed))?;
        if let Source::Transit {
            peer: Some(peer), ..
        } = source
        {
            let right = match &control {
                Some(Control::NewGroup { .. } | Control::ModGroup { .. } | Control::RmGroup(_)) => {
                    Right::Boards
                }
                Some(
                    Control::Passport(_)
                    | Control::Revoke(_)
                    | Control::Rotate(_)
                    | Control::Introduce { .. }
                    | Control::Withdraw(_),
                ) => Right::Passports,
                _ => Right::Articles,
            };
            if !self.peers.accepts(peer, right) {
                // Another peer may bring it; do not block the ID.
                let reason = format!("peer {peer} may not announce {} here", right.name());
                return Err(refuse(Refused::PeerRights, reason, None, Remember::No));
            }
        }
        if !source.waited() {
            self.check_path(&article).map_err(block(Refused::Path))?;
        }

        if control.is_some() && article.header(audience::HEADER).is_some() {
            return Err(block(Refused::Malformed)(format!(
                "control messages are public: {} is for posts",
                audience::HEADER
            )));
        }
        let (groups, effects, disposition) =
            match (&control, &standing) {
                (Some(c), _) if c.is_local() => {
                    let mut effects = self
                        .control_effects(c, &signer, &standing, &article, source)
                        .map_err(block(Refused::Authority))?;
                    if let Control::LocalApprove(target) = c {
                        effects.push(self.approval(target).map_err(block(Refused::Authority))?);
                    }
                    (Vec::new(), effects, Disposition::Local)
                }
                (Some(_), Standing::Unknown) => (
                    vec![CONTROL_GROUP.to_string()],
                    Vec::new(),
                    Disposition::Pending {
                        key: signer.to_bytes(),
                    },
                ),
                (Some(c), _) => {
                    let effects = self
                        .control_effects(c, &signer, &standing, &article, source)
                        .map_err(block(Refused::Authority))?;
                    (vec![CONTROL_GROUP.to_string()], effects, Disposition::File)
                }
                (None, Standing::Unknown) => {
                    let groups = self.filed_groups(&article, source).map_err(
                        |(kind, reason, remember)| refuse(kind, reason, Some(id.clone()), remember),
                    )?;
                    (
                        groups,
                        Vec::new(),
                        Disposition::Pending {
                            key: signer.to_bytes(),
                        },
                    )
                }
                (None, _) => {
                    let groups = self.filed_groups(&article, source).map_err(
                        |(kind, reason, remember)| refuse(kind, reason, Some(id.clone()), remember),
                    )?;
                    // An edit is kept as an article of its own; which version
                    // of the post readers see is settled from what is stored
                    // (settle.rs, state.md §3b), whatever came first.
                    if article.header("Supersedes").is_some() {
                        let old = article.supersedes().ok_or_else(|| {
                            block(Refused::Malformed)(
                                "Supersedes must name exactly one message-id".into(),
                            )
                        })?;
                        authority::may_edit(&signer, &old, &article, &standing, self.trust)
                            .map_err(block(Refused::Authority))?;
                    }
                    let effects = Vec::new();
                    if self.holds(source, &groups, Some(&signer)) {
                        (groups, Vec::new(), Disposition::Held)
                    } else {
                        (groups, effects, Disposition::File)
                    }
                }
            };

        let from = source.waited_in(Some(&signer));
        let decided = Decided {
            groups,
            effects,
            disposition,
            from,
            signer: Some(signer),
        };
        self.prepared(&article, source, id, decided)
    }

    /// Whether premoderation holds a post filed in `groups`: boards
    /// matching `[node] premoderate` hold new posts (and their effects)
    /// until the operator approves, unless a moderator of the board signed;
    /// a post being approved is not held again.
    fn holds(&self, source: &Source, groups: &[String], signer: Option<&VerifyingKey>) -> bool {
        *source != Source::Approved
            && self.premoderate.is_some_and(|boards| {
                groups.iter().any(|g| {
                    boards.matches(g.as_bytes())
                        && !signer.is_some_and(|key| self.trust.moderates(key, g))
                })
            })
    }

    /// A held post decided again for `local-approve`: filed, with the
    /// effects it would have had (an edit removes what it replaces).
    fn approval(&self, target: &[u8]) -> Result<Effect, String> {
        let shown = String::from_utf8_lossy(target);
        let Some(bytes) = self.lookup.held(target) else {
            return Err(format!("{shown} is not held for moderation here"));
        };
        let article = self
            .prepare(Bytes::from(bytes), &Source::Approved)
            .map_err(|r| format!("{shown} cannot be approved: {}", r.reason))?;
        Ok(Effect::Approve {
            article: Box::new(article),
        })
    }

    /// Whether `source` is a plain peer whose unsigned articles are taken.
    fn takes_unsigned(&self, source: &Source) -> bool {
        matches!(source, Source::Transit { peer: Some(peer), .. } if self.peers.takes_unsigned(peer))
    }

    /// An unsigned article from a plain NNTP peer configured with `unsigned
    /// = "accept"` (peering.md §4): taken as it is, on the peer's word, as
    /// INN takes articles. Nothing unsigned may change state here, so
    /// control messages and Supersedes are refused.
    fn decide_unsigned(&self, article: Article, source: &Source) -> Result<Prepared, Rejection> {
        let id = article.message_id().unwrap_or_default();
        // Unsigned, the bytes prove nothing: refusals are kept for the
        // record only, so a genuine copy can still come.
        let record = |kind: Refused, reason: String| {
            refusal(source, kind, reason, Some(id.clone()), Remember::Record)
        };
        article
            .check(article::TRANSIT_REQUIRED)
            .map_err(|e| record(Refused::Malformed, e.to_string()))?;
        if let Some(name) = ["Control", "Supersedes"]
            .into_iter()
            .find(|h| article.header(h).is_some())
        {
            return Err(record(
                Refused::Authority,
                format!(
                "{name} articles must be signed, even from a peer whose unsigned articles are taken"
            ),
            ));
        }
        if !source.waited() {
            self.check_path(&article)
                .map_err(|reason| record(Refused::Path, reason))?;
        }
        let groups = self
            .carried_groups(&article, source)
            .map_err(|(kind, reason, _)| record(kind, reason))?;
        let disposition = if self.holds(source, &groups, None) {
            Disposition::Held
        } else {
            Disposition::File
        };
        let from = source.waited_in(None);
        let unsigned = Decided {
            groups,
            effects: Vec::new(),
            disposition,
            from,
            signer: None,
        };
        self.prepared(&article, source, id, unsigned)
    }

    /// The boards `article` names, besides `groups`, that this node would
    /// store (`[node] store`) but does not have, and that were not removed
    /// after it was posted: it is filed there too if a newgroup creates
    /// them, as it would have been had the newgroup come first.
    fn boards_to_come(&self, article: &Article, groups: &[String]) -> Vec<String> {
        let date = authority::date_secs(article);
        article
            .newsgroups()
            .iter()
            .filter_map(|g| std::str::from_utf8(g).ok())
            .filter(|g| {
                *g != CONTROL_GROUP
                    && !groups.iter().any(|c| c == g)
                    && !self.groups.contains(g)
                    && self.stores.matches(g.as_bytes())
                    && self.lookup.board(g).removed.is_none_or(|at| date > at)
            })
            .map(str::to_string)
            .collect()
    }

    /// The boards an article is filed in here ([`Ingest::carried_groups`]),
    /// if this node may keep it: a protected post (access.md §7) only in
    /// boards the access rules reserve for its audience, boards to come
    /// included, and only while this node's key holds the audience as a
    /// cache. Those refusals are for the record only: a grant or a rule may
    /// come later, and catch-up then brings the post again.
    fn filed_groups(
        &self,
        article: &Article,
        source: &Source,
    ) -> Result<Vec<String>, (Refused, String, Remember)> {
        let groups = self.carried_groups(article, source)?;
        // Past its time here (README "Retention"): refused and remembered,
        // as the copy expired here was, so no peer brings it back.
        if crate::retention::article_end(&self.config.retention_rules, article, &groups)
            .is_some_and(|at| at <= self.now.timestamp())
        {
            return Err((
                Refused::Date,
                "it is older than its boards keep articles here (retention)".into(),
                Remember::Block,
            ));
        }
        let Some(value) = article.header_unfolded(audience::HEADER) else {
            return Ok(groups);
        };
        let audience =
            Audience::parse_header(&value).map_err(|e| (Refused::Malformed, e, Remember::Block))?;
        let to_come = self.boards_to_come(article, &groups);
        if let Some(open) = groups
            .iter()
            .chain(&to_come)
            .find(|g| !self.access.reserved_for(g, &audience))
        {
            let reason = format!(
                "it is protected for audience {audience}, and board {open} is not reserved for that audience here"
            );
            return Err((Refused::Board, reason, Remember::Record));
        }
        let own = self.node_key.verifying_key().to_bytes();
        if !self.access.grants().holds(&own, &audience, Scope::Cache) {
            let reason = format!(
                "it is protected for audience {audience}, and this node holds no grant to keep it"
            );
            return Err((Refused::Board, reason, Remember::Record));
        }
        Ok(groups)
    }

    /// Refuses an article whose Path shows a loop or too many hops.
    fn check_path(&self, article: &Article) -> Result<(), String> {
        let Some(path) = article.header_unfolded("Path") else {
            return Ok(());
        };
        if rewrite::path_contains(&path, self.node.as_bytes()) {
            return Err(format!("Path already contains {}: loop", self.node));
        }
        let hops = path.split(|&b| b == b'!').count();
        if hops > self.hop_limit {
            return Err(format!(
                "Path has {hops} entries, more than the limit of {}",
                self.hop_limit
            ));
        }
        Ok(())
    }

    /// The stored form of an accepted article and what filing it needs,
    /// the peers it goes to included.
    fn prepared(
        &self,
        article: &Article,
        source: &Source,
        id: Vec<u8>,
        decided: Decided,
    ) -> Result<Prepared, Rejection> {
        let Decided {
            groups,
            effects,
            disposition,
            from,
            signer,
        } = decided;
        let (bytes, stored) = if source.waited() {
            (article.raw().clone(), None)
        } else {
            let bytes = rewrite::rewrite(article, self.node, *source == Source::Post);
            let stored = Article::parse(bytes.clone()).map_err(|e| {
                refusal(
                    source,
                    Refused::Fault,
                    e.to_string(),
                    Some(id.clone()),
                    Remember::Block,
                )
            })?;
            (bytes, Some(stored))
        };
        let stored = stored.as_ref().unwrap_or(article);
        let outboxes = match disposition {
            Disposition::File if self.peers.feeds_any() => self.peers.wanting(
                &stored.header_unfolded("Path").unwrap_or_default(),
                &stored.newsgroups(),
            ),
            // Routed when it is filed, to the peers there are then.
            _ => Vec::new(),
        };
        Ok(Prepared {
            thread: stored.thread_root().unwrap_or_else(|| id.clone()),
            supersedes: stored.supersedes(),
            signer: signer.map(|k| k.to_bytes()),
            // Control messages are filed in `control` alone.
            waits: match disposition {
                Disposition::File if stored.header("Control").is_none() => {
                    self.boards_to_come(stored, &groups)
                }
                _ => Vec::new(),
            },
            message_id: id,
            overview: overview_record(stored),
            bytes,
            groups,
            effects,
            disposition,
            from,
            outboxes,
        })
    }

    /// An unsigned POST gets the injecting node's headers and signature.
    fn sign_for_client(&self, article: &Article) -> Result<Article, Rejection> {
        let key = self.node_key.verifying_key();
        let fault = |e: String| Rejection {
            kind: Refused::Fault,
            reason: e,
            message_id: None,
            remember: Remember::No,
        };
        let completed = Article::parse(rewrite::complete_post(article, &key, self.node, self.now))
            .map_err(|e| fault(e.to_string()))?;
        let signed = signing::sign(&completed, self.node_key).map_err(|e| fault(e.to_string()))?;
        Article::parse(signed).map_err(|e| fault(e.to_string()))
    }

    fn control_effects(
        &self,
        control: &Control,
        signer: &ed25519_dalek::VerifyingKey,
        standing: &Standing,
        article: &Article,
        source: &Source,
    ) -> Result<Vec<Effect>, String> {
        let local = *source == Source::Post;
        let mut effects =
            authority::control(control, signer, standing, article, self.trust, local)?;
        // A valid newgroup for a board this node does not store is kept
        // (and relayed) as a control message, but creates nothing here.
        effects.retain(
            |e| !matches!(e, Effect::Board { name, .. } if !self.stores.matches(name.as_bytes())),
        );
        Ok(effects)
    }

    /// POST must name only carried groups (a typo should not vanish);
    /// transit needs at least one and is filed in those. A board counts as
    /// not carried for an article dated up to its latest rmgroup, even if
    /// a later newgroup brought it back (state.md §4). When the only
    /// boards named are ones this node would store but does not have (yet,
    /// or again), the refusal is kept for the record only: once a newgroup
    /// creates one, catch-up brings the article again.
    fn carried_groups(
        &self,
        article: &Article,
        source: &Source,
    ) -> Result<Vec<String>, (Refused, String, Remember)> {
        let date = authority::date_secs(article);
        let mut carried = Vec::new();
        let mut removed = None;
        let mut later = false;
        for name in article.newsgroups() {
            let Ok(name) = std::str::from_utf8(&name) else {
                continue;
            };
            let gone = self.lookup.board(name).removed.is_some_and(|at| date <= at);
            if gone {
                removed.get_or_insert_with(|| name.to_string());
            } else if self.groups.contains(name) {
                carried.push(name.to_string());
            } else if self.stores.matches(name.as_bytes()) {
                later = true;
            }
        }
        if *source == Source::Post {
            if let Some(unknown) = article
                .newsgroups()
                .iter()
                .find(|g| !std::str::from_utf8(g).is_ok_and(|g| carried.iter().any(|c| c == g)))
            {
                let reason = format!(
                    "newsgroup {} is not carried here",
                    String::from_utf8_lossy(unknown)
                );
                return Err((Refused::Board, reason, Remember::No));
            }
        }
        if !carried.is_empty() {
            return Ok(carried);
        }
        // A reply to a thread a move may have taken to a board carried
        // here is kept, filed nowhere, and the settling files it with its
        // thread (or nowhere): the same whether it came before or after
        // its own board went (state.md §3).
        if *source != Source::Post
            && removed.is_none()
            && article
                .thread_root()
                .is_some_and(|root| self.lookup.moved(&root))
        {
            return Ok(Vec::new());
        }
        Err(match (removed, later) {
            // Wherever a move of its thread files it, the rmgroup takes
            // it (state.md §4).
            (Some(board), _) => (
                Refused::Removed,
                format!("it was posted before its board {board} was removed"),
                Remember::Block,
            ),
            (None, true) => (
                Refused::Board,
                "none of its newsgroups is carried here yet".into(),
                Remember::Record,
            ),
            (None, false) => (
                Refused::Board,
                "none of its newsgroups is carried here".into(),
                Remember::Block,
            ),
        })
    }
}

#[cfg(test)]
mod tests;

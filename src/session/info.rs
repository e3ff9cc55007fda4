//! CAPABILITIES, HELP, DATE and MODE READER: what the server is and can do.

use super::{Handled, Session, Stop};
use crate::proto::command::COMMANDS;
use crate::proto::{Code, Reply};

impl Session {
    /// CAPABILITIES (RFC 3977 §5.2). X-TIDINGS-SIGNED is ours
    /// (protocol-spec/signing.md). tidings is not mode-switching: reader
    /// and transit commands work on every connection (for peers that proved
    /// their key with XPEER), so MODE-READER is not advertised (§3.4.2).
    /// The one change within a session: STARTTLS goes once the connection
    /// uses TLS or a peer has authenticated (RFC 4642 §2.2.1).
    pub(super) fn capabilities(&self) -> Reply {
        let mut lines: Vec<Vec<u8>> = vec![
            b"VERSION 2".to_vec(),
            format!("IMPLEMENTATION tidings {}", env!("CARGO_PKG_VERSION")).into_bytes(),
            b"READER".to_vec(),
        ];
        if self.node.config().node.posting {
            lines.push(b"POST".to_vec());
        }
        lines.extend(
            [
                "IHAVE",
                "STREAMING",
                "LIST ACTIVE NEWSGROUPS OVERVIEW.FMT HEADERS X-TIDINGS-FILES",
                "NEWNEWS",
                "OVER MSGID",
                "HDR",
                "X-TIDINGS-SIGNED 1",
                "X-TIDINGS-SYNC 1",
                "X-TIDINGS-STATE 1",
                // Tidings-File headers are understood (files.md §4), and
                // XFILE serves files (§6).
                "X-TIDINGS-FILES 2",
                // Readers log in by key with XAUTHKEY (access.md §3.2).
                "X-TIDINGS-AUTHKEY 1",
                // Tidings-Audience, grants and introductions (access.md
                // §7, §8) are understood.
                "X-TIDINGS-AUDIENCE 1",
            ]
            .map(|l| l.as_bytes().to_vec()),
        );
        // Advertised only when transit really requires it (peering.md §1).
        if !self.node.config().listen.open_transit {
            lines.push(b"X-TIDINGS-PEER 1".to_vec());
        }
        if self.starttls_allowed() {
            lines.push(b"STARTTLS".to_vec());
        }
        // RFC 4643 §2.2: AUTHINFO USER while it may be used; bare AUTHINFO
        // when only TLS would allow it; nothing once logged in, or when
        // there is no one to log in as (a newsreader would ask for a name
        // in vain).
        if self.user.is_none() && !self.node.access().users().is_empty() {
            lines.push(if self.authinfo_offered() {
                b"AUTHINFO USER".to_vec()
            } else {
                b"AUTHINFO".to_vec()
            });
        }
        Reply::lines(
            Code::CAPABILITIES_FOLLOW,
            Code::CAPABILITIES_FOLLOW.canonical_text(),
            lines,
        )
    }

    /// XSTATE (protocol-spec/state.md §5): `293 <digest> ...`, so two
    /// nodes (or an operator) tell in one round trip whether they agree.
    pub(super) fn xstate(&self) -> Handled {
        let digest = self.node.store.state_digest().map_err(Stop::from)?;
        Ok(Reply::with(
            Code::STATE_DIGEST,
            format!("{} state digest", hex::encode(digest)),
        ))
    }

    /// HELP (RFC 3977 §7.2): every command with its syntax, from the same
    /// table that drives parsing.
    pub(super) fn help(&self) -> Reply {
        // Long syntaxes get their summary on the next line, so the list
        // stays readable in an 80-column terminal.
        const WIDTH: usize = 36;
        let mut lines = Vec::new();
        for c in COMMANDS {
            if c.syntax.len() <= WIDTH {
                lines.push(format!("  {:WIDTH$}  {}", c.syntax, c.summary).into_bytes());
            } else {
                lines.push(format!("  {}", c.syntax).into_bytes());
                lines.push(format!("  {:WIDTH$}  {}", "", c.summary).into_bytes());
            }
        }
        Reply::lines(Code::HELP_FOLLOWS, "Legal commands", lines)
    }

    /// DATE (RFC 3977 §7.1): the server's time in UTC.
    pub(super) fn date(&self) -> Reply {
        Reply::with(
            Code::DATE,
            chrono::Utc::now().format("%Y%m%d%H%M%S").to_string(),
        )
    }

    /// MODE READER (RFC 3977 §5.3). Nothing changes: we are always a reader.
    pub(super) fn mode_reader(&self) -> Reply {
        if self.node.config().node.posting {
            Reply::with(Code::READY_POSTING, "Reader mode, posting allowed")
        } else {
            Reply::with(Code::READY_NO_POSTING, "Reader mode, posting prohibited")
        }
    }
}

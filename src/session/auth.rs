//! AUTHINFO USER/PASS (RFC 4643) and what the connection may read and
//! post once it is known who it is (protocol-spec/access.md).

use super::{Session, Stop};
use crate::access::Identity;
use crate::proto::{Code, Reply};

impl Session {
    /// Who this connection is: a user who logged in, else the peer it is,
    /// else nobody.
    pub(super) fn identity(&self) -> Identity {
        match (&self.user, &self.peer) {
            (Some(user), _) => user.clone(),
            (None, Some(peer)) => Identity::Peer(peer.clone()),
            (None, None) => Identity::Anonymous,
        }
    }

    /// Whether the node serves nothing to this connection before it
    /// authenticates (a closed node, an anonymous connection).
    pub(super) fn must_authenticate(&self) -> bool {
        self.node.access().closed() && self.user.is_none() && self.peer.is_none()
    }

    /// What a command the connection may not use yet is told.
    pub(super) fn authentication_required() -> Reply {
        Reply::with(
            Code::AUTH_REQUIRED,
            "authentication required: AUTHINFO USER and PASS (over TLS)",
        )
    }

    /// Whether this connection may read `board`.
    pub(super) fn may_read(&self, board: &str) -> bool {
        self.node.access().may_read(&self.identity(), board)
    }

    /// Whether this connection may read the article `raw`: one of the
    /// boards its Newsgroups names is readable to it.
    pub(super) fn may_read_article(&self, raw: &[u8]) -> bool {
        self.node.access().may_read_article(&self.identity(), raw)
    }

    /// The boards among `boards` this connection may not post to.
    pub(super) fn unpostable(&self, boards: &[Vec<u8>]) -> Vec<String> {
        self.node.access().unpostable(&self.identity(), boards)
    }

    /// The boards this connection may read, when not all of them.
    pub(super) fn readable_boards(&self) -> Option<std::collections::HashSet<String>> {
        if self.node.access().all_open() {
            return None;
        }
        let who = self.identity();
        Some(
            self.node
                .groups
                .all()
                .into_iter()
                .map(|(name, _)| name)
                .filter(|name| self.node.access().may_read(&who, name))
                .collect(),
        )
    }

    /// The refusal for a board or article this connection may not read:
    /// 480 while logging in could help, else `otherwise` (as if it were not
    /// here, so its existence is not told).
    pub(super) fn unreadable(&self, otherwise: Code) -> Stop {
        if self.user.is_none() && self.peer.is_none() {
            Stop::Refuse(Session::authentication_required())
        } else {
            Stop::Refuse(Reply::new(otherwise))
        }
    }

    /// Whether AUTHINFO may be used on this connection now.
    pub(super) fn authinfo_offered(&self) -> bool {
        self.user.is_none() && (self.tls || self.node.access().plain_authinfo())
    }

    /// AUTHINFO USER (RFC 4643 §2.3): the name is kept for the PASS.
    pub(super) fn authinfo_user(&mut self, name: String) -> Reply {
        if let Some(refusal) = self.authinfo_refused() {
            return refusal;
        }
        self.pending_user = Some(name);
        Reply::with(Code::AUTH_CONTINUE, "Password required")
    }

    /// AUTHINFO PASS: 281 and the user's rights, or 481 after a wait that
    /// grows with the wrong passwords from the same address.
    pub(super) async fn authinfo_pass(&mut self, password: String) -> Reply {
        if let Some(refusal) = self.authinfo_refused() {
            return refusal;
        }
        let Some(name) = self.pending_user.take() else {
            return Reply::new(Code::AUTH_OUT_OF_SEQUENCE);
        };
        match self
            .node
            .access()
            .log_in(self.remote.ip(), &name, password)
            .await
        {
            Ok(Some(identity)) => {
                self.user = Some(identity);
                Reply::new(Code::AUTH_ACCEPTED)
            }
            Ok(None) => Reply::with(Code::AUTH_REJECTED, "wrong user name or password"),
            Err(e) => {
                tracing::error!(error = %e, "the password check failed");
                Reply::new(Code::INTERNAL_FAULT)
            }
        }
    }

    /// XAUTHKEY (protocol-spec/access.md §3.2): a reader proves it holds a
    /// key with standing here (a passport, a moderator's, a node's, or one
    /// holding a grant) by signing a challenge; the key is then its
    /// identity.
    pub(super) fn xauthkey(&mut self, key: [u8; 32], signature: Option<[u8; 64]>) -> Reply {
        if self.user.is_some() {
            return Reply::with(Code::NOT_PERMITTED, "already authenticated");
        }
        let short = &hex::encode(key)[..8];
        if ed25519_dalek::VerifyingKey::from_bytes(&key).is_err() {
            return Reply::with(Code::AUTH_REJECTED, "not an ed25519 public key");
        }
        if !self.node.key_may_log_in(&key) {
            self.key_challenge = None;
            return Reply::with(
                Code::AUTH_REJECTED,
                format!("key {short} has no passport and no grant here"),
            );
        }
        let Some(signature) = signature else {
            let challenge = match super::peer::fresh_challenge() {
                Ok(challenge) => challenge,
                Err(refusal) => return refusal,
            };
            self.key_challenge = Some((key, challenge.clone()));
            return Reply::with(Code::AUTH_CONTINUE, challenge);
        };
        let Some((asked, challenge)) = self.key_challenge.take() else {
            return Reply::new(Code::AUTH_OUT_OF_SEQUENCE);
        };
        if asked != key {
            return Reply::with(Code::AUTH_REJECTED, "the challenge was for another key");
        }
        let message = crate::proto::signing::key_challenge_message(
            self.node.name(),
            &hex::encode(key),
            &challenge,
        );
        if self
            .node
            .access()
            .check_key(self.remote.ip(), &key, &message, &signature)
        {
            self.user = Some(Identity::Key(key));
            Reply::with(Code::AUTH_ACCEPTED, format!("key {short} authenticated"))
        } else {
            Reply::with(Code::AUTH_REJECTED, "the signature does not verify")
        }
    }

    /// Why AUTHINFO is refused on this connection now, if it is.
    fn authinfo_refused(&self) -> Option<Reply> {
        if self.user.is_some() {
            return Some(Reply::with(Code::NOT_PERMITTED, "already authenticated"));
        }
        if !self.tls && !self.node.access().plain_authinfo() {
            return Some(Reply::new(Code::ENCRYPTION_REQUIRED));
        }
        None
    }
}

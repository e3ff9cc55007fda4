//! XPEER: a connection proves it is a configured peer by signing a fresh
//! challenge with that peer's node key (protocol-spec/peering.md §2).
//! Until then it may read and post, but not use transit commands.

use ed25519_dalek::Signature;
use tracing::info;

use super::Session;
use crate::proto::signing::peer_challenge_message;
use crate::proto::{Code, Reply};

impl Session {
    pub(super) fn transit_allowed(&self) -> bool {
        self.node.config().listen.open_transit || self.peer.is_some()
    }

    pub(super) fn xpeer(&mut self, name: String, signature: Option<[u8; 64]>) -> Reply {
        if let (Some(peer), false) = (&self.peer, self.peer_by_address) {
            return Reply::with(
                Code::NOT_PERMITTED,
                format!("already authenticated as {peer}"),
            );
        }
        let Some(key) = self.node.peers().get(&name).and_then(|p| p.key) else {
            self.challenge = None;
            return Reply::with(Code::AUTH_REJECTED, format!("unknown peer {name}"));
        };
        let Some(signature) = signature else {
            let challenge = match fresh_challenge() {
                Ok(challenge) => challenge,
                Err(refusal) => return refusal,
            };
            self.challenge = Some((name, challenge.clone()));
            return Reply::with(Code::AUTH_CONTINUE, challenge);
        };
        let Some((asked, challenge)) = self.challenge.take() else {
            return Reply::with(
                Code::SYNTAX_ERROR,
                "send XPEER <name> first to get a challenge",
            );
        };
        if asked != name {
            return Reply::with(
                Code::AUTH_REJECTED,
                format!("the challenge was for {asked}, not {name}"),
            );
        }
        let message = peer_challenge_message(self.node.name(), &name, &challenge);
        match key.verify_strict(&message, &Signature::from_bytes(&signature)) {
            Ok(()) => {
                info!(peer = %name, "peer authenticated");
                let reply = Reply::with(Code::AUTH_ACCEPTED, format!("Peer {name} authenticated"));
                self.peer = Some(name);
                self.peer_by_address = false;
                reply
            }
            Err(_) => Reply::with(Code::AUTH_REJECTED, "signature does not verify"),
        }
    }
}

/// A challenge no one can have signed before: 32 random bytes in hex, for
/// XPEER and XAUTHKEY alike.
pub(super) fn fresh_challenge() -> Result<String, Reply> {
    let mut nonce = [0u8; 32];
    getrandom::getrandom(&mut nonce)
        .map_err(|_| Reply::with(Code::INTERNAL_FAULT, "no randomness for a challenge"))?;
    Ok(hex::encode(nonce))
}

//! tidings peering (protocol-spec/peering.md), written from the spec alone:
//! the XPEER challenge-response that a connection must pass before IHAVE,
//! CHECK, TAKETHIS or MODE STREAM on a server advertising X-TIDINGS-PEER.
//!
//! ```text
//! C: XPEER <name>
//! S: 381 <challenge>                 64 hex digits (32 random bytes)
//! C: XPEER <name> <signature>        128 hex digits
//! S: 281 Peer <name> authenticated
//!
//! signed = "tidings-peer-v1" LF <server name> LF <client name> LF <challenge> LF
//! ```
//!
//! No I/O here; `ctx` and `cases::peer` drive the exchange.

use crate::wire::Status;

/// The CAPABILITIES label of a server that speaks peering.md.
pub const CAPABILITY: &str = "X-TIDINGS-PEER";

/// Reply to a transit command before XPEER succeeded (§1).
pub const NEED_AUTH: u16 = 480;
/// `XPEER <name>` accepted; the reply carries the challenge (§2).
pub const CHALLENGE: u16 = 381;
/// The signature verified: the connection is now a peer connection (§2).
pub const AUTHENTICATED: u16 = 281;
/// Unknown peer, or a signature that does not verify (§2).
pub const REFUSED: u16 = 481;
/// A second XPEER on an authenticated connection (§2).
pub const ALREADY: u16 = 502;

/// The first line of the signed bytes, which keeps a signature over a
/// challenge from meaning anything in another protocol.
const PREFIX: &str = "tidings-peer-v1";

/// Hex digits in a challenge (32 octets).
pub const CHALLENGE_HEX_LEN: usize = 64;

/// The server name a peer signs over: the greeting's first word after the
/// code (§2), e.g. `n1.test` from `200 n1.test tidings NNTP server ready`.
pub fn server_name(greeting: &Status) -> Option<&str> {
    greeting.arg(0)
}

/// The bytes the peer signs (§2): both names and the challenge exactly as
/// the server sent it, so a signature answers one challenge of one server
/// for one peer and nothing else.
pub fn signed_bytes(server: &str, client: &str, challenge: &str) -> Vec<u8> {
    format!("{PREFIX}\n{server}\n{client}\n{challenge}\n").into_bytes()
}

/// Whether `text` is a well-formed challenge: 64 hex digits (§2).
pub fn is_challenge(text: &str) -> bool {
    text.len() == CHALLENGE_HEX_LEN && text.bytes().all(|b| b.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signing::Signer;
    use crate::wire::parse_status;
    use ed25519_dalek::{Signature, Verifier, VerifyingKey};

    #[test]
    fn server_name_is_first_word_after_code() {
        let cases: &[(&[u8], Option<&str>)] = &[
            (
                b"200 n1.test tidings NNTP server ready, posting allowed",
                Some("n1.test"),
            ),
            (b"201 news.example.org ready", Some("news.example.org")),
            (b"200", None),
        ];
        for (line, want) in cases {
            let st = parse_status(line).unwrap();
            assert_eq!(server_name(&st), *want, "{line:?}");
        }
    }

    #[test]
    fn signed_bytes_by_hand() {
        let challenge = "0f".repeat(32);
        assert_eq!(
            signed_bytes("n1.test", "n2.test", &challenge),
            format!("tidings-peer-v1\nn1.test\nn2.test\n{challenge}\n").into_bytes()
        );
    }

    #[test]
    fn challenge_must_be_64_hex_digits() {
        assert!(is_challenge(&"a1".repeat(32)));
        assert!(is_challenge(&"A1".repeat(32)));
        for bad in ["", "a1", &"a1".repeat(33), &"zz".repeat(32)] {
            assert!(!is_challenge(bad), "{bad:?}");
        }
    }

    /// A signature over one server's challenge verifies for those bytes
    /// only: not for another server name, peer name or challenge.
    #[test]
    fn signature_is_bound_to_names_and_challenge() {
        let s = Signer::from_bytes(&[9; 32]);
        let key: [u8; 32] = hex::decode(s.public_hex()).unwrap().try_into().unwrap();
        let key = VerifyingKey::from_bytes(&key).unwrap();
        let (a, b) = ("11".repeat(32), "22".repeat(32));
        let sig: [u8; 64] = hex::decode(s.sign_bytes(&signed_bytes("n1", "p", &a)))
            .unwrap()
            .try_into()
            .unwrap();
        let sig = Signature::from_bytes(&sig);
        assert!(key.verify(&signed_bytes("n1", "p", &a), &sig).is_ok());
        for other in [
            signed_bytes("n2", "p", &a),
            signed_bytes("n1", "q", &a),
            signed_bytes("n1", "p", &b),
        ] {
            assert!(key.verify(&other, &sig).is_err());
        }
    }
}

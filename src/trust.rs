//! Who may sign what. Trust is explicit, never first-come: node keys come
//! from the configuration (our own key and `[[peer]]` keys), moderators too;
//! passports, revocations and key rotations are learnt from control
//! messages signed by keys the configuration trusts for them.

use std::collections::HashMap;
use std::sync::RwLock;

use ed25519_dalek::VerifyingKey;

use crate::config::{Config, ConfigError};
use crate::peers::Peers;
use crate::proto::signing::parse_key;
use crate::proto::wildmat::Wildmat;
use crate::store::schema::KeyRecord;

/// What a node key may sign besides ordinary articles.
#[derive(Debug, Clone)]
pub struct NodeRights {
    pub name: String,
    pub passports: bool,
    pub boards: Option<Wildmat>,
}

/// How this node regards a signing key.
#[derive(Debug, Clone)]
pub enum Standing {
    /// A node key (configured, or rotated from one).
    Node(NodeRights),
    /// A user key announced by a trusted node, or a configured moderator.
    Passport,
    /// A revoked user key: its articles dated after `since` (seconds since
    /// the epoch) are refused.
    Revoked { since: u64 },
    /// Never heard of: its articles wait for a passport.
    Unknown,
}

pub struct Trust {
    own: VerifyingKey,
    nodes: HashMap<[u8; 32], NodeRights>,
    moderators: Vec<(VerifyingKey, Wildmat)>,
    learnt: RwLock<HashMap<[u8; 32], KeyRecord>>,
}

/// Rotations are followed at most this far, so a loop of rotations cannot
/// hang a lookup.
const MAX_ROTATIONS: usize = 16;

impl Trust {
    /// Node keys come from our own key and the keyed peers, with the rights
    /// their entries give; moderators from `[[moderator]]`.
    pub fn new(
        config: &Config,
        own: VerifyingKey,
        peers: &Peers,
        learnt: impl IntoIterator<Item = ([u8; 32], KeyRecord)>,
    ) -> Result<Trust, ConfigError> {
        let invalid = |m: String| ConfigError::Invalid(m);
        let wildmat = |text: &str| Wildmat::parse(text.as_bytes()).map_err(invalid);
        let mut nodes = HashMap::new();
        nodes.insert(
            own.to_bytes(),
            NodeRights {
                name: config.node.name.clone(),
                passports: true,
                boards: Some(wildmat(&config.node.boards)?),
            },
        );
        for peer in peers.all() {
            if let Some(key) = peer.key {
                nodes.insert(
                    key.to_bytes(),
                    NodeRights {
                        name: peer.name.clone(),
                        passports: peer.passports,
                        boards: peer.boards.clone(),
                    },
                );
            }
        }
        let mut moderators = Vec::new();
        for m in &config.moderators {
            let key = parse_key(&m.key).ok_or_else(|| invalid("moderator key".into()))?;
            moderators.push((key, wildmat(&m.groups)?));
        }
        Ok(Trust {
            own,
            nodes,
            moderators,
            learnt: RwLock::new(learnt.into_iter().collect()),
        })
    }

    pub fn own_key(&self) -> &VerifyingKey {
        &self.own
    }

    fn learnt(&self, key: &[u8; 32]) -> Option<KeyRecord> {
        self.learnt
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(key)
            .cloned()
    }

    /// The rights of a node key, following rotations back to a configured key.
    pub fn node_rights(&self, key: &VerifyingKey) -> Option<NodeRights> {
        let mut current = key.to_bytes();
        for _ in 0..MAX_ROTATIONS {
            if let Some(rights) = self.nodes.get(&current) {
                return Some(rights.clone());
            }
            match self.learnt(&current) {
                Some(KeyRecord::Rotated { old, .. }) => current = old,
                _ => return None,
            }
        }
        None
    }

    pub fn standing(&self, key: &VerifyingKey) -> Standing {
        if let Some(rights) = self.node_rights(key) {
            return Standing::Node(rights);
        }
        match self.learnt(&key.to_bytes()) {
            Some(KeyRecord::Revoked { since, .. }) => Standing::Revoked { since },
            Some(KeyRecord::Passport { .. }) => Standing::Passport,
            // A configured moderator is a known user without a passport.
            _ if self.moderators.iter().any(|(k, _)| k == key) => Standing::Passport,
            Some(KeyRecord::Rotated { .. }) | None => Standing::Unknown,
        }
    }

    /// The configured key of the peer called `name`.
    pub fn moderates(&self, key: &VerifyingKey, group: &str) -> bool {
        self.moderators
            .iter()
            .any(|(k, groups)| k == key && groups.matches(group.as_bytes()))
    }

    /// Records what a committed control message taught us.
    pub fn learn(&self, key: [u8; 32], record: KeyRecord) {
        self.learnt
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key, record);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{ModeratorConfig, PeerConfig};
    use ed25519_dalek::SigningKey;

    fn key(seed: u8) -> VerifyingKey {
        SigningKey::from_bytes(&[seed; 32]).verifying_key()
    }

    fn trust() -> Trust {
        let mut config = Config::default();
        config.peers.push(PeerConfig {
            boards: Some("chan.*".into()),
            ..PeerConfig::new("peer", hex::encode(key(2).as_bytes()))
        });
        config.moderators.push(ModeratorConfig {
            key: hex::encode(key(3).as_bytes()),
            groups: "chan.b".into(),
        });
        let peers = Peers::from_config(&config.peers).expect("valid");
        Trust::new(&config, key(1), &peers, []).expect("valid")
    }

    #[test]
    fn standings() {
        let t = trust();
        assert!(matches!(t.standing(&key(1)), Standing::Node(r) if r.passports));
        assert!(matches!(t.standing(&key(2)), Standing::Node(r) if !r.passports));
        assert!(matches!(t.standing(&key(4)), Standing::Unknown));
        t.learn(
            key(4).to_bytes(),
            KeyRecord::Passport {
                issuer: key(1).to_bytes(),
                micros: 1,
            },
        );
        assert!(matches!(t.standing(&key(4)), Standing::Passport));
        t.learn(
            key(4).to_bytes(),
            KeyRecord::Revoked {
                by: key(1).to_bytes(),
                micros: 2,
                since: 10,
            },
        );
        assert!(matches!(
            t.standing(&key(4)),
            Standing::Revoked { since: 10 }
        ));
    }

    #[test]
    fn rotated_keys_inherit_rights() {
        let t = trust();
        t.learn(
            key(5).to_bytes(),
            KeyRecord::Rotated {
                old: key(2).to_bytes(),
                micros: 1,
            },
        );
        let rights = t.node_rights(&key(5)).expect("inherits");
        assert_eq!(rights.name, "peer");
        // A rotation loop ends instead of spinning.
        t.learn(
            key(6).to_bytes(),
            KeyRecord::Rotated {
                old: key(7).to_bytes(),
                micros: 1,
            },
        );
        t.learn(
            key(7).to_bytes(),
            KeyRecord::Rotated {
                old: key(6).to_bytes(),
                micros: 1,
            },
        );
        assert!(t.node_rights(&key(6)).is_none());
    }

    #[test]
    fn moderators_by_board() {
        let t = trust();
        assert!(t.moderates(&key(3), "chan.b"));
        assert!(!t.moderates(&key(3), "chan.c"));
        assert!(!t.moderates(&key(1), "chan.b"));
    }
}

//! Who may sign what. Trust is explicit, never first-come: node keys come
//! from the configuration (our own key and `[[peer]]` keys), moderators too;
//! passports, revocations and key rotations are learnt from control
//! messages signed by keys the configuration trusts for them.

use std::collections::HashMap;
use std::sync::RwLock;

use ed25519_dalek::VerifyingKey;

use crate::clock::Clock;
use crate::config::{Config, ConfigError};
use crate::peers::Peers;
use crate::proto::signing::parse_key;
use crate::proto::wildmat::Wildmat;
use crate::store::schema::{Introduction, KeyRecord};

/// What a node key may sign besides ordinary articles.
#[derive(Debug, Clone)]
pub struct NodeRights {
    pub name: String,
    pub passports: bool,
    pub boards: Option<Wildmat>,
    /// Boards an introduction narrowed `boards` to (both must match).
    pub within: Option<Wildmat>,
    /// Whether its introductions of other node keys are believed.
    pub introduce: bool,
}

impl NodeRights {
    /// Whether it may create, change and delete `board`.
    pub fn manages(&self, board: &str) -> bool {
        self.boards
            .as_ref()
            .is_some_and(|b| b.matches(board.as_bytes()))
            && self
                .within
                .as_ref()
                .is_none_or(|w| w.matches(board.as_bytes()))
    }
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
    /// What the configuration says; replaced whole by a reload.
    configured: arc_swap::ArcSwap<Configured>,
    learnt: RwLock<HashMap<[u8; 32], KeyRecord>>,
    /// For introductions' expiry.
    clock: Clock,
}

/// Rotations are followed at most this far, so a loop of rotations cannot
/// hang a lookup.
const MAX_ROTATIONS: usize = 16;

/// The keys the configuration trusts: node keys with their rights, and
/// moderators with their boards.
pub struct Configured {
    nodes: HashMap<[u8; 32], NodeRights>,
    moderators: Vec<(VerifyingKey, Wildmat)>,
}

impl Configured {
    /// Node keys come from our own key and the keyed peers, with the rights
    /// their entries give; moderators from `[[moderator]]`.
    pub fn new(
        config: &Config,
        own: VerifyingKey,
        peers: &Peers,
    ) -> Result<Configured, ConfigError> {
        let invalid = |m: String| ConfigError::Invalid(m);
        let wildmat = |text: &str| Wildmat::parse(text.as_bytes()).map_err(invalid);
        let mut nodes = HashMap::new();
        nodes.insert(
            own.to_bytes(),
            NodeRights {
                name: config.node.name.clone(),
                passports: true,
                boards: Some(wildmat(&config.node.boards)?),
                within: None,
                introduce: true,
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
                        within: None,
                        introduce: peer.introduce,
                    },
                );
            }
        }
        let mut moderators = Vec::new();
        for m in &config.moderators {
            let key = parse_key(&m.key).ok_or_else(|| invalid("moderator key".into()))?;
            moderators.push((key, wildmat(&m.groups)?));
        }
        Ok(Configured { nodes, moderators })
    }
}

impl Trust {
    pub fn new(
        config: &Config,
        own: VerifyingKey,
        peers: &Peers,
        learnt: impl IntoIterator<Item = ([u8; 32], KeyRecord)>,
    ) -> Result<Trust, ConfigError> {
        Ok(Trust {
            own,
            configured: arc_swap::ArcSwap::from_pointee(Configured::new(config, own, peers)?),
            learnt: RwLock::new(learnt.into_iter().collect()),
            clock: Clock::system(),
        })
    }

    /// Puts a reloaded configuration's keys in effect; what was learnt
    /// from control messages stays.
    pub fn reconfigure(&self, configured: Configured) {
        self.configured.store(std::sync::Arc::new(configured));
    }

    /// Introductions expire by `clock` rather than the system's.
    pub fn with_clock(mut self, clock: Clock) -> Trust {
        self.clock = clock;
        self
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
        self.node_rights_of(key.as_bytes())
    }

    /// [`Trust::node_rights`] by the key's bytes: every lookup is by
    /// bytes, so a caller holding only those need not decompress them into
    /// a point (a field square root, about a third of a verification).
    pub fn node_rights_of(&self, key: &[u8; 32]) -> Option<NodeRights> {
        let configured = self.configured.load();
        let mut current = *key;
        for _ in 0..MAX_ROTATIONS {
            if let Some(rights) = configured.nodes.get(&current) {
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
        self.standing_of(key.as_bytes())
    }

    /// [`Trust::standing`] by the key's bytes, as [`Trust::node_rights_of`].
    pub fn standing_of(&self, key: &[u8; 32]) -> Standing {
        if let Some(rights) = self.node_rights_of(key) {
            return Standing::Node(rights);
        }
        match self.learnt(key) {
            Some(KeyRecord::Introduced { by, intro, .. }) => match self.introduced(&by, &intro) {
                Some(rights) => Standing::Node(rights),
                None => Standing::Unknown,
            },
            Some(KeyRecord::Revoked { since, .. }) => Standing::Revoked { since },
            Some(KeyRecord::Passport { .. }) => Standing::Passport,
            // A configured moderator is a known user without a passport.
            _ if self
                .configured
                .load()
                .moderators
                .iter()
                .any(|(k, _)| k.as_bytes() == key) =>
            {
                Standing::Passport
            }
            Some(KeyRecord::Rotated { .. }) | None => Standing::Unknown,
        }
    }

    /// The rights an introduction by `voucher` gives (access.md §8): none
    /// once it has expired or if the voucher is not (or no longer) a node
    /// key trusted to introduce; else what it vouches for within what the
    /// voucher may do itself. Introductions do not chain: the voucher's
    /// rights are its configured ones.
    fn introduced(&self, voucher: &[u8; 32], intro: &Introduction) -> Option<NodeRights> {
        let now = self.clock.now_micros() / 1_000_000;
        if intro.expires.is_some_and(|at| at <= now) {
            return None;
        }
        let voucher = self.node_rights_of(voucher)?;
        if !voucher.introduce {
            return None;
        }
        let within = intro
            .boards
            .as_deref()
            .and_then(|b| Wildmat::parse(b.as_bytes()).ok());
        Some(NodeRights {
            name: intro.name.clone(),
            passports: intro.passports && voucher.passports,
            boards: within.is_some().then_some(voucher.boards).flatten(),
            within,
            introduce: false,
        })
    }

    /// Whether `key` is a moderator of `group`.
    pub fn moderates(&self, key: &VerifyingKey, group: &str) -> bool {
        self.configured
            .load()
            .moderators
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
    fn introductions_give_at_most_the_vouchers_rights_until_they_expire() {
        let mut config = Config::default();
        config.peers.push(PeerConfig {
            boards: Some("chan.*".into()),
            introduce: true,
            ..PeerConfig::new("voucher", hex::encode(key(2).as_bytes()))
        });
        config
            .peers
            .push(PeerConfig::new("plain", hex::encode(key(3).as_bytes())));
        let peers = Peers::from_config(&config.peers).expect("valid");
        let clock = Clock::manual(1_000 * 1_000_000);
        let t = Trust::new(&config, key(1), &peers, [])
            .expect("valid")
            .with_clock(clock.clone());
        let intro = |by: u8, expires| KeyRecord::Introduced {
            by: key(by).to_bytes(),
            micros: 1,
            intro: Introduction {
                name: "new".into(),
                expires,
                passports: true,
                boards: Some("*,!chan.b".into()),
            },
        };
        t.learn(key(8).to_bytes(), intro(2, Some(2_000)));
        let Standing::Node(rights) = t.standing(&key(8)) else {
            panic!("introduced")
        };
        assert_eq!(rights.name, "new");
        assert!(!rights.passports, "the voucher may not issue passports");
        assert!(!rights.introduce, "introductions do not chain");
        assert!(rights.manages("chan.a"));
        assert!(!rights.manages("chan.b"), "not what the introduction names");
        assert!(!rights.manages("misc.a"), "not what the voucher may");
        clock.advance(std::time::Duration::from_secs(1_000));
        assert!(matches!(t.standing(&key(8)), Standing::Unknown), "expired");
        // A peer not trusted to introduce vouches for nothing.
        t.learn(key(9).to_bytes(), intro(3, None));
        assert!(matches!(t.standing(&key(9)), Standing::Unknown));
    }

    #[test]
    fn moderators_by_board() {
        let t = trust();
        assert!(t.moderates(&key(3), "chan.b"));
        assert!(!t.moderates(&key(3), "chan.c"));
        assert!(!t.moderates(&key(1), "chan.b"));
    }
}

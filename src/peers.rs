//! The peers of this node as one typed model, parsed once from the
//! `[[peer]]` entries: who they are (key or addresses), what we send them
//! (`send` wildmat, TLS), what they may announce to us (rights), and the
//! handles that wake each peer's feed. Ingest routes with it, sessions
//! authenticate with it, the feed and catch-up run on it. A reload builds a
//! new set ([`Peers::reloaded`]) that keeps each unchanged peer's link, so
//! its feed connection stays up.

use std::net::IpAddr;
use std::sync::Arc;

use ed25519_dalek::VerifyingKey;
use tokio::sync::{Mutex, Notify};
use tokio_util::sync::CancellationToken;

use crate::client::Remote;
use crate::config::{ConfigError, PeerConfig, Unsigned};
use crate::proto::article::path_contains;
use crate::proto::signing::parse_key;
use crate::proto::wildmat::Wildmat;

/// What a peer's connection may announce to us (protocol-spec/peering.md §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Right {
    /// Ordinary articles (posts, edits, cancels).
    Articles,
    /// Board control messages: newgroup, modgroup, rmgroup.
    Boards,
    /// Passport, revoke and rotate control messages.
    Passports,
}

impl Right {
    pub const ALL: [Right; 3] = [Right::Articles, Right::Boards, Right::Passports];

    pub fn parse(name: &str) -> Option<Right> {
        Right::ALL.into_iter().find(|r| r.name() == name)
    }

    /// The name used in the configuration and in refusals.
    pub fn name(self) -> &'static str {
        match self {
            Right::Articles => "articles",
            Right::Boards => "boards",
            Right::Passports => "passports",
        }
    }
}

pub struct Peer {
    /// Its Path identity.
    pub name: String,
    /// Its node key; None for a plain NNTP peer, known by `hosts`.
    pub key: Option<VerifyingKey>,
    /// Addresses whose connections are this peer without XPEER.
    pub hosts: Vec<IpAddr>,
    /// Where we feed it; None if we only accept from it.
    pub address: Option<String>,
    /// Groups whose articles we send it (and reconcile with it).
    pub send: Wildmat,
    pub accept: Vec<Right>,
    /// Whether its unsigned articles are taken (a plain NNTP peer).
    pub takes_unsigned: bool,
    /// Whether passports its key signs are believed.
    pub passports: bool,
    /// Whether its introductions of node keys are believed.
    pub introduce: bool,
    /// Boards whose control messages its key may sign.
    pub boards: Option<Wildmat>,
    /// Switch the feed connection to TLS with STARTTLS before XPEER.
    pub tls: bool,
    /// The boards `[access]` lets it read: nothing else is sent to it.
    pub reads: crate::access::Readable,
    /// Its feed and catch-up tasks' signals, kept across reloads that do
    /// not change how it is dialled.
    pub link: Arc<Link>,
}

/// What the feed and catch-up tasks of one fed peer wait on. A reload that
/// keeps the peer keeps its link (and the tasks on it); one that removes
/// the peer or changes its address, TLS or key stops it, and new tasks
/// start on a new link.
#[derive(Default)]
pub struct Link {
    /// Woken when the committer adds to this peer's outbox.
    pub wake: Notify,
    /// Woken when a catch-up with this peer is due.
    pub resync: Notify,
    /// Held while a catch-up with this peer runs, so there is one at a time.
    pub syncing: Mutex<()>,
    /// Cancelled when a reload drops this link: its tasks end.
    pub stopped: CancellationToken,
}

impl Peer {
    /// The peer as the outgoing client dials it; a peer without an address
    /// gives an empty one, which fails to connect.
    pub fn remote(&self) -> Remote<'_> {
        Remote {
            name: &self.name,
            address: self.address.as_deref().unwrap_or_default(),
            tls: self.tls,
        }
    }

    pub fn from_config(config: &PeerConfig) -> Result<Peer, ConfigError> {
        let config = &config.effective();
        let invalid = |what: &str, why: String| {
            ConfigError::Invalid(format!("peer {}: {what}: {why}", config.name))
        };
        let wildmat =
            |what: &str, text: &str| Wildmat::parse(text.as_bytes()).map_err(|e| invalid(what, e));
        let key = if config.key.is_empty() {
            None
        } else {
            Some(
                parse_key(&config.key)
                    .ok_or_else(|| invalid("key", "not a public key (64 hex digits)".into()))?,
            )
        };
        let accept = config
            .accept
            .iter()
            .map(|r| {
                Right::parse(r).ok_or_else(|| {
                    invalid(
                        "accept",
                        format!("unknown right {r:?} (articles, boards, passports)"),
                    )
                })
            })
            .collect::<Result<Vec<Right>, ConfigError>>()?;
        Ok(Peer {
            name: config.name.clone(),
            key,
            hosts: config.hosts.clone(),
            address: config.address.clone(),
            send: wildmat("send", &config.send)?,
            accept,
            takes_unsigned: config.unsigned == Unsigned::Accept,
            passports: config.passports,
            introduce: config.introduce,
            boards: config
                .boards
                .as_deref()
                .map(|b| wildmat("boards", b))
                .transpose()?,
            tls: config.tls,
            reads: crate::access::Readable::all(),
            link: Arc::new(Link::default()),
        })
    }

    /// Whether a connection to it is made the same way: same name,
    /// address, TLS and key (what a feed connection was opened with).
    fn dialled_as(&self, other: &Peer) -> bool {
        self.name == other.name
            && self.address == other.address
            && self.tls == other.tls
            && self.key == other.key
    }
}

#[derive(Default)]
pub struct Peers {
    all: Vec<Arc<Peer>>,
}

/// What changed between two sets of peers: the links to start (new fed
/// peers, or ones dialled differently) and the links to stop (removed
/// peers, or dialled differently), once the new set is in effect.
#[derive(Default)]
pub struct Relinked {
    pub started: Vec<Arc<Peer>>,
    pub stopped: Vec<(String, Arc<Link>)>,
}

impl Relinked {
    /// Ends the tasks of the links that stopped.
    pub fn stop(&self) {
        for (_, link) in &self.stopped {
            link.stopped.cancel();
        }
    }
}

impl Peers {
    pub fn from_config(peers: &[PeerConfig]) -> Result<Peers, ConfigError> {
        Ok(Peers {
            all: peers
                .iter()
                .map(|p| Peer::from_config(p).map(Arc::new))
                .collect::<Result<_, _>>()?,
        })
    }

    /// The peers of `configs`, each reading only what `access` lets it
    /// (protocol-spec/access.md §4: its outbox and catch-up leave the rest
    /// out), and keeping the link of the same peer in `previous` when it is
    /// dialled the same way. Nothing is stopped until [`Relinked::stop`].
    pub fn reloaded(
        configs: &[PeerConfig],
        access: &crate::access::Access,
        previous: &Peers,
    ) -> Result<(Peers, Relinked), ConfigError> {
        let mut relinked = Relinked::default();
        let mut all = Vec::with_capacity(configs.len());
        for config in configs {
            let mut peer = Peer::from_config(config)?;
            peer.reads = access.readable_by(&crate::access::Identity::Peer(peer.name.clone()));
            let kept = previous.get(&peer.name).filter(|old| old.dialled_as(&peer));
            if let Some(old) = kept {
                peer.link = old.link.clone();
            }
            let peer = Arc::new(peer);
            if kept.is_none() && peer.address.is_some() {
                relinked.started.push(peer.clone());
            }
            all.push(peer);
        }
        relinked.stopped = previous
            .fed()
            .filter(|old| !all.iter().any(|p| Arc::ptr_eq(&p.link, &old.link)))
            .map(|old| (old.name.clone(), old.link.clone()))
            .collect();
        Ok((Peers { all }, relinked))
    }

    pub fn all(&self) -> &[Arc<Peer>] {
        &self.all
    }

    pub fn get(&self, name: &str) -> Option<&Arc<Peer>> {
        self.all.iter().find(|p| p.name == name)
    }

    /// The peers we feed (those with an address).
    pub fn fed(&self) -> impl Iterator<Item = &Arc<Peer>> {
        self.all.iter().filter(|p| p.address.is_some())
    }

    /// Whether we send `peer` the articles of `group`: its `send` wildmat
    /// matches and it may read the group.
    pub fn sends(&self, peer: &str, group: &str) -> bool {
        self.get(peer)
            .is_some_and(|p| p.send.matches(group.as_bytes()) && p.reads.reads(group.as_bytes()))
    }

    pub fn accepts(&self, peer: &str, right: Right) -> bool {
        self.get(peer).is_some_and(|p| p.accept.contains(&right))
    }

    pub fn takes_unsigned(&self, peer: &str) -> bool {
        self.get(peer).is_some_and(|p| p.takes_unsigned)
    }

    /// The peer whose `hosts` hold this address.
    pub fn at(&self, ip: IpAddr) -> Option<&str> {
        let ip = ip.to_canonical();
        self.all
            .iter()
            .find(|p| p.hosts.iter().any(|h| h.to_canonical() == ip))
            .map(|p| p.name.as_str())
    }

    /// Whether any peer is fed at all (routing has nothing to do if not).
    pub fn feeds_any(&self) -> bool {
        self.fed().next().is_some()
    }

    /// The fed peers that should be offered an article with this Path and
    /// these newsgroups: not in its Path (RFC 5537 §3.3), and one of its
    /// groups their `send` wildmat matches and they may read.
    pub fn wanting(&self, path: &[u8], newsgroups: &[Vec<u8>]) -> Vec<String> {
        self.fed()
            .filter(|peer| {
                !path_contains(path, peer.name.as_bytes())
                    && newsgroups
                        .iter()
                        .any(|g| peer.send.matches(g) && peer.reads.reads(g))
            })
            .map(|peer| peer.name.clone())
            .collect()
    }

    pub fn wake(&self, name: &str) {
        if let Some(peer) = self.get(name) {
            peer.link.wake.notify_one();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peers(list: &[(&str, &str, bool)]) -> Peers {
        let configs: Vec<PeerConfig> = list
            .iter()
            .map(|(name, send, fed)| PeerConfig {
                address: fed.then(|| "127.0.0.1:1".to_string()),
                send: send.to_string(),
                ..PeerConfig::new(*name, String::new())
            })
            .collect();
        Peers::from_config(&configs).expect("valid")
    }

    #[test]
    fn peers_in_the_path_or_not_sent_the_group_are_skipped() {
        let peers = peers(&[
            ("a.example", "*", true),
            ("b.example", "chan.*,!chan.local.*", true),
            ("c.example", "*", true),
            ("d.example", "*", false),
        ]);
        let names = |path: &str, groups: &[&str]| {
            let groups: Vec<Vec<u8>> = groups.iter().map(|g| g.as_bytes().to_vec()).collect();
            peers.wanting(path.as_bytes(), &groups)
        };
        assert_eq!(
            names("here!c.example!not-for-mail", &["chan.b"]),
            vec!["a.example", "b.example"]
        );
        assert_eq!(
            names("here!not-for-mail", &["chan.local.x"]),
            vec!["a.example", "c.example"]
        );
        assert!(names("here!a.example!b.example!c.example", &["chan.b"]).is_empty());
        assert!(
            peers.sends("d.example", "chan.b"),
            "unfed peers still reconcile"
        );
    }

    #[test]
    fn rights_are_typed_and_unknown_ones_refused() {
        let mut config = PeerConfig::new("p.example", String::new());
        config.accept = vec!["articles".into(), "passports".into()];
        let peers = Peers::from_config(std::slice::from_ref(&config)).expect("valid");
        assert!(peers.accepts("p.example", Right::Articles));
        assert!(peers.accepts("p.example", Right::Passports));
        assert!(!peers.accepts("p.example", Right::Boards));
        assert!(!peers.accepts("other", Right::Articles));
        config.accept = vec!["everything".into()];
        let err = Peers::from_config(&[config]).err().expect("refused");
        assert!(err.to_string().contains("everything"), "{err}");
    }
}

//! Flooding: which peers want which articles, and the outgoing connection
//! to each peer that drains its durable outbox.
//!
//! The committer writes an outbox entry for every peer that should get an
//! article in the same atomic write as the article itself, so an accepted
//! article is forwarded even across crashes. A peer is offered an article
//! only if its name is not in the article's Path (RFC 5537 §3.3) and its
//! `send` wildmat matches one of the article's newsgroups.

mod peer;

use std::collections::HashMap;

use tokio::sync::{Mutex, Notify};

pub(crate) use peer::{jitter, takethis, MAX_BATCH_BYTES};
pub use peer::{run, FeedError};

use crate::client::{Identity, Remote};
use crate::config::{Config, ConfigError};
use crate::ingest::rewrite::path_contains;
use crate::node::Node;
use crate::proto::wildmat::Wildmat;

pub struct FeedPeer {
    pub name: String,
    pub address: String,
    pub send: Wildmat,
    /// Switch the connection to TLS with STARTTLS before XPEER.
    pub tls: bool,
    /// Woken when the committer adds to this peer's outbox.
    pub wake: Notify,
    /// Woken when a catch-up with this peer is due (crate::sync).
    pub resync: Notify,
    /// Held while a catch-up with this peer runs, so there is one at a time.
    pub syncing: Mutex<()>,
}

impl FeedPeer {
    /// The peer as the client calls it.
    pub fn remote(&self) -> Remote<'_> {
        Remote {
            name: &self.name,
            address: &self.address,
            tls: self.tls,
        }
    }
}

/// We, as the client introduces us to peers.
pub(crate) fn identity(node: &Node) -> Identity<'_> {
    Identity {
        name: node.name(),
        key: &node.key,
        tls: &node.tls.connector,
    }
}

#[derive(Default)]
pub struct Feeds {
    pub peers: Vec<FeedPeer>,
    /// Every configured peer's `send` wildmat, address or not: what we
    /// send it is also what it may reconcile with us.
    sends: HashMap<String, Wildmat>,
}

impl Feeds {
    /// Every configured peer with an address is fed.
    pub fn from_config(config: &Config) -> Result<Feeds, ConfigError> {
        let mut peers = Vec::new();
        let mut sends = HashMap::new();
        for peer in &config.peers {
            let send = Wildmat::parse(peer.send.as_bytes()).map_err(ConfigError::Invalid)?;
            sends.insert(peer.name.clone(), send.clone());
            let Some(address) = &peer.address else {
                continue;
            };
            peers.push(FeedPeer {
                name: peer.name.clone(),
                address: address.clone(),
                send,
                tls: peer.tls,
                wake: Notify::new(),
                resync: Notify::new(),
                syncing: Mutex::new(()),
            });
        }
        Ok(Feeds { peers, sends })
    }

    /// Whether we send `peer` the articles of `group`.
    pub fn sends(&self, peer: &str, group: &str) -> bool {
        self.sends
            .get(peer)
            .is_some_and(|send| send.matches(group.as_bytes()))
    }

    pub fn peer(&self, name: &str) -> Option<&FeedPeer> {
        self.peers.iter().find(|p| p.name == name)
    }

    /// The peers that should be offered an article with this Path and
    /// these newsgroups.
    pub fn wanting<'a>(
        &'a self,
        path: &'a [u8],
        newsgroups: &'a [String],
    ) -> impl Iterator<Item = &'a FeedPeer> + 'a {
        self.peers.iter().filter(move |peer| {
            !path_contains(path, peer.name.as_bytes())
                && newsgroups.iter().any(|g| peer.send.matches(g.as_bytes()))
        })
    }

    pub fn wake(&self, name: &str) {
        if let Some(peer) = self.peers.iter().find(|p| p.name == name) {
            peer.wake.notify_one();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::PeerConfig;

    #[test]
    fn peers_in_the_path_or_not_sent_the_group_are_skipped() {
        let mut config = Config::default();
        for (name, send) in [
            ("a.example", "*"),
            ("b.example", "chan.*,!chan.local.*"),
            ("c.example", "*"),
        ] {
            config.peers.push(PeerConfig {
                address: Some("127.0.0.1:1".into()),
                send: send.into(),
                ..PeerConfig::new(name, String::new())
            });
        }
        let feeds = Feeds::from_config(&config).expect("valid");
        let names = |path: &str, groups: &[&str]| -> Vec<String> {
            let groups: Vec<String> = groups.iter().map(|g| g.to_string()).collect();
            feeds
                .wanting(path.as_bytes(), &groups)
                .map(|p| p.name.clone())
                .collect()
        };
        assert_eq!(
            names("here!c.example!not-for-mail", &["chan.b"]),
            vec!["a.example", "b.example"]
        );
        assert_eq!(
            names("here!not-for-mail", &["chan.local.x"]),
            vec!["a.example", "c.example"]
        );
        assert_eq!(
            names("here!a.example!b.example!c.example", &["chan.b"]),
            Vec::<String>::new()
        );
    }
}

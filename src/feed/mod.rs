//! Flooding: which peers want which articles, and the outgoing connection
//! to each peer that drains its durable outbox.
//!
//! The committer writes an outbox entry for every peer that should get an
//! article in the same atomic write as the article itself, so an accepted
//! article is forwarded even across crashes. A peer is offered an article
//! only if its name is not in the article's Path (RFC 5537 §3.3) and its
//! `send` wildmat matches one of the article's newsgroups.

mod peer;

use tokio::sync::Notify;

pub use peer::run;

use crate::config::{Config, ConfigError};
use crate::ingest::rewrite::path_contains;
use crate::proto::wildmat::Wildmat;

pub struct FeedPeer {
    pub name: String,
    pub address: String,
    pub send: Wildmat,
    /// Switch the connection to TLS with STARTTLS before XPEER.
    pub tls: bool,
    /// Woken when the committer adds to this peer's outbox.
    pub wake: Notify,
}

#[derive(Default)]
pub struct Feeds {
    pub peers: Vec<FeedPeer>,
}

impl Feeds {
    /// Every configured peer with an address is fed.
    pub fn from_config(config: &Config) -> Result<Feeds, ConfigError> {
        let mut peers = Vec::new();
        for peer in &config.peers {
            let Some(address) = &peer.address else {
                continue;
            };
            let send = Wildmat::parse(peer.send.as_bytes()).map_err(ConfigError::Invalid)?;
            peers.push(FeedPeer {
                name: peer.name.clone(),
                address: address.clone(),
                send,
                tls: peer.tls,
                wake: Notify::new(),
            });
        }
        Ok(Feeds { peers })
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

//! Reloading a running node's configuration (SIGHUP, `tidings reload`, the
//! admin listener's `POST /reload`). Peers and their rights, moderators,
//! access rules and the users file, boards and retention take effect at
//! once, and no connection is dropped: a peer whose address, TLS and key
//! stay keeps its feed connection, what it may read or announce changes
//! under it. What only a restart can change (listeners, data directory,
//! storage, limits, TLS, files, feed) keeps its running value and is named
//! in the answer. A configuration that does not validate is refused whole,
//! with the key at fault, and the running one stays in effect.

use std::sync::Arc;

use crate::access::{AccessError, Users};
use crate::config::{Config, ConfigError};
use crate::node::Node;
use crate::peers::{Peer, Peers};
use crate::store::commit::Effect;
use crate::trust::Configured;

#[derive(Debug, thiserror::Error)]
pub enum ReloadError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Users(#[from] AccessError),
    #[error("the users file could not be read: {0}")]
    Task(#[from] tokio::task::JoinError),
}

/// What a reload did.
#[derive(Debug, Default, serde::Serialize)]
pub struct Reloaded {
    /// Sections that changed and are in effect now.
    pub applied: Vec<&'static str>,
    /// Settings that changed in the file and take effect only at a restart;
    /// their running values stay.
    pub restart_needed: Vec<&'static str>,
    /// Peers whose feed started (new ones, or dialled differently now).
    pub peers_started: Vec<String>,
    /// Peers whose feed stopped (removed, or dialled differently now).
    pub peers_stopped: Vec<String>,
    /// Boards the configuration lists that were not here.
    pub groups_created: Vec<String>,
}

/// Reloads from where the running configuration came from (its file, or
/// the embedded defaults), logging the outcome.
pub async fn from_source(node: &Arc<Node>) -> Result<Reloaded, ReloadError> {
    let config = node.config();
    let read = {
        let config = config.clone();
        tokio::task::spawn_blocking(move || config.read_again()).await?
    };
    let result = match read {
        Ok(next) => reload(node, next).await,
        Err(e) => Err(e.into()),
    };
    let file = config
        .source
        .as_ref()
        .map_or_else(|| "(embedded defaults)".into(), |p| p.display().to_string());
    match &result {
        Ok(done) => tracing::info!(
            %file,
            applied = ?done.applied,
            restart_needed = ?done.restart_needed,
            peers_started = ?done.peers_started,
            peers_stopped = ?done.peers_stopped,
            groups_created = ?done.groups_created,
            "configuration reloaded"
        ),
        Err(e) => {
            tracing::error!(%file, error = %e, "reload refused; the running configuration stays")
        }
    }
    result
}

/// Puts `next` in effect, all of it or (on an error) none of it.
pub async fn reload(node: &Arc<Node>, next: Config) -> Result<Reloaded, ReloadError> {
    let _one_at_a_time = node.reloading.lock().await;
    let running = node.config();
    let (merged, applied, restart_needed) = merge(&running, next);
    let valid = merged.validated()?.read_from(running.source.clone());
    let users = {
        let path = valid.users_path();
        tokio::task::spawn_blocking(move || Users::load(&path)).await??
    };
    let access = node.access().reloaded(&valid, users);
    let (peers, relinked) = Peers::reloaded(&valid.peers, &access, &node.peers())?;
    let configured = Configured::new(&valid, node.key.verifying_key(), &peers)?;
    let boards: Vec<(String, String)> = valid
        .groups
        .iter()
        .map(|g| (g.name.clone(), g.description.clone()))
        .collect();
    // Decided: from here on nothing can fail.
    node.trust.reconfigure(configured);
    node.put_in_effect(valid, peers, access);
    relinked.stop();
    let mut done = Reloaded {
        applied,
        restart_needed,
        ..Reloaded::default()
    };
    for (name, _) in &relinked.stopped {
        node.metrics.peer_gone(name);
        done.peers_stopped.push(name.clone());
    }
    for peer in relinked.started {
        done.peers_started.push(peer.name.clone());
        start_link(node, peer);
    }
    let effects: Vec<Effect> = boards
        .into_iter()
        .filter(|(name, description)| {
            let here = node.groups.get(name);
            if here.is_none() {
                done.groups_created.push(name.clone());
            }
            here.is_none_or(|record| record.description != *description)
        })
        .map(|(name, description)| Effect::Configured { name, description })
        .collect();
    if !effects.is_empty() {
        node.committer.apply(effects).await;
    }
    if done.applied.contains(&"peer") {
        // Trust levels may call for grants (or ungrants) now.
        if let Some((tracker, _)) = node.tasks.get() {
            tracker.spawn(crate::levels::issue(node.clone()));
        }
    }
    Ok(done)
}

/// Starts the feed and catch-up tasks of a fed peer's link, under the
/// server's task tracker (nothing before the node serves). They end at
/// shutdown or when a reload stops the link, whichever comes first.
pub fn start_link(node: &Arc<Node>, peer: Arc<Peer>) {
    let Some((tracker, shutdown)) = node.tasks.get() else {
        return;
    };
    node.metrics
        .peer_link(&peer.name, false, node.clock.now_micros() / 1_000_000);
    let ended = shutdown.child_token();
    tracker.spawn({
        let (stopped, ended) = (peer.link.stopped.clone(), ended.clone());
        async move {
            tokio::select! {
                () = stopped.cancelled() => ended.cancel(),
                () = ended.cancelled() => {}
            }
        }
    });
    tracker.spawn(crate::feed::run(node.clone(), peer.clone(), ended.clone()));
    tracker.spawn(crate::catchup::run(node.clone(), peer, ended));
}

/// `next` with the settings only a restart changes put back to their
/// `running` values; the sections that changed and are taken, and the
/// settings that changed and are not.
fn merge(running: &Config, mut next: Config) -> (Config, Vec<&'static str>, Vec<&'static str>) {
    let mut restart_needed = Vec::new();
    macro_rules! keep {
        ($($field:ident).+, $name:literal) => {
            if next.$($field).+ != running.$($field).+ {
                restart_needed.push($name);
                next.$($field).+ = running.$($field).+.clone();
            }
        };
    }
    keep!(node.name, "node.name");
    keep!(node.data_dir, "node.data_dir");
    keep!(node.key, "node.key");
    keep!(listen, "listen");
    keep!(limits, "limits");
    keep!(storage, "storage");
    keep!(tls, "tls");
    keep!(files, "files");
    keep!(feed, "feed");
    let applied = [
        ("node", next.node != running.node),
        ("group", next.groups != running.groups),
        ("peer", next.peers != running.peers),
        ("moderator", next.moderators != running.moderators),
        ("access", next.access != running.access),
        ("retention", next.retention != running.retention),
        ("signing", next.signing != running.signing),
    ]
    .into_iter()
    .filter_map(|(name, changed)| changed.then_some(name))
    .collect();
    (next, applied, restart_needed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{PeerConfig, RetentionRule};

    #[test]
    fn restart_only_settings_keep_their_running_values() {
        let running = Config::default();
        let mut next = Config::default();
        next.listen.nntp = "127.0.0.1:2119".parse().expect("address");
        next.storage.commit_batch = 7;
        next.node.boards = "chan.*".into();
        next.peers
            .push(PeerConfig::new("b.example", "00".repeat(32)));
        next.retention.push(RetentionRule {
            boards: "*".into(),
            days: 30,
            expires_min_days: 0,
        });
        let (merged, applied, restart_needed) = merge(&running, next);
        assert_eq!(restart_needed, ["listen", "storage"]);
        assert_eq!(merged.listen, running.listen);
        assert_eq!(merged.storage, running.storage);
        assert_eq!(applied, ["node", "peer", "retention"]);
        assert_eq!(merged.node.boards, "chan.*");
        assert_eq!(merged.peers.len(), 1);
    }

    #[test]
    fn the_same_configuration_changes_nothing() {
        let (merged, applied, restart_needed) = merge(&Config::default(), Config::default());
        assert!(applied.is_empty() && restart_needed.is_empty());
        assert_eq!(merged, Config::default());
    }
}

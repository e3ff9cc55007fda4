//! Trust levels (protocol-spec/access.md §9): the grants of this node's
//! own audiences `protected` and `friends` that the `[[peer]] trust`
//! levels call for, signed with the node key at start so that every cache
//! can check them. The rights a level sets are applied where the peer
//! entry is read (`PeerConfig::effective`).

use std::sync::Arc;

use crate::config::TrustLevel;
use crate::node::{Ingested, Node};
use crate::proto::audience::{Audience, Scope};
use crate::proto::control::Control;
use crate::proto::signing;

/// Issues each grant the levels call for that is not standing, and an
/// ungrant for each of the preset audiences a peer holds but its level no
/// longer gives. Failures are logged: the next start tries again.
pub async fn issue(node: Arc<Node>) {
    let own = node.key.verifying_key();
    for peer in &node.config().peers {
        let Some(key) = signing::parse_key(&peer.key) else {
            continue;
        };
        let level = peer.trust;
        for name in TrustLevel::AUDIENCES {
            let audience = Audience {
                owner: own.to_bytes(),
                name: name.to_string(),
            };
            let wanted = level.is_some_and(|l| l.grants(name));
            let standing = match node.store.grant(&audience, &key.to_bytes()) {
                Ok(record) => record,
                Err(e) => {
                    tracing::error!(error = %e, "cannot read grants; trust-level grants not issued");
                    return;
                }
            };
            let (audience, grantee) = (name.to_string(), key.to_bytes());
            let control = match (&standing, wanted) {
                (Some(r), true) if r.scope == Some(Scope::Cache) && r.expires.is_none() => continue,
                (_, true) => Control::Grant {
                    audience,
                    grantee,
                    scope: Scope::Cache,
                    expires: None,
                },
                (Some(r), false) if r.scope.is_some() => Control::Ungrant { audience, grantee },
                (_, false) => continue,
            };
            post(&node, &control.to_string(), &peer.name).await;
        }
    }
}

/// Files one grant or ungrant of this node's, logging the outcome.
async fn post(node: &Node, command: &str, peer: &str) {
    match node
        .own_control(command, &format!("trust level of peer {peer}"))
        .await
    {
        Ok(Ingested::Stored { .. }) => tracing::info!(%peer, command, "issued trust-level grant"),
        Ok(Ingested::Refused(r)) => {
            tracing::error!(%peer, command, reason = %r.reason, "trust-level grant refused")
        }
        Ok(Ingested::Fault { fault, .. }) => {
            tracing::error!(%peer, command, error = %fault, "trust-level grant not stored")
        }
        Err(why) => tracing::error!(%why, command, "cannot sign a trust-level grant"),
    }
}

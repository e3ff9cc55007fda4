//! The catch-up extension, server side (protocol-spec/sync.md):
//! XRECONCILE answers one block of reconciliation entries for a group,
//! XIHAVE names which of a batch of offered articles we want (SENDME), and
//! XSYNC lets the operator on this host run a catch-up with a peer now.

use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures::future::BoxFuture;
use tokio::io::AsyncWrite;
use tokio::sync::watch;

use super::{ready, send, Next, Session};
use crate::catchup::{sync_peer, Progress};
use crate::node::Node;
use crate::proto::grammar::is_message_id;
use crate::proto::reconcile::{self, ReconcileError, Role};
use crate::proto::reconcile::{Entry, MAX_ENTRIES};
use crate::proto::reply::put_line;
use crate::proto::{Code, Reply};
use crate::store::members::GroupSet;

/// Most Message-IDs one XIHAVE may offer.
pub const MAX_OFFER: usize = 1024;
/// How often XSYNC reports progress.
const PROGRESS_EVERY: Duration = Duration::from_millis(500);

/// The lines of a block, without their CRLF.
fn lines(block: &Bytes) -> impl Iterator<Item = &[u8]> {
    block
        .split(|&b| b == b'\n')
        .map(|line| line.strip_suffix(b"\r").unwrap_or(line))
        .filter(|line| !line.is_empty())
}

impl Session {
    /// XRECONCILE's answer, computed off the session task: a big block
    /// reads many ranges.
    pub(super) fn reconcile(
        &self,
        group: Result<String, String>,
        block: Bytes,
    ) -> BoxFuture<'static, Reply> {
        let group = match group {
            Ok(group) => group,
            Err(why) => return ready(Reply::with(Code::SYNTAX_ERROR, why)),
        };
        if !self.node.groups.contains(&group) {
            return ready(Reply::with(
                Code::NO_SUCH_GROUP,
                format!("no newsgroup {group} here"),
            ));
        }
        // A board this connection may not read is one it cannot learn the
        // Message-IDs of either (protocol-spec/access.md).
        if !self.may_read(&group) {
            return ready(Reply::with(
                Code::NO_SUCH_GROUP,
                format!("no newsgroup {group} here"),
            ));
        }
        if let Some(peer) = &self.peer {
            if !self.node.peers().sends(peer, &group) {
                return ready(Reply::with(
                    Code::NOT_PERMITTED,
                    format!("{group} is not sent to {peer}"),
                ));
            }
        }
        let mut entries = Vec::new();
        for line in lines(&block) {
            if entries.len() == MAX_ENTRIES {
                return ready(Reply::with(
                    Code::SYNTAX_ERROR,
                    format!("more than {MAX_ENTRIES} entries in one block"),
                ));
            }
            match Entry::parse(line) {
                Ok(entry) => entries.push(entry),
                Err(why) => return ready(Reply::with(Code::SYNTAX_ERROR, why)),
            }
        }
        let node = self.node.clone();
        Box::pin(async move {
            let answer = tokio::task::spawn_blocking(move || answer(&node, &group, &entries)).await;
            answer.unwrap_or_else(|_| Reply::new(Code::INTERNAL_FAULT))
        })
    }

    /// XIHAVE's answer: the offered Message-IDs we would take, in the
    /// order offered. Each is claimed as CHECK's 238 claims it, until its
    /// TAKETHIS, so no other connection sends it meanwhile; one being
    /// received elsewhere right now is not asked for.
    pub(super) fn xihave(&mut self, ok: Result<(), String>, block: Bytes) -> Reply {
        if let Err(why) = ok {
            return Reply::with(Code::SYNTAX_ERROR, why);
        }
        let offered: Vec<&[u8]> = lines(&block).collect();
        if offered.len() > MAX_OFFER {
            return Reply::with(
                Code::SYNTAX_ERROR,
                format!("more than {MAX_OFFER} message-ids in one offer"),
            );
        }
        if let Some(n) = offered.iter().position(|id| !is_message_id(id)) {
            return Reply::with(
                Code::SYNTAX_ERROR,
                format!("line {} is not a message-id", n + 1),
            );
        }
        let mut wanted: Vec<Vec<u8>> = Vec::new();
        for id in offered {
            // As CHECK: a refusal kept for the record only (an unverified
            // copy) does not stop the genuine article.
            match self.node.store.history(id) {
                Ok(Some(entry)) if entry.blocks() => continue,
                Ok(_) => {}
                Err(e) => {
                    tracing::error!(error = %e, "history lookup failed");
                    return Reply::new(Code::INTERNAL_FAULT);
                }
            }
            if wanted.iter().any(|w| w == id) {
                continue;
            }
            if !self.checked.contains_key(id) {
                let Ok(claim) = self.claimant.claim(id) else {
                    continue;
                };
                self.checked.insert(id.to_vec(), claim);
            }
            wanted.push(id.to_vec());
        }
        let text = format!("{} of these wanted; send them with TAKETHIS", wanted.len());
        Reply::lines(Code::SENDME_FOLLOWS, text, wanted)
    }

    /// XSYNC: runs a catch-up with a configured peer and streams its
    /// progress, one line every half second, then the summary.
    pub(super) async fn xsync<W: AsyncWrite + Unpin>(
        &mut self,
        name: String,
        out: &mut BytesMut,
        writer: &mut W,
    ) -> Next {
        // From this host: loopback, or the node's own address when it
        // listens on a specific one.
        let from = self.remote.ip().to_canonical();
        if !(from.is_loopback() || from == self.local.ip().to_canonical()) {
            Reply::with(Code::NOT_PERMITTED, "XSYNC is only taken from this host").encode(out);
            return Next::Continue;
        }
        let node = self.node.clone();
        let Some(peer) = node.peers().fed().find(|p| p.name == name).cloned() else {
            Reply::with(
                Code::NOT_PERMITTED,
                format!("no [[peer]] named {name} with an address"),
            )
            .encode(out);
            return Next::Continue;
        };
        Reply::with(
            Code::SYNC_FOLLOWS,
            format!("catching up with {name}; progress follows"),
        )
        .encode(out);
        if send(writer, out).await.is_err() {
            return Next::Close;
        }
        out.clear();
        let (report, mut watching) = watch::channel(Progress::default());
        let run = run_sync(node, peer, report);
        tokio::pin!(run);
        let mut tick = tokio::time::interval(PROGRESS_EVERY);
        let last = loop {
            tokio::select! {
                result = &mut run => break result,
                _ = tick.tick() => {
                    let line = format!("progress {}", watching.borrow_and_update().to_line());
                    put_line(out, line.as_bytes());
                    if send(writer, out).await.is_err() {
                        return Next::Close;
                    }
                    out.clear();
                }
            }
        };
        let line = match last {
            Ok(summary) => format!("done {}", summary.to_line()),
            Err(why) => format!("failed {why}; progress {}", watching.borrow().to_line()),
        };
        put_line(out, line.as_bytes());
        out.extend_from_slice(b".\r\n");
        Next::Continue
    }
}

async fn run_sync(
    node: Arc<Node>,
    peer: Arc<crate::peers::Peer>,
    report: watch::Sender<Progress>,
) -> Result<Progress, String> {
    sync_peer(&node, &peer, &report)
        .await
        .map_err(|e| e.to_string())
}

fn answer(node: &Node, group: &str, entries: &[Entry]) -> Reply {
    let set = GroupSet {
        store: &node.store,
        group,
    };
    match reconcile::respond(&set, Role::Server, entries) {
        Ok(step) => {
            let lines = step
                .reply
                .iter()
                .map(|entry| {
                    let mut line = Vec::new();
                    entry.encode(&mut line);
                    line.truncate(line.len() - 2);
                    line
                })
                .collect::<Vec<_>>();
            let text = format!("{} entries for {group}", lines.len());
            Reply::lines(Code::RECONCILE_FOLLOWS, text, lines)
        }
        Err(ReconcileError::Protocol(why)) => Reply::with(Code::SYNTAX_ERROR, why),
        Err(ReconcileError::Store(e)) => {
            tracing::error!(error = %e, "storage fault while reconciling");
            Reply::new(Code::INTERNAL_FAULT)
        }
    }
}

//! Taking articles in: POST (RFC 3977 §6.3.1), IHAVE (§6.3.2), and CHECK /
//! TAKETHIS (RFC 4644). Every path runs the same ingest checks and the same
//! group commit; only the reply codes differ.

use std::sync::Arc;

use bytes::Bytes;
use futures::future::BoxFuture;
use tracing::info;

use super::{ready, Awaiting, Session};
use crate::ingest::Source;
use crate::node::{Ingested, Node, Turn};
use crate::precommit::Busy;
use crate::proto::{Code, Reply};
use crate::store::commit::Stored;
use crate::store::schema::HistoryEntry;

/// The codes one way of transfer answers with.
struct Codes {
    ok: Code,
    rejected: Code,
    /// For storage faults: "try again later" where the command has one.
    later: Code,
}

const POST: Codes = Codes {
    ok: Code::POST_OK,
    rejected: Code::POST_FAILED,
    later: Code::POST_FAILED,
};
const IHAVE: Codes = Codes {
    ok: Code::TRANSFER_OK,
    rejected: Code::TRANSFER_REJECTED,
    later: Code::TRANSFER_LATER,
};
// TAKETHIS has no "later": a storage fault closes the connection with 400
// so the peer keeps the article and offers it again.
const TAKETHIS: Codes = Codes {
    ok: Code::TAKETHIS_OK,
    rejected: Code::TAKETHIS_REJECTED,
    later: Code::SERVICE_UNAVAILABLE,
};

fn id_text(id: &[u8]) -> String {
    String::from_utf8_lossy(id).into_owned()
}

impl Session {
    /// Whether history refuses offers of `id` (it is stored, pending,
    /// removed, or was refused with a valid signature); a storage fault
    /// counts as "we cannot take it now".
    fn known(&self, id: &[u8]) -> Result<Option<HistoryEntry>, ()> {
        match self.node.store.history(id) {
            Ok(entry) => Ok(entry.filter(HistoryEntry::blocks)),
            Err(e) => {
                tracing::error!(error = %e, "history lookup failed");
                Err(())
            }
        }
    }

    pub(super) fn post(&self) -> Result<(Reply, Awaiting), Reply> {
        if !self.node.config().node.posting {
            return Err(Reply::new(Code::POST_NOT_PERMITTED));
        }
        Ok((Reply::new(Code::POST_SEND), Awaiting::Post))
    }

    pub(super) fn ihave(&self, id: Vec<u8>) -> Result<(Reply, Awaiting), Reply> {
        match self.known(&id) {
            Err(()) => {
                return Err(Reply::with(
                    Code::TRANSFER_LATER,
                    "storage fault, try again later",
                ))
            }
            Ok(Some(_)) => return Err(Reply::with(Code::NOT_WANTED, "already seen")),
            Ok(None) => {}
        }
        match self.claimant.claim(&id) {
            Err(busy) => Err(Reply::with(Code::TRANSFER_LATER, busy_text(busy))),
            Ok(claim) => Ok((Reply::new(Code::IHAVE_SEND), Awaiting::Ihave { id, claim })),
        }
    }

    /// CHECK (RFC 4644 §2.4): 238 claims the ID for this connection until
    /// its TAKETHIS arrives.
    pub(super) fn check(&mut self, id: Vec<u8>) -> Reply {
        let text = id_text(&id);
        match self.known(&id) {
            Err(()) => {
                return Reply::with(
                    Code::CHECK_LATER,
                    format!("{text} storage fault, try later"),
                )
            }
            Ok(Some(_)) => {
                return Reply::with(Code::CHECK_NOT_WANTED, format!("{text} already seen"))
            }
            Ok(None) => {}
        }
        if self.checked.contains_key(&id) {
            return Reply::with(Code::CHECK_SEND, text);
        }
        match self.claimant.claim(&id) {
            Err(busy) => Reply::with(Code::CHECK_LATER, format!("{text} {}", busy_text(busy))),
            Ok(claim) => {
                self.checked.insert(id, claim);
                Reply::with(Code::CHECK_SEND, text)
            }
        }
    }

    pub(super) async fn post_article(&self, article: Bytes) -> Reply {
        if !self.node.access().all_open() {
            let boards = crate::proto::article::Article::parse(article.clone())
                .map(|a| a.newsgroups())
                .unwrap_or_default();
            let refused = self.unpostable(&boards);
            if !refused.is_empty() {
                let hint = if self.user.is_none() {
                    " (log in with AUTHINFO)"
                } else {
                    ""
                };
                return Reply::with(
                    Code::POST_FAILED,
                    format!("you may not post to {}{hint}", refused.join(", ")),
                );
            }
        }
        transfer(
            self.node.clone(),
            article,
            Source::Post,
            POST,
            String::new(),
            None,
        )
        .await
    }

    pub(super) async fn ihave_article(&self, id: Vec<u8>, article: Bytes) -> Reply {
        transfer(
            self.node.clone(),
            article,
            Source::Transit {
                offered_id: id,
                peer: self.peer.clone(),
            },
            IHAVE,
            String::new(),
            None,
        )
        .await
    }

    /// TAKETHIS (RFC 4644 §2.5): the reply is a future that resolves once
    /// the article is verified and its batch is durable, so the session
    /// keeps reading meanwhile.
    pub(super) fn takethis_article(
        &mut self,
        id: Result<Vec<u8>, String>,
        article: Bytes,
    ) -> BoxFuture<'static, Reply> {
        let id = match id {
            Ok(id) => id,
            Err(why) => return ready(Reply::with(Code::SYNTAX_ERROR, why)),
        };
        let text = id_text(&id);
        // Held until the commit resolves, so CHECKs from other connections
        // meanwhile get 431 rather than a second copy.
        let claim = self
            .checked
            .remove(&id)
            .or_else(|| self.claimant.claim(&id).ok());
        match self.known(&id) {
            Err(()) => return ready(Reply::with(Code::SERVICE_UNAVAILABLE, "storage fault")),
            Ok(Some(_)) => {
                return ready(Reply::with(
                    Code::TAKETHIS_REJECTED,
                    format!("{text} already seen"),
                ))
            }
            Ok(None) => {}
        }
        let node = self.node.clone();
        let peer = self.peer.clone();
        // Articles are verified in parallel but reach the committer in the
        // order they came, so numbers follow the stream and a cancel never
        // overtakes the article it cancels.
        let (turn, next_turn) = Turn::after(self.last_turn.take());
        self.last_turn = Some(next_turn);
        let in_flight = InFlight::new(&self.in_flight, article.len());
        Box::pin(async move {
            let source = Source::Transit {
                offered_id: id,
                peer,
            };
            let reply = transfer(
                node,
                article,
                source,
                TAKETHIS,
                format!("{text} "),
                Some(turn),
            )
            .await;
            drop(claim);
            drop(in_flight);
            // "239 <id> " would end in a space; keep it tidy.
            Reply {
                text: reply.text.trim_end().to_string(),
                ..reply
            }
        })
    }
}

fn busy_text(busy: Busy) -> &'static str {
    match busy {
        Busy::Elsewhere => "being received from another connection, try later",
        Busy::TooMany => "this connection holds too many unsent offers, try later",
    }
}

/// An article's octets counted against its connection's pipeline budget
/// until it is answered.
struct InFlight {
    counter: Arc<std::sync::atomic::AtomicUsize>,
    bytes: usize,
}

impl InFlight {
    fn new(counter: &Arc<std::sync::atomic::AtomicUsize>, bytes: usize) -> InFlight {
        counter.fetch_add(bytes, std::sync::atomic::Ordering::Relaxed);
        InFlight {
            counter: counter.clone(),
            bytes,
        }
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.counter
            .fetch_sub(self.bytes, std::sync::atomic::Ordering::Relaxed);
    }
}

/// Ingests one article and turns the outcome into this command's reply;
/// `prefix` goes before the reason (streaming replies start with the
/// Message-ID).
async fn transfer(
    node: Arc<Node>,
    article: Bytes,
    source: Source,
    codes: Codes,
    prefix: String,
    turn: Option<Turn>,
) -> Reply {
    let post = codes.ok == Code::POST_OK;
    match node.ingest(article, source, turn).await {
        Ingested::Refused(rejection) => {
            info!(reason = %rejection.reason, "article rejected");
            Reply::with(codes.rejected, format!("{prefix}{}", rejection.reason))
        }
        Ingested::Fault { message_id, fault } => {
            let id = id_text(&message_id);
            tracing::error!(error = %fault, message_id = %id, "article not stored");
            Reply::with(
                codes.later,
                format!("{prefix}storage fault, article not stored; try again later"),
            )
        }
        Ingested::Stored { message_id, stored } => {
            let id = id_text(&message_id);
            match stored {
                Stored::Accepted { numbers } => {
                    info!(message_id = %id, ?numbers, "article accepted");
                    Reply::with(
                        codes.ok,
                        if post {
                            format!("Article received {id}")
                        } else {
                            prefix
                        },
                    )
                }
                Stored::Pending | Stored::Held => {
                    // Durable and acknowledged, but not shown yet.
                    let (why, more) = if stored == Stored::Pending {
                        (
                            "pending verification",
                            ": its signing key is not known here yet",
                        )
                    } else {
                        ("held for moderation", "")
                    };
                    info!(message_id = %id, "article {why}");
                    let text = if post {
                        format!("Article received {id}, {why}{more}")
                    } else {
                        format!("{prefix}{why}")
                    };
                    Reply::with(codes.ok, text)
                }
                Stored::Applied => Reply::with(
                    codes.ok,
                    format!("{prefix}control message applied on this node only"),
                ),
                Stored::Duplicate => Reply::with(
                    codes.rejected,
                    format!("{prefix}duplicate: {id} is already known"),
                ),
            }
        }
    }
}

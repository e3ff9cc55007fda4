//! One client connection: reads frames, dispatches commands, writes replies
//! in command order. STARTTLS ends one stretch of reading on the plain
//! stream and starts the next on TLS, with the session state reset.
//!
//! CHECK and TAKETHIS are pipelined (RFC 4644 §3): a TAKETHIS reply waits
//! for its article's group commit while the session goes on reading, so one
//! connection can have many articles in one fsync. Replies are queued in
//! order; every other command first waits for the queue to empty, so it
//! sees the effects of the articles sent before it.

mod auth;
mod info;
mod list;
mod paged;
mod peer;
mod reader;
mod reconcile;
mod starttls;
mod transit;
mod xfile;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use futures::future::BoxFuture;
use futures::stream::FuturesOrdered;
use futures::StreamExt;
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio_util::codec::FramedRead;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info};

use crate::codec::{Frame, NntpCodec};
use crate::node::Node;
use crate::precommit::{Claim, Claimant};
use crate::proto::command::{self, Command, ParseError};
use crate::proto::{Code, Reply};
use crate::store::{StoreError, Towards};
use crate::tls::BoxStream;

/// Write buffered replies once this much is waiting, even mid-pipeline.
const FLUSH_AT: usize = 64 * 1024;

/// Handlers return a reply, or stop early with a refusal or a fault.
type Handled = Result<Reply, Stop>;

/// Why a handler stopped before its success reply.
enum Stop {
    /// A normal refusal (412, 423, 430, ...), sent as is.
    Refuse(Reply),
    /// A storage fault: logged, answered 403.
    Fault(StoreError),
}

impl From<StoreError> for Stop {
    fn from(e: StoreError) -> Stop {
        Stop::Fault(e)
    }
}

impl From<Code> for Stop {
    fn from(code: Code) -> Stop {
        Stop::Refuse(Reply::new(code))
    }
}

/// What the next block (article) is for.
enum Awaiting {
    Post,
    Ihave {
        id: Vec<u8>,
        claim: Claim,
    },
    Takethis {
        id: Result<Vec<u8>, String>,
    },
    /// An article that must be read to stay in sync, then answered with
    /// this refusal (TAKETHIS from a connection that may not send any).
    Refuse(Reply),
    /// XRECONCILE's entries.
    Reconcile {
        group: Result<String, String>,
    },
    /// XIHAVE's Message-IDs.
    Offer(Result<(), String>),
}

/// The newsgroup selected by GROUP or LISTGROUP, and the current article.
struct Selected {
    name: String,
    current: Option<u64>,
}

pub struct Session {
    node: Arc<Node>,
    selected: Option<Selected>,
    /// IDs this connection answered 238 to, held until their TAKETHIS.
    checked: HashMap<Vec<u8>, Claim>,
    /// This connection's share of the pre-commit table.
    claimant: Claimant,
    /// Octets of pipelined articles not answered yet; with `max_pipeline`
    /// it bounds what one connection makes the node hold.
    in_flight: Arc<std::sync::atomic::AtomicUsize>,
    awaiting: Option<Awaiting>,
    /// Resolves once the last pipelined article has been queued for commit.
    last_turn: Option<tokio::sync::oneshot::Receiver<()>>,
    /// The configured peer this connection proved to be (XPEER), or comes
    /// from (a plain peer's `hosts`).
    peer: Option<String>,
    /// `peer` is known by address only; XPEER may still name another.
    peer_by_address: bool,
    /// The reader who logged in (AUTHINFO, or XAUTHKEY as a key).
    user: Option<crate::access::Identity>,
    /// The name of an AUTHINFO USER waiting for its PASS.
    pending_user: Option<String>,
    /// The key and challenge of a first XAUTHKEY line.
    key_challenge: Option<([u8; 32], String)>,
    /// MODE STREAM was sent: a transit feed (RFC 4644), for which a
    /// Message-ID names exactly that article, a superseded version too;
    /// only readers are led to the current version (state.md §3b).
    streaming: bool,
    /// The peer name and challenge of a first XPEER line.
    challenge: Option<(String, String)>,
    /// Whether the connection runs over TLS (implicit port or STARTTLS).
    tls: bool,
    /// The client's address, and ours on this connection: XSYNC is only
    /// taken from this host.
    remote: SocketAddr,
    local: SocketAddr,
}

/// What the loop should do after a frame.
enum Next {
    Continue,
    Close,
    /// Flush the 382 and hand the stream over for the TLS handshake.
    StartTls,
}

/// How one stretch of the conversation ended.
enum Ended {
    Closed,
    /// STARTTLS was accepted and its 382 sent: the plain stream, with
    /// anything the client pipelined after the command dropped.
    StartTls(BoxStream),
}

/// Serves one connection. `tls` says whether `stream` is TLS already (the
/// implicit-TLS port); a plain one may switch with STARTTLS.
pub async fn serve(
    stream: BoxStream,
    tls: bool,
    node: Arc<Node>,
    peer: SocketAddr,
    local: SocketAddr,
    shutdown: CancellationToken,
) {
    // A plain NNTP peer (INN) is known by its address (peering.md §4).
    let by_address = node.peers().at(peer.ip()).map(str::to_string);
    if let Some(name) = &by_address {
        debug!(%peer, name, "connection from a peer's configured host");
    }
    let mut session = Session {
        claimant: node.precommit.claimant(),
        in_flight: Arc::default(),
        node,
        selected: None,
        checked: HashMap::new(),
        awaiting: None,
        last_turn: None,
        peer_by_address: by_address.is_some(),
        user: None,
        pending_user: None,
        key_challenge: None,
        streaming: false,
        peer: by_address,
        challenge: None,
        tls,
        remote: peer,
        local,
    };
    let mut stream = stream;
    let mut out = BytesMut::with_capacity(256);
    session.greeting().encode(&mut out);
    if send(&mut stream, &out).await.is_err() {
        return;
    }
    debug!(%peer, "greeted");
    // No new greeting after STARTTLS (RFC 4642 §2.2.2): the client goes on
    // with its next command over TLS.
    while let Ended::StartTls(plain) = session.converse(stream, &shutdown).await {
        match session.start_tls(plain).await {
            Some(secure) => stream = secure,
            None => break,
        }
    }
    debug!(%peer, "connection closed");
}

/// A pipelined reply that is known at once.
fn ready(reply: Reply) -> BoxFuture<'static, Reply> {
    Box::pin(std::future::ready(reply))
}

/// Writes replies and flushes them: over TLS a write may leave the tail of
/// its records buffered until a flush, and the client is waiting for them.
async fn send<W: AsyncWrite + Unpin>(writer: &mut W, bytes: &[u8]) -> std::io::Result<()> {
    writer.write_all(bytes).await?;
    writer.flush().await
}

impl Session {
    /// Reads and answers commands on `stream` until the connection ends or
    /// switches to TLS.
    async fn converse(&mut self, stream: BoxStream, shutdown: &CancellationToken) -> Ended {
        let max_article = self.node.config().limits.max_article_bytes;
        let idle = Duration::from_secs(self.node.config().limits.idle_timeout_secs);
        let max_pipeline = self.node.config().limits.max_pipeline;
        let max_pipeline_bytes = self.node.config().limits.max_pipeline_bytes;
        let in_flight = self.in_flight.clone();
        let (read_half, mut writer) = tokio::io::split(stream);
        let mut frames = FramedRead::new(
            read_half,
            NntpCodec::new(command::MAX_COMMAND_LINE, max_article),
        );
        let mut out = BytesMut::with_capacity(8192);
        let mut pending: FuturesOrdered<BoxFuture<'static, Reply>> = FuturesOrdered::new();

        loop {
            let next = tokio::select! {
                biased;
                () = shutdown.cancelled() => {
                    while let Some(reply) = pending.next().await {
                        reply.encode(&mut out);
                    }
                    Reply::with(Code::SERVICE_UNAVAILABLE, "server shutting down").encode(&mut out);
                    Next::Close
                }
                Some(reply) = pending.next(), if !pending.is_empty() => {
                    let close = reply.code == Code::SERVICE_UNAVAILABLE;
                    reply.encode(&mut out);
                    if close { Next::Close } else { Next::Continue }
                }
                frame = tokio::time::timeout(idle, frames.next()),
                    if pending.len() < max_pipeline
                        && in_flight.load(std::sync::atomic::Ordering::Relaxed) < max_pipeline_bytes => {
                    match frame {
                        Err(_) => {
                            Reply::with(Code::SERVICE_UNAVAILABLE, "idle timeout, closing connection").encode(&mut out);
                            Next::Close
                        }
                        Ok(None) => Next::Close,
                        Ok(Some(Err(e))) => {
                            debug!(error = %e, "read failed");
                            Next::Close
                        }
                        Ok(Some(Ok(frame))) => {
                            self.frame(frame, frames.decoder_mut(), &mut pending, &mut out, &mut writer).await
                        }
                    }
                }
            };
            let idle_input = frames.read_buffer().is_empty();
            let stop = !matches!(next, Next::Continue);
            if !out.is_empty() && (stop || idle_input || out.len() >= FLUSH_AT) {
                if send(&mut writer, &out).await.is_err() {
                    return Ended::Closed;
                }
                out.clear();
            }
            match next {
                Next::Continue => {}
                Next::Close => {
                    let _ = writer.flush().await;
                    let _ = writer.shutdown().await;
                    return Ended::Closed;
                }
                Next::StartTls => {
                    // Dropping the framer drops its buffer: bytes sent after
                    // STARTTLS but before the handshake are not commands.
                    return Ended::StartTls(frames.into_inner().unsplit(writer));
                }
            }
        }
    }

    fn greeting(&self) -> Reply {
        let name = self.node.name();
        if self.node.config().node.posting {
            Reply::with(
                Code::READY_POSTING,
                format!("{name} tidings NNTP server ready, posting allowed"),
            )
        } else {
            Reply::with(
                Code::READY_NO_POSTING,
                format!("{name} tidings NNTP server ready, posting prohibited"),
            )
        }
    }

    async fn frame<W: AsyncWrite + Unpin>(
        &mut self,
        frame: Frame,
        codec: &mut NntpCodec,
        pending: &mut FuturesOrdered<BoxFuture<'static, Reply>>,
        out: &mut BytesMut,
        writer: &mut W,
    ) -> Next {
        match frame {
            Frame::Line(line) => {
                // A password stays out of the log, however the line is
                // spaced.
                let trimmed = line.trim_ascii_start();
                let shown = if trimmed.len() >= 8 && trimmed[..8].eq_ignore_ascii_case(b"AUTHINFO") {
                    &trimmed[..8]
                } else {
                    &line[..line.len().min(80)]
                };
                debug!(command = %String::from_utf8_lossy(shown), "command");
                let command = match command::parse(&line) {
                    Ok(command) => command,
                    Err(ParseError::Unknown(why)) => {
                        return self.respond(Reply::with(Code::UNKNOWN_COMMAND, why), pending, out)
                    }
                    Err(ParseError::Syntax(why)) => {
                        return self.respond(Reply::with(Code::SYNTAX_ERROR, why), pending, out)
                    }
                };
                if !matches!(command, Command::Check(_) | Command::Takethis(_)) {
                    while let Some(reply) = pending.next().await {
                        reply.encode(out);
                    }
                }
                self.command(command, codec, pending, out, writer).await
            }
            Frame::LineTooLong => self.respond(
                Reply::with(
                    Code::SYNTAX_ERROR,
                    format!(
                        "command line longer than {} octets",
                        command::MAX_COMMAND_LINE
                    ),
                ),
                pending,
                out,
            ),
            Frame::Block(article) => match self.awaiting.take().inspect(|awaiting| {
                let id = match awaiting {
                    Awaiting::Ihave { id, .. } | Awaiting::Takethis { id: Ok(id) } => id.as_slice(),
                    _ => return,
                };
                self.node.counters.bodies_received.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                // Its own target, so tests and operators can count transfers
                // without turning on every debug line.
                debug!(target: "tidings::bodies", message_id = %String::from_utf8_lossy(id), "article body received");
            }) {
                Some(Awaiting::Post) => {
                    self.respond(self.post_article(article).await, pending, out)
                }
                Some(Awaiting::Ihave { id, claim }) => {
                    let reply = self.ihave_article(id, article).await;
                    drop(claim);
                    self.respond(reply, pending, out)
                }
                Some(Awaiting::Takethis { id }) => {
                    pending.push_back(self.takethis_article(id, article));
                    Next::Continue
                }
                Some(Awaiting::Refuse(reply)) => self.respond(reply, pending, out),
                Some(Awaiting::Reconcile { group }) => {
                    pending.push_back(self.reconcile(group, article));
                    Next::Continue
                }
                Some(Awaiting::Offer(ok)) => {
                    let reply = self.xihave(ok, article);
                    self.respond(reply, pending, out)
                }
                None => Next::Continue,
            },
            Frame::BlockTooLarge { size } => {
                let limit = self.node.config().limits.max_article_bytes;
                let why = format!("article of {size}+ octets exceeds the limit of {limit}");
                let awaiting = self.awaiting.take();
                if !matches!(awaiting, Some(Awaiting::Reconcile { .. } | Awaiting::Offer(_))) {
                    info!(reason = %why, "article rejected");
                }
                let reply = match awaiting {
                    Some(Awaiting::Post) => Reply::with(Code::POST_FAILED, why),
                    Some(Awaiting::Ihave { .. }) => Reply::with(Code::TRANSFER_REJECTED, why),
                    Some(Awaiting::Refuse(reply)) => reply,
                    Some(Awaiting::Reconcile { .. } | Awaiting::Offer(_)) => Reply::with(
                        Code::SYNTAX_ERROR,
                        format!(
                            "block of {size}+ octets exceeds the limit of {}",
                            crate::proto::reconcile::MAX_BLOCK
                        ),
                    ),
                    Some(Awaiting::Takethis { id }) => {
                        let id = id.unwrap_or_default();
                        self.checked.remove(&id);
                        Reply::with(
                            Code::TAKETHIS_REJECTED,
                            format!("{} {why}", String::from_utf8_lossy(&id)),
                        )
                    }
                    None => return Next::Continue,
                };
                self.respond(reply, pending, out)
            }
        }
    }

    /// Queues a reply behind pipelined ones, or writes it at once.
    fn respond(
        &self,
        reply: Reply,
        pending: &mut FuturesOrdered<BoxFuture<'static, Reply>>,
        out: &mut BytesMut,
    ) -> Next {
        if pending.is_empty() {
            reply.encode(out);
        } else {
            pending.push_back(Box::pin(std::future::ready(reply)));
        }
        Next::Continue
    }

    async fn command<W: AsyncWrite + Unpin>(
        &mut self,
        command: Command,
        codec: &mut NntpCodec,
        pending: &mut FuturesOrdered<BoxFuture<'static, Reply>>,
        out: &mut BytesMut,
        writer: &mut W,
    ) -> Next {
        // A closed node serves an anonymous connection only what it needs
        // to log in (protocol-spec/access.md).
        let open_to_all = matches!(
            command,
            Command::Quit
                | Command::Capabilities
                | Command::Help
                | Command::Date
                | Command::ModeReader
                | Command::StartTls
                | Command::Xpeer { .. }
                | Command::AuthinfoUser(_)
                | Command::AuthinfoPass(_)
                | Command::Xauthkey { .. }
        );
        if !open_to_all && self.must_authenticate() {
            // A block sent at once (TAKETHIS, XIHAVE, XRECONCILE) is read
            // to its end first, so the connection stays in step.
            if matches!(
                command,
                Command::Takethis(_) | Command::Xihave(_) | Command::Xreconcile(_)
            ) {
                codec.expect_block_up_to(
                    crate::proto::reconcile::MAX_BLOCK
                        .max(self.node.config().limits.max_article_bytes),
                );
                self.awaiting = Some(Awaiting::Refuse(Session::authentication_required()));
                return Next::Continue;
            }
            return self.respond(Session::authentication_required(), pending, out);
        }
        let handled: Handled = match command {
            Command::AuthinfoUser(name) => Ok(self.authinfo_user(name)),
            Command::Xauthkey { key, signature } => Ok(self.xauthkey(key, signature)),
            Command::AuthinfoPass(password) => Ok(self.authinfo_pass(password).await),
            Command::Quit => {
                Reply::new(Code::CLOSING).encode(out);
                return Next::Close;
            }
            Command::Capabilities => Ok(self.capabilities()),
            Command::Help => Ok(self.help()),
            Command::Date => Ok(self.date()),
            Command::ModeReader => Ok(self.mode_reader()),
            Command::Xpeer { name, signature } => Ok(self.xpeer(name, signature)),
            Command::StartTls => match self.starttls() {
                Ok(go_ahead) => {
                    go_ahead.encode(out);
                    return Next::StartTls;
                }
                Err(refusal) => Ok(refusal),
            },
            Command::ModeStream | Command::Check(_) | Command::Ihave(_)
                if !self.transit_allowed() =>
            {
                Ok(Reply::new(Code::AUTH_REQUIRED))
            }
            Command::Takethis(_) | Command::Xihave(_) if !self.transit_allowed() => {
                codec.expect_block_up_to(
                    crate::proto::reconcile::MAX_BLOCK
                        .max(self.node.config().limits.max_article_bytes),
                );
                self.awaiting = Some(Awaiting::Refuse(Reply::new(Code::AUTH_REQUIRED)));
                return Next::Continue;
            }
            Command::Xihave(ok) => {
                codec.expect_block_up_to(crate::proto::reconcile::MAX_BLOCK);
                self.awaiting = Some(Awaiting::Offer(ok));
                return Next::Continue;
            }
            Command::Xreconcile(group) => {
                codec.expect_block_up_to(crate::proto::reconcile::MAX_BLOCK);
                self.awaiting = Some(Awaiting::Reconcile { group });
                return Next::Continue;
            }
            Command::Xsync(name) => return self.xsync(name, out, writer).await,
            Command::Xstate => self.xstate(),
            Command::Xfile {
                hash,
                offset,
                count,
            } => return self.xfile(hash, offset, count, out, writer).await,
            Command::ModeStream => {
                self.streaming = true;
                Ok(Reply::new(Code::STREAMING_OK))
            }
            Command::List(kind) => Ok(self.list(kind)),
            Command::NewGroups { since } => Ok(self.newgroups(since)),
            Command::NewNews { groups, since } => {
                let answer = Ok(self.newnews(groups, since));
                return self.answer(answer, pending, out, writer).await;
            }
            Command::Group(name) => self.group(&name),
            Command::ListGroup { group, range } => {
                let answer = self.listgroup(group.as_deref(), range);
                return self.answer(answer, pending, out, writer).await;
            }
            Command::Retrieve { part, target } => self.retrieve(part, target),
            Command::Next => self.step(Towards::Next),
            Command::Last => self.step(Towards::Previous),
            Command::Over(selection) => {
                let answer = self.over(selection);
                return self.answer(answer, pending, out, writer).await;
            }
            Command::Hdr { field, selection } => {
                let answer = self.hdr(&field, selection);
                return self.answer(answer, pending, out, writer).await;
            }
            Command::Check(id) => Ok(self.check(id)),
            Command::Takethis(id) => {
                codec.expect_block();
                self.awaiting = Some(Awaiting::Takethis { id });
                return Next::Continue;
            }
            Command::Post => {
                let start = self.post();
                return self
                    .begin_transfer(start, codec, pending, out, writer)
                    .await;
            }
            Command::Ihave(id) => {
                let start = self.ihave(id);
                return self
                    .begin_transfer(start, codec, pending, out, writer)
                    .await;
            }
        };
        let reply = match handled {
            Ok(reply) | Err(Stop::Refuse(reply)) => reply,
            Err(Stop::Fault(e)) => {
                tracing::error!(error = %e, "storage fault while answering a command");
                Reply::new(Code::INTERNAL_FAULT)
            }
        };
        self.respond(reply, pending, out)
    }

    /// Sends 340/335 at once (the client waits for it before sending the
    /// article) and reads the next block as that article; or refuses.
    async fn begin_transfer<W: AsyncWrite + Unpin>(
        &mut self,
        start: Result<(Reply, Awaiting), Reply>,
        codec: &mut NntpCodec,
        pending: &mut FuturesOrdered<BoxFuture<'static, Reply>>,
        out: &mut BytesMut,
        writer: &mut W,
    ) -> Next {
        match start {
            Ok((go_ahead, awaiting)) => {
                go_ahead.encode(out);
                if send(writer, out).await.is_err() {
                    return Next::Close;
                }
                out.clear();
                codec.expect_block();
                self.awaiting = Some(awaiting);
                Next::Continue
            }
            Err(refusal) => self.respond(refusal, pending, out),
        }
    }
}

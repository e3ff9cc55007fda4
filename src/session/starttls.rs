//! STARTTLS (RFC 4642): `382`, then a TLS handshake on the same TCP
//! connection, then the conversation goes on over TLS with a fresh state.

use std::sync::atomic::Ordering;

use tracing::{debug, info};

use super::Session;
use crate::proto::{Code, Reply};
use crate::tls::{self, BoxStream};

impl Session {
    /// Whether CAPABILITIES lists STARTTLS: only where the command would be
    /// accepted (RFC 4642 §2.2.1).
    pub(super) fn starttls_allowed(&self) -> bool {
        !self.tls && self.peer.is_none()
    }

    /// The go-ahead, or why not (RFC 4642 §2.2.2).
    pub(super) fn starttls(&self) -> Result<Reply, Reply> {
        if self.tls {
            return Err(Reply::with(
                Code::NOT_PERMITTED,
                "the connection already uses TLS",
            ));
        }
        if self.peer.is_some() {
            // Switching after authentication would let what was proved on
            // the plain link carry over to a different one.
            return Err(Reply::with(
                Code::NOT_PERMITTED,
                "STARTTLS is not allowed after XPEER",
            ));
        }
        Ok(Reply::new(Code::TLS_CONTINUE))
    }

    /// Runs the server side of the handshake on the stream the 382 went
    /// out on. None when it failed, and the connection is dropped: there is
    /// no way back to plain text once the client has started TLS.
    pub(super) async fn start_tls(&mut self, plain: BoxStream) -> Option<BoxStream> {
        match tls::accept(&self.node.tls.acceptor, plain).await {
            Ok(secure) => {
                self.node
                    .counters
                    .tls_sessions
                    .fetch_add(1, Ordering::Relaxed);
                info!("switched to TLS (STARTTLS)");
                self.reset_after_tls();
                Some(secure)
            }
            Err(e) => {
                debug!(error = %e, "STARTTLS handshake failed");
                None
            }
        }
    }

    /// RFC 4642 §2.2.2: the server forgets what it learnt from the client
    /// before TLS. Pipelined transit cannot be under way, as STARTTLS waits
    /// for it like every other command.
    fn reset_after_tls(&mut self) {
        self.tls = true;
        self.selected = None;
        self.peer = None;
        self.user = None;
        self.pending_user = None;
        self.key_challenge = None;
        self.streaming = false;
        self.challenge = None;
        self.checked.clear();
        self.awaiting = None;
    }
}

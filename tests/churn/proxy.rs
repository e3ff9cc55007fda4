//! Loopback proxies that every peer link goes through, so the harness can
//! cut a link (drop its connections, refuse or stall new ones) and heal it
//! without touching the nodes. They also read the replies that flow back to
//! each feeder, which is where duplicate transfers show: a node answers a
//! TAKETHIS or IHAVE body it already had with 439 / 437.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// What a link does with connections right now.
#[derive(Clone, Debug, Default)]
struct LinkState {
    /// Where the far node listens; None while it is down.
    target: Option<SocketAddr>,
    /// Partitions cutting this link; it carries traffic only at zero, so
    /// overlapping partitions heal independently.
    cuts: u32,
    /// While cut: hold new connections silent (a black hole) rather than
    /// closing them at once (a refused connection).
    stall: bool,
    /// Bumped by every cut: connections opened under an older epoch drop.
    epoch: u64,
}

/// Replies seen on one link, server to feeder.
#[derive(Default, Debug)]
pub struct Wire {
    /// CHECK answered 238 / IHAVE answered 335, and XIHAVE's wanted ids are
    /// not lines of their own: offers the far node wanted.
    pub wanted: AtomicU64,
    /// CHECK 438 / IHAVE 435: offers refused without a body.
    pub not_wanted: AtomicU64,
    /// 431 / 436: offers deferred.
    pub deferred: AtomicU64,
    /// TAKETHIS 239 / IHAVE 235: bodies taken.
    pub taken: AtomicU64,
    /// TAKETHIS 439 / IHAVE 437 saying the id was already known: a body
    /// sent in full to a node that had it.
    pub duplicate: AtomicU64,
    /// Other 439 / 437: bodies refused for a reason of their own.
    pub refused: AtomicU64,
    /// Connections the proxy forwarded, and ones it dropped or refused.
    pub connections: AtomicU64,
    pub dropped: AtomicU64,
    /// The refusals themselves (they name the Message-ID), the first few
    /// thousand, to tell afterwards why an article did not spread.
    pub refusals: std::sync::Mutex<Vec<String>>,
}

const KEPT_REFUSALS: usize = 5000;

impl Wire {
    fn line(&self, line: &[u8]) {
        let counter = match line.get(..4) {
            Some(b"238 ") | Some(b"335 ") => &self.wanted,
            Some(b"438 ") | Some(b"435 ") => &self.not_wanted,
            Some(b"431 ") | Some(b"436 ") => &self.deferred,
            Some(b"239 ") | Some(b"235 ") => &self.taken,
            Some(b"439 ") | Some(b"437 ") => {
                let text = String::from_utf8_lossy(line);
                let mut kept = self.refusals.lock().unwrap_or_else(|e| e.into_inner());
                if kept.len() < KEPT_REFUSALS {
                    kept.push(text.to_string());
                }
                if text.contains("already seen") || text.contains("duplicate") {
                    &self.duplicate
                } else {
                    &self.refused
                }
            }
            _ => return,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

/// One direction of one peer link: `from`'s feeder connects to `listen`
/// and reaches `to`'s NNTP port.
pub struct Link {
    pub from: usize,
    pub to: usize,
    pub listen: SocketAddr,
    state: watch::Sender<LinkState>,
    pub wire: Arc<Wire>,
}

impl Link {
    pub fn set_target(&self, target: Option<SocketAddr>) {
        self.state.send_modify(|s| s.target = target);
    }

    pub fn cut(&self, stall: bool) {
        self.state.send_modify(|s| {
            s.cuts += 1;
            s.stall = stall;
            s.epoch += 1;
        });
    }

    pub fn heal(&self) {
        self.state
            .send_modify(|s| s.cuts = s.cuts.saturating_sub(1));
    }

    pub fn heal_all(&self) {
        self.state.send_modify(|s| s.cuts = 0);
    }
}

/// The proxies' runtime and links; dropping it closes every listener and
/// connection.
pub struct Proxies {
    runtime: tokio::runtime::Runtime,
    pub links: Vec<Arc<Link>>,
}

impl Proxies {
    pub fn new() -> Proxies {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("churn-proxy")
            .enable_all()
            .build()
            .expect("proxy runtime");
        Proxies {
            runtime,
            links: Vec::new(),
        }
    }

    /// Opens the proxy for `from` feeding `to` on a fresh 127.0.0.1 port.
    pub fn add(&mut self, from: usize, to: usize) -> Arc<Link> {
        let listener = self
            .runtime
            .block_on(TcpListener::bind("127.0.0.1:0"))
            .expect("bind proxy");
        let (state, _) = watch::channel(LinkState::default());
        let link = Arc::new(Link {
            from,
            to,
            listen: listener.local_addr().expect("proxy addr"),
            state,
            wire: Arc::new(Wire::default()),
        });
        let accepting = link.clone();
        self.runtime.spawn(async move {
            loop {
                let Ok((inbound, _)) = listener.accept().await else {
                    // Out of descriptors or similar: back off, keep the link.
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                };
                tokio::spawn(forward(accepting.clone(), inbound));
            }
        });
        self.links.push(link.clone());
        link
    }
}

impl Drop for Proxies {
    fn drop(&mut self) {
        for link in &self.links {
            link.cut(false);
        }
    }
}

async fn forward(link: Arc<Link>, inbound: TcpStream) {
    let mut state = link.state.subscribe();
    let epoch = loop {
        let now = state.borrow_and_update().clone();
        if now.cuts == 0 {
            break now.epoch;
        }
        if !now.stall || state.changed().await.is_err() {
            link.wire.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
    };
    let Some(target) = state.borrow().target else {
        // The far node is down: as good as a refused connection.
        link.wire.dropped.fetch_add(1, Ordering::Relaxed);
        return;
    };
    let outbound =
        match tokio::time::timeout(Duration::from_secs(5), TcpStream::connect(target)).await {
            Ok(Ok(stream)) => stream,
            _ => {
                link.wire.dropped.fetch_add(1, Ordering::Relaxed);
                return;
            }
        };
    link.wire.connections.fetch_add(1, Ordering::Relaxed);
    let _ = inbound.set_nodelay(true);
    let _ = outbound.set_nodelay(true);
    let cut = async {
        loop {
            if state.borrow_and_update().epoch != epoch || state.changed().await.is_err() {
                return;
            }
        }
    };
    tokio::select! {
        _ = pump(inbound, outbound, link.wire.clone()) => {}
        _ = cut => {}
    }
}

/// Copies both ways until both sides have closed, passing half-closes on,
/// and reads the status lines coming back from the server.
async fn pump(inbound: TcpStream, outbound: TcpStream, wire: Arc<Wire>) {
    let (mut client_in, mut client_out) = inbound.into_split();
    let (mut server_in, mut server_out) = outbound.into_split();
    let up = async {
        let _ = tokio::io::copy(&mut client_in, &mut server_out).await;
        let _ = server_out.shutdown().await;
    };
    let down = async {
        let mut buf = vec![0u8; 16 * 1024];
        // Status lines are short; the rest of a longer line is not kept.
        let mut line = Vec::with_capacity(400);
        loop {
            let n = match server_in.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            for &b in &buf[..n] {
                if b == b'\n' {
                    wire.line(&line);
                    line.clear();
                } else if line.len() < 400 {
                    line.push(b);
                }
            }
            if client_out.write_all(&buf[..n]).await.is_err() {
                break;
            }
        }
        let _ = client_out.shutdown().await;
    };
    tokio::join!(up, down);
}

//! Who an HTTP request is (protocol-spec/access.md §3.1, §3.3): HTTP
//! Basic credentials checked against the same users file as AUTHINFO, or
//! a key signing the request (Tidings-Key), so the same identities read
//! the same boards by either protocol. A closed
//! node answers a request without them 401; a board the requester may not
//! read is 404 (401 if logging in could help).

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use base64::Engine;
use sha2::{Digest, Sha256};

use crate::access::Identity;
use crate::node::Node;

/// The client's address, put on every request by the accept loop.
#[derive(Debug, Clone, Copy)]
pub struct ClientAddr(pub SocketAddr);

/// How long a right user and password are remembered, so a browser that
/// sends them with every request costs one Argon2 check, not one each.
const REMEMBERED_FOR: Duration = Duration::from_secs(300);
/// Credentials remembered at most.
const REMEMBERED: usize = 4096;

/// Right credentials seen lately, by the SHA-256 of what was sent.
#[derive(Default)]
pub struct Logins {
    seen: Mutex<HashMap<[u8; 32], (Identity, Instant)>>,
}

impl Logins {
    fn get(&self, key: &[u8; 32]) -> Option<Identity> {
        let seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        seen.get(key)
            .filter(|(_, at)| at.elapsed() < REMEMBERED_FOR)
            .map(|(who, _)| who.clone())
    }

    fn put(&self, key: [u8; 32], who: Identity) {
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        if seen.len() >= REMEMBERED {
            seen.retain(|_, (_, at)| at.elapsed() < REMEMBERED_FOR);
            if seen.len() >= REMEMBERED {
                seen.clear();
            }
        }
        seen.insert(key, (who, Instant::now()));
    }
}

fn unauthorized(reason: &str) -> Response {
    let mut response = super::error(StatusCode::UNAUTHORIZED, reason);
    let headers = response.headers_mut();
    headers.insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Basic realm=\"tidings\", charset=\"UTF-8\""),
    );
    headers.append(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Tidings-Key realm=\"tidings\""),
    );
    response
}

/// How far a Tidings-Key request's time may be from the node's clock.
const KEY_TIME_SLACK_SECS: u64 = 60;

/// A key, the time it signed at, and its signature of the request.
type SignedBy = ([u8; 32], u64, [u8; 64]);

/// The key, time and signature of an `Authorization: Tidings-Key` header
/// (access.md §3.3); Err with why when it is that scheme but malformed.
fn tidings_key(request: &Request) -> Option<Result<SignedBy, &'static str>> {
    let value = request
        .headers()
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, rest) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("tidings-key") {
        return None;
    }
    let mut words = rest.split_ascii_whitespace();
    let parsed = (|| {
        let key: [u8; 32] = hex::decode(words.next()?).ok()?.try_into().ok()?;
        let time: u64 = words.next()?.parse().ok()?;
        let signature: [u8; 64] = hex::decode(words.next()?).ok()?.try_into().ok()?;
        words.next().is_none().then_some((key, time, signature))
    })();
    Some(parsed.ok_or("Tidings-Key takes <key hex> <seconds> <signature hex>"))
}

/// Who a request signed with Tidings-Key is, or why it is refused.
fn key_identity(
    node: &Node,
    request: &Request,
    from: IpAddr,
    (key, time, signature): SignedBy,
) -> Result<Identity, &'static str> {
    let now = node.clock.now_micros() / 1_000_000;
    if now.abs_diff(time) > KEY_TIME_SLACK_SECS {
        return Err("the Tidings-Key time is more than 60 seconds from this node's clock");
    }
    if !node.key_may_log_in(&key) {
        return Err("the key has no passport and no grant here");
    }
    let target = request.uri().path_and_query().map_or("/", |p| p.as_str());
    let message = crate::proto::signing::http_key_message(
        node.name(),
        request.method().as_str(),
        target,
        &hex::encode(key),
        time,
    );
    if node.access().check_key(from, &key, &message, &signature) {
        Ok(Identity::Key(key))
    } else {
        Err("the Tidings-Key signature does not verify")
    }
}

/// The user and password of an `Authorization: Basic` header.
fn basic(request: &Request) -> Option<(String, String)> {
    let value = request
        .headers()
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, password) = text.split_once(':')?;
    Some((user.to_string(), password.to_string()))
}

/// The board a path is about, for the chan routes (`/{board}/...`) and
/// the native ones (`/api/v1/boards/{board}/...`).
fn board_of(path: &str) -> Option<&str> {
    let mut segments = path.trim_start_matches('/').split('/');
    let first = segments.next()?;
    if first == "api" {
        return match (segments.next(), segments.next(), segments.next()) {
            (Some("v1"), Some("boards"), Some(board)) if !board.is_empty() => Some(board),
            _ => None,
        };
    }
    // `/{board}/<something>`; a file hash or `boards.json` is a single
    // segment, and `web` and `upload` are the node's own.
    segments.next()?;
    Some(first).filter(|b| {
        !matches!(*b, "web" | "upload") && crate::proto::grammar::is_newsgroup_name(b.as_bytes())
    })
}

/// Finds who the request is, refuses what it may not have, and hands the
/// identity to the handlers as a request extension.
pub async fn authenticate(
    State((node, logins)): State<(Arc<Node>, Arc<Logins>)>,
    mut request: Request,
    next: Next,
) -> Response {
    let access = node.access();
    if access.all_open() {
        request.extensions_mut().insert(Identity::Anonymous);
        return next.run(request).await;
    }
    let from: Option<IpAddr> = request.extensions().get::<ClientAddr>().map(|a| a.0.ip());
    // Requests put to the router directly (tests) have no address: they
    // share one brake.
    let from = from.unwrap_or(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED));
    let signed = match tidings_key(&request) {
        None => None,
        Some(Err(why)) => return unauthorized(why),
        Some(Ok(signed)) => {
            let wait = access.throttle.wait(from);
            if !wait.is_zero() {
                tokio::time::sleep(wait).await;
            }
            match key_identity(&node, &request, from, signed) {
                Ok(who) => Some(who),
                Err(why) => return unauthorized(why),
            }
        }
    };
    let who = match (signed, basic(&request)) {
        (Some(who), _) => who,
        (None, None) => Identity::Anonymous,
        (None, Some((user, password))) => {
            let key: [u8; 32] = Sha256::digest(format!("{user}\0{password}")).into();
            match logins.get(&key) {
                Some(who) => who,
                None => match access.log_in(from, &user, password).await {
                    Ok(Some(who)) => {
                        logins.put(key, who.clone());
                        who
                    }
                    Ok(None) => return unauthorized("wrong user name or password"),
                    Err(e) => {
                        return super::error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string())
                    }
                },
            }
        }
    };
    if access.closed() && who.is_anonymous() {
        return unauthorized("this node serves readers who log in (HTTP Basic)");
    }
    if let Some(board) = board_of(request.uri().path()) {
        let allowed = if request.method() == axum::http::Method::POST {
            access.may_post(&who, board)
        } else {
            access.may_read(&who, board)
        };
        if !allowed {
            return if who.is_anonymous() {
                unauthorized("log in to use this board")
            } else {
                super::error(StatusCode::NOT_FOUND, "no such board here")
            };
        }
    }
    request.extensions_mut().insert(who);
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boards_are_read_from_chan_and_native_paths() {
        assert_eq!(board_of("/test.one/catalog.json"), Some("test.one"));
        assert_eq!(board_of("/test.one/thread/3.json"), Some("test.one"));
        assert_eq!(
            board_of("/api/v1/boards/test.one/threads"),
            Some("test.one")
        );
        assert_eq!(board_of("/boards.json"), None);
        assert_eq!(board_of("/api/v1/articles/%3Ca@b%3E"), None);
        assert_eq!(board_of(&format!("/{}.png", "ab".repeat(32))), None);
        assert_eq!(board_of("/web/app.js"), None);
        assert_eq!(board_of("/misc/post"), Some("misc"));
    }
}

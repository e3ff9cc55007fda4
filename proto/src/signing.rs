//! Article signatures: the canonical bytes an ed25519 signature covers, the
//! `Tidings-Signature` header, and the rule that binds a Message-ID to its
//! signing key. Pure: no I/O, no key storage.
//!
//! ```text
//! Tidings-Signature: ed25519 <public key, 64 hex> <signature, 128 hex>
//! Message-ID: <unique.<public key, 64 hex>@domain>
//! ```
//!
//! The canonical form (protocol-spec/signing.md §2):
//!
//! ```text
//! canonical = "tidings-signature-v1" CRLF *(lname ":" value CRLF) CRLF body
//! ```
//! Every header except Path, Xref and Tidings-Signature, names lowercased,
//! sorted by name (stable, so repeated fields keep their order), values
//! unfolded with whitespace runs collapsed to one SP and trimmed; the body
//! with CRLF line endings, trailing empty lines removed, and a final CRLF
//! when not empty. Relays may refold headers, reorder them, change line
//! endings and dot-stuffing, and the signature still holds.

use std::fmt;

use bytes::{BufMut, Bytes, BytesMut};
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};

use super::article::Article;

pub const HEADER: &str = "Tidings-Signature";
const ALGORITHM: &str = "ed25519";
const DOMAIN: &[u8] = b"tidings-signature-v1\r\n";

/// Headers every hop may change, so they are not signed.
const UNSIGNED: &[&str] = &["path", "xref", "tidings-signature"];

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SigError {
    Missing,
    Duplicate,
    Malformed(&'static str),
    /// No Message-ID to bind the signature to.
    NoMessageId,
    /// The Message-ID names a key (§3) other than the signing key.
    UnboundMessageId,
    BadSignature,
}

impl fmt::Display for SigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SigError::Missing => write!(f, "article is not signed (no {HEADER} header)"),
            SigError::Duplicate => write!(f, "{HEADER} appears more than once"),
            SigError::Malformed(what) => write!(f, "{HEADER} header is malformed: {what}"),
            SigError::NoMessageId => write!(
                f,
                "required header Message-ID is missing, so nothing binds the signature"
            ),
            SigError::UnboundMessageId => write!(
                f,
                "Message-ID names a key that is not the signing key (the last dot-separated part before @ is 64 hex digits, so only that key, in lowercase hex, may sign it)"
            ),
            SigError::BadSignature => write!(
                f,
                "signature does not verify: the article was altered or signed by another key"
            ),
        }
    }
}

/// The parsed `Tidings-Signature` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureField {
    pub key: VerifyingKey,
    pub signature: Signature,
}

pub fn key_hex(key: &VerifyingKey) -> String {
    hex::encode(key.as_bytes())
}

/// Parses a public key written as 64 hex digits.
pub fn parse_key(text: &str) -> Option<VerifyingKey> {
    let mut bytes = [0u8; 32];
    hex::decode_to_slice(text.trim(), &mut bytes).ok()?;
    key_from_bytes(bytes)
}

/// Keys seen lately, per thread: decompressing a key (a field square
/// root) costs about as much as a third of a verification, and most
/// articles come from few keys.
const KEY_CACHE: usize = 4096;

/// A key from its 32 bytes, None when they are no point of the curve:
/// what `VerifyingKey::from_bytes` gives, from a per-thread cache of the
/// keys seen lately.
pub fn key_from_bytes(bytes: [u8; 32]) -> Option<VerifyingKey> {
    use std::cell::RefCell;
    use std::collections::HashMap;
    thread_local! {
        static CACHE: RefCell<HashMap<[u8; 32], VerifyingKey>> = RefCell::new(HashMap::new());
    }
    CACHE.with(|cache| {
        if let Some(key) = cache.borrow().get(&bytes) {
            return Some(*key);
        }
        let key = VerifyingKey::from_bytes(&bytes).ok()?;
        let mut cache = cache.borrow_mut();
        if cache.len() >= KEY_CACHE {
            cache.clear();
        }
        cache.insert(bytes, key);
        Some(key)
    })
}

impl SignatureField {
    pub fn parse(value: &[u8]) -> Result<SignatureField, SigError> {
        let text = std::str::from_utf8(value).map_err(|_| SigError::Malformed("not ASCII"))?;
        let mut words = text.split_ascii_whitespace();
        if words.next() != Some(ALGORITHM) {
            return Err(SigError::Malformed("algorithm must be ed25519"));
        }
        let key = words
            .next()
            .and_then(parse_key)
            .ok_or(SigError::Malformed("key must be 64 hex digits"))?;
        let mut signature = [0u8; 64];
        words
            .next()
            .and_then(|s| hex::decode_to_slice(s, &mut signature).ok())
            .ok_or(SigError::Malformed("signature must be 128 hex digits"))?;
        if words.next().is_some() {
            return Err(SigError::Malformed("trailing data"));
        }
        Ok(SignatureField {
            key,
            signature: Signature::from_bytes(&signature),
        })
    }

    pub fn to_value(&self) -> String {
        format!(
            "{ALGORITHM} {} {}",
            key_hex(&self.key),
            hex::encode(self.signature.to_bytes())
        )
    }
}

/// Collapses whitespace runs (folding included) to one SP and trims.
fn relaxed(value: &[u8], out: &mut BytesMut) {
    fn blank(b: &u8) -> bool {
        matches!(b, b' ' | b'\t' | b'\r' | b'\n')
    }
    let start = value.iter().position(|b| !blank(b)).unwrap_or(value.len());
    let end = value
        .iter()
        .rposition(|b| !blank(b))
        .map_or(start, |i| i + 1);
    let value = &value[start..end];
    // Most values are already relaxed: one run of single spaces between
    // words, nothing to fold; copied whole instead of byte by byte.
    if memchr::memchr3(b'\t', b'\r', b'\n', value).is_none()
        && memchr::memmem::find(value, b"  ").is_none()
    {
        out.put_slice(value);
        return;
    }
    let mut pending_space = false;
    for &b in value {
        if blank(&b) {
            pending_space = true;
        } else {
            if pending_space {
                out.put_u8(b' ');
                pending_space = false;
            }
            out.put_u8(b);
        }
    }
}

/// Where the canonical body ends within `body` when `body` is already in
/// canonical form up to its empty last lines (every line ended by CRLF,
/// as articles on the wire are): the end of its last line that is not
/// empty. None when some line ends otherwise.
fn crlf_lines_end(body: &[u8]) -> Option<usize> {
    if !body.is_empty() && !body.ends_with(b"\r\n") {
        return None;
    }
    if memchr::memchr_iter(b'\n', body).any(|i| i == 0 || body[i - 1] != b'\r') {
        return None;
    }
    // The line that `end` closes is empty when it is the first, or when
    // a line ended just before it.
    let mut end = body.len();
    while end >= 2 && (end == 2 || body[end - 3] == b'\n') {
        end -= 2;
    }
    Some(end)
}

/// The bytes the signature covers.
pub fn canonical(article: &Article) -> Bytes {
    // Field names are printable ASCII (the parser takes nothing else), so
    // lowering their bytes is lowering the text; sorted without copying.
    fn lowered(name: &[u8]) -> impl Iterator<Item = u8> + '_ {
        name.iter().map(u8::to_ascii_lowercase)
    }
    let raw = article.raw();
    let mut fields: Vec<(&[u8], std::ops::Range<usize>)> = article
        .field_spans()
        .filter(|(name, _)| {
            !UNSIGNED
                .iter()
                .any(|u| name.eq_ignore_ascii_case(u.as_bytes()))
        })
        .collect();
    fields.sort_by(|a, b| lowered(a.0).cmp(lowered(b.0)));
    let mut out = BytesMut::with_capacity(raw.len() + DOMAIN.len());
    out.put_slice(DOMAIN);
    for (name, span) in &fields {
        let at = out.len();
        out.put_slice(name);
        out[at..].make_ascii_lowercase();
        out.put_u8(b':');
        let line = &raw[span.clone()];
        let value = &line[name.len() + 1..];
        relaxed(value, &mut out);
        out.put_slice(b"\r\n");
    }
    out.put_slice(b"\r\n");
    // Each body line ends in CRLF; empty lines at the end are left out.
    let body = article.body();
    if let Some(end) = crlf_lines_end(&body) {
        out.put_slice(&body[..end]);
        return out.freeze();
    }
    let mut kept = out.len();
    let mut start = 0;
    let ends = memchr::memchr_iter(b'\n', &body).chain(std::iter::once(body.len()));
    for end in ends {
        let line = &body[start..end];
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        start = end + 1;
        out.put_slice(line);
        out.put_slice(b"\r\n");
        if !line.is_empty() {
            kept = out.len();
        }
    }
    out.truncate(kept);
    out.freeze()
}

/// The last dot-separated component of a Message-ID's left part, when it
/// is 64 hex digits: the part that names a key (signing.md §3).
fn key_part(message_id: &[u8]) -> Option<&[u8]> {
    let core = message_id.strip_prefix(b"<")?.strip_suffix(b">")?;
    let at = core.iter().rposition(|&b| b == b'@')?;
    let left = &core[..at];
    let part = match left.iter().rposition(|&b| b == b'.') {
        Some(dot) => &left[dot + 1..],
        None => left,
    };
    (part.len() == 64 && part.iter().all(u8::is_ascii_hexdigit)).then_some(part)
}

/// Whether a Message-ID names a key, so that only that key may sign under
/// it. One that does not is free: only a node key acting as injector may
/// sign it (signing.md §3). Hex in the wrong case, or that is no valid key,
/// still names one, which no one can sign with: a free ID never looks like
/// a bound one.
pub fn names_key(message_id: &[u8]) -> bool {
    key_part(message_id).is_some()
}

/// The key a Message-ID names: the last dot-separated component of its left
/// part, 64 lowercase hex digits (protocol-spec/signing.md §3).
pub fn message_id_key(message_id: &[u8]) -> Option<VerifyingKey> {
    key_from_bytes(named_key_bytes(message_id)?)
}

/// The bytes of the key a Message-ID names, None when it names none or
/// names it in uppercase hex (which no key can sign under).
fn named_key_bytes(message_id: &[u8]) -> Option<[u8; 32]> {
    let part = key_part(message_id)?;
    if part.iter().any(u8::is_ascii_uppercase) {
        return None;
    }
    let mut bytes = [0u8; 32];
    hex::decode_to_slice(part, &mut bytes).ok()?;
    Some(bytes)
}

/// Whether `key` may sign under `message_id` as far as the ID itself says:
/// a bound ID only by the key it names, a free one by anyone (the signer's
/// standing decides, above this layer).
pub fn may_sign(message_id: &[u8], key: &VerifyingKey) -> bool {
    // message_id_key(id) == Some(key), without decompressing the named key:
    // equal encodings are the same key.
    !names_key(message_id) || named_key_bytes(message_id) == Some(key.to_bytes())
}

/// A fresh Message-ID bound to `key`.
pub fn new_message_id(key: &VerifyingKey, unique: &str, domain: &str) -> Vec<u8> {
    format!("<{unique}.{}@{domain}>", key_hex(key)).into_bytes()
}

/// Signs an article: removes any old signature and appends a new
/// `Tidings-Signature` header. The Message-ID must name `key` or no key.
pub fn sign(article: &Article, key: &SigningKey) -> Result<Bytes, SigError> {
    let id = article.message_id().ok_or(SigError::NoMessageId)?;
    if !may_sign(&id, &key.verifying_key()) {
        return Err(SigError::UnboundMessageId);
    }
    let signature = key.sign(&canonical(article));
    let field = SignatureField {
        key: key.verifying_key(),
        signature,
    };
    let raw = article.raw();
    let mut out = BytesMut::with_capacity(raw.len() + 220);
    for (name, span) in article.field_spans() {
        if !name.eq_ignore_ascii_case(HEADER.as_bytes()) {
            out.put_slice(&raw[span]);
        }
    }
    out.put_slice(format!("{HEADER}: {}\r\n\r\n", field.to_value()).as_bytes());
    out.put_slice(&article.body());
    Ok(out.freeze())
}

/// What a peer signs to answer an XPEER challenge (protocol-spec/peering.md
/// §2): both names and the challenge, so the answer is good for one
/// connection to one server only.
pub fn peer_challenge_message(server: &str, client: &str, challenge: &str) -> Vec<u8> {
    format!("tidings-peer-v1\n{server}\n{client}\n{challenge}\n").into_bytes()
}

/// What a reader signs to answer an XAUTHKEY challenge (protocol-spec/
/// access.md §3.2): the server's name, the key and the challenge, under a
/// label of their own, so an answer is good for one connection to one
/// server and cannot pass for an XPEER answer or a signed article.
pub fn key_challenge_message(server: &str, key: &str, challenge: &str) -> Vec<u8> {
    format!("tidings-authkey-v1\n{server}\n{key}\n{challenge}\n").into_bytes()
}

/// What a web client signs to send an HTTP request as a key (protocol-
/// spec/access.md §3.3): the server's name, the request's method and
/// target, the key and the time, under a label of their own, so a
/// signature is good for one request line to one server for a minute.
pub fn http_key_message(server: &str, method: &str, target: &str, key: &str, time: u64) -> Vec<u8> {
    format!("tidings-http-key-v1\n{server}\n{method}\n{target}\n{key}\n{time}\n").into_bytes()
}

/// A signature checked for form and binding, ready for the (batchable)
/// cryptographic check.
#[derive(Debug, Clone)]
pub struct Claimed {
    pub field: SignatureField,
    pub message: Bytes,
}

/// Parses the signature header and checks the Message-ID binding; the
/// ed25519 check itself is [`Claimed::verify`], so callers can batch it.
pub fn claimed(article: &Article) -> Result<Claimed, SigError> {
    Ok(Claimed {
        field: claimed_field(article)?,
        message: canonical(article),
    })
}

/// The key an article's signature header names, checked for form and
/// binding as [`claimed`] checks it, without building the signed form:
/// for an article verified when it was stored, whose signer is wanted.
pub fn claimed_key(article: &Article) -> Result<VerifyingKey, SigError> {
    claimed_field(article).map(|field| field.key)
}

fn claimed_field(article: &Article) -> Result<SignatureField, SigError> {
    let field = match article.count(HEADER) {
        0 => return Err(SigError::Missing),
        1 => SignatureField::parse(&article.header_unfolded(HEADER).unwrap_or_default())?,
        _ => return Err(SigError::Duplicate),
    };
    let id = article.message_id().ok_or(SigError::NoMessageId)?;
    if !may_sign(&id, &field.key) {
        return Err(SigError::UnboundMessageId);
    }
    Ok(field)
}

impl Claimed {
    pub fn verify(&self) -> Result<VerifyingKey, SigError> {
        self.field
            .key
            .verify_strict(&self.message, &self.field.signature)
            .map(|()| self.field.key)
            .map_err(|_| SigError::BadSignature)
    }
}

/// Checks an article's signature completely.
pub fn verify(article: &Article) -> Result<VerifyingKey, SigError> {
    claimed(article)?.verify()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The signed form as signing.md §2 words it, written plainly: the
    /// optimised [`canonical`] must give the same bytes.
    fn canonical_as_specified(article: &Article) -> Vec<u8> {
        let raw = article.raw();
        let mut fields: Vec<(String, std::ops::Range<usize>)> = article
            .field_spans()
            .map(|(name, span)| (String::from_utf8_lossy(name).to_ascii_lowercase(), span))
            .filter(|(name, _)| !UNSIGNED.contains(&name.as_str()))
            .collect();
        fields.sort_by(|a, b| a.0.cmp(&b.0));
        let mut out = BytesMut::from(DOMAIN);
        for (name, span) in &fields {
            out.put_slice(name.as_bytes());
            out.put_u8(b':');
            out.put_slice(&relaxed_as_specified(&raw[span.clone()][name.len() + 1..]));
            out.put_slice(b"\r\n");
        }
        out.put_slice(b"\r\n");
        let body = article.body();
        let mut lines: Vec<&[u8]> = body
            .split(|&b| b == b'\n')
            .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
            .collect();
        while lines.last().is_some_and(|l| l.is_empty()) {
            lines.pop();
        }
        for line in lines {
            out.put_slice(line);
            out.put_slice(b"\r\n");
        }
        out.to_vec()
    }

    /// A field value relaxed as signing.md §2 words it: whitespace runs
    /// (folding included) become one SP, and none is left at either end.
    fn relaxed_as_specified(value: &[u8]) -> Vec<u8> {
        value
            .split(|b| matches!(b, b' ' | b'\t' | b'\r' | b'\n'))
            .filter(|word| !word.is_empty())
            .collect::<Vec<_>>()
            .join(&b' ')
    }

    proptest::proptest! {
        #[test]
        fn field_values_are_relaxed_as_specified(
            value in proptest::collection::vec(
                proptest::sample::select(vec![b' ', b'\t', b'\r', b'\n', b'a', b'b']), 0..30),
        ) {
            let mut out = BytesMut::new();
            relaxed(&value, &mut out);
            proptest::prop_assert_eq!(out.to_vec(), relaxed_as_specified(&value));
        }

        /// Bodies as they come on the wire, every line ended by CRLF (the
        /// form copied whole), or the last one not ended.
        #[test]
        fn the_canonical_form_of_crlf_lines_is_as_specified(
            lines in proptest::collection::vec(
                proptest::collection::vec(
                    proptest::sample::select(vec![b'a', b' ', b'\r', b'.']), 0..6),
                0..8),
            unterminated in proptest::bool::ANY,
        ) {
            let mut raw = b"Subject: s\r\nMessage-ID: <p@example.org>\r\n\r\n".to_vec();
            for line in &lines {
                raw.extend_from_slice(line);
                raw.extend_from_slice(b"\r\n");
            }
            if unterminated && !lines.is_empty() {
                raw.truncate(raw.len() - 2);
            }
            let article = Article::parse(Bytes::from(raw)).expect("parses");
            proptest::prop_assert_eq!(
                canonical(&article).to_vec(),
                canonical_as_specified(&article)
            );
        }

        #[test]
        fn the_canonical_form_is_as_specified(
            order in proptest::sample::subsequence(
                vec!["From", "subject", "NEWSGROUPS", "Path", "X-Extra", "date", "Xref"], 1..7),
            upper in proptest::collection::vec(proptest::bool::ANY, 7),
            body in proptest::collection::vec(
                proptest::sample::select(vec![b'a', b' ', b'\r', b'\n', b'.', b'z']), 0..60),
        ) {
            let mut raw = Vec::new();
            for (name, up) in order.iter().zip(&upper) {
                let name = if *up { name.to_ascii_uppercase() } else { name.to_string() };
                raw.extend_from_slice(format!("{name}:  v  {name}\r\n").as_bytes());
            }
            raw.extend_from_slice(b"Message-ID: <p@example.org>\r\n\r\n");
            raw.extend_from_slice(&body);
            let article = Article::parse(Bytes::from(raw)).expect("parses");
            proptest::prop_assert_eq!(
                canonical(&article).to_vec(),
                canonical_as_specified(&article)
            );
        }
    }

    fn key(seed: u8) -> SigningKey {
        SigningKey::from_bytes(&[seed; 32])
    }

    fn article(text: &str) -> Article {
        Article::parse(Bytes::copy_from_slice(text.as_bytes())).expect("parses")
    }

    fn signed(k: &SigningKey) -> Article {
        let id =
            String::from_utf8(new_message_id(&k.verifying_key(), "t1", "example.org")).unwrap();
        let text = format!(
            "Path: a!b\r\nFrom: A <a@example.org>\r\nNewsgroups: x.y\r\nSubject: hello\r\n  world\r\nDate: Sun, 22 Nov 2026 04:20:54 +0000\r\nMessage-ID: {id}\r\n\r\nline 1\r\n.dot\r\n\r\n"
        );
        Article::parse(sign(&article(&text), k).expect("signs")).expect("parses")
    }

    #[test]
    fn sign_then_verify() {
        let k = key(1);
        assert_eq!(verify(&signed(&k)), Ok(k.verifying_key()));
    }

    #[test]
    fn survives_what_relays_do() {
        let k = key(2);
        let original = String::from_utf8(signed(&k).raw().to_vec()).unwrap();
        let relayed = original
            .replace("Path: a!b", "Path: relay!a!b")
            .replace("Subject: hello\r\n  world", "Subject: hello world")
            .replace("From: A <a@example.org>\r\n", "")
            .replacen("Newsgroups", "From: A <a@example.org>\r\nNewsgroups", 1)
            .replace("\r\n.dot\r\n\r\n", "\r\n.dot\r\n")
            + "";
        let relayed = format!("Xref: relay x.y:5\r\n{relayed}");
        assert_eq!(verify(&article(&relayed)), Ok(k.verifying_key()));
    }

    #[test]
    fn any_change_breaks_it() {
        let k = key(3);
        let original = String::from_utf8(signed(&k).raw().to_vec()).unwrap();
        for (from, to) in [
            ("line 1", "line 2"),
            ("line 1", "line 1 "),
            ("Subject: hello", "Subject: jello"),
            ("Newsgroups: x.y", "Newsgroups: x.z"),
            ("\r\n\r\nline 1", "\r\nX-Added: yes\r\n\r\nline 1"),
        ] {
            let tampered = article(&original.replacen(from, to, 1));
            assert_eq!(
                verify(&tampered),
                Err(SigError::BadSignature),
                "{from} -> {to}"
            );
        }
    }

    #[test]
    fn message_id_must_name_the_signer() {
        let (author, attacker) = (key(4), key(5));
        let original = signed(&author);
        let text = String::from_utf8(original.raw().to_vec()).unwrap();
        // The attacker re-signs the author's article (same Message-ID) with
        // their own key: the Message-ID names the author, so it fails.
        let stripped = article(&text);
        assert_eq!(sign(&stripped, &attacker), Err(SigError::UnboundMessageId));
        let forged_field = SignatureField {
            key: attacker.verifying_key(),
            signature: attacker.sign(&canonical(&stripped)),
        };
        let forged = text.replace(
            &original
                .header_unfolded(HEADER)
                .map(|v| String::from_utf8(v).unwrap())
                .unwrap(),
            &forged_field.to_value(),
        );
        assert_eq!(verify(&article(&forged)), Err(SigError::UnboundMessageId));
    }

    #[test]
    fn message_id_keys() {
        let k = key(6).verifying_key();
        let id = new_message_id(&k, "abc.def", "host");
        assert_eq!(message_id_key(&id), Some(k));
        assert_eq!(message_id_key(b"<abc@host>"), None);
        let upper = String::from_utf8(id.clone()).unwrap().to_uppercase();
        assert_eq!(
            message_id_key(upper.as_bytes()),
            None,
            "hex must be lowercase"
        );
        assert!(names_key(upper.as_bytes()), "but it still names a key");
        assert!(
            !may_sign(upper.as_bytes(), &k),
            "which no one can sign with"
        );
        assert!(names_key(&id) && may_sign(&id, &k));
        assert!(!may_sign(&id, &key(7).verifying_key()));
        for free in [&b"<abc@host>"[..], b"<a.b.c@host>", b"<x.0123@h>"] {
            assert!(!names_key(free) && may_sign(free, &k));
        }
        let whole = format!("<{}@h>", key_hex(&k));
        assert_eq!(
            message_id_key(whole.as_bytes()),
            Some(k),
            "one component is the last"
        );
    }

    #[test]
    fn keys_from_bytes_are_what_ed25519_dalek_makes_of_them_cached_or_not() {
        let k = key(8).verifying_key();
        for _ in 0..2 {
            assert_eq!(
                key_from_bytes(k.to_bytes()),
                Some(k),
                "first read, then cached"
            );
        }
        // About half of all y coordinates are no point of the curve.
        let not_a_point = (0..=255u8)
            .map(|b| {
                let mut bytes = [0u8; 32];
                bytes[0] = b;
                bytes
            })
            .find(|bytes| VerifyingKey::from_bytes(bytes).is_err())
            .expect("some low y is off the curve");
        for _ in 0..2 {
            assert_eq!(
                key_from_bytes(not_a_point),
                None,
                "off the curve, every time"
            );
        }
    }

    #[test]
    fn free_message_ids_can_be_signed_by_any_key() {
        let k = key(8);
        let text = "From: a@b\r\nNewsgroups: x.y\r\nSubject: s\r\nDate: Sun, 22 Nov 2026 04:20:54 +0000\r\nMessage-ID: <mine@client.example>\r\n\r\nbody\r\n";
        let signed =
            article(std::str::from_utf8(&sign(&article(text), &k).expect("signs")).unwrap());
        assert_eq!(signed.message_id(), Some(b"<mine@client.example>".to_vec()));
        assert_eq!(verify(&signed), Ok(k.verifying_key()));
        let foreign = text.replace(
            "<mine@client.example>",
            &String::from_utf8(new_message_id(&key(9).verifying_key(), "m", "h")).unwrap(),
        );
        assert_eq!(
            sign(&article(&foreign), &k),
            Err(SigError::UnboundMessageId)
        );
    }

    #[test]
    fn header_forms() {
        let k = key(7);
        assert_eq!(
            verify(&article("Subject: x\r\n\r\n")),
            Err(SigError::Missing)
        );
        let one = signed(&k);
        let value = String::from_utf8(one.header_unfolded(HEADER).unwrap()).unwrap();
        let twice = format!(
            "{HEADER}: {value}\r\n{}",
            String::from_utf8(one.raw().to_vec()).unwrap()
        );
        assert_eq!(verify(&article(&twice)), Err(SigError::Duplicate));
        assert!(matches!(
            SignatureField::parse(b"rsa 00 00"),
            Err(SigError::Malformed(_))
        ));
        assert!(matches!(
            SignatureField::parse(b"ed25519 zz 00"),
            Err(SigError::Malformed(_))
        ));
    }

    #[test]
    fn canonical_form_is_exact() {
        let a = article(
            "Path: p\r\nSubject:  a \r\n\t b\r\nFrom: f\r\nXref: x\r\n\r\nbody  \r\n\r\n\r\n",
        );
        assert_eq!(
            &canonical(&a)[..],
            b"tidings-signature-v1\r\nfrom:f\r\nsubject:a b\r\n\r\nbody  \r\n"
        );
    }
}

//! tidings signed articles (protocol-spec/signing.md), written from the
//! spec alone and not shared with the server: when this and the server
//! agree, the spec says enough; when they differ, one of them (or the spec)
//! is wrong.
//!
//! ```text
//! Tidings-Signature: ed25519 <public key hex> <signature hex>
//!
//! canonical = "tidings-signature-v1" CRLF
//!             *( lname ":" value CRLF )
//!             CRLF
//!             body
//! ```
//!
//! Articles here are in message form: dot-stuffing already undone, line
//! endings CRLF or bare LF.

use std::collections::hash_map::RandomState;
use std::fmt;
use std::fs;
use std::hash::BuildHasher;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};

use crate::article::Article;

/// The CAPABILITIES label of a server that speaks signing.md.
pub const CAPABILITY: &str = "X-TIDINGS-SIGNED";

/// The header that carries the signature (§1).
pub const HEADER: &str = "Tidings-Signature";

/// The first line of the canonical bytes (§2), which keeps a signature
/// over an article from meaning anything in another protocol.
const PREFIX: &[u8] = b"tidings-signature-v1\r\n";

/// Fields left out of the canonical bytes (§2.1), lowercase: relays change
/// the first two, the third holds the signature.
const UNSIGNED: [&[u8]; 3] = [b"path", b"xref", b"tidings-signature"];

/// The algorithm token of the signature header (§1).
const ALGORITHM: &str = "ed25519";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SigningError {
    /// The key file could not be read or does not hold a key.
    KeyFile {
        path: String,
        reason: String,
    },
    /// A header line that is neither a field nor a continuation.
    HeaderWithoutColon(String),
    /// The first header line begins with white space.
    ContinuationFirst,
    NoSignature,
    /// Two or more Tidings-Signature headers (§1).
    TwoSignatures,
    /// The header is not `ed25519 <64 hex> <128 hex>`.
    MalformedSignature(String),
    /// Well formed, but `verify_strict` refuses it.
    BadSignature,
}

impl fmt::Display for SigningError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SigningError::KeyFile { path, reason } => write!(f, "key file {path}: {reason}"),
            SigningError::HeaderWithoutColon(line) => {
                write!(f, "header line without colon: {line:?}")
            }
            SigningError::ContinuationFirst => {
                write!(f, "the first header line is a continuation line")
            }
            SigningError::NoSignature => write!(f, "no {HEADER} header"),
            SigningError::TwoSignatures => write!(f, "more than one {HEADER} header"),
            SigningError::MalformedSignature(v) => {
                write!(f, "malformed {HEADER} header {v:?}")
            }
            SigningError::BadSignature => write!(f, "the signature does not verify"),
        }
    }
}

impl std::error::Error for SigningError {}

/// One header field, unfolded and normalized (§2.2).
struct Field {
    lname: Vec<u8>,
    value: Vec<u8>,
}

/// The canonical bytes of an article (§2).
pub fn canonical(article: &[u8]) -> Result<Vec<u8>, SigningError> {
    let (mut fields, body) = parse(article)?;
    fields.retain(|f| !UNSIGNED.contains(&f.lname.as_slice()));
    // `sort_by` is stable, as §2.3 requires for repeated names.
    fields.sort_by(|a, b| a.lname.cmp(&b.lname));
    let mut out = PREFIX.to_vec();
    for f in &fields {
        out.extend_from_slice(&f.lname);
        out.push(b':');
        out.extend_from_slice(&f.value);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(&canonical_body(body));
    Ok(out)
}

/// Checks an article's signature, returning the signer's public key in
/// lowercase hex.
pub fn verify(article: &[u8]) -> Result<String, SigningError> {
    let (fields, _) = parse(article)?;
    let mut sigs = fields.iter().filter(|f| f.lname == b"tidings-signature");
    let sig = sigs.next().ok_or(SigningError::NoSignature)?;
    if sigs.next().is_some() {
        return Err(SigningError::TwoSignatures);
    }
    let (key, signature) = parse_signature(&sig.value)?;
    key.verify_strict(&canonical(article)?, &signature)
        .map_err(|_| SigningError::BadSignature)?;
    Ok(hex::encode(key.as_bytes()))
}

/// `ed25519 <64 lowercase hex> <128 hex>` (§1), from a normalized value.
fn parse_signature(value: &[u8]) -> Result<(VerifyingKey, Signature), SigningError> {
    let text = String::from_utf8_lossy(value);
    let bad = || SigningError::MalformedSignature(text.to_string());
    let tokens: Vec<&str> = text.split(' ').collect();
    let [alg, key, sig] = tokens.as_slice() else {
        return Err(bad());
    };
    if *alg != ALGORITHM || !is_lower_hex(key, 64) || sig.len() != 128 {
        return Err(bad());
    }
    let key: [u8; 32] = hex::decode(key)
        .ok()
        .and_then(|k| k.try_into().ok())
        .ok_or_else(bad)?;
    let sig: [u8; 64] = hex::decode(sig)
        .ok()
        .and_then(|s| s.try_into().ok())
        .ok_or_else(bad)?;
    // Bytes that are not a curve point are no key at all; small-order
    // points decode but `verify_strict` refuses them.
    let key = VerifyingKey::from_bytes(&key).map_err(|_| bad())?;
    Ok((key, Signature::from_bytes(&sig)))
}

fn is_lower_hex(s: &str, len: usize) -> bool {
    s.len() == len && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// Splits the header fields (unfolded, normalized) from the body.
fn parse(article: &[u8]) -> Result<(Vec<Field>, &[u8]), SigningError> {
    let mut fields: Vec<Field> = Vec::new();
    // Raw values, normalized once the field is complete.
    let mut raw: Vec<Vec<u8>> = Vec::new();
    let mut rest = article;
    while !rest.is_empty() {
        let (line, next) = match rest.iter().position(|&b| b == b'\n') {
            Some(i) => (&rest[..i], &rest[i + 1..]),
            None => (rest, &rest[rest.len()..]),
        };
        rest = next;
        if line.strip_suffix(b"\r").unwrap_or(line).is_empty() {
            break;
        }
        if matches!(line[0], b' ' | b'\t') {
            raw.last_mut()
                .ok_or(SigningError::ContinuationFirst)?
                .extend_from_slice(line);
            continue;
        }
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            return Err(SigningError::HeaderWithoutColon(
                String::from_utf8_lossy(line).into_owned(),
            ));
        };
        fields.push(Field {
            lname: line[..colon].to_ascii_lowercase(),
            value: Vec::new(),
        });
        raw.push(line[colon + 1..].to_vec());
    }
    for (field, raw) in fields.iter_mut().zip(raw) {
        field.value = normalize(&raw);
    }
    Ok((fields, rest))
}

/// §2.2: CR and LF removed, runs of SP / HTAB made one SP, leading and
/// trailing SP removed.
fn normalize(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len());
    let mut in_blank = false;
    for &b in raw.iter().filter(|&&b| b != b'\r' && b != b'\n') {
        if b == b' ' || b == b'\t' {
            in_blank = true;
            continue;
        }
        if in_blank && !out.is_empty() {
            out.push(b' ');
        }
        in_blank = false;
        out.push(b);
    }
    out
}

/// §2.4: every line ends in CRLF (a bare LF is a line end too), trailing
/// empty lines dropped, all other bytes kept.
fn canonical_body(body: &[u8]) -> Vec<u8> {
    let mut lines: Vec<&[u8]> = body
        .split(|&b| b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
        .collect();
    while lines.last().is_some_and(|l| l.is_empty()) {
        lines.pop();
    }
    let mut out = Vec::with_capacity(body.len() + lines.len());
    for line in lines {
        out.extend_from_slice(line);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// Whether the last dot-separated component of the Message-ID's left part
/// is `key_hex` (§3).
pub fn msgid_names_key(msgid: &str, key_hex: &str) -> bool {
    let inner = msgid.trim_start_matches('<').trim_end_matches('>');
    inner
        .split_once('@')
        .and_then(|(left, _)| left.rsplit('.').next())
        .is_some_and(|last| last == key_hex)
}

/// Whether the Message-ID names a key at all (§3): the last dot-separated
/// component of its left part is 64 hex digits, in either case. One that
/// does not is free, for node keys only.
pub fn msgid_names_a_key(msgid: &str) -> bool {
    let inner = msgid.trim_start_matches('<').trim_end_matches('>');
    inner
        .rsplit_once('@')
        .and_then(|(left, _)| left.rsplit('.').next())
        .is_some_and(|last| last.len() == 64 && last.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// `msgid` with `.{key_hex}` inserted before the `@`: how a signing node
/// binds a Message-ID a client chose (§4), and how the suite names a key
/// in one.
pub fn bind_msgid(msgid: &str, key_hex: &str) -> String {
    match msgid.split_once('@') {
        Some((left, right)) => format!("{left}.{key_hex}@{right}"),
        None => msgid.to_string(),
    }
}

/// An ed25519 secret key, for signing the suite's articles.
#[derive(Clone)]
pub struct Signer {
    key: SigningKey,
}

impl fmt::Debug for Signer {
    /// Shows the public key only, so a debug print never leaks the secret.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Signer")
            .field("public", &self.public_hex())
            .finish()
    }
}

impl Signer {
    /// A key file: 64 hex digits of the secret key, then a newline.
    pub fn from_file(path: &Path) -> Result<Signer, SigningError> {
        let err = |reason: String| SigningError::KeyFile {
            path: path.display().to_string(),
            reason,
        };
        let text = fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
        Signer::from_hex(text.trim_end()).map_err(err)
    }

    /// 64 hex digits of a secret key.
    pub fn from_hex(text: &str) -> Result<Signer, String> {
        if text.len() != 64 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err("expected 64 hex digits of an ed25519 secret key".to_string());
        }
        let mut secret = [0u8; 32];
        hex::decode_to_slice(text, &mut secret).map_err(|e| e.to_string())?;
        Ok(Signer::from_bytes(&secret))
    }

    pub fn from_bytes(secret: &[u8; 32]) -> Signer {
        Signer {
            key: SigningKey::from_bytes(secret),
        }
    }

    /// A key made up for this run, which no server can have configured:
    /// for signatures that must not verify under anyone's key. Seeded from
    /// std's per-process hash keys and the clock, which is unpredictable
    /// enough for that and keeps the suite free of an RNG dependency; it
    /// is no key to keep.
    pub fn throwaway() -> Signer {
        let state = RandomState::new();
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let mut secret = [0u8; 32];
        for (i, chunk) in secret.chunks_mut(8).enumerate() {
            chunk.copy_from_slice(&state.hash_one((nanos, i)).to_le_bytes());
        }
        Signer::from_bytes(&secret)
    }

    /// The public key in lowercase hex, as Message-IDs and the signature
    /// header carry it.
    pub fn public_hex(&self) -> String {
        hex::encode(self.key.verifying_key().as_bytes())
    }

    /// The signature of `bytes`, in hex.
    pub fn sign_bytes(&self, bytes: &[u8]) -> String {
        hex::encode(self.key.sign(bytes).to_bytes())
    }

    /// `article` with a Tidings-Signature over its canonical bytes,
    /// replacing any it had.
    pub fn sign(&self, article: &Article) -> Result<Article, SigningError> {
        let bytes = canonical(&article.to_bytes())?;
        let value = format!(
            "{ALGORITHM} {} {}",
            self.public_hex(),
            self.sign_bytes(&bytes)
        );
        Ok(article.clone().with(HEADER, &value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn vectors_dir() -> PathBuf {
        // Where cargo runs the test from (a shared target directory may
        // hold a binary built in another checkout).
        std::env::var_os("CARGO_MANIFEST_DIR")
            .map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")), PathBuf::from)
            .join("../protocol-spec/vectors/signing")
    }

    /// RFC 8032 §7.1, TEST 1: a known secret key, its public key, and the
    /// signature of the empty message.
    #[test]
    fn rfc8032_test_1() {
        let s =
            Signer::from_hex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
                .unwrap();
        assert_eq!(
            s.public_hex(),
            "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"
        );
        assert_eq!(
            s.sign_bytes(b""),
            "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"
        );
    }

    #[test]
    fn throwaway_keys_differ() {
        assert_ne!(
            Signer::throwaway().public_hex(),
            Signer::throwaway().public_hex()
        );
    }

    #[test]
    fn key_text_must_be_64_hex_digits() {
        assert!(Signer::from_hex(&"ab".repeat(32)).is_ok());
        assert!(Signer::from_hex(&"AB".repeat(32)).is_ok());
        for bad in ["", "ab", &"ab".repeat(33), &"zz".repeat(32)] {
            assert!(Signer::from_hex(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn canonical_form_by_hand() {
        let article =
            b"Path: a!b\r\nSubject:  two\t  words \r\n\tfolded\r\nfrom: X\r\nXref: h g:1\r\n\
              X-A: 2\r\nx-a: 1\r\nTidings-Signature: whatever\r\n\r\nbody  \r\n\r\n\r\n";
        let want = b"tidings-signature-v1\r\nfrom:X\r\nsubject:two words folded\r\n\
              x-a:2\r\nx-a:1\r\n\r\nbody  \r\n";
        assert_eq!(
            String::from_utf8_lossy(&canonical(article).unwrap()),
            String::from_utf8_lossy(want)
        );
    }

    #[test]
    fn relay_changes_keep_canonical_bytes() {
        let base = "Path: me!not-for-mail\nFrom: A <a@b>\nSubject: one two\nNewsgroups: g\n\n\
                    .dot\nline\n";
        let want = canonical(base.as_bytes()).unwrap();
        let relayed = [
            // CRLF line endings and trailing empty lines.
            base.replace('\n', "\r\n") + "\r\n\r\n",
            // Path prepended, Xref added, headers reordered and refolded.
            "Xref: x g:1\nNewsgroups:   g\nPath: relay!me!not-for-mail\nSubject: one\n two\n\
             From:\tA <a@b>\n\n.dot\nline"
                .to_string(),
        ];
        for r in relayed {
            assert_eq!(canonical(r.as_bytes()).unwrap(), want, "{r:?}");
        }
        let changed = [
            base.replace("line\n", "line \n"),
            base.replace("one two", "one  two!"),
            base.replace("\n\n.dot", "\nX-New: 1\n\n.dot"),
            base.replace("\n.dot", "\n\n.dot"),
        ];
        for c in changed {
            assert_ne!(canonical(c.as_bytes()).unwrap(), want, "{c:?}");
        }
    }

    #[test]
    fn malformed_headers_are_errors() {
        assert_eq!(
            canonical(b" leading: x\n\nbody\n").err(),
            Some(SigningError::ContinuationFirst)
        );
        assert!(matches!(
            canonical(b"A: 1\nno colon\n\nbody\n"),
            Err(SigningError::HeaderWithoutColon(_))
        ));
        // No empty line: all header, empty body.
        assert_eq!(
            canonical(b"A: 1").unwrap(),
            b"tidings-signature-v1\r\na:1\r\n\r\n".to_vec()
        );
    }

    #[test]
    fn sign_then_verify_round_trip() {
        let s = Signer::from_bytes(&[7; 32]);
        let key = s.public_hex();
        let id = format!("<conf.1.{key}@conformance.test>");
        assert!(msgid_names_key(&id, &key));
        let a = s.sign(&Article::for_transit(&id, "conf.test")).unwrap();
        assert_eq!(verify(&a.to_bytes()), Ok(key.clone()));

        // A relay: Path prepended, headers reordered, one refolded.
        let mut relayed = a.clone().with("Path", "relay!conformance!not-for-mail");
        relayed.headers.reverse();
        let subject = relayed.header("Subject").unwrap().to_string();
        let (w1, w2) = subject.split_once(' ').unwrap();
        let relayed = relayed.with("Subject", &format!("{w1}\r\n\t{w2}"));
        assert_eq!(verify(&relayed.to_bytes()), Ok(key.clone()));

        // Signing is deterministic, and re-signing replaces the header.
        assert_eq!(s.sign(&a).unwrap(), a);

        let mut tampered = a.clone();
        tampered.body[0].push('!');
        assert_eq!(
            verify(&tampered.to_bytes()),
            Err(SigningError::BadSignature)
        );
        let doubled = a
            .clone()
            .with_raw_header(&format!("{HEADER}: {}", a.header(HEADER).unwrap()));
        assert_eq!(
            verify(&doubled.to_bytes()),
            Err(SigningError::TwoSignatures)
        );
        assert_eq!(
            verify(&a.clone().without(HEADER).to_bytes()),
            Err(SigningError::NoSignature)
        );
        let upper = a
            .clone()
            .with(HEADER, &a.header(HEADER).unwrap().to_uppercase());
        assert!(matches!(
            verify(&upper.to_bytes()),
            Err(SigningError::MalformedSignature(_))
        ));
    }

    #[test]
    fn message_id_binding() {
        let k = "ab".repeat(32);
        assert!(msgid_names_key(&format!("<x.{k}@h>"), &k));
        assert!(msgid_names_key(&format!("<{k}@h>"), &k));
        assert!(!msgid_names_key(&format!("<{k}.x@h>"), &k));
        assert!(!msgid_names_key(&format!("<x@{k}>"), &k));
        assert!(!msgid_names_key(&format!("<x.{}@h>", k.to_uppercase()), &k));
        assert!(!msgid_names_key("<x@h>", &k));
        assert!(msgid_names_a_key(&format!("<x.{k}@h>")));
        assert!(msgid_names_a_key(&format!("<x.{}@h>", k.to_uppercase())));
        assert!(msgid_names_a_key(&format!("<{k}@h>")));
        assert!(!msgid_names_a_key("<x@h>"));
        assert!(!msgid_names_a_key(&format!("<{k}.x@h>")));
        assert!(!msgid_names_a_key(&format!("<x@{k}>")));
        let bound = bind_msgid("<abc@host>", &k);
        assert_eq!(bound, format!("<abc.{k}@host>"));
        assert!(msgid_names_key(&bound, &k));
    }

    /// protocol-spec/vectors/signing (see its README): canonical bytes,
    /// deterministic signatures and verification must all agree with the
    /// server's. Skipped when the vectors are not in the tree.
    #[test]
    fn spec_vectors() {
        let dir = vectors_dir();
        let Ok(secret) = fs::read_to_string(dir.join("key.secret")) else {
            eprintln!("no signing vectors at {}; skipped", dir.display());
            return;
        };
        let signer = Signer::from_hex(secret.trim_end()).unwrap();
        let public = fs::read_to_string(dir.join("key.public")).unwrap();
        assert_eq!(signer.public_hex(), public.trim_end());
        let mut names: Vec<String> = fs::read_dir(&dir)
            .unwrap()
            .filter_map(|e| {
                let name = e.ok()?.file_name().into_string().ok()?;
                name.strip_suffix(".article").map(str::to_string)
            })
            .collect();
        names.sort();
        assert!(!names.is_empty(), "no *.article in {}", dir.display());
        for name in names {
            let read = |ext: &str| fs::read(dir.join(format!("{name}.{ext}"))).unwrap();
            let article = read("article");
            let want = read("canonical");
            let got = canonical(&article).unwrap();
            assert_eq!(
                String::from_utf8_lossy(&got),
                String::from_utf8_lossy(&want),
                "{name}: canonical bytes"
            );
            let signature = String::from_utf8(read("signature")).unwrap();
            assert_eq!(
                signer.sign_bytes(&want),
                signature.trim_end(),
                "{name}: signature"
            );
            assert_eq!(verify(&article), Ok(signer.public_hex()), "{name}");
            // The same article in CRLF form must give the same bytes.
            let text = String::from_utf8(article).unwrap();
            let crlf = text.replace("\r\n", "\n").replace('\n', "\r\n");
            assert_eq!(canonical(crlf.as_bytes()).unwrap(), want, "{name}: CRLF");
        }
    }
}

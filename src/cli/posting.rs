//! The user's side of signing: `keygen`, `sign`, `verify` and `post`. Each
//! works on one article through stdin and stdout so they compose in shell
//! pipelines; the signing rules themselves live in `proto::signing`, so what
//! these tools produce is exactly what a node checks.
//!
//! Articles are read with LF or CRLF line endings (a file from an editor or
//! a mail client) and written with LF, the form Unix tools expect; the
//! signature covers a canonical form that does not depend on either.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use bytes::Bytes;
use ed25519_dalek::SigningKey;

use tidings::client::{blocking, ClientError, Command, Response};
use tidings::keys;
use tidings::proto::article::Article;
use tidings::proto::audience;
use tidings::proto::signing;
use tidings::proto::Code;

/// Domain on the right of Message-IDs we make when the user names none:
/// `.invalid` (RFC 2606) can never collide with a real host's IDs.
pub const DEFAULT_DOMAIN: &str = "tidings.invalid";

/// Far above any article a node accepts, but bounds what a mistaken pipe
/// (a disk image on stdin) can make us buffer.
const MAX_INPUT: u64 = 16 << 20;

/// Every network step of `post`; a silent server must not hang a script.
const NET_TIMEOUT: Duration = Duration::from_secs(30);

/// `tidings keygen`: a new secret key file (mode 0600) and its public key
/// on stdout, in the form a node's configuration takes.
pub fn keygen(out: &Path) -> Result<()> {
    // write_new_secret_key refuses to overwrite too (create_new); checking
    // first only gives the user a clearer message.
    if out.exists() {
        bail!(
            "{} already exists; refusing to overwrite a key",
            out.display()
        );
    }
    let key = keys::write_new_secret_key(out)?;
    write_stdout(format!("{}\n", signing::key_hex(&key.verifying_key())).as_bytes())
}

/// `tidings sign`: the article on stdin, signed, on stdout.
pub fn sign(key_file: &Path, domain: &str) -> Result<()> {
    let key = read_key(key_file)?;
    let input = read_stdin()?;
    let signed = sign_article(&to_crlf(&input), &key, domain)?;
    write_stdout(&to_lf(&signed))
}

/// `tidings verify`: succeeds only when the article on stdin carries a valid
/// signature bound to its Message-ID.
pub fn verify() -> Result<()> {
    let input = read_stdin()?;
    let article = parse(&to_crlf(&input))?;
    let key = signing::verify(&article).map_err(|e| anyhow!("invalid: {e}"))?;
    eprintln!("valid: signed by {}", signing::key_hex(&key));
    Ok(())
}

/// What `tidings post` needs besides the body on stdin.
#[derive(clap::Args)]
pub struct Post {
    #[arg(long, value_name = "HOST:PORT")]
    pub server: String,
    #[arg(long, value_name = "FILE")]
    pub key: PathBuf,
    #[arg(long)]
    pub group: String,
    #[arg(long)]
    pub subject: String,
    /// Default: "tidings user <KEYPREFIX@tidings.invalid>".
    #[arg(long, value_name = "NAME <ADDR>")]
    pub from: Option<String>,
    /// Message-IDs this article follows up, space separated.
    #[arg(long, value_name = "IDS")]
    pub references: Option<String>,
    /// Make it a control message, e.g. "passport <key hex>" signed with
    /// the node key, or "cancel <message-id>" with the author's key.
    #[arg(long, value_name = "COMMAND")]
    pub control: Option<String>,
    /// Make it an edit replacing this Message-ID.
    #[arg(long, value_name = "MESSAGE-ID")]
    pub supersedes: Option<String>,
    /// Protect it for an audience, "<owner key hex> <name>": only nodes
    /// and readers holding a grant of it keep and see it
    /// (protocol-spec/access.md §7).
    #[arg(long, value_name = "OWNER NAME")]
    pub audience: Option<String>,
    /// Right part of the Message-ID made for the article.
    #[arg(long, default_value = DEFAULT_DOMAIN)]
    pub domain: String,
}

/// `tidings post`: builds an article around the body on stdin, signs it
/// as `sign` does and POSTs it; prints the Message-ID.
pub fn post(request: &Post) -> Result<()> {
    let key = read_key(&request.key)?;
    let body = read_stdin()?;
    let draft = draft(request, &key, &to_crlf(&body))?;
    let signed = sign_article(&draft, &key, &request.domain)?;
    let id = parse(&signed)?
        .message_id()
        .ok_or_else(|| anyhow!("signed article lost its Message-ID"))?;
    nntp_post(&request.server, &signed)?;
    let mut line = id;
    line.push(b'\n');
    write_stdout(&line)
}

fn read_key(path: &Path) -> Result<SigningKey> {
    Ok(keys::read_secret_key(path)?)
}

fn read_stdin() -> Result<Vec<u8>> {
    let mut input = Vec::new();
    std::io::stdin()
        .lock()
        .take(MAX_INPUT + 1)
        .read_to_end(&mut input)
        .context("cannot read stdin")?;
    if input.len() as u64 > MAX_INPUT {
        bail!("input is larger than {MAX_INPUT} octets");
    }
    Ok(input)
}

fn write_stdout(bytes: &[u8]) -> Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(bytes)
        .and_then(|()| out.flush())
        .context("cannot write stdout")
}

/// Every line ended by CRLF, whatever it ended with before (a missing final
/// newline included), as `Article::parse` expects.
fn to_crlf(input: &[u8]) -> Vec<u8> {
    relined(input, b"\r\n")
}

fn to_lf(input: &[u8]) -> Vec<u8> {
    relined(input, b"\n")
}

fn relined(input: &[u8], ending: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len() + input.len() / 16 + 2);
    for line in input.split_inclusive(|&b| b == b'\n') {
        let content = line.strip_suffix(b"\n").unwrap_or(line);
        let content = content.strip_suffix(b"\r").unwrap_or(content);
        out.extend_from_slice(content);
        out.extend_from_slice(ending);
    }
    out
}

fn parse(crlf: &[u8]) -> Result<Article> {
    Article::parse(Bytes::copy_from_slice(crlf)).map_err(|e| anyhow!("unparsable article: {e}"))
}

/// Adds a Message-ID bound to `key` and a Date when missing, then signs.
/// An existing Message-ID that names another key is refused: rewriting it
/// would silently change the article's identity (and break its threads).
fn sign_article(crlf: &[u8], key: &SigningKey, domain: &str) -> Result<Bytes> {
    let article = parse(crlf)?;
    let mut added: Vec<(&str, String)> = Vec::new();
    match article.message_id() {
        None => added.push(("Message-ID", new_message_id(key, domain)?)),
        Some(id) if signing::message_id_key(&id) != Some(key.verifying_key()) => {
            let hex = signing::key_hex(&key.verifying_key());
            bail!(
                "Message-ID {} does not name this key: its left part must end in .{hex} \
                 (remove the Message-ID header to have one made)",
                String::from_utf8_lossy(&id)
            );
        }
        Some(_) => {}
    }
    if article.header("Date").is_none() {
        added.push(("Date", chrono::Utc::now().to_rfc2822()));
    }
    let article = with_headers(&article, &added)?;
    signing::sign(&article, key).map_err(|e| anyhow!("cannot sign: {e}"))
}

/// `<hex micros>.<8 random bytes hex>.<key>@domain`, as the node makes them.
fn new_message_id(key: &SigningKey, domain: &str) -> Result<String> {
    if domain.is_empty()
        || !domain
            .bytes()
            .all(|b| b.is_ascii_graphic() && !b"<>@".contains(&b))
    {
        bail!("domain {domain:?} cannot be the right part of a Message-ID");
    }
    let unique = tidings::ingest::rewrite::unique(chrono::Utc::now());
    let id = signing::new_message_id(&key.verifying_key(), &unique, domain);
    String::from_utf8(id).context("Message-ID is not UTF-8")
}

/// The article with `added` fields after its own, checked against the
/// RFC 5536 rules so we never sign something a node would refuse on form.
fn with_headers(article: &Article, added: &[(&str, String)]) -> Result<Article> {
    let mut raw = article.head().to_vec();
    for (name, value) in added {
        raw.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
    }
    raw.extend_from_slice(b"\r\n");
    raw.extend_from_slice(&article.body());
    let article = parse(&raw)?;
    article
        .check(&[])
        .map_err(|e| anyhow!("unparsable article: {e}"))?;
    Ok(article)
}

/// The unsigned article `post` sends: our headers, then the body.
fn draft(request: &Post, key: &SigningKey, body: &[u8]) -> Result<Vec<u8>> {
    let prefix: String = signing::key_hex(&key.verifying_key())
        .chars()
        .take(8)
        .collect();
    let from = match &request.from {
        Some(from) => from.clone(),
        None => format!("tidings user <{prefix}@{DEFAULT_DOMAIN}>"),
    };
    let mut fields = vec![
        ("From", from.as_str()),
        ("Newsgroups", request.group.as_str()),
        ("Subject", request.subject.as_str()),
    ];
    for (name, value) in [
        ("References", &request.references),
        ("Control", &request.control),
        ("Supersedes", &request.supersedes),
        (audience::HEADER, &request.audience),
    ] {
        if let Some(value) = value {
            fields.push((name, value.as_str()));
        }
    }
    let mut raw = Vec::with_capacity(body.len() + 512);
    for (name, value) in fields {
        // A CR or LF in a value would let an argument add header fields.
        if value.contains(['\r', '\n']) {
            bail!("{name} must be a single line");
        }
        raw.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
    }
    raw.extend_from_slice(b"\r\n");
    raw.extend_from_slice(body);
    Ok(raw)
}

/// POST over plain NNTP (RFC 3977 §6.3.1): greeting, POST, 340, the
/// dot-stuffed article, 240, QUIT.
fn nntp_post(server: &str, article: &[u8]) -> Result<()> {
    let mut conn = blocking::Client::connect(server, NET_TIMEOUT)
        .with_context(|| format!("cannot connect to {server}"))?;
    let ready = [Code::READY_POSTING, Code::READY_NO_POSTING];
    expect(server, "greeting", conn.response(), &ready)?;
    conn.command(&Command::Post)
        .with_context(|| format!("cannot write to {server}"))?;
    expect(server, "POST", conn.response(), &[Code::POST_SEND])?;
    conn.data(article)
        .with_context(|| format!("cannot write to {server}"))?;
    expect(server, "the article", conn.response(), &[Code::POST_OK])?;
    // The article is stored; a QUIT that goes wrong changes nothing.
    let _ = conn.quit();
    Ok(())
}

/// Fails, quoting the reply, unless its code is one of `codes`.
fn expect(
    server: &str,
    after: &str,
    reply: Result<Response, ClientError>,
    codes: &[Code],
) -> Result<()> {
    match reply {
        Ok(reply) if codes.contains(&reply.code) => Ok(()),
        Ok(reply) => bail!("{server} refused {after}: {reply}"),
        Err(ClientError::Closed) => {
            bail!("{server} closed the connection instead of answering {after}")
        }
        Err(e) => Err(e).with_context(|| format!("no reply from {server} to {after}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_endings() {
        assert_eq!(to_crlf(b"a\nb\r\nc"), b"a\r\nb\r\nc\r\n");
        assert_eq!(to_crlf(b""), b"");
        assert_eq!(to_lf(b"a\r\n\r\nb\r\n"), b"a\n\nb\n");
    }

    #[test]
    fn signs_and_binds() {
        let key = SigningKey::from_bytes(&[9; 32]);
        let signed =
            sign_article(b"Subject: s\r\n\r\nbody\r\n", &key, DEFAULT_DOMAIN).expect("signs");
        let article = Article::parse(signed).expect("parses");
        assert_eq!(signing::verify(&article), Ok(key.verifying_key()));
        assert!(article.header("Date").is_some());
        let foreign = sign_article(b"Message-ID: <a@b>\r\n\r\nx\r\n", &key, DEFAULT_DOMAIN);
        assert!(foreign.is_err());
        assert!(sign_article(b"Subject: s\r\n\r\n", &key, "a\r\nX: y").is_err());
    }
}

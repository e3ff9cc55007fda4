//! Header work on articles: what an injecting agent adds before signing,
//! what every accepting node changes after (Path, Xref), and the overview
//! record readers get.

use bytes::{BufMut, Bytes, BytesMut};
use chrono::{DateTime, Utc};
use ed25519_dalek::VerifyingKey;

use crate::proto::article::Article;
use crate::proto::signing;

fn put_header(out: &mut BytesMut, name: &str, value: &[u8]) {
    out.put_slice(name.as_bytes());
    out.put_slice(b": ");
    out.put_slice(value);
    out.put_slice(b"\r\n");
}

/// For an unsigned POST: the headers the injecting node supplies before it
/// signs with its own key (RFC 5537 §3.5). The poster's fields are kept as
/// they are, Message-ID included; a missing Message-ID is made bound to
/// `key` (protocol-spec/signing.md §3), a missing Date is added, and
/// Injection-Info is always added (the injection rules refused a post that
/// carried one or an Injection-Date). Injection-Date is added only when
/// the post lacked Message-ID or Date: one with both may have been handed
/// to several injectors at once, and they must not make copies that differ
/// (RFC 5537 §3.4, as INN's `addinjectiondate` does).
pub fn complete_post(
    article: &Article,
    key: &VerifyingKey,
    node: &str,
    now: DateTime<Utc>,
) -> Bytes {
    let raw = article.raw();
    let mut out = BytesMut::with_capacity(raw.len() + 256);
    out.put_slice(&raw[..article.head().len()]);
    let (has_id, has_date) = (
        article.message_id().is_some(),
        article.header("Date").is_some(),
    );
    if !has_id {
        put_header(
            &mut out,
            "Message-ID",
            &signing::new_message_id(key, &unique(now), node),
        );
    }
    let date = now.to_rfc2822().into_bytes();
    if !has_date {
        put_header(&mut out, "Date", &date);
    }
    if !(has_id && has_date) {
        put_header(&mut out, "Injection-Date", &date);
    }
    // The path identity alone: posting-host would publish the poster's
    // address to every node of the network; the operator's log has it.
    put_header(&mut out, "Injection-Info", node.as_bytes());
    out.put_slice(b"\r\n");
    out.put_slice(&article.body());
    out.freeze()
}

/// A locally unique token for new Message-IDs: the time orders one key's
/// IDs, eight random bytes keep two made in one microsecond apart.
pub fn unique(now: DateTime<Utc>) -> String {
    let mut random = [0u8; 8];
    // Without the OS RNG the timestamp and a counter still keep IDs unique.
    if getrandom::getrandom(&mut random).is_err() {
        static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        random = COUNTER
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            .to_be_bytes();
    }
    format!("{:x}.{}", now.timestamp_micros(), hex::encode(random))
}

/// The stored form: Path first with our identity prepended (RFC 5537
/// §3.2.1; after POST with `.POSTED`, §3.4), Xref dropped (numbers are per
/// server). Neither is signed, so the signature still holds.
pub fn rewrite(article: &Article, node: &str, injecting: bool) -> Bytes {
    let raw = article.raw();
    let mut out = BytesMut::with_capacity(raw.len() + node.len() + 16);
    out.put_slice(b"Path: ");
    out.put_slice(node.as_bytes());
    match (article.header_unfolded("Path"), injecting) {
        (Some(path), false) => {
            out.put_u8(b'!');
            out.put_slice(&path);
        }
        (Some(path), true) => {
            out.put_slice(b"!.POSTED!");
            out.put_slice(&path);
        }
        (None, _) => out.put_slice(b"!.POSTED!not-for-mail"),
    }
    out.put_slice(b"\r\n");
    for (name, span) in article.field_spans() {
        if !name.eq_ignore_ascii_case(b"Path") && !name.eq_ignore_ascii_case(b"Xref") {
            out.put_slice(&raw[span]);
        }
    }
    out.put_slice(b"\r\n");
    out.put_slice(&article.body());
    out.freeze()
}

pub use crate::proto::article::path_contains;

/// The overview fields after the article number (RFC 3977 §8.3): Subject,
/// From, Date, Message-ID, References, :bytes, :lines.
pub fn overview_record(article: &Article) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    for (i, name) in ["Subject", "From", "Date", "Message-ID", "References"]
        .iter()
        .enumerate()
    {
        if i > 0 {
            out.push(b'\t');
        }
        if let Some(value) = article.header_unfolded(name) {
            // TAB, CR and LF would break the record (RFC 3977 §8.3.2).
            out.extend(value.iter().map(|&b| {
                if b == b'\t' || b == b'\r' || b == b'\n' {
                    b' '
                } else {
                    b
                }
            }));
        }
    }
    out.extend_from_slice(
        format!("\t{}\t{}", article.raw().len(), article.body_lines()).as_bytes(),
    );
    out
}

/// The Message-ID field of an overview record.
pub fn overview_message_id(record: &[u8]) -> Option<&[u8]> {
    record.split(|&b| b == b'\t').nth(3)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::SigningKey;

    fn parse(text: &[u8]) -> Article {
        Article::parse(Bytes::copy_from_slice(text)).expect("parses")
    }

    #[test]
    fn complete_post_keeps_the_posters_fields() {
        let key = SigningKey::from_bytes(&[9; 32]).verifying_key();
        let now = Utc::now();
        let fresh = parse(&complete_post(
            &parse(b"From: a@b\r\nSubject: s\r\n\r\nx\r\n"),
            &key,
            "host",
            now,
        ));
        let id = fresh.message_id().expect("added");
        assert_eq!(signing::message_id_key(&id), Some(key));
        assert!(id.ends_with(b"@host>"));
        assert!(fresh.header("Date").is_some() && fresh.header("Injection-Date").is_some());
        assert_eq!(fresh.header("Injection-Info"), Some(&b"host"[..]));
        assert_eq!(&fresh.body()[..], b"x\r\n");
        let chosen =
            b"Message-ID: <mine@client>\r\nDate: Sun, 22 Nov 2026 04:20:54 +0000\r\n\r\nx\r\n";
        let completed = complete_post(&parse(chosen), &key, "host", now);
        let text = String::from_utf8(completed.to_vec()).unwrap();
        assert_eq!(
            text,
            "Message-ID: <mine@client>\r\nDate: Sun, 22 Nov 2026 04:20:54 +0000\r\nInjection-Info: host\r\n\r\nx\r\n",
            "with its own Message-ID and Date, a post gets no Injection-Date"
        );
        assert_eq!(parse(&completed).count("Message-ID"), 1);
    }

    #[test]
    fn rewrite_prepends_path_and_drops_xref() {
        let a = parse(b"Subject: s\r\nPath: far!not-for-mail\r\nXref: far a:1\r\n\r\nbody\r\n");
        let out = String::from_utf8(rewrite(&a, "here", false).to_vec()).unwrap();
        assert_eq!(
            out,
            "Path: here!far!not-for-mail\r\nSubject: s\r\n\r\nbody\r\n"
        );
        let posted =
            String::from_utf8(rewrite(&parse(b"Subject: s\r\n\r\n"), "here", true).to_vec())
                .unwrap();
        assert!(posted.starts_with("Path: here!.POSTED!not-for-mail\r\n"));
    }

    #[test]
    fn overview_replaces_tabs() {
        let a = parse(b"Subject: a\tb\r\n c\r\nMessage-ID: <m@x>\r\n\r\nl1\r\nl2\r\n");
        let record = String::from_utf8(overview_record(&a)).unwrap();
        let fields: Vec<&str> = record.split('\t').collect();
        assert_eq!(fields, vec!["a b c", "", "", "<m@x>", "", "47", "2"]);
        assert_eq!(overview_message_id(record.as_bytes()), Some(&b"<m@x>"[..]));
    }
}

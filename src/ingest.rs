//! Ingest decides what happens to an offered article before anything is
//! written: parse, apply the RFC 5536 rules, pick the groups we carry, and
//! build the bytes we store (Path extended, server headers added). It is
//! pure: the committer does the writing.

use bytes::{BufMut, Bytes, BytesMut};
use chrono::{DateTime, Utc};

use crate::groups::Groups;
use crate::proto::article::{self, Article};
use crate::store::commit::Prepared;

/// How the article reached us.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// POST from a reader: we are the injecting agent (RFC 5537 §3.4).
    Post,
    /// IHAVE or TAKETHIS from another server, naming this Message-ID
    /// (RFC 5537 §3.5, relaying).
    Transit { offered_id: Vec<u8> },
}

/// Why an article was refused. The reason goes to the client as-is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    pub reason: String,
    /// Set when the refusal is a property of the article itself, so its
    /// Message-ID should be remembered in history and refused at once next
    /// time. Never set for POST: a poster fixes the article and retries.
    pub remember: Option<Vec<u8>>,
}

pub struct Ingest<'a> {
    /// Our Path identity.
    pub node: &'a str,
    pub groups: &'a Groups,
    pub now: DateTime<Utc>,
}

impl Ingest<'_> {
    pub fn prepare(&self, raw: Bytes, source: &Source) -> Result<Prepared, Rejection> {
        let transit_id = match source {
            Source::Transit { offered_id } => Some(offered_id.as_slice()),
            Source::Post => None,
        };
        // Only an article whose Message-ID matches what was offered may be
        // remembered as junk: otherwise anyone could poison an ID by
        // offering it with a broken article under a different header.
        let remember = |reason: String, article: Option<&Article>| {
            let id = article.and_then(Article::message_id);
            let remember = match (transit_id, id) {
                (Some(offered), Some(id)) if offered == id.as_slice() => Some(id),
                _ => None,
            };
            Rejection { reason, remember }
        };
        let article = Article::parse(raw).map_err(|e| remember(e.to_string(), None))?;
        let required = if transit_id.is_some() {
            article::TRANSIT_REQUIRED
        } else {
            article::POST_REQUIRED
        };
        article
            .check(required)
            .map_err(|e| remember(e.to_string(), Some(&article)))?;

        if let (Some(offered), Some(id)) = (transit_id, article.message_id()) {
            if offered != id.as_slice() {
                return Err(Rejection {
                    reason: format!(
                        "Message-ID header {} does not match the offered {}",
                        String::from_utf8_lossy(&id),
                        String::from_utf8_lossy(offered)
                    ),
                    remember: None,
                });
            }
        }

        let named = article.newsgroups();
        let carried: Vec<String> = named
            .iter()
            .filter_map(|g| std::str::from_utf8(g).ok())
            .filter(|g| self.groups.contains(g))
            .map(str::to_string)
            .collect();
        if transit_id.is_none() {
            if let Some(unknown) = named
                .iter()
                .find(|g| !std::str::from_utf8(g).is_ok_and(|g| self.groups.contains(g)))
            {
                return Err(Rejection {
                    reason: format!(
                        "newsgroup {} is not carried here",
                        String::from_utf8_lossy(unknown)
                    ),
                    remember: None,
                });
            }
        } else if carried.is_empty() {
            return Err(remember(
                "none of its newsgroups is carried here".into(),
                Some(&article),
            ));
        }

        if let Some(path) = article.header_unfolded("Path") {
            if path_contains(&path, self.node.as_bytes()) {
                return Err(remember(
                    format!("Path already contains {}: loop", self.node),
                    Some(&article),
                ));
            }
        }

        let (bytes, message_id) = self.rewrite(&article, transit_id.is_none());
        let stored =
            Article::parse(bytes.clone()).map_err(|e| remember(e.to_string(), Some(&article)))?;
        let overview = overview_record(&stored);
        Ok(Prepared {
            message_id,
            bytes,
            groups: carried,
            overview,
        })
    }

    /// Builds the stored article: Path first with our identity prepended,
    /// Xref dropped (it is ours to make, per server), and for POST the
    /// headers an injecting agent supplies.
    fn rewrite(&self, article: &Article, injecting: bool) -> (Bytes, Vec<u8>) {
        let mut out = BytesMut::with_capacity(article.raw().len() + 256);
        let old_path = article.header_unfolded("Path");
        out.put_slice(b"Path: ");
        out.put_slice(self.node.as_bytes());
        match (&old_path, injecting) {
            (Some(path), false) => {
                out.put_u8(b'!');
                out.put_slice(path);
            }
            (Some(path), true) => {
                out.put_slice(b"!.POSTED!");
                out.put_slice(path);
            }
            (None, _) => out.put_slice(b"!.POSTED!not-for-mail"),
        }
        out.put_slice(b"\r\n");
        for (name, span) in article.field_spans() {
            if name.eq_ignore_ascii_case(b"Path") || name.eq_ignore_ascii_case(b"Xref") {
                continue;
            }
            out.put_slice(&article.raw()[span]);
        }
        let message_id = match article.message_id() {
            Some(id) => id,
            None => {
                let id = new_message_id(self.node, self.now);
                put_header(&mut out, "Message-ID", &id);
                id
            }
        };
        if injecting {
            let date = self.now.to_rfc2822().into_bytes();
            if article.header("Date").is_none() {
                put_header(&mut out, "Date", &date);
            }
            if article.header("Injection-Date").is_none() {
                put_header(&mut out, "Injection-Date", &date);
            }
        }
        out.put_slice(b"\r\n");
        out.put_slice(&article.body());
        (out.freeze(), message_id)
    }
}

fn put_header(out: &mut BytesMut, name: &str, value: &[u8]) {
    out.put_slice(name.as_bytes());
    out.put_slice(b": ");
    out.put_slice(value);
    out.put_slice(b"\r\n");
}

/// Path entries are separated by "!" (RFC 5537 §3.1.3).
pub fn path_contains(path: &[u8], node: &[u8]) -> bool {
    path.split(|&b| b == b'!')
        .any(|entry| entry.eq_ignore_ascii_case(node))
}

/// `<time.random@node>`: unique without coordination.
fn new_message_id(node: &str, now: DateTime<Utc>) -> Vec<u8> {
    let mut random = [0u8; 8];
    // Without the OS RNG the timestamp and a counter still keep IDs unique.
    if getrandom::getrandom(&mut random).is_err() {
        static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        random = COUNTER
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            .to_be_bytes();
    }
    format!(
        "<{:x}.{}@{node}>",
        now.timestamp_micros(),
        hex::encode(random)
    )
    .into_bytes()
}

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
    use crate::store::schema::GroupRecord;

    fn groups() -> Groups {
        Groups::new([("misc.test".to_string(), GroupRecord::new(0, String::new()))])
    }

    fn ingest(groups: &Groups) -> Ingest<'_> {
        Ingest {
            node: "here.example",
            groups,
            now: Utc::now(),
        }
    }

    const TRANSIT: &str = "Path: there.example!not-for-mail\r\nFrom: a@b\r\nNewsgroups: misc.test,other.group\r\nSubject: s\r\nDate: Sun, 22 Nov 2026 04:20:54 +0000\r\nMessage-ID: <t1@b>\r\nXref: there misc.test:5\r\n\r\nbody\r\n";

    fn transit(text: &str) -> Result<Prepared, Rejection> {
        let g = groups();
        ingest(&g).prepare(
            Bytes::copy_from_slice(text.as_bytes()),
            &Source::Transit {
                offered_id: b"<t1@b>".to_vec(),
            },
        )
    }

    #[test]
    fn transit_prepends_path_and_drops_xref() {
        let p = transit(TRANSIT).expect("accepted");
        let text = String::from_utf8(p.bytes.to_vec()).unwrap();
        assert!(
            text.starts_with("Path: here.example!there.example!not-for-mail\r\nFrom: a@b\r\n"),
            "{text}"
        );
        assert!(!text.contains("Xref"));
        assert!(text.ends_with("\r\n\r\nbody\r\n"));
        assert_eq!(p.groups, vec!["misc.test".to_string()]);
        assert_eq!(p.message_id, b"<t1@b>");
        assert_eq!(overview_message_id(&p.overview), Some(&b"<t1@b>"[..]));
    }

    #[test]
    fn transit_rejections() {
        let loop_ =
            transit(&TRANSIT.replace("there.example!", "there.example!here.example!")).unwrap_err();
        assert!(loop_.reason.contains("loop"));
        assert_eq!(loop_.remember, Some(b"<t1@b>".to_vec()));

        let mismatch = transit(&TRANSIT.replace("<t1@b>", "<other@b>")).unwrap_err();
        assert!(mismatch.reason.contains("does not match"));
        assert_eq!(
            mismatch.remember, None,
            "a mismatched id must not poison history"
        );

        let unwanted = transit(&TRANSIT.replace("misc.test,", "")).unwrap_err();
        assert!(unwanted.reason.contains("carried"));

        let missing =
            transit(&TRANSIT.replace("Date: Sun, 22 Nov 2026 04:20:54 +0000\r\n", "")).unwrap_err();
        assert!(missing.reason.contains("Date"));
        assert!(missing.remember.is_some());

        let garbage = transit("no colon\r\n\r\n").unwrap_err();
        assert_eq!(garbage.remember, None);
    }

    #[test]
    fn post_fills_in_server_headers() {
        let g = groups();
        let p = ingest(&g)
            .prepare(
                Bytes::from_static(
                    b"From: a@b\r\nNewsgroups: misc.test\r\nSubject: hi\r\n\r\nx\r\n",
                ),
                &Source::Post,
            )
            .expect("accepted");
        let a = Article::parse(p.bytes.clone()).unwrap();
        a.check(article::TRANSIT_REQUIRED)
            .expect("a posted article is a valid transit article");
        assert_eq!(
            a.header_unfolded("Path"),
            Some(b"here.example!.POSTED!not-for-mail".to_vec())
        );
        assert!(a.header("Injection-Date").is_some());
        assert_eq!(a.message_id(), Some(p.message_id.clone()));
        assert!(p.message_id.ends_with(b"@here.example>"));
    }

    #[test]
    fn post_to_unknown_group_is_refused() {
        let g = groups();
        let r = ingest(&g)
            .prepare(
                Bytes::from_static(
                    b"From: a@b\r\nNewsgroups: misc.test,nope\r\nSubject: hi\r\n\r\nx\r\n",
                ),
                &Source::Post,
            )
            .unwrap_err();
        assert!(r.reason.contains("nope"));
        assert_eq!(r.remember, None);
    }

    #[test]
    fn overview_replaces_tabs() {
        let a = Article::parse(Bytes::from_static(
            b"Subject: a\tb\r\n c\r\nMessage-ID: <m@x>\r\n\r\nl1\r\nl2\r\n",
        ))
        .unwrap();
        let record = String::from_utf8(overview_record(&a)).unwrap();
        let fields: Vec<&str> = record.split('\t').collect();
        assert_eq!(fields, vec!["a b c", "", "", "<m@x>", "", "47", "2"]);
    }
}

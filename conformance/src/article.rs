//! Test articles and unique Message-IDs. Every run makes fresh IDs, so the
//! suite can be run again and again against the same server, and one case's
//! article never collides with another's.

use std::process;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::clock;

/// Hands out `<conf.{unix_nanos}.{pid}.{counter}@conformance.test>`, or
/// with `.{key hex}` before the `@` for a server that binds Message-IDs to
/// signing keys (signing.md §3).
#[derive(Debug)]
pub struct MsgIds {
    stamp: u128,
    pid: u32,
    next: u64,
}

impl MsgIds {
    pub fn new() -> MsgIds {
        let stamp = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        MsgIds {
            stamp,
            pid: process::id(),
            next: 0,
        }
    }

    /// A new id, naming `key` (lowercase hex) when given.
    pub fn next_id(&mut self, key: Option<&str>) -> String {
        self.next += 1;
        let bound = key.map(|k| format!(".{k}")).unwrap_or_default();
        format!(
            "<conf.{}.{}.{}{bound}@conformance.test>",
            self.stamp, self.pid, self.next
        )
    }

    /// A token unique to this run, for names that must match nothing.
    pub fn run_token(&self) -> String {
        format!("{}x{}", self.stamp, self.pid)
    }
}

impl Default for MsgIds {
    fn default() -> Self {
        MsgIds::new()
    }
}

/// The body of every test article. The dotted lines check dot-stuffing in
/// both directions (RFC 3977 §3.1.1): the server must unstuff what we send
/// and stuff what it returns.
pub const BODY: &[&str] = &[
    "This article was sent by the tidings NNTP conformance suite.",
    ".This line begins with a dot.",
    "..This line begins with two dots.",
    ".",
    "",
    "The line above is empty; the one before it was a single dot.",
    "Last line.",
];

/// An article as header lines plus body lines, without CRLFs. Header lines
/// are kept raw so cases can build malformed ones on purpose.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Article {
    pub headers: Vec<String>,
    pub body: Vec<String>,
}

impl Article {
    /// An article fit for POST: From, Newsgroups, Subject, Date, Message-ID.
    pub fn for_post(msgid: &str, group: &str) -> Article {
        Article {
            headers: vec![
                "From: Conformance Suite <conformance@conformance.test>".to_string(),
                format!("Newsgroups: {group}"),
                format!("Subject: conformance {}", subject_token(msgid)),
                format!("Date: {}", clock::rfc5322(clock::now_secs())),
                format!("Message-ID: {msgid}"),
            ],
            body: BODY.iter().map(|s| s.to_string()).collect(),
        }
    }

    /// An article fit for IHAVE and TAKETHIS: a relayed article also carries
    /// a Path header.
    pub fn for_transit(msgid: &str, group: &str) -> Article {
        Article::for_post(msgid, group).with("Path", "conformance!not-for-mail")
    }

    /// The value of the first header named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find_map(|line| header_value(line, name))
    }

    /// Replaces every header named `name` with one `name: value`, or appends
    /// it.
    pub fn with(mut self, name: &str, value: &str) -> Article {
        let line = format!("{name}: {value}");
        // Everything before the first match survives the retain, so the
        // replacement keeps that header's position.
        let first = self
            .headers
            .iter()
            .position(|l| header_value(l, name).is_some());
        self.headers.retain(|l| header_value(l, name).is_none());
        match first {
            Some(i) => self.headers.insert(i, line),
            None => self.headers.push(line),
        }
        self
    }

    /// Drops every header named `name`.
    pub fn without(mut self, name: &str) -> Article {
        self.headers.retain(|l| header_value(l, name).is_none());
        self
    }

    /// Appends a header line exactly as given, colon or not.
    pub fn with_raw_header(mut self, line: &str) -> Article {
        self.headers.push(line.to_string());
        self
    }

    /// Headers, the empty separator line, then the body (RFC 3977 §3.6).
    pub fn lines(&self) -> Vec<String> {
        let mut out = self.headers.clone();
        out.push(String::new());
        out.extend(self.body.iter().cloned());
        out
    }

    /// The article in message form: every line ended by CRLF, no
    /// dot-stuffing.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for line in self.lines() {
            out.extend_from_slice(line.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        out
    }

    /// Splits the lines of an ARTICLE reply at the first empty line;
    /// `None` if there is none.
    pub fn from_lines(lines: &[String]) -> Option<Article> {
        let blank = lines.iter().position(|l| l.is_empty())?;
        Some(Article {
            headers: lines[..blank].to_vec(),
            body: lines[blank + 1..].to_vec(),
        })
    }
}

/// The Subject text after "conformance ", unique per article so OVER and HDR
/// replies can be matched exactly.
pub fn subject_token(msgid: &str) -> &str {
    msgid.trim_start_matches('<').trim_end_matches('>')
}

/// If `line` is a header named `name`, its value with leading blanks removed.
pub fn header_value<'a>(line: &'a str, name: &str) -> Option<&'a str> {
    let (n, v) = line.split_once(':')?;
    n.eq_ignore_ascii_case(name)
        .then(|| v.trim_start_matches([' ', '\t']))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn msgids_are_unique_and_well_formed() {
        let mut ids = MsgIds::new();
        let a = ids.next_id(None);
        let b = ids.next_id(None);
        let key = "0f".repeat(32);
        let c = ids.next_id(Some(&key));
        assert_ne!(a, b);
        assert!(c.ends_with(&format!(".3.{key}@conformance.test>")));
        for id in [&a, &b, &c] {
            assert!(id.starts_with("<conf."));
            assert!(id.ends_with("@conformance.test>"));
            // RFC 3977 §3.6: 3-250 printable octets, '>' only at the end.
            assert!(id.len() <= 250);
            assert_eq!(id.matches('>').count(), 1);
            assert!(id.bytes().all(|b| (0x21..=0x7e).contains(&b)));
        }
        assert!(a.ends_with(".1@conformance.test>"));
    }

    #[test]
    fn post_article_has_required_headers() {
        let a = Article::for_post("<x@y>", "misc.test");
        assert_eq!(a.header("newsgroups"), Some("misc.test"));
        assert_eq!(a.header("Message-ID"), Some("<x@y>"));
        assert_eq!(a.header("Subject"), Some("conformance x@y"));
        assert!(a.header("From").is_some());
        assert!(a.header("Date").is_some_and(|d| d.ends_with("+0000")));
        assert_eq!(a.header("Path"), None);
        let t = Article::for_transit("<x@y>", "misc.test");
        assert_eq!(t.header("Path"), Some("conformance!not-for-mail"));
    }

    #[test]
    fn header_edits() {
        let a = Article::for_post("<x@y>", "g")
            .with_raw_header("Subject: second")
            .with("subject", "only")
            .without("From")
            .with_raw_header("No colon here");
        assert_eq!(
            a.headers
                .iter()
                .filter(|l| header_value(l, "Subject").is_some())
                .count(),
            1
        );
        assert_eq!(a.header("Subject"), Some("only"));
        assert_eq!(a.header("From"), None);
        assert_eq!(a.headers.last().map(String::as_str), Some("No colon here"));
    }

    #[test]
    fn lines_separate_headers_from_body() {
        let a = Article::for_post("<x@y>", "g");
        let lines = a.lines();
        assert_eq!(lines.len(), a.headers.len() + 1 + BODY.len());
        assert_eq!(lines[a.headers.len()], "");
        assert_eq!(lines[a.headers.len() + 1], BODY[0]);
        assert_eq!(Article::from_lines(&lines), Some(a.clone()));
        assert_eq!(Article::from_lines(&a.headers), None);
        let bytes = String::from_utf8(a.to_bytes()).unwrap();
        assert_eq!(bytes, lines.join("\r\n") + "\r\n");
    }
}

//! Articles as RFC 5536 defines them: a header section of fields, an empty
//! line, a body. Parsing is pure and indexes into the article's bytes, so an
//! article is never copied to be inspected.
//!
//! Input is the article as the codec delivers it: dot-stuffing undone and
//! every line ending in CRLF.

use std::fmt;
use std::ops::Range;

use bytes::Bytes;
use nom::bytes::complete::{take_while, take_while1};
use nom::character::complete::char;
use nom::{IResult, Parser};

use super::grammar;

/// What is wrong with an article. The text is sent to the client as the
/// reason of a 437/439/441 reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ArticleError {
    Empty,
    Nul,
    /// A header line (1-based) that is neither `name: value` nor a
    /// continuation of the previous field.
    MalformedHeader {
        line: usize,
    },
    /// A continuation line before any field.
    LeadingContinuation,
    Missing(&'static str),
    Duplicate(&'static str),
    BadMessageId,
    BadNewsgroups,
    BadDate,
    EmptyHeader(&'static str),
}

impl fmt::Display for ArticleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ArticleError::Empty => write!(f, "article is empty"),
            ArticleError::Nul => write!(f, "article contains a NUL byte"),
            ArticleError::MalformedHeader { line } => {
                write!(
                    f,
                    "header line {line} is not \"Name: value\" (no colon, or a bad field name)"
                )
            }
            ArticleError::LeadingContinuation => {
                write!(f, "article starts with a continuation line")
            }
            ArticleError::Missing(name) => write!(f, "required header {name} is missing"),
            ArticleError::Duplicate(name) => write!(f, "header {name} appears more than once"),
            ArticleError::BadMessageId => write!(f, "Message-ID header is not <left@right>"),
            ArticleError::BadNewsgroups => {
                write!(
                    f,
                    "Newsgroups header is not a comma-separated list of newsgroup names"
                )
            }
            ArticleError::BadDate => write!(f, "Date header is not an RFC 5322 date"),
            ArticleError::EmptyHeader(name) => write!(f, "header {name} is empty"),
        }
    }
}

/// One header field: byte ranges of its name and of its value (the value
/// starts after the colon and optional whitespace, and keeps folding CRLFs).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Field {
    name: Range<usize>,
    value: Range<usize>,
}

#[derive(Debug, Clone)]
pub struct Article {
    raw: Bytes,
    fields: Vec<Field>,
    /// Offset of the first body octet (just past the empty line), or the
    /// article's length when it has no body.
    body_start: usize,
    /// Offset of the empty line separating head and body, or the article's
    /// length when it has no body.
    head_end: usize,
}

/// `field-name = 1*ftext`, `ftext = %d33-57 / %d59-126` (RFC 5322 §3.6.8).
fn field_name(input: &[u8]) -> IResult<&[u8], &[u8]> {
    take_while1(|b: u8| (33..=126).contains(&b) && b != b':')(input)
}

/// `field = field-name ":" [WSP] value`, on the first line of a field.
fn field_line(input: &[u8]) -> IResult<&[u8], (&[u8], &[u8])> {
    let (value, (name, _, _)) = (
        field_name,
        char(':'),
        take_while(|b: u8| b == b' ' || b == b'\t'),
    )
        .parse(input)?;
    Ok((&value[value.len()..], (name, value)))
}

impl Article {
    /// Splits an article into fields and body. Only the structure is
    /// checked here; [`Article::check`] applies the RFC 5536 rules.
    pub fn parse(raw: Bytes) -> Result<Article, ArticleError> {
        if raw.is_empty() {
            return Err(ArticleError::Empty);
        }
        if memchr::memchr(0, &raw).is_some() {
            return Err(ArticleError::Nul);
        }
        let mut fields: Vec<Field> = Vec::new();
        let mut pos = 0;
        let mut line_no = 0;
        let (head_end, body_start) = loop {
            if pos >= raw.len() {
                break (raw.len(), raw.len());
            }
            line_no += 1;
            let line_end = memchr::memchr(b'\n', &raw[pos..]).map_or(raw.len(), |i| pos + i + 1);
            let line = &raw[pos..line_end];
            let content = line.strip_suffix(b"\n").unwrap_or(line);
            let content = content.strip_suffix(b"\r").unwrap_or(content);
            if content.is_empty() {
                break (pos, line_end);
            }
            if content[0] == b' ' || content[0] == b'\t' {
                let Some(last) = fields.last_mut() else {
                    return Err(ArticleError::LeadingContinuation);
                };
                last.value.end = pos + content.len();
            } else {
                let Ok((_, (name, value))) = field_line(content) else {
                    return Err(ArticleError::MalformedHeader { line: line_no });
                };
                let name_start = pos;
                let value_start = pos + (value.as_ptr() as usize - content.as_ptr() as usize);
                fields.push(Field {
                    name: name_start..name_start + name.len(),
                    value: value_start..pos + content.len(),
                });
            }
            pos = line_end;
        };
        Ok(Article {
            raw,
            fields,
            head_end,
            body_start,
        })
    }

    pub fn raw(&self) -> &Bytes {
        &self.raw
    }

    /// The header section, each line with its CRLF, without the empty line.
    pub fn head(&self) -> Bytes {
        self.raw.slice(..self.head_end)
    }

    pub fn body(&self) -> Bytes {
        self.raw.slice(self.body_start..)
    }

    /// Number of body lines, as the `:lines` metadata item counts them.
    pub fn body_lines(&self) -> usize {
        let body = &self.raw[self.body_start..];
        memchr::memchr_iter(b'\n', body).count()
            + usize::from(!body.is_empty() && !body.ends_with(b"\n"))
    }

    fn fields_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Field> + 'a {
        self.fields
            .iter()
            .filter(move |f| self.raw[f.name.clone()].eq_ignore_ascii_case(name.as_bytes()))
    }

    pub fn count(&self, name: &str) -> usize {
        self.fields_named(name).count()
    }

    /// The raw value of the first field named `name` (case-insensitive),
    /// folding kept.
    pub fn header(&self, name: &str) -> Option<&[u8]> {
        self.fields_named(name)
            .next()
            .map(|f| &self.raw[f.value.clone()])
    }

    /// The first field's value unfolded (RFC 5322 §2.2.3) with trailing
    /// whitespace removed.
    pub fn header_unfolded(&self, name: &str) -> Option<Vec<u8>> {
        self.header(name).map(unfold)
    }

    /// Every field named `name` (case-insensitive), unfolded, in order.
    pub fn headers_unfolded(&self, name: &str) -> Vec<Vec<u8>> {
        self.fields_named(name)
            .map(|f| unfold(&self.raw[f.value.clone()]))
            .collect()
    }

    /// Names and byte ranges of all fields, in order, for rewriting.
    pub fn field_spans(&self) -> impl Iterator<Item = (&[u8], Range<usize>)> + '_ {
        self.fields.iter().map(|f| {
            let line_end = memchr::memchr(b'\n', &self.raw[f.value.end..])
                .map_or(self.raw.len(), |i| f.value.end + i + 1);
            (&self.raw[f.name.clone()], f.name.start..line_end)
        })
    }

    pub fn message_id(&self) -> Option<Vec<u8>> {
        self.header_unfolded("Message-ID")
    }

    /// The Message-IDs of the References header, oldest ancestor first
    /// (RFC 5536 §3.2.10); what is not a message-id is skipped.
    pub fn references(&self) -> Vec<Vec<u8>> {
        let Some(value) = self.header_unfolded("References") else {
            return Vec::new();
        };
        value
            .split(|b| b.is_ascii_whitespace())
            .filter(|id| grammar::is_article_message_id(id))
            .map(<[u8]>::to_vec)
            .collect()
    }

    /// The opening post of the article's thread: the first References
    /// entry, or the article itself when it has none
    /// (protocol-spec/state.md §2).
    pub fn thread_root(&self) -> Option<Vec<u8>> {
        self.references()
            .into_iter()
            .next()
            .or_else(|| self.supersedes())
            .or_else(|| self.message_id())
    }

    /// The Message-ID a `Supersedes` header names (RFC 5536 §3.2.12), when
    /// it is one: the article is an edit of it (protocol-spec/state.md §3b).
    pub fn supersedes(&self) -> Option<Vec<u8>> {
        let value = self.header_unfolded("Supersedes")?;
        let value = value.trim_ascii();
        (value.len() > 2
            && value.starts_with(b"<")
            && value.ends_with(b">")
            && value.contains(&b'@')
            && !value.iter().any(|b| b.is_ascii_whitespace()))
        .then(|| value.to_vec())
    }

    /// The Newsgroups header split into names, whitespace around commas
    /// (folding included) removed.
    pub fn newsgroups(&self) -> Vec<Vec<u8>> {
        let Some(value) = self.header_unfolded("Newsgroups") else {
            return Vec::new();
        };
        value
            .split(|&b| b == b',')
            .map(|g| g.trim_ascii().to_vec())
            .collect()
    }

    /// Applies the RFC 5536 rules. `required` lists the headers that must be
    /// present (transit needs all six of §3.1, POST fewer because the server
    /// fills some in).
    pub fn check(&self, required: &[&'static str]) -> Result<(), ArticleError> {
        for name in required {
            match self.header_unfolded(name) {
                None => return Err(ArticleError::Missing(name)),
                Some(v) if v.is_empty() && *name != "Subject" => {
                    return Err(ArticleError::EmptyHeader(name))
                }
                Some(_) => {}
            }
        }
        for name in SINGLE_INSTANCE {
            if self.count(name) > 1 {
                return Err(ArticleError::Duplicate(name));
            }
        }
        if let Some(id) = self.message_id() {
            if !grammar::is_article_message_id(&id) {
                return Err(ArticleError::BadMessageId);
            }
        }
        if self.header("Newsgroups").is_some() {
            let groups = self.newsgroups();
            if groups.is_empty() || !groups.iter().all(|g| grammar::is_newsgroup_name(g)) {
                return Err(ArticleError::BadNewsgroups);
            }
        }
        for name in ["Date", "Injection-Date"] {
            if let Some(date) = self.header_unfolded(name) {
                if parse_date(&date).is_none() {
                    return Err(ArticleError::BadDate);
                }
            }
        }
        Ok(())
    }
}

/// Headers that may appear at most once (RFC 5322 §3.6, RFC 5536 §3).
const SINGLE_INSTANCE: &[&str] = &[
    "Date",
    "From",
    "Sender",
    "Reply-To",
    "Message-ID",
    "References",
    "Subject",
    "Newsgroups",
    "Path",
    "Followup-To",
    "Expires",
    "Control",
    "Supersedes",
    "Distribution",
    "Organization",
    "Approved",
    "Injection-Date",
    "Injection-Info",
    "Xref",
];

/// The headers every article in transit must carry (RFC 5536 §3.1).
pub const TRANSIT_REQUIRED: &[&str] = &[
    "Date",
    "From",
    "Message-ID",
    "Newsgroups",
    "Path",
    "Subject",
];

/// What a POSTing client must supply; the server adds the rest.
pub const POST_REQUIRED: &[&str] = &["From", "Newsgroups", "Subject"];

/// Whether a Path names `node`; entries are separated by "!" (RFC 5537
/// §3.1.3) and compared without regard to case.
pub fn path_contains(path: &[u8], node: &[u8]) -> bool {
    path.split(|&b| b == b'!')
        .any(|entry| entry.eq_ignore_ascii_case(node))
}

/// Removes folding CRLFs and trailing whitespace.
pub fn unfold(value: &[u8]) -> Vec<u8> {
    let end = value
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(0, |last| last + 1);
    let value = &value[..end];
    // Most values are one line: one copy, no byte-by-byte filter.
    let mut out = Vec::with_capacity(value.len());
    let mut rest = value;
    while let Some(at) = memchr::memchr2(b'\r', b'\n', rest) {
        out.extend_from_slice(&rest[..at]);
        rest = &rest[at + 1..];
    }
    out.extend_from_slice(rest);
    out
}

/// Parses an RFC 5322 date (with the obsolete forms chrono accepts).
pub fn parse_date(value: &[u8]) -> Option<chrono::DateTime<chrono::FixedOffset>> {
    let text = std::str::from_utf8(value).ok()?;
    // Comments such as "(UTC)" after the zone are common; chrono rejects them.
    let text = match text.find('(') {
        Some(i) => text[..i].trim_end(),
        None => text.trim(),
    };
    chrono::DateTime::parse_from_rfc2822(text).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// The same as removing every CR and LF, then the trailing
        /// whitespace (the plain definition, byte by byte).
        #[test]
        fn unfold_removes_line_breaks_and_trailing_whitespace(
            value in proptest::collection::vec(
                proptest::sample::select(vec![b'a', b' ', b'\t', b'\r', b'\n', b'z', 0xff]),
                0..40,
            )
        ) {
            let mut plain: Vec<u8> =
                value.iter().copied().filter(|&b| b != b'\r' && b != b'\n').collect();
            while plain.last().is_some_and(|b| b.is_ascii_whitespace()) {
                plain.pop();
            }
            proptest::prop_assert_eq!(unfold(&value), plain);
        }
    }

    const OK: &[u8] = b"Path: a!b\r\nFrom: x@example.org\r\nNewsgroups: misc.test, alt.test\r\nSubject: hello\r\n\tworld\r\nDate: Sun, 22 Nov 2026 04:20:54 +0000\r\nMessage-ID: <1@example.org>\r\n\r\nbody line\r\n.second\r\n";

    fn parse(raw: &[u8]) -> Result<Article, ArticleError> {
        Article::parse(Bytes::copy_from_slice(raw))
    }

    #[test]
    fn parses_fields_and_body() {
        let a = parse(OK).expect("parses");
        assert_eq!(a.header("subject"), Some(&b"hello\r\n\tworld"[..]));
        assert_eq!(a.header_unfolded("Subject"), Some(b"hello\tworld".to_vec()));
        assert_eq!(
            a.newsgroups(),
            vec![b"misc.test".to_vec(), b"alt.test".to_vec()]
        );
        assert_eq!(&a.body()[..], b"body line\r\n.second\r\n");
        assert!(a.head().ends_with(b"<1@example.org>\r\n"));
        assert_eq!(a.body_lines(), 2);
        a.check(TRANSIT_REQUIRED).expect("valid");
    }

    #[test]
    fn article_without_body() {
        let a = parse(b"Subject: x\r\n").expect("parses");
        assert!(a.body().is_empty());
        assert_eq!(a.body_lines(), 0);
    }

    #[test]
    fn structural_errors() {
        assert_eq!(parse(b"").unwrap_err(), ArticleError::Empty);
        assert_eq!(
            parse(b"Subject: a\x00b\r\n\r\n").unwrap_err(),
            ArticleError::Nul
        );
        assert_eq!(
            parse(b"Subject: a\r\nno colon here\r\n\r\n").unwrap_err(),
            ArticleError::MalformedHeader { line: 2 }
        );
        assert_eq!(
            parse(b": empty name\r\n\r\n").unwrap_err(),
            ArticleError::MalformedHeader { line: 1 }
        );
        assert_eq!(
            parse(b" folded\r\n\r\n").unwrap_err(),
            ArticleError::LeadingContinuation
        );
    }

    #[test]
    fn rule_errors() {
        let with = |from: &str, to: &str| {
            let text = String::from_utf8(OK.to_vec())
                .expect("utf8")
                .replace(from, to);
            parse(text.as_bytes())
                .expect("parses")
                .check(TRANSIT_REQUIRED)
        };
        assert_eq!(
            with("Message-ID: <1@example.org>\r\n", ""),
            Err(ArticleError::Missing("Message-ID"))
        );
        assert_eq!(
            with("<1@example.org>", "<1>"),
            Err(ArticleError::BadMessageId)
        );
        assert_eq!(
            with("misc.test, alt.test", "misc test"),
            Err(ArticleError::BadNewsgroups)
        );
        assert_eq!(
            with("misc.test, alt.test", "misc.test,,x"),
            Err(ArticleError::BadNewsgroups)
        );
        assert_eq!(
            with("Sun, 22 Nov 2026 04:20:54 +0000", "yesterday"),
            Err(ArticleError::BadDate)
        );
        assert_eq!(
            with(
                "From: x@example.org\r\n",
                "From: x@example.org\r\nFrom: y@z\r\n"
            ),
            Err(ArticleError::Duplicate("From"))
        );
        assert_eq!(
            with("From: x@example.org", "From: "),
            Err(ArticleError::EmptyHeader("From"))
        );
    }

    #[test]
    fn thread_roots() {
        let a =
            parse(b"Message-ID: <r@x>\r\nReferences: <a@x>\r\n  <b@x> junk <c@x>\r\n\r\n").unwrap();
        assert_eq!(
            a.references(),
            vec![b"<a@x>".to_vec(), b"<b@x>".to_vec(), b"<c@x>".to_vec()]
        );
        assert_eq!(a.thread_root(), Some(b"<a@x>".to_vec()));
        let op = parse(b"Message-ID: <op@x>\r\n\r\n").unwrap();
        assert_eq!(op.thread_root(), Some(b"<op@x>".to_vec()));
        let odd = parse(b"Message-ID: <op@x>\r\nReferences: nothing here\r\n\r\n").unwrap();
        assert_eq!(odd.thread_root(), Some(b"<op@x>".to_vec()));
        // An edit of an opening post stays in its thread.
        let edit = parse(b"Message-ID: <e@x>\r\nSupersedes: <op@x>\r\n\r\n").unwrap();
        assert_eq!(edit.supersedes(), Some(b"<op@x>".to_vec()));
        assert_eq!(edit.thread_root(), Some(b"<op@x>".to_vec()));
        let bad = parse(b"Message-ID: <e@x>\r\nSupersedes: <a@x> <b@x>\r\n\r\n").unwrap();
        assert_eq!(bad.supersedes(), None);
    }

    #[test]
    fn dates_with_comments() {
        assert!(parse_date(b"Sun, 22 Nov 2026 04:20:54 +0000 (UTC)").is_some());
        assert!(parse_date(b"22 Nov 2026 04:20:54 GMT").is_some());
        assert!(parse_date(b"\xff").is_none());
    }
}

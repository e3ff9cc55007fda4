//! Pure NNTP wire rules: status lines and multi-line data blocks. No I/O here,
//! so every rule the suite relies on is unit-tested without a server.

use std::fmt;

/// One status line (RFC 3977 §3.2): a three-digit code, then free text.
///
/// ```text
/// initial-response-line = response-code [SP 1*text] CRLF
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    pub code: u16,
    /// Everything after the code and its single space; may be empty.
    pub text: String,
}

impl Status {
    /// The `i`-th space-separated argument after the code. Only the
    /// arguments the RFC fixes for a code are meaningful; the rest is text
    /// that a client must not base decisions on (§3.2).
    pub fn arg(&self, i: usize) -> Option<&str> {
        self.text.split_ascii_whitespace().nth(i)
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.text.is_empty() {
            write!(f, "{}", self.code)
        } else {
            write!(f, "{} {}", self.code, self.text)
        }
    }
}

/// Parses a status line without its CRLF.
///
/// Accepts exactly three digits followed by end of line or a space; the
/// first digit must be 1-5 (§3.2). Invalid UTF-8 in the text is replaced,
/// because the text is informational only.
pub fn parse_status(line: &[u8]) -> Option<Status> {
    let code_bytes = line.get(..3)?;
    if !code_bytes.iter().all(u8::is_ascii_digit) || !(b'1'..=b'5').contains(&code_bytes[0]) {
        return None;
    }
    let code = code_bytes
        .iter()
        .fold(0u16, |acc, d| acc * 10 + u16::from(d - b'0'));
    let text = match line.get(3) {
        None => String::new(),
        Some(b' ') => String::from_utf8_lossy(&line[4..]).into_owned(),
        Some(_) => return None,
    };
    Some(Status { code, text })
}

/// Strips one trailing CRLF (or a bare LF, which some servers send).
pub fn trim_eol(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// What one received data-block line means once dot-stuffing is undone.
#[derive(Debug, PartialEq, Eq)]
pub enum BlockLine<'a> {
    /// The terminating "." line (§3.1.1); not part of the block.
    End,
    /// A content line with its stuffed dot removed.
    Data(&'a [u8]),
}

/// Undoes dot-stuffing on one received line (without its CRLF).
pub fn unstuff(line: &[u8]) -> BlockLine<'_> {
    if line == b"." {
        BlockLine::End
    } else if let Some(rest) = line.strip_prefix(b".") {
        BlockLine::Data(rest)
    } else {
        BlockLine::Data(line)
    }
}

/// Encodes lines as a multi-line data block: each line that begins with "."
/// gets another "." in front, every line ends in CRLF, and the block ends
/// with ".\r\n" (§3.1.1).
pub fn encode_block<S: AsRef<str>>(lines: &[S]) -> Vec<u8> {
    let mut out = Vec::with_capacity(lines.iter().map(|l| l.as_ref().len() + 3).sum::<usize>() + 3);
    for line in lines {
        let line = line.as_ref();
        if line.starts_with('.') {
            out.push(b'.');
        }
        out.extend_from_slice(line.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b".\r\n");
    out
}

/// The first `<...@...>` word of a reply's text: the Message-ID a server
/// names in a free-form reply such as 240.
pub fn msgid_in_text(text: &str) -> Option<&str> {
    text.split_ascii_whitespace()
        .map(|w| w.trim_end_matches([',', '.', ';', ':']))
        .find(|w| w.len() > 2 && w.starts_with('<') && w.ends_with('>') && w.contains('@'))
}

/// Parses a numeric argument: decimal digits only, leading zeros allowed,
/// at most 16 digits (RFC 3977 §3.2, §6).
pub fn parse_number(s: &str) -> Option<u64> {
    if s.is_empty() || s.len() > 16 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// The arguments of a 211 reply to GROUP or LISTGROUP (RFC 3977 §6.1.1).
///
/// ```text
/// 211 number low high group
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupReply {
    pub count: u64,
    pub low: u64,
    pub high: u64,
    pub name: String,
}

impl GroupReply {
    pub fn parse(status: &Status) -> Option<GroupReply> {
        Some(GroupReply {
            count: parse_number(status.arg(0)?)?,
            low: parse_number(status.arg(1)?)?,
            high: parse_number(status.arg(2)?)?,
            name: status.arg(3)?.to_string(),
        })
    }
}

/// One line of LIST ACTIVE or NEWGROUPS (RFC 3977 §7.6.3).
///
/// ```text
/// list-active-content = newsgroup-name SP article-number SP article-number SP newsgroup-status
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActiveLine {
    pub name: String,
    pub high: u64,
    pub low: u64,
    /// Usually y, n or m; servers have others (INN: x, j, =group).
    pub status: String,
}

impl ActiveLine {
    pub fn parse(line: &str) -> Option<ActiveLine> {
        let mut f = line.split_ascii_whitespace();
        let parsed = ActiveLine {
            name: f.next()?.to_string(),
            high: parse_number(f.next()?)?,
            low: parse_number(f.next()?)?,
            status: f.next()?.to_string(),
        };
        f.next().is_none().then_some(parsed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A raw line and the (code, text) it parses to, if any.
    type StatusCase = (&'static [u8], Option<(u16, &'static str)>);

    #[test]
    fn status_lines() {
        let cases: &[StatusCase] = &[
            (b"200 news.example ready", Some((200, "news.example ready"))),
            (b"205", Some((205, ""))),
            (b"211 3 1 3 misc.test", Some((211, "3 1 3 misc.test"))),
            (b"111 20261122042054", Some((111, "20261122042054"))),
            (b"500 caf\xc3\xa9", Some((500, "café"))),
            (b"20", None),
            (b"2000 too many digits", None),
            (b"abc def", None),
            (b"600 out of range", None),
            (b"099 out of range", None),
            (b"", None),
        ];
        for (line, want) in cases {
            let got = parse_status(line).map(|s| (s.code, s.text));
            let want = want.map(|(c, t)| (c, t.to_string()));
            assert_eq!(got, want, "line {:?}", String::from_utf8_lossy(line));
        }
    }

    #[test]
    fn status_args_ignore_extra_spaces() {
        let s = parse_status(b"223 0 <a@b> trailing text").unwrap();
        assert_eq!(s.arg(0), Some("0"));
        assert_eq!(s.arg(1), Some("<a@b>"));
        assert_eq!(s.arg(4), None);
        assert_eq!(s.to_string(), "223 0 <a@b> trailing text");
    }

    #[test]
    fn eol_trimming() {
        assert_eq!(trim_eol(b"abc\r\n"), b"abc");
        assert_eq!(trim_eol(b"abc\n"), b"abc");
        assert_eq!(trim_eol(b"abc"), b"abc");
        assert_eq!(trim_eol(b"abc\r"), b"abc");
        assert_eq!(trim_eol(b"\r\n"), b"");
    }

    #[test]
    fn unstuffing() {
        assert_eq!(unstuff(b"."), BlockLine::End);
        assert_eq!(unstuff(b".."), BlockLine::Data(b"."));
        assert_eq!(unstuff(b"..leading"), BlockLine::Data(b".leading"));
        assert_eq!(unstuff(b"plain"), BlockLine::Data(b"plain"));
        assert_eq!(unstuff(b""), BlockLine::Data(b""));
        assert_eq!(unstuff(b"a.b"), BlockLine::Data(b"a.b"));
    }

    #[test]
    fn block_encoding_stuffs_and_terminates() {
        let lines = ["Subject: x", "", ".dot", ".", "..", "plain"];
        let wire = encode_block(&lines);
        assert_eq!(
            wire,
            b"Subject: x\r\n\r\n..dot\r\n..\r\n...\r\nplain\r\n.\r\n".to_vec()
        );
    }

    #[test]
    fn block_round_trip() {
        let lines = ["", ".", "..", ".x", "x.", "...", "text"];
        let wire = encode_block(&lines);
        let mut decoded = Vec::new();
        for raw in wire.split_inclusive(|b| *b == b'\n') {
            match unstuff(trim_eol(raw)) {
                BlockLine::End => break,
                BlockLine::Data(d) => decoded.push(String::from_utf8(d.to_vec()).unwrap()),
            }
        }
        assert_eq!(decoded, lines);
    }

    #[test]
    fn msgids_in_reply_text() {
        assert_eq!(
            msgid_in_text("Article received <a.b@c>, pending"),
            Some("<a.b@c>")
        );
        assert_eq!(msgid_in_text("Article posted <x@y>."), Some("<x@y>"));
        assert_eq!(msgid_in_text("Article received OK"), None);
        assert_eq!(msgid_in_text("<not-an-id> here"), None);
    }

    #[test]
    fn empty_block() {
        assert_eq!(encode_block::<&str>(&[]), b".\r\n".to_vec());
    }

    #[test]
    fn numbers() {
        assert_eq!(parse_number("0"), Some(0));
        assert_eq!(parse_number("0000000042"), Some(42));
        assert_eq!(parse_number("2147483647"), Some(2_147_483_647));
        assert_eq!(
            parse_number("1234567890123456"),
            Some(1_234_567_890_123_456)
        );
        for bad in ["", "-1", "+1", "1a", "12345678901234567", " 1"] {
            assert_eq!(parse_number(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn group_replies() {
        let st = parse_status(b"211 1234 3000234 3002322 misc.test").unwrap();
        assert_eq!(
            GroupReply::parse(&st),
            Some(GroupReply {
                count: 1234,
                low: 3_000_234,
                high: 3_002_322,
                name: "misc.test".into()
            })
        );
        let short = parse_status(b"211 0 1 0").unwrap();
        assert_eq!(GroupReply::parse(&short), None);
        let bad = parse_status(b"211 x 1 0 g").unwrap();
        assert_eq!(GroupReply::parse(&bad), None);
    }

    #[test]
    fn active_lines() {
        assert_eq!(
            ActiveLine::parse("local.test 0000000003 0000000001 y"),
            Some(ActiveLine {
                name: "local.test".into(),
                high: 3,
                low: 1,
                status: "y".into()
            })
        );
        assert!(ActiveLine::parse("a.b 1 2 =c.d").is_some());
        assert_eq!(ActiveLine::parse("a.b 1 2"), None);
        assert_eq!(ActiveLine::parse("a.b 1 2 y extra"), None);
        assert_eq!(ActiveLine::parse("a.b x 2 y"), None);
    }
}

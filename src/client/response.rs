//! What a server answers: a status line parsed into its code and text, and
//! the CAPABILITIES list.

use crate::proto::Code;

/// One status line (RFC 3977 §3.2): `3DIGIT [SP text] CRLF`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub code: Code,
    /// What follows the code and its space, line end and trailing white
    /// space removed.
    pub text: String,
}

impl Response {
    /// Parses one status line (line end optional); None when it does not
    /// start with three digits and a space or its end.
    pub fn parse(line: &[u8]) -> Option<Response> {
        let line = line.trim_ascii_end();
        let (digits, rest) = line.split_at_checked(3)?;
        if !digits.iter().all(u8::is_ascii_digit) {
            return None;
        }
        let text = match rest {
            [] => &[][..],
            [b' ', text @ ..] => text,
            _ => return None,
        };
        let code = digits
            .iter()
            .fold(0u16, |code, d| code * 10 + u16::from(d - b'0'));
        Some(Response {
            code: Code(code),
            text: String::from_utf8_lossy(text).into_owned(),
        })
    }

    /// The first word of the text: the server's name in a greeting, the
    /// challenge in XPEER's 381.
    pub fn first_word(&self) -> Option<&str> {
        self.text.split_whitespace().next()
    }
}

impl std::fmt::Display for Response {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:03}", self.code.0)?;
        if !self.text.is_empty() {
            write!(f, " {}", self.text)?;
        }
        Ok(())
    }
}

/// A server's CAPABILITIES lines (RFC 3977 §5.2).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Capabilities(pub Vec<String>);

impl Capabilities {
    /// Whether a line starts with `label`, in any case.
    pub fn has(&self, label: &str) -> bool {
        self.0.iter().any(|l| {
            l.split_whitespace()
                .next()
                .is_some_and(|w| w.eq_ignore_ascii_case(label))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_lines() {
        let parsed = |line: &[u8]| Response::parse(line).map(|r| (r.code, r.text));
        assert_eq!(
            parsed(b"200 news.example ready\r\n"),
            Some((Code::READY_POSTING, "news.example ready".into()))
        );
        assert_eq!(parsed(b"111\r\n"), Some((Code::DATE, String::new())));
        assert_eq!(parsed(b"238"), Some((Code::CHECK_SEND, String::new())));
        assert_eq!(
            parsed(b"439  two spaces \r\n"),
            Some((Code::TAKETHIS_REJECTED, " two spaces".into()))
        );
        for bad in [&b""[..], b"20", b"2000 x", b"20x y", b"abc", b"-12 x"] {
            assert_eq!(Response::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn display_and_first_word() {
        let r = Response::parse(b"381 c0ffee and more").expect("parses");
        assert_eq!(r.first_word(), Some("c0ffee"));
        assert_eq!(r.to_string(), "381 c0ffee and more");
        let r = Response::parse(b"205").expect("parses");
        assert_eq!((r.first_word(), r.to_string()), (None, "205".into()));
    }

    #[test]
    fn capability_labels_match_in_any_case() {
        let c = Capabilities(vec!["VERSION 2".into(), "streaming".into()]);
        assert!(c.has("STREAMING") && c.has("version"));
        assert!(!c.has("STARTTLS") && !c.has("2"));
    }
}

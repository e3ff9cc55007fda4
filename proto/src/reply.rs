//! A response: one status line, and for multi-line responses a block of data
//! that is dot-stuffed on the way out (RFC 3977 §3.1.1).

use bytes::{BufMut, Bytes, BytesMut};

use super::codes::Code;

/// What follows a status line of a multi-line response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body {
    /// Lines without their CRLF; each is dot-stuffed when written.
    Lines(Vec<Vec<u8>>),
    /// Text made of CRLF-terminated lines (an article or part of one),
    /// dot-stuffed when written.
    Text(Bytes),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub code: Code,
    pub text: String,
    pub body: Option<Body>,
}

impl Reply {
    /// A single-line reply with the code's canonical text.
    pub fn new(code: Code) -> Reply {
        Reply {
            code,
            text: code.canonical_text().to_string(),
            body: None,
        }
    }

    /// A single-line reply whose text says what happened or what was wrong.
    pub fn with(code: Code, text: impl Into<String>) -> Reply {
        Reply {
            code,
            text: text.into(),
            body: None,
        }
    }

    pub fn lines(code: Code, text: impl Into<String>, lines: Vec<Vec<u8>>) -> Reply {
        Reply {
            code,
            text: text.into(),
            body: Some(Body::Lines(lines)),
        }
    }

    pub fn block(code: Code, text: impl Into<String>, text_body: Bytes) -> Reply {
        Reply {
            code,
            text: text.into(),
            body: Some(Body::Text(text_body)),
        }
    }

    /// Appends the wire form to `out`.
    pub fn encode(&self, out: &mut BytesMut) {
        out.put_slice(format!("{:03}", self.code.0).as_bytes());
        // Every reply carries text: clients split the status line on its
        // first space, and every RFC 3977 example has one.
        let text = if self.text.is_empty() {
            self.code.canonical_text()
        } else {
            &self.text
        };
        if !text.is_empty() {
            out.put_u8(b' ');
            // A reason may quote client input; never let it break the line.
            for &b in text.as_bytes() {
                out.put_u8(if b == b'\r' || b == b'\n' || b == 0 {
                    b' '
                } else {
                    b
                });
            }
        }
        out.put_slice(b"\r\n");
        match &self.body {
            None => return,
            Some(Body::Lines(lines)) => {
                for line in lines {
                    put_stuffed_line(out, line);
                }
            }
            Some(Body::Text(text)) => put_stuffed_text(out, text),
        }
        out.put_slice(b".\r\n");
    }
}

/// One line of a multi-line block, dot-stuffed, with its CRLF.
pub fn put_line(out: &mut BytesMut, line: &[u8]) {
    put_stuffed_line(out, line);
}

fn put_stuffed_line(out: &mut BytesMut, line: &[u8]) {
    if line.first() == Some(&b'.') {
        out.put_u8(b'.');
    }
    out.put_slice(line);
    out.put_slice(b"\r\n");
}

/// `put_stuffed_text` into a plain vector, for clients.
pub fn put_stuffed_text_into(out: &mut Vec<u8>, text: &[u8]) {
    let mut buf = BytesMut::with_capacity(text.len() + 16);
    put_stuffed_text(&mut buf, text);
    out.extend_from_slice(&buf);
}

/// Writes CRLF-separated text line by line with dot-stuffing. A last line
/// without its CRLF still gets one, so the terminator always stands alone.
pub fn put_stuffed_text(out: &mut BytesMut, text: &[u8]) {
    out.reserve(text.len() + 16);
    let mut rest = text;
    while !rest.is_empty() {
        let (line, tail) = match memchr::memchr(b'\n', rest) {
            Some(i) => (&rest[..i], &rest[i + 1..]),
            None => (rest, &rest[rest.len()..]),
        };
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        put_stuffed_line(out, line);
        rest = tail;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wire(reply: &Reply) -> String {
        let mut out = BytesMut::new();
        reply.encode(&mut out);
        String::from_utf8(out.to_vec()).expect("ascii")
    }

    #[test]
    fn single_line_uses_canonical_text() {
        assert_eq!(
            wire(&Reply::new(Code::NO_SUCH_GROUP)),
            "411 No such newsgroup\r\n"
        );
    }

    #[test]
    fn every_reply_carries_text() {
        assert_eq!(
            wire(&Reply::with(Code::TRANSFER_OK, "")),
            "235 Article transferred OK\r\n"
        );
        // A code with no canonical text still gets no trailing space.
        assert_eq!(wire(&Reply::with(Code(299), "")), "299\r\n");
    }

    #[test]
    fn reason_cannot_inject_lines() {
        assert_eq!(
            wire(&Reply::with(Code::SYNTAX_ERROR, "a\r\n.\r\nb")),
            "501 a  .  b\r\n"
        );
    }

    #[test]
    fn lines_are_dot_stuffed_and_terminated() {
        let r = Reply::lines(
            Code::LIST_FOLLOWS,
            "x",
            vec![b".hidden".to_vec(), b"plain".to_vec()],
        );
        assert_eq!(wire(&r), "215 x\r\n..hidden\r\nplain\r\n.\r\n");
    }

    #[test]
    fn text_is_dot_stuffed_and_gets_final_crlf() {
        let r = Reply::block(
            Code::BODY_FOLLOWS,
            "0 <a@b>",
            Bytes::from_static(b".a\r\nb\r\n..c"),
        );
        assert_eq!(wire(&r), "222 0 <a@b>\r\n..a\r\nb\r\n...c\r\n.\r\n");
    }
}

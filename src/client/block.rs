//! Multi-line blocks (RFC 3977 §3.1.1) as pure code: dot-stuffing on the
//! way out, and on the way in two readers fed one bounded piece at a time
//! by either connection, so the limits are written once.
//!
//! A piece is what one bounded `read_until(b'\n')` returns: at most
//! [`MAX_REPLY_LINE`] octets, ending in LF exactly when it ends a line. A
//! block over its limit is still read to its terminator and then reported
//! as too large, so the connection stays in step with the peer.

use crate::proto::reply::put_stuffed_text_into;

/// Longest reply line read, and the largest piece of a block line held at
/// once; reconciliation lines stay well under it.
pub const MAX_REPLY_LINE: usize = 16 * 1024;

/// How much of a multi-line block of lines is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockLimit {
    pub lines: usize,
    /// Octets as received, line endings and stuffing included.
    pub bytes: usize,
}

/// Appends `text` (CRLF lines; a last line without its CRLF gets one) as
/// a data block: lines starting with "." get another, then the "."
/// terminator line.
pub fn put_data_block(out: &mut Vec<u8>, text: &[u8]) {
    put_stuffed_text_into(out, text);
    out.extend_from_slice(b".\r\n");
}

/// One line of a block as received, line end included: None for the
/// terminator, otherwise the line with its stuffing undone and trailing
/// white space (the line end with it) removed.
pub fn unstuff_line(line: &[u8]) -> Option<&[u8]> {
    if is_terminator(line) {
        return None;
    }
    let line = line.strip_prefix(b".").unwrap_or(line);
    Some(line.trim_ascii_end())
}

/// Only "." CRLF ends a block (RFC 3977 §3.1.1): a "." with a bare LF is
/// content, so a peer's text can never end its own block early.
fn is_terminator(piece: &[u8]) -> bool {
    piece == b".\r\n"
}

/// What reads a data block a piece at a time: told each piece (a line,
/// or part of a long one), says when the terminator came, and gives what it
/// kept, None when the block was over its limit. Both clients read every
/// block through one loop over this.
pub trait Collect {
    type Out;
    /// Takes the next piece; true when it was the terminator.
    fn feed(&mut self, piece: &[u8]) -> bool;
    fn finish(self) -> Option<Self::Out>;
}

/// The lines of a block, as long as they stay within the limit.
pub struct Lines {
    kept: Option<Vec<Vec<u8>>>,
    limit: BlockLimit,
    bytes: usize,
    /// False while the tail of an overlong line is being read, so that a
    /// "." in it cannot end the block.
    at_line_start: bool,
}

impl Lines {
    pub fn new(limit: BlockLimit) -> Lines {
        Lines {
            kept: Some(Vec::new()),
            limit,
            bytes: 0,
            at_line_start: true,
        }
    }
}

impl Collect for Lines {
    type Out = Vec<Vec<u8>>;

    fn feed(&mut self, piece: &[u8]) -> bool {
        let ends_line = piece.ends_with(b"\n");
        let starts_line = std::mem::replace(&mut self.at_line_start, ends_line);
        if !starts_line || !ends_line {
            // A line longer than a piece is longer than any we keep.
            self.kept = None;
            return false;
        }
        let Some(line) = unstuff_line(piece) else {
            return true;
        };
        self.bytes += piece.len();
        if let Some(kept) = &mut self.kept {
            if kept.len() == self.limit.lines || self.bytes > self.limit.bytes {
                self.kept = None;
            } else {
                kept.push(line.to_vec());
            }
        }
        false
    }

    fn finish(self) -> Option<Vec<Vec<u8>>> {
        self.kept
    }
}

/// The text of a data block (an article): stuffing undone, every line
/// ending in CRLF, as long as it stays within `limit` octets. Lines of any
/// length are taken: a line's pieces are joined.
pub struct Text {
    kept: Option<Vec<u8>>,
    limit: usize,
    at_line_start: bool,
    /// A CR that ended the last piece: part of the line end if the next
    /// piece starts with its LF, text otherwise.
    held_cr: bool,
}

impl Text {
    pub fn new(limit: usize) -> Text {
        Text {
            kept: Some(Vec::new()),
            limit,
            at_line_start: true,
            held_cr: false,
        }
    }

    fn keep(&mut self, bytes: &[u8]) {
        if let Some(kept) = &mut self.kept {
            if kept.len() + bytes.len() > self.limit {
                self.kept = None;
            } else {
                kept.extend_from_slice(bytes);
            }
        }
    }
}

impl Collect for Text {
    type Out = Vec<u8>;

    fn feed(&mut self, piece: &[u8]) -> bool {
        let ends_line = piece.ends_with(b"\n");
        let mut rest = piece;
        if std::mem::replace(&mut self.at_line_start, ends_line) {
            if ends_line && is_terminator(piece) {
                return true;
            }
            // Only the start of a line is stuffed.
            rest = rest.strip_prefix(b".").unwrap_or(rest);
        }
        let held = std::mem::take(&mut self.held_cr);
        if ends_line {
            let content = &rest[..rest.len() - 1];
            if !(held && content.is_empty()) {
                if held {
                    self.keep(b"\r");
                }
                self.keep(content.strip_suffix(b"\r").unwrap_or(content));
            }
            self.keep(b"\r\n");
        } else {
            if held {
                self.keep(b"\r");
            }
            self.held_cr = rest.ends_with(b"\r");
            self.keep(&rest[..rest.len() - usize::from(self.held_cr)]);
        }
        false
    }

    fn finish(self) -> Option<Vec<u8>> {
        self.kept
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Cuts `wire` as a bounded `read_until(b'\n')` of `max` octets would.
    fn pieces(wire: &[u8], max: usize) -> Vec<&[u8]> {
        let mut out = Vec::new();
        let mut rest = wire;
        while !rest.is_empty() {
            let end = match rest.iter().position(|&b| b == b'\n') {
                Some(lf) if lf < max => lf + 1,
                _ => max.min(rest.len()),
            };
            out.push(&rest[..end]);
            rest = &rest[end..];
        }
        out
    }

    /// Feeds the pieces up to the terminator; returns what follows it.
    fn read(wire: &[u8], max: usize, mut feed: impl FnMut(&[u8]) -> bool) -> Vec<u8> {
        let mut pieces = pieces(wire, max).into_iter();
        for piece in pieces.by_ref() {
            if feed(piece) {
                return pieces.flatten().copied().collect();
            }
        }
        panic!("no terminator in {:?}", String::from_utf8_lossy(wire));
    }

    fn text(wire: &[u8], max: usize, limit: usize) -> (Option<Vec<u8>>, Vec<u8>) {
        let mut text = Text::new(limit);
        let after = read(wire, max, |p| text.feed(p));
        (text.finish(), after)
    }

    fn lines(wire: &[u8], max: usize, limit: BlockLimit) -> (Option<Vec<Vec<u8>>>, Vec<u8>) {
        let mut lines = Lines::new(limit);
        let after = read(wire, max, |p| lines.feed(p));
        (lines.finish(), after)
    }

    #[test]
    fn data_blocks_are_stuffed_and_terminated() {
        let mut out = Vec::new();
        put_data_block(&mut out, b"A: b\r\n\r\n.x\r\ny");
        assert_eq!(out, b"A: b\r\n\r\n..x\r\ny\r\n.\r\n");
        out.clear();
        put_data_block(&mut out, b"");
        assert_eq!(out, b".\r\n");
    }

    #[test]
    fn text_is_unstuffed_at_every_piece_size() {
        let wire = b"A: b\r\n\r\n..dot\r\nbare lf\n\rcr first\r\nx\r\r\n.\r\nafter";
        let expected = b"A: b\r\n\r\n.dot\r\nbare lf\r\n\rcr first\r\nx\r\r\n";
        // Any piece size that holds a terminator line: a CR may end a
        // piece, and a stuffed "." may be a piece of its own.
        for max in 3..wire.len() {
            let (got, after) = text(wire, max, 1 << 20);
            assert_eq!(got.as_deref(), Some(&expected[..]), "pieces of {max}");
            assert_eq!(after, b"after", "pieces of {max}");
        }
    }

    #[test]
    fn a_dot_inside_a_long_line_does_not_end_the_text() {
        let wire = b"abc.\r\n.\r\n";
        for max in 3..5 {
            let (got, _) = text(wire, max, 100);
            assert_eq!(got.as_deref(), Some(&b"abc.\r\n"[..]), "pieces of {max}");
        }
    }

    #[test]
    fn text_over_the_limit_is_read_to_its_end_and_dropped() {
        let wire = format!("{}\r\n.\r\nafter", "y".repeat(5000));
        let (got, after) = text(wire.as_bytes(), MAX_REPLY_LINE, 1000);
        assert_eq!(got, None);
        assert_eq!(after, b"after", "in step with the peer");
        let (got, _) = text(b"12345678\r\n.\r\n", 64, 10);
        assert_eq!(
            got.as_deref(),
            Some(&b"12345678\r\n"[..]),
            "exactly the limit"
        );
        let (got, _) = text(b"123456789\r\n.\r\n", 64, 10);
        assert_eq!(got, None, "one over");
    }

    #[test]
    fn lines_are_unstuffed_and_trimmed() {
        let limit = BlockLimit {
            lines: 10,
            bytes: 1000,
        };
        let (got, after) = lines(b"VERSION 2\r\n..hidden \r\nlf\n\r\n.\r\nnext", 64, limit);
        let expected: Vec<&[u8]> = vec![b"VERSION 2", b".hidden", b"lf", b""];
        assert_eq!(got, Some(expected.iter().map(|l| l.to_vec()).collect()));
        assert_eq!(after, b"next");
    }

    #[test]
    fn lines_over_a_limit_are_read_to_the_end_and_dropped() {
        let wire = b"<1@a>\r\n<2@a>\r\n<3@a>\r\n.\r\nnext";
        let limit = |lines, bytes| BlockLimit { lines, bytes };
        assert_eq!(lines(wire, 64, limit(3, 21)).0.map(|l| l.len()), Some(3));
        for (over, limit) in [("lines", limit(2, 1000)), ("bytes", limit(3, 20))] {
            let (got, after) = lines(wire, 64, limit);
            assert_eq!(got, None, "over in {over}");
            assert_eq!(after, b"next", "in step after too many {over}");
        }
    }

    #[test]
    fn an_overlong_line_drops_the_block_and_its_dots_do_not_end_it() {
        let limit = BlockLimit {
            lines: 10,
            bytes: 1 << 20,
        };
        // The overlong line's second piece is ".\r\n": still its tail.
        let (got, after) = lines(b"abcd.\r\nok\r\n.\r\nnext", 4, limit);
        assert_eq!(got, None);
        assert_eq!(after, b"next");
    }

    #[test]
    fn unstuffing_one_line() {
        assert_eq!(unstuff_line(b".\r\n"), None);
        assert_eq!(unstuff_line(b".\n"), Some(&b""[..]));
        assert_eq!(unstuff_line(b"..\r\n"), Some(&b"."[..]));
        assert_eq!(
            unstuff_line(b"progress x=1\r\n"),
            Some(&b"progress x=1"[..])
        );
    }
}

//! Framing of the NNTP byte stream: command lines, and dot-terminated
//! blocks (articles) after POST, IHAVE and TAKETHIS.
//!
//! The decoder never buffers more than the configured limits. An overlong
//! line or article switches it to discarding up to the end of that line or
//! block, then it reports the overflow, so the connection stays in sync
//! rather than being dropped.
//!
//! Line endings: CRLF is the standard (RFC 3977 §3.1). A bare LF is accepted
//! as a line ending too, on command lines and inside articles, because
//! operators type at nc/telnet and some clients send LF alone; output always
//! uses CRLF and stored articles are normalized to CRLF. But only `.` CRLF
//! ends a block: a `.` followed by a bare LF is content, so bytes a sender
//! meant as article text can never be read as the end of the article and
//! the commands after it (the SMTP-smuggling pattern).

use bytes::{Buf, Bytes, BytesMut};
use tokio_util::codec::Decoder;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// A command line without its line ending.
    Line(Bytes),
    /// A command line longer than the limit; its bytes were discarded.
    LineTooLong,
    /// A block with dot-stuffing undone, every line ending in CRLF, and
    /// without the terminating ".".
    Block(Bytes),
    /// A block longer than the limit, discarded up to its terminator.
    BlockTooLarge { size: usize },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Line,
    Block,
}

#[derive(Debug)]
pub struct NntpCodec {
    mode: Mode,
    max_line: usize,
    max_block: usize,
    /// The limit of the block being read: `max_block` for articles.
    block_limit: usize,
    /// How far the current partial line (command or block) has been
    /// searched for its LF, so a line arriving in many pieces is scanned
    /// once, not once per piece.
    scanned: usize,
    /// Discarding the rest of an overlong command line.
    discarding_line: bool,
    block: BytesMut,
    /// Discarding an oversized block; the count is for the reply.
    block_discarded: Option<usize>,
    /// Whether the next buffered byte starts a line of the block. False while
    /// the tail of an overlong line is being dropped, so that a "." inside
    /// it cannot end the block.
    at_line_start: bool,
}

impl NntpCodec {
    pub fn new(max_line: usize, max_block: usize) -> NntpCodec {
        NntpCodec {
            mode: Mode::Line,
            max_line,
            max_block,
            block_limit: max_block,
            scanned: 0,
            discarding_line: false,
            block: BytesMut::new(),
            block_discarded: None,
            at_line_start: true,
        }
    }

    /// The next frame is an article. Returns to line mode after it by itself.
    pub fn expect_block(&mut self) {
        self.expect_block_up_to(self.max_block);
    }

    /// The next frame is a block of at most `limit` octets that is not an
    /// article (a list of entries or Message-IDs).
    pub fn expect_block_up_to(&mut self, limit: usize) {
        self.block_limit = limit;
        self.mode = Mode::Block;
        self.block.clear();
        self.block_discarded = None;
        self.at_line_start = true;
        self.scanned = 0;
    }

    pub fn mode(&self) -> Mode {
        self.mode
    }

    fn decode_line(&mut self, src: &mut BytesMut) -> Option<Frame> {
        if self.discarding_line {
            match memchr::memchr(b'\n', src) {
                Some(i) => {
                    src.advance(i + 1);
                    self.discarding_line = false;
                    return Some(Frame::LineTooLong);
                }
                None => {
                    src.clear();
                    return None;
                }
            }
        }
        match memchr::memchr(b'\n', &src[self.scanned..]) {
            Some(i) => {
                let end = self.scanned + i;
                self.scanned = 0;
                let mut line = src.split_to(end + 1);
                if line.len() > self.max_line {
                    return Some(Frame::LineTooLong);
                }
                line.truncate(end);
                if line.last() == Some(&b'\r') {
                    line.truncate(end - 1);
                }
                Some(Frame::Line(line.freeze()))
            }
            None if src.len() > self.max_line => {
                self.scanned = 0;
                self.discarding_line = true;
                src.clear();
                None
            }
            None => {
                self.scanned = src.len();
                None
            }
        }
    }

    fn start_discarding_block(&mut self, extra: usize) {
        let so_far = self.block.len() + extra;
        self.block = BytesMut::new();
        self.block_discarded = Some(self.block_discarded.unwrap_or(0) + so_far);
    }

    fn decode_block(&mut self, src: &mut BytesMut) -> Option<Frame> {
        loop {
            let Some(i) = memchr::memchr(b'\n', &src[self.scanned..]).map(|i| self.scanned + i)
            else {
                // A partial line. Keep it unless it would overflow; "." and
                // ".\r" must stay buffered since they may be the terminator.
                let may_be_terminator =
                    self.at_line_start && src.len() <= 2 && src.first() == Some(&b'.');
                let over = self.block_discarded.is_some()
                    || self.block.len() + src.len() > self.block_limit;
                if over && !may_be_terminator && !src.is_empty() {
                    self.start_discarding_block(src.len());
                    src.clear();
                    self.at_line_start = false;
                }
                self.scanned = src.len();
                return None;
            };
            self.scanned = 0;
            let line = src.split_to(i + 1);
            let mut content = &line[..i];
            let crlf = content.last() == Some(&b'\r');
            if crlf {
                content = &content[..content.len() - 1];
            }
            if !self.at_line_start {
                // The end of a line whose start was already discarded.
                self.at_line_start = true;
                self.block_discarded = Some(self.block_discarded.unwrap_or(0) + line.len());
                continue;
            }
            if content == b"." && crlf {
                self.mode = Mode::Line;
                return Some(match self.block_discarded.take() {
                    Some(size) => Frame::BlockTooLarge { size },
                    None => Frame::Block(std::mem::take(&mut self.block).freeze()),
                });
            }
            if let Some(size) = self.block_discarded.as_mut() {
                *size += line.len();
                continue;
            }
            let content = content.strip_prefix(b".").unwrap_or(content);
            if self.block.len() + content.len() + 2 > self.block_limit {
                self.start_discarding_block(line.len());
                continue;
            }
            self.block.extend_from_slice(content);
            self.block.extend_from_slice(b"\r\n");
        }
    }
}

impl Decoder for NntpCodec {
    type Item = Frame;
    type Error = std::io::Error;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Frame>, std::io::Error> {
        Ok(match self.mode {
            Mode::Line => self.decode_line(src),
            Mode::Block => self.decode_block(src),
        })
    }

    /// At end of input a partial line or an unterminated block is dropped:
    /// nothing half-received is ever acted on.
    fn decode_eof(&mut self, src: &mut BytesMut) -> Result<Option<Frame>, std::io::Error> {
        let frame = self.decode(src)?;
        if frame.is_none() {
            src.clear();
        }
        Ok(frame)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `input` in chunks of `step` bytes and collects the frames,
    /// switching to block mode after each line for which `block_after` is
    /// true.
    fn run(input: &[u8], step: usize, block_after: fn(&[u8]) -> bool) -> Vec<Frame> {
        let mut codec = NntpCodec::new(512, 64);
        let mut buf = BytesMut::new();
        let mut frames = Vec::new();
        for chunk in input.chunks(step) {
            buf.extend_from_slice(chunk);
            while let Some(frame) = codec.decode(&mut buf).expect("infallible") {
                if let Frame::Line(line) = &frame {
                    if block_after(line) {
                        codec.expect_block();
                    }
                }
                frames.push(frame);
            }
        }
        frames
    }

    fn any_step(input: &[u8], block_after: fn(&[u8]) -> bool) -> Vec<Frame> {
        let whole = run(input, input.len().max(1), block_after);
        for step in [1, 2, 3, 7] {
            assert_eq!(run(input, step, block_after), whole, "step {step}");
        }
        whole
    }

    fn line(s: &str) -> Frame {
        Frame::Line(Bytes::copy_from_slice(s.as_bytes()))
    }

    fn block(s: &str) -> Frame {
        Frame::Block(Bytes::copy_from_slice(s.as_bytes()))
    }

    fn post(l: &[u8]) -> bool {
        l == b"POST"
    }

    #[test]
    fn lines_with_crlf_or_lf() {
        assert_eq!(
            any_step(b"DATE\r\nHELP\nQUIT\r\n", |_| false),
            vec![line("DATE"), line("HELP"), line("QUIT")]
        );
    }

    #[test]
    fn overlong_line_is_reported_once_and_sync_kept() {
        let mut input = vec![b'x'; 2000];
        input.extend_from_slice(b"\r\nDATE\r\n");
        assert_eq!(
            any_step(&input, |_| false),
            vec![Frame::LineTooLong, line("DATE")]
        );
    }

    #[test]
    fn line_of_exactly_the_limit_is_accepted() {
        let mut input = vec![b'x'; 510];
        input.extend_from_slice(b"\r\n");
        assert_eq!(any_step(&input, |_| false).len(), 1);
        assert!(matches!(any_step(&input, |_| false)[0], Frame::Line(_)));
        let mut input = vec![b'x'; 511];
        input.extend_from_slice(b"\r\n");
        assert_eq!(any_step(&input, |_| false), vec![Frame::LineTooLong]);
    }

    #[test]
    fn block_unstuffs_and_normalizes() {
        let frames = any_step(b"POST\r\nA: b\r\n\r\n..dot\nlf\r\n.\r\nDATE\r\n", post);
        assert_eq!(
            frames,
            vec![
                line("POST"),
                block("A: b\r\n\r\n.dot\r\nlf\r\n"),
                line("DATE")
            ]
        );
    }

    #[test]
    fn only_dot_crlf_ends_a_block_so_nothing_is_smuggled() {
        // ".\n" inside the article is content (an unstuffed "." line is an
        // empty line), not the end of the article and the start of commands.
        let frames = any_step(
            b"POST\r\nA: b\r\n\r\nbody\r\n.\nDATE\r\n.\nQUIT\r\n.\r\nHELP\r\n",
            post,
        );
        assert_eq!(
            frames,
            vec![
                line("POST"),
                block("A: b\r\n\r\nbody\r\n\r\nDATE\r\n\r\nQUIT\r\n"),
                line("HELP")
            ]
        );
    }

    #[test]
    fn empty_block() {
        assert_eq!(
            any_step(b"POST\r\n.\r\nDATE\r\n", post),
            vec![line("POST"), block(""), line("DATE")]
        );
    }

    #[test]
    fn oversized_block_is_discarded_to_its_terminator() {
        let mut input = b"POST\r\n".to_vec();
        for _ in 0..20 {
            input.extend_from_slice(b"0123456789\r\n");
        }
        input.extend_from_slice(b".\r\nDATE\r\n");
        let frames = any_step(&input, post);
        assert_eq!(frames.len(), 3);
        assert!(matches!(frames[1], Frame::BlockTooLarge { size } if size == 240));
        assert_eq!(frames[2], line("DATE"));
    }

    #[test]
    fn oversized_single_line_cannot_smuggle_a_terminator() {
        // A 100-byte line containing "\r\n.\r\n"-like text only after the
        // limit: the dot inside the discarded tail must not end the block.
        let mut input = b"POST\r\n".to_vec();
        input.extend_from_slice(&[b'y'; 100]);
        input.extend_from_slice(b".\r\nstill body\r\n.\r\nDATE\r\n");
        let frames = run(&input, 1, post);
        assert!(
            matches!(frames[1], Frame::BlockTooLarge { .. }),
            "{frames:?}"
        );
        assert_eq!(frames[2], line("DATE"));
    }

    #[test]
    fn dot_lines_inside_a_block_are_not_terminators() {
        let frames = any_step(b"POST\r\n.. \r\n. \r\n.x\r\n.\r\n", post);
        assert_eq!(frames[1], block(". \r\n \r\nx\r\n"));
    }

    #[test]
    fn a_block_line_in_pieces_is_scanned_once() {
        // Found while fuzzing: block mode searched the whole buffered
        // partial line for its LF on every call, so a long line sent a few
        // octets at a time cost time quadratic in its length.
        let mut codec = NntpCodec::new(512, 1 << 20);
        let mut buf = BytesMut::from(&b"POST\r\n"[..]);
        assert_eq!(codec.decode(&mut buf).unwrap(), Some(line("POST")));
        codec.expect_block();
        for _ in 0..1000 {
            buf.extend_from_slice(b"0123456789");
            assert_eq!(codec.decode(&mut buf).unwrap(), None);
            assert_eq!(codec.scanned, buf.len(), "searched up to what is buffered");
        }
        buf.extend_from_slice(b"\r\n.\r\nDATE\r\n");
        let Some(Frame::Block(body)) = codec.decode(&mut buf).unwrap() else {
            panic!("the block")
        };
        assert_eq!(body.len(), 10_002);
        assert_eq!(codec.scanned, 0);
        assert_eq!(codec.decode(&mut buf).unwrap(), Some(line("DATE")));
    }

    #[test]
    fn eof_drops_partial_input() {
        let mut codec = NntpCodec::new(512, 64);
        let mut buf = BytesMut::from(&b"POST\r\n"[..]);
        assert_eq!(codec.decode(&mut buf).unwrap(), Some(line("POST")));
        codec.expect_block();
        buf.extend_from_slice(b"Subject: half\r\n");
        assert_eq!(codec.decode_eof(&mut buf).unwrap(), None);
        assert!(buf.is_empty());
    }
}

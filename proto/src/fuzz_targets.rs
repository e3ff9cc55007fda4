//! Bodies of the fuzz targets, one per parser. Each takes arbitrary bytes,
//! runs the parser and panics only when one of its invariants is broken.
//! The AFL binaries in `fuzz/` and the corpus test `tests/fuzz_corpus.rs`
//! both call these, so any crash file replays under plain `cargo test`.

use bytes::{Bytes, BytesMut};
use tokio_util::codec::Decoder;

use crate::article::{Article, POST_REQUIRED, TRANSIT_REQUIRED};
use crate::audience::{self, Audience};
use crate::codec::{Frame, Mode, NntpCodec};
use crate::command::{self, ArticleRef, Command, Selection};
use crate::control::{self, Control};
use crate::grammar;
use crate::reconcile::{Entry, IDS_PER_LINE, LEAF, MAX_DEPTH};
use crate::signing::{self, SignatureField};

/// A target's name and body.
pub type Target = (&'static str, fn(&[u8]));

/// Every target by name, as the directories under `fuzz/corpus/` are named.
pub const TARGETS: &[Target] = &[
    ("codec", codec),
    ("command", command),
    ("article", article),
    ("control", control),
    ("signature", signature),
    ("reconcile", reconcile),
    ("file_ref", file_ref),
];

// ---------------------------------------------------------------- codec

/// Limits of one codec run. Small ones reach the overflow paths with short
/// inputs; the real command-line limit is checked too.
#[derive(Clone, Copy)]
struct Limits {
    max_line: usize,
    max_block: usize,
    /// The limit given to `expect_block_up_to` after XIHAVE or XRECONCILE.
    list_block: usize,
}

/// What the session does after a command line: which block, if any, follows
/// it. The keyword is compared as `command::parse` does (case-insensitive,
/// first space- or tab-separated word).
fn block_after(line: &[u8], limits: Limits) -> Option<usize> {
    let keyword = line
        .split(|&b| b == b' ' || b == b'\t')
        .find(|w| !w.is_empty())?;
    let is = |name: &str| keyword.eq_ignore_ascii_case(name.as_bytes());
    if is("POST") || is("IHAVE") || is("TAKETHIS") {
        Some(limits.max_block)
    } else if is("XIHAVE") || is("XRECONCILE") {
        Some(limits.list_block)
    } else {
        None
    }
}

/// Feeds `stream` to a fresh codec in pieces of the given sizes, as TCP
/// segments would arrive, decoding after each piece until the codec wants
/// more, then signals end of input. Checks every frame against the limits
/// and the mode it was read in.
fn feed(stream: &[u8], mut sizes: impl FnMut() -> usize, limits: Limits) -> Vec<Frame> {
    let mut codec = NntpCodec::new(limits.max_line, limits.max_block);
    let mut buf = BytesMut::new();
    let mut frames = Vec::new();
    // The limit of the block being read, None in line mode.
    let mut block: Option<usize> = None;
    let mut on_frame = |frame: Frame, codec: &mut NntpCodec, block: &mut Option<usize>| {
        match (&frame, *block) {
            (Frame::Line(line), None) => {
                assert!(
                    line.len() < limits.max_line,
                    "a line of {} octets passed a limit of {} (CRLF included)",
                    line.len(),
                    limits.max_line
                );
                assert!(!line.contains(&b'\n'), "a line frame holds a LF");
                if let Some(limit) = block_after(line, limits) {
                    if limit == limits.max_block {
                        codec.expect_block();
                    } else {
                        codec.expect_block_up_to(limit);
                    }
                    *block = Some(limit);
                }
            }
            (Frame::LineTooLong, None) => {}
            (Frame::Block(body), Some(limit)) => {
                assert!(
                    body.len() <= limit,
                    "a block of {} octets passed a limit of {limit}",
                    body.len()
                );
                assert!(
                    body.is_empty() || body.ends_with(b"\r\n"),
                    "a block does not end in CRLF"
                );
                for (i, &b) in body.iter().enumerate() {
                    if b == b'\n' {
                        assert!(i > 0 && body[i - 1] == b'\r', "a block holds a bare LF");
                    }
                }
                *block = None;
            }
            (Frame::BlockTooLarge { size }, Some(limit)) => {
                assert!(
                    *size >= limit,
                    "a block of {size} octets was refused under a limit of {limit}"
                );
                *block = None;
            }
            (frame, block) => panic!("{frame:?} decoded while reading a block: {block:?}"),
        }
        let expected = if block.is_some() {
            Mode::Block
        } else {
            Mode::Line
        };
        assert_eq!(codec.mode(), expected, "codec mode after {frame:?}");
        frames.push(frame);
    };
    let mut rest = stream;
    while !rest.is_empty() {
        let n = sizes().clamp(1, rest.len());
        buf.extend_from_slice(&rest[..n]);
        rest = &rest[n..];
        while let Some(frame) = codec.decode(&mut buf).expect("the codec never fails") {
            on_frame(frame, &mut codec, &mut block);
        }
    }
    while let Some(frame) = codec.decode_eof(&mut buf).expect("the codec never fails") {
        on_frame(frame, &mut codec, &mut block);
    }
    assert!(buf.is_empty(), "input left over after end of input");
    frames
}

/// The framing rules of codec.rs restated over the whole input at once:
/// lines end at LF; a line longer than the limit (its CRLF included) is
/// refused; in a block only `.` CRLF ends it, a leading dot is removed,
/// every line ends in CRLF, and once the block passes its limit the rest is
/// discarded. A partial line at the end is dropped. The sizes of refused
/// blocks are not modelled (they are compared across splittings instead).
fn model(stream: &[u8], limits: Limits) -> Vec<Frame> {
    let mut frames = Vec::new();
    let mut block: Option<(usize, Vec<u8>, bool)> = None;
    let mut rest = stream;
    while let Some(i) = memchr::memchr(b'\n', rest) {
        let line = &rest[..=i];
        rest = &rest[i + 1..];
        let content = &line[..i];
        let (content, crlf) = match content.strip_suffix(b"\r") {
            Some(c) => (c, true),
            None => (content, false),
        };
        match block.as_mut() {
            None if line.len() > limits.max_line => frames.push(Frame::LineTooLong),
            None => {
                if let Some(limit) = block_after(content, limits) {
                    block = Some((limit, Vec::new(), false));
                }
                frames.push(Frame::Line(Bytes::copy_from_slice(content)));
            }
            Some(_) if content == b"." && crlf => {
                let (_, body, over) = block.take().expect("in a block");
                frames.push(if over {
                    Frame::BlockTooLarge { size: 0 }
                } else {
                    Frame::Block(body.into())
                });
            }
            Some((_, _, true)) => {}
            Some((limit, body, over)) => {
                let content = content.strip_prefix(b".").unwrap_or(content);
                if body.len() + content.len() + 2 > *limit {
                    *over = true;
                } else {
                    body.extend_from_slice(content);
                    body.extend_from_slice(b"\r\n");
                }
            }
        }
    }
    frames
}

fn sizeless(frames: &[Frame]) -> Vec<Frame> {
    frames
        .iter()
        .map(|f| match f {
            Frame::BlockTooLarge { .. } => Frame::BlockTooLarge { size: 0 },
            other => other.clone(),
        })
        .collect()
}

/// Input: two bytes of settings, then the byte stream a client sends.
/// The first byte seeds the sizes of the pieces the stream is cut into,
/// the second bounds them (low 6 bits) and picks small limits (high bit)
/// or the real command-line limit.
///
/// Invariants: no frame passes its limit; frames come in the mode the
/// session asked for; the frames are the same whether the stream arrives at
/// once, byte by byte or in pieces of any sizes (a command or an article
/// cannot be split or merged, let alone smuggled, by how TCP segments it),
/// and they are those the framing rules give for the whole stream.
pub fn codec(data: &[u8]) {
    let [seed, shape, stream @ ..] = data else {
        return;
    };
    let limits = if shape & 0x80 != 0 {
        Limits {
            max_line: 32,
            max_block: 128,
            list_block: 64,
        }
    } else {
        Limits {
            max_line: command::MAX_COMMAND_LINE,
            max_block: 4096,
            list_block: 1024,
        }
    };
    let whole = feed(stream, || usize::MAX, limits);
    let bytewise = feed(stream, || 1, limits);
    assert_eq!(bytewise, whole, "byte by byte vs at once");
    let max_piece = 1 + usize::from(shape & 0x3f);
    let mut state = usize::from(*seed);
    let pieces = feed(
        stream,
        || {
            state = (state * 73 + 41) % 256;
            1 + state % max_piece
        },
        limits,
    );
    assert_eq!(pieces, whole, "in pieces of at most {max_piece} vs at once");
    assert_eq!(
        sizeless(&whole),
        sizeless(&model(stream, limits)),
        "the codec vs the framing rules"
    );
}

// -------------------------------------------------------------- command

/// Input: one command line as the codec delivers it (without CRLF).
///
/// Invariants: the keyword is case-insensitive and whitespace around words
/// does not matter; what is accepted as a message-id is one; and TAKETHIS,
/// XIHAVE and XRECONCILE always parse (their errors are carried inside the
/// command), because a block follows them whatever their arguments and the
/// session must read it to stay in sync.
pub fn command(data: &[u8]) {
    let parsed = command::parse(data);
    let keyword = data
        .split(|&b| b == b' ' || b == b'\t')
        .find(|w| !w.is_empty());
    if let Some(keyword) = keyword {
        let is = |name: &str| keyword.eq_ignore_ascii_case(name.as_bytes());
        if is("TAKETHIS") {
            assert!(
                matches!(parsed, Ok(Command::Takethis(_))),
                "TAKETHIS must be read with its article: {parsed:?}"
            );
        } else if is("XIHAVE") {
            assert!(
                matches!(parsed, Ok(Command::Xihave(_))),
                "XIHAVE must be read with its block: {parsed:?}"
            );
        } else if is("XRECONCILE") {
            assert!(
                matches!(parsed, Ok(Command::Xreconcile(_))),
                "XRECONCILE must be read with its block: {parsed:?}"
            );
        }
    }
    if let Ok(command) = &parsed {
        let id = match command {
            Command::Ihave(id) | Command::Check(id) | Command::Takethis(Ok(id)) => Some(id),
            Command::Retrieve {
                target: ArticleRef::MessageId(id),
                ..
            }
            | Command::Over(Selection::MessageId(id)) => Some(id),
            _ => None,
        };
        if let Some(id) = id {
            assert!(grammar::is_message_id(id), "accepted message-id {id:?}");
        }
    }
    // NEWGROUPS and NEWNEWS read the clock; the same line parsed twice may
    // differ in a two-digit year at a century's turn, nowhere else.
    let same = |other: &[u8], what: &str| {
        let again = command::parse(other);
        match (&parsed, &again) {
            (Ok(a), Ok(b)) => assert_eq!(a, b, "{what}"),
            (Err(a), Err(b)) => assert_eq!(
                std::mem::discriminant(a),
                std::mem::discriminant(b),
                "{what}: {a:?} vs {b:?}"
            ),
            _ => panic!("{what}: {parsed:?} vs {again:?}"),
        }
    };
    let mut padded = b" \t".to_vec();
    padded.extend_from_slice(data);
    padded.extend_from_slice(b"\t ");
    same(&padded, "surrounding whitespace");
    if let Some(keyword) = keyword {
        let start = keyword.as_ptr() as usize - data.as_ptr() as usize;
        for case in [u8::to_ascii_lowercase, u8::to_ascii_uppercase] {
            let mut other = data.to_vec();
            for b in &mut other[start..start + keyword.len()] {
                *b = case(b);
            }
            same(&other, "keyword case");
        }
    }
}

// -------------------------------------------------------------- article

/// Bare LFs made CRLF, as the codec delivers every line.
fn crlf(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len() + 16);
    for (i, &b) in raw.iter().enumerate() {
        if b == b'\n' && (i == 0 || raw[i - 1] != b'\r') {
            out.push(b'\r');
        }
        out.push(b);
    }
    out
}

/// Input: an article (headers, empty line, body).
///
/// Invariants: the head, the separator and the body are the article; an
/// article fit for transit is fit for POST and has a valid Message-ID and
/// newsgroups; and the signed (canonical) form does not change with what
/// relays may change: Path and Xref added, bare LFs made CRLF.
pub fn article(data: &[u8]) {
    let raw = Bytes::copy_from_slice(data);
    let Ok(article) = Article::parse(raw.clone()) else {
        return;
    };
    assert_eq!(article.raw(), &raw);
    let head = article.head();
    let body = article.body();
    assert!(raw.starts_with(&head) && raw.ends_with(&body));
    assert!(head.len() + body.len() <= raw.len());
    let lines = article.body_lines();
    assert!(lines <= body.len());
    assert_eq!(lines == 0, body.is_empty());
    for (name, span) in article.field_spans() {
        assert!(!name.is_empty());
        assert!(raw[span.clone()].starts_with(name));
        assert!(span.end <= head.len(), "a field runs past the head");
    }
    for name in [
        "Subject",
        "message-id",
        "NEWSGROUPS",
        "From",
        "Date",
        "Path",
        "Control",
        signing::HEADER,
    ] {
        let count = article.count(name);
        let value = article.header(name);
        assert_eq!(count == 0, value.is_none(), "{name}");
        if let Some(unfolded) = article.header_unfolded(name) {
            assert!(!unfolded.contains(&b'\n'));
        }
    }
    let groups = article.newsgroups();
    let transit = article.check(TRANSIT_REQUIRED);
    let post = article.check(POST_REQUIRED);
    if transit.is_ok() {
        assert_eq!(post, Ok(()), "fit for transit but not for POST");
        let id = article.message_id().expect("transit requires a Message-ID");
        assert!(grammar::is_article_message_id(&id));
        assert!(!groups.is_empty());
        assert!(groups.iter().all(|g| grammar::is_newsgroup_name(g)));
    }
    if let Some(control) = article.header_unfolded("Control") {
        let _ = control::parse(&control);
    }
    // An audience that parses names a key and a name its rule form gives
    // back (access.md §7.1).
    if let Some(value) = article.header_unfolded(audience::HEADER) {
        if let Ok(parsed) = Audience::parse_header(&value) {
            assert!(audience::valid_name(&parsed.name), "{parsed}");
            assert_eq!(Audience::parse_rule(&parsed.to_string()), Ok(parsed));
        }
    }

    let canonical = signing::canonical(&article);
    assert!(canonical.starts_with(b"tidings-signature-v1\r\n"));
    let mut relayed =
        b"Path: relay.example!not-for-mail\r\nXref: relay.example misc.test:1\r\n".to_vec();
    relayed.extend_from_slice(data);
    let relayed = Article::parse(Bytes::from(relayed)).expect("still parses with Path and Xref");
    assert_eq!(
        signing::canonical(&relayed),
        canonical,
        "Path and Xref changed the signed form"
    );
    let normalized = Article::parse(Bytes::from(crlf(data))).expect("still parses with CRLF");
    assert_eq!(
        signing::canonical(&normalized),
        canonical,
        "line endings changed the signed form"
    );
    match signing::claimed(&article) {
        Ok(claimed) => {
            assert_eq!(claimed.message, canonical);
            let id = article.message_id().expect("claimed needs a Message-ID");
            // A bound ID names the signer; a free one names no key (signing.md §3).
            assert!(signing::may_sign(&id, &claimed.field.key));
            // The relayed and normalized articles claim the same key over
            // the same bytes, so they verify exactly when this one does.
            for other in [&relayed, &normalized] {
                let again = signing::claimed(other).expect("claimed as before");
                assert_eq!(again.field, claimed.field);
                assert_eq!(again.message, claimed.message);
            }
            if let Ok(key) = claimed.verify() {
                assert_eq!(key, claimed.field.key);
            }
        }
        Err(signing::SigError::Missing) => assert_eq!(article.count(signing::HEADER), 0),
        Err(_) => {}
    }
}

// -------------------------------------------------------------- control

/// Input: the value of a Control header.
///
/// Invariants: what parses names valid newsgroups and message-ids, and its
/// plain written form parses to the same control message; the verb is
/// case-insensitive.
pub fn control(data: &[u8]) {
    let Ok(parsed) = control::parse(data) else {
        return;
    };
    match &parsed {
        Control::NewGroup { name, .. }
        | Control::ModGroup { name, .. }
        | Control::RmGroup(name)
        | Control::LocalRmGroup(name)
        | Control::Move { to: name, .. } => {
            assert!(grammar::is_newsgroup_name(name.as_bytes()), "{name:?}")
        }
        _ => {}
    }
    match &parsed {
        Control::Cancel(id)
        | Control::LocalRemove(id)
        | Control::LocalApprove(id)
        | Control::LocalRefuseThread(id)
        | Control::Move { message_id: id, .. } => {
            assert!(grammar::is_article_message_id(id), "{id:?}")
        }
        _ => {}
    }
    assert_eq!(
        parsed.is_local(),
        matches!(
            parsed,
            Control::LocalRemove(_)
                | Control::LocalRmGroup(_)
                | Control::LocalApprove(_)
                | Control::LocalRefuseThread(_)
                | Control::LocalFileRemove(_)
                | Control::LocalFilePin { .. }
        )
    );
    let text = parsed.to_string();
    assert_eq!(
        control::parse(text.as_bytes()).as_ref(),
        Ok(&parsed),
        "{text:?}"
    );
    assert_eq!(
        control::parse(text.to_ascii_uppercase().as_bytes()).map(|c| std::mem::discriminant(&c)),
        Ok(std::mem::discriminant(&parsed)),
        "upper case {text:?}"
    );
}

// ------------------------------------------------------------ signature

/// Input: the value of a Tidings-Signature header.
///
/// Invariant: what parses writes back (`to_value`) to a value that parses
/// to the same field and writes back the same.
pub fn signature(data: &[u8]) {
    let Ok(field) = SignatureField::parse(data) else {
        return;
    };
    let value = field.to_value();
    let again = SignatureField::parse(value.as_bytes()).expect("to_value parses");
    assert_eq!(again, field, "{value:?}");
    assert_eq!(again.to_value(), value);
    assert_eq!(value.len(), "ed25519".len() + 1 + 64 + 1 + 128);
}

// ------------------------------------------------------------- file_ref

/// Input: a `Tidings-File` header value, or the text of XFILE's `294`
/// line (both are tried).
///
/// Invariants: what parses writes back to a value that parses to the same
/// reference and writes back the same; the media type is lower-case; a
/// piece lies within its file.
pub fn file_ref(data: &[u8]) {
    if let Ok(piece) = crate::file_ref::Piece::parse(data) {
        assert!(piece.offset + piece.count <= piece.size);
        let again =
            crate::file_ref::Piece::parse(piece.to_text().as_bytes()).expect("to_text parses");
        assert_eq!(again, piece);
    }
    let Ok(file) = crate::file_ref::FileRef::parse(data) else {
        return;
    };
    assert_eq!(file.media_type, file.media_type.to_ascii_lowercase());
    let value = file.to_value();
    let again = crate::file_ref::FileRef::parse(value.as_bytes()).expect("to_value parses");
    assert_eq!(again, file, "{value:?}");
    assert_eq!(again.to_value(), value);
}

// ------------------------------------------------------------ reconcile

/// Input: one entry line of an XRECONCILE block (without CRLF).
///
/// Invariants: what parses keeps the limits of sync.md (range depth, LEAF
/// tags, IDS_PER_LINE message-ids), encodes to one CRLF-terminated line, and
/// that line parses to the same entry and encodes the same.
pub fn reconcile(data: &[u8]) {
    let Ok(entry) = Entry::parse(data) else {
        return;
    };
    assert!(entry.range().depth() <= MAX_DEPTH);
    match &entry {
        Entry::List { tags, .. } => assert!(tags.len() <= LEAF),
        Entry::Need { tags, .. } => assert!((1..=LEAF).contains(&tags.len())),
        Entry::Have { ids, .. } => {
            assert!((1..=IDS_PER_LINE).contains(&ids.len()));
            assert!(ids.iter().all(|id| grammar::is_message_id(id)));
        }
        Entry::Fingerprint { .. } | Entry::Split { .. } => {}
    }
    let mut line = Vec::new();
    entry.encode(&mut line);
    let body = line
        .strip_suffix(b"\r\n")
        .expect("an entry line ends in CRLF");
    assert!(!body.contains(&b'\r') && !body.contains(&b'\n'));
    let again = Entry::parse(body).expect("an encoded entry parses");
    assert_eq!(again, entry, "{:?}", String::from_utf8_lossy(body));
    let mut second = Vec::new();
    again.encode(&mut second);
    assert_eq!(second, line);
}

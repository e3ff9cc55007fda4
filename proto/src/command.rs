//! The command table and the command-line parser. One table gives each
//! command's name, syntax, argument counts and help text, so dispatch, HELP
//! and argument checking cannot drift apart.

use chrono::{DateTime, Utc};

use super::grammar::{self, Range};
use super::wildmat::Wildmat;

/// Longest command line in octets, CRLF included (RFC 3977 §3.1).
pub const MAX_COMMAND_LINE: usize = 512;

/// Which article a retrieval command names (RFC 3977 §6.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ArticleRef {
    Current,
    Number(u64),
    MessageId(Vec<u8>),
}

/// The range-or-message-id argument of OVER and HDR (RFC 3977 §8.3, §8.5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selection {
    Current,
    Range(Range),
    MessageId(Vec<u8>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    Article,
    Head,
    Body,
    Stat,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListKind {
    Active(Option<Wildmat>),
    Newsgroups(Option<Wildmat>),
    OverviewFmt,
    Headers,
    /// LIST X-TIDINGS-FILES [wildmat] (files.md §2): each board's file
    /// limits.
    FileLimits(Option<Wildmat>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Capabilities,
    ModeReader,
    ModeStream,
    Quit,
    Help,
    Date,
    List(ListKind),
    Group(Vec<u8>),
    ListGroup {
        group: Option<Vec<u8>>,
        range: Option<Range>,
    },
    Retrieve {
        part: Part,
        target: ArticleRef,
    },
    Next,
    Last,
    NewGroups {
        since: DateTime<Utc>,
    },
    NewNews {
        groups: Wildmat,
        since: DateTime<Utc>,
    },
    Over(Selection),
    Hdr {
        field: Vec<u8>,
        selection: Selection,
    },
    Post,
    Ihave(Vec<u8>),
    Check(Vec<u8>),
    /// TAKETHIS is always followed by an article, even when its argument is
    /// bad, so the session must read that article to stay in sync. A bad
    /// argument is carried as the reason to give once it has.
    Takethis(Result<Vec<u8>, String>),
    /// XPEER (protocol-spec/peering.md §2): first a name, then the name and
    /// the signature of the challenge.
    Xpeer {
        name: String,
        signature: Option<[u8; 64]>,
    },
    /// STARTTLS (RFC 4642): switch this connection to TLS.
    StartTls,
    /// XIHAVE (protocol-spec/sync.md §4): a block of Message-IDs follows at
    /// once, as an article follows TAKETHIS; a bad argument is carried as
    /// the reason to give once the block is read.
    Xihave(Result<(), String>),
    /// XRECONCILE newsgroup (sync.md §3): a block of entries follows at once.
    Xreconcile(Result<String, String>),
    /// XSYNC peer (sync.md §5): catch up with a configured peer now.
    Xsync(String),
    /// XSTATE (protocol-spec/state.md §5): the digest of the derived state.
    Xstate,
    /// XAUTHKEY key [signature] (protocol-spec/access.md §3.2): log in as
    /// a passport key by signing a challenge.
    Xauthkey {
        key: [u8; 32],
        signature: Option<[u8; 64]>,
    },
    /// AUTHINFO USER name (RFC 4643 §2.3).
    AuthinfoUser(String),
    /// AUTHINFO PASS password (RFC 4643 §2.3): the rest of the line, so a
    /// password may hold spaces.
    AuthinfoPass(String),
    /// XFILE sha256 [offset [count]] (protocol-spec/files.md §6): a piece
    /// of a file's bytes.
    Xfile {
        hash: [u8; 32],
        offset: u64,
        /// None: as much as one reply carries.
        count: Option<u64>,
    },
}

/// One row of the command table.
pub struct Spec {
    pub name: &'static str,
    /// Shown by HELP and in 501 replies.
    pub syntax: &'static str,
    pub summary: &'static str,
    min_args: usize,
    max_args: usize,
    parse: fn(&[&[u8]]) -> Result<Command, String>,
}

/// Every command we answer, in the order HELP lists them.
pub static COMMANDS: &[Spec] = &[
    Spec {
        name: "ARTICLE",
        syntax: "ARTICLE [message-id|number]",
        summary: "send an article",
        min_args: 0,
        max_args: 1,
        parse: |a| retrieve(Part::Article, a),
    },
    Spec {
        name: "AUTHINFO",
        syntax: "AUTHINFO USER name | AUTHINFO PASS password",
        summary: "log in as a reader (RFC 4643)",
        min_args: 2,
        max_args: usize::MAX,
        // parse() reads AUTHINFO from its whole line (a password keeps its
        // spaces); this row is for HELP and the argument count.
        parse: |a| authinfo(a[0], &a[1..].join(&b' ')),
    },
    Spec {
        name: "BODY",
        syntax: "BODY [message-id|number]",
        summary: "send an article's body",
        min_args: 0,
        max_args: 1,
        parse: |a| retrieve(Part::Body, a),
    },
    Spec {
        name: "CAPABILITIES",
        syntax: "CAPABILITIES [keyword]",
        summary: "list the server's capabilities",
        min_args: 0,
        max_args: 1,
        parse: |_| Ok(Command::Capabilities),
    },
    Spec {
        name: "CHECK",
        syntax: "CHECK message-id",
        summary: "ask whether the server wants an article (streaming)",
        min_args: 1,
        max_args: 1,
        parse: |a| message_id_arg(a[0]).map(Command::Check),
    },
    Spec {
        name: "DATE",
        syntax: "DATE",
        summary: "show the server's UTC time",
        min_args: 0,
        max_args: 0,
        parse: |_| Ok(Command::Date),
    },
    Spec {
        name: "GROUP",
        syntax: "GROUP newsgroup",
        summary: "select a newsgroup",
        min_args: 1,
        max_args: 1,
        parse: |a| Ok(Command::Group(a[0].to_vec())),
    },
    Spec {
        name: "HDR",
        syntax: "HDR field [message-id|range]",
        summary: "send one header field of articles",
        min_args: 1,
        max_args: 2,
        parse: |a| hdr(a),
    },
    Spec {
        name: "HEAD",
        syntax: "HEAD [message-id|number]",
        summary: "send an article's headers",
        min_args: 0,
        max_args: 1,
        parse: |a| retrieve(Part::Head, a),
    },
    Spec {
        name: "HELP",
        syntax: "HELP",
        summary: "show this list",
        min_args: 0,
        max_args: 0,
        parse: |_| Ok(Command::Help),
    },
    Spec {
        name: "IHAVE",
        syntax: "IHAVE message-id",
        summary: "offer an article to the server",
        min_args: 1,
        max_args: 1,
        parse: |a| message_id_arg(a[0]).map(Command::Ihave),
    },
    Spec {
        name: "LAST",
        syntax: "LAST",
        summary: "move to the previous article",
        min_args: 0,
        max_args: 0,
        parse: |_| Ok(Command::Last),
    },
    Spec {
        name: "LIST",
        syntax: "LIST [ACTIVE [wildmat]|NEWSGROUPS [wildmat]|OVERVIEW.FMT|HEADERS]",
        summary: "list newsgroups or server information",
        min_args: 0,
        max_args: 2,
        parse: list,
    },
    Spec {
        name: "LISTGROUP",
        syntax: "LISTGROUP [newsgroup [range]]",
        summary: "list the article numbers of a newsgroup",
        min_args: 0,
        max_args: 2,
        parse: listgroup,
    },
    Spec {
        name: "MODE",
        syntax: "MODE READER|STREAM",
        summary: "switch to reader or streaming mode",
        min_args: 1,
        max_args: 1,
        parse: mode,
    },
    Spec {
        name: "NEWGROUPS",
        syntax: "NEWGROUPS yyyymmdd hhmmss [GMT]",
        summary: "list newsgroups created since a time",
        min_args: 2,
        max_args: 3,
        parse: |a| since(a).map(|since| Command::NewGroups { since }),
    },
    Spec {
        name: "NEWNEWS",
        syntax: "NEWNEWS wildmat yyyymmdd hhmmss [GMT]",
        summary: "list message-ids of articles that arrived since a time",
        min_args: 3,
        max_args: 4,
        parse: newnews,
    },
    Spec {
        name: "NEXT",
        syntax: "NEXT",
        summary: "move to the next article",
        min_args: 0,
        max_args: 0,
        parse: |_| Ok(Command::Next),
    },
    Spec {
        name: "OVER",
        syntax: "OVER [message-id|range]",
        summary: "send overview data of articles",
        min_args: 0,
        max_args: 1,
        parse: |a| selection(a.first().copied()).map(Command::Over),
    },
    Spec {
        name: "POST",
        syntax: "POST",
        summary: "post an article",
        min_args: 0,
        max_args: 0,
        parse: |_| Ok(Command::Post),
    },
    Spec {
        name: "QUIT",
        syntax: "QUIT",
        summary: "close the connection",
        min_args: 0,
        max_args: 0,
        parse: |_| Ok(Command::Quit),
    },
    Spec {
        name: "STAT",
        syntax: "STAT [message-id|number]",
        summary: "check that an article exists",
        min_args: 0,
        max_args: 1,
        parse: |a| retrieve(Part::Stat, a),
    },
    Spec {
        name: "STARTTLS",
        syntax: "STARTTLS",
        summary: "switch the connection to TLS (RFC 4642)",
        min_args: 0,
        max_args: 0,
        parse: |_| Ok(Command::StartTls),
    },
    Spec {
        name: "TAKETHIS",
        syntax: "TAKETHIS message-id",
        summary: "send an article without asking first (streaming)",
        min_args: 0,
        max_args: usize::MAX,
        parse: takethis,
    },
    Spec {
        name: "XIHAVE",
        syntax: "XIHAVE, then message-ids, one a line, ending with \".\"",
        summary: "offer many articles; the reply names those wanted (tidings)",
        min_args: 0,
        max_args: usize::MAX,
        parse: |a| {
            Ok(Command::Xihave(if a.is_empty() {
                Ok(())
            } else {
                Err("XIHAVE takes no arguments".into())
            }))
        },
    },
    Spec {
        name: "XOVER",
        syntax: "XOVER [range]",
        summary: "same as OVER (RFC 2980)",
        min_args: 0,
        max_args: 1,
        parse: |a| selection(a.first().copied()).map(Command::Over),
    },
    Spec {
        name: "XPEER",
        syntax: "XPEER name [signature]",
        summary: "authenticate as a configured peer (tidings)",
        min_args: 1,
        max_args: 2,
        parse: xpeer,
    },
    Spec {
        name: "XRECONCILE",
        syntax: "XRECONCILE newsgroup, then entries, ending with \".\"",
        summary: "compare a newsgroup's articles by ranges (tidings)",
        min_args: 0,
        max_args: usize::MAX,
        parse: xreconcile,
    },
    Spec {
        name: "XAUTHKEY",
        syntax: "XAUTHKEY key [signature]",
        summary: "log in as a passport key by signing a challenge (tidings)",
        min_args: 1,
        max_args: 2,
        parse: xauthkey,
    },
    Spec {
        name: "XFILE",
        syntax: "XFILE sha256 [offset [count]]",
        summary: "a piece of a file's bytes, length-prefixed (tidings)",
        min_args: 1,
        max_args: 3,
        parse: xfile,
    },
    Spec {
        name: "XSTATE",
        syntax: "XSTATE",
        summary: "digest of boards, filings, keys and waiting posts (tidings)",
        min_args: 0,
        max_args: 0,
        parse: |_| Ok(Command::Xstate),
    },
    Spec {
        name: "XSYNC",
        syntax: "XSYNC peer",
        summary: "catch up with a configured peer now (from this host only)",
        min_args: 1,
        max_args: 1,
        parse: |a| {
            std::str::from_utf8(a[0])
                .map(|name| Command::Xsync(name.to_string()))
                .map_err(|_| "peer name must be ASCII".into())
        },
    },
];

/// `AUTHINFO USER|PASS <argument>` from the whole line: the argument is
/// everything after the one space that follows the subcommand.
fn authinfo_line(line: &[u8]) -> Result<Command, ParseError> {
    let syntax = |why: &str| {
        ParseError::Syntax(format!(
            "{why}; syntax: AUTHINFO USER name | AUTHINFO PASS password"
        ))
    };
    let line = line.trim_ascii_start();
    let rest = line.get("AUTHINFO".len()..).unwrap_or_default();
    let rest = rest
        .strip_prefix(b" ")
        .ok_or_else(|| syntax("no subcommand"))?;
    let (sub, argument) = match rest.iter().position(|&b| b == b' ') {
        Some(at) => (&rest[..at], &rest[at + 1..]),
        None => (rest, &b""[..]),
    };
    if argument.is_empty() {
        return Err(syntax("no argument"));
    }
    authinfo(sub, argument).map_err(|why| syntax(&why))
}

fn authinfo(sub: &[u8], argument: &[u8]) -> Result<Command, String> {
    if argument.iter().any(|&b| b < 0x20 || b == 0x7f) {
        return Err("the argument may not contain control characters".into());
    }
    let argument = String::from_utf8(argument.to_vec())
        .map_err(|_| "the argument is not UTF-8".to_string())?;
    if grammar::keyword(sub, "USER") {
        Ok(Command::AuthinfoUser(argument))
    } else if grammar::keyword(sub, "PASS") {
        Ok(Command::AuthinfoPass(argument))
    } else {
        Err("only USER and PASS are offered (no SASL)".into())
    }
}

/// XFILE's arguments: a SHA-256 in 64 hex digits (either case), then
/// decimal numbers.
fn xfile(args: &[&[u8]]) -> Result<Command, String> {
    let hash = std::str::from_utf8(args[0])
        .ok()
        .and_then(crate::file_ref::parse_sha256)
        .ok_or("the file is named by its SHA-256 in 64 hex digits")?;
    let number = |arg: &[u8], what: &str| {
        std::str::from_utf8(arg)
            .ok()
            .filter(|t| !t.is_empty() && t.len() <= 19 && t.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|t| t.parse::<u64>().ok())
            .ok_or_else(|| format!("{what} must be a decimal number"))
    };
    let offset = match args.get(1) {
        Some(arg) => number(arg, "the offset")?,
        None => 0,
    };
    let count = match args.get(2) {
        Some(arg) => Some(number(arg, "the count")?),
        None => None,
    };
    Ok(Command::Xfile {
        hash,
        offset,
        count,
    })
}

/// Why a command line could not be turned into a command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParseError {
    /// 500: the keyword names no command we know.
    Unknown(String),
    /// 501: the command is known but its arguments are not right.
    Syntax(String),
}

/// Parses one command line (without its CRLF).
///
/// `command-line = command-keyword *(WS token)` (RFC 3977 §9.2); keywords
/// are case-insensitive, arguments are separated by spaces or tabs.
pub fn parse(line: &[u8]) -> Result<Command, ParseError> {
    let mut words = line
        .split(|&b| b == b' ' || b == b'\t')
        .filter(|w| !w.is_empty());
    let Some(keyword) = words.next() else {
        return Err(ParseError::Unknown(
            "empty command line; HELP lists the commands".into(),
        ));
    };
    if grammar::keyword(keyword, "AUTHINFO") {
        return authinfo_line(line);
    }
    let args: Vec<&[u8]> = words.collect();
    let Some(spec) = lookup(keyword) else {
        let shown = String::from_utf8_lossy(&keyword[..keyword.len().min(32)]).into_owned();
        return Err(ParseError::Unknown(format!(
            "unknown command {shown:?}; HELP lists the commands"
        )));
    };
    let refused = if args
        .iter()
        .any(|a| a.iter().any(|&b| b < 0x20 || b == 0x7f))
    {
        Some(format!(
            "{}: arguments may not contain control characters",
            spec.name
        ))
    } else if args.len() < spec.min_args || args.len() > spec.max_args {
        Some(format!(
            "wrong number of arguments; syntax: {}",
            spec.syntax
        ))
    } else {
        None
    };
    if let Some(why) = refused {
        return match block_follows(spec) {
            Some(carry) => Ok(carry(why)),
            None => Err(ParseError::Syntax(why)),
        };
    }
    (spec.parse)(&args).map_err(|why| ParseError::Syntax(format!("{why}; syntax: {}", spec.syntax)))
}

/// TAKETHIS, XIHAVE and XRECONCILE are followed by a block whatever their
/// arguments, so even a refused line must parse (the reason carried inside
/// the command): otherwise the session would not read the block and would
/// run its lines as commands.
fn block_follows(spec: &Spec) -> Option<fn(String) -> Command> {
    match spec.name {
        "TAKETHIS" => Some(|why| Command::Takethis(Err(why))),
        "XIHAVE" => Some(|why| Command::Xihave(Err(why))),
        "XRECONCILE" => Some(|why| Command::Xreconcile(Err(why))),
        _ => None,
    }
}

fn lookup(keyword: &[u8]) -> Option<&'static Spec> {
    COMMANDS
        .iter()
        .find(|spec| spec.name.as_bytes().eq_ignore_ascii_case(keyword))
}

fn message_id_arg(arg: &[u8]) -> Result<Vec<u8>, String> {
    if grammar::is_message_id(arg) {
        Ok(arg.to_vec())
    } else {
        Err("not a message-id (expected <...>, at most 250 octets)".into())
    }
}

fn retrieve(part: Part, args: &[&[u8]]) -> Result<Command, String> {
    let target = match args.first() {
        None => ArticleRef::Current,
        Some(arg) if arg.starts_with(b"<") => ArticleRef::MessageId(message_id_arg(arg)?),
        Some(arg) => match grammar::range(arg) {
            Ok((_, Range { lo, hi: Some(hi) })) if lo == hi => ArticleRef::Number(lo),
            _ => return Err("not an article number or message-id".into()),
        },
    };
    Ok(Command::Retrieve { part, target })
}

fn selection(arg: Option<&[u8]>) -> Result<Selection, String> {
    match arg {
        None => Ok(Selection::Current),
        Some(arg) if arg.starts_with(b"<") => Ok(Selection::MessageId(message_id_arg(arg)?)),
        Some(arg) => grammar::range(arg)
            .map(|(_, range)| Selection::Range(range))
            .map_err(|_| "not a range (n, n- or n-m) or message-id".into()),
    }
}

fn hdr(args: &[&[u8]]) -> Result<Command, String> {
    let field = args[0];
    if field.contains(&b':') && !(field.starts_with(b":") && field.len() > 1) {
        return Err("field name may only start with ':' (as in :bytes)".into());
    }
    Ok(Command::Hdr {
        field: field.to_vec(),
        selection: selection(args.get(1).copied())?,
    })
}

fn optional_wildmat(arg: Option<&&[u8]>) -> Result<Option<Wildmat>, String> {
    arg.map(|a| Wildmat::parse(a)).transpose()
}

fn list(args: &[&[u8]]) -> Result<Command, String> {
    let Some(keyword) = args.first() else {
        return Ok(Command::List(ListKind::Active(None)));
    };
    let kind = if grammar::keyword(keyword, "ACTIVE") {
        ListKind::Active(optional_wildmat(args.get(1))?)
    } else if grammar::keyword(keyword, "NEWSGROUPS") {
        ListKind::Newsgroups(optional_wildmat(args.get(1))?)
    } else if grammar::keyword(keyword, "OVERVIEW.FMT") && args.len() == 1 {
        ListKind::OverviewFmt
    } else if grammar::keyword(keyword, "HEADERS") {
        // RFC 3977 §8.6 allows an optional MSGID or RANGE argument; our
        // answer is the same for both.
        match args.get(1) {
            None => ListKind::Headers,
            Some(arg) if grammar::keyword(arg, "MSGID") || grammar::keyword(arg, "RANGE") => {
                ListKind::Headers
            }
            Some(_) => return Err("LIST HEADERS takes MSGID or RANGE".into()),
        }
    } else if grammar::keyword(keyword, "X-TIDINGS-FILES") {
        ListKind::FileLimits(optional_wildmat(args.get(1))?)
    } else {
        return Err(
            "unknown LIST keyword (ACTIVE, NEWSGROUPS, OVERVIEW.FMT, HEADERS and X-TIDINGS-FILES are supported)"
                .into(),
        );
    };
    Ok(Command::List(kind))
}

fn listgroup(args: &[&[u8]]) -> Result<Command, String> {
    let range = match args.get(1) {
        None => None,
        Some(arg) => Some(
            grammar::range(arg)
                .map(|(_, r)| r)
                .map_err(|_| "not a range (n, n- or n-m)")?,
        ),
    };
    Ok(Command::ListGroup {
        group: args.first().map(|g| g.to_vec()),
        range,
    })
}

fn mode(args: &[&[u8]]) -> Result<Command, String> {
    if grammar::keyword(args[0], "READER") {
        Ok(Command::ModeReader)
    } else if grammar::keyword(args[0], "STREAM") {
        Ok(Command::ModeStream)
    } else {
        Err("unknown mode (READER and STREAM are supported)".into())
    }
}

fn since(args: &[&[u8]]) -> Result<DateTime<Utc>, String> {
    grammar::parse_since(args[0], args[1], args.get(2).copied(), Utc::now())
}

fn newnews(args: &[&[u8]]) -> Result<Command, String> {
    let groups = Wildmat::parse(args[0])?;
    Ok(Command::NewNews {
        groups,
        since: since(&args[1..])?,
    })
}

fn xpeer(args: &[&[u8]]) -> Result<Command, String> {
    let name = std::str::from_utf8(args[0])
        .map_err(|_| "peer name must be ASCII")?
        .to_string();
    let signature = match args.get(1) {
        None => None,
        Some(hex_text) => Some(
            std::str::from_utf8(hex_text)
                .ok()
                .and_then(|t| hex::decode(t).ok())
                .and_then(|b| <[u8; 64]>::try_from(b).ok())
                .ok_or("signature must be 128 hex digits")?,
        ),
    };
    Ok(Command::Xpeer { name, signature })
}

fn xauthkey(args: &[&[u8]]) -> Result<Command, String> {
    let hex32 = |arg: &[u8]| {
        std::str::from_utf8(arg)
            .ok()
            .and_then(crate::file_ref::parse_sha256)
    };
    let key = hex32(args[0]).ok_or("the key is 64 hex digits")?;
    let signature = match args.get(1) {
        None => None,
        Some(text) => Some(
            std::str::from_utf8(text)
                .ok()
                .filter(|t| t.len() == 128)
                .and_then(|t| hex::decode(t).ok())
                .and_then(|b| <[u8; 64]>::try_from(b).ok())
                .ok_or("the signature is 128 hex digits")?,
        ),
    };
    Ok(Command::Xauthkey { key, signature })
}

fn takethis(args: &[&[u8]]) -> Result<Command, String> {
    let id = match args {
        [id] => message_id_arg(id),
        _ => Err("TAKETHIS takes exactly one message-id".to_string()),
    };
    Ok(Command::Takethis(id))
}

fn xreconcile(args: &[&[u8]]) -> Result<Command, String> {
    let group = match args {
        [group] if grammar::is_newsgroup_name(group) => {
            Ok(String::from_utf8_lossy(group).into_owned())
        }
        [_] => Err("not a newsgroup name".to_string()),
        _ => Err("XRECONCILE takes exactly one newsgroup".to_string()),
    };
    Ok(Command::Xreconcile(group))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(line: &str) -> Command {
        parse(line.as_bytes()).unwrap_or_else(|e| panic!("{line}: {e:?}"))
    }

    fn syntax(line: &str) {
        assert!(
            matches!(parse(line.as_bytes()), Err(ParseError::Syntax(_))),
            "{line}"
        );
    }

    #[test]
    fn keywords_are_case_insensitive_and_tabs_separate() {
        assert_eq!(ok("date"), Command::Date);
        assert_eq!(
            ok("GrOuP\tmisc.test"),
            Command::Group(b"misc.test".to_vec())
        );
        assert_eq!(ok("mode  reader"), Command::ModeReader);
    }

    #[test]
    fn unknown_and_empty_are_500() {
        assert!(matches!(parse(b"FROB"), Err(ParseError::Unknown(_))));
        assert!(matches!(parse(b""), Err(ParseError::Unknown(_))));
        assert!(matches!(parse(b"\x00\x01"), Err(ParseError::Unknown(_))));
    }

    #[test]
    fn argument_errors_are_501() {
        syntax("DATE now");
        syntax("GROUP");
        syntax("ARTICLE abc");
        syntax("ARTICLE <no-close");
        syntax("ARTICLE 1-5");
        // article-number = 1*16DIGIT (RFC 3977 §9.8).
        syntax("ARTICLE 10000000000000000");
        syntax("OVER 1-10000000000000000");
        syntax("LISTGROUP misc.test 10000000000000000-");
        syntax("OVER 5-x");
        syntax("MODE FAST");
        syntax("LIST FOO");
        syntax("IHAVE");
        syntax("CHECK foo");
        syntax("NEWNEWS * 20261122");
        syntax("NEWGROUPS 2026112 000000");
        syntax("HDR Sub:ject 1");
        syntax("GROUP a\x00b");
    }

    #[test]
    fn retrieval_targets() {
        assert_eq!(
            ok("ARTICLE"),
            Command::Retrieve {
                part: Part::Article,
                target: ArticleRef::Current
            }
        );
        assert_eq!(
            ok("HEAD 42"),
            Command::Retrieve {
                part: Part::Head,
                target: ArticleRef::Number(42)
            }
        );
        assert_eq!(
            ok("STAT <a@b>"),
            Command::Retrieve {
                part: Part::Stat,
                target: ArticleRef::MessageId(b"<a@b>".to_vec())
            }
        );
    }

    #[test]
    fn over_and_hdr_selections() {
        assert_eq!(
            ok("OVER 3-"),
            Command::Over(Selection::Range(Range { lo: 3, hi: None }))
        );
        assert_eq!(ok("XOVER"), Command::Over(Selection::Current));
        assert_eq!(
            ok("HDR :bytes <x@y>"),
            Command::Hdr {
                field: b":bytes".to_vec(),
                selection: Selection::MessageId(b"<x@y>".to_vec())
            }
        );
    }

    #[test]
    fn list_variants() {
        assert_eq!(ok("LIST"), Command::List(ListKind::Active(None)));
        assert!(matches!(
            ok("list active comp.*"),
            Command::List(ListKind::Active(Some(_)))
        ));
        assert_eq!(
            ok("LIST OVERVIEW.FMT"),
            Command::List(ListKind::OverviewFmt)
        );
        assert_eq!(ok("LIST HEADERS MSGID"), Command::List(ListKind::Headers));
        assert_eq!(
            ok("list x-tidings-files"),
            Command::List(ListKind::FileLimits(None))
        );
        assert!(matches!(
            ok("LIST X-TIDINGS-FILES chan.*"),
            Command::List(ListKind::FileLimits(Some(_)))
        ));
    }

    #[test]
    fn takethis_always_parses_so_the_article_is_read() {
        assert_eq!(
            ok("TAKETHIS <a@b>"),
            Command::Takethis(Ok(b"<a@b>".to_vec()))
        );
        assert!(matches!(ok("TAKETHIS"), Command::Takethis(Err(_))));
        assert!(matches!(ok("TAKETHIS nope"), Command::Takethis(Err(_))));
    }

    #[test]
    fn commands_followed_by_a_block_parse_despite_control_characters() {
        // Found by fuzzing (fuzz/regressions/command): a stray CR or another
        // control character made these a 501, and the session then ran the
        // article or entries that followed as commands.
        assert!(matches!(ok("TAKETHIS <a@b>\r"), Command::Takethis(Err(_))));
        assert!(matches!(
            ok("takethis <a\x01b@c>"),
            Command::Takethis(Err(_))
        ));
        assert!(matches!(ok("XIHAVE \x7f"), Command::Xihave(Err(_))));
        assert!(matches!(ok("xstate"), Command::Xstate));
        let hash = "B94D27B9934D3E08A52E52D7DA7DABFAC484EFE37A5380EE9088F7ACE2EFCDE9";
        match ok(&format!("XFILE {hash} 100 4096")) {
            Command::Xfile {
                hash: h,
                offset: 100,
                count: Some(4096),
            } => assert_eq!(h[..2], [0xb9, 0x4d]),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            ok(&format!("xfile {}", hash.to_lowercase())),
            Command::Xfile {
                offset: 0,
                count: None,
                ..
            }
        ));
        syntax("XFILE abc");
        syntax(&format!("XFILE {hash} -1"));
        syntax(&format!("XFILE {hash} 1 x"));
        syntax(&format!("XFILE {hash} 99999999999999999999"));
        syntax(&format!("XFILE {hash} 1 2 3"));
        assert_eq!(ok("AUTHINFO USER ann"), Command::AuthinfoUser("ann".into()));
        assert_eq!(
            ok("authinfo pass two  spaced words "),
            Command::AuthinfoPass("two  spaced words ".into())
        );
        syntax("AUTHINFO");
        syntax("AUTHINFO USER");
        syntax("AUTHINFO SASL PLAIN");
        syntax("AUTHINFO PASS a\x01b");
        let key = "8a88e3dd7409f195fd52db2d3cba5d72ca6709bf1d94121bf3748801b40f6f5c";
        assert!(matches!(
            ok(&format!("XAUTHKEY {key}")),
            Command::Xauthkey {
                signature: None,
                ..
            }
        ));
        assert!(matches!(
            ok(&format!("xauthkey {key} {}", "ab".repeat(64))),
            Command::Xauthkey {
                signature: Some(_),
                ..
            }
        ));
        syntax("XAUTHKEY abc");
        syntax(&format!("XAUTHKEY {key} abcd"));
        syntax("XSTATE boards");
        assert!(matches!(
            ok("XRECONCILE te\x00st"),
            Command::Xreconcile(Err(_))
        ));
        syntax("GROUP a\x01b");
        syntax("IHAVE <a@b>\r");
    }

    #[test]
    fn xpeer_forms() {
        assert_eq!(
            ok("XPEER n1.test"),
            Command::Xpeer {
                name: "n1.test".into(),
                signature: None
            }
        );
        let sig = "ab".repeat(64);
        assert_eq!(
            ok(&format!("XPEER n1 {sig}")),
            Command::Xpeer {
                name: "n1".into(),
                signature: Some([0xab; 64])
            }
        );
        syntax("XPEER n1 abcd");
        syntax("XPEER");
    }

    #[test]
    fn starttls_takes_no_arguments() {
        assert_eq!(ok("starttls"), Command::StartTls);
        syntax("STARTTLS now");
    }

    #[test]
    fn every_command_has_help() {
        for spec in COMMANDS {
            assert!(spec.syntax.starts_with(spec.name));
            assert!(!spec.summary.is_empty());
        }
    }
}

//! The commands we send, each encoded to its exact wire bytes. Every
//! argument is checked against its grammar first, so a Message-ID or a
//! name taken from a peer, a config file or a command line can never add a
//! command of its own (a CR or LF), cut one short (a NUL) or shift the
//! arguments (a space).

use chrono::{DateTime, Utc};

use crate::proto::command::MAX_COMMAND_LINE;
use crate::proto::grammar::is_message_id;
use crate::proto::reconcile::Entry;

use super::block::put_data_block;

/// One command, with what follows its line at once (an article after
/// TAKETHIS, a block after XRECONCILE and XIHAVE). Data sent only after the
/// server asked for it (IHAVE's 335, POST's 340) is written with
/// [`put_data_block`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command<'a> {
    /// `CAPABILITIES` (RFC 3977 §5.2).
    Capabilities,
    /// `MODE READER` (RFC 3977 §5.3).
    ModeReader,
    /// `MODE STREAM` (RFC 4644 §2.3).
    ModeStream,
    /// `STARTTLS` (RFC 4642 §2.2).
    StartTls,
    /// `DATE` (RFC 3977 §7.1): the feeder's idle probe.
    Date,
    /// `QUIT` (RFC 3977 §5.4).
    Quit,
    /// `POST` (RFC 3977 §6.3.1); the article follows the 340.
    Post,
    /// `CHECK message-id` (RFC 4644 §2.4).
    Check(&'a [u8]),
    /// `TAKETHIS message-id`, then the article dot-stuffed and terminated
    /// (RFC 4644 §2.5). `article` is the article itself, CRLF lines.
    Takethis { id: &'a [u8], article: &'a [u8] },
    /// `IHAVE message-id` (RFC 3977 §6.3.2); the article follows the 335.
    Ihave(&'a [u8]),
    /// `ARTICLE message-id` (RFC 3977 §6.2.1).
    Article(&'a [u8]),
    /// `NEWNEWS wildmat yyyymmdd hhmmss GMT` (RFC 3977 §7.4).
    Newnews {
        wildmat: &'a str,
        since: DateTime<Utc>,
    },
    /// `XPEER name` and `XPEER name signature-hex`
    /// (protocol-spec/peering.md §2).
    Xpeer {
        name: &'a str,
        signature: Option<&'a [u8; 64]>,
    },
    /// `XRECONCILE newsgroup`, then one entry a line and "."
    /// (protocol-spec/sync.md §3).
    Xreconcile {
        group: &'a str,
        entries: &'a [Entry],
    },
    /// `XIHAVE`, then one Message-ID a line and "." (sync.md §4).
    Xihave(&'a [Vec<u8>]),
    /// `XSYNC peer` (sync.md §5).
    Xsync(&'a str),
    /// `XSTATE` (state.md §5).
    Xstate,
    /// `XFILE sha256 offset count` (files.md §6).
    Xfile {
        hash: &'a [u8; 32],
        offset: u64,
        count: u64,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommandError {
    #[error("{command}: {argument:?} is not a message-id")]
    MessageId {
        command: &'static str,
        argument: String,
    },
    #[error("{command}: {argument:?} is empty or holds a space, CR, LF or NUL")]
    Word {
        command: &'static str,
        argument: String,
    },
    #[error("{command}: the command line would be longer than {MAX_COMMAND_LINE} octets")]
    TooLong { command: &'static str },
}

impl Command<'_> {
    /// The command's name, as it goes on the wire.
    pub fn name(&self) -> &'static str {
        match self {
            Command::Capabilities => "CAPABILITIES",
            Command::ModeReader | Command::ModeStream => "MODE",
            Command::StartTls => "STARTTLS",
            Command::Date => "DATE",
            Command::Quit => "QUIT",
            Command::Post => "POST",
            Command::Check(_) => "CHECK",
            Command::Takethis { .. } => "TAKETHIS",
            Command::Ihave(_) => "IHAVE",
            Command::Article(_) => "ARTICLE",
            Command::Newnews { .. } => "NEWNEWS",
            Command::Xpeer { .. } => "XPEER",
            Command::Xreconcile { .. } => "XRECONCILE",
            Command::Xihave(_) => "XIHAVE",
            Command::Xsync(_) => "XSYNC",
            Command::Xstate => "XSTATE",
            Command::Xfile { .. } => "XFILE",
        }
    }

    /// Appends the command's wire bytes to `out`; on an error `out` is left
    /// as it was.
    pub fn encode(&self, out: &mut Vec<u8>) -> Result<(), CommandError> {
        let start = out.len();
        let result = self.encode_unchecked_length(out).and_then(|line_end| {
            if line_end - start > MAX_COMMAND_LINE {
                Err(CommandError::TooLong {
                    command: self.name(),
                })
            } else {
                Ok(())
            }
        });
        if result.is_err() {
            out.truncate(start);
        }
        result
    }

    /// The wire bytes on their own.
    pub fn to_bytes(&self) -> Result<Vec<u8>, CommandError> {
        let mut out = Vec::new();
        self.encode(&mut out)?;
        Ok(out)
    }

    /// Writes the command; returns where its command line ends, so the
    /// length check leaves out any block that follows.
    fn encode_unchecked_length(&self, out: &mut Vec<u8>) -> Result<usize, CommandError> {
        let name = self.name();
        let line = |out: &mut Vec<u8>, args: &[&[u8]]| {
            out.extend_from_slice(name.as_bytes());
            for arg in args {
                out.push(b' ');
                out.extend_from_slice(arg);
            }
            out.extend_from_slice(b"\r\n");
            out.len()
        };
        Ok(match *self {
            Command::Capabilities
            | Command::StartTls
            | Command::Date
            | Command::Quit
            | Command::Post
            | Command::Xstate => line(out, &[]),
            Command::ModeReader => line(out, &[b"READER"]),
            Command::ModeStream => line(out, &[b"STREAM"]),
            Command::Check(id) | Command::Ihave(id) | Command::Article(id) => {
                line(out, &[message_id(name, id)?])
            }
            Command::Takethis { id, article } => {
                let end = line(out, &[message_id(name, id)?]);
                put_data_block(out, article);
                end
            }
            Command::Newnews { wildmat, since } => {
                let since = since.format("%Y%m%d %H%M%S GMT").to_string();
                line(out, &[word(name, wildmat)?, since.as_bytes()])
            }
            Command::Xpeer {
                name: peer,
                signature,
            } => match signature {
                None => line(out, &[word(name, peer)?]),
                Some(signature) => {
                    let hex = hex::encode(signature);
                    line(out, &[word(name, peer)?, hex.as_bytes()])
                }
            },
            Command::Xreconcile { group, entries } => {
                let end = line(out, &[word(name, group)?]);
                for entry in entries {
                    entry.encode(out);
                }
                out.extend_from_slice(b".\r\n");
                end
            }
            Command::Xihave(ids) => {
                for id in ids {
                    message_id(name, id)?;
                }
                let end = line(out, &[]);
                for id in ids {
                    out.extend_from_slice(id);
                    out.extend_from_slice(b"\r\n");
                }
                out.extend_from_slice(b".\r\n");
                end
            }
            Command::Xsync(peer) => line(out, &[word(name, peer)?]),
            Command::Xfile {
                hash,
                offset,
                count,
            } => {
                let (hash, offset, count) =
                    (hex::encode(hash), offset.to_string(), count.to_string());
                line(out, &[hash.as_bytes(), offset.as_bytes(), count.as_bytes()])
            }
        })
    }
}

/// `message-id = "<" 1*248A-NOTGT ">"` (RFC 3977 §3.6): no space, control
/// character or ">" inside, so it is one argument and never a line break.
fn message_id<'a>(command: &'static str, id: &'a [u8]) -> Result<&'a [u8], CommandError> {
    if is_message_id(id) {
        Ok(id)
    } else {
        Err(CommandError::MessageId {
            command,
            argument: String::from_utf8_lossy(id).into_owned(),
        })
    }
}

/// A newsgroup name, wildmat or peer name: one non-empty argument (RFC 3977
/// §3.1: arguments are separated by spaces or tabs, and no line holds CR,
/// LF or NUL but its end).
fn word<'a>(command: &'static str, arg: &'a str) -> Result<&'a [u8], CommandError> {
    let bytes = arg.as_bytes();
    if bytes.is_empty() || bytes.iter().any(|b| b"\r\n\0 \t".contains(b)) {
        return Err(CommandError::Word {
            command,
            argument: arg.to_string(),
        });
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::reconcile::{Fingerprint, Prefix};
    use chrono::TimeZone;

    fn wire(command: Command<'_>) -> String {
        String::from_utf8(command.to_bytes().expect("encodes")).expect("ascii")
    }

    #[test]
    fn commands_without_arguments() {
        for (command, bytes) in [
            (Command::Capabilities, "CAPABILITIES\r\n"),
            (Command::ModeReader, "MODE READER\r\n"),
            (Command::ModeStream, "MODE STREAM\r\n"),
            (Command::StartTls, "STARTTLS\r\n"),
            (Command::Date, "DATE\r\n"),
            (Command::Quit, "QUIT\r\n"),
            (Command::Post, "POST\r\n"),
        ] {
            assert_eq!(wire(command), bytes);
        }
    }

    #[test]
    fn commands_with_arguments() {
        let since = Utc.with_ymd_and_hms(1970, 1, 1, 0, 0, 0).single();
        let since = since.expect("a time");
        let signature = [0xab; 64];
        for (command, bytes) in [
            (Command::Check(b"<a@b>"), "CHECK <a@b>\r\n".to_string()),
            (Command::Ihave(b"<a@b>"), "IHAVE <a@b>\r\n".into()),
            (Command::Article(b"<a@b>"), "ARTICLE <a@b>\r\n".into()),
            (
                Command::Newnews {
                    wildmat: "chan.general",
                    since,
                },
                "NEWNEWS chan.general 19700101 000000 GMT\r\n".into(),
            ),
            (
                Command::Xpeer {
                    name: "a.example",
                    signature: None,
                },
                "XPEER a.example\r\n".into(),
            ),
            (
                Command::Xpeer {
                    name: "a.example",
                    signature: Some(&signature),
                },
                format!("XPEER a.example {}\r\n", "ab".repeat(64)),
            ),
            (Command::Xsync("b.example"), "XSYNC b.example\r\n".into()),
        ] {
            assert_eq!(wire(command), bytes);
        }
    }

    #[test]
    fn takethis_carries_its_article_stuffed_and_terminated() {
        let command = Command::Takethis {
            id: b"<a@b>",
            article: b"A: b\r\n\r\n.dot\r\nlast",
        };
        assert_eq!(
            wire(command),
            "TAKETHIS <a@b>\r\nA: b\r\n\r\n..dot\r\nlast\r\n.\r\n"
        );
    }

    #[test]
    fn blocks_follow_their_command_line() {
        let ids = [b"<a@b>".to_vec(), b"<c@d>".to_vec()];
        assert_eq!(
            wire(Command::Xihave(&ids)),
            "XIHAVE\r\n<a@b>\r\n<c@d>\r\n.\r\n"
        );
        let entries = [Entry::Fingerprint {
            range: Prefix::ROOT,
            fp: Fingerprint([0; 6]),
        }];
        let mut expected = b"XRECONCILE chan.general\r\n".to_vec();
        entries[0].encode(&mut expected);
        expected.extend_from_slice(b".\r\n");
        let command = Command::Xreconcile {
            group: "chan.general",
            entries: &entries,
        };
        assert_eq!(command.to_bytes(), Ok(expected));
    }

    #[test]
    fn arguments_that_would_break_the_line_are_refused() {
        let bad_ids: [&[u8]; 7] = [
            b"<a@b>\r\nQUIT",
            b"<a\n@b>",
            b"<a\0@b>",
            b"<a b@c>",
            b"a@b",
            b"",
            b"<>",
        ];
        for id in bad_ids {
            for command in [
                Command::Check(id),
                Command::Ihave(id),
                Command::Article(id),
                Command::Takethis { id, article: b"" },
            ] {
                let mut out = b"kept".to_vec();
                assert!(
                    matches!(
                        command.encode(&mut out),
                        Err(CommandError::MessageId { .. })
                    ),
                    "{command:?}"
                );
                assert_eq!(out, b"kept", "nothing written on an error");
            }
            let ids = [b"<ok@b>".to_vec(), id.to_vec()];
            assert!(Command::Xihave(&ids).to_bytes().is_err());
        }
        for word in ["", "a b", "a\tb", "a\r\nQUIT", "a\0"] {
            assert!(Command::Xsync(word).to_bytes().is_err(), "{word:?}");
            let xpeer = Command::Xpeer {
                name: word,
                signature: None,
            };
            assert!(xpeer.to_bytes().is_err(), "{word:?}");
            let reconcile = Command::Xreconcile {
                group: word,
                entries: &[],
            };
            assert!(reconcile.to_bytes().is_err(), "{word:?}");
            let newnews = Command::Newnews {
                wildmat: word,
                since: Utc::now(),
            };
            assert!(newnews.to_bytes().is_err(), "{word:?}");
        }
    }

    #[test]
    fn command_lines_stay_within_512_octets() {
        let long = "g".repeat(MAX_COMMAND_LINE);
        assert_eq!(
            Command::Xsync(&long).to_bytes(),
            Err(CommandError::TooLong { command: "XSYNC" })
        );
        // A long article after TAKETHIS is data, not the command line.
        let article = vec![b'x'; 4 * MAX_COMMAND_LINE];
        let command = Command::Takethis {
            id: b"<a@b>",
            article: &article,
        };
        assert!(command.to_bytes().is_ok());
    }
}

//! Control messages: the `Control` header of a signed article names an
//! event of the network (protocol-spec/signing.md §5). Parsing only; who
//! may send which is decided in `ingest::authority`.
//!
//! ```text
//! Control: passport <key hex>            announce a user key
//! Control: revoke <key hex>              revoke a user key
//! Control: rotate <new node key hex>     replace the signing node's key
//! Control: newgroup <name> [hidden]      create a board (description: body)
//! Control: modgroup <name> [hidden|visible]   change a board
//! Control: rmgroup <name>                delete a board
//! Control: cancel <message-id>           delete a post
//! Control: move <message-id> <name>      move a thread to another board
//! Control: local-remove <message-id>     remove here only (POST, node key)
//! Control: local-rmgroup <name>          remove a board here only
//! Control: local-approve <message-id>    release a post held for premoderation
//! Control: local-refuse-thread <message-id>   remove a thread here, late replies too
//! Control: file-remove <sha256> <message-id>   remove a file that post references
//! Control: file-placeholder <sha256> <message-id> <sha256>   show another file for it
//! Control: local-file-remove <sha256>    remove a file here only
//! Control: local-file-pin <sha256>       keep (and fetch) a file here
//! Control: local-file-unpin <sha256>     end that
//! ```

use ed25519_dalek::VerifyingKey;

use super::grammar;
use super::signing::parse_key;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Control {
    Passport(VerifyingKey),
    Revoke(VerifyingKey),
    Rotate(VerifyingKey),
    NewGroup {
        name: String,
        hidden: bool,
    },
    ModGroup {
        name: String,
        hidden: Option<bool>,
    },
    RmGroup(String),
    Cancel(Vec<u8>),
    Move {
        message_id: Vec<u8>,
        to: String,
    },
    LocalRemove(Vec<u8>),
    LocalRmGroup(String),
    /// Release a post held for premoderation here.
    LocalApprove(Vec<u8>),
    /// Remove the thread this opening post starts, here, and refuse its
    /// replies from now on.
    LocalRefuseThread(Vec<u8>),
    /// Remove `file` everywhere: its bytes go and are never taken again.
    /// `message_id` is the post that references it, whose author or
    /// moderators may (protocol-spec/files.md §8).
    FileRemove {
        file: [u8; 32],
        message_id: Vec<u8>,
    },
    /// Show `placeholder` in place of `file` in the post `message_id`.
    FilePlaceholder {
        file: [u8; 32],
        message_id: Vec<u8>,
        placeholder: [u8; 32],
    },
    /// Remove a file here only (the operator).
    LocalFileRemove([u8; 32]),
    /// Keep a file here whatever references it, fetch it if missing, never
    /// evict it (the operator's pin); or end that.
    LocalFilePin {
        file: [u8; 32],
        pinned: bool,
    },
}

impl Control {
    /// Whether the event stays on this node (never stored or relayed).
    pub fn is_local(&self) -> bool {
        matches!(
            self,
            Control::LocalRemove(_)
                | Control::LocalRmGroup(_)
                | Control::LocalApprove(_)
                | Control::LocalRefuseThread(_)
                | Control::LocalFileRemove(_)
                | Control::LocalFilePin { .. }
        )
    }
}

fn group(word: Option<&str>) -> Result<String, String> {
    match word {
        Some(name) if grammar::is_newsgroup_name(name.as_bytes()) => Ok(name.to_string()),
        Some(name) => Err(format!("{name:?} is not a newsgroup name")),
        None => Err("a newsgroup name is missing".into()),
    }
}

fn message_id(word: Option<&str>) -> Result<Vec<u8>, String> {
    match word {
        Some(id) if grammar::is_article_message_id(id.as_bytes()) => Ok(id.as_bytes().to_vec()),
        _ => Err("a message-id <left@right> is missing or malformed".into()),
    }
}

fn file(word: Option<&str>) -> Result<[u8; 32], String> {
    word.and_then(crate::file_ref::parse_sha256)
        .ok_or_else(|| "a file's SHA-256 (64 hex digits) is missing or malformed".into())
}

fn key(word: Option<&str>) -> Result<VerifyingKey, String> {
    word.and_then(parse_key)
        .ok_or_else(|| "a public key (64 hex digits) is missing or invalid".into())
}

/// Parses the value of a `Control` header.
pub fn parse(value: &[u8]) -> Result<Control, String> {
    let text = std::str::from_utf8(value).map_err(|_| "Control header is not ASCII".to_string())?;
    let mut words = text.split_ascii_whitespace();
    let verb = words
        .next()
        .ok_or("Control header is empty")?
        .to_ascii_lowercase();
    let control = match verb.as_str() {
        "passport" => Control::Passport(key(words.next())?),
        "revoke" => Control::Revoke(key(words.next())?),
        "rotate" => Control::Rotate(key(words.next())?),
        "newgroup" => {
            let name = group(words.next())?;
            let hidden = match words.next() {
                None => false,
                Some(w) if w.eq_ignore_ascii_case("hidden") => true,
                Some(w) => return Err(format!("newgroup takes only \"hidden\", not {w:?}")),
            };
            Control::NewGroup { name, hidden }
        }
        "modgroup" => {
            let name = group(words.next())?;
            let hidden = match words.next() {
                None => None,
                Some(w) if w.eq_ignore_ascii_case("hidden") => Some(true),
                Some(w) if w.eq_ignore_ascii_case("visible") => Some(false),
                Some(w) => {
                    return Err(format!(
                        "modgroup takes \"hidden\" or \"visible\", not {w:?}"
                    ))
                }
            };
            Control::ModGroup { name, hidden }
        }
        "rmgroup" => Control::RmGroup(group(words.next())?),
        "cancel" => Control::Cancel(message_id(words.next())?),
        "move" => {
            let message_id = message_id(words.next())?;
            Control::Move {
                message_id,
                to: group(words.next())?,
            }
        }
        "local-remove" => Control::LocalRemove(message_id(words.next())?),
        "local-rmgroup" => Control::LocalRmGroup(group(words.next())?),
        "local-approve" => Control::LocalApprove(message_id(words.next())?),
        "local-refuse-thread" => Control::LocalRefuseThread(message_id(words.next())?),
        "file-remove" => Control::FileRemove {
            file: file(words.next())?,
            message_id: message_id(words.next())?,
        },
        "file-placeholder" => Control::FilePlaceholder {
            file: file(words.next())?,
            message_id: message_id(words.next())?,
            placeholder: file(words.next())?,
        },
        "local-file-remove" => Control::LocalFileRemove(file(words.next())?),
        "local-file-pin" | "local-file-unpin" => Control::LocalFilePin {
            file: file(words.next())?,
            pinned: verb == "local-file-pin",
        },
        other => return Err(format!("unknown control message {other:?}")),
    };
    if let Some(extra) = words.next() {
        return Err(format!("unexpected {extra:?} in Control header"));
    }
    Ok(control)
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "8a88e3dd7409f195fd52db2d3cba5d72ca6709bf1d94121bf3748801b40f6f5c";

    fn hex32(text: &str) -> [u8; 32] {
        crate::file_ref::parse_sha256(text).expect("hex")
    }

    #[test]
    fn parses_every_verb() {
        let key = parse_key(KEY).expect("valid key");
        let cases: Vec<(String, Control)> = vec![
            (format!("passport {KEY}"), Control::Passport(key)),
            (format!("REVOKE {KEY}"), Control::Revoke(key)),
            (format!("rotate {KEY}"), Control::Rotate(key)),
            (
                "newgroup chan.b".into(),
                Control::NewGroup {
                    name: "chan.b".into(),
                    hidden: false,
                },
            ),
            (
                "newgroup chan.b hidden".into(),
                Control::NewGroup {
                    name: "chan.b".into(),
                    hidden: true,
                },
            ),
            (
                "modgroup chan.b visible".into(),
                Control::ModGroup {
                    name: "chan.b".into(),
                    hidden: Some(false),
                },
            ),
            (
                "modgroup chan.b".into(),
                Control::ModGroup {
                    name: "chan.b".into(),
                    hidden: None,
                },
            ),
            ("rmgroup chan.b".into(), Control::RmGroup("chan.b".into())),
            ("cancel <a@b>".into(), Control::Cancel(b"<a@b>".to_vec())),
            (
                "local-refuse-thread <a@b>".into(),
                Control::LocalRefuseThread(b"<a@b>".to_vec()),
            ),
            (
                "move <a@b> chan.c".into(),
                Control::Move {
                    message_id: b"<a@b>".to_vec(),
                    to: "chan.c".into(),
                },
            ),
            (
                "local-remove <a@b>".into(),
                Control::LocalRemove(b"<a@b>".to_vec()),
            ),
            (
                "local-rmgroup chan.c".into(),
                Control::LocalRmGroup("chan.c".into()),
            ),
            (
                format!("file-remove {KEY} <a@b>"),
                Control::FileRemove {
                    file: hex32(KEY),
                    message_id: b"<a@b>".to_vec(),
                },
            ),
            (
                format!("file-placeholder {} <a@b> {KEY}", KEY.to_uppercase()),
                Control::FilePlaceholder {
                    file: hex32(KEY),
                    message_id: b"<a@b>".to_vec(),
                    placeholder: hex32(KEY),
                },
            ),
            (
                format!("local-file-remove {KEY}"),
                Control::LocalFileRemove(hex32(KEY)),
            ),
            (
                format!("Local-File-Pin {KEY}"),
                Control::LocalFilePin {
                    file: hex32(KEY),
                    pinned: true,
                },
            ),
            (
                format!("local-file-unpin {KEY}"),
                Control::LocalFilePin {
                    file: hex32(KEY),
                    pinned: false,
                },
            ),
        ];
        for (text, expected) in cases {
            assert_eq!(parse(text.as_bytes()), Ok(expected), "{text}");
        }
    }

    #[test]
    fn refuses_malformed() {
        for text in [
            "",
            "frob x",
            "passport 1234",
            "cancel nothing",
            "cancel <a@b> extra",
            "newgroup bad..name",
            "newgroup a.b secret",
            "move <a@b>",
            "file-remove <a@b>",
            "file-remove abcd <a@b>",
            "file-placeholder 8a88e3dd7409f195fd52db2d3cba5d72ca6709bf1d94121bf3748801b40f6f5c <a@b>",
            "local-file-remove",
        ] {
            assert!(parse(text.as_bytes()).is_err(), "{text}");
        }
    }
}

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
//! Control: grant <audience> <key hex> <read|cache> <expires|never>   let a key see protected posts
//! Control: ungrant <audience> <key hex>  end that
//! Control: introduce <key hex> <name> <expires|never> [passports] [boards=<wildmat>]   vouch for a node
//! Control: withdraw <key hex>            withdraw an introduction
//! ```

use std::fmt;

use ed25519_dalek::VerifyingKey;

use super::audience::{self, Scope};
use super::grammar;
use super::signing::{key_hex, parse_key};

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
    /// Let `grantee` see the posts of the signer's audience `audience`
    /// until `expires` (seconds since the epoch; None: no end), as a
    /// reader or as a cache (protocol-spec/access.md §7).
    Grant {
        audience: String,
        grantee: [u8; 32],
        scope: Scope,
        expires: Option<u64>,
    },
    /// End the signer's grant of `audience` to `grantee`.
    Ungrant {
        audience: String,
        grantee: [u8; 32],
    },
    /// A node key vouching for another node key (access.md §8): `key` is
    /// believed as a node called `name`, with at most the rights named
    /// here and those the voucher has.
    Introduce {
        key: VerifyingKey,
        name: String,
        expires: Option<u64>,
        passports: bool,
        boards: Option<String>,
    },
    /// Withdraw the introduction of `key`: what it signs dated after this
    /// control is refused.
    Withdraw(VerifyingKey),
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

impl fmt::Display for Control {
    /// The plain Control header value that says it: verb and fields one
    /// space apart, keys and hashes in lower-case hex, expiries in seconds
    /// or `never`. It parses back to the same control.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&text(self))
    }
}

fn text(control: &Control) -> String {
    let id = |id: &[u8]| String::from_utf8_lossy(id).into_owned();
    match control {
        Control::Passport(k) => format!("passport {}", key_hex(k)),
        Control::Revoke(k) => format!("revoke {}", key_hex(k)),
        Control::Rotate(k) => format!("rotate {}", key_hex(k)),
        Control::NewGroup { name, hidden } => {
            format!("newgroup {name}{}", if *hidden { " hidden" } else { "" })
        }
        Control::ModGroup { name, hidden } => format!(
            "modgroup {name}{}",
            match hidden {
                None => "",
                Some(true) => " hidden",
                Some(false) => " visible",
            }
        ),
        Control::RmGroup(name) => format!("rmgroup {name}"),
        Control::Cancel(m) => format!("cancel {}", id(m)),
        Control::Move { message_id, to } => format!("move {} {to}", id(message_id)),
        Control::LocalRemove(m) => format!("local-remove {}", id(m)),
        Control::LocalRmGroup(name) => format!("local-rmgroup {name}"),
        Control::LocalApprove(m) => format!("local-approve {}", id(m)),
        Control::LocalRefuseThread(m) => format!("local-refuse-thread {}", id(m)),
        Control::FileRemove { file, message_id } => {
            format!("file-remove {} {}", hex::encode(file), id(message_id))
        }
        Control::FilePlaceholder {
            file,
            message_id,
            placeholder,
        } => format!(
            "file-placeholder {} {} {}",
            hex::encode(file),
            id(message_id),
            hex::encode(placeholder)
        ),
        Control::LocalFileRemove(file) => format!("local-file-remove {}", hex::encode(file)),
        Control::LocalFilePin { file, pinned } => format!(
            "local-file-{} {}",
            if *pinned { "pin" } else { "unpin" },
            hex::encode(file)
        ),
        Control::Grant {
            audience,
            grantee,
            scope,
            expires,
        } => format!(
            "grant {audience} {} {} {}",
            hex::encode(grantee),
            scope.name(),
            expires.map_or("never".to_string(), |e| e.to_string())
        ),
        Control::Ungrant { audience, grantee } => {
            format!("ungrant {audience} {}", hex::encode(grantee))
        }
        Control::Introduce {
            key,
            name,
            expires,
            passports,
            boards,
        } => format!(
            "introduce {} {name} {}{}{}",
            key_hex(key),
            expires.map_or("never".to_string(), |e| e.to_string()),
            if *passports { " passports" } else { "" },
            boards
                .as_ref()
                .map_or(String::new(), |b| format!(" boards={b}"))
        ),
        Control::Withdraw(k) => format!("withdraw {}", key_hex(k)),
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

fn audience_name(word: Option<&str>) -> Result<String, String> {
    match word {
        Some(name) if audience::valid_name(name) => Ok(name.to_string()),
        Some(name) => Err(format!("{name:?} is not an audience name")),
        None => Err("an audience name is missing".into()),
    }
}

/// `never`, or seconds since the epoch.
fn expires(word: Option<&str>) -> Result<Option<u64>, String> {
    match word {
        Some(w) if w.eq_ignore_ascii_case("never") => Ok(None),
        Some(w) if !w.is_empty() && w.bytes().all(|b| b.is_ascii_digit()) => w
            .parse()
            .map(Some)
            .map_err(|_| format!("expiry {w:?} is out of range")),
        _ => Err("an expiry (seconds since the epoch, or \"never\") is missing".into()),
    }
}

/// A node name as Path carries it.
fn node_name(word: Option<&str>) -> Result<String, String> {
    match word {
        Some(name) if grammar::is_path_identity(name.as_bytes()) => Ok(name.to_string()),
        Some(name) => Err(format!("{name:?} is not a node name")),
        None => Err("a node name is missing".into()),
    }
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
        "grant" => {
            let audience = audience_name(words.next())?;
            let grantee = key(words.next())?.to_bytes();
            let scope = words
                .next()
                .and_then(Scope::parse)
                .ok_or("a grant's scope, read or cache, is missing")?;
            Control::Grant {
                audience,
                grantee,
                scope,
                expires: expires(words.next())?,
            }
        }
        "ungrant" => Control::Ungrant {
            audience: audience_name(words.next())?,
            grantee: key(words.next())?.to_bytes(),
        },
        "introduce" => {
            let key = key(words.next())?;
            let name = node_name(words.next())?;
            let expires = expires(words.next())?;
            let (mut passports, mut boards) = (false, None);
            for word in words.by_ref() {
                if word.eq_ignore_ascii_case("passports") && !passports {
                    passports = true;
                } else if let Some(wildmat) = word
                    .get(..7)
                    .filter(|p| p.eq_ignore_ascii_case("boards=") && boards.is_none())
                    .map(|_| &word[7..])
                {
                    crate::wildmat::Wildmat::parse(wildmat.as_bytes())
                        .map_err(|e| format!("boards={wildmat}: {e}"))?;
                    boards = Some(wildmat.to_string());
                } else {
                    return Err(format!(
                        "introduce takes \"passports\" and \"boards=<wildmat>\" once each, not {word:?}"
                    ));
                }
            }
            Control::Introduce {
                key,
                name,
                expires,
                passports,
                boards,
            }
        }
        "withdraw" => Control::Withdraw(key(words.next())?),
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
            (
                format!("grant friends {KEY} cache never"),
                Control::Grant {
                    audience: "friends".into(),
                    grantee: hex32(KEY),
                    scope: Scope::Cache,
                    expires: None,
                },
            ),
            (
                format!("grant f.2 {KEY} READ 1800000000"),
                Control::Grant {
                    audience: "f.2".into(),
                    grantee: hex32(KEY),
                    scope: Scope::Read,
                    expires: Some(1_800_000_000),
                },
            ),
            (
                format!("ungrant friends {KEY}"),
                Control::Ungrant {
                    audience: "friends".into(),
                    grantee: hex32(KEY),
                },
            ),
            (
                format!("introduce {KEY} node.d never"),
                Control::Introduce {
                    key,
                    name: "node.d".into(),
                    expires: None,
                    passports: false,
                    boards: None,
                },
            ),
            (
                format!("introduce {KEY} d 1800000000 boards=blog.*,!blog.x passports"),
                Control::Introduce {
                    key,
                    name: "d".into(),
                    expires: Some(1_800_000_000),
                    passports: true,
                    boards: Some("blog.*,!blog.x".into()),
                },
            ),
            (format!("withdraw {KEY}"), Control::Withdraw(key)),
        ];
        for (text, expected) in cases {
            assert_eq!(parse(text.as_bytes()).as_ref(), Ok(&expected), "{text}");
            let plain = expected.to_string();
            assert_eq!(parse(plain.as_bytes()), Ok(expected), "written as {plain}");
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
            "grant friends",
            "grant fr/iends 8a88e3dd7409f195fd52db2d3cba5d72ca6709bf1d94121bf3748801b40f6f5c read never",
            "grant friends 8a88e3dd7409f195fd52db2d3cba5d72ca6709bf1d94121bf3748801b40f6f5c write never",
            "grant friends 8a88e3dd7409f195fd52db2d3cba5d72ca6709bf1d94121bf3748801b40f6f5c read",
            "grant friends 8a88e3dd7409f195fd52db2d3cba5d72ca6709bf1d94121bf3748801b40f6f5c read -1",
            "ungrant friends",
            "introduce 8a88e3dd7409f195fd52db2d3cba5d72ca6709bf1d94121bf3748801b40f6f5c d",
            "introduce 8a88e3dd7409f195fd52db2d3cba5d72ca6709bf1d94121bf3748801b40f6f5c d never passports passports",
            "introduce 8a88e3dd7409f195fd52db2d3cba5d72ca6709bf1d94121bf3748801b40f6f5c d never mirror",
            "withdraw",
        ] {
            assert!(parse(text.as_bytes()).is_err(), "{text}");
        }
    }
}

//! Protected posts (protocol-spec/access.md §7): the audience an article
//! names in its signed `Tidings-Audience` header, and the scope of a grant.
//! Parsing only; who holds which grant is decided by the node.
//!
//! ```text
//! Tidings-Audience: <owner key, 64 hex> <name>
//! ```
//!
//! An audience is a name within its owner's key: `friends` of one key has
//! nothing to do with `friends` of another. Only the owner grants it.

use std::fmt;

use crate::signing::parse_key;

/// The header naming an article's audience.
pub const HEADER: &str = "Tidings-Audience";

/// Longest audience name.
pub const MAX_NAME: usize = 64;

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Audience {
    /// The key that grants it.
    pub owner: [u8; 32],
    pub name: String,
}

impl Audience {
    /// `<owner hex> <name>`, as the header carries it.
    pub fn parse_header(value: &[u8]) -> Result<Audience, String> {
        let text = std::str::from_utf8(value)
            .map_err(|_| format!("{HEADER} is not ASCII"))?
            .trim();
        let mut words = text.split_ascii_whitespace();
        let (Some(owner), Some(name), None) = (words.next(), words.next(), words.next()) else {
            return Err(format!(
                "{HEADER} must be <owner key, 64 hex digits> <name>, not {text:?}"
            ));
        };
        Audience::new(owner, name)
    }

    /// `<owner hex>/<name>`, as access rules write it (`audience:…`).
    pub fn parse_rule(text: &str) -> Result<Audience, String> {
        let (owner, name) = text
            .split_once('/')
            .ok_or_else(|| format!("an audience is <owner key hex>/<name>, not {text:?}"))?;
        Audience::new(owner, name)
    }

    fn new(owner: &str, name: &str) -> Result<Audience, String> {
        let owner = parse_key(owner)
            .ok_or_else(|| format!("{owner:?} is not a public key (64 hex digits)"))?
            .to_bytes();
        if !valid_name(name) {
            return Err(format!(
                "{name:?} is not an audience name (1 to {MAX_NAME} of A-Z a-z 0-9 . _ -)"
            ));
        }
        Ok(Audience {
            owner,
            name: name.to_string(),
        })
    }
}

impl fmt::Display for Audience {
    /// The rule form, `<owner hex>/<name>`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", hex::encode(self.owner), self.name)
    }
}

/// An audience name: short, and plain enough for a Control line and a rule.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_NAME
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// What a grant lets its grantee do with the audience's posts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Scope {
    /// Be served them (a reader's key).
    Read,
    /// Store them, be sent them, and serve them to other grantees (a
    /// node's key); includes read.
    Cache,
}

impl Scope {
    pub fn parse(word: &str) -> Option<Scope> {
        match word.to_ascii_lowercase().as_str() {
            "read" => Some(Scope::Read),
            "cache" => Some(Scope::Cache),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Scope::Read => "read",
            Scope::Cache => "cache",
        }
    }

    /// Whether a grant of this scope allows `wanted`.
    pub fn allows(self, wanted: Scope) -> bool {
        self >= wanted
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "8a88e3dd7409f195fd52db2d3cba5d72ca6709bf1d94121bf3748801b40f6f5c";

    #[test]
    fn header_and_rule_forms() {
        let a = Audience::parse_header(format!("  {KEY}   friends ").as_bytes()).expect("valid");
        assert_eq!(a.name, "friends");
        assert_eq!(hex::encode(a.owner), KEY);
        assert_eq!(a.to_string(), format!("{KEY}/friends"));
        assert_eq!(Audience::parse_rule(&a.to_string()), Ok(a));
    }

    #[test]
    fn refuses_malformed() {
        for value in [
            String::new(),
            "friends".into(),
            KEY.to_string(),
            format!("{KEY} a b"),
            format!("{KEY} fr/iends"),
            format!("{KEY} {}", "x".repeat(65)),
            format!("{} friends", &KEY[..62]),
            "\u{ff} friends".into(),
        ] {
            assert!(Audience::parse_header(value.as_bytes()).is_err(), "{value}");
        }
        assert!(Audience::parse_rule(KEY).is_err());
    }

    #[test]
    fn scopes() {
        assert!(Scope::Cache.allows(Scope::Read));
        assert!(!Scope::Read.allows(Scope::Cache));
        assert_eq!(Scope::parse("CACHE"), Some(Scope::Cache));
        assert_eq!(Scope::parse("write"), None);
    }
}

//! The CAPABILITIES list (RFC 3977 §3.3, §5.2), parsed once per mode so each
//! case can be skipped when the server does not offer what it tests.
//!
//! ```text
//! capability-line = capability-label *(WS capability-argument)
//! capability-label = keyword
//! ```

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Capabilities {
    /// Labels upper-cased (labels are keywords, which are case-insensitive),
    /// with their arguments as sent.
    entries: Vec<(String, Vec<String>)>,
}

impl Capabilities {
    /// Parses the lines of a 101 block. Lines that do not begin with a letter
    /// are reserved and ignored (§3.3.1).
    pub fn parse<S: AsRef<str>>(lines: &[S]) -> Capabilities {
        let entries = lines
            .iter()
            .filter_map(|line| {
                let mut tokens = line.as_ref().split_ascii_whitespace();
                let label = tokens.next()?;
                if !label.starts_with(|c: char| c.is_ascii_alphabetic()) {
                    return None;
                }
                Some((
                    label.to_ascii_uppercase(),
                    tokens.map(str::to_string).collect(),
                ))
            })
            .collect();
        Capabilities { entries }
    }

    pub fn has(&self, label: &str) -> bool {
        self.args(label).is_some()
    }

    pub fn args(&self, label: &str) -> Option<&[String]> {
        self.entries
            .iter()
            .find(|(l, _)| l.eq_ignore_ascii_case(label))
            .map(|(_, a)| a.as_slice())
    }

    /// Whether `LIST keyword` is advertised: the LIST capability carries one
    /// argument per supported variant (§3.3.2).
    pub fn has_list(&self, keyword: &str) -> bool {
        self.args("LIST")
            .is_some_and(|a| a.iter().any(|k| k.eq_ignore_ascii_case(keyword)))
    }

    /// Labels in the order sent, for reports.
    pub fn labels(&self) -> Vec<&str> {
        self.entries.iter().map(|(l, _)| l.as_str()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_labels_and_arguments() {
        let caps = Capabilities::parse(&[
            "VERSION 2",
            "reader",
            "IHAVE",
            "LIST ACTIVE newsgroups OVERVIEW.FMT",
            "OVER MSGID",
            "  ",
            "-reserved line",
            "IMPLEMENTATION INN 2.7.1",
        ]);
        assert_eq!(caps.args("VERSION"), Some(&["2".to_string()][..]));
        assert!(caps.has("READER"));
        assert!(caps.has("Reader"));
        assert!(caps.has("ihave"));
        assert!(!caps.has("POST"));
        assert!(caps.has_list("ACTIVE"));
        assert!(caps.has_list("NEWSGROUPS"));
        assert!(caps.has_list("overview.fmt"));
        assert!(!caps.has_list("HEADERS"));
        assert_eq!(caps.args("OVER"), Some(&["MSGID".to_string()][..]));
        assert_eq!(
            caps.labels(),
            [
                "VERSION",
                "READER",
                "IHAVE",
                "LIST",
                "OVER",
                "IMPLEMENTATION"
            ]
        );
    }

    #[test]
    fn empty_list_has_nothing() {
        let caps = Capabilities::parse::<&str>(&[]);
        assert!(!caps.has("VERSION"));
        assert!(!caps.has_list("ACTIVE"));
    }
}

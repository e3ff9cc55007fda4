//! Wildmat matching (RFC 3977 §4): comma-separated patterns, the last one
//! that matches decides, and a leading "!" turns a match into a rejection.

/// A parsed wildmat. Construction checks the syntax so that matching never
/// has to report errors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wildmat {
    patterns: Vec<(bool, Vec<u8>)>,
}

impl Wildmat {
    /// `wildmat = wildmat-pattern *("," ["!"] wildmat-pattern)` (RFC 3977
    /// §4.1). Empty patterns and unbalanced brackets are rejected.
    pub fn parse(text: &[u8]) -> Result<Wildmat, String> {
        let mut patterns = Vec::new();
        for part in text.split(|&b| b == b',') {
            let (negated, pattern) = match part.strip_prefix(b"!") {
                Some(rest) => (true, rest),
                None => (false, part),
            };
            if pattern.is_empty() {
                return Err("wildmat has an empty pattern".into());
            }
            if pattern.iter().any(|b| b.is_ascii_whitespace() || *b < 0x20) {
                return Err("wildmat may not contain spaces or control characters".into());
            }
            check_brackets(pattern)?;
            patterns.push((negated, pattern.to_vec()));
        }
        Ok(Wildmat { patterns })
    }

    /// A wildmat that matches everything.
    pub fn any() -> Wildmat {
        Wildmat {
            patterns: vec![(false, b"*".to_vec())],
        }
    }

    pub fn matches(&self, name: &[u8]) -> bool {
        self.patterns
            .iter()
            .rev()
            .find(|(_, pattern)| glob(pattern, name))
            .is_some_and(|(negated, _)| !negated)
    }
}

fn check_brackets(pattern: &[u8]) -> Result<(), String> {
    let mut i = 0;
    while i < pattern.len() {
        match pattern[i] {
            b'\\' => i += 2,
            b'[' => match class_end(pattern, i) {
                Some(end) => i = end + 1,
                None => return Err("wildmat has an unclosed '['".into()),
            },
            _ => i += 1,
        }
    }
    Ok(())
}

/// Index of the `]` closing the class opened at `open`. A `]` right after
/// `[` or `[^` is a member, not the end, as in INN's uwildmat.
fn class_end(pattern: &[u8], open: usize) -> Option<usize> {
    let mut i = open + 1;
    if pattern.get(i) == Some(&b'^') {
        i += 1;
    }
    if pattern.get(i) == Some(&b']') {
        i += 1;
    }
    while i < pattern.len() {
        if pattern[i] == b']' {
            return Some(i);
        }
        i += 1;
    }
    None
}

fn class_matches(class: &[u8], c: u8) -> bool {
    let (negated, class) = match class.strip_prefix(b"^") {
        Some(rest) => (true, rest),
        None => (false, class),
    };
    let mut found = false;
    let mut i = 0;
    while i < class.len() {
        if i + 2 < class.len() && class[i + 1] == b'-' {
            if class[i] <= c && c <= class[i + 2] {
                found = true;
            }
            i += 3;
        } else {
            if class[i] == c {
                found = true;
            }
            i += 1;
        }
    }
    found != negated
}

/// Iterative glob with single-star backtracking: linear in practice and
/// never recursive, so hostile patterns cannot blow the stack.
fn glob(pattern: &[u8], name: &[u8]) -> bool {
    let (mut p, mut n) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while n < name.len() {
        let step = match pattern.get(p) {
            Some(b'*') => {
                star = Some((p, n));
                p += 1;
                continue;
            }
            Some(b'?') => Some(p + 1),
            Some(b'[') => class_end(pattern, p)
                .filter(|&end| class_matches(&pattern[p + 1..end], name[n]))
                .map(|end| end + 1),
            Some(b'\\') => pattern.get(p + 1).filter(|&&c| c == name[n]).map(|_| p + 2),
            Some(&c) if c == name[n] => Some(p + 1),
            _ => None,
        };
        match (step, star) {
            (Some(next), _) => {
                p = next;
                n += 1;
            }
            (None, Some((star_p, star_n))) => {
                p = star_p + 1;
                n = star_n + 1;
                star = Some((star_p, star_n + 1));
            }
            (None, None) => return false,
        }
    }
    pattern[p..].iter().all(|&c| c == b'*')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(wildmat: &str, name: &str) -> bool {
        Wildmat::parse(wildmat.as_bytes())
            .expect("valid")
            .matches(name.as_bytes())
    }

    #[test]
    fn table() {
        let cases = [
            ("*", "anything", true),
            ("comp.*", "comp.lang.rust", true),
            ("comp.*", "alt.comp", false),
            ("comp.*,!comp.lang.*", "comp.lang.rust", false),
            ("comp.*,!comp.lang.*,comp.lang.rust", "comp.lang.rust", true),
            ("!comp.*", "comp.x", false),
            ("!comp.*", "alt.x", false),
            ("a?c", "abc", true),
            ("a?c", "ac", false),
            ("a[bc]d", "acd", true),
            ("a[^bc]d", "acd", false),
            ("a[a-c]d", "abd", true),
            ("a[]]d", "a]d", true),
            ("*a*a*a*", "aaa", true),
            ("*a*a*a*b", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", false),
            ("a\\*", "a*", true),
            ("a\\*", "ab", false),
        ];
        for (wildmat, name, expected) in cases {
            assert_eq!(m(wildmat, name), expected, "{wildmat} vs {name}");
        }
    }

    #[test]
    fn syntax_errors() {
        assert!(Wildmat::parse(b"").is_err());
        assert!(Wildmat::parse(b"a,,b").is_err());
        assert!(Wildmat::parse(b"a[b").is_err());
        assert!(Wildmat::parse(b"a b").is_err());
        assert!(Wildmat::parse(b"!").is_err());
    }
}

//! Known deviations: cases a particular server fails on purpose or by
//! long-standing design, recorded with the text they deviate from, so a
//! run against that server reports `DEVIATION` (counted apart, not a
//! failure) instead of `FAIL`, while every other server still fails them.
//!
//! A deviation is keyed by the server's `IMPLEMENTATION` capability line
//! (RFC 3977 §5.2.2) and by the case; it applies only when the case fails
//! the way it was recorded (`shows`), so a different failure of the same
//! case on the same server is still a failure.

/// One recorded deviation of one server from what one case checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deviation {
    /// The server, as the arguments of its IMPLEMENTATION capability
    /// begin: a name, then optionally a version prefix matched by whole
    /// dotted components (`INN 2.7` covers `INN 2.7` and `INN 2.7.1`, not
    /// `INN 2.70`).
    pub implementation: &'static str,
    /// The suite label of the case, as in `[IHAVE]`.
    pub suite: &'static str,
    /// The case name.
    pub case: &'static str,
    /// The section the server deviates from.
    pub reference: &'static str,
    /// What that section says.
    pub text: &'static str,
    /// What the server does instead.
    pub behaviour: &'static str,
    /// A substring of the case's failure message that identifies this
    /// deviation.
    pub shows: &'static str,
}

/// Every recorded deviation.
pub const KNOWN: &[Deviation] = &[Deviation {
    implementation: "INN 2.7",
    suite: "IHAVE",
    case: "ihave-message-id-mismatch-is-437",
    reference: "RFC 3977 §6.3.2",
    text: "The IHAVE command informs the server that the client has an article \
           with the specified message-id.",
    behaviour: "innd answers 235 to an article whose Message-ID header names another id \
                than the one offered, files it under the header's id, and still wants \
                the offered id (IHAVE of it is 335 again), so the 235 did not transfer \
                the article that was offered",
    shows: "got \"235",
}];

/// Whether the IMPLEMENTATION arguments `implementation` (e.g.
/// `INN 2.7.1`) are covered by the key `key` (e.g. `INN 2.7`).
pub fn implementation_matches(key: &str, implementation: &str) -> bool {
    let key: Vec<&str> = key.split_ascii_whitespace().collect();
    let got: Vec<&str> = implementation.split_ascii_whitespace().collect();
    let Some((last, whole)) = key.split_last() else {
        return false;
    };
    if got.len() < key.len() {
        return false;
    }
    if !whole
        .iter()
        .zip(&got)
        .all(|(k, g)| k.eq_ignore_ascii_case(g))
    {
        return false;
    }
    let g = got[whole.len()];
    if whole.is_empty() {
        // The name alone.
        return last.eq_ignore_ascii_case(g);
    }
    // A version prefix: equal, or followed by a dot.
    g.eq_ignore_ascii_case(last)
        || (g.len() > last.len()
            && g.as_bytes()[last.len()] == b'.'
            && g[..last.len()].eq_ignore_ascii_case(last))
}

/// The recorded deviation that explains `failure` of case `suite`/`case`
/// on the server whose IMPLEMENTATION arguments are `implementation`.
pub fn find(
    implementation: Option<&str>,
    suite: &str,
    case: &str,
    failure: &str,
) -> Option<&'static Deviation> {
    let implementation = implementation?;
    KNOWN.iter().find(|d| {
        d.suite == suite
            && d.case == case
            && implementation_matches(d.implementation, implementation)
            && failure.contains(d.shows)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cases::SUITES;

    #[test]
    fn keys_match_by_name_and_version_components() {
        assert!(implementation_matches("INN 2.7", "INN 2.7.1"));
        assert!(implementation_matches("INN 2.7", "INN 2.7"));
        assert!(implementation_matches("INN 2.7", "inn 2.7.1 extra words"));
        assert!(implementation_matches("INN", "INN 2.6.4"));
        assert!(implementation_matches("INN 2.7.1", "INN 2.7.1"));
        assert!(!implementation_matches("INN 2.7", "INN 2.70"));
        assert!(!implementation_matches("INN 2.7", "INN 2.6.4"));
        assert!(!implementation_matches("INN 2.7.1", "INN 2.7"));
        assert!(!implementation_matches("INN", "INNd 2.7.1"));
        assert!(!implementation_matches("INN 2.7", "tidings 0.1.0"));
        assert!(!implementation_matches("INN 2.7", ""));
        assert!(!implementation_matches("", "INN 2.7.1"));
    }

    #[test]
    fn every_deviation_names_a_case_and_says_why() {
        for d in KNOWN {
            let suite = SUITES.iter().find(|s| s.label == d.suite);
            let found = suite.is_some_and(|s| s.cases.iter().any(|c| c.name == d.case));
            assert!(found, "no case [{}] {}", d.suite, d.case);
            assert!(d.reference.starts_with("RFC "), "{d:?}");
            assert!(!d.text.is_empty() && !d.behaviour.is_empty() && !d.shows.is_empty());
        }
    }

    #[test]
    fn only_the_recorded_failure_is_a_deviation() {
        let case = "ihave-message-id-mismatch-is-437";
        let got_235 = "article ...: expected 437, got \"235 Article transferred OK\"";
        assert!(find(Some("INN 2.7.1"), "IHAVE", case, got_235).is_some());
        // Another failure of the same case is still a failure.
        assert!(find(Some("INN 2.7.1"), "IHAVE", case, "timed out").is_none());
        // Another server, or none named, deviates from nothing.
        assert!(find(Some("tidings 0.1.0"), "IHAVE", case, got_235).is_none());
        assert!(find(None, "IHAVE", case, got_235).is_none());
        assert!(find(Some("INN 2.7.1"), "STREAMING", case, got_235).is_none());
    }
}

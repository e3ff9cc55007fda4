//! The injecting agent's rules: what this node refuses in an article a
//! reader POSTs, signed or not, before it adds its own headers (RFC 5537
//! §3.5, RFC 5536 §2-3). Each refusal is a 441 with the reason given here.
//!
//! Articles in transit are not judged by these rules (nntp.md §5.4): the
//! node that injected them did, and a relay that refused what another
//! node accepted would hold a different set for ever.

use chrono::{DateTime, Duration, Utc};

use crate::proto::article::{self, Article};
use crate::proto::grammar;

/// How far ahead of our clock a post's Date may be (RFC 5537 §3.5: "more
/// than 24 hours into the future" SHOULD be refused).
pub const FUTURE: Duration = Duration::hours(24);

/// How old a post's Date may be. RFC 5537 §3.5 lets an injector refuse a
/// stale Date; 72 hours is the figure the USEFOR drafts gave, long enough
/// for a reply drafted offline over a weekend.
pub const STALE: Duration = Duration::hours(72);

/// Fields only an injecting agent writes; a post that carries one was
/// injected before, or forges the trace (RFC 5537 §3.5).
const INJECTOR_FIELDS: &[&str] = &["Injection-Info", "Injection-Date"];

/// Checks a post against the injection rules. `carried` says whether a
/// newsgroup name is one of ours (for Followup-To).
pub fn check(
    article: &Article,
    now: DateTime<Utc>,
    carried: impl Fn(&[u8]) -> bool,
) -> Result<(), String> {
    fields(article)?;
    for name in INJECTOR_FIELDS {
        if article.header(name).is_some() {
            return Err(format!(
                "{name} is added by the injecting agent; a post may not carry one (RFC 5537 §3.5)"
            ));
        }
    }
    if let Some(path) = article.header_unfolded("Path") {
        if path.split(|&b| b == b'!').any(is_posted_diagnostic) {
            return Err(
                "Path already names an injection point (.POSTED): the article was injected before; offer it to a server with IHAVE instead (RFC 5537 §3.5)"
                    .into(),
            );
        }
    }
    if let Some(from) = article.header_unfolded("From") {
        if !has_address(&from) {
            return Err(format!(
                "From has no address (local@domain): {:?} (RFC 5536 §3.1.2)",
                String::from_utf8_lossy(&from)
            ));
        }
    }
    // A control message says what it does in its Control field.
    if article.header("Control").is_none() && article.body().iter().all(u8::is_ascii_whitespace) {
        return Err("the article has no body".into());
    }
    if let Some(expires) = article.header_unfolded("Expires") {
        if article::parse_date(&expires).is_none() {
            return Err("Expires is not an RFC 5322 date (RFC 5536 §3.2.5)".into());
        }
    }
    if let Some(date) = article.header_unfolded("Date") {
        date_in_range(&date, now)?;
    }
    if let Some(followup) = article.header_unfolded("Followup-To") {
        followup_to(&followup, carried)?;
    }
    let files = crate::proto::file_ref::of(article).map_err(|e| format!("{e} (files.md §4)"))?;
    if files.len() > MAX_FILES {
        return Err(format!(
            "the post references {} files; at most {MAX_FILES} (files.md §4)",
            files.len()
        ));
    }
    Ok(())
}

/// Every file a post references is within the limits of every board it
/// names (files.md §2): its referenced size and media type. References
/// that do not parse are [`check`]'s to refuse.
pub fn file_limits(
    article: &Article,
    limits: impl Fn(&str) -> crate::config::FileLimits,
) -> Result<(), String> {
    let Ok(files) = crate::proto::file_ref::of(article) else {
        return Ok(());
    };
    if files.is_empty() {
        return Ok(());
    }
    for board in article.newsgroups() {
        let board = String::from_utf8_lossy(&board);
        let limits = limits(&board);
        for file in &files {
            if let Some(why) = limits.refuses(file.size, &file.media_type) {
                return Err(format!(
                    "file {} is not taken on {board}: {why} (files.md §2)",
                    hex::encode(file.hash)
                ));
            }
        }
    }
    Ok(())
}

/// Files one post may reference (the HTTP form's limit too).
pub const MAX_FILES: usize = 4;

/// Field-level rules, line by line: no bare CR, no continuation line of
/// only whitespace, and no field without content.
fn fields(article: &Article) -> Result<(), String> {
    let raw = article.raw();
    for (name, span) in article.field_spans() {
        let shown = String::from_utf8_lossy(name);
        let field = &raw[span];
        // The field's lines, each without its CRLF.
        let mut lines = field
            .strip_suffix(b"\r\n")
            .unwrap_or(field)
            .split(|&b| b == b'\n')
            .map(|l| l.strip_suffix(b"\r").unwrap_or(l));
        let first = lines.next().unwrap_or_default();
        if first.contains(&b'\r') {
            return Err(format!("header {shown} contains a bare CR (RFC 5536 §2.2)"));
        }
        for line in lines {
            if line.contains(&b'\r') {
                return Err(format!("header {shown} contains a bare CR (RFC 5536 §2.2)"));
            }
            if line.iter().all(|&b| b == b' ' || b == b'\t') {
                return Err(format!(
                    "header {shown} has a continuation line of only whitespace (RFC 5536 §2.2)"
                ));
            }
        }
        let value = &first[name.len() + 1..];
        let folded_rest = field.len() > first.len() + 2;
        if value.iter().all(|&b| b == b' ' || b == b'\t') && !folded_rest {
            return Err(format!("header {shown} is empty (RFC 5536 §2.2)"));
        }
    }
    Ok(())
}

/// `.POSTED` and `.POSTED.<host>`, the diagnostic an injector puts in Path
/// (RFC 5537 §3.2.1).
fn is_posted_diagnostic(entry: &[u8]) -> bool {
    let entry = entry.trim_ascii();
    entry.len() >= 7
        && entry[..7].eq_ignore_ascii_case(b".POSTED")
        && (entry.len() == 7 || entry[7] == b'.')
}

/// Whether a From value holds at least one mailbox with an addr-spec
/// (RFC 5322 §3.4): `local@domain`, bare or in angle brackets, with
/// comments and display names around it.
pub fn has_address(value: &[u8]) -> bool {
    let text = without_comments(value);
    let spec: &[u8] = match (
        text.iter().position(|&b| b == b'<'),
        text.iter().position(|&b| b == b'>'),
    ) {
        (Some(open), Some(close)) if open < close => &text[open + 1..close],
        (None, None) => text.split(|&b| b == b',').next().unwrap_or_default(),
        _ => return false,
    };
    let spec = spec.trim_ascii();
    let Some(at) = spec.iter().rposition(|&b| b == b'@') else {
        return false;
    };
    let (local, domain) = (&spec[..at], &spec[at + 1..]);
    let atom = |b: &u8| b.is_ascii_graphic() && !b"()<>[]:;@\\,".contains(b);
    !local.is_empty()
        && !domain.is_empty()
        && (local.iter().all(|b| atom(b) || *b == b'"' || *b == b' ') && !local.starts_with(b" "))
        && domain.iter().all(|b| atom(b) || b"[]:".contains(b))
        && !domain.starts_with(b".")
        && !domain.ends_with(b".")
}

/// The value with `( ... )` comments removed (nesting and quoted strings
/// respected), so `a@b (Name)` is just the address.
fn without_comments(value: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(value.len());
    let (mut depth, mut quoted, mut escaped) = (0usize, false, false);
    for &b in value {
        if escaped {
            escaped = false;
            if depth == 0 {
                out.push(b);
            }
            continue;
        }
        match b {
            b'\\' => {
                escaped = true;
                if depth == 0 {
                    out.push(b);
                }
            }
            b'"' if depth == 0 => {
                quoted = !quoted;
                out.push(b);
            }
            b'(' if !quoted => depth += 1,
            b')' if !quoted && depth > 0 => depth -= 1,
            _ if depth == 0 => out.push(b),
            _ => {}
        }
    }
    out
}

fn date_in_range(date: &[u8], now: DateTime<Utc>) -> Result<(), String> {
    // The syntax is the article check's (BadDate); only the range is ours.
    let Some(date) = article::parse_date(date) else {
        return Ok(());
    };
    let date = date.with_timezone(&Utc);
    if date > now + FUTURE {
        return Err(format!(
            "Date {} is more than {} hours in the future (RFC 5537 §3.5)",
            date.to_rfc2822(),
            FUTURE.num_hours()
        ));
    }
    if date < now - STALE {
        return Err(format!(
            "Date {} is more than {} hours in the past; post it with a current Date (RFC 5537 §3.5)",
            date.to_rfc2822(),
            STALE.num_hours()
        ));
    }
    Ok(())
}

/// Followup-To is `poster` or newsgroups we carry (RFC 5536 §3.2.6).
fn followup_to(value: &[u8], carried: impl Fn(&[u8]) -> bool) -> Result<(), String> {
    if value.trim_ascii().eq_ignore_ascii_case(b"poster") {
        return Ok(());
    }
    for group in value.split(|&b| b == b',').map(<[u8]>::trim_ascii) {
        if !grammar::is_newsgroup_name(group) {
            return Err(format!(
                "Followup-To names {:?}, which is not a newsgroup name (RFC 5536 §3.2.6)",
                String::from_utf8_lossy(group)
            ));
        }
        if !carried(group) {
            return Err(format!(
                "Followup-To names newsgroup {}, which is not carried here",
                String::from_utf8_lossy(group)
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    const NOW: &str = "Sun, 29 Nov 2026 12:00:00 +0000";
    const GOOD: &str = "From: Ann <ann@example.org>\r\nNewsgroups: misc.test\r\nSubject: hello\r\nDate: Sun, 29 Nov 2026 11:00:00 +0000\r\nMessage-ID: <mine@client.example>\r\n\r\nbody\r\n";

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc2822(NOW)
            .expect("date")
            .with_timezone(&Utc)
    }

    fn judge(text: &str) -> Result<(), String> {
        let article = Article::parse(Bytes::copy_from_slice(text.as_bytes())).expect("parses");
        check(&article, now(), |g| g == b"misc.test" || g == b"misc.other")
    }

    fn with(from: &str, to: &str) -> Result<(), String> {
        assert!(GOOD.contains(from), "{from}");
        judge(&GOOD.replacen(from, to, 1))
    }

    #[test]
    fn file_references_must_parse_and_be_few() {
        let file = |n: usize| format!("Tidings-File: {} {n} image/png\r\n", "ab".repeat(32));
        assert_eq!(with("\r\n\r\n", &format!("\r\n{}\r\n", file(1))), Ok(()));
        let bad =
            with("\r\n\r\n", "\r\nTidings-File: abc 1 image/png\r\n\r\n").expect_err("refused");
        assert!(
            bad.contains("Tidings-File") && bad.contains("64 hex"),
            "{bad}"
        );
        let many: String = (1..=5).map(file).collect();
        let refused = with("\r\n\r\n", &format!("\r\n{many}\r\n")).expect_err("refused");
        assert!(refused.contains("at most 4"), "{refused}");
    }

    #[test]
    fn referenced_files_must_fit_every_board_named() {
        let file = |size: u64, media: &str| {
            format!(
                "Newsgroups: misc.test,chan.small\r\nTidings-File: {} {size} {media}\r\n",
                "ab".repeat(32)
            )
        };
        let limits = |board: &str| crate::config::FileLimits {
            max_bytes: if board == "chan.small" { 100 } else { 1000 },
            types: vec!["image/png".into()],
        };
        let article = |text: String| {
            Article::parse(bytes::Bytes::from(GOOD.replacen(
                "Newsgroups: misc.test\r\n",
                &text,
                1,
            )))
            .expect("parses")
        };
        assert_eq!(
            file_limits(&article(file(100, "image/png")), limits),
            Ok(())
        );
        let big = file_limits(&article(file(101, "image/png")), limits).expect_err("too big");
        assert!(big.contains("chan.small") && big.contains("100"), "{big}");
        let kind = file_limits(&article(file(10, "image/gif")), limits).expect_err("type");
        assert!(kind.contains("image/gif"), "{kind}");
    }

    #[test]
    fn a_plain_post_passes() {
        judge(GOOD).expect("good");
        with("Subject: hello\r\n", "Subject: hello\r\n  again\r\n").expect("folded");
        with("Subject: hello\r\n", "Followup-To: poster\r\n").expect("poster");
        with(
            "Subject: hello\r\n",
            "Subject: hi\r\nFollowup-To: misc.other, misc.test\r\n",
        )
        .expect("carried");
        with(
            "Subject: hello\r\n",
            "Subject: hi\r\nExpires: Mon, 30 Nov 2026 11:00:00 +0000\r\n",
        )
        .expect("expires");
        with(
            "Subject: hello\r\n",
            "Subject: hi\r\nPath: reader.example!not-for-mail\r\n",
        )
        .expect("a pre-injection path");
    }

    /// Every case the issue lists, with the words its reason must carry.
    #[test]
    fn each_injection_rule_refuses_with_a_reason() {
        let cases: &[(&str, &str, &str)] = &[
            (
                "Subject: hello\r\n",
                "Subject: hello\r\nInjection-Info: forged.example; posting-host=\"1.2.3.4\"\r\n",
                "Injection-Info",
            ),
            (
                "Subject: hello\r\n",
                "Subject: hello\r\nInjection-Date: Sun, 29 Nov 2026 11:00:00 +0000\r\n",
                "Injection-Date",
            ),
            (
                "Subject: hello\r\n",
                "Subject: hello\r\nPath: other.example!.POSTED!not-for-mail\r\n",
                ".POSTED",
            ),
            (
                "Subject: hello\r\n",
                "Subject: hello\r\nPath: a!.posted.1.2.3.4!b\r\n",
                ".POSTED",
            ),
            ("Subject: hello\r\n", "Subject: hel\rlo\r\n", "bare CR"),
            ("From: Ann <ann@example.org>", "From: Ann", "no address"),
            (
                "From: Ann <ann@example.org>",
                "From: <@example.org>",
                "no address",
            ),
            ("From: Ann <ann@example.org>", "From: ann@", "no address"),
            (
                "Subject: hello\r\n",
                "Subject: hello\r\nKeywords: \r\n",
                "Keywords is empty",
            ),
            ("Subject: hello\r\n", "Subject: \r\n", "Subject is empty"),
            (
                "Subject: hello\r\n",
                "Subject: hello\r\n \r\n more\r\n",
                "only whitespace",
            ),
            ("\r\n\r\nbody\r\n", "\r\n\r\n\r\n \r\n", "no body"),
            ("\r\n\r\nbody\r\n", "\r\nControl: cancel <a@b>\r\n\r\n", ""),
            (
                "Subject: hello\r\n",
                "Subject: hello\r\nExpires: next week\r\n",
                "Expires",
            ),
            ("11:00:00 +0000", "11:00:00 +0000\r\nX: y", ""),
            (
                "Sun, 29 Nov 2026 11:00:00",
                "Tue, 1 Dec 2026 13:00:00",
                "future",
            ),
            (
                "Sun, 29 Nov 2026 11:00:00",
                "Wed, 25 Nov 2026 11:00:00",
                "past",
            ),
            (
                "Subject: hello\r\n",
                "Subject: hello\r\nFollowup-To: alt.nowhere\r\n",
                "not carried",
            ),
            (
                "Subject: hello\r\n",
                "Subject: hello\r\nFollowup-To: misc test\r\n",
                "not a newsgroup",
            ),
        ];
        for (from, to, words) in cases {
            let got = with(from, to);
            if words.is_empty() {
                assert!(got.is_ok(), "{to:?}: {got:?}");
                continue;
            }
            let reason = got.expect_err(to);
            assert!(reason.contains(words), "{to:?}: {reason}");
        }
    }

    #[test]
    fn addresses() {
        for ok in [
            &b"ann@example.org"[..],
            b"Ann <ann@example.org>",
            b"\"Ann, B.\" <ann@example.org>",
            b"ann@example.org (Ann (the first))",
            b"anon@example.invalid",
            b"Ann <ann@[127.0.0.1]>",
        ] {
            assert!(has_address(ok), "{}", String::from_utf8_lossy(ok));
        }
        for bad in [
            &b"Ann"[..],
            b"(ann@example.org)",
            b"<>",
            b"Ann <ann>",
            b"ann@.org",
            b"ann@example.org>",
            b"@example.org",
        ] {
            assert!(!has_address(bad), "{}", String::from_utf8_lossy(bad));
        }
    }
}

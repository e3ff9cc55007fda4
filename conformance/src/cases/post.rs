//! POST, then reading the posted article back every way the reader
//! commands allow (RFC 3977 §6.1-6.3, §7.3-7.4, §8.3, §8.5).
//!
//! One article is posted per run, by the first case that needs it; the
//! cases after it read it back. If posting fails, `post-is-340-then-240`
//! fails and the read-back cases are skipped, since they have nothing to
//! read.

use super::reader::{read_numbers, select_group};
use super::{
    expect, fail, number_and_msgid, number_arg, skip, wait_present, Case, CaseError, CaseResult,
    Need, Side,
};
use crate::article::{header_value, Article};
use crate::client::Client;
use crate::clock;
use crate::ctx::{Ctx, Posted};
use crate::wire::{self, Status};

const POST: Need = Need::Cap("POST");

/// How many numbers below the high water mark to look for the posted
/// article when STAT <message-id> does not say its number.
const NUMBER_SCAN: u64 = 200;

pub const CASES: &[Case] = &[
    Case {
        name: "post-is-340-then-240",
        side: Side::Reader,
        need: POST,
        needs_group: true,
        rfc: "RFC 3977 §6.3.1",
        run: post_accepted,
    },
    Case {
        name: "article-by-message-id-round-trips",
        side: Side::Reader,
        need: POST,
        needs_group: true,
        rfc: "RFC 3977 §6.2.1, §3.1.1",
        run: article_by_msgid,
    },
    Case {
        name: "head-by-message-id-is-221",
        side: Side::Reader,
        need: POST,
        needs_group: true,
        rfc: "RFC 3977 §6.2.2",
        run: head_by_msgid,
    },
    Case {
        name: "body-by-message-id-is-222",
        side: Side::Reader,
        need: POST,
        needs_group: true,
        rfc: "RFC 3977 §6.2.3, §3.1.1",
        run: body_by_msgid,
    },
    Case {
        name: "stat-by-message-id-is-223",
        side: Side::Reader,
        need: POST,
        needs_group: true,
        rfc: "RFC 3977 §6.2.4",
        run: stat_by_msgid,
    },
    Case {
        name: "listgroup-contains-posted-article",
        side: Side::Reader,
        need: POST,
        needs_group: true,
        rfc: "RFC 3977 §6.1.2",
        run: listgroup_contains,
    },
    Case {
        name: "article-by-number-is-220",
        side: Side::Reader,
        need: POST,
        needs_group: true,
        rfc: "RFC 3977 §6.2.1",
        run: article_by_number,
    },
    Case {
        name: "over-by-number-is-224",
        side: Side::Reader,
        need: Need::Cap("OVER"),
        needs_group: true,
        rfc: "RFC 3977 §8.3",
        run: over_by_number,
    },
    Case {
        name: "xover-by-number-is-224",
        side: Side::Reader,
        need: POST,
        needs_group: true,
        rfc: "RFC 2980 §2.8",
        run: xover_by_number,
    },
    Case {
        name: "hdr-subject-by-number-is-225",
        side: Side::Reader,
        need: Need::Cap("HDR"),
        needs_group: true,
        rfc: "RFC 3977 §8.5",
        run: hdr_by_number,
    },
    Case {
        name: "newnews-lists-posted-article",
        side: Side::Reader,
        need: Need::Cap("NEWNEWS"),
        needs_group: true,
        rfc: "RFC 3977 §7.4",
        run: newnews,
    },
    Case {
        name: "last-at-first-article-is-422",
        side: Side::Reader,
        need: POST,
        needs_group: true,
        rfc: "RFC 3977 §6.1.3",
        run: last_at_first,
    },
    Case {
        name: "next-and-last-move-around-posted-article",
        side: Side::Reader,
        need: POST,
        needs_group: true,
        rfc: "RFC 3977 §6.1.3, §6.1.4",
        run: next_and_last,
    },
    Case {
        name: "post-without-subject-is-441",
        side: Side::Reader,
        need: POST,
        needs_group: true,
        rfc: "RFC 3977 §6.3.1",
        run: post_without_subject,
    },
    Case {
        name: "post-without-from-is-441",
        side: Side::Reader,
        need: POST,
        needs_group: true,
        rfc: "RFC 3977 §6.3.1",
        run: post_without_from,
    },
    Case {
        name: "post-without-newsgroups-is-441",
        side: Side::Reader,
        need: POST,
        needs_group: true,
        rfc: "RFC 3977 §6.3.1",
        run: post_without_newsgroups,
    },
    Case {
        name: "post-to-unknown-group-is-441",
        side: Side::Reader,
        need: POST,
        needs_group: true,
        rfc: "RFC 3977 §6.3.1",
        run: post_unknown_group,
    },
    Case {
        name: "dot-with-bare-lf-does-not-end-an-article",
        side: Side::Reader,
        need: POST,
        needs_group: true,
        rfc: "RFC 3977 §3.1.1 (a block ends with \".\" CRLF)",
        run: dot_bare_lf_is_content,
    },
    Case {
        name: "post-header-without-colon-is-441",
        side: Side::Reader,
        need: POST,
        needs_group: true,
        rfc: "RFC 3977 §6.3.1, §3.6",
        run: post_header_without_colon,
    },
    Case {
        name: "post-keeps-the-posters-message-id",
        side: Side::Reader,
        need: POST,
        needs_group: true,
        rfc: "RFC 5537 §3.5 (alter no field but Path)",
        run: post_keeps_message_id,
    },
    Case {
        name: "post-gets-injection-info",
        side: Side::Reader,
        need: POST,
        needs_group: true,
        rfc: "RFC 5537 §3.5, RFC 5536 §3.2.8",
        run: post_gets_injection_info,
    },
    Case {
        name: "post-with-a-malformed-tidings-file-header-is-441",
        side: Side::Reader,
        need: Need::AllCaps(&["POST", "X-TIDINGS-FILES"]),
        needs_group: true,
        rfc: "tidings files.md §4",
        run: post_with_bad_file_ref,
    },
    Case {
        name: "post-with-injection-info-is-441",
        side: Side::Reader,
        need: POST,
        needs_group: true,
        rfc: "RFC 5537 §3.5",
        run: post_with_injection_info,
    },
    Case {
        name: "post-with-posted-in-path-is-441",
        side: Side::Reader,
        need: POST,
        needs_group: true,
        rfc: "RFC 5537 §3.5",
        run: post_with_posted_path,
    },
    Case {
        name: "post-dated-two-days-ahead-is-441",
        side: Side::Reader,
        need: POST,
        needs_group: true,
        rfc: "RFC 5537 §3.5 (more than 24 hours into the future)",
        run: post_from_the_future,
    },
    Case {
        name: "post-from-without-address-is-441",
        side: Side::Reader,
        need: POST,
        needs_group: true,
        rfc: "RFC 5536 §3.1.2, RFC 5537 §3.5",
        run: post_from_without_address,
    },
    Case {
        name: "post-with-bare-cr-in-header-is-441",
        side: Side::Reader,
        need: POST,
        needs_group: true,
        rfc: "RFC 5536 §2.2, RFC 5537 §3.5",
        run: post_bare_cr_in_header,
    },
    Case {
        name: "post-with-whitespace-only-continuation-is-441",
        side: Side::Reader,
        need: POST,
        needs_group: true,
        rfc: "RFC 5536 §2.2, RFC 5537 §3.5",
        run: post_whitespace_continuation,
    },
    Case {
        name: "post-with-unparseable-expires-is-441",
        side: Side::Reader,
        need: POST,
        needs_group: true,
        rfc: "RFC 5536 §3.2.5, RFC 5537 §3.5",
        run: post_bad_expires,
    },
];

/// What tidings refuses at injection beyond what the RFCs require of every
/// server (nntp.md §5.3): run only against servers that speak its rules.
pub const POLICY_CASES: &[Case] = &[
    Case {
        name: "post-with-empty-header-field-is-441",
        side: Side::Reader,
        need: TIDINGS,
        needs_group: true,
        rfc: "tidings nntp.md §5.3",
        run: post_empty_header_field,
    },
    Case {
        name: "post-with-injection-date-is-441",
        side: Side::Reader,
        need: TIDINGS,
        needs_group: true,
        rfc: "tidings nntp.md §5.3",
        run: post_with_injection_date,
    },
    Case {
        name: "post-with-empty-subject-is-441",
        side: Side::Reader,
        need: TIDINGS,
        needs_group: true,
        rfc: "tidings nntp.md §5.3",
        run: post_empty_subject,
    },
    Case {
        name: "post-with-empty-body-is-441",
        side: Side::Reader,
        need: TIDINGS,
        needs_group: true,
        rfc: "tidings nntp.md §5.3",
        run: post_empty_body,
    },
    Case {
        name: "post-dated-four-days-ago-is-441",
        side: Side::Reader,
        need: TIDINGS,
        needs_group: true,
        rfc: "tidings nntp.md §5.3 (RFC 5537 §3.5 lets an injector refuse a stale Date)",
        run: post_stale,
    },
    Case {
        name: "post-with-followup-to-unknown-group-is-441",
        side: Side::Reader,
        need: TIDINGS,
        needs_group: true,
        rfc: "tidings nntp.md §5.3",
        run: post_followup_to_unknown,
    },
];

const TIDINGS: Need = Need::AllCaps(&["POST", "X-TIDINGS-SIGNED"]);

/// The run's posted article, posting it on first use.
fn fixture(ctx: &mut Ctx) -> Result<Posted, String> {
    if let Some(done) = &ctx.fixture {
        return done.clone();
    }
    let result = post_fixture(ctx);
    ctx.fixture = Some(result.clone());
    result
}

/// The posted article, or a skip when there is none to read back.
fn posted(ctx: &mut Ctx) -> Result<Posted, CaseError> {
    fixture(ctx).map_err(|e| CaseError::Skip(format!("no posted article to read back ({e})")))
}

/// The posted article and its number in the test group.
fn posted_with_number(ctx: &mut Ctx) -> Result<(Posted, u64), CaseError> {
    let p = posted(ctx)?;
    match &p.number {
        Ok(n) => {
            let n = *n;
            Ok((p, n))
        }
        Err(why) => fail(why.clone()),
    }
}

fn post_fixture(ctx: &mut Ctx) -> Result<Posted, String> {
    if !ctx.reader_caps.has("POST") {
        return Err("server does not advertise POST".to_string());
    }
    let group = ctx.group().map_err(|e| e.to_string())?;
    let sent = ctx.new_unbound_msgid();
    let article = Article::for_post(&sent, &group);
    let mut c = ctx.reader().map_err(|e| e.to_string())?;
    post(&mut c, &article).map_err(|e| e.to_string())?;
    let msgid = sent;
    wait_present(&mut c, &msgid, ctx.timeout, "240").map_err(|e| e.to_string())?;
    let number = find_number(&mut c, &group, &msgid).map_err(|e| e.to_string())?;
    Ok(Posted {
        msgid,
        group,
        article,
        number,
    })
}

/// POST then the article: 340 then 240 (§6.3.1); returns the 240.
pub fn post(c: &mut Client, article: &Article) -> Result<Status, CaseError> {
    let st = c.command("POST")?;
    expect(&st, &[340], "POST")?;
    c.send_block(&article.lines())?;
    let st = c.read_status()?;
    expect(&st, &[240], "article sent after 340")?;
    Ok(st)
}

/// POST of an article the server must refuse: 340, then 441 once it has
/// read the article. A server may also refuse at once with 441 (some check
/// nothing before the article, but none may take it).
pub(super) fn post_rejected(ctx: &mut Ctx, article: Article, what: &str) -> CaseResult {
    let mut c = ctx.reader()?;
    let st = c.command("POST")?;
    expect(&st, &[340], "POST")?;
    c.send_block(&article.lines())?;
    let st = c.read_status()?;
    expect(&st, &[441], what)
}

/// The article's number in `group`: from STAT <message-id> after GROUP if
/// the server says it (§6.2.1 allows 0 instead), else by STAT of each
/// number down from the high water mark.
fn find_number(c: &mut Client, group: &str, msgid: &str) -> Result<Result<u64, String>, CaseError> {
    let reply = select_group(c, group)?;
    let st = c.command(&format!("STAT {msgid}"))?;
    expect(&st, &[223], &format!("STAT {msgid}"))?;
    let hint = number_and_msgid(&st, msgid, &format!("STAT {msgid}"))?;
    let floor = reply.low.max(reply.high.saturating_sub(NUMBER_SCAN));
    let candidates = std::iter::once(hint)
        .filter(|&n| n != 0)
        .chain((floor..=reply.high).rev());
    for n in candidates {
        let st = c.command(&format!("STAT {n}"))?;
        if st.code == 223 && st.arg(1) == Some(msgid) {
            return Ok(Ok(n));
        }
    }
    Ok(Err(format!(
        "{msgid} is not among articles {floor}..{} of {group}",
        reply.high
    )))
}

fn post_accepted(ctx: &mut Ctx) -> CaseResult {
    fixture(ctx).map(|_| ()).map_err(CaseError::Fail)
}

/// Splits an ARTICLE block at its first empty line.
fn split_article(lines: &[String]) -> Option<(&[String], &[String])> {
    let blank = lines.iter().position(|l| l.is_empty())?;
    Some((&lines[..blank], &lines[blank + 1..]))
}

fn same_body(got: &[String], article: &Article, what: &str) -> CaseResult {
    if got == article.body.as_slice() {
        return Ok(());
    }
    let i = got
        .iter()
        .zip(&article.body)
        .position(|(g, w)| g != w)
        .unwrap_or(got.len().min(article.body.len()));
    fail(format!(
        "{what}: body differs at line {}: sent {:?}, got {:?}",
        i + 1,
        article.body.get(i),
        got.get(i)
    ))
}

fn has_subject(headers: &[String], article: &Article, what: &str) -> CaseResult {
    let want = article.header("Subject").unwrap_or_default();
    if headers
        .iter()
        .any(|l| header_value(l, "Subject").is_some_and(|v| v.trim_end() == want))
    {
        Ok(())
    } else {
        fail(format!("{what}: no `Subject: {want}` among the headers"))
    }
}

fn article_by_msgid(ctx: &mut Ctx) -> CaseResult {
    let p = posted(ctx)?;
    let mut c = ctx.reader()?;
    let cmd = format!("ARTICLE {}", p.msgid);
    let st = c.command(&cmd)?;
    expect(&st, &[220], &cmd)?;
    number_and_msgid(&st, &p.msgid, &cmd)?;
    let lines = c.read_block()?;
    let Some((headers, body)) = split_article(&lines) else {
        return fail(format!("{cmd}: no empty line between headers and body"));
    };
    has_subject(headers, &p.article, &cmd)?;
    same_body(body, &p.article, &cmd)
}

fn head_by_msgid(ctx: &mut Ctx) -> CaseResult {
    let p = posted(ctx)?;
    let mut c = ctx.reader()?;
    let cmd = format!("HEAD {}", p.msgid);
    let st = c.command(&cmd)?;
    expect(&st, &[221], &cmd)?;
    number_and_msgid(&st, &p.msgid, &cmd)?;
    let headers = c.read_block()?;
    if headers.iter().any(|l| l.is_empty()) {
        return fail(format!("{cmd}: headers contain an empty line"));
    }
    has_subject(&headers, &p.article, &cmd)
}

fn body_by_msgid(ctx: &mut Ctx) -> CaseResult {
    let p = posted(ctx)?;
    let mut c = ctx.reader()?;
    let cmd = format!("BODY {}", p.msgid);
    let st = c.command(&cmd)?;
    expect(&st, &[222], &cmd)?;
    number_and_msgid(&st, &p.msgid, &cmd)?;
    let body = c.read_block()?;
    same_body(&body, &p.article, &cmd)
}

fn stat_by_msgid(ctx: &mut Ctx) -> CaseResult {
    let p = posted(ctx)?;
    let mut c = ctx.reader()?;
    let cmd = format!("STAT {}", p.msgid);
    let st = c.command(&cmd)?;
    expect(&st, &[223], &cmd)?;
    // No group is selected, so the number is 0 (§6.2.1); some servers give
    // the number anyway, which the RFC tolerates.
    number_and_msgid(&st, &p.msgid, &cmd).map(|_| ())
}

fn listgroup_contains(ctx: &mut Ctx) -> CaseResult {
    let (p, n) = posted_with_number(ctx)?;
    let mut c = ctx.reader()?;
    let cmd = format!("LISTGROUP {}", p.group);
    let st = c.command(&cmd)?;
    expect(&st, &[211], &cmd)?;
    let numbers = read_numbers(&mut c, &cmd)?;
    if !numbers.contains(&n) {
        return fail(format!("{cmd} does not list {n}, the posted article"));
    }
    Ok(())
}

fn article_by_number(ctx: &mut Ctx) -> CaseResult {
    let (p, n) = posted_with_number(ctx)?;
    let mut c = ctx.reader()?;
    select_group(&mut c, &p.group)?;
    let cmd = format!("ARTICLE {n}");
    let st = c.command(&cmd)?;
    expect(&st, &[220], &cmd)?;
    let got = number_and_msgid(&st, &p.msgid, &cmd)?;
    if got != n {
        return fail(format!("{cmd}: reply names article {got}"));
    }
    let lines = c.read_block()?;
    match split_article(&lines) {
        Some((_, body)) => same_body(body, &p.article, &cmd),
        None => fail(format!("{cmd}: no empty line between headers and body")),
    }
}

/// Checks one overview line (§8.3): tab-separated, number first, then
/// Subject and, fifth, Message-ID.
fn check_over_line(line: &str, n: u64, p: &Posted, cmd: &str) -> CaseResult {
    let fields: Vec<&str> = line.split('\t').collect();
    if fields.len() < 8 {
        return fail(format!(
            "{cmd}: overview line has {} fields, expected at least 8: {line:?}",
            fields.len()
        ));
    }
    if wire::parse_number(fields[0]) != Some(n) {
        return fail(format!("{cmd}: first field {:?} is not {n}", fields[0]));
    }
    let subject = p.article.header("Subject").unwrap_or_default();
    if fields[1] != subject {
        return fail(format!(
            "{cmd}: Subject field {:?}, expected {subject:?}",
            fields[1]
        ));
    }
    if fields[4] != p.msgid {
        return fail(format!(
            "{cmd}: Message-ID field {:?}, expected {}",
            fields[4], p.msgid
        ));
    }
    Ok(())
}

fn overview(ctx: &mut Ctx, verb: &str) -> CaseResult {
    let (p, n) = posted_with_number(ctx)?;
    let mut c = ctx.reader()?;
    select_group(&mut c, &p.group)?;
    let cmd = format!("{verb} {n}");
    let st = c.command(&cmd)?;
    if verb == "XOVER" && st.code == 500 {
        return skip("server does not implement XOVER (500)");
    }
    expect(&st, &[224], &cmd)?;
    let lines = c.read_block()?;
    match lines.as_slice() {
        [line] => check_over_line(line, n, &p, &cmd),
        _ => fail(format!("{cmd}: expected 1 line, got {}", lines.len())),
    }
}

fn over_by_number(ctx: &mut Ctx) -> CaseResult {
    overview(ctx, "OVER")
}

/// XOVER predates RFC 3977 and has no capability; servers that drop it
/// answer 500, which is a skip, not a failure.
fn xover_by_number(ctx: &mut Ctx) -> CaseResult {
    overview(ctx, "XOVER")
}

fn hdr_by_number(ctx: &mut Ctx) -> CaseResult {
    let (p, n) = posted_with_number(ctx)?;
    let mut c = ctx.reader()?;
    select_group(&mut c, &p.group)?;
    let cmd = format!("HDR Subject {n}");
    let st = c.command(&cmd)?;
    expect(&st, &[225], &cmd)?;
    let lines = c.read_block()?;
    let want = format!("{n} {}", p.article.header("Subject").unwrap_or_default());
    match lines.as_slice() {
        [line] if *line == want => Ok(()),
        _ => fail(format!("{cmd}: expected [{want:?}], got {lines:?}")),
    }
}

fn newnews(ctx: &mut Ctx) -> CaseResult {
    let p = posted(ctx)?;
    let mut c = ctx.reader()?;
    let (date, time) = clock::nntp_date_time(clock::now_secs() - 86_400);
    let cmd = format!("NEWNEWS {} {date} {time} GMT", p.group);
    let st = c.command(&cmd)?;
    expect(&st, &[230], &cmd)?;
    let ids = c.read_block()?;
    if ids.iter().any(|l| l.trim() == p.msgid) {
        Ok(())
    } else {
        fail(format!("{cmd}: {} is not among {} ids", p.msgid, ids.len()))
    }
}

/// GROUP makes the first article current, and there is nothing before it.
fn last_at_first(ctx: &mut Ctx) -> CaseResult {
    let p = posted(ctx)?;
    let mut c = ctx.reader()?;
    let reply = select_group(&mut c, &p.group)?;
    if reply.count == 0 {
        return fail(format!("GROUP {}: count 0 after posting to it", p.group));
    }
    let st = c.command("LAST")?;
    expect(&st, &[422], "LAST right after GROUP")
}

/// From the posted article n: LAST reaches an m < n (or 422 if n is
/// first), and NEXT from there comes back to exactly n, since LAST took the
/// nearest earlier article. NEXT past n is 421 or a later article.
fn next_and_last(ctx: &mut Ctx) -> CaseResult {
    let (p, n) = posted_with_number(ctx)?;
    let mut c = ctx.reader()?;
    select_group(&mut c, &p.group)?;
    let st = c.command(&format!("STAT {n}"))?;
    expect(&st, &[223], &format!("STAT {n}"))?;
    let st = c.command("LAST")?;
    expect(&st, &[223, 422], &format!("LAST from {n}"))?;
    if st.code == 223 {
        let m = number_arg(&st, 0, "LAST")?;
        if m >= n {
            return fail(format!("LAST from {n} went to {m}"));
        }
        let st = c.command("NEXT")?;
        expect(&st, &[223], &format!("NEXT from {m}"))?;
        let back = number_and_msgid(&st, &p.msgid, &format!("NEXT from {m}"))?;
        if back != n {
            return fail(format!("NEXT from {m} went to {back}, expected {n}"));
        }
    }
    let st = c.command("NEXT")?;
    expect(&st, &[223, 421], &format!("NEXT from {n}"))?;
    if st.code == 223 {
        let after = number_arg(&st, 0, "NEXT")?;
        if after <= n {
            return fail(format!("NEXT from {n} went to {after}"));
        }
    }
    Ok(())
}

fn bad_post(ctx: &mut Ctx) -> Result<Article, CaseError> {
    let p = ctx.group()?;
    Ok(Article::for_post(&ctx.new_unbound_msgid(), &p))
}

fn post_without_subject(ctx: &mut Ctx) -> CaseResult {
    let a = bad_post(ctx)?.without("Subject");
    post_rejected(ctx, a, "article without Subject")
}

fn post_without_from(ctx: &mut Ctx) -> CaseResult {
    let a = bad_post(ctx)?.without("From");
    post_rejected(ctx, a, "article without From")
}

fn post_without_newsgroups(ctx: &mut Ctx) -> CaseResult {
    let a = bad_post(ctx)?.without("Newsgroups");
    post_rejected(ctx, a, "article without Newsgroups")
}

fn post_unknown_group(ctx: &mut Ctx) -> CaseResult {
    let group = ctx.unused_name("nonexistent");
    let a = bad_post(ctx)?.with("Newsgroups", &group);
    post_rejected(ctx, a, &format!("article for nonexistent group {group}"))
}

fn post_header_without_colon(ctx: &mut Ctx) -> CaseResult {
    let a = bad_post(ctx)?.with_raw_header("X-Conformance-No-Colon this header has no colon");
    post_rejected(ctx, a, "article with a header line without colon")
}

/// The article as served under `msgid`, split into header lines and body.
fn served(c: &mut Client, msgid: &str) -> Result<(Vec<String>, Vec<String>), CaseError> {
    let cmd = format!("ARTICLE {msgid}");
    let st = c.command(&cmd)?;
    expect(&st, &[220], &cmd)?;
    let lines = c.read_block()?;
    match split_article(&lines) {
        Some((head, body)) => Ok((head.to_vec(), body.to_vec())),
        None => fail(format!("{cmd}: no empty line between headers and body")),
    }
}

/// The posted article is found under the Message-ID the poster chose,
/// which its Message-ID header still carries.
fn post_keeps_message_id(ctx: &mut Ctx) -> CaseResult {
    let p = posted(ctx)?;
    let mut c = ctx.reader()?;
    let (head, _) = served(&mut c, &p.msgid)?;
    match head.iter().find_map(|l| header_value(l, "Message-ID")) {
        Some(id) if id.trim() == p.msgid => Ok(()),
        other => fail(format!(
            "posted with Message-ID {}, served with {other:?}",
            p.msgid
        )),
    }
}

/// The posted article had Message-ID and Date already, so whether it gets
/// an Injection-Date varies (INN adds none then, nntp.md §5.1); every
/// injector adds Injection-Info.
fn post_gets_injection_info(ctx: &mut Ctx) -> CaseResult {
    let p = posted(ctx)?;
    let mut c = ctx.reader()?;
    let (head, _) = served(&mut c, &p.msgid)?;
    if head
        .iter()
        .any(|l| header_value(l, "Injection-Info").is_some())
    {
        Ok(())
    } else {
        fail(format!("ARTICLE {}: no Injection-Info header", p.msgid))
    }
}

fn post_with_injection_info(ctx: &mut Ctx) -> CaseResult {
    let a = bad_post(ctx)?.with(
        "Injection-Info",
        "forged.example; posting-host=\"192.0.2.1\"",
    );
    post_rejected(ctx, a, "article carrying its own Injection-Info")
}

fn post_with_bad_file_ref(ctx: &mut Ctx) -> CaseResult {
    let a = bad_post(ctx)?.with("Tidings-File", "not-a-hash 12 image/png");
    post_rejected(ctx, a, "article whose Tidings-File names no SHA-256")
}

fn post_with_injection_date(ctx: &mut Ctx) -> CaseResult {
    let date = clock::rfc5322(clock::now_secs());
    let a = bad_post(ctx)?.with("Injection-Date", &date);
    post_rejected(ctx, a, "article carrying its own Injection-Date")
}

fn post_with_posted_path(ctx: &mut Ctx) -> CaseResult {
    let a = bad_post(ctx)?.with("Path", "elsewhere.example!.POSTED!not-for-mail");
    post_rejected(ctx, a, "article whose Path already has .POSTED")
}

fn post_from_the_future(ctx: &mut Ctx) -> CaseResult {
    let date = clock::rfc5322(clock::now_secs() + 2 * 86_400);
    let a = bad_post(ctx)?.with("Date", &date);
    post_rejected(ctx, a, "article dated two days ahead")
}

fn post_from_without_address(ctx: &mut Ctx) -> CaseResult {
    let a = bad_post(ctx)?.with("From", "Conformance Suite");
    post_rejected(ctx, a, "article whose From has no address")
}

fn post_bare_cr_in_header(ctx: &mut Ctx) -> CaseResult {
    let a = bad_post(ctx)?.with_raw_header("X-Conformance: bare\rcarriage return");
    post_rejected(ctx, a, "article with a bare CR inside a header")
}

fn post_empty_header_field(ctx: &mut Ctx) -> CaseResult {
    let a = bad_post(ctx)?.with_raw_header("Keywords: ");
    post_rejected(ctx, a, "article with an empty Keywords header")
}

fn post_whitespace_continuation(ctx: &mut Ctx) -> CaseResult {
    let a = bad_post(ctx)?.with_raw_header("Keywords: conformance\r\n \r\n more");
    post_rejected(
        ctx,
        a,
        "article with a continuation line of only whitespace",
    )
}

fn post_bad_expires(ctx: &mut Ctx) -> CaseResult {
    let a = bad_post(ctx)?.with("Expires", "when the cows come home");
    post_rejected(ctx, a, "article with an Expires that is no date")
}

fn post_empty_subject(ctx: &mut Ctx) -> CaseResult {
    let a = bad_post(ctx)?
        .without("Subject")
        .with_raw_header("Subject: ");
    post_rejected(ctx, a, "article with an empty Subject")
}

fn post_empty_body(ctx: &mut Ctx) -> CaseResult {
    let mut a = bad_post(ctx)?;
    a.body = Vec::new();
    post_rejected(ctx, a, "article without a body")
}

fn post_stale(ctx: &mut Ctx) -> CaseResult {
    let date = clock::rfc5322(clock::now_secs() - 4 * 86_400);
    let a = bad_post(ctx)?.with("Date", &date);
    post_rejected(ctx, a, "article dated four days ago")
}

fn post_followup_to_unknown(ctx: &mut Ctx) -> CaseResult {
    let group = ctx.unused_name("nonexistent");
    let a = bad_post(ctx)?.with("Followup-To", &group);
    post_rejected(
        ctx,
        a,
        &format!("article with Followup-To {group}, which does not exist"),
    )
}

/// A "." followed by a bare LF inside an article is not its end: what
/// follows it is not read as commands (the SMTP-smuggling pattern), and the
/// article is answered once, after its "." CRLF.
fn dot_bare_lf_is_content(ctx: &mut Ctx) -> CaseResult {
    let mut a = bad_post(ctx)?;
    // Lines that need no dot-stuffing; the raw tail below is the test.
    a.body = vec!["A plain first line.".into()];
    let mut wire = Vec::new();
    for line in a.lines() {
        wire.extend_from_slice(line.as_bytes());
        wire.extend_from_slice(b"\r\n");
    }
    wire.extend_from_slice(b"body\r\n.\nDATE\r\n.\r\nDATE\r\n");
    let mut c = ctx.reader()?;
    let st = c.command("POST")?;
    expect(&st, &[340], "POST")?;
    c.send_raw(&wire)?;
    let st = c.read_status()?;
    expect(
        &st,
        &[240, 441],
        "the article, which ends only at its \".\" CRLF",
    )?;
    let st = c.read_status()?;
    expect(
        &st,
        &[111],
        "the DATE after the article's end, the only one answered",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_article_at_first_empty_line() {
        let lines: Vec<String> = ["A: 1", "B: 2", "", "body", "", "more"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let (h, b) = split_article(&lines).unwrap();
        assert_eq!(h, &lines[..2]);
        assert_eq!(b, &lines[3..]);
        assert!(split_article(&lines[..2]).is_none());
    }

    #[test]
    fn overview_line_checks() {
        let a = Article::for_post("<x@y>", "g");
        let p = Posted {
            msgid: "<x@y>".into(),
            group: "g".into(),
            article: a,
            number: Ok(7),
        };
        let good = "7\tconformance x@y\tF\tD\t<x@y>\t\t100\t7";
        assert!(check_over_line(good, 7, &p, "OVER 7").is_ok());
        assert!(check_over_line(good, 8, &p, "OVER 8").is_err());
        assert!(check_over_line("7\tconformance x@y\tF", 7, &p, "OVER 7").is_err());
        let wrong_id = "7\tconformance x@y\tF\tD\t<z@y>\t\t100\t7";
        assert!(check_over_line(wrong_id, 7, &p, "OVER 7").is_err());
    }
}

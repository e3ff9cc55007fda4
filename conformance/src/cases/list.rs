//! The LIST family (RFC 3977 §7.6, §8.4, §8.6).

use super::{expect, fail, Case, CaseResult, Need, Side};
use crate::ctx::Ctx;
use crate::wire::ActiveLine;

pub const CASES: &[Case] = &[
    Case {
        name: "list-active-lines-are-name-high-low-status",
        side: Side::Reader,
        need: Need::List("ACTIVE"),
        needs_group: false,
        rfc: "RFC 3977 §7.6.3",
        run: list_active,
    },
    Case {
        name: "list-active-unmatched-wildmat-is-empty",
        side: Side::Reader,
        need: Need::List("ACTIVE"),
        needs_group: false,
        rfc: "RFC 3977 §7.6.3",
        run: list_active_no_match,
    },
    Case {
        name: "list-newsgroups-is-215",
        side: Side::Reader,
        need: Need::List("NEWSGROUPS"),
        needs_group: false,
        rfc: "RFC 3977 §7.6.6",
        run: list_newsgroups,
    },
    Case {
        name: "list-overview-fmt-starts-with-the-seven-fields",
        side: Side::Reader,
        need: Need::Cap("OVER"),
        needs_group: false,
        rfc: "RFC 3977 §8.4",
        run: list_overview_fmt,
    },
    Case {
        name: "list-headers-is-215",
        side: Side::Reader,
        need: Need::Cap("HDR"),
        needs_group: false,
        rfc: "RFC 3977 §8.6",
        run: list_headers,
    },
];

fn list_active(ctx: &mut Ctx) -> CaseResult {
    let mut c = ctx.reader()?;
    let st = c.command("LIST ACTIVE")?;
    expect(&st, &[215], "LIST ACTIVE")?;
    for line in c.read_block()? {
        if ActiveLine::parse(&line).is_none() {
            return fail(format!(
                "LIST ACTIVE line {line:?} is not `name high low status`"
            ));
        }
    }
    Ok(())
}

fn list_active_no_match(ctx: &mut Ctx) -> CaseResult {
    let mut c = ctx.reader()?;
    let wildmat = format!("{}.*", ctx.unused_name("nomatch"));
    let st = c.command(&format!("LIST ACTIVE {wildmat}"))?;
    expect(&st, &[215], &format!("LIST ACTIVE {wildmat}"))?;
    let lines = c.read_block()?;
    if !lines.is_empty() {
        return fail(format!(
            "LIST ACTIVE {wildmat} should list nothing, got {} lines starting {:?}",
            lines.len(),
            lines[0]
        ));
    }
    Ok(())
}

fn list_newsgroups(ctx: &mut Ctx) -> CaseResult {
    let mut c = ctx.reader()?;
    let st = c.command("LIST NEWSGROUPS")?;
    expect(&st, &[215], "LIST NEWSGROUPS")?;
    for line in c.read_block()? {
        // `name description`; the description may be empty.
        if line.split_ascii_whitespace().next().is_none() {
            return fail(format!("LIST NEWSGROUPS line {line:?} has no group name"));
        }
    }
    Ok(())
}

/// The first seven lines are fixed; `Bytes:` and `Lines:` are the older
/// spellings the RFC still allows.
fn list_overview_fmt(ctx: &mut Ctx) -> CaseResult {
    const FIXED: [&[&str]; 7] = [
        &["Subject:"],
        &["From:"],
        &["Date:"],
        &["Message-ID:"],
        &["References:"],
        &[":bytes", "Bytes:"],
        &[":lines", "Lines:"],
    ];
    let mut c = ctx.reader()?;
    let st = c.command("LIST OVERVIEW.FMT")?;
    expect(&st, &[215], "LIST OVERVIEW.FMT")?;
    let lines = c.read_block()?;
    for (i, allowed) in FIXED.iter().enumerate() {
        let got = lines.get(i).map(|l| l.trim());
        if !got.is_some_and(|g| allowed.iter().any(|a| a.eq_ignore_ascii_case(g))) {
            return fail(format!(
                "LIST OVERVIEW.FMT line {} should be {}, got {got:?}",
                i + 1,
                allowed.join(" or ")
            ));
        }
    }
    Ok(())
}

fn list_headers(ctx: &mut Ctx) -> CaseResult {
    let mut c = ctx.reader()?;
    let st = c.command("LIST HEADERS")?;
    expect(&st, &[215], "LIST HEADERS")?;
    for line in c.read_block()? {
        if line.trim().is_empty() {
            return fail("LIST HEADERS has an empty line");
        }
    }
    Ok(())
}

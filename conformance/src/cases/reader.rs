//! Group and article selection without posting anything (RFC 3977 §6.1,
//! §6.2, §7.3).

use super::{expect, fail, number_arg, skip, Case, CaseError, CaseResult, Need, Side};
use crate::client::Client;
use crate::clock;
use crate::ctx::Ctx;
use crate::wire::{self, GroupReply};

const READER: Need = Need::Cap("READER");

pub const CASES: &[Case] = &[
    Case {
        name: "group-unknown-is-411",
        side: Side::Reader,
        need: READER,
        needs_group: false,
        rfc: "RFC 3977 §6.1.1",
        run: group_unknown,
    },
    Case {
        name: "group-selects-group",
        side: Side::Reader,
        need: READER,
        needs_group: true,
        rfc: "RFC 3977 §6.1.1",
        run: group_selects,
    },
    Case {
        name: "article-without-group-is-412",
        side: Side::Reader,
        need: READER,
        needs_group: false,
        rfc: "RFC 3977 §6.2.1",
        run: article_without_group,
    },
    Case {
        name: "article-number-over-16-digits-is-501",
        side: Side::Reader,
        need: READER,
        needs_group: false,
        rfc: "RFC 3977 §9.8 (article-number = 1*16DIGIT), §3.2.1",
        run: article_number_too_long,
    },
    Case {
        name: "next-and-last-without-group-are-412",
        side: Side::Reader,
        need: READER,
        needs_group: false,
        rfc: "RFC 3977 §6.1.3, §6.1.4",
        run: next_without_group,
    },
    Case {
        name: "unknown-message-id-is-430",
        side: Side::Reader,
        need: READER,
        needs_group: false,
        rfc: "RFC 3977 §6.2.1-6.2.4",
        run: unknown_msgid,
    },
    Case {
        name: "listgroup-lists-ascending-numbers",
        side: Side::Reader,
        need: READER,
        needs_group: true,
        rfc: "RFC 3977 §6.1.2",
        run: listgroup,
    },
    Case {
        name: "listgroup-with-range",
        side: Side::Reader,
        need: READER,
        needs_group: true,
        rfc: "RFC 3977 §6.1.2",
        run: listgroup_range,
    },
    Case {
        name: "stat-missing-number-is-423",
        side: Side::Reader,
        need: READER,
        needs_group: true,
        rfc: "RFC 3977 §6.2.4",
        run: stat_missing_number,
    },
    Case {
        name: "article-in-empty-group-is-420",
        side: Side::Reader,
        need: READER,
        needs_group: false,
        rfc: "RFC 3977 §6.1.1, §6.2.1",
        run: article_in_empty_group,
    },
    Case {
        name: "newgroups-is-231",
        side: Side::Reader,
        need: READER,
        needs_group: false,
        rfc: "RFC 3977 §7.3",
        run: newgroups,
    },
];

/// Sends GROUP and checks the 211 reply's fields (§6.1.1).
pub fn select_group(c: &mut Client, group: &str) -> Result<GroupReply, CaseError> {
    let st = c.command(&format!("GROUP {group}"))?;
    expect(&st, &[211], &format!("GROUP {group}"))?;
    let Some(reply) = GroupReply::parse(&st) else {
        return fail(format!(
            "GROUP {group}: expected `211 number low high group`, got \"{st}\""
        ));
    };
    if reply.name != group {
        return fail(format!("GROUP {group}: reply names group {:?}", reply.name));
    }
    // A non-empty group's estimate is at least the real count, so at least
    // 1, and at most high - low + 1.
    if reply.count > 0 && (reply.high < reply.low || reply.count > reply.high - reply.low + 1) {
        return fail(format!(
            "GROUP {group}: count {} does not fit low {} high {}",
            reply.count, reply.low, reply.high
        ));
    }
    Ok(reply)
}

/// Reads a LISTGROUP block: numbers, strictly ascending (§6.1.2).
pub fn read_numbers(c: &mut Client, what: &str) -> Result<Vec<u64>, CaseError> {
    let mut numbers = Vec::new();
    for line in c.read_block()? {
        let Some(n) = wire::parse_number(line.trim()) else {
            return fail(format!("{what}: line {line:?} is not an article number"));
        };
        if numbers.last().is_some_and(|&prev| prev >= n) {
            return fail(format!("{what}: {n} does not ascend after {numbers:?}"));
        }
        numbers.push(n);
    }
    Ok(numbers)
}

fn group_unknown(ctx: &mut Ctx) -> CaseResult {
    let mut c = ctx.reader()?;
    let name = ctx.unused_name("nonexistent");
    let st = c.command(&format!("GROUP {name}"))?;
    expect(&st, &[411], &format!("GROUP {name}"))
}

fn group_selects(ctx: &mut Ctx) -> CaseResult {
    let group = ctx.group()?;
    let mut c = ctx.reader()?;
    select_group(&mut c, &group).map(|_| ())
}

fn article_without_group(ctx: &mut Ctx) -> CaseResult {
    let mut c = ctx.reader()?;
    let st = c.command("ARTICLE 1")?;
    expect(&st, &[412], "ARTICLE 1 before any GROUP")
}

/// A 17-digit number is not an article number at all: a syntax error
/// whether a group is selected or not.
fn article_number_too_long(ctx: &mut Ctx) -> CaseResult {
    let mut c = ctx.reader()?;
    let st = c.command("ARTICLE 10000000000000000")?;
    expect(
        &st,
        &[501],
        "ARTICLE with a 17-digit number before any GROUP",
    )?;
    let st = c.command("STAT 99999999999999999999")?;
    expect(&st, &[501], "STAT with a 20-digit number")
}

fn next_without_group(ctx: &mut Ctx) -> CaseResult {
    let mut c = ctx.reader()?;
    for cmd in ["NEXT", "LAST"] {
        let st = c.command(cmd)?;
        expect(&st, &[412], &format!("{cmd} before any GROUP"))?;
    }
    Ok(())
}

fn unknown_msgid(ctx: &mut Ctx) -> CaseResult {
    let msgid = ctx.new_msgid().replace("conf.", "absent.");
    let mut c = ctx.reader()?;
    for cmd in ["ARTICLE", "HEAD", "BODY", "STAT"] {
        let st = c.command(&format!("{cmd} {msgid}"))?;
        expect(&st, &[430], &format!("{cmd} of a message-id never sent"))?;
    }
    Ok(())
}

fn listgroup(ctx: &mut Ctx) -> CaseResult {
    let group = ctx.group()?;
    let mut c = ctx.reader()?;
    let st = c.command(&format!("LISTGROUP {group}"))?;
    expect(&st, &[211], &format!("LISTGROUP {group}"))?;
    let reply = GroupReply::parse(&st).ok_or_else(|| {
        CaseError::Fail(format!(
            "LISTGROUP {group}: expected `211 number low high group`, got \"{st}\""
        ))
    })?;
    let numbers = read_numbers(&mut c, "LISTGROUP")?;
    if let (Some(first), Some(last)) = (numbers.first(), numbers.last()) {
        if *first < reply.low || *last > reply.high {
            return fail(format!(
                "LISTGROUP lists {first}..{last}, outside low {} high {}",
                reply.low, reply.high
            ));
        }
    }
    Ok(())
}

/// With a range, only numbers inside it come back.
fn listgroup_range(ctx: &mut Ctx) -> CaseResult {
    let group = ctx.group()?;
    let mut c = ctx.reader()?;
    let st = c.command(&format!("LISTGROUP {group}"))?;
    expect(&st, &[211], &format!("LISTGROUP {group}"))?;
    let all = read_numbers(&mut c, "LISTGROUP")?;
    let (from, to) = match all.first() {
        Some(&first) => (first, first),
        // An empty group: any range lists nothing.
        None => (1, 2),
    };
    let cmd = format!("LISTGROUP {group} {from}-{to}");
    let st = c.command(&cmd)?;
    expect(&st, &[211], &cmd)?;
    let got = read_numbers(&mut c, &cmd)?;
    let want: Vec<u64> = all
        .into_iter()
        .filter(|n| (from..=to).contains(n))
        .collect();
    if got != want {
        return fail(format!("{cmd}: expected {want:?}, got {got:?}"));
    }
    Ok(())
}

fn stat_missing_number(ctx: &mut Ctx) -> CaseResult {
    let group = ctx.group()?;
    let mut c = ctx.reader()?;
    let reply = select_group(&mut c, &group)?;
    // Article numbers stop at 2^31-1 (§6); stay inside that and past high.
    let missing = (reply.high + 1000).min(2_147_483_647);
    if missing <= reply.high {
        return skip("the group's high water mark is at the largest article number");
    }
    let st = c.command(&format!("STAT {missing}"))?;
    expect(
        &st,
        &[423],
        &format!("STAT {missing} (high water mark {})", reply.high),
    )
}

/// GROUP of an empty group leaves the current article invalid, so ARTICLE
/// without an argument is 420. Testable only if the server has an empty
/// group; LIST ACTIVE hints at one (high < low or all zero), GROUP's count
/// confirms it.
fn article_in_empty_group(ctx: &mut Ctx) -> CaseResult {
    let candidates: Vec<String> = ctx
        .active
        .iter()
        .filter(|g| g.high < g.low || g.high == 0)
        .take(10)
        .map(|g| g.name.clone())
        .collect();
    let mut c = ctx.reader()?;
    for name in candidates {
        let st = c.command(&format!("GROUP {name}"))?;
        if st.code != 211 || number_arg(&st, 0, "GROUP")? != 0 {
            continue;
        }
        let st = c.command("ARTICLE")?;
        return expect(&st, &[420], &format!("ARTICLE after GROUP of empty {name}"));
    }
    skip("no empty group found in LIST ACTIVE")
}

fn newgroups(ctx: &mut Ctx) -> CaseResult {
    let mut c = ctx.reader()?;
    let (date, time) = clock::nntp_date_time(clock::now_secs() - 86_400);
    let cmd = format!("NEWGROUPS {date} {time} GMT");
    let st = c.command(&cmd)?;
    expect(&st, &[231], &cmd)?;
    for line in c.read_block()? {
        // Same format as LIST ACTIVE (§7.3).
        if wire::ActiveLine::parse(&line).is_none() {
            return fail(format!(
                "{cmd}: line {line:?} is not `name high low status`"
            ));
        }
    }
    Ok(())
}

//! Commands every server must answer (RFC 3977 §3, §5, §7.1-7.2), and
//! STARTTLS where it is advertised (RFC 4642).

use super::{expect, fail, Case, CaseResult, Need, Side};
use crate::capabilities::Capabilities;
use crate::ctx::{date_near_now, Ctx};

pub const CASES: &[Case] = &[
    Case {
        name: "greeting-is-200-or-201",
        side: Side::Transit,
        need: Need::Nothing,
        needs_group: false,
        rfc: "RFC 3977 §5.1",
        run: greeting,
    },
    Case {
        name: "capabilities-is-101-version-2-first",
        side: Side::Transit,
        need: Need::Nothing,
        needs_group: false,
        rfc: "RFC 3977 §5.2",
        run: capabilities,
    },
    Case {
        name: "help-is-100-with-block",
        side: Side::Transit,
        need: Need::Nothing,
        needs_group: false,
        rfc: "RFC 3977 §7.2",
        run: help,
    },
    Case {
        name: "date-is-111-current-utc",
        side: Side::Reader,
        need: Need::Cap("READER"),
        needs_group: false,
        rfc: "RFC 3977 §7.1",
        run: date,
    },
    Case {
        name: "unknown-command-is-500",
        side: Side::Transit,
        need: Need::Nothing,
        needs_group: false,
        rfc: "RFC 3977 §3.2.1",
        run: unknown_command,
    },
    Case {
        name: "overlong-command-is-500-or-501",
        side: Side::Transit,
        need: Need::Nothing,
        needs_group: false,
        rfc: "RFC 3977 §3.1",
        run: overlong_command,
    },
    Case {
        name: "keywords-are-case-insensitive",
        side: Side::Reader,
        need: Need::Nothing,
        needs_group: false,
        rfc: "RFC 3977 §3.1",
        run: case_insensitive,
    },
    Case {
        name: "mode-reader-is-200-or-201",
        side: Side::Transit,
        need: Need::AnyCap(&["READER", "MODE-READER"]),
        needs_group: false,
        rfc: "RFC 3977 §5.3",
        run: mode_reader,
    },
    Case {
        name: "reader-commands-are-401-until-mode-reader",
        side: Side::Transit,
        need: Need::Cap("MODE-READER"),
        needs_group: false,
        rfc: "RFC 3977 §3.2.1, §3.4.2, §5.3",
        run: mode_switch,
    },
    Case {
        name: "quit-is-205-and-closes",
        side: Side::Transit,
        need: Need::Nothing,
        needs_group: false,
        rfc: "RFC 3977 §5.4",
        run: quit,
    },
    Case {
        name: "starttls-is-382",
        side: Side::Transit,
        need: Need::Cap("STARTTLS"),
        needs_group: false,
        rfc: "RFC 4642 §2.2.2",
        run: starttls,
    },
];

fn greeting(ctx: &mut Ctx) -> CaseResult {
    let (_client, greeting) = ctx.connect()?;
    expect(&greeting, &[200, 201], "greeting")
}

/// 101, VERSION first with 2 among its arguments, no label twice.
fn capabilities(ctx: &mut Ctx) -> CaseResult {
    let mut c = ctx.transit()?;
    let st = c.command("CAPABILITIES")?;
    expect(&st, &[101], "CAPABILITIES")?;
    let lines = c.read_block()?;
    let mut first = lines.first().map(|l| l.split_ascii_whitespace());
    let label = first.as_mut().and_then(|t| t.next());
    if !label.is_some_and(|l| l.eq_ignore_ascii_case("VERSION")) {
        return fail(format!(
            "first capability line must be VERSION, got {:?}",
            lines.first()
        ));
    }
    if !first.is_some_and(|mut t| t.any(|v| v == "2")) {
        return fail(format!("VERSION line must list 2, got {:?}", lines.first()));
    }
    let caps = Capabilities::parse(&lines);
    let labels = caps.labels();
    for (i, l) in labels.iter().enumerate() {
        if labels[..i].contains(l) {
            return fail(format!("capability {l} is listed twice"));
        }
    }
    Ok(())
}

fn help(ctx: &mut Ctx) -> CaseResult {
    let mut c = ctx.transit()?;
    let st = c.command("HELP")?;
    expect(&st, &[100], "HELP")?;
    // The text is free-form; reading it to the "." line checks the framing.
    c.read_block()?;
    Ok(())
}

fn date(ctx: &mut Ctx) -> CaseResult {
    let mut c = ctx.reader()?;
    let st = c.command("DATE")?;
    expect(&st, &[111], "DATE")?;
    date_near_now(&st, "DATE")
}

fn unknown_command(ctx: &mut Ctx) -> CaseResult {
    let mut c = ctx.transit()?;
    let st = c.command("XYZZYCONFORMANCE")?;
    expect(&st, &[500], "unknown command XYZZYCONFORMANCE")?;
    ctx.probe(&mut c, "after the unknown command")
}

/// A 611-octet line. HELP takes no arguments, so a server answers 501
/// whether it enforces the 512-octet limit or checks arguments; only one
/// that does neither passes it through.
fn overlong_command(ctx: &mut Ctx) -> CaseResult {
    let mut c = ctx.transit()?;
    let line = format!("HELP {}", "x".repeat(604));
    let st = c.command(&line)?;
    expect(&st, &[500, 501], "611-octet command line")?;
    ctx.probe(&mut c, "after the overlong line")
}

fn case_insensitive(ctx: &mut Ctx) -> CaseResult {
    let mut c = ctx.reader()?;
    let st = c.command("capabilities")?;
    expect(&st, &[101], "capabilities (lower case)")?;
    c.read_block()?;
    if ctx.reader_caps.has("READER") {
        for cmd in ["date", "DaTe"] {
            let st = c.command(cmd)?;
            expect(&st, &[111], cmd)?;
            date_near_now(&st, cmd)?;
        }
    }
    Ok(())
}

fn mode_reader(ctx: &mut Ctx) -> CaseResult {
    let mut c = ctx.transit()?;
    let st = c.command("MODE READER")?;
    expect(&st, &[200, 201], "MODE READER")
}

/// A mode-switching server (RFC 3977 §3.4.2). Before MODE READER the
/// reader commands are 401 with MODE-READER as its first argument, the
/// capability that would make them available (§3.2.1); POST may instead be
/// 440, posting not permitted in this state (§6.3.1). (A server that also
/// advertises READER before the switch has nothing to refuse.) MODE READER
/// is 200 or 201 (§5.3); after it, on the same connection, CAPABILITIES
/// lists READER and no longer MODE-READER, and DATE works.
fn mode_switch(ctx: &mut Ctx) -> CaseResult {
    let mut c = ctx.transit()?;
    if !ctx.transit_caps.has("READER") {
        let group = ctx.unused_name("nonexistent");
        for (cmd, codes) in [
            ("DATE".to_string(), &[401][..]),
            (format!("GROUP {group}"), &[401]),
            ("POST".to_string(), &[401, 440]),
        ] {
            let what = format!("{cmd} before MODE READER");
            let st = c.command(&cmd)?;
            if st.code == 340 {
                c.abort();
                return fail(format!("{what}: 340, yet READER is not advertised"));
            }
            expect(&st, codes, &what)?;
            if st.code == 401
                && !st
                    .arg(0)
                    .is_some_and(|a| a.eq_ignore_ascii_case("MODE-READER"))
            {
                return fail(format!(
                    "{what}: \"{st}\" does not name MODE-READER, the capability \
                     that makes the command available (RFC 3977 §3.2.1)"
                ));
            }
        }
    }
    let st = c.command("MODE READER")?;
    expect(&st, &[200, 201], "MODE READER")?;
    let st = c.command("CAPABILITIES")?;
    expect(&st, &[101], "CAPABILITIES after MODE READER")?;
    let caps = Capabilities::parse(&c.read_block()?);
    if !caps.has("READER") {
        return fail("CAPABILITIES after MODE READER lacks READER");
    }
    if caps.has("MODE-READER") {
        return fail("CAPABILITIES after MODE READER still lists MODE-READER");
    }
    let st = c.command("DATE")?;
    expect(&st, &[111], "DATE after MODE READER")?;
    date_near_now(&st, "DATE after MODE READER")
}

fn quit(ctx: &mut Ctx) -> CaseResult {
    let mut c = ctx.transit()?;
    let st = c.command("QUIT")?;
    expect(&st, &[205], "QUIT")?;
    if c.wait_closed()? {
        Ok(())
    } else {
        fail(format!(
            "connection still open {}s after 205",
            ctx.timeout.as_secs()
        ))
    }
}

/// Only the go-ahead is checked: the suite has no TLS stack, so after the
/// 382 it drops the connection instead of starting the handshake.
fn starttls(ctx: &mut Ctx) -> CaseResult {
    let mut c = ctx.transit()?;
    let st = c.command("STARTTLS")?;
    expect(&st, &[382], "STARTTLS")?;
    c.abort();
    Ok(())
}

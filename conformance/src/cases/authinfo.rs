//! AUTHINFO USER/PASS (RFC 4643; tidings access.md §3), for servers that
//! advertise AUTHINFO. Without credentials the suite checks the refusals:
//! PASS before USER, a wrong password, and `483` where only TLS would
//! allow logging in; the connection stays in step after each.

use super::{expect, skip, Case, CaseResult, Need, Side};
use crate::ctx::Ctx;

const AUTHINFO: Need = Need::Cap("AUTHINFO");

pub const CASES: &[Case] = &[
    Case {
        name: "authinfo-pass-before-user-is-482-or-483-without-tls",
        side: Side::Reader,
        need: AUTHINFO,
        needs_group: false,
        rfc: "RFC 4643 §2.3.2, §2.2",
        run: pass_first,
    },
    Case {
        name: "authinfo-with-a-wrong-password-is-481-or-483-without-tls",
        side: Side::Reader,
        need: AUTHINFO,
        needs_group: false,
        rfc: "RFC 4643 §2.3.2, §2.2",
        run: wrong_password,
    },
];

/// Whether the server offers USER/PASS on this connection now (the
/// capability's USER argument), rather than only after TLS.
fn user_offered(ctx: &Ctx) -> bool {
    ctx.reader_caps
        .args("AUTHINFO")
        .is_some_and(|a| a.iter().any(|w| w.eq_ignore_ascii_case("USER")))
}

fn pass_first(ctx: &mut Ctx) -> CaseResult {
    let offered = user_offered(ctx);
    let mut c = ctx.reader()?;
    let st = c.command("AUTHINFO PASS conformance-not-a-password")?;
    expect(
        &st,
        if offered { &[482] } else { &[483] },
        "AUTHINFO PASS before USER",
    )?;
    let st = c.command("DATE")?;
    expect(&st, &[111], "DATE after the refusal")
}

fn wrong_password(ctx: &mut Ctx) -> CaseResult {
    let offered = user_offered(ctx);
    let mut c = ctx.reader()?;
    let st = c.command("AUTHINFO USER conformance-nobody")?;
    if !offered {
        expect(&st, &[483], "AUTHINFO USER where only TLS allows it")?;
    } else {
        // 481 at once is allowed for a name the server refuses outright.
        expect(&st, &[381, 481], "AUTHINFO USER")?;
        if st.code == 481 {
            return skip("the server refused the name before a password");
        }
        let st = c.command("AUTHINFO PASS conformance wrong password")?;
        expect(&st, &[481], "AUTHINFO PASS with a wrong password")?;
    }
    let st = c.command("DATE")?;
    expect(&st, &[111], "DATE after the refusal")
}

//! AUTHINFO USER/PASS (RFC 4643; tidings access.md §3), for servers that
//! advertise AUTHINFO. Without credentials the suite checks the refusals:
//! PASS before USER, a wrong password, and `483` where only TLS would
//! allow logging in; the connection stays in step after each. And
//! XAUTHKEY (access.md §3.2) where `X-TIDINGS-AUTHKEY` is advertised: a
//! key the server never vouched for, or a wrong signature, is `481`.

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
    Case {
        name: "xauthkey-of-a-key-without-standing-or-a-bad-signature-is-481",
        side: Side::Reader,
        need: Need::Cap("X-TIDINGS-AUTHKEY"),
        needs_group: false,
        rfc: "tidings access.md §3.2",
        run: xauthkey,
    },
];

fn xauthkey(ctx: &mut Ctx) -> CaseResult {
    let mut c = ctx.reader()?;
    // 32 bytes this suite made up: no node vouched for them as a key.
    let key = "ea4a6c63e29c520abef5507b132ec5f9954776aebebe7b92421eea691446d22c";
    let st = c.command(&format!("XAUTHKEY {key}"))?;
    expect(&st, &[381, 481], "XAUTHKEY of an unknown key")?;
    if st.code == 381 {
        let st = c.command(&format!("XAUTHKEY {key} {}", "00".repeat(64)))?;
        expect(&st, &[481], "XAUTHKEY with a zero signature")?;
    }
    let st = c.command("XAUTHKEY nothex")?;
    expect(&st, &[501], "XAUTHKEY with a malformed key")?;
    let st = c.command("DATE")?;
    expect(&st, &[111], "DATE after the refusals")
}

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

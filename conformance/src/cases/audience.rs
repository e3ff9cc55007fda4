//! Protected posts (tidings access.md §7), for servers advertising
//! X-TIDINGS-AUDIENCE: a post naming an audience is kept only in boards the
//! server reserves for it, so one on the suite's test group (reserved for
//! no audience) is refused; and a `grant` signed by the suite's key gives
//! the grantee's key standing to log in with XAUTHKEY, which a later
//! `ungrant` ends.

use super::ihave::{offer, rejected};
use super::{expect, fail, Case, CaseResult, Need, Side};
use crate::article::Article;
use crate::clock;
use crate::ctx::Ctx;
use crate::signing::Signer;

const CAPABILITY: &str = "X-TIDINGS-AUDIENCE";

pub const CASES: &[Case] = &[
    Case {
        name: "a-post-for-an-audience-on-a-board-not-reserved-for-it-is-437",
        side: Side::Transit,
        need: Need::AllCaps(&[CAPABILITY, "X-TIDINGS-SIGNED"]),
        needs_group: true,
        rfc: "tidings access.md §7.3",
        run: unreserved,
    },
    Case {
        name: "a-grant-lets-its-key-log-in-and-a-later-ungrant-ends-it",
        side: Side::Transit,
        need: Need::AllCaps(&[CAPABILITY, "X-TIDINGS-SIGNED", "X-TIDINGS-AUTHKEY"]),
        needs_group: true,
        rfc: "tidings access.md §7.2, §3.2",
        run: grant_and_ungrant,
    },
];

fn unreserved(ctx: &mut Ctx) -> CaseResult {
    let group = ctx.group()?;
    let owner = ctx.signer()?.public_hex();
    let msgid = ctx.new_msgid();
    let article = ctx.sign(
        &Article::for_transit(&msgid, &group).with("Tidings-Audience", &format!("{owner} friends")),
    )?;
    rejected(
        ctx,
        &msgid,
        article,
        "a post for an audience on an open board",
    )
}

/// A grant or ungrant (`command`) signed by the suite's key, dated `date`,
/// offered by IHAVE: `235`.
fn control(ctx: &mut Ctx, command: &str, date: i64) -> CaseResult {
    let group = ctx.group()?;
    let msgid = ctx.new_msgid();
    let article = ctx.sign(
        &Article::for_transit(&msgid, &group)
            .with("Subject", &format!("cmsg {command}"))
            .with("Control", command)
            .with("Date", &clock::rfc5322(date)),
    )?;
    let mut c = ctx.peer()?;
    let st = offer(&mut c, &msgid, &article)?;
    expect(&st, &[235], &format!("IHAVE of Control: {command}"))?;
    ctx.not_pending(&st, command)
}

/// XAUTHKEY as `key`, signing the challenge (access.md §3.2): the last
/// reply's code.
fn log_in(ctx: &Ctx, key: &Signer) -> Result<u16, super::CaseError> {
    let (mut c, server) = ctx.greeted()?;
    let hex = key.public_hex();
    let st = c.command(&format!("XAUTHKEY {hex}"))?;
    if st.code != 381 {
        return Ok(st.code);
    }
    let challenge = st.text.split_whitespace().next().unwrap_or_default();
    let message = format!("tidings-authkey-v1\n{server}\n{hex}\n{challenge}\n");
    let st = c.command(&format!(
        "XAUTHKEY {hex} {}",
        key.sign_bytes(message.as_bytes())
    ))?;
    Ok(st.code)
}

fn grant_and_ungrant(ctx: &mut Ctx) -> CaseResult {
    let grantee = Signer::throwaway();
    let code = log_in(ctx, &grantee)?;
    if code != 481 {
        return fail(format!(
            "XAUTHKEY of a key made up for this run: {code}, not 481"
        ));
    }
    let now = clock::now_secs();
    let audience = format!("conformance.{}", &grantee.public_hex()[..8]);
    control(
        ctx,
        &format!("grant {audience} {} read never", grantee.public_hex()),
        now - 60,
    )?;
    let code = log_in(ctx, &grantee)?;
    if code != 281 {
        return fail(format!(
            "XAUTHKEY of a key granted an audience: {code}, not 281"
        ));
    }
    control(
        ctx,
        &format!("ungrant {audience} {}", grantee.public_hex()),
        now,
    )?;
    let code = log_in(ctx, &grantee)?;
    if code != 481 {
        return fail(format!(
            "XAUTHKEY of a key whose grant was ended: {code}, not 481"
        ));
    }
    Ok(())
}

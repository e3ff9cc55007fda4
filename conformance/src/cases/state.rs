//! The state digest (protocol-spec/state.md §5), for servers that advertise
//! X-TIDINGS-STATE: XSTATE answers one line with the digest of what
//! readers see, which changes when an article is filed and not when one
//! is offered again.

use super::ihave::transfer_readable;
use super::{expect, fail, Case, CaseResult, Need, Side};
use crate::client::Client;
use crate::ctx::Ctx;

const CAPABILITY: &str = "X-TIDINGS-STATE";
const STATE: Need = Need::Cap(CAPABILITY);

pub const CASES: &[Case] = &[
    Case {
        name: "capability-is-x-tidings-state-1",
        side: Side::Transit,
        need: STATE,
        needs_group: false,
        rfc: "tidings state.md §5",
        run: capability,
    },
    Case {
        name: "xstate-is-293-with-a-digest-and-501-with-arguments",
        side: Side::Transit,
        need: STATE,
        needs_group: false,
        rfc: "tidings state.md §5",
        run: syntax,
    },
    Case {
        name: "xstate-changes-with-a-filing-not-with-a-duplicate",
        side: Side::Transit,
        need: STATE,
        needs_group: true,
        rfc: "tidings state.md §5",
        run: changes,
    },
];

fn capability(ctx: &mut Ctx) -> CaseResult {
    match ctx.transit_caps.args(CAPABILITY) {
        Some([version]) if version == "1" => Ok(()),
        other => fail(format!(
            "expected `{CAPABILITY} 1` in CAPABILITIES, got arguments {other:?}"
        )),
    }
}

/// The digest from `293 <64 lower-case hex digits> text`.
fn digest(c: &mut Client) -> Result<String, super::CaseError> {
    let st = c.command("XSTATE")?;
    expect(&st, &[293], "XSTATE")?;
    let word = st.text.split(' ').next().unwrap_or_default();
    if word.len() != 64
        || !word
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        return fail(format!(
            "XSTATE: \"{st}\": the first word must be 64 lower-case hex digits"
        ));
    }
    Ok(word.to_string())
}

fn syntax(ctx: &mut Ctx) -> CaseResult {
    let mut c = ctx.transit()?;
    let first = digest(&mut c)?;
    let again = digest(&mut c)?;
    if first != again {
        return fail(format!(
            "two XSTATEs in a row with nothing in between differ: {first} then {again} (another writer?)"
        ));
    }
    let st = c.command("XSTATE everything")?;
    expect(&st, &[501], "XSTATE with an argument")?;
    ctx.probe(&mut c, "501 after XSTATE with an argument")
}

fn changes(ctx: &mut Ctx) -> CaseResult {
    let mut c = ctx.peer()?;
    let before = digest(&mut c)?;
    let (msgid, article) = transfer_readable(ctx, &mut c)?;
    let filed = digest(&mut c)?;
    if filed == before {
        return fail(format!(
            "XSTATE is {before} before and after {msgid} was filed (235): the digest covers each board's articles"
        ));
    }
    let st = c.command(&format!("IHAVE {msgid}"))?;
    if st.code == 335 {
        // A server may ask again; the copy must change nothing.
        let st = offer_rest(&mut c, &article)?;
        expect(&st, &[235, 437], "the second copy")?;
    } else {
        expect(&st, &[435], &format!("IHAVE {msgid} again"))?;
    }
    let after = digest(&mut c)?;
    if after != filed {
        return fail(format!(
            "XSTATE changed from {filed} to {after} when {msgid} was offered again"
        ));
    }
    Ok(())
}

fn offer_rest(
    c: &mut Client,
    article: &crate::article::Article,
) -> Result<crate::wire::Status, super::CaseError> {
    c.send_block(&article.lines())?;
    Ok(c.read_status()?)
}

//! tidings peering (protocol-spec/peering.md), for servers that advertise
//! X-TIDINGS-PEER: transit is refused until XPEER proves the connection
//! holds a configured peer's key, and a proof answers one challenge only.
//! Every case opens its own connections, none of them through `Ctx::peer`,
//! so each exchange is the case's own.
//!
//! Cases that authenticate need `--peer-name` and `--key`, and the server
//! must have that key configured for that name.

use super::{expect, fail, skip, Case, CaseError, CaseResult, Need, Side};
use crate::client::Client;
use crate::ctx::Ctx;
use crate::peering::{self, is_challenge, signed_bytes};
use crate::signing::Signer;
use crate::wire::Status;

const PEER: Need = Need::Cap(peering::CAPABILITY);

/// A name no server has configured as a peer (RFC 2606 reserves
/// `.invalid`).
const UNKNOWN_PEER: &str = "no-such-peer.invalid";

pub const CASES: &[Case] = &[
    Case {
        name: "transit-before-xpeer-is-480",
        side: Side::Transit,
        need: PEER,
        needs_group: false,
        rfc: "tidings peering.md §1",
        run: transit_before_xpeer,
    },
    Case {
        name: "xpeer-unknown-name-is-481",
        side: Side::Transit,
        need: PEER,
        needs_group: false,
        rfc: "tidings peering.md §2",
        run: unknown_name,
    },
    Case {
        name: "xpeer-wrong-signature-is-481",
        side: Side::Transit,
        need: PEER,
        needs_group: false,
        rfc: "tidings peering.md §2",
        run: wrong_signature,
    },
    Case {
        name: "xpeer-then-transit-works",
        side: Side::Transit,
        need: PEER,
        needs_group: false,
        rfc: "tidings peering.md §2",
        run: then_transit_works,
    },
    Case {
        name: "xpeer-twice-is-502",
        side: Side::Transit,
        need: PEER,
        needs_group: false,
        rfc: "tidings peering.md §2",
        run: twice,
    },
    Case {
        name: "xpeer-signature-for-another-challenge-is-481",
        side: Side::Transit,
        need: PEER,
        needs_group: false,
        rfc: "tidings peering.md §2",
        run: another_challenge,
    },
];

/// The challenge of a reply to `XPEER <name>` (`what`), which must be 381.
pub(crate) fn challenge_in(status: &Status, what: &str) -> Result<String, CaseError> {
    expect(status, &[peering::CHALLENGE], what)?;
    match status.arg(0) {
        Some(challenge) => Ok(challenge.to_string()),
        None => fail(format!("{what}: \"{status}\" carries no challenge")),
    }
}

/// Sends `XPEER <name> <signature>`, the second step, and reads the reply.
pub(crate) fn respond(c: &mut Client, name: &str, signature: &str) -> Result<Status, CaseError> {
    Ok(c.command(&format!("XPEER {name} {signature}"))?)
}

/// `XPEER <name>` on a new connection: the connection, the server name
/// its greeting gave, and the challenge.
fn challenged(ctx: &Ctx, name: &str) -> Result<(Client, String, String), CaseError> {
    let (mut c, server) = ctx.greeted()?;
    let cmd = format!("XPEER {name}");
    let st = c.command(&cmd)?;
    let challenge = challenge_in(&st, &cmd)?;
    Ok((c, server, challenge))
}

/// Both steps of XPEER done right, on a new connection.
fn authenticated(ctx: &Ctx, name: &str, signer: &Signer) -> Result<Client, CaseError> {
    let (mut c, server, challenge) = challenged(ctx, name)?;
    let st = respond(
        &mut c,
        name,
        &signer.sign_bytes(&signed_bytes(&server, name, &challenge)),
    )?;
    expect(
        &st,
        &[peering::AUTHENTICATED],
        &format!("XPEER {name} <signature by --key>"),
    )?;
    Ok(c)
}

/// The transit commands the server advertises are still refused with 480
/// on `c` (§1), `when` naming the state it is in. MODE STREAM is left to
/// the callers: after a 203 the connection would be in another mode.
fn transit_refused(ctx: &mut Ctx, c: &mut Client, when: &str) -> CaseResult {
    let mut verbs = Vec::new();
    if ctx.transit_caps.has("IHAVE") {
        verbs.push("IHAVE");
    }
    if ctx.transit_caps.has("STREAMING") {
        verbs.push("CHECK");
    }
    for verb in verbs {
        let cmd = format!("{verb} {}", ctx.new_msgid());
        let st = c.command(&cmd)?;
        expect(&st, &[peering::NEED_AUTH], &format!("{cmd} {when}"))?;
    }
    Ok(())
}

/// A connection that has not authenticated can neither offer nor stream,
/// and a 480 leaves it usable.
fn transit_before_xpeer(ctx: &mut Ctx) -> CaseResult {
    let streaming = ctx.transit_caps.has("STREAMING");
    if !streaming && !ctx.transit_caps.has("IHAVE") {
        return skip("server advertises neither IHAVE nor STREAMING");
    }
    let mut c = ctx.transit()?;
    transit_refused(ctx, &mut c, "before XPEER")?;
    if streaming {
        let st = c.command("MODE STREAM")?;
        expect(&st, &[peering::NEED_AUTH], "MODE STREAM before XPEER")?;
    }
    ctx.probe(&mut c, "after 480 before XPEER")
}

fn unknown_name(ctx: &mut Ctx) -> CaseResult {
    let mut c = ctx.transit()?;
    let cmd = format!("XPEER {UNKNOWN_PEER}");
    let st = c.command(&cmd)?;
    expect(
        &st,
        &[peering::REFUSED],
        &format!("{cmd}, a name not configured"),
    )?;
    transit_refused(ctx, &mut c, &format!("after 481 for {cmd}"))
}

/// A well-formed signature by a key made up for this run: the name is
/// right, the key is not, and transit stays refused.
fn wrong_signature(ctx: &mut Ctx) -> CaseResult {
    let name = ctx.peer_name()?.to_string();
    let mut other = Signer::throwaway();
    if ctx.signer.as_ref().map(Signer::public_hex) == Some(other.public_hex()) {
        other = Signer::throwaway();
    }
    let (mut c, server, challenge) = challenged(ctx, &name)?;
    let st = respond(
        &mut c,
        &name,
        &other.sign_bytes(&signed_bytes(&server, &name, &challenge)),
    )?;
    let what = format!("XPEER {name} <signature by a key not configured for {name}>");
    expect(&st, &[peering::REFUSED], &what)?;
    transit_refused(ctx, &mut c, &format!("after 481 for {what}"))
}

/// The challenge is 64 hex digits, the right signature gets 281, and the
/// connection may then stream.
fn then_transit_works(ctx: &mut Ctx) -> CaseResult {
    if !ctx.transit_caps.has("STREAMING") {
        return skip("server does not advertise STREAMING");
    }
    let (name, signer) = ctx.peer_identity()?;
    let (name, signer) = (name.to_string(), signer.clone());
    let (mut c, server, challenge) = challenged(ctx, &name)?;
    if !is_challenge(&challenge) {
        return fail(format!(
            "XPEER {name}: challenge {challenge:?} is not {} hex digits",
            peering::CHALLENGE_HEX_LEN
        ));
    }
    let st = respond(
        &mut c,
        &name,
        &signer.sign_bytes(&signed_bytes(&server, &name, &challenge)),
    )?;
    expect(
        &st,
        &[peering::AUTHENTICATED],
        &format!("XPEER {name} <signature by --key>"),
    )?;
    let st = c.command("MODE STREAM")?;
    expect(&st, &[203], "MODE STREAM after 281")?;
    let cmd = format!("CHECK {}", ctx.new_msgid());
    let st = c.command(&cmd)?;
    expect(&st, &[238], &format!("{cmd} after 281"))
}

fn twice(ctx: &mut Ctx) -> CaseResult {
    let (name, signer) = ctx.peer_identity()?;
    let mut c = authenticated(ctx, name, signer)?;
    let cmd = format!("XPEER {name}");
    let st = c.command(&cmd)?;
    expect(&st, &[peering::ALREADY], &format!("{cmd} again after 281"))
}

/// A signature answers the challenge it was made for and no other: sent
/// on connection B, one made for A's challenge is refused, and the same
/// signature then passes on A, so the refusal was for the challenge alone.
fn another_challenge(ctx: &mut Ctx) -> CaseResult {
    let (name, signer) = ctx.peer_identity()?;
    let (mut a, server_a, challenge_a) = challenged(ctx, name)?;
    let (mut b, _, challenge_b) = challenged(ctx, name)?;
    if challenge_a == challenge_b {
        return fail(format!(
            "XPEER {name} on two connections got the same challenge {challenge_a}; \
             each must be fresh"
        ));
    }
    let signature = signer.sign_bytes(&signed_bytes(&server_a, name, &challenge_a));
    let st = respond(&mut b, name, &signature)?;
    expect(
        &st,
        &[peering::REFUSED],
        &format!("XPEER {name} <signature for another connection's challenge>"),
    )?;
    let st = respond(&mut a, name, &signature)?;
    expect(
        &st,
        &[peering::AUTHENTICATED],
        &format!("XPEER {name} <the same signature> on the connection it was made for"),
    )
}

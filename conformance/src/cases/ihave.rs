//! IHAVE, the transit command (RFC 3977 §6.3.2). Sent on a connection that
//! never switched with MODE READER, as a peer would, and that authenticated
//! with XPEER first on a server advertising X-TIDINGS-PEER.

use super::{expect, skip, wait_present, Case, CaseError, CaseResult, Need, Side};
use crate::article::Article;
use crate::client::Client;
use crate::ctx::Ctx;
use crate::wire::Status;

const IHAVE: Need = Need::Cap("IHAVE");

pub const CASES: &[Case] = &[
    Case {
        name: "ihave-new-is-335-then-235",
        side: Side::Transit,
        need: IHAVE,
        needs_group: true,
        rfc: "RFC 3977 §6.3.2",
        run: accepts_new,
    },
    Case {
        name: "ihave-duplicate-is-435",
        side: Side::Transit,
        need: IHAVE,
        needs_group: true,
        rfc: "RFC 3977 §6.3.2",
        run: duplicate,
    },
    Case {
        name: "ihave-article-is-readable-by-message-id",
        side: Side::Transit,
        need: IHAVE,
        needs_group: true,
        rfc: "RFC 3977 §6.3.2, §6.2.4",
        run: readable,
    },
    Case {
        name: "ihave-without-message-id-header-is-437",
        side: Side::Transit,
        need: IHAVE,
        needs_group: true,
        rfc: "RFC 3977 §6.3.2; RFC 5536 §3.1.3",
        run: missing_msgid_header,
    },
    Case {
        name: "ihave-header-without-colon-is-437",
        side: Side::Transit,
        need: IHAVE,
        needs_group: true,
        rfc: "RFC 3977 §6.3.2, §3.6",
        run: header_without_colon,
    },
    Case {
        name: "ihave-message-id-mismatch-is-437",
        side: Side::Transit,
        need: IHAVE,
        needs_group: true,
        rfc: "RFC 3977 §6.3.2",
        run: msgid_mismatch,
    },
];

/// IHAVE then the article; returns the final reply after 335.
pub fn offer(c: &mut Client, msgid: &str, article: &Article) -> Result<Status, CaseError> {
    let cmd = format!("IHAVE {msgid}");
    let st = c.command(&cmd)?;
    expect(&st, &[335], &cmd)?;
    c.send_block(&article.lines())?;
    Ok(c.read_status()?)
}

/// Transfers a new article, expecting 235; returns its id and the article.
pub fn transfer(ctx: &mut Ctx, c: &mut Client) -> Result<(String, Article), CaseError> {
    transfer_as(ctx, c, false)
}

/// Like `transfer`, for cases that go on to read the article back or to
/// act on it, which an article kept pending does not allow.
pub fn transfer_readable(ctx: &mut Ctx, c: &mut Client) -> Result<(String, Article), CaseError> {
    transfer_as(ctx, c, true)
}

fn transfer_as(
    ctx: &mut Ctx,
    c: &mut Client,
    readable: bool,
) -> Result<(String, Article), CaseError> {
    let (msgid, article) = ctx.transit_article()?;
    let st = offer(c, &msgid, &article)?;
    let what = format!("article for IHAVE {msgid}");
    expect(&st, &[235], &what)?;
    if readable {
        ctx.not_pending(&st, &what)?;
    }
    Ok((msgid, article))
}

/// 235 with its text: the ABNF allows a bare code, but every RFC example
/// has text and clients split the status line on its first space.
fn accepts_new(ctx: &mut Ctx) -> CaseResult {
    let mut c = ctx.peer()?;
    let (msgid, article) = ctx.transit_article()?;
    let st = offer(&mut c, &msgid, &article)?;
    let what = format!("article for IHAVE {msgid}");
    expect(&st, &[235], &what)?;
    if st.text.trim().is_empty() {
        return Err(CaseError::Fail(format!("{what}: 235 without text")));
    }
    Ok(())
}

fn duplicate(ctx: &mut Ctx) -> CaseResult {
    let mut c = ctx.peer()?;
    let (msgid, _) = transfer(ctx, &mut c)?;
    let cmd = format!("IHAVE {msgid}");
    let st = c.command(&cmd)?;
    expect(&st, &[435], &format!("{cmd} again after 235"))
}

/// What a peer transferred, a reader can fetch.
fn readable(ctx: &mut Ctx) -> CaseResult {
    if !ctx.reader_caps.has("READER") {
        return skip("server does not advertise READER");
    }
    let mut c = ctx.peer()?;
    let (msgid, _) = transfer_readable(ctx, &mut c)?;
    let mut r = ctx.reader()?;
    wait_present(&mut r, &msgid, ctx.timeout, "235")
}

/// Offers `article` under `msgid` and expects 437 after 335, then checks
/// the connection is still in step.
pub(super) fn rejected(ctx: &mut Ctx, msgid: &str, article: Article, what: &str) -> CaseResult {
    let mut c = ctx.peer()?;
    let st = offer(&mut c, msgid, &article)?;
    expect(&st, &[437], what)?;
    ctx.probe(&mut c, &format!("after 437 for {what}"))
}

/// Message-ID is a mandatory header (RFC 5536 §3.1.3). RFC 3977 App. A
/// lets a server fall back on the IHAVE argument instead; tidings and INN
/// both refuse. On a signing server the article is signed as it is, so
/// only the missing header is wrong with it.
fn missing_msgid_header(ctx: &mut Ctx) -> CaseResult {
    let group = ctx.group()?;
    let msgid = ctx.new_msgid();
    let a = ctx.seal(Article::for_transit(&msgid, &group).without("Message-ID"))?;
    rejected(ctx, &msgid, a, "article without Message-ID header")
}

/// A line without a colon has no canonical form (signing.md §2), so on a
/// signing server the signature covers the rest and the line is added
/// after signing.
fn header_without_colon(ctx: &mut Ctx) -> CaseResult {
    let (msgid, a) = ctx.transit_article()?;
    let a = a.with_raw_header("X-Conformance-No-Colon this header has no colon");
    rejected(ctx, &msgid, a, "article with a header line without colon")
}

/// IHAVE offers "an article with the specified message-id" (§6.3.2), so
/// an article naming another id is not the one offered; tidings refuses it
/// so a peer cannot announce one id and store an article under another
/// (which would defeat the duplicate check of §6.3.2). INN 2.7.1 answers
/// 235 and files the article under the header's id: a known deviation
/// (`crate::deviations`), reported as DEVIATION there.
fn msgid_mismatch(ctx: &mut Ctx) -> CaseResult {
    let group = ctx.group()?;
    let offered = ctx.new_msgid();
    let inside = ctx.new_msgid();
    let a = ctx.seal(Article::for_transit(&inside, &group))?;
    rejected(
        ctx,
        &offered,
        a,
        &format!("article whose Message-ID {inside} is not the offered {offered}"),
    )
}

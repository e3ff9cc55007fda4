//! Streaming feeds: MODE STREAM, CHECK and TAKETHIS (RFC 4644), including
//! pipelining, which is the point of the extension.

use super::{arg_is, expect, fail, Case, CaseError, CaseResult, Need, Side};
use crate::article::Article;
use crate::client::Client;
use crate::ctx::Ctx;
use crate::wire;

const STREAMING: Need = Need::Cap("STREAMING");

/// Commands sent in one write by the pipelining cases.
const PIPELINE: usize = 100;

pub const CASES: &[Case] = &[
    Case {
        name: "mode-stream-is-203",
        side: Side::Transit,
        need: STREAMING,
        needs_group: false,
        rfc: "RFC 4644 §2.3",
        run: mode_stream,
    },
    Case {
        name: "check-new-is-238",
        side: Side::Transit,
        need: STREAMING,
        needs_group: false,
        rfc: "RFC 4644 §2.4",
        run: check_new,
    },
    Case {
        name: "takethis-new-is-239",
        side: Side::Transit,
        need: STREAMING,
        needs_group: true,
        rfc: "RFC 4644 §2.5",
        run: takethis_new,
    },
    Case {
        name: "check-after-takethis-is-438",
        side: Side::Transit,
        need: STREAMING,
        needs_group: true,
        rfc: "RFC 4644 §2.4",
        run: check_after_takethis,
    },
    Case {
        name: "takethis-duplicate-is-439",
        side: Side::Transit,
        need: STREAMING,
        needs_group: true,
        rfc: "RFC 4644 §2.5",
        run: takethis_duplicate,
    },
    Case {
        name: "check-pipelined-100-answers-in-order",
        side: Side::Transit,
        need: STREAMING,
        needs_group: false,
        rfc: "RFC 4644 §2.4, RFC 3977 §3.5",
        run: check_pipelined,
    },
    Case {
        name: "takethis-pipelined-100-answers-239-in-order",
        side: Side::Transit,
        need: STREAMING,
        needs_group: true,
        rfc: "RFC 4644 §2.5, RFC 3977 §3.5",
        run: takethis_pipelined,
    },
    Case {
        name: "takethis-without-newsgroups-is-439",
        side: Side::Transit,
        need: STREAMING,
        needs_group: true,
        rfc: "RFC 4644 §2.5; RFC 5536 §3.1.4",
        run: takethis_bad_article,
    },
    Case {
        name: "takethis-with-control-character-still-reads-its-article",
        side: Side::Transit,
        need: STREAMING,
        needs_group: true,
        rfc: "RFC 4644 §2.5 (the article always follows TAKETHIS)",
        run: takethis_control_character,
    },
];

/// A peer connection after MODE STREAM.
pub(super) fn streaming(ctx: &Ctx) -> Result<Client, CaseError> {
    let mut c = ctx.peer()?;
    let st = c.command("MODE STREAM")?;
    expect(&st, &[203], "MODE STREAM")?;
    Ok(c)
}

/// The wire form of TAKETHIS with its article: the command line does not
/// wait for a reply, so both go out together.
fn takethis_bytes(msgid: &str, article: &Article) -> Vec<u8> {
    let mut out = format!("TAKETHIS {msgid}\r\n").into_bytes();
    out.extend_from_slice(&wire::encode_block(&article.lines()));
    out
}

/// Sends TAKETHIS and the article, expecting one of `codes` naming `msgid`.
pub(super) fn takethis(
    c: &mut Client,
    msgid: &str,
    article: &Article,
    codes: &[u16],
    what: &str,
) -> CaseResult {
    c.send_raw(&takethis_bytes(msgid, article))?;
    let st = c.read_status()?;
    expect(&st, codes, what)?;
    arg_is(&st, 0, msgid, what)
}

/// CHECK, expecting `code` and the message-id echoed.
pub(super) fn check(c: &mut Client, msgid: &str, codes: &[u16], what: &str) -> CaseResult {
    let cmd = format!("CHECK {msgid}");
    let st = c.command(&cmd)?;
    expect(&st, codes, &format!("{cmd} {what}"))?;
    arg_is(&st, 0, msgid, &cmd)
}

/// Sends a new article by TAKETHIS, expecting 239.
fn take_new(ctx: &mut Ctx, c: &mut Client) -> Result<(String, Article), CaseError> {
    let (msgid, a) = ctx.transit_article()?;
    takethis(c, &msgid, &a, &[239], &format!("TAKETHIS {msgid}"))?;
    Ok((msgid, a))
}

fn mode_stream(ctx: &mut Ctx) -> CaseResult {
    streaming(ctx).map(|_| ())
}

fn check_new(ctx: &mut Ctx) -> CaseResult {
    let mut c = streaming(ctx)?;
    let msgid = ctx.new_msgid();
    check(&mut c, &msgid, &[238], "of an id never sent")
}

fn takethis_new(ctx: &mut Ctx) -> CaseResult {
    let mut c = streaming(ctx)?;
    take_new(ctx, &mut c).map(|_| ())
}

fn check_after_takethis(ctx: &mut Ctx) -> CaseResult {
    let mut c = streaming(ctx)?;
    let (msgid, _) = take_new(ctx, &mut c)?;
    check(&mut c, &msgid, &[438], "after 239")
}

fn takethis_duplicate(ctx: &mut Ctx) -> CaseResult {
    let mut c = streaming(ctx)?;
    let (msgid, a) = take_new(ctx, &mut c)?;
    takethis(
        &mut c,
        &msgid,
        &a,
        &[439],
        &format!("TAKETHIS {msgid} again after 239"),
    )
}

/// Replies to pipelined commands come back in order, each naming its id.
/// 431 (try later) is allowed for CHECK: a server may defer under load.
fn read_in_order(c: &mut Client, ids: &[String], codes: &[u16], verb: &str) -> CaseResult {
    for (i, msgid) in ids.iter().enumerate() {
        let st = c.read_status()?;
        let what = format!("reply {} of {} to pipelined {verb}", i + 1, ids.len());
        expect(&st, codes, &what)?;
        if st.arg(0) != Some(msgid.as_str()) {
            return fail(format!("{what}: expected {msgid}, got \"{st}\""));
        }
    }
    Ok(())
}

fn check_pipelined(ctx: &mut Ctx) -> CaseResult {
    let mut c = streaming(ctx)?;
    let ids: Vec<String> = (0..PIPELINE).map(|_| ctx.new_msgid()).collect();
    let batch: String = ids.iter().map(|id| format!("CHECK {id}\r\n")).collect();
    c.send_raw(batch.as_bytes())?;
    read_in_order(&mut c, &ids, &[238, 431], "CHECK")
}

fn takethis_pipelined(ctx: &mut Ctx) -> CaseResult {
    let mut ids = Vec::with_capacity(PIPELINE);
    let mut batch = Vec::new();
    for _ in 0..PIPELINE {
        let (id, a) = ctx.transit_article()?;
        batch.extend_from_slice(&takethis_bytes(&id, &a));
        ids.push(id);
    }
    let mut c = streaming(ctx)?;
    // About 50 KB out and 100 short lines back: both fit in socket buffers,
    // so one blocking write cannot deadlock against the replies.
    c.send_raw(&batch)?;
    read_in_order(&mut c, &ids, &[239], "TAKETHIS")
}

/// The article is refused, and the connection stays in step: the next
/// CHECK gets its own answer.
fn takethis_bad_article(ctx: &mut Ctx) -> CaseResult {
    let group = ctx.group()?;
    let mut c = streaming(ctx)?;
    let msgid = ctx.new_msgid();
    let a = ctx.seal(Article::for_transit(&msgid, &group).without("Newsgroups"))?;
    takethis(
        &mut c,
        &msgid,
        &a,
        &[439],
        "TAKETHIS of an article without Newsgroups",
    )?;
    let next = ctx.new_msgid();
    check(&mut c, &next, &[238], "after the refused article")
}

/// A TAKETHIS line with a stray CR in it is still followed by its
/// article, which the server must read as the article whether it takes the
/// line (239, as a lenient server may) or not (439 or 501): one reply for
/// the command, then the CHECK after it answered, and the CHECK
/// inside the article's body not run as a command.
fn takethis_control_character(ctx: &mut Ctx) -> CaseResult {
    let (msgid, mut a) = ctx.transit_article()?;
    let smuggled = ctx.new_msgid();
    let after = ctx.new_msgid();
    a.body = vec![format!("CHECK {smuggled}")];
    let mut bytes = format!("TAKETHIS {msgid}\r\r\n").into_bytes();
    bytes.extend_from_slice(&wire::encode_block(&a.lines()));
    bytes.extend_from_slice(format!("CHECK {after}\r\n").as_bytes());
    let mut c = streaming(ctx)?;
    c.send_raw(&bytes)?;
    let st = c.read_status()?;
    expect(
        &st,
        &[239, 439, 501],
        "TAKETHIS with a stray CR before its CRLF, its article sent",
    )?;
    let st = c.read_status()?;
    expect(&st, &[238, 431, 438], "the CHECK after the article")?;
    if st.arg(0) != Some(after.as_str()) {
        return fail(format!(
            "second reply \"{st}\" is not for the CHECK {after} after the article: the article's body line CHECK {smuggled} ran as a command"
        ));
    }
    Ok(())
}

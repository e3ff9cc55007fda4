//! tidings signed articles (protocol-spec/signing.md), for servers that
//! advertise X-TIDINGS-SIGNED. Signatures are made and checked with the
//! suite's own `signing` module, not the server's code.
//!
//! Most cases need `--key`, and the server must trust that key: articles
//! by a key it does not know are kept pending (§6), unreadable and
//! powerless, so read-back and cancel cases would fail.

use std::thread;
use std::time::{Duration, Instant};

use super::ihave::{offer, rejected, transfer_readable};
use super::post::{post, post_rejected};
use super::reader::select_group;
use super::streaming::{check, streaming, takethis};
use super::{expect, fail, number_and_msgid, skip, wait_present, Case, CaseError, CaseResult};
use super::{Need, Side};
use crate::article::{header_value, Article};
use crate::client::Client;
use crate::clock;
use crate::ctx::Ctx;
use crate::signing::{self, Signer};
use crate::wire::{self, GroupReply};

const SIGNED: Need = Need::Cap(signing::CAPABILITY);

/// How many of the newest articles of the test group to look through for
/// a posted article whose 240 did not name its Message-ID.
const SUBJECT_SCAN: u64 = 50;

pub const CASES: &[Case] = &[
    Case {
        name: "unsigned-ihave-is-437",
        side: Side::Transit,
        need: SIGNED,
        needs_group: true,
        rfc: "tidings signing.md §4",
        run: unsigned_ihave,
    },
    Case {
        name: "tampered-body-ihave-is-437",
        side: Side::Transit,
        need: SIGNED,
        needs_group: true,
        rfc: "tidings signing.md §2",
        run: tampered_ihave,
    },
    Case {
        name: "tampered-body-takethis-is-439-and-id-still-wanted",
        side: Side::Transit,
        need: SIGNED,
        needs_group: true,
        rfc: "tidings signing.md §2, §3",
        run: tampered_takethis,
    },
    Case {
        name: "tampered-body-post-is-441",
        side: Side::Transit,
        need: SIGNED,
        needs_group: true,
        rfc: "tidings signing.md §2",
        run: tampered_post,
    },
    Case {
        name: "message-id-naming-another-key-is-437",
        side: Side::Transit,
        need: SIGNED,
        needs_group: true,
        rfc: "tidings signing.md §3",
        run: msgid_naming_another_key,
    },
    Case {
        name: "free-message-id-by-a-stranger-is-437-and-the-id-stays-free",
        side: Side::Transit,
        need: SIGNED,
        needs_group: true,
        rfc: "tidings signing.md §3",
        run: free_msgid_needs_a_node_key,
    },
    Case {
        name: "signed-ihave-reads-back-still-verifying",
        side: Side::Transit,
        need: SIGNED,
        needs_group: true,
        rfc: "tidings signing.md §2",
        run: signed_round_trip,
    },
    Case {
        name: "forged-copy-does-not-block-genuine-article",
        side: Side::Transit,
        need: SIGNED,
        needs_group: true,
        rfc: "tidings signing.md §3",
        run: forgery_does_not_poison,
    },
    Case {
        name: "unsigned-post-is-signed-by-node-key",
        side: Side::Transit,
        need: SIGNED,
        needs_group: true,
        rfc: "tidings signing.md §4",
        run: unsigned_post_signed_by_node,
    },
    Case {
        name: "move-before-its-thread-moves-it-when-it-comes",
        side: Side::Transit,
        need: SIGNED,
        needs_group: true,
        rfc: "tidings state.md §3",
        run: move_before_thread,
    },
    Case {
        name: "edit-before-its-post-leads-the-first-id-to-the-edit",
        side: Side::Transit,
        need: SIGNED,
        needs_group: true,
        rfc: "tidings state.md §3b",
        run: edit_before_post,
    },
    Case {
        name: "a-transit-feed-fetches-a-superseded-version-itself",
        side: Side::Transit,
        need: SIGNED,
        needs_group: true,
        rfc: "tidings state.md §3b, sync.md §1",
        run: superseded_version_by_feed,
    },
    Case {
        name: "rmgroup-before-its-newgroup-leaves-no-board",
        side: Side::Transit,
        need: SIGNED,
        needs_group: true,
        rfc: "tidings state.md §4",
        run: rmgroup_before_newgroup,
    },
    Case {
        name: "author-cancel-removes-and-blocks-article",
        side: Side::Transit,
        need: SIGNED,
        needs_group: true,
        rfc: "tidings signing.md §5",
        run: author_cancel,
    },
    Case {
        name: "cancel-before-article-blocks-it",
        side: Side::Transit,
        need: SIGNED,
        needs_group: true,
        rfc: "tidings signing.md §5",
        run: cancel_before_article,
    },
];

/// A copy of `article` with one body byte changed (the case of its first
/// letter), so the signature it carries no longer verifies (§2).
pub(super) fn tamper(article: &Article) -> Article {
    let mut copy = article.clone();
    for line in &mut copy.body {
        if let Some(i) = line.find(|c: char| c.is_ascii_alphabetic()) {
            let flipped = char::from(line.as_bytes()[i] ^ 0x20);
            line.replace_range(i..=i, flipped.encode_utf8(&mut [0; 4]));
            return copy;
        }
    }
    copy.body.push("tampered".to_string());
    copy
}

/// A signed cancel of `target` (§5), under a new id bound to the key.
fn cancel_of(ctx: &mut Ctx, target: &str) -> Result<(String, Article), CaseError> {
    let group = ctx.group()?;
    let msgid = ctx.new_msgid();
    let article = Article::for_transit(&msgid, &group)
        .with("Subject", &format!("cmsg cancel {target}"))
        .with("Control", &format!("cancel {target}"));
    Ok((msgid.clone(), ctx.sign(&article)?))
}

/// The reader side must offer READER for the read-back cases.
fn need_reader(ctx: &Ctx) -> CaseResult {
    if ctx.reader_caps.has("READER") {
        Ok(())
    } else {
        skip("server does not advertise READER")
    }
}

/// Fetches `msgid` with ARTICLE, expecting 220, as an `Article`.
fn fetch(r: &mut Client, msgid: &str) -> Result<Article, CaseError> {
    let cmd = format!("ARTICLE {msgid}");
    let st = r.command(&cmd)?;
    expect(&st, &[220], &cmd)?;
    number_and_msgid(&st, msgid, &cmd)?;
    let lines = r.read_block()?;
    Article::from_lines(&lines)
        .ok_or_else(|| CaseError::Fail(format!("{cmd}: no empty line between headers and body")))
}

/// Checks the signature of a copy read back, returning the signer's key.
fn verifies(copy: &Article, what: &str) -> Result<String, CaseError> {
    signing::verify(&copy.to_bytes()).map_err(|e| {
        CaseError::Fail(format!(
            "{what}: the copy read back does not verify under signing.md §2: {e}"
        ))
    })
}

/// No signature, no storage (§4). When a key is loaded the Message-ID
/// names it, so the missing signature is the article's only flaw.
fn unsigned_ihave(ctx: &mut Ctx) -> CaseResult {
    let group = ctx.group()?;
    let msgid = ctx.new_msgid();
    let a = Article::for_transit(&msgid, &group);
    rejected(ctx, &msgid, a, "unsigned article")
}

fn tampered_ihave(ctx: &mut Ctx) -> CaseResult {
    let (msgid, a) = ctx.transit_article()?;
    rejected(
        ctx,
        &msgid,
        tamper(&a),
        "signed article with one body byte changed after signing",
    )
}

/// After the 439, the id is still wanted: bytes that do not verify may be
/// a forgery of an article still to come (§3).
fn tampered_takethis(ctx: &mut Ctx) -> CaseResult {
    if !ctx.transit_caps.has("STREAMING") {
        return skip("server does not advertise STREAMING");
    }
    let (msgid, a) = ctx.transit_article()?;
    let mut c = streaming(ctx)?;
    takethis(
        &mut c,
        &msgid,
        &tamper(&a),
        &[439],
        "TAKETHIS of a signed article with one body byte changed after signing",
    )?;
    check(&mut c, &msgid, &[238], "after 439 for a tampered copy")
}

/// A signed POST keeps the author's signature (§4), so it must verify.
fn tampered_post(ctx: &mut Ctx) -> CaseResult {
    if !ctx.reader_caps.has("POST") {
        return skip("server does not advertise POST");
    }
    let group = ctx.group()?;
    let msgid = ctx.new_msgid();
    let a = ctx.sign(&Article::for_post(&msgid, &group))?;
    post_rejected(
        ctx,
        tamper(&a),
        "POST of a signed article with one body byte changed after signing",
    )
}

/// Signed by the suite's key, under an id naming no key and under one
/// naming another key: both refused (§3), or anyone could take anyone's
/// Message-IDs first.
fn msgid_naming_another_key(ctx: &mut Ctx) -> CaseResult {
    let group = ctx.group()?;
    let own = ctx.signer()?.public_hex();
    let mut other = Signer::from_bytes(&[0x5a; 32]).public_hex();
    if other == own {
        other = Signer::from_bytes(&[0xa5; 32]).public_hex();
    }
    let foreign = signing::bind_msgid(&ctx.new_unbound_msgid(), &other);
    let a = ctx.sign(&Article::for_transit(&foreign, &group))?;
    rejected(
        ctx,
        &foreign,
        a,
        "signed article whose Message-ID names another key",
    )
}

/// A Message-ID that names no key may be signed only by a node key, as
/// injector (§3): a key the server does not count as a node's is refused,
/// and refused for the record only, so the genuine article, signed by a
/// node key (`--key`, which the server must have as a peer's), is still
/// taken under the same ID.
fn free_msgid_needs_a_node_key(ctx: &mut Ctx) -> CaseResult {
    let group = ctx.group()?;
    let free = ctx.new_unbound_msgid();
    let article = Article::for_transit(&free, &group);
    let squatter = Signer::throwaway()
        .sign(&article)
        .map_err(|e| CaseError::Fail(e.to_string()))?;
    rejected(
        ctx,
        &free,
        squatter,
        "free Message-ID signed by a key that is no node's",
    )?;
    let genuine = ctx.sign(&article)?;
    let mut c = ctx.peer()?;
    let st = offer(&mut c, &free, &genuine)?;
    expect(
        &st,
        &[235],
        "the same free Message-ID signed by the --key node key, after a stranger's copy was refused",
    )?;
    ctx.not_pending(&st, "the node-signed article under a free Message-ID")
}

/// What was signed is served byte-for-byte enough to verify, though the
/// server prepended itself to Path (signing.md §2 leaves Path out for
/// exactly that).
fn signed_round_trip(ctx: &mut Ctx) -> CaseResult {
    need_reader(ctx)?;
    let own = ctx.signer()?.public_hex();
    let mut c = ctx.peer()?;
    let (msgid, sent) = transfer_readable(ctx, &mut c)?;
    let mut r = ctx.reader()?;
    wait_present(&mut r, &msgid, ctx.timeout, "235")?;
    let copy = fetch(&mut r, &msgid)?;
    let what = format!("ARTICLE {msgid}");
    if copy.header(signing::HEADER) != sent.header(signing::HEADER) {
        return fail(format!(
            "{what}: {} is {:?}, sent {:?}",
            signing::HEADER,
            copy.header(signing::HEADER),
            sent.header(signing::HEADER)
        ));
    }
    let signer = verifies(&copy, &what)?;
    if signer != own {
        return fail(format!("{what}: signed by {signer}, not the suite's {own}"));
    }
    Ok(())
}

/// A forgery of id X is refused and must not make X "already seen": the
/// genuine article still gets in (§3).
fn forgery_does_not_poison(ctx: &mut Ctx) -> CaseResult {
    let (msgid, genuine) = ctx.transit_article()?;
    let mut c = ctx.peer()?;
    let st = offer(&mut c, &msgid, &tamper(&genuine))?;
    expect(&st, &[437], "tampered copy")?;
    let cmd = format!("IHAVE {msgid}");
    let st = c.command(&cmd)?;
    if st.code == 435 {
        return fail(format!(
            "{cmd} after 437 for a tampered copy: \"{st}\"; the forgery blocked the genuine article"
        ));
    }
    expect(&st, &[335], &format!("{cmd} after 437 for a tampered copy"))?;
    c.send_block(&genuine.lines())?;
    let st = c.read_status()?;
    expect(&st, &[235], "genuine article after the forgery")
}

/// The node completes and signs a local client's unsigned article with its
/// own key, binding the client's Message-ID to it (§4).
fn unsigned_post_signed_by_node(ctx: &mut Ctx) -> CaseResult {
    if !ctx.reader_caps.has("POST") {
        return skip("server does not advertise POST");
    }
    let group = ctx.group()?;
    let sent = ctx.new_unbound_msgid();
    let article = Article::for_post(&sent, &group);
    let mut r = ctx.reader()?;
    let st = post(&mut r, &article)?;
    let named = wire::msgid_in_text(&st.text).map(str::to_string);
    let msgid = match &named {
        Some(id) => {
            wait_present(&mut r, id, ctx.timeout, "240")?;
            id.clone()
        }
        None => {
            let subject = article.header("Subject").unwrap_or_default().to_string();
            find_by_subject(&mut r, &group, &subject, ctx.timeout)?
        }
    };
    let copy = fetch(&mut r, &msgid)?;
    let what = format!("ARTICLE {msgid}");
    let node = verifies(&copy, &what)?;
    if copy.header("Message-ID") != Some(msgid.as_str()) {
        return fail(format!(
            "{what}: Message-ID header is {:?}",
            copy.header("Message-ID")
        ));
    }
    if msgid != sent {
        return fail(format!(
            "posted as {sent}, stored as {msgid} (signed by {node}): the poster's Message-ID must be kept (RFC 5537 §3.5, signing.md §4)"
        ));
    }
    Ok(())
}

/// The Message-ID of the newest article in `group` with this Subject,
/// polling until the timeout: for a 240 that did not say the final id.
fn find_by_subject(
    r: &mut Client,
    group: &str,
    subject: &str,
    timeout: Duration,
) -> Result<String, CaseError> {
    let deadline = Instant::now() + timeout;
    loop {
        let reply: GroupReply = select_group(r, group)?;
        let floor = reply.low.max(reply.high.saturating_sub(SUBJECT_SCAN));
        for n in (floor..=reply.high).rev() {
            let st = r.command(&format!("HEAD {n}"))?;
            if st.code != 221 {
                continue;
            }
            let headers = r.read_block()?;
            let find = |name: &str| headers.iter().find_map(|l| header_value(l, name));
            if find("Subject").map(str::trim_end) == Some(subject) {
                if let Some(id) = find("Message-ID") {
                    return Ok(id.trim_end().to_string());
                }
            }
        }
        if Instant::now() >= deadline {
            return fail(format!(
                "the 240 named no Message-ID and no article with Subject {subject:?} \
                 appeared in {group} within {}s",
                timeout.as_secs()
            ));
        }
        thread::sleep(Duration::from_millis(200));
    }
}

/// Polls ARTICLE until `msgid` is gone (430): removal may be queued like
/// storage is.
fn wait_gone(r: &mut Client, msgid: &str, timeout: Duration, after: &str) -> CaseResult {
    let deadline = Instant::now() + timeout;
    let cmd = format!("ARTICLE {msgid}");
    loop {
        let st = r.command(&cmd)?;
        match st.code {
            430 => return Ok(()),
            220 => {
                r.read_block()?;
            }
            _ => return expect(&st, &[430], &format!("{cmd} {after}")),
        }
        if Instant::now() >= deadline {
            return fail(format!("{cmd} still 220 {}s {after}", timeout.as_secs()));
        }
        thread::sleep(Duration::from_millis(200));
    }
}

/// The author's cancel removes the article, and the id stays refused
/// (§5).
fn author_cancel(ctx: &mut Ctx) -> CaseResult {
    need_reader(ctx)?;
    let mut c = ctx.peer()?;
    let (target, _) = transfer_readable(ctx, &mut c)?;
    let mut r = ctx.reader()?;
    wait_present(&mut r, &target, ctx.timeout, "235")?;
    let (cancel, control) = cancel_of(ctx, &target)?;
    let st = offer(&mut c, &cancel, &control)?;
    let what = format!("the author's cancel of {target}");
    expect(&st, &[235], &what)?;
    ctx.not_pending(&st, &what)?;
    wait_gone(&mut r, &target, ctx.timeout, "after the cancel's 235")?;
    let cmd = format!("IHAVE {target}");
    let st = c.command(&cmd)?;
    expect(&st, &[435], &format!("{cmd} after its cancel"))
}

/// Whether `msgid` is among the overview lines of `group`.
fn filed_in(r: &mut Client, group: &str, msgid: &str) -> Result<bool, CaseError> {
    let reply = select_group(r, group)?;
    if reply.count == 0 {
        return Ok(false);
    }
    let cmd = format!("OVER {}-{}", reply.low, reply.high);
    let st = r.command(&cmd)?;
    expect(&st, &[224], &cmd)?;
    let lines = r.read_block()?;
    Ok(lines.iter().any(|l| l.split('\t').nth(4) == Some(msgid)))
}

/// A move may come before the thread it moves; the thread goes where the
/// move says once it comes (state.md §3). Needs a second board to move to:
/// the first other `y` group of LIST ACTIVE but `control`.
fn move_before_thread(ctx: &mut Ctx) -> CaseResult {
    need_reader(ctx)?;
    let group = ctx.group()?;
    let Some(to) = ctx
        .active
        .iter()
        .find(|l| l.status == "y" && l.name != group && l.name != "control")
        .map(|l| l.name.clone())
    else {
        return skip("LIST ACTIVE has no second board to move a thread to");
    };
    let (target, article) = ctx.transit_article()?;
    let msgid = ctx.new_msgid();
    let control = Article::for_transit(&msgid, &group)
        .with("Subject", &format!("cmsg move {target} {to}"))
        .with("Control", &format!("move {target} {to}"));
    let control = ctx.sign(&control)?;
    let mut c = ctx.peer()?;
    let st = offer(&mut c, &msgid, &control)?;
    let what = format!("a move of {target}, not yet sent, to {to}");
    expect(&st, &[235], &what)?;
    ctx.not_pending(&st, &what)?;
    let st = offer(&mut c, &target, &article)?;
    expect(&st, &[235], &format!("{target} after its move"))?;
    let mut r = ctx.reader()?;
    let deadline = Instant::now() + ctx.timeout;
    loop {
        if filed_in(&mut r, &to, &target)? && !filed_in(&mut r, &group, &target)? {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return fail(format!(
                "{target} is not filed in {to} alone {}s after it came, though its move came first",
                ctx.timeout.as_secs()
            ));
        }
        thread::sleep(Duration::from_millis(100));
    }
}

/// An edit (Supersedes) that comes before the post it edits, and is dated
/// after it, makes it the current version (state.md §3b): STAT of the
/// first Message-ID answers with the edit's, and the board lists only the
/// edit.
/// A signed post dated two minutes ago and its edit dated one minute ago:
/// (first id, post, edit id, edit).
fn post_and_edit(ctx: &mut Ctx) -> Result<(String, Article, String, Article), CaseError> {
    let group = ctx.group()?;
    let now = clock::now_secs();
    let first = ctx.new_msgid();
    let post = Article::for_transit(&first, &group).with("Date", &clock::rfc5322(now - 120));
    let post = ctx.sign(&post)?;
    let edit_id = ctx.new_msgid();
    let edit = Article::for_transit(&edit_id, &group)
        .with("Supersedes", &first)
        .with("Date", &clock::rfc5322(now - 60));
    let edit = ctx.sign(&edit)?;
    Ok((first, post, edit_id, edit))
}

/// Offers each article in turn, each to be taken (235) and filed, not
/// kept pending.
fn taken(ctx: &mut Ctx, c: &mut Client, articles: [(&String, &Article, &str); 2]) -> CaseResult {
    for (msgid, article, what) in articles {
        let st = offer(c, msgid, article)?;
        expect(&st, &[235], what)?;
        ctx.not_pending(&st, what)?;
    }
    Ok(())
}

fn edit_before_post(ctx: &mut Ctx) -> CaseResult {
    need_reader(ctx)?;
    let group = ctx.group()?;
    let (first, post, edit_id, edit) = post_and_edit(ctx)?;
    let mut c = ctx.peer()?;
    taken(
        ctx,
        &mut c,
        [
            (&edit_id, &edit, "an edit of a post not yet sent"),
            (&first, &post, "the post after its edit"),
        ],
    )?;
    let mut r = ctx.reader()?;
    let deadline = Instant::now() + ctx.timeout;
    loop {
        let st = r.command(&format!("STAT {first}"))?;
        let leads = st.code == 223 && st.text.split(' ').nth(1) == Some(edit_id.as_str());
        if leads && filed_in(&mut r, &group, &edit_id)? && !filed_in(&mut r, &group, &first)? {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return fail(format!(
                "{}s after both came, STAT {first} is \"{st}\" (want 223 0 {edit_id}), or {group} does not list the edit alone",
                ctx.timeout.as_secs()
            ));
        }
        thread::sleep(Duration::from_millis(100));
    }
}

/// A reader asking for a superseded version is led to the current one,
/// but a transit feed (after MODE STREAM) gets the version it names: that
/// is how catch-up brings a new node the earlier versions (sync.md §1).
fn superseded_version_by_feed(ctx: &mut Ctx) -> CaseResult {
    need_reader(ctx)?;
    let (first, post, edit_id, edit) = post_and_edit(ctx)?;
    let mut c = ctx.peer()?;
    taken(
        ctx,
        &mut c,
        [(&first, &post, "a post"), (&edit_id, &edit, "its edit")],
    )?;
    let mut r = ctx.reader()?;
    let deadline = Instant::now() + ctx.timeout;
    loop {
        let st = r.command(&format!("STAT {first}"))?;
        if st.code == 223 && st.text.split(' ').nth(1) == Some(edit_id.as_str()) {
            break;
        }
        if Instant::now() >= deadline {
            return fail(format!(
                "{}s after both came, a reader's STAT {first} is \"{st}\" (want 223 0 {edit_id})",
                ctx.timeout.as_secs()
            ));
        }
        thread::sleep(Duration::from_millis(100));
    }
    let st = c.command("MODE STREAM")?;
    expect(&st, &[203], "MODE STREAM")?;
    let copy = fetch(&mut c, &first)?;
    if copy.body != post.body {
        return fail(format!(
            "ARTICLE {first} after MODE STREAM gave a body other than the post's: {:?}",
            copy.body
        ));
    }
    Ok(())
}

/// An rmgroup dated after a newgroup of the same board wins whichever
/// arrives first (state.md §4): sent rmgroup first, the board is not
/// there after both. Skipped when the server does not let `--key` manage
/// boards (signing.md §5).
fn rmgroup_before_newgroup(ctx: &mut Ctx) -> CaseResult {
    need_reader(ctx)?;
    let board = ctx.unused_name("conformance.board");
    let now = clock::now_secs();
    let mut sent = Vec::new();
    for (command, date) in [
        (format!("rmgroup {board}"), now - 60),
        (format!("newgroup {board}"), now - 120),
    ] {
        let msgid = ctx.new_msgid();
        let control = Article::for_transit(&msgid, &board)
            .with("Subject", &format!("cmsg {command}"))
            .with("Control", &command)
            .with("Date", &clock::rfc5322(date));
        sent.push((msgid, ctx.sign(&control)?, command));
    }
    let mut c = ctx.peer()?;
    for (msgid, control, command) in &sent {
        let st = offer(&mut c, msgid, control)?;
        if st.code == 437 && st.text.contains("may not manage board") {
            return skip(format!("the --key may not manage boards here: \"{st}\""));
        }
        expect(&st, &[235], command)?;
        ctx.not_pending(&st, command)?;
    }
    let mut r = ctx.reader()?;
    let cmd = format!("LIST NEWSGROUPS {board}");
    let st = r.command(&cmd)?;
    expect(&st, &[215], &cmd)?;
    let lines = r.read_block()?;
    if lines.is_empty() {
        Ok(())
    } else {
        fail(format!(
            "{cmd} after an rmgroup dated after the newgroup (sent first): {lines:?}"
        ))
    }
}

/// A cancel may arrive before its target; the target is then refused when
/// it comes (§5): 435 at once, or 437 once read.
fn cancel_before_article(ctx: &mut Ctx) -> CaseResult {
    let (target, article) = ctx.transit_article()?;
    let (cancel, control) = cancel_of(ctx, &target)?;
    let mut c = ctx.peer()?;
    let st = offer(&mut c, &cancel, &control)?;
    let what = format!("the author's cancel of {target}, not yet sent");
    expect(&st, &[235], &what)?;
    ctx.not_pending(&st, &what)?;
    let cmd = format!("IHAVE {target}");
    let st = c.command(&cmd)?;
    expect(&st, &[435, 335], &format!("{cmd} after its cancel"))?;
    if st.code == 335 {
        c.send_block(&article.lines())?;
        let st = c.read_status()?;
        expect(&st, &[437], &format!("article {target} after its cancel"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tamper_changes_one_byte_and_breaks_the_signature() {
        let s = Signer::from_bytes(&[3; 32]);
        let id = signing::bind_msgid("<t@conformance.test>", &s.public_hex());
        let a = s.sign(&Article::for_transit(&id, "g")).unwrap();
        let t = tamper(&a);
        assert_eq!(t.headers, a.headers);
        let (x, y) = (a.to_bytes(), t.to_bytes());
        assert_eq!(x.len(), y.len());
        assert_eq!(x.iter().zip(&y).filter(|(p, q)| p != q).count(), 1);
        assert!(signing::verify(&x).is_ok());
        assert_eq!(
            signing::verify(&y),
            Err(signing::SigningError::BadSignature)
        );
    }
}

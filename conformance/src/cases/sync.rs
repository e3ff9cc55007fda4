//! tidings catch-up (protocol-spec/sync.md), for servers that advertise
//! X-TIDINGS-SYNC: XRECONCILE answers blocks of reconciliation entries,
//! XIHAVE names which offered articles are wanted, XSYNC is for the
//! operator only.
//!
//! The reconciliation cases drive the exchange with the suite's own client
//! (`crate::reconcile`, written from the spec), so they check the server's
//! hashes, fingerprints and rules, not just its reply codes. The XIHAVE
//! cases use a peer connection (XPEER first where the server requires it).

use std::collections::HashSet;
use std::thread;
use std::time::{Duration, Instant};

use super::post::post;
use super::signed::tamper;
use super::streaming::{check, streaming, takethis};
use super::{expect, fail, skip, wait_present, Case, CaseError, CaseResult, Need, Side};
use crate::article::Article;
use crate::client::Client;
use crate::ctx::Ctx;
use crate::reconcile::{
    self, b64, children, contains, empty_fingerprint, item_hash, open, range_text, respond, tag,
    Entry, Role, Set, LEAF, MAX_DEPTH, MAX_ENTRIES,
};
use crate::wire;

const SYNC: Need = Need::Cap(reconcile::CAPABILITY);

/// Entries the suite's client sends per XRECONCILE, as tidings does.
const PER_ROUND: usize = 256;
/// An exchange that takes more rounds than this is not converging.
const MAX_ROUNDS: usize = 10_000;
/// Attempts at a comparison that another writer to the group may upset.
const ATTEMPTS: usize = 3;

pub const CASES: &[Case] = &[
    Case {
        name: "capability-is-x-tidings-sync-1",
        side: Side::Transit,
        need: SYNC,
        needs_group: false,
        rfc: "tidings sync.md §1",
        run: capability,
    },
    Case {
        name: "xreconcile-unknown-group-is-411",
        side: Side::Transit,
        need: SYNC,
        needs_group: false,
        rfc: "tidings sync.md §3.1",
        run: unknown_group,
    },
    Case {
        name: "xreconcile-malformed-entry-is-501-and-stays-in-sync",
        side: Side::Transit,
        need: SYNC,
        needs_group: true,
        rfc: "tidings sync.md §3.1, §3.2",
        run: malformed_entries,
    },
    Case {
        name: "xreconcile-h-entry-from-client-is-501",
        side: Side::Transit,
        need: SYNC,
        needs_group: true,
        rfc: "tidings sync.md §3.3",
        run: h_from_client,
    },
    Case {
        name: "xreconcile-split-of-64-digit-range-is-501",
        side: Side::Transit,
        need: SYNC,
        needs_group: true,
        rfc: "tidings sync.md §3.3",
        run: split_full_depth,
    },
    Case {
        name: "xreconcile-n-entry-gets-h-and-is-501-over-leaf-items",
        side: Side::Transit,
        need: SYNC,
        needs_group: true,
        rfc: "tidings sync.md §3.1, §3.3",
        run: need_entries,
    },
    Case {
        name: "xreconcile-1024-entries-is-290-1025-is-501",
        side: Side::Transit,
        need: SYNC,
        needs_group: true,
        rfc: "tidings sync.md §3.1",
        run: entry_limit,
    },
    Case {
        name: "xreconcile-empty-set-fingerprint-gets-290-and-valid-entries",
        side: Side::Transit,
        need: SYNC,
        needs_group: true,
        rfc: "tidings sync.md §2, §3.2, §3.3",
        run: empty_fingerprint_answer,
    },
    Case {
        name: "xreconcile-from-empty-set-learns-every-posted-id",
        side: Side::Transit,
        need: SYNC,
        needs_group: true,
        rfc: "tidings sync.md §3.3, §3.4",
        run: learns_posted,
    },
    Case {
        name: "xreconcile-equal-sets-answer-nothing",
        side: Side::Transit,
        need: SYNC,
        needs_group: true,
        rfc: "tidings sync.md §2, §3.3",
        run: equal_sets,
    },
    Case {
        name: "xreconcile-finds-one-missing-and-one-extra-id",
        side: Side::Transit,
        need: SYNC,
        needs_group: true,
        rfc: "tidings sync.md §3.3",
        run: one_each_way,
    },
    Case {
        name: "xreconcile-pipelined-commands-answer-in-order",
        side: Side::Transit,
        need: SYNC,
        needs_group: true,
        rfc: "tidings sync.md §3.1; RFC 3977 §3.5",
        run: pipelined,
    },
    Case {
        name: "xihave-before-xpeer-is-480",
        side: Side::Transit,
        need: SYNC,
        needs_group: false,
        rfc: "tidings sync.md §4; peering.md §1",
        run: xihave_before_xpeer,
    },
    Case {
        name: "xihave-lists-only-unknown-ids-in-order",
        side: Side::Transit,
        need: SYNC,
        needs_group: true,
        rfc: "tidings sync.md §4",
        run: xihave_unknown_only,
    },
    Case {
        name: "xihave-claims-until-takethis",
        side: Side::Transit,
        need: SYNC,
        needs_group: true,
        rfc: "tidings sync.md §4; RFC 4644 §2.4",
        run: xihave_claims,
    },
    Case {
        name: "xihave-bad-line-is-501",
        side: Side::Transit,
        need: SYNC,
        needs_group: false,
        rfc: "tidings sync.md §4",
        run: xihave_bad_line,
    },
    Case {
        name: "xihave-then-takethis-is-239-then-not-wanted",
        side: Side::Transit,
        need: SYNC,
        needs_group: true,
        rfc: "tidings sync.md §4; RFC 4644 §2.5",
        run: xihave_then_takethis,
    },
    Case {
        name: "xihave-still-wants-id-after-forged-copy",
        side: Side::Transit,
        need: SYNC,
        needs_group: true,
        rfc: "tidings sync.md §4, §6; signing.md §3",
        run: xihave_after_forgery,
    },
    Case {
        name: "xsync-unknown-peer-is-502",
        side: Side::Transit,
        need: SYNC,
        needs_group: false,
        rfc: "tidings sync.md §5",
        run: xsync_unknown_peer,
    },
];

/// `XRECONCILE group` and its block of entry lines, in one write: the
/// block follows the command at once (§3.1).
fn xreconcile_bytes<S: AsRef<str>>(group: &str, lines: &[S]) -> Vec<u8> {
    let mut out = format!("XRECONCILE {group}\r\n").into_bytes();
    out.extend_from_slice(&wire::encode_block(lines));
    out
}

/// Sends XRECONCILE with `lines` as they are and reads the status line.
fn xreconcile_raw<S: AsRef<str>>(
    c: &mut Client,
    group: &str,
    lines: &[S],
) -> Result<wire::Status, CaseError> {
    c.send_raw(&xreconcile_bytes(group, lines))?;
    Ok(c.read_status()?)
}

/// Reads a 290 block and checks every entry against §3.2 and §3.3: it
/// parses, it is one a server sends (S, L, N, H), and each Message-ID of
/// an H entry lies in the entry's range.
fn read_entries(c: &mut Client, what: &str) -> Result<Vec<Entry>, CaseError> {
    let mut entries = Vec::new();
    for line in c.read_block()? {
        let entry = Entry::parse(&line).map_err(|e| {
            CaseError::Fail(format!("{what}: entry does not follow sync.md §3.2: {e}"))
        })?;
        if let Entry::F { .. } = entry {
            return fail(format!(
                "{what}: a server answers with S, L, N or H entries, not {line:?} (§3.3)"
            ));
        }
        if let Entry::H { range, ids } = &entry {
            for id in ids {
                let hash = item_hash(id);
                if !contains(range, &hash) {
                    return fail(format!(
                        "{what}: {id} is listed under range {} but its item hash {} \
                         (SHA-256 of the Message-ID with its brackets, §2) is not in it",
                        range_text(range),
                        hex::encode(hash)
                    ));
                }
            }
        }
        entries.push(entry);
    }
    Ok(entries)
}

/// XRECONCILE expecting 290: the checked entries.
fn xreconcile(
    c: &mut Client,
    group: &str,
    block: &[Entry],
    what: &str,
) -> Result<Vec<Entry>, CaseError> {
    let lines: Vec<String> = block.iter().map(Entry::line).collect();
    let st = xreconcile_raw(c, group, &lines)?;
    expect(&st, &[reconcile::RECONCILE_FOLLOWS], what)?;
    read_entries(c, what)
}

/// Every entry of an answer names a range it answers (§3.3): that of an F,
/// L or N entry sent, or a sub-range of an S entry sent.
fn answers_sent_ranges(sent: &[Entry], answer: &[Entry], what: &str) -> CaseResult {
    let mut ranges: HashSet<String> = HashSet::new();
    for entry in sent {
        match entry {
            Entry::S { range, .. } => ranges.extend(children(range)),
            other => {
                ranges.insert(other.range().to_string());
            }
        }
    }
    match answer.iter().find(|e| !ranges.contains(e.range())) {
        None => Ok(()),
        Some(stray) => fail(format!(
            "{what}: answer {:?} is about a range no entry sent asked about (§3.3)",
            stray.line()
        )),
    }
}

/// What an exchange run to its end taught the client.
#[derive(Debug, Default)]
struct Outcome {
    /// Held by the client, lacking on the server.
    have: Vec<String>,
    /// Held by the server, lacking at the client (its H entries).
    need: Vec<String>,
    rounds: usize,
}

/// Runs the exchange of §3.4 for `group` with the client holding `set`,
/// until neither side has anything left to say.
fn exchange(c: &mut Client, group: &str, set: &Set) -> Result<Outcome, CaseError> {
    let mut stack = vec![open(set)];
    let mut outcome = Outcome::default();
    while !stack.is_empty() {
        outcome.rounds += 1;
        if outcome.rounds > MAX_ROUNDS {
            return fail(format!(
                "XRECONCILE {group}: still not settled after {MAX_ROUNDS} rounds"
            ));
        }
        let block = stack.split_off(stack.len().saturating_sub(PER_ROUND));
        let what = format!("XRECONCILE {group}, round {}", outcome.rounds);
        let answer = xreconcile(c, group, &block, &what)?;
        answers_sent_ranges(&block, &answer, &what)?;
        let step = respond(set, Role::Client, &answer)
            .map_err(|e| CaseError::Fail(format!("{what}: {e}")))?;
        outcome.have.extend(step.have);
        outcome.need.extend(step.need);
        stack.extend(step.reply);
    }
    Ok(outcome)
}

/// The server's set for `group`, learnt by a client holding nothing: every
/// item comes back in an H entry, once.
fn learn(c: &mut Client, group: &str) -> Result<Set, CaseError> {
    let outcome = exchange(c, group, &Set::default())?;
    if !outcome.have.is_empty() {
        return fail(format!(
            "a client holding nothing was asked for {} (N entries, §3.3)",
            outcome.have.len()
        ));
    }
    let mut learnt = Set::default();
    for id in &outcome.need {
        if learnt.contains(id) {
            return fail(format!(
                "XRECONCILE {group}: {id} came in H entries twice; each item lies in one range"
            ));
        }
        learnt.insert(id);
    }
    Ok(learnt)
}

/// Posts `n` new articles to the test group, returning their Message-IDs
/// as the server names them (a signing server binds them to its key and
/// says so in the 240, signing.md §4).
fn post_fresh(ctx: &mut Ctx, n: usize) -> Result<Vec<String>, CaseError> {
    if !ctx.reader_caps.has("POST") {
        return skip("server does not advertise POST");
    }
    let group = ctx.group()?;
    let mut c = ctx.reader()?;
    let mut ids = Vec::with_capacity(n);
    for _ in 0..n {
        let sent = ctx.new_unbound_msgid();
        let st = post(&mut c, &Article::for_post(&sent, &group))?;
        ids.push(if ctx.signing_required() {
            match wire::msgid_in_text(&st.text) {
                Some(id) => id.to_string(),
                None => {
                    return fail(format!(
                        "\"{st}\" does not name the final Message-ID (tidings signing.md §4)"
                    ))
                }
            }
        } else {
            sent
        });
    }
    for id in &ids {
        wait_present(&mut c, id, ctx.timeout, "240")?;
    }
    Ok(ids)
}

fn capability(ctx: &mut Ctx) -> CaseResult {
    match ctx.transit_caps.args(reconcile::CAPABILITY) {
        Some([version]) if version == reconcile::VERSION => Ok(()),
        other => fail(format!(
            "expected `{} {}` in CAPABILITIES, got arguments {other:?}",
            reconcile::CAPABILITY,
            reconcile::VERSION
        )),
    }
}

fn unknown_group(ctx: &mut Ctx) -> CaseResult {
    let group = ctx.unused_name("conformance.nosuch");
    let mut c = ctx.transit()?;
    let fp = format!("F * {}", b64(&empty_fingerprint()));
    let st = xreconcile_raw(&mut c, &group, &[fp])?;
    expect(&st, &[411], &format!("XRECONCILE {group}"))?;
    ctx.probe(&mut c, "411 after XRECONCILE's block")
}

/// Each malformed block is read to its end and refused with 501; the next
/// command is answered as usual.
fn malformed_entries(ctx: &mut Ctx) -> CaseResult {
    let group = ctx.group()?;
    let fp = b64(&empty_fingerprint());
    let bad = [
        ("a 7-character fingerprint", "F * AAAAAAA".to_string()),
        (
            "an 11-character (8-octet) fingerprint",
            "F * AAAAAAAAAAA".to_string(),
        ),
        ("a padded fingerprint", "F * AAAAAAA=".to_string()),
        ("a range in upper-case hex", format!("F A {fp}")),
        ("an unknown entry letter", format!("Q * {fp}")),
        ("an S with one fingerprint", format!("S * {fp}")),
        (
            "an L with LEAF + 1 = 25 tags",
            format!("L 0{}", format!(" {fp}").repeat(LEAF + 1)),
        ),
        ("an N without tags", "N 0".to_string()),
    ];
    let mut c = ctx.transit()?;
    for (why, line) in bad {
        let st = xreconcile_raw(&mut c, &group, &[line])?;
        expect(&st, &[501], &format!("XRECONCILE with {why}"))?;
    }
    ctx.probe(&mut c, "501 for malformed XRECONCILE entries")
}

fn h_from_client(ctx: &mut Ctx) -> CaseResult {
    let group = ctx.group()?;
    let id = ctx.new_unbound_msgid();
    let mut c = ctx.transit()?;
    let st = xreconcile_raw(&mut c, &group, &[format!("H * {id}")])?;
    expect(&st, &[501], "XRECONCILE with an H entry from the client")?;
    ctx.probe(&mut c, "501 for an H entry")
}

fn split_full_depth(ctx: &mut Ctx) -> CaseResult {
    let group = ctx.group()?;
    let range = hex::encode(item_hash(&ctx.new_unbound_msgid()));
    let fp = b64(&empty_fingerprint());
    let line = format!("S {range}{}", format!(" {fp}").repeat(16));
    let mut c = ctx.transit()?;
    let st = xreconcile_raw(&mut c, &group, &[line])?;
    expect(
        &st,
        &[501],
        &format!("XRECONCILE with an S entry for a {MAX_DEPTH}-digit range"),
    )?;
    ctx.probe(&mut c, "501 for an S entry that cannot be split")
}

/// An N entry for a range where the server holds at most LEAF items is
/// answered with H entries naming exactly the tagged items; one for a range
/// where it holds more is 501 (§3.3), and the connection stays in step.
/// Posts articles until the group holds more than LEAF.
fn need_entries(ctx: &mut Ctx) -> CaseResult {
    let group = ctx.group()?;
    let mut c = ctx.transit()?;
    let mut set = learn(&mut c, &group)?;
    if set.len() <= LEAF {
        drop(c);
        post_fresh(ctx, LEAF + 1 - set.len())?;
        c = ctx.transit()?;
        set = learn(&mut c, &group)?;
        if set.len() <= LEAF {
            return fail(format!(
                "{group} still holds {} articles after posting up to {}",
                set.len(),
                LEAF + 1
            ));
        }
    }
    // One item alone in its 64-digit range: the N for its tag gets its id.
    let (hash, id) = match set.in_range("").next() {
        Some((hash, id)) => (*hash, id.clone()),
        None => return fail(format!("{group}: learnt nothing")),
    };
    let range = hex::encode(hash);
    let need = Entry::N {
        range: range.clone(),
        tags: vec![tag(&hash)],
    };
    let what = format!("XRECONCILE {group} with {}", need.line());
    let answer = xreconcile(&mut c, &group, &[need], &what)?;
    let want = Entry::H {
        range,
        ids: vec![id.clone()],
    };
    if answer != [want.clone()] {
        return fail(format!(
            "{what}: expected [{:?}], got {:?}",
            want.line(),
            answer.iter().map(Entry::line).collect::<Vec<_>>()
        ));
    }
    // The whole set holds more than LEAF: no N may name it.
    let line = format!("N * {}", b64(&tag(&hash)));
    let st = xreconcile_raw(&mut c, &group, &[&line])?;
    expect(
        &st,
        &[501],
        &format!(
            "XRECONCILE {group} with {line:?}, an N for a range of {} items (> LEAF = {LEAF})",
            set.len()
        ),
    )?;
    ctx.probe(&mut c, "501 for an N over more than LEAF items")
}

/// MAX_ENTRIES entries are taken, one more is 501. The entries are F
/// entries for 64-digit ranges with the empty set's fingerprint, which a
/// server almost surely answers with nothing.
fn entry_limit(ctx: &mut Ctx) -> CaseResult {
    let group = ctx.group()?;
    let fp = b64(&empty_fingerprint());
    let token = ctx.new_unbound_msgid();
    let lines: Vec<String> = (0..=MAX_ENTRIES)
        .map(|i| {
            let range = hex::encode(item_hash(&format!("{token}.{i}")));
            format!("F {range} {fp}")
        })
        .collect();
    let mut c = ctx.transit()?;
    let what = format!("XRECONCILE with {MAX_ENTRIES} entries");
    let st = xreconcile_raw(&mut c, &group, &lines[..MAX_ENTRIES])?;
    expect(&st, &[reconcile::RECONCILE_FOLLOWS], &what)?;
    read_entries(&mut c, &what)?;
    let st = xreconcile_raw(&mut c, &group, &lines)?;
    expect(
        &st,
        &[501],
        &format!("XRECONCILE with {} entries", MAX_ENTRIES + 1),
    )?;
    ctx.probe(&mut c, "501 for too many entries")
}

/// The answer to the empty set's fingerprint of the whole set is nothing
/// (an empty group) or one entry, L or S, for the whole set (§3.3).
fn empty_fingerprint_answer(ctx: &mut Ctx) -> CaseResult {
    let group = ctx.group()?;
    let mut c = ctx.transit()?;
    let first = Entry::F {
        range: String::new(),
        fp: empty_fingerprint(),
    };
    let what = format!("XRECONCILE {group} with {}", first.line());
    let answer = xreconcile(&mut c, &group, &[first], &what)?;
    match answer.as_slice() {
        [] => Ok(()),
        [Entry::L { range, .. } | Entry::S { range, .. }] if range.is_empty() => Ok(()),
        other => fail(format!(
            "{what}: expected nothing, or one L or S entry for *, got {:?}",
            other.iter().map(Entry::line).collect::<Vec<_>>()
        )),
    }
}

fn learns_posted(ctx: &mut Ctx) -> CaseResult {
    let posted = post_fresh(ctx, 3)?;
    let group = ctx.group()?;
    let mut c = ctx.transit()?;
    let deadline = Instant::now() + ctx.timeout;
    loop {
        let learnt = learn(&mut c, &group)?;
        let missing: Vec<&String> = posted.iter().filter(|id| !learnt.contains(id)).collect();
        if missing.is_empty() {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return fail(format!(
                "a client holding nothing learnt {} ids of {group}, but not the posted {missing:?}",
                learnt.len()
            ));
        }
        thread::sleep(Duration::from_millis(200));
    }
}

/// Sets learnt from the server, fingerprinted by the suite, match the
/// server's: the root F entry gets an empty 290.
fn equal_sets(ctx: &mut Ctx) -> CaseResult {
    let group = ctx.group()?;
    let mut c = ctx.transit()?;
    let mut last = Vec::new();
    for _ in 0..ATTEMPTS {
        let learnt = learn(&mut c, &group)?;
        let first = open(&learnt);
        let what = format!(
            "XRECONCILE {group} with {} for the {} ids learnt",
            first.line(),
            learnt.len()
        );
        let answer = xreconcile(&mut c, &group, &[first], &what)?;
        if answer.is_empty() {
            return Ok(());
        }
        last = answer.iter().map(Entry::line).collect();
    }
    fail(format!(
        "the fingerprint of the set the server listed did not match its own {ATTEMPTS} times \
         (§2: digest = count and sum of SHA-256 hashes as little-endian 256-bit integers; \
         fingerprint = SHA-256(sum || count u64 LE)[0..6]); last answer {last:?}"
    ))
}

/// A client that lacks one posted id and holds one the server never saw
/// learns exactly that: the one in an H entry, the other asked for with
/// an N entry.
fn one_each_way(ctx: &mut Ctx) -> CaseResult {
    let posted = post_fresh(ctx, 1)?;
    let group = ctx.group()?;
    let extra = ctx.new_msgid();
    let mut c = ctx.transit()?;
    let mut got = Outcome::default();
    for _ in 0..ATTEMPTS {
        let mut set = learn(&mut c, &group)?;
        if !set.contains(&posted[0]) {
            return fail(format!(
                "{} was posted to {group} but a client holding nothing did not learn it",
                posted[0]
            ));
        }
        set.remove(&posted[0]);
        set.insert(&extra);
        got = exchange(&mut c, &group, &set)?;
        if got.need == posted && got.have == [extra.clone()] {
            return Ok(());
        }
    }
    fail(format!(
        "client lacking {} and holding {extra}: expected to need exactly the first and \
         have exactly the second, got need {:?} and have {:?} ({} rounds)",
        posted[0], got.need, got.have, got.rounds
    ))
}

/// Three XRECONCILE and a DATE in one write: 290 with its block, 411,
/// 501, 111, in that order.
fn pipelined(ctx: &mut Ctx) -> CaseResult {
    let group = ctx.group()?;
    let unknown = ctx.unused_name("conformance.nosuch");
    let fp = format!("F * {}", b64(&empty_fingerprint()));
    let mut batch = xreconcile_bytes(&group, std::slice::from_ref(&fp));
    batch.extend(xreconcile_bytes(&unknown, std::slice::from_ref(&fp)));
    batch.extend(xreconcile_bytes(&group, &["F * short"][..]));
    let probe = ctx.transit_caps.has("READER");
    if probe {
        batch.extend_from_slice(b"DATE\r\n");
    }
    let mut c = ctx.transit()?;
    c.send_raw(&batch)?;
    let what = |i: usize| format!("reply {i} to pipelined XRECONCILE commands");
    let st = c.read_status()?;
    expect(&st, &[reconcile::RECONCILE_FOLLOWS], &what(1))?;
    read_entries(&mut c, &what(1))?;
    let st = c.read_status()?;
    expect(&st, &[411], &format!("{} (unknown group)", what(2)))?;
    let st = c.read_status()?;
    expect(&st, &[501], &format!("{} (malformed entry)", what(3)))?;
    if probe {
        let st = c.read_status()?;
        expect(&st, &[111], "DATE pipelined after them")?;
    }
    Ok(())
}

/// `XIHAVE` with `ids` as its block; the status line.
fn xihave_raw(c: &mut Client, ids: &[&str]) -> Result<wire::Status, CaseError> {
    let mut out = b"XIHAVE\r\n".to_vec();
    out.extend_from_slice(&wire::encode_block(ids));
    c.send_raw(&out)?;
    Ok(c.read_status()?)
}

/// XIHAVE expecting 291; the wanted ids.
fn xihave(c: &mut Client, ids: &[&str], what: &str) -> Result<Vec<String>, CaseError> {
    let st = xihave_raw(c, ids)?;
    expect(&st, &[reconcile::SENDME_FOLLOWS], what)?;
    Ok(c.read_block()?)
}

fn xihave_before_xpeer(ctx: &mut Ctx) -> CaseResult {
    if !ctx.peering_required() {
        return skip("server takes transit without XPEER (no X-TIDINGS-PEER)");
    }
    let id = ctx.new_msgid();
    let mut c = ctx.transit()?;
    let st = xihave_raw(&mut c, &[&id])?;
    expect(&st, &[480], "XIHAVE before XPEER")?;
    ctx.probe(&mut c, "480 after XIHAVE's block")
}

fn xihave_unknown_only(ctx: &mut Ctx) -> CaseResult {
    let known = post_fresh(ctx, 1)?.remove(0);
    let (first, second) = (ctx.new_msgid(), ctx.new_msgid());
    let mut c = ctx.peer()?;
    let offered = [
        first.as_str(),
        known.as_str(),
        second.as_str(),
        first.as_str(),
    ];
    let what = format!("XIHAVE {offered:?}");
    let wanted = xihave(&mut c, &offered, &what)?;
    if wanted != [first.clone(), second.clone()] {
        return fail(format!(
            "{what}: expected [{first}, {second}] ({known} is stored; each wanted id once, \
             in the order offered), got {wanted:?}"
        ));
    }
    Ok(())
}

fn xihave_bad_line(ctx: &mut Ctx) -> CaseResult {
    let id = ctx.new_msgid();
    let mut c = ctx.peer()?;
    let st = xihave_raw(&mut c, &[&id, "not-a-message-id"])?;
    expect(&st, &[501], "XIHAVE with a line that is not a message-id")?;
    ctx.probe(&mut c, "501 after XIHAVE's block")
}

/// A wanted id is claimed for the connection that was told to send it, as
/// CHECK's 238 claims it: meanwhile another connection is told to wait
/// (431 to CHECK) and is not asked for it by XIHAVE.
fn xihave_claims(ctx: &mut Ctx) -> CaseResult {
    if !ctx.transit_caps.has("STREAMING") {
        return skip("server does not advertise STREAMING");
    }
    let (id, article) = ctx.transit_article()?;
    let mut first = streaming(ctx)?;
    let mut second = streaming(ctx)?;
    let wanted = xihave(&mut first, &[&id], &format!("XIHAVE {id}"))?;
    if wanted != [id.clone()] {
        return fail(format!("XIHAVE of the new {id}: got {wanted:?}"));
    }
    let what = format!("XIHAVE {id} on a second connection while the first is to send it");
    let elsewhere = xihave(&mut second, &[&id], &what)?;
    if !elsewhere.is_empty() {
        return fail(format!(
            "{what}: expected nothing wanted, got {elsewhere:?}"
        ));
    }
    check(
        &mut second,
        &id,
        &[431],
        "while another connection is to send it",
    )?;
    takethis(&mut first, &id, &article, &[239], &format!("TAKETHIS {id}"))?;
    check(&mut second, &id, &[438], "after it was taken")
}

/// The wanted article goes by TAKETHIS (RFC 4644), and then it is no
/// longer wanted.
fn xihave_then_takethis(ctx: &mut Ctx) -> CaseResult {
    if !ctx.transit_caps.has("STREAMING") {
        return skip("server does not advertise STREAMING");
    }
    let (id, article) = ctx.transit_article()?;
    let mut c = streaming(ctx)?;
    let wanted = xihave(&mut c, &[&id], &format!("XIHAVE {id}"))?;
    if wanted != [id.clone()] {
        return fail(format!("XIHAVE of the new {id}: got {wanted:?}"));
    }
    takethis(&mut c, &id, &article, &[239], &format!("TAKETHIS {id}"))?;
    let wanted = xihave(&mut c, &[&id], &format!("XIHAVE {id} after 239"))?;
    if !wanted.is_empty() {
        return fail(format!("XIHAVE {id} after 239: still wanted: {wanted:?}"));
    }
    Ok(())
}

/// A copy whose signature does not verify is refused for the record only
/// (signing.md §3): the id must stay wanted, or a forger who sends first
/// keeps the genuine article out of catch-up.
fn xihave_after_forgery(ctx: &mut Ctx) -> CaseResult {
    if !ctx.signing_required() {
        return skip("server does not advertise X-TIDINGS-SIGNED");
    }
    if !ctx.transit_caps.has("STREAMING") {
        return skip("server does not advertise STREAMING");
    }
    let (id, genuine) = ctx.transit_article()?;
    let mut c = streaming(ctx)?;
    takethis(
        &mut c,
        &id,
        &tamper(&genuine),
        &[439],
        "TAKETHIS of a copy with one body byte changed after signing",
    )?;
    let what = format!("XIHAVE {id} after 439 for a tampered copy");
    let wanted = xihave(&mut c, &[&id], &what)?;
    if wanted != [id.clone()] {
        return fail(format!(
            "{what}: got {wanted:?}; the forgery blocked the genuine article"
        ));
    }
    Ok(())
}

/// XSYNC is for the operator on the server's host; either way a peer the
/// server does not have is 502.
fn xsync_unknown_peer(ctx: &mut Ctx) -> CaseResult {
    let name = ctx.unused_name("no-such-peer");
    let mut c = ctx.transit()?;
    let st = c.command(&format!("XSYNC {name}"))?;
    expect(&st, &[502], &format!("XSYNC {name}"))?;
    ctx.probe(&mut c, "502 for XSYNC")
}

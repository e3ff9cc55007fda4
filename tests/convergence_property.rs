//! protocol-spec/state.md as a property: any set of articles of the kinds
//! it covers (board controls, posts and replies, moves, passports and the
//! posts waiting for them, a revocation, cancels, a cancelled move, edits
//! and edits of edits), delivered to two fresh nodes in two
//! random orders with duplicates, leaves both with the same state digest.

mod common;

use std::sync::Arc;

use bytes::Bytes;
use common::*;
use ed25519_dalek::SigningKey;
use proptest::prelude::*;
use tidings::clock::Clock;
use tidings::ingest::Source;
use tidings::node::{Node, Settle};

/// The seconds of a Date in the fixtures' hour, as an RFC 5322 date.
fn date(minute: u8) -> String {
    format!("Sun, 22 Nov 2026 05:{:02}:00 +0000", minute % 60)
}

fn signed_by(
    key: &SigningKey,
    tag: &str,
    groups: &str,
    extra: &str,
    minute: u8,
    body: &str,
) -> (String, String) {
    let id = unique_id_for(tag, key);
    let text = article_text(&id, groups, body)
        .replacen("\r\n\r\n", &format!("\r\n{extra}\r\n"), 1)
        .replace(ARTICLE_DATE, &date(minute));
    (id.clone(), sign_with(&text, key))
}

/// Dates (minutes) of the controls that compete, chosen per case.
#[derive(Debug, Clone)]
struct Dates {
    newgroup: u8,
    modgroup: u8,
    rmgroup: u8,
    again: u8,
    move_two: u8,
    move_board: u8,
    board_post: u8,
    edit: u8,
    edit_again: u8,
    user_edit: u8,
    revoke: u8,
    move_out: u8,
    board_reply: u8,
    rm_again: u8,
}

/// One universe of articles: every kind state.md covers.
fn universe(d: &Dates) -> Vec<(String, String)> {
    let node = author();
    let user = stranger();
    let mut out = Vec::new();
    let control = |command: &str, minute: u8, body: &str| {
        signed_by(
            &node,
            "ctl",
            "chan.p",
            &format!("Control: {command}\r\n"),
            minute,
            body,
        )
    };
    out.push(control("newgroup chan.p", d.newgroup, "first\r\n"));
    out.push(control("modgroup chan.p", d.modgroup, "second\r\n"));
    out.push(control("rmgroup chan.p", d.rmgroup, ""));
    out.push(control("newgroup chan.p", d.again, "third\r\n"));
    let op = signed_by(&node, "op", "test.one", "", 0, "opening post\r\n");
    let x = op.0.clone();
    out.push(op);
    let r1 = signed_by(
        &node,
        "r1",
        "test.one",
        &format!("References: {x}\r\n"),
        1,
        "reply\r\n",
    );
    let r1_id = r1.0.clone();
    out.push(r1);
    let r2 = signed_by(
        &user,
        "r2",
        "test.one",
        &format!("References: {x}\r\n"),
        2,
        "user reply\r\n",
    );
    let r2_id = r2.0.clone();
    out.push(r2);
    out.push(signed_by(
        &node,
        "passport",
        "control",
        &format!("Control: passport {}\r\n", hex_key(&user)),
        3,
        "",
    ));
    let mv = signed_by(
        &node,
        "mv",
        "test.one",
        &format!("Control: move {x} test.two\r\n"),
        d.move_two,
        "",
    );
    let mv_id = mv.0.clone();
    out.push(mv);
    // The user's revocation, racing their reply and their edit.
    out.push(signed_by(
        &node,
        "revoke",
        "control",
        &format!("Control: revoke {}\r\n", hex_key(&user)),
        d.revoke,
        "",
    ));
    // The cancel of a move: the move then moves nothing.
    out.push(signed_by(
        &node,
        "mvcancel",
        "test.one",
        &format!("Control: cancel {mv_id}\r\n"),
        7,
        "",
    ));
    out.push(signed_by(
        &node,
        "mv",
        "test.one",
        &format!("Control: move {x} chan.p\r\n"),
        d.move_board,
        "",
    ));
    out.push(signed_by(
        &node,
        "cancel",
        "test.one",
        &format!("Control: cancel {r1_id}\r\n"),
        4,
        "",
    ));
    let p = signed_by(&node, "p", "chan.p", "", d.board_post, "on the board\r\n");
    let p_id = p.0.clone();
    out.push(p);
    // The board's post moved out of it, a reply to it on the board, and a
    // second removal of the board: what a removal takes depends on where
    // the thread was posted, not on where a move put it (state.md §4).
    out.push(signed_by(
        &node,
        "mvout",
        "chan.p",
        &format!("Control: move {p_id} test.two\r\n"),
        d.move_out,
        "",
    ));
    out.push(signed_by(
        &node,
        "pr",
        "chan.p",
        &format!("References: {p_id}\r\n"),
        d.board_reply,
        "reply on the board\r\n",
    ));
    out.push(control("rmgroup chan.p", d.rm_again, ""));
    // Edits: of the opening post, of that edit, and the user's of their
    // reply, with Dates that race the originals'.
    let e1 = signed_by(
        &node,
        "e1",
        "test.one",
        &format!("Supersedes: {x}\r\n"),
        d.edit,
        "edited\r\n",
    );
    let e1_id = e1.0.clone();
    out.push(e1);
    out.push(signed_by(
        &node,
        "e2",
        "test.one",
        &format!("Supersedes: {e1_id}\r\n"),
        d.edit_again,
        "edited again\r\n",
    ));
    out.push(signed_by(
        &user,
        "ue",
        "test.one",
        &format!("References: {x}\r\nSupersedes: {r2_id}\r\n"),
        d.user_edit,
        "user reply, edited\r\n",
    ));
    // A moderator's cancel, judged from the target whenever both are here.
    out.push(signed_by(
        &moderator(),
        "modcancel",
        "test.one",
        &format!("Control: cancel {r2_id}\r\n"),
        5,
        "",
    ));
    out
}

fn open() -> OpenNode {
    OpenNode::new(Clock::system(), with_moderator_and_third_board)
}

/// Delivers `articles` by transit in order, releasing pending articles and
/// settling moves after each one, as the node's tasks do.
async fn deliver(node: &Arc<Node>, articles: &[&(String, String)]) -> [u8; 32] {
    for (id, text) in articles {
        let source = Source::Transit {
            offered_id: id.as_bytes().to_vec(),
            peer: None,
        };
        node.ingest(Bytes::from(text.clone()), source, None).await;
        // A node settles as articles come, not once at the end.
        tidings::release::release(node, None).await;
        tidings::settle::settle(node, Settle::All).await;
    }
    node.store.state_digest().expect("digest")
}

/// [`deliver`], then everything once more, as catch-up does: what was
/// refused for the record only (a board not here yet) is offered again
/// once the node has all the controls.
async fn deliver_and_catch_up(node: &Arc<Node>, articles: &[&(String, String)]) -> [u8; 32] {
    deliver(node, articles).await;
    deliver(node, articles).await
}

fn dates() -> impl Strategy<Value = Dates> {
    (
        0u8..60,
        0u8..60,
        0u8..60,
        0u8..60,
        0u8..60,
        0u8..60,
        0u8..60,
        (0u8..60, 0u8..60, 0u8..60, 0u8..60),
        (0u8..60, 0u8..60, 0u8..60),
    )
        .prop_map(
            |(
                newgroup,
                modgroup,
                rmgroup,
                again,
                move_two,
                move_board,
                board_post,
                (edit, edit_again, user_edit, revoke),
                (move_out, board_reply, rm_again),
            )| Dates {
                newgroup,
                modgroup,
                rmgroup,
                again,
                move_two,
                move_board,
                board_post,
                edit,
                edit_again,
                user_edit,
                revoke,
                move_out,
                board_reply,
                rm_again,
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, ..ProptestConfig::default() })]

    #[test]
    fn any_order_with_duplicates_gives_the_same_state(
        d in dates(),
        keep in prop::collection::vec(prop::bool::weighted(0.85), 22),
        first in prop::collection::vec(any::<prop::sample::Index>(), 22),
        second in prop::collection::vec(any::<prop::sample::Index>(), 22),
        dup in prop::collection::vec(any::<prop::sample::Index>(), 0..4),
    ) {
        let all = universe(&d);
        let kept: Vec<&(String, String)> = all.iter().zip(&keep).filter(|(_, k)| **k).map(|(a, _)| a).collect();
        prop_assume!(!kept.is_empty());
        let shuffle = |picks: &[prop::sample::Index]| {
            let mut order = kept.clone();
            for (i, pick) in picks.iter().enumerate().take(order.len()) {
                let j = i + pick.index(order.len() - i);
                order.swap(i, j);
            }
            order
        };
        let one = shuffle(&first);
        let mut two = shuffle(&second);
        for pick in &dup {
            two.push(kept[pick.index(kept.len())]);
        }
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        let (a, b) = (open(), open());
        let digest_a = runtime.block_on(deliver_and_catch_up(a.node(), &one));
        let digest_b = runtime.block_on(deliver_and_catch_up(b.node(), &two));
        // Each board's thread index, kept batch by batch, is what the
        // overview it ended with gives.
        for node in [&a, &b] {
            let differences = tidings::store::board_threads::differences(&node.node().store).expect("index");
            prop_assert!(differences.is_empty(), "thread index: {differences:#?}");
        }
        if digest_a != digest_b {
            let lines = |node: &OpenNode| {
                let mut out = Vec::new();
                node.node().store.state_lines(|l| out.push(String::from_utf8_lossy(l).into_owned())).expect("lines");
                out
            };
            let (la, lb) = (lines(&a), lines(&b));
            let only_a: Vec<&String> = la.iter().filter(|l| !lb.contains(l)).collect();
            let only_b: Vec<&String> = lb.iter().filter(|l| !la.contains(l)).collect();
            let names = |order: &[&(String, String)]| order.iter().map(|(id, _)| id.split('.').next().unwrap_or_default().to_string()).collect::<Vec<_>>();
            prop_assert!(false, "orders {:?} / {:?}: only in the first {only_a:#?}, only in the second {only_b:#?}", names(&one), names(&two));
        }
    }
}

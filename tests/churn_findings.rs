//! The smallest reproductions of what the churn harness (tests/churn.rs)
//! found: derived state that still depends on arrival order. Each delivers
//! the same articles to two fresh nodes in two orders and lets the node's
//! settling run after each article, as a running node does shortly after
//! each commit (the property test settles once, after the last article,
//! which hides these).

mod common;

use std::sync::Arc;

use bytes::Bytes;
use common::*;
use ed25519_dalek::SigningKey;
use tidings::clock::Clock;
use tidings::config::PeerConfig;
use tidings::ingest::Source;
use tidings::node::{Node, Settle};

fn at(hour: u8, minute: u8) -> String {
    format!("Sun, 22 Nov 2026 {hour:02}:{minute:02}:00 +0000")
}

fn signed(
    key: &SigningKey,
    tag: &str,
    groups: &str,
    extra: &str,
    date: &str,
    body: &str,
) -> (String, String) {
    let id = unique_id_for(tag, key);
    let text = article_text(&id, groups, body)
        .replacen("\r\n\r\n", &format!("\r\n{extra}\r\n"), 1)
        .replace(ARTICLE_DATE, date);
    (id.clone(), sign_with(&text, key))
}

/// A second node key trusted to issue passports.
fn second_node() -> SigningKey {
    SigningKey::from_bytes(&[61; 32])
}

fn open() -> OpenNode {
    OpenNode::new(Clock::system(), |config| {
        with_moderator_and_third_board(config);
        config.peers.push(PeerConfig {
            passports: true,
            ..PeerConfig::new("second.peer", hex_key(&second_node()))
        });
    })
}

/// Delivers each article by transit, settling moves and releasing pending
/// posts after each one; then everything once more, as a catch-up would.
async fn deliver(node: &Arc<Node>, articles: &[&(String, String)]) {
    for _ in 0..2 {
        for (id, text) in articles {
            let source = Source::Transit {
                offered_id: id.as_bytes().to_vec(),
                peer: None,
            };
            node.ingest(Bytes::from(text.clone()), source, None).await;
            tidings::release::release(node, None).await;
            tidings::settle::settle(node, Settle::All).await;
        }
    }
}

/// The state lines of two nodes fed `one` and `two`, and the lines only
/// one of them has.
fn compare(one: &[&(String, String)], two: &[&(String, String)]) -> (Vec<String>, Vec<String>) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let (a, b) = (open(), open());
    runtime.block_on(deliver(a.node(), one));
    runtime.block_on(deliver(b.node(), two));
    let lines = |node: &OpenNode| {
        let mut out = Vec::new();
        node.node()
            .store
            .state_lines(|l| out.push(String::from_utf8_lossy(l).into_owned()))
            .expect("state lines");
        out
    };
    let (la, lb) = (lines(&a), lines(&b));
    (
        la.iter().filter(|l| !lb.contains(l)).cloned().collect(),
        lb.iter().filter(|l| !la.contains(l)).cloned().collect(),
    )
}

/// Churn seed 13 (n0 lost a thread that every other node kept): a thread
/// moved into a board and an rmgroup of that board. When the move settles
/// before the rmgroup comes, the thread is "filed in that board alone" and
/// the rmgroup removes it for good (state.md §4); when the rmgroup comes
/// first, the move's board is gone, the move is not valid and the thread
/// stays where its Newsgroups put it.
#[test]
fn a_move_into_a_board_then_its_rmgroup_gives_one_state_in_any_order() {
    let key = author();
    let newgroup = signed(
        &key,
        "ng",
        "chan.b",
        "Control: newgroup chan.b\r\n",
        &at(5, 0),
        "b\r\n",
    );
    let post = signed(&key, "op", "test.one", "", &at(5, 10), "opening post\r\n");
    let mv = signed(
        &key,
        "mv",
        "test.one",
        &format!("Control: move {} chan.b\r\n", post.0),
        &at(5, 20),
        "",
    );
    let rmgroup = signed(
        &key,
        "rm",
        "chan.b",
        "Control: rmgroup chan.b\r\n",
        &at(6, 0),
        "",
    );
    let (only_first, only_second) = compare(
        &[&newgroup, &post, &mv, &rmgroup],
        &[&newgroup, &post, &rmgroup, &mv],
    );
    assert!(
        only_first.is_empty() && only_second.is_empty(),
        "move settled before the rmgroup: {only_first:#?}\nrmgroup first: {only_second:#?}"
    );
}

/// Churn seed 13 (two nodes kept a reply no other node would take): a
/// reply posted to a board after its thread was moved off that board. A
/// node that takes the reply while the board exists files it with its
/// thread, and the rmgroup does not touch it there; a node that gets the
/// rmgroup first refuses the reply ("none of its newsgroups is carried
/// here"), although its thread is on a board it carries, and catch-up
/// fetches it and refuses it again on every run.
#[test]
fn a_reply_to_a_thread_moved_off_a_removed_board_gives_one_state_in_any_order() {
    let key = author();
    let newgroup = signed(
        &key,
        "ng",
        "chan.b",
        "Control: newgroup chan.b\r\n",
        &at(5, 0),
        "b\r\n",
    );
    let post = signed(&key, "op", "chan.b", "", &at(5, 10), "opening post\r\n");
    let mv = signed(
        &key,
        "mv",
        "chan.b",
        &format!("Control: move {} test.two\r\n", post.0),
        &at(5, 20),
        "",
    );
    let rmgroup = signed(
        &key,
        "rm",
        "chan.b",
        "Control: rmgroup chan.b\r\n",
        &at(6, 0),
        "",
    );
    let reply = signed(
        &key,
        "re",
        "chan.b",
        &format!("References: {}\r\n", post.0),
        &at(6, 30),
        "a reply\r\n",
    );
    let (only_first, only_second) = compare(
        &[&newgroup, &post, &mv, &reply, &rmgroup],
        &[&newgroup, &post, &mv, &rmgroup, &reply],
    );
    assert!(
        only_first.is_empty() && only_second.is_empty(),
        "reply before the rmgroup: {only_first:#?}\nrmgroup first: {only_second:#?}"
    );
}

/// Two node keys trusted for passports both issue one for the same user
/// key: the state digest records the issuer of whichever arrived last.
#[test]
fn two_passports_for_one_key_give_one_state_in_any_order() {
    let user = stranger();
    let command = format!("Control: passport {}\r\n", hex_key(&user));
    let first = signed(&author(), "pp", "test.one", &command, &at(5, 0), "");
    let second = signed(&second_node(), "pp", "test.one", &command, &at(5, 10), "");
    let (only_first, only_second) = compare(&[&first, &second], &[&second, &first]);
    assert!(
        only_first.is_empty() && only_second.is_empty(),
        "first then second: {only_first:#?}\nsecond then first: {only_second:#?}"
    );
}

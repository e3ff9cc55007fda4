//! The smallest reproductions of what the churn harness (tests/churn.rs)
//! found: derived state that still depends on arrival order. Each delivers
//! the same articles to two fresh nodes in two orders and lets the node's
//! settling run after each article, as a running node does shortly after
//! each commit (the property test settles once, after the last article,
//! which hides these); the last two run a real node, whose settle task
//! settles only what each commit names. The fixed ones run with every
//! `cargo test`; the one still open (state.md §7) is ignored until fixed.

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

/// A board control (`newgroup`, `rmgroup`, ...) for `board` signed by
/// `key`.
fn control(key: &SigningKey, command: &str, board: &str, date: &str) -> (String, String) {
    signed(
        key,
        "board",
        board,
        &format!("Control: {command}\r\n"),
        date,
        "board\r\n",
    )
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
        // The moderator of test.one moderates test.two as well, so it may
        // move threads between them.
        config.moderators.push(tidings::config::ModeratorConfig {
            key: hex_key(&moderator()),
            groups: "test.two".into(),
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

/// Asserts that two nodes fed `one` and `two` end in the same state,
/// naming the orders by `labels` when they do not.
fn same_state(one: &[&(String, String)], two: &[&(String, String)], labels: (&str, &str)) {
    let (only_first, only_second) = compare(one, two);
    assert!(
        only_first.is_empty() && only_second.is_empty(),
        "{}: {only_first:#?}\n{}: {only_second:#?}",
        labels.0,
        labels.1
    );
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
    same_state(
        &[&newgroup, &post, &mv, &rmgroup],
        &[&newgroup, &post, &rmgroup, &mv],
        ("move settled before the rmgroup", "rmgroup first"),
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
    same_state(
        &[&newgroup, &post, &mv, &reply, &rmgroup],
        &[&newgroup, &post, &mv, &rmgroup, &reply],
        ("reply before the rmgroup", "rmgroup first"),
    );
}

/// Churn seed 7, long run (most of its divergence): a moderator's move is
/// valid only while the thread's opening post is here (state.md §3), so a
/// cancel of that post decides whether the move counts. Where the move
/// settles first, the replies go to the move's board and stay there after
/// the cancel; where the cancel comes first, the move never counts and the
/// replies stay where their Newsgroups put them. The same holds for an
/// author's move of a thread under a free Message-ID.
#[test]
fn a_moderators_move_and_a_cancel_of_the_opening_post_give_one_state_in_any_order() {
    let post = signed(
        &author(),
        "op",
        "test.one",
        "",
        &at(5, 0),
        "opening post\r\n",
    );
    let reply = signed(
        &author(),
        "re",
        "test.one",
        &format!("References: {}\r\n", post.0),
        &at(5, 10),
        "a reply\r\n",
    );
    let mv = signed(
        &moderator(),
        "mv",
        "test.one",
        &format!("Control: move {} test.two\r\n", post.0),
        &at(5, 20),
        "",
    );
    let cancel = signed(
        &author(),
        "cancel",
        "test.one",
        &format!("Control: cancel {}\r\n", post.0),
        &at(5, 30),
        "",
    );
    same_state(
        &[&post, &reply, &mv, &cancel],
        &[&post, &reply, &cancel, &mv],
        ("move settled before the cancel", "cancel first"),
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

/// Churn seed 13 with `CHURN_MIX=edit=0,revoke=0,rmgroup=0,passport-again=0,cancel=0`
/// (one node kept a user's post pending for good): a post by a key that
/// was unknown when the post was decided, written after the release pass
/// its passport started, waited until the next start. Fixed in
/// `Node::ingest`; this is the regression test, on two connections racing.
#[test]
fn a_post_and_its_passport_arriving_together_never_leave_it_pending() {
    let (_dir, node) = start_node();
    let mut posts_in = Client::connect(node.addr);
    let mut passports_in = Client::connect(node.addr);
    assert_eq!(posts_in.cmd("MODE STREAM").0, 203);
    assert_eq!(passports_in.cmd("MODE STREAM").0, 203);
    let mut posts = Vec::new();
    for i in 0..300u32 {
        let mut seed = [7u8; 32];
        seed[..4].copy_from_slice(&i.to_le_bytes());
        let user = SigningKey::from_bytes(&seed);
        let id = unique_id_for("race", &user);
        let post = sign_with(&article_text(&id, "test.one", "racing\r\n"), &user);
        let (pid, passport) = signed(
            &author(),
            "pp",
            "test.one",
            &format!("Control: passport {}\r\n", hex_key(&user)),
            ARTICLE_DATE,
            "",
        );
        let post = format!("TAKETHIS {id}\r\n{}", stuffed(&post));
        let passport = format!("TAKETHIS {pid}\r\n{}", stuffed(&passport));
        // Either may reach the committer first; both orders must end filed.
        if i % 2 == 0 {
            posts_in.send(post.as_bytes());
            passports_in.send(passport.as_bytes());
        } else {
            passports_in.send(passport.as_bytes());
            posts_in.send(post.as_bytes());
        }
        let (a, b) = (posts_in.status(), passports_in.status());
        assert!(a.0 == 239 && b.0 == 239, "{a:?} {b:?}");
        posts.push(id);
    }
    let mut reader = Client::connect(node.addr);
    let mut pending: Vec<String> = posts;
    wait_until(
        std::time::Duration::from_secs(20),
        "every post to be released once its passport is here",
        || {
            pending.retain(|id| reader.cmd(&format!("STAT {id}")).0 != 223);
            pending.is_empty()
        },
    );
}

/// The boards `GROUP` lists `id` in, among test.one and test.two.
fn boards_of(c: &mut Client, id: &str) -> Vec<&'static str> {
    ["test.one", "test.two"]
        .into_iter()
        .filter(|board| {
            let (code, text) = c.cmd(&format!("GROUP {board}"));
            let mut range = text.split(' ').skip(1);
            let (low, high) = (range.next().unwrap_or("1"), range.next().unwrap_or("0"));
            code == 211
                && c.cmd(&format!("OVER {low}-{high}")).0 == 224
                && c.block().iter().any(|l| l.split('\t').nth(4) == Some(id))
        })
        .collect()
}

/// Churn seed 13 on main 6ceba5c (two restarted nodes put the replies back,
/// eight did not): the test above settles every move after each article;
/// a running node settles only the threads a commit names, and a cancel
/// of a thread's opening post does not name the thread. A moderator's move
/// needs its target here (state.md §3), so once the opening post is
/// cancelled the replies go back where their Newsgroups put them; on a
/// running node they stay on the move's board until the next start.
#[test]
fn a_running_node_sends_replies_back_when_the_opening_post_of_a_moved_thread_is_cancelled() {
    let dir = temp_dir();
    let mut config = config(dir.path());
    with_moderator_and_third_board(&mut config);
    config.moderators.push(tidings::config::ModeratorConfig {
        key: hex_key(&moderator()),
        groups: "test.two".into(),
    });
    let node = TestNode::start(config);
    let mut c = Client::connect(node.addr);
    let post = signed(
        &author(),
        "op",
        "test.one",
        "",
        &at(5, 0),
        "opening post\r\n",
    );
    let reply = signed(
        &author(),
        "re",
        "test.one",
        &format!("References: {}\r\n", post.0),
        &at(5, 10),
        "a reply\r\n",
    );
    let mv = signed(
        &moderator(),
        "mv",
        "test.one",
        &format!("Control: move {} test.two\r\n", post.0),
        &at(5, 20),
        "",
    );
    let cancel = signed(
        &author(),
        "cancel",
        "test.one",
        &format!("Control: cancel {}\r\n", post.0),
        &at(5, 30),
        "",
    );
    for (id, text) in [&post, &reply, &mv] {
        assert_eq!(ihave(&mut c, id, text).0, 235, "{id}");
    }
    let wait = std::time::Duration::from_secs(10);
    wait_until(wait, "the moderator's move to take the reply", || {
        boards_of(&mut c, &reply.0) == ["test.two"]
    });
    assert_eq!(ihave(&mut c, &cancel.0, &cancel.1).0, 235);
    wait_until(
        wait,
        "the reply back in test.one once the post is cancelled",
        || boards_of(&mut c, &reply.0) == ["test.one"],
    );
}

/// Churn seed 13 on main 6ceba5c (the restarted nodes filed an older edit
/// that the others did not): a post with an edit dated before it (which
/// does not replace it, state.md §3b), then a cancel of the post. The edit
/// is then the latest remaining version and current again; a running node
/// leaves it unfiled until the next start, because the cancel does not
/// settle the versions of what it removes.
#[test]
fn a_running_node_makes_the_remaining_edit_current_when_the_current_version_is_cancelled() {
    let (_dir, node) = start_node();
    let mut c = Client::connect(node.addr);
    let post = signed(&author(), "op", "test.one", "", &at(6, 0), "the post\r\n");
    let edit = signed(
        &author(),
        "edit",
        "test.one",
        &format!("Supersedes: {}\r\n", post.0),
        &at(5, 0),
        "an edit dated before the post\r\n",
    );
    let cancel = signed(
        &author(),
        "cancel",
        "test.one",
        &format!("Control: cancel {}\r\n", post.0),
        &at(6, 30),
        "",
    );
    for (id, text) in [&post, &edit] {
        assert_eq!(ihave(&mut c, id, text).0, 235, "{id}");
    }
    let wait = std::time::Duration::from_secs(10);
    wait_until(wait, "the post to stay current over its older edit", || {
        boards_of(&mut c, &post.0) == ["test.one"] && boards_of(&mut c, &edit.0).is_empty()
    });
    assert_eq!(ihave(&mut c, &cancel.0, &cancel.1).0, 235);
    wait_until(wait, "the edit filed once the post is cancelled", || {
        boards_of(&mut c, &edit.0) == ["test.one"]
    });
}

/// Churn seed 1 on main 6ceba5c (four nodes filed a crosspost in one of
/// its two boards, six in both): an article crossposted to a board this
/// node carries and to one a newgroup creates later is filed in the first
/// only, and stays out of the second when the newgroup comes. A node that
/// had the board first files it in both. The same happens, by a race, to
/// an article decided just before the newgroup was committed.
#[test]
fn a_crosspost_to_a_board_created_later_gives_one_state_in_any_order() {
    let key = author();
    let newgroup = signed(
        &key,
        "ng",
        "chan.c",
        "Control: newgroup chan.c\r\n",
        &at(5, 0),
        "c\r\n",
    );
    let crosspost = signed(&key, "x", "test.one,chan.c", "", &at(5, 10), "both\r\n");
    let (only_first, only_second) = compare(&[&newgroup, &crosspost], &[&crosspost, &newgroup]);
    assert!(
        only_first.is_empty() && only_second.is_empty(),
        "newgroup first: {only_first:#?}\ncrosspost first: {only_second:#?}"
    );
}

/// Churn seed 7, long run on main 6ceba5c (n4 refused for good the replies
/// of a thread every other node filed): a reply posted to a board before
/// the board's rmgroup, in a thread whose author moved it to a board that
/// stays. Where the move is here first, the reply follows its thread;
/// where the reply comes first, it is refused as "posted before its board
/// was removed" and remembered, so the move coming later cannot file it
/// and catch-up never fetches it again.
#[test]
fn a_reply_to_a_removed_board_and_its_threads_move_give_one_state_in_any_order() {
    let key = author();
    let newgroup = signed(
        &key,
        "ng",
        "chan.b",
        "Control: newgroup chan.b\r\n",
        &at(5, 0),
        "b\r\n",
    );
    let rmgroup = signed(
        &key,
        "rm",
        "chan.b",
        "Control: rmgroup chan.b\r\n",
        &at(6, 0),
        "",
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
    let reply = signed(
        &key,
        "re",
        "chan.b",
        &format!("References: {}\r\n", post.0),
        &at(5, 30),
        "a reply\r\n",
    );
    same_state(
        &[&newgroup, &rmgroup, &mv, &reply],
        &[&newgroup, &rmgroup, &reply, &mv],
        ("move first", "reply first"),
    );
}

/// Churn seed 4 with `CHURN_CATCH_UP=3600` on main 5e5ca29 (one node
/// removed a reply that nine filed): a thread whose author moved it to
/// its own board, a reply dated before that board's rmgroup, and a later
/// newgroup that brings the board back. Where the reply is filed before
/// the rmgroup comes, the rmgroup removes it (dated before it, filed in
/// that board alone); where it comes after, it is not filed by its
/// Newsgroups (the board was removed after its Date) but the move files it
/// in that very board, and there it stays.
#[test]
fn a_reply_moved_into_a_board_removed_after_it_gives_one_state_in_any_order() {
    let key = author();
    let board = |command: &str, date: &str| {
        signed(
            &key,
            "board",
            "chan.b",
            &format!("Control: {command}\r\n"),
            date,
            "b\r\n",
        )
    };
    let first = board("newgroup chan.b", &at(5, 0));
    let rmgroup = board("rmgroup chan.b", &at(6, 0));
    let again = board("newgroup chan.b", &at(7, 0));
    let post = signed(&key, "op", "chan.b", "", &at(5, 10), "opening post\r\n");
    let mv = signed(
        &key,
        "mv",
        "chan.b",
        &format!("Control: move {} chan.b\r\n", post.0),
        &at(5, 20),
        "",
    );
    let reply = signed(
        &key,
        "re",
        "chan.b",
        &format!("References: {}\r\n", post.0),
        &at(5, 30),
        "a reply\r\n",
    );
    same_state(
        &[&first, &post, &mv, &reply, &rmgroup, &again],
        &[&first, &post, &mv, &rmgroup, &again, &reply],
        ("reply before the rmgroup", "reply after"),
    );
}

/// Churn seed 7, long run on main 1ba799c (three nodes kept in the move's
/// board a post that seven removed): a post moved by its author out of its
/// board, and an rmgroup of that board dated after the post. Where the
/// move settles first, the post is on the other board and the rmgroup does
/// not touch it; where the rmgroup comes first, the post is "filed in that
/// board alone" and removed for good, and the move comes too late.
#[test]
fn a_move_out_of_a_board_and_its_rmgroup_give_one_state_in_any_order() {
    let key = author();
    let a = control(&key, "newgroup chan.a", "chan.a", &at(5, 0));
    let c = control(&key, "newgroup chan.c", "chan.c", &at(5, 0));
    let rmgroup = control(&key, "rmgroup chan.a", "chan.a", &at(6, 0));
    let post = signed(&key, "op", "chan.a", "", &at(5, 10), "opening post\r\n");
    let mv = signed(
        &key,
        "mv",
        "chan.a",
        &format!("Control: move {} chan.c\r\n", post.0),
        &at(5, 20),
        "",
    );
    same_state(
        &[&a, &c, &post, &mv, &rmgroup],
        &[&a, &c, &post, &rmgroup, &mv],
        ("move first", "rmgroup first"),
    );
}

/// Convergence property (an edit of an opening post not here yet): the
/// thread is moved into a board that an rmgroup then removes. A node that
/// files the edit under the move and then takes the rmgroup must send it
/// back where its Newsgroups put it, as a node that had the rmgroup first
/// does.
#[test]
fn an_edit_of_an_absent_post_moved_into_a_removed_board_gives_one_state_in_any_order() {
    let key = author();
    let newgroup = signed(
        &key,
        "ng",
        "chan.b",
        "Control: newgroup chan.b\r\n",
        &at(5, 0),
        "b\r\n",
    );
    let op_id = unique_id_for("op", &key);
    let mv = signed(
        &key,
        "mv",
        "test.one",
        &format!("Control: move {op_id} chan.b\r\n"),
        &at(5, 10),
        "",
    );
    let edit = signed(
        &key,
        "e1",
        "test.one",
        &format!("Supersedes: {op_id}\r\n"),
        &at(5, 20),
        "edited\r\n",
    );
    let reply = signed(
        &key,
        "r1",
        "test.one",
        &format!("References: {op_id}\r\n"),
        &at(5, 30),
        "reply\r\n",
    );
    let rmgroup = signed(
        &key,
        "rm",
        "chan.b",
        "Control: rmgroup chan.b\r\n",
        &at(6, 0),
        "",
    );
    same_state(
        &[&newgroup, &rmgroup, &mv, &edit, &reply],
        &[&newgroup, &mv, &edit, &reply, &rmgroup],
        ("rmgroup first", "rmgroup last"),
    );
}

/// Churn seed 7, the 10-minute run (nodes kept a post every other node
/// had removed): a post moved off its board, and two rmgroups of that
/// board, the older one dated before the post. A node that takes the
/// older rmgroup after the move has forgotten where the post came from by
/// the time the newer one comes, so the newer one missed it.
#[test]
fn a_moved_post_and_two_rmgroups_of_its_board_give_one_state_in_any_order() {
    let key = author();
    let a = control(&key, "newgroup chan.a", "chan.a", &at(5, 0));
    let c = control(&key, "newgroup chan.c", "chan.c", &at(5, 0));
    let older = control(&key, "rmgroup chan.a", "chan.a", &at(5, 5));
    let again = control(&key, "newgroup chan.a", "chan.a", &at(5, 7));
    let newer = control(&key, "rmgroup chan.a", "chan.a", &at(6, 0));
    let post = signed(&key, "op", "chan.a", "", &at(5, 10), "opening post\r\n");
    let mv = signed(
        &key,
        "mv",
        "chan.a",
        &format!("Control: move {} chan.c\r\n", post.0),
        &at(5, 20),
        "",
    );
    same_state(
        &[&a, &c, &again, &post, &mv, &older, &newer],
        &[&a, &c, &again, &post, &mv, &newer, &older],
        ("older rmgroup first", "newer rmgroup first"),
    );
}

/// Churn seed 7, the 10-minute run (four nodes kept a moderator's move
/// the others had dropped): the opening post under a free Message-ID is
/// edited, then cancelled by the node key that signed it. Where the edit
/// came first the post was a superseded version when the cancel came; a
/// cancel must remove it all the same, so the move (which needs the post
/// here) stops counting on every node.
#[test]
fn a_cancel_of_an_edited_opening_post_gives_one_state_in_any_order() {
    let node = author();
    let post_id = free_id("op");
    let post = {
        let text = article_text(&post_id, "test.one", "opening post\r\n")
            .replace(ARTICLE_DATE, &at(5, 10));
        (post_id.clone(), sign_with(&text, &node))
    };
    let reply = signed(
        &node,
        "re",
        "test.one",
        &format!("References: {post_id}\r\n"),
        &at(5, 0),
        "a reply\r\n",
    );
    let edit = signed(
        &node,
        "ed",
        "test.one",
        &format!("Supersedes: {post_id}\r\n"),
        &at(5, 20),
        "edited\r\n",
    );
    let mv = signed(
        &moderator(),
        "mv",
        "test.one",
        &format!("Control: move {post_id} test.two\r\n"),
        &at(5, 30),
        "",
    );
    let cancel = signed(
        &node,
        "cancel",
        "test.one",
        &format!("Control: cancel {post_id}\r\n"),
        &at(5, 5),
        "",
    );
    same_state(
        &[&post, &reply, &mv, &edit, &cancel],
        &[&cancel, &post, &reply, &mv, &edit],
        ("edit before the cancel", "cancel first"),
    );
}

/// Churn seed 7, the 10-minute run (two nodes kept a thread in a board an
/// rmgroup had closed to it): the settling plans a move from what is
/// stored, and an rmgroup committed between the plan and its write would
/// leave the stale filing for good. The node settles every move again
/// after any rmgroup, so the settling that follows puts it right.
#[test]
fn a_move_planned_before_an_rmgroup_and_written_after_it_is_settled_again() {
    let key = author();
    let newgroup = signed(
        &key,
        "ng",
        "chan.a",
        "Control: newgroup chan.a\r\n",
        &at(5, 0),
        "a\r\n",
    );
    let post = signed(&key, "op", "test.one", "", &at(5, 10), "opening post\r\n");
    let mv = signed(
        &key,
        "mv",
        "test.one",
        &format!("Control: move {} chan.a\r\n", post.0),
        &at(5, 20),
        "",
    );
    let rmgroup = signed(
        &key,
        "rm",
        "chan.a",
        "Control: rmgroup chan.a\r\n",
        &at(6, 0),
        "",
    );
    let again = signed(
        &key,
        "ng2",
        "chan.a",
        "Control: newgroup chan.a\r\n",
        &at(7, 0),
        "a again\r\n",
    );
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let raced = open();
    let node = raced.node();
    let mut queue = node.take_settle_queue().expect("the settle queue");
    let ingest = |article: &(String, String)| {
        let source = Source::Transit {
            offered_id: article.0.as_bytes().to_vec(),
            peer: None,
        };
        runtime.block_on(node.ingest(Bytes::from(article.1.clone()), source, None));
    };
    for article in [&newgroup, &again, &post, &mv] {
        ingest(article);
    }
    // The settle task takes what the commits asked for and plans it.
    while queue.try_recv().is_ok() {}
    let stale = tidings::settle::plan(node, post.0.as_bytes()).expect("plan");
    assert!(
        !stale.is_empty(),
        "the move is planned while chan.a takes it"
    );
    // Older than the newgroup, so the board stays; it closes to the post.
    ingest(&rmgroup);
    runtime.block_on(node.committer.apply(stale));
    // What the settle task would do with what the commits asked for.
    while let Ok(what) = queue.try_recv() {
        runtime.block_on(tidings::settle::settle(node, what));
    }
    let (only_raced, only_calm) = {
        let calm = open();
        runtime.block_on(deliver(
            calm.node(),
            &[&newgroup, &again, &post, &mv, &rmgroup],
        ));
        let lines = |node: &OpenNode| {
            let mut out = Vec::new();
            node.node()
                .store
                .state_lines(|l| out.push(String::from_utf8_lossy(l).into_owned()))
                .expect("state lines");
            out
        };
        let (la, lb) = (lines(&raced), lines(&calm));
        (
            la.iter()
                .filter(|l| !lb.contains(l))
                .cloned()
                .collect::<Vec<_>>(),
            lb.iter()
                .filter(|l| !la.contains(l))
                .cloned()
                .collect::<Vec<_>>(),
        )
    };
    assert!(
        only_raced.is_empty() && only_calm.is_empty(),
        "stale plan written: {only_raced:#?}\nsettled calmly: {only_calm:#?}"
    );
}

/// Churn seed 7, the 10-minute run (one node had removed an edit the
/// others kept filed): an edit dated before the post it edits (a skewed
/// clock), both on a board an rmgroup then removes, the thread moved off
/// it. The rmgroup takes the post; the edit, current again, was posted
/// to the removed board alone before its removal, so it goes too, as it
/// is refused when it comes after the rmgroup.
#[test]
fn an_edit_made_current_by_an_rmgroup_goes_with_its_board_in_any_order() {
    let key = author();
    let newgroup = signed(
        &key,
        "ng",
        "chan.b",
        "Control: newgroup chan.b\r\n",
        &at(4, 0),
        "b\r\n",
    );
    let post = signed(&key, "op", "chan.b", "", &at(5, 10), "opening post\r\n");
    let edit = signed(
        &key,
        "ed",
        "chan.b",
        &format!("Supersedes: {}\r\n", post.0),
        &at(5, 0),
        "edited, by a slow clock\r\n",
    );
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
    same_state(
        &[&newgroup, &post, &edit, &mv, &rmgroup],
        &[&newgroup, &post, &mv, &rmgroup, &edit],
        ("edit before the rmgroup", "rmgroup first"),
    );
}

/// Churn seed 1, the 10-minute run (two nodes kept a superseded version
/// the others had removed): a post and its edit on a board an rmgroup
/// dated between them removes, a later newgroup bringing the board back.
/// The superseded post is filed nowhere, so the rmgroup's pass over the
/// board missed it; it was posted before the removal, so it goes, as it is
/// refused when it comes after the rmgroup.
#[test]
fn a_superseded_version_posted_before_its_boards_removal_goes_in_any_order() {
    let key = author();
    let control = |tag: &str, command: &str, date: &str| {
        signed(
            &key,
            tag,
            "chan.b",
            &format!("Control: {command}\r\n"),
            date,
            "b\r\n",
        )
    };
    let newgroup = control("ng", "newgroup chan.b", &at(4, 0));
    let rmgroup = control("rm", "rmgroup chan.b", &at(5, 10));
    let again = control("ng2", "newgroup chan.b", &at(5, 20));
    let post = signed(&key, "op", "chan.b", "", &at(5, 0), "opening post\r\n");
    let edit = signed(
        &key,
        "ed",
        "chan.b",
        &format!("Supersedes: {}\r\n", post.0),
        &at(5, 30),
        "edited\r\n",
    );
    same_state(
        &[&newgroup, &again, &post, &edit, &rmgroup],
        &[&newgroup, &again, &rmgroup, &post, &edit],
        ("rmgroup last", "rmgroup first"),
    );
}

//! Derived state that does not depend on arrival order
//! (protocol-spec/state.md), against real nodes over NNTP: moves that come
//! before their thread, moves that race, moves of whole threads with their
//! late replies.

mod common;

use std::time::Duration;

use common::*;
use ed25519_dalek::SigningKey;

const WAIT: Duration = Duration::from_secs(10);

fn start() -> (tempfile::TempDir, TestNode) {
    let dir = temp_dir();
    let mut config = config(dir.path());
    with_moderator_and_third_board(&mut config);
    let node = TestNode::start(config);
    (dir, node)
}

/// A signed control message with a Date of the caller's.
fn control_at(key: &SigningKey, command: &str, groups: &str, date: &str) -> (String, String) {
    control_with_body(key, command, groups, date, "")
}

fn control_with_body(
    key: &SigningKey,
    command: &str,
    groups: &str,
    date: &str,
    body: &str,
) -> (String, String) {
    let id = unique_id_for("control", key);
    let text = article_text(&id, groups, body)
        .replacen("\r\n\r\n", &format!("\r\nControl: {command}\r\n\r\n"), 1)
        .replace(ARTICLE_DATE, date);
    (id.clone(), sign_with(&text, key))
}

/// A reply to `parent` in `group`, by the suite's author key.
fn reply(parent_chain: &[&str], group: &str, body: &str) -> (String, String) {
    let id = unique_id("reply");
    let text = article_text(&id, group, body).replacen(
        "\r\n\r\n",
        &format!("\r\nReferences: {}\r\n\r\n", parent_chain.join(" ")),
        1,
    );
    (id.clone(), sign(&text))
}

fn opening_post(group: &str) -> (String, String) {
    let id = unique_id("op");
    let text = article(&id, group, "opening post\r\n");
    (id, text)
}

/// The board an article is filed in, from the Xref-less HDR of its
/// number: STAT in each board.
fn board_of(c: &mut Client, id: &str) -> Vec<String> {
    ["test.one", "test.two", "test.three"]
        .into_iter()
        .filter(|g| {
            c.cmd(&format!("GROUP {g}"));
            c.cmd("LISTGROUP").0 == 211 && {
                let numbers = c.block();
                numbers.iter().any(|n| {
                    let (code, text) = c.cmd(&format!("STAT {n}"));
                    code == 223 && text.split(' ').nth(1) == Some(id)
                })
            }
        })
        .map(str::to_string)
        .collect()
}

fn offer(c: &mut Client, id: &str, text: &str) {
    let (code, reason) = ihave(c, id, text);
    assert_eq!(code, 235, "{id}: {reason}");
}

#[test]
fn a_move_that_comes_before_its_thread_moves_the_thread_when_it_comes() {
    let (_dir, node) = start();
    let mut c = Client::connect(node.addr);
    let (op, op_text) = opening_post("test.one");
    let (early, early_text) = reply(&[&op], "test.one", "a reply before the post\r\n");
    let (mid, mv) = control_at(
        &author(),
        &format!("move {op} test.two"),
        "test.one",
        "Sun, 22 Nov 2026 05:00:00 +0000",
    );
    // The move first, then a reply, then the opening post.
    offer(&mut c, &mid, &mv);
    offer(&mut c, &early, &early_text);
    offer(&mut c, &op, &op_text);
    wait_until(WAIT, "the thread in test.two", || {
        board_of(&mut c, &op) == ["test.two"] && board_of(&mut c, &early) == ["test.two"]
    });
    // A reply that comes after the move follows its thread.
    let (late, late_text) = reply(&[&op, &early], "test.one", "a late reply\r\n");
    offer(&mut c, &late, &late_text);
    wait_until(WAIT, "the late reply in test.two", || {
        board_of(&mut c, &late) == ["test.two"]
    });
    assert_eq!(c.cmd("GROUP test.one").1.split(' ').next(), Some("0"));
}

#[test]
fn racing_moves_end_where_the_later_dated_one_says_whatever_the_order() {
    let (op, op_text) = opening_post("test.one");
    let (first, first_text) = control_at(
        &author(),
        &format!("move {op} test.two"),
        "test.one",
        "Sun, 22 Nov 2026 05:00:00 +0000",
    );
    let (second, second_text) = control_at(
        &author(),
        &format!("move {op} test.three"),
        "test.one",
        "Sun, 22 Nov 2026 06:00:00 +0000",
    );
    let orders: [&[(&str, &str)]; 3] = [
        &[
            (&op, &op_text),
            (&first, &first_text),
            (&second, &second_text),
        ],
        &[
            (&op, &op_text),
            (&second, &second_text),
            (&first, &first_text),
        ],
        &[
            (&second, &second_text),
            (&first, &first_text),
            (&op, &op_text),
        ],
    ];
    for order in orders {
        let (_dir, node) = start();
        let mut c = Client::connect(node.addr);
        for (id, text) in order {
            offer(&mut c, id, text);
        }
        wait_until(WAIT, "the later move to win", || {
            board_of(&mut c, &op) == ["test.three"]
        });
    }
}

#[test]
fn a_move_by_someone_else_is_kept_but_moves_nothing() {
    let (_dir, node) = start();
    let mut c = Client::connect(node.addr);
    let (op, op_text) = opening_post("test.one");
    offer(&mut c, &op, &op_text);
    // A passport holder who is neither the author nor a moderator.
    let user = stranger();
    let (pid, passport) = control_at(
        &author(),
        &format!("passport {}", hex_key(&user)),
        "test.one",
        "Sun, 22 Nov 2026 05:00:00 +0000",
    );
    offer(&mut c, &pid, &passport);
    let (mid, mv) = control_at(
        &user,
        &format!("move {op} test.two"),
        "test.one",
        "Sun, 22 Nov 2026 05:10:00 +0000",
    );
    offer(&mut c, &mid, &mv);
    // Settling is one task in commit order: once a later valid move of
    // another thread has applied, the stranger's was settled before it.
    let (other, other_text) = opening_post("test.one");
    offer(&mut c, &other, &other_text);
    let (oid, omv) = control_at(
        &author(),
        &format!("move {other} test.three"),
        "test.one",
        "Sun, 22 Nov 2026 05:20:00 +0000",
    );
    offer(&mut c, &oid, &omv);
    wait_until(WAIT, "the author's move", || {
        board_of(&mut c, &other) == ["test.three"]
    });
    assert_eq!(board_of(&mut c, &op), ["test.one"]);
}

/// LIST NEWSGROUPS: `name description` lines of the boards that exist.
fn boards(c: &mut Client) -> Vec<String> {
    assert_eq!(c.cmd("LIST NEWSGROUPS chan.*").0, 215);
    c.block()
}

#[test]
fn board_controls_end_the_same_in_any_order() {
    // Bodies give the descriptions (signing.md §5): the modgroup's is
    // newer than the first newgroup's, older than the second's.
    let at = |command: &str, date: &str, body: &str| {
        control_with_body(&author(), command, "chan.b", date, body)
    };
    let controls = [
        at(
            "newgroup chan.b",
            "Sun, 22 Nov 2026 05:00:00 +0000",
            "first description\r\n",
        ),
        at(
            "modgroup chan.b",
            "Sun, 22 Nov 2026 05:30:00 +0000",
            "changed description\r\n",
        ),
        at("rmgroup chan.b", "Sun, 22 Nov 2026 06:00:00 +0000", ""),
        at(
            "newgroup chan.b",
            "Sun, 22 Nov 2026 07:00:00 +0000",
            "the board again\r\n",
        ),
    ];
    let orders: [&[usize]; 4] = [&[0, 1, 2], &[2, 1, 0], &[1, 2, 0], &[2, 0, 1]];
    for order in orders {
        let (_dir, node) = start();
        let mut c = Client::connect(node.addr);
        for &i in order {
            offer(&mut c, &controls[i].0, &controls[i].1);
        }
        // The rmgroup is the latest: no chan.b, whatever the order.
        assert!(
            boards(&mut c).is_empty(),
            "order {order:?}: {:?}",
            boards(&mut c)
        );
        offer(&mut c, &controls[3].0, &controls[3].1);
        assert_eq!(
            boards(&mut c),
            ["chan.b\tthe board again"],
            "order {order:?}"
        );
    }
    // A modgroup before its newgroup (in arrival, not in Date) is kept.
    let (_dir, node) = start();
    let mut c = Client::connect(node.addr);
    offer(&mut c, &controls[1].0, &controls[1].1);
    assert!(boards(&mut c).is_empty());
    offer(&mut c, &controls[0].0, &controls[0].1);
    assert_eq!(boards(&mut c), ["chan.b\tchanged description"]);
}

#[test]
fn an_rmgroup_removes_bodies_and_they_never_come_back() {
    let (_dir, node) = start();
    let mut c = Client::connect(node.addr);
    let (nid, newgroup) = control_at(
        &author(),
        "newgroup chan.c",
        "chan.c",
        "Sun, 22 Nov 2026 05:00:00 +0000",
    );
    offer(&mut c, &nid, &newgroup);
    let only = unique_id("only");
    let only_text = article(&only, "chan.c", "only here\r\n");
    offer(&mut c, &only, &only_text);
    let cross = unique_id("cross");
    offer(
        &mut c,
        &cross,
        &article(&cross, "chan.c,test.one", "also elsewhere\r\n"),
    );
    let (rid, rmgroup) = control_at(
        &author(),
        "rmgroup chan.c",
        "chan.c",
        "Sun, 22 Nov 2026 06:00:00 +0000",
    );
    offer(&mut c, &rid, &rmgroup);
    assert_eq!(c.cmd(&format!("ARTICLE {only}")).0, 430, "the body is gone");
    assert_eq!(
        c.cmd(&format!("STAT {cross}")).0,
        223,
        "crossposted: kept elsewhere"
    );
    assert_eq!(
        c.cmd(&format!("IHAVE {only}")).0,
        435,
        "remembered as removed"
    );
    // Brought back by a later newgroup, the board does not take what was
    // posted before it was removed, from a node that never removed it.
    let (bid, back) = control_at(
        &author(),
        "newgroup chan.c",
        "chan.c",
        "Sun, 22 Nov 2026 07:00:00 +0000",
    );
    offer(&mut c, &bid, &back);
    let (_dir2, fresh) = start();
    let mut f = Client::connect(fresh.addr);
    offer(&mut f, &rid, &rmgroup);
    offer(&mut f, &bid, &back);
    let (code, reason) = ihave(&mut f, &only, &only_text);
    assert_eq!(code, 437);
    assert!(
        reason.contains("before its board chan.c was removed"),
        "{reason}"
    );
}

#[test]
fn a_refused_thread_goes_with_its_late_replies() {
    let (dir, node) = start();
    let node_key = tidings::keys::read_secret_key(&dir.path().join("node.key")).expect("node key");
    let mut c = Client::connect(node.addr);
    let (op, op_text) = opening_post("test.one");
    let (r1, r1_text) = reply(&[&op], "test.one", "first reply\r\n");
    offer(&mut c, &op, &op_text);
    offer(&mut c, &r1, &r1_text);
    // The operator's POST, signed with the node key and dated now.
    let now = chrono::Utc::now().to_rfc2822();
    let (_, refuse) = control_at(
        &node_key,
        &format!("local-refuse-thread {op}"),
        "test.one",
        &now,
    );
    assert_eq!(c.cmd("POST").0, 340);
    c.send_article(&refuse);
    let (code, text) = c.status();
    assert_eq!(code, 240, "{text}");
    for id in [&op, &r1] {
        assert_eq!(
            c.cmd(&format!("ARTICLE {id}")).0,
            430,
            "{id} removed, body too"
        );
        assert_eq!(
            c.cmd(&format!("IHAVE {id}")).0,
            435,
            "{id} never fetched again"
        );
    }
    let (late, late_text) = reply(&[&op, &r1], "test.one", "a late reply\r\n");
    let (code, reason) = ihave(&mut c, &late, &late_text);
    assert_eq!(code, 437);
    assert!(reason.contains("thread was refused"), "{reason}");
    assert_eq!(c.cmd("GROUP test.one").1.split(' ').next(), Some("0"));
}

#[test]
fn a_moderators_cancel_is_judged_by_the_target_whichever_comes_first() {
    let (op, op_text) = opening_post("test.one");
    let (cid, cancel) = control_at(
        &moderator(),
        &format!("cancel {op}"),
        "test.one",
        "Sun, 22 Nov 2026 05:00:00 +0000",
    );
    // Target first: removed once the cancel is settled.
    let (_dir, node) = start();
    let mut c = Client::connect(node.addr);
    offer(&mut c, &op, &op_text);
    offer(&mut c, &cid, &cancel);
    wait_until(WAIT, "the cancelled post to go", || {
        c.cmd(&format!("STAT {op}")).0 == 430
    });
    // Cancel first: the post is refused when it comes.
    let (_dir2, fresh) = start();
    let mut f = Client::connect(fresh.addr);
    offer(&mut f, &cid, &cancel);
    let (code, reason) = ihave(&mut f, &op, &op_text);
    assert_eq!(code, 437);
    assert!(reason.contains("cancelled by"), "{reason}");

    // A moderator of test.one cannot cancel a post in test.two by naming
    // test.one in the cancel, whatever comes first.
    let (other, other_text) = opening_post("test.two");
    let (xid, cross) = control_at(
        &moderator(),
        &format!("cancel {other}"),
        "test.one",
        "Sun, 22 Nov 2026 05:10:00 +0000",
    );
    offer(&mut f, &xid, &cross);
    offer(&mut f, &other, &other_text);
    // Settling is one task in commit order: once a later valid cancel has
    // applied, the one before it was judged too.
    let (last, last_text) = opening_post("test.one");
    offer(&mut f, &last, &last_text);
    let (lid, last_cancel) = control_at(
        &moderator(),
        &format!("cancel {last}"),
        "test.one",
        "Sun, 22 Nov 2026 05:20:00 +0000",
    );
    offer(&mut f, &lid, &last_cancel);
    wait_until(WAIT, "the valid cancel", || {
        f.cmd(&format!("STAT {last}")).0 == 430
    });
    assert_eq!(f.cmd(&format!("STAT {other}")).0, 223);
}

fn xstate(c: &mut Client) -> String {
    let (code, text) = c.cmd("XSTATE");
    assert_eq!(code, 293, "{text}");
    text.split(' ').next().expect("digest").to_string()
}

#[test]
fn two_nodes_tell_in_one_round_trip_whether_they_agree() {
    let (_a_dir, a) = start();
    let (_b_dir, b) = start();
    let mut ca = Client::connect(a.addr);
    let mut cb = Client::connect(b.addr);
    assert_eq!(xstate(&mut ca), xstate(&mut cb), "two fresh nodes agree");
    let (op, op_text) = opening_post("test.one");
    let (r1, r1_text) = reply(&[&op], "test.one", "a reply\r\n");
    let (mid, mv) = control_at(
        &author(),
        &format!("move {op} test.two"),
        "test.one",
        "Sun, 22 Nov 2026 05:00:00 +0000",
    );
    let empty = xstate(&mut ca);
    for (id, text) in [(&op, &op_text), (&r1, &r1_text), (&mid, &mv)] {
        offer(&mut ca, id, text);
    }
    let moved =
        |c: &mut Client| board_of(c, &op) == ["test.two"] && board_of(c, &r1) == ["test.two"];
    wait_until(WAIT, "the thread moved on a", || moved(&mut ca));
    assert_ne!(xstate(&mut ca), empty, "filings count");
    assert_ne!(xstate(&mut ca), xstate(&mut cb), "b has nothing yet");
    // The other order on b: the same state, the same digest.
    for (id, text) in [(&mid, &mv), (&r1, &r1_text), (&op, &op_text)] {
        offer(&mut cb, id, text);
    }
    wait_until(WAIT, "the thread moved on b", || moved(&mut cb));
    assert_eq!(xstate(&mut ca), xstate(&mut cb));
}

#[test]
fn an_edited_post_keeps_its_replies_and_its_first_id_whatever_the_order() {
    let (op, op_text) = opening_post("test.one");
    let edit = unique_id("edit");
    let edit_text = sign(
        &article_text(&edit, "test.one", "the edited opening post\r\n")
            .replacen("\r\n\r\n", &format!("\r\nSupersedes: {op}\r\n\r\n"), 1)
            .replace(ARTICLE_DATE, "Sun, 22 Nov 2026 05:00:00 +0000"),
    );
    let (r1, r1_text) = reply(&[&op], "test.one", "a reply to the first version\r\n");
    let (mid, mv) = control_at(
        &author(),
        &format!("move {op} test.two"),
        "test.one",
        "Sun, 22 Nov 2026 06:00:00 +0000",
    );
    let articles = [
        (&op, &op_text),
        (&edit, &edit_text),
        (&r1, &r1_text),
        (&mid, &mv),
    ];
    let mut digests = Vec::new();
    for order in [[0, 1, 2, 3], [3, 2, 1, 0], [1, 3, 0, 2]] {
        let (_dir, node) = start();
        let mut c = Client::connect(node.addr);
        for i in order {
            offer(&mut c, articles[i].0, articles[i].1);
        }
        wait_until(WAIT, "the edit current, the thread moved", || {
            c.cmd(&format!("STAT {op}")) == (223, format!("0 {edit}"))
                && board_of(&mut c, &edit) == ["test.two"]
                && board_of(&mut c, &r1) == ["test.two"]
        });
        assert!(
            board_of(&mut c, &op).is_empty(),
            "{order:?}: one version listed"
        );
        assert_eq!(c.cmd(&format!("BODY {op}")), (222, format!("0 {edit}")));
        assert_eq!(c.block(), ["the edited opening post"], "{order:?}");
        digests.push(xstate(&mut c));
    }
    assert!(digests.windows(2).all(|w| w[0] == w[1]), "{digests:?}");
}

#[test]
fn a_cancelled_move_moves_nothing_whichever_comes_first() {
    let (op, op_text) = opening_post("test.one");
    let (r1, r1_text) = reply(&[&op], "test.one", "a reply\r\n");
    let (mid, mv) = control_at(
        &author(),
        &format!("move {op} test.two"),
        "test.one",
        "Sun, 22 Nov 2026 05:00:00 +0000",
    );
    let (cid, cancel) = control_at(
        &author(),
        &format!("cancel {mid}"),
        "test.one",
        "Sun, 22 Nov 2026 06:00:00 +0000",
    );
    let articles = [
        (&op, &op_text),
        (&r1, &r1_text),
        (&mid, &mv),
        (&cid, &cancel),
    ];
    for order in [[0, 1, 2, 3], [3, 2, 1, 0], [2, 0, 1, 3]] {
        let (_dir, node) = start();
        let mut c = Client::connect(node.addr);
        for i in order {
            let (id, text) = articles[i];
            let (code, reason) = ihave(&mut c, id, text);
            // A move that comes after its cancel is known as removed.
            let refused = *id == mid && order[0] == 3;
            assert_eq!(
                code,
                if refused { 435 } else { 235 },
                "{order:?} {id}: {reason}"
            );
        }
        wait_until(WAIT, "the thread where its Newsgroups put it", || {
            board_of(&mut c, &op) == ["test.one"] && board_of(&mut c, &r1) == ["test.one"]
        });
        assert_eq!(
            c.cmd("GROUP test.two").1.split(' ').next(),
            Some("0"),
            "{order:?}"
        );
    }
}

#[test]
fn a_revocation_counts_from_its_date_whichever_comes_first() {
    let user = SigningKey::from_bytes(&[77; 32]);
    let (pid, passport) = control_at(
        &author(),
        &format!("passport {}", hex_key(&user)),
        "control",
        "Sun, 22 Nov 2026 03:00:00 +0000",
    );
    let (rid, revoke) = control_at(
        &author(),
        &format!("revoke {}", hex_key(&user)),
        "control",
        "Sun, 22 Nov 2026 05:00:00 +0000",
    );
    let by_user = |tag: &str, date: &str| {
        let id = unique_id_for(tag, &user);
        let text = article_text(&id, "test.one", "by the user\r\n").replace(ARTICLE_DATE, date);
        (id, sign_with(&text, &user))
    };
    let (before, before_text) = by_user("before", "Sun, 22 Nov 2026 04:00:00 +0000");
    let (after, after_text) = by_user("after", "Sun, 22 Nov 2026 06:00:00 +0000");
    let articles = [
        (&pid, &passport),
        (&before, &before_text),
        (&after, &after_text),
        (&rid, &revoke),
    ];
    let mut digests = Vec::new();
    for order in [[0, 1, 2, 3], [3, 2, 1, 0], [2, 3, 0, 1]] {
        let (_dir, node) = start();
        let mut c = Client::connect(node.addr);
        for i in order {
            let (id, text) = articles[i];
            let (code, reason) = ihave(&mut c, id, text);
            assert!(matches!(code, 235 | 437), "{order:?} {id}: {code} {reason}");
        }
        // The group count is published just after the removal is written,
        // so it is waited for too.
        wait_until(WAIT, "what was signed before the revocation, alone", || {
            c.cmd(&format!("STAT {before}")).0 == 223
                && c.cmd(&format!("STAT {after}")).0 == 430
                && c.count("test.one") == 1
        });
        assert_eq!(
            c.cmd(&format!("IHAVE {after}")).0,
            435,
            "{order:?}: never fetched again"
        );
        // A passport that comes after the revocation does not undo it.
        assert_eq!(c.cmd("GROUP test.one").1.split(' ').next(), Some("1"));
        digests.push(xstate(&mut c));
    }
    assert!(digests.windows(2).all(|w| w[0] == w[1]), "{digests:?}");
}

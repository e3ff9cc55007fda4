//! Signed articles end to end: tampering, forgery, cancels, edits,
//! passports and pending verification, board control and local removal.

mod common;

use std::time::{Duration, Instant};

use bytes::Bytes;
use common::*;
use ed25519_dalek::SigningKey;
use tidings::proto::article::Article;
use tidings::proto::signing;

/// A control message by `key`, dated now, so that POST takes it as readily as
/// transit (nntp.md §5.3).
fn control(key: &SigningKey, command: &str, groups: &str, body: &str) -> (String, String) {
    let id = unique_id_for("control", key);
    let text = article_text(&id, groups, body)
        .replacen("\r\n\r\n", &format!("\r\nControl: {command}\r\n\r\n"), 1)
        .replace(ARTICLE_DATE, &chrono::Utc::now().to_rfc2822());
    (id.clone(), sign_with(&text, key))
}

/// Our trusted peer key announces `user`'s passport.
fn issue_passport(c: &mut Client, user: &SigningKey) {
    let (id, passport) = control(
        &author(),
        &format!("passport {}", hex_key(user)),
        "test.one",
        "",
    );
    assert_eq!(ihave(c, &id, &passport).0, 235);
}

fn wait_for(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_changed_body_byte_is_refused_every_way() {
    let (_dir, node) = start_node();
    let mut c = Client::connect(node.addr);
    // Dated now, so that POST judges the signature, not a stale Date.
    let tamper = |id: &str| {
        sign(
            &article_text(id, "test.one", "the original text\r\n")
                .replace(ARTICLE_DATE, &chrono::Utc::now().to_rfc2822()),
        )
        .replace("original", "Original")
    };

    let id = unique_id("tampered-ihave");
    let (code, text) = ihave(&mut c, &id, &tamper(&id));
    assert_eq!(code, 437);
    assert!(text.contains("signature does not verify"), "{text}");
    assert_eq!(c.cmd(&format!("STAT {id}")).0, 430);

    let id = unique_id("tampered-takethis");
    c.send(format!("TAKETHIS {id}\r\n").as_bytes());
    c.send_article(&tamper(&id));
    let (code, text) = c.status();
    assert_eq!(code, 439);
    assert!(text.contains("signature"), "{text}");
    assert_eq!(c.cmd(&format!("STAT {id}")).0, 430);

    let id = unique_id("tampered-post");
    assert_eq!(c.cmd("POST").0, 340);
    c.send_article(&tamper(&id));
    let (code, text) = c.status();
    assert_eq!(code, 441);
    assert!(text.contains("signature"), "{text}");
    assert_eq!(c.cmd(&format!("STAT {id}")).0, 430);
}

#[test]
fn a_forged_copy_cannot_poison_the_real_message_id() {
    let (_dir, node) = start_node();
    let mut c = Client::connect(node.addr);
    let id = unique_id("victim");
    let genuine = article(&id, "test.one", "genuine\r\n");
    let forged = genuine.replace("genuine", "forged!");
    assert_eq!(ihave(&mut c, &id, &forged).0, 437);
    // The forgery is on record, but the real article is still wanted.
    assert_eq!(ihave(&mut c, &id, &genuine).0, 235);

    // Re-signing someone else's Message-ID with your own key fails too.
    let squatter = stranger();
    let victim = unique_id("victim2");
    let text = article_text(&victim, "test.one", "squat\r\n");
    let parsed = Article::parse(Bytes::from(text.clone())).expect("parses");
    assert!(signing::sign(&parsed, &squatter).is_err());
    let field = signing::SignatureField {
        key: squatter.verifying_key(),
        signature: ed25519_dalek::Signer::sign(&squatter, &signing::canonical(&parsed)),
    };
    let squat = text.replacen(
        "\r\n\r\n",
        &format!("\r\n{}: {}\r\n\r\n", signing::HEADER, field.to_value()),
        1,
    );
    let (code, reason) = ihave(&mut c, &victim, &squat);
    assert_eq!(code, 437);
    assert!(reason.contains("not the signing key"), "{reason}");
    assert_eq!(
        ihave(&mut c, &victim, &article(&victim, "test.one", "mine\r\n")).0,
        235
    );
}

#[test]
fn cancels_by_the_author_only() {
    let (_dir, node) = start_node();
    let mut c = Client::connect(node.addr);
    let id = unique_id("cancel-target");
    assert_eq!(
        ihave(
            &mut c,
            &id,
            &article(&id, "test.one", "to be cancelled\r\n")
        )
        .0,
        235
    );
    assert_eq!(c.cmd("GROUP test.one").1, "1 1 1 test.one");

    // A cancel signed by another (known) key leaves the article in place.
    let other = stranger();
    issue_passport(&mut c, &other);
    let (cid, cancel) = control(&other, &format!("cancel {id}"), "test.one", "");
    let (code, text) = ihave(&mut c, &cid, &cancel);
    assert_eq!(code, 437);
    assert!(text.contains("neither the author"), "{text}");
    assert_eq!(c.cmd(&format!("STAT {id}")).0, 223);

    // The author's cancel removes it.
    let (cid, cancel) = control(&author(), &format!("cancel {id}"), "test.one", "");
    assert_eq!(ihave(&mut c, &cid, &cancel).0, 235);
    assert_eq!(c.cmd(&format!("ARTICLE {id}")).0, 430);
    assert_eq!(c.cmd("GROUP test.one").1, "0 2 1 test.one");
    assert_eq!(
        c.cmd(&format!("IHAVE {id}")).0,
        435,
        "a cancelled article is not taken again"
    );

    // A cancel that arrives first makes the article refused when it comes.
    let later = unique_id("cancel-first");
    let (cid, cancel) = control(&author(), &format!("cancel {later}"), "test.one", "");
    assert_eq!(ihave(&mut c, &cid, &cancel).0, 235);
    assert_eq!(c.cmd(&format!("IHAVE {later}")).0, 435);
    c.send(format!("TAKETHIS {later}\r\n").as_bytes());
    c.send_article(&article(&later, "test.one", "too late\r\n"));
    assert_eq!(c.status().0, 439);
    assert_eq!(c.cmd(&format!("STAT {later}")).0, 430);

    // Control messages are readable in the control pseudo-group.
    assert_eq!(c.cmd("GROUP control").0, 211);
}

#[test]
fn posts_by_unknown_keys_wait_for_their_passport() {
    let (_dir, node) = start_node();
    let mut c = Client::connect(node.addr);
    let user = stranger();
    let id = unique_id_for("pending", &user);
    let post = sign_with(&article_text(&id, "test.one", "waiting\r\n"), &user);
    let (code, text) = ihave(&mut c, &id, &post);
    assert_eq!(code, 235);
    assert!(
        text.contains("pending") || text.is_empty() || code == 235,
        "{text}"
    );
    assert_eq!(
        c.cmd(&format!("ARTICLE {id}")).0,
        430,
        "pending articles are not served"
    );
    assert_eq!(c.cmd("GROUP test.one").1, "0 1 0 test.one");
    assert_eq!(c.cmd("OVER 1-").0, 423);
    assert_eq!(
        c.cmd(&format!("IHAVE {id}")).0,
        435,
        "but they are not wanted twice"
    );

    issue_passport(&mut c, &user);
    wait_for("the pending post to be released", || {
        let mut c = Client::connect(node.addr);
        c.cmd(&format!("STAT {id}")).0 == 223
    });
    assert_eq!(c.cmd("GROUP test.one").1, "1 1 1 test.one");
    assert_eq!(c.cmd("ARTICLE 1").0, 220);
    let body = c.block();
    assert_eq!(body.last().map(String::as_str), Some("waiting"));

    // New posts by the key are now accepted at once; after a revocation
    // they are refused, and what it posted before stays.
    let fresh = unique_id_for("after-passport", &user);
    assert_eq!(
        ihave(
            &mut c,
            &fresh,
            &sign_with(&article_text(&fresh, "test.one", "x\r\n"), &user)
        )
        .0,
        235
    );
    assert_eq!(c.cmd(&format!("STAT {fresh}")).0, 223);
    let (rid, revoke) = control(
        &author(),
        &format!("revoke {}", hex_key(&user)),
        "test.one",
        "",
    );
    assert_eq!(ihave(&mut c, &rid, &revoke).0, 235);
    // A revocation counts from its Date (state.md §4b): a post dated after
    // it is refused, one dated before it still stands.
    let refused = unique_id_for("after-revoke", &user);
    let later = (chrono::Utc::now() + chrono::Duration::minutes(5)).to_rfc2822();
    let (code, text) = ihave(
        &mut c,
        &refused,
        &sign_with(
            &article_text(&refused, "test.one", "x\r\n").replace(ARTICLE_DATE, &later),
            &user,
        ),
    );
    assert_eq!(code, 437);
    assert!(text.contains("revoked"), "{text}");
    let earlier = unique_id_for("dated-before-revoke", &user);
    let (code, text) = ihave(
        &mut c,
        &earlier,
        &sign_with(&article_text(&earlier, "test.one", "x\r\n"), &user),
    );
    assert_eq!(code, 235, "{text}");
    assert_eq!(c.cmd(&format!("STAT {id}")).0, 223, "older posts stay");
}

#[test]
fn passports_only_from_nodes_trusted_for_them() {
    let (_dir, node) = start_node();
    let mut c = Client::connect(node.addr);
    let user = stranger();
    // A user key cannot issue passports, even to itself.
    let (pid, passport) = control(
        &user,
        &format!("passport {}", hex_key(&user)),
        "test.one",
        "",
    );
    assert_eq!(
        ihave(&mut c, &pid, &passport).0,
        235,
        "kept pending: its signer is unknown"
    );
    let id = unique_id_for("still-pending", &user);
    assert_eq!(
        ihave(
            &mut c,
            &id,
            &sign_with(&article_text(&id, "test.one", "x\r\n"), &user)
        )
        .0,
        235
    );
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(c.cmd(&format!("STAT {id}")).0, 430);
}

#[test]
fn edits_replace_the_original() {
    let (_dir, node) = start_node();
    let mut c = Client::connect(node.addr);
    let old = unique_id("edit-old");
    assert_eq!(
        ihave(
            &mut c,
            &old,
            &article(&old, "test.one", "first version\r\n")
        )
        .0,
        235
    );
    let new = unique_id("edit-new");
    let edit = sign(
        &article_text(&new, "test.one", "second version\r\n")
            .replacen("\r\n\r\n", &format!("\r\nSupersedes: {old}\r\n\r\n"), 1)
            .replace(ARTICLE_DATE, "Sun, 22 Nov 2026 05:00:00 +0000"),
    );
    assert_eq!(ihave(&mut c, &new, &edit).0, 235);
    // The original's id leads to the current version (state.md §3b); the
    // board lists the edit alone.
    wait_until(
        std::time::Duration::from_secs(10),
        "the edit replaces the original",
        || c.cmd(&format!("STAT {old}")) == (223, format!("0 {new}")),
    );
    assert_eq!(c.cmd(&format!("STAT {new}")).0, 223);
    assert_eq!(c.cmd("GROUP test.one").1.split(' ').next(), Some("1"));

    // Someone else's edit is refused and the article stays.
    let other = unique_id_for("edit-other", &stranger());
    let text = article_text(&other, "test.one", "hijack\r\n").replacen(
        "\r\n\r\n",
        &format!("\r\nSupersedes: {new}\r\n\r\n"),
        1,
    );
    issue_passport(&mut c, &stranger());
    assert_eq!(ihave(&mut c, &other, &sign_with(&text, &stranger())).0, 437);
    assert_eq!(c.cmd(&format!("STAT {new}")).0, 223);
}

#[test]
fn boards_are_managed_by_trusted_node_keys() {
    let (_dir, node) = start_node();
    let mut c = Client::connect(node.addr);
    assert_eq!(c.cmd("GROUP chan.new").0, 411);
    let (id, newgroup) = control(
        &author(),
        "newgroup chan.new",
        "chan.new",
        "A new board\r\n",
    );
    assert_eq!(ihave(&mut c, &id, &newgroup).0, 235);
    assert_eq!(c.cmd("GROUP chan.new").0, 211);
    assert_eq!(c.cmd("LIST NEWSGROUPS chan.*").0, 215);
    assert_eq!(c.block(), vec!["chan.new\tA new board"]);
    let (id, hide) = control(&author(), "modgroup chan.new hidden", "chan.new", "");
    assert_eq!(ihave(&mut c, &id, &hide).0, 235);
    assert_eq!(c.cmd("LIST ACTIVE chan.*").0, 215);
    assert!(c.block().is_empty(), "hidden boards are not listed");
    assert_eq!(c.cmd("GROUP chan.new").0, 211, "but can be read");

    let post = unique_id("in-new-board");
    assert_eq!(
        ihave(&mut c, &post, &article(&post, "chan.new", "x\r\n")).0,
        235
    );
    let (id, rmgroup) = control(&author(), "rmgroup chan.new", "chan.new", "");
    assert_eq!(ihave(&mut c, &id, &rmgroup).0, 235);
    assert_eq!(c.cmd("GROUP chan.new").0, 411);

    // A key without board rights cannot create boards.
    issue_passport(&mut c, &stranger());
    let (id, newgroup) = control(&stranger(), "newgroup chan.evil", "chan.evil", "");
    let (code, text) = ihave(&mut c, &id, &newgroup);
    assert_eq!(code, 437);
    assert!(text.contains("node key"), "{text}");
}

#[test]
fn the_operator_removes_locally_and_it_stays_removed() {
    let (dir, node) = start_node();
    let node_key = tidings::keys::read_secret_key(&dir.path().join("node.key")).expect("node key");
    let mut c = Client::connect(node.addr);
    let id = unique_id("unwanted");
    assert_eq!(
        ihave(&mut c, &id, &article(&id, "test.one", "spam\r\n")).0,
        235
    );

    // Offered by transit, a local control message is refused.
    let (cid, remove) = control(&node_key, &format!("local-remove {id}"), "test.one", "");
    assert_eq!(ihave(&mut c, &cid, &remove).0, 437);
    assert_eq!(c.cmd(&format!("STAT {id}")).0, 223);

    // By POST with the node's key, it applies here only.
    let (_, remove) = control(&node_key, &format!("local-remove {id}"), "test.one", "");
    assert_eq!(c.cmd("POST").0, 340);
    c.send_article(&remove);
    let (code, text) = c.status();
    assert_eq!(code, 240, "{text}");
    assert_eq!(c.cmd(&format!("STAT {id}")).0, 430);
    assert_eq!(c.cmd(&format!("IHAVE {id}")).0, 435, "not accepted again");
    assert_eq!(
        c.cmd("GROUP control").1.split(' ').next(),
        Some("0"),
        "local controls are not stored"
    );
}

#[test]
fn unsigned_posts_are_signed_by_the_node() {
    let (dir, node) = start_node();
    let node_key = tidings::keys::read_secret_key(&dir.path().join("node.key")).expect("node key");
    let mut c = Client::connect(node.addr);
    assert_eq!(c.cmd("POST").0, 340);
    c.send_article("From: a@b\r\nNewsgroups: test.one\r\nSubject: plain\r\n\r\nhello\r\n");
    let (code, text) = c.status();
    assert_eq!(code, 240, "{text}");
    let id = text
        .split_whitespace()
        .find(|w| w.starts_with('<'))
        .expect("the 240 names the id it made")
        .to_string();
    assert_eq!(
        signing::message_id_key(id.as_bytes()),
        Some(node_key.verifying_key()),
        "a made id is bound to the node key: {id}"
    );
    assert_eq!(c.cmd(&format!("ARTICLE {id}")).0, 220);
    let served = c.block().join("\r\n") + "\r\n";
    let article = Article::parse(Bytes::from(served)).expect("parses");
    assert_eq!(signing::verify(&article), Ok(node_key.verifying_key()));
    assert_eq!(
        article.header_unfolded("Injection-Info"),
        Some(b"test.node".to_vec())
    );
    assert!(article.header("Injection-Date").is_some());
}

/// A newsreader chooses its own Message-ID: the node keeps it (RFC 5537
/// §3.5) and signs under it, and no other key could claim it first.
#[test]
fn a_posters_own_message_id_is_kept_and_cannot_be_claimed_first() {
    let (dir, node) = start_node();
    let node_key = tidings::keys::read_secret_key(&dir.path().join("node.key")).expect("node key");
    let mut c = Client::connect(node.addr);
    let id = free_id("mine");
    let text = |body: &str| {
        format!(
            "From: Reader <reader@example.org>\r\nNewsgroups: test.one\r\nSubject: my own id\r\nDate: {}\r\nMessage-ID: {id}\r\n\r\n{body}",
            chrono::Utc::now().to_rfc2822()
        )
    };

    // A stranger's key (a user's passport key would do no better) signs an
    // article under the free id and offers it first: refused, for the
    // record only.
    let squat = sign_with(
        &text("squatted\r\n").replacen("\r\n", "\r\nPath: far.example!not-for-mail\r\n", 1),
        &stranger(),
    );
    let (code, reason) = ihave(&mut c, &id, &squat);
    assert_eq!(code, 437, "{reason}");
    assert!(reason.contains("names no key"), "{reason}");

    assert_eq!(c.cmd("POST").0, 340);
    c.send_article(&text("my post\r\n"));
    let (code, reply) = c.status();
    assert_eq!(code, 240, "{reply}");
    assert_eq!(
        c.cmd(&format!("STAT {id}")).1.split(' ').nth(1),
        Some(id.as_str())
    );
    assert_eq!(c.cmd(&format!("ARTICLE {id}")).0, 220);
    let served = c.block().join("\r\n") + "\r\n";
    let article = Article::parse(Bytes::from(served)).expect("parses");
    assert_eq!(article.message_id(), Some(id.clone().into_bytes()));
    assert_eq!(signing::verify(&article), Ok(node_key.verifying_key()));
    assert!(String::from_utf8_lossy(&article.body()).contains("my post"));

    // An id naming another key is not the node's to sign.
    let foreign = String::from_utf8(signing::new_message_id(
        &stranger().verifying_key(),
        "x",
        "h",
    ))
    .unwrap();
    assert_eq!(c.cmd("POST").0, 340);
    c.send_article(&text("x\r\n").replace(&id, &foreign));
    let (code, reason) = c.status();
    assert_eq!(code, 441);
    assert!(reason.contains("names another key"), "{reason}");
}

#[test]
fn moving_a_thread_refiles_it() {
    let (_dir, node) = start_node();
    let mut c = Client::connect(node.addr);
    let id = unique_id("op");
    assert_eq!(
        ihave(&mut c, &id, &article(&id, "test.one", "opening post\r\n")).0,
        235
    );
    let (mid, mv) = control(&author(), &format!("move {id} test.two"), "test.one", "");
    assert_eq!(ihave(&mut c, &mid, &mv).0, 235);
    // Settled once the move is committed (settle.rs).
    wait_until(Duration::from_secs(10), "the move", || {
        c.cmd("GROUP test.two").1 == "1 1 1 test.two"
    });
    assert_eq!(c.cmd("GROUP test.one").1, "0 2 1 test.one");
    assert_eq!(c.cmd("GROUP test.two").1, "1 1 1 test.two");
    assert_eq!(c.cmd("OVER 1").0, 224);
    assert!(c.block()[0].contains(&id));
    assert_eq!(c.cmd(&format!("STAT {id}")), (223, format!("0 {id}")));
}

#[test]
fn an_article_and_its_cancel_in_one_pipeline_keep_counts_right() {
    let (_dir, node) = start_node();
    let mut c = Client::connect(node.addr);
    let first = unique_id("first");
    let second = unique_id("second");
    let (cid, cancel) = control(&author(), &format!("cancel {first}"), "test.one", "");
    c.stream_accepted([
        (first.clone(), article(&first, "test.one", "a\r\n")),
        (second.clone(), article(&second, "test.one", "b\r\n")),
        (cid, cancel),
    ]);
    assert_eq!(c.cmd("GROUP test.one").1, "1 2 2 test.one");
    assert_eq!(c.cmd("LISTGROUP").0, 211);
    assert_eq!(c.block(), vec!["2"]);
}

#[test]
fn a_rotated_node_key_keeps_the_old_keys_rights() {
    let (_dir, node) = start_node();
    let mut c = Client::connect(node.addr);
    let new_key = SigningKey::from_bytes(&[77; 32]);
    let (id, rotate) = control(
        &author(),
        &format!("rotate {}", hex_key(&new_key)),
        "test.one",
        "",
    );
    assert_eq!(ihave(&mut c, &id, &rotate).0, 235);
    // Posts by the new key are taken at once, and it may issue passports.
    let post = unique_id_for("rotated", &new_key);
    assert_eq!(
        ihave(
            &mut c,
            &post,
            &sign_with(&article_text(&post, "test.one", "x\r\n"), &new_key)
        )
        .0,
        235
    );
    assert_eq!(c.cmd(&format!("STAT {post}")).0, 223);
    let user = stranger();
    let (id, passport) = control(
        &new_key,
        &format!("passport {}", hex_key(&user)),
        "test.one",
        "",
    );
    assert_eq!(ihave(&mut c, &id, &passport).0, 235);
    let by_user = unique_id_for("user", &user);
    assert_eq!(
        ihave(
            &mut c,
            &by_user,
            &sign_with(&article_text(&by_user, "test.one", "y\r\n"), &user)
        )
        .0,
        235
    );
    assert_eq!(c.cmd(&format!("STAT {by_user}")).0, 223);
    // A user key cannot rotate itself into a node key.
    let (id, rotate) = control(
        &user,
        &format!("rotate {}", hex_key(&SigningKey::from_bytes(&[78; 32]))),
        "test.one",
        "",
    );
    assert_eq!(ihave(&mut c, &id, &rotate).0, 437);
}

#[test]
fn premoderated_boards_hold_posts_until_the_operator_approves() {
    let dir = temp_dir();
    let mut cfg = config(dir.path());
    cfg.node.premoderate = Some("test.two".into());
    let node = TestNode::start(cfg);
    let node_key = tidings::keys::read_secret_key(&dir.path().join("node.key")).expect("node key");
    let mut c = Client::connect(node.addr);
    let post = |c: &mut Client, subject: &str| -> String {
        assert_eq!(c.cmd("POST").0, 340);
        c.send_article(&format!(
            "From: a@b\r\nNewsgroups: test.two\r\nSubject: {subject}\r\n\r\nx\r\n"
        ));
        let (code, text) = c.status();
        assert_eq!(code, 240, "{text}");
        assert!(text.contains("held for moderation"), "{text}");
        text.split_whitespace()
            .find(|w| w.starts_with('<'))
            .expect("id")
            .trim_end_matches(',')
            .to_string()
    };
    let good = post(&mut c, "good");
    let bad = post(&mut c, "bad");
    assert_eq!(
        c.cmd("GROUP test.two").1,
        "0 1 0 test.two",
        "held posts are not shown"
    );
    assert_eq!(c.cmd(&format!("STAT {good}")).0, 430);

    let operator = |c: &mut Client, command: &str| {
        let (_, text) = control(&node_key, command, "test.two", "");
        assert_eq!(c.cmd("POST").0, 340);
        c.send_article(&text);
        assert_eq!(c.status().0, 240);
    };
    operator(&mut c, &format!("local-approve {good}"));
    operator(&mut c, &format!("local-remove {bad}"));
    assert_eq!(c.cmd("GROUP test.two").1, "1 1 1 test.two");
    assert_eq!(c.cmd(&format!("STAT {good}")).0, 223);
    assert_eq!(c.cmd(&format!("STAT {bad}")).0, 430);
    assert_eq!(
        c.cmd(&format!("IHAVE {bad}")).0,
        435,
        "a rejected post is not taken again"
    );
    // Other boards are not premoderated.
    assert_eq!(c.cmd("POST").0, 340);
    c.send_article("From: a@b\r\nNewsgroups: test.one\r\nSubject: free\r\n\r\nx\r\n");
    let (code, text) = c.status();
    assert_eq!(code, 240);
    assert!(!text.contains("held"), "{text}");
}

//! IHAVE and streaming (CHECK/TAKETHIS) against a real node on loopback.

mod common;

use common::*;

#[test]
fn ihave_new_then_duplicate() {
    let (_dir, node) = start_node();
    let mut c = Client::connect(node.addr);
    let id = unique_id("ihave");
    assert_eq!(c.cmd(&format!("IHAVE {id}")).0, 335);
    c.send_article(&article(&id, "test.one", "hello\r\n"));
    assert_eq!(c.status().0, 235);
    let (code, text) = c.cmd(&format!("IHAVE {id}"));
    assert_eq!(code, 435, "{text}");

    // The stored article carries our Path identity first.
    let (code, _) = c.cmd(&format!("HEAD {id}"));
    assert_eq!(code, 221);
    let head = c.block();
    assert!(
        head.iter()
            .any(|l| l == "Path: test.node!elsewhere!not-for-mail"),
        "{head:?}"
    );
}

#[test]
fn ihave_rejections_have_reasons_and_are_remembered() {
    let (_dir, node) = start_node();
    let mut c = Client::connect(node.addr);
    let id = unique_id("bad");
    assert_eq!(c.cmd(&format!("IHAVE {id}")).0, 335);
    c.send_article(&sign(
        &article_text(&id, "test.one", "x\r\n").replace("Subject: ", "X-Subject: "),
    ));
    let (code, text) = c.status();
    assert_eq!(code, 437);
    assert!(text.contains("Subject"), "{text}");
    // Remembered: offered again, it is not wanted.
    assert_eq!(c.cmd(&format!("IHAVE {id}")).0, 435);

    // A body whose Message-ID differs from the offer is refused but does
    // not poison the offered ID.
    let offered = unique_id("offered");
    let other = unique_id("other");
    assert_eq!(c.cmd(&format!("IHAVE {offered}")).0, 335);
    c.send_article(&article(&other, "test.one", "x\r\n"));
    assert_eq!(c.status().0, 437);
    assert_eq!(c.cmd(&format!("IHAVE {offered}")).0, 335);
    c.send_article(&article(&offered, "test.one", "x\r\n"));
    assert_eq!(c.status().0, 235);

    // A group we do not carry is not stored.
    let foreign = unique_id("foreign");
    assert_eq!(c.cmd(&format!("IHAVE {foreign}")).0, 335);
    c.send_article(&article(&foreign, "alt.elsewhere", "x\r\n"));
    assert_eq!(c.status().0, 437);
    assert_eq!(c.cmd(&format!("STAT {foreign}")).0, 430);
}

#[test]
fn pipelined_streaming_of_1000_articles() {
    let (_dir, node) = start_node();
    let mut c = Client::connect(node.addr);
    assert_eq!(c.cmd("MODE STREAM").0, 203);
    let ids: Vec<String> = (0..1000).map(|_| unique_id("stream")).collect();

    let mut wire = String::new();
    for id in &ids {
        wire.push_str(&format!("CHECK {id}\r\n"));
    }
    c.send(wire.as_bytes());
    for id in &ids {
        let (code, text) = c.status();
        assert_eq!((code, text.as_str()), (238, id.as_str()));
    }

    let started = std::time::Instant::now();
    let writer_ids = ids.clone();
    let mut writer = c.writer_clone();
    let sender = std::thread::spawn(move || {
        let mut wire = Vec::new();
        for id in &writer_ids {
            wire.extend_from_slice(format!("TAKETHIS {id}\r\n").as_bytes());
            wire.extend_from_slice(article(id, "test.one", &"body line\r\n".repeat(20)).as_bytes());
            wire.extend_from_slice(b".\r\n");
        }
        std::io::Write::write_all(&mut writer, &wire).expect("write");
    });
    for id in &ids {
        let (code, text) = c.status();
        assert_eq!(code, 239, "{text}");
        assert!(text.starts_with(id.as_str()), "{text} for {id}");
    }
    let elapsed = started.elapsed();
    sender.join().expect("sender");
    // Group commit: the 1000 articles shared far fewer than 1000 fsyncs.
    let syncs = node
        .commits
        .synced_writes
        .load(std::sync::atomic::Ordering::Relaxed);
    let stored = node
        .commits
        .articles
        .load(std::sync::atomic::Ordering::Relaxed);
    assert_eq!(stored, 1000);
    assert!(syncs < 500, "{syncs} synced writes for 1000 articles");
    eprintln!("1000 articles made durable with {syncs} synced writes");
    eprintln!(
        "streamed 1000 articles on one connection in {:.1} ms ({:.0} articles/s)",
        elapsed.as_secs_f64() * 1000.0,
        1000.0 / elapsed.as_secs_f64()
    );

    let mut wire = String::new();
    for id in &ids {
        wire.push_str(&format!("CHECK {id}\r\n"));
    }
    c.send(wire.as_bytes());
    for id in &ids {
        let (code, text) = c.status();
        assert_eq!((code, text.split(' ').next()), (438, Some(id.as_str())));
    }
    let (code, text) = c.cmd("GROUP test.one");
    assert_eq!(code, 211);
    assert_eq!(text, "1000 1 1000 test.one");
}

#[test]
fn takethis_rejects_bad_and_duplicate_articles_in_order() {
    let (_dir, node) = start_node();
    let mut c = Client::connect(node.addr);
    let good = unique_id("good");
    let bad = unique_id("bad");
    let mut wire = String::new();
    for (id, text) in [
        (&good, article(&good, "test.one", "x\r\n")),
        (
            &bad,
            sign(&article_text(&bad, "test.one", "x\r\n").replace("Newsgroups: test.one\r\n", "")),
        ),
        (&good, article(&good, "test.one", "x\r\n")),
    ] {
        wire.push_str(&format!("TAKETHIS {id}\r\n{text}.\r\n"));
    }
    wire.push_str("TAKETHIS not-an-id\r\nSubject: x\r\n\r\n.\r\nDATE\r\n");
    c.send(wire.as_bytes());
    assert_eq!(c.status().0, 239);
    let (code, text) = c.status();
    assert_eq!(code, 439);
    assert!(text.contains("Newsgroups"), "{text}");
    assert_eq!(c.status().0, 439);
    assert_eq!(c.status().0, 501);
    assert_eq!(c.status().0, 111, "still in sync after the bad TAKETHIS");
}

#[test]
fn check_of_an_id_in_flight_elsewhere_is_deferred() {
    let (_dir, node) = start_node();
    let mut first = Client::connect(node.addr);
    let mut second = Client::connect(node.addr);
    let id = unique_id("race");
    assert_eq!(first.cmd(&format!("CHECK {id}")).0, 238);
    assert_eq!(second.cmd(&format!("CHECK {id}")).0, 431);
    assert_eq!(second.cmd(&format!("IHAVE {id}")).0, 436);
    first.send(
        format!(
            "TAKETHIS {id}\r\n{}.\r\n",
            article(&id, "test.one", "x\r\n")
        )
        .as_bytes(),
    );
    assert_eq!(first.status().0, 239);
    assert_eq!(second.cmd(&format!("CHECK {id}")).0, 438);
}

#[test]
fn a_peer_that_checks_and_never_sends_holds_ids_only_until_the_claims_lapse() {
    let dir = temp_dir();
    let mut cfg = config(dir.path());
    cfg.limits.max_claims = 1000;
    cfg.limits.claim_expiry_secs = 1;
    let node = TestNode::start(cfg);
    let mut hoarder = Client::connect(node.addr);
    let ids: Vec<String> = (0..1500).map(|i| unique_id(&format!("hoard{i}"))).collect();
    let mut wire = String::new();
    for id in &ids {
        wire.push_str(&format!("CHECK {id}\r\n"));
    }
    hoarder.send(wire.as_bytes());
    let replies: Vec<u16> = ids.iter().map(|_| hoarder.status().0).collect();
    assert!(replies[..1000].iter().all(|&c| c == 238), "up to the limit");
    assert!(
        replies[1000..].iter().all(|&c| c == 431),
        "past max_claims the hoarder is told to wait"
    );

    // Another peer is kept off a hoarded id only until the claim lapses,
    // and gets the ids the hoarder could not claim at once.
    let mut other = Client::connect(node.addr);
    assert_eq!(other.cmd(&format!("CHECK {}", ids[1200])).0, 238);
    assert_eq!(other.cmd(&format!("CHECK {}", ids[0])).0, 431);
    wait_until(TIMEOUT, "the hoarder's claim to lapse", || {
        other.cmd(&format!("CHECK {}", ids[0])).0 == 238
    });
    let takethis = format!(
        "TAKETHIS {id}\r\n{}.\r\n",
        article(&ids[0], "test.one", "x\r\n"),
        id = ids[0]
    );
    other.send(takethis.as_bytes());
    assert_eq!(other.status().0, 239);
    // The hoarder's late TAKETHIS is a duplicate, not a second copy.
    hoarder.send(takethis.as_bytes());
    assert_eq!(hoarder.status().0, 439);
    assert_eq!(other.count("test.one"), 1);
}

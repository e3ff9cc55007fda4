//! Hostile and broken input: every case gets its code, the connection stays
//! in sync where the protocol allows, and another connection is served
//! throughout.

mod common;

use common::*;

/// A connection opened before the abuse, checked after it.
fn bystander_still_served(bystander: &mut Client) {
    let (code, text) = bystander.cmd("DATE");
    assert_eq!(code, 111, "{text}");
    assert_eq!(text.len(), 14);
}

#[test]
fn overlong_command_line_gets_501_and_sync_is_kept() {
    let (_dir, node) = start_node();
    let mut bystander = Client::connect(node.addr);
    let mut c = Client::connect(node.addr);
    let (code, text) = c.cmd(&format!("GROUP {}", "x".repeat(600)));
    assert_eq!(code, 501);
    assert!(text.contains("512"), "{text}");
    assert_eq!(c.cmd("DATE").0, 111);
    bystander_still_served(&mut bystander);
}

#[test]
fn ten_megabytes_without_newline() {
    let (_dir, node) = start_node();
    let mut bystander = Client::connect(node.addr);
    let mut c = Client::connect(node.addr);
    let blob = vec![b'a'; 10 * 1024 * 1024];
    let mut writer = c.writer_clone();
    let sender = std::thread::spawn(move || {
        std::io::Write::write_all(&mut writer, &blob).expect("the server keeps reading");
        std::io::Write::write_all(&mut writer, b"\r\nDATE\r\n").expect("write");
    });
    // While the flood is going on, others are served.
    bystander_still_served(&mut bystander);
    sender.join().expect("sender");
    assert_eq!(c.status().0, 501);
    assert_eq!(c.status().0, 111);
    bystander_still_served(&mut bystander);
}

#[test]
fn nul_bytes_in_commands() {
    let (_dir, node) = start_node();
    let mut c = Client::connect(node.addr);
    c.send(b"\x00\x00\x00\r\n");
    assert_eq!(c.status().0, 500);
    c.send(b"GROUP te\x00st.one\r\n");
    assert_eq!(c.status().0, 501);
    assert_eq!(c.cmd("DATE").0, 111);
}

#[test]
fn nul_byte_in_an_article() {
    let (_dir, node) = start_node();
    let mut c = Client::connect(node.addr);
    let id = unique_id("nul");
    assert_eq!(c.cmd(&format!("IHAVE {id}")).0, 335);
    c.send_article(&article_text(&id, "test.one", "a\x00b\r\n"));
    let (code, text) = c.status();
    assert_eq!(code, 437);
    assert!(text.contains("NUL"), "{text}");
}

#[test]
fn header_without_colon() {
    let (_dir, node) = start_node();
    let mut c = Client::connect(node.addr);
    assert_eq!(c.cmd("POST").0, 340);
    c.send_article(
        "From: a@b\r\nNewsgroups: test.one\r\nSubject: s\r\nThis line has no colon\r\n\r\nbody\r\n",
    );
    let (code, text) = c.status();
    assert_eq!(code, 441);
    assert!(text.contains("line 4"), "{text}");
    let id = unique_id("nocolon");
    assert_eq!(c.cmd(&format!("IHAVE {id}")).0, 335);
    c.send_article(&article_text(&id, "test.one", "x\r\n").replace("Subject: ", "Subject ; "));
    assert_eq!(c.status().0, 437);
}

#[test]
fn article_without_message_id() {
    let (_dir, node) = start_node();
    let mut c = Client::connect(node.addr);
    let id = unique_id("noid");
    assert_eq!(c.cmd(&format!("IHAVE {id}")).0, 335);
    c.send_article(
        &article(&id, "test.one", "x\r\n").replace(&format!("Message-ID: {id}\r\n"), ""),
    );
    let (code, text) = c.status();
    assert_eq!(code, 437);
    assert!(text.contains("Message-ID"), "{text}");
    c.send(format!("TAKETHIS {id}\r\n").as_bytes());
    c.send_article(
        &article(&id, "test.one", "x\r\n").replace(&format!("Message-ID: {id}\r\n"), ""),
    );
    assert_eq!(c.status().0, 439);
}

#[test]
fn oversized_article_is_refused_and_sync_kept() {
    let (_dir, node) = start_node();
    let mut c = Client::connect(node.addr);
    let big = "0123456789abcdef\r\n".repeat(10_000);
    assert_eq!(c.cmd("POST").0, 340);
    c.send_article(&format!(
        "From: a@b\r\nNewsgroups: test.one\r\nSubject: big\r\n\r\n{big}"
    ));
    let (code, text) = c.status();
    assert_eq!(code, 441);
    assert!(text.contains("limit"), "{text}");
    let id = unique_id("big");
    c.send(format!("TAKETHIS {id}\r\n").as_bytes());
    c.send_article(&article(&id, "test.one", &big));
    assert_eq!(c.status().0, 439);
    assert_eq!(c.cmd("DATE").0, 111);
}

#[test]
fn unterminated_article_then_disconnect_stores_nothing() {
    let (_dir, node) = start_node();
    let mut bystander = Client::connect(node.addr);
    let id = unique_id("cut");
    {
        let mut c = Client::connect(node.addr);
        assert_eq!(c.cmd(&format!("IHAVE {id}")).0, 335);
        c.send(article(&id, "test.one", "half a body\r\n").as_bytes());
        // Dropped here without the terminating dot.
    }
    bystander_still_served(&mut bystander);
    // Nothing half-received was stored or remembered: the ID is still wanted
    // once the server has seen the connection go (until then its claim
    // stands and IHAVE is answered 436, try later).
    let mut c = Client::connect(node.addr);
    assert_eq!(c.cmd(&format!("STAT {id}")).0, 430);
    wait_until(
        std::time::Duration::from_secs(10),
        "the cut connection's claim to lapse",
        || match c.cmd(&format!("IHAVE {id}")).0 {
            335 => true,
            436 => false,
            other => panic!("IHAVE answered {other}"),
        },
    );
    c.send_article(&article(&id, "test.one", "whole body\r\n"));
    assert_eq!(c.status().0, 235);
}

#[test]
fn unknown_commands_and_bad_arguments() {
    let (_dir, node) = start_node();
    let mut c = Client::connect(node.addr);
    let (code, text) = c.cmd("FROBNICATE now");
    assert_eq!(code, 500);
    assert!(text.contains("HELP"), "{text}");
    let (code, text) = c.cmd("ARTICLE twelve");
    assert_eq!(code, 501);
    assert!(text.contains("syntax"), "{text}");
    assert_eq!(c.cmd("QUIT").0, 205);
    assert!(c.closed());
}

#[test]
fn connection_limit_answers_400() {
    let dir = temp_dir();
    let mut cfg = config(dir.path());
    cfg.limits.max_connections = 1;
    let node = TestNode::start(cfg);
    let _first = Client::connect(node.addr);
    let line = greeting(node.addr);
    assert!(line.starts_with("400 "), "{line}");
}

/// The first line a new connection to `addr` gets.
fn greeting(addr: std::net::SocketAddr) -> String {
    let stream = std::net::TcpStream::connect(addr).expect("connect");
    stream.set_read_timeout(Some(TIMEOUT)).expect("timeout");
    let mut line = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(stream), &mut line).expect("read");
    line
}

#[test]
fn one_address_cannot_take_every_connection_slot() {
    let dir = temp_dir();
    let mut cfg = config(dir.path());
    cfg.limits.max_connections_per_host = 2;
    let node = TestNode::start(cfg);
    let first = Client::connect(node.addr);
    let mut second = Client::connect(node.addr);
    let third = greeting(node.addr);
    assert!(
        third.starts_with("400 ") && third.contains("your address"),
        "{third}"
    );
    // A slot comes back when its connection ends.
    assert_eq!(second.cmd("QUIT").0, 205);
    assert!(second.closed());
    wait_until(TIMEOUT, "a slot to come back", || {
        greeting(node.addr).starts_with("200 ")
    });
    drop(first);
}

#[test]
fn a_dot_with_a_bare_lf_inside_an_article_smuggles_nothing() {
    let (_dir, node) = start_node();
    let mut c = Client::connect(node.addr);
    let id = unique_id("smuggle");
    // What a hostile sender puts in a body: ".\n" and then commands, as if
    // the article had ended there. Only ".\r\n" ends it.
    let text = article(&id, "test.one", "before\r\n").replace(
        "before\r\n",
        "before\r\n.\nDATE\r\n.\nGROUP test.one\r\nafter\r\n",
    );
    let second = unique_id("smuggle-ihave");
    // An unstuffed "." line with a bare LF is an empty line (nntp.md §2),
    // so the article is signed with empty lines where the wire has ".\n".
    let offered = sign(&article_text(
        &second,
        "test.one",
        "before\r\n\r\nHELP\r\n\r\n",
    ))
    .replace("before\r\n\r\nHELP\r\n\r\n", "before\r\n.\nHELP\r\n.\n");
    let mut wire = format!("TAKETHIS {id}\r\n{text}.\r\nDATE\r\n").into_bytes();
    wire.extend_from_slice(format!("IHAVE {second}\r\n").as_bytes());
    // IHAVE's article is sent only after its 335, below.
    let mut rest = format!("{offered}.\r\n").into_bytes();
    rest.extend_from_slice(
        b"POST\r\nFrom: a@b\r\nNewsgroups: test.one\r\nSubject: s\r\n\r\nx\r\n.\nDATE\r\n.\r\nQUIT\r\n",
    );
    // One byte per write: no split may change what is a command.
    let mut writer = c.writer_clone();
    let mut send = |bytes: &[u8]| {
        for byte in bytes {
            std::io::Write::write_all(&mut writer, std::slice::from_ref(byte)).expect("write");
        }
    };
    send(&wire);
    let mut replies: Vec<u16> = (0..3).map(|_| c.status().0).collect();
    assert_eq!(replies[2], 335, "IHAVE: {replies:?}");
    send(&rest);
    replies.extend((0..4).map(|_| c.status().0));
    assert!(matches!(replies[0], 239 | 439), "{replies:?}");
    assert_eq!(
        &replies[1..],
        &[111, 335, 235, 340, 240, 205],
        "DATE, IHAVE and its article, POST and its article, QUIT, each answered once: {replies:?}"
    );
    // The smuggled lines are body text, stored as sent.
    let mut reader = Client::connect(node.addr);
    assert_eq!(reader.cmd(&format!("BODY {second}")).0, 222);
    assert_eq!(reader.block(), vec!["before", "", "HELP", ""]);
    assert!(c.closed());
}

//! Posting and reading back, and article numbers across a restart.

mod common;

use common::*;

fn post(c: &mut Client, group: &str, subject: &str, body: &str) -> String {
    assert_eq!(c.cmd("POST").0, 340);
    c.send_article(&format!("From: Poster <poster@tests.invalid>\r\nNewsgroups: {group}\r\nSubject: {subject}\r\n\r\n{body}"));
    let (code, text) = c.status();
    assert_eq!(code, 240, "{text}");
    let id = text
        .split_whitespace()
        .find(|w| w.starts_with('<'))
        .expect("240 names the Message-ID");
    id.to_string()
}

#[test]
fn post_then_read_every_way() {
    let (_dir, node) = start_node();
    let mut c = Client::connect(node.addr);
    let body = "first line\r\n.starts with a dot\r\n..two dots\r\n";
    let id = post(&mut c, "test.one", "Hello readers", body);
    assert!(id.ends_with("@test.node>"), "{id}");

    assert_eq!(c.cmd("GROUP test.one"), (211, "1 1 1 test.one".into()));
    let (code, text) = c.cmd("ARTICLE 1");
    assert_eq!((code, text), (220, format!("1 {id}")));
    let lines = c.block();
    let blank = lines.iter().position(String::is_empty).expect("blank line");
    assert_eq!(
        lines[blank + 1..].join("\r\n") + "\r\n",
        body,
        "body survives dot-stuffing both ways"
    );
    let head = &lines[..blank];
    for expected in [
        "Path: test.node!.POSTED!not-for-mail",
        "Subject: Hello readers",
        &format!("Message-ID: {id}"),
    ] {
        assert!(head.iter().any(|l| l == expected), "{expected} in {head:?}");
    }
    assert!(head.iter().any(|l| l.starts_with("Date: ")));
    assert!(head.iter().any(|l| l.starts_with("Injection-Date: ")));

    assert_eq!(c.cmd(&format!("HEAD {id}")).0, 221);
    assert_eq!(c.block(), head.to_vec());
    assert_eq!(c.cmd("BODY 1").0, 222);
    assert_eq!(c.block().len(), 3);
    assert_eq!(c.cmd(&format!("STAT {id}")), (223, format!("0 {id}")));

    assert_eq!(c.cmd("OVER 1-").0, 224);
    let over = c.block();
    assert_eq!(over.len(), 1);
    let fields: Vec<&str> = over[0].split('\t').collect();
    assert_eq!(fields[0], "1");
    assert_eq!(fields[1], "Hello readers");
    assert_eq!(fields[4], id);
    assert_eq!(fields[7], "3", ":lines");
    assert_eq!(c.cmd(&format!("OVER {id}")).0, 224);
    assert!(c.block()[0].starts_with("0\tHello readers"));

    assert_eq!(c.cmd("HDR Subject 1-").0, 225);
    assert_eq!(c.block(), vec!["1 Hello readers".to_string()]);
    assert_eq!(c.cmd("HDR Injection-Date 1").0, 225);
    assert!(c.block()[0].len() > 10);

    assert_eq!(c.cmd("NEWNEWS test.* 20000101 000000 GMT").0, 230);
    assert_eq!(c.block(), vec![id.clone()]);
    assert_eq!(c.cmd("NEWNEWS test.two 20000101 000000 GMT").0, 230);
    assert!(c.block().is_empty());
    assert_eq!(c.cmd("NEWNEWS * 20991231 000000 GMT").0, 230);
    assert!(c.block().is_empty());
}

#[test]
fn navigation_and_errors() {
    let (_dir, node) = start_node();
    let mut c = Client::connect(node.addr);
    assert_eq!(c.cmd("ARTICLE 1").0, 412);
    assert_eq!(c.cmd("NEXT").0, 412);
    assert_eq!(c.cmd("OVER 1").0, 412);
    assert_eq!(c.cmd("GROUP nowhere").0, 411);
    assert_eq!(c.cmd("GROUP test.two"), (211, "0 1 0 test.two".into()));
    assert_eq!(c.cmd("ARTICLE").0, 420);
    assert_eq!(c.cmd("ARTICLE <missing@x>").0, 430);

    let ids: Vec<String> = (0..3)
        .map(|i| post(&mut c, "test.one,test.two", &format!("n{i}"), "x\r\n"))
        .collect();
    assert_eq!(c.cmd("GROUP test.two"), (211, "3 1 3 test.two".into()));
    assert_eq!(c.cmd("LAST").0, 422);
    assert_eq!(c.cmd("NEXT"), (223, format!("2 {}", ids[1])));
    assert_eq!(c.cmd("NEXT"), (223, format!("3 {}", ids[2])));
    assert_eq!(c.cmd("NEXT").0, 421);
    assert_eq!(c.cmd("LAST"), (223, format!("2 {}", ids[1])));
    assert_eq!(c.cmd("STAT"), (223, format!("2 {}", ids[1])));
    assert_eq!(c.cmd("STAT 9").0, 423);
    assert_eq!(c.cmd("OVER 7-9").0, 423);

    assert_eq!(c.cmd("LISTGROUP test.one 2-").0, 211);
    assert_eq!(c.block(), vec!["2", "3"]);
    assert_eq!(c.cmd("LIST ACTIVE test.*").0, 215);
    assert_eq!(c.block(), vec!["test.one 3 1 y", "test.two 3 1 y"]);
    assert_eq!(c.cmd("LIST NEWSGROUPS test.*").0, 215);
    assert_eq!(c.block(), vec!["test.one\tfirst", "test.two\tsecond"]);
    assert_eq!(c.cmd("NEWGROUPS 20000101 000000 GMT").0, 231);
    let created: Vec<String> = c
        .block()
        .iter()
        .map(|l| l.split(' ').next().unwrap_or_default().to_string())
        .collect();
    assert_eq!(created, vec!["control", "test.one", "test.two"]);

    // POST to a group not carried here is refused with its name.
    assert_eq!(c.cmd("POST").0, 340);
    c.send_article("From: a@b\r\nNewsgroups: test.one,not.here\r\nSubject: s\r\n\r\nx\r\n");
    let (code, text) = c.status();
    assert_eq!(code, 441);
    assert!(text.contains("not.here"), "{text}");
}

#[test]
fn numbers_survive_a_restart() {
    let dir = temp_dir();
    let node = TestNode::start(config(dir.path()));
    let mut c = Client::connect(node.addr);
    let first = post(&mut c, "test.one", "before", "x\r\n");
    let second = post(&mut c, "test.one", "before", "y\r\n");
    drop(c);
    node.stop();

    let node = TestNode::start(config(dir.path()));
    let mut c = Client::connect(node.addr);
    assert_eq!(c.cmd("GROUP test.one"), (211, "2 1 2 test.one".into()));
    assert_eq!(c.cmd("STAT 1"), (223, format!("1 {first}")));
    assert_eq!(c.cmd("STAT 2"), (223, format!("2 {second}")));
    let third = post(&mut c, "test.one", "after", "z\r\n");
    assert_eq!(c.cmd("STAT 3"), (223, format!("3 {third}")));
    assert_eq!(
        c.cmd(&format!("IHAVE {first}")).0,
        435,
        "history survives too"
    );
}

#[test]
fn capabilities_and_help() {
    let (_dir, node) = start_node();
    let mut c = Client::connect(node.addr);
    assert_eq!(c.cmd("CAPABILITIES").0, 101);
    let caps = c.block();
    assert_eq!(caps[0], "VERSION 2");
    for cap in ["READER", "POST", "IHAVE", "STREAMING", "NEWNEWS", "HDR"] {
        assert!(caps.iter().any(|l| l == cap), "{cap} in {caps:?}");
    }
    assert!(caps.iter().any(|l| l.starts_with("LIST ACTIVE")));
    assert!(caps.iter().any(|l| l.starts_with("OVER")));
    assert_eq!(c.cmd("HELP").0, 100);
    let help = c.block();
    for command in tidings::proto::command::COMMANDS {
        assert!(
            help.iter().any(|l| l.contains(command.syntax)),
            "{} in HELP",
            command.name
        );
    }
    assert_eq!(c.cmd("MODE READER").0, 200);
}

#[test]
fn long_ranges_are_answered_page_by_page_in_full() {
    let (_dir, node) = start_node();
    let mut c = Client::connect(node.addr);
    let total = 2500;
    c.stream_accepted((0..total).map(|i| {
        let id = unique_id(&format!("page{i}"));
        let text = article(&id, "test.one", "x\r\n");
        (id, text)
    }));
    assert_eq!(
        c.cmd("GROUP test.one").1,
        format!("{total} 1 {total} test.one")
    );
    assert_eq!(c.cmd("OVER 1-").0, 224);
    let over = c.block();
    assert_eq!(over.len(), total);
    assert!(over
        .iter()
        .enumerate()
        .all(|(i, l)| l.starts_with(&format!("{}\t", i + 1))));
    assert_eq!(c.cmd("LISTGROUP test.one 999-2001").0, 211);
    let numbers: Vec<u64> = c
        .block()
        .iter()
        .map(|n| n.parse().expect("number"))
        .collect();
    assert_eq!(numbers, (999..=2001).collect::<Vec<u64>>());
    assert_eq!(c.cmd("HDR Subject 1000-").0, 225);
    assert_eq!(c.block().len(), total - 999);
    assert_eq!(c.cmd("OVER 5000-6000").0, 423);
    assert_eq!(c.cmd("NEWNEWS test.* 20000101 000000 GMT").0, 230);
    let ids = c.block();
    assert_eq!(ids.len(), total);
    assert_eq!(
        ids.iter().collect::<std::collections::HashSet<_>>().len(),
        total,
        "no id twice across pages"
    );
    assert_eq!(c.cmd("NEWNEWS other.* 20000101 000000 GMT").0, 230);
    assert!(c.block().is_empty());
    assert_eq!(c.cmd("DATE").0, 111, "still in sync");
}

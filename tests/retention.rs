//! Retention (README "Retention"): on a moved clock, a board kept one day
//! loses its old articles on every node that keeps it one day, and catch-up
//! with a node that keeps the board forever does not bring them back.

mod common;

use std::time::Duration;

use common::*;
use tidings::clock::Clock;
use tidings::config::RetentionRule;

fn expire(admin: std::net::SocketAddr) -> u64 {
    let head = "POST /expire HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n";
    let (status, _, body) = http_exchange(admin, head, b"");
    assert_eq!(status, 200);
    let v: serde_json::Value = serde_json::from_slice(&body).expect("JSON");
    v["expired"].as_u64().expect("a count")
}

/// Runs one catch-up of the node at `addr` with `peer` (XSYNC) to its end.
fn catch_up(addr: std::net::SocketAddr, peer: &str) {
    let mut c = Client::connect(addr);
    assert_eq!(c.cmd(&format!("XSYNC {peer}")).0, 292);
    let lines = c.block();
    assert!(
        lines.last().is_some_and(|l| l.starts_with("done ")),
        "{lines:?}"
    );
}

#[test]
fn expired_articles_stay_gone_even_next_to_a_node_that_keeps_them() {
    // A and C keep test.one a day; B, between them, forever.
    let mut net = Net::new(&["a.ret", "b.ret", "c.ret"], &[(0, 1), (1, 2)]);
    let clock = Clock::manual_from_now();
    let nodes: Vec<TestNode> = (0..3)
        .map(|i| {
            let mut config = net.config(i);
            for j in 0..3 {
                net.trust(&mut config, j);
            }
            if i != 1 {
                config.retention = vec![RetentionRule {
                    boards: "test.one".into(),
                    days: 1,
                    expires_min_days: 1,
                }];
            }
            net.start(i, config, clock.clone())
        })
        .collect();
    let limit = Duration::from_secs(30);
    let mut readers: Vec<Client> = nodes.iter().map(|n| Client::connect(n.addr)).collect();
    let old = readers[0].post("test.one", "soon old", "x\r\n");
    let kept = readers[0].post("test.two", "no retention there", "x\r\n");
    for r in readers.iter_mut() {
        wait_until(limit, "the posts everywhere", || {
            r.cmd(&format!("STAT {old}")).0 == 223 && r.cmd(&format!("STAT {kept}")).0 == 223
        });
    }

    // Two days on, A and C expire it; B keeps it.
    clock.advance(Duration::from_secs(2 * 86_400));
    let admins: Vec<_> = nodes.iter().map(|n| n.admin.expect("admin")).collect();
    assert_eq!(expire(admins[0]), 1);
    assert_eq!(expire(admins[1]), 0);
    assert_eq!(expire(admins[2]), 1);
    for (i, want) in [(0, 430), (1, 223), (2, 430)] {
        assert_eq!(readers[i].cmd(&format!("STAT {old}")).0, want, "node {i}");
        assert_eq!(readers[i].cmd(&format!("STAT {kept}")).0, 223, "node {i}");
    }
    assert_eq!(readers[0].count("test.one"), 0);

    // Catch-up with B, which still has it, both ways: it is not fetched
    // back, nor taken when B offers it.
    catch_up(nodes[0].addr, "b.ret");
    catch_up(nodes[2].addr, "b.ret");
    catch_up(nodes[1].addr, "a.ret");
    catch_up(nodes[1].addr, "c.ret");
    for (i, want) in [(0, 430), (1, 223), (2, 430)] {
        assert_eq!(readers[i].cmd(&format!("STAT {old}")).0, want, "node {i}");
    }
    assert_eq!(readers[0].count("test.one"), 0);
    drop(readers);
    for node in nodes {
        node.stop();
    }
}

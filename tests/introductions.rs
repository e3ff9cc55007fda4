//! Joining a network by introduction (protocol-spec/access.md §8): a node
//! trusted to introduce vouches for a new node's key, and every node that
//! trusts the voucher believes the new node's posts without a config
//! change; withdrawing the introduction refuses what it signs later.

mod common;

use std::time::Duration;

use common::*;
use tidings::clock::Clock;

#[test]
fn a_fourth_node_joins_by_one_introduction_and_leaves_by_its_withdrawal() {
    // A, B, C peered with each other; D, new, peers with A alone. Only A's
    // configuration names D; B and C believe A's introductions.
    let mut net = Net::new(
        &["a.intro", "b.intro", "c.intro", "d.intro"],
        &[(0, 1), (0, 2), (1, 2), (3, 0)],
    );
    let (a, b, c, d) = (0, 1, 2, 3);
    let configs: Vec<_> = (0..4)
        .map(|i| {
            let mut config = net.config(i);
            for peer in &mut config.peers {
                if peer.name == net.names[a] {
                    peer.introduce = true;
                }
            }
            config
        })
        .collect();
    let clock_d = Clock::manual_from_now();
    let nodes: Vec<TestNode> = configs
        .into_iter()
        .enumerate()
        .map(|(i, config)| {
            let clock = if i == d {
                clock_d.clone()
            } else {
                Clock::system()
            };
            net.start(i, config, clock)
        })
        .collect();
    let limit = Duration::from_secs(30);
    let mut readers: Vec<Client> = nodes.iter().map(|n| Client::connect(n.addr)).collect();
    let mut arrived = |i: usize, id: &str, what: &str| {
        wait_until(limit, what, || {
            readers[i].cmd(&format!("STAT {id}")).0 == 223
        });
    };
    let mut at_d = Client::connect(nodes[d].addr);
    let mut at_a = Client::connect(nodes[a].addr);

    // Before the introduction D's post waits at B and C: an open post A
    // makes after it reaches them first.
    let early = at_d.post("test.one", "from d, early", "hello\r\n");
    arrived(a, &early, "D's post at A, which lists D");
    let marker = at_a.post("test.one", "after d's", "marker\r\n");
    for i in [b, c] {
        arrived(i, &marker, "A's post after it");
        let (code, _) = Client::connect(nodes[i].addr).cmd(&format!("STAT {early}"));
        assert_eq!(code, 430, "pending at {}", net.names[i]);
    }

    // A introduces D: its waiting post is released at B and C, and new
    // ones are taken there at once.
    // A's operator signs with A's node key.
    let from_a = |command: String| {
        post_control(
            nodes[a].addr,
            &net.keys[a],
            &command,
            "control",
            chrono::Utc::now(),
        )
    };
    let intro = from_a(format!("introduce {} d.intro never", hex_key(&net.keys[d])));
    for i in [b, c] {
        arrived(i, &intro, "the introduction");
        arrived(i, &early, "D's early post, released");
    }
    let later = at_d.post("test.one", "from d, introduced", "hello again\r\n");
    for i in [b, c] {
        arrived(i, &later, "D's post after the introduction");
    }

    // A withdraws it: what D signs after that is refused at B and C (A,
    // whose configuration lists D, still takes it); what came before stays.
    let withdrawal = from_a(format!("withdraw {}", hex_key(&net.keys[d])));
    for i in [b, c] {
        arrived(i, &withdrawal, "the withdrawal");
    }
    clock_d.advance(Duration::from_secs(60));
    let after = at_d.post("test.one", "from d, withdrawn", "too late\r\n");
    arrived(a, &after, "D's post at A");
    let marker = at_a.post("test.one", "after the withdrawn one", "marker\r\n");
    for i in [b, c] {
        arrived(i, &marker, "A's post after it");
        let mut reader = Client::connect(nodes[i].addr);
        assert_eq!(reader.cmd(&format!("STAT {after}")).0, 430);
        assert_eq!(reader.cmd(&format!("STAT {later}")).0, 223);
        assert_eq!(reader.cmd(&format!("STAT {early}")).0, 223);
    }

    drop(readers);
    for node in nodes {
        node.stop();
    }
}

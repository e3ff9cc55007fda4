//! `cargo bench --bench reconcile`: what set reconciliation sends, against
//! sending the plain list of Message-IDs.
//!
//! Two RocksDB stores of BENCH_IDS (default 1,000,000) Message-IDs in one
//! group, in tidings' signed form (`<unique.KEYHEX@domain>`), differing by
//! BENCH_DIFF_PERMILLE (default 10, i.e. 1%) on each side. The exchange is
//! run in-process between the two stores with the node's own code (the
//! client's 256 entries per round, the server's rules), and every octet
//! that would cross the wire is counted: command and status lines, entry
//! lines, terminators. The plain list is each server ID plus CRLF, as
//! NEWNEWS or LISTGROUP-by-id would send it.

use std::time::Instant;

use ed25519_dalek::SigningKey;
use tidings::proto::reconcile::{self, Members, Role};
use tidings::proto::reconcile::{Entry, Prefix};
use tidings::proto::signing;
use tidings::store::members::{insert_many, GroupSet};
use tidings::store::Store;

const GROUP: &str = "bench.reconcile";
const PER_ROUND: usize = 256;

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Message-IDs as tidings makes them, from 64 authors.
fn ids(range: std::ops::Range<usize>) -> Vec<Vec<u8>> {
    let keys: Vec<_> = (0..64u8)
        .map(|n| SigningKey::from_bytes(&[n + 1; 32]).verifying_key())
        .collect();
    range
        .map(|n| {
            let unique = format!("{n:x}.{:x}", n.wrapping_mul(2_654_435_761));
            signing::new_message_id(&keys[n % keys.len()], &unique, "node.example.org")
        })
        .collect()
}

fn wire_len(entries: &[Entry]) -> usize {
    let mut line = Vec::new();
    for entry in entries {
        entry.encode(&mut line);
    }
    line.len()
}

fn main() {
    let total = env_or("BENCH_IDS", 1_000_000);
    let permille = env_or("BENCH_DIFF_PERMILLE", 10);
    let differ = total * permille / 1000;
    let shared = total - differ;
    let dirs = (
        tempfile::tempdir().expect("tmp"),
        tempfile::tempdir().expect("tmp"),
    );
    let client_store = Store::open(dirs.0.path(), 256).expect("open");
    let server_store = Store::open(dirs.1.path(), 256).expect("open");

    let started = Instant::now();
    let common = ids(0..shared);
    let client_only = ids(10 * total..10 * total + differ);
    let server_only = ids(20 * total..20 * total + differ);
    for (store, extra) in [(&client_store, &client_only), (&server_store, &server_only)] {
        let all = common.iter().chain(extra.iter()).map(Vec::as_slice);
        insert_many(store, GROUP, all).expect("insert");
    }
    println!(
        "built two stores of {total} ids ({differ} different on each side) in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let client = GroupSet {
        store: &client_store,
        group: GROUP,
    };
    let server = GroupSet {
        store: &server_store,
        group: GROUP,
    };
    assert_eq!(
        client.digest(&Prefix::ROOT).expect("digest").count,
        total as u64
    );

    let started = Instant::now();
    let mut stack = vec![reconcile::open(&client).expect("open")];
    let (mut have, mut need) = (0usize, 0usize);
    let (mut up, mut down, mut rounds) = (0usize, 0usize, 0usize);
    while !stack.is_empty() {
        rounds += 1;
        let block = stack.split_off(stack.len().saturating_sub(PER_ROUND));
        up += format!("XRECONCILE {GROUP}\r\n").len() + wire_len(&block) + 3;
        let answer = reconcile::respond(&server, Role::Server, &block).expect("server");
        down += format!("290 {} entries for {GROUP}\r\n", answer.reply.len()).len()
            + wire_len(&answer.reply)
            + 3;
        let step = reconcile::respond(&client, Role::Client, &answer.reply).expect("client");
        have += step.have.len();
        need += step.need.len();
        stack.extend(step.reply);
    }
    let took = started.elapsed();
    assert_eq!((have, need), (differ, differ), "found the exact difference");
    let plain: usize = server_only
        .iter()
        .chain(&common)
        .map(|id| id.len() + 2)
        .sum();
    let needed_ids: usize = server_only.iter().map(|id| id.len() + 1).sum();
    println!(
        "reconciled in {:.2} s, {rounds} round trips",
        took.as_secs_f64()
    );
    println!("  client -> server: {up} octets");
    println!("  server -> client: {down} octets (of which the {differ} missing Message-IDs themselves: {needed_ids})");
    println!(
        "  total {} octets = {:.2}% of the plain list of {total} ids ({plain} octets)",
        up + down,
        100.0 * (up + down) as f64 / plain as f64
    );
}

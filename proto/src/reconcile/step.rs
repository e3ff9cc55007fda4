//! One step of range-based set reconciliation (protocol-spec/sync.md §3):
//! given the entries the other side sent, what this side answers, and what
//! it learnt it has that the other lacks or lacks that the other has.
//!
//! Both sides follow the same rules, over any [`Members`] view (RocksDB
//! in the node, a sorted map in tests). Only the client keeps what it
//! learns: a server answers each block from its store alone, so it holds no
//! state between commands and a dropped connection loses nothing.

use std::collections::{BTreeMap, HashSet};

use super::{Digest, Entry, Fingerprint, ItemHash, Prefix, Tag, IDS_PER_LINE, LEAF};

/// A node's set for one newsgroup, as reconciliation reads it.
pub trait Members {
    type Error;
    fn digest(&self, range: &Prefix) -> Result<Digest, Self::Error>;
    /// The digests of the 16 sub-ranges, in nibble order.
    fn children(&self, range: &Prefix) -> Result<[Digest; 16], Self::Error>;
    /// Every item in the range: its hash and Message-ID.
    fn items(&self, range: &Prefix) -> Result<Vec<(ItemHash, Vec<u8>)>, Self::Error>;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Opened the exchange; learns `have` and `need`.
    Client,
    /// Answers each block on its own.
    Server,
}

#[derive(Debug, thiserror::Error)]
pub enum ReconcileError<E> {
    #[error(transparent)]
    Store(E),
    #[error("{0}")]
    Protocol(String),
}

/// What one block of entries led to.
#[derive(Debug, Default)]
pub struct Step {
    /// The entries to send back.
    pub reply: Vec<Entry>,
    /// Message-IDs this side holds and the other lacks.
    pub have: Vec<Vec<u8>>,
    /// Message-IDs the other side holds and this side lacks.
    pub need: Vec<Vec<u8>>,
}

/// The client's opening entry: its fingerprint of the whole set.
pub fn open<M: Members>(set: &M) -> Result<Entry, M::Error> {
    Ok(Entry::Fingerprint {
        range: Prefix::ROOT,
        fp: set.digest(&Prefix::ROOT)?.fingerprint(),
    })
}

/// Answers a block of entries.
pub fn respond<M: Members>(
    set: &M,
    role: Role,
    incoming: &[Entry],
) -> Result<Step, ReconcileError<M::Error>> {
    let mut step = Step::default();
    for entry in incoming {
        match entry {
            Entry::Fingerprint { range, fp } => compare(set, range, *fp, &mut step)?,
            Entry::Split { range, children } => {
                for (nibble, fp) in (0u8..).zip(children) {
                    let child = range.child(nibble).ok_or_else(|| {
                        ReconcileError::Protocol(format!(
                            "range {} cannot be split",
                            range.to_text()
                        ))
                    })?;
                    compare(set, &child, *fp, &mut step)?;
                }
            }
            Entry::List { range, tags } => listed(set, role, range, tags, &mut step)?,
            Entry::Need { range, tags } => {
                // An honest side only asks about a range we listed, which
                // holds at most LEAF of our items; anything wider would
                // make us scan a big range for nothing.
                if set.digest(range).map_err(ReconcileError::Store)?.count as usize > LEAF {
                    return Err(ReconcileError::Protocol(format!(
                        "N for range {}, where more than LEAF items are held",
                        range.to_text()
                    )));
                }
                let wanted: HashSet<&Tag> = tags.iter().collect();
                let ids: Vec<Vec<u8>> = set
                    .items(range)
                    .map_err(ReconcileError::Store)?
                    .into_iter()
                    .filter(|(hash, _)| wanted.contains(&Tag::of(hash)))
                    .map(|(_, id)| id)
                    .collect();
                give(role, *range, ids, &mut step);
            }
            Entry::Have { ids, .. } => match role {
                Role::Client => step.need.extend(ids.iter().cloned()),
                Role::Server => {
                    return Err(ReconcileError::Protocol(
                        "H entries go from server to client only".into(),
                    ))
                }
            },
        }
    }
    Ok(step)
}

/// The other side's fingerprint of `range` against ours.
fn compare<M: Members>(
    set: &M,
    range: &Prefix,
    theirs: Fingerprint,
    step: &mut Step,
) -> Result<(), ReconcileError<M::Error>> {
    let ours = set.digest(range).map_err(ReconcileError::Store)?;
    if ours.fingerprint() == theirs {
        return Ok(());
    }
    step.reply.push(if ours.count as usize <= LEAF {
        list(set, range)?
    } else {
        split(set, range)?
    });
    Ok(())
}

fn list<M: Members>(set: &M, range: &Prefix) -> Result<Entry, ReconcileError<M::Error>> {
    let tags = set
        .items(range)
        .map_err(ReconcileError::Store)?
        .iter()
        .map(|(hash, _)| Tag::of(hash))
        .collect();
    Ok(Entry::List {
        range: *range,
        tags,
    })
}

fn split<M: Members>(set: &M, range: &Prefix) -> Result<Entry, ReconcileError<M::Error>> {
    let digests = set.children(range).map_err(ReconcileError::Store)?;
    Ok(Entry::Split {
        range: *range,
        children: digests.map(|d| d.fingerprint()),
    })
}

/// The other side's complete list of `range` against ours.
fn listed<M: Members>(
    set: &M,
    role: Role,
    range: &Prefix,
    theirs: &[Tag],
    step: &mut Step,
) -> Result<(), ReconcileError<M::Error>> {
    let count = set.digest(range).map_err(ReconcileError::Store)?.count;
    if count as usize > LEAF {
        // Too many of ours to list: narrow the range down first; the other
        // side, with few items, lists each sub-range that differs.
        step.reply.push(split(set, range)?);
        return Ok(());
    }
    let ours = set.items(range).map_err(ReconcileError::Store)?;
    let their_tags: HashSet<&Tag> = theirs.iter().collect();
    let our_tags: HashSet<Tag> = ours.iter().map(|(hash, _)| Tag::of(hash)).collect();
    let only_ours: Vec<Vec<u8>> = ours
        .into_iter()
        .filter(|(hash, _)| !their_tags.contains(&Tag::of(hash)))
        .map(|(_, id)| id)
        .collect();
    give(role, *range, only_ours, step);
    let only_theirs: Vec<Tag> = theirs
        .iter()
        .filter(|tag| !our_tags.contains(tag))
        .copied()
        .collect();
    if !only_theirs.is_empty() {
        step.reply.push(Entry::Need {
            range: *range,
            tags: only_theirs,
        });
    }
    Ok(())
}

/// Items of ours the other side lacks: a server names them in `H` lines,
/// a client notes them to send.
fn give(role: Role, range: Prefix, ids: Vec<Vec<u8>>, step: &mut Step) {
    match role {
        Role::Client => step.have.extend(ids),
        Role::Server => {
            for chunk in ids.chunks(IDS_PER_LINE) {
                step.reply.push(Entry::Have {
                    range,
                    ids: chunk.to_vec(),
                });
            }
        }
    }
}

/// A set held in memory, for tests and benchmarks of the exchange.
#[derive(Debug, Default, Clone)]
pub struct MemorySet {
    items: BTreeMap<ItemHash, Vec<u8>>,
}

impl MemorySet {
    pub fn insert(&mut self, message_id: &[u8]) {
        self.items
            .insert(crate::reconcile::item_hash(message_id), message_id.to_vec());
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    fn range(&self, range: &Prefix) -> impl Iterator<Item = (&ItemHash, &Vec<u8>)> + '_ {
        let range = *range;
        let mut start = [0u8; 32];
        start[..range.bytes().len()].copy_from_slice(range.bytes());
        self.items
            .range(start..)
            .take_while(move |(hash, _)| range.contains(hash))
    }
}

impl Members for MemorySet {
    type Error = std::convert::Infallible;

    fn digest(&self, range: &Prefix) -> Result<Digest, Self::Error> {
        let mut digest = Digest::default();
        for (hash, _) in self.range(range) {
            digest.add(&Digest::of(hash));
        }
        Ok(digest)
    }

    fn children(&self, range: &Prefix) -> Result<[Digest; 16], Self::Error> {
        let mut out = [Digest::default(); 16];
        for (hash, _) in self.range(range) {
            let nibble = Prefix::nibble_of(hash, range.depth());
            out[usize::from(nibble)].add(&Digest::of(hash));
        }
        Ok(out)
    }

    fn items(&self, range: &Prefix) -> Result<Vec<(ItemHash, Vec<u8>)>, Self::Error> {
        Ok(self
            .range(range)
            .map(|(hash, id)| (*hash, id.clone()))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Runs the exchange to its end; returns (have, need, octets sent
    /// by the client, octets sent by the server, round trips).
    fn exchange(
        client: &MemorySet,
        server: &MemorySet,
        per_round: usize,
    ) -> (Vec<Vec<u8>>, Vec<Vec<u8>>, usize, usize, usize) {
        let mut queue = vec![open(client).expect("open")];
        let (mut have, mut need) = (Vec::new(), Vec::new());
        let (mut up, mut down, mut rounds) = (0, 0, 0);
        while !queue.is_empty() {
            rounds += 1;
            let take = queue.len().min(per_round);
            let block: Vec<Entry> = queue.split_off(queue.len() - take);
            for entry in &block {
                let mut line = Vec::new();
                entry.encode(&mut line);
                up += line.len();
            }
            let answer = respond(server, Role::Server, &block).expect("server");
            assert!(answer.have.is_empty() && answer.need.is_empty());
            for entry in &answer.reply {
                let mut line = Vec::new();
                entry.encode(&mut line);
                down += line.len();
            }
            let step = respond(client, Role::Client, &answer.reply).expect("client");
            have.extend(step.have);
            need.extend(step.need);
            queue.extend(step.reply);
        }
        have.sort();
        need.sort();
        (have, need, up, down, rounds)
    }

    fn set(ids: impl IntoIterator<Item = String>) -> MemorySet {
        let mut set = MemorySet::default();
        for id in ids {
            set.insert(id.as_bytes());
        }
        set
    }

    fn ids(range: std::ops::Range<usize>) -> impl Iterator<Item = String> {
        range.map(|i| format!("<{i}.tidings@example.net>"))
    }

    fn sorted(ids: impl IntoIterator<Item = String>) -> Vec<Vec<u8>> {
        let mut out: Vec<Vec<u8>> = ids.into_iter().map(String::into_bytes).collect();
        out.sort();
        out
    }

    #[test]
    fn equal_sets_settle_in_one_line() {
        let a = set(ids(0..5000));
        let (have, need, up, down, rounds) = exchange(&a, &a.clone(), 256);
        assert!(have.is_empty() && need.is_empty());
        assert_eq!((rounds, down), (1, 0));
        assert!(up < 20, "{up}");
    }

    #[test]
    fn an_empty_side_learns_everything() {
        let full = set(ids(0..3000));
        let empty = MemorySet::default();
        let (have, need, ..) = exchange(&empty, &full, 256);
        assert!(have.is_empty());
        assert_eq!(need, sorted(ids(0..3000)));
        let (have, need, ..) = exchange(&full, &empty, 256);
        assert!(need.is_empty());
        assert_eq!(have, sorted(ids(0..3000)));
    }

    #[test]
    fn traffic_grows_with_the_difference_not_the_set() {
        // 20k shared, 1% different on each side.
        let client = set(ids(0..20_000).chain(ids(100_000..100_200)));
        let server = set(ids(0..20_000).chain(ids(200_000..200_200)));
        let (have, need, up, down, _) = exchange(&client, &server, 256);
        assert_eq!(have, sorted(ids(100_000..100_200)));
        assert_eq!(need, sorted(ids(200_000..200_200)));
        let plain: usize = ids(0..20_200).map(|id| id.len() + 2).sum();
        assert!(
            (up + down) * 5 < plain,
            "reconciliation {} octets, plain list {plain}",
            up + down
        );
    }

    #[test]
    fn a_server_refuses_h_entries_wide_needs_and_unsplittable_ranges() {
        let server = set(ids(0..10));
        let h = Entry::Have {
            range: Prefix::ROOT,
            ids: vec![b"<a@b>".to_vec()],
        };
        assert!(matches!(
            respond(&server, Role::Server, &[h]),
            Err(ReconcileError::Protocol(_))
        ));
        let n = Entry::Need {
            range: Prefix::ROOT,
            tags: vec![Tag([0; 6])],
        };
        assert!(matches!(
            respond(&set(ids(0..100)), Role::Server, &[n]),
            Err(ReconcileError::Protocol(_))
        ));
        let deepest = Prefix::from_hex(&[b'0'; 64]).expect("hex");
        let s = Entry::Split {
            range: deepest,
            children: [Digest::default().fingerprint(); 16],
        };
        assert!(respond(&server, Role::Server, &[s]).is_err());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]
        #[test]
        fn any_two_sets_find_their_exact_difference(
            shared in 0usize..400,
            only_client in 0usize..80,
            only_server in 0usize..80,
            per_round in 1usize..40,
        ) {
            let client = set(ids(0..shared).chain(ids(10_000..10_000 + only_client)));
            let server = set(ids(0..shared).chain(ids(20_000..20_000 + only_server)));
            let (have, need, ..) = exchange(&client, &server, per_round);
            prop_assert_eq!(have, sorted(ids(10_000..10_000 + only_client)));
            prop_assert_eq!(need, sorted(ids(20_000..20_000 + only_server)));
        }
    }
}

//! tidings catch-up (protocol-spec/sync.md §2-3), written from the spec
//! alone: item hashes, ranges, digests and fingerprints, the entry lines of
//! XRECONCILE, and the rules each side applies to the entries it receives.
//!
//! ```text
//! item hash   = SHA-256(message-id, angle brackets included)
//! range       = "*" / 1*64 lowercase hex digits: the hashes whose hex
//!               form starts with them
//! digest      = (count, sum of the hashes as 256-bit little-endian
//!               integers, modulo 2^256)
//! fingerprint = SHA-256(sum (32 octets) || count (u64 LE))[0..6]
//! tag         = item hash [16..22]
//! ```
//!
//! Fingerprints and tags go on the wire as standard base64: 6 octets are
//! exactly 8 characters, no padding. No I/O here; `cases::sync` drives the
//! exchange.

use std::collections::{BTreeMap, HashSet};

use base64::engine::general_purpose::STANDARD_NO_PAD;
use base64::Engine;
use sha2::{Digest as _, Sha256};

/// The CAPABILITIES label of a server that speaks sync.md, and its version.
pub const CAPABILITY: &str = "X-TIDINGS-SYNC";
pub const VERSION: &str = "1";

/// XRECONCILE's entries follow (§3).
pub const RECONCILE_FOLLOWS: u16 = 290;
/// XIHAVE's wanted Message-IDs follow (§4).
pub const SENDME_FOLLOWS: u16 = 291;

/// A side lists a range instead of splitting it once it holds at most this
/// many items (§3.3).
pub const LEAF: usize = 24;
/// Most entries in one XRECONCILE block (§3.1).
pub const MAX_ENTRIES: usize = 1024;
/// Most Message-IDs on one `H` line (§3.2).
pub const IDS_PER_LINE: usize = 8;
/// Hex digits of a whole item hash: the deepest range.
pub const MAX_DEPTH: usize = 64;

const HEX: &[u8; 16] = b"0123456789abcdef";

pub type Hash = [u8; 32];
/// A fingerprint or a tag: six octets.
pub type Six = [u8; 6];

pub fn item_hash(message_id: &str) -> Hash {
    Sha256::digest(message_id.as_bytes()).into()
}

pub fn tag(hash: &Hash) -> Six {
    let mut out = [0u8; 6];
    out.copy_from_slice(&hash[16..22]);
    out
}

/// Standard base64 (RFC 4648 §4) without `=`: six octets need none.
pub fn b64(bytes: &[u8]) -> String {
    STANDARD_NO_PAD.encode(bytes)
}

/// Six octets from exactly 8 base64 characters (48 bits, none unused).
pub fn six(text: &str) -> Option<Six> {
    if text.len() != 8 {
        return None;
    }
    let bytes = STANDARD_NO_PAD.decode(text).ok()?;
    <Six>::try_from(bytes.as_slice()).ok()
}

/// Count and sum of a range's item hashes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Digest {
    pub count: u64,
    /// Little-endian, modulo 2^256.
    pub sum: [u8; 32],
}

impl Digest {
    pub fn add(&mut self, hash: &Hash) {
        self.count += 1;
        let mut carry = 0u16;
        for (a, b) in self.sum.iter_mut().zip(hash) {
            let v = u16::from(*a) + u16::from(*b) + carry;
            *a = v as u8;
            carry = v >> 8;
        }
    }

    pub fn of<'a>(hashes: impl IntoIterator<Item = &'a Hash>) -> Digest {
        let mut d = Digest::default();
        for h in hashes {
            d.add(h);
        }
        d
    }

    pub fn fingerprint(&self) -> Six {
        let mut hasher = Sha256::new();
        hasher.update(self.sum);
        hasher.update(self.count.to_le_bytes());
        let full = hasher.finalize();
        let mut out = [0u8; 6];
        out.copy_from_slice(&full[..6]);
        out
    }
}

/// The fingerprint of the empty set: what a client with nothing opens with.
pub fn empty_fingerprint() -> Six {
    Digest::default().fingerprint()
}

/// A range as its hex digits; empty for the whole set.
pub fn range_text(range: &str) -> &str {
    if range.is_empty() {
        "*"
    } else {
        range
    }
}

/// Whether `hash` lies in `range`.
pub fn contains(range: &str, hash: &Hash) -> bool {
    range
        .bytes()
        .enumerate()
        .all(|(i, digit)| HEX[usize::from(nibble(hash, i))] == digit)
}

fn nibble(hash: &Hash, i: usize) -> u8 {
    let byte = hash[i / 2];
    if i % 2 == 0 {
        byte >> 4
    } else {
        byte & 0x0f
    }
}

/// The 16 sub-ranges of `range`, in nibble order.
pub fn children(range: &str) -> [String; 16] {
    std::array::from_fn(|n| format!("{range}{}", char::from(HEX[n])))
}

/// One entry line (§3.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    F { range: String, fp: Six },
    S { range: String, children: [Six; 16] },
    L { range: String, tags: Vec<Six> },
    N { range: String, tags: Vec<Six> },
    H { range: String, ids: Vec<String> },
}

impl Entry {
    pub fn range(&self) -> &str {
        match self {
            Entry::F { range, .. }
            | Entry::S { range, .. }
            | Entry::L { range, .. }
            | Entry::N { range, .. }
            | Entry::H { range, .. } => range,
        }
    }

    pub fn letter(&self) -> char {
        match self {
            Entry::F { .. } => 'F',
            Entry::S { .. } => 'S',
            Entry::L { .. } => 'L',
            Entry::N { .. } => 'N',
            Entry::H { .. } => 'H',
        }
    }

    /// The line, without CRLF.
    pub fn line(&self) -> String {
        let mut words = vec![
            self.letter().to_string(),
            range_text(self.range()).to_string(),
        ];
        match self {
            Entry::F { fp, .. } => words.push(b64(fp)),
            Entry::S { children, .. } => words.extend(children.iter().map(|c| b64(c))),
            Entry::L { tags, .. } | Entry::N { tags, .. } => {
                words.extend(tags.iter().map(|t| b64(t)))
            }
            Entry::H { ids, .. } => words.extend(ids.iter().cloned()),
        }
        words.join(" ")
    }

    /// Parses a line exactly as §3.2's ABNF has it: single spaces, no
    /// leading or trailing white space.
    pub fn parse(line: &str) -> Result<Entry, String> {
        let bad = |why: &str| Err(format!("{why}: {line:?}"));
        let mut words = line.split(' ');
        let letter = words.next().unwrap_or_default();
        let Some(range) = words.next() else {
            return bad("no range");
        };
        let range = if range == "*" {
            String::new()
        } else if (1..=MAX_DEPTH).contains(&range.len()) && range.bytes().all(|b| HEX.contains(&b))
        {
            range.to_string()
        } else {
            return bad("range is neither * nor 1 to 64 lowercase hex digits");
        };
        let rest: Vec<&str> = words.collect();
        let sixes = || -> Option<Vec<Six>> { rest.iter().map(|w| six(w)).collect() };
        match letter {
            "F" => match sixes().as_deref() {
                Some(&[fp]) => Ok(Entry::F { range, fp }),
                _ => bad("F needs one fingerprint"),
            },
            "S" => match sixes().map(<[Six; 16]>::try_from) {
                Some(Ok(children)) => Ok(Entry::S { range, children }),
                _ => bad("S needs 16 fingerprints"),
            },
            "L" | "N" => {
                let min = usize::from(letter == "N");
                match sixes() {
                    Some(tags) if (min..=LEAF).contains(&tags.len()) => Ok(if letter == "L" {
                        Entry::L { range, tags }
                    } else {
                        Entry::N { range, tags }
                    }),
                    _ => bad(&format!("{letter} needs {min} to {LEAF} tags")),
                }
            }
            "H" => {
                if !(1..=IDS_PER_LINE).contains(&rest.len()) {
                    return bad(&format!("H needs 1 to {IDS_PER_LINE} message-ids"));
                }
                if !rest.iter().all(|id| is_message_id(id)) {
                    return bad("H carries something that is not a message-id");
                }
                Ok(Entry::H {
                    range,
                    ids: rest.iter().map(|s| s.to_string()).collect(),
                })
            }
            _ => bad("unknown entry letter"),
        }
    }
}

/// `message-id = "<" 1*248(%x21-3D / %x3F-7E) ">"` (RFC 3977 §3.6).
pub fn is_message_id(id: &str) -> bool {
    let b = id.as_bytes();
    (3..=250).contains(&b.len())
        && b[0] == b'<'
        && b[b.len() - 1] == b'>'
        && b[1..b.len() - 1]
            .iter()
            .all(|&c| (0x21..=0x7e).contains(&c) && c != b'>')
}

/// A set of Message-IDs held in memory, ordered by item hash.
#[derive(Debug, Clone, Default)]
pub struct Set {
    items: BTreeMap<Hash, String>,
}

impl Set {
    pub fn insert(&mut self, message_id: &str) {
        self.items
            .insert(item_hash(message_id), message_id.to_string());
    }

    pub fn remove(&mut self, message_id: &str) {
        self.items.remove(&item_hash(message_id));
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    pub fn contains(&self, message_id: &str) -> bool {
        self.items.contains_key(&item_hash(message_id))
    }

    pub fn ids(&self) -> impl Iterator<Item = &String> {
        self.items.values()
    }

    /// The items in `range`, in hash order.
    pub fn in_range<'a>(&'a self, range: &'a str) -> impl Iterator<Item = (&'a Hash, &'a String)> {
        let mut start = [0u8; 32];
        for (i, digit) in range.bytes().enumerate() {
            let n = HEX.iter().position(|&h| h == digit).unwrap_or(0) as u8;
            start[i / 2] |= if i % 2 == 0 { n << 4 } else { n };
        }
        self.items
            .range(start..)
            .take_while(move |(hash, _)| contains(range, hash))
    }

    pub fn digest(&self, range: &str) -> Digest {
        Digest::of(self.in_range(range).map(|(h, _)| h))
    }

    fn list(&self, range: &str) -> Entry {
        Entry::L {
            range: range.to_string(),
            tags: self.in_range(range).map(|(h, _)| tag(h)).collect(),
        }
    }

    fn split(&self, range: &str) -> Entry {
        Entry::S {
            range: range.to_string(),
            children: children(range).map(|c| self.digest(&c).fingerprint()),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Client,
    Server,
}

/// What one block of entries led to (§3.3).
#[derive(Debug, Default)]
pub struct Step {
    pub reply: Vec<Entry>,
    /// Items this side holds and the other lacks.
    pub have: Vec<String>,
    /// Items the other side holds and this side lacks.
    pub need: Vec<String>,
}

/// The client's opening entry: its fingerprint of the whole set.
pub fn open(set: &Set) -> Entry {
    Entry::F {
        range: String::new(),
        fp: set.digest("").fingerprint(),
    }
}

/// Applies the rules of §3.3 to a block of entries.
pub fn respond(set: &Set, role: Role, incoming: &[Entry]) -> Result<Step, String> {
    let mut step = Step::default();
    for entry in incoming {
        match entry {
            Entry::F { range, fp } => compare(set, range, fp, &mut step),
            Entry::S {
                range,
                children: fps,
            } => {
                if range.len() >= MAX_DEPTH {
                    return Err(format!("S of a {MAX_DEPTH}-digit range"));
                }
                for (child, fp) in children(range).iter().zip(fps) {
                    compare(set, child, fp, &mut step);
                }
            }
            Entry::L { range, tags } => {
                if set.digest(range).count as usize > LEAF {
                    step.reply.push(set.split(range));
                    continue;
                }
                let theirs: HashSet<&Six> = tags.iter().collect();
                let ours: HashSet<Six> = set.in_range(range).map(|(h, _)| tag(h)).collect();
                let only_ours = set
                    .in_range(range)
                    .filter(|(h, _)| !theirs.contains(&tag(h)))
                    .map(|(_, id)| id.clone())
                    .collect();
                give(role, range, only_ours, &mut step);
                let only_theirs: Vec<Six> = tags
                    .iter()
                    .filter(|t| !ours.contains(*t))
                    .copied()
                    .collect();
                if !only_theirs.is_empty() {
                    step.reply.push(Entry::N {
                        range: range.clone(),
                        tags: only_theirs,
                    });
                }
            }
            Entry::N { range, tags } => {
                // An N answers this side's L, so the range holds at most
                // LEAF of its items; anything else is refused (§3.3).
                let count = set.digest(range).count as usize;
                if count > LEAF {
                    return Err(format!(
                        "N for range {}, where this side holds {count} items, more than \
                         LEAF = {LEAF}",
                        range_text(range)
                    ));
                }
                let wanted: HashSet<&Six> = tags.iter().collect();
                let ids = set
                    .in_range(range)
                    .filter(|(h, _)| wanted.contains(&tag(h)))
                    .map(|(_, id)| id.clone())
                    .collect();
                give(role, range, ids, &mut step);
            }
            Entry::H { ids, .. } => match role {
                Role::Client => step.need.extend(ids.iter().cloned()),
                Role::Server => return Err("H from the client".to_string()),
            },
        }
    }
    Ok(step)
}

fn compare(set: &Set, range: &str, theirs: &Six, step: &mut Step) {
    let ours = set.digest(range);
    if ours.fingerprint() == *theirs {
        return;
    }
    step.reply.push(if ours.count as usize <= LEAF {
        set.list(range)
    } else {
        set.split(range)
    });
}

fn give(role: Role, range: &str, ids: Vec<String>, step: &mut Step) {
    match role {
        Role::Client => step.have.extend(ids),
        Role::Server => {
            for chunk in ids.chunks(IDS_PER_LINE) {
                step.reply.push(Entry::H {
                    range: range.to_string(),
                    ids: chunk.to_vec(),
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::path::PathBuf;

    fn vectors_dir() -> PathBuf {
        // Where cargo runs the test from (a shared target directory may
        // hold a binary built in another checkout).
        std::env::var_os("CARGO_MANIFEST_DIR")
            .map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")), PathBuf::from)
            .join("../protocol-spec/vectors/sync")
    }

    /// Rows of a vectors TSV file, comments and blank lines skipped.
    fn rows(name: &str) -> Option<Vec<Vec<String>>> {
        let text = fs::read_to_string(vectors_dir().join(name)).ok()?;
        Some(
            text.lines()
                .filter(|l| !l.is_empty() && !l.starts_with('#'))
                .map(|l| l.split('\t').map(str::to_string).collect())
                .collect(),
        )
    }

    #[test]
    fn digests_add_up_modulo_2_256() {
        let mut d = Digest::default();
        d.add(&[0xff; 32]);
        d.add(&[0x01; 32]);
        // 0xff..ff + 0x0101..01 wraps to 0x0101..00 (little-endian).
        let mut want = [0x01; 32];
        want[0] = 0x00;
        assert_eq!((d.count, d.sum), (2, want));
        assert_eq!(b64(&empty_fingerprint()), "LDTOHfI7");
    }

    #[test]
    fn entries_parse_strictly_and_round_trip() {
        let fp = b64(&empty_fingerprint());
        for line in [
            format!("F * {fp}"),
            format!("S 3f{}", format!(" {fp}").repeat(16)),
            "L 0".to_string(),
            format!("L a {fp} {fp}"),
            format!("N 0 {fp}"),
            "H 12 <a@b> <c.d@e>".to_string(),
        ] {
            let entry = Entry::parse(&line).expect(&line);
            assert_eq!(entry.line(), line);
        }
        for line in [
            "",
            "F",
            "F *",
            "F * AAAAAAA",
            "F * AAAAAAAAA",
            "F * AAAAAAAAAAA",
            "F * AAAAAAA=",
            "F * AAAAAA==",
            "F * AAAA-AAA",
            "F A AAAAAAAA",
            "F  * AAAAAAAA",
            "F * AAAAAAAA ",
            "X * AAAAAAAA",
            "S * AAAAAAAA",
            "N 0",
            "H 0",
            "H 0 not-an-id",
        ] {
            assert!(Entry::parse(line).is_err(), "{line:?}");
        }
        let full = format!("L 0{}", " AAAAAAAA".repeat(LEAF));
        assert!(Entry::parse(&full).is_ok());
        let long = format!("L 0{}", " AAAAAAAA".repeat(LEAF + 1));
        assert!(Entry::parse(&long).is_err());
        let deep = "0".repeat(MAX_DEPTH + 1);
        assert!(Entry::parse(&format!("L {deep}")).is_err());
    }

    fn exchange(client: &Set, server: &Set) -> (Vec<String>, Vec<String>) {
        let mut stack = vec![open(client)];
        let (mut have, mut need) = (Vec::new(), Vec::new());
        while !stack.is_empty() {
            let block = stack.split_off(stack.len().saturating_sub(256));
            let answer = respond(server, Role::Server, &block).expect("server");
            let step = respond(client, Role::Client, &answer.reply).expect("client");
            have.extend(step.have);
            need.extend(step.need);
            stack.extend(step.reply);
        }
        have.sort();
        need.sort();
        (have, need)
    }

    #[test]
    fn two_sets_find_their_difference() {
        let ids = |r: std::ops::Range<usize>| r.map(|i| format!("<{i}@x.example>"));
        let mut client = Set::default();
        let mut server = Set::default();
        for id in ids(0..2000) {
            client.insert(&id);
            server.insert(&id);
        }
        for id in ids(5000..5050) {
            client.insert(&id);
        }
        for id in ids(7000..7070) {
            server.insert(&id);
        }
        let (have, need) = exchange(&client, &server);
        let sorted = |r| {
            let mut v: Vec<String> = ids(r).collect();
            v.sort();
            v
        };
        assert_eq!(have, sorted(5000..5050));
        assert_eq!(need, sorted(7000..7070));
        assert_eq!(exchange(&server, &server.clone()), (vec![], vec![]));
    }

    #[test]
    fn lists_up_to_leaf_and_refuses_n_over_it() {
        let ids = |r: std::ops::Range<usize>| r.map(|i| format!("<{i}@leaf.example>"));
        let mut set = Set::default();
        ids(0..LEAF).for_each(|id| set.insert(&id));
        let other = Entry::F {
            range: String::new(),
            fp: empty_fingerprint(),
        };
        let step = respond(&set, Role::Server, std::slice::from_ref(&other)).expect("F");
        let Some(Entry::L { tags, .. }) = step.reply.first() else {
            panic!("{LEAF} items are listed: {:?}", step.reply);
        };
        assert_eq!(tags.len(), LEAF);
        let need = Entry::N {
            range: String::new(),
            tags: vec![tags[0]],
        };
        let step = respond(&set, Role::Server, std::slice::from_ref(&need)).expect("N");
        assert!(matches!(step.reply.as_slice(), [Entry::H { ids, .. }] if ids.len() == 1));
        set.insert("<one-more@leaf.example>");
        let step = respond(&set, Role::Server, std::slice::from_ref(&other)).expect("F");
        assert!(matches!(step.reply.as_slice(), [Entry::S { .. }]));
        assert!(respond(&set, Role::Server, std::slice::from_ref(&need)).is_err());
        assert!(respond(&set, Role::Client, &[need]).is_err());
    }

    /// protocol-spec/vectors/sync/items.tsv: message-id, item hash, tag.
    #[test]
    fn item_vectors() {
        let Some(rows) = rows("items.tsv") else {
            eprintln!("no sync vectors at {}; skipped", vectors_dir().display());
            return;
        };
        assert!(rows.len() >= 6);
        for row in rows {
            let hash = item_hash(&row[0]);
            assert_eq!(hex::encode(hash), row[1], "{}", row[0]);
            assert_eq!(b64(&tag(&hash)), row[2], "{}", row[0]);
        }
    }

    /// fingerprints.tsv: name, count, sum (hex of the 32 LE octets),
    /// fingerprint, then the members.
    #[test]
    fn fingerprint_vectors() {
        let Some(rows) = rows("fingerprints.tsv") else {
            return;
        };
        assert!(rows.len() >= 3);
        for row in rows {
            let mut set = Set::default();
            for id in row[4].split(' ').filter(|s| !s.is_empty()) {
                set.insert(id);
            }
            let d = set.digest("");
            assert_eq!(d.count.to_string(), row[1], "{}", row[0]);
            assert_eq!(hex::encode(d.sum), row[2], "{}", row[0]);
            assert_eq!(b64(&d.fingerprint()), row[3], "{}", row[0]);
        }
    }

    /// exchange-*.txt: the sets from the `# client:` and `# server:` lines;
    /// replaying the rules must give every line of the transcript, and the
    /// `# have` / `# need` lines.
    #[test]
    fn exchange_vectors() {
        let Ok(dir) = fs::read_dir(vectors_dir()) else {
            return;
        };
        let mut seen = 0;
        for file in dir.flatten() {
            let name = file.file_name().to_string_lossy().into_owned();
            if !(name.starts_with("exchange") && name.ends_with(".txt")) {
                continue;
            }
            seen += 1;
            let text = fs::read_to_string(file.path()).expect("read");
            let set_of = |label: &str| {
                let mut set = Set::default();
                for line in text.lines() {
                    if let Some(ids) = line.strip_prefix(label) {
                        ids.split_whitespace().for_each(|id| set.insert(id));
                    }
                }
                set
            };
            let (client, server) = (set_of("# client: "), set_of("# server: "));
            let group = text
                .lines()
                .find_map(|l| l.strip_prefix("C: XRECONCILE "))
                .expect("a command");
            let mut want = text
                .lines()
                .filter(|l| l.starts_with("C: ") || l.starts_with("S: "))
                .map(str::to_string);
            let mut stack = vec![open(&client)];
            let (mut have, mut need) = (Vec::new(), Vec::new());
            while !stack.is_empty() {
                let block = stack.split_off(stack.len().saturating_sub(256));
                let mut got = vec![format!("C: XRECONCILE {group}")];
                got.extend(block.iter().map(|e| format!("C: {}", e.line())));
                got.push("C: .".to_string());
                let answer = respond(&server, Role::Server, &block).expect("server");
                got.push(format!("S: 290 {} entries for {group}", answer.reply.len()));
                got.extend(answer.reply.iter().map(|e| format!("S: {}", e.line())));
                got.push("S: .".to_string());
                for line in got {
                    assert_eq!(want.next().as_deref(), Some(line.as_str()), "{name}");
                }
                let step = respond(&client, Role::Client, &answer.reply).expect("client");
                have.extend(step.have);
                need.extend(step.need);
                stack.extend(step.reply);
            }
            assert_eq!(want.next(), None, "{name}: transcript goes on");
            let listed = |label: &str| -> Vec<String> {
                text.lines()
                    .filter_map(|l| l.strip_prefix(label))
                    .map(str::to_string)
                    .collect()
            };
            have.sort();
            need.sort();
            assert_eq!(have, listed("# have "), "{name}");
            assert_eq!(need, listed("# need "), "{name}");
        }
        assert!(seen >= 1, "no exchange vectors");
    }
}

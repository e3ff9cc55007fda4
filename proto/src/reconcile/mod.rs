//! The vocabulary of range-based set reconciliation (protocol-spec/sync.md):
//! item hashes, hash-prefix ranges, additive digests and their
//! fingerprints, and the entry lines two nodes exchange; and in [`step`],
//! what one side answers to the other's entries. Pure code: the store keeps
//! the sets (`tidings::store::members`), the catch-up client and the
//! XRECONCILE command exchange them.
//!
//! A node's set for a newsgroup is the Message-IDs filed in it. Each item is
//! placed by the SHA-256 of its Message-ID, so a range is a prefix of that
//! hash in hex nibbles, splitting a range is always 16-way, and neither side
//! ever has to send a range bound. A range's digest is the item count and
//! the sum of the item hashes modulo 2^256: adding or removing an item
//! changes it without reading the others, so digests are kept up to date
//! as articles are filed and never recomputed over the store.

pub mod step;

pub use step::{open, respond, Members, MemorySet, ReconcileError, Role, Step};

use base64::engine::general_purpose::STANDARD_NO_PAD;
use base64::Engine;
use nom::branch::alt;
use nom::bytes::complete::{tag, take_while1, take_while_m_n};
use nom::character::complete::space1;
use nom::combinator::{all_consuming, map, map_res, value};
use nom::multi::{count, many0};
use nom::sequence::preceded;
use nom::{IResult, Parser};
use sha2::{Digest as _, Sha256};

use super::grammar::is_message_id;

/// A side lists a range's items (instead of splitting it) once it holds at
/// most this many of them.
pub const LEAF: usize = 24;
/// Most entries one XRECONCILE block may carry.
pub const MAX_ENTRIES: usize = 1024;
/// Largest XRECONCILE or XIHAVE block in octets: MAX_ENTRIES of the
/// longest entry (an `L` line of LEAF tags under a 64-digit range) fit.
pub const MAX_BLOCK: usize = 512 * 1024;
/// Most Message-IDs on one `H` line, which keeps lines near 2 KiB.
pub const IDS_PER_LINE: usize = 8;
/// Hex digits in a full item hash: the deepest a range can be.
pub const MAX_DEPTH: usize = 64;

/// SHA-256 of a Message-ID, angle brackets included.
pub type ItemHash = [u8; 32];

pub fn item_hash(message_id: &[u8]) -> ItemHash {
    Sha256::digest(message_id).into()
}

/// What names an item inside a listed range: bytes 16..22 of its hash.
/// A listed range holds at most LEAF items a side, so 48 bits make two
/// items of one range share a tag with odds of about 2^-37; bytes past
/// the first 16 are never fixed by a range prefix that deep.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Tag(pub [u8; 6]);

impl Tag {
    pub fn of(hash: &ItemHash) -> Tag {
        let mut tag = [0u8; 6];
        tag.copy_from_slice(&hash[16..22]);
        Tag(tag)
    }
}

/// The 6-byte summary of a digest that goes on the wire: two different
/// ranges look alike with odds of 2^-48 per comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fingerprint(pub [u8; 6]);

/// Count and sum (little-endian, modulo 2^256) of a range's item hashes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Digest {
    pub count: u64,
    pub sum: [u8; 32],
}

/// Bytes of a stored digest: count (u64 LE), then the sum.
pub const DIGEST_BYTES: usize = 40;

impl Digest {
    pub fn of(hash: &ItemHash) -> Digest {
        Digest {
            count: 1,
            sum: *hash,
        }
    }

    /// The change that removes `hash`: adding it undoes [`Digest::of`].
    pub fn removal(hash: &ItemHash) -> Digest {
        // Two's complement of the hash, so the sum wraps back.
        let mut negated = [0u8; 32];
        let mut carry = 1u16;
        for (out, byte) in negated.iter_mut().zip(hash) {
            let v = u16::from(!byte) + carry;
            *out = v as u8;
            carry = v >> 8;
        }
        Digest {
            count: u64::MAX,
            sum: negated,
        }
    }

    pub fn add(&mut self, other: &Digest) {
        self.count = self.count.wrapping_add(other.count);
        let mut carry = 0u16;
        for (a, b) in self.sum.iter_mut().zip(&other.sum) {
            let v = u16::from(*a) + u16::from(*b) + carry;
            *a = v as u8;
            carry = v >> 8;
        }
    }

    /// The first 6 bytes of SHA-256(sum || count as u64 LE).
    pub fn fingerprint(&self) -> Fingerprint {
        let mut hasher = Sha256::new();
        hasher.update(self.sum);
        hasher.update(self.count.to_le_bytes());
        let full = hasher.finalize();
        let mut fp = [0u8; 6];
        fp.copy_from_slice(&full[..6]);
        Fingerprint(fp)
    }

    pub fn encode(&self) -> [u8; DIGEST_BYTES] {
        let mut out = [0u8; DIGEST_BYTES];
        out[..8].copy_from_slice(&self.count.to_le_bytes());
        out[8..].copy_from_slice(&self.sum);
        out
    }

    pub fn decode(bytes: &[u8]) -> Option<Digest> {
        if bytes.len() != DIGEST_BYTES {
            return None;
        }
        let mut sum = [0u8; 32];
        sum.copy_from_slice(&bytes[8..]);
        Some(Digest {
            count: u64::from_le_bytes(bytes[..8].try_into().ok()?),
            sum,
        })
    }
}

/// A range of item hashes: those whose hex form starts with `depth`
/// nibbles of `bits` (the rest of `bits` is zero).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Prefix {
    bits: [u8; 32],
    depth: u8,
}

impl Prefix {
    pub const ROOT: Prefix = Prefix {
        bits: [0; 32],
        depth: 0,
    };

    pub fn depth(&self) -> usize {
        usize::from(self.depth)
    }

    /// The `i`th nibble of a hash.
    pub fn nibble_of(hash: &[u8; 32], i: usize) -> u8 {
        let byte = hash[i / 2];
        if i % 2 == 0 {
            byte >> 4
        } else {
            byte & 0x0f
        }
    }

    /// The sub-range whose next hex digit is `nibble`; None at full depth.
    pub fn child(&self, nibble: u8) -> Option<Prefix> {
        let depth = self.depth();
        if depth >= MAX_DEPTH || nibble > 15 {
            return None;
        }
        let mut bits = self.bits;
        if depth % 2 == 0 {
            bits[depth / 2] = nibble << 4;
        } else {
            bits[depth / 2] |= nibble;
        }
        Some(Prefix {
            bits,
            depth: self.depth + 1,
        })
    }

    pub fn contains(&self, hash: &ItemHash) -> bool {
        (0..self.depth()).all(|i| Self::nibble_of(hash, i) == Self::nibble_of(&self.bits, i))
    }

    /// The prefix's bytes, a half-filled last byte included: the smallest
    /// hash in the range starts with them.
    pub fn bytes(&self) -> &[u8] {
        &self.bits[..self.depth().div_ceil(2)]
    }

    /// The hex digits of the prefix, `*` for the whole set.
    pub fn to_text(&self) -> String {
        if self.depth == 0 {
            return "*".into();
        }
        let hex = hex::encode(self.bytes());
        hex[..self.depth()].to_string()
    }

    pub fn from_hex(digits: &[u8]) -> Option<Prefix> {
        if digits.len() > MAX_DEPTH {
            return None;
        }
        let mut prefix = Prefix::ROOT;
        for digit in digits {
            let nibble = match digit {
                b'0'..=b'9' => digit - b'0',
                b'a'..=b'f' => digit - b'a' + 10,
                _ => return None,
            };
            prefix = prefix.child(nibble)?;
        }
        Some(prefix)
    }
}

/// One line of an XRECONCILE block, either way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    /// `F range fp`: the sender's fingerprint of the range.
    Fingerprint { range: Prefix, fp: Fingerprint },
    /// `S range fp0 .. fp15`: the sender's fingerprints of the 16 sub-ranges.
    Split {
        range: Prefix,
        children: [Fingerprint; 16],
    },
    /// `L range tag*`: every item the sender holds in the range.
    List { range: Prefix, tags: Vec<Tag> },
    /// `N range tag+`: items of the receiver's last `L` the sender lacks.
    Need { range: Prefix, tags: Vec<Tag> },
    /// `H range message-id+`: items the sender holds in the range and the
    /// receiver lacks (server to client only).
    Have { range: Prefix, ids: Vec<Vec<u8>> },
}

impl Entry {
    pub fn range(&self) -> &Prefix {
        match self {
            Entry::Fingerprint { range, .. }
            | Entry::Split { range, .. }
            | Entry::List { range, .. }
            | Entry::Need { range, .. }
            | Entry::Have { range, .. } => range,
        }
    }

    /// Appends the entry as one CRLF-terminated line.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let b64 = |out: &mut Vec<u8>, bytes: &[u8]| {
            out.push(b' ');
            out.extend_from_slice(STANDARD_NO_PAD.encode(bytes).as_bytes());
        };
        let (letter, range) = match self {
            Entry::Fingerprint { range, .. } => (b'F', range),
            Entry::Split { range, .. } => (b'S', range),
            Entry::List { range, .. } => (b'L', range),
            Entry::Need { range, .. } => (b'N', range),
            Entry::Have { range, .. } => (b'H', range),
        };
        out.push(letter);
        out.push(b' ');
        out.extend_from_slice(range.to_text().as_bytes());
        match self {
            Entry::Fingerprint { fp, .. } => b64(out, &fp.0),
            Entry::Split { children, .. } => {
                for fp in children {
                    b64(out, &fp.0);
                }
            }
            Entry::List { tags, .. } | Entry::Need { tags, .. } => {
                for tag in tags {
                    b64(out, &tag.0);
                }
            }
            Entry::Have { ids, .. } => {
                for id in ids {
                    out.push(b' ');
                    out.extend_from_slice(id);
                }
            }
        }
        out.extend_from_slice(b"\r\n");
    }

    /// Parses one line (without its CRLF).
    pub fn parse(line: &[u8]) -> Result<Entry, String> {
        match all_consuming(entry).parse(line) {
            Ok((_, entry)) => Ok(entry),
            Err(_) => Err(format!(
                "bad reconciliation entry {:?}",
                String::from_utf8_lossy(&line[..line.len().min(80)])
            )),
        }
    }
}

/// `range = "*" / 1*64(%x30-39 / %x61-66)`
fn range(input: &[u8]) -> IResult<&[u8], Prefix> {
    alt((
        value(Prefix::ROOT, tag(&b"*"[..])),
        map_res(
            take_while_m_n(1, MAX_DEPTH, |b: u8| matches!(b, b'0'..=b'9' | b'a'..=b'f')),
            |digits: &[u8]| Prefix::from_hex(digits).ok_or(()),
        ),
    ))
    .parse(input)
}

/// Six bytes in base64: exactly 8 characters, no padding needed.
fn six_bytes(input: &[u8]) -> IResult<&[u8], [u8; 6]> {
    map_res(
        take_while_m_n(8, 8, |b: u8| {
            b.is_ascii_alphanumeric() || b == b'+' || b == b'/'
        }),
        |text: &[u8]| {
            let bytes = STANDARD_NO_PAD.decode(text).map_err(|_| ())?;
            <[u8; 6]>::try_from(bytes.as_slice()).map_err(|_| ())
        },
    )
    .parse(input)
}

fn fingerprint(input: &[u8]) -> IResult<&[u8], Fingerprint> {
    map(preceded(space1, six_bytes), Fingerprint).parse(input)
}

fn tags(input: &[u8]) -> IResult<&[u8], Vec<Tag>> {
    many0(map(preceded(space1, six_bytes), Tag)).parse(input)
}

fn message_id(input: &[u8]) -> IResult<&[u8], Vec<u8>> {
    map_res(
        preceded(space1, take_while1(|b: u8| b.is_ascii_graphic())),
        |id: &[u8]| {
            if is_message_id(id) {
                Ok(id.to_vec())
            } else {
                Err(())
            }
        },
    )
    .parse(input)
}

/// `entry = "F" SP range SP fp / "S" SP range 16(SP fp) / "L" SP range
/// *(SP tag) / "N" SP range 1*(SP tag) / "H" SP range 1*(SP message-id)`
fn entry(input: &[u8]) -> IResult<&[u8], Entry> {
    let (input, letter) = take_while_m_n(1, 1, |b: u8| b"FSLNH".contains(&b)).parse(input)?;
    let (input, range) = preceded(space1, range).parse(input)?;
    match letter[0] {
        b'F' => map(fingerprint, |fp| Entry::Fingerprint { range, fp }).parse(input),
        b'S' => map_res(count(fingerprint, 16), |fps: Vec<Fingerprint>| {
            <[Fingerprint; 16]>::try_from(fps)
                .map(|children| Entry::Split { range, children })
                .map_err(|_| ())
        })
        .parse(input),
        b'L' => map_res(tags, |tags| {
            if tags.len() <= LEAF {
                Ok(Entry::List { range, tags })
            } else {
                Err(())
            }
        })
        .parse(input),
        b'N' => map_res(tags, |tags| {
            if (1..=LEAF).contains(&tags.len()) {
                Ok(Entry::Need { range, tags })
            } else {
                Err(())
            }
        })
        .parse(input),
        _ => map_res(many0(message_id), |ids| {
            if (1..=IDS_PER_LINE).contains(&ids.len()) {
                Ok(Entry::Have { range, ids })
            } else {
                Err(())
            }
        })
        .parse(input),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_add_and_remove_in_any_order() {
        let hashes: Vec<ItemHash> = (0..50)
            .map(|i| item_hash(format!("<{i}@x>").as_bytes()))
            .collect();
        let mut forward = Digest::default();
        for h in &hashes {
            forward.add(&Digest::of(h));
        }
        let mut backward = Digest::default();
        for h in hashes.iter().rev() {
            backward.add(&Digest::of(h));
        }
        assert_eq!(forward, backward);
        assert_eq!(forward.count, 50);
        for h in &hashes[10..] {
            forward.add(&Digest::removal(h));
        }
        let mut first_ten = Digest::default();
        for h in &hashes[..10] {
            first_ten.add(&Digest::of(h));
        }
        assert_eq!(forward, first_ten);
        assert_ne!(forward.fingerprint(), backward.fingerprint());
        assert_eq!(Digest::decode(&forward.encode()), Some(forward));
        assert_eq!(Digest::decode(&[0; 39]), None);
    }

    #[test]
    fn prefixes_name_hash_ranges() {
        let hash = item_hash(b"<a@b>");
        let text = hex::encode(hash);
        for depth in [0, 1, 2, 5, 64] {
            let prefix = Prefix::from_hex(&text.as_bytes()[..depth]).expect("hex");
            assert!(prefix.contains(&hash));
            assert_eq!(prefix.depth(), depth);
            let shown = prefix.to_text();
            assert_eq!(shown, if depth == 0 { "*" } else { &text[..depth] });
        }
        let a = Prefix::from_hex(b"a").expect("hex");
        assert_eq!(a.bytes(), &[0xa0]);
        assert_eq!(a.child(3).expect("child").bytes(), &[0xa3]);
        assert_eq!(Prefix::from_hex(b"A"), None);
        assert_eq!(Prefix::from_hex(&[b'0'; 65]), None);
        let full = Prefix::from_hex(text.as_bytes()).expect("full");
        assert_eq!(full.child(0), None);
        let other = Prefix::from_hex(b"0").expect("hex");
        let nibble = Prefix::nibble_of(&hash, 0);
        assert_eq!(other.contains(&hash), nibble == 0);
    }

    #[test]
    fn entries_round_trip() {
        let fp = Digest::of(&item_hash(b"<a@b>")).fingerprint();
        let range = Prefix::from_hex(b"3f").expect("hex");
        for entry in [
            Entry::Fingerprint {
                range: Prefix::ROOT,
                fp,
            },
            Entry::Split {
                range,
                children: [fp; 16],
            },
            Entry::List {
                range,
                tags: Vec::new(),
            },
            Entry::List {
                range,
                tags: vec![Tag([1; 6]), Tag([255; 6])],
            },
            Entry::Need {
                range,
                tags: vec![Tag([7; 6])],
            },
            Entry::Have {
                range,
                ids: vec![b"<a@b>".to_vec(), b"<c.d@e>".to_vec()],
            },
        ] {
            let mut line = Vec::new();
            entry.encode(&mut line);
            assert!(line.ends_with(b"\r\n"));
            let parsed = Entry::parse(&line[..line.len() - 2]).expect("parses");
            assert_eq!(parsed, entry);
        }
    }

    #[test]
    fn bad_entries_are_refused() {
        for line in [
            &b""[..],
            b"F",
            b"F *",
            b"X * AAAAAAAA",
            b"F * AAAAAAA",
            b"F * AAAAAAAAA",
            b"F * AAAAAAA=",
            b"F G AAAAAAAA",
            b"F * AAAAAAAA extra",
            b"S * AAAAAAAA",
            b"N 0",
            b"H 0",
            b"H 0 not-an-id",
            b"H 0 <a@b> <c@d> <e@f> <g@h> <i@j> <k@l> <m@n> <o@p> <q@r>",
        ] {
            assert!(
                Entry::parse(line).is_err(),
                "{:?}",
                String::from_utf8_lossy(line)
            );
        }
        let too_many = format!("L 0{}", " AAAAAAAA".repeat(LEAF + 1));
        assert!(Entry::parse(too_many.as_bytes()).is_err());
    }
}

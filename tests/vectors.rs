//! The test vectors of protocol-spec/vectors: article vectors are run
//! through IHAVE against a real node; signing vectors are checked against
//! the canonicalization and signature code.
//!
//! `cargo test --test vectors -- --ignored write_vectors` regenerates the
//! files (ed25519 signatures are deterministic, so the output is stable).

mod common;

use std::path::{Path, PathBuf};

use bytes::Bytes;
use common::*;
use ed25519_dalek::Signer;
use tidings::proto::article::Article;
use tidings::proto::signing::{self, SignatureField};

fn vectors() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("protocol-spec/vectors")
}

fn crlf(text: &str) -> String {
    text.replace("\r\n", "\n").replace('\n', "\r\n")
}

#[test]
fn article_vectors_get_their_expected_replies() {
    let (_dir, node) = start_node();
    let base = vectors().join("articles");
    let manifest = std::fs::read_to_string(base.join("expected.tsv")).expect("manifest");
    let mut c = Client::connect(node.addr);
    let mut checked = 0;
    for row in manifest
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
    {
        let cols: Vec<&str> = row.split('\t').collect();
        let [file, id, code, reason] = cols[..] else {
            panic!("bad row {row:?}")
        };
        let text = std::fs::read(base.join(file)).expect("vector file");
        let text = crlf(&String::from_utf8_lossy(&text));
        assert_eq!(c.cmd(&format!("IHAVE {id}")).0, 335, "{file}");
        c.send_article(&text);
        let (got, why) = c.status();
        assert_eq!(got.to_string(), code, "{file}: {why}");
        assert!(
            why.contains(reason),
            "{file}: reason {why:?} lacks {reason:?}"
        );
        if code == "235" {
            assert_eq!(c.cmd(&format!("ARTICLE {id}")).0, 220);
            let served = c.block().join("\r\n") + "\r\n";
            assert!(
                served.starts_with("Path: test.node!far.example!not-for-mail\r\n"),
                "{file}"
            );
            assert!(!served.contains("\r\nXref:"), "{file}");
            let article = Article::parse(Bytes::from(served)).expect("parses");
            assert_eq!(
                signing::verify(&article),
                Ok(author().verifying_key()),
                "{file}: served copy verifies"
            );
        }
        checked += 1;
    }
    assert!(checked >= 18, "{checked} vectors");
}

/// signing.md §3: which Message-IDs name a key, and which key.
#[test]
fn binding_vectors_match() {
    let table = std::fs::read_to_string(vectors().join("signing/binding.tsv")).expect("table");
    let mut rows = 0;
    for row in table
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let [id, names, key] = row.split('\t').collect::<Vec<_>>()[..] else {
            panic!("bad row {row:?}")
        };
        let id = id.as_bytes();
        assert_eq!(signing::names_key(id), names == "yes", "{row}");
        let named = signing::message_id_key(id).map(|k| hex::encode(k.as_bytes()));
        match key {
            "free" | "-" => assert_eq!(named, None, "{row}"),
            hex => assert_eq!(named.as_deref(), Some(hex), "{row}"),
        }
        rows += 1;
    }
    assert!(rows >= 8, "{rows} rows");
}

#[test]
fn signing_vectors_match() {
    let base = vectors().join("signing");
    let names: Vec<String> = std::fs::read_dir(&base)
        .expect("signing vectors")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter_map(|n| n.strip_suffix(".article").map(str::to_string))
        .collect();
    assert!(names.len() >= 3, "{names:?}");
    let secret = std::fs::read_to_string(base.join("key.secret")).expect("key");
    let key = ed25519_dalek::SigningKey::from_bytes(
        &hex::decode(secret.trim())
            .expect("hex")
            .try_into()
            .expect("32"),
    );
    for name in names {
        let article = std::fs::read(base.join(format!("{name}.article"))).expect("article");
        let article =
            Article::parse(Bytes::from(crlf(&String::from_utf8_lossy(&article)))).expect("parses");
        let canonical = std::fs::read(base.join(format!("{name}.canonical"))).expect("canonical");
        assert_eq!(
            &signing::canonical(&article)[..],
            &canonical[..],
            "{name}: canonical bytes"
        );
        let signature =
            std::fs::read_to_string(base.join(format!("{name}.signature"))).expect("signature");
        assert_eq!(
            hex::encode(key.sign(&canonical).to_bytes()),
            signature.trim(),
            "{name}: signature"
        );
        assert_eq!(
            signing::verify(&article),
            Ok(key.verifying_key()),
            "{name}: verifies"
        );
    }
}

/// Writes every vector file. Run by hand after a deliberate change.
#[test]
fn sync_item_and_fingerprint_vectors_match() {
    use tidings::proto::reconcile::{item_hash, Digest, Tag};
    let base = vectors().join("sync");
    let b64 = |bytes: &[u8]| {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD_NO_PAD.encode(bytes)
    };
    let items = std::fs::read_to_string(base.join("items.tsv")).expect("items");
    let mut checked = 0;
    for line in items
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let fields: Vec<&str> = line.split('\t').collect();
        let hash = item_hash(fields[0].as_bytes());
        assert_eq!(hex::encode(hash), fields[1], "{line}");
        assert_eq!(b64(&Tag::of(&hash).0), fields[2], "{line}");
        checked += 1;
    }
    assert!(checked >= 6);
    let sets = std::fs::read_to_string(base.join("fingerprints.tsv")).expect("fingerprints");
    for line in sets
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let fields: Vec<&str> = line.split('\t').collect();
        let mut digest = Digest::default();
        for id in fields.get(4).unwrap_or(&"").split_whitespace() {
            digest.add(&Digest::of(&item_hash(id.as_bytes())));
        }
        assert_eq!(digest.count.to_string(), fields[1], "{line}");
        assert_eq!(hex::encode(digest.sum), fields[2], "{line}");
        assert_eq!(b64(&digest.fingerprint().0), fields[3], "{line}");
    }
}

/// Replays each example exchange: the server's answers to the client's
/// blocks are exactly the lines in the file, and the client's next block
/// is what it would send.
#[test]
fn sync_exchange_vectors_replay() {
    use tidings::proto::reconcile::Entry;
    use tidings::proto::reconcile::{open, respond, MemorySet, Role};
    let base = vectors().join("sync");
    let mut replayed = 0;
    for name in [
        "exchange-list.txt",
        "exchange-split.txt",
        "exchange-leaf.txt",
    ] {
        let text = std::fs::read_to_string(base.join(name)).expect("exchange");
        let set = |who: &str| {
            let mut set = MemorySet::default();
            let line = text
                .lines()
                .find_map(|l| l.strip_prefix(&format!("# {who}: ")))
                .expect("members");
            for id in line.split_whitespace() {
                set.insert(id.as_bytes());
            }
            set
        };
        let (client, server) = (set("client"), set("server"));
        let entry_lines = |prefix: &str, round: &str| -> Vec<String> {
            round
                .lines()
                .filter_map(|l| l.strip_prefix(prefix))
                .filter(|l| !l.starts_with("XRECONCILE") && !l.starts_with("290") && *l != ".")
                .map(str::to_string)
                .collect()
        };
        let encode = |entries: &[Entry]| -> Vec<String> {
            entries
                .iter()
                .map(|e| {
                    let mut line = Vec::new();
                    e.encode(&mut line);
                    String::from_utf8(line)
                        .expect("ascii")
                        .trim_end()
                        .to_string()
                })
                .collect()
        };
        let mut stack = vec![open(&client).expect("open")];
        for round in text.split("# round ").skip(1) {
            let sent = entry_lines("C: ", round);
            let block = stack.split_off(stack.len().saturating_sub(256));
            assert_eq!(encode(&block), sent, "{name}: client block");
            let answer = respond(&server, Role::Server, &block).expect("server");
            assert_eq!(
                encode(&answer.reply),
                entry_lines("S: ", round),
                "{name}: server"
            );
            let step = respond(&client, Role::Client, &answer.reply).expect("client");
            stack.extend(step.reply);
            replayed += 1;
        }
        assert!(
            stack.is_empty(),
            "{name}: the exchange ends where the file does"
        );
    }
    assert!(replayed >= 5);
}

/// The rows of a TSV vector file, comment lines left out.
fn rows(file: &Path) -> Vec<Vec<String>> {
    std::fs::read_to_string(file)
        .expect("vector file")
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| l.split('\t').map(str::to_string).collect())
        .collect()
}

#[test]
fn audience_vectors_match() {
    use tidings::proto::audience::Audience;
    let rows = rows(&vectors().join("access/audience.tsv"));
    for row in &rows {
        let [value, owner, name] = &row[..] else {
            panic!("bad row {row:?}")
        };
        match (Audience::parse_header(value.as_bytes()), owner.as_str()) {
            (Err(why), "refused") => assert!(why.contains(name.as_str()), "{value}: {why}"),
            (Ok(a), _) => {
                assert_eq!(
                    (hex::encode(a.owner), &a.name),
                    (owner.clone(), name),
                    "{value}"
                )
            }
            (Err(why), _) => panic!("{value}: {why}"),
        }
    }
    assert!(rows.len() >= 8);
}

#[test]
fn access_control_vectors_match() {
    use tidings::proto::control;
    let rows = rows(&vectors().join("access/controls.tsv"));
    for row in &rows {
        match (control::parse(row[0].as_bytes()), &row[1..]) {
            (Err(why), [refused, word]) if refused == "refused" => {
                assert!(why.contains(word.as_str()), "{}: {why}", row[0])
            }
            (Ok(c), [expected]) => assert_eq!(&c.to_string(), expected, "{}", row[0]),
            (got, _) => panic!("{}: {got:?}", row[0]),
        }
    }
    assert!(rows.len() >= 15);
}

#[test]
fn grant_vectors_hold_in_every_order() {
    use tidings::proto::audience::{Audience, Scope};
    use tidings::store::schema::GrantRecord;
    let audience = Audience {
        owner: [1; 32],
        name: "friends".into(),
    };
    let grantee = [2; 32];
    let rows = rows(&vectors().join("access/grants.tsv"));
    for row in &rows {
        let [case, now, records, read, cache] = &row[..] else {
            panic!("bad row {row:?}")
        };
        let records: Vec<GrantRecord> = records
            .split(';')
            .map(|r| {
                let [date, control, scope, expires] = r.split('/').collect::<Vec<_>>()[..] else {
                    panic!("{case}: bad record {r}")
                };
                GrantRecord {
                    date: date.parse().expect("date"),
                    control: control.as_bytes().to_vec(),
                    scope: Scope::parse(scope),
                    expires: expires.parse().ok(),
                }
            })
            .collect();
        let clock = tidings::clock::Clock::manual(now.parse::<u64>().expect("clock") * 1_000_000);
        // Every order of arrival (at most 3 records: 6 orders).
        let n = records.len();
        let mut order: Vec<usize> = (0..n).collect();
        let mut orders = vec![order.clone()];
        while next_permutation(&mut order) {
            orders.push(order.clone());
        }
        for order in orders {
            let grants = tidings::grants::Grants::new(clock.clone(), []);
            for &i in &order {
                grants.learn((audience.clone(), grantee, records[i].clone()));
            }
            let holds = |scope| {
                if grants.holds(&grantee, &audience, scope) {
                    "yes"
                } else {
                    "no"
                }
            };
            assert_eq!(
                (holds(Scope::Read), holds(Scope::Cache)),
                (read.as_str(), cache.as_str()),
                "{case}, order {order:?}"
            );
        }
    }
    assert!(rows.len() >= 10);
}

/// The next permutation in lexicographic order; false after the last.
fn next_permutation(items: &mut [usize]) -> bool {
    let Some(i) = (1..items.len()).rev().find(|&i| items[i - 1] < items[i]) else {
        return false;
    };
    let j = (i..items.len())
        .rev()
        .find(|&j| items[j] > items[i - 1])
        .expect("exists");
    items.swap(i - 1, j);
    items[i..].reverse();
    true
}

#[test]
#[ignore]
fn write_vectors() {
    let key = author();
    let id = |tag: &str| {
        String::from_utf8(signing::new_message_id(
            &key.verifying_key(),
            tag,
            "example.org",
        ))
        .unwrap()
    };
    let lf = |text: &str| text.replace("\r\n", "\n");
    let head = |id: &str, groups: &str| {
        format!(
            "Path: far.example!not-for-mail\r\nFrom: Ann <ann@example.org>\r\nNewsgroups: {groups}\r\nSubject: vector\r\nDate: Sun, 22 Nov 2026 04:20:54 +0000\r\nMessage-ID: {id}\r\n"
        )
    };
    let dir = vectors().join("articles");
    for entry in std::fs::read_dir(&dir).expect("dir").flatten() {
        if entry.file_name().to_string_lossy().ends_with(".txt") {
            std::fs::remove_file(entry.path()).expect("remove");
        }
    }
    let mut rows = vec![
        "# file\toffered message-id\tIHAVE reply\ttext the reason must contain (437 only)"
            .to_string(),
    ];
    let mut put = |file: &str, offered: &str, text: &str, code: u16, reason: &str| {
        std::fs::write(dir.join(file), lf(text)).expect("write");
        rows.push(format!("{file}\t{offered}\t{code}\t{reason}"));
    };
    let i = id("ok-minimal");
    put(
        "ok-minimal.txt",
        &i,
        &sign(&format!("{}\r\nHello.\r\n", head(&i, "test.one"))),
        235,
        "",
    );
    let i = id("ok-folded");
    let folded = format!(
        "Path: far.example!not-for-mail\r\nFrom: Ann <ann@example.org>\r\nNewsgroups: test.one,\r\n  test.two\r\nSubject: a subject\r\n\tfolded over two lines\r\nDate: Sun, 22 Nov 2026 04:20:54 +0000 (UTC)\r\nMessage-ID: {i}\r\n\r\n.leading dot in the body\r\n"
    );
    put("ok-folded.txt", &i, &sign(&folded), 235, "");
    let i = id("ok-crosspost");
    let cross = format!(
        "{}Xref: far.example test.one:77\r\n\r\nStored in test.one only; Xref is dropped.\r\n",
        head(&i, "test.one,other.group")
    );
    put("ok-crosspost.txt", &i, &sign(&cross), 235, "");
    let i = id("ok-nobody");
    put("ok-nobody.txt", &i, &sign(&head(&i, "test.one")), 235, "");

    let i = id("bad-no-colon");
    put(
        "bad-no-colon.txt",
        &i,
        &head(&i, "test.one").replacen("\r\n", "\r\nThis line has no colon\r\n", 1),
        437,
        "header line 2",
    );
    let i = id("bad-missing-date");
    put(
        "bad-missing-date.txt",
        &i,
        &sign(&format!(
            "{}\r\nx\r\n",
            head(&i, "test.one").replace("Date: Sun, 22 Nov 2026 04:20:54 +0000\r\n", "")
        )),
        437,
        "Date",
    );
    let i = id("bad-missing-path");
    put(
        "bad-missing-path.txt",
        &i,
        &sign(&format!(
            "{}\r\nx\r\n",
            head(&i, "test.one").replace("Path: far.example!not-for-mail\r\n", "")
        )),
        437,
        "Path",
    );
    let i = id("bad-duplicate-subject");
    put(
        "bad-duplicate-subject.txt",
        &i,
        &sign(&format!(
            "{}Subject: again\r\n\r\nx\r\n",
            head(&i, "test.one")
        )),
        437,
        "Subject appears more than once",
    );
    put(
        "bad-message-id-no-at.txt",
        "<bad-message-id-no-at>",
        &format!("{}\r\nx\r\n", head("<bad-message-id-no-at>", "test.one")),
        437,
        "not signed",
    );
    let i = id("bad-newsgroups");
    put(
        "bad-newsgroups.txt",
        &i,
        &sign(&format!("{}\r\nx\r\n", head(&i, "test one"))),
        437,
        "Newsgroups",
    );
    let i = id("bad-date");
    put(
        "bad-date.txt",
        &i,
        &sign(&format!(
            "{}\r\nx\r\n",
            head(&i, "test.one").replace("Sun, 22 Nov 2026 04:20:54 +0000", "last tuesday")
        )),
        437,
        "Date header",
    );
    put(
        "bad-leading-continuation.txt",
        "<bad-leading@example.org>",
        " starts folded\r\nPath: far.example!not-for-mail\r\n\r\nx\r\n",
        437,
        "continuation",
    );
    let i = id("bad-unwanted");
    put(
        "bad-unwanted.txt",
        &i,
        &sign(&format!("{}\r\nx\r\n", head(&i, "other.group"))),
        437,
        "carried",
    );
    let i = id("bad-loop");
    put(
        "bad-loop.txt",
        &i,
        &sign(&format!(
            "{}\r\nx\r\n",
            head(&i, "test.one").replace("far.example!", "far.example!test.node!")
        )),
        437,
        "loop",
    );
    let i = id("bad-mismatch");
    put(
        "bad-mismatch.txt",
        &id("bad-mismatch-offered"),
        &sign(&format!("{}\r\nx\r\n", head(&i, "test.one"))),
        437,
        "does not match",
    );
    let i = id("bad-nul");
    put(
        "bad-nul.txt",
        &i,
        &format!("{}\r\na\0b\r\n", head(&i, "test.one")),
        437,
        "NUL",
    );
    let i = id("bad-unsigned");
    put(
        "bad-unsigned.txt",
        &i,
        &format!("{}\r\nNo signature.\r\n", head(&i, "test.one")),
        437,
        "not signed",
    );
    let i = id("bad-tampered");
    let tampered = sign(&format!("{}\r\nOriginal body.\r\n", head(&i, "test.one")))
        .replace("Original", "Altered");
    put("bad-tampered.txt", &i, &tampered, 437, "does not verify");
    // A free Message-ID (signing.md §3), signed by the vector key, which
    // the receiving node counts as a node key: taken.
    let free = format!(
        "{}\r\nA newsreader's own id.\r\n",
        head("<free@example.org>", "test.one")
    );
    put(
        "ok-free-id.txt",
        "<free@example.org>",
        &sign(&free),
        235,
        "",
    );
    // Signed by hand (sign() refuses both): the same free id signed by a
    // key that is no node's, and an id naming another key signed by the
    // vector key. What someone would send to squat an id.
    let signed_by = |text: &str, signer: &ed25519_dalek::SigningKey| {
        let article = Article::parse(Bytes::from(text.to_string())).unwrap();
        let field = SignatureField {
            key: signer.verifying_key(),
            signature: signer.sign(&signing::canonical(&article)),
        };
        text.replacen(
            "\r\n\r\n",
            &format!("\r\n{}: {}\r\n\r\n", signing::HEADER, field.to_value()),
            1,
        )
    };
    let squat = format!(
        "{}\r\nSquatting.\r\n",
        head("<squat@example.org>", "test.one")
    );
    put(
        "bad-free-id-by-stranger.txt",
        "<squat@example.org>",
        &signed_by(&squat, &stranger()),
        437,
        "names no key",
    );
    let theirs = String::from_utf8(signing::new_message_id(
        &stranger().verifying_key(),
        "bad-foreign-key",
        "example.org",
    ))
    .unwrap();
    let foreign = format!("{}\r\nNot my id.\r\n", head(&theirs, "test.one"));
    put(
        "bad-foreign-key.txt",
        &theirs,
        &signed_by(&foreign, &key),
        437,
        "not the signing key",
    );
    std::fs::write(dir.join("expected.tsv"), rows.join("\n") + "\n").expect("manifest");

    let dir = vectors().join("signing");
    std::fs::create_dir_all(&dir).expect("dir");
    std::fs::write(
        dir.join("key.secret"),
        format!("{}\n", hex::encode(key.to_bytes())),
    )
    .expect("key");
    std::fs::write(
        dir.join("key.public"),
        format!("{}\n", hex::encode(key.verifying_key().as_bytes())),
    )
    .expect("key");
    let samples = [
        ("minimal", format!("{}\r\nHello, world.\r\n", head(&id("sig-minimal"), "test.one"))),
        ("folded-and-spaced", format!(
            "Path: far.example!not-for-mail\r\nSubject:   many   spaces\r\n\tand a fold \r\nFrom: Ann <ann@example.org>\r\nNewsgroups: test.one, test.two\r\nDate: Sun, 22 Nov 2026 04:20:54 +0000\r\nMessage-ID: {}\r\nX-Extra: b\r\nX-Extra: a\r\n\r\n.dot line\r\ntrailing space \r\n\r\n\r\n",
            id("sig-folded")
        )),
        ("empty-body", head(&id("sig-empty"), "test.one")),
    ];
    for (name, text) in samples {
        let signed = sign(&text);
        let article = Article::parse(Bytes::from(signed.clone())).unwrap();
        let canonical = signing::canonical(&article);
        std::fs::write(dir.join(format!("{name}.article")), lf(&signed)).expect("article");
        std::fs::write(dir.join(format!("{name}.canonical")), &canonical).expect("canonical");
        std::fs::write(
            dir.join(format!("{name}.signature")),
            format!("{}\n", hex::encode(key.sign(&canonical).to_bytes())),
        )
        .expect("signature");
    }
}

use std::collections::HashMap;

use bytes::Bytes;
use chrono::Utc;
use ed25519_dalek::SigningKey;

use super::*;
use crate::config::{Config, ModeratorConfig, PeerConfig};
use crate::proto::signing::{key_hex, new_message_id, sign};
use crate::store::schema::{GroupRecord, KeyRecord};

const NODE: u8 = 1;
const PEER: u8 = 2;
const MODERATOR: u8 = 3;
const STRANGER: u8 = 4;

/// The fixtures' clock: an hour after the Date of the articles they make.
fn now() -> chrono::DateTime<Utc> {
    chrono::DateTime::parse_from_rfc2822("Sun, 22 Nov 2026 05:20:54 +0000")
        .expect("date")
        .with_timezone(&Utc)
}

fn key(seed: u8) -> SigningKey {
    SigningKey::from_bytes(&[seed; 32])
}

#[derive(Default)]
struct History(
    HashMap<Vec<u8>, HistoryEntry>,
    /// Who signed what is stored, for articles under free IDs.
    HashMap<Vec<u8>, ed25519_dalek::VerifyingKey>,
);

impl Lookup for History {
    fn history(&self, id: &[u8]) -> Option<HistoryEntry> {
        self.0.get(id).cloned()
    }

    fn held(&self, _: &[u8]) -> Option<Vec<u8>> {
        None
    }

    fn signer(&self, id: &[u8]) -> Option<ed25519_dalek::VerifyingKey> {
        self.1.get(id).copied()
    }

    fn board(&self, _: &str) -> crate::store::schema::BoardState {
        crate::store::schema::BoardState::default()
    }

    fn refused_thread(&self, _: &[u8]) -> Option<String> {
        None
    }

    fn cancels(&self, _: &[u8]) -> Vec<[u8; 32]> {
        Vec::new()
    }

    fn moved(&self, _: &[u8]) -> bool {
        false
    }
}

struct Fixture {
    groups: Groups,
    stores: crate::proto::wildmat::Wildmat,
    trust: Trust,
    peers: Peers,
    history: History,
    node_key: SigningKey,
    config: crate::config::Valid,
    access: crate::access::Access,
}

impl Fixture {
    fn new() -> Fixture {
        let mut config = Config::default();
        config.peers.push(PeerConfig {
            boards: Some("chan.*".into()),
            ..PeerConfig::new("peer", key_hex(&key(PEER).verifying_key()))
        });
        config.peers.push(PeerConfig {
            hosts: vec!["127.0.0.1".parse().expect("ip")],
            unsigned: crate::config::Unsigned::Accept,
            ..PeerConfig::new("inn.example", "")
        });
        config.moderators.push(ModeratorConfig {
            key: key_hex(&key(MODERATOR).verifying_key()),
            groups: "misc.*".into(),
        });
        let groups = Groups::new(
            ["misc.test", "misc.other", CONTROL_GROUP]
                .map(|g| (g.to_string(), GroupRecord::new(0, String::new()))),
        );
        let peers = Peers::from_config(&config.peers).expect("peers");
        let trust = Trust::new(&config, key(NODE).verifying_key(), &peers, []).expect("trust");
        let stores = crate::proto::wildmat::Wildmat::parse(b"*,!chan.nsfw.*").expect("wildmat");
        let config = config.clone().validated().expect("valid");
        let access = crate::access::Access::from_rules(&config);
        Fixture {
            config,
            access,
            groups,
            stores,
            trust,
            peers,
            history: History::default(),
            node_key: key(NODE),
        }
    }

    fn ingest(&self) -> Ingest<'_> {
        Ingest {
            node: "here.example",
            groups: &self.groups,
            trust: &self.trust,
            peers: &self.peers,
            node_key: &self.node_key,
            lookup: &self.history,
            hop_limit: 64,
            stores: &self.stores,
            premoderate: None,
            config: &self.config,
            access: &self.access,
            now: now(),
        }
    }

    fn transit(&self, raw: &Bytes) -> Result<Prepared, Rejection> {
        let id = Article::parse(raw.clone())
            .ok()
            .and_then(|a| a.message_id())
            .unwrap_or_default();
        self.ingest().prepare(
            raw.clone(),
            &Source::Transit {
                offered_id: id,
                peer: None,
            },
        )
    }
}

/// A signed transit article by `seed` with extra header lines.
fn signed(seed: u8, unique: &str, groups: &str, extra: &str) -> Bytes {
    let k = key(seed);
    let id = String::from_utf8(new_message_id(&k.verifying_key(), unique, "example.org")).unwrap();
    let text = format!(
        "Path: there.example!not-for-mail\r\nFrom: a@b\r\nNewsgroups: {groups}\r\nSubject: s\r\nDate: Sun, 22 Nov 2026 04:20:54 +0000\r\nMessage-ID: {id}\r\n{extra}Xref: there misc.test:5\r\n\r\nbody\r\n"
    );
    sign(&Article::parse(Bytes::from(text)).unwrap(), &k).expect("signs")
}

fn id_of(raw: &Bytes) -> Vec<u8> {
    Article::parse(raw.clone()).unwrap().message_id().unwrap()
}

#[test]
fn signed_transit_is_filed_with_path_and_without_xref() {
    let f = Fixture::new();
    let p = f
        .transit(&signed(PEER, "t1", "misc.test,alt.nowhere", ""))
        .expect("accepted");
    let text = String::from_utf8(p.bytes.to_vec()).unwrap();
    assert!(
        text.starts_with("Path: here.example!there.example!not-for-mail\r\n"),
        "{text}"
    );
    assert!(!text.contains("Xref"));
    assert_eq!(p.groups, vec!["misc.test".to_string()]);
    assert_eq!(p.disposition, Disposition::File);
    assert_eq!(
        signing::verify(&Article::parse(p.bytes).unwrap()),
        Ok(key(PEER).verifying_key())
    );
}

#[test]
fn unsigned_and_tampered_articles_are_refused_without_blocking_their_ids() {
    let f = Fixture::new();
    let good = signed(PEER, "t2", "misc.test", "");
    let tampered = Bytes::from(
        String::from_utf8(good.to_vec())
            .unwrap()
            .replace("body", "bodY"),
    );
    let r = f.transit(&tampered).unwrap_err();
    assert!(r.reason.contains("signature"), "{}", r.reason);
    assert_eq!(r.kind, Refused::Signature);
    assert_eq!(
        r.remember,
        Remember::Record,
        "a forgery must not block the real article's id"
    );
    let unsigned = Bytes::from_static(b"Path: x\r\nFrom: a@b\r\nNewsgroups: misc.test\r\nSubject: s\r\nDate: Sun, 22 Nov 2026 04:20:54 +0000\r\nMessage-ID: <u@x>\r\n\r\nb\r\n");
    let r = f.transit(&unsigned).unwrap_err();
    assert!(r.reason.contains("not signed"), "{}", r.reason);
    assert_eq!(r.kind, Refused::Signature);
    assert_eq!(r.remember, Remember::Record);
}

#[test]
fn unwanted_articles_block_their_ids_unless_their_board_may_come() {
    let f = Fixture::new();
    // A board this node will never store (`stores` leaves it out).
    let r = f
        .transit(&signed(PEER, "t3", "chan.nsfw.x", ""))
        .unwrap_err();
    assert!(r.reason.contains("carried"));
    assert_eq!(r.kind, Refused::Board);
    assert_eq!(r.remember, Remember::Block);
    // One it would store once a newgroup creates it: the article may be
    // fetched again then (state.md §4).
    let r = f
        .transit(&signed(PEER, "t3b", "alt.nowhere", ""))
        .unwrap_err();
    assert!(r.reason.contains("carried here yet"), "{}", r.reason);
    assert_eq!(r.kind, Refused::Board);
    assert_eq!(r.remember, Remember::Record);
    let looped = Bytes::from(
        String::from_utf8(signed(PEER, "t4", "misc.test", "").to_vec())
            .unwrap()
            .replace("there.example!", "there.example!here.example!"),
    );
    let r = f.transit(&looped).unwrap_err();
    assert!(r.reason.contains("loop"));
    assert_eq!(r.kind, Refused::Path);
}

#[test]
fn unknown_keys_wait_and_revoked_keys_are_refused_from_the_revocations_date() {
    let f = Fixture::new();
    let p = f
        .transit(&signed(STRANGER, "t5", "misc.test", ""))
        .expect("pending");
    assert_eq!(
        p.disposition,
        Disposition::Pending {
            key: key(STRANGER).verifying_key().to_bytes()
        }
    );
    f.trust.learn(
        key(STRANGER).verifying_key().to_bytes(),
        KeyRecord::Passport {
            issuer: [NODE; 32],
            micros: 1,
        },
    );
    assert_eq!(
        f.transit(&signed(STRANGER, "t6", "misc.test", ""))
            .expect("known")
            .disposition,
        Disposition::File
    );
    // The fixtures' Date, Sun, 22 Nov 2026 04:20:54 +0000.
    let dated = 1_795_321_254;
    let revoke = |since| {
        f.trust.learn(
            key(STRANGER).verifying_key().to_bytes(),
            KeyRecord::Revoked {
                by: [NODE; 32],
                micros: 2,
                since,
            },
        )
    };
    // Revoked at the article's Date: what it signed until then stands.
    revoke(dated);
    assert_eq!(
        f.transit(&signed(STRANGER, "t7", "misc.test", ""))
            .expect("signed before the revocation")
            .disposition,
        Disposition::File
    );
    revoke(dated - 1);
    let r = f
        .transit(&signed(STRANGER, "t8", "misc.test", ""))
        .unwrap_err();
    assert!(r.reason.contains("revoked"), "{}", r.reason);
    assert_eq!(r.kind, Refused::Authority);
}

#[test]
fn unsigned_post_is_signed_by_the_node() {
    let f = Fixture::new();
    let raw = Bytes::from_static(b"From: a@b\r\nNewsgroups: misc.test\r\nSubject: hi\r\n\r\nx\r\n");
    let p = f.ingest().prepare(raw, &Source::Post).expect("accepted");
    let stored = Article::parse(p.bytes.clone()).unwrap();
    assert_eq!(signing::verify(&stored), Ok(key(NODE).verifying_key()));
    assert_eq!(
        stored.header_unfolded("Path"),
        Some(b"here.example!.POSTED!not-for-mail".to_vec())
    );
    assert!(stored.header("Injection-Date").is_some());
    assert_eq!(
        signing::message_id_key(&p.message_id),
        Some(key(NODE).verifying_key())
    );
    let r = f
        .ingest()
        .prepare(
            Bytes::from_static(
                b"From: a@b\r\nNewsgroups: misc.test,nope\r\nSubject: hi\r\n\r\nx\r\n",
            ),
            &Source::Post,
        )
        .unwrap_err();
    assert!(r.reason.contains("nope"));
    assert_eq!(r.remember, Remember::No);
}

#[test]
fn passports_only_from_trusted_issuers() {
    let f = Fixture::new();
    let user = key_hex(&key(STRANGER).verifying_key());
    let by_node = f
        .transit(&signed(
            NODE,
            "c1",
            "misc.test",
            &format!("Control: passport {user}\r\n"),
        ))
        .expect("ok");
    assert_eq!(
        by_node.effects,
        vec![Effect::Passport {
            key: key(STRANGER).verifying_key().to_bytes(),
            issuer: key(NODE).verifying_key().to_bytes()
        }]
    );
    assert_eq!(by_node.groups, vec![CONTROL_GROUP.to_string()]);
    let r = f
        .transit(&signed(
            PEER,
            "c2",
            "misc.test",
            &format!("Control: passport {user}\r\n"),
        ))
        .unwrap_err();
    assert!(r.reason.contains("passports"), "{}", r.reason);
    assert_eq!(r.kind, Refused::Authority);
}

#[test]
fn cancels_by_author_or_moderator_only() {
    let mut f = Fixture::new();
    let original = signed(PEER, "o1", "misc.test", "");
    let target = String::from_utf8(id_of(&original)).unwrap();
    f.history.0.insert(
        target.as_bytes().to_vec(),
        HistoryEntry::Accepted {
            micros: 1,
            xref: "misc.test:1".into(),
        },
    );
    let cancel = |seed: u8, unique: &str| {
        signed(
            seed,
            unique,
            "misc.test",
            &format!("Control: cancel {target}\r\n"),
        )
    };
    assert!(matches!(
        f.transit(&cancel(PEER, "c3")).expect("author").effects[..],
        [Effect::Remove { .. }]
    ));
    // A moderator's authority shows in the target's own boards: the
    // cancel is kept under the target and judged from it (state.md §4a).
    assert!(matches!(
        &f.transit(&cancel(MODERATOR, "c4"))
            .expect("moderator")
            .effects[..],
        [Effect::RecordCancel { target: t, .. }] if *t == target.as_bytes()
    ));
    let r = f.transit(&cancel(NODE, "c5")).unwrap_err();
    assert!(r.reason.contains("neither the author"), "{}", r.reason);
    assert_eq!(r.kind, Refused::Authority);
}

#[test]
fn supersedes_by_the_author() {
    let f = Fixture::new();
    let old = String::from_utf8(id_of(&signed(PEER, "v1", "misc.test", ""))).unwrap();
    let edit = f
        .transit(&signed(
            PEER,
            "v2",
            "misc.test",
            &format!("Supersedes: {old}\r\n"),
        ))
        .expect("edit");
    // Kept as an article of its own, indexed under what it edits; which
    // version readers see is settled from the store (state.md §3b).
    assert!(edit.effects.is_empty());
    assert_eq!(edit.supersedes.as_deref(), Some(old.as_bytes()));
    assert_eq!(edit.thread, old.as_bytes(), "an edit stays in its thread");
    // A key that is neither the author nor a moderator of the edit's
    // boards may never edit it, whatever the target turns out to be.
    assert!(f
        .transit(&signed(
            NODE,
            "v3",
            "misc.test",
            &format!("Supersedes: {old}\r\n")
        ))
        .is_err());
    let malformed = f.transit(&signed(
        PEER,
        "v4",
        "misc.test",
        &format!("Supersedes: {old} {old}\r\n"),
    ));
    assert!(malformed.is_err_and(|r| r.reason.contains("exactly one")));
}

#[test]
fn board_control_needs_board_rights() {
    let f = Fixture::new();
    let p = f
        .transit(&signed(
            PEER,
            "g1",
            "chan.new",
            "Control: newgroup chan.new\r\n",
        ))
        .expect("peer manages chan.*");
    assert!(
        matches!(&p.effects[..], [Effect::Board { name, control }] if name == "chan.new" && matches!(control.change, crate::store::schema::BoardChange::New { .. }))
    );
    assert!(f
        .transit(&signed(
            PEER,
            "g2",
            "misc.x",
            "Control: newgroup misc.x\r\n"
        ))
        .is_err());
    assert!(f
        .transit(&signed(
            STRANGER,
            "g3",
            "chan.y",
            "Control: rmgroup chan.y\r\n"
        ))
        .is_ok_and(|p| p.effects.is_empty()));
}

#[test]
fn local_controls_only_by_post_with_the_node_key() {
    let f = Fixture::new();
    let transit = signed(NODE, "l1", "misc.test", "Control: local-remove <x@y>\r\n");
    assert!(f.transit(&transit).is_err());
    let post = signed(NODE, "l2", "misc.test", "Control: local-remove <x@y>\r\n");
    let p = f.ingest().prepare(post, &Source::Post).expect("local");
    assert_eq!(p.disposition, Disposition::Local);
    assert!(matches!(&p.effects[..], [Effect::Remove { .. }]));
}

#[test]
fn unsigned_posts_cannot_borrow_the_node_keys_authority() {
    let f = Fixture::new();
    let user = key_hex(&key(STRANGER).verifying_key());
    for extra in [
        format!("Control: passport {user}"),
        "Control: newgroup misc.evil".into(),
        "Supersedes: <x@y>".into(),
    ] {
        let raw = Bytes::from(format!(
            "From: a@b\r\nNewsgroups: misc.test\r\nSubject: hi\r\n{extra}\r\n\r\nx\r\n"
        ));
        let r = f.ingest().prepare(raw, &Source::Post).unwrap_err();
        assert!(
            r.reason.contains("must be signed by their author"),
            "{extra}: {}",
            r.reason
        );
    }
}

#[test]
fn long_paths_are_refused() {
    let f = Fixture::new();
    let hops = (0..70)
        .map(|i| format!("hop{i}"))
        .collect::<Vec<_>>()
        .join("!");
    let raw = signed(PEER, "h1", "misc.test", "");
    let long = Bytes::from(
        String::from_utf8(raw.to_vec())
            .unwrap()
            .replace("there.example!", &format!("{hops}!")),
    );
    let r = f.transit(&long).unwrap_err();
    assert!(r.reason.contains("more than the limit"), "{}", r.reason);
    assert_eq!(r.kind, Refused::Path);
}

#[test]
fn newgroups_outside_the_store_policy_create_nothing() {
    let f = Fixture::new();
    let p = f
        .transit(&signed(
            PEER,
            "s1",
            "chan.nsfw.x",
            "Control: newgroup chan.nsfw.x\r\n",
        ))
        .expect("valid control");
    assert!(p.effects.is_empty(), "{:?}", p.effects);
    assert_eq!(
        p.groups,
        vec![CONTROL_GROUP.to_string()],
        "the control message itself is kept"
    );
}

#[test]
fn a_plain_peer_s_unsigned_articles_are_taken_only_where_configured() {
    let f = Fixture::new();
    let plain = |extra: &str, n: u32| {
        Bytes::from(format!(
            "Path: inn.example!not-for-mail\r\nFrom: a@b\r\nNewsgroups: misc.test\r\nSubject: s\r\nDate: Sun, 22 Nov 2026 04:20:54 +0000\r\nMessage-ID: <plain{n}@inn.example>\r\n{extra}\r\nbody\r\n"
        ))
    };
    let from = |peer: Option<&str>, raw: &Bytes| {
        f.ingest().prepare(
            raw.clone(),
            &Source::Transit {
                offered_id: id_of(raw),
                peer: peer.map(str::to_string),
            },
        )
    };
    let p = from(Some("inn.example"), &plain("", 1)).expect("taken from the plain peer");
    assert_eq!(p.groups, vec!["misc.test".to_string()]);
    assert_eq!(p.disposition, Disposition::File);
    let text = String::from_utf8(p.bytes.to_vec()).unwrap();
    assert!(
        text.starts_with("Path: here.example!inn.example!not-for-mail\r\n"),
        "{text}"
    );
    assert!(
        !text.contains(signing::HEADER),
        "stored as it came, unsigned"
    );

    // Not from a keyed peer, nor from nobody.
    for peer in [Some("peer"), None] {
        let r = from(peer, &plain("", 2)).expect_err("refused");
        assert!(r.reason.contains("not signed"), "{}", r.reason);
        assert_eq!(r.kind, Refused::Signature);
    }
    // Nothing unsigned changes state, and loops are caught as usual.
    let r = from(Some("inn.example"), &plain("Control: cancel <x@y>\r\n", 3)).expect_err("control");
    assert!(r.reason.contains("must be signed"), "{}", r.reason);
    assert_eq!(r.kind, Refused::Authority);
    assert_eq!(r.remember, Remember::Record);
    let looped = Bytes::from(
        String::from_utf8(plain("", 4).to_vec())
            .unwrap()
            .replace("Path: inn.example!", "Path: inn.example!here.example!"),
    );
    let r = from(Some("inn.example"), &looped).expect_err("loop");
    assert!(r.reason.contains("loop"), "{}", r.reason);
    assert_eq!(r.kind, Refused::Path);
}

/// nntp.md §5.4: what the injection rules refuse at POST is carried in
/// transit under its author's signature, and the one date rule of transit
/// (over a day ahead) refuses for the record only.
#[test]
fn injection_rules_judge_posts_and_not_transit() {
    let f = Fixture::new();
    let cases: &[(&str, &str)] = &[
        ("Injection-Info: elsewhere.example\r\n", "Injection-Info"),
        (
            "Injection-Date: Sun, 22 Nov 2026 04:21:00 +0000\r\n",
            "Injection-Date",
        ),
        ("Keywords: \r\n", "empty"),
        ("X-Trace: a\rb\r\n", "bare CR"),
        ("Keywords: a\r\n \r\n b\r\n", "only whitespace"),
        ("Expires: whenever\r\n", "Expires"),
        ("Followup-To: alt.nowhere\r\n", "not carried"),
    ];
    for (i, (extra, reason)) in cases.iter().enumerate() {
        let raw = signed(PEER, &format!("inj{i}"), "misc.test", extra);
        f.transit(&raw)
            .unwrap_or_else(|r| panic!("{extra:?} in transit: {}", r.reason));
        let r = f
            .ingest()
            .prepare(raw, &Source::Post)
            .expect_err("refused at POST");
        assert!(r.reason.contains(reason), "{extra:?}: {}", r.reason);
        assert_eq!(r.remember, Remember::No);
    }
    // Path is not signed: a relay may meet any Path, .POSTED included.
    let posted = Bytes::from(
        String::from_utf8(signed(PEER, "inj-posted", "misc.test", "").to_vec())
            .unwrap()
            .replace(
                "there.example!not-for-mail",
                "there.example!.POSTED!not-for-mail",
            ),
    );
    f.transit(&posted).expect("a .POSTED Path in transit");
    let r = f.ingest().prepare(posted, &Source::Post).unwrap_err();
    assert!(r.reason.contains(".POSTED"), "{}", r.reason);

    let k = key(PEER);
    let id = String::from_utf8(new_message_id(&k.verifying_key(), "ahead", "example.org")).unwrap();
    let ahead = sign(
        &Article::parse(Bytes::from(format!(
            "Path: there.example!not-for-mail\r\nFrom: a@b\r\nNewsgroups: misc.test\r\nSubject: s\r\nDate: Tue, 24 Nov 2026 06:00:00 +0000\r\nMessage-ID: {id}\r\n\r\nbody\r\n"
        )))
        .unwrap(),
        &k,
    )
    .unwrap();
    let r = f.transit(&ahead).unwrap_err();
    assert!(r.reason.contains("ahead"), "{}", r.reason);
    assert_eq!(
        r.remember,
        Remember::Record,
        "offered again later, it is taken"
    );
    let later = Ingest {
        now: now() + chrono::Duration::days(2),
        ..f.ingest()
    };
    later
        .prepare(
            ahead.clone(),
            &Source::Transit {
                offered_id: id.into_bytes(),
                peer: None,
            },
        )
        .expect("no longer ahead");
}

//! Property tests that throw arbitrary bytes at every parser: none may
//! panic, and the codec must never hold more than its limits.

use bytes::{Bytes, BytesMut};
use proptest::prelude::*;
use tidings::codec::{Frame, NntpCodec};
use tidings::groups::Groups;
use tidings::ingest::{Ingest, Source};
use tidings::proto::article::Article;
use tidings::proto::command;
use tidings::proto::wildmat::Wildmat;
use tidings::store::schema::GroupRecord;
use tokio_util::codec::Decoder;

/// Bytes biased towards the protocol's special characters.
fn nntp_bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(
        prop_oneof![
            4 => prop::sample::select(b"\r\n.:<>@ \t!*?[]^,-0123456789aZ\x00".to_vec()),
            1 => any::<u8>(),
        ],
        0..max,
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn command_parser_never_panics(line in nntp_bytes(600)) {
        let _ = command::parse(&line);
    }

    #[test]
    fn article_parser_and_checks_never_panic(raw in nntp_bytes(2000)) {
        if let Ok(article) = Article::parse(Bytes::from(raw)) {
            let _ = article.check(tidings::proto::article::TRANSIT_REQUIRED);
            let _ = article.newsgroups();
            let _ = article.body_lines();
            let _ = article.head();
        }
    }

    #[test]
    fn ingest_never_panics(raw in nntp_bytes(2000), post in any::<bool>()) {
        let groups = Groups::new([("a.b".to_string(), GroupRecord::new(0, String::new()))]);
        let key = ed25519_dalek::SigningKey::from_bytes(&[1; 32]);
        let peers = tidings::peers::Peers::default();
        let trust = tidings::trust::Trust::new(&tidings::config::Config::default(), key.verifying_key(), &peers, []).expect("trust");
        let config = tidings::config::Config::default().validated().expect("valid");
        let access = tidings::access::Access::from_rules(&config);
        let ingest = Ingest { node: "n", groups: &groups, trust: &trust, peers: &peers, node_key: &key, lookup: &tidings::ingest::EmptyLookup,
            hop_limit: 64,
            stores: &tidings::proto::wildmat::Wildmat::any(),
            premoderate: None, config: &config, access: &access, now: chrono::Utc::now() };
        let source = if post { Source::Post } else { Source::Transit { offered_id: b"<x@y>".to_vec(), peer: None } };
        let _ = ingest.prepare(Bytes::from(raw), &source);
    }

    #[test]
    fn control_parser_never_panics(value in nntp_bytes(300)) {
        let _ = tidings::proto::control::parse(&value);
    }

    #[test]
    fn audience_header_parser_never_panics(value in nntp_bytes(200)) {
        let _ = tidings::proto::audience::Audience::parse_header(&value);
    }

    #[test]
    fn signature_header_parser_never_panics(value in nntp_bytes(300)) {
        let _ = tidings::proto::signing::SignatureField::parse(&value);
    }

    /// Whatever parses as a reconciliation entry encodes back to a line that
    /// parses to the same entry.
    #[test]
    fn reconciliation_entries_never_panic_and_round_trip(line in nntp_bytes(600)) {
        if let Ok(entry) = tidings::proto::reconcile::Entry::parse(&line) {
            let mut out = Vec::new();
            entry.encode(&mut out);
            let again = out.strip_suffix(b"\r\n").expect("encoded lines end in CRLF");
            prop_assert_eq!(tidings::proto::reconcile::Entry::parse(again), Ok(entry));
        }
    }

    #[test]
    fn wildmat_never_panics(pattern in nntp_bytes(40), name in nntp_bytes(40)) {
        if let Ok(w) = Wildmat::parse(&pattern) {
            let _ = w.matches(&name);
        }
    }

    #[test]
    fn codec_stays_bounded_and_in_sync(input in nntp_bytes(4000), step in 1usize..64, block in any::<bool>()) {
        let (max_line, max_block) = (512, 256);
        let mut codec = NntpCodec::new(max_line, max_block);
        if block {
            codec.expect_block();
        }
        let mut buf = BytesMut::new();
        for chunk in input.chunks(step) {
            buf.extend_from_slice(chunk);
            while let Some(frame) = codec.decode(&mut buf).expect("infallible") {
                match frame {
                    Frame::Line(line) => prop_assert!(line.len() < max_line),
                    Frame::Block(b) => prop_assert!(b.len() <= max_block),
                    Frame::LineTooLong | Frame::BlockTooLarge { .. } => {}
                }
            }
            // Never more buffered than one line or one block's worth.
            prop_assert!(buf.len() <= max_line.max(max_block) + step, "buffered {}", buf.len());
        }
    }
}

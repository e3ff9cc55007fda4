//! Posts held for premoderation and posts pending verification, driven
//! through the node's one ingest entry point with a clock the test moves:
//! held posts wait for the operator however long it takes, pending ones
//! expire after `signing.pending_days`, and an approved edit replaces what
//! it edits.

mod common;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use common::*;
use ed25519_dalek::SigningKey;
use tidings::clock::Clock;
use tidings::ingest::Source;
use tidings::node::{Ingested, Node};
use tidings::release;
use tidings::store::commit::Stored;
use tidings::store::schema::HistoryEntry;

const DAY: Duration = Duration::from_secs(86_400);

struct Harness {
    open: OpenNode,
    clock: Clock,
    node_key: SigningKey,
}

impl Harness {
    fn new() -> Harness {
        let clock = Clock::manual_from_now();
        let open = OpenNode::new(clock.clone(), |cfg| {
            cfg.node.premoderate = Some("test.two".into());
            cfg.signing.pending_days = 3;
        });
        let node_key =
            tidings::keys::read_secret_key(&open.dir().join("node.key")).expect("node key");
        Harness {
            open,
            clock,
            node_key,
        }
    }

    fn node(&self) -> &Arc<Node> {
        self.open.node()
    }

    async fn offer(&self, text: &str) -> Ingested {
        let id = text
            .lines()
            .find_map(|l| l.strip_prefix("Message-ID: "))
            .expect("has an id")
            .as_bytes()
            .to_vec();
        let source = Source::Transit {
            offered_id: id,
            peer: None,
        };
        self.node()
            .ingest(Bytes::copy_from_slice(text.as_bytes()), source, None)
            .await
    }

    /// POSTs a control message signed with the node key, as the operator's
    /// `tidings post --key node.key --control ...` does.
    async fn operator(&self, command: &str) -> Ingested {
        let id = unique_id_for("operator", &self.node_key);
        // POST takes only a current Date (nntp.md §5.3): the node's now.
        let text = article_text(&id, "test.two", "")
            .replacen("\r\n\r\n", &format!("\r\nControl: {command}\r\n\r\n"), 1)
            .replace(ARTICLE_DATE, &self.clock.now().to_rfc2822());
        let signed = sign_with(&text, &self.node_key);
        self.node()
            .ingest(Bytes::from(signed), Source::Post, None)
            .await
    }

    fn history(&self, id: &str) -> Option<HistoryEntry> {
        self.node().store.history(id.as_bytes()).expect("history")
    }
}

fn stored(outcome: &Ingested) -> &Stored {
    match outcome {
        Ingested::Stored { stored, .. } => stored,
        other => panic!("not stored: {other:?}"),
    }
}

#[tokio::test]
async fn a_held_post_outlives_pending_days_and_a_pending_one_does_not() {
    let h = Harness::new();
    let held_id = unique_id("held");
    let outcome = h
        .offer(&article(&held_id, "test.two", "wait for me\r\n"))
        .await;
    assert_eq!(stored(&outcome), &Stored::Held);
    let stranger_id = unique_id_for("pending", &stranger());
    let pending = sign_with(
        &article_text(&stranger_id, "test.one", "who am I\r\n"),
        &stranger(),
    );
    assert_eq!(stored(&h.offer(&pending).await), &Stored::Pending);

    h.clock.advance(4 * DAY);
    let pass = release::release(h.node(), None).await;
    assert_eq!(pass.expired, 1, "{pass:?}");
    assert!(
        matches!(h.history(&stranger_id), Some(HistoryEntry::Refused { reason, .. }) if reason.contains("passport")),
        "{:?}",
        h.history(&stranger_id)
    );
    assert!(
        matches!(h.history(&held_id), Some(HistoryEntry::Held { .. })),
        "the held post is still held after pending_days: {:?}",
        h.history(&held_id)
    );
    assert!(h
        .node()
        .store
        .held(held_id.as_bytes())
        .expect("read")
        .is_some());

    let approved = h.operator(&format!("local-approve {held_id}")).await;
    assert_eq!(stored(&approved), &Stored::Applied);
    assert!(matches!(
        h.history(&held_id),
        Some(HistoryEntry::Accepted { .. })
    ));
    assert!(h
        .node()
        .store
        .held(held_id.as_bytes())
        .expect("read")
        .is_none());
    assert_eq!(h.node().groups.get("test.two").expect("group").count, 1);
}

#[tokio::test]
async fn an_approved_edit_supersedes_the_post_it_replaces() {
    let h = Harness::new();
    let user = SigningKey::from_bytes(&[91; 32]);
    let passport = h
        .operator(&format!(
            "passport {}",
            hex::encode(user.verifying_key().as_bytes())
        ))
        .await;
    assert_eq!(
        stored(&passport),
        &Stored::Accepted {
            numbers: vec![("control".into(), 1)]
        }
    );

    let original = unique_id_for("original", &user);
    let text = sign_with(
        &article_text(&original, "test.two", "first words\r\n"),
        &user,
    );
    assert_eq!(stored(&h.offer(&text).await), &Stored::Held);
    assert_eq!(
        stored(&h.operator(&format!("local-approve {original}")).await),
        &Stored::Applied
    );
    assert!(matches!(
        h.history(&original),
        Some(HistoryEntry::Accepted { .. })
    ));

    let edit = unique_id_for("edit", &user);
    let text = article_text(&edit, "test.two", "better words\r\n")
        .replacen(
            "\r\n\r\n",
            &format!("\r\nSupersedes: {original}\r\n\r\n"),
            1,
        )
        .replace(ARTICLE_DATE, "Sun, 22 Nov 2026 05:00:00 +0000");
    let text = sign_with(&text, &user);
    assert_eq!(stored(&h.offer(&text).await), &Stored::Held);
    assert!(
        matches!(h.history(&original), Some(HistoryEntry::Accepted { .. })),
        "a held edit changes nothing yet"
    );
    assert_eq!(
        stored(&h.operator(&format!("local-approve {edit}")).await),
        &Stored::Applied
    );
    assert!(matches!(
        h.history(&edit),
        Some(HistoryEntry::Accepted { .. })
    ));
    // The settling (a task of the running node) decides which version
    // readers see; here it is run by hand.
    tidings::settle::settle(
        h.node(),
        tidings::node::Settle::Targets(vec![original.clone().into_bytes()]),
    )
    .await;
    assert_eq!(
        h.history(&original),
        Some(HistoryEntry::Superseded {
            micros: match h.history(&original) {
                Some(HistoryEntry::Superseded { micros, .. }) => micros,
                other => panic!("the approved edit supersedes the original: {other:?}"),
            },
            by: edit.clone(),
        })
    );
    assert!(
        h.node()
            .store
            .article(original.as_bytes())
            .expect("read")
            .is_some(),
        "the first version is kept, reachable from the edit's chain"
    );
    assert_eq!(h.node().groups.get("test.two").expect("group").count, 1);
}

#[tokio::test]
async fn approving_what_is_not_held_is_refused_with_a_reason() {
    let h = Harness::new();
    match h.operator("local-approve <nothing@here.invalid>").await {
        Ingested::Refused(rejection) => {
            assert!(
                rejection.reason.contains("not held"),
                "{}",
                rejection.reason
            )
        }
        other => panic!("approved nothing: {other:?}"),
    }
}

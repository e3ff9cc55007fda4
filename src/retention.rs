//! Retention (README "Retention", issue 17): how long an article is kept,
//! like INN's expire.ctl, decided from the article alone (its Date, its
//! boards, its Expires header) and the node's `[[retention]]` rules, so
//! two nodes with the same rules expire the same articles. An expired
//! article is removed with its indexes and remembered as removed (a
//! tombstone in history), so neither catch-up nor a peer's offer brings it
//! back, and an article that arrives already past its time is refused.

use std::sync::Arc;

use crate::config::RetentionRule;
use crate::node::Node;
use crate::proto::wildmat::Wildmat;
use crate::store::commit::Effect;
use crate::store::StoreError;

const DAY: i64 = 86_400;

/// The last rule matching `board`: its days and Expires floor.
fn rule<'a>(rules: &'a [RetentionRule], board: &str) -> Option<&'a RetentionRule> {
    rules
        .iter()
        .rev()
        .find(|r| Wildmat::parse(r.boards.as_bytes()).is_ok_and(|w| w.matches(board.as_bytes())))
}

/// When an article dated `date` (seconds since the epoch), filed in
/// `boards` here, with `expires` from its Expires header, is to go: None
/// while some board keeps it forever. The longest-kept board decides; an
/// Expires header may bring the end forward, not before that board's
/// `expires_min_days`, and never pushes it back.
pub fn end(
    rules: &[RetentionRule],
    boards: &[String],
    date: i64,
    expires: Option<i64>,
) -> Option<i64> {
    let mut longest: Option<&RetentionRule> = None;
    for board in boards {
        let r = rule(rules, board)?;
        if longest.is_none_or(|l| r.days > l.days) {
            longest = Some(r);
        }
    }
    let r = longest?;
    let kept = date.saturating_add(
        i64::try_from(r.days)
            .unwrap_or(i64::MAX / DAY)
            .saturating_mul(DAY),
    );
    Some(match expires {
        Some(expires) => {
            let floor = date.saturating_add(
                i64::try_from(r.expires_min_days)
                    .unwrap_or(0)
                    .saturating_mul(DAY),
            );
            expires.max(floor).min(kept)
        }
        None => kept,
    })
}

/// The seconds-since-epoch value of a Date or Expires header.
pub fn seconds(value: &[u8]) -> Option<i64> {
    crate::proto::article::parse_date(value).map(|d| d.timestamp())
}

/// Removes every article whose time has come, in the boards a rule
/// covers; returns how many. Each board's overview is read in full: a
/// pass costs a read of every overview record of those boards.
pub async fn expire(node: &Arc<Node>) -> Result<u64, StoreError> {
    if node.config.retention.is_empty() {
        return Ok(0);
    }
    let reading = node.clone();
    let effects = tokio::task::spawn_blocking(move || -> Result<Vec<Effect>, StoreError> {
        let node = reading;
        let now = node.clock.now().timestamp();
        let rules = &node.config.retention;
        let mut seen = std::collections::HashSet::new();
        let mut effects = Vec::new();
        for (board, _) in node.store.groups()? {
            if rule(rules, &board).is_none() {
                continue;
            }
            for (_, record) in node.store.overview_range(&board, 1, u64::MAX)? {
                let fields: Vec<&[u8]> = record.split(|&b| b == b'\t').collect();
                // Overview fields: subject, from, date, message-id, ...
                let (Some(id), Some(date)) =
                    (fields.get(3), fields.get(2).and_then(|d| seconds(d)))
                else {
                    continue;
                };
                if !seen.insert(id.to_vec()) {
                    continue;
                }
                let Some(raw) = node.store.article(id)? else {
                    continue;
                };
                let Ok(article) = crate::proto::article::Article::parse(bytes::Bytes::from(raw))
                else {
                    continue;
                };
                let boards: Vec<String> = article
                    .newsgroups()
                    .iter()
                    .map(|b| String::from_utf8_lossy(b).into_owned())
                    .filter(|b| node.groups.contains(b))
                    .collect();
                let expires = article.header_unfolded("Expires").and_then(|v| seconds(&v));
                if end(rules, &boards, date, expires).is_some_and(|at| at <= now) {
                    effects.push(Effect::Remove {
                        message_id: id.to_vec(),
                        reason: "expired: kept as long as its boards' retention says".into(),
                    });
                }
            }
        }
        Ok(effects)
    })
    .await
    .map_err(|_| StoreError::CommitterGone)??;
    let count = effects.len() as u64;
    if count > 0 {
        tracing::info!(count, "expired articles removed");
        node.committer.apply(effects).await;
    }
    Ok(count)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules() -> Vec<RetentionRule> {
        vec![
            RetentionRule {
                boards: "chan.*".into(),
                days: 30,
                expires_min_days: 1,
            },
            RetentionRule {
                boards: "chan.news".into(),
                days: 2,
                expires_min_days: 1,
            },
        ]
    }

    #[test]
    fn the_longest_kept_board_decides_and_expires_only_brings_it_forward() {
        let (r, date) = (rules(), 1_000 * DAY);
        let b = |names: &[&str]| names.iter().map(|n| n.to_string()).collect::<Vec<_>>();
        assert_eq!(
            end(&r, &b(&["chan.news"]), date, None),
            Some(date + 2 * DAY)
        );
        assert_eq!(end(&r, &b(&["chan.b"]), date, None), Some(date + 30 * DAY));
        assert_eq!(
            end(&r, &b(&["chan.news", "chan.b"]), date, None),
            Some(date + 30 * DAY)
        );
        assert_eq!(
            end(&r, &b(&["chan.news", "misc.test"]), date, None),
            None,
            "forever there"
        );
        assert_eq!(
            end(&r, &b(&["chan.b"]), date, Some(date + 5 * DAY)),
            Some(date + 5 * DAY)
        );
        assert_eq!(
            end(&r, &b(&["chan.b"]), date, Some(date + 60)),
            Some(date + DAY),
            "floor"
        );
        assert_eq!(
            end(&r, &b(&["chan.b"]), date, Some(date + 90 * DAY)),
            Some(date + 30 * DAY)
        );
    }
}

//! Retention (README "Retention", issue 17): how long an article is kept,
//! like INN's expire.ctl, decided from the article alone (its Date, its
//! boards, its Expires header) and the node's `[[retention]]` rules, so
//! two nodes with the same rules expire the same articles. Pure: ingest
//! refuses a copy already past its time, and the sweep
//! ([`crate::sweep::expire`]) removes what has expired.

use crate::config::RetentionRule;
use crate::proto::wildmat::Wildmat;

const DAY: i64 = 86_400;

/// The `[[retention]]` rules with their wildmats parsed (config `Valid`).
pub type Rules = [(Wildmat, RetentionRule)];

/// The last rule matching `board`: its days and Expires floor.
pub fn rule<'a>(rules: &'a Rules, board: &str) -> Option<&'a RetentionRule> {
    rules
        .iter()
        .rev()
        .find(|(boards, _)| boards.matches(board.as_bytes()))
        .map(|(_, rule)| rule)
}

/// When an article dated `date` (seconds since the epoch), filed in
/// `boards` here, with `expires` from its Expires header, is to go: None
/// while some board keeps it forever. The longest-kept board decides; an
/// Expires header may bring the end forward, not before that board's
/// `expires_min_days`, and never pushes it back.
pub fn end(rules: &Rules, boards: &[String], date: i64, expires: Option<i64>) -> Option<i64> {
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

/// When `article`, filed in `boards` here, is to go ([`end`] of its Date
/// and Expires headers); None without a Date or while kept forever.
pub fn article_end(
    rules: &Rules,
    article: &crate::proto::article::Article,
    boards: &[String],
) -> Option<i64> {
    if rules.is_empty() {
        return None;
    }
    let date = article.header_unfolded("Date").and_then(|d| seconds(&d))?;
    let expires = article.header_unfolded("Expires").and_then(|d| seconds(&d));
    end(rules, boards, date, expires)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules() -> Vec<(Wildmat, RetentionRule)> {
        [("chan.*", 30), ("chan.news", 2)]
            .map(|(boards, days)| {
                let rule = RetentionRule {
                    boards: boards.into(),
                    days,
                    expires_min_days: 1,
                };
                (Wildmat::parse(boards.as_bytes()).expect("wildmat"), rule)
            })
            .to_vec()
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

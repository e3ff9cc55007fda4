//! LIST variants, NEWGROUPS and NEWNEWS: what groups and articles exist.

use chrono::{DateTime, Utc};

use super::reader::{Answer, Cursor, Pages};
use super::Session;
use crate::proto::command::ListKind;
use crate::proto::wildmat::Wildmat;
use crate::proto::{Code, Reply};
use crate::store::schema::GroupRecord;

/// The overview fields in the order OVER sends them (RFC 3977 §8.4).
pub const OVERVIEW_FMT: &[&str] = &[
    "Subject:",
    "From:",
    "Date:",
    "Message-ID:",
    "References:",
    ":bytes",
    ":lines",
];

/// What LIST OVERVIEW.FMT says: the same fields, with the byte and line
/// counts under their older names, which RFC 3977 §8.4.2 still allows and
/// INN sends. slrn only uses XOVER when it sees exactly these; with the
/// newer names it fetches every header with HEAD instead.
const OVERVIEW_FMT_LISTED: &[&str] = &[
    "Subject:",
    "From:",
    "Date:",
    "Message-ID:",
    "References:",
    "Bytes:",
    "Lines:",
];

impl Session {
    fn active_line(&self, name: &str, record: &GroupRecord) -> Vec<u8> {
        let status = if self.node.config().node.posting {
            'y'
        } else {
            'n'
        };
        format!("{name} {} {} {status}", record.high, record.low).into_bytes()
    }

    /// Visible groups the filter matches; hidden boards are left out of
    /// listings but can still be selected by name.
    fn matching_groups(&self, filter: Option<&Wildmat>) -> Vec<(String, GroupRecord)> {
        let mut groups = self.node.groups.all();
        let who = self.identity();
        groups.retain(|(name, record)| !record.hidden && self.node.access().may_read(&who, name));
        if let Some(w) = filter {
            groups.retain(|(name, _)| w.matches(name.as_bytes()));
        }
        groups
    }

    pub(super) fn list(&self, kind: ListKind) -> Reply {
        let lines = match kind {
            ListKind::Active(filter) => self
                .matching_groups(filter.as_ref())
                .iter()
                .map(|(name, record)| self.active_line(name, record))
                .collect(),
            ListKind::Newsgroups(filter) => self
                .matching_groups(filter.as_ref())
                .iter()
                .map(|(name, record)| format!("{name}\t{}", record.description).into_bytes())
                .collect(),
            ListKind::OverviewFmt => OVERVIEW_FMT_LISTED
                .iter()
                .map(|f| f.as_bytes().to_vec())
                .collect(),
            // A lone ":" means any header can be asked for (RFC 3977 §8.6).
            ListKind::Headers => [":", ":bytes", ":lines"]
                .iter()
                .map(|f| f.as_bytes().to_vec())
                .collect(),
            // board, largest file in bytes, media types taken (files.md §2).
            ListKind::FileLimits(filter) => self
                .matching_groups(filter.as_ref())
                .iter()
                .map(|(name, _)| {
                    let limits = self.node.config().file_limits(name);
                    format!("{name} {} {}", limits.max_bytes, limits.types.join(",")).into_bytes()
                })
                .collect(),
        };
        Reply::lines(
            Code::LIST_FOLLOWS,
            Code::LIST_FOLLOWS.canonical_text(),
            lines,
        )
    }

    /// NEWGROUPS (RFC 3977 §7.3).
    pub(super) fn newgroups(&self, since: DateTime<Utc>) -> Reply {
        let lines = self
            .node
            .groups
            .all()
            .iter()
            .filter(|(name, record)| {
                !record.hidden && record.created >= since.timestamp() && self.may_read(name)
            })
            .map(|(name, record)| self.active_line(name, record))
            .collect();
        Reply::lines(
            Code::NEWGROUPS_FOLLOWS,
            Code::NEWGROUPS_FOLLOWS.canonical_text(),
            lines,
        )
    }

    /// NEWNEWS (RFC 3977 §7.4): articles by arrival time here, not by their
    /// Date header, filed in at least one group the wildmat matches.
    pub(super) fn newnews(&self, groups: Wildmat, since: DateTime<Utc>) -> Answer {
        let since = u64::try_from(since.timestamp_micros()).unwrap_or(0);
        let cursor = Cursor::Arrivals {
            from: since.to_be_bytes().to_vec(),
            groups,
            readable: self.readable_boards(),
        };
        let status = Reply::new(Code::NEWNEWS_FOLLOWS);
        Answer::Paged(Pages {
            status,
            cursor,
            refuse_empty: false,
            done: false,
        })
    }
}

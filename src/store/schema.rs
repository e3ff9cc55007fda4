//! The on-disk layout: every column family, its key and its value encoding,
//! declared in one place.
//!
//! | column family | key                          | value                               |
//! |---------------|------------------------------|-------------------------------------|
//! | `articles`    | message-id                   | article bytes, CRLF lines           |
//! | `history`     | message-id                   | [`HistoryEntry`]                    |
//! | `overview`    | group NUL number(u64 BE)     | overview record (TAB-separated)     |
//! | `arrival`     | micros(u64 BE) message-id    | newsgroups, comma-separated         |
//! | `groups`      | group name                   | [`GroupRecord`]                     |
//! | `keys`        | public key (32 bytes)        | [`KeyRecord`]: passports, rotations |
//! | `pending`     | public key, message-id       | arrival micros(u64 BE), article     |
//! | `held`        | message-id                   | arrival micros(u64 BE), article     |
//! | `outbox`      | peer NUL seq(u64 BE)         | queued micros(u64 BE), message-id   |
//! | `members`     | group NUL sha256(message-id) | message-id                          |
//! | `digests`     | group NUL depth(u8) prefix   | count(u64 LE), sum of hashes (merge)|
//! | `threads`     | root-id NUL message-id       | empty: the articles of each thread  |
//! | `moves`       | target-id NUL control-id     | [`MoveRecord`]                      |
//! | `boards`      | board NUL control-id         | [`BoardControl`]                    |
//! | `unfiled`     | board NUL message-id         | overview record                     |
//! | `refused`     | opening post's message-id    | reason: threads refused here        |
//! | `cancels`     | target-id NUL control-id     | signer's public key (32 bytes)      |
//! | `versions`    | superseded-id NUL edit-id    | empty: the edits naming each article|
//! | `authors`     | public key, message-id       | empty: what each key signed, filed  |
//! | `moved_from`  | board NUL message-id         | empty: articles moved out of a board|
//! | `changes`     | seq(u64 BE)                  | [`Change`]: the per-node change log |
//! | `board_threads`, `bumps`, `thread_posts` | see [`super::board_threads`] | each board's threads |
//! | `authored`    | public key, date(u64 BE), message-id | empty: what each key signed, by Date |
//! | `files`       | sha256 (32 bytes)            | [`FileRecord`]: a stored file's metadata |
//! | `file_refs`   | sha256 (32 bytes), message-id | empty: the articles referencing a file |
//! | `grants`      | owner, audience NUL, grantee | [`GrantRecord`]: the latest grant or ungrant |
//!
//! Big-endian numbers make RocksDB's byte order the numeric order, so a
//! group's articles and the arrival log are range scans.

pub const ARTICLES: &str = "articles";
pub const HISTORY: &str = "history";
pub const OVERVIEW: &str = "overview";
pub const ARRIVAL: &str = "arrival";
pub const GROUPS: &str = "groups";
pub const KEYS: &str = "keys";
pub const PENDING: &str = "pending";
/// Posts held for premoderation, apart from those waiting for a passport:
/// they wait for the operator, never for a clock.
pub const HELD: &str = "held";
pub const OUTBOX: &str = "outbox";
/// Each group's set for reconciliation (store/members.rs).
pub const MEMBERS: &str = "members";
pub const DIGESTS: &str = "digests";
/// Every filed article under its thread's opening post, so a move finds
/// the whole thread, replies that came before the opening post included.
pub const THREADS: &str = "threads";
/// Every move control under the article it names, kept whether or not
/// that article is here (protocol-spec/state.md §3).
pub const MOVES: &str = "moves";
/// Every newgroup, modgroup and rmgroup under its board, kept so the
/// board's state is worked out from all of them (protocol-spec/state.md §4).
pub const BOARDS: &str = "boards";
/// Stored articles waiting for a board this node would store but does not
/// have (yet, or again), with the overview record to file them under.
pub const UNFILED: &str = "unfiled";
/// Threads the operator refused (local-refuse-thread): their replies are
/// refused whenever they come.
pub const REFUSED: &str = "refused";
/// Cancels whose authority only the target can show (a moderator's, or of
/// a free Message-ID), kept under the target until it is judged
/// (protocol-spec/state.md §4a).
pub const CANCELS: &str = "cancels";
/// Every filed edit under the article its Supersedes names, kept whether
/// or not that article is here, so a post's versions are found from its
/// first Message-ID (protocol-spec/state.md §3b).
pub const VERSIONS: &str = "versions";
/// Every filed signed article under its signer, so a revocation finds
/// what the key signed after it (protocol-spec/state.md §4b).
pub const AUTHORS: &str = "authors";
/// Every article a move took out of a board, under that board, so the
/// board's rmgroup still finds what was posted to it (state.md §4).
pub const MOVED_FROM: &str = "moved_from";
/// What changed, in the order this node changed it: the event stream and
/// change cursors of the HTTP API read it (protocol-spec/http.md §4.5).
/// Sequence numbers are this node's own, never reused; the oldest are
/// dropped past `[storage] changes_kept`.
pub const CHANGES: &str = "changes";
/// Each board's threads, their bump order and their posts on the board
/// (store/board_threads.rs).
pub const BOARD_THREADS: &str = "board_threads";
pub const BUMPS: &str = "bumps";
pub const THREAD_POSTS: &str = "thread_posts";
/// Every filed signed article under its signer and its Date (seconds),
/// so a key's posts between two dates are a range read (http.md §4.6).
pub const AUTHORED: &str = "authored";
/// What the node knows of each file it stores (the bytes are under
/// `data_dir/files`, store/blobs.rs).
pub const FILES: &str = "files";
/// Every stored article under each file it references (a `Tidings-File`
/// header), so a file's references are a prefix read (files.md §5).
pub const FILE_REFS: &str = "file_refs";
/// Every file control (file-remove, file-placeholder, local-file-remove)
/// under the file it names, kept whether or not the post it names is here:
/// whether it holds is judged above the store (files.md §8).
pub const FILE_CONTROLS: &str = "file_controls";
/// Files whose removal was judged to hold, with why: never taken again.
pub const FILE_TOMBSTONES: &str = "file_tombstones";
/// Files fetched for a reader (on-demand), under the time they were last
/// read (u64 BE, microseconds): the cache evicted least-recently-used.
pub const FILE_ACCESS: &str = "file_access";
/// Files the operator pinned with local-file-pin (besides `[files]
/// pinned`): kept, fetched if missing, never evicted.
pub const FILE_PINS: &str = "file_pins";
/// Grants of audiences ([`GrantRecord`]): who may see protected posts.
pub const GRANTS: &str = "grants";

pub const ALL: &[&str] = &[
    ARTICLES,
    HISTORY,
    OVERVIEW,
    ARRIVAL,
    GROUPS,
    KEYS,
    PENDING,
    HELD,
    OUTBOX,
    MEMBERS,
    DIGESTS,
    THREADS,
    MOVES,
    BOARDS,
    UNFILED,
    REFUSED,
    CANCELS,
    VERSIONS,
    AUTHORS,
    MOVED_FROM,
    CHANGES,
    BOARD_THREADS,
    BUMPS,
    THREAD_POSTS,
    AUTHORED,
    FILES,
    FILE_REFS,
    FILE_CONTROLS,
    FILE_TOMBSTONES,
    FILE_ACCESS,
    FILE_PINS,
    GRANTS,
];

/// What a board control message does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BoardChange {
    New {
        description: String,
        hidden: bool,
    },
    Modify {
        description: Option<String>,
        hidden: Option<bool>,
    },
    Remove,
}

/// A newgroup, modgroup or rmgroup as kept under its board.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BoardControl {
    pub control: Vec<u8>,
    /// The control's Date, seconds since the epoch (0 before it).
    pub date: u64,
    pub change: BoardChange,
}

impl BoardControl {
    pub fn encode(&self) -> Vec<u8> {
        let flag = |hidden: Option<bool>| match hidden {
            None => 0,
            Some(true) => 1,
            Some(false) => 2,
        };
        let (tag, hidden, description) = match &self.change {
            BoardChange::New {
                description,
                hidden,
            } => (b'N', flag(Some(*hidden)), Some(description.as_str())),
            BoardChange::Modify {
                description,
                hidden,
            } => (b'M', flag(*hidden), description.as_deref()),
            BoardChange::Remove => (b'R', 0, None),
        };
        let mut out = Vec::with_capacity(11 + description.map_or(0, str::len));
        out.extend_from_slice(&self.date.to_be_bytes());
        out.extend_from_slice(&[tag, hidden, u8::from(description.is_some())]);
        out.extend_from_slice(description.unwrap_or_default().as_bytes());
        out
    }

    pub fn decode(control: &[u8], bytes: &[u8]) -> Option<BoardControl> {
        let date = u64::from_be_bytes(bytes.get(..8)?.try_into().ok()?);
        let (tag, hidden, has) = (*bytes.get(8)?, *bytes.get(9)?, *bytes.get(10)?);
        let text = String::from_utf8(bytes.get(11..)?.to_vec()).ok()?;
        let hidden = match hidden {
            0 => None,
            1 => Some(true),
            2 => Some(false),
            _ => return None,
        };
        let description = (has == 1).then_some(text);
        let change = match tag {
            b'N' => BoardChange::New {
                description: description.unwrap_or_default(),
                hidden: hidden.unwrap_or(false),
            },
            b'M' => BoardChange::Modify {
                description,
                hidden,
            },
            b'R' => BoardChange::Remove,
            _ => return None,
        };
        Some(BoardControl {
            control: control.to_vec(),
            date,
            change,
        })
    }

    /// Last writer wins: the later Date, then the greater Message-ID.
    pub fn order(&self) -> (u64, &[u8]) {
        (self.date, &self.control)
    }
}

/// A board's state as its control messages leave it, whatever order they
/// came in (state.md §4): each field is the one the latest control that
/// sets it gives.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BoardState {
    /// Created (newgroup) or removed (rmgroup); None when neither came.
    pub exists: Option<bool>,
    pub description: Option<String>,
    pub hidden: Option<bool>,
    /// The Date of the latest rmgroup: articles dated up to it are not
    /// filed in the board, even if a later newgroup brings it back.
    pub removed: Option<u64>,
}

impl BoardState {
    pub fn of(controls: &[BoardControl]) -> BoardState {
        let mut sorted: Vec<&BoardControl> = controls.iter().collect();
        sorted.sort_by(|a, b| a.order().cmp(&b.order()));
        sorted.dedup_by(|a, b| a.control == b.control);
        let mut state = BoardState::default();
        for control in sorted {
            match &control.change {
                BoardChange::New {
                    description,
                    hidden,
                } => {
                    state.exists = Some(true);
                    state.description = Some(description.clone());
                    state.hidden = Some(*hidden);
                }
                BoardChange::Modify {
                    description,
                    hidden,
                } => {
                    if let Some(description) = description {
                        state.description = Some(description.clone());
                    }
                    if let Some(hidden) = hidden {
                        state.hidden = Some(*hidden);
                    }
                }
                BoardChange::Remove => {
                    state.exists = Some(false);
                    state.removed = Some(control.date);
                }
            }
        }
        state
    }
}

/// Two Message-IDs joined by NUL, which neither can contain: a thread's
/// member or a target's move.
pub fn pair_key(first: &[u8], second: &[u8]) -> Vec<u8> {
    let mut key = Vec::with_capacity(first.len() + 1 + second.len());
    key.extend_from_slice(first);
    key.push(0);
    key.extend_from_slice(second);
    key
}

/// The prefix of every [`pair_key`] whose first part is `first`.
pub fn pair_prefix(first: &[u8]) -> Vec<u8> {
    pair_key(first, b"")
}

/// A move control as kept under its target: the order it wins by (its
/// Date, then its Message-ID, which is the key's second part), its
/// signer and the board it names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MoveRecord {
    pub control: Vec<u8>,
    /// The control's Date, seconds since the epoch (0 before it).
    pub date: u64,
    pub signer: [u8; 32],
    pub to: String,
}

impl MoveRecord {
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(40 + self.to.len());
        out.extend_from_slice(&self.date.to_be_bytes());
        out.extend_from_slice(&self.signer);
        out.extend_from_slice(self.to.as_bytes());
        out
    }

    pub fn decode(control: &[u8], bytes: &[u8]) -> Option<MoveRecord> {
        let date = u64::from_be_bytes(bytes.get(..8)?.try_into().ok()?);
        let signer = bytes.get(8..40)?.try_into().ok()?;
        let to = String::from_utf8(bytes.get(40..)?.to_vec()).ok()?;
        Some(MoveRecord {
            control: control.to_vec(),
            date,
            signer,
            to,
        })
    }

    /// Last writer wins: the later Date, then the greater Message-ID.
    pub fn order(&self) -> (u64, &[u8]) {
        (self.date, &self.control)
    }
}

/// A peer's outbox entries sort by sequence number under its name.
pub fn outbox_key(peer: &str, seq: u64) -> Vec<u8> {
    overview_key(peer, seq)
}

pub fn outbox_value(micros: u64, message_id: &[u8]) -> Vec<u8> {
    arrival_key(micros, message_id)
}

/// Stored under this key in the default column family; bumped when an
/// encoding changes incompatibly.
pub const SCHEMA_KEY: &[u8] = b"schema-version";
pub const SCHEMA_VERSION: &[u8] = b"6";
/// Version 5 had no index of each board's threads nor of its signers'
/// posts by Date; opening such a store builds them.
pub const SCHEMA_WITHOUT_BOARD_THREADS: &[u8] = b"5";
/// Version 4 kept no sets of the pending and held posts; opening such a
/// store builds them from history.
pub const SCHEMA_WITHOUT_WAITING_SETS: &[u8] = b"4";
/// Version 3 had no `threads` index; opening such a store builds it from
/// the stored articles.
pub const SCHEMA_WITHOUT_THREADS: &[u8] = b"3";
/// Version 1 had no `members` and `digests`; they are built from history
/// when such a store is opened.
pub const SCHEMA_WITHOUT_SETS: &[u8] = b"1";
/// Version 2 kept held posts in `pending` under [`HELD_IN_PENDING`];
/// opening such a store moves them to `held`.
pub const SCHEMA_HELD_IN_PENDING: &[u8] = b"2";
pub const HELD_IN_PENDING: [u8; 32] = [0xFF; 32];

/// Reconciliation-style sets (in `members` and `digests`) that are no
/// board: the posts pending a passport and those held for moderation,
/// kept so the state digest adds them up without a scan
/// (protocol-spec/state.md §5). A board name never starts with 0x01.
pub const PENDING_SET: &str = "\u{1}pending";
pub const HELD_SET: &str = "\u{1}held";
/// The earlier versions of edited posts.
pub const SUPERSEDED_SET: &str = "\u{1}superseded";

pub fn overview_key(group: &str, number: u64) -> Vec<u8> {
    let mut key = Vec::with_capacity(group.len() + 9);
    key.extend_from_slice(group.as_bytes());
    key.push(0);
    key.extend_from_slice(&number.to_be_bytes());
    key
}

/// The article number of an overview key that belongs to `group`.
pub fn overview_number(group: &str, key: &[u8]) -> Option<u64> {
    let rest = key.strip_prefix(group.as_bytes())?.strip_prefix(&[0])?;
    Some(u64::from_be_bytes(rest.try_into().ok()?))
}

pub fn arrival_key(micros: u64, message_id: &[u8]) -> Vec<u8> {
    let mut key = Vec::with_capacity(8 + message_id.len());
    key.extend_from_slice(&micros.to_be_bytes());
    key.extend_from_slice(message_id);
    key
}

pub fn split_arrival_key(key: &[u8]) -> Option<(u64, &[u8])> {
    let (time, id) = key.split_at_checked(8)?;
    Some((u64::from_be_bytes(time.try_into().ok()?), id))
}

pub fn authored_key(key: &[u8; 32], date: u64, message_id: &[u8]) -> Vec<u8> {
    [key.as_slice(), &date.to_be_bytes(), message_id].concat()
}

/// The Date and Message-ID of an `authored` key of `key`.
pub fn split_authored_key<'a>(key: &[u8; 32], stored: &'a [u8]) -> Option<(u64, &'a [u8])> {
    let rest = stored.strip_prefix(key.as_slice())?;
    let (date, id) = rest.split_at_checked(8)?;
    Some((u64::from_be_bytes(date.try_into().ok()?), id))
}

pub fn change_key(seq: u64) -> [u8; 8] {
    seq.to_be_bytes()
}

pub fn change_seq(key: &[u8]) -> Option<u64> {
    Some(u64::from_be_bytes(key.try_into().ok()?))
}

/// One entry of the change log: what happened to which article, board or
/// key. The committer works the kind out from history before and after a
/// batch; readers turn it into events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub kind: ChangeKind,
    /// A Message-ID, a board name, or a key in hex, as the kind says.
    pub subject: String,
    /// An xref (filed, moved), the current version (edited), a reason
    /// (removed), the signer's key (pending), or empty.
    pub detail: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    /// Filed for the first time.
    Created,
    /// Filed once its signer's passport came.
    Released,
    /// Filed once the operator approved it.
    Approved,
    /// Filed elsewhere than before (a move, or a board gone or back).
    Moved,
    /// Filed again after it was superseded or removed (an edit or a
    /// removal was undone by a later control).
    Restored,
    /// Replaced by a later version, `detail`.
    Edited,
    /// Gone: cancelled, removed by the operator or with its board.
    Removed,
    /// Waiting for its signer's passport.
    Pending,
    /// Waiting for the operator.
    Held,
    /// A board appeared here.
    BoardCreated,
    /// A board's description or visibility changed.
    BoardChanged,
    /// A board went.
    BoardRemoved,
    /// A key was learnt: `detail` is passport, revoked or rotated.
    Key,
    /// A control named a file (`subject`, its SHA-256 in hex): `detail`
    /// is the control's Message-ID.
    File,
}

impl ChangeKind {
    const ALL: [(ChangeKind, u8, &'static str); 14] = [
        (ChangeKind::Created, b'c', "created"),
        (ChangeKind::Released, b'r', "released"),
        (ChangeKind::Approved, b'a', "approved"),
        (ChangeKind::Moved, b'm', "moved"),
        (ChangeKind::Restored, b's', "restored"),
        (ChangeKind::Edited, b'e', "edited"),
        (ChangeKind::Removed, b'x', "removed"),
        (ChangeKind::Pending, b'p', "pending"),
        (ChangeKind::Held, b'h', "held"),
        (ChangeKind::BoardCreated, b'B', "board-created"),
        (ChangeKind::BoardChanged, b'C', "board-changed"),
        (ChangeKind::BoardRemoved, b'X', "board-removed"),
        (ChangeKind::Key, b'K', "key"),
        (ChangeKind::File, b'f', "file"),
    ];

    /// The event name the HTTP API gives it.
    pub fn name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(k, _, _)| *k == self)
            .map_or("", |(_, _, name)| name)
    }

    fn tag(self) -> u8 {
        Self::ALL
            .iter()
            .find(|(k, _, _)| *k == self)
            .map_or(0, |(_, tag, _)| *tag)
    }

    fn from_tag(tag: u8) -> Option<ChangeKind> {
        Self::ALL
            .iter()
            .find(|(_, t, _)| *t == tag)
            .map(|(k, _, _)| *k)
    }
}

impl Change {
    pub fn new(kind: ChangeKind, subject: impl Into<String>, detail: impl Into<String>) -> Change {
        Change {
            kind,
            subject: subject.into(),
            detail: detail.into(),
        }
    }

    /// tag, subject, NUL, detail: neither a Message-ID nor a board name
    /// holds a NUL.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(2 + self.subject.len() + self.detail.len());
        out.push(self.kind.tag());
        out.extend_from_slice(self.subject.as_bytes());
        out.push(0);
        out.extend_from_slice(self.detail.as_bytes());
        out
    }

    pub fn decode(bytes: &[u8]) -> Option<Change> {
        let (&tag, rest) = bytes.split_first()?;
        let nul = rest.iter().position(|&b| b == 0)?;
        Some(Change {
            kind: ChangeKind::from_tag(tag)?,
            subject: String::from_utf8(rest[..nul].to_vec()).ok()?,
            detail: String::from_utf8(rest[nul + 1..].to_vec()).ok()?,
        })
    }
}

/// A stored file's metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileRecord {
    pub size: u64,
    /// When it was first stored here, seconds since the epoch.
    pub stored: i64,
    /// Its media type, as its uploader gave it.
    pub media_type: String,
}

impl FileRecord {
    /// size(u64 BE), stored(i64 BE), media type.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(16 + self.media_type.len());
        out.extend_from_slice(&self.size.to_be_bytes());
        out.extend_from_slice(&self.stored.to_be_bytes());
        out.extend_from_slice(self.media_type.as_bytes());
        out
    }

    pub fn decode(bytes: &[u8]) -> Option<FileRecord> {
        let (size, rest) = bytes.split_at_checked(8)?;
        let (stored, media_type) = rest.split_at_checked(8)?;
        Some(FileRecord {
            size: u64::from_be_bytes(size.try_into().ok()?),
            stored: i64::from_be_bytes(stored.try_into().ok()?),
            media_type: String::from_utf8(media_type.to_vec()).ok()?,
        })
    }
}

/// A file control as kept (files.md §8).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileControl {
    /// The control's Date, seconds since the epoch: the later placeholder
    /// wins.
    pub date: u64,
    pub signer: [u8; 32],
    /// The post whose author or moderators may; empty for the operator's
    /// local removal.
    pub target: Vec<u8>,
    /// What to show instead; None for a removal.
    pub placeholder: Option<[u8; 32]>,
}

impl FileControl {
    /// date(u64 BE), signer(32), 0 or 1 + placeholder(32), target.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(74 + self.target.len());
        out.extend_from_slice(&self.date.to_be_bytes());
        out.extend_from_slice(&self.signer);
        match &self.placeholder {
            None => out.push(0),
            Some(hash) => {
                out.push(1);
                out.extend_from_slice(hash);
            }
        }
        out.extend_from_slice(&self.target);
        out
    }

    pub fn decode(bytes: &[u8]) -> Option<FileControl> {
        let (date, rest) = bytes.split_first_chunk::<8>()?;
        let (signer, rest) = rest.split_first_chunk::<32>()?;
        let (flag, rest) = rest.split_first()?;
        let (placeholder, target) = match flag {
            0 => (None, rest),
            1 => {
                let (hash, rest) = rest.split_first_chunk::<32>()?;
                (Some(*hash), rest)
            }
            _ => return None,
        };
        Some(FileControl {
            date: u64::from_be_bytes(*date),
            signer: *signer,
            target: target.to_vec(),
            placeholder,
        })
    }
}

/// What the node knows about a Message-ID. Rejections and removals are kept
/// so the same article is not taken again (INN's history does the same).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HistoryEntry {
    /// Stored; `xref` lists `group:number` pairs, space-separated.
    Accepted { micros: u64, xref: String },
    /// Refused, and offers of this id are refused too: the article carried
    /// a valid signature by the key its Message-ID names, so it is the only
    /// article that id can ever name.
    Rejected { micros: u64, reason: String },
    /// Refused for the record only: without a valid signature the bytes
    /// may be a forgery, and blocking the id would let anyone poison it.
    Refused { micros: u64, reason: String },
    /// Removed (cancelled, superseded, removed by the operator), or
    /// cancelled before it arrived.
    Removed { micros: u64, reason: String },
    /// Signed by a key not known yet; the article waits in `pending`.
    Pending { micros: u64, key: String },
    /// Held for premoderation; the article waits in `held` for the operator.
    Held { micros: u64 },
    /// An earlier version of a post: stored, filed nowhere; readers asking
    /// for it get `by`, the post's current version (state.md §3b).
    Superseded { micros: u64, by: String },
}

impl HistoryEntry {
    pub fn encode(&self) -> Vec<u8> {
        let (tag, micros, text) = match self {
            HistoryEntry::Accepted { micros, xref } => (b'A', micros, xref),
            HistoryEntry::Rejected { micros, reason } => (b'R', micros, reason),
            HistoryEntry::Refused { micros, reason } => (b'r', micros, reason),
            HistoryEntry::Removed { micros, reason } => (b'X', micros, reason),
            HistoryEntry::Pending { micros, key } => (b'P', micros, key),
            HistoryEntry::Held { micros } => (b'H', micros, &String::new()),
            HistoryEntry::Superseded { micros, by } => (b'S', micros, by),
        };
        let mut out = Vec::with_capacity(9 + text.len());
        out.push(tag);
        out.extend_from_slice(&micros.to_be_bytes());
        out.extend_from_slice(text.as_bytes());
        out
    }

    pub fn decode(bytes: &[u8]) -> Option<HistoryEntry> {
        let (&tag, rest) = bytes.split_first()?;
        let (micros, text) = rest.split_at_checked(8)?;
        let micros = u64::from_be_bytes(micros.try_into().ok()?);
        let text = String::from_utf8_lossy(text).into_owned();
        Some(match tag {
            b'A' => HistoryEntry::Accepted { micros, xref: text },
            b'R' => HistoryEntry::Rejected {
                micros,
                reason: text,
            },
            b'r' => HistoryEntry::Refused {
                micros,
                reason: text,
            },
            b'X' => HistoryEntry::Removed {
                micros,
                reason: text,
            },
            b'P' => HistoryEntry::Pending { micros, key: text },
            b'H' => HistoryEntry::Held { micros },
            b'S' => HistoryEntry::Superseded { micros, by: text },
            _ => return None,
        })
    }

    /// Whether offers of this Message-ID are refused (435 / 438 / 439).
    pub fn blocks(&self) -> bool {
        !matches!(self, HistoryEntry::Refused { .. })
    }

    /// The `(group, number)` pairs of an accepted article.
    pub fn numbers(&self) -> Vec<(&str, u64)> {
        match self {
            HistoryEntry::Accepted { xref, .. } => xref
                .split(' ')
                .filter_map(|pair| {
                    let (group, number) = pair.rsplit_once(':')?;
                    Some((group, number.parse().ok()?))
                })
                .collect(),
            _ => Vec::new(),
        }
    }
}

/// What the node has learnt about a public key from control messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyRecord {
    /// A user key announced by a node trusted to issue passports.
    Passport { issuer: [u8; 32], micros: u64 },
    /// Revoked: its articles dated after `since` (seconds since the epoch,
    /// the revocation's Date) are refused and removed (state.md §4b).
    Revoked {
        by: [u8; 32],
        micros: u64,
        since: u64,
    },
    /// A node key that replaced `old` and inherits its rights.
    Rotated { old: [u8; 32], micros: u64 },
    /// A node key a trusted node vouched for (access.md §8): believed as
    /// node `name` with at most these rights and the voucher's.
    Introduced {
        by: [u8; 32],
        micros: u64,
        intro: Introduction,
    },
}

/// What an introduction vouches for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Introduction {
    pub name: String,
    /// Seconds since the epoch; None: no end.
    pub expires: Option<u64>,
    pub passports: bool,
    /// Boards (wildmat) it may manage, within the voucher's.
    pub boards: Option<String>,
}

impl KeyRecord {
    pub fn encode(&self) -> Vec<u8> {
        let (tag, other, micros) = match self {
            KeyRecord::Passport { issuer, micros } => (b'P', issuer, micros),
            KeyRecord::Revoked { by, micros, .. } => (b'R', by, micros),
            KeyRecord::Rotated { old, micros } => (b'N', old, micros),
            KeyRecord::Introduced { by, micros, .. } => (b'I', by, micros),
        };
        let mut out = Vec::with_capacity(41);
        out.push(tag);
        out.extend_from_slice(other);
        out.extend_from_slice(&micros.to_be_bytes());
        match self {
            KeyRecord::Revoked { since, .. } => out.extend_from_slice(&since.to_be_bytes()),
            // expires (u64 BE, MAX: never), passports (0/1), name length,
            // name, then the boards wildmat to the end (none if empty).
            KeyRecord::Introduced { intro, .. } => {
                out.extend_from_slice(&intro.expires.unwrap_or(u64::MAX).to_be_bytes());
                out.push(u8::from(intro.passports));
                out.push(intro.name.len().min(255) as u8);
                out.extend_from_slice(&intro.name.as_bytes()[..intro.name.len().min(255)]);
                out.extend_from_slice(intro.boards.as_deref().unwrap_or("").as_bytes());
            }
            _ => {}
        }
        out
    }

    /// What is kept when `new` is learnt over `self`, the same in any
    /// order (state.md §4b): a revocation (or withdrawal) wins over any
    /// passport or introduction, of two revocations the earlier-dated one
    /// counts, an introduction wins over a passport, and of two passports
    /// or two introductions the one whose issuer key is the smaller, as
    /// bytes.
    pub fn merged(self, new: KeyRecord) -> KeyRecord {
        match (self, new) {
            (
                old @ KeyRecord::Introduced { by: a, .. },
                new @ KeyRecord::Introduced { by: b, .. },
            ) => {
                if b < a {
                    new
                } else {
                    old
                }
            }
            (old @ KeyRecord::Introduced { .. }, KeyRecord::Passport { .. }) => old,
            (
                old @ KeyRecord::Revoked { since: a, .. },
                new @ KeyRecord::Revoked { since: b, .. },
            ) => {
                if b < a {
                    new
                } else {
                    old
                }
            }
            (old @ KeyRecord::Revoked { .. }, _) => old,
            (
                old @ KeyRecord::Passport { issuer: a, .. },
                new @ KeyRecord::Passport { issuer: b, .. },
            ) => {
                if b < a {
                    new
                } else {
                    old
                }
            }
            (_, new) => new,
        }
    }

    pub fn decode(bytes: &[u8]) -> Option<KeyRecord> {
        let (&tag, rest) = bytes.split_first()?;
        let other: [u8; 32] = rest.get(..32)?.try_into().ok()?;
        let micros = u64::from_be_bytes(rest.get(32..40)?.try_into().ok()?);
        Some(match tag {
            b'P' => KeyRecord::Passport {
                issuer: other,
                micros,
            },
            // Revocations kept before they had a Date cover everything.
            b'R' => KeyRecord::Revoked {
                by: other,
                micros,
                since: rest
                    .get(40..48)
                    .and_then(|b| b.try_into().ok())
                    .map_or(0, u64::from_be_bytes),
            },
            b'N' => KeyRecord::Rotated { old: other, micros },
            b'I' => {
                let expires = u64::from_be_bytes(rest.get(40..48)?.try_into().ok()?);
                let passports = *rest.get(48)? == 1;
                let len = usize::from(*rest.get(49)?);
                let name = std::str::from_utf8(rest.get(50..50 + len)?).ok()?;
                let boards = std::str::from_utf8(rest.get(50 + len..)?).ok()?;
                KeyRecord::Introduced {
                    by: other,
                    micros,
                    intro: Introduction {
                        name: name.to_string(),
                        expires: (expires != u64::MAX).then_some(expires),
                        passports,
                        boards: (!boards.is_empty()).then(|| boards.to_string()),
                    },
                }
            }
            _ => return None,
        })
    }
}

/// The latest grant or ungrant of an audience to a key (access.md §7):
/// the later Date wins, then the greater control Message-ID, so every
/// order of arrival leaves the same record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrantRecord {
    /// The control's Date, seconds since the epoch.
    pub date: u64,
    pub control: Vec<u8>,
    /// None: ungranted.
    pub scope: Option<crate::proto::audience::Scope>,
    /// Seconds since the epoch; None: no end.
    pub expires: Option<u64>,
}

impl GrantRecord {
    /// `grants` key: owner (32 bytes), audience name, NUL, grantee (32).
    pub fn key(audience: &crate::proto::audience::Audience, grantee: &[u8; 32]) -> Vec<u8> {
        let mut key = Vec::with_capacity(32 + audience.name.len() + 33);
        key.extend_from_slice(&audience.owner);
        key.extend_from_slice(audience.name.as_bytes());
        key.push(0);
        key.extend_from_slice(grantee);
        key
    }

    pub fn parse_key(key: &[u8]) -> Option<(crate::proto::audience::Audience, [u8; 32])> {
        let owner: [u8; 32] = key.get(..32)?.try_into().ok()?;
        let rest = key.get(32..)?;
        let nul = rest.iter().position(|&b| b == 0)?;
        let name = std::str::from_utf8(&rest[..nul]).ok()?.to_string();
        let grantee: [u8; 32] = rest.get(nul + 1..)?.try_into().ok()?;
        Some((crate::proto::audience::Audience { owner, name }, grantee))
    }

    /// date (u64 BE), scope (0 none, 1 read, 2 cache), expires (u64 BE,
    /// MAX: never), control Message-ID.
    pub fn encode(&self) -> Vec<u8> {
        use crate::proto::audience::Scope;
        let mut out = Vec::with_capacity(17 + self.control.len());
        out.extend_from_slice(&self.date.to_be_bytes());
        out.push(match self.scope {
            None => 0,
            Some(Scope::Read) => 1,
            Some(Scope::Cache) => 2,
        });
        out.extend_from_slice(&self.expires.unwrap_or(u64::MAX).to_be_bytes());
        out.extend_from_slice(&self.control);
        out
    }

    pub fn decode(bytes: &[u8]) -> Option<GrantRecord> {
        use crate::proto::audience::Scope;
        let date = u64::from_be_bytes(bytes.get(..8)?.try_into().ok()?);
        let scope = match *bytes.get(8)? {
            0 => None,
            1 => Some(Scope::Read),
            2 => Some(Scope::Cache),
            _ => return None,
        };
        let expires = u64::from_be_bytes(bytes.get(9..17)?.try_into().ok()?);
        Some(GrantRecord {
            date,
            scope,
            expires: (expires != u64::MAX).then_some(expires),
            control: bytes.get(17..)?.to_vec(),
        })
    }

    /// Whether this record wins over `other` (state.md §1's order).
    pub fn wins_over(&self, other: &GrantRecord) -> bool {
        (self.date, &self.control) > (other.date, &other.control)
    }
}

/// The stored form of a waiting article (pending or held).
pub fn waiting_value(micros: u64, article: &[u8]) -> Vec<u8> {
    let mut value = Vec::with_capacity(8 + article.len());
    value.extend_from_slice(&micros.to_be_bytes());
    value.extend_from_slice(article);
    value
}

/// Splits a waiting article's value into arrival micros and bytes.
pub fn split_waiting_value(value: &[u8]) -> Option<(u64, &[u8])> {
    let (micros, article) = value.split_at_checked(8)?;
    Some((u64::from_be_bytes(micros.try_into().ok()?), article))
}

pub fn pending_key(key: &[u8; 32], message_id: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(32 + message_id.len());
    out.extend_from_slice(key);
    out.extend_from_slice(message_id);
    out
}

/// A newsgroup's persistent state. Numbers are never reused: `high` only
/// grows, so article numbers stay stable across restarts (RFC 3977 §6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupRecord {
    pub high: u64,
    pub low: u64,
    pub count: u64,
    /// Creation time, seconds since the epoch (for NEWGROUPS).
    pub created: i64,
    /// Hidden boards are left out of LIST and NEWGROUPS but can be read.
    pub hidden: bool,
    pub description: String,
}

impl GroupRecord {
    pub fn new(created: i64, description: String) -> GroupRecord {
        // An empty group has low = high + 1 (RFC 3977 §6.1.1.2).
        GroupRecord {
            high: 0,
            low: 1,
            count: 0,
            created,
            hidden: false,
            description,
        }
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(32 + self.description.len());
        out.extend_from_slice(&self.high.to_be_bytes());
        out.extend_from_slice(&self.low.to_be_bytes());
        out.extend_from_slice(&self.count.to_be_bytes());
        out.extend_from_slice(&self.created.to_be_bytes());
        out.push(u8::from(self.hidden));
        out.extend_from_slice(self.description.as_bytes());
        out
    }

    pub fn decode(bytes: &[u8]) -> Option<GroupRecord> {
        let word = |i: usize| -> Option<[u8; 8]> { bytes.get(i * 8..i * 8 + 8)?.try_into().ok() };
        Some(GroupRecord {
            high: u64::from_be_bytes(word(0)?),
            low: u64::from_be_bytes(word(1)?),
            count: u64::from_be_bytes(word(2)?),
            created: i64::from_be_bytes(word(3)?),
            hidden: *bytes.get(32)? != 0,
            description: String::from_utf8_lossy(bytes.get(33..)?).into_owned(),
        })
    }
}

/// The Date field of an overview record as the store keeps it (subject,
/// from, date, message-id, ...: RFC 3977 §8.3 without the number), in
/// seconds since the epoch; None when it does not parse.
pub fn overview_date(record: &[u8]) -> Option<i64> {
    record
        .split(|&b| b == b'\t')
        .nth(2)
        .and_then(crate::proto::article::parse_date)
        .map(|date| date.timestamp())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_revocation_wins_whatever_order_keys_are_learnt_in() {
        let passport = KeyRecord::Passport {
            issuer: [1; 32],
            micros: 1,
        };
        let revoked = |since| KeyRecord::Revoked {
            by: [2; 32],
            micros: 2,
            since,
        };
        assert_eq!(passport.clone().merged(revoked(5)), revoked(5));
        assert_eq!(revoked(5).merged(passport.clone()), revoked(5));
        assert_eq!(revoked(5).merged(revoked(3)), revoked(3));
        assert_eq!(revoked(3).merged(revoked(5)), revoked(3));
        let other = KeyRecord::Passport {
            issuer: [0; 32],
            micros: 9,
        };
        assert_eq!(passport.clone().merged(other.clone()), other);
        assert_eq!(other.clone().merged(passport.clone()), other);
        // A record kept before revocations had a Date covers everything.
        let mut old = revoked(0).encode();
        old.truncate(41);
        assert_eq!(KeyRecord::decode(&old), Some(revoked(0)));
    }

    #[test]
    fn overview_keys_sort_numerically_within_a_group() {
        assert!(overview_key("a", 2) < overview_key("a", 10));
        assert!(overview_key("a", u64::MAX) < overview_key("a.b", 0));
        assert_eq!(overview_number("a", &overview_key("a", 77)), Some(77));
        assert_eq!(overview_number("a", &overview_key("a.b", 77)), None);
    }

    #[test]
    fn history_round_trips() {
        for entry in [
            HistoryEntry::Accepted {
                micros: 5,
                xref: "a.b:1 c:22".into(),
            },
            HistoryEntry::Rejected {
                micros: 6,
                reason: "bad".into(),
            },
            HistoryEntry::Removed {
                micros: 7,
                reason: String::new(),
            },
            HistoryEntry::Refused {
                micros: 8,
                reason: "forged".into(),
            },
            HistoryEntry::Pending {
                micros: 9,
                key: "ab".into(),
            },
            HistoryEntry::Held { micros: 10 },
        ] {
            assert_eq!(HistoryEntry::decode(&entry.encode()), Some(entry));
        }
        assert_eq!(HistoryEntry::decode(b"Q12345678"), None);
        assert_eq!(HistoryEntry::decode(b"A123"), None);
        let accepted = HistoryEntry::Accepted {
            micros: 1,
            xref: "a.b:1 c:22".into(),
        };
        assert_eq!(accepted.numbers(), vec![("a.b", 1), ("c", 22)]);
    }

    #[test]
    fn group_record_round_trips() {
        let record = GroupRecord {
            high: 9,
            low: 3,
            count: 7,
            created: -1,
            hidden: true,
            description: "d".into(),
        };
        assert_eq!(GroupRecord::decode(&record.encode()), Some(record));
        assert_eq!(GroupRecord::decode(b"short"), None);
    }

    #[test]
    fn key_records_round_trip() {
        for record in [
            KeyRecord::Passport {
                issuer: [1; 32],
                micros: 5,
            },
            KeyRecord::Revoked {
                by: [2; 32],
                micros: 6,
                since: 1_795_000_000,
            },
            KeyRecord::Rotated {
                old: [3; 32],
                micros: 7,
            },
        ] {
            assert_eq!(KeyRecord::decode(&record.encode()), Some(record));
        }
        assert_eq!(KeyRecord::decode(b"P123"), None);
    }

    #[test]
    fn file_records_round_trip() {
        let record = FileRecord {
            size: 11,
            stored: 1_796_000_000,
            media_type: "image/png".into(),
        };
        assert_eq!(FileRecord::decode(&record.encode()), Some(record));
        assert_eq!(FileRecord::decode(b"short"), None);
    }

    #[test]
    fn changes_round_trip_and_refuse_garbage() {
        for (kind, _, _) in ChangeKind::ALL {
            let change = Change::new(kind, "<a@b>", "misc.test:3 x.y:9");
            assert_eq!(Change::decode(&change.encode()), Some(change));
        }
        let empty = Change::new(ChangeKind::Held, "<a@b>", "");
        assert_eq!(Change::decode(&empty.encode()), Some(empty));
        assert_eq!(Change::decode(b""), None);
        assert_eq!(Change::decode(b"c<a@b>"), None, "no NUL");
        assert_eq!(Change::decode(b"?<a@b>\0"), None, "unknown tag");
        assert_eq!(change_seq(&change_key(7)), Some(7));
        assert_eq!(change_seq(b"short"), None);
    }

    #[test]
    fn arrival_keys_split() {
        let key = arrival_key(42, b"<a@b>");
        assert_eq!(split_arrival_key(&key), Some((42, &b"<a@b>"[..])));
        assert_eq!(split_arrival_key(b"short"), None);
    }
}

#[cfg(test)]
mod board_tests {
    use super::*;

    fn control(id: &str, date: u64, change: BoardChange) -> BoardControl {
        BoardControl {
            control: id.as_bytes().to_vec(),
            date,
            change,
        }
    }

    fn all_orders(controls: &[BoardControl]) -> Vec<Vec<BoardControl>> {
        if controls.len() <= 1 {
            return vec![controls.to_vec()];
        }
        let mut out = Vec::new();
        for i in 0..controls.len() {
            let mut rest = controls.to_vec();
            let first = rest.remove(i);
            for mut tail in all_orders(&rest) {
                tail.insert(0, first.clone());
                out.push(tail);
            }
        }
        out
    }

    #[test]
    fn a_board_is_the_same_whatever_order_its_controls_came_in() {
        let controls = vec![
            control(
                "<n@x>",
                10,
                BoardChange::New {
                    description: "first".into(),
                    hidden: false,
                },
            ),
            control(
                "<m@x>",
                20,
                BoardChange::Modify {
                    description: Some("second".into()),
                    hidden: None,
                },
            ),
            control(
                "<h@x>",
                25,
                BoardChange::Modify {
                    description: None,
                    hidden: Some(true),
                },
            ),
            control("<r@x>", 30, BoardChange::Remove),
            // Same Date as the rmgroup: the greater Message-ID wins.
            control(
                "<s@x>",
                30,
                BoardChange::New {
                    description: "again".into(),
                    hidden: false,
                },
            ),
        ];
        let want = BoardState {
            exists: Some(true),
            description: Some("again".into()),
            hidden: Some(false),
            removed: Some(30),
        };
        for order in all_orders(&controls) {
            assert_eq!(BoardState::of(&order), want);
            let twice: Vec<BoardControl> = order.iter().chain(&order).cloned().collect();
            assert_eq!(BoardState::of(&twice), want, "duplicates change nothing");
        }
        // An rmgroup before its newgroup (in Date) does not remove it; a
        // modgroup alone only sets fields.
        let late_new = [
            control("<r@x>", 5, BoardChange::Remove),
            control(
                "<n@x>",
                10,
                BoardChange::New {
                    description: String::new(),
                    hidden: true,
                },
            ),
        ];
        assert_eq!(BoardState::of(&late_new).exists, Some(true));
        let modify = [control(
            "<m@x>",
            1,
            BoardChange::Modify {
                description: Some("d".into()),
                hidden: None,
            },
        )];
        assert_eq!(
            BoardState::of(&modify),
            BoardState {
                description: Some("d".into()),
                ..BoardState::default()
            }
        );
        for c in &controls {
            assert_eq!(
                BoardControl::decode(&c.control, &c.encode()).as_ref(),
                Some(c)
            );
        }
    }
}

//! The node's configuration: one TOML file read into structs that reject
//! unknown keys, with documented defaults (see `config.example.toml`) and a
//! `validate` that fails fast at start.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::proto::grammar;
use crate::proto::signing::parse_key;
use crate::proto::wildmat::Wildmat;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("invalid configuration: {0}")]
    Invalid(String),
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub node: NodeConfig,
    #[serde(default)]
    pub listen: ListenConfig,
    #[serde(default)]
    pub limits: Limits,
    #[serde(default)]
    pub storage: StorageConfig,
    /// Newsgroups (boards) created at start if the store lacks them.
    #[serde(default, rename = "group")]
    pub groups: Vec<GroupConfig>,
    #[serde(default)]
    pub signing: SigningConfig,
    #[serde(default)]
    pub feed: FeedConfig,
    #[serde(default)]
    pub tls: TlsConfig,
    #[serde(default)]
    pub files: FilesConfig,
    /// Known nodes and what their keys are trusted for.
    #[serde(default, rename = "peer")]
    pub peers: Vec<PeerConfig>,
    /// User keys trusted to cancel, edit and move posts in some boards.
    #[serde(default, rename = "moderator")]
    pub moderators: Vec<ModeratorConfig>,
    /// Who may read and post where (protocol-spec/access.md).
    #[serde(default)]
    pub access: AccessConfig,
    /// How long articles are kept, per board (README "Retention"); the
    /// last rule matching a board decides, none: forever.
    #[serde(default, rename = "retention")]
    pub retention: Vec<RetentionRule>,
}

/// `[[retention]]`: like a line of INN's expire.ctl.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RetentionRule {
    /// Boards (wildmat) the rule is for.
    pub boards: String,
    /// Days an article is kept after its Date.
    pub days: u64,
    /// An article's `Expires` header may make it go sooner, but not
    /// sooner than this many days after its Date (it never stays longer
    /// than `days`).
    #[serde(default = "default_expires_min_days")]
    pub expires_min_days: u64,
}

fn default_expires_min_days() -> u64 {
    1
}

/// `[access]`: reader authentication and who may read and post where.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct AccessConfig {
    /// A closed node (a private network): nothing is readable, listed or
    /// postable before a reader authenticates (480 / 401), and boards no
    /// rule names are for authenticated readers and peers only.
    #[serde(default)]
    pub closed: bool,
    /// The users file (`name:argon2 PHC string[:group,group]` a line),
    /// made with `tidings user add`; relative paths are inside data_dir.
    #[serde(default = "default_users_file")]
    pub users: PathBuf,
    /// Take AUTHINFO on a connection without TLS (the password would
    /// cross in clear); otherwise such a connection is told 483.
    #[serde(default)]
    pub plain_authinfo: bool,
    /// Who may read and post on which boards, in order: the last rule
    /// whose `boards` matches a board decides it.
    #[serde(default, rename = "rule")]
    pub rules: Vec<AccessRule>,
}

/// One entry of an access rule's `read` or `post` list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    Anyone,
    /// Any reader who authenticated (a user, or a key).
    Authenticated,
    /// Any configured peer (known by XPEER or its hosts).
    Peers,
    User(String),
    Group(String),
    Key([u8; 32]),
    Peer(String),
    /// Whoever holds a grant of this audience (access.md §7): a key logged
    /// in with XAUTHKEY (scope read or cache), a peer whose node key holds
    /// one of scope cache; its owner always.
    Audience(crate::proto::audience::Audience),
}

impl Principal {
    pub fn parse(text: &str) -> Result<Principal, String> {
        Ok(match text.split_once(':') {
            None if text == "anyone" => Principal::Anyone,
            None if text == "authenticated" => Principal::Authenticated,
            None if text == "peers" => Principal::Peers,
            Some(("user", name)) if !name.is_empty() => Principal::User(name.into()),
            Some(("group", name)) if !name.is_empty() => Principal::Group(name.into()),
            Some(("peer", name)) if !name.is_empty() => Principal::Peer(name.into()),
            Some(("key", hex)) => Principal::Key(
                crate::proto::signing::parse_key(hex)
                    .map(|k| k.to_bytes())
                    .ok_or_else(|| format!("{text:?}: key: takes a public key, 64 hex digits"))?,
            ),
            Some(("audience", audience)) => Principal::Audience(
                crate::proto::audience::Audience::parse_rule(audience)
                    .map_err(|e| format!("{text:?}: {e}"))?,
            ),
            _ => {
                return Err(format!(
                    "{text:?} is not anyone, authenticated, peers, user:NAME, group:NAME, key:HEX, peer:NAME or audience:OWNER/NAME"
                ))
            }
        })
    }
}

fn default_users_file() -> PathBuf {
    PathBuf::from("users")
}

impl Default for AccessConfig {
    fn default() -> Self {
        AccessConfig {
            closed: false,
            users: default_users_file(),
            plain_authinfo: false,
            rules: Vec::new(),
        }
    }
}

/// `[[access.rule]]`: who may read and who may post on `boards`. Each
/// list holds `anyone`, `authenticated` (any user or key that proved
/// itself), `peers` (any configured peer), `user:NAME`, `group:NAME`,
/// `key:HEX` (a passport key that authenticated) or `peer:NAME`. A list
/// left out keeps what the previous matching rule (or the default) said.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct AccessRule {
    pub boards: String,
    pub read: Option<Vec<String>>,
    pub post: Option<Vec<String>>,
}

/// Files (images and the like) stored by hash (protocol-spec/files.md).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct FilesConfig {
    /// Largest file taken, in bytes.
    #[serde(default = "default_file_bytes")]
    pub max_bytes: u64,
    /// Media types taken (`Content-Type` of an upload, parameters left
    /// out). Files of other types are refused (415).
    #[serde(default = "default_file_types")]
    pub types: Vec<String>,
    /// Hours an uploaded file no article here references is kept before
    /// it is collected (an upload, then the post naming it).
    #[serde(default = "default_file_grace_hours")]
    pub grace_hours: u64,
    /// SHA-256 hashes (64 hex digits) of files this node refuses to take
    /// or serve, whoever sends or asks (the operator's blocklist).
    #[serde(default)]
    pub blocked: Vec<String>,
    /// Boards (wildmat) whose files are fetched from peers as soon as an
    /// article referencing them is filed here (`eager`); the files of
    /// other boards are fetched when a reader first asks (`on-demand`).
    #[serde(default = "default_eager")]
    pub eager: String,
    /// Seconds an HTTP GET of a file that is referenced here but not here
    /// yet waits for it to be fetched from a peer before answering 503.
    #[serde(default = "default_fetch_wait_secs")]
    pub fetch_wait_secs: u64,
    /// SHA-256 hashes (64 hex digits) of files this node keeps whatever
    /// references them, fetches if it lacks them, and never evicts (the
    /// operator's pins).
    #[serde(default)]
    pub pinned: Vec<String>,
    /// Bytes the files fetched for readers (on-demand boards) may take
    /// together; past it the least recently read are evicted (and fetched
    /// again when asked for). 0: no budget.
    #[serde(default)]
    pub cache_bytes: u64,
    /// Narrower limits for some boards (`[[files.board]]`), applied in
    /// order: each that matches a board replaces the limits it gives.
    #[serde(default, rename = "board")]
    pub boards: Vec<BoardFilesConfig>,
}

/// `[[files.board]]`: the file limits of the boards `boards` matches.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct BoardFilesConfig {
    /// A wildmat of boards.
    pub boards: String,
    pub max_bytes: Option<u64>,
    pub types: Option<Vec<String>>,
}

/// The file limits of one board: largest file and media types taken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileLimits {
    pub max_bytes: u64,
    pub types: Vec<String>,
}

impl FileLimits {
    /// Why a file of `size` bytes and `media` type is not taken, if not.
    pub fn refuses(&self, size: u64, media: &str) -> Option<String> {
        if size > self.max_bytes {
            return Some(format!(
                "{size} bytes is more than the {} taken",
                self.max_bytes
            ));
        }
        if !self.types.iter().any(|t| t.eq_ignore_ascii_case(media)) {
            return Some(format!(
                "{media} is not taken (taken: {})",
                self.types.join(", ")
            ));
        }
        None
    }
}

fn default_eager() -> String {
    "*".into()
}

fn default_fetch_wait_secs() -> u64 {
    20
}

impl FilesConfig {
    /// The node's own limits, before any board's narrow them.
    pub fn limits(&self) -> FileLimits {
        FileLimits {
            max_bytes: self.max_bytes,
            types: self.types.clone(),
        }
    }

    /// Whether the operator pinned the file `hash`.
    pub fn pins(&self, hash: &[u8; 32]) -> bool {
        lists(&self.pinned, hash)
    }

    /// The files the operator pinned (entries are checked hex).
    pub fn pinned_hashes(&self) -> Vec<[u8; 32]> {
        self.pinned
            .iter()
            .filter_map(|p| crate::proto::file_ref::parse_sha256(p))
            .collect()
    }

    /// Whether the operator blocked the file `hash`.
    pub fn blocks(&self, hash: &[u8; 32]) -> bool {
        lists(&self.blocked, hash)
    }
}

/// Whether a list of hex hashes (checked when validated) holds `hash`.
fn lists(hashes: &[String], hash: &[u8; 32]) -> bool {
    let hex = hex::encode(hash);
    hashes.iter().any(|h| h.eq_ignore_ascii_case(&hex))
}

fn default_file_grace_hours() -> u64 {
    6
}

fn default_file_bytes() -> u64 {
    16 << 20
}

fn default_file_types() -> Vec<String> {
    [
        "image/png",
        "image/jpeg",
        "image/gif",
        "image/webp",
        "image/avif",
        "video/mp4",
        "video/webm",
    ]
    .map(String::from)
    .to_vec()
}

impl Default for FilesConfig {
    fn default() -> Self {
        FilesConfig {
            max_bytes: default_file_bytes(),
            types: default_file_types(),
            grace_hours: default_file_grace_hours(),
            blocked: Vec::new(),
            eager: default_eager(),
            fetch_wait_secs: default_fetch_wait_secs(),
            boards: Vec::new(),
            pinned: Vec::new(),
            cache_bytes: 0,
        }
    }
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct FeedConfig {
    /// Days an article waits in a peer's outbox (a peer that is down) before
    /// it is dropped from it, with a log line. The article stays stored.
    #[serde(default = "default_retention_days")]
    pub outbox_days: u64,
    /// Articles whose Path has more entries than this are refused.
    #[serde(default = "default_hop_limit")]
    pub hop_limit: usize,
    /// Articles offered per round trip to a peer (CHECK / TAKETHIS window).
    #[serde(default = "default_window")]
    pub window: usize,
    /// Whether to catch up with a peer (protocol-spec/sync.md) each time
    /// its feed connects; `tidings sync` works either way.
    #[serde(default = "yes")]
    pub catch_up: bool,
    /// Also catch up with every peer this often while connected, seconds;
    /// 0 turns it off. Cheap when nothing differs: one line a group.
    #[serde(default = "default_catch_up_every")]
    pub catch_up_every_secs: u64,
}

impl Default for FeedConfig {
    fn default() -> Self {
        FeedConfig {
            outbox_days: default_retention_days(),
            hop_limit: default_hop_limit(),
            window: default_window(),
            catch_up: true,
            catch_up_every_secs: default_catch_up_every(),
        }
    }
}

fn default_retention_days() -> u64 {
    30
}
fn default_hop_limit() -> usize {
    64
}
fn default_catch_up_every() -> u64 {
    3600
}
fn default_window() -> usize {
    256
}

/// The server's TLS certificate for STARTTLS and the implicit-TLS port.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// PEM certificate chain, the node's own certificate first. A relative
    /// path is taken relative to `data_dir`.
    #[serde(default = "default_tls_cert")]
    pub cert: PathBuf,
    /// PEM private key of that certificate. When neither file exists, a
    /// self-signed certificate for the node name is made on first start,
    /// with the key file at mode 0600.
    #[serde(default = "default_tls_key")]
    pub key: PathBuf,
}

impl Default for TlsConfig {
    fn default() -> Self {
        TlsConfig {
            cert: default_tls_cert(),
            key: default_tls_key(),
        }
    }
}

fn default_tls_cert() -> PathBuf {
    PathBuf::from("tls.crt")
}
fn default_tls_key() -> PathBuf {
    PathBuf::from("tls.key")
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SigningConfig {
    /// Days a post by an unknown key waits for its passport before it is
    /// dropped.
    #[serde(default = "default_pending_days")]
    pub pending_days: u64,
}

impl Default for SigningConfig {
    fn default() -> Self {
        SigningConfig {
            pending_days: default_pending_days(),
        }
    }
}

fn default_pending_days() -> u64 {
    30
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PeerConfig {
    /// The peer's Path identity.
    pub name: String,
    /// The peer's node public key, 64 hex digits. Empty for a plain NNTP
    /// peer (INN), which is known by `hosts` instead.
    #[serde(default)]
    pub key: String,
    /// Addresses whose connections are this peer without XPEER, as INN's
    /// incoming.conf does: for plain NNTP peers, on networks where the
    /// address can be trusted.
    #[serde(default)]
    pub hosts: Vec<std::net::IpAddr>,
    /// What to do with unsigned articles this peer sends: "refuse" them
    /// (the default; every tidings node signs), or "accept" them as they
    /// are, unsigned, with this peer's rights (a plain NNTP peer such as
    /// INN). Control messages and Supersedes must be signed either way.
    #[serde(default)]
    pub unsigned: Unsigned,
    /// Whether passport announcements and revocations signed by this key
    /// are believed.
    #[serde(default)]
    pub passports: bool,
    /// Whether this key's introductions of other node keys are believed
    /// (protocol-spec/access.md §8): an introduced node's articles are
    /// accepted as a node's, with at most the rights the introduction
    /// names and this peer has (`passports`, `boards`).
    #[serde(default)]
    pub introduce: bool,
    /// Boards (wildmat) whose creation, change and deletion this key may
    /// sign. None by default.
    #[serde(default)]
    pub boards: Option<String>,
    /// `host:port` to feed articles to. Without it we only accept from the
    /// peer and never connect to it.
    #[serde(default)]
    pub address: Option<String>,
    /// Groups (wildmat, `!` negates, last match wins) whose articles we
    /// send this peer; matched against every group in Newsgroups.
    #[serde(default = "everything")]
    pub send: String,
    /// What this peer's connection may announce to us: "articles",
    /// "boards" (board control messages), "passports" (passport, revoke and
    /// rotate control messages).
    #[serde(default = "all_rights")]
    pub accept: Vec<String>,
    /// Whether our feed connection to `address` must switch to TLS with
    /// STARTTLS before XPEER; a peer that does not offer it is not fed.
    #[serde(default)]
    pub tls: bool,
    /// A trust level of the blog network (protocol-spec/access.md §9),
    /// setting `accept`, `passports`, `send`, `boards` and `introduce`
    /// (which may then not be given) and the grants of this node's
    /// audiences `protected` and `friends` to the peer's key.
    #[serde(default)]
    pub trust: Option<TrustLevel>,
}

/// The trust levels of access.md §9, each including the ones before.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, PartialOrd, Ord)]
#[serde(rename_all = "kebab-case")]
pub enum TrustLevel {
    /// Its passports are believed: its users' comments verify.
    Identify,
    /// It is sent open boards.
    CacheOpen,
    /// It holds this node's audience `protected`.
    CacheProtected,
    /// It holds this node's audience `friends` too.
    CacheFriends,
    /// It is sent and may announce everything, and introduce nodes.
    Mirror,
}

impl TrustLevel {
    /// The audiences of this node's key the level grants the peer's key.
    pub const AUDIENCES: [&str; 2] = ["protected", "friends"];

    pub fn grants(self, audience: &str) -> bool {
        match audience {
            "protected" => self >= TrustLevel::CacheProtected,
            "friends" => self >= TrustLevel::CacheFriends,
            _ => false,
        }
    }

    /// Sets the rights the level gives on `peer` (access.md §9's table).
    fn apply(self, peer: &mut PeerConfig) {
        peer.passports = true;
        peer.accept = if self == TrustLevel::Mirror {
            all_rights()
        } else {
            vec!["articles".into(), "passports".into()]
        };
        peer.send = if self == TrustLevel::Identify {
            "!*".into()
        } else {
            everything()
        };
        if self == TrustLevel::Mirror {
            peer.boards = Some(everything());
            peer.introduce = true;
        }
    }
}

/// A peer's `unsigned` policy.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Unsigned {
    #[default]
    Refuse,
    Accept,
}

impl PeerConfig {
    /// A peer with the defaults a config file gives: no address, sends
    /// everything, accepts all rights, its key trusted for nothing more.
    pub fn new(name: impl Into<String>, key: impl Into<String>) -> PeerConfig {
        PeerConfig {
            name: name.into(),
            key: key.into(),
            hosts: Vec::new(),
            unsigned: Unsigned::Refuse,
            passports: false,
            introduce: false,
            boards: None,
            address: None,
            send: everything(),
            accept: all_rights(),
            tls: false,
            trust: None,
        }
    }

    /// The entry with its trust level's rights set, if it has one.
    pub fn effective(&self) -> PeerConfig {
        let mut peer = self.clone();
        if let Some(level) = self.trust {
            level.apply(&mut peer);
        }
        peer
    }
}

/// What a peer connection may announce (protocol-spec/peering.md §3).
pub const RIGHTS: &[&str] = &["articles", "boards", "passports"];

fn all_rights() -> Vec<String> {
    RIGHTS.iter().map(|r| r.to_string()).collect()
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ModeratorConfig {
    /// The moderator's public key, 64 hex digits.
    pub key: String,
    /// Boards (wildmat) the key moderates.
    pub groups: String,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct NodeConfig {
    /// Path identity (RFC 5537 §3.1.3): prepended to Path on every article
    /// this node accepts, and the right-hand side of Message-IDs it makes.
    #[serde(default = "default_name")]
    pub name: String,
    #[serde(default = "default_data_dir")]
    pub data_dir: PathBuf,
    /// The node's ed25519 secret key file, created on first start. A
    /// relative path is taken relative to `data_dir`.
    #[serde(default = "default_key")]
    pub key: PathBuf,
    /// Whether readers may POST (the greeting says 200 or 201).
    #[serde(default = "yes")]
    pub posting: bool,
    /// Boards (wildmat) whose creation, change and deletion this node's own
    /// key may sign.
    #[serde(default = "everything")]
    pub boards: String,
    /// Boards (wildmat) this node stores when a newgroup control message
    /// creates them; others are not created here (and so not stored or
    /// relayed by this node). `[[group]]` boards are always stored.
    #[serde(default = "everything")]
    pub store: String,
    /// Boards (wildmat) whose new posts are held until the operator
    /// approves them (`Control: local-approve <id>`), unless signed by a
    /// moderator of the board. None by default.
    #[serde(default)]
    pub premoderate: Option<String>,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ListenConfig {
    /// Address of the plain NNTP listener.
    #[serde(default = "default_nntp")]
    pub nntp: SocketAddr,
    /// Address of the implicit-TLS listener (TLS from the first byte, as
    /// on port 563). None by default; STARTTLS works on `nntp` anyway.
    #[serde(default)]
    pub nntps: Option<SocketAddr>,
    /// Address of the HTTP/JSON API and the web front end
    /// (protocol-spec/http.md), loopback by default; `http = false` turns
    /// it off.
    #[serde(default = "default_http", deserialize_with = "address_or_off")]
    pub http: Option<SocketAddr>,
    /// Address of the admin listener: Prometheus metrics at `/metrics`
    /// and the node's status as JSON at `/status`. Loopback by default,
    /// where only the operator reaches it; `admin = false` turns it off.
    #[serde(default = "default_admin", deserialize_with = "address_or_off")]
    pub admin: Option<SocketAddr>,
    /// Take IHAVE / CHECK / TAKETHIS from any connection, not only from
    /// authenticated peers (articles must still be signed by trusted
    /// keys). For tests and closed networks.
    #[serde(default)]
    pub open_transit: bool,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    /// Simultaneous client connections; more are greeted with 400 and closed.
    #[serde(default = "default_max_connections")]
    pub max_connections: usize,
    /// Simultaneous connections from one address (IPv4, or IPv6); more
    /// are greeted with 400 and closed, so one client cannot take every
    /// slot.
    #[serde(default = "default_max_connections_per_host")]
    pub max_connections_per_host: usize,
    /// Largest article accepted, in octets after dot-unstuffing.
    #[serde(default = "default_max_article_bytes")]
    pub max_article_bytes: usize,
    /// A connection idle this long is closed (RFC 3977 §3.1 asks for at
    /// least three minutes).
    #[serde(default = "default_idle_timeout_secs")]
    pub idle_timeout_secs: u64,
    /// Seconds an HTTP client has to send a request's headers (an idle
    /// keep-alive connection included), and a request has to be read and
    /// answered; past it the connection is closed, or the answer is 408.
    #[serde(default = "default_http_request_secs")]
    pub http_request_secs: u64,
    /// Milliseconds an HTTP GET of a Message-ID this node does not have
    /// spends asking its peers for it (0: it does not ask).
    #[serde(default = "default_http_ask_peers_ms")]
    pub http_ask_peers_ms: u64,
    /// Articles a single connection may have waiting for their commit
    /// before the server stops reading from it.
    #[serde(default = "default_max_pipeline")]
    pub max_pipeline: usize,
    /// Octets of article text one connection may have waiting for their
    /// commit before the server stops reading from it (at least one
    /// article always proceeds).
    #[serde(default = "default_max_pipeline_bytes")]
    pub max_pipeline_bytes: usize,
    /// Message-IDs one connection may hold claimed (CHECK answered 238,
    /// XIHAVE asked for) before it sends them; more are answered "try
    /// later". Bounds the pre-commit table a peer can fill.
    #[serde(default = "default_max_claims")]
    pub max_claims: usize,
    /// Seconds after which a claim lapses, so a peer that offers and never
    /// sends cannot keep an article from other peers.
    #[serde(default = "default_claim_expiry_secs")]
    pub claim_expiry_secs: u64,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct StorageConfig {
    /// RocksDB's memory in MiB whatever the store's size: the block
    /// cache, which the memtables are charged to (up to two thirds of it).
    #[serde(default = "default_cache_mib")]
    pub block_cache_mib: usize,
    /// Most articles written (and synced) by one group commit.
    #[serde(default = "default_commit_batch")]
    pub commit_batch: usize,
    /// Entries the change log keeps (the HTTP event stream and change
    /// cursors, protocol-spec/http.md §4.5): a consumer further behind
    /// than this is told to resync.
    #[serde(default = "default_changes_kept")]
    pub changes_kept: u64,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct GroupConfig {
    pub name: String,
    #[serde(default)]
    pub description: String,
}

fn default_name() -> String {
    // The host name makes a usable Path identity on a first run; operators
    // set a real one (a domain they control) before peering.
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| is_path_identity(h))
        .unwrap_or_else(|| "tidings.invalid".to_string())
}
fn default_data_dir() -> PathBuf {
    PathBuf::from("./tidings-data")
}
fn default_key() -> PathBuf {
    PathBuf::from("node.key")
}
fn yes() -> bool {
    true
}
fn everything() -> String {
    "*".into()
}
fn default_nntp() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 1119))
}
fn default_http() -> Option<SocketAddr> {
    Some(SocketAddr::from(([127, 0, 0, 1], 8080)))
}
fn default_admin() -> Option<SocketAddr> {
    Some(SocketAddr::from(([127, 0, 0, 1], 9119)))
}
/// An address, or `false` for none.
fn address_or_off<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<SocketAddr>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Either {
        Address(SocketAddr),
        Off(bool),
    }
    match Either::deserialize(deserializer)? {
        Either::Address(addr) => Ok(Some(addr)),
        Either::Off(false) => Ok(None),
        Either::Off(true) => Err(serde::de::Error::custom(
            "expected an address such as \"127.0.0.1:8080\", or false",
        )),
    }
}
fn default_max_connections() -> usize {
    512
}
fn default_max_connections_per_host() -> usize {
    64
}
fn default_max_article_bytes() -> usize {
    1 << 20
}
fn default_http_request_secs() -> u64 {
    30
}
fn default_http_ask_peers_ms() -> u64 {
    2000
}
fn default_idle_timeout_secs() -> u64 {
    600
}
fn default_max_pipeline() -> usize {
    1024
}
fn default_max_pipeline_bytes() -> usize {
    8 << 20
}
fn default_max_claims() -> usize {
    10_000
}
fn default_claim_expiry_secs() -> u64 {
    60
}
fn default_cache_mib() -> usize {
    96
}
fn default_commit_batch() -> usize {
    1024
}
fn default_changes_kept() -> u64 {
    1_000_000
}

impl Default for NodeConfig {
    fn default() -> Self {
        NodeConfig {
            name: default_name(),
            data_dir: default_data_dir(),
            key: default_key(),
            posting: true,
            boards: everything(),
            store: everything(),
            premoderate: None,
        }
    }
}
impl Default for ListenConfig {
    fn default() -> Self {
        ListenConfig {
            nntp: default_nntp(),
            nntps: None,
            http: default_http(),
            admin: default_admin(),
            open_transit: false,
        }
    }
}
impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_connections: default_max_connections(),
            max_connections_per_host: default_max_connections_per_host(),
            max_article_bytes: default_max_article_bytes(),
            idle_timeout_secs: default_idle_timeout_secs(),
            http_request_secs: default_http_request_secs(),
            http_ask_peers_ms: default_http_ask_peers_ms(),
            max_pipeline: default_max_pipeline(),
            max_pipeline_bytes: default_max_pipeline_bytes(),
            max_claims: default_max_claims(),
            claim_expiry_secs: default_claim_expiry_secs(),
        }
    }
}
impl Default for StorageConfig {
    fn default() -> Self {
        StorageConfig {
            block_cache_mib: default_cache_mib(),
            commit_batch: default_commit_batch(),
            changes_kept: default_changes_kept(),
        }
    }
}

/// The embedded defaults `tidings serve` runs on without `--config`: one
/// local test board so that a first post has somewhere to go.
impl Default for Config {
    fn default() -> Self {
        Config {
            node: NodeConfig::default(),
            listen: ListenConfig::default(),
            limits: Limits::default(),
            storage: StorageConfig::default(),
            groups: vec![GroupConfig {
                name: "local.test".into(),
                description: "Test posts on this node".into(),
            }],
            signing: SigningConfig::default(),
            feed: FeedConfig::default(),
            tls: TlsConfig::default(),
            files: FilesConfig::default(),
            peers: Vec::new(),
            moderators: Vec::new(),
            retention: Vec::new(),
            access: AccessConfig::default(),
        }
    }
}

fn is_path_identity(name: &str) -> bool {
    grammar::is_path_identity(name.as_bytes())
}

impl Config {
    pub fn from_toml(text: &str, path: &Path) -> Result<Config, ConfigError> {
        let config: Config = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        config.validate()?;
        Ok(config)
    }

    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Config::from_toml(&text, path)
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |m: String| Err(ConfigError::Invalid(m));
        if !is_path_identity(&self.node.name) {
            return invalid(format!(
                "node.name {:?} must be a host-name-like Path identity (letters, digits, '-', '.', '_')",
                self.node.name
            ));
        }
        if self.limits.max_connections == 0 || self.limits.max_connections_per_host == 0 {
            return invalid(
                "limits.max_connections and limits.max_connections_per_host must be at least 1"
                    .into(),
            );
        }
        if self.limits.max_article_bytes < 1024 {
            return invalid("limits.max_article_bytes must be at least 1024".into());
        }
        if self.limits.idle_timeout_secs < 180 {
            return invalid("limits.idle_timeout_secs must be at least 180 (RFC 3977 §3.1)".into());
        }
        if self.limits.max_pipeline_bytes < self.limits.max_article_bytes {
            return invalid(
                "limits.max_pipeline_bytes must be at least limits.max_article_bytes".into(),
            );
        }
        if self.limits.max_claims == 0 || self.limits.claim_expiry_secs == 0 {
            return invalid(
                "limits.max_claims and limits.claim_expiry_secs must be at least 1".into(),
            );
        }
        if self.limits.max_pipeline == 0 || self.storage.commit_batch == 0 {
            return invalid(
                "limits.max_pipeline and storage.commit_batch must be at least 1".into(),
            );
        }
        let mut seen = std::collections::HashSet::new();
        for group in &self.groups {
            if !grammar::is_newsgroup_name(group.name.as_bytes()) {
                return invalid(format!(
                    "group name {:?} is not a newsgroup name",
                    group.name
                ));
            }
            if !seen.insert(&group.name) {
                return invalid(format!("group {:?} is listed twice", group.name));
            }
            if group.description.contains(['\r', '\n', '\t']) {
                return invalid(format!(
                    "description of {:?} must be one line without tabs",
                    group.name
                ));
            }
        }
        let wildmat = |what: &str, text: &str| {
            Wildmat::parse(text.as_bytes())
                .map_err(|e| ConfigError::Invalid(format!("{what}: {e}")))
        };
        let key = |what: &str, text: &str| {
            parse_key(text).ok_or_else(|| {
                ConfigError::Invalid(format!("{what}: not a public key (64 hex digits)"))
            })
        };
        wildmat("node.boards", &self.node.boards)?;
        wildmat("node.store", &self.node.store)?;
        wildmat("files.eager", &self.files.eager)?;
        for rule in &self.files.boards {
            wildmat("files.board boards", &rule.boards)?;
        }
        for rule in &self.access.rules {
            wildmat("access.rule boards", &rule.boards)?;
            for who in rule.read.iter().chain(&rule.post).flatten() {
                if let Err(why) = Principal::parse(who) {
                    return invalid(format!("access.rule {:?}: {why}", rule.boards));
                }
            }
        }
        if let Some(premoderate) = &self.node.premoderate {
            wildmat("node.premoderate", premoderate)?;
        }
        let mut names = std::collections::HashSet::new();
        for peer in &self.peers {
            if !is_path_identity(&peer.name) || !names.insert(&peer.name) {
                return invalid(format!(
                    "peer name {:?} is invalid or listed twice",
                    peer.name
                ));
            }
            if peer.key.is_empty() {
                if peer.hosts.is_empty() {
                    return invalid(format!(
                        "peer {:?} needs a key (a tidings node) or hosts (a plain NNTP peer such as INN)",
                        peer.name
                    ));
                }
            } else {
                key(&format!("peer {:?} key", peer.name), &peer.key)?;
            }
            if peer.trust.is_some() {
                let plain = PeerConfig::new(peer.name.clone(), peer.key.clone());
                let given: Vec<&str> = [
                    ("accept", peer.accept != plain.accept),
                    ("passports", peer.passports),
                    ("send", peer.send != plain.send),
                    ("boards", peer.boards.is_some()),
                    ("introduce", peer.introduce),
                ]
                .into_iter()
                .filter_map(|(name, set)| set.then_some(name))
                .collect();
                if !given.is_empty() {
                    return invalid(format!(
                        "peer {:?}: trust sets {}; leave them out or drop trust",
                        peer.name,
                        given.join(", ")
                    ));
                }
            }
            wildmat(&format!("peer {:?} send", peer.name), &peer.send)?;
            if let Some(right) = peer.accept.iter().find(|r| !RIGHTS.contains(&r.as_str())) {
                return invalid(format!(
                    "peer {:?} accept: unknown right {right:?} (use {RIGHTS:?})",
                    peer.name
                ));
            }
            if let Some(address) = &peer.address {
                if !address.contains(':') {
                    return invalid(format!(
                        "peer {:?} address {address:?} must be host:port",
                        peer.name
                    ));
                }
            }
            if peer.tls && crate::tls::server_name(&peer.name).is_err() {
                return invalid(format!(
                    "peer {:?} tls: the name cannot be sent as a TLS server name",
                    peer.name
                ));
            }
            if let Some(boards) = &peer.boards {
                wildmat(&format!("peer {:?} boards", peer.name), boards)?;
            }
        }
        for moderator in &self.moderators {
            key("moderator key", &moderator.key)?;
            wildmat("moderator groups", &moderator.groups)?;
        }
        if self.feed.outbox_days == 0 || self.feed.hop_limit == 0 || self.feed.window == 0 {
            return invalid(
                "feed.outbox_days, feed.hop_limit and feed.window must be at least 1".into(),
            );
        }
        if self.listen.nntp.port() != 0 && self.listen.nntps == Some(self.listen.nntp) {
            return invalid("listen.nntps must differ from listen.nntp".into());
        }
        for (what, list) in [
            ("files.blocked", &self.files.blocked),
            ("files.pinned", &self.files.pinned),
        ] {
            if let Some(bad) = list
                .iter()
                .find(|b| b.len() != 64 || !b.bytes().all(|c| c.is_ascii_hexdigit()))
            {
                return invalid(format!(
                    "{what} holds {bad:?}: each entry is a SHA-256 in 64 hex digits"
                ));
            }
        }
        if let Some(http) = self.listen.http.filter(|a| a.port() != 0) {
            if http == self.listen.nntp || Some(http) == self.listen.nntps {
                return invalid("listen.http must differ from listen.nntp and listen.nntps".into());
            }
        }
        if let Some(admin) = self.listen.admin.filter(|a| a.port() != 0) {
            if admin == self.listen.nntp
                || Some(admin) == self.listen.nntps
                || Some(admin) == self.listen.http
            {
                return invalid("listen.admin must differ from the other listeners".into());
            }
        }
        for rule in &self.retention {
            wildmat("retention boards", &rule.boards)?;
            if rule.days == 0 || rule.expires_min_days > rule.days {
                return invalid(format!(
                    "retention for {:?}: days must be at least 1 and expires_min_days at most days",
                    rule.boards
                ));
            }
        }
        if self.signing.pending_days == 0 {
            return invalid("signing.pending_days must be at least 1".into());
        }
        Ok(())
    }

    /// The configuration once [`Config::validate`] accepted it: what a node
    /// opens with.
    pub fn validated(self) -> Result<Valid, ConfigError> {
        self.validate()?;
        let wildmat = |what: &str, text: &str| {
            Wildmat::parse(text.as_bytes())
                .map_err(|e| ConfigError::Invalid(format!("{what}: {e}")))
        };
        Ok(Valid {
            stores: wildmat("node.store", &self.node.store)?,
            premoderate: self
                .node
                .premoderate
                .as_deref()
                .map(|w| wildmat("node.premoderate", w))
                .transpose()?,
            eager_files: wildmat("files.eager", &self.files.eager)?,
            board_files: self
                .files
                .boards
                .iter()
                .map(|rule| Ok((wildmat("files.board boards", &rule.boards)?, rule.clone())))
                .collect::<Result<_, ConfigError>>()?,
            retention_rules: self
                .retention
                .iter()
                .map(|rule| Ok((wildmat("retention boards", &rule.boards)?, rule.clone())))
                .collect::<Result<_, ConfigError>>()?,
            config: self,
            source: None,
        })
    }

    /// The users file's path, resolved against the data directory.
    pub fn users_path(&self) -> PathBuf {
        self.in_data_dir(&self.access.users)
    }

    /// The key file's path, resolved against the data directory.
    pub fn key_path(&self) -> PathBuf {
        self.in_data_dir(&self.node.key)
    }

    /// The TLS certificate and key files, resolved against the data
    /// directory.
    pub fn tls_paths(&self) -> (PathBuf, PathBuf) {
        (
            self.in_data_dir(&self.tls.cert),
            self.in_data_dir(&self.tls.key),
        )
    }

    fn in_data_dir(&self, path: &Path) -> PathBuf {
        if path.is_absolute() {
            path.to_path_buf()
        } else {
            self.node.data_dir.join(path)
        }
    }
}

/// A configuration that passed [`Config::validate`], with its board
/// wildmats parsed once; only [`Config::validated`] makes one, so a node
/// never runs on limits that validation forbids.
#[derive(Debug, Clone)]
pub struct Valid {
    config: Config,
    /// `[node] store`: boards a newgroup control message may create here.
    pub stores: Wildmat,
    /// `[node] premoderate`: boards whose new posts wait for the operator.
    pub premoderate: Option<Wildmat>,
    /// `[files] eager`: boards whose files are fetched when an article
    /// referencing them is filed.
    pub eager_files: Wildmat,
    /// `[[files.board]]`, their wildmats parsed.
    board_files: Vec<(Wildmat, BoardFilesConfig)>,
    /// `[[retention]]`, their wildmats parsed.
    pub retention_rules: Vec<(Wildmat, RetentionRule)>,
    /// The file it was read from, read again by a reload; None for the
    /// embedded defaults (a reload then changes nothing).
    pub source: Option<PathBuf>,
}

impl Valid {
    /// Records the file this configuration was read from.
    pub fn read_from(mut self, path: Option<PathBuf>) -> Valid {
        self.source = path;
        self
    }

    /// The configuration a reload reads: the file again, or the embedded
    /// defaults.
    pub fn read_again(&self) -> Result<Config, ConfigError> {
        match &self.source {
            Some(path) => Config::load(path),
            None => Ok(Config::default()),
        }
    }

    /// The file limits of `board`: `[files]`, narrowed by each
    /// `[[files.board]]` that matches it, in order.
    pub fn file_limits(&self, board: &str) -> FileLimits {
        let mut limits = self.files.limits();
        for (boards, rule) in &self.board_files {
            if boards.matches(board.as_bytes()) {
                if let Some(max) = rule.max_bytes {
                    limits.max_bytes = max;
                }
                if let Some(types) = &rule.types {
                    limits.types = types.clone();
                }
            }
        }
        limits
    }
}

impl std::ops::Deref for Valid {
    type Target = Config;

    fn deref(&self) -> &Config {
        &self.config
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn example_config_parses_and_validates() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config.example.toml");
        let config = Config::load(&path).expect("config.example.toml is valid");
        assert!(!config.groups.is_empty());
    }

    #[test]
    fn the_http_listener_is_an_address_or_false() {
        let off = Config::from_toml("[listen]\nhttp = false\n", Path::new("t.toml")).expect("off");
        assert_eq!(off.listen.http, None);
        let on = Config::from_toml("[listen]\nhttp = \"[::1]:8081\"\n", Path::new("t.toml"))
            .expect("an address");
        assert_eq!(on.listen.http, Some("[::1]:8081".parse().expect("addr")));
        for bad in ["http = true", "http = \"8080\"", "http = 8080"] {
            let err = Config::from_toml(&format!("[listen]\n{bad}\n"), Path::new("t.toml"))
                .expect_err(bad);
            assert!(err.to_string().contains("http"), "{bad}: {err}");
        }
        let same = Config::from_toml(
            "[listen]\nnntp = \"127.0.0.1:1119\"\nhttp = \"127.0.0.1:1119\"\n",
            Path::new("t.toml"),
        )
        .expect_err("same port");
        assert!(same.to_string().contains("listen.http"), "{same}");
    }

    #[test]
    fn a_trust_level_sets_the_rights_it_names() {
        let key = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";
        let peer = |extra: &str| {
            Config::from_toml(
                &format!("[[peer]]\nname = \"p\"\nkey = \"{key}\"\n{extra}\n"),
                Path::new("t.toml"),
            )
        };
        let identify = peer("trust = \"identify\"").expect("valid");
        let effective = identify.peers[0].effective();
        assert!(effective.passports && !effective.introduce);
        assert_eq!(effective.send, "!*");
        assert_eq!(effective.accept, ["articles", "passports"]);
        let mirror = peer("trust = \"mirror\"").expect("valid").peers[0].effective();
        assert!(mirror.introduce && mirror.boards.as_deref() == Some("*"));
        assert_eq!(mirror.accept.len(), RIGHTS.len());
        let levels = [
            TrustLevel::Identify,
            TrustLevel::CacheOpen,
            TrustLevel::CacheProtected,
            TrustLevel::CacheFriends,
        ];
        let grants: Vec<_> = levels
            .map(|l| (l.grants("protected"), l.grants("friends")))
            .to_vec();
        assert_eq!(
            grants,
            [(false, false), (false, false), (true, false), (true, true)]
        );
        let err = peer("trust = \"cache-open\"\npassports = true\nsend = \"a.*\"").unwrap_err();
        assert!(err.to_string().contains("passports, send"), "{err}");
        assert!(peer("trust = \"everything\"").is_err());
    }

    #[test]
    fn unknown_keys_are_named() {
        let err = Config::from_toml("[node]\nnmae = \"x\"\n", Path::new("t.toml")).unwrap_err();
        assert!(err.to_string().contains("nmae"), "{err}");
        let err = Config::from_toml("[limts]\n", Path::new("t.toml")).unwrap_err();
        assert!(err.to_string().contains("limts"), "{err}");
    }

    #[test]
    fn empty_file_gives_defaults_without_groups() {
        let config = Config::from_toml("", Path::new("t.toml")).expect("valid");
        assert_eq!(config.listen.nntp, default_nntp());
        assert!(config.groups.is_empty());
        assert_eq!(config.key_path(), PathBuf::from("./tidings-data/node.key"));
        assert_eq!(
            config.tls_paths(),
            (
                PathBuf::from("./tidings-data/tls.crt"),
                PathBuf::from("./tidings-data/tls.key")
            )
        );
        assert_eq!(config.listen.nntps, None);
        assert_eq!(
            config.listen.http,
            Some("127.0.0.1:8080".parse().expect("addr"))
        );
    }

    #[test]
    fn validation_failures() {
        for (text, needle) in [
            ("[node]\nname = \"a!b\"\n", "node.name"),
            ("[limits]\nidle_timeout_secs = 10\n", "idle_timeout_secs"),
            ("[[group]]\nname = \"bad name\"\n", "bad name"),
            (
                "[[group]]\nname = \"a.b\"\n[[group]]\nname = \"a.b\"\n",
                "twice",
            ),
            ("[[peer]]\nname = \"p\"\nkey = \"00\"\n", "peer \"p\" key"),
            (
                "[listen]\nnntp = \"127.0.0.1:119\"\nnntps = \"127.0.0.1:119\"\n",
                "listen.nntps",
            ),
            ("[tls]\ncrt = \"x.pem\"\n", "crt"),
            ("[files]\npinned = [\"x\"]\n", "files.pinned"),
            (
                "[[moderator]]\nkey = \"8a88e3dd7409f195fd52db2d3cba5d72ca6709bf1d94121bf3748801b40f6f5c\"\ngroups = \"a[\"\n",
                "moderator groups",
            ),
        ] {
            let err = Config::from_toml(text, Path::new("t.toml")).unwrap_err();
            assert!(err.to_string().contains(needle), "{text}: {err}");
        }
    }

    #[test]
    fn board_file_limits_narrow_the_nodes_in_order() {
        let config = Config::from_toml(
            "[files]\nmax_bytes = 1000\n[[files.board]]\nboards = \"chan.*\"\nmax_bytes = 500\n[[files.board]]\nboards = \"chan.gif\"\ntypes = [\"image/gif\"]\n",
            Path::new("t.toml"),
        )
        .expect("valid")
        .validated()
        .expect("validated");
        assert_eq!(config.file_limits("blog.x").max_bytes, 1000);
        assert_eq!(config.file_limits("chan.b").max_bytes, 500);
        let gif = config.file_limits("chan.gif");
        assert_eq!(
            (gif.max_bytes, gif.types.clone()),
            (500, vec!["image/gif".to_string()])
        );
        assert!(gif
            .refuses(10, "image/png")
            .is_some_and(|r| r.contains("image/png")));
        assert!(gif
            .refuses(501, "image/gif")
            .is_some_and(|r| r.contains("500")));
        assert_eq!(gif.refuses(500, "IMAGE/GIF"), None);
        let bad = Config::from_toml("[[files.board]]\nboards = \"a[\"\n", Path::new("t.toml"))
            .expect_err("bad wildmat");
        assert!(bad.to_string().contains("files.board"), "{bad}");
    }

    #[test]
    fn embedded_defaults_validate() {
        Config::default().validate().expect("defaults are valid");
    }
}

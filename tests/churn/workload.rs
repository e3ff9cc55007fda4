//! The random workload: signed articles of every kind the derived state
//! depends on, built from a seeded generator. What it injected is all the
//! model knows; replies, edits, cancels and moves name earlier articles
//! whether or not a node took them, so the sequence depends on the seed
//! alone, never on what the nodes answered.

use std::collections::BTreeMap;

use ed25519_dalek::SigningKey;

use super::rng::Rng;
use crate::common::{hex_key, sign_with};

/// The boards every node is configured with.
pub const CONFIGURED: [&str; 2] = ["churn.one", "churn.two"];
/// Boards that only newgroup / modgroup / rmgroup controls make.
pub const DYNAMIC: [&str; 3] = ["chan.a", "chan.b", "chan.c"];

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    Post,
    Reply,
    UserPost,
    Edit,
    Cancel,
    Move,
    NewGroup,
    ModGroup,
    RmGroup,
    Passport,
    /// A passport for a key that already had one (from another issuer,
    /// or after its revocation).
    PassportAgain,
    Revoke,
}

impl Kind {
    pub const ALL: [Kind; 12] = [
        Kind::Post,
        Kind::Reply,
        Kind::UserPost,
        Kind::Edit,
        Kind::Cancel,
        Kind::Move,
        Kind::NewGroup,
        Kind::ModGroup,
        Kind::RmGroup,
        Kind::Passport,
        Kind::PassportAgain,
        Kind::Revoke,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Kind::Post => "post",
            Kind::Reply => "reply",
            Kind::UserPost => "user-post",
            Kind::Edit => "edit",
            Kind::Cancel => "cancel",
            Kind::Move => "move",
            Kind::NewGroup => "newgroup",
            Kind::ModGroup => "modgroup",
            Kind::RmGroup => "rmgroup",
            Kind::Passport => "passport",
            Kind::PassportAgain => "passport-again",
            Kind::Revoke => "revoke",
        }
    }
}

/// Relative weights of the kinds of events, in [`Kind::ALL`] order, and
/// how often (percent) a new thread is crossposted to two boards.
#[derive(Clone, Debug)]
pub struct Mix {
    pub weights: [u32; 12],
    pub crosspost: u64,
}

impl Default for Mix {
    fn default() -> Self {
        Mix {
            //        post reply user edit cancel move new mod rm passport again revoke
            weights: [22, 22, 14, 7, 6, 6, 4, 3, 2, 5, 1, 2],
            crosspost: 10,
        }
    }
}

impl Mix {
    /// Parses `kind=weight,...` over the defaults, e.g. `revoke=0`, and
    /// `crosspost=percent`.
    pub fn parse(text: &str) -> Result<Mix, String> {
        let mut mix = Mix::default();
        for part in text.split(',').filter(|p| !p.is_empty()) {
            let (name, value) = part
                .split_once('=')
                .ok_or_else(|| format!("{part:?}: want kind=weight"))?;
            let value: u32 = value.trim().parse().map_err(|e| format!("{part:?}: {e}"))?;
            if name.trim() == "crosspost" {
                mix.crosspost = u64::from(value.min(100));
                continue;
            }
            let at = Kind::ALL
                .iter()
                .position(|k| k.name() == name.trim())
                .ok_or_else(|| format!("unknown kind {name:?}"))?;
            mix.weights[at] = value;
        }
        Ok(mix)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Author {
    Node(usize),
    User(usize),
    Moderator,
}

/// How an event enters its node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Via {
    /// TAKETHIS from the harness, authenticated as a peer.
    Takethis,
    /// An unsigned POST under a free Message-ID: the node signs it.
    Post,
}

pub struct Event {
    pub kind: Kind,
    pub id: String,
    pub text: String,
    pub via: Via,
    /// The node it is injected at.
    pub node: usize,
}

struct Post {
    id: String,
    author: Author,
    groups: String,
    /// References of a reply to this post: its thread root first.
    chain: Vec<String>,
    /// An opening post (a thread root).
    root: bool,
}

#[derive(Default, Clone, Copy)]
struct User {
    passported: bool,
    revoked: bool,
}

pub struct Keys {
    pub nodes: Vec<SigningKey>,
    pub users: Vec<SigningKey>,
    pub moderator: SigningKey,
}

pub struct World {
    pub keys: Keys,
    seed: u64,
    /// Unix seconds the virtual Dates start from.
    base: i64,
    posts: Vec<Post>,
    users: Vec<User>,
    /// Per dynamic board: (Date, Message-ID, exists) of the latest-dated
    /// newgroup / rmgroup injected, the harness's guess at where it stands.
    boards: BTreeMap<&'static str, (i64, String, bool)>,
    serial: u64,
}

impl World {
    pub fn new(keys: Keys, seed: u64, base: i64) -> World {
        let users = vec![User::default(); keys.users.len()];
        World {
            keys,
            seed,
            base,
            posts: Vec::new(),
            users,
            boards: BTreeMap::new(),
            serial: 0,
        }
    }

    fn key(&self, author: Author) -> &SigningKey {
        match author {
            Author::Node(i) => &self.keys.nodes[i],
            Author::User(u) => &self.keys.users[u],
            Author::Moderator => &self.keys.moderator,
        }
    }

    fn unique(&mut self) -> String {
        self.serial += 1;
        format!("churn.{:x}.{}", self.seed, self.serial)
    }

    fn bound_id(&mut self, author: Author) -> String {
        let unique = self.unique();
        String::from_utf8(tidings::proto::signing::new_message_id(
            &self.key(author).verifying_key(),
            &unique,
            "churn.invalid",
        ))
        .expect("ascii Message-ID")
    }

    /// The Date of event `index`: half a second an event from the base,
    /// give or take ten minutes, so the Date order of competing controls
    /// often differs from the order they were injected in.
    fn date(&self, index: usize, rng: &mut Rng) -> String {
        let jitter = rng.below(1201) as i64 - 600;
        let secs = self.base + index as i64 / 2 + jitter;
        chrono::DateTime::from_timestamp(secs, 0)
            .expect("a representable date")
            .to_rfc2822()
    }

    fn board(&self, rng: &mut Rng) -> &'static str {
        if rng.percent(60) {
            return CONFIGURED[rng.below(CONFIGURED.len())];
        }
        let existing: Vec<&'static str> = DYNAMIC
            .iter()
            .copied()
            .filter(|b| self.boards.get(b).is_some_and(|s| s.2))
            .collect();
        if !existing.is_empty() && rng.percent(80) {
            existing[rng.below(existing.len())]
        } else {
            DYNAMIC[rng.below(DYNAMIC.len())]
        }
    }

    fn newsgroups(&self, crosspost: u64, rng: &mut Rng) -> String {
        let first = self.board(rng);
        if rng.percent(crosspost) {
            let second = self.board(rng);
            if second != first {
                return format!("{first},{second}");
            }
        }
        first.to_string()
    }

    /// A post, preferring recent ones so threads grow.
    fn recent(&self, rng: &mut Rng, roots_only: bool) -> Option<usize> {
        let candidates: Vec<usize> = (0..self.posts.len())
            .rev()
            .filter(|&i| !roots_only || self.posts[i].root)
            .take(150)
            .collect();
        (!candidates.is_empty()).then(|| *rng.pick(&candidates))
    }

    /// The author, newsgroups and Message-ID of post `i`.
    fn about(&self, i: usize) -> (Author, String, String) {
        let t = &self.posts[i];
        (t.author, t.groups.clone(), t.id.clone())
    }

    fn fresh_users(&self) -> Vec<usize> {
        (0..self.users.len())
            .filter(|&u| !self.users[u].passported && !self.users[u].revoked)
            .collect()
    }

    fn live_users(&self) -> Vec<usize> {
        (0..self.users.len())
            .filter(|&u| self.users[u].passported && !self.users[u].revoked)
            .collect()
    }

    /// The next event, to be injected at one of `up` (the nodes running).
    pub fn next(&mut self, index: usize, mix: &Mix, up: &[usize], rng: &mut Rng) -> Event {
        let node = *rng.pick(up);
        let mut kind = Kind::ALL[rng.weighted(&mix.weights)];
        // Kinds that need something to act on fall back to one that makes it.
        if matches!(kind, Kind::Reply | Kind::Edit | Kind::Cancel | Kind::Move)
            && self.posts.is_empty()
        {
            kind = Kind::Post;
        }
        if kind == Kind::UserPost && self.live_users().is_empty() {
            kind = Kind::Passport;
        }
        if kind == Kind::Revoke && self.live_users().is_empty() {
            kind = Kind::Post;
        }
        if kind == Kind::Passport && self.fresh_users().is_empty() {
            kind = Kind::Post;
        }
        let date = self.date(index, rng);
        match kind {
            Kind::Post => {
                let groups = self.newsgroups(mix.crosspost, rng);
                self.post(kind, node, date, groups, Vec::new(), None, rng)
            }
            Kind::Reply | Kind::UserPost => {
                let parent = if kind == Kind::Reply || rng.percent(60) {
                    self.recent(rng, false)
                } else {
                    None
                };
                let (groups, chain) = match parent {
                    Some(p) => (self.posts[p].groups.clone(), self.posts[p].chain.clone()),
                    None => (self.newsgroups(mix.crosspost, rng), Vec::new()),
                };
                let user = (kind == Kind::UserPost).then(|| *rng.pick(&self.live_users()));
                self.post(kind, node, date, groups, chain, user, rng)
            }
            Kind::Edit => {
                let target = self.recent(rng, false).expect("a post");
                let (author, groups, chain, old) = {
                    let t = &self.posts[target];
                    let chain = t.chain[..t.chain.len() - 1].to_vec();
                    (t.author, t.groups.clone(), chain, t.id.clone())
                };
                let signer = author_or_moderator(author, 20, rng);
                let id = self.bound_id(signer);
                let text = self.text(
                    &id,
                    signer,
                    &groups,
                    &date,
                    &chain,
                    &[("Supersedes", old.clone())],
                    &format!("edited text of {old}\r\n"),
                );
                let mut chain = chain;
                chain.push(id.clone());
                self.posts.push(Post {
                    id: id.clone(),
                    author: signer,
                    groups,
                    root: chain.len() == 1,
                    chain,
                });
                self.signed(kind, id, text, signer, node)
            }
            Kind::Cancel => {
                let target = self.recent(rng, false).expect("a post");
                let (author, groups, old) = self.about(target);
                let signer = author_or_moderator(author, 30, rng);
                self.control(
                    kind,
                    node,
                    signer,
                    &groups,
                    &date,
                    &format!("cancel {old}"),
                    "",
                )
            }
            Kind::Move => {
                let Some(root) = self.recent(rng, true) else {
                    let groups = self.newsgroups(mix.crosspost, rng);
                    return self.post(Kind::Post, node, date, groups, Vec::new(), None, rng);
                };
                let (author, groups, old) = self.about(root);
                let to = self.board(rng);
                let signer = author_or_moderator(author, 30, rng);
                self.control(
                    kind,
                    node,
                    signer,
                    &groups,
                    &date,
                    &format!("move {old} {to}"),
                    "",
                )
            }
            Kind::NewGroup | Kind::ModGroup | Kind::RmGroup => {
                let board = *rng.pick(&DYNAMIC);
                let signer = Author::Node(rng.below(self.keys.nodes.len()));
                let (command, body) = match kind {
                    Kind::NewGroup => (
                        format!(
                            "newgroup {board}{}",
                            if rng.percent(20) { " hidden" } else { "" }
                        ),
                        format!("{board} as event {index} made it\r\n"),
                    ),
                    Kind::ModGroup => (
                        format!(
                            "modgroup {board}{}",
                            *rng.pick(&["", " hidden", " visible"])
                        ),
                        if rng.percent(60) {
                            format!("{board} as event {index} changed it\r\n")
                        } else {
                            String::new()
                        },
                    ),
                    _ => (format!("rmgroup {board}"), String::new()),
                };
                let event = self.control(kind, node, signer, board, &date, &command, &body);
                if kind != Kind::ModGroup {
                    let stamp = (date_secs(&date), event.id.clone(), kind == Kind::NewGroup);
                    let latest = self.boards.entry(board).or_insert(stamp.clone());
                    if (stamp.0, &stamp.1) > (latest.0, &latest.1) {
                        *latest = stamp;
                    }
                }
                event
            }
            Kind::Passport | Kind::PassportAgain => {
                let user = if kind == Kind::Passport {
                    *rng.pick(&self.fresh_users())
                } else {
                    rng.below(self.users.len())
                };
                let signer = Author::Node(rng.below(self.keys.nodes.len()));
                let command = format!("passport {}", hex_key(&self.keys.users[user]));
                self.users[user].passported = true;
                self.control(kind, node, signer, CONFIGURED[0], &date, &command, "")
            }
            Kind::Revoke => {
                let user = *rng.pick(&self.live_users());
                let signer = if rng.percent(25) {
                    Author::User(user)
                } else {
                    Author::Node(rng.below(self.keys.nodes.len()))
                };
                let command = format!("revoke {}", hex_key(&self.keys.users[user]));
                self.users[user].revoked = true;
                self.control(kind, node, signer, CONFIGURED[0], &date, &command, "")
            }
        }
    }

    /// An opening post (empty `chain`) or a reply, by `user` or else by a
    /// node key or the moderator; some go in as unsigned POSTs.
    #[allow(clippy::too_many_arguments)]
    fn post(
        &mut self,
        kind: Kind,
        node: usize,
        date: String,
        groups: String,
        mut chain: Vec<String>,
        user: Option<usize>,
        rng: &mut Rng,
    ) -> Event {
        let unsigned = user.is_none() && rng.percent(25);
        let author = match user {
            Some(u) => Author::User(u),
            None if unsigned => Author::Node(node),
            None if rng.percent(10) => Author::Moderator,
            None => Author::Node(rng.below(self.keys.nodes.len())),
        };
        let id = if unsigned {
            // A free ID, as a newsreader makes: the node signs under it.
            format!("<{}@free.churn.invalid>", self.unique())
        } else {
            self.bound_id(author)
        };
        let body = format!("{} {} by {author:?}\r\n", kind.name(), id);
        let text = self.text(&id, author, &groups, &date, &chain, &[], &body);
        chain.push(id.clone());
        self.posts.push(Post {
            id: id.clone(),
            author,
            groups,
            root: chain.len() == 1,
            chain,
        });
        if unsigned {
            // A POST carries no Path; the node adds it.
            let text = text
                .split_once("\r\n")
                .map(|(_, rest)| rest.to_string())
                .unwrap_or_default();
            return Event {
                kind,
                id,
                text,
                via: Via::Post,
                node,
            };
        }
        self.signed(kind, id, text, author, node)
    }

    #[allow(clippy::too_many_arguments)]
    fn control(
        &mut self,
        kind: Kind,
        node: usize,
        signer: Author,
        groups: &str,
        date: &str,
        command: &str,
        body: &str,
    ) -> Event {
        let id = self.bound_id(signer);
        let text = self.text(
            &id,
            signer,
            groups,
            date,
            &[],
            &[("Control", command.to_string())],
            body,
        );
        self.signed(kind, id, text, signer, node)
    }

    fn signed(&self, kind: Kind, id: String, text: String, signer: Author, node: usize) -> Event {
        Event {
            kind,
            id,
            text: sign_with(&text, self.key(signer)),
            via: Via::Takethis,
            node,
        }
    }

    /// Article text with CRLF lines, Path first (a POST drops it).
    #[allow(clippy::too_many_arguments)]
    fn text(
        &self,
        id: &str,
        author: Author,
        groups: &str,
        date: &str,
        references: &[String],
        extra: &[(&str, String)],
        body: &str,
    ) -> String {
        let from = match author {
            Author::Node(i) => format!("Node {i} <node{i}@churn.invalid>"),
            Author::User(u) => format!("User {u} <user{u}@churn.invalid>"),
            Author::Moderator => "Moderator <moderator@churn.invalid>".to_string(),
        };
        let subject = match references.first() {
            Some(root) => format!("Re: thread of {root}"),
            None => format!("about {id}"),
        };
        let mut text = format!(
            "Path: churn.harness!not-for-mail\r\nFrom: {from}\r\nNewsgroups: {groups}\r\nSubject: {subject}\r\nDate: {date}\r\nMessage-ID: {id}\r\n"
        );
        if let Some((root, rest)) = references.split_first() {
            // The root and the last few parents: the root is what threads.
            let mut refs = vec![root.as_str()];
            refs.extend(
                rest[rest.len().saturating_sub(3)..]
                    .iter()
                    .map(String::as_str),
            );
            text.push_str(&format!("References: {}\r\n", refs.join(" ")));
        }
        for (name, value) in extra {
            text.push_str(&format!("{name}: {value}\r\n"));
        }
        text.push_str("\r\n");
        text.push_str(body);
        text
    }
}

fn date_secs(date: &str) -> i64 {
    chrono::DateTime::parse_from_rfc2822(date)
        .map(|d| d.timestamp())
        .unwrap_or(0)
}

/// The moderator `percent` times in a hundred, else `author`: who signs an
/// edit, cancel or move of `author`'s post.
fn author_or_moderator(author: Author, percent: u64, rng: &mut Rng) -> Author {
    if rng.percent(percent) {
        Author::Moderator
    } else {
        author
    }
}

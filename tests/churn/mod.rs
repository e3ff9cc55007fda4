//! The churn harness of issue 13: real `tidings serve` processes in a
//! random connected mesh whose every link goes through a proxy the harness
//! can cut; a seeded workload of every kind of article the derived state
//! depends on, injected at random nodes while nodes are killed with -9 and
//! restarted and links are partitioned; then everything is healed and the
//! harness waits for every node to report the same state digest.
//!
//! The seed fixes the whole schedule: topology, keys, the articles and the
//! node each goes to, which node is killed when and for how long, which
//! links each partition cuts. What the nodes answer never feeds back into
//! it, so a seed that shows a bug shows it again (timing aside).

mod client;
mod process;
mod proxy;
mod rng;
pub mod workload;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ed25519_dalek::SigningKey;
use sha2::{Digest, Sha256};

use client::Conn;
use process::Process;
use proxy::{Link, Proxies};
use rng::Rng;
use workload::{Event, Keys, Mix, Via, World, CONFIGURED, DYNAMIC};

/// The peer name the harness authenticates as on every node.
const HARNESS: &str = "churn.harness";
const USERS: usize = 6;

#[derive(Clone, Debug)]
pub struct Settings {
    pub seed: u64,
    pub nodes: usize,
    pub events: usize,
    pub kills: usize,
    pub partitions: usize,
    /// Pause between two events, so flooding and the kills overlap.
    pub pace: Duration,
    /// Links beyond the ring that keeps the mesh connected.
    pub chords: usize,
    /// Most nodes down at once.
    pub max_down: usize,
    /// How many events a killed node stays down, and a partition lasts
    /// (fewest, most); the last of each lasts until the final heal.
    pub down_events: (usize, usize),
    pub cut_events: (usize, usize),
    /// `[feed] catch_up_every_secs` of every node. An article a node
    /// refused for the record because its board was not created there yet
    /// leaves the feeder's outbox with that refusal; only a catch-up brings
    /// it once the newgroup has come, and a link that stays up catches up
    /// only this often (an hour by default). `CHURN_CATCH_UP` sets it.
    pub catch_up_every_secs: u64,
    /// How long to wait after healing for the digests to agree before
    /// giving up (the run reports the time either way).
    pub converge_limit: Duration,
    pub mix: Mix,
}

impl Settings {
    /// The acceptance schedule of issue 13: 10 processes, 320 events, 5
    /// kills, 3 partitions.
    pub fn short(seed: u64) -> Settings {
        Settings {
            seed,
            nodes: 10,
            events: 320,
            kills: 5,
            partitions: 3,
            pace: Duration::from_millis(60),
            chords: 10,
            max_down: 2,
            down_events: (10, 40),
            cut_events: (15, 60),
            catch_up_every_secs: catch_up_every_secs(),
            converge_limit: Duration::from_secs(90),
            mix: Mix::default(),
        }
    }

    /// A long schedule from `CHURN_SECONDS` (default 600), `CHURN_SEED`,
    /// `CHURN_NODES` (default 10), `CHURN_RATE` (events a second, default
    /// 20), `CHURN_MIX` (e.g. `revoke=0,crosspost=0`, see [`Mix::parse`])
    /// and `CHURN_CATCH_UP`.
    pub fn from_env() -> Settings {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let number = |name: &str, default: u64| -> u64 {
            var(name).map_or(default, |v| {
                v.parse()
                    .unwrap_or_else(|e| panic!("{name}={v:?} is not a number: {e}"))
            })
        };
        let seconds = number("CHURN_SECONDS", 600);
        let seed = number("CHURN_SEED", 1);
        let nodes = number("CHURN_NODES", 10).max(2) as usize;
        let rate = number("CHURN_RATE", 20).max(1);
        let mix = var("CHURN_MIX").map_or_else(Mix::default, |m| {
            Mix::parse(&m).unwrap_or_else(|e| panic!("CHURN_MIX: {e}"))
        });
        Settings {
            seed,
            nodes,
            events: (seconds * rate) as usize,
            // One kill every 12 s and one partition every 20 s of schedule.
            kills: (seconds / 12).max(1) as usize,
            partitions: (seconds / 20).max(1) as usize,
            pace: Duration::from_micros(1_000_000 / rate),
            chords: nodes,
            max_down: (nodes / 4).max(1),
            // 2 to 30 seconds down, 2 to 40 seconds cut off.
            down_events: (2 * rate as usize, 30 * rate as usize),
            cut_events: (2 * rate as usize, 40 * rate as usize),
            catch_up_every_secs: catch_up_every_secs(),
            converge_limit: Duration::from_secs(180),
            mix,
        }
    }
}

fn catch_up_every_secs() -> u64 {
    std::env::var("CHURN_CATCH_UP")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10)
}

/// The figures of one run.
#[derive(Debug, Default)]
pub struct Report {
    pub seed: u64,
    pub nodes: usize,
    pub links: usize,
    pub injected: BTreeMap<&'static str, usize>,
    pub acknowledged: BTreeMap<&'static str, usize>,
    /// Refusals by kind, code and reason (Message-IDs left out).
    pub refused: BTreeMap<String, usize>,
    /// Injections that got no answer (the node was killed meanwhile, or
    /// the connection broke).
    pub unanswered: usize,
    pub events: usize,
    pub kills: usize,
    pub partitions: usize,
    /// Whether the digests came from XSTATE or from the reader view.
    pub digest_source: &'static str,
    /// From healing (links healed, nodes restarted) to every node
    /// reporting the same digest; None if they never did within the limit.
    pub heal_to_equal: Option<Duration>,
    /// Distinct digests when the harness stopped waiting.
    pub distinct_digests: usize,
    /// Whether the digests still agreed after the lost-article check.
    pub stable: bool,
    /// Bodies sent over peer links (TAKETHIS / IHAVE) that the receiving
    /// node already knew: answered 439 / 437 "already seen" / "duplicate".
    pub duplicate_transfers: u64,
    /// Bodies sent over peer links and taken (239 / 235), refused for
    /// another reason, and offers answered "not wanted" (CHECK 438, IHAVE
    /// 435) and "later" (431 / 436).
    pub bodies_taken: u64,
    pub bodies_refused: u64,
    pub offers_not_wanted: u64,
    pub offers_deferred: u64,
    /// Catch-up runs' totals over every node: ids asked for, and of them
    /// stored; the rest were fetched in full and refused (or gone).
    pub catch_up_missing: u64,
    pub catch_up_fetched: u64,
    /// Articles acknowledged (240 / 239) by a node that does not know them
    /// after healing (CHECK 238), as `node id`.
    pub acknowledged_lost: Vec<String>,
    /// CHECKs that answered neither 438 nor 238.
    pub unchecked: usize,
    pub panics: Vec<String>,
    pub errors: Vec<String>,
    /// Nodes that exited without being killed.
    pub crashes: Vec<String>,
    /// Per node, lines of the reader view that differ from the majority's
    /// (only when the digests did not agree).
    pub divergence: Vec<String>,
    /// What happened to the cluster, at which event.
    pub schedule: Vec<String>,
    /// Where the data directories and logs were kept (CHURN_KEEP).
    pub kept: Option<std::path::PathBuf>,
    pub seconds: f64,
}

impl Report {
    pub fn total_acknowledged(&self) -> usize {
        self.acknowledged.values().sum()
    }

    pub fn print(&self) {
        let counts = |m: &BTreeMap<&'static str, usize>| {
            m.iter()
                .map(|(k, v)| format!("{k} {v}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        println!("churn seed: {}", self.seed);
        println!("churn nodes: {} (links: {})", self.nodes, self.links);
        println!(
            "churn events injected: {} ({})",
            self.events,
            counts(&self.injected)
        );
        println!(
            "churn events acknowledged: {} ({})",
            self.total_acknowledged(),
            counts(&self.acknowledged)
        );
        println!("churn events unanswered: {}", self.unanswered);
        for (why, n) in &self.refused {
            println!("churn refused: {n} x {why}");
        }
        println!("churn kills: {}", self.kills);
        println!("churn partitions: {}", self.partitions);
        println!("churn digest source: {}", self.digest_source);
        match self.heal_to_equal {
            Some(d) => println!("churn heal to equal digests: {:.1} s", d.as_secs_f64()),
            None => println!(
                "churn heal to equal digests: never ({} distinct digests at the limit)",
                self.distinct_digests
            ),
        }
        println!("churn digests stable afterwards: {}", self.stable);
        println!(
            "churn duplicate article transfers beyond offers: {}",
            self.duplicate_transfers
        );
        println!(
            "churn bodies over peer links: {} taken, {} refused; offers {} not wanted, {} deferred",
            self.bodies_taken, self.bodies_refused, self.offers_not_wanted, self.offers_deferred
        );
        println!(
            "churn catch-up fetches: {} asked for, {} stored, {} refused or gone",
            self.catch_up_missing,
            self.catch_up_fetched,
            self.catch_up_missing.saturating_sub(self.catch_up_fetched)
        );
        println!(
            "churn acknowledged articles lost: {}",
            self.acknowledged_lost.len()
        );
        for lost in &self.acknowledged_lost {
            println!("churn lost: {lost}");
        }
        println!("churn checks without an answer: {}", self.unchecked);
        println!("churn node panics: {}", self.panics.len());
        println!("churn node errors logged: {}", self.errors.len());
        println!("churn node crashes: {}", self.crashes.len());
        for line in self
            .panics
            .iter()
            .chain(&self.crashes)
            .chain(self.errors.iter().take(20))
            .chain(&self.divergence)
        {
            println!("churn   {line}");
        }
        println!("churn schedule: {}", self.schedule.join("; "));
        if let Some(dir) = &self.kept {
            println!("churn kept: {}", dir.display());
        }
        println!("churn run seconds: {:.1}", self.seconds);
    }
}

struct Cluster {
    /// Data directories, configurations and logs; removed when the run
    /// ends unless CHURN_KEEP is set.
    dir: Option<tempfile::TempDir>,
    procs: Vec<Process>,
    proxies: Proxies,
    harness: SigningKey,
    conns: Vec<Option<Conn>>,
    /// Whether the nodes answer XSTATE; None until asked.
    xstate: Option<bool>,
}

fn name(i: usize) -> String {
    format!("n{i}.churn")
}

impl Cluster {
    fn build(
        settings: &Settings,
        keys: &Keys,
        harness: &SigningKey,
        edges: &[(usize, usize)],
    ) -> Cluster {
        let dir = crate::common::temp_dir();
        let mut proxies = Proxies::new();
        // Each node's address for each neighbour: the proxy of that link.
        let mut feeds: Vec<Vec<(usize, std::net::SocketAddr)>> = vec![Vec::new(); settings.nodes];
        for &(a, b) in edges {
            for (from, to) in [(a, b), (b, a)] {
                let link = proxies.add(from, to);
                feeds[from].push((to, link.listen));
            }
        }
        let mut procs = Vec::new();
        for (i, feeds) in feeds.iter().enumerate() {
            let data = dir.path().join(name(i));
            std::fs::create_dir_all(&data).expect("data dir");
            std::fs::write(
                data.join("node.key"),
                format!("{}\n", hex::encode(keys.nodes[i].to_bytes())),
            )
            .expect("node key");
            let mut text = format!(
                "[node]\nname = \"{}\"\ndata_dir = {:?}\n[listen]\nnntp = \"127.0.0.1:0\"\nhttp = \"127.0.0.1:0\"\nadmin = \"127.0.0.1:0\"\n[feed]\ncatch_up_every_secs = {}\n",
                name(i),
                data,
                settings.catch_up_every_secs
            );
            for board in CONFIGURED {
                text.push_str(&format!(
                    "[[group]]\nname = \"{board}\"\ndescription = \"configured {board}\"\n"
                ));
            }
            text.push_str(&format!(
                "[[moderator]]\nkey = \"{}\"\ngroups = \"churn.*,chan.*\"\n",
                crate::common::hex_key(&keys.moderator)
            ));
            // Every node key is known everywhere (they sign passports,
            // boards and free IDs); only neighbours are fed.
            for j in (0..settings.nodes).filter(|&j| j != i) {
                text.push_str(&format!(
                    "[[peer]]\nname = \"{}\"\nkey = \"{}\"\npassports = true\nboards = \"*\"\n",
                    name(j),
                    crate::common::hex_key(&keys.nodes[j])
                ));
                if let Some((_, addr)) = feeds.iter().find(|(to, _)| *to == j) {
                    text.push_str(&format!("address = \"{addr}\"\n"));
                }
            }
            text.push_str(&format!(
                "[[peer]]\nname = \"{HARNESS}\"\nkey = \"{}\"\n",
                crate::common::hex_key(harness)
            ));
            let config = dir.path().join(format!("{}.toml", name(i)));
            std::fs::write(&config, text).expect("config");
            let log = dir.path().join(format!("{}.log", name(i)));
            procs.push(Process::new(name(i), config, log));
        }
        Cluster {
            dir: Some(dir),
            conns: (0..settings.nodes).map(|_| None).collect(),
            procs,
            proxies,
            harness: harness.clone(),
            xstate: None,
        }
    }

    fn links_to(&self, node: usize) -> impl Iterator<Item = &Arc<Link>> {
        self.proxies.links.iter().filter(move |l| l.to == node)
    }

    fn start(&mut self, node: usize) {
        let addr = self.procs[node]
            .start()
            .unwrap_or_else(|e| panic!("{} did not start: {e}", name(node)));
        for link in self.links_to(node) {
            link.set_target(Some(addr));
        }
    }

    fn kill(&mut self, node: usize) {
        for link in self.links_to(node) {
            link.set_target(None);
        }
        self.conns[node] = None;
        self.procs[node].kill_9();
    }

    fn up(&self) -> Vec<usize> {
        (0..self.procs.len())
            .filter(|&i| self.procs[i].is_up())
            .collect()
    }

    /// The harness's peer connection to `node`, opened on first use.
    fn conn(&mut self, node: usize) -> std::io::Result<&mut Conn> {
        if self.conns[node].is_none() {
            let addr = self.procs[node]
                .addr
                .ok_or_else(|| std::io::Error::other("node is down"))?;
            self.conns[node] = Some(Conn::peer(addr, HARNESS, &self.harness)?);
        }
        Ok(self.conns[node].as_mut().expect("just opened"))
    }

    /// Runs `f` on the node's connection; a broken connection is dropped so
    /// the next call opens a new one.
    fn with<T>(
        &mut self,
        node: usize,
        f: impl FnOnce(&mut Conn) -> std::io::Result<T>,
    ) -> std::io::Result<T> {
        let result = self.conn(node).and_then(f);
        if result.is_err() {
            self.conns[node] = None;
        }
        result
    }

    /// The node's state digest: XSTATE when the node has it, else a hash
    /// of what a reader sees (boards, descriptions, which articles each
    /// board files).
    fn digest(&mut self, node: usize) -> std::io::Result<String> {
        if self.xstate.is_none() {
            let (code, text) = self.with(node, |c| c.cmd("CAPABILITIES"))?;
            if code != 101 {
                return Err(std::io::Error::other(format!(
                    "CAPABILITIES: {code} {text}"
                )));
            }
            let capabilities = self.with(node, Conn::block)?;
            self.xstate = Some(capabilities.iter().any(|l| l == "X-TIDINGS-STATE 1"));
        }
        if self.xstate == Some(true) {
            let (code, text) = self.with(node, |c| c.cmd("XSTATE"))?;
            let digest = text.split(' ').next().unwrap_or_default();
            if code != 293
                || digest.len() != 64
                || !digest
                    .bytes()
                    .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
            {
                return Err(std::io::Error::other(format!("XSTATE: {code} {text}")));
            }
            return Ok(digest.to_string());
        }
        let lines = self.with(node, view)?;
        let mut hash = Sha256::new();
        for line in &lines {
            hash.update(line.as_bytes());
            hash.update(b"\n");
        }
        Ok(hex::encode(hash.finalize()))
    }
}

/// What a reader can see of the derived state: each board with its
/// description (hidden boards are found by name), and each article filed
/// in it.
fn view(c: &mut Conn) -> std::io::Result<BTreeSet<String>> {
    let mut lines = BTreeSet::new();
    let (code, text) = c.cmd("LIST NEWSGROUPS")?;
    if code != 215 {
        return Err(std::io::Error::other(format!(
            "LIST NEWSGROUPS: {code} {text}"
        )));
    }
    let listed: BTreeSet<String> = c
        .block()?
        .into_iter()
        .inspect(|l| {
            lines.insert(format!("board {l}"));
        })
        .filter_map(|l| l.split('\t').next().map(str::to_string))
        .collect();
    for board in CONFIGURED.iter().chain(&DYNAMIC).chain(&["control"]) {
        let (code, text) = c.cmd(&format!("GROUP {board}"))?;
        if code != 211 {
            continue;
        }
        if !listed.contains(*board) {
            lines.insert(format!("board {board} (hidden)"));
        }
        let mut numbers = text.split(' ');
        let (count, low, high) = (numbers.next(), numbers.next(), numbers.next());
        if count == Some("0") {
            continue;
        }
        let (code, text) = c.cmd(&format!(
            "OVER {}-{}",
            low.unwrap_or("1"),
            high.unwrap_or("1")
        ))?;
        if code != 224 {
            return Err(std::io::Error::other(format!("OVER: {code} {text}")));
        }
        for overview in c.block()? {
            if let Some(id) = overview.split('\t').nth(4) {
                lines.insert(format!("filed {board} {id}"));
            }
        }
    }
    Ok(lines)
}

/// A ring over a random order of the nodes, so the mesh is connected, and
/// `chords` more random links.
fn topology(nodes: usize, chords: usize, rng: &mut Rng) -> Vec<(usize, usize)> {
    let mut order: Vec<usize> = (0..nodes).collect();
    for i in (1..nodes).rev() {
        order.swap(i, rng.below(i + 1));
    }
    let mut edges: BTreeSet<(usize, usize)> = BTreeSet::new();
    let edge = |a: usize, b: usize| (a.min(b), a.max(b));
    for i in 0..nodes {
        let (a, b) = (order[i], order[(i + 1) % nodes]);
        if a != b {
            edges.insert(edge(a, b));
        }
    }
    let possible = nodes * (nodes - 1) / 2;
    let wanted = (edges.len() + chords).min(possible);
    while edges.len() < wanted {
        let (a, b) = (rng.below(nodes), rng.below(nodes));
        if a != b {
            edges.insert(edge(a, b));
        }
    }
    edges.into_iter().collect()
}

/// A reason without the Message-IDs and keys in it, so refusals group.
fn reason_class(text: &str) -> String {
    text.split_whitespace()
        .filter(|w| {
            let key_like = w.len() >= 16 && w.chars().all(|c| c.is_ascii_hexdigit());
            !w.starts_with('<') && !key_like
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Events at which something happens to the cluster, with how many events
/// it lasts. The last one starts near the end and lasts until the final
/// heal, so the time to agree is measured from a real heal.
fn moments(
    count: usize,
    events: usize,
    lasts: (usize, usize),
    rng: &mut Rng,
) -> Vec<(usize, usize)> {
    let mut at: Vec<(usize, usize)> = (0..count)
        .map(|i| {
            if i + 1 == count {
                (
                    rng.between(events * 90 / 100, events * 98 / 100),
                    usize::MAX / 2,
                )
            } else {
                (
                    rng.between(events * 5 / 100, events * 85 / 100),
                    rng.between(lasts.0, lasts.1),
                )
            }
        })
        .collect();
    at.sort();
    at
}

pub fn run(settings: &Settings) -> Report {
    let started = Instant::now();
    let mut rng = Rng::new(settings.seed);
    let n = settings.nodes;
    let keys = Keys {
        nodes: (0..n)
            .map(|_| SigningKey::from_bytes(&rng.bytes32()))
            .collect(),
        users: (0..USERS)
            .map(|_| SigningKey::from_bytes(&rng.bytes32()))
            .collect(),
        moderator: SigningKey::from_bytes(&rng.bytes32()),
    };
    let harness = SigningKey::from_bytes(&rng.bytes32());
    let edges = topology(n, settings.chords, &mut rng);
    let e = settings.events;
    let kills = moments(settings.kills, e, settings.down_events, &mut rng);
    let cuts = moments(settings.partitions, e, settings.cut_events, &mut rng);

    let mut cluster = Cluster::build(settings, &keys, &harness, &edges);
    let mut report = Report {
        seed: settings.seed,
        nodes: n,
        links: cluster.proxies.links.len(),
        ..Report::default()
    };
    report.schedule.push(format!(
        "mesh {}",
        edges
            .iter()
            .map(|(a, b)| format!("{a}-{b}"))
            .collect::<Vec<_>>()
            .join(" ")
    ));
    for i in 0..n {
        cluster.start(i);
    }
    // Every feeder has reached its peer once: the mesh is up.
    crate::common::wait_until(
        Duration::from_secs(60),
        "every peer link to connect",
        || {
            cluster
                .proxies
                .links
                .iter()
                .all(|l| l.wire.connections.load(Ordering::Relaxed) > 0)
        },
    );
    let base = chrono::Utc::now().timestamp() - 3600;
    let mut world = World::new(keys, settings.seed, base);
    let mut acked: Vec<Vec<String>> = vec![Vec::new(); n];
    let mut journal = Vec::new();
    // (event at which it ends, node) and (event at which it ends, links).
    let mut restarts: Vec<(usize, usize)> = Vec::new();
    let mut partitions: Vec<(usize, Vec<Arc<Link>>)> = Vec::new();
    let mut kills = kills.into_iter().peekable();
    let mut cuts = cuts.into_iter().peekable();

    for index in 0..e {
        restarts.sort();
        while restarts.first().is_some_and(|&(at, _)| at <= index) {
            let (_, node) = restarts.remove(0);
            cluster.start(node);
            report
                .schedule
                .push(format!("{index} restart {}", name(node)));
        }
        let mut healed = Vec::new();
        partitions.retain(|(until, links)| {
            if *until > index {
                return true;
            }
            links.iter().for_each(|l| l.heal());
            healed.push(format!("{index} heal {} links", links.len()));
            false
        });
        report.schedule.append(&mut healed);
        while let Some(&(at, lasts)) = kills.peek() {
            if at > index {
                break;
            }
            let up = cluster.up();
            if n - up.len() >= settings.max_down {
                // Too many down: this kill waits for a restart.
                break;
            }
            kills.next();
            let victim = *rng.pick(&up);
            cluster.kill(victim);
            report.kills += 1;
            report
                .schedule
                .push(format!("{index} kill -9 {}", name(victim)));
            restarts.push((index + lasts, victim));
        }
        while let Some(&(at, lasts)) = cuts.peek() {
            if at > index {
                break;
            }
            cuts.next();
            let mut side: Vec<bool> = vec![false; n];
            for _ in 0..rng.between(1, n / 2) {
                side[rng.below(n)] = true;
            }
            let stall = rng.percent(50);
            let links: Vec<Arc<Link>> = cluster
                .proxies
                .links
                .iter()
                .filter(|l| side[l.from] != side[l.to])
                .cloned()
                .collect();
            links.iter().for_each(|l| l.cut(stall));
            report.partitions += 1;
            let cut: Vec<String> = (0..n).filter(|&i| side[i]).map(name).collect();
            report.schedule.push(format!(
                "{index} cut {} from the rest ({} links, {})",
                cut.join(","),
                links.len(),
                if stall { "stalled" } else { "refused" }
            ));
            partitions.push((index + lasts, links));
        }
        for i in 0..n {
            if let Some(status) = cluster.procs[i].exited() {
                report
                    .crashes
                    .push(format!("{} exited by itself: {status}", name(i)));
                for link in cluster.links_to(i) {
                    link.set_target(None);
                }
                cluster.conns[i] = None;
            }
        }
        let up = cluster.up();
        if index > 0 && index % (e / 10).max(1) == 0 {
            println!(
                "churn progress: event {index} of {e}, {} s, {} nodes up, {} partitions in force",
                started.elapsed().as_secs(),
                up.len(),
                partitions.len()
            );
        }
        let event = world.next(index, &settings.mix, &up, &mut rng);
        inject(
            &mut cluster,
            index,
            &event,
            &mut report,
            &mut acked,
            &mut journal,
        );
        std::thread::sleep(settings.pace);
    }

    // Heal: every link, every node up.
    report.schedule.push(format!(
        "{e} heal everything{}",
        if cluster.up().len() < n {
            ", restart the nodes down"
        } else {
            ""
        }
    ));
    let heal = Instant::now();
    for link in &cluster.proxies.links {
        link.heal_all();
    }
    for i in 0..n {
        if !cluster.procs[i].is_up() {
            cluster.start(i);
        }
    }
    let mut digests: Vec<Option<String>> = vec![None; n];
    loop {
        for (i, digest) in digests.iter_mut().enumerate() {
            *digest = cluster.digest(i).ok();
        }
        let distinct: BTreeSet<&Option<String>> = digests.iter().collect();
        report.distinct_digests = distinct.len();
        if distinct.len() == 1 && digests[0].is_some() {
            report.heal_to_equal = Some(heal.elapsed());
            break;
        }
        if heal.elapsed() > settings.converge_limit {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    report.digest_source = match cluster.xstate {
        Some(true) => "XSTATE",
        _ => "reader view (LIST NEWSGROUPS, GROUP, OVER); XSTATE not available",
    };

    check_lost(&mut cluster, &acked, &mut report);
    let after: Vec<Option<String>> = (0..n).map(|i| cluster.digest(i).ok()).collect();
    report.stable = report.heal_to_equal.is_some() && after == digests;
    if report.heal_to_equal.is_none() || !report.stable {
        report.divergence = divergence(&mut cluster);
        let ids: BTreeSet<String> = report
            .divergence
            .iter()
            .filter_map(|l| l.split_whitespace().find(|w| w.starts_with('<')))
            .map(str::to_string)
            .collect();
        let explained = explain(&mut cluster, &ids, &journal);
        report.divergence.extend(explained);
    }

    for link in &cluster.proxies.links {
        let w = &link.wire;
        report.duplicate_transfers += w.duplicate.load(Ordering::Relaxed);
        report.bodies_taken += w.taken.load(Ordering::Relaxed);
        report.bodies_refused += w.refused.load(Ordering::Relaxed);
        report.offers_not_wanted += w.not_wanted.load(Ordering::Relaxed);
        report.offers_deferred += w.deferred.load(Ordering::Relaxed);
    }
    for p in &cluster.procs {
        let log = p.log.lock().unwrap_or_else(|e| e.into_inner());
        report.catch_up_missing += log.catch_up_missing;
        report.catch_up_fetched += log.catch_up_fetched;
        report
            .panics
            .extend(log.panics.iter().map(|l| format!("{}: {l}", p.name)));
        report
            .errors
            .extend(log.errors.iter().map(|l| format!("{}: {l}", p.name)));
    }
    report.seconds = started.elapsed().as_secs_f64();
    if std::env::var_os("CHURN_KEEP").is_some() {
        if let Some(dir) = cluster.dir.take() {
            let dir = dir.keep();
            keep(&dir, &cluster, &journal);
            report.kept = Some(dir);
        }
    }
    drop(cluster);
    report
}

/// Writes what the harness saw next to the nodes' data and logs:
/// `journal.txt` (every event and its answer) and `refusals.txt` (every
/// 437 / 439 a feeder got, by link).
fn keep(dir: &std::path::Path, cluster: &Cluster, journal: &[Entry]) {
    let events: String = journal
        .iter()
        .map(|e| {
            format!(
                "{} {} at {} {} -> {}\n    {}\n",
                e.index,
                e.kind,
                name(e.node),
                e.id,
                e.answer,
                e.headers
            )
        })
        .collect();
    let refusals: String = cluster
        .proxies
        .links
        .iter()
        .flat_map(|l| {
            let kept = l.wire.refusals.lock().unwrap_or_else(|e| e.into_inner());
            kept.iter()
                .map(|r| format!("{} -> {}: {r}\n", name(l.from), name(l.to)))
                .collect::<Vec<_>>()
        })
        .collect();
    let _ = std::fs::write(dir.join("journal.txt"), events);
    let _ = std::fs::write(dir.join("refusals.txt"), refusals);
}

/// What the harness injected, to explain a divergence afterwards.
struct Entry {
    index: usize,
    kind: &'static str,
    node: usize,
    id: String,
    answer: String,
    /// The header section without the signature.
    headers: String,
}

fn inject(
    cluster: &mut Cluster,
    index: usize,
    event: &Event,
    report: &mut Report,
    acked: &mut [Vec<String>],
    journal: &mut Vec<Entry>,
) {
    let kind = event.kind.name();
    *report.injected.entry(kind).or_default() += 1;
    report.events += 1;
    let answer = cluster.with(event.node, |c| match event.via {
        Via::Takethis => c.takethis(&event.id, &event.text),
        Via::Post => c.post(&event.text),
    });
    journal.push(Entry {
        index,
        kind,
        node: event.node,
        id: event.id.clone(),
        answer: match &answer {
            Ok((code, text)) => format!("{code} {text}"),
            Err(e) => format!("no answer: {e}"),
        },
        headers: event
            .text
            .split("\r\n\r\n")
            .next()
            .unwrap_or_default()
            .split("\r\n")
            .filter(|h| !h.starts_with("Tidings-Signature") && !h.starts_with("Path"))
            .collect::<Vec<_>>()
            .join(" | "),
    });
    match answer {
        Ok((239 | 240 | 235, _)) => {
            *report.acknowledged.entry(kind).or_default() += 1;
            acked[event.node].push(event.id.clone());
        }
        Ok((code, text)) => {
            *report
                .refused
                .entry(format!("{kind} {code} {}", reason_class(&text)))
                .or_default() += 1;
        }
        Err(_) => report.unanswered += 1,
    }
}

/// CHECK on each node of every article it acknowledged: 438 means it knows
/// the id (stored, pending, removed or refused since, all remembered in
/// history); 238 means it does not, and the acknowledgement was lost.
fn check_lost(cluster: &mut Cluster, acked: &[Vec<String>], report: &mut Report) {
    for (node, ids) in acked.iter().enumerate() {
        for chunk in ids.chunks(200) {
            let mut todo: Vec<String> = chunk.to_vec();
            // 431 means another connection is receiving the id right now:
            // ask again once it is done.
            for _ in 0..50 {
                let answers = match cluster.with(node, |c| c.check_all(&todo)) {
                    Ok(answers) => answers,
                    Err(_) => {
                        std::thread::sleep(Duration::from_millis(100));
                        continue;
                    }
                };
                let mut again = Vec::new();
                for (id, (code, _)) in todo.iter().zip(answers) {
                    match code {
                        438 => {}
                        238 => report
                            .acknowledged_lost
                            .push(format!("{} {id}", name(node))),
                        431 => again.push(id.clone()),
                        _ => report.unchecked += 1,
                    }
                }
                todo = again;
                if todo.is_empty() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            report.unchecked += todo.len();
        }
    }
}

/// For each article the nodes disagree on: what the harness injected that
/// names it, and what each node says of it.
fn explain(cluster: &mut Cluster, ids: &BTreeSet<String>, journal: &[Entry]) -> Vec<String> {
    let mut out = Vec::new();
    for id in ids.iter().take(12) {
        out.push(format!("about {id}:"));
        let related: Vec<&Entry> = journal
            .iter()
            .filter(|e| &e.id == id || e.headers.contains(id.as_str()))
            .take(12)
            .collect();
        for entry in &related {
            out.push(format!("  {}", describe(entry)));
        }
        // The controls of every board those name decide where they go.
        let boards = boards_named(&related);
        let controls = journal.iter().filter(|e| {
            matches!(e.kind, "newgroup" | "modgroup" | "rmgroup")
                && e.answer.starts_with('2')
                && boards
                    .iter()
                    .any(|b| control_of(e).ends_with(&format!(" {b}")))
        });
        for entry in controls.take(16) {
            out.push(format!("  {}", describe(entry)));
        }
        for node in 0..cluster.procs.len() {
            let stat = cluster.with(node, |c| c.cmd(&format!("STAT {id}")));
            let check = cluster.with(node, |c| c.check_all(std::slice::from_ref(id)));
            out.push(format!(
                "  {}: STAT {:?}, CHECK {:?}",
                name(node),
                stat.map(|s| s.0).ok(),
                check.ok().and_then(|c| c.first().map(|a| a.0))
            ));
        }
    }
    out
}

fn describe(entry: &Entry) -> String {
    format!(
        "event {} {} at {} -> {}: {}",
        entry.index,
        entry.kind,
        name(entry.node),
        entry.answer,
        entry.headers
    )
}

/// The value of an entry's Control header, or "".
fn control_of(entry: &Entry) -> &str {
    entry
        .headers
        .split(" | ")
        .find_map(|h| h.strip_prefix("Control: "))
        .unwrap_or("")
}

/// The boards the entries post to or move to.
fn boards_named(entries: &[&Entry]) -> BTreeSet<String> {
    let mut boards = BTreeSet::new();
    for entry in entries {
        for header in entry.headers.split(" | ") {
            if let Some(groups) = header.strip_prefix("Newsgroups: ") {
                boards.extend(groups.split(',').map(|g| g.trim().to_string()));
            }
        }
        if let Some(to) = control_of(entry)
            .strip_prefix("move ")
            .and_then(|rest| rest.split_whitespace().nth(1))
        {
            boards.insert(to.to_string());
        }
    }
    boards
}

/// The reader-view lines each node has or lacks against the majority.
fn divergence(cluster: &mut Cluster) -> Vec<String> {
    let n = cluster.procs.len();
    let views: Vec<Option<BTreeSet<String>>> = (0..n).map(|i| cluster.with(i, view).ok()).collect();
    let mut count: BTreeMap<&String, usize> = BTreeMap::new();
    for line in views.iter().flatten().flatten() {
        *count.entry(line).or_default() += 1;
    }
    let majority: BTreeSet<&String> = count
        .iter()
        .filter(|(_, &c)| c * 2 > n)
        .map(|(l, _)| *l)
        .collect();
    let mut out = Vec::new();
    for (i, view) in views.iter().enumerate() {
        let Some(view) = view else {
            out.push(format!("{}: no view", name(i)));
            continue;
        };
        let mine: BTreeSet<&String> = view.iter().collect();
        let extra: Vec<_> = mine.difference(&majority).take(10).collect();
        let missing: Vec<_> = majority.difference(&mine).take(10).collect();
        for line in extra {
            out.push(format!("{} has, most lack: {line}", name(i)));
        }
        for line in missing {
            out.push(format!("{} lacks, most have: {line}", name(i)));
        }
    }
    out
}

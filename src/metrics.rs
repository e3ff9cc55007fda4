//! What the node tells Prometheus (README "Monitoring", issue 17):
//! counters bumped where things happen, gauges read from the store at
//! scrape time. Labels are bounded: an article's source, result and kind
//! of refusal, a configured peer's name; never a Message-ID, a user or a
//! board.

use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use crate::store::DbHealth;

type Labels = Vec<(&'static str, String)>;
type Seconds = Gauge<f64, AtomicU64>;

/// Every series the node exports, registered once.
pub struct Metrics {
    registry: Registry,
    articles: Family<Labels, Counter>,
    /// `articles` for each source and result, in [`SOURCES`] × [`RESULTS`]
    /// order, each looked up in the family the first time it counts (a
    /// series appears once it has happened).
    outcomes: Vec<std::sync::OnceLock<Counter>>,
    refused: Family<Labels, Counter>,
    article_bytes: Family<Labels, Counter>,
    /// `article_bytes` for each of [`SOURCES`], looked up once.
    received: Vec<std::sync::OnceLock<Counter>>,
    fed_articles: Family<Labels, Counter>,
    fed_bytes: Family<Labels, Counter>,
    signature_failures: Counter,
    peer_up: Family<Labels, Gauge>,
    catch_up_success: Family<Labels, Seconds>,
    catch_up_missing: Family<Labels, Gauge>,
    catch_up_bytes: Family<Labels, Counter>,
    commit_syncs: Counter,
    commit_articles: Counter,
    commit_sync_seconds: Counter<f64, AtomicU64>,
    pending: Gauge,
    held: Gauge,
    outbox_depth: Family<Labels, Gauge>,
    outbox_oldest: Family<Labels, Seconds>,
    rocksdb_pending_compaction: Gauge,
    rocksdb_background_errors: Gauge,
    rocksdb_block_cache: Gauge,
    rocksdb_memtables: Gauge,
    rocksdb_table_readers: Gauge,
    disk_free: Gauge,
    files: Gauge,
    files_bytes: Gauge,
    store_bytes: Gauge,
    started: Seconds,
    scrape_errors: Counter,
    /// Each fed peer's link state and since when (seconds since the
    /// epoch), for the status.
    links: std::sync::Mutex<std::collections::HashMap<String, (bool, u64)>>,
}

/// The names this node exports, as a scrape shows them (counters with
/// `_total`): what the dashboard and the rules may name.
pub const EXPORTED: &[&str] = &[
    "tidings_articles_total",
    "tidings_articles_refused_total",
    "tidings_article_bytes_total",
    "tidings_fed_articles_total",
    "tidings_fed_bytes_total",
    "tidings_signature_failures_total",
    "tidings_peer_up",
    "tidings_catch_up_last_success_timestamp_seconds",
    "tidings_catch_up_missing",
    "tidings_catch_up_bytes_total",
    "tidings_commit_syncs_total",
    "tidings_commit_articles_total",
    "tidings_commit_sync_seconds_total",
    "tidings_pending_articles",
    "tidings_held_articles",
    "tidings_outbox_depth",
    "tidings_outbox_oldest_seconds",
    "tidings_rocksdb_pending_compaction_bytes",
    "tidings_rocksdb_background_errors",
    "tidings_rocksdb_block_cache_bytes",
    "tidings_rocksdb_memtable_bytes",
    "tidings_rocksdb_table_readers_bytes",
    "tidings_disk_free_bytes",
    "tidings_files",
    "tidings_files_bytes",
    "tidings_store_bytes",
    "tidings_start_time_seconds",
    "tidings_scrape_errors_total",
];

/// Where an article came from, as `tidings_articles_total` labels it.
pub const SOURCES: [&str; 4] = ["post", "transit", "released", "approved"];
/// What became of it.
pub const RESULTS: [&str; 7] = [
    "accepted",
    "pending",
    "held",
    "applied",
    "duplicate",
    "refused",
    "fault",
];

fn peer(name: &str) -> Labels {
    vec![("peer", name.to_string())]
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("tidings");
        let m = Metrics {
            articles: Family::default(),
            outcomes: Vec::new(),
            refused: Family::default(),
            article_bytes: Family::default(),
            received: Vec::new(),
            fed_articles: Family::default(),
            fed_bytes: Family::default(),
            signature_failures: Counter::default(),
            peer_up: Family::default(),
            catch_up_success: Family::default(),
            catch_up_missing: Family::default(),
            catch_up_bytes: Family::default(),
            commit_syncs: Counter::default(),
            commit_articles: Counter::default(),
            commit_sync_seconds: Counter::default(),
            pending: Gauge::default(),
            held: Gauge::default(),
            outbox_depth: Family::default(),
            outbox_oldest: Family::default(),
            rocksdb_pending_compaction: Gauge::default(),
            rocksdb_background_errors: Gauge::default(),
            rocksdb_block_cache: Gauge::default(),
            rocksdb_memtables: Gauge::default(),
            rocksdb_table_readers: Gauge::default(),
            disk_free: Gauge::default(),
            files: Gauge::default(),
            files_bytes: Gauge::default(),
            store_bytes: Gauge::default(),
            links: std::sync::Mutex::default(),
            started: Seconds::default(),
            scrape_errors: Counter::default(),
            registry: Registry::default(),
        };
        let r = &mut registry;
        r.register("articles", "Articles decided, by source (post, transit, released, approved) and result (accepted, pending, held, applied, duplicate, refused, fault)", m.articles.clone());
        r.register(
            "articles_refused",
            "Articles refused, by source and reason (malformed, signature, authority, peer_rights, path, date, board, removed, fault)",
            m.refused.clone(),
        );
        r.register(
            "article_bytes",
            "Bytes of the articles that came in, by source, whatever became of them",
            m.article_bytes.clone(),
        );
        r.register(
            "fed_articles",
            "Articles the feed sent the peer (IHAVE or TAKETHIS)",
            m.fed_articles.clone(),
        );
        r.register(
            "fed_bytes",
            "Bytes of the articles the feed sent the peer",
            m.fed_bytes.clone(),
        );
        r.register(
            "signature_failures",
            "Articles whose signature did not verify",
            m.signature_failures.clone(),
        );
        r.register(
            "peer_up",
            "1 while the feed connection to the peer is up",
            m.peer_up.clone(),
        );
        r.register(
            "catch_up_last_success_timestamp_seconds",
            "When the last catch-up with the peer finished",
            m.catch_up_success.clone(),
        );
        r.register(
            "catch_up_missing",
            "Message-IDs the last catch-up with the peer found missing on either side",
            m.catch_up_missing.clone(),
        );
        r.register(
            "catch_up_bytes",
            "Bytes moved by catch-ups, by peer and direction (in, out)",
            m.catch_up_bytes.clone(),
        );
        r.register(
            "commit_syncs",
            "Synced group commits",
            m.commit_syncs.clone(),
        );
        r.register(
            "commit_articles",
            "Articles made durable by synced group commits",
            m.commit_articles.clone(),
        );
        r.register(
            "commit_sync_seconds",
            "Time spent in synced group commit writes",
            m.commit_sync_seconds.clone(),
        );
        r.register(
            "pending_articles",
            "Articles waiting for their signer's passport",
            m.pending.clone(),
        );
        r.register(
            "held_articles",
            "Posts held for the operator's approval",
            m.held.clone(),
        );
        r.register(
            "outbox_depth",
            "Articles queued for the peer (sequence span of its outbox)",
            m.outbox_depth.clone(),
        );
        r.register(
            "outbox_oldest_seconds",
            "Age of the oldest article queued for the peer",
            m.outbox_oldest.clone(),
        );
        r.register(
            "rocksdb_pending_compaction_bytes",
            "RocksDB's estimate of bytes compaction still has to rewrite",
            m.rocksdb_pending_compaction.clone(),
        );
        r.register(
            "rocksdb_background_errors",
            "RocksDB background errors since the node started",
            m.rocksdb_background_errors.clone(),
        );
        r.register(
            "store_bytes",
            "Bytes of the store's tables and memtables (RocksDB live data)",
            m.store_bytes.clone(),
        );
        r.register(
            "rocksdb_block_cache_bytes",
            "Bytes in RocksDB's block cache, the memtables charged to it included",
            m.rocksdb_block_cache.clone(),
        );
        r.register(
            "rocksdb_memtable_bytes",
            "Bytes of RocksDB's memtables, those being flushed included",
            m.rocksdb_memtables.clone(),
        );
        r.register(
            "rocksdb_table_readers_bytes",
            "Bytes RocksDB's open table files hold outside the block cache",
            m.rocksdb_table_readers.clone(),
        );
        r.register(
            "disk_free_bytes",
            "Bytes free for the node on the file system of its data directory",
            m.disk_free.clone(),
        );
        r.register("files", "Files stored", m.files.clone());
        r.register(
            "files_bytes",
            "Bytes of files stored",
            m.files_bytes.clone(),
        );
        r.register(
            "start_time_seconds",
            "When the node started",
            m.started.clone(),
        );
        r.register(
            "scrape_errors",
            "Scrapes that could not read a value from the store",
            m.scrape_errors.clone(),
        );
        let outcomes = (0..SOURCES.len() * RESULTS.len())
            .map(|_| std::sync::OnceLock::new())
            .collect();
        Metrics {
            registry,
            outcomes,
            received: SOURCES.iter().map(|_| std::sync::OnceLock::new()).collect(),
            ..m
        }
    }

    /// Counts one article's outcome: where it came from (one of
    /// [`SOURCES`]) and what became of it (one of [`RESULTS`]). The
    /// counters are looked up once each: this runs for every article.
    pub fn ingested(&self, source: &'static str, result: &'static str) {
        let at = |names: &[&str], name: &str| names.iter().position(|n| *n == name);
        if let (Some(s), Some(r)) = (at(&SOURCES, source), at(&RESULTS, result)) {
            let labels = [("source", source), ("result", result)];
            cached(
                &self.outcomes[s * RESULTS.len() + r],
                &self.articles,
                &labels,
            )
            .inc();
        }
    }

    /// Counts the bytes of an article that came in from `source` (one of
    /// [`SOURCES`]); looked up once per source, as this runs per article.
    pub fn received(&self, source: &'static str, bytes: usize) {
        if let Some(at) = SOURCES.iter().position(|s| *s == source) {
            let labels = [("source", source)];
            cached(&self.received[at], &self.article_bytes, &labels).inc_by(bytes as u64);
        }
    }

    /// The feed sent `peer` these articles and bytes (one batch).
    pub fn fed(&self, name: &str, articles: u64, bytes: u64) {
        if articles > 0 {
            self.fed_articles
                .get_or_create(&peer(name))
                .inc_by(articles);
            self.fed_bytes.get_or_create(&peer(name)).inc_by(bytes);
        }
    }

    /// Counts a refusal: where the article came from and the kind of
    /// reason (a fixed set of labels).
    pub fn refused(&self, source: &'static str, reason: &'static str) {
        let labels = vec![
            ("source", source.to_string()),
            ("reason", reason.to_string()),
        ];
        self.refused.get_or_create(&labels).inc();
    }

    pub fn signature_failed(&self) {
        self.signature_failures.inc();
    }

    /// The feed link to `name` is up or down as of `now_secs`.
    pub fn peer_link(&self, name: &str, up: bool, now_secs: u64) {
        self.peer_up.get_or_create(&peer(name)).set(i64::from(up));
        let mut links = self.links.lock().unwrap_or_else(|e| e.into_inner());
        match links.get_mut(name) {
            Some((was, _)) if *was == up => {}
            _ => {
                links.insert(name.to_string(), (up, now_secs));
            }
        }
    }

    /// A reload removed the peer `name` (or re-dialled it): its series go,
    /// so a removed peer does not stay "down" for alerts.
    pub fn peer_gone(&self, name: &str) {
        let labels = peer(name);
        self.links
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(name);
        self.peer_up.remove(&labels);
        self.catch_up_success.remove(&labels);
        self.catch_up_missing.remove(&labels);
        self.fed_articles.remove(&labels);
        self.fed_bytes.remove(&labels);
        self.outbox_depth.remove(&labels);
        self.outbox_oldest.remove(&labels);
        for direction in ["in", "out"] {
            let labels = vec![("peer", name.to_string()), ("direction", direction.into())];
            self.catch_up_bytes.remove(&labels);
        }
    }

    /// A catch-up with `name` finished at `now_secs`, having found
    /// `missing` IDs and moved these bytes.
    pub fn caught_up(
        &self,
        name: &str,
        now_secs: f64,
        missing: u64,
        bytes_in: u64,
        bytes_out: u64,
    ) {
        self.catch_up_success
            .get_or_create(&peer(name))
            .set(now_secs);
        self.catch_up_missing
            .get_or_create(&peer(name))
            .set(i64::try_from(missing).unwrap_or(i64::MAX));
        for (direction, bytes) in [("in", bytes_in), ("out", bytes_out)] {
            let labels = vec![("peer", name.to_string()), ("direction", direction.into())];
            self.catch_up_bytes.get_or_create(&labels).inc_by(bytes);
        }
    }

    /// The node's start, as Prometheus' `time()` counts.
    pub fn started_at(&self, secs: f64) {
        self.started.set(secs);
    }

    /// Seconds since the start, at `now_micros`.
    pub fn uptime_secs(&self, now_micros: u64) -> u64 {
        (now_micros as f64 / 1e6 - self.started.get()).max(0.0) as u64
    }

    /// Whether the feed link to `name` is up, since when, and when its
    /// last catch-up finished (seconds since the epoch).
    pub fn peer_state(&self, name: &str) -> PeerState {
        let (up, since) = self
            .links
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(name)
            .copied()
            .unwrap_or((false, 0));
        // Read without creating the series (a removed peer stays removed).
        let last = self
            .catch_up_success
            .get(&peer(name))
            .map_or(0.0, |g| g.get());
        PeerState {
            up,
            since,
            last_catch_up: (last > 0.0).then_some(last as u64),
        }
    }

    /// Sets the gauges to what was read at this scrape (or counts that
    /// the store could not be read) and writes every series in the
    /// OpenMetrics text format.
    pub fn render(&self, scraped: Result<Scraped, String>) -> String {
        match scraped {
            Ok(scraped) => self.set(&scraped),
            Err(why) => {
                tracing::warn!(%why, "a metric could not be read");
                self.scrape_errors.inc();
            }
        }
        let mut out = String::new();
        if encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }

    fn set(&self, s: &Scraped) {
        set_counter(&self.commit_syncs, s.commit_syncs);
        set_counter(&self.commit_articles, s.commit_articles);
        let seconds = s.commit_sync_micros as f64 / 1e6 - self.commit_sync_seconds.get();
        if seconds > 0.0 {
            self.commit_sync_seconds.inc_by(seconds);
        }
        let gauge = |g: &Gauge, v: u64| {
            g.set(i64::try_from(v).unwrap_or(i64::MAX));
        };
        gauge(&self.pending, s.pending);
        gauge(&self.held, s.held);
        for outbox in &s.outboxes {
            gauge(
                &self.outbox_depth.get_or_create(&peer(&outbox.peer)),
                outbox.depth,
            );
            self.outbox_oldest
                .get_or_create(&peer(&outbox.peer))
                .set(outbox.oldest_secs);
        }
        gauge(
            &self.rocksdb_pending_compaction,
            s.db.pending_compaction_bytes,
        );
        gauge(&self.rocksdb_background_errors, s.db.background_errors);
        gauge(&self.rocksdb_block_cache, s.db.block_cache_bytes);
        gauge(&self.rocksdb_memtables, s.db.memtable_bytes);
        gauge(&self.rocksdb_table_readers, s.db.table_readers_bytes);
        if let Some(free) = s.disk_free {
            gauge(&self.disk_free, free);
        }
        gauge(&self.files, s.files);
        gauge(&self.files_bytes, s.files_bytes);
        gauge(&self.store_bytes, s.db.live_bytes);
    }
}

/// A fed peer's link as the status shows it.
#[derive(Debug, Clone, Copy)]
pub struct PeerState {
    pub up: bool,
    /// When it went up or down (seconds since the epoch).
    pub since: u64,
    pub last_catch_up: Option<u64>,
}

/// What a scrape reads from the node's store and file system.
#[derive(Debug, Default)]
pub struct Scraped {
    pub commit_syncs: u64,
    pub commit_articles: u64,
    pub commit_sync_micros: u64,
    pub pending: u64,
    pub held: u64,
    pub outboxes: Vec<Outbox>,
    pub db: DbHealth,
    pub disk_free: Option<u64>,
    pub files: u64,
    pub files_bytes: u64,
}

/// One fed peer's outbox at a scrape.
#[derive(Debug)]
pub struct Outbox {
    pub peer: String,
    /// Entries queued (the span of its sequence numbers).
    pub depth: u64,
    /// Age of the oldest, in seconds (0 when empty).
    pub oldest_secs: f64,
}

/// The counter of `family` with `labels`, looked up (and its label set
/// allocated) only the first time, then kept in `slot`: for counters bumped
/// per article.
fn cached<'a>(
    slot: &'a std::sync::OnceLock<Counter>,
    family: &Family<Labels, Counter>,
    labels: &[(&'static str, &str)],
) -> &'a Counter {
    slot.get_or_init(|| {
        let labels: Labels = labels.iter().map(|(k, v)| (*k, v.to_string())).collect();
        family.get_or_create(&labels).clone()
    })
}

/// Brings a counter up to a total kept elsewhere.
fn set_counter(counter: &Counter, total: u64) {
    let now = counter.get();
    if total > now {
        counter.inc_by(total - now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_link_counts_since_its_last_change() {
        let metrics = Metrics::new();
        metrics.peer_link("b.example", false, 90);
        metrics.peer_link("b.example", true, 100);
        metrics.peer_link("b.example", true, 150);
        let state = metrics.peer_state("b.example");
        assert!(state.up);
        assert_eq!(state.since, 100, "staying up does not move it");
        metrics.peer_link("b.example", false, 200);
        let state = metrics.peer_state("b.example");
        assert!(!state.up);
        assert_eq!(state.since, 200);
        metrics.peer_gone("b.example");
        assert_eq!(metrics.peer_state("b.example").since, 0);
        assert!(!metrics.render(Ok(Scraped::default())).contains("b.example"));
    }
}

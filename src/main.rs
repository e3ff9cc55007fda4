//! The `tidings` command line.

mod cli;

use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};
use tokio_util::sync::CancellationToken;

use tidings::config::Config;
use tidings::node::Node;

// One allocator for the whole process, RocksDB's C++ included (jemalloc
// exports malloc itself): glibc's malloc kept RocksDB's freed blocks in
// the middle of its heaps, 131 MB free of 226 after 10M articles, and
// mimalloc held ~80 MiB for the node's 22-27 MiB live under load. With
// jemalloc for both a node loaded with 3M articles peaked at 211 MiB
// against 260-281 (glibc for RocksDB, mimalloc for the node), at the
// same CPU per article (84.7 us against 83.6-84.6).
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// jemalloc's settings, read at its start (an operator's MALLOC_CONF
/// overrides them): two arenas for two cores' worth of threads rather
/// than four per core, dirty pages returned after a second rather than
/// ten, and no "muzzy" stage (MADV_FREE) in which freed pages still count
/// as resident; the purging is done by jemalloc's background thread, off
/// the session, verify and commit threads.
#[cfg(all(target_os = "linux", not(target_env = "musl")))]
#[allow(non_upper_case_globals)]
#[export_name = "malloc_conf"]
pub static malloc_conf: &[u8] =
    b"narenas:2,dirty_decay_ms:1000,muzzy_decay_ms:0,background_thread:true\0";

#[derive(Parser)]
#[command(
    name = "tidings",
    version,
    about = "A signed, federated discussion node that speaks NNTP"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a node (embedded defaults without --config).
    Serve {
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
    },
    /// Check a configuration file and print the settings in effect.
    CheckConfig {
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
    },
    /// Stream generated articles to a server with TAKETHIS and report the rate.
    Loadgen {
        #[arg(long, default_value = "127.0.0.1:1119")]
        target: std::net::SocketAddr,
        #[arg(long, default_value_t = 4)]
        connections: usize,
        #[arg(long, default_value_t = 100_000)]
        articles: usize,
        /// Article size in octets.
        #[arg(long, default_value_t = 1024)]
        size: usize,
        #[arg(long, default_value = "local.test")]
        group: String,
        /// Articles per write.
        #[arg(long, default_value_t = 64)]
        window: usize,
        /// Sign every article with this secret key file (the node must
        /// trust it, e.g. its own DATA_DIR/node.key).
        #[arg(long, value_name = "FILE")]
        key: Option<PathBuf>,
        /// Authenticate with XPEER as this configured peer (its node key
        /// is --key); needed unless the node has [listen] open_transit.
        #[arg(long, value_name = "NAME")]
        peer: Option<String>,
    },
    /// Create a secret key file (mode 0600) and print its public key.
    Keygen {
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
    /// Sign the article on stdin; the signed article goes to stdout.
    Sign {
        #[arg(long, value_name = "FILE")]
        key: PathBuf,
        /// Right part of the Message-ID made when the article has none.
        #[arg(long, default_value = cli::posting::DEFAULT_DOMAIN)]
        domain: String,
    },
    /// Check the signature of the article on stdin; exit 1 unless valid.
    Verify,
    /// Sign the body on stdin as a new article and POST it; print its Message-ID.
    Post(cli::posting::Post),
    /// Show what the running node reports of itself: uptime, state
    /// digest, pending and held posts, each peer's link, outbox and
    /// catch-up (from its admin listener).
    Status {
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
        /// Print the admin listener's status JSON as it comes.
        #[arg(long)]
        json: bool,
    },
    /// Add a reader to the users file, or set their password and groups;
    /// the password is read from stdin (protocol-spec/access.md).
    User {
        #[command(subcommand)]
        action: UserAction,
    },
    /// List the posts held for approval, or approve or remove one
    /// (through the running node's admin listener).
    Held {
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
        #[command(subcommand)]
        action: Option<Waiting>,
    },
    /// List the posts waiting for their signer's passport, or remove one.
    Pending {
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
        #[command(subcommand)]
        action: Option<Waiting>,
    },
    /// Make the running node read its configuration file again (as SIGHUP
    /// does): peers, rights, boards, access and retention take effect
    /// without a restart; a bad file is refused and the running one stays.
    Reload {
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
    },
    /// Back the running node up into DIR: consistent, and incremental
    /// when DIR holds earlier backups (through its admin listener).
    Backup {
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
        #[arg(long, value_name = "DIR")]
        to: PathBuf,
    },
    /// Restore the latest backup in DIR into the configured data
    /// directory, which must hold no store (the node not running).
    Restore {
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
        #[arg(long, value_name = "DIR")]
        from: PathBuf,
    },
    /// Catch up with a configured peer now, through the running node
    /// (XSYNC on its NNTP port), showing progress and a summary.
    Sync {
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
        /// The `[[peer]]` name, which needs an `address`.
        #[arg(long, value_name = "NAME")]
        peer: String,
    },
}

fn load(path: Option<&PathBuf>) -> anyhow::Result<Config> {
    match path {
        Some(path) => Ok(Config::load(path)?),
        None => Ok(Config::default()),
    }
}

fn main() -> std::process::ExitCode {
    match run() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            // One line with the causes, not a backtrace: these are user
            // errors (bad config, refused article), not crashes.
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

#[derive(Subcommand)]
enum Waiting {
    /// List them (the default).
    List,
    /// File and relay a held post (Control: local-approve).
    Approve { message_id: String },
    /// Remove a post here (Control: local-remove).
    Remove { message_id: String },
}

impl Waiting {
    fn action(action: Option<Waiting>) -> cli::waiting::Action {
        match action {
            None | Some(Waiting::List) => cli::waiting::Action::List,
            Some(Waiting::Approve { message_id }) => cli::waiting::Action::Approve(message_id),
            Some(Waiting::Remove { message_id }) => cli::waiting::Action::Remove(message_id),
        }
    }
}

#[derive(Subcommand)]
enum UserAction {
    /// Add NAME, or replace its password and groups.
    Add {
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
        /// Groups the user is in (for `group:NAME` in access rules).
        #[arg(long, value_delimiter = ',')]
        groups: Vec<String>,
        name: String,
    },
}

fn run() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    match Cli::parse().command {
        Command::Serve { config } => {
            let valid = load(config.as_ref())?.validated()?.read_from(config);
            serve(valid)
        }
        Command::Loadgen {
            target,
            connections,
            articles,
            size,
            group,
            window,
            key,
            peer,
        } => {
            let load = tidings::loadgen::Load {
                target,
                connections,
                articles,
                size,
                group,
                window,
                key: key
                    .map(|path| tidings::keys::read_secret_key(&path))
                    .transpose()?,
                peer,
            };
            let outcome = tidings::loadgen::run(&load)?;
            println!("{outcome}");
            Ok(())
        }
        Command::CheckConfig { config } => {
            let config = load(config.as_ref())?;
            println!("{config:#?}");
            Ok(())
        }
        Command::Keygen { out } => cli::posting::keygen(&out),
        Command::Sign { key, domain } => cli::posting::sign(&key, &domain),
        Command::Verify => cli::posting::verify(),
        Command::Post(request) => cli::posting::post(&request),
        Command::Status { config, json } => cli::status::run(&load(config.as_ref())?, json),
        Command::Sync { config, peer } => cli::sync::run(&load(config.as_ref())?, &peer),
        Command::Reload { config } => {
            let config = load(config.as_ref())?;
            let done = cli::status::admin_request(
                cli::status::admin_address(&config)?,
                "POST",
                "/reload",
            )?;
            println!("{}", serde_json::to_string_pretty(&done)?);
            Ok(())
        }
        Command::Backup { config, to } => {
            let config = load(config.as_ref())?;
            let to = std::path::absolute(&to)?;
            let made = cli::status::admin_request_with(
                cli::status::admin_address(&config)?,
                "POST",
                "/backup",
                Some(&serde_json::json!({ "to": to })),
            )?;
            println!("{}", serde_json::to_string_pretty(&made)?);
            Ok(())
        }
        Command::Restore { config, from } => {
            let config = load(config.as_ref())?;
            let state = tidings::backup::restore(&from, &config.node.data_dir)?;
            println!(
                "restored into {}; state {state}",
                config.node.data_dir.display()
            );
            Ok(())
        }
        Command::Held { config, action } => {
            cli::waiting::run(&load(config.as_ref())?, "held", &Waiting::action(action))
        }
        Command::Pending { config, action } => {
            if matches!(action, Some(Waiting::Approve { .. })) {
                anyhow::bail!("a pending post is filed when its signer's passport comes; it can only be removed");
            }
            cli::waiting::run(&load(config.as_ref())?, "pending", &Waiting::action(action))
        }
        Command::User {
            action:
                UserAction::Add {
                    config,
                    groups,
                    name,
                },
        } => cli::users::add(&load(config.as_ref())?, &name, &groups),
    }
}

fn serve(config: tidings::config::Valid) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let (node, commit_thread) = Node::open(config)?;
    runtime.block_on(async {
        let addr = node.config().listen.nntp;
        let nntp = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("cannot listen on {addr}"))?;
        let nntps = bind_if(node.config().listen.nntps, "nntps").await?;
        let http = bind_if(node.config().listen.http, "http").await?;
        let admin = bind_if(node.config().listen.admin, "admin").await?;
        let shutdown = CancellationToken::new();
        tokio::spawn(stop_on_signal(shutdown.clone()));
        let hangups = tokio::spawn(reload_on_hangup(node.clone(), shutdown.clone()));
        let listeners = tidings::server::Listeners {
            nntp,
            nntps,
            http,
            admin,
        };
        tidings::server::serve(listeners, node, shutdown).await;
        // Its hold on the node must go before the committer can finish.
        let _ = hangups.await;
        anyhow::Ok(())
    })?;
    // Every session has ended, so the committer's queue is closing; wait
    // for the last batch to reach the disk.
    commit_thread.join();
    Ok(())
}

/// A listener on `addr` when one is configured.
async fn bind_if(
    addr: Option<std::net::SocketAddr>,
    what: &str,
) -> anyhow::Result<Option<tokio::net::TcpListener>> {
    match addr {
        Some(addr) => Ok(Some(
            tokio::net::TcpListener::bind(addr)
                .await
                .with_context(|| format!("cannot listen on {addr} ({what})"))?,
        )),
        None => Ok(None),
    }
}

/// SIGHUP reloads the configuration file (what a reload takes, and how a
/// bad one is refused: reload.rs); the outcome is logged. Ends at shutdown.
async fn reload_on_hangup(node: std::sync::Arc<Node>, shutdown: CancellationToken) {
    let mut hangups = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) {
        Ok(hangups) => hangups,
        Err(e) => {
            tracing::warn!(error = %e, "cannot watch SIGHUP; reload with `tidings reload`");
            return;
        }
    };
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            hangup = hangups.recv() => if hangup.is_none() { return },
        }
        tracing::info!("SIGHUP: reloading the configuration");
        // Logged by the reload itself, whichever way it went.
        let _ = tidings::reload::from_source(&node).await;
    }
}

async fn stop_on_signal(shutdown: CancellationToken) {
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(term) => term,
        Err(e) => {
            tracing::warn!(error = %e, "cannot watch SIGTERM");
            let _ = tokio::signal::ctrl_c().await;
            shutdown.cancel();
            return;
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    tracing::info!("shutting down");
    shutdown.cancel();
}

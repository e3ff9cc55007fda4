//! Backups of a running node (README "Backups", issue 17): consistent and
//! incremental. The commit thread, the store's only writer, makes a
//! RocksDB checkpoint (hard links, after a flush) between two batches and
//! reads the state digest at that moment; the checkpoint is then copied
//! into a RocksDB backup directory, whose engine shares table files
//! between backups, so a second backup copies only the tables written
//! since. Files (named by their SHA-256, never changed) are copied when
//! the backup lacks them; the node key, TLS files and users file each time.
//! `restore` brings the latest backup into an empty data directory.

use std::path::{Path, PathBuf};

use rocksdb::backup::{BackupEngine, BackupEngineOptions, RestoreOptions};
use serde::Serialize;

use crate::node::Node;
use crate::store::{Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("store: {0}")]
    Store(#[from] StoreError),
    #[error("RocksDB backup: {0}")]
    Engine(#[from] rocksdb::Error),
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("{0}")]
    Refused(String),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> BackupError + '_ {
    move |source| BackupError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// What one backup did.
#[derive(Debug, Serialize)]
pub struct Made {
    pub backup_id: u32,
    /// The state digest (state.md §5) of what the backup holds.
    pub state: String,
    /// Bytes the backup directory grew by for the database.
    pub db_bytes_added: u64,
    /// Bytes of the database the backup holds in all.
    pub db_bytes: u64,
    pub files_copied: u64,
    pub file_bytes_copied: u64,
}

/// Files of a node's data directory a backup carries besides the store
/// and the file store: its identity and who may log in.
fn small_files(node: &Node) -> Vec<PathBuf> {
    let config = node.config();
    let (cert, key) = config.tls_paths();
    vec![config.key_path(), cert, key, config.users_path()]
}

/// Backs `node` up into `to` (made if missing). One backup at a time:
/// they share the staging checkpoint's place.
pub fn backup(node: &Node, to: &Path) -> Result<Made, BackupError> {
    static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    std::fs::create_dir_all(to).map_err(io(to))?;
    // Left behind only by a backup cut short (a crash): removed first.
    let staging = node.config().node.data_dir.join("backup-checkpoint");
    if staging.exists() {
        std::fs::remove_dir_all(&staging).map_err(io(&staging))?;
    }
    let digest = node.committer.checkpoint(staging.clone())?;
    let made = (|| {
        let db_dir = to.join("db");
        let before = dir_bytes(&db_dir);
        let checkpoint = Store::open(&staging, 8)?;
        let mut engine =
            BackupEngine::open(&BackupEngineOptions::new(&db_dir)?, &rocksdb::Env::new()?)?;
        engine.create_new_backup_flush(checkpoint.db(), false)?;
        let info = engine.get_backup_info();
        let latest = info.iter().max_by_key(|i| i.backup_id).ok_or_else(|| {
            BackupError::Refused("the backup engine lists no backup after making one".into())
        })?;
        let (files_copied, file_bytes_copied) = copy_missing(
            &node.config().node.data_dir.join("files"),
            &to.join("files"),
        )?;
        for path in small_files(node) {
            if let Some(name) = path.file_name() {
                if path.exists() {
                    copy_file(&path, &to.join(name))?;
                }
            }
        }
        let made = Made {
            backup_id: latest.backup_id,
            state: hex::encode(digest),
            db_bytes_added: dir_bytes(&db_dir).saturating_sub(before),
            db_bytes: latest.size,
            files_copied,
            file_bytes_copied,
        };
        let record = to.join("backups.log");
        let line = format!(
            "{} {} {}\n",
            made.backup_id,
            made.state,
            node.clock.now().to_rfc3339()
        );
        append(&record, &line)?;
        Ok(made)
    })();
    let _ = std::fs::remove_dir_all(&staging);
    made
}

/// Restores the latest backup in `from` into `data_dir`, which must hold
/// no store yet; returns the state digest the backup recorded.
pub fn restore(from: &Path, data_dir: &Path) -> Result<String, BackupError> {
    let db = data_dir.join("db");
    if db.exists() && std::fs::read_dir(&db).map_err(io(&db))?.next().is_some() {
        return Err(BackupError::Refused(format!(
            "{} already holds a store; restore into an empty data directory",
            db.display()
        )));
    }
    std::fs::create_dir_all(&db).map_err(io(&db))?;
    let mut engine = BackupEngine::open(
        &BackupEngineOptions::new(from.join("db"))?,
        &rocksdb::Env::new()?,
    )?;
    engine.restore_from_latest_backup(&db, &db, &RestoreOptions::default())?;
    copy_missing(&from.join("files"), &data_dir.join("files"))?;
    for entry in std::fs::read_dir(from).map_err(io(from))? {
        let entry = entry.map_err(io(from))?;
        let path = entry.path();
        if path.is_file() && path.file_name().is_some_and(|n| n != "backups.log") {
            copy_file(&path, &data_dir.join(entry.file_name()))?;
        }
    }
    let log = std::fs::read_to_string(from.join("backups.log")).map_err(io(from))?;
    Ok(log
        .lines()
        .last()
        .and_then(|l| l.split(' ').nth(1))
        .unwrap_or_default()
        .to_string())
}

/// Copies every file under `from` that `to` lacks (the file store: a name
/// is its content), each to a temporary name then renamed; the count and
/// bytes copied.
fn copy_missing(from: &Path, to: &Path) -> Result<(u64, u64), BackupError> {
    let (mut count, mut bytes) = (0, 0);
    if !from.exists() {
        return Ok((0, 0));
    }
    let mut dirs = vec![from.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).map_err(io(&dir))? {
            let entry = entry.map_err(io(&dir))?;
            let path = entry.path();
            let relative = path.strip_prefix(from).unwrap_or(&path);
            // Parts of fetches under way are not files yet.
            if relative.starts_with("tmp") {
                continue;
            }
            let kind = entry.file_type().map_err(io(&path))?;
            if kind.is_dir() {
                dirs.push(path);
            } else if kind.is_file() {
                let target = to.join(relative);
                if !target.exists() {
                    bytes += copy_file(&path, &target)?;
                    count += 1;
                }
            }
        }
    }
    Ok((count, bytes))
}

/// Copies one file through a temporary name, synced; its size.
fn copy_file(from: &Path, to: &Path) -> Result<u64, BackupError> {
    if let Some(parent) = to.parent() {
        std::fs::create_dir_all(parent).map_err(io(parent))?;
    }
    let partial = to.with_extension("partial");
    let size = std::fs::copy(from, &partial).map_err(io(from))?;
    std::fs::File::open(&partial)
        .and_then(|f| f.sync_all())
        .map_err(io(&partial))?;
    std::fs::rename(&partial, to).map_err(io(to))?;
    Ok(size)
}

fn append(path: &Path, line: &str) -> Result<(), BackupError> {
    use std::io::Write;
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(io(path))?;
    file.write_all(line.as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(io(path))
}

/// Bytes of the regular files under `dir` (0 if it does not exist).
fn dir_bytes(dir: &Path) -> u64 {
    let mut total = 0;
    let mut dirs = vec![dir.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            match entry.metadata() {
                Ok(meta) if meta.is_dir() => dirs.push(entry.path()),
                Ok(meta) => total += meta.len(),
                Err(_) => {}
            }
        }
    }
    total
}

//! The bytes of files (images and the like), named by the SHA-256 of their
//! exact bytes (protocol-spec/files.md): immutable files under
//! `data_dir/files/ab/cd/<64 hex>`, so any file backup (rsync) is
//! incremental. A file is written to `files/tmp/` while its hash is taken
//! as it streams in, synced, checked against the hash it was announced
//! under, and only then renamed into place: a file under its hash is
//! always whole and right, and one cut short (kill -9) leaves only a
//! temporary file, removed at the next start. Never held whole in memory.
//!
//! A file fetched from a peer is gathered in `files/tmp/<64 hex>.part`,
//! named by the hash it is fetched under and kept across restarts, so a
//! transfer cut off resumes from the part's length instead of from 0.

use std::io;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use futures::{Stream, StreamExt};
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

/// Why a file was not stored.
#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    #[error("the file is larger than {limit} bytes")]
    TooLarge { limit: u64 },
    #[error("the file's SHA-256 is {got}, not {announced} as announced")]
    Mismatch { announced: String, got: String },
    #[error("the upload broke off: {0}")]
    Body(String),
    /// The node does not take these bytes (its operator blocked them, or
    /// a removal of them held): the reason is the caller's.
    #[error("{reason}")]
    Refused { hash: [u8; 32], reason: String },
    #[error("file storage: {0}")]
    Io(#[from] io::Error),
}

/// A file now stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stored {
    pub hash: [u8; 32],
    pub size: u64,
    /// It was there already (the same bytes uploaded before).
    pub existed: bool,
}

/// The files of one node.
#[derive(Debug, Clone)]
pub struct Blobs {
    root: PathBuf,
    /// Files stored since the node started: what is rendered with a
    /// file's state ("here" or not) is stale once it moves.
    stored: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl Blobs {
    /// Opens (creating) `root`, and removes what uploads cut short left
    /// in its `tmp` (the parts of fetches stay, to be resumed).
    pub fn open(root: &Path) -> io::Result<Blobs> {
        let tmp = root.join("tmp");
        std::fs::create_dir_all(&tmp)?;
        for entry in std::fs::read_dir(&tmp)? {
            let entry = entry?;
            let resumable = part_hash(&entry.file_name()).is_some();
            if entry.file_type()?.is_file() && !resumable {
                std::fs::remove_file(entry.path())?;
            }
        }
        Ok(Blobs {
            root: root.to_path_buf(),
            stored: Default::default(),
        })
    }

    /// How many files were stored since the node started.
    pub fn generation(&self) -> u64 {
        self.stored.load(std::sync::atomic::Ordering::Acquire)
    }

    /// Where the file named `hash` lives.
    pub fn path(&self, hash: &[u8; 32]) -> PathBuf {
        let name = hex::encode(hash);
        self.root.join(&name[..2]).join(&name[2..4]).join(name)
    }

    /// Where the file `hash` is gathered while it is fetched from a peer.
    pub fn part_path(&self, hash: &[u8; 32]) -> PathBuf {
        self.root
            .join("tmp")
            .join(format!("{}.part", hex::encode(hash)))
    }

    /// The hashes of the parts of fetches cut short, waiting here.
    pub fn parts(&self) -> io::Result<Vec<[u8; 32]>> {
        let mut out = Vec::new();
        for entry in std::fs::read_dir(self.root.join("tmp"))? {
            if let Some(hash) = part_hash(&entry?.file_name()) {
                out.push(hash);
            }
        }
        Ok(out)
    }

    /// Makes the part of `hash`, whole, synced and checked against the
    /// hash by its fetcher, the file `hash`. False when the file was here
    /// already (the part is dropped).
    pub async fn adopt_part(&self, hash: &[u8; 32]) -> io::Result<bool> {
        self.place(&self.part_path(hash), hash).await
    }

    /// Renames the whole, synced and checked file at `from` to its place
    /// under `hash`, durably; false when the file was there already (then
    /// `from` is dropped).
    async fn place(&self, from: &Path, hash: &[u8; 32]) -> io::Result<bool> {
        let path = self.path(hash);
        if tokio::fs::try_exists(&path).await? {
            tokio::fs::remove_file(from).await?;
            return Ok(false);
        }
        let dir = path.parent().unwrap_or(&self.root).to_path_buf();
        tokio::fs::create_dir_all(&dir).await?;
        tokio::fs::rename(from, &path).await?;
        // The rename is durable once its directory is synced.
        tokio::fs::File::open(&dir).await?.sync_all().await?;
        self.stored
            .fetch_add(1, std::sync::atomic::Ordering::Release);
        Ok(true)
    }

    /// Its size, if the file is here.
    pub fn size(&self, hash: &[u8; 32]) -> io::Result<Option<u64>> {
        match std::fs::metadata(self.path(hash)) {
            Ok(meta) => Ok(Some(meta.len())),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Removes the file named `hash` (gone already is not an error).
    pub fn remove(&self, hash: &[u8; 32]) -> io::Result<()> {
        match std::fs::remove_file(self.path(hash)) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }

    /// Stores what `body` streams, at most `limit` bytes; when `announced`
    /// is given, only if the bytes hash to it; not if `refused` gives a
    /// reason for their hash. The file is visible under
    /// its hash only once it is whole, synced and checked.
    pub async fn write<S, E>(
        &self,
        mut body: S,
        limit: u64,
        announced: Option<[u8; 32]>,
        refused: impl Fn(&[u8; 32]) -> Option<String>,
    ) -> Result<Stored, BlobError>
    where
        S: Stream<Item = Result<Bytes, E>> + Unpin,
        E: std::fmt::Display,
    {
        let tmp = self.root.join("tmp").join(temporary_name());
        let written = async {
            let mut file = tokio::fs::File::create(&tmp).await?;
            let mut hasher = Sha256::new();
            let mut size = 0u64;
            while let Some(chunk) = body.next().await {
                let chunk = chunk.map_err(|e| BlobError::Body(e.to_string()))?;
                size += chunk.len() as u64;
                if size > limit {
                    return Err(BlobError::TooLarge { limit });
                }
                hasher.update(&chunk);
                file.write_all(&chunk).await?;
            }
            file.sync_all().await?;
            let hash: [u8; 32] = hasher.finalize().into();
            if let Some(announced) = announced.filter(|a| *a != hash) {
                return Err(BlobError::Mismatch {
                    announced: hex::encode(announced),
                    got: hex::encode(hash),
                });
            }
            if let Some(reason) = refused(&hash) {
                return Err(BlobError::Refused { hash, reason });
            }
            Ok((hash, size))
        }
        .await;
        let (hash, size) = match written {
            Ok(done) => done,
            Err(e) => {
                let _ = tokio::fs::remove_file(&tmp).await;
                return Err(e);
            }
        };
        let existed = !self.place(&tmp, &hash).await?;
        Ok(Stored {
            hash,
            size,
            existed,
        })
    }
}

/// The hash a fetch's part is named by (`<64 hex>.part`); None for the
/// temporary files of uploads.
fn part_hash(name: &std::ffi::OsStr) -> Option<[u8; 32]> {
    name.to_str()
        .and_then(|n| n.strip_suffix(".part"))
        .filter(|n| !n.contains('.'))
        .and_then(parse_hash)
}

/// A name no other upload in flight has.
fn temporary_name() -> String {
    let mut bytes = [0u8; 16];
    // The OS source failing leaves zeros: the time and counter still
    // make the name unique within this process.
    let _ = getrandom::getrandom(&mut bytes);
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!("{}-{n}.part", hex::encode(bytes))
}

/// The hash a path segment names: 64 hex digits, with or without an
/// extension (`<hash>.png`, as Blossom URLs have).
pub fn parse_hash(segment: &str) -> Option<[u8; 32]> {
    let hex_part = segment.split_once('.').map_or(segment, |(h, _)| h);
    if hex_part.len() != 64 {
        return None;
    }
    hex::decode(hex_part.to_ascii_lowercase())
        .ok()?
        .try_into()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunks(parts: &[&'static [u8]]) -> impl Stream<Item = Result<Bytes, String>> + Unpin {
        futures::stream::iter(
            parts
                .iter()
                .map(|p| Ok(Bytes::from_static(p)))
                .collect::<Vec<_>>(),
        )
    }

    #[tokio::test]
    async fn a_file_is_stored_once_under_its_hash_after_it_is_checked() {
        let dir = tempfile::tempdir().expect("tempdir");
        let blobs = Blobs::open(dir.path()).expect("open");
        let hash: [u8; 32] = Sha256::digest(b"hello world").into();
        let stored = blobs
            .write(chunks(&[b"hello ", b"world"]), 100, Some(hash), |_| None)
            .await
            .expect("stored");
        assert_eq!(
            (stored.hash, stored.size, stored.existed),
            (hash, 11, false)
        );
        assert_eq!(
            std::fs::read(blobs.path(&hash)).expect("read"),
            b"hello world"
        );
        let again = blobs
            .write(chunks(&[b"hello world"]), 100, None, |_| None)
            .await
            .expect("again");
        assert!(again.existed, "the same bytes are stored once");

        let wrong = blobs
            .write(chunks(&[b"other"]), 100, Some(hash), |_| None)
            .await
            .expect_err("mismatch");
        assert!(matches!(wrong, BlobError::Mismatch { .. }), "{wrong}");
        let big = blobs
            .write(chunks(&[b"0123456789", b"0123456789"]), 15, None, |_| None)
            .await
            .expect_err("too large");
        assert!(matches!(big, BlobError::TooLarge { limit: 15 }), "{big}");
        let blocked = blobs
            .write(chunks(&[b"banned"]), 100, None, |_| Some("blocked".into()))
            .await
            .expect_err("blocked");
        assert!(matches!(blocked, BlobError::Refused { .. }), "{blocked}");
        let left: Vec<_> = std::fs::read_dir(dir.path().join("tmp"))
            .expect("tmp")
            .collect();
        assert!(left.is_empty(), "refused uploads leave nothing behind");
    }

    #[test]
    fn what_an_upload_cut_short_left_is_removed_at_open_and_a_fetch_part_stays() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(dir.path().join("tmp")).expect("tmp");
        std::fs::write(dir.path().join("tmp").join("x.part"), b"half").expect("write");
        let hash: [u8; 32] = Sha256::digest(b"hello world").into();
        let part = dir
            .path()
            .join("tmp")
            .join(format!("{}.part", hex::encode(hash)));
        std::fs::write(&part, b"hello").expect("write");
        let blobs = Blobs::open(dir.path()).expect("open");
        assert_eq!(blobs.part_path(&hash), part);
        assert_eq!(blobs.parts().expect("parts"), vec![hash]);
        assert_eq!(
            std::fs::read_dir(dir.path().join("tmp"))
                .expect("tmp")
                .count(),
            1
        );
    }

    #[tokio::test]
    async fn an_adopted_part_becomes_the_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let blobs = Blobs::open(dir.path()).expect("open");
        let hash: [u8; 32] = Sha256::digest(b"hello world").into();
        std::fs::write(blobs.part_path(&hash), b"hello world").expect("write");
        assert!(blobs.adopt_part(&hash).await.expect("adopt"));
        assert_eq!(blobs.size(&hash).expect("size"), Some(11));
        assert_eq!(blobs.generation(), 1);
        std::fs::write(blobs.part_path(&hash), b"hello world").expect("write");
        assert!(!blobs.adopt_part(&hash).await.expect("again"));
        assert!(!blobs.part_path(&hash).exists());
    }

    #[test]
    fn hashes_are_read_from_path_segments() {
        let hex = "b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9";
        let want: [u8; 32] = Sha256::digest(b"hello world").into();
        assert_eq!(parse_hash(hex), Some(want));
        assert_eq!(parse_hash(&format!("{hex}.png")), Some(want));
        assert_eq!(parse_hash(&hex.to_uppercase()), Some(want));
        assert_eq!(parse_hash("abc"), None);
        assert_eq!(parse_hash(&format!("{}zz", &hex[..62])), None);
    }
}

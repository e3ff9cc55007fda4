//! What is fetched without a reader asking (files.md §7): the files of
//! every article filed on an `eager` board, as the change log reports it
//! filed; and, at start and then every catch-up period, every file that
//! an article filed here on such a board references and that is not here
//! (never fetched, a fetch that failed, bytes lost from the disk). The
//! article sets are reconciled by catch-up (sync.md), and a board's file
//! set is a function of its articles, so this scan is what reconciles
//! file sets: whatever a node's articles name, it finds a holder for.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use super::{Fetcher, FileState, TransferError};
use crate::proto::wildmat::Wildmat;
use crate::store::schema::{ChangeKind, HistoryEntry};
use crate::store::{Store, StoreError};

/// References read per page of the scan, changes per read of the log.
const PAGE: usize = 1024;

/// Follows the change log until `shutdown`, fetching the files of `eager`
/// boards' articles as they are filed, and scans for missing ones at
/// start and every `every`.
pub async fn run(
    fetcher: Arc<Fetcher>,
    eager: Wildmat,
    mut changes: watch::Receiver<u64>,
    every: Duration,
    shutdown: CancellationToken,
) {
    // Read before the scan, so nothing filed during it is missed.
    let mut cursor = *changes.borrow_and_update();
    scan(&fetcher, &eager).await;
    let mut next_scan = tokio::time::Instant::now() + every;
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            changed = changes.changed() => {
                if changed.is_err() {
                    return;
                }
            }
            () = tokio::time::sleep_until(next_scan), if !every.is_zero() => {
                scan(&fetcher, &eager).await;
                next_scan = tokio::time::Instant::now() + every;
                continue;
            }
        }
        let read = {
            let (fetcher, eager) = (fetcher.clone(), eager.clone());
            tokio::task::spawn_blocking(move || filed_since(&fetcher, &eager, cursor)).await
        };
        match read {
            Ok(Ok((last, wanted))) => {
                cursor = last;
                for hash in wanted {
                    fetcher.want(hash);
                }
            }
            Ok(Err(e)) => warn!(error = %e, "reading the change log for files failed"),
            Err(e) => warn!(error = %e, "the change log reader failed"),
        }
    }
}

/// Follows the change log after `cursor`: every file a control named, and
/// every file of a post filed, is judged (a removal may hold now) and its
/// bytes removed if it is removed; the live ones of posts filed on
/// `eager` boards that are not here are returned, to fetch. Also returns
/// the last change read.
fn filed_since(
    fetcher: &Fetcher,
    eager: &Wildmat,
    mut cursor: u64,
) -> Result<(u64, Vec<[u8; 32]>), TransferError> {
    let store = &fetcher.store;
    let mut wanted = Vec::new();
    loop {
        let changes = store.changes_after(cursor, PAGE)?;
        let Some((last, _)) = changes.last() else {
            return Ok((cursor, wanted));
        };
        cursor = *last;
        for (_, change) in changes {
            match change.kind {
                ChangeKind::File => {
                    if let Some(hash) = crate::proto::file_ref::parse_sha256(&change.subject) {
                        let state = fetcher.enforce(&hash)?;
                        // Pinned just now, perhaps: a pin is fetched.
                        if !matches!(state, FileState::Removed(_))
                            && fetcher.pinned(&hash)?
                            && !fetcher.is_here(&hash)
                        {
                            wanted.push(hash);
                        }
                    }
                }
                ChangeKind::Created
                | ChangeKind::Released
                | ChangeKind::Approved
                | ChangeKind::Restored
                | ChangeKind::Moved => {
                    let on_eager = on_eager_board(&change.detail, eager);
                    for hash in files_of(store, change.subject.as_bytes())? {
                        let state = fetcher.enforce(&hash)?;
                        if on_eager
                            && !matches!(state, FileState::Removed(_))
                            && !fetcher.is_here(&hash)
                        {
                            wanted.push(hash);
                        }
                    }
                }
                _ => {}
            }
        }
    }
}

/// Whether an xref (`group:number ...`) files on a board of `eager`.
pub fn on_eager_board(xref: &str, eager: &Wildmat) -> bool {
    xref.split_ascii_whitespace()
        .filter_map(|entry| entry.rsplit_once(':').map(|(group, _)| group))
        .any(|group| eager.matches(group.as_bytes()))
}

/// The files (thumbnails included) an article here references.
fn files_of(store: &Store, id: &[u8]) -> Result<Vec<[u8; 32]>, StoreError> {
    let Some(bytes) = store.article_passing(id)? else {
        return Ok(Vec::new());
    };
    // Most posts carry no file: no parse for them.
    if memchr::memmem::find(&bytes, crate::proto::file_ref::HEADER.as_bytes()).is_none() {
        return Ok(Vec::new());
    }
    let Ok(article) = crate::proto::article::Article::parse(bytes.into()) else {
        return Ok(Vec::new());
    };
    Ok(crate::proto::file_ref::of(&article)
        .unwrap_or_default()
        .into_iter()
        .flat_map(|file| std::iter::once(file.hash).chain(file.thumbnail))
        .collect())
}

/// Every pinned file not here, and every file referenced by an article
/// filed here on an `eager` board and not here, asked for.
async fn scan(fetcher: &Arc<Fetcher>, eager: &Wildmat) {
    let mut after: Vec<u8> = Vec::new();
    let mut asked = 0usize;
    // The operator's pins are fetched whatever references them.
    let pinned = {
        let fetcher = fetcher.clone();
        tokio::task::spawn_blocking(move || fetcher.pinned_files()).await
    };
    match pinned {
        Ok(Ok(pinned)) => {
            for hash in pinned {
                if !fetcher.is_here(&hash) && !fetcher.fetching(&hash) {
                    fetcher.want(hash);
                    asked += 1;
                }
            }
        }
        Ok(Err(e)) => warn!(error = %e, "reading the pinned files failed"),
        Err(e) => warn!(error = %e, "the pinned-file reader failed"),
    }
    loop {
        let page = {
            let (fetcher, eager, from) = (fetcher.clone(), eager.clone(), after.clone());
            tokio::task::spawn_blocking(move || missing_page(&fetcher, &eager, &from)).await
        };
        let (next, missing) = match page {
            Ok(Ok(page)) => page,
            Ok(Err(e)) => {
                warn!(error = %e, "scanning for missing files failed");
                return;
            }
            Err(e) => {
                warn!(error = %e, "the missing-file scan failed");
                return;
            }
        };
        for hash in missing {
            if !fetcher.fetching(&hash) {
                fetcher.want(hash);
                asked += 1;
            }
        }
        match next {
            Some(key) => after = key,
            None => break,
        }
    }
    if asked > 0 {
        info!(target: "tidings::files", files = asked, "fetching files referenced here and missing");
    }
}

/// One page of the scan: the files missing here that a filed article on
/// an eager board references, and the key to go on after (None at the
/// end).
#[allow(clippy::type_complexity)]
fn missing_page(
    fetcher: &Fetcher,
    eager: &Wildmat,
    after: &[u8],
) -> Result<(Option<Vec<u8>>, Vec<[u8; 32]>), StoreError> {
    let refs = fetcher.store.file_refs_page(after, PAGE)?;
    let next = (refs.len() == PAGE)
        .then(|| refs.last().map(|(hash, id)| [hash.as_slice(), id].concat()))
        .flatten();
    let mut missing: Vec<[u8; 32]> = Vec::new();
    for (hash, id) in refs {
        if missing.last() == Some(&hash)
            || fetcher.is_here(&hash)
            || fetcher.store.file_tombstone(&hash)?.is_some()
        {
            continue;
        }
        if let Some(HistoryEntry::Accepted { xref, .. }) = fetcher.store.history(&id)? {
            if on_eager_board(&xref, eager) {
                missing.push(hash);
            }
        }
    }
    Ok((next, missing))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boards_are_read_from_xrefs() {
        let eager = Wildmat::parse(b"chan.*,!chan.slow").expect("wildmat");
        assert!(on_eager_board("chan.b:3", &eager));
        assert!(on_eager_board("chan.slow:1 chan.a:9", &eager));
        assert!(!on_eager_board("chan.slow:1", &eager));
        assert!(!on_eager_board("", &eager));
        assert!(!on_eager_board("blog.x:2", &eager));
    }
}

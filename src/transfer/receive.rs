//! Receiving one file from a holder into its part: XFILE commands for
//! successive pieces pipelined a few at a time, each piece's raw bytes
//! appended and hashed as they arrive, so memory stays a read buffer
//! whatever the file's size. A part left by a transfer cut off is hashed
//! again from disk and the transfer goes on from its length.

use std::collections::VecDeque;
use std::io::{Read, Seek, Write};

use sha2::{Digest, Sha256};

use super::TransferCounters;
use crate::client::{Client, ClientError, Command};
use crate::proto::file_ref::Piece;
use crate::proto::Code;
use crate::store::blobs::Blobs;

/// The piece asked for with each command: XFILE's most (files.md §6).
const PIECE: u64 = 4 * 1024 * 1024;

/// Commands in flight on the connection: enough to keep a link busy while
/// a reply's bytes are written.
const WINDOW: usize = 4;

#[derive(Debug, thiserror::Error)]
pub enum ReceiveError {
    #[error("the bytes hash to {got}")]
    Mismatch { got: String },
    #[error(transparent)]
    Client(#[from] ClientError),
    #[error("the holder answered {0}")]
    Refused(String),
    #[error("the holder sent another piece than asked for: {0}")]
    WrongPiece(String),
    #[error("the part: {0}")]
    Io(#[from] std::io::Error),
    #[error("the hashing task failed: {0}")]
    Task(String),
}

/// Receives the file `hash` of `size` bytes from `client` into its part
/// and checks it; returns the offset it resumed from. On a mismatch the
/// part is removed (those bytes are worth nothing); on any other error it
/// stays, to be resumed.
pub async fn receive(
    client: &mut Client,
    blobs: &Blobs,
    hash: &[u8; 32],
    size: u64,
    counters: &TransferCounters,
) -> Result<u64, ReceiveError> {
    let path = blobs.part_path(hash);
    let (mut file, mut hasher, resumed_from) = {
        let path = path.clone();
        tokio::task::spawn_blocking(move || open_part(&path, size))
            .await
            .map_err(|e| ReceiveError::Task(e.to_string()))??
    };
    if resumed_from > 0 {
        tracing::info!(target: "tidings::files", file = %hex::encode(hash), offset = resumed_from, "resuming a file transfer");
    }
    let mut next = resumed_from;
    let mut asked: VecDeque<(u64, u64)> = VecDeque::new();
    let mut received = resumed_from;
    while received < size {
        let mut commands = Vec::new();
        while asked.len() < WINDOW && next < size {
            let count = PIECE.min(size - next);
            Command::Xfile {
                hash,
                offset: next,
                count,
            }
            .encode(&mut commands)
            .map_err(ClientError::from)?;
            asked.push_back((next, count));
            next += count;
        }
        if !commands.is_empty() {
            client.send(&commands).await?;
        }
        let Some((offset, count)) = asked.pop_front() else {
            break;
        };
        let response = client.response().await?;
        if response.code != Code::FILE_FOLLOWS {
            return Err(ReceiveError::Refused(response.to_string()));
        }
        let piece = Piece::parse(response.text.as_bytes())
            .map_err(|e| ReceiveError::WrongPiece(e.to_string()))?;
        if piece.hash != *hash
            || piece.offset != offset
            || piece.count != count
            || piece.size != size
        {
            return Err(ReceiveError::WrongPiece(response.to_string()));
        }
        client
            .raw(count, |bytes| {
                hasher.update(bytes);
                file.write_all(bytes)
            })
            .await?;
        received += count;
        counters
            .bytes
            .fetch_add(count, std::sync::atomic::Ordering::Relaxed);
    }
    // Off the async workers: syncing a large part takes a while.
    tokio::task::spawn_blocking(move || file.sync_all())
        .await
        .map_err(|e| ReceiveError::Task(e.to_string()))??;
    let got: [u8; 32] = hasher.finalize().into();
    if got != *hash {
        let _ = std::fs::remove_file(&path);
        return Err(ReceiveError::Mismatch {
            got: hex::encode(got),
        });
    }
    Ok(resumed_from)
}

/// Opens (creating) the part, positioned at its end, with the hash of what
/// it holds; a part longer than the file is begun again.
fn open_part(
    path: &std::path::Path,
    size: u64,
) -> Result<(std::fs::File, Sha256, u64), ReceiveError> {
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)?;
    let mut length = file.metadata()?.len();
    if length > size {
        file.set_len(0)?;
        length = 0;
    }
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 256 * 1024];
    let mut read = 0u64;
    file.rewind()?;
    while read < length {
        let n = file.read(&mut buffer)?;
        if n == 0 {
            break;
        }
        hasher.update(&buffer[..n]);
        read += n as u64;
    }
    file.seek(std::io::SeekFrom::Start(read))?;
    Ok((file, hasher, read))
}

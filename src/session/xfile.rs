//! XFILE (protocol-spec/files.md §6): a piece of a file, sent as its raw
//! bytes after a status line that says how many follow, so a file crosses
//! a link binary-safe (no base64, no dot-stuffing) and a transfer cut off
//! resumes from the offset the fetcher already has.

use bytes::BytesMut;
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWrite, AsyncWriteExt};

use super::{send, Next, Session};
use crate::proto::{Code, Reply};
use crate::transfer::FileState;

/// Most bytes one reply carries; a fetcher pipelines several commands for
/// a larger file.
pub const MAX_PIECE: u64 = 4 * 1024 * 1024;

/// Bytes read from the file per write to the connection.
const READ_BUFFER: usize = 256 * 1024;

impl Session {
    /// Answers XFILE: `294 hash offset count size type` and exactly
    /// `count` bytes, or a refusal. Replies queued before it are written
    /// first; the bytes go straight to the connection.
    pub(super) async fn xfile<W: AsyncWrite + Unpin>(
        &mut self,
        hash: [u8; 32],
        offset: u64,
        count: Option<u64>,
        out: &mut BytesMut,
        writer: &mut W,
    ) -> Next {
        let name = hex::encode(hash);
        let refuse = |out: &mut BytesMut, code: Code, why: String| {
            Reply::with(code, why).encode(out);
            Next::Continue
        };
        match self.node.fetcher.state(&hash) {
            Ok(FileState::Removed(why)) => return refuse(out, Code::FILE_REFUSED, why),
            Ok(_) => {}
            Err(e) => {
                tracing::error!(error = %e, "storage fault while answering XFILE");
                return refuse(out, Code::INTERNAL_FAULT, "storage fault".into());
            }
        }
        // A file only unreadable posts reference is not here to this
        // connection (access.md §4): a peer is not sent what it may not read.
        match self.node.file_readable(&self.identity(), &hash) {
            Ok(true) => {}
            Ok(false) => return refuse(out, Code::NO_SUCH_FILE, format!("{name} is not here")),
            Err(e) => {
                tracing::error!(error = %e, "storage fault while answering XFILE");
                return refuse(out, Code::INTERNAL_FAULT, "storage fault".into());
            }
        }
        let record = match self.node.store.file(&hash) {
            Ok(Some(record)) => record,
            Ok(None) => return refuse(out, Code::NO_SUCH_FILE, format!("{name} is not here")),
            Err(e) => {
                tracing::error!(error = %e, "storage fault while answering XFILE");
                return refuse(out, Code::INTERNAL_FAULT, "storage fault".into());
            }
        };
        let mut file = match tokio::fs::File::open(self.node.blobs.path(&hash)).await {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return refuse(
                    out,
                    Code::NO_SUCH_FILE,
                    format!("{name}: its bytes are not here"),
                )
            }
            Err(e) => {
                tracing::error!(error = %e, file = %name, "cannot open a file for XFILE");
                return refuse(out, Code::INTERNAL_FAULT, "cannot read the file".into());
            }
        };
        // The bytes on disk are the file; the record only adds its type.
        let size = match file.metadata().await {
            Ok(meta) => meta.len(),
            Err(e) => {
                tracing::error!(error = %e, file = %name, "cannot read a file's size");
                return refuse(out, Code::INTERNAL_FAULT, "cannot read the file".into());
            }
        };
        if offset > size {
            return refuse(
                out,
                Code::SYNTAX_ERROR,
                format!("offset {offset} is past the end of {name} ({size} bytes)"),
            );
        }
        let count = count.unwrap_or(MAX_PIECE).min(MAX_PIECE).min(size - offset);
        Reply::with(
            Code::FILE_FOLLOWS,
            format!("{name} {offset} {count} {size} {}", record.media_type),
        )
        .encode(out);
        let sent = async {
            send(writer, out).await?;
            out.clear();
            file.seek(std::io::SeekFrom::Start(offset)).await?;
            let mut left = count;
            let mut buffer = vec![0u8; READ_BUFFER.min(count as usize).max(1)];
            while left > 0 {
                let want = buffer.len().min(left as usize);
                let n = file.read(&mut buffer[..want]).await?;
                if n == 0 {
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::UnexpectedEof,
                        "the file is shorter than it was",
                    ));
                }
                writer.write_all(&buffer[..n]).await?;
                left -= n as u64;
            }
            writer.flush().await
        }
        .await;
        match sent {
            Ok(()) => {
                debug_sent(&name, offset, count);
                Next::Continue
            }
            // The count is promised; the only honest end is to close.
            Err(e) => {
                tracing::warn!(error = %e, file = %name, "XFILE cut short; closing");
                out.clear();
                Next::Close
            }
        }
    }
}

/// Its own target, so tests and operators can watch where transfers
/// start without every debug line.
fn debug_sent(name: &str, offset: u64, count: u64) {
    tracing::debug!(target: "tidings::files", file = %name, offset, count, "file piece sent");
}

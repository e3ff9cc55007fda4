//! Long answers (OVER, HDR, LISTGROUP over a range) written a page at a
//! time, so one reader asking for a million overview lines costs a page
//! of memory, not a million lines.

use bytes::{BufMut, BytesMut};
use futures::future::BoxFuture;
use futures::stream::FuturesOrdered;
use tokio::io::{AsyncWrite, AsyncWriteExt};

use super::reader::{render_line, Answer, Cursor, Pages, PAGE};
use super::{Next, Session, Stop, FLUSH_AT};
use crate::proto::reply::put_line;
use crate::proto::{Code, Reply};
use crate::store::Store;

impl Session {
    /// Sends an answer: at once, or page by page.
    pub(super) async fn answer<W: AsyncWrite + Unpin>(
        &mut self,
        answer: Result<Answer, Stop>,
        pending: &mut FuturesOrdered<BoxFuture<'static, Reply>>,
        out: &mut BytesMut,
        writer: &mut W,
    ) -> Next {
        let pages = match answer {
            Ok(Answer::Paged(pages)) => pages,
            Ok(Answer::Now(reply)) | Err(Stop::Refuse(reply)) => {
                return self.respond(reply, pending, out)
            }
            Err(Stop::Fault(e)) => {
                tracing::error!(error = %e, "storage fault while answering a command");
                return self.respond(Reply::new(Code::INTERNAL_FAULT), pending, out);
            }
        };
        match self.write_pages(pages, out, writer).await {
            Ok(next) => next,
            // The status line is out; the only honest end is to close.
            Err(e) => {
                tracing::error!(error = %e, "answer cut short");
                Next::Close
            }
        }
    }

    async fn write_pages<W: AsyncWrite + Unpin>(
        &mut self,
        mut pages: Pages,
        out: &mut BytesMut,
        writer: &mut W,
    ) -> Result<Next, String> {
        let store = self.node.store.clone();
        let first = match next_lines(store.clone(), pages).await {
            Ok((rest, lines)) => {
                pages = rest;
                lines
            }
            Err(Stop::Refuse(reply)) => {
                reply.encode(out);
                return Ok(Next::Continue);
            }
            Err(Stop::Fault(e)) => return Err(e.to_string()),
        };
        if first.is_empty() && pages.refuse_empty {
            Reply::with(Code::NO_SUCH_NUMBER, "No articles in that range").encode(out);
            return Ok(Next::Continue);
        }
        pages.status.encode(out);
        let mut lines = first;
        loop {
            for line in &lines {
                put_line(out, line);
            }
            if out.len() >= FLUSH_AT {
                writer.write_all(out).await.map_err(|e| e.to_string())?;
                out.clear();
            }
            if pages.done {
                break;
            }
            (pages, lines) = next_lines(store.clone(), pages)
                .await
                .map_err(|stop| match stop {
                    Stop::Fault(e) => e.to_string(),
                    Stop::Refuse(reply) => reply.text,
                })?;
        }
        out.put_slice(b".\r\n");
        Ok(Next::Continue)
    }
}

/// The next page of lines (maybe none that match); `pages.done` once
/// the source is exhausted.
fn page(store: &Store, pages: &mut Pages) -> Result<Vec<Vec<u8>>, Stop> {
    if pages.done {
        return Ok(Vec::new());
    }
    match &mut pages.cursor {
        Cursor::Overview {
            group,
            next,
            hi,
            render,
        } => {
            let records = store.overview_page(group, *next, *hi, PAGE)?;
            match records.last() {
                Some((last, _)) if records.len() == PAGE && *last < *hi => *next = last + 1,
                _ => pages.done = true,
            }
            records
                .iter()
                .map(|(number, record)| render_line(store, render, *number, record))
                .collect()
        }
        Cursor::Arrivals {
            from,
            groups,
            readable,
        } => {
            let entries = store.arrivals_page(from, PAGE)?;
            match entries.last() {
                Some(last) if entries.len() == PAGE => {
                    // The smallest key after the last one.
                    *from = last.key.clone();
                    from.push(0);
                }
                _ => pages.done = true,
            }
            Ok(entries
                .into_iter()
                .filter(|entry| {
                    entry.filed_in.split(|&b| b == b',').any(|g| {
                        groups.matches(g)
                            && readable
                                .as_ref()
                                .is_none_or(|r| std::str::from_utf8(g).is_ok_and(|g| r.contains(g)))
                    })
                })
                .map(|entry| entry.message_id)
                .collect())
        }
    }
}

/// Pages read until one has lines, the source ends, or this many entries
/// were passed over: a NEWNEWS for a rare wildmat walks the arrival log
/// in bounded steps, each off the async workers.
const SCAN_PER_STEP: usize = 64;

/// The next lines of a long answer, read on a blocking thread: RocksDB
/// scans and article reads (HDR of a header outside the overview) must not
/// hold a tokio worker.
async fn next_lines(store: Store, mut pages: Pages) -> Result<(Pages, Vec<Vec<u8>>), Stop> {
    let read = tokio::task::spawn_blocking(move || {
        let mut lines = Vec::new();
        for _ in 0..SCAN_PER_STEP {
            lines = page(&store, &mut pages)?;
            if pages.done || !lines.is_empty() {
                break;
            }
        }
        Ok((pages, lines))
    })
    .await;
    read.unwrap_or_else(|e| {
        Err(Stop::Refuse(Reply::with(
            Code::INTERNAL_FAULT,
            format!("reading the answer failed: {e}"),
        )))
    })
}

//! Reading: GROUP, LISTGROUP, ARTICLE/HEAD/BODY/STAT, NEXT, LAST, OVER and
//! HDR (RFC 3977 §6.1, §6.2, §8).

use bytes::Bytes;

use super::list::OVERVIEW_FMT;
use super::{Handled, Selected, Session, Stop};

/// Lines fetched per page of a long answer: bounds the memory one reader
/// can make the node use, whatever the size of the group.
pub(super) const PAGE: usize = 1000;

/// How a long answer renders each overview record.
pub(super) enum Render {
    Numbers,
    Over,
    Hdr {
        name: String,
        overview_index: Option<usize>,
    },
}

/// Where the next page of a long answer comes from.
pub(super) enum Cursor {
    /// Overview records of a group, by number.
    Overview {
        group: String,
        next: u64,
        hi: u64,
        render: Render,
    },
    /// The arrival log from a key on, keeping articles filed in a group the
    /// wildmat matches (NEWNEWS).
    Arrivals {
        from: Vec<u8>,
        groups: crate::proto::wildmat::Wildmat,
        /// The boards the reader may read, when not all.
        readable: Option<std::collections::HashSet<String>>,
    },
}

/// A multi-line answer written a page at a time instead of built whole.
pub(super) struct Pages {
    pub status: Reply,
    pub cursor: Cursor,
    /// OVER and HDR answer 423 to an empty range; LISTGROUP and NEWNEWS
    /// list nothing.
    pub refuse_empty: bool,
    pub done: bool,
}

impl Pages {
    fn new(
        status: Reply,
        group: String,
        range: Range,
        render: Render,
        refuse_empty: bool,
    ) -> Pages {
        let hi = range.hi.unwrap_or(u64::MAX);
        let cursor = Cursor::Overview {
            group,
            next: range.lo,
            hi,
            render,
        };
        Pages {
            status,
            cursor,
            refuse_empty,
            done: range.lo > hi,
        }
    }
}

pub(super) enum Answer {
    Now(Reply),
    Paged(Pages),
}
use crate::ingest::{overview_message_id, overview_record};
use crate::proto::article::{unfold, Article};
use crate::proto::command::{ArticleRef, Part, Selection};
use crate::proto::grammar::Range;
use crate::proto::{Code, Reply};
use crate::store::schema::HistoryEntry;
use crate::store::{Store, StoreError, Towards};

/// An article located for a reply: its number in the selected group (0 when
/// asked for by Message-ID) and its Message-ID.
struct Located {
    number: u64,
    message_id: Vec<u8>,
}

fn corrupt(message_id: &[u8]) -> Stop {
    Stop::Fault(StoreError::Corrupt {
        what: "article",
        key: String::from_utf8_lossy(message_id).into_owned(),
    })
}

impl Session {
    fn select(&mut self, name: &str) -> Result<Reply, Stop> {
        let record = self.node.groups.get(name).ok_or(Code::NO_SUCH_GROUP)?;
        if !self.may_read(name) {
            return Err(self.unreadable(Code::NO_SUCH_GROUP));
        }
        let current = (record.count > 0).then_some(record.low);
        self.selected = Some(Selected {
            name: name.to_string(),
            current,
        });
        Ok(Reply::with(
            Code::GROUP_SELECTED,
            format!("{} {} {} {name}", record.count, record.low, record.high),
        ))
    }

    fn selected_name(&self) -> Result<&str, Stop> {
        Ok(&self.selected.as_ref().ok_or(Code::NO_GROUP_SELECTED)?.name)
    }

    fn current(&self) -> Result<u64, Stop> {
        let selected = self.selected.as_ref().ok_or(Code::NO_GROUP_SELECTED)?;
        Ok(selected.current.ok_or(Code::CURRENT_INVALID)?)
    }

    /// GROUP (RFC 3977 §6.1.1).
    pub(super) fn group(&mut self, name: &[u8]) -> Handled {
        self.select(&String::from_utf8_lossy(name))
    }

    /// LISTGROUP (RFC 3977 §6.1.2).
    pub(super) fn listgroup(
        &mut self,
        group: Option<&[u8]>,
        range: Option<Range>,
    ) -> Result<Answer, Stop> {
        let name = match group {
            Some(name) => String::from_utf8_lossy(name).into_owned(),
            None => self.selected_name()?.to_string(),
        };
        let status = self.select(&name)?;
        let range = range.unwrap_or(Range { lo: 1, hi: None });
        Ok(Answer::Paged(Pages::new(
            status,
            name,
            range,
            Render::Numbers,
            false,
        )))
    }

    /// Resolves a number in the selected group; `missing` is the refusal
    /// when there is no such article.
    fn by_number(&self, number: u64, missing: Code) -> Result<Located, Stop> {
        let record = self
            .node
            .store
            .overview(self.selected_name()?, number)?
            .ok_or(missing)?;
        let message_id = overview_message_id(&record).unwrap_or_default().to_vec();
        Ok(Located { number, message_id })
    }

    /// ARTICLE, HEAD, BODY and STAT (RFC 3977 §6.2).
    pub(super) fn retrieve(&mut self, part: Part, target: ArticleRef) -> Handled {
        let (located, missing) = match target {
            ArticleRef::MessageId(id) => (
                Located {
                    number: 0,
                    message_id: self.current_version(id)?,
                },
                Code::NO_SUCH_MSGID,
            ),
            ArticleRef::Number(n) => (
                self.by_number(n, Code::NO_SUCH_NUMBER)?,
                Code::NO_SUCH_NUMBER,
            ),
            ArticleRef::Current => {
                let n = self.current()?;
                (
                    self.by_number(n, Code::CURRENT_INVALID)?,
                    Code::CURRENT_INVALID,
                )
            }
        };
        let raw = Bytes::from(
            self.node
                .store
                .article(&located.message_id)?
                .ok_or(missing)?,
        );
        if located.number == 0 && !self.may_read_article(&raw) {
            return Err(self.unreadable(missing));
        }
        if located.number != 0 {
            if let Some(selected) = self.selected.as_mut() {
                selected.current = Some(located.number);
            }
        }
        let status = format!(
            "{} {}",
            located.number,
            String::from_utf8_lossy(&located.message_id)
        );
        Ok(match part {
            Part::Stat => Reply::with(Code::ARTICLE_EXISTS, status),
            Part::Article => Reply::block(Code::ARTICLE_FOLLOWS, status, raw),
            Part::Head => {
                let article = Article::parse(raw).map_err(|_| corrupt(&located.message_id))?;
                Reply::block(Code::HEAD_FOLLOWS, status, article.head())
            }
            Part::Body => {
                let article = Article::parse(raw).map_err(|_| corrupt(&located.message_id))?;
                Reply::block(Code::BODY_FOLLOWS, status, article.body())
            }
        })
    }

    /// The Message-ID of the current version of the post `id` names: an
    /// earlier version leads a reader to it (state.md §3b); the status line
    /// then names the current one, so the reader sees that it changed. A
    /// transit feed gets the version it names: catch-up fetches earlier
    /// versions that way (sync.md §1).
    fn current_version(&self, id: Vec<u8>) -> Result<Vec<u8>, Stop> {
        if self.streaming {
            return Ok(id);
        }
        match self.node.store.history(&id)? {
            Some(HistoryEntry::Superseded { by, .. }) if !by.is_empty() => Ok(by.into_bytes()),
            _ => Ok(id),
        }
    }

    /// NEXT and LAST (RFC 3977 §6.1.3, §6.1.4).
    pub(super) fn step(&mut self, towards: Towards) -> Handled {
        let current = self.current()?;
        let end = if towards == Towards::Next {
            Code::NO_NEXT
        } else {
            Code::NO_PREVIOUS
        };
        let (number, record) = self
            .node
            .store
            .neighbour(self.selected_name()?, current, towards)?
            .ok_or(end)?;
        if let Some(selected) = self.selected.as_mut() {
            selected.current = Some(number);
        }
        let id =
            String::from_utf8_lossy(overview_message_id(&record).unwrap_or_default()).into_owned();
        Ok(Reply::with(Code::ARTICLE_EXISTS, format!("{number} {id}")))
    }

    /// Overview records `(number, record)` for a single-article selection.
    fn overview_record_of(&self, selection: &Selection) -> Result<(u64, Vec<u8>), Stop> {
        let store = &self.node.store;
        match selection {
            Selection::MessageId(id) => {
                let raw = store.article(id)?.ok_or(Code::NO_SUCH_MSGID)?;
                if !self.may_read_article(&raw) {
                    return Err(self.unreadable(Code::NO_SUCH_MSGID));
                }
                let article = Article::parse(Bytes::from(raw)).map_err(|_| corrupt(id))?;
                Ok((0, overview_record(&article)))
            }
            Selection::Current | Selection::Range(_) => {
                let number = self.current()?;
                let record = store
                    .overview(self.selected_name()?, number)?
                    .ok_or(Code::CURRENT_INVALID)?;
                Ok((number, record))
            }
        }
    }

    /// OVER, XOVER and HDR share this: a range is answered page by page,
    /// one article by a single line.
    fn lines_of(
        &self,
        selection: Selection,
        status: Reply,
        render: Render,
    ) -> Result<Answer, Stop> {
        if let Selection::Range(range) = selection {
            let group = self.selected_name()?.to_string();
            return Ok(Answer::Paged(Pages::new(
                status, group, range, render, true,
            )));
        }
        let (number, record) = self.overview_record_of(&selection)?;
        let line = self.render(&render, number, &record)?;
        Ok(Answer::Now(Reply::lines(
            status.code,
            status.text,
            vec![line],
        )))
    }

    /// OVER and XOVER (RFC 3977 §8.3).
    pub(super) fn over(&self, selection: Selection) -> Result<Answer, Stop> {
        let status = Reply::new(Code::OVERVIEW_FOLLOWS);
        self.lines_of(selection, status, Render::Over)
    }

    /// HDR (RFC 3977 §8.5). Overview fields come from the overview; any
    /// other header is read from the article.
    pub(super) fn hdr(&self, field: &[u8], selection: Selection) -> Result<Answer, Stop> {
        let name = String::from_utf8_lossy(field).to_ascii_lowercase();
        let overview_index = OVERVIEW_FMT.iter().position(|f| {
            f.to_ascii_lowercase().trim_end_matches(':') == name.trim_end_matches(':')
        });
        self.lines_of(
            selection,
            Reply::new(Code::HDR_FOLLOWS),
            Render::Hdr {
                name,
                overview_index,
            },
        )
    }

    /// One line of a LISTGROUP, OVER or HDR answer.
    pub(super) fn render(
        &self,
        render: &Render,
        number: u64,
        record: &[u8],
    ) -> Result<Vec<u8>, Stop> {
        render_line(&self.node.store, render, number, record)
    }
}

/// One line of a LISTGROUP, OVER or HDR answer; an HDR of a header that is
/// not in the overview reads the article.
pub(super) fn render_line(
    store: &Store,
    render: &Render,
    number: u64,
    record: &[u8],
) -> Result<Vec<u8>, Stop> {
    {
        Ok(match render {
            Render::Numbers => number.to_string().into_bytes(),
            Render::Over => {
                let mut line = number.to_string().into_bytes();
                line.push(b'\t');
                line.extend_from_slice(record);
                line
            }
            Render::Hdr {
                name,
                overview_index,
            } => {
                let value = match overview_index {
                    Some(i) => record
                        .split(|&b| b == b'\t')
                        .nth(*i)
                        .unwrap_or_default()
                        .to_vec(),
                    // Metadata items other than :bytes and :lines do not exist.
                    None if name.starts_with(':') => Vec::new(),
                    None => {
                        header_of(store, overview_message_id(record).unwrap_or_default(), name)?
                    }
                };
                let mut line = format!("{number} ").into_bytes();
                line.extend(value.into_iter().map(|b| if b == b'\t' { b' ' } else { b }));
                line
            }
        })
    }
}

/// The unfolded value of one header of a stored article, empty if absent.
fn header_of(store: &Store, message_id: &[u8], field: &str) -> Result<Vec<u8>, Stop> {
    let Some(raw) = store.article(message_id)? else {
        return Ok(Vec::new());
    };
    let article = Article::parse(Bytes::from(raw)).map_err(|_| corrupt(message_id))?;
    Ok(article.header(field).map(unfold).unwrap_or_default())
}

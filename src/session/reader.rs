//! Reading: GROUP, LISTGROUP, ARTICLE/HEAD/BODY/STAT, NEXT, LAST, OVER and
//! HDR (RFC 3977 §6.1, §6.2, §8).

use bytes::Bytes;

use super::list::OVERVIEW_FMT;
use super::{Handled, Selected, Session, Stop};
use crate::ingest::{overview_message_id, overview_record};
use crate::proto::article::{unfold, Article};
use crate::proto::command::{ArticleRef, Part, Selection};
use crate::proto::grammar::Range;
use crate::proto::{Code, Reply};
use crate::store::{StoreError, Towards};

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
    pub(super) fn listgroup(&mut self, group: Option<&[u8]>, range: Option<Range>) -> Handled {
        let name = match group {
            Some(name) => String::from_utf8_lossy(name).into_owned(),
            None => self.selected_name()?.to_string(),
        };
        let status = self.select(&name)?;
        let range = range.unwrap_or(Range { lo: 1, hi: None });
        let numbers = self
            .node
            .store
            .numbers(&name, range.lo, range.hi.unwrap_or(u64::MAX))?;
        let lines = numbers.iter().map(|n| n.to_string().into_bytes()).collect();
        Ok(Reply::lines(Code::GROUP_SELECTED, status.text, lines))
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
                    message_id: id,
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

    /// Overview records `(number, record)` for a selection.
    fn overview_records(&self, selection: Selection) -> Result<Vec<(u64, Vec<u8>)>, Stop> {
        let store = &self.node.store;
        match selection {
            Selection::MessageId(id) => {
                let raw = store.article(&id)?.ok_or(Code::NO_SUCH_MSGID)?;
                let article = Article::parse(Bytes::from(raw)).map_err(|_| corrupt(&id))?;
                Ok(vec![(0, overview_record(&article))])
            }
            Selection::Current => {
                let number = self.current()?;
                let record = store
                    .overview(self.selected_name()?, number)?
                    .ok_or(Code::CURRENT_INVALID)?;
                Ok(vec![(number, record)])
            }
            Selection::Range(range) => {
                let records = store.overview_range(
                    self.selected_name()?,
                    range.lo,
                    range.hi.unwrap_or(u64::MAX),
                )?;
                if records.is_empty() {
                    return Err(Stop::Refuse(Reply::with(
                        Code::NO_SUCH_NUMBER,
                        "No articles in that range",
                    )));
                }
                Ok(records)
            }
        }
    }

    /// OVER and XOVER (RFC 3977 §8.3).
    pub(super) fn over(&self, selection: Selection) -> Handled {
        let lines = self
            .overview_records(selection)?
            .into_iter()
            .map(|(number, record)| {
                let mut line = number.to_string().into_bytes();
                line.push(b'\t');
                line.extend_from_slice(&record);
                line
            })
            .collect();
        Ok(Reply::lines(
            Code::OVERVIEW_FOLLOWS,
            Code::OVERVIEW_FOLLOWS.canonical_text(),
            lines,
        ))
    }

    /// HDR (RFC 3977 §8.5). Overview fields come from the overview; any
    /// other header is read from the article.
    pub(super) fn hdr(&self, field: &[u8], selection: Selection) -> Handled {
        let records = self.overview_records(selection)?;
        let field = String::from_utf8_lossy(field).to_ascii_lowercase();
        let overview_index = OVERVIEW_FMT.iter().position(|f| {
            f.to_ascii_lowercase().trim_end_matches(':') == field.trim_end_matches(':')
        });
        let mut lines = Vec::with_capacity(records.len());
        for (number, record) in records {
            let value = match overview_index {
                Some(i) => record
                    .split(|&b| b == b'\t')
                    .nth(i)
                    .unwrap_or_default()
                    .to_vec(),
                // Metadata items other than :bytes and :lines do not exist.
                None if field.starts_with(':') => Vec::new(),
                None => self.header_of(overview_message_id(&record).unwrap_or_default(), &field)?,
            };
            let mut line = format!("{number} ").into_bytes();
            line.extend(value.into_iter().map(|b| if b == b'\t' { b' ' } else { b }));
            lines.push(line);
        }
        Ok(Reply::lines(
            Code::HDR_FOLLOWS,
            Code::HDR_FOLLOWS.canonical_text(),
            lines,
        ))
    }

    /// The unfolded value of one header of a stored article, empty if absent.
    fn header_of(&self, message_id: &[u8], field: &str) -> Result<Vec<u8>, Stop> {
        let Some(raw) = self.node.store.article(message_id)? else {
            return Ok(Vec::new());
        };
        let article = Article::parse(Bytes::from(raw)).map_err(|_| corrupt(message_id))?;
        Ok(article.header(field).map(unfold).unwrap_or_default())
    }
}

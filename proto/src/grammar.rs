//! Argument grammars shared by commands and article checks, as nom parsers
//! over bytes. Each parser quotes the ABNF rule it implements.

use chrono::{DateTime, Datelike, Local, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};
use nom::bytes::complete::{tag, tag_no_case, take_while1, take_while_m_n};
use nom::character::complete::digit1;
use nom::combinator::{all_consuming, map_res, opt};
use nom::sequence::preceded;
use nom::{IResult, Parser};

/// Longest message-id in octets, brackets included (RFC 3977 §3.6).
pub const MAX_MESSAGE_ID: usize = 250;

/// `message-id = "<" 1*248A-NOTGT ">"`, `A-NOTGT = %x21-3D / %x3F-7E`
/// (RFC 3977 §3.6). The whole input must be the message-id.
pub fn message_id(input: &[u8]) -> IResult<&[u8], &[u8]> {
    let start = input;
    let (rest, _) = all_consuming((
        tag(&b"<"[..]),
        take_while_m_n(1, MAX_MESSAGE_ID - 2, |b| {
            (0x21..=0x7e).contains(&b) && b != b'>'
        }),
        tag(&b">"[..]),
    ))
    .parse(input)?;
    Ok((rest, start))
}

/// True when `id` is a message-id as RFC 3977 §3.6 defines it.
pub fn is_message_id(id: &[u8]) -> bool {
    message_id(id).is_ok()
}

/// RFC 5536 §3.1.3 is stricter than RFC 3977 for articles:
/// `msg-id-core = id-left "@" id-right`, neither side empty. We check the
/// shape (one "@", both sides non-empty, no "<" or ">" inside) rather than the
/// full dot-atom grammar, which real feeds do not always follow.
pub fn is_article_message_id(id: &[u8]) -> bool {
    if !is_message_id(id) {
        return false;
    }
    let core = &id[1..id.len() - 1];
    let Some(at) = core.iter().rposition(|&b| b == b'@') else {
        return false;
    };
    at > 0 && at + 1 < core.len() && !core.contains(&b'<')
}

/// The most digits an article number has: `article-number = 1*16DIGIT`
/// (RFC 3977 §9.8); a longer one is a syntax error, not an unknown number.
pub const MAX_NUMBER_DIGITS: usize = 16;

/// `article-number = 1*16DIGIT` (RFC 3977 §9.8).
fn number(input: &[u8]) -> IResult<&[u8], u64> {
    map_res(digit1, |d: &[u8]| {
        if d.len() > MAX_NUMBER_DIGITS {
            return Err(());
        }
        std::str::from_utf8(d)
            .map_err(|_| ())
            .and_then(|s| s.parse::<u64>().map_err(|_| ()))
    })
    .parse(input)
}

/// An article-number range: `range = article-number ["-" [article-number]]`
/// (RFC 3977 §6.1.2). `hi: None` means "to the end".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Range {
    pub lo: u64,
    pub hi: Option<u64>,
}

impl Range {
    pub fn contains(&self, n: u64) -> bool {
        n >= self.lo && self.hi.is_none_or(|hi| n <= hi)
    }
}

pub fn range(input: &[u8]) -> IResult<&[u8], Range> {
    let (rest, (lo, dash)) =
        all_consuming((number, opt(preceded(tag(&b"-"[..]), opt(number))))).parse(input)?;
    let hi = match dash {
        None => Some(lo),
        Some(None) => None,
        Some(Some(hi)) => Some(hi),
    };
    Ok((rest, Range { lo, hi }))
}

/// Parses the `date time ["GMT"]` arguments of NEWGROUPS and NEWNEWS
/// (RFC 3977 §7.3.2): `date = date2y / date4y` (yymmdd or yyyymmdd),
/// `time = hhmmss`. A two-digit year is the one closest to `now`'s century;
/// without "GMT" the time is the server's local time.
pub fn parse_since(
    date: &[u8],
    time: &[u8],
    gmt: Option<&[u8]>,
    now: DateTime<Utc>,
) -> Result<DateTime<Utc>, String> {
    let gmt = match gmt {
        None => false,
        Some(word) if word.eq_ignore_ascii_case(b"GMT") => true,
        Some(_) => return Err("the third argument, if any, must be GMT".into()),
    };
    let all_digits = |s: &[u8]| s.iter().all(u8::is_ascii_digit);
    if !all_digits(date) || !(date.len() == 6 || date.len() == 8) {
        return Err("date must be yyyymmdd or yymmdd".into());
    }
    if !all_digits(time) || time.len() != 6 {
        return Err("time must be hhmmss".into());
    }
    let digits = |s: &[u8]| -> u32 { s.iter().fold(0, |acc, d| acc * 10 + u32::from(d - b'0')) };
    let (year, md) = if date.len() == 8 {
        (digits(&date[..4]) as i32, &date[4..])
    } else {
        let yy = digits(&date[..2]) as i32;
        let century = now.year() / 100 * 100;
        let candidates = [century - 100 + yy, century + yy, century + 100 + yy];
        let closest = candidates
            .into_iter()
            .min_by_key(|y| (y - now.year()).abs())
            .unwrap_or(century + yy);
        (closest, &date[2..])
    };
    let day = NaiveDate::from_ymd_opt(year, digits(&md[..2]), digits(&md[2..]))
        .ok_or("date is not a calendar day")?;
    let clock =
        NaiveTime::from_hms_opt(digits(&time[..2]), digits(&time[2..4]), digits(&time[4..]))
            .ok_or("time is not a time of day")?;
    let naive = NaiveDateTime::new(day, clock);
    if gmt {
        Ok(Utc.from_utc_datetime(&naive))
    } else {
        Local
            .from_local_datetime(&naive)
            .earliest()
            .map(|t| t.with_timezone(&Utc))
            .ok_or_else(|| "time does not exist in the server's time zone".into())
    }
}

/// A Path identity (a node's name): a host name or similar token without
/// the Path delimiter (RFC 5537 §3.1.3).
pub fn is_path_identity(name: &[u8]) -> bool {
    !name.is_empty()
        && name.len() <= 255
        && name
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || b"-._".contains(&b))
}

/// `newsgroup-name = component *("." component)` where a component is
/// letters, digits, "+", "-" and "_" (RFC 5536 §3.1.4). We also allow other
/// printable ASCII except the wildmat specials, as RFC 3977 §4.1 does, so
/// that existing hierarchies with odd names still work.
pub fn is_newsgroup_name(name: &[u8]) -> bool {
    fn component(input: &[u8]) -> IResult<&[u8], &[u8]> {
        take_while1(|b: u8| (0x21..=0x7e).contains(&b) && !b"*?[]\\!,.:".contains(&b))(input)
    }
    let mut rest = name;
    loop {
        let Ok((after, _)) = component(rest) else {
            return false;
        };
        if after.is_empty() {
            return true;
        }
        match tag::<_, _, nom::error::Error<&[u8]>>(&b"."[..])(after) {
            Ok((after_dot, _)) => rest = after_dot,
            Err(_) => return false,
        }
    }
}

/// Case-insensitive keyword match, for LIST and MODE sub-commands.
pub fn keyword<'a>(word: &'a [u8], expected: &'static str) -> bool {
    all_consuming(tag_no_case::<_, _, nom::error::Error<&'a [u8]>>(
        expected.as_bytes(),
    ))
    .parse(word)
    .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn article_numbers_have_at_most_sixteen_digits() {
        assert_eq!(
            range(b"9999999999999999").map(|(_, r)| r.lo).ok(),
            Some(9_999_999_999_999_999)
        );
        assert_eq!(range(b"0000000000000001").map(|(_, r)| r.lo).ok(), Some(1));
        assert!(range(b"10000000000000000").is_err());
        assert!(range(b"1-10000000000000000").is_err());
    }

    #[test]
    fn message_ids() {
        let cases: &[(&[u8], bool)] = &[
            (b"<a@b>", true),
            (b"<a>", true),
            (b"<>", false),
            (b"a@b", false),
            (b"<a@b", false),
            (b"<a b@c>", false),
            (b"<a>b>", false),
            (b"<a\x00b>", false),
            (b"<\xc3\xa9@b>", false),
        ];
        for (id, ok) in cases {
            assert_eq!(is_message_id(id), *ok, "{:?}", String::from_utf8_lossy(id));
        }
        let long = format!("<{}>", "a".repeat(248));
        assert!(is_message_id(long.as_bytes()));
        let too_long = format!("<{}>", "a".repeat(249));
        assert!(!is_message_id(too_long.as_bytes()));
    }

    #[test]
    fn article_message_ids_need_an_at_sign() {
        assert!(is_article_message_id(b"<x.1@host>"));
        assert!(!is_article_message_id(b"<x.1>"));
        assert!(!is_article_message_id(b"<@host>"));
        assert!(!is_article_message_id(b"<x@>"));
    }

    #[test]
    fn ranges() {
        assert_eq!(range(b"5").map(|r| r.1), Ok(Range { lo: 5, hi: Some(5) }));
        assert_eq!(range(b"5-").map(|r| r.1), Ok(Range { lo: 5, hi: None }));
        assert_eq!(range(b"5-9").map(|r| r.1), Ok(Range { lo: 5, hi: Some(9) }));
        assert!(range(b"-9").is_err());
        assert!(range(b"5-9x").is_err());
        assert!(range(b"99999999999999999999999").is_err());
        assert!(Range { lo: 3, hi: None }.contains(1 << 40));
        assert!(!Range { lo: 3, hi: Some(4) }.contains(5));
    }

    #[test]
    fn since_dates() {
        let now = Utc.with_ymd_and_hms(2026, 11, 22, 0, 0, 0).unwrap();
        let t = parse_since(b"20261121", b"123456", Some(b"GMT"), now).unwrap();
        assert_eq!(t, Utc.with_ymd_and_hms(2026, 11, 21, 12, 34, 56).unwrap());
        let t = parse_since(b"991231", b"000000", Some(b"gmt"), now).unwrap();
        // 1999 is 27 years from 2026, 2099 is 73: the closer one wins.
        assert_eq!(t.year(), 1999);
    }

    #[test]
    fn since_rejects_bad_input() {
        let now = Utc::now();
        assert!(parse_since(b"2026112", b"000000", None, now).is_err());
        assert!(parse_since(b"20261332", b"000000", None, now).is_err());
        assert!(parse_since(b"20261122", b"250000", None, now).is_err());
        assert!(parse_since(b"20261122", b"000000", Some(b"UTC"), now).is_err());
    }

    #[test]
    fn newsgroup_names() {
        assert!(is_newsgroup_name(b"comp.lang.rust"));
        assert!(is_newsgroup_name(b"b"));
        assert!(!is_newsgroup_name(b""));
        assert!(!is_newsgroup_name(b"a..b"));
        assert!(!is_newsgroup_name(b".a"));
        assert!(!is_newsgroup_name(b"a."));
        assert!(!is_newsgroup_name(b"a b"));
        assert!(!is_newsgroup_name(b"a,b"));
        assert!(!is_newsgroup_name(b"a*"));
    }
}

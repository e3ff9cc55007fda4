//! UTC calendar arithmetic for the dates the suite writes (RFC 5322 `Date:`
//! headers, NEWNEWS/NEWGROUPS arguments) and reads (DATE replies). Done by
//! hand with the civil-from-days algorithm because the crate is std-only.

use std::time::{SystemTime, UNIX_EPOCH};

const SECS_PER_DAY: i64 = 86_400;

/// A UTC calendar time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Civil {
    pub year: i64,
    pub month: u32,
    pub day: u32,
    pub hour: u32,
    pub minute: u32,
    pub second: u32,
    /// 0 = Sunday.
    pub weekday: u32,
}

/// Seconds since the Unix epoch, now. A clock before 1970 reads as 0.
pub fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian
/// (Howard Hinnant's `civil_from_days`).
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097); // [0, 146096]
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365; // [0, 399]
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // [0, 365]
    let mp = (5 * doy + 2) / 153; // [0, 11], March-based
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// (year, month, day) to days since 1970-01-01; inverse of `civil_from_days`.
pub fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(month);
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

pub fn civil(secs: i64) -> Civil {
    let days = secs.div_euclid(SECS_PER_DAY);
    let rem = secs.rem_euclid(SECS_PER_DAY) as u32;
    let (year, month, day) = civil_from_days(days);
    Civil {
        year,
        month,
        day,
        hour: rem / 3600,
        minute: rem / 60 % 60,
        second: rem % 60,
        // 1970-01-01 was a Thursday.
        weekday: (days + 4).rem_euclid(7) as u32,
    }
}

/// RFC 5322 §3.3 date-time, always in UTC: `Sun, 22 Nov 2026 04:20:54 +0000`.
pub fn rfc5322(secs: i64) -> String {
    const DAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let c = civil(secs);
    format!(
        "{}, {:02} {} {:04} {:02}:{:02}:{:02} +0000",
        DAYS[c.weekday as usize],
        c.day,
        MONTHS[c.month as usize - 1],
        c.year,
        c.hour,
        c.minute,
        c.second
    )
}

/// The `date time` arguments of NEWNEWS and NEWGROUPS (RFC 3977 §7.3):
/// `yyyymmdd` and `hhmmss`, to be followed by `GMT`.
pub fn nntp_date_time(secs: i64) -> (String, String) {
    let c = civil(secs);
    (
        format!("{:04}{:02}{:02}", c.year, c.month, c.day),
        format!("{:02}{:02}{:02}", c.hour, c.minute, c.second),
    )
}

/// Parses the `yyyymmddhhmmss` argument of a 111 reply (RFC 3977 §7.1) into
/// seconds since the epoch. `None` unless it is exactly 14 digits naming a
/// real UTC time (a leap second's :60 is allowed).
pub fn parse_yyyymmddhhmmss(s: &str) -> Option<i64> {
    if s.len() != 14 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let num = |r: std::ops::Range<usize>| s[r].parse::<u32>().ok();
    let (year, month, day) = (num(0..4)?, num(4..6)?, num(6..8)?);
    let (hour, minute, second) = (num(8..10)?, num(10..12)?, num(12..14)?);
    let year = i64::from(year);
    if !(1..=12).contains(&month)
        || day == 0
        || day > days_in_month(year, month)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    Some(
        days_from_civil(year, month, day) * SECS_PER_DAY
            + i64::from(hour * 3600 + minute * 60 + second),
    )
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Known answers, checked against an independent implementation.
    const KNOWN: &[(i64, &str, &str, &str)] = &[
        (0, "Thu, 01 Jan 1970 00:00:00 +0000", "19700101", "000000"),
        (
            1_795_321_254,
            "Sun, 22 Nov 2026 04:20:54 +0000",
            "20261122",
            "042054",
        ),
        (
            951_868_799,
            "Tue, 29 Feb 2000 23:59:59 +0000",
            "20000229",
            "235959",
        ),
        (-1, "Wed, 31 Dec 1969 23:59:59 +0000", "19691231", "235959"),
        (
            4_107_542_400,
            "Mon, 01 Mar 2100 00:00:00 +0000",
            "21000301",
            "000000",
        ),
    ];

    #[test]
    fn formats_known_dates() {
        for &(secs, rfc, date, time) in KNOWN {
            assert_eq!(rfc5322(secs), rfc, "secs {secs}");
            assert_eq!(nntp_date_time(secs), (date.to_string(), time.to_string()));
        }
    }

    #[test]
    fn parses_what_it_formats() {
        for &(secs, _, date, time) in KNOWN {
            assert_eq!(parse_yyyymmddhhmmss(&format!("{date}{time}")), Some(secs));
        }
    }

    #[test]
    fn days_round_trip() {
        for days in (-800_000..800_000).step_by(997) {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
    }

    #[test]
    fn rejects_malformed_dates() {
        for bad in [
            "",
            "2026112204205",
            "202611220420540",
            "2026-1122042054",
            "20261322042054",
            "20261100042054",
            "20260229000000",
            "21000229000000",
            "20261122242054",
            "20261122046054",
            "20261122042061",
        ] {
            assert_eq!(parse_yyyymmddhhmmss(bad), None, "{bad:?}");
        }
        assert!(parse_yyyymmddhhmmss("20240229000000").is_some());
        assert!(parse_yyyymmddhhmmss("20261231235960").is_some());
    }
}

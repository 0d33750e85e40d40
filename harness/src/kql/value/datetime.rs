//! The text forms `datetime(...)` literals and `todatetime()` accept: exactly the four format
//! families the Kusto "datetime data type" page lists under "Supported formats" (ISO 8601,
//! RFC 822, RFC 850 and Sortable), <https://learn.microsoft.com/kusto/query/scalar-data-types/datetime>.
//!
//! The page's specifiers, as its examples use them: `%Y` four-digit year, `%m`/`%d` two-digit
//! month and day, `%n`/`%e` month and day of one or two digits, `%b` month abbreviation
//! (`Nov`), `%r` two-digit year, `%w` weekday name (`Sat` in the RFC 822 rows, `Saturday` in the
//! RFC 850 rows), `%H`/`%M` two-digit hour and minute, `%s` seconds with an optional fraction
//! (`03.123456`), `%z` an ISO 8601 zone designator (`Z`, `+hh:mm`, `+hhmm`, `+hh`) and `%Z` a
//! zone name (`GMT`). Details the page leaves to the standards it links follow them: a
//! two-digit year 00–49 is 20xx and 50–99 is 19xx (RFC 2822 section 4.3, which obsoletes RFC
//! 822's date syntax), zone names are RFC 822's (`UT`, `GMT`, `Z`, `EST`/`EDT`, `CST`/`CDT`,
//! `MST`/`MDT`, `PST`/`PDT`, `+hhmm`; RFC 822's one-letter military zones are left out, as RFC
//! 1123 section 5.2.14 notes their signs were specified backwards), and names of months, weekdays
//! and zones are case-insensitive (literal strings in the RFCs' grammars are). A weekday is read
//! but not checked against the date.
//!
//! Two forms other pages' examples use parse too: a date of one- or two-digit month and day
//! without a time (`datetime(1970-5-12)`, the dayofweek page), and the US form `%n/%e/%Y` with
//! an optional ` %H:%M[:%s]` (`02/17/2016 08:40:01`, which the parse page's `date` columns read).
//! Anything else (`12-02-2022`, a time of day alone, `AM`/`PM`) does not parse.

use chrono::NaiveDate;

use super::{TICKS_PER_HOUR, TICKS_PER_MINUTE, TICKS_PER_SECOND, ticks_from_chrono};

/// Ticks since the Unix epoch for `text` in one of the documented formats (surrounding
/// whitespace ignored), or `None`.
pub fn parse_datetime(text: &str) -> Option<i64> {
    let text = text.trim();
    numeric_date(text)
        .or_else(|| rfc_date(text))
        .or_else(|| us_date(text))
}

/// `%n/%e/%Y` or `%n-%e-%Y` (one separator throughout), then optionally a space and
/// `%H:%M[:%s]`: the parse page's `02/17/2016 08:40:01`, and the todatetime page's
/// `todatetime('12-02-2022') == datetime('12-02-2022')`, which it shows is `true`, so the text
/// parses. Neither page says which number is the month; both read month first here, as .NET's
/// invariant culture, which Kusto runs on, reads `12/02/2022`.
fn us_date(text: &str) -> Option<i64> {
    let mut s = Scan { rest: text };
    let (month, _) = s.digits(1, 2)?;
    let separator = ['/', '-'].into_iter().find(|&c| s.eat(c))?;
    let (day, _) = s.digits(1, 2)?;
    if !s.eat(separator) {
        return None;
    }
    let (year, _) = s.digits(4, 4)?;
    let mut parts = Parts::date(year, month, day);
    if s.eat(' ') {
        clock(&mut s, &mut parts)?;
    }
    if s.at_end() { parts.ticks() } else { None }
}

/// The text inside `datetime(...)`: the page's own example `datetime('12-02-2022')` (on the
/// todatetime page) shows the value may be written as a string literal, so one pair of matching
/// quotes around it is removed.
pub fn literal_body(raw: &str) -> &str {
    let raw = raw.trim();
    for quote in ['"', '\''] {
        if let Some(inner) = raw.strip_prefix(quote).and_then(|r| r.strip_suffix(quote)) {
            return inner;
        }
    }
    raw
}

/// A cursor over the text being read.
struct Scan<'a> {
    rest: &'a str,
}

impl<'a> Scan<'a> {
    fn at_end(&self) -> bool {
        self.rest.is_empty()
    }

    /// Consumes `c` when it comes next.
    fn eat(&mut self, c: char) -> bool {
        match self.rest.strip_prefix(c) {
            Some(rest) => {
                self.rest = rest;
                true
            }
            None => false,
        }
    }

    /// Between `min` and `max` ASCII digits, as a number and how many digits were read.
    fn digits(&mut self, min: usize, max: usize) -> Option<(i64, usize)> {
        let n = self
            .rest
            .bytes()
            .take(max)
            .take_while(u8::is_ascii_digit)
            .count();
        if n < min {
            return None;
        }
        let (head, rest) = self.rest.split_at(n);
        self.rest = rest;
        Some((head.parse().ok()?, n))
    }

    /// A run of ASCII letters.
    fn word(&mut self) -> &'a str {
        let n = self
            .rest
            .bytes()
            .take_while(u8::is_ascii_alphabetic)
            .count();
        let (head, rest) = self.rest.split_at(n);
        self.rest = rest;
        head
    }
}

/// A calendar date and time of day, and the zone's offset from UTC in minutes.
struct Parts {
    year: i64,
    month: i64,
    day: i64,
    hour: i64,
    minute: i64,
    second: i64,
    /// The fraction of a second in ticks (digits past the seventh are dropped).
    fraction: i64,
    offset_minutes: i64,
}

impl Parts {
    fn date(year: i64, month: i64, day: i64) -> Self {
        Parts {
            year,
            month,
            day,
            hour: 0,
            minute: 0,
            second: 0,
            fraction: 0,
            offset_minutes: 0,
        }
    }

    /// Ticks since the Unix epoch, when the date exists (years 1–9999) and the time is valid.
    fn ticks(&self) -> Option<i64> {
        if !(1..=9999).contains(&self.year)
            || self.hour > 23
            || self.minute > 59
            || self.second > 59
        {
            return None;
        }
        let date = NaiveDate::from_ymd_opt(
            i32::try_from(self.year).ok()?,
            u32::try_from(self.month).ok()?,
            u32::try_from(self.day).ok()?,
        )?;
        let midnight = ticks_from_chrono(date.and_hms_opt(0, 0, 0)?.and_utc());
        Some(
            midnight
                + self.hour * TICKS_PER_HOUR
                + (self.minute - self.offset_minutes) * TICKS_PER_MINUTE
                + self.second * TICKS_PER_SECOND
                + self.fraction,
        )
    }
}

/// ISO 8601 (`%Y-%m-%d`, then optionally `T` or a space, `%H:%M`, `:%s` and, after seconds,
/// `%z`) and Sortable (`%Y-%n-%e`, `T` or a space, `%H:%M`, optionally `:%s`, optionally a space
/// and `%Z`).
fn numeric_date(text: &str) -> Option<i64> {
    let mut s = Scan { rest: text };
    let (year, _) = s.digits(4, 4)?;
    if !s.eat('-') {
        return None;
    }
    let (month, month_digits) = s.digits(1, 2)?;
    if !s.eat('-') {
        return None;
    }
    let (day, day_digits) = s.digits(1, 2)?;
    // `%m` and `%d` (ISO 8601) are two digits; `%n` and `%e` (Sortable) one or two.
    let iso = month_digits == 2 && day_digits == 2;
    let mut parts = Parts::date(year, month, day);
    if s.at_end() {
        // `%Y-%m-%d`, and `%Y-%n-%e` as the dayofweek page writes `datetime(1970-5-12)`.
        return parts.ticks();
    }
    if !(s.eat('T') || s.eat(' ')) {
        return None;
    }
    let seconds = clock(&mut s, &mut parts)?;
    if s.at_end() {
        return parts.ticks();
    }
    if s.eat(' ') {
        // `%Z` follows a space in the Sortable rows only.
        parts.offset_minutes = zone_name(&mut s)?;
    } else if iso && seconds {
        // `%z` follows the seconds directly in the ISO 8601 rows only.
        parts.offset_minutes = iso_zone(&mut s)?;
    } else {
        return None;
    }
    if s.at_end() { parts.ticks() } else { None }
}

/// RFC 822 (`[%w, ]%e %b %r %H:%M[:%s][ %Z]`) and RFC 850 (`[%w, ]%e-%b-%r %H:%M[:%s][ %Z]`).
fn rfc_date(text: &str) -> Option<i64> {
    let mut s = Scan { rest: text };
    if s.rest.starts_with(|c: char| c.is_ascii_alphabetic()) {
        weekday(s.word())?;
        if !(s.eat(',') && s.eat(' ')) {
            return None;
        }
    }
    let (day, _) = s.digits(1, 2)?;
    // RFC 822 separates day, month and year with spaces, RFC 850 with hyphens.
    let separator = if s.eat(' ') {
        ' '
    } else if s.eat('-') {
        '-'
    } else {
        return None;
    };
    let month = month(s.word())?;
    if !s.eat(separator) {
        return None;
    }
    let (yy, _) = s.digits(2, 2)?;
    // RFC 2822 section 4.3: 00–49 are 2000–2049, 50–99 are 1950–1999.
    let year = if yy < 50 { 2000 + yy } else { 1900 + yy };
    if !s.eat(' ') {
        return None;
    }
    let mut parts = Parts::date(year, month, day);
    clock(&mut s, &mut parts)?;
    if s.eat(' ') {
        parts.offset_minutes = zone_name(&mut s)?;
    }
    if s.at_end() { parts.ticks() } else { None }
}

/// `%H:%M` and an optional `:%s`; whether seconds were given.
fn clock(s: &mut Scan<'_>, parts: &mut Parts) -> Option<bool> {
    parts.hour = s.digits(2, 2)?.0;
    if !s.eat(':') {
        return None;
    }
    parts.minute = s.digits(2, 2)?.0;
    if !s.eat(':') {
        return Some(false);
    }
    parts.second = s.digits(2, 2)?.0;
    if s.eat('.') {
        let (digits, n) = {
            let n = s.rest.bytes().take_while(u8::is_ascii_digit).count();
            if n == 0 {
                return None;
            }
            let (head, rest) = s.rest.split_at(n);
            s.rest = rest;
            (head, n)
        };
        // Ticks are 100 ns: the first seven digits, padded.
        let kept = &digits[..n.min(7)];
        let padded = format!("{kept:0<7}");
        parts.fraction = padded.parse().ok()?;
    }
    Some(true)
}

/// `%z`: `Z`, `+hh:mm`, `+hhmm` or `+hh` (or `-`), as minutes east of UTC.
fn iso_zone(s: &mut Scan<'_>) -> Option<i64> {
    if s.eat('Z') || s.eat('z') {
        return Some(0);
    }
    let sign = if s.eat('+') {
        1
    } else if s.eat('-') {
        -1
    } else {
        return None;
    };
    let (hours, _) = s.digits(2, 2)?;
    let minutes = if s.eat(':') {
        s.digits(2, 2)?.0
    } else {
        s.digits(2, 2).map_or(0, |(m, _)| m)
    };
    (hours <= 23 && minutes <= 59).then_some(sign * (hours * 60 + minutes))
}

/// `%Z`: an RFC 822 zone name or `+hhmm`/`-hhmm`, as minutes east of UTC.
fn zone_name(s: &mut Scan<'_>) -> Option<i64> {
    if s.rest.starts_with(['+', '-']) {
        let sign = if s.eat('+') {
            1
        } else {
            s.eat('-');
            -1
        };
        let (hhmm, _) = s.digits(4, 4)?;
        let (hours, minutes) = (hhmm / 100, hhmm % 100);
        return (hours <= 23 && minutes <= 59).then_some(sign * (hours * 60 + minutes));
    }
    let hours = match s.word().to_ascii_uppercase().as_str() {
        "UT" | "GMT" | "Z" => 0,
        "EST" => -5,
        "EDT" => -4,
        "CST" => -6,
        "CDT" => -5,
        "MST" => -7,
        "MDT" => -6,
        "PST" => -8,
        "PDT" => -7,
        _ => return None,
    };
    Some(hours * 60)
}

/// `%b`: `Jan` … `Dec`, as 1 … 12.
fn month(word: &str) -> Option<i64> {
    const MONTHS: [&str; 12] = [
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ];
    let word = word.to_ascii_lowercase();
    MONTHS.iter().position(|m| *m == word).map(|i| i as i64 + 1)
}

/// `%w`: a weekday's three-letter or full English name.
fn weekday(word: &str) -> Option<()> {
    const DAYS: [&str; 7] = [
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
        "sunday",
    ];
    let word = word.to_ascii_lowercase();
    DAYS.iter()
        .any(|d| *d == word || d[..3] == word)
        .then_some(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kql::value::format_datetime;

    fn iso(text: &str) -> Option<String> {
        parse_datetime(text).map(format_datetime)
    }

    /// Every example of the page's "Supported formats" tables parses to the time it shows.
    #[test]
    fn every_documented_example_parses() {
        let cases = [
            // ISO 8601
            ("2014-05-25T08:20:03.123456Z", "2014-05-25T08:20:03.123456Z"),
            ("2014-05-25T08:20:03.123456", "2014-05-25T08:20:03.123456Z"),
            ("2014-05-25T08:20", "2014-05-25T08:20:00Z"),
            ("2014-11-08 15:55:55.123456Z", "2014-11-08T15:55:55.123456Z"),
            ("2014-11-08 15:55:55", "2014-11-08T15:55:55Z"),
            ("2014-11-08 15:55", "2014-11-08T15:55:00Z"),
            ("2014-11-08", "2014-11-08T00:00:00Z"),
            // RFC 822
            ("Sat, 8 Nov 14 15:05:02 GMT", "2014-11-08T15:05:02Z"),
            ("Sat, 8 Nov 14 15:05:02", "2014-11-08T15:05:02Z"),
            ("Sat, 8 Nov 14 15:05", "2014-11-08T15:05:00Z"),
            ("Sat, 8 Nov 14 15:05 GMT", "2014-11-08T15:05:00Z"),
            ("8 Nov 14 15:05:02 GMT", "2014-11-08T15:05:02Z"),
            ("8 Nov 14 15:05:02", "2014-11-08T15:05:02Z"),
            ("8 Nov 14 15:05", "2014-11-08T15:05:00Z"),
            ("8 Nov 14 15:05 GMT", "2014-11-08T15:05:00Z"),
            // RFC 850
            ("Saturday, 08-Nov-14 15:05:02 GMT", "2014-11-08T15:05:02Z"),
            ("Saturday, 08-Nov-14 15:05:02", "2014-11-08T15:05:02Z"),
            ("Saturday, 08-Nov-14 15:05 GMT", "2014-11-08T15:05:00Z"),
            ("Saturday, 08-Nov-14 15:05", "2014-11-08T15:05:00Z"),
            ("08-Nov-14 15:05:02 GMT", "2014-11-08T15:05:02Z"),
            ("08-Nov-14 15:05:02", "2014-11-08T15:05:02Z"),
            ("08-Nov-14 15:05 GMT", "2014-11-08T15:05:00Z"),
            ("08-Nov-14 15:05", "2014-11-08T15:05:00Z"),
            // Sortable
            ("2014-11-08 15:05:25", "2014-11-08T15:05:25Z"),
            ("2014-11-08 15:05:25 GMT", "2014-11-08T15:05:25Z"),
            ("2014-11-08 15:05", "2014-11-08T15:05:00Z"),
            ("2014-11-08 15:05 GMT", "2014-11-08T15:05:00Z"),
            ("2014-11-08T15:05:25", "2014-11-08T15:05:25Z"),
            ("2014-11-08T15:05:25 GMT", "2014-11-08T15:05:25Z"),
            ("2014-11-08T15:05", "2014-11-08T15:05:00Z"),
            ("2014-11-08T15:05 GMT", "2014-11-08T15:05:00Z"),
        ];
        for (text, want) in cases {
            assert_eq!(iso(text).as_deref(), Some(want), "{text}");
        }
    }

    #[test]
    fn zones_offsets_and_two_digit_years_follow_the_linked_standards() {
        assert_eq!(
            iso("2014-05-25T08:20:03+02:00").as_deref(),
            Some("2014-05-25T06:20:03Z")
        );
        assert_eq!(
            iso("2014-05-25T08:20:03-0130").as_deref(),
            Some("2014-05-25T09:50:03Z")
        );
        assert_eq!(
            iso("8 Nov 14 15:05 EST").as_deref(),
            Some("2014-11-08T20:05:00Z")
        );
        assert_eq!(
            iso("8 nov 14 15:05 +0100").as_deref(),
            Some("2014-11-08T14:05:00Z")
        );
        assert_eq!(
            iso("1 Jan 50 00:00").as_deref(),
            Some("1950-01-01T00:00:00Z")
        );
        assert_eq!(
            iso("2014-1-8 15:05").as_deref(),
            Some("2014-01-08T15:05:00Z")
        );
        assert_eq!(
            iso("2024-05-01T10:00:00.123456789Z").as_deref(),
            Some("2024-05-01T10:00:00.1234567Z")
        );
    }

    /// Forms other pages' examples read: the dayofweek page's `datetime(1970-5-12)`, the parse
    /// page's `date` columns over `02/17/2016 08:40:01`, and the todatetime page's
    /// `todatetime('12-02-2022')`.
    #[test]
    fn forms_other_pages_examples_read_parse() {
        assert_eq!(iso("1970-5-12").as_deref(), Some("1970-05-12T00:00:00Z"));
        assert_eq!(iso("2014-1-8").as_deref(), Some("2014-01-08T00:00:00Z"));
        assert_eq!(
            iso("02/17/2016 08:40:01").as_deref(),
            Some("2016-02-17T08:40:01Z")
        );
        assert_eq!(iso("2/7/2016").as_deref(), Some("2016-02-07T00:00:00Z"));
        assert_eq!(iso("02/30/2016"), None);
        assert_eq!(iso("12-02-2022").as_deref(), Some("2022-12-02T00:00:00Z"));
        assert_eq!(
            iso("12-2-2022 10:00").as_deref(),
            Some("2022-12-02T10:00:00Z")
        );
        assert_eq!(iso("12-02/2022"), None);
        assert_eq!(iso("13-02-2022"), None);
    }

    #[test]
    fn forms_the_page_does_not_list_do_not_parse() {
        for text in [
            "01/16/2022 00:00:00 PM",
            "01/16/22",
            "12-02-22",
            "8:00:00 AM",
            "17 NOV 2020",
            "2014/11/08",
            "20141108",
            "2014-11-08T15:05Z",
            "2014-11-08 15:05:25 XYZ",
            "2014-02-30",
            "2014-11-08 24:00",
            "0000-01-01",
            "Sat 8 Nov 14 15:05",
            "",
        ] {
            assert_eq!(parse_datetime(text), None, "{text}");
        }
    }
}

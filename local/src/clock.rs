//! The one home of dates and times in the workspace, on the `time` crate: the clock, epoch
//! conversions, and the formats AWS uses.
//!
//! Every instant is a count of milliseconds (or, where AWS counts seconds, seconds) since the
//! Unix epoch, in UTC. The formats:
//!
//! | Function | Example | Where AWS uses it |
//! |---|---|---|
//! | [`rfc3339_millis`] | `2026-12-07T17:12:32.123Z` | Step Functions' context object, CloudWatch Logs |
//! | [`rfc3339_seconds`] | `2026-12-07T17:12:32Z` | EventBridge's `time`, the SES outbox |
//! | [`request_time`] | `07/Dec/2026:17:12:32 +0000` | API Gateway's `requestContext.requestTime` |
//! | [`rfc2822`] | `Mon, 07 Dec 2026 17:12:32 +0000` | a mail's `Date` header (RFC 5322) |
//! | [`utc_date_path`] | `2026/12/07` | Lambda's log stream names |
//! | [`write_utc`] | `2026-12-07 17:12:32.123` | `portico logs` output |
//!
//! Parsing: [`parse_rfc3339`] reads RFC 3339 as Step Functions does (a `T`, a zone, dates
//! that exist, offsets in range); [`parse_iso8601`] also takes the shorter forms people type
//! (`2026-12-07`, `2026-12-07 17:12`, no zone = UTC, `+0100`).

use std::fmt::Write as _;
use std::time::{SystemTime, UNIX_EPOCH};

use ::time::format_description::BorrowedFormatItem;
use ::time::format_description::well_known::Rfc3339;
use ::time::macros::format_description;
use ::time::{Date, Month, OffsetDateTime, Time};

/// Where a component reads the time (a trait, so tests move time themselves).
pub trait Clock: Send + Sync + 'static {
    /// Milliseconds since the Unix epoch.
    fn now_ms(&self) -> i64;
}

/// The system clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        now_ms()
    }
}

/// Milliseconds since the Unix epoch, now.
pub fn now_ms() -> i64 {
    unix_ms(SystemTime::now())
}

/// Milliseconds since the Unix epoch of `time` (negative before 1970, saturating).
pub fn unix_ms(time: SystemTime) -> i64 {
    match time.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_millis()).unwrap_or(i64::MAX),
        Err(e) => -i64::try_from(e.duration().as_millis()).unwrap_or(i64::MAX),
    }
}

/// Seconds as the AWS JSON protocol sends timestamps: a number, with milliseconds.
pub fn epoch_seconds(ms: i64) -> serde_json::Value {
    serde_json::json!(ms as f64 / 1000.0)
}

/// Unix seconds of a UTC date and time, or `None` for a date or time that does not exist.
pub fn unix_secs(year: i32, month: u8, day: u8, hour: u8, minute: u8, second: u8) -> Option<i64> {
    let date = Date::from_calendar_date(year, Month::try_from(month).ok()?, day).ok()?;
    let time = Time::from_hms(hour, minute, second).ok()?;
    Some(date.with_time(time).assume_utc().unix_timestamp())
}

/// The UTC date and time of Unix milliseconds, clamped to the years 0000–9999.
fn utc(ms: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000).unwrap_or_else(|_| {
        let year = if ms < 0 { 0 } else { 9999 };
        OffsetDateTime::UNIX_EPOCH
            .replace_year(year)
            .unwrap_or(OffsetDateTime::UNIX_EPOCH)
    })
}

/// The first midnight (UTC, Unix seconds) of the month containing `unix_secs`.
pub fn start_of_month(unix_secs: i64) -> i64 {
    let at = utc(unix_secs.saturating_mul(1000));
    at.date().replace_day(1).map_or(unix_secs, |first| {
        first.midnight().assume_utc().unix_timestamp()
    })
}

/// `2026-12-07T17:12:32.123Z` for Unix milliseconds.
pub fn rfc3339_millis(ms: i64) -> String {
    let mut out = String::with_capacity(24);
    write_utc(&mut out, ms, 'T');
    out.push('Z');
    out
}

/// `2026-12-07T17:12:32Z` for Unix seconds.
pub fn rfc3339_seconds(unix_secs: i64) -> String {
    let at = utc(unix_secs.saturating_mul(1000));
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute(),
        at.second()
    )
}

/// Appends `YYYY-MM-DD<sep>HH:MM:SS.mmm` (UTC) of Unix milliseconds to `out`.
pub fn write_utc(out: &mut String, ms: i64, sep: char) {
    let at = utc(ms);
    let _ = write!(
        out,
        "{:04}-{:02}-{:02}{sep}{:02}:{:02}:{:02}.{:03}",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute(),
        at.second(),
        at.millisecond()
    );
}

/// Appends `HH:MM:SS.mmm` (UTC) of Unix milliseconds to `out`.
pub fn write_time_of_day(out: &mut String, ms: i64) {
    let at = utc(ms);
    let _ = write!(
        out,
        "{:02}:{:02}:{:02}.{:03}",
        at.hour(),
        at.minute(),
        at.second(),
        at.millisecond()
    );
}

/// API Gateway's `requestContext.requestTime`: `07/Dec/2026:17:12:32 +0000`.
pub fn request_time(ms: i64) -> String {
    format_utc(
        ms,
        format_description!("[day]/[month repr:short]/[year]:[hour]:[minute]:[second] +0000"),
    )
}

/// An RFC 2822 / RFC 5322 date, as in a mail's `Date` header: `Mon, 07 Dec 2026 17:12:32 +0000`.
pub fn rfc2822(ms: i64) -> String {
    format_utc(
        ms,
        format_description!(
            "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] +0000"
        ),
    )
}

/// Unix milliseconds as UTC in `format` (one without offset fields: it cannot fail).
fn format_utc(ms: i64, format: &[BorrowedFormatItem<'_>]) -> String {
    utc(ms).format(format).unwrap_or_default()
}

/// `YYYY/MM/DD` (UTC) of Unix milliseconds, as in Lambda's log stream names.
pub fn utc_date_path(ms: i64) -> String {
    let at = utc(ms);
    format!(
        "{:04}/{:02}/{:02}",
        at.year(),
        u8::from(at.month()),
        at.day()
    )
}

/// Unix milliseconds of an RFC 3339 timestamp (`2026-01-01T12:00:00Z`, fractions and
/// `+hh:mm` offsets allowed), or `None`: like AWS, a date that does not exist
/// (`2026-02-31`) or an offset out of range (`+99:99`) is not a timestamp. Fractions below a
/// millisecond are cut off.
pub fn parse_rfc3339(text: &str) -> Option<i64> {
    // `time` also reads a space or a lower-case `t` between date and time; Step Functions
    // wants the `T`.
    if text.as_bytes().get(10) != Some(&b'T') {
        return None;
    }
    let at = OffsetDateTime::parse(text, &Rfc3339).ok()?;
    i64::try_from(at.unix_timestamp_nanos().div_euclid(1_000_000)).ok()
}

/// Unix milliseconds of an ISO 8601 time as people type it:
/// `YYYY-MM-DD[(T| )HH:MM[:SS[(.|,)fff]]][Z|±HH:MM|±HHMM]`, UTC when no zone is given.
/// The text is brought to RFC 3339 and read by [`parse_rfc3339`].
pub fn parse_iso8601(text: &str) -> Option<i64> {
    let b = text.as_bytes();
    if b.len() < 10 || !text.is_char_boundary(10) {
        return None;
    }
    let (date, rest) = text.split_at(10);
    let mut out = String::with_capacity(32);
    out.push_str(date);
    // The time of day: `HH:MM`, then optionally `:SS` and a fraction.
    let rest = match rest.as_bytes().first() {
        Some(b'T' | b't' | b' ') => {
            let hm = rest.get(1..6)?;
            out.push('T');
            out.push_str(hm);
            let mut rest = &rest[6..];
            if let Some(secs) = rest.strip_prefix(':') {
                out.push(':');
                out.push_str(secs.get(..2)?);
                rest = &secs[2..];
                if let Some(frac) = rest.strip_prefix(['.', ',']) {
                    let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
                    out.push('.');
                    out.push_str(&frac[..digits]);
                    rest = &frac[digits..];
                }
            } else {
                out.push_str(":00");
            }
            rest
        }
        _ => {
            out.push_str("T00:00:00");
            rest
        }
    };
    // The zone: none (UTC), `Z`, `±HH:MM` or `±HHMM`.
    match rest {
        "" | "Z" | "z" => out.push('Z'),
        zone if zone.starts_with(['+', '-']) => {
            let digits = &zone[1..];
            let (h, m) = match digits.len() {
                4 => (digits.get(..2)?, digits.get(2..)?),
                5 if digits.as_bytes()[2] == b':' => (digits.get(..2)?, digits.get(3..)?),
                _ => return None,
            };
            out.push_str(&zone[..1]);
            out.push_str(h);
            out.push(':');
            out.push_str(m);
        }
        _ => return None,
    }
    parse_rfc3339(&out)
}

/// A clock tests move by hand.
#[cfg(test)]
pub(crate) struct ManualClock(pub(crate) std::sync::atomic::AtomicI64);

#[cfg(test)]
impl ManualClock {
    /// A clock at `ms`.
    pub(crate) fn at(ms: i64) -> std::sync::Arc<Self> {
        std::sync::Arc::new(Self(std::sync::atomic::AtomicI64::new(ms)))
    }

    /// Moves the clock on by `ms`.
    pub(crate) fn advance(&self, ms: i64) {
        self.0.fetch_add(ms, std::sync::atomic::Ordering::SeqCst);
    }
}

#[cfg(test)]
impl Clock for ManualClock {
    fn now_ms(&self) -> i64 {
        self.0.load(std::sync::atomic::Ordering::SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // 2024-02-29T13:04:05.006Z
    const T: i64 = 1_709_211_845_006;

    #[test]
    fn formats_aws_uses() {
        assert_eq!(rfc3339_millis(T), "2024-02-29T13:04:05.006Z");
        assert_eq!(rfc3339_millis(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339_millis(-1), "1969-12-31T23:59:59.999Z");
        assert_eq!(rfc3339_seconds(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339_seconds(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339_seconds(-1), "1969-12-31T23:59:59Z");
        assert_eq!(
            request_time(1_714_484_225_123),
            "30/Apr/2024:13:37:05 +0000"
        );
        assert_eq!(request_time(0), "01/Jan/1970:00:00:00 +0000");
        assert_eq!(rfc2822(0), "Thu, 01 Jan 1970 00:00:00 +0000");
        assert_eq!(rfc2822(T), "Thu, 29 Feb 2024 13:04:05 +0000");
        assert_eq!(rfc2822(-86_400_000), "Wed, 31 Dec 1969 00:00:00 +0000");
        assert_eq!(utc_date_path(T), "2024/02/29");
        let mut out = String::new();
        write_utc(&mut out, T, ' ');
        write_time_of_day(&mut out, -1);
        assert_eq!(out, "2024-02-29 13:04:05.00623:59:59.999");
        // Out of `time`'s range: clamped, never a panic.
        assert!(rfc3339_millis(i64::MAX).starts_with("9999-"));
        assert!(rfc3339_millis(i64::MIN).starts_with("0000-"));
    }

    #[test]
    fn epoch_conversions() {
        assert_eq!(unix_secs(1970, 1, 1, 0, 0, 0), Some(0));
        assert_eq!(unix_secs(2000, 3, 1, 0, 0, 0), Some(11_017 * 86_400));
        assert_eq!(unix_secs(2024, 2, 29, 13, 4, 5), Some(T / 1000));
        assert_eq!(unix_secs(2023, 2, 29, 0, 0, 0), None);
        assert_eq!(unix_secs(1900, 2, 29, 0, 0, 0), None);
        assert_eq!(
            start_of_month(T / 1000),
            unix_secs(2024, 2, 1, 0, 0, 0).unwrap()
        );
        assert_eq!(start_of_month(-1), unix_secs(1969, 12, 1, 0, 0, 0).unwrap());
        assert_eq!(
            unix_ms(UNIX_EPOCH - std::time::Duration::from_millis(5)),
            -5
        );
        assert_eq!(epoch_seconds(1500), serde_json::json!(1.5));
    }

    #[test]
    fn rfc3339_round_trips_and_honours_offsets() {
        let ms = parse_rfc3339("2026-03-01T12:34:56.789Z").unwrap();
        assert_eq!(rfc3339_millis(ms), "2026-03-01T12:34:56.789Z");
        assert_eq!(
            parse_rfc3339("2026-03-01T14:34:56.789+02:00"),
            Some(ms),
            "an offset is taken off"
        );
        assert_eq!(parse_rfc3339("1970-01-01T00:00:01Z"), Some(1000));
        assert_eq!(parse_rfc3339("1969-12-31T23:59:59.9995Z"), Some(-1));
        assert!(parse_rfc3339("2028-02-29T00:00:00-13:30").is_some());
        for bad in [
            "",
            "2026-03-01",
            "2026-13-01T00:00:00Z",
            "2026-03-01T00:00:00",
            "2026-03-01 00:00:00Z",
            "2026-03-01T00:00:00.Z",
            "x026-03-01T00:00:00Z",
            "2026-03-01T00:00:00+é:0",
            "2026-03-01T00:00:0é",
            // Dates that do not exist and offsets out of range, which AWS refuses.
            "2026-02-31T00:00:00Z",
            "2026-02-29T00:00:00Z",
            "2026-04-31T00:00:00Z",
            "2026-03-01T00:00:00+99:99",
            "2026-03-01T00:00:00+01:60",
            "2026-03-01T24:00:00Z",
        ] {
            assert_eq!(parse_rfc3339(bad), None, "{bad}");
        }
    }

    #[test]
    fn iso8601_as_people_type_it() {
        assert_eq!(parse_iso8601("2024-02-29T13:04:05.006Z"), Some(T));
        assert_eq!(parse_iso8601("2024-02-29T13:04:05.006789Z"), Some(T));
        assert_eq!(parse_iso8601("2024-02-29T13:04:05,006Z"), Some(T));
        assert_eq!(parse_iso8601("2024-02-29T14:04:05.006+01:00"), Some(T));
        assert_eq!(parse_iso8601("2024-02-29T08:04:05.006-0500"), Some(T));
        assert_eq!(parse_iso8601("2024-02-29 13:04:05.006"), Some(T));
        assert_eq!(parse_iso8601("2024-02-29t13:04"), Some(T - 5_006));
        assert_eq!(parse_iso8601("2024-02-29"), Some(T - 47_045_006));
        for bad in [
            "",
            "2023-02-29",
            "2024-13-01",
            "2024-02-29T25:00",
            "2024-02-29T13:04:05.Z",
            "2024-02-29T13:04:05+1",
            "2024-02-29T13:04:05 UTC",
            "2024-02-29T13",
            "2024-02-29Té4:00",
            "2024-02-29T13:04+24:00",
        ] {
            assert_eq!(parse_iso8601(bad), None, "{bad}");
        }
    }
}

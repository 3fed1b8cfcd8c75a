//! Times on the command line (`--since 10m`, `--until 2026-11-26T20:00:00Z`) and on output
//! (`2026-11-26 20:00:00.000`), in UTC, without a date-time dependency.

use std::fmt::Write as _;

/// A `--since` / `--until` value that is neither a duration nor an ISO-8601 time.
#[derive(Debug, thiserror::Error)]
#[error(
    "`{0}` is not a time: use a duration ago (`30s`, `10m`, `2h`, `1d`, `1w`) or an ISO-8601 \
     time (`2026-11-26`, `2026-11-26T20:00`, `2026-11-26T20:00:00Z`, `2026-11-26T21:00:00+01:00`)"
)]
pub struct BadTime(pub String);

/// `text` as milliseconds since the Unix epoch: a duration before `now_ms`, or an ISO-8601
/// time (UTC unless it carries an offset).
///
/// # Errors
/// When `text` is neither.
pub fn parse_time(text: &str, now_ms: i64) -> Result<i64, BadTime> {
    let bad = || BadTime(text.to_owned());
    let t = text.trim();
    if let Some(ago) = parse_duration_ms(t) {
        return Ok(now_ms.saturating_sub(ago));
    }
    parse_iso(t).ok_or_else(bad)
}

/// `10m` → 600,000; `1h30m` → 5,400,000. Units: `ms`, `s`, `m`, `h`, `d`, `w`.
fn parse_duration_ms(text: &str) -> Option<i64> {
    if text.is_empty() {
        return None;
    }
    let mut total: i64 = 0;
    let mut rest = text;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        let n: i64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let unit_len = rest.bytes().take_while(u8::is_ascii_alphabetic).count();
        let unit = match &rest[..unit_len] {
            "ms" => 1,
            "s" | "sec" | "secs" => 1_000,
            "m" | "min" | "mins" => 60_000,
            "h" | "hr" | "hrs" => 3_600_000,
            "d" | "day" | "days" => 86_400_000,
            "w" | "week" | "weeks" => 7 * 86_400_000,
            _ => return None,
        };
        rest = &rest[unit_len..];
        total = total.checked_add(n.checked_mul(unit)?)?;
    }
    Some(total)
}

/// `YYYY-MM-DD[(T| )HH:MM[:SS[.fff]]][Z|±HH:MM|±HHMM]`.
fn parse_iso(text: &str) -> Option<i64> {
    let b = text.as_bytes();
    let num = |from: usize, len: usize| -> Option<i64> {
        let s = text.get(from..from + len)?;
        s.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| s.parse().ok())?
    };
    if b.len() < 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let (year, month, day) = (num(0, 4)?, num(5, 2)?, num(8, 2)?);
    if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        return None;
    }
    let mut ms = days_from_civil(year, month, day) * 86_400_000;
    let mut i = 10;
    if i < b.len() && (b[i] == b'T' || b[i] == b't' || b[i] == b' ') {
        let (hour, minute) = (num(i + 1, 2)?, num(i + 4, 2)?);
        if b.get(i + 3) != Some(&b':') || hour > 23 || minute > 59 {
            return None;
        }
        ms += hour * 3_600_000 + minute * 60_000;
        i += 6;
        if b.get(i) == Some(&b':') {
            let second = num(i + 1, 2)?;
            if second > 60 {
                return None;
            }
            ms += second * 1_000;
            i += 3;
            if b.get(i) == Some(&b'.') || b.get(i) == Some(&b',') {
                let digits = b[i + 1..].iter().take_while(|c| c.is_ascii_digit()).count();
                if digits == 0 {
                    return None;
                }
                // Milliseconds: the first three digits, padded.
                let frac = &text[i + 1..i + 1 + digits.min(3)];
                let frac_ms: i64 = format!("{frac:0<3}").parse().ok()?;
                ms += frac_ms;
                i += 1 + digits;
            }
        }
    }
    match &text[i..] {
        "" | "Z" | "z" => Some(ms),
        zone => {
            let sign = match zone.as_bytes()[0] {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let digits: String = zone[1..].chars().filter(|c| *c != ':').collect();
            if digits.len() != 4 || !digits.bytes().all(|c| c.is_ascii_digit()) {
                return None;
            }
            let (h, m): (i64, i64) = (digits[..2].parse().ok()?, digits[2..].parse().ok()?);
            if h > 23 || m > 59 {
                return None;
            }
            Some(ms - sign * (h * 3_600_000 + m * 60_000))
        }
    }
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// (year, month, day) → days since 1970-01-01; Howard Hinnant's `days_from_civil`.
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Days since 1970-01-01 → (year, month, day); the inverse of [`days_from_civil`].
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// Appends `YYYY-MM-DD<sep>HH:MM:SS.mmm` (UTC) of `timestamp_ms` to `out`.
pub fn write_utc(out: &mut String, timestamp_ms: i64, sep: char) {
    let (y, mo, d) = civil_from_days(timestamp_ms.div_euclid(86_400_000));
    let ms = timestamp_ms.rem_euclid(86_400_000);
    let _ = write!(
        out,
        "{y:04}-{mo:02}-{d:02}{sep}{:02}:{:02}:{:02}.{:03}",
        ms / 3_600_000,
        ms / 60_000 % 60,
        ms / 1_000 % 60,
        ms % 1_000
    );
}

/// `2026-11-26T20:00:00.000Z`.
pub fn iso_utc(timestamp_ms: i64) -> String {
    let mut out = String::with_capacity(24);
    write_utc(&mut out, timestamp_ms, 'T');
    out.push('Z');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    // 2024-02-29T13:04:05.006Z
    const T: i64 = 1_709_211_845_006;

    #[test]
    fn durations_count_back_from_now() {
        assert_eq!(parse_time("10m", T).unwrap(), T - 600_000);
        assert_eq!(parse_time("2h", T).unwrap(), T - 7_200_000);
        assert_eq!(parse_time("1d", T).unwrap(), T - 86_400_000);
        assert_eq!(parse_time("1h30m", T).unwrap(), T - 5_400_000);
        assert_eq!(parse_time("45s", T).unwrap(), T - 45_000);
        assert_eq!(parse_time("0s", T).unwrap(), T);
    }

    #[test]
    fn iso_times_in_utc_unless_an_offset_says_otherwise() {
        assert_eq!(parse_time("2024-02-29T13:04:05.006Z", 0).unwrap(), T);
        assert_eq!(parse_time("2024-02-29T13:04:05.006789Z", 0).unwrap(), T);
        assert_eq!(
            parse_time("2024-02-29T13:04:05.6Z", 0).unwrap(),
            T - 6 + 600
        );
        assert_eq!(parse_time("2024-02-29T14:04:05.006+01:00", 0).unwrap(), T);
        assert_eq!(parse_time("2024-02-29T08:04:05.006-0500", 0).unwrap(), T);
        assert_eq!(parse_time("2024-02-29 13:04:05.006", 0).unwrap(), T);
        assert_eq!(parse_time("2024-02-29T13:04", 0).unwrap(), T - 5_006);
        assert_eq!(parse_time("2024-02-29", 0).unwrap(), T - 47_045_006);
        assert_eq!(parse_time("1970-01-01", 5).unwrap(), 0);
        assert_eq!(iso_utc(T), "2024-02-29T13:04:05.006Z");
        assert_eq!(iso_utc(0), "1970-01-01T00:00:00.000Z");
    }

    #[test]
    fn anything_else_is_refused_with_the_accepted_forms() {
        for bad in [
            "",
            "10",
            "m",
            "10 minutes ago",
            "10y",
            "-5m",
            "2023-02-29",
            "2024-13-01",
            "2024-02-29T25:00",
            "2024-02-29T13:04:05.Z",
            "2024-02-29T13:04:05+1",
            "2024-02-29T13:04:05 UTC",
            "yesterday",
            "99999999999999999999d",
        ] {
            let err = parse_time(bad, T).expect_err(bad).to_string();
            assert!(err.contains("10m") && err.contains("ISO-8601"), "{err}");
        }
    }
}

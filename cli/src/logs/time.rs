//! Times on the command line (`--since 10m`, `--until 2026-11-26T20:00:00Z`), in UTC unless an
//! offset says otherwise. Dates are read and written by [`portico_local::clock`].

use portico_local::clock::parse_iso8601;

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
    parse_iso8601(t).ok_or_else(bad)
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

#[cfg(test)]
mod tests {
    use super::*;
    use portico_local::clock::rfc3339_millis;

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
        // The forms themselves are `portico_local::clock::parse_iso8601`'s (tested there):
        // here, that they are taken as they are, not as a time before `now`.
        assert_eq!(parse_time("2024-02-29T13:04:05.006Z", 0).unwrap(), T);
        assert_eq!(parse_time("2024-02-29T14:04:05.006+01:00", 5).unwrap(), T);
        assert_eq!(parse_time(" 2024-02-29 ", T).unwrap(), T - 47_045_006);
        assert_eq!(parse_time("1970-01-01", 5).unwrap(), 0);
        assert_eq!(rfc3339_millis(T), "2024-02-29T13:04:05.006Z");
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
            "2024-02-29T13:04:05 UTC",
            "yesterday",
            "99999999999999999999d",
        ] {
            let err = parse_time(bad, T).expect_err(bad).to_string();
            assert!(err.contains("10m") && err.contains("ISO-8601"), "{err}");
        }
    }
}

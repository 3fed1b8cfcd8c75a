//! RFC 3339 timestamps as Step Functions reads and writes them (UTC, milliseconds), and the
//! clock the engine reads (a trait, so tests move time themselves).

use ::time::OffsetDateTime;
use ::time::format_description::well_known::Rfc3339;

/// Where the engine reads the time.
pub trait Clock: Send + Sync + 'static {
    /// Milliseconds since the Unix epoch.
    fn now_ms(&self) -> i64;
}

/// The system clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        crate::logs::now_ms()
    }
}

/// `2026-01-01T12:00:00.123Z` for Unix milliseconds (clamped to years 0000–9999).
pub fn format_rfc3339(ms: i64) -> String {
    let nanos = i128::from(ms) * 1_000_000;
    let at = OffsetDateTime::from_unix_timestamp_nanos(nanos).unwrap_or(if ms < 0 {
        OffsetDateTime::UNIX_EPOCH
            .replace_year(0)
            .unwrap_or(OffsetDateTime::UNIX_EPOCH)
    } else {
        OffsetDateTime::UNIX_EPOCH
            .replace_year(9999)
            .unwrap_or(OffsetDateTime::UNIX_EPOCH)
    });
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute(),
        at.second(),
        at.millisecond()
    )
}

/// Unix milliseconds of an RFC 3339 timestamp (`2026-01-01T12:00:00Z`, fractions and
/// `+hh:mm` offsets allowed), or `None`: like AWS, a date that does not exist
/// (`2026-02-31`) or an offset out of range (`+99:99`) is not a timestamp.
pub fn parse_rfc3339(text: &str) -> Option<i64> {
    // `time` also reads a space or a lower-case `t` between date and time; Step Functions
    // wants the `T`.
    if text.as_bytes().get(10) != Some(&b'T') {
        return None;
    }
    let at = OffsetDateTime::parse(text, &Rfc3339).ok()?;
    i64::try_from(at.unix_timestamp_nanos().div_euclid(1_000_000)).ok()
}

/// Seconds as the AWS JSON protocol sends timestamps: a number, with milliseconds.
pub fn epoch_seconds(ms: i64) -> serde_json::Value {
    serde_json::json!(ms as f64 / 1000.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_round_trip_and_honour_offsets() {
        let ms = parse_rfc3339("2026-03-01T12:34:56.789Z").unwrap();
        assert_eq!(format_rfc3339(ms), "2026-03-01T12:34:56.789Z");
        assert_eq!(
            parse_rfc3339("2026-03-01T14:34:56.789+02:00"),
            Some(ms),
            "an offset is taken off"
        );
        assert_eq!(parse_rfc3339("1970-01-01T00:00:01Z"), Some(1000));
        assert_eq!(parse_rfc3339("1969-12-31T23:59:59.9995Z"), Some(-1));
        assert_eq!(format_rfc3339(-1), "1969-12-31T23:59:59.999Z");
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
}

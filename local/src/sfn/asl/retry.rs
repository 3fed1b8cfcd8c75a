//! `Retry` and `Catch`: which errors a retrier or catcher matches.

use crate::sfn::asl::errors::{ALL, HEARTBEAT_TIMEOUT, RUNTIME, TASK_FAILED, TIMEOUT};
use crate::sfn::asl::types::{Catcher, Retrier};

/// Whether an `ErrorEquals` name matches `error`.
pub fn error_matches(pattern: &str, error: &str) -> bool {
    if error == RUNTIME {
        return pattern == RUNTIME;
    }
    pattern == error
        || pattern == ALL
        || (pattern == TASK_FAILED && error != TIMEOUT && error != HEARTBEAT_TIMEOUT)
        || (pattern == TIMEOUT && error == HEARTBEAT_TIMEOUT)
}

impl Retrier {
    /// Whether this retrier handles `error`.
    pub fn handles(&self, error: &str) -> bool {
        self.errors.iter().any(|p| error_matches(p, error))
    }

    /// The wait before retry number `attempt` (0 for the first retry), in milliseconds.
    pub fn delay_ms(&self, attempt: u32) -> i64 {
        let seconds = self.interval_seconds as f64
            * self
                .backoff_rate
                .powi(i32::try_from(attempt).unwrap_or(i32::MAX));
        let seconds = match self.max_delay_seconds {
            Some(max) => seconds.min(max as f64),
            None => seconds,
        };
        (seconds.min(99_999_999.0) * 1000.0) as i64
    }

    /// The wait before retry number `attempt`, with the jitter of `JitterStrategy`: `random`
    /// (uniform over `u64`) picks the wait between 0 and [`Retrier::delay_ms`] under `FULL`.
    pub fn wait_ms(&self, attempt: u32, random: u64) -> i64 {
        let delay = self.delay_ms(attempt);
        if !self.full_jitter || delay <= 0 {
            return delay;
        }
        let span = u64::try_from(delay).unwrap_or(0) + 1;
        i64::try_from(random % span).unwrap_or(delay)
    }
}

impl Catcher {
    /// Whether this catcher handles `error`.
    pub fn handles(&self, error: &str) -> bool {
        self.errors.iter().any(|p| error_matches(p, error))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_and_catch_match_errors_like_step_functions() {
        assert!(error_matches(ALL, "MyError"));
        assert!(error_matches(ALL, TIMEOUT));
        assert!(!error_matches(ALL, RUNTIME));
        assert!(error_matches(TASK_FAILED, "MyError"));
        assert!(!error_matches(TASK_FAILED, TIMEOUT));
        assert!(!error_matches(TASK_FAILED, HEARTBEAT_TIMEOUT));
        assert!(error_matches(TIMEOUT, HEARTBEAT_TIMEOUT));
        assert!(!error_matches("Other", "MyError"));
        let retrier = Retrier {
            errors: vec![TIMEOUT.into()],
            interval_seconds: 2,
            max_attempts: 3,
            backoff_rate: 2.0,
            max_delay_seconds: Some(5),
            full_jitter: false,
        };
        assert_eq!(
            (0..3).map(|n| retrier.delay_ms(n)).collect::<Vec<_>>(),
            [2000, 4000, 5000]
        );
        assert_eq!(retrier.wait_ms(2, 12_345), 5000, "no jitter");
        let jittered = Retrier {
            full_jitter: true,
            ..retrier
        };
        // FULL: anywhere from 0 to the capped interval, never over it.
        let waits: Vec<i64> = [0, 1, 2_500, 5_000, 5_001, u64::MAX]
            .into_iter()
            .map(|r| jittered.wait_ms(2, r))
            .collect();
        assert_eq!(waits[..5], [0, 1, 2_500, 5_000, 0]);
        assert!((0..=5_000).contains(&waits[5]));
    }
}

//! Thread CPU time: what one event costs, whatever else the machine is doing.

use std::time::Duration;

use nix::time::{ClockId, clock_gettime};

/// CPU time consumed by the calling thread so far (`CLOCK_THREAD_CPUTIME_ID`).
///
/// Unlike wall time it does not count the time this thread waits while other processes run,
/// which matters on a small shared machine.
///
/// # Panics
/// If the clock is not available (it is on every Linux).
pub fn thread_cpu_time() -> Duration {
    let ts = clock_gettime(ClockId::CLOCK_THREAD_CPUTIME_ID).expect("CLOCK_THREAD_CPUTIME_ID");
    Duration::new(
        u64::try_from(ts.tv_sec()).unwrap_or_default(),
        u32::try_from(ts.tv_nsec()).unwrap_or_default(),
    )
}

//! Printing events, once (a window) or as they come (`--follow`).
//!
//! Following polls the source every [`FollowLimits::poll_every`] for the events from a floor
//! time on, and prints those not printed before, recognised by event id. Late events
//! (CloudWatch indexes with a delay of seconds) are caught because the floor trails the clock
//! by [`FollowLimits::lookback`]; ids older than the floor are forgotten, and at most
//! [`FollowLimits::max_remembered`] are kept (past that the floor moves up to the oldest one
//! kept), so memory stays bounded however long it runs and however busy the functions are.

use std::collections::BTreeSet;
use std::io::{self, Write};
use std::time::Duration;

use super::render::{Event, Renderer};
use super::source::{Clock, Query, Source};
use crate::CliError;

/// How following polls and forgets.
#[derive(Debug, Clone, Copy)]
pub struct FollowLimits {
    /// Time between polls.
    pub poll_every: Duration,
    /// How far behind the clock the floor of a poll is: events indexed later than this are
    /// not seen.
    pub lookback: Duration,
    /// Ids remembered for de-duplication, at most.
    pub max_remembered: usize,
}

impl FollowLimits {
    /// Every 2 s, a minute back, at most 50,000 ids (a few MB).
    pub const DEFAULT: Self = Self {
        poll_every: Duration::from_secs(2),
        lookback: Duration::from_secs(60),
        max_remembered: 50_000,
    };
}

/// Renders events into a writer.
pub struct Printer<W: Write> {
    renderer: Renderer,
    out: W,
    line: String,
    /// Events printed.
    pub printed: u64,
    /// The first write error (a closed pipe ends the run quietly).
    pub error: Option<io::Error>,
}

impl<W: Write> Printer<W> {
    /// A printer of `renderer`'s format into `out`.
    pub fn new(renderer: Renderer, out: W) -> Self {
        Self {
            renderer,
            out,
            line: String::new(),
            printed: 0,
            error: None,
        }
    }

    /// Prints `event` (unless hidden); false once writing failed.
    pub fn print(&mut self, event: &Event) -> bool {
        if self.error.is_some() {
            return false;
        }
        self.line.clear();
        if self.renderer.write(&mut self.line, event) {
            if let Err(err) = self.out.write_all(self.line.as_bytes()) {
                self.error = Some(err);
                return false;
            }
            self.printed += 1;
        }
        true
    }

    /// Flushes the writer; false once writing failed.
    pub fn flush(&mut self) -> bool {
        if self.error.is_none()
            && let Err(err) = self.out.flush()
        {
            self.error = Some(err);
        }
        self.error.is_none()
    }

    /// The writer.
    #[cfg(test)]
    pub fn into_inner(self) -> W {
        self.out
    }
}

/// Prints every event `query` selects, in time order.
///
/// # Errors
/// When the source fails.
pub async fn print_window<S: Source, W: Write>(
    source: &S,
    query: &Query<'_>,
    printer: &mut Printer<W>,
) -> Result<(), CliError> {
    source.events(query, &mut |e| printer.print(&e)).await?;
    printer.flush();
    Ok(())
}

/// What a follow run did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FollowStats {
    /// Polls made.
    pub polls: u64,
    /// The most ids remembered at once.
    pub max_remembered: usize,
    /// Ids remembered at the end.
    pub remembered: usize,
}

/// Prints the events from `query.start_ms` on, then keeps polling until `clock.sleep` says
/// stop or writing fails.
///
/// # Errors
/// When the source fails (throttling is waited out by the source).
pub async fn follow<S: Source, C: Clock, W: Write>(
    source: &S,
    clock: &C,
    query: &Query<'_>,
    printer: &mut Printer<W>,
    limits: FollowLimits,
) -> Result<FollowStats, CliError> {
    let lookback = i64::try_from(limits.lookback.as_millis()).unwrap_or(i64::MAX);
    let mut floor = query.start_ms;
    // (timestamp, event id): ordered by time, so forgetting the old ones is a split.
    let mut seen: BTreeSet<(i64, String)> = BTreeSet::new();
    let mut stats = FollowStats::default();
    loop {
        let now = clock.now_ms();
        let poll = Query {
            start_ms: floor,
            end_ms: None,
            ..*query
        };
        source
            .events(&poll, &mut |event| {
                if event.timestamp_ms < floor {
                    return true;
                }
                let key = (event.timestamp_ms, event.id.clone());
                if seen.contains(&key) {
                    return true;
                }
                let ok = printer.print(&event);
                seen.insert(key);
                // A long history in one poll: events come oldest first, so the oldest ids can
                // go (and the floor with them) before the poll is over.
                if seen.len() >= limits.max_remembered.saturating_mul(2) {
                    stats.max_remembered = stats.max_remembered.max(seen.len());
                    floor = forget_oldest(&mut seen, floor, limits.max_remembered);
                }
                ok
            })
            .await?;
        stats.polls += 1;
        if !printer.flush() {
            return Ok(stats);
        }
        stats.max_remembered = stats.max_remembered.max(seen.len());
        floor = floor.max(now.saturating_sub(lookback));
        seen = seen.split_off(&(floor, String::new()));
        floor = forget_oldest(&mut seen, floor, limits.max_remembered);
        stats.remembered = seen.len();
        if !clock.sleep(limits.poll_every).await {
            return Ok(stats);
        }
    }
}

/// Keeps the newest `max` ids of `seen` (and those sharing the oldest kept one's time); the
/// floor moves up to that time.
fn forget_oldest(seen: &mut BTreeSet<(i64, String)>, floor: i64, max: usize) -> i64 {
    if seen.len() <= max {
        return floor;
    }
    let oldest_kept = seen.iter().nth(seen.len() - max).map_or(floor, |(t, _)| *t);
    let floor = floor.max(oldest_kept);
    *seen = seen.split_off(&(floor, String::new()));
    floor
}

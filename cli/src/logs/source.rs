//! Where events come from: CloudWatch Logs ([`AwsSource`]) or the local cloud's store
//! ([`LocalSource`]); both hand them over in time order, through the same [`Source`] trait, to
//! the same printer and follow loop.

use std::collections::{BTreeMap, HashSet, VecDeque};
use std::future::Future;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, params};

use super::pattern::Pattern;
use super::render::{Event, parse};
use crate::CliError;
use crate::aws::log_events::{LogEvent, LogQuery};
use crate::aws::{Aws, AwsError};
use portico_local::store;

/// The clock and the sleep, as parameters, so tests drive time themselves.
pub trait Clock {
    /// Milliseconds since the Unix epoch, now.
    fn now_ms(&self) -> i64;
    /// Waits `duration`; false when the caller should stop instead of going on.
    fn sleep(&self, duration: Duration) -> impl Future<Output = bool>;
}

/// The real clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        portico_local::clock::now_ms()
    }

    async fn sleep(&self, duration: Duration) -> bool {
        tokio::time::sleep(duration).await;
        true
    }
}

/// One function's log group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    /// The entry point (`api`, a schedule).
    pub function: String,
    /// The log group's name.
    pub name: String,
}

/// Which events.
#[derive(Debug, Clone, Copy, Default)]
pub struct Query<'a> {
    /// From this time on (inclusive).
    pub start_ms: i64,
    /// Up to this time (inclusive); `None`: no end.
    pub end_ms: Option<i64>,
    /// A CloudWatch filter pattern.
    pub pattern: Option<&'a str>,
    /// Only the lines of this invocation.
    pub request_id: Option<&'a str>,
}

/// A source of events.
pub trait Source {
    /// Every event `query` selects, oldest first, handed to `emit` until it returns false.
    ///
    /// # Errors
    /// When the source cannot be read.
    fn events(
        &self,
        query: &Query<'_>,
        emit: &mut dyn FnMut(Event) -> bool,
    ) -> impl Future<Output = Result<(), CliError>>;
}

/// The first wait after AWS throttled a call; doubled each time, up to [`MAX_BACKOFF`].
pub const FIRST_BACKOFF: Duration = Duration::from_millis(500);
/// The longest wait between throttled attempts.
pub const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// Throttled attempts of one call before giving up (about 4 minutes of waiting).
pub const MAX_THROTTLED_ATTEMPTS: u32 = 12;

/// `call`, again after a growing pause while AWS throttles it.
///
/// # Errors
/// The call's error when it is not throttling, when it still throttles after
/// [`MAX_THROTTLED_ATTEMPTS`], or when the sleep is told to stop.
pub async fn with_backoff<T, F, Fut>(clock: &impl Clock, mut call: F) -> Result<T, AwsError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, AwsError>>,
{
    let mut delay = FIRST_BACKOFF;
    let mut attempt = 1;
    loop {
        match call().await {
            Err(err) if err.is_throttling() && attempt < MAX_THROTTLED_ATTEMPTS => {
                if !clock.sleep(delay).await {
                    return Err(err);
                }
                delay = (delay * 2).min(MAX_BACKOFF);
                attempt += 1;
            }
            other => return other,
        }
    }
}

/// The stage's log groups on CloudWatch.
pub struct AwsSource<'a, C> {
    /// The clients.
    pub aws: &'a Aws,
    /// The groups to read.
    pub groups: Vec<Group>,
    /// For the pauses when throttled.
    pub clock: &'a C,
    /// Events per page (AWS's maximum when `None`).
    pub page_limit: Option<i32>,
}

/// One group being read, page by page.
struct Cursor<'g> {
    group: &'g Group,
    buffer: VecDeque<LogEvent>,
    token: Option<String>,
    started: bool,
}

impl<C: Clock> AwsSource<'_, C> {
    /// One page; a log group that does not exist (yet) has no events.
    async fn page(
        &self,
        query: &LogQuery<'_>,
        token: Option<String>,
    ) -> Result<crate::aws::log_events::LogPage, AwsError> {
        match with_backoff(self.clock, || {
            self.aws.filter_log_events(query, token.clone())
        })
        .await
        {
            Err(err) if err.is_not_found() => Ok(Default::default()),
            other => other,
        }
    }

    /// Every event of `groups` in the window, merged across groups in time order, reading
    /// one page per group at a time (memory: a page per group, whatever the window).
    async fn merged(
        &self,
        groups: &[(&Group, Vec<String>)],
        query: &Query<'_>,
        pattern: Option<&str>,
        emit: &mut dyn FnMut(Event) -> bool,
    ) -> Result<(), CliError> {
        let mut cursors: Vec<(Cursor<'_>, &[String])> = groups
            .iter()
            .map(|(group, streams)| {
                (
                    Cursor {
                        group,
                        buffer: VecDeque::new(),
                        token: None,
                        started: false,
                    },
                    streams.as_slice(),
                )
            })
            .collect();
        loop {
            for (cursor, streams) in &mut cursors {
                while cursor.buffer.is_empty() && (!cursor.started || cursor.token.is_some()) {
                    let aws_query = LogQuery {
                        group: &cursor.group.name,
                        streams,
                        start_ms: Some(query.start_ms),
                        end_ms: query.end_ms,
                        pattern,
                        limit: self.page_limit,
                    };
                    let page = self.page(&aws_query, cursor.token.take()).await?;
                    cursor.started = true;
                    cursor.token = page.next_token;
                    cursor.buffer.extend(page.events);
                }
            }
            let next = cursors
                .iter()
                .enumerate()
                .filter_map(|(i, (c, _))| c.buffer.front().map(|e| (e.timestamp_ms, i)))
                .min();
            let Some((_, i)) = next else { return Ok(()) };
            let cursor = &mut cursors[i].0;
            let event = cursor.buffer.pop_front().expect("a front event");
            if !emit(to_event(cursor.group, event, None)) {
                return Ok(());
            }
        }
    }

    /// The lines of invocation `request_id`: the events naming it (its `START`, `END`,
    /// `REPORT`, and lines in Lambda's formats that carry the id), then, in each stream
    /// where it started, everything between its `START` and its `REPORT`/`END` (a stream
    /// is one execution environment, which runs one invocation at a time).
    async fn invocation(
        &self,
        request_id: &str,
        query: &Query<'_>,
        emit: &mut dyn FnMut(Event) -> bool,
    ) -> Result<(), CliError> {
        let all: Vec<(&Group, Vec<String>)> = self.groups.iter().map(|g| (g, vec![])).collect();
        let quoted = format!("\"{}\"", request_id.replace('"', "\\\""));
        let mut naming = Vec::new();
        self.merged(&all, query, Some(&quoted), &mut |e| {
            naming.push(e);
            true
        })
        .await?;
        // (group index, stream) → (START time, END/REPORT time).
        let mut spans: BTreeMap<(usize, String), (Option<i64>, Option<i64>)> = BTreeMap::new();
        for event in &naming {
            let parsed = parse(&event.message);
            if !parsed.platform || parsed.request_id.as_deref() != Some(request_id) {
                continue;
            }
            let g = self
                .groups
                .iter()
                .position(|g| g.name == event.group)
                .unwrap_or(0);
            let span = spans.entry((g, event.stream.clone())).or_default();
            if is_start(&event.message) {
                span.0 = Some(
                    span.0
                        .map_or(event.timestamp_ms, |t| t.min(event.timestamp_ms)),
                );
            } else {
                span.1 = Some(
                    span.1
                        .map_or(event.timestamp_ms, |t| t.max(event.timestamp_ms)),
                );
            }
        }
        let mut lines: Vec<Event> = if query.pattern.is_some() {
            // The user's pattern decides which lines show; CloudWatch evaluates it below.
            Vec::new()
        } else {
            naming
        };
        let span_keys: Vec<(usize, String)> = spans.keys().cloned().collect();
        for ((g, stream), (start, end)) in spans {
            let Some(start) = start else { continue };
            let group = &self.groups[g];
            let streams = [stream];
            let mut inside = false;
            let mut done = false;
            let mut token = None;
            loop {
                let aws_query = LogQuery {
                    group: &group.name,
                    streams: &streams,
                    start_ms: Some(start),
                    end_ms: end.or(query.end_ms),
                    pattern: None,
                    limit: self.page_limit,
                };
                let page = self.page(&aws_query, token).await?;
                for event in page.events {
                    let parsed = parse(&event.message);
                    let ours = parsed.request_id.as_deref() == Some(request_id);
                    if parsed.platform && is_start(&event.message) {
                        if ours {
                            inside = true;
                        } else if inside {
                            done = true;
                        }
                    }
                    if !inside || done {
                        continue;
                    }
                    let report = ours && parsed.platform && is_report(&event.message);
                    lines.push(to_event(group, event, Some(request_id.to_owned())));
                    done = report;
                }
                token = page.next_token;
                if done || token.is_none() {
                    break;
                }
            }
        }
        if let Some(pattern) = query.pattern {
            // Only the correlated lines that match the pattern: CloudWatch evaluates it on
            // those streams; the ids seen above select the invocation's lines.
            let ids: HashSet<String> = lines.drain(..).map(|e| e.id).collect();
            let mut by_group: BTreeMap<usize, Vec<String>> = BTreeMap::new();
            for (g, stream) in span_keys {
                by_group.entry(g).or_default().push(stream);
            }
            let streams: Vec<(&Group, Vec<String>)> = by_group
                .into_iter()
                .map(|(g, s)| (&self.groups[g], s))
                .collect();
            self.merged(&streams, query, Some(pattern), &mut |e| {
                if ids.contains(&e.id) {
                    lines.push(e);
                }
                true
            })
            .await?;
        }
        lines.sort_by_key(|e| e.timestamp_ms);
        let mut seen = HashSet::new();
        for event in lines {
            if seen.insert(event.id.clone()) && !emit(event) {
                break;
            }
        }
        Ok(())
    }
}

/// Lambda's `START` line, in the text or the JSON log format.
fn is_start(message: &str) -> bool {
    message.starts_with("START RequestId:") || message.contains("\"platform.start\"")
}

/// Lambda's `REPORT` line, in the text or the JSON log format.
fn is_report(message: &str) -> bool {
    message.starts_with("REPORT RequestId:") || message.contains("\"platform.report\"")
}

fn to_event(group: &Group, event: LogEvent, request_id: Option<String>) -> Event {
    Event {
        id: event.id,
        timestamp_ms: event.timestamp_ms,
        function: group.function.clone(),
        group: group.name.clone(),
        stream: event.stream,
        message: event.message,
        request_id,
    }
}

impl<C: Clock> Source for AwsSource<'_, C> {
    async fn events(
        &self,
        query: &Query<'_>,
        emit: &mut dyn FnMut(Event) -> bool,
    ) -> Result<(), CliError> {
        if let Some(id) = query.request_id {
            return self.invocation(id, query, emit).await;
        }
        let all: Vec<(&Group, Vec<String>)> = self.groups.iter().map(|g| (g, vec![])).collect();
        self.merged(&all, query, query.pattern, emit).await
    }
}

/// The local cloud's stored function logs (`.portico/local/state.db`, table `logs`, written
/// by `local::store`), read through a read-only connection of this process's own.
pub struct LocalSource {
    conn: Connection,
    /// The functions to show (entry points), with their log group names.
    pub groups: Vec<Group>,
    pattern: Option<Pattern>,
}

/// Rows read per query.
const LOCAL_PAGE: i64 = 2_000;

impl LocalSource {
    /// `<app>/.portico/local/state.db`.
    pub fn path(app_dir: &Path) -> PathBuf {
        app_dir.join(".portico").join("local").join("state.db")
    }

    /// Opens the store read-only.
    ///
    /// # Errors
    /// When there is no store (no `portico local` ran here), it cannot be opened, or
    /// `pattern` is not a term pattern.
    pub fn open(path: &Path, pattern: Option<&str>) -> Result<Self, CliError> {
        if !path.is_file() {
            return Err(format!(
                "no local logs: {} does not exist; run `portico local` first",
                path.display()
            )
            .into());
        }
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| format!("{}: {e}", path.display()))?;
        conn.busy_timeout(Duration::from_secs(5))?;
        Ok(Self {
            conn,
            groups: Vec::new(),
            pattern: pattern.map(Pattern::parse).transpose()?,
        })
    }

    /// The functions that have lines in the store.
    ///
    /// # Errors
    /// On database failure.
    pub fn functions(&self) -> Result<Vec<String>, CliError> {
        let mut stmt = self
            .conn
            .prepare("SELECT DISTINCT function FROM logs ORDER BY function")?;
        let names = stmt
            .query_map([], |row| row.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        Ok(names)
    }
}

impl Source for LocalSource {
    async fn events(
        &self,
        query: &Query<'_>,
        emit: &mut dyn FnMut(Event) -> bool,
    ) -> Result<(), CliError> {
        let pattern = match (query.pattern, &self.pattern) {
            (None, _) => None,
            (Some(_), Some(p)) => Some(p.clone()),
            (Some(p), None) => Some(Pattern::parse(p)?),
        };
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, timestamp_ms, function, stream, request_id, message FROM logs
             WHERE (timestamp_ms > ?1 OR (timestamp_ms = ?1 AND id > ?2)) AND timestamp_ms <= ?3
               AND (?4 IS NULL OR request_id = ?4)
             ORDER BY timestamp_ms, id LIMIT ?5",
        )?;
        let mut after = (query.start_ms, -1_i64);
        let until = query.end_ms.unwrap_or(i64::MAX);
        loop {
            let rows = stmt
                .query_map(
                    params![after.0, after.1, until, query.request_id, LOCAL_PAGE],
                    |row| {
                        Ok((
                            row.get::<_, i64>(0)?,
                            row.get::<_, i64>(1)?,
                            row.get::<_, String>(2)?,
                            row.get::<_, String>(3)?,
                            row.get::<_, Option<String>>(4)?,
                            row.get::<_, String>(5)?,
                        ))
                    },
                )?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            let full = rows.len() as i64 == LOCAL_PAGE;
            for (id, timestamp_ms, function, stream, request_id, message) in rows {
                after = (timestamp_ms, id);
                let Some(group) = self.groups.iter().find(|g| g.function == function) else {
                    continue;
                };
                // An `END`/`REPORT` row is two lines (the second's id gets a suffix).
                let (first, second) = store::split_platform(&message);
                let lines = [
                    Some((id.to_string(), first)),
                    second.map(|s| (format!("{id}.1"), s)),
                ];
                for (id, message) in lines.into_iter().flatten() {
                    if pattern.as_ref().is_some_and(|p| !p.matches(message)) {
                        continue;
                    }
                    let event = Event {
                        id,
                        timestamp_ms,
                        function: function.clone(),
                        group: group.name.clone(),
                        stream: stream.clone(),
                        message: message.to_owned(),
                        request_id: request_id.clone(),
                    };
                    if !emit(event) {
                        return Ok(());
                    }
                }
            }
            if !full {
                return Ok(());
            }
        }
    }
}

//! Function logs of the local cloud: every line a function prints is shown on the terminal
//! (`HH:MM:SS.mmm <function> [<request id prefix>] <message>`, colour on a TTY) and kept in
//! the store, with its log stream and request id, so `portico logs --local` can show it later
//! in the same format as the CloudWatch logs of a deployed app.
//!
//! Lambda's own lines (`START`, `END`, `REPORT`, …) are kept but not printed, as `portico
//! logs` hides them by default. Printing and storing happen on one dedicated thread: callers
//! only queue a line, so a slow terminal or a busy database never stalls a request.
//!
//! The writer works in batches: woken by a line, it waits `LINGER` for more, prints them
//! all with one write, and commits them to the store in one transaction (of at most
//! `BATCH_LINES` lines). Under load a wake-up thus handles dozens of lines instead of one.
//! Transactions stay small on purpose: the writer shares the CPUs with the gateway and the
//! function processes, and a long burst of database work delays whatever waits for the core
//! it holds — with 50 ms transactions (about 1,500 lines under load) the 99th percentile of
//! the gateway's latency was 3.1 ms; with one per wake-up, 2.2 ms (docs/benchmarks.md). The
//! store keeps [`KEEP_LOGS_FOR`] and at most [`KEEP_LOG_LINES`] lines: older ones are pruned
//! when the writer starts and then after every `PRUNE_AFTER_LINES` stored lines, in
//! equally small steps.

use crate::clock::now_ms;
use std::fmt::Write as _;
use std::io::Write;
use std::sync::Arc;
#[cfg(test)]
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::time::{Duration, Instant};

use crate::color;
use crate::store::{LogRecord, Store};

/// How many lines may wait for the writer thread; past that, lines are dropped and counted
/// (a function printing faster than the terminal can show must not eat all memory).
const QUEUE_LINES: usize = 65_536;

/// How long the writer, woken by a line, waits for more before printing them: while it
/// sleeps, queueing a line wakes nobody (no system call for the sender).
const LINGER: Duration = Duration::from_millis(2);

/// Stored lines are committed at most this long after the first of them was taken: at the
/// end of the wake-up that took them.
const COMMIT_EVERY: Duration = LINGER;

/// Lines written to the store in one transaction, at most.
const BATCH_LINES: usize = 1_024;

/// Function logs older than this are pruned from the store (like a log group's retention).
pub const KEEP_LOGS_FOR: Duration = Duration::from_secs(7 * 24 * 3600);

/// The store keeps at most this many rows of function logs (about 55 MB; each request
/// through the gateway stores two: `START`, and `END` with `REPORT`).
pub const KEEP_LOG_LINES: u64 = 200_000;

/// The store is pruned after this many lines were stored since the last pruning (and when
/// the writer starts).
const PRUNE_AFTER_LINES: u64 = 1_000;

/// Rows deleted per transaction when pruning; queued lines are printed in between.
const PRUNE_CHUNK: usize = 1_000;

/// After pruning, the file is rewritten (`VACUUM`) when more than half of it, and at least
/// this much, is free pages: once, after a store grew large before pruning existed.
const SHRINK_MIN_BYTES: u64 = 32 * 1024 * 1024;

/// Whether terminal output is coloured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// ANSI colours: function name and request id coloured, timestamp dimmed.
    Color,
    /// Plain text.
    Plain,
}

impl Style {
    /// [`Style::Color`] when stdout takes colour (a terminal, no `NO_COLOR`: see
    /// [`crate::color`]), else [`Style::Plain`].
    pub fn detect() -> Self {
        if crate::color::stdout_has_color() {
            Self::Color
        } else {
            Self::Plain
        }
    }
}

/// Where printed lines go: the terminal, or a buffer in tests.
#[derive(Clone)]
enum Output {
    Stdout,
    #[cfg(test)]
    Buffer(Arc<Mutex<Vec<u8>>>),
}

enum Message {
    /// A line to store, and to print when `print` is set.
    Line { record: LogRecord, print: bool },
    /// One of portico's own lines: printed only.
    System { timestamp_ms: i64, message: String },
    /// Answered once everything queued before it is printed and stored.
    Flush(tokio::sync::oneshot::Sender<()>),
}

/// The local cloud's log sink: cheap to clone, safe to call from any thread or task.
#[derive(Clone)]
pub struct LogSink {
    inner: Arc<Inner>,
}

struct Inner {
    queue: SyncSender<Message>,
    dropped: Arc<AtomicU64>,
}

impl LogSink {
    /// Starts the writer thread, which prints lines in `style` to stdout and appends them to
    /// `store` in batches.
    pub fn start(store: Arc<Store>, style: Style) -> Self {
        Self::start_with(store, style, Output::Stdout)
    }

    /// A sink printing into a buffer instead of stdout, for tests.
    #[cfg(test)]
    pub(crate) fn to_buffer(store: Arc<Store>, style: Style) -> (Self, Arc<Mutex<Vec<u8>>>) {
        let buffer = Arc::new(Mutex::new(Vec::new()));
        let sink = Self::start_with(store, style, Output::Buffer(Arc::clone(&buffer)));
        (sink, buffer)
    }

    fn start_with(store: Arc<Store>, style: Style, output: Output) -> Self {
        let (queue, rx) = std::sync::mpsc::sync_channel(QUEUE_LINES);
        let dropped = Arc::new(AtomicU64::new(0));
        let writer = Writer {
            store,
            style,
            output,
            dropped: Arc::clone(&dropped),
            store_failed: false,
            text: String::new(),
            records: Vec::new(),
            first_pending: None,
            flushes: Vec::new(),
            stored_since_prune: 0,
            pruned_before: false,
        };
        // Without the thread nothing would be printed or stored; the queue then fills up and
        // lines are counted as dropped, which is the best that can be done.
        let _ = std::thread::Builder::new()
            .name("portico-logs".to_owned())
            .spawn(move || writer.run(&rx));
        Self {
            inner: Arc::new(Inner { queue, dropped }),
        }
    }

    /// Queues a line a function printed: shown on the terminal and stored.
    ///
    /// `function` is the entry-point name (`api` or a schedule), `stream` the process's log
    /// stream name, `request_id` the invocation the process was running, if any.
    pub fn line(&self, function: &str, stream: &str, request_id: Option<&str>, message: &str) {
        self.record(function, stream, request_id, message, true);
    }

    /// Queues one of Lambda's own lines (`START`, `END`, `REPORT`, …): stored, not printed.
    pub fn platform(&self, function: &str, stream: &str, request_id: Option<&str>, message: &str) {
        self.record(function, stream, request_id, message, false);
    }

    fn record(
        &self,
        function: &str,
        stream: &str,
        request_id: Option<&str>,
        message: &str,
        print: bool,
    ) {
        let record = LogRecord {
            timestamp_ms: now_ms(),
            function: function.to_owned(),
            stream: stream.to_owned(),
            request_id: request_id.map(str::to_owned),
            message: message.to_owned(),
        };
        self.send(Message::Line { record, print });
    }

    /// Prints one of portico's own status lines (not stored).
    pub fn system(&self, message: &str) {
        self.send(Message::System {
            timestamp_ms: now_ms(),
            message: message.to_owned(),
        });
    }

    fn send(&self, message: Message) {
        match self.inner.queue.try_send(message) {
            Ok(()) => {}
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                self.inner.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Waits until every line queued so far is printed and stored.
    pub async fn flush(&self) {
        let (done, wait) = tokio::sync::oneshot::channel();
        let mut message = Message::Flush(done);
        loop {
            match self.inner.queue.try_send(message) {
                Ok(()) => break,
                Err(TrySendError::Disconnected(_)) => return,
                Err(TrySendError::Full(back)) => {
                    message = back;
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
            }
        }
        let _ = wait.await;
    }
}

struct Writer {
    store: Arc<Store>,
    style: Style,
    output: Output,
    dropped: Arc<AtomicU64>,
    store_failed: bool,
    /// Rendered lines not printed yet.
    text: String,
    /// Lines not stored yet, and when the first of them was taken.
    records: Vec<LogRecord>,
    first_pending: Option<Instant>,
    /// Flushes waiting for the lines queued before them.
    flushes: Vec<tokio::sync::oneshot::Sender<()>>,
    stored_since_prune: u64,
    /// Whether the start-up pruning ran.
    pruned_before: bool,
}

impl Writer {
    fn run(mut self, rx: &Receiver<Message>) {
        self.prune(rx);
        loop {
            // Idle, wait for a line; with lines not stored yet, at most until they are due.
            let first = match self.first_pending {
                None => match rx.recv() {
                    Ok(message) => message,
                    Err(_) => break,
                },
                Some(first) => {
                    let due = (first + COMMIT_EVERY).saturating_duration_since(Instant::now());
                    match rx.recv_timeout(due) {
                        Ok(message) => message,
                        Err(RecvTimeoutError::Timeout) => {
                            self.commit();
                            continue;
                        }
                        Err(RecvTimeoutError::Disconnected) => break,
                    }
                }
            };
            // A flush has someone waiting: no lingering then.
            let lingers = !matches!(first, Message::Flush(_));
            self.take(first);
            if lingers {
                std::thread::sleep(LINGER);
            }
            self.take_queued(rx);
            self.write_out();
            if self.stored_since_prune >= PRUNE_AFTER_LINES {
                self.prune(rx);
            }
        }
        self.commit();
        self.print_pending();
        for done in self.flushes.drain(..) {
            let _ = done.send(());
        }
    }

    /// Takes what is queued now, without waiting (up to a batch of lines to store).
    fn take_queued(&mut self, rx: &Receiver<Message>) {
        while self.records.len() < BATCH_LINES {
            match rx.try_recv() {
                Ok(message) => self.take(message),
                Err(_) => break,
            }
        }
    }

    fn take(&mut self, message: Message) {
        match message {
            Message::Line { record, print } => {
                if print {
                    write_line(
                        &mut self.text,
                        record.timestamp_ms,
                        &record.function,
                        record.request_id.as_deref(),
                        &record.message,
                        self.style,
                    );
                    self.text.push('\n');
                }
                if self.first_pending.is_none() {
                    self.first_pending = Some(Instant::now());
                }
                self.records.push(record);
            }
            Message::System {
                timestamp_ms,
                message,
            } => {
                write_system(&mut self.text, timestamp_ms, &message, self.style);
                self.text.push('\n');
            }
            Message::Flush(done) => self.flushes.push(done),
        }
    }

    /// Prints what was taken; stores it when due (or asked to by a flush); answers flushes.
    fn write_out(&mut self) {
        self.print_pending();
        let due = self
            .first_pending
            .is_some_and(|first| first.elapsed() >= COMMIT_EVERY);
        if due || !self.flushes.is_empty() || self.records.len() >= BATCH_LINES {
            self.commit();
        }
        for done in self.flushes.drain(..) {
            let _ = done.send(());
        }
    }

    fn print_pending(&mut self) {
        let dropped = self.dropped.swap(0, Ordering::Relaxed);
        if dropped > 0 {
            let message = format!(
                "{dropped} log line(s) dropped: functions print faster than they can be shown"
            );
            write_system(&mut self.text, now_ms(), &message, self.style);
            self.text.push('\n');
        }
        if !self.text.is_empty() {
            self.print(&self.text);
            self.text.clear();
        }
    }

    fn print(&self, text: &str) {
        match &self.output {
            Output::Stdout => {
                let mut out = std::io::stdout().lock();
                let _ = out.write_all(text.as_bytes());
                let _ = out.flush();
            }
            #[cfg(test)]
            Output::Buffer(buffer) => buffer
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .extend_from_slice(text.as_bytes()),
        }
    }

    /// Stores the lines taken so far, in one transaction.
    fn commit(&mut self) {
        self.first_pending = None;
        if self.records.is_empty() {
            return;
        }
        match self.store.append_logs(&self.records) {
            Ok(()) => {
                self.store_failed = false;
                self.stored_since_prune += self.records.len() as u64;
            }
            Err(err) => self.store_failed(&err),
        }
        self.records.clear();
    }

    fn store_failed(&mut self, err: &rusqlite::Error) {
        // Said once per run of failures, not once per batch.
        if !self.store_failed {
            let message = format!("cannot keep function logs in the local database: {err}");
            let mut line = String::new();
            write_system(&mut line, now_ms(), &message, self.style);
            line.push('\n');
            self.print(&line);
        }
        self.store_failed = true;
    }

    /// Deletes what is past the retention (and, after a large first pruning, shrinks the
    /// file). Lines queued meanwhile are printed and stored between the delete transactions.
    fn prune(&mut self, rx: &Receiver<Message>) {
        self.stored_since_prune = 0;
        let store = Arc::clone(&self.store);
        let before_ms =
            now_ms().saturating_sub(i64::try_from(KEEP_LOGS_FOR.as_millis()).unwrap_or(i64::MAX));
        let pruned = store.prune_logs(before_ms, KEEP_LOG_LINES, PRUNE_CHUNK, || {
            self.take_queued(rx);
            self.write_out();
        });
        // Only at start-up: later prunings free about what the writer stores next.
        let first = !std::mem::replace(&mut self.pruned_before, true);
        let shrunk = match pruned {
            Ok(n) if first && n >= PRUNE_CHUNK as u64 => {
                store.shrink_if_mostly_free(SHRINK_MIN_BYTES)
            }
            Ok(_) => Ok(false),
            Err(err) => Err(err),
        };
        if let Err(err) = shrunk {
            self.store_failed(&err);
        }
    }
}

/// Keeps a failure that repeats (a retry loop against a broken database) from flooding the
/// log: the first failure is said at once, later ones at most once per `every`, with how many
/// happened meanwhile; the first success after failures says so.
#[derive(Debug)]
pub struct FailureLog {
    every: Duration,
    /// When a failure was last said.
    last_said: Option<Instant>,
    /// Failures since then that were not said.
    unsaid: u64,
    /// Failures since the last success.
    total: u64,
}

impl FailureLog {
    /// Says at most one line per `every`.
    pub fn new(every: Duration) -> Self {
        Self {
            every,
            last_said: None,
            unsaid: 0,
            total: 0,
        }
    }

    /// A failure at `now`: the line to log, or `None` when it is too soon after the last.
    pub fn failed(&mut self, now: Instant, message: &str) -> Option<String> {
        self.total += 1;
        let due = self
            .last_said
            .is_none_or(|last| now.saturating_duration_since(last) >= self.every);
        if !due {
            self.unsaid += 1;
            return None;
        }
        let line = match std::mem::take(&mut self.unsaid) {
            0 => message.to_owned(),
            n => format!(
                "{message} (and {n} more time(s) in the last {} s)",
                now.saturating_duration_since(self.last_said.unwrap_or(now))
                    .as_secs()
            ),
        };
        self.last_said = Some(now);
        Some(line)
    }

    /// A success: the line to log when failures came before it.
    pub fn succeeded(&mut self) -> Option<String> {
        let total = std::mem::take(&mut self.total);
        self.unsaid = 0;
        self.last_said = None;
        (total > 0).then(|| format!("recovered after {total} failure(s)"))
    }
}

/// A stored log line as the terminal shows it (and `portico logs` prints it):
/// `HH:MM:SS.mmm <function> [<first 8 chars of the request id>] <message>`, time in UTC.
#[allow(dead_code, reason = "for `portico logs`, which reads the stored lines")]
pub fn render(record: &LogRecord, style: Style) -> String {
    render_line(
        record.timestamp_ms,
        &record.function,
        record.request_id.as_deref(),
        &record.message,
        style,
    )
}

/// [`render`] from its parts.
#[allow(dead_code, reason = "for `portico logs`, which reads the stored lines")]
pub fn render_line(
    timestamp_ms: i64,
    function: &str,
    request_id: Option<&str>,
    message: &str,
    style: Style,
) -> String {
    let mut out = String::new();
    write_line(&mut out, timestamp_ms, function, request_id, message, style);
    out
}

/// [`render_line`], appended to `out`.
fn write_line(
    out: &mut String,
    timestamp_ms: i64,
    function: &str,
    request_id: Option<&str>,
    message: &str,
    style: Style,
) {
    let id = request_id.map(|id| id.get(..8).unwrap_or(id));
    match style {
        Style::Plain => {
            write_clock_time(out, timestamp_ms);
            out.push(' ');
            out.push_str(function);
            if let Some(id) = id {
                out.push_str(" [");
                out.push_str(id);
                out.push(']');
            }
        }
        Style::Color => {
            write_dim_clock_time(out, timestamp_ms);
            out.push(' ');
            color::push(out, color::of_name(function), function);
            if let Some(id) = id {
                out.push(' ');
                color::push(out, color::DIM, "[");
                color::push(out, color::of_name(id), id);
                color::push(out, color::DIM, "]");
            }
        }
    }
    out.push(' ');
    out.push_str(message);
}

/// One of portico's own lines, `HH:MM:SS.mmm <message>`, appended to `out`.
fn write_system(out: &mut String, timestamp_ms: i64, message: &str, style: Style) {
    match style {
        Style::Plain => write_clock_time(out, timestamp_ms),
        Style::Color => write_dim_clock_time(out, timestamp_ms),
    }
    out.push(' ');
    out.push_str(message);
}

/// [`write_clock_time`], dimmed.
fn write_dim_clock_time(out: &mut String, timestamp_ms: i64) {
    let _ = write!(out, "{}", color::DIM);
    write_clock_time(out, timestamp_ms);
    let _ = write!(out, "{:#}", color::DIM);
}

/// Whether `message` is one of Lambda's own lines, which `portico logs` hides by default.
#[allow(dead_code, reason = "for `portico logs`, which reads the stored lines")]
pub fn is_platform_line(message: &str) -> bool {
    [
        "START RequestId:",
        "END RequestId:",
        "REPORT RequestId:",
        "INIT_START ",
        "INIT_REPORT ",
    ]
    .iter()
    .any(|prefix| message.starts_with(prefix))
}

/// `HH:MM:SS.mmm` (UTC) of a Unix time in milliseconds.
#[cfg(test)]
fn clock_time(timestamp_ms: i64) -> String {
    let mut out = String::new();
    write_clock_time(&mut out, timestamp_ms);
    out
}

/// `clock_time`, appended to `out`.
fn write_clock_time(out: &mut String, timestamp_ms: i64) {
    crate::clock::write_time_of_day(out, timestamp_ms);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn printed(buffer: &Mutex<Vec<u8>>) -> String {
        String::from_utf8(buffer.lock().unwrap().clone()).unwrap()
    }

    #[tokio::test]
    async fn lines_are_printed_and_stored_platform_lines_only_stored() {
        let store = Arc::new(Store::in_memory());
        let (sink, buffer) = LogSink::to_buffer(Arc::clone(&store), Style::Plain);
        sink.platform(
            "api",
            "s1",
            Some("0123456789abcdef"),
            "START RequestId: 0123456789abcdef Version: $LATEST",
        );
        sink.line("api", "s1", Some("0123456789abcdef"), "hello");
        sink.line("tick", "s2", None, "between invocations");
        sink.system("api [01234567] 200 in 3 ms");
        sink.flush().await;

        let out = printed(&buffer);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 3, "{out}");
        assert!(lines[0].ends_with(" api [01234567] hello"), "{out}");
        assert!(lines[1].ends_with(" tick between invocations"), "{out}");
        assert!(lines[2].ends_with(" api [01234567] 200 in 3 ms"), "{out}");
        assert_eq!(lines[0].as_bytes()[2], b':');
        assert_eq!(lines[0].as_bytes()[8], b'.');

        let stored = store.logs_between(0, i64::MAX, 10).unwrap();
        let messages: Vec<(&str, Option<&str>, &str)> = stored
            .iter()
            .map(|r| {
                (
                    r.function.as_str(),
                    r.request_id.as_deref(),
                    r.message.as_str(),
                )
            })
            .collect();
        assert_eq!(
            messages,
            [
                (
                    "api",
                    Some("0123456789abcdef"),
                    "START RequestId: 0123456789abcdef Version: $LATEST"
                ),
                ("api", Some("0123456789abcdef"), "hello"),
                ("tick", None, "between invocations"),
            ]
        );
        assert_eq!(stored[0].stream, "s1");
    }

    #[tokio::test]
    async fn many_lines_from_many_threads_all_arrive() {
        let store = Arc::new(Store::in_memory());
        let (sink, _buffer) = LogSink::to_buffer(Arc::clone(&store), Style::Plain);
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let sink = sink.clone();
                std::thread::spawn(move || {
                    for i in 0..2_000 {
                        sink.line("api", "s", None, &format!("{t}-{i}"));
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        sink.flush().await;
        assert_eq!(
            store.logs_between(0, i64::MAX, 100_000).unwrap().len(),
            8_000
        );
    }

    #[tokio::test]
    async fn the_writer_prunes_what_is_past_the_retention_when_it_starts() {
        let store = Arc::new(Store::in_memory());
        let line = |timestamp_ms, message: &str| LogRecord {
            timestamp_ms,
            function: "api".to_owned(),
            stream: "s".to_owned(),
            request_id: None,
            message: message.to_owned(),
        };
        let keep_ms = i64::try_from(KEEP_LOGS_FOR.as_millis()).unwrap();
        let now = now_ms();
        store
            .append_logs(&[
                line(now - keep_ms - 60_000, "too old"),
                line(now - keep_ms + 60_000, "old enough"),
            ])
            .unwrap();
        let (sink, _buffer) = LogSink::to_buffer(Arc::clone(&store), Style::Plain);
        sink.line("api", "s", None, "new");
        sink.flush().await;
        let left: Vec<String> = store
            .logs_between(0, i64::MAX, 10)
            .unwrap()
            .into_iter()
            .map(|r| r.message)
            .collect();
        assert_eq!(left, ["old enough", "new"]);
    }

    #[test]
    fn a_repeated_failure_is_said_once_then_at_most_every_period() {
        let start = Instant::now();
        let at = |secs: u64| start + Duration::from_secs(secs);
        let mut log = FailureLog::new(Duration::from_secs(30));
        assert_eq!(log.failed(at(0), "db failed").as_deref(), Some("db failed"));
        // A retry every second for 29 s: nothing said.
        for s in 1..30 {
            assert_eq!(log.failed(at(s), "db failed"), None, "at {s} s");
        }
        assert_eq!(
            log.failed(at(30), "db failed").as_deref(),
            Some("db failed (and 29 more time(s) in the last 30 s)")
        );
        assert_eq!(log.failed(at(31), "db failed"), None);
        assert_eq!(
            log.succeeded().as_deref(),
            Some("recovered after 32 failure(s)")
        );
        assert_eq!(log.succeeded(), None);
        // After a recovery the next failure is news again.
        assert_eq!(
            log.failed(at(32), "db failed").as_deref(),
            Some("db failed")
        );
    }

    #[test]
    fn rendering() {
        // 2024-02-29T13:04:05.006Z
        let t = 1_709_211_845_006;
        assert_eq!(clock_time(t), "13:04:05.006");
        assert_eq!(crate::clock::utc_date_path(t), "2024/02/29");
        assert_eq!(crate::clock::utc_date_path(0), "1970/01/01");
        assert_eq!(
            render_line(t, "api", Some("a1b2c3d4-0000"), "hi", Style::Plain),
            "13:04:05.006 api [a1b2c3d4] hi"
        );
        assert_eq!(
            render_line(t, "api", Some("short"), "hi", Style::Plain),
            "13:04:05.006 api [short] hi"
        );
        let colored = render_line(t, "api", Some("a1b2c3d4-0000"), "hi", Style::Color);
        let (api, id) = (
            crate::color::of_name("api").render().to_string(),
            crate::color::of_name("a1b2c3d4").render().to_string(),
        );
        assert_eq!(
            colored,
            format!(
                "\x1b[2m13:04:05.006\x1b[0m {api}api\x1b[0m \x1b[2m[\x1b[0m{id}a1b2c3d4\x1b[0m\x1b[2m]\x1b[0m hi"
            )
        );
        assert!(api.starts_with("\x1b[") && id.starts_with("\x1b["));
        assert!(is_platform_line("REPORT RequestId: x\tDuration: 1.00 ms"));
        assert!(!is_platform_line("STARTED something"));
    }
}

//! Function logs of the local cloud: every line a function prints is shown on the terminal
//! (`HH:MM:SS.mmm <function> [<request id prefix>] <message>`, colour on a TTY) and kept in
//! the store, with its log stream and request id, so `portico logs --local` can show it later
//! in the same format as the CloudWatch logs of a deployed app.
//!
//! Lambda's own lines (`START`, `END`, `REPORT`, …) are kept but not printed, as `portico
//! logs` hides them by default. Printing and storing happen on one dedicated thread: callers
//! only queue a line, so a slow terminal or a busy database never stalls a request.

use std::io::{IsTerminal, Write};
use std::sync::Arc;
#[cfg(test)]
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::store::{LogRecord, Store};

/// How many lines may wait for the writer thread; past that, lines are dropped and counted
/// (a function printing faster than the terminal can show must not eat all memory).
const QUEUE_LINES: usize = 65_536;

/// Lines written to the store in one transaction, at most.
const BATCH_LINES: usize = 1_024;

/// Whether terminal output is coloured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// ANSI colours: function name and request id coloured, timestamp dimmed.
    Color,
    /// Plain text.
    Plain,
}

impl Style {
    /// [`Style::Color`] when stdout is a terminal and `NO_COLOR` is not set to a non-empty
    /// value (<https://no-color.org>), else [`Style::Plain`].
    pub fn detect() -> Self {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        if std::io::stdout().is_terminal() && !no_color {
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
}

impl Writer {
    fn run(mut self, rx: &Receiver<Message>) {
        let mut records = Vec::new();
        let mut text = String::new();
        let mut flushes = Vec::new();
        // Each round takes what is queued (up to a batch), prints it with one write and
        // stores it in one transaction.
        while let Ok(first) = rx.recv() {
            let mut next = Some(first);
            while let Some(message) = next.take() {
                match message {
                    Message::Line { record, print } => {
                        if print {
                            text.push_str(&render(&record, self.style));
                            text.push('\n');
                        }
                        records.push(record);
                    }
                    Message::System {
                        timestamp_ms,
                        message,
                    } => {
                        text.push_str(&render_system(timestamp_ms, &message, self.style));
                        text.push('\n');
                    }
                    Message::Flush(done) => flushes.push(done),
                }
                if records.len() < BATCH_LINES {
                    next = rx.try_recv().ok();
                }
            }
            let dropped = self.dropped.swap(0, Ordering::Relaxed);
            if dropped > 0 {
                let message = format!(
                    "{dropped} log line(s) dropped: functions print faster than they can be shown"
                );
                text.push_str(&render_system(now_ms(), &message, self.style));
                text.push('\n');
            }
            self.print(&text);
            self.store(&records);
            text.clear();
            records.clear();
            for done in flushes.drain(..) {
                let _ = done.send(());
            }
        }
    }

    fn print(&self, text: &str) {
        if text.is_empty() {
            return;
        }
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

    fn store(&mut self, records: &[LogRecord]) {
        if records.is_empty() {
            return;
        }
        match self.store.append_logs(records) {
            Ok(()) => self.store_failed = false,
            Err(err) => {
                // Said once per run of failures, not once per batch.
                if !self.store_failed {
                    let message = format!("cannot keep function logs in the local database: {err}");
                    self.print(&format!(
                        "{}\n",
                        render_system(now_ms(), &message, self.style)
                    ));
                }
                self.store_failed = true;
            }
        }
    }
}

/// A stored log line as the terminal shows it (and `portico logs` prints it):
/// `HH:MM:SS.mmm <function> [<first 8 chars of the request id>] <message>`, time in UTC.
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
pub fn render_line(
    timestamp_ms: i64,
    function: &str,
    request_id: Option<&str>,
    message: &str,
    style: Style,
) -> String {
    let time = clock_time(timestamp_ms);
    let id = request_id.map(|id| id.get(..8).unwrap_or(id));
    match style {
        Style::Plain => match id {
            Some(id) => format!("{time} {function} [{id}] {message}"),
            None => format!("{time} {function} {message}"),
        },
        Style::Color => {
            let name = format!("\x1b[{}m{function}\x1b[0m", palette(function));
            match id {
                Some(id) => format!(
                    "{DIM}{time}{RESET} {name} {DIM}[\x1b[{}m{id}\x1b[0m{DIM}]{RESET} {message}",
                    palette(id)
                ),
                None => format!("{DIM}{time}{RESET} {name} {message}"),
            }
        }
    }
}

/// One of portico's own lines: `HH:MM:SS.mmm <message>`.
fn render_system(timestamp_ms: i64, message: &str, style: Style) -> String {
    let time = clock_time(timestamp_ms);
    match style {
        Style::Plain => format!("{time} {message}"),
        Style::Color => format!("{DIM}{time}{RESET} {message}"),
    }
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

const DIM: &str = "\x1b[2m";
const RESET: &str = "\x1b[0m";

/// A stable colour per name, so each function (and each request) keeps its colour.
fn palette(name: &str) -> u8 {
    const COLORS: [u8; 6] = [36, 35, 33, 32, 34, 96];
    // FNV-1a: stable across runs, unlike std's hasher.
    let hash = name.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    COLORS[(hash % COLORS.len() as u64) as usize]
}

/// Milliseconds since the Unix epoch, now.
pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// `HH:MM:SS.mmm` (UTC) of a Unix time in milliseconds.
fn clock_time(timestamp_ms: i64) -> String {
    let ms = timestamp_ms.rem_euclid(86_400_000);
    format!(
        "{:02}:{:02}:{:02}.{:03}",
        ms / 3_600_000,
        ms / 60_000 % 60,
        ms / 1_000 % 60,
        ms % 1_000
    )
}

/// `YYYY/MM/DD` (UTC) of a Unix time in milliseconds, as in Lambda log stream names.
pub(crate) fn utc_date_path(timestamp_ms: i64) -> String {
    let (y, m, d) = civil_from_days(timestamp_ms.div_euclid(86_400_000));
    format!("{y:04}/{m:02}/{d:02}")
}

/// Days since 1970-01-01 → (year, month, day); Howard Hinnant's `civil_from_days`.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
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

    #[test]
    fn rendering() {
        // 2024-02-29T13:04:05.006Z
        let t = 1_709_211_845_006;
        assert_eq!(clock_time(t), "13:04:05.006");
        assert_eq!(utc_date_path(t), "2024/02/29");
        assert_eq!(utc_date_path(0), "1970/01/01");
        assert_eq!(
            render_line(t, "api", Some("a1b2c3d4-0000"), "hi", Style::Plain),
            "13:04:05.006 api [a1b2c3d4] hi"
        );
        assert_eq!(
            render_line(t, "api", Some("short"), "hi", Style::Plain),
            "13:04:05.006 api [short] hi"
        );
        let colored = render_line(t, "api", Some("a1b2c3d4-0000"), "hi", Style::Color);
        let palette_id = palette("a1b2c3d4");
        assert_eq!(
            colored,
            format!(
                "\x1b[2m13:04:05.006\x1b[0m \x1b[{}mapi\x1b[0m \x1b[2m[\x1b[{palette_id}ma1b2c3d4\x1b[0m\x1b[2m]\x1b[0m hi",
                palette("api")
            )
        );
        assert_eq!(palette("api"), palette("api"));
        assert!(is_platform_line("REPORT RequestId: x\tDuration: 1.00 ms"));
        assert!(!is_platform_line("STARTED something"));
    }
}

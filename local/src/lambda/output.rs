//! A function process's stdout and stderr, line by line into the log sink, and its peak
//! memory.

use std::io;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::net::unix::pipe;
use tokio::sync::{oneshot, watch};

use crate::lambda::support::lock;
use crate::logs::LogSink;
use crate::store;

/// A log line longer than this is cut into several (CloudWatch's event limit is 256 KiB).
pub(crate) const MAX_LOG_LINE: usize = 256 * 1024;

/// How long the output of an exited process is awaited (its pipes stay open while a process
/// it started lives on).
pub(crate) const EXITED_OUTPUT_WAIT: Duration = Duration::from_millis(200);

/// A process's stdout and stderr, read line by line into the sink with the request id of the
/// invocation the process is running.
///
/// Its pump task reads output as it arrives; the host itself, when an invocation starts or
/// ends, first takes whatever the process already wrote (without waiting) and then writes
/// `START` or `END`/`REPORT`, under the same lock. So a line printed just before the response
/// is posted still belongs to its invocation, and the invocation's lines are in the sink
/// before the invocation returns, without a round trip through the pump task.
pub(crate) struct Output {
    pub(crate) logs: LogSink,
    pub(crate) function: String,
    pub(crate) stream: String,
    /// stdout and stderr; `None` when a pipe could not be set up.
    pub(crate) pipes: [Option<pipe::Receiver>; 2],
    pub(crate) state: Mutex<OutputState>,
    /// Turns true once both pipes reached their end.
    pub(crate) closed: watch::Sender<bool>,
}

pub(crate) struct OutputState {
    pub(crate) readers: [LineReader; 2],
    /// The invocation the process is running.
    pub(crate) current: Option<String>,
}

impl Output {
    pub(crate) fn new(
        logs: LogSink,
        function: String,
        stream: String,
        pipes: [Option<pipe::Receiver>; 2],
    ) -> Self {
        let readers = [
            LineReader::new(pipes[0].is_some()),
            LineReader::new(pipes[1].is_some()),
        ];
        Self {
            logs,
            function,
            stream,
            pipes,
            state: Mutex::new(OutputState {
                readers,
                current: None,
            }),
            closed: watch::channel(false).0,
        }
    }

    /// Takes what the pipes hold now (stdout first), without waiting, and hands out its
    /// complete lines as the current invocation's.
    pub(crate) fn take_available(&self, state: &mut OutputState) {
        let OutputState { readers, current } = state;
        for (reader, pipe) in readers.iter_mut().zip(&self.pipes) {
            if let Some(pipe) = pipe {
                reader.pull(pipe, |line| {
                    self.logs
                        .line(&self.function, &self.stream, current.as_deref(), line);
                });
            }
        }
    }

    /// An invocation starts: what was printed before is not part of it; `START`.
    pub(crate) fn begin(&self, request_id: &str) {
        let mut state = lock(&self.state);
        self.take_available(&mut state);
        self.logs.platform(
            &self.function,
            &self.stream,
            Some(request_id),
            &format!("START RequestId: {request_id} Version: $LATEST"),
        );
        state.current = Some(request_id.to_owned());
    }

    /// The invocation ended: what was printed so far is part of it; then `lines` (`true`:
    /// printed on the terminal too), and no invocation is current.
    pub(crate) fn end(&self, lines: Vec<(bool, String)>) {
        let mut state = lock(&self.state);
        self.take_available(&mut state);
        let current = state.current.take();
        self.emit(current.as_deref(), lines);
    }

    /// Lines for a request id that never ran on the process (init failures).
    pub(crate) fn note(&self, request_id: Option<&str>, lines: Vec<(bool, String)>) {
        let mut state = lock(&self.state);
        self.take_available(&mut state);
        self.emit(request_id, lines);
    }

    pub(crate) fn emit(&self, request_id: Option<&str>, lines: Vec<(bool, String)>) {
        let mut lines = lines.into_iter().peekable();
        while let Some((print, mut line)) = lines.next() {
            // `END` and the `REPORT` after it share a row of the store (see
            // `store::split_platform`): one row fewer per invocation.
            if !print && line.starts_with("END RequestId: ") {
                if let Some((_, report)) =
                    lines.next_if(|(print, next)| !print && next.starts_with(store::REPORT_PREFIX))
                {
                    line.push('\n');
                    line.push_str(&report);
                }
            }
            if print {
                self.logs
                    .line(&self.function, &self.stream, request_id, &line);
            } else {
                self.logs
                    .platform(&self.function, &self.stream, request_id, &line);
            }
        }
    }

    /// Waits (at most [`EXITED_OUTPUT_WAIT`]) until the pipes of an exited process are read
    /// to their end: its last lines belong to the invocation it was running.
    pub(crate) async fn wait_closed(&self) {
        let mut closed = self.closed.subscribe();
        let _ = tokio::time::timeout(EXITED_OUTPUT_WAIT, closed.wait_for(|c| *c)).await;
    }
}

/// Reads a process's output as it arrives until both pipes end; then, once the host let go
/// of the process (`released`), hands out the last, unterminated lines.
pub(crate) async fn pump_logs(output: Arc<Output>, released: oneshot::Receiver<()>) {
    loop {
        let open = {
            let state = lock(&output.state);
            [state.readers[0].open, state.readers[1].open]
        };
        if open == [false, false] {
            break;
        }
        tokio::select! {
            () = readable(&output.pipes[0]), if open[0] => {}
            () = readable(&output.pipes[1]), if open[1] => {}
        }
        let mut state = lock(&output.state);
        output.take_available(&mut state);
    }
    output.closed.send_replace(true);
    // Until then an invocation may still end (and `END` come) after the output.
    let _ = released.await;
    let mut state = lock(&output.state);
    let OutputState { readers, current } = &mut *state;
    for reader in readers {
        reader.finish(|line| {
            output
                .logs
                .line(&output.function, &output.stream, current.as_deref(), line);
        });
    }
}

pub(crate) async fn readable(pipe: &Option<pipe::Receiver>) {
    match pipe {
        Some(pipe) => {
            let _ = pipe.readable().await;
        }
        None => std::future::pending().await,
    }
}

/// Splits a pipe's bytes into lines (lossy UTF-8, `\r\n` or `\n`, long lines cut).
pub(crate) struct LineReader {
    pub(crate) open: bool,
    pub(crate) pending: Vec<u8>,
    pub(crate) chunk: Box<[u8]>,
}

impl LineReader {
    pub(crate) fn new(open: bool) -> Self {
        Self {
            open,
            pending: Vec::new(),
            chunk: if open {
                vec![0; 16 * 1024].into_boxed_slice()
            } else {
                Box::default()
            },
        }
    }

    /// Reads what `pipe` holds now, without waiting, handing out every complete line.
    pub(crate) fn pull(&mut self, pipe: &pipe::Receiver, mut emit: impl FnMut(&str)) {
        while self.open {
            match pipe.try_read(&mut self.chunk) {
                Ok(0) => self.open = false,
                Ok(n) => {
                    self.pending.extend_from_slice(&self.chunk[..n]);
                    self.lines(&mut emit);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => self.open = false,
            }
        }
    }

    /// Hands out every complete line.
    pub(crate) fn lines(&mut self, mut emit: impl FnMut(&str)) {
        let mut start = 0;
        while let Some(offset) = self.pending[start..].iter().position(|&b| b == b'\n') {
            let end = start + offset;
            emit_line(&self.pending[start..end], &mut emit);
            start = end + 1;
        }
        while self.pending.len() - start > MAX_LOG_LINE {
            emit_line(&self.pending[start..start + MAX_LOG_LINE], &mut emit);
            start += MAX_LOG_LINE;
        }
        self.pending.drain(..start);
    }

    /// Hands out the last, unterminated line.
    pub(crate) fn finish(&mut self, mut emit: impl FnMut(&str)) {
        self.lines(&mut emit);
        if !self.pending.is_empty() {
            emit_line(&self.pending, &mut emit);
            self.pending.clear();
        }
    }
}

pub(crate) fn emit_line(bytes: &[u8], emit: &mut impl FnMut(&str)) {
    let bytes = bytes.strip_suffix(b"\r").unwrap_or(bytes);
    emit(&String::from_utf8_lossy(bytes));
}

/// How often, at most, a process's peak memory is read from `/proc` (the kernel renders
/// the whole `status` file for it): `Max Memory Used` of back-to-back invocations may be
/// that old. `VmHWM` only grows.
pub(crate) const MEMORY_READ_EVERY: Duration = Duration::from_millis(100);

/// A process's peak resident memory (`VmHWM`, Linux only), from its `/proc/<pid>/status`
/// opened once and read with one `pread` into a reused buffer, at most every
/// [`MEMORY_READ_EVERY`].
pub(crate) struct MemoryGauge {
    pub(crate) file: Option<std::fs::File>,
    pub(crate) buf: Vec<u8>,
    pub(crate) read_at: Option<Instant>,
    pub(crate) mb: Option<u64>,
}

impl MemoryGauge {
    pub(crate) fn open(pid: u32) -> Self {
        Self {
            file: std::fs::File::open(format!("/proc/{pid}/status")).ok(),
            buf: vec![0; 4096],
            read_at: None,
            mb: None,
        }
    }

    /// A reading for when the process cannot be read later (it crashed), without counting as
    /// a fresh one.
    pub(crate) fn prime(&mut self) {
        if let Some(mb) = self.read() {
            self.mb = Some(mb);
        }
    }

    /// The peak in MB (rounded up): read now unless the last reading is recent; the last
    /// good reading when the process cannot be read (it exited).
    pub(crate) fn peak_mb(&mut self) -> Option<u64> {
        if self
            .read_at
            .is_none_or(|at| at.elapsed() >= MEMORY_READ_EVERY)
        {
            self.read_at = Some(Instant::now());
            self.prime();
        }
        self.mb
    }

    pub(crate) fn read(&mut self) -> Option<u64> {
        use std::os::unix::fs::FileExt;
        let n = self.file.as_ref()?.read_at(&mut self.buf, 0).ok()?;
        parse_vm_hwm_kib(&self.buf[..n]).map(|kib| kib.div_ceil(1024))
    }
}

/// The peak resident memory (`VmHWM`, Linux only) of process `pid` in KiB, read from its
/// `/proc/<pid>/status`; `None` when it cannot be read (not Linux, or the process is gone).
pub fn peak_rss_kib(pid: u32) -> Option<u64> {
    parse_vm_hwm_kib(&std::fs::read(format!("/proc/{pid}/status")).ok()?)
}

/// `VmHWM` of a `/proc/<pid>/status` text, in KiB.
fn parse_vm_hwm_kib(status: &[u8]) -> Option<u64> {
    let at = status.windows(6).position(|w| w == b"VmHWM:")?;
    let line = status[at + 6..].split(|&b| b == b'\n').next()?;
    std::str::from_utf8(line)
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

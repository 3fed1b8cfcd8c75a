//! A function process: a child with captured output, exit tracking and peak-memory readings.

use std::io::Read;
use std::process::{Child, ExitStatus};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// What the output readers and the reaper share with the handle (and with the host, which
/// needs to know when its functions are gone).
#[derive(Debug, Default)]
pub(crate) struct ProcessShared {
    state: Mutex<ProcessState>,
    changed: Condvar,
}

#[derive(Debug, Default)]
struct ProcessState {
    /// stdout and stderr interleaved in arrival order.
    combined: Vec<u8>,
    stdout: Vec<u8>,
    stderr: Vec<u8>,
    open_pipes: u8,
    exit: Option<ExitStatus>,
    peak_rss_kib: Option<u64>,
}

impl ProcessShared {
    fn lock(&self) -> MutexGuard<'_, ProcessState> {
        // A panicking reader thread must not hide the output from the test that reads it.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The exit status, once the process has exited.
    pub(crate) fn exit_status(&self) -> Option<ExitStatus> {
        self.lock().exit
    }

    /// What `check` finds in the state, waiting for changes until it finds something or
    /// `timeout` has passed.
    fn wait_until<T>(
        &self,
        timeout: Duration,
        mut check: impl FnMut(&ProcessState) -> Option<T>,
    ) -> Option<T> {
        let deadline = Instant::now() + timeout;
        let mut state = self.lock();
        loop {
            if let Some(found) = check(&state) {
                return Some(found);
            }
            let left = deadline.checked_duration_since(Instant::now())?;
            state = self
                .changed
                .wait_timeout(state, left)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    /// The last `max` bytes of the combined output, for error messages.
    pub(crate) fn output_tail(&self, max: usize) -> String {
        let state = self.lock();
        let start = state.combined.len().saturating_sub(max);
        String::from_utf8_lossy(&state.combined[start..]).into_owned()
    }
}

/// A function process started by [`RuntimeApi::spawn_function`](super::RuntimeApi::spawn_function).
///
/// Its stdout and stderr are captured; dropping the handle kills the process.
#[derive(Debug)]
pub struct FunctionProcess {
    child: Arc<Mutex<Child>>,
    shared: Arc<ProcessShared>,
    pid: u32,
    spawned_at: Instant,
    readers: Vec<JoinHandle<()>>,
}

impl FunctionProcess {
    /// Takes over `child` (spawned with piped stdout and stderr); `on_exit` runs once the
    /// process has exited and been reaped.
    pub(crate) fn watch(
        mut child: Child,
        spawned_at: Instant,
        on_exit: impl Fn() + Send + Sync + 'static,
    ) -> Self {
        let pid = child.id();
        let stdout = child.stdout.take();
        let stderr = child.stderr.take();
        let shared = Arc::new(ProcessShared::default());
        let child = Arc::new(Mutex::new(child));
        let on_exit: Arc<dyn Fn() + Send + Sync> = Arc::new(on_exit);
        let pipes: Vec<(Box<dyn Read + Send>, Stream)> = [
            stdout.map(|p| (Box::new(p) as Box<dyn Read + Send>, Stream::Stdout)),
            stderr.map(|p| (Box::new(p) as Box<dyn Read + Send>, Stream::Stderr)),
        ]
        .into_iter()
        .flatten()
        .collect();
        shared.lock().open_pipes = pipes.len() as u8;
        let readers = pipes
            .into_iter()
            .map(|(pipe, stream)| {
                let shared = Arc::clone(&shared);
                let child = Arc::clone(&child);
                let on_exit = Arc::clone(&on_exit);
                std::thread::Builder::new()
                    .name(format!("fn-{pid}-{stream:?}"))
                    .spawn(move || {
                        if capture(pipe, stream, &shared) {
                            reap(&child, &shared);
                            on_exit();
                        }
                    })
                    .expect("spawning an output reader thread")
            })
            .collect();
        Self {
            child,
            shared,
            pid,
            spawned_at,
            readers,
        }
    }

    pub(crate) fn shared(&self) -> Arc<ProcessShared> {
        Arc::clone(&self.shared)
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// When the process was spawned (just before `exec`), for cold-start measurements.
    pub fn spawned_at(&self) -> Instant {
        self.spawned_at
    }

    /// Whether the process has not exited yet.
    pub fn is_running(&mut self) -> bool {
        if self.shared.exit_status().is_some() {
            return false;
        }
        let status = self
            .child
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .try_wait();
        match status {
            Ok(Some(status)) => {
                self.record_exit(status);
                false
            }
            Ok(None) => true,
            Err(_) => false,
        }
    }

    /// The exit status, if the process has exited and been reaped.
    pub fn exit_status(&self) -> Option<ExitStatus> {
        self.shared.exit_status()
    }

    /// Waits until the process has exited and its output has been read to the end.
    ///
    /// Returns `None` if it is still running after `timeout`.
    pub fn wait_for_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        self.shared.wait_until(timeout, |state| match state {
            ProcessState {
                exit: Some(status),
                open_pipes: 0,
                ..
            } => Some(*status),
            _ => None,
        })
    }

    /// Kills the process (if it still runs) and waits for it and for the rest of its output.
    ///
    /// Reads the peak RSS first, so [`peak_rss_kib`](Self::peak_rss_kib) still answers after.
    pub fn kill(&mut self) {
        let _ = self.peak_rss_kib();
        let status = {
            let mut child = self.child.lock().unwrap_or_else(|e| e.into_inner());
            // Killing an exited (even reaped) child is not an error worth reporting here.
            let _ = child.kill();
            child.wait()
        };
        if let Ok(status) = status {
            self.record_exit(status);
        }
        for reader in self.readers.drain(..) {
            let _ = reader.join();
        }
    }

    fn record_exit(&self, status: ExitStatus) {
        let mut state = self.shared.lock();
        state.exit.get_or_insert(status);
        self.shared.changed.notify_all();
    }

    /// Captured stdout and stderr so far, interleaved in arrival order (lossy UTF-8).
    pub fn output(&self) -> String {
        String::from_utf8_lossy(&self.shared.lock().combined).into_owned()
    }

    /// Captured stdout so far.
    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.shared.lock().stdout).into_owned()
    }

    /// Captured stderr so far.
    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.shared.lock().stderr).into_owned()
    }

    /// Waits until the captured output contains `needle`; returns whether it did before
    /// `timeout` (or before the process exited without printing it).
    pub fn wait_for_output(&self, needle: &str, timeout: Duration) -> bool {
        let found = self.shared.wait_until(timeout, |state| {
            if String::from_utf8_lossy(&state.combined).contains(needle) {
                Some(true)
            } else {
                // No more output to come: it never will.
                (state.open_pipes == 0).then_some(false)
            }
        });
        found.unwrap_or(false)
    }

    /// The process's peak resident set size (`VmHWM` in `/proc/<pid>/status`), in KiB.
    ///
    /// Reads it afresh while the process runs; after [`kill`](Self::kill) (which reads it
    /// just before killing) it is the last reading. `None` if it was never readable (not
    /// Linux, or the process exited on its own before any reading).
    pub fn peak_rss_kib(&self) -> Option<u64> {
        let mut state = self.shared.lock();
        if state.exit.is_none() {
            if let Some(kib) = portico_local::lambda::peak_rss_kib(self.pid) {
                state.peak_rss_kib = Some(state.peak_rss_kib.map_or(kib, |k| k.max(kib)));
            }
        }
        state.peak_rss_kib
    }
}

impl Drop for FunctionProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

#[derive(Debug, Clone, Copy)]
enum Stream {
    Stdout,
    Stderr,
}

/// Copies `pipe` into the shared buffers until end of stream; returns whether this was the
/// last open pipe (so the caller reaps the process).
fn capture(mut pipe: Box<dyn Read + Send>, stream: Stream, shared: &ProcessShared) -> bool {
    let mut buf = [0u8; 8192];
    loop {
        let n = match pipe.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let mut state = shared.lock();
        state.combined.extend_from_slice(&buf[..n]);
        match stream {
            Stream::Stdout => state.stdout.extend_from_slice(&buf[..n]),
            Stream::Stderr => state.stderr.extend_from_slice(&buf[..n]),
        }
        shared.changed.notify_all();
    }
    let mut state = shared.lock();
    state.open_pipes -= 1;
    shared.changed.notify_all();
    state.open_pipes == 0
}

/// Waits for a process whose output pipes have closed. It normally exits right away; one
/// that closed its stdio and lives on is polled (without holding the lock, so `kill` works).
fn reap(child: &Mutex<Child>, shared: &ProcessShared) {
    let mut pause = Duration::from_millis(1);
    loop {
        let status = child.lock().unwrap_or_else(|e| e.into_inner()).try_wait();
        match status {
            Ok(Some(status)) => {
                let mut state = shared.lock();
                state.exit.get_or_insert(status);
                shared.changed.notify_all();
                return;
            }
            Ok(None) => {
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(50));
            }
            Err(_) => return,
        }
    }
}

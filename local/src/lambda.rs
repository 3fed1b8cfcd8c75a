//! The local Lambda: the app's real binary runs as child processes under a Lambda Runtime API
//! host (version `2018-06-01`), as on AWS's `provided.al2023` runtime, with no container.
//!
//! - **One Runtime API listener per process** (127.0.0.1, ephemeral port), so the host always
//!   knows which process holds which invocation, and a request id posted to the wrong process
//!   is refused like AWS does (400 `InvalidRequestID`).
//! - **A pool per function** (the API handler, each schedule): up to
//!   [`FunctionSpec::max_processes`] processes, spawned on demand, reused while healthy;
//!   invocations queue (in order) while all are busy. A process that crashes or times out is
//!   removed and replaced by the next invocation that needs one.
//! - **Outcomes as AWS reports them**: a function error keeps the process; a crash answers
//!   `Runtime exited with error: exit status N`; a timeout kills the process; a process that
//!   dies or posts `/init/error` before its first `/next` fails the invocation with
//!   `Runtime.ExitError` (or the posted error) and further spawns back off for a while.
//! - **Logs**: each process's stdout and stderr go to the [`LogSink`] line by line with the
//!   request id of the invocation it was running, framed by `START`/`END`/`REPORT` lines.
//! - **No process outlives the host**: children run in their own process group (a terminal's
//!   Ctrl-C reaches only `portico`, which then stops them in order), are killed when their
//!   handle drops, and on Linux are started through `setpriv --pdeathsig KILL` when
//!   available, so even a `portico` killed with SIGKILL takes them along.
//! - **Rebuilds** (`--watch`): every process runs a private copy of the binary, so `cargo`
//!   can overwrite the original; [`LambdaHost::replace_binary`] swaps the copy in use.
//!
//! The protocol itself is [`runtime_api`], public and the workspace's only implementation:
//! the end-to-end harness (`portico-e2e`) drives it for processes it starts itself, with
//! [`function_env`] for their environment and [`peak_rss_kib`] for their memory.

mod function;
mod output;
mod process;
pub mod runtime_api;
mod support;

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::Ipv4Addr;
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::Poll;
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::net::TcpListener;
use tokio::net::unix::pipe;
use tokio::sync::{Semaphore, mpsc, oneshot, watch};

use self::function::DEFAULT_REGION;
pub use self::function::{ACCOUNT, FunctionSpec, InvocationResult, InvokeOutcome, function_arn};
pub use self::output::peak_rss_kib;
use self::output::{MemoryGauge, Output, pump_logs};
pub use self::process::function_env;
pub(crate) use self::process::signal_group;
use self::process::{
    BinaryCopy, ExitInfo, STOP_GRACE, Signal, SpawnerJob, SpawnerReply, copy_binary,
    remove_stale_bin_dirs, spawner_call, supervise,
};
pub use self::runtime_api::MAX_RESPONSE_BYTES;
use self::runtime_api::{Answer, Answered, Event, Phase, RuntimeApi};
pub use self::support::new_log_stream;
use self::support::{lock, new_request_id, random_u64};
use crate::logs::LogSink;

/// How long a new process may take to ask for its first invocation (AWS: 10 s).
const INIT_TIMEOUT: Duration = Duration::from_secs(10);

/// After an init failure, no new process is tried for this long (doubling up to
/// [`INIT_BACKOFF_MAX`]); invocations meanwhile get the same error at once.
const INIT_BACKOFF_FIRST: Duration = Duration::from_millis(250);
const INIT_BACKOFF_MAX: Duration = Duration::from_secs(5);

/// The local Lambda service: runs invocations on pools of function processes.
pub struct LambdaHost {
    shared: Arc<HostShared>,
}

struct HostShared {
    functions: Vec<Arc<Function>>,
    logs: LogSink,
    bin_dir: PathBuf,
    generation: AtomicU64,
    stopping: AtomicBool,
    /// Every process not reaped yet, by serial: what [`LambdaHost::shutdown`] waits for.
    live: Arc<Mutex<HashMap<u64, LiveProcess>>>,
    serial: AtomicU64,
}

struct Function {
    spec: FunctionSpec,
    arn: String,
    /// One permit per process the function may run; FIFO, so invocations queue in order.
    slots: Arc<Semaphore>,
    pool: Mutex<Pool>,
}

struct Pool {
    binary: Arc<BinaryCopy>,
    /// Initialized processes waiting for an invocation; the last one is the warmest.
    idle: Vec<Process>,
    init_failure: Option<InitFailure>,
}

/// The last init failure, and until when spawning is paused.
struct InitFailure {
    error: InitError,
    until: Instant,
    backoff: Duration,
}

#[derive(Clone)]
enum InitError {
    /// The process could not be started or exited: AWS's `Runtime.ExitError` and friends.
    Runtime { error_type: String, detail: String },
    /// The process posted `/init/error`.
    Posted {
        error_type: String,
        error_message: String,
    },
    /// The process did not ask for an invocation within [`INIT_TIMEOUT`].
    Timeout,
}

struct LiveProcess {
    control: mpsc::UnboundedSender<Signal>,
    exited: watch::Receiver<Option<ExitInfo>>,
}
impl LambdaHost {
    /// Prepares the functions (copying their binaries to a private directory); processes
    /// start on the first invocation of each function.
    ///
    /// # Errors
    /// When a binary cannot be copied, or two functions share a name.
    pub async fn start(functions: Vec<FunctionSpec>, logs: LogSink) -> io::Result<Arc<Self>> {
        let mut names = std::collections::HashSet::new();
        let mut full_names = std::collections::HashSet::new();
        for spec in &functions {
            if !names.insert(spec.name.as_str()) || !full_names.insert(spec.function_name.as_str())
            {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("two functions are named `{}`", spec.name),
                ));
            }
        }
        remove_stale_bin_dirs();
        let bin_dir = std::env::temp_dir().join(format!(
            "portico-local-{}-{:08x}",
            std::process::id(),
            random_u64() as u32
        ));
        let generation = 1;
        let mut copies: HashMap<PathBuf, Arc<BinaryCopy>> = HashMap::new();
        let mut built = Vec::with_capacity(functions.len());
        for spec in functions {
            let copy = match copies.get(&spec.binary) {
                Some(copy) => Arc::clone(copy),
                None => {
                    let index = copies.len();
                    let dest = bin_dir
                        .join(format!("g{generation}-{index}"))
                        .join("bootstrap");
                    let copy = match copy_binary(&spec.binary, &dest, generation).await {
                        Ok(copy) => Arc::new(copy),
                        Err(err) => {
                            drop(copies);
                            let _ = std::fs::remove_dir_all(&bin_dir);
                            return Err(err);
                        }
                    };
                    copies.insert(spec.binary.clone(), Arc::clone(&copy));
                    copy
                }
            };
            let region = spec
                .env
                .get("AWS_REGION")
                .or_else(|| spec.env.get("AWS_DEFAULT_REGION"))
                .map_or(DEFAULT_REGION, String::as_str);
            let arn = function_arn(region, &spec.function_name);
            built.push(Arc::new(Function {
                slots: Arc::new(Semaphore::new(spec.max_processes.max(1))),
                arn,
                spec,
                pool: Mutex::new(Pool {
                    binary: copy,
                    idle: Vec::new(),
                    init_failure: None,
                }),
            }));
        }
        Ok(Arc::new(Self {
            shared: Arc::new(HostShared {
                functions: built,
                logs,
                bin_dir,
                generation: AtomicU64::new(generation),
                stopping: AtomicBool::new(false),
                live: Arc::new(Mutex::new(HashMap::new())),
                serial: AtomicU64::new(0),
            }),
        }))
    }

    /// Runs one invocation of `function` (entry-point name, full function name or ARN) with
    /// a JSON payload, waiting as long as the function timeout allows (plus queueing and
    /// process start).
    pub async fn invoke(&self, function: &str, payload: Bytes) -> InvocationResult {
        self.invoke_inner(function, payload, None).await
    }

    /// Like [`invoke`](Self::invoke), but gives up waiting after `deadline` (API Gateway's
    /// 29 s integration timeout) and returns [`InvokeOutcome::Timeout`].
    ///
    /// As on AWS, an invocation that already reached a process keeps running until it
    /// answers or hits the function timeout (its logs, `END` and `REPORT` still arrive, and
    /// its process stays busy meanwhile); one still queued for a process is withdrawn.
    pub async fn invoke_with_deadline(
        &self,
        function: &str,
        payload: Bytes,
        deadline: Duration,
    ) -> InvocationResult {
        self.invoke_inner(function, payload, Some(deadline)).await
    }

    async fn invoke_inner(
        &self,
        function: &str,
        payload: Bytes,
        deadline: Option<Duration>,
    ) -> InvocationResult {
        let request_id = new_request_id();
        let Some(target) = self.shared.find(function) else {
            return InvocationResult {
                request_id,
                outcome: InvokeOutcome::UnknownFunction,
                duration: Duration::ZERO,
            };
        };
        let give_up = deadline.map(|deadline| tokio::time::Instant::now() + deadline);
        let timed_out = |request_id| InvocationResult {
            request_id,
            outcome: InvokeOutcome::Timeout,
            duration: deadline.unwrap_or_default(),
        };
        // Queued for a process slot (in order). A caller that stops waiting meanwhile
        // withdraws the invocation: nothing has started.
        let slot = Arc::clone(&target.slots).acquire_owned();
        let permit = match give_up {
            Some(at) => match tokio::time::timeout_at(at, slot).await {
                Ok(permit) => permit,
                Err(_) => return timed_out(request_id),
            },
            None => slot.await,
        };
        let permit = match permit {
            Ok(permit) if !self.shared.stopping.load(Ordering::SeqCst) => permit,
            _ => {
                return InvocationResult {
                    request_id,
                    outcome: InvokeOutcome::Crashed {
                        detail: "the local cloud is stopping".to_owned(),
                    },
                    duration: Duration::ZERO,
                };
            }
        };
        // From here on it runs in the caller's task, but to its end even when the caller
        // stops waiting (deadline, client gone): then in a task of its own. So no process is
        // ever left half-way through an invocation.
        let shared = Arc::clone(&self.shared);
        let id = request_id.clone();
        let run = RunToEnd::new(async move {
            let result = shared.invoke_on_process(&target, &id, payload).await;
            drop(permit);
            result
        });
        let ended = match give_up {
            Some(at) => match tokio::time::timeout_at(at, run).await {
                Ok(ended) => ended,
                Err(_) => return timed_out(request_id),
            },
            None => run.await,
        };
        ended.unwrap_or_else(|_| InvocationResult {
            request_id,
            outcome: InvokeOutcome::Crashed {
                detail: "the local Lambda host stopped before the invocation ended".to_owned(),
            },
            duration: Duration::ZERO,
        })
    }

    /// The entry-point names of the functions (`api` and the schedules), in spec order.
    pub fn function_names(&self) -> Vec<String> {
        self.shared
            .functions
            .iter()
            .map(|f| f.spec.name.clone())
            .collect()
    }

    /// Swaps in a rebuilt binary (`--watch`): new invocations use processes of the new
    /// binary; idle processes of the old one are stopped now, busy ones once their
    /// invocation ends. Returns once the swap is done, not when the old processes are gone.
    /// A paused spawn after an init failure is retried at once.
    ///
    /// When the new binary cannot be copied, the old one keeps serving and the reason is
    /// printed.
    pub async fn replace_binary(&self, binary: PathBuf) {
        let shared = &self.shared;
        if shared.stopping.load(Ordering::SeqCst) {
            return;
        }
        let generation = shared.generation.fetch_add(1, Ordering::SeqCst) + 1;
        let dest = shared
            .bin_dir
            .join(format!("g{generation}"))
            .join("bootstrap");
        let copy = match copy_binary(&binary, &dest, generation).await {
            Ok(copy) => Arc::new(copy),
            Err(err) => {
                shared
                    .logs
                    .system(&format!("{err}; the previous build keeps serving"));
                return;
            }
        };
        for function in &shared.functions {
            let old_idle = {
                let mut pool = lock(&function.pool);
                pool.binary = Arc::clone(&copy);
                pool.init_failure = None;
                std::mem::take(&mut pool.idle)
            };
            // Dropping a process stops it (SIGTERM, then SIGKILL).
            drop(old_idle);
        }
    }

    /// Stops every child process (SIGTERM to its process group, SIGKILL after ~2 s) and
    /// waits for them; invocations still queued or running end with
    /// [`InvokeOutcome::Crashed`]. Later invocations fail the same way.
    pub async fn shutdown(&self) {
        let shared = &self.shared;
        shared.stopping.store(true, Ordering::SeqCst);
        for function in &shared.functions {
            function.slots.close();
            let idle = std::mem::take(&mut lock(&function.pool).idle);
            drop(idle);
        }
        let give_up = tokio::time::Instant::now() + STOP_GRACE + Duration::from_secs(3);
        loop {
            let live: Vec<(
                mpsc::UnboundedSender<Signal>,
                watch::Receiver<Option<ExitInfo>>,
            )> = lock(&shared.live)
                .values()
                .map(|p| (p.control.clone(), p.exited.clone()))
                .collect();
            if live.is_empty() {
                break;
            }
            for (control, _) in &live {
                let _ = control.send(Signal::Stop);
            }
            let all_exited = async {
                for (_, mut exited) in live {
                    let _ = exited.wait_for(Option::is_some).await;
                }
            };
            if tokio::time::timeout_at(give_up, all_exited).await.is_err() {
                // SIGKILL was sent after the grace period; whatever is left cannot be waited for.
                for process in lock(&shared.live).values() {
                    let _ = process.control.send(Signal::Kill);
                }
                break;
            }
        }
        let dir = shared.bin_dir.clone();
        let _ = tokio::task::spawn_blocking(move || std::fs::remove_dir_all(dir)).await;
    }
}

impl Drop for HostShared {
    fn drop(&mut self) {
        // A host dropped without `shutdown` (an error while the local cloud starts): its
        // processes die with their handles; the copies go too.
        let _ = std::fs::remove_dir_all(&self.bin_dir);
    }
}

impl HostShared {
    fn find(&self, function: &str) -> Option<Arc<Function>> {
        // `name:$LATEST` and ARNs (`arn:aws:lambda:…:function:name[:qualifier]`) too.
        let name = match function.split_once(":function:") {
            Some((_, rest)) => rest,
            None => function,
        };
        let name = name.strip_suffix(":$LATEST").unwrap_or(name);
        self.functions
            .iter()
            .find(|f| f.spec.name == name || f.spec.function_name == name)
            .cloned()
    }

    /// Runs one invocation on an idle or new process of `function`; the caller holds a slot.
    async fn invoke_on_process(
        &self,
        function: &Function,
        request_id: &str,
        payload: Bytes,
    ) -> InvocationResult {
        let mut process = match self.checkout(function) {
            Some(process) => process,
            None => match self.start_process(function, request_id).await {
                Ok(process) => process,
                Err(result) => return result,
            },
        };
        let spec = &function.spec;
        let event = Event::new(request_id.to_owned(), payload, spec.timeout);
        process.output.begin(request_id);
        let started = Instant::now();
        let answer = process.api.enqueue(event);
        let outcome = wait_for_answer(&process, answer, spec.timeout).await;
        let duration = started.elapsed();
        process.api.end(request_id);

        let init = process.cold_init.take();
        let memory = process.memory.peak_mb().unwrap_or(0);
        let report = |status: &str| {
            let mut line = format!(
                "REPORT RequestId: {request_id}\tDuration: {:.2} ms\tBilled Duration: {} ms\tMemory Size: {} MB\tMax Memory Used: {memory} MB",
                duration.as_secs_f64() * 1000.0,
                duration.as_micros().div_ceil(1000).max(1),
                spec.memory_mb,
            );
            if let Some(init) = init {
                line.push_str(&format!(
                    "\tInit Duration: {:.2} ms",
                    init.as_secs_f64() * 1000.0
                ));
            }
            line.push_str(status);
            line
        };
        let end = format!("END RequestId: {request_id}");
        let (outcome, lines) = match outcome {
            Ended::Answer(Answer::Response(body)) => (
                InvokeOutcome::Response(body),
                vec![(false, end), (false, report(""))],
            ),
            Ended::Answer(Answer::Error {
                error_type,
                error_message,
            }) => (
                InvokeOutcome::FunctionError {
                    error_type,
                    error_message,
                },
                vec![(false, end), (false, report(""))],
            ),
            Ended::Timeout => (
                InvokeOutcome::Timeout,
                vec![
                    (
                        true,
                        format!(
                            "Task timed out after {:.2} seconds",
                            spec.timeout.as_secs_f64()
                        ),
                    ),
                    (false, end),
                    (false, report("\tStatus: timeout")),
                ],
            ),
            Ended::Crashed(detail) => (
                InvokeOutcome::Crashed {
                    detail: detail.clone(),
                },
                vec![
                    (
                        true,
                        format!("RequestId: {request_id} Error: {detail}\nRuntime.ExitError"),
                    ),
                    (false, end),
                    (
                        false,
                        report("\tStatus: error\tError Type: Runtime.ExitError"),
                    ),
                ],
            ),
        };
        // The invocation's lines go into the sink now, before whatever the caller prints
        // about it; an exited process's last output first.
        if process.has_exited() {
            process.output.wait_closed().await;
        }
        process.output.end(lines);
        match outcome {
            InvokeOutcome::Timeout => {
                // Killed before its slot frees, so the pool never exceeds its size.
                process.signal(Signal::Kill);
                let _ = tokio::time::timeout(Duration::from_secs(5), process.exit_detail()).await;
            }
            InvokeOutcome::Crashed { .. } => {}
            _ => self.checkin(function, process),
        }
        InvocationResult {
            request_id: request_id.to_owned(),
            outcome,
            duration,
        }
    }

    /// An idle process of the current binary, if any.
    fn checkout(&self, function: &Function) -> Option<Process> {
        let mut pool = lock(&function.pool);
        while let Some(process) = pool.idle.pop() {
            if process.has_exited() || process.binary.generation != pool.binary.generation {
                continue;
            }
            return Some(process);
        }
        None
    }

    /// Back to the idle list, unless it is outdated, dead, or the host is stopping.
    fn checkin(&self, function: &Function, process: Process) {
        let mut pool = lock(&function.pool);
        if self.stopping.load(Ordering::SeqCst)
            || process.has_exited()
            || process.binary.generation != pool.binary.generation
        {
            drop(pool);
            drop(process);
            return;
        }
        pool.idle.push(process);
    }

    /// Spawns a process and waits for its first `/next`; on failure, the invocation's result.
    async fn start_process(
        &self,
        function: &Function,
        request_id: &str,
    ) -> Result<Process, InvocationResult> {
        let binary = {
            let pool = lock(&function.pool);
            let paused = pool
                .init_failure
                .as_ref()
                .filter(|f| Instant::now() < f.until);
            if let Some(error) = paused.map(|f| f.error.clone()) {
                drop(pool);
                return Err(self.init_failed(
                    function,
                    request_id,
                    None,
                    error,
                    Duration::ZERO,
                    false,
                ));
            }
            Arc::clone(&pool.binary)
        };
        let started = Instant::now();
        let mut process = match self.spawn(function, binary).await {
            Ok(process) => process,
            Err(err) => {
                let error = InitError::Runtime {
                    error_type: "Runtime.InvalidEntrypoint".to_owned(),
                    detail: format!("cannot start the function: {err}"),
                };
                return Err(self.init_failed(
                    function,
                    request_id,
                    None,
                    error,
                    started.elapsed(),
                    true,
                ));
            }
        };
        let mut phase = process.api.phase.subscribe();
        let init = tokio::select! {
            phase = phase.wait_for(|p| !matches!(p, Phase::Starting)) => match phase.as_deref() {
                Ok(Phase::InitError { error_type, error_message }) => Err(InitError::Posted {
                    error_type: error_type.clone(),
                    error_message: error_message.clone(),
                }),
                _ => Ok(()),
            },
            detail = process.exit_detail() => {
                // An init error posted just before exiting says more than the exit.
                match &*process.api.phase.borrow() {
                    Phase::InitError { error_type, error_message } => Err(InitError::Posted {
                        error_type: error_type.clone(),
                        error_message: error_message.clone(),
                    }),
                    _ => Err(InitError::Runtime { error_type: "Runtime.ExitError".to_owned(), detail }),
                }
            },
            () = tokio::time::sleep(INIT_TIMEOUT) => Err(InitError::Timeout),
        };
        let init_duration = started.elapsed();
        match init {
            Ok(()) => {
                lock(&function.pool).init_failure = None;
                process.cold_init = Some(init_duration);
                process.memory.prime();
                Ok(process)
            }
            Err(error) => {
                let result = self.init_failed(
                    function,
                    request_id,
                    Some(&process),
                    error,
                    init_duration,
                    true,
                );
                process.signal(Signal::Kill);
                Err(result)
            }
        }
    }

    /// Records an init failure (pausing spawns), logs it like Lambda, and builds the result.
    fn init_failed(
        &self,
        function: &Function,
        request_id: &str,
        process: Option<&Process>,
        error: InitError,
        init_duration: Duration,
        pause_spawning: bool,
    ) -> InvocationResult {
        if pause_spawning {
            let mut pool = lock(&function.pool);
            let backoff = pool.init_failure.as_ref().map_or(INIT_BACKOFF_FIRST, |f| {
                (f.backoff * 2).min(INIT_BACKOFF_MAX)
            });
            pool.init_failure = Some(InitFailure {
                error: error.clone(),
                until: Instant::now() + backoff,
                backoff,
            });
        }
        let (outcome, error_type, status) = match error {
            InitError::Runtime { error_type, detail } => (
                InvokeOutcome::FunctionError {
                    error_type: error_type.clone(),
                    error_message: format!("RequestId: {request_id} Error: {detail}"),
                },
                error_type,
                "error",
            ),
            InitError::Posted {
                error_type,
                error_message,
            } => (
                InvokeOutcome::FunctionError {
                    error_type: error_type.clone(),
                    error_message,
                },
                error_type,
                "error",
            ),
            InitError::Timeout => (
                InvokeOutcome::Timeout,
                "Runtime.Timeout".to_owned(),
                "timeout",
            ),
        };
        let spec = &function.spec;
        let message = match &outcome {
            InvokeOutcome::FunctionError { error_message, .. }
                if error_message.starts_with("RequestId: ") =>
            {
                format!("{error_message}\n{error_type}")
            }
            InvokeOutcome::FunctionError { error_message, .. } => {
                format!("RequestId: {request_id} Error: {error_message}\n{error_type}")
            }
            _ => format!(
                "Init timed out after {:.2} seconds",
                INIT_TIMEOUT.as_secs_f64()
            ),
        };
        let init_ms = init_duration.as_secs_f64() * 1000.0;
        let lines = vec![
            (
                false,
                format!(
                    "INIT_REPORT Init Duration: {init_ms:.2} ms\tPhase: init\tStatus: {status}\tError Type: {error_type}"
                ),
            ),
            (
                false,
                format!("START RequestId: {request_id} Version: $LATEST"),
            ),
            (true, message),
            (false, format!("END RequestId: {request_id}")),
            (
                false,
                format!(
                    "REPORT RequestId: {request_id}\tDuration: {init_ms:.2} ms\tBilled Duration: {} ms\tMemory Size: {} MB\tMax Memory Used: 0 MB\tStatus: {status}\tError Type: {error_type}",
                    init_duration.as_micros().div_ceil(1000).max(1),
                    spec.memory_mb
                ),
            ),
        ];
        match process {
            Some(process) if process.has_exited() => {
                // After the rest of its output, without holding up the invocation.
                let output = Arc::clone(&process.output);
                let request_id = request_id.to_owned();
                tokio::spawn(async move {
                    output.wait_closed().await;
                    output.note(Some(&request_id), lines);
                });
            }
            Some(process) => process.output.note(Some(request_id), lines),
            // Nothing was started: there is no log stream; use the function's group only.
            None => {
                for (print, line) in lines {
                    if print {
                        self.logs.line(&spec.name, "", Some(request_id), &line);
                    } else {
                        self.logs.platform(&spec.name, "", Some(request_id), &line);
                    }
                }
            }
        }
        InvocationResult {
            request_id: request_id.to_owned(),
            outcome,
            duration: init_duration,
        }
    }

    /// Starts a process of `function` running `binary`, with its Runtime API, log pump and
    /// supervisor; it is not initialized yet.
    async fn spawn(&self, function: &Function, binary: Arc<BinaryCopy>) -> io::Result<Process> {
        let spec = &function.spec;
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
        let addr = listener.local_addr()?;
        let api = Arc::new(RuntimeApi::new(function.arn.clone()));
        let server = AbortOnDrop(tokio::spawn(runtime_api::serve(listener, Arc::clone(&api))));
        let log_stream = new_log_stream();
        let task_root = binary.path.parent().unwrap_or(Path::new("/")).to_owned();
        let env = function_env(spec, addr, &log_stream, &task_root, std::env::vars_os());
        let spawned = spawner_call(SpawnerJob::Spawn {
            binary: binary.path.clone(),
            env,
            cwd: task_root,
        })
        .await?;
        let SpawnerReply::Spawned {
            child,
            stdout,
            stderr,
        } = spawned
        else {
            return Err(io::Error::other(
                "the process spawner answered something else",
            ));
        };
        let pid = child.id().unwrap_or(0);
        let stdout = stdout.and_then(|fd| pipe::Receiver::from_owned_fd(fd).ok());
        let stderr = stderr.and_then(|fd| pipe::Receiver::from_owned_fd(fd).ok());
        let output = Arc::new(Output::new(
            self.logs.clone(),
            spec.name.clone(),
            log_stream,
            [stdout, stderr],
        ));
        let (released, released_rx) = oneshot::channel();
        tokio::spawn(pump_logs(Arc::clone(&output), released_rx));
        let (control_tx, control_rx) = mpsc::unbounded_channel();
        let (exited_tx, exited_rx) = watch::channel(None);
        let serial = self.serial.fetch_add(1, Ordering::Relaxed);
        lock(&self.live).insert(
            serial,
            LiveProcess {
                control: control_tx.clone(),
                exited: exited_rx.clone(),
            },
        );
        let live = Arc::clone(&self.live);
        tokio::spawn(supervise(child, control_rx, exited_tx, move || {
            // The Runtime API goes only now: a process being stopped gets its SIGTERM while
            // still connected, instead of a closed connection to complain about first.
            drop(server);
            lock(&live).remove(&serial);
        }));
        let process = Process {
            binary,
            api,
            exited: exited_rx,
            control: control_tx,
            output,
            _released: released,
            memory: MemoryGauge::open(pid),
            cold_init: None,
        };
        if self.stopping.load(Ordering::SeqCst) {
            // Started while `shutdown` ran: it may not have seen this one.
            process.signal(Signal::Kill);
        }
        Ok(process)
    }
}

/// A function process owned by an invocation or waiting in its pool. Dropping it stops the
/// process (SIGTERM, then SIGKILL).
struct Process {
    binary: Arc<BinaryCopy>,
    api: Arc<RuntimeApi>,
    exited: watch::Receiver<Option<ExitInfo>>,
    control: mpsc::UnboundedSender<Signal>,
    output: Arc<Output>,
    /// Dropped with the process: then its pump hands out the last, unterminated lines.
    _released: oneshot::Sender<()>,
    memory: MemoryGauge,
    /// How long its init took, until the first `REPORT` says it.
    cold_init: Option<Duration>,
}

impl Process {
    fn has_exited(&self) -> bool {
        self.exited.borrow().is_some()
    }

    fn signal(&self, signal: Signal) {
        let _ = self.control.send(signal);
    }

    /// Waits for the process to exit; how it ended.
    fn exit_detail(&self) -> impl Future<Output = String> + Send + 'static {
        let mut exited = self.exited.clone();
        async move {
            match exited.wait_for(Option::is_some).await {
                Ok(info) => info.as_ref().map(|i| i.detail.clone()).unwrap_or_default(),
                Err(_) => "Runtime exited without providing a reason".to_owned(),
            }
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.signal(Signal::Stop);
    }
}

/// Runs a future in the task that awaits it (no task of its own, no hand-over between
/// tasks), yet to its end: dropped before it is done (its caller stopped waiting), the rest
/// goes on in a task of its own. A panic inside ends it with the panic (`Err`), as a task's
/// would.
pub(crate) struct RunToEnd<T: Send + 'static> {
    future: Option<Pin<Box<dyn Future<Output = T> + Send + 'static>>>,
}

impl<T: Send + 'static> RunToEnd<T> {
    pub(crate) fn new(future: impl Future<Output = T> + Send + 'static) -> Self {
        Self {
            future: Some(Box::pin(future)),
        }
    }
}

impl<T: Send + 'static> Future for RunToEnd<T> {
    type Output = std::thread::Result<T>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> Poll<Self::Output> {
        let Some(future) = self.future.as_mut() else {
            return Poll::Pending;
        };
        let polled = std::panic::catch_unwind(AssertUnwindSafe(|| future.as_mut().poll(cx)));
        match polled {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(output)) => {
                self.future = None;
                Poll::Ready(Ok(output))
            }
            Err(panic) => {
                self.future = None;
                Poll::Ready(Err(panic))
            }
        }
    }
}

impl<T: Send + 'static> Drop for RunToEnd<T> {
    fn drop(&mut self) {
        if let Some(future) = self.future.take() {
            // Outside a runtime (it is shutting down) there is nothing left to run it on.
            if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                runtime.spawn(async move {
                    future.await;
                });
            }
        }
    }
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// How waiting for an invocation's answer ended.
enum Ended {
    Answer(Answer),
    Timeout,
    Crashed(String),
}

async fn wait_for_answer(
    process: &Process,
    mut answer: oneshot::Receiver<Answered>,
    timeout: Duration,
) -> Ended {
    let sleep = tokio::time::sleep(timeout);
    tokio::select! {
        biased;
        answer = &mut answer => match answer {
            Ok(answered) => Ended::Answer(answered.answer),
            // Only a process being torn down drops its answer channel.
            Err(_) => Ended::Crashed(process.exit_detail().await),
        },
        detail = process.exit_detail() => match answer.try_recv() {
            // Answered, then exited at once: the answer counts.
            Ok(answered) => Ended::Answer(answered.answer),
            Err(_) => Ended::Crashed(detail),
        },
        () = sleep => Ended::Timeout,
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;
    use std::sync::atomic::AtomicU32;

    use serde_json::{Value, json};
    use tokio::io::AsyncReadExt;

    use std::collections::BTreeMap;
    use std::sync::OnceLock;

    use super::*;
    use crate::lambda::output::{LineReader, MAX_LOG_LINE};
    use crate::lambda::process::{exit_detail, signal_group};
    use crate::lambda::runtime_api::error_fields;
    use crate::logs;
    use crate::store::{LogRecord, Store};

    /// A stand-in runtime: a Python script speaking the Runtime API, steered by the event's
    /// `action` (and by `INIT_MODE` at start).
    const RUNTIME: &str = r#"
import json, os, signal, sys, time, urllib.request, urllib.error
API = "http://" + os.environ["AWS_LAMBDA_RUNTIME_API"] + "/2018-06-01/runtime"
VERSION = "__VERSION__"

def post(path, body, headers=None):
    req = urllib.request.Request(API + path, data=body, method="POST", headers=headers or {})
    try:
        with urllib.request.urlopen(req) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code

mode = os.environ.get("INIT_MODE", "")
if mode == "exit":
    print("init failing", file=sys.stderr)
    sys.exit(3)
if mode == "init_error":
    post("/init/error", json.dumps({"errorType": "Custom.InitError", "errorMessage": "no config"}).encode())
    sys.exit(1)
if mode == "ignore_term":
    signal.signal(signal.SIGTERM, signal.SIG_IGN)

while True:
    with urllib.request.urlopen(API + "/invocation/next") as r:
        rid = r.headers["Lambda-Runtime-Aws-Request-Id"]
        headers = {k.lower(): v for k, v in r.headers.items()}
        event = json.loads(r.read() or b"{}")
    action = event.get("action", "echo")
    if action == "log":
        print("out line for", rid)
        print("err line", file=sys.stderr)
    if action == "crash":
        print("about to crash")
        sys.exit(101)
    if action == "sleep":
        time.sleep(event["secs"])
    if action == "error":
        post("/invocation/" + rid + "/error", json.dumps({"errorType": "App.Failure", "errorMessage": "it broke"}).encode())
        continue
    if action == "big":
        status = post("/invocation/" + rid + "/response", b"x" * event["size"])
        print("big status", status)
        continue
    extra = {}
    if action == "wrong_id":
        extra["wrong_status"] = post("/invocation/not-the-id/response", b"{}")
    if action == "wrong_nonce":
        extra["wrong_status"] = post("/invocation/" + rid + "/response", b"{}",
                                     {"Lambda-Runtime-Invocation-Id": "stale"})
    body = {"pid": os.getpid(), "version": VERSION, "request_id": rid, "headers": headers,
            "env": dict(os.environ), "event": event, "cwd": os.getcwd(), **extra}
    nonce = headers.get("lambda-runtime-invocation-id")
    echo = {"Lambda-Runtime-Invocation-Id": nonce} if nonce else {}
    post("/invocation/" + rid + "/response", json.dumps(body).encode(), echo)
"#;

    const WAIT: Duration = Duration::from_secs(20);

    fn python() -> &'static str {
        static PYTHON: OnceLock<String> = OnceLock::new();
        PYTHON.get_or_init(|| {
            let out = std::process::Command::new("python3")
                .args(["-c", "import sys; print(sys.executable)"])
                .output()
                .expect("python3 runs the stand-in runtimes");
            String::from_utf8(out.stdout).unwrap().trim().to_owned()
        })
    }

    /// A stand-in runtime on disk; the directory goes with the value.
    struct Script(PathBuf);

    impl Script {
        fn path(&self) -> &Path {
            &self.0
        }
    }

    impl Drop for Script {
        fn drop(&mut self) {
            if let Some(dir) = self.0.parent() {
                let _ = std::fs::remove_dir_all(dir);
            }
        }
    }

    fn script(version: &str) -> Script {
        static N: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "portico-lambda-test-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("runtime.py");
        let text = format!(
            "#!{} -u\n{}",
            python(),
            RUNTIME.replace("__VERSION__", version)
        );
        std::fs::write(&path, text).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        Script(path)
    }

    fn spec(binary: &Path) -> FunctionSpec {
        FunctionSpec {
            name: "api".to_owned(),
            function_name: "shop-dev-api".to_owned(),
            binary: binary.to_owned(),
            env: BTreeMap::from([("PORTICO_HANDLER".to_owned(), "api".to_owned())]),
            memory_mb: 256,
            timeout: Duration::from_secs(10),
            max_processes: 1,
        }
    }

    struct Host {
        host: Arc<LambdaHost>,
        store: Arc<Store>,
        logs: LogSink,
        printed: Arc<Mutex<Vec<u8>>>,
    }

    impl Host {
        async fn start(specs: Vec<FunctionSpec>) -> Self {
            let store = Arc::new(Store::in_memory());
            let (logs, printed) = LogSink::to_buffer(Arc::clone(&store), logs::Style::Plain);
            let host = LambdaHost::start(specs, logs.clone()).await.unwrap();
            Self {
                host,
                store,
                logs,
                printed,
            }
        }

        async fn invoke(&self, event: Value) -> InvocationResult {
            let payload = Bytes::from(event.to_string());
            tokio::time::timeout(WAIT, self.host.invoke("api", payload))
                .await
                .expect("the invocation ends")
        }

        async fn logs(&self) -> Vec<LogRecord> {
            self.logs.flush().await;
            self.store.logs_between(0, i64::MAX, 100_000).unwrap()
        }

        async fn printed(&self) -> String {
            self.logs.flush().await;
            String::from_utf8(self.printed.lock().unwrap().clone()).unwrap()
        }
    }

    fn json_of(result: &InvocationResult) -> Value {
        match &result.outcome {
            InvokeOutcome::Response(body) => serde_json::from_slice(body).unwrap(),
            other => panic!("expected a response, got {other:?}"),
        }
    }

    fn pid_of(result: &InvocationResult) -> u32 {
        json_of(result)["pid"].as_u64().unwrap() as u32
    }

    /// Whether `pid` is a live (not zombie) process.
    fn alive(pid: u32) -> bool {
        std::fs::read_to_string(format!("/proc/{pid}/status")).is_ok_and(|s| {
            !s.lines()
                .any(|l| l.starts_with("State:") && l.contains('Z'))
        })
    }

    async fn wait_until_dead(pid: u32) -> bool {
        let deadline = Instant::now() + WAIT;
        while alive(pid) {
            if Instant::now() > deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        true
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_response_carries_lambda_headers_and_environment() {
        let script_1 = script("1");
        let binary = script_1.path();
        let h = Host::start(vec![spec(binary)]).await;
        let result = h.invoke(json!({"action": "echo", "n": 1})).await;
        let body = json_of(&result);
        assert_eq!(body["request_id"], result.request_id);
        assert_eq!(body["event"], json!({"action": "echo", "n": 1}));
        let headers = &body["headers"];
        assert_eq!(
            headers["lambda-runtime-invoked-function-arn"],
            "arn:aws:lambda:us-east-1:000000000000:function:shop-dev-api"
        );
        assert!(
            headers["lambda-runtime-trace-id"]
                .as_str()
                .unwrap()
                .starts_with("Root=1-")
        );
        let deadline: i64 = headers["lambda-runtime-deadline-ms"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        let now = crate::clock::now_ms();
        assert!(
            deadline > now + 5_000 && deadline <= now + 10_000,
            "{deadline} vs {now}"
        );

        let env = &body["env"];
        for (name, value) in [
            ("AWS_LAMBDA_FUNCTION_NAME", "shop-dev-api"),
            ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256"),
            ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST"),
            ("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/shop-dev-api"),
            ("AWS_REGION", "us-east-1"),
            ("AWS_DEFAULT_REGION", "us-east-1"),
            ("AWS_EXECUTION_ENV", "AWS_Lambda_provided.al2023"),
            ("_HANDLER", "bootstrap"),
            ("TZ", ":UTC"),
            ("PORTICO_HANDLER", "api"),
        ] {
            assert_eq!(env[name], value, "{name}");
        }
        let api = env["AWS_LAMBDA_RUNTIME_API"].as_str().unwrap();
        assert!(api.starts_with("127.0.0.1:"), "{api}");
        let stream = env["AWS_LAMBDA_LOG_STREAM_NAME"].as_str().unwrap();
        assert!(
            stream.contains("/[$LATEST]") && stream.len() == "2026/11/26/[$LATEST]".len() + 32,
            "{stream}"
        );
        // Cleared: cargo's variables of the test process do not leak.
        assert!(env.get("CARGO_PKG_NAME").is_none(), "{env}");
        assert!(env.get("PATH").is_some());
        // The private copy runs, in its own directory (the task root), not the original.
        let root = env["LAMBDA_TASK_ROOT"].as_str().unwrap();
        assert_eq!(body["cwd"], root);
        assert_ne!(Path::new(root), binary.parent().unwrap());
        assert!(Path::new(root).join("bootstrap").is_file());

        // A second invocation reuses the warm process.
        let again = h.invoke(json!({})).await;
        assert_eq!(pid_of(&again), pid_of(&result));
        assert_ne!(again.request_id, result.request_id);
        h.host.shutdown().await;
        assert!(
            !Path::new(root).exists(),
            "the private copy is removed at shutdown"
        );
    }

    #[tokio::test]
    async fn a_function_error_keeps_the_process() {
        let script_1 = script("1");
        let h = Host::start(vec![spec(script_1.path())]).await;
        let first = h.invoke(json!({})).await;
        let failed = h.invoke(json!({"action": "error"})).await;
        match &failed.outcome {
            InvokeOutcome::FunctionError {
                error_type,
                error_message,
            } => assert_eq!(
                (error_type.as_str(), error_message.as_str()),
                ("App.Failure", "it broke")
            ),
            other => panic!("{other:?}"),
        }
        assert_eq!(pid_of(&h.invoke(json!({})).await), pid_of(&first));
        h.host.shutdown().await;
    }

    #[tokio::test]
    async fn a_crash_is_reported_like_aws_and_the_next_invocation_gets_a_new_process() {
        let script_1 = script("1");
        let h = Host::start(vec![spec(script_1.path())]).await;
        let first = h.invoke(json!({})).await;
        let crashed = h.invoke(json!({"action": "crash"})).await;
        match &crashed.outcome {
            InvokeOutcome::Crashed { detail } => {
                assert_eq!(detail, "Runtime exited with error: exit status 101");
            }
            other => panic!("{other:?}"),
        }
        assert!(wait_until_dead(pid_of(&first)).await);
        let next = h.invoke(json!({})).await;
        assert_ne!(pid_of(&next), pid_of(&first));

        let logs = h.logs().await;
        let line = logs
            .iter()
            .find(|r| r.message == "about to crash")
            .expect("the app's last line");
        assert_eq!(
            line.request_id.as_deref(),
            Some(crashed.request_id.as_str())
        );
        let report = logs
            .iter()
            .find(|r| {
                r.message
                    .starts_with(&format!("REPORT RequestId: {}", crashed.request_id))
            })
            .expect("a REPORT line");
        assert!(
            report
                .message
                .ends_with("Status: error\tError Type: Runtime.ExitError"),
            "{}",
            report.message
        );
        h.host.shutdown().await;
    }

    #[tokio::test]
    async fn a_timeout_kills_the_process_and_the_next_invocation_gets_a_new_one() {
        let script_1 = script("1");
        let mut spec = spec(script_1.path());
        spec.timeout = Duration::from_secs(1);
        let h = Host::start(vec![spec]).await;
        let first = h.invoke(json!({})).await;
        let started = Instant::now();
        let timed_out = h.invoke(json!({"action": "sleep", "secs": 30})).await;
        assert!(
            matches!(timed_out.outcome, InvokeOutcome::Timeout),
            "{timed_out:?}"
        );
        assert!(started.elapsed() < Duration::from_secs(8));
        assert!(timed_out.duration >= Duration::from_secs(1));
        assert!(
            !alive(pid_of(&first)),
            "killed before the invocation returns"
        );
        let next = h.invoke(json!({})).await;
        assert_ne!(pid_of(&next), pid_of(&first));

        let logs = h.logs().await;
        let id = Some(timed_out.request_id.as_str());
        assert!(
            logs.iter()
                .any(|r| r.message == "Task timed out after 1.00 seconds"
                    && r.request_id.as_deref() == id),
            "{logs:#?}"
        );
        assert!(
            logs.iter().any(
                |r| r.message.starts_with("REPORT") && r.message.ends_with("\tStatus: timeout")
            )
        );
        h.host.shutdown().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn parallel_invocations_share_at_most_max_processes() {
        let script_1 = script("1");
        let mut spec = spec(script_1.path());
        spec.max_processes = 2;
        let h = Arc::new(Host::start(vec![spec]).await);
        let tasks: Vec<_> = (0..6)
            .map(|_| {
                let h = Arc::clone(&h);
                tokio::spawn(async move { h.invoke(json!({"action": "sleep", "secs": 0.3})).await })
            })
            .collect();
        let mut pids = std::collections::BTreeSet::new();
        for task in tasks {
            pids.insert(pid_of(&task.await.unwrap()));
        }
        assert_eq!(pids.len(), 2, "{pids:?}");
        h.host.shutdown().await;
        for pid in pids {
            assert!(!alive(pid));
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn replacing_the_binary_lets_busy_processes_finish_and_stops_idle_ones() {
        let script_1 = script("1");
        let mut spec = spec(script_1.path());
        spec.max_processes = 2;
        let h = Arc::new(Host::start(vec![spec]).await);
        // Two processes of version 1: one stays busy across the swap, one idles.
        let busy = {
            let h = Arc::clone(&h);
            tokio::spawn(async move { h.invoke(json!({"action": "sleep", "secs": 1.5})).await })
        };
        let idle = h.invoke(json!({})).await;
        assert_eq!(json_of(&idle)["version"], "1");

        let script_2 = script("2");
        h.host.replace_binary(script_2.path().to_owned()).await;
        assert!(
            wait_until_dead(pid_of(&idle)).await,
            "the idle old process is stopped"
        );
        let new = h.invoke(json!({})).await;
        assert_eq!(json_of(&new)["version"], "2");

        let busy = busy.await.unwrap();
        assert_eq!(
            json_of(&busy)["version"],
            "1",
            "the busy process finished its request"
        );
        assert!(wait_until_dead(pid_of(&busy)).await, "then it was stopped");
        assert_eq!(json_of(&h.invoke(json!({})).await)["version"], "2");
        h.host.shutdown().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn shutdown_ends_every_process_even_one_ignoring_sigterm() {
        let script_1 = script("1");
        let stubborn = {
            let mut spec = spec(script_1.path());
            spec.name = "stubborn".to_owned();
            spec.function_name = "shop-dev-stubborn".to_owned();
            spec.env
                .insert("INIT_MODE".to_owned(), "ignore_term".to_owned());
            spec
        };
        let mut api = spec(script_1.path());
        api.max_processes = 2;
        let h = Arc::new(Host::start(vec![api, stubborn]).await);
        let idle = h.invoke(json!({})).await;
        let busy = {
            let h = Arc::clone(&h);
            tokio::spawn(async move { h.invoke(json!({"action": "sleep", "secs": 30})).await })
        };
        let result = h.host.invoke("stubborn", Bytes::from_static(b"{}")).await;
        let stubborn_pid = pid_of(&result);
        tokio::time::sleep(Duration::from_millis(300)).await;

        let started = Instant::now();
        h.host.shutdown().await;
        assert!(started.elapsed() < Duration::from_secs(6));
        assert!(!alive(pid_of(&idle)));
        assert!(!alive(stubborn_pid), "SIGKILL after the grace period");
        let busy = busy.await.unwrap();
        assert!(
            matches!(busy.outcome, InvokeOutcome::Crashed { .. }),
            "{busy:?}"
        );
        assert!(lock(&h.host.shared.live).is_empty());
        let after = h.invoke(json!({})).await;
        assert!(
            matches!(after.outcome, InvokeOutcome::Crashed { .. }),
            "{after:?}"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn log_lines_carry_the_request_id_between_start_and_report() {
        let script_1 = script("1");
        let h = Host::start(vec![spec(script_1.path())]).await;
        let result = h.invoke(json!({"action": "log"})).await;
        let id = result.request_id.clone();
        let logs = h.logs().await;
        let mine: Vec<&LogRecord> = logs
            .iter()
            .filter(|r| r.request_id.as_deref() == Some(&id))
            .collect();
        let messages: Vec<&str> = mine.iter().map(|r| r.message.as_str()).collect();
        assert_eq!(messages.len(), 5, "{messages:#?}");
        assert_eq!(
            messages[0],
            format!("START RequestId: {id} Version: $LATEST")
        );
        let app: std::collections::BTreeSet<&str> = messages[1..3].iter().copied().collect();
        assert_eq!(
            app,
            [format!("out line for {id}").as_str(), "err line"]
                .into_iter()
                .collect()
        );
        assert_eq!(messages[3], format!("END RequestId: {id}"));
        let report = messages[4];
        assert!(
            report.starts_with(&format!("REPORT RequestId: {id}\tDuration: ")),
            "{report}"
        );
        assert!(
            report.contains("\tMemory Size: 256 MB\tMax Memory Used: "),
            "{report}"
        );
        assert!(
            report.contains(" MB\tInit Duration: "),
            "the first invocation is a cold start: {report}"
        );
        assert!(
            mine.iter()
                .all(|r| r.function == "api" && r.stream.contains("[$LATEST]"))
        );

        let printed = h.printed().await;
        assert!(
            printed.contains(&format!(" api [{}] out line for {id}", &id[..8])),
            "{printed}"
        );
        assert!(
            !printed.contains("START RequestId"),
            "platform lines are not printed: {printed}"
        );

        let again = h.invoke(json!({})).await;
        let logs = h.logs().await;
        let report = logs
            .iter()
            .find(|r| {
                r.message
                    .starts_with(&format!("REPORT RequestId: {}", again.request_id))
            })
            .unwrap();
        assert!(
            !report.message.contains("Init Duration"),
            "a warm start: {}",
            report.message
        );
        h.host.shutdown().await;
    }

    #[tokio::test]
    async fn init_failures_fail_the_invocation_and_pause_spawning() {
        let script_1 = script("1");
        let mut exits = spec(script_1.path());
        exits.env.insert("INIT_MODE".to_owned(), "exit".to_owned());
        let script_1 = script("1");
        let mut posts = spec(script_1.path());
        posts.name = "posts".to_owned();
        posts.function_name = "shop-dev-posts".to_owned();
        posts
            .env
            .insert("INIT_MODE".to_owned(), "init_error".to_owned());
        let h = Host::start(vec![exits, posts]).await;

        let failed = h.invoke(json!({})).await;
        match &failed.outcome {
            InvokeOutcome::FunctionError {
                error_type,
                error_message,
            } => {
                assert_eq!(error_type, "Runtime.ExitError");
                assert_eq!(
                    error_message,
                    &format!(
                        "RequestId: {} Error: Runtime exited with error: exit status 3",
                        failed.request_id
                    )
                );
            }
            other => panic!("{other:?}"),
        }
        // Right after, the same error comes back without a new process being tried.
        let started = Instant::now();
        let again = h.invoke(json!({})).await;
        assert!(started.elapsed() < Duration::from_millis(200));
        assert!(
            matches!(&again.outcome, InvokeOutcome::FunctionError { error_type, .. } if error_type == "Runtime.ExitError")
        );
        assert!(lock(&h.host.shared.live).is_empty());
        let logs = h.logs().await;
        assert!(
            logs.iter().any(|r| r.message == "init failing"),
            "{logs:#?}"
        );
        assert!(
            logs.iter()
                .any(|r| r.message.starts_with("INIT_REPORT Init Duration: "))
        );

        let posted = h.host.invoke("posts", Bytes::from_static(b"{}")).await;
        match &posted.outcome {
            InvokeOutcome::FunctionError {
                error_type,
                error_message,
            } => assert_eq!(
                (error_type.as_str(), error_message.as_str()),
                ("Custom.InitError", "no config")
            ),
            other => panic!("{other:?}"),
        }

        // After the pause, a new process is tried again.
        tokio::time::sleep(INIT_BACKOFF_FIRST * 3).await;
        let retried = h.invoke(json!({})).await;
        assert!(retried.duration > Duration::ZERO, "{retried:?}");
        h.host.shutdown().await;
    }

    #[tokio::test]
    async fn wrong_request_ids_are_refused_and_oversized_responses_fail_the_invocation() {
        let script_1 = script("1");
        let h = Host::start(vec![spec(script_1.path())]).await;
        let result = h.invoke(json!({"action": "wrong_id"})).await;
        assert_eq!(json_of(&result)["wrong_status"], 400);
        let pid = pid_of(&result);
        // The right request id with another invocation's nonce is refused too; the answer
        // echoing the nonce handed out with the event is taken.
        let result = h.invoke(json!({"action": "wrong_nonce"})).await;
        let body = json_of(&result);
        assert_eq!(body["wrong_status"], 400);
        let nonce = body["headers"]["lambda-runtime-invocation-id"]
            .as_str()
            .unwrap();
        assert!(
            nonce.len() == 32 && nonce.bytes().all(|b| b.is_ascii_hexdigit()),
            "{nonce}"
        );

        let big = h
            .invoke(json!({"action": "big", "size": MAX_RESPONSE_BYTES + 1}))
            .await;
        match &big.outcome {
            InvokeOutcome::FunctionError {
                error_type,
                error_message,
            } => {
                assert_eq!(error_type, "Function.ResponseSizeTooLarge");
                assert!(error_message.contains("(6291557 bytes)"), "{error_message}");
            }
            other => panic!("{other:?}"),
        }
        let exact = h
            .invoke(json!({"action": "big", "size": MAX_RESPONSE_BYTES}))
            .await;
        match &exact.outcome {
            InvokeOutcome::Response(body) => assert_eq!(body.len(), MAX_RESPONSE_BYTES),
            other => panic!("{other:?}"),
        }
        assert_eq!(pid_of(&h.invoke(json!({})).await), pid);
        let logs = h.logs().await;
        assert!(
            logs.iter().any(|r| r.message == "big status 413"),
            "the runtime got 413"
        );
        h.host.shutdown().await;
    }

    #[tokio::test]
    async fn the_runtime_api_survives_bad_requests() {
        use tokio::io::AsyncWriteExt;
        let script_1 = script("1");
        let h = Host::start(vec![spec(script_1.path())]).await;
        let first = h.invoke(json!({})).await;
        let addr = json_of(&first)["env"]["AWS_LAMBDA_RUNTIME_API"]
            .as_str()
            .unwrap()
            .to_owned();
        let exchange = |request: &'static [u8]| {
            let addr = addr.clone();
            async move {
                let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
                stream.write_all(request).await.unwrap();
                let mut answer = Vec::new();
                let _ =
                    tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut answer))
                        .await;
                String::from_utf8_lossy(&answer).into_owned()
            }
        };
        let answer = exchange(b"GET /nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").await;
        assert!(answer.starts_with("HTTP/1.1 404"), "{answer}");
        let answer = exchange(b"POST /2018-06-01/runtime/invocation/next HTTP/1.1\r\nConnection: close\r\nContent-Length: 0\r\n\r\n").await;
        assert!(
            answer.starts_with("HTTP/1.1 405") && answer.contains("Allow: GET"),
            "{answer}"
        );
        let answer = exchange(b"GARBAGE\r\n\r\n").await;
        assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
        let answer = exchange(b"POST /2018-06-01/runtime/invocation/x/response HTTP/1.1\r\nContent-Length: 10\r\n\r\nab").await;
        assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
        let answer =
            exchange(b"POST /2018-06-01/runtime/init/error HTTP/1.1\r\nContent-Length: 99999999\r\nConnection: close\r\n\r\n")
                .await;
        assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
        assert_eq!(pid_of(&h.invoke(json!({})).await), pid_of(&first));
        h.host.shutdown().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_caller_deadline_returns_early_while_the_invocation_runs_on() {
        let script_1 = script("1");
        let h = Host::start(vec![spec(script_1.path())]).await;
        let warm = h.invoke(json!({})).await;
        let started = Instant::now();
        let payload = Bytes::from(json!({"action": "sleep", "secs": 1}).to_string());
        let early = h
            .host
            .invoke_with_deadline("api", payload, Duration::from_millis(200))
            .await;
        assert!(matches!(early.outcome, InvokeOutcome::Timeout), "{early:?}");
        assert!(started.elapsed() < Duration::from_millis(900));
        // The one process is still busy with it; the next invocation waits, then reuses it.
        let next = h.invoke(json!({})).await;
        assert!(started.elapsed() >= Duration::from_millis(900));
        assert_eq!(pid_of(&next), pid_of(&warm));
        let logs = h.logs().await;
        assert!(
            logs.iter()
                .any(|r| r.message == format!("END RequestId: {}", early.request_id))
        );
        h.host.shutdown().await;
    }

    #[tokio::test]
    async fn functions_are_found_by_entry_point_full_name_or_arn() {
        let script_1 = script("1");
        let h = Host::start(vec![spec(script_1.path())]).await;
        assert_eq!(h.host.function_names(), ["api"]);
        let unknown = h.host.invoke("nope", Bytes::new()).await;
        assert!(matches!(unknown.outcome, InvokeOutcome::UnknownFunction));
        for name in [
            "shop-dev-api",
            "shop-dev-api:$LATEST",
            "arn:aws:lambda:us-east-1:000000000000:function:shop-dev-api",
        ] {
            let result = h.host.invoke(name, Bytes::from_static(b"{}")).await;
            assert!(
                matches!(result.outcome, InvokeOutcome::Response(_)),
                "{name}: {result:?}"
            );
        }
        h.host.shutdown().await;
    }

    #[tokio::test]
    async fn a_missing_binary_is_an_error_at_start() {
        let store = Arc::new(Store::in_memory());
        let (logs, _) = LogSink::to_buffer(store, logs::Style::Plain);
        let err = LambdaHost::start(vec![spec(Path::new("/nonexistent/bootstrap"))], logs)
            .await
            .err()
            .expect("an error");
        assert!(err.to_string().contains("/nonexistent/bootstrap"), "{err}");
    }

    /// The real thing: the e2e fixture app (a Portico app on `lambda_runtime`) under the host.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_fixture_app_serves_api_gateway_events() {
        let Some(binary) = fixture_app() else {
            eprintln!("skipped: the fixture app could not be built");
            return;
        };
        let mut api = spec(&binary);
        api.max_processes = 2;
        let mut tick = spec(&binary);
        tick.name = "tick".to_owned();
        tick.function_name = "shop-dev-tick".to_owned();
        tick.env
            .insert("PORTICO_HANDLER".to_owned(), "tick".to_owned());
        let h = Host::start(vec![api, tick]).await;

        let event = portico_e2e::events::rest_v1("GET", "/echo/a/b").to_bytes();
        let result = h.host.invoke("api", Bytes::from(event)).await;
        let InvokeOutcome::Response(payload) = &result.outcome else {
            panic!("{result:?}");
        };
        let response = portico_e2e::events::ProxyResponse::parse(payload).unwrap();
        assert_eq!(response.status, 200, "{}", response.text());
        let seen = response.json();
        assert_eq!(seen["lambda"]["request_id"], result.request_id);
        assert_eq!(seen["lambda"]["function_name"], "shop-dev-api");

        // A panicking handler is a 500 and the process keeps serving.
        let event = portico_e2e::events::rest_v1("GET", "/panic").to_bytes();
        let panicked = h.host.invoke("api", Bytes::from(event)).await;
        let InvokeOutcome::Response(payload) = &panicked.outcome else {
            panic!("{panicked:?}");
        };
        assert_eq!(
            portico_e2e::events::ProxyResponse::parse(payload)
                .unwrap()
                .status,
            500
        );

        let scheduled = portico_e2e::events::scheduled("shop-dev-tick", "2026-01-01T00:00:00Z");
        let ticked = h
            .host
            .invoke("tick", Bytes::from(scheduled.to_string()))
            .await;
        assert!(
            matches!(ticked.outcome, InvokeOutcome::Response(_)),
            "{ticked:?}"
        );
        let logs = h.logs().await;
        assert!(
            logs.iter().any(|r| r.function == "tick"
                && r.request_id.as_deref() == Some(ticked.request_id.as_str())
                && !logs::is_platform_line(&r.message)),
            "the tick handler's line carries its request id: {logs:#?}"
        );
        h.host.shutdown().await;
    }

    /// `target/debug/fixture_app`, built if needed (`PORTICO_FIXTURE_APP` overrides).
    fn fixture_app() -> Option<PathBuf> {
        if let Some(path) = std::env::var_os("PORTICO_FIXTURE_APP") {
            return Some(PathBuf::from(path));
        }
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
        let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).parent()?;
        let out = std::process::Command::new(cargo)
            .current_dir(workspace)
            .args([
                "build",
                "-p",
                "portico-e2e",
                "--bin",
                "fixture_app",
                "--message-format=json",
            ])
            .stderr(std::process::Stdio::null())
            .output()
            .ok()?;
        if !out.status.success() {
            return None;
        }
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .find_map(|line| {
                let message: Value = serde_json::from_str(line).ok()?;
                (message["target"]["name"] == "fixture_app")
                    .then(|| message["executable"].as_str().map(PathBuf::from))
                    .flatten()
            })
    }

    #[test]
    fn request_ids_look_like_uuids() {
        let id = new_request_id();
        assert_eq!(id.len(), 36);
        let parts: Vec<&str> = id.split('-').collect();
        assert_eq!(
            parts.iter().map(|p| p.len()).collect::<Vec<_>>(),
            [8, 4, 4, 4, 12]
        );
        assert!(parts[2].starts_with('4'));
        assert!(
            matches!(parts[3].as_bytes()[0], b'8' | b'9' | b'a' | b'b'),
            "{id}"
        );
        assert_ne!(new_request_id(), id);
    }

    #[test]
    fn exit_details_use_aws_wording() {
        use std::os::unix::process::ExitStatusExt;
        let status = std::process::ExitStatus::from_raw;
        assert_eq!(
            exit_detail(status(101 << 8)),
            "Runtime exited with error: exit status 101"
        );
        assert_eq!(
            exit_detail(status(0)),
            "Runtime exited without providing a reason"
        );
        assert_eq!(
            exit_detail(status(9)),
            "Runtime exited with error: signal: killed"
        );
        assert_eq!(
            exit_detail(status(6)),
            "Runtime exited with error: signal: aborted"
        );
    }

    #[test]
    fn line_reader_splits_lines_and_cuts_long_ones() {
        let mut reader = LineReader::new(false);
        reader.pending.extend_from_slice(b"one\r\ntwo\n\xffthree");
        let mut lines = Vec::new();
        reader.lines(|l| lines.push(l.to_owned()));
        assert_eq!(lines, ["one", "two"]);
        reader.finish(|l| lines.push(l.to_owned()));
        assert_eq!(lines[2], "\u{fffd}three");
        reader
            .pending
            .extend(std::iter::repeat_n(b'a', MAX_LOG_LINE * 2 + 1));
        let mut long = Vec::new();
        reader.lines(|l| long.push(l.len()));
        assert_eq!(long, [MAX_LOG_LINE, MAX_LOG_LINE]);
        assert_eq!(reader.pending.len(), 1);
    }

    #[test]
    fn error_bodies_fall_back_to_the_header_and_raw_text() {
        assert_eq!(
            error_fields(
                br#"{"errorType":"T","errorMessage":"m"}"#,
                Some("H".into()),
                "D"
            ),
            ("T".to_owned(), "m".to_owned())
        );
        assert_eq!(
            error_fields(b"oops", Some("H".into()), "D"),
            ("H".to_owned(), "oops".to_owned())
        );
        assert_eq!(
            error_fields(b"", None, "D"),
            ("D".to_owned(), String::new())
        );
    }

    #[tokio::test]
    async fn signals_reach_the_whole_process_group() {
        // A shell leading its own group, with a child of its own in that group.
        let mut leader = tokio::process::Command::new("sh")
            .args(["-c", "sleep 60 & echo $!; wait"])
            .stdout(std::process::Stdio::piped())
            .process_group(0)
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let pgid = leader.id().unwrap();
        let mut line = String::new();
        tokio::io::AsyncBufReadExt::read_line(
            &mut tokio::io::BufReader::new(leader.stdout.take().unwrap()),
            &mut line,
        )
        .await
        .unwrap();
        let grandchild: u32 = line.trim().parse().unwrap();
        let alive = |pid: u32| {
            std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .is_ok_and(|stat| !stat.rsplit(')').next().unwrap_or("").starts_with(" Z"))
        };
        assert!(alive(grandchild));
        signal_group(pgid, nix::sys::signal::Signal::SIGKILL);
        let status = leader.wait().await.unwrap();
        assert_eq!(
            std::os::unix::process::ExitStatusExt::signal(&status),
            Some(9)
        );
        // The grandchild got it too (it is reaped by init, so wait a little for that).
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while alive(grandchild) {
            assert!(
                std::time::Instant::now() < deadline,
                "{grandchild} survived"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        // A group that is gone is no error.
        signal_group(pgid, nix::sys::signal::Signal::SIGTERM);
    }
}

//! A synchronous handle on the local cloud's Lambda Runtime API
//! ([`portico_local::lambda::runtime_api`], version `2018-06-01`), to run real app binaries
//! in tests and benchmarks: the one implementation of the protocol in the workspace, on a
//! Tokio runtime of its own, with the events, answers and function processes in the test's
//! hands.
//!
//! It serves what a runtime client calls — `GET /runtime/invocation/next` (blocks until
//! an event is queued), `POST /runtime/invocation/{id}/response`, `POST
//! /runtime/invocation/{id}/error` and `POST /runtime/init/error` — with AWS's headers,
//! status codes and error bodies, over HTTP/1.1 (hyper) with keep-alive and chunked request
//! bodies. Other paths answer 404.
//!
//! ```no_run
//! use std::time::Duration;
//! use portico_e2e::runtime_api::{Invocation, RuntimeApi};
//!
//! let api = RuntimeApi::start()?;
//! let _function = api.spawn_function("target/debug/bootstrap".as_ref(), &[])?;
//! match api.invoke(br#"{"hello":"world"}"#, Duration::from_secs(10)) {
//!     Ok(Invocation::Response(payload)) => println!("{}", String::from_utf8_lossy(&payload)),
//!     Ok(Invocation::Error { error_type, error_message }) => println!("{error_type}: {error_message}"),
//!     Err(err) => println!("{err}"),
//! }
//! # Ok::<(), std::io::Error>(())
//! ```

mod process;

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use bytes::Bytes;
use portico_local::lambda::runtime_api::{self, Answer, Answered, Event, Phase};
pub use portico_local::lambda::runtime_api::{MAX_RESPONSE_BYTES, RecordedRequest};
use portico_local::lambda::{FunctionSpec, function_arn, function_env, new_log_stream};

pub use self::process::FunctionProcess;

/// The API version prefix of every path.
pub const API_PREFIX: &str = "/2018-06-01/runtime";

/// The function name the host reports (in `AWS_LAMBDA_FUNCTION_NAME` and the function ARN).
pub const FUNCTION_NAME: &str = "portico-e2e";

/// The account id in the function ARN: the local cloud's.
pub const ACCOUNT_ID: &str = portico_local::ACCOUNT;

/// The region the host pretends to be in.
pub const REGION: &str = portico_local::REGION;

/// The memory size the functions are told (`AWS_LAMBDA_FUNCTION_MEMORY_SIZE`).
const MEMORY_MB: u32 = 128;

/// Variables of the test process a function sees (besides Lambda's): no `HOME`, no AWS
/// profile or credentials, unlike `portico local`'s functions.
fn inherited(name: &str) -> bool {
    matches!(
        name,
        "PATH" | "LANG" | "LD_LIBRARY_PATH" | "LLVM_PROFILE_FILE"
    ) || name.starts_with("RUST_")
        || name.starts_with("CARGO_LLVM_COV")
}

/// How an invocation ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Invocation {
    /// The function posted a response with this payload.
    Response(Vec<u8>),
    /// The function posted an invocation error (or its response was refused).
    Error {
        /// `errorType` from the error body (else the `Lambda-Runtime-Function-Error-Type`
        /// header).
        error_type: String,
        /// `errorMessage` from the error body (else the raw body).
        error_message: String,
    },
}

impl Invocation {
    /// The response payload parsed as JSON.
    ///
    /// # Panics
    /// When the invocation failed or the payload is not JSON — meant for tests.
    #[track_caller]
    pub fn json(&self) -> serde_json::Value {
        match self {
            Self::Response(payload) => serde_json::from_slice(payload).unwrap_or_else(|e| {
                panic!(
                    "the response payload is not JSON ({e}): {}",
                    String::from_utf8_lossy(payload)
                )
            }),
            Self::Error {
                error_type,
                error_message,
            } => panic!("the invocation failed: {error_type}: {error_message}"),
        }
    }
}

/// An invocation with its timeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvocationRecord {
    /// The request id (`Lambda-Runtime-Aws-Request-Id`).
    pub request_id: String,
    /// How it ended.
    pub outcome: Invocation,
    /// When it was queued.
    pub queued_at: Instant,
    /// When a `/next` poll took it.
    pub delivered_at: Instant,
    /// When its response or error arrived.
    pub completed_at: Instant,
    /// The `Lambda-Runtime-Invocation-Id` header the function sent with its response or
    /// error. The host hands out [`invocation_id`]`(request_id)` with every event, as Lambda
    /// does, so a runtime client that echoes it sends that back.
    pub echoed_invocation_id: Option<String>,
}

/// The `Lambda-Runtime-Invocation-Id` this host sends with the event of `request_id`.
pub fn invocation_id(request_id: &str) -> String {
    format!("invocation-{request_id}")
}

/// An error the function reported from its initialization (`/runtime/init/error`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InitError {
    /// `errorType` of the body (else the `Lambda-Runtime-Function-Error-Type` header).
    pub error_type: String,
    /// `errorMessage` of the body (else the raw body).
    pub error_message: String,
}

/// Why [`RuntimeApi::invoke`] got no answer.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum InvokeError {
    /// No response or error arrived in time. An event nobody picked up is withdrawn.
    Timeout,
    /// Every function process this host spawned has exited.
    FunctionExited {
        /// The exit status of the last one, as displayed by std.
        status: String,
        /// The end of its captured output.
        output_tail: String,
    },
    /// The function reported an initialization error.
    InitError(InitError),
    /// No invocation has this request id.
    UnknownRequestId(String),
}

impl fmt::Display for InvokeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Timeout => f.write_str("the function did not answer the invocation in time"),
            Self::FunctionExited {
                status,
                output_tail,
            } => write!(
                f,
                "the function process exited ({status}) before answering; its output ends with:\n{output_tail}"
            ),
            Self::InitError(e) => write!(
                f,
                "the function reported an init error: {}: {}",
                e.error_type, e.error_message
            ),
            Self::UnknownRequestId(id) => write!(f, "no invocation has request id `{id}`"),
        }
    }
}

impl std::error::Error for InvokeError {}

/// The Lambda Runtime API host. Dropping it closes every connection (a parked `/next` poll
/// included) and stops its runtime.
pub struct RuntimeApi {
    shared: Arc<Shared>,
    api: Arc<runtime_api::RuntimeApi>,
    addr: SocketAddr,
    runtime: Option<tokio::runtime::Runtime>,
}

impl fmt::Debug for RuntimeApi {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RuntimeApi")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

/// What the waiting test threads share with the runtime's tasks and the process readers.
#[derive(Debug, Default)]
struct Shared {
    state: Mutex<State>,
    changed: Condvar,
}

#[derive(Debug, Default)]
struct State {
    /// Queued or handed out, not answered yet: when each was queued.
    pending: HashMap<String, Instant>,
    completed: HashMap<String, InvocationRecord>,
    functions: Vec<Arc<process::ProcessShared>>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn notify(&self) {
        let _state = self.lock();
        self.changed.notify_all();
    }

    fn wait<'a>(
        &self,
        guard: MutexGuard<'a, State>,
        deadline: Instant,
    ) -> Option<MutexGuard<'a, State>> {
        let left = deadline.checked_duration_since(Instant::now())?;
        Some(
            self.changed
                .wait_timeout(guard, left)
                .unwrap_or_else(|e| e.into_inner())
                .0,
        )
    }
}

impl RuntimeApi {
    /// Starts the host on `127.0.0.1` with an ephemeral port.
    ///
    /// # Errors
    /// When the socket cannot be bound or the runtime cannot start.
    pub fn start() -> io::Result<Self> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("runtime-api")
            .enable_all()
            .build()?;
        // Bound here, not with `block_on`: the caller may be inside a runtime of its own.
        let listener = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let listener = {
            let _runtime = runtime.enter();
            tokio::net::TcpListener::from_std(listener)?
        };
        let api = Arc::new(
            runtime_api::RuntimeApi::new(function_arn(REGION, FUNCTION_NAME)).with_journal(),
        );
        let shared = Arc::new(Shared::default());
        runtime.spawn(runtime_api::serve(listener, Arc::clone(&api)));
        // Waiting threads hear of `/next` polls and init errors.
        let mut phase = api.phase();
        let waiters = Arc::clone(&shared);
        runtime.spawn(async move {
            while phase.changed().await.is_ok() {
                waiters.notify();
            }
        });
        Ok(Self {
            shared,
            api,
            addr,
            runtime: Some(runtime),
        })
    }

    fn runtime(&self) -> &tokio::runtime::Runtime {
        self.runtime
            .as_ref()
            .expect("the runtime lives as long as the host")
    }

    /// The address to put in `AWS_LAMBDA_RUNTIME_API` (as `host:port`).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The invoked function's ARN, as sent in `Lambda-Runtime-Invoked-Function-Arn`.
    pub fn function_arn(&self) -> String {
        self.api.function_arn().to_owned()
    }

    /// Spawns `binary` as a Lambda function served by this host.
    ///
    /// The environment is what the local cloud gives its functions
    /// ([`portico_local::lambda::function_env`]: what Lambda's `provided.al2023` runtime
    /// sets — `AWS_LAMBDA_RUNTIME_API`, `AWS_LAMBDA_FUNCTION_NAME`,
    /// `AWS_LAMBDA_FUNCTION_MEMORY_SIZE=128`, `AWS_LAMBDA_FUNCTION_VERSION=$LATEST`,
    /// `AWS_LAMBDA_LOG_GROUP_NAME`, `AWS_LAMBDA_LOG_STREAM_NAME`,
    /// `AWS_LAMBDA_INITIALIZATION_TYPE`, `AWS_REGION`, `AWS_DEFAULT_REGION`,
    /// `AWS_EXECUTION_ENV`, `_HANDLER=bootstrap`, `LAMBDA_TASK_ROOT` (the binary's
    /// directory, also the working directory), `LAMBDA_RUNTIME_DIR`, `TZ=:UTC`) — plus
    /// `PATH`, `LANG`, `LD_LIBRARY_PATH` and the `RUST_*`/`LLVM_PROFILE_FILE` variables of
    /// the test process, then `extra_env`, which overrides any of them (even
    /// `AWS_LAMBDA_RUNTIME_API`). Nothing else is inherited (no stray `AWS_PROFILE` or
    /// credentials). stdout and stderr are captured.
    ///
    /// # Errors
    /// When the binary does not exist or cannot be started.
    pub fn spawn_function(
        &self,
        binary: &Path,
        extra_env: &[(&str, &str)],
    ) -> io::Result<FunctionProcess> {
        let binary = std::fs::canonicalize(binary).map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("cannot find function binary {}: {e}", binary.display()),
            )
        })?;
        let task_root = binary.parent().unwrap_or(Path::new("/")).to_owned();
        let spec = FunctionSpec {
            name: FUNCTION_NAME.to_owned(),
            function_name: FUNCTION_NAME.to_owned(),
            binary: binary.clone(),
            env: extra_env
                .iter()
                .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
                .collect::<BTreeMap<_, _>>(),
            memory_mb: MEMORY_MB,
            timeout: Duration::from_secs(900),
            max_processes: 1,
        };
        let log_stream = new_log_stream();
        let ours = std::env::vars_os().filter(|(name, _)| name.to_str().is_some_and(inherited));
        let mut env = function_env(&spec, self.addr, &log_stream, &task_root, ours);
        if let Some((_, value)) = extra_env
            .iter()
            .find(|(name, _)| *name == "AWS_LAMBDA_RUNTIME_API")
        {
            env.retain(|(name, _)| name != "AWS_LAMBDA_RUNTIME_API");
            env.push(("AWS_LAMBDA_RUNTIME_API".to_owned(), (*value).to_owned()));
        }
        let mut command = Command::new(&binary);
        command
            .env_clear()
            .envs(env)
            .current_dir(PathBuf::from(&task_root))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let spawned_at = Instant::now();
        let child = command.spawn().map_err(|e| {
            io::Error::new(e.kind(), format!("cannot start {}: {e}", binary.display()))
        })?;
        let host = Arc::downgrade(&self.shared);
        let function = FunctionProcess::watch(child, spawned_at, move || {
            if let Some(host) = host.upgrade() {
                host.notify();
            }
        });
        self.shared.lock().functions.push(function.shared());
        Ok(function)
    }

    /// Queues `payload` and waits for the function's response or error.
    ///
    /// `timeout` is also the invocation's deadline (`Lambda-Runtime-Deadline-Ms`).
    ///
    /// # Errors
    /// [`InvokeError::Timeout`] after `timeout`; [`InvokeError::FunctionExited`] as soon as
    /// every function this host spawned has exited; [`InvokeError::InitError`] when the
    /// function reported one.
    pub fn invoke(&self, payload: &[u8], timeout: Duration) -> Result<Invocation, InvokeError> {
        self.invoke_detailed(payload, timeout).map(|r| r.outcome)
    }

    /// [`invoke`](Self::invoke), returning the request id and timeline too.
    ///
    /// # Errors
    /// As [`invoke`](Self::invoke).
    pub fn invoke_detailed(
        &self,
        payload: &[u8],
        timeout: Duration,
    ) -> Result<InvocationRecord, InvokeError> {
        let request_id = self.enqueue(payload, timeout);
        self.wait_for(&request_id, timeout)
    }

    /// Queues an event without waiting; returns its request id for [`wait_for`](Self::wait_for).
    /// `timeout` sets its deadline header.
    pub fn enqueue(&self, payload: &[u8], timeout: Duration) -> String {
        self.enqueue_with_headers(payload, &[], timeout)
    }

    /// [`enqueue`](Self::enqueue), sending `headers` with the event too, as Lambda sends
    /// `Lambda-Runtime-Client-Context` and `Lambda-Runtime-Cognito-Identity` for invocations
    /// that carry them.
    pub fn enqueue_with_headers(
        &self,
        payload: &[u8],
        headers: &[(&str, &str)],
        timeout: Duration,
    ) -> String {
        let request_id = portico_local::ids::uuid_v4();
        let mut event = Event::new(request_id.clone(), Bytes::copy_from_slice(payload), timeout);
        event.invocation_id = invocation_id(&request_id);
        event.headers = headers
            .iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
            .collect();
        let queued_at = Instant::now();
        self.shared
            .lock()
            .pending
            .insert(request_id.clone(), queued_at);
        let answered = self.api.enqueue(event);
        let shared = Arc::clone(&self.shared);
        let id = request_id.clone();
        self.runtime().spawn(async move {
            let Ok(answered) = answered.await else {
                // Withdrawn.
                return;
            };
            let mut state = shared.lock();
            state.pending.remove(&id);
            state
                .completed
                .insert(id.clone(), record(id, queued_at, answered));
            shared.changed.notify_all();
        });
        request_id
    }

    /// Waits for the outcome of the queued invocation `request_id`.
    ///
    /// # Errors
    /// As [`invoke`](Self::invoke), plus [`InvokeError::UnknownRequestId`].
    pub fn wait_for(
        &self,
        request_id: &str,
        timeout: Duration,
    ) -> Result<InvocationRecord, InvokeError> {
        let deadline = Instant::now() + timeout;
        let mut state = self.shared.lock();
        loop {
            if let Some(record) = state.completed.remove(request_id) {
                return Ok(record);
            }
            if !state.pending.contains_key(request_id) {
                return Err(InvokeError::UnknownRequestId(request_id.to_owned()));
            }
            if let Some(err) = self.init_error() {
                self.withdraw(&mut state, request_id);
                return Err(InvokeError::InitError(err));
            }
            if let Some(last) = state.functions.last() {
                if state.functions.iter().all(|f| f.exit_status().is_some()) {
                    let status = last
                        .exit_status()
                        .map_or_else(|| "unknown status".to_owned(), |s| s.to_string());
                    let output_tail = last.output_tail(4096);
                    self.withdraw(&mut state, request_id);
                    return Err(InvokeError::FunctionExited {
                        status,
                        output_tail,
                    });
                }
            }
            state = match self.shared.wait(state, deadline) {
                Some(state) => state,
                None => {
                    let mut state = self.shared.lock();
                    if let Some(record) = state.completed.remove(request_id) {
                        return Ok(record);
                    }
                    self.withdraw(&mut state, request_id);
                    return Err(InvokeError::Timeout);
                }
            };
        }
    }

    /// Takes back an event no `/next` took yet (one handed out may still be answered).
    fn withdraw(&self, state: &mut State, request_id: &str) {
        if self.api.withdraw(request_id) {
            state.pending.remove(request_id);
        }
    }

    /// Waits until a runtime client has polled `/next` at least once; returns when the first
    /// poll arrived (`None` after `timeout`). With [`FunctionProcess::spawned_at`] this is the
    /// function's init duration.
    pub fn wait_for_next_request(&self, timeout: Duration) -> Option<Instant> {
        let deadline = Instant::now() + timeout;
        let mut state = self.shared.lock();
        loop {
            if let Some(first) = self.api.next_polls().first() {
                return Some(*first);
            }
            state = self.shared.wait(state, deadline)?;
        }
    }

    /// When each `/next` poll arrived, in order.
    pub fn next_request_times(&self) -> Vec<Instant> {
        self.api.next_polls()
    }

    /// The init error the function reported, if any.
    pub fn init_error(&self) -> Option<InitError> {
        match &*self.api.phase().borrow() {
            Phase::InitError {
                error_type,
                error_message,
            } => Some(InitError {
                error_type: error_type.clone(),
                error_message: error_message.clone(),
            }),
            _ => None,
        }
    }

    /// Every request answered so far, in order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.api.requests()
    }
}

impl Drop for RuntimeApi {
    fn drop(&mut self) {
        // Ends the server task, which closes every connection. Inside a caller's runtime
        // (an async test) there is no waiting for that.
        if let Some(runtime) = self.runtime.take() {
            if tokio::runtime::Handle::try_current().is_ok() {
                runtime.shutdown_background();
            } else {
                runtime.shutdown_timeout(Duration::from_secs(5));
            }
        }
    }
}

fn record(request_id: String, queued_at: Instant, answered: Answered) -> InvocationRecord {
    let outcome = match answered.answer {
        Answer::Response(payload) => Invocation::Response(payload.to_vec()),
        Answer::Error {
            error_type,
            error_message,
        } => Invocation::Error {
            error_type,
            error_message,
        },
    };
    InvocationRecord {
        echoed_invocation_id: answered
            .invocation_id_echoed
            .then(|| invocation_id(&request_id)),
        request_id,
        outcome,
        queued_at,
        delivered_at: answered.delivered_at,
        completed_at: answered.answered_at,
    }
}

#[cfg(test)]
mod tests;

//! A Lambda Runtime API host (version `2018-06-01`) on loopback, to run real app binaries
//! in tests and benchmarks.
//!
//! It implements what a runtime client calls — `GET /runtime/invocation/next` (blocks until
//! an event is queued), `POST /runtime/invocation/{id}/response`, `POST
//! /runtime/invocation/{id}/error` and `POST /runtime/init/error` — with AWS's headers,
//! status codes and error bodies, over HTTP/1.1 with keep-alive and chunked request bodies.
//! Other paths answer 404.
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

mod http;
mod process;

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::io::{self, BufReader};
use std::net::{Ipv4Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use self::http::{HttpRequest, HttpResponse, ReadError};
pub use self::process::FunctionProcess;
use self::process::ProcessShared;

/// The API version prefix of every path.
pub const API_PREFIX: &str = "/2018-06-01/runtime";

/// The largest response payload Lambda accepts for a buffered (request-response) invocation.
pub const MAX_RESPONSE_BYTES: usize = 6_291_556;

/// The function name the host reports (in `AWS_LAMBDA_FUNCTION_NAME` and the function ARN).
pub const FUNCTION_NAME: &str = "portico-e2e";

/// The account id in the function ARN.
pub const ACCOUNT_ID: &str = "123456789012";

/// The region the host pretends to be in.
pub const REGION: &str = "us-east-1";

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

/// One request the host answered, for assertions on what a runtime client did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedRequest {
    /// The method.
    pub method: String,
    /// The path, without the query string.
    pub path: String,
    /// The status answered.
    pub status: u16,
}

/// The Lambda Runtime API host. Dropping it stops the server threads.
#[derive(Debug)]
pub struct RuntimeApi {
    shared: Arc<Shared>,
    addr: SocketAddr,
    acceptor: Option<JoinHandle<()>>,
}

#[derive(Debug)]
struct Shared {
    state: Mutex<State>,
    changed: Condvar,
}

#[derive(Debug, Default)]
struct State {
    queue: VecDeque<Pending>,
    in_flight: HashMap<String, InFlight>,
    completed: HashMap<String, InvocationRecord>,
    init_error: Option<InitError>,
    next_polls: Vec<Instant>,
    requests: Vec<RecordedRequest>,
    functions: Vec<Arc<ProcessShared>>,
    connections: HashMap<u64, TcpStream>,
    workers: Vec<JoinHandle<()>>,
    shutdown: bool,
}

#[derive(Debug)]
struct Pending {
    request_id: String,
    payload: Vec<u8>,
    /// Headers sent with the event besides the ones every event gets.
    headers: Vec<(String, String)>,
    timeout: Duration,
    queued_at: Instant,
}

#[derive(Debug)]
struct InFlight {
    queued_at: Instant,
    delivered_at: Instant,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
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

    fn new_request_id(&self) -> String {
        // A version 4 UUID, like AWS's.
        uuid::Uuid::new_v4().hyphenated().to_string()
    }
}

impl RuntimeApi {
    /// Starts the host on `127.0.0.1` with an ephemeral port.
    ///
    /// # Errors
    /// When the socket cannot be bound or the accept thread cannot start.
    pub fn start() -> io::Result<Self> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            state: Mutex::new(State::default()),
            changed: Condvar::new(),
        });
        let acceptor = {
            let shared = Arc::clone(&shared);
            std::thread::Builder::new()
                .name("runtime-api-accept".to_owned())
                .spawn(move || accept_loop(&listener, &shared))?
        };
        Ok(Self {
            shared,
            addr,
            acceptor: Some(acceptor),
        })
    }

    /// The address to put in `AWS_LAMBDA_RUNTIME_API` (as `host:port`).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The invoked function's ARN, as sent in `Lambda-Runtime-Invoked-Function-Arn`.
    pub fn function_arn(&self) -> String {
        format!("arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{FUNCTION_NAME}")
    }

    /// Spawns `binary` as a Lambda function served by this host.
    ///
    /// The environment is what Lambda's `provided.al2023` runtime sets — `AWS_LAMBDA_RUNTIME_API`,
    /// `AWS_LAMBDA_FUNCTION_NAME`, `AWS_LAMBDA_FUNCTION_MEMORY_SIZE=128`,
    /// `AWS_LAMBDA_FUNCTION_VERSION=$LATEST`, `AWS_LAMBDA_LOG_GROUP_NAME`,
    /// `AWS_LAMBDA_LOG_STREAM_NAME`, `AWS_LAMBDA_INITIALIZATION_TYPE`, `AWS_REGION`,
    /// `AWS_DEFAULT_REGION`, `_HANDLER=bootstrap`, `LAMBDA_TASK_ROOT` (the binary's directory,
    /// also the working directory), `LAMBDA_RUNTIME_DIR`, `TZ=:UTC` — plus `PATH`, `LANG`,
    /// `LD_LIBRARY_PATH` and the `RUST_*`/`LLVM_PROFILE_FILE` variables of the test process,
    /// then `extra_env`, which overrides any of them. Nothing else is inherited (no stray
    /// `AWS_PROFILE` or credentials). stdout and stderr are captured.
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
        let task_root = binary.parent().unwrap_or(Path::new("/"));
        let mut command = Command::new(&binary);
        command
            .env_clear()
            .current_dir(task_root)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (name, value) in std::env::vars_os() {
            let keep = name.to_str().is_some_and(|n| {
                matches!(n, "PATH" | "LANG" | "LD_LIBRARY_PATH" | "LLVM_PROFILE_FILE")
                    || n.starts_with("RUST_")
                    || n.starts_with("CARGO_LLVM_COV")
            });
            if keep {
                command.env(name, value);
            }
        }
        let log_stream = format!(
            "{}/[$LATEST]{:032x}",
            utc_date_path(SystemTime::now()),
            random_u128()
        );
        command
            .env("AWS_LAMBDA_RUNTIME_API", self.addr.to_string())
            .env("AWS_LAMBDA_FUNCTION_NAME", FUNCTION_NAME)
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env(
                "AWS_LAMBDA_LOG_GROUP_NAME",
                format!("/aws/lambda/{FUNCTION_NAME}"),
            )
            .env("AWS_LAMBDA_LOG_STREAM_NAME", log_stream)
            .env("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand")
            .env("AWS_REGION", REGION)
            .env("AWS_DEFAULT_REGION", REGION)
            .env("_HANDLER", "bootstrap")
            .env("LAMBDA_TASK_ROOT", task_root)
            .env("LAMBDA_RUNTIME_DIR", "/var/runtime")
            .env("TZ", ":UTC");
        for (name, value) in extra_env {
            command.env(name, value);
        }
        let spawned_at = Instant::now();
        let child = command.spawn().map_err(|e| {
            io::Error::new(e.kind(), format!("cannot start {}: {e}", binary.display()))
        })?;
        let host = Arc::downgrade(&self.shared);
        let function = FunctionProcess::watch(child, spawned_at, move || {
            if let Some(host) = host.upgrade() {
                let _state = host.lock();
                host.changed.notify_all();
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
        let request_id = self.shared.new_request_id();
        let mut state = self.shared.lock();
        state.queue.push_back(Pending {
            request_id: request_id.clone(),
            payload: payload.to_vec(),
            headers: headers
                .iter()
                .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
                .collect(),
            timeout,
            queued_at: Instant::now(),
        });
        self.shared.changed.notify_all();
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
            let queued = state.queue.iter().any(|p| p.request_id == request_id);
            if !queued && !state.in_flight.contains_key(request_id) {
                return Err(InvokeError::UnknownRequestId(request_id.to_owned()));
            }
            if let Some(err) = &state.init_error {
                let err = err.clone();
                state.queue.retain(|p| p.request_id != request_id);
                return Err(InvokeError::InitError(err));
            }
            if let Some(last) = state.functions.last() {
                if state.functions.iter().all(|f| f.exit_status().is_some()) {
                    let status = last
                        .exit_status()
                        .map_or_else(|| "unknown status".to_owned(), |s| s.to_string());
                    let output_tail = last.output_tail(4096);
                    state.queue.retain(|p| p.request_id != request_id);
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
                    state.queue.retain(|p| p.request_id != request_id);
                    return Err(InvokeError::Timeout);
                }
            };
        }
    }

    /// Waits until a runtime client has polled `/next` at least once; returns when the first
    /// poll arrived (`None` after `timeout`). With [`FunctionProcess::spawned_at`] this is the
    /// function's init duration.
    pub fn wait_for_next_request(&self, timeout: Duration) -> Option<Instant> {
        let deadline = Instant::now() + timeout;
        let mut state = self.shared.lock();
        loop {
            if let Some(first) = state.next_polls.first() {
                return Some(*first);
            }
            state = self.shared.wait(state, deadline)?;
        }
    }

    /// When each `/next` poll arrived, in order.
    pub fn next_request_times(&self) -> Vec<Instant> {
        self.shared.lock().next_polls.clone()
    }

    /// The init error the function reported, if any.
    pub fn init_error(&self) -> Option<InitError> {
        self.shared.lock().init_error.clone()
    }

    /// Every request answered so far, in order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.lock().requests.clone()
    }
}

impl Drop for RuntimeApi {
    fn drop(&mut self) {
        let workers = {
            let mut state = self.shared.lock();
            state.shutdown = true;
            for stream in state.connections.values() {
                let _ = stream.shutdown(Shutdown::Both);
            }
            self.shared.changed.notify_all();
            std::mem::take(&mut state.workers)
        };
        // Wake the acceptor, which checks the flag after each connection.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
        for worker in workers {
            let _ = worker.join();
        }
        // Connections accepted after the first sweep.
        let late = std::mem::take(&mut self.shared.lock().workers);
        for worker in late {
            let _ = worker.join();
        }
    }
}

fn accept_loop(listener: &TcpListener, shared: &Arc<Shared>) {
    let mut next_id = 0u64;
    for stream in listener.incoming() {
        let Ok(stream) = stream else { continue };
        let mut state = shared.lock();
        if state.shutdown {
            return;
        }
        state.workers.retain(|w| !w.is_finished());
        let Ok(clone) = stream.try_clone() else {
            continue;
        };
        next_id += 1;
        let id = next_id;
        state.connections.insert(id, clone);
        let worker = {
            let shared = Arc::clone(shared);
            std::thread::Builder::new()
                .name(format!("runtime-api-conn-{id}"))
                .spawn(move || {
                    serve_connection(&shared, stream);
                    shared.lock().connections.remove(&id);
                })
        };
        match worker {
            Ok(worker) => state.workers.push(worker),
            Err(_) => {
                if let Some(stream) = state.connections.remove(&id) {
                    let _ = stream.shutdown(Shutdown::Both);
                }
            }
        }
    }
}

/// What a handled request produced.
enum Reply {
    Send(HttpResponse),
    /// An event handed out by `/next`: put it back if the response cannot be written.
    Deliver(HttpResponse, Pending),
    /// Close without answering (shutdown, or the client left while waiting).
    Close,
}

fn serve_connection(shared: &Shared, stream: TcpStream) {
    let _ = stream.set_nodelay(true);
    let Ok(mut writer) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(stream);
    loop {
        let request = match http::read_request(&mut reader) {
            Ok(request) => request,
            Err(ReadError::Closed | ReadError::Io) => return,
            Err(ReadError::Malformed(message)) => {
                let _ = HttpResponse::error(400, "InvalidRequest", &message)
                    .write_to(&mut writer, true);
                return;
            }
            Err(ReadError::TooLarge(status)) => {
                let _ = HttpResponse::error(status, "RequestTooLarge", "request too large")
                    .write_to(&mut writer, true);
                return;
            }
        };
        let keep_alive = request.keep_alive();
        let reply = handle(shared, &request, reader.get_ref());
        let (response, delivered) = match reply {
            Reply::Close => return,
            Reply::Send(response) => (response, None),
            Reply::Deliver(response, pending) => (response, Some(pending)),
        };
        shared.lock().requests.push(RecordedRequest {
            method: request.method.clone(),
            path: request.path().to_owned(),
            status: response.status,
        });
        if let Err(_e) = response.write_to(&mut writer, !keep_alive) {
            if let Some(pending) = delivered {
                let mut state = shared.lock();
                state.in_flight.remove(&pending.request_id);
                state.queue.push_front(pending);
                shared.changed.notify_all();
            }
            return;
        }
        if !keep_alive {
            let _ = writer.shutdown(Shutdown::Write);
            return;
        }
    }
}

fn handle(shared: &Shared, request: &HttpRequest, stream: &TcpStream) -> Reply {
    let Some(rest) = request.path().strip_prefix(API_PREFIX) else {
        return not_found(request);
    };
    let segments: Vec<&str> = rest.split('/').skip(1).collect();
    match segments.as_slice() {
        ["invocation", "next"] => match request.method.as_str() {
            "GET" => next_invocation(shared, stream),
            _ => method_not_allowed("GET"),
        },
        ["invocation", id, kind @ ("response" | "error")] if !id.is_empty() => {
            match request.method.as_str() {
                "POST" if *kind == "response" => {
                    Reply::Send(invocation_response(shared, id, request))
                }
                "POST" => Reply::Send(invocation_error(shared, id, request)),
                _ => method_not_allowed("POST"),
            }
        }
        ["init", "error"] => match request.method.as_str() {
            "POST" => {
                let (error_type, error_message) = error_fields(request, "Runtime.Unknown");
                let mut state = shared.lock();
                state.init_error = Some(InitError {
                    error_type,
                    error_message,
                });
                shared.changed.notify_all();
                Reply::Send(accepted())
            }
            _ => method_not_allowed("POST"),
        },
        _ => not_found(request),
    }
}

fn not_found(request: &HttpRequest) -> Reply {
    Reply::Send(HttpResponse::error(
        404,
        "NotFound",
        &format!(
            "no Runtime API resource at {} {}",
            request.method,
            request.path()
        ),
    ))
}

fn method_not_allowed(allow: &str) -> Reply {
    let mut response = HttpResponse::error(405, "MethodNotAllowed", &format!("use {allow}"));
    response
        .headers
        .push(("Allow".to_owned(), allow.to_owned()));
    Reply::Send(response)
}

fn accepted() -> HttpResponse {
    HttpResponse::json(202, &serde_json::json!({ "status": "OK" }))
}

fn next_invocation(shared: &Shared, stream: &TcpStream) -> Reply {
    let mut state = shared.lock();
    state.next_polls.push(Instant::now());
    shared.changed.notify_all();
    loop {
        if state.shutdown {
            return Reply::Close;
        }
        if !state.queue.is_empty() {
            // Hand the event only to a client that is still there; the one that left (a
            // killed function) must not swallow it.
            if peer_closed(stream) {
                return Reply::Close;
            }
            let Some(pending) = state.queue.pop_front() else {
                continue;
            };
            let delivered_at = Instant::now();
            state.in_flight.insert(
                pending.request_id.clone(),
                InFlight {
                    queued_at: pending.queued_at,
                    delivered_at,
                },
            );
            drop(state);
            let deadline_ms = epoch_millis(SystemTime::now() + pending.timeout);
            let mut response = HttpResponse {
                status: 200,
                headers: vec![
                    ("Content-Type".to_owned(), "application/json".to_owned()),
                    (
                        "Lambda-Runtime-Aws-Request-Id".to_owned(),
                        pending.request_id.clone(),
                    ),
                    (
                        "Lambda-Runtime-Deadline-Ms".to_owned(),
                        deadline_ms.to_string(),
                    ),
                    (
                        "Lambda-Runtime-Invoked-Function-Arn".to_owned(),
                        format!("arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{FUNCTION_NAME}"),
                    ),
                    ("Lambda-Runtime-Trace-Id".to_owned(), trace_id()),
                    (
                        "Lambda-Runtime-Invocation-Id".to_owned(),
                        invocation_id(&pending.request_id),
                    ),
                ],
                body: pending.payload.clone(),
            };
            response.headers.extend(pending.headers.iter().cloned());
            return Reply::Deliver(response, pending);
        }
        state = shared
            .changed
            .wait(state)
            .unwrap_or_else(|e| e.into_inner());
    }
}

/// Whether the client closed its side (a pending request cannot have more bytes after it,
/// so anything readable now is end of stream or a pipelined request).
fn peer_closed(stream: &TcpStream) -> bool {
    if stream.set_nonblocking(true).is_err() {
        return true;
    }
    let closed = match stream.peek(&mut [0u8; 1]) {
        Ok(0) => true,
        Ok(_) => false,
        Err(e) => e.kind() != io::ErrorKind::WouldBlock,
    };
    let _ = stream.set_nonblocking(false);
    closed
}

fn invocation_response(shared: &Shared, request_id: &str, request: &HttpRequest) -> HttpResponse {
    let mut state = shared.lock();
    let Some(in_flight) = state.in_flight.remove(request_id) else {
        return invalid_request_id();
    };
    let (reply, outcome) = if request.body.len() > MAX_RESPONSE_BYTES {
        let message =
            format!("Exceeded maximum allowed payload size ({MAX_RESPONSE_BYTES} bytes).");
        (
            HttpResponse::error(413, "RequestEntityTooLarge", &message),
            Invocation::Error {
                error_type: "Function.ResponseSizeTooLarge".to_owned(),
                error_message: format!(
                    "Response payload size ({} bytes) exceeded maximum allowed payload size ({MAX_RESPONSE_BYTES} bytes).",
                    request.body.len()
                ),
            },
        )
    } else if let Some(error_type) = request.trailer("Lambda-Runtime-Function-Error-Type") {
        // A streamed response that failed midway reports the error in trailers.
        (
            accepted(),
            Invocation::Error {
                error_type: error_type.to_owned(),
                error_message: request
                    .trailer("Lambda-Runtime-Function-Error-Body")
                    .unwrap_or_default()
                    .to_owned(),
            },
        )
    } else {
        (accepted(), Invocation::Response(request.body.clone()))
    };
    complete(shared, &mut state, request_id, in_flight, outcome, request);
    reply
}

fn invocation_error(shared: &Shared, request_id: &str, request: &HttpRequest) -> HttpResponse {
    let mut state = shared.lock();
    let Some(in_flight) = state.in_flight.remove(request_id) else {
        return invalid_request_id();
    };
    let (error_type, error_message) = error_fields(request, "Unhandled");
    complete(
        shared,
        &mut state,
        request_id,
        in_flight,
        Invocation::Error {
            error_type,
            error_message,
        },
        request,
    );
    accepted()
}

fn complete(
    shared: &Shared,
    state: &mut State,
    request_id: &str,
    in_flight: InFlight,
    outcome: Invocation,
    request: &HttpRequest,
) {
    state.completed.insert(
        request_id.to_owned(),
        InvocationRecord {
            request_id: request_id.to_owned(),
            outcome,
            queued_at: in_flight.queued_at,
            delivered_at: in_flight.delivered_at,
            completed_at: Instant::now(),
            echoed_invocation_id: request
                .header("Lambda-Runtime-Invocation-Id")
                .map(str::to_owned),
        },
    );
    shared.changed.notify_all();
}

fn invalid_request_id() -> HttpResponse {
    HttpResponse::error(400, "InvalidRequestID", "Invalid request ID")
}

/// `errorType` / `errorMessage` of an error body; Lambda accepts any body, so fall back to
/// the error-type header and the raw text.
fn error_fields(request: &HttpRequest, default_type: &str) -> (String, String) {
    let body: Option<serde_json::Value> = serde_json::from_slice(&request.body).ok();
    let field = |name: &str| {
        body.as_ref()
            .and_then(|b| b.get(name))
            .and_then(serde_json::Value::as_str)
            .map(str::to_owned)
    };
    let error_type = field("errorType")
        .or_else(|| {
            request
                .header("Lambda-Runtime-Function-Error-Type")
                .map(str::to_owned)
        })
        .unwrap_or_else(|| default_type.to_owned());
    let error_message = field("errorMessage")
        .unwrap_or_else(|| String::from_utf8_lossy(&request.body).into_owned());
    (error_type, error_message)
}

fn epoch_millis(at: SystemTime) -> u128 {
    at.duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis()
}

fn trace_id() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    let random = random_u128();
    format!(
        "Root=1-{:08x}-{:08x}{:016x};Parent={:016x};Sampled=0",
        secs as u32,
        (random >> 96) as u32,
        random as u64,
        getrandom::u64().expect("the operating system's random source")
    )
}

/// 128 random bits from the operating system (no fallback).
fn random_u128() -> u128 {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).expect("the operating system's random source");
    u128::from_le_bytes(bytes)
}

/// `YYYY/MM/DD` (UTC) of `at`, as in Lambda log stream names.
fn utc_date_path(at: SystemTime) -> String {
    let days = at.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs() / 86_400;
    let (y, m, d) = civil_from_days(days as i64);
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
mod tests;

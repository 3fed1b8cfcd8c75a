//! The Runtime API of one endpoint (version `2018-06-01`): `GET /runtime/invocation/next`,
//! `POST /runtime/invocation/{id}/response|error` and `POST /runtime/init/error`, over
//! hyper on loopback.

use std::collections::{HashMap, VecDeque};
use std::convert::Infallible;
use std::os::fd::AsFd;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::header::{CONTENT_LENGTH, CONTENT_TYPE, HeaderMap, HeaderValue};
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::{Notify, oneshot, watch};

use crate::clock;
use crate::lambda::support::{lock, random_u64, trace_id};

/// The largest response payload Lambda accepts for a request-response invocation.
pub const MAX_RESPONSE_BYTES: usize = 6_291_556;

/// The path prefix of every Runtime API resource.
pub(crate) const API_PREFIX: &str = "/2018-06-01/runtime";

/// A request body over the limit is read and dropped up to this size, then the connection is
/// closed.
pub(crate) const DISCARD_LIMIT: usize = 64 * 1024 * 1024;

/// An invocation for the runtime to take with `/next`.
#[derive(Debug, Clone)]
pub struct Event {
    /// `Lambda-Runtime-Aws-Request-Id`.
    pub request_id: String,
    /// `Lambda-Runtime-Invocation-Id`: a nonce per invocation, which Lambda's Runtime API
    /// sends with the event and checks when the runtime echoes it with the answer.
    pub invocation_id: String,
    /// The event, as the body of `/next`.
    pub payload: Bytes,
    /// `Lambda-Runtime-Deadline-Ms` (Unix milliseconds).
    pub deadline_ms: i64,
    /// `Lambda-Runtime-Trace-Id`.
    pub trace_id: String,
    /// More headers sent with the event, as Lambda sends `Lambda-Runtime-Client-Context` and
    /// `Lambda-Runtime-Cognito-Identity` for invocations that carry them.
    pub headers: Vec<(String, String)>,
}

impl Event {
    /// An event with a random invocation id and trace id, due `timeout` from now.
    pub fn new(request_id: String, payload: Bytes, timeout: Duration) -> Self {
        Self {
            request_id,
            invocation_id: format!("{:016x}{:016x}", random_u64(), random_u64()),
            payload,
            deadline_ms: clock::now_ms()
                .saturating_add(i64::try_from(timeout.as_millis()).unwrap_or(i64::MAX)),
            trace_id: trace_id(),
            headers: Vec::new(),
        }
    }
}

/// What the runtime posted for an invocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// `/response`: the payload.
    Response(Bytes),
    /// `/error`, an error in a streamed response's trailers, or a response over
    /// [`MAX_RESPONSE_BYTES`] (`Function.ResponseSizeTooLarge`).
    Error {
        /// `errorType` (else the `Lambda-Runtime-Function-Error-Type` header).
        error_type: String,
        /// `errorMessage` (else the raw body).
        error_message: String,
    },
}

/// An [`Answer`] with its timeline.
#[derive(Debug, Clone)]
pub struct Answered {
    /// What the runtime posted.
    pub answer: Answer,
    /// When a `/next` handed the event out.
    pub delivered_at: Instant,
    /// When the answer arrived.
    pub answered_at: Instant,
    /// Whether the runtime echoed the event's `Lambda-Runtime-Invocation-Id` (a wrong one is
    /// refused with `InvalidRequestID`).
    pub invocation_id_echoed: bool,
}

/// Where the runtime is in its life.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Phase {
    /// No `/next` yet.
    Starting,
    /// Asked for its first invocation.
    Ready,
    /// Posted `/init/error` (before any `/next`, or after: the post counts).
    InitError {
        /// `errorType` (else the `Lambda-Runtime-Function-Error-Type` header).
        error_type: String,
        /// `errorMessage` (else the raw body).
        error_message: String,
    },
}

/// One request the endpoint answered (kept when the endpoint has a journal).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedRequest {
    /// The method.
    pub method: String,
    /// The path, without the query string.
    pub path: String,
    /// The status answered.
    pub status: u16,
}

#[derive(Default)]
struct Journal {
    requests: Vec<RecordedRequest>,
    next_polls: Vec<Instant>,
}

/// The Runtime API of one runtime (the host runs one per process, so it knows which process
/// holds which invocation): a FIFO of events that `/next` hands out, and the invocations
/// handed out and not answered yet, by request id. A runtime may take several at once
/// (`AWS_LAMBDA_MAX_CONCURRENCY`). Serve it with [`serve`].
pub struct RuntimeApi {
    function_arn: String,
    queue: Mutex<VecDeque<(Event, oneshot::Sender<Answered>)>>,
    queued: Notify,
    in_flight: Mutex<HashMap<String, InFlight>>,
    pub(crate) phase: watch::Sender<Phase>,
    journal: Option<Mutex<Journal>>,
}

/// An invocation handed out and not answered yet.
struct InFlight {
    invocation_id: String,
    delivered_at: Instant,
    answer: oneshot::Sender<Answered>,
}

impl RuntimeApi {
    /// An endpoint whose events name `function_arn` (`Lambda-Runtime-Invoked-Function-Arn`).
    pub fn new(function_arn: impl Into<String>) -> Self {
        Self {
            function_arn: function_arn.into(),
            queue: Mutex::new(VecDeque::new()),
            queued: Notify::new(),
            in_flight: Mutex::new(HashMap::new()),
            phase: watch::channel(Phase::Starting).0,
            journal: None,
        }
    }

    /// Keeps a journal of every request answered and of when each `/next` arrived (see
    /// [`requests`](Self::requests), [`next_polls`](Self::next_polls)): for tests and
    /// measurements of a runtime client.
    #[must_use]
    pub fn with_journal(mut self) -> Self {
        self.journal = Some(Mutex::new(Journal::default()));
        self
    }

    /// The function ARN the events carry.
    pub fn function_arn(&self) -> &str {
        &self.function_arn
    }

    /// Queues `event` (after the ones queued before); the answer arrives on the receiver. It
    /// is dropped unanswered when the event is [withdrawn](Self::withdraw) or
    /// [ended](Self::end).
    pub fn enqueue(&self, event: Event) -> oneshot::Receiver<Answered> {
        let (answer, answered) = oneshot::channel();
        lock(&self.queue).push_back((event, answer));
        self.queued.notify_waiters();
        answered
    }

    /// Takes back a queued event no `/next` took yet; false if there is none.
    pub fn withdraw(&self, request_id: &str) -> bool {
        let mut queue = lock(&self.queue);
        let before = queue.len();
        queue.retain(|(event, _)| event.request_id != request_id);
        queue.len() != before
    }

    /// Forgets the invocation `request_id`, queued or handed out: an answer posted later is
    /// refused (`InvalidRequestID`).
    pub fn end(&self, request_id: &str) {
        self.withdraw(request_id);
        lock(&self.in_flight).remove(request_id);
    }

    /// Where the runtime is: starting, ready (it polled `/next`), or failed its init.
    pub fn phase(&self) -> watch::Receiver<Phase> {
        self.phase.subscribe()
    }

    /// Every request answered so far, in order (empty without a journal).
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.journal
            .as_ref()
            .map(|j| lock(j).requests.clone())
            .unwrap_or_default()
    }

    /// When each `/next` arrived, in order (empty without a journal).
    pub fn next_polls(&self) -> Vec<Instant> {
        self.journal
            .as_ref()
            .map(|j| lock(j).next_polls.clone())
            .unwrap_or_default()
    }

    /// Whether `request_id` is an invocation handed out and unanswered, and `invocation_id`
    /// (the echoed `Lambda-Runtime-Invocation-Id`, if the runtime sent one) is its nonce.
    fn expects(&self, request_id: &str, invocation_id: Option<&[u8]>) -> bool {
        lock(&self.in_flight)
            .get(request_id)
            .is_some_and(|f| invocation_id.is_none_or(|id| id == f.invocation_id.as_bytes()))
    }

    /// Checks the `Lambda-Runtime-Invocation-Id` a runtime echoes on its answer to
    /// `request_id`: whether it sent one; `None` when the id is not one expected.
    fn echoed_invocation_id(&self, request_id: &str, headers: &HeaderMap) -> Option<bool> {
        let echoed = headers
            .get("lambda-runtime-invocation-id")
            .map(HeaderValue::as_bytes);
        self.expects(request_id, echoed).then_some(echoed.is_some())
    }

    /// Delivers the answer for `request_id`; false when it is not one expected.
    fn answer(&self, request_id: &str, answer: Answer, echoed: bool) -> bool {
        let Some(in_flight) = lock(&self.in_flight).remove(request_id) else {
            return false;
        };
        let _ = in_flight.answer.send(Answered {
            answer,
            delivered_at: in_flight.delivered_at,
            answered_at: Instant::now(),
            invocation_id_echoed: echoed,
        });
        true
    }
}

pub(crate) type Reply = Response<Full<Bytes>>;

/// Whether the client closed its side of `stream` (a non-blocking socket). A `/next` request
/// has no body, so anything readable while it waits is end of stream or a pipelined request.
fn peer_closed(stream: &std::net::TcpStream) -> bool {
    match stream.peek(&mut [0u8; 1]) {
        Ok(0) => true,
        Ok(_) => false,
        Err(e) => e.kind() != std::io::ErrorKind::WouldBlock,
    }
}

/// Serves `api` on `listener` (HTTP/1.1, keep-alive) until the task is dropped, which closes
/// every connection, parked `/next` polls included.
pub async fn serve(listener: TcpListener, api: Arc<RuntimeApi>) {
    // Connections live in the set, so aborting this task closes them all.
    let mut connections = tokio::task::JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let stream = match accepted {
                    Ok((stream, _)) => stream,
                    Err(_) => {
                        // Out of file descriptors, most likely: let some close.
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                // A second handle on the socket (non-blocking like the first), to see whether
                // the client left before an event is handed to it.
                let probe: Arc<Option<std::net::TcpStream>> = Arc::new(
                    stream.as_fd().try_clone_to_owned().ok().map(std::net::TcpStream::from),
                );
                let api = Arc::clone(&api);
                connections.spawn(async move {
                    let service = service_fn(move |request| {
                        let api = Arc::clone(&api);
                        let probe = Arc::clone(&probe);
                        async move {
                            Ok::<_, Infallible>(handle(&api, request, probe.as_ref().as_ref()).await)
                        }
                    });
                    let _ = http1::Builder::new()
                        .title_case_headers(true)
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

async fn handle(
    api: &RuntimeApi,
    request: Request<Incoming>,
    probe: Option<&std::net::TcpStream>,
) -> Reply {
    let Some(journal) = &api.journal else {
        return route(api, request, probe).await;
    };
    let method = request.method().to_string();
    let path = request.uri().path().to_owned();
    let reply = route(api, request, probe).await;
    lock(journal).requests.push(RecordedRequest {
        method,
        path,
        status: reply.status().as_u16(),
    });
    reply
}

async fn route(
    api: &RuntimeApi,
    request: Request<Incoming>,
    probe: Option<&std::net::TcpStream>,
) -> Reply {
    let path = request.uri().path().to_owned();
    let Some(rest) = path
        .strip_prefix(API_PREFIX)
        .and_then(|r| r.strip_prefix('/'))
    else {
        return not_found(&request);
    };
    let segments: Vec<&str> = rest.split('/').collect();
    match segments.as_slice() {
        ["invocation", "next"] => match *request.method() {
            Method::GET => next_invocation(api, probe).await,
            _ => method_not_allowed("GET"),
        },
        ["invocation", id, kind @ ("response" | "error")] if !id.is_empty() => {
            match *request.method() {
                Method::POST if *kind == "response" => invocation_response(api, id, request).await,
                Method::POST => invocation_error(api, id, request).await,
                _ => method_not_allowed("POST"),
            }
        }
        ["init", "error"] => match *request.method() {
            Method::POST => init_error(api, request).await,
            _ => method_not_allowed("POST"),
        },
        _ => not_found(&request),
    }
}

async fn next_invocation(api: &RuntimeApi, probe: Option<&std::net::TcpStream>) -> Reply {
    if let Some(journal) = &api.journal {
        lock(journal).next_polls.push(Instant::now());
    }
    api.phase.send_if_modified(|phase| {
        let starting = matches!(phase, Phase::Starting);
        if starting {
            *phase = Phase::Ready;
        }
        starting
    });
    // Cancel-safe: a poll whose connection goes away (hyper drops this future) takes no
    // event with it.
    let (event, answer) = loop {
        let notified = api.queued.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        let (next, client_left) = {
            let mut queue = lock(&api.queue);
            // Only to a client that is still there: one that left (a killed process) must
            // not swallow the event, and hyper may not have seen the close yet.
            let client_left = !queue.is_empty() && probe.is_some_and(peer_closed);
            let next = if client_left { None } else { queue.pop_front() };
            (next, client_left)
        };
        if client_left {
            return std::future::pending().await;
        }
        if let Some(next) = next {
            break next;
        }
        notified.await;
    };
    lock(&api.in_flight).insert(
        event.request_id.clone(),
        InFlight {
            invocation_id: event.invocation_id.clone(),
            delivered_at: Instant::now(),
            answer,
        },
    );
    let mut response = Response::new(Full::new(event.payload));
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    let mut put = |name: &str, value: &str| {
        if let (Ok(name), Ok(value)) = (
            http::HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            headers.insert(name, value);
        }
    };
    put("lambda-runtime-aws-request-id", &event.request_id);
    put("lambda-runtime-deadline-ms", &event.deadline_ms.to_string());
    put("lambda-runtime-invoked-function-arn", &api.function_arn);
    put("lambda-runtime-trace-id", &event.trace_id);
    put("lambda-runtime-invocation-id", &event.invocation_id);
    for (name, value) in &event.headers {
        put(name, value);
    }
    response
}

pub(crate) async fn invocation_response(
    api: &RuntimeApi,
    request_id: &str,
    request: Request<Incoming>,
) -> Reply {
    let Some(echoed) = api.echoed_invocation_id(request_id, request.headers()) else {
        return invalid_request_id();
    };
    let body = match content_length(request.headers()) {
        Some(len) if len > DISCARD_LIMIT as u64 => Err(BodyError::TooLarge(None)),
        _ => read_body(request.into_body(), MAX_RESPONSE_BYTES).await,
    };
    let answer = match body {
        Ok((body, trailers)) => match trailers
            .as_ref()
            .and_then(|t| header_str(t, "lambda-runtime-function-error-type"))
        {
            // A streamed response that failed midway reports the error in trailers.
            Some(error_type) => Answer::Error {
                error_type: error_type.to_owned(),
                error_message: trailers
                    .as_ref()
                    .and_then(|t| header_str(t, "lambda-runtime-function-error-body"))
                    .unwrap_or_default()
                    .to_owned(),
            },
            None => Answer::Response(body),
        },
        Err(BodyError::TooLarge(size)) => {
            let size = size.map(|n| format!(" ({n} bytes)")).unwrap_or_default();
            api.answer(
                request_id,
                Answer::Error {
                    error_type: "Function.ResponseSizeTooLarge".to_owned(),
                    error_message: format!(
                        "Response payload size{size} exceeded maximum allowed payload size ({MAX_RESPONSE_BYTES} bytes)."
                    ),
                },
                echoed,
            );
            return too_large();
        }
        Err(BodyError::Broken) => {
            return error_reply(
                StatusCode::BAD_REQUEST,
                "InvalidRequest",
                "the request body could not be read",
            );
        }
    };
    if api.answer(request_id, answer, echoed) {
        accepted()
    } else {
        invalid_request_id()
    }
}

pub(crate) async fn invocation_error(
    api: &RuntimeApi,
    request_id: &str,
    request: Request<Incoming>,
) -> Reply {
    let Some(echoed) = api.echoed_invocation_id(request_id, request.headers()) else {
        return invalid_request_id();
    };
    let (error_type, error_message) = match read_error(request, "Unhandled").await {
        Ok(fields) => fields,
        Err(reply) => return reply,
    };
    let answer = Answer::Error {
        error_type,
        error_message,
    };
    if api.answer(request_id, answer, echoed) {
        accepted()
    } else {
        invalid_request_id()
    }
}

pub(crate) async fn init_error(api: &RuntimeApi, request: Request<Incoming>) -> Reply {
    let (error_type, error_message) = match read_error(request, "Runtime.Unknown").await {
        Ok(fields) => fields,
        Err(reply) => return reply,
    };
    api.phase.send_replace(Phase::InitError {
        error_type,
        error_message,
    });
    accepted()
}

/// `errorType` / `errorMessage` of an error post. Lambda accepts any body: then the
/// `Lambda-Runtime-Function-Error-Type` header names the type and the raw body is the message.
pub(crate) async fn read_error(
    request: Request<Incoming>,
    default_type: &str,
) -> Result<(String, String), Reply> {
    let header_type =
        header_str(request.headers(), "lambda-runtime-function-error-type").map(str::to_owned);
    if content_length(request.headers()).is_some_and(|n| n > DISCARD_LIMIT as u64) {
        return Err(too_large());
    }
    let body = match read_body(request.into_body(), MAX_RESPONSE_BYTES).await {
        Ok((body, _)) => body,
        Err(BodyError::TooLarge(_)) => return Err(too_large()),
        Err(BodyError::Broken) => {
            return Err(error_reply(
                StatusCode::BAD_REQUEST,
                "InvalidRequest",
                "the request body could not be read",
            ));
        }
    };
    Ok(error_fields(&body, header_type, default_type))
}

pub(crate) fn error_fields(
    body: &[u8],
    header_type: Option<String>,
    default_type: &str,
) -> (String, String) {
    let json: Option<serde_json::Value> = serde_json::from_slice(body).ok();
    let field = |name: &str| {
        json.as_ref()
            .and_then(|b| b.get(name))
            .and_then(serde_json::Value::as_str)
            .map(str::to_owned)
    };
    let error_type = field("errorType")
        .or(header_type)
        .unwrap_or_else(|| default_type.to_owned());
    let error_message =
        field("errorMessage").unwrap_or_else(|| String::from_utf8_lossy(body).into_owned());
    (error_type, error_message)
}

pub(crate) enum BodyError {
    /// Over the limit; the size when the whole body was read.
    TooLarge(Option<usize>),
    Broken,
}

/// Reads a request body of at most `limit` bytes, with its trailers. A larger one is still
/// read to its end (up to [`DISCARD_LIMIT`]) and dropped, so that the client gets the 413
/// rather than a connection reset in the middle of its upload.
pub(crate) async fn read_body(
    mut body: Incoming,
    limit: usize,
) -> Result<(Bytes, Option<HeaderMap>), BodyError> {
    let mut data = Vec::new();
    let mut trailers = None;
    let mut total = 0usize;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|_| BodyError::Broken)?;
        match frame.into_data() {
            Ok(chunk) => {
                total = total.saturating_add(chunk.len());
                if total <= limit {
                    data.extend_from_slice(&chunk);
                } else if total > DISCARD_LIMIT {
                    return Err(BodyError::TooLarge(None));
                }
            }
            Err(frame) => {
                if let Ok(map) = frame.into_trailers() {
                    trailers = Some(map);
                }
            }
        }
    }
    if total > limit {
        return Err(BodyError::TooLarge(Some(total)));
    }
    Ok((Bytes::from(data), trailers))
}

pub(crate) fn content_length(headers: &HeaderMap) -> Option<u64> {
    header_str(headers, CONTENT_LENGTH.as_str())?
        .trim()
        .parse()
        .ok()
}

pub(crate) fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name)?.to_str().ok()
}

pub(crate) fn json_reply(status: StatusCode, body: &serde_json::Value) -> Reply {
    let mut response = Response::new(Full::new(Bytes::from(body.to_string())));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

pub(crate) fn error_reply(status: StatusCode, error_type: &str, message: &str) -> Reply {
    json_reply(
        status,
        &serde_json::json!({ "errorMessage": message, "errorType": error_type }),
    )
}

pub(crate) fn accepted() -> Reply {
    // Once per invocation: the bytes of `{"status": "OK"}` as serde_json writes them.
    let mut response = Response::new(Full::new(Bytes::from_static(br#"{"status":"OK"}"#)));
    *response.status_mut() = StatusCode::ACCEPTED;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

pub(crate) fn invalid_request_id() -> Reply {
    error_reply(
        StatusCode::BAD_REQUEST,
        "InvalidRequestID",
        "Invalid request ID",
    )
}

pub(crate) fn too_large() -> Reply {
    error_reply(
        StatusCode::PAYLOAD_TOO_LARGE,
        "RequestEntityTooLarge",
        &format!("Exceeded maximum allowed payload size ({MAX_RESPONSE_BYTES} bytes)."),
    )
}

pub(crate) fn not_found(request: &Request<Incoming>) -> Reply {
    error_reply(
        StatusCode::NOT_FOUND,
        "NotFound",
        &format!(
            "no Runtime API resource at {} {}",
            request.method(),
            request.uri().path()
        ),
    )
}

pub(crate) fn method_not_allowed(allow: &'static str) -> Reply {
    let mut response = error_reply(
        StatusCode::METHOD_NOT_ALLOWED,
        "MethodNotAllowed",
        &format!("use {allow}"),
    );
    response
        .headers_mut()
        .insert(http::header::ALLOW, HeaderValue::from_static(allow));
    response
}

//! The local AWS services endpoint: AWS wire protocols on loopback, so app code (or the AWS CLI,
//! or `portico invoke --local`) talks to the local cloud with the official SDKs, pointed here
//! through `AWS_ENDPOINT_URL_<SERVICE>`.
//!
//! One port serves every service; a request is routed by its shape, as AWS routes by host name:
//! - REST-JSON services by path: Lambda `POST /2015-03-31/functions/{FunctionName}/invocations`
//!   (implemented), SES v2 `POST /v2/email/outbound-emails` and the outbox pages `/outbox…`
//!   ([`crate::ses`]);
//! - AWS JSON 1.0 services by `X-Amz-Target`: Step Functions `AWSStepFunctions.<Operation>`
//!   ([`crate::sfn`]), SQS `AmazonSQS.<Operation>` ([`crate::sqs`]).
//!
//! Requests are not signature-checked: any credentials work, as with other local emulators.

use std::convert::Infallible;
use std::net::IpAddr;
use std::sync::Arc;

use bytes::Bytes;
use http::header::{CONNECTION, CONTENT_TYPE, HOST, HeaderName, HeaderValue, ORIGIN};
use http::{HeaderMap, Method, Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Body;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::hosts::AllowedHosts;
use crate::invoker::{ACCOUNT, Invoker, REGION};
use crate::lambda::{InvocationResult, InvokeOutcome};
use crate::scheduler::event_id;
use crate::server::{self, BodyError, Limits, stopped};
use crate::sfn::StepFunctions;

/// Lambda's payload limits: 6 MB for synchronous invocations, 1 MB for asynchronous ones.
const SYNC_PAYLOAD_LIMIT: usize = 6_291_456;
const ASYNC_PAYLOAD_LIMIT: usize = 1_048_576;
/// Open connections at most; more wait to be accepted. The clients are the app's functions
/// and a developer's tools, so a few hundred is plenty, and the API port keeps the file
/// descriptors it needs whatever is done to this one.
const MAX_CONNECTIONS: usize = 256;

/// The endpoint's state: the host and how its functions are named, and the services behind
/// it (each optional, so tests build only what they need).
pub struct Services<I> {
    invoker: Arc<I>,
    function_prefix: String,
    ses: Option<Arc<crate::ses::Ses>>,
    sqs: Option<Arc<crate::sqs::Sqs>>,
    /// DynamoDB and S3: the emulator, or why there is none.
    emulator: Option<Result<Arc<crate::emulator::Emulator>, String>>,
    step_functions: Option<Arc<StepFunctions<I>>>,
    hosts: AllowedHosts,
    /// The address the endpoint listens on (an accepted `Host`, as `--host` binds it).
    local: IpAddr,
    limits: Limits,
}

/// The services' answers: small, fully buffered bodies.
type Reply = Response<Full<Bytes>>;

impl<I: Invoker> Services<I> {
    /// The endpoint in front of `invoker`. `function_prefix` is what the functions' full names
    /// start with, `<app>-<stage>-`: a function is found by its entry-point name (`api`), its
    /// full name (`shop-dev-api`) or its ARN.
    pub fn new(invoker: Arc<I>, function_prefix: String) -> Self {
        Self {
            invoker,
            function_prefix,
            ses: None,
            sqs: None,
            emulator: None,
            step_functions: None,
            hosts: AllowedHosts::default(),
            local: IpAddr::V4(std::net::Ipv4Addr::LOCALHOST),
            limits: Limits::default(),
        }
    }

    /// Answers the host names of `hosts` (what `--allow-host` adds) and the address `local` it
    /// listens on, besides the loopback names.
    pub(crate) fn with_allowed_hosts(mut self, hosts: AllowedHosts, local: IpAddr) -> Self {
        self.hosts = hosts;
        self.local = local;
        self
    }

    /// Serves with `limits` instead of the API port's defaults.
    #[cfg(test)]
    pub(crate) fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Serves Step Functions (`X-Amz-Target: AWSStepFunctions.*`) with `engine`.
    pub(crate) fn with_step_functions(mut self, engine: Arc<StepFunctions<I>>) -> Self {
        self.step_functions = Some(engine);
        self
    }

    /// Serves SQS (`X-Amz-Target: AmazonSQS.*`) with `sqs`.
    pub(crate) fn with_sqs(mut self, sqs: Arc<crate::sqs::Sqs>) -> Self {
        self.sqs = Some(sqs);
        self
    }

    /// Forwards DynamoDB and S3 to `emulator`, or answers them with why it is missing.
    pub(crate) fn with_emulator(
        mut self,
        emulator: Result<Arc<crate::emulator::Emulator>, String>,
    ) -> Self {
        self.emulator = Some(emulator);
        self
    }

    /// Serves SES v2 and the outbox pages with `ses`.
    pub(crate) fn with_ses(mut self, ses: Arc<crate::ses::Ses>) -> Self {
        self.ses = Some(ses);
        self
    }

    /// Answers one request.
    pub(crate) async fn handle<B>(&self, req: Request<B>) -> Reply
    where
        B: Body<Data = Bytes> + Send + 'static,
        B::Error: std::error::Error + Send + Sync + 'static,
    {
        let request_id = event_id();
        let emulated = crate::emulator::service_of(req.headers(), req.uri().query());
        let operation = match emulated {
            Some(service) => Operation::Emulated(service),
            None => Operation::of(req.method(), req.uri().path(), req.headers()),
        };
        let mut reply = match operation {
            Operation::Emulated(service) => self.emulated(service, req).await,
            Operation::LambdaInvoke { function } => {
                self.lambda_invoke(&function, req, &request_id).await
            }
            Operation::StepFunctions { operation } => match &self.step_functions {
                Some(engine) => {
                    let (parts, body) = req.into_parts();
                    let limit = crate::sfn::api::BODY_LIMIT;
                    match server::read_body(&parts.headers, body, limit, self.limits.body_read)
                        .await
                    {
                        Ok(body) => crate::sfn::api::handle(engine, &operation, &body).await,
                        Err(BodyError::Timeout) => body_timeout(&self.limits),
                        Err(_) => closing(crate::sfn::api::too_large()),
                    }
                }
                None => unsupported(&format!("the operation `AWSStepFunctions.{operation}`")),
            },
            Operation::Sqs { operation } => match &self.sqs {
                Some(sqs) => {
                    let (parts, body) = req.into_parts();
                    let host = parts
                        .headers
                        .get(HOST)
                        .and_then(|h| h.to_str().ok())
                        .unwrap_or_default()
                        .to_owned();
                    let limit = crate::sqs::api::BODY_LIMIT;
                    match server::read_body(&parts.headers, body, limit, self.limits.body_read)
                        .await
                    {
                        Ok(body) => crate::sqs::api::handle(sqs, &operation, &host, &body).await,
                        Err(BodyError::Timeout) => body_timeout(&self.limits),
                        Err(_) => closing(crate::sqs::api::too_large()),
                    }
                }
                None => unsupported(&format!("the operation `AmazonSQS.{operation}`")),
            },
            Operation::Ses => match &self.ses {
                Some(ses) => ses.handle(req, self.limits.body_read).await,
                None => unsupported(&format!("{} {}", req.method(), req.uri().path())),
            },
            Operation::Unsupported(what) => unsupported(&what),
        };
        if let Ok(value) = HeaderValue::from_str(&request_id) {
            reply
                .headers_mut()
                .entry(HeaderName::from_static("x-amzn-requestid"))
                .or_insert(value);
        }
        reply
    }

    /// Lambda `Invoke`.
    async fn lambda_invoke<B>(&self, raw_name: &str, req: Request<B>, request_id: &str) -> Reply
    where
        B: Body<Data = Bytes> + Send + 'static,
        B::Error: std::error::Error + Send + Sync + 'static,
    {
        let kind = match req
            .headers()
            .get("x-amz-invocation-type")
            .map(|v| v.to_str())
        {
            None => InvocationType::RequestResponse,
            Some(Ok("RequestResponse")) => InvocationType::RequestResponse,
            Some(Ok("Event")) => InvocationType::Event,
            Some(Ok("DryRun")) => InvocationType::DryRun,
            Some(other) => {
                return lambda_error(
                    StatusCode::BAD_REQUEST,
                    "InvalidParameterValueException",
                    &format!(
                        "1 validation error detected: Value '{}' at 'invocationType' failed to \
                         satisfy constraint: Member must satisfy enum value set: \
                         [Event, RequestResponse, DryRun]",
                        other.unwrap_or("<not UTF-8>")
                    ),
                );
            }
        };
        let query_qualifier = req.uri().query().and_then(|q| {
            form_urlencoded::parse(q.as_bytes())
                .find(|(k, _)| k == "Qualifier")
                .map(|(_, v)| v.into_owned())
        });
        let (function, qualifier) = match FunctionRef::parse(raw_name) {
            Ok(f) => (f.name, f.qualifier.or(query_qualifier)),
            Err(message) => {
                return lambda_error(StatusCode::BAD_REQUEST, "ValidationException", &message);
            }
        };
        let entry = self.resolve(&function);
        let (Some(entry), None | Some("$LATEST")) = (entry, qualifier.as_deref()) else {
            let suffix = qualifier.map(|q| format!(":{q}")).unwrap_or_default();
            return function_not_found(&format!("{}{suffix}", self.arn(&function)));
        };

        let limit = match kind {
            InvocationType::Event => ASYNC_PAYLOAD_LIMIT,
            _ => SYNC_PAYLOAD_LIMIT,
        };
        let (parts, body) = req.into_parts();
        let payload = match server::read_body(&parts.headers, body, limit, self.limits.body_read)
            .await
        {
            Ok(body) => body,
            Err(BodyError::TooLarge) => {
                return closing(lambda_error(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "RequestTooLargeException",
                    &format!(
                        "Request must be smaller than {limit} bytes for the InvokeFunction operation"
                    ),
                ));
            }
            Err(BodyError::Timeout) => return body_timeout(&self.limits),
            Err(BodyError::Read(err)) => {
                return lambda_error(
                    StatusCode::BAD_REQUEST,
                    "InvalidRequestContentException",
                    &format!("could not read the request body: {err}"),
                );
            }
        };
        // An empty payload reaches the function as `{}`, as in Lambda.
        let payload = if payload.iter().all(u8::is_ascii_whitespace) {
            Bytes::from_static(b"{}")
        } else if let Err(err) = serde_json::from_slice::<serde::de::IgnoredAny>(&payload) {
            return lambda_error(
                StatusCode::BAD_REQUEST,
                "InvalidRequestContentException",
                &format!("Could not parse request body into json: {err}"),
            );
        } else {
            payload
        };

        match kind {
            InvocationType::DryRun => empty(StatusCode::NO_CONTENT),
            InvocationType::Event => {
                let invoker = Arc::clone(&self.invoker);
                tokio::spawn(async move {
                    // The host logs the invocation and its outcome; nobody waits for it.
                    let _ = invoker.invoke(&entry, payload).await;
                });
                empty(StatusCode::ACCEPTED)
            }
            InvocationType::RequestResponse => {
                let result = self.invoker.invoke(&entry, payload).await;
                invoke_reply(result, &self.arn(&function), request_id)
            }
        }
    }

    /// The entry-point name `function` (an entry-point or a full function name) refers to.
    fn resolve(&self, function: &str) -> Option<String> {
        let known = self.invoker.function_names();
        let short = function.strip_prefix(&self.function_prefix);
        [Some(function), short]
            .into_iter()
            .flatten()
            .find(|name| known.iter().any(|k| k == name))
            .map(str::to_owned)
    }

    /// The ARN of `function`, with its full name.
    fn arn(&self, function: &str) -> String {
        let full = if function.starts_with(&self.function_prefix) {
            function.to_owned()
        } else {
            format!("{}{function}", self.function_prefix)
        };
        format!("arn:aws:lambda:{REGION}:{ACCOUNT}:function:{full}")
    }
}

/// The largest request body forwarded to the emulator (an S3 object larger than this is
/// uploaded in parts, as the SDKs' transfer helpers do).
const EMULATOR_BODY_LIMIT: usize = 64 * 1024 * 1024;

impl<I: Invoker> Services<I> {
    /// DynamoDB or S3: forwarded to the emulator, or `503` saying how to install it.
    async fn emulated<B>(&self, service: crate::emulator::Service, req: Request<B>) -> Reply
    where
        B: Body<Data = Bytes> + Send + 'static,
        B::Error: std::error::Error + Send + Sync + 'static,
    {
        let emulator = match &self.emulator {
            Some(Ok(emulator)) => emulator,
            Some(Err(why)) => return plain(StatusCode::SERVICE_UNAVAILABLE, why),
            None => {
                return plain(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "DynamoDB and S3 run when portico.toml declares [[tables]] or [[buckets]]",
                );
            }
        };
        let (parts, body) = req.into_parts();
        let target = parts
            .uri
            .path_and_query()
            .map_or("/", |p| p.as_str())
            .to_owned();
        match server::read_body(
            &parts.headers,
            body,
            EMULATOR_BODY_LIMIT,
            self.limits.body_read,
        )
        .await
        {
            Ok(body) => {
                emulator
                    .forward(service, parts.method, &target, &parts.headers, body)
                    .await
            }
            Err(BodyError::Timeout) => body_timeout(&self.limits),
            Err(_) => closing(plain(
                StatusCode::PAYLOAD_TOO_LARGE,
                "the request body is over 64 MiB: upload large objects in parts",
            )),
        }
    }
}

fn plain(status: StatusCode, text: &str) -> Reply {
    let mut reply = Response::new(Full::new(Bytes::from(text.to_owned())));
    *reply.status_mut() = status;
    reply.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    reply
}

/// What a request asks for.
#[derive(Debug, PartialEq, Eq)]
enum Operation {
    /// Lambda `Invoke`; `function` is the percent-decoded `FunctionName`.
    LambdaInvoke { function: String },
    /// Step Functions (AWS JSON 1.0): `X-Amz-Target: AWSStepFunctions.<operation>`.
    StepFunctions { operation: String },
    /// SQS (AWS JSON 1.0): `X-Amz-Target: AmazonSQS.<operation>`.
    Sqs { operation: String },
    /// DynamoDB or S3, forwarded to the emulator.
    Emulated(crate::emulator::Service),
    /// SES v2 (REST-JSON, `/v2/email/…`) and the outbox pages (`/outbox…`).
    Ses,
    /// Anything this endpoint does not implement (yet), described for the error message.
    Unsupported(String),
}

impl Operation {
    fn of(method: &Method, path: &str, headers: &HeaderMap) -> Self {
        if let Some(target) = headers.get("x-amz-target") {
            let target_str = target.to_str().ok().filter(|_| method == Method::POST);
            if let Some(operation) = target_str.and_then(|t| t.strip_prefix("AWSStepFunctions.")) {
                return Self::StepFunctions {
                    operation: operation.to_owned(),
                };
            }
            if let Some(operation) = target_str.and_then(|t| t.strip_prefix("AmazonSQS.")) {
                return Self::Sqs {
                    operation: operation.to_owned(),
                };
            }
            return Self::Unsupported(format!(
                "the operation `{}`",
                target.to_str().unwrap_or("<not UTF-8>")
            ));
        }
        let invoked = path
            .strip_prefix("/2015-03-31/functions/")
            .and_then(|rest| rest.strip_suffix("/invocations"))
            .filter(|name| method == Method::POST && !name.is_empty() && !name.contains('/'));
        if let Some(name) = invoked {
            let function = percent_encoding::percent_decode_str(name)
                .decode_utf8_lossy()
                .into_owned();
            return Self::LambdaInvoke { function };
        }
        if crate::ses::is_ses_path(path) {
            return Self::Ses;
        }
        Self::Unsupported(format!("{method} {path}"))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum InvocationType {
    RequestResponse,
    Event,
    DryRun,
}

/// A `FunctionName` as Lambda accepts it: a name, a partial ARN or an ARN, each optionally
/// with a `:qualifier`.
#[derive(Debug, PartialEq, Eq)]
struct FunctionRef {
    name: String,
    qualifier: Option<String>,
}

impl FunctionRef {
    fn parse(raw: &str) -> Result<Self, String> {
        let parts: Vec<&str> = raw.split(':').collect();
        // A full ARN is `arn:{partition}:lambda:{region}:` and the partial one.
        let partial = match parts[..] {
            ["arn", _partition, "lambda", _region, ref rest @ ..] if rest.len() >= 3 => rest,
            ref all => all,
        };
        let (name, qualifier) = match *partial {
            [name] => (name, None),
            [name, qualifier] => (name, Some(qualifier)),
            [_account, "function", name] => (name, None),
            [_account, "function", name, qualifier] => (name, Some(qualifier)),
            _ => ("", None),
        };
        let valid = |s: &str| {
            !s.is_empty()
                && s.len() <= 140
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        };
        if !valid(name) || qualifier.is_some_and(|q| q.is_empty()) {
            return Err(format!(
                "1 validation error detected: Value '{raw}' at 'functionName' failed to satisfy \
                 constraint: a function name, a partial ARN (`123456789012:function:NAME`) or an \
                 ARN (`arn:aws:lambda:REGION:123456789012:function:NAME`), optionally with \
                 `:QUALIFIER`"
            ));
        }
        Ok(Self {
            name: name.to_owned(),
            qualifier: qualifier.map(str::to_owned),
        })
    }
}

/// The reply to a synchronous invocation.
fn invoke_reply(result: InvocationResult, arn: &str, request_id: &str) -> Reply {
    let request_id = if result.request_id.is_empty() {
        request_id
    } else {
        &result.request_id
    };
    let (body, function_error) = match result.outcome {
        InvokeOutcome::Response(payload) => (payload, None),
        InvokeOutcome::FunctionError {
            error_type,
            error_message,
        } => (error_body(&error_type, &error_message), Some("Unhandled")),
        InvokeOutcome::Timeout => (
            error_body(
                "Sandbox.Timedout",
                &format!(
                    "RequestId: {request_id} Error: Task timed out after {:.2} seconds",
                    result.duration.as_secs_f64()
                ),
            ),
            Some("Unhandled"),
        ),
        InvokeOutcome::Crashed { detail } => (
            error_body(
                "Runtime.ExitError",
                &format!("RequestId: {request_id} Error: {detail}"),
            ),
            Some("Unhandled"),
        ),
        // The host lost the function between resolving and invoking (e.g. a rebuild).
        InvokeOutcome::UnknownFunction => return function_not_found(arn),
    };
    let mut reply = Response::new(Full::new(body));
    let headers = reply.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert(
        HeaderName::from_static("x-amz-executed-version"),
        HeaderValue::from_static("$LATEST"),
    );
    if let Some(kind) = function_error {
        headers.insert(
            HeaderName::from_static("x-amz-function-error"),
            HeaderValue::from_static(kind),
        );
    }
    if let Ok(value) = HeaderValue::from_str(request_id) {
        headers.insert(HeaderName::from_static("x-amzn-requestid"), value);
    }
    reply
}

fn error_body(error_type: &str, error_message: &str) -> Bytes {
    let body = serde_json::json!({ "errorMessage": error_message, "errorType": error_type });
    Bytes::from(body.to_string())
}

fn function_not_found(arn: &str) -> Reply {
    lambda_error(
        StatusCode::NOT_FOUND,
        "ResourceNotFoundException",
        &format!("Function not found: {arn}"),
    )
}

/// A Lambda (REST-JSON) service error: the type in `x-amzn-ErrorType`, a `Type`/`message` body.
fn lambda_error(status: StatusCode, error_type: &'static str, message: &str) -> Reply {
    let kind = if status.is_server_error() {
        "Service"
    } else {
        "User"
    };
    let body = serde_json::json!({ "Type": kind, "message": message });
    let mut reply = Response::new(Full::new(Bytes::from(body.to_string())));
    *reply.status_mut() = status;
    let headers = reply.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert(
        HeaderName::from_static("x-amzn-errortype"),
        HeaderValue::from_static(error_type),
    );
    reply
}

fn unsupported(what: &str) -> Reply {
    let body = serde_json::json!({
        "message": format!(
            "portico local's services endpoint does not implement {what}; it serves the Lambda \
             Invoke API (POST /2015-03-31/functions/{{FunctionName}}/invocations)"
        )
    });
    let mut reply = Response::new(Full::new(Bytes::from(body.to_string())));
    *reply.status_mut() = StatusCode::NOT_FOUND;
    let headers = reply.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert(
        HeaderName::from_static("x-amzn-errortype"),
        HeaderValue::from_static("UnknownOperationException"),
    );
    reply
}

fn empty(status: StatusCode) -> Reply {
    let mut reply = Response::new(Full::new(Bytes::new()));
    *reply.status_mut() = status;
    reply
}

/// Serves the services endpoint on `listener` until `shutdown` turns `true`, then lets open
/// connections finish for a moment. The API port's limits apply (head and body read timeouts,
/// head size), with a cap of `MAX_CONNECTIONS` open connections.
pub async fn serve_with<I: Invoker>(
    listener: TcpListener,
    services: Arc<Services<I>>,
    shutdown: watch::Receiver<bool>,
) {
    let drain = services.limits.drain;
    server::accept_loop(
        listener,
        MAX_CONNECTIONS,
        drain,
        shutdown.clone(),
        |line| eprintln!("services endpoint {line}"),
        |stream, _| serve_connection(stream, Arc::clone(&services), shutdown.clone()),
    )
    .await;
}

async fn serve_connection<I: Invoker>(
    stream: tokio::net::TcpStream,
    services: Arc<Services<I>>,
    mut shutdown: watch::Receiver<bool>,
) {
    let _ = stream.set_nodelay(true);
    let limits = services.limits;
    let service = service_fn(move |req: Request<hyper::body::Incoming>| {
        let services = Arc::clone(&services);
        async move {
            let reply = match services.refuse_foreign(&req) {
                Some(refusal) => refusal,
                None => services.handle(req).await,
            };
            Ok::<_, Infallible>(reply)
        }
    });
    let conn = server::http1_builder(&limits).serve_connection(TokioIo::new(stream), service);
    tokio::pin!(conn);
    tokio::select! {
        // Protocol errors and timeouts end this connection only.
        _ = conn.as_mut() => return,
        () = stopped(&mut shutdown) => conn.as_mut().graceful_shutdown(),
    }
    let _ = tokio::time::timeout(limits.drain, conn).await;
}

impl<I: Invoker> Services<I> {
    /// The refusal of a request a web page may have made: one naming a host that is not this
    /// server's (DNS rebinding), and, on the AWS protocol paths (everything but the outbox
    /// pages), any request a browser made (`Origin` or a cross-site `Sec-Fetch-Site`; AWS
    /// SDKs send neither), so that no page can invoke a function, drive Step Functions or
    /// send mail, whatever its content type. The outbox pages answer a browser's navigation
    /// and same-origin requests.
    fn refuse_foreign<B>(&self, req: &Request<B>) -> Option<Reply> {
        let headers = req.headers();
        if !self.hosts.allows_request(headers, self.local) {
            let host = headers
                .get(HOST)
                .map_or("<none>", |h| h.to_str().unwrap_or("<not UTF-8>"));
            return Some(forbidden(&format!(
                "portico local's services endpoint answers requests for its own host names \
                 only (loopback addresses, localhost, the address it listens on, --allow-host names); this one names `{host}`"
            )));
        }
        let origin = headers.get(ORIGIN).map(|o| o.to_str().unwrap_or("null"));
        let fetch_site = headers
            .get("sec-fetch-site")
            .and_then(|s| s.to_str().ok())
            .unwrap_or("none");
        if crate::ses::is_outbox_page(req.uri().path()) {
            let host = headers.get(HOST).and_then(|h| h.to_str().ok());
            let same_origin = |origin: &str| {
                let authority = origin
                    .strip_prefix("http://")
                    .or_else(|| origin.strip_prefix("https://"));
                authority
                    .zip(host)
                    .is_some_and(|(a, h)| a.eq_ignore_ascii_case(h))
            };
            if origin.is_some_and(|o| !same_origin(o)) {
                return Some(forbidden(
                    "the outbox pages answer their own origin only, not another site's page",
                ));
            }
            return None;
        }
        if origin.is_some() || fetch_site != "none" {
            return Some(forbidden(
                "portico local's services endpoint answers AWS SDKs and tools, not web pages: \
                 a request with `Origin` (or a browser's cross-site fetch) is refused on the AWS \
                 API paths",
            ));
        }
        None
    }
}

/// A request refused for where it came from: 403, `AccessDeniedException`.
fn forbidden(message: &str) -> Reply {
    let mut reply = lambda_error(StatusCode::FORBIDDEN, "AccessDeniedException", message);
    reply
        .headers_mut()
        .insert(CONNECTION, HeaderValue::from_static("close"));
    reply
}

/// A body that did not arrive within the body read timeout: 408, and the connection closes.
fn body_timeout(limits: &Limits) -> Reply {
    closing(lambda_error(
        StatusCode::REQUEST_TIMEOUT,
        "RequestTimeoutException",
        &format!(
            "the request body did not arrive within {} s",
            limits.body_read.as_secs()
        ),
    ))
}

/// `reply`, closing the connection: the rest of a refused body is not read.
fn closing(mut reply: Reply) -> Reply {
    reply
        .headers_mut()
        .insert(CONNECTION, HeaderValue::from_static("close"));
    reply
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::StubHost;
    use http_body_util::BodyExt;
    use std::time::Duration;

    fn services() -> (Arc<StubHost>, Services<StubHost>) {
        let host = Arc::new(StubHost::default());
        (
            Arc::clone(&host),
            Services::new(host, "shop-dev-".to_owned()),
        )
    }

    fn invoke_request(name: &str, kind: Option<&str>, body: &str) -> Request<Full<Bytes>> {
        let mut req = Request::builder()
            .method("POST")
            .uri(format!("/2015-03-31/functions/{name}/invocations"));
        if let Some(kind) = kind {
            req = req.header("X-Amz-Invocation-Type", kind);
        }
        req.body(Full::new(Bytes::from(body.to_owned()))).unwrap()
    }

    /// Invokes `name` through the Lambda API: status, headers and body of the reply.
    async fn invoke<H: crate::invoker::Invoker>(
        s: &Services<H>,
        name: &str,
        kind: Option<&str>,
        body: &str,
    ) -> (u16, HeaderMap, String) {
        parts(s.handle(invoke_request(name, kind, body)).await).await
    }

    /// The `x-amzn-errortype` header of an error reply.
    fn error_type(headers: &HeaderMap) -> Option<&str> {
        header(headers, "x-amzn-errortype")
    }

    async fn parts(reply: Reply) -> (u16, HeaderMap, String) {
        let status = reply.status().as_u16();
        let headers = reply.headers().clone();
        let body = reply.into_body().collect().await.unwrap().to_bytes();
        (status, headers, String::from_utf8_lossy(&body).into_owned())
    }

    fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
        headers.get(name).map(|v| v.to_str().unwrap())
    }

    #[test]
    fn parses_function_names_and_arns() {
        let f = |raw| FunctionRef::parse(raw).map(|f| (f.name, f.qualifier));
        assert_eq!(f("api"), Ok(("api".into(), None)));
        assert_eq!(f("api:$LATEST"), Ok(("api".into(), Some("$LATEST".into()))));
        assert_eq!(
            f("000000000000:function:shop-dev-api"),
            Ok(("shop-dev-api".into(), None))
        );
        assert_eq!(
            f("arn:aws:lambda:us-east-1:000000000000:function:shop-dev-api:live"),
            Ok(("shop-dev-api".into(), Some("live".into())))
        );
        for bad in [
            "",
            "a:b:c",
            "arn:aws:s3:::bucket",
            "api:",
            "sp ace",
            "arn:aws:lambda:x",
        ] {
            assert!(f(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn routes_by_path_and_target() {
        let none = HeaderMap::new();
        assert_eq!(
            Operation::of(
                &Method::POST,
                "/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A0%3Afunction%3Aapi/invocations",
                &none
            ),
            Operation::LambdaInvoke {
                function: "arn:aws:lambda:us-east-1:0:function:api".into()
            }
        );
        assert!(matches!(
            Operation::of(&Method::GET, "/2015-03-31/functions/api/invocations", &none),
            Operation::Unsupported(_)
        ));
        let mut target = HeaderMap::new();
        target.insert(
            "x-amz-target",
            HeaderValue::from_static("AWSStepFunctions.StartExecution"),
        );
        assert_eq!(
            Operation::of(&Method::POST, "/", &target),
            Operation::StepFunctions {
                operation: "StartExecution".into()
            }
        );
        target.insert(
            "x-amz-target",
            HeaderValue::from_static("DynamoDB_20120810.GetItem"),
        );
        assert_eq!(
            Operation::of(&Method::POST, "/", &target),
            Operation::Unsupported("the operation `DynamoDB_20120810.GetItem`".into())
        );
    }

    #[tokio::test]
    async fn request_response_returns_the_payload() {
        let (host, s) = services();
        for name in [
            "echo",
            "shop-dev-echo",
            "arn:aws:lambda:us-east-1:000000000000:function:shop-dev-echo",
            "echo:$LATEST",
        ] {
            let (status, headers, body) = invoke(&s, name, None, r#"{"a":1}"#).await;
            assert_eq!(status, 200, "{name}");
            assert_eq!(body, r#"{"a":1}"#);
            assert_eq!(header(&headers, "x-amz-executed-version"), Some("$LATEST"));
            assert_eq!(header(&headers, "x-amzn-requestid"), Some("req-1"));
            assert_eq!(header(&headers, "x-amz-function-error"), None);
        }
        assert!(host.calls.lock().unwrap().iter().all(|(f, _)| f == "echo"));
        let (status, _, body) = invoke(&s, "echo", None, " ").await;
        assert_eq!(
            (status, body.as_str()),
            (200, "{}"),
            "empty payload becomes {{}}"
        );
    }

    #[tokio::test]
    async fn function_errors_are_200_with_the_error_header() {
        let (_, s) = services();
        let (status, headers, body) = invoke(&s, "boom", None, "{}").await;
        assert_eq!(status, 200);
        assert_eq!(header(&headers, "x-amz-function-error"), Some("Unhandled"));
        let body: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(
            body,
            serde_json::json!({"errorType": "MyError", "errorMessage": "it broke"})
        );

        let (_, headers, body) = invoke(&s, "slow", None, "{}").await;
        assert_eq!(header(&headers, "x-amz-function-error"), Some("Unhandled"));
        assert!(
            body.contains("Sandbox.Timedout") && body.contains("Task timed out after 3.00 seconds"),
            "{body}"
        );
        let (_, _, body) = invoke(&s, "crash", None, "{}").await;
        assert!(
            body.contains("Runtime.ExitError") && body.contains("exit status 101"),
            "{body}"
        );
    }

    #[tokio::test]
    async fn event_and_dry_run() {
        let (host, s) = services();
        let (status, _, body) = invoke(&s, "echo", Some("Event"), "{}").await;
        assert_eq!((status, body.as_str()), (202, ""));
        let (status, _, _) = invoke(&s, "echo", Some("DryRun"), "{}").await;
        assert_eq!(status, 204);
        for _ in 0..100 {
            if !host.calls.lock().unwrap().is_empty() {
                break;
            }
            tokio::task::yield_now().await;
        }
        assert_eq!(
            host.calls.lock().unwrap().len(),
            1,
            "Event runs, DryRun does not"
        );
        let (status, headers, _) = invoke(&s, "echo", Some("Later"), "{}").await;
        assert_eq!(status, 400);
        assert_eq!(error_type(&headers), Some("InvalidParameterValueException"));
    }

    #[tokio::test]
    async fn unknown_functions_and_bad_requests() {
        let (host, s) = services();
        let (status, headers, body) = invoke(&s, "nope", None, "{}").await;
        assert_eq!(status, 404);
        assert_eq!(error_type(&headers), Some("ResourceNotFoundException"));
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&body).unwrap(),
            serde_json::json!({"Type": "User", "message": "Function not found: arn:aws:lambda:us-east-1:000000000000:function:shop-dev-nope"})
        );
        let (status, _, body) = invoke(&s, "echo:live", Some("DryRun"), "{}").await;
        assert_eq!(status, 404);
        assert!(body.contains("function:shop-dev-echo:live"), "{body}");
        let (status, headers, body) = invoke(&s, "echo", None, "{nope").await;
        assert_eq!(status, 400);
        assert_eq!(error_type(&headers), Some("InvalidRequestContentException"));
        assert!(
            body.contains("Could not parse request body into json"),
            "{body}"
        );
        let big = format!("\"{}\"", "x".repeat(ASYNC_PAYLOAD_LIMIT));
        let (status, headers, _) = invoke(&s, "echo", Some("Event"), &big).await;
        assert_eq!(status, 413);
        assert_eq!(error_type(&headers), Some("RequestTooLargeException"));
        let (status, headers, body) = parts(
            s.handle(
                Request::builder()
                    .method("POST")
                    .uri("/v2/email/outbound-emails")
                    .body(Full::new(Bytes::new()))
                    .unwrap(),
            )
            .await,
        )
        .await;
        assert_eq!(status, 404);
        assert_eq!(error_type(&headers), Some("UnknownOperationException"));
        assert!(body.contains("POST /v2/email/outbound-emails"), "{body}");
        assert!(host.calls.lock().unwrap().is_empty());
    }

    /// Serves a [`StubHost`] on a loopback port; returns the port and the shutdown switch.
    pub(crate) async fn serve_stub() -> (u16, watch::Sender<bool>, tokio::task::JoinHandle<()>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let (shutdown, rx) = watch::channel(false);
        let (_, s) = services();
        let task = tokio::spawn(serve_with(listener, Arc::new(s), rx));
        (port, shutdown, task)
    }

    /// Sends `bytes` on a new connection to `port` and reads until the server closes it.
    async fn exchange(port: u16, bytes: &[u8]) -> String {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .unwrap();
        stream.write_all(bytes).await.unwrap();
        let mut answer = Vec::new();
        tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut answer))
            .await
            .expect("the server ends the connection")
            .unwrap_or_default();
        String::from_utf8_lossy(&answer).into_owned()
    }

    #[tokio::test]
    async fn slow_and_oversized_requests_are_cut_off_like_on_the_api_port() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let (shutdown, rx) = watch::channel(false);
        let (host, s) = services();
        let s = s.with_limits(Limits {
            header_read: Duration::from_millis(300),
            body_read: Duration::from_millis(300),
            drain: Duration::from_millis(200),
        });
        let task = tokio::spawn(serve_with(listener, Arc::new(s), rx));

        // Half a head, then nothing: the connection is closed.
        let answer = exchange(
            port,
            b"POST /2015-03-31/functions/echo/invocations HTTP/1.1\r\nHost: 127.0.0.1\r\n",
        )
        .await;
        assert!(
            answer.is_empty() || answer.starts_with("HTTP/1.1 408"),
            "{answer}"
        );
        // A body that stops halfway: 408.
        let answer = exchange(
            port,
            b"POST /2015-03-31/functions/echo/invocations HTTP/1.1\r\nHost: 127.0.0.1\r\n\
              Content-Length: 100\r\n\r\n{\"a\":",
        )
        .await;
        assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
        assert!(answer.contains("RequestTimeoutException"), "{answer}");
        // A length over Lambda's limit: 413 on the head alone.
        let answer = exchange(
            port,
            b"POST /2015-03-31/functions/echo/invocations HTTP/1.1\r\nHost: 127.0.0.1\r\n\
              Content-Length: 7000000\r\n\r\n",
        )
        .await;
        assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
        assert!(answer.contains("RequestTooLargeException"), "{answer}");
        assert!(host.calls.lock().unwrap().is_empty());
        shutdown.send_replace(true);
        tokio::time::timeout(Duration::from_secs(3), task)
            .await
            .unwrap()
            .unwrap();
    }

    #[test]
    fn requests_from_web_pages_and_foreign_hosts_are_refused() {
        let (_, s) = services();
        let request = |path: &str, headers: &[(&str, &str)]| {
            let mut req = Request::builder().method("POST").uri(path);
            for (name, value) in headers {
                req = req.header(*name, *value);
            }
            req.body(()).unwrap()
        };
        let refused = |req: &Request<()>| s.refuse_foreign(req).map(|r| r.status().as_u16());
        let host = ("Host", "127.0.0.1:8001");
        let invoke = "/2015-03-31/functions/api/invocations";
        assert_eq!(refused(&request(invoke, &[host])), None);
        assert_eq!(
            refused(&request(invoke, &[("Host", "localhost:8001")])),
            None
        );
        for headers in [
            &[][..],
            &[("Host", "evil.example:8001")],
            &[host, ("Origin", "http://evil.example")],
            &[host, ("Origin", "http://127.0.0.1:8001")],
            &[host, ("Origin", "null")],
            &[host, ("Sec-Fetch-Site", "cross-site")],
            &[host, ("Sec-Fetch-Site", "same-site")],
        ] {
            assert_eq!(refused(&request(invoke, headers)), Some(403), "{headers:?}");
            assert_eq!(refused(&request("/", headers)), Some(403), "{headers:?}");
        }
        // The outbox pages: own host names, navigations and same-origin requests only.
        assert_eq!(refused(&request("/outbox.json", &[host])), None);
        assert_eq!(
            refused(&request(
                "/outbox",
                &[host, ("Sec-Fetch-Site", "cross-site")]
            )),
            None,
            "a link from elsewhere opens the page"
        );
        assert_eq!(
            refused(&request(
                "/outbox.json",
                &[host, ("Origin", "http://127.0.0.1:8001")]
            )),
            None
        );
        for headers in [
            &[("Host", "evil.example:8001")][..],
            &[host, ("Origin", "http://evil.example")],
            &[host, ("Origin", "null")],
        ] {
            assert_eq!(
                refused(&request("/outbox.json", headers)),
                Some(403),
                "{headers:?}"
            );
        }
    }

    #[tokio::test]
    async fn serves_over_a_socket_and_stops_promptly() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let (port, shutdown, task) = serve_stub().await;
        let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .unwrap();
        stream
            .write_all(
                b"POST /2015-03-31/functions/shop-dev-boom/invocations HTTP/1.1\r\nHost: 127.0.0.1\r\n\
                  Content-Length: 2\r\nConnection: close\r\n\r\n{}",
            )
            .await
            .unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).await.unwrap();
        assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
        assert!(
            answer
                .to_ascii_lowercase()
                .contains("x-amz-function-error: unhandled"),
            "{answer}"
        );
        assert!(
            answer.ends_with(r#"{"errorMessage":"it broke","errorType":"MyError"}"#),
            "{answer}"
        );
        // An idle keep-alive connection does not hold shutdown up.
        let _idle = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .unwrap();
        shutdown.send_replace(true);
        tokio::time::timeout(Duration::from_secs(3), task)
            .await
            .unwrap()
            .unwrap();
    }

    /// Step Functions' AWS JSON 1.0 API through the endpoint (`X-Amz-Target` routing,
    /// errors, the operations).
    mod step_functions {
        use super::*;
        use crate::clock::SystemClock;
        use crate::services::Services;
        use crate::sfn::StepFunctions;
        use crate::sfn::api::JSON_1_0;
        use crate::store::Store;
        use crate::testing::StubHost;
        use http::Request;
        use http_body_util::BodyExt;
        use serde_json::{Value, json};
        use std::time::Duration;

        fn services() -> Services<StubHost> {
            let host = Arc::new(StubHost::default());
            let mut engine = StepFunctions::new(
                Arc::new(Store::in_memory()),
                Arc::clone(&host),
                "shop-dev-".to_owned(),
                Arc::new(SystemClock),
                None,
            );
            engine.poll_timeout = Duration::from_millis(200);
            Services::new(host, "shop-dev-".to_owned()).with_step_functions(Arc::new(engine))
        }

        /// `operation` with `body` through the services endpoint: status, `x-amzn-ErrorType`,
        /// JSON body.
        async fn call(
            s: &Services<StubHost>,
            operation: &str,
            body: &str,
        ) -> (u16, Option<String>, Value) {
            let req = Request::builder()
                .method("POST")
                .uri("/")
                .header("X-Amz-Target", format!("AWSStepFunctions.{operation}"))
                .header("Content-Type", JSON_1_0)
                .body(Full::new(Bytes::from(body.to_owned())))
                .unwrap();
            let reply = s.handle(req).await;
            assert_eq!(
                reply
                    .headers()
                    .get(CONTENT_TYPE)
                    .and_then(|v| v.to_str().ok()),
                Some(JSON_1_0)
            );
            let status = reply.status().as_u16();
            let kind = reply
                .headers()
                .get("x-amzn-errortype")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            let bytes = reply.into_body().collect().await.unwrap().to_bytes();
            (status, kind, serde_json::from_slice(&bytes).unwrap())
        }

        #[tokio::test]
        async fn malformed_requests_get_aws_shaped_errors() {
            let s = services();
            let cases = [
                ("CreateActivity", "not json", "SerializationException"),
                ("CreateActivity", "[1]", "SerializationException"),
                ("CreateActivity", "{}", "ValidationException"),
                ("CreateActivity", r#"{"name": 5}"#, "SerializationException"),
                ("CreateActivity", r#"{"name": "has space"}"#, "InvalidName"),
                (
                    "DescribeExecution",
                    r#"{"executionArn": "arn:aws:sqs:us-east-1:0:q"}"#,
                    "InvalidArn",
                ),
                (
                    "DescribeExecution",
                    r#"{"executionArn": "arn:aws:states:us-east-1:000000000000:execution:m:e"}"#,
                    "ExecutionDoesNotExist",
                ),
                (
                    "SendTaskSuccess",
                    r#"{"output": "{}"}"#,
                    "ValidationException",
                ),
                (
                    "SendTaskSuccess",
                    r#"{"taskToken": "x", "output": "{}"}"#,
                    "InvalidToken",
                ),
                (
                    "SendTaskHeartbeat",
                    &format!(r#"{{"taskToken": "{}"}}"#, "t".repeat(2049)),
                    "ValidationException",
                ),
                (
                    "ListExecutions",
                    r#"{"stateMachineArn": "arn:aws:states:us-east-1:000000000000:stateMachine:none"}"#,
                    "StateMachineDoesNotExist",
                ),
                (
                    "ListStateMachines",
                    r#"{"maxResults": 5000}"#,
                    "ValidationException",
                ),
                (
                    "CreateStateMachine",
                    r#"{"name": "m", "roleArn": "arn:aws:iam::0:role/r", "definition": "{\"StartAt\": \"A\"}"}"#,
                    "InvalidDefinition",
                ),
                (
                    "CreateStateMachine",
                    r#"{"name": "m", "roleArn": "arn:aws:iam::0:role/r", "type": "EXPRESS", "definition": "{}"}"#,
                    "ValidationException",
                ),
                ("StartSyncExecution", "{}", "UnknownOperationException"),
            ];
            for (operation, body, wanted) in cases {
                let (status, kind, json) = call(&s, operation, body).await;
                assert_eq!(
                    (status, kind.as_deref()),
                    (400, Some(wanted)),
                    "{operation} {body}: {json}"
                );
                assert_eq!(json["__type"], wanted, "{json}");
                assert!(
                    json["message"].as_str().is_some_and(|m| !m.is_empty()),
                    "{json}"
                );
            }
        }

        #[tokio::test]
        async fn operations_answer_in_the_api_reference_shapes() {
            let s = services();
            let (status, _, created) =
                call(&s, "CreateActivity", r#"{"name": "shop-dev-Approve"}"#).await;
            assert_eq!(status, 200);
            let activity = created["activityArn"].as_str().unwrap().to_owned();
            assert_eq!(
                activity,
                "arn:aws:states:us-east-1:000000000000:activity:shop-dev-Approve"
            );
            assert!(created["creationDate"].is_f64(), "{created}");
            // Nothing scheduled: the long poll ends with no token.
            let (status, _, empty) = call(
                &s,
                "GetActivityTask",
                &json!({"activityArn": activity}).to_string(),
            )
            .await;
            assert_eq!((status, empty), (200, json!({})));

            let definition = json!({"StartAt": "Ask", "States": {"Ask": {"Type": "Task", "Resource": activity, "End": true}}});
            let (_, _, machine) = call(
                &s,
                "CreateStateMachine",
                &json!({"name": "shop-dev-M", "roleArn": "arn:aws:iam::000000000000:role/r", "definition": definition.to_string()}).to_string(),
            )
            .await;
            let machine = machine["stateMachineArn"].as_str().unwrap().to_owned();
            let (_, _, described) = call(
                &s,
                "DescribeStateMachine",
                &json!({"stateMachineArn": machine}).to_string(),
            )
            .await;
            assert_eq!(
                (
                    described["name"].as_str(),
                    described["status"].as_str(),
                    described["type"].as_str()
                ),
                (Some("shop-dev-M"), Some("ACTIVE"), Some("STANDARD"))
            );
            let (_, _, started) = call(
                &s,
                "StartExecution",
                &json!({"stateMachineArn": machine, "name": "e1", "input": "{\"a\":1}"})
                    .to_string(),
            )
            .await;
            let execution = started["executionArn"].as_str().unwrap().to_owned();
            assert_eq!(
                execution,
                "arn:aws:states:us-east-1:000000000000:execution:shop-dev-M:e1"
            );
            let (_, _, task) = call(
                &s,
                "GetActivityTask",
                &json!({"activityArn": activity, "workerName": "w"}).to_string(),
            )
            .await;
            assert_eq!(task["input"], "{\"a\":1}");
            let token = task["taskToken"].as_str().unwrap();
            let (status, _, answer) = call(
                &s,
                "SendTaskSuccess",
                &json!({"taskToken": token, "output": "{\"ok\":true}"}).to_string(),
            )
            .await;
            assert_eq!((status, answer), (200, json!({})));
            let mut described = json!({});
            for _ in 0..2000 {
                described = call(
                    &s,
                    "DescribeExecution",
                    &json!({"executionArn": execution}).to_string(),
                )
                .await
                .2;
                if described["status"] == "SUCCEEDED" {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            assert_eq!(described["status"], "SUCCEEDED", "{described}");
            assert_eq!(described["output"], "{\"ok\":true}");
            assert!(described["stopDate"].is_f64(), "{described}");

            let (_, _, page) = call(
                &s,
                "GetExecutionHistory",
                &json!({"executionArn": execution, "maxResults": 2, "reverseOrder": true})
                    .to_string(),
            )
            .await;
            assert_eq!(page["events"][0]["type"], "ExecutionSucceeded");
            assert_eq!(
                page["events"][0]["executionSucceededEventDetails"]["output"],
                "{\"ok\":true}"
            );
            assert_eq!(page["events"].as_array().map(Vec::len), Some(2));
            let (_, _, next) = call(
                &s,
                "GetExecutionHistory",
                &json!({"executionArn": execution, "maxResults": 2, "reverseOrder": true, "nextToken": page["nextToken"]}).to_string(),
            )
            .await;
            assert_eq!(next["events"][0]["type"], "ActivitySucceeded");
            let (_, _, listed) = call(
                &s,
                "ListExecutions",
                &json!({"stateMachineArn": machine, "statusFilter": "SUCCEEDED"}).to_string(),
            )
            .await;
            assert_eq!(listed["executions"][0]["executionArn"], execution.as_str());
        }
    }
}

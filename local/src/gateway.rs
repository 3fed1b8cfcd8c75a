//! The local API Gateway: a REST API (v1) emulator in front of the local Lambda host.
//!
//! It serves `http://127.0.0.1:8000/{stage}/path` like an execute-api invoke URL (or, with
//! `--no-stage-prefix`, `/path` like a custom domain mapped at its root) and behaves like the
//! API `portico deploy` creates: `/` and `/{proxy+}` with `ANY` → the `api` function through a
//! Lambda proxy integration, plus an explicit resource for each route whose gateway options
//! differ (an API key required).
//!
//! Per request, as API Gateway does:
//! 0. a `Host` that is not one of the gateway's names ([`crate::hosts`]) →
//!    `403 {"message":"Forbidden"}`; runs of `/` in the path are merged into one before
//!    anything is matched (API Gateway does the same: `/dev//requests` is `/dev/requests`);
//! 1. a path outside the stage → `403 {"message":"Missing Authentication Token"}`;
//! 2. a body over 10 MB → `413`; headers over 10,240 bytes → `431`;
//! 3. on a route that requires an API key: the key (exactly one `x-api-key` header), its usage
//!    plan's token bucket and quota ([`crate::usage`]) → `403` / `429`. A method the
//!    route does not declare reaches the app through the resource's open `ANY`, without a
//!    key, as on the deployed resource (`HEAD` is the `GET`'s, as in the app's router);
//! 4. the REST v1 proxy event (`ProxyEvent`): stage left out of `path` and kept in
//!    `requestContext.path`, header case as sent, `headers` and `multiValueHeaders`, decoded
//!    query parameters, `null` where AWS sends null, base64 bodies for binary media types;
//! 5. the function's reply mapped back: `multiValueHeaders` over `headers`, `isBase64Encoded`
//!    bodies decoded when the client's first `Accept` type is binary, a malformed reply or a
//!    function error → `502`, the integration timeout (29 s) → `504`.
//!
//! Gateway-made errors carry `Content-Type: application/json`, `x-amzn-ErrorType`, and the
//! `[api.cors]` headers when CORS is configured. Every response has `x-amzn-RequestId` and
//! `x-amz-apigw-id`. One line per request goes to the terminal.
//!
//! The HTTP server is hyper's HTTP/1 server, one task per connection, with a header read
//! timeout (slow clients), a header size limit, a body read timeout and size limit, a bound on
//! open connections, and each request handled in its own task so that nothing a client or the
//! app does can stop the server. hyper lowercases header names; a small scanner beside it
//! (`HeadScanner`) records the names as sent, so the event keeps their case.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use crate::BoxError;
use crate::hosts::{AllowedHosts, HostRefusal};
use crate::lambda::{InvocationResult, InvokeOutcome, LambdaHost, RunToEnd};
use crate::logs::LogSink;
use crate::server::{self, Limits, MAX_HEAD_BYTES};
use crate::store::Store;
use crate::usage::{self, ApiKeys, Enforcer, KeyDecision, PlanSpec};
use portico_spec::apigw::{self, accepts_binary};
use portico_spec::config::{Config, CorsSection};
use portico_spec::manifest::{Manifest, ManifestRoute};
use portico_spec::route_path::parse_route_path;

/// The entry point of the HTTP function.
const FUNCTION: &str = "api";
/// API Gateway's default (and, without a quota increase, maximum) integration timeout.
const DEFAULT_INTEGRATION_TIMEOUT: Duration = Duration::from_secs(29);
/// API Gateway's REST API payload limit.
const MAX_REQUEST_BODY: usize = 10 * 1024 * 1024;
/// Lambda's synchronous invocation limit on the response payload (bytes, as Lambda's own
/// error message states it).
const MAX_LAMBDA_PAYLOAD: usize = 6_291_556;
/// Lambda's synchronous invocation limit on the request payload: 100 bytes less than the
/// response's ("Request must be smaller than 6291456 bytes for the InvokeFunction operation").
const MAX_LAMBDA_REQUEST: usize = 6_291_456;
/// API Gateway's limit on the request line plus header values.
const MAX_HEADER_BYTES: usize = 10_240;
/// Open connections at most; more wait to be accepted.
const MAX_CONNECTIONS: usize = 1024;
/// The account id the events carry.
const ACCOUNT_ID: &str = "123456789012";
/// The headers the console's "Enable CORS" allows.
const DEFAULT_CORS_ALLOW_HEADERS: &str =
    "Content-Type,X-Amz-Date,Authorization,X-Api-Key,X-Amz-Security-Token";
/// Request headers API Gateway does not pass to the integration (hop-by-hop and framing).
const DROPPED_REQUEST_HEADERS: [&str; 9] = [
    "connection",
    "content-length",
    "expect",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];
/// Response headers API Gateway renames to `x-amzn-Remapped-<name>` (REST APIs).
const REMAPPED_RESPONSE_HEADERS: [&str; 6] = [
    "authorization",
    "connection",
    "content-length",
    "date",
    "server",
    "www-authenticate",
];
/// Response headers that cannot be forwarded on a new HTTP/1.1 response.
const DROPPED_RESPONSE_HEADERS: [&str; 5] = [
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
];
const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// What the gateway serves: stage, routes that need a key, binary media types, CORS,
/// timeouts and usage plans, resolved from `portico.toml` and the app's manifest.
#[derive(Debug, Clone)]
pub struct GatewayConfig {
    /// The API Gateway stage name.
    stage: String,
    /// Paths start with `/{stage}` (an execute-api URL) rather than at the root.
    stage_prefix: bool,
    /// Lowercased `api.binary_media_types` (`*` wildcards allowed).
    binary_media_types: Vec<String>,
    /// Headers added to gateway-made errors when `[api.cors]` is configured.
    cors: Option<Vec<(HeaderName, HeaderValue)>>,
    /// How long the gateway waits for the function (`api.timeout`).
    integration_timeout: Duration,
    /// The `api` function's own timeout in this stage.
    function_timeout: Duration,
    routes: RouteTable,
    plans: Vec<PlanSpec>,
    /// A stable fake REST API id.
    api_id: String,
    limits: Limits,
    /// The host names requests may name.
    hosts: AllowedHosts,
}

impl GatewayConfig {
    /// Resolves the gateway of `stage` from `config` and the app's `manifest`; `stage_prefix`
    /// serves paths under `/{stage}` (like an execute-api URL) rather than at the root.
    ///
    /// # Errors
    /// When a manifest route path is invalid or two routes conflict, or a CORS value cannot
    /// be a header value.
    pub fn from_config(
        config: &Config,
        manifest: &Manifest,
        stage: &str,
        stage_prefix: bool,
    ) -> Result<Self, BoxError> {
        let cors = config.api.cors.as_ref().map(cors_headers).transpose()?;
        let integration_timeout = config
            .api
            .timeout
            .as_ref()
            .map_or(DEFAULT_INTEGRATION_TIMEOUT, |t| {
                Duration::from_secs(u64::from(*t.get_ref()))
            });
        let function_timeout =
            Duration::from_secs(u64::from(config.function(stage, FUNCTION).timeout));
        Ok(Self {
            stage: config.api_stage_name(stage),
            stage_prefix,
            binary_media_types: config
                .api
                .binary_media_types
                .iter()
                .map(|t| t.trim().to_ascii_lowercase())
                .collect(),
            cors,
            integration_timeout,
            function_timeout,
            routes: RouteTable::new(&manifest.routes)?,
            plans: PlanSpec::from_config(config),
            api_id: usage::short_id(&format!("{}/{stage}", config.app.name.get_ref()), 10),
            limits: Limits::default(),
            hosts: AllowedHosts::default(),
        })
    }

    /// Accepts these host names besides the loopback ones and the listening address.
    pub fn with_allowed_hosts(mut self, hosts: AllowedHosts) -> Self {
        self.hosts = hosts;
        self
    }

    /// The host names this gateway answers to (the services endpoint answers the same).
    pub fn allowed_hosts(&self) -> &AllowedHosts {
        &self.hosts
    }

    /// The API's base URL when served on `addr`: `http://127.0.0.1:8000/dev`, or without the
    /// stage when paths are served at the root.
    pub fn base_url(&self, addr: SocketAddr) -> String {
        let mut addr = addr;
        if addr.ip().is_unspecified() {
            // Bound to every interface: loopback is one of them and always reachable.
            addr.set_ip(match addr {
                SocketAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
                SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
            });
        }
        if self.stage_prefix {
            format!("http://{addr}/{}", self.stage)
        } else {
            format!("http://{addr}")
        }
    }

    /// The path the API sees (stage removed) for the client's `path`, or `None` when the
    /// path is outside the stage. `/dev` is the stage's root, like `/dev/`.
    fn strip_stage<'p>(&self, path: &'p str) -> Option<&'p str> {
        if !self.stage_prefix {
            return path.starts_with('/').then_some(path);
        }
        let rest = path.strip_prefix('/')?.strip_prefix(self.stage.as_str())?;
        if rest.is_empty() {
            Some("/")
        } else {
            rest.starts_with('/').then_some(rest)
        }
    }

    /// `requestContext.path`: the path the client called, the stage included.
    fn context_path(&self, path: &str) -> String {
        if self.stage_prefix {
            format!("/{}{path}", self.stage)
        } else {
            path.to_owned()
        }
    }
}

fn cors_headers(cors: &CorsSection) -> Result<Vec<(HeaderName, HeaderValue)>, BoxError> {
    let value = |name: &str, text: &str| {
        HeaderValue::from_str(text)
            .map_err(|_| format!("`api.cors`: {name} `{text}` is not a valid header value"))
    };
    let mut out = vec![(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        value("allow_origin", &cors.allow_origin)?,
    )];
    let allow_headers = if cors.allow_headers.is_empty() {
        DEFAULT_CORS_ALLOW_HEADERS.to_owned()
    } else {
        cors.allow_headers.join(",")
    };
    out.push((
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        value("allow_headers", &allow_headers)?,
    ));
    if !cors.expose_headers.is_empty() {
        out.push((
            header::ACCESS_CONTROL_EXPOSE_HEADERS,
            value("expose_headers", &cors.expose_headers.join(","))?,
        ));
    }
    if cors.allow_credentials {
        out.push((
            header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
            HeaderValue::from_static("true"),
        ));
    }
    Ok(out)
}

/// The app's routes, to know which requests need an API key and which explicit resource
/// (rather than `/{proxy+}`) API Gateway would match.
#[derive(Debug, Clone, Default)]
struct RouteTable {
    tree: matchit::Router<usize>,
    entries: Vec<RouteEntry>,
}

#[derive(Debug, Clone)]
struct RouteEntry {
    /// The API Gateway resource path, e.g. `/users/{id}`.
    template: String,
    /// The template in matchit syntax, to merge methods of one path.
    matchit: String,
    /// `(method or "ANY", api key required)`.
    methods: Vec<(String, bool)>,
}

impl RouteEntry {
    /// Deployed as its own resource: some method on it needs a key.
    fn is_explicit_resource(&self) -> bool {
        self.methods.iter().any(|(_, key)| *key)
    }
}

/// The route a request reaches.
#[derive(Debug)]
struct RouteMatch<'a> {
    entry: &'a RouteEntry,
    /// Path parameters, as they appear in the URL (not decoded, like API Gateway's).
    params: Vec<(String, String)>,
    /// The method the request dispatches to needs an API key.
    key_required: bool,
}

impl RouteTable {
    fn new(routes: &[ManifestRoute]) -> Result<Self, BoxError> {
        let mut table = Self::default();
        for route in routes {
            let parsed = parse_route_path(&route.path).map_err(|e| {
                format!(
                    "route `{}` has an invalid path `{}`: {e}; rebuild the app with this CLI's `portico` version",
                    route.name, route.path
                )
            })?;
            let matchit = parsed.to_matchit();
            let method = (
                route.method.to_ascii_uppercase(),
                route.options.api_key_required,
            );
            if let Some(entry) = table.entries.iter_mut().find(|e| e.matchit == matchit) {
                entry.methods.push(method);
                continue;
            }
            table
                .tree
                .insert(matchit.clone(), table.entries.len())
                .map_err(|e| {
                    format!(
                        "route `{}` (`{}`) conflicts with another route: {e}",
                        route.name, route.path
                    )
                })?;
            table.entries.push(RouteEntry {
                template: route.path.clone(),
                matchit,
                methods: vec![method],
            });
        }
        Ok(table)
    }

    /// The route `path` reaches, matched the way the app's router matches (static segments
    /// before parameters), and whether `method` needs a key there: the method itself, a
    /// declared `ANY`, or for `HEAD` the `GET` (the app's router serves `HEAD` with it). Any
    /// other method goes to the open `ANY` that `portico deploy` puts on every explicit
    /// resource, without a key, as on AWS; the app answers it (405).
    fn find(&self, method: &str, path: &str) -> Option<RouteMatch<'_>> {
        let path = match path.strip_suffix('/') {
            Some(stripped) if !stripped.is_empty() => stripped,
            _ => path,
        };
        let found = self.tree.at(path).ok()?;
        let entry = &self.entries[*found.value];
        let pick = |wanted: &str| {
            entry
                .methods
                .iter()
                .find(|(m, _)| m == wanted)
                .or_else(|| entry.methods.iter().find(|(m, _)| m == "ANY"))
        };
        let chosen = pick(method).or_else(|| (method == "HEAD").then(|| pick("GET")).flatten());
        Some(RouteMatch {
            entry,
            params: found
                .params
                .iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
            key_required: chosen.is_some_and(|(_, key)| *key),
        })
    }
}

/// How the gateway reaches the function: the Lambda host, or a fake in tests.
trait Invoke: Send + Sync {
    fn invoke<'a>(
        &'a self,
        function: &'a str,
        payload: Bytes,
        deadline: Duration,
    ) -> Pin<Box<dyn Future<Output = InvocationResult> + Send + 'a>>;
}

impl Invoke for LambdaHost {
    fn invoke<'a>(
        &'a self,
        function: &'a str,
        payload: Bytes,
        deadline: Duration,
    ) -> Pin<Box<dyn Future<Output = InvocationResult> + Send + 'a>> {
        Box::pin(self.invoke_with_deadline(function, payload, deadline))
    }
}

/// Where the one-line-per-request log goes.
type RequestLog = Arc<dyn Fn(&str) + Send + Sync>;

/// The running gateway: configuration, the function it fronts, usage plans, ids.
pub struct Gateway {
    cfg: GatewayConfig,
    invoker: Arc<dyn Invoke>,
    store: Arc<Store>,
    enforcer: Enforcer,
    ids: Ids,
    deployment_id: String,
    log: RequestLog,
}

impl Gateway {
    /// A gateway in front of `host`'s `api` function; quotas count in `store`, `keys` are the
    /// resolved API key values, one line per request goes to `logs`.
    pub fn new(
        cfg: GatewayConfig,
        host: Arc<LambdaHost>,
        store: Arc<Store>,
        keys: ApiKeys,
        logs: LogSink,
    ) -> Self {
        let log: RequestLog = Arc::new(move |line: &str| logs.system(line));
        Self::with_invoker(cfg, host, store, keys, log)
    }

    fn with_invoker(
        cfg: GatewayConfig,
        invoker: Arc<dyn Invoke>,
        store: Arc<Store>,
        keys: ApiKeys,
        log: RequestLog,
    ) -> Self {
        let ids = Ids::new();
        let deployment_id = usage::short_id(&format!("deployment/{}", crate::ids::u64()), 6);
        Self {
            enforcer: Enforcer::new(cfg.plans.clone(), keys),
            cfg,
            invoker,
            store,
            ids,
            deployment_id,
            log,
        }
    }

    /// Handles one request: never fails, every problem becomes a response.
    async fn handle(
        self: Arc<Self>,
        req: Request<Incoming>,
        raw_head: Option<RawHead>,
        conn: ConnInfo,
    ) -> Response<Full<Bytes>> {
        let started = Instant::now();
        let now_ms = unix_ms(SystemTime::now());
        let ids = RequestIds {
            request_id: self.ids.uuid(),
            extended_request_id: self.ids.apigw_id(),
            trace_id: self.ids.trace_id(now_ms),
        };
        let method = req.method().clone();
        let target = req
            .uri()
            .path_and_query()
            .map_or_else(|| req.uri().to_string(), |pq| pq.as_str().to_owned());
        let has_body = request_has_body(req.headers());
        let mut body_read = false;
        let outcome = self
            .respond(req, raw_head, conn, &ids, now_ms, &mut body_read)
            .await;
        let (mut response, note) = match outcome {
            Ok((response, note)) => (response, note),
            Err(Failure { error, detail }) => (self.error_response(error), Some(detail)),
        };
        let headers = response.headers_mut();
        insert(headers, "x-amzn-requestid", &ids.request_id);
        insert(headers, "x-amz-apigw-id", &ids.extended_request_id);
        insert(headers, "x-amzn-trace-id", &ids.trace_id);
        if has_body && !body_read {
            // An unread body would have to be drained (or, after `Expect: 100-continue`, is
            // never sent): closing is simpler and keeps the stream in step.
            headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        let status = response.status().as_u16();
        let elapsed = started.elapsed().as_millis();
        let target = redact_query(&target);
        let line = match note {
            Some(note) => format!(
                "API {method} {target} -> {status} in {elapsed} ms: {note} (request {})",
                ids.request_id
            ),
            None => format!(
                "API {method} {target} -> {status} in {elapsed} ms (request {})",
                ids.request_id
            ),
        };
        (self.log)(&line);
        response
    }

    async fn respond(
        &self,
        req: Request<Incoming>,
        raw_head: Option<RawHead>,
        conn: ConnInfo,
        ids: &RequestIds,
        now_ms: i64,
        body_read: &mut bool,
    ) -> Result<(Response<Full<Bytes>>, Option<String>), Failure> {
        let (parts, body) = req.into_parts();
        let sent_headers = original_headers(raw_head, &parts.headers);

        let request_line = parts.method.as_str().len()
            + parts.uri.path_and_query().map_or(1, |pq| pq.as_str().len())
            + "HTTP/1.1".len();
        let head_size = request_line + sent_headers.iter().map(|(_, v)| v.len()).sum::<usize>();
        if head_size > MAX_HEADER_BYTES {
            return Err(Failure::new(
                GatewayError::HeadersTooLarge,
                format!(
                    "request line and header values are {head_size} bytes, over API Gateway's {MAX_HEADER_BYTES}"
                ),
            ));
        }

        self.cfg
            .hosts
            .check(
                parts.headers.get_all(header::HOST).iter().map(HeaderValue::as_bytes),
                parts.uri.authority().map(http::uri::Authority::as_str),
                conn.local.ip(),
            )
            .map_err(|refusal| match refusal {
                HostRefusal::Unknown(host) => Failure::new(
                    GatewayError::Forbidden,
                    format!(
                        "Host `{host}` is not one of this gateway's names (loopback, the listening address, `--allow-host`)"
                    ),
                ),
                HostRefusal::Malformed(why) => Failure::new(GatewayError::BadRequest, why),
            })?;

        let merged = merge_slashes(parts.uri.path());
        let Some(path) = self.cfg.strip_stage(&merged) else {
            let detail = if self.cfg.stage_prefix {
                format!(
                    "the path is not under the stage; use {}/...",
                    self.cfg.base_url(conn.local)
                )
            } else {
                "the path does not start with `/`".to_owned()
            };
            return Err(Failure::new(
                GatewayError::MissingAuthenticationToken,
                detail,
            ));
        };

        if let Some(length) = content_length(&parts.headers) {
            if length > MAX_REQUEST_BODY as u64 {
                return Err(Failure::new(
                    GatewayError::RequestTooLarge,
                    format!("Content-Length {length} is over API Gateway's 10 MB"),
                ));
            }
        }

        let method = parts.method.as_str();
        let route = self.cfg.routes.find(method, path);
        let preflight = parts.method == Method::OPTIONS && self.cfg.cors.is_some();
        let key_required = route.as_ref().is_some_and(|r| r.key_required) && !preflight;
        let api_key = if key_required {
            let mut values = parts.headers.get_all("x-api-key").iter();
            let presented = values.next().and_then(|v| v.to_str().ok());
            if values.next().is_some() {
                // The function would see the last value in `headers` and all of them in
                // `multiValueHeaders`: no value is the one the gateway decided on.
                return Err(Failure::new(
                    GatewayError::Forbidden,
                    "more than one x-api-key header".to_owned(),
                ));
            }
            match self.enforcer.check(presented, now_ms, &self.store) {
                KeyDecision::Allowed { value, id } => Some((value, id)),
                KeyDecision::Forbidden(why) => {
                    return Err(Failure::new(GatewayError::Forbidden, why.to_owned()));
                }
                KeyDecision::Throttled => {
                    return Err(Failure::new(
                        GatewayError::Throttled,
                        "the usage plan's throttle (token bucket) is empty".to_owned(),
                    ));
                }
                KeyDecision::QuotaExceeded => {
                    return Err(Failure::new(
                        GatewayError::QuotaExceeded,
                        "the usage plan's quota for this period is used up".to_owned(),
                    ));
                }
                KeyDecision::StoreFailed(e) => {
                    return Err(Failure::new(
                        GatewayError::ConfigurationError,
                        format!("cannot count the quota: {e}"),
                    ));
                }
            }
        } else {
            None
        };

        let body = read_body(body, self.cfg.limits.body_read).await?;
        *body_read = true;

        let port = conn.local.port();
        let source_ip = conn.peer.ip().to_canonical().to_string();
        let headers = event_headers(sent_headers, &source_ip, port, &ids.trace_id);
        let context_path = self.cfg.context_path(path);
        let fallback_host = conn.local.to_string();
        let protocol = format!("{:?}", parts.version);
        let input = EventInput {
            method,
            path,
            context_path: &context_path,
            query: parts.uri.query(),
            headers: &headers,
            body: &body,
            source_ip: &source_ip,
            protocol: &protocol,
            route: route.as_ref(),
            request_id: &ids.request_id,
            extended_request_id: &ids.extended_request_id,
            now_ms,
            api_key: api_key.as_ref().map(|(v, i)| (v.as_str(), i.as_str())),
            deployment_id: &self.deployment_id,
            fallback_host: &fallback_host,
        };
        let event = build_event(&self.cfg, &input).map_err(|e| {
            Failure::new(
                GatewayError::ConfigurationError,
                format!("cannot encode the event: {e}"),
            )
        })?;
        if event.len() > MAX_LAMBDA_REQUEST {
            return Err(Failure::new(
                GatewayError::RequestTooLarge,
                format!(
                    "the event is {} bytes, over Lambda's {MAX_LAMBDA_REQUEST}-byte request limit",
                    event.len()
                ),
            ));
        }
        let binary_accept = accepts_binary(&headers, &self.cfg.binary_media_types);

        let result = self
            .invoker
            .invoke(FUNCTION, Bytes::from(event), self.cfg.integration_timeout)
            .await;
        self.map_outcome(result, binary_accept)
    }

    fn map_outcome(
        &self,
        result: InvocationResult,
        binary_accept: bool,
    ) -> Result<(Response<Full<Bytes>>, Option<String>), Failure> {
        let lambda_id = result.request_id;
        match result.outcome {
            InvokeOutcome::Response(bytes) => {
                if bytes.len() > MAX_LAMBDA_PAYLOAD {
                    return Err(Failure::new(
                        GatewayError::IntegrationFailure,
                        format!(
                            "the function's response is {} bytes, over Lambda's {MAX_LAMBDA_PAYLOAD}-byte limit (Lambda request {lambda_id})",
                            bytes.len()
                        ),
                    ));
                }
                let proxy = parse_proxy_response(&bytes, binary_accept).map_err(|bad| match bad {
                    BadResponse::Malformed(why) => Failure::new(
                        GatewayError::IntegrationFailure,
                        format!("Malformed Lambda proxy response: {why} (Lambda request {lambda_id})"),
                    ),
                    BadResponse::Base64(why) => Failure::new(
                        GatewayError::ConfigurationError,
                        format!("cannot base64-decode the body: {why} (Lambda request {lambda_id})"),
                    ),
                })?;
                let note = proxy.base64_as_text.then(|| {
                    "the isBase64Encoded body went out as base64 text, as API Gateway does when \
                     the client's first Accept type is not in api.binary_media_types"
                        .to_owned()
                });
                proxy_into_http(proxy).map(|response| (response, note)).map_err(|why| {
                    Failure::new(
                        GatewayError::IntegrationFailure,
                        format!(
                            "Malformed Lambda proxy response: {why} (Lambda request {lambda_id})"
                        ),
                    )
                })
            }
            InvokeOutcome::FunctionError {
                error_type,
                error_message,
            } => Err(Failure::new(
                GatewayError::IntegrationFailure,
                format!(
                    "the function failed: {error_type}: {error_message} (Lambda request {lambda_id})"
                ),
            )),
            InvokeOutcome::Timeout => {
                // Whichever limit is shorter fired: API Gateway's (504) or the function's
                // own timeout, which Lambda reports as a function error (502).
                let gateway_limit = self.cfg.integration_timeout <= self.cfg.function_timeout
                    || result.duration + Duration::from_millis(50) >= self.cfg.integration_timeout;
                if gateway_limit {
                    Err(Failure::new(
                        GatewayError::IntegrationTimeout,
                        format!(
                            "no response within the {} s integration timeout (Lambda request {lambda_id})",
                            self.cfg.integration_timeout.as_secs()
                        ),
                    ))
                } else {
                    Err(Failure::new(
                        GatewayError::IntegrationFailure,
                        format!(
                            "the function timed out after {} s (Lambda request {lambda_id})",
                            self.cfg.function_timeout.as_secs()
                        ),
                    ))
                }
            }
            InvokeOutcome::Crashed { detail } => Err(Failure::new(
                GatewayError::IntegrationFailure,
                format!("the function crashed: {detail} (Lambda request {lambda_id})"),
            )),
            InvokeOutcome::UnknownFunction => Err(Failure::new(
                GatewayError::ConfigurationError,
                format!("there is no `{FUNCTION}` function"),
            )),
        }
    }

    /// A gateway-made error response: AWS's default body and error type, plus CORS.
    fn error_response(&self, error: GatewayError) -> Response<Full<Bytes>> {
        let mut response = Response::new(Full::new(Bytes::from_static(error.body().as_bytes())));
        *response.status_mut() = error.status();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        if let Some(kind) = error.error_type() {
            headers.insert("x-amzn-errortype", HeaderValue::from_static(kind));
        }
        if let Some(cors) = &self.cfg.cors {
            for (name, value) in cors {
                headers.insert(name.clone(), value.clone());
            }
        }
        if error.closes_connection() {
            headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        response
    }
}

fn insert(headers: &mut HeaderMap, name: &'static str, value: &str) {
    if let Ok(value) = HeaderValue::from_str(value) {
        headers.insert(name, value);
    }
}

/// `path` with every run of `/` merged into one: `/dev//requests` → `/dev/requests`.
///
/// API Gateway merges them before it matches a resource: `/prod//orders` reaches the `/orders`
/// resource on AWS (localstack/localstack#11253), and HTTP APIs hand `//` to the function as `/`
/// (brefphp/symfony-bridge#53). Matching the raw path instead let `//requests` fall through to
/// `/{proxy+}`, which needs no key, while the app routed it to the keyed `/requests`.
fn merge_slashes(path: &str) -> std::borrow::Cow<'_, str> {
    if !path.contains("//") {
        return std::borrow::Cow::Borrowed(path);
    }
    let mut merged = String::with_capacity(path.len());
    for c in path.chars() {
        if c != '/' || !merged.ends_with('/') {
            merged.push(c);
        }
    }
    std::borrow::Cow::Owned(merged)
}

fn request_has_body(headers: &HeaderMap) -> bool {
    headers.contains_key(header::TRANSFER_ENCODING)
        || content_length(headers).is_some_and(|n| n > 0)
}

fn content_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
}

async fn read_body(body: Incoming, limit: Duration) -> Result<Bytes, Failure> {
    match tokio::time::timeout(limit, Limited::new(body, MAX_REQUEST_BODY).collect()).await {
        Err(_) => Err(Failure::new(
            GatewayError::RequestTimeout,
            format!("the body did not arrive within {} s", limit.as_secs()),
        )),
        Ok(Err(e)) if e.downcast_ref::<LengthLimitError>().is_some() => Err(Failure::new(
            GatewayError::RequestTooLarge,
            "the body is over API Gateway's 10 MB".to_owned(),
        )),
        Ok(Err(e)) => Err(Failure::new(
            GatewayError::BadRequest,
            format!("cannot read the body: {e}"),
        )),
        Ok(Ok(collected)) => Ok(collected.to_bytes()),
    }
}

/// A request that ends in a gateway-made error, and why (for the terminal).
#[derive(Debug)]
struct Failure {
    error: GatewayError,
    detail: String,
}

impl Failure {
    fn new(error: GatewayError, detail: String) -> Self {
        Self { error, detail }
    }
}

/// The responses API Gateway makes itself (its default gateway responses).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum GatewayError {
    /// `MISSING_AUTHENTICATION_TOKEN`: no resource (here: a path outside the stage).
    MissingAuthenticationToken,
    /// `INVALID_API_KEY`.
    Forbidden,
    /// `THROTTLED`.
    Throttled,
    /// `QUOTA_EXCEEDED`.
    QuotaExceeded,
    /// `REQUEST_TOO_LARGE`.
    RequestTooLarge,
    /// The head is over API Gateway's size limit.
    HeadersTooLarge,
    /// The client did not send its body in time.
    RequestTimeout,
    /// The body could not be read (the client went away or broke the framing).
    BadRequest,
    /// A malformed proxy response or a function error: 502.
    IntegrationFailure,
    /// API Gateway's `API_CONFIGURATION_ERROR` and other internal errors: 500.
    ConfigurationError,
    /// `INTEGRATION_TIMEOUT`.
    IntegrationTimeout,
}

impl GatewayError {
    fn status(self) -> StatusCode {
        match self {
            Self::MissingAuthenticationToken | Self::Forbidden => StatusCode::FORBIDDEN,
            Self::Throttled | Self::QuotaExceeded => StatusCode::TOO_MANY_REQUESTS,
            Self::RequestTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::HeadersTooLarge => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            Self::RequestTimeout => StatusCode::REQUEST_TIMEOUT,
            Self::BadRequest => StatusCode::BAD_REQUEST,
            Self::IntegrationFailure => StatusCode::BAD_GATEWAY,
            Self::ConfigurationError => StatusCode::INTERNAL_SERVER_ERROR,
            Self::IntegrationTimeout => StatusCode::GATEWAY_TIMEOUT,
        }
    }

    /// The body, byte for byte as API Gateway sends it (note the space in the 5xx ones).
    fn body(self) -> &'static str {
        match self {
            Self::MissingAuthenticationToken => r#"{"message":"Missing Authentication Token"}"#,
            Self::Forbidden => r#"{"message":"Forbidden"}"#,
            Self::Throttled => r#"{"message":"Too Many Requests"}"#,
            Self::QuotaExceeded => r#"{"message":"Limit Exceeded"}"#,
            Self::RequestTooLarge => r#"{"message":"Request Too Long"}"#,
            Self::HeadersTooLarge => r#"{"message":"Request Header Fields Too Large"}"#,
            Self::RequestTimeout => r#"{"message":"Request Timeout"}"#,
            Self::BadRequest => r#"{"message":"Bad Request"}"#,
            Self::IntegrationFailure | Self::ConfigurationError => {
                r#"{"message": "Internal server error"}"#
            }
            Self::IntegrationTimeout => r#"{"message": "Endpoint request timed out"}"#,
        }
    }

    fn error_type(self) -> Option<&'static str> {
        match self {
            Self::MissingAuthenticationToken => Some("MissingAuthenticationTokenException"),
            Self::Forbidden => Some("ForbiddenException"),
            Self::Throttled => Some("TooManyRequestsException"),
            Self::QuotaExceeded => Some("LimitExceededException"),
            Self::IntegrationFailure | Self::ConfigurationError | Self::IntegrationTimeout => {
                Some("InternalServerErrorException")
            }
            Self::RequestTooLarge
            | Self::HeadersTooLarge
            | Self::RequestTimeout
            | Self::BadRequest => None,
        }
    }

    /// The request's body may still be on the wire: close rather than read it.
    fn closes_connection(self) -> bool {
        matches!(
            self,
            Self::RequestTooLarge | Self::HeadersTooLarge | Self::RequestTimeout | Self::BadRequest
        )
    }
}

/// Ids of one request: `requestContext.requestId` (= `x-amzn-RequestId`),
/// `extendedRequestId` (= `x-amz-apigw-id`) and the X-Ray trace header.
struct RequestIds {
    request_id: String,
    extended_request_id: String,
    trace_id: String,
}

/// A request's random ids, from the one random source (`crate::ids`).
struct Ids;

impl Ids {
    fn new() -> Self {
        Self
    }

    /// A random (version 4) UUID.
    fn uuid(&self) -> String {
        crate::ids::uuid_v4()
    }

    /// Like `Wq1xYHd2FiAEQ5A=`: 11 random bytes in base64.
    fn apigw_id(&self) -> String {
        base64::engine::general_purpose::STANDARD.encode(crate::ids::bytes::<11>())
    }

    /// `Root=1-<epoch seconds, hex>-<96 random bits, hex>`.
    fn trace_id(&self, now_ms: i64) -> String {
        let [a @ .., b0, b1, b2, b3] = crate::ids::bytes::<12>();
        format!(
            "Root=1-{:08x}-{:016x}{:08x}",
            now_ms.div_euclid(1000),
            u64::from_le_bytes(a),
            u32::from_le_bytes([b0, b1, b2, b3])
        )
    }
}

fn unix_ms(time: SystemTime) -> i64 {
    match time.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_millis()).unwrap_or(i64::MAX),
        Err(e) => -i64::try_from(e.duration().as_millis()).unwrap_or(i64::MAX),
    }
}

/// `requestContext.requestTime`: `30/Apr/2024:13:37:05 +0000`.
fn format_request_time(now_ms: i64) -> String {
    let secs = now_ms.div_euclid(1000);
    let (year, month, day) = usage::civil_from_days(secs.div_euclid(86_400));
    let of_day = secs.rem_euclid(86_400);
    format!(
        "{day:02}/{}/{year}:{:02}:{:02}:{:02} +0000",
        MONTHS[(month as usize).saturating_sub(1) % 12],
        of_day / 3600,
        of_day % 3600 / 60,
        of_day % 60
    )
}

/// The connection a request came on.
#[derive(Debug, Clone, Copy)]
struct ConnInfo {
    peer: SocketAddr,
    local: SocketAddr,
}

/// The request headers with their names as sent, in order: from the scanner when it saw
/// exactly the head hyper parsed, else hyper's (lowercase) names.
fn original_headers(raw: Option<RawHead>, parsed: &HeaderMap) -> Vec<(String, String)> {
    if let Some(raw) = raw {
        let same = raw.headers.len() == parsed.len()
            && raw.headers.iter().all(|(name, value)| {
                HeaderName::from_bytes(name.as_bytes()).is_ok_and(|name| {
                    parsed
                        .get_all(&name)
                        .iter()
                        .any(|v| v.as_bytes() == value.as_slice())
                })
            });
        if same {
            return raw
                .headers
                .into_iter()
                .map(|(name, value)| (name, String::from_utf8_lossy(&value).into_owned()))
                .collect();
        }
    }
    parsed
        .iter()
        .map(|(name, value)| {
            (
                name.as_str().to_owned(),
                String::from_utf8_lossy(value.as_bytes()).into_owned(),
            )
        })
        .collect()
}

/// The headers the function sees: what the client sent, without hop-by-hop headers, with
/// `Authorization` and `User-Agent` spelled that way (CloudFront does it), and the
/// `X-Forwarded-*` and `X-Amzn-Trace-Id` headers API Gateway adds.
fn event_headers(
    mut headers: Vec<(String, String)>,
    client_ip: &str,
    local_port: u16,
    trace_id: &str,
) -> Vec<(String, String)> {
    headers.retain(|(name, _)| {
        !DROPPED_REQUEST_HEADERS
            .iter()
            .any(|d| name.eq_ignore_ascii_case(d))
            && !name.eq_ignore_ascii_case("x-forwarded-port")
            && !name.eq_ignore_ascii_case("x-forwarded-proto")
    });
    for (name, _) in &mut headers {
        if name.eq_ignore_ascii_case("authorization") {
            "Authorization".clone_into(name);
        } else if name.eq_ignore_ascii_case("user-agent") {
            "User-Agent".clone_into(name);
        }
    }
    match headers
        .iter_mut()
        .rev()
        .find(|(name, _)| name.eq_ignore_ascii_case("x-forwarded-for"))
    {
        Some((_, value)) => {
            value.push_str(", ");
            value.push_str(client_ip);
        }
        None => headers.push(("X-Forwarded-For".to_owned(), client_ip.to_owned())),
    }
    headers.push(("X-Forwarded-Port".to_owned(), local_port.to_string()));
    headers.push(("X-Forwarded-Proto".to_owned(), "http".to_owned()));
    if !headers
        .iter()
        .any(|(name, _)| name.eq_ignore_ascii_case("x-amzn-trace-id"))
    {
        headers.push(("X-Amzn-Trace-Id".to_owned(), trace_id.to_owned()));
    }
    headers
}

/// Everything a REST v1 proxy event is built from.
struct EventInput<'a> {
    method: &'a str,
    /// The path with the stage removed.
    path: &'a str,
    context_path: &'a str,
    query: Option<&'a str>,
    /// The headers as the function sees them ([`event_headers`]).
    headers: &'a [(String, String)],
    body: &'a [u8],
    source_ip: &'a str,
    protocol: &'a str,
    route: Option<&'a RouteMatch<'a>>,
    request_id: &'a str,
    extended_request_id: &'a str,
    now_ms: i64,
    /// `(value, id)` of the API key the request passed with.
    api_key: Option<(&'a str, &'a str)>,
    deployment_id: &'a str,
    /// `domainName` when the client sent no `Host`.
    fallback_host: &'a str,
}

/// Builds the REST v1 proxy event JSON.
fn build_event(cfg: &GatewayConfig, input: &EventInput<'_>) -> serde_json::Result<Vec<u8>> {
    // The resource API Gateway matched: an explicit one (a route needing a key), else the
    // root or the greedy proxy.
    let resource = match input.route {
        Some(m) if m.entry.is_explicit_resource() => apigw::Resource {
            path: m.entry.template.as_str(),
            parameters: m.params.clone(),
        },
        _ => apigw::Resource::for_path(input.path),
    };
    let binary_body = apigw::first_header(input.headers, "content-type")
        .is_some_and(|ct| apigw::is_binary_media_type(ct, &cfg.binary_media_types));
    let host = apigw::first_header(input.headers, "host").unwrap_or(input.fallback_host);
    let request_time = format_request_time(input.now_ms);
    let resource_id = usage::short_id(&format!("resource{}", resource.path), 6);
    apigw::RestRequest {
        method: input.method,
        path: input.path,
        query: input.query,
        headers: input.headers,
        body: input.body,
        binary_body,
        resource: &resource,
        context: apigw::RestContext {
            resource_id: &resource_id,
            extended_request_id: input.extended_request_id,
            request_time: &request_time,
            request_time_epoch: input.now_ms,
            path: input.context_path,
            account_id: ACCOUNT_ID,
            protocol: input.protocol,
            stage: &cfg.stage,
            request_id: input.request_id,
            source_ip: input.source_ip,
            api_key: input.api_key,
            authorizer: None,
            domain_name: host,
            deployment_id: Some(input.deployment_id),
            api_id: &cfg.api_id,
        },
    }
    .to_vec()
}

/// A valid proxy response.
#[derive(Debug, PartialEq, Eq)]
struct ProxyResponse {
    status: StatusCode,
    /// `headers` merged with `multiValueHeaders` (which wins for a name in both).
    headers: Vec<(String, Vec<String>)>,
    body: Bytes,
    /// `isBase64Encoded`, but the client did not ask for binary: the body is the base64 text.
    base64_as_text: bool,
}

/// Why a function's reply is not a proxy response (502 or 500).
type BadResponse = apigw::BadProxyResponse;

/// Checks and reads the function's reply the way API Gateway does (see
/// [`apigw::parse_proxy_response`]). A base64 body is returned decoded when `binary_accept`
/// (the client's first `Accept` type is a binary media type), else as the base64 text.
fn parse_proxy_response(bytes: &[u8], binary_accept: bool) -> Result<ProxyResponse, BadResponse> {
    let proxy = apigw::parse_proxy_response(bytes, apigw::PayloadFormat::RestV1)?;
    let base64_as_text = proxy.body.is_base64() && !binary_accept;
    let body = match proxy.body {
        apigw::ResponseBody::Base64 { bytes, .. } if binary_accept => Bytes::from(bytes),
        apigw::ResponseBody::Base64 { text, .. } | apigw::ResponseBody::Text(text) => {
            Bytes::from(text)
        }
    };
    Ok(ProxyResponse {
        // `parse_proxy_response` keeps the status within 200..=599.
        status: StatusCode::from_u16(proxy.status).unwrap_or(StatusCode::BAD_GATEWAY),
        headers: proxy.headers,
        body,
        base64_as_text,
    })
}

/// The HTTP response for a proxy response: `Content-Type` defaults to `application/json`,
/// headers API Gateway remaps are renamed `x-amzn-Remapped-<name>`.
fn proxy_into_http(proxy: ProxyResponse) -> Result<Response<Full<Bytes>>, String> {
    let mut response = Response::new(Full::new(proxy.body));
    *response.status_mut() = proxy.status;
    let headers = response.headers_mut();
    for (name, values) in proxy.headers {
        if DROPPED_RESPONSE_HEADERS
            .iter()
            .any(|d| name.eq_ignore_ascii_case(d))
        {
            continue;
        }
        let name = if REMAPPED_RESPONSE_HEADERS
            .iter()
            .any(|r| name.eq_ignore_ascii_case(r))
        {
            format!("x-amzn-Remapped-{name}")
        } else {
            name
        };
        let header_name = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| format!("`{name}` is not a valid header name"))?;
        for value in values {
            let value = HeaderValue::from_str(&value)
                .map_err(|_| format!("header `{name}` has an invalid value {value:?}"))?;
            headers.append(header_name.clone(), value);
        }
    }
    if !headers.contains_key(header::CONTENT_TYPE) {
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
    }
    Ok(response)
}

/// Serves `gateway` on `listener` until `shutdown` turns true (or its sender goes away),
/// then lets requests in flight finish for a few seconds.
///
/// Never fails: a connection's protocol errors end that connection only, and accept errors
/// (out of file descriptors) are waited out.
pub async fn serve(listener: TcpListener, gateway: Arc<Gateway>, shutdown: watch::Receiver<bool>) {
    let drain = gateway.cfg.limits.drain;
    let log = Arc::clone(&gateway.log);
    server::accept_loop(
        listener,
        MAX_CONNECTIONS,
        drain,
        shutdown.clone(),
        |line| log(&format!("API {line}")),
        |stream, peer| serve_connection(stream, peer, Arc::clone(&gateway), shutdown.clone()),
    )
    .await;
}

async fn wait_for_shutdown(shutdown: &mut watch::Receiver<bool>) {
    loop {
        if *shutdown.borrow_and_update() {
            return;
        }
        if shutdown.changed().await.is_err() {
            return;
        }
    }
}

async fn serve_connection(
    stream: TcpStream,
    peer: SocketAddr,
    gateway: Arc<Gateway>,
    mut shutdown: watch::Receiver<bool>,
) {
    let local = stream.local_addr().unwrap_or(peer);
    let _ = stream.set_nodelay(true);
    let conn = ConnInfo { peer, local };
    let heads: Arc<Mutex<VecDeque<RawHead>>> = Arc::default();
    let io = TokioIo::new(RecordingStream {
        inner: stream,
        scanner: HeadScanner::default(),
        heads: Arc::clone(&heads),
    });
    let limits = gateway.cfg.limits;
    let service = service_fn(move |req: Request<Incoming>| {
        // hyper calls the service in the order the heads arrived.
        let raw_head = lock(&heads).pop_front();
        let gateway = Arc::clone(&gateway);
        async move {
            // Run in the connection's task, without a task per request; still, a panic becomes
            // a 500 here instead of ending the connection, and a client that goes away does
            // not cut the request short (it ends in a task of its own then).
            let handled = RunToEnd::new(Arc::clone(&gateway).handle(req, raw_head, conn)).await;
            let response = match handled {
                Ok(response) => response,
                Err(panic) => {
                    let message = panic
                        .downcast_ref::<&str>()
                        .copied()
                        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
                        .unwrap_or("a panic");
                    (gateway.log)(&format!(
                        "API internal error while handling a request: {message}"
                    ));
                    gateway.error_response(GatewayError::ConfigurationError)
                }
            };
            Ok::<_, Infallible>(response)
        }
    });
    let connection = server::http1_builder(&limits).serve_connection(io, service);
    tokio::pin!(connection);
    tokio::select! {
        // Protocol errors (malformed requests, resets, timeouts) end this connection only;
        // hyper has already answered 400/431 where it could.
        _ = connection.as_mut() => {}
        () = wait_for_shutdown(&mut shutdown) => {
            connection.as_mut().graceful_shutdown();
            let _ = tokio::time::timeout(limits.drain, connection.as_mut()).await;
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A request head as the client wrote it: header names in their original case.
#[derive(Debug, Default, PartialEq, Eq)]
struct RawHead {
    headers: Vec<(String, Vec<u8>)>,
}

/// The TCP stream, with every byte read also fed to a [`HeadScanner`].
struct RecordingStream {
    inner: TcpStream,
    scanner: HeadScanner,
    heads: Arc<Mutex<VecDeque<RawHead>>>,
}

impl AsyncRead for RecordingStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let polled = Pin::new(&mut this.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = polled {
            let fresh = &buf.filled()[before..];
            if !fresh.is_empty() {
                this.scanner.feed(fresh, &this.heads);
            }
        }
        polled
    }
}

impl AsyncWrite for RecordingStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

/// Where the scanner is in the byte stream of a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scan {
    /// Reading a request head.
    Head,
    /// Skipping this many body bytes.
    Body(u64),
    /// Reading a chunk-size line.
    ChunkSize,
    /// Skipping this many chunk bytes.
    ChunkData(u64),
    /// Reading the CRLF after a chunk.
    ChunkEnd,
    /// Reading trailer lines up to the empty one.
    Trailers,
    /// Lost (something hyper will reject, or a tunnel): names fall back to lowercase.
    Off,
}

/// Follows HTTP/1.1 framing just enough to record each request head's header names as sent
/// (hyper keeps only lowercase names). If it ever disagrees with hyper, the gateway notices
/// (the recorded head differs from the parsed one) and uses hyper's names.
#[derive(Debug)]
struct HeadScanner {
    state: Scan,
    /// The current head or line.
    buf: Vec<u8>,
    /// Where the current line starts in `buf` (heads only).
    line_start: usize,
}

impl Default for HeadScanner {
    fn default() -> Self {
        Self {
            state: Scan::Head,
            buf: Vec::new(),
            line_start: 0,
        }
    }
}

impl HeadScanner {
    fn feed(&mut self, mut data: &[u8], heads: &Mutex<VecDeque<RawHead>>) {
        while !data.is_empty() {
            match self.state {
                Scan::Off => return,
                Scan::Body(left) | Scan::ChunkData(left) => {
                    let take = usize::try_from(left).unwrap_or(usize::MAX).min(data.len());
                    data = &data[take..];
                    let left = left - take as u64;
                    self.state = match (self.state, left) {
                        (Scan::Body(_), 0) => Scan::Head,
                        (Scan::Body(_), left) => Scan::Body(left),
                        (_, 0) => Scan::ChunkEnd,
                        (_, left) => Scan::ChunkData(left),
                    };
                }
                Scan::Head | Scan::ChunkSize | Scan::ChunkEnd | Scan::Trailers => {
                    let Some(end) = data.iter().position(|&b| b == b'\n') else {
                        self.buf.extend_from_slice(data);
                        if self.buf.len() > MAX_HEAD_BYTES {
                            self.lose();
                        }
                        return;
                    };
                    self.buf.extend_from_slice(&data[..=end]);
                    data = &data[end + 1..];
                    if self.buf.len() > MAX_HEAD_BYTES {
                        self.lose();
                        return;
                    }
                    self.on_line(heads);
                }
            }
        }
    }

    fn lose(&mut self) {
        self.state = Scan::Off;
        self.buf = Vec::new();
    }

    /// A line ended at the end of `buf`.
    fn on_line(&mut self, heads: &Mutex<VecDeque<RawHead>>) {
        let line = trim_line_end(&self.buf[self.line_start..]);
        match self.state {
            Scan::Head => {
                if !line.is_empty() {
                    self.line_start = self.buf.len();
                    return;
                }
                if self.line_start == 0 {
                    // Empty lines before a request line are allowed and ignored.
                    self.buf.clear();
                    return;
                }
                let parsed = parse_head(&self.buf[..self.line_start]);
                self.buf.clear();
                self.line_start = 0;
                match parsed {
                    Some((head, next)) => {
                        lock(heads).push_back(head);
                        self.state = next;
                    }
                    None => self.lose(),
                }
            }
            Scan::ChunkSize => {
                let size = parse_chunk_size(line);
                self.buf.clear();
                self.state = match size {
                    Some(0) => Scan::Trailers,
                    Some(n) => Scan::ChunkData(n),
                    None => Scan::Off,
                };
            }
            Scan::ChunkEnd => {
                let empty = line.is_empty();
                self.buf.clear();
                self.state = if empty { Scan::ChunkSize } else { Scan::Off };
            }
            Scan::Trailers => {
                let empty = line.is_empty();
                self.buf.clear();
                if empty {
                    self.state = Scan::Head;
                }
            }
            Scan::Body(_) | Scan::ChunkData(_) | Scan::Off => {}
        }
    }
}

fn trim_line_end(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

fn trim_ows(mut value: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = value {
        value = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = value {
        value = rest;
    }
    value
}

fn parse_chunk_size(line: &[u8]) -> Option<u64> {
    let digits = line
        .split(|&b| b == b';' || b == b' ' || b == b'\t')
        .next()?;
    u64::from_str_radix(std::str::from_utf8(digits).ok()?, 16).ok()
}

/// The header names and values of a request head (request line and header lines, without
/// the final empty line), and what follows it on the wire.
fn parse_head(head: &[u8]) -> Option<(RawHead, Scan)> {
    let mut lines = head.split(|&b| b == b'\n').map(trim_line_end);
    let request_line = lines.next()?;
    let method = request_line.split(|&b| b == b' ').next()?;
    let mut headers = Vec::new();
    let mut content_length: Option<u64> = None;
    let mut transfer_encoding: Option<bool> = None;
    for line in lines {
        if line.is_empty() {
            continue;
        }
        if matches!(line[0], b' ' | b'\t') {
            // Obsolete line folding: hyper rejects it.
            return None;
        }
        let colon = line.iter().position(|&b| b == b':')?;
        let name = std::str::from_utf8(&line[..colon]).ok()?;
        if name.is_empty() || name.bytes().any(|b| b.is_ascii_whitespace()) {
            return None;
        }
        let value = trim_ows(&line[colon + 1..]);
        if name.eq_ignore_ascii_case("content-length") {
            let n: u64 = std::str::from_utf8(value).ok()?.trim().parse().ok()?;
            if content_length.is_some_and(|c| c != n) {
                return None;
            }
            content_length = Some(n);
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            let last = std::str::from_utf8(value).ok()?.rsplit(',').next()?.trim();
            transfer_encoding = Some(last.eq_ignore_ascii_case("chunked"));
        }
        headers.push((name.to_owned(), value.to_vec()));
    }
    let next = if method == b"CONNECT" {
        Scan::Off
    } else {
        match (transfer_encoding, content_length) {
            (Some(true), _) => Scan::ChunkSize,
            (Some(false), _) => Scan::Off,
            (None, Some(n)) if n > 0 => Scan::Body(n),
            (None, _) => Scan::Head,
        }
    };
    Some((RawHead { headers }, next))
}

/// A request target for the terminal: query values may be secrets (task tokens, signed
/// links), so only the parameter names are shown.
fn redact_query(target: &str) -> String {
    let Some((path, query)) = target.split_once('?') else {
        return target.to_owned();
    };
    let names: Vec<String> = query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| match pair.split_once('=') {
            Some((name, _)) => format!("{name}=…"),
            None => pair.to_owned(),
        })
        .collect();
    format!("{path}?{}", names.join("&"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    const CLOUDFRONT: &str =
        include_str!("../../framework/tests/fixtures/events/rest_v1_cloudfront.json");
    const CONSOLE: &str =
        include_str!("../../framework/tests/fixtures/events/rest_v1_console.json");

    const CONFIG: &str = r#"
[app]
name = "shop"

[api]
binary_media_types = ["image/*", "application/octet-stream"]
cors = { allow_origin = "https://shop.example.com" }

[[api_keys]]
name = "partner"
value = "partner-key-0123456789"

[[api_keys]]
name = "outsider"
value = "outsider-key-012345678"

[[usage_plans]]
name = "basic"
throttle = { rate = 0.001, burst = 2 }
quota = { limit = 100, period = "DAY" }
api_keys = ["partner"]
"#;

    fn manifest() -> Manifest {
        serde_json::from_value(serde_json::json!({
            "manifest_version": 1,
            "entry_points": ["api"],
            "entry_point_variable": "PORTICO_ENTRY_POINT",
            "routes": [
                {"name": "index", "method": "GET", "path": "/", "options": {"api_key_required": false}},
                {"name": "get_user", "method": "GET", "path": "/users/{id}", "options": {"api_key_required": true}},
                {"name": "put_user", "method": "PUT", "path": "/users/{id}", "options": {"api_key_required": false}},
                {"name": "me", "method": "GET", "path": "/users/me", "options": {"api_key_required": false}},
                {"name": "admin", "method": "ANY", "path": "/admin", "options": {"api_key_required": true}},
                {"name": "files", "method": "GET", "path": "/files/{path+}", "options": {"api_key_required": true}},
                {"name": "public", "method": "GET", "path": "/files/public", "options": {"api_key_required": false}}
            ],
            "schedules": []
        }))
        .unwrap()
    }

    fn gateway_config(text: &str, stage_prefix: bool) -> GatewayConfig {
        let config = Config::parse(Path::new("portico.toml"), text).unwrap();
        GatewayConfig::from_config(&config, &manifest(), "dev", stage_prefix).unwrap()
    }

    fn owned(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
            .collect()
    }

    struct EventCase<'a> {
        method: &'a str,
        path: &'a str,
        query: Option<&'a str>,
        headers: &'a [(&'a str, &'a str)],
        body: &'a [u8],
        api_key: Option<(&'a str, &'a str)>,
    }

    fn event(cfg: &GatewayConfig, case: &EventCase<'_>) -> serde_json::Value {
        let headers = event_headers(owned(case.headers), "203.0.113.42", 8000, "Root=1-x-y");
        let route = cfg.routes.find(case.method, case.path);
        let context_path = cfg.context_path(case.path);
        let input = EventInput {
            method: case.method,
            path: case.path,
            context_path: &context_path,
            query: case.query,
            headers: &headers,
            body: case.body,
            source_ip: "203.0.113.42",
            protocol: "HTTP/1.1",
            route: route.as_ref(),
            request_id: "8f0f9f49-8a4f-4b7e-9d3c-2b1a0e9f8c7d",
            extended_request_id: "Wq1xYHd2FiAEQ5A=",
            now_ms: 1_714_484_225_123,
            api_key: case.api_key,
            deployment_id: "abc123",
            fallback_host: "127.0.0.1:8000",
        };
        serde_json::from_slice(&build_event(cfg, &input).unwrap()).unwrap()
    }

    fn keys(value: &serde_json::Value) -> Vec<&str> {
        let mut keys: Vec<&str> = value
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        keys.sort_unstable();
        keys
    }

    #[test]
    fn the_event_has_the_shape_of_a_real_one() {
        let cfg = gateway_config(CONFIG, true);
        let got = event(
            &cfg,
            &EventCase {
                method: "GET",
                path: "/orders/42",
                query: Some("page=2&tag=a&tag=b"),
                headers: &[
                    ("Host", "127.0.0.1:8000"),
                    ("Accept", "text/html"),
                    ("User-Agent", "Mozilla/5.0"),
                    ("sec-ch-ua-mobile", "?0"),
                ],
                body: b"",
                api_key: None,
            },
        );
        let fixture: serde_json::Value = serde_json::from_str(CLOUDFRONT).unwrap();
        assert_eq!(keys(&got), keys(&fixture));
        let mut context = keys(&got["requestContext"]);
        context.retain(|k| *k != "deploymentId");
        assert_eq!(context, keys(&fixture["requestContext"]));
        assert_eq!(
            keys(&got["requestContext"]["identity"]),
            keys(&fixture["requestContext"]["identity"])
        );
        for key in [
            "cognitoIdentityPoolId",
            "accountId",
            "caller",
            "user",
            "userArn",
            "accessKey",
        ] {
            assert!(got["requestContext"]["identity"][key].is_null(), "{key}");
        }

        assert_eq!(got["resource"], "/{proxy+}");
        assert_eq!(got["path"], "/orders/42");
        assert_eq!(got["httpMethod"], "GET");
        assert_eq!(
            got["pathParameters"],
            serde_json::json!({"proxy": "orders/42"})
        );
        assert!(got["stageVariables"].is_null());
        assert!(got["body"].is_null());
        assert_eq!(got["isBase64Encoded"], false);
        assert_eq!(
            got["queryStringParameters"],
            serde_json::json!({"page": "2", "tag": "b"})
        );
        assert_eq!(
            got["multiValueQueryStringParameters"],
            serde_json::json!({"page": ["2"], "tag": ["a", "b"]})
        );
        // Case as sent; the gateway's own headers added.
        assert_eq!(got["headers"]["User-Agent"], "Mozilla/5.0");
        assert_eq!(got["headers"]["sec-ch-ua-mobile"], "?0");
        assert_eq!(got["headers"]["X-Forwarded-For"], "203.0.113.42");
        assert_eq!(got["headers"]["X-Forwarded-Port"], "8000");
        assert_eq!(got["headers"]["X-Forwarded-Proto"], "http");
        assert_eq!(got["headers"]["X-Amzn-Trace-Id"], "Root=1-x-y");
        assert_eq!(
            got["multiValueHeaders"]["Accept"],
            serde_json::json!(["text/html"])
        );

        let ctx = &got["requestContext"];
        assert_eq!(ctx["path"], "/dev/orders/42");
        assert_eq!(ctx["stage"], "dev");
        assert_eq!(ctx["resourcePath"], "/{proxy+}");
        assert_eq!(ctx["httpMethod"], "GET");
        assert_eq!(ctx["requestId"], "8f0f9f49-8a4f-4b7e-9d3c-2b1a0e9f8c7d");
        assert_eq!(ctx["extendedRequestId"], "Wq1xYHd2FiAEQ5A=");
        assert_eq!(ctx["requestTimeEpoch"], 1_714_484_225_123_i64);
        assert_eq!(ctx["requestTime"], "30/Apr/2024:13:37:05 +0000");
        assert_eq!(ctx["protocol"], "HTTP/1.1");
        assert_eq!(ctx["domainName"], "127.0.0.1:8000");
        assert_eq!(ctx["domainPrefix"], "127");
        assert_eq!(ctx["accountId"], ACCOUNT_ID);
        assert_eq!(ctx["apiId"].as_str().unwrap().len(), 10);
        assert_eq!(ctx["resourceId"].as_str().unwrap().len(), 6);
        assert_eq!(ctx["identity"]["sourceIp"], "203.0.113.42");
        assert_eq!(ctx["identity"]["userAgent"], "Mozilla/5.0");
    }

    #[test]
    fn the_root_is_its_own_resource_without_path_parameters() {
        let cfg = gateway_config(CONFIG, true);
        let got = event(
            &cfg,
            &EventCase {
                method: "GET",
                path: "/",
                query: None,
                headers: &[],
                body: b"",
                api_key: None,
            },
        );
        let console: serde_json::Value = serde_json::from_str(CONSOLE).unwrap();
        assert_eq!(got["resource"], console["resource"]);
        assert!(got["pathParameters"].is_null() && console["pathParameters"].is_null());
        assert_eq!(got["requestContext"]["resourcePath"], "/");
        assert_eq!(got["requestContext"]["path"], "/dev/");
        assert!(got["queryStringParameters"].is_null());
        assert!(got["multiValueQueryStringParameters"].is_null());
        // No Host: the listener's address.
        assert_eq!(got["requestContext"]["domainName"], "127.0.0.1:8000");
        assert!(got["requestContext"]["identity"]["userAgent"].is_null());
    }

    #[test]
    fn paths_keep_their_encoding_and_query_parameters_are_decoded() {
        // As AWS: `path` and `pathParameters` as sent, the query decoded (`+` is a space).
        let cfg = gateway_config(CONFIG, true);
        let got = event(
            &cfg,
            &EventCase {
                method: "GET",
                path: "/api/user/test%2Balias@gmail.com/plus/test+alias@gmail.com/",
                query: Some(
                    "email=test%2Balias@gmail.com&plus=test+alias@gmail.com&whitespace=foo%20bar&flag",
                ),
                headers: &[],
                body: b"",
                api_key: None,
            },
        );
        assert_eq!(
            got["path"],
            "/api/user/test%2Balias@gmail.com/plus/test+alias@gmail.com/"
        );
        assert_eq!(
            got["pathParameters"]["proxy"],
            "api/user/test%2Balias@gmail.com/plus/test+alias@gmail.com"
        );
        let q = &got["queryStringParameters"];
        assert_eq!(q["email"], "test+alias@gmail.com");
        assert_eq!(q["plus"], "test alias@gmail.com");
        assert_eq!(q["whitespace"], "foo bar");
        assert_eq!(q["flag"], "");
    }

    #[test]
    fn without_the_stage_prefix_the_context_path_is_the_path() {
        let cfg = gateway_config(CONFIG, false);
        assert_eq!(cfg.strip_stage("/users/42"), Some("/users/42"));
        assert_eq!(cfg.strip_stage("/"), Some("/"));
        assert_eq!(cfg.strip_stage("*"), None);
        assert_eq!(cfg.context_path("/users/42"), "/users/42");
        assert_eq!(
            cfg.base_url("127.0.0.1:8000".parse().unwrap()),
            "http://127.0.0.1:8000"
        );
        let got = event(
            &cfg,
            &EventCase {
                method: "GET",
                path: "/users/me",
                query: None,
                headers: &[],
                body: b"",
                api_key: None,
            },
        );
        assert_eq!(got["requestContext"]["path"], "/users/me");
        assert_eq!(got["requestContext"]["stage"], "dev");
    }

    #[test]
    fn the_stage_is_a_whole_first_segment() {
        let cfg = gateway_config(CONFIG, true);
        assert_eq!(cfg.strip_stage("/dev"), Some("/"));
        assert_eq!(cfg.strip_stage("/dev/"), Some("/"));
        assert_eq!(cfg.strip_stage("/dev/users/42"), Some("/users/42"));
        assert_eq!(cfg.strip_stage("/"), None);
        assert_eq!(cfg.strip_stage("/devx/users"), None);
        assert_eq!(cfg.strip_stage("/other/x"), None);
        assert_eq!(cfg.strip_stage("/Dev/x"), None);
        assert_eq!(
            cfg.base_url("127.0.0.1:8000".parse().unwrap()),
            "http://127.0.0.1:8000/dev"
        );
        assert_eq!(
            cfg.base_url("0.0.0.0:8000".parse().unwrap()),
            "http://127.0.0.1:8000/dev"
        );
        assert_eq!(
            cfg.base_url("[::1]:9000".parse().unwrap()),
            "http://[::1]:9000/dev"
        );
    }

    #[test]
    fn an_api_stage_name_overrides_the_stage() {
        let text = format!("{CONFIG}\n[stages.dev]\napi_stage = \"v1\"\n");
        let cfg = gateway_config(&text, true);
        assert_eq!(cfg.strip_stage("/v1/x"), Some("/x"));
        assert_eq!(cfg.strip_stage("/dev/x"), None);
    }

    #[test]
    fn key_required_routes_are_explicit_resources() {
        let cfg = gateway_config(CONFIG, true);
        let got = event(
            &cfg,
            &EventCase {
                method: "GET",
                path: "/users/42",
                query: None,
                headers: &[],
                body: b"",
                api_key: Some(("partner-key-0123456789", "abcdefghij")),
            },
        );
        assert_eq!(got["resource"], "/users/{id}");
        assert_eq!(got["requestContext"]["resourcePath"], "/users/{id}");
        assert_eq!(got["pathParameters"], serde_json::json!({"id": "42"}));
        assert_eq!(
            got["requestContext"]["identity"]["apiKey"],
            "partner-key-0123456789"
        );
        assert_eq!(got["requestContext"]["identity"]["apiKeyId"], "abcdefghij");

        let greedy = event(
            &cfg,
            &EventCase {
                method: "GET",
                path: "/files/a/b.txt",
                query: None,
                headers: &[],
                body: b"",
                api_key: None,
            },
        );
        assert_eq!(greedy["resource"], "/files/{path+}");
        assert_eq!(
            greedy["pathParameters"],
            serde_json::json!({"path": "a/b.txt"})
        );
    }

    #[test]
    fn key_required_matching_follows_the_app_router() {
        let cfg = gateway_config(CONFIG, true);
        let required = |method: &str, path: &str| {
            cfg.routes
                .find(method, path)
                .is_some_and(|m| m.key_required)
        };
        assert!(required("GET", "/users/42"));
        assert!(required("GET", "/users/42/"));
        assert!(required("HEAD", "/users/42"), "HEAD is served by GET");
        assert!(!required("PUT", "/users/42"));
        assert!(
            !required("DELETE", "/users/42"),
            "no such method: the app answers 405"
        );
        // A static segment beats a parameter.
        assert!(!required("GET", "/users/me"));
        // ANY covers every method.
        for method in ["GET", "POST", "DELETE", "OPTIONS"] {
            assert!(required(method, "/admin"), "{method}");
        }
        assert!(required("GET", "/files/a/b"));
        assert!(!required("GET", "/files/public"));
        assert!(!required("GET", "/"));
        assert!(!required("GET", "/nowhere"));
    }

    #[test]
    fn binary_bodies_are_base64_by_content_type() {
        let cfg = gateway_config(CONFIG, true);
        let png = event(
            &cfg,
            &EventCase {
                method: "POST",
                path: "/upload",
                query: None,
                headers: &[("Content-Type", "image/png"), ("Content-Length", "4")],
                body: &[0x89, b'P', b'N', b'G'],
                api_key: None,
            },
        );
        assert_eq!(png["isBase64Encoded"], true);
        assert_eq!(png["body"], "iVBORw==");
        assert!(
            png["headers"].get("Content-Length").is_none(),
            "framing headers are dropped"
        );

        let json = event(
            &cfg,
            &EventCase {
                method: "POST",
                path: "/upload",
                query: None,
                headers: &[("Content-Type", "application/json; charset=utf-8")],
                body: br#"{"a":1}"#,
                api_key: None,
            },
        );
        assert_eq!(json["isBase64Encoded"], false);
        assert_eq!(json["body"], r#"{"a":1}"#);

        let everything = vec!["*/*".to_owned()];
        assert!(apigw::is_binary_media_type("application/json", &everything));
        assert!(apigw::is_binary_media_type(
            "Image/PNG",
            &["image/*".to_owned()]
        ));
        assert!(!apigw::is_binary_media_type(
            "text/plain",
            &["image/*".to_owned()]
        ));
        assert!(!apigw::is_binary_media_type("", &everything));
        assert!(apigw::is_binary_media_type(
            "application/vnd.ms-excel",
            &["application/vnd.*".to_owned()]
        ));
    }

    #[test]
    fn request_headers_are_adjusted_like_aws() {
        let got = event_headers(
            owned(&[
                ("authorization", "Bearer x"),
                ("user-agent", "curl/8"),
                ("Connection", "keep-alive"),
                ("X-Forwarded-For", "198.51.100.7"),
                ("X-Forwarded-Port", "1"),
                ("Cookie", "a=1"),
                ("cookie", "b=2"),
            ]),
            "203.0.113.42",
            8000,
            "Root=1-a-b",
        );
        let grouped = apigw::group_headers(got);
        let names: Vec<&str> = grouped.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "Authorization",
                "User-Agent",
                "X-Forwarded-For",
                "Cookie",
                "X-Forwarded-Port",
                "X-Forwarded-Proto",
                "X-Amzn-Trace-Id"
            ]
        );
        assert_eq!(grouped[2].1, ["198.51.100.7, 203.0.113.42"]);
        assert_eq!(grouped[3].1, ["a=1", "b=2"]);
        assert_eq!(grouped[4].1, ["8000"]);
    }

    fn proxy(json: &str) -> Result<ProxyResponse, BadResponse> {
        parse_proxy_response(json.as_bytes(), false)
    }

    #[test]
    fn proxy_responses_merge_multi_value_headers() {
        let got = proxy(
            r#"{"statusCode": 201, "headers": {"X-One": "1", "Set-Cookie": "lost=1", "X-Flag": true},
                "multiValueHeaders": {"set-cookie": ["a=1", "b=2"], "X-Many": ["x", "y"]},
                "body": "hi", "isBase64Encoded": false}"#,
        )
        .unwrap();
        assert_eq!(got.status, StatusCode::CREATED);
        assert_eq!(got.body, Bytes::from_static(b"hi"));
        let find = |name: &str| {
            got.headers
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.clone())
        };
        assert_eq!(find("x-one").unwrap(), ["1"]);
        assert_eq!(find("x-flag").unwrap(), ["true"]);
        assert_eq!(find("set-cookie").unwrap(), ["a=1", "b=2"]);
        assert_eq!(find("x-many").unwrap(), ["x", "y"]);

        let http = proxy_into_http(got).unwrap();
        let cookies: Vec<&str> = http
            .headers()
            .get_all("set-cookie")
            .iter()
            .map(|v| v.to_str().unwrap())
            .collect();
        assert_eq!(cookies, ["a=1", "b=2"]);
        assert_eq!(http.headers()["content-type"], "application/json");
    }

    #[test]
    fn every_field_of_a_proxy_response_is_optional() {
        let got = proxy("{}").unwrap();
        assert_eq!(got.status, StatusCode::OK);
        assert!(got.body.is_empty() && got.headers.is_empty());
        assert_eq!(
            proxy(r#"{"statusCode": "404"}"#).unwrap().status,
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            proxy(r#"{"statusCode": 200.0, "body": null}"#)
                .unwrap()
                .status,
            StatusCode::OK
        );
    }

    #[test]
    fn malformed_proxy_responses_are_rejected() {
        for bad in [
            "not json",
            "[]",
            "\"text\"",
            r#"{"statusCode": 200, "wrongValue": "value"}"#,
            r#"{"statusCode": "abc"}"#,
            r#"{"statusCode": 99}"#,
            r#"{"statusCode": 700}"#,
            r#"{"statusCode": -1}"#,
            r#"{"statusCode": true}"#,
            r#"{"body": {"a": 1}}"#,
            r#"{"body": 5}"#,
            r#"{"headers": {"X": 5}}"#,
            r#"{"headers": ["x"]}"#,
            r#"{"multiValueHeaders": {"X": [{"a": 1}]}}"#,
            r#"{"isBase64Encoded": "yes"}"#,
            r#"{"errorMessage": "boom", "errorType": "Error"}"#,
        ] {
            assert!(
                matches!(proxy(bad), Err(BadResponse::Malformed(_))),
                "{bad}"
            );
        }
        assert!(matches!(
            proxy(r#"{"body": "%%%", "isBase64Encoded": true}"#),
            Err(BadResponse::Base64(_))
        ));
        // Invalid header names or values only show when building the HTTP response.
        let bad_name = proxy(r#"{"headers": {"bad name": "x"}}"#).unwrap();
        assert!(proxy_into_http(bad_name).is_err());
        let bad_value = proxy(r#"{"headers": {"X": "a\nb"}}"#).unwrap();
        assert!(proxy_into_http(bad_value).is_err());
    }

    #[test]
    fn base64_bodies_are_decoded_for_binary_accept_types() {
        let json = r#"{"statusCode": 200, "headers": {"Content-Type": "image/png"}, "body": "iVBORw==", "isBase64Encoded": true}"#;
        let binary = parse_proxy_response(json.as_bytes(), true).unwrap();
        assert_eq!(&binary.body[..], &[0x89, b'P', b'N', b'G']);
        // Like AWS, without a binary Accept the client gets the base64 text.
        let text = parse_proxy_response(json.as_bytes(), false).unwrap();
        assert_eq!(&text.body[..], b"iVBORw==");
        // Unpadded base64 is accepted.
        let unpadded = r#"{"body": "iVBORw", "isBase64Encoded": true}"#;
        assert_eq!(
            parse_proxy_response(unpadded.as_bytes(), true)
                .unwrap()
                .body
                .len(),
            4
        );

        let types = vec!["image/*".to_owned()];
        let accept = |v: &str| accepts_binary(&owned(&[("Accept", v)]), &types);
        assert!(accept("image/png"));
        assert!(accept("image/webp,*/*;q=0.8"));
        assert!(!accept("text/html,image/png"), "only the first type counts");
        assert!(!accepts_binary(&[], &types));
    }

    #[test]
    fn remapped_and_hop_by_hop_response_headers() {
        let got = proxy(
            r#"{"headers": {"WWW-Authenticate": "Basic", "Content-Length": "3", "Transfer-Encoding": "chunked", "Content-Type": "text/plain"}}"#,
        )
        .unwrap();
        let http = proxy_into_http(got).unwrap();
        let h = http.headers();
        assert_eq!(h["x-amzn-remapped-www-authenticate"], "Basic");
        assert_eq!(h["x-amzn-remapped-content-length"], "3");
        assert!(!h.contains_key("www-authenticate"));
        assert!(!h.contains_key("transfer-encoding"));
        assert_eq!(h["content-type"], "text/plain");
    }

    #[test]
    fn gateway_errors_are_awss_bytes() {
        assert_eq!(GatewayError::Forbidden.body(), r#"{"message":"Forbidden"}"#);
        assert_eq!(
            GatewayError::IntegrationFailure.body(),
            r#"{"message": "Internal server error"}"#
        );
        assert_eq!(
            GatewayError::IntegrationTimeout.body().len(),
            41,
            "AWS sends Content-Length 41"
        );
        for error in [
            GatewayError::MissingAuthenticationToken,
            GatewayError::Forbidden,
            GatewayError::Throttled,
            GatewayError::QuotaExceeded,
            GatewayError::RequestTooLarge,
            GatewayError::HeadersTooLarge,
            GatewayError::RequestTimeout,
            GatewayError::BadRequest,
            GatewayError::IntegrationFailure,
            GatewayError::ConfigurationError,
            GatewayError::IntegrationTimeout,
        ] {
            let parsed: serde_json::Value = serde_json::from_str(error.body()).unwrap();
            assert!(parsed["message"].is_string(), "{error:?}");
        }
    }

    #[test]
    fn request_times_and_ids_have_aws_formats() {
        assert_eq!(
            format_request_time(1_714_484_225_123),
            "30/Apr/2024:13:37:05 +0000"
        );
        assert_eq!(format_request_time(0), "01/Jan/1970:00:00:00 +0000");
        let ids = Ids::new();
        let uuid = ids.uuid();
        assert_eq!(uuid.len(), 36);
        assert_eq!(&uuid[14..15], "4");
        assert!(matches!(&uuid[19..20], "8" | "9" | "a" | "b"));
        assert_ne!(ids.uuid(), uuid);
        assert_eq!(ids.apigw_id().len(), 16);
        let trace = ids.trace_id(1_714_484_225_123);
        assert!(trace.starts_with("Root=1-6630f401-"), "{trace}");
        assert_eq!(
            trace.len(),
            "Root=1-6630f2a1-4b1e0c2d7f9a3e5b6c8d0e1f".len()
        );
        assert_eq!(
            apigw::domain_prefix("a1b2.execute-api.eu-central-1.amazonaws.com"),
            "a1b2"
        );
        assert_eq!(apigw::domain_prefix("localhost:8000"), "localhost");
        assert_eq!(apigw::domain_prefix("[::1]:8000"), "[::1]");
    }

    #[test]
    fn the_scanner_records_header_case_across_keep_alive_bodies() {
        let heads = Mutex::new(VecDeque::new());
        let mut scanner = HeadScanner::default();
        let wire = b"\r\nPOST /dev/a HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nX-Mixed-Case: 1\r\n\r\nhello\
GET /dev/b HTTP/1.1\r\nhost: x\r\nTransfer-Encoding: chunked\r\n\r\n3;ext=1\r\nabc\r\n0\r\nTrailer-X: t\r\n\r\n\
GET /dev/c HTTP/1.1\nUser-AGENT:  curl \n\n";
        // Byte by byte: reads can split anywhere.
        for b in wire {
            scanner.feed(std::slice::from_ref(b), &heads);
        }
        let heads: Vec<RawHead> = heads.into_inner().unwrap().into();
        let names: Vec<Vec<&str>> = heads
            .iter()
            .map(|h| h.headers.iter().map(|(n, _)| n.as_str()).collect())
            .collect();
        assert_eq!(
            names,
            [
                vec!["Host", "Content-Length", "X-Mixed-Case"],
                vec!["host", "Transfer-Encoding"],
                vec!["User-AGENT"],
            ]
        );
        assert_eq!(heads[2].headers[0].1, b"curl");
        assert_eq!(scanner.state, Scan::Head);

        let lost = Mutex::new(VecDeque::new());
        let mut scanner = HeadScanner::default();
        scanner.feed(
            b"GET / HTTP/1.1\r\n folded: x\r\n\r\nGET / HTTP/1.1\r\n\r\n",
            &lost,
        );
        assert_eq!(scanner.state, Scan::Off);
        assert!(lost.lock().unwrap().is_empty());
    }

    // --- The server, over real sockets, with a fake function. ---

    type Reply = Arc<dyn Fn(&serde_json::Value) -> InvokeOutcome + Send + Sync>;

    struct Fake {
        reply: Reply,
        delay: Duration,
    }

    impl Invoke for Fake {
        fn invoke<'a>(
            &'a self,
            _function: &'a str,
            payload: Bytes,
            deadline: Duration,
        ) -> Pin<Box<dyn Future<Output = InvocationResult> + Send + 'a>> {
            Box::pin(async move {
                let started = Instant::now();
                let event: serde_json::Value = serde_json::from_slice(&payload).unwrap();
                // The reply first (tests watch for the call), then the function's run time.
                let outcome = if self.delay >= deadline {
                    tokio::time::sleep(deadline).await;
                    InvokeOutcome::Timeout
                } else {
                    let outcome = (self.reply)(&event);
                    tokio::time::sleep(self.delay).await;
                    outcome
                };
                InvocationResult {
                    request_id: "lambda-request".to_owned(),
                    outcome,
                    duration: started.elapsed(),
                }
            })
        }
    }

    /// The function of the tests: echoes the event it got as its body.
    fn echo() -> Reply {
        Arc::new(|event| {
            let reply = serde_json::json!({
                "statusCode": 200,
                "headers": {"Content-Type": "application/json"},
                "body": event.to_string(),
            });
            InvokeOutcome::Response(Bytes::from(reply.to_string()))
        })
    }

    struct Server {
        addr: SocketAddr,
        stop: watch::Sender<bool>,
        task: tokio::task::JoinHandle<()>,
        lines: Arc<Mutex<Vec<String>>>,
    }

    async fn start(cfg: GatewayConfig, reply: Reply, delay: Duration) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&lines);
        let keys = ApiKeys::from_pairs(&[
            ("partner", "partner-key-0123456789"),
            ("outsider", "outsider-key-012345678"),
        ]);
        let gateway = Gateway::with_invoker(
            cfg,
            Arc::new(Fake { reply, delay }),
            Arc::new(Store::in_memory()),
            keys,
            Arc::new(move |line: &str| sink.lock().unwrap().push(line.to_owned())),
        );
        let (stop, rx) = watch::channel(false);
        let task = tokio::spawn(serve(listener, Arc::new(gateway), rx));
        Server {
            addr,
            stop,
            task,
            lines,
        }
    }

    fn test_config() -> GatewayConfig {
        let mut cfg = gateway_config(CONFIG, true);
        cfg.limits = Limits {
            header_read: Duration::from_millis(300),
            body_read: Duration::from_millis(300),
            drain: Duration::from_millis(200),
        };
        cfg
    }

    /// A response as read off the wire.
    #[derive(Debug)]
    struct Reply1 {
        status: u16,
        head: String,
        body: Vec<u8>,
    }

    impl Reply1 {
        fn header(&self, name: &str) -> Option<&str> {
            self.head.lines().find_map(|line| {
                let (n, v) = line.split_once(':')?;
                n.eq_ignore_ascii_case(name).then(|| v.trim())
            })
        }

        fn json(&self) -> serde_json::Value {
            serde_json::from_slice(&self.body).unwrap()
        }
    }

    /// Reads one response with a Content-Length body.
    async fn read_response(stream: &mut TcpStream) -> Reply1 {
        let mut buf = Vec::new();
        let mut byte = [0u8; 1];
        while !buf.ends_with(b"\r\n\r\n") {
            let n = stream.read(&mut byte).await.unwrap();
            assert_eq!(
                n,
                1,
                "connection closed mid-head: {:?}",
                String::from_utf8_lossy(&buf)
            );
            buf.push(byte[0]);
        }
        let head = String::from_utf8(buf).unwrap();
        let status = head[9..12].parse().unwrap();
        let length: usize = head
            .lines()
            .find_map(|l| {
                let (n, v) = l.split_once(':')?;
                n.eq_ignore_ascii_case("content-length")
                    .then(|| v.trim().parse().unwrap())
            })
            .unwrap_or(0);
        let mut body = vec![0; length];
        stream.read_exact(&mut body).await.unwrap();
        Reply1 { status, head, body }
    }

    async fn exchange(addr: SocketAddr, request: &[u8]) -> Reply1 {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        stream.write_all(request).await.unwrap();
        read_response(&mut stream).await
    }

    async fn get(addr: SocketAddr, path: &str, extra: &str) -> Reply1 {
        let request = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n{extra}\r\n");
        exchange(addr, request.as_bytes()).await
    }

    async fn stop(server: Server) {
        server.stop.send(true).unwrap();
        tokio::time::timeout(Duration::from_secs(5), server.task)
            .await
            .expect("serve stops on shutdown")
            .unwrap();
    }

    #[tokio::test]
    async fn serves_events_with_header_case_over_keep_alive() {
        let server = start(test_config(), echo(), Duration::ZERO).await;
        let mut stream = TcpStream::connect(server.addr).await.unwrap();
        stream
            .write_all(b"POST /dev/users?x=1 HTTP/1.1\r\nHost: localhost\r\nX-Custom-CASE: a\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello")
            .await
            .unwrap();
        let first = read_response(&mut stream).await;
        assert_eq!(first.status, 200, "{first:?}");
        let event = first.json();
        assert_eq!(event["headers"]["X-Custom-CASE"], "a");
        assert_eq!(event["body"], "hello");
        assert_eq!(event["path"], "/users");
        assert_eq!(event["requestContext"]["path"], "/dev/users");
        assert_eq!(event["queryStringParameters"]["x"], "1");
        assert_eq!(event["requestContext"]["domainName"], "localhost");
        assert_eq!(first.header("content-type"), Some("application/json"));
        assert_eq!(
            first.header("x-amzn-RequestId"),
            event["requestContext"]["requestId"].as_str()
        );
        assert_eq!(
            first.header("x-amz-apigw-id"),
            event["requestContext"]["extendedRequestId"].as_str()
        );

        stream
            .write_all(b"GET /dev/ HTTP/1.1\r\nhOsT: localhost\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n")
            .await
            .unwrap();
        let second = read_response(&mut stream).await;
        let event = second.json();
        assert_eq!(event["headers"]["hOsT"], "localhost");
        assert_eq!(event["resource"], "/");
        assert_eq!(event["body"], "hi");

        let lines = server.lines.lock().unwrap().clone();
        assert_eq!(lines.len(), 2, "{lines:?}");
        assert!(
            lines[0].starts_with("API POST /dev/users?x=… -> 200 in "),
            "{lines:?}"
        );
        stop(server).await;
    }

    #[test]
    fn runs_of_slashes_are_merged() {
        assert_eq!(merge_slashes("/dev/requests"), "/dev/requests");
        assert_eq!(merge_slashes("/dev//requests"), "/dev/requests");
        assert_eq!(merge_slashes("//dev///requests//x/"), "/dev/requests/x/");
        assert_eq!(merge_slashes("/"), "/");
        assert_eq!(merge_slashes("//"), "/");
        assert!(matches!(
            merge_slashes("/a/b"),
            std::borrow::Cow::Borrowed(_)
        ));
    }

    #[tokio::test]
    async fn doubled_slashes_reach_the_keyed_resource_not_the_proxy() {
        let server = start(test_config(), echo(), Duration::ZERO).await;
        let addr = server.addr;
        for path in [
            "/dev//users/42",
            "/dev///users/42",
            "/dev/users//42",
            "//dev/users/42",
            "/dev//users/42//",
            "/dev//admin",
        ] {
            let reply = get(addr, path, "").await;
            assert_eq!(reply.status, 403, "{path}: {reply:?}");
            assert_eq!(reply.body, br#"{"message":"Forbidden"}"#, "{path}");
            assert_eq!(reply.header("x-amzn-ErrorType"), Some("ForbiddenException"));
        }
        let reply = get(
            addr,
            "/dev//users/42",
            "x-api-key: partner-key-0123456789\r\n",
        )
        .await;
        assert_eq!(reply.status, 200, "{reply:?}");
        let event = reply.json();
        assert_eq!(event["path"], "/users/42");
        assert_eq!(event["resource"], "/users/{id}");
        assert_eq!(event["requestContext"]["path"], "/dev/users/42");
        assert_eq!(event["pathParameters"], serde_json::json!({"id": "42"}));
        stop(server).await;
    }

    #[tokio::test]
    async fn unknown_hosts_are_forbidden() {
        let mut cfg = test_config();
        cfg = cfg.with_allowed_hosts(AllowedHosts::new(["api.shop.test"]).unwrap());
        let server = start(cfg, echo(), Duration::ZERO).await;
        let addr = server.addr;
        for host in [
            "evil.example",
            "evil.example:8000",
            "localhost.evil.example",
            "10.1.2.3",
        ] {
            let request = format!("GET /dev/users/me HTTP/1.1\r\nHost: {host}\r\n\r\n");
            let reply = exchange(addr, request.as_bytes()).await;
            assert_eq!(reply.status, 403, "{host}: {reply:?}");
            assert_eq!(reply.body, br#"{"message":"Forbidden"}"#);
            assert_eq!(reply.header("x-amzn-ErrorType"), Some("ForbiddenException"));
        }
        // An absolute-form target names the host too.
        let reply = exchange(
            addr,
            b"GET http://evil.example/dev/users/me HTTP/1.1\r\nHost: localhost\r\n\r\n",
        )
        .await;
        assert_eq!(reply.status, 403, "{reply:?}");
        let reply = exchange(
            addr,
            b"GET /dev/users/me HTTP/1.1\r\nHost: localhost\r\nHost: evil.example\r\n\r\n",
        )
        .await;
        assert_eq!(reply.status, 400, "{reply:?}");
        for host in [
            "localhost".to_owned(),
            "127.0.0.1".to_owned(),
            addr.to_string(),
            "API.shop.test:8000".to_owned(),
        ] {
            let request = format!("GET /dev/users/me HTTP/1.1\r\nHost: {host}\r\n\r\n");
            let reply = exchange(addr, request.as_bytes()).await;
            assert_eq!(reply.status, 200, "{host}: {reply:?}");
            assert_eq!(reply.json()["requestContext"]["domainName"], host.as_str());
        }
        let lines = server.lines.lock().unwrap().clone();
        assert!(
            lines
                .iter()
                .any(|l| l.contains("Host `evil.example` is not one of")),
            "{lines:?}"
        );
        stop(server).await;
    }

    #[tokio::test]
    async fn gateway_and_function_agree_on_the_key_and_the_method() {
        let seen: Arc<Mutex<Vec<serde_json::Value>>> = Arc::default();
        let record = Arc::clone(&seen);
        let recording: Reply = Arc::new(move |event| {
            record.lock().unwrap().push(event.clone());
            InvokeOutcome::Response(Bytes::from_static(br#"{"statusCode":204}"#))
        });
        let server = start(test_config(), recording, Duration::ZERO).await;
        let addr = server.addr;
        // Two keys: the function would see another value than the gateway checked.
        for extra in [
            "x-api-key: partner-key-0123456789\r\nx-api-key: outsider-key-012345678\r\n",
            "x-api-key: partner-key-0123456789\r\nX-Api-Key: partner-key-0123456789\r\n",
        ] {
            let reply = get(addr, "/dev/users/42", extra).await;
            assert_eq!(reply.status, 403, "{extra}: {reply:?}");
            assert_eq!(reply.body, br#"{"message":"Forbidden"}"#);
        }
        assert!(
            seen.lock().unwrap().is_empty(),
            "nothing reached the function"
        );
        let one = get(
            addr,
            "/dev/users/42",
            "x-api-key: partner-key-0123456789\r\n",
        )
        .await;
        assert_eq!(one.status, 204);
        assert_eq!(
            seen.lock().unwrap()[0]["requestContext"]["identity"]["apiKey"],
            "partner-key-0123456789"
        );
        // HEAD is the keyed GET's: the key is needed.
        let mut stream = TcpStream::connect(addr).await.unwrap();
        stream
            .write_all(
                b"HEAD /dev/users/42 HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
            )
            .await
            .unwrap();
        let mut head = Vec::new();
        stream.read_to_end(&mut head).await.unwrap();
        assert!(
            head.starts_with(b"HTTP/1.1 403"),
            "{}",
            String::from_utf8_lossy(&head)
        );
        // Methods the keyed resource does not declare go through its open `ANY`, as deployed:
        // the event names the resource and carries no key, and the app decides (405).
        for method in ["DELETE", "POST"] {
            let request = format!("{method} /dev/users/42 HTTP/1.1\r\nHost: localhost\r\n\r\n");
            let reply = exchange(addr, request.as_bytes()).await;
            assert_eq!(reply.status, 204, "{method}: {reply:?}");
            let event = seen.lock().unwrap().pop().unwrap();
            assert_eq!(event["httpMethod"], method);
            assert_eq!(event["resource"], "/users/{id}", "{method}");
            assert!(
                event["requestContext"]["identity"]
                    .get("apiKeyId")
                    .is_none(),
                "{method}: {event}"
            );
        }
        stop(server).await;
    }

    #[tokio::test]
    async fn paths_outside_the_stage_are_missing_authentication_token() {
        let server = start(test_config(), echo(), Duration::ZERO).await;
        for path in ["/", "/other/x", "/devx", "*"] {
            let reply = get(server.addr, path, "").await;
            assert_eq!(reply.status, 403, "{path}");
            assert_eq!(reply.body, br#"{"message":"Missing Authentication Token"}"#);
            assert_eq!(
                reply.header("x-amzn-ErrorType"),
                Some("MissingAuthenticationTokenException")
            );
            assert_eq!(reply.header("content-type"), Some("application/json"));
            assert_eq!(
                reply.header("access-control-allow-origin"),
                Some("https://shop.example.com")
            );
            assert!(reply.header("x-amzn-RequestId").is_some());
        }
        stop(server).await;
    }

    #[tokio::test]
    async fn api_keys_usage_plans_and_throttling() {
        let server = start(test_config(), echo(), Duration::ZERO).await;
        let addr = server.addr;

        let missing = get(addr, "/dev/users/42", "").await;
        assert_eq!(missing.status, 403);
        assert_eq!(missing.body, br#"{"message":"Forbidden"}"#);
        assert_eq!(
            missing.header("x-amzn-ErrorType"),
            Some("ForbiddenException")
        );
        assert_eq!(
            missing.header("access-control-allow-origin"),
            Some("https://shop.example.com")
        );

        assert_eq!(
            get(addr, "/dev/users/42", "x-api-key: wrong\r\n")
                .await
                .status,
            403
        );
        let outsider = get(
            addr,
            "/dev/users/42",
            "x-api-key: outsider-key-012345678\r\n",
        )
        .await;
        assert_eq!(outsider.status, 403, "a key in no usage plan");

        // No key needed: another method, a static sibling, the preflight with CORS.
        assert_eq!(get(addr, "/dev/users/me", "").await.status, 200);
        let preflight = exchange(
            addr,
            b"OPTIONS /dev/admin HTTP/1.1\r\nHost: localhost\r\nOrigin: https://shop.example.com\r\nAccess-Control-Request-Method: GET\r\n\r\n",
        )
        .await;
        assert_eq!(preflight.status, 200);

        // burst = 2, then the bucket is empty (rate 0.001/s).
        let key = "X-API-Key: partner-key-0123456789\r\n";
        let ok = get(addr, "/dev/users/42", key).await;
        assert_eq!(ok.status, 200);
        let event = ok.json();
        assert_eq!(event["resource"], "/users/{id}");
        assert_eq!(
            event["requestContext"]["identity"]["apiKey"],
            "partner-key-0123456789"
        );
        assert_eq!(get(addr, "/dev/admin", key).await.status, 200);
        let throttled = get(addr, "/dev/users/42", key).await;
        assert_eq!(throttled.status, 429);
        assert_eq!(throttled.body, br#"{"message":"Too Many Requests"}"#);
        assert_eq!(
            throttled.header("x-amzn-ErrorType"),
            Some("TooManyRequestsException")
        );
        stop(server).await;
    }

    #[tokio::test]
    async fn quotas_answer_limit_exceeded() {
        let text = CONFIG.replace(
            "throttle = { rate = 0.001, burst = 2 }\nquota = { limit = 100, period = \"DAY\" }",
            "quota = { limit = 1, period = \"MONTH\" }",
        );
        let mut cfg = gateway_config(&text, true);
        cfg.limits = test_config().limits;
        let server = start(cfg, echo(), Duration::ZERO).await;
        let key = "x-api-key: partner-key-0123456789\r\n";
        assert_eq!(get(server.addr, "/dev/admin", key).await.status, 200);
        let over = get(server.addr, "/dev/admin", key).await;
        assert_eq!(over.status, 429);
        assert_eq!(over.body, br#"{"message":"Limit Exceeded"}"#);
        assert_eq!(
            over.header("x-amzn-ErrorType"),
            Some("LimitExceededException")
        );
        stop(server).await;
    }

    #[tokio::test]
    async fn function_failures_are_502_and_timeouts_504() {
        let cases: Vec<(Reply, u16, &[u8])> = vec![
            (
                Arc::new(|_| {
                    InvokeOutcome::Response(Bytes::from_static(
                        b"{\"statusCode\": 200, \"body\": {}}",
                    ))
                }),
                502,
                br#"{"message": "Internal server error"}"#,
            ),
            (
                Arc::new(|_| InvokeOutcome::FunctionError {
                    error_type: "Panic".into(),
                    error_message: "boom".into(),
                }),
                502,
                br#"{"message": "Internal server error"}"#,
            ),
            (
                Arc::new(|_| InvokeOutcome::Crashed {
                    detail: "exit 101".into(),
                }),
                502,
                br#"{"message": "Internal server error"}"#,
            ),
            (
                Arc::new(|_| {
                    InvokeOutcome::Response(Bytes::from(vec![b' '; MAX_LAMBDA_PAYLOAD + 1]))
                }),
                502,
                br#"{"message": "Internal server error"}"#,
            ),
            (
                Arc::new(|_| InvokeOutcome::UnknownFunction),
                500,
                br#"{"message": "Internal server error"}"#,
            ),
        ];
        for (reply, status, body) in cases {
            let server = start(test_config(), reply, Duration::ZERO).await;
            let got = get(server.addr, "/dev/x", "").await;
            assert_eq!(got.status, status);
            assert_eq!(got.body, body);
            assert_eq!(
                got.header("x-amzn-ErrorType"),
                Some("InternalServerErrorException")
            );
            assert_eq!(
                got.header("access-control-allow-origin"),
                Some("https://shop.example.com")
            );
            stop(server).await;
        }

        let mut cfg = test_config();
        cfg.integration_timeout = Duration::from_millis(100);
        let server = start(cfg, echo(), Duration::from_secs(5)).await;
        let got = get(server.addr, "/dev/slow", "").await;
        assert_eq!(got.status, 504);
        assert_eq!(got.body, br#"{"message": "Endpoint request timed out"}"#);
        stop(server).await;
    }

    #[tokio::test]
    async fn binary_responses_follow_the_accept_header() {
        let reply: Reply = Arc::new(|_| {
            InvokeOutcome::Response(Bytes::from_static(
                br#"{"statusCode": 200, "headers": {"Content-Type": "image/png"}, "body": "iVBORw==", "isBase64Encoded": true}"#,
            ))
        });
        let server = start(test_config(), reply, Duration::ZERO).await;
        let binary = get(server.addr, "/dev/logo.png", "Accept: image/png\r\n").await;
        assert_eq!(binary.body, [0x89, b'P', b'N', b'G']);
        assert_eq!(binary.header("content-type"), Some("image/png"));
        let text = get(server.addr, "/dev/logo.png", "Accept: */*\r\n").await;
        assert_eq!(text.body, b"iVBORw==");
        let lines = server.lines.lock().unwrap().clone();
        assert!(!lines[0].contains("base64 text"), "{lines:?}");
        assert!(lines[1].contains("went out as base64 text"), "{lines:?}");
        stop(server).await;
    }

    #[tokio::test]
    async fn oversized_requests_are_refused() {
        let server = start(test_config(), echo(), Duration::ZERO).await;
        let too_long = exchange(
            server.addr,
            format!(
                "POST /dev/upload HTTP/1.1\r\nHost: localhost\r\nContent-Length: {}\r\n\r\n",
                MAX_REQUEST_BODY + 1
            )
            .as_bytes(),
        )
        .await;
        assert_eq!(too_long.status, 413);
        assert_eq!(too_long.body, br#"{"message":"Request Too Long"}"#);
        assert_eq!(too_long.header("connection"), Some("close"));

        // A chunked body that grows past the limit is cut off while it is read.
        let mut stream = TcpStream::connect(server.addr).await.unwrap();
        stream
            .write_all(
                b"POST /dev/upload HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n",
            )
            .await
            .unwrap();
        let chunk = vec![b'a'; 1 << 20];
        let writer = tokio::spawn(async move {
            for _ in 0..11 {
                let size = format!("{:x}\r\n", chunk.len());
                if stream.write_all(size.as_bytes()).await.is_err()
                    || stream.write_all(&chunk).await.is_err()
                    || stream.write_all(b"\r\n").await.is_err()
                {
                    break;
                }
            }
            stream
        });
        let mut stream = writer.await.unwrap();
        let streamed = read_response(&mut stream).await;
        assert_eq!(streamed.status, 413);

        // Headers over API Gateway's 10,240 bytes.
        let big = format!("X-Big: {}\r\n", "b".repeat(MAX_HEADER_BYTES));
        let headers = get(server.addr, "/dev/x", &big).await;
        assert_eq!(headers.status, 431);
        // Far over: hyper refuses to parse it.
        let huge = format!("X-Huge: {}\r\n", "h".repeat(MAX_HEAD_BYTES * 2));
        let mut stream = TcpStream::connect(server.addr).await.unwrap();
        let _ = stream
            .write_all(format!("GET /dev/x HTTP/1.1\r\nHost: localhost\r\n{huge}\r\n").as_bytes())
            .await;
        let mut answer = Vec::new();
        let _ = stream.read_to_end(&mut answer).await;
        assert!(
            answer.starts_with(b"HTTP/1.1 431"),
            "{:?}",
            String::from_utf8_lossy(&answer)
        );

        assert_eq!(get(server.addr, "/dev/still-up", "").await.status, 200);
        stop(server).await;
    }

    #[tokio::test]
    async fn bad_and_slow_clients_do_not_stop_the_server() {
        let server = start(test_config(), echo(), Duration::ZERO).await;
        // Malformed HTTP.
        let mut stream = TcpStream::connect(server.addr).await.unwrap();
        stream.write_all(b"THIS IS NOT HTTP\r\n\r\n").await.unwrap();
        let mut answer = Vec::new();
        let _ = stream.read_to_end(&mut answer).await;
        assert!(
            answer.is_empty() || answer.starts_with(b"HTTP/1.1 400"),
            "{answer:?}"
        );

        // Slowloris: half a head, then nothing; hyper closes after the header timeout.
        let mut slow = TcpStream::connect(server.addr).await.unwrap();
        slow.write_all(b"GET /dev/x HTTP/1.1\r\nHost: localhost\r\n")
            .await
            .unwrap();
        let mut rest = Vec::new();
        let closed =
            tokio::time::timeout(Duration::from_secs(3), slow.read_to_end(&mut rest)).await;
        assert!(closed.is_ok(), "the slow connection is closed");

        // A body that never completes.
        let stalled = exchange(
            server.addr,
            b"POST /dev/x HTTP/1.1\r\nHost: localhost\r\nContent-Length: 10\r\n\r\nabc",
        )
        .await;
        assert_eq!(stalled.status, 408);

        // A client that goes away mid-request.
        let mut gone = TcpStream::connect(server.addr).await.unwrap();
        gone.write_all(b"POST /dev/x HTTP/1.1\r\nHost: localhost\r\nContent-Length: 100\r\n\r\nab")
            .await
            .unwrap();
        drop(gone);

        // A function that answers slowly while its client disconnects.
        assert_eq!(get(server.addr, "/dev/ok", "").await.status, 200);
        stop(server).await;
    }

    #[tokio::test]
    async fn shutdown_lets_requests_in_flight_finish() {
        let invoked = Arc::new(tokio::sync::Notify::new());
        let signal = Arc::clone(&invoked);
        let inner = echo();
        let reply: Reply = Arc::new(move |event| {
            signal.notify_one();
            inner(event)
        });
        let mut cfg = test_config();
        cfg.limits.drain = Duration::from_secs(3);
        let server = start(cfg, reply, Duration::from_millis(200)).await;
        let addr = server.addr;
        let in_flight = tokio::spawn(async move { get(addr, "/dev/slow", "").await });
        tokio::time::timeout(Duration::from_secs(10), invoked.notified())
            .await
            .expect("the request reaches the function");
        server.stop.send(true).unwrap();
        assert_eq!(in_flight.await.unwrap().status, 200);
        tokio::time::timeout(Duration::from_secs(5), server.task)
            .await
            .unwrap()
            .unwrap();
        assert!(
            TcpStream::connect(addr).await.is_err(),
            "no longer listening"
        );
    }

    #[tokio::test]
    async fn serve_stops_when_the_shutdown_sender_goes_away() {
        let server = start(test_config(), echo(), Duration::ZERO).await;
        drop(server.stop);
        tokio::time::timeout(Duration::from_secs(5), server.task)
            .await
            .expect("serve returns")
            .unwrap();
    }

    #[tokio::test]
    async fn head_requests_get_no_body() {
        let server = start(test_config(), echo(), Duration::ZERO).await;
        let mut stream = TcpStream::connect(server.addr).await.unwrap();
        stream
            .write_all(
                b"HEAD /dev/x HTTP/1.1\r\nHost: localhost\r\n\r\nGET /dev/y HTTP/1.1\r\nHost: localhost\r\n\r\n",
            )
            .await
            .unwrap();
        let mut buf = vec![0u8; 4096];
        let mut got = Vec::new();
        // The HEAD response has a Content-Length but no body: the GET response follows it.
        while !String::from_utf8_lossy(&got).contains("\"/y\"") {
            let n = tokio::time::timeout(Duration::from_secs(3), stream.read(&mut buf))
                .await
                .unwrap()
                .unwrap();
            assert!(n > 0);
            got.extend_from_slice(&buf[..n]);
        }
        let text = String::from_utf8_lossy(&got);
        assert_eq!(text.matches("HTTP/1.1 200").count(), 2, "{text}");
        assert!(!text.contains("\"/x\""), "no body for HEAD: {text}");
        stop(server).await;
    }

    #[test]
    fn the_request_line_hides_query_values() {
        assert_eq!(redact_query("/dev/users/42"), "/dev/users/42");
        assert_eq!(
            redact_query("/dev/respond/succeed?taskToken=SECRET&x=1&flag"),
            "/dev/respond/succeed?taskToken=…&x=…&flag"
        );
    }
}

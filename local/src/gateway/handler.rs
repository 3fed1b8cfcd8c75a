//! The gateway's request handling: the checks API Gateway makes, in its order, the invocation,
//! and the responses the gateway makes itself.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderValue};
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use hyper::body::Incoming;

use crate::gateway::config::{
    FUNCTION, GatewayConfig, MAX_HEADER_BYTES, MAX_LAMBDA_PAYLOAD, MAX_LAMBDA_REQUEST,
    MAX_REQUEST_BODY,
};
use crate::gateway::event::{
    BadResponse, ConnInfo, EventInput, Ids, RequestIds, build_event, event_headers,
    original_headers, parse_proxy_response, proxy_into_http,
};
use crate::gateway::head::RawHead;
use crate::hosts::HostRefusal;
use crate::lambda::{InvocationResult, InvokeOutcome, LambdaHost};
use crate::logs::LogSink;
use crate::store::Store;
use crate::usage::{self, ApiKeys, Enforcer, KeyDecision};
use portico_spec::apigw::accepts_binary;

/// How the gateway reaches the function: the Lambda host, or a fake in tests.
pub(crate) trait Invoke: Send + Sync {
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
    pub(crate) cfg: GatewayConfig,
    invoker: Arc<dyn Invoke>,
    store: Arc<Store>,
    enforcer: Enforcer,
    pub(crate) ids: Ids,
    pub(crate) deployment_id: String,
    pub(crate) log: RequestLog,
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

    pub(crate) fn with_invoker(
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
    pub(crate) async fn handle(
        self: Arc<Self>,
        req: Request<Incoming>,
        raw_head: Option<RawHead>,
        conn: ConnInfo,
    ) -> Response<Full<Bytes>> {
        let started = Instant::now();
        let now_ms = crate::clock::unix_ms(SystemTime::now());
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
    pub(crate) fn error_response(&self, error: GatewayError) -> Response<Full<Bytes>> {
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

pub(crate) fn insert(headers: &mut HeaderMap, name: &'static str, value: &str) {
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

pub(crate) fn content_length(headers: &HeaderMap) -> Option<u64> {
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
    pub(crate) detail: String,
}

impl Failure {
    pub(crate) fn new(error: GatewayError, detail: String) -> Self {
        Self { error, detail }
    }
}

/// The responses API Gateway makes itself (its default gateway responses).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum GatewayError {
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
    pub(crate) fn status(self) -> StatusCode {
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
    pub(crate) fn body(self) -> &'static str {
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

    pub(crate) fn error_type(self) -> Option<&'static str> {
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

    #[test]
    fn the_request_line_hides_query_values() {
        assert_eq!(redact_query("/dev/users/42"), "/dev/users/42");
        assert_eq!(
            redact_query("/dev/respond/succeed?taskToken=SECRET&x=1&flag"),
            "/dev/respond/succeed?taskToken=…&x=…&flag"
        );
    }
}

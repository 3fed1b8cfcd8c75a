//! The request a handler sees, whatever the event source.

use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderMap, Method};

use crate::error::UrlError;

/// Shared state values, by type (what [`App::state`](crate::App::state) adds).
pub(crate) type StateMap = http::Extensions;

/// Which front door delivered a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EventSource {
    /// API Gateway REST API (payload format 1.0) proxy integration.
    RestApi,
    /// API Gateway HTTP API (payload format 2.0).
    HttpApi,
    /// Lambda function URL (same payload shape as the HTTP API's 2.0 format).
    FunctionUrl,
    /// Application Load Balancer target group.
    Alb,
}

/// What API Gateway (or another front door) says about a request: ids, stage, caller.
///
/// Extract it in a handler by naming it as an argument.
#[derive(Debug, Clone, Default)]
pub struct RequestContext {
    /// The front door's request id (`requestContext.requestId`); empty for ALB.
    pub request_id: String,
    /// The API stage (`requestContext.stage`); empty where the source has none.
    pub stage: String,
    /// The caller's IP address (`identity.sourceIp` or `http.sourceIp`).
    pub source_ip: Option<String>,
    /// The caller's user agent as the gateway saw it.
    pub user_agent: Option<String>,
    /// The domain the client called, as the front door names it (`requestContext.domainName`;
    /// API Gateway and function URLs only route the domains they serve). Never taken from the
    /// `Host` header, which the client chooses.
    pub domain_name: Option<String>,
    /// The path prefix the client's URL has before the routed path: `/prod` on an
    /// execute-api invoke URL, a base-path mapping on a custom domain, empty otherwise.
    pub base_path: String,
    /// The API id (`requestContext.apiId`).
    pub api_id: Option<String>,
    /// The AWS account that owns the API.
    pub account_id: Option<String>,
    /// Authorizer output: Cognito or JWT claims, or a Lambda authorizer's context.
    pub authorizer: Option<serde_json::Value>,
    /// Time the gateway received the request, milliseconds since the Unix epoch.
    pub request_time_epoch: Option<i64>,
    /// The API Gateway resource the request came through (REST: `resource`, e.g.
    /// `/{proxy+}` or `/requests/{id}`; HTTP API: the path of `routeKey`); `None` where the
    /// source has no resources (ALB, function URLs, an HTTP API's `$default` route).
    pub resource_path: Option<String>,
    /// The id of the API key API Gateway checked for this request
    /// (`requestContext.identity.apiKeyId`, REST APIs only).
    pub api_key_id: Option<String>,
}

/// What a request needs of the app that serves it, for the URLs it builds. The app
/// implements it; naming it here keeps this module from depending on the app's, which
/// depends on this one (through the routes).
pub(crate) trait AppLinks: Send + Sync + std::fmt::Debug {
    /// The configured public base URL, if any.
    fn public_url(&self) -> Option<&str>;
    /// The path of the route named `name` with `params` filled in.
    fn path_for(&self, name: &str, params: &[(&str, &str)]) -> Result<String, UrlError>;
}

/// An HTTP request decoded from a Lambda event.
///
/// The path never contains the API stage or a custom domain's base path: it is the path the
/// routes were declared with.
#[derive(Debug)]
pub struct Request {
    pub(crate) method: Method,
    pub(crate) path: String,
    pub(crate) query: Vec<(String, String)>,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Bytes,
    pub(crate) source: EventSource,
    pub(crate) context: Arc<RequestContext>,
    pub(crate) lambda: Option<Arc<lambda_runtime::Context>>,
    pub(crate) params: Vec<(Arc<str>, String)>,
    pub(crate) state: Arc<StateMap>,
    pub(crate) app: Option<Arc<dyn AppLinks>>,
}

impl Request {
    /// Builds a request; used by the event decoders and the test client.
    pub(crate) fn new(method: Method, path: String, source: EventSource) -> Self {
        Self {
            method,
            path,
            query: Vec::new(),
            headers: HeaderMap::new(),
            body: Bytes::new(),
            source,
            context: Arc::default(),
            lambda: None,
            params: Vec::new(),
            state: Arc::default(),
            app: None,
        }
    }

    /// The HTTP method.
    pub fn method(&self) -> &Method {
        &self.method
    }

    /// The routed path, without stage or base path, percent-decoded as API Gateway delivers it.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// Decoded query parameters in the order the source gave them; a repeated name appears
    /// once per value.
    pub fn query_pairs(&self) -> &[(String, String)] {
        &self.query
    }

    /// The first value of a query parameter.
    pub fn query(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Request headers (names are case-insensitive).
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// The body, base64-decoded when the event carried it encoded.
    pub fn body(&self) -> &Bytes {
        &self.body
    }

    /// A path parameter by name, as matched by the router.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| &**k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Which front door delivered the request.
    pub fn source(&self) -> EventSource {
        self.source
    }

    /// The gateway's request context.
    pub fn context(&self) -> &RequestContext {
        &self.context
    }

    /// The Lambda invocation context; `None` in the in-process test client unless set.
    pub fn lambda_context(&self) -> Option<&lambda_runtime::Context> {
        self.lambda.as_deref()
    }

    /// The content type's media type, lower-cased, without parameters.
    pub fn media_type(&self) -> Option<String> {
        let value = self
            .headers
            .get(http::header::CONTENT_TYPE)?
            .to_str()
            .ok()?;
        let media = value.split(';').next().unwrap_or("").trim();
        Some(media.to_ascii_lowercase())
    }

    /// The public base URL of the API, without a trailing slash: the app's configured one
    /// ([`App::public_url`](crate::App::public_url) or `PORTICO_PUBLIC_URL`) when set, else
    /// scheme, host and stage or base path as the client called it
    /// (`https://abc.execute-api.eu-west-1.amazonaws.com/prod`).
    ///
    /// The host is only ever the one the front door vouches for: `requestContext.domainName`
    /// from API Gateway (which routes only its execute-api names and mapped custom domains) or a
    /// function URL (its own domain), never the `Host` header. Behind an Application Load
    /// Balancer the `Host` header is the client's choice and there is no other: without a
    /// configured URL this is `None`.
    pub fn public_base_url(&self) -> Option<String> {
        self.public_base().ok()
    }

    fn public_base(&self) -> Result<String, UrlError> {
        public_base(
            self.app.as_ref().and_then(|app| app.public_url()),
            self.source,
            &self.context,
            self.headers.get("x-forwarded-proto"),
        )
    }

    /// The absolute public URL of the route named `name`, filling its path parameters from
    /// `params`, on [`public_base_url`](Self::public_base_url): stage prefix included exactly
    /// when the client's URL has one, the configured public URL when there is one.
    ///
    /// # Errors
    /// [`UrlError`](UrlError) when the route is unknown, a parameter is missing, the
    /// event names no host, or the only host is the client's choice (ALB) and no public URL
    /// is configured.
    pub fn url_for(&self, name: &str, params: &[(&str, &str)]) -> Result<String, UrlError> {
        let app = self.app.as_ref().ok_or(UrlError::NoApp)?;
        let path = app.path_for(name, params)?;
        let base = self.public_base()?;
        Ok(format!("{base}{path}"))
    }
}

/// Scheme, host and base path of the client's URL: the configured public URL when there is
/// one, else the domain the front door vouches for (never the `Host` header).
pub(crate) fn public_base(
    configured: Option<&str>,
    source: EventSource,
    context: &RequestContext,
    forwarded_proto: Option<&http::HeaderValue>,
) -> Result<String, UrlError> {
    if let Some(url) = configured {
        return Ok(url.to_owned());
    }
    if source == EventSource::Alb {
        return Err(UrlError::UntrustedHost);
    }
    let host = context
        .domain_name
        .as_deref()
        .filter(|h| !h.is_empty())
        .ok_or(UrlError::NoHost)?;
    let proto = forwarded_proto
        .and_then(|h| h.to_str().ok())
        .filter(|p| *p == "http" || *p == "https")
        .unwrap_or(if is_loopback(host) { "http" } else { "https" });
    Ok(format!("{proto}://{host}{}", context.base_path))
}

fn is_loopback(host: &str) -> bool {
    let name = host.rsplit_once(':').map_or(host, |(h, _)| h);
    name == "localhost" || name.starts_with("127.") || name == "[::1]"
}

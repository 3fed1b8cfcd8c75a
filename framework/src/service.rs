//! A tower `Service` (an axum `Router`, …) behind Portico's front door: [`App::service`].
//!
//! Portico decodes the event as for its own routes (the stage left out of the path, binary
//! bodies base64-decoded), builds an `http::Request<`[`ServiceBody`]`>` with a
//! [`ServiceContext`] extension, calls the service, and encodes its answer as for its own
//! routes. A service error or a panic is Portico's 500 JSON, and the next request is served.
//!
//! [`App::service`]: crate::App::service

use std::fmt;
use std::panic::{AssertUnwindSafe, Location};
use std::sync::{Arc, Mutex, PoisonError};

use bytes::Bytes;
use futures_util::FutureExt;
use http::{HeaderValue, Uri, header};
use http_body_util::{BodyExt, Full};
use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};
use tower_service::Service;

use crate::error::{HttpError, UrlError};
use crate::request::{AppLinks, EventSource, Request, RequestContext};
use crate::response::{Body, IntoResponse, Response};
use crate::route::BoxFuture;

/// The request body a service receives: the whole body, already base64-decoded.
pub type ServiceBody = Full<Bytes>;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// What Portico knows about a request it hands to the service, as a request extension:
/// the front door, the gateway's request context, the Lambda context, and the public URLs
/// (the stage prefix included exactly where the client needs it).
///
/// In an axum handler: `Extension(portico): Extension<portico::ServiceContext>`.
///
/// ```
/// use axum::{Extension, Router, routing::get};
/// use portico::ServiceContext;
///
/// async fn whoami(Extension(portico): Extension<ServiceContext>) -> String {
///     // `https://abcdef1234.execute-api.us-east-1.amazonaws.com/test/users/7`
///     portico.url("/users/7").unwrap_or_default()
/// }
///
/// let app = portico::App::new().service(Router::new().route("/whoami", get(whoami)));
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let res = portico::testing::TestClient::new(app).get("/whoami").send().await;
/// assert_eq!(res.text(), "https://abcdef1234.execute-api.us-east-1.amazonaws.com/test/users/7");
/// # });
/// ```
#[derive(Clone)]
pub struct ServiceContext {
    source: EventSource,
    context: Arc<RequestContext>,
    lambda: Option<Arc<lambda_runtime::Context>>,
    app: Arc<dyn AppLinks>,
    forwarded_proto: Option<HeaderValue>,
}

impl fmt::Debug for ServiceContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServiceContext")
            .field("source", &self.source)
            .field("context", &self.context)
            .field("lambda", &self.lambda)
            .finish_non_exhaustive()
    }
}

impl ServiceContext {
    /// Which front door delivered the request.
    pub fn source(&self) -> EventSource {
        self.source
    }

    /// The gateway's request context (request id, stage, caller, authorizer output, …).
    pub fn context(&self) -> &RequestContext {
        &self.context
    }

    /// The Lambda invocation context; `None` in the in-process test client unless set.
    pub fn lambda_context(&self) -> Option<&lambda_runtime::Context> {
        self.lambda.as_deref()
    }

    /// The public base URL of the API, without a trailing slash; see
    /// [`Request::public_base_url`] for where it comes from (never the `Host` header).
    pub fn public_base_url(&self) -> Option<String> {
        self.public_base().ok()
    }

    fn public_base(&self) -> Result<String, UrlError> {
        crate::request::public_base(
            self.app.public_url(),
            self.source,
            &self.context,
            self.forwarded_proto.as_ref(),
        )
    }

    /// The absolute public URL of `path` (a path of the service, as its routes see it,
    /// percent-encoded): [`public_base_url`](Self::public_base_url) followed by `path`.
    ///
    /// # Errors
    /// [`UrlError`] when the event names no host, or the only host is the client's choice
    /// (ALB) and no public URL is configured.
    pub fn url(&self, path: &str) -> Result<String, UrlError> {
        let base = self.public_base()?;
        let slash = if path.starts_with('/') { "" } else { "/" };
        Ok(format!("{base}{slash}{path}"))
    }

    /// The absolute public URL of the Portico route named `name` (an attribute route of the
    /// same app), as [`Request::url_for`] builds it.
    ///
    /// # Errors
    /// As [`Request::url_for`].
    pub fn url_for(&self, name: &str, params: &[(&str, &str)]) -> Result<String, UrlError> {
        let path = self.app.path_for(name, params)?;
        Ok(format!("{}{path}", self.public_base()?))
    }
}

/// The app's service, type-erased.
pub(crate) struct ServiceFallback {
    service: Box<dyn ErasedService>,
    /// Where `App::service` was called, for the manifest and messages.
    pub(crate) location: &'static Location<'static>,
}

impl fmt::Debug for ServiceFallback {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServiceFallback")
            .field("location", &self.location)
            .finish_non_exhaustive()
    }
}

impl ServiceFallback {
    pub(crate) fn new<S, B>(service: S, location: &'static Location<'static>) -> Self
    where
        S: Service<http::Request<ServiceBody>, Response = http::Response<B>>
            + Clone
            + Send
            + 'static,
        S::Future: Send + 'static,
        S::Error: Into<BoxError>,
        B: http_body::Body + Send + 'static,
        B::Data: Send,
        B::Error: Into<BoxError>,
    {
        Self {
            service: Box::new(Erased(Mutex::new(service))),
            location,
        }
    }
}

trait ErasedService: Send + Sync {
    fn call(
        &self,
        req: http::Request<ServiceBody>,
    ) -> BoxFuture<'static, Result<Response, BoxError>>;
}

/// A service behind a lock, so that services that are `Send` but not `Sync` (tower's
/// `BoxCloneService`) work: each request takes a clone, as tower's `oneshot` callers do.
struct Erased<S>(Mutex<S>);

impl<S, B> ErasedService for Erased<S>
where
    S: Service<http::Request<ServiceBody>, Response = http::Response<B>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<BoxError>,
    B: http_body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
    fn call(
        &self,
        req: http::Request<ServiceBody>,
    ) -> BoxFuture<'static, Result<Response, BoxError>> {
        let mut service = self
            .0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        Box::pin(async move {
            std::future::poll_fn(|cx| service.poll_ready(cx))
                .await
                .map_err(Into::into)?;
            let res = service.call(req).await.map_err(Into::into)?;
            let (parts, body) = res.into_parts();
            let bytes = body.collect().await.map_err(Into::into)?.to_bytes();
            Ok(Response::from_parts(parts, Body(bytes)))
        })
    }
}

/// Characters a decoded path may hold that a URI path may not (`%` is kept: HTTP API and
/// function URL paths arrive percent-encoded already).
const PATH_ESCAPES: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'`')
    .add(b'{')
    .add(b'}')
    .add(b'^')
    .add(b'|')
    .add(b'\\')
    .add(b'[')
    .add(b']');

/// The `http::Request` the service receives for `req`: method, stage-less path, query (as
/// the source decoded it, re-encoded), headers, body, and a [`ServiceContext`] extension.
fn to_http_request(req: Request) -> Result<http::Request<ServiceBody>, String> {
    let Request {
        method,
        path,
        query,
        headers,
        body,
        source,
        context,
        lambda,
        app,
        ..
    } = req;
    let mut target: String = utf8_percent_encode(&path, PATH_ESCAPES).collect();
    if !target.starts_with('/') {
        target.insert(0, '/');
    }
    if !query.is_empty() {
        target.push('?');
        let start = target.len();
        form_urlencoded::Serializer::for_suffix(&mut target, start)
            .extend_pairs(&query)
            .finish();
    }
    let uri: Uri = target
        .parse()
        .map_err(|e| format!("the request path `{path}` is not a valid URI path: {e}"))?;
    let forwarded_proto = headers.get("x-forwarded-proto").cloned();
    let mut out = http::Request::new(Full::new(body));
    *out.method_mut() = method;
    *out.uri_mut() = uri;
    *out.headers_mut() = headers;
    if let Some(app) = app {
        out.extensions_mut().insert(ServiceContext {
            source,
            context,
            lambda,
            app,
            forwarded_proto,
        });
    }
    Ok(out)
}

/// Runs the service on `req`. Never panics: a service error or panic is a 500.
pub(crate) async fn serve(service: &ServiceFallback, req: Request) -> Response {
    let location = service.location;
    let outcome = AssertUnwindSafe(async move {
        let http_req = match to_http_request(req) {
            Ok(http_req) => http_req,
            Err(why) => return Ok(HttpError::bad_request(why).into_response()),
        };
        service.service.call(http_req).await
    })
    .catch_unwind()
    .await;
    match outcome {
        Ok(Ok(mut res)) => {
            // The front door sets the length of what it sends.
            res.headers_mut().remove(header::CONTENT_LENGTH);
            res
        }
        Ok(Err(err)) => HttpError::internal(format_args!(
            "the service (App::service at {location}) failed: {err}"
        ))
        .into_response(),
        Err(panic) => HttpError::internal(format_args!(
            "the service (App::service at {location}) panicked: {}",
            crate::dispatch::panic_message(&panic)
        ))
        .into_response(),
    }
}

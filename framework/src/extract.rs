//! Extractors: typed values a handler takes as arguments.
//!
//! A handler argument named after a path parameter (`id: u64` for `/users/{id}`) is parsed
//! from the path; every other argument is an extractor implementing [`FromRequest`]. Each
//! failure is a [`Rejection`] with a stable status and JSON body.

use std::fmt;
use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderMap, Method, StatusCode};
use serde::de::DeserializeOwned;

use crate::error::HttpError;
use crate::request::{EventSource, Request, RequestContext};
use crate::response::{IntoResponse, Json, Response};
use crate::route::ScheduleInvocation;
use crate::scheduled::ScheduledEvent;

/// A value taken from the request before the handler runs.
///
/// Implement it for your own types to use them as handler arguments.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a request extractor",
    label = "this argument type does not implement `FromRequest`",
    note = "use an extractor (`Json<T>`, `Query<T>`, `Form<T>`, `HeaderMap`, `Bytes`, `State<T>`, `RequestContext`, `LambdaContext`, …), or name the argument after a path parameter"
)]
pub trait FromRequest: Sized {
    /// What a failure responds with.
    type Rejection: IntoResponse;

    /// Extracts the value. Extractors that consume the body take it out of `req`.
    ///
    /// # Errors
    /// The rejection, which becomes the response.
    fn from_request(req: &mut Request) -> Result<Self, Self::Rejection>;
}

/// A value a schedule handler takes as an argument.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be a schedule handler argument",
    note = "schedule handlers take `ScheduledEvent`, `State<T>` or `LambdaContext`"
)]
pub trait FromScheduleInvocation: Sized {
    /// Extracts the value.
    ///
    /// # Errors
    /// Reported to Lambda as a failed invocation.
    fn from_invocation(inv: &ScheduleInvocation) -> Result<Self, crate::Error>;
}

/// Why an extractor refused a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RejectionKind {
    /// A path parameter did not parse into the argument's type (400).
    InvalidPathParam,
    /// The query string did not fit the `Query<T>` type (400).
    InvalidQuery,
    /// The body's content type is not one the extractor or route accepts (415).
    UnsupportedMediaType,
    /// The JSON body is malformed or does not fit the type (400).
    InvalidJson,
    /// The form body does not fit the type (400).
    InvalidForm,
    /// The body is not UTF-8 where text was needed (400).
    InvalidUtf8,
    /// `State<T>` asked for a type the app does not share (500: a programming error).
    MissingState,
    /// The Lambda context is not available (500).
    MissingLambdaContext,
}

/// An extractor's failure: a stable status and a JSON body `{"code", "message"}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    kind: RejectionKind,
    message: String,
}

impl Rejection {
    /// A rejection of `kind` with a message for the client.
    pub fn new(kind: RejectionKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }

    /// What failed.
    pub fn kind(&self) -> RejectionKind {
        self.kind
    }

    /// The status it answers with.
    pub fn status(&self) -> StatusCode {
        match self.kind {
            RejectionKind::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            RejectionKind::MissingState | RejectionKind::MissingLambdaContext => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
            _ => StatusCode::BAD_REQUEST,
        }
    }

    /// The message for the client.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Rejection {}

impl From<Rejection> for HttpError {
    fn from(rej: Rejection) -> Self {
        if rej.status().is_server_error() {
            HttpError::internal(rej.message)
        } else {
            HttpError::new(
                rej.status(),
                crate::error::default_code(rej.status()),
                rej.message,
            )
        }
    }
}

impl IntoResponse for Rejection {
    fn into_response(self) -> Response {
        HttpError::from(self).into_response()
    }
}

pub(crate) fn parse_path_param<T>(req: &Request, name: &'static str) -> Result<T, Rejection>
where
    T: std::str::FromStr,
    T::Err: fmt::Display,
{
    let raw = req.param(name).unwrap_or_default();
    raw.parse().map_err(|err: T::Err| {
        Rejection::new(
            RejectionKind::InvalidPathParam,
            format!("invalid path parameter `{name}`: {err}"),
        )
    })
}

fn is_json(media: &str) -> bool {
    media == "application/json" || (media.starts_with("application/") && media.ends_with("+json"))
}

impl<T: DeserializeOwned> FromRequest for Json<T> {
    type Rejection = Rejection;

    fn from_request(req: &mut Request) -> Result<Self, Rejection> {
        match req.media_type() {
            Some(media) if is_json(&media) => {}
            Some(media) => {
                return Err(Rejection::new(
                    RejectionKind::UnsupportedMediaType,
                    format!("expected a JSON body (Content-Type: application/json), got `{media}`"),
                ));
            }
            None => {
                return Err(Rejection::new(
                    RejectionKind::UnsupportedMediaType,
                    "expected a JSON body (Content-Type: application/json), got no Content-Type",
                ));
            }
        }
        let body = std::mem::take(&mut req.body);
        serde_json::from_slice(&body).map(Json).map_err(|err| {
            Rejection::new(
                RejectionKind::InvalidJson,
                format!("invalid JSON body: {err}"),
            )
        })
    }
}

/// A URL-encoded form body (`application/x-www-form-urlencoded`); repeated keys fill `Vec`s.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Form<T>(pub T);

impl<T: DeserializeOwned> FromRequest for Form<T> {
    type Rejection = Rejection;

    fn from_request(req: &mut Request) -> Result<Self, Rejection> {
        let media = req.media_type();
        if media.as_deref() != Some("application/x-www-form-urlencoded") {
            return Err(Rejection::new(
                RejectionKind::UnsupportedMediaType,
                format!(
                    "expected a form body (Content-Type: application/x-www-form-urlencoded), got {}",
                    media.map_or_else(|| "no Content-Type".to_owned(), |m| format!("`{m}`"))
                ),
            ));
        }
        let body = std::mem::take(&mut req.body);
        serde_html_form::from_bytes(&body).map(Form).map_err(|err| {
            Rejection::new(
                RejectionKind::InvalidForm,
                format!("invalid form body: {err}"),
            )
        })
    }
}

/// Query string parameters deserialized into `T`; a repeated parameter fills a `Vec` field.
///
/// ```
/// #[derive(serde::Deserialize)]
/// struct Search {
///     q: String,
///     #[serde(default)]
///     tag: Vec<String>,
///     page: Option<u32>,
/// }
/// # fn _f(_: portico::Query<Search>) {}
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Query<T>(pub T);

impl<T: DeserializeOwned> FromRequest for Query<T> {
    type Rejection = Rejection;

    fn from_request(req: &mut Request) -> Result<Self, Rejection> {
        let mut encoded = form_urlencoded::Serializer::new(String::new());
        for (k, v) in &req.query {
            encoded.append_pair(k, v);
        }
        serde_html_form::from_str(&encoded.finish())
            .map(Query)
            .map_err(|err| {
                Rejection::new(
                    RejectionKind::InvalidQuery,
                    format!("invalid query string: {err}"),
                )
            })
    }
}

/// A value shared through [`App::state`](crate::App::state), cloned for the handler.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct State<T>(pub T);

impl<T: Clone + Send + Sync + 'static> FromRequest for State<T> {
    type Rejection = Rejection;

    fn from_request(req: &mut Request) -> Result<Self, Rejection> {
        state_from(&req.state)
            .map(State)
            .ok_or_else(|| missing_state::<T>())
    }
}

impl<T: Clone + Send + Sync + 'static> FromScheduleInvocation for State<T> {
    fn from_invocation(inv: &ScheduleInvocation) -> Result<Self, crate::Error> {
        state_from(&inv.state)
            .map(State)
            .ok_or_else(|| missing_state::<T>().into())
    }
}

fn state_from<T: Clone + Send + Sync + 'static>(map: &crate::request::StateMap) -> Option<T> {
    map.get::<T>().cloned()
}

fn missing_state<T>() -> Rejection {
    Rejection::new(
        RejectionKind::MissingState,
        format!(
            "no shared state of type `{}`; add it with `App::state(...)`",
            std::any::type_name::<T>()
        ),
    )
}

/// The Lambda invocation context (request id, deadline, function ARN, …).
pub type LambdaContext = lambda_runtime::Context;

impl FromRequest for LambdaContext {
    type Rejection = Rejection;

    fn from_request(req: &mut Request) -> Result<Self, Rejection> {
        req.lambda.as_deref().cloned().ok_or_else(|| {
            Rejection::new(
                RejectionKind::MissingLambdaContext,
                "the Lambda context is not available for this request",
            )
        })
    }
}

impl FromScheduleInvocation for LambdaContext {
    fn from_invocation(inv: &ScheduleInvocation) -> Result<Self, crate::Error> {
        Ok(inv.lambda.as_deref().cloned().unwrap_or_default())
    }
}

impl FromScheduleInvocation for ScheduledEvent {
    fn from_invocation(inv: &ScheduleInvocation) -> Result<Self, crate::Error> {
        Ok(inv.event.clone())
    }
}

impl FromRequest for RequestContext {
    type Rejection = std::convert::Infallible;

    fn from_request(req: &mut Request) -> Result<Self, Self::Rejection> {
        Ok(RequestContext::clone(&req.context))
    }
}

impl FromRequest for Arc<RequestContext> {
    type Rejection = std::convert::Infallible;

    fn from_request(req: &mut Request) -> Result<Self, Self::Rejection> {
        Ok(Arc::clone(&req.context))
    }
}

impl FromRequest for HeaderMap {
    type Rejection = std::convert::Infallible;

    fn from_request(req: &mut Request) -> Result<Self, Self::Rejection> {
        Ok(req.headers.clone())
    }
}

impl FromRequest for Method {
    type Rejection = std::convert::Infallible;

    fn from_request(req: &mut Request) -> Result<Self, Self::Rejection> {
        Ok(req.method.clone())
    }
}

impl FromRequest for EventSource {
    type Rejection = std::convert::Infallible;

    fn from_request(req: &mut Request) -> Result<Self, Self::Rejection> {
        Ok(req.source)
    }
}

impl FromRequest for Bytes {
    type Rejection = std::convert::Infallible;

    fn from_request(req: &mut Request) -> Result<Self, Self::Rejection> {
        Ok(std::mem::take(&mut req.body))
    }
}

/// The body as UTF-8 text.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Text(pub String);

impl FromRequest for Text {
    type Rejection = Rejection;

    fn from_request(req: &mut Request) -> Result<Self, Rejection> {
        let body = std::mem::take(&mut req.body);
        String::from_utf8(body.to_vec()).map(Text).map_err(|_| {
            Rejection::new(
                RejectionKind::InvalidUtf8,
                "the request body is not valid UTF-8",
            )
        })
    }
}

impl<T: FromRequest> FromRequest for Option<T> {
    type Rejection = std::convert::Infallible;

    fn from_request(req: &mut Request) -> Result<Self, Self::Rejection> {
        Ok(T::from_request(req).ok())
    }
}

impl<T: FromRequest> FromRequest for Result<T, T::Rejection> {
    type Rejection = std::convert::Infallible;

    fn from_request(req: &mut Request) -> Result<Self, Self::Rejection> {
        Ok(T::from_request(req))
    }
}

impl IntoResponse for std::convert::Infallible {
    fn into_response(self) -> Response {
        match self {}
    }
}

//! Typed HTTP errors with a JSON body, and the trait users' own errors implement.

use std::borrow::Cow;
use std::fmt;

use http::{HeaderValue, StatusCode, header};

use crate::response::{IntoResponse, Response, with_content_type};

/// Any error a handler or the runtime may return (`Box<dyn Error + Send + Sync>`).
///
/// As a response it is a 500 whose body does not reveal the error; the error is logged.
pub type Error = Box<dyn std::error::Error + Send + Sync + 'static>;

/// An HTTP error answered with `{"code": "...", "message": "..."}`.
///
/// The constructors cover the statuses Chalice users know: [`bad_request`](Self::bad_request)
/// (400), [`unauthorized`](Self::unauthorized) (401), [`forbidden`](Self::forbidden) (403),
/// [`not_found`](Self::not_found) (404), [`method_not_allowed`](Self::method_not_allowed)
/// (405), [`request_timeout`](Self::request_timeout) (408), [`conflict`](Self::conflict)
/// (409), [`payload_too_large`](Self::payload_too_large) (413),
/// [`unsupported_media_type`](Self::unsupported_media_type) (415),
/// [`unprocessable`](Self::unprocessable) (422), [`too_many_requests`](Self::too_many_requests)
/// (429) and [`internal`](Self::internal) (500).
///
/// ```
/// use portico::HttpError;
/// let err = HttpError::not_found("no user 42");
/// assert_eq!(err.status().as_u16(), 404);
/// assert_eq!(err.code(), "NotFoundError");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpError {
    status: StatusCode,
    code: Cow<'static, str>,
    message: String,
    allow: Option<HeaderValue>,
}

macro_rules! http_errors {
    ($($(#[$doc:meta])* $fn:ident => $status:ident, $code:literal;)*) => {
        impl HttpError {
            $(
                $(#[$doc])*
                pub fn $fn(message: impl Into<String>) -> Self {
                    Self::new(StatusCode::$status, $code, message)
                }
            )*
        }
    };
}

http_errors! {
    /// 400 Bad Request (`BadRequestError`).
    bad_request => BAD_REQUEST, "BadRequestError";
    /// 401 Unauthorized (`UnauthorizedError`).
    unauthorized => UNAUTHORIZED, "UnauthorizedError";
    /// 403 Forbidden (`ForbiddenError`).
    forbidden => FORBIDDEN, "ForbiddenError";
    /// 404 Not Found (`NotFoundError`).
    not_found => NOT_FOUND, "NotFoundError";
    /// 408 Request Timeout (`RequestTimeoutError`).
    request_timeout => REQUEST_TIMEOUT, "RequestTimeoutError";
    /// 409 Conflict (`ConflictError`).
    conflict => CONFLICT, "ConflictError";
    /// 410 Gone (`GoneError`).
    gone => GONE, "GoneError";
    /// 413 Payload Too Large (`RequestEntityTooLargeError`).
    payload_too_large => PAYLOAD_TOO_LARGE, "RequestEntityTooLargeError";
    /// 415 Unsupported Media Type (`UnsupportedMediaType`).
    unsupported_media_type => UNSUPPORTED_MEDIA_TYPE, "UnsupportedMediaType";
    /// 422 Unprocessable Entity (`UnprocessableEntityError`).
    unprocessable => UNPROCESSABLE_ENTITY, "UnprocessableEntityError";
    /// 429 Too Many Requests (`TooManyRequestsError`).
    too_many_requests => TOO_MANY_REQUESTS, "TooManyRequestsError";
}

impl HttpError {
    /// An error with any status, code and message.
    pub fn new(
        status: StatusCode,
        code: impl Into<Cow<'static, str>>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            status,
            code: code.into(),
            message: message.into(),
            allow: None,
        }
    }

    /// 405 Method Not Allowed (`MethodNotAllowedError`) with the `Allow` header listing `allowed`.
    pub fn method_not_allowed(allowed: &[&str]) -> Self {
        let list = allowed.join(", ");
        let mut err = Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "MethodNotAllowedError",
            format!("method not allowed; allowed: {list}"),
        );
        err.allow = HeaderValue::from_str(&list).ok();
        err
    }

    /// 500 Internal Server Error (`InternalServerError`). `detail` is logged, never sent:
    /// the client sees a generic message.
    pub fn internal(detail: impl fmt::Display) -> Self {
        eprintln!("portico: internal error: {detail}");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalServerError",
            "An internal server error occurred.",
        )
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The stable error code in the body.
    pub fn code(&self) -> &str {
        &self.code
    }

    /// The human-readable message in the body.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {}: {}",
            self.status.as_u16(),
            self.code,
            self.message
        )
    }
}

impl std::error::Error for HttpError {}

#[derive(serde::Serialize)]
struct ErrorBody<'a> {
    code: &'a str,
    message: &'a str,
}

impl IntoResponse for HttpError {
    fn into_response(self) -> Response {
        let body = serde_json::to_vec(&ErrorBody {
            code: &self.code,
            message: &self.message,
        })
        .unwrap_or_default();
        let mut res = with_content_type(body, "application/json");
        *res.status_mut() = self.status;
        if let Some(allow) = self.allow {
            res.headers_mut().insert(header::ALLOW, allow);
        }
        res
    }
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        HttpError::internal(self).into_response()
    }
}

/// Implement this for your own error types to return them from handlers with `?`
/// (through `Result<T, HttpError>`) or directly (`Result<T, MyError>`).
///
/// The defaults make a 500 that hides the error's text from the client and logs it.
///
/// ```
/// use portico::{HttpError, ResponseError, StatusCode};
///
/// #[derive(Debug)]
/// struct NoSuchUser(u64);
/// impl std::fmt::Display for NoSuchUser {
///     fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
///         write!(f, "no user {}", self.0)
///     }
/// }
/// impl ResponseError for NoSuchUser {
///     fn status(&self) -> StatusCode { StatusCode::NOT_FOUND }
/// }
///
/// let err: HttpError = NoSuchUser(7).into();
/// assert_eq!(err.status(), StatusCode::NOT_FOUND);
/// assert_eq!(err.message(), "no user 7");
/// ```
pub trait ResponseError: fmt::Display {
    /// The status; 500 by default.
    fn status(&self) -> StatusCode {
        StatusCode::INTERNAL_SERVER_ERROR
    }

    /// The stable error code; by default the one [`HttpError`] uses for the status.
    fn code(&self) -> Cow<'static, str> {
        Cow::Borrowed(default_code(self.status()))
    }
}

impl<E: ResponseError> From<E> for HttpError {
    fn from(err: E) -> Self {
        let status = err.status();
        if status.is_server_error() {
            // The text of a server-side error may hold internals: log it, do not send it.
            let mut e = HttpError::internal(&err);
            e.status = status;
            e.code = err.code();
            e
        } else {
            HttpError::new(status, err.code(), err.to_string())
        }
    }
}

pub(crate) fn default_code(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 => "BadRequestError",
        401 => "UnauthorizedError",
        403 => "ForbiddenError",
        404 => "NotFoundError",
        405 => "MethodNotAllowedError",
        408 => "RequestTimeoutError",
        409 => "ConflictError",
        410 => "GoneError",
        413 => "RequestEntityTooLargeError",
        415 => "UnsupportedMediaType",
        422 => "UnprocessableEntityError",
        429 => "TooManyRequestsError",
        s if s >= 500 => "InternalServerError",
        _ => "ClientError",
    }
}

/// Why [`Request::url_for`](crate::Request::url_for) could not build a URL.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum UrlError {
    /// No route has this name.
    UnknownRoute(String),
    /// The route's path needs this parameter.
    MissingParam(String),
    /// The request did not come through an app (e.g. built by hand).
    NoApp,
    /// The event names no host to build an absolute URL from.
    NoHost,
    /// The only host the event names is the client's choice (an ALB's `Host` header), and no
    /// public URL is configured.
    UntrustedHost,
}

impl fmt::Display for UrlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnknownRoute(name) => write!(f, "no route is named `{name}`"),
            Self::MissingParam(name) => write!(f, "path parameter `{name}` was not given"),
            Self::NoApp => f.write_str("the request is not attached to an app"),
            Self::NoHost => f.write_str("the event carries no domain name"),
            Self::UntrustedHost => f.write_str(
                "behind an Application Load Balancer the Host header is the client's choice; \
                 set PORTICO_PUBLIC_URL (or App::public_url) to the app's public base URL",
            ),
        }
    }
}

impl std::error::Error for UrlError {}

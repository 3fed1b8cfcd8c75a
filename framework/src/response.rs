//! Responses: the [`IntoResponse`] trait and the types handlers return.

use std::borrow::Cow;

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use serde::Serialize;

/// A response body: bytes held in memory (Lambda responses are buffered).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Body(pub Bytes);

impl Body {
    /// An empty body.
    pub fn empty() -> Self {
        Self(Bytes::new())
    }

    /// The body's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl<T: Into<Bytes>> From<T> for Body {
    fn from(value: T) -> Self {
        Self(value.into())
    }
}

/// The response type every handler's return value becomes.
pub type Response = http::Response<Body>;

/// Turns a value into a [`Response`].
///
/// Implemented for text, [`Json`], [`Html`], [`Redirect`], [`BinaryBody`], [`StatusCode`],
/// `(StatusCode, T)`, `(HeaderMap, T)`, `(StatusCode, HeaderMap, T)`, `Result<T, E>` where both
/// sides implement it, [`HttpError`](crate::HttpError) and [`crate::Error`] (a 500).
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be returned from a portico handler",
    label = "this type does not implement `IntoResponse`",
    note = "return text, `Json<T>`, `Html<T>`, `Redirect`, `StatusCode`, `(StatusCode, T)` or `Result<T, HttpError>`"
)]
pub trait IntoResponse {
    /// Builds the response.
    fn into_response(self) -> Response;
}

impl IntoResponse for Response {
    fn into_response(self) -> Response {
        self
    }
}

pub(crate) fn with_content_type(body: impl Into<Body>, content_type: &'static str) -> Response {
    let mut res = Response::new(body.into());
    res.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    res
}

impl IntoResponse for () {
    fn into_response(self) -> Response {
        Response::new(Body::empty())
    }
}

impl IntoResponse for &'static str {
    fn into_response(self) -> Response {
        with_content_type(self, "text/plain; charset=utf-8")
    }
}

impl IntoResponse for String {
    fn into_response(self) -> Response {
        with_content_type(self, "text/plain; charset=utf-8")
    }
}

impl IntoResponse for Cow<'static, str> {
    fn into_response(self) -> Response {
        match self {
            Cow::Borrowed(s) => s.into_response(),
            Cow::Owned(s) => s.into_response(),
        }
    }
}

impl IntoResponse for StatusCode {
    fn into_response(self) -> Response {
        let mut res = Response::new(Body::empty());
        *res.status_mut() = self;
        res
    }
}

impl<T: IntoResponse> IntoResponse for (StatusCode, T) {
    fn into_response(self) -> Response {
        let mut res = self.1.into_response();
        *res.status_mut() = self.0;
        res
    }
}

impl<T: IntoResponse> IntoResponse for (HeaderMap, T) {
    fn into_response(self) -> Response {
        let mut res = self.1.into_response();
        append_headers(res.headers_mut(), self.0);
        res
    }
}

impl<T: IntoResponse> IntoResponse for (StatusCode, HeaderMap, T) {
    fn into_response(self) -> Response {
        let mut res = self.2.into_response();
        *res.status_mut() = self.0;
        append_headers(res.headers_mut(), self.1);
        res
    }
}

impl<T: IntoResponse, const N: usize> IntoResponse for ([(HeaderName, HeaderValue); N], T) {
    fn into_response(self) -> Response {
        let mut res = self.1.into_response();
        for (name, value) in self.0 {
            if name == header::SET_COOKIE {
                res.headers_mut().append(name, value);
            } else {
                res.headers_mut().insert(name, value);
            }
        }
        res
    }
}

impl<T: IntoResponse, const N: usize> IntoResponse
    for (StatusCode, [(HeaderName, HeaderValue); N], T)
{
    fn into_response(self) -> Response {
        let mut res = (self.1, self.2).into_response();
        *res.status_mut() = self.0;
        res
    }
}

/// Headers given by the handler replace the body's defaults, except `Set-Cookie`, which adds.
fn append_headers(target: &mut HeaderMap, extra: HeaderMap) {
    let mut last: Option<HeaderName> = None;
    for (name, value) in extra {
        let name = match name {
            Some(name) => {
                if name != header::SET_COOKIE {
                    target.remove(&name);
                }
                last = Some(name.clone());
                name
            }
            None => last
                .clone()
                .expect("HeaderMap yields a name before its extra values"),
        };
        target.append(name, value);
    }
}

impl<T: IntoResponse, E: IntoResponse> IntoResponse for Result<T, E> {
    fn into_response(self) -> Response {
        match self {
            Ok(ok) => ok.into_response(),
            Err(err) => err.into_response(),
        }
    }
}

/// A JSON body (`application/json`); also the JSON body extractor.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Json<T>(pub T);

impl<T: Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        match serde_json::to_vec(&self.0) {
            Ok(bytes) => with_content_type(bytes, "application/json"),
            Err(err) => crate::HttpError::internal(format!("response serialization failed: {err}"))
                .into_response(),
        }
    }
}

/// An HTML body (`text/html; charset=utf-8`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Html<T>(pub T);

impl<T: Into<Body>> IntoResponse for Html<T> {
    fn into_response(self) -> Response {
        with_content_type(self.0, "text/html; charset=utf-8")
    }
}

/// A body with an explicit content type; binary bodies are base64-encoded on the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BinaryBody {
    /// The content type, e.g. `image/png`.
    pub content_type: HeaderValue,
    /// The bytes.
    pub bytes: Bytes,
}

impl BinaryBody {
    /// A body of `bytes` served as `content_type`.
    ///
    /// # Panics
    /// When `content_type` is not a valid header value.
    #[track_caller]
    pub fn new(content_type: &str, bytes: impl Into<Bytes>) -> Self {
        Self {
            content_type: HeaderValue::from_str(content_type).expect("a valid content type"),
            bytes: bytes.into(),
        }
    }
}

impl IntoResponse for BinaryBody {
    fn into_response(self) -> Response {
        let mut res = Response::new(Body(self.bytes));
        res.headers_mut()
            .insert(header::CONTENT_TYPE, self.content_type);
        res
    }
}

/// A redirect with a `Location` header.
#[derive(Debug, Clone)]
pub struct Redirect {
    status: StatusCode,
    location: HeaderValue,
}

impl Redirect {
    /// 303 See Other: the client follows with a GET (use after a form POST).
    ///
    /// # Panics
    /// When `uri` is not a valid header value.
    #[track_caller]
    pub fn to(uri: &str) -> Self {
        Self::with(StatusCode::SEE_OTHER, uri)
    }

    /// 307 Temporary Redirect: method and body are kept.
    ///
    /// # Panics
    /// When `uri` is not a valid header value.
    #[track_caller]
    pub fn temporary(uri: &str) -> Self {
        Self::with(StatusCode::TEMPORARY_REDIRECT, uri)
    }

    /// 308 Permanent Redirect.
    ///
    /// # Panics
    /// When `uri` is not a valid header value.
    #[track_caller]
    pub fn permanent(uri: &str) -> Self {
        Self::with(StatusCode::PERMANENT_REDIRECT, uri)
    }

    #[track_caller]
    fn with(status: StatusCode, uri: &str) -> Self {
        Self {
            status,
            location: HeaderValue::from_str(uri)
                .expect("a redirect location is a valid header value"),
        }
    }
}

impl IntoResponse for Redirect {
    fn into_response(self) -> Response {
        let mut res = self.status.into_response();
        res.headers_mut().insert(header::LOCATION, self.location);
        res
    }
}

/// Whether a content type is text the gateway can pass through without base64.
pub(crate) fn is_text_media_type(content_type: Option<&HeaderValue>) -> bool {
    let Some(value) = content_type.and_then(|v| v.to_str().ok()) else {
        // No content type: treat as text when it is UTF-8 (decided by the caller).
        return true;
    };
    let media = value
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    media.starts_with("text/")
        || media == "application/json"
        || media.ends_with("+json")
        || media == "application/xml"
        || media.ends_with("+xml")
        || media == "application/javascript"
        || media == "application/x-www-form-urlencoded"
        || media == "image/svg+xml"
}

/// Whether a response body must be base64-encoded on the wire.
pub(crate) fn needs_base64(res: &Response) -> bool {
    let body = res.body().as_bytes();
    if body.is_empty() {
        return false;
    }
    // A compressed body (tower-http's `CompressionLayer`, …) is bytes whatever its media type.
    let encoded = res
        .headers()
        .get(header::CONTENT_ENCODING)
        .is_some_and(|v| !v.as_bytes().eq_ignore_ascii_case(b"identity"));
    encoded
        || !is_text_media_type(res.headers().get(header::CONTENT_TYPE))
        || std::str::from_utf8(body).is_err()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_encoded_bodies_are_binary_whatever_their_media_type() {
        let json = || Json(serde_json::json!({"a": 1})).into_response();
        assert!(!needs_base64(&json()));
        let mut gzip = json();
        gzip.headers_mut()
            .insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        assert!(needs_base64(&gzip));
        let mut identity = json();
        identity.headers_mut().insert(
            header::CONTENT_ENCODING,
            HeaderValue::from_static("identity"),
        );
        assert!(!needs_base64(&identity));
    }
}

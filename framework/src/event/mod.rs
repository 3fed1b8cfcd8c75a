//! Lambda events in, Lambda responses out: every front door Portico serves.
//!
//! The hot path parses the invocation payload once, into [`RawEvent`]: a borrowing struct whose
//! fields are the union of the supported shapes (REST API payload 1.0, HTTP API payload 2.0 and
//! function URLs, ALB, EventBridge scheduled events). Which source sent the event is then decided
//! from the fields that are present, and one module per source turns it into a [`Request`]. Maps
//! whose use depends on the source (`headers` vs `multiValueHeaders`, query parameters, the
//! authorizer) are kept as raw JSON slices and parsed only when they are the ones needed. Response
//! JSON is written by hand into one buffer.

mod alb;
mod http_api;
mod rest;
mod scheduled;

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Method};
use serde::Deserialize;
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;

use crate::request::{EventSource, Request, RequestContext};
use crate::response::{Response, needs_base64};
use crate::scheduled::ScheduledEvent;

/// A decoded invocation payload.
#[derive(Debug)]
pub(crate) enum Incoming {
    /// An HTTP request, and the response format its front door expects.
    Http(Request, ReplyFormat),
    /// An EventBridge scheduled event.
    Scheduled(ScheduledEvent),
}

/// The response JSON a front door expects back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ReplyFormat {
    /// API Gateway proxy response, payload 1.0 (REST APIs, and HTTP APIs set to payload 1.0).
    RestApi,
    /// API Gateway HTTP API payload 2.0; also what function URLs expect.
    HttpApi,
    /// Application Load Balancer target response.
    Alb {
        /// The target group has multi-value headers enabled: reply with `multiValueHeaders`.
        multi_value_headers: bool,
    },
}

/// Why an invocation payload did not become an [`Incoming`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum DecodeError {
    /// Not JSON, or not the shape its detected source sends.
    Malformed(String),
    /// JSON, but from no source Portico knows.
    Unknown,
    /// An HTTP event whose request cannot be built (undecodable body, invalid method, ...): the
    /// client gets a 400 in `format`.
    BadRequest {
        /// The front door's response format.
        format: ReplyFormat,
        /// What is wrong with the request, for the 400 body.
        message: String,
    },
}

impl DecodeError {
    /// The `errorType` reported to Lambda when the invocation fails with this error.
    pub(crate) fn error_type(&self) -> &'static str {
        match self {
            Self::Malformed(_) => "portico.MalformedEvent",
            Self::Unknown => "portico.UnknownEvent",
            Self::BadRequest { .. } => "portico.BadRequest",
        }
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Malformed(message) => write!(f, "malformed event: {message}"),
            Self::Unknown => f.write_str(
                "unrecognized event: Portico handles API Gateway REST API proxy events (payload 1.0), \
                 HTTP API events (payload 1.0 and 2.0), Lambda function URL events, Application Load \
                 Balancer target events and EventBridge scheduled events (\"detail-type\": \
                 \"Scheduled Event\", \"source\": \"aws.events\")",
            ),
            Self::BadRequest { message, .. } => f.write_str(message),
        }
    }
}

impl std::error::Error for DecodeError {}

/// Decodes one invocation payload.
///
/// # Errors
/// [`DecodeError`]: malformed JSON or shape, an unknown source, or an HTTP request that can only
/// be answered with a 400.
pub(crate) fn decode_event(raw: &str) -> Result<Incoming, DecodeError> {
    let event: RawEvent<'_> = match serde_json::from_str(raw) {
        Ok(event) => event,
        Err(err) => return Err(classify_parse_error(raw, &err)),
    };
    match Kind::of_raw(&event) {
        Some(Kind::Rest) => rest::decode_rest_event(event, &Payload::new(raw)).map(http),
        Some(Kind::HttpApi) => http_api::decode_http_api_event(event, &Payload::new(raw)).map(http),
        Some(Kind::Alb) => alb::decode_alb_event(event, &Payload::new(raw)).map(http),
        Some(Kind::Scheduled) => scheduled::decode_scheduled_event(raw).map(Incoming::Scheduled),
        None => Err(DecodeError::Unknown),
    }
}

/// The invocation payload, and one shared copy of it that header values and the body are sliced
/// from instead of each being copied into an allocation of its own.
struct Payload<'a> {
    raw: &'a str,
    shared: Bytes,
}

impl<'a> Payload<'a> {
    fn new(raw: &'a str) -> Self {
        Self {
            raw,
            shared: Bytes::copy_from_slice(raw.as_bytes()),
        }
    }

    /// `text` as bytes: a slice of the shared copy when `text` is borrowed from the payload (a
    /// string that had escapes was unescaped into an allocation of its own, and is copied).
    fn bytes_of(&self, text: &str) -> Bytes {
        let start = (text.as_ptr() as usize).wrapping_sub(self.raw.as_ptr() as usize);
        if start <= self.raw.len() && text.len() <= self.raw.len() - start {
            self.shared.slice(start..start + text.len())
        } else {
            Bytes::copy_from_slice(text.as_bytes())
        }
    }
}

fn http((request, format): (Request, ReplyFormat)) -> Incoming {
    Incoming::Http(request, format)
}

/// Encodes a response as the JSON payload the front door behind `format` expects. For a `HEAD`
/// request the body is dropped (headers are kept).
pub(crate) fn encode_response(format: ReplyFormat, res: Response, head_request: bool) -> Vec<u8> {
    match format {
        ReplyFormat::RestApi => rest::encode_rest_response(&res, head_request),
        ReplyFormat::HttpApi => http_api::encode_http_api_response(&res, head_request),
        ReplyFormat::Alb {
            multi_value_headers,
        } => alb::encode_alb_response(&res, head_request, multi_value_headers),
    }
}

/// Runs arbitrary bytes through `decode_event` and, for HTTP events, `encode_response` with a
/// response that echoes the request; panics only when an invariant breaks (a panic inside either,
/// output that is not JSON, a body that does not survive the round trip).
///
/// The entry point of the `decode_event` fuzz target in `framework/fuzz`; not public API.
pub fn fuzz_decode_and_encode(bytes: &[u8]) {
    let Ok(raw) = std::str::from_utf8(bytes) else {
        return;
    };
    let (res, format, head) = match decode_event(raw) {
        Ok(Incoming::Http(req, format)) => {
            let head = req.method == Method::HEAD;
            let mut res = Response::new(crate::response::Body(req.body.clone()));
            for (name, value) in &req.headers {
                res.headers_mut().append(name.clone(), value.clone());
            }
            res.headers_mut().append(
                http::header::SET_COOKIE,
                HeaderValue::from_static("a=1; Path=/"),
            );
            res.headers_mut()
                .append(http::header::SET_COOKIE, HeaderValue::from_static("b=2"));
            (res, format, head)
        }
        Ok(Incoming::Scheduled(event)) => {
            assert_eq!(event.detail_type, "Scheduled Event");
            return;
        }
        Err(DecodeError::BadRequest { format, message }) => {
            let mut res = Response::new(crate::response::Body::from(message));
            *res.status_mut() = http::StatusCode::BAD_REQUEST;
            (res, format, false)
        }
        Err(err) => {
            assert!(!err.to_string().is_empty());
            return;
        }
    };
    let sent = res.body().0.clone();
    let out = encode_response(format, res, head);
    let value: serde_json::Value =
        serde_json::from_slice(&out).expect("encode_response writes valid JSON");
    let body = value["body"]
        .as_str()
        .expect("the response has a string body");
    let received = if value["isBase64Encoded"] == serde_json::Value::Bool(true) {
        BASE64.decode(body).expect("a base64 response body decodes")
    } else {
        body.as_bytes().to_vec()
    };
    if head {
        assert!(received.is_empty(), "a HEAD response carries no body");
    } else {
        assert_eq!(received, sent, "the response body survives encoding");
    }
}

/// The event sources Portico decodes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Rest,
    HttpApi,
    Alb,
    Scheduled,
}

impl Kind {
    /// Decides the source from the fields that are present.
    fn of_raw(event: &RawEvent<'_>) -> Option<Self> {
        Self::decide(Markers {
            detail_type: event.detail_type.as_deref(),
            source: event.source.as_deref(),
            version: event.version.as_deref(),
            has_http_method: event.http_method.is_some(),
            has_request_context: event.request_context.is_some(),
            has_elb: event
                .request_context
                .as_ref()
                .is_some_and(|ctx| ctx.elb.is_some()),
        })
    }

    /// The same decision on a generic JSON value (only used to explain a failed typed parse).
    fn of_value(value: &serde_json::Value) -> Option<Self> {
        let context = value.get("requestContext").filter(|c| c.is_object());
        Self::decide(Markers {
            detail_type: value.get("detail-type").and_then(|v| v.as_str()),
            source: value.get("source").and_then(|v| v.as_str()),
            version: value.get("version").and_then(|v| v.as_str()),
            has_http_method: value.get("httpMethod").is_some_and(|m| !m.is_null()),
            has_request_context: context.is_some(),
            has_elb: context
                .and_then(|c| c.get("elb"))
                .is_some_and(|elb| !elb.is_null()),
        })
    }

    fn decide(m: Markers<'_>) -> Option<Self> {
        if scheduled::is_scheduled_event(m.detail_type, m.source) {
            Some(Self::Scheduled)
        } else if m.has_elb {
            Some(Self::Alb)
        } else if m.version == Some("2.0") && m.has_request_context {
            Some(Self::HttpApi)
        } else if m.has_http_method && m.has_request_context {
            // REST APIs, and HTTP APIs whose integration uses payload format 1.0.
            Some(Self::Rest)
        } else {
            None
        }
    }

    fn describe(self) -> &'static str {
        match self {
            Self::Rest => "API Gateway REST API (payload 1.0)",
            Self::HttpApi => "API Gateway HTTP API / function URL (payload 2.0)",
            Self::Alb => "Application Load Balancer",
            Self::Scheduled => "EventBridge scheduled",
        }
    }
}

struct Markers<'a> {
    detail_type: Option<&'a str>,
    source: Option<&'a str>,
    version: Option<&'a str>,
    has_http_method: bool,
    has_request_context: bool,
    has_elb: bool,
}

/// The typed parse failed: not JSON at all, JSON from an unknown source whose fields happen to
/// clash with ours, or a known source with a wrong shape. Only failures pay for this second parse.
fn classify_parse_error(raw: &str, err: &serde_json::Error) -> DecodeError {
    match serde_json::from_str::<serde_json::Value>(raw) {
        Err(_) => DecodeError::Malformed(format!("the payload is not JSON: {err}")),
        Ok(value) => match Kind::of_value(&value) {
            None => DecodeError::Unknown,
            Some(kind) => DecodeError::Malformed(format!("{} event: {err}", kind.describe())),
        },
    }
}

/// The union of the fields Portico reads from any supported event, borrowed from the payload.
///
/// Unknown fields are skipped; every field is optional so that one pass parses every shape.
#[derive(Deserialize)]
struct RawEvent<'a> {
    #[serde(borrow)]
    version: Option<Str<'a>>,
    /// REST (payload 1.0): the resource template, e.g. `/{proxy+}`.
    #[serde(borrow)]
    resource: Option<Str<'a>>,
    #[serde(borrow)]
    path: Option<Str<'a>>,
    #[serde(rename = "httpMethod", borrow)]
    http_method: Option<Str<'a>>,
    #[serde(borrow)]
    headers: Option<&'a RawValue>,
    /// Parsed in the same pass: when present it is the one used.
    #[serde(rename = "multiValueHeaders", borrow)]
    multi_value_headers: Option<MultiPairs<'a>>,
    #[serde(rename = "queryStringParameters", borrow)]
    query: Option<&'a RawValue>,
    #[serde(rename = "multiValueQueryStringParameters", borrow)]
    multi_value_query: Option<MultiPairs<'a>>,
    #[serde(rename = "pathParameters", borrow)]
    path_parameters: Option<&'a RawValue>,
    /// HTTP API (payload 2.0): `ANY /{proxy+}`, `$default`, ...
    #[serde(rename = "routeKey", borrow)]
    route_key: Option<Str<'a>>,
    #[serde(rename = "rawPath", borrow)]
    raw_path: Option<Str<'a>>,
    #[serde(rename = "rawQueryString", borrow)]
    raw_query_string: Option<Str<'a>>,
    #[serde(borrow)]
    cookies: Option<Vec<Str<'a>>>,
    #[serde(rename = "requestContext", borrow)]
    request_context: Option<RawContext<'a>>,
    #[serde(borrow)]
    body: Option<Str<'a>>,
    #[serde(rename = "isBase64Encoded")]
    is_base64_encoded: Option<bool>,
    #[serde(rename = "detail-type", borrow)]
    detail_type: Option<Str<'a>>,
    #[serde(borrow)]
    source: Option<Str<'a>>,
}

/// `requestContext`, union of the REST, HTTP API and ALB shapes.
#[derive(Deserialize, Default)]
struct RawContext<'a> {
    #[serde(rename = "requestId", borrow)]
    request_id: Option<Str<'a>>,
    #[serde(borrow)]
    stage: Option<Str<'a>>,
    /// REST: the resource API Gateway matched (the same as the event's `resource`).
    #[serde(rename = "resourcePath", borrow)]
    resource_path: Option<Str<'a>>,
    /// REST: the path the client called, stage or base path mapping included.
    #[serde(borrow)]
    path: Option<Str<'a>>,
    #[serde(rename = "domainName", borrow)]
    domain_name: Option<Str<'a>>,
    #[serde(rename = "apiId", borrow)]
    api_id: Option<Str<'a>>,
    #[serde(rename = "accountId", borrow)]
    account_id: Option<Str<'a>>,
    #[serde(borrow)]
    identity: Option<RawIdentity<'a>>,
    #[serde(borrow)]
    http: Option<RawHttp<'a>>,
    #[serde(borrow)]
    authorizer: Option<&'a RawValue>,
    #[serde(rename = "requestTimeEpoch")]
    request_time_epoch: Option<Epoch>,
    #[serde(rename = "timeEpoch")]
    time_epoch: Option<Epoch>,
    elb: Option<IgnoredAny>,
}

/// REST `requestContext.identity`.
#[derive(Deserialize)]
struct RawIdentity<'a> {
    #[serde(rename = "sourceIp", borrow)]
    source_ip: Option<Str<'a>>,
    #[serde(rename = "userAgent", borrow)]
    user_agent: Option<Str<'a>>,
    /// The id of the API key API Gateway checked (methods that require one).
    #[serde(rename = "apiKeyId", borrow)]
    api_key_id: Option<Str<'a>>,
}

/// HTTP API `requestContext.http`.
#[derive(Deserialize)]
struct RawHttp<'a> {
    #[serde(borrow)]
    method: Option<Str<'a>>,
    #[serde(borrow)]
    path: Option<Str<'a>>,
    #[serde(rename = "sourceIp", borrow)]
    source_ip: Option<Str<'a>>,
    #[serde(rename = "userAgent", borrow)]
    user_agent: Option<Str<'a>>,
}

impl RawContext<'_> {
    /// The authorizer object as JSON (`null` and absence both give `None`).
    fn authorizer_value(&self) -> Result<Option<serde_json::Value>, DecodeError> {
        self.authorizer
            .map(|raw| serde_json::from_str(raw.get()))
            .transpose()
            .map_err(|err| DecodeError::Malformed(format!("`requestContext.authorizer`: {err}")))
    }
}

/// A JSON string, borrowed from the payload unless it contained escapes.
///
/// (`Cow<str>` itself always deserializes owned unless it is a direct `#[serde(borrow)]` field,
/// which `Option<Cow<str>>` and map entries are not.)
#[derive(Clone, Debug, PartialEq, Eq)]
struct Str<'a>(Cow<'a, str>);

impl std::ops::Deref for Str<'_> {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl Str<'_> {
    fn into_owned(self) -> String {
        self.0.into_owned()
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Str<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_str(StrVisitor(PhantomData))
    }
}

struct StrVisitor<'a>(PhantomData<&'a ()>);

impl<'de: 'a, 'a> Visitor<'de> for StrVisitor<'a> {
    type Value = Str<'a>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string")
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Str(Cow::Borrowed(v)))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Str(Cow::Owned(v.to_owned())))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(Str(Cow::Owned(v)))
    }
}

/// Milliseconds since the epoch, as a number (AWS) or a numeric string (seen in documentation
/// examples); anything unparsable is `None`.
#[derive(Clone, Copy, Debug)]
struct Epoch(Option<i64>);

impl<'de> Deserialize<'de> for Epoch {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct EpochVisitor;
        impl Visitor<'_> for EpochVisitor {
            type Value = Epoch;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("milliseconds since the epoch")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Epoch, E> {
                Ok(Epoch(Some(v)))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Epoch, E> {
                Ok(Epoch(i64::try_from(v).ok()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Epoch, E> {
                // Saturating float-to-int cast; NaN becomes 0, which is as good as any.
                Ok(Epoch(v.is_finite().then_some(v as i64)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Epoch, E> {
                Ok(Epoch(v.trim().parse().ok()))
            }
        }
        deserializer.deserialize_any(EpochVisitor)
    }
}

/// Borrowed `(name, value)` pairs, in document order.
type Pairs<'a> = Vec<(Str<'a>, Str<'a>)>;

/// A JSON object of strings (`headers`, `queryStringParameters`, `pathParameters`); `null`
/// values are skipped, a `null` object is empty.
struct SinglePairs<'a>(Pairs<'a>);

impl<'de: 'a, 'a> Deserialize<'de> for SinglePairs<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer
            .deserialize_any(PairsVisitor::<false>(PhantomData))
            .map(SinglePairs)
    }
}

/// A JSON object of string arrays (`multiValueHeaders`, `multiValueQueryStringParameters`),
/// flattened into one pair per value without an allocation per name.
struct MultiPairs<'a>(Pairs<'a>);

impl<'de: 'a, 'a> Deserialize<'de> for MultiPairs<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer
            .deserialize_any(PairsVisitor::<true>(PhantomData))
            .map(MultiPairs)
    }
}

/// Visits an object (or `null`, no pairs) of strings, or with `MULTI` of string arrays (one pair
/// per value).
struct PairsVisitor<'a, const MULTI: bool>(PhantomData<&'a ()>);

impl<'de: 'a, 'a, const MULTI: bool> Visitor<'de> for PairsVisitor<'a, MULTI> {
    type Value = Pairs<'a>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if MULTI {
            "an object of string arrays"
        } else {
            "an object of strings"
        })
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Vec::new())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut pairs = Vec::with_capacity(map.size_hint().unwrap_or(16).min(64));
        while let Some(name) = map.next_key::<Str<'a>>()? {
            if MULTI {
                map.next_value_seed(PushValues {
                    name: &name,
                    pairs: &mut pairs,
                })?;
            } else if let Some(value) = map.next_value::<Option<Str<'a>>>()? {
                pairs.push((name, value));
            }
        }
        Ok(pairs)
    }
}

/// Pushes `(name, value)` for every value of one multi-value entry (`["a", "b"]`; a lone string
/// or `null` are tolerated).
struct PushValues<'p, 'a> {
    name: &'p Str<'a>,
    pairs: &'p mut Pairs<'a>,
}

impl<'de: 'a, 'a> DeserializeSeed<'de> for PushValues<'_, 'a> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de: 'a, 'a> Visitor<'de> for PushValues<'_, 'a> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of strings")
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<(), E> {
        self.pairs.push((self.name.clone(), Str(Cow::Borrowed(v))));
        Ok(())
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<(), E> {
        self.pairs
            .push((self.name.clone(), Str(Cow::Owned(v.to_owned()))));
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(value) = seq.next_element::<Option<Str<'a>>>()? {
            if let Some(value) = value {
                self.pairs.push((self.name.clone(), value));
            }
        }
        Ok(())
    }
}

/// Parses an optional single-value object; `what` names the field in the error.
fn single_pairs<'a>(raw: Option<&'a RawValue>, what: &str) -> Result<Pairs<'a>, DecodeError> {
    match raw {
        None => Ok(Vec::new()),
        Some(raw) => serde_json::from_str::<SinglePairs<'a>>(raw.get())
            .map(|p| p.0)
            .map_err(|err| DecodeError::Malformed(format!("`{what}`: {err}"))),
    }
}

impl<'a> RawEvent<'a> {
    /// The headers and the query pairs of a payload 1.0 or ALB event: each from its multi-value
    /// form when the event has one, else from the single-value form.
    fn take_headers_and_query(
        &mut self,
        payload: &Payload<'_>,
    ) -> Result<(HeaderMap, Pairs<'a>), DecodeError> {
        let headers = prefer_multi(self.multi_value_headers.take(), self.headers, "headers")?;
        let query = prefer_multi(
            self.multi_value_query.take(),
            self.query,
            "queryStringParameters",
        )?;
        Ok((header_map(&headers, payload), query))
    }
}

/// The multi-value form when present and non-empty (it is a superset of the single-value one),
/// else the single-value form, which is only parsed in that case.
fn prefer_multi<'a>(
    multi: Option<MultiPairs<'a>>,
    single: Option<&'a RawValue>,
    single_name: &str,
) -> Result<Pairs<'a>, DecodeError> {
    match multi {
        Some(MultiPairs(pairs)) if !pairs.is_empty() => Ok(pairs),
        _ => single_pairs(single, single_name),
    }
}

/// Builds request headers; a name or value HTTP cannot carry is skipped, never fatal.
fn header_map(pairs: &[(Str<'_>, Str<'_>)], payload: &Payload<'_>) -> HeaderMap {
    // `HeaderMap` caps its size; stay far below the cap (and never panic on a huge event).
    let mut headers = HeaderMap::with_capacity(pairs.len().min(128));
    for (name, value) in pairs {
        let Some(name) = header_name(name) else {
            continue;
        };
        let Ok(value) = HeaderValue::from_maybe_shared(payload.bytes_of(value)) else {
            continue;
        };
        // At capacity (tens of thousands of headers) the rest are dropped rather than panicking.
        let _ = headers.try_append(name, value);
    }
    headers
}

/// Headers API Gateway and CloudFront add to most requests that `http` has no constant for:
/// taking them from this table spares an allocation each.
static GATEWAY_HEADERS: [HeaderName; 20] = [
    HeaderName::from_static("cloudfront-forwarded-proto"),
    HeaderName::from_static("cloudfront-is-desktop-viewer"),
    HeaderName::from_static("cloudfront-is-mobile-viewer"),
    HeaderName::from_static("cloudfront-is-smarttv-viewer"),
    HeaderName::from_static("cloudfront-is-tablet-viewer"),
    HeaderName::from_static("cloudfront-viewer-asn"),
    HeaderName::from_static("cloudfront-viewer-country"),
    HeaderName::from_static("sec-ch-ua"),
    HeaderName::from_static("sec-ch-ua-mobile"),
    HeaderName::from_static("sec-ch-ua-platform"),
    HeaderName::from_static("sec-fetch-dest"),
    HeaderName::from_static("sec-fetch-mode"),
    HeaderName::from_static("sec-fetch-site"),
    HeaderName::from_static("sec-fetch-user"),
    HeaderName::from_static("x-amz-cf-id"),
    HeaderName::from_static("x-amzn-trace-id"),
    HeaderName::from_static("x-api-key"),
    HeaderName::from_static("x-forwarded-for"),
    HeaderName::from_static("x-forwarded-port"),
    HeaderName::from_static("x-forwarded-proto"),
];

fn header_name(name: &str) -> Option<HeaderName> {
    GATEWAY_HEADERS
        .iter()
        .find(|known| {
            known.as_str().len() == name.len() && known.as_str().eq_ignore_ascii_case(name)
        })
        .cloned()
        .or_else(|| HeaderName::from_bytes(name.as_bytes()).ok())
}

/// Parses the request method; extension methods are accepted, invalid tokens are a 400.
fn parse_method(method: &str, format: ReplyFormat) -> Result<Method, DecodeError> {
    Method::from_bytes(method.as_bytes()).map_err(|_| DecodeError::BadRequest {
        format,
        // The method is client input: quote a bounded amount of it.
        message: format!(
            "invalid HTTP method `{}`",
            method.chars().take(64).collect::<String>().escape_debug()
        ),
    })
}

/// Base64 as API Gateway, ALB and function URLs send it; padding is optional on input.
const BASE64_LENIENT: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Standard padded base64, for responses.
const BASE64: GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// The request body; base64-decoded when the event says so (`isBase64Encoded`, absent means
/// not; invalid base64 is a 400). The bytes need not be UTF-8.
fn decode_body(
    body: Option<Str<'_>>,
    base64_encoded: Option<bool>,
    format: ReplyFormat,
    payload: &Payload<'_>,
) -> Result<Bytes, DecodeError> {
    let Some(body) = body else {
        return Ok(Bytes::new());
    };
    if base64_encoded == Some(true) {
        BASE64_LENIENT
            .decode(body.as_bytes())
            .map(Bytes::from)
            .map_err(|err| DecodeError::BadRequest {
                format,
                message: format!(
                    "the request body is marked base64-encoded but is not valid base64: {err}"
                ),
            })
    } else {
        Ok(match body.0 {
            Cow::Borrowed(text) => payload.bytes_of(text),
            Cow::Owned(text) => Bytes::from(text),
        })
    }
}

/// The request an HTTP event decoded into.
fn http_request(
    method: Method,
    path: String,
    source: EventSource,
    query: Vec<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
    context: RequestContext,
) -> Request {
    let mut request = Request::new(method, path, source);
    request.query = query;
    request.headers = headers;
    request.body = body;
    request.context = Arc::new(context);
    request
}

fn owned_pairs(pairs: Pairs<'_>) -> Vec<(String, String)> {
    pairs
        .into_iter()
        .map(|(name, value)| (name.into_owned(), value.into_owned()))
        .collect()
}

fn opt_string(value: Option<Str<'_>>) -> Option<String> {
    value.map(Str::into_owned)
}

// --- Paths, stages and base paths -------------------------------------------------------------

/// Path segments, ignoring a trailing slash: `/` → 0, `/a` → 1, `/a/b/` → 2.
fn segment_count(path: &str) -> usize {
    path.trim_end_matches('/')
        .bytes()
        .filter(|&b| b == b'/')
        .count()
}

/// Splits `path` after its first `n` segments: `("/v1/users/7", 1)` → `("/v1", "/users/7")`.
/// The remainder is `/` when nothing is left.
fn split_segments(path: &str, n: usize) -> (&str, &str) {
    if n == 0 {
        return ("", path);
    }
    let mut seen = 0;
    for (i, b) in path.bytes().enumerate() {
        if b == b'/' {
            if seen == n {
                return (&path[..i], &path[i..]);
            }
            seen += 1;
        }
    }
    (path, "/")
}

/// How many path segments the matched API Gateway route covers: the template's own, plus the
/// extra ones its greedy `{name+}` parameter swallowed (from `pathParameters`). `None` when the
/// template is not a path (`$default`) or a greedy parameter's value is missing.
///
/// This is what separates a custom domain's base path mapping (which API Gateway leaves in
/// `path` / `rawPath`) from the routed path, whatever the percent-encoding of either.
fn routed_segments(template: &str, path_parameters: Option<&RawValue>) -> Option<usize> {
    if !template.starts_with('/') {
        return None;
    }
    let mut segments = segment_count(template);
    if template.contains("+}") {
        let params = single_pairs(path_parameters, "pathParameters").ok()?;
        let mut rest = template;
        while let Some(open) = rest.find('{') {
            let close = open + rest[open..].find('}')?;
            if let Some(name) = rest[open + 1..close].strip_suffix('+') {
                let value = &params.iter().find(|(k, _)| &**k == name)?.1;
                segments += value
                    .trim_matches('/')
                    .bytes()
                    .filter(|&b| b == b'/')
                    .count();
            }
            rest = &rest[close + 1..];
        }
    }
    Some(segments)
}

/// `("/{stage}/rest", stage)` → `("/{stage}", "/rest")` for a named (non-`$default`) stage.
fn strip_stage<'p>(path: &'p str, stage: &str) -> Option<(&'p str, &'p str)> {
    if stage.is_empty() || stage == "$default" {
        return None;
    }
    let rest = path.strip_prefix('/')?.strip_prefix(stage)?;
    let prefix = &path[..1 + stage.len()];
    match rest {
        "" => Some((prefix, "/")),
        _ if rest.starts_with('/') => Some((prefix, rest)),
        _ => None,
    }
}

/// `{api-id}.execute-api.{region}.amazonaws.com` (and the `.com.cn` partition): hosts whose URLs
/// always carry the stage.
fn is_execute_api_host(host: &str) -> bool {
    let host = host.rsplit_once(':').map_or(host, |(h, _)| h);
    host.contains(".execute-api.")
        && (host.ends_with(".amazonaws.com") || host.ends_with(".amazonaws.com.cn"))
}

// --- Response JSON ------------------------------------------------------------------------------

/// Appends `s` as a JSON string literal.
fn push_json_str(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    push_json_str_contents(out, s);
    out.push(b'"');
}

/// Appends `s` escaped for the inside of a JSON string literal.
fn push_json_str_contents(out: &mut Vec<u8>, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let escape: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x00..=0x1f => {
                out.extend_from_slice(&bytes[start..i]);
                out.extend_from_slice(b"\\u00");
                out.push(HEX[usize::from(b >> 4)]);
                out.push(HEX[usize::from(b & 0xf)]);
                start = i + 1;
                continue;
            }
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..i]);
        out.extend_from_slice(escape);
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
}

/// A header value as text; bytes outside UTF-8 (obs-text) become U+FFFD.
fn header_text(value: &HeaderValue) -> Cow<'_, str> {
    String::from_utf8_lossy(value.as_bytes())
}

/// Appends `"statusCode":NNN`.
fn push_status(out: &mut Vec<u8>, res: &Response) {
    out.extend_from_slice(b"\"statusCode\":");
    out.extend_from_slice(res.status().as_str().as_bytes());
}

/// Appends `"body":"…","isBase64Encoded":…`; base64 exactly when [`needs_base64`] says so, and no
/// body at all for a `HEAD` request.
fn push_body(out: &mut Vec<u8>, res: &Response, head_request: bool) {
    let body = res.body().as_bytes();
    let text = if head_request || body.is_empty() {
        Some("")
    } else if needs_base64(res) {
        None
    } else {
        std::str::from_utf8(body).ok()
    };
    out.extend_from_slice(b"\"body\":\"");
    match text {
        Some(text) => {
            push_json_str_contents(out, text);
            out.extend_from_slice(b"\",\"isBase64Encoded\":false");
        }
        None => {
            let start = out.len();
            out.resize(
                start + base64::encoded_len(body.len(), true).unwrap_or(0),
                0,
            );
            let written = BASE64.encode_slice(body, &mut out[start..]).unwrap_or(0);
            out.truncate(start + written);
            out.extend_from_slice(b"\",\"isBase64Encoded\":true");
        }
    }
}

/// Appends `{"name":["v1","v2"],…}` with every header.
fn push_multi_value_headers(out: &mut Vec<u8>, headers: &HeaderMap) {
    out.push(b'{');
    for (i, name) in headers.keys().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        push_json_str(out, name.as_str());
        out.extend_from_slice(b":[");
        for (j, value) in headers.get_all(name).iter().enumerate() {
            if j > 0 {
                out.push(b',');
            }
            push_json_str(out, &header_text(value));
        }
        out.push(b']');
    }
    out.push(b'}');
}

/// Appends `{"name":"v1, v2",…}`: repeated headers joined with `, ` (RFC 9110 §5.3), except
/// the names in `skip`.
fn push_joined_headers(out: &mut Vec<u8>, headers: &HeaderMap, skip: Option<&HeaderName>) {
    out.push(b'{');
    let mut first = true;
    for name in headers.keys() {
        if skip == Some(name) {
            continue;
        }
        if !first {
            out.push(b',');
        }
        first = false;
        push_json_str(out, name.as_str());
        out.extend_from_slice(b":\"");
        for (j, value) in headers.get_all(name).iter().enumerate() {
            if j > 0 {
                out.extend_from_slice(b", ");
            }
            push_json_str_contents(out, &header_text(value));
        }
        out.push(b'"');
    }
    out.push(b'}');
}

/// Writes a response payload: the status, what `headers` appends (a comma, then the headers in
/// the front door's form), the body.
fn encode_with(res: &Response, head_request: bool, headers: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
    let mut out = Vec::with_capacity(response_capacity(res));
    out.push(b'{');
    push_status(&mut out, res);
    headers(&mut out);
    out.push(b',');
    push_body(&mut out, res, head_request);
    out.push(b'}');
    out
}

/// A starting capacity for a response payload.
fn response_capacity(res: &Response) -> usize {
    256 + res.headers().len() * 64 + res.body().as_bytes().len() * 4 / 3
}

#[cfg(test)]
mod tests {
    use http::{Method, StatusCode};
    use serde_json::{Value, json};

    use super::*;
    use crate::response::Body;

    /// A documented example event from `tests/fixtures/events` (see the README there).
    macro_rules! fixture {
        ($name:literal) => {
            include_str!(concat!("../../tests/fixtures/events/", $name, ".json"))
        };
    }

    pub(super) const REST_PROXY: &str = fixture!("rest_v1_proxy");
    pub(super) const REST_CONSOLE: &str = fixture!("rest_v1_console");
    pub(super) const REST_CLOUDFRONT: &str = fixture!("rest_v1_cloudfront");
    pub(super) const HTTP_API_V1: &str = fixture!("http_api_v1");
    pub(super) const HTTP_API_V2: &str = fixture!("http_api_v2");
    pub(super) const HTTP_API_V2_STAGE: &str = fixture!("http_api_v2_stage");
    pub(super) const FUNCTION_URL: &str = fixture!("function_url");
    pub(super) const ALB_SINGLE: &str = fixture!("alb_single_value");
    pub(super) const ALB_MULTI: &str = fixture!("alb_multi_value");
    const SCHEDULED: &str = fixture!("scheduled");

    /// Decodes an HTTP event, panicking otherwise.
    pub(super) fn decode_http(raw: &str) -> (Request, ReplyFormat) {
        match decode_event(raw) {
            Ok(Incoming::Http(req, format)) => (req, format),
            Ok(other) => panic!("not an HTTP event: {other:?}"),
            Err(err) => panic!("{err:?}: {err}"),
        }
    }

    pub(super) fn decode_value(event: &Value) -> (Request, ReplyFormat) {
        decode_http(&event.to_string())
    }

    pub(super) fn header_values<'r>(req: &'r Request, name: &str) -> Vec<&'r str> {
        req.headers
            .get_all(name)
            .iter()
            .map(|v| v.to_str().unwrap())
            .collect()
    }

    pub(super) fn query(req: &Request) -> Vec<(&str, &str)> {
        req.query
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect()
    }

    /// Decodes `event` and checks the routed path and the base path in front of it.
    #[track_caller]
    pub(super) fn assert_routed(event: &Value, path: &str, base_path: &str) {
        let (req, _) = decode_value(event);
        assert_eq!(
            (req.path.as_str(), req.context.base_path.as_str()),
            (path, base_path)
        );
    }

    /// A response with `status` and `body`, and `headers` appended in order.
    pub(super) fn response(
        status: u16,
        body: impl Into<Body>,
        headers: &[(HeaderName, &'static str)],
    ) -> Response {
        let mut res = Response::new(body.into());
        *res.status_mut() = StatusCode::from_u16(status).unwrap();
        for (name, value) in headers {
            res.headers_mut()
                .append(name.clone(), HeaderValue::from_static(value));
        }
        res
    }

    /// Two cookies with attributes (the second with a comma in it, as `Expires` has).
    pub(super) const COOKIES: [&str; 2] =
        ["a=1; Path=/", "b=2; Expires=Wed, 21 Oct 2026 07:28:00 GMT"];

    /// A response with [`COOKIES`] and a repeated `Vary` header.
    pub(super) fn with_cookies(
        status: u16,
        body: &'static str,
        content_type: &'static str,
    ) -> Response {
        let mut res = response(status, body, &[(http::header::CONTENT_TYPE, content_type)]);
        let headers = res.headers_mut();
        for cookie in COOKIES {
            headers.append(http::header::SET_COOKIE, HeaderValue::from_static(cookie));
        }
        for vary in ["Origin", "Accept"] {
            headers.append(http::header::VARY, HeaderValue::from_static(vary));
        }
        res
    }

    /// Checks the headers of [`with_cookies`] encoded as `multiValueHeaders` (and only so).
    #[track_caller]
    pub(super) fn assert_multi_value_headers(out: &Value) {
        assert_eq!(out["multiValueHeaders"]["set-cookie"], json!(COOKIES));
        assert_eq!(
            out["multiValueHeaders"]["vary"],
            json!(["Origin", "Accept"])
        );
        assert!(out.get("headers").is_none());
    }

    /// Decodes `event`, which must fail as a bad request answered in `format`.
    #[track_caller]
    pub(super) fn bad_request(event: &Value, format: ReplyFormat) -> DecodeError {
        let err = decode_event(&event.to_string()).unwrap_err();
        assert!(
            matches!(&err, DecodeError::BadRequest { format: f, .. } if *f == format),
            "{err:?}"
        );
        assert_eq!(err.error_type(), "portico.BadRequest");
        err
    }

    /// `res` encoded for `format`, parsed back.
    pub(super) fn encoded(format: ReplyFormat, res: Response, head_request: bool) -> Value {
        let out = encode_response(format, res, head_request);
        serde_json::from_slice(&out).unwrap_or_else(|err| {
            panic!("{err}: {}", String::from_utf8_lossy(&out));
        })
    }

    #[test]
    fn documented_events_decode_to_their_source() {
        use EventSource::{Alb, FunctionUrl, HttpApi, RestApi};
        let alb = |multi_value_headers| ReplyFormat::Alb {
            multi_value_headers,
        };
        for (name, raw, format, source, method, path) in [
            (
                "rest_v1_proxy",
                REST_PROXY,
                ReplyFormat::RestApi,
                RestApi,
                Method::POST,
                "/hello/world",
            ),
            (
                "rest_v1_console",
                REST_CONSOLE,
                ReplyFormat::RestApi,
                RestApi,
                Method::GET,
                "/",
            ),
            (
                "rest_v1_cloudfront",
                REST_CLOUDFRONT,
                ReplyFormat::RestApi,
                RestApi,
                Method::GET,
                "/users/42",
            ),
            (
                "http_api_v1",
                HTTP_API_V1,
                ReplyFormat::RestApi,
                HttpApi,
                Method::GET,
                "/my/path",
            ),
            (
                "http_api_v2",
                HTTP_API_V2,
                ReplyFormat::HttpApi,
                HttpApi,
                Method::POST,
                "/my/path",
            ),
            (
                "http_api_v2_stage",
                HTTP_API_V2_STAGE,
                ReplyFormat::HttpApi,
                HttpApi,
                Method::GET,
                "/nodejs-apig-function-1G3XMPLZXVXYI",
            ),
            (
                "function_url",
                FUNCTION_URL,
                ReplyFormat::HttpApi,
                FunctionUrl,
                Method::POST,
                "/my/path",
            ),
            (
                "alb_single_value",
                ALB_SINGLE,
                alb(false),
                Alb,
                Method::GET,
                "/lambda",
            ),
            (
                "alb_multi_value",
                ALB_MULTI,
                alb(true),
                Alb,
                Method::GET,
                "/",
            ),
        ] {
            let (req, got) = decode_http(raw);
            assert_eq!(
                (got, req.source, &req.method, req.path.as_str()),
                (format, source, &method, path),
                "{name}"
            );
        }
    }

    #[test]
    fn documented_events_name_their_api_and_caller() {
        let account = Some("123456789012");
        // (fixture, request id, stage, base path, source IP, API id, account id)
        for (name, raw, request_id, stage, base_path, source_ip, api_id, account_id) in [
            (
                "rest_v1_proxy",
                REST_PROXY,
                "deef4878-7910-11e6-8f14-25afc3e9ae33",
                "testStage",
                // No `requestContext.path`: the stage is in the URL of an execute-api host.
                "/testStage",
                "192.168.196.186",
                "gy415nuibc",
                Some("12345678912"),
            ),
            (
                "rest_v1_cloudfront",
                REST_CLOUDFRONT,
                "8f0f9f49-8a4f-4b7e-9d3c-2b1a0e9f8c7d",
                "prod",
                "/prod",
                "203.0.113.42",
                "a1b2c3d4e5",
                account,
            ),
            (
                "http_api_v1",
                HTTP_API_V1,
                "id=",
                "$default",
                "",
                "IP",
                "id",
                account,
            ),
            (
                "http_api_v2",
                HTTP_API_V2,
                "id",
                "$default",
                "",
                "IP",
                "api-id",
                account,
            ),
            // Function URLs have no stages.
            (
                "function_url",
                FUNCTION_URL,
                "id",
                "",
                "",
                "123.123.123.123",
                "<urlid>",
                account,
            ),
        ] {
            let (req, _) = decode_http(raw);
            let ctx = &req.context;
            assert_eq!(
                (
                    ctx.request_id.as_str(),
                    ctx.stage.as_str(),
                    ctx.base_path.as_str()
                ),
                (request_id, stage, base_path),
                "{name}"
            );
            assert_eq!(
                (
                    ctx.source_ip.as_deref(),
                    ctx.api_id.as_deref(),
                    ctx.account_id.as_deref()
                ),
                (Some(source_ip), Some(api_id), account_id),
                "{name}"
            );
        }
    }

    #[test]
    fn not_json_is_malformed() {
        for raw in ["", "{", "nope", "{\"httpMethod\": }"] {
            let err = decode_event(raw).unwrap_err();
            assert!(matches!(err, DecodeError::Malformed(_)), "{raw}: {err:?}");
            assert_eq!(err.error_type(), "portico.MalformedEvent");
        }
    }

    #[test]
    fn json_from_elsewhere_is_unknown() {
        for raw in [
            "{}",
            "null",
            "[1, 2]",
            "\"hello\"",
            r#"{"Records": [{"eventSource": "aws:s3"}]}"#,
            r#"{"key1": "value1", "key2": "value2"}"#,
            // Fields we read, with types we do not expect, from a source we do not know.
            r#"{"path": 42, "body": {"a": 1}, "version": 2}"#,
            r#"{"httpMethod": "GET"}"#,
        ] {
            let err = decode_event(raw).unwrap_err();
            assert_eq!(err, DecodeError::Unknown, "{raw}");
            assert_eq!(err.error_type(), "portico.UnknownEvent");
            let message = err.to_string();
            for source in ["REST API", "HTTP API", "function URL", "Load", "scheduled"] {
                assert!(message.contains(source), "{message}");
            }
        }
    }

    #[test]
    fn escaped_strings_decode() {
        let event = json!({
            "path": "/caf\u{e9}/\"q\"", "httpMethod": "GET", "requestContext": {},
            "multiValueHeaders": { "x-tab": ["a\tb"], "x-quote": ["say \"hi\""] },
            "body": "line\nbreak \u{1F600}"
        });
        let raw = event.to_string().replace('é', "\\u00e9");
        let (req, _) = decode_http(&raw);
        assert_eq!(req.path, "/café/\"q\"");
        assert_eq!(&req.body[..], "line\nbreak 😀".as_bytes());
        assert_eq!(header_values(&req, "x-tab"), ["a\tb"]);
        assert_eq!(header_values(&req, "x-quote"), ["say \"hi\""]);
        assert_eq!(req.method, Method::GET);
    }

    #[test]
    fn huge_header_counts_do_not_panic() {
        let mut headers = serde_json::Map::new();
        for i in 0..40_000 {
            headers.insert(format!("x-h{i}"), json!([format!("{i}")]));
        }
        let event = json!({
            "path": "/", "httpMethod": "GET", "requestContext": {}, "multiValueHeaders": headers
        });
        let (req, _) = decode_value(&event);
        assert!(req.headers.len() > 1000);
        let mut huge = json!({ "path": "/", "httpMethod": "GET", "requestContext": {} });
        huge["headers"] = json!({ "x-big": "v".repeat(1 << 20) });
        let (req, _) = decode_value(&huge);
        assert_eq!(req.headers["x-big"].len(), 1 << 20);
    }

    #[test]
    fn the_json_escaper_matches_serde_json() {
        let all: String = (0u8..0x80)
            .map(char::from)
            .chain("é😀\u{2028}".chars())
            .collect();
        let mut out = Vec::new();
        push_json_str(&mut out, &all);
        let back: String = serde_json::from_slice(&out).unwrap();
        assert_eq!(back, all);
    }

    #[test]
    fn segments() {
        assert_eq!(segment_count("/"), 0);
        assert_eq!(segment_count(""), 0);
        assert_eq!(segment_count("/a"), 1);
        assert_eq!(segment_count("/a/b/"), 2);
        assert_eq!(split_segments("/v1/users/7", 1), ("/v1", "/users/7"));
        assert_eq!(split_segments("/v1", 1), ("/v1", "/"));
        assert_eq!(split_segments("/v1/", 1), ("/v1", "/"));
        assert_eq!(split_segments("/a", 0), ("", "/a"));
        assert_eq!(strip_stage("/dev/x", "dev"), Some(("/dev", "/x")));
        assert_eq!(strip_stage("/dev", "dev"), Some(("/dev", "/")));
        assert_eq!(strip_stage("/devx", "dev"), None);
        assert_eq!(strip_stage("/x", "$default"), None);
        assert!(is_execute_api_host(
            "abc.execute-api.eu-west-1.amazonaws.com"
        ));
        assert!(!is_execute_api_host("api.example.com"));
    }

    #[test]
    fn routed_segments_follow_greedy_parameters() {
        let params = RawValue::from_string(r#"{"proxy":"a/b/c"}"#.to_owned()).unwrap();
        assert_eq!(routed_segments("/{proxy+}", Some(&params)), Some(3));
        assert_eq!(routed_segments("/files/{proxy+}", Some(&params)), Some(4));
        assert_eq!(routed_segments("/users/{id}", None), Some(2));
        assert_eq!(routed_segments("/", None), Some(0));
        assert_eq!(routed_segments("/{proxy+}", None), None);
        assert_eq!(routed_segments("$default", None), None);
    }

    #[test]
    fn fuzz_entry_point_handles_every_fixture_and_junk() {
        for raw in [
            REST_PROXY,
            REST_CONSOLE,
            REST_CLOUDFRONT,
            HTTP_API_V1,
            HTTP_API_V2,
            HTTP_API_V2_STAGE,
            FUNCTION_URL,
            ALB_SINGLE,
            ALB_MULTI,
            SCHEDULED,
            "{}",
            "\u{0}",
        ] {
            fuzz_decode_and_encode(raw.as_bytes());
        }
        fuzz_decode_and_encode(&[0xff, 0xfe]);
        let head = json!({ "path": "/", "httpMethod": "HEAD", "requestContext": {}, "body": "x" });
        fuzz_decode_and_encode(head.to_string().as_bytes());
        let bad = json!({ "path": "/", "httpMethod": "GET", "requestContext": {}, "body": "!", "isBase64Encoded": true });
        fuzz_decode_and_encode(bad.to_string().as_bytes());
    }
}

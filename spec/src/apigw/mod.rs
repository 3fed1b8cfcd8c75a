//! API Gateway's wire formats, written once for every producer and consumer: the local
//! gateway, the framework's test client and the end-to-end harness build their events here,
//! and read the function's proxy response here.
//!
//! - [`RestRequest`]: a REST API (payload 1.0) proxy event, serialized straight to JSON;
//! - [`HttpApiRequest`]: an HTTP API (payload 2.0) event;
//! - [`parse_proxy_response`]: the function's reply, checked the way API Gateway checks it;
//! - the small rules both sides share: which resource a path hits ([`Resource`]), how headers
//!   and query parameters are grouped, when a body is binary.
//!
//! ```
//! use portico_spec::apigw::{PayloadFormat, Resource, RestContext, RestRequest, parse_proxy_response};
//!
//! let headers = vec![("Host".to_owned(), "abc.execute-api.us-east-1.amazonaws.com".to_owned())];
//! let event = RestRequest {
//!     method: "GET",
//!     path: "/users/7",
//!     query: Some("tag=a&tag=b"),
//!     headers: &headers,
//!     body: b"",
//!     binary_body: false,
//!     resource: &Resource::for_path("/users/7"),
//!     context: RestContext::new("prod", "/prod/users/7", "abc.execute-api.us-east-1.amazonaws.com"),
//! }
//! .to_vec()
//! .unwrap();
//! let event: serde_json::Value = serde_json::from_slice(&event).unwrap();
//! assert_eq!(event["resource"], "/{proxy+}");
//! assert_eq!(event["pathParameters"]["proxy"], "users/7");
//! assert_eq!(event["multiValueQueryStringParameters"]["tag"], serde_json::json!(["a", "b"]));
//! assert_eq!(event["requestContext"]["domainPrefix"], "abc");
//!
//! let reply = parse_proxy_response(br#"{"statusCode": 201, "body": "made"}"#, PayloadFormat::RestV1).unwrap();
//! assert_eq!((reply.status, reply.body.bytes()), (201, &b"made"[..]));
//! ```

mod http_api;
mod response;
mod rest;

pub use http_api::{HttpApiContext, HttpApiRequest};
pub use response::{
    BadProxyResponse, PayloadFormat, ProxyResponse, ResponseBody, parse_proxy_response,
};
pub use rest::{Resource, RestContext, RestRequest};

/// Groups header values by name, ignoring case; a name keeps its first spelling and the
/// values their order (how API Gateway fills `multiValueHeaders`).
pub fn group_headers<I>(pairs: I) -> Vec<(String, Vec<String>)>
where
    I: IntoIterator<Item = (String, String)>,
{
    let mut out: Vec<(String, Vec<String>)> = Vec::new();
    for (name, value) in pairs {
        match out.iter_mut().find(|(n, _)| n.eq_ignore_ascii_case(&name)) {
            Some((_, values)) => values.push(value),
            None => out.push((name, vec![value])),
        }
    }
    out
}

/// Query parameters, decoded (`+` is a space) and grouped by name (case-sensitive), in order
/// of first appearance (how API Gateway fills `multiValueQueryStringParameters`).
pub fn parse_query(query: &str) -> Vec<(String, Vec<String>)> {
    let mut out: Vec<(String, Vec<String>)> = Vec::new();
    for (name, value) in form_urlencoded::parse(query.as_bytes()) {
        match out.iter_mut().find(|(n, _)| *n == name) {
            Some((_, values)) => values.push(value.into_owned()),
            None => out.push((name.into_owned(), vec![value.into_owned()])),
        }
    }
    out
}

/// The first value of header `name` (any case).
pub fn first_header<'h>(headers: &'h [(String, String)], name: &str) -> Option<&'h str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// Every value of header `name` (any case), in order.
pub fn header_values<'h>(headers: &'h [(String, String)], name: &str) -> Vec<&'h str> {
    headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
        .collect()
}

/// The bare media type of a `Content-Type` or `Accept` value's first entry.
pub fn media_type(value: &str) -> &str {
    let first = value.split(',').next().unwrap_or_default();
    first.split(';').next().unwrap_or_default().trim()
}

/// Whether the media type of a `Content-Type` or `Accept` value (its first entry) is one of
/// the API's binary media types `patterns` (lowercase, `*` matching any run, e.g. `image/*`).
///
/// ```
/// use portico_spec::apigw::is_binary_media_type;
/// let binary = ["image/*".to_owned(), "application/octet-stream".to_owned()];
/// assert!(is_binary_media_type("image/png; q=0.9, text/html", &binary));
/// assert!(!is_binary_media_type("text/html, image/png", &binary));
/// ```
pub fn is_binary_media_type(value: &str, patterns: &[String]) -> bool {
    let media = media_type(value).to_ascii_lowercase();
    !media.is_empty()
        && patterns
            .iter()
            .any(|p| glob(p.as_bytes(), media.as_bytes()))
}

/// API Gateway returns binary media as bytes when the client's first `Accept` type is binary.
pub fn accepts_binary(headers: &[(String, String)], binary_media_types: &[String]) -> bool {
    first_header(headers, "accept")
        .is_some_and(|accept| is_binary_media_type(accept, binary_media_types))
}

fn glob(pattern: &[u8], text: &[u8]) -> bool {
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        if p < pattern.len() && pattern[p] == b'*' {
            star = Some((p, t));
            p += 1;
        } else if p < pattern.len() && pattern[p] == text[t] {
            p += 1;
            t += 1;
        } else if let Some((sp, st)) = star {
            p = sp + 1;
            t = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|&b| b == b'*')
}

/// The first label of a host (port and IPv6 brackets aside): `requestContext.domainPrefix`.
pub fn domain_prefix(host: &str) -> &str {
    let without_port = if host.starts_with('[') {
        host.split_inclusive(']').next().unwrap_or(host)
    } else {
        host.split(':').next().unwrap_or(host)
    };
    without_port.split('.').next().unwrap_or(without_port)
}

/// The request body as an event carries it: `None` when empty, base64 when `binary`, else
/// text (invalid UTF-8 replaced); and `isBase64Encoded`.
pub fn event_body(body: &[u8], binary: bool) -> (Option<String>, bool) {
    use base64::Engine as _;
    if body.is_empty() {
        (None, false)
    } else if binary {
        (
            Some(base64::engine::general_purpose::STANDARD.encode(body)),
            true,
        )
    } else {
        (Some(String::from_utf8_lossy(body).into_owned()), false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_group_by_name_in_any_case_keeping_the_first_spelling() {
        let grouped = group_headers([
            ("Accept".to_owned(), "a".to_owned()),
            ("X-Id".to_owned(), "1".to_owned()),
            ("accept".to_owned(), "b".to_owned()),
        ]);
        assert_eq!(
            grouped,
            [
                ("Accept".to_owned(), vec!["a".to_owned(), "b".to_owned()]),
                ("X-Id".to_owned(), vec!["1".to_owned()])
            ]
        );
    }

    #[test]
    fn queries_are_decoded_and_grouped_case_sensitively() {
        assert_eq!(
            parse_query("a=1&A=2&a=x+y%21&flag"),
            [
                ("a".to_owned(), vec!["1".to_owned(), "x y!".to_owned()]),
                ("A".to_owned(), vec!["2".to_owned()]),
                ("flag".to_owned(), vec![String::new()]),
            ]
        );
    }

    #[test]
    fn binary_media_types_match_with_wildcards() {
        let patterns = ["image/*".to_owned(), "*/pdf".to_owned()];
        assert!(is_binary_media_type("IMAGE/PNG", &patterns));
        assert!(is_binary_media_type("application/pdf;x=1", &patterns));
        assert!(!is_binary_media_type("text/plain", &patterns));
        assert!(!is_binary_media_type("", &["*".to_owned()]));
        assert!(glob(b"a*b*c", b"aXbYc"));
        assert!(!glob(b"a*b", b"aXc"));
    }

    #[test]
    fn domain_prefixes_ignore_ports_and_brackets() {
        assert_eq!(
            domain_prefix("abc.execute-api.us-east-1.amazonaws.com"),
            "abc"
        );
        assert_eq!(domain_prefix("127.0.0.1:3000"), "127");
        assert_eq!(domain_prefix("[::1]:3000"), "[::1]");
        assert_eq!(domain_prefix("localhost"), "localhost");
    }

    #[test]
    fn bodies_are_null_text_or_base64() {
        assert_eq!(event_body(b"", true), (None, false));
        assert_eq!(event_body(b"hi", false), (Some("hi".to_owned()), false));
        assert_eq!(
            event_body(b"\xff\x00", true),
            (Some("/wA=".to_owned()), true)
        );
        assert_eq!(
            event_body(b"\xff", false),
            (Some("\u{fffd}".to_owned()), false)
        );
    }
}

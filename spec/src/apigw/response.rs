//! The function's proxy response, read the way the front door reads it.

use std::fmt;

use base64::Engine as _;
use serde_json::Value;

/// Which front door's response format to accept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PayloadFormat {
    /// REST API (payload 1.0): `statusCode`, `headers`, `multiValueHeaders`, `body`,
    /// `isBase64Encoded`, nothing else.
    RestV1,
    /// HTTP API (payload 2.0): the REST fields plus `cookies`.
    HttpV2,
    /// Application Load Balancer: the REST fields plus `statusDescription`.
    Alb,
}

impl PayloadFormat {
    fn allows(self, field: &str) -> bool {
        match field {
            "statusCode" | "headers" | "multiValueHeaders" | "body" | "isBase64Encoded" => true,
            "cookies" => self == Self::HttpV2,
            "statusDescription" => self == Self::Alb,
            _ => false,
        }
    }
}

/// A valid proxy response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxyResponse {
    /// `statusCode` (200 when absent), within 200..=599.
    pub status: u16,
    /// `headers` merged with `multiValueHeaders`, which wins for a name in both (any case);
    /// names as sent. `null` values are dropped, booleans become `true`/`false`.
    pub headers: Vec<(String, Vec<String>)>,
    /// `cookies` (HTTP API payload 2.0); empty otherwise.
    pub cookies: Vec<String>,
    /// `body`, decoded when `isBase64Encoded`.
    pub body: ResponseBody,
}

/// The body of a [`ProxyResponse`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResponseBody {
    /// A text body (`isBase64Encoded` false or absent); empty when `body` is absent.
    Text(String),
    /// `isBase64Encoded: true`: the text as sent and the bytes it decodes to.
    Base64 {
        /// The body as sent.
        text: String,
        /// The decoded bytes.
        bytes: Vec<u8>,
    },
}

impl ResponseBody {
    /// The bytes the function meant: the text, or the decoded base64.
    pub fn bytes(&self) -> &[u8] {
        match self {
            Self::Text(text) => text.as_bytes(),
            Self::Base64 { bytes, .. } => bytes,
        }
    }

    /// Whether the body was base64-encoded (`isBase64Encoded`).
    pub fn is_base64(&self) -> bool {
        matches!(self, Self::Base64 { .. })
    }

    /// The bytes the function meant, owned: the text, or the decoded base64.
    pub fn into_bytes(self) -> Vec<u8> {
        match self {
            Self::Text(text) => text.into_bytes(),
            Self::Base64 { bytes, .. } => bytes,
        }
    }
}

impl ProxyResponse {
    /// The headers one `(name, value)` pair per value, in order (what a client receives).
    pub fn header_pairs(&self) -> Vec<(String, String)> {
        self.headers
            .iter()
            .flat_map(|(name, values)| values.iter().map(move |v| (name.clone(), v.clone())))
            .collect()
    }
}

/// Why a function's reply is not a proxy response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BadProxyResponse {
    /// Not a proxy response (API Gateway answers 502 "Malformed Lambda proxy response").
    Malformed(String),
    /// `isBase64Encoded` with a body that is not base64 (API Gateway answers 500).
    Base64(String),
}

impl fmt::Display for BadProxyResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Malformed(why) => write!(f, "malformed proxy response: {why}"),
            Self::Base64(why) => write!(f, "cannot base64-decode the body: {why}"),
        }
    }
}

impl std::error::Error for BadProxyResponse {}

/// Checks and reads the function's reply the way API Gateway does: a JSON object with only
/// the fields `format` allows; `statusCode` a number or numeric string (default 200) within
/// 200..=599; header values strings (booleans allowed, `null` dropped); `body` a string;
/// `isBase64Encoded` a boolean, and then `body` base64 (padding optional).
///
/// # Errors
/// [`BadProxyResponse`] saying what is wrong.
pub fn parse_proxy_response(
    bytes: &[u8],
    format: PayloadFormat,
) -> Result<ProxyResponse, BadProxyResponse> {
    let malformed = BadProxyResponse::Malformed;
    let value: Value = serde_json::from_slice(bytes)
        .map_err(|e| malformed(format!("the function's output is not JSON ({e})")))?;
    let Value::Object(mut map) = value else {
        return Err(malformed(
            "the function's output is not a JSON object".to_owned(),
        ));
    };
    if let Some(key) = map.keys().find(|k| !format.allows(k)) {
        return Err(malformed(format!("unexpected field `{key}`")));
    }
    let status = match map.get("statusCode") {
        None | Some(Value::Null) => Some(200),
        Some(Value::Number(n)) => n.as_u64().or_else(|| {
            n.as_f64()
                .filter(|f| f.fract() == 0.0 && *f >= 0.0)
                .map(|f| f as u64)
        }),
        Some(Value::String(s)) => s.trim().parse().ok(),
        Some(_) => None,
    }
    .filter(|code| (200..=599).contains(code))
    .and_then(|code| u16::try_from(code).ok())
    .ok_or_else(|| malformed(format!("invalid statusCode {}", map["statusCode"])))?;

    let header_value = |v: &Value| -> Result<Option<String>, BadProxyResponse> {
        match v {
            Value::String(s) => Ok(Some(s.clone())),
            Value::Bool(b) => Ok(Some(b.to_string())),
            Value::Null => Ok(None),
            other => Err(malformed(format!("header value {other} is not a string"))),
        }
    };
    let mut headers: Vec<(String, Vec<String>)> = Vec::new();
    match map.get("headers") {
        None | Some(Value::Null) => {}
        Some(Value::Object(single)) => {
            for (name, value) in single {
                if let Some(value) = header_value(value)? {
                    headers.push((name.clone(), vec![value]));
                }
            }
        }
        Some(_) => return Err(malformed("`headers` is not an object".to_owned())),
    }
    match map.get("multiValueHeaders") {
        None | Some(Value::Null) => {}
        Some(Value::Object(multi)) => {
            for (name, values) in multi {
                let values = match values {
                    Value::Array(items) => items
                        .iter()
                        .map(header_value)
                        .filter_map(Result::transpose)
                        .collect::<Result<Vec<_>, _>>()?,
                    single => header_value(single)?.into_iter().collect(),
                };
                headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
                if !values.is_empty() {
                    headers.push((name.clone(), values));
                }
            }
        }
        Some(_) => return Err(malformed("`multiValueHeaders` is not an object".to_owned())),
    }
    let cookies = match map.get("cookies") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(list)) => list
            .iter()
            .map(|c| {
                c.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| malformed(format!("cookie {c} is not a string")))
            })
            .collect::<Result<_, _>>()?,
        Some(other) => {
            return Err(malformed(format!(
                "`cookies` must be an array, not {}",
                json_kind(other)
            )));
        }
    };
    let is_base64 = match map.get("isBase64Encoded") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(other) => {
            return Err(malformed(format!(
                "`isBase64Encoded` is {}, not a boolean",
                json_kind(other)
            )));
        }
    };
    let text = match map.remove("body") {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s,
        Some(other) => {
            return Err(malformed(format!(
                "`body` must be a string, not {}",
                json_kind(&other)
            )));
        }
    };
    let body = if is_base64 {
        let bytes = base64_lenient()
            .decode(text.trim())
            .map_err(|e| BadProxyResponse::Base64(e.to_string()))?;
        ResponseBody::Base64 { text, bytes }
    } else {
        ResponseBody::Text(text)
    };
    Ok(ProxyResponse {
        status,
        headers,
        cookies,
        body,
    })
}

fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Standard base64, padding optional (API Gateway accepts either).
fn base64_lenient() -> base64::engine::GeneralPurpose {
    base64::engine::GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        base64::engine::GeneralPurposeConfig::new()
            .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rest(json: &str) -> Result<ProxyResponse, BadProxyResponse> {
        parse_proxy_response(json.as_bytes(), PayloadFormat::RestV1)
    }

    #[test]
    fn multi_value_headers_win_over_single_ones_in_any_case() {
        let res = rest(
            r#"{"statusCode": 201, "headers": {"set-cookie": "x", "A": "1", "N": null},
                "multiValueHeaders": {"Set-Cookie": ["a=1", "b=2"], "B": true}}"#,
        )
        .unwrap();
        assert_eq!(res.status, 201);
        let mut headers = res.headers;
        headers.sort();
        assert_eq!(
            headers,
            [
                ("A".to_owned(), vec!["1".to_owned()]),
                ("B".to_owned(), vec!["true".to_owned()]),
                (
                    "Set-Cookie".to_owned(),
                    vec!["a=1".to_owned(), "b=2".to_owned()]
                ),
            ]
        );
    }

    #[test]
    fn every_field_is_optional_and_status_may_be_a_string() {
        let res = rest("{}").unwrap();
        assert_eq!((res.status, res.body.bytes()), (200, &b""[..]));
        assert_eq!(rest(r#"{"statusCode": "404"}"#).unwrap().status, 404);
        assert_eq!(rest(r#"{"statusCode": 204.0}"#).unwrap().status, 204);
    }

    #[test]
    fn malformed_responses_are_rejected_with_a_reason() {
        for (json, why) in [
            ("[]", "not a JSON object"),
            ("nope", "not JSON"),
            (r#"{"statusCode": 99}"#, "invalid statusCode"),
            (r#"{"statusCode": 600}"#, "invalid statusCode"),
            (r#"{"body": 1}"#, "must be a string, not a number"),
            (r#"{"headers": []}"#, "not an object"),
            (r#"{"headers": {"a": 1}}"#, "not a string"),
            (r#"{"isBase64Encoded": "yes"}"#, "not a boolean"),
            (r#"{"cookies": ["a=1"]}"#, "unexpected field `cookies`"),
        ] {
            match rest(json) {
                Err(BadProxyResponse::Malformed(message)) => {
                    assert!(message.contains(why), "{json}: {message}");
                }
                other => panic!("{json}: {other:?}"),
            }
        }
        assert!(matches!(
            rest(r#"{"body": "!!", "isBase64Encoded": true}"#),
            Err(BadProxyResponse::Base64(_))
        ));
    }

    #[test]
    fn each_format_allows_its_own_fields() {
        let v2 = parse_proxy_response(
            br#"{"statusCode": 200, "cookies": ["a=1", "b=2"], "body": "/wD+", "isBase64Encoded": true}"#,
            PayloadFormat::HttpV2,
        )
        .unwrap();
        assert_eq!(v2.cookies, ["a=1", "b=2"]);
        assert_eq!(v2.body.bytes(), b"\xff\x00\xfe");
        assert!(v2.body.is_base64());
        let alb = br#"{"statusCode": 404, "statusDescription": "404 Not Found"}"#;
        assert!(parse_proxy_response(alb, PayloadFormat::Alb).is_ok());
        assert!(parse_proxy_response(alb, PayloadFormat::HttpV2).is_err());
        let unpadded = rest(r#"{"body": " Zg ", "isBase64Encoded": true}"#).unwrap();
        assert_eq!(
            unpadded.body,
            ResponseBody::Base64 {
                text: " Zg ".to_owned(),
                bytes: b"f".to_vec()
            }
        );
    }
}

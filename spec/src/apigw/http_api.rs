//! The HTTP API (payload 2.0) Lambda event.

use serde::{Serialize, Serializer};

use super::{event_body, first_header};

/// A request to be turned into an HTTP API (payload 2.0) event on route `$default`.
#[derive(Debug, Clone)]
pub struct HttpApiRequest<'a> {
    /// `requestContext.http.method`.
    pub method: &'a str,
    /// `rawPath` and `requestContext.http.path` (the stage included unless it is `$default`).
    pub raw_path: &'a str,
    /// `rawQueryString` (without `?`, possibly empty).
    pub raw_query: &'a str,
    /// The headers; payload 2.0 lowercases names and joins repeated values with commas.
    pub headers: &'a [(String, String)],
    /// `cookies` (the `Cookie` header's pairs, which payload 2.0 moves out of `headers`).
    pub cookies: &'a [String],
    /// The body bytes.
    pub body: &'a [u8],
    /// The body goes out base64-encoded.
    pub binary_body: bool,
    /// `requestContext`.
    pub context: HttpApiContext<'a>,
}

/// The `requestContext` fields the caller decides.
#[derive(Debug, Clone)]
pub struct HttpApiContext<'a> {
    /// `accountId`.
    pub account_id: &'a str,
    /// `apiId`.
    pub api_id: &'a str,
    /// `domainName`; `domainPrefix` is its first label.
    pub domain_name: &'a str,
    /// `requestId`.
    pub request_id: &'a str,
    /// `stage`, `$default` for the default stage.
    pub stage: &'a str,
    /// `time`, like `10/Mar/2020:05:16:23 +0000`.
    pub time: &'a str,
    /// `timeEpoch`, Unix milliseconds.
    pub time_epoch: i64,
    /// `http.sourceIp`.
    pub source_ip: &'a str,
    /// `http.protocol`.
    pub protocol: &'a str,
}

impl<'a> HttpApiContext<'a> {
    /// The example context of AWS's documentation, on the `$default` stage of `domain_name`.
    pub fn new(domain_name: &'a str) -> Self {
        Self {
            account_id: "123456789012",
            api_id: super::domain_prefix(domain_name),
            domain_name,
            request_id: "JKJaXmPLvHcESHA=",
            stage: "$default",
            time: "10/Mar/2020:05:16:23 +0000",
            time_epoch: 1_583_817_383_220,
            source_ip: "198.51.100.7",
            protocol: "HTTP/1.1",
        }
    }
}

impl HttpApiRequest<'_> {
    /// The event as JSON bytes.
    ///
    /// # Errors
    /// Only if serializing fails, which it does not for these types.
    pub fn to_vec(&self) -> serde_json::Result<Vec<u8>> {
        let mut headers: Vec<(String, String)> = Vec::new();
        for (name, value) in self.headers {
            let name = name.to_ascii_lowercase();
            match headers.iter_mut().find(|(n, _)| *n == name) {
                Some((_, joined)) => {
                    joined.push(',');
                    joined.push_str(value);
                }
                None => headers.push((name, value.clone())),
            }
        }
        // Payload 2.0 joins repeated query names with commas, values as sent.
        let mut query: Vec<(&str, String)> = Vec::new();
        for pair in self.raw_query.split('&').filter(|p| !p.is_empty()) {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            match query.iter_mut().find(|(n, _)| *n == name) {
                Some((_, joined)) => {
                    joined.push(',');
                    joined.push_str(value);
                }
                None => query.push((name, value.to_owned())),
            }
        }
        let (body, is_base64_encoded) = event_body(self.body, self.binary_body);
        let context = &self.context;
        let user_agent = first_header(self.headers, "user-agent").unwrap_or_default();
        let event = Wire {
            version: "2.0",
            route_key: "$default",
            raw_path: self.raw_path,
            raw_query_string: self.raw_query,
            cookies: (!self.cookies.is_empty()).then_some(self.cookies),
            headers: Pairs(&headers),
            query_string_parameters: (!query.is_empty()).then_some(StrPairs(&query)),
            request_context: WireContext {
                account_id: context.account_id,
                api_id: context.api_id,
                domain_name: context.domain_name,
                domain_prefix: super::domain_prefix(context.domain_name),
                http: WireHttp {
                    method: self.method,
                    path: self.raw_path,
                    protocol: context.protocol,
                    source_ip: context.source_ip,
                    user_agent,
                },
                request_id: context.request_id,
                route_key: "$default",
                stage: context.stage,
                time: context.time,
                time_epoch: context.time_epoch,
            },
            body: body.as_deref(),
            is_base64_encoded,
        };
        serde_json::to_vec(&event)
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Wire<'a> {
    version: &'a str,
    route_key: &'a str,
    raw_path: &'a str,
    raw_query_string: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    cookies: Option<&'a [String]>,
    headers: Pairs<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    query_string_parameters: Option<StrPairs<'a>>,
    request_context: WireContext<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    body: Option<&'a str>,
    is_base64_encoded: bool,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct WireContext<'a> {
    account_id: &'a str,
    api_id: &'a str,
    domain_name: &'a str,
    domain_prefix: &'a str,
    http: WireHttp<'a>,
    request_id: &'a str,
    route_key: &'a str,
    stage: &'a str,
    time: &'a str,
    time_epoch: i64,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct WireHttp<'a> {
    method: &'a str,
    path: &'a str,
    protocol: &'a str,
    source_ip: &'a str,
    user_agent: &'a str,
}

struct Pairs<'a>(&'a [(String, String)]);

impl Serialize for Pairs<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.0.iter().map(|(k, v)| (k, v)))
    }
}

struct StrPairs<'a>(&'a [(&'a str, String)]);

impl Serialize for StrPairs<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.0.iter().map(|(k, v)| (k, v)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    #[test]
    fn repeated_headers_and_query_names_are_comma_joined() {
        let headers = vec![
            (
                "Host".to_owned(),
                "r3pmxmplak.execute-api.us-east-1.amazonaws.com".to_owned(),
            ),
            ("X-A".to_owned(), "1".to_owned()),
            ("x-a".to_owned(), "2".to_owned()),
            ("User-Agent".to_owned(), "curl/8.5.0".to_owned()),
        ];
        let bytes = HttpApiRequest {
            method: "GET",
            raw_path: "/echo",
            raw_query: "a=1&a=2&b=x",
            headers: &headers,
            cookies: &[],
            body: b"",
            binary_body: false,
            context: HttpApiContext::new("r3pmxmplak.execute-api.us-east-1.amazonaws.com"),
        }
        .to_vec()
        .unwrap();
        let event: Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(event["headers"]["x-a"], "1,2");
        assert_eq!(
            event["queryStringParameters"],
            json!({"a": "1,2", "b": "x"})
        );
        assert_eq!(event["requestContext"]["http"]["userAgent"], "curl/8.5.0");
        assert_eq!(event["requestContext"]["apiId"], "r3pmxmplak");
        assert_eq!(event.get("body"), None);
        assert_eq!(event.get("cookies"), None);
    }
}

//! The REST API (payload 1.0) Lambda proxy event.
//!
//! Serialized straight from borrowed parts (no intermediate `serde_json::Value`): the local
//! gateway builds one per request. Field order and `null`s are AWS's: `path` excludes the
//! stage and `requestContext.path` includes it, `headers`/`queryStringParameters` hold the
//! last value of each name and the `multiValue*` maps all of them, absent maps are `null`.

use serde::{Serialize, Serializer};

use super::{domain_prefix, event_body, first_header, group_headers, parse_query};

/// The API Gateway resource a request hit, and its path parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resource<'a> {
    /// The resource's template, e.g. `/{proxy+}`, `/` or `/reports/{id}`.
    pub path: &'a str,
    /// `pathParameters`, e.g. `[("proxy", "users/7")]`; empty for none (`null` on the wire).
    pub parameters: Vec<(String, String)>,
}

impl Resource<'static> {
    /// The resource of an app deployed behind `/` and `/{proxy+}` (`ANY`): the root is its own
    /// resource without parameters (`{proxy+}` does not match it); any other path hits the
    /// greedy proxy, whose parameter is the path without its leading (and trailing) slash.
    ///
    /// ```
    /// use portico_spec::apigw::Resource;
    /// assert_eq!(Resource::for_path("/").path, "/");
    /// let files = Resource::for_path("/files/a/b/");
    /// assert_eq!((files.path, files.parameters[0].1.as_str()), ("/{proxy+}", "files/a/b"));
    /// ```
    pub fn for_path(path: &str) -> Self {
        if path == "/" || path.is_empty() {
            return Self {
                path: "/",
                parameters: Vec::new(),
            };
        }
        let rest = path.strip_prefix('/').unwrap_or(path);
        let proxy = rest.strip_suffix('/').unwrap_or(rest);
        Self {
            path: "/{proxy+}",
            parameters: vec![("proxy".to_owned(), proxy.to_owned())],
        }
    }
}

/// A request as the function will see it, to be turned into a REST v1 proxy event.
#[derive(Debug, Clone)]
pub struct RestRequest<'a> {
    /// `httpMethod`.
    pub method: &'a str,
    /// The path with the stage removed, starting with `/` (still percent-encoded, as sent).
    pub path: &'a str,
    /// The raw query string (without `?`), if any; decoded into the event.
    pub query: Option<&'a str>,
    /// The headers with their names as sent, in order.
    pub headers: &'a [(String, String)],
    /// The body bytes.
    pub body: &'a [u8],
    /// The body is binary (its `Content-Type` is a binary media type of the API): it goes out
    /// base64-encoded with `isBase64Encoded: true`.
    pub binary_body: bool,
    /// The resource the request hit.
    pub resource: &'a Resource<'a>,
    /// `requestContext`.
    pub context: RestContext<'a>,
}

/// The `requestContext` fields the caller decides.
#[derive(Debug, Clone)]
pub struct RestContext<'a> {
    /// `resourceId`.
    pub resource_id: &'a str,
    /// `extendedRequestId` (= the `x-amz-apigw-id` response header).
    pub extended_request_id: &'a str,
    /// `requestTime`, like `30/Apr/2024:13:37:05 +0000`.
    pub request_time: &'a str,
    /// `requestTimeEpoch`, Unix milliseconds.
    pub request_time_epoch: i64,
    /// `path`: the path as the client sent it, stage included (when the host carries it).
    pub path: &'a str,
    /// `accountId`.
    pub account_id: &'a str,
    /// `protocol`, e.g. `HTTP/1.1`.
    pub protocol: &'a str,
    /// `stage`.
    pub stage: &'a str,
    /// `requestId` (= the `x-amzn-RequestId` response header).
    pub request_id: &'a str,
    /// `identity.sourceIp`.
    pub source_ip: &'a str,
    /// `identity.apiKey` and `identity.apiKeyId` of the key the request passed with.
    pub api_key: Option<(&'a str, &'a str)>,
    /// `authorizer` (e.g. `{"claims": {...}}` for Cognito); absent when `None`.
    pub authorizer: Option<&'a serde_json::Value>,
    /// `domainName` (usually the `Host`); `domainPrefix` is its first label.
    pub domain_name: &'a str,
    /// `deploymentId`; absent when `None`.
    pub deployment_id: Option<&'a str>,
    /// `apiId`.
    pub api_id: &'a str,
}

impl<'a> RestContext<'a> {
    /// A context on `stage` with the client's `path` (stage included) and `domain_name`; the
    /// other fields hold fixed example values, to be overwritten as needed.
    pub fn new(stage: &'a str, path: &'a str, domain_name: &'a str) -> Self {
        Self {
            resource_id: "abc123",
            extended_request_id: "test-extended-id",
            request_time: "01/Jan/2026:00:00:00 +0000",
            request_time_epoch: 1_767_225_600_000,
            path,
            account_id: "123456789012",
            protocol: "HTTP/1.1",
            stage,
            request_id: "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
            source_ip: "203.0.113.7",
            api_key: None,
            authorizer: None,
            domain_name,
            deployment_id: None,
            api_id: "abcdef1234",
        }
    }
}

impl RestRequest<'_> {
    /// The event as JSON bytes, the invocation payload.
    ///
    /// # Errors
    /// Only if serializing fails, which it does not for these types.
    pub fn to_vec(&self) -> serde_json::Result<Vec<u8>> {
        let headers = group_headers(self.headers.iter().cloned());
        let query = self.query.map(parse_query).unwrap_or_default();
        let (body, is_base64_encoded) = event_body(self.body, self.binary_body);
        let resource = self.resource;
        let context = &self.context;
        let event = Wire {
            resource: resource.path,
            path: self.path,
            http_method: self.method,
            headers: (!headers.is_empty()).then_some(LastValues(&headers)),
            multi_value_headers: (!headers.is_empty()).then_some(AllValues(&headers)),
            query_string_parameters: (!query.is_empty()).then_some(LastValues(&query)),
            multi_value_query_string_parameters: (!query.is_empty()).then_some(AllValues(&query)),
            path_parameters: (!resource.parameters.is_empty())
                .then_some(Pairs(&resource.parameters)),
            stage_variables: (),
            request_context: WireContext {
                resource_id: context.resource_id,
                resource_path: resource.path,
                http_method: self.method,
                extended_request_id: context.extended_request_id,
                request_time: context.request_time,
                path: context.path,
                account_id: context.account_id,
                protocol: context.protocol,
                stage: context.stage,
                domain_prefix: domain_prefix(context.domain_name),
                request_time_epoch: context.request_time_epoch,
                request_id: context.request_id,
                identity: Identity {
                    cognito_identity_pool_id: (),
                    account_id: (),
                    cognito_identity_id: (),
                    caller: (),
                    source_ip: context.source_ip,
                    principal_org_id: (),
                    access_key: (),
                    cognito_authentication_type: (),
                    cognito_authentication_provider: (),
                    user_arn: (),
                    user_agent: first_header(self.headers, "user-agent"),
                    user: (),
                    api_key: context.api_key.map(|(value, _)| value),
                    api_key_id: context.api_key.map(|(_, id)| id),
                },
                authorizer: context.authorizer,
                domain_name: context.domain_name,
                deployment_id: context.deployment_id,
                api_id: context.api_id,
            },
            body: body.as_deref(),
            is_base64_encoded,
        };
        serde_json::to_vec(&event)
    }
}

/// The event on the wire, field order as AWS sends it.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Wire<'a> {
    resource: &'a str,
    path: &'a str,
    http_method: &'a str,
    headers: Option<LastValues<'a>>,
    multi_value_headers: Option<AllValues<'a>>,
    query_string_parameters: Option<LastValues<'a>>,
    multi_value_query_string_parameters: Option<AllValues<'a>>,
    path_parameters: Option<Pairs<'a>>,
    stage_variables: (),
    request_context: WireContext<'a>,
    body: Option<&'a str>,
    is_base64_encoded: bool,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct WireContext<'a> {
    resource_id: &'a str,
    resource_path: &'a str,
    http_method: &'a str,
    extended_request_id: &'a str,
    request_time: &'a str,
    path: &'a str,
    account_id: &'a str,
    protocol: &'a str,
    stage: &'a str,
    domain_prefix: &'a str,
    request_time_epoch: i64,
    request_id: &'a str,
    identity: Identity<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    authorizer: Option<&'a serde_json::Value>,
    domain_name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    deployment_id: Option<&'a str>,
    api_id: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Identity<'a> {
    cognito_identity_pool_id: (),
    account_id: (),
    cognito_identity_id: (),
    caller: (),
    source_ip: &'a str,
    principal_org_id: (),
    access_key: (),
    cognito_authentication_type: (),
    cognito_authentication_provider: (),
    user_arn: (),
    user_agent: Option<&'a str>,
    user: (),
    #[serde(skip_serializing_if = "Option::is_none")]
    api_key: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    api_key_id: Option<&'a str>,
}

/// `{"name": "last value"}`.
struct LastValues<'a>(&'a [(String, Vec<String>)]);

impl Serialize for LastValues<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(
            self.0
                .iter()
                .map(|(name, values)| (name, values.last().map_or("", String::as_str))),
        )
    }
}

/// `{"name": ["value", ...]}`.
struct AllValues<'a>(&'a [(String, Vec<String>)]);

impl Serialize for AllValues<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.0.iter().map(|(name, values)| (name, values)))
    }
}

/// `{"name": "value"}`.
struct Pairs<'a>(&'a [(String, String)]);

impl Serialize for Pairs<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.0.iter().map(|(k, v)| (k, v)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn keys(value: &Value) -> Vec<&str> {
        value
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect()
    }

    #[test]
    fn the_event_has_aws_field_order_and_nulls() {
        let headers = vec![
            ("Host".to_owned(), "h.example.com".to_owned()),
            ("User-Agent".to_owned(), "curl".to_owned()),
            ("X-Tag".to_owned(), "a".to_owned()),
            ("x-tag".to_owned(), "b".to_owned()),
        ];
        let resource = Resource::for_path("/");
        let authorizer = json!({"claims": {"sub": "u-1"}});
        let mut context = RestContext::new("dev", "/dev/", "h.example.com");
        context.authorizer = Some(&authorizer);
        context.deployment_id = Some("d1");
        context.api_key = Some(("key", "key-id"));
        let bytes = RestRequest {
            method: "GET",
            path: "/",
            query: None,
            headers: &headers,
            body: b"",
            binary_body: false,
            resource: &resource,
            context,
        }
        .to_vec()
        .unwrap();
        // `preserve_order` is off in this crate: check the order on the bytes.
        let text = String::from_utf8(bytes.clone()).unwrap();
        let order = [
            "\"resource\"",
            "\"path\"",
            "\"httpMethod\"",
            "\"headers\"",
            "\"multiValueHeaders\"",
            "\"queryStringParameters\"",
            "\"multiValueQueryStringParameters\"",
            "\"pathParameters\"",
            "\"stageVariables\"",
            "\"requestContext\"",
            "\"identity\"",
            "\"authorizer\"",
            "\"domainName\"",
            "\"deploymentId\"",
            "\"apiId\"",
            "\"isBase64Encoded\"",
        ];
        let positions: Vec<usize> = order.iter().map(|k| text.find(k).unwrap()).collect();
        assert!(positions.windows(2).all(|w| w[0] < w[1]), "{text}");
        let event: Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(event["resource"], "/");
        assert_eq!(event["pathParameters"], Value::Null);
        assert_eq!(event["queryStringParameters"], Value::Null);
        assert_eq!(event["body"], Value::Null);
        assert_eq!(event["headers"]["X-Tag"], "b");
        assert_eq!(event["multiValueHeaders"]["X-Tag"], json!(["a", "b"]));
        let context = &event["requestContext"];
        assert_eq!(context["resourcePath"], "/");
        assert_eq!(context["path"], "/dev/");
        assert_eq!(context["domainPrefix"], "h");
        assert_eq!(context["identity"]["userAgent"], "curl");
        assert_eq!(context["identity"]["apiKeyId"], "key-id");
        assert_eq!(context["authorizer"]["claims"]["sub"], "u-1");
        assert_eq!(
            keys(&context["identity"]).len(),
            14,
            "{}",
            context["identity"]
        );
    }

    #[test]
    fn optional_context_fields_are_absent_not_null() {
        let resource = Resource::for_path("/a");
        let bytes = RestRequest {
            method: "POST",
            path: "/a",
            query: Some("x=1&x=2"),
            headers: &[],
            body: b"\x00\x01",
            binary_body: true,
            resource: &resource,
            context: RestContext::new("dev", "/dev/a", "localhost"),
        }
        .to_vec()
        .unwrap();
        let event: Value = serde_json::from_slice(&bytes).unwrap();
        let context = event["requestContext"].as_object().unwrap();
        assert!(!context.contains_key("authorizer"));
        assert!(!context.contains_key("deploymentId"));
        assert!(
            !event["requestContext"]["identity"]
                .as_object()
                .unwrap()
                .contains_key("apiKey")
        );
        assert_eq!(event["headers"], Value::Null);
        assert_eq!(event["queryStringParameters"], json!({"x": "2"}));
        assert_eq!(
            (event["body"].as_str(), event["isBase64Encoded"].as_bool()),
            (Some("AAE="), Some(true))
        );
        assert_eq!(event["pathParameters"], json!({"proxy": "a"}));
    }
}

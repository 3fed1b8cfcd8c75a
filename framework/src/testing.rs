//! An in-process test client: builds the API Gateway REST (v1) events production receives and
//! runs them through the same decode → route → encode path as Lambda, without sockets.
//!
//! It plays the API `portico deploy` creates: a route that requires an API key is its own
//! resource, reached with a key (the request's `x-api-key`, else [`TEST_API_KEY`]); every
//! other path comes through `/{proxy+}`.
//!
//! ```
//! use portico::prelude::*;
//! use portico::testing::TestClient;
//!
//! #[get("/users/{id}")]
//! async fn get_user(id: u64) -> String { format!("user {id}") }
//!
//! # tokio_test_block_on(async {
//! let client = TestClient::new(App::new().routes(routes![get_user]));
//! let res = client.get("/users/7").send().await;
//! assert_eq!(res.status(), 200);
//! assert_eq!(res.text(), "user 7");
//! assert_eq!(client.get("/users/x").send().await.status(), 400);
//! # });
//! # fn tokio_test_block_on<F: std::future::Future>(f: F) -> F::Output {
//! #     tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(f)
//! # }
//! ```

use std::sync::Arc;

use http::StatusCode;
use portico_spec::apigw;
use serde_json::Value;

use crate::app::{App, BuiltApp};
use crate::dispatch::{self, Entry, Outcome};
use crate::scheduled::ScheduledEvent;

/// The stage name test events carry (the handler never sees it in its path).
pub const TEST_STAGE: &str = "test";

/// The API key test events of key-required routes carry when the request sets no
/// `x-api-key` header (the client plays the gateway, which let the request through).
pub const TEST_API_KEY: &str = "portico-test-api-key";

/// `requestContext.identity.apiKeyId` of test events that passed with a key.
pub const TEST_API_KEY_ID: &str = "testkeyid0";

/// Runs requests against an app in-process.
#[derive(Debug, Clone)]
pub struct TestClient {
    app: BuiltApp,
    host: String,
}

impl TestClient {
    /// A client for `app`.
    ///
    /// # Panics
    /// When the app does not build (e.g. a route conflict); the message names both routes.
    #[track_caller]
    pub fn new(app: App) -> Self {
        match app.build() {
            Ok(app) => Self {
                app,
                host: "abcdef1234.execute-api.us-east-1.amazonaws.com".to_owned(),
            },
            Err(err) => panic!("the app does not build: {err}"),
        }
    }

    /// Sends events as if the API were called on `host` (e.g. a custom domain). The default is
    /// an execute-api host, whose URLs carry the stage.
    pub fn with_host(mut self, host: impl Into<String>) -> Self {
        self.host = host.into();
        self
    }

    /// Starts a request.
    pub fn request(&self, method: &str, path_and_query: &str) -> TestRequest<'_> {
        TestRequest {
            client: self,
            method: method.to_owned(),
            path_and_query: path_and_query.to_owned(),
            headers: Vec::new(),
            body: Vec::new(),
            base64: false,
            authorizer: None,
            source_ip: "203.0.113.7".to_owned(),
        }
    }

    /// A `GET` request.
    pub fn get(&self, path_and_query: &str) -> TestRequest<'_> {
        self.request("GET", path_and_query)
    }

    /// A `POST` request.
    pub fn post(&self, path_and_query: &str) -> TestRequest<'_> {
        self.request("POST", path_and_query)
    }

    /// A `PUT` request.
    pub fn put(&self, path_and_query: &str) -> TestRequest<'_> {
        self.request("PUT", path_and_query)
    }

    /// A `DELETE` request.
    pub fn delete(&self, path_and_query: &str) -> TestRequest<'_> {
        self.request("DELETE", path_and_query)
    }

    /// Sends a raw event payload (any source) as the API function and returns the raw result.
    ///
    /// # Errors
    /// `(errorType, errorMessage)` when the invocation fails, as Lambda would report it.
    pub async fn invoke_raw(&self, payload: &str) -> Result<String, (String, String)> {
        self.invoke_as(&Entry::Api, payload).await
    }

    async fn invoke_as(&self, entry: &Entry, payload: &str) -> Result<String, (String, String)> {
        let ctx = Arc::new(lambda_runtime::Context::default());
        match dispatch::handle_event(&self.app, entry, payload, Some(ctx)).await {
            Outcome::Reply(bytes) => Ok(String::from_utf8_lossy(&bytes).into_owned()),
            Outcome::Failed {
                error_type,
                message,
            } => Err((error_type.into_owned(), message)),
        }
    }

    /// Fires the schedule handler `name` with an EventBridge "Scheduled Event", as the
    /// function whose `PORTICO_HANDLER` is `name`.
    ///
    /// # Errors
    /// `(errorType, errorMessage)` when the handler fails or there is no such schedule.
    pub async fn fire_schedule(&self, name: &str) -> Result<(), (String, String)> {
        let schedule = self
            .app
            .schedules
            .iter()
            .find(|s| s.name == name)
            .ok_or_else(|| {
                (
                    "portico.NoScheduleHandler".to_owned(),
                    format!("no schedule `{name}`"),
                )
            })?;
        let event = ScheduledEvent::new(
            "2026-01-01T00:00:00Z",
            format!("arn:aws:events:us-east-1:123456789012:rule/app-test-{name}"),
        );
        let payload = serde_json::to_string(&event).unwrap_or_default();
        self.invoke_as(&Entry::Schedule(schedule.name), &payload)
            .await
            .map(drop)
    }
}

impl TestClient {
    /// Invokes the `#[function]` handler `name` with `event` (serialized as JSON), as the
    /// function whose `PORTICO_HANDLER` is `name`, and returns its JSON result.
    ///
    /// ```
    /// use portico::prelude::*;
    /// use serde_json::{Value, json};
    ///
    /// #[function]
    /// async fn double(Json(n): Json<u64>) -> Json<u64> { Json(n * 2) }
    ///
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let client = portico::testing::TestClient::new(App::new().functions(functions![double]));
    /// assert_eq!(client.invoke_function("double", &json!(21)).await, Ok(json!(42)));
    /// let (error_type, _message) = client.invoke_function("double", &json!("x")).await.unwrap_err();
    /// assert_eq!(error_type, "InvalidEvent");
    /// # });
    /// ```
    ///
    /// # Errors
    /// `(errorType, errorMessage)` when the invocation fails (see [`crate::FunctionError`]) or
    /// there is no such function (`portico.NoFunctionHandler`).
    pub async fn invoke_function(
        &self,
        name: &str,
        event: &impl serde::Serialize,
    ) -> Result<Value, (String, String)> {
        let payload = test_event_json(event)?;
        self.invoke_function_raw(name, &payload)
            .await
            .map(|raw| serde_json::from_str(&raw).unwrap_or(Value::String(raw)))
    }

    /// Invokes the `#[function]` handler `name` with a raw payload (any text, as Lambda would
    /// pass it on) and returns the raw result.
    ///
    /// # Errors
    /// As [`invoke_function`](Self::invoke_function).
    pub async fn invoke_function_raw(
        &self,
        name: &str,
        payload: &str,
    ) -> Result<String, (String, String)> {
        let function = self
            .app
            .functions
            .iter()
            .find(|f| f.name == name)
            .ok_or_else(|| {
                (
                    "portico.NoFunctionHandler".to_owned(),
                    format!("no function `{name}`"),
                )
            })?;
        self.invoke_as(&Entry::Function(function.name), payload)
            .await
    }
}

impl TestClient {
    /// Invokes the event handler `name` with the AWS-shaped sample event of its kind
    /// (`portico_spec::event_samples`: two SQS messages, one SNS notification, one S3
    /// `ObjectCreated:Put`, one EventBridge event, three DynamoDB stream records), as the
    /// function whose `PORTICO_HANDLER` is `name`, and returns its result.
    ///
    /// ```
    /// use portico::prelude::*;
    /// use portico::events::{BatchItemFailures, SqsEvent};
    ///
    /// #[on_sqs_message(queue = "jobs")]
    /// async fn first_fails(event: SqsEvent) -> BatchItemFailures {
    ///     event.records.into_iter().take(1).filter_map(|m| m.message_id).collect()
    /// }
    ///
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let client = portico::testing::TestClient::new(App::new().event_handlers(event_handlers![first_fails]));
    /// let result = client.invoke_event_sample("first_fails").await.unwrap();
    /// assert_eq!(result.batch_item_failures(), ["059f36b4-87a3-44ab-83d2-661975830a7d"]);
    /// # });
    /// ```
    ///
    /// # Errors
    /// `(errorType, errorMessage)` when the invocation fails, or there is no such event
    /// handler (`portico.NoEventHandler`).
    pub async fn invoke_event_sample(&self, name: &str) -> Result<EventResult, (String, String)> {
        let handler = self.event_handler(name)?;
        let kind = crate::manifest::trigger(&handler.trigger).kind();
        let sample = portico_spec::event_samples::sample(kind);
        self.invoke_event_raw(name, sample).await
    }

    /// Invokes the event handler `name` with `event` (a typed event such as
    /// `portico::events::SqsEvent`, or any serializable value), as
    /// [`invoke_event_sample`](Self::invoke_event_sample) does with the sample.
    ///
    /// # Errors
    /// As [`invoke_event_sample`](Self::invoke_event_sample).
    pub async fn invoke_event(
        &self,
        name: &str,
        event: &impl serde::Serialize,
    ) -> Result<EventResult, (String, String)> {
        let payload = test_event_json(event)?;
        self.invoke_event_raw(name, &payload).await
    }

    /// Invokes the event handler `name` with a raw payload (any text, as Lambda would pass it
    /// on: a malformed event is the handler's `InvalidEvent`).
    ///
    /// # Errors
    /// As [`invoke_event_sample`](Self::invoke_event_sample).
    pub async fn invoke_event_raw(
        &self,
        name: &str,
        payload: &str,
    ) -> Result<EventResult, (String, String)> {
        let handler = self.event_handler(name)?;
        let raw = self.invoke_as(&Entry::Event(handler.name), payload).await?;
        Ok(EventResult {
            value: serde_json::from_str(&raw).unwrap_or(Value::String(raw)),
        })
    }

    fn event_handler(&self, name: &str) -> Result<&crate::events::EventHandler, (String, String)> {
        self.app
            .event_handlers
            .iter()
            .find(|h| h.name == name)
            .ok_or_else(|| {
                (
                    "portico.NoEventHandler".to_owned(),
                    format!("no event handler `{name}`"),
                )
            })
    }
}

/// A test's event as JSON text; a value that does not serialize is the error a failed
/// invocation would be.
fn test_event_json(event: &impl serde::Serialize) -> Result<String, (String, String)> {
    serde_json::to_string(event).map_err(|e| {
        (
            "portico.EncodeError".to_owned(),
            format!("the test event cannot be serialized: {e}"),
        )
    })
}

/// What a successful event-handler invocation answered.
#[derive(Debug, Clone, PartialEq)]
pub struct EventResult {
    value: Value,
}

impl EventResult {
    /// The `itemIdentifier`s of the answer's `batchItemFailures` (none when the handler
    /// returned `()` or an empty list).
    pub fn batch_item_failures(&self) -> Vec<String> {
        self.value["batchItemFailures"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|f| f["itemIdentifier"].as_str().map(str::to_owned))
            .collect()
    }

    /// The answer as JSON (`null` for `()`).
    pub fn json(&self) -> &Value {
        &self.value
    }
}

/// A request being built; finish with [`send`](Self::send).
#[derive(Debug)]
pub struct TestRequest<'c> {
    client: &'c TestClient,
    method: String,
    path_and_query: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    base64: bool,
    authorizer: Option<Value>,
    source_ip: String,
}

impl TestRequest<'_> {
    /// Adds a header (repeat for multiple values).
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// A JSON body with `Content-Type: application/json`.
    pub fn json(self, value: &impl serde::Serialize) -> Self {
        let body = serde_json::to_vec(value).unwrap_or_default();
        self.header("Content-Type", "application/json").body(body)
    }

    /// A form body with `Content-Type: application/x-www-form-urlencoded`.
    pub fn form(self, pairs: &[(&str, &str)]) -> Self {
        let body = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs)
            .finish();
        self.header("Content-Type", "application/x-www-form-urlencoded")
            .body(body)
    }

    /// A raw body.
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }

    /// Sends the body base64-encoded (`isBase64Encoded: true`), as API Gateway does for
    /// binary media types.
    pub fn base64(mut self) -> Self {
        self.base64 = true;
        self
    }

    /// Sets `requestContext.authorizer` (e.g. `{"claims": {...}}` for Cognito).
    pub fn authorizer(mut self, value: Value) -> Self {
        self.authorizer = Some(value);
        self
    }

    /// Sets the caller's IP address.
    pub fn source_ip(mut self, ip: &str) -> Self {
        self.source_ip = ip.to_owned();
        self
    }

    /// The REST (v1) proxy event this request becomes, as JSON.
    pub fn to_event(&self) -> Value {
        serde_json::from_slice(&self.event_bytes()).expect("a REST event is JSON")
    }

    /// The REST (v1) proxy event, built by the same builder as `portico local`'s gateway:
    /// stage `test`, the execute-api host (or the one given with [`TestClient::with_host`]).
    fn event_bytes(&self) -> Vec<u8> {
        let (path, query) = match self.path_and_query.split_once('?') {
            Some((path, query)) => (path, Some(query)),
            None => (self.path_and_query.as_str(), None),
        };
        let host = self.client.host.as_str();
        let mut headers: Vec<(String, String)> = vec![("Host".to_owned(), host.to_owned())];
        headers.extend(self.headers.iter().cloned());
        // The stage is in the client's path only on an execute-api host.
        let context_path = if host.contains(".execute-api.") {
            format!("/{TEST_STAGE}{path}")
        } else {
            path.to_owned()
        };
        let (resource, api_key) = self.gateway_resource(path);
        let mut context = apigw::RestContext::new(TEST_STAGE, &context_path, host);
        context.source_ip = &self.source_ip;
        context.authorizer = self.authorizer.as_ref();
        context.api_key = api_key.as_deref().map(|key| (key, TEST_API_KEY_ID));
        apigw::RestRequest {
            method: &self.method,
            path,
            query,
            headers: &headers,
            body: &self.body,
            binary_body: self.base64,
            resource: &resource,
            context,
        }
        .to_vec()
        .expect("a REST event serializes")
    }

    /// The resource the API matches for `path`, its path parameters, and the API key it
    /// checked: a route that requires a key is its own resource (reached with a key when the
    /// route's method is the request's, `HEAD` by `GET`; other methods take the resource's open
    /// `ANY`, without one); every other path is `/` or `/{proxy+}`.
    fn gateway_resource(&self, path: &str) -> (apigw::Resource<'static>, Option<String>) {
        use crate::route::RouteMethod;
        use crate::router::RouteMatch;
        let app = &self.client.app.inner;
        let method = http::Method::from_bytes(self.method.as_bytes()).ok();
        let found = method.as_ref().map(|m| (m, app.router.at(m, path)));
        let keyed = match found {
            Some((method, RouteMatch::Found { route, params }))
                if route.options.api_key_required =>
            {
                let with_key = match &route.method {
                    RouteMethod::Any => true,
                    // `HEAD` is the `GET`'s, as in `portico local`'s gateway.
                    RouteMethod::One(m) => {
                        m == method || (*method == http::Method::HEAD && *m == http::Method::GET)
                    }
                };
                Some((route.path, params, with_key))
            }
            // A method the keyed resource lacks: its open `ANY`, without a key.
            Some((_, RouteMatch::MethodNotAllowed { routes, .. })) => routes
                .iter()
                .find(|r| r.options.api_key_required)
                .map(|r| (r.path, Vec::new(), false)),
            _ => None,
        };
        if let Some((template, params, with_key)) = keyed {
            let key = with_key.then(|| {
                self.headers
                    .iter()
                    .find(|(name, _)| name.eq_ignore_ascii_case("x-api-key"))
                    .map_or_else(|| TEST_API_KEY.to_owned(), |(_, v)| v.clone())
            });
            let parameters = params
                .into_iter()
                .map(|(name, value)| (name.to_string(), value))
                .collect();
            let resource = apigw::Resource {
                path: template,
                parameters,
            };
            return (resource, key);
        }
        (apigw::Resource::for_path(path), None)
    }

    /// Runs the request through the app.
    ///
    /// # Panics
    /// When the app answers with something other than a REST proxy response (a bug in the
    /// framework), or the invocation fails (which an HTTP event never should).
    pub async fn send(self) -> TestResponse {
        let payload = String::from_utf8(self.event_bytes()).expect("JSON is UTF-8");
        match self.client.invoke_raw(&payload).await {
            Ok(out) => TestResponse::from_proxy_json(&out),
            Err((kind, message)) => panic!("the invocation failed: {kind}: {message}"),
        }
    }
}

/// A response decoded from the REST proxy response JSON.
#[derive(Debug, Clone)]
pub struct TestResponse {
    status: StatusCode,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    base64: bool,
    raw: Value,
}

impl TestResponse {
    fn from_proxy_json(out: &str) -> Self {
        let proxy = apigw::parse_proxy_response(out.as_bytes(), apigw::PayloadFormat::RestV1)
            .unwrap_or_else(|e| panic!("the app's reply is not a REST proxy response: {e}"));
        let raw: Value = serde_json::from_str(out).expect("a proxy response is JSON");
        let status = StatusCode::from_u16(proxy.status).expect("statusCode is a valid status");
        Self {
            status,
            headers: proxy.header_pairs(),
            base64: proxy.body.is_base64(),
            body: proxy.body.into_bytes(),
            raw,
        }
    }

    /// The status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The first value of a header (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        apigw::first_header(&self.headers, name)
    }

    /// Every value of a header (case-insensitive), e.g. each `Set-Cookie`.
    pub fn header_all(&self, name: &str) -> Vec<&str> {
        apigw::header_values(&self.headers, name)
    }

    /// The body bytes (base64-decoded when it was sent encoded).
    pub fn bytes(&self) -> &[u8] {
        &self.body
    }

    /// The body as text (lossy).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body parsed as JSON.
    ///
    /// # Panics
    /// When the body is not JSON.
    #[track_caller]
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("the body is JSON")
    }

    /// Whether the body was base64-encoded on the wire.
    pub fn is_base64(&self) -> bool {
        self.base64
    }

    /// The proxy response JSON exactly as Lambda would return it to API Gateway.
    pub fn raw(&self) -> &Value {
        &self.raw
    }
}

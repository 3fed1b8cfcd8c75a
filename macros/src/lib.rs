//! Attribute macros for [Portico](https://docs.rs/portico): `#[route]`, `#[get]`, `#[post]`,
//! `#[put]`, `#[delete]`, `#[patch]`, `#[head]`, `#[options]`, `#[schedule]`, `#[function]` and
//! the event handlers `#[on_sqs_message]`, `#[on_sns_message]`, `#[on_s3_event]`, `#[on_event]`
//! and `#[on_dynamodb_record]`.
//!
//! Use them through `portico` (which re-exports them), not by depending on this crate.
//!
//! Each attribute keeps the function it is put on unchanged and generates, next to it, a hidden
//! descriptor type of the same name (in the type namespace) that `routes![...]` /
//! `schedules![...]` / `functions![...]` turn into a `Route` / `Schedule` / `Function` value carrying method, path, options and
//! the attribute's source location:
//!
//! ```text
//! #[get("/users/{id}", api_key_required = true)]
//! async fn get_user(id: String, Query(page): Query<Page>) -> Json<User> { ... }
//!
//! // expands to the function, unchanged, plus:
//! #[allow(non_camel_case_types)]
//! #[doc(hidden)]
//! struct get_user {}
//! impl ::portico::__private::RouteDef for get_user {
//!     fn route() -> ::portico::__private::Route { /* GET, "/users/{id}", handler, … */ }
//! }
//! ```
//!
//! Everything is checked at compile time, with the error on the offending token: the path
//! template (API Gateway syntax, by the same parser the router uses), that every path parameter
//! has an argument of the same name and every scalar argument is a path parameter, the options,
//! the schedule expression (EventBridge rules, by the same parser the local scheduler uses), and
//! that argument and return types implement the framework's traits. All errors are reported
//! together, and the function is emitted even then so that IDEs keep resolving it.
//!
//! Internals: each attribute is `parse` → `validate` → `expand`; the entry-point kinds
//! (schedules, functions, event handlers) share one such pipeline (`entry.rs`), each kind a
//! table of its words, options and runtime items. Generated code names runtime items only
//! through `::portico::__private`, all listed in `paths.rs`.

mod entry;
#[cfg(test)]
mod entry_kinds_tests;
mod errors;
mod events;
mod function;
mod handler;
mod options;
mod paths;
mod route;
mod schedule;

use proc_macro::TokenStream;

use route::RouteKind;

/// Declares a route answering one HTTP method, or every method with `ANY`.
///
/// ```
/// use portico::prelude::*;
/// # #[derive(serde::Deserialize)] struct UserPatch { name: String }
/// # #[derive(serde::Serialize)] struct User { id: u64, name: String }
///
/// #[route(PATCH, "/users/{id}", api_key_required = true)]
/// async fn patch_user(id: u64, Json(patch): Json<UserPatch>) -> Result<Json<User>, HttpError> {
///     Ok(Json(User { id, name: patch.name }))
/// }
/// # let routes = routes![patch_user];
/// # assert!(routes[0].options.api_key_required);
/// ```
///
/// A path parameter without an argument of its name does not compile:
///
/// ```compile_fail
/// use portico::prelude::*;
///
/// #[route(GET, "/users/{id}")]
/// async fn get_user() -> &'static str { "which user?" }
/// ```
///
/// The method is one of `GET`, `POST`, `PUT`, `DELETE`, `PATCH`, `HEAD`, `OPTIONS`, `ANY`. The
/// path uses API Gateway's syntax: `/users/{id}`, greedy `/files/{path+}` last. Options:
/// - `api_key_required = true | false`: the gateway demands an API key;
/// - `content_types = ["application/json", ...]`: accepted request media types;
/// - `cors = true | false | "https://origin"`: overrides the app's CORS policy;
/// - `name = "route_name"`: the name `url_for` knows the route by (default: the function's).
///
/// An argument named like a path parameter receives it (its type implements `FromStr`); other
/// arguments are extractors (`FromRequest`). The return type implements `IntoResponse`.
#[proc_macro_attribute]
pub fn route(attr: TokenStream, item: TokenStream) -> TokenStream {
    route::attribute(RouteKind::Route, attr.into(), item.into()).into()
}

/// The `#[get]`, `#[post]`, … attributes: `#[route(METHOD, ...)]` with the method fixed.
macro_rules! route_shortcuts {
    ($($(#[doc = $doc:literal])* $name:ident => $method:literal;)*) => {$(
        $(#[doc = $doc])*
        #[proc_macro_attribute]
        pub fn $name(attr: TokenStream, item: TokenStream) -> TokenStream {
            route::attribute(RouteKind::Shortcut($method), attr.into(), item.into()).into()
        }
    )*};
}

route_shortcuts! {
    /// Declares a `GET` route: `#[get("/path", options...)]`; see [`macro@route`].
    get => "GET";
    /// Declares a `POST` route: `#[post("/path", options...)]`; see [`macro@route`].
    post => "POST";
    /// Declares a `PUT` route: `#[put("/path", options...)]`; see [`macro@route`].
    put => "PUT";
    /// Declares a `DELETE` route: `#[delete("/path", options...)]`; see [`macro@route`].
    delete => "DELETE";
    /// Declares a `PATCH` route: `#[patch("/path", options...)]`; see [`macro@route`].
    patch => "PATCH";
    /// Declares a `HEAD` route: `#[head("/path", options...)]`; see [`macro@route`].
    head => "HEAD";
    /// Declares an `OPTIONS` route: `#[options("/path", options...)]`; see [`macro@route`].
    options => "OPTIONS";
}

/// The entry-point attributes: each runs the shared pipeline (`entry.rs`) with its kind.
macro_rules! entry_attributes {
    ($($(#[doc = $doc:literal])* $name:ident => $kind:path;)*) => {$(
        $(#[doc = $doc])*
        #[proc_macro_attribute]
        pub fn $name(attr: TokenStream, item: TokenStream) -> TokenStream {
            entry::attribute(&$kind, attr.into(), item.into()).into()
        }
    )*};
}

entry_attributes! {
    /// Declares a handler run on an EventBridge schedule.
    ///
    /// ```
    /// use portico::prelude::*;
    ///
    /// #[schedule("rate(5 minutes)")]
    /// async fn cleanup(event: ScheduledEvent) -> Result<(), Error> {
    ///     println!("cleaning up at {}", event.time);
    ///     Ok(())
    /// }
    ///
    /// #[schedule("cron(0 12 * * ? *)", name = "daily-report")]
    /// fn daily_report() {}
    /// # let schedules = schedules![cleanup, daily_report];
    /// # assert_eq!(schedules[1].name, "daily-report");
    /// ```
    ///
    /// An expression EventBridge would refuse does not compile:
    ///
    /// ```compile_fail
    /// use portico::prelude::*;
    ///
    /// #[schedule("rate(1 minutes)")] // `rate(1 minute)`: singular for 1
    /// fn tick() {}
    /// ```
    ///
    /// The expression is `rate(value unit)` or `cron(minutes hours day-of-month month day-of-week
    /// year)` as EventBridge rules accept it, checked at compile time. `name` (letters, digits, `-`,
    /// `_`) is the entry-point name; the function's name by default. Arguments implement
    /// `FromScheduleInvocation` (`ScheduledEvent`, `State<T>`, `LambdaContext`); the return type is
    /// `()` or `Result<(), E>`.
    schedule => schedule::SCHEDULE;
    /// Declares a function invoked directly with any JSON event (Step Functions' `lambda:invoke`
    /// and `.waitForTaskToken` tasks, `aws lambda invoke`, other services), returning JSON.
    ///
    /// ```
    /// use portico::prelude::*;
    /// use serde::Deserialize;
    /// use serde_json::{Value, json};
    ///
    /// #[derive(Deserialize)]
    /// struct NotifyInput { task_token: String, employee: String }
    ///
    /// #[function]
    /// async fn notify(Json(input): Json<NotifyInput>, ctx: LambdaContext) -> Result<Json<Value>, Error> {
    ///     Ok(Json(json!({ "notified": input.employee, "token_length": input.task_token.len() })))
    /// }
    ///
    /// #[function(name = "audit-log")]
    /// async fn audit(Json(event): Json<Value>) {
    ///     println!("{event}");
    /// }
    /// # let functions = functions![notify, audit];
    /// # assert_eq!(functions[1].name, "audit-log");
    /// ```
    ///
    /// A function handler is `async`:
    ///
    /// ```compile_fail
    /// use portico::prelude::*;
    ///
    /// #[function]
    /// fn notify(Json(event): Json<serde_json::Value>) {}
    /// ```
    ///
    /// `name` (letters, digits, `-`, `_`; not `api`) is the entry-point name, the function's name by
    /// default: the deployed Lambda function runs it with `PORTICO_HANDLER=<name>`, and every
    /// payload it receives is the event. Arguments implement `FromFunctionInvocation`: `Json<T>`
    /// (the event, `T: DeserializeOwned`; an event that does not deserialize fails the invocation
    /// with `errorType` `InvalidEvent`), `State<T>`, `LambdaContext`. The return type is `Json<T>`
    /// (`T: Serialize`), `()` (`null`), or `Result` of those with an error that implements
    /// `Display`, reported as a Lambda function error (`errorType`: the error's type name, or that
    /// of a `FunctionError`).
    function => function::FUNCTION;
    /// Declares a handler of an SQS queue's messages, in batches.
    ///
    /// ```
    /// use portico::prelude::*;
    /// use portico::events::{BatchItemFailures, SqsEvent};
    ///
    /// #[on_sqs_message(queue = "jobs", batch_size = 10)]
    /// async fn resize(event: SqsEvent) -> BatchItemFailures {
    ///     let mut failures = BatchItemFailures::new();
    ///     for message in &event.records {
    ///         if message.body.as_deref().unwrap_or_default().is_empty() {
    ///             failures.push(message.message_id.clone().unwrap_or_default());
    ///         }
    ///     }
    ///     failures
    /// }
    /// # let handlers = event_handlers![resize];
    /// # assert_eq!(handlers[0].name, "resize");
    /// ```
    ///
    /// A batch over 10 needs a batching window, as AWS requires:
    ///
    /// ```compile_fail
    /// use portico::prelude::*;
    ///
    /// #[on_sqs_message(queue = "jobs", batch_size = 100)]
    /// async fn resize(event: portico::events::SqsEvent) {}
    /// ```
    ///
    /// Options: `queue` (required: the queue's logical name in `portico.toml`), `batch_size`
    /// (1 to 10000, default 10; over 10 only with `max_batching_window` of at least 1),
    /// `max_batching_window` (seconds, 0 to 300, default 0), `name` (the entry point; the
    /// function's name by default). Arguments implement `FromEventInvocation` (`SqsEvent`,
    /// `State<T>`, `LambdaContext`); the return type is `()`, `BatchItemFailures`, or `Result` of
    /// those (an `Err` fails the whole batch).
    on_sqs_message => events::SQS;
    /// Declares a handler of an SNS topic's notifications.
    ///
    /// ```
    /// use portico::prelude::*;
    /// use portico::events::SnsEvent;
    ///
    /// #[on_sns_message(topic = "alerts")]
    /// async fn page(event: SnsEvent) -> Result<(), Error> {
    ///     for record in &event.records {
    ///         println!("{}", record.sns.message);
    ///     }
    ///     Ok(())
    /// }
    /// # let _ = event_handlers![page];
    /// ```
    ///
    /// Options: `topic` (required: the topic's logical name in `portico.toml`), `name`. The
    /// return type is `()` or `Result<(), E>`.
    on_sns_message => events::SNS;
    /// Declares a handler of an S3 bucket's event notifications.
    ///
    /// ```
    /// use portico::prelude::*;
    /// use portico::events::S3Event;
    ///
    /// #[on_s3_event(bucket = "uploads", events = ["s3:ObjectCreated:*"], prefix = "in/", suffix = ".jpg")]
    /// async fn thumbnail(event: S3Event) -> Result<(), Error> {
    ///     for record in &event.records {
    ///         println!("{:?}", record.s3.object.key);
    ///     }
    ///     Ok(())
    /// }
    /// # let _ = event_handlers![thumbnail];
    /// ```
    ///
    /// An event type S3 does not send does not compile:
    ///
    /// ```compile_fail
    /// use portico::prelude::*;
    ///
    /// #[on_s3_event(bucket = "uploads", events = ["s3:ObjectCreated:Upload"])]
    /// async fn thumbnail(event: portico::events::S3Event) {}
    /// ```
    ///
    /// Options: `bucket` (required: the bucket's logical name in `portico.toml`), `events` (S3
    /// event types, default `["s3:ObjectCreated:*"]`), `prefix` and `suffix` (object key
    /// filters), `name`. The return type is `()` or `Result<(), E>`.
    on_s3_event => events::S3;
    /// Declares a handler of the EventBridge events that match a pattern.
    ///
    /// ```
    /// use portico::prelude::*;
    /// use portico::events::EventBridgeEvent;
    ///
    /// #[on_event(pattern = r#"{"source": ["shop.orders"], "detail": {"total": [{"numeric": [">", 100]}]}}"#)]
    /// async fn big_order(event: EventBridgeEvent) -> Result<(), Error> {
    ///     println!("{}", event.detail);
    ///     Ok(())
    /// }
    /// # let _ = event_handlers![big_order];
    /// ```
    ///
    /// A pattern EventBridge would refuse does not compile:
    ///
    /// ```compile_fail
    /// use portico::prelude::*;
    ///
    /// #[on_event(pattern = r#"{"source": "shop.orders"}"#)] // values are arrays: ["shop.orders"]
    /// async fn orders(event: portico::events::EventBridgeEvent) {}
    /// ```
    ///
    /// Options: `pattern` (required: the rule's event pattern as JSON, checked at compile time by
    /// the matcher the local cloud uses), `name`. Arguments: `EventBridgeEvent<T>` (`T`: the
    /// `detail`, `serde_json::Value` by default), `State<T>`, `LambdaContext`; the return type is
    /// `()` or `Result<(), E>`.
    on_event => events::EVENTBRIDGE;
    /// Declares a handler of a DynamoDB table's stream records, in batches.
    ///
    /// ```
    /// use portico::prelude::*;
    /// use portico::events::{BatchItemFailures, DynamoDbEvent};
    ///
    /// #[on_dynamodb_record(table = "users", starting_position = "TRIM_HORIZON", batch_size = 100)]
    /// async fn audit(event: DynamoDbEvent) -> BatchItemFailures {
    ///     BatchItemFailures::new()
    /// }
    /// # let _ = event_handlers![audit];
    /// ```
    ///
    /// Options: `table` (required: the table's logical name in `portico.toml`),
    /// `starting_position` (`TRIM_HORIZON` or `LATEST`, the default), `batch_size` (1 to 10000,
    /// default 100), `name`. The return type is `()`, `BatchItemFailures` (by sequence number),
    /// or `Result` of those.
    on_dynamodb_record => events::DYNAMODB;
}

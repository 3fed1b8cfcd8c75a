//! Attribute macros for [Portico](https://docs.rs/portico): `#[route]`, `#[get]`, `#[post]`,
//! `#[put]`, `#[delete]`, `#[patch]`, `#[head]`, `#[options]`, `#[schedule]` and `#[function]`.
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
//! Internals: each attribute is `parse` → `validate` → `expand`; generated code names runtime
//! items only through `::portico::__private`, all listed in `paths.rs`.

mod errors;
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

/// Declares a `GET` route: `#[get("/path", options...)]`; see [`macro@route`].
#[proc_macro_attribute]
pub fn get(attr: TokenStream, item: TokenStream) -> TokenStream {
    route::attribute(RouteKind::Shortcut("GET"), attr.into(), item.into()).into()
}

/// Declares a `POST` route: `#[post("/path", options...)]`; see [`macro@route`].
#[proc_macro_attribute]
pub fn post(attr: TokenStream, item: TokenStream) -> TokenStream {
    route::attribute(RouteKind::Shortcut("POST"), attr.into(), item.into()).into()
}

/// Declares a `PUT` route: `#[put("/path", options...)]`; see [`macro@route`].
#[proc_macro_attribute]
pub fn put(attr: TokenStream, item: TokenStream) -> TokenStream {
    route::attribute(RouteKind::Shortcut("PUT"), attr.into(), item.into()).into()
}

/// Declares a `DELETE` route: `#[delete("/path", options...)]`; see [`macro@route`].
#[proc_macro_attribute]
pub fn delete(attr: TokenStream, item: TokenStream) -> TokenStream {
    route::attribute(RouteKind::Shortcut("DELETE"), attr.into(), item.into()).into()
}

/// Declares a `PATCH` route: `#[patch("/path", options...)]`; see [`macro@route`].
#[proc_macro_attribute]
pub fn patch(attr: TokenStream, item: TokenStream) -> TokenStream {
    route::attribute(RouteKind::Shortcut("PATCH"), attr.into(), item.into()).into()
}

/// Declares a `HEAD` route: `#[head("/path", options...)]`; see [`macro@route`].
#[proc_macro_attribute]
pub fn head(attr: TokenStream, item: TokenStream) -> TokenStream {
    route::attribute(RouteKind::Shortcut("HEAD"), attr.into(), item.into()).into()
}

/// Declares an `OPTIONS` route: `#[options("/path", options...)]`; see [`macro@route`].
#[proc_macro_attribute]
pub fn options(attr: TokenStream, item: TokenStream) -> TokenStream {
    route::attribute(RouteKind::Shortcut("OPTIONS"), attr.into(), item.into()).into()
}

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
#[proc_macro_attribute]
pub fn schedule(attr: TokenStream, item: TokenStream) -> TokenStream {
    schedule::attribute(attr.into(), item.into()).into()
}

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
#[proc_macro_attribute]
pub fn function(attr: TokenStream, item: TokenStream) -> TokenStream {
    function::attribute(attr.into(), item.into()).into()
}

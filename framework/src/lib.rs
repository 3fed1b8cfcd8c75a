//! Portico: web APIs on AWS Lambda behind Amazon API Gateway, with routes declared by
//! attribute macros.
//!
//! Every route of an app compiles into one Lambda proxy handler that sits behind a REST API
//! `/{proxy+}` resource with method `ANY`; the same binary also runs `#[schedule]` handlers
//! and `#[function]` handlers (direct invocations, e.g. from Step Functions).
//! The `portico` CLI runs the app in a local cloud and deploys it.
//!
//! ```
//! use portico::prelude::*;
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Serialize)]
//! struct User { id: String, name: String }
//!
//! #[derive(Deserialize)]
//! struct NewUser { name: String }
//!
//! #[get("/users/{id}")]
//! async fn get_user(id: String) -> Json<User> {
//!     Json(User { id, name: "Ada".into() })
//! }
//!
//! #[post("/users", content_types = ["application/json"])]
//! async fn create_user(Json(new): Json<NewUser>) -> Result<(StatusCode, Json<User>), HttpError> {
//!     if new.name.is_empty() {
//!         return Err(HttpError::unprocessable("name must not be empty"));
//!     }
//!     Ok((StatusCode::CREATED, Json(User { id: "u-1".into(), name: new.name })))
//! }
//!
//! #[schedule("rate(5 minutes)")]
//! async fn cleanup(event: ScheduledEvent) -> Result<(), Error> {
//!     println!("cleaning up at {}", event.time);
//!     Ok(())
//! }
//!
//! fn app() -> App {
//!     App::new()
//!         .routes(routes![get_user, create_user])
//!         .schedules(schedules![cleanup])
//! }
//!
//! // In `main`: `portico::run(app())`. In tests, the in-process client:
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let client = portico::testing::TestClient::new(app());
//! let res = client.get("/users/42").send().await;
//! assert_eq!(res.json()["id"], "42");
//! # });
//! ```
//!
//! An existing axum (or any tower `Service`) app moves onto Portico with
//! `App::service` (feature `tower`); see the repository's `docs/from-lambda-http.md`.
//!
//! See the repository's `docs/framework.md` for routing rules, extractors, responses, errors,
//! CORS, stages and event sources.

#![warn(missing_docs)]

mod app;
mod cors;
mod dispatch;
mod error;
mod event;
pub mod events;
mod extract;
mod function;
mod log;
pub mod manifest;
mod request;
mod response;
mod route;
mod router;
mod runtime;
mod runtime_client;
mod scheduled;
#[cfg(feature = "tower")]
mod service;
pub mod testing;

#[doc(hidden)]
pub mod __private;

pub use app::{App, BuildError, BuiltApp};
pub use bytes::Bytes;
pub use cors::Cors;
pub use error::{Error, HttpError, ResponseError, UrlError};
pub use extract::{
    Form, FromRequest, FromScheduleInvocation, LambdaContext, Query, Rejection, RejectionKind,
    State, Text,
};
pub use function::{
    FromFunctionInvocation, Function, FunctionError, FunctionInvocation, IntoFunctionResult,
};
pub use http::{self, HeaderMap, HeaderValue, Method, StatusCode, header};
pub use portico_macros::{
    delete, function, get, head, on_dynamodb_record, on_event, on_s3_event, on_sns_message,
    on_sqs_message, options, patch, post, put, route, schedule,
};
pub use request::{EventSource, Request, RequestContext};
pub use response::{BinaryBody, Body, Html, IntoResponse, Json, Redirect, Response};
pub use route::{Route, RouteCors, RouteMethod, RouteOptions, Schedule};
pub use router::RouteConflict;
#[doc(hidden)]
pub use runtime::bench as __bench;
pub use runtime::run;
pub use scheduled::{IntoScheduleResult, ScheduledEvent};
#[cfg(feature = "tower")]
pub use service::{ServiceBody, ServiceContext};

/// Decoding entry point for the fuzz target (`framework/fuzz`); not public API.
#[doc(hidden)]
pub mod __fuzz {
    pub use crate::event::fuzz_decode_and_encode;
}

/// Everything an app's `main.rs` usually needs.
pub mod prelude {
    pub use crate::{
        App, Bytes, Cors, Error, Form, FunctionError, HeaderMap, Html, HttpError, IntoResponse,
        Json, LambdaContext, Query, Redirect, Request, RequestContext, ResponseError,
        ScheduledEvent, State, StatusCode, delete, event_handlers, function, functions, get, head,
        on_dynamodb_record, on_event, on_s3_event, on_sns_message, on_sqs_message, options, patch,
        post, put, route, routes, schedule, schedules,
    };
}

/// The route descriptors of handler functions, for [`App::routes`].
///
/// ```
/// use portico::prelude::*;
/// #[get("/")]
/// fn index() -> &'static str { "hi" }
/// let routes = routes![index];
/// assert_eq!(routes[0].path, "/");
/// ```
#[macro_export]
macro_rules! routes {
    ($($handler:path),* $(,)?) => {
        ::std::vec![$(<$handler as $crate::__private::RouteDef>::route()),*]
    };
}

/// The function descriptors of `#[function]` handlers, for [`App::functions`].
///
/// ```
/// use portico::prelude::*;
/// #[function(name = "notify-manager")]
/// async fn notify(Json(event): Json<serde_json::Value>) -> Json<serde_json::Value> { Json(event) }
/// let functions = functions![notify];
/// assert_eq!(functions[0].name, "notify-manager");
/// ```
#[macro_export]
macro_rules! functions {
    ($($handler:path),* $(,)?) => {
        ::std::vec![$(<$handler as $crate::__private::FunctionDef>::function()),*]
    };
}

/// The descriptors of event handlers (`#[on_sqs_message]`, …), for [`App::event_handlers`].
///
/// ```
/// use portico::prelude::*;
/// #[on_sns_message(topic = "alerts", name = "pager")]
/// async fn page(Json(event): Json<serde_json::Value>) {}
/// let handlers = event_handlers![page];
/// assert_eq!(handlers[0].name, "pager");
/// ```
#[macro_export]
macro_rules! event_handlers {
    ($($handler:path),* $(,)?) => {
        ::std::vec![$(<$handler as $crate::__private::EventHandlerDef>::event_handler()),*]
    };
}

/// The schedule descriptors of `#[schedule]` functions, for [`App::schedules`].
#[macro_export]
macro_rules! schedules {
    ($($handler:path),* $(,)?) => {
        ::std::vec![$(<$handler as $crate::__private::ScheduleDef>::schedule()),*]
    };
}

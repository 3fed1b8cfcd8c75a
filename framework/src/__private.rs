//! The one path table generated code refers to. Not public API: names here may change in any
//! release. `portico-macros` lists every item it uses in `macros/src/paths.rs`.

pub use http;
pub use std::boxed::Box;

pub use crate::events::{EventHandler, EventTrigger, FromEventInvocation, IntoEventResult};
pub use crate::extract::{FromRequest, FromScheduleInvocation};
pub use crate::function::{
    FromFunctionInvocation, Function, FunctionError, FunctionInvocation, IntoFunctionResult,
};
pub use crate::request::Request;
pub use crate::response::{IntoResponse, Response};
pub use crate::route::{
    BoxFuture, Route, RouteCors, RouteMethod, RouteOptions, Schedule, ScheduleInvocation,
};
pub use crate::scheduled::IntoScheduleResult;

/// Implemented by the item `#[get]`, `#[route]`, … generate next to the handler function.
pub trait RouteDef {
    /// The route descriptor.
    fn route() -> Route;
}

/// Implemented by the item `#[schedule]` generates next to the handler function.
pub trait ScheduleDef {
    /// The schedule descriptor.
    fn schedule() -> Schedule;
}

/// Implemented by the item `#[function]` generates next to the handler function.
pub trait FunctionDef {
    /// The function descriptor.
    fn function() -> Function;
}

/// Implemented by the item an event-handler attribute generates next to the handler function.
pub trait EventHandlerDef {
    /// The event handler descriptor.
    fn event_handler() -> EventHandler;
}

/// Runs event handler argument extractor `T`.
#[inline]
pub fn extract_event<T: FromEventInvocation>(inv: &FunctionInvocation) -> Result<T, FunctionError> {
    T::from_invocation(inv)
}

/// Converts an event handler's return value into its JSON result.
#[inline]
pub fn into_event_result<T: IntoEventResult>(value: T) -> Result<Vec<u8>, FunctionError> {
    value.into_event_result()
}

/// Compile-time check, spanned on an event handler argument's type by the macros.
pub const fn assert_from_event<T: FromEventInvocation>() {}

/// Compile-time check, spanned on an event handler's return type by the macros.
pub const fn assert_into_event_result<T: IntoEventResult>() {}

/// Parses the path parameter `name` into `T`; a failure is a 400 response naming the parameter.
// The response is returned by value on purpose: it is the handler's answer, built once.
#[allow(clippy::result_large_err)]
#[inline]
pub fn path_param<T>(req: &Request, name: &'static str) -> Result<T, Response>
where
    T: std::str::FromStr,
    T::Err: std::fmt::Display,
{
    crate::extract::parse_path_param(req, name).map_err(IntoResponse::into_response)
}

/// Runs extractor `T`; a rejection becomes its response.
#[allow(clippy::result_large_err)]
#[inline]
pub fn extract<T: FromRequest>(req: &mut Request) -> Result<T, Response> {
    T::from_request(req).map_err(IntoResponse::into_response)
}

/// Runs schedule argument extractor `T`.
#[inline]
pub fn extract_schedule<T: FromScheduleInvocation>(
    inv: &ScheduleInvocation,
) -> Result<T, crate::Error> {
    T::from_invocation(inv)
}

/// Runs function argument extractor `T`.
#[inline]
pub fn extract_function<T: FromFunctionInvocation>(
    inv: &FunctionInvocation,
) -> Result<T, FunctionError> {
    T::from_invocation(inv)
}

/// Converts a function handler's return value into its JSON result.
#[inline]
pub fn into_function_result<T: IntoFunctionResult>(value: T) -> Result<Vec<u8>, FunctionError> {
    value.into_function_result()
}

/// Converts a handler's return value.
#[inline]
pub fn into_response<T: IntoResponse>(value: T) -> Response {
    value.into_response()
}

/// Converts a schedule handler's return value.
#[inline]
pub fn into_schedule_result<T: IntoScheduleResult>(value: T) -> Result<(), crate::Error> {
    value.into_schedule_result()
}

/// Compile-time check, spanned on a handler argument's type by the macros.
pub const fn assert_from_request<T: FromRequest>() {}

/// Compile-time check, spanned on a path parameter argument's type by the macros.
pub const fn assert_path_param<T>()
where
    T: std::str::FromStr,
    T::Err: std::fmt::Display,
{
}

/// Compile-time check, spanned on a handler's return type by the macros.
pub const fn assert_into_response<T: IntoResponse>() {}

/// Compile-time check, spanned on a schedule handler argument's type by the macros.
pub const fn assert_from_schedule<T: FromScheduleInvocation>() {}

/// Compile-time check, spanned on a schedule handler's return type by the macros.
pub const fn assert_into_schedule_result<T: IntoScheduleResult>() {}

/// Compile-time check, spanned on a function handler argument's type by the macros.
pub const fn assert_from_function<T: FromFunctionInvocation>() {}

/// Compile-time check, spanned on a function handler's return type by the macros.
pub const fn assert_into_function_result<T: IntoFunctionResult>() {}

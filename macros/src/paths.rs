//! Every runtime item generated code refers to. All live in `::portico::__private`, the one
//! hidden path table of the runtime (`framework/src/__private.rs`); nothing else is named.
//!
//! Each function returns the absolute path with the given span, so that a type error in
//! generated code can point at the user's token the path stands next to.

use proc_macro2::{Span, TokenStream};
use quote::quote_spanned;

macro_rules! private_paths {
    ($($(#[doc = $doc:literal])* $name:ident => $($segment:ident)::+;)*) => {
        $(
            $(#[doc = $doc])*
            pub(crate) fn $name(span: Span) -> TokenStream {
                quote_spanned!(span=> ::portico::__private $(::$segment)+)
            }
        )*
    };
}

private_paths! {
    /// Trait implemented by a route's descriptor type.
    route_def => RouteDef;
    /// Route descriptor struct.
    route => Route;
    /// `Any` / `One(Method)`.
    route_method => RouteMethod;
    /// Per-route options (const builder).
    route_options => RouteOptions;
    /// Per-route CORS override.
    route_cors => RouteCors;
    /// `http::Method`, for `Method::GET` and friends.
    http_method => http::Method;
    /// Trait implemented by a schedule's descriptor type.
    schedule_def => ScheduleDef;
    /// Schedule descriptor struct.
    schedule => Schedule;
    /// What a schedule handler receives.
    schedule_invocation => ScheduleInvocation;
    /// What a route handler receives.
    request => Request;
    /// `std::boxed::Box`, for `Box::pin` of the handler future.
    boxed => Box;
    /// Parses a path parameter (`FromStr`) or answers 400.
    path_param => path_param;
    /// Runs a `FromRequest` extractor or answers its rejection.
    extract => extract;
    /// Runs a `FromScheduleInvocation` extractor.
    extract_schedule => extract_schedule;
    /// `IntoResponse::into_response`.
    into_response => into_response;
    /// `IntoScheduleResult::into_schedule_result`.
    into_schedule_result => into_schedule_result;
    /// Compile-time `T: FromRequest` check.
    assert_from_request => assert_from_request;
    /// Compile-time `T: FromStr` (with a displayable error) check.
    assert_path_param => assert_path_param;
    /// Compile-time `T: IntoResponse` check.
    assert_into_response => assert_into_response;
    /// Compile-time `T: FromScheduleInvocation` check.
    assert_from_schedule => assert_from_schedule;
    /// Compile-time `T: IntoScheduleResult` check.
    assert_into_schedule_result => assert_into_schedule_result;
    /// Trait implemented by a function's descriptor type.
    function_def => FunctionDef;
    /// Function descriptor struct.
    function => Function;
    /// What a function handler receives.
    function_invocation => FunctionInvocation;
    /// Runs a `FromFunctionInvocation` extractor.
    extract_function => extract_function;
    /// `IntoFunctionResult::into_function_result`.
    into_function_result => into_function_result;
    /// Compile-time `T: FromFunctionInvocation` check.
    assert_from_function => assert_from_function;
    /// Compile-time `T: IntoFunctionResult` check.
    assert_into_function_result => assert_into_function_result;
    /// Trait implemented by an event handler's descriptor type.
    event_handler_def => EventHandlerDef;
    /// Event handler descriptor struct.
    event_handler => EventHandler;
    /// What fires an event handler (`EventTrigger::Sqs { .. }`, …).
    event_trigger => EventTrigger;
    /// Runs a `FromEventInvocation` extractor.
    extract_event => extract_event;
    /// `IntoEventResult::into_event_result`.
    into_event_result => into_event_result;
    /// Compile-time `T: FromEventInvocation` check.
    assert_from_event => assert_from_event;
    /// Compile-time `T: IntoEventResult` check.
    assert_into_event_result => assert_into_event_result;
}

//! The production path: event bytes → decode → route → handler → encode → response bytes.
//!
//! The runtime, the in-process test client and the benchmark all go through
//! [`handle_event`], so what tests see is what Lambda runs.

use std::borrow::Cow;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use futures_util::FutureExt;
use http::{Method, header};

use crate::app::BuiltApp;
use crate::cors::{self, Cors};
use crate::error::HttpError;
use crate::event::{self, Incoming};
use crate::function::{FunctionError, FunctionFn, FunctionInvocation};
use crate::request::{AppLinks, EventSource, Request};
use crate::response::{IntoResponse, Response};
use crate::route::{Route, RouteMethod, ScheduleInvocation};
use crate::router::RouteMatch;
use crate::scheduled::ScheduledEvent;

/// Which entry point this process serves (chosen by `PORTICO_HANDLER`, see [`crate::run`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Entry {
    /// The HTTP API handler (`PORTICO_HANDLER` unset or `api`).
    Api,
    /// One schedule handler, by name.
    Schedule(&'static str),
    /// One function handler, by name: every payload is its event.
    Function(&'static str),
    /// One event handler, by name: every payload is its event.
    Event(&'static str),
}

/// What to send back to the Runtime API.
#[derive(Debug)]
pub(crate) enum Outcome {
    /// A successful invocation's response payload (JSON).
    Reply(Vec<u8>),
    /// A failed invocation, reported with an `errorType`.
    Failed {
        error_type: Cow<'static, str>,
        message: String,
    },
}

/// Handles one invocation payload.
pub(crate) async fn handle_event(
    app: &BuiltApp,
    entry: &Entry,
    raw: &str,
    lambda: Option<Arc<lambda_runtime::Context>>,
) -> Outcome {
    if let Entry::Function(_) | Entry::Event(_) = entry {
        return run_direct(app, entry, raw, lambda).await;
    }
    match event::decode_event(raw) {
        Ok(Incoming::Http(mut req, format)) => {
            let head = req.method == Method::HEAD;
            req.lambda = lambda;
            let res = handle_request(app, req).await;
            Outcome::Reply(event::encode_response(format, res, head))
        }
        Ok(Incoming::Scheduled(ev)) => run_schedule(app, entry, ev, lambda).await,
        Err(event::DecodeError::BadRequest { format, message }) => {
            let res = with_app_cors(app, HttpError::bad_request(message).into_response());
            Outcome::Reply(event::encode_response(format, res, false))
        }
        Err(err) => Outcome::Failed {
            error_type: err.error_type().into(),
            message: err.to_string(),
        },
    }
}

fn with_app_cors(app: &BuiltApp, mut res: Response) -> Response {
    if let Some(cors) = &app.inner.cors {
        cors.apply(res.headers_mut());
    }
    res
}

/// Routes and runs one HTTP request. Never panics: a handler panic becomes a 500.
pub(crate) async fn handle_request(app: &BuiltApp, mut req: Request) -> Response {
    req.state = Arc::clone(&app.state);
    req.app = Some(Arc::clone(&app.inner) as Arc<dyn AppLinks>);
    let inner = &app.inner;
    match inner.router.at(&req.method, &req.path) {
        #[cfg(feature = "tower")]
        RouteMatch::NotFound if inner.service.is_some() => {
            let service = inner.service.as_ref().expect("checked above");
            crate::service::serve(service, req).await
        }
        RouteMatch::NotFound => with_app_cors(
            app,
            HttpError::not_found(format!("no route for {} {}", req.method, req.path))
                .into_response(),
        ),
        RouteMatch::MethodNotAllowed { allowed, routes } => {
            let policy = routes
                .iter()
                .find_map(|r| Cors::resolve(inner.cors.as_ref(), r.options.cors));
            match policy {
                Some(cors) if cors::is_preflight(&req.method, &req.headers) => {
                    cors.preflight(&allowed)
                }
                // The route's path, another method: the service's (it may answer it).
                #[cfg(feature = "tower")]
                _ if inner.service.is_some() => {
                    let service = inner.service.as_ref().expect("checked above");
                    crate::service::serve(service, req).await
                }
                Some(cors) => {
                    let mut res = HttpError::method_not_allowed(&allowed).into_response();
                    cors.apply(res.headers_mut());
                    res
                }
                None => HttpError::method_not_allowed(&allowed).into_response(),
            }
        }
        RouteMatch::Found { route, params } => {
            let policy = Cors::resolve(inner.cors.as_ref(), route.options.cors);
            if let Some(cors) = &policy {
                if route.method != RouteMethod::One(Method::OPTIONS)
                    && cors::is_preflight(&req.method, &req.headers)
                {
                    let method = match &route.method {
                        RouteMethod::One(m) => vec![m.as_str()],
                        RouteMethod::Any => {
                            vec!["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"]
                        }
                    };
                    return cors.preflight(&method);
                }
            }
            req.params = params;
            let checked =
                check_gateway_resource(route, &req).or_else(|| check_content_type(route, &req));
            let mut res = match checked {
                Some(rejection) => rejection,
                None => run_handler(route, req).await,
            };
            if let Some(cors) = &policy {
                cors.apply(res.headers_mut());
            }
            res
        }
    }
}

/// Defence in depth for routes that are their own API Gateway resource (an API key required;
/// authorizers later): the handler runs only when the event came through that resource, so a
/// path the gateway matched differently from the router (`//requests` reaching `/{proxy+}`,
/// which needs no key) cannot reach it. Answers what API Gateway answers for a missing key,
/// `403 {"message":"Forbidden"}`, and says why on stderr (the function's log).
///
/// Per source (never from the path, whatever its normalisation):
/// - REST API: `resource` (and `requestContext.resourcePath`, when present, agreeing with it)
///   is the route's own template, and `identity.apiKeyId` names the key API Gateway checked.
/// - HTTP API (payload 1.0 or 2.0), function URLs, ALB: they cannot check API keys, so a
///   key-required route never runs behind them.
fn check_gateway_resource(route: &Route, req: &Request) -> Option<Response> {
    if !route.options.api_key_required {
        return None;
    }
    let ctx = &req.context;
    let why = match req.source {
        EventSource::RestApi => match (ctx.resource_path.as_deref(), ctx.api_key_id.as_deref()) {
            (Some(resource), Some(_)) if resource == route.path => return None,
            (Some(resource), _) if resource != route.path => {
                format!(
                    "the event came through resource `{resource}`, not `{}`",
                    route.path
                )
            }
            (None, _) => "the event names no resource".to_owned(),
            (Some(_), _) => "the event carries no API key id (identity.apiKeyId)".to_owned(),
        },
        EventSource::HttpApi => "HTTP APIs cannot check API keys".to_owned(),
        EventSource::FunctionUrl => "function URLs cannot check API keys".to_owned(),
        EventSource::Alb => "Application Load Balancers cannot check API keys".to_owned(),
    };
    eprintln!(
        "portico: refused {} {:?}: route `{}` requires an API key and {why}; answered 403",
        req.method,
        req.path,
        route.name()
    );
    Some(gateway_forbidden())
}

/// API Gateway's answer to a request without a valid API key, byte for byte.
fn gateway_forbidden() -> Response {
    let mut res = crate::response::with_content_type(
        br#"{"message":"Forbidden"}"#.to_vec(),
        "application/json",
    );
    *res.status_mut() = http::StatusCode::FORBIDDEN;
    res.headers_mut().insert(
        "x-amzn-errortype",
        http::HeaderValue::from_static("ForbiddenException"),
    );
    res
}

fn check_content_type(route: &Route, req: &Request) -> Option<Response> {
    let accepted = route.options.content_types;
    if accepted.is_empty() || req.body.is_empty() && req.media_type().is_none() {
        return None;
    }
    let media = req.media_type().unwrap_or_default();
    if accepted.iter().any(|t| t.eq_ignore_ascii_case(&media)) {
        return None;
    }
    Some(
        HttpError::unsupported_media_type(format!(
            "unsupported content type `{media}`; this route accepts {}",
            accepted.join(", ")
        ))
        .into_response(),
    )
}

async fn run_handler(route: &Route, req: Request) -> Response {
    let name = route.handler_name;
    // The handler is called inside the guarded future too, so a panic while building it is
    // caught as well as one while polling it.
    let handler = route.handler;
    match AssertUnwindSafe(async move { handler(req).await })
        .catch_unwind()
        .await
    {
        Ok(mut res) => {
            if res.headers().get(header::CONTENT_LENGTH).is_some() {
                res.headers_mut().remove(header::CONTENT_LENGTH);
            }
            res
        }
        Err(panic) => {
            let what = panic_message(&panic);
            HttpError::internal(format_args!("handler `{name}` panicked: {what}")).into_response()
        }
    }
}

pub(crate) fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> &str {
    panic
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("(non-string panic payload)")
}

async fn run_schedule(
    app: &BuiltApp,
    entry: &Entry,
    event: ScheduledEvent,
    lambda: Option<Arc<lambda_runtime::Context>>,
) -> Outcome {
    let schedule = match entry {
        Entry::Schedule(name) => app.schedules.iter().find(|s| s.name == *name),
        // Function and event-handler entry points never decode events (see `handle_event`).
        Entry::Function(_) | Entry::Event(_) => None,
        // The API function only gets a scheduled event when a rule targets it directly:
        // route by the rule name's suffix, which the CLI names `<app>-<stage>-<schedule>`.
        Entry::Api => app.schedules.iter().find(|s| {
            event
                .resources
                .iter()
                .filter_map(|arn| arn.rsplit('/').next())
                .any(|rule| {
                    rule == s.name || rule.strip_suffix(s.name).is_some_and(|p| p.ends_with('-'))
                })
        }),
    };
    let Some(schedule) = schedule else {
        return Outcome::Failed {
            error_type: "portico.NoScheduleHandler".into(),
            message: format!(
                "a scheduled event arrived but this function ({entry:?}) has no schedule handler for it; \
                 set PORTICO_HANDLER to one of: {}",
                app.schedules
                    .iter()
                    .map(|s| s.name)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
    };
    let inv = ScheduleInvocation {
        event,
        lambda,
        state: Arc::clone(&app.state),
    };
    let handler = schedule.handler;
    match AssertUnwindSafe(async move { handler(inv).await })
        .catch_unwind()
        .await
    {
        Ok(Ok(())) => Outcome::Reply(b"null".to_vec()),
        Ok(Err(err)) => Outcome::Failed {
            error_type: "portico.ScheduleHandlerError".into(),
            message: err.to_string(),
        },
        Err(panic) => Outcome::Failed {
            error_type: "portico.ScheduleHandlerPanic".into(),
            message: format!(
                "schedule `{}` panicked: {}",
                schedule.name,
                panic_message(&panic)
            ),
        },
    }
}

/// Runs the function or event handler `entry` names with the payload as its event. Never
/// panics: a handler panic is a failed invocation (`FunctionPanic`).
async fn run_direct(
    app: &BuiltApp,
    entry: &Entry,
    raw: &str,
    lambda: Option<Arc<lambda_runtime::Context>>,
) -> Outcome {
    let (Entry::Function(wanted) | Entry::Event(wanted)) = *entry else {
        return Outcome::Failed {
            error_type: "portico.NoFunctionHandler".into(),
            message: format!("{entry:?} is not a function or event handler"),
        };
    };
    let is_event = matches!(entry, Entry::Event(_));
    let found = if is_event {
        named(
            app.event_handlers.iter().map(|h| (h.name, h.handler)),
            wanted,
        )
    } else {
        named(app.functions.iter().map(|f| (f.name, f.handler)), wanted)
    };
    let (what, missing) = if is_event {
        ("event handler", "portico.NoEventHandler")
    } else {
        ("function", "portico.NoFunctionHandler")
    };
    let Some((name, handler)) = found else {
        return Outcome::Failed {
            error_type: missing.into(),
            message: format!("this app has no {what} `{wanted}`"),
        };
    };
    let inv = FunctionInvocation {
        event: Arc::from(raw),
        lambda,
        state: Arc::clone(&app.state),
    };
    guarded(what, name, async move { handler(inv).await }).await
}

/// The `(name, handler)` of `entries` named `wanted`.
fn named(
    mut entries: impl Iterator<Item = (&'static str, FunctionFn)>,
    wanted: &str,
) -> Option<(&'static str, FunctionFn)> {
    entries.find(|(name, _)| *name == wanted)
}

/// The outcome of an entry-point handler's future (`what` `name` in messages); a panic is a
/// failed invocation (`FunctionPanic`), never the process's end. The handler is called inside
/// the future, so a panic while building it is caught too.
async fn guarded(
    what: &str,
    name: &str,
    run: impl std::future::Future<Output = Result<Vec<u8>, FunctionError>>,
) -> Outcome {
    match AssertUnwindSafe(run).catch_unwind().await {
        Ok(Ok(result)) => Outcome::Reply(result),
        Ok(Err(err)) => {
            let (error_type, message) = err.into_parts();
            Outcome::Failed {
                error_type,
                message,
            }
        }
        Err(panic) => Outcome::Failed {
            error_type: "FunctionPanic".into(),
            message: format!("{what} `{name}` panicked: {}", panic_message(&panic)),
        },
    }
}

/// Parses `PORTICO_HANDLER`.
pub(crate) fn entry_from(app: &BuiltApp, value: Option<&str>) -> Result<Entry, String> {
    match value {
        None | Some("") | Some("api") => Ok(Entry::Api),
        Some(name) => {
            if let Some(s) = app.schedules.iter().find(|s| s.name == name) {
                return Ok(Entry::Schedule(s.name));
            }
            if let Some(f) = app.functions.iter().find(|f| f.name == name) {
                return Ok(Entry::Function(f.name));
            }
            if let Some(h) = app.event_handlers.iter().find(|h| h.name == name) {
                return Ok(Entry::Event(h.name));
            }
            let list = |names: Vec<&str>| {
                if names.is_empty() {
                    "none".to_owned()
                } else {
                    names.join(", ")
                }
            };
            Err(format!(
                "PORTICO_HANDLER is `{name}`, which is neither `api` nor a schedule, function or \
                 event handler of this app (schedules: {}; functions: {}; event handlers: {})",
                list(app.schedules.iter().map(|s| s.name).collect()),
                list(app.functions.iter().map(|f| f.name).collect()),
                list(app.event_handlers.iter().map(|h| h.name).collect()),
            ))
        }
    }
}

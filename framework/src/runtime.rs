//! The Lambda entry point.

use std::io::Write as _;
use std::sync::Arc;

use lambda_runtime::{Diagnostic, LambdaEvent, service_fn};
use serde_json::value::RawValue;

use crate::app::{App, BuiltApp};
use crate::dispatch::{self, Entry, Outcome};

const REQUIRED_ENV: [&str; 4] = [
    "AWS_LAMBDA_RUNTIME_API",
    "AWS_LAMBDA_FUNCTION_NAME",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
    "AWS_LAMBDA_FUNCTION_VERSION",
];

/// Serves `app` on the Lambda Runtime API until the process is stopped.
///
/// - With `--portico-manifest` as an argument or `PORTICO_MANIFEST=1`, prints the app's
///   manifest (see [`crate::manifest`]) and exits.
/// - `PORTICO_HANDLER` picks the entry point: `api` (the default) serves HTTP events; the
///   name of a `#[schedule]` handler makes this function run that schedule; the name of a
///   `#[function]` handler makes every payload that function's event. One binary thus serves
///   every function of an app.
///
/// Exits with status 1 and a message on stderr when the app does not build (route conflict),
/// `PORTICO_HANDLER` names no entry point, or the Lambda environment is missing. A request
/// never ends the process: handler errors and panics become 500 responses (or failed
/// invocations, for schedules and functions).
pub fn run(app: App) {
    if std::env::args().skip(1).any(|a| a == "--portico-manifest")
        || std::env::var("PORTICO_MANIFEST").is_ok_and(|v| v == "1")
    {
        // A closed pipe (`| head`) is not an error worth a panic.
        let _ = writeln!(
            std::io::stdout().lock(),
            "{}",
            crate::manifest::manifest_json(&app)
        );
        return;
    }
    let app = match app.build() {
        Ok(app) => app,
        Err(err) => fail(&err.to_string()),
    };
    let entry = match dispatch::entry_from(&app, std::env::var("PORTICO_HANDLER").ok().as_deref()) {
        Ok(entry) => entry,
        Err(msg) => fail(&msg),
    };
    let missing: Vec<&str> = REQUIRED_ENV
        .into_iter()
        .filter(|name| std::env::var_os(name).is_none())
        .collect();
    if !missing.is_empty() {
        fail(&format!(
            "not running under a Lambda Runtime API: {} not set. Run the app with `portico local`, \
             deploy it with `portico deploy`, or print its manifest with `--portico-manifest`",
            missing.join(", ")
        ));
    }
    if std::env::var("AWS_LAMBDA_FUNCTION_MEMORY_SIZE").is_ok_and(|v| v.parse::<i32>().is_err()) {
        fail("AWS_LAMBDA_FUNCTION_MEMORY_SIZE is not a number");
    }
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(err) => fail(&format!("cannot start the async runtime: {err}")),
    };
    if let Err(err) = rt.block_on(serve(app, entry)) {
        fail(&format!("the Lambda runtime stopped: {err}"));
    }
}

fn fail(message: &str) -> ! {
    eprintln!("portico: {message}");
    std::process::exit(1)
}

async fn serve(app: BuiltApp, entry: Entry) -> Result<(), lambda_runtime::Error> {
    let app = Arc::new(app);
    let entry = Arc::new(entry);
    let handler = service_fn(move |event: LambdaEvent<Payload>| {
        let app = Arc::clone(&app);
        let entry = Arc::clone(&entry);
        async move { invoke(&app, &entry, event).await }
    });
    lambda_runtime::run(handler).await
}

/// An invocation payload as received: JSON kept raw for the typed decoders, or the reason it
/// is not JSON (reported as `portico.MalformedEvent` instead of failing inside the runtime).
enum Payload {
    Json(Box<RawValue>),
    NotJson(String),
}

impl<'de> serde::Deserialize<'de> for Payload {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(match Box::<RawValue>::deserialize(d) {
            Ok(raw) => Payload::Json(raw),
            Err(err) => Payload::NotJson(err.to_string()),
        })
    }
}

async fn invoke(
    app: &BuiltApp,
    entry: &Entry,
    event: LambdaEvent<Payload>,
) -> Result<Box<RawValue>, Diagnostic> {
    let raw = match event.payload {
        Payload::Json(raw) => raw,
        Payload::NotJson(err) => {
            return outcome_to_payload(Outcome::Failed {
                error_type: "portico.MalformedEvent".into(),
                message: format!("the invocation payload is not JSON: {err}"),
            });
        }
    };
    let context = Arc::new(event.context);
    let outcome = dispatch::handle_event(app, entry, raw.get(), Some(context)).await;
    outcome_to_payload(outcome)
}

fn outcome_to_payload(outcome: Outcome) -> Result<Box<RawValue>, Diagnostic> {
    match outcome {
        Outcome::Reply(bytes) => String::from_utf8(bytes)
            .ok()
            .and_then(|s| RawValue::from_string(s).ok())
            .ok_or_else(|| Diagnostic {
                error_type: "portico.EncodeError".to_owned(),
                error_message: "the response could not be encoded as JSON".to_owned(),
            }),
        Outcome::Failed {
            error_type,
            message,
        } => {
            eprintln!("portico: {error_type}: {message}");
            Err(Diagnostic {
                error_type: error_type.into_owned(),
                error_message: message,
            })
        }
    }
}

/// The in-process hot path exactly as the runtime runs it, for benchmarks: payload bytes
/// (as `lambda_runtime` receives them) → response payload bytes (as it sends them).
/// Not public API.
#[doc(hidden)]
pub mod bench {
    use super::*;

    /// Handles one payload as the `api` entry point. Handlers must not wait on I/O: the
    /// future is polled to completion on the calling thread without a reactor.
    pub fn handle_payload(app: &BuiltApp, payload: &[u8]) -> Vec<u8> {
        let raw: Box<RawValue> = match serde_json::from_slice(payload) {
            Ok(raw) => raw,
            Err(err) => {
                return format!("{{\"errorType\":\"deserialize\",\"errorMessage\":\"{err}\"}}")
                    .into_bytes();
            }
        };
        let outcome = futures_util::FutureExt::now_or_never(dispatch::handle_event(
            app,
            &Entry::Api,
            raw.get(),
            None,
        ))
        .expect("benchmark handlers complete without waiting");
        match outcome_to_payload(outcome) {
            Ok(raw) => serde_json::to_vec(&raw).unwrap_or_default(),
            Err(diag) => diag.error_message.into_bytes(),
        }
    }
}

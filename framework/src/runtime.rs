//! The Lambda entry point.

use std::io::Write as _;
use std::sync::Arc;

use crate::app::{App, BuiltApp};
use crate::dispatch::{self, Entry, Outcome};
use crate::log::Excerpt;
use crate::runtime_client::{self, ClientError, Endpoint, RuntimeClient};

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
/// `PORTICO_PUBLIC_URL`, when set, is the app's [`App::public_url`] unless the app sets one.
///
/// Exits with status 1 and a message on stderr when the app does not build (route conflict),
/// `PORTICO_HANDLER` names no entry point, `PORTICO_PUBLIC_URL` is not an http(s) URL, or the
/// Lambda environment is missing. A request
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
    let mut app = app;
    if app.public_url.is_none() {
        if let Some(url) = std::env::var("PORTICO_PUBLIC_URL")
            .ok()
            .filter(|url| !url.trim().is_empty())
        {
            let url = url.trim();
            if let Err(why) = crate::app::check_public_url(url) {
                fail(&format!("PORTICO_PUBLIC_URL: {why}"));
            }
            app.public_url = Some(url.trim_end_matches('/').to_owned());
        }
    }
    let app = match app.build() {
        Ok(app) => app,
        Err(err) => init_failed("portico.InvalidApp", &err.to_string()),
    };
    let entry = match dispatch::entry_from(&app, std::env::var("PORTICO_HANDLER").ok().as_deref()) {
        Ok(entry) => entry,
        Err(msg) => init_failed("portico.UnknownHandler", &msg),
    };
    let missing: Vec<&str> = REQUIRED_ENV
        .into_iter()
        .filter(|name| std::env::var_os(name).is_none())
        .collect();
    if !missing.is_empty() {
        init_failed(
            "portico.MissingEnvironment",
            &format!(
                "not running under a Lambda Runtime API: {} not set. Run the app with `portico \
                 local`, deploy it with `portico deploy`, or print its manifest with \
                 `--portico-manifest`",
                missing.join(", ")
            ),
        );
    }
    if std::env::var("AWS_LAMBDA_FUNCTION_MEMORY_SIZE").is_ok_and(|v| v.parse::<i32>().is_err()) {
        init_failed(
            "portico.InvalidEnvironment",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE is not a number",
        );
    }
    let endpoint = match std::env::var("AWS_LAMBDA_RUNTIME_API")
        .map_err(|_| "AWS_LAMBDA_RUNTIME_API is not UTF-8".to_owned())
        .and_then(|v| Endpoint::parse(&v).map_err(|e| e.to_string()))
    {
        Ok(endpoint) => Arc::new(endpoint),
        Err(message) => fail(&message),
    };
    let rt = match runtime() {
        Ok(rt) => rt,
        Err(err) => fail(&format!("cannot start the async runtime: {err}")),
    };
    if let Err(err) = rt.block_on(serve(app, entry, endpoint)) {
        fail(&format!("the Lambda runtime stopped: {err}"));
    }
}

fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
}

fn fail(message: &str) -> ! {
    eprintln!("portico: {message}");
    std::process::exit(1)
}

/// Ends an initialization that cannot go on: the message goes to stderr and, when the
/// Runtime API is known, to `/runtime/init/error`, so that Lambda fails the invocation with
/// it rather than with a bare exit status. Exits with status 1.
fn init_failed(error_type: &str, message: &str) -> ! {
    eprintln!("portico: {message}");
    let endpoint = std::env::var("AWS_LAMBDA_RUNTIME_API")
        .ok()
        .and_then(|v| Endpoint::parse(&v).ok());
    if let (Some(endpoint), Ok(rt)) = (endpoint, runtime()) {
        let posted: Result<(), String> = rt.block_on(async {
            let mut client = RuntimeClient::new(Arc::new(endpoint)).map_err(|e| e.to_string())?;
            // Bounded: a Runtime API that does not answer must not keep the process alive.
            let post = client.init_error(error_type, message);
            match tokio::time::timeout(std::time::Duration::from_secs(5), post).await {
                Ok(posted) => posted.map_err(|e| e.to_string()),
                Err(_) => Err("the Runtime API did not answer within 5 s".to_owned()),
            }
        });
        if let Err(err) = posted {
            eprintln!("portico: reporting the init error failed: {err}");
        }
    }
    std::process::exit(1)
}

/// How many invocations the process takes at once: `AWS_LAMBDA_MAX_CONCURRENCY` (Lambda
/// Managed Instances), else one. Values that are not a positive integer count as one, as in
/// `lambda_runtime`.
fn max_concurrency() -> usize {
    std::env::var("AWS_LAMBDA_MAX_CONCURRENCY")
        .ok()
        .and_then(|v| v.parse::<u32>().ok())
        .filter(|&n| n > 0)
        .map_or(1, |n| n as usize)
}

async fn serve(app: BuiltApp, entry: Entry, endpoint: Arc<Endpoint>) -> Result<(), ClientError> {
    let config = Arc::new(lambda_runtime::Config::from_env());
    let loops = max_concurrency();
    if loops == 1 {
        let client = RuntimeClient::new(endpoint)?;
        return serve_loop(&app, &entry, &config, client, true).await;
    }
    // Several `/next` loops on this one thread, each with its own connection (the
    // invocations interleave at their awaits). As in `lambda_runtime::run_concurrent`, a loop
    // that stops leaves the others serving; the process ends when none is left, and
    // `_X_AMZN_TRACE_ID` is not set (it would be one value for several invocations).
    let mut clients = Vec::with_capacity(loops);
    for _ in 0..loops {
        clients.push(RuntimeClient::new(Arc::clone(&endpoint))?);
    }
    let results = futures_util::future::join_all(
        clients
            .into_iter()
            .map(|client| serve_loop(&app, &entry, &config, client, false)),
    )
    .await;
    results.into_iter().find(Result::is_err).unwrap_or(Ok(()))
}

/// Takes invocations one after another, for ever (until the Runtime API fails).
async fn serve_loop(
    app: &BuiltApp,
    entry: &Entry,
    config: &Arc<lambda_runtime::Config>,
    mut client: RuntimeClient,
    set_trace_env: bool,
) -> Result<(), ClientError> {
    loop {
        let invocation = client.next().await?;
        if set_trace_env {
            trace_env(&invocation.headers);
        }
        let outcome = match runtime_client::context(config, &invocation) {
            Ok(context) => invoke(app, entry, &invocation.payload, Some(Arc::new(context))).await,
            Err(message) => Outcome::Failed {
                error_type: "portico.MalformedEvent".into(),
                message,
            },
        };
        match outcome {
            Outcome::Reply(bytes) => client.respond(&invocation, bytes).await?,
            Outcome::Failed {
                error_type,
                message,
            } => {
                // A malformed event's message quotes the event: it is logged and reported
                // as an excerpt.
                let message = if error_type == "portico.MalformedEvent" {
                    Excerpt::of(&message).into_string()
                } else {
                    message
                };
                eprintln!("portico: {error_type}: {}", Excerpt::of(&message));
                client.fail(&invocation, &error_type, &message).await?;
            }
        }
    }
}

/// Sets `_X_AMZN_TRACE_ID` to the invocation's `Lambda-Runtime-Trace-Id` (or removes it), as
/// `lambda_runtime` does: the AWS SDKs read it to pass the X-Ray trace on.
#[allow(
    unsafe_code,
    reason = "changing the environment is unsafe in edition 2024; see the SAFETY note"
)]
fn trace_env(headers: &http::HeaderMap) {
    let trace = headers
        .get("lambda-runtime-trace-id")
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
    if std::env::var("_X_AMZN_TRACE_ID").ok() == trace {
        return;
    }
    // SAFETY: the variable changes between invocations, on the runtime's only thread, while
    // no handler runs; as with `lambda_runtime` (which does the same), a thread the app
    // spawned itself and that reads the environment through libc at this very moment is
    // not excluded, which is why only sequential mode sets it.
    unsafe {
        match trace {
            Some(trace) => std::env::set_var("_X_AMZN_TRACE_ID", trace),
            None => std::env::remove_var("_X_AMZN_TRACE_ID"),
        }
    }
}

/// Handles one payload as it arrived: text for the decoders (which report what is not
/// JSON as `portico.MalformedEvent`).
async fn invoke(
    app: &BuiltApp,
    entry: &Entry,
    payload: &[u8],
    context: Option<Arc<lambda_runtime::Context>>,
) -> Outcome {
    match std::str::from_utf8(payload) {
        Ok(raw) => dispatch::handle_event(app, entry, raw, context).await,
        Err(err) => Outcome::Failed {
            error_type: "portico.MalformedEvent".into(),
            message: format!("the invocation payload is not JSON: it is not UTF-8 ({err})"),
        },
    }
}

/// The in-process hot path exactly as the runtime runs it, for benchmarks: payload bytes
/// (as the Runtime API delivers them) → response payload bytes (as they are posted back).
/// Not public API.
#[doc(hidden)]
pub mod bench {
    use super::*;

    /// Handles one payload as the `api` entry point. Handlers must not wait on I/O: the
    /// future is polled to completion on the calling thread without a reactor.
    pub fn handle_payload(app: &BuiltApp, payload: &[u8]) -> Vec<u8> {
        let outcome =
            futures_util::FutureExt::now_or_never(invoke(app, &Entry::Api, payload, None))
                .expect("benchmark handlers complete without waiting");
        match outcome {
            Outcome::Reply(bytes) => bytes,
            Outcome::Failed { message, .. } => message.into_bytes(),
        }
    }
}

//! The Lambda entry point.

use std::io::Write as _;
use std::sync::Arc;

use crate::app::{App, BuiltApp};
use crate::dispatch::{self, Entry, Outcome};
use crate::runtime_client::{self, ClientError, RuntimeClient};

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

async fn serve(app: BuiltApp, entry: Entry) -> Result<(), ClientError> {
    let address = std::env::var("AWS_LAMBDA_RUNTIME_API").unwrap_or_default();
    let mut client = RuntimeClient::new(&address)?;
    let config = Arc::new(lambda_runtime::Config::from_env());
    loop {
        let invocation = client.next().await?;
        let outcome = match runtime_client::context(&config, &invocation) {
            Ok(context) => invoke(&app, &entry, &invocation.payload, Some(Arc::new(context))).await,
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
                eprintln!("portico: {error_type}: {message}");
                client.fail(&invocation, &error_type, &message).await?;
            }
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

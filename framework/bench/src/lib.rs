//! Benchmarks of Portico against its peers on AWS Lambda, on the hello API
//! (`examples/hello`) and one mix of API Gateway REST API events:
//!
//! - **floor**: `lambda_http::run(service_fn(floor_handler))` with a hand-written `match`
//!   ([`floor`]);
//! - **axum**: `lambda_http::run(router)` with the same routes ([`axum_app`]);
//! - **portico**: the hello app through `portico::__bench::handle_payload`, the path
//!   `portico::run` runs ([`hello`]);
//! - **axum-in-portico**: the axum peer's router served by Portico
//!   (`App::new().service(router)`), through the same path.
//!
//! Each peer's in-process path takes the invocation payload bytes and returns the response
//! payload bytes, exactly as its runtime would ([`lambda_http_peer`] spells out what that is
//! for `lambda_http`). The criterion bench `in_process`, the `ratios` binary (per-event CPU time,
//! medians over interleaved rounds) and the `lambda_compare` binary (size, cold start and peak
//! RSS of the real `bootstrap` binaries under a local Runtime API) share this library;
//! `framework/bench/run.sh` runs everything. See `docs/benchmarks.md`.
//!
//! ```
//! let mix = portico_bench::events::mix();
//! let answers: Vec<Vec<portico_bench::Answer>> = portico_bench::peers()
//!     .into_iter()
//!     .map(|mut peer| mix.iter().map(|ev| portico_bench::answer(&(peer.handle)(&ev.payload)).unwrap()).collect())
//!     .collect();
//! assert_eq!(answers[0][0].status, 200);
//! ```

pub mod axum_app;
pub mod cpu;
pub mod events;
pub mod floor;

pub mod lambda_http_peer;
pub mod model;
pub mod stats;

use std::collections::BTreeMap;
use std::process::Command;

use serde_json::Value;

/// The environment every peer runs with, in-process and as a `bootstrap`.
///
/// `lambda_http` puts the stage in the request URI (`/prod/users/42`) unless this variable is
/// set; an axum app behind a REST API stage needs it, and setting it is what its users do.
/// The floor reads the stage-less `raw_http_path` and Portico ignores the variable.
pub const LAMBDA_HTTP_ENV: [(&str, &str); 1] = [("AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH", "true")];

/// An in-process path: invocation payload bytes → response payload bytes.
pub type HandlePayload = Box<dyn FnMut(&[u8]) -> Vec<u8>>;

/// One implementation of the hello API and its in-process path.
pub struct Peer {
    /// `floor`, `axum`, `portico` or `axum-in-portico`.
    pub name: &'static str,
    /// Invocation payload bytes → response payload bytes.
    pub handle: HandlePayload,
}

/// The floor, axum, Portico and axum in Portico, in that order (the floor is the reference of
/// every ratio).
///
/// # Panics
/// If the hello app does not build (a route conflict).
pub fn peers() -> Vec<Peer> {
    vec![
        floor_peer(),
        axum_peer(),
        portico_peer(),
        axum_in_portico_peer(),
    ]
}

/// The floor's in-process path.
pub fn floor_peer() -> Peer {
    let mut peer =
        lambda_http_peer::lambda_http_peer(lambda_http::service_fn(floor::floor_handler));
    Peer {
        name: "floor",
        handle: Box::new(move |payload| peer.handle(payload)),
    }
}

/// The axum peer's in-process path.
pub fn axum_peer() -> Peer {
    let mut peer = lambda_http_peer::lambda_http_peer(axum_app::axum_router());
    Peer {
        name: "axum",
        handle: Box::new(move |payload| peer.handle(payload)),
    }
}

/// Portico's in-process path: `portico::__bench::handle_payload` on the built hello app.
///
/// # Panics
/// If the hello app does not build (a route conflict).
pub fn portico_peer() -> Peer {
    let app = hello::app()
        .build()
        .unwrap_or_else(|err| panic!("the hello app builds: {err}"));
    Peer {
        name: "portico",
        handle: Box::new(move |payload| portico::__bench::handle_payload(&app, payload)),
    }
}

/// Whether this process runs with [`LAMBDA_HTTP_ENV`].
pub fn has_lambda_http_env() -> bool {
    LAMBDA_HTTP_ENV
        .iter()
        .all(|(name, value)| std::env::var(name).is_ok_and(|v| v == *value))
}

/// Makes sure the process runs with [`LAMBDA_HTTP_ENV`]: when it is missing, runs the same
/// executable with the same arguments and the variable set, and exits with its status.
/// (Setting the variable in-process would need `unsafe`, which the workspace forbids.)
///
/// # Panics
/// If the executable cannot be run again.
pub fn ensure_lambda_http_env() {
    if has_lambda_http_env() {
        return;
    }
    let exe = std::env::current_exe().expect("the path of the running executable");
    let status = Command::new(exe)
        .args(std::env::args_os().skip(1))
        .envs(LAMBDA_HTTP_ENV)
        .status()
        .expect("running the executable again with AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH");
    std::process::exit(status.code().unwrap_or(1));
}

/// A response payload reduced to what a client of API Gateway sees.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    /// HTTP status.
    pub status: u16,
    /// Response headers, names lower-cased, `headers` and `multiValueHeaders` merged.
    pub headers: BTreeMap<String, Vec<String>>,
    /// The body: parsed when it is JSON.
    pub body: AnswerBody,
}

/// The body of an [`Answer`].
#[derive(Debug, Clone, PartialEq)]
pub enum AnswerBody {
    /// No body.
    Empty,
    /// A JSON document.
    Json(Value),
    /// Any other text.
    Text(String),
}

impl Answer {
    /// The `content-type` header, if any.
    pub fn content_type(&self) -> Option<&str> {
        self.headers
            .get("content-type")
            .and_then(|v| v.first())
            .map(String::as_str)
    }
}

/// Reads a REST API proxy response payload (`statusCode`, `headers`, `multiValueHeaders`,
/// `body`, `isBase64Encoded`) as API Gateway would.
///
/// # Errors
/// When the payload is not such a response (for instance a Lambda error document), or when
/// the body is base64 (none of the hello API's answers is binary).
pub fn answer(payload: &[u8]) -> Result<Answer, String> {
    let v: Value = serde_json::from_slice(payload)
        .map_err(|e| format!("{e}: {}", String::from_utf8_lossy(payload)))?;
    let status = v["statusCode"]
        .as_u64()
        .and_then(|s| u16::try_from(s).ok())
        .ok_or_else(|| format!("no statusCode in {v}"))?;
    if v["isBase64Encoded"].as_bool() == Some(true) {
        return Err(format!("unexpected base64 body in {v}"));
    }
    let mut headers: BTreeMap<String, Vec<String>> = BTreeMap::new();
    if let Some(multi) = v["multiValueHeaders"].as_object() {
        for (name, values) in multi {
            let values = values.as_array().ok_or("multiValueHeaders holds arrays")?;
            let entry = headers.entry(name.to_ascii_lowercase()).or_default();
            entry.extend(values.iter().filter_map(|s| s.as_str().map(str::to_owned)));
        }
    }
    if let Some(single) = v["headers"].as_object() {
        for (name, value) in single {
            let entry = headers.entry(name.to_ascii_lowercase()).or_default();
            let value = value.as_str().ok_or("headers holds strings")?.to_owned();
            // API Gateway merges both maps; a value present in both counts once.
            if !entry.contains(&value) {
                entry.push(value);
            }
        }
    }
    let text = v["body"].as_str().unwrap_or_default();
    let is_json = headers
        .get("content-type")
        .and_then(|v| v.first())
        .is_some_and(|ct| model::is_json_media_type(ct));
    let body = if text.is_empty() {
        AnswerBody::Empty
    } else if is_json {
        AnswerBody::Json(serde_json::from_str(text).map_err(|e| format!("{e}: {text}"))?)
    } else {
        AnswerBody::Text(text.to_owned())
    };
    Ok(Answer {
        status,
        headers,
        body,
    })
}

/// The axum peer's router inside Portico (`App::service`): Portico's decoder and encoder
/// around the same router, instead of `lambda_http`'s.
///
/// # Panics
/// If the app does not build (it has no routes to conflict).
pub fn axum_in_portico_peer() -> Peer {
    let app = portico::App::new()
        .service(axum_app::axum_router())
        .build()
        .unwrap_or_else(|err| panic!("the axum-in-Portico app builds: {err}"));
    Peer {
        name: "axum-in-portico",
        handle: Box::new(move |payload| portico::__bench::handle_payload(&app, payload)),
    }
}

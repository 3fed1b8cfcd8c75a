//! The fixture app the end-to-end tests run under the Runtime API host: one route per
//! behaviour worth checking through a real process.
//!
//! - `GET /panic` panics; `GET /error` returns `Err(portico::Error)`.
//! - `GET /slow?ms=N` sleeps N ms, then answers `slept N ms`.
//! - `ANY /echo/{rest+}` answers JSON of everything the handler saw (see [`Seen`]).
//! - `GET /binary` answers PNG bytes (`image/png`); `GET /cookies` sets two cookies.
//! - `GET /private` requires an API key (`api_key_required = true`, enforced by the gateway).
//! - `POST /items` takes `{"name": string}` as JSON only; `GET /state` reads shared state;
//!   `GET /redirect` redirects; `GET /no-cors` opts out of the app's CORS policy.
//! - `#[schedule]` handlers: `tick` prints a line, `nightly` fails.
//!
//! The app has a CORS policy for `https://app.example.com`.

use std::time::Duration;

use portico::prelude::*;
use portico::{BinaryBody, FromRequest, Request, header};
use serde::Deserialize;
use serde_json::{Value, json};

/// The first bytes of a PNG file: the signature and an `IHDR` chunk header. Not UTF-8.
const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89\xff\x00";

/// Prefix of every line the app prints itself, so tests can tell it from the runtime's logs.
const LOG_PREFIX: &str = "fixture:";

/// Everything a handler can see of a request, as JSON.
struct Seen(Value);

impl FromRequest for Seen {
    type Rejection = std::convert::Infallible;

    fn from_request(req: &mut Request) -> Result<Self, Self::Rejection> {
        let mut headers = serde_json::Map::new();
        for name in req.headers().keys() {
            let values: Vec<Value> = req
                .headers()
                .get_all(name)
                .iter()
                .map(|v| Value::String(String::from_utf8_lossy(v.as_bytes()).into_owned()))
                .collect();
            headers.insert(name.as_str().to_owned(), Value::Array(values));
        }
        let body = req.body();
        let context = req.context();
        let lambda = req.lambda_context().map(|ctx| {
            json!({
                "request_id": ctx.request_id,
                "deadline_ms": ctx.deadline,
                "invoked_function_arn": ctx.invoked_function_arn,
                "xray_trace_id": ctx.xray_trace_id,
                "function_name": ctx.env_config.function_name,
            })
        });
        Ok(Self(json!({
            "method": req.method().as_str(),
            "path": req.path(),
            "query": req.query_pairs(),
            "headers": headers,
            "body": std::str::from_utf8(body).ok(),
            "body_hex": body.iter().map(|b| format!("{b:02x}")).collect::<String>(),
            "source": req.source(),
            "context": {
                "request_id": context.request_id,
                "stage": context.stage,
                "base_path": context.base_path,
                "source_ip": context.source_ip,
                "user_agent": context.user_agent,
                "domain_name": context.domain_name,
                "api_id": context.api_id,
                "account_id": context.account_id,
                "authorizer": context.authorizer,
                "request_time_epoch": context.request_time_epoch,
            },
            "lambda": lambda,
            "public_base_url": req.public_base_url(),
            "url_for_echo": req.url_for("echo", &[("rest", "a/b")]).map_err(|e| e.to_string()),
        })))
    }
}

#[route(ANY, "/echo/{rest+}")]
async fn echo(rest: String, Seen(mut seen): Seen) -> Json<Value> {
    seen["rest"] = Value::String(rest);
    Json(seen)
}

#[get("/panic")]
async fn panic() -> &'static str {
    panic!("the fixture panics on purpose")
}

#[get("/error")]
async fn error() -> Result<String, portico::Error> {
    Err("the fixture's database is on fire".into())
}

#[derive(Deserialize)]
struct Slow {
    ms: u64,
}

#[get("/slow")]
async fn slow(Query(q): Query<Slow>) -> String {
    tokio::time::sleep(Duration::from_millis(q.ms)).await;
    format!("slept {} ms", q.ms)
}

#[get("/binary")]
async fn binary() -> BinaryBody {
    BinaryBody::new("image/png", PNG)
}

#[get("/cookies")]
async fn cookies() -> (HeaderMap, &'static str) {
    let mut headers = HeaderMap::new();
    headers.append(
        header::SET_COOKIE,
        "session=abc123; Path=/; HttpOnly; Secure"
            .parse()
            .expect("a header value"),
    );
    headers.append(
        header::SET_COOKIE,
        "theme=dark; Path=/".parse().expect("a header value"),
    );
    (headers, "two cookies")
}

#[get("/private", api_key_required = true)]
async fn private() -> &'static str {
    "the key was checked by the gateway"
}

#[derive(Deserialize, serde::Serialize)]
struct Item {
    name: String,
}

#[post("/items", content_types = ["application/json"])]
async fn create_item(Json(item): Json<Item>) -> (StatusCode, Json<Value>) {
    (
        StatusCode::CREATED,
        Json(json!({ "id": "item-1", "name": item.name })),
    )
}

#[derive(Clone)]
struct Greeting(&'static str);

#[get("/state")]
async fn state(State(greeting): State<Greeting>) -> &'static str {
    greeting.0
}

#[get("/redirect")]
async fn redirect() -> Redirect {
    Redirect::to("/echo/redirected")
}

#[get("/no-cors", cors = false)]
async fn no_cors() -> &'static str {
    "no CORS headers here"
}

#[schedule("rate(1 minute)")]
async fn tick(event: ScheduledEvent) {
    println!(
        "{LOG_PREFIX} tick ran at {} for {}",
        event.time,
        event.resources.join(",")
    );
}

#[schedule("cron(0 3 * * ? *)")]
async fn nightly() -> Result<(), Error> {
    Err("the nightly job failed on purpose".into())
}

fn app() -> App {
    App::new()
        .name("fixture")
        .routes(routes![
            echo,
            panic,
            error,
            slow,
            binary,
            cookies,
            private,
            create_item,
            state,
            redirect,
            no_cors
        ])
        .schedules(schedules![tick, nightly])
        .state(Greeting("hello from state"))
        .cors(
            Cors::new()
                .allow_origin("https://app.example.com")
                .expose_headers(["X-Fixture"])
                .max_age(600),
        )
}

fn main() {
    portico::run(app());
}

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
//! - `GET /crash` kills the process (`abort`: no panic handler runs, unlike `/panic`).
//! - `GET /big?bytes=N` answers N bytes of text (default 7 MiB: over Lambda's 6 MB).
//! - `GET /env` answers the process's id, executable, working directory and Lambda variables.
//! - `GET /log?msg=M` prints `fixture: stdout M` and `fixture: stderr M` and answers the
//!   Lambda request id.
//! - `#[schedule]` handlers: `tick` prints a line, `nightly` fails.
//! - `#[function]` `notify` (entry point `notify`, as a Step Functions task would call it): takes
//!   `{"task_token": string, "employee": string}` and answers JSON of what it saw; employee
//!   `""` is an `Err` (errorType `NotifyError`), `"panic"` panics.
//!
//! The app has a CORS policy for `https://app.example.com`.
//!
//! With `FIXTURE_RAW_RUNTIME=1` (set through `portico.toml`'s env), the process skips
//! `portico::run` and speaks the Runtime API itself ([`raw`]), answering what the framework
//! never would: the raw event (any path but the `/raw/…` ones below), malformed proxy
//! responses, hand-made multi-value headers. The
//! manifest (`--portico-manifest`) is the same in both modes.

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
        let headers = portico_e2e::headers_json(req);
        let body = req.body();
        let context = req.context();
        let lambda = req.lambda_context().map(|ctx| {
            json!({
                "request_id": ctx.request_id,
                "deadline_ms": ctx.deadline,
                "invoked_function_arn": ctx.invoked_function_arn,
                "xray_trace_id": ctx.xray_trace_id,
                "function_name": ctx.env_config.function_name,
                "client_context": ctx.client_context,
                "identity": ctx.identity,
                // What an AWS SDK call would pass on as the X-Ray trace.
                "trace_env": std::env::var("_X_AMZN_TRACE_ID").ok(),
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

#[get("/crash")]
async fn crash() -> &'static str {
    println!("{LOG_PREFIX} crashing on purpose");
    std::process::abort()
}

#[derive(Deserialize)]
struct Big {
    bytes: Option<usize>,
}

#[get("/big")]
async fn big(Query(q): Query<Big>) -> String {
    "x".repeat(q.bytes.unwrap_or(7 * 1024 * 1024))
}

/// The variables the Lambda host sets (and the app's own), as the process sees them.
const SHOWN_ENV: [&str; 16] = [
    "AWS_LAMBDA_RUNTIME_API",
    "AWS_LAMBDA_FUNCTION_NAME",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
    "AWS_LAMBDA_FUNCTION_VERSION",
    "AWS_LAMBDA_LOG_GROUP_NAME",
    "AWS_LAMBDA_LOG_STREAM_NAME",
    "AWS_LAMBDA_INITIALIZATION_TYPE",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_EXECUTION_ENV",
    "_HANDLER",
    "LAMBDA_TASK_ROOT",
    "LAMBDA_RUNTIME_DIR",
    "TZ",
    "PORTICO_HANDLER",
    "FIXTURE_STAGE",
];

#[get("/env")]
async fn env(ctx: LambdaContext) -> Json<Value> {
    let vars: serde_json::Map<String, Value> = SHOWN_ENV
        .iter()
        .filter_map(|name| {
            std::env::var(name)
                .ok()
                .map(|v| ((*name).to_owned(), Value::String(v)))
        })
        .collect();
    Json(json!({
        "pid": std::process::id(),
        "exe": std::env::current_exe().ok().map(|p| p.display().to_string()),
        "cwd": std::env::current_dir().ok().map(|p| p.display().to_string()),
        "env": vars,
        "request_id": ctx.request_id,
        "deadline_ms": ctx.deadline,
    }))
}

#[derive(Deserialize)]
struct LogLine {
    msg: String,
}

#[get("/log")]
async fn log(Query(q): Query<LogLine>, ctx: LambdaContext) -> String {
    println!("{LOG_PREFIX} stdout {}", q.msg);
    eprintln!("{LOG_PREFIX} stderr {}", q.msg);
    ctx.request_id
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

#[derive(Deserialize)]
struct NotifyInput {
    task_token: String,
    employee: String,
}

#[derive(Debug, thiserror::Error)]
#[error("cannot notify: {0}")]
struct NotifyError(&'static str);

#[function]
async fn notify(
    Json(NotifyInput {
        task_token,
        employee,
    }): Json<NotifyInput>,
    State(greeting): State<Greeting>,
    ctx: LambdaContext,
) -> Result<Json<Value>, NotifyError> {
    match employee.as_str() {
        "" => Err(NotifyError("no employee given")),
        "panic" => panic!("the fixture function panics on purpose"),
        employee => {
            println!("{LOG_PREFIX} notify {employee}");
            Ok(Json(json!({
                "notified": employee,
                "task_token": task_token,
                "greeting": greeting.0,
                "request_id": ctx.request_id,
                "pid": std::process::id(),
            })))
        }
    }
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
            no_cors,
            crash,
            big,
            env,
            log
        ])
        .schedules(schedules![tick, nightly])
        .functions(functions![notify])
        .state(Greeting("hello from state"))
        .cors(
            Cors::new()
                .allow_origin("https://app.example.com")
                .expose_headers(["X-Fixture"])
                .max_age(600),
        )
}

fn main() {
    if let Some(api) = raw::wanted() {
        raw::serve(&api);
    }
    portico::run(app());
}

/// A Runtime API client of its own, to answer what the framework never would.
mod raw {
    use std::io::{Read, Write};
    use std::net::TcpStream;

    use serde_json::{Value, json};

    /// The Runtime API address when raw mode is on (and no manifest is asked for).
    pub fn wanted() -> Option<String> {
        let on = std::env::var("FIXTURE_RAW_RUNTIME").is_ok_and(|v| v == "1");
        let manifest = std::env::args().skip(1).any(|a| a == "--portico-manifest")
            || std::env::var_os("PORTICO_MANIFEST").is_some();
        if on && !manifest {
            std::env::var("AWS_LAMBDA_RUNTIME_API").ok()
        } else {
            None
        }
    }

    /// Answers invocations until the process is stopped.
    pub fn serve(api: &str) -> ! {
        loop {
            let (head, event) = call(api, "GET", "/2018-06-01/runtime/invocation/next", b"");
            let id = head
                .lines()
                .find_map(|line| {
                    let (name, value) = line.split_once(':')?;
                    name.eq_ignore_ascii_case("lambda-runtime-aws-request-id")
                        .then(|| value.trim().to_owned())
                })
                .expect("the Runtime API names the invocation");
            let reply = reply(&event);
            call(
                api,
                "POST",
                &format!("/2018-06-01/runtime/invocation/{id}/response"),
                &reply,
            );
        }
    }

    /// The proxy response (or not) for the event's path.
    fn reply(event: &[u8]) -> Vec<u8> {
        let parsed: Value = serde_json::from_slice(event).unwrap_or(Value::Null);
        let text = |body: Value| body.to_string().into_bytes();
        match parsed["path"].as_str().unwrap_or_default() {
            "/raw/not-json" => b"this is not a proxy response".to_vec(),
            "/raw/unknown-field" => {
                text(json!({"statusCode": 200, "body": "x", "statuscode": 201}))
            }
            "/raw/body-number" => text(json!({"statusCode": 200, "body": 42})),
            "/raw/multi" => text(json!({
                "statusCode": 201,
                "headers": {"X-Single": "one", "Set-Cookie": "dropped=1", "Content-Type": "text/plain"},
                "multiValueHeaders": {
                    "Set-Cookie": ["a=1; Path=/", "b=2; Path=/; HttpOnly"],
                    "X-Multi": ["x", "y"],
                },
                "body": "multi",
            })),
            "/raw/base64" => text(json!({
                "statusCode": 200,
                "headers": {"Content-Type": "image/png"},
                "isBase64Encoded": true,
                "body": base64(super::PNG),
            })),
            "/raw/remapped" => text(json!({
                "headers": {"Server": "fixture", "WWW-Authenticate": "Basic"},
                "body": "{}",
            })),
            // Any other path: the event as received.
            _ => text(json!({
                "statusCode": 200,
                "headers": {"Content-Type": "application/json"},
                "body": String::from_utf8_lossy(event),
            })),
        }
    }

    /// One HTTP/1.1 exchange with the Runtime API: the response head and body.
    fn call(api: &str, method: &str, path: &str, body: &[u8]) -> (String, Vec<u8>) {
        let mut stream = TcpStream::connect(api).expect("connect to the Runtime API");
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {api}\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        );
        stream
            .write_all(head.as_bytes())
            .expect("send to the Runtime API");
        stream.write_all(body).expect("send to the Runtime API");
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).expect("read the Runtime API");
        let split = raw
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .expect("an HTTP response");
        let head = String::from_utf8_lossy(&raw[..split]).into_owned();
        let mut body = raw[split + 4..].to_vec();
        if head
            .to_ascii_lowercase()
            .contains("transfer-encoding: chunked")
        {
            body = dechunk(&body);
        }
        (head, body)
    }

    fn dechunk(mut data: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        while let Some(end) = data.windows(2).position(|w| w == b"\r\n") {
            let size = std::str::from_utf8(&data[..end])
                .ok()
                .and_then(|s| usize::from_str_radix(s.split(';').next()?.trim(), 16).ok())
                .unwrap_or(0);
            if size == 0 {
                break;
            }
            let start = end + 2;
            out.extend_from_slice(&data[start..start + size]);
            data = &data[start + size + 2..];
        }
        out
    }

    fn base64(bytes: &[u8]) -> String {
        const ALPHABET: &[u8; 64] =
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let mut out = String::new();
        for chunk in bytes.chunks(3) {
            let n = chunk
                .iter()
                .enumerate()
                .fold(0u32, |n, (i, b)| n | (u32::from(*b) << (16 - 8 * i)));
            for i in 0..4 {
                if i <= chunk.len() {
                    out.push(char::from(ALPHABET[(n >> (18 - 6 * i) & 63) as usize]));
                } else {
                    out.push('=');
                }
            }
        }
        out
    }
}

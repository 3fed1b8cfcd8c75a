//! `portico invoke [--stage dev] [-n FUNCTION]`: sends the JSON event on stdin to a deployed
//! function (Lambda Invoke, `RequestResponse`, through the AWS boundary) and prints its result.
//!
//! `portico invoke --local NAME` does the same with a function of a running `portico local`.
//!
//! It speaks the Lambda Invoke API to the local services endpoint (the address is in
//! `.portico/local/endpoint.json`), exactly as the AWS SDK would, with hyper's client.

use std::io::{IsTerminal, Read, Write};
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use crate::aws::{Aws, AwsArgs};
use crate::local::Endpoint;
use crate::url::StageTarget;
use crate::{AppDir, CliError, config};

/// Arguments of `portico invoke`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    app: AppDir,
    /// The function: an entry-point name (`api`, a schedule's name) or its full name.
    #[arg(value_name = "FUNCTION")]
    name: Option<String>,
    /// The function, as an option (`-n tick`); default: `api`.
    #[arg(
        short = 'n',
        long = "name",
        value_name = "FUNCTION",
        conflicts_with = "name"
    )]
    function: Option<String>,
    /// Invoke the function of a running `portico local` instead of the deployed one.
    #[arg(long)]
    local: bool,
    /// Send the event EventBridge sends a schedule (`"detail-type": "Scheduled Event"`, the
    /// time now) instead of reading one from stdin: fires a schedule now.
    #[arg(long)]
    scheduled_event: bool,
    /// The deployed stage (`[stages.<name>]` in portico.toml).
    #[arg(long, default_value = "dev")]
    stage: String,
    #[command(flatten)]
    aws: AwsArgs,
}

impl Args {
    /// The function named on the command line, default `api`.
    fn function(&self) -> &str {
        self.function
            .as_deref()
            .or(self.name.as_deref())
            .unwrap_or("api")
    }
}

/// Reads the event from stdin, invokes the function, prints its result.
///
/// # Errors
/// When the event is not JSON, no `portico local` is running for the app, or the function
/// fails (its `errorType` and `errorMessage` are the error).
pub fn run(args: Args) -> Result<(), CliError> {
    let event = if args.scheduled_event {
        scheduled_event(&args)?
    } else {
        let mut stdin = std::io::stdin();
        if stdin.is_terminal() {
            eprintln!("reading the JSON event from stdin (end it with Ctrl-D)");
        }
        let mut event = Vec::new();
        stdin
            .read_to_end(&mut event)
            .map_err(|e| format!("cannot read the event from stdin: {e}"))?;
        event
    };
    check_event(&event)?;
    let payload = if args.local {
        let endpoint = read_endpoint(&args.app.dir)?;
        invoke_local(&endpoint, args.function(), &event)?
    } else {
        invoke_remote(&args, &event)?
    };
    let mut out = std::io::stdout().lock();
    out.write_all(&payload)?;
    if !payload.ends_with(b"\n") {
        out.write_all(b"\n")?;
    }
    out.flush()?;
    Ok(())
}

/// The deployed function `entry` names: the record's, else the derived name; a full name
/// (`<app>-<stage>-…`) is taken as it is.
fn remote_function_name(target: &StageTarget, entry: &str) -> String {
    if let Some(f) = target.record.as_ref().and_then(|r| r.functions.get(entry)) {
        return f.name.clone();
    }
    if entry.starts_with(&format!("{}-", target.names.prefix())) {
        entry.to_owned()
    } else {
        target.names.function(entry)
    }
}

/// Invokes the deployed function; its payload, or its `errorType: errorMessage` as the error.
fn invoke_remote(args: &Args, event: &[u8]) -> Result<Vec<u8>, CliError> {
    let target = StageTarget::find(&args.app, &args.stage)?;
    let name = remote_function_name(&target, args.function());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let invocation = rt.block_on(async {
        let aws = Aws::connect(&args.aws.options(target.region())).await;
        aws.invoke_function(&name, event).await.map_err(|e| {
            if e.is_not_found() {
                target
                    .not_deployed(&format!(
                        "there is no function {name} in {}; the names are `api` and the \
                         schedules' names",
                        aws.region()
                    ))
                    .into()
            } else {
                CliError::from(e)
            }
        })
    })?;
    match invocation.function_error {
        None => Ok(invocation.payload),
        Some(kind) => {
            let json: Option<serde_json::Value> = serde_json::from_slice(&invocation.payload).ok();
            let field = |key: &str| {
                json.as_ref()
                    .and_then(|v| v.get(key))
                    .and_then(|v| v.as_str())
                    .map(str::to_owned)
            };
            let error_type = field("errorType").unwrap_or(kind);
            let message = field("errorMessage")
                .unwrap_or_else(|| String::from_utf8_lossy(&invocation.payload).into_owned());
            Err(format!("function {name} failed: {error_type}: {message}").into())
        }
    }
}

/// The event EventBridge sends the function's schedule rule, for the time now. The rule's
/// ARN is the one `portico local` and `portico deploy` give it (`<app>-<stage>-<name>`).
fn scheduled_event(args: &Args) -> Result<Vec<u8>, CliError> {
    let config_path = args
        .app
        .dir
        .canonicalize()
        .ok()
        .and_then(|dir| {
            dir.ancestors()
                .find(|d| d.join(config::FILE_NAME).is_file())
                .map(|d| d.join(config::FILE_NAME))
        })
        .ok_or_else(|| crate::project::ProjectError::NoConfig(args.app.dir.clone()))?;
    let config = config::Config::load(&config_path)?;
    let prefix = format!("{}-{}-", config.app.name.get_ref(), args.stage);
    let function = args.function();
    let rule = if function.starts_with(&prefix) {
        function.to_owned()
    } else {
        format!("{prefix}{function}")
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let time = portico_local::clock::rfc3339_seconds(i64::try_from(now).unwrap_or(i64::MAX));
    let arn = format!("arn:aws:events:us-east-1:000000000000:rule/{rule}");
    Ok(portico_local::scheduler::scheduled_event(
        &portico_local::scheduler::event_id(),
        &time,
        &arn,
    )
    .to_vec())
}

/// Checks that `event` is one JSON value.
fn check_event(event: &[u8]) -> Result<(), CliError> {
    if event.iter().all(u8::is_ascii_whitespace) {
        return Err("the event on stdin is empty; pipe a JSON event in, e.g. \
                    `echo '{}' | portico invoke --local NAME`"
            .into());
    }
    serde_json::from_slice::<serde::de::IgnoredAny>(event)
        .map(drop)
        .map_err(|e| format!("the event on stdin is not valid JSON: {e}").into())
}

/// The endpoint file of the `portico local` serving the app at or above `dir`.
fn read_endpoint(dir: &Path) -> Result<Endpoint, CliError> {
    let start = dir
        .canonicalize()
        .map_err(|e| format!("{}: {e}", dir.display()))?;
    let app_dir = start
        .ancestors()
        .find(|d| d.join(config::FILE_NAME).is_file())
        .ok_or_else(|| crate::project::ProjectError::NoConfig(start.clone()))?;
    let file = endpoint_file(app_dir);
    let text = match std::fs::read_to_string(&file) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(format!(
                "no `portico local` is running for {} ({} does not exist); start it with \
                 `portico local` in another terminal",
                app_dir.display(),
                file.display()
            )
            .into());
        }
        Err(e) => return Err(format!("cannot read {}: {e}", file.display()).into()),
    };
    serde_json::from_str(&text).map_err(|e| {
        format!(
            "{} is not a `portico local` endpoint file ({e}); restart `portico local`",
            file.display()
        )
        .into()
    })
}

fn endpoint_file(app_dir: &Path) -> PathBuf {
    app_dir.join(".portico").join("local").join("endpoint.json")
}

/// Invokes `name` with `event` through the services endpoint; the function's result payload.
fn invoke_local(endpoint: &Endpoint, name: &str, event: &[u8]) -> Result<Vec<u8>, CliError> {
    let url = &endpoint.services_url;
    let not_running = |e: &dyn std::fmt::Display| -> CliError {
        format!(
            "`portico local` (pid {}) does not answer at {url}: {e}; it may have stopped — start \
             it again with `portico local`",
            endpoint.pid
        )
        .into()
    };
    let addr = socket_addr(url)?;
    let uri = format!(
        "http://{addr}/2015-03-31/functions/{}/invocations",
        percent_encoding::utf8_percent_encode(name, percent_encoding::NON_ALPHANUMERIC)
    );
    let request = http::Request::post(uri)
        .header(http::header::CONTENT_TYPE, "application/json")
        .header("x-amz-invocation-type", "RequestResponse")
        .body(Full::new(Bytes::copy_from_slice(event)))
        .map_err(|e| not_running(&e))?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::from(format!("cannot start the async runtime: {e}")))?;
    let reply = runtime.block_on(async {
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(Duration::from_secs(3)));
        connector.set_nodelay(true);
        let client = Client::builder(TokioExecutor::new())
            .pool_max_idle_per_host(0)
            .build::<_, Full<Bytes>>(connector);
        // No timeout: the function's own (up to 15 minutes) bounds the wait.
        let response = client
            .request(request)
            .await
            .map_err(|e| crate::aws::error_text(&e))?;
        let (parts, body) = response.into_parts();
        let body = body
            .collect()
            .await
            .map_err(|e| crate::aws::error_text(&e))?
            .to_bytes();
        Ok::<_, String>(HttpReply {
            status: parts.status.as_u16(),
            headers: parts
                .headers
                .iter()
                .filter_map(|(k, v)| Some((k.as_str().to_owned(), v.to_str().ok()?.to_owned())))
                .collect(),
            body: body.to_vec(),
        })
    });
    interpret(name, reply.map_err(|e| not_running(&e))?)
}

/// `127.0.0.1:8001` from `http://127.0.0.1:8001`.
fn socket_addr(url: &str) -> Result<SocketAddr, CliError> {
    let authority = url
        .strip_prefix("http://")
        .map(|rest| rest.split('/').next().unwrap_or(rest))
        .ok_or_else(|| {
            format!("the services URL `{url}` is not an http:// URL; restart `portico local`")
        })?;
    authority
        .to_socket_addrs()
        .ok()
        .and_then(|mut addrs| addrs.next())
        .ok_or_else(|| {
            format!("the services URL `{url}` has no usable address; restart `portico local`")
                .into()
        })
}

/// The result of an invocation, from the Invoke API's reply.
fn interpret(name: &str, reply: HttpReply) -> Result<Vec<u8>, CliError> {
    let json: Option<serde_json::Value> = serde_json::from_slice(&reply.body).ok();
    let field = |key: &str| {
        json.as_ref()
            .and_then(|v| v.get(key))
            .and_then(|v| v.as_str())
            .unwrap_or_default()
            .to_owned()
    };
    match reply.status {
        200 if reply.header("x-amz-function-error").is_some() => {
            let error_type = field("errorType");
            let message = field("errorMessage");
            Err(if error_type.is_empty() {
                format!("function `{name}` failed: {message}")
            } else {
                format!("function `{name}` failed: {error_type}: {message}")
            }
            .into())
        }
        200..=299 => Ok(reply.body),
        404 if reply.header("x-amzn-errortype") == Some("ResourceNotFoundException") => {
            Err(format!(
                "the running app has no function `{name}` ({}); the names are `api` and the \
             schedules' names, as `portico local` lists them",
                field("message")
            )
            .into())
        }
        status => {
            let kind = reply
                .header("x-amzn-errortype")
                .unwrap_or("error")
                .to_owned();
            let message = match field("message") {
                m if m.is_empty() => String::from_utf8_lossy(&reply.body).into_owned(),
                m => m,
            };
            Err(format!("the local Lambda Invoke API answered {status} {kind}: {message}").into())
        }
    }
}

/// An Invoke API reply (header names in lower case, as `http` keeps them).
#[derive(Debug)]
struct HttpReply {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl HttpReply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::TempDir;

    fn err(result: Result<impl std::fmt::Debug, CliError>) -> String {
        result.unwrap_err().to_string()
    }

    #[test]
    fn the_function_defaults_to_api_and_derives_its_deployed_name() {
        use clap::Parser;
        #[derive(Parser)]
        struct Cli {
            #[command(flatten)]
            args: Args,
        }
        let parse = |argv: &[&str]| Cli::try_parse_from(argv).map(|c| c.args);
        assert_eq!(parse(&["x"]).unwrap().function(), "api");
        assert_eq!(parse(&["x", "-n", "tick"]).unwrap().function(), "tick");
        assert_eq!(parse(&["x", "--name", "tick"]).unwrap().function(), "tick");
        assert_eq!(parse(&["x", "--local", "tick"]).unwrap().function(), "tick");
        assert!(parse(&["x", "a", "-n", "b"]).is_err());
        let target = StageTarget {
            config: toml::from_str("[app]\nname = \"shop\"\n").unwrap(),
            names: crate::deploy::desired::Names {
                app: "shop".into(),
                stage: "dev".into(),
            },
            record_path: "x.json".into(),
            record: None,
        };
        assert_eq!(remote_function_name(&target, "api"), "shop-dev-api");
        assert_eq!(
            remote_function_name(&target, "shop-dev-tick"),
            "shop-dev-tick"
        );
    }

    #[test]
    fn a_scheduled_event_names_the_schedules_rule_and_the_time_now() {
        use clap::Parser;
        #[derive(Parser)]
        struct Cli {
            #[command(flatten)]
            args: Args,
        }
        let tmp = TempDir::new("invoke", "scheduled");
        std::fs::write(tmp.0.join("portico.toml"), "[app]\nname = \"shop\"\n").unwrap();
        let dir = tmp.0.to_str().unwrap();
        let args =
            Cli::try_parse_from(["x", "--local", "worker", "--scheduled-event", "--app", dir])
                .unwrap()
                .args;
        let event: serde_json::Value =
            serde_json::from_slice(&scheduled_event(&args).unwrap()).unwrap();
        assert_eq!(event["detail-type"], "Scheduled Event");
        assert_eq!(event["source"], "aws.events");
        assert_eq!(
            event["resources"][0],
            "arn:aws:events:us-east-1:000000000000:rule/shop-dev-worker"
        );
        let year = &event["time"].as_str().unwrap()[..4];
        assert!(year.parse::<u32>().unwrap() >= 2024, "{event}");
        let m = err(scheduled_event(
            &Cli::try_parse_from(["x", "--scheduled-event", "--app", "/nonexistent"])
                .unwrap()
                .args,
        ));
        assert!(m.contains("portico.toml"), "{m}");
    }

    #[test]
    fn events_must_be_json() {
        assert!(check_event(b"{\"a\": [1, 2]}\n").is_ok());
        assert!(check_event(b"42").is_ok());
        let m = err(check_event(b"  \n"));
        assert!(m.contains("is empty") && m.contains("echo '{}' |"), "{m}");
        let m = err(check_event(b"{\"a\": }"));
        assert!(
            m.starts_with("the event on stdin is not valid JSON: ")
                && m.contains("line 1 column 7"),
            "{m}"
        );
        assert!(check_event(b"{} {}").is_err(), "one value only");
    }

    #[test]
    fn endpoint_file_errors_name_portico_local() {
        let tmp = TempDir::new("invoke", "endpoint");
        let m = err(read_endpoint(&tmp.0));
        assert!(m.contains("no portico.toml"), "{m}");

        std::fs::write(tmp.0.join("portico.toml"), "[app]\nname = \"shop\"\n").unwrap();
        std::fs::create_dir_all(tmp.0.join("src")).unwrap();
        let m = err(read_endpoint(&tmp.0.join("src")));
        assert!(
            m.contains("no `portico local` is running") && m.contains("endpoint.json"),
            "{m}"
        );

        let file = endpoint_file(&tmp.0);
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(&file, "{\"api_url\": 1}").unwrap();
        let m = err(read_endpoint(&tmp.0));
        assert!(m.contains("is not a `portico local` endpoint file"), "{m}");

        std::fs::write(
            &file,
            r#"{"api_url":"http://127.0.0.1:1/dev","services_url":"http://127.0.0.1:1","pid":7}"#,
        )
        .unwrap();
        let endpoint = read_endpoint(&tmp.0).unwrap();
        assert_eq!(endpoint.services_url, "http://127.0.0.1:1");
    }

    #[test]
    fn a_stale_endpoint_file_says_so() {
        // A port nobody listens on: bind, note it, close.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let endpoint = Endpoint {
            api_url: String::new(),
            services_url: format!("http://127.0.0.1:{port}"),
            pid: 4242,
        };
        let m = err(invoke_local(&endpoint, "api", b"{}"));
        assert!(
            m.contains("`portico local` (pid 4242) does not answer")
                && m.contains("start it again"),
            "{m}"
        );
        let endpoint = Endpoint {
            services_url: "https://x".into(),
            ..endpoint
        };
        assert!(err(invoke_local(&endpoint, "api", b"{}")).contains("not an http:// URL"));
    }

    #[test]
    fn interprets_invoke_replies() {
        let reply = |status, headers: &[(&str, &str)], body: &str| HttpReply {
            status,
            headers: headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            body: body.as_bytes().to_vec(),
        };
        assert_eq!(
            interpret("api", reply(200, &[], "{\"ok\":1}")).unwrap(),
            b"{\"ok\":1}"
        );
        let m = err(interpret(
            "tick",
            reply(
                200,
                &[("x-amz-function-error", "Unhandled")],
                r#"{"errorType":"MyError","errorMessage":"it broke"}"#,
            ),
        ));
        assert_eq!(m, "function `tick` failed: MyError: it broke");
        let m = err(interpret(
            "nope",
            reply(
                404,
                &[("x-amzn-errortype", "ResourceNotFoundException")],
                r#"{"Type":"User","message":"Function not found: arn"}"#,
            ),
        ));
        assert!(
            m.starts_with("the running app has no function `nope` (Function not found: arn)"),
            "{m}"
        );
        let m = err(interpret(
            "api",
            reply(
                413,
                &[("x-amzn-errortype", "RequestTooLargeException")],
                r#"{"message":"too big"}"#,
            ),
        ));
        assert_eq!(
            m,
            "the local Lambda Invoke API answered 413 RequestTooLargeException: too big"
        );
    }

    /// The local services endpoint in front of a host double, on a free loopback port.
    async fn serve_stub() -> (
        u16,
        tokio::sync::watch::Sender<bool>,
        tokio::task::JoinHandle<()>,
    ) {
        use portico_local::services::{Services, serve_with};
        use portico_local::testing::StubHost;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let (shutdown, rx) = tokio::sync::watch::channel(false);
        let services = Services::new(
            std::sync::Arc::new(StubHost::default()),
            "shop-dev-".to_owned(),
        );
        let task = tokio::spawn(serve_with(listener, std::sync::Arc::new(services), rx));
        (port, shutdown, task)
    }

    #[test]
    fn invokes_through_a_real_services_endpoint() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let (port, shutdown, task) = rt.block_on(serve_stub());
        let endpoint = Endpoint {
            api_url: String::new(),
            services_url: format!("http://127.0.0.1:{port}"),
            pid: 1,
        };
        // The server runs on the runtime while this thread blocks in the std client.
        let (payload, failure, missing) = rt.block_on(async {
            tokio::task::spawn_blocking(move || {
                (
                    invoke_local(&endpoint, "shop-dev-echo", br#"{"hello":"world"}"#).unwrap(),
                    err(invoke_local(&endpoint, "boom", b"{}")),
                    err(invoke_local(&endpoint, "nope", b"{}")),
                )
            })
            .await
            .unwrap()
        });
        assert_eq!(payload, br#"{"hello":"world"}"#);
        assert_eq!(failure, "function `boom` failed: MyError: it broke");
        assert!(
            missing.contains("no function `nope`") && missing.contains("shop-dev-nope"),
            "{missing}"
        );
        shutdown.send_replace(true);
        rt.block_on(task).unwrap();
    }
}

//! End-to-end tests of `portico logs`: the real binary against a moto server holding the
//! app's log groups (events written with the AWS SDK: several functions and streams, JSON and
//! plain messages, Lambda's START/END/REPORT lines, more than a page), its exact output for
//! windows, filters, request ids and JSON, on a pseudo-terminal (`script`) and into a pipe;
//! `--follow` in real time until SIGINT; and `--local` against a running `portico local`.
//! (The follow loop is also driven with a fake clock by `cli/src/logs/tests.rs`.)

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_cloudwatchlogs::types::InputLogEvent;
use common::{AppDir, PORTICO, Server, apps, fixture, send_signal, wait_for};
use portico_e2e::moto::{self, Moto};
use portico_local::clock::now_ms;
use serde_json::Value;

const API: &str = "/aws/lambda/shop-dev-api";
const CLEANUP: &str = "/aws/lambda/shop-dev-cleanup";
const A: &str = "2026/11/26/[$LATEST]aaaaaaaa11111111";
const B: &str = "2026/11/26/[$LATEST]bbbbbbbb22222222";
const C: &str = "2026/11/26/[$LATEST]cccccccc33333333";

const CONFIG: &str = "[app]\nname = \"shop\"\n\n[stages.dev]\n\n[stages.prod]\n";

/// `YYYY-MM-DD HH:MM:SS.mmm` (UTC), as `portico logs` prints times.
fn stamp(ms: i64) -> String {
    let mut out = String::new();
    portico_local::clock::write_utc(&mut out, ms, ' ');
    out
}

/// `stamp` in ISO-8601, for --since and --until.
fn iso(ms: i64) -> String {
    format!("{}Z", stamp(ms).replace(' ', "T"))
}

/// A time a few minutes ago on a whole second (inside the default 10-minute window).
fn base_time() -> i64 {
    (now_ms() - 5 * 60_000) / 1_000 * 1_000
}

async fn client(moto: &Moto) -> aws_sdk_cloudwatchlogs::Client {
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .credentials_provider(aws_sdk_cloudwatchlogs::config::Credentials::new(
            "testing", "testing", None, None, "tests",
        ))
        .region(aws_config::Region::from_static("us-east-1"))
        .endpoint_url(moto.endpoint())
        .load()
        .await;
    aws_sdk_cloudwatchlogs::Client::new(&config)
}

/// A moto server holding log groups `names`, tagged with `tags`; a CloudWatch Logs client of
/// it.
async fn moto_with_groups(
    names: &[&str],
    tags: &[(&str, &str)],
) -> (Moto, aws_sdk_cloudwatchlogs::Client) {
    let moto = Moto::start().expect("moto server");
    let logs = client(&moto).await;
    for name in names {
        create_group(&logs, name, tags).await;
    }
    (moto, logs)
}

/// The tags deploy gives the stage's log groups.
const STAGE_TAGS: [(&str, &str); 2] = [("portico:app", "shop"), ("portico:stage", "dev")];

/// An untagged log group `name` (not the app's) with one event, "not ours", at `time`.
async fn put_stranger(logs: &aws_sdk_cloudwatchlogs::Client, name: &str, time: i64) {
    create_group(logs, name, &[]).await;
    put(logs, name, C, &[(time, "not ours\n".to_owned())]).await;
}

async fn create_group(logs: &aws_sdk_cloudwatchlogs::Client, name: &str, tags: &[(&str, &str)]) {
    let mut request = logs.create_log_group().log_group_name(name);
    for (k, v) in tags {
        request = request.tags(*k, *v);
    }
    request.send().await.expect("create a log group");
}

async fn put(
    logs: &aws_sdk_cloudwatchlogs::Client,
    group: &str,
    stream: &str,
    events: &[(i64, String)],
) {
    let _ = logs
        .create_log_stream()
        .log_group_name(group)
        .log_stream_name(stream)
        .send()
        .await;
    for chunk in events.chunks(5_000) {
        let events = chunk
            .iter()
            .map(|(t, m)| {
                InputLogEvent::builder()
                    .timestamp(*t)
                    .message(m)
                    .build()
                    .unwrap()
            })
            .collect();
        logs.put_log_events()
            .log_group_name(group)
            .log_stream_name(stream)
            .set_log_events(Some(events))
            .send()
            .await
            .expect("put log events");
    }
}

fn report(id: &str) -> String {
    format!(
        "REPORT RequestId: {id}\tDuration: 2.50 ms\tBilled Duration: 3 ms\tMemory Size: 128 MB\tMax Memory Used: 20 MB\tInit Duration: 40.10 ms\t\n"
    )
}

/// One invocation's events as Lambda writes them, at offsets from `base`: START, `lines`, END
/// and REPORT (a millisecond after END).
fn invocation(
    base: i64,
    id: &str,
    start: i64,
    lines: &[(i64, &str)],
    end: i64,
) -> Vec<(i64, String)> {
    let mut events = vec![(
        base + start,
        format!("START RequestId: {id} Version: $LATEST\n"),
    )];
    events.extend(
        lines
            .iter()
            .map(|(at, line)| (base + at, (*line).to_owned())),
    );
    events.push((base + end, format!("END RequestId: {id}\n")));
    events.push((base + end + 1, report(id)));
    events
}

/// The app's events: two invocations in `api` (two streams), one in `cleanup`, a later one in
/// `api`'s first stream.
async fn put_fixture(logs: &aws_sdk_cloudwatchlogs::Client, base: i64) {
    let loaded = r#"{"timestamp":"2026-11-26T20:00:02Z","level":"INFO","fields":{"message":"loaded user","id":42},"target":"shop"}"#;
    let first = invocation(
        base,
        "req-1",
        0,
        &[(1_000, "GET /users/42\n"), (2_000, loaded)],
        3_000,
    );
    let later = invocation(
        base,
        "req-3",
        10_000,
        &[(11_000, "ERROR db timeout\n")],
        12_000,
    );
    put(logs, API, A, &[first, later].concat()).await;
    let slow = "2026-11-26T20:00:02.500Z\treq-2\tWARN\tslow query\n";
    let events = invocation(base, "req-2", 1_500, &[(2_500, slow)], 4_000);
    put(logs, API, B, &events).await;
    let failed = r#"{"level":"ERROR","message":"cleanup failed","requestId":"req-4"}"#;
    let events = invocation(base, "req-4", 5_000, &[(6_000, failed)], 7_000);
    put(logs, CLEANUP, C, &events).await;
}

fn app_dir(test: &str) -> AppDir {
    let dir = AppDir::new(test, &fixture("fixture.toml"));
    std::fs::write(dir.path.join("portico.toml"), CONFIG).unwrap();
    dir
}

/// Stage dev's deploy record; `custom` is `cleanup`'s own log group, if it has one.
fn write_record(dir: &Path, custom: Option<&str>) {
    let function = |entry: &str| {
        serde_json::json!({
            "name": format!("shop-dev-{entry}"),
            "arn": format!("arn:aws:lambda:us-east-1:123456789012:function:shop-dev-{entry}"),
            "code_sha256": "x",
        })
    };
    let mut cleanup = function("cleanup");
    if let Some(group) = custom {
        cleanup["log_group"] = group.into();
    }
    let record = serde_json::json!({
        "version": 1, "app": "shop", "stage": "dev", "region": "us-east-1",
        "account": "123456789012", "endpoint_url": null,
        "log_groups": [API, custom.unwrap_or(CLEANUP)],
        "functions": {"api": function("api"), "cleanup": cleanup},
    });
    let path = dir.join(".portico/deployed/dev.json");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, record.to_string()).unwrap();
}

fn portico_logs(dir: &Path, moto: Option<&Moto>, args: &[&str]) -> Output {
    let mut command = Command::new(PORTICO);
    command
        .arg("logs")
        .arg("--app")
        .arg(dir)
        .args(args)
        .env_remove("NO_COLOR");
    if let Some(moto) = moto {
        command.envs(moto::env(&moto.endpoint()));
    }
    command.output().expect("run portico logs")
}

#[track_caller]
fn lines(output: &Output) -> Vec<String> {
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout.clone())
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

/// `--output json`'s lines.
#[track_caller]
fn json_lines(output: &Output) -> Vec<Value> {
    let lines = lines(output);
    lines
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[track_caller]
fn error(output: &Output) -> String {
    assert!(!output.status.success(), "should have failed");
    assert!(output.stdout.is_empty());
    String::from_utf8(output.stderr.clone()).unwrap()
}

/// What `portico logs` prints of `put_fixture`'s events by default (Lambda's lines hidden):
/// each line's time as an offset from the base time, and the rest of the line.
const VISIBLE: [(i64, &str); 5] = [
    (1_000, "api aaaaaaaa GET /users/42"),
    (2_000, "api aaaaaaaa INFO loaded user id=42 target=shop"),
    (2_500, "api bbbbbbbb WARN slow query"),
    (6_000, "cleanup cccccccc ERROR cleanup failed"),
    (11_000, "api aaaaaaaa ERROR db timeout"),
];

/// `lines` as `portico logs` prints them, their times offsets from `base`.
fn printed(base: i64, lines: &[(i64, &str)]) -> Vec<String> {
    lines
        .iter()
        .map(|(offset, rest)| format!("{} {rest}", stamp(base + offset)))
        .collect()
}

#[tokio::test]
async fn a_deployed_stage_by_its_record_windows_filters_request_ids_and_json() {
    let (moto, logs) = moto_with_groups(&[API, CLEANUP], &[]).await;
    let base = base_time();
    put_fixture(&logs, base).await;
    let dir = app_dir("logs-record");
    write_record(&dir.path, None);
    let since = iso(base);

    // Default: the last 10 minutes, every function, Lambda's lines hidden.
    assert_eq!(
        lines(&portico_logs(&dir.path, Some(&moto), &[])),
        printed(base, &VISIBLE)
    );
    // A window, both ends inclusive.
    assert_eq!(
        lines(&portico_logs(
            &dir.path,
            Some(&moto),
            &["--since", &iso(base + 2_000), "--until", &iso(base + 6_000)]
        )),
        printed(base, &VISIBLE[1..4])
    );
    // A window that ended before the events.
    assert!(
        lines(&portico_logs(
            &dir.path,
            Some(&moto),
            &["--since", "1h", "--until", "6m"]
        ))
        .is_empty()
    );
    // A filter pattern, and one function (by entry point or full name).
    assert_eq!(
        lines(&portico_logs(
            &dir.path,
            Some(&moto),
            &["--filter", "ERROR", "-n", "shop-dev-api"]
        )),
        printed(base, &VISIBLE[4..])
    );
    // Lambda's lines, REPORT summarised.
    assert_eq!(
        lines(&portico_logs(
            &dir.path,
            Some(&moto),
            &[
                "-n",
                "cleanup",
                "--include-lambda-messages",
                "--since",
                &since
            ]
        )),
        printed(
            base,
            &[
                (
                    5_000,
                    "cleanup cccccccc START RequestId: req-4 Version: $LATEST"
                ),
                VISIBLE[3],
                (7_000, "cleanup cccccccc END RequestId: req-4"),
                (
                    7_001,
                    "cleanup cccccccc REPORT req-4 2.50 ms (billed 3 ms), 20/128 MB, init 40.10 ms"
                ),
            ]
        )
    );
    // One invocation: its plain lines by stream and time.
    assert_eq!(
        lines(&portico_logs(
            &dir.path,
            Some(&moto),
            &["--request-id", "req-1", "--include-lambda-messages"]
        )),
        printed(
            base,
            &[
                (0, "api aaaaaaaa START RequestId: req-1 Version: $LATEST"),
                VISIBLE[0],
                VISIBLE[1],
                (3_000, "api aaaaaaaa END RequestId: req-1"),
                (
                    3_001,
                    "api aaaaaaaa REPORT req-1 2.50 ms (billed 3 ms), 20/128 MB, init 40.10 ms"
                ),
            ]
        )
    );
    assert_eq!(
        lines(&portico_logs(
            &dir.path,
            Some(&moto),
            &["--request-id", "req-3"]
        )),
        printed(base, &VISIBLE[4..])
    );
    // JSON for scripts.
    let json = json_lines(&portico_logs(
        &dir.path,
        Some(&moto),
        &["--output", "json", "--since", &since, "-n", "cleanup"],
    ));
    assert_eq!(json.len(), 1, "{json:?}");
    let event = &json[0];
    assert_eq!(event["timestamp"], iso(base + 6_000));
    assert_eq!(event["timestamp_ms"], base + 6_000);
    assert_eq!(event["function"], "cleanup");
    assert_eq!(event["log_group"], CLEANUP);
    assert_eq!(event["log_stream"], C);
    assert_eq!(event["request_id"], "req-4");
    assert_eq!(event["level"], "ERROR");
    assert_eq!(event["platform"], false);
    assert_eq!(
        event["message"],
        r#"{"level":"ERROR","message":"cleanup failed","requestId":"req-4"}"#
    );
    assert_eq!(event["data"]["message"], "cleanup failed");
    assert!(event["event_id"].as_str().is_some_and(|id| !id.is_empty()));

    // Bad input.
    let err = error(&portico_logs(&dir.path, Some(&moto), &["-n", "nope"]));
    assert!(
        err.contains("no function `nope` in app `shop` stage `dev`; its functions: api, cleanup"),
        "{err}"
    );
    let err = error(&portico_logs(
        &dir.path,
        Some(&moto),
        &["--since", "yesterday"],
    ));
    assert!(
        err.contains("--since: `yesterday` is not a time") && err.contains("10m"),
        "{err}"
    );
    let err = error(&portico_logs(
        &dir.path,
        Some(&moto),
        &["--follow", "--until", "1m"],
    ));
    assert!(err.contains("--follow and --until"), "{err}");
    let err = error(&portico_logs(
        &dir.path,
        Some(&moto),
        &["--since", "1m", "--until", "1h"],
    ));
    assert!(err.contains("is before --since"), "{err}");
    let err = error(&portico_logs(&dir.path, Some(&moto), &["--output", "yaml"]));
    assert!(err.contains("yaml"), "{err}");
}

#[tokio::test]
async fn without_a_record_the_groups_are_found_by_name_and_tags() {
    let (moto, logs) = moto_with_groups(&[API, CLEANUP], &STAGE_TAGS).await;
    let base = base_time();
    put_fixture(&logs, base).await;
    // Named like the stage's but not tagged as it: not the app's.
    put_stranger(&logs, "/aws/lambda/shop-dev-stranger", base + 1_200).await;
    let dir = app_dir("logs-tags");
    assert_eq!(
        lines(&portico_logs(
            &dir.path,
            Some(&moto),
            &["--filter", "ERROR"]
        )),
        printed(base, &VISIBLE[3..])
    );
    assert_eq!(
        lines(&portico_logs(&dir.path, Some(&moto), &[])).len(),
        5,
        "the untagged group is left out"
    );

    // A stage never deployed says how to deploy it.
    let err = error(&portico_logs(&dir.path, Some(&moto), &["--stage", "prod"]));
    assert!(
        err.contains("no deployment of app `shop` stage `prod` found")
            && err.contains("run `portico deploy --stage prod` first"),
        "{err}"
    );
    // An undeclared stage.
    let err = error(&portico_logs(&dir.path, Some(&moto), &["--stage", "qa"]));
    assert!(err.contains("no stage `qa`"), "{err}");
}

#[tokio::test]
async fn on_a_terminal_levels_are_coloured_and_control_characters_escaped() {
    let (moto, logs) = moto_with_groups(&[API, CLEANUP], &[]).await;
    let base = base_time();
    let hostile = "evil \x1b[2J\rfake line";
    put(
        &logs,
        API,
        A,
        &[
            (base, hostile.to_owned()),
            (base + 1, r#"{"level":"error","message":"boom"}"#.to_owned()),
        ],
    )
    .await;
    let dir = app_dir("logs-tty");
    write_record(&dir.path, None);
    let since = iso(base);
    // `script` gives the command a pseudo-terminal as stdout.
    let on_terminal = |extra: &str, no_color: bool| {
        let line = format!(
            "{PORTICO} logs --app '{}' --since {since} {extra}",
            dir.path.display()
        );
        let mut command = Command::new("script");
        command
            .args(["-qec", &line, "/dev/null"])
            .envs(moto::env(&moto.endpoint()))
            // A terminal that takes colour, whatever runs the tests.
            .env("TERM", "xterm-256color")
            .env_remove("CLICOLOR")
            .env_remove("CLICOLOR_FORCE");
        if no_color {
            command.env("NO_COLOR", "1");
        } else {
            command.env_remove("NO_COLOR");
        }
        let output = command.output().expect("run script");
        assert!(output.status.success(), "{output:?}");
        String::from_utf8(output.stdout).unwrap()
    };
    let out = on_terminal("", false);
    assert!(out.contains("evil \\x1b[2J\\rfake line"), "{out:?}");
    assert!(!out.contains("\x1b[2J"), "{out:?}");
    assert!(out.contains("\x1b[1m\x1b[31mERROR\x1b[0m boom"), "{out:?}");
    assert!(out.contains("\x1b[2m"), "the time is dimmed: {out:?}");
    let plain = on_terminal("--no-color", false);
    assert!(!plain.contains('\x1b'), "{plain:?}");
    assert!(plain.contains("evil \\x1b[2J\\rfake line"), "{plain:?}");
    // NO_COLOR (https://no-color.org) on a terminal: no colour either.
    let no_color = on_terminal("", true);
    assert!(!no_color.contains('\x1b'), "{no_color:?}");
    assert!(no_color.contains("ERROR boom"), "{no_color:?}");
    // Into a pipe: as written, no colour.
    let piped = lines(&portico_logs(&dir.path, Some(&moto), &["--since", &since]));
    assert_eq!(
        piped,
        [
            format!("{} api aaaaaaaa evil \x1b[2J\rfake line", stamp(base)),
            format!("{} api aaaaaaaa ERROR boom", stamp(base + 1)),
        ]
    );
}

#[tokio::test]
async fn more_than_a_page_of_history_comes_in_order() {
    let (moto, logs) = moto_with_groups(&[API, CLEANUP], &[]).await;
    let base = base_time();
    // 12,000 events in api (AWS pages at 10,000), 3 in cleanup, interleaved in time.
    let busy: Vec<(i64, String)> = (0..12_000)
        .map(|i| (base + i * 10, format!("event {i}\n")))
        .collect();
    put(&logs, API, A, &busy).await;
    let quiet: Vec<(i64, String)> = [5, 60_005, 119_995]
        .iter()
        .map(|offset| (base + offset, format!("cleanup at {offset}\n")))
        .collect();
    put(&logs, CLEANUP, C, &quiet).await;
    let dir = app_dir("logs-pages");
    write_record(&dir.path, None);
    let out = lines(&portico_logs(
        &dir.path,
        Some(&moto),
        &["--since", &iso(base)],
    ));
    assert_eq!(out.len(), 12_003);
    assert_eq!(out[0], format!("{} api aaaaaaaa event 0", stamp(base)));
    assert_eq!(
        out[1],
        format!("{} cleanup cccccccc cleanup at 5", stamp(base + 5))
    );
    assert_eq!(
        out[12_001],
        format!("{} api aaaaaaaa event 11999", stamp(base + 119_990))
    );
    assert_eq!(
        out[12_002],
        format!(
            "{} cleanup cccccccc cleanup at 119995",
            stamp(base + 119_995)
        )
    );
    let times: Vec<&str> = out.iter().map(|l| &l[..23]).collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "in time order");
    let mut events: Vec<&String> = out.iter().filter(|l| l.contains(" event ")).collect();
    events.dedup();
    assert_eq!(events.len(), 12_000, "each event once");

    // A reader that stops early (`| head -1`) ends the run quietly.
    let mut child = Command::new(PORTICO)
        .args(["logs", "--since", &iso(base), "--app"])
        .arg(&dir.path)
        .envs(moto::env(&moto.endpoint()))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    assert_eq!(first.trim_end(), out[0]);
    let status = wait_for("portico logs to exit", Duration::from_secs(30), || {
        child.try_wait().unwrap()
    });
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert!(status.success(), "{status:?} {stderr}");
    assert_eq!(stderr, "");
}

/// `portico logs --follow …` running, its stdout lines collected as they come.
struct Following {
    child: Child,
    printed: Arc<Mutex<Vec<String>>>,
    reader: Option<std::thread::JoinHandle<()>>,
}

impl Following {
    fn start(command: &mut Command) -> Self {
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start portico logs --follow");
        let printed = Arc::new(Mutex::new(Vec::<String>::new()));
        let stdout = child.stdout.take().unwrap();
        let reader = std::thread::spawn({
            let printed = Arc::clone(&printed);
            move || {
                for line in BufReader::new(stdout).lines() {
                    printed.lock().unwrap().push(line.unwrap());
                }
            }
        });
        Self {
            child,
            printed,
            reader: Some(reader),
        }
    }

    /// How many printed lines end with `text`.
    fn count(&self, text: &str) -> usize {
        let printed = self.printed.lock().unwrap();
        printed.iter().filter(|l| l.ends_with(text)).count()
    }

    /// Waits until a printed line ends with `text`.
    fn wait_printed(&self, text: &str) {
        wait_for(text, Duration::from_secs(30), || {
            (self.count(text) > 0).then_some(())
        });
    }

    /// Stops it as Ctrl-C does; how it exited and what it wrote to stderr.
    fn interrupt(&mut self) -> (ExitStatus, String) {
        send_signal(self.child.id(), "INT");
        let status = wait_for("portico logs to exit", Duration::from_secs(10), || {
            self.child.try_wait().unwrap()
        });
        self.reader.take().unwrap().join().unwrap();
        let mut stderr = String::new();
        std::io::Read::read_to_string(&mut self.child.stderr.take().unwrap(), &mut stderr).unwrap();
        (status, stderr)
    }
}

#[tokio::test]
async fn following_prints_new_events_once_and_stops_on_ctrl_c() {
    let (moto, logs) = moto_with_groups(&[API, CLEANUP], &[]).await;
    let dir = app_dir("logs-follow");
    write_record(&dir.path, None);
    put(&logs, API, A, &[(now_ms() - 1_000, "before\n".to_owned())]).await;
    let mut following = Following::start(
        Command::new(PORTICO)
            .args(["logs", "--follow", "--app"])
            .arg(&dir.path)
            .envs(moto::env(&moto.endpoint())),
    );
    following.wait_printed(" api aaaaaaaa before");
    put(&logs, CLEANUP, C, &[(now_ms(), "after\n".to_owned())]).await;
    following.wait_printed(" cleanup cccccccc after");
    // A later event shows that polls went on after `after` was printed.
    put(&logs, API, B, &[(now_ms(), "marker\n".to_owned())]).await;
    following.wait_printed(" api bbbbbbbb marker");
    let (status, stderr) = following.interrupt();
    assert!(status.success(), "{status:?} {stderr}");
    assert_eq!(stderr, "");
    assert_eq!(
        (
            following.count(" before"),
            following.count(" after"),
            following.count(" marker")
        ),
        (1, 1, 1),
        "{:?}",
        following.printed.lock().unwrap()
    );
}

#[test]
fn local_logs_show_what_portico_local_kept() {
    let dir = AppDir::new("logs-local", &fixture("fixture.toml"));
    let server = Server::start(&dir.path, &apps().fixture, &["--no-schedules"]);
    let res = server.get("/log?msg=hello-from-logs");
    assert_eq!(res.status, 200);
    let request_id = res.text();
    let out = wait_for(
        "the lines in portico logs --local",
        Duration::from_secs(10),
        || {
            let output = portico_logs(
                &dir.path,
                None,
                &[
                    "--local",
                    "--request-id",
                    &request_id,
                    "--include-lambda-messages",
                ],
            );
            let out = lines(&output);
            (out.len() >= 5).then_some(out)
        },
    );
    // `<date> <time> api <stream id> <message>`, START, the two lines, END, REPORT.
    let stream_id = |line: &str| line.split(' ').nth(3).unwrap_or_default().to_owned();
    let id = stream_id(&out[0]);
    assert!(
        id.len() == 8 && id.bytes().all(|b| b.is_ascii_hexdigit()),
        "{out:?}"
    );
    let messages: Vec<String> = out
        .iter()
        .map(|l| {
            let parts: Vec<&str> = l.splitn(5, ' ').collect();
            assert_eq!(parts[2], "api", "{l}");
            assert_eq!(parts[3], id, "one process: {l}");
            assert!(parts[0].len() == 10 && parts[1].len() == 12, "{l}");
            parts[4].to_owned()
        })
        .collect();
    assert_eq!(
        messages[0],
        format!("START RequestId: {request_id} Version: $LATEST")
    );
    let mut middle = messages[1..3].to_vec();
    middle.sort();
    assert_eq!(
        middle,
        [
            "fixture: stderr hello-from-logs",
            "fixture: stdout hello-from-logs"
        ]
    );
    assert_eq!(messages[3], format!("END RequestId: {request_id}"));
    assert!(
        messages[4].starts_with(&format!("REPORT {request_id} ")) && messages[4].contains(" MB"),
        "{}",
        messages[4]
    );

    // By default Lambda's lines are hidden; JSON names the log group a deploy would make.
    let out = lines(&portico_logs(&dir.path, None, &["--local", "-n", "api"]));
    assert!(
        out.iter()
            .any(|l| l.ends_with(" fixture: stdout hello-from-logs")),
        "{out:?}"
    );
    assert!(!out.iter().any(|l| l.contains("RequestId")), "{out:?}");
    let json = json_lines(&portico_logs(
        &dir.path,
        None,
        &["--local", "--output", "json", "--filter", "stdout"],
    ));
    let ours: Vec<&Value> = json
        .iter()
        .filter(|e| e["request_id"] == request_id.as_str())
        .collect();
    assert_eq!(ours.len(), 1, "{json:?}");
    assert_eq!(ours[0]["message"], "fixture: stdout hello-from-logs");
    assert_eq!(ours[0]["log_group"], "/aws/lambda/fixture-dev-api");

    // Following the store: a new invocation's line shows up.
    let mut following = Following::start(
        Command::new(PORTICO)
            .args(["logs", "--local", "--follow", "--since", "1m", "--app"])
            .arg(&dir.path),
    );
    following.wait_printed(" fixture: stdout hello-from-logs");
    assert_eq!(server.get("/log?msg=while-following").status, 200);
    following.wait_printed(" fixture: stdout while-following");
    let (status, stderr) = following.interrupt();
    assert!(status.success(), "{status:?} {stderr}");
    assert_eq!(following.count(" fixture: stdout hello-from-logs"), 1);
    assert_eq!(following.count(" fixture: stdout while-following"), 1);

    let err = error(&portico_logs(&dir.path, None, &["--local", "-n", "nope"]));
    assert!(err.contains("no function `nope`"), "{err}");
    let err = error(&portico_logs(
        &dir.path,
        None,
        &["--local", "--endpoint-url", "http://127.0.0.1:1"],
    ));
    assert!(
        err.contains("--local reads the local cloud's logs"),
        "{err}"
    );
    drop(server);

    let empty = AppDir::new("logs-local-none", &fixture("fixture.toml"));
    let err = error(&portico_logs(&empty.path, None, &["--local"]));
    assert!(err.contains("run `portico local` first"), "{err}");
}

/// `cleanup`'s own log group (`log_group` in portico.toml).
const CUSTOM: &str = "/custom/shop/cleanup-jobs";

#[tokio::test]
async fn a_custom_log_group_is_read_under_its_function_with_or_without_the_record() {
    let (moto, logs) = moto_with_groups(&[API, CUSTOM], &STAGE_TAGS).await;
    let base = base_time();
    // Another app's group under the same custom prefix: never read.
    put_stranger(&logs, "/custom/shop/cleanup-jobs-other", base + 2_500).await;
    let at = |offset: i64, message: &str| (base + offset, message.to_owned());
    put(&logs, API, A, &[at(1_000, "GET /users/42\n")]).await;
    put(
        &logs,
        CUSTOM,
        C,
        &[
            at(2_000, "START RequestId: req-9 Version: $LATEST\n"),
            at(3_000, "ERROR cleanup failed\n"),
        ],
    )
    .await;
    let dir = app_dir("logs-custom");
    std::fs::write(
        dir.path.join("portico.toml"),
        format!("{CONFIG}\n[functions.cleanup]\nlog_group = \"{CUSTOM}\"\n"),
    )
    .unwrap();
    let expected = printed(
        base,
        &[VISIBLE[0], (3_000, "cleanup cccccccc ERROR cleanup failed")],
    );

    // Without the record: portico.toml names the group, which carries the stage's tags.
    assert_eq!(lines(&portico_logs(&dir.path, Some(&moto), &[])), expected);
    assert_eq!(
        lines(&portico_logs(&dir.path, Some(&moto), &["-n", "cleanup"])),
        expected[1..]
    );

    // With the record: the function's recorded group (portico.toml no longer consulted).
    std::fs::write(dir.path.join("portico.toml"), CONFIG).unwrap();
    write_record(&dir.path, Some(CUSTOM));
    assert_eq!(lines(&portico_logs(&dir.path, Some(&moto), &[])), expected);
    let json = json_lines(&portico_logs(
        &dir.path,
        Some(&moto),
        &["--output", "json", "-n", "cleanup"],
    ));
    assert_eq!(json.len(), 1, "{json:?}");
    assert_eq!(json[0]["function"], "cleanup");
    assert_eq!(json[0]["log_group"], CUSTOM);
}

//! `portico logs`' sources, merge, request-id correlation and follow loop against a real moto
//! server, with a fake clock whose sleep also writes the events that "arrive" meanwhile, so
//! nothing waits on real time; and the local store read back in the same format.

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

use portico_e2e::moto::Moto;

use super::follow::{FollowLimits, Printer, follow, print_window};
use super::render::{Format, Renderer};
use super::source::{AwsSource, Clock, Group, LocalSource, Query, Source, with_backoff};
use crate::aws::{Aws, AwsError};
use portico_local::clock::write_utc;

const API: &str = "/aws/lambda/shop-dev-api";
const CLEANUP: &str = "/aws/lambda/shop-dev-cleanup";
const A: &str = "2026/11/26/[$LATEST]aaaaaaaa11111111";
const B: &str = "2026/11/26/[$LATEST]bbbbbbbb22222222";
const C: &str = "2026/11/26/[$LATEST]cccccccc33333333";

fn groups() -> Vec<Group> {
    vec![
        Group {
            function: "api".into(),
            name: API.into(),
        },
        Group {
            function: "cleanup".into(),
            name: CLEANUP.into(),
        },
    ]
}

fn plain(include_platform: bool) -> Renderer {
    Renderer {
        format: Format::Text,
        color: false,
        sanitize: false,
        include_platform,
    }
}

fn stamp(t: i64) -> String {
    let mut s = String::new();
    write_utc(&mut s, t, ' ');
    s
}

/// A time a few minutes ago, on a whole second (moto refuses events older than 14 days).
fn base_time() -> i64 {
    let now = portico_local::clock::now_ms();
    (now - 5 * 60_000) / 1_000 * 1_000
}

/// The shared fixture.
fn fixture() -> Vec<Arrival> {
    let report = |id: &str| {
        format!(
            "REPORT RequestId: {id}\tDuration: 2.50 ms\tBilled Duration: 3 ms\tMemory Size: 128 MB\tMax Memory Used: 20 MB\t\n"
        )
    };
    vec![
        (API, A, 0, "START RequestId: req-1 Version: $LATEST\n".into()),
        (API, A, 1_000, "GET /users/42\n".into()),
        (
            API,
            A,
            2_000,
            r#"{"timestamp":"x","level":"INFO","fields":{"message":"loaded user","id":42},"target":"shop"}"#.into(),
        ),
        (API, A, 3_000, "END RequestId: req-1\n".into()),
        (API, A, 3_001, report("req-1")),
        (API, B, 1_500, "START RequestId: req-2 Version: $LATEST\n".into()),
        (
            API,
            B,
            2_500,
            "2026-11-26T20:00:00.000Z\treq-2\tWARN\tslow query\n".into(),
        ),
        (API, B, 4_000, "END RequestId: req-2\n".into()),
        (API, B, 4_001, report("req-2")),
        (API, A, 10_000, "START RequestId: req-3 Version: $LATEST\n".into()),
        (API, A, 11_000, "ERROR db timeout\n".into()),
        (API, A, 12_000, "END RequestId: req-3\n".into()),
        (API, A, 12_001, report("req-3")),
        (CLEANUP, C, 5_000, "START RequestId: req-4 Version: $LATEST\n".into()),
        (
            CLEANUP,
            C,
            6_000,
            r#"{"level":"ERROR","message":"cleanup failed","requestId":"req-4"}"#.into(),
        ),
        (CLEANUP, C, 7_000, "END RequestId: req-4\n".into()),
        (CLEANUP, C, 7_001, report("req-4")),
    ]
}

async fn put(aws: &Aws, base: i64, events: &[(&str, &str, i64, String)]) {
    let mut by_stream: BTreeMap<(&str, &str), Vec<(i64, String)>> = BTreeMap::new();
    for (group, stream, offset, message) in events {
        by_stream
            .entry((group, stream))
            .or_default()
            .push((base + offset, message.clone()));
    }
    for ((group, stream), mut events) in by_stream {
        events.sort_by_key(|e| e.0);
        aws.create_log_stream(group, stream).await.unwrap();
        aws.put_log_events(group, stream, &events).await.unwrap();
    }
}

async fn moto_with_groups() -> (Moto, Aws) {
    let moto = Moto::start().expect("moto server");
    let aws = Aws::connect_for_tests(&moto.endpoint()).await;
    for g in groups() {
        aws.create_log_group(&g.name, &BTreeMap::new())
            .await
            .unwrap();
    }
    (moto, aws)
}

/// [`moto_with_groups`] holding the [`fixture`] events from `base` on.
async fn moto_with_fixture(base: i64) -> (Moto, Aws) {
    let (moto, aws) = moto_with_groups().await;
    put(&aws, base, &fixture()).await;
    (moto, aws)
}

async fn text_of(source: &impl Source, query: &Query<'_>, renderer: Renderer) -> Vec<String> {
    let mut printer = Printer::new(renderer, Vec::new());
    print_window(source, query, &mut printer).await.unwrap();
    String::from_utf8(printer.into_inner())
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

/// Every event from `start_ms` on.
fn since(start_ms: i64) -> Query<'static> {
    Query {
        start_ms,
        end_ms: None,
        pattern: None,
        request_id: None,
    }
}

/// The app's groups in moto, `page_limit` events a page.
fn cloud<'a>(
    aws: &'a Aws,
    clock: &'a FakeClock<'a>,
    page_limit: Option<i32>,
) -> AwsSource<'a, FakeClock<'a>> {
    AwsSource {
        aws,
        groups: groups(),
        clock,
        page_limit,
    }
}

/// What following `query` printed (platform lines left out), and its stats.
async fn follow_lines(
    source: &impl Source,
    clock: &FakeClock<'_>,
    query: &Query<'_>,
    limits: FollowLimits,
) -> (Vec<String>, super::follow::FollowStats) {
    let mut printer = Printer::new(plain(false), Vec::new());
    let stats = follow(source, clock, query, &mut printer, limits)
        .await
        .unwrap();
    let out = String::from_utf8(printer.into_inner()).unwrap();
    (out.lines().map(str::to_owned).collect(), stats)
}

/// (log group, stream, offset ms from the base, message).
type Arrival = (&'static str, &'static str, i64, String);

struct FakeClock<'a> {
    now: Cell<i64>,
    sleeps: RefCell<Vec<Duration>>,
    /// What arrives during each sleep; the sleep after the last says stop.
    arrivals: RefCell<VecDeque<Vec<Arrival>>>,
    aws: Option<&'a Aws>,
    base: i64,
}

impl<'a> FakeClock<'a> {
    fn new(now: i64, aws: Option<&'a Aws>, base: i64) -> Self {
        Self {
            now: Cell::new(now),
            sleeps: RefCell::new(Vec::new()),
            arrivals: RefCell::new(VecDeque::new()),
            aws,
            base,
        }
    }
}

impl Clock for FakeClock<'_> {
    fn now_ms(&self) -> i64 {
        self.now.get()
    }

    async fn sleep(&self, duration: Duration) -> bool {
        self.sleeps.borrow_mut().push(duration);
        self.now
            .set(self.now.get() + i64::try_from(duration.as_millis()).unwrap());
        let next = self.arrivals.borrow_mut().pop_front();
        match (next, self.aws) {
            (Some(events), Some(aws)) => {
                put(aws, self.base, &events).await;
                true
            }
            (Some(_), None) => true,
            (None, _) => false,
        }
    }
}

#[tokio::test]
async fn windows_merge_the_groups_in_time_order_across_pages() {
    let base = base_time();
    let (_moto, aws) = moto_with_fixture(base).await;
    let clock = FakeClock::new(base + 60_000, None, base);
    // Two events a page: every group takes several pages.
    let source = cloud(&aws, &clock, Some(2));
    let all = since(base);
    let t = |offset| stamp(base + offset);
    assert_eq!(
        text_of(&source, &all, plain(false)).await,
        [
            format!("{} api aaaaaaaa GET /users/42", t(1_000)),
            format!(
                "{} api aaaaaaaa INFO loaded user id=42 target=shop",
                t(2_000)
            ),
            format!("{} api bbbbbbbb WARN slow query", t(2_500)),
            format!("{} cleanup cccccccc ERROR cleanup failed", t(6_000)),
            format!("{} api aaaaaaaa ERROR db timeout", t(11_000)),
        ]
    );
    let with_platform = text_of(&source, &all, plain(true)).await;
    assert_eq!(with_platform.len(), fixture().len());
    assert_eq!(
        with_platform[5],
        format!("{} api aaaaaaaa END RequestId: req-1", t(3_000))
    );
    assert_eq!(
        with_platform[6],
        format!(
            "{} api aaaaaaaa REPORT req-1 2.50 ms (billed 3 ms), 20/128 MB",
            t(3_001)
        )
    );

    // A window: both ends inclusive.
    let window = Query {
        start_ms: base + 2_000,
        end_ms: Some(base + 6_000),
        ..all
    };
    assert_eq!(
        text_of(&source, &window, plain(false)).await,
        [
            format!(
                "{} api aaaaaaaa INFO loaded user id=42 target=shop",
                t(2_000)
            ),
            format!("{} api bbbbbbbb WARN slow query", t(2_500)),
            format!("{} cleanup cccccccc ERROR cleanup failed", t(6_000)),
        ]
    );

    // A pattern goes to CloudWatch.
    let errors = Query {
        pattern: Some("ERROR"),
        ..all
    };
    assert_eq!(
        text_of(&source, &errors, plain(false)).await,
        [
            format!("{} cleanup cccccccc ERROR cleanup failed", t(6_000)),
            format!("{} api aaaaaaaa ERROR db timeout", t(11_000)),
        ]
    );

    // One function.
    let cleanup_only = AwsSource {
        groups: vec![groups().remove(1)],
        ..source
    };
    assert_eq!(
        text_of(&cleanup_only, &all, plain(false)).await,
        [format!(
            "{} cleanup cccccccc ERROR cleanup failed",
            t(6_000)
        )]
    );
}

#[tokio::test]
async fn a_request_id_brings_every_line_of_its_invocation() {
    let base = base_time();
    let (_moto, aws) = moto_with_fixture(base).await;
    let clock = FakeClock::new(base + 60_000, None, base);
    let source = cloud(&aws, &clock, Some(3));
    let t = |offset| stamp(base + offset);
    let query = |id| Query {
        request_id: Some(id),
        ..since(base)
    };
    // Plain lines carry no id: they belong to req-1 by stream and time (between its START
    // and its REPORT in stream A), not to req-2 (stream B) nor req-3 (later in A).
    assert_eq!(
        text_of(&source, &query("req-1"), plain(false)).await,
        [
            format!("{} api aaaaaaaa GET /users/42", t(1_000)),
            format!(
                "{} api aaaaaaaa INFO loaded user id=42 target=shop",
                t(2_000)
            ),
        ]
    );
    assert_eq!(
        text_of(&source, &query("req-1"), plain(true)).await.len(),
        5
    );
    // In JSON the plain lines carry the id they were correlated to.
    let json = Renderer {
        format: Format::Json,
        ..plain(false)
    };
    let ids: Vec<String> = text_of(&source, &query("req-1"), json)
        .await
        .iter()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["request_id"].to_string())
        .collect();
    assert_eq!(ids, ["\"req-1\"", "\"req-1\""]);
    assert_eq!(
        text_of(&source, &query("req-2"), plain(false)).await,
        [format!("{} api bbbbbbbb WARN slow query", t(2_500))]
    );
    assert_eq!(
        text_of(&source, &query("req-4"), plain(false)).await,
        [format!(
            "{} cleanup cccccccc ERROR cleanup failed",
            t(6_000)
        )]
    );
    assert!(
        text_of(&source, &query("req-404"), plain(true))
            .await
            .is_empty()
    );
    // With a pattern, the invocation's lines that match it.
    let filtered = Query {
        pattern: Some("GET"),
        ..query("req-1")
    };
    assert_eq!(
        text_of(&source, &filtered, plain(false)).await,
        [format!("{} api aaaaaaaa GET /users/42", t(1_000))]
    );
}

#[tokio::test]
async fn following_prints_what_arrives_exactly_once_with_bounded_memory() {
    let (_moto, aws) = moto_with_groups().await;
    let base = base_time();
    put(&aws, base, &fixture()[..5]).await;
    let clock = FakeClock::new(base + 5_000, Some(&aws), base);
    {
        let mut arrivals = clock.arrivals.borrow_mut();
        // Poll 2 sees a new line in another group, and one that arrived late (its time is
        // before lines printed already).
        arrivals.push_back(vec![
            (CLEANUP, C, 6_000, "cleanup ran\n".into()),
            (API, B, 2_500, "late line\n".into()),
        ]);
        // Nothing new for a poll.
        arrivals.push_back(vec![]);
        arrivals.push_back(vec![(API, A, 9_000, "later\n".into())]);
        // Then a minute passes without events, and one more arrives.
        for _ in 0..30 {
            arrivals.push_back(vec![]);
        }
        arrivals.push_back(vec![(API, A, 70_000, "much later\n".into())]);
    }
    let source = cloud(&aws, &clock, Some(2));
    let query = since(base);
    let limits = FollowLimits {
        poll_every: Duration::from_secs(2),
        lookback: Duration::from_secs(30),
        max_remembered: 1_000,
    };
    let (lines, stats) = follow_lines(&source, &clock, &query, limits).await;
    let t = |offset| stamp(base + offset);
    assert_eq!(
        lines,
        [
            format!("{} api aaaaaaaa GET /users/42", t(1_000)),
            format!(
                "{} api aaaaaaaa INFO loaded user id=42 target=shop",
                t(2_000)
            ),
            format!("{} api bbbbbbbb late line", t(2_500)),
            format!("{} cleanup cccccccc cleanup ran", t(6_000)),
            format!("{} api aaaaaaaa later", t(9_000)),
            format!("{} api aaaaaaaa much later", t(70_000)),
        ]
    );
    assert_eq!(stats.polls, 35);
    assert!(
        clock
            .sleeps
            .borrow()
            .iter()
            .all(|d| *d == Duration::from_secs(2))
    );
    // Every event (platform lines too) stayed remembered while within the lookback; once
    // the clock passed them by 30 s they were forgotten.
    assert_eq!(stats.max_remembered, 8);
    assert_eq!(stats.remembered, 1);
}

#[tokio::test]
async fn following_many_events_keeps_at_most_the_cap_and_prints_each_once() {
    let (_moto, aws) = moto_with_groups().await;
    let base = base_time();
    let events: Vec<_> = (0..600)
        .map(|i| (API, A, i64::from(i) * 10, format!("line {i}\n")))
        .collect();
    put(&aws, base, &events).await;
    // An hour of lookback: only the cap bounds what is remembered.
    let clock = FakeClock::new(base + 6_000, Some(&aws), base);
    clock
        .arrivals
        .borrow_mut()
        .extend([vec![(API, A, 6_000, "line 600\n".into())], vec![]]);
    let source = cloud(&aws, &clock, None);
    let query = since(base);
    let limits = FollowLimits {
        poll_every: Duration::from_secs(1),
        lookback: Duration::from_secs(3_600),
        max_remembered: 100,
    };
    let (lines, stats) = follow_lines(&source, &clock, &query, limits).await;
    assert_eq!(lines.len(), 601);
    for (i, line) in lines.iter().enumerate() {
        assert!(line.ends_with(&format!(" line {i}")), "{line}");
    }
    assert_eq!(stats.remembered, 100);
    // Even within the first poll, which brought all 600.
    assert!(stats.max_remembered <= 200, "{stats:?}");
}

fn throttled() -> AwsError {
    AwsError {
        service: "CloudWatch Logs",
        operation: "FilterLogEvents",
        resource: "log group x".into(),
        code: Some("ThrottlingException".into()),
        message: "Rate exceeded".into(),
    }
}

#[tokio::test]
async fn throttled_calls_are_retried_after_growing_pauses() {
    let clock = FakeClock::new(0, None, 0);
    clock.arrivals.borrow_mut().extend(vec![vec![]; 100]);
    let calls = Cell::new(0);
    let got = with_backoff(&clock, || {
        calls.set(calls.get() + 1);
        let n = calls.get();
        async move { if n <= 3 { Err(throttled()) } else { Ok(n) } }
    })
    .await
    .unwrap();
    assert_eq!(got, 4);
    assert_eq!(
        *clock.sleeps.borrow(),
        [
            Duration::from_millis(500),
            Duration::from_secs(1),
            Duration::from_secs(2)
        ]
    );

    // Throttled for good: it gives up, having waited at most 30 s at a time.
    clock.sleeps.borrow_mut().clear();
    let err = with_backoff(&clock, || async { Err::<(), _>(throttled()) })
        .await
        .unwrap_err();
    assert!(err.is_throttling());
    {
        let sleeps = clock.sleeps.borrow();
        assert_eq!(sleeps.len(), 11);
        assert_eq!(sleeps.last(), Some(&Duration::from_secs(30)));
    }

    // Anything else is not retried.
    let calls = Cell::new(0);
    let err = with_backoff(&clock, || {
        calls.set(calls.get() + 1);
        async {
            Err::<(), _>(AwsError {
                code: Some("AccessDeniedException".into()),
                ..throttled()
            })
        }
    })
    .await
    .unwrap_err();
    assert!(!err.is_throttling());
    assert_eq!(calls.get(), 1);
}

#[tokio::test]
async fn the_local_store_reads_back_in_the_same_format() {
    let tmp = crate::test_support::TempDir::new("logs", "local-format");
    let path = LocalSource::path(&tmp.0);
    let store = portico_local::store::Store::open(&path).unwrap();
    let base = base_time();
    let records: Vec<_> = fixture()
        .into_iter()
        .map(
            |(group, stream, offset, message)| portico_local::store::LogRecord {
                timestamp_ms: base + offset,
                function: if group == API { "api" } else { "cleanup" }.to_owned(),
                stream: stream.to_owned(),
                request_id: super::render::parse(&message).request_id,
                message: message.trim_end().to_owned(),
            },
        )
        .collect();
    store.append_logs(&records).unwrap();

    let mut local = LocalSource::open(&path, None).unwrap();
    assert_eq!(local.functions().unwrap(), ["api", "cleanup"]);
    local.groups = groups();
    let all = since(base);

    // The same events through CloudWatch (moto) print the same lines.
    let (_moto, aws) = moto_with_fixture(base).await;
    let clock = FakeClock::new(base, None, base);
    let cloud = cloud(&aws, &clock, None);
    for include in [false, true] {
        let local_lines = text_of(&local, &all, plain(include)).await;
        assert_eq!(local_lines, text_of(&cloud, &all, plain(include)).await);
        assert!(local_lines.len() >= 5);
    }
    let req1 = Query {
        request_id: Some("req-1"),
        ..all
    };
    // Locally the store knows each line's invocation, except lines without a request id
    // recorded (here: the fixture's plain lines): req-1's START/END/REPORT.
    assert_eq!(text_of(&local, &req1, plain(true)).await.len(), 3);
    let filtered = Query {
        pattern: Some("?timeout ?failed"),
        ..all
    };
    assert_eq!(
        text_of(&local, &filtered, plain(false)).await,
        [
            format!(
                "{} cleanup cccccccc ERROR cleanup failed",
                stamp(base + 6_000)
            ),
            format!("{} api aaaaaaaa ERROR db timeout", stamp(base + 11_000)),
        ]
    );
    let err = LocalSource::open(&path, Some("{ $.level = \"ERROR\" }"))
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("only term patterns"), "{err}");
    let err = LocalSource::open(&tmp.0.join("none.db"), None)
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("run `portico local` first"), "{err}");
}

#[tokio::test]
async fn an_end_and_report_row_reads_back_as_two_lines() {
    let tmp = crate::test_support::TempDir::new("logs", "local-end-report");
    let path = LocalSource::path(&tmp.0);
    let store = portico_local::store::Store::open(&path).unwrap();
    let base = base_time();
    let record = |offset: i64, message: &str| portico_local::store::LogRecord {
        timestamp_ms: base + offset,
        function: "api".to_owned(),
        stream: "2026/11/26/[$LATEST]0123456789abcdef".to_owned(),
        request_id: Some("req-9".to_owned()),
        message: message.to_owned(),
    };
    let report = "REPORT RequestId: req-9\tDuration: 1.00 ms\tBilled Duration: 1 ms\tMemory Size: 128 MB\tMax Memory Used: 9 MB";
    store
        .append_logs(&[
            record(0, "START RequestId: req-9 Version: $LATEST"),
            record(1, "a line"),
            record(2, &format!("END RequestId: req-9\n{report}")),
            // A multi-line message that is not an END/REPORT pair stays one line.
            record(3, "END RequestId: req-8\nsomething else"),
        ])
        .unwrap();
    let mut local = LocalSource::open(&path, None).unwrap();
    local.groups = groups();
    let query = Query {
        request_id: Some("req-9"),
        ..since(base)
    };
    let mut events = Vec::new();
    local
        .events(&query, &mut |e| {
            events.push((e.id, e.timestamp_ms - base, e.message));
            true
        })
        .await
        .unwrap();
    let ids: Vec<&str> = events.iter().map(|e| e.0.as_str()).collect();
    assert_eq!(ids, ["1", "2", "3", "3.1", "4"]);
    assert_eq!(events[2].2, "END RequestId: req-9");
    assert_eq!((events[3].1, events[3].2.as_str()), (2, report));
    assert_eq!(events[4].2, "END RequestId: req-8\nsomething else");

    // A pattern sees each of the two lines on its own.
    let only_report = Query {
        pattern: Some("Duration"),
        ..query
    };
    let mut messages = Vec::new();
    local
        .events(&only_report, &mut |e| {
            messages.push(e.message);
            true
        })
        .await
        .unwrap();
    assert_eq!(messages, [report]);
}

//! Fires the app's `#[schedule]` handlers on their `rate(...)` / `cron(...)` expressions (UTC),
//! with the event EventBridge sends a scheduled rule's target.
//!
//! Each schedule has its own task, so a slow handler delays nobody else. Like EventBridge:
//! - `rate(N unit)` first fires N units after the scheduler starts (EventBridge counts from the
//!   rule's creation), then every N units;
//! - `cron(...)` fires at the minutes [`CronExpr::next_after`] computes.
//!
//! Promises: a slot fires at most once (slots only move forward, whatever the wall clock does);
//! a slot that comes while the previous invocation of the same schedule is still running is
//! skipped and reported, never queued; slots that passed while the machine slept are reported
//! and only the latest of them fires. Time comes from a `WakeClock`, so tests never wait.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::clock::{self, SystemClock, rfc3339_seconds};
use crate::invoker::{ACCOUNT, Invoker, REGION};
use crate::lambda::{InvocationResult, InvokeOutcome, LambdaHost};
use crate::logs::LogSink;
use portico_spec::manifest::ManifestSchedule;
use portico_spec::schedule_expr::{self, CronExpr, ScheduleExpr};

/// How many slots passed during a long sleep are counted before reporting "more than".
const MISSED_COUNT_LIMIT: u32 = 10_000;

/// Runs the schedules until `shutdown` turns `true`, following `schedules`: after a rebuild (`--watch`), schedules that were
/// added start, removed ones stop, changed ones restart; unchanged ones keep their phase.
pub async fn run_updating(
    schedules: watch::Receiver<Vec<ManifestSchedule>>,
    rule_prefix: String,
    host: Arc<LambdaHost>,
    logs: LogSink,
    shutdown: watch::Receiver<bool>,
) {
    let scheduler = Scheduler {
        invoker: host,
        clock: Arc::new(SystemClock),
        log: Arc::new(logs),
        rule_prefix,
    };
    scheduler.run(schedules, shutdown).await;
}

/// Where log lines go; [`LogSink`] in the local cloud, a channel in tests.
pub(crate) trait SystemLog: Send + Sync + 'static {
    /// Prints a line of the local cloud's own (not a function's) output.
    fn system(&self, message: &str);
}

impl SystemLog for LogSink {
    fn system(&self, message: &str) {
        LogSink::system(self, message);
    }
}

/// The local cloud's clock ([`clock::Clock`]) read in Unix seconds (UTC), and a wait for a
/// time: what the scheduler needs of a clock.
pub(crate) trait WakeClock: clock::Clock {
    /// The current time, rounded down to the second.
    fn now_secs(&self) -> i64 {
        self.now_ms().div_euclid(1000)
    }
    /// Completes once [`now_secs`](Self::now_secs) is at least `unix_secs`.
    fn sleep_until(&self, unix_secs: i64) -> impl Future<Output = ()> + Send;
}

impl WakeClock for SystemClock {
    async fn sleep_until(&self, unix_secs: i64) {
        // Sleeps in short steps and re-reads the wall clock: tokio's timer is monotonic and
        // neither follows clock adjustments nor counts time the machine spent suspended.
        const STEP: Duration = Duration::from_secs(15);
        loop {
            let target = UNIX_EPOCH + Duration::from_secs(u64::try_from(unix_secs).unwrap_or(0));
            match target.duration_since(SystemTime::now()) {
                Ok(left) if !left.is_zero() => tokio::time::sleep(left.min(STEP)).await,
                _ => return,
            }
        }
    }
}

/// When a schedule fires.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Timing {
    /// At `start + k * period` seconds, `k >= 1`.
    Every { start: i64, period: i64 },
    /// At the minutes a cron expression selects.
    Cron(Box<CronExpr>),
}

impl Timing {
    /// The timing of `expression` for a scheduler started at `start`.
    ///
    /// # Errors
    /// When the expression is invalid (the `#[schedule]` macro rejects those, but the manifest
    /// could come from any binary).
    pub(crate) fn parse(expression: &str, start: i64) -> Result<Self, String> {
        match schedule_expr::parse_schedule(expression).map_err(|e| e.message)? {
            ScheduleExpr::Rate { value, unit } => Ok(Self::Every {
                start,
                period: i64::from(value) * unit.seconds() as i64,
            }),
            ScheduleExpr::Cron(cron) => Ok(Self::Cron(Box::new(cron))),
        }
    }

    /// The first slot strictly after `t`; `None` when the schedule never fires again.
    pub(crate) fn next_after(&self, t: i64) -> Option<i64> {
        match self {
            Self::Every { start, period } => {
                let k = if t < *start {
                    1
                } else {
                    t.checked_sub(*start)?.div_euclid(*period).checked_add(1)?
                };
                start.checked_add(k.checked_mul(*period)?)
            }
            Self::Cron(cron) => cron.next_after(t),
        }
    }

    /// The latest slot at or before `now`, starting from the due slot `slot`, and how many
    /// slots were passed over to reach it (counted up to [`MISSED_COUNT_LIMIT`]).
    fn latest_due(&self, slot: i64, now: i64) -> (i64, u32) {
        let mut latest = slot;
        let mut passed = 0;
        while let Some(next) = self.next_after(latest) {
            if next > now {
                break;
            }
            latest = next;
            passed += 1;
            if passed == MISSED_COUNT_LIMIT {
                // Jump straight to the last due slot without counting the rest.
                if let Self::Every { start, period } = self {
                    latest = start + (now - start).div_euclid(*period) * period;
                } else {
                    while let Some(n) = self.next_after(latest).filter(|n| *n <= now) {
                        latest = n;
                    }
                }
                break;
            }
        }
        (latest, passed)
    }
}

/// One schedule, resolved: what to invoke and how the event names the rule.
#[derive(Debug, Clone)]
struct Job {
    name: String,
    expression: String,
    timing: Timing,
    rule_arn: String,
}

/// The scheduler over any [`Invoker`], [`WakeClock`] and [`SystemLog`].
pub(crate) struct Scheduler<I, C, L> {
    pub(crate) invoker: Arc<I>,
    pub(crate) clock: Arc<C>,
    pub(crate) log: Arc<L>,
    pub(crate) rule_prefix: String,
}

impl<I: Invoker, C: WakeClock, L: SystemLog> Scheduler<I, C, L> {
    /// Runs the current schedule set, following its changes, until shutdown.
    pub(crate) async fn run(
        &self,
        mut schedules: watch::Receiver<Vec<ManifestSchedule>>,
        mut shutdown: watch::Receiver<bool>,
    ) {
        let mut running: HashMap<String, (String, JoinHandle<()>)> = HashMap::new();
        let mut updates_open = true;
        loop {
            let current = schedules.borrow_and_update().clone();
            self.reconcile(&current, &mut running, &shutdown);
            tokio::select! {
                changed = schedules.changed(), if updates_open => {
                    // A dropped sender only means no more updates.
                    updates_open = changed.is_ok();
                }
                () = stopped(&mut shutdown) => break,
            }
        }
        for (_, (_, task)) in running.drain() {
            // Each task watches `shutdown` itself; this only bounds the wait.
            let _ = tokio::time::timeout(Duration::from_secs(1), task).await;
        }
    }

    /// Starts, stops and restarts tasks so that `running` matches `wanted`.
    fn reconcile(
        &self,
        wanted: &[ManifestSchedule],
        running: &mut HashMap<String, (String, JoinHandle<()>)>,
        shutdown: &watch::Receiver<bool>,
    ) {
        running.retain(|name, (expression, task)| {
            let keep = wanted
                .iter()
                .any(|s| &s.name == name && &s.expression == expression);
            if !keep {
                task.abort();
                self.log.system(&format!(
                    "schedule {name}: stopped ({expression} is no longer in the app)"
                ));
            }
            keep
        });
        let start = self.clock.now_secs();
        for schedule in wanted {
            if running.contains_key(&schedule.name) {
                continue;
            }
            let timing = match Timing::parse(&schedule.expression, start) {
                Ok(timing) => timing,
                Err(message) => {
                    self.log.system(&format!(
                        "schedule {}: not scheduled: `{}`: {message}",
                        schedule.name, schedule.expression
                    ));
                    continue;
                }
            };
            let job = Job {
                name: schedule.name.clone(),
                expression: schedule.expression.clone(),
                timing,
                rule_arn: format!(
                    "arn:aws:events:{REGION}:{ACCOUNT}:rule/{}{}",
                    self.rule_prefix, schedule.name
                ),
            };
            let task = tokio::spawn(run_job(
                job,
                Arc::clone(&self.invoker),
                Arc::clone(&self.clock),
                Arc::clone(&self.log),
                shutdown.clone(),
            ));
            running.insert(schedule.name.clone(), (schedule.expression.clone(), task));
        }
    }
}

/// Fires one schedule until shutdown (or until it never fires again).
async fn run_job<I: Invoker, C: WakeClock, L: SystemLog>(
    job: Job,
    invoker: Arc<I>,
    clock: Arc<C>,
    log: Arc<L>,
    mut shutdown: watch::Receiver<bool>,
) {
    let name = &job.name;
    let mut next = job.timing.next_after(clock.now_secs());
    match next {
        Some(slot) => log.system(&format!(
            "schedule {name}: {}, next at {}",
            job.expression,
            rfc3339_seconds(slot)
        )),
        None => log.system(&format!(
            "schedule {name}: {} never fires again",
            job.expression
        )),
    }
    while let Some(slot) = next {
        tokio::select! {
            () = clock.sleep_until(slot) => {}
            () = stopped(&mut shutdown) => return,
        }
        let (due, passed) = job.timing.latest_due(slot, clock.now_secs());
        if passed > 0 {
            let more = if passed == MISSED_COUNT_LIMIT {
                "more than "
            } else {
                ""
            };
            log.system(&format!(
                "schedule {name}: missed {more}{passed} slot(s) from {} while the machine was \
                 asleep or the clock jumped; firing the latest",
                rfc3339_seconds(slot)
            ));
        }
        let time = rfc3339_seconds(due);
        log.system(&format!("schedule {name}: firing for {time}"));
        let payload = scheduled_event(&event_id(), &time, &job.rule_arn);
        let invocation = invoker.invoke(name, payload);
        tokio::pin!(invocation);
        let mut last = due;
        loop {
            let following = job.timing.next_after(last);
            tokio::select! {
                result = &mut invocation => {
                    log.system(&describe(name, &time, &result));
                    break;
                }
                () = sleep_until_some(&*clock, following) => {
                    // `following` is `Some` here: the sleep never ends otherwise.
                    last = following.unwrap_or(last);
                    log.system(&format!(
                        "schedule {name}: skipped the {} slot: the invocation for {time} is \
                         still running",
                        rfc3339_seconds(last)
                    ));
                }
                () = stopped(&mut shutdown) => return,
            }
        }
        next = job.timing.next_after(last);
    }
}

async fn sleep_until_some<C: WakeClock>(clock: &C, at: Option<i64>) {
    match at {
        Some(t) => clock.sleep_until(t).await,
        None => std::future::pending().await,
    }
}

/// Completes when `shutdown` turns `true` or its sender is gone.
pub async fn stopped(shutdown: &mut watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|stop| *stop).await;
}

/// The log line for an invocation's outcome.
fn describe(name: &str, time: &str, result: &InvocationResult) -> String {
    let ms = result.duration.as_millis();
    let id = &result.request_id;
    match &result.outcome {
        InvokeOutcome::Response(_) => {
            format!("schedule {name}: {time} done in {ms} ms (request {id})")
        }
        InvokeOutcome::FunctionError {
            error_type,
            error_message,
        } => format!(
            "schedule {name}: {time} failed in {ms} ms (request {id}): {error_type}: {error_message}"
        ),
        InvokeOutcome::Timeout => {
            format!("schedule {name}: {time} timed out after {ms} ms (request {id})")
        }
        InvokeOutcome::Crashed { detail } => {
            format!(
                "schedule {name}: {time}: the function process crashed (request {id}): {detail}"
            )
        }
        InvokeOutcome::UnknownFunction => format!(
            "schedule {name}: {time}: the local Lambda host has no function `{name}`; restart \
             `portico local`"
        ),
    }
}

/// The event EventBridge sends a scheduled rule's target.
pub fn scheduled_event(id: &str, time: &str, rule_arn: &str) -> Bytes {
    let event = serde_json::json!({
        "version": "0",
        "id": id,
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": ACCOUNT,
        "time": time,
        "region": REGION,
        "resources": [rule_arn],
        "detail": {},
    });
    Bytes::from(event.to_string())
}

/// A random UUID (version 4), as EventBridge's event ids.
pub fn event_id() -> String {
    crate::ids::uuid_v4()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;
    use tokio::sync::{Semaphore, mpsc};

    /// Unix seconds of a UTC date and time.
    fn ts(y: i32, mo: u8, d: u8, h: u8, mi: u8) -> i64 {
        crate::clock::unix_secs(y, mo, d, h, mi, 0).unwrap()
    }

    #[test]
    fn rate_slots_count_from_start() {
        let start = ts(2024, 1, 1, 12, 0) + 37;
        let t = Timing::parse("rate(5 minutes)", start).unwrap();
        assert_eq!(
            t.next_after(start),
            Some(start + 300),
            "N units after start"
        );
        assert_eq!(t.next_after(start - 1_000), Some(start + 300));
        assert_eq!(t.next_after(start + 299), Some(start + 300));
        assert_eq!(
            t.next_after(start + 300),
            Some(start + 600),
            "strictly after"
        );
        let t = Timing::parse("rate(1 day)", start).unwrap();
        assert_eq!(t.next_after(start), Some(start + 86_400));
        let t = Timing::parse("rate(2 hours)", start).unwrap();
        assert_eq!(t.next_after(start + 7_200), Some(start + 14_400));
        assert_eq!(t.next_after(i64::MAX), None);
    }

    #[test]
    fn cron_slots_use_the_shared_parser() {
        let t = Timing::parse("cron(0/15 * * * ? *)", 0).unwrap();
        let at = ts(2024, 1, 1, 10, 7);
        assert_eq!(t.next_after(at), Some(ts(2024, 1, 1, 10, 15)));
        assert_eq!(
            t.next_after(ts(2024, 1, 1, 10, 15)),
            Some(ts(2024, 1, 1, 10, 30))
        );
        let err = Timing::parse("cron(0 12 * * MON *)", 0).unwrap_err();
        assert!(err.contains("day-of-week"), "{err}");
    }

    #[test]
    fn latest_due_counts_passed_slots() {
        let t = Timing::parse("rate(1 minute)", 0).unwrap();
        assert_eq!(t.latest_due(60, 60), (60, 0));
        assert_eq!(t.latest_due(60, 239), (180, 2));
        let year = 366 * 86_400;
        let (latest, passed) = t.latest_due(60, year + 30);
        assert_eq!((latest, passed), (year, MISSED_COUNT_LIMIT));
        let t = Timing::parse("cron(* * * * ? *)", 0).unwrap();
        let (latest, passed) = t.latest_due(60, 20_000 * 60 + 5);
        assert_eq!((latest, passed), (20_000 * 60, MISSED_COUNT_LIMIT));
    }

    #[test]
    fn event_has_the_eventbridge_shape() {
        let arn = "arn:aws:events:us-east-1:000000000000:rule/shop-dev-cleanup";
        let body = scheduled_event("id-1", "2024-01-01T12:00:00Z", arn);
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(
            v,
            serde_json::json!({
                "version": "0", "id": "id-1", "detail-type": "Scheduled Event",
                "source": "aws.events", "account": "000000000000",
                "time": "2024-01-01T12:00:00Z", "region": "us-east-1",
                "resources": [arn], "detail": {}
            })
        );
    }

    #[test]
    fn event_ids_look_like_uuids_and_differ() {
        let a = event_id();
        let b = event_id();
        assert_ne!(a, b);
        let parts: Vec<usize> = a.split('-').map(str::len).collect();
        assert_eq!(parts, [8, 4, 4, 4, 12], "{a}");
        assert_eq!(&a[14..15], "4", "{a}");
        assert!(matches!(&a[19..20], "8" | "9" | "a" | "b"), "{a}");
    }

    /// A clock the test moves by hand.
    struct FakeClock(watch::Sender<i64>);

    impl FakeClock {
        fn set(&self, t: i64) {
            self.0.send_replace(t);
        }
    }

    impl clock::Clock for FakeClock {
        fn now_ms(&self) -> i64 {
            *self.0.borrow() * 1000
        }
    }

    impl WakeClock for FakeClock {
        fn sleep_until(&self, unix_secs: i64) -> impl Future<Output = ()> + Send {
            let mut rx = self.0.subscribe();
            async move {
                let _ = rx.wait_for(|now| *now >= unix_secs).await;
            }
        }
    }

    /// Records invocations; each one waits for a permit when `gate` is closed.
    struct FakeHost {
        calls: mpsc::UnboundedSender<(String, serde_json::Value)>,
        gate: Semaphore,
        gated: bool,
    }

    impl Invoker for FakeHost {
        fn function_names(&self) -> Vec<String> {
            vec!["api".into(), "tick".into()]
        }

        async fn invoke(&self, function: &str, payload: Bytes) -> InvocationResult {
            let event = serde_json::from_slice(&payload).unwrap();
            let _ = self.calls.send((function.to_owned(), event));
            if self.gated {
                self.gate.acquire().await.unwrap().forget();
            }
            InvocationResult {
                request_id: "req".into(),
                outcome: InvokeOutcome::Response(Bytes::from_static(b"null")),
                duration: Duration::from_millis(3),
            }
        }
    }

    struct ChannelLog(Mutex<mpsc::UnboundedSender<String>>);

    impl SystemLog for ChannelLog {
        fn system(&self, message: &str) {
            let _ = self.0.lock().unwrap().send(message.to_owned());
        }
    }

    struct Harness {
        clock: Arc<FakeClock>,
        host: Arc<FakeHost>,
        calls: mpsc::UnboundedReceiver<(String, serde_json::Value)>,
        logs: mpsc::UnboundedReceiver<String>,
        schedules: watch::Sender<Vec<ManifestSchedule>>,
        shutdown: watch::Sender<bool>,
        task: JoinHandle<()>,
    }

    fn schedule(name: &str, expression: &str) -> ManifestSchedule {
        ManifestSchedule {
            name: name.into(),
            expression: expression.into(),
            source: String::new(),
        }
    }

    fn start(now: i64, gated: bool, schedules: Vec<ManifestSchedule>) -> Harness {
        let clock = Arc::new(FakeClock(watch::channel(now).0));
        let (calls_tx, calls) = mpsc::unbounded_channel();
        let (log_tx, logs) = mpsc::unbounded_channel();
        let host = Arc::new(FakeHost {
            calls: calls_tx,
            gate: Semaphore::new(0),
            gated,
        });
        let scheduler = Scheduler {
            invoker: Arc::clone(&host),
            clock: Arc::clone(&clock),
            log: Arc::new(ChannelLog(Mutex::new(log_tx))),
            rule_prefix: "shop-dev-".into(),
        };
        let (schedules, schedules_rx) = watch::channel(schedules);
        let (shutdown, shutdown_rx) = watch::channel(false);
        let task = tokio::spawn(async move { scheduler.run(schedules_rx, shutdown_rx).await });
        Harness {
            clock,
            host,
            calls,
            logs,
            schedules,
            shutdown,
            task,
        }
    }

    impl Harness {
        async fn next_call(&mut self) -> (String, serde_json::Value) {
            tokio::time::timeout(Duration::from_secs(5), self.calls.recv())
                .await
                .expect("an invocation")
                .expect("the scheduler is running")
        }

        async fn no_call(&mut self) {
            let got = tokio::time::timeout(Duration::from_millis(100), self.calls.recv()).await;
            assert!(got.is_err(), "unexpected invocation: {got:?}");
        }

        /// Waits for a log line containing `needle`, returning it.
        async fn log_containing(&mut self, needle: &str) -> String {
            loop {
                let line = tokio::time::timeout(Duration::from_secs(5), self.logs.recv())
                    .await
                    .unwrap_or_else(|_| panic!("no log line containing `{needle}`"))
                    .expect("logs open");
                if line.contains(needle) {
                    return line;
                }
            }
        }

        async fn stop(self) {
            self.shutdown.send_replace(true);
            tokio::time::timeout(Duration::from_secs(5), self.task)
                .await
                .expect("prompt shutdown")
                .unwrap();
        }
    }

    #[tokio::test]
    async fn rate_fires_each_slot_once_with_the_event() {
        let t0 = ts(2024, 1, 1, 12, 0) + 37;
        let mut h = start(t0, false, vec![schedule("tick", "rate(1 minute)")]);
        h.log_containing("next at 2024-01-01T12:01:37Z").await;
        h.clock.set(t0 + 59);
        h.no_call().await;
        h.clock.set(t0 + 60);
        let (function, event) = h.next_call().await;
        assert_eq!(function, "tick");
        assert_eq!(event["time"], "2024-01-01T12:01:37Z");
        assert_eq!(
            event["resources"][0],
            "arn:aws:events:us-east-1:000000000000:rule/shop-dev-tick"
        );
        h.log_containing("12:01:37Z done in 3 ms (request req)")
            .await;
        // The clock going back and forth over the same slot fires nothing more.
        h.clock.set(t0 + 10);
        h.clock.set(t0 + 61);
        h.no_call().await;
        h.clock.set(t0 + 120);
        assert_eq!(h.next_call().await.1["time"], "2024-01-01T12:02:37Z");
        h.stop().await;
    }

    #[tokio::test]
    async fn cron_fires_on_its_minutes() {
        let mut h = start(
            ts(2024, 3, 1, 17, 59) + 30,
            false,
            vec![schedule("report", "cron(0 18 ? * MON-FRI *)")],
        );
        h.log_containing("next at 2024-03-01T18:00:00Z").await;
        h.clock.set(ts(2024, 3, 1, 18, 0));
        let (function, event) = h.next_call().await;
        assert_eq!(function, "report");
        assert_eq!(event["time"], "2024-03-01T18:00:00Z");
        // Friday → the next firing is Monday.
        h.clock.set(ts(2024, 3, 2, 18, 0));
        h.no_call().await;
        h.clock.set(ts(2024, 3, 4, 18, 0));
        assert_eq!(h.next_call().await.1["time"], "2024-03-04T18:00:00Z");
        h.stop().await;
    }

    #[tokio::test]
    async fn a_busy_handler_skips_slots_instead_of_stacking() {
        let t0 = ts(2024, 1, 1, 0, 0);
        let mut h = start(t0, true, vec![schedule("slow", "rate(1 minute)")]);
        h.log_containing("next at").await;
        h.clock.set(t0 + 60);
        assert_eq!(h.next_call().await.1["time"], "2024-01-01T00:01:00Z");
        h.clock.set(t0 + 120);
        let line = h.log_containing("skipped").await;
        assert!(
            line.contains("the 2024-01-01T00:02:00Z slot") && line.contains("still running"),
            "{line}"
        );
        h.clock.set(t0 + 180);
        h.log_containing("skipped the 2024-01-01T00:03:00Z slot")
            .await;
        h.no_call().await;
        h.host.gate.add_permits(1);
        h.log_containing("00:01:00Z done").await;
        h.no_call().await;
        h.clock.set(t0 + 240);
        assert_eq!(h.next_call().await.1["time"], "2024-01-01T00:04:00Z");
        h.host.gate.add_permits(1);
        h.stop().await;
    }

    #[tokio::test]
    async fn after_a_long_sleep_only_the_latest_slot_fires() {
        let t0 = ts(2024, 1, 1, 0, 0);
        let mut h = start(t0, false, vec![schedule("tick", "rate(1 minute)")]);
        h.log_containing("next at").await;
        h.clock.set(t0 + 60 * 10 + 5);
        assert_eq!(h.next_call().await.1["time"], "2024-01-01T00:10:00Z");
        h.log_containing("missed 9 slot(s) from 2024-01-01T00:01:00Z")
            .await;
        h.no_call().await;
        h.stop().await;
    }

    #[tokio::test]
    async fn follows_schedule_changes_and_keeps_unchanged_phases() {
        let t0 = ts(2024, 1, 1, 0, 0);
        let mut h = start(t0, false, vec![schedule("a", "rate(2 minutes)")]);
        h.log_containing("schedule a: rate(2 minutes), next at 2024-01-01T00:02:00Z")
            .await;
        h.clock.set(t0 + 30);
        h.schedules.send_replace(vec![
            schedule("a", "rate(2 minutes)"),
            schedule("b", "rate(1 minute)"),
        ]);
        h.log_containing("schedule b: rate(1 minute), next at 2024-01-01T00:01:30Z")
            .await;
        h.clock.set(t0 + 90);
        assert_eq!(h.next_call().await.0, "b");
        h.clock.set(t0 + 120);
        let (function, event) = h.next_call().await;
        assert_eq!(
            (function.as_str(), &event["time"]),
            ("a", &"2024-01-01T00:02:00Z".into())
        );
        h.schedules
            .send_replace(vec![schedule("a", "cron(0 * * * ? *)")]);
        h.log_containing("schedule b: stopped").await;
        h.log_containing("schedule a: cron(0 * * * ? *), next at 2024-01-01T01:00:00Z")
            .await;
        h.clock.set(t0 + 180);
        h.no_call().await;
        h.stop().await;
    }

    #[tokio::test]
    async fn bad_expressions_are_reported_not_fatal() {
        let mut h = start(0, false, vec![schedule("bad", "every minute")]);
        h.log_containing("schedule bad: not scheduled").await;
        h.stop().await;
    }
}

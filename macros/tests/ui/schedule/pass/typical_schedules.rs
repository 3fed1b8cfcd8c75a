//! Typical schedules: rate and cron expressions, a custom name, extractors, sync and async
//! handlers. They are then fired through the in-process test client.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use portico::prelude::*;

#[schedule("rate(5 minutes)")]
async fn cleanup(event: ScheduledEvent) -> Result<(), Error> {
    assert_eq!(event.detail_type, "Scheduled Event");
    Ok(())
}

#[schedule("rate(1 day)")]
async fn count(State(counter): State<Arc<AtomicUsize>>, _ctx: LambdaContext) {
    counter.fetch_add(1, Ordering::SeqCst);
}

#[schedule("cron(0 12 ? * MON-FRI *)", name = "daily-report")]
fn report() {}

#[schedule("cron(0/15 8-17 L * ? 2025-2199)")]
pub fn end_of_month() -> Result<(), Error> {
    Ok(())
}

#[schedule("cron(0 9 ? * 2#1 *)")]
pub(crate) async fn first_monday(_event: ScheduledEvent) {}

fn main() {
    let counter = Arc::new(AtomicUsize::new(0));
    let app = App::new().state(Arc::clone(&counter)).schedules(schedules![
        cleanup,
        count,
        report,
        end_of_month,
        first_monday,
    ]);
    let schedules = app.schedule_list();
    let names: Vec<&str> = schedules.iter().map(|s| s.name).collect();
    assert_eq!(
        names,
        [
            "cleanup",
            "count",
            "daily-report",
            "end_of_month",
            "first_monday"
        ]
    );
    assert_eq!(schedules[2].expression, "cron(0 12 ? * MON-FRI *)");
    assert_eq!(schedules[0].line, 9, "the line of the attribute");
    assert!(schedules[0].file.ends_with("typical_schedules.rs"));

    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let client = portico::testing::TestClient::new(app);
        for name in names {
            client.fire_schedule(name).await.expect(name);
        }
    });
    assert_eq!(counter.load(Ordering::SeqCst), 1);
}

//! Typical event handlers of every kind: typed events, state, the Lambda context, custom
//! names, every return shape. They are then invoked through the in-process test client.

use portico::events::{
    BatchItemFailures, DynamoDbEvent, EventBridgeEvent, S3Event, SnsEvent, SqsEvent,
};
use portico::prelude::*;
use serde_json::Value;

#[derive(Clone)]
struct Prefix(&'static str);

#[on_sqs_message(queue = "jobs", batch_size = 10000, max_batching_window = 300)]
async fn jobs(event: SqsEvent, State(prefix): State<Prefix>) -> BatchItemFailures {
    event
        .records
        .into_iter()
        .filter(|m| m.body.as_deref().is_some_and(|b| !b.starts_with(prefix.0)))
        .filter_map(|m| m.message_id)
        .collect()
}

#[on_sqs_message(queue = "jobs", name = "jobs-all-or-nothing")]
async fn jobs_strict(event: SqsEvent) -> Result<(), String> {
    if event.records.is_empty() {
        return Err("empty".into());
    }
    Ok(())
}

#[on_sns_message(topic = "alerts")]
async fn alerts(event: SnsEvent, ctx: LambdaContext) {
    let _ = (event.records.len(), ctx.request_id);
}

#[on_s3_event(
    bucket = "uploads",
    events = ["s3:ObjectCreated:Put", "s3:ObjectCreated:CompleteMultipartUpload", "s3:ObjectRemoved:*"],
    prefix = "in/",
    suffix = ".jpg",
)]
async fn uploads(event: S3Event) -> Result<(), Error> {
    let _ = event;
    Ok(())
}

#[on_event(pattern = r#"{"source": ["shop.orders"], "$or": [{"detail": {"total": [{"numeric": [">=", 100]}]}}, {"detail-type": [{"prefix": "VIP"}]}]}"#)]
async fn big_orders(event: EventBridgeEvent<Value>) {
    let _ = event.detail;
}

#[on_event(pattern = r#"{"source": [{"anything-but": {"prefix": "aws."}}]}"#, name = "custom")]
async fn custom(Json(event): Json<Value>) {
    let _ = event;
}

#[on_dynamodb_record(table = "users", starting_position = "TRIM_HORIZON", batch_size = 1)]
async fn users(event: DynamoDbEvent) -> Result<BatchItemFailures, Error> {
    Ok(event
        .records
        .into_iter()
        .filter(|r| r.event_name == "REMOVE")
        .filter_map(|r| r.change.sequence_number)
        .collect())
}

fn main() {
    let app = App::new().state(Prefix("{")).event_handlers(event_handlers![
        jobs,
        jobs_strict,
        alerts,
        uploads,
        big_orders,
        custom,
        users
    ]);
    let names: Vec<_> = app.event_handler_list().iter().map(|h| h.name).collect();
    assert_eq!(
        names,
        ["jobs", "jobs-all-or-nothing", "alerts", "uploads", "big_orders", "custom", "users"]
    );
    let client = portico::testing::TestClient::new(app);
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(async {
            for name in ["jobs", "jobs-all-or-nothing", "alerts", "uploads", "big_orders", "custom"] {
                let result = client.invoke_event_sample(name).await.unwrap();
                assert!(result.batch_item_failures().is_empty(), "{name}");
            }
            let result = client.invoke_event_sample("users").await.unwrap();
            assert_eq!(result.batch_item_failures(), ["333"]);
        });
}

use portico::events::{DynamoDbEvent, EventBridgeEvent, S3Event, SqsEvent};
use portico::prelude::*;

#[on_sqs_message(queue = "jobs", batch_size = 100)]
async fn no_window(event: SqsEvent) {}

#[on_sqs_message(queue = "jobs", batch_size = 0)]
async fn empty_batch(event: SqsEvent) {}

#[on_sqs_message(queue = "jobs", batch_size = 20, max_batching_window = 301)]
async fn long_window(event: SqsEvent) {}

#[on_sqs_message(batch_size = 5)]
async fn no_queue(event: SqsEvent) {}

#[on_s3_event(bucket = "uploads", events = ["s3:ObjectCreated:*", "s3:ObjectCreated:Upload"])]
async fn unknown_s3_event(event: S3Event) {}

#[on_event(pattern = r#"{"source": "shop.orders"}"#)]
async fn not_an_array(event: EventBridgeEvent) {}

#[on_event(pattern = r#"{"detail": {"total": [{"numeric": [">", "100"]}]}}"#)]
async fn bad_operand(event: EventBridgeEvent) {}

#[on_event(pattern = r#"{"detail": {"state": [{"begins-with": "x"}]}}"#)]
async fn unknown_operator(event: EventBridgeEvent) {}

#[on_dynamodb_record(table = "users", starting_position = "AT_TIMESTAMP")]
async fn bad_position(event: DynamoDbEvent) {}

#[on_dynamodb_record(table = "users", batch_size = 10001)]
async fn big_batch(event: DynamoDbEvent) {}

#[on_sns_message(topic = "alerts", qeue = "x")]
async fn unknown_option(event: portico::events::SnsEvent) {}

fn main() {}

//! Event handlers through the in-process client, with the AWS-shaped samples of
//! `portico_spec::event_samples` and hand-made typed events: typed events in, partial batch
//! failures or Lambda function errors out, exactly as the runtime reports them.

use std::sync::{Arc, Mutex};

use portico::events::{
    BatchItemFailures, DynamoDbEvent, EventBridgeEvent, S3Event, SnsEvent, SqsEvent, aws,
};
use portico::prelude::*;
use portico::testing::TestClient;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// What the handlers saw, for the assertions.
#[derive(Clone, Default)]
struct Seen(Arc<Mutex<Vec<String>>>);

impl Seen {
    fn push(&self, what: impl Into<String>) {
        self.0.lock().unwrap().push(what.into());
    }

    fn take(&self) -> Vec<String> {
        std::mem::take(&mut self.0.lock().unwrap())
    }
}

/// A message whose body is `fail` fails alone; `panic` panics.
#[on_sqs_message(queue = "jobs", batch_size = 50, max_batching_window = 2)]
async fn jobs(event: SqsEvent, State(seen): State<Seen>) -> BatchItemFailures {
    let mut failures = BatchItemFailures::new();
    for message in event.records {
        let body = message.body.unwrap_or_default();
        if body == "panic" {
            panic!("cannot process {body}");
        }
        seen.push(body.clone());
        if body == "fail" {
            failures.push(message.message_id.unwrap_or_default());
        }
    }
    failures
}

#[on_sqs_message(queue = "jobs", name = "all-or-nothing")]
async fn all_or_nothing(event: SqsEvent) -> Result<(), FunctionError> {
    match event.records.len() {
        2 => Ok(()),
        n => Err(FunctionError::new("WrongBatch", format!("{n} messages"))),
    }
}

#[on_sns_message(topic = "alerts")]
async fn alerts(event: SnsEvent, State(seen): State<Seen>) -> Result<(), Error> {
    for record in event.records {
        seen.push(format!(
            "{}: {}",
            record.sns.subject.unwrap_or_default(),
            record.sns.message
        ));
    }
    Ok(())
}

#[on_s3_event(bucket = "uploads", events = ["s3:ObjectCreated:*"], prefix = "in/", suffix = ".jpg")]
async fn uploads(event: S3Event, State(seen): State<Seen>, ctx: LambdaContext) {
    for record in event.records {
        seen.push(format!(
            "{} {} {}",
            record.event_name.unwrap_or_default(),
            record.s3.bucket.name.unwrap_or_default(),
            record.s3.object.key.unwrap_or_default()
        ));
    }
    let _ = ctx.request_id;
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Order {
    #[serde(rename = "order-id")]
    order_id: String,
    total: u32,
}

#[on_event(pattern = r#"{"source": ["shop.orders"], "detail-type": ["Order Placed"]}"#)]
async fn orders(event: EventBridgeEvent<Order>, State(seen): State<Seen>) -> Result<(), String> {
    if event.detail.total == 0 {
        return Err(format!("order {} is empty", event.detail.order_id));
    }
    seen.push(format!("{} {}", event.detail.order_id, event.detail.total));
    Ok(())
}

/// A MODIFY record fails alone, by its sequence number.
#[on_dynamodb_record(table = "users", starting_position = "TRIM_HORIZON")]
async fn users(event: DynamoDbEvent, State(seen): State<Seen>) -> BatchItemFailures {
    let mut failures = BatchItemFailures::new();
    for record in event.records {
        seen.push(record.event_name.clone());
        if record.event_name == "MODIFY" {
            failures.push(record.change.sequence_number.unwrap_or_default());
        }
    }
    failures
}

fn client(seen: &Seen) -> TestClient {
    TestClient::new(
        App::new()
            .state(seen.clone())
            .event_handlers(event_handlers![
                jobs,
                all_or_nothing,
                alerts,
                uploads,
                orders,
                users
            ]),
    )
}

fn sqs_event(bodies: &[(&str, &str)]) -> SqsEvent {
    let mut event = SqsEvent::default();
    event.records = bodies
        .iter()
        .map(|(id, body)| {
            let mut message = aws::sqs::SqsMessage::default();
            message.message_id = Some((*id).to_owned());
            message.body = Some((*body).to_owned());
            message
        })
        .collect();
    event
}

#[tokio::test]
async fn sqs_partial_batch_failure_names_only_the_failed_message() {
    let seen = Seen::default();
    let client = client(&seen);
    let result = client
        .invoke_event(
            "jobs",
            &sqs_event(&[("m-1", "ok"), ("m-2", "fail"), ("m-3", "ok")]),
        )
        .await
        .unwrap();
    assert_eq!(result.batch_item_failures(), ["m-2"]);
    assert_eq!(
        result.json(),
        &json!({"batchItemFailures": [{"itemIdentifier": "m-2"}]})
    );
    assert_eq!(seen.take(), ["ok", "fail", "ok"]);

    let result = client.invoke_event_sample("jobs").await.unwrap();
    assert!(result.batch_item_failures().is_empty());
    assert_eq!(
        seen.take(),
        [
            r#"{"job": "resize", "key": "in/photo.jpg"}"#,
            r#"{"job": "resize", "key": "in/banner.jpg"}"#
        ]
    );
}

#[tokio::test]
async fn an_err_fails_the_whole_batch() {
    let seen = Seen::default();
    let client = client(&seen);
    let result = client.invoke_event_sample("all-or-nothing").await.unwrap();
    assert_eq!(result.json(), &Value::Null);
    let error = client
        .invoke_event("all-or-nothing", &sqs_event(&[("m-1", "x")]))
        .await
        .unwrap_err();
    assert_eq!(error, ("WrongBatch".to_owned(), "1 messages".to_owned()));
}

#[tokio::test]
async fn malformed_events_are_invalid_event_errors() {
    let seen = Seen::default();
    let client = client(&seen);
    for (name, payload) in [
        ("jobs", r#"{"Records": "not a list"}"#),
        ("alerts", r#"{"Records": [{"Sns": {"Message": 5}}]}"#),
        ("uploads", "not json"),
        (
            "orders",
            r#"{"source": "shop.orders", "detail-type": "Order Placed", "detail": {"total": 5}}"#,
        ),
        ("users", r#"{"Records": [{"eventName": 1}]}"#),
    ] {
        let (error_type, message) = client.invoke_event_raw(name, payload).await.unwrap_err();
        assert_eq!(error_type, "InvalidEvent", "{name}: {message}");
        assert!(
            message.contains("the event is not a valid"),
            "{name}: {message}"
        );
    }
    assert!(seen.take().is_empty());
}

#[tokio::test]
async fn a_panic_is_a_function_error_and_the_next_event_runs() {
    let seen = Seen::default();
    let client = client(&seen);
    let (error_type, message) = client
        .invoke_event("jobs", &sqs_event(&[("m-1", "panic")]))
        .await
        .unwrap_err();
    assert_eq!(error_type, "FunctionPanic");
    assert_eq!(
        message,
        "event handler `jobs` panicked: cannot process panic"
    );
    let result = client
        .invoke_event("jobs", &sqs_event(&[("m-2", "fail")]))
        .await
        .unwrap();
    assert_eq!(result.batch_item_failures(), ["m-2"]);
}

#[tokio::test]
async fn sns_s3_and_eventbridge_samples_reach_their_handlers() {
    let seen = Seen::default();
    let client = client(&seen);
    for name in ["alerts", "uploads", "orders"] {
        let result = client.invoke_event_sample(name).await.unwrap();
        assert_eq!(result.json(), &Value::Null, "{name}");
    }
    assert_eq!(
        seen.take(),
        [
            "TestInvoke: Hello from SNS!",
            "ObjectCreated:Put uploads in/photo.jpg",
            "o-1234 250"
        ]
    );

    let mut empty: EventBridgeEvent<Order> = serde_json::from_str(
        portico_spec::event_samples::sample(portico_spec::event_sources::EventKind::EventBridge),
    )
    .unwrap();
    empty.detail.total = 0;
    let error = client.invoke_event("orders", &empty).await.unwrap_err();
    assert_eq!(
        error,
        (
            "FunctionError".to_owned(),
            "order o-1234 is empty".to_owned()
        )
    );
}

#[tokio::test]
async fn dynamodb_partial_batch_failure_by_sequence_number() {
    let seen = Seen::default();
    let client = client(&seen);
    let result = client.invoke_event_sample("users").await.unwrap();
    assert_eq!(result.batch_item_failures(), ["222"]);
    assert_eq!(seen.take(), ["INSERT", "MODIFY", "REMOVE"]);
}

#[test]
fn the_manifest_lists_each_handler_with_its_trigger() {
    let app = App::new().event_handlers(event_handlers![jobs, alerts, uploads, orders, users]);
    let manifest = portico::manifest::manifest(&app);
    assert_eq!(
        manifest.entry_points,
        ["api", "jobs", "alerts", "uploads", "orders", "users"]
    );
    let json = serde_json::to_value(&manifest.event_handlers).unwrap();
    let without_source: Vec<Value> = json
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            let mut h = h.clone();
            let source = h.as_object_mut().unwrap().remove("source").unwrap();
            assert!(
                source
                    .as_str()
                    .unwrap()
                    .starts_with("framework/tests/events.rs:")
            );
            h
        })
        .collect();
    assert_eq!(
        without_source,
        [
            json!({"name": "jobs", "kind": "sqs", "queue": "jobs", "batch_size": 50, "max_batching_window": 2}),
            json!({"name": "alerts", "kind": "sns", "topic": "alerts"}),
            json!({"name": "uploads", "kind": "s3", "bucket": "uploads", "events": ["s3:ObjectCreated:*"], "prefix": "in/", "suffix": ".jpg"}),
            json!({"name": "orders", "kind": "eventbridge", "pattern": {"source": ["shop.orders"], "detail-type": ["Order Placed"]}}),
            json!({"name": "users", "kind": "dynamodb", "table": "users", "starting_position": "TRIM_HORIZON", "batch_size": 100}),
        ]
    );
}

#[test]
fn an_event_handler_named_like_a_function_does_not_build() {
    #[function(name = "jobs")]
    async fn other(Json(_e): Json<Value>) {}
    let error = App::new()
        .functions(functions![other])
        .event_handlers(event_handlers![jobs])
        .build()
        .unwrap_err();
    assert!(
        error
            .to_string()
            .contains("two entry points are named `jobs`"),
        "{error}"
    );
}

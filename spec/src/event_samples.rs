//! Sample events of each event-handler kind, shaped like the examples in the AWS
//! documentation (Lambda Developer Guide: "Using Lambda with Amazon SQS", "… with Amazon SNS",
//! "… with DynamoDB", the S3 User Guide's event message structure, and the EventBridge User
//! Guide's event structure), naming the resources `jobs`, `alerts`, `uploads` and `users`.
//!
//! `portico::testing::TestClient::invoke_event_sample` runs a handler with them; the CLI's
//! `invoke --sample` is meant to send the same ones.
//!
//! ```
//! use portico_spec::event_samples::sample;
//! use portico_spec::event_sources::EventKind;
//!
//! let event: serde_json::Value = serde_json::from_str(sample(EventKind::Sqs)).unwrap();
//! assert_eq!(event["Records"][0]["eventSource"], "aws:sqs");
//! ```

use crate::event_sources::EventKind;

/// The sample event of `kind`, as JSON text.
pub fn sample(kind: EventKind) -> &'static str {
    match kind {
        EventKind::Sqs => include_str!("event_samples/sqs.json"),
        EventKind::Sns => include_str!("event_samples/sns.json"),
        EventKind::S3 => include_str!("event_samples/s3.json"),
        EventKind::EventBridge => include_str!("event_samples/eventbridge.json"),
        EventKind::DynamoDb => include_str!("event_samples/dynamodb.json"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event_pattern::EventPattern;
    use serde_json::Value;

    #[test]
    fn samples_are_events_of_their_kind() {
        for kind in EventKind::ALL {
            let event: Value = serde_json::from_str(sample(kind)).unwrap();
            let source = match kind {
                EventKind::Sqs => &event["Records"][0]["eventSource"],
                EventKind::Sns => &event["Records"][0]["EventSource"],
                EventKind::S3 => &event["Records"][0]["eventSource"],
                EventKind::EventBridge => &event["source"],
                EventKind::DynamoDb => &event["Records"][0]["eventSource"],
            };
            let expected = match kind {
                EventKind::EventBridge => "shop.orders".to_owned(),
                other => format!("aws:{}", other.as_str()),
            };
            assert_eq!(source, &Value::String(expected), "{kind:?}");
        }
    }

    #[test]
    fn the_eventbridge_sample_matches_the_documented_pattern() {
        let event: Value = serde_json::from_str(sample(EventKind::EventBridge)).unwrap();
        let pattern = EventPattern::parse(r#"{"source": ["shop.orders"]}"#).unwrap();
        assert!(pattern.matches(&event));
    }
}

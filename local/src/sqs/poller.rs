//! Lambda's SQS poller, locally: one loop per `#[on_sqs_message]` handler, as an event source
//! mapping does on AWS.
//!
//! It receives up to `batch_size` messages (waiting up to `max_batching_window` seconds to
//! fill the batch once one message is there), hides them for the queue's visibility timeout
//! while the function runs, invokes the handler with the event SQS sends Lambda, and then:
//! - the function succeeded: deletes the batch, except the messages its
//!   `{"batchItemFailures": [...]}` names (`ReportBatchItemFailures`); a failure list that
//!   names a message not in the batch, or is not a list, fails the whole batch, as on AWS;
//! - the function failed (error, timeout, crash): deletes nothing.
//!
//! What is not deleted becomes visible again when its visibility timeout ends and is received
//! again; after the queue's `max_receive_count` receives it moves to the dead-letter queue.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use serde_json::{Map, Value, json};
use tokio::sync::watch;

use super::{Received, Sqs};
use crate::invoker::{ACCOUNT, Invoker, REGION};
use crate::lambda::InvokeOutcome;
use crate::logs::LogSink;

/// One handler's mapping: its entry point, its queue's real name, batch size and window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mapping {
    /// The handler's entry-point name.
    pub function: String,
    /// The queue's real name.
    pub queue: String,
    /// Messages per invocation at most.
    pub batch_size: u32,
    /// Seconds to gather a batch.
    pub max_batching_window: u32,
}

/// How long one receive waits for a first message before looking at `shutdown` again.
const POLL: Duration = Duration::from_secs(1);

/// Runs `mapping` until `shutdown` turns `true`.
pub async fn run<I: Invoker>(
    sqs: Arc<Sqs>,
    invoker: Arc<I>,
    mapping: Mapping,
    logs: Option<LogSink>,
    mut shutdown: watch::Receiver<bool>,
) {
    let Ok(spec) = sqs.queue(&mapping.queue).cloned() else {
        return;
    };
    let max = mapping.batch_size.max(1) as usize;
    loop {
        if *shutdown.borrow() {
            return;
        }
        let first = tokio::select! {
            got = sqs.receive_waiting(&mapping.queue, max, None, POLL.as_millis() as u64) => got,
            _ = shutdown.changed() => return,
        };
        let mut batch = match first {
            Ok(batch) if !batch.is_empty() => batch,
            Ok(_) => continue,
            Err(e) => {
                if let Some(logs) = &logs {
                    logs.system(&format!("sqs: {}: {}", mapping.queue, e.message));
                }
                tokio::time::sleep(POLL).await;
                continue;
            }
        };
        if mapping.max_batching_window > 0 && batch.len() < max {
            let deadline = tokio::time::Instant::now()
                + Duration::from_secs(u64::from(mapping.max_batching_window));
            while batch.len() < max {
                let left = deadline.saturating_duration_since(tokio::time::Instant::now());
                if left.is_zero() {
                    break;
                }
                let more = tokio::select! {
                    got = sqs.receive_waiting(&mapping.queue, max - batch.len(), None, left.as_millis() as u64) => got,
                    _ = shutdown.changed() => break,
                };
                match more {
                    Ok(more) if !more.is_empty() => batch.extend(more),
                    _ => break,
                }
            }
        }
        let event = event(&batch, &spec.arn);
        let result = invoker
            .invoke(&mapping.function, Bytes::from(event.to_string()))
            .await;
        let failed = match &result.outcome {
            InvokeOutcome::Response(payload) => failed_ids(payload, &batch),
            _ => None,
        };
        let note = match failed {
            Some(ids) => {
                for message in batch.iter().filter(|m| !ids.contains(&m.message_id)) {
                    let _ = sqs.delete(&mapping.queue, &message.receipt);
                }
                if ids.is_empty() {
                    String::new()
                } else {
                    format!(", {} reported failed (kept)", ids.len())
                }
            }
            None => format!(", the invocation failed: all {} kept", batch.len()),
        };
        if let Some(logs) = &logs {
            logs.system(&format!(
                "sqs: {} → {}: {} message(s){note}",
                mapping.queue,
                mapping.function,
                batch.len()
            ));
        }
    }
}

/// The ids the response names as failed: `Some(empty)` when all succeeded, `None` when the
/// whole batch counts as failed (a malformed failure list, or an id not in the batch).
fn failed_ids(payload: &[u8], batch: &[Received]) -> Option<Vec<String>> {
    let value: Value = match serde_json::from_slice(payload) {
        Ok(v) => v,
        // Not JSON (or empty): nothing reported, the batch succeeded.
        Err(_) => return Some(Vec::new()),
    };
    let Some(failures) = value.get("batchItemFailures") else {
        return Some(Vec::new());
    };
    let Value::Array(items) = failures else {
        return if failures.is_null() {
            Some(Vec::new())
        } else {
            None
        };
    };
    let mut ids = Vec::new();
    for item in items {
        let id = item.get("itemIdentifier").and_then(Value::as_str)?;
        if !batch.iter().any(|m| m.message_id == id) {
            return None;
        }
        ids.push(id.to_owned());
    }
    Some(ids)
}

/// The event SQS sends Lambda for `batch` of the queue `arn`.
pub fn event(batch: &[Received], arn: &str) -> Value {
    let records: Vec<Value> = batch
        .iter()
        .map(|m| {
            let mut attributes = Map::new();
            attributes.insert(
                "ApproximateReceiveCount".into(),
                m.receive_count.to_string().into(),
            );
            attributes.insert("SentTimestamp".into(), m.sent_ms.to_string().into());
            attributes.insert("SenderId".into(), ACCOUNT.into());
            attributes.insert(
                "ApproximateFirstReceiveTimestamp".into(),
                m.first_receive_ms.to_string().into(),
            );
            for (name, value) in [
                ("MessageGroupId", &m.group_id),
                ("MessageDeduplicationId", &m.deduplication_id),
                ("SequenceNumber", &m.sequence_number),
            ] {
                if let Some(v) = value {
                    attributes.insert(name.into(), v.clone().into());
                }
            }
            let message_attributes: BTreeMap<&String, Value> = m
                .attributes
                .iter()
                .map(|(name, a)| {
                    (
                        name,
                        json!({
                            "stringValue": a.get("StringValue"),
                            "binaryValue": a.get("BinaryValue"),
                            "stringListValues": [],
                            "binaryListValues": [],
                            "dataType": a.get("DataType"),
                        }),
                    )
                })
                .collect();
            json!({
                "messageId": m.message_id,
                "receiptHandle": m.receipt,
                "body": m.body,
                "attributes": attributes,
                "messageAttributes": message_attributes,
                "md5OfBody": m.md5_of_body,
                "eventSource": "aws:sqs",
                "eventSourceARN": arn,
                "awsRegion": REGION,
            })
        })
        .collect();
    json!({ "Records": records })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn received(id: &str) -> Received {
        Received {
            message_id: id.into(),
            receipt: format!("r-{id}"),
            body: "b".into(),
            md5_of_body: String::new(),
            attributes: BTreeMap::new(),
            md5_of_attributes: None,
            sent_ms: 1,
            first_receive_ms: 2,
            receive_count: 1,
            group_id: None,
            deduplication_id: None,
            sequence_number: None,
        }
    }

    #[test]
    fn partial_batch_responses_are_read_as_lambda_reads_them() {
        let batch = [received("a"), received("b")];
        let cases: [(&str, Option<Vec<&str>>); 7] = [
            (
                r#"{"batchItemFailures": [{"itemIdentifier": "b"}]}"#,
                Some(vec!["b"]),
            ),
            (r#"{"batchItemFailures": []}"#, Some(vec![])),
            (r#"{"batchItemFailures": null}"#, Some(vec![])),
            ("null", Some(vec![])),
            ("", Some(vec![])),
            (
                r#"{"batchItemFailures": [{"itemIdentifier": "zzz"}]}"#,
                None,
            ),
            (r#"{"batchItemFailures": [{"id": "a"}]}"#, None),
        ];
        for (payload, expected) in cases {
            let expected = expected.map(|v| v.into_iter().map(String::from).collect::<Vec<_>>());
            assert_eq!(
                failed_ids(payload.as_bytes(), &batch),
                expected,
                "{payload}"
            );
        }
    }

    #[test]
    fn the_event_is_shaped_like_sqs_sends_it() {
        let event = event(&[received("a")], "arn:aws:sqs:us-east-1:000000000000:q");
        let record = &event["Records"][0];
        assert_eq!(record["messageId"], "a");
        assert_eq!(record["eventSource"], "aws:sqs");
        assert_eq!(record["attributes"]["ApproximateReceiveCount"], "1");
        assert_eq!(
            record["eventSourceARN"],
            "arn:aws:sqs:us-east-1:000000000000:q"
        );
    }
}

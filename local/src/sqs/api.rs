//! SQS on the wire: AWS JSON 1.0, `POST /` with `X-Amz-Target: AmazonSQS.<Operation>`, as the
//! current SDKs (the Rust SDK, boto3) speak it. Errors are `400 {"__type":
//! "com.amazonaws.sqs#<Type>", "message": ...}` with the query protocol's code in
//! `x-amzn-query-error` (`AWS.SimpleQueueService.NonExistentQueue;Sender`), which SDKs that
//! keep the old codes read.
//!
//! Queue URLs are `http://<the Host the request came to>/<account>/<queue name>`.

use std::collections::BTreeMap;

use bytes::Bytes;
use http::header::{CONTENT_TYPE, HeaderName, HeaderValue};
use http::{Response, StatusCode};
use http_body_util::Full;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};

use super::{Outgoing, Received, Sqs, SqsError};
use crate::invoker::ACCOUNT;
use crate::sfn::api::JSON_1_0;

/// The largest request body read: ten 256 KiB messages and their envelope.
pub const BODY_LIMIT: usize = 2_700_000;

/// Answers operation `operation` (after `AmazonSQS.`) of a request that came to `host`.
pub async fn handle(sqs: &Sqs, operation: &str, host: &str, body: &[u8]) -> Response<Full<Bytes>> {
    match dispatch(sqs, operation, host, body).await {
        Ok(value) => reply(StatusCode::OK, &value, None),
        Err(e) => {
            let status = if e.kind == "InternalError" {
                StatusCode::INTERNAL_SERVER_ERROR
            } else {
                StatusCode::BAD_REQUEST
            };
            let body =
                json!({"__type": format!("com.amazonaws.sqs#{}", e.kind), "message": e.message});
            reply(status, &body, Some(&e))
        }
    }
}

/// The answer to a body over [`BODY_LIMIT`] (or one that could not be read).
pub fn too_large() -> Response<Full<Bytes>> {
    let e = SqsError::invalid(format!(
        "the request body is over {BODY_LIMIT} bytes or could not be read"
    ));
    let body = json!({"__type": "com.amazonaws.sqs#InvalidParameterValue", "message": e.message});
    reply(StatusCode::PAYLOAD_TOO_LARGE, &body, Some(&e))
}

fn reply(status: StatusCode, body: &Value, error: Option<&SqsError>) -> Response<Full<Bytes>> {
    let mut reply = Response::new(Full::new(Bytes::from(body.to_string())));
    *reply.status_mut() = status;
    let headers = reply.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(JSON_1_0));
    if let Some(e) = error {
        if let Ok(kind) = HeaderValue::from_str(e.kind) {
            headers.insert(HeaderName::from_static("x-amzn-errortype"), kind);
        }
        let fault = if e.kind == "InternalError" {
            "Receiver"
        } else {
            "Sender"
        };
        if let Ok(code) = HeaderValue::from_str(&format!("{};{fault}", e.query_code)) {
            headers.insert(HeaderName::from_static("x-amzn-query-error"), code);
        }
    }
    reply
}

fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, SqsError> {
    let body = if body.iter().all(u8::is_ascii_whitespace) {
        b"{}".as_slice()
    } else {
        body
    };
    serde_json::from_slice(body)
        .map_err(|e| SqsError::invalid(format!("the request body does not fit the operation: {e}")))
}

/// The queue a `QueueUrl` names: its last path segment.
fn queue_name(url: &str) -> &str {
    url.trim_end_matches('/').rsplit('/').next().unwrap_or(url)
}

fn queue_url(host: &str, name: &str) -> String {
    format!("http://{host}/{ACCOUNT}/{name}")
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct QueueOnly {
    queue_url: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct SendMessage {
    queue_url: String,
    #[serde(flatten)]
    message: MessageFields,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct MessageFields {
    #[serde(default)]
    message_body: String,
    delay_seconds: Option<u32>,
    #[serde(default)]
    message_attributes: BTreeMap<String, Value>,
    message_group_id: Option<String>,
    message_deduplication_id: Option<String>,
}

impl From<MessageFields> for Outgoing {
    fn from(m: MessageFields) -> Self {
        Self {
            body: m.message_body,
            delay: m.delay_seconds,
            attributes: m.message_attributes,
            group_id: m.message_group_id,
            deduplication_id: m.message_deduplication_id,
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Batch<E> {
    queue_url: String,
    #[serde(default = "Vec::new")]
    entries: Vec<E>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct SendEntry {
    id: String,
    #[serde(flatten)]
    message: MessageFields,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ReceiptEntry {
    id: String,
    receipt_handle: String,
    visibility_timeout: Option<u32>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ReceiveMessage {
    queue_url: String,
    max_number_of_messages: Option<u32>,
    visibility_timeout: Option<u32>,
    wait_time_seconds: Option<u32>,
    #[serde(default)]
    attribute_names: Vec<String>,
    #[serde(default)]
    message_system_attribute_names: Vec<String>,
    #[serde(default)]
    message_attribute_names: Vec<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ReceiptOnly {
    queue_url: String,
    receipt_handle: String,
    visibility_timeout: Option<u32>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ByName {
    queue_name: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ListQueues {
    queue_name_prefix: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct GetAttributes {
    queue_url: String,
    #[serde(default)]
    attribute_names: Vec<String>,
}

async fn dispatch(sqs: &Sqs, operation: &str, host: &str, body: &[u8]) -> Result<Value, SqsError> {
    match operation {
        "SendMessage" => {
            let r: SendMessage = parse(body)?;
            let sent = sqs.send(queue_name(&r.queue_url), &r.message.into())?;
            Ok(sent_json(&sent, None))
        }
        "SendMessageBatch" => {
            let r: Batch<SendEntry> = parse(body)?;
            let queue = queue_name(&r.queue_url);
            check_batch(r.entries.iter().map(|e| e.id.as_str()))?;
            let mut ok = Vec::new();
            let mut failed = Vec::new();
            for entry in r.entries {
                match sqs.send(queue, &entry.message.into()) {
                    Ok(sent) => ok.push(sent_json(&sent, Some(&entry.id))),
                    Err(e) if e.kind == "QueueDoesNotExist" => return Err(e),
                    Err(e) => failed.push(failed_json(&entry.id, &e)),
                }
            }
            Ok(json!({"Successful": ok, "Failed": failed}))
        }
        "ReceiveMessage" => receive(sqs, parse(body)?).await,
        "DeleteMessage" => {
            let r: ReceiptOnly = parse(body)?;
            sqs.delete(queue_name(&r.queue_url), &r.receipt_handle)?;
            Ok(json!({}))
        }
        "DeleteMessageBatch" | "ChangeMessageVisibilityBatch" => {
            let r: Batch<ReceiptEntry> = parse(body)?;
            let queue = queue_name(&r.queue_url);
            check_batch(r.entries.iter().map(|e| e.id.as_str()))?;
            sqs.queue(queue)?;
            let mut ok = Vec::new();
            let mut failed = Vec::new();
            for entry in r.entries {
                let done = if operation == "DeleteMessageBatch" {
                    sqs.delete(queue, &entry.receipt_handle)
                } else {
                    sqs.change_visibility(
                        queue,
                        &entry.receipt_handle,
                        entry.visibility_timeout.unwrap_or(0),
                    )
                };
                match done {
                    Ok(()) => ok.push(json!({"Id": entry.id})),
                    Err(e) => failed.push(failed_json(&entry.id, &e)),
                }
            }
            Ok(json!({"Successful": ok, "Failed": failed}))
        }
        "ChangeMessageVisibility" => {
            let r: ReceiptOnly = parse(body)?;
            let seconds = r.visibility_timeout.ok_or_else(|| {
                SqsError::new(
                    "MissingParameter",
                    "MissingParameter",
                    "The request must contain the parameter VisibilityTimeout.",
                )
            })?;
            sqs.change_visibility(queue_name(&r.queue_url), &r.receipt_handle, seconds)?;
            Ok(json!({}))
        }
        "GetQueueUrl" | "CreateQueue" => {
            let r: ByName = parse(body)?;
            sqs.queue(&r.queue_name).map_err(|e| {
                if operation == "CreateQueue" {
                    SqsError::invalid(format!(
                        "portico local serves the queues portico.toml declares ([[queues]]); `{}` is not one of them",
                        r.queue_name
                    ))
                } else {
                    e
                }
            })?;
            Ok(json!({"QueueUrl": queue_url(host, &r.queue_name)}))
        }
        "ListQueues" => {
            let r: ListQueues = parse(body)?;
            let prefix = r.queue_name_prefix.unwrap_or_default();
            let urls: Vec<String> = sqs
                .queues()
                .filter(|q| q.name.starts_with(&prefix))
                .map(|q| queue_url(host, &q.name))
                .collect();
            Ok(json!({"QueueUrls": urls}))
        }
        "GetQueueAttributes" => {
            let r: GetAttributes = parse(body)?;
            attributes(sqs, queue_name(&r.queue_url), &r.attribute_names)
        }
        "PurgeQueue" => {
            let r: QueueOnly = parse(body)?;
            sqs.purge(queue_name(&r.queue_url))?;
            Ok(json!({}))
        }
        other => Err(SqsError::new(
            "InvalidAction",
            "InvalidAction",
            format!("the operation `AmazonSQS.{other}` is not supported by portico local"),
        )),
    }
}

/// At most ten entries, with distinct ids.
fn check_batch<'a>(ids: impl Iterator<Item = &'a str>) -> Result<(), SqsError> {
    let ids: Vec<&str> = ids.collect();
    if ids.is_empty() {
        return Err(SqsError::new(
            "EmptyBatchRequest",
            "AWS.SimpleQueueService.EmptyBatchRequest",
            "There should be at least one SendMessageBatchRequestEntry in the request.",
        ));
    }
    if ids.len() > 10 {
        return Err(SqsError::new(
            "TooManyEntriesInBatchRequest",
            "AWS.SimpleQueueService.TooManyEntriesInBatchRequest",
            format!(
                "Maximum number of entries per request are 10. You have sent {}.",
                ids.len()
            ),
        ));
    }
    let mut seen = ids.clone();
    seen.sort_unstable();
    seen.dedup();
    if seen.len() != ids.len() {
        return Err(SqsError::new(
            "BatchEntryIdsNotDistinct",
            "AWS.SimpleQueueService.BatchEntryIdsNotDistinct",
            "Two or more batch entries in the request have the same Id.",
        ));
    }
    Ok(())
}

fn sent_json(sent: &super::Sent, id: Option<&str>) -> Value {
    let mut out = Map::new();
    if let Some(id) = id {
        out.insert("Id".into(), id.into());
    }
    out.insert("MessageId".into(), sent.message_id.clone().into());
    out.insert("MD5OfMessageBody".into(), sent.md5_of_body.clone().into());
    if let Some(md5) = &sent.md5_of_attributes {
        out.insert("MD5OfMessageAttributes".into(), md5.clone().into());
    }
    if let Some(seq) = &sent.sequence_number {
        out.insert("SequenceNumber".into(), seq.clone().into());
    }
    Value::Object(out)
}

fn failed_json(id: &str, e: &SqsError) -> Value {
    json!({"Id": id, "SenderFault": e.kind != "InternalError", "Code": e.kind, "Message": e.message})
}

async fn receive(sqs: &Sqs, r: ReceiveMessage) -> Result<Value, SqsError> {
    let max = r.max_number_of_messages.unwrap_or(1);
    if !(1..=10).contains(&max) {
        return Err(SqsError::invalid(format!(
            "Value {max} for parameter MaxNumberOfMessages is invalid. Reason: Must be between 1 and 10, if provided."
        )));
    }
    let wait = r.wait_time_seconds.unwrap_or(0);
    if wait > 20 {
        return Err(SqsError::invalid(format!(
            "Value {wait} for parameter WaitTimeSeconds is invalid. Reason: Must be >= 0 and <= 20, if provided."
        )));
    }
    if let Some(vt) = r.visibility_timeout.filter(|vt| *vt > 43_200) {
        return Err(SqsError::invalid(format!(
            "Value {vt} for parameter VisibilityTimeout is invalid. Reason: Must be between 0 and 43200, if provided."
        )));
    }
    let got = sqs
        .receive_waiting(
            queue_name(&r.queue_url),
            max as usize,
            r.visibility_timeout,
            u64::from(wait) * 1000,
        )
        .await?;
    let system: Vec<&str> = r
        .attribute_names
        .iter()
        .chain(&r.message_system_attribute_names)
        .map(String::as_str)
        .collect();
    let messages: Vec<Value> = got
        .iter()
        .map(|m| message_json(m, &system, &r.message_attribute_names))
        .collect();
    Ok(if messages.is_empty() {
        json!({})
    } else {
        json!({ "Messages": messages })
    })
}

/// A received message as `ReceiveMessage` returns it, with the system attributes in
/// `system` (or `All`) and the message attributes `wanted` names (`All`, `.*`, `name`,
/// `prefix.*`).
fn message_json(m: &Received, system: &[&str], wanted: &[String]) -> Value {
    let all = system.contains(&"All");
    let mut attributes = Map::new();
    let mut put = |name: &str, value: Option<String>| {
        if let Some(v) = value.filter(|_| all || system.contains(&name)) {
            attributes.insert(name.to_owned(), v.into());
        }
    };
    put("SenderId", Some(ACCOUNT.to_owned()));
    put("SentTimestamp", Some(m.sent_ms.to_string()));
    put("ApproximateReceiveCount", Some(m.receive_count.to_string()));
    put(
        "ApproximateFirstReceiveTimestamp",
        Some(m.first_receive_ms.to_string()),
    );
    put("MessageGroupId", m.group_id.clone());
    put("MessageDeduplicationId", m.deduplication_id.clone());
    put("SequenceNumber", m.sequence_number.clone());
    let selected: BTreeMap<String, Value> = m
        .attributes
        .iter()
        .filter(|(name, _)| {
            wanted.iter().any(|w| {
                w == "All"
                    || w == ".*"
                    || w == *name
                    || w.strip_suffix(".*")
                        .is_some_and(|p| name.starts_with(&format!("{p}.")))
            })
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let mut out = Map::new();
    out.insert("MessageId".into(), m.message_id.clone().into());
    out.insert("ReceiptHandle".into(), m.receipt.clone().into());
    out.insert("MD5OfBody".into(), m.md5_of_body.clone().into());
    out.insert("Body".into(), m.body.clone().into());
    if !attributes.is_empty() {
        out.insert("Attributes".into(), Value::Object(attributes));
    }
    if !selected.is_empty() {
        if let Ok(md5) = super::messages::attributes_md5(&selected) {
            out.insert("MD5OfMessageAttributes".into(), md5.into());
        }
        out.insert(
            "MessageAttributes".into(),
            Value::Object(selected.into_iter().collect()),
        );
    }
    Value::Object(out)
}

fn attributes(sqs: &Sqs, queue: &str, names: &[String]) -> Result<Value, SqsError> {
    let spec = sqs.queue(queue)?;
    let (visible, in_flight, delayed) = sqs.counts(queue)?;
    let mut all: Vec<(&str, String)> = vec![
        ("QueueArn", spec.arn.clone()),
        ("ApproximateNumberOfMessages", visible.to_string()),
        (
            "ApproximateNumberOfMessagesNotVisible",
            in_flight.to_string(),
        ),
        ("ApproximateNumberOfMessagesDelayed", delayed.to_string()),
        ("VisibilityTimeout", spec.visibility_timeout.to_string()),
        ("MessageRetentionPeriod", spec.retention.to_string()),
        ("DelaySeconds", spec.delay.to_string()),
        ("MaximumMessageSize", super::MAX_MESSAGE_BYTES.to_string()),
        ("ReceiveMessageWaitTimeSeconds", "0".to_owned()),
    ];
    if let Some((dlq, count)) = &spec.dead_letter {
        let arn = sqs.queue(dlq).map(|q| q.arn.clone()).unwrap_or_default();
        all.push((
            "RedrivePolicy",
            json!({"deadLetterTargetArn": arn, "maxReceiveCount": count}).to_string(),
        ));
    }
    if spec.fifo {
        all.push(("FifoQueue", "true".to_owned()));
        all.push((
            "ContentBasedDeduplication",
            spec.content_based_deduplication.to_string(),
        ));
    }
    let every = names.iter().any(|n| n == "All");
    let out: Map<String, Value> = all
        .into_iter()
        .filter(|(name, _)| every || names.iter().any(|n| n == name))
        .map(|(k, v)| (k.to_owned(), v.into()))
        .collect();
    Ok(json!({ "Attributes": out }))
}

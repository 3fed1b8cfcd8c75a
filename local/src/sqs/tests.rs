use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::{Value, json};

use super::*;
use crate::clock::ManualClock;

fn queue(name: &str) -> QueueSpec {
    QueueSpec {
        name: name.to_owned(),
        arn: format!("arn:aws:sqs:us-east-1:000000000000:{name}"),
        fifo: name.ends_with(".fifo"),
        content_based_deduplication: false,
        visibility_timeout: 30,
        retention: 345_600,
        delay: 0,
        dead_letter: None,
    }
}

fn setup(queues: Vec<QueueSpec>) -> (Sqs, Arc<ManualClock>) {
    let clock = ManualClock::at(1_800_000_000_000);
    let sqs = Sqs::new(Arc::new(Store::in_memory()), queues, clock.clone());
    (sqs, clock)
}

fn body(text: &str) -> Outgoing {
    Outgoing {
        body: text.to_owned(),
        ..Outgoing::default()
    }
}

fn grouped(text: &str, group: &str) -> Outgoing {
    Outgoing {
        body: text.to_owned(),
        group_id: Some(group.to_owned()),
        deduplication_id: Some(text.to_owned()),
        ..Outgoing::default()
    }
}

fn bodies(got: &[Received]) -> Vec<&str> {
    got.iter().map(|m| m.body.as_str()).collect()
}

#[test]
fn a_received_message_is_hidden_until_its_visibility_timeout_ends() {
    let (sqs, clock) = setup(vec![queue("jobs")]);
    let sent = sqs.send("jobs", &body("hello")).unwrap();
    assert_eq!(sent.md5_of_body, "5d41402abc4b2a76b9719d911017c592");
    let first = sqs.receive("jobs", 10, None).unwrap();
    assert_eq!(bodies(&first), ["hello"]);
    assert_eq!(first[0].receive_count, 1);
    assert_eq!(sqs.counts("jobs").unwrap(), (0, 1, 0));
    assert!(sqs.receive("jobs", 10, None).unwrap().is_empty());
    clock.advance(29_999);
    assert!(sqs.receive("jobs", 10, None).unwrap().is_empty());
    clock.advance(1);
    let again = sqs.receive("jobs", 10, None).unwrap();
    assert_eq!(again[0].receive_count, 2);
    assert_eq!(again[0].first_receive_ms, first[0].first_receive_ms);
    assert_ne!(again[0].receipt, first[0].receipt);
}

#[test]
fn only_the_newest_receipt_deletes() {
    let (sqs, clock) = setup(vec![queue("jobs")]);
    sqs.send("jobs", &body("m")).unwrap();
    let old = sqs.receive("jobs", 1, Some(0)).unwrap().remove(0);
    clock.advance(1);
    let new = sqs.receive("jobs", 1, None).unwrap().remove(0);
    sqs.delete("jobs", &old.receipt).unwrap();
    assert_eq!(
        sqs.counts("jobs").unwrap(),
        (0, 1, 0),
        "a stale receipt deletes nothing"
    );
    sqs.delete("jobs", &new.receipt).unwrap();
    assert_eq!(sqs.counts("jobs").unwrap(), (0, 0, 0));
    let err = sqs.delete("jobs", "not-a-receipt!").unwrap_err();
    assert_eq!(err.kind, "ReceiptHandleIsInvalid");
}

#[test]
fn change_visibility_needs_a_message_in_flight() {
    let (sqs, _clock) = setup(vec![queue("jobs")]);
    sqs.send("jobs", &body("m")).unwrap();
    let m = sqs.receive("jobs", 1, None).unwrap().remove(0);
    sqs.change_visibility("jobs", &m.receipt, 0).unwrap();
    assert_eq!(sqs.counts("jobs").unwrap(), (1, 0, 0));
    let err = sqs.change_visibility("jobs", &m.receipt, 10).unwrap_err();
    assert_eq!(err.kind, "MessageNotInflight");
    assert_eq!(
        sqs.change_visibility("jobs", &m.receipt, 50_000)
            .unwrap_err()
            .kind,
        "InvalidParameterValue"
    );
}

#[test]
fn after_max_receive_count_a_message_moves_to_the_dead_letter_queue() {
    let mut jobs = queue("jobs");
    jobs.dead_letter = Some(("jobs-dlq".to_owned(), 2));
    let (sqs, clock) = setup(vec![jobs, queue("jobs-dlq")]);
    sqs.send("jobs", &body("poison")).unwrap();
    for _ in 0..2 {
        assert_eq!(bodies(&sqs.receive("jobs", 1, None).unwrap()), ["poison"]);
        clock.advance(30_000);
    }
    assert!(sqs.receive("jobs", 1, None).unwrap().is_empty());
    let dead = sqs.receive("jobs-dlq", 1, None).unwrap();
    assert_eq!(bodies(&dead), ["poison"]);
    assert_eq!(dead[0].receive_count, 1);
}

#[test]
fn fifo_groups_deliver_in_order_one_batch_in_flight_at_a_time() {
    let (sqs, clock) = setup(vec![queue("orders.fifo")]);
    for (text, group) in [
        ("a1", "a"),
        ("b1", "b"),
        ("a2", "a"),
        ("a3", "a"),
        ("b2", "b"),
    ] {
        sqs.send("orders.fifo", &grouped(text, group)).unwrap();
    }
    let first = sqs.receive("orders.fifo", 2, None).unwrap();
    assert_eq!(bodies(&first), ["a1", "b1"]);
    // Both groups have a message in flight: nothing more until they are done.
    assert!(sqs.receive("orders.fifo", 10, None).unwrap().is_empty());
    sqs.delete("orders.fifo", &first[0].receipt).unwrap();
    let next = sqs.receive("orders.fifo", 10, None).unwrap();
    assert_eq!(
        bodies(&next),
        ["a2", "a3"],
        "group a goes on in order; b waits"
    );
    clock.advance(30_000);
    let retried = sqs.receive("orders.fifo", 10, None).unwrap();
    assert_eq!(bodies(&retried), ["b1", "a2", "a3", "b2"]);
    let seqs: Vec<&str> = retried
        .iter()
        .filter_map(|m| m.sequence_number.as_deref())
        .collect();
    assert_eq!(seqs.len(), 4);
}

#[test]
fn fifo_deduplicates_within_five_minutes() {
    let mut orders = queue("orders.fifo");
    orders.content_based_deduplication = true;
    let (sqs, clock) = setup(vec![orders]);
    let message = Outgoing {
        body: "same".into(),
        group_id: Some("g".into()),
        ..Outgoing::default()
    };
    let first = sqs.send("orders.fifo", &message).unwrap();
    let duplicate = sqs.send("orders.fifo", &message).unwrap();
    assert_eq!(first.message_id, duplicate.message_id);
    assert_eq!(sqs.counts("orders.fifo").unwrap(), (1, 0, 0));
    clock.advance(300_000);
    let later = sqs.send("orders.fifo", &message).unwrap();
    assert_ne!(later.message_id, first.message_id);
    assert_eq!(sqs.counts("orders.fifo").unwrap(), (2, 0, 0));
}

#[test]
fn what_sqs_refuses_is_refused_with_its_error() {
    let (sqs, _clock) = setup(vec![queue("jobs"), queue("orders.fifo")]);
    let cases: Vec<(&str, Outgoing, &str)> = vec![
        ("nope", body("x"), "QueueDoesNotExist"),
        ("jobs", body(""), "MissingParameter"),
        ("jobs", body("bad \u{1} char"), "InvalidMessageContents"),
        (
            "jobs",
            body(&"x".repeat(MAX_MESSAGE_BYTES + 1)),
            "InvalidParameterValue",
        ),
        (
            "jobs",
            Outgoing {
                delay: Some(901),
                ..body("x")
            },
            "InvalidParameterValue",
        ),
        (
            "jobs",
            Outgoing {
                deduplication_id: Some("d".into()),
                ..body("x")
            },
            "InvalidParameterValue",
        ),
        ("orders.fifo", body("x"), "MissingParameter"),
        (
            "orders.fifo",
            Outgoing {
                group_id: Some("g".into()),
                ..body("x")
            },
            "InvalidParameterValue",
        ),
        (
            "orders.fifo",
            Outgoing {
                delay: Some(1),
                ..grouped("x", "g")
            },
            "InvalidParameterValue",
        ),
        (
            "jobs",
            Outgoing {
                attributes: BTreeMap::from([(
                    "n".to_owned(),
                    json!({"DataType": "Number", "StringValue": "abc"}),
                )]),
                ..body("x")
            },
            "InvalidParameterValue",
        ),
    ];
    for (queue, message, kind) in cases {
        let err = sqs.send(queue, &message).unwrap_err();
        assert_eq!(
            err.kind,
            kind,
            "{queue} {:?}: {}",
            &message.body.get(..20),
            err.message
        );
    }
    assert_eq!(sqs.counts("jobs").unwrap(), (0, 0, 0));
}

#[test]
fn delays_and_retention_follow_the_queue() {
    let mut slow = queue("slow");
    slow.delay = 10;
    slow.retention = 60;
    let (sqs, clock) = setup(vec![slow]);
    sqs.send("slow", &body("later")).unwrap();
    assert_eq!(sqs.counts("slow").unwrap(), (0, 0, 1));
    assert!(sqs.receive("slow", 1, None).unwrap().is_empty());
    clock.advance(10_000);
    assert_eq!(sqs.counts("slow").unwrap(), (1, 0, 0));
    clock.advance(50_000);
    assert!(
        sqs.receive("slow", 1, None).unwrap().is_empty(),
        "past retention"
    );
}

/// The digest of the AWS documentation's worked example is not published; this checks the
/// encoding against a digest computed by hand from the documented layout.
#[test]
fn attribute_md5_follows_the_documented_encoding() {
    let attributes = BTreeMap::from([
        (
            "b".to_owned(),
            json!({"DataType": "Binary", "BinaryValue": "AQI="}),
        ),
        (
            "a".to_owned(),
            json!({"DataType": "String", "StringValue": "x"}),
        ),
    ]);
    let mut expected = Vec::new();
    for (name, kind, transport, value) in [
        ("a", "String", 1u8, b"x".as_slice()),
        ("b", "Binary", 2u8, [1u8, 2].as_slice()),
    ] {
        for part in [name.as_bytes(), kind.as_bytes()] {
            expected.extend_from_slice(&(part.len() as u32).to_be_bytes());
            expected.extend_from_slice(part);
        }
        expected.push(transport);
        expected.extend_from_slice(&(value.len() as u32).to_be_bytes());
        expected.extend_from_slice(value);
    }
    assert_eq!(
        messages::attributes_md5(&attributes).unwrap(),
        messages::md5_hex(&expected)
    );
}

#[test]
fn messages_survive_reopening_the_database() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    let clock = ManualClock::at(1_800_000_000_000);
    let sqs = Sqs::new(
        Arc::new(Store::open(&path).unwrap()),
        vec![queue("jobs")],
        clock.clone(),
    );
    sqs.send("jobs", &body("kept")).unwrap();
    sqs.send("jobs", &body("in flight")).unwrap();
    let taken = sqs.receive("jobs", 1, None).unwrap().remove(0);
    drop(sqs);
    let sqs = Sqs::new(
        Arc::new(Store::open(&path).unwrap()),
        vec![queue("jobs")],
        clock.clone(),
    );
    assert_eq!(sqs.counts("jobs").unwrap(), (1, 1, 0));
    sqs.delete("jobs", &taken.receipt).unwrap();
    assert_eq!(
        bodies(&sqs.receive("jobs", 10, None).unwrap()),
        ["in flight"]
    );
}

#[tokio::test]
async fn the_wire_protocol_answers_like_sqs() {
    let (sqs, _clock) = setup(vec![queue("jobs")]);
    let call = |op: &'static str, body: Value| {
        let sqs = &sqs;
        async move {
            let reply = api::handle(sqs, op, "127.0.0.1:4566", body.to_string().as_bytes()).await;
            let status = reply.status();
            let headers = reply.headers().clone();
            let bytes = http_body_util::BodyExt::collect(reply.into_body())
                .await
                .unwrap()
                .to_bytes();
            (
                status,
                headers,
                serde_json::from_slice::<Value>(&bytes).unwrap(),
            )
        }
    };
    let (_, _, url) = call("GetQueueUrl", json!({"QueueName": "jobs"})).await;
    let url = url["QueueUrl"].as_str().unwrap().to_owned();
    assert_eq!(url, "http://127.0.0.1:4566/000000000000/jobs");
    let (status, _, sent) = call(
        "SendMessageBatch",
        json!({"QueueUrl": url, "Entries": [
            {"Id": "1", "MessageBody": "one", "MessageAttributes": {"k": {"DataType": "String", "StringValue": "v"}}},
            {"Id": "2", "MessageBody": ""}
        ]}),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(sent["Successful"][0]["Id"], "1");
    assert_eq!(sent["Failed"][0]["Code"], "MissingParameter");
    let (_, _, got) = call(
        "ReceiveMessage",
        json!({"QueueUrl": url, "MaxNumberOfMessages": 10, "MessageSystemAttributeNames": ["ApproximateReceiveCount"], "MessageAttributeNames": ["All"]}),
    )
    .await;
    let m = &got["Messages"][0];
    assert_eq!(m["Body"], "one");
    assert_eq!(m["Attributes"], json!({"ApproximateReceiveCount": "1"}));
    assert_eq!(m["MessageAttributes"]["k"]["StringValue"], "v");
    assert_eq!(
        m["MD5OfMessageAttributes"],
        sent["Successful"][0]["MD5OfMessageAttributes"]
    );
    let (_, _, attrs) = call(
        "GetQueueAttributes",
        json!({"QueueUrl": url, "AttributeNames": ["ApproximateNumberOfMessagesNotVisible", "QueueArn"]}),
    )
    .await;
    assert_eq!(
        attrs["Attributes"],
        json!({"QueueArn": "arn:aws:sqs:us-east-1:000000000000:jobs", "ApproximateNumberOfMessagesNotVisible": "1"})
    );
    let (status, headers, err) = call(
        "SendMessage",
        json!({"QueueUrl": "http://x/000000000000/nope", "MessageBody": "x"}),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(err["__type"], "com.amazonaws.sqs#QueueDoesNotExist");
    assert_eq!(
        headers["x-amzn-query-error"],
        "AWS.SimpleQueueService.NonExistentQueue;Sender"
    );
    let (status, _, err) = call("SendMessageBatch", json!({"QueueUrl": url, "Entries": [{"Id": "a", "MessageBody": "x"}, {"Id": "a", "MessageBody": "y"}]})).await;
    assert_eq!(
        (status.as_u16(), err["__type"].as_str()),
        (400, Some("com.amazonaws.sqs#BatchEntryIdsNotDistinct"))
    );
}

//! Each kind's options: the trigger they expand to, and what AWS would refuse.

use proc_macro2::TokenStream;
use quote::quote;

use super::*;
use crate::entry;

fn expanded(kind: &EntryKind, attr: TokenStream) -> String {
    entry::attribute(
        kind,
        attr,
        quote!(
            async fn handle(event: Event) {}
        ),
    )
    .to_string()
}

/// The messages of the `compile_error!`s `attr` gives.
fn errors(kind: &EntryKind, attr: TokenStream) -> Vec<String> {
    let out = expanded(kind, attr);
    out.split("compile_error ! {")
        .skip(1)
        .map(|rest| {
            rest.split(" }")
                .next()
                .unwrap_or_default()
                .trim()
                .to_owned()
        })
        .collect()
}

#[test]
fn triggers_with_defaults_and_options() {
    let cases: &[(&EntryKind, TokenStream, &str)] = &[
        (
            &SQS,
            quote!(queue = "jobs"),
            "Sqs { queue : \"jobs\" , batch_size : 10 , max_batching_window : 0 }",
        ),
        (
            &SQS,
            quote!(queue = "jobs", batch_size = 500, max_batching_window = 5),
            "batch_size : 500 , max_batching_window : 5",
        ),
        (&SNS, quote!(topic = "alerts"), "Sns { topic : \"alerts\" }"),
        (
            &S3,
            quote!(bucket = "uploads"),
            "S3 { bucket : \"uploads\" , events : & [\"s3:ObjectCreated:*\"] , prefix : :: core :: option :: Option :: None",
        ),
        (
            &S3,
            quote!(
                bucket = "uploads",
                events = ["s3:ObjectRemoved:Delete", "s3:ObjectRestore:Completed"],
                suffix = ".jpg"
            ),
            "events : & [\"s3:ObjectRemoved:Delete\" , \"s3:ObjectRestore:Completed\"] , prefix : :: core :: option :: Option :: None , suffix : :: core :: option :: Option :: Some (\".jpg\")",
        ),
        (
            &EVENTBRIDGE,
            quote!(pattern = "{\"source\": [\"shop.orders\"]}"),
            "EventBridge { pattern :",
        ),
        (
            &DYNAMODB,
            quote!(table = "users"),
            "DynamoDb { table : \"users\" , starting_position : \"LATEST\" , batch_size : 100 }",
        ),
        (
            &DYNAMODB,
            quote!(
                table = "users",
                starting_position = "TRIM_HORIZON",
                batch_size = 1000,
                name = "audit"
            ),
            "starting_position : \"TRIM_HORIZON\" , batch_size : 1000",
        ),
    ];
    for (kind, attr, expected) in cases {
        let out = expanded(kind, attr.clone());
        assert!(!out.contains("compile_error"), "{attr}: {out}");
        assert!(out.contains(expected), "{attr}: {out}");
    }
}

#[test]
fn what_aws_refuses() {
    let cases: &[(&EntryKind, TokenStream, &[&str])] = &[
        (
            &SQS,
            quote!(),
            &["`#[on_sqs_message]` needs the queue it handles"],
        ),
        (
            &SQS,
            quote!(queue = "arn:aws:sqs:us-east-1:1:jobs"),
            &["queue name `arn:aws:sqs:us-east-1:1:jobs` must be"],
        ),
        (
            &SQS,
            quote!(queue = "jobs", batch_size = 0),
            &["`batch_size = 0` is out of range: AWS takes 1 to 10000"],
        ),
        (
            &SQS,
            quote!(queue = "jobs", batch_size = 10001, max_batching_window = 1),
            &["`batch_size = 10001` is out of range"],
        ),
        (
            &SQS,
            quote!(queue = "jobs", batch_size = 11),
            &["batch_size 11 is over 10, which SQS allows only with a batching window"],
        ),
        (
            &SQS,
            quote!(queue = "jobs", max_batching_window = 301),
            &["`max_batching_window = 301` is out of range: AWS takes 0 to 300"],
        ),
        (
            &SQS,
            quote!(queue = "jobs", batch_size = "10"),
            &["`batch_size` takes a whole number from 1 to 10000"],
        ),
        (
            &SQS,
            quote!(queue = "jobs", batch = 5),
            &["unknown option `batch` for `#[on_sqs_message]`"],
        ),
        (&SNS, quote!(topic = 5), &["`topic` takes a string literal"]),
        (
            &S3,
            quote!(
                bucket = "uploads",
                events = [
                    "s3:ObjectCreated:Upload",
                    "s3:ObjectCreated:Put",
                    "ObjectRemoved:*"
                ]
            ),
            &[
                "`s3:ObjectCreated:Upload` is not an S3 event type; S3 notifies s3:ObjectCreated:*",
                "`ObjectRemoved:*` is not an S3 event type",
            ],
        ),
        (
            &S3,
            quote!(bucket = "uploads", events = []),
            &["`events` lists at least one S3 event type"],
        ),
        (
            &S3,
            quote!(bucket = "uploads", prefix = 1),
            &["`prefix` takes a string literal"],
        ),
        (
            &EVENTBRIDGE,
            quote!(),
            &["`#[on_event]` needs the event pattern it matches"],
        ),
        (
            &EVENTBRIDGE,
            quote!(pattern = "{\"source\": \"shop\"}"),
            &["invalid event pattern: at `source`: a field's value must be an array"],
        ),
        (
            &EVENTBRIDGE,
            quote!(pattern = "{\"detail\": {\"n\": [{\"numeric\": [\"<\", 5, \">\", 1]}]}}"),
            &["invalid event pattern: at `detail.n.numeric`: two numeric comparisons are a range"],
        ),
        (
            &DYNAMODB,
            quote!(table = "users", starting_position = "AT_TIMESTAMP"),
            &["starting_position `AT_TIMESTAMP` is not one DynamoDB streams take"],
        ),
        (
            &DYNAMODB,
            quote!(table = "users", batch_size = 20000),
            &["`batch_size = 20000` is out of range: AWS takes 1 to 10000"],
        ),
        (
            &DYNAMODB,
            quote!(starting_position = "LATEST"),
            &["`#[on_dynamodb_record]` needs the table it handles"],
        ),
    ];
    for (kind, attr, expected) in cases {
        let found = errors(kind, attr.clone());
        assert_eq!(found.len(), expected.len(), "{attr}: {found:?}");
        for (message, want) in found.iter().zip(expected.iter()) {
            assert!(message.contains(want), "{attr}: {message} lacks {want}");
        }
    }
}

//! The event-handler app of the end-to-end tests: an `#[on_sqs_message]` handler `jobs`
//! (queue `jobs`), kept apart from `fixture_app` so that the configs the other tests run
//! `fixture_app` with need not declare its queue.
//!
//! A message whose body is `bad` fails alone (it is listed in `batchItemFailures`), `panic`
//! panics; it prints `fixture: job <body>` for each other message.

use portico::events::{BatchItemFailures, SqsEvent};
use portico::prelude::*;

#[on_sqs_message(queue = "jobs")]
async fn jobs(event: SqsEvent) -> BatchItemFailures {
    let mut failures = BatchItemFailures::new();
    for message in event.records {
        match message.body.as_deref().unwrap_or_default() {
            "bad" => failures.push(message.message_id.unwrap_or_default()),
            "panic" => panic!("the fixture queue handler panics on purpose"),
            body => println!("fixture: job {body}"),
        }
    }
    failures
}

fn main() {
    portico::run(
        App::new()
            .name("fixture")
            .event_handlers(event_handlers![jobs]),
    );
}

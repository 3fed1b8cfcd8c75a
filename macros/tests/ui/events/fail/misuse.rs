use portico::events::SqsEvent;
use portico::prelude::*;

#[on_sqs_message(queue = "jobs")]
fn not_async(event: SqsEvent) {}

#[on_sqs_message(queue = "jobs", name = "api")]
async fn http_name(event: SqsEvent) {}

#[on_sqs_message(queue = "jobs")]
async fn not_an_extractor(Query(q): Query<Vec<String>>) {}

#[on_sqs_message(queue = "jobs")]
async fn not_a_result(event: SqsEvent) -> u32 {
    1
}

#[on_sqs_message(queue = "jobs")]
#[function]
async fn two_attributes(event: SqsEvent) {}

fn main() {}

//! The event-handler attributes — `#[on_sqs_message]`, `#[on_sns_message]`, `#[on_s3_event]`,
//! `#[on_event]`, `#[on_dynamodb_record]` — as [`EntryKind`]s: each one's own part is its
//! options, checked against what AWS accepts (`portico_spec::event_sources`, and EventBridge
//! patterns by `portico_spec::event_pattern`), expanded to the descriptor's `trigger`.

use proc_macro2::{Literal, Span, TokenStream};
use quote::quote;
use syn::LitStr;
use syn::spanned::Spanned;

use crate::entry::{EntryKind, KindArgs, KindPaths};
use crate::errors::Errors;
use crate::handler;
use crate::options::{self, RawOption};
use crate::paths;
use portico_spec::event_pattern::EventPattern;
use portico_spec::event_sources as aws;

/// An event-handler kind: the pipeline's table with the parts all five share.
const fn event_kind(
    attribute: &'static str,
    what: &'static str,
    options: &'static [&'static str],
    validate: fn(&KindArgs<'_>, &mut Errors) -> Option<TokenStream>,
) -> EntryKind {
    EntryKind {
        attribute,
        what,
        noun: "handler",
        name_names: "the deployed Lambda function",
        name_example: "resize-images",
        positional: None,
        options,
        require_async: true,
        paths: KindPaths {
            def: paths::event_handler_def,
            descriptor: paths::event_handler,
            method: "event_handler",
            // Invoked like a `#[function]`: the payload is the event.
            invocation: paths::function_invocation,
            assert_from: paths::assert_from_event,
            extract: paths::extract_event,
            assert_into: paths::assert_into_event_result,
            into: paths::into_event_result,
        },
        validate,
    }
}

/// `#[on_sqs_message(queue = "jobs", batch_size = 10, max_batching_window = 0)]`.
pub(crate) const SQS: EntryKind = event_kind(
    "on_sqs_message",
    "queue handler",
    &["queue", "batch_size", "max_batching_window", "name"],
    validate_sqs,
);

/// `#[on_sns_message(topic = "alerts")]`.
pub(crate) const SNS: EntryKind = event_kind(
    "on_sns_message",
    "topic handler",
    &["topic", "name"],
    validate_sns,
);

/// `#[on_s3_event(bucket = "uploads", events = [...], prefix = "in/", suffix = ".jpg")]`.
pub(crate) const S3: EntryKind = event_kind(
    "on_s3_event",
    "bucket handler",
    &["bucket", "events", "prefix", "suffix", "name"],
    validate_s3,
);

/// `#[on_event(pattern = r#"{"source": ["shop.orders"]}"#)]`.
pub(crate) const EVENTBRIDGE: EntryKind = event_kind(
    "on_event",
    "rule handler",
    &["pattern", "name"],
    validate_eventbridge,
);

/// `#[on_dynamodb_record(table = "users", starting_position = "LATEST", batch_size = 100)]`.
pub(crate) const DYNAMODB: EntryKind = event_kind(
    "on_dynamodb_record",
    "stream handler",
    &["table", "starting_position", "batch_size", "name"],
    validate_dynamodb,
);

fn find<'a>(args: &KindArgs<'a>, name: &str) -> Option<&'a RawOption> {
    args.options.iter().copied().find(|o| o.name == name)
}

/// The required logical name of the resource behind `key` (`queue = "jobs"`).
fn resource(
    args: &KindArgs<'_>,
    attribute: &str,
    key: &str,
    errors: &mut Errors,
) -> Option<LitStr> {
    let Some(option) = find(args, key) else {
        errors.push(syn::Error::new(
            Span::call_site(),
            format!(
                "`#[{attribute}]` needs the {key} it handles: `#[{attribute}({key} = \"...\")]`, \
                 the name the {key} is declared with in portico.toml"
            ),
        ));
        return None;
    };
    let name = errors.take(options::str_value(option, "jobs"))?;
    if !handler::is_entry_point_name(&name.value()) {
        errors.push(syn::Error::new(
            name.span(),
            format!(
                "{key} name `{}` must be 1 to 64 letters, digits, `-` or `_` (the logical name \
                 declared in portico.toml, not an ARN or URL)",
                name.value()
            ),
        ));
        return None;
    }
    Some(name)
}

/// The value of the optional whole-number option `key` within `range`, else `default`, with
/// the span of the value (or of the call site).
fn number(
    args: &KindArgs<'_>,
    key: &str,
    range: std::ops::RangeInclusive<u32>,
    default: u32,
    errors: &mut Errors,
) -> Option<(u32, Span)> {
    match find(args, key) {
        Some(option) => errors
            .take(options::u32_value(option, range))
            .map(|value| (value, option.value.span())),
        None => Some((default, Span::call_site())),
    }
}

fn optional_str(args: &KindArgs<'_>, key: &str, errors: &mut Errors) -> Option<TokenStream> {
    match find(args, key) {
        Some(option) => {
            let value = errors.take(options::str_value(option, "in/"))?;
            Some(quote!(::core::option::Option::Some(#value)))
        }
        None => Some(quote!(::core::option::Option::None)),
    }
}

fn trigger() -> TokenStream {
    paths::event_trigger(Span::call_site())
}

fn validate_sqs(args: &KindArgs<'_>, errors: &mut Errors) -> Option<TokenStream> {
    let queue = resource(args, SQS.attribute, "queue", errors);
    let batch = number(
        args,
        "batch_size",
        aws::SQS_BATCH_SIZE,
        aws::SQS_DEFAULT_BATCH_SIZE,
        errors,
    );
    let window = number(
        args,
        "max_batching_window",
        aws::SQS_MAX_BATCHING_WINDOW,
        0,
        errors,
    );
    let ((batch_size, span), (window, _)) = (batch?, window?);
    if let Err(message) = aws::check_sqs_batching(batch_size, window) {
        errors.push(syn::Error::new(span, message));
        return None;
    }
    let (queue, trigger) = (queue?, trigger());
    let (batch_size, window) = (
        Literal::u32_unsuffixed(batch_size),
        Literal::u32_unsuffixed(window),
    );
    Some(quote! {
        trigger: #trigger::Sqs { queue: #queue, batch_size: #batch_size, max_batching_window: #window },
    })
}

fn validate_sns(args: &KindArgs<'_>, errors: &mut Errors) -> Option<TokenStream> {
    let topic = resource(args, SNS.attribute, "topic", errors)?;
    let trigger = trigger();
    Some(quote!(trigger: #trigger::Sns { topic: #topic },))
}

fn validate_s3(args: &KindArgs<'_>, errors: &mut Errors) -> Option<TokenStream> {
    let bucket = resource(args, S3.attribute, "bucket", errors);
    let events = match find(args, "events") {
        Some(option) => s3_events(option, errors),
        None => Some(
            aws::S3_DEFAULT_EVENT_TYPES
                .iter()
                .map(|e| LitStr::new(e, Span::call_site()))
                .collect(),
        ),
    };
    let prefix = optional_str(args, "prefix", errors);
    let suffix = optional_str(args, "suffix", errors);
    let (bucket, events, prefix, suffix) = (bucket?, events?, prefix?, suffix?);
    let trigger = trigger();
    Some(quote! {
        trigger: #trigger::S3 { bucket: #bucket, events: &[#(#events),*], prefix: #prefix, suffix: #suffix },
    })
}

/// The `events` list: at least one, each an S3 event type.
fn s3_events(option: &RawOption, errors: &mut Errors) -> Option<Vec<LitStr>> {
    let events = errors.take(options::str_array_value(option, "s3:ObjectCreated:*"))?;
    if events.is_empty() {
        errors.push(syn::Error::new(
            option.value.span(),
            "`events` lists at least one S3 event type, e.g. `events = [\"s3:ObjectCreated:*\"]`",
        ));
        return None;
    }
    let mut valid = true;
    for event in &events {
        let value = event.value();
        if !aws::S3_EVENT_TYPES.contains(&value.as_str()) {
            valid = false;
            errors.push(syn::Error::new(
                event.span(),
                format!(
                    "`{value}` is not an S3 event type; S3 notifies {}",
                    aws::S3_EVENT_TYPES.join(", ")
                ),
            ));
        }
    }
    valid.then_some(events)
}

fn validate_eventbridge(args: &KindArgs<'_>, errors: &mut Errors) -> Option<TokenStream> {
    let Some(option) = find(args, "pattern") else {
        errors.push(syn::Error::new(
            Span::call_site(),
            "`#[on_event]` needs the event pattern it matches: \
             `#[on_event(pattern = r#\"{\"source\": [\"my.app\"]}\"#)]`",
        ));
        return None;
    };
    let pattern = errors.take(options::str_value(
        option,
        "{\\\"source\\\": [\\\"my.app\\\"]}",
    ))?;
    if let Err(error) = EventPattern::parse(&pattern.value()) {
        // The span is the whole literal (sub-spans are unstable): the message names the path.
        errors.push(syn::Error::new(
            pattern.span(),
            format!("invalid event pattern: {error}"),
        ));
        return None;
    }
    let trigger = trigger();
    Some(quote!(trigger: #trigger::EventBridge { pattern: #pattern },))
}

fn validate_dynamodb(args: &KindArgs<'_>, errors: &mut Errors) -> Option<TokenStream> {
    let table = resource(args, DYNAMODB.attribute, "table", errors);
    let position = match find(args, "starting_position") {
        Some(option) => errors
            .take(options::str_value(option, "LATEST"))
            .and_then(|position| {
                if aws::DYNAMODB_STARTING_POSITIONS.contains(&position.value().as_str()) {
                    return Some(position);
                }
                errors.push(syn::Error::new(
                    position.span(),
                    format!(
                        "starting_position `{}` is not one DynamoDB streams take: `TRIM_HORIZON` \
                         (the oldest record) or `LATEST` (only new ones)",
                        position.value()
                    ),
                ));
                None
            }),
        None => Some(LitStr::new("LATEST", Span::call_site())),
    };
    let batch = number(
        args,
        "batch_size",
        aws::DYNAMODB_BATCH_SIZE,
        aws::DYNAMODB_DEFAULT_BATCH_SIZE,
        errors,
    );
    let (table, position, (batch_size, _)) = (table?, position?, batch?);
    let (trigger, batch_size) = (trigger(), Literal::u32_unsuffixed(batch_size));
    Some(quote! {
        trigger: #trigger::DynamoDb { table: #table, starting_position: #position, batch_size: #batch_size },
    })
}

#[cfg(test)]
mod tests;

//! The fields states share: paths, templates, seconds, `Retry` and `Catch`, and how a schema
//! error is worded.

use serde_json::{Map, Value};

use crate::sfn::asl::dataflow::check_template;
use crate::sfn::asl::errors::ALL;
use crate::sfn::asl::path::JsonPath;
use crate::sfn::asl::types::{Catcher, PathField, ResultPath, Retrier};

pub(super) fn schema(errors: &mut Vec<String>, message: String) {
    errors.push(format!("SCHEMA_VALIDATION_FAILED: {message}"));
}

pub(super) fn unknown_fields(
    object: &Map<String, Value>,
    allowed: &[&str],
    at: &str,
    errors: &mut Vec<String>,
) {
    for key in object.keys() {
        if !allowed.contains(&key.as_str()) {
            schema(
                errors,
                format!("The field \"{key}\" is not supported by portico local at {at}/{key}"),
            );
        }
    }
}

pub(super) fn seconds_field(
    object: &Map<String, Value>,
    field: &str,
    at: &str,
    errors: &mut Vec<String>,
) -> Option<u64> {
    let value = object.get(field)?;
    match value.as_u64() {
        Some(n) if (1..=99_999_999).contains(&n) => Some(n),
        _ => {
            schema(
                errors,
                format!(
                    "The value for the field '{field}' must be an integer from 1 to 99999999 at {at}/{field}"
                ),
            );
            None
        }
    }
}

pub(super) fn string_field(
    object: &Map<String, Value>,
    field: &str,
    at: &str,
    errors: &mut Vec<String>,
) -> Option<String> {
    match object.get(field)? {
        Value::String(s) => Some(s.clone()),
        _ => {
            schema(
                errors,
                format!("The field '{field}' must be a string at {at}/{field}"),
            );
            None
        }
    }
}

pub(super) fn path_field(
    object: &Map<String, Value>,
    field: &str,
    at: &str,
    errors: &mut Vec<String>,
) -> PathField {
    match object.get(field) {
        None => PathField::Whole,
        Some(Value::Null) => PathField::Empty,
        Some(Value::String(s)) if s == "$" => PathField::Whole,
        Some(Value::String(s)) => match JsonPath::parse(s) {
            Ok(p) => PathField::Path(p),
            Err(e) => {
                schema(errors, format!("{e} at {at}/{field}"));
                PathField::Whole
            }
        },
        Some(_) => {
            schema(
                errors,
                format!("The field '{field}' must be a path or null at {at}/{field}"),
            );
            PathField::Whole
        }
    }
}

pub(super) fn result_path_value(
    value: Option<&Value>,
    at: &str,
    errors: &mut Vec<String>,
) -> ResultPath {
    match value {
        None => ResultPath::Whole,
        Some(Value::Null) => ResultPath::Discard,
        Some(Value::String(s)) if s == "$" => ResultPath::Whole,
        Some(Value::String(s)) => match JsonPath::parse(s) {
            Ok(p) if p.context => {
                schema(
                    errors,
                    format!("ResultPath cannot refer to the context object ($$) at {at}"),
                );
                ResultPath::Whole
            }
            Ok(p) => ResultPath::At(p),
            Err(e) => {
                schema(errors, format!("{e} at {at}"));
                ResultPath::Whole
            }
        },
        Some(_) => {
            schema(
                errors,
                format!("ResultPath must be a reference path or null at {at}"),
            );
            ResultPath::Whole
        }
    }
}

pub(super) fn template_field(
    object: &Map<String, Value>,
    field: &str,
    at: &str,
    errors: &mut Vec<String>,
) -> Option<Value> {
    let value = object.get(field)?;
    if !value.is_object() {
        schema(
            errors,
            format!("The field '{field}' must be an object at {at}/{field}"),
        );
        return None;
    }
    check_template(value, &format!("{at}/{field}"), errors);
    Some(value.clone())
}

pub(super) fn error_equals(
    object: &Map<String, Value>,
    at: &str,
    errors: &mut Vec<String>,
) -> Vec<String> {
    match object.get("ErrorEquals") {
        Some(Value::Array(items)) if !items.is_empty() && items.iter().all(Value::is_string) => {
            items
                .iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        }
        _ => {
            schema(
                errors,
                format!("\"ErrorEquals\" must be a non-empty array of strings at {at}/ErrorEquals"),
            );
            Vec::new()
        }
    }
}

/// `States.ALL` must be alone in its `ErrorEquals` and in the last retrier or catcher.
pub(super) fn check_all_last<'a>(
    lists: impl ExactSizeIterator<Item = &'a Vec<String>>,
    at: &str,
    errors: &mut Vec<String>,
) {
    let count = lists.len();
    for (i, list) in lists.enumerate() {
        if list.iter().any(|e| e == ALL) && (list.len() > 1 || i + 1 != count) {
            schema(
                errors,
                format!("States.ALL must appear alone in the last entry at {at}[{i}]/ErrorEquals"),
            );
        }
    }
}

pub(super) fn parse_retrier(value: &Value, at: &str, errors: &mut Vec<String>) -> Option<Retrier> {
    let Some(object) = value.as_object() else {
        schema(errors, format!("a retrier must be an object at {at}"));
        return None;
    };
    unknown_fields(
        object,
        &[
            "ErrorEquals",
            "IntervalSeconds",
            "MaxAttempts",
            "BackoffRate",
            "MaxDelaySeconds",
            "JitterStrategy",
            "Comment",
        ],
        at,
        errors,
    );
    let errors_list = error_equals(object, at, errors);
    let interval_seconds = seconds_field(object, "IntervalSeconds", at, errors).unwrap_or(1);
    let max_attempts = match object.get("MaxAttempts") {
        None => 3,
        Some(v) => match v.as_u64().and_then(|n| u32::try_from(n).ok()) {
            Some(n) if n <= 99_999_999 => n,
            _ => {
                schema(
                    errors,
                    format!(
                        "MaxAttempts must be an integer from 0 to 99999999 at {at}/MaxAttempts"
                    ),
                );
                3
            }
        },
    };
    let backoff_rate = match object.get("BackoffRate") {
        None => 2.0,
        Some(v) => match v.as_f64() {
            Some(n) if n >= 1.0 => n,
            _ => {
                schema(
                    errors,
                    format!("BackoffRate must be a number of at least 1.0 at {at}/BackoffRate"),
                );
                2.0
            }
        },
    };
    let max_delay_seconds = match object.get("MaxDelaySeconds") {
        None => None,
        Some(v) => match v.as_u64() {
            Some(n) if (1..=31_622_400).contains(&n) => Some(n),
            _ => {
                schema(
                    errors,
                    format!(
                        "MaxDelaySeconds must be an integer greater than 0 and less than 31622401 at {at}/MaxDelaySeconds"
                    ),
                );
                None
            }
        },
    };
    let full_jitter = match object.get("JitterStrategy") {
        None => false,
        Some(v) if v == "NONE" => false,
        Some(v) if v == "FULL" => true,
        Some(other) => {
            schema(
                errors,
                format!(
                    "JitterStrategy must be \"FULL\" or \"NONE\", not {other} at {at}/JitterStrategy"
                ),
            );
            false
        }
    };
    Some(Retrier {
        errors: errors_list,
        interval_seconds,
        max_attempts,
        backoff_rate,
        max_delay_seconds,
        full_jitter,
    })
}

/// `Retry`: the retriers, checked.
pub(super) fn retry_field(
    object: &Map<String, Value>,
    at: &str,
    errors: &mut Vec<String>,
) -> Vec<Retrier> {
    match object.get("Retry") {
        None => Vec::new(),
        Some(Value::Array(items)) => {
            let mut out = Vec::new();
            for (i, item) in items.iter().enumerate() {
                let here = format!("{at}/Retry[{i}]");
                if let Some(r) = parse_retrier(item, &here, errors) {
                    out.push(r);
                }
            }
            check_all_last(
                out.iter().map(|r| &r.errors),
                &format!("{at}/Retry"),
                errors,
            );
            out
        }
        Some(_) => {
            schema(errors, format!("\"Retry\" must be an array at {at}/Retry"));
            Vec::new()
        }
    }
}

/// `Catch`: the catchers, checked (their `Next` is checked with the transitions).
pub(super) fn catch_field(
    object: &Map<String, Value>,
    at: &str,
    errors: &mut Vec<String>,
) -> Vec<Catcher> {
    match object.get("Catch") {
        None => Vec::new(),
        Some(Value::Array(items)) => {
            let mut out = Vec::new();
            for (i, item) in items.iter().enumerate() {
                let here = format!("{at}/Catch[{i}]");
                let Some(c) = item.as_object() else {
                    schema(errors, format!("a catcher must be an object at {here}"));
                    continue;
                };
                unknown_fields(
                    c,
                    &["ErrorEquals", "ResultPath", "Next", "Comment"],
                    &here,
                    errors,
                );
                let errors_list = error_equals(c, &here, errors);
                let next = string_field(c, "Next", &here, errors);
                if next.is_none() {
                    schema(
                        errors,
                        format!("The field \"Next\" is required at {here}/Next"),
                    );
                }
                let result_path =
                    result_path_value(c.get("ResultPath"), &format!("{here}/ResultPath"), errors);
                out.push(Catcher {
                    errors: errors_list,
                    result_path,
                    next: next.unwrap_or_default(),
                });
            }
            check_all_last(
                out.iter().map(|c| &c.errors),
                &format!("{at}/Catch"),
                errors,
            );
            out
        }
        Some(_) => {
            schema(errors, format!("\"Catch\" must be an array at {at}/Catch"));
            Vec::new()
        }
    }
}

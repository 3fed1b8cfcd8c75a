//! `Parallel` and `Map`: their fields, and their branches, each a machine of its own that the
//! caller's `machine` function parses (with its own `StartAt`, `States` and transitions).

use serde_json::{Map, Value};

use crate::sfn::asl::parse::fields::{
    catch_field, result_path_value, retry_field, schema, template_field, unknown_fields,
};
use crate::sfn::asl::path::JsonPath;
use crate::sfn::asl::types::{Definition, Kind, MapState, Operand, Outcome, Parallel};

/// Parses a branch (a sub-machine) at the JSON path given.
pub(crate) type Machine<'a> = &'a dyn Fn(&Value, &str, &mut Vec<String>) -> Option<Definition>;

/// The fields a `Parallel` state has besides the common ones.
pub(crate) const PARALLEL_FIELDS: &[&str] = &[
    "Next",
    "End",
    "Branches",
    "Parameters",
    "ResultSelector",
    "ResultPath",
    "Retry",
    "Catch",
];

/// The fields a `Map` state has besides the common ones.
pub(crate) const MAP_FIELDS: &[&str] = &[
    "Next",
    "End",
    "ItemProcessor",
    "Iterator",
    "ItemsPath",
    "ItemSelector",
    "Parameters",
    "MaxConcurrency",
    "MaxConcurrencyPath",
    "ToleratedFailurePercentage",
    "ToleratedFailurePercentagePath",
    "ToleratedFailureCount",
    "ToleratedFailureCountPath",
    "Label",
    "ResultSelector",
    "ResultPath",
    "Retry",
    "Catch",
];

fn outcome(object: &Map<String, Value>, at: &str, errors: &mut Vec<String>) -> Outcome {
    Outcome {
        result_selector: template_field(object, "ResultSelector", at, errors),
        result_path: result_path_value(
            object.get("ResultPath"),
            &format!("{at}/ResultPath"),
            errors,
        ),
        retry: retry_field(object, at, errors),
        catch: catch_field(object, at, errors),
    }
}

pub(crate) fn parse_parallel(
    object: &Map<String, Value>,
    at: &str,
    machine: Machine<'_>,
    errors: &mut Vec<String>,
) -> Kind {
    let branches = match object.get("Branches") {
        Some(Value::Array(items)) if !items.is_empty() => items
            .iter()
            .enumerate()
            .filter_map(|(i, branch)| machine(branch, &format!("{at}/Branches[{i}]"), errors))
            .collect(),
        _ => {
            schema(
                errors,
                format!(
                    "The field \"Branches\" is required and must be a non-empty array at {at}/Branches"
                ),
            );
            Vec::new()
        }
    };
    Kind::Parallel(Box::new(Parallel {
        branches,
        parameters: template_field(object, "Parameters", at, errors),
        outcome: outcome(object, at, errors),
    }))
}

pub(crate) fn parse_map(
    object: &Map<String, Value>,
    at: &str,
    machine: Machine<'_>,
    errors: &mut Vec<String>,
) -> Option<Kind> {
    let (field, processor) = match (object.get("ItemProcessor"), object.get("Iterator")) {
        (Some(p), None) => ("ItemProcessor", p),
        (None, Some(p)) => ("Iterator", p),
        (Some(_), Some(_)) => {
            schema(
                errors,
                format!("\"ItemProcessor\" and \"Iterator\" cannot both be set at {at}/Iterator"),
            );
            return None;
        }
        (None, None) => {
            schema(
                errors,
                format!("The field \"ItemProcessor\" is required at {at}/ItemProcessor"),
            );
            return None;
        }
    };
    let here = format!("{at}/{field}");
    let mut processor = processor.clone();
    let mut distributed = false;
    if let Some(config) = processor
        .as_object_mut()
        .and_then(|p| p.remove("ProcessorConfig"))
    {
        let config_at = format!("{here}/ProcessorConfig");
        match config.as_object() {
            Some(config) => {
                unknown_fields(config, &["Mode", "ExecutionType"], &config_at, errors);
                match config.get("Mode").and_then(Value::as_str) {
                    None | Some("INLINE") => {}
                    Some("DISTRIBUTED") => distributed = true,
                    Some(other) => schema(
                        errors,
                        format!(
                            "Mode must be \"INLINE\" or \"DISTRIBUTED\", not \"{other}\" at {config_at}/Mode"
                        ),
                    ),
                }
                match config.get("ExecutionType").and_then(Value::as_str) {
                    None => {}
                    Some("STANDARD" | "EXPRESS") if distributed => {}
                    Some(_) => schema(
                        errors,
                        format!(
                            "ExecutionType must be \"STANDARD\" or \"EXPRESS\", in DISTRIBUTED mode only, at {config_at}/ExecutionType"
                        ),
                    ),
                }
            }
            None => schema(
                errors,
                format!("ProcessorConfig must be an object at {config_at}"),
            ),
        }
    }
    let processor = machine(&processor, &here, errors)?;
    let items_path = match object.get("ItemsPath") {
        None => None,
        Some(Value::String(s)) if s == "$" => None,
        Some(Value::String(s)) => match JsonPath::parse(s) {
            Ok(p) => Some(p),
            Err(e) => {
                schema(errors, format!("{e} at {at}/ItemsPath"));
                None
            }
        },
        Some(_) => {
            schema(
                errors,
                format!("ItemsPath must be a reference path at {at}/ItemsPath"),
            );
            None
        }
    };
    let item_selector = match (
        template_field(object, "ItemSelector", at, errors),
        template_field(object, "Parameters", at, errors),
    ) {
        (Some(_), Some(_)) => {
            schema(
                errors,
                format!(
                    "\"ItemSelector\" and \"Parameters\" cannot both be set at {at}/Parameters"
                ),
            );
            None
        }
        (a, b) => a.or(b),
    };
    let max_concurrency = number_or_path(object, "MaxConcurrency", at, None, errors)
        .unwrap_or(Operand::Literal(Value::from(0)));
    let tolerated_failure_percentage = number_or_path(
        object,
        "ToleratedFailurePercentage",
        at,
        Some(100.0),
        errors,
    );
    let tolerated_failure_count = number_or_path(object, "ToleratedFailureCount", at, None, errors);
    Some(Kind::Map(Box::new(MapState {
        processor,
        distributed,
        items_path,
        item_selector,
        max_concurrency,
        tolerated_failure_percentage,
        tolerated_failure_count,
        outcome: outcome(object, at, errors),
    })))
}

/// `Field` (a non-negative number; an integer unless `max` is given, then up to `max`) or
/// `FieldPath` (a reference path), not both.
fn number_or_path(
    object: &Map<String, Value>,
    field: &str,
    at: &str,
    max: Option<f64>,
    errors: &mut Vec<String>,
) -> Option<Operand> {
    let path_field = format!("{field}Path");
    match (object.get(field), object.get(&path_field)) {
        (Some(_), Some(_)) => {
            schema(
                errors,
                format!("\"{field}\" and \"{path_field}\" cannot both be set at {at}/{path_field}"),
            );
            None
        }
        (Some(value), None) => {
            let fits = match max {
                Some(max) => value.as_f64().is_some_and(|n| (0.0..=max).contains(&n)),
                None => value.as_u64().is_some_and(|n| n <= 99_999_999),
            };
            if fits {
                Some(Operand::Literal(value.clone()))
            } else {
                let what = match max {
                    Some(max) => format!("a number from 0 to {max}"),
                    None => "a non-negative integer".to_owned(),
                };
                schema(
                    errors,
                    format!("The value for the field '{field}' must be {what} at {at}/{field}"),
                );
                None
            }
        }
        (None, Some(Value::String(p))) => match JsonPath::parse(p) {
            Ok(p) if !p.context => Some(Operand::Path(p)),
            Ok(_) => {
                schema(
                    errors,
                    format!(
                        "{path_field} must be a reference path into the state's input at {at}/{path_field}"
                    ),
                );
                None
            }
            Err(e) => {
                schema(errors, format!("{e} at {at}/{path_field}"));
                None
            }
        },
        (None, Some(_)) => {
            schema(
                errors,
                format!("{path_field} must be a path at {at}/{path_field}"),
            );
            None
        }
        (None, None) => None,
    }
}

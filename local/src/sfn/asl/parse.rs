//! Parsing and validation at load: every field checked, anything unsupported refused with a
//! message naming the state and the field, as AWS's `SCHEMA_VALIDATION_FAILED` does.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::clock;
use crate::sfn::asl::dataflow::check_template;
use crate::sfn::asl::errors::ALL;
use crate::sfn::asl::path::JsonPath;
use crate::sfn::asl::types::{
    Catcher, Comparison, Definition, Kind, Operand, PathField, Resource, ResultPath, Retrier, Rule,
    State, Task, Transition, WaitFor, comparisons,
};

impl Definition {
    /// Parses and validates `text`.
    ///
    /// # Errors
    /// Every problem found, AWS style (`SCHEMA_VALIDATION_FAILED: … at /States/Name/Field`),
    /// joined with `; `.
    pub fn parse(text: &str) -> Result<Self, String> {
        let value: Value =
            serde_json::from_str(text).map_err(|e| format!("INVALID_JSON_DESCRIPTION: {e}"))?;
        Self::from_value(&value)
    }

    /// Validates an already parsed definition.
    ///
    /// # Errors
    /// As [`Definition::parse`].
    pub fn from_value(value: &Value) -> Result<Self, String> {
        let mut errors = Vec::new();
        let definition = parse_definition(value, &mut errors);
        match definition {
            Some(d) if errors.is_empty() => Ok(d),
            _ => Err(errors.join("; ")),
        }
    }
}

fn schema(errors: &mut Vec<String>, message: String) {
    errors.push(format!("SCHEMA_VALIDATION_FAILED: {message}"));
}

fn unknown_fields(
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

fn parse_definition(value: &Value, errors: &mut Vec<String>) -> Option<Definition> {
    let Some(top) = value.as_object() else {
        schema(errors, "the definition must be a JSON object at /".into());
        return None;
    };
    unknown_fields(
        top,
        &[
            "StartAt",
            "States",
            "Comment",
            "Version",
            "TimeoutSeconds",
            "QueryLanguage",
        ],
        "",
        errors,
    );
    if let Some(language) = top.get("QueryLanguage")
        && language != "JSONPath"
    {
        schema(
            errors,
            "portico local supports the JSONPath query language only at /QueryLanguage".into(),
        );
    }
    let start_at = match top.get("StartAt") {
        Some(Value::String(s)) => s.clone(),
        _ => {
            schema(
                errors,
                "The field \"StartAt\" is required and must be a string at /StartAt".into(),
            );
            String::new()
        }
    };
    let timeout_seconds = seconds_field(top, "TimeoutSeconds", "", errors);
    let Some(states_value) = top.get("States").and_then(Value::as_object) else {
        schema(
            errors,
            "The field \"States\" is required and must be an object at /States".into(),
        );
        return None;
    };
    let mut states = BTreeMap::new();
    for (name, state) in states_value {
        if let Some(state) = parse_state(name, state, errors) {
            states.insert(name.clone(), state);
        }
    }
    if !start_at.is_empty() && !states_value.contains_key(&start_at) {
        errors.push(format!(
            "MISSING_TRANSITION_TARGET: Missing 'Next' target: {start_at} at /StartAt"
        ));
    }
    // Every transition names a state.
    for state in states.values() {
        let at = format!("/States/{}", state.name);
        let mut targets: Vec<(&str, String)> = Vec::new();
        if let Some(Transition::Next(next)) = &state.transition {
            targets.push((next, format!("{at}/Next")));
        }
        match &state.kind {
            Kind::Choice { choices, default } => {
                for (i, (_, next)) in choices.iter().enumerate() {
                    targets.push((next, format!("{at}/Choices[{i}]/Next")));
                }
                if let Some(d) = default {
                    targets.push((d, format!("{at}/Default")));
                }
            }
            Kind::Task(task) => {
                for (i, c) in task.catch.iter().enumerate() {
                    targets.push((&c.next, format!("{at}/Catch[{i}]/Next")));
                }
            }
            _ => {}
        }
        for (target, where_) in targets {
            if !states_value.contains_key(target) {
                errors.push(format!(
                    "MISSING_TRANSITION_TARGET: Missing 'Next' target: {target} at {where_}"
                ));
            }
        }
    }
    Some(Definition {
        start_at,
        states,
        timeout_seconds,
    })
}

fn seconds_field(
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

fn string_field(
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

fn path_field(
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

fn result_path_value(value: Option<&Value>, at: &str, errors: &mut Vec<String>) -> ResultPath {
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

fn template_field(
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

fn parse_state(name: &str, value: &Value, errors: &mut Vec<String>) -> Option<State> {
    let at = format!("/States/{name}");
    if name.is_empty() || name.chars().count() > 80 {
        schema(
            errors,
            format!("state names must be 1 to 80 characters at {at}"),
        );
    }
    let Some(object) = value.as_object() else {
        schema(errors, format!("a state must be an object at {at}"));
        return None;
    };
    let kind_name = match object.get("Type") {
        Some(Value::String(t)) => t.as_str(),
        _ => {
            schema(
                errors,
                format!("The field \"Type\" is required at {at}/Type"),
            );
            return None;
        }
    };
    const COMMON: &[&str] = &["Type", "Comment", "InputPath", "OutputPath"];
    let allowed: &[&str] = match kind_name {
        "Pass" => &["Next", "End", "Result", "ResultPath", "Parameters"],
        "Task" => &[
            "Next",
            "End",
            "Resource",
            "Parameters",
            "ResultSelector",
            "ResultPath",
            "Retry",
            "Catch",
            "TimeoutSeconds",
            "HeartbeatSeconds",
            "TimeoutSecondsPath",
            "HeartbeatSecondsPath",
            "Credentials",
        ],
        "Choice" => &["Choices", "Default"],
        "Wait" => &[
            "Next",
            "End",
            "Seconds",
            "Timestamp",
            "SecondsPath",
            "TimestampPath",
        ],
        "Succeed" => &[],
        "Fail" => &["Error", "Cause", "ErrorPath", "CausePath"],
        "Map" | "Parallel" => {
            schema(
                errors,
                format!(
                    "the state type \"{kind_name}\" is not supported by portico local at {at}/Type"
                ),
            );
            return None;
        }
        other => {
            schema(
                errors,
                format!("\"{other}\" is not a valid state type at {at}/Type"),
            );
            return None;
        }
    };
    let fail_like = kind_name == "Fail";
    for key in object.keys() {
        let common = COMMON.contains(&key.as_str())
            && !(fail_like && key.ends_with("Path") && key != "Type");
        if !common && !allowed.contains(&key.as_str()) {
            schema(
                errors,
                format!(
                    "The field \"{key}\" is not supported for a {kind_name} state by portico local at {at}/{key}"
                ),
            );
        }
    }
    let input_path = path_field(object, "InputPath", &at, errors);
    let output_path = path_field(object, "OutputPath", &at, errors);

    let needs_transition = matches!(kind_name, "Pass" | "Task" | "Wait");
    let transition = if needs_transition {
        let next = string_field(object, "Next", &at, errors);
        let end = object.get("End");
        match (next, end) {
            (Some(next), None) => Some(Transition::Next(next)),
            (None, Some(Value::Bool(true))) => Some(Transition::End),
            (Some(_), Some(_)) => {
                schema(
                    errors,
                    format!("a state cannot have both \"Next\" and \"End\" at {at}"),
                );
                None
            }
            _ => {
                schema(
                    errors,
                    format!("a {kind_name} state needs \"Next\" or \"End\": true at {at}"),
                );
                None
            }
        }
    } else {
        None
    };

    let kind = match kind_name {
        "Pass" => Kind::Pass {
            result: object.get("Result").cloned(),
            parameters: template_field(object, "Parameters", &at, errors),
            result_path: result_path_value(
                object.get("ResultPath"),
                &format!("{at}/ResultPath"),
                errors,
            ),
        },
        "Task" => Kind::Task(Box::new(parse_task(object, &at, errors)?)),
        "Choice" => parse_choice(object, &at, errors),
        "Wait" => parse_wait(object, &at, errors)?,
        "Succeed" => Kind::Succeed,
        _ => {
            let operand = |literal: &str, path: &str, errors: &mut Vec<String>| match (
                object.get(literal),
                object.get(path),
            ) {
                (Some(_), Some(_)) => {
                    schema(
                        errors,
                        format!("\"{literal}\" and \"{path}\" cannot both be set at {at}/{path}"),
                    );
                    None
                }
                (Some(Value::String(s)), None) => Some(Operand::Literal(Value::String(s.clone()))),
                (None, Some(Value::String(p))) => match JsonPath::parse(p) {
                    Ok(p) => Some(Operand::Path(p)),
                    Err(e) => {
                        schema(errors, format!("{e} at {at}/{path}"));
                        None
                    }
                },
                (None, None) => None,
                _ => {
                    schema(
                        errors,
                        format!("\"{literal}\" must be a string at {at}/{literal}"),
                    );
                    None
                }
            };
            Kind::Fail {
                error: operand("Error", "ErrorPath", errors),
                cause: operand("Cause", "CausePath", errors),
            }
        }
    };
    Some(State {
        name: name.to_owned(),
        input_path,
        output_path,
        transition,
        kind,
    })
}

/// The resources a `Task` may name.
fn parse_resource(resource: &str, at: &str, errors: &mut Vec<String>) -> Option<Resource> {
    match resource {
        "arn:aws:states:::lambda:invoke" => return Some(Resource::LambdaInvoke),
        "arn:aws:states:::lambda:invoke.waitForTaskToken" => {
            return Some(Resource::LambdaInvokeWaitForTaskToken);
        }
        _ => {}
    }
    let parts: Vec<&str> = resource.split(':').collect();
    match parts[..] {
        ["arn", _, "states", region, account, "activity", name]
            if !region.is_empty() && !account.is_empty() && !name.is_empty() =>
        {
            Some(Resource::Activity(resource.to_owned()))
        }
        ["arn", _, "lambda", region, account, "function", name, ..]
            if !region.is_empty()
                && !account.is_empty()
                && !name.is_empty()
                && parts.len() <= 8 =>
        {
            Some(Resource::LambdaFunction(resource.to_owned()))
        }
        _ => {
            schema(
                errors,
                format!(
                    "the resource '{resource}' is not supported by portico local (an activity ARN, a Lambda function ARN, arn:aws:states:::lambda:invoke or arn:aws:states:::lambda:invoke.waitForTaskToken) at {at}/Resource"
                ),
            );
            None
        }
    }
}

fn parse_task(object: &Map<String, Value>, at: &str, errors: &mut Vec<String>) -> Option<Task> {
    let Some(resource) = string_field(object, "Resource", at, errors) else {
        schema(
            errors,
            format!("The field \"Resource\" is required at {at}/Resource"),
        );
        return None;
    };
    let resource = parse_resource(&resource, at, errors)?;
    let parameters = template_field(object, "Parameters", at, errors);
    if matches!(
        resource,
        Resource::LambdaInvoke | Resource::LambdaInvokeWaitForTaskToken
    ) {
        const LAMBDA_PARAMETERS: &[&str] = &[
            "FunctionName",
            "Payload",
            "InvocationType",
            "Qualifier",
            "ClientContext",
            "LogType",
        ];
        match parameters.as_ref().and_then(Value::as_object) {
            None => schema(
                errors,
                format!(
                    "The field \"Parameters\" is required for a lambda:invoke task (FunctionName, Payload) at {at}/Parameters"
                ),
            ),
            Some(params) => {
                for key in params.keys() {
                    let bare = key.strip_suffix(".$").unwrap_or(key);
                    if !LAMBDA_PARAMETERS.contains(&bare) {
                        schema(
                            errors,
                            format!(
                                "The field \"{bare}\" is not supported by Step Functions for lambda:invoke at {at}/Parameters/{key}"
                            ),
                        );
                    }
                }
                if !params.contains_key("FunctionName") && !params.contains_key("FunctionName.$") {
                    schema(
                        errors,
                        format!("The field \"FunctionName\" is required at {at}/Parameters"),
                    );
                }
            }
        }
        if resource == Resource::LambdaInvokeWaitForTaskToken
            && !parameters
                .as_ref()
                .is_some_and(|p| p.to_string().contains("$$.Task.Token"))
        {
            schema(
                errors,
                format!(
                    "a .waitForTaskToken task must pass $$.Task.Token in its Parameters at {at}/Parameters"
                ),
            );
        }
    }
    let retry = match object.get("Retry") {
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
    };
    let catch = match object.get("Catch") {
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
    };
    let timeout_seconds = seconds_field(object, "TimeoutSeconds", at, errors);
    let heartbeat_seconds = seconds_field(object, "HeartbeatSeconds", at, errors);
    let timeout_seconds_path = seconds_path_field(
        object,
        "TimeoutSeconds",
        timeout_seconds.is_some(),
        at,
        errors,
    );
    let heartbeat_seconds_path = seconds_path_field(
        object,
        "HeartbeatSeconds",
        heartbeat_seconds.is_some(),
        at,
        errors,
    );
    if let (Some(t), Some(h)) = (timeout_seconds, heartbeat_seconds)
        && h >= t
    {
        schema(
            errors,
            format!(
                "HeartbeatSeconds must be smaller than TimeoutSeconds at {at}/HeartbeatSeconds"
            ),
        );
    }
    if (heartbeat_seconds.is_some() || heartbeat_seconds_path.is_some())
        && matches!(
            resource,
            Resource::LambdaInvoke | Resource::LambdaFunction(_)
        )
    {
        let field = if heartbeat_seconds.is_some() {
            "HeartbeatSeconds"
        } else {
            "HeartbeatSecondsPath"
        };
        schema(
            errors,
            format!(
                "{field} applies to activities and .waitForTaskToken tasks only at {at}/{field}"
            ),
        );
    }
    // `Credentials` (a role for the task to assume): checked like a template, not used, as
    // the local cloud assumes no role.
    template_field(object, "Credentials", at, errors);
    Some(Task {
        resource,
        parameters,
        result_selector: template_field(object, "ResultSelector", at, errors),
        result_path: result_path_value(
            object.get("ResultPath"),
            &format!("{at}/ResultPath"),
            errors,
        ),
        retry,
        catch,
        timeout_seconds,
        heartbeat_seconds,
        timeout_seconds_path,
        heartbeat_seconds_path,
    })
}

/// `TimeoutSecondsPath` / `HeartbeatSecondsPath`: a reference path, not with the fixed field.
fn seconds_path_field(
    object: &Map<String, Value>,
    fixed: &str,
    fixed_set: bool,
    at: &str,
    errors: &mut Vec<String>,
) -> Option<JsonPath> {
    let field = format!("{fixed}Path");
    let value = object.get(&field)?;
    let here = format!("{at}/{field}");
    if fixed_set {
        schema(
            errors,
            format!("\"{fixed}\" and \"{field}\" cannot both be set at {here}"),
        );
    }
    match value.as_str().map(JsonPath::parse) {
        Some(Ok(path)) if !path.context => Some(path),
        Some(Ok(_)) => {
            schema(
                errors,
                format!("{field} must be a reference path into the state's input at {here}"),
            );
            None
        }
        Some(Err(e)) => {
            schema(errors, format!("{e} at {here}"));
            None
        }
        None => {
            schema(errors, format!("{field} must be a path at {here}"));
            None
        }
    }
}

fn error_equals(object: &Map<String, Value>, at: &str, errors: &mut Vec<String>) -> Vec<String> {
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
fn check_all_last<'a>(
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

fn parse_retrier(value: &Value, at: &str, errors: &mut Vec<String>) -> Option<Retrier> {
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

fn parse_choice(object: &Map<String, Value>, at: &str, errors: &mut Vec<String>) -> Kind {
    let mut choices = Vec::new();
    match object.get("Choices") {
        Some(Value::Array(items)) if !items.is_empty() => {
            for (i, item) in items.iter().enumerate() {
                let here = format!("{at}/Choices[{i}]");
                let next = item
                    .as_object()
                    .and_then(|o| string_field(o, "Next", &here, errors));
                let Some(next) = next else {
                    schema(
                        errors,
                        format!("The field \"Next\" is required at {here}/Next"),
                    );
                    continue;
                };
                if let Some(rule) = parse_rule(item, &here, true, errors) {
                    choices.push((rule, next));
                }
            }
        }
        _ => schema(
            errors,
            format!("\"Choices\" must be a non-empty array at {at}/Choices"),
        ),
    }
    Kind::Choice {
        choices,
        default: string_field(object, "Default", at, errors),
    }
}

fn parse_rule(value: &Value, at: &str, top: bool, errors: &mut Vec<String>) -> Option<Rule> {
    let Some(object) = value.as_object() else {
        schema(errors, format!("a choice rule must be an object at {at}"));
        return None;
    };
    let mut keys: Vec<&str> = object
        .keys()
        .map(String::as_str)
        .filter(|k| *k != "Comment" && !(top && *k == "Next"))
        .collect();
    if !top && object.contains_key("Next") {
        schema(
            errors,
            format!("a nested choice rule cannot have \"Next\" at {at}/Next"),
        );
    }
    for combinator in ["And", "Or", "Not"] {
        if let Some(inner) = object.get(combinator) {
            if keys.len() != 1 {
                schema(
                    errors,
                    format!("\"{combinator}\" must be alone in its rule at {at}"),
                );
            }
            let here = format!("{at}/{combinator}");
            return match (combinator, inner) {
                ("Not", inner) => {
                    parse_rule(inner, &here, false, errors).map(|r| Rule::Not(Box::new(r)))
                }
                (_, Value::Array(items)) if !items.is_empty() => {
                    let rules: Vec<Rule> = items
                        .iter()
                        .enumerate()
                        .filter_map(|(i, r)| parse_rule(r, &format!("{here}[{i}]"), false, errors))
                        .collect();
                    Some(if combinator == "And" {
                        Rule::And(rules)
                    } else {
                        Rule::Or(rules)
                    })
                }
                _ => {
                    schema(
                        errors,
                        format!("\"{combinator}\" must be a non-empty array of rules at {here}"),
                    );
                    None
                }
            };
        }
    }
    let variable = match object.get("Variable") {
        Some(Value::String(v)) => match JsonPath::parse(v) {
            Ok(p) => p,
            Err(e) => {
                schema(errors, format!("{e} at {at}/Variable"));
                return None;
            }
        },
        _ => {
            schema(
                errors,
                format!("The field \"Variable\" is required and must be a path at {at}/Variable"),
            );
            return None;
        }
    };
    keys.retain(|k| *k != "Variable");
    let all = comparisons();
    let [operator] = keys[..] else {
        schema(
            errors,
            format!(
                "a choice rule needs exactly one comparison operator besides \"Variable\", found {} at {at}",
                if keys.is_empty() {
                    "none".to_owned()
                } else {
                    keys.join(", ")
                }
            ),
        );
        return None;
    };
    let Some((_, op, is_path)) = all.iter().find(|(name, _, _)| name == operator) else {
        schema(
            errors,
            format!(
                "\"{operator}\" is not a comparison operator supported by portico local at {at}/{operator}"
            ),
        );
        return None;
    };
    let raw = &object[operator];
    let here = format!("{at}/{operator}");
    let operand = if *is_path {
        match raw.as_str().map(JsonPath::parse) {
            Some(Ok(p)) => Operand::Path(p),
            Some(Err(e)) => {
                schema(errors, format!("{e} at {here}"));
                return None;
            }
            None => {
                schema(errors, format!("the value must be a path at {here}"));
                return None;
            }
        }
    } else {
        let fits = match op {
            Comparison::String(_) | Comparison::StringMatches => raw.is_string(),
            Comparison::Timestamp(_) => raw.as_str().and_then(clock::parse_rfc3339).is_some(),
            Comparison::Numeric(_) => raw.is_number(),
            _ => raw.is_boolean(),
        };
        if !fits {
            schema(
                errors,
                format!("the value {raw} does not fit the operator at {here}"),
            );
            return None;
        }
        Operand::Literal(raw.clone())
    };
    Some(Rule::Compare {
        variable,
        op: *op,
        operand,
    })
}

fn parse_wait(object: &Map<String, Value>, at: &str, errors: &mut Vec<String>) -> Option<Kind> {
    let set: Vec<&str> = ["Seconds", "Timestamp", "SecondsPath", "TimestampPath"]
        .into_iter()
        .filter(|k| object.contains_key(*k))
        .collect();
    let [field] = set[..] else {
        schema(
            errors,
            format!(
                "a Wait state needs exactly one of Seconds, Timestamp, SecondsPath, TimestampPath at {at}"
            ),
        );
        return None;
    };
    let value = &object[field];
    let here = format!("{at}/{field}");
    let wait = match field {
        "Seconds" => match value.as_u64() {
            Some(n) if n <= 99_999_999 => WaitFor::Seconds(n),
            _ => {
                schema(
                    errors,
                    format!("Seconds must be an integer from 0 to 99999999 at {here}"),
                );
                return None;
            }
        },
        "Timestamp" => match value.as_str().and_then(clock::parse_rfc3339) {
            Some(ms) => WaitFor::Timestamp(ms),
            None => {
                schema(
                    errors,
                    format!(
                        "Timestamp must be an RFC 3339 timestamp (2026-01-01T00:00:00Z) at {here}"
                    ),
                );
                return None;
            }
        },
        _ => match value.as_str().map(JsonPath::parse) {
            Some(Ok(p)) if field == "SecondsPath" => WaitFor::SecondsPath(p),
            Some(Ok(p)) => WaitFor::TimestampPath(p),
            Some(Err(e)) => {
                schema(errors, format!("{e} at {here}"));
                return None;
            }
            None => {
                schema(errors, format!("{field} must be a path at {here}"));
                return None;
            }
        },
    };
    Some(Kind::Wait(wait))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    use serde_json::Value;

    use crate::sfn::asl::choice::wildcard_match;
    use crate::sfn::asl::errors::RUNTIME;
    use serde_json::json;
    pub(crate) fn parse(definition: Value) -> Result<Definition, String> {
        Definition::from_value(&definition)
    }

    fn rejected(definition: Value) -> String {
        parse(definition).expect_err("the definition should be refused")
    }

    /// The approval workflow's shape, with a bit of everything the interpreter supports.
    fn approval() -> Value {
        json!({
            "Comment": "manual approval",
            "StartAt": "Prepare",
            "TimeoutSeconds": 7200,
            "States": {
                "Prepare": {"Type": "Pass", "Parameters": {"employee.$": "$.name", "execution.$": "$$.Execution.Name",
                    "subject.$": "States.Format('Promote {}?', $.name)", "tags.$": "States.Array('a', 1, true)"},
                    "ResultPath": "$.request", "Next": "Ask"},
                "Ask": {"Type": "Task", "Resource": "arn:aws:states:us-east-1:000000000000:activity:app-dev-ManualStep",
                    "Parameters": {"request.$": "$.request"}, "ResultSelector": {"decision.$": "$.decision"},
                    "ResultPath": "$.answer", "TimeoutSeconds": 3600, "HeartbeatSeconds": 600,
                    "Retry": [{"ErrorEquals": ["States.Timeout"], "IntervalSeconds": 2, "MaxAttempts": 1, "BackoffRate": 1.5}],
                    "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Rejected"}],
                    "Next": "Decide"},
                "Notify": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
                    "Parameters": {"FunctionName": "arn:aws:lambda:us-east-1:000000000000:function:app-dev-api",
                        "Payload": {"token.$": "$$.Task.Token", "input.$": "$"}}, "Next": "Decide"},
                "Decide": {"Type": "Choice", "Choices": [
                    {"And": [{"Variable": "$.answer.decision", "IsPresent": true},
                             {"Variable": "$.answer.decision", "StringEquals": "approve"}], "Next": "Approved"},
                    {"Not": {"Variable": "$.answer.decision", "StringMatches": "re*"}, "Next": "Later"}],
                    "Default": "Rejected"},
                "Later": {"Type": "Wait", "SecondsPath": "$.delay", "Next": "Approved"},
                "Approved": {"Type": "Succeed", "OutputPath": "$.answer"},
                "Rejected": {"Type": "Fail", "Error": "Rejected", "CausePath": "$.error.Cause"}
            }
        })
    }

    #[test]
    fn accepts_the_constructs_approval_workflows_use() {
        let d = parse(approval()).unwrap();
        assert_eq!(d.start_at, "Prepare");
        assert_eq!(d.timeout_seconds, Some(7200));
        let Kind::Task(ask) = &d.states["Ask"].kind else {
            panic!("a task")
        };
        assert_eq!(
            ask.resource,
            Resource::Activity(
                "arn:aws:states:us-east-1:000000000000:activity:app-dev-ManualStep".into()
            )
        );
        assert_eq!(
            (ask.timeout_seconds, ask.heartbeat_seconds),
            (Some(3600), Some(600))
        );
        assert_eq!(ask.retry[0].max_attempts, 1);
        assert_eq!(ask.catch[0].next, "Rejected");
        assert_eq!(
            ask.result_path,
            ResultPath::At(JsonPath::parse("$.answer").unwrap())
        );
        let Kind::Choice { choices, default } = &d.states["Decide"].kind else {
            panic!("a choice")
        };
        assert_eq!(choices.len(), 2);
        assert_eq!(default.as_deref(), Some("Rejected"));
        assert!(matches!(
            d.states["Later"].kind,
            Kind::Wait(WaitFor::SecondsPath(_))
        ));
        assert_eq!(d.states["Approved"].transition, None);
    }

    #[test]
    fn unsupported_constructs_are_refused_naming_the_state_and_field() {
        let with_state =
            |name: &str, state: Value| rejected(json!({"StartAt": name, "States": {name: state}}));
        let cases = [
            (
                with_state("Fan", json!({"Type": "Map", "End": true})),
                "/States/Fan/Type",
            ),
            (
                with_state(
                    "Both",
                    json!({"Type": "Parallel", "Branches": [], "End": true}),
                ),
                "/States/Both/Type",
            ),
            (
                with_state("P", json!({"Type": "Pass", "Foo": 1, "End": true})),
                "The field \"Foo\" is not supported for a Pass state by portico local at /States/P/Foo",
            ),
            (
                with_state(
                    "P",
                    json!({"Type": "Pass", "Parameters": {"h.$": "States.Unknown($.a)"}, "End": true}),
                ),
                "/States/P/Parameters/h.$",
            ),
            (
                with_state(
                    "P",
                    json!({"Type": "Pass", "InputPath": "$.items[*]", "End": true}),
                ),
                "/States/P/InputPath",
            ),
            (
                with_state("P", json!({"Type": "Pass", "Next": "Nowhere"})),
                "Missing 'Next' target: Nowhere at /States/P/Next",
            ),
            (
                with_state("P", json!({"Type": "Pass", "Next": "P", "End": true})),
                "both \"Next\" and \"End\" at /States/P",
            ),
            (
                with_state(
                    "T",
                    json!({"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage", "End": true}),
                ),
                "/States/T/Resource",
            ),
            (
                with_state(
                    "T",
                    json!({"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "Parameters": {"Payload": {}}, "End": true}),
                ),
                "The field \"FunctionName\" is required at /States/T/Parameters",
            ),
            (
                with_state(
                    "T",
                    json!({"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
                    "Parameters": {"FunctionName": "f", "Payload": {}}, "End": true}),
                ),
                "$$.Task.Token in its Parameters at /States/T/Parameters",
            ),
            (
                with_state(
                    "T",
                    json!({"Type": "Task", "Resource": "arn:aws:states:us-east-1:0:activity:a",
                    "Retry": [{"ErrorEquals": ["States.ALL"]}, {"ErrorEquals": ["X"]}], "End": true}),
                ),
                "/States/T/Retry[0]/ErrorEquals",
            ),
            (
                with_state(
                    "T",
                    json!({"Type": "Task", "Resource": "arn:aws:states:us-east-1:0:activity:a",
                    "TimeoutSeconds": 0, "End": true}),
                ),
                "/States/T/TimeoutSeconds",
            ),
            (
                with_state(
                    "T",
                    json!({"Type": "Task", "Resource": "arn:aws:states:us-east-1:0:activity:a",
                    "Retry": [{"ErrorEquals": ["X"], "JitterStrategy": "HALF"}], "End": true}),
                ),
                "JitterStrategy must be \"FULL\" or \"NONE\", not \"HALF\" at /States/T/Retry[0]/JitterStrategy",
            ),
            (
                with_state(
                    "T",
                    json!({"Type": "Task", "Resource": "arn:aws:states:us-east-1:0:activity:a",
                    "Retry": [{"ErrorEquals": ["X"], "MaxDelaySeconds": 31_622_401}], "End": true}),
                ),
                "/States/T/Retry[0]/MaxDelaySeconds",
            ),
            (
                with_state(
                    "T",
                    json!({"Type": "Task", "Resource": "arn:aws:states:us-east-1:0:activity:a",
                    "TimeoutSeconds": 5, "TimeoutSecondsPath": "$.t", "End": true}),
                ),
                "\"TimeoutSeconds\" and \"TimeoutSecondsPath\" cannot both be set at /States/T/TimeoutSecondsPath",
            ),
            (
                with_state(
                    "T",
                    json!({"Type": "Task", "Resource": "arn:aws:states:us-east-1:0:activity:a",
                    "HeartbeatSecondsPath": "$$.Execution.Input.h", "End": true}),
                ),
                "HeartbeatSecondsPath must be a reference path into the state's input at /States/T/HeartbeatSecondsPath",
            ),
            (
                with_state(
                    "T",
                    json!({"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:0:function:f",
                    "HeartbeatSecondsPath": "$.h", "End": true}),
                ),
                "HeartbeatSecondsPath applies to activities and .waitForTaskToken tasks only at /States/T/HeartbeatSecondsPath",
            ),
            (
                with_state(
                    "T",
                    json!({"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:0:function:f",
                    "Credentials": "arn:aws:iam::0:role/r", "End": true}),
                ),
                "The field 'Credentials' must be an object at /States/T/Credentials",
            ),
            (
                with_state(
                    "C",
                    json!({"Type": "Choice", "Choices": [{"Variable": "$.a", "StringLooksLike": "x", "Next": "C"}]}),
                ),
                "/States/C/Choices[0]/StringLooksLike",
            ),
            (
                with_state(
                    "C",
                    json!({"Type": "Choice", "Choices": [{"Variable": "$.a", "NumericEquals": "1", "Next": "C"}]}),
                ),
                "/States/C/Choices[0]/NumericEquals",
            ),
            (
                with_state(
                    "W",
                    json!({"Type": "Wait", "Seconds": 1, "Timestamp": "2026-01-01T00:00:00Z", "End": true}),
                ),
                "exactly one of Seconds, Timestamp, SecondsPath, TimestampPath at /States/W",
            ),
            (
                with_state("F", json!({"Type": "Fail", "OutputPath": "$"})),
                "/States/F/OutputPath",
            ),
            (
                rejected(
                    json!({"StartAt": "A", "QueryLanguage": "JSONata", "States": {"A": {"Type": "Succeed"}}}),
                ),
                "/QueryLanguage",
            ),
            (
                rejected(json!({"StartAt": "B", "States": {"A": {"Type": "Succeed"}}})),
                "Missing 'Next' target: B at /StartAt",
            ),
        ];
        for (message, expected) in cases {
            assert!(
                message.contains(expected),
                "{message}\n  should contain {expected}"
            );
        }
        assert!(
            Definition::parse("{")
                .unwrap_err()
                .starts_with("INVALID_JSON_DESCRIPTION")
        );
    }

    #[test]
    fn retrier_jitter_dynamic_timeouts_credentials_and_comments_are_accepted() {
        let d = parse(json!({
            "Comment": "c",
            "StartAt": "T",
            "States": {
                "T": {"Type": "Task", "Comment": "c", "Resource": "arn:aws:states:us-east-1:0:activity:a",
                    "TimeoutSecondsPath": "$.limits.timeout", "HeartbeatSecondsPath": "$.limits['heartbeat']",
                    "Credentials": {"RoleArn.$": "$.role"},
                    "Retry": [{"Comment": "c", "ErrorEquals": ["X"], "MaxDelaySeconds": 31_622_400, "JitterStrategy": "FULL"},
                              {"ErrorEquals": ["Y"], "JitterStrategy": "NONE"}],
                    "Catch": [{"Comment": "c", "ErrorEquals": ["States.ALL"], "Next": "C"}],
                    "Next": "C"},
                "C": {"Type": "Choice", "Comment": "c", "Choices": [
                    {"Comment": "c", "Not": {"Comment": "c", "Variable": "$.a", "IsPresent": true}, "Next": "T"}],
                    "Default": "S"},
                "S": {"Type": "Succeed", "Comment": "c"}
            }
        }))
        .unwrap();
        let Kind::Task(task) = &d.states["T"].kind else {
            panic!("a task")
        };
        assert_eq!(
            task.timeout_seconds_path,
            Some(JsonPath::parse("$.limits.timeout").unwrap())
        );
        assert_eq!(
            task.heartbeat_seconds_path,
            Some(JsonPath::parse("$.limits.heartbeat").unwrap())
        );
        assert_eq!((task.timeout_seconds, task.heartbeat_seconds), (None, None));
        assert!(task.retry[0].full_jitter);
        assert_eq!(task.retry[0].max_delay_seconds, Some(31_622_400));
        assert!(!task.retry[1].full_jitter);
    }

    fn rule(value: Value) -> Rule {
        let mut errors = Vec::new();
        let rule = parse_rule(&value, "/C", false, &mut errors);
        assert!(errors.is_empty(), "{errors:?}");
        rule.unwrap()
    }

    #[test]
    fn choice_rules_compare_like_step_functions() {
        let input = json!({"s": "review", "n": 5, "b": true, "t": "2026-01-02T00:00:00Z",
            "other": 5, "nothing": null});
        let ctx = json!({});
        let holds = |r: Value| rule(r).holds(&input, &ctx).unwrap();
        assert!(holds(json!({"Variable": "$.s", "StringEquals": "review"})));
        assert!(holds(json!({"Variable": "$.s", "StringLessThan": "z"})));
        assert!(holds(json!({"Variable": "$.s", "StringMatches": "re*w"})));
        assert!(!holds(json!({"Variable": "$.s", "StringMatches": "re\\*"})));
        assert!(holds(
            json!({"Variable": "$.n", "NumericGreaterThanEquals": 5})
        ));
        assert!(!holds(json!({"Variable": "$.n", "NumericLessThan": 5})));
        assert!(holds(
            json!({"Variable": "$.n", "NumericEqualsPath": "$.other"})
        ));
        assert!(holds(json!({"Variable": "$.b", "BooleanEquals": true})));
        assert!(holds(
            json!({"Variable": "$.t", "TimestampGreaterThan": "2026-01-01T23:59:59Z"})
        ));
        assert!(holds(json!({"Variable": "$.t", "IsTimestamp": true})));
        assert!(holds(json!({"Variable": "$.nothing", "IsNull": true})));
        assert!(holds(json!({"Variable": "$.absent", "IsPresent": false})));
        assert!(
            !holds(json!({"Variable": "$.n", "StringEquals": "5"})),
            "types differ"
        );
        assert!(holds(
            json!({"Or": [{"Variable": "$.n", "NumericEquals": 1},
            {"Not": {"Variable": "$.s", "StringEquals": "x"}}]})
        ));
        assert!(!holds(
            json!({"And": [{"Variable": "$.b", "BooleanEquals": true},
            {"Variable": "$.n", "IsString": true}]})
        ));
        let err = rule(json!({"Variable": "$.absent", "StringEquals": "x"}))
            .holds(&input, &ctx)
            .unwrap_err();
        assert_eq!(err.error, RUNTIME);
        assert!(wildcard_match("*", ""));
        assert!(wildcard_match("a*b*c", "aXbYbZc"));
        assert!(!wildcard_match("a*b", "aXbY"));
    }
}

//! Parsing and validation at load: every field checked, anything unsupported refused with a
//! message naming the state and the field, as AWS's `SCHEMA_VALIDATION_FAILED` does.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

mod fanout;
mod fields;

use crate::clock;
use crate::sfn::asl::path::JsonPath;
use crate::sfn::asl::types::{
    Comparison, Definition, Kind, Operand, Resource, Rule, State, Task, Transition, WaitFor,
    comparisons,
};
use fanout::{MAP_FIELDS, PARALLEL_FIELDS, parse_map, parse_parallel};
use fields::{
    catch_field, path_field, result_path_value, retry_field, schema, seconds_field, string_field,
    template_field, unknown_fields,
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
        let definition = parse_definition(value, "", &mut errors);
        if let Some(definition) = &definition {
            let mut seen = std::collections::BTreeSet::new();
            duplicate_names(definition, "", &mut seen, &mut errors);
        }
        match definition {
            Some(d) if errors.is_empty() => Ok(d),
            _ => Err(errors.join("; ")),
        }
    }
}

/// State names are unique in the whole machine, branches included, as AWS requires.
fn duplicate_names(
    definition: &Definition,
    at: &str,
    seen: &mut std::collections::BTreeSet<String>,
    errors: &mut Vec<String>,
) {
    for (name, state) in &definition.states {
        let here = format!("{at}/States/{name}");
        if !seen.insert(name.clone()) {
            errors.push(format!(
                "DUPLICATE_STATE_NAME: Duplicate State name: {name} at {here}"
            ));
        }
        match &state.kind {
            Kind::Parallel(p) => {
                for (i, branch) in p.branches.iter().enumerate() {
                    duplicate_names(branch, &format!("{here}/Branches[{i}]"), seen, errors);
                }
            }
            Kind::Map(m) => {
                duplicate_names(&m.processor, &format!("{here}/ItemProcessor"), seen, errors)
            }
            _ => {}
        }
    }
}

/// Parses a machine: the definition itself (`at` empty) or a `Parallel` branch or a `Map`
/// state's processor (`at` its JSON path), whose transitions stay within it.
fn parse_definition(value: &Value, at: &str, errors: &mut Vec<String>) -> Option<Definition> {
    let top_level = at.is_empty();
    let Some(top) = value.as_object() else {
        schema(
            errors,
            format!("a state machine must be a JSON object at {at}/"),
        );
        return None;
    };
    let allowed: &[&str] = if top_level {
        &[
            "StartAt",
            "States",
            "Comment",
            "Version",
            "TimeoutSeconds",
            "QueryLanguage",
        ]
    } else {
        &["StartAt", "States", "Comment"]
    };
    unknown_fields(top, allowed, at, errors);
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
                format!("The field \"StartAt\" is required and must be a string at {at}/StartAt"),
            );
            String::new()
        }
    };
    let timeout_seconds = seconds_field(top, "TimeoutSeconds", at, errors);
    let Some(states_value) = top.get("States").and_then(Value::as_object) else {
        schema(
            errors,
            format!("The field \"States\" is required and must be an object at {at}/States"),
        );
        return None;
    };
    let mut states = BTreeMap::new();
    for (name, state) in states_value {
        if let Some(state) = parse_state(name, state, at, errors) {
            states.insert(name.clone(), state);
        }
    }
    if !start_at.is_empty() && !states_value.contains_key(&start_at) {
        errors.push(format!(
            "MISSING_TRANSITION_TARGET: Missing 'Next' target: {start_at} at {at}/StartAt"
        ));
    }
    // Every transition names a state of this machine (not of an enclosing one or a sibling
    // branch).
    for state in states.values() {
        let at = format!("{at}/States/{}", state.name);
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
            Kind::Parallel(p) => {
                for (i, c) in p.outcome.catch.iter().enumerate() {
                    targets.push((&c.next, format!("{at}/Catch[{i}]/Next")));
                }
            }
            Kind::Map(m) => {
                for (i, c) in m.outcome.catch.iter().enumerate() {
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

fn parse_state(name: &str, value: &Value, prefix: &str, errors: &mut Vec<String>) -> Option<State> {
    let at = format!("{prefix}/States/{name}");
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
        "Parallel" => PARALLEL_FIELDS,
        "Map" => MAP_FIELDS,
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

    let needs_transition = matches!(kind_name, "Pass" | "Task" | "Wait" | "Parallel" | "Map");
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
        "Parallel" => parse_parallel(object, &at, &|v, at, e| parse_definition(v, at, e), errors),
        "Map" => parse_map(object, &at, &|v, at, e| parse_definition(v, at, e), errors)?,
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
    let retry = retry_field(object, at, errors);
    let catch = catch_field(object, at, errors);
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
    use crate::sfn::asl::types::ResultPath;
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
    fn parallel_and_map_load_with_their_branches() {
        let definition = parse(json!({
            "StartAt": "Fan",
            "States": {
                "Fan": {"Type": "Parallel", "Comment": "both", "InputPath": "$.in", "Parameters": {"x.$": "$.x"},
                    "ResultSelector": {"first.$": "$[0]"}, "ResultPath": "$.out", "OutputPath": "$.out",
                    "Retry": [{"ErrorEquals": ["States.ALL"], "MaxAttempts": 1}],
                    "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Failed"}],
                    "Branches": [
                        {"StartAt": "A", "States": {"A": {"Type": "Pass", "End": true}}},
                        {"Comment": "b", "StartAt": "B", "States": {
                            "B": {"Type": "Choice", "Choices": [{"Variable": "$.x", "IsPresent": true, "Next": "B2"}], "Default": "B2"},
                            "B2": {"Type": "Succeed"}}}
                    ],
                    "Next": "Each"},
                "Each": {"Type": "Map", "ItemsPath": "$.items", "MaxConcurrency": 2,
                    "ItemSelector": {"index.$": "$$.Map.Item.Index", "value.$": "$$.Map.Item.Value"},
                    "ItemProcessor": {"ProcessorConfig": {"Mode": "INLINE"}, "StartAt": "Do",
                        "States": {"Do": {"Type": "Pass", "End": true}}},
                    "Next": "Old"},
                "Old": {"Type": "Map", "Parameters": {"v.$": "$$.Map.Item.Value"},
                    "Iterator": {"StartAt": "Step", "States": {"Step": {"Type": "Pass", "End": true}}},
                    "Next": "Distributed"},
                "Distributed": {"Type": "Map", "ToleratedFailurePercentage": 10, "ToleratedFailureCount": 2,
                    "Label": "dist",
                    "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                        "StartAt": "Work", "States": {"Work": {"Type": "Pass", "End": true}}},
                    "End": true},
                "Failed": {"Type": "Fail", "Error": "E"}
            }
        }))
        .unwrap();
        let Kind::Parallel(fan) = &definition.states["Fan"].kind else {
            panic!("Fan is a Parallel state");
        };
        assert_eq!(fan.branches.len(), 2);
        assert_eq!(fan.branches[1].start_at, "B");
        assert_eq!(fan.outcome.catch[0].next, "Failed");
        assert_eq!(fan.outcome.retry[0].max_attempts, 1);
        let Kind::Map(each) = &definition.states["Each"].kind else {
            panic!("Each is a Map state");
        };
        assert!(!each.distributed);
        assert_eq!(each.max_concurrency, Operand::Literal(json!(2)));
        assert!(each.items_path.is_some());
        assert_eq!(each.processor.start_at, "Do");
        let Kind::Map(old) = &definition.states["Old"].kind else {
            panic!("Old is a Map state");
        };
        assert_eq!(old.max_concurrency, Operand::Literal(json!(0)));
        assert!(old.item_selector.is_some());
        assert_eq!(old.processor.start_at, "Step");
        let Kind::Map(distributed) = &definition.states["Distributed"].kind else {
            panic!("Distributed is a Map state");
        };
        assert!(distributed.distributed);
        assert_eq!(
            distributed.tolerated_failure_count,
            Some(Operand::Literal(json!(2)))
        );
    }

    #[test]
    fn bad_branches_are_refused_naming_the_state_and_json_path() {
        let branch = |states: Value, start: &str| json!({"StartAt": start, "States": states});
        let cases = [
            // A branch cannot go to a state of the enclosing machine.
            (
                json!({"StartAt": "Fan", "States": {
                    "Fan": {"Type": "Parallel", "End": true, "Branches": [
                        branch(json!({"A": {"Type": "Pass", "Next": "After"}}), "A")]},
                    "After": {"Type": "Succeed"}}}),
                "MISSING_TRANSITION_TARGET: Missing 'Next' target: After at /States/Fan/Branches[0]/States/A/Next",
            ),
            // Nor to a state of a sibling branch.
            (
                json!({"StartAt": "Fan", "States": {
                    "Fan": {"Type": "Parallel", "End": true, "Branches": [
                        branch(json!({"A": {"Type": "Pass", "End": true}}), "A"),
                        branch(json!({"B": {"Type": "Pass", "Next": "A"}}), "B")]}}}),
                "Missing 'Next' target: A at /States/Fan/Branches[1]/States/B/Next",
            ),
            (
                json!({"StartAt": "Fan", "States": {
                    "Fan": {"Type": "Parallel", "End": true, "Branches": [
                        branch(json!({"A": {"Type": "Pass", "End": true}}), "Z")]}}}),
                "Missing 'Next' target: Z at /States/Fan/Branches[0]/StartAt",
            ),
            // Names are unique in the whole machine.
            (
                json!({"StartAt": "Fan", "States": {
                    "Fan": {"Type": "Parallel", "End": true, "Branches": [
                        branch(json!({"A": {"Type": "Pass", "End": true}}), "A"),
                        branch(json!({"A": {"Type": "Pass", "End": true}}), "A")]}}}),
                "DUPLICATE_STATE_NAME: Duplicate State name: A at /States/Fan/Branches[1]/States/A",
            ),
            (
                json!({"StartAt": "Each", "States": {
                    "Each": {"Type": "Map", "End": true, "ItemProcessor": branch(
                        json!({"Do": {"Type": "Task", "Resource": "arn:aws:states:::nope", "End": true}}), "Do")}}}),
                "/States/Each/ItemProcessor/States/Do/Resource",
            ),
            (
                json!({"StartAt": "Each", "States": {
                    "Each": {"Type": "Map", "End": true, "MaxConcurrency": -1, "ItemProcessor": branch(
                        json!({"Do": {"Type": "Pass", "End": true}}), "Do")}}}),
                "The value for the field 'MaxConcurrency' must be a non-negative integer at /States/Each/MaxConcurrency",
            ),
            (
                json!({"StartAt": "Each", "States": {
                    "Each": {"Type": "Map", "End": true, "ItemSelector": {}, "Parameters": {}, "ItemProcessor": branch(
                        json!({"Do": {"Type": "Pass", "End": true}}), "Do")}}}),
                "\"ItemSelector\" and \"Parameters\" cannot both be set at /States/Each/Parameters",
            ),
            (
                json!({"StartAt": "Each", "States": {
                    "Each": {"Type": "Map", "End": true, "ItemProcessor": {"ProcessorConfig": {"Mode": "SIDEWAYS"},
                        "StartAt": "Do", "States": {"Do": {"Type": "Pass", "End": true}}}}}}),
                "at /States/Each/ItemProcessor/ProcessorConfig/Mode",
            ),
            (
                json!({"StartAt": "Each", "States": {
                    "Each": {"Type": "Map", "End": true, "ItemReader": {}, "ItemProcessor": branch(
                        json!({"Do": {"Type": "Pass", "End": true}}), "Do")}}}),
                "The field \"ItemReader\" is not supported for a Map state by portico local at /States/Each/ItemReader",
            ),
            (
                json!({"StartAt": "Each", "States": {
                    "Each": {"Type": "Map", "End": true, "ItemProcessor": {"StartAt": "Do", "TimeoutSeconds": 5,
                        "States": {"Do": {"Type": "Pass", "End": true}}}}}}),
                "at /States/Each/ItemProcessor/TimeoutSeconds",
            ),
        ];
        for (definition, expected) in cases {
            let error = rejected(definition);
            assert!(
                error.contains(expected),
                "{error} should contain {expected}"
            );
        }
    }

    #[test]
    fn unsupported_constructs_are_refused_naming_the_state_and_field() {
        let with_state =
            |name: &str, state: Value| rejected(json!({"StartAt": name, "States": {name: state}}));
        let cases = [
            (
                with_state("Fan", json!({"Type": "Map", "End": true})),
                "The field \"ItemProcessor\" is required at /States/Fan/ItemProcessor",
            ),
            (
                with_state(
                    "Both",
                    json!({"Type": "Parallel", "Branches": [], "End": true}),
                ),
                "must be a non-empty array at /States/Both/Branches",
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

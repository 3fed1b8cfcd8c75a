//! Data flow: `InputPath`, `Parameters` templates, `ResultPath` and `OutputPath`.

use serde_json::{Map, Value};

use crate::sfn::asl::intrinsics::Intrinsic;
use crate::sfn::asl::path::{Failure, JsonPath};
use crate::sfn::asl::types::{PathField, ResultPath};

/// Applies `InputPath` / `OutputPath`.
///
/// # Errors
/// `States.Runtime` when the path selects nothing.
pub fn apply_path(field: &PathField, value: &Value, context: &Value) -> Result<Value, Failure> {
    match field {
        PathField::Whole => Ok(value.clone()),
        PathField::Empty => Ok(Value::Object(Map::new())),
        PathField::Path(path) => path.select(value, context),
    }
}

/// Applies `ResultPath`: where `result` goes in the state's raw `input`.
///
/// # Errors
/// `States.ResultPathMatchFailure`.
pub fn apply_result_path(
    field: &ResultPath,
    input: &Value,
    result: Value,
) -> Result<Value, Failure> {
    match field {
        ResultPath::Whole => Ok(result),
        ResultPath::Discard => Ok(input.clone()),
        ResultPath::At(path) => {
            let mut out = input.clone();
            path.put(&mut out, result)?;
            Ok(out)
        }
    }
}

/// Evaluates a payload template (`Parameters`, `ResultSelector`): keys ending in `.$` take
/// the value of their path or intrinsic function, the rest is copied.
///
/// # Errors
/// `States.Runtime` when a path selects nothing or an intrinsic function fails.
pub fn evaluate_template(
    template: &Value,
    input: &Value,
    context: &Value,
) -> Result<Value, Failure> {
    match template {
        Value::Object(fields) => {
            let mut out = Map::new();
            for (key, value) in fields {
                match (key.strip_suffix(".$"), value) {
                    (Some(name), Value::String(expr)) => {
                        out.insert(name.to_owned(), evaluate_expression(expr, input, context)?);
                    }
                    _ => {
                        out.insert(key.clone(), evaluate_template(value, input, context)?);
                    }
                }
            }
            Ok(Value::Object(out))
        }
        Value::Array(items) => items
            .iter()
            .map(|item| evaluate_template(item, input, context))
            .collect::<Result<Vec<_>, _>>()
            .map(Value::Array),
        other => Ok(other.clone()),
    }
}

fn evaluate_expression(expr: &str, input: &Value, context: &Value) -> Result<Value, Failure> {
    if expr.starts_with('$') {
        let path = JsonPath::parse(expr).map_err(Failure::runtime)?;
        return path.select(input, context);
    }
    let call = Intrinsic::parse(expr).map_err(Failure::runtime)?;
    call.evaluate(input, context)
}

/// Checks a payload template at load; `at` is where it is, for messages.
pub(crate) fn check_template(template: &Value, at: &str, errors: &mut Vec<String>) {
    match template {
        Value::Object(fields) => {
            for (key, value) in fields {
                let here = format!("{at}/{key}");
                match (key.strip_suffix(".$"), value) {
                    (Some(_), Value::String(expr)) => {
                        let checked = if expr.starts_with('$') {
                            JsonPath::parse(expr).map(drop)
                        } else {
                            Intrinsic::parse(expr).map(drop)
                        };
                        if let Err(message) = checked {
                            errors.push(format!("{message} at {here}"));
                        }
                    }
                    (Some(_), _) => errors.push(format!(
                        "The value for the field '{key}' must be a STRING that contains a JSONPath or an intrinsic function at {here}"
                    )),
                    (None, value) => check_template(value, &here, errors),
                }
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                check_template(item, &format!("{at}[{i}]"), errors);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::sfn::asl::errors::RUNTIME;
    use crate::sfn::asl::types::PathField;
    use serde_json::json;
    #[test]
    fn templates_evaluate_paths_context_and_intrinsics() {
        let input = json!({"name": "Ada", "n": 2, "doc": "{\"k\":[1]}", "obj": {"x": true}});
        let context = json!({"Execution": {"Name": "e-1"}, "Task": {"Token": "tok"}});
        let template = json!({
            "static": {"nested": [1, {"deep.$": "$.n"}]},
            "who.$": "$.name",
            "token.$": "$$.Task.Token",
            "greeting.$": "States.Format('Hello {}, run {} \\{literal\\}', $.name, $$.Execution.Name)",
            "parsed.$": "States.StringToJson($.doc)",
            "text.$": "States.JsonToString($.obj)",
            "list.$": "States.Array($.n, 'two', States.MathAdd($.n, 1))",
            "id.$": "States.UUID()"
        });
        let mut errors = Vec::new();
        check_template(&template, "/P", &mut errors);
        assert!(errors.is_empty(), "{errors:?}");
        let out = evaluate_template(&template, &input, &context).unwrap();
        assert_eq!(out["static"], json!({"nested": [1, {"deep": 2}]}));
        assert_eq!(out["who"], "Ada");
        assert_eq!(out["token"], "tok");
        assert_eq!(out["greeting"], "Hello Ada, run e-1 {literal}");
        assert_eq!(out["parsed"], json!({"k": [1]}));
        assert_eq!(out["text"], "{\"x\":true}");
        assert_eq!(out["list"], json!([2, "two", 3]));
        assert_eq!(out["id"].as_str().map(str::len), Some(36));

        let missing = evaluate_template(&json!({"v.$": "$.nope"}), &input, &context).unwrap_err();
        assert_eq!(missing.error, RUNTIME);
        let bad = evaluate_template(
            &json!({"v.$": "States.StringToJson($.name)"}),
            &input,
            &context,
        )
        .unwrap_err();
        assert_eq!(bad.error, RUNTIME);
        assert!(
            bad.cause
                .starts_with("Invalid arguments in States.StringToJson: "),
            "{}",
            bad.cause
        );
    }

    #[test]
    fn paths_select_put_and_refuse_what_is_not_there() {
        let input = json!({"a": {"b": [10, {"c": "x"}]}, "odd key": 1});
        let context = json!({"Task": {"Token": "t"}});
        let get = |p: &str| JsonPath::parse(p).unwrap().get(&input, &context).cloned();
        assert_eq!(get("$.a.b[1].c"), Some(json!("x")));
        assert_eq!(get("$['odd key']"), Some(json!(1)));
        assert_eq!(get("$$.Task.Token"), Some(json!("t")));
        assert_eq!(get("$.a.missing"), None);
        let err = JsonPath::parse("$.a.missing")
            .unwrap()
            .select(&input, &context)
            .unwrap_err();
        assert_eq!(err.error, RUNTIME);
        assert!(err.cause.contains("$.a.missing"), "{}", err.cause);
        for bad in [
            "a.b",
            "$..a",
            "$.a[*]",
            "$.a[?(@.b)]",
            "$.a[1:2]",
            "$.",
            "$.a[",
        ] {
            assert!(JsonPath::parse(bad).is_err(), "{bad}");
        }

        let mut target = json!({"keep": 1});
        JsonPath::parse("$.x.y")
            .unwrap()
            .put(&mut target, json!(2))
            .unwrap();
        assert_eq!(target, json!({"keep": 1, "x": {"y": 2}}));
        let err = JsonPath::parse("$.keep.y")
            .unwrap()
            .put(&mut target, json!(3))
            .unwrap_err();
        assert_eq!(err.error, "States.ResultPathMatchFailure");

        let raw = json!({"a": 1});
        assert_eq!(
            apply_result_path(&ResultPath::Whole, &raw, json!(2)).unwrap(),
            json!(2)
        );
        assert_eq!(
            apply_result_path(&ResultPath::Discard, &raw, json!(2)).unwrap(),
            raw
        );
        assert_eq!(
            apply_path(&PathField::Empty, &raw, &context).unwrap(),
            json!({})
        );
    }
}

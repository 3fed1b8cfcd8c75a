//! The Step Functions API on the wire: AWS JSON 1.0, `POST /` with
//! `X-Amz-Target: AWSStepFunctions.<Operation>` and a JSON body; answers
//! `application/x-amz-json-1.0`, errors `400 {"__type": "...", "message": "..."}` (the type
//! also in `x-amzn-ErrorType`), as the SDKs expect them. Shapes follow the AWS API reference.

use std::sync::Arc;

use bytes::Bytes;
use http::header::{CONTENT_TYPE, HeaderName, HeaderValue};
use http::{Response, StatusCode};
use http_body_util::Full;
use serde_json::{Map, Value, json};

use super::engine::{ApiError, ExecutionRecord, StepFunctions};
use super::time::epoch_seconds;
use super::{ACCOUNT, REGION};
use crate::local::services::Invoker;

/// The largest request body read (Step Functions' own limits are lower: 256 KiB of input).
pub const BODY_LIMIT: usize = 1_048_576;

/// Input and output limits: 256 KiB.
const PAYLOAD_LIMIT: usize = 262_144;

const JSON_1_0: &str = "application/x-amz-json-1.0";

/// Answers operation `operation` (the part of `X-Amz-Target` after `AWSStepFunctions.`).
pub async fn handle<I: Invoker>(
    engine: &Arc<StepFunctions<I>>,
    operation: &str,
    body: &[u8],
) -> Response<Full<Bytes>> {
    let request = if body.iter().all(u8::is_ascii_whitespace) {
        Ok(Map::new())
    } else {
        match serde_json::from_slice::<Value>(body) {
            Ok(Value::Object(fields)) => Ok(fields),
            Ok(_) | Err(_) => Err(ApiError::new(
                "SerializationException",
                "the request body is not a JSON object",
            )),
        }
    };
    let result = match request {
        Ok(request) => dispatch(engine, operation, &Request(request)).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(value) => reply(StatusCode::OK, &value, None),
        Err(e) => {
            let status = if e.kind == "InternalError" {
                StatusCode::INTERNAL_SERVER_ERROR
            } else {
                StatusCode::BAD_REQUEST
            };
            reply(
                status,
                &json!({"__type": e.kind, "message": e.message}),
                Some(e.kind),
            )
        }
    }
}

/// The answer to a body over [`BODY_LIMIT`] (or one that could not be read).
pub fn too_large() -> Response<Full<Bytes>> {
    reply(
        StatusCode::PAYLOAD_TOO_LARGE,
        &json!({"__type": "ValidationException", "message": format!("the request body is over {BODY_LIMIT} bytes or could not be read")}),
        Some("ValidationException"),
    )
}

fn reply(status: StatusCode, body: &Value, error: Option<&str>) -> Response<Full<Bytes>> {
    let mut reply = Response::new(Full::new(Bytes::from(body.to_string())));
    *reply.status_mut() = status;
    let headers = reply.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(JSON_1_0));
    if let Some(kind) = error.and_then(|k| HeaderValue::from_str(k).ok()) {
        headers.insert(HeaderName::from_static("x-amzn-errortype"), kind);
    }
    reply
}

/// A request's members.
struct Request(Map<String, Value>);

impl Request {
    /// An optional string member.
    fn string(&self, name: &str) -> Result<Option<&str>, ApiError> {
        match self.0.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(ApiError::new(
                "SerializationException",
                format!("`{name}` must be a string"),
            )),
        }
    }

    /// A required string member.
    fn required(&self, name: &str) -> Result<&str, ApiError> {
        self.string(name)?.ok_or_else(|| {
            ApiError::new(
                "ValidationException",
                format!(
                    "1 validation error detected: Value null at '{name}' failed to satisfy constraint: Member must not be null"
                ),
            )
        })
    }

    /// A string member of at most `max` characters.
    fn bounded(&self, name: &str, min: usize, max: usize) -> Result<Option<&str>, ApiError> {
        let value = self.string(name)?;
        if let Some(v) = value {
            let len = v.chars().count();
            if len < min || len > max {
                return Err(ApiError::new(
                    "ValidationException",
                    format!(
                        "1 validation error detected: Value at '{name}' failed to satisfy constraint: Member must have length between {min} and {max}"
                    ),
                ));
            }
        }
        Ok(value)
    }

    fn max_results(&self) -> Result<usize, ApiError> {
        match self.0.get("maxResults") {
            None | Some(Value::Null) => Ok(100),
            Some(v) => match v.as_u64() {
                Some(0) => Ok(100),
                Some(n) if n <= 1000 => Ok(n as usize),
                _ => Err(ApiError::new(
                    "ValidationException",
                    "1 validation error detected: Value at 'maxResults' failed to satisfy constraint: Member must have value less than or equal to 1000",
                )),
            },
        }
    }

    fn next_token(&self) -> Result<usize, ApiError> {
        match self.string("nextToken")? {
            None => Ok(0),
            Some(t) => t.parse().map_err(|_| {
                ApiError::new(
                    "InvalidToken",
                    "Invalid Token: 'the nextToken is not valid'",
                )
            }),
        }
    }
}

/// A page of `items` and the `nextToken` member when more follow.
fn page<T>(items: Vec<T>, request: &Request) -> Result<(Vec<T>, Option<Value>), ApiError> {
    let start = request.next_token()?;
    let size = request.max_results()?;
    let total = items.len();
    let page: Vec<T> = items.into_iter().skip(start).take(size).collect();
    let next = (start + size < total).then(|| json!((start + size).to_string()));
    Ok((page, next))
}

/// Checks `arn` is a Step Functions ARN of `kind` (`activity`, `stateMachine`, `execution`).
fn check_arn<'a>(arn: &'a str, kind: &str) -> Result<&'a str, ApiError> {
    let parts: Vec<&str> = arn.splitn(7, ':').collect();
    let ok = match parts[..] {
        ["arn", _, "states", region, account, k, name] => {
            k == kind && !region.is_empty() && !account.is_empty() && !name.is_empty()
        }
        _ => false,
    };
    if ok {
        Ok(arn)
    } else {
        Err(ApiError::new(
            "InvalidArn",
            format!("Invalid Arn: 'Resource type not valid in this context: {arn}'"),
        ))
    }
}

/// Names of activities, state machines and executions: 1 to 80 characters, none of AWS's
/// forbidden ones.
fn check_name(name: &str) -> Result<&str, ApiError> {
    let forbidden =
        |c: char| c.is_whitespace() || c.is_control() || "<>{}[]?*\"#%\\^|~`$&,;:/".contains(c);
    if name.is_empty() || name.chars().count() > 80 || name.chars().any(forbidden) {
        return Err(ApiError::new(
            "InvalidName",
            format!("Invalid Name: '{name}'"),
        ));
    }
    Ok(name)
}

fn check_payload(value: &str, member: &str) -> Result<(), ApiError> {
    if value.len() > PAYLOAD_LIMIT {
        return Err(ApiError::new(
            "ValidationException",
            format!(
                "1 validation error detected: Value at '{member}' failed to satisfy constraint: Member must have length less than or equal to {PAYLOAD_LIMIT}"
            ),
        ));
    }
    Ok(())
}

fn check_token(request: &Request) -> Result<&str, ApiError> {
    let token = request.required("taskToken")?;
    request.bounded("taskToken", 1, 2048)?;
    Ok(token)
}

fn execution_summary(e: &ExecutionRecord) -> Value {
    let mut out = json!({
        "executionArn": e.arn,
        "stateMachineArn": e.state_machine_arn,
        "name": e.name,
        "status": e.status,
        "startDate": epoch_seconds(e.start_ms),
    });
    if let Some(stop) = e.stop_ms {
        out["stopDate"] = epoch_seconds(stop);
    }
    out
}

async fn dispatch<I: Invoker>(
    engine: &Arc<StepFunctions<I>>,
    operation: &str,
    request: &Request,
) -> Result<Value, ApiError> {
    match operation {
        "CreateActivity" => {
            let name = check_name(request.required("name")?)?;
            let (arn, created) = engine.create_activity(name)?;
            Ok(json!({"activityArn": arn, "creationDate": epoch_seconds(created)}))
        }
        "DescribeActivity" => {
            let arn = check_arn(request.required("activityArn")?, "activity")?;
            let (name, created) = engine.activity(arn)?;
            Ok(json!({"activityArn": arn, "name": name, "creationDate": epoch_seconds(created)}))
        }
        "DeleteActivity" => {
            let arn = check_arn(request.required("activityArn")?, "activity")?;
            engine.delete_activity(arn)?;
            Ok(json!({}))
        }
        "ListActivities" => {
            let (items, next) = page(engine.activities()?, request)?;
            let activities: Vec<Value> = items
                .into_iter()
                .map(|(arn, name, created)| {
                    json!({"activityArn": arn, "name": name, "creationDate": epoch_seconds(created)})
                })
                .collect();
            let mut out = json!({ "activities": activities });
            if let Some(next) = next {
                out["nextToken"] = next;
            }
            Ok(out)
        }
        "CreateStateMachine" => {
            let name = check_name(request.required("name")?)?;
            let definition = request.required("definition")?;
            request.bounded("definition", 1, 1_048_576)?;
            let role = request.required("roleArn")?;
            if !role.starts_with("arn:") {
                return Err(ApiError::new(
                    "InvalidArn",
                    format!("Invalid Arn: '{role}'"),
                ));
            }
            match request.string("type")? {
                None | Some("STANDARD") => {}
                Some("EXPRESS") => {
                    return Err(ApiError::new(
                        "ValidationException",
                        "portico local runs STANDARD state machines only",
                    ));
                }
                Some(other) => {
                    return Err(ApiError::new(
                        "ValidationException",
                        format!(
                            "1 validation error detected: Value '{other}' at 'type' failed to satisfy constraint: Member must satisfy enum value set: [STANDARD, EXPRESS]"
                        ),
                    ));
                }
            }
            let (arn, created) = engine.create_state_machine(name, definition, role, false)?;
            Ok(json!({"stateMachineArn": arn, "creationDate": epoch_seconds(created)}))
        }
        "DescribeStateMachine" => {
            let arn = check_arn(request.required("stateMachineArn")?, "stateMachine")?;
            let m = engine.state_machine(arn)?;
            Ok(json!({
                "stateMachineArn": m.arn,
                "name": m.name,
                "status": "ACTIVE",
                "definition": m.definition,
                "roleArn": m.role_arn,
                "type": "STANDARD",
                "creationDate": epoch_seconds(m.created_ms),
                "loggingConfiguration": {"level": "OFF", "includeExecutionData": false},
                "tracingConfiguration": {"enabled": false},
            }))
        }
        "DeleteStateMachine" => {
            let arn = check_arn(request.required("stateMachineArn")?, "stateMachine")?;
            engine.delete_state_machine(arn)?;
            Ok(json!({}))
        }
        "ListStateMachines" => {
            let (items, next) = page(engine.state_machines()?, request)?;
            let machines: Vec<Value> = items
                .into_iter()
                .map(|m| {
                    json!({"stateMachineArn": m.arn, "name": m.name, "type": "STANDARD", "creationDate": epoch_seconds(m.created_ms)})
                })
                .collect();
            let mut out = json!({ "stateMachines": machines });
            if let Some(next) = next {
                out["nextToken"] = next;
            }
            Ok(out)
        }
        "StartExecution" => {
            let machine = check_arn(request.required("stateMachineArn")?, "stateMachine")?;
            let name = match request.string("name")? {
                Some(name) => check_name(name)?.to_owned(),
                None => super::random_uuid(),
            };
            let input = request.string("input")?.unwrap_or("{}");
            check_payload(input, "input")?;
            let (arn, start) = engine.start_execution(machine, &name, input)?;
            Ok(json!({"executionArn": arn, "startDate": epoch_seconds(start)}))
        }
        "DescribeExecution" => {
            let arn = check_arn(request.required("executionArn")?, "execution")?;
            let e = engine.execution(arn)?;
            let mut out = execution_summary(&e);
            out["input"] = json!(e.input);
            out["inputDetails"] = json!({"included": true});
            if let Some(output) = &e.output {
                out["output"] = json!(output);
                out["outputDetails"] = json!({"included": true});
            }
            if let Some(error) = &e.error {
                out["error"] = json!(error);
            }
            if let Some(cause) = &e.cause {
                out["cause"] = json!(cause);
            }
            Ok(out)
        }
        "ListExecutions" => {
            let machine = check_arn(request.required("stateMachineArn")?, "stateMachine")?;
            engine.state_machine(machine)?;
            let status = request.string("statusFilter")?;
            if let Some(s) = status
                && ![
                    "RUNNING",
                    "SUCCEEDED",
                    "FAILED",
                    "TIMED_OUT",
                    "ABORTED",
                    "PENDING_REDRIVE",
                ]
                .contains(&s)
            {
                return Err(ApiError::new(
                    "ValidationException",
                    format!(
                        "1 validation error detected: Value '{s}' at 'statusFilter' failed to satisfy constraint: Member must satisfy enum value set: [RUNNING, SUCCEEDED, FAILED, TIMED_OUT, ABORTED, PENDING_REDRIVE]"
                    ),
                ));
            }
            let (items, next) = page(engine.executions(machine, status)?, request)?;
            let executions: Vec<Value> = items.iter().map(execution_summary).collect();
            let mut out = json!({ "executions": executions });
            if let Some(next) = next {
                out["nextToken"] = next;
            }
            Ok(out)
        }
        "StopExecution" => {
            let arn = check_arn(request.required("executionArn")?, "execution")?;
            let error = request.bounded("error", 0, 256)?;
            let cause = request.bounded("cause", 0, 32_768)?;
            let stop = engine.stop_execution(arn, error, cause)?;
            Ok(json!({ "stopDate": epoch_seconds(stop) }))
        }
        "GetExecutionHistory" => {
            let arn = check_arn(request.required("executionArn")?, "execution")?;
            let mut events = engine.history(arn)?;
            if request.0.get("reverseOrder") == Some(&Value::Bool(true)) {
                events.reverse();
            }
            let include_data = request.0.get("includeExecutionData") != Some(&Value::Bool(false));
            let (items, next) = page(events, request)?;
            let events: Vec<Value> = items
                .into_iter()
                .map(|e| {
                    let mut out = json!({
                        "timestamp": epoch_seconds(e.timestamp_ms),
                        "type": e.kind,
                        "id": e.id,
                        "previousEventId": e.previous_event_id,
                    });
                    if let Some((key, mut details)) = e.details {
                        if !include_data && let Some(d) = details.as_object_mut() {
                            for field in ["input", "output", "parameters"] {
                                d.remove(field);
                            }
                        }
                        out[key] = details;
                    }
                    out
                })
                .collect();
            let mut out = json!({ "events": events });
            if let Some(next) = next {
                out["nextToken"] = next;
            }
            Ok(out)
        }
        "GetActivityTask" => {
            let arn = check_arn(request.required("activityArn")?, "activity")?;
            let worker = request.bounded("workerName", 1, 80)?;
            match engine.get_activity_task(arn, worker).await? {
                Some(task) => Ok(json!({"taskToken": task.token, "input": task.input})),
                None => Ok(json!({})),
            }
        }
        "SendTaskSuccess" => {
            let token = check_token(request)?;
            let output = request.required("output")?;
            check_payload(output, "output")?;
            engine.send_task_success(token, output)?;
            Ok(json!({}))
        }
        "SendTaskFailure" => {
            let token = check_token(request)?;
            let error = request.bounded("error", 0, 256)?;
            let cause = request.bounded("cause", 0, 32_768)?;
            engine.send_task_failure(token, error, cause)?;
            Ok(json!({}))
        }
        "SendTaskHeartbeat" => {
            let token = check_token(request)?;
            engine.send_task_heartbeat(token)?;
            Ok(json!({}))
        }
        other => Err(ApiError::new(
            "UnknownOperationException",
            format!(
                "portico local's Step Functions does not implement `{other}` (region {REGION}, account {ACCOUNT}); see docs/local.md"
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::local::services::Services;
    use crate::local::services::tests::StubHost;
    use crate::local::sfn::time::SystemClock;
    use crate::local::store::Store;
    use http::Request;
    use http_body_util::BodyExt;
    use std::time::Duration;

    fn services() -> Services<StubHost> {
        let host = Arc::new(StubHost::default());
        let mut engine = StepFunctions::new(
            Arc::new(Store::in_memory()),
            Arc::clone(&host),
            "shop-dev-".to_owned(),
            Arc::new(SystemClock),
            None,
        );
        engine.poll_timeout = Duration::from_millis(200);
        Services::new(host, "shop-dev-".to_owned()).with_step_functions(Arc::new(engine))
    }

    /// `operation` with `body` through the services endpoint: status, `x-amzn-ErrorType`,
    /// JSON body.
    async fn call(
        s: &Services<StubHost>,
        operation: &str,
        body: &str,
    ) -> (u16, Option<String>, Value) {
        let req = Request::builder()
            .method("POST")
            .uri("/")
            .header("X-Amz-Target", format!("AWSStepFunctions.{operation}"))
            .header("Content-Type", JSON_1_0)
            .body(Full::new(Bytes::from(body.to_owned())))
            .unwrap();
        let reply = s.handle(req).await;
        assert_eq!(
            reply
                .headers()
                .get(CONTENT_TYPE)
                .and_then(|v| v.to_str().ok()),
            Some(JSON_1_0)
        );
        let status = reply.status().as_u16();
        let kind = reply
            .headers()
            .get("x-amzn-errortype")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let bytes = reply.into_body().collect().await.unwrap().to_bytes();
        (status, kind, serde_json::from_slice(&bytes).unwrap())
    }

    #[tokio::test]
    async fn malformed_requests_get_aws_shaped_errors() {
        let s = services();
        let cases = [
            ("CreateActivity", "not json", "SerializationException"),
            ("CreateActivity", "[1]", "SerializationException"),
            ("CreateActivity", "{}", "ValidationException"),
            ("CreateActivity", r#"{"name": 5}"#, "SerializationException"),
            ("CreateActivity", r#"{"name": "has space"}"#, "InvalidName"),
            (
                "DescribeExecution",
                r#"{"executionArn": "arn:aws:sqs:us-east-1:0:q"}"#,
                "InvalidArn",
            ),
            (
                "DescribeExecution",
                r#"{"executionArn": "arn:aws:states:us-east-1:000000000000:execution:m:e"}"#,
                "ExecutionDoesNotExist",
            ),
            (
                "SendTaskSuccess",
                r#"{"output": "{}"}"#,
                "ValidationException",
            ),
            (
                "SendTaskSuccess",
                r#"{"taskToken": "x", "output": "{}"}"#,
                "InvalidToken",
            ),
            (
                "SendTaskHeartbeat",
                &format!(r#"{{"taskToken": "{}"}}"#, "t".repeat(2049)),
                "ValidationException",
            ),
            (
                "ListExecutions",
                r#"{"stateMachineArn": "arn:aws:states:us-east-1:000000000000:stateMachine:none"}"#,
                "StateMachineDoesNotExist",
            ),
            (
                "ListStateMachines",
                r#"{"maxResults": 5000}"#,
                "ValidationException",
            ),
            (
                "CreateStateMachine",
                r#"{"name": "m", "roleArn": "arn:aws:iam::0:role/r", "definition": "{\"StartAt\": \"A\"}"}"#,
                "InvalidDefinition",
            ),
            (
                "CreateStateMachine",
                r#"{"name": "m", "roleArn": "arn:aws:iam::0:role/r", "type": "EXPRESS", "definition": "{}"}"#,
                "ValidationException",
            ),
            ("StartSyncExecution", "{}", "UnknownOperationException"),
        ];
        for (operation, body, wanted) in cases {
            let (status, kind, json) = call(&s, operation, body).await;
            assert_eq!(
                (status, kind.as_deref()),
                (400, Some(wanted)),
                "{operation} {body}: {json}"
            );
            assert_eq!(json["__type"], wanted, "{json}");
            assert!(
                json["message"].as_str().is_some_and(|m| !m.is_empty()),
                "{json}"
            );
        }
    }

    #[tokio::test]
    async fn operations_answer_in_the_api_reference_shapes() {
        let s = services();
        let (status, _, created) =
            call(&s, "CreateActivity", r#"{"name": "shop-dev-Approve"}"#).await;
        assert_eq!(status, 200);
        let activity = created["activityArn"].as_str().unwrap().to_owned();
        assert_eq!(
            activity,
            "arn:aws:states:us-east-1:000000000000:activity:shop-dev-Approve"
        );
        assert!(created["creationDate"].is_f64(), "{created}");
        // Nothing scheduled: the long poll ends with no token.
        let (status, _, empty) = call(
            &s,
            "GetActivityTask",
            &json!({"activityArn": activity}).to_string(),
        )
        .await;
        assert_eq!((status, empty), (200, json!({})));

        let definition = json!({"StartAt": "Ask", "States": {"Ask": {"Type": "Task", "Resource": activity, "End": true}}});
        let (_, _, machine) = call(
            &s,
            "CreateStateMachine",
            &json!({"name": "shop-dev-M", "roleArn": "arn:aws:iam::000000000000:role/r", "definition": definition.to_string()}).to_string(),
        )
        .await;
        let machine = machine["stateMachineArn"].as_str().unwrap().to_owned();
        let (_, _, described) = call(
            &s,
            "DescribeStateMachine",
            &json!({"stateMachineArn": machine}).to_string(),
        )
        .await;
        assert_eq!(
            (
                described["name"].as_str(),
                described["status"].as_str(),
                described["type"].as_str()
            ),
            (Some("shop-dev-M"), Some("ACTIVE"), Some("STANDARD"))
        );
        let (_, _, started) = call(
            &s,
            "StartExecution",
            &json!({"stateMachineArn": machine, "name": "e1", "input": "{\"a\":1}"}).to_string(),
        )
        .await;
        let execution = started["executionArn"].as_str().unwrap().to_owned();
        assert_eq!(
            execution,
            "arn:aws:states:us-east-1:000000000000:execution:shop-dev-M:e1"
        );
        let (_, _, task) = call(
            &s,
            "GetActivityTask",
            &json!({"activityArn": activity, "workerName": "w"}).to_string(),
        )
        .await;
        assert_eq!(task["input"], "{\"a\":1}");
        let token = task["taskToken"].as_str().unwrap();
        let (status, _, answer) = call(
            &s,
            "SendTaskSuccess",
            &json!({"taskToken": token, "output": "{\"ok\":true}"}).to_string(),
        )
        .await;
        assert_eq!((status, answer), (200, json!({})));
        let mut described = json!({});
        for _ in 0..2000 {
            described = call(
                &s,
                "DescribeExecution",
                &json!({"executionArn": execution}).to_string(),
            )
            .await
            .2;
            if described["status"] == "SUCCEEDED" {
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        assert_eq!(described["status"], "SUCCEEDED", "{described}");
        assert_eq!(described["output"], "{\"ok\":true}");
        assert!(described["stopDate"].is_f64(), "{described}");

        let (_, _, page) = call(
            &s,
            "GetExecutionHistory",
            &json!({"executionArn": execution, "maxResults": 2, "reverseOrder": true}).to_string(),
        )
        .await;
        assert_eq!(page["events"][0]["type"], "ExecutionSucceeded");
        assert_eq!(
            page["events"][0]["executionSucceededEventDetails"]["output"],
            "{\"ok\":true}"
        );
        assert_eq!(page["events"].as_array().map(Vec::len), Some(2));
        let (_, _, next) = call(
            &s,
            "GetExecutionHistory",
            &json!({"executionArn": execution, "maxResults": 2, "reverseOrder": true, "nextToken": page["nextToken"]}).to_string(),
        )
        .await;
        assert_eq!(next["events"][0]["type"], "ActivitySucceeded");
        let (_, _, listed) = call(
            &s,
            "ListExecutions",
            &json!({"stateMachineArn": machine, "statusFilter": "SUCCEEDED"}).to_string(),
        )
        .await;
        assert_eq!(listed["executions"][0]["executionArn"], execution.as_str());
    }
}

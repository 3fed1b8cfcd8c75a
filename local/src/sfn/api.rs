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

use crate::clock::epoch_seconds;
use crate::invoker::Invoker;
use crate::invoker::{ACCOUNT, REGION};
use crate::sfn::engine::{ApiError, ExecutionRecord, StateMachineRecord, StepFunctions};

/// The largest request body read (Step Functions' own limits are lower: 256 KiB of input).
pub const BODY_LIMIT: usize = 1_048_576;

/// Input and output limits: 256 KiB.
const PAYLOAD_LIMIT: usize = 262_144;

pub(crate) const JSON_1_0: &str = "application/x-amz-json-1.0";

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

/// A page of `items` as the list response member `key` (each item as `item` writes it), with
/// `nextToken` when more follow.
fn page<T>(
    items: Vec<T>,
    request: &Request,
    key: &str,
    item: impl FnMut(T) -> Value,
) -> Result<Value, ApiError> {
    let start = request.next_token()?;
    let size = request.max_results()?;
    let total = items.len();
    let page: Vec<Value> = items.into_iter().skip(start).take(size).map(item).collect();
    let mut out = json!({ key: page });
    if start + size < total {
        out["nextToken"] = json!((start + size).to_string());
    }
    Ok(out)
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

/// An activity as `ListActivities` and `DescribeActivity` answer it.
fn activity_summary((arn, name, created): (String, String, i64)) -> Value {
    json!({"activityArn": arn, "name": name, "creationDate": epoch_seconds(created)})
}

/// A state machine as `ListStateMachines` lists it.
fn state_machine_summary(m: StateMachineRecord) -> Value {
    json!({"stateMachineArn": m.arn, "name": m.name, "type": "STANDARD", "creationDate": epoch_seconds(m.created_ms)})
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
            Ok(activity_summary((arn.to_owned(), name, created)))
        }
        "DeleteActivity" => {
            let arn = check_arn(request.required("activityArn")?, "activity")?;
            engine.delete_activity(arn)?;
            Ok(json!({}))
        }
        "ListActivities" => page(
            engine.activities()?,
            request,
            "activities",
            activity_summary,
        ),
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
            let machines = engine.state_machines()?;
            page(machines, request, "stateMachines", state_machine_summary)
        }
        "StartExecution" => {
            let machine = check_arn(request.required("stateMachineArn")?, "stateMachine")?;
            let name = match request.string("name")? {
                Some(name) => check_name(name)?.to_owned(),
                None => crate::ids::uuid_v4(),
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
            let executions = engine.executions(machine, status)?;
            page(executions, request, "executions", |e| execution_summary(&e))
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
            page(events, request, "events", |e| {
                let mut out = json!({
                    "timestamp": epoch_seconds(e.timestamp_ms),
                    "type": e.kind,
                    "id": e.id,
                    "previousEventId": e.previous_event_id,
                });
                if let Some((key, mut details)) = e.details {
                    if !include_data && let Some(d) = details.as_object_mut() {
                        for field in ["input", "output", "parameters"] {
                            d.shift_remove(field);
                        }
                    }
                    out[key] = details;
                }
                out
            })
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

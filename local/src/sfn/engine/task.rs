//! `Task` states: activity tasks and Lambda invocations, task tokens, timeouts and heartbeats,
//! `Retry` and `Catch`.

use rusqlite::{Connection, OptionalExtension, params};
use serde_json::{Map, Value, json};

use crate::invoker::Invoker;
use crate::invoker::REGION;
use crate::sfn::asl::{self, Failure, Kind, Resource, State};
use crate::sfn::engine::cursor::{Effect, InvokeJob, Phase};
use crate::sfn::engine::rows::append_event;
use crate::sfn::engine::run::{Exit, Run};
use crate::sfn::engine::service::StepFunctions;

impl Run {
    /// Starts the current `Task` state: schedules the activity task, or the invocation.
    pub(crate) fn start_task<I: Invoker>(
        &mut self,
        tx: &Connection,
        engine: &StepFunctions<I>,
        now: i64,
        state: &State,
        task: &asl::Task,
        effects: &mut Vec<Effect>,
    ) -> rusqlite::Result<Exit> {
        let needs_token = matches!(
            task.resource,
            Resource::Activity(_) | Resource::LambdaInvokeWaitForTaskToken
        );
        let token = needs_token.then(crate::sfn::token::random_token);
        let context = self.context(token.as_deref());
        let raw = self.cursor.input.clone();
        let prepared = asl::apply_path(&state.input_path, &raw, &context).and_then(|effective| {
            let limit =
                |seconds, path, field| limit_seconds(seconds, path, field, &effective, &context);
            let timeout = limit(
                task.timeout_seconds,
                task.timeout_seconds_path.as_ref(),
                "TimeoutSecondsPath",
            )?;
            let heartbeat = limit(
                task.heartbeat_seconds,
                task.heartbeat_seconds_path.as_ref(),
                "HeartbeatSecondsPath",
            )?;
            let parameters = match &task.parameters {
                Some(template) => asl::evaluate_template(template, &effective, &context)?,
                None => effective,
            };
            Ok((parameters, timeout, heartbeat))
        });
        let (parameters, timeout_seconds, heartbeat_seconds) = match prepared {
            Ok(prepared) => prepared,
            Err(failure) => return Ok(Exit::Fail(failure)),
        };
        let seconds = |s: Option<u64>| s.map(|s| i64::try_from(s).unwrap_or(i64::MAX / 2_000));
        let timeout_at = seconds(timeout_seconds).map(|s| now + s * 1000);
        let heartbeat = seconds(heartbeat_seconds);
        let mut limits = Map::new();
        if let Some(t) = timeout_seconds {
            limits.insert("timeoutInSeconds".into(), json!(t));
        }
        if let Some(h) = heartbeat_seconds {
            limits.insert("heartbeatInSeconds".into(), json!(h));
        }
        let with_limits = |mut details: Value| {
            if let Some(object) = details.as_object_mut() {
                object.extend(limits.clone());
            }
            details
        };
        match &task.resource {
            Resource::Activity(activity) => {
                let token = token.unwrap_or_default();
                let exists = tx
                    .query_row(
                        "SELECT 1 FROM sfn_activities WHERE arn = ?1",
                        [activity],
                        |_| Ok(()),
                    )
                    .optional()?
                    .is_some();
                if !exists {
                    let failure = Failure {
                        error: "ActivityDoesNotExist".to_owned(),
                        cause: format!("Activity Does Not Exist: '{activity}'"),
                    };
                    append_event(
                        tx,
                        &self.arn,
                        now,
                        "ActivityScheduleFailed",
                        Some((
                            "activityScheduleFailedEventDetails",
                            json!({"error": failure.error, "cause": failure.cause}),
                        )),
                    )?;
                    return self.complete_task(tx, now, Err(failure));
                }
                tx.execute(
                    // An activity task's clocks start when a worker takes it (`ActivityStarted`),
                    // as on AWS: until then only the machine's own timeout bounds the wait.
                    "INSERT INTO sfn_tasks (token, execution_arn, activity_arn, status, input, created_ms, timeout_seconds, heartbeat_seconds)
                     VALUES (?1, ?2, ?3, 'scheduled', ?4, ?5, ?6, ?7)",
                    params![token, self.arn, activity, parameters.to_string(), now, seconds(timeout_seconds), heartbeat],
                )?;
                append_event(
                    tx,
                    &self.arn,
                    now,
                    "ActivityScheduled",
                    Some((
                        "activityScheduledEventDetails",
                        with_limits(
                            json!({"resource": activity, "input": parameters.to_string(), "inputDetails": {"truncated": false}}),
                        ),
                    )),
                )?;
                effects.push(Effect::ActivityQueued(activity.clone()));
                self.cursor.phase = Phase::Task { token };
                Ok(Exit::Continue)
            }
            Resource::LambdaInvokeWaitForTaskToken => {
                let token = token.unwrap_or_default();
                let resource = "invoke.waitForTaskToken";
                tx.execute(
                    "INSERT INTO sfn_tasks (token, execution_arn, status, input, created_ms, timeout_at_ms, heartbeat_seconds, heartbeat_at_ms)
                     VALUES (?1, ?2, 'started', ?3, ?4, ?5, ?6, ?7)",
                    params![token, self.arn, parameters.to_string(), now, timeout_at, heartbeat, heartbeat.map(|h| now + h * 1000)],
                )?;
                let scheduled = json!({"region": REGION, "parameters": parameters.to_string()});
                self.lambda_task_event(tx, now, "TaskScheduled", resource, with_limits(scheduled))?;
                self.cursor.phase = Phase::Task {
                    token: token.clone(),
                };
                let name = parameters
                    .get("FunctionName")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                match engine.resolve_function(name) {
                    Some(function) => {
                        self.lambda_task_event(tx, now, "TaskStarted", resource, json!({}))?;
                        effects.push(Effect::InvokeForToken {
                            token,
                            function,
                            payload: parameters
                                .get("Payload")
                                .cloned()
                                .unwrap_or_else(|| json!({})),
                            event: parameters.get("InvocationType") == Some(&json!("Event")),
                        });
                    }
                    None => {
                        tx.execute(
                            "UPDATE sfn_tasks SET status = 'failed', error = 'Lambda.ResourceNotFoundException', cause = ?2 WHERE token = ?1",
                            params![token, format!("Function not found: {name}")],
                        )?;
                    }
                }
                Ok(Exit::Continue)
            }
            Resource::LambdaInvoke | Resource::LambdaFunction(_) => {
                let integration = task.resource == Resource::LambdaInvoke;
                let (name, payload) = match &task.resource {
                    Resource::LambdaFunction(arn) => (arn.clone(), parameters.clone()),
                    _ => (
                        parameters
                            .get("FunctionName")
                            .and_then(Value::as_str)
                            .unwrap_or_default()
                            .to_owned(),
                        parameters
                            .get("Payload")
                            .cloned()
                            .unwrap_or_else(|| json!({})),
                    ),
                };
                if integration {
                    let scheduled = json!({"region": REGION, "parameters": parameters.to_string()});
                    self.lambda_task_event(
                        tx,
                        now,
                        "TaskScheduled",
                        "invoke",
                        with_limits(scheduled),
                    )?;
                } else {
                    append_event(
                        tx,
                        &self.arn,
                        now,
                        "LambdaFunctionScheduled",
                        Some((
                            "lambdaFunctionScheduledEventDetails",
                            with_limits(
                                json!({"resource": name, "input": parameters.to_string(), "inputDetails": {"truncated": false}}),
                            ),
                        )),
                    )?;
                }
                let Some(function) = engine.resolve_function(&name) else {
                    let failure = Failure {
                        error: "Lambda.ResourceNotFoundException".to_owned(),
                        cause: format!("Function not found: {name}"),
                    };
                    let details = json!({"error": failure.error, "cause": failure.cause});
                    if integration {
                        self.lambda_task_event(tx, now, "TaskFailed", "invoke", details)?;
                    } else {
                        let key = "lambdaFunctionScheduleFailedEventDetails";
                        let kind = "LambdaFunctionScheduleFailed";
                        append_event(tx, &self.arn, now, kind, Some((key, details)))?;
                    }
                    return self.complete_task(tx, now, Err(failure));
                };
                if integration {
                    self.lambda_task_event(tx, now, "TaskStarted", "invoke", json!({}))?;
                } else {
                    append_event(tx, &self.arn, now, "LambdaFunctionStarted", None)?;
                }
                // `InvocationType: Event` (or `DryRun`): Lambda accepts the call and the task
                // goes on at once with Lambda's answer, `202` (`204`) and an empty payload.
                let invocation_type = parameters.get("InvocationType").and_then(Value::as_str);
                if integration && matches!(invocation_type, Some("Event" | "DryRun")) {
                    let status = if invocation_type == Some("Event") {
                        effects.push(Effect::InvokeAsync {
                            function: function.clone(),
                            payload,
                        });
                        202
                    } else {
                        204
                    };
                    let result = json!({"Payload": "", "StatusCode": status, "SdkHttpMetadata": {"HttpStatusCode": status}});
                    let succeeded = json!({"output": result.to_string(), "outputDetails": {"truncated": false}});
                    self.lambda_task_event(tx, now, "TaskSucceeded", "invoke", succeeded)?;
                    return self.complete_task(tx, now, Ok(result));
                }
                Ok(Exit::Invoke(InvokeJob {
                    attempt: crate::ids::uuid_v4(),
                    function_arn: engine.function_arn(&function),
                    function,
                    payload,
                    deadline_ms: timeout_at,
                    integration,
                    frame: self.frame.clone(),
                }))
            }
        }
    }

    /// Appends a `Task…` event of a `lambda:invoke` integration (`resource`: `invoke` or
    /// `invoke.waitForTaskToken`); its details are `resourceType`, `resource`, then `details`.
    fn lambda_task_event(
        &self,
        tx: &Connection,
        now: i64,
        kind: &str,
        resource: &str,
        details: Value,
    ) -> rusqlite::Result<i64> {
        let mut object = Map::new();
        object.insert("resourceType".into(), json!("lambda"));
        object.insert("resource".into(), json!(resource));
        if let Value::Object(details) = details {
            object.extend(details);
        }
        // `TaskScheduled` → `taskScheduledEventDetails`.
        let key = format!(
            "{}{}EventDetails",
            kind[..1].to_ascii_lowercase(),
            &kind[1..]
        );
        append_event(
            tx,
            &self.arn,
            now,
            kind,
            Some((&key, Value::Object(object))),
        )
    }

    /// Looks at the task row of `token`: done, failed, timed out, or still waiting.
    pub(crate) fn check_task(
        &mut self,
        tx: &Connection,
        now: i64,
        token: &str,
    ) -> rusqlite::Result<Exit> {
        type Row = (
            String,
            Option<String>,
            Option<String>,
            Option<String>,
            Option<i64>,
            Option<i64>,
            Option<String>,
        );
        let row: Option<Row> = tx
            .query_row(
                "SELECT status, result, error, cause, timeout_at_ms, heartbeat_at_ms, activity_arn FROM sfn_tasks WHERE token = ?1",
                [token],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?)),
            )
            .optional()?;
        let Some((status, result, error, cause, timeout_at, heartbeat_at, activity)) = row else {
            return Ok(Exit::Fail(Failure::runtime(
                "the task of the current state is gone",
            )));
        };
        let activity = activity.is_some();
        let resource = "invoke.waitForTaskToken";
        let failed = |kind: &str, failure: &Failure| -> (String, &'static str, Value) {
            if activity {
                (
                    format!("Activity{kind}"),
                    if kind == "Failed" {
                        "activityFailedEventDetails"
                    } else {
                        "activityTimedOutEventDetails"
                    },
                    json!({"error": failure.error, "cause": failure.cause}),
                )
            } else {
                (
                    format!("Task{kind}"),
                    if kind == "Failed" {
                        "taskFailedEventDetails"
                    } else {
                        "taskTimedOutEventDetails"
                    },
                    json!({"resourceType": "lambda", "resource": resource, "error": failure.error, "cause": failure.cause}),
                )
            }
        };
        match status.as_str() {
            "succeeded" => {
                let output = result.unwrap_or_else(|| "null".to_owned());
                let (kind, key, details) = if activity {
                    (
                        "ActivitySucceeded",
                        "activitySucceededEventDetails",
                        json!({"output": output, "outputDetails": {"truncated": false}}),
                    )
                } else {
                    (
                        "TaskSucceeded",
                        "taskSucceededEventDetails",
                        json!({"resourceType": "lambda", "resource": resource, "output": output, "outputDetails": {"truncated": false}}),
                    )
                };
                append_event(tx, &self.arn, now, kind, Some((key, details)))?;
                let value = serde_json::from_str(&output).unwrap_or(Value::Null);
                self.complete_task(tx, now, Ok(value))
            }
            "failed" => {
                let failure = Failure {
                    error: error.unwrap_or_default(),
                    cause: cause.unwrap_or_default(),
                };
                let (kind, key, details) = failed("Failed", &failure);
                append_event(tx, &self.arn, now, &kind, Some((key, details)))?;
                self.complete_task(tx, now, Err(failure))
            }
            "scheduled" | "started" => {
                let expired = |at: Option<i64>| at.is_some_and(|at| now >= at);
                let failure = if expired(timeout_at) {
                    Failure {
                        error: asl::TIMEOUT.to_owned(),
                        cause: "The task ran longer than its TimeoutSeconds.".to_owned(),
                    }
                } else if expired(heartbeat_at) {
                    Failure {
                        error: asl::HEARTBEAT_TIMEOUT.to_owned(),
                        cause: "The task sent no heartbeat within its HeartbeatSeconds.".to_owned(),
                    }
                } else {
                    let next = [timeout_at, heartbeat_at].into_iter().flatten().min();
                    return Ok(Exit::Pending(next));
                };
                tx.execute(
                    "UPDATE sfn_tasks SET status = 'timed_out' WHERE token = ?1",
                    [token],
                )?;
                let (kind, key, details) = failed("TimedOut", &failure);
                append_event(tx, &self.arn, now, &kind, Some((key, details)))?;
                self.complete_task(tx, now, Err(failure))
            }
            _ => Ok(Exit::Fail(Failure::runtime(
                "the task of the current state was closed",
            ))),
        }
    }

    /// The current `Task` state's result is in: output, retry, catch, or failure.
    pub(crate) fn complete_task(
        &mut self,
        _tx: &Connection,
        now: i64,
        result: Result<Value, Failure>,
    ) -> rusqlite::Result<Exit> {
        let Some(state) = self.state().cloned() else {
            return Ok(Exit::Fail(Failure::runtime("unknown state")));
        };
        let Kind::Task(task) = &state.kind else {
            return Ok(Exit::Fail(Failure::runtime("not a Task state")));
        };
        let context = self.context(None);
        let output = result.and_then(|value| {
            let selected = match &task.result_selector {
                Some(selector) => asl::evaluate_template(selector, &value, &context)?,
                None => value,
            };
            // A `ResultPath` that cannot be applied is the state's error
            // (`States.ResultPathMatchFailure`): retriers and catchers see it like a
            // task's own failure. (`States.Runtime` passes both by.)
            let combined = asl::apply_result_path(&task.result_path, &self.cursor.input, selected)?;
            asl::apply_path(&state.output_path, &combined, &context)
        });
        Ok(match output {
            Ok(output) => Exit::Output(output),
            Err(failure) => self.handle_failure(now, &task.retry, &task.catch, failure),
        })
    }

    /// The current state (a `Task`, `Parallel` or `Map`, with these retriers and catchers)
    /// failed with `failure`: a retrier waits, a catcher goes on, or the execution fails.
    pub(crate) fn handle_failure(
        &mut self,
        now: i64,
        retry: &[asl::Retrier],
        catch: &[asl::Catcher],
        failure: Failure,
    ) -> Exit {
        if failure.error == asl::RUNTIME {
            return Exit::Fail(failure);
        }
        if let Some(i) = retry.iter().position(|r| r.handles(&failure.error)) {
            if self.cursor.retries.len() < retry.len() {
                self.cursor.retries.resize(retry.len(), 0);
            }
            let used = self.cursor.retries[i];
            if used < retry[i].max_attempts {
                self.cursor.retries[i] += 1;
                self.cursor.phase = Phase::Backoff {
                    until_ms: now + retry[i].wait_ms(used, crate::ids::u64()),
                };
                return Exit::Continue;
            }
        }
        match catch.iter().find(|c| c.handles(&failure.error)) {
            Some(catcher) => {
                let error = json!({"Error": failure.error, "Cause": failure.cause});
                match asl::apply_result_path(&catcher.result_path, &self.cursor.input, error) {
                    Ok(output) => Exit::Goto {
                        next: catcher.next.clone(),
                        output,
                    },
                    Err(f) => Exit::Fail(f),
                }
            }
            None => Exit::Fail(failure),
        }
    }
}

/// A task's `TimeoutSeconds`/`HeartbeatSeconds`, or the value its `…SecondsPath` selects in
/// the state's input: a positive integer, or the `States.Runtime` failure AWS reports.
fn limit_seconds(
    fixed: Option<u64>,
    path: Option<&asl::JsonPath>,
    field: &str,
    input: &Value,
    context: &Value,
) -> Result<Option<u64>, Failure> {
    let Some(path) = path else {
        return Ok(fixed);
    };
    let value = path.select(input, context)?;
    match value.as_u64() {
        Some(n) if (1..=99_999_999).contains(&n) => Ok(Some(n)),
        _ => Err(Failure::runtime(format!(
            "The {field} parameter does not reference a valid positive integer: {value}"
        ))),
    }
}

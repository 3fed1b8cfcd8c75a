//! Execution drivers: one task per running execution advances it, sleeps until its next
//! deadline or wake-up, and runs the Lambda invocations outside the transaction.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use rusqlite::{OptionalExtension, params};
use serde_json::{Value, json};
use tokio::sync::Notify;

use crate::invoker::Invoker;
use crate::invoker::{ACCOUNT, REGION};
use crate::lambda::{InvocationResult, InvokeOutcome};
use crate::logs::FailureLog;
use crate::sfn::asl::{self, Failure};
use crate::sfn::engine::cursor::{Effect, FAILURE_LOG_EVERY, InvokeJob, Phase, Wake, lock};
use crate::sfn::engine::frames::frame_cursor_mut;
use crate::sfn::engine::rows::append_event;
use crate::sfn::engine::run::{Exit, Run};
use crate::sfn::engine::service::StepFunctions;

impl<I: Invoker> StepFunctions<I> {
    /// Starts a driver for every running execution (after a restart).
    ///
    /// # Errors
    /// On database failure.
    pub fn resume(self: &Arc<Self>) -> rusqlite::Result<usize> {
        let running: Vec<String> = self.store.with_connection(|c| {
            let mut stmt = c.prepare("SELECT arn FROM sfn_executions WHERE status = 'RUNNING'")?;
            stmt.query_map([], |r| r.get(0))?.collect()
        })?;
        for arn in &running {
            self.spawn_driver(arn.clone());
        }
        Ok(running.len())
    }

    fn waker(&self, arn: &str) -> Arc<Notify> {
        Arc::clone(lock(&self.wakers).entry(arn.to_owned()).or_default())
    }

    /// Wakes the driver of `arn`, if it has one (a driver registers its waker before it
    /// first looks at the execution, so nothing it must see is missed).
    pub(crate) fn wake(&self, arn: &str) {
        let waker = lock(&self.wakers).get(arn).cloned();
        if let Some(waker) = waker {
            waker.notify_one();
        }
    }

    pub(crate) fn spawn_driver(self: &Arc<Self>, arn: String) {
        if !lock(&self.drivers).insert(arn.clone()) {
            self.wake(&arn);
            return;
        }
        self.waker(&arn);
        let this = Arc::clone(self);
        tokio::spawn(async move {
            this.drive(&arn).await;
            lock(&this.drivers).remove(&arn);
            lock(&this.wakers).remove(&arn);
        });
    }

    async fn drive(self: &Arc<Self>, arn: &str) {
        let notify = self.waker(arn);
        let mut failures = FailureLog::new(FAILURE_LOG_EVERY);
        let mut retry = Duration::from_secs(1);
        loop {
            let notified = notify.notified();
            let wake = match self.advance(arn) {
                Ok(wake) => {
                    if let Some(line) = failures.succeeded() {
                        self.log(&format!("states: execution {arn}: {line}"));
                    }
                    retry = Duration::from_secs(1);
                    wake
                }
                Err(e) => {
                    let message =
                        format!("states: execution {arn}: the state database failed: {e}");
                    if let Some(line) = failures.failed(Instant::now(), &message) {
                        self.log(&line);
                    }
                    // Retries slow down to one per half minute while the failure lasts.
                    tokio::time::sleep(retry).await;
                    retry = (retry * 2).min(FAILURE_LOG_EVERY);
                    continue;
                }
            };
            match wake {
                Wake::Done => return,
                Wake::Sleep(until) => {
                    let sleep = match until {
                        Some(at) => {
                            Duration::from_millis(u64::try_from(at - self.now()).unwrap_or(0))
                        }
                        None => Duration::from_secs(3600),
                    };
                    tokio::select! {
                        () = notified => {}
                        () = tokio::time::sleep(sleep) => {}
                    }
                }
                Wake::Invoke(job) => {
                    let outcome = self.invoke(&job).await;
                    if let Err(e) = self.finish_invoke(arn, &job, outcome) {
                        self.log(&format!(
                            "states: execution {arn}: the state database failed: {e}"
                        ));
                    }
                }
            }
        }
    }

    /// Runs `job`; `None` when its deadline passed first.
    async fn invoke(&self, job: &InvokeJob) -> Option<InvocationResult> {
        let payload = Bytes::from(job.payload.to_string());
        let call = self.invoker.invoke(&job.function, payload);
        match job.deadline_ms {
            Some(at) => {
                let left = Duration::from_millis(u64::try_from(at - self.now()).unwrap_or(0));
                tokio::time::timeout(left, call).await.ok()
            }
            None => Some(call.await),
        }
    }

    /// Advances execution `arn` as far as it goes now; what the driver does next.
    fn advance(self: &Arc<Self>, arn: &str) -> rusqlite::Result<Wake> {
        let now = self.now();
        let (wake, effects) = self.store.with_connection(|c| {
            let tx = c.transaction()?;
            let mut effects = Vec::new();
            let wake = match Run::load(&tx, arn)? {
                Some(mut run) => run.advance(&tx, self, now, &mut effects)?,
                None => Wake::Done,
            };
            tx.commit()?;
            Ok((wake, effects))
        })?;
        self.apply(effects);
        Ok(wake)
    }

    fn apply(self: &Arc<Self>, effects: Vec<Effect>) {
        for effect in effects {
            match effect {
                Effect::ActivityQueued(activity) => {
                    let signal = lock(&self.activity_signals).get(&activity).cloned();
                    if let Some(signal) = signal {
                        signal.notify_waiters();
                    }
                }
                Effect::Log(line) => self.log(&line),
                Effect::InvokeAsync { function, payload } => {
                    let invoker = Arc::clone(&self.invoker);
                    tokio::spawn(async move {
                        let _ = invoker
                            .invoke(&function, Bytes::from(payload.to_string()))
                            .await;
                    });
                }
                Effect::InvokeForToken {
                    token,
                    function,
                    payload,
                    event,
                } => {
                    let this = Arc::clone(self);
                    tokio::spawn(async move {
                        let result = this
                            .invoker
                            .invoke(&function, Bytes::from(payload.to_string()))
                            .await;
                        // The function answered: it has the token. A failure to run fails
                        // the task, as the synchronous invocation AWS makes would.
                        let failure = match result.outcome {
                            InvokeOutcome::Response(_) => None,
                            _ if event => None,
                            other => invoke_failure(other, &function),
                        };
                        if let Some(failure) = failure {
                            let execution = this.store.with_connection(|c| {
                                let execution: Option<String> = c
                                    .query_row(
                                        "UPDATE sfn_tasks SET status = 'failed', error = ?2, cause = ?3
                                         WHERE token = ?1 AND status IN ('scheduled', 'started')
                                         RETURNING execution_arn",
                                        params![token, failure.error, failure.cause],
                                        |r| r.get(0),
                                    )
                                    .optional()?;
                                Ok(execution)
                            });
                            if let Ok(Some(execution)) = execution {
                                this.wake(&execution);
                            }
                        }
                    });
                }
            }
        }
    }

    /// Records the outcome of a synchronous invocation and goes on.
    fn finish_invoke(
        self: &Arc<Self>,
        arn: &str,
        job: &InvokeJob,
        outcome: Option<InvocationResult>,
    ) -> rusqlite::Result<()> {
        let now = self.now();
        let effects = self.store.with_connection(|c| {
            let tx = c.transaction()?;
            let mut effects = Vec::new();
            if let Some(mut run) = Run::load(&tx, arn)?
                && frame_cursor_mut(&mut run.cursor, &job.frame).is_some_and(
                    |c| matches!(&c.phase, Phase::Invoke(current) if current.attempt == job.attempt),
                )
            {
                let (resource_type, resource) = ("lambda", "invoke");
                let result = match outcome {
                    None => Err(Failure {
                        error: asl::TIMEOUT.to_owned(),
                        cause: "The task timed out (TimeoutSeconds).".to_owned(),
                    }),
                    Some(InvocationResult {
                        outcome: InvokeOutcome::Response(payload),
                        request_id,
                        ..
                    }) => {
                        let payload: Value = serde_json::from_slice(&payload).unwrap_or_else(|_| {
                            Value::String(String::from_utf8_lossy(&payload).into_owned())
                        });
                        Ok(if job.integration {
                            json!({
                                "ExecutedVersion": "$LATEST",
                                "Payload": payload,
                                "SdkHttpMetadata": {
                                    "HttpHeaders": {
                                        "Content-Type": "application/json",
                                        "X-Amz-Executed-Version": "$LATEST",
                                        "x-amzn-RequestId": request_id,
                                    },
                                    "HttpStatusCode": 200,
                                },
                                "SdkResponseMetadata": {"RequestId": request_id},
                                "StatusCode": 200,
                            })
                        } else {
                            payload
                        })
                    }
                    Some(other) => Err(invoke_failure(other.outcome, &job.function)
                        .unwrap_or_else(|| Failure::runtime("the invocation ended without a result"))),
                };
                let timed_out = matches!(&result, Err(f) if f.error == asl::TIMEOUT);
                let (kind, key, details) = match (&result, job.integration) {
                    (Ok(output), true) => (
                        "TaskSucceeded",
                        "taskSucceededEventDetails",
                        json!({"resourceType": resource_type, "resource": resource, "output": output.to_string(), "outputDetails": {"truncated": false}}),
                    ),
                    (Ok(output), false) => (
                        "LambdaFunctionSucceeded",
                        "lambdaFunctionSucceededEventDetails",
                        json!({"output": output.to_string(), "outputDetails": {"truncated": false}}),
                    ),
                    (Err(f), true) => (
                        if timed_out { "TaskTimedOut" } else { "TaskFailed" },
                        if timed_out { "taskTimedOutEventDetails" } else { "taskFailedEventDetails" },
                        json!({"resourceType": resource_type, "resource": resource, "error": f.error, "cause": f.cause}),
                    ),
                    (Err(f), false) => (
                        if timed_out { "LambdaFunctionTimedOut" } else { "LambdaFunctionFailed" },
                        if timed_out { "lambdaFunctionTimedOutEventDetails" } else { "lambdaFunctionFailedEventDetails" },
                        json!({"error": f.error, "cause": f.cause}),
                    ),
                };
                append_event(&tx, arn, now, kind, Some((key, details)))?;
                if let Some(cursor) = frame_cursor_mut(&mut run.cursor, &job.frame)
                    && !job.frame.is_empty()
                {
                    // A frame's task: its state completes when the driver next advances it.
                    let (output, failure) = match result {
                        Ok(output) => (Some(output), None),
                        Err(f) => (None, Some((f.error, f.cause))),
                    };
                    cursor.phase = Phase::Invoked { output, failure };
                    run.save(&tx)?;
                } else {
                match run.complete_task(&tx, now, result)? {
                    Exit::Continue => run.save(&tx)?,
                    exit => run.exit(&tx, now, exit, &mut effects)?,
                }
                }
            }
            tx.commit()?;
            Ok(effects)
        })?;
        self.apply(effects);
        self.wake(arn);
        Ok(())
    }

    /// The entry point a `FunctionName` (name, full name, ARN, with `:$LATEST`) refers to.
    pub(crate) fn resolve_function(&self, raw: &str) -> Option<String> {
        let name = raw.rsplit_once("function:").map_or(raw, |(_, name)| name);
        let name = match name.split_once(':') {
            Some((name, "$LATEST")) => name,
            Some(_) => return None,
            None => name,
        };
        let known = self.invoker.function_names();
        [Some(name), name.strip_prefix(&self.function_prefix)]
            .into_iter()
            .flatten()
            .find(|n| known.iter().any(|k| k == n))
            .map(str::to_owned)
    }

    pub(crate) fn function_arn(&self, entry: &str) -> String {
        format!(
            "arn:aws:lambda:{REGION}:{ACCOUNT}:function:{}{entry}",
            self.function_prefix
        )
    }
}

/// Error and cause of a failed invocation, as Step Functions reports them.
fn invoke_failure(outcome: InvokeOutcome, function: &str) -> Option<Failure> {
    let cause = |error_type: &str, message: &str| {
        json!({"errorMessage": message, "errorType": error_type, "trace": []}).to_string()
    };
    Some(match outcome {
        InvokeOutcome::Response(_) => return None,
        InvokeOutcome::FunctionError {
            error_type,
            error_message,
        } => Failure {
            cause: cause(&error_type, &error_message),
            error: error_type,
        },
        InvokeOutcome::Timeout => Failure {
            error: "Sandbox.Timedout".to_owned(),
            cause: cause("Sandbox.Timedout", "Task timed out"),
        },
        InvokeOutcome::Crashed { detail } => Failure {
            error: "Runtime.ExitError".to_owned(),
            cause: cause("Runtime.ExitError", &detail),
        },
        InvokeOutcome::UnknownFunction => Failure {
            error: "Lambda.ResourceNotFoundException".to_owned(),
            cause: format!("Function not found: {function}"),
        },
    })
}

//! The Step Functions engine: activities, state machines, executions, task tokens and timers,
//! all in the local cloud's SQLite store, so a restart of `portico local` resumes every
//! running execution where it was (a waiting token still works; a `Wait` or a task timeout
//! keeps its absolute deadline).
//!
//! Each running execution has one driver task, the only writer of its position (the
//! "cursor"). It advances the execution as far as it can in one transaction, then sleeps until
//! its next deadline or until something wakes it: `SendTask*`, a worker taking an activity
//! task, `StopExecution`. Lambda invocations run outside the transaction.
//!
//! Task tokens are bearer secrets: they are kept in the store (the `sfn_tasks` table, and the
//! `TaskScheduled` parameters that carry them, as on AWS), never printed nor logged.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use tokio::sync::Notify;

use super::asl::{self, Definition, Failure, Kind, Resource, State, Transition, WaitFor};
use super::time::{Clock, format_rfc3339};
use super::{ACCOUNT, REGION};
use crate::invoker::Invoker;
use crate::lambda::{InvocationResult, InvokeOutcome};
use crate::logs::{FailureLog, LogSink};
use crate::store::Store;

/// A failing execution driver logs at most one line per this long.
const FAILURE_LOG_EVERY: Duration = Duration::from_secs(30);

/// AWS's limit on an execution's history: past it the execution fails.
const MAX_HISTORY_EVENTS: i64 = 25_000;

/// A Step Functions API error: its `__type` and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// `__type`, e.g. `TaskDoesNotExist`.
    pub kind: &'static str,
    /// `message`.
    pub message: String,
}

impl ApiError {
    /// An error of `kind`.
    pub fn new(kind: &'static str, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }
}

impl From<rusqlite::Error> for ApiError {
    fn from(e: rusqlite::Error) -> Self {
        Self::new(
            "InternalError",
            format!("portico local's state database failed: {e}"),
        )
    }
}

/// A task, as a worker gets it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActivityTask {
    /// The token (a secret).
    pub token: String,
    /// The task's input, JSON text.
    pub input: String,
}

/// An execution, as `DescribeExecution` shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct ExecutionRecord {
    /// ARN.
    pub arn: String,
    /// Its state machine.
    pub state_machine_arn: String,
    /// Name.
    pub name: String,
    /// `RUNNING`, `SUCCEEDED`, `FAILED`, `TIMED_OUT`, `ABORTED`.
    pub status: String,
    /// Input, JSON text.
    pub input: String,
    /// Output, JSON text.
    pub output: Option<String>,
    /// Error.
    pub error: Option<String>,
    /// Cause.
    pub cause: Option<String>,
    /// Start, ms.
    pub start_ms: i64,
    /// Stop, ms.
    pub stop_ms: Option<i64>,
}

/// A history event.
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryEvent {
    /// Id, from 1.
    pub id: i64,
    /// The event before.
    pub previous_event_id: i64,
    /// When, ms.
    pub timestamp_ms: i64,
    /// `ExecutionStarted`, … .
    pub kind: String,
    /// The `…EventDetails` member: its name and value.
    pub details: Option<(String, Value)>,
}

/// A state machine.
#[derive(Debug, Clone, PartialEq)]
pub struct StateMachineRecord {
    /// ARN.
    pub arn: String,
    /// Name.
    pub name: String,
    /// The definition, JSON text.
    pub definition: String,
    /// `roleArn`.
    pub role_arn: String,
    /// Created, ms.
    pub created_ms: i64,
}

/// Where an execution is.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Cursor {
    state: String,
    /// The state's raw input.
    input: Value,
    entered_ms: i64,
    /// Retries used, per retrier of the state.
    retries: Vec<u32>,
    phase: Phase,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "phase")]
enum Phase {
    /// Run the state (just entered, or retrying).
    Run,
    /// A `Wait` state waits; then it exits with `output`.
    Wait { until_ms: i64, output: Value },
    /// A retry waits its interval.
    Backoff { until_ms: i64 },
    /// Waiting for the task row of `token`: an activity or a `.waitForTaskToken` callback.
    Task { token: String },
    /// A synchronous Lambda invocation (`lambda:invoke` or a function ARN).
    Invoke(InvokeJob),
}

/// A synchronous invocation the driver makes outside the transaction.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
struct InvokeJob {
    /// Tells this attempt from a later one.
    attempt: String,
    /// The entry point.
    function: String,
    /// The function's ARN, for events.
    function_arn: String,
    payload: Value,
    deadline_ms: Option<i64>,
    /// `lambda:invoke` (the result wraps the payload) rather than a function ARN.
    integration: bool,
}

/// What the driver does next.
#[derive(Debug)]
enum Wake {
    /// The execution is over.
    Done,
    /// Sleep until this time (or until woken).
    Sleep(Option<i64>),
    /// Make this invocation.
    Invoke(InvokeJob),
}

/// What to do once the transaction is committed.
#[derive(Debug)]
enum Effect {
    /// Wake the workers polling this activity.
    ActivityQueued(String),
    /// A `.waitForTaskToken` invocation: asynchronous, its failure fails the task.
    InvokeForToken {
        token: String,
        function: String,
        payload: Value,
        /// `InvocationType: Event`: a failed invocation is not the task's failure.
        event: bool,
    },
    /// An `InvocationType: Event` call: nobody waits for it (the host logs its outcome).
    InvokeAsync { function: String, payload: Value },
    /// A status line.
    Log(String),
}

/// The engine. `I` runs the Lambda functions.
pub struct StepFunctions<I> {
    store: Arc<Store>,
    invoker: Arc<I>,
    /// `<app>-<stage>-`: what the functions' full names start with.
    function_prefix: String,
    clock: Arc<dyn Clock>,
    logs: Option<LogSink>,
    /// How long `GetActivityTask` waits for a task (60 s, as AWS).
    pub(crate) poll_timeout: Duration,
    wakers: Mutex<HashMap<String, Arc<Notify>>>,
    activity_signals: Mutex<HashMap<String, Arc<Notify>>>,
    drivers: Mutex<HashSet<String>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// `arn:aws:states:<region>:<account>:<kind>:<name>`.
pub fn arn(kind: &str, name: &str) -> String {
    format!("arn:aws:states:{REGION}:{ACCOUNT}:{kind}:{name}")
}

impl<I: Invoker> StepFunctions<I> {
    /// The engine over `store` (whose migrations made its tables).
    pub fn new(
        store: Arc<Store>,
        invoker: Arc<I>,
        function_prefix: String,
        clock: Arc<dyn Clock>,
        logs: Option<LogSink>,
    ) -> Self {
        Self {
            store,
            invoker,
            function_prefix,
            clock,
            logs,
            poll_timeout: Duration::from_secs(60),
            wakers: Mutex::new(HashMap::new()),
            activity_signals: Mutex::new(HashMap::new()),
            drivers: Mutex::new(HashSet::new()),
        }
    }

    fn now(&self) -> i64 {
        self.clock.now_ms()
    }

    /// Runs `f` in a transaction, committed when it succeeds.
    fn transact<T>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, ApiError>,
    ) -> Result<T, ApiError> {
        self.store.with_connection(|c| {
            let tx = c.transaction()?;
            let out = f(&tx);
            if out.is_ok() {
                tx.commit()?;
            }
            Ok(out)
        })?
    }

    fn log(&self, line: &str) {
        if let Some(logs) = &self.logs {
            logs.system(line);
        }
    }

    // --- Activities and state machines ---------------------------------------------------

    /// Creates activity `name` (or returns the existing one): its ARN and creation time.
    ///
    /// # Errors
    /// On database failure.
    pub fn create_activity(&self, name: &str) -> Result<(String, i64), ApiError> {
        let arn = arn("activity", name);
        let now = self.now();
        let created = self.store.with_connection(|c| {
            c.execute(
                "INSERT OR IGNORE INTO sfn_activities (arn, name, created_ms) VALUES (?1, ?2, ?3)",
                params![arn, name, now],
            )?;
            c.query_row(
                "SELECT created_ms FROM sfn_activities WHERE arn = ?1",
                [&arn],
                |r| r.get(0),
            )
        })?;
        Ok((arn, created))
    }

    /// The activity `arn`: its name and creation time.
    ///
    /// # Errors
    /// `ActivityDoesNotExist`.
    pub fn activity(&self, arn: &str) -> Result<(String, i64), ApiError> {
        self.store
            .with_connection(|c| {
                c.query_row(
                    "SELECT name, created_ms FROM sfn_activities WHERE arn = ?1",
                    [arn],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()
            })?
            .ok_or_else(|| {
                ApiError::new(
                    "ActivityDoesNotExist",
                    format!("Activity Does Not Exist: '{arn}'"),
                )
            })
    }

    /// Every activity: ARN, name, creation time, by name.
    ///
    /// # Errors
    /// On database failure.
    pub fn activities(&self) -> Result<Vec<(String, String, i64)>, ApiError> {
        Ok(self.store.with_connection(|c| {
            let mut stmt =
                c.prepare("SELECT arn, name, created_ms FROM sfn_activities ORDER BY name")?;
            stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
                .collect()
        })?)
    }

    /// Deletes activity `arn` (nothing if it does not exist, as AWS).
    ///
    /// # Errors
    /// On database failure.
    pub fn delete_activity(&self, arn: &str) -> Result<(), ApiError> {
        self.store.with_connection(|c| {
            c.execute("DELETE FROM sfn_activities WHERE arn = ?1", [arn])
                .map(drop)
        })?;
        Ok(())
    }

    /// Creates state machine `name`. An existing one with the same definition and role is
    /// returned as is (as AWS); with another, `StateMachineAlreadyExists` unless `replace`
    /// (what `portico local` does at start with `portico.toml`'s machines).
    ///
    /// # Errors
    /// `InvalidDefinition`, `StateMachineAlreadyExists`, database failures.
    pub fn create_state_machine(
        &self,
        name: &str,
        definition: &str,
        role_arn: &str,
        replace: bool,
    ) -> Result<(String, i64), ApiError> {
        Definition::parse(definition).map_err(|e| {
            ApiError::new(
                "InvalidDefinition",
                format!("Invalid State Machine Definition: '{e}'"),
            )
        })?;
        let arn = arn("stateMachine", name);
        let now = self.now();
        let existing = self.state_machine(&arn).ok();
        match existing {
            Some(m) if m.definition == definition && m.role_arn == role_arn => {
                Ok((arn, m.created_ms))
            }
            Some(_) if !replace => Err(ApiError::new(
                "StateMachineAlreadyExists",
                format!("State Machine Already Exists: '{arn}'"),
            )),
            _ => {
                self.store.with_connection(|c| {
                    c.execute(
                        "INSERT INTO sfn_state_machines (arn, name, definition, role_arn, created_ms)
                         VALUES (?1, ?2, ?3, ?4, ?5)
                         ON CONFLICT (arn) DO UPDATE SET definition = ?3, role_arn = ?4",
                        params![arn, name, definition, role_arn, now],
                    )
                })?;
                let created = self.state_machine(&arn)?.created_ms;
                Ok((arn, created))
            }
        }
    }

    /// State machine `arn`.
    ///
    /// # Errors
    /// `StateMachineDoesNotExist`.
    pub fn state_machine(&self, arn: &str) -> Result<StateMachineRecord, ApiError> {
        self.store
            .with_connection(|c| {
                c.query_row(
                    "SELECT arn, name, definition, role_arn, created_ms FROM sfn_state_machines WHERE arn = ?1",
                    [arn],
                    |r| {
                        Ok(StateMachineRecord {
                            arn: r.get(0)?,
                            name: r.get(1)?,
                            definition: r.get(2)?,
                            role_arn: r.get(3)?,
                            created_ms: r.get(4)?,
                        })
                    },
                )
                .optional()
            })?
            .ok_or_else(|| {
                ApiError::new(
                    "StateMachineDoesNotExist",
                    format!("State Machine Does Not Exist: '{arn}'"),
                )
            })
    }

    /// Every state machine, by name.
    ///
    /// # Errors
    /// On database failure.
    pub fn state_machines(&self) -> Result<Vec<StateMachineRecord>, ApiError> {
        Ok(self.store.with_connection(|c| {
            let mut stmt = c.prepare(
                "SELECT arn, name, definition, role_arn, created_ms FROM sfn_state_machines ORDER BY name",
            )?;
            stmt.query_map([], |r| {
                Ok(StateMachineRecord {
                    arn: r.get(0)?,
                    name: r.get(1)?,
                    definition: r.get(2)?,
                    role_arn: r.get(3)?,
                    created_ms: r.get(4)?,
                })
            })?
            .collect()
        })?)
    }

    /// Deletes state machine `arn`; its running executions go on with their definition.
    ///
    /// # Errors
    /// On database failure.
    pub fn delete_state_machine(&self, arn: &str) -> Result<(), ApiError> {
        self.store.with_connection(|c| {
            c.execute("DELETE FROM sfn_state_machines WHERE arn = ?1", [arn])
                .map(drop)
        })?;
        Ok(())
    }

    // --- Executions ----------------------------------------------------------------------

    /// Starts an execution of `machine_arn` named `name` with `input` (JSON text): its ARN
    /// and start time. The same name with the same input while it runs is the same
    /// execution (as AWS).
    ///
    /// # Errors
    /// `StateMachineDoesNotExist`, `ExecutionAlreadyExists`, `InvalidExecutionInput`.
    pub fn start_execution(
        self: &Arc<Self>,
        machine_arn: &str,
        name: &str,
        input: &str,
    ) -> Result<(String, i64), ApiError> {
        let machine = self.state_machine(machine_arn)?;
        let input_value: Value = serde_json::from_str(input).map_err(|e| {
            ApiError::new(
                "InvalidExecutionInput",
                format!("Invalid State Machine Execution Input: 'Make sure input is a valid json string. {e}'"),
            )
        })?;
        let definition = Definition::parse(&machine.definition).map_err(|e| {
            ApiError::new(
                "InvalidDefinition",
                format!("Invalid State Machine Definition: '{e}'"),
            )
        })?;
        let execution_arn = arn("execution", &format!("{}:{name}", machine.name));
        if let Ok(existing) = self.execution(&execution_arn) {
            return if existing.status == "RUNNING" && existing.input == input {
                Ok((execution_arn, existing.start_ms))
            } else {
                Err(ApiError::new(
                    "ExecutionAlreadyExists",
                    format!("Execution Already Exists: '{execution_arn}'"),
                ))
            };
        }
        let now = self.now();
        let start_state = definition.start_at.clone();
        // Validation saw to it that `StartAt` names a state.
        let start_type = definition
            .states
            .get(&start_state)
            .map_or("Pass", type_name);
        self.store.with_connection(|c| {
            let tx = c.transaction()?;
            let cursor = Cursor {
                state: start_state.clone(),
                input: input_value.clone(),
                entered_ms: now,
                retries: Vec::new(),
                phase: Phase::Run,
            };
            tx.execute(
                "INSERT INTO sfn_executions (arn, state_machine_arn, name, status, input, definition, role_arn, start_ms, cursor)
                 VALUES (?1, ?2, ?3, 'RUNNING', ?4, ?5, ?6, ?7, ?8)",
                params![
                    execution_arn,
                    machine.arn,
                    name,
                    input,
                    machine.definition,
                    machine.role_arn,
                    now,
                    serde_json::to_string(&cursor).unwrap_or_default()
                ],
            )?;
            append_event(
                &tx,
                &execution_arn,
                now,
                "ExecutionStarted",
                Some((
                    "executionStartedEventDetails",
                    json!({
                        "input": input,
                        "inputDetails": {"truncated": false},
                        "roleArn": machine.role_arn,
                    }),
                )),
            )?;
            append_event(
                &tx,
                &execution_arn,
                now,
                &format!("{start_type}StateEntered"),
                Some((
                    "stateEnteredEventDetails",
                    json!({"name": start_state, "input": input_value.to_string(), "inputDetails": {"truncated": false}}),
                )),
            )?;
            tx.commit()
        })?;
        self.log(&format!(
            "states: started execution {name} of {}",
            machine.name
        ));
        self.spawn_driver(execution_arn.clone());
        Ok((execution_arn, now))
    }

    /// Execution `arn`.
    ///
    /// # Errors
    /// `ExecutionDoesNotExist`.
    pub fn execution(&self, arn: &str) -> Result<ExecutionRecord, ApiError> {
        self.store
            .with_connection(|c| {
                c.query_row(
                    "SELECT arn, state_machine_arn, name, status, input, output, error, cause, start_ms, stop_ms
                     FROM sfn_executions WHERE arn = ?1",
                    [arn],
                    execution_row,
                )
                .optional()
            })?
            .ok_or_else(|| {
                ApiError::new(
                    "ExecutionDoesNotExist",
                    format!("Execution Does Not Exist: '{arn}'"),
                )
            })
    }

    /// The executions of `machine_arn`, newest first, optionally only those with `status`.
    ///
    /// # Errors
    /// On database failure.
    pub fn executions(
        &self,
        machine_arn: &str,
        status: Option<&str>,
    ) -> Result<Vec<ExecutionRecord>, ApiError> {
        Ok(self.store.with_connection(|c| {
            let mut stmt = c.prepare(
                "SELECT arn, state_machine_arn, name, status, input, output, error, cause, start_ms, stop_ms
                 FROM sfn_executions WHERE state_machine_arn = ?1 AND (?2 IS NULL OR status = ?2)
                 ORDER BY start_ms DESC, rowid DESC",
            )?;
            stmt.query_map(params![machine_arn, status], execution_row)?
                .collect()
        })?)
    }

    /// The history of execution `arn`, oldest first.
    ///
    /// # Errors
    /// `ExecutionDoesNotExist`.
    pub fn history(&self, arn: &str) -> Result<Vec<HistoryEvent>, ApiError> {
        self.execution(arn)?;
        Ok(self.store.with_connection(|c| {
            let mut stmt = c.prepare(
                "SELECT id, previous_event_id, timestamp_ms, type, details FROM sfn_history
                 WHERE execution_arn = ?1 ORDER BY id",
            )?;
            stmt.query_map([arn], |r| {
                let details: String = r.get(4)?;
                let details: Value = serde_json::from_str(&details).unwrap_or(Value::Null);
                Ok(HistoryEvent {
                    id: r.get(0)?,
                    previous_event_id: r.get(1)?,
                    timestamp_ms: r.get(2)?,
                    kind: r.get(3)?,
                    details: details
                        .as_object()
                        .and_then(|o| o.iter().next().map(|(k, v)| (k.clone(), v.clone()))),
                })
            })?
            .collect()
        })?)
    }

    /// Stops execution `arn` (`ABORTED`): its stop time. A finished execution is left as is.
    ///
    /// # Errors
    /// `ExecutionDoesNotExist`.
    pub fn stop_execution(
        &self,
        arn: &str,
        error: Option<&str>,
        cause: Option<&str>,
    ) -> Result<i64, ApiError> {
        let existing = self.execution(arn)?;
        if existing.status != "RUNNING" {
            return Ok(existing.stop_ms.unwrap_or(existing.start_ms));
        }
        let now = self.now();
        let mut details = Map::new();
        if let Some(e) = error {
            details.insert("error".into(), json!(e));
        }
        if let Some(c) = cause {
            details.insert("cause".into(), json!(c));
        }
        self.store.with_connection(|c| {
            let tx = c.transaction()?;
            let changed = tx.execute(
                "UPDATE sfn_executions SET status = 'ABORTED', error = ?2, cause = ?3, stop_ms = ?4
                 WHERE arn = ?1 AND status = 'RUNNING'",
                params![arn, error, cause, now],
            )?;
            if changed == 1 {
                close_tasks(&tx, arn)?;
                append_event(
                    &tx,
                    arn,
                    now,
                    "ExecutionAborted",
                    Some(("executionAbortedEventDetails", Value::Object(details))),
                )?;
            }
            tx.commit()
        })?;
        self.log(&format!("states: execution {} aborted", existing.name));
        self.wake(arn);
        Ok(now)
    }

    // --- Tasks ---------------------------------------------------------------------------

    /// Waits up to [`Self::poll_timeout`] for a task of activity `activity_arn`.
    ///
    /// # Errors
    /// `ActivityDoesNotExist`.
    pub async fn get_activity_task(
        &self,
        activity_arn: &str,
        worker: Option<&str>,
    ) -> Result<Option<ActivityTask>, ApiError> {
        self.activity(activity_arn)?;
        let signal = {
            let mut signals = lock(&self.activity_signals);
            Arc::clone(signals.entry(activity_arn.to_owned()).or_default())
        };
        let deadline = tokio::time::Instant::now() + self.poll_timeout;
        loop {
            let notified = signal.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if let Some((task, execution)) = self.claim(activity_arn, worker)? {
                self.wake(&execution);
                return Ok(Some(task));
            }
            tokio::select! {
                () = notified => {}
                () = tokio::time::sleep_until(deadline) => return Ok(None),
            }
        }
    }

    /// Hands the oldest scheduled task of `activity_arn` to a worker.
    fn claim(
        &self,
        activity_arn: &str,
        worker: Option<&str>,
    ) -> rusqlite::Result<Option<(ActivityTask, String)>> {
        let now = self.now();
        self.store.with_connection(|c| {
            let tx = c.transaction()?;
            type Row = (String, String, String, Option<i64>, Option<i64>);
            let found: Option<Row> = tx
                .query_row(
                    "SELECT token, input, execution_arn, heartbeat_seconds, timeout_seconds FROM sfn_tasks
                     WHERE activity_arn = ?1 AND status = 'scheduled' ORDER BY created_ms, rowid LIMIT 1",
                    [activity_arn],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
                )
                .optional()?;
            let Some((token, input, execution, heartbeat, timeout)) = found else {
                return Ok(None);
            };
            tx.execute(
                "UPDATE sfn_tasks SET status = 'started', worker = ?2, heartbeat_at_ms = ?3, timeout_at_ms = ?4
                 WHERE token = ?1",
                params![
                    token,
                    worker,
                    heartbeat.map(|h| now + h * 1000),
                    timeout.map(|t| now + t * 1000)
                ],
            )?;
            let mut details = Map::new();
            if let Some(w) = worker {
                details.insert("workerName".into(), json!(w));
            }
            append_event(
                &tx,
                &execution,
                now,
                "ActivityStarted",
                Some(("activityStartedEventDetails", Value::Object(details))),
            )?;
            tx.commit()?;
            Ok(Some((ActivityTask { token, input }, execution)))
        })
    }

    /// The open task of `token`, or the error AWS gives for it.
    fn open_task(tx: &Connection, token: &str) -> Result<(String, Option<i64>), ApiError> {
        if !super::token_is_well_formed(token) {
            return Err(ApiError::new(
                "InvalidToken",
                "Invalid Token: 'Invalid token'",
            ));
        }
        let row: Option<(String, String, Option<i64>)> = tx
            .query_row(
                "SELECT status, execution_arn, heartbeat_seconds FROM sfn_tasks WHERE token = ?1",
                [token],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()?;
        match row {
            None => Err(ApiError::new(
                "TaskDoesNotExist",
                "Task Does Not Exist: 'Provided task does not exist'",
            )),
            Some((status, execution, heartbeat))
                if status == "scheduled" || status == "started" =>
            {
                Ok((execution, heartbeat))
            }
            Some(_) => Err(ApiError::new(
                "TaskTimedOut",
                "Task Timed Out: 'Provided task does not exist anymore'",
            )),
        }
    }

    /// `SendTaskSuccess`.
    ///
    /// # Errors
    /// `InvalidToken`, `TaskDoesNotExist`, `TaskTimedOut`, `InvalidOutput`.
    pub fn send_task_success(&self, token: &str, output: &str) -> Result<(), ApiError> {
        if serde_json::from_str::<serde::de::IgnoredAny>(output).is_err() {
            return Err(ApiError::new(
                "InvalidOutput",
                "Invalid Output: 'Make sure output is a valid json string'",
            ));
        }
        let execution = self.transact(|tx| {
            let (execution, _) = Self::open_task(tx, token)?;
            tx.execute(
                "UPDATE sfn_tasks SET status = 'succeeded', result = ?2 WHERE token = ?1",
                params![token, output],
            )?;
            Ok(execution)
        })?;
        self.wake(&execution);
        Ok(())
    }

    /// `SendTaskFailure`.
    ///
    /// # Errors
    /// `InvalidToken`, `TaskDoesNotExist`, `TaskTimedOut`.
    pub fn send_task_failure(
        &self,
        token: &str,
        error: Option<&str>,
        cause: Option<&str>,
    ) -> Result<(), ApiError> {
        let execution = self.transact(|tx| {
            let (execution, _) = Self::open_task(tx, token)?;
            tx.execute(
                "UPDATE sfn_tasks SET status = 'failed', error = ?2, cause = ?3 WHERE token = ?1",
                params![token, error, cause],
            )?;
            Ok(execution)
        })?;
        self.wake(&execution);
        Ok(())
    }

    /// `SendTaskHeartbeat`: the heartbeat deadline starts again.
    ///
    /// # Errors
    /// `InvalidToken`, `TaskDoesNotExist`, `TaskTimedOut`.
    pub fn send_task_heartbeat(&self, token: &str) -> Result<(), ApiError> {
        let now = self.now();
        let execution = self.transact(|tx| {
            let (execution, heartbeat) = Self::open_task(tx, token)?;
            if let Some(h) = heartbeat {
                tx.execute(
                    "UPDATE sfn_tasks SET heartbeat_at_ms = ?2 WHERE token = ?1",
                    params![token, now + h * 1000],
                )?;
            }
            Ok(execution)
        })?;
        self.wake(&execution);
        Ok(())
    }

    // --- Drivers -------------------------------------------------------------------------

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
    fn wake(&self, arn: &str) {
        let waker = lock(&self.wakers).get(arn).cloned();
        if let Some(waker) = waker {
            waker.notify_one();
        }
    }

    fn spawn_driver(self: &Arc<Self>, arn: String) {
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
                && matches!(&run.cursor.phase, Phase::Invoke(current) if current.attempt == job.attempt)
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
                match run.complete_task(&tx, now, result)? {
                    Exit::Continue => run.save(&tx)?,
                    exit => run.exit(&tx, now, exit, &mut effects)?,
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
    fn resolve_function(&self, raw: &str) -> Option<String> {
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

    fn function_arn(&self, entry: &str) -> String {
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

fn execution_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<ExecutionRecord> {
    Ok(ExecutionRecord {
        arn: r.get(0)?,
        state_machine_arn: r.get(1)?,
        name: r.get(2)?,
        status: r.get(3)?,
        input: r.get(4)?,
        output: r.get(5)?,
        error: r.get(6)?,
        cause: r.get(7)?,
        start_ms: r.get(8)?,
        stop_ms: r.get(9)?,
    })
}

/// Appends an event to the history of `arn`; its id.
fn append_event(
    tx: &Connection,
    arn: &str,
    now: i64,
    kind: &str,
    details: Option<(&str, Value)>,
) -> rusqlite::Result<i64> {
    let last: i64 = tx.query_row(
        "SELECT COALESCE(MAX(id), 0) FROM sfn_history WHERE execution_arn = ?1",
        [arn],
        |r| r.get(0),
    )?;
    let details = match details {
        Some((key, value)) => json!({ key: value }),
        None => json!({}),
    };
    tx.execute(
        "INSERT INTO sfn_history (execution_arn, id, timestamp_ms, type, previous_event_id, details)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![arn, last + 1, now, kind, last, details.to_string()],
    )?;
    Ok(last + 1)
}

/// Closes the open tasks of execution `arn` (it ended): their tokens no longer work.
fn close_tasks(tx: &Connection, arn: &str) -> rusqlite::Result<()> {
    tx.execute(
        "UPDATE sfn_tasks SET status = 'closed' WHERE execution_arn = ?1 AND status IN ('scheduled', 'started')",
        [arn],
    )
    .map(drop)
}

fn type_name(state: &State) -> &'static str {
    match state.kind {
        Kind::Pass { .. } => "Pass",
        Kind::Task(_) => "Task",
        Kind::Choice { .. } => "Choice",
        Kind::Wait(_) => "Wait",
        Kind::Succeed => "Succeed",
        Kind::Fail { .. } => "Fail",
    }
}

/// A running execution, loaded for one step of its driver.
struct Run {
    arn: String,
    machine_arn: String,
    name: String,
    input: String,
    role_arn: String,
    start_ms: i64,
    definition: Definition,
    cursor: Cursor,
    finished: bool,
}

/// How a state ended.
enum Exit {
    /// Go on to the state's transition with this output.
    Output(Value),
    /// Go to `next` with this input (a `Choice`, a `Catch`).
    Goto { next: String, output: Value },
    /// The execution fails.
    Fail(Failure),
    /// The state is waiting; the driver sleeps until then (if any).
    Pending(Option<i64>),
    /// A synchronous invocation to make.
    Invoke(InvokeJob),
    /// A `Wait` state waits until then, and then exits with `output`.
    Wait { until_ms: i64, output: Value },
    /// The cursor moved on within the state (a task scheduled, a retry): look again.
    Continue,
}

impl Run {
    fn load(tx: &Connection, arn: &str) -> rusqlite::Result<Option<Self>> {
        /// `state_machine_arn, name, status, input, role_arn, start_ms, definition, cursor`.
        type Row = (String, String, String, String, String, i64, String, String);
        let row: Option<Row> = tx
            .query_row(
                "SELECT state_machine_arn, name, status, input, role_arn, start_ms, definition, cursor
                 FROM sfn_executions WHERE arn = ?1",
                [arn],
                |r| {
                    Ok((
                        r.get(0)?,
                        r.get(1)?,
                        r.get(2)?,
                        r.get(3)?,
                        r.get(4)?,
                        r.get(5)?,
                        r.get(6)?,
                        r.get(7)?,
                    ))
                },
            )
            .optional()?;
        let Some((machine_arn, name, status, input, role_arn, start_ms, definition, cursor)) = row
        else {
            return Ok(None);
        };
        if status != "RUNNING" {
            return Ok(None);
        }
        let (Ok(definition), Ok(cursor)) = (
            Definition::parse(&definition),
            serde_json::from_str::<Cursor>(&cursor),
        ) else {
            // Written by another version: it cannot go on.
            tx.execute(
                "UPDATE sfn_executions SET status = 'FAILED', error = 'States.Runtime',
                 cause = 'the execution cannot be resumed by this version of portico local' WHERE arn = ?1",
                [arn],
            )?;
            return Ok(None);
        };
        Ok(Some(Self {
            arn: arn.to_owned(),
            machine_arn,
            name,
            input,
            role_arn,
            start_ms,
            definition,
            cursor,
            finished: false,
        }))
    }

    fn save(&self, tx: &Connection) -> rusqlite::Result<()> {
        if self.finished {
            return Ok(());
        }
        tx.execute(
            "UPDATE sfn_executions SET cursor = ?2 WHERE arn = ?1",
            params![
                self.arn,
                serde_json::to_string(&self.cursor).unwrap_or_default()
            ],
        )
        .map(drop)
    }

    /// The context object (`$$`).
    fn context(&self, token: Option<&str>) -> Value {
        let machine_name = self
            .machine_arn
            .rsplit(':')
            .next()
            .unwrap_or_default()
            .to_owned();
        let mut context = json!({
            "Execution": {
                "Id": self.arn,
                "Input": serde_json::from_str::<Value>(&self.input).unwrap_or(Value::Null),
                "Name": self.name,
                "RoleArn": self.role_arn,
                "StartTime": format_rfc3339(self.start_ms),
            },
            "State": {
                "EnteredTime": format_rfc3339(self.cursor.entered_ms),
                "Name": self.cursor.state,
                "RetryCount": self.cursor.retries.iter().sum::<u32>(),
            },
            "StateMachine": {"Id": self.machine_arn, "Name": machine_name},
        });
        if let Some(token) = token {
            context["Task"] = json!({ "Token": token });
        }
        context
    }

    fn state(&self) -> Option<&State> {
        self.definition.states.get(&self.cursor.state)
    }

    fn advance<I: Invoker>(
        &mut self,
        tx: &Connection,
        engine: &StepFunctions<I>,
        now: i64,
        effects: &mut Vec<Effect>,
    ) -> rusqlite::Result<Wake> {
        let deadline = self
            .definition
            .timeout_seconds
            .map(|s| self.start_ms + i64::try_from(s).unwrap_or(i64::MAX / 2) * 1000);
        // Transitions without waiting (a `Choice` loop) end at the history's limit.
        loop {
            if let Some(at) = deadline
                && now >= at
            {
                self.finish(
                    tx,
                    now,
                    "TIMED_OUT",
                    None,
                    Some(Failure {
                        error: asl::TIMEOUT.to_owned(),
                        cause: "The execution ran longer than its TimeoutSeconds.".to_owned(),
                    }),
                    effects,
                )?;
                return Ok(Wake::Done);
            }
            let events: i64 = tx.query_row(
                "SELECT COALESCE(MAX(id), 0) FROM sfn_history WHERE execution_arn = ?1",
                [&self.arn],
                |r| r.get(0),
            )?;
            if events >= MAX_HISTORY_EVENTS {
                self.finish(
                    tx,
                    now,
                    "FAILED",
                    None,
                    Some(Failure::runtime(
                        "The execution reached the maximum number of history events (25000).",
                    )),
                    effects,
                )?;
                return Ok(Wake::Done);
            }
            let exit = match self.cursor.phase.clone() {
                Phase::Run => self.run_state(tx, engine, now, effects)?,
                Phase::Wait { until_ms, output } => {
                    if now >= until_ms {
                        Exit::Output(output)
                    } else {
                        Exit::Pending(Some(until_ms))
                    }
                }
                Phase::Backoff { until_ms } => {
                    if now >= until_ms {
                        self.cursor.phase = Phase::Run;
                        continue;
                    }
                    Exit::Pending(Some(until_ms))
                }
                Phase::Task { token } => self.check_task(tx, now, &token)?,
                Phase::Invoke(job) => Exit::Invoke(job),
            };
            match exit {
                Exit::Pending(until) => {
                    self.save(tx)?;
                    let until = match (until, deadline) {
                        (Some(a), Some(b)) => Some(a.min(b)),
                        (a, b) => a.or(b),
                    };
                    return Ok(Wake::Sleep(until));
                }
                Exit::Invoke(job) => {
                    self.cursor.phase = Phase::Invoke(job.clone());
                    self.save(tx)?;
                    return Ok(Wake::Invoke(job));
                }
                Exit::Wait { until_ms, output } => {
                    self.cursor.phase = Phase::Wait { until_ms, output };
                }
                Exit::Continue => {}
                other => {
                    self.exit(tx, now, other, effects)?;
                    if self.finished {
                        return Ok(Wake::Done);
                    }
                }
            }
        }
    }

    /// The execution ends with `status`.
    fn finish(
        &mut self,
        tx: &Connection,
        now: i64,
        status: &str,
        output: Option<&Value>,
        failure: Option<Failure>,
        effects: &mut Vec<Effect>,
    ) -> rusqlite::Result<()> {
        let output_text = output.map(Value::to_string);
        tx.execute(
            "UPDATE sfn_executions SET status = ?2, output = ?3, error = ?4, cause = ?5, stop_ms = ?6
             WHERE arn = ?1 AND status = 'RUNNING'",
            params![
                self.arn,
                status,
                output_text,
                // A `Fail` state without `Error` or `Cause` leaves them out, as AWS does.
                failure
                    .as_ref()
                    .map(|f| f.error.as_str())
                    .filter(|e| !e.is_empty()),
                failure
                    .as_ref()
                    .map(|f| f.cause.as_str())
                    .filter(|c| !c.is_empty()),
                now
            ],
        )?;
        close_tasks(tx, &self.arn)?;
        let (kind, key, details) = match (status, &failure) {
            ("SUCCEEDED", _) => (
                "ExecutionSucceeded",
                "executionSucceededEventDetails",
                json!({"output": output_text, "outputDetails": {"truncated": false}}),
            ),
            ("TIMED_OUT", Some(f)) => (
                "ExecutionTimedOut",
                "executionTimedOutEventDetails",
                json!({"error": f.error, "cause": f.cause}),
            ),
            (_, f) => (
                "ExecutionFailed",
                "executionFailedEventDetails",
                json!({"error": f.as_ref().map(|f| &f.error), "cause": f.as_ref().map(|f| &f.cause)}),
            ),
        };
        append_event(tx, &self.arn, now, kind, Some((key, details)))?;
        self.finished = true;
        let how = match (status, &failure) {
            ("SUCCEEDED", _) => "succeeded".to_owned(),
            ("TIMED_OUT", _) => "timed out".to_owned(),
            (_, Some(f)) => format!("failed: {}", f.error),
            _ => "failed".to_owned(),
        };
        effects.push(Effect::Log(format!(
            "states: execution {} {how}",
            self.name
        )));
        Ok(())
    }

    /// Leaves the current state.
    fn exit(
        &mut self,
        tx: &Connection,
        now: i64,
        exit: Exit,
        effects: &mut Vec<Effect>,
    ) -> rusqlite::Result<()> {
        let Some(state) = self.state().cloned() else {
            return self.finish(
                tx,
                now,
                "FAILED",
                None,
                Some(Failure::runtime("unknown state")),
                effects,
            );
        };
        let (next, output) = match exit {
            Exit::Fail(failure) => {
                return self.finish(tx, now, "FAILED", None, Some(failure), effects);
            }
            Exit::Output(output) => (state.transition.clone(), output),
            Exit::Goto { next, output } => (Some(Transition::Next(next)), output),
            Exit::Pending(_) | Exit::Invoke(_) | Exit::Wait { .. } | Exit::Continue => {
                return Ok(());
            }
        };
        append_event(
            tx,
            &self.arn,
            now,
            &format!("{}StateExited", type_name(&state)),
            Some((
                "stateExitedEventDetails",
                json!({"name": state.name, "output": output.to_string(), "outputDetails": {"truncated": false}}),
            )),
        )?;
        match next {
            Some(Transition::Next(next)) => {
                let Some(next_state) = self.definition.states.get(&next) else {
                    return self.finish(
                        tx,
                        now,
                        "FAILED",
                        None,
                        Some(Failure::runtime(format!("no state `{next}`"))),
                        effects,
                    );
                };
                let retriers = match &next_state.kind {
                    Kind::Task(t) => t.retry.len(),
                    _ => 0,
                };
                append_event(
                    tx,
                    &self.arn,
                    now,
                    &format!("{}StateEntered", type_name(next_state)),
                    Some((
                        "stateEnteredEventDetails",
                        json!({"name": next, "input": output.to_string(), "inputDetails": {"truncated": false}}),
                    )),
                )?;
                self.cursor = Cursor {
                    state: next,
                    input: output,
                    entered_ms: now,
                    retries: vec![0; retriers],
                    phase: Phase::Run,
                };
                self.save(tx)
            }
            // `Succeed`, or `End`.
            _ if !matches!(state.kind, Kind::Fail { .. }) => {
                self.finish(tx, now, "SUCCEEDED", Some(&output), None, effects)
            }
            _ => Ok(()),
        }
    }

    /// Runs the current state from its start.
    fn run_state<I: Invoker>(
        &mut self,
        tx: &Connection,
        engine: &StepFunctions<I>,
        now: i64,
        effects: &mut Vec<Effect>,
    ) -> rusqlite::Result<Exit> {
        let Some(state) = self.state().cloned() else {
            return Ok(Exit::Fail(Failure::runtime(format!(
                "no state `{}`",
                self.cursor.state
            ))));
        };
        if let Kind::Task(task) = &state.kind {
            return self.start_task(tx, engine, now, &state, task, effects);
        }
        let context = self.context(None);
        let raw = self.cursor.input.clone();
        let result = (|| -> Result<Exit, Failure> {
            let effective = asl::apply_path(&state.input_path, &raw, &context)?;
            match &state.kind {
                Kind::Pass {
                    result,
                    parameters,
                    result_path,
                } => {
                    let value = match (result, parameters) {
                        (Some(r), _) => r.clone(),
                        (None, Some(p)) => asl::evaluate_template(p, &effective, &context)?,
                        (None, None) => effective,
                    };
                    let combined = asl::apply_result_path(result_path, &raw, value)?;
                    Ok(Exit::Output(asl::apply_path(
                        &state.output_path,
                        &combined,
                        &context,
                    )?))
                }
                Kind::Choice { choices, default } => {
                    let output = asl::apply_path(&state.output_path, &effective, &context)?;
                    for (rule, next) in choices {
                        if rule.holds(&effective, &context)? {
                            return Ok(Exit::Goto {
                                next: next.clone(),
                                output,
                            });
                        }
                    }
                    match default {
                        Some(next) => Ok(Exit::Goto {
                            next: next.clone(),
                            output,
                        }),
                        None => Err(Failure {
                            error: "States.NoChoiceMatched".to_owned(),
                            cause: format!("No Matches! (state `{}`)", state.name),
                        }),
                    }
                }
                Kind::Wait(wait) => {
                    let until = match wait {
                        WaitFor::Seconds(s) => now + i64::try_from(*s).unwrap_or(0) * 1000,
                        WaitFor::Timestamp(at) => *at,
                        WaitFor::SecondsPath(path) => {
                            let value = path.select(&effective, &context)?;
                            let seconds = value.as_u64().ok_or_else(|| {
                                Failure::runtime(format!(
                                    "The SecondsPath parameter does not reference a valid non-negative integer: {value}"
                                ))
                            })?;
                            now + i64::try_from(seconds).unwrap_or(i64::MAX / 2_000) * 1000
                        }
                        WaitFor::TimestampPath(path) => {
                            let value = path.select(&effective, &context)?;
                            value.as_str().and_then(super::time::parse_rfc3339).ok_or_else(|| {
                                Failure::runtime(format!(
                                    "The TimestampPath parameter does not reference a valid ISO-8601 timestamp: {value}"
                                ))
                            })?
                        }
                    };
                    let output = asl::apply_path(&state.output_path, &effective, &context)?;
                    if until <= now {
                        Ok(Exit::Output(output))
                    } else {
                        Ok(Exit::Wait {
                            until_ms: until,
                            output,
                        })
                    }
                }
                Kind::Succeed => Ok(Exit::Output(asl::apply_path(
                    &state.output_path,
                    &effective,
                    &context,
                )?)),
                Kind::Fail { error, cause } => {
                    let pick = |operand: &Option<asl::Operand>| -> Result<String, Failure> {
                        Ok(match operand {
                            None => String::new(),
                            Some(asl::Operand::Literal(v)) => {
                                v.as_str().unwrap_or_default().to_owned()
                            }
                            Some(asl::Operand::Path(p)) => match p.select(&raw, &context)? {
                                Value::String(s) => s,
                                other => other.to_string(),
                            },
                        })
                    };
                    Err(Failure {
                        error: pick(error)?,
                        cause: pick(cause)?,
                    })
                }
                Kind::Task(_) => Err(Failure::runtime("a Task state is started apart")),
            }
        })();
        Ok(result.unwrap_or_else(Exit::Fail))
    }
}

impl Run {
    /// Starts the current `Task` state: schedules the activity task, or the invocation.
    fn start_task<I: Invoker>(
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
        let token = needs_token.then(super::random_token);
        let context = self.context(token.as_deref());
        let raw = self.cursor.input.clone();
        let parameters = asl::apply_path(&state.input_path, &raw, &context).and_then(|effective| {
            match &task.parameters {
                Some(template) => asl::evaluate_template(template, &effective, &context),
                None => Ok(effective),
            }
        });
        let parameters = match parameters {
            Ok(p) => p,
            Err(failure) => return Ok(Exit::Fail(failure)),
        };
        let seconds = |s: Option<u64>| s.map(|s| i64::try_from(s).unwrap_or(i64::MAX / 2_000));
        let timeout_at = seconds(task.timeout_seconds).map(|s| now + s * 1000);
        let heartbeat = seconds(task.heartbeat_seconds);
        let mut limits = Map::new();
        if let Some(t) = task.timeout_seconds {
            limits.insert("timeoutInSeconds".into(), json!(t));
        }
        if let Some(h) = task.heartbeat_seconds {
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
                    params![token, self.arn, activity, parameters.to_string(), now, seconds(task.timeout_seconds), heartbeat],
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
                append_event(
                    tx,
                    &self.arn,
                    now,
                    "TaskScheduled",
                    Some((
                        "taskScheduledEventDetails",
                        with_limits(
                            json!({"resourceType": "lambda", "resource": resource, "region": REGION, "parameters": parameters.to_string()}),
                        ),
                    )),
                )?;
                self.cursor.phase = Phase::Task {
                    token: token.clone(),
                };
                let name = parameters
                    .get("FunctionName")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                match engine.resolve_function(name) {
                    Some(function) => {
                        append_event(
                            tx,
                            &self.arn,
                            now,
                            "TaskStarted",
                            Some((
                                "taskStartedEventDetails",
                                json!({"resourceType": "lambda", "resource": resource}),
                            )),
                        )?;
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
                    append_event(
                        tx,
                        &self.arn,
                        now,
                        "TaskScheduled",
                        Some((
                            "taskScheduledEventDetails",
                            with_limits(
                                json!({"resourceType": "lambda", "resource": "invoke", "region": REGION, "parameters": parameters.to_string()}),
                            ),
                        )),
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
                    let (kind, key, details) = if integration {
                        (
                            "TaskFailed",
                            "taskFailedEventDetails",
                            json!({"resourceType": "lambda", "resource": "invoke", "error": failure.error, "cause": failure.cause}),
                        )
                    } else {
                        (
                            "LambdaFunctionScheduleFailed",
                            "lambdaFunctionScheduleFailedEventDetails",
                            json!({"error": failure.error, "cause": failure.cause}),
                        )
                    };
                    append_event(tx, &self.arn, now, kind, Some((key, details)))?;
                    return self.complete_task(tx, now, Err(failure));
                };
                if integration {
                    append_event(
                        tx,
                        &self.arn,
                        now,
                        "TaskStarted",
                        Some((
                            "taskStartedEventDetails",
                            json!({"resourceType": "lambda", "resource": "invoke"}),
                        )),
                    )?;
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
                    append_event(
                        tx,
                        &self.arn,
                        now,
                        "TaskSucceeded",
                        Some((
                            "taskSucceededEventDetails",
                            json!({"resourceType": "lambda", "resource": "invoke", "output": result.to_string(), "outputDetails": {"truncated": false}}),
                        )),
                    )?;
                    return self.complete_task(tx, now, Ok(result));
                }
                Ok(Exit::Invoke(InvokeJob {
                    attempt: super::random_uuid(),
                    function_arn: engine.function_arn(&function),
                    function,
                    payload,
                    deadline_ms: timeout_at,
                    integration,
                }))
            }
        }
    }

    /// Looks at the task row of `token`: done, failed, timed out, or still waiting.
    fn check_task(&mut self, tx: &Connection, now: i64, token: &str) -> rusqlite::Result<Exit> {
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
    fn complete_task(
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
        Ok(match result {
            Ok(value) => {
                let output = (|| {
                    let selected = match &task.result_selector {
                        Some(selector) => asl::evaluate_template(selector, &value, &context)?,
                        None => value,
                    };
                    let combined =
                        asl::apply_result_path(&task.result_path, &self.cursor.input, selected)?;
                    asl::apply_path(&state.output_path, &combined, &context)
                })();
                output.map_or_else(Exit::Fail, Exit::Output)
            }
            Err(failure) => {
                if let Some(i) = task.retry.iter().position(|r| r.handles(&failure.error)) {
                    if self.cursor.retries.len() < task.retry.len() {
                        self.cursor.retries.resize(task.retry.len(), 0);
                    }
                    let used = self.cursor.retries[i];
                    if used < task.retry[i].max_attempts {
                        self.cursor.retries[i] += 1;
                        self.cursor.phase = Phase::Backoff {
                            until_ms: now + task.retry[i].delay_ms(used),
                        };
                        return Ok(Exit::Continue);
                    }
                }
                match task.catch.iter().find(|c| c.handles(&failure.error)) {
                    Some(catcher) => {
                        let error = json!({"Error": failure.error, "Cause": failure.cause});
                        match asl::apply_result_path(
                            &catcher.result_path,
                            &self.cursor.input,
                            error,
                        ) {
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
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::StubHost;
    use std::sync::atomic::{AtomicI64, Ordering};

    /// A clock the test moves.
    struct ManualClock(AtomicI64);

    impl Clock for ManualClock {
        fn now_ms(&self) -> i64 {
            self.0.load(Ordering::SeqCst)
        }
    }

    struct Fixture {
        store: Arc<Store>,
        host: Arc<StubHost>,
        clock: Arc<ManualClock>,
        engine: Arc<StepFunctions<StubHost>>,
    }

    const ACTIVITY: &str = "arn:aws:states:us-east-1:000000000000:activity:shop-dev-Approve";
    const ROLE: &str = "arn:aws:iam::000000000000:role/shop-dev-states";

    impl Fixture {
        fn new() -> Self {
            let store = Arc::new(Store::in_memory());
            let host = Arc::new(StubHost::default());
            let clock = Arc::new(ManualClock(AtomicI64::new(1_800_000_000_000)));
            let engine = Self::engine(&store, &host, &clock);
            engine.create_activity("shop-dev-Approve").unwrap();
            Self {
                store,
                host,
                clock,
                engine,
            }
        }

        fn engine(
            store: &Arc<Store>,
            host: &Arc<StubHost>,
            clock: &Arc<ManualClock>,
        ) -> Arc<StepFunctions<StubHost>> {
            let mut engine = StepFunctions::new(
                Arc::clone(store),
                Arc::clone(host),
                "shop-dev-".to_owned(),
                Arc::clone(clock) as Arc<dyn Clock>,
                None,
            );
            engine.poll_timeout = Duration::from_millis(300);
            Arc::new(engine)
        }

        /// Starts an execution of a machine with this definition.
        fn start(&self, definition: Value, input: Value) -> String {
            let name = super::super::random_uuid();
            let (machine, _) = self
                .engine
                .create_state_machine(&name, &definition.to_string(), ROLE, false)
                .unwrap();
            self.engine
                .start_execution(&machine, "run", &input.to_string())
                .unwrap()
                .0
        }

        /// Moves the clock and lets the execution see it.
        fn tick(&self, arn: &str, ms: i64) {
            self.clock.0.fetch_add(ms, Ordering::SeqCst);
            self.engine.wake(arn);
        }

        async fn settled(&self, arn: &str, status: &str) -> ExecutionRecord {
            for _ in 0..2000 {
                let e = self.engine.execution(arn).unwrap();
                if e.status == status {
                    return e;
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            panic!(
                "{arn} is not {status}: {:?}\n{:#?}",
                self.engine.execution(arn),
                self.kinds(arn)
            );
        }

        /// Waits until the history of `arn` has an event of `kind`.
        async fn reached(&self, arn: &str, kind: &str) {
            for _ in 0..2000 {
                if self.kinds(arn).iter().any(|k| k == kind) {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            panic!("no {kind} in {:?}", self.kinds(arn));
        }

        async fn task(&self) -> ActivityTask {
            self.engine
                .get_activity_task(ACTIVITY, Some("worker-1"))
                .await
                .unwrap()
                .expect("a task")
        }

        fn kinds(&self, arn: &str) -> Vec<String> {
            self.engine
                .history(arn)
                .unwrap()
                .into_iter()
                .map(|e| e.kind)
                .collect()
        }
    }

    fn activity_machine(task: Value) -> Value {
        let mut state = json!({"Type": "Task", "Resource": ACTIVITY, "End": true});
        state
            .as_object_mut()
            .unwrap()
            .extend(task.as_object().unwrap().clone());
        json!({"StartAt": "Approve", "States": {"Approve": state, "Caught": {"Type": "Pass", "End": true}}})
    }

    #[tokio::test]
    async fn an_activity_task_completes_the_execution_with_its_output() {
        let f = Fixture::new();
        let arn = f.start(
            activity_machine(json!({
                "Parameters": {"who.$": "$.who", "run.$": "$$.Execution.Name"},
                "ResultPath": "$.decision"
            })),
            json!({"who": "ada"}),
        );
        let task = f.task().await;
        assert_eq!(
            serde_json::from_str::<Value>(&task.input).unwrap(),
            json!({"who": "ada", "run": "run"})
        );
        assert!(super::super::token_is_well_formed(&task.token));
        f.engine
            .send_task_heartbeat(&task.token)
            .expect("a heartbeat for an open task");
        f.engine
            .send_task_success(&task.token, r#"{"approved": true}"#)
            .unwrap();
        let done = f.settled(&arn, "SUCCEEDED").await;
        assert_eq!(
            serde_json::from_str::<Value>(done.output.as_deref().unwrap()).unwrap(),
            json!({"who": "ada", "decision": {"approved": true}})
        );
        assert_eq!(
            f.kinds(&arn),
            [
                "ExecutionStarted",
                "TaskStateEntered",
                "ActivityScheduled",
                "ActivityStarted",
                "ActivitySucceeded",
                "TaskStateExited",
                "ExecutionSucceeded"
            ]
        );
        let history = f.engine.history(&arn).unwrap();
        assert_eq!(
            history[3].details,
            Some((
                "activityStartedEventDetails".into(),
                json!({"workerName": "worker-1"})
            ))
        );
        assert!(
            history
                .windows(2)
                .all(|w| w[1].previous_event_id == w[0].id)
        );
        // The token is spent.
        let again = f.engine.send_task_success(&task.token, "{}").unwrap_err();
        assert_eq!(again.kind, "TaskTimedOut");
        // No other task waits: the long poll ends empty.
        assert_eq!(
            f.engine.get_activity_task(ACTIVITY, None).await.unwrap(),
            None
        );
    }

    #[tokio::test]
    async fn tokens_stay_out_of_the_terminal_and_the_log_table() {
        let f = Fixture::new();
        let (logs, printed) = LogSink::to_buffer(Arc::clone(&f.store), crate::logs::Style::Plain);
        let mut engine = StepFunctions::new(
            Arc::clone(&f.store),
            Arc::clone(&f.host),
            "shop-dev-".to_owned(),
            Arc::clone(&f.clock) as Arc<dyn Clock>,
            Some(logs.clone()),
        );
        engine.poll_timeout = Duration::from_millis(300);
        let engine = Arc::new(engine);
        let (machine, _) = engine
            .create_state_machine("m", &activity_machine(json!({})).to_string(), ROLE, false)
            .unwrap();
        let (arn, _) = engine.start_execution(&machine, "secretive", "{}").unwrap();
        let task = engine
            .get_activity_task(ACTIVITY, None)
            .await
            .unwrap()
            .unwrap();
        engine.send_task_success(&task.token, "{}").unwrap();
        for _ in 0..2000 {
            if engine.execution(&arn).unwrap().status == "SUCCEEDED" {
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        logs.flush().await;
        let printed = String::from_utf8(printed.lock().unwrap().clone()).unwrap();
        assert!(
            printed.contains("states: execution secretive succeeded"),
            "{printed}"
        );
        assert!(!printed.contains(&task.token));
        let stored: Vec<String> = f
            .store
            .with_connection(|c| {
                let mut stmt = c.prepare("SELECT message FROM logs")?;
                stmt.query_map([], |r| r.get(0))?.collect()
            })
            .unwrap();
        assert!(
            stored.iter().all(|m| !m.contains(&task.token)),
            "{stored:?}"
        );
    }

    #[tokio::test]
    async fn bad_tokens_and_outputs_get_the_aws_errors() {
        let f = Fixture::new();
        let _arn = f.start(activity_machine(json!({})), json!({}));
        let task = f.task().await;
        let kind = |r: Result<(), ApiError>| r.unwrap_err().kind;
        assert_eq!(
            kind(f.engine.send_task_success("garbage", "{}")),
            "InvalidToken"
        );
        assert_eq!(
            kind(
                f.engine
                    .send_task_success(&super::super::random_token(), "{}")
            ),
            "TaskDoesNotExist"
        );
        assert_eq!(
            kind(f.engine.send_task_success(&task.token, "{nope")),
            "InvalidOutput"
        );
        assert_eq!(
            kind(f.engine.send_task_failure("x", None, None)),
            "InvalidToken"
        );
        assert_eq!(
            kind(f.engine.send_task_heartbeat(&super::super::random_token())),
            "TaskDoesNotExist"
        );
        assert_eq!(
            f.engine
                .get_activity_task("arn:aws:states:us-east-1:000000000000:activity:nope", None)
                .await
                .unwrap_err()
                .kind,
            "ActivityDoesNotExist"
        );
    }

    #[tokio::test]
    async fn a_task_failure_is_caught_or_fails_the_execution() {
        let f = Fixture::new();
        let caught = f.start(
            activity_machine(json!({
                "Catch": [{"ErrorEquals": ["Rejected"], "ResultPath": "$.error", "Next": "Caught"}],
                "End": true
            })),
            json!({"id": 7}),
        );
        let task = f.task().await;
        f.engine
            .send_task_failure(&task.token, Some("Rejected"), Some("no budget"))
            .unwrap();
        let done = f.settled(&caught, "SUCCEEDED").await;
        assert_eq!(
            serde_json::from_str::<Value>(done.output.as_deref().unwrap()).unwrap(),
            json!({"id": 7, "error": {"Error": "Rejected", "Cause": "no budget"}})
        );

        let failed = f.start(activity_machine(json!({})), json!({}));
        let task = f.task().await;
        f.engine
            .send_task_failure(&task.token, Some("Rejected"), Some("no budget"))
            .unwrap();
        let done = f.settled(&failed, "FAILED").await;
        assert_eq!(
            (done.error.as_deref(), done.cause.as_deref()),
            (Some("Rejected"), Some("no budget"))
        );
        assert!(
            f.kinds(&failed)
                .ends_with(&["ActivityFailed".into(), "ExecutionFailed".into()])
        );
    }

    #[tokio::test]
    async fn task_timeouts_use_the_clock_and_heartbeats_extend_them() {
        let f = Fixture::new();
        let arn = f.start(
            activity_machine(json!({"TimeoutSeconds": 60, "HeartbeatSeconds": 10})),
            json!({}),
        );
        let task = f.task().await;
        f.tick(&arn, 8_000);
        f.engine.send_task_heartbeat(&task.token).unwrap();
        f.tick(&arn, 8_000);
        tokio::time::sleep(Duration::from_millis(30)).await;
        assert_eq!(
            f.engine.execution(&arn).unwrap().status,
            "RUNNING",
            "the heartbeat kept it"
        );
        f.tick(&arn, 3_000);
        let done = f.settled(&arn, "FAILED").await;
        assert_eq!(done.error.as_deref(), Some("States.HeartbeatTimeout"));
        assert_eq!(
            f.engine
                .send_task_success(&task.token, "{}")
                .unwrap_err()
                .kind,
            "TaskTimedOut"
        );

        // TimeoutSeconds, caught by States.Timeout. It counts from when a worker takes the
        // task (`ActivityStarted`), as on AWS: a task nobody polls for waits.
        let arn = f.start(
            activity_machine(json!({"TimeoutSeconds": 5,
                "Catch": [{"ErrorEquals": ["States.Timeout"], "Next": "Caught"}]})),
            json!({}),
        );
        f.reached(&arn, "ActivityScheduled").await;
        f.tick(&arn, 60_000);
        tokio::time::sleep(Duration::from_millis(30)).await;
        assert_eq!(
            f.engine.execution(&arn).unwrap().status,
            "RUNNING",
            "not taken yet"
        );
        f.task().await;
        f.tick(&arn, 4_999);
        tokio::time::sleep(Duration::from_millis(30)).await;
        assert_eq!(f.engine.execution(&arn).unwrap().status, "RUNNING");
        f.tick(&arn, 1);
        let done = f.settled(&arn, "SUCCEEDED").await;
        assert_eq!(
            serde_json::from_str::<Value>(done.output.as_deref().unwrap()).unwrap()["Error"],
            "States.Timeout"
        );
        assert!(f.kinds(&arn).contains(&"ActivityTimedOut".to_owned()));
    }

    #[tokio::test]
    async fn lambda_invoke_retries_with_backoff_then_catches() {
        let f = Fixture::new();
        let definition = json!({"StartAt": "Call", "States": {
            "Call": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                "Parameters": {"FunctionName": "shop-dev-boom", "Payload": {"n.$": "$.n"}},
                "Retry": [{"ErrorEquals": ["MyError"], "IntervalSeconds": 2, "MaxAttempts": 2, "BackoffRate": 3}],
                "Catch": [{"ErrorEquals": ["States.TaskFailed"], "ResultPath": "$.failure", "Next": "Done"}],
                "End": true},
            "Done": {"Type": "Pass", "End": true}}});
        let arn = f.start(definition, json!({"n": 1}));
        let calls = |f: &Fixture| f.host.calls.lock().unwrap().len();
        // A retry's wait is recorded with its `TaskFailed` event, in one transaction.
        let failures = async |f: &Fixture, n: usize| {
            for _ in 0..2000 {
                if f.kinds(&arn).iter().filter(|k| *k == "TaskFailed").count() == n {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            panic!("not {n} TaskFailed: {:?}", f.kinds(&arn));
        };
        failures(&f, 1).await;
        assert_eq!(
            f.host.calls.lock().unwrap()[0],
            ("boom".into(), r#"{"n":1}"#.into())
        );
        f.tick(&arn, 1_999);
        tokio::time::sleep(Duration::from_millis(30)).await;
        assert_eq!(calls(&f), 1, "the first retry waits IntervalSeconds");
        f.tick(&arn, 1);
        failures(&f, 2).await;
        assert_eq!(calls(&f), 2);
        f.tick(&arn, 6_000);
        let done = f.settled(&arn, "SUCCEEDED").await;
        assert_eq!(calls(&f), 3, "MaxAttempts 2: three invocations");
        let output: Value = serde_json::from_str(done.output.as_deref().unwrap()).unwrap();
        assert_eq!(output["failure"]["Error"], "MyError");
        let cause: Value =
            serde_json::from_str(output["failure"]["Cause"].as_str().unwrap()).unwrap();
        assert_eq!(cause["errorMessage"], "it broke");
        assert_eq!(
            f.kinds(&arn).iter().filter(|k| *k == "TaskFailed").count(),
            3
        );
    }

    #[tokio::test]
    async fn lambda_results_are_wrapped_for_lambda_invoke_and_plain_for_a_function_arn() {
        let f = Fixture::new();
        let definition = json!({"StartAt": "Invoke", "States": {
            "Invoke": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                "Parameters": {"FunctionName": "arn:aws:lambda:us-east-1:000000000000:function:shop-dev-echo:$LATEST",
                    "Payload.$": "$"},
                "ResultSelector": {"body.$": "$.Payload", "status.$": "$.StatusCode"},
                "ResultPath": "$.invoked", "Next": "Plain"},
            "Plain": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:000000000000:function:shop-dev-echo",
                "Parameters": {"again.$": "$.invoked.status"}, "ResultPath": "$.plain", "End": true}}});
        let arn = f.start(definition, json!({"x": 1}));
        let done = f.settled(&arn, "SUCCEEDED").await;
        assert_eq!(
            serde_json::from_str::<Value>(done.output.as_deref().unwrap()).unwrap(),
            json!({"x": 1, "invoked": {"body": {"x": 1}, "status": 200}, "plain": {"again": 200}})
        );
        let kinds = f.kinds(&arn);
        for kind in [
            "TaskScheduled",
            "TaskStarted",
            "TaskSucceeded",
            "LambdaFunctionScheduled",
            "LambdaFunctionStarted",
            "LambdaFunctionSucceeded",
        ] {
            assert!(kinds.contains(&kind.to_owned()), "{kind} in {kinds:?}");
        }

        // `InvocationType: Event` goes on at once with Lambda's 202; the call still happens.
        let arn = f.start(
            json!({"StartAt": "I", "States": {"I": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                "Parameters": {"FunctionName": "echo", "InvocationType": "Event", "Payload": {"fire": "forget"}},
                "ResultSelector": {"status.$": "$.StatusCode"}, "End": true}}}),
            json!({}),
        );
        let done = f.settled(&arn, "SUCCEEDED").await;
        assert_eq!(done.output.as_deref(), Some(r#"{"status":202}"#));
        for _ in 0..2000 {
            if f.host
                .calls
                .lock()
                .unwrap()
                .iter()
                .any(|(_, p)| p.contains("forget"))
            {
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        assert!(
            f.host
                .calls
                .lock()
                .unwrap()
                .iter()
                .any(|(_, p)| p == r#"{"fire":"forget"}"#)
        );

        // An unknown function is a task failure naming it.
        let arn = f.start(
            json!({"StartAt": "I", "States": {"I": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                "Parameters": {"FunctionName": "nope"}, "End": true}}}),
            json!({}),
        );
        let done = f.settled(&arn, "FAILED").await;
        assert_eq!(
            done.error.as_deref(),
            Some("Lambda.ResourceNotFoundException")
        );
    }

    #[tokio::test]
    async fn wait_for_task_token_hands_the_token_to_the_function_and_survives_a_restart() {
        let f = Fixture::new();
        let definition = json!({"StartAt": "Ask", "States": {
            "Ask": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
                "Parameters": {"FunctionName": "echo", "Payload": {"token.$": "$$.Task.Token", "who.$": "$.who"}},
                "TimeoutSeconds": 3600, "End": true}}});
        let arn = f.start(definition, json!({"who": "ada"}));
        for _ in 0..2000 {
            if !f.host.calls.lock().unwrap().is_empty() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let (function, payload) = f.host.calls.lock().unwrap()[0].clone();
        assert_eq!(function, "echo");
        let payload: Value = serde_json::from_str(&payload).unwrap();
        assert_eq!(payload["who"], "ada");
        let token = payload["token"].as_str().unwrap().to_owned();
        // The token is in TaskScheduled's parameters too, as on AWS.
        let history = f.engine.history(&arn).unwrap();
        let scheduled = history.iter().find(|e| e.kind == "TaskScheduled").unwrap();
        let parameters: Value = serde_json::from_str(
            scheduled.details.as_ref().unwrap().1["parameters"]
                .as_str()
                .unwrap(),
        )
        .unwrap();
        assert_eq!(parameters["Payload"]["token"], token.as_str());

        // A new engine on the same store, as after a restart of `portico local`.
        let restarted = Fixture::engine(&f.store, &f.host, &f.clock);
        assert_eq!(restarted.resume().unwrap(), 1);
        restarted.send_task_success(&token, r#"{"ok": 1}"#).unwrap();
        for _ in 0..2000 {
            if restarted.execution(&arn).unwrap().status == "SUCCEEDED" {
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let done = restarted.execution(&arn).unwrap();
        assert_eq!(
            (done.status.as_str(), done.output.as_deref()),
            ("SUCCEEDED", Some(r#"{"ok":1}"#))
        );
    }

    #[tokio::test]
    async fn a_wait_state_resumes_at_its_deadline_after_a_restart() {
        let f = Fixture::new();
        let definition = json!({"StartAt": "Pause", "States": {
            "Pause": {"Type": "Wait", "SecondsPath": "$.delay", "Next": "Route"},
            "Route": {"Type": "Choice", "Choices": [
                {"Variable": "$.delay", "NumericGreaterThan": 5, "Next": "Long"}], "Default": "Short"},
            "Long": {"Type": "Pass", "Result": "long", "End": true},
            "Short": {"Type": "Pass", "Result": "short", "End": true}}});
        let arn = f.start(definition, json!({"delay": 30}));
        // The deadline is computed (from the clock, not yet moved) and kept in the cursor.
        for _ in 0..2000 {
            let cursor: String = f
                .store
                .with_connection(|c| {
                    c.query_row(
                        "SELECT cursor FROM sfn_executions WHERE arn = ?1",
                        [&arn],
                        |r| r.get(0),
                    )
                })
                .unwrap();
            if cursor.contains(r#""phase":"Wait""#) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let restarted = Fixture::engine(&f.store, &f.host, &f.clock);
        restarted.resume().unwrap();
        f.clock.0.fetch_add(29_000, Ordering::SeqCst);
        restarted.wake(&arn);
        tokio::time::sleep(Duration::from_millis(30)).await;
        assert_eq!(restarted.execution(&arn).unwrap().status, "RUNNING");
        f.clock.0.fetch_add(1_000, Ordering::SeqCst);
        restarted.wake(&arn);
        for _ in 0..2000 {
            if restarted.execution(&arn).unwrap().status != "RUNNING" {
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        assert_eq!(
            restarted.execution(&arn).unwrap().output.as_deref(),
            Some("\"long\"")
        );
    }

    #[tokio::test]
    async fn stopping_and_timing_out_end_executions_and_their_tokens() {
        let f = Fixture::new();
        let arn = f.start(activity_machine(json!({})), json!({}));
        let task = f.task().await;
        f.engine
            .stop_execution(&arn, Some("Stopped"), Some("by a test"))
            .unwrap();
        let done = f.settled(&arn, "ABORTED").await;
        assert_eq!(done.error.as_deref(), Some("Stopped"));
        assert_eq!(
            f.engine
                .send_task_success(&task.token, "{}")
                .unwrap_err()
                .kind,
            "TaskTimedOut"
        );
        assert_eq!(
            f.kinds(&arn).last().map(String::as_str),
            Some("ExecutionAborted")
        );

        let mut definition = activity_machine(json!({}));
        definition["TimeoutSeconds"] = json!(10);
        let arn = f.start(definition, json!({}));
        f.reached(&arn, "ActivityScheduled").await;
        f.tick(&arn, 10_000);
        let done = f.settled(&arn, "TIMED_OUT").await;
        assert_eq!(done.error.as_deref(), Some("States.Timeout"));
        assert_eq!(
            f.kinds(&arn).last().map(String::as_str),
            Some("ExecutionTimedOut")
        );
    }

    #[tokio::test]
    async fn fail_states_choices_without_match_and_path_errors_fail_the_execution() {
        let f = Fixture::new();
        let fail = f.start(
            json!({"StartAt": "F", "States": {"F": {"Type": "Fail", "ErrorPath": "$.e", "Cause": "because"}}}),
            json!({"e": "Custom"}),
        );
        let done = f.settled(&fail, "FAILED").await;
        assert_eq!(
            (done.error.as_deref(), done.cause.as_deref()),
            (Some("Custom"), Some("because"))
        );
        let choice = f.start(
            json!({"StartAt": "C", "States": {"C": {"Type": "Choice", "Choices": [
                {"Variable": "$.a", "IsPresent": true, "Next": "C"}]}}}),
            json!({}),
        );
        let done = f.settled(&choice, "FAILED").await;
        assert_eq!(done.error.as_deref(), Some("States.NoChoiceMatched"));
        let path = f.start(
            json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "InputPath": "$.missing", "End": true}}}),
            json!({}),
        );
        let done = f.settled(&path, "FAILED").await;
        assert_eq!(done.error.as_deref(), Some("States.Runtime"));
    }

    #[tokio::test]
    async fn executions_are_idempotent_by_name_and_machines_by_definition() {
        let f = Fixture::new();
        let definition =
            json!({"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 100, "End": true}}})
                .to_string();
        let (machine, _) = f
            .engine
            .create_state_machine("m", &definition, ROLE, false)
            .unwrap();
        assert_eq!(
            f.engine
                .create_state_machine("m", &definition, ROLE, false)
                .unwrap()
                .0,
            machine
        );
        let other = definition.replace("100", "5");
        assert_eq!(
            f.engine
                .create_state_machine("m", &other, ROLE, false)
                .unwrap_err()
                .kind,
            "StateMachineAlreadyExists"
        );
        let invalid = f
            .engine
            .create_state_machine(
                "bad",
                r#"{"StartAt": "X", "States": {"X": {"Type": "Map", "End": true}}}"#,
                ROLE,
                false,
            )
            .unwrap_err();
        assert_eq!(invalid.kind, "InvalidDefinition");
        assert!(
            invalid.message.contains("/States/X/Type"),
            "{}",
            invalid.message
        );
        let first = f.engine.start_execution(&machine, "once", "{}").unwrap();
        assert_eq!(
            f.engine.start_execution(&machine, "once", "{}").unwrap(),
            first
        );
        assert_eq!(
            f.engine
                .start_execution(&machine, "once", r#"{"a":1}"#)
                .unwrap_err()
                .kind,
            "ExecutionAlreadyExists"
        );
        assert_eq!(
            f.engine
                .start_execution(&machine, "x", "{nope")
                .unwrap_err()
                .kind,
            "InvalidExecutionInput"
        );
        assert_eq!(
            f.engine
                .start_execution(
                    "arn:aws:states:us-east-1:000000000000:stateMachine:none",
                    "x",
                    "{}"
                )
                .unwrap_err()
                .kind,
            "StateMachineDoesNotExist"
        );
        assert_eq!(
            f.engine
                .executions(&machine, Some("RUNNING"))
                .unwrap()
                .len(),
            1
        );
        assert!(
            f.engine
                .executions(&machine, Some("FAILED"))
                .unwrap()
                .is_empty()
        );
    }
}

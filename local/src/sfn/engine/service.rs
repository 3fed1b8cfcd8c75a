//! The engine and its API operations: activities, state machines, executions and task tokens.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, params};
use serde_json::{Map, Value, json};
use tokio::sync::Notify;

use crate::clock::Clock;
use crate::invoker::Invoker;
use crate::logs::LogSink;
use crate::sfn::asl::Definition;
use crate::sfn::engine::cursor::{Cursor, Phase, lock};
use crate::sfn::engine::records::{
    ActivityTask, ApiError, ExecutionRecord, HistoryEvent, StateMachineRecord, arn,
};
use crate::sfn::engine::rows::{append_event, close_tasks, execution_row, type_name};
use crate::store::Store;

/// The engine. `I` runs the Lambda functions.
pub struct StepFunctions<I> {
    pub(crate) store: Arc<Store>,
    pub(crate) invoker: Arc<I>,
    /// `<app>-<stage>-`: what the functions' full names start with.
    pub(crate) function_prefix: String,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) logs: Option<LogSink>,
    /// How long `GetActivityTask` waits for a task (60 s, as AWS).
    pub(crate) poll_timeout: Duration,
    pub(crate) wakers: Mutex<HashMap<String, Arc<Notify>>>,
    pub(crate) activity_signals: Mutex<HashMap<String, Arc<Notify>>>,
    pub(crate) drivers: Mutex<HashSet<String>>,
}

/// The columns [`state_machine_row`] reads, in its order.
const STATE_MACHINE_COLUMNS: &str = "arn, name, definition, role_arn, created_ms";

fn state_machine_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<StateMachineRecord> {
    Ok(StateMachineRecord {
        arn: r.get(0)?,
        name: r.get(1)?,
        definition: r.get(2)?,
        role_arn: r.get(3)?,
        created_ms: r.get(4)?,
    })
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

    pub(crate) fn now(&self) -> i64 {
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

    pub(crate) fn log(&self, line: &str) {
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
        self.delete_row("sfn_activities", arn)
    }

    /// Deletes the row of `arn` from `table` (`sfn_activities`, `sfn_state_machines`).
    fn delete_row(&self, table: &'static str, arn: &str) -> Result<(), ApiError> {
        let sql = format!("DELETE FROM {table} WHERE arn = ?1");
        self.store
            .with_connection(|c| c.execute(&sql, [arn]).map(drop))?;
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
                    &format!(
                        "SELECT {STATE_MACHINE_COLUMNS} FROM sfn_state_machines WHERE arn = ?1"
                    ),
                    [arn],
                    state_machine_row,
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
            let mut stmt = c.prepare(&format!(
                "SELECT {STATE_MACHINE_COLUMNS} FROM sfn_state_machines ORDER BY name"
            ))?;
            stmt.query_map([], state_machine_row)?.collect()
        })?)
    }

    /// Deletes state machine `arn`; its running executions go on with their definition.
    ///
    /// # Errors
    /// On database failure.
    pub fn delete_state_machine(&self, arn: &str) -> Result<(), ApiError> {
        self.delete_row("sfn_state_machines", arn)
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

    /// Waits up to `poll_timeout` for a task of activity `activity_arn`.
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
        if !crate::sfn::token::token_is_well_formed(token) {
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
}

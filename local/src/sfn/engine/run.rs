//! One step of a running execution: loaded, advanced state by state, saved; `Pass`, `Wait`,
//! `Choice`, `Succeed` and `Fail`, and how a state exits.

use rusqlite::{Connection, OptionalExtension, params};
use serde_json::{Value, json};

use crate::clock::rfc3339_millis;
use crate::invoker::Invoker;
use crate::sfn::asl::{self, Definition, Failure, Kind, State, Transition, WaitFor};
use crate::sfn::engine::cursor::{Cursor, Effect, InvokeJob, MAX_HISTORY_EVENTS, Phase, Wake};
use crate::sfn::engine::fanout;
use crate::sfn::engine::rows::{append_event, close_tasks, type_name};
use crate::sfn::engine::service::StepFunctions;

/// A running execution, loaded for one step of its driver.
pub(crate) struct Run {
    pub(crate) arn: String,
    pub(crate) machine_arn: String,
    pub(crate) name: String,
    pub(crate) input: String,
    pub(crate) role_arn: String,
    pub(crate) start_ms: i64,
    pub(crate) definition: Definition,
    pub(crate) cursor: Cursor,
    finished: bool,
    /// The frame being advanced (indexes from the execution's cursor down; empty: the
    /// execution itself): `definition` and `cursor` are then the branch's.
    pub(crate) frame: Vec<usize>,
    /// How the frame being advanced ended, once it has.
    pub(crate) frame_end: Option<Result<Value, Failure>>,
}

/// How a state ended.
pub(crate) enum Exit {
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
    pub(crate) fn load(tx: &Connection, arn: &str) -> rusqlite::Result<Option<Self>> {
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
            frame: Vec::new(),
            frame_end: None,
        }))
    }

    pub(crate) fn save(&self, tx: &Connection) -> rusqlite::Result<()> {
        // A frame's cursor is saved within the execution's, once it is swapped back.
        if self.finished || !self.frame.is_empty() {
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
    pub(crate) fn context(&self, token: Option<&str>) -> Value {
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
                "StartTime": rfc3339_millis(self.start_ms),
            },
            "State": {
                "EnteredTime": rfc3339_millis(self.cursor.entered_ms),
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

    pub(crate) fn state(&self) -> Option<&State> {
        self.definition.states.get(&self.cursor.state)
    }

    pub(crate) fn advance<I: Invoker>(
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
            let Some(exit) = self.phase_exit(tx, engine, now, effects)? else {
                continue;
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
                    // A frame's invocation is in the frame's cursor already.
                    if job.frame.is_empty() {
                        self.cursor.phase = Phase::Invoke(job.clone());
                    }
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

    /// What the cursor's phase leads to now; `None`: look again (a backoff ended).
    pub(crate) fn phase_exit<I: Invoker>(
        &mut self,
        tx: &Connection,
        engine: &StepFunctions<I>,
        now: i64,
        effects: &mut Vec<Effect>,
    ) -> rusqlite::Result<Option<Exit>> {
        Ok(Some(match self.cursor.phase.clone() {
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
                    return Ok(None);
                }
                Exit::Pending(Some(until_ms))
            }
            Phase::Task { token } => self.check_task(tx, now, &token)?,
            Phase::Invoke(job) => Exit::Invoke(job),
            Phase::Invoked { output, failure } => {
                let result = match (output, failure) {
                    (Some(output), None) => Ok(output),
                    (_, Some((error, cause))) => Err(Failure { error, cause }),
                    (None, None) => Err(Failure::runtime("the invocation ended without a result")),
                };
                match self.complete_task(tx, now, result)? {
                    Exit::Continue => return Ok(None),
                    exit => exit,
                }
            }
            Phase::Fanout { .. } => self.advance_frames(tx, engine, now, effects)?,
        }))
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
        if !self.frame.is_empty() {
            // A branch ended: its state sees it.
            self.frame_end = Some(match (status, failure) {
                ("SUCCEEDED", _) => Ok(output.cloned().unwrap_or(Value::Null)),
                (_, Some(failure)) => Err(failure),
                (_, None) => Err(Failure::runtime("the branch failed")),
            });
            return Ok(());
        }
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
    pub(crate) fn exit(
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
                    Kind::Parallel(p) => p.outcome.retry.len(),
                    Kind::Map(m) => m.outcome.retry.len(),
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

    /// Runs the current `Parallel` or `Map` state: its branches run to their end now, their
    /// events are written, and its retriers and catchers see a failure as a `Task`'s do.
    fn run_fanout(&mut self, tx: &Connection, now: i64, state: &State) -> rusqlite::Result<Exit> {
        if fanout::waits(state) {
            return self.start_frames(tx, now, state);
        }
        let context = self.context(None);
        let raw = self.cursor.input.clone();
        let mut events = Vec::new();
        let (outcome, output) = match asl::apply_path(&state.input_path, &raw, &context) {
            Ok(effective) => {
                fanout::run_fanout(state, &raw, &effective, &context, now, &mut events)
            }
            Err(failure) => (None, Err(failure)),
        };
        for (kind, key, details) in events {
            let details = (!key.is_empty()).then_some((key, details));
            append_event(tx, &self.arn, now, &kind, details)?;
        }
        Ok(match (output, outcome) {
            (Ok(output), _) => Exit::Output(output),
            (Err(failure), Some(outcome)) => {
                self.handle_failure(now, &outcome.retry, &outcome.catch, failure)
            }
            (Err(failure), None) => Exit::Fail(failure),
        })
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
        if matches!(state.kind, Kind::Parallel(_) | Kind::Map(_)) {
            return self.run_fanout(tx, now, &state);
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
                            value.as_str().and_then(crate::clock::parse_rfc3339).ok_or_else(|| {
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
                Kind::Parallel(_) | Kind::Map(_) => {
                    Err(Failure::runtime("a Parallel or Map state is run apart"))
                }
            }
        })();
        Ok(result.unwrap_or_else(Exit::Fail))
    }
}

//! `Parallel` and `Map` states whose branches wait (a `Task`, a `Wait`): each branch or
//! iteration is a frame, a cursor kept in the execution's own (`Phase::Fanout`), so it is saved
//! in the same transaction and a restart resumes it. The driver advances every running frame
//! in each step by swapping the frame's machine and cursor in (`Run::frame` says which).

use rusqlite::Connection;
use serde_json::{Value, json};

use crate::invoker::Invoker;
use crate::sfn::asl::{self, Definition, Failure, Kind, State};
use crate::sfn::engine::cursor::{Cursor, Effect, Frame, Phase};
use crate::sfn::engine::fanout;
use crate::sfn::engine::rows::{append_event, type_name};
use crate::sfn::engine::run::{Exit, Run};
use crate::sfn::engine::service::StepFunctions;

/// Where a frame stopped in this step.
enum FrameStop {
    /// Waiting until then (if ever).
    Sleep(Option<i64>),
    /// It needs this invocation made.
    Invoke(crate::sfn::engine::cursor::InvokeJob),
    /// It ended (`Run::frame_end` says how).
    Ended,
}

/// The cursor of the frame at `path` below `cursor`.
pub(crate) fn frame_cursor_mut<'a>(
    cursor: &'a mut Cursor,
    path: &[usize],
) -> Option<&'a mut Cursor> {
    match path.split_first() {
        None => Some(cursor),
        Some((i, rest)) => match &mut cursor.phase {
            Phase::Fanout { frames, .. } => frames
                .get_mut(*i)
                .and_then(|f| frame_cursor_mut(&mut f.cursor, rest)),
            _ => None,
        },
    }
}

fn machine_of(state: &State, index: usize) -> Option<&Definition> {
    match &state.kind {
        Kind::Parallel(p) => p.branches.get(index),
        Kind::Map(m) => Some(&m.processor),
        _ => None,
    }
}

impl Run {
    /// Enters a waiting `Parallel`/`Map` state: its frames, none started yet.
    pub(crate) fn start_frames(
        &mut self,
        tx: &Connection,
        now: i64,
        state: &State,
    ) -> rusqlite::Result<Exit> {
        let context = self.context(None);
        let inputs = asl::apply_path(&state.input_path, &self.cursor.input, &context)
            .and_then(|effective| fanout::frame_inputs(state, &effective, &context));
        let (inputs, max_concurrency) = match inputs {
            Ok(inputs) => inputs,
            Err(failure) => return Ok(Exit::Fail(failure)),
        };
        let kind = type_name(state);
        let details = match &state.kind {
            Kind::Map(_) => Some((
                "mapStateStartedEventDetails",
                json!({"length": inputs.len()}),
            )),
            _ => None,
        };
        append_event(tx, &self.arn, now, &format!("{kind}StateStarted"), details)?;
        let frames = inputs
            .into_iter()
            .enumerate()
            .map(|(i, input)| Frame {
                cursor: Cursor {
                    state: machine_of(state, i)
                        .map(|m| m.start_at.clone())
                        .unwrap_or_default(),
                    input,
                    entered_ms: now,
                    retries: Vec::new(),
                    phase: Phase::Run,
                },
                started: false,
                output: None,
                failure: None,
            })
            .collect();
        self.cursor.phase = Phase::Fanout {
            frames,
            max_concurrency,
        };
        Ok(Exit::Continue)
    }

    /// Advances every running frame of the current state as far as it goes; starts frames up
    /// to `MaxConcurrency`; when all have ended, the state's result, or its failure.
    pub(crate) fn advance_frames<I: Invoker>(
        &mut self,
        tx: &Connection,
        engine: &StepFunctions<I>,
        now: i64,
        effects: &mut Vec<Effect>,
    ) -> rusqlite::Result<Exit> {
        let Some(state) = self.state().cloned() else {
            return Ok(Exit::Fail(Failure::runtime("unknown state")));
        };
        let Phase::Fanout {
            mut frames,
            max_concurrency,
        } = self.cursor.phase.clone()
        else {
            return Ok(Exit::Fail(Failure::runtime("no frames")));
        };
        let is_map = matches!(state.kind, Kind::Map(_));
        let limit = if max_concurrency == 0 {
            usize::MAX
        } else {
            max_concurrency
        };
        let ended = |f: &Frame| f.output.is_some() || f.failure.is_some();
        let mut running = frames.iter().filter(|f| f.started && !ended(f)).count();
        let mut until: Option<i64> = None;
        let mut invoke = None;
        let mut failed = None;
        for (i, frame) in frames.iter_mut().enumerate() {
            if ended(frame) {
                continue;
            }
            if !frame.started {
                if running >= limit {
                    continue;
                }
                running += 1;
                frame.started = true;
                frame.cursor.entered_ms = now;
                let iteration = json!({"name": state.name, "index": i});
                if is_map {
                    append_event(
                        tx,
                        &self.arn,
                        now,
                        "MapIterationStarted",
                        Some(("mapIterationStartedEventDetails", iteration)),
                    )?;
                }
                let Some(machine) = machine_of(&state, i) else {
                    continue;
                };
                if let Some(first) = machine.states.get(&frame.cursor.state) {
                    append_event(
                        tx,
                        &self.arn,
                        now,
                        &format!("{}StateEntered", type_name(first)),
                        Some((
                            "stateEnteredEventDetails",
                            json!({"name": first.name, "input": frame.cursor.input.to_string(), "inputDetails": {"truncated": false}}),
                        )),
                    )?;
                }
            }
            let Some(machine) = machine_of(&state, i).cloned() else {
                continue;
            };
            let outer_definition = std::mem::replace(&mut self.definition, machine);
            let outer_cursor = std::mem::replace(&mut self.cursor, frame.cursor.clone());
            self.frame.push(i);
            let stop = self.advance_frame(tx, engine, now, effects);
            self.frame.pop();
            frame.cursor = std::mem::replace(&mut self.cursor, outer_cursor);
            self.definition = outer_definition;
            let end = self.frame_end.take();
            match stop? {
                FrameStop::Sleep(at) => {
                    until = match (until, at) {
                        (Some(a), Some(b)) => Some(a.min(b)),
                        (a, b) => a.or(b),
                    };
                }
                FrameStop::Invoke(job) => {
                    invoke.get_or_insert(job);
                }
                FrameStop::Ended => {}
            }
            let iteration = json!({"name": state.name, "index": i});
            match end {
                Some(Ok(output)) => {
                    frame.output = Some(output);
                    running -= 1;
                    if is_map {
                        append_event(
                            tx,
                            &self.arn,
                            now,
                            "MapIterationSucceeded",
                            Some(("mapIterationSucceededEventDetails", iteration)),
                        )?;
                    }
                }
                Some(Err(failure)) => {
                    frame.failure = Some((failure.error.clone(), failure.cause.clone()));
                    if is_map {
                        append_event(
                            tx,
                            &self.arn,
                            now,
                            "MapIterationFailed",
                            Some(("mapIterationFailedEventDetails", iteration)),
                        )?;
                    }
                    failed = Some(failure);
                    break;
                }
                None => {}
            }
        }
        let kind = type_name(&state);
        if let Some(failure) = failed {
            // The other frames stop: their open tasks are closed, their tokens refused; a
            // `Map` records each running iteration as aborted.
            for (i, frame) in frames.iter().enumerate() {
                close_frame_tasks(tx, &frame.cursor)?;
                if is_map && frame.started && !ended(frame) {
                    append_event(
                        tx,
                        &self.arn,
                        now,
                        "MapIterationAborted",
                        Some((
                            "mapIterationAbortedEventDetails",
                            json!({"name": state.name, "index": i}),
                        )),
                    )?;
                }
            }
            append_event(tx, &self.arn, now, &format!("{kind}StateFailed"), None)?;
            self.cursor.phase = Phase::Run;
            return Ok(self.fanout_failure(now, &state, failure));
        }
        if frames.iter().all(ended) {
            append_event(tx, &self.arn, now, &format!("{kind}StateSucceeded"), None)?;
            let outputs: Vec<Value> = frames.into_iter().filter_map(|f| f.output).collect();
            self.cursor.phase = Phase::Run;
            let context = self.context(None);
            let outcome = match &state.kind {
                Kind::Parallel(p) => &p.outcome,
                Kind::Map(m) => &m.outcome,
                _ => return Ok(Exit::Fail(Failure::runtime("not a Parallel or Map state"))),
            };
            let raw = self.cursor.input.clone();
            return Ok(
                match fanout::finish(&state, outcome, &raw, Value::Array(outputs), &context) {
                    Ok(output) => Exit::Output(output),
                    Err(failure) => self.fanout_failure(now, &state, failure),
                },
            );
        }
        self.cursor.phase = Phase::Fanout {
            frames,
            max_concurrency,
        };
        Ok(match invoke {
            Some(job) => Exit::Invoke(job),
            None => Exit::Pending(until),
        })
    }

    fn fanout_failure(&mut self, now: i64, state: &State, failure: Failure) -> Exit {
        match &state.kind {
            Kind::Parallel(p) => {
                self.handle_failure(now, &p.outcome.retry, &p.outcome.catch, failure)
            }
            Kind::Map(m) => self.handle_failure(now, &m.outcome.retry, &m.outcome.catch, failure),
            _ => Exit::Fail(failure),
        }
    }

    /// Advances the swapped-in frame until it waits or ends.
    fn advance_frame<I: Invoker>(
        &mut self,
        tx: &Connection,
        engine: &StepFunctions<I>,
        now: i64,
        effects: &mut Vec<Effect>,
    ) -> rusqlite::Result<FrameStop> {
        // As many transitions as AWS allows events in an execution.
        for _ in 0..25_000 {
            let Some(exit) = self.phase_exit(tx, engine, now, effects)? else {
                continue;
            };
            match exit {
                Exit::Pending(until) => return Ok(FrameStop::Sleep(until)),
                Exit::Invoke(job) => {
                    if job.frame == self.frame {
                        self.cursor.phase = Phase::Invoke(job.clone());
                    }
                    return Ok(FrameStop::Invoke(job));
                }
                Exit::Wait { until_ms, output } => {
                    self.cursor.phase = Phase::Wait { until_ms, output };
                }
                Exit::Continue => {}
                other => {
                    self.exit(tx, now, other, effects)?;
                    if self.frame_end.is_some() {
                        return Ok(FrameStop::Ended);
                    }
                }
            }
        }
        self.frame_end = Some(Err(Failure::runtime(
            "A branch passed through more than 25000 states.",
        )));
        Ok(FrameStop::Ended)
    }
}

/// Closes the open tasks of a frame (and of the frames inside it).
fn close_frame_tasks(tx: &Connection, cursor: &Cursor) -> rusqlite::Result<()> {
    match &cursor.phase {
        Phase::Task { token } => {
            tx.execute(
                "UPDATE sfn_tasks SET status = 'closed' WHERE token = ?1 AND status IN ('scheduled', 'started')",
                [token],
            )?;
        }
        Phase::Fanout { frames, .. } => {
            for frame in frames {
                close_frame_tasks(tx, &frame.cursor)?;
            }
        }
        _ => {}
    }
    Ok(())
}

//! `Parallel` and `Map` states whose branches run to their end within the step that enters
//! the state: branches made of `Pass`, `Choice`, `Succeed`, `Fail`, a `Wait` already due, and
//! nested `Parallel`/`Map` states of the same kind. Results are joined in branch and item
//! order; the first branch or iteration to fail fails the state with its error and cause.
//!
//! A `Task` or a `Wait` that would wait inside a branch needs the branch to outlive the step
//! (the frames of docs/local.md's design): until then it fails the state with
//! `States.Runtime`, naming the state.

use serde_json::{Value, json};

use crate::clock::rfc3339_millis;
use crate::sfn::asl::{self, Definition, Failure, Kind, MapState, Operand, Parallel, Transition};

/// The most states one branch may pass through (AWS's history limit for a whole execution).
const MAX_TRANSITIONS: usize = 25_000;

/// The history events a branch wrote: type, `…EventDetails` member and value (none where the
/// member is empty).
pub(crate) type Events = Vec<(String, &'static str, Value)>;

/// Runs a `Parallel` state's branches on its effective input (after `InputPath`): the array
/// of their outputs, in branch order.
pub(crate) fn run_parallel(
    parallel: &Parallel,
    effective: &Value,
    context: &Value,
    now: i64,
    events: &mut Events,
) -> Result<Value, Failure> {
    let input = match &parallel.parameters {
        Some(template) => asl::evaluate_template(template, effective, context)?,
        None => effective.clone(),
    };
    let mut outputs = Vec::with_capacity(parallel.branches.len());
    for branch in &parallel.branches {
        outputs.push(run_machine(branch, input.clone(), context, now, events)?);
    }
    Ok(Value::Array(outputs))
}

/// Runs a `Map` state's iterations on its effective input: the array of their outputs, in
/// item order.
pub(crate) fn run_map(
    map: &MapState,
    effective: &Value,
    context: &Value,
    now: i64,
    events: &mut Events,
) -> Result<Value, Failure> {
    let items = match &map.items_path {
        Some(path) => path.select(effective, context)?,
        None => effective.clone(),
    };
    let Value::Array(items) = items else {
        return Err(Failure::runtime(format!(
            "The ItemsPath of a Map state must select an array, not {items}"
        )));
    };
    // `MaxConcurrency` bounds how many iterations run at once; here one runs at a time.
    if let Operand::Path(path) = &map.max_concurrency {
        let value = path.select(effective, context)?;
        if value.as_u64().is_none() {
            return Err(Failure::runtime(format!(
                "The MaxConcurrencyPath field refers to {value}, not a non-negative integer"
            )));
        }
    }
    events.push((
        "MapStateStarted".to_owned(),
        "mapStateStartedEventDetails",
        json!({"length": items.len()}),
    ));
    let state_name = context["State"]["Name"].clone();
    let mut outputs = Vec::with_capacity(items.len());
    for (index, item) in items.into_iter().enumerate() {
        let mut item_context = context.clone();
        item_context["Map"] = json!({"Item": {"Index": index, "Value": item}});
        let input = match &map.item_selector {
            Some(template) => asl::evaluate_template(template, effective, &item_context)?,
            None => item,
        };
        let details = json!({"name": state_name, "index": index});
        events.push((
            "MapIterationStarted".to_owned(),
            "mapIterationStartedEventDetails",
            details.clone(),
        ));
        match run_machine(&map.processor, input, context, now, events) {
            Ok(output) => {
                events.push((
                    "MapIterationSucceeded".to_owned(),
                    "mapIterationSucceededEventDetails",
                    details,
                ));
                outputs.push(output);
            }
            Err(failure) => {
                events.push((
                    "MapIterationFailed".to_owned(),
                    "mapIterationFailedEventDetails",
                    details,
                ));
                return Err(failure);
            }
        }
    }
    Ok(Value::Array(outputs))
}

/// Whether a `Parallel` or `Map` state's branches may wait (a `Task` or `Wait` in them, at any
/// depth): then they run as frames kept in the execution's cursor.
pub(crate) fn waits(state: &asl::State) -> bool {
    fn machine_waits(machine: &Definition) -> bool {
        machine.states.values().any(|s| match &s.kind {
            Kind::Task(_) | Kind::Wait(_) => true,
            Kind::Parallel(p) => p.branches.iter().any(machine_waits),
            Kind::Map(m) => machine_waits(&m.processor),
            _ => false,
        })
    }
    match &state.kind {
        Kind::Parallel(p) => p.branches.iter().any(machine_waits),
        Kind::Map(m) => machine_waits(&m.processor),
        _ => false,
    }
}

/// The inputs of a `Parallel` state's branches or a `Map` state's iterations, and
/// `MaxConcurrency` (0: no limit).
pub(crate) fn frame_inputs(
    state: &asl::State,
    effective: &Value,
    context: &Value,
) -> Result<(Vec<Value>, usize), Failure> {
    match &state.kind {
        Kind::Parallel(parallel) => {
            let input = match &parallel.parameters {
                Some(template) => asl::evaluate_template(template, effective, context)?,
                None => effective.clone(),
            };
            Ok((vec![input; parallel.branches.len()], 0))
        }
        Kind::Map(map) => {
            let items = match &map.items_path {
                Some(path) => path.select(effective, context)?,
                None => effective.clone(),
            };
            let Value::Array(items) = items else {
                return Err(Failure::runtime(format!(
                    "The ItemsPath of a Map state must select an array, not {items}"
                )));
            };
            let limit = match &map.max_concurrency {
                Operand::Literal(v) => v.as_u64(),
                Operand::Path(path) => path.select(effective, context)?.as_u64(),
            }
            .ok_or_else(|| {
                Failure::runtime("MaxConcurrencyPath must select a non-negative integer")
            })?;
            let mut inputs = Vec::with_capacity(items.len());
            for (index, item) in items.into_iter().enumerate() {
                let mut item_context = context.clone();
                item_context["Map"] = json!({"Item": {"Index": index, "Value": item}});
                inputs.push(match &map.item_selector {
                    Some(template) => asl::evaluate_template(template, effective, &item_context)?,
                    None => item,
                });
            }
            Ok((inputs, usize::try_from(limit).unwrap_or(usize::MAX)))
        }
        _ => Err(Failure::runtime("not a Parallel or Map state")),
    }
}

/// Runs one branch from its `StartAt` to its end: its output.
fn run_machine(
    machine: &Definition,
    input: Value,
    context: &Value,
    now: i64,
    events: &mut Events,
) -> Result<Value, Failure> {
    let mut name = machine.start_at.clone();
    let mut raw = input;
    for _ in 0..MAX_TRANSITIONS {
        let state = machine
            .states
            .get(&name)
            .ok_or_else(|| Failure::runtime(format!("no state `{name}`")))?;
        let type_name = type_name(&state.kind);
        events.push((
            format!("{type_name}StateEntered"),
            "stateEnteredEventDetails",
            json!({"name": name, "input": raw.to_string(), "inputDetails": {"truncated": false}}),
        ));
        let mut context = context.clone();
        if let Some(object) = context.as_object_mut() {
            object.remove("Map");
        }
        context["State"] =
            json!({"EnteredTime": rfc3339_millis(now), "Name": name, "RetryCount": 0});
        let (next, output) = run_state(state, &raw, &context, now, events)?;
        events.push((
            format!("{type_name}StateExited"),
            "stateExitedEventDetails",
            json!({"name": name, "output": output.to_string(), "outputDetails": {"truncated": false}}),
        ));
        match next {
            Some(next) => {
                name = next;
                raw = output;
            }
            None => return Ok(output),
        }
    }
    Err(Failure::runtime(
        "A branch passed through more than 25000 states.",
    ))
}

/// Runs one state of a branch: the state to go to (none at the branch's end), and the output.
fn run_state(
    state: &asl::State,
    raw: &Value,
    context: &Value,
    now: i64,
    events: &mut Events,
) -> Result<(Option<String>, Value), Failure> {
    let effective = asl::apply_path(&state.input_path, raw, context)?;
    let then = |output: Value| {
        let next = match &state.transition {
            Some(Transition::Next(next)) => Some(next.clone()),
            _ => None,
        };
        (next, output)
    };
    let not_yet = |what: &str| {
        Failure::runtime(format!(
            "{what} inside a Parallel or Map branch (state `{}`) is not run by portico local yet",
            state.name
        ))
    };
    match &state.kind {
        Kind::Pass {
            result,
            parameters,
            result_path,
        } => {
            let value = match (result, parameters) {
                (Some(r), _) => r.clone(),
                (None, Some(p)) => asl::evaluate_template(p, &effective, context)?,
                (None, None) => effective,
            };
            let combined = asl::apply_result_path(result_path, raw, value)?;
            Ok(then(asl::apply_path(
                &state.output_path,
                &combined,
                context,
            )?))
        }
        Kind::Choice { choices, default } => {
            let output = asl::apply_path(&state.output_path, &effective, context)?;
            for (rule, next) in choices {
                if rule.holds(&effective, context)? {
                    return Ok((Some(next.clone()), output));
                }
            }
            match default {
                Some(next) => Ok((Some(next.clone()), output)),
                None => Err(Failure {
                    error: "States.NoChoiceMatched".to_owned(),
                    cause: format!("No Matches! (state `{}`)", state.name),
                }),
            }
        }
        Kind::Wait(asl::WaitFor::Timestamp(at)) if *at <= now => Ok(then(asl::apply_path(
            &state.output_path,
            &effective,
            context,
        )?)),
        Kind::Wait(_) => Err(not_yet("A Wait state")),
        Kind::Task(_) => Err(not_yet("A Task state")),
        Kind::Succeed => Ok((
            None,
            asl::apply_path(&state.output_path, &effective, context)?,
        )),
        Kind::Fail { error, cause } => {
            let pick = |operand: &Option<Operand>| -> Result<String, Failure> {
                Ok(match operand {
                    None => String::new(),
                    Some(Operand::Literal(v)) => v.as_str().unwrap_or_default().to_owned(),
                    Some(Operand::Path(p)) => match p.select(raw, context)? {
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
        Kind::Parallel(_) | Kind::Map(_) => {
            let (outcome, output) = run_fanout(state, raw, &effective, context, now, events);
            match output {
                Ok(output) => Ok(then(output)),
                // Retrying would rerun the same branches on the same input to the same end
                // (their states are pure), so a catcher decides at once.
                Err(failure) if failure.error == asl::RUNTIME => Err(failure),
                Err(failure) => match outcome
                    .into_iter()
                    .flat_map(|o| o.catch.iter())
                    .find(|c| c.handles(&failure.error))
                {
                    Some(catcher) => {
                        let error = json!({"Error": failure.error, "Cause": failure.cause});
                        let output = asl::apply_result_path(&catcher.result_path, raw, error)?;
                        Ok((Some(catcher.next.clone()), output))
                    }
                    None => Err(failure),
                },
            }
        }
    }
}

/// Runs a `Parallel` or `Map` state (`effective` is its input after `InputPath`), with its
/// `…StateStarted` and `…StateSucceeded`/`…StateFailed` events: its `Retry`/`Catch` fields and
/// its output (after `ResultSelector`, `ResultPath` and `OutputPath`) or failure.
pub(crate) fn run_fanout<'a>(
    state: &'a asl::State,
    raw: &Value,
    effective: &Value,
    context: &Value,
    now: i64,
    events: &mut Events,
) -> (Option<&'a asl::Outcome>, Result<Value, Failure>) {
    let (kind, outcome, result) = match &state.kind {
        Kind::Parallel(p) => {
            events.push(("ParallelStateStarted".to_owned(), "", Value::Null));
            (
                "Parallel",
                &p.outcome,
                run_parallel(p, effective, context, now, events),
            )
        }
        Kind::Map(m) => (
            "Map",
            &m.outcome,
            run_map(m, effective, context, now, events),
        ),
        _ => return (None, Err(Failure::runtime("not a Parallel or Map state"))),
    };
    let end = if result.is_ok() {
        "Succeeded"
    } else {
        "Failed"
    };
    events.push((format!("{kind}State{end}"), "", Value::Null));
    let output = result.and_then(|value| finish(state, outcome, raw, value, context));
    (Some(outcome), output)
}

/// A `Parallel` or `Map` state's result through `ResultSelector`, `ResultPath` and
/// `OutputPath`: its output.
pub(crate) fn finish(
    state: &asl::State,
    outcome: &asl::Outcome,
    raw: &Value,
    result: Value,
    context: &Value,
) -> Result<Value, Failure> {
    let selected = match &outcome.result_selector {
        Some(selector) => asl::evaluate_template(selector, &result, context)?,
        None => result,
    };
    let combined = asl::apply_result_path(&outcome.result_path, raw, selected)?;
    asl::apply_path(&state.output_path, &combined, context)
}

fn type_name(kind: &Kind) -> &'static str {
    match kind {
        Kind::Pass { .. } => "Pass",
        Kind::Task(_) => "Task",
        Kind::Choice { .. } => "Choice",
        Kind::Wait(_) => "Wait",
        Kind::Succeed => "Succeed",
        Kind::Fail { .. } => "Fail",
        Kind::Parallel(_) => "Parallel",
        Kind::Map(_) => "Map",
    }
}

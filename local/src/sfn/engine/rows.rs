//! The store's rows: executions read back, history events appended (within AWS's limit),
//! open tasks closed.

use rusqlite::{Connection, params};
use serde_json::{Value, json};

use crate::sfn::asl::{Kind, State};
use crate::sfn::engine::records::ExecutionRecord;

pub(crate) fn execution_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<ExecutionRecord> {
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
pub(crate) fn append_event(
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
pub(crate) fn close_tasks(tx: &Connection, arn: &str) -> rusqlite::Result<()> {
    tx.execute(
        "UPDATE sfn_tasks SET status = 'closed' WHERE execution_arn = ?1 AND status IN ('scheduled', 'started')",
        [arn],
    )
    .map(drop)
}

pub(crate) fn type_name(state: &State) -> &'static str {
    match state.kind {
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

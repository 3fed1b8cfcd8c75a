//! An execution's position (the cursor) and what one step of a driver leaves to do outside
//! the transaction: invocations, wake-ups and log lines.

use std::sync::Mutex;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A failing execution driver logs at most one line per this long.
pub(crate) const FAILURE_LOG_EVERY: Duration = Duration::from_secs(30);

/// AWS's limit on an execution's history: past it the execution fails.
pub(crate) const MAX_HISTORY_EVENTS: i64 = 25_000;

/// Where an execution is.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Cursor {
    pub(crate) state: String,
    /// The state's raw input.
    pub(crate) input: Value,
    pub(crate) entered_ms: i64,
    /// Retries used, per retrier of the state.
    pub(crate) retries: Vec<u32>,
    pub(crate) phase: Phase,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "phase")]
pub(crate) enum Phase {
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
    /// A frame's synchronous invocation ended with this result (the driver wrote it).
    Invoked {
        output: Option<Value>,
        failure: Option<(String, String)>,
    },
    /// A `Parallel` or `Map` state whose branches wait (a `Task`, a `Wait`): each branch or
    /// iteration is a frame with its own cursor, kept here, so it is saved with the execution.
    Fanout {
        /// One per branch or item, in order.
        frames: Vec<Frame>,
        /// `MaxConcurrency` (0: no limit): how many frames run at once.
        max_concurrency: usize,
    },
}

/// A branch or iteration of a `Parallel` or `Map` state.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Frame {
    /// Where the branch is (its `input` is the branch's input until it starts).
    pub(crate) cursor: Cursor,
    /// It has begun (its first state was entered).
    pub(crate) started: bool,
    /// Its output, once it ended.
    pub(crate) output: Option<Value>,
    /// Its `Error` and `Cause`, if it failed.
    pub(crate) failure: Option<(String, String)>,
}

/// A synchronous invocation the driver makes outside the transaction.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub(crate) struct InvokeJob {
    /// Tells this attempt from a later one.
    pub(crate) attempt: String,
    /// The entry point.
    pub(crate) function: String,
    /// The function's ARN, for events.
    pub(crate) function_arn: String,
    pub(crate) payload: Value,
    pub(crate) deadline_ms: Option<i64>,
    /// `lambda:invoke` (the result wraps the payload) rather than a function ARN.
    pub(crate) integration: bool,
    /// The frame that makes it (frame indexes from the execution's cursor down; empty: the
    /// execution itself).
    #[serde(default)]
    pub(crate) frame: Vec<usize>,
}

/// What the driver does next.
#[derive(Debug)]
pub(crate) enum Wake {
    /// The execution is over.
    Done,
    /// Sleep until this time (or until woken).
    Sleep(Option<i64>),
    /// Make this invocation.
    Invoke(InvokeJob),
}

/// What to do once the transaction is committed.
#[derive(Debug)]
pub(crate) enum Effect {
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

pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

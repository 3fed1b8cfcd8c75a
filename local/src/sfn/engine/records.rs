//! What the engine's API returns: its errors, and the activity, state machine, execution and
//! history records, with the ARNs the local cloud gives them.

use serde_json::Value;

use crate::invoker::{ACCOUNT, REGION};

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

/// `arn:aws:states:<region>:<account>:<kind>:<name>`.
pub fn arn(kind: &str, name: &str) -> String {
    format!("arn:aws:states:{REGION}:{ACCOUNT}:{kind}:{name}")
}

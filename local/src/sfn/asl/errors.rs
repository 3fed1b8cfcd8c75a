//! The error names Step Functions defines (`States.*`).

/// `States.ALL`: matches every error but `States.Runtime`.
pub const ALL: &str = "States.ALL";
/// `States.TaskFailed`: every error but timeouts and `States.Runtime`.
pub const TASK_FAILED: &str = "States.TaskFailed";
/// A task ran longer than `TimeoutSeconds` (or missed a heartbeat).
pub const TIMEOUT: &str = "States.Timeout";
/// A task sent no heartbeat within `HeartbeatSeconds`.
pub const HEARTBEAT_TIMEOUT: &str = "States.HeartbeatTimeout";
/// A path or template failed at run time: not caught, not retried.
pub const RUNTIME: &str = "States.Runtime";

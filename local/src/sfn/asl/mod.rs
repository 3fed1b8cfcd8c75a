//! Amazon States Language: a definition parsed and validated at load, and the pure parts of
//! running it (paths, `Parameters` templates, intrinsic functions, `Choice` rules, `Retry` and
//! `Catch` matching).
//!
//! What is not supported (JSONata, unknown fields, wildcard or filter
//! paths, intrinsic functions not listed in [`INTRINSICS`]) is refused at load with a message
//! naming the state and the field, as AWS's `SCHEMA_VALIDATION_FAILED` does; running a
//! definition never meets a construct it does not know.

mod choice;
mod dataflow;
mod errors;
mod intrinsics;
mod parse;
mod path;
mod retry;
mod types;

pub use dataflow::{apply_path, apply_result_path, evaluate_template};
pub use errors::{ALL, HEARTBEAT_TIMEOUT, RUNTIME, TASK_FAILED, TIMEOUT};
pub use path::{Failure, JsonPath, Step};
pub use retry::error_matches;
pub use types::{
    Catcher, Comparison, Definition, INTRINSICS, Kind, MapState, Operand, Order, Outcome, Parallel,
    PathField, Resource, ResultPath, Retrier, Rule, State, Task, Transition, WaitFor,
};

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

mod cursor;
mod driver;
mod fanout;
#[cfg(test)]
mod fanout_tests;
mod frames;
mod records;
mod rows;
mod run;
mod service;
mod task;
#[cfg(test)]
mod tests;

pub use records::{ActivityTask, ApiError, ExecutionRecord, HistoryEvent, StateMachineRecord, arn};
pub use service::StepFunctions;

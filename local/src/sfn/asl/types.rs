//! A parsed definition: states, their kinds and fields, `Choice` rules, retriers and catchers,
//! and the intrinsic functions supported.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::sfn::asl::path::JsonPath;

/// The intrinsic functions `Parameters` and `ResultSelector` may call.
pub const INTRINSICS: &[&str] = &[
    "States.Format",
    "States.StringToJson",
    "States.JsonToString",
    "States.Array",
    "States.ArrayPartition",
    "States.ArrayContains",
    "States.ArrayRange",
    "States.ArrayGetItem",
    "States.ArrayLength",
    "States.ArrayUnique",
    "States.Base64Encode",
    "States.Base64Decode",
    "States.Hash",
    "States.JsonMerge",
    "States.MathRandom",
    "States.MathAdd",
    "States.StringSplit",
    "States.UUID",
];

/// A parsed, validated state machine definition.
#[derive(Debug, Clone)]
pub struct Definition {
    /// `StartAt`.
    pub start_at: String,
    /// `States` by name.
    pub states: BTreeMap<String, State>,
    /// `TimeoutSeconds` of the whole execution.
    pub timeout_seconds: Option<u64>,
}

/// One state.
#[derive(Debug, Clone)]
pub struct State {
    /// Its name.
    pub name: String,
    /// `InputPath`.
    pub input_path: PathField,
    /// `OutputPath`.
    pub output_path: PathField,
    /// `Next` or `End` (for `Pass`, `Task`, `Wait`).
    pub transition: Option<Transition>,
    /// What kind of state, with its own fields.
    pub kind: Kind,
}

/// `Next` / `End`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transition {
    /// `Next`.
    Next(String),
    /// `End: true`.
    End,
}

/// `InputPath` / `OutputPath`: `$` when absent, `null` for `{}`.
#[derive(Debug, Clone, PartialEq)]
pub enum PathField {
    /// Absent or `$`.
    Whole,
    /// `null`.
    Empty,
    /// A path.
    Path(JsonPath),
}

/// `ResultPath`.
#[derive(Debug, Clone, PartialEq)]
pub enum ResultPath {
    /// Absent or `$`: the result replaces the input.
    Whole,
    /// `null`: the result is discarded.
    Discard,
    /// A reference path where the result goes into the input.
    At(JsonPath),
}

/// The states.
#[derive(Debug, Clone)]
pub enum Kind {
    /// `Pass`.
    Pass {
        /// `Result`.
        result: Option<Value>,
        /// `Parameters`.
        parameters: Option<Value>,
        /// `ResultPath`.
        result_path: ResultPath,
    },
    /// `Task`.
    Task(Box<Task>),
    /// `Choice`.
    Choice {
        /// `Choices`, each with its `Next`.
        choices: Vec<(Rule, String)>,
        /// `Default`.
        default: Option<String>,
    },
    /// `Wait`.
    Wait(WaitFor),
    /// `Succeed`.
    Succeed,
    /// `Parallel`.
    Parallel(Box<Parallel>),
    /// `Map`.
    Map(Box<MapState>),
    /// `Fail`.
    Fail {
        /// `Error` or `ErrorPath`.
        error: Option<Operand>,
        /// `Cause` or `CausePath`.
        cause: Option<Operand>,
    },
}

/// A `Task` state's fields.
#[derive(Debug, Clone)]
pub struct Task {
    /// `Resource`.
    pub resource: Resource,
    /// `Parameters`.
    pub parameters: Option<Value>,
    /// `ResultSelector`.
    pub result_selector: Option<Value>,
    /// `ResultPath`.
    pub result_path: ResultPath,
    /// `Retry`.
    pub retry: Vec<Retrier>,
    /// `Catch`.
    pub catch: Vec<Catcher>,
    /// `TimeoutSeconds`.
    pub timeout_seconds: Option<u64>,
    /// `HeartbeatSeconds`.
    pub heartbeat_seconds: Option<u64>,
    /// `TimeoutSecondsPath`: the timeout read from the state's input (after `InputPath`).
    pub timeout_seconds_path: Option<JsonPath>,
    /// `HeartbeatSecondsPath`: the heartbeat interval read like `TimeoutSecondsPath`.
    pub heartbeat_seconds_path: Option<JsonPath>,
}

/// What a `Parallel` or `Map` state does with its result, and its error handling: the fields
/// it shares with `Task`.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// `ResultSelector`.
    pub result_selector: Option<Value>,
    /// `ResultPath`.
    pub result_path: ResultPath,
    /// `Retry`.
    pub retry: Vec<Retrier>,
    /// `Catch`.
    pub catch: Vec<Catcher>,
}

/// A `Parallel` state's fields.
#[derive(Debug, Clone)]
pub struct Parallel {
    /// `Branches`: each a machine of its own (`StartAt`, `States`).
    pub branches: Vec<Definition>,
    /// `Parameters`: the branches' input.
    pub parameters: Option<Value>,
    /// `ResultSelector`, `ResultPath`, `Retry`, `Catch`.
    pub outcome: Outcome,
}

/// A `Map` state's fields.
#[derive(Debug, Clone)]
pub struct MapState {
    /// `ItemProcessor` (or the older `Iterator`): the machine each item runs.
    pub processor: Definition,
    /// `ProcessorConfig.Mode: "DISTRIBUTED"` (items from the input; no `ItemReader`).
    pub distributed: bool,
    /// `ItemsPath` (`None`: the whole effective input).
    pub items_path: Option<JsonPath>,
    /// `ItemSelector` (or the older `Parameters`): each iteration's input.
    pub item_selector: Option<Value>,
    /// `MaxConcurrency` (0, the default: no limit) or `MaxConcurrencyPath`.
    pub max_concurrency: Operand,
    /// `ToleratedFailurePercentage` or `…Path` (distributed mode).
    pub tolerated_failure_percentage: Option<Operand>,
    /// `ToleratedFailureCount` or `…Path` (distributed mode).
    pub tolerated_failure_count: Option<Operand>,
    /// `ResultSelector`, `ResultPath`, `Retry`, `Catch`.
    pub outcome: Outcome,
}

/// What a `Task` runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resource {
    /// An activity ARN: a worker takes the task with `GetActivityTask`.
    Activity(String),
    /// `arn:aws:states:::lambda:invoke`.
    LambdaInvoke,
    /// `arn:aws:states:::lambda:invoke.waitForTaskToken`.
    LambdaInvokeWaitForTaskToken,
    /// A Lambda function ARN: the function's output is the result.
    LambdaFunction(String),
}

/// A `Retry` entry.
#[derive(Debug, Clone, PartialEq)]
pub struct Retrier {
    /// `ErrorEquals`.
    pub errors: Vec<String>,
    /// `IntervalSeconds` (default 1).
    pub interval_seconds: u64,
    /// `MaxAttempts` (default 3).
    pub max_attempts: u32,
    /// `BackoffRate` (default 2.0).
    pub backoff_rate: f64,
    /// `MaxDelaySeconds`.
    pub max_delay_seconds: Option<u64>,
    /// `JitterStrategy: "FULL"` (`"NONE"`, the default, is `false`): each wait is drawn
    /// between 0 and the computed interval.
    pub full_jitter: bool,
}

/// A `Catch` entry.
#[derive(Debug, Clone, PartialEq)]
pub struct Catcher {
    /// `ErrorEquals`.
    pub errors: Vec<String>,
    /// `ResultPath` of the error output.
    pub result_path: ResultPath,
    /// `Next`.
    pub next: String,
}

/// How long a `Wait` state waits.
#[derive(Debug, Clone, PartialEq)]
pub enum WaitFor {
    /// `Seconds`.
    Seconds(u64),
    /// `Timestamp`, in Unix milliseconds.
    Timestamp(i64),
    /// `SecondsPath`.
    SecondsPath(JsonPath),
    /// `TimestampPath`.
    TimestampPath(JsonPath),
}

/// A literal value or a path (`Fail`'s `Error`/`ErrorPath`, a comparison's operand).
#[derive(Debug, Clone, PartialEq)]
pub enum Operand {
    /// A literal.
    Literal(Value),
    /// A path into the state's input (or `$$`, the context object).
    Path(JsonPath),
}

/// A `Choice` rule.
#[derive(Debug, Clone, PartialEq)]
pub enum Rule {
    /// `And`.
    And(Vec<Rule>),
    /// `Or`.
    Or(Vec<Rule>),
    /// `Not`.
    Not(Box<Rule>),
    /// `Variable` compared with `operand`.
    Compare {
        /// `Variable`.
        variable: JsonPath,
        /// The operator.
        op: Comparison,
        /// Its value (a literal, or a path for the `…Path` operators).
        operand: Operand,
    },
}

/// The comparison operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Comparison {
    /// `String…`.
    String(Order),
    /// `StringMatches`.
    StringMatches,
    /// `Numeric…`.
    Numeric(Order),
    /// `Boolean Equals`.
    BooleanEquals,
    /// `Timestamp…`.
    Timestamp(Order),
    /// `IsNull`.
    IsNull,
    /// `IsPresent`.
    IsPresent,
    /// `IsNumeric`.
    IsNumeric,
    /// `IsString`.
    IsString,
    /// `IsBoolean`.
    IsBoolean,
    /// `IsTimestamp`.
    IsTimestamp,
}

/// `Equals`, `LessThan`, … .
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    /// `…Equals`.
    Eq,
    /// `…LessThan`.
    Lt,
    /// `…GreaterThan`.
    Gt,
    /// `…LessThanEquals`.
    Le,
    /// `…GreaterThanEquals`.
    Ge,
}

impl Order {
    pub(crate) fn holds(self, ordering: std::cmp::Ordering) -> bool {
        use std::cmp::Ordering::{Equal, Greater, Less};
        match self {
            Self::Eq => ordering == Equal,
            Self::Lt => ordering == Less,
            Self::Gt => ordering == Greater,
            Self::Le => ordering != Greater,
            Self::Ge => ordering != Less,
        }
    }
}

/// The operators by name: `(name, comparison, whether the operand is a path)`.
pub(crate) fn comparisons() -> Vec<(String, Comparison, bool)> {
    let orders = [
        ("Equals", Order::Eq),
        ("LessThan", Order::Lt),
        ("GreaterThan", Order::Gt),
        ("LessThanEquals", Order::Le),
        ("GreaterThanEquals", Order::Ge),
    ];
    let mut all = Vec::new();
    for (prefix, make) in [
        ("String", Comparison::String as fn(Order) -> Comparison),
        ("Numeric", Comparison::Numeric),
        ("Timestamp", Comparison::Timestamp),
    ] {
        for (suffix, order) in orders {
            all.push((format!("{prefix}{suffix}"), make(order), false));
            all.push((format!("{prefix}{suffix}Path"), make(order), true));
        }
    }
    for (name, op) in [
        ("StringMatches", Comparison::StringMatches),
        ("BooleanEquals", Comparison::BooleanEquals),
    ] {
        all.push((name.to_owned(), op, false));
    }
    all.push((
        "BooleanEqualsPath".to_owned(),
        Comparison::BooleanEquals,
        true,
    ));
    for (name, op) in [
        ("IsNull", Comparison::IsNull),
        ("IsPresent", Comparison::IsPresent),
        ("IsNumeric", Comparison::IsNumeric),
        ("IsString", Comparison::IsString),
        ("IsBoolean", Comparison::IsBoolean),
        ("IsTimestamp", Comparison::IsTimestamp),
    ] {
        all.push((name.to_owned(), op, false));
    }
    all
}

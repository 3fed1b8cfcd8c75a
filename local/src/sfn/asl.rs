//! Amazon States Language: a definition parsed and validated at load, and the pure parts of
//! running it (paths, `Parameters` templates, intrinsic functions, `Choice` rules, `Retry` and
//! `Catch` matching).
//!
//! What is not supported (`Map`, `Parallel`, JSONata, unknown fields, wildcard or filter
//! paths, intrinsic functions not listed in [`INTRINSICS`]) is refused at load with a message
//! naming the state and the field, as AWS's `SCHEMA_VALIDATION_FAILED` does; running a
//! definition never meets a construct it does not know.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::time;

/// The intrinsic functions `Parameters` and `ResultSelector` may call.
pub const INTRINSICS: &[&str] = &[
    "States.Format",
    "States.StringToJson",
    "States.JsonToString",
    "States.Array",
    "States.UUID",
    "States.MathAdd",
];

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
    fn holds(self, ordering: std::cmp::Ordering) -> bool {
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
fn comparisons() -> Vec<(String, Comparison, bool)> {
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

// --- Paths -------------------------------------------------------------------------------

/// A JSONPath as ASL uses it: `$` (the input) or `$$` (the context object), then fields
/// (`.name`, `['name']`) and array indexes (`[0]`). No wildcards, filters or slices.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonPath {
    /// `$$`: the context object rather than the input.
    pub context: bool,
    /// The steps.
    pub steps: Vec<Step>,
}

/// One step of a [`JsonPath`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// A field.
    Field(String),
    /// An array index.
    Index(usize),
}

impl JsonPath {
    /// Parses `text`.
    ///
    /// # Errors
    /// What makes it unsupported or malformed.
    pub fn parse(text: &str) -> Result<Self, String> {
        let (context, mut rest) = if let Some(rest) = text.strip_prefix("$$") {
            (true, rest)
        } else if let Some(rest) = text.strip_prefix('$') {
            (false, rest)
        } else {
            return Err(format!("the path `{text}` does not start with `$`"));
        };
        let unsupported = || {
            format!(
                "the path `{text}` uses JSONPath that portico local does not support (wildcards, filters, slices, `..`)"
            )
        };
        let mut steps = Vec::new();
        while !rest.is_empty() {
            if let Some(after) = rest.strip_prefix('.') {
                if after.starts_with('.') || after.starts_with('*') {
                    return Err(unsupported());
                }
                let end = after.find(['.', '[']).unwrap_or(after.len());
                let name = &after[..end];
                if name.is_empty() {
                    return Err(format!("the path `{text}` has an empty field name"));
                }
                steps.push(Step::Field(name.to_owned()));
                rest = &after[end..];
            } else if let Some(after) = rest.strip_prefix('[') {
                let end = after
                    .find(']')
                    .ok_or_else(|| format!("the path `{text}` has an unclosed `[`"))?;
                let inner = &after[..end];
                let quoted = inner
                    .strip_prefix('\'')
                    .and_then(|s| s.strip_suffix('\''))
                    .or_else(|| inner.strip_prefix('"').and_then(|s| s.strip_suffix('"')));
                if let Some(name) = quoted {
                    steps.push(Step::Field(name.to_owned()));
                } else if let Ok(index) = inner.parse::<usize>() {
                    steps.push(Step::Index(index));
                } else {
                    return Err(unsupported());
                }
                rest = &after[end + 1..];
            } else {
                return Err(format!("the path `{text}` is malformed at `{rest}`"));
            }
        }
        Ok(Self { context, steps })
    }

    /// The value at this path in `input` (or `context` for `$$`), if there is one.
    pub fn get<'a>(&self, input: &'a Value, context: &'a Value) -> Option<&'a Value> {
        let mut at = if self.context { context } else { input };
        for step in &self.steps {
            at = match step {
                Step::Field(name) => at.as_object()?.get(name)?,
                Step::Index(i) => at.as_array()?.get(*i)?,
            };
        }
        Some(at)
    }

    /// The value at this path, or the `States.Runtime` failure AWS reports.
    ///
    /// # Errors
    /// When nothing is there.
    pub fn select(&self, input: &Value, context: &Value) -> Result<Value, Failure> {
        self.get(input, context).cloned().ok_or_else(|| {
            Failure::runtime(format!(
                "Invalid path '{}' : No results for path: $['{}']",
                self,
                self.steps
                    .iter()
                    .map(|s| match s {
                        Step::Field(f) => f.clone(),
                        Step::Index(i) => i.to_string(),
                    })
                    .collect::<Vec<_>>()
                    .join("']['")
            ))
        })
    }

    /// Puts `value` at this (reference) path of `target`, creating the objects on the way.
    ///
    /// # Errors
    /// `States.ResultPathMatchFailure` when the way crosses something that is not an object.
    pub fn put(&self, target: &mut Value, value: Value) -> Result<(), Failure> {
        let mut at = target;
        for (i, step) in self.steps.iter().enumerate() {
            let last = i + 1 == self.steps.len();
            let fail = || Failure {
                error: "States.ResultPathMatchFailure".to_owned(),
                cause: format!("Unable to apply ResultPath \"{self}\" to input"),
            };
            at = match step {
                Step::Field(name) => {
                    let object = at.as_object_mut().ok_or_else(fail)?;
                    if last {
                        object.insert(name.clone(), value);
                        return Ok(());
                    }
                    object
                        .entry(name.clone())
                        .or_insert_with(|| Value::Object(Map::new()))
                }
                Step::Index(index) => {
                    let slot = at
                        .as_array_mut()
                        .and_then(|a| a.get_mut(*index))
                        .ok_or_else(fail)?;
                    if last {
                        *slot = value;
                        return Ok(());
                    }
                    slot
                }
            };
        }
        *at = value;
        Ok(())
    }
}

impl std::fmt::Display for JsonPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.context { "$$" } else { "$" })?;
        for step in &self.steps {
            match step {
                Step::Field(name) if name.chars().all(|c| c.is_alphanumeric() || c == '_') => {
                    write!(f, ".{name}")?;
                }
                Step::Field(name) => write!(f, "['{name}']")?,
                Step::Index(i) => write!(f, "[{i}]")?,
            }
        }
        Ok(())
    }
}

/// An error a state ends with: `Error` and `Cause`, as `Catch` sees them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// `Error`.
    pub error: String,
    /// `Cause`.
    pub cause: String,
}

impl Failure {
    /// A `States.Runtime` failure.
    pub fn runtime(cause: impl Into<String>) -> Self {
        Self {
            error: RUNTIME.to_owned(),
            cause: cause.into(),
        }
    }
}

// --- Data flow ---------------------------------------------------------------------------

/// Applies `InputPath` / `OutputPath`.
///
/// # Errors
/// `States.Runtime` when the path selects nothing.
pub fn apply_path(field: &PathField, value: &Value, context: &Value) -> Result<Value, Failure> {
    match field {
        PathField::Whole => Ok(value.clone()),
        PathField::Empty => Ok(Value::Object(Map::new())),
        PathField::Path(path) => path.select(value, context),
    }
}

/// Applies `ResultPath`: where `result` goes in the state's raw `input`.
///
/// # Errors
/// `States.ResultPathMatchFailure`.
pub fn apply_result_path(
    field: &ResultPath,
    input: &Value,
    result: Value,
) -> Result<Value, Failure> {
    match field {
        ResultPath::Whole => Ok(result),
        ResultPath::Discard => Ok(input.clone()),
        ResultPath::At(path) => {
            let mut out = input.clone();
            path.put(&mut out, result)?;
            Ok(out)
        }
    }
}

/// Evaluates a payload template (`Parameters`, `ResultSelector`): keys ending in `.$` take
/// the value of their path or intrinsic function, the rest is copied.
///
/// # Errors
/// `States.Runtime` when a path selects nothing or an intrinsic function fails.
pub fn evaluate_template(
    template: &Value,
    input: &Value,
    context: &Value,
) -> Result<Value, Failure> {
    match template {
        Value::Object(fields) => {
            let mut out = Map::new();
            for (key, value) in fields {
                match (key.strip_suffix(".$"), value) {
                    (Some(name), Value::String(expr)) => {
                        out.insert(name.to_owned(), evaluate_expression(expr, input, context)?);
                    }
                    _ => {
                        out.insert(key.clone(), evaluate_template(value, input, context)?);
                    }
                }
            }
            Ok(Value::Object(out))
        }
        Value::Array(items) => items
            .iter()
            .map(|item| evaluate_template(item, input, context))
            .collect::<Result<Vec<_>, _>>()
            .map(Value::Array),
        other => Ok(other.clone()),
    }
}

fn evaluate_expression(expr: &str, input: &Value, context: &Value) -> Result<Value, Failure> {
    if expr.starts_with('$') {
        let path = JsonPath::parse(expr).map_err(Failure::runtime)?;
        return path.select(input, context);
    }
    let call = Intrinsic::parse(expr).map_err(Failure::runtime)?;
    call.evaluate(input, context)
}

/// Checks a payload template at load; `at` is where it is, for messages.
fn check_template(template: &Value, at: &str, errors: &mut Vec<String>) {
    match template {
        Value::Object(fields) => {
            for (key, value) in fields {
                let here = format!("{at}/{key}");
                match (key.strip_suffix(".$"), value) {
                    (Some(_), Value::String(expr)) => {
                        let checked = if expr.starts_with('$') {
                            JsonPath::parse(expr).map(drop)
                        } else {
                            Intrinsic::parse(expr).map(drop)
                        };
                        if let Err(message) = checked {
                            errors.push(format!("{message} at {here}"));
                        }
                    }
                    (Some(_), _) => errors.push(format!(
                        "The value for the field '{key}' must be a STRING that contains a JSONPath or an intrinsic function at {here}"
                    )),
                    (None, value) => check_template(value, &here, errors),
                }
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                check_template(item, &format!("{at}[{i}]"), errors);
            }
        }
        _ => {}
    }
}

// --- Intrinsic functions -----------------------------------------------------------------

/// An intrinsic function call, `States.Format('{} {}', $.a, 'b')`.
#[derive(Debug, Clone, PartialEq)]
struct Intrinsic {
    name: String,
    args: Vec<Arg>,
}

#[derive(Debug, Clone, PartialEq)]
enum Arg {
    Literal(Value),
    Path(JsonPath),
    Call(Intrinsic),
}

impl Intrinsic {
    fn parse(text: &str) -> Result<Self, String> {
        let mut parser = ArgParser {
            text,
            rest: text.trim(),
        };
        let call = parser.call()?;
        if !parser.rest.trim().is_empty() {
            return Err(format!(
                "unexpected `{}` after the intrinsic function in `{text}`",
                parser.rest
            ));
        }
        Ok(call)
    }

    fn evaluate(&self, input: &Value, context: &Value) -> Result<Value, Failure> {
        let args = self
            .args
            .iter()
            .map(|arg| match arg {
                Arg::Literal(v) => Ok(v.clone()),
                Arg::Path(p) => p.select(input, context),
                Arg::Call(c) => c.evaluate(input, context),
            })
            .collect::<Result<Vec<_>, _>>()?;
        let fail = |message: String| Failure {
            error: "States.IntrinsicFailure".to_owned(),
            cause: format!("{}: {message}", self.name),
        };
        match self.name.as_str() {
            "States.Format" => {
                let Some(Value::String(template)) = args.first() else {
                    return Err(fail("the first argument must be a string".into()));
                };
                let mut values = args[1..].iter();
                let mut out = String::new();
                let mut chars = template.chars().peekable();
                while let Some(c) = chars.next() {
                    match c {
                        '\\' => out.extend(chars.next()),
                        '{' if chars.peek() == Some(&'}') => {
                            chars.next();
                            let value = values
                                .next()
                                .ok_or_else(|| fail("more `{}` than arguments".into()))?;
                            match value {
                                Value::String(s) => out.push_str(s),
                                Value::Array(_) | Value::Object(_) => {
                                    return Err(fail(
                                        "arguments must be strings, numbers, booleans or null"
                                            .into(),
                                    ));
                                }
                                other => out.push_str(&other.to_string()),
                            }
                        }
                        c => out.push(c),
                    }
                }
                if values.next().is_some() {
                    return Err(fail("more arguments than `{}`".into()));
                }
                Ok(Value::String(out))
            }
            "States.StringToJson" => match args.as_slice() {
                [Value::String(s)] => serde_json::from_str(s)
                    .map_err(|e| fail(format!("the argument is not JSON: {e}"))),
                _ => Err(fail("takes one string".into())),
            },
            "States.JsonToString" => match args.as_slice() {
                [value] => Ok(Value::String(value.to_string())),
                _ => Err(fail("takes one argument".into())),
            },
            "States.Array" => Ok(Value::Array(args)),
            "States.UUID" if args.is_empty() => Ok(Value::String(super::random_uuid())),
            "States.UUID" => Err(fail("takes no argument".into())),
            "States.MathAdd" => match args.as_slice() {
                [a, b] => match (a.as_i64(), b.as_i64()) {
                    (Some(a), Some(b)) => Ok(Value::from(a.saturating_add(b))),
                    _ => Err(fail("takes two integers".into())),
                },
                _ => Err(fail("takes two integers".into())),
            },
            other => Err(fail(format!("`{other}` is not supported"))),
        }
    }
}

struct ArgParser<'a> {
    text: &'a str,
    rest: &'a str,
}

impl ArgParser<'_> {
    fn call(&mut self) -> Result<Intrinsic, String> {
        let open = self.rest.find('(').ok_or_else(|| {
            format!(
                "`{}` is neither a path (starting with `$`) nor an intrinsic function",
                self.text
            )
        })?;
        let name = self.rest[..open].trim().to_owned();
        if !INTRINSICS.contains(&name.as_str()) {
            return Err(format!(
                "the intrinsic function `{name}` is not supported by portico local (supported: {})",
                INTRINSICS.join(", ")
            ));
        }
        self.rest = &self.rest[open + 1..];
        let mut args = Vec::new();
        loop {
            self.rest = self.rest.trim_start();
            if let Some(after) = self.rest.strip_prefix(')') {
                self.rest = after;
                return Ok(Intrinsic { name, args });
            }
            if !args.is_empty() {
                self.rest = self
                    .rest
                    .strip_prefix(',')
                    .ok_or_else(|| format!("expected `,` or `)` in `{}`", self.text))?
                    .trim_start();
            }
            args.push(self.arg()?);
        }
    }

    fn arg(&mut self) -> Result<Arg, String> {
        let rest = self.rest;
        if let Some(after) = rest.strip_prefix('\'') {
            let mut out = String::new();
            let mut chars = after.char_indices();
            while let Some((i, c)) = chars.next() {
                match c {
                    '\\' => {
                        if let Some((_, next)) = chars.next() {
                            // `\{` and `\}` stay escaped for States.Format.
                            if matches!(next, '{' | '}') {
                                out.push('\\');
                            }
                            out.push(next);
                        }
                    }
                    '\'' => {
                        self.rest = &after[i + 1..];
                        return Ok(Arg::Literal(Value::String(out)));
                    }
                    c => out.push(c),
                }
            }
            return Err(format!("unclosed string in `{}`", self.text));
        }
        let end = rest.find([',', ')']).unwrap_or(rest.len());
        let token = rest[..end].trim();
        if token.starts_with('$') {
            self.rest = &rest[end..];
            return JsonPath::parse(token).map(Arg::Path);
        }
        if token.starts_with("States.") || rest[..end].contains('(') {
            return self.call().map(Arg::Call);
        }
        self.rest = &rest[end..];
        match serde_json::from_str::<Value>(token) {
            Ok(v @ (Value::Number(_) | Value::Bool(_) | Value::Null)) => Ok(Arg::Literal(v)),
            _ => Err(format!(
                "`{token}` is not a valid argument in `{}`",
                self.text
            )),
        }
    }
}

// --- Choice ------------------------------------------------------------------------------

impl Rule {
    /// Whether the rule holds for `input`.
    ///
    /// # Errors
    /// `States.Runtime` when `Variable` (or an operand path) selects nothing, except for
    /// `IsPresent`.
    pub fn holds(&self, input: &Value, context: &Value) -> Result<bool, Failure> {
        match self {
            Self::And(rules) => {
                for rule in rules {
                    if !rule.holds(input, context)? {
                        return Ok(false);
                    }
                }
                Ok(true)
            }
            Self::Or(rules) => {
                for rule in rules {
                    if rule.holds(input, context)? {
                        return Ok(true);
                    }
                }
                Ok(false)
            }
            Self::Not(rule) => Ok(!rule.holds(input, context)?),
            Self::Compare {
                variable,
                op,
                operand,
            } => {
                let found = variable.get(input, context);
                if *op == Comparison::IsPresent {
                    return Ok(found.is_some() == (operand == &Operand::Literal(Value::Bool(true))));
                }
                let value = found.ok_or_else(|| {
                    Failure::runtime(format!(
                        "Invalid path '{variable}': The choice state's condition path references an invalid value."
                    ))
                })?;
                let expected = match operand {
                    Operand::Literal(v) => v.clone(),
                    Operand::Path(p) => p.select(input, context)?,
                };
                Ok(compare(*op, value, &expected))
            }
        }
    }
}

fn compare(op: Comparison, value: &Value, expected: &Value) -> bool {
    let flag = |holds: bool| expected == &Value::Bool(holds);
    match op {
        Comparison::String(order) => match (value.as_str(), expected.as_str()) {
            (Some(a), Some(b)) => order.holds(a.cmp(b)),
            _ => false,
        },
        Comparison::StringMatches => match (value.as_str(), expected.as_str()) {
            (Some(a), Some(pattern)) => wildcard_match(pattern, a),
            _ => false,
        },
        Comparison::Numeric(order) => match (value.as_f64(), expected.as_f64()) {
            (Some(a), Some(b)) => a.partial_cmp(&b).is_some_and(|o| order.holds(o)),
            _ => false,
        },
        Comparison::BooleanEquals => match (value.as_bool(), expected.as_bool()) {
            (Some(a), Some(b)) => a == b,
            _ => false,
        },
        Comparison::Timestamp(order) => {
            match (
                value.as_str().and_then(time::parse_rfc3339),
                expected.as_str().and_then(time::parse_rfc3339),
            ) {
                (Some(a), Some(b)) => order.holds(a.cmp(&b)),
                _ => false,
            }
        }
        Comparison::IsNull => flag(value.is_null()),
        Comparison::IsPresent => flag(true),
        Comparison::IsNumeric => flag(value.is_number()),
        Comparison::IsString => flag(value.is_string()),
        Comparison::IsBoolean => flag(value.is_boolean()),
        Comparison::IsTimestamp => flag(value.as_str().and_then(time::parse_rfc3339).is_some()),
    }
}

/// `StringMatches`: `*` matches any run of characters, `\*` a star.
fn wildcard_match(pattern: &str, text: &str) -> bool {
    enum Token {
        Star,
        Char(char),
    }
    let mut tokens = Vec::new();
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => tokens.push(Token::Char(chars.next().unwrap_or('\\'))),
            '*' => tokens.push(Token::Star),
            c => tokens.push(Token::Char(c)),
        }
    }
    let text: Vec<char> = text.chars().collect();
    // Greedy with backtracking to the last star.
    let (mut t, mut p) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match tokens.get(p) {
            Some(Token::Char(c)) if *c == text[t] => {
                t += 1;
                p += 1;
            }
            Some(Token::Star) => {
                star = Some((p, t));
                p += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    p = sp + 1;
                    t = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    tokens[p..].iter().all(|t| matches!(t, Token::Star))
}

// --- Retry and Catch ---------------------------------------------------------------------

/// Whether an `ErrorEquals` name matches `error`.
pub fn error_matches(pattern: &str, error: &str) -> bool {
    if error == RUNTIME {
        return pattern == RUNTIME;
    }
    pattern == error
        || pattern == ALL
        || (pattern == TASK_FAILED && error != TIMEOUT && error != HEARTBEAT_TIMEOUT)
        || (pattern == TIMEOUT && error == HEARTBEAT_TIMEOUT)
}

impl Retrier {
    /// Whether this retrier handles `error`.
    pub fn handles(&self, error: &str) -> bool {
        self.errors.iter().any(|p| error_matches(p, error))
    }

    /// The wait before retry number `attempt` (0 for the first retry), in milliseconds.
    pub fn delay_ms(&self, attempt: u32) -> i64 {
        let seconds = self.interval_seconds as f64
            * self
                .backoff_rate
                .powi(i32::try_from(attempt).unwrap_or(i32::MAX));
        let seconds = match self.max_delay_seconds {
            Some(max) => seconds.min(max as f64),
            None => seconds,
        };
        (seconds.min(99_999_999.0) * 1000.0) as i64
    }
}

impl Catcher {
    /// Whether this catcher handles `error`.
    pub fn handles(&self, error: &str) -> bool {
        self.errors.iter().any(|p| error_matches(p, error))
    }
}

// --- Parsing and validation --------------------------------------------------------------

impl Definition {
    /// Parses and validates `text`.
    ///
    /// # Errors
    /// Every problem found, AWS style (`SCHEMA_VALIDATION_FAILED: … at /States/Name/Field`),
    /// joined with `; `.
    pub fn parse(text: &str) -> Result<Self, String> {
        let value: Value =
            serde_json::from_str(text).map_err(|e| format!("INVALID_JSON_DESCRIPTION: {e}"))?;
        Self::from_value(&value)
    }

    /// Validates an already parsed definition.
    ///
    /// # Errors
    /// As [`Definition::parse`].
    pub fn from_value(value: &Value) -> Result<Self, String> {
        let mut errors = Vec::new();
        let definition = parse_definition(value, &mut errors);
        match definition {
            Some(d) if errors.is_empty() => Ok(d),
            _ => Err(errors.join("; ")),
        }
    }
}

fn schema(errors: &mut Vec<String>, message: String) {
    errors.push(format!("SCHEMA_VALIDATION_FAILED: {message}"));
}

fn unknown_fields(
    object: &Map<String, Value>,
    allowed: &[&str],
    at: &str,
    errors: &mut Vec<String>,
) {
    for key in object.keys() {
        if !allowed.contains(&key.as_str()) {
            schema(
                errors,
                format!("The field \"{key}\" is not supported by portico local at {at}/{key}"),
            );
        }
    }
}

fn parse_definition(value: &Value, errors: &mut Vec<String>) -> Option<Definition> {
    let Some(top) = value.as_object() else {
        schema(errors, "the definition must be a JSON object at /".into());
        return None;
    };
    unknown_fields(
        top,
        &[
            "StartAt",
            "States",
            "Comment",
            "Version",
            "TimeoutSeconds",
            "QueryLanguage",
        ],
        "",
        errors,
    );
    if let Some(language) = top.get("QueryLanguage")
        && language != "JSONPath"
    {
        schema(
            errors,
            "portico local supports the JSONPath query language only at /QueryLanguage".into(),
        );
    }
    let start_at = match top.get("StartAt") {
        Some(Value::String(s)) => s.clone(),
        _ => {
            schema(
                errors,
                "The field \"StartAt\" is required and must be a string at /StartAt".into(),
            );
            String::new()
        }
    };
    let timeout_seconds = seconds_field(top, "TimeoutSeconds", "", errors);
    let Some(states_value) = top.get("States").and_then(Value::as_object) else {
        schema(
            errors,
            "The field \"States\" is required and must be an object at /States".into(),
        );
        return None;
    };
    let mut states = BTreeMap::new();
    for (name, state) in states_value {
        if let Some(state) = parse_state(name, state, errors) {
            states.insert(name.clone(), state);
        }
    }
    if !start_at.is_empty() && !states_value.contains_key(&start_at) {
        errors.push(format!(
            "MISSING_TRANSITION_TARGET: Missing 'Next' target: {start_at} at /StartAt"
        ));
    }
    // Every transition names a state.
    for state in states.values() {
        let at = format!("/States/{}", state.name);
        let mut targets: Vec<(&str, String)> = Vec::new();
        if let Some(Transition::Next(next)) = &state.transition {
            targets.push((next, format!("{at}/Next")));
        }
        match &state.kind {
            Kind::Choice { choices, default } => {
                for (i, (_, next)) in choices.iter().enumerate() {
                    targets.push((next, format!("{at}/Choices[{i}]/Next")));
                }
                if let Some(d) = default {
                    targets.push((d, format!("{at}/Default")));
                }
            }
            Kind::Task(task) => {
                for (i, c) in task.catch.iter().enumerate() {
                    targets.push((&c.next, format!("{at}/Catch[{i}]/Next")));
                }
            }
            _ => {}
        }
        for (target, where_) in targets {
            if !states_value.contains_key(target) {
                errors.push(format!(
                    "MISSING_TRANSITION_TARGET: Missing 'Next' target: {target} at {where_}"
                ));
            }
        }
    }
    Some(Definition {
        start_at,
        states,
        timeout_seconds,
    })
}

fn seconds_field(
    object: &Map<String, Value>,
    field: &str,
    at: &str,
    errors: &mut Vec<String>,
) -> Option<u64> {
    let value = object.get(field)?;
    match value.as_u64() {
        Some(n) if (1..=99_999_999).contains(&n) => Some(n),
        _ => {
            schema(
                errors,
                format!(
                    "The value for the field '{field}' must be an integer from 1 to 99999999 at {at}/{field}"
                ),
            );
            None
        }
    }
}

fn string_field(
    object: &Map<String, Value>,
    field: &str,
    at: &str,
    errors: &mut Vec<String>,
) -> Option<String> {
    match object.get(field)? {
        Value::String(s) => Some(s.clone()),
        _ => {
            schema(
                errors,
                format!("The field '{field}' must be a string at {at}/{field}"),
            );
            None
        }
    }
}

fn path_field(
    object: &Map<String, Value>,
    field: &str,
    at: &str,
    errors: &mut Vec<String>,
) -> PathField {
    match object.get(field) {
        None => PathField::Whole,
        Some(Value::Null) => PathField::Empty,
        Some(Value::String(s)) if s == "$" => PathField::Whole,
        Some(Value::String(s)) => match JsonPath::parse(s) {
            Ok(p) => PathField::Path(p),
            Err(e) => {
                schema(errors, format!("{e} at {at}/{field}"));
                PathField::Whole
            }
        },
        Some(_) => {
            schema(
                errors,
                format!("The field '{field}' must be a path or null at {at}/{field}"),
            );
            PathField::Whole
        }
    }
}

fn result_path_value(value: Option<&Value>, at: &str, errors: &mut Vec<String>) -> ResultPath {
    match value {
        None => ResultPath::Whole,
        Some(Value::Null) => ResultPath::Discard,
        Some(Value::String(s)) if s == "$" => ResultPath::Whole,
        Some(Value::String(s)) => match JsonPath::parse(s) {
            Ok(p) if p.context => {
                schema(
                    errors,
                    format!("ResultPath cannot refer to the context object ($$) at {at}"),
                );
                ResultPath::Whole
            }
            Ok(p) => ResultPath::At(p),
            Err(e) => {
                schema(errors, format!("{e} at {at}"));
                ResultPath::Whole
            }
        },
        Some(_) => {
            schema(
                errors,
                format!("ResultPath must be a reference path or null at {at}"),
            );
            ResultPath::Whole
        }
    }
}

fn template_field(
    object: &Map<String, Value>,
    field: &str,
    at: &str,
    errors: &mut Vec<String>,
) -> Option<Value> {
    let value = object.get(field)?;
    if !value.is_object() {
        schema(
            errors,
            format!("The field '{field}' must be an object at {at}/{field}"),
        );
        return None;
    }
    check_template(value, &format!("{at}/{field}"), errors);
    Some(value.clone())
}

fn parse_state(name: &str, value: &Value, errors: &mut Vec<String>) -> Option<State> {
    let at = format!("/States/{name}");
    if name.is_empty() || name.chars().count() > 80 {
        schema(
            errors,
            format!("state names must be 1 to 80 characters at {at}"),
        );
    }
    let Some(object) = value.as_object() else {
        schema(errors, format!("a state must be an object at {at}"));
        return None;
    };
    let kind_name = match object.get("Type") {
        Some(Value::String(t)) => t.as_str(),
        _ => {
            schema(
                errors,
                format!("The field \"Type\" is required at {at}/Type"),
            );
            return None;
        }
    };
    const COMMON: &[&str] = &["Type", "Comment", "InputPath", "OutputPath"];
    let allowed: &[&str] = match kind_name {
        "Pass" => &["Next", "End", "Result", "ResultPath", "Parameters"],
        "Task" => &[
            "Next",
            "End",
            "Resource",
            "Parameters",
            "ResultSelector",
            "ResultPath",
            "Retry",
            "Catch",
            "TimeoutSeconds",
            "HeartbeatSeconds",
        ],
        "Choice" => &["Choices", "Default"],
        "Wait" => &[
            "Next",
            "End",
            "Seconds",
            "Timestamp",
            "SecondsPath",
            "TimestampPath",
        ],
        "Succeed" => &[],
        "Fail" => &["Error", "Cause", "ErrorPath", "CausePath"],
        "Map" | "Parallel" => {
            schema(
                errors,
                format!(
                    "the state type \"{kind_name}\" is not supported by portico local at {at}/Type"
                ),
            );
            return None;
        }
        other => {
            schema(
                errors,
                format!("\"{other}\" is not a valid state type at {at}/Type"),
            );
            return None;
        }
    };
    let fail_like = kind_name == "Fail";
    for key in object.keys() {
        let common = COMMON.contains(&key.as_str())
            && !(fail_like && key.ends_with("Path") && key != "Type");
        if !common && !allowed.contains(&key.as_str()) {
            schema(
                errors,
                format!(
                    "The field \"{key}\" is not supported for a {kind_name} state by portico local at {at}/{key}"
                ),
            );
        }
    }
    let input_path = path_field(object, "InputPath", &at, errors);
    let output_path = path_field(object, "OutputPath", &at, errors);

    let needs_transition = matches!(kind_name, "Pass" | "Task" | "Wait");
    let transition = if needs_transition {
        let next = string_field(object, "Next", &at, errors);
        let end = object.get("End");
        match (next, end) {
            (Some(next), None) => Some(Transition::Next(next)),
            (None, Some(Value::Bool(true))) => Some(Transition::End),
            (Some(_), Some(_)) => {
                schema(
                    errors,
                    format!("a state cannot have both \"Next\" and \"End\" at {at}"),
                );
                None
            }
            _ => {
                schema(
                    errors,
                    format!("a {kind_name} state needs \"Next\" or \"End\": true at {at}"),
                );
                None
            }
        }
    } else {
        None
    };

    let kind = match kind_name {
        "Pass" => Kind::Pass {
            result: object.get("Result").cloned(),
            parameters: template_field(object, "Parameters", &at, errors),
            result_path: result_path_value(
                object.get("ResultPath"),
                &format!("{at}/ResultPath"),
                errors,
            ),
        },
        "Task" => Kind::Task(Box::new(parse_task(object, &at, errors)?)),
        "Choice" => parse_choice(object, &at, errors),
        "Wait" => parse_wait(object, &at, errors)?,
        "Succeed" => Kind::Succeed,
        _ => {
            let operand = |literal: &str, path: &str, errors: &mut Vec<String>| match (
                object.get(literal),
                object.get(path),
            ) {
                (Some(_), Some(_)) => {
                    schema(
                        errors,
                        format!("\"{literal}\" and \"{path}\" cannot both be set at {at}/{path}"),
                    );
                    None
                }
                (Some(Value::String(s)), None) => Some(Operand::Literal(Value::String(s.clone()))),
                (None, Some(Value::String(p))) => match JsonPath::parse(p) {
                    Ok(p) => Some(Operand::Path(p)),
                    Err(e) => {
                        schema(errors, format!("{e} at {at}/{path}"));
                        None
                    }
                },
                (None, None) => None,
                _ => {
                    schema(
                        errors,
                        format!("\"{literal}\" must be a string at {at}/{literal}"),
                    );
                    None
                }
            };
            Kind::Fail {
                error: operand("Error", "ErrorPath", errors),
                cause: operand("Cause", "CausePath", errors),
            }
        }
    };
    Some(State {
        name: name.to_owned(),
        input_path,
        output_path,
        transition,
        kind,
    })
}

/// The resources a `Task` may name.
fn parse_resource(resource: &str, at: &str, errors: &mut Vec<String>) -> Option<Resource> {
    match resource {
        "arn:aws:states:::lambda:invoke" => return Some(Resource::LambdaInvoke),
        "arn:aws:states:::lambda:invoke.waitForTaskToken" => {
            return Some(Resource::LambdaInvokeWaitForTaskToken);
        }
        _ => {}
    }
    let parts: Vec<&str> = resource.split(':').collect();
    match parts[..] {
        ["arn", _, "states", region, account, "activity", name]
            if !region.is_empty() && !account.is_empty() && !name.is_empty() =>
        {
            Some(Resource::Activity(resource.to_owned()))
        }
        ["arn", _, "lambda", region, account, "function", name, ..]
            if !region.is_empty()
                && !account.is_empty()
                && !name.is_empty()
                && parts.len() <= 8 =>
        {
            Some(Resource::LambdaFunction(resource.to_owned()))
        }
        _ => {
            schema(
                errors,
                format!(
                    "the resource '{resource}' is not supported by portico local (an activity ARN, a Lambda function ARN, arn:aws:states:::lambda:invoke or arn:aws:states:::lambda:invoke.waitForTaskToken) at {at}/Resource"
                ),
            );
            None
        }
    }
}

fn parse_task(object: &Map<String, Value>, at: &str, errors: &mut Vec<String>) -> Option<Task> {
    let Some(resource) = string_field(object, "Resource", at, errors) else {
        schema(
            errors,
            format!("The field \"Resource\" is required at {at}/Resource"),
        );
        return None;
    };
    let resource = parse_resource(&resource, at, errors)?;
    let parameters = template_field(object, "Parameters", at, errors);
    if matches!(
        resource,
        Resource::LambdaInvoke | Resource::LambdaInvokeWaitForTaskToken
    ) {
        const LAMBDA_PARAMETERS: &[&str] = &[
            "FunctionName",
            "Payload",
            "InvocationType",
            "Qualifier",
            "ClientContext",
            "LogType",
        ];
        match parameters.as_ref().and_then(Value::as_object) {
            None => schema(
                errors,
                format!(
                    "The field \"Parameters\" is required for a lambda:invoke task (FunctionName, Payload) at {at}/Parameters"
                ),
            ),
            Some(params) => {
                for key in params.keys() {
                    let bare = key.strip_suffix(".$").unwrap_or(key);
                    if !LAMBDA_PARAMETERS.contains(&bare) {
                        schema(
                            errors,
                            format!(
                                "The field \"{bare}\" is not supported by Step Functions for lambda:invoke at {at}/Parameters/{key}"
                            ),
                        );
                    }
                }
                if !params.contains_key("FunctionName") && !params.contains_key("FunctionName.$") {
                    schema(
                        errors,
                        format!("The field \"FunctionName\" is required at {at}/Parameters"),
                    );
                }
            }
        }
        if resource == Resource::LambdaInvokeWaitForTaskToken
            && !parameters
                .as_ref()
                .is_some_and(|p| p.to_string().contains("$$.Task.Token"))
        {
            schema(
                errors,
                format!(
                    "a .waitForTaskToken task must pass $$.Task.Token in its Parameters at {at}/Parameters"
                ),
            );
        }
    }
    let retry = match object.get("Retry") {
        None => Vec::new(),
        Some(Value::Array(items)) => {
            let mut out = Vec::new();
            for (i, item) in items.iter().enumerate() {
                let here = format!("{at}/Retry[{i}]");
                if let Some(r) = parse_retrier(item, &here, errors) {
                    out.push(r);
                }
            }
            check_all_last(
                out.iter().map(|r| &r.errors),
                &format!("{at}/Retry"),
                errors,
            );
            out
        }
        Some(_) => {
            schema(errors, format!("\"Retry\" must be an array at {at}/Retry"));
            Vec::new()
        }
    };
    let catch = match object.get("Catch") {
        None => Vec::new(),
        Some(Value::Array(items)) => {
            let mut out = Vec::new();
            for (i, item) in items.iter().enumerate() {
                let here = format!("{at}/Catch[{i}]");
                let Some(c) = item.as_object() else {
                    schema(errors, format!("a catcher must be an object at {here}"));
                    continue;
                };
                unknown_fields(
                    c,
                    &["ErrorEquals", "ResultPath", "Next", "Comment"],
                    &here,
                    errors,
                );
                let errors_list = error_equals(c, &here, errors);
                let next = string_field(c, "Next", &here, errors);
                if next.is_none() {
                    schema(
                        errors,
                        format!("The field \"Next\" is required at {here}/Next"),
                    );
                }
                let result_path =
                    result_path_value(c.get("ResultPath"), &format!("{here}/ResultPath"), errors);
                out.push(Catcher {
                    errors: errors_list,
                    result_path,
                    next: next.unwrap_or_default(),
                });
            }
            check_all_last(
                out.iter().map(|c| &c.errors),
                &format!("{at}/Catch"),
                errors,
            );
            out
        }
        Some(_) => {
            schema(errors, format!("\"Catch\" must be an array at {at}/Catch"));
            Vec::new()
        }
    };
    let timeout_seconds = seconds_field(object, "TimeoutSeconds", at, errors);
    let heartbeat_seconds = seconds_field(object, "HeartbeatSeconds", at, errors);
    if let (Some(t), Some(h)) = (timeout_seconds, heartbeat_seconds)
        && h >= t
    {
        schema(
            errors,
            format!(
                "HeartbeatSeconds must be smaller than TimeoutSeconds at {at}/HeartbeatSeconds"
            ),
        );
    }
    if heartbeat_seconds.is_some()
        && matches!(
            resource,
            Resource::LambdaInvoke | Resource::LambdaFunction(_)
        )
    {
        schema(
            errors,
            format!(
                "HeartbeatSeconds applies to activities and .waitForTaskToken tasks only at {at}/HeartbeatSeconds"
            ),
        );
    }
    Some(Task {
        resource,
        parameters,
        result_selector: template_field(object, "ResultSelector", at, errors),
        result_path: result_path_value(
            object.get("ResultPath"),
            &format!("{at}/ResultPath"),
            errors,
        ),
        retry,
        catch,
        timeout_seconds,
        heartbeat_seconds,
    })
}

fn error_equals(object: &Map<String, Value>, at: &str, errors: &mut Vec<String>) -> Vec<String> {
    match object.get("ErrorEquals") {
        Some(Value::Array(items)) if !items.is_empty() && items.iter().all(Value::is_string) => {
            items
                .iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        }
        _ => {
            schema(
                errors,
                format!("\"ErrorEquals\" must be a non-empty array of strings at {at}/ErrorEquals"),
            );
            Vec::new()
        }
    }
}

/// `States.ALL` must be alone in its `ErrorEquals` and in the last retrier or catcher.
fn check_all_last<'a>(
    lists: impl ExactSizeIterator<Item = &'a Vec<String>>,
    at: &str,
    errors: &mut Vec<String>,
) {
    let count = lists.len();
    for (i, list) in lists.enumerate() {
        if list.iter().any(|e| e == ALL) && (list.len() > 1 || i + 1 != count) {
            schema(
                errors,
                format!("States.ALL must appear alone in the last entry at {at}[{i}]/ErrorEquals"),
            );
        }
    }
}

fn parse_retrier(value: &Value, at: &str, errors: &mut Vec<String>) -> Option<Retrier> {
    let Some(object) = value.as_object() else {
        schema(errors, format!("a retrier must be an object at {at}"));
        return None;
    };
    unknown_fields(
        object,
        &[
            "ErrorEquals",
            "IntervalSeconds",
            "MaxAttempts",
            "BackoffRate",
            "MaxDelaySeconds",
            "Comment",
        ],
        at,
        errors,
    );
    let errors_list = error_equals(object, at, errors);
    let interval_seconds = seconds_field(object, "IntervalSeconds", at, errors).unwrap_or(1);
    let max_attempts = match object.get("MaxAttempts") {
        None => 3,
        Some(v) => match v.as_u64().and_then(|n| u32::try_from(n).ok()) {
            Some(n) if n <= 99_999_999 => n,
            _ => {
                schema(
                    errors,
                    format!(
                        "MaxAttempts must be an integer from 0 to 99999999 at {at}/MaxAttempts"
                    ),
                );
                3
            }
        },
    };
    let backoff_rate = match object.get("BackoffRate") {
        None => 2.0,
        Some(v) => match v.as_f64() {
            Some(n) if n >= 1.0 => n,
            _ => {
                schema(
                    errors,
                    format!("BackoffRate must be a number of at least 1.0 at {at}/BackoffRate"),
                );
                2.0
            }
        },
    };
    let max_delay_seconds = seconds_field(object, "MaxDelaySeconds", at, errors);
    Some(Retrier {
        errors: errors_list,
        interval_seconds,
        max_attempts,
        backoff_rate,
        max_delay_seconds,
    })
}

fn parse_choice(object: &Map<String, Value>, at: &str, errors: &mut Vec<String>) -> Kind {
    let mut choices = Vec::new();
    match object.get("Choices") {
        Some(Value::Array(items)) if !items.is_empty() => {
            for (i, item) in items.iter().enumerate() {
                let here = format!("{at}/Choices[{i}]");
                let next = item
                    .as_object()
                    .and_then(|o| string_field(o, "Next", &here, errors));
                let Some(next) = next else {
                    schema(
                        errors,
                        format!("The field \"Next\" is required at {here}/Next"),
                    );
                    continue;
                };
                if let Some(rule) = parse_rule(item, &here, true, errors) {
                    choices.push((rule, next));
                }
            }
        }
        _ => schema(
            errors,
            format!("\"Choices\" must be a non-empty array at {at}/Choices"),
        ),
    }
    Kind::Choice {
        choices,
        default: string_field(object, "Default", at, errors),
    }
}

fn parse_rule(value: &Value, at: &str, top: bool, errors: &mut Vec<String>) -> Option<Rule> {
    let Some(object) = value.as_object() else {
        schema(errors, format!("a choice rule must be an object at {at}"));
        return None;
    };
    let mut keys: Vec<&str> = object
        .keys()
        .map(String::as_str)
        .filter(|k| *k != "Comment" && !(top && *k == "Next"))
        .collect();
    if !top && object.contains_key("Next") {
        schema(
            errors,
            format!("a nested choice rule cannot have \"Next\" at {at}/Next"),
        );
    }
    for combinator in ["And", "Or", "Not"] {
        if let Some(inner) = object.get(combinator) {
            if keys.len() != 1 {
                schema(
                    errors,
                    format!("\"{combinator}\" must be alone in its rule at {at}"),
                );
            }
            let here = format!("{at}/{combinator}");
            return match (combinator, inner) {
                ("Not", inner) => {
                    parse_rule(inner, &here, false, errors).map(|r| Rule::Not(Box::new(r)))
                }
                (_, Value::Array(items)) if !items.is_empty() => {
                    let rules: Vec<Rule> = items
                        .iter()
                        .enumerate()
                        .filter_map(|(i, r)| parse_rule(r, &format!("{here}[{i}]"), false, errors))
                        .collect();
                    Some(if combinator == "And" {
                        Rule::And(rules)
                    } else {
                        Rule::Or(rules)
                    })
                }
                _ => {
                    schema(
                        errors,
                        format!("\"{combinator}\" must be a non-empty array of rules at {here}"),
                    );
                    None
                }
            };
        }
    }
    let variable = match object.get("Variable") {
        Some(Value::String(v)) => match JsonPath::parse(v) {
            Ok(p) => p,
            Err(e) => {
                schema(errors, format!("{e} at {at}/Variable"));
                return None;
            }
        },
        _ => {
            schema(
                errors,
                format!("The field \"Variable\" is required and must be a path at {at}/Variable"),
            );
            return None;
        }
    };
    keys.retain(|k| *k != "Variable");
    let all = comparisons();
    let [operator] = keys[..] else {
        schema(
            errors,
            format!(
                "a choice rule needs exactly one comparison operator besides \"Variable\", found {} at {at}",
                if keys.is_empty() {
                    "none".to_owned()
                } else {
                    keys.join(", ")
                }
            ),
        );
        return None;
    };
    let Some((_, op, is_path)) = all.iter().find(|(name, _, _)| name == operator) else {
        schema(
            errors,
            format!(
                "\"{operator}\" is not a comparison operator supported by portico local at {at}/{operator}"
            ),
        );
        return None;
    };
    let raw = &object[operator];
    let here = format!("{at}/{operator}");
    let operand = if *is_path {
        match raw.as_str().map(JsonPath::parse) {
            Some(Ok(p)) => Operand::Path(p),
            Some(Err(e)) => {
                schema(errors, format!("{e} at {here}"));
                return None;
            }
            None => {
                schema(errors, format!("the value must be a path at {here}"));
                return None;
            }
        }
    } else {
        let fits = match op {
            Comparison::String(_) | Comparison::StringMatches => raw.is_string(),
            Comparison::Timestamp(_) => raw.as_str().and_then(time::parse_rfc3339).is_some(),
            Comparison::Numeric(_) => raw.is_number(),
            _ => raw.is_boolean(),
        };
        if !fits {
            schema(
                errors,
                format!("the value {raw} does not fit the operator at {here}"),
            );
            return None;
        }
        Operand::Literal(raw.clone())
    };
    Some(Rule::Compare {
        variable,
        op: *op,
        operand,
    })
}

fn parse_wait(object: &Map<String, Value>, at: &str, errors: &mut Vec<String>) -> Option<Kind> {
    let set: Vec<&str> = ["Seconds", "Timestamp", "SecondsPath", "TimestampPath"]
        .into_iter()
        .filter(|k| object.contains_key(*k))
        .collect();
    let [field] = set[..] else {
        schema(
            errors,
            format!(
                "a Wait state needs exactly one of Seconds, Timestamp, SecondsPath, TimestampPath at {at}"
            ),
        );
        return None;
    };
    let value = &object[field];
    let here = format!("{at}/{field}");
    let wait = match field {
        "Seconds" => match value.as_u64() {
            Some(n) if n <= 99_999_999 => WaitFor::Seconds(n),
            _ => {
                schema(
                    errors,
                    format!("Seconds must be an integer from 0 to 99999999 at {here}"),
                );
                return None;
            }
        },
        "Timestamp" => match value.as_str().and_then(time::parse_rfc3339) {
            Some(ms) => WaitFor::Timestamp(ms),
            None => {
                schema(
                    errors,
                    format!(
                        "Timestamp must be an RFC 3339 timestamp (2026-01-01T00:00:00Z) at {here}"
                    ),
                );
                return None;
            }
        },
        _ => match value.as_str().map(JsonPath::parse) {
            Some(Ok(p)) if field == "SecondsPath" => WaitFor::SecondsPath(p),
            Some(Ok(p)) => WaitFor::TimestampPath(p),
            Some(Err(e)) => {
                schema(errors, format!("{e} at {here}"));
                return None;
            }
            None => {
                schema(errors, format!("{field} must be a path at {here}"));
                return None;
            }
        },
    };
    Some(Kind::Wait(wait))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(definition: Value) -> Result<Definition, String> {
        Definition::from_value(&definition)
    }

    fn rejected(definition: Value) -> String {
        parse(definition).expect_err("the definition should be refused")
    }

    /// The approval workflow's shape, with a bit of everything the interpreter supports.
    fn approval() -> Value {
        json!({
            "Comment": "manual approval",
            "StartAt": "Prepare",
            "TimeoutSeconds": 7200,
            "States": {
                "Prepare": {"Type": "Pass", "Parameters": {"employee.$": "$.name", "execution.$": "$$.Execution.Name",
                    "subject.$": "States.Format('Promote {}?', $.name)", "tags.$": "States.Array('a', 1, true)"},
                    "ResultPath": "$.request", "Next": "Ask"},
                "Ask": {"Type": "Task", "Resource": "arn:aws:states:us-east-1:000000000000:activity:app-dev-ManualStep",
                    "Parameters": {"request.$": "$.request"}, "ResultSelector": {"decision.$": "$.decision"},
                    "ResultPath": "$.answer", "TimeoutSeconds": 3600, "HeartbeatSeconds": 600,
                    "Retry": [{"ErrorEquals": ["States.Timeout"], "IntervalSeconds": 2, "MaxAttempts": 1, "BackoffRate": 1.5}],
                    "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Rejected"}],
                    "Next": "Decide"},
                "Notify": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
                    "Parameters": {"FunctionName": "arn:aws:lambda:us-east-1:000000000000:function:app-dev-api",
                        "Payload": {"token.$": "$$.Task.Token", "input.$": "$"}}, "Next": "Decide"},
                "Decide": {"Type": "Choice", "Choices": [
                    {"And": [{"Variable": "$.answer.decision", "IsPresent": true},
                             {"Variable": "$.answer.decision", "StringEquals": "approve"}], "Next": "Approved"},
                    {"Not": {"Variable": "$.answer.decision", "StringMatches": "re*"}, "Next": "Later"}],
                    "Default": "Rejected"},
                "Later": {"Type": "Wait", "SecondsPath": "$.delay", "Next": "Approved"},
                "Approved": {"Type": "Succeed", "OutputPath": "$.answer"},
                "Rejected": {"Type": "Fail", "Error": "Rejected", "CausePath": "$.error.Cause"}
            }
        })
    }

    #[test]
    fn accepts_the_constructs_approval_workflows_use() {
        let d = parse(approval()).unwrap();
        assert_eq!(d.start_at, "Prepare");
        assert_eq!(d.timeout_seconds, Some(7200));
        let Kind::Task(ask) = &d.states["Ask"].kind else {
            panic!("a task")
        };
        assert_eq!(
            ask.resource,
            Resource::Activity(
                "arn:aws:states:us-east-1:000000000000:activity:app-dev-ManualStep".into()
            )
        );
        assert_eq!(
            (ask.timeout_seconds, ask.heartbeat_seconds),
            (Some(3600), Some(600))
        );
        assert_eq!(ask.retry[0].max_attempts, 1);
        assert_eq!(ask.catch[0].next, "Rejected");
        assert_eq!(
            ask.result_path,
            ResultPath::At(JsonPath::parse("$.answer").unwrap())
        );
        let Kind::Choice { choices, default } = &d.states["Decide"].kind else {
            panic!("a choice")
        };
        assert_eq!(choices.len(), 2);
        assert_eq!(default.as_deref(), Some("Rejected"));
        assert!(matches!(
            d.states["Later"].kind,
            Kind::Wait(WaitFor::SecondsPath(_))
        ));
        assert_eq!(d.states["Approved"].transition, None);
    }

    #[test]
    fn unsupported_constructs_are_refused_naming_the_state_and_field() {
        let with_state =
            |name: &str, state: Value| rejected(json!({"StartAt": name, "States": {name: state}}));
        let cases = [
            (
                with_state("Fan", json!({"Type": "Map", "End": true})),
                "/States/Fan/Type",
            ),
            (
                with_state(
                    "Both",
                    json!({"Type": "Parallel", "Branches": [], "End": true}),
                ),
                "/States/Both/Type",
            ),
            (
                with_state("P", json!({"Type": "Pass", "Foo": 1, "End": true})),
                "The field \"Foo\" is not supported for a Pass state by portico local at /States/P/Foo",
            ),
            (
                with_state(
                    "P",
                    json!({"Type": "Pass", "Parameters": {"h.$": "States.Hash($.a, 'SHA-1')"}, "End": true}),
                ),
                "/States/P/Parameters/h.$",
            ),
            (
                with_state(
                    "P",
                    json!({"Type": "Pass", "InputPath": "$.items[*]", "End": true}),
                ),
                "/States/P/InputPath",
            ),
            (
                with_state("P", json!({"Type": "Pass", "Next": "Nowhere"})),
                "Missing 'Next' target: Nowhere at /States/P/Next",
            ),
            (
                with_state("P", json!({"Type": "Pass", "Next": "P", "End": true})),
                "both \"Next\" and \"End\" at /States/P",
            ),
            (
                with_state(
                    "T",
                    json!({"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage", "End": true}),
                ),
                "/States/T/Resource",
            ),
            (
                with_state(
                    "T",
                    json!({"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "Parameters": {"Payload": {}}, "End": true}),
                ),
                "The field \"FunctionName\" is required at /States/T/Parameters",
            ),
            (
                with_state(
                    "T",
                    json!({"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
                    "Parameters": {"FunctionName": "f", "Payload": {}}, "End": true}),
                ),
                "$$.Task.Token in its Parameters at /States/T/Parameters",
            ),
            (
                with_state(
                    "T",
                    json!({"Type": "Task", "Resource": "arn:aws:states:us-east-1:0:activity:a",
                    "Retry": [{"ErrorEquals": ["States.ALL"]}, {"ErrorEquals": ["X"]}], "End": true}),
                ),
                "/States/T/Retry[0]/ErrorEquals",
            ),
            (
                with_state(
                    "T",
                    json!({"Type": "Task", "Resource": "arn:aws:states:us-east-1:0:activity:a",
                    "TimeoutSeconds": 0, "End": true}),
                ),
                "/States/T/TimeoutSeconds",
            ),
            (
                with_state(
                    "C",
                    json!({"Type": "Choice", "Choices": [{"Variable": "$.a", "StringLooksLike": "x", "Next": "C"}]}),
                ),
                "/States/C/Choices[0]/StringLooksLike",
            ),
            (
                with_state(
                    "C",
                    json!({"Type": "Choice", "Choices": [{"Variable": "$.a", "NumericEquals": "1", "Next": "C"}]}),
                ),
                "/States/C/Choices[0]/NumericEquals",
            ),
            (
                with_state(
                    "W",
                    json!({"Type": "Wait", "Seconds": 1, "Timestamp": "2026-01-01T00:00:00Z", "End": true}),
                ),
                "exactly one of Seconds, Timestamp, SecondsPath, TimestampPath at /States/W",
            ),
            (
                with_state("F", json!({"Type": "Fail", "OutputPath": "$"})),
                "/States/F/OutputPath",
            ),
            (
                rejected(
                    json!({"StartAt": "A", "QueryLanguage": "JSONata", "States": {"A": {"Type": "Succeed"}}}),
                ),
                "/QueryLanguage",
            ),
            (
                rejected(json!({"StartAt": "B", "States": {"A": {"Type": "Succeed"}}})),
                "Missing 'Next' target: B at /StartAt",
            ),
        ];
        for (message, expected) in cases {
            assert!(
                message.contains(expected),
                "{message}\n  should contain {expected}"
            );
        }
        assert!(
            Definition::parse("{")
                .unwrap_err()
                .starts_with("INVALID_JSON_DESCRIPTION")
        );
    }

    #[test]
    fn paths_select_put_and_refuse_what_is_not_there() {
        let input = json!({"a": {"b": [10, {"c": "x"}]}, "odd key": 1});
        let context = json!({"Task": {"Token": "t"}});
        let get = |p: &str| JsonPath::parse(p).unwrap().get(&input, &context).cloned();
        assert_eq!(get("$.a.b[1].c"), Some(json!("x")));
        assert_eq!(get("$['odd key']"), Some(json!(1)));
        assert_eq!(get("$$.Task.Token"), Some(json!("t")));
        assert_eq!(get("$.a.missing"), None);
        let err = JsonPath::parse("$.a.missing")
            .unwrap()
            .select(&input, &context)
            .unwrap_err();
        assert_eq!(err.error, RUNTIME);
        assert!(err.cause.contains("$.a.missing"), "{}", err.cause);
        for bad in [
            "a.b",
            "$..a",
            "$.a[*]",
            "$.a[?(@.b)]",
            "$.a[1:2]",
            "$.",
            "$.a[",
        ] {
            assert!(JsonPath::parse(bad).is_err(), "{bad}");
        }

        let mut target = json!({"keep": 1});
        JsonPath::parse("$.x.y")
            .unwrap()
            .put(&mut target, json!(2))
            .unwrap();
        assert_eq!(target, json!({"keep": 1, "x": {"y": 2}}));
        let err = JsonPath::parse("$.keep.y")
            .unwrap()
            .put(&mut target, json!(3))
            .unwrap_err();
        assert_eq!(err.error, "States.ResultPathMatchFailure");

        let raw = json!({"a": 1});
        assert_eq!(
            apply_result_path(&ResultPath::Whole, &raw, json!(2)).unwrap(),
            json!(2)
        );
        assert_eq!(
            apply_result_path(&ResultPath::Discard, &raw, json!(2)).unwrap(),
            raw
        );
        assert_eq!(
            apply_path(&PathField::Empty, &raw, &context).unwrap(),
            json!({})
        );
    }

    #[test]
    fn templates_evaluate_paths_context_and_intrinsics() {
        let input = json!({"name": "Ada", "n": 2, "doc": "{\"k\":[1]}", "obj": {"x": true}});
        let context = json!({"Execution": {"Name": "e-1"}, "Task": {"Token": "tok"}});
        let template = json!({
            "static": {"nested": [1, {"deep.$": "$.n"}]},
            "who.$": "$.name",
            "token.$": "$$.Task.Token",
            "greeting.$": "States.Format('Hello {}, run {} \\{literal\\}', $.name, $$.Execution.Name)",
            "parsed.$": "States.StringToJson($.doc)",
            "text.$": "States.JsonToString($.obj)",
            "list.$": "States.Array($.n, 'two', States.MathAdd($.n, 1))",
            "id.$": "States.UUID()"
        });
        let mut errors = Vec::new();
        check_template(&template, "/P", &mut errors);
        assert!(errors.is_empty(), "{errors:?}");
        let out = evaluate_template(&template, &input, &context).unwrap();
        assert_eq!(out["static"], json!({"nested": [1, {"deep": 2}]}));
        assert_eq!(out["who"], "Ada");
        assert_eq!(out["token"], "tok");
        assert_eq!(out["greeting"], "Hello Ada, run e-1 {literal}");
        assert_eq!(out["parsed"], json!({"k": [1]}));
        assert_eq!(out["text"], "{\"x\":true}");
        assert_eq!(out["list"], json!([2, "two", 3]));
        assert_eq!(out["id"].as_str().map(str::len), Some(36));

        let missing = evaluate_template(&json!({"v.$": "$.nope"}), &input, &context).unwrap_err();
        assert_eq!(missing.error, RUNTIME);
        let bad = evaluate_template(
            &json!({"v.$": "States.StringToJson($.name)"}),
            &input,
            &context,
        )
        .unwrap_err();
        assert_eq!(bad.error, "States.IntrinsicFailure");
    }

    fn rule(value: Value) -> Rule {
        let mut errors = Vec::new();
        let rule = parse_rule(&value, "/C", false, &mut errors);
        assert!(errors.is_empty(), "{errors:?}");
        rule.unwrap()
    }

    #[test]
    fn choice_rules_compare_like_step_functions() {
        let input = json!({"s": "review", "n": 5, "b": true, "t": "2026-01-02T00:00:00Z",
            "other": 5, "nothing": null});
        let ctx = json!({});
        let holds = |r: Value| rule(r).holds(&input, &ctx).unwrap();
        assert!(holds(json!({"Variable": "$.s", "StringEquals": "review"})));
        assert!(holds(json!({"Variable": "$.s", "StringLessThan": "z"})));
        assert!(holds(json!({"Variable": "$.s", "StringMatches": "re*w"})));
        assert!(!holds(json!({"Variable": "$.s", "StringMatches": "re\\*"})));
        assert!(holds(
            json!({"Variable": "$.n", "NumericGreaterThanEquals": 5})
        ));
        assert!(!holds(json!({"Variable": "$.n", "NumericLessThan": 5})));
        assert!(holds(
            json!({"Variable": "$.n", "NumericEqualsPath": "$.other"})
        ));
        assert!(holds(json!({"Variable": "$.b", "BooleanEquals": true})));
        assert!(holds(
            json!({"Variable": "$.t", "TimestampGreaterThan": "2026-01-01T23:59:59Z"})
        ));
        assert!(holds(json!({"Variable": "$.t", "IsTimestamp": true})));
        assert!(holds(json!({"Variable": "$.nothing", "IsNull": true})));
        assert!(holds(json!({"Variable": "$.absent", "IsPresent": false})));
        assert!(
            !holds(json!({"Variable": "$.n", "StringEquals": "5"})),
            "types differ"
        );
        assert!(holds(
            json!({"Or": [{"Variable": "$.n", "NumericEquals": 1},
            {"Not": {"Variable": "$.s", "StringEquals": "x"}}]})
        ));
        assert!(!holds(
            json!({"And": [{"Variable": "$.b", "BooleanEquals": true},
            {"Variable": "$.n", "IsString": true}]})
        ));
        let err = rule(json!({"Variable": "$.absent", "StringEquals": "x"}))
            .holds(&input, &ctx)
            .unwrap_err();
        assert_eq!(err.error, RUNTIME);
        assert!(wildcard_match("*", ""));
        assert!(wildcard_match("a*b*c", "aXbYbZc"));
        assert!(!wildcard_match("a*b", "aXbY"));
    }

    #[test]
    fn odd_paths_and_intrinsic_calls_are_errors_not_panics() {
        // A small deterministic generator over the characters the parsers care about.
        let alphabet: Vec<char> = "$.[]'\"(),\\ {}*?@:0123a-_é States.Format"
            .chars()
            .collect();
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        let input = json!({"a": [1, {"b": "x"}], "s": "{}"});
        let context = json!({"Task": {"Token": "t"}});
        for _ in 0..20_000 {
            seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            let len = (seed >> 59) as usize;
            let text: String = (0..len)
                .map(|i| {
                    let x = seed.rotate_left(i as u32 * 7);
                    alphabet[(x % alphabet.len() as u64) as usize]
                })
                .collect();
            for candidate in [
                text.clone(),
                format!("${text}"),
                format!("States.Format({text})"),
            ] {
                if let Ok(path) = JsonPath::parse(&candidate) {
                    let _ = path.select(&input, &context);
                }
                let _ = evaluate_template(&json!({ "v.$": candidate }), &input, &context);
                let _ = time::parse_rfc3339(&candidate);
            }
        }
    }

    #[test]
    fn retry_and_catch_match_errors_like_step_functions() {
        assert!(error_matches(ALL, "MyError"));
        assert!(error_matches(ALL, TIMEOUT));
        assert!(!error_matches(ALL, RUNTIME));
        assert!(error_matches(TASK_FAILED, "MyError"));
        assert!(!error_matches(TASK_FAILED, TIMEOUT));
        assert!(!error_matches(TASK_FAILED, HEARTBEAT_TIMEOUT));
        assert!(error_matches(TIMEOUT, HEARTBEAT_TIMEOUT));
        assert!(!error_matches("Other", "MyError"));
        let retrier = Retrier {
            errors: vec![TIMEOUT.into()],
            interval_seconds: 2,
            max_attempts: 3,
            backoff_rate: 2.0,
            max_delay_seconds: Some(5),
        };
        assert_eq!(
            (0..3).map(|n| retrier.delay_ms(n)).collect::<Vec<_>>(),
            [2000, 4000, 5000]
        );
    }
}

//! ASL's JSONPath subset (`$`, `$$`, fields and indexes) and the `States.Runtime`-style
//! failures that running a definition can raise.

use serde_json::{Map, Value};

use crate::sfn::asl::errors::RUNTIME;

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

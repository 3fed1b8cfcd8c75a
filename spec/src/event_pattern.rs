//! EventBridge event patterns: parsed (which is validation: what EventBridge refuses is an
//! error naming the key path and the token) and matched against events.
//!
//! `#[on_event(pattern = ...)]` validates its pattern with [`EventPattern::parse`] at compile
//! time; the local cloud and deploy use the same parser and matcher.
//!
//! ```
//! use portico_spec::event_pattern::EventPattern;
//! use serde_json::json;
//!
//! let pattern = EventPattern::parse(r#"{
//!     "source": ["shop.orders"],
//!     "detail": { "total": [{ "numeric": [">", 100] }], "state": [{ "anything-but": "test" }] }
//! }"#).unwrap();
//! assert!(pattern.matches(&json!({
//!     "source": "shop.orders", "detail": { "total": 250, "state": "paid" }
//! })));
//! assert!(!pattern.matches(&json!({ "source": "shop.orders", "detail": { "total": 50 } })));
//!
//! let error = EventPattern::parse(r#"{"detail": {"state": "paid"}}"#).unwrap_err();
//! assert_eq!(error.path, "detail.state");
//! ```
//!
//! The operators are those of the EventBridge User Guide's "Content filtering in Amazon
//! EventBridge event patterns": exact values (strings, numbers, `true`/`false`, `null`),
//! `prefix`, `suffix` (each also with `equals-ignore-case`), `equals-ignore-case`, `wildcard`,
//! `anything-but` (a value, a list of strings or of numbers, or `prefix`/`suffix`/
//! `equals-ignore-case`/`wildcard`), `numeric`, `exists`, `cidr` and `$or`.

use std::fmt;
use std::net::IpAddr;

use serde_json::{Map, Value};

/// The largest magnitude of a `numeric` operand (EventBridge: -1.0e9 to +1.0e9 inclusive).
const NUMERIC_LIMIT: f64 = 1.0e9;

/// The operators a matcher object may use.
const OPERATORS: [&str; 9] = [
    "prefix",
    "suffix",
    "equals-ignore-case",
    "wildcard",
    "anything-but",
    "numeric",
    "exists",
    "cidr",
    "$or",
];

/// A pattern EventBridge would refuse: where (`detail.state`; empty for the whole pattern)
/// and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatternError {
    /// The key path of the offending value, dot-separated; empty for the pattern itself.
    pub path: String,
    /// What is wrong, quoting the token.
    pub message: String,
}

impl fmt::Display for PatternError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "at `{}`: {}", self.path, self.message)
        }
    }
}

impl std::error::Error for PatternError {}

/// A valid event pattern, ready to match events.
#[derive(Debug, Clone, PartialEq)]
pub struct EventPattern {
    root: Node,
}

/// An object level of a pattern: its fields (all must match) and its `$or` groups (one
/// alternative of each must match).
#[derive(Debug, Clone, PartialEq, Default)]
struct Node {
    fields: Vec<(String, Field)>,
    ors: Vec<Vec<Node>>,
}

#[derive(Debug, Clone, PartialEq)]
enum Field {
    Nested(Node),
    /// One of them must match.
    Leaf(Vec<Matcher>),
}

#[derive(Debug, Clone, PartialEq)]
enum Matcher {
    /// A string, number, boolean or `null`.
    Exact(Value),
    Prefix(Text),
    Suffix(Text),
    EqualsIgnoreCase(String),
    Wildcard(String),
    AnythingBut(AnythingBut),
    /// Every condition holds.
    Numeric(Vec<(Comparison, f64)>),
    Exists(bool),
    Cidr(IpAddr, u8),
}

/// A `prefix` / `suffix` operand: the text, and whether case is ignored.
#[derive(Debug, Clone, PartialEq)]
struct Text {
    value: String,
    ignore_case: bool,
}

#[derive(Debug, Clone, PartialEq)]
enum AnythingBut {
    /// None of these strings or numbers.
    Values(Vec<Value>),
    Prefix(String),
    Suffix(String),
    EqualsIgnoreCase(Vec<String>),
    Wildcard(Vec<String>),
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Comparison {
    Less,
    LessOrEqual,
    Equal,
    GreaterOrEqual,
    Greater,
}

impl EventPattern {
    /// Parses and validates a pattern written as JSON.
    ///
    /// # Errors
    /// What EventBridge would refuse: not JSON, not an object, a field that is neither an
    /// object nor a non-empty array, an unknown operator, a bad operand.
    pub fn parse(text: &str) -> Result<Self, PatternError> {
        let value: Value = serde_json::from_str(text).map_err(|e| PatternError {
            path: String::new(),
            message: format!("the event pattern is not JSON: {e}"),
        })?;
        Self::from_value(&value)
    }

    /// Validates a pattern already parsed as JSON.
    ///
    /// # Errors
    /// As [`parse`](Self::parse).
    pub fn from_value(value: &Value) -> Result<Self, PatternError> {
        let Value::Object(object) = value else {
            return Err(PatternError {
                path: String::new(),
                message: format!(
                    "an event pattern is a JSON object such as {{\"source\": [\"my.app\"]}}, not {}",
                    describe(value)
                ),
            });
        };
        if object.is_empty() {
            return Err(PatternError {
                path: String::new(),
                message: "an event pattern needs at least one field, such as \
                          {\"source\": [\"my.app\"]}"
                    .to_owned(),
            });
        }
        Ok(Self {
            root: parse_node(object, "")?,
        })
    }

    /// Whether `event` matches the pattern.
    pub fn matches(&self, event: &Value) -> bool {
        self.root.matches(Some(event))
    }
}

fn describe(value: &Value) -> String {
    match value {
        Value::Null => "null".to_owned(),
        Value::Bool(b) => format!("`{b}`"),
        Value::Number(n) => format!("the number `{n}`"),
        Value::String(s) => format!("the string {s:?}"),
        Value::Array(_) => "an array".to_owned(),
        Value::Object(_) => "an object".to_owned(),
    }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

fn error(path: &str, message: impl Into<String>) -> PatternError {
    PatternError {
        path: path.to_owned(),
        message: message.into(),
    }
}

fn parse_node(object: &Map<String, Value>, path: &str) -> Result<Node, PatternError> {
    let mut node = Node::default();
    for (key, value) in object {
        let here = join(path, key);
        if key == "$or" {
            node.ors.push(parse_or(value, &here)?);
            continue;
        }
        let field = match value {
            Value::Object(nested) if nested.is_empty() => {
                return Err(error(&here, "an empty object matches nothing; remove it"));
            }
            Value::Object(nested) => Field::Nested(parse_node(nested, &here)?),
            Value::Array(items) if items.is_empty() => {
                return Err(error(
                    &here,
                    "an empty array matches nothing: list at least one value",
                ));
            }
            Value::Array(items) => Field::Leaf(
                items
                    .iter()
                    .map(|item| parse_matcher(item, &here))
                    .collect::<Result<_, _>>()?,
            ),
            other => {
                return Err(error(
                    &here,
                    format!(
                        "a field's value must be an array of what it matches (e.g. [{other}]) \
                         or an object of nested fields, not {}",
                        describe(other)
                    ),
                ));
            }
        };
        node.fields.push((key.clone(), field));
    }
    Ok(node)
}

fn parse_or(value: &Value, path: &str) -> Result<Vec<Node>, PatternError> {
    let Value::Array(items) = value else {
        return Err(error(
            path,
            format!("`$or` takes an array of patterns, not {}", describe(value)),
        ));
    };
    if items.len() < 2 {
        return Err(error(path, "`$or` needs at least two alternatives"));
    }
    items
        .iter()
        .enumerate()
        .map(|(i, item)| match item {
            Value::Object(object) if !object.is_empty() => {
                parse_node(object, &format!("{path}[{i}]"))
            }
            other => Err(error(
                &format!("{path}[{i}]"),
                format!(
                    "each `$or` alternative is an object of fields, not {}",
                    describe(other)
                ),
            )),
        })
        .collect()
}

fn parse_matcher(item: &Value, path: &str) -> Result<Matcher, PatternError> {
    let object = match item {
        Value::String(_) | Value::Bool(_) | Value::Null => return Ok(Matcher::Exact(item.clone())),
        Value::Number(n) => {
            check_number(n.as_f64(), item, path)?;
            return Ok(Matcher::Exact(item.clone()));
        }
        Value::Array(_) => {
            return Err(error(
                path,
                "an array inside a field's array is not a pattern; list the values in one array",
            ));
        }
        Value::Object(object) => object,
    };
    let mut entries = object.iter();
    let (Some((operator, operand)), None) = (entries.next(), entries.next()) else {
        return Err(error(
            path,
            format!(
                "a matcher object has exactly one operator (one of {}), found {}",
                OPERATORS.join(", "),
                object.len()
            ),
        ));
    };
    let here = join(path, operator);
    match operator.as_str() {
        "prefix" => text_operand(operand, &here).map(Matcher::Prefix),
        "suffix" => text_operand(operand, &here).map(Matcher::Suffix),
        "equals-ignore-case" => string_operand(operand, &here).map(Matcher::EqualsIgnoreCase),
        "wildcard" => wildcard_operand(operand, &here).map(Matcher::Wildcard),
        "anything-but" => anything_but(operand, &here).map(Matcher::AnythingBut),
        "numeric" => numeric(operand, &here).map(Matcher::Numeric),
        "exists" => match operand {
            Value::Bool(b) => Ok(Matcher::Exists(*b)),
            other => Err(error(
                &here,
                format!("`exists` takes `true` or `false`, not {}", describe(other)),
            )),
        },
        "cidr" => cidr(operand, &here),
        unknown => Err(error(
            path,
            format!(
                "unknown operator `{unknown}`; EventBridge knows {}",
                OPERATORS.join(", ")
            ),
        )),
    }
}

fn check_number(value: Option<f64>, token: &Value, path: &str) -> Result<f64, PatternError> {
    match value {
        Some(v) if (-NUMERIC_LIMIT..=NUMERIC_LIMIT).contains(&v) => Ok(v),
        _ => Err(error(
            path,
            format!("the number `{token}` is out of range: EventBridge matches -1e9 to 1e9"),
        )),
    }
}

fn string_operand(operand: &Value, path: &str) -> Result<String, PatternError> {
    match operand {
        Value::String(s) => Ok(s.clone()),
        other => Err(error(
            path,
            format!("takes a string, not {}", describe(other)),
        )),
    }
}

/// `"text"` or `{"equals-ignore-case": "text"}`.
fn text_operand(operand: &Value, path: &str) -> Result<Text, PatternError> {
    if let Value::Object(object) = operand {
        if let (1, Some(inner)) = (object.len(), object.get("equals-ignore-case")) {
            return Ok(Text {
                value: string_operand(inner, &join(path, "equals-ignore-case"))?,
                ignore_case: true,
            });
        }
        return Err(error(
            path,
            "takes a string or {\"equals-ignore-case\": \"...\"}",
        ));
    }
    Ok(Text {
        value: string_operand(operand, path)?,
        ignore_case: false,
    })
}

fn wildcard_operand(operand: &Value, path: &str) -> Result<String, PatternError> {
    let pattern = string_operand(operand, path)?;
    if pattern.contains("**") {
        return Err(error(
            path,
            format!("`{pattern}` has consecutive `*`; one matches any run of characters"),
        ));
    }
    Ok(pattern)
}

/// One string or a non-empty array of strings.
fn strings_operand(operand: &Value, path: &str) -> Result<Vec<String>, PatternError> {
    match operand {
        Value::Array(items) if !items.is_empty() => items
            .iter()
            .map(|item| string_operand(item, path))
            .collect(),
        other => string_operand(other, path).map(|s| vec![s]),
    }
}

fn anything_but(operand: &Value, path: &str) -> Result<AnythingBut, PatternError> {
    match operand {
        Value::String(_) => Ok(AnythingBut::Values(vec![operand.clone()])),
        Value::Number(n) => {
            check_number(n.as_f64(), operand, path)?;
            Ok(AnythingBut::Values(vec![operand.clone()]))
        }
        Value::Array(items) => {
            let strings = items.iter().all(Value::is_string);
            let numbers = items.iter().all(Value::is_number);
            if items.is_empty() || !(strings || numbers) {
                return Err(error(
                    path,
                    "`anything-but` takes a non-empty list of only strings or only numbers",
                ));
            }
            for item in items {
                if let Value::Number(n) = item {
                    check_number(n.as_f64(), item, path)?;
                }
            }
            Ok(AnythingBut::Values(items.clone()))
        }
        Value::Object(object) => {
            let mut entries = object.iter();
            let (Some((operator, inner)), None) = (entries.next(), entries.next()) else {
                return Err(error(
                    path,
                    "`anything-but` takes one of prefix, suffix, equals-ignore-case, wildcard",
                ));
            };
            let here = join(path, operator);
            match operator.as_str() {
                "prefix" => string_operand(inner, &here).map(AnythingBut::Prefix),
                "suffix" => string_operand(inner, &here).map(AnythingBut::Suffix),
                "equals-ignore-case" => {
                    strings_operand(inner, &here).map(AnythingBut::EqualsIgnoreCase)
                }
                "wildcard" => match inner {
                    Value::Array(items) if !items.is_empty() => items
                        .iter()
                        .map(|item| wildcard_operand(item, &here))
                        .collect::<Result<_, _>>()
                        .map(AnythingBut::Wildcard),
                    other => wildcard_operand(other, &here).map(|w| AnythingBut::Wildcard(vec![w])),
                },
                unknown => Err(error(
                    path,
                    format!(
                        "`anything-but` does not take `{unknown}`; it takes prefix, suffix, \
                         equals-ignore-case or wildcard"
                    ),
                )),
            }
        }
        other => Err(error(
            path,
            format!(
                "`anything-but` takes a string, a number, a list of them, or an operator \
                 object, not {}",
                describe(other)
            ),
        )),
    }
}

fn numeric(operand: &Value, path: &str) -> Result<Vec<(Comparison, f64)>, PatternError> {
    let Value::Array(items) = operand else {
        return Err(error(
            path,
            "`numeric` takes an array such as [\">\", 0, \"<=\", 5]",
        ));
    };
    if items.is_empty() || items.len() % 2 != 0 || items.len() > 4 {
        return Err(error(
            path,
            "`numeric` takes one or two comparisons, each an operator and a number, such as \
             [\">\", 0, \"<=\", 5]",
        ));
    }
    let mut out = Vec::new();
    for pair in items.chunks(2) {
        let comparison = match pair[0].as_str() {
            Some("<") => Comparison::Less,
            Some("<=") => Comparison::LessOrEqual,
            Some("=") => Comparison::Equal,
            Some(">=") => Comparison::GreaterOrEqual,
            Some(">") => Comparison::Greater,
            _ => {
                return Err(error(
                    path,
                    format!(
                        "unknown numeric operator `{}`; use <, <=, =, >= or >",
                        pair[0]
                    ),
                ));
            }
        };
        let Some(number) = pair[1].as_f64() else {
            return Err(error(path, format!("`{}` is not a number", pair[1])));
        };
        out.push((comparison, check_number(Some(number), &pair[1], path)?));
    }
    if let [(first, low), (second, high)] = out[..] {
        let lower = matches!(first, Comparison::Greater | Comparison::GreaterOrEqual);
        let upper = matches!(second, Comparison::Less | Comparison::LessOrEqual);
        if !lower || !upper || low >= high {
            return Err(error(
                path,
                "two numeric comparisons are a range: a lower bound (> or >=) then a larger \
                 upper bound (< or <=)",
            ));
        }
    }
    Ok(out)
}

fn cidr(operand: &Value, path: &str) -> Result<Matcher, PatternError> {
    let text = string_operand(operand, path)?;
    let bad = || {
        error(
            path,
            format!("`{text}` is not a CIDR block such as \"10.0.0.0/24\" or \"2001:db8::/32\""),
        )
    };
    let (address, length) = text.split_once('/').ok_or_else(bad)?;
    let address: IpAddr = address.parse().map_err(|_| bad())?;
    let length: u8 = length.parse().map_err(|_| bad())?;
    let max = if address.is_ipv4() { 32 } else { 128 };
    if length > max {
        return Err(bad());
    }
    Ok(Matcher::Cidr(address, length))
}

impl Node {
    /// `value` is the event's value at this level (`None`: absent).
    fn matches(&self, value: Option<&Value>) -> bool {
        let object = value.and_then(Value::as_object);
        let fields = self.fields.iter().all(|(key, field)| {
            let child = object.and_then(|o| o.get(key));
            match field {
                Field::Nested(node) => match child {
                    Some(Value::Array(items)) => items.iter().any(|item| node.matches(Some(item))),
                    child => node.matches(child),
                },
                Field::Leaf(matchers) => leaf_matches(matchers, child),
            }
        });
        fields
            && self
                .ors
                .iter()
                .all(|alternatives| alternatives.iter().any(|node| node.matches(value)))
    }
}

fn leaf_matches(matchers: &[Matcher], value: Option<&Value>) -> bool {
    match value {
        None => matchers.contains(&Matcher::Exists(false)),
        Some(Value::Object(_)) => false,
        Some(Value::Array(items)) => items
            .iter()
            .any(|item| matchers.iter().any(|m| m.matches(item))),
        Some(leaf) => matchers.iter().any(|m| m.matches(leaf)),
    }
}

fn same_value(pattern: &Value, leaf: &Value) -> bool {
    match (pattern, leaf) {
        (Value::Number(a), Value::Number(b)) => a.as_f64() == b.as_f64(),
        _ => pattern == leaf,
    }
}

impl Matcher {
    fn matches(&self, leaf: &Value) -> bool {
        let text = leaf.as_str();
        match self {
            Matcher::Exact(value) => same_value(value, leaf),
            Matcher::Prefix(t) => text.is_some_and(|s| affix(s, t, |a, b| a.starts_with(b))),
            Matcher::Suffix(t) => text.is_some_and(|s| affix(s, t, |a, b| a.ends_with(b))),
            Matcher::EqualsIgnoreCase(want) => text.is_some_and(|s| fold(s) == fold(want)),
            Matcher::Wildcard(pattern) => text.is_some_and(|s| wildcard(pattern, s)),
            Matcher::AnythingBut(but) => but.matches(leaf),
            Matcher::Numeric(conditions) => leaf.as_f64().is_some_and(|n| {
                conditions
                    .iter()
                    .all(|(comparison, bound)| match comparison {
                        Comparison::Less => n < *bound,
                        Comparison::LessOrEqual => n <= *bound,
                        Comparison::Equal => n == *bound,
                        Comparison::GreaterOrEqual => n >= *bound,
                        Comparison::Greater => n > *bound,
                    })
            }),
            Matcher::Exists(exists) => *exists,
            Matcher::Cidr(network, length) => text
                .and_then(|s| s.parse::<IpAddr>().ok())
                .is_some_and(|ip| in_network(ip, *network, *length)),
        }
    }
}

impl AnythingBut {
    fn matches(&self, leaf: &Value) -> bool {
        let text = leaf.as_str();
        match self {
            AnythingBut::Values(values) => !values.iter().any(|v| same_value(v, leaf)),
            AnythingBut::Prefix(p) => text.is_some_and(|s| !s.starts_with(p.as_str())),
            AnythingBut::Suffix(p) => text.is_some_and(|s| !s.ends_with(p.as_str())),
            AnythingBut::EqualsIgnoreCase(values) => {
                text.is_some_and(|s| !values.iter().any(|v| fold(v) == fold(s)))
            }
            AnythingBut::Wildcard(patterns) => {
                text.is_some_and(|s| !patterns.iter().any(|p| wildcard(p, s)))
            }
        }
    }
}

fn fold(s: &str) -> String {
    s.to_lowercase()
}

fn affix(s: &str, t: &Text, test: fn(&str, &str) -> bool) -> bool {
    if t.ignore_case {
        test(&fold(s), &fold(&t.value))
    } else {
        test(s, &t.value)
    }
}

/// `*` matches any run of characters (`\*` a literal star); everything else itself.
fn wildcard(pattern: &str, text: &str) -> bool {
    let mut parts: Vec<String> = vec![String::new()];
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some(next) => parts.last_mut().expect("non-empty").push(next),
                None => parts.last_mut().expect("non-empty").push('\\'),
            },
            '*' => parts.push(String::new()),
            c => parts.last_mut().expect("non-empty").push(c),
        }
    }
    let (first, rest) = parts.split_first().expect("non-empty");
    let Some(mut remaining) = text.strip_prefix(first.as_str()) else {
        return false;
    };
    let Some((last, middle)) = rest.split_last() else {
        return remaining.is_empty();
    };
    for part in middle {
        match remaining.find(part.as_str()) {
            Some(at) => remaining = &remaining[at + part.len()..],
            None => return false,
        }
    }
    remaining.len() >= last.len() && remaining.ends_with(last.as_str())
}

fn in_network(ip: IpAddr, network: IpAddr, length: u8) -> bool {
    fn prefix_equal(a: &[u8], b: &[u8], bits: u8) -> bool {
        let (bytes, rest) = (usize::from(bits / 8), bits % 8);
        if a[..bytes] != b[..bytes] {
            return false;
        }
        rest == 0 || (a[bytes] ^ b[bytes]) >> (8 - rest) == 0
    }
    match (ip, network) {
        (IpAddr::V4(ip), IpAddr::V4(net)) => prefix_equal(&ip.octets(), &net.octets(), length),
        (IpAddr::V6(ip), IpAddr::V6(net)) => prefix_equal(&ip.octets(), &net.octets(), length),
        _ => false,
    }
}

#[cfg(test)]
mod tests;

//! `Choice` rules evaluated against a state's input, with Step Functions' comparisons.

use serde_json::Value;

use crate::clock;
use crate::sfn::asl::path::Failure;
use crate::sfn::asl::types::{Comparison, Operand, Rule};

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
                value.as_str().and_then(clock::parse_rfc3339),
                expected.as_str().and_then(clock::parse_rfc3339),
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
        Comparison::IsTimestamp => flag(value.as_str().and_then(clock::parse_rfc3339).is_some()),
    }
}

/// `StringMatches`: `*` matches any run of characters, `\*` a star.
pub(crate) fn wildcard_match(pattern: &str, text: &str) -> bool {
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

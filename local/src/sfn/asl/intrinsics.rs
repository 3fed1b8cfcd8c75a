//! Intrinsic functions (`States.Format`, `States.StringToJson`, …): parsed at load, evaluated
//! in templates.

use serde_json::Value;

use crate::sfn::asl::path::{Failure, JsonPath};
use crate::sfn::asl::types::INTRINSICS;

/// An intrinsic function call, `States.Format('{} {}', $.a, 'b')`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Intrinsic {
    pub(crate) name: String,
    args: Vec<Arg>,
}

#[derive(Debug, Clone, PartialEq)]
enum Arg {
    Literal(Value),
    Path(JsonPath),
    Call(Intrinsic),
}

impl Intrinsic {
    pub(crate) fn parse(text: &str) -> Result<Self, String> {
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

    pub(crate) fn evaluate(&self, input: &Value, context: &Value) -> Result<Value, Failure> {
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
            "States.UUID" if args.is_empty() => Ok(Value::String(crate::ids::uuid_v4())),
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
    pub(crate) text: &'a str,
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

#[cfg(test)]
mod tests {
    use super::*;

    use crate::clock;

    use crate::sfn::asl::dataflow::evaluate_template;
    use serde_json::json;
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
                let _ = clock::parse_rfc3339(&candidate);
            }
        }
    }
}

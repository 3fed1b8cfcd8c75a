//! Intrinsic functions (`States.Format`, `States.StringToJson`, …): parsed at load, evaluated
//! in templates (what each computes: [`functions`]).

mod functions;

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
        functions::apply(&self.name, args).map_err(|message| {
            // AWS's cause names the function: `Invalid arguments in States.MathAdd`.
            Failure::runtime(format!("Invalid arguments in {}: {message}", self.name))
        })
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

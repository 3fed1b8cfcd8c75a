//! CloudWatch filter patterns for `portico logs --local`, which has no CloudWatch to evaluate
//! them: the term forms (`ERROR`, `"exact phrase"`, `?a ?b` for any of, `-x` for none of,
//! several terms for all of), matched case-sensitively anywhere in the message, as CloudWatch
//! does. JSON (`{ $.level = … }`) and space-delimited (`[ip, …]`) patterns are refused.

/// A parsed term pattern.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Pattern {
    all: Vec<String>,
    any: Vec<String>,
    none: Vec<String>,
}

/// A pattern `--local` cannot evaluate.
#[derive(Debug, thiserror::Error)]
#[error(
    "filter pattern `{pattern}`: {reason}; with --local only term patterns work (`ERROR`, \
     `\"exact phrase\"`, `?ERROR ?WARN`, `-health`)"
)]
pub struct BadPattern {
    pattern: String,
    reason: &'static str,
}

impl Pattern {
    /// Parses `text`.
    ///
    /// # Errors
    /// For JSON and space-delimited patterns, and an unclosed quote.
    pub fn parse(text: &str) -> Result<Self, BadPattern> {
        let bad = |reason| BadPattern {
            pattern: text.to_owned(),
            reason,
        };
        let trimmed = text.trim();
        if trimmed.starts_with('{') || trimmed.starts_with('[') {
            return Err(bad("JSON and space-delimited patterns need CloudWatch"));
        }
        let mut pattern = Self::default();
        let mut chars = trimmed.chars().peekable();
        loop {
            while chars.next_if(|c| c.is_whitespace()).is_some() {}
            let Some(&first) = chars.peek() else { break };
            let list = match first {
                '?' => {
                    chars.next();
                    &mut pattern.any
                }
                '-' => {
                    chars.next();
                    &mut pattern.none
                }
                _ => &mut pattern.all,
            };
            let term: String = if chars.next_if_eq(&'"').is_some() {
                let mut term = String::new();
                loop {
                    match chars.next() {
                        None => return Err(bad("a quote is not closed")),
                        Some('\\') => term.extend(chars.next()),
                        Some('"') => break,
                        Some(c) => term.push(c),
                    }
                }
                term
            } else {
                std::iter::from_fn(|| chars.next_if(|c| !c.is_whitespace())).collect()
            };
            if !term.is_empty() {
                list.push(term);
            }
        }
        Ok(pattern)
    }

    /// Whether `message` matches.
    pub fn matches(&self, message: &str) -> bool {
        self.all.iter().all(|t| message.contains(t.as_str()))
            && (self.any.is_empty() || self.any.iter().any(|t| message.contains(t.as_str())))
            && !self.none.iter().any(|t| message.contains(t.as_str()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn term_patterns() {
        let m = |p: &str, msg: &str| Pattern::parse(p).unwrap().matches(msg);
        assert!(m("", "anything"));
        assert!(m("ERROR", "an ERROR here"));
        assert!(!m("ERROR", "an error here"));
        assert!(m("ERROR db", "db: ERROR"));
        assert!(!m("ERROR db", "ERROR cache"));
        assert!(m("\"user 42\"", "found user 42"));
        // A term matches inside a longer word, as on CloudWatch.
        assert!(m("\"user 42\"", "user 421x"));
        assert!(!m("\"user 42\"", "user  42"));
        assert!(m("?ERROR ?WARN", "WARN slow"));
        assert!(!m("?ERROR ?WARN", "INFO ok"));
        assert!(m("GET -health", "GET /users"));
        assert!(!m("GET -health", "GET /health"));
        assert!(m("\"say \\\"hi\\\"\"", "they say \"hi\""));
    }

    #[test]
    fn json_and_unclosed_patterns_are_refused() {
        for bad in ["{ $.level = \"ERROR\" }", "[ip, user]", "\"open"] {
            let err = Pattern::parse(bad).unwrap_err().to_string();
            assert!(err.contains("with --local only term patterns"), "{err}");
        }
    }
}

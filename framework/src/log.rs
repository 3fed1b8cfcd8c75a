//! What Portico writes to the function's log (stderr, which Lambda sends to CloudWatch Logs).
//!
//! A message that quotes a request or an event (a malformed event's offending value, an
//! error's detail) is cut to an [`Excerpt`]: its beginning (where the path and the kind of
//! error are) and its end (what was expected, where), never the whole value. Every byte
//! logged on Lambda is billed, and a quoted value may carry what must not be logged.

use std::fmt;

/// The most bytes of a message one log line quotes.
pub(crate) const EXCERPT_MAX: usize = 240;

/// `text`, or its first and last bytes with the length of what was cut between them.
pub(crate) struct Excerpt<'a> {
    text: &'a str,
    max: usize,
}

impl<'a> Excerpt<'a> {
    /// An excerpt of at most [`EXCERPT_MAX`] bytes of `text` (plus the cut marker).
    pub(crate) fn of(text: &'a str) -> Self {
        Self {
            text,
            max: EXCERPT_MAX,
        }
    }

    /// The excerpt as an owned string (for an `errorMessage`).
    pub(crate) fn into_string(self) -> String {
        self.to_string()
    }
}

impl fmt::Display for Excerpt<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = self.text;
        if text.len() <= self.max {
            return f.write_str(text);
        }
        let head = floor_char_boundary(text, self.max * 2 / 3);
        let tail = ceil_char_boundary(text, text.len() - self.max / 3);
        write!(
            f,
            "{} …[{} bytes cut]… {}",
            &text[..head],
            tail - head,
            &text[tail..]
        )
    }
}

/// The largest char boundary of `text` at or below `index`.
fn floor_char_boundary(text: &str, index: usize) -> usize {
    (0..=index.min(text.len()))
        .rev()
        .find(|&i| text.is_char_boundary(i))
        .unwrap_or(0)
}

/// The smallest char boundary of `text` at or above `index`.
fn ceil_char_boundary(text: &str, index: usize) -> usize {
    (index..=text.len())
        .find(|&i| text.is_char_boundary(i))
        .unwrap_or(text.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_text_is_kept_whole() {
        assert_eq!(
            Excerpt::of("field `body`: bad").to_string(),
            "field `body`: bad"
        );
    }

    #[test]
    fn long_text_keeps_its_head_and_tail_and_says_how_much_was_cut() {
        let value = "x".repeat(300_000);
        let text = format!(
            "headers.host: invalid type: string \"{value}\", expected a map at line 1 column 300040"
        );
        let excerpt = Excerpt::of(&text).to_string();
        assert!(excerpt.len() <= EXCERPT_MAX + 40, "{}", excerpt.len());
        assert!(
            excerpt.starts_with("headers.host: invalid type: string \"xxx"),
            "{excerpt}"
        );
        assert!(
            excerpt.ends_with("expected a map at line 1 column 300040"),
            "{excerpt}"
        );
        let cut: usize = excerpt
            .split("…[")
            .nth(1)
            .and_then(|s| s.split(' ').next())
            .and_then(|n| n.parse().ok())
            .unwrap();
        assert_eq!(cut + EXCERPT_MAX, text.len());
    }

    #[test]
    fn cuts_fall_on_char_boundaries() {
        let text = "é".repeat(1000);
        let excerpt = Excerpt::of(&text).to_string();
        assert!(
            excerpt.starts_with('é') && excerpt.ends_with('é'),
            "{excerpt}"
        );
        assert!(excerpt.len() <= EXCERPT_MAX + 40);
    }
}

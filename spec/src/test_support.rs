//! Helpers shared by the unit tests of the parsers in this crate.

/// Checks error cases of a parser: `(input, what the message says, the part of the input the
/// error points at)`. `err` parses the input, expecting an error, and returns the message and
/// the part it points at.
#[track_caller]
pub(crate) fn assert_errors(err: fn(&str) -> (String, &str), cases: &[(&str, &str, &str)]) {
    for &(input, needle, want_part) in cases {
        let (message, part) = err(input);
        assert!(
            message.contains(needle),
            "{input:?}: `{needle}` not in {message:?}"
        );
        assert_eq!(part, want_part, "{input:?}: {message}");
    }
}

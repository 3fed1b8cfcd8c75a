//! Patterns and events from the EventBridge User Guide: "Creating Amazon EventBridge event
//! patterns" (eb-event-patterns.html), "Content filtering in Amazon EventBridge event
//! patterns" (eb-event-patterns-content-based-filtering.html) and "Comparison operators for
//! use in event patterns" (eb-create-pattern-operators.html), docs.aws.amazon.com/eventbridge.

use serde_json::Value;

use super::*;

/// One documented case: a pattern, events it matches and events it does not.
#[derive(serde::Deserialize)]
struct Case {
    doc: String,
    pattern: Value,
    matching: Vec<Value>,
    other: Vec<Value>,
}

/// The cases of `cases.json`: the guide's examples (the EC2 state-change event, prefix and
/// suffix with and without case, every `anything-but` form, numeric ranges and equality, IPv4
/// and IPv6 `cidr`, `exists`, empty and `null` values, `equals-ignore-case`, wildcards, `$or`),
/// each with events on both sides of it.
#[test]
fn the_guides_examples() {
    let cases: Vec<Case> = serde_json::from_str(include_str!("cases.json")).unwrap();
    assert!(cases.len() >= 30);
    for case in cases {
        let pattern =
            EventPattern::from_value(&case.pattern).unwrap_or_else(|e| panic!("{}: {e}", case.doc));
        for event in &case.matching {
            assert!(pattern.matches(event), "{}: should match {event}", case.doc);
        }
        for event in &case.other {
            assert!(
                !pattern.matches(event),
                "{}: should not match {event}",
                case.doc
            );
        }
    }
}

#[test]
fn wildcard_escapes_and_edges() {
    assert!(wildcard(r"a\*b", "a*b"));
    assert!(!wildcard(r"a\*b", "axb"));
    assert!(wildcard("*", ""));
    assert!(!wildcard("ab*ba", "aba"));
}

/// What EventBridge refuses, with the path and a word of the message.
#[test]
fn invalid_patterns_name_the_path_and_token() {
    let cases: &[(&str, &str, &str)] = &[
        ("[]", "", "JSON object"),
        ("{}", "", "at least one field"),
        ("not json", "", "not JSON"),
        (
            r#"{"source": "aws.ec2"}"#,
            "source",
            "the string \"aws.ec2\"",
        ),
        (
            r#"{"detail": {"state": 5}}"#,
            "detail.state",
            "the number `5`",
        ),
        (r#"{"source": []}"#, "source", "empty array"),
        (r#"{"detail": {}}"#, "detail", "empty object"),
        (
            r#"{"a": [{"begins-with": "x"}]}"#,
            "a",
            "unknown operator `begins-with`",
        ),
        (
            r#"{"a": [{"prefix": "x", "suffix": "y"}]}"#,
            "a",
            "exactly one operator",
        ),
        (r#"{"a": [{"prefix": 5}]}"#, "a.prefix", "takes a string"),
        (
            r#"{"a": [{"numeric": [">", "five"]}]}"#,
            "a.numeric",
            "`\"five\"` is not a number",
        ),
        (
            r#"{"a": [{"numeric": ["!=", 5]}]}"#,
            "a.numeric",
            "unknown numeric operator `\"!=\"`",
        ),
        (
            r#"{"a": [{"numeric": ["<", 5, ">", 0]}]}"#,
            "a.numeric",
            "a range",
        ),
        (
            r#"{"a": [{"numeric": [">", 5, "<", 1]}]}"#,
            "a.numeric",
            "a range",
        ),
        (
            r#"{"a": [{"numeric": [">", 5e10]}]}"#,
            "a.numeric",
            "out of range",
        ),
        (
            r#"{"a": [{"numeric": [">"]}]}"#,
            "a.numeric",
            "one or two comparisons",
        ),
        (
            r#"{"a": [{"cidr": "10.0.0.0/33"}]}"#,
            "a.cidr",
            "`10.0.0.0/33` is not a CIDR",
        ),
        (
            r#"{"a": [{"cidr": "10.0.0/8"}]}"#,
            "a.cidr",
            "is not a CIDR",
        ),
        (
            r#"{"a": [{"exists": "yes"}]}"#,
            "a.exists",
            "`true` or `false`",
        ),
        (
            r#"{"a": [{"anything-but": ["x", 1]}]}"#,
            "a.anything-but",
            "only strings or only numbers",
        ),
        (
            r#"{"a": [{"anything-but": {"numeric": [">", 1]}}]}"#,
            "a.anything-but",
            "does not take `numeric`",
        ),
        (
            r#"{"a": [{"anything-but": true}]}"#,
            "a.anything-but",
            "not `true`",
        ),
        (
            r#"{"a": [{"wildcard": "a**b"}]}"#,
            "a.wildcard",
            "consecutive `*`",
        ),
        (r#"{"a": [["x"]]}"#, "a", "array inside"),
        (r#"{"$or": [{"a": ["x"]}]}"#, "$or", "at least two"),
        (
            r#"{"$or": [{"a": ["x"]}, "b"]}"#,
            "$or[1]",
            "alternative is an object",
        ),
        (
            r#"{"$or": [{"a": ["x"]}, {"b": "y"}]}"#,
            "$or[1].b",
            "must be an array",
        ),
    ];
    for (text, path, word) in cases {
        let error = EventPattern::parse(text).expect_err(text);
        assert_eq!(&error.path, path, "{text}: {error}");
        assert!(error.message.contains(word), "{text}: {error}");
    }
    let error = EventPattern::parse(r#"{"detail": {"state": "x"}}"#).unwrap_err();
    assert!(
        error.to_string().starts_with("at `detail.state`: "),
        "{error}"
    );
}

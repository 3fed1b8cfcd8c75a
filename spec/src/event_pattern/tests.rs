//! Patterns and events from the EventBridge User Guide: "Creating Amazon EventBridge event
//! patterns" (eb-event-patterns.html), "Content filtering in Amazon EventBridge event
//! patterns" (eb-event-patterns-content-based-filtering.html) and "Comparison operators for
//! use in event patterns" (eb-create-pattern-operators.html), docs.aws.amazon.com/eventbridge.

use serde_json::{Value, json};

use super::*;

/// The EC2 state-change event of "Creating Amazon EventBridge event patterns".
fn ec2_event() -> Value {
    json!({
        "version": "0",
        "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
        "detail-type": "EC2 Instance State-change Notification",
        "source": "aws.ec2",
        "account": "111122223333",
        "time": "2017-12-22T18:43:48Z",
        "region": "us-west-1",
        "resources": ["arn:aws:ec2:us-west-1:123456789012:instance/i-1234567890abcdef0"],
        "detail": { "instance-id": "i-1234567890abcdef0", "state": "terminated" }
    })
}

fn pattern(text: &str) -> EventPattern {
    EventPattern::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"))
}

/// Each case: a pattern, then events it must match and events it must not.
fn check(text: &str, matching: &[Value], other: &[Value]) {
    let p = pattern(text);
    for event in matching {
        assert!(p.matches(event), "{text} should match {event}");
    }
    for event in other {
        assert!(!p.matches(event), "{text} should not match {event}");
    }
}

#[test]
fn the_guides_ec2_example() {
    let mut running = ec2_event();
    running["detail"]["state"] = json!("running");
    check(
        r#"{"source": ["aws.ec2"], "detail-type": ["EC2 Instance State-change Notification"],
            "detail": {"state": ["terminated"]}}"#,
        &[ec2_event()],
        &[running],
    );
    // A list of values matches any of them; an array in the event matches if any element does.
    check(
        r#"{"detail": {"state": ["running", "terminated"]}}"#,
        &[ec2_event()],
        &[json!({"detail": {"state": "stopped"}})],
    );
    check(
        r#"{"resources": ["arn:aws:ec2:us-west-1:123456789012:instance/i-1234567890abcdef0"]}"#,
        &[ec2_event()],
        &[json!({"resources": []})],
    );
}

#[test]
fn prefix_and_suffix() {
    check(
        r#"{"time": [{"prefix": "2017-10-02"}]}"#,
        &[json!({"time": "2017-10-02T18:43:48Z"})],
        &[
            json!({"time": "2017-10-03T18:43:48Z"}),
            json!({"time": 2017}),
        ],
    );
    check(
        r#"{"source": ["aws.autoscaling"], "region": [{"prefix": "eu-"}]}"#,
        &[json!({"source": "aws.autoscaling", "region": "eu-west-1"})],
        &[json!({"source": "aws.autoscaling", "region": "us-east-1"})],
    );
    check(
        r#"{"service": [{"prefix": {"equals-ignore-case": "EventB"}}]}"#,
        &[
            json!({"service": "eventbridge"}),
            json!({"service": "EVENTBRIDGE"}),
        ],
        &[json!({"service": "sns"})],
    );
    check(
        r#"{"FileName": [{"suffix": ".png"}]}"#,
        &[json!({"FileName": "image.png"})],
        &[
            json!({"FileName": "image.PNG"}),
            json!({"FileName": "image.jpg"}),
        ],
    );
    check(
        r#"{"FileName": [{"suffix": {"equals-ignore-case": ".png"}}]}"#,
        &[json!({"FileName": "image.PNG"})],
        &[json!({"FileName": "image.jpg"})],
    );
}

#[test]
fn anything_but() {
    check(
        r#"{"detail": {"state": [{"anything-but": "initializing"}]}}"#,
        &[json!({"detail": {"state": "running"}})],
        &[
            json!({"detail": {"state": "initializing"}}),
            json!({"detail": {}}),
        ],
    );
    check(
        r#"{"detail": {"x-limit": [{"anything-but": 123}]}}"#,
        &[json!({"detail": {"x-limit": 124}})],
        &[json!({"detail": {"x-limit": 123.0}})],
    );
    check(
        r#"{"detail": {"state": [{"anything-but": ["stopped", "overloaded"]}]}}"#,
        &[json!({"detail": {"state": "running"}})],
        &[json!({"detail": {"state": "overloaded"}})],
    );
    check(
        r#"{"detail": {"x-limit": [{"anything-but": [100, 200, 300]}]}}"#,
        &[json!({"detail": {"x-limit": 150}})],
        &[json!({"detail": {"x-limit": 200}})],
    );
    check(
        r#"{"detail": {"state": [{"anything-but": {"prefix": "init"}}]}}"#,
        &[json!({"detail": {"state": "running"}})],
        &[json!({"detail": {"state": "initializing"}})],
    );
    check(
        r#"{"detail": {"FileName": [{"anything-but": {"suffix": ".txt"}}]}}"#,
        &[json!({"detail": {"FileName": "a.png"}})],
        &[json!({"detail": {"FileName": "a.txt"}})],
    );
    check(
        r#"{"detail": {"state": [{"anything-but": {"equals-ignore-case": ["Stopped", "OverLoaded"]}}]}}"#,
        &[json!({"detail": {"state": "running"}})],
        &[json!({"detail": {"state": "STOPPED"}})],
    );
    check(
        r#"{"FilePath": [{"anything-but": {"wildcard": "*/lib/*"}}]}"#,
        &[json!({"FilePath": "/usr/bin/ls"})],
        &[json!({"FilePath": "/usr/lib/libc.so"})],
    );
}

#[test]
fn numeric() {
    check(
        r#"{"detail": {"c-count": [{"numeric": [">", 0, "<=", 5]}],
                       "d-count": [{"numeric": ["<", 10]}],
                       "x-limit": [{"numeric": ["=", 3.018e2]}]}}"#,
        &[json!({"detail": {"c-count": 5, "d-count": 9.5, "x-limit": 301.8}})],
        &[
            json!({"detail": {"c-count": 0, "d-count": 9.5, "x-limit": 301.8}}),
            json!({"detail": {"c-count": 5, "d-count": 10, "x-limit": 301.8}}),
            json!({"detail": {"c-count": "5", "d-count": 9.5, "x-limit": 301.8}}),
        ],
    );
    check(
        r#"{"Price": [100]}"#,
        &[json!({"Price": 100}), json!({"Price": 100.0})],
        &[json!({"Price": "100"})],
    );
}

#[test]
fn ip_addresses() {
    check(
        r#"{"detail": {"sourceIPAddress": [{"cidr": "10.0.0.0/24"}]}}"#,
        &[json!({"detail": {"sourceIPAddress": "10.0.0.255"}})],
        &[
            json!({"detail": {"sourceIPAddress": "10.0.1.0"}}),
            json!({"detail": {"sourceIPAddress": "not an ip"}}),
        ],
    );
    check(
        r#"{"sourceIPAddress": [{"cidr": "2001:db8::/32"}]}"#,
        &[json!({"sourceIPAddress": "2001:db8:1::1"})],
        &[
            json!({"sourceIPAddress": "2001:db9::1"}),
            json!({"sourceIPAddress": "10.0.0.1"}),
        ],
    );
}

#[test]
fn exists() {
    check(
        r#"{"detail": {"state": [{"exists": true}]}}"#,
        &[ec2_event()],
        &[json!({"detail": {"instance-id": "i-1"}})],
    );
    check(
        r#"{"detail": {"state": [{"exists": false}]}}"#,
        &[
            json!({"detail": {"instance-id": "i-1"}}),
            json!({"source": "x"}),
        ],
        &[ec2_event()],
    );
}

#[test]
fn empty_null_and_case() {
    check(
        r#"{"LastName": [""]}"#,
        &[json!({"LastName": ""})],
        &[json!({"LastName": "Doe"})],
    );
    check(
        r#"{"UserID": [null]}"#,
        &[json!({"UserID": null})],
        &[json!({"UserID": "u-1"}), json!({})],
    );
    check(
        r#"{"Name": [{"equals-ignore-case": "alice"}]}"#,
        &[json!({"Name": "Alice"}), json!({"Name": "ALICE"})],
        &[json!({"Name": "Alicia"})],
    );
}

#[test]
fn wildcards() {
    check(
        r#"{"EventBusArn": [{"wildcard": "arn:aws:events:us-east-1:*:event-bus/*"}]}"#,
        &[json!({"EventBusArn": "arn:aws:events:us-east-1:123456789012:event-bus/default"})],
        &[json!({"EventBusArn": "arn:aws:events:us-west-2:123456789012:event-bus/default"})],
    );
    check(
        r#"{"FileName": [{"wildcard": "dir/*.png"}]}"#,
        &[
            json!({"FileName": "dir/a.png"}),
            json!({"FileName": "dir/sub/b.png"}),
        ],
        &[
            json!({"FileName": "dir/a.png.txt"}),
            json!({"FileName": "other/a.png"}),
        ],
    );
    assert!(wildcard(r"a\*b", "a*b"));
    assert!(!wildcard(r"a\*b", "axb"));
    assert!(wildcard("*", ""));
    assert!(!wildcard("ab*ba", "aba"));
}

#[test]
fn or() {
    // "Location is New York, or Day is Monday."
    check(
        r#"{"$or": [{"Location": ["New York"]}, {"Day": ["Monday"]}]}"#,
        &[
            json!({"Location": "New York", "Day": "Sunday"}),
            json!({"Day": "Monday"}),
        ],
        &[json!({"Location": "Boston", "Day": "Sunday"})],
    );
    check(
        r#"{"source": ["aws.ec2"], "$or": [{"detail": {"state": ["terminated"]}},
            {"detail": {"instance-id": [{"prefix": "i-9"}]}}]}"#,
        &[ec2_event()],
        &[json!({"source": "aws.ec2", "detail": {"state": "running", "instance-id": "i-1"}})],
    );
    // "PaymentType is Credit or Debit" and "Location is New York and Day is Monday".
    check(
        r#"{"PaymentType": ["Credit", "Debit"], "Location": ["New York"], "Day": ["Monday"]}"#,
        &[json!({"PaymentType": "Debit", "Location": "New York", "Day": "Monday"})],
        &[json!({"PaymentType": "Cash", "Location": "New York", "Day": "Monday"})],
    );
}

#[test]
fn nested_arrays_of_objects() {
    check(
        r#"{"detail": {"items": {"sku": ["b-2"]}}}"#,
        &[json!({"detail": {"items": [{"sku": "a-1"}, {"sku": "b-2"}]}})],
        &[
            json!({"detail": {"items": [{"sku": "a-1"}]}}),
            json!({"detail": {"items": "b-2"}}),
        ],
    );
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

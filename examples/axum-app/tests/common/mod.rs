//! What the in-process and the local-cloud tests of the axum app share.

use serde_json::{Value, json};

/// The request both send to the echo route: method, target (stage-relative), a header, body.
pub const ECHO_PATCH: (&str, &str, (&str, &str), &str) = (
    "PATCH",
    "/echo/a/b?x=1&y=two%20words",
    ("X-Team", "payments"),
    "patch body",
);

/// The echo route's answer to [`ECHO_PATCH`]: the router saw the request as sent, without
/// the stage.
pub fn assert_echoed_patch(seen: &Value) {
    assert_eq!(seen["method"], "PATCH", "{seen}");
    assert_eq!(seen["path"], "/echo/a/b", "{seen}");
    assert_eq!(seen["query"], "x=1&y=two+words", "{seen}");
    assert_eq!(seen["headers"]["x-team"], "payments", "{seen}");
    assert_eq!(seen["body"], "patch body", "{seen}");
}

/// The answer to `/boom`, whose handler panics: Portico's 500 (not the gateway's 502).
pub fn assert_panic_answer(status: u16, body: &Value) {
    let expected =
        json!({"code": "InternalServerError", "message": "An internal server error occurred."});
    assert_eq!((status, body), (500, &expected));
}

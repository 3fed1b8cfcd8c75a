//! The peers give the same answers to every event of the mix and to the error cases,
//! so the benchmarks compare the same work.

use std::process::Command;

use portico_bench::events::{self, Event};
use portico_bench::{Answer, AnswerBody, LAMBDA_HTTP_ENV, answer, has_lambda_http_env, peers};
use serde_json::json;

/// Runs `test` in a child process with [`LAMBDA_HTTP_ENV`] set (the workspace forbids the
/// `unsafe` that setting it here would take). Returns whether it was delegated.
fn delegated_to_child(test: &str) -> bool {
    if has_lambda_http_env() {
        return false;
    }
    let status = Command::new(std::env::current_exe().unwrap())
        .args([test, "--exact", "--nocapture", "--test-threads=1"])
        .envs(LAMBDA_HTTP_ENV)
        .status()
        .unwrap();
    assert!(status.success(), "`{test}` failed in the child process");
    true
}

fn answers(events: &[Event]) -> Vec<(&'static str, Vec<Answer>)> {
    peers()
        .into_iter()
        .map(|mut peer| {
            let answers = events
                .iter()
                .map(|ev| {
                    answer(&(peer.handle)(&ev.payload))
                        .unwrap_or_else(|e| panic!("{} on {}: {e}", peer.name, ev.spec.label))
                })
                .collect();
            (peer.name, answers)
        })
        .collect()
}

#[test]
fn the_mix_is_answered_as_the_hello_api_specifies() {
    if delegated_to_child("the_mix_is_answered_as_the_hello_api_specifies") {
        return;
    }
    let expected = [
        (200, Some(json!({"hello": "world"})), None),
        (200, Some(json!({"id": "42"})), None),
        (
            201,
            Some(json!({"id": "u-1", "name": "Ada Lovelace", "email": "ada@example.com"})),
            None,
        ),
        (
            200,
            None,
            Some("approved AAAAKgAAAAIAAAAAAAAAAb0cL9Zq2lN1x"),
        ),
        (
            404,
            Some(json!({"code": "NotFoundError", "message": "no route for GET /nope"})),
            None,
        ),
    ];
    let mix = events::mix();
    for (peer, answers) in answers(&mix) {
        for ((ev, got), (status, json_body, text_body)) in mix.iter().zip(&answers).zip(&expected) {
            let label = format!("{peer} on {}", ev.spec.label);
            assert_eq!(got.status, *status, "{label}");
            match (json_body, text_body) {
                (Some(body), _) => {
                    assert_eq!(got.body, AnswerBody::Json(body.clone()), "{label}");
                    assert_eq!(got.content_type(), Some("application/json"), "{label}");
                }
                (_, Some(text)) => {
                    assert_eq!(got.body, AnswerBody::Text((*text).to_owned()), "{label}");
                    assert_eq!(
                        got.content_type(),
                        Some("text/plain; charset=utf-8"),
                        "{label}"
                    );
                }
                _ => unreachable!(),
            }
        }
    }
}

#[test]
fn peers_agree_on_every_event() {
    if delegated_to_child("peers_agree_on_every_event") {
        return;
    }
    let mut all = events::mix();
    all.extend(events::error_cases());
    let answers = answers(&all);
    let (_, floor) = &answers[0];
    for (peer, theirs) in &answers[1..] {
        for ((ev, reference), got) in all.iter().zip(floor).zip(theirs) {
            let label = format!("{peer} vs floor on {}", ev.spec.label);
            assert_eq!(got.status, reference.status, "{label}");
            // API Gateway computes `Content-Length` itself; axum also sets it in the payload.
            let without_length = |a: &Answer| {
                let mut h = a.headers.clone();
                h.remove("content-length");
                h
            };
            assert_eq!(without_length(got), without_length(reference), "{label}");
            // axum's `Json` rejection words serde's error its own way; the code is the contract.
            let json_error = ev.spec.method == "POST" && reference.status >= 400;
            match (&got.body, &reference.body) {
                (AnswerBody::Json(g), AnswerBody::Json(r))
                    if json_error && peer.contains("axum") =>
                {
                    assert_eq!(g["code"], r["code"], "{label}");
                }
                (g, r) => assert_eq!(g, r, "{label}"),
            }
        }
    }
}

#[test]
fn error_cases_have_the_statuses_portico_gives() {
    if delegated_to_child("error_cases_have_the_statuses_portico_gives") {
        return;
    }
    let errors = events::error_cases();
    for (peer, answers) in answers(&errors) {
        let statuses: Vec<u16> = answers.iter().map(|a| a.status).collect();
        assert_eq!(statuses, [400, 400, 400, 201, 400, 400], "{peer}");
    }
}

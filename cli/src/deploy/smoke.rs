//! The smoke request after a deploy: one `GET` of the API's root, and what its answer means
//! in plain words. It never fails the deploy; it tells what to look at.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use serde::Serialize;

/// What the smoke request found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Smoke {
    /// The app answered (any status the app itself chose).
    Ok {
        /// HTTP status.
        status: u16,
    },
    /// Something is wrong; `explanation` says what and where to look.
    Problem {
        /// HTTP status, if there was an answer.
        status: Option<u16>,
        /// Plain words.
        explanation: String,
    },
    /// Not attempted.
    Skipped {
        /// Why.
        reason: String,
    },
}

/// What a gateway answer means, for the stage `stage`.
pub fn explain(status: u16, body: &str, stage: &str) -> Smoke {
    let logs = format!("`portico logs --stage {stage}` shows the function's side");
    let problem = |explanation: String| Smoke::Problem {
        status: Some(status),
        explanation,
    };
    match status {
        403 if body.contains("Missing Authentication Token") => problem(
            "API Gateway has no deployed resource for `/`: the stage's deployment is missing or \
             stale; run `portico deploy` again"
                .to_owned(),
        ),
        403 if body.contains("Forbidden") => problem(
            "API Gateway wants an API key for `/`; send one in `x-api-key` (the route requires it)"
                .to_owned(),
        ),
        500 if body.contains("Internal server error") => problem(format!(
            "API Gateway could not call the function: usually its permission to invoke it is \
             missing or still propagating; wait a minute and retry, else run `portico deploy` \
             again; {logs}"
        )),
        502 => problem(format!(
            "the function failed: it crashed, timed out, or answered something that is not an \
             API Gateway proxy response. Common causes: a binary for the wrong architecture or \
             needing a newer glibc (`Runtime.InvalidEntrypoint`, \"exec format error\"), a panic \
             at start-up, or a missing environment variable; {logs}"
        )),
        504 => problem(format!(
            "the function did not answer within the API's integration timeout (`api.timeout`); \
             a cold start doing slow work, or a call that hangs; {logs}"
        )),
        429 => {
            problem("API Gateway throttled the request (usage plan or account limits)".to_owned())
        }
        _ => Smoke::Ok { status },
    }
}

/// Sends `GET {url}/` (retrying connection failures a few times: a new API's host name can
/// take a moment to resolve) and explains the answer.
pub async fn check(url: &str, stage: &str) -> Smoke {
    let connector = match hyper_rustls::HttpsConnectorBuilder::new().with_native_roots() {
        Ok(builder) => builder.https_or_http().enable_http1().build(),
        Err(e) => {
            return Smoke::Skipped {
                reason: format!("no TLS root certificates on this machine ({e})"),
            };
        }
    };
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build::<_, Empty<Bytes>>(connector);
    let target = format!("{}/", url.trim_end_matches('/'));
    let mut last_error = String::new();
    for attempt in 0..4 {
        if attempt > 0 {
            tokio::time::sleep(Duration::from_secs(3)).await;
        }
        let request = match http::Request::get(&target)
            .header("user-agent", "portico-deploy-smoke")
            .body(Empty::new())
        {
            Ok(r) => r,
            Err(e) => {
                return Smoke::Skipped {
                    reason: format!("`{target}` is not a valid URL ({e})"),
                };
            }
        };
        match tokio::time::timeout(Duration::from_secs(30), client.request(request)).await {
            Ok(Ok(response)) => {
                let status = response.status().as_u16();
                let body = match response.into_body().collect().await {
                    Ok(b) => String::from_utf8_lossy(&b.to_bytes()).into_owned(),
                    Err(_) => String::new(),
                };
                return explain(status, &body, stage);
            }
            Ok(Err(e)) => last_error = crate::aws::error_text(&e),
            Err(_) => last_error = "no answer within 30 s".to_owned(),
        }
    }
    Smoke::Problem {
        status: None,
        explanation: format!(
            "could not reach {target}: {last_error}. A new API's host name can take a minute to \
             resolve; try it again shortly"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gateway_answers_are_explained() {
        let problem = |status, body| match explain(status, body, "dev") {
            Smoke::Problem { explanation, .. } => explanation,
            other => panic!("{other:?}"),
        };
        assert!(
            problem(403, r#"{"message":"Missing Authentication Token"}"#).contains("deployment")
        );
        assert!(problem(403, r#"{"message":"Forbidden"}"#).contains("x-api-key"));
        assert!(problem(500, r#"{"message": "Internal server error"}"#).contains("permission"));
        assert!(problem(502, r#"{"message": "Internal server error"}"#).contains("architecture"));
        assert!(
            problem(504, r#"{"message": "Endpoint request timed out"}"#).contains("api.timeout")
        );
        assert!(problem(502, "").contains("portico logs --stage dev"));
    }

    #[test]
    fn the_apps_own_answers_are_fine() {
        for status in [200, 204, 301, 404, 405] {
            assert_eq!(explain(status, "{}", "dev"), Smoke::Ok { status });
        }
        // A 500 the app made has its own body, not API Gateway's.
        assert_eq!(
            explain(
                500,
                r#"{"code":"InternalServerError","message":"An internal server error occurred."}"#,
                "dev"
            ),
            Smoke::Ok { status: 500 }
        );
    }

    #[test]
    fn the_request_reaches_the_api_and_reads_its_answer() {
        use std::io::{Read, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = std::thread::spawn(move || {
            let (mut stream, _) = listener.accept().unwrap();
            let mut head = [0_u8; 1024];
            let n = stream.read(&mut head).unwrap();
            let body = r#"{"message": "Internal server error"}"#;
            write!(
                stream,
                "HTTP/1.1 502 Bad Gateway\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            )
            .unwrap();
            String::from_utf8_lossy(&head[..n]).into_owned()
        });
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let smoke = rt.block_on(check(&format!("http://127.0.0.1:{port}/dev"), "dev"));
        let request = server.join().unwrap();
        assert!(request.starts_with("GET /dev/ HTTP/1.1\r\n"), "{request}");
        assert!(
            matches!(&smoke, Smoke::Problem { status: Some(502), explanation } if explanation.contains("crashed")),
            "{smoke:?}"
        );
    }
}

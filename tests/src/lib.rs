//! Portico's workspace-level end-to-end tests and their harness.
//!
//! - [`runtime_api`]: a Lambda Runtime API host on loopback that runs real app binaries
//!   (used by the end-to-end tests here, by examples' tests and by the cold-start benchmark).
//! - [`events`]: the Lambda events front doors send, and their proxy responses.
//! - [`moto`]: moto in server mode on a free loopback port, for the tests of the AWS side.
//! - `src/bin/fixture_app.rs`: a Portico app exercising every feature the end-to-end tests
//!   need; `tests/*.rs` run it under the host.

#![warn(missing_docs)]

pub mod events;
pub mod moto;
pub mod runtime_api;

/// A request's headers as JSON, for a handler that shows what it was sent: each name (lower
/// case) with all its values, in order (lossy UTF-8).
pub fn headers_json(req: &portico::Request) -> serde_json::Value {
    let mut headers = serde_json::Map::new();
    for name in req.headers().keys() {
        let values = req.headers().get_all(name).iter();
        let values = values.map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
        headers.insert(name.as_str().to_owned(), values.collect());
    }
    serde_json::Value::Object(headers)
}

/// What a handler sees of a request that every front door sets, as JSON: method, path, query,
/// headers, body, source and the gateway's context.
pub fn request_json(req: &portico::Request) -> serde_json::Value {
    let context = req.context();
    serde_json::json!({
        "method": req.method().as_str(),
        "path": req.path(),
        "query": req.query_pairs(),
        "headers": headers_json(req),
        "body": req.body().to_vec(),
        "source": req.source(),
        "context": {
            "stage": context.stage,
            "base_path": context.base_path,
            "source_ip": context.source_ip,
            "user_agent": context.user_agent,
            "domain_name": context.domain_name,
            "authorizer": context.authorizer,
        },
    })
}

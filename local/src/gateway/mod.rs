//! The local API Gateway: a REST API (v1) emulator in front of the local Lambda host.
//!
//! It serves `http://127.0.0.1:8000/{stage}/path` like an execute-api invoke URL (or, with
//! `--no-stage-prefix`, `/path` like a custom domain mapped at its root) and behaves like the
//! API `portico deploy` creates: `/` and `/{proxy+}` with `ANY` → the `api` function through a
//! Lambda proxy integration, plus an explicit resource for each route whose gateway options
//! differ (an API key required).
//!
//! Per request, as API Gateway does:
//! 0. a `Host` that is not one of the gateway's names ([`crate::hosts`]) →
//!    `403 {"message":"Forbidden"}`; runs of `/` in the path are merged into one before
//!    anything is matched (API Gateway does the same: `/dev//requests` is `/dev/requests`);
//! 1. a path outside the stage → `403 {"message":"Missing Authentication Token"}`;
//! 2. a body over 10 MB → `413`; headers over 10,240 bytes → `431`;
//! 3. on a route that requires an API key: the key (exactly one `x-api-key` header), its usage
//!    plan's token bucket and quota ([`crate::usage`]) → `403` / `429`. A method the
//!    route does not declare reaches the app through the resource's open `ANY`, without a
//!    key, as on the deployed resource (`HEAD` is the `GET`'s, as in the app's router);
//! 4. the REST v1 proxy event (`ProxyEvent`): stage left out of `path` and kept in
//!    `requestContext.path`, header case as sent, `headers` and `multiValueHeaders`, decoded
//!    query parameters, `null` where AWS sends null, base64 bodies for binary media types;
//! 5. the function's reply mapped back: `multiValueHeaders` over `headers`, `isBase64Encoded`
//!    bodies decoded when the client's first `Accept` type is binary, a malformed reply or a
//!    function error → `502`, the integration timeout (29 s) → `504`.
//!
//! Gateway-made errors carry `Content-Type: application/json`, `x-amzn-ErrorType`, and the
//! `[api.cors]` headers when CORS is configured. Every response has `x-amzn-RequestId` and
//! `x-amz-apigw-id`. One line per request goes to the terminal.
//!
//! The HTTP server is hyper's HTTP/1 server, one task per connection, with a header read
//! timeout (slow clients), a header size limit, a body read timeout and size limit, a bound on
//! open connections, and each request handled in its own task so that nothing a client or the
//! app does can stop the server. hyper lowercases header names; a small scanner beside it
//! (`HeadScanner`) records the names as sent, so the event keeps their case.

mod config;
mod event;
mod handler;
mod head;
mod serve;

pub use config::GatewayConfig;
pub use handler::Gateway;
pub use serve::serve;

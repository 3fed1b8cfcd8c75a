//! The in-process path of a `lambda_http` function, bytes → bytes, exactly as
//! `lambda_http::run(service)` runs it inside `lambda_runtime`:
//!
//! 1. `lambda_runtime` deserializes the invocation body into the handler's payload type with
//!    `serde_path_to_error` over `serde_json::Deserializer::from_slice` (its `deserializer`
//!    module); for `lambda_http` that type is [`LambdaRequest`], whose `Deserialize` tries the
//!    event shapes in turn (REST API first).
//! 2. `lambda_http::Adapter` (what `run` wraps the service in) takes the request origin,
//!    converts the `LambdaRequest` into an `http::Request<Body>`, sets the X-Ray header from the
//!    context, attaches the Lambda context, calls the service, and converts its answer with
//!    `IntoResponse` and `LambdaResponse::from_response`.
//! 3. `lambda_runtime` serializes the response with `serde_json::to_vec` (`EventCompletionRequest`).
//!
//! What is left out is common to every peer, Portico included, because they all run on
//! `lambda_runtime`: the HTTP exchange with the Runtime API, building the `Context` from its
//! headers, and the tracing span and panic guard around each invocation.

use std::fmt::Debug;
use std::future::Future;
use std::pin::pin;
use std::task::{Context as TaskContext, Poll, Waker};

use lambda_http::request::LambdaRequest;
use lambda_http::{Adapter, Context, IntoResponse, LambdaEvent, Request, Service};
use serde::Serialize;

/// A `lambda_http` service ready to handle invocation payloads in-process.
pub struct LambdaHttpPeer<A> {
    adapter: A,
    context: Context,
}

/// Wraps `service` as `lambda_http::run(service)` does.
pub fn lambda_http_peer<S, R, E>(service: S) -> LambdaHttpPeer<Adapter<'static, R, S>>
where
    S: Service<Request, Response = R, Error = E>,
    S::Future: Send + 'static,
    R: IntoResponse,
{
    LambdaHttpPeer {
        adapter: Adapter::from(service),
        context: invocation_context(),
    }
}

/// The context `lambda_runtime` builds from the `/next` response headers on AWS, where the
/// X-Ray trace header is always present.
fn invocation_context() -> Context {
    let mut context = Context::default();
    context.request_id = "8476a536-e9f4-11e8-9739-2dfe598c3fcd".to_owned();
    context.deadline = 1_764_175_004_123;
    context.invoked_function_arn =
        "arn:aws:lambda:eu-west-1:123456789012:function:hello-prod-api".to_owned();
    context.xray_trace_id = Some(
        "Root=1-6745f2a9-3c5e7a1b9d2f4e6a8c0b1d3e;Parent=53995c3f42cd8ad8;Sampled=0".to_owned(),
    );
    context
}

impl<A> LambdaHttpPeer<A>
where
    A: Service<LambdaEvent<LambdaRequest>>,
    A::Response: Serialize,
    A::Error: Debug,
{
    /// Handles one invocation payload and returns the response payload `lambda_runtime` would
    /// post. A payload the runtime would reject yields the error document it would post instead.
    ///
    /// # Panics
    /// If the service waits on I/O: the peers' handlers complete on their first poll.
    pub fn handle(&mut self, payload: &[u8]) -> Vec<u8> {
        let jd = &mut serde_json::Deserializer::from_slice(payload);
        let request: LambdaRequest = match serde_path_to_error::deserialize(jd) {
            Ok(request) => request,
            Err(err) => return error_document("lambda_runtime::DeserializeError", &err),
        };
        let mut cx = TaskContext::from_waker(Waker::noop());
        if let Poll::Ready(Err(err)) = self.adapter.poll_ready(&mut cx) {
            return error_document("poll_ready", &format!("{err:?}"));
        }
        let event = LambdaEvent::new(request, self.context.clone());
        match poll_once(self.adapter.call(event)) {
            Ok(response) => serde_json::to_vec(&response).expect("a LambdaResponse serializes"),
            Err(err) => error_document("handler", &format!("{err:?}")),
        }
    }
}

fn error_document(error_type: &str, message: &dyn std::fmt::Display) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "errorType": error_type,
        "errorMessage": message.to_string(),
    }))
    .expect("a JSON value serializes")
}

/// Polls `fut` once with a waker that does nothing.
///
/// # Panics
/// If the future is not ready after one poll.
pub fn poll_once<F: Future>(fut: F) -> F::Output {
    let mut cx = TaskContext::from_waker(Waker::noop());
    match pin!(fut).poll(&mut cx) {
        Poll::Ready(output) => output,
        Poll::Pending => panic!("benchmark handlers complete without waiting"),
    }
}

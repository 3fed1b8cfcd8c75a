//! Test doubles for the local cloud's parts (and for tests of code that talks to them, under
//! the `test-support` feature).

use std::sync::Mutex;
use std::time::Duration;

use bytes::Bytes;

use crate::invoker::Invoker;
use crate::lambda::{InvocationResult, InvokeOutcome};

/// A host double: `echo` returns its payload, `boom` fails, `slow` times out, `crash`
/// crashes; every call is recorded.
#[derive(Default)]
pub struct StubHost {
    /// `(function, payload)` of each call, in order.
    pub calls: Mutex<Vec<(String, String)>>,
}

impl Invoker for StubHost {
    fn function_names(&self) -> Vec<String> {
        ["api", "echo", "boom", "slow", "crash"]
            .map(String::from)
            .to_vec()
    }

    async fn invoke(&self, function: &str, payload: Bytes) -> InvocationResult {
        self.calls.lock().unwrap().push((
            function.to_owned(),
            String::from_utf8_lossy(&payload).into_owned(),
        ));
        let outcome = match function {
            "boom" => InvokeOutcome::FunctionError {
                error_type: "MyError".into(),
                error_message: "it broke".into(),
            },
            "slow" => InvokeOutcome::Timeout,
            "crash" => InvokeOutcome::Crashed {
                detail: "Runtime exited with error: exit status 101".into(),
            },
            _ => InvokeOutcome::Response(payload),
        };
        InvocationResult {
            request_id: "req-1".into(),
            outcome,
            duration: Duration::from_secs(3),
        }
    }
}

//! What the host is told about a function, and what an invocation returns.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use bytes::Bytes;

/// The region when the function's environment names none.
pub(crate) const DEFAULT_REGION: &str = "us-east-1";

/// One Lambda function of the app: an entry point of its binary with its settings.
#[derive(Debug, Clone)]
pub struct FunctionSpec {
    /// The entry point: `api` or a schedule's name.
    pub name: String,
    /// The full function name, `<app>-<stage>-<name>` (`AWS_LAMBDA_FUNCTION_NAME`).
    pub function_name: String,
    /// The app binary.
    pub binary: PathBuf,
    /// Environment from the config plus the entry-point variable; the host adds the
    /// `AWS_*` ones (a value here overrides the host's, except `AWS_LAMBDA_RUNTIME_API`).
    pub env: BTreeMap<String, String>,
    /// Memory size in MB (reported, not enforced).
    pub memory_mb: u32,
    /// Function timeout.
    pub timeout: Duration,
    /// Pool size: how many invocations run at once.
    pub max_processes: usize,
}

/// How an invocation ended.
#[derive(Debug)]
pub enum InvokeOutcome {
    /// The function posted this response payload.
    Response(Bytes),
    /// The function posted an error, failed its init, or its response was refused (too large:
    /// `Function.ResponseSizeTooLarge`).
    FunctionError {
        /// `errorType`, e.g. `Runtime.ExitError` or the app's own.
        error_type: String,
        /// `errorMessage`.
        error_message: String,
    },
    /// The function timeout (or the caller's deadline) passed first.
    Timeout,
    /// The process exited during the invocation.
    Crashed {
        /// As AWS says it: `Runtime exited with error: exit status 101`.
        detail: String,
    },
    /// No function has that name.
    UnknownFunction,
}

/// The result of [`LambdaHost::invoke`](crate::lambda::LambdaHost::invoke).
#[derive(Debug)]
pub struct InvocationResult {
    /// The invocation's request id (`Lambda-Runtime-Aws-Request-Id`).
    pub request_id: String,
    /// How it ended.
    pub outcome: InvokeOutcome,
    /// From handing the event to the process until its answer (the `REPORT` duration).
    pub duration: Duration,
}

/// The account the local cloud pretends to be in (in function ARNs, as everywhere else).
pub const ACCOUNT: &str = "000000000000";

/// The ARN of the function `function_name` in `region`, as the local cloud names it.
pub fn function_arn(region: &str, function_name: &str) -> String {
    format!("arn:aws:lambda:{region}:{ACCOUNT}:function:{function_name}")
}

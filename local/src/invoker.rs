//! Where the local cloud pretends to be ([`ACCOUNT`], [`REGION`]) and what its parts need from
//! the Lambda host ([`Invoker`]). A leaf: the services endpoint, the scheduler and the Step
//! Functions engine depend on it, it depends on none of them.

use std::future::Future;

use bytes::Bytes;

/// The account the local cloud pretends to be in.
pub use crate::lambda::ACCOUNT;
use crate::lambda::{InvocationResult, LambdaHost};
/// The region the local cloud pretends to be in.
pub const REGION: &str = "us-east-1";

/// What the services endpoint and the scheduler need from the Lambda host; a trait so that
/// tests can put a double in its place.
pub trait Invoker: Send + Sync + 'static {
    /// The entry-point names the host runs (`api` and the schedules).
    fn function_names(&self) -> Vec<String>;
    /// Invokes `function` (an entry-point name) with `payload` and waits for the outcome.
    fn invoke(
        &self,
        function: &str,
        payload: Bytes,
    ) -> impl Future<Output = InvocationResult> + Send;
}

impl Invoker for LambdaHost {
    fn function_names(&self) -> Vec<String> {
        LambdaHost::function_names(self)
    }

    fn invoke(
        &self,
        function: &str,
        payload: Bytes,
    ) -> impl Future<Output = InvocationResult> + Send {
        LambdaHost::invoke(self, function, payload)
    }
}

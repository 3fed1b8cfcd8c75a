//! Counting AWS calls: an SDK interceptor shared by every client of a run.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use aws_sdk_iam::config::{ConfigBag, RuntimeComponents};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::BeforeSerializationInterceptorContextRef;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use serde::Serialize;

/// Counts every operation the SDK executes (not its retries), and separately those that change
/// something; can make the N-th mutating one fail (the `PORTICO_FAIL_MUTATING_CALL` hook).
#[derive(Debug, Clone)]
pub struct CallCounter {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    total: AtomicUsize,
    mutating: Mutex<Vec<String>>,
    fail_at: Option<usize>,
}

/// What a run called.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CallStats {
    /// Every operation.
    pub total: usize,
    /// The operations that change something, in order (`Lambda.UpdateFunctionCode`, …).
    pub mutating: Vec<String>,
}

impl CallCounter {
    /// A counter at zero; `fail_at` = N makes the N-th mutating call fail before it is sent.
    pub fn new(fail_at: Option<usize>) -> Self {
        Self {
            inner: Arc::new(Inner {
                total: AtomicUsize::new(0),
                mutating: Mutex::new(Vec::new()),
                fail_at,
            }),
        }
    }

    /// The counts so far.
    pub fn stats(&self) -> CallStats {
        CallStats {
            total: self.inner.total.load(Ordering::SeqCst),
            mutating: self
                .inner
                .mutating
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone(),
        }
    }

    fn record(&self, service: &str, operation: &str) -> Result<(), BoxError> {
        self.inner.total.fetch_add(1, Ordering::SeqCst);
        if !is_mutating(operation) {
            return Ok(());
        }
        let mut mutating = self
            .inner
            .mutating
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        mutating.push(format!("{service}.{operation}"));
        if self.inner.fail_at == Some(mutating.len()) {
            return Err(format!(
                "injected failure of mutating call #{} ({service} {operation}) by {}",
                mutating.len(),
                super::FAIL_MUTATING_CALL_VAR
            )
            .into());
        }
        Ok(())
    }
}

/// Whether an operation changes something, by AWS's naming convention.
pub fn is_mutating(operation: &str) -> bool {
    const PREFIXES: [&str; 14] = [
        "Create", "Put", "Update", "Delete", "Add", "Remove", "Tag", "Untag", "Attach", "Detach",
        "Publish", "Import", "Start", "Send",
    ];
    PREFIXES.iter().any(|p| operation.starts_with(p))
}

impl Intercept for CallCounter {
    fn name(&self) -> &'static str {
        "PorticoCallCounter"
    }

    // Once per operation, before the first attempt: retries are not separate calls here.
    // (The operation's metadata is in the config bag from serialization on.)
    fn read_before_serialization(
        &self,
        _context: &BeforeSerializationInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let (service, operation) = cfg
            .load::<Metadata>()
            .map_or(("?", "?"), |m| (m.service(), m.name()));
        let (service, operation) = (service.to_owned(), operation.to_owned());
        self.record(&service, &operation)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mutating_operations_are_told_apart() {
        for op in [
            "CreateRole",
            "PutRolePolicy",
            "UpdateFunctionCode",
            "DeleteResource",
            "AddPermission",
            "TagResource",
        ] {
            assert!(is_mutating(op), "{op}");
        }
        for op in ["GetRole", "ListTags", "DescribeRule", "GetCallerIdentity"] {
            assert!(!is_mutating(op), "{op}");
        }
    }

    #[test]
    fn the_counter_fails_the_chosen_mutating_call() {
        let counter = CallCounter::new(Some(2));
        assert!(counter.record("IAM", "GetRole").is_ok());
        assert!(counter.record("IAM", "CreateRole").is_ok());
        assert!(counter.record("IAM", "PutRolePolicy").is_err());
        assert!(counter.record("IAM", "PutRolePolicy").is_ok());
        let stats = counter.stats();
        assert_eq!(stats.total, 4);
        assert_eq!(stats.mutating.len(), 3);
    }
}

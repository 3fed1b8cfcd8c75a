//! Ids (request, trace) and the lock helper of the host.

use std::sync::{Mutex, MutexGuard};

use crate::clock;

pub(crate) fn random_u64() -> u64 {
    crate::ids::u64()
}

/// A version-4 UUID, like Lambda's request ids.
pub(crate) fn new_request_id() -> String {
    crate::ids::uuid_v4()
}

/// An X-Ray trace header: `Root=1-<epoch secs hex>-<24 hex>;Parent=<16 hex>;Sampled=0`.
pub(crate) fn trace_id() -> String {
    let secs = clock::now_ms() / 1000;
    format!(
        "Root=1-{:08x}-{:08x}{:016x};Parent={:016x};Sampled=0",
        secs as u32,
        random_u64() as u32,
        random_u64(),
        random_u64()
    )
}

pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // No invariant spans a panic here; keep serving.
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

/// A new log stream name as Lambda makes them: `YYYY/MM/DD/[$LATEST]<32 hex>` (UTC).
pub fn new_log_stream() -> String {
    format!(
        "{}/[$LATEST]{:016x}{:016x}",
        clock::utc_date_path(clock::now_ms()),
        random_u64(),
        random_u64()
    )
}

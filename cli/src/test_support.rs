//! Helpers for the unit tests of the CLI's modules.

use std::path::PathBuf;

/// A fresh directory under the system's temp dir, named for the test and process, removed on
/// drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    /// Creates `<tmp>/portico-<prefix>-<name>-<pid>`, emptied first.
    pub fn new(prefix: &str, name: &str) -> Self {
        let dir =
            std::env::temp_dir().join(format!("portico-{prefix}-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Asserts that `result` is an error whose message contains each of `parts`.
#[track_caller]
pub fn assert_error_contains<T: std::fmt::Debug, E: std::fmt::Display>(
    result: Result<T, E>,
    parts: &[&str],
) {
    let err = result.unwrap_err().to_string();
    for part in parts {
        assert!(err.contains(part), "{part:?} is not in: {err}");
    }
}

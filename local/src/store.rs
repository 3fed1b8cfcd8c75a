//! The local cloud's embedded database (`.portico/local/state.db`): what must outlive a
//! restart of `portico local` — quota counters and function logs (later: executions, mail).

use std::path::Path;
use std::sync::{Mutex, MutexGuard};

use rusqlite::{Connection, OptionalExtension, params};
use rusqlite_migration::{HookResult, M, Migrations};

/// One captured log line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogRecord {
    /// Milliseconds since the Unix epoch.
    pub timestamp_ms: i64,
    /// Function (entry-point) name: `api` or a schedule.
    pub function: String,
    /// The process's log stream name (like CloudWatch's).
    pub stream: String,
    /// The invocation's request id, when the line was printed during one.
    pub request_id: Option<String>,
    /// The line, without its newline.
    pub message: String,
}

/// How a `REPORT` line starts.
pub const REPORT_PREFIX: &str = "REPORT RequestId: ";

/// An invocation's `END` and `REPORT` lines are stored in one row, `END …\nREPORT …` (same
/// time, always together): this gives the one or two lines a stored message stands for.
/// Lines a function prints never hold a newline, so no other row is split.
pub fn split_platform(message: &str) -> (&str, Option<&str>) {
    if message.starts_with("END RequestId: ") {
        if let Some((end, report)) = message.split_once('\n') {
            if report.starts_with(REPORT_PREFIX) {
                return (end, Some(report));
            }
        }
    }
    (message, None)
}

/// The database, shared by the local cloud's parts.
#[derive(Debug)]
pub struct Store {
    conn: Mutex<Connection>,
}

/// The connection settings: not part of the schema, set on every open.
const PRAGMAS: &str = "
PRAGMA journal_mode = WAL;
PRAGMA synchronous = NORMAL;
PRAGMA cache_size = -16384;
";

/// Migration 1: the schema as it was when numbered migrations began (2026-12). `IF NOT
/// EXISTS` only here: a database written before then (`user_version` 0) already has these
/// tables, and keeps their rows.
const BASELINE: &str = "
CREATE TABLE IF NOT EXISTS quota_usage (
    api_key TEXT NOT NULL,
    plan TEXT NOT NULL,
    period_start INTEGER NOT NULL,
    used INTEGER NOT NULL,
    PRIMARY KEY (api_key, plan, period_start)
);
CREATE TABLE IF NOT EXISTS logs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    timestamp_ms INTEGER NOT NULL,
    function TEXT NOT NULL,
    stream TEXT NOT NULL,
    request_id TEXT,
    message TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS logs_by_time ON logs (timestamp_ms);
CREATE TABLE IF NOT EXISTS kv (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS sfn_activities (
    arn TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    created_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS sfn_state_machines (
    arn TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    definition TEXT NOT NULL,
    role_arn TEXT NOT NULL,
    created_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS sfn_executions (
    arn TEXT PRIMARY KEY,
    state_machine_arn TEXT NOT NULL,
    name TEXT NOT NULL,
    status TEXT NOT NULL,
    input TEXT NOT NULL,
    output TEXT,
    error TEXT,
    cause TEXT,
    definition TEXT NOT NULL,
    role_arn TEXT NOT NULL,
    start_ms INTEGER NOT NULL,
    stop_ms INTEGER,
    cursor TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS sfn_executions_by_machine ON sfn_executions (state_machine_arn, start_ms);
CREATE TABLE IF NOT EXISTS sfn_history (
    execution_arn TEXT NOT NULL,
    id INTEGER NOT NULL,
    timestamp_ms INTEGER NOT NULL,
    type TEXT NOT NULL,
    previous_event_id INTEGER NOT NULL,
    details TEXT NOT NULL,
    PRIMARY KEY (execution_arn, id)
);
CREATE TABLE IF NOT EXISTS sfn_tasks (
    token TEXT PRIMARY KEY,
    execution_arn TEXT NOT NULL,
    activity_arn TEXT,
    status TEXT NOT NULL,
    input TEXT NOT NULL,
    worker TEXT,
    result TEXT,
    error TEXT,
    cause TEXT,
    created_ms INTEGER NOT NULL,
    timeout_seconds INTEGER,
    timeout_at_ms INTEGER,
    heartbeat_seconds INTEGER,
    heartbeat_at_ms INTEGER
);
CREATE INDEX IF NOT EXISTS sfn_tasks_queue ON sfn_tasks (activity_arn, status, created_ms);
";

/// Makes the database's files owner-only (0600) before SQLite opens them: a missing folder is
/// created 0700, the file is created owner-only if missing, and SQLite gives the `-wal` and
/// `-shm` files it creates the database file's mode. Old files left readable are narrowed
/// (the folder is the caller's: `portico local` narrows `.portico/local`). Best effort: a
/// failure here shows when SQLite opens the file.
fn make_private(path: &Path) {
    use crate::files::{FILE_MODE, create_dir_owner_only, restrict, touch_private};
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        let _ = create_dir_owner_only(dir);
    }
    let _ = touch_private(path);
    for suffix in ["-wal", "-shm", "-journal"] {
        let mut name = path.as_os_str().to_owned();
        name.push(suffix);
        let _ = restrict(Path::new(&name), FILE_MODE);
    }
}

/// The schema, one numbered migration per change (`PRAGMA user_version` says how many ran).
/// A shipped migration is never edited: a change is a new one appended here, with a test
/// that opens the checked-in database of the version before (`tests/fixtures/`).
fn migrations() -> Vec<M<'static>> {
    vec![
        M::up_with_hook(BASELINE, |tx: &rusqlite::Transaction<'_>| -> HookResult {
            // A database written before activity timeouts counted from the worker's pick-up
            // has `sfn_tasks` without this column.
            let has_column = tx
                .prepare(
                    "SELECT 1 FROM pragma_table_info('sfn_tasks') WHERE name = 'timeout_seconds'",
                )?
                .exists([])?;
            if !has_column {
                tx.execute_batch("ALTER TABLE sfn_tasks ADD COLUMN timeout_seconds INTEGER")?;
            }
            Ok(())
        }),
        M::up(SQS),
        M::up(EMULATOR),
    ]
}

/// Migration 3: the journal of writes to the DynamoDB/S3 emulator ([`crate::emulator`]),
/// replayed in order at the next start. `upload_id`: a multipart upload's id in the original
/// response, mapped to the new one during the replay.
const EMULATOR: &str = "
CREATE TABLE emulator_journal (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    service TEXT NOT NULL,
    method TEXT NOT NULL,
    target TEXT NOT NULL,
    headers TEXT NOT NULL,
    body BLOB NOT NULL,
    upload_id TEXT
);
";

/// Migration 2: the local SQS's messages ([`crate::sqs`]). A message's `receipt` is the newest
/// receipt handle (NULL until received); `visible_ms` is when it may be received (again);
/// `seq` orders FIFO groups and is the sequence number, from the one-row `sqs_sequence`.
const SQS: &str = "
CREATE TABLE sqs_messages (
    id TEXT PRIMARY KEY,
    queue TEXT NOT NULL,
    seq INTEGER NOT NULL,
    body TEXT NOT NULL,
    attributes TEXT NOT NULL,
    sent_ms INTEGER NOT NULL,
    visible_ms INTEGER NOT NULL,
    receive_count INTEGER NOT NULL DEFAULT 0,
    first_receive_ms INTEGER,
    receipt TEXT,
    group_id TEXT,
    dedup_id TEXT
);
CREATE INDEX sqs_messages_by_queue ON sqs_messages (queue, seq);
CREATE TABLE sqs_dedup (
    queue TEXT NOT NULL,
    dedup_id TEXT NOT NULL,
    message_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    expires_ms INTEGER NOT NULL,
    PRIMARY KEY (queue, dedup_id)
);
CREATE TABLE sqs_sequence (value INTEGER NOT NULL);
INSERT INTO sqs_sequence (value) VALUES (0);
";

/// The state database could not be opened, checked or migrated.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite says the file is damaged (or not a database at all).
    #[error(
        "{path} is damaged: {detail}.\n\
         It holds the local cloud's state (waiting executions, quota counters, logs, the generated API keys).\n\
         To start fresh, move it aside and run again: `mv {path} {path}.damaged` (its `-wal` and `-shm` files too, if there).\n\
         To keep it, leave it where it is and try to recover it with the sqlite3 shell: `sqlite3 {path} .recover`"
    )]
    Damaged {
        /// The database file.
        path: String,
        /// What SQLite reported.
        detail: String,
    },
    /// The schema is from a newer `portico` (more migrations than this one knows).
    #[error(
        "{path} was written by a newer portico (schema version {found}, this one knows {known}); \
         use that version, or move the file aside to start fresh"
    )]
    Newer {
        /// The database file.
        path: String,
        /// The file's `user_version`.
        found: usize,
        /// The migrations this build has.
        known: usize,
    },
    /// Any other failure opening or migrating the file.
    #[error("cannot open the local state database {path}: {source}")]
    Open {
        /// The database file.
        path: String,
        /// What failed.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

impl StoreError {
    /// The error for `err`, met opening or checking `path`.
    fn from_sqlite(path: &Path, err: rusqlite::Error) -> Self {
        if is_damage(&err) {
            Self::Damaged {
                path: path.display().to_string(),
                detail: err.to_string(),
            }
        } else {
            Self::Open {
                path: path.display().to_string(),
                source: Box::new(err),
            }
        }
    }
}

/// Whether SQLite reported a damaged file (`SQLITE_CORRUPT`, `SQLITE_NOTADB`).
pub fn is_damage(err: &rusqlite::Error) -> bool {
    matches!(
        err.sqlite_error_code(),
        Some(rusqlite::ErrorCode::DatabaseCorrupt | rusqlite::ErrorCode::NotADatabase)
    )
}

/// Which file a path names (device and inode), to notice it deleted or replaced.
pub type FileId = (u64, u64);

/// The identity of the file at `path`, or `None` when there is none.
pub fn file_id(path: &Path) -> Option<FileId> {
    let metadata = std::fs::metadata(path).ok()?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        Some((metadata.dev(), metadata.ino()))
    }
    #[cfg(not(unix))]
    {
        // Without inodes only a deletion is noticed.
        let _ = metadata;
        Some((0, 0))
    }
}

impl Store {
    /// Opens (creating if needed) the database at `path`: checks its integrity
    /// (`PRAGMA quick_check`), then brings its schema up to date.
    ///
    /// # Errors
    /// When the file is damaged ([`StoreError::Damaged`] says what to do), from a newer
    /// portico, or cannot be opened or migrated.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        make_private(path);
        let sqlite = |err| StoreError::from_sqlite(path, err);
        let mut conn = Connection::open(path).map_err(sqlite)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(sqlite)?;
        check_integrity(&conn).map_err(|detail| StoreError::Damaged {
            path: path.display().to_string(),
            detail,
        })?;
        conn.execute_batch(PRAGMAS).map_err(sqlite)?;
        migrate(&mut conn, path)?;
        Ok(Self {
            conn: Mutex::new(conn),
        })
    }

    /// An in-memory database, for unit tests.
    #[cfg(test)]
    pub fn in_memory() -> Self {
        let mut conn = Connection::open_in_memory().expect("sqlite in memory");
        Migrations::new(migrations())
            .to_latest(&mut conn)
            .expect("schema");
        Self {
            conn: Mutex::new(conn),
        }
    }

    /// Runs `f` on the connection, for a part of the local cloud that keeps its own tables
    /// (created by the migrations above). The connection is held while `f` runs: keep it
    /// short.
    ///
    /// # Errors
    /// What `f` returns.
    pub fn with_connection<T>(
        &self,
        f: impl FnOnce(&mut Connection) -> rusqlite::Result<T>,
    ) -> rusqlite::Result<T> {
        f(&mut self.conn())
    }

    fn conn(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock leaves a usable connection: recover it.
        self.conn
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Counts one request against `api_key`'s quota in `plan` for the period starting at
    /// `period_start` (Unix seconds) if that keeps it within `limit`; returns whether it did.
    ///
    /// # Errors
    /// On database failure.
    pub fn try_consume_quota(
        &self,
        api_key: &str,
        plan: &str,
        period_start: i64,
        limit: u64,
    ) -> rusqlite::Result<bool> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let used: i64 = tx
            .query_row(
                "SELECT used FROM quota_usage WHERE api_key = ?1 AND plan = ?2 AND period_start = ?3",
                params![api_key, plan, period_start],
                |row| row.get(0),
            )
            .optional()?
            .unwrap_or(0);
        if used as u64 >= limit {
            return Ok(false);
        }
        tx.execute(
            "INSERT INTO quota_usage (api_key, plan, period_start, used) VALUES (?1, ?2, ?3, 1)
             ON CONFLICT (api_key, plan, period_start) DO UPDATE SET used = used + 1",
            params![api_key, plan, period_start],
        )?;
        tx.commit()?;
        Ok(true)
    }

    /// Requests counted for `api_key` in `plan` in the period starting at `period_start`.
    ///
    /// # Errors
    /// On database failure.
    #[cfg(test)]
    pub fn quota_used(
        &self,
        api_key: &str,
        plan: &str,
        period_start: i64,
    ) -> rusqlite::Result<u64> {
        let used: Option<i64> = self
            .conn()
            .query_row(
                "SELECT used FROM quota_usage WHERE api_key = ?1 AND plan = ?2 AND period_start = ?3",
                params![api_key, plan, period_start],
                |row| row.get(0),
            )
            .optional()?;
        Ok(used.unwrap_or(0) as u64)
    }

    /// Appends log lines.
    ///
    /// # Errors
    /// On database failure.
    pub fn append_logs(&self, records: &[LogRecord]) -> rusqlite::Result<()> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        {
            let mut stmt = tx.prepare_cached(
                "INSERT INTO logs (timestamp_ms, function, stream, request_id, message) VALUES (?1, ?2, ?3, ?4, ?5)",
            )?;
            for r in records {
                stmt.execute(params![
                    r.timestamp_ms,
                    r.function,
                    r.stream,
                    r.request_id,
                    r.message
                ])?;
            }
        }
        tx.commit()
    }

    /// Deletes log lines older than `before_ms`, then the oldest lines beyond the newest
    /// `max_rows`, in transactions of at most `chunk` rows: the lock is let go between them, so
    /// quota checks and the log writer are never held up for long. Returns how many lines
    /// went. `on_chunk` runs between two transactions (the log writer prints what is queued).
    ///
    /// # Errors
    /// On database failure.
    pub fn prune_logs(
        &self,
        before_ms: i64,
        max_rows: u64,
        chunk: usize,
        mut on_chunk: impl FnMut(),
    ) -> rusqlite::Result<u64> {
        let chunk = chunk.max(1) as i64;
        let mut deleted = 0u64;
        // By age, along the time index.
        loop {
            let n = self.conn().execute(
                "DELETE FROM logs WHERE id IN
                 (SELECT id FROM logs WHERE timestamp_ms < ?1 ORDER BY timestamp_ms LIMIT ?2)",
                params![before_ms, chunk],
            )?;
            deleted += n as u64;
            if (n as i64) < chunk {
                break;
            }
            on_chunk();
        }
        // By count: ids only grow (AUTOINCREMENT), so the newest `max_rows` lines are those
        // with the highest ids; the others go by id ranges (cheaper than by a list of ids).
        let newest: Option<i64> = self
            .conn()
            .query_row("SELECT max(id) FROM logs", [], |row| row.get(0))?;
        let Some(newest) = newest else {
            return Ok(deleted);
        };
        let keep_from = newest.saturating_sub(i64::try_from(max_rows).unwrap_or(i64::MAX)) + 1;
        loop {
            let conn = self.conn();
            let oldest: Option<i64> =
                conn.query_row("SELECT min(id) FROM logs", [], |row| row.get(0))?;
            let Some(oldest) = oldest.filter(|&oldest| oldest < keep_from) else {
                break;
            };
            let below = keep_from.min(oldest.saturating_add(chunk));
            let n = conn.execute("DELETE FROM logs WHERE id < ?1", params![below])?;
            drop(conn);
            deleted += n as u64;
            if below < keep_from {
                on_chunk();
            }
        }
        Ok(deleted)
    }

    /// Gives the pages of deleted rows back to the file system when they are more than half
    /// of the file and at least `min_bytes` (after a first prune of a large log table):
    /// `VACUUM`, which rewrites the database. Returns whether it did.
    ///
    /// # Errors
    /// On database failure.
    pub fn shrink_if_mostly_free(&self, min_bytes: u64) -> rusqlite::Result<bool> {
        let conn = self.conn();
        let page_size: i64 = conn.query_row("PRAGMA page_size", [], |row| row.get(0))?;
        let pages: i64 = conn.query_row("PRAGMA page_count", [], |row| row.get(0))?;
        let free: i64 = conn.query_row("PRAGMA freelist_count", [], |row| row.get(0))?;
        let free_bytes = u64::try_from(free.saturating_mul(page_size)).unwrap_or(0);
        if free * 2 < pages || free_bytes < min_bytes {
            return Ok(false);
        }
        // In WAL mode the rewritten pages pass through the WAL: reset it to nothing too.
        conn.execute_batch("VACUUM; PRAGMA wal_checkpoint(TRUNCATE);")?;
        Ok(true)
    }

    /// How many log lines are kept.
    ///
    /// # Errors
    /// On database failure.
    #[cfg(test)]
    pub fn log_count(&self) -> rusqlite::Result<u64> {
        self.conn()
            .query_row("SELECT COUNT(*) FROM logs", [], |row| row.get::<_, i64>(0))
            .map(|n| n as u64)
    }

    /// Log lines with `from_ms <= timestamp < to_ms`, oldest first, at most `limit` (an
    /// `END`/`REPORT` row gives two).
    ///
    /// # Errors
    /// On database failure.
    #[cfg(test)]
    pub fn logs_between(
        &self,
        from_ms: i64,
        to_ms: i64,
        limit: usize,
    ) -> rusqlite::Result<Vec<LogRecord>> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(
            "SELECT timestamp_ms, function, stream, request_id, message FROM logs
             WHERE timestamp_ms >= ?1 AND timestamp_ms < ?2 ORDER BY timestamp_ms, id LIMIT ?3",
        )?;
        let rows = stmt.query_map(params![from_ms, to_ms, limit as i64], |row| {
            Ok(LogRecord {
                timestamp_ms: row.get(0)?,
                function: row.get(1)?,
                stream: row.get(2)?,
                request_id: row.get(3)?,
                message: row.get(4)?,
            })
        })?;
        let mut lines = Vec::new();
        for row in rows {
            let row = row?;
            match split_platform(&row.message) {
                (_, None) => lines.push(row),
                (end, Some(report)) => {
                    let (end, report) = (end.to_owned(), report.to_owned());
                    lines.push(LogRecord {
                        message: end,
                        ..row.clone()
                    });
                    lines.push(LogRecord {
                        message: report,
                        ..row
                    });
                }
            }
        }
        lines.truncate(limit);
        Ok(lines)
    }

    /// A small persistent value (e.g. generated API key values), by key.
    ///
    /// # Errors
    /// On database failure.
    pub fn get_value(&self, key: &str) -> rusqlite::Result<Option<String>> {
        self.conn()
            .query_row("SELECT value FROM kv WHERE key = ?1", params![key], |row| {
                row.get(0)
            })
            .optional()
    }

    /// Stores a small persistent value.
    ///
    /// # Errors
    /// On database failure.
    pub fn set_value(&self, key: &str, value: &str) -> rusqlite::Result<()> {
        self.conn()
            .execute(
                "INSERT INTO kv (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = ?2",
                params![key, value],
            )
            .map(drop)
    }
}

/// `PRAGMA quick_check` (a full scan of every page and index, without the slower
/// cross-checks of `integrity_check`): `Err` with what it found when the file is damaged.
fn check_integrity(conn: &Connection) -> Result<(), String> {
    let mut stmt = conn
        .prepare("PRAGMA quick_check(5)")
        .map_err(|e| e.to_string())?;
    let found: Vec<String> = stmt
        .query_map([], |row| row.get(0))
        .and_then(|rows| rows.collect())
        .map_err(|e| e.to_string())?;
    if found.len() == 1 && found[0] == "ok" {
        Ok(())
    } else {
        Err(format!(
            "database disk image is malformed (integrity check: {})",
            found.join("; ")
        ))
    }
}

/// Runs the migrations the file has not seen yet.
fn migrate(conn: &mut Connection, path: &Path) -> Result<(), StoreError> {
    let migrations = migrations();
    let known = migrations.len();
    let found: usize = conn
        .pragma_query_value(None, "user_version", |row| row.get::<_, i64>(0))
        .map_err(|e| StoreError::from_sqlite(path, e))?
        .try_into()
        .unwrap_or(usize::MAX);
    if found > known {
        return Err(StoreError::Newer {
            path: path.display().to_string(),
            found,
            known,
        });
    }
    Migrations::new(migrations)
        .to_latest(conn)
        .map_err(|e| match e {
            rusqlite_migration::Error::RusqliteError { err, .. } => {
                StoreError::from_sqlite(path, err)
            }
            other => StoreError::Open {
                path: path.display().to_string(),
                source: Box::new(other),
            },
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotas_stop_at_the_limit_per_period() {
        let store = Store::in_memory();
        assert!(store.try_consume_quota("k", "p", 100, 2).unwrap());
        assert!(store.try_consume_quota("k", "p", 100, 2).unwrap());
        assert!(!store.try_consume_quota("k", "p", 100, 2).unwrap());
        assert_eq!(store.quota_used("k", "p", 100).unwrap(), 2);
        assert!(store.try_consume_quota("k", "p", 200, 2).unwrap());
        assert!(store.try_consume_quota("other", "p", 100, 2).unwrap());
    }

    #[test]
    fn quotas_survive_reopening() {
        let dir = std::env::temp_dir().join(format!("portico-store-{}", std::process::id()));
        let path = dir.join("state.db");
        {
            let store = Store::open(&path).unwrap();
            assert!(store.try_consume_quota("k", "p", 1, 1).unwrap());
        }
        let store = Store::open(&path).unwrap();
        assert!(!store.try_consume_quota("k", "p", 1, 1).unwrap());
        let _ = std::fs::remove_dir_all(dir);
    }

    fn rec(t: i64, m: &str) -> LogRecord {
        LogRecord {
            timestamp_ms: t,
            function: "api".into(),
            stream: "s".into(),
            request_id: Some("r".into()),
            message: m.into(),
        }
    }

    #[test]
    fn pruning_keeps_the_newest_lines_within_the_age_limit() {
        let store = Store::in_memory();
        let lines: Vec<LogRecord> = (0..100).map(|i| rec(i * 10, &i.to_string())).collect();
        store.append_logs(&lines).unwrap();
        let mut between = 0;
        // Older than 200 ms: lines 0..20; then the newest 50 of the other 80 stay.
        let deleted = store.prune_logs(200, 50, 7, || between += 1).unwrap();
        assert_eq!(deleted, 50);
        assert!(between >= 6, "the lock is let go between chunks: {between}");
        let left = store.logs_between(0, i64::MAX, 1_000).unwrap();
        assert_eq!(left.len(), 50);
        assert_eq!(left[0].message, "50");
        assert_eq!(left[49].message, "99");
        assert_eq!(store.prune_logs(200, 50, 7, || {}).unwrap(), 0);
        // New lines after pruning: still only the newest 50.
        store.append_logs(&[rec(2_000, "new")]).unwrap();
        assert_eq!(store.prune_logs(0, 50, 1_000, || {}).unwrap(), 1);
        let left = store.logs_between(0, i64::MAX, 1_000).unwrap();
        assert_eq!((left.len(), left[0].message.as_str()), (50, "51"));
        assert_eq!(left[49].message, "new");
    }

    #[test]
    fn a_mostly_free_file_is_shrunk() {
        let dir = std::env::temp_dir().join(format!("portico-store-shrink-{}", std::process::id()));
        let path = dir.join("state.db");
        let store = Store::open(&path).unwrap();
        let long = "x".repeat(1_000);
        let lines: Vec<LogRecord> = (0..4_000).map(|i| rec(i, &long)).collect();
        store.append_logs(&lines).unwrap();
        assert!(
            !store.shrink_if_mostly_free(0).unwrap(),
            "nothing is free yet"
        );
        assert_eq!(store.prune_logs(0, 100, 1_000, || {}).unwrap(), 3_900);
        assert!(
            !store.shrink_if_mostly_free(u64::MAX).unwrap(),
            "under the minimum"
        );
        let pages = |store: &Store| -> i64 {
            store
                .conn()
                .query_row("PRAGMA page_count", [], |row| row.get(0))
                .unwrap()
        };
        let before = pages(&store);
        assert!(store.shrink_if_mostly_free(1).unwrap());
        assert!(
            pages(&store) * 4 < before,
            "{} of {before} pages",
            pages(&store)
        );
        assert_eq!(store.log_count().unwrap(), 100);
        drop(store);
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn end_and_report_share_a_row_and_split_back() {
        let report = "REPORT RequestId: r\tDuration: 1.00 ms";
        assert_eq!(
            split_platform(&format!("END RequestId: r\n{report}")),
            ("END RequestId: r", Some(report))
        );
        for whole in [
            "END RequestId: r",
            "END RequestId: r\nnot a report",
            "a line\nREPORT RequestId: r",
        ] {
            assert_eq!(split_platform(whole), (whole, None));
        }
    }

    #[test]
    fn logs_round_trip_in_time_order() {
        let store = Store::in_memory();
        store
            .append_logs(&[rec(20, "b"), rec(10, "a"), rec(30, "c")])
            .unwrap();
        let got = store.logs_between(10, 30, 10).unwrap();
        assert_eq!(
            got.iter().map(|r| r.message.as_str()).collect::<Vec<_>>(),
            ["a", "b"]
        );
    }

    #[test]
    fn an_old_tasks_table_gains_its_column_and_a_newer_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.db");
        {
            // `sfn_tasks` as written before activity timeouts had their own column.
            let conn = Connection::open(&path).unwrap();
            conn.execute_batch(
                "CREATE TABLE sfn_tasks (token TEXT PRIMARY KEY, execution_arn TEXT NOT NULL,
                 activity_arn TEXT, status TEXT NOT NULL, input TEXT NOT NULL, worker TEXT,
                 result TEXT, error TEXT, cause TEXT, created_ms INTEGER NOT NULL,
                 timeout_at_ms INTEGER, heartbeat_seconds INTEGER, heartbeat_at_ms INTEGER);
                 INSERT INTO sfn_tasks (token, execution_arn, status, input, created_ms)
                 VALUES ('t', 'e', 'WAITING', '{}', 1);",
            )
            .unwrap();
        }
        let store = Store::open(&path).unwrap();
        let (version, timeout): (i64, Option<i64>) = store
            .with_connection(|c| {
                Ok((
                    c.pragma_query_value(None, "user_version", |r| r.get(0))?,
                    c.query_row("SELECT timeout_seconds FROM sfn_tasks", [], |r| r.get(0))?,
                ))
            })
            .unwrap();
        assert_eq!((version, timeout), (3, None), "every migration ran");
        drop(store);
        Connection::open(&path)
            .unwrap()
            .pragma_update(None, "user_version", 7)
            .unwrap();
        let err = Store::open(&path).unwrap_err().to_string();
        assert!(
            err.contains("written by a newer portico (schema version 7, this one knows 3)"),
            "{err}"
        );
    }
}

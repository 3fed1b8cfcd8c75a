//! `portico local --watch`: rebuilds on source changes and swaps the function processes.
//!
//! Polls modification times every half second (no file-watching crate, nothing to go wrong on
//! network or container file systems). What is watched:
//! - every local source file the last build read, from Cargo's dep-info file beside the binary
//!   (`bootstrap.d` where cargo said it wrote the binary): the app's and its path dependencies' (a workspace's
//!   framework included), plus each of those crates' `Cargo.toml` and `build.rs`;
//! - everything under the app's `src/`, so a new file counts too;
//! - the app's `Cargo.toml` and `portico.toml`.
//!
//! With `--binary PATH` nothing is built: the binary itself is watched and swapped in when
//! something else rebuilds it.
//!
//! A change waits for the files to settle, then `cargo build` runs; on success the manifest is
//! read again and the host restarts its processes on the new binary. A failed build keeps the
//! previous processes serving. Schedules follow the new manifest when the scheduler was started
//! with [`Followers::schedules`]; changed routes or entry points need a restart, and the log
//! says so.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use tokio::sync::watch;

use super::Args;
use crate::project::{self, Manifest, ManifestSchedule, Project};
use portico_local::lambda::LambdaHost;
use portico_local::logs::LogSink;
use portico_local::scheduler::stopped;

/// How often files are checked.
const POLL: Duration = Duration::from_millis(500);
/// How long files must stay unchanged before a build starts (editors save in several steps).
const SETTLE: Duration = Duration::from_millis(250);
/// A build starts after this long even if files keep changing.
const SETTLE_MAX: Duration = Duration::from_secs(3);

/// Parts of the local cloud that can follow a new manifest without a restart.
#[derive(Debug, Default)]
pub struct Followers {
    /// The scheduler's schedule set (see `scheduler::run_updating`).
    pub schedules: Option<watch::Sender<Vec<ManifestSchedule>>>,
}

/// Watches and rebuilds until `shutdown` turns `true`, passing manifest changes on to
/// `followers`. `binary` is what the first build made (or `--binary`).
pub async fn run_with(
    project: Project,
    binary: PathBuf,
    args: Args,
    host: Arc<LambdaHost>,
    logs: LogSink,
    followers: Followers,
    mut shutdown: watch::Receiver<bool>,
) {
    let prebuilt = args.binary.clone();
    let mut manifest = {
        let binary = binary.clone();
        match tokio::task::spawn_blocking(move || project::read_manifest(&binary)).await {
            Ok(Ok(manifest)) => Some(manifest),
            _ => None,
        }
    };
    let watched = |binary: &Path| match &prebuilt {
        Some(path) => Watched::binary(path),
        None => Watched::sources(&project, binary),
    };
    let mut files = watched(&binary);
    let mut seen = files.snapshot();
    logs.system(&format!(
        "watch: {} ({} files); changes rebuild and restart the functions",
        if prebuilt.is_some() {
            format!("watching {}", binary.display())
        } else {
            format!(
                "watching {} and its path dependencies",
                project.dir.display()
            )
        },
        seen.len()
    ));

    loop {
        tokio::select! {
            () = tokio::time::sleep(POLL) => {}
            () = stopped(&mut shutdown) => return,
        }
        let now = files.snapshot();
        if now == seen {
            continue;
        }
        // Let the burst of writes end.
        let started = Instant::now();
        let mut settled = now;
        loop {
            tokio::select! {
                () = tokio::time::sleep(SETTLE) => {}
                () = stopped(&mut shutdown) => return,
            }
            let again = files.snapshot();
            if again == settled || started.elapsed() > SETTLE_MAX {
                settled = again;
                break;
            }
            settled = again;
        }
        let changed = changed_files(&seen, &settled);
        seen = settled;
        logs.system(&format!(
            "watch: {} changed; {}",
            describe_changes(&changed, &project.dir),
            if prebuilt.is_some() {
                "reloading"
            } else {
                "rebuilding"
            }
        ));

        let started = Instant::now();
        let new_binary = match &prebuilt {
            Some(path) => Ok(path.clone()),
            None => {
                let project = project.clone();
                let release = args.release;
                let build = tokio::task::spawn_blocking(move || project.build(release));
                tokio::select! {
                    built = build => built.map_err(|e| e.to_string()).and_then(|r| r.map_err(|e| e.to_string())),
                    () = stopped(&mut shutdown) => return,
                }
            }
        };
        let new_binary = match new_binary {
            Ok(path) => path,
            Err(err) => {
                logs.system(&format!("watch: {err}; the previous build keeps serving"));
                continue;
            }
        };
        let new_manifest = {
            let path = new_binary.clone();
            match tokio::task::spawn_blocking(move || project::read_manifest(&path)).await {
                Ok(Ok(manifest)) => manifest,
                Ok(Err(err)) => {
                    logs.system(&format!("watch: {err}; the previous build keeps serving"));
                    continue;
                }
                Err(err) => {
                    logs.system(&format!("watch: {err}; the previous build keeps serving"));
                    continue;
                }
            }
        };
        host.replace_binary(new_binary.clone()).await;
        logs.system(&format!(
            "watch: rebuilt in {:.1} s; the functions now run the new build",
            started.elapsed().as_secs_f64()
        ));
        if let Some(old) = &manifest {
            for line in manifest_changes(old, &new_manifest, followers.schedules.is_some()) {
                logs.system(&format!("watch: {line}"));
            }
        }
        let same_functions = manifest
            .as_ref()
            .is_none_or(|old| old.entry_points == new_manifest.entry_points);
        // New schedules with new functions wait for the restart the log asks for.
        if let Some(schedules) = followers.schedules.as_ref().filter(|_| same_functions) {
            schedules.send_if_modified(|current| {
                let modified = !same_schedules(current, &new_manifest.schedules);
                if modified {
                    current.clone_from(&new_manifest.schedules);
                }
                modified
            });
        }
        manifest = Some(new_manifest);
        // The new build may read other files (a new module, a new path dependency).
        files = watched(&new_binary);
        seen = files.snapshot();
    }
}

/// The set of files to poll.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Watched {
    /// Files polled one by one.
    files: BTreeSet<PathBuf>,
    /// Directories polled recursively (new files count).
    trees: BTreeSet<PathBuf>,
}

/// Modification time and length of each watched file; `None` when it is missing.
type Snapshot = BTreeMap<PathBuf, Option<(SystemTime, u64)>>;

impl Watched {
    fn binary(path: &Path) -> Self {
        Self {
            files: BTreeSet::from([path.to_owned()]),
            trees: BTreeSet::new(),
        }
    }

    fn sources(project: &Project, binary: &Path) -> Self {
        let mut files: BTreeSet<PathBuf> = ["Cargo.toml", crate::config::FILE_NAME, "build.rs"]
            .iter()
            .map(|f| project.dir.join(f))
            .collect();
        let mut dep_info = PathBuf::from(binary.as_os_str());
        dep_info.as_mut_os_string().push(".d");
        if let Ok(text) = std::fs::read_to_string(&dep_info) {
            for source in parse_dep_info(&text) {
                if let Some(crate_dir) = crate_dir_of(&source) {
                    files.insert(crate_dir.join("Cargo.toml"));
                    files.insert(crate_dir.join("build.rs"));
                }
                files.insert(source);
            }
        }
        Self {
            files,
            trees: BTreeSet::from([project.dir.join("src")]),
        }
    }

    fn snapshot(&self) -> Snapshot {
        let mut snapshot = Snapshot::new();
        for file in &self.files {
            snapshot.insert(file.clone(), stamp(file));
        }
        for tree in &self.trees {
            walk(tree, &mut snapshot);
        }
        snapshot
    }
}

fn stamp(path: &Path) -> Option<(SystemTime, u64)> {
    let meta = std::fs::metadata(path).ok()?;
    Some((meta.modified().ok()?, meta.len()))
}

fn walk(dir: &Path, snapshot: &mut Snapshot) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        let hidden = path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with('.') || n.ends_with('~'));
        if hidden {
            // Editor swap and backup files.
            continue;
        }
        if kind.is_dir() {
            walk(&path, snapshot);
        } else {
            let stamp = stamp(&path);
            snapshot.insert(path, stamp);
        }
    }
}

/// The nearest directory above `source` holding a `Cargo.toml`.
fn crate_dir_of(source: &Path) -> Option<PathBuf> {
    source
        .ancestors()
        .skip(1)
        .find(|dir| dir.join("Cargo.toml").is_file())
        .map(Path::to_owned)
}

/// The prerequisites of the first rule of a Makefile-style dep-info file, as Cargo writes them
/// (spaces in paths escaped as `\ `).
fn parse_dep_info(text: &str) -> Vec<PathBuf> {
    let joined = text.replace("\\\n", " ");
    let Some(line) = joined.lines().find(|l| !l.trim().is_empty()) else {
        return Vec::new();
    };
    // The target ends at the first unescaped `: `.
    let mut rest = None;
    let bytes = line.as_bytes();
    for i in 0..bytes.len().saturating_sub(1) {
        if bytes[i] == b':' && bytes[i + 1] == b' ' && (i == 0 || bytes[i - 1] != b'\\') {
            rest = Some(&line[i + 2..]);
            break;
        }
    }
    let Some(rest) = rest else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut current = String::new();
    let mut chars = rest.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek().is_some_and(|n| *n == ' ' || *n == '\\') => {
                current.extend(chars.next());
            }
            ' ' | '\t' => {
                if !current.is_empty() {
                    out.push(PathBuf::from(std::mem::take(&mut current)));
                }
            }
            _ => current.push(c),
        }
    }
    if !current.is_empty() {
        out.push(PathBuf::from(current));
    }
    // `foo/src/../../bar.rs` (a `#[path]` module) names the same file as `bar.rs`.
    out.into_iter().map(|p| normalize(&p)).collect()
}

fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            std::path::Component::ParentDir if out.file_name().is_some() => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// Files that differ between two snapshots.
fn changed_files(before: &Snapshot, after: &Snapshot) -> Vec<PathBuf> {
    let keys: BTreeSet<&PathBuf> = before.keys().chain(after.keys()).collect();
    keys.into_iter()
        .filter(|k| before.get(*k).copied().flatten() != after.get(*k).copied().flatten())
        .cloned()
        .collect()
}

/// `src/main.rs`, `src/main.rs and 2 more files`.
fn describe_changes(changed: &[PathBuf], base: &Path) -> String {
    let Some(first) = changed.first() else {
        return "a watched file".to_owned();
    };
    let shown = first
        .strip_prefix(base)
        .unwrap_or(first)
        .display()
        .to_string();
    match changed.len() {
        1 => shown,
        2 => format!("{shown} and 1 more file"),
        n => format!("{shown} and {} more files", n - 1),
    }
}

fn same_schedules(a: &[ManifestSchedule], b: &[ManifestSchedule]) -> bool {
    a.len() == b.len()
        && a.iter()
            .zip(b)
            .all(|(x, y)| x.name == y.name && x.expression == y.expression)
}

/// What the user should know about a new manifest, one line each.
fn manifest_changes(old: &Manifest, new: &Manifest, schedules_follow: bool) -> Vec<String> {
    let mut lines = Vec::new();
    let route_key = |r: &project::ManifestRoute| {
        format!(
            "{} {}{}",
            r.method,
            r.path,
            if r.options.api_key_required {
                " [API key]"
            } else {
                ""
            }
        )
    };
    let old_routes: BTreeSet<String> = old.routes.iter().map(route_key).collect();
    let new_routes: BTreeSet<String> = new.routes.iter().map(route_key).collect();
    if old_routes != new_routes {
        let diff = set_diff(&old_routes, &new_routes);
        lines.push(format!(
            "routes changed ({diff}); the app serves them now, but restart `portico local` for \
             the gateway's API keys and banner to follow"
        ));
    }
    let old_entries: BTreeSet<&String> = old.entry_points.iter().collect();
    let new_entries: BTreeSet<&String> = new.entry_points.iter().collect();
    let sched_key = |s: &ManifestSchedule| format!("{} {}", s.name, s.expression);
    let old_sched: BTreeSet<String> = old.schedules.iter().map(sched_key).collect();
    let new_sched: BTreeSet<String> = new.schedules.iter().map(sched_key).collect();
    if old_entries != new_entries {
        let old_set: BTreeSet<String> = old_entries.into_iter().cloned().collect();
        let new_set: BTreeSet<String> = new_entries.into_iter().cloned().collect();
        lines.push(format!(
            "functions changed ({}); restart `portico local` to run them",
            set_diff(&old_set, &new_set)
        ));
    } else if old_sched != new_sched {
        let diff = set_diff(&old_sched, &new_sched);
        if schedules_follow {
            lines.push(format!("schedules changed ({diff}); the scheduler follows"));
        } else {
            lines.push(format!(
                "schedules changed ({diff}); restart `portico local` for the scheduler to follow"
            ));
        }
    }
    lines
}

/// `+ added, - removed`.
fn set_diff(old: &BTreeSet<String>, new: &BTreeSet<String>) -> String {
    new.difference(old)
        .map(|s| format!("+ {s}"))
        .chain(old.difference(new).map(|s| format!("- {s}")))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::TempDir;

    #[test]
    fn reads_cargo_dep_info() {
        let text = "/w/target/debug/bootstrap: /w/app/src/main.rs /w/my\\ dir/lib.rs \
                    /w/macros/src/../../framework/src/route_path.rs\n\n/w/app/src/main.rs:\n";
        assert_eq!(
            parse_dep_info(text),
            [
                PathBuf::from("/w/app/src/main.rs"),
                PathBuf::from("/w/my dir/lib.rs"),
                PathBuf::from("/w/framework/src/route_path.rs"),
            ]
        );
        assert!(parse_dep_info("").is_empty());
        assert!(parse_dep_info("garbage").is_empty());
    }

    #[test]
    fn snapshots_see_edits_new_files_and_deletions() {
        let tmp = TempDir::new("watch", "snap");
        let src = tmp.0.join("src");
        std::fs::create_dir_all(src.join("nested")).unwrap();
        std::fs::write(src.join("main.rs"), "fn main() {}").unwrap();
        std::fs::write(tmp.0.join("Cargo.toml"), "").unwrap();
        let watched = Watched {
            files: BTreeSet::from([tmp.0.join("Cargo.toml"), tmp.0.join("portico.toml")]),
            trees: BTreeSet::from([src.clone()]),
        };
        let first = watched.snapshot();
        assert_eq!(first.len(), 3);
        assert_eq!(
            first[&tmp.0.join("portico.toml")],
            None,
            "missing files are watched"
        );
        assert_eq!(watched.snapshot(), first, "no change, no difference");

        let later = SystemTime::now() + Duration::from_secs(5);
        let file = std::fs::File::options()
            .write(true)
            .open(src.join("main.rs"))
            .unwrap();
        file.set_modified(later).unwrap();
        let second = watched.snapshot();
        assert_eq!(changed_files(&first, &second), [src.join("main.rs")]);

        std::fs::write(src.join("nested/util.rs"), "").unwrap();
        std::fs::write(src.join(".main.rs.swp"), "").unwrap();
        std::fs::write(tmp.0.join("portico.toml"), "[app]").unwrap();
        let third = watched.snapshot();
        assert_eq!(
            changed_files(&second, &third),
            [tmp.0.join("portico.toml"), src.join("nested/util.rs")]
        );
        assert_eq!(
            describe_changes(&changed_files(&second, &third), &tmp.0),
            "portico.toml and 1 more file"
        );
        std::fs::remove_file(src.join("nested/util.rs")).unwrap();
        assert_eq!(
            changed_files(&third, &watched.snapshot()),
            [src.join("nested/util.rs")]
        );
    }

    #[test]
    fn finds_the_crate_of_a_source_file() {
        let tmp = TempDir::new("watch", "crate");
        std::fs::create_dir_all(tmp.0.join("fw/src/event")).unwrap();
        std::fs::write(tmp.0.join("fw/Cargo.toml"), "").unwrap();
        assert_eq!(
            crate_dir_of(&tmp.0.join("fw/src/event/rest.rs")),
            Some(tmp.0.join("fw"))
        );
    }

    fn manifest(routes: &[(&str, &str, bool)], schedules: &[(&str, &str)]) -> Manifest {
        let json = serde_json::json!({
            "manifest_version": 1,
            "entry_points": std::iter::once("api").chain(schedules.iter().map(|s| s.0)).collect::<Vec<_>>(),
            "entry_point_variable": "PORTICO_HANDLER",
            "routes": routes.iter().map(|(m, p, k)| serde_json::json!({
                "name": p, "method": m, "path": p, "options": {"api_key_required": k}
            })).collect::<Vec<_>>(),
            "schedules": schedules.iter().map(|(n, e)| serde_json::json!({"name": n, "expression": e})).collect::<Vec<_>>(),
        });
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn explains_manifest_changes() {
        let old = manifest(&[("GET", "/", false)], &[("tick", "rate(1 minute)")]);
        assert!(manifest_changes(&old, &old, false).is_empty());

        let new = manifest(
            &[("GET", "/", true), ("POST", "/users", false)],
            &[("tick", "rate(1 minute)")],
        );
        let lines = manifest_changes(&old, &new, true);
        assert_eq!(lines.len(), 1, "{lines:?}");
        assert!(
            lines[0].starts_with(
                "routes changed (+ GET / [API key], + POST /users, - GET /); the app serves them now"
            ),
            "{}",
            lines[0]
        );

        let new = manifest(&[("GET", "/", false)], &[("tick", "rate(5 minutes)")]);
        assert_eq!(
            manifest_changes(&old, &new, true),
            [
                "schedules changed (+ tick rate(5 minutes), - tick rate(1 minute)); the scheduler follows"
            ]
        );
        assert!(manifest_changes(&old, &new, false)[0].ends_with("for the scheduler to follow"));

        let new = manifest(&[("GET", "/", false)], &[("tock", "rate(1 minute)")]);
        assert_eq!(
            manifest_changes(&old, &new, true),
            ["functions changed (+ tock, - tick); restart `portico local` to run them"]
        );
    }
}

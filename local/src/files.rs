//! Owner-only files and folders for the local cloud's state (`.portico/local`): the database
//! holds the generated API keys and task tokens, the outbox live decision links, so nothing
//! there is readable by other users of the machine.
//!
//! Files are created owner-only from the start (never created, then narrowed), and what an
//! older version left readable is tightened when the local cloud starts.

use std::path::Path;

/// Mode of the local cloud's files: read and write for the owner only.
pub(crate) const FILE_MODE: u32 = 0o600;
/// Mode of its folders.
pub(crate) const DIR_MODE: u32 = 0o700;

/// Creates `dir` (and missing parents) owner-only, and narrows it to owner-only if it existed.
///
/// # Errors
/// When the folder cannot be created or its permissions set.
pub(crate) fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    create_dir_owner_only(dir)?;
    restrict(dir, DIR_MODE)
}

/// Creates `dir` (and missing parents) owner-only if it is missing; an existing folder is left
/// as it is (it may not be the local cloud's: a database can be opened anywhere).
///
/// # Errors
/// When the folder cannot be created.
pub(crate) fn create_dir_owner_only(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(DIR_MODE);
    }
    builder.create(dir)
}

/// Narrows `path` to `mode` if it exists and is more open; a missing file is not an error.
///
/// # Errors
/// When the permissions of an existing file cannot be read or set.
pub(crate) fn restrict(path: &Path, mode: u32) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let meta = match std::fs::symlink_metadata(path) {
            Ok(meta) => meta,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(err) => return Err(err),
        };
        // A symlink is left alone: its own mode means nothing, and its target is not ours.
        if !meta.file_type().is_symlink() && meta.permissions().mode() & 0o777 & !mode != 0 {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))?;
        }
    }
    #[cfg(not(unix))]
    let _ = (path, mode);
    Ok(())
}

/// Creates `path` empty and owner-only if it does not exist (an existing file is kept as it
/// is, then narrowed), so that whatever writes it next writes into an owner-only file.
///
/// # Errors
/// When the file cannot be created or its permissions set.
pub(crate) fn touch_private(path: &Path) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(FILE_MODE);
    }
    drop(options.open(path)?);
    restrict(path, FILE_MODE)
}

/// Writes `bytes` to `path` readable by the owner only, replacing the file atomically (a
/// reader sees the old file or the new one, never part of one).
///
/// # Errors
/// When the folder, the temporary file or the rename fails.
pub(crate) fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut tmp_name = path.file_name().unwrap_or_default().to_os_string();
    tmp_name.push(".tmp");
    let tmp = path.with_file_name(tmp_name);
    let _ = std::fs::remove_file(&tmp);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(FILE_MODE);
    }
    let mut file = options.open(&tmp)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    drop(file);
    std::fs::rename(&tmp, path)
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn folders_and_files_are_owner_only_and_old_ones_are_narrowed() {
        let root = std::env::temp_dir().join(format!("portico-files-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let dir = root.join("a/local");
        create_private_dir(&dir).unwrap();
        assert_eq!(mode(&dir), 0o700);

        let written = dir.join("x.json");
        write_private(&written, b"{}").unwrap();
        assert_eq!(mode(&written), 0o600);
        assert!(!dir.join("x.json.tmp").exists());

        let old = dir.join("old.db");
        std::fs::write(&old, b"data").unwrap();
        std::fs::set_permissions(&old, std::fs::Permissions::from_mode(0o644)).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        create_private_dir(&dir).unwrap();
        touch_private(&old).unwrap();
        assert_eq!((mode(&dir), mode(&old)), (0o700, 0o600));
        assert_eq!(std::fs::read(&old).unwrap(), b"data", "kept as it was");

        let fresh = dir.join("new.db");
        touch_private(&fresh).unwrap();
        assert_eq!(mode(&fresh), 0o600);
        restrict(&dir.join("missing"), FILE_MODE).unwrap();
        std::fs::remove_dir_all(&root).unwrap();
    }
}

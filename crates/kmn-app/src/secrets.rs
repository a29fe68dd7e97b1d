//! Files under `<data-dir>/secrets/` (mode 0700, files 0600) and atomic writes.

use std::io::Write;
use std::path::Path;

use crate::AppError;

/// Writes a file atomically: a temporary file in the same directory, synced, renamed
/// over the target, and the directory synced. `mode` is applied before any byte is
/// written.
pub fn write_atomic(path: &Path, bytes: &[u8], mode: u32) -> Result<(), AppError> {
    let dir = path
        .parent()
        .ok_or_else(|| AppError::Io(format!("{} has no parent directory", path.display())))?;
    let io = |what: &str, e: std::io::Error| {
        AppError::Io(format!("cannot {what} {}: {e}", path.display()))
    };
    let tmp = dir.join(format!(
        ".{}.tmp-{}",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("file"),
        std::process::id()
    ));
    {
        use std::os::unix::fs::OpenOptionsExt;
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(mode)
            .open(&tmp)
            .map_err(|e| io("write", e))?;
        f.write_all(bytes).map_err(|e| io("write", e))?;
        f.sync_all().map_err(|e| io("sync", e))?;
    }
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        io("replace", e)
    })?;
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// Creates a directory (and parents) with the given mode.
pub fn ensure_dir(path: &Path, mode: u32) -> Result<(), AppError> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    if !path.is_dir() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(mode)
            .create(path)
            .map_err(|e| {
                AppError::Io(format!("cannot create directory {}: {e}", path.display()))
            })?;
    }
    if mode == 0o700 {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
            .map_err(|e| AppError::Io(format!("cannot restrict {}: {e}", path.display())))?;
    }
    Ok(())
}

/// A random passphrase of 32 base64url characters (192 bits).
pub fn random_passphrase() -> String {
    use base64::Engine;
    let mut b = [0u8; 24];
    aws_lc_rs::rand::fill(&mut b).expect("system randomness");
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

//! The repository (リポジトリ): CA certificates and CRLs as DER files that the HTTP
//! listener, or any web server or CDN, serves as static bytes.

use std::path::{Path, PathBuf};

use crate::{App, AppError, secrets};

/// File name of a CA's certificate in the repository.
pub fn cert_file(ca_name: &str) -> String {
    format!("{ca_name}.crt")
}

/// File name of a CA's CRL in the repository.
pub fn crl_file(ca_name: &str) -> String {
    format!("{ca_name}.crl")
}

/// Makes sure the repository directory exists and is writable, before anything is
/// committed that would need a file there.
pub fn check_writable(dir: &Path) -> Result<(), AppError> {
    std::fs::create_dir_all(dir).map_err(|e| {
        AppError::Io(format!(
            "the repository directory {} cannot be created: {e}",
            dir.display()
        ))
    })?;
    let probe = dir.join(format!(".kmn-probe-{}", std::process::id()));
    std::fs::write(&probe, b"probe").map_err(|e| {
        AppError::Io(format!(
            "the repository directory {} is not writable: {e}",
            dir.display()
        ))
    })?;
    let _ = std::fs::remove_file(&probe);
    Ok(())
}

/// Publishes one file atomically; returns its path.
pub fn publish(app: &App, file: &str, bytes: &[u8]) -> Result<PathBuf, AppError> {
    let dir = app.repo_dir();
    check_writable(&dir)?;
    let path = dir.join(file);
    secrets::write_atomic(&path, bytes, 0o644)?;
    Ok(path)
}

/// The public URL of a repository file.
pub fn url(app: &App, file: &str) -> String {
    format!("{}/repo/{file}", app.cfg.public_base_url)
}

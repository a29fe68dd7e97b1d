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

/// The settings key under which the database keeps a copy of a repository file that
/// only an offline key can make again (the root's ARL).
fn kept_key(file: &str) -> String {
    format!("repository_file:{file}")
}

/// Keeps a copy of the repository file just published (inside `tx`, with the
/// publication), so that [`rebuild`] can restore it without the offline root key.
pub(crate) async fn remember_published(
    app: &App,
    tx: &mut kmn_store::Tx,
    file: &str,
) -> Result<(), AppError> {
    use base64::Engine;
    let path = app.repo_dir().join(file);
    let bytes = std::fs::read(&path)
        .map_err(|e| AppError::Io(format!("cannot read back {}: {e}", path.display())))?;
    tx.set_setting(
        &kept_key(file),
        &base64::engine::general_purpose::STANDARD.encode(bytes),
    )
    .await?;
    Ok(())
}

/// A repository file written by [`rebuild`].
#[derive(Clone, Debug)]
pub struct Rebuilt {
    /// The file.
    pub path: PathBuf,
    /// What it is (`CA certificate of kmn-root-g1`, `ARL #3 of kmn-root-g1`).
    pub what: String,
}

/// Rebuilds, from the database, what the repository serves besides the issuing CAs'
/// CRLs (which `kmn crl publish` signs afresh): every root and issuing CA certificate
/// (`<ca>.crt`) and the root's last ARL (`<root>.crl`, kept in the database when it was
/// signed). A repository file that is already right, or an ARL on disk with a higher
/// number, is left alone. For a data dir restored from a backup.
pub async fn rebuild(app: &App) -> Result<Vec<Rebuilt>, AppError> {
    use base64::Engine;
    let mut tx = app.store.read().await?;
    let cas = tx.list_cas().await;
    let cas = match cas {
        Ok(c) => c,
        Err(e) => {
            let _ = tx.rollback().await;
            return Err(e.into());
        }
    };
    let mut kept = Vec::new();
    for root in cas.iter().filter(|c| c.kind == kmn_store::CaKind::Root) {
        let file = crl_file(&root.name);
        match tx.setting(&kept_key(&file)).await {
            Ok(Some(b64)) => kept.push((root.name.clone(), file, b64)),
            Ok(None) => kept.push((root.name.clone(), file, String::new())),
            Err(e) => {
                let _ = tx.rollback().await;
                return Err(e.into());
            }
        }
    }
    tx.rollback().await?;
    let dir = app.repo_dir();
    check_writable(&dir)?;
    let mut out = Vec::new();
    for ca in cas
        .iter()
        .filter(|c| matches!(c.kind, kmn_store::CaKind::Root | kmn_store::CaKind::Issuing))
    {
        let path = dir.join(cert_file(&ca.name));
        if std::fs::read(&path).ok().as_deref() != Some(ca.cert_der.as_slice()) {
            secrets::write_atomic(&path, &ca.cert_der, 0o644)?;
            out.push(Rebuilt {
                path,
                what: format!("CA certificate of {}", ca.name),
            });
        }
    }
    for (root, file, b64) in kept {
        let path = dir.join(&file);
        if b64.is_empty() {
            if !path.exists() {
                return Err(AppError::CaState(format!(
                    "the ARL of {root} ({file}) is not in the repository and the database has no copy of it (signed before this version): bring the root key back and run `kmn ca sign-arl`"
                )));
            }
            continue;
        }
        let der = base64::engine::general_purpose::STANDARD
            .decode(b64.as_bytes())
            .map_err(|e| AppError::Internal(format!("the kept copy of {file} is damaged: {e}")))?;
        let kept_number = crl_number(&der).unwrap_or(0);
        let on_disk = std::fs::read(&path).ok();
        let disk_number = on_disk.as_deref().and_then(crl_number);
        if on_disk.as_deref() == Some(der.as_slice())
            || disk_number.is_some_and(|n| n >= kept_number)
        {
            continue;
        }
        secrets::write_atomic(&path, &der, 0o644)?;
        out.push(Rebuilt {
            path,
            what: format!("ARL #{kept_number} of {root}"),
        });
    }
    Ok(out)
}

/// The cRLNumber of a DER CRL (unchecked: only to compare with another copy).
fn crl_number(der: &[u8]) -> Option<i64> {
    kmn_pki::crl::number_unchecked(der).map(|n| n.0)
}

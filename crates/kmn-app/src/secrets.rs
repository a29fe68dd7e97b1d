//! Files under `<data-dir>/secrets/` (mode 0700, files 0600), atomic writes, and the
//! permission rules for the data dir and for secret files given to kmn.

use std::io::Write;
use std::path::Path;

use crate::AppError;

/// Writes a file atomically: a temporary file in the same directory, created with
/// `O_EXCL | O_NOFOLLOW` under a random name (never an existing file or a planted
/// symlink), synced, renamed over the target, and the directory synced. `mode` is
/// applied before any byte is written, whatever the umask.
pub fn write_atomic(path: &Path, bytes: &[u8], mode: u32) -> Result<(), AppError> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let dir = path
        .parent()
        .ok_or_else(|| AppError::Io(format!("{} has no parent directory", path.display())))?;
    let io = |what: &str, e: std::io::Error| {
        AppError::Io(format!("cannot {what} {}: {e}", path.display()))
    };
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
    let mut attempt = 0;
    let (tmp, mut f) = loop {
        let mut r = [0u8; 8];
        aws_lc_rs::rand::fill(&mut r)
            .map_err(|_| AppError::Internal("no system randomness".into()))?;
        let tmp = dir.join(format!(
            ".{name}.tmp-{}-{}",
            std::process::id(),
            hex::encode(r)
        ));
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .custom_flags(O_NOFOLLOW)
            .open(&tmp)
        {
            Ok(f) => break (tmp, f),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && attempt < 3 => {
                attempt += 1;
            }
            Err(e) => return Err(io("write", e)),
        }
    };
    let written = (|| {
        // The umask may have taken bits away (never added any): set exactly `mode`.
        f.set_permissions(std::fs::Permissions::from_mode(mode))?;
        f.write_all(bytes)?;
        f.sync_all()
    })();
    drop(f);
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(io("write", e));
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

/// `O_NOFOLLOW` of Linux (arm and aarch64 number it differently). `O_CREAT | O_EXCL`
/// already refuses a symlink; this says so to the kernel as well.
#[cfg(any(target_arch = "arm", target_arch = "aarch64"))]
const O_NOFOLLOW: i32 = 0o100000;
#[cfg(not(any(target_arch = "arm", target_arch = "aarch64")))]
const O_NOFOLLOW: i32 = 0o400000;

/// Creates a directory (and parents) with the given mode. A private directory (0700)
/// that exists with more bits is restricted to 0700.
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

/// Restricts an existing file to `mode` (no error when it does not exist).
pub fn restrict_file(path: &Path, mode: u32) -> Result<(), AppError> {
    use std::os::unix::fs::PermissionsExt;
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_file() && m.permissions().mode() & 0o7777 != mode => {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
                .map_err(|e| AppError::Io(format!("cannot restrict {}: {e}", path.display())))
        }
        _ => Ok(()),
    }
}

/// Refuses a secret file (PIN, passphrase, database URL) that its group or others may
/// read or write, as `ssh` refuses such a key file. `what` names where the path came
/// from (e.g. `KMN_HSM_PIN_FILE=/root/kmn-hsm-pin`).
pub fn check_secret_file(path: &Path, what: &str) -> Result<(), AppError> {
    use std::os::unix::fs::PermissionsExt;
    let m = std::fs::metadata(path)
        .map_err(|e| AppError::Config(format!("cannot read {what}: {e}")))?;
    let mode = m.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(AppError::Config(format!(
            "{what} is accessible by others (mode {mode:04o}): a secret file must be readable by its owner only; run `chmod 600 {}` (refused, as ssh refuses such key files)",
            path.display()
        )));
    }
    Ok(())
}

/// The CA passphrase rule, checked before anything is written.
pub fn check_passphrase(p: &str) -> Result<(), AppError> {
    if p.chars().count() < 12 {
        return Err(AppError::Passphrase(format!(
            "the CA passphrase has {} characters; it must have at least 12 characters (nothing was written)",
            p.chars().count()
        )));
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn issue8_atomic_write_never_follows_a_planted_temporary_file() {
        let d = tempfile::tempdir().unwrap();
        let victim = d.path().join("victim");
        std::fs::write(&victim, b"untouched").unwrap();
        // The temporary name the previous version used: a symlink planted there was
        // followed, and the secret written into whatever it pointed to.
        let planted = d.path().join(format!(".secret.tmp-{}", std::process::id()));
        std::os::unix::fs::symlink(&victim, &planted).unwrap();
        let target = d.path().join("secret");
        write_atomic(&target, b"s3cret", 0o600).unwrap();
        assert_eq!(std::fs::read(&victim).unwrap(), b"untouched");
        assert_eq!(std::fs::read(&target).unwrap(), b"s3cret");
        let mode = std::fs::metadata(&target).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }

    #[test]
    fn issue8_secret_files_open_to_others_are_refused() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("pin");
        std::fs::write(&f, b"1234").unwrap();
        for mode in [0o644, 0o640, 0o604, 0o660] {
            std::fs::set_permissions(&f, std::fs::Permissions::from_mode(mode)).unwrap();
            let e = check_secret_file(&f, "KMN_HSM_PIN_FILE=pin").unwrap_err();
            assert_eq!(e.code(), "E_CONFIG");
            assert!(e.to_string().contains("chmod 600"), "{e}");
        }
        for mode in [0o600, 0o400] {
            std::fs::set_permissions(&f, std::fs::Permissions::from_mode(mode)).unwrap();
            check_secret_file(&f, "KMN_HSM_PIN_FILE=pin").unwrap();
        }
    }
}

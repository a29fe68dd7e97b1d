//! `kmn up`: the quick start on the embedded default. On first run it makes the data
//! dir, `kmn.toml` (with `demo = true`), the SQLite database, a demo CA whose random
//! passphrase is written to `secrets/`, and a TLS server certificate for the HTTPS
//! listener. Later runs find all of it and only serve.

use std::path::Path;
use std::sync::Arc;

use kmn_domain::{ProfileKind, ValidityPeriod};
use kmn_pki::ext::AltName;
use kmn_pki::keys::{KeyAlgorithm, Signer, SoftwareKey};
use kmn_pki::name::DistinguishedName;
use kmn_store::CaKind;

use crate::ca::{self, CeremonyParams};
use crate::config::Config;
use crate::{App, AppError, Clock, issue, secrets};

/// What the first run made (None when everything existed).
#[derive(Clone, Debug)]
pub struct FirstRun {
    /// The ceremony.
    pub ceremony: ca::CeremonyRecord,
    /// Where the passphrase was written.
    pub passphrase_file: std::path::PathBuf,
}

/// Prepares the data dir; returns the opened app and, on first run, what was made.
pub async fn prepare(
    data_dir: &Path,
    clock: Arc<dyn Clock>,
) -> Result<(App, Option<FirstRun>), AppError> {
    secrets::ensure_dir(data_dir, 0o755)?;
    let cfg_path = Config::path(data_dir);
    let fresh = !cfg_path.exists();
    if fresh {
        let cfg = Config {
            demo: true,
            ca: crate::config::CaConfig {
                passphrase_file: Some("secrets/ca-passphrase".into()),
                ..Default::default()
            },
            ..Config::default()
        };
        secrets::write_atomic(&cfg_path, cfg.to_toml().as_bytes(), 0o644)?;
    }
    let cfg = Config::load(data_dir)?;
    let app = App::with_config(data_dir, cfg, clock).await?;
    let mut tx = app.store.begin().await?;
    let has_ca = tx.active_ca(CaKind::Issuing).await?.is_some();
    tx.rollback().await?;
    let mut first = None;
    if !has_ca {
        let pass_path = data_dir.join("secrets/ca-passphrase");
        secrets::ensure_dir(&data_dir.join("secrets"), 0o700)?;
        let passphrase = match std::fs::read_to_string(&pass_path) {
            Ok(p) => p.trim_end().to_string(),
            Err(_) => {
                let p = secrets::random_passphrase();
                secrets::write_atomic(&pass_path, p.as_bytes(), 0o600)?;
                p
            }
        };
        let params = CeremonyParams {
            operator: "kmn-up".into(),
            ..CeremonyParams::default()
        };
        let ceremony = ca::init(&app, &params, &passphrase).await?;
        first = Some(FirstRun {
            ceremony,
            passphrase_file: pass_path,
        });
    }
    ensure_tls_cert(&app).await?;
    Ok((app, first))
}

/// Issues the HTTPS listener's certificate (localhost, 127.0.0.1, ::1) when missing.
pub async fn ensure_tls_cert(app: &App) -> Result<(), AppError> {
    let cert_path = app.cfg.resolve(&app.data_dir, &app.cfg.tls_cert_file);
    let key_path = app.cfg.resolve(&app.data_dir, &app.cfg.tls_key_file);
    if cert_path.exists() && key_path.exists() {
        return Ok(());
    }
    let ca = ca::load_active(app, CaKind::Issuing).await?;
    let (key, pkcs8) = SoftwareKey::generate(KeyAlgorithm::P256)?;
    let mut subject = DistinguishedName::default();
    subject.push(kmn_pki::oid::AT_COUNTRY, "JP")?;
    subject.push(kmn_pki::oid::AT_ORGANIZATION, &app.cfg.organization)?;
    subject.push(kmn_pki::oid::AT_COMMON_NAME, "localhost")?;
    let alt = vec![
        AltName::Dns("localhost".into()),
        AltName::Ip("127.0.0.1".parse().expect("ip")),
        AltName::Ip("::1".parse().expect("ip")),
    ];
    let issued = issue::issue_template(
        app,
        &ca,
        ProfileKind::Server,
        ValidityPeriod::Years3,
        subject,
        key.spki_der().to_vec(),
        alt,
        None,
        "kmn-up",
    )
    .await?;
    let chain = format!(
        "{}{}",
        kmn_pki::cert::to_pem(&issued.der),
        kmn_pki::cert::to_pem(&ca.record.cert_der)
    );
    if let Some(dir) = key_path.parent() {
        secrets::ensure_dir(dir, 0o700)?;
    }
    secrets::write_atomic(
        &key_path,
        kmn_pki::cert::pem_encode("PRIVATE KEY", &pkcs8).as_bytes(),
        0o600,
    )?;
    secrets::write_atomic(&cert_path, chain.as_bytes(), 0o644)?;
    Ok(())
}

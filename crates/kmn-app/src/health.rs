//! What `/health` reports beyond "the database answers": each reason the service is
//! degraded, named, so that monitoring can say what to fix.

use kmn_store::CaKind;

use crate::{App, AppError, ca, hsm, repo};

/// One reason the service is degraded.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Degraded {
    /// Stable code: `hsm_unavailable`, `ca_certificate_missing`, `arl_missing`,
    /// `crl_missing`, `cps_unpublished`.
    pub reason: &'static str,
    /// The CA or document it is about.
    pub object: String,
    /// What is wrong and what to do.
    pub detail: String,
}

/// Every reason the service is degraded now (empty: healthy). Each HSM key of an issuing
/// CA that can still sign is checked (a session of the pool, or one login; a PIN the
/// token refused is not offered again).
pub async fn degraded(app: &App) -> Result<Vec<Degraded>, AppError> {
    let mut tx = app.store.read().await?;
    let cas = tx.list_cas().await;
    let cps = tx.current_document("cps").await;
    tx.rollback().await?;
    let (cas, cps) = (cas?, cps?);
    let now = app.now();
    let mut out = Vec::new();
    let dir = app.repo_dir();
    for c in cas.iter().filter(|c| c.not_after > now) {
        if matches!(c.kind, CaKind::Root | CaKind::Issuing) {
            let file = repo::cert_file(&c.name);
            if std::fs::read(dir.join(&file)).ok().as_deref() != Some(c.cert_der.as_slice()) {
                out.push(Degraded {
                    reason: "ca_certificate_missing",
                    object: c.name.clone(),
                    detail: format!(
                        "/repo/{file} is missing or is not the certificate of {}: run `kmn crl publish` (it rebuilds the repository from the database)",
                        c.name
                    ),
                });
            }
            let crl = repo::crl_file(&c.name);
            if !dir.join(&crl).exists() {
                let (reason, what) = if c.kind == CaKind::Root {
                    ("arl_missing", "the root's CRL (ARL)")
                } else {
                    ("crl_missing", "the CRL")
                };
                out.push(Degraded {
                    reason,
                    object: c.name.clone(),
                    detail: format!(
                        "/repo/{crl} ({what} of {}) is missing: run `kmn crl publish`",
                        c.name
                    ),
                });
            }
        }
        if c.kind == CaKind::Issuing && hsm::is_hsm_ref(&c.key_ref) {
            let r = ca::load_record(app, c.clone())
                .and_then(|l| l.signer.check().map_err(AppError::from));
            if let Err(e) = r {
                out.push(Degraded {
                    reason: "hsm_unavailable",
                    object: c.name.clone(),
                    detail: e.to_string(),
                });
            }
        }
    }
    if cps.is_none() {
        out.push(Degraded {
            reason: "cps_unpublished",
            object: "cps".into(),
            detail: format!(
                "no CPS is published at {}/repo/cps, the URL every certificate names: publish it (`kmn document publish --kind cps --version 1.00 cps.pdf`)",
                app.cfg.public_base_url
            ),
        });
    }
    Ok(out)
}

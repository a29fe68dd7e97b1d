//! What `/health` reports beyond "the database answers": each reason the service is
//! degraded, named, so that monitoring can say what to fix.

use kmn_store::CaKind;

use crate::ca::{self, hsm, repo};
use crate::{App, AppError};

/// One reason the service is degraded.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Degraded {
    /// Stable code: `hsm_unavailable`, `ca_certificate_missing`, `arl_missing`,
    /// `crl_missing`, `cps_unpublished`, `ocsp_signer_missing`, `ocsp_signer_expiring`.
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
        if c.kind == CaKind::Issuing
            && hsm::is_hsm_ref(&c.key_ref)
            && let Some(detail) = hsm_check_cached(app, c)
        {
            out.push(Degraded {
                reason: "hsm_unavailable",
                object: c.name.clone(),
                detail,
            });
        }
    }
    // OCSP (issue 10): each issuing CA's newest OCSP signer must outlive a response's
    // validity, else responses get shorter and, at its notAfter, stop.
    let validity = app.cfg.ca.ocsp_validity_hours * 3600;
    for issuing in cas
        .iter()
        .filter(|c| c.kind == CaKind::Issuing && c.not_after > now)
    {
        let signer = cas
            .iter()
            .filter(|c| {
                c.kind == CaKind::OcspSigner
                    && c.issuer_name.as_deref() == Some(issuing.name.as_str())
                    && c.not_after > now
            })
            .max_by_key(|c| c.not_after);
        match signer {
            None => out.push(Degraded {
                reason: "ocsp_signer_missing",
                object: issuing.name.clone(),
                detail: format!(
                    "{} has no valid OCSP signer: OCSP answers nothing for its certificates",
                    issuing.name
                ),
            }),
            Some(s) if s.not_after - now < 2 * validity => out.push(Degraded {
                reason: "ocsp_signer_expiring",
                object: s.name.clone(),
                detail: format!(
                    "the OCSP signer {} of {} expires on {}: responses are cut short at its notAfter; make a new signer before then (docs/ADMIN.md, OCSP)",
                    s.name,
                    issuing.name,
                    time::OffsetDateTime::from_unix_timestamp(s.not_after)
                        .map(kmn_domain::time_fmt::rfc3339)
                        .unwrap_or_default()
                ),
            }),
            Some(_) => {}
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

/// How long one HSM check answers for `/health`: the route is public, and a flood of
/// requests must not become a flood of logins at the HSM.
const HSM_CHECK_TTL: std::time::Duration = std::time::Duration::from_secs(10);

type HsmChecks =
    std::collections::HashMap<(std::path::PathBuf, String), (std::time::Instant, Option<String>)>;

/// The result of the last HSM check of this CA (at most [`HSM_CHECK_TTL`] old): `None`
/// when the key can sign, else what is wrong.
fn hsm_check_cached(app: &App, c: &kmn_store::CaRecord) -> Option<String> {
    static CHECKS: std::sync::Mutex<Option<HsmChecks>> = std::sync::Mutex::new(None);
    let key = (app.data_dir.clone(), c.name.clone());
    if let Ok(guard) = CHECKS.lock()
        && let Some((at, r)) = guard.as_ref().and_then(|m| m.get(&key))
        && at.elapsed() < HSM_CHECK_TTL
    {
        return r.clone();
    }
    let r = ca::load_record(app, c.clone())
        .and_then(|l| l.signer.check().map_err(AppError::from))
        .err()
        .map(|e| e.to_string());
    if let Ok(mut guard) = CHECKS.lock() {
        guard
            .get_or_insert_with(Default::default)
            .insert(key, (std::time::Instant::now(), r.clone()));
    }
    r
}

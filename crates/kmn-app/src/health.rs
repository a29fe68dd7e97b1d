//! What `/health` reports beyond "the database answers": each reason the service is
//! degraded, named, so that monitoring can say what to fix.

use kmn_store::CaKind;

use crate::ca::{self, hsm, repo};
use crate::{App, AppError};

/// One reason the service is degraded.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Degraded {
    /// Stable code: `hsm_unavailable`, `ca_certificate_missing`, `arl_missing`,
    /// `crl_missing`, `arl_next_update_soon` (a warning), `arl_expired`, `crl_overdue` (a
    /// warning), `crl_expired`, `cps_unpublished`, `ocsp_signer_missing`,
    /// `ocsp_signer_expiring`.
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
    let mut last_crls = std::collections::HashMap::new();
    if let Ok(cas) = &cas {
        for c in cas
            .iter()
            .filter(|c| matches!(c.kind, CaKind::Root | CaKind::Issuing))
        {
            match tx.last_crl(&c.name).await {
                Ok(Some(l)) => {
                    last_crls.insert(c.name.clone(), l);
                }
                Ok(None) => {}
                Err(e) => {
                    let _ = tx.rollback().await;
                    return Err(e.into());
                }
            }
        }
    }
    tx.rollback().await?;
    let (cas, cps) = (cas?, cps?);
    let now = app.now();
    let mut out = Vec::new();
    for c in cas.iter().filter(|c| c.not_after > now) {
        if let Some(l) = last_crls.get(&c.name) {
            out.extend(crl_freshness(app, c, l, now));
        }
    }
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

/// How late the issuing CA's CRL may be past its interval before `/health` says so (the
/// publisher looks every few seconds: this is a publisher that stopped).
const CRL_OVERDUE_GRACE_SECS: i64 = 600;

/// The ARL's and the issuing CRLs' dates (第16条, issue 10 item 4): the root's ARL is
/// re-signed offline by people, so its nextUpdate is announced `ca.arl_warning_days`
/// ahead (a warning) and is an error once passed; an issuing CA's CRL is overdue when no
/// CRL followed it within the interval (a warning: the publisher is stopped or failing)
/// and an error once its nextUpdate has passed (relying parties refuse it).
fn crl_freshness(
    app: &App,
    c: &kmn_store::CaRecord,
    last: &kmn_store::CrlRecord,
    now: i64,
) -> Option<Degraded> {
    let date = |t: i64| {
        time::OffsetDateTime::from_unix_timestamp(t)
            .map(kmn_domain::time_fmt::rfc3339)
            .unwrap_or_default()
    };
    let next = date(last.next_update);
    match c.kind {
        CaKind::Root if now >= last.next_update => Some(Degraded {
            reason: "arl_expired",
            object: c.name.clone(),
            detail: format!(
                "the ARL #{} of {} expired at {next}: relying parties that check the chain refuse every certificate under it; sign a new one with the root key now (`kmn ca sign-arl`, docs/ADMIN.md §3)",
                last.number, c.name
            ),
        }),
        CaKind::Root if last.next_update - now < app.cfg.ca.arl_warning_days * 86_400 => {
            Some(Degraded {
                reason: "arl_next_update_soon",
                object: c.name.clone(),
                detail: format!(
                    "the ARL #{} of {} reaches its nextUpdate at {next}: bring the root key and sign a new one before then (`kmn ca sign-arl`, docs/ADMIN.md §3)",
                    last.number, c.name
                ),
            })
        }
        CaKind::Issuing if now >= last.next_update => Some(Degraded {
            reason: "crl_expired",
            object: c.name.clone(),
            detail: format!(
                "the newest CRL #{} of {} expired at {next}: relying parties refuse its certificates; check the `kmn serve` log and the CA key, then `kmn crl publish`",
                last.number, c.name
            ),
        }),
        CaKind::Issuing
            if now - last.this_update
                > app.cfg.ca.crl_interval_hours * 3600 + CRL_OVERDUE_GRACE_SECS =>
        {
            Some(Degraded {
                reason: "crl_overdue",
                object: c.name.clone(),
                detail: format!(
                    "no CRL of {} was published since #{} of {} (every {} hours at least, 第16条); it expires at {next}: check the `kmn serve` log and the CA key, or run `kmn crl publish`",
                    c.name,
                    last.number,
                    date(last.this_update),
                    app.cfg.ca.crl_interval_hours
                ),
            })
        }
        _ => None,
    }
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

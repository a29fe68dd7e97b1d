//! `kmn cert issue`: the CA administrator's audited issuance from a CSR. The subject
//! comes from the CSR (re-encoded with the profile's string types); no SAN directoryName
//! or hcRole is added on this path (the registration path builds those from the registry).

use kmn_domain::{CertStatus, ProfileKind, ValidityPeriod};
use kmn_pki::cert::{CertTemplate, Urls};
use kmn_pki::csr;
use kmn_pki::ext::AltName;
use kmn_pki::lint::Expectations;
use kmn_pki::name::DistinguishedName;
use kmn_store::{CaKind, NewAuditEvent};

use crate::ca::{self, Policies};
use crate::{App, AppError, repo};

/// An issued certificate.
#[derive(Clone, Debug)]
pub struct Issued {
    /// Serial, hex.
    pub serial_hex: String,
    /// DER.
    pub der: Vec<u8>,
    /// Subject text.
    pub subject: String,
    /// Issuing CA.
    pub ca_name: String,
    /// notAfter.
    pub not_after: time::OffsetDateTime,
    /// SHA-256 fingerprint.
    pub fingerprint_sha256: String,
}

/// Issues a certificate of `profile` for the CSR, valid `validity` from now.
pub async fn issue_from_csr(
    app: &App,
    csr_bytes: &[u8],
    profile: ProfileKind,
    validity: ValidityPeriod,
    actor: &str,
) -> Result<Issued, AppError> {
    if !ProfileKind::END_ENTITY.contains(&profile) {
        return Err(AppError::BadInput(format!(
            "profile '{profile}' cannot be issued from a CSR (use user-card, operator or server)"
        )));
    }
    let req = csr::parse_and_verify(csr_bytes)?;
    kmn_pki::lint::lint_key(&req.spki_der).map_err(|e| match e {
        kmn_pki::PkiError::Lint(l) => {
            AppError::BadInput(format!("the CSR's key is not acceptable: {}", l.detail))
        }
        other => other.into(),
    })?;
    let subject = DistinguishedName::from_der_for_profile(&req.subject_der)?;
    let alt_names: Vec<AltName> = match profile {
        ProfileKind::Server => {
            let mut names = req.requested_alt_names.clone();
            if names.is_empty()
                && let Some(cn) = subject.get(&kmn_pki::oid::AT_COMMON_NAME)
            {
                names.push(match cn.parse::<std::net::IpAddr>() {
                    Ok(ip) => AltName::Ip(ip),
                    Err(_) => AltName::Dns(cn.to_string()),
                });
            }
            if names.is_empty() {
                return Err(AppError::BadInput(
                    "a server certificate needs a DNS name or IP address (subjectAltName or CN)"
                        .into(),
                ));
            }
            names
        }
        _ => {
            if subject.get(&kmn_pki::oid::AT_COMMON_NAME).is_none() {
                return Err(AppError::BadInput("the CSR's subject has no CN".into()));
            }
            vec![]
        }
    };
    let ca = ca::load_active(app, CaKind::Issuing).await?;
    issue_template(
        app,
        &ca,
        profile,
        validity,
        subject,
        req.spki_der,
        alt_names,
        None,
        actor,
    )
    .await
}

/// Issues from parts (used by the CSR path, `kmn up` and the registration path).
#[allow(clippy::too_many_arguments)]
pub async fn issue_template(
    app: &App,
    ca: &ca::LoadedCa,
    profile: ProfileKind,
    validity: ValidityPeriod,
    subject: DistinguishedName,
    spki_der: Vec<u8>,
    alt_names: Vec<AltName>,
    hc_role: Option<String>,
    actor: &str,
) -> Result<Issued, AppError> {
    let now_t = app.clock.now();
    let now = now_t.unix_timestamp();
    let not_after = validity.not_after(now_t);
    if not_after > ca.info.not_after {
        return Err(AppError::CaState(format!(
            "the issuing CA {} is valid only until {}; it cannot cover a {}-year certificate, and validity is never shortened (第10条). Make a new issuing CA with `kmn ca new-issuing`.",
            ca.record.name,
            kmn_domain::time_fmt::rfc3339(ca.info.not_after),
            validity.years()
        )));
    }
    let mut tx = app.store.begin().await?;
    let r = async {
        let policies = Policies::load(&mut tx).await?;
        let t = CertTemplate {
            profile,
            serial: ca::new_serial(),
            subject,
            spki_der,
            not_before: now_t,
            not_after,
            policies: policies.for_profile(profile),
            urls: Urls {
                crl: Some(repo::url(app, &repo::crl_file(&ca.record.name))),
                ocsp: Some(format!("{}/ocsp", app.cfg.public_base_url)),
                ca_issuers: Some(repo::url(app, &repo::cert_file(&ca.record.name))),
                cps: Some(format!("{}/repo/cps", app.cfg.public_base_url)),
            },
            alt_names,
            hc_role,
        };
        let expect = Expectations {
            policies: policies.for_profile(profile),
            validity: Some(validity),
            require_urls: true,
        };
        let der = ca::issue_in_tx(&mut tx, &ca.record.name, &ca.info, ca.signer.as_ref(), &t, &expect, CertStatus::Valid, now).await?;
        let fp = kmn_pki::cert::fingerprint_sha256(&der);
        let subject = t.subject.to_string();
        tx.append_audit(&NewAuditEvent {
            at: now,
            actor,
            action: "cert.issue",
            object: &format!("cert:{}", t.serial.to_hex()),
            facility: None,
            summary: &format!(
                "issued {profile} certificate {} for '{subject}' by {}, valid {} years until {}, SHA-256 {fp}",
                t.serial.to_hex(),
                ca.record.name,
                validity.years(),
                kmn_domain::time_fmt::rfc3339(not_after)
            ),
        })
        .await?;
        Ok::<_, AppError>(Issued {
            serial_hex: t.serial.to_hex(),
            der,
            subject,
            ca_name: ca.record.name.clone(),
            not_after,
            fingerprint_sha256: fp,
        })
    }
    .await;
    match r {
        Ok(i) => {
            tx.commit().await?;
            Ok(i)
        }
        Err(e) => {
            let _ = tx.rollback().await;
            Err(e)
        }
    }
}

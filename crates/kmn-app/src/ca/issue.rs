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

use crate::ca::repo;
use crate::ca::{self, Policies};
use crate::{App, AppError};

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
    admin: &crate::rights::CaAdmin,
) -> Result<Issued, AppError> {
    let actor = admin.name();
    if !ProfileKind::END_ENTITY.contains(&profile) {
        return Err(AppError::BadInput(format!(
            "profile '{profile}' cannot be issued from a CSR (use user-card, operator, server or station)"
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
    let ca = ca::load_active_kind(app, CaKind::Issuing).await?;
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
    let policies = {
        let mut tx = app.store.read().await?;
        let p = Policies::load(&mut tx).await;
        tx.rollback().await?;
        p?
    };
    let req = IssueRequest {
        profile,
        validity,
        subject,
        spki_der,
        alt_names,
        hc_role,
        on_hold: false,
    };
    let mut out = issue_batch(app, ca, &policies, vec![req], now_t, actor).await?;
    Ok(out.remove(0))
}

/// One certificate to issue in a batch.
#[derive(Clone, Debug)]
pub struct IssueRequest {
    /// Profile.
    pub profile: ProfileKind,
    /// Validity (第10条).
    pub validity: ValidityPeriod,
    /// Subject.
    pub subject: DistinguishedName,
    /// Public key.
    pub spki_der: Vec<u8>,
    /// subjectAltName entries.
    pub alt_names: Vec<AltName>,
    /// hcRole.
    pub hc_role: Option<String>,
    /// Issue on certificateHold (`hold_until_receipt`, 第8条): listed as certificateHold
    /// in CRLs until receipt releases it.
    pub on_hold: bool,
}

/// Issues a batch with group commit: every TBS is linted, then all serials and TBSs are
/// committed in one transaction (store before sign), then signed, then all certificates
/// and their audit events committed in a second one. Nothing is returned before the
/// second commit is on disk. A lint failure refuses the whole batch before anything is
/// written.
pub async fn issue_batch(
    app: &App,
    ca: &ca::LoadedCa,
    policies: &Policies,
    reqs: Vec<IssueRequest>,
    now_t: time::OffsetDateTime,
    actor: &str,
) -> Result<Vec<Issued>, AppError> {
    let now = now_t.unix_timestamp();
    let mut prepared = Vec::with_capacity(reqs.len());
    let holds: Vec<bool> = reqs.iter().map(|r| r.on_hold).collect();
    for r in reqs {
        let not_after = r.validity.not_after(now_t);
        if not_after > ca.info.not_after {
            return Err(AppError::CaState(format!(
                "the issuing CA {} is valid only until {}; it cannot cover a {}-year certificate, and validity is never shortened (第10条). Make a new issuing CA with `kmn ca new-issuing`.",
                ca.record.name,
                kmn_domain::time_fmt::rfc3339(ca.info.not_after),
                r.validity.years()
            )));
        }
        let t = CertTemplate {
            profile: r.profile,
            serial: ca::new_serial(),
            subject: r.subject,
            spki_der: r.spki_der,
            not_before: now_t,
            not_after,
            policies: policies.for_profile(r.profile),
            urls: Urls {
                crl: Some(repo::url(app, &repo::crl_file(&ca.record.name))),
                ocsp: Some(format!("{}/ocsp", app.cfg.public_base_url)),
                ca_issuers: Some(repo::url(app, &repo::cert_file(&ca.record.name))),
                cps: Some(format!("{}/repo/cps", app.cfg.public_base_url)),
            },
            alt_names: r.alt_names,
            hc_role: r.hc_role,
        };
        let expect = Expectations {
            policies: policies.for_profile(r.profile),
            validity: Some(r.validity),
            require_urls: true,
        };
        let linted = kmn_pki::cert::prepare(&t, &ca.info, &expect)?;
        prepared.push((t, r.validity, linted));
    }
    // 1. Serials and TBSs, durably, before any signature exists.
    let mut tx = app.store.begin().await?;
    let intents: Vec<(String, &str, &str, &[u8])> = prepared
        .iter()
        .map(|(t, _, linted)| {
            (
                t.serial.to_hex(),
                ca.record.name.as_str(),
                t.profile.as_str(),
                linted.tbs(),
            )
        })
        .collect();
    if let Err(e) = tx.insert_intents(&intents, now).await {
        let _ = tx.rollback().await;
        return Err(e.into());
    }
    tx.commit().await?;
    drop(intents);
    // 2. Sign. A key that cannot sign (an HSM gone, a session that did not come back)
    // leaves the intents only: no certificate exists, none is recorded, and the person
    // is told so.
    let serials: Vec<String> = prepared.iter().map(|(t, _, _)| t.serial.to_hex()).collect();
    let mut signed = Vec::with_capacity(prepared.len());
    for (t, validity, linted) in prepared {
        let der = kmn_pki::cert::sign(linted, ca.signer.as_ref())
            .map_err(|e| unsigned_intents(&ca.record.name, &serials, e.into()))?;
        signed.push((t, validity, der));
    }
    // 3. Certificates, status and audit events in one commit (multi-row inserts).
    let out: Vec<Issued> = signed
        .iter()
        .map(|(t, _, der)| Issued {
            serial_hex: t.serial.to_hex(),
            der: der.clone(),
            subject: t.subject.to_string(),
            ca_name: ca.record.name.clone(),
            not_after: t.not_after,
            fingerprint_sha256: kmn_pki::cert::fingerprint_sha256(der),
        })
        .collect();
    let summaries: Vec<String> = signed
        .iter()
        .zip(&out)
        .map(|((t, validity, _), i)| {
            format!(
                "issued {} certificate {} for '{}' by {}, valid {} years until {}, SHA-256 {}",
                t.profile,
                i.serial_hex,
                i.subject,
                ca.record.name,
                validity.years(),
                kmn_domain::time_fmt::rfc3339(t.not_after),
                i.fingerprint_sha256
            )
        })
        .collect();
    let objects: Vec<String> = out
        .iter()
        .map(|i| format!("cert:{}", i.serial_hex))
        .collect();
    let mut tx = app.store.begin().await?;
    let r = async {
        let rows: Vec<kmn_store::NewCert<'_>> = signed
            .iter()
            .zip(&out)
            .zip(&holds)
            .map(|(((t, _, der), i), on_hold)| kmn_store::NewCert {
                serial_hex: &i.serial_hex,
                serial: t.serial.as_bytes(),
                ca_name: &ca.record.name,
                profile: t.profile.as_str(),
                subject: &i.subject,
                not_before: now,
                not_after: t.not_after.unix_timestamp(),
                fingerprint_sha256: &i.fingerprint_sha256,
                der,
                issued_at: now,
                status: if *on_hold {
                    CertStatus::OnHold
                } else {
                    CertStatus::Valid
                },
            })
            .collect();
        tx.insert_certificates(&rows).await?;
        let events: Vec<NewAuditEvent<'_>> = summaries
            .iter()
            .zip(&objects)
            .map(|(summary, object)| NewAuditEvent {
                at: now,
                actor,
                action: "cert.issue",
                object,
                facility: None,
                summary,
            })
            .collect();
        tx.append_audit_batch(&events).await?;
        Ok::<_, AppError>(())
    }
    .await;
    let r = r.map(|()| out);
    crate::finish(tx, r).await
}

/// The error of a signature that failed after the intents were committed: the cause,
/// and that only the intents (serial and TBS, unsigned) were recorded.
fn unsigned_intents(ca_name: &str, serials: &[String], e: AppError) -> AppError {
    let cause = match &e {
        AppError::KeyUnavailable(m) => m.clone(),
        other => format!("認証局 {ca_name} の鍵で署名できませんでした（{other}）"),
    };
    AppError::KeyUnavailable(format!(
        "{cause}。証明書は発行されていません。発行予定（シリアル番号 {}）と署名前の内容だけが記録され、署名されないまま残ります。原因を取り除いてから、もう一度発行してください（新しいシリアル番号で発行されます）",
        serials.join(", ")
    ))
}

/// A certificate this CA issued, by serial (`kmn cert show`; the local CLI).
pub async fn certificate(
    app: &App,
    _right: &crate::rights::CaAdmin,
    serial_hex: &str,
) -> Result<Option<crate::views::Certificate>, AppError> {
    let mut tx = app.store.read().await?;
    let c = tx.certificate(serial_hex).await;
    tx.rollback().await?;
    Ok(c?.map(Into::into))
}

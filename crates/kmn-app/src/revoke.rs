//! `kmn cert revoke`: the CA administrator's one-step, audited revocation (DESIGN §8).
//! The revocation is committed first; the CRL follows at once (第16条). This is the only
//! path that revokes operator, OCSP-signer and server certificates; it never revokes a CA
//! certificate (revoking an issuing CA is a root act that re-signs the ARL:
//! [`crate::ca::revoke_issuing`], issue 8).

use kmn_domain::{CertSerial, RevocationReason};
use kmn_store::{NewAuditEvent, Revocation};

use crate::{App, AppError};

/// A revocation request.
#[derive(Clone, Debug)]
pub struct RevokeRequest {
    /// Serial.
    pub serial: CertSerial,
    /// Reason.
    pub reason: RevocationReason,
    /// Free text.
    pub comment: Option<String>,
    /// The article of the terms, e.g. `第12条(2)`.
    pub article: Option<String>,
    /// invalidityDate (keyCompromise only: the last time the card was known safe).
    pub invalidity_date: Option<time::OffsetDateTime>,
    /// When the request arrived (defaults to now).
    pub received_at: Option<time::OffsetDateTime>,
    /// Who asked.
    pub requested_by: String,
}

/// Revokes; returns the revocation time.
pub async fn revoke(app: &App, r: &RevokeRequest) -> Result<i64, AppError> {
    let now = app.now();
    if r.reason == RevocationReason::CertificateHold {
        return Err(AppError::BadInput(
            "certificate-hold is not a revocation reason; holds are placed at issuance only".into(),
        ));
    }
    if r.reason == RevocationReason::CaCompromise {
        return Err(AppError::BadInput(
            "ca-compromise is only for an issuing CA, which the root revokes with `kmn ca revoke-issuing`; nothing was revoked".into(),
        ));
    }
    let invalidity = match r.invalidity_date {
        None => None,
        Some(_) if !r.reason.allows_invalidity_date() => {
            return Err(AppError::BadInput(
                "--invalidity-date is only meaningful with key-compromise".into(),
            ));
        }
        Some(t) if t.unix_timestamp() > now => {
            return Err(AppError::BadInput(
                "the invalidity date cannot be in the future".into(),
            ));
        }
        Some(t) => Some(t.unix_timestamp()),
    };
    let serial_hex = r.serial.to_hex();
    let mut tx = app.store.begin().await?;
    let res = async {
        let cert = tx.certificate(&serial_hex).await?.ok_or_else(|| {
            AppError::NotFound(format!(
                "no certificate with serial {serial_hex} was issued by this CA"
            ))
        })?;
        // The CA administrator's path: any end-entity certificate; a CA certificate is
        // refused by the store (a root act, issue 8).
        tx.revoke_as_ca_administrator(&Revocation {
            serial_hex: &serial_hex,
            reason: r.reason,
            revoked_at: now,
            invalidity_date: invalidity,
            article: r.article.as_deref(),
            comment: r.comment.as_deref(),
            requested_by: &r.requested_by,
            request_received_at: r.received_at.map(|t| t.unix_timestamp()).unwrap_or(now),
        })
        .await
        .map_err(|e| match e {
            kmn_store::StoreError::Conflict(_) => {
                AppError::Conflict(format!("certificate {serial_hex} is already revoked"))
            }
            other => other.into(),
        })?;
        tx.append_audit(&NewAuditEvent {
            at: now,
            actor: &r.requested_by,
            action: "cert.revoke",
            object: &format!("cert:{serial_hex}"),
            facility: None,
            summary: &format!(
                "revoked {} '{}' ({}){}{}",
                serial_hex,
                cert.subject,
                r.reason.rfc_name(),
                r.article
                    .as_ref()
                    .map(|a| format!(", {a}"))
                    .unwrap_or_default(),
                r.comment
                    .as_ref()
                    .map(|c| format!(": {c}"))
                    .unwrap_or_default()
            ),
        })
        .await?;
        Ok::<_, AppError>(())
    }
    .await;
    crate::finish(tx, res).await.map(|()| now)
}

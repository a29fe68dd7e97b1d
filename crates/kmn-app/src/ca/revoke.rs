//! The one revocation path (issue 10 item 1). Every path that revokes — `kmn cert revoke`,
//! the RA's applications and card steps, delivery, the jobs, a station's abort, operator
//! tokens — states an [`Order`]: the certificate, the [`RevocationGrounds`] (which decide
//! the RFC 5280 reason and the article of the terms, DESIGN §4), the channel the request
//! came through, who asked and when the request arrived, and free text. [`revoke_in_tx`]
//! checks the transition with the domain's [`CertStatus::revoke`], writes it by
//! compare-and-set with the grounds and the channel beside it (第23条3: the evidence), and
//! appends the audit event, in the caller's transaction, and defers the after-commit
//! effect [`Effect::PublishCrl`] of the certificate's CA on it: once the transaction has
//! committed, the one after-commit runner ([`crate::effects`]) publishes the CRL at once
//! (第16条) — in the CLI it publishes there and then, in `kmn serve` it wakes the
//! publisher — whichever use case revoked.

use kmn_domain::{
    CertSerial, CertStatusError, Effect, RevocationChannel, RevocationGrounds, RevocationReason,
};
use kmn_store::{NewAuditEvent, Revocation};

use crate::{App, AppError};

/// `kmn cert revoke`: the CA administrator's one-step, audited revocation (DESIGN §8).
#[derive(Clone, Debug)]
pub struct RevokeRequest {
    /// Serial.
    pub serial: CertSerial,
    /// Reason (administrative grounds: the CPS, not the terms, governs this path).
    pub reason: RevocationReason,
    /// Free text.
    pub comment: Option<String>,
    /// invalidityDate (keyCompromise only: the last time the key was known safe).
    pub invalidity_date: Option<time::OffsetDateTime>,
    /// When the request arrived (defaults to now).
    pub received_at: Option<time::OffsetDateTime>,
    /// Who asked.
    pub requested_by: String,
}

/// One revocation, as every path states it.
#[derive(Clone, Debug)]
pub struct Order<'a> {
    /// The certificate (lowercase hex).
    pub serial_hex: &'a str,
    /// Why.
    pub grounds: RevocationGrounds,
    /// Through whom and how the request arrived.
    pub channel: RevocationChannel,
    /// Free text (kept with the revocation and in the audit event).
    pub comment: Option<&'a str>,
    /// Who asked (account, `system:jobs`, the CA administrator).
    pub requested_by: &'a str,
    /// When the request arrived (Unix seconds): the phone call, the form, the
    /// application's submission — not when it was processed.
    pub received_at: i64,
    /// invalidityDate (keyCompromise only): the last time the card was known safe.
    pub invalidity_date: Option<i64>,
    /// The facility, for the audit event.
    pub facility: Option<&'a str>,
}

/// What [`revoke_in_tx`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Revoked now.
    Revoked,
    /// It was already revoked (by another path, or earlier): nothing was written.
    AlreadyRevoked,
}

/// Revokes in the caller's transaction; see the module documentation.
pub(crate) async fn revoke_in_tx(
    tx: &mut kmn_store::Tx,
    o: &Order<'_>,
    now: i64,
) -> Result<Outcome, AppError> {
    let reason = o.grounds.reason();
    if let Some(t) = o.invalidity_date {
        if !o.grounds.allows_invalidity_date() {
            return Err(AppError::BadInput(format!(
                "無効となった日時は鍵の危殆化（keyCompromise）のときだけ指定できます（事由: {}）",
                o.grounds.label_ja()
            )));
        }
        if t > now {
            return Err(AppError::BadInput(
                "無効となった日時に未来の日時は指定できません".into(),
            ));
        }
    }
    let cert = tx.certificate(o.serial_hex).await?.ok_or_else(|| {
        AppError::NotFound(format!(
            "no certificate with serial {} was issued by this CA",
            o.serial_hex
        ))
    })?;
    match cert.status.revoke(reason) {
        Ok(_) => {}
        Err(CertStatusError::AlreadyRevoked) => return Ok(Outcome::AlreadyRevoked),
        Err(e) => return Err(AppError::BadInput(e.to_string())),
    }
    let grounds = o.grounds.code();
    let article = o.grounds.article();
    let received_at = o.received_at.min(now);
    let rev = Revocation {
        serial_hex: o.serial_hex,
        reason,
        revoked_at: now,
        invalidity_date: o.invalidity_date,
        article: article.as_deref(),
        comment: o.comment,
        requested_by: o.requested_by,
        request_received_at: received_at,
        grounds: Some(&grounds),
        channel: Some(o.channel.as_str()),
    };
    // The CA administrator's grounds may revoke any end-entity certificate; every other
    // ground only a holder's card certificate (the store refuses the rest, issue 8).
    let written = match o.grounds {
        RevocationGrounds::Administrative(_) => tx.revoke_as_ca_administrator(&rev).await,
        _ => tx.revoke(&rev).await,
    };
    match written {
        Ok(()) => {}
        Err(kmn_store::StoreError::Conflict(_)) => return Ok(Outcome::AlreadyRevoked),
        Err(e) => return Err(e.into()),
    }
    tx.append_audit(&NewAuditEvent {
        at: now,
        actor: o.requested_by,
        action: "cert.revoke",
        object: &format!("cert:{}", o.serial_hex),
        facility: o.facility,
        summary: &format!(
            "revoked {} '{}': {} [{}] ({}{}) via {}, request received {}{}",
            o.serial_hex,
            cert.subject,
            o.grounds.label_ja(),
            grounds,
            reason.rfc_name(),
            article.map(|a| format!(", {a}")).unwrap_or_default(),
            o.channel.as_str(),
            time::OffsetDateTime::from_unix_timestamp(received_at)
                .map(kmn_domain::time_fmt::rfc3339)
                .unwrap_or_default(),
            o.comment.map(|c| format!(": {c}")).unwrap_or_default()
        ),
    })
    .await?;
    tx.defer(Effect::PublishCrl {
        ca_name: cert.ca_name.clone(),
    });
    Ok(Outcome::Revoked)
}

/// `kmn cert revoke`: revokes in one step with administrative grounds; returns the
/// revocation time. The CRL follows from the after-commit effect.
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
    let serial_hex = r.serial.to_hex();
    let order = Order {
        serial_hex: &serial_hex,
        grounds: RevocationGrounds::Administrative(r.reason),
        channel: RevocationChannel::CaAdministrator,
        comment: r.comment.as_deref(),
        requested_by: &r.requested_by,
        received_at: r
            .received_at
            .map_or(now, time::OffsetDateTime::unix_timestamp),
        invalidity_date: r.invalidity_date.map(time::OffsetDateTime::unix_timestamp),
        facility: None,
    };
    let mut tx = app.store.begin().await?;
    let res = match revoke_in_tx(&mut tx, &order, now).await {
        Ok(Outcome::Revoked) => Ok(now),
        Ok(Outcome::AlreadyRevoked) => Err(AppError::Conflict(format!(
            "certificate {serial_hex} is already revoked"
        ))),
        Err(e) => Err(e),
    };
    crate::finish(tx, res).await
}

#[cfg(test)]
mod tests {
    use kmn_domain::{AssociationGround, EmergencyCause, RevocationGrounds as G};

    /// Issue 10 item 1: the grounds, not the caller, decide the reason and the article.
    #[test]
    fn art11_art12_grounds_decide_reason_and_article() {
        let e = G::Emergency(EmergencyCause::Lost);
        assert_eq!(e.reason().rfc_name(), "keyCompromise");
        assert_eq!(e.article().as_deref(), Some("第11条"));
        let a = G::Association(AssociationGround::UnpaidFees);
        assert_eq!(a.reason().rfc_name(), "privilegeWithdrawn");
        assert_eq!(a.article().as_deref(), Some("第12条(5)"));
        assert_eq!(G::Renewal.article().as_deref(), Some("第14条1"));
    }
}

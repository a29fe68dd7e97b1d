//! The doctor registry (医師の登録, issue 11 item 3). Doctors do not get the network's
//! card (第4条): they log in with the JMA physician card (医師資格証, HPKI). A doctor is
//! bound to each facility they may act for by their **registered certificate** — issuer
//! Name and serial number, with the SHA-256 of its SubjectPublicKeyInfo — never by a
//! subject name.
//!
//! * [`enrol`]: a facility's desk (for its own facility) or the center uploads the
//!   doctor's HPKI authentication certificate; it is parsed and checked here
//!   ([`kmn_domain::doctor::check_certificate`], and the chain against `[hpki] anchors`
//!   with kmn-verify when anchors are configured). The enrolment page where the doctor
//!   presents the card on the HTTPS listener (the portal's) calls the same use case with
//!   the certificate of the TLS connection: it only has to be a thin layer.
//! * [`confirm`]: the desk of THAT facility confirms (the center may record a
//!   confirmation given in writing, naming who gave it); [`approve`]: the center, another
//!   person than the one who recorded the confirmation.
//! * [`end`] (the doctor left: desk or center, with the date), [`refuse`] (center),
//!   [`withdraw`] (before approval).
//! * [`lookup`]: the active bindings of a presented certificate, for `kmn gateway`.
//!
//! Every change is an audit event; every read of the registry (personal data: the
//! doctor's name is in the certificate's subject) is written to the access log.

use kmn_domain::doctor::{
    BindingAction, BindingState, DOCTOR_PROFESSION, HpkiPolicyOids, Party, PresentedCert,
};
use kmn_store::{DoctorBindingChange, DoctorBindingFilter, DoctorBindingRow, NewAuditEvent};
use sha2::{Digest, Sha256};

use crate::error::FieldError;
use crate::idempotency::{Idempotency, finish_once};
use crate::rights::{Center, DoctorLookup, Reader, Registrar};
use crate::views::{DoctorBinding, DoctorLookupAnswer, DoctorLookupEntry};
use crate::{App, AppError};

/// The most bytes of an uploaded certificate (PEM or DER).
pub const MAX_CERT_BYTES: usize = 16 * 1024;

fn cert_error(msg: impl Into<String>) -> AppError {
    AppError::Validation(vec![FieldError::new("certificate", msg.into())])
}

fn not_found(id: &str) -> AppError {
    AppError::NotFound(format!("医師の登録 {id} はありません"))
}

fn show_time(t: i64) -> String {
    kmn_domain::time_fmt::ja_unix_secs(t)
}

/// A certificate read for enrolment.
struct Parsed {
    der: Vec<u8>,
    issuer_der_hex: String,
    issuer_text: String,
    serial_hex: String,
    spki_sha256: String,
    cert_sha256: String,
    subject_text: String,
    facts: PresentedCert,
}

/// Parses an uploaded certificate (PEM or DER) and reads what the rules need.
fn parse(input: &[u8], our_ca_subjects: &[Vec<u8>]) -> Result<Parsed, AppError> {
    use der::Decode;
    use x509_cert::ext::pkix::{BasicConstraints, CertificatePolicies, KeyUsage};
    if input.is_empty() {
        return Err(cert_error(
            "医師資格証の認証用証明書（PEM または DER）を指定してください",
        ));
    }
    if input.len() > MAX_CERT_BYTES {
        return Err(cert_error(format!(
            "証明書が大きすぎます（{} KiB まで）",
            MAX_CERT_BYTES / 1024
        )));
    }
    let unreadable = || {
        cert_error(
            "証明書を読み取れません。医師資格証の認証用証明書を PEM（-----BEGIN CERTIFICATE-----）または DER の形式で指定してください",
        )
    };
    let der = kmn_pki::cert::pem_or_der(input, "CERTIFICATE").map_err(|_| unreadable())?;
    let c = kmn_pki::parse::cert(&der).map_err(|_| unreadable())?;
    let x = x509_cert::Certificate::from_der(&der).map_err(|_| unreadable())?;
    let tbs = x.tbs_certificate();
    let bc = tbs
        .get_extension::<BasicConstraints>()
        .map_err(|_| unreadable())?;
    let ku = tbs.get_extension::<KeyUsage>().map_err(|_| unreadable())?;
    let cp = tbs
        .get_extension::<CertificatePolicies>()
        .map_err(|_| unreadable())?;
    let facts = PresentedCert {
        is_ca: bc.is_some_and(|(_, b)| b.ca),
        has_key_usage: ku.is_some(),
        digital_signature: ku.as_ref().is_some_and(|(_, k)| k.digital_signature()),
        non_repudiation: ku.as_ref().is_some_and(|(_, k)| k.non_repudiation()),
        not_before: c.tbs.not_before.at.unix_timestamp(),
        not_after: c.tbs.not_after.at.unix_timestamp(),
        policies: cp
            .map(|(_, p)| {
                p.0.iter()
                    .map(|i| i.policy_identifier.to_string())
                    .collect()
            })
            .unwrap_or_default(),
        issued_by_us: our_ca_subjects.iter().any(|s| s.as_slice() == c.tbs.issuer),
    };
    Ok(Parsed {
        issuer_der_hex: hex::encode(c.tbs.issuer),
        issuer_text: c.tbs.issuer_text(),
        serial_hex: c.tbs.serial_hex(),
        spki_sha256: hex::encode(Sha256::digest(c.tbs.spki)),
        cert_sha256: hex::encode(Sha256::digest(&der)),
        subject_text: c.tbs.subject_text(),
        facts,
        der: der.clone(),
    })
}

/// Reads the `[hpki]` anchors and intermediates (PEM or DER files).
fn hpki_files(app: &App, files: &[String]) -> Result<Vec<Vec<u8>>, AppError> {
    let mut out = Vec::new();
    for f in files {
        let p = app.cfg.resolve(&app.data_dir, f);
        let bytes = std::fs::read(&p)
            .map_err(|e| AppError::Config(format!("[hpki] cannot read {}: {e}", p.display())))?;
        out.extend(kmn_verify::load_pem_or_der_bundle(&bytes).map_err(|e| {
            AppError::Config(format!(
                "[hpki] {} is not a certificate file: {e}",
                p.display()
            ))
        })?);
    }
    Ok(out)
}

/// Checks the certificate's path to a configured HPKI anchor (RFC 5280 path validation
/// at `now`; revocation is the relying party's, checked at every login by the gateway).
fn check_chain(app: &App, der: &[u8], now: i64) -> Result<(), AppError> {
    if app.cfg.hpki.anchors.is_empty() {
        return Ok(());
    }
    let anchors = hpki_files(app, &app.cfg.hpki.anchors)?;
    let intermediates = hpki_files(app, &app.cfg.hpki.intermediates)?;
    let at = time::OffsetDateTime::from_unix_timestamp(now)
        .map_err(|e| AppError::Internal(e.to_string()))?;
    let opts = kmn_verify::VerifyOptions::new(at);
    kmn_verify::verify(der, &anchors, &intermediates, &[], &opts).map_err(|e| {
        cert_error(format!(
            "この証明書は登録された HPKI 認証局（日本医師会）の証明書として検証できません: {e}"
        ))
    })?;
    Ok(())
}

/// The subject Names of this CA's own CA certificates (root and issuing).
async fn our_ca_subjects(tx: &mut kmn_store::Tx) -> Result<Vec<Vec<u8>>, AppError> {
    Ok(tx
        .list_cas()
        .await?
        .into_iter()
        .filter_map(|c| {
            kmn_pki::parse::cert(&c.cert_der)
                .ok()
                .map(|p| p.tbs.subject.to_vec())
        })
        .collect())
}

/// Enrols a doctor's HPKI authentication certificate (PEM or DER) for `facility`: a desk
/// for its own facility, or the center. The binding starts `enrolled`.
pub async fn enrol(
    app: &App,
    who: &Registrar,
    facility: &str,
    certificate: &[u8],
) -> Result<DoctorBinding, AppError> {
    enrol_once(app, who, facility, certificate, None).await
}

/// [`enrol`], recording an `Idempotency-Key` in the same transaction.
pub async fn enrol_once(
    app: &App,
    who: &Registrar,
    facility: &str,
    certificate: &[u8],
    idem: Option<&Idempotency<'_, DoctorBinding>>,
) -> Result<DoctorBinding, AppError> {
    let actor = who.actor();
    who.require(facility)?;
    let now = app.now();
    let oids = HpkiPolicyOids {
        authentication: app.cfg.hpki.auth_policy_oids.clone(),
        signature: app.cfg.hpki.signature_policy_oids.clone(),
    };
    let mut tx = app.store.begin().await?;
    let r = async {
        let f = tx.facility(facility).await?.ok_or_else(|| {
            AppError::NotFound(format!("施設 {facility} は登録されていません"))
        })?;
        let status: kmn_domain::FacilityStatus = f
            .status
            .parse()
            .map_err(|e: kmn_domain::UnknownCode| AppError::Internal(e.to_string()))?;
        if !status.can_apply() {
            return Err(AppError::Rule(format!(
                "施設 {facility} は現在「{}」のため医師を登録できません",
                status.label_ja()
            )));
        }
        let ours = our_ca_subjects(&mut tx).await?;
        let p = parse(certificate, &ours)?;
        kmn_domain::doctor::check_certificate(&p.facts, &oids, now, show_time)
            .map_err(|e| cert_error(e.to_string()))?;
        check_chain(app, &p.der, now)?;
        let n = tx.next_counter("doctor_binding").await?;
        let row = DoctorBindingRow {
            id: format!("DR{n:08}"),
            facility_code: facility.to_string(),
            issuer_der_hex: p.issuer_der_hex,
            issuer_text: p.issuer_text,
            serial_hex: p.serial_hex,
            spki_sha256: p.spki_sha256,
            cert_sha256: p.cert_sha256,
            cert_der: p.der,
            subject_text: p.subject_text,
            not_before: p.facts.not_before,
            not_after: p.facts.not_after,
            state: BindingState::Enrolled.as_str().into(),
            enrolled_by: actor.account_id.clone(),
            enrolled_at: now,
            confirmed_by: None,
            confirmed_person: None,
            confirmed_note: None,
            confirmed_at: None,
            approved_by: None,
            approved_at: None,
            closed_by: None,
            closed_at: None,
            ended_on: None,
            close_reason: None,
            updated_at: now,
            version: 1,
        };
        tx.insert_doctor_binding(&row).await.map_err(|e| match e {
            kmn_store::StoreError::Conflict(_) => AppError::Conflict(format!(
                "この証明書（シリアル番号 {}）は施設 {facility} に既に登録されています（登録の終了後に登録し直せます）",
                row.serial_hex
            )),
            other => other.into(),
        })?;
        tx.append_audit(&NewAuditEvent {
            at: now,
            actor: &actor.account_id,
            action: "doctor.enrol",
            object: &format!("doctor_binding:{}", row.id),
            facility: Some(facility),
            summary: &format!(
                "enrolled HPKI certificate serial {} (issuer {}, SPKI SHA-256 {}) for {facility}",
                row.serial_hex, row.issuer_text, row.spki_sha256
            ),
        })
        .await?;
        Ok(DoctorBinding::from(row))
    }
    .await;
    finish_once(tx, actor, r, idem, now).await
}

/// Loads a binding within the caller's scope: absent and foreign get one answer.
async fn load(
    tx: &mut kmn_store::Tx,
    scope: &crate::actor::Scope,
    id: &str,
) -> Result<DoctorBindingRow, AppError> {
    let b = tx.doctor_binding(id).await?;
    scope.visible(b, |b| b.facility_code.as_str(), || not_found(id))
}

fn state_of(b: &DoctorBindingRow) -> Result<BindingState, AppError> {
    b.state
        .parse()
        .map_err(|e: kmn_domain::UnknownCode| AppError::Internal(e.to_string()))
}

/// Applies `action` to binding `id` as `party`, writing `change` and the audit event.
#[allow(clippy::too_many_arguments)]
async fn step(
    app: &App,
    actor: &crate::actor::Actor,
    scope: &crate::actor::Scope,
    id: &str,
    action: BindingAction,
    party: Party,
    change: DoctorBindingChange<'_>,
    check: impl FnOnce(&DoctorBindingRow) -> Result<(), AppError>,
    summary: impl FnOnce(&DoctorBindingRow) -> String,
) -> Result<DoctorBinding, AppError> {
    let now = app.now();
    let mut tx = app.store.begin().await?;
    let r = async {
        let b = load(&mut tx, scope, id).await?;
        let from = state_of(&b)?;
        let to = from
            .apply(action, party)
            .map_err(|e| match e {
                kmn_domain::doctor::BindingError::NotYours(m) => AppError::Forbidden(m.into()),
                e => AppError::Conflict(e.to_string()),
            })?;
        check(&b)?;
        tx.transition_doctor_binding(&b.id, &b.state, b.version, to.as_str(), now, &change)
            .await
            .map_err(|e| match e {
                kmn_store::StoreError::Conflict(_) => AppError::Conflict(
                    "この医師の登録は他の方が先に変更しました。もう一度表示してからやり直してください"
                        .into(),
                ),
                other => other.into(),
            })?;
        tx.append_audit(&NewAuditEvent {
            at: now,
            actor: &actor.account_id,
            action: &format!("doctor.{}", action.as_str()),
            object: &format!("doctor_binding:{}", b.id),
            facility: Some(&b.facility_code),
            summary: &summary(&b),
        })
        .await?;
        let after = tx.doctor_binding(&b.id).await?.ok_or_else(|| not_found(id))?;
        Ok(DoctorBinding::from(after))
    }
    .await;
    super::finish(tx, r).await
}

/// The facility confirms the doctor acts for it. A desk confirms for its own facility;
/// the center records a confirmation the facility gave in writing and must name who gave
/// it (`given_by`).
pub async fn confirm(
    app: &App,
    who: &Registrar,
    id: &str,
    given_by: Option<&str>,
) -> Result<DoctorBinding, AppError> {
    let actor = who.actor();
    let (party, note) = if who.is_center() {
        let g = given_by.map(str::trim).unwrap_or_default();
        if g.is_empty() || g.chars().count() > 64 {
            return Err(AppError::Validation(vec![FieldError::new(
                "given_by",
                "サポートセンターが施設の確認を記録するときは、書面で確認した施設の方の氏名を64文字以内で入力してください",
            )]));
        }
        (Party::Center, Some(g.to_string()))
    } else {
        (Party::FacilityDesk, None)
    };
    let person = actor.person_id.clone();
    let summary_note = note.clone();
    step(
        app,
        actor,
        who.scope(),
        id,
        BindingAction::Confirm,
        party,
        DoctorBindingChange {
            confirmed_by: Some(&actor.account_id),
            confirmed_person: Some(&person),
            confirmed_note: note.as_deref(),
            ..Default::default()
        },
        |_| Ok(()),
        |b| match &summary_note {
            Some(g) => format!(
                "confirmation of {} for {} given in writing by {g} recorded",
                b.id, b.facility_code
            ),
            None => format!("{} confirmed by the desk of {}", b.id, b.facility_code),
        },
    )
    .await
}

/// The center approves a confirmed binding: from now on the certificate acts for the
/// facility. The approver is another person than the one who recorded the confirmation.
pub async fn approve(app: &App, who: &Center, id: &str) -> Result<DoctorBinding, AppError> {
    let actor = who.actor();
    let me = actor.person_id.clone();
    let reader = who.reader();
    step(
        app,
        actor,
        reader.scope(),
        id,
        BindingAction::Approve,
        Party::Center,
        DoctorBindingChange {
            approved_by: Some(&actor.account_id),
            ..Default::default()
        },
        |b| {
            kmn_domain::doctor::check_approver(b.confirmed_person.as_deref().unwrap_or(""), &me)
                .map_err(|e| AppError::SelfApproval(e.to_string()))
        },
        |b| {
            format!(
                "{} approved: certificate serial {} acts for {}",
                b.id, b.serial_hex, b.facility_code
            )
        },
    )
    .await
}

fn reason_of(reason: &str) -> Result<String, AppError> {
    let r = reason.trim();
    if r.is_empty() || r.chars().count() > 200 {
        return Err(AppError::Validation(vec![FieldError::new(
            "reason",
            "理由を200文字以内で入力してください",
        )]));
    }
    Ok(r.to_string())
}

/// The center refuses a binding before approval.
pub async fn refuse(
    app: &App,
    who: &Center,
    id: &str,
    reason: &str,
) -> Result<DoctorBinding, AppError> {
    let reason = reason_of(reason)?;
    let actor = who.actor();
    let reader = who.reader();
    step(
        app,
        actor,
        reader.scope(),
        id,
        BindingAction::Refuse,
        Party::Center,
        DoctorBindingChange {
            closed_by: Some(&actor.account_id),
            close_reason: Some(&reason),
            ..Default::default()
        },
        |_| Ok(()),
        |b| format!("{} refused: {reason}", b.id),
    )
    .await
}

/// The facility (or the center) withdraws a binding before approval.
pub async fn withdraw(
    app: &App,
    who: &Registrar,
    id: &str,
    reason: &str,
) -> Result<DoctorBinding, AppError> {
    let reason = reason_of(reason)?;
    let actor = who.actor();
    let party = if who.is_center() {
        Party::Center
    } else {
        Party::FacilityDesk
    };
    step(
        app,
        actor,
        who.scope(),
        id,
        BindingAction::Withdraw,
        party,
        DoctorBindingChange {
            closed_by: Some(&actor.account_id),
            close_reason: Some(&reason),
            ..Default::default()
        },
        |_| Ok(()),
        |b| format!("{} withdrawn: {reason}", b.id),
    )
    .await
}

/// Ends an active binding: the doctor left the facility on `ended_on` (YYYY-MM-DD), or the
/// card was replaced. The desk of the facility or the center.
pub async fn end(
    app: &App,
    who: &Registrar,
    id: &str,
    ended_on: &str,
    reason: &str,
) -> Result<DoctorBinding, AppError> {
    let mut errs = Vec::new();
    let fmt = time::macros::format_description!("[year]-[month]-[day]");
    let date = time::Date::parse(ended_on.trim(), &fmt);
    if date.is_err() {
        errs.push(FieldError::new(
            "ended_on",
            "終了日を YYYY-MM-DD の形式で入力してください（例: 2026-12-31）",
        ));
    }
    let reason = match reason_of(reason) {
        Ok(r) => Some(r),
        Err(AppError::Validation(mut v)) => {
            errs.append(&mut v);
            None
        }
        Err(e) => return Err(e),
    };
    if !errs.is_empty() {
        return Err(AppError::Validation(errs));
    }
    let (date, reason) = (date.expect("checked").to_string(), reason.expect("checked"));
    let actor = who.actor();
    let party = if who.is_center() {
        Party::Center
    } else {
        Party::FacilityDesk
    };
    step(
        app,
        actor,
        who.scope(),
        id,
        BindingAction::End,
        party,
        DoctorBindingChange {
            closed_by: Some(&actor.account_id),
            ended_on: Some(&date),
            close_reason: Some(&reason),
            ..Default::default()
        },
        |_| Ok(()),
        |b| format!("{} ended on {date} at {}: {reason}", b.id, b.facility_code),
    )
    .await
}

/// One binding; the read is logged.
pub async fn get(app: &App, who: &Reader, id: &str) -> Result<DoctorBinding, AppError> {
    let actor = who.actor();
    let mut tx = app.store.begin().await?;
    let r = async {
        let b = load(&mut tx, who.scope(), id).await?;
        tx.log_access(
            app.now(),
            &actor.account_id,
            actor.role.as_str(),
            "read",
            &format!("doctor_binding:{id}"),
            Some(&b.facility_code),
        )
        .await?;
        Ok(DoctorBinding::from(b))
    }
    .await;
    super::finish(tx, r).await
}

/// The certificate of one binding (DER); the read is logged.
pub async fn certificate(app: &App, who: &Reader, id: &str) -> Result<Vec<u8>, AppError> {
    let actor = who.actor();
    let mut tx = app.store.begin().await?;
    let r = async {
        let b = load(&mut tx, who.scope(), id).await?;
        tx.log_access(
            app.now(),
            &actor.account_id,
            actor.role.as_str(),
            "read",
            &format!("doctor_binding:{id}:certificate"),
            Some(&b.facility_code),
        )
        .await?;
        Ok(b.cert_der)
    }
    .await;
    super::finish(tx, r).await
}

/// Bindings visible to the caller (a desk: its own facility), optionally of one facility
/// and one state; the read is logged.
pub async fn list(
    app: &App,
    who: &Reader,
    facility: Option<&str>,
    state: Option<&str>,
    after: Option<&str>,
    limit: i64,
) -> Result<Vec<DoctorBinding>, AppError> {
    let actor = who.actor();
    let scope = who.listing(facility)?;
    if let Some(s) = state {
        s.parse::<BindingState>()
            .map_err(|e| AppError::Validation(vec![FieldError::new("state", e.to_string())]))?;
    }
    let mut tx = app.store.begin().await?;
    let r = async {
        let v = tx
            .list_doctor_bindings(&DoctorBindingFilter {
                facility_code: scope.clone(),
                state: state.map(str::to_string),
                after_id: after.map(str::to_string),
                limit,
            })
            .await?;
        tx.log_access(
            app.now(),
            &actor.account_id,
            actor.role.as_str(),
            "list",
            &format!("doctor_bindings:{}", scope.as_deref().unwrap_or("*")),
            scope.as_deref(),
        )
        .await?;
        Ok(v.into_iter().map(DoctorBinding::from).collect())
    }
    .await;
    super::finish(tx, r).await
}

fn hex_arg(field: &str, v: &str, max_len: usize) -> Result<String, FieldError> {
    let s = v.trim().to_ascii_lowercase();
    if s.is_empty() || s.len() > max_len || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(FieldError::new(
            field,
            format!("{max_len}桁以内の16進数で指定してください"),
        ));
    }
    Ok(s)
}

/// The read model of the gateway: the active bindings of the presented certificate —
/// the issuer Name (DER, hex), the serial (hex) and the SHA-256 of its
/// SubjectPublicKeyInfo (hex) must all match what was registered; a certificate of the
/// same issuer and serial with another key has no binding. Logged as an access.
pub async fn lookup(
    app: &App,
    who: &DoctorLookup,
    issuer_der_hex: &str,
    serial_hex: &str,
    spki_sha256: &str,
) -> Result<DoctorLookupAnswer, AppError> {
    let mut errs = Vec::new();
    let issuer = hex_arg("issuer", issuer_der_hex, 4096)
        .map_err(|e| errs.push(e))
        .ok();
    let serial = hex_arg("serial", serial_hex, 42)
        .map(|s| {
            // The form the registry stores: the unsigned value's bytes, no leading zero
            // byte (as `kmn_pki::parse::Tbs::serial_hex`).
            let t = s.trim_start_matches('0');
            match t.len() {
                0 => "00".to_string(),
                n if n % 2 == 1 => format!("0{t}"),
                _ => t.to_string(),
            }
        })
        .map_err(|e| errs.push(e))
        .ok();
    let spki = hex_arg("spki_sha256", spki_sha256, 64)
        .and_then(|s| {
            if s.len() == 64 {
                Ok(s)
            } else {
                Err(FieldError::new(
                    "spki_sha256",
                    "SHA-256（64桁の16進数）で指定してください",
                ))
            }
        })
        .map_err(|e| errs.push(e))
        .ok();
    if !errs.is_empty() {
        return Err(AppError::Validation(errs));
    }
    let (issuer, serial, spki) = (
        issuer.expect("checked"),
        serial.expect("checked"),
        spki.expect("checked"),
    );
    let actor = who.actor();
    let now = app.now();
    let mut tx = app.store.begin().await?;
    let r = async {
        let rows = tx
            .doctor_bindings_of_cert(&issuer, &serial, BindingState::Active.as_str())
            .await?;
        let bindings: Vec<DoctorLookupEntry> = rows
            .into_iter()
            .filter(|b| b.spki_sha256 == spki && b.not_after >= now)
            .map(|b| DoctorLookupEntry {
                binding_id: b.id,
                facility_code: b.facility_code,
                profession: DOCTOR_PROFESSION.into(),
                not_after: b.not_after,
            })
            .collect();
        tx.log_access(
            now,
            &actor.account_id,
            actor.role.as_str(),
            "lookup",
            &format!("doctor_cert:{serial}"),
            None,
        )
        .await?;
        Ok(DoctorLookupAnswer { bindings })
    }
    .await;
    super::finish(tx, r).await
}

/// [`lookup`] for a certificate in hand (DER): the gateway's path in the same process.
pub async fn lookup_certificate(
    app: &App,
    who: &DoctorLookup,
    der: &[u8],
) -> Result<DoctorLookupAnswer, AppError> {
    let c = kmn_pki::parse::cert(der).map_err(|_| cert_error("証明書を読み取れません"))?;
    let issuer = hex::encode(c.tbs.issuer);
    let spki = hex::encode(Sha256::digest(c.tbs.spki));
    lookup(app, who, &issuer, &c.tbs.serial_hex(), &spki).await
}

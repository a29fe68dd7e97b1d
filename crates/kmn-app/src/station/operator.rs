//! Operator tokens (issue 9 item 3, MHLW guideline G2: possession and knowledge):
//! support-center staff — operators, supervisors, auditors — log in with an operator
//! certificate whose key was generated on a token, personalized exactly like a holder's
//! card ([`crate::station::personalization::personalize_with`]: the token initialised
//! with its per-token SO PIN, a random user PIN, the key generated and checked on the
//! token, the CSR signed on it, the certificate and chain written, a PIN mailer, and on
//! any failure the token wiped and the certificate revoked). The account is created in
//! the same commit that records the token, so an operator account never exists without
//! its token. Renewal (`--replaces`) makes a new token and, in that same commit, disables
//! the old account and revokes its certificate (superseded); revocation
//! ([`revoke_credential`]) disables the account and revokes its certificate together.

use std::path::{Path, PathBuf};

use kmn_domain::{
    ProfileKind, RevocationChannel, RevocationGrounds, RevocationReason, ValidityPeriod,
};
use kmn_pki::name::DistinguishedName;
use kmn_store::{AccountRow, CaKind, NewAuditEvent};
use kmn_token::{CardKeyAlg, SecretPin};

use crate::actor::Role;
use crate::ca::revoke::{Order, Outcome, revoke_in_tx};
use crate::rights::CaAdmin;
use crate::station::personalization::{MailerOut, TokenRef, personalize_with};
use crate::station::{KeyReport, StationBackend, StationIssued, StationRecord, StationTarget};
use crate::{App, AppError};

/// How long an operator certificate is valid.
pub const OPERATOR_VALIDITY: ValidityPeriod = ValidityPeriod::Years3;

/// A token to enrol for a member of the support center's staff.
#[derive(Clone, Debug)]
pub struct OperatorEnrolment {
    /// operator, supervisor or auditor.
    pub role: Role,
    /// The name shown to people and put in the certificate's CN.
    pub display_name: String,
    /// The person (the same for every account of one person: dual control compares it).
    pub person_id: String,
    /// The account this token renews: disabled, and its certificate revoked
    /// (superseded), when the new token is recorded.
    pub replaces: Option<String>,
}

/// What an enrolment produced.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Enrolled {
    /// The new account.
    pub account: crate::views::Account,
    /// The token's serial.
    pub token_serial: String,
    /// The operator certificate's serial (hex).
    pub cert_serial_hex: String,
    /// The PIN mailer.
    pub mailer_path: PathBuf,
    /// The account it replaced (disabled, certificate revoked), if any.
    pub replaced: Option<String>,
}

fn check_text(what: &str, v: &str, max: usize) -> Result<(), AppError> {
    if v.trim().is_empty() || v.chars().count() > max || v.chars().any(char::is_control) {
        return Err(AppError::BadInput(format!(
            "{what}は{max}文字以内で、改行などの制御文字を含めずに指定してください"
        )));
    }
    Ok(())
}

/// Checks an enrolment before any token is touched.
async fn check(app: &App, e: &OperatorEnrolment) -> Result<(), AppError> {
    if !matches!(e.role, Role::Operator | Role::Supervisor | Role::Auditor) {
        return Err(AppError::BadInput(format!(
            "トークンで発行できるのはサポートセンター職員（運用担当者・運用責任者・監査担当者）のアカウントです（{}は対象外です）",
            e.role.label_ja()
        )));
    }
    check_text("表示名（--name）", &e.display_name, 64)?;
    // The token's label is "KMN <person>", at most 32 bytes (PKCS#11).
    if e.person_id.is_empty()
        || e.person_id.len() > 28
        || !e
            .person_id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        return Err(AppError::BadInput(
            "人の識別子（--person）は英数字と - _ . の28文字以内で指定してください（トークンのラベルに使います）".into(),
        ));
    }
    if app.cfg.support_center_phone.is_empty() {
        return Err(AppError::Config(
            "PIN通知書に載せる連絡先の電話番号が設定されていません。kmn.toml の support_center_phone を設定してください".into(),
        ));
    }
    if let Some(old) = &e.replaces {
        let mut tx = app.store.read().await?;
        let a = tx.account(old).await;
        tx.rollback().await?;
        let a = a?.ok_or_else(|| AppError::NotFound(format!("アカウント {old} はありません")))?;
        if a.disabled != 0 {
            return Err(AppError::Conflict(format!(
                "アカウント {old} は既に無効です。更新ではなく新規に発行してください（--replaces を外す）"
            )));
        }
        if a.person_id.as_deref() != Some(e.person_id.as_str()) {
            return Err(AppError::BadInput(format!(
                "アカウント {old} は別の人（{}）のアカウントです。更新は同じ人にのみできます",
                a.person_id.unwrap_or_default()
            )));
        }
        if a.role != e.role.as_str() {
            return Err(AppError::BadInput(format!(
                "アカウント {old} の役割は {} です。役割を変えるときは新規に発行し、古いアカウントは `kmn account revoke` で失効させてください",
                a.role
            )));
        }
    }
    Ok(())
}

/// `kmn account enrol`: personalizes a token with an operator certificate for a member
/// of the support center's staff and creates their account (the CA administrator at the
/// center's own station).
pub async fn enrol(
    app: &App,
    who: &CaAdmin,
    module_path: &Path,
    token: &TokenRef,
    e: &OperatorEnrolment,
    alg: CardKeyAlg,
    mailer: &MailerOut<'_>,
) -> Result<Enrolled, AppError> {
    check(app, e).await?;
    let n = {
        let mut tx = app.store.begin().await?;
        let r = tx.next_counter("account").await.map_err(AppError::from);
        crate::finish(tx, r).await?
    };
    let account_id = format!("U{n:06}");
    let backend = OperatorStation {
        app,
        admin: who,
        e,
        account_id: &account_id,
    };
    let p = personalize_with(&backend, module_path, token, &account_id, alg, mailer).await?;
    let account = {
        let mut tx = app.store.read().await?;
        let a = tx.account(&account_id).await;
        tx.rollback().await?;
        a?.ok_or_else(|| AppError::Internal(format!("account {account_id} was not recorded")))?
    };
    let cert_serial_hex = p.application["cert_serial_hex"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    Ok(Enrolled {
        account: account.into(),
        token_serial: p.token_serial,
        cert_serial_hex,
        mailer_path: p.mailer_path,
        replaced: e.replaces.clone(),
    })
}

/// The center's side of an operator token's personalization, on the data dir.
struct OperatorStation<'a> {
    app: &'a App,
    admin: &'a CaAdmin,
    e: &'a OperatorEnrolment,
    account_id: &'a str,
}

impl StationBackend for OperatorStation<'_> {
    async fn target(&self, _id: &str) -> Result<StationTarget, AppError> {
        Ok(StationTarget {
            application_id: self.account_id.to_string(),
            holder_id: self.e.person_id.clone(),
            holder_name_kanji: self.e.display_name.clone(),
            facility_code: String::new(),
            facility_name_kanji: self.app.cfg.organization.clone(),
            support_center_phone: self.app.cfg.support_center_phone.clone(),
            kind: kmn_letters::MailerKind::OperatorToken,
        })
    }

    async fn so_pin(&self, token_serial: &str) -> Result<SecretPin, AppError> {
        // A token that holds a live operator account's key is never initialised again.
        let mut tx = self.app.store.read().await?;
        let a = tx
            .enabled_account_by_token_serial(token_serial.trim())
            .await;
        tx.rollback().await?;
        if let Some(a) = a? {
            return Err(AppError::Forbidden(format!(
                "リーダーのトークン（シリアル {}）はアカウント {}（{}）のトークンとして使用中です。未使用のトークンに入れ替えてください",
                token_serial.trim(),
                a.id,
                a.display_name
            )));
        }
        // The same checks and audit event as a holder's card.
        crate::station::so_pin(self.app, &self.admin.station(), token_serial).await
    }

    async fn issue(
        &self,
        _id: &str,
        csr_der: &[u8],
        key: &KeyReport,
    ) -> Result<StationIssued, AppError> {
        let spki_der = crate::station::accept_card_key(csr_der, key)?;
        let mut subject = DistinguishedName::default();
        subject.push(kmn_pki::oid::AT_COUNTRY, "JP")?;
        subject.push(kmn_pki::oid::AT_ORGANIZATION, &self.app.cfg.organization)?;
        subject.push(kmn_pki::oid::AT_COMMON_NAME, &self.e.display_name)?;
        let ca = crate::ca::load_active_kind(self.app, CaKind::Issuing).await?;
        let issued = crate::ca::issue::issue_template(
            self.app,
            &ca,
            ProfileKind::Operator,
            OPERATOR_VALIDITY,
            subject,
            spki_der,
            vec![],
            None,
            self.admin.name(),
        )
        .await?;
        let chain = crate::station::chain_of(self.app, &issued.ca_name).await?;
        Ok(StationIssued {
            serial_hex: issued.serial_hex,
            der: issued.der,
            chain,
            card_id: self.account_id.to_string(),
        })
    }

    async fn complete(
        &self,
        _id: &str,
        rec: &StationRecord,
    ) -> Result<(serde_json::Value, serde_json::Value), AppError> {
        let app = self.app;
        let actor = self.admin.name();
        let now = app.now();
        let mut tx = app.store.begin().await?;
        let r = async {
            let cert = tx.certificate(&rec.serial_hex).await?.ok_or_else(|| {
                AppError::Internal(format!("certificate {} has no record", rec.serial_hex))
            })?;
            if cert.profile != ProfileKind::Operator.as_str() {
                return Err(AppError::Internal(format!(
                    "certificate {} is not an operator certificate",
                    rec.serial_hex
                )));
            }
            let row = AccountRow {
                id: self.account_id.to_string(),
                role: self.e.role.as_str().into(),
                display_name: self.e.display_name.clone(),
                cert_issuer: kmn_pki::parse::cert(&cert.der)?.tbs.issuer_text(),
                cert_fingerprint: cert.fingerprint_sha256.clone(),
                facility_code: None,
                holder_id: None,
                disabled: 0,
                created_at: now,
                created_by: actor.to_string(),
                person_id: Some(self.e.person_id.clone()),
                token_serial: Some(rec.token_serial.clone()),
            };
            tx.insert_account(&row).await?;
            tx.append_audit(&NewAuditEvent {
                at: now,
                actor,
                action: "account.enrol",
                object: &format!("account:{}", row.id),
                facility: None,
                summary: &format!(
                    "account {} ({}) for '{}' (person {}): {}; PIN mailer {} (SHA-256 {})",
                    row.id,
                    row.role,
                    row.display_name,
                    self.e.person_id,
                    rec.summary,
                    rec.mailer_file,
                    rec.mailer_sha256
                ),
            })
            .await?;
            if let Some(old) = &self.e.replaces {
                retire(
                    &mut tx,
                    old,
                    RevocationReason::Superseded,
                    &format!("アカウント {} のトークンに更新", row.id),
                    actor,
                    now,
                )
                .await?;
            }
            Ok::<_, AppError>((cert.serial_hex, row))
        }
        .await;
        let (serial, row) = crate::finish(tx, r).await?;
        let account: crate::views::Account = row.into();
        Ok((
            serde_json::json!({ "cert_serial_hex": serial }),
            serde_json::to_value(account).map_err(|e| AppError::Internal(e.to_string()))?,
        ))
    }

    async fn abort(&self, serial_hex: &str, why: &str) -> Result<(), AppError> {
        // The operator certificate of a token that could not be finished: the CA
        // administrator's grounds (operator certificates are the CPS's, not the terms').
        let app = self.app;
        let now = app.now();
        let comment: String = why.chars().take(200).collect();
        let mut tx = app.store.begin().await?;
        let r = revoke_in_tx(
            &mut tx,
            &Order {
                serial_hex,
                grounds: RevocationGrounds::Administrative(RevocationReason::CessationOfOperation),
                channel: RevocationChannel::CaAdministrator,
                comment: Some(&comment),
                requested_by: self.admin.name(),
                received_at: now,
                invalidity_date: None,
                facility: None,
            },
            now,
        )
        .await
        .map(|_| ());
        crate::finish(tx, r).await
    }

    fn now(&self) -> time::OffsetDateTime {
        self.app.clock.now()
    }
}

/// Disables an account and revokes its certificate, in the caller's transaction.
async fn retire(
    tx: &mut kmn_store::Tx,
    account_id: &str,
    reason: RevocationReason,
    comment: &str,
    actor: &str,
    now: i64,
) -> Result<String, AppError> {
    let a = tx
        .account(account_id)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("アカウント {account_id} はありません")))?;
    if a.holder_id.is_some() {
        return Err(AppError::BadInput(format!(
            "アカウント {account_id} は窓口担当者の利用者カードで利用するアカウントです。カードの失効は利用者カードの手続き（紛失・利用停止）で行い、アカウントだけを止めるときは `kmn account disable {account_id}` を使ってください"
        )));
    }
    tx.disable_account(account_id).await.map_err(|e| match e {
        kmn_store::StoreError::NotFound(_) => {
            AppError::Conflict(format!("アカウント {account_id} は既に無効です"))
        }
        other => other.into(),
    })?;
    let serial_hex = match tx.cert_status_by_fingerprint(&a.cert_fingerprint).await? {
        Some((serial, status, _)) if status != "revoked" => {
            let done = revoke_in_tx(
                tx,
                &Order {
                    serial_hex: &serial,
                    grounds: RevocationGrounds::Administrative(reason),
                    channel: RevocationChannel::CaAdministrator,
                    comment: Some(comment),
                    requested_by: actor,
                    received_at: now,
                    invalidity_date: None,
                    facility: None,
                },
                now,
            )
            .await?;
            debug_assert_eq!(done, Outcome::Revoked);
            serial
        }
        Some((serial, _, _)) => serial,
        None => String::new(),
    };
    tx.append_audit(&NewAuditEvent {
        at: now,
        actor,
        action: "account.retire",
        object: &format!("account:{account_id}"),
        facility: a.facility_code.as_deref(),
        summary: &format!(
            "account {account_id} ({}) disabled and its certificate {serial_hex} revoked ({}): {comment}",
            a.role,
            reason.rfc_name()
        ),
    })
    .await?;
    Ok(serial_hex)
}

/// Why an account's credential is revoked (`kmn account revoke --reason`).
pub fn parse_credential_reason(s: &str) -> Result<RevocationReason, AppError> {
    match s {
        "key-compromise" | "keyCompromise" => Ok(RevocationReason::KeyCompromise),
        "cessation" | "cessation-of-operation" | "cessationOfOperation" => {
            Ok(RevocationReason::CessationOfOperation)
        }
        "affiliation-changed" | "affiliationChanged" => Ok(RevocationReason::AffiliationChanged),
        other => Err(AppError::BadInput(format!(
            "失効理由 '{other}' は指定できません。key-compromise（紛失・盗難・漏えいのおそれ）、cessation（退職・担当終了）、affiliation-changed（異動）のいずれかです"
        ))),
    }
}

/// `kmn account revoke`: disables an account and revokes the certificate it logs in with,
/// in one commit (a lost operator token, a member who leaves). Returns the revoked
/// serial; the caller publishes the CRL at once (第16条).
pub async fn revoke_credential(
    app: &App,
    who: &CaAdmin,
    account_id: &str,
    reason: RevocationReason,
    comment: &str,
) -> Result<String, AppError> {
    check_text("理由の説明（--comment）", comment, 200)?;
    let now = app.now();
    let mut tx = app.store.begin().await?;
    let r = retire(&mut tx, account_id, reason, comment.trim(), who.name(), now).await;
    crate::finish(tx, r).await
}

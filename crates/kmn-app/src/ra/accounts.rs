//! Accounts: client certificates mapped to roles (`kmn account add|list|disable`), for real
//! deployments without the demo seed.

use kmn_store::{AccountRow, NewAuditEvent};

use crate::actor::Role;
use crate::rights::Center;
use crate::{App, AppError};

/// A new account.
#[derive(Clone, Debug)]
pub struct NewAccount {
    /// Role.
    pub role: Role,
    /// Name shown to people.
    pub display_name: String,
    /// The certificate (DER) the account logs in with.
    pub cert_der: Vec<u8>,
    /// For desks: the facility.
    pub facility_code: Option<String>,
    /// For desks: the member's holder id.
    pub holder_id: Option<String>,
    /// The person who holds the account (`--person`): the same for every account of one
    /// person. A desk's person is its holder id; without one, the account is its own.
    pub person_id: Option<String>,
}

/// Adds an account (support-center staff only).
pub async fn add(
    app: &App,
    who: &Center,
    a: NewAccount,
) -> Result<crate::views::Account, AppError> {
    let r: Result<AccountRow, AppError> = async {
        let actor = who.actor();
        let parsed = kmn_pki::parse::cert(&a.cert_der)
            .map_err(|e| AppError::BadInput(format!("証明書を読み取れません: {e}")))?;
        if a.role == Role::FacilityDesk && a.facility_code.is_none() {
            return Err(AppError::BadInput(
                "窓口アカウントには施設コード（--facility）が必要です".into(),
            ));
        }
        if a.role != Role::FacilityDesk && a.facility_code.is_some() {
            return Err(AppError::BadInput(
                "施設コードは窓口アカウントにのみ指定できます".into(),
            ));
        }
        if let Some(p) = &a.person_id
            && (p.trim().is_empty()
                || p.chars().count() > 64
                || p.chars().any(|c| c.is_control() || c.is_whitespace()))
        {
            return Err(AppError::BadInput(
                "人の識別子（--person）は空白を含まない64文字以内で指定してください".into(),
            ));
        }
        if let (Some(p), Some(h)) = (&a.person_id, &a.holder_id)
            && p != h
        {
            return Err(AppError::BadInput(
                "窓口アカウントの人の識別子は利用者ID（--holder）です".into(),
            ));
        }
        let fp = kmn_pki::cert::fingerprint_sha256(&a.cert_der);
        let now = app.now();
        let mut tx = app.store.begin().await?;
        let r = async {
            if tx.cert_status_by_fingerprint(&fp).await?.is_none() {
                return Err(AppError::BadInput(
                    "この証明書は本認証局が発行したものではありません".into(),
                ));
            }
            if let Some(code) = &a.facility_code {
                if tx.facility(code).await?.is_none() {
                    return Err(AppError::NotFound(format!(
                        "施設 {code} は登録されていません"
                    )));
                }
                if let Some(h) = &a.holder_id {
                    let aff = tx.affiliations(h).await?;
                    if !aff.iter().any(|x| &x.facility_code == code) {
                        return Err(AppError::BadInput(format!(
                            "{h} は施設 {code} に所属していません"
                        )));
                    }
                }
            }
            let n = tx.next_counter("account").await?;
            let id = format!("U{n:06}");
            let person_id = a
                .person_id
                .clone()
                .or_else(|| a.holder_id.clone())
                .unwrap_or_else(|| id.clone());
            let row = AccountRow {
                id,
                person_id: Some(person_id),
                role: a.role.as_str().into(),
                display_name: a.display_name.clone(),
                cert_issuer: parsed.tbs.issuer_text(),
                cert_fingerprint: fp.clone(),
                facility_code: a.facility_code.clone(),
                holder_id: a.holder_id.clone(),
                disabled: 0,
                created_at: now,
                created_by: actor.account_id.clone(),
            };
            tx.insert_account(&row).await.map_err(|e| match e {
                kmn_store::StoreError::Conflict(_) => {
                    AppError::Conflict("この証明書のアカウントは既に登録されています".into())
                }
                other => other.into(),
            })?;
            tx.append_audit(&NewAuditEvent {
                at: now,
                actor: &actor.account_id,
                action: "account.add",
                object: &format!("account:{}", row.id),
                facility: row.facility_code.as_deref(),
                summary: &format!(
                    "account {} ({}) for '{}' (person {}) with certificate SHA-256 {fp}",
                    row.id,
                    row.role,
                    row.display_name,
                    row.person_id.as_deref().unwrap_or_default()
                ),
            })
            .await?;
            Ok(row)
        }
        .await;
        crate::finish(tx, r).await
    }
    .await;
    r.map(Into::into)
}

/// Disables an account.
pub async fn disable(app: &App, who: &Center, id: &str) -> Result<(), AppError> {
    let actor = who.actor();
    let now = app.now();
    let mut tx = app.store.begin().await?;
    match tx.disable_account(id).await {
        Ok(()) => {}
        Err(kmn_store::StoreError::NotFound(_)) => {
            let _ = tx.rollback().await;
            return Err(AppError::NotFound(format!(
                "有効なアカウント {id} はありません"
            )));
        }
        Err(e) => return Err(e.into()),
    }
    tx.append_audit(&NewAuditEvent {
        at: now,
        actor: &actor.account_id,
        action: "account.disable",
        object: &format!("account:{id}"),
        facility: None,
        summary: &format!("account {id} disabled"),
    })
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Every account (support-center staff only).
pub async fn list(app: &App, _right: &Center) -> Result<Vec<crate::views::Account>, AppError> {
    let r: Result<Vec<AccountRow>, AppError> = async {
        let mut tx = app.store.read().await?;
        let v = tx.list_accounts().await;
        tx.rollback().await?;
        Ok(v?)
    }
    .await;
    r.map(|v| v.into_iter().map(Into::into).collect())
}

/// The certificate (DER) of the card `holder` uses at `facility`, for a desk account
/// that logs in with it (support-center staff only).
pub async fn card_certificate(
    app: &App,
    _right: &Center,
    holder: &str,
    facility: &str,
) -> Result<Vec<u8>, AppError> {
    let mut tx = app.store.read().await?;
    let r = async {
        let cards = tx.live_cards(holder, facility).await?;
        let serial = cards
            .iter()
            .find(|c| c.state == "active")
            .and_then(|c| c.cert_serial_hex.clone());
        Ok::<_, AppError>(match serial {
            Some(s) => tx.certificate(&s).await?,
            None => None,
        })
    }
    .await;
    tx.rollback().await?;
    r?.map(|c| c.der).ok_or_else(|| {
        AppError::NotFound(format!(
            "{holder} の施設 {facility} での利用中のカードがありません"
        ))
    })
}

//! Accounts: client certificates mapped to roles (`kmn account add|list|disable`), for real
//! deployments without the demo seed.

use kmn_store::{AccountRow, NewAuditEvent};

use kmn_domain::ProfileKind;

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
        // Support-center staff hold their operator certificate on a token (MHLW G2:
        // possession and knowledge): `kmn account enrol` makes the token and the account
        // together. A certificate from a CSR — a key in a file — is for the demo only.
        if credential_profile(a.role) == ProfileKind::Operator && !app.cfg.demo {
            return Err(AppError::Rule(format!(
                "{}のアカウントは、ICカード（トークン）上で鍵を生成した担当者証明書でのみ作成できます。`kmn account enrol --role {} --module …` でトークンを発行してください（ファイルの鍵による証明書はデモ環境 demo = true でのみ使えます）",
                a.role.label_ja(),
                a.role.as_str()
            )));
        }
        let fp = kmn_pki::cert::fingerprint_sha256(&a.cert_der);
        let now = app.now();
        let mut tx = app.store.begin().await?;
        let r = async {
            // The certificate must fit the role (issue 9 item 3); a desk's holder is the
            // card's.
            let holder_id = check_credential(&mut tx, &a, &fp, now).await?;
            if let (Some(p), Some(h)) = (&a.person_id, &holder_id)
                && p != h
            {
                return Err(AppError::BadInput(
                    "窓口アカウントの人の識別子は利用者ID（--holder）です".into(),
                ));
            }
            let n = tx.next_counter("account").await?;
            let id = format!("U{n:06}");
            let person_id = a
                .person_id
                .clone()
                .or_else(|| holder_id.clone())
                .unwrap_or_else(|| id.clone());
            let row = AccountRow {
                id,
                person_id: Some(person_id),
                role: a.role.as_str().into(),
                display_name: a.display_name.clone(),
                cert_issuer: parsed.tbs.issuer_text(),
                cert_fingerprint: fp.clone(),
                facility_code: a.facility_code.clone(),
                holder_id,
                disabled: 0,
                created_at: now,
                created_by: actor.account_id.clone(),
                token_serial: None,
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

/// The certificate profile an account of `role` logs in with (issue 9 item 3, MHLW
/// guideline G2: possession and knowledge): center staff and auditors with an operator
/// certificate, a desk with the desk member's own card, a station with a station
/// certificate.
pub fn credential_profile(role: Role) -> ProfileKind {
    match role {
        Role::Operator | Role::Supervisor | Role::Auditor => ProfileKind::Operator,
        Role::FacilityDesk => ProfileKind::UserCard,
        Role::Station => ProfileKind::Station,
    }
}

/// Checks that the certificate fits the account: issued by this CA, neither revoked nor
/// expired, of the role's profile; for a desk, the user card of a member of that
/// facility's desk staff (第17条). Returns the desk member's holder id.
async fn check_credential(
    tx: &mut kmn_store::Tx,
    a: &NewAccount,
    fp: &str,
    now: i64,
) -> Result<Option<String>, AppError> {
    let Some((serial, status, not_after)) = tx.cert_status_by_fingerprint(fp).await? else {
        return Err(AppError::BadInput(
            "この証明書は本認証局が発行したものではありません".into(),
        ));
    };
    if status == "revoked" {
        return Err(AppError::BadInput(format!(
            "証明書（シリアル {serial}）は失効しているため、アカウントに登録できません"
        )));
    }
    if not_after < now {
        return Err(AppError::BadInput(format!(
            "証明書（シリアル {serial}）は有効期限が切れているため、アカウントに登録できません"
        )));
    }
    let cert = tx
        .certificate(&serial)
        .await?
        .ok_or_else(|| AppError::Internal(format!("certificate {serial} has no record")))?;
    let want = credential_profile(a.role);
    if cert.profile != want.as_str() {
        let have = cert
            .profile
            .parse::<ProfileKind>()
            .map(ProfileKind::label_ja)
            .unwrap_or("不明な種類");
        return Err(AppError::BadInput(format!(
            "{}のアカウントには{}の証明書が必要です（指定された証明書は{}の証明書です）",
            a.role.label_ja(),
            want.label_ja(),
            have
        )));
    }
    let Some(code) = &a.facility_code else {
        return Ok(None);
    };
    if tx.facility(code).await?.is_none() {
        return Err(AppError::NotFound(format!(
            "施設 {code} は登録されていません"
        )));
    }
    // A desk logs in with the member's own card: the card that holds this certificate.
    let card = tx.card_by_cert_serial(&serial).await?.ok_or_else(|| {
        AppError::BadInput(format!(
            "証明書（シリアル {serial}）はどの利用者カードにも登録されていません。窓口担当者ご本人の利用者カードの証明書を指定してください"
        ))
    })?;
    if &card.facility_code != code {
        return Err(AppError::BadInput(format!(
            "この利用者カード（{}）は施設 {} のカードです。施設 {code} の窓口アカウントには使えません",
            card.id, card.facility_code
        )));
    }
    if let Some(h) = &a.holder_id
        && h != &card.holder_id
    {
        return Err(AppError::BadInput(format!(
            "この利用者カード（{}）は {} のカードです（指定された利用者: {h}）",
            card.id, card.holder_id
        )));
    }
    let aff = tx.affiliations(&card.holder_id).await?;
    let is_desk = aff
        .iter()
        .any(|x| &x.facility_code == code && x.is_desk != 0 && x.permitted != 0);
    if !is_desk {
        return Err(AppError::BadInput(format!(
            "{} は施設 {code} の窓口担当者として登録されていません（第17条）。利用者情報で窓口担当者に指定してから登録してください",
            card.holder_id
        )));
    }
    Ok(Some(card.holder_id))
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

/// Where an account's private key lives, as far as the CA knows it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum KeyLocation {
    /// Generated on a card or token at personalization (its serial as read then).
    Token {
        /// The token's serial number.
        token_serial: String,
    },
    /// Issued from a CSR: the key is wherever the requester made it (a software key
    /// file in the demo's credentials); the CA never saw it.
    Csr,
}

impl KeyLocation {
    /// The words people read.
    pub fn label_ja(&self) -> String {
        match self {
            Self::Token { token_serial } => {
                format!("ICカード・トークン（シリアル {token_serial}）")
            }
            Self::Csr => {
                "CSR から発行（鍵は申請者の手元。トークン上とは確認されていません）".into()
            }
        }
    }
}

/// An account with the certificate it logs in with (`kmn account list`, issue 9 item 3).
#[derive(Clone, Debug, serde::Serialize)]
pub struct AccountCredentials {
    /// The account.
    #[serde(flatten)]
    pub account: crate::views::Account,
    /// The certificate's serial (hex), when the certificate is on record.
    pub cert_serial_hex: Option<String>,
    /// Its profile (`operator`, `user-card`, `station`).
    pub cert_profile: Option<String>,
    /// valid, on_hold or revoked.
    pub cert_status: Option<String>,
    /// notAfter, Unix seconds.
    pub cert_not_after: Option<i64>,
    /// Where the key lives.
    pub key_location: Option<KeyLocation>,
}

/// Every account with its certificate, its expiry and where its key lives (support-center
/// staff only).
pub async fn list_with_credentials(
    app: &App,
    _right: &Center,
) -> Result<Vec<AccountCredentials>, AppError> {
    let mut tx = app.store.read().await?;
    let r = async {
        let mut out = Vec::new();
        for account in tx.list_accounts().await? {
            let status = tx
                .cert_status_by_fingerprint(&account.cert_fingerprint)
                .await?;
            let (mut serial, mut profile, mut st, mut not_after, mut key) =
                (None, None, None, None, None);
            if let Some((s, status, na)) = status {
                let cert = tx.certificate(&s).await?;
                let card = tx.card_by_cert_serial(&s).await?;
                key = Some(
                    match card
                        .and_then(|c| c.token_serial)
                        .or(account.token_serial.clone())
                    {
                        Some(token_serial) => KeyLocation::Token { token_serial },
                        None => KeyLocation::Csr,
                    },
                );
                profile = cert.map(|c| c.profile);
                serial = Some(s);
                st = Some(status);
                not_after = Some(na);
            }
            out.push(AccountCredentials {
                account: account.into(),
                cert_serial_hex: serial,
                cert_profile: profile,
                cert_status: st,
                cert_not_after: not_after,
                key_location: key,
            });
        }
        Ok(out)
    }
    .await;
    let _ = tx.rollback().await;
    r
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
/// that logs in with it (support-center staff only): a card handed over to the holder
/// (in use from then on) or active.
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
            .find(|c| c.state == "active" || c.state == "handed_over")
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

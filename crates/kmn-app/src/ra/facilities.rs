//! Facilities (利用施設) and their consents (第1条5–7, 第2条2).

use kmn_domain::{
    FacilityCode, FacilityKind, FacilityStatus, KanaName, KanjiName, RomajiName, WorkEmail,
};
use kmn_store::{ConsentRow, FacilityRow, NewAuditEvent};

use crate::error::FieldError;
use crate::idempotency::{Idempotency, finish_once};
use crate::rights::{Center, Reader, Registrar};
use crate::{App, AppError};

/// Input for registering a facility (strings as entered; validated here).
#[derive(Clone, Debug, Default)]
pub struct FacilityInput {
    pub code: String,
    pub kind: String,
    pub name_kanji: String,
    pub name_kana: String,
    pub name_romaji: String,
    pub postal_code: String,
    pub address: String,
    pub phone: String,
    pub email: String,
}

fn check<T, E: std::fmt::Display>(
    errs: &mut Vec<FieldError>,
    field: &str,
    r: Result<T, E>,
) -> Option<T> {
    match r {
        Ok(v) => Some(v),
        Err(e) => {
            errs.push(FieldError::new(field, e.to_string()));
            None
        }
    }
}

/// Validates a facility input into a row.
pub(crate) fn validate(i: &FacilityInput, now: i64) -> Result<FacilityRow, AppError> {
    let mut errs = Vec::new();
    let code = check(&mut errs, "code", FacilityCode::parse(&i.code));
    let kind = check(&mut errs, "kind", i.kind.parse::<FacilityKind>());
    if let (Some(c), Some(k)) = (&code, kind)
        && let Err(e) = k.check_code(c)
    {
        errs.push(FieldError::new("code", e.to_string()));
    }
    let kanji = check(&mut errs, "name_kanji", KanjiName::parse(&i.name_kanji));
    let kana = check(&mut errs, "name_kana", KanaName::parse(&i.name_kana));
    let romaji = check(&mut errs, "name_romaji", RomajiName::parse(&i.name_romaji));
    let email = check(&mut errs, "email", WorkEmail::parse(&i.email));
    // Stored as seven digits, shown as 〒860-0806 (`kmn_domain::postal_code_ja`).
    let postal: String = i
        .postal_code
        .chars()
        .map(|c| match c {
            '０'..='９' => char::from_u32(c as u32 - '０' as u32 + '0' as u32).unwrap_or(c),
            c => c,
        })
        .filter(|c| c.is_ascii_digit())
        .collect();
    if postal.len() != 7 {
        errs.push(FieldError::new(
            "postal_code",
            "郵便番号は7桁の数字で入力してください（例: 860-0806）",
        ));
    }
    if i.address.trim().is_empty() || i.address.chars().count() > 200 {
        errs.push(FieldError::new(
            "address",
            "住所を200文字以内で入力してください",
        ));
    }
    let phone = kmn_domain::normalize_phone(&i.phone)
        .map_err(|m| errs.push(FieldError::new("phone", m)))
        .unwrap_or_default();
    if !errs.is_empty() {
        return Err(AppError::Validation(errs));
    }
    Ok(FacilityRow {
        code: code.expect("checked").as_str().to_string(),
        name_kanji: kanji.expect("checked").as_str().to_string(),
        name_kana: kana.expect("checked").as_str().to_string(),
        name_romaji: romaji.expect("checked").as_str().to_string(),
        kind: kind.expect("checked").as_str().to_string(),
        postal_code: postal,
        address: i.address.trim().to_string(),
        phone,
        email: email.expect("checked").as_str().to_string(),
        status: FacilityStatus::Active.as_str().to_string(),
        created_at: now,
        updated_at: now,
        version: 1,
    })
}

/// Registers a facility (support center).
pub async fn register(
    app: &App,
    who: &Center,
    i: &FacilityInput,
) -> Result<crate::views::Facility, AppError> {
    register_once(app, who, i, None).await
}

/// [`register`], recording an `Idempotency-Key` in the same transaction.
pub async fn register_once(
    app: &App,
    who: &Center,
    i: &FacilityInput,
    idem: Option<&Idempotency<'_, crate::views::Facility>>,
) -> Result<crate::views::Facility, AppError> {
    let actor = who.actor();
    let now = app.now();
    let row = validate(i, now)?;
    let mut tx = app.store.begin().await?;
    let r = async {
        tx.insert_facility(&row).await.map_err(|e| match e {
            kmn_store::StoreError::Conflict(_) => AppError::Validation(vec![FieldError::new(
                "code",
                format!("施設コード {} は既に登録されています", row.code),
            )]),
            other => other.into(),
        })?;
        tx.append_audit(&NewAuditEvent {
            at: now,
            actor: &actor.account_id,
            action: "facility.register",
            object: &format!("facility:{}", row.code),
            facility: Some(&row.code),
            summary: &format!(
                "registered facility {} {} ({})",
                row.code, row.name_romaji, row.kind
            ),
        })
        .await?;
        Ok::<_, AppError>(row.clone())
    }
    .await;
    finish_once(tx, actor, r.map(Into::into), idem, now).await
}

/// A facility, for those who may read it.
pub async fn get(app: &App, who: &Reader, code: &str) -> Result<crate::views::Facility, AppError> {
    let r: Result<FacilityRow, AppError> = async {
        who.require(code)?;
        let mut tx = app.store.begin().await?;
        let f = tx.facility(code).await?;
        tx.rollback().await?;
        f.ok_or_else(|| AppError::NotFound(format!("施設 {code} は登録されていません")))
    }
    .await;
    r.map(Into::into)
}

/// Facilities visible to the actor.
pub async fn list(
    app: &App,
    who: &Reader,
    after: Option<&str>,
    limit: i64,
) -> Result<Vec<crate::views::Facility>, AppError> {
    let r: Result<Vec<FacilityRow>, AppError> = async {
        let scope = who.listing(None)?;
        let mut tx = app.store.begin().await?;
        let v = tx.list_facilities(scope.as_deref(), after, limit).await?;
        tx.rollback().await?;
        Ok(v)
    }
    .await;
    r.map(|v| v.into_iter().map(Into::into).collect())
}

/// Records a facility's consent to a published document version (第2条2, 第1条7):
/// the desk of that facility, or the center recording a consent given on paper.
pub async fn consent(
    app: &App,
    who: &Registrar,
    code: &str,
    kind: &str,
    version: &str,
    given_by: &str,
) -> Result<crate::views::Consent, AppError> {
    consent_once(app, who, code, kind, version, given_by, None).await
}

/// [`consent`], recording an `Idempotency-Key` in the same transaction.
pub async fn consent_once(
    app: &App,
    who: &Registrar,
    code: &str,
    kind: &str,
    version: &str,
    given_by: &str,
    idem: Option<&Idempotency<'_, crate::views::Consent>>,
) -> Result<crate::views::Consent, AppError> {
    let actor = who.actor();
    who.require(code)?;
    let now = app.now();
    let mut errs = Vec::new();
    if !["cps", "terms", "privacy_policy"].contains(&kind) {
        errs.push(FieldError::new(
            "kind",
            "同意する文書は cps, terms, privacy_policy のいずれかです",
        ));
    }
    if given_by.trim().is_empty() || given_by.chars().count() > 64 {
        errs.push(FieldError::new(
            "given_by",
            "同意した方の氏名を64文字以内で入力してください",
        ));
    }
    if !errs.is_empty() {
        return Err(AppError::Validation(errs));
    }
    let mut tx = app.store.begin().await?;
    let r = async {
        if tx.facility(code).await?.is_none() {
            return Err(AppError::NotFound(format!(
                "施設 {code} は登録されていません"
            )));
        }
        if tx.published_document(kind, version).await?.is_none() {
            return Err(AppError::Validation(vec![FieldError::new(
                "version",
                format!(
                    "{} 第{version}版は公開されていません",
                    super::documents::kind_label(kind)
                ),
            )]));
        }
        let row = ConsentRow {
            facility_code: code.into(),
            kind: kind.into(),
            version: version.into(),
            given_by: given_by.trim().into(),
            given_at: now,
            recorded_by: actor.account_id.clone(),
        };
        tx.insert_consent(&row).await.map_err(|e| match e {
            kmn_store::StoreError::Conflict(_) => AppError::Conflict(format!(
                "{} 第{version}版への同意は既に記録されています",
                super::documents::kind_label(kind)
            )),
            other => other.into(),
        })?;
        tx.append_audit(&NewAuditEvent {
            at: now,
            actor: &actor.account_id,
            action: "facility.consent",
            object: &format!("facility:{code}"),
            facility: Some(code),
            summary: &format!(
                "consent to {kind} {version} given by {} recorded",
                row.given_by
            ),
        })
        .await?;
        Ok(row)
    }
    .await;
    finish_once(tx, actor, r.map(Into::into), idem, now).await
}

/// Whether a facility may apply now: active and consented to the current CPS and terms
/// and to the use of personal data (第2条2, 第1条7). The error names what is missing.
pub(crate) async fn check_may_apply(
    tx: &mut kmn_store::Tx,
    code: &str,
) -> Result<FacilityRow, AppError> {
    let f = tx
        .facility(code)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("施設 {code} は登録されていません")))?;
    let status: FacilityStatus = f
        .status
        .parse()
        .map_err(|e: kmn_domain::UnknownCode| AppError::Internal(e.to_string()))?;
    if !status.can_apply() {
        return Err(AppError::Rule(format!(
            "施設 {code} は現在「{}」のため申請できません",
            status.label_ja()
        )));
    }
    let cps = tx.current_document("cps").await?;
    let terms = tx.current_document("terms").await?;
    let (Some(cps), Some(terms)) = (cps, terms) else {
        return Err(AppError::Rule("CPS と利用規約が公開されていないため、申請を受け付けられません（管理者は kmn document publish で公開してください）".into()));
    };
    let consents: Vec<kmn_domain::Consent> = tx
        .consents(code)
        .await?
        .into_iter()
        .filter_map(|c| {
            Some(kmn_domain::Consent {
                kind: c.kind.parse().ok()?,
                version: c.version,
                by: c.given_by,
                at: time::OffsetDateTime::from_unix_timestamp(c.given_at).ok()?,
            })
        })
        .collect();
    kmn_domain::consent_is_current(&consents, &cps.version, &terms.version)
        .map_err(|e| AppError::Rule(e.to_string()))?;
    Ok(f)
}

/// A facility's recorded consents (第2条2), for those who may read it.
pub async fn consents(
    app: &App,
    who: &Reader,
    code: &str,
) -> Result<Vec<crate::views::Consent>, AppError> {
    let r: Result<Vec<ConsentRow>, AppError> = async {
        who.require(code)?;
        let mut tx = app.store.read().await?;
        let v = tx.consents(code).await;
        tx.rollback().await?;
        Ok(v?)
    }
    .await;
    r.map(|v| v.into_iter().map(Into::into).collect())
}

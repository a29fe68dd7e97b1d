//! People (利用者) and their affiliations (第3条2, 第4条1, 第17条, 第18条). Every read of
//! personal data is written to the access log (MHLW guideline G1).

use kmn_domain::{DateOfBirth, HolderId, KanaName, KanjiName, Profession, RomajiName, WorkEmail};
use kmn_store::{AffiliationRow, NewAuditEvent, PersonRow};

use crate::error::FieldError;
use crate::idempotency::{Idempotency, finish_once};
use crate::rights::{Reader, Registrar};
use crate::{App, AppError};

/// Input for registering a person at a facility.
#[derive(Clone, Debug, Default)]
pub struct PersonInput {
    pub facility_code: String,
    pub name_kanji: String,
    pub name_kana: String,
    pub name_romaji: String,
    pub date_of_birth: String,
    pub profession: String,
    pub work_email: String,
    /// Permitted to use the network (第4条1).
    pub permitted: bool,
    /// A member of the facility desk (第17条).
    pub is_desk: bool,
    /// The national qualification was checked against a licence document (center only).
    pub licence_checked: bool,
}

fn push<T, E: std::fmt::Display>(
    errs: &mut Vec<FieldError>,
    field: &str,
    r: Result<T, E>,
) -> Option<T> {
    r.map_err(|e| errs.push(FieldError::new(field, e.to_string())))
        .ok()
}

/// Registers a person and the affiliation to the facility (desk of that facility or center).
pub async fn register(
    app: &App,
    who: &Registrar,
    i: &PersonInput,
) -> Result<(crate::views::Person, crate::views::Affiliation), AppError> {
    register_once(app, who, i, None).await
}

/// [`register`], recording an `Idempotency-Key` in the same transaction.
pub async fn register_once(
    app: &App,
    who: &Registrar,
    i: &PersonInput,
    idem: Option<&Idempotency<'_, (crate::views::Person, crate::views::Affiliation)>>,
) -> Result<(crate::views::Person, crate::views::Affiliation), AppError> {
    let actor = who.actor();
    who.require(&i.facility_code)?;
    let now_t = app.clock.now();
    let now = now_t.unix_timestamp();
    let mut errs = Vec::new();
    let kanji = push(&mut errs, "name_kanji", KanjiName::parse(&i.name_kanji));
    let kana = push(&mut errs, "name_kana", KanaName::parse(&i.name_kana));
    let romaji = push(&mut errs, "name_romaji", RomajiName::parse(&i.name_romaji));
    let dob = push(
        &mut errs,
        "date_of_birth",
        DateOfBirth::parse(&i.date_of_birth, now_t.date()),
    );
    let prof = push(
        &mut errs,
        "profession",
        Profession::from_code(&i.profession),
    );
    let email = push(&mut errs, "work_email", WorkEmail::parse(&i.work_email));
    if i.licence_checked && !who.is_center() {
        errs.push(FieldError::new(
            "licence_checked",
            "資格の確認（免許証の照合）はサポートセンターのみ記録できます",
        ));
    }
    if !errs.is_empty() {
        return Err(AppError::Validation(errs));
    }
    let mut tx = app.store.begin().await?;
    let r = async {
        if tx.facility(&i.facility_code).await?.is_none() {
            return Err(AppError::NotFound(format!(
                "施設 {} は登録されていません",
                i.facility_code
            )));
        }
        let n = tx.next_counter("holder").await?;
        let holder =
            HolderId::from_sequence(n as u64).map_err(|e| AppError::Internal(e.to_string()))?;
        let p = PersonRow {
            holder_id: holder.as_str().to_string(),
            name_kanji: kanji.expect("checked").as_str().into(),
            name_kana: kana.expect("checked").as_str().into(),
            name_romaji: romaji.expect("checked").as_str().into(),
            date_of_birth: dob.expect("checked").to_string(),
            profession: prof.expect("checked").as_str().into(),
            licence_checked: i64::from(i.licence_checked),
            work_email: email.expect("checked").as_str().into(),
            created_at: now,
            updated_at: now,
            version: 1,
        };
        tx.insert_person(&p).await?;
        let a = AffiliationRow {
            holder_id: p.holder_id.clone(),
            facility_code: i.facility_code.clone(),
            permitted: i64::from(i.permitted),
            is_desk: i64::from(i.is_desk),
            since: now,
        };
        tx.insert_affiliation(&a).await?;
        tx.append_audit(&NewAuditEvent {
            at: now,
            actor: &actor.account_id,
            action: "person.register",
            object: &format!("person:{}", p.holder_id),
            facility: Some(&i.facility_code),
            summary: &format!(
                "registered holder {} ({}) at {}",
                p.holder_id, p.profession, i.facility_code
            ),
        })
        .await?;
        Ok((p, a))
    }
    .await;
    finish_once(tx, actor, r.map(|(p, a)| (p.into(), a.into())), idem, now).await
}

/// A person with affiliations; the read is logged. Rights first: a station is refused
/// whatever id it names; a desk sees only people affiliated to its own facility, and
/// only that affiliation — a person of another facility is answered exactly like an
/// absent one.
pub async fn get(
    app: &App,
    who: &Reader,
    holder_id: &str,
) -> Result<(crate::views::Person, Vec<crate::views::Affiliation>), AppError> {
    let r: Result<(PersonRow, Vec<AffiliationRow>), AppError> = async {
        let actor = who.actor();
        let scope = who.scope().clone();
        let mut tx = app.store.begin().await?;
        let r = async {
            let not_found =
                || AppError::NotFound(format!("利用者 {holder_id} は登録されていません"));
            let p = tx.person(holder_id).await?.ok_or_else(not_found)?;
            let affs: Vec<AffiliationRow> = tx
                .affiliations(holder_id)
                .await?
                .into_iter()
                .filter(|a| scope.admits(&a.facility_code))
                .collect();
            if scope.facility().is_some() && affs.is_empty() {
                return Err(not_found());
            }
            tx.log_access(
                app.now(),
                &actor.account_id,
                actor.role.as_str(),
                "read",
                &format!("person:{holder_id}"),
                affs.first().map(|a| a.facility_code.as_str()),
            )
            .await?;
            Ok((p, affs))
        }
        .await;
        super::finish(tx, r).await
    }
    .await;
    r.map(|(p, a)| (p.into(), a.into_iter().map(Into::into).collect()))
}

/// People of a facility; the read is logged.
pub async fn list(
    app: &App,
    who: &Reader,
    facility: &str,
    after: Option<&str>,
    limit: i64,
) -> Result<Vec<crate::views::Person>, AppError> {
    let r: Result<Vec<PersonRow>, AppError> = async {
        let actor = who.actor();
        who.require(facility)?;
        let mut tx = app.store.begin().await?;
        let r = async {
            let v = tx.persons_of_facility(facility, after, limit).await?;
            tx.log_access(
                app.now(),
                &actor.account_id,
                actor.role.as_str(),
                "list",
                &format!("persons:{facility}"),
                Some(facility),
            )
            .await?;
            Ok(v)
        }
        .await;
        super::finish(tx, r).await
    }
    .await;
    r.map(|v| v.into_iter().map(Into::into).collect())
}

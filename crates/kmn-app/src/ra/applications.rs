//! Applications (利用申請) and their review (第4–8・10・13・14条): drafted and filed by the
//! facility desk, reviewed by the support center — approved, rejected, or returned with
//! deficiencies that the facility corrects and resubmits (every round kept) — and
//! fulfilled. Each step is one transaction: compare-and-set on state and version, the
//! review round, the domain's effects, notices (inbox + mail outbox) and the audit event.

use kmn_domain::{
    Affiliation, ApplicationAction, ApplicationEffect, ApplicationKind, ApplicationState,
    CardEvent, CardState, Deficiency, FacilityCode, PersonFacts, Profession, RevocationReason,
    ValidityPeriod,
};
use kmn_store::{
    ApplicationFilter, ApplicationRow, CardRow, DocumentRow, IssuanceState, NewAuditEvent,
    RoundRow, Tx,
};
use sha2::Digest;

use crate::actor::{Actor, Scope};
use crate::error::FieldError;
use crate::idempotency::{Idempotency, finish_once};
use crate::rights::{Capability, Center, Reader, Registrar, Station};
use crate::{App, AppError};

/// Input for a new application.
#[derive(Clone, Debug, Default)]
pub struct ApplicationInput {
    pub facility_code: String,
    pub holder_id: String,
    /// `new`, `renewal`, `reissue`, `discontinuation`, `loss_report`, `info_change`.
    pub kind: String,
    /// For reissue: lost, damaged, facility_renamed, holder_renamed, defective; for
    /// discontinuation: left_facility, stopped_using.
    pub detail: Option<String>,
    /// 3 or 5 for kinds that issue a card (第10条).
    pub validity_years: Option<i64>,
    /// The existing card a renewal, reissue, discontinuation or loss report is about.
    pub target_card_id: Option<String>,
}

fn state_of(a: &ApplicationRow) -> Result<ApplicationState, AppError> {
    a.state
        .parse()
        .map_err(|e: kmn_domain::UnknownCode| AppError::Internal(e.to_string()))
}

fn kind_of(a: &ApplicationRow) -> Result<ApplicationKind, AppError> {
    ApplicationKind::from_codes(&a.kind, a.kind_detail.as_deref())
        .map_err(|e| AppError::Internal(e.to_string()))
}

/// The person's facts for the eligibility rules (第4条).
async fn person_facts(tx: &mut Tx, holder_id: &str) -> Result<PersonFacts, AppError> {
    let p = tx.person(holder_id).await?.ok_or_else(|| {
        AppError::Validation(vec![FieldError::new(
            "holder_id",
            format!("利用者 {holder_id} は登録されていません"),
        )])
    })?;
    let profession =
        Profession::from_code(&p.profession).map_err(|e| AppError::Internal(e.to_string()))?;
    let affiliations = tx
        .affiliations(holder_id)
        .await?
        .into_iter()
        .filter_map(|a| {
            Some(Affiliation {
                facility: FacilityCode::parse(&a.facility_code).ok()?,
                permitted_to_use_network: a.permitted != 0,
            })
        })
        .collect();
    Ok(PersonFacts {
        profession,
        affiliations,
    })
}

/// Checks eligibility for a card-issuing kind (第4条1・2).
async fn check_eligibility(
    tx: &mut Tx,
    a: &ApplicationRow,
    kind: ApplicationKind,
) -> Result<(), AppError> {
    if !kind.issues_card() {
        return Ok(());
    }
    let facts = person_facts(tx, &a.holder_id).await?;
    let code =
        FacilityCode::parse(&a.facility_code).map_err(|e| AppError::Internal(e.to_string()))?;
    let live = tx.live_cards(&a.holder_id, &a.facility_code).await?;
    let overlap = matches!(
        kind,
        ApplicationKind::Renewal | ApplicationKind::Reissue { .. }
    );
    kmn_domain::check_new_card(&facts, &code, live.len(), overlap)
        .map_err(|e| AppError::Rule(e.to_string()))
}

/// Creates a draft (the facility's desk, or the center on its behalf).
pub async fn create(
    app: &App,
    who: &Registrar,
    i: &ApplicationInput,
) -> Result<crate::views::Application, AppError> {
    create_once(app, who, i, None).await
}

/// [`create`], recording an `Idempotency-Key` in the same transaction. Rights first
/// (the facility in the body), then existence (the holder and the card named, where a
/// desk gets one answer for absent and foreign), then validation of the other fields.
pub async fn create_once(
    app: &App,
    who: &Registrar,
    i: &ApplicationInput,
    idem: Option<&Idempotency<'_, crate::views::Application>>,
) -> Result<crate::views::Application, AppError> {
    create_inner(app, who, i, None, idem).await
}

/// [`create`] with the scanned form attached in the same transaction: the paper
/// application received by post (entered by the center) or a desk's application with
/// its form. Either both are recorded or nothing is; an unacceptable file is a field
/// error (`document`) beside the others.
pub async fn create_with_document(
    app: &App,
    who: &Registrar,
    i: &ApplicationInput,
    file_name: &str,
    bytes: &[u8],
) -> Result<(crate::views::Application, crate::views::Document), AppError> {
    let a = create_inner(app, who, i, Some((file_name, bytes)), None).await?;
    let d = app
        .store
        .begin()
        .await?
        .documents(&a.id)
        .await?
        .into_iter()
        .next()
        .ok_or_else(|| AppError::Internal("document just attached".into()))?;
    Ok((a, d.into()))
}

async fn create_inner(
    app: &App,
    who: &Registrar,
    i: &ApplicationInput,
    doc: Option<(&str, &[u8])>,
    idem: Option<&Idempotency<'_, crate::views::Application>>,
) -> Result<crate::views::Application, AppError> {
    let actor = who.actor();
    let scope = who.scope().clone();
    who.require(&i.facility_code)?;
    let now = app.now();
    let mut errs = Vec::new();
    if let Some((file_name, bytes)) = doc
        && let Err(e) = kmn_domain::check_document(
            file_name,
            bytes.len() as u64,
            bytes.get(..bytes.len().min(8)).unwrap_or_default(),
        )
    {
        errs.push(FieldError::new("document", e.to_string()));
    }
    let kind = match ApplicationKind::from_codes(&i.kind, i.detail.as_deref()) {
        Ok(k) => Some(k),
        Err(e) => {
            errs.push(FieldError::new(
                if i.detail.is_some() { "detail" } else { "kind" },
                e.to_string(),
            ));
            None
        }
    };
    let mut validity = None;
    if let Some(k) = kind {
        if k.issues_card() {
            match i
                .validity_years
                .map(|y| y.to_string().parse::<ValidityPeriod>())
            {
                Some(Ok(v)) => validity = Some(v),
                Some(Err(_)) => errs.push(FieldError::new(
                    "validity_years",
                    "有効期間は3年または5年です（利用規約第10条）",
                )),
                None => errs.push(FieldError::new(
                    "validity_years",
                    "有効期間（3年または5年）を指定してください（利用規約第10条）",
                )),
            }
        } else if i.validity_years.is_some() {
            errs.push(FieldError::new(
                "validity_years",
                "この申請の種類では有効期間は指定しません",
            ));
        }
        let needs_target = !matches!(k, ApplicationKind::New);
        match (&i.target_card_id, needs_target) {
            (None, true) => errs.push(FieldError::new(
                "target_card_id",
                "対象の利用者カードを指定してください",
            )),
            (Some(_), false) => errs.push(FieldError::new(
                "target_card_id",
                "新規申請では対象カードは指定しません",
            )),
            _ => {}
        }
    }
    let mut tx = app.store.begin().await?;
    let r = async {
        super::facilities::check_may_apply(&mut tx, &i.facility_code).await?;
        // A desk sees only people and cards of its own facility: anything else is
        // answered exactly like an id that does not exist.
        let person = tx.person(&i.holder_id).await?;
        let affiliated = tx
            .affiliations(&i.holder_id)
            .await?
            .iter()
            .any(|a| scope.admits(&a.facility_code));
        if person.is_none() || !affiliated {
            errs.push(FieldError::new("holder_id", format!("利用者 {} は登録されていません", i.holder_id)));
        }
        if let Some(card_id) = &i.target_card_id {
            let card = scope.visible(tx.card(card_id).await?, |c| &c.facility_code, || AppError::NotFound(String::new()));
            match card {
                Err(_) => errs.push(FieldError::new("target_card_id", format!("利用者カード {card_id} はありません"))),
                // 第3条4, 第25条: a card belongs to one holder at one facility.
                Ok(card) if errs.is_empty() && (card.holder_id != i.holder_id || card.facility_code != i.facility_code) => {
                    return Err(AppError::Rule("指定のカードはこの利用者・施設のものではありません。カードを他の方や他の施設に移すことはできません（利用規約第3条4・第25条）".into()));
                }
                Ok(_) => {}
            }
        }
        if !errs.is_empty() {
            return Err(AppError::Validation(errs));
        }
        let kind = kind.ok_or_else(|| AppError::Internal("kind checked".into()))?;
        let n = tx.next_counter("application").await?;
        let row = ApplicationRow {
            id: format!("A{n:08}"),
            facility_code: i.facility_code.clone(),
            holder_id: i.holder_id.clone(),
            kind: kind.as_str().into(),
            kind_detail: kind.detail_code().map(str::to_string),
            validity_years: validity.map(|v| i64::from(v.years())),
            target_card_id: i.target_card_id.clone(),
            state: ApplicationState::Draft.as_str().into(),
            fee_bearing: i64::from(matches!(kind, ApplicationKind::Reissue { cause } if cause.fee_bearing())),
            created_by: actor.account_id.clone(),
            created_at: now,
            updated_at: now,
            decided_by: None,
            decided_at: None,
            reject_reason: None,
            card_id: None,
            version: 1,
        };
        check_eligibility(&mut tx, &row, kind).await?;
        tx.insert_application(&row).await?;
        tx.append_audit(&NewAuditEvent {
            at: now,
            actor: &actor.account_id,
            action: "application.create",
            object: &format!("application:{}", row.id),
            facility: Some(&row.facility_code),
            summary: &format!("{} application {} for {} drafted", kind, row.id, row.holder_id),
        })
        .await?;
        if let Some((file_name, bytes)) = doc {
            let n = tx.next_counter("document").await?;
            let d = DocumentRow {
                id: format!("D{n:08}"),
                application_id: row.id.clone(),
                file_name: file_name.trim().into(),
                media_type: "application/pdf".into(),
                sha256: hex::encode(sha2::Sha256::digest(bytes)),
                size: bytes.len() as i64,
                uploaded_by: actor.account_id.clone(),
                uploaded_at: now,
                retain_until: None,
            };
            tx.insert_document(&d, bytes).await?;
            tx.append_audit(&NewAuditEvent {
                at: now,
                actor: &actor.account_id,
                action: "application.document",
                object: &format!("application:{}", row.id),
                facility: Some(&row.facility_code),
                summary: &format!("document {} ({} bytes, SHA-256 {}) attached", d.id, d.size, d.sha256),
            })
            .await?;
        }
        Ok(row)
    }
    .await;
    finish_once(tx, actor, r.map(Into::into), idem, now).await
}

/// The support center's review of an application (approve, return, reject, and the
/// fulfilment of a kind that issues no card).
pub async fn review(
    app: &App,
    who: &Center,
    id: &str,
    action: ApplicationAction,
    expected_version: Option<i64>,
) -> Result<crate::views::Application, AppError> {
    act(app, &who.registrar(), id, action, expected_version).await
}

/// The operator's and desk's actions on an application (everything but fulfilment of a
/// card-issuing kind, which needs a certificate: [`fulfil_from_csr`]).
pub async fn act(
    app: &App,
    who: &Registrar,
    id: &str,
    action: ApplicationAction,
    expected_version: Option<i64>,
) -> Result<crate::views::Application, AppError> {
    let r: Result<ApplicationRow, AppError> = async {
        let actor = who.actor();
        let mut tx = app.store.begin().await?;
        let r = act_in_tx(
            app,
            &mut tx,
            actor,
            Some(who.scope()),
            id,
            action,
            expected_version,
            None,
        )
        .await;
        super::finish(tx, r).await
    }
    .await;
    r.map(Into::into)
}

#[allow(clippy::too_many_arguments)]
async fn act_in_tx(
    app: &App,
    tx: &mut Tx,
    actor: &Actor,
    acting: Option<&Scope>,
    id: &str,
    action: ApplicationAction,
    expected_version: Option<i64>,
    new_card: Option<&CardRow>,
) -> Result<ApplicationRow, AppError> {
    let now = app.now();
    // Rights first: the role decides before anything is loaded, so that the answer
    // does not tell whether the id exists.
    let center_only = !matches!(
        action,
        ApplicationAction::Submit | ApplicationAction::Resubmit | ApplicationAction::Withdraw
    );
    let scope = if let (ApplicationAction::Fulfil, Some(card)) = (&action, new_card) {
        if card.token_serial.is_some() {
            // A personalization station fulfils a card application with the card it made.
            Station::from_actor(actor)?;
        } else {
            // The demo's fulfilment from a bare CSR (`demo = true`).
            Center::from_actor(actor)?;
        }
        Scope::All
    } else if center_only {
        Center::from_actor(actor)?;
        Scope::All
    } else {
        match acting {
            Some(s) => s.clone(),
            None => Registrar::from_actor(actor)?.scope().clone(),
        }
    };
    let a = scope.visible(
        tx.application(id).await?,
        |a| &a.facility_code,
        || AppError::NotFound(format!("申請 {id} はありません")),
    )?;
    if matches!(action, ApplicationAction::Approve) {
        check_not_own(tx, actor, &a).await?;
    }
    if let Some(v) = expected_version
        && v != a.version
    {
        return Err(AppError::Conflict(
            "この申請は他の担当者が先に更新しました。最新の内容を確認してください".into(),
        ));
    }
    let state = state_of(&a)?;
    let kind = kind_of(&a)?;
    if matches!(action, ApplicationAction::Fulfil) && kind.issues_card() && new_card.is_none() {
        return Err(AppError::Rule(
            "カードを発行する申請は、カードの発行（発行端末での書込み）によって完了します".into(),
        ));
    }
    let checks_eligibility = matches!(
        action,
        ApplicationAction::Submit | ApplicationAction::Resubmit | ApplicationAction::Approve
    );
    let action_code = action.kind();
    let (deficiencies_json, comment) = match &action {
        ApplicationAction::Return { deficiencies } => (
            Some(
                serde_json::to_string(deficiencies)
                    .map_err(|e| AppError::Internal(e.to_string()))?,
            ),
            None,
        ),
        ApplicationAction::Reject { reason } => (None, Some(reason.clone())),
        _ => (None, None),
    };
    let reject_reason = match &action {
        ApplicationAction::Reject { reason } => Some(reason.clone()),
        _ => None,
    };
    // An action the current state does not allow conflicts with that state (HTTP 409):
    // typically someone else acted first.
    let t = state.apply(kind, action).map_err(|e| match e {
        kmn_domain::ApplicationTransitionError::Illegal { .. } => AppError::Conflict(e.to_string()),
        kmn_domain::ApplicationTransitionError::NoRejectReason => {
            AppError::Validation(vec![FieldError::new("reason", e.to_string())])
        }
        other => AppError::Validation(vec![FieldError::new("deficiencies", other.to_string())]),
    })?;
    // Whether the holder may have the card, once the action is one the state allows (an
    // approved or fulfilled application says so, not the rules of a new application).
    if checks_eligibility {
        super::facilities::check_may_apply(tx, &a.facility_code).await?;
        check_eligibility(tx, &a, kind).await?;
    }
    let decided_by = matches!(
        t.state,
        ApplicationState::Approved | ApplicationState::Rejected
    )
    .then_some(actor.account_id.as_str());
    tx.transition_application(
        id,
        state.as_str(),
        a.version,
        t.state.as_str(),
        now,
        decided_by,
        reject_reason.as_deref(),
    )
    .await
    .map_err(|e| match e {
        kmn_store::StoreError::Conflict(_) => AppError::Conflict(
            "この申請は他の担当者が先に処理しました。最新の内容を確認してください".into(),
        ),
        other => other.into(),
    })?;
    tx.insert_round(&RoundRow {
        application_id: id.into(),
        seq: 0,
        action: action_code.as_str().into(),
        actor: actor.account_id.clone(),
        at: now,
        from_state: state.as_str().into(),
        to_state: t.state.as_str().into(),
        deficiencies: deficiencies_json,
        comment,
    })
    .await?;
    for effect in &t.effects {
        apply_effect(app, tx, actor, &a, kind, effect, new_card, now).await?;
    }
    tx.append_audit(&NewAuditEvent {
        at: now,
        actor: &actor.account_id,
        action: &format!("application.{}", action_code.as_str()),
        object: &format!("application:{id}"),
        facility: Some(&a.facility_code),
        summary: &format!(
            "{kind} application {id}: {} → {}",
            state.as_str(),
            t.state.as_str()
        ),
    })
    .await?;
    tx.application(id)
        .await?
        .ok_or_else(|| AppError::Internal("application vanished".into()))
}

/// 「利用者 山田 花子 様（H00000012）」, as a notice names the holder.
pub(super) async fn holder_name(tx: &mut Tx, holder_id: &str) -> Result<String, AppError> {
    Ok(match tx.person(holder_id).await? {
        Some(p) => format!("利用者 {} 様（{holder_id}）", p.name_kanji),
        None => format!("利用者（{holder_id}）"),
    })
}

/// The sentences of a notice about an application (第5条, 第6条), as the center writes
/// them to a facility.
fn application_notice_ja(
    template: kmn_domain::NoticeKind,
    id: &str,
    kind: ApplicationKind,
    holder: &str,
) -> String {
    use kmn_domain::NoticeKind as N;
    let what = format!("{holder}の{}の申請（申請番号 {id}）", kind.label_ja());
    match template {
        N::ApplicationReceived => format!(
            "{what}を受け付けましたので、お知らせいたします。審査の結果は、あらためてお知らせいたします。"
        ),
        N::ApplicationResubmitted => format!(
            "{what}について、修正後の再申請を受け付けましたので、お知らせいたします。審査の結果は、あらためてお知らせいたします。"
        ),
        N::ApplicationReturned => format!(
            "{what}について、内容に不備がありましたので、お知らせいたします（利用規約第6条2）。"
        ),
        N::ApplicationApproved if kind.issues_card() => format!(
            "{what}を承認いたしましたので、お知らせいたします（利用規約第6条1）。利用者カードを発行し、準備ができしだい発送いたします。"
        ),
        N::ApplicationApproved => {
            format!("{what}を承認いたしましたので、お知らせいたします（利用規約第6条1）。")
        }
        N::ApplicationRejected => format!(
            "{what}について、審査の結果、承認いたしかねることとなりましたので、お知らせいたします。"
        ),
        N::ApplicationWithdrawn => {
            format!("{what}の取下げを受け付けましたので、お知らせいたします。")
        }
        N::ApplicationFulfilled => {
            format!("{what}の手続きが完了いたしましたので、お知らせいたします。")
        }
        other => format!("{what}について、{}をお送りいたします。", other.label_ja()),
    }
}

#[allow(clippy::too_many_arguments)]
async fn apply_effect(
    app: &App,
    tx: &mut Tx,
    actor: &Actor,
    a: &ApplicationRow,
    kind: ApplicationKind,
    effect: &ApplicationEffect,
    new_card: Option<&CardRow>,
    now: i64,
) -> Result<(), AppError> {
    match effect {
        ApplicationEffect::NotifyFacility {
            template,
            deficiencies,
            reason,
        } => {
            let holder = holder_name(tx, &a.holder_id).await?;
            let mut body = application_notice_ja(*template, &a.id, kind, &holder);
            if !deficiencies.is_empty() {
                body.push_str("\n\n不備の内容（利用規約第6条2）:\n");
                for (n, d) in deficiencies.iter().enumerate() {
                    body.push_str(&format!("{}. {}\n", n + 1, d.to_line_ja()));
                }
                body.push_str("\nお手数ですが、内容を修正のうえ、再申請をお願いいたします。");
            }
            if let Some(r) = reason {
                body.push_str(&format!("\n\n理由: {r}"));
            }
            super::notify::notify(
                tx,
                &a.facility_code,
                template.as_str(),
                &format!("【くまもとメディカルネットワーク】{}", template.label_ja()),
                &body,
                Some(&format!("application:{}", a.id)),
                now,
            )
            .await?;
        }
        ApplicationEffect::Issue => {}
        ApplicationEffect::Revoke { grounds } => {
            if let Some(card_id) = &a.target_card_id {
                revoke_card(tx, actor, card_id, *grounds, a, now).await?;
            }
        }
        ApplicationEffect::RequestCardReturn { reason } => {
            if let Some(card_id) = &a.target_card_id
                && let Some(card) = tx.card(card_id).await?
            {
                let st: CardState = card
                    .state
                    .parse()
                    .map_err(|e: kmn_domain::UnknownCode| AppError::Internal(e.to_string()))?;
                if let Ok(t) = st.apply(CardEvent::RequestReturn) {
                    tx.transition_card(card_id, st.as_str(), card.version, t.state.as_str(), now)
                        .await?;
                }
                let holder = holder_name(tx, &a.holder_id).await?;
                let body = format!(
                    "{holder}の利用者カード {card_id} について、{}のため、ご返却をお願いいたします（利用規約第15条）。\nサポートセンターの案内に従って返送してください。返却できない場合は、紛失届の提出をお願いいたします。",
                    reason.label_ja()
                );
                super::notify::notify(
                    tx,
                    &a.facility_code,
                    "card_return_requested",
                    "【くまもとメディカルネットワーク】利用者カード返却のお願い",
                    &body,
                    Some(&format!("card:{card_id}")),
                    now,
                )
                .await?;
            }
        }
        ApplicationEffect::ScheduleSupersession => {
            if let (Some(old_id), Some(_)) = (&a.target_card_id, new_card)
                && let Some(old) = tx.card(old_id).await?
                && let Some(serial) = old.cert_serial_hex
            {
                let at = time::OffsetDateTime::from_unix_timestamp(now)
                    .map_err(|e| AppError::Internal(e.to_string()))?;
                let run_at = kmn_domain::renewal_overlap_ends(at, app.cfg.renewal_overlap_days)
                    .unix_timestamp();
                crate::jobs::enqueue(
                    tx,
                    &crate::jobs::Job::RevokeSuperseded {
                        serial_hex: serial.clone(),
                        card_id: old_id.clone(),
                        application_id: a.id.clone(),
                    },
                    run_at,
                    &format!("supersede:{serial}"),
                    now,
                )
                .await?;
            }
        }
        ApplicationEffect::RecordFee { kind: fee } => {
            tx.append_audit(&NewAuditEvent {
                at: now,
                actor: &actor.account_id,
                action: "fee.due",
                object: &format!("application:{}", a.id),
                facility: Some(&a.facility_code),
                summary: &format!(
                    "{} fee due for application {} ({})",
                    fee.as_str(),
                    a.id,
                    kind
                ),
            })
            .await?;
        }
    }
    Ok(())
}

/// Separation of duties (第6条1): whoever drafted or filed an application may not
/// approve it.
async fn check_not_own(tx: &mut Tx, actor: &Actor, a: &ApplicationRow) -> Result<(), AppError> {
    let mut involved = vec![a.created_by.clone()];
    for r in tx.rounds(&a.id).await? {
        if r.action == ApplicationAction::Submit.kind().as_str()
            || r.action == ApplicationAction::Resubmit.kind().as_str()
        {
            involved.push(r.actor);
        }
    }
    // Persons, not accounts: a second account of the same person is the same person.
    let mut own = false;
    for account in involved {
        let person = tx.person_of_account(&account).await?.unwrap_or(account);
        own |= person == actor.person_id;
    }
    if own {
        return Err(AppError::SelfApproval(format!(
            "申請 {} はあなたが作成または提出したため、あなたは承認できません。別の担当者が審査・承認してください（職務の分離）",
            a.id
        )));
    }
    Ok(())
}

/// Revokes the certificate of a card (a no-op when it is already revoked) through the
/// one revocation path, with the application's creation as the request's arrival, and
/// moves the card to `lost` for a key compromise.
async fn revoke_card(
    tx: &mut Tx,
    actor: &Actor,
    card_id: &str,
    grounds: kmn_domain::RevocationGrounds,
    a: &ApplicationRow,
    now: i64,
) -> Result<(), AppError> {
    let Some(card) = tx.card(card_id).await? else {
        return Ok(());
    };
    if let Some(serial) = &card.cert_serial_hex {
        crate::ca::revoke::revoke_in_tx(
            tx,
            &crate::ca::revoke::Order {
                serial_hex: serial,
                grounds,
                channel: kmn_domain::RevocationChannel::Application,
                comment: Some(&format!("申請 {}（利用者カード {card_id}）", a.id)),
                requested_by: &actor.account_id,
                received_at: a.created_at,
                invalidity_date: None,
                facility: Some(&card.facility_code),
            },
            now,
        )
        .await?;
    }
    if grounds.reason() == RevocationReason::KeyCompromise {
        let st: CardState = card
            .state
            .parse()
            .map_err(|e: kmn_domain::UnknownCode| AppError::Internal(e.to_string()))?;
        if let Ok(t) = st.apply(CardEvent::ReportLost) {
            tx.transition_card(card_id, st.as_str(), card.version, t.state.as_str(), now)
                .await?;
        }
    }
    Ok(())
}

/// Returns an application to the facility with deficiencies (第6条2; support center).
/// Rights first: the list is looked at only for a caller who may return.
pub async fn return_for_correction(
    app: &App,
    who: &Center,
    id: &str,
    items: &[(String, String, String)],
    expected_version: Option<i64>,
) -> Result<crate::views::Application, AppError> {
    let d = deficiencies(items)?;
    review(
        app,
        who,
        id,
        ApplicationAction::Return { deficiencies: d },
        expected_version,
    )
    .await
}

/// Parses a list of deficiencies (field, problem, action), 第6条2.
pub fn deficiencies(items: &[(String, String, String)]) -> Result<Vec<Deficiency>, AppError> {
    let mut out = Vec::new();
    let mut errs = Vec::new();
    for (n, (f, p, a)) in items.iter().enumerate() {
        match Deficiency::new(f, p, a) {
            Ok(d) => out.push(d),
            Err(e) => errs.push(FieldError::new(format!("deficiencies[{n}]"), e.to_string())),
        }
    }
    if !errs.is_empty() {
        return Err(AppError::Validation(errs));
    }
    Ok(out)
}

/// Fulfils an approved card-issuing application from a CSR supplied by the caller —
/// only in demo mode (`demo = true`); in production a personalization station makes the
/// key on the card ([`crate::station::personalization::personalize`]). The card goes straight to `active`.
/// Returns the application, the card and its certificate (DER).
pub async fn fulfil_from_csr(
    app: &App,
    who: &Center,
    id: &str,
    csr: &[u8],
) -> Result<(crate::views::Application, crate::views::Card, Vec<u8>), AppError> {
    let r: Result<(ApplicationRow, CardRow, Vec<u8>), AppError> = async {
    let actor = who.actor();
    if !app.cfg.demo {
        return Err(AppError::Rule("CSR からの発行はデモモード（kmn.toml の demo = true）でのみ行えます。本番では発行端末でカードに鍵を生成します".into()));
    }
    let req = kmn_pki::csr::parse_and_verify(csr)?;
    kmn_pki::lint::lint_key(&req.spki_der)
        .map_err(|e| AppError::BadInput(format!("CSR の鍵を受け付けられません: {e}")))?;
    let target = load_for_issue(app, id).await?;
    let card_id = allocate_card_id(app).await?;
    let issued = issue_for(app, actor, &target, req.spki_der, false).await?;
    record_issuance(app, actor, &target.application.id, &issued, &card_id).await?;
    let (a, card) =
        record_fulfilment(app, actor, &target, &issued, CardEvent::DemoActivate, None).await?;
    Ok((a, card, issued.der))
}
    .await;
    r.map(|(a, c, d)| (a.into(), c.into(), d))
}

/// What an approved card-issuing application's certificate is built from.
#[derive(Clone, Debug)]
pub(crate) struct IssueTarget {
    /// The application.
    pub application: ApplicationRow,
    /// Its facility.
    pub facility: kmn_store::FacilityRow,
    /// Its holder.
    pub person: kmn_store::PersonRow,
    /// The validity applied for (第10条).
    pub validity: ValidityPeriod,
}

/// Loads an application that may be fulfilled now: approved, of a card-issuing kind, and
/// still eligible (第4条).
pub(crate) async fn load_for_issue(app: &App, id: &str) -> Result<IssueTarget, AppError> {
    let mut tx = app.store.begin().await?;
    let r = async {
        let a = tx
            .application(id)
            .await?
            .ok_or_else(|| AppError::NotFound(format!("申請 {id} はありません")))?;
        let kind = kind_of(&a)?;
        if state_of(&a)? != ApplicationState::Approved || !kind.issues_card() {
            return Err(AppError::Rule(format!(
                "申請 {id} は発行できる状態ではありません（状態: {}）",
                state_of(&a)?.label_ja()
            )));
        }
        let f = tx
            .facility(&a.facility_code)
            .await?
            .ok_or_else(|| AppError::Internal("facility vanished".into()))?;
        let p = tx
            .person(&a.holder_id)
            .await?
            .ok_or_else(|| AppError::Internal("person vanished".into()))?;
        check_eligibility(&mut tx, &a, kind).await?;
        let validity: ValidityPeriod = a
            .validity_years
            .unwrap_or(0)
            .to_string()
            .parse()
            .map_err(AppError::BadInput)?;
        Ok(IssueTarget {
            application: a,
            facility: f,
            person: p,
            validity,
        })
    }
    .await;
    tx.rollback().await?;
    r
}

/// Issues the holder's certificate for `spki_der`: the subject, the kanji SAN
/// directoryName and hcRole come from the registry (DESIGN §4).
pub(crate) async fn issue_for(
    app: &App,
    actor: &Actor,
    t: &IssueTarget,
    spki_der: Vec<u8>,
    on_hold: bool,
) -> Result<crate::ca::issue::Issued, AppError> {
    let names = kmn_pki::profile::UserCardNames {
        facility_romaji: &t.facility.name_romaji,
        facility_code: &t.facility.code,
        facility_kanji: &t.facility.name_kanji,
        holder_romaji: &t.person.name_romaji,
        holder_kanji: &t.person.name_kanji,
        holder_id: &t.person.holder_id,
    };
    let subject = names.subject()?;
    let kanji = names.kanji_alt_name()?;
    let profession = Profession::from_code(&t.person.profession)
        .map_err(|e| AppError::Internal(e.to_string()))?;
    let hc_role = (t.person.licence_checked != 0)
        .then(|| profession.hpki_role())
        .flatten()
        .map(str::to_string);
    let ca = crate::ca::load_active_kind(app, kmn_store::CaKind::Issuing).await?;
    let policies = {
        let mut tx = app.store.read().await?;
        let p = crate::ca::Policies::load(&mut tx).await;
        tx.rollback().await?;
        p?
    };
    let req = crate::ca::issue::IssueRequest {
        profile: kmn_domain::ProfileKind::UserCard,
        validity: t.validity,
        subject,
        spki_der,
        alt_names: vec![kanji],
        hc_role,
        on_hold,
    };
    let mut out = crate::ca::issue::issue_batch(
        app,
        &ca,
        &policies,
        vec![req],
        app.clock.now(),
        &actor.account_id,
    )
    .await?;
    Ok(out.remove(0))
}

/// What a personalization station made, recorded with the card.
pub struct PersonalizationRecord<'a> {
    /// The card id the station printed on the mailer: the one the center allocated with
    /// the certificate ([`record_issuance`]); any other is refused.
    pub card_id: &'a str,
    /// The token serial.
    pub token_serial: &'a str,
    /// Salted hash of the emergency revocation code (第11条).
    pub revocation_code_hash: &'a str,
    /// What was done, for the audit event.
    pub summary: &'a str,
    /// The PIN mailer: file path (at the station), SHA-256, and who holds it.
    pub mailer: Option<(&'a str, &'a str, &'a str)>,
}

/// Allocates a card id (a gap is left when personalization then fails).
pub(crate) async fn allocate_card_id(app: &App) -> Result<String, AppError> {
    let mut tx = app.store.begin().await?;
    let r = tx.next_counter("card").await.map_err(AppError::from);
    let n = super::finish(tx, r).await?;
    Ok(format!("C{n:08}"))
}

/// Takes the approved application's row for this transaction
/// ([`kmn_store::Tx::claim_approved_application`]); no longer approved is a conflict.
async fn claim_approved(tx: &mut Tx, id: &str) -> Result<(), AppError> {
    tx.claim_approved_application(id)
        .await
        .map_err(|e| match e {
            kmn_store::StoreError::Conflict(_) => AppError::Conflict(format!(
                "申請 {id} は他の処理で先に完了しました（承認済みではありません）"
            )),
            other => other.into(),
        })
}

/// Records the card and completes the application; if that fails (someone else
/// fulfilled it meanwhile), the certificate just issued is revoked so that no usable
/// certificate is left without its card.
pub(crate) async fn record_fulfilment(
    app: &App,
    actor: &Actor,
    t: &IssueTarget,
    issued: &crate::ca::issue::Issued,
    event: CardEvent,
    personalization: Option<&PersonalizationRecord<'_>>,
) -> Result<(ApplicationRow, CardRow), AppError> {
    let a = &t.application;
    let id = a.id.as_str();
    let now = app.now();
    let mut tx = app.store.begin().await?;
    let r = async {
        // The application first, as record_issuance does: the two are decided in turn.
        claim_approved(&mut tx, id).await?;
        let card_id = bind_issuance(&mut tx, actor, a, issued, personalization, now).await?;
        if let Some(p) = personalization
            && let Some(c) = tx.card_by_token_serial(p.token_serial).await?
            && !c
                .state
                .parse::<CardState>()
                .map_err(|e| AppError::Internal(e.to_string()))?
                .is_final()
        {
            return Err(AppError::Conflict(format!(
                "トークン（シリアル {}）は利用者カード {} として登録済みです。未発行のカードを使ってください",
                p.token_serial, c.id
            )));
        }
        let card = CardRow {
            id: card_id,
            holder_id: a.holder_id.clone(),
            facility_code: a.facility_code.clone(),
            application_id: a.id.clone(),
            state: CardState::Blank
                .apply(event)
                .map_err(|e| AppError::Internal(e.to_string()))?
                .state
                .as_str()
                .into(),
            cert_serial_hex: Some(issued.serial_hex.clone()),
            token_serial: personalization.map(|p| p.token_serial.to_string()),
            validity_years: i64::from(t.validity.years()),
            issued_at: Some(now),
            not_after: Some(issued.not_after.unix_timestamp()),
            created_at: now,
            updated_at: now,
            version: 1,
        };
        tx.insert_card(&card).await?;
        if let Some(p) = personalization {
            tx.set_card_revocation_code(&card.id, p.revocation_code_hash)
                .await?;
        }
        tx.set_application_card(&a.id, &card.id).await?;
        let issue_date = time::OffsetDateTime::from_unix_timestamp(now)
            .map_err(|e| AppError::Internal(e.to_string()))?
            .date();
        let until = kmn_domain::document_retention_deadline(issue_date)
            .midnight()
            .assume_utc()
            .unix_timestamp();
        tx.set_retention(&a.id, until).await?;
        let row = act_in_tx(
            app,
            &mut tx,
            actor,
            None,
            id,
            ApplicationAction::Fulfil,
            Some(a.version),
            Some(&card),
        )
        .await?;
        if let Some(p) = personalization {
            tx.append_audit(&NewAuditEvent {
                at: now,
                actor: &actor.account_id,
                action: "card.personalize",
                object: &format!("card:{}", card.id),
                facility: Some(&card.facility_code),
                summary: &format!("card {}: {}", card.id, p.summary),
            })
            .await?;
            if let Some((file, sha256, holder)) = p.mailer {
                let m = kmn_store::PinMailerRow {
                    id: format!("M{:08}", tx.next_counter("pin_mailer").await?),
                    card_id: card.id.clone(),
                    purpose: "initial".into(),
                    state: "held".into(),
                    file_name: file.to_string(),
                    produced_by: holder.to_string(),
                    sha256: sha256.to_string(),
                    created_at: now,
                    released_at: None,
                    dispatched_at: None,
                    destroyed_at: None,
                    version: 1,
                };
                tx.insert_pin_mailer(&m).await?;
                tx.append_audit(&NewAuditEvent {
                    at: now,
                    actor: &actor.account_id,
                    action: "pin_mailer.create",
                    object: &format!("pin_mailer:{}", m.id),
                    facility: Some(&card.facility_code),
                    summary: &format!(
                        "PIN mailer {} of card {} made and held until the facility confirms receipt (SHA-256 {sha256})",
                        m.id, card.id
                    ),
                })
                .await?;
            }
        }
        Ok::<_, AppError>((row, card))
    }
    .await;
    match r {
        Ok(v) => {
            tx.commit().await?;
            Ok(v)
        }
        Err(e) => {
            let _ = tx.rollback().await;
            // Only this application's own unbound certificate, issued to this actor, is
            // withdrawn: a serial of another card or application is never touched.
            let why = format!(
                "申請 {id} の完了処理に失敗したため無効化: {}",
                e.message_ja()
            );
            match withdraw_unbound(
                app,
                &issued.serial_hex,
                Some(id),
                Some(&actor.account_id),
                kmn_domain::RevocationGrounds::IssuanceAbandoned,
                &why,
                "system:fulfil",
            )
            .await
            {
                Ok(_) => Err(e),
                Err(e2) => Err(e.with_note(&format!(
                    "証明書 {} は失効できませんでした（{}）。サポートセンターに失効を依頼してください",
                    issued.serial_hex,
                    e2.message_ja()
                ))),
            }
        }
    }
}

/// Checks, in the fulfilment's transaction, that `issued` is this application's unbound
/// certificate (issued to this station, with the card id the center allocated) and binds
/// it by compare-and-set; returns the card id.
async fn bind_issuance(
    tx: &mut Tx,
    actor: &Actor,
    a: &ApplicationRow,
    issued: &crate::ca::issue::Issued,
    personalization: Option<&PersonalizationRecord<'_>>,
    now: i64,
) -> Result<String, AppError> {
    let serial = &issued.serial_hex;
    let not_yours = || {
        AppError::Forbidden(format!(
            "証明書 {serial} はこの申請（{}）のためにこの発行端末へ発行された証明書ではありません",
            a.id
        ))
    };
    let iss = tx.issuance(serial).await?.ok_or_else(not_yours)?;
    if iss.application_id != a.id
        || (personalization.is_some() && iss.issued_to != actor.account_id)
    {
        return Err(not_yours());
    }
    if iss.is(IssuanceState::Bound) {
        return Err(AppError::Conflict(format!(
            "証明書 {serial} は既にカード {} に登録されています",
            iss.card_id
        )));
    }
    if iss.is(IssuanceState::Withdrawn) {
        return Err(AppError::Rule(format!(
            "証明書 {serial} は失効済みのためカードを登録できません"
        )));
    }
    if let Some(p) = personalization
        && p.card_id != iss.card_id
    {
        return Err(AppError::Rule(format!(
            "カード番号 {} は証明書 {serial} とともに割り当てた番号（{}）ではありません。カード番号はセンターが割り当てます",
            p.card_id, iss.card_id
        )));
    }
    match tx.certificate(serial).await? {
        Some(c) if c.status != kmn_domain::CertStatus::Revoked => {}
        _ => {
            return Err(AppError::Rule(format!(
                "証明書 {serial} は失効済みのためカードを登録できません"
            )));
        }
    }
    tx.leave_unbound(serial, &a.id, IssuanceState::Bound, now)
        .await
        .map_err(|e| match e {
            kmn_store::StoreError::Conflict(_) => AppError::Conflict(format!(
                "証明書 {serial} は他の処理で先に登録または失効されました"
            )),
            other => other.into(),
        })?;
    Ok(iss.card_id)
}

/// Records a card certificate just issued for an application, to `actor`, with the card
/// id the center allocated. A previous unbound certificate of the same application is
/// revoked (superseded) in the same transaction, by compare-and-set on its binding: at
/// most one unbound certificate per application. If this fails, the new certificate is
/// revoked (and the error says whether that worked).
pub(crate) async fn record_issuance(
    app: &App,
    actor: &Actor,
    application_id: &str,
    issued: &crate::ca::issue::Issued,
    card_id: &str,
) -> Result<(), AppError> {
    let now = app.now();
    let mut tx = app.store.begin().await?;
    let r = async {
        let a = tx
            .application(application_id)
            .await?
            .ok_or_else(|| AppError::NotFound(format!("申請 {application_id} はありません")))?;
        if state_of(&a)? != ApplicationState::Approved {
            return Err(AppError::Conflict(format!(
                "申請 {application_id} は他の処理で先に完了しました（状態: {}）",
                state_of(&a)?.label_ja()
            )));
        }
        // Approved when read: now under the row's lock, checked again (PostgreSQL).
        claim_approved(&mut tx, application_id).await?;
        if let Some(prev) = tx.unbound_issuance(application_id).await? {
            withdraw_in_tx(
                &mut tx,
                &prev,
                kmn_domain::RevocationGrounds::IssuanceRepeated,
                &format!(
                    "申請 {application_id} に新しい証明書 {} を発行したため置換え",
                    issued.serial_hex
                ),
                &actor.account_id,
                now,
            )
            .await?;
        }
        tx.insert_issuance(&kmn_store::CardIssuanceRow {
            serial_hex: issued.serial_hex.clone(),
            application_id: application_id.to_string(),
            issued_to: actor.account_id.clone(),
            card_id: card_id.to_string(),
            state: IssuanceState::Unbound.as_str().into(),
            created_at: now,
            updated_at: now,
        })
        .await
        .map_err(|e| match e {
            kmn_store::StoreError::Db(sqlx::Error::Database(d)) if d.is_unique_violation() => {
                AppError::Conflict(format!(
                    "申請 {application_id} には同時に別の証明書が発行されました。やり直してください"
                ))
            }
            other => other.into(),
        })?;
        Ok::<_, AppError>(())
    }
    .await;
    match crate::finish(tx, r).await {
        Ok(()) => Ok(()),
        Err(e) => {
            let why = format!(
                "申請 {application_id} の証明書として記録できなかったため無効化: {}",
                e.message_ja()
            );
            Err(match revoke_orphan(app, &issued.serial_hex, &why).await {
                Ok(()) => e.with_note(&format!("証明書 {} は失効させました", issued.serial_hex)),
                Err(e2) => e.with_note(&format!(
                    "証明書 {} は失効できませんでした（{}）。サポートセンターに失効を依頼してください",
                    issued.serial_hex,
                    e2.message_ja()
                )),
            })
        }
    }
}

/// In `tx`: moves an unbound certificate to `withdrawn` by compare-and-set and revokes
/// it, with its audit event. A certificate bound meanwhile is a conflict, and nothing is
/// revoked.
async fn withdraw_in_tx(
    tx: &mut Tx,
    iss: &kmn_store::CardIssuanceRow,
    grounds: kmn_domain::RevocationGrounds,
    why: &str,
    requested_by: &str,
    now: i64,
) -> Result<(), AppError> {
    let serial = &iss.serial_hex;
    tx.leave_unbound(serial, &iss.application_id, IssuanceState::Withdrawn, now)
        .await
        .map_err(|e| match e {
            kmn_store::StoreError::Conflict(_) => AppError::Conflict(format!(
                "証明書 {serial} は他の処理で先にカードに登録または失効されました"
            )),
            other => other.into(),
        })?;
    // Revoked already (by the CA administrator): withdrawn all the same.
    crate::ca::revoke::revoke_in_tx(
        tx,
        &crate::ca::revoke::Order {
            serial_hex: serial,
            grounds,
            channel: kmn_domain::RevocationChannel::Station,
            comment: Some(&format!(
                "申請 {} のカード {} の未登録の証明書: {why}",
                iss.application_id, iss.card_id
            )),
            requested_by,
            received_at: now,
            invalidity_date: None,
            facility: None,
        },
        now,
    )
    .await?;
    Ok(())
}

/// What [`withdraw_unbound`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Withdrawal {
    /// Revoked now.
    Revoked,
    /// Withdrawn and revoked before.
    AlreadyRevoked,
}

/// Revokes the unbound certificate `serial_hex` (of `application_id` and issued to
/// `issued_to`, when given): only that, never a certificate of another card or
/// application. A serial that is not such a certificate is refused (403), one already on
/// a card is refused (422).
pub(crate) async fn withdraw_unbound(
    app: &App,
    serial_hex: &str,
    application_id: Option<&str>,
    issued_to: Option<&str>,
    grounds: kmn_domain::RevocationGrounds,
    why: &str,
    requested_by: &str,
) -> Result<Withdrawal, AppError> {
    let now = app.now();
    let mut tx = app.store.begin().await?;
    let r = async {
        let iss = match tx.issuance(serial_hex).await? {
            Some(i)
                if application_id.is_none_or(|a| a == i.application_id)
                    && issued_to.is_none_or(|t| t == i.issued_to) =>
            {
                i
            }
            _ => {
                return Err(AppError::Forbidden(format!(
                    "証明書 {serial_hex} はこの申請のためにこの発行端末へ発行された証明書ではありません。失効させていません"
                )));
            }
        };
        if iss.is(IssuanceState::Bound) {
            return Err(AppError::Rule(format!(
                "証明書 {serial_hex} はカード {} に登録済みのため、ここでは失効させていません。失効はサポートセンターの手続きで行ってください",
                iss.card_id
            )));
        }
        if iss.is(IssuanceState::Withdrawn) {
            return Ok(Withdrawal::AlreadyRevoked);
        }
        withdraw_in_tx(&mut tx, &iss, grounds, why, requested_by, now).await?;
        Ok(Withdrawal::Revoked)
    }
    .await;
    crate::finish(tx, r).await
}

/// Revokes a card certificate this call has just issued, before it was recorded for any
/// card or application (cessationOfOperation). The error says why nothing was revoked.
pub(crate) async fn revoke_orphan(app: &App, serial_hex: &str, why: &str) -> Result<(), AppError> {
    let now = app.now();
    let mut tx = app.store.begin().await?;
    let r = async {
        let done = crate::ca::revoke::revoke_in_tx(
            &mut tx,
            &crate::ca::revoke::Order {
                serial_hex,
                grounds: kmn_domain::RevocationGrounds::IssuanceAbandoned,
                channel: kmn_domain::RevocationChannel::Station,
                comment: Some(&format!(
                    "どのカード・申請にも記録されなかった証明書: {why}"
                )),
                requested_by: "system:fulfil",
                received_at: now,
                invalidity_date: None,
                facility: None,
            },
            now,
        )
        .await?;
        if done == crate::ca::revoke::Outcome::AlreadyRevoked {
            return Err(AppError::Conflict(format!(
                "certificate {serial_hex} is already revoked"
            )));
        }
        Ok::<_, AppError>(())
    }
    .await;
    crate::finish(tx, r).await
}

/// Filters for listing applications (a desk: its own facility only).
#[derive(Clone, Debug, Default)]
pub struct ApplicationQuery {
    /// Facility code.
    pub facility_code: Option<String>,
    /// State code.
    pub state: Option<String>,
    /// Kind code.
    pub kind: Option<String>,
    /// Holder id.
    pub holder_id: Option<String>,
    /// Created at or after (Unix seconds).
    pub created_from: Option<i64>,
    /// Created at or before (Unix seconds).
    pub created_to: Option<i64>,
    /// Keyset pagination: ids after this one.
    pub after_id: Option<String>,
    /// Page size.
    pub limit: i64,
}

/// An application with its rounds and documents; the read is logged (G1).
pub async fn get(
    app: &App,
    who: &Reader,
    id: &str,
) -> Result<
    (
        crate::views::Application,
        Vec<crate::views::Round>,
        Vec<crate::views::Document>,
    ),
    AppError,
> {
    let r: Result<(ApplicationRow, Vec<RoundRow>, Vec<DocumentRow>), AppError> = async {
        let actor = who.actor();
        let scope = who.scope().clone();
        let mut tx = app.store.begin().await?;
        let r = async {
            let a = scope.visible(
                tx.application(id).await?,
                |a| &a.facility_code,
                || AppError::NotFound(format!("申請 {id} はありません")),
            )?;
            let rounds = tx.rounds(id).await?;
            let docs = tx.documents(id).await?;
            tx.log_access(
                app.now(),
                &actor.account_id,
                actor.role.as_str(),
                "read",
                &format!("application:{id}"),
                Some(&a.facility_code),
            )
            .await?;
            Ok((a, rounds, docs))
        }
        .await;
        super::finish(tx, r).await
    }
    .await;
    r.map(|(a, r, d)| {
        (
            a.into(),
            r.into_iter().map(Into::into).collect(),
            d.into_iter().map(Into::into).collect(),
        )
    })
}

/// Applications visible to the actor, filtered; the read is logged.
pub async fn list(
    app: &App,
    who: &Reader,
    q: ApplicationQuery,
) -> Result<Vec<crate::views::Application>, AppError> {
    let r: Result<Vec<ApplicationRow>, AppError> = async {
        let actor = who.actor();
        let f = ApplicationFilter {
            facility_code: who.listing(q.facility_code.as_deref())?,
            state: q.state,
            kind: q.kind,
            holder_id: q.holder_id,
            created_from: q.created_from,
            created_to: q.created_to,
            after_id: q.after_id,
            limit: q.limit,
        };
        let mut tx = app.store.begin().await?;
        let r = async {
            let v = tx.list_applications(&f).await?;
            tx.log_access(
                app.now(),
                &actor.account_id,
                actor.role.as_str(),
                "list",
                "applications",
                f.facility_code.as_deref(),
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

/// Attaches a scanned form (PDF ≤ 10 MiB), stored in the database with its hash
/// (第18条3: kept 6 years from the card's issue date).
pub async fn add_document(
    app: &App,
    who: &Registrar,
    id: &str,
    file_name: &str,
    bytes: &[u8],
) -> Result<crate::views::Document, AppError> {
    add_document_once(app, who, id, file_name, bytes, None).await
}

/// [`add_document`], recording an `Idempotency-Key` in the same transaction. Rights
/// first, then the application (absent and foreign answer alike), then the file.
pub async fn add_document_once(
    app: &App,
    who: &Registrar,
    id: &str,
    file_name: &str,
    bytes: &[u8],
    idem: Option<&Idempotency<'_, crate::views::Document>>,
) -> Result<crate::views::Document, AppError> {
    let actor = who.actor();
    let scope = who.scope().clone();
    let now = app.now();
    let mut tx = app.store.begin().await?;
    let r = async {
        let a = scope.visible(
            tx.application(id).await?,
            |a| &a.facility_code,
            || AppError::NotFound(format!("申請 {id} はありません")),
        )?;
        kmn_domain::check_document(
            file_name,
            bytes.len() as u64,
            bytes.get(..bytes.len().min(8)).unwrap_or_default(),
        )
        .map_err(|e| AppError::Validation(vec![FieldError::new("document", e.to_string())]))?;
        if state_of(&a)?.is_final() {
            return Err(AppError::Rule(format!(
                "申請 {id} は「{}」のため書類を追加できません",
                state_of(&a)?.label_ja()
            )));
        }
        let n = tx.next_counter("document").await?;
        let d = DocumentRow {
            id: format!("D{n:08}"),
            application_id: id.into(),
            file_name: file_name.into(),
            media_type: "application/pdf".into(),
            sha256: hex::encode(sha2::Sha256::digest(bytes)),
            size: bytes.len() as i64,
            uploaded_by: actor.account_id.clone(),
            uploaded_at: now,
            retain_until: None,
        };
        tx.insert_document(&d, bytes).await?;
        tx.append_audit(&NewAuditEvent {
            at: now,
            actor: &actor.account_id,
            action: "application.document",
            object: &format!("application:{id}"),
            facility: Some(&a.facility_code),
            summary: &format!(
                "document {} ({} bytes, SHA-256 {}) attached",
                d.id, d.size, d.sha256
            ),
        })
        .await?;
        Ok(d)
    }
    .await;
    finish_once(tx, actor, r.map(Into::into), idem, now).await
}

/// A document's bytes; the read is logged.
pub async fn document(
    app: &App,
    who: &Reader,
    doc_id: &str,
) -> Result<(crate::views::Document, Vec<u8>), AppError> {
    let r: Result<(DocumentRow, Vec<u8>), AppError> = async {
        let actor = who.actor();
        let scope = who.scope().clone();
        let mut tx = app.store.begin().await?;
        let r = async {
            let not_found = || AppError::NotFound(format!("書類 {doc_id} はありません"));
            let (d, bytes) = tx.document_bytes(doc_id).await?.ok_or_else(not_found)?;
            let a = scope.visible(
                tx.application(&d.application_id).await?,
                |a| &a.facility_code,
                not_found,
            )?;
            tx.log_access(
                app.now(),
                &actor.account_id,
                actor.role.as_str(),
                "read",
                &format!("document:{doc_id}"),
                Some(&a.facility_code),
            )
            .await?;
            Ok((d, bytes))
        }
        .await;
        super::finish(tx, r).await
    }
    .await;
    r.map(|(d, b)| (d.into(), b))
}

/// Approved applications that issue a card, oldest first, at most `limit` (the queue of
/// `kmn card personalize-batch`).
pub async fn approved_for_issue(
    app: &App,
    _right: &Center,
    limit: i64,
) -> Result<Vec<String>, AppError> {
    let mut out = Vec::new();
    let mut after: Option<String> = None;
    let mut tx = app.store.read().await?;
    let r = async {
        loop {
            let page = tx
                .list_applications(&ApplicationFilter {
                    state: Some(ApplicationState::Approved.as_str().into()),
                    after_id: after.clone(),
                    limit: 200,
                    ..Default::default()
                })
                .await?;
            let last = page.last().map(|a| a.id.clone());
            for a in page {
                if kind_of(&a)?.issues_card() && (out.len() as i64) < limit {
                    out.push(a.id);
                }
            }
            if last.is_none() || out.len() as i64 >= limit {
                break;
            }
            after = last;
        }
        Ok::<_, AppError>(())
    }
    .await;
    tx.rollback().await?;
    r.map(|()| out)
}

#[cfg(test)]
mod notice_tests {
    use super::*;

    /// Issue 12: a notice about an application says what happened in a whole polite
    /// sentence (「…を承認いたしましたので、お知らせいたします。」), never 「…について、
    /// 申請承認のお知らせ。」.
    #[test]
    fn issue12_application_notices_are_whole_polite_sentences() {
        use kmn_domain::NoticeKind as N;
        let holder = "利用者 山田　花子 様（H00000012）";
        let approved = application_notice_ja(
            N::ApplicationApproved,
            "A00000012",
            ApplicationKind::New,
            holder,
        );
        assert_eq!(
            approved,
            "利用者 山田　花子 様（H00000012）の新規発行の申請（申請番号 A00000012）を承認いたしましたので、お知らせいたします（利用規約第6条1）。利用者カードを発行し、準備ができしだい発送いたします。"
        );
        for t in [
            N::ApplicationReceived,
            N::ApplicationReturned,
            N::ApplicationResubmitted,
            N::ApplicationApproved,
            N::ApplicationRejected,
            N::ApplicationWithdrawn,
            N::ApplicationFulfilled,
        ] {
            let s = application_notice_ja(t, "A00000012", ApplicationKind::LossReport, holder);
            assert!(s.starts_with(holder), "{t:?}: {s}");
            assert!(s.contains("お知らせいたします"), "{t:?}: {s}");
            assert!(s.ends_with('。'), "{t:?}: {s}");
            assert!(!s.contains(t.label_ja()), "no title in the sentence: {s}");
        }
    }
}

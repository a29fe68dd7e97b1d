//! The card after personalization (第7・8・15条, DESIGN §4 Receipt): shipping, the
//! facility's receipt (the desk by the card's serial, or the center out of band), the
//! PIN mailer held until receipt and then released for dispatch, the handover to the
//! holder, a card lost in the post, and the record of destruction.
//!
//! Every step is one transaction: the card's compare-and-set transition, its delivery
//! record, the effects the domain asks for (revocation, certificate hold or release, PIN
//! mailers, notices) and the audit event commit together. A mailer file is deleted only
//! after the commit that records its destruction.

use kmn_domain::{CardEffect, CardEvent, CardState};
use kmn_store::{CardRow, NewAuditEvent, PinMailerRow, Tx};

use super::finish;
use crate::actor::Actor;
use crate::rights::{Center, Reader, Registrar};
use crate::{App, AppError};

/// How a receipt reached the center.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReceiptChannel {
    /// The facility desk confirmed it through the API, by the card's serial.
    Desk,
    /// A signed receipt slip came back by post or fax.
    Paper,
    /// The facility telephoned the center.
    Phone,
}

impl ReceiptChannel {
    /// Stable code.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Desk => "desk",
            Self::Paper => "paper",
            Self::Phone => "phone",
        }
    }

    /// Parses an out-of-band channel (`paper` or `phone`).
    pub fn parse_out_of_band(s: &str) -> Result<Self, AppError> {
        match s {
            "paper" => Ok(Self::Paper),
            "phone" => Ok(Self::Phone),
            other => Err(AppError::BadInput(format!(
                "受領の連絡方法 '{other}' は使えません（paper: 書面、phone: 電話）"
            ))),
        }
    }

    /// Japanese label.
    pub fn label_ja(self) -> &'static str {
        match self {
            Self::Desk => "施設窓口での確認",
            Self::Paper => "受領書（書面）",
            Self::Phone => "電話連絡",
        }
    }
}

/// The Japanese label of a PIN mailer's state.
pub fn mailer_state_label_ja(state: &str) -> &'static str {
    match state {
        "held" => "保留中（受領確認待ち）",
        "released" => "発送可能",
        "dispatched" => "発送済み",
        "destroyed" => "廃棄済み",
        _ => "",
    }
}

/// A card with its delivery record and PIN mailers.
#[derive(Clone, Debug, serde::Serialize)]
pub struct CardView {
    /// The card.
    pub card: crate::views::Card,
    /// Shipping, receipt and handover.
    pub delivery: crate::views::Delivery,
    /// PIN mailers, oldest first.
    pub pin_mailers: Vec<crate::views::PinMailer>,
    /// The certificate's status at the CA (`valid`, `on_hold`, `revoked`), if any.
    pub certificate_status: Option<String>,
}

pub(super) fn state_of(card: &CardRow) -> Result<CardState, AppError> {
    card.state
        .parse()
        .map_err(|e: kmn_domain::UnknownCode| AppError::Internal(e.to_string()))
}

pub(super) fn clean(field: &str, v: &str, max: usize) -> Result<String, AppError> {
    let v = v.trim();
    if v.chars().count() > max {
        return Err(AppError::BadInput(format!(
            "{field}は{max}文字以内で入力してください"
        )));
    }
    if v.chars().any(char::is_control) {
        return Err(AppError::BadInput(format!("{field}に制御文字は使えません")));
    }
    Ok(v.to_string())
}

async fn load_card(tx: &mut Tx, card_id: &str) -> Result<CardRow, AppError> {
    tx.card(card_id)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("利用者カード {card_id} はありません")))
}

/// Loads a card within the caller's reach: a card of another facility is answered
/// exactly like an absent one.
pub(super) async fn load_visible_card(
    tx: &mut Tx,
    scope: &crate::actor::Scope,
    card_id: &str,
) -> Result<CardRow, AppError> {
    scope.visible(
        tx.card(card_id).await?,
        |c| &c.facility_code,
        || AppError::NotFound(format!("利用者カード {card_id} はありません")),
    )
}

/// Loads a card with everything known about its delivery; the read is logged (G1).
pub async fn view(app: &App, who: &Reader, card_id: &str) -> Result<CardView, AppError> {
    let scope = who.scope().clone();
    let mut tx = app.store.read().await?;
    let r = async {
        let card = load_visible_card(&mut tx, &scope, card_id).await?;
        view_in_tx(&mut tx, card).await
    }
    .await;
    tx.rollback().await?;
    let v = r?;
    crate::audit::log_read(
        app,
        who.actor(),
        "read",
        &format!("card:{}/delivery", v.card.id),
        Some(&v.card.facility_code),
    )
    .await?;
    Ok(v)
}

/// One card (a card of another facility is answered like an absent one); the read is
/// logged (G1).
pub async fn get(app: &App, who: &Reader, card_id: &str) -> Result<crate::views::Card, AppError> {
    let mut tx = app.store.read().await?;
    let r = load_visible_card(&mut tx, who.scope(), card_id).await;
    tx.rollback().await?;
    let card = r?;
    crate::audit::log_read(
        app,
        who.actor(),
        "read",
        &format!("card:{}", card.id),
        Some(&card.facility_code),
    )
    .await?;
    Ok(card.into())
}

/// Cards the caller may see (a desk: its facility's), by holder, after a card id, at
/// most `limit`; the read is logged (G1).
pub async fn list(
    app: &App,
    who: &Reader,
    facility: Option<&str>,
    holder: Option<&str>,
    after: Option<&str>,
    limit: i64,
) -> Result<Vec<crate::views::Card>, AppError> {
    let scope = who.listing(facility)?;
    let mut tx = app.store.read().await?;
    let v = tx.list_cards(scope.as_deref(), holder, after, limit).await;
    tx.rollback().await?;
    let v = v?;
    let object = match holder {
        Some(h) => format!("person:{h}/cards"),
        None => "cards".to_string(),
    };
    crate::audit::log_read(app, who.actor(), "list", &object, scope.as_deref()).await?;
    Ok(v.into_iter().map(Into::into).collect())
}

async fn view_in_tx(tx: &mut Tx, card: CardRow) -> Result<CardView, AppError> {
    let delivery = tx.delivery(&card.id).await?;
    let pin_mailers = tx.pin_mailers_of_card(&card.id).await?;
    let certificate_status = match &card.cert_serial_hex {
        Some(s) => tx
            .certificate(s)
            .await?
            .map(|c| c.status.as_str().to_string()),
        None => None,
    };
    Ok(CardView {
        card: card.into(),
        delivery: delivery.into(),
        pin_mailers: pin_mailers.into_iter().map(Into::into).collect(),
        certificate_status,
    })
}

/// Files to delete once the transaction that destroyed their mailers has committed.
#[derive(Default)]
pub(super) struct AfterCommit {
    delete_mailers: Vec<String>,
}

/// Applies `event` to `card` inside `tx` and carries out its effects. Returns the card
/// as it is now.
pub(super) async fn transition(
    app: &App,
    tx: &mut Tx,
    actor: &Actor,
    card: &CardRow,
    event: CardEvent,
    detail: &str,
    after: &mut AfterCommit,
) -> Result<CardRow, AppError> {
    let now = app.now();
    let from = state_of(card)?;
    let t = from
        .apply(event)
        .map_err(|e| AppError::Rule(e.to_string()))?;
    tx.transition_card(&card.id, from.as_str(), card.version, t.state.as_str(), now)
        .await
        .map_err(|e| match e {
            kmn_store::StoreError::Conflict(_) => AppError::Conflict(format!(
                "利用者カード {} は他の操作で更新されました。もう一度お試しください",
                card.id
            )),
            e => e.into(),
        })?;
    for effect in &t.effects {
        match effect {
            CardEffect::Revoke { grounds } => {
                revoke_certificate(tx, actor, card, *grounds, now).await?;
            }
            CardEffect::HoldCertificate => {
                if let Some(serial) = &card.cert_serial_hex
                    && tx.hold_certificate(serial, now).await?
                {
                    defer_crl(tx, serial).await?;
                    audit(
                        tx,
                        actor,
                        "cert.hold",
                        &format!("cert:{serial}"),
                        card,
                        &format!(
                            "certificate {serial} of card {} put on hold ({})",
                            card.id,
                            event.as_str()
                        ),
                        now,
                    )
                    .await?;
                }
            }
            CardEffect::ReleaseCertificateHold => {
                if let Some(serial) = &card.cert_serial_hex
                    && tx.release_certificate_hold(serial, now).await?
                {
                    defer_crl(tx, serial).await?;
                    audit(
                        tx,
                        actor,
                        "cert.release_hold",
                        &format!("cert:{serial}"),
                        card,
                        &format!(
                            "certificate {serial} of card {} released from hold ({})",
                            card.id,
                            event.as_str()
                        ),
                        now,
                    )
                    .await?;
                }
            }
            CardEffect::ReleasePinMailer => {
                for m in tx.pin_mailers_of_card(&card.id).await? {
                    if m.state == "held" {
                        tx.transition_pin_mailer(&m.id, "held", "released", now)
                            .await?;
                        audit(
                            tx,
                            actor,
                            "pin_mailer.release",
                            &format!("pin_mailer:{}", m.id),
                            card,
                            &format!(
                                "PIN mailer {} of card {} released for dispatch after receipt",
                                m.id, card.id
                            ),
                            now,
                        )
                        .await?;
                    }
                }
            }
            CardEffect::DestroyPinMailer => {
                for m in tx.pin_mailers_of_card(&card.id).await? {
                    if m.state == "held" || m.state == "released" {
                        tx.transition_pin_mailer(&m.id, &m.state, "destroyed", now)
                            .await?;
                        audit(
                            tx,
                            actor,
                            "pin_mailer.destroy",
                            &format!("pin_mailer:{}", m.id),
                            card,
                            &format!(
                                "PIN mailer {} of card {} destroyed unsent ({})",
                                m.id,
                                card.id,
                                event.as_str()
                            ),
                            now,
                        )
                        .await?;
                        if m.produced_by == "center" {
                            after.delete_mailers.push(m.file_name.clone());
                        }
                    }
                }
            }
            CardEffect::NotifyFacility { template } => {
                let holder = super::applications::holder_name(tx, &card.holder_id).await?;
                let mut body = card_notice_ja(*template, &holder, &card.id);
                if !detail.trim().is_empty() {
                    body.push_str(&format!(
                        "\n\n{}: {}",
                        detail_label_ja(*template),
                        detail.trim()
                    ));
                }
                super::notify::notify(
                    tx,
                    &card.facility_code,
                    template.as_str(),
                    &format!("【くまもとメディカルネットワーク】{}", template.label_ja()),
                    &body,
                    Some(&format!("card:{}", card.id)),
                    now,
                )
                .await?;
            }
        }
    }
    audit(
        tx,
        actor,
        &format!("card.{}", event.as_str()),
        &format!("card:{}", card.id),
        card,
        &format!(
            "card {} {} → {} by {} ({}){}",
            card.id,
            from.as_str(),
            t.state.as_str(),
            actor.account_id,
            actor.audit_role(),
            if detail.is_empty() {
                String::new()
            } else {
                format!(": {detail}")
            }
        ),
        now,
    )
    .await?;
    load_card(tx, &card.id).await
}

/// A hold placed or released changes the CRL too (第8条): the same after-commit effect
/// as a revocation ([`kmn_domain::Effect::PublishCrl`]).
async fn defer_crl(tx: &mut Tx, serial: &str) -> Result<(), AppError> {
    if let Some(c) = tx.certificate(serial).await? {
        tx.defer(kmn_domain::Effect::PublishCrl { ca_name: c.ca_name });
    }
    Ok(())
}

/// The sentences of a notice about a card (第7条, 第8条, 第10条, 第11条, 第15条), as the
/// center writes them to a facility; `holder` as [`super::applications::holder_name`].
fn card_notice_ja(template: kmn_domain::NoticeKind, holder: &str, card: &str) -> String {
    use kmn_domain::NoticeKind as N;
    let c = format!("{holder}の利用者カード {card}");
    match template {
        N::CardShipped => format!(
            "{c}を本日発送いたしましたので、お知らせいたします。お手元に届きましたら、カード裏面のシリアル番号で受領確認をお願いいたします（利用規約第8条）。PIN通知書は、受領確認の後に別便でお送りいたします。"
        ),
        N::CardReceiptConfirmed => format!(
            "{c}の受領を確認いたしましたので、お知らせいたします。PIN通知書を別便でお送りいたします。カードは利用者ご本人に交付し、交付の記録をお願いいたします（利用規約第8条）。"
        ),
        N::CardLostInPost => format!(
            "{c}が配送中に紛失したため、電子証明書を失効いたしましたので、お知らせいたします（利用規約第8条・第11条）。PIN通知書は廃棄いたしました。お手数ですが、再発行の申請をお願いいたします。"
        ),
        N::CardRevokedForLoss => format!(
            "{c}について、紛失・盗難の届出により電子証明書を失効いたしましたので、お知らせいたします（利用規約第11条）。"
        ),
        N::CardSuspended => format!(
            "{c}の利用を停止いたしましたので、お知らせいたします。停止中はこのカードでログインできません。"
        ),
        N::CardResumed => {
            format!("{c}の利用を再開いたしましたので、お知らせいたします。")
        }
        N::CardDestroyed => format!(
            "ご返却いただいた{c}の廃棄を完了いたしましたので、お知らせいたします（利用規約第15条）。"
        ),
        N::CardReturnConfirmed => {
            format!("{c}のご返却を確認いたしましたので、お知らせいたします（利用規約第15条）。")
        }
        N::CardDamageReported => {
            format!("{c}の破損の届出を受け付けましたので、お知らせいたします。")
        }
        N::CardReturnRequested => format!(
            "{c}について、ご返却をお願いいたします（利用規約第15条）。サポートセンターの案内に従って返送してください。"
        ),
        N::CardExpired => format!(
            "{c}の有効期限が過ぎましたので、お知らせいたします（利用規約第10条）。引き続きご利用になる場合は、更新の申請をお願いいたします。"
        ),
        other => format!("{c}について、{}をお送りいたします。", other.label_ja()),
    }
}

/// What the free text recorded with a card step is, in a notice.
fn detail_label_ja(template: kmn_domain::NoticeKind) -> &'static str {
    use kmn_domain::NoticeKind as N;
    match template {
        N::CardShipped => "発送方法",
        N::CardReceiptConfirmed => "受領の連絡",
        N::CardLostInPost => "状況",
        N::CardRevokedForLoss => "届出",
        N::CardSuspended | N::CardResumed | N::CardReturnRequested => "理由",
        _ => "備考",
    }
}

async fn audit(
    tx: &mut Tx,
    actor: &Actor,
    action: &str,
    object: &str,
    card: &CardRow,
    summary: &str,
    now: i64,
) -> Result<(), AppError> {
    tx.append_audit(&NewAuditEvent {
        at: now,
        actor: &actor.account_id,
        action,
        object,
        facility: Some(&card.facility_code),
        summary,
    })
    .await?;
    Ok(())
}

/// A card step's revocation, through the one revocation path (already revoked: nothing
/// more to do).
async fn revoke_certificate(
    tx: &mut Tx,
    actor: &Actor,
    card: &CardRow,
    grounds: kmn_domain::RevocationGrounds,
    now: i64,
) -> Result<(), AppError> {
    let Some(serial) = &card.cert_serial_hex else {
        return Ok(());
    };
    let channel = match grounds {
        kmn_domain::RevocationGrounds::Termination => kmn_domain::RevocationChannel::Job,
        kmn_domain::RevocationGrounds::IssuanceAbandoned => kmn_domain::RevocationChannel::Station,
        _ => kmn_domain::RevocationChannel::Delivery,
    };
    crate::ca::revoke::revoke_in_tx(
        tx,
        &crate::ca::revoke::Order {
            serial_hex: serial,
            grounds,
            channel,
            comment: Some(&format!("利用者カード {}", card.id)),
            requested_by: &actor.account_id,
            received_at: now,
            invalidity_date: None,
            facility: Some(&card.facility_code),
        },
        now,
    )
    .await
    .map(|_| ())
}

/// Commits one card step (or rolls it back) and deletes destroyed mailer files after
/// the commit.
pub(super) async fn done(
    mut tx: Tx,
    r: Result<CardRow, AppError>,
    after: AfterCommit,
) -> Result<CardView, AppError> {
    let r = match r {
        Ok(card) => view_in_tx(&mut tx, card).await,
        Err(e) => Err(e),
    };
    let v = finish(tx, r).await?;
    for name in after.delete_mailers {
        shred(std::path::Path::new(&name));
    }
    Ok(v)
}

/// Commits (or rolls back) a transaction that may have destroyed mailers, then deletes
/// their files.
pub(super) async fn finish_with<T>(
    tx: Tx,
    r: Result<T, AppError>,
    after: AfterCommit,
) -> Result<T, AppError> {
    let v = finish(tx, r).await?;
    for name in after.delete_mailers {
        shred(std::path::Path::new(&name));
    }
    Ok(v)
}

/// Overwrites a file with zeros, then removes it (best effort: the record of its
/// destruction is already committed).
pub fn shred(path: &std::path::Path) {
    if let Ok(meta) = std::fs::metadata(path) {
        let zeros = vec![0u8; meta.len() as usize];
        let _ = std::fs::write(path, zeros);
        if let Ok(f) = std::fs::File::open(path) {
            let _ = f.sync_all();
        }
    }
    let _ = std::fs::remove_file(path);
}

/// The center records that a personalized card was sent (第7条).
pub async fn ship(
    app: &App,
    who: &Center,
    card_id: &str,
    method: &str,
    tracking_number: Option<&str>,
) -> Result<CardView, AppError> {
    let actor = who.actor();
    let method = clean("発送方法", method, 100)?;
    if method.is_empty() {
        return Err(AppError::BadInput(
            "発送方法を入力してください（例: 簡易書留、特定記録郵便）".into(),
        ));
    }
    let tracking = tracking_number
        .map(|t| clean("追跡番号", t, 64))
        .transpose()?
        .filter(|t| !t.is_empty());
    let mut tx = app.store.begin().await?;
    let mut after = AfterCommit::default();
    let r = async {
        let (tx, after) = (&mut tx, &mut after);
        let card = load_card(tx, card_id).await?;
        let detail = format!(
            "{method}{}",
            tracking
                .as_deref()
                .map(|t| format!("（追跡番号 {t}）"))
                .unwrap_or_default()
        );
        let card = transition(app, tx, actor, &card, CardEvent::Ship, &detail, after).await?;
        tx.record_shipping(
            &card.id,
            app.now(),
            &actor.account_id,
            &method,
            tracking.as_deref(),
        )
        .await?;
        Ok(card)
    }
    .await;
    done(tx, r, after).await
}

/// The facility desk confirms receipt by the serial printed on the card (the token
/// serial), 第8条1. Releases the PIN mailer for dispatch and, under
/// `hold_until_receipt`, the certificate's hold.
pub async fn confirm_receipt_by_serial(
    app: &App,
    who: &Registrar,
    token_serial: &str,
) -> Result<CardView, AppError> {
    let actor = who.actor();
    let serial = clean("カードのシリアル番号", token_serial, 32)?;
    if serial.is_empty() {
        return Err(AppError::BadInput(
            "カードのシリアル番号を入力してください".into(),
        ));
    }
    let mut tx = app.store.begin().await?;
    let mut after = AfterCommit::default();
    let r = async {
        let (tx, after) = (&mut tx, &mut after);
            let card = tx.card_by_token_serial(&serial).await?.ok_or_else(|| {
                AppError::NotFound(format!(
                    "シリアル番号 {serial} の利用者カードは見つかりません。カード裏面の番号をご確認ください"
                ))
            })?;
            // A desk of another facility learns nothing about the card.
            if !who.scope().admits(&card.facility_code) {
                return Err(AppError::NotFound(format!(
                    "シリアル番号 {serial} の利用者カードは見つかりません。カード裏面の番号をご確認ください"
                )));
            }
            let card = transition(
                app,
                tx,
                actor,
                &card,
                CardEvent::ConfirmReceipt,
                ReceiptChannel::Desk.label_ja(),
                after,
            )
            .await?;
            tx.record_receipt(&card.id, app.now(), &actor.account_id, ReceiptChannel::Desk.as_str(), None)
                .await?;
            Ok(card)
    }
    .await;
    done(tx, r, after).await
}

/// The center records a receipt that arrived on paper or by phone, for a facility
/// whose desk has no card yet (第8条1).
pub async fn record_receipt(
    app: &App,
    who: &Center,
    card_id: &str,
    channel: ReceiptChannel,
    note: &str,
) -> Result<CardView, AppError> {
    let actor = who.actor();
    if channel == ReceiptChannel::Desk {
        return Err(AppError::BadInput(
            "窓口での受領確認は施設窓口のアカウントで行ってください".into(),
        ));
    }
    let note = clean("受領の記録", note, 200)?;
    if note.is_empty() {
        return Err(AppError::BadInput(
            "受領の記録（連絡をくれた方の氏名など）を入力してください".into(),
        ));
    }
    let mut tx = app.store.begin().await?;
    let mut after = AfterCommit::default();
    let r = async {
        let (tx, after) = (&mut tx, &mut after);
        let card = load_card(tx, card_id).await?;
        let detail = format!("{}: {note}", channel.label_ja());
        let card = transition(
            app,
            tx,
            actor,
            &card,
            CardEvent::ConfirmReceipt,
            &detail,
            after,
        )
        .await?;
        tx.record_receipt(
            &card.id,
            app.now(),
            &actor.account_id,
            channel.as_str(),
            Some(&note),
        )
        .await?;
        Ok(card)
    }
    .await;
    done(tx, r, after).await
}

/// The desk records the handover to the holder (第8条1): to whom (the name it checked)
/// and when (now, or an earlier time the desk states; never before receipt, never in
/// the future).
pub async fn hand_over(
    app: &App,
    who: &Registrar,
    card_id: &str,
    handed_to: &str,
    at: Option<i64>,
) -> Result<CardView, AppError> {
    let actor = who.actor();
    // Rights first, then the card (absent and foreign answer alike), then the input.
    let scope = who.scope().clone();
    let mut tx = app.store.begin().await?;
    let mut after = AfterCommit::default();
    let r = async {
        let (tx, after) = (&mut tx, &mut after);
            let card = load_visible_card(tx, &scope, card_id).await?;
            let to = clean("受け取った方の氏名", handed_to, 64)?;
            if to.is_empty() {
                return Err(AppError::BadInput(
                    "受け取った方（利用者本人）の氏名を入力してください".into(),
                ));
            }
            let now = app.now();
            let at = at.unwrap_or(now);
            if at > now + 300 {
                return Err(AppError::BadInput(
                    "交付日時に未来の日時は指定できません".into(),
                ));
            }
            let d = tx.delivery(&card.id).await?;
            if let Some(received) = d.received_at
                && at < received
            {
                return Err(AppError::BadInput(format!(
                    "交付日時が受領確認（{}）より前になっています",
                    time::OffsetDateTime::from_unix_timestamp(received)
                        .map(kmn_domain::time_fmt::ja_datetime)
                        .unwrap_or_default()
                )));
            }
            if let Some(person) = tx.person(&card.holder_id).await?
                && !kmn_domain::person::same_person_name(
                    &to,
                    &[&person.name_kanji, &person.name_kana],
                )
            {
                return Err(AppError::Rule(format!(
                    "受け取った方の氏名「{to}」がカードの利用者「{}」と一致しません。利用者本人に交付してください（利用規約第8条）",
                    person.name_kanji
                )));
            }
            let card = transition(
                app,
                tx,
                actor,
                &card,
                CardEvent::HandOver,
                &format!("{to} に交付"),
                after,
            )
            .await?;
            tx.record_handover(&card.id, at, &to, &actor.account_id, now)
                .await?;
            Ok(card)
    }
    .await;
    done(tx, r, after).await
}

/// The center records that a shipped card was lost in the post: its certificate is
/// revoked (keyCompromise, 第11条) and its PIN mailer, never sent, destroyed.
pub async fn lost_in_post(
    app: &App,
    who: &Center,
    card_id: &str,
    note: &str,
) -> Result<CardView, AppError> {
    let actor = who.actor();
    let note = clean("紛失の状況", note, 200)?;
    if note.is_empty() {
        return Err(AppError::BadInput(
            "紛失の状況（配送業者の回答など）を入力してください".into(),
        ));
    }
    let mut tx = app.store.begin().await?;
    let mut after = AfterCommit::default();
    let r = async {
        let (tx, after) = (&mut tx, &mut after);
        let card = load_card(tx, card_id).await?;
        let card = transition(app, tx, actor, &card, CardEvent::LostInPost, &note, after).await?;
        tx.record_lost_in_post(&card.id, app.now(), &note).await?;
        Ok(card)
    }
    .await;
    done(tx, r, after).await
}

/// One card step that writes nothing beyond the transition and its effects.
async fn step(
    app: &App,
    actor: &Actor,
    card_id: &str,
    event: CardEvent,
    detail: &str,
) -> Result<CardView, AppError> {
    let mut tx = app.store.begin().await?;
    let mut after = AfterCommit::default();
    let r = async {
        let card = load_card(&mut tx, card_id).await?;
        transition(app, &mut tx, actor, &card, event, detail, &mut after).await
    }
    .await;
    done(tx, r, after).await
}

/// The center suspends a card in use (its certificate goes on certificateHold, listed in
/// the next CRL at once) or lifts the suspension (the hold is released).
pub async fn suspend_or_resume(
    app: &App,
    who: &Center,
    card_id: &str,
    suspend: bool,
    reason: &str,
) -> Result<CardView, AppError> {
    let actor = who.actor();
    let reason = clean("理由", reason, 200)?;
    if reason.is_empty() {
        return Err(AppError::BadInput("理由を入力してください".into()));
    }
    let event = if suspend {
        CardEvent::Suspend
    } else {
        CardEvent::Resume
    };
    step(app, actor, card_id, event, &reason).await
}

/// The center records that a card came back (第15条): asked for, damaged, or a lost
/// card that turned up. It can then be destroyed.
pub async fn record_return(
    app: &App,
    who: &Center,
    card_id: &str,
    note: &str,
) -> Result<CardView, AppError> {
    let actor = who.actor();
    let note = clean("返却の記録", note, 200)?;
    step(app, actor, card_id, CardEvent::ConfirmReturn, &note).await
}

/// Records the destruction of a card back at the center (第15条), or of a card spoiled
/// at the station before shipping (its certificate is revoked and its mailer destroyed).
/// The token itself is wiped by `kmn card destroy` before this is recorded.
pub async fn record_destruction(
    app: &App,
    who: &Center,
    card_id: &str,
    detail: &str,
) -> Result<CardView, AppError> {
    let actor = who.actor();
    step(app, actor, card_id, CardEvent::Destroy, detail).await
}

/// The center records that a released PIN mailer was sent to the facility.
pub async fn mailer_dispatched(
    app: &App,
    who: &Center,
    mailer_id: &str,
) -> Result<crate::views::PinMailer, AppError> {
    let r: Result<PinMailerRow, AppError> = async {
    let actor = who.actor();
    let mut tx = app.store.begin().await?;
    let r = async {
        let m = tx.pin_mailer(mailer_id).await?.ok_or_else(|| {
            AppError::NotFound(format!("PIN通知書 {mailer_id} はありません"))
        })?;
        match m.state.as_str() {
            "released" => {}
            "held" => {
                return Err(AppError::Rule(format!(
                    "PIN通知書 {mailer_id} は施設の受領確認がまだのため発送できません（利用規約第8条）"
                )));
            }
            "dispatched" => {
                return Err(AppError::Rule(format!(
                    "PIN通知書 {mailer_id} は発送済みです"
                )));
            }
            _ => {
                return Err(AppError::Rule(format!(
                    "PIN通知書 {mailer_id} は廃棄済みです"
                )));
            }
        }
        let now = app.now();
        tx.transition_pin_mailer(&m.id, "released", "dispatched", now)
            .await
            .map_err(|_| AppError::Conflict(format!("PIN通知書 {mailer_id} は他の操作で更新されました")))?;
        let card = load_card(&mut tx, &m.card_id).await?;
        audit(&mut tx, actor, "pin_mailer.dispatch", &format!("pin_mailer:{}", m.id), &card, &format!("PIN mailer {} of card {} dispatched", m.id, card.id), now).await?;
        Ok(tx.pin_mailer(mailer_id).await?.unwrap_or(m))
    }
    .await;
    finish(tx, r).await
}
    .await;
    r.map(Into::into)
}

/// PIN mailers in a state (`held`, `released`, `dispatched`, `destroyed`; all when None).
pub async fn list_mailers(
    app: &App,
    right: &Center,
    state: Option<&str>,
) -> Result<Vec<crate::views::PinMailer>, AppError> {
    let r: Result<Vec<PinMailerRow>, AppError> = async {
        if let Some(s) = state
            && !matches!(s, "held" | "released" | "dispatched" | "destroyed")
        {
            return Err(AppError::BadInput(format!(
                "PIN通知書の状態 '{s}' はありません（held, released, dispatched, destroyed）"
            )));
        }
        let mut tx = app.store.read().await?;
        let r = tx.list_pin_mailers(state, 1000).await;
        tx.rollback().await?;
        Ok(r?)
    }
    .await;
    let v = r?;
    crate::audit::log_read(app, right.actor(), "list", "pin_mailers", None).await?;
    Ok(v.into_iter().map(Into::into).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 12: every notice about a card is whole polite sentences naming the holder
    /// and the card, not a title glued into a sentence.
    #[test]
    fn issue12_card_notices_are_whole_polite_sentences() {
        for &t in kmn_domain::NoticeKind::ALL {
            let s = card_notice_ja(t, "利用者 山田　花子 様（H00000012）", "C00000002");
            assert!(
                s.starts_with("利用者 山田　花子 様（H00000012）の利用者カード C00000002")
                    || s.starts_with("ご返却いただいた利用者 山田"),
                "{t:?}: {s}"
            );
            assert!(s.ends_with('。'), "{t:?}: {s}");
            assert!(
                s.contains("お知らせいたします")
                    || s.contains("お願いいたします")
                    || s.contains("をお送りいたします。"),
                "{t:?}: {s}"
            );
            assert!(!s.contains("について、お知らせがあります"), "{t:?}: {s}");
        }
        assert!(
            card_notice_ja(
                kmn_domain::NoticeKind::CardShipped,
                "利用者 X 様（H1）",
                "C1"
            )
            .contains("を本日発送いたしましたので、お知らせいたします。")
        );
    }
}

//! Emergency revocation (第11条, issue 10 item 2): a card lost, stolen, or feared
//! misused is revoked at once, at any hour, without a review first — by the facility's
//! desk for its own holders' cards ([`by_desk`]), or by a support-center operator
//! taking a telephone call ([`by_phone`]: the caller, the callback number and how
//! identity was checked are recorded, and every such revocation is put to a supervisor
//! for review afterwards, as a `Proposal` of kind [`PHONE_REVIEW_KIND`]).
//!
//! One transaction: the certificate revoked through the one revocation path
//! ([`crate::ca::revoke::revoke_in_tx`]: grounds `emergency:<cause>`, keyCompromise,
//! 第11条, the channel, when the request arrived, the last time the card was known safe
//! as invalidityDate), the card moved through its own transitions (lost or stolen:
//! `lost`, its unsent PIN mailer destroyed; feared misuse: asked back, 第15条), the
//! facility's notice and the audit event. The CRL (within a second) and OCSP (within
//! about 100 ms) follow from `kmn serve`. After the commit a loss report (紛失届) is
//! drafted for the desk to complete. One account revoking many cards within an hour
//! raises an alert (`alert.emergency_revocations` in the audit log, and the log).

use kmn_domain::{CardEvent, CardState, EmergencyCause, RevocationChannel, RevocationGrounds};
use kmn_store::NewAuditEvent;

use super::delivery::{AfterCommit, clean, done, load_visible_card, state_of, transition};
use crate::actor::Actor;
use crate::ca::revoke::{Order, Outcome, revoke_in_tx};
use crate::rights::{Center, Registrar};
use crate::{App, AppError};

/// The proposal kind of the supervisor's review of a telephone revocation.
pub const PHONE_REVIEW_KIND: &str = "emergency_revocation_review";

/// What the reporter says.
#[derive(Clone, Debug)]
pub struct EmergencyReport {
    /// Lost, stolen, or misuse feared (第11条).
    pub cause: EmergencyCause,
    /// The last time the card was known to be safe (invalidityDate), Unix seconds.
    pub last_known_safe: Option<i64>,
    /// Free text (where and how it was lost, …).
    pub note: String,
}

/// A telephone call to the support center.
#[derive(Clone, Debug)]
pub struct PhoneCall {
    /// Who called (name, and their relation to the holder).
    pub caller: String,
    /// The number to call back.
    pub callback: String,
    /// How the caller's identity was checked.
    pub identity_check: String,
    /// When the call came in (defaults to now).
    pub received_at: Option<i64>,
}

/// What an emergency revocation did.
#[derive(Clone, Debug, serde::Serialize)]
pub struct EmergencyRevocation {
    /// The card, as it is now.
    pub card: super::delivery::CardView,
    /// The revoked certificate.
    pub serial_hex: String,
    /// Revocation time (Unix seconds).
    pub revoked_at: i64,
    /// The grounds' code (`emergency:lost`, …).
    pub grounds: String,
    /// The grounds as people read them.
    pub grounds_label: String,
    /// The loss report drafted for the desk to complete (lost or stolen).
    pub draft_application: Option<String>,
    /// Why no loss report could be drafted, if so (the revocation stands).
    pub draft_error: Option<String>,
    /// The supervisor's review of a telephone revocation.
    pub review_proposal: Option<String>,
    /// Whether this account revoked many cards within the hour (an alert was raised).
    pub alert: bool,
}

/// The facility's desk (or the center) revokes a card of its own facility at once.
pub async fn by_desk(
    app: &App,
    who: &Registrar,
    card_id: &str,
    r: &EmergencyReport,
) -> Result<EmergencyRevocation, AppError> {
    run(app, who.actor(), who, card_id, r, None).await
}

/// A support-center operator revokes at once on a telephone call; the act is put to a
/// supervisor for review.
pub async fn by_phone(
    app: &App,
    who: &Center,
    card_id: &str,
    r: &EmergencyReport,
    call: &PhoneCall,
) -> Result<EmergencyRevocation, AppError> {
    run(app, who.actor(), &who.registrar(), card_id, r, Some(call)).await
}

// --- The emergency code (第11条): kept as an HMAC under the center's pepper -------------

/// Wrong codes for one card number before the form stops answering for it (then the
/// support center's telephone number is shown).
pub const MAX_CODE_FAILURES: i64 = 5;

/// The center's pepper for emergency codes: `KMN_EMERGENCY_CODE_PEPPER(_FILE)`, or
/// `<data-dir>/secrets/emergency-code-pepper` (made on first use, 32 random bytes, mode
/// 0600). A database alone does not let anyone test codes offline. Read once per data
/// dir and process: the public form asks for it on every request.
pub fn code_pepper(app: &App) -> Result<Vec<u8>, AppError> {
    type Peppers = std::collections::HashMap<std::path::PathBuf, Vec<u8>>;
    static READ: std::sync::Mutex<Option<Peppers>> = std::sync::Mutex::new(None);
    if let Some(p) = READ
        .lock()
        .ok()
        .and_then(|m| m.as_ref().and_then(|m| m.get(&app.data_dir).cloned()))
    {
        return Ok(p);
    }
    let p = read_pepper(app)?;
    if let Ok(mut m) = READ.lock() {
        m.get_or_insert_with(Default::default)
            .insert(app.data_dir.clone(), p.clone());
    }
    Ok(p)
}

fn read_pepper(app: &App) -> Result<Vec<u8>, AppError> {
    if let Some(p) = crate::config::env_or_file("KMN_EMERGENCY_CODE_PEPPER")? {
        return Ok(p.into_bytes());
    }
    let path = app.data_dir.join("secrets/emergency-code-pepper");
    match std::fs::read(&path) {
        Ok(b) => Ok(b),
        Err(_) => {
            crate::secrets::ensure_dir(&app.data_dir.join("secrets"), 0o700)?;
            let mut b = [0u8; 32];
            aws_lc_rs::rand::fill(&mut b)
                .map_err(|_| AppError::Internal("no randomness".into()))?;
            let hex = hex::encode(b);
            crate::secrets::write_atomic(&path, hex.as_bytes(), 0o600)?;
            Ok(hex.into_bytes())
        }
    }
}

fn inner_hash(salt: &[u8], code: &str) -> Vec<u8> {
    use sha2::Digest;
    sha2::Sha256::digest([salt, code.as_bytes()].concat()).to_vec()
}

fn mac(pepper: &[u8], inner: &[u8]) -> Vec<u8> {
    let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, pepper);
    aws_lc_rs::hmac::sign(&key, inner).as_ref().to_vec()
}

/// The stored form of a new emergency code: `hmac1$<salt>$<HMAC-SHA256(pepper,
/// SHA-256(salt ‖ code))>`, hex. A plain HMAC, not a slow KDF: a flood of guesses must
/// not delay the 1 s CRL on two cores; the per-card lockout bounds the guesses.
pub fn seal_code(pepper: &[u8], code: &str) -> Result<String, AppError> {
    let mut salt = [0u8; 16];
    aws_lc_rs::rand::fill(&mut salt).map_err(|_| AppError::Internal("no randomness".into()))?;
    Ok(format!(
        "hmac1${}${}",
        hex::encode(salt),
        hex::encode(mac(pepper, &inner_hash(&salt, code)))
    ))
}

/// Wraps a salted hash stored before issue 10 (`<salt>$<SHA-256(salt ‖ code)>`) in the
/// HMAC; None for a value that is neither.
pub fn wrap_legacy_code(pepper: &[u8], stored: &str) -> Option<String> {
    let (salt, inner) = stored.split_once('$')?;
    let (salt_b, inner_b) = (hex::decode(salt).ok()?, hex::decode(inner).ok()?);
    if salt_b.len() != 16 || inner_b.len() != 32 {
        return None;
    }
    Some(format!(
        "hmac1${salt}${}",
        hex::encode(mac(pepper, &inner_b))
    ))
}

/// Whether `code` is the one sealed in `stored` (constant time in the MAC).
pub fn code_matches(pepper: &[u8], stored: &str, code: &str) -> bool {
    let mut parts = stored.splitn(3, '$');
    let (Some("hmac1"), Some(salt), Some(tag)) = (parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    let (Ok(salt), Ok(tag)) = (hex::decode(salt), hex::decode(tag)) else {
        return false;
    };
    let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, pepper);
    aws_lc_rs::hmac::verify(&key, &inner_hash(&salt, code), &tag).is_ok()
}

/// Wraps every stored legacy hash in the HMAC (`kmn serve` at start); returns how many.
pub async fn wrap_legacy_codes(app: &App) -> Result<usize, AppError> {
    let pepper = code_pepper(app)?;
    let mut tx = app.store.begin().await?;
    let r = async {
        let mut n = 0;
        for (id, old) in tx.cards_with_legacy_codes().await? {
            if let Some(new) = wrap_legacy_code(&pepper, &old)
                && tx
                    .replace_card_revocation_code(&id, &old, Some(&new))
                    .await?
            {
                n += 1;
            }
        }
        Ok::<_, AppError>(n)
    }
    .await;
    crate::finish(tx, r).await
}

/// How long a form token of the holder's form is accepted, seconds.
pub const FORM_TOKEN_SECS: i64 = 30 * 60;

fn form_mac(pepper: &[u8], at: i64) -> aws_lc_rs::hmac::Tag {
    let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, pepper);
    aws_lc_rs::hmac::sign(&key, format!("emergency-form|{at}").as_bytes())
}

/// A token for the holder's form (its time and an HMAC of it under the pepper): a post
/// without a fresh one is refused.
pub fn form_token(app: &App) -> Result<String, AppError> {
    let pepper = code_pepper(app)?;
    let at = app.now();
    Ok(format!(
        "{at}.{}",
        hex::encode(form_mac(&pepper, at).as_ref())
    ))
}

/// Whether a form token is ours and at most [`FORM_TOKEN_SECS`] old.
pub fn form_token_ok(app: &App, token: &str) -> bool {
    let Some((at, mac)) = token.split_once('.') else {
        return false;
    };
    let (Ok(at), Ok(mac)) = (at.parse::<i64>(), hex::decode(mac)) else {
        return false;
    };
    let now = app.now();
    if at > now || now - at > FORM_TOKEN_SECS {
        return false;
    }
    let Ok(pepper) = code_pepper(app) else {
        return false;
    };
    let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, &pepper);
    aws_lc_rs::hmac::verify(&key, format!("emergency-form|{at}").as_bytes(), &mac).is_ok()
}

/// What the holder's form answers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HolderAnswer {
    /// Revoked now: the card id and when.
    Revoked {
        /// Card id.
        card_id: String,
        /// Revocation time.
        revoked_at: i64,
    },
    /// The card was revoked before (a correct code, used or not).
    AlreadyRevoked {
        /// Card id.
        card_id: String,
    },
    /// An unknown card number or a wrong code — one answer for both.
    Refused,
    /// Too many wrong codes for this card number: call the support center.
    LockedOut,
}

/// The holder revokes their own card with the card number and the emergency code printed
/// on the PIN mailer (第11条). An unknown card and a wrong code get the same answer and
/// the same work (an HMAC and a write); after [`MAX_CODE_FAILURES`] wrong codes for a
/// card number the form answers [`HolderAnswer::LockedOut`] whatever is typed. The code
/// is single-use. `from` (the client's address) goes into the audit event.
pub async fn by_holder(
    app: &App,
    card_number: &str,
    code: &str,
    cause: EmergencyCause,
    from: &str,
) -> Result<HolderAnswer, AppError> {
    let number = normalize_card_id(card_number);
    let number: String = number.chars().take(32).collect();
    let code: String = code
        .chars()
        .filter(|c| !matches!(c, '-' | ' ' | '　'))
        .take(64)
        .collect();
    let pepper = code_pepper(app)?;
    let now = app.now();
    let mut tx = app.store.begin().await?;
    let r = async {
        if tx.emergency_failures(&number).await? >= MAX_CODE_FAILURES {
            return Ok(HolderAnswer::LockedOut);
        }
        let card = tx.card(&number).await?;
        // The same queries whether or not there is a card (the timing tells nothing).
        let stored = tx
            .card_revocation_code(card.as_ref().map_or("", |c| c.id.as_str()))
            .await?
            .filter(|_| card.is_some());
        // The same HMAC whether or not there is a card.
        let ok = code_matches(
            &pepper,
            stored
                .as_deref()
                .unwrap_or("hmac1$00000000000000000000000000000000$00"),
            &code,
        );
        let (Some(card), true) = (card, ok) else {
            tx.record_emergency_failure(&number, now).await?;
            return Ok(HolderAnswer::Refused);
        };
        let Some(serial) = card.cert_serial_hex.clone() else {
            return Ok(HolderAnswer::AlreadyRevoked { card_id: card.id });
        };
        // Single use: the code is spent with the revocation, in this transaction.
        tx.replace_card_revocation_code(&card.id, stored.as_deref().unwrap_or_default(), None)
            .await?;
        let actor = Actor::holder(&card.holder_id);
        let outcome = revoke_in_tx(
            &mut tx,
            &Order {
                serial_hex: &serial,
                grounds: RevocationGrounds::Emergency(cause),
                channel: RevocationChannel::Holder,
                comment: Some(&format!(
                    "利用者本人の緊急失効フォーム（{}、接続元 {from}）",
                    cause.label_ja()
                )),
                requested_by: &actor.account_id,
                received_at: now,
                invalidity_date: None,
                facility: Some(&card.facility_code),
            },
            now,
        )
        .await?;
        if outcome == Outcome::AlreadyRevoked {
            return Ok(HolderAnswer::AlreadyRevoked { card_id: card.id });
        }
        let event = match cause {
            EmergencyCause::Lost | EmergencyCause::Stolen => CardEvent::ReportLost,
            EmergencyCause::FearedMisuse => CardEvent::RequestReturn,
        };
        let mut after = AfterCommit::default();
        if state_of(&card)?.apply(event).is_ok() {
            transition(
                app,
                &mut tx,
                &actor,
                &card,
                event,
                &format!("利用者本人による緊急失効（{}）", cause.label_ja()),
                &mut after,
            )
            .await?;
        }
        tx.append_audit(&NewAuditEvent {
            at: now,
            actor: &actor.account_id,
            action: "card.emergency_revocation",
            object: &format!("card:{}", card.id),
            facility: Some(&card.facility_code),
            summary: &format!(
                "card {}: certificate {serial} revoked at once by its holder with the emergency code ({}, holder, from {from})",
                card.id,
                RevocationGrounds::Emergency(cause).code()
            ),
        })
        .await?;
        // The holder's own notice, in this transaction (the facility's came with the
        // card's transition).
        mail_holder(app, &mut tx, &card, &serial, cause, now).await?;
        Ok(HolderAnswer::Revoked {
            card_id: card.id,
            revoked_at: now,
        })
    }
    .await;
    crate::finish(tx, r).await
}

/// The holder's notice of their own emergency revocation (第11条): a mail to the
/// registered e-mail address, when there is one, queued in the outbox for the SMTP
/// sender — what was revoked, when, and what comes next (the desk completes the loss
/// report; a new card is a reissue). Returns the mail's id.
async fn mail_holder(
    app: &App,
    tx: &mut kmn_store::Tx,
    card: &kmn_store::CardRow,
    serial_hex: &str,
    cause: EmergencyCause,
    now: i64,
) -> Result<Option<String>, AppError> {
    let Some(person) = tx.person(&card.holder_id).await? else {
        return Ok(None);
    };
    let to = person.work_email.trim();
    if to.is_empty() {
        return Ok(None);
    }
    let facility = tx
        .facility(&card.facility_code)
        .await?
        .map_or_else(|| card.facility_code.clone(), |f| f.name_kanji);
    let support = if app.cfg.support_center_phone.is_empty() {
        "サポートセンター".to_string()
    } else {
        format!(
            "サポートセンター（電話 {}、24時間受付）",
            app.cfg.support_center_phone
        )
    };
    let next = match cause {
        EmergencyCause::Lost | EmergencyCause::Stolen => format!(
            "1. ご所属の{facility}の窓口に、カードを紛失（または盗難）したことをお伝えください。窓口が紛失届を記入して提出します。{}\n\
             2. 新しいカードが必要なときは、窓口で再発行の申請をしてください。新しいカードとPIN通知書は、申請が承認された後にお届けします。\n\
             3. 失効した証明書は元に戻せません。後でカードが見つかったときは、使わずに窓口へ返却してください（利用規約第15条）。",
            if cause == EmergencyCause::Stolen {
                "盗難の場合は、警察への届出もお願いします。"
            } else {
                ""
            }
        ),
        EmergencyCause::FearedMisuse => format!(
            "1. カードはお使いにならず、ご所属の{facility}の窓口へ返却してください（利用規約第15条）。\n\
             2. 新しいカードが必要なときは、窓口で再発行の申請をしてください。新しいカードとPIN通知書は、申請が承認された後にお届けします。\n\
             3. 失効した証明書は元に戻せません。"
        ),
    };
    let when = kmn_domain::time_fmt::ja_unix_secs(now);
    let body = format!(
        "{name} 様\n\n\
         くまもとメディカルネットワークの利用者カード {card_id} の電子証明書（シリアル番号 {serial_hex}）を、\
         {when}（日本時間）に失効いたしましたので、お知らせいたします。ご本人が緊急失効フォームから届け出られた「{cause}」によるものです（利用規約第11条）。\
         これ以降、このカードではログインも電子署名もできません。\n\n\
         今後のお手続き\n{next}\n\n\
         この届出にお心当たりがない場合は、すぐに{support}へご連絡ください。\n\n\
         --\nくまもとメディカルネットワーク サポートセンター（熊本県医師会）\n\
         （このメールは送信専用です。お問い合わせはサポートセンターまでお願いいたします。）",
        name = person.name_kanji,
        card_id = card.id,
        cause = cause.label_ja(),
    );
    let id = format!("M{}", hex::encode(crate::ca::new_serial().as_bytes()));
    tx.queue_mail(
        &id,
        to,
        &format!(
            "【くまもとメディカルネットワーク】利用者カード {} の電子証明書失効のお知らせ",
            card.id
        ),
        &body,
        now,
    )
    .await?;
    Ok(Some(id))
}

/// A card number as people type it: case and hyphens ignored (C00000002, c-0000-0002).
pub fn normalize_card_id(s: &str) -> String {
    s.trim()
        .chars()
        .filter(|c| !matches!(c, '-' | ' ' | '　'))
        .collect::<String>()
        .to_uppercase()
}

async fn run(
    app: &App,
    actor: &Actor,
    registrar: &Registrar,
    card_id: &str,
    r: &EmergencyReport,
    call: Option<&PhoneCall>,
) -> Result<EmergencyRevocation, AppError> {
    let card_id = normalize_card_id(card_id);
    let note = clean("状況の説明", &r.note, 500)?;
    let now = app.now();
    if let Some(t) = r.last_known_safe
        && t > now
    {
        return Err(AppError::BadInput(
            "最後に安全が確認できた日時に未来の日時は指定できません".into(),
        ));
    }
    let call = match call {
        None => None,
        Some(c) => {
            let caller = clean("電話をかけてきた方", &c.caller, 100)?;
            let callback = clean("折り返しの電話番号", &c.callback, 40)?;
            let identity = clean("本人確認の方法", &c.identity_check, 200)?;
            if caller.is_empty() || callback.is_empty() || identity.chars().count() < 4 {
                return Err(AppError::BadInput(
                    "電話での緊急失効には、電話をかけてきた方、折り返しの電話番号、本人確認の方法（確認した事項）が必要です".into(),
                ));
            }
            if c.received_at.is_some_and(|t| t > now) {
                return Err(AppError::BadInput(
                    "電話を受けた日時に未来の日時は指定できません".into(),
                ));
            }
            Some((caller, callback, identity, c.received_at.unwrap_or(now)))
        }
    };
    let grounds = RevocationGrounds::Emergency(r.cause);
    let channel = if call.is_some() {
        RevocationChannel::Phone
    } else {
        RevocationChannel::Desk
    };
    let mut tx = app.store.begin().await?;
    let mut after = AfterCommit::default();
    let res = async {
        let card = load_visible_card(&mut tx, registrar.scope(), &card_id).await?;
        let serial = card.cert_serial_hex.clone().ok_or_else(|| {
            AppError::Rule(format!(
                "利用者カード {card_id} にはまだ証明書がありません（失効させるものがありません）"
            ))
        })?;
        let comment = match &call {
            None => format!("窓口からの緊急失効（{}）: {note}", r.cause.label_ja()),
            Some((caller, callback, identity, _)) => format!(
                "電話による緊急失効（{}）: 架電者 {caller}、折り返し {callback}、本人確認 {identity}。{note}",
                r.cause.label_ja()
            ),
        };
        let outcome = revoke_in_tx(
            &mut tx,
            &Order {
                serial_hex: &serial,
                grounds,
                channel,
                comment: Some(&comment),
                requested_by: &actor.account_id,
                received_at: call.as_ref().map_or(now, |c| c.3),
                invalidity_date: r.last_known_safe,
                facility: Some(&card.facility_code),
            },
            now,
        )
        .await?;
        if outcome == Outcome::AlreadyRevoked {
            return Err(AppError::Conflict(format!(
                "利用者カード {card_id} の証明書（シリアル {serial}）は既に失効しています"
            )));
        }
        // The card's own transitions: a lost or stolen card is `lost` (its unsent PIN
        // mailer destroyed, the facility notified); one feared misused is asked back.
        let event = match r.cause {
            EmergencyCause::Lost | EmergencyCause::Stolen => CardEvent::ReportLost,
            EmergencyCause::FearedMisuse => CardEvent::RequestReturn,
        };
        let from: CardState = state_of(&card)?;
        let card = if from.apply(event).is_ok() {
            transition(
                app,
                &mut tx,
                actor,
                &card,
                event,
                &format!("緊急失効（{}、{}）", r.cause.label_ja(), channel.label_ja()),
                &mut after,
            )
            .await?
        } else {
            card
        };
        let review = match &call {
            None => None,
            Some((caller, callback, identity, received)) => Some(
                crate::proposal::propose_in_tx(
                    &mut tx,
                    actor,
                    PHONE_REVIEW_KIND,
                    &serde_json::json!({
                        "card_id": card_id,
                        "serial_hex": serial,
                        "cause": r.cause.as_str(),
                        "caller": caller,
                        "callback": callback,
                        "identity_check": identity,
                        "call_received_at": received,
                        "revoked_at": now,
                        "operator": actor.account_id,
                    }),
                    now,
                    app.cfg.proposal_ttl_hours,
                )
                .await?
                .id,
            ),
        };
        let recent = tx
            .count_audit_events_since("card.emergency_revocation", &actor.account_id, now - 3600)
            .await?
            + 1;
        tx.append_audit(&NewAuditEvent {
            at: now,
            actor: &actor.account_id,
            action: "card.emergency_revocation",
            object: &format!("card:{card_id}"),
            facility: Some(&card.facility_code),
            summary: &format!(
                "card {card_id}: certificate {serial} revoked at once ({}, {}){}",
                grounds.code(),
                channel.as_str(),
                review
                    .as_ref()
                    .map(|p| format!(", put to a supervisor as {p}"))
                    .unwrap_or_default()
            ),
        })
        .await?;
        let alert = recent >= app.cfg.emergency_alert_per_hour;
        if alert {
            tracing::warn!(account = %actor.account_id, count = recent, "many emergency revocations by one account within an hour");
            tx.append_audit(&NewAuditEvent {
                at: now,
                actor: "system:alert",
                action: "alert.emergency_revocations",
                object: &format!("account:{}", actor.account_id),
                facility: Some(&card.facility_code),
                summary: &format!(
                    "account {} took {recent} emergency revocations within an hour (alert at {})",
                    actor.account_id, app.cfg.emergency_alert_per_hour
                ),
            })
            .await?;
        }
        Ok((card, serial, review, alert))
    }
    .await;
    let (card, serial, review, alert) = match res {
        Ok(v) => v,
        Err(e) => {
            let _ = tx.rollback().await;
            return Err(e);
        }
    };
    let facility = card.facility_code.clone();
    let holder = card.holder_id.clone();
    let view = done(tx, Ok(card), after).await?;
    // The loss report, drafted for the desk to complete (the revocation stands whatever
    // happens here).
    let (draft_application, draft_error) = match r.cause {
        EmergencyCause::FearedMisuse => (None, None),
        EmergencyCause::Lost | EmergencyCause::Stolen => {
            match super::applications::create(
                app,
                registrar,
                &super::applications::ApplicationInput {
                    facility_code: facility,
                    holder_id: holder,
                    kind: "loss_report".into(),
                    detail: None,
                    validity_years: None,
                    target_card_id: Some(card_id.clone()),
                },
            )
            .await
            {
                Ok(a) => (Some(a.id), None),
                Err(e) => (None, Some(e.message_ja())),
            }
        }
    };
    Ok(EmergencyRevocation {
        card: view,
        serial_hex: serial,
        revoked_at: now,
        grounds: grounds.code(),
        grounds_label: grounds.label_ja(),
        draft_application,
        draft_error,
        review_proposal: review,
        alert,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 第11条, issue 10: the code is kept as an HMAC under the pepper; a salted hash kept
    /// before is wrapped and still matches its code.
    #[test]
    fn art11_emergency_code_is_sealed_under_the_pepper_and_legacy_hashes_are_wrapped() {
        let pepper = b"pepper of the center";
        let sealed = seal_code(pepper, "123456789012").unwrap();
        assert!(sealed.starts_with("hmac1$") && !sealed.contains("123456789012"));
        assert!(code_matches(pepper, &sealed, "123456789012"));
        assert!(!code_matches(pepper, &sealed, "123456789013"));
        assert!(!code_matches(b"another pepper", &sealed, "123456789012"));
        let salt = [7u8; 16];
        let legacy = format!(
            "{}${}",
            hex::encode(salt),
            hex::encode(inner_hash(&salt, "111122223333"))
        );
        assert!(
            !code_matches(pepper, &legacy, "111122223333"),
            "bare hashes are not accepted"
        );
        let wrapped = wrap_legacy_code(pepper, &legacy).unwrap();
        assert!(code_matches(pepper, &wrapped, "111122223333"));
        assert_eq!(wrap_legacy_code(pepper, "junk"), None);
        assert_eq!(wrap_legacy_code(pepper, &sealed), None);
    }

    #[test]
    fn art11_card_numbers_are_read_as_people_type_them() {
        assert_eq!(normalize_card_id(" c-0000-0002 "), "C00000002");
        assert_eq!(normalize_card_id("Ｃ00000002"), "Ｃ00000002".to_uppercase());
    }
}

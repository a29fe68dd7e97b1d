//! Cards on PKCS#11 tokens (利用者カード, 第7–9条, DESIGN §6): personalization at the
//! station — the card initialised with a per-card SO PIN derived from the center's master
//! secret, a random initial user PIN, the key pair generated on the card and checked,
//! the CSR signed on the card (proof of possession), the certificate issued from the
//! registry and written with its chain — and inspection. Any failure after the card was
//! touched wipes it back to blank and revokes a certificate already issued, so no usable
//! half-made card is left.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use kmn_domain::CardEvent;
use kmn_store::CardRow;
use kmn_token::{CardKeyAlg, CardSession, Module, SecretPin, SoPinDeriver};
use sha2::Digest;

use crate::rights::{CaAdmin, Center};
use crate::station::StationBackend;
use crate::{App, AppError, secrets};

/// A token error as the operator sees it: the Japanese message, with the token's code as
/// the error's one code.
pub fn token_err(e: kmn_token::TokenError) -> AppError {
    AppError::Token {
        code: e.code(),
        message: e.to_string(),
    }
}

/// The center's SO-PIN master secret: `KMN_SO_PIN_MASTER(_FILE)`, or
/// `<data-dir>/secrets/so-pin-master` (made on first use, 32 random bytes, mode 0600).
pub fn so_pin_deriver(app: &App) -> Result<SoPinDeriver, AppError> {
    let master = match crate::config::env_or_file("KMN_SO_PIN_MASTER")? {
        Some(m) => m.into_bytes(),
        None => {
            let path = app.data_dir.join("secrets/so-pin-master");
            match std::fs::read(&path) {
                Ok(b) => b,
                Err(_) => {
                    secrets::ensure_dir(&app.data_dir.join("secrets"), 0o700)?;
                    let mut b = [0u8; 32];
                    aws_lc_rs::rand::fill(&mut b)
                        .map_err(|_| AppError::Internal("no randomness".into()))?;
                    let hex = hex::encode(b);
                    secrets::write_atomic(&path, hex.as_bytes(), 0o600)?;
                    hex.into_bytes()
                }
            }
        }
    };
    SoPinDeriver::new(master).map_err(token_err)
}

/// What personalization produced. The PIN and the code exist only in the PIN mailer
/// (and here, for a caller that prints it elsewhere); the database keeps a salted hash
/// of the code and nothing of the PIN.
pub struct Personalized {
    /// The application, now fulfilled (as the center reports it).
    pub application: serde_json::Value,
    /// The card, `personalized` (as the center reports it).
    pub card: serde_json::Value,
    /// The card id.
    pub card_id: String,
    /// The token serial.
    pub token_serial: String,
    /// The PIN mailer PDF, held until the facility confirms receipt (第8条).
    pub mailer_path: PathBuf,
    /// Where the time went.
    pub timings: Timings,
}

/// Time spent per part of one personalization (the card benchmark's split).
#[derive(Clone, Copy, Debug, Default)]
pub struct Timings {
    /// On the token: init, PIN, key generation, key checks, CSR signed on the card,
    /// certificate and chain written.
    pub token: Duration,
    /// The PIN mailer PDF (layout, subsetting, file write).
    pub pdf: Duration,
    /// Everything.
    pub total: Duration,
}

/// Where PIN mailers are written, with the font loaded once per batch.
pub struct MailerOut<'a> {
    /// The IPAex font.
    pub font: &'a kmn_letters::Font,
    /// The directory (mode 0700).
    pub dir: PathBuf,
}

/// Which token: a label, a slot id, or (neither) the only token present.
#[derive(Clone, Debug, Default)]
pub struct TokenRef {
    /// Token label.
    pub label: Option<String>,
    /// Slot id.
    pub slot: Option<u64>,
}

/// Personalizes a card for an approved application, at the center (local station).
pub async fn personalize(
    app: &App,
    who: &CaAdmin,
    module_path: &Path,
    token: &TokenRef,
    application_id: &str,
    alg: CardKeyAlg,
    mailer: &MailerOut<'_>,
) -> Result<Personalized, AppError> {
    let local = who.station();
    let station = crate::station::LocalStation {
        app,
        station: &local,
    };
    personalize_with(&station, module_path, token, application_id, alg, mailer).await
}

/// Personalizes a card through a [`StationBackend`]: the token work, the PIN and the PIN
/// mailer happen here; the SO PIN, the certificate and the records come from the center.
/// Any failure after the card was touched wipes it back to blank and revokes a
/// certificate already issued.
pub async fn personalize_with<B: StationBackend>(
    center: &B,
    module_path: &Path,
    token: &TokenRef,
    application_id: &str,
    alg: CardKeyAlg,
    mailer: &MailerOut<'_>,
) -> Result<Personalized, AppError> {
    let started = Instant::now();
    let mut timings = Timings::default();
    let target = center.target(application_id).await?;
    let module = Module::load(module_path).map_err(token_err)?;
    // Without a label or a slot, only a blank card is taken: never a card in use, whose
    // SO PIN a wrong guess would spend.
    let slot = module
        .find_token(token.label.as_deref(), token.slot, kmn_token::Wanted::Blank)
        .map_err(token_err)?;
    let label = format!("KMN {}", target.holder_id);
    // The token's serial decides its SO PIN, which the center derives. A blank SoftHSM
    // slot gets its serial only at its first initialisation: it is initialised with a
    // transient SO PIN, which is then replaced.
    let t = Instant::now();
    let serial = kmn_token::token_serial(&module, slot).map_err(token_err)?;
    let (serial, so_pin) = if serial.is_empty() {
        let (serial, transient) =
            kmn_token::init_blank(&module, slot, &label).map_err(token_err)?;
        let so_pin = center.so_pin(&serial).await?;
        kmn_token::change_so_pin(&module, slot, &transient, &so_pin).map_err(token_err)?;
        kmn_token::fault_point("after_init_card").map_err(token_err)?;
        (serial, so_pin)
    } else {
        let so_pin = center.so_pin(&serial).await?;
        kmn_token::init_card(&module, slot, &so_pin, &label).map_err(token_err)?;
        (serial, so_pin)
    };
    timings.token += t.elapsed();
    // From here on, every failure wipes the card (and revokes an issued certificate).
    let mut issued_serial: Option<String> = None;
    let mut written: Option<PathBuf> = None;
    let r = async {
        let t = Instant::now();
        let pin = SecretPin::random_digits(8).map_err(token_err)?;
        kmn_token::set_initial_user_pin(&module, slot, &so_pin, &pin).map_err(token_err)?;
        let session = CardSession::open(&module, slot).map_err(token_err)?;
        kmn_token::login_user(&session, &pin).map_err(token_err)?;
        let key = kmn_token::generate_card_key(&session, alg, &[1], "KMN card key")
            .map_err(token_err)?;
        let facts = kmn_token::check_card_key(&session, &key)
            .map_err(|e| AppError::Token {
                code: e.code(),
                message: e.to_string(),
            })?;
        // Proof of possession: the CSR is signed on the card.
        let csr = kmn_token::build_csr_on_card(
            &session,
            &key,
            &kmn_pki::name::DistinguishedName::default().to_der(),
        )
        .map_err(token_err)?;
        timings.token += t.elapsed();
        let verified = kmn_pki::csr::parse_and_verify(&csr)?;
        if verified.spki_der != key.spki_der() {
            return Err(AppError::Rule(
                "カードが返した公開鍵と CSR の鍵が一致しません".into(),
            ));
        }
        let issued = center
            .issue(application_id, &csr, &crate::station::KeyReport::from(&facts))
            .await?;
        issued_serial = Some(issued.serial_hex.clone());
        let t = Instant::now();
        kmn_token::write_certificate(&session, &[1], "KMN card certificate", &issued.der, &issued.chain)
            .map_err(token_err)?;
        kmn_token::logout(&session);
        drop(session);
        timings.token += t.elapsed();
        let code = SecretPin::random_digits(12).map_err(token_err)?;
        // The PIN mailer, written before the card is recorded: a card is never on
        // record without the only copy of its PIN.
        let t = Instant::now();
        let (path, pdf_sha256) = write_mailer(
            mailer,
            &target,
            &issued.card_id,
            &pin,
            &code,
            (
                center.now(),
                kmn_pki::parse::cert(&issued.der)
                    .ok()
                    .map(|c| c.tbs.not_after.at),
            ),
            &format!("{}-pin-mailer.pdf", issued.card_id),
        )?;
        written = Some(path.clone());
        timings.pdf = t.elapsed();
        let rec = crate::station::StationRecord {
            card_id: issued.card_id.clone(),
            serial_hex: issued.serial_hex.clone(),
            token_serial: serial.clone(),
            revocation_code: code.expose().to_string(),
            summary: format!(
                "personalized on token {} ({} key generated on the card, checks passed: local, never extractable, sensitive{}), certificate {}",
                serial,
                alg.as_str(),
                if facts.roca_checked { ", ROCA" } else { "" },
                issued.serial_hex
            ),
            mailer_file: path.to_string_lossy().into_owned(),
            mailer_sha256: pdf_sha256,
        };
        // The card's record, the fulfilment and the audit events commit together: once
        // this returns Ok nothing below can fail, so a recorded card is never wiped.
        let (application, card) = center.complete(application_id, &rec).await?;
        Ok::<_, AppError>((application, card, issued.card_id, path))
    }
    .await;
    match r {
        Ok((application, card, card_id, mailer_path)) => {
            timings.total = started.elapsed();
            Ok(Personalized {
                application,
                card,
                card_id,
                token_serial: serial,
                mailer_path,
                timings,
            })
        }
        Err(e) => {
            if let Some(p) = &written {
                crate::ra::delivery::shred(p);
            }
            let wiped = kmn_token::wipe(&module, slot, &so_pin, kmn_token::BLANK_LABEL).is_ok();
            let cert = match &issued_serial {
                None => String::new(),
                Some(s) => match center
                    .abort(
                        s,
                        &format!("カード発行の途中で失敗したため無効化: {}", e.message_ja()),
                    )
                    .await
                {
                    Ok(()) => format!("発行済みの証明書（シリアル {s}）は失効させました。"),
                    Err(e2) => {
                        tracing::error!(serial = %s, error = %e2, "the certificate of an unfinished card was not revoked");
                        format!(
                            "発行済みの証明書（シリアル {s}）は失効できていません（{}）。サポートセンターに連絡し、この証明書の失効を依頼してください。",
                            e2.message_ja()
                        )
                    }
                },
            };
            let what = if wiped {
                "カードは未発行の状態に戻しました"
            } else {
                "カードを未発行の状態に戻せませんでした。カードを廃棄してください"
            };
            let message = format!(
                "カードの発行に失敗しました: {}。{what}。{cert}",
                e.message_ja()
            );
            // The card's own code stays the error's one code (E_TOKEN_REMOVED,
            // E_KEYCHECK_…); anything else is the rule that the card was not issued.
            Err(match e {
                AppError::Token { code, .. } => AppError::Token { code, message },
                _ => AppError::Rule(message),
            })
        }
    }
}

/// A card as seen on the token and at the CA.
pub struct Inspection {
    /// What the token says.
    pub token: kmn_token::CardInspection,
    /// The card record with that token serial, if any.
    pub card: Option<crate::views::Card>,
    /// The certificate's status at the CA, per certificate on the card: (serial, subject,
    /// not after, status: `valid`, `on_hold`, `revoked`, `expired`, or `unknown` when
    /// this CA did not issue it).
    pub certificates: Vec<(String, String, i64, String)>,
}

/// `kmn card inspect`.
pub async fn inspect(
    app: &App,
    module_path: &Path,
    token: &TokenRef,
) -> Result<Inspection, AppError> {
    let module = Module::load(module_path).map_err(token_err)?;
    let slot = module
        .find_token(token.label.as_deref(), token.slot, kmn_token::Wanted::Card)
        .map_err(token_err)?;
    let ins = kmn_token::inspect(&module, slot).map_err(token_err)?;
    let mut tx = app.store.read().await?;
    let card = if ins.serial.is_empty() {
        None
    } else {
        tx.card_by_token_serial(&ins.serial).await?
    };
    let mut certificates = Vec::new();
    for der in &ins.certificates {
        if let Ok(c) = kmn_pki::parse::cert(der) {
            let serial = c.tbs.serial_hex();
            let status = match tx.certificate(&serial).await? {
                Some(r) if r.status == kmn_domain::CertStatus::Revoked => "revoked".to_string(),
                Some(r) if r.not_after < app.now() => "expired".to_string(),
                Some(r) => r.status.as_str().to_string(),
                None => "unknown".to_string(),
            };
            certificates.push((
                serial,
                c.tbs.subject_text(),
                c.tbs.not_after.at.unix_timestamp(),
                status,
            ));
        }
    }
    tx.rollback().await?;
    Ok(Inspection {
        token: ins,
        card: card.map(Into::into),
        certificates,
    })
}

/// Writes a PIN mailer (mode 0600) for the card `card_id` of `target`'s holder, dated
/// `now` and showing the card's validity (`valid_until`, the certificate's notAfter), and
/// returns (path, SHA-256 of the PDF).
fn write_mailer(
    mailer: &MailerOut<'_>,
    target: &crate::station::StationTarget,
    card_id: &str,
    pin: &SecretPin,
    code: &SecretPin,
    (now, valid_until): (time::OffsetDateTime, Option<time::OffsetDateTime>),
    file_name: &str,
) -> Result<(PathBuf, String), AppError> {
    let letter = kmn_letters::PinMailer {
        kind: target.kind,
        holder_name_kanji: target.holder_name_kanji.clone(),
        holder_id: target.holder_id.clone(),
        facility_name_kanji: target.facility_name_kanji.clone(),
        facility_code: target.facility_code.clone(),
        card_id: card_id.to_string(),
        initial_pin: pin.expose().to_string(),
        emergency_revocation_code: code.expose().to_string(),
        issued_on: now.to_offset(kmn_domain::time_fmt::JST).date(),
        valid_until: valid_until.map(|t| t.to_offset(kmn_domain::time_fmt::JST).date()),
        support_phone: target.support_center_phone.clone(),
    };
    let pdf = kmn_letters::pin_mailer_pdf(mailer.font, &letter)
        .map_err(|e| AppError::Internal(format!("PIN通知書を作成できません: {e}")))?;
    drop(letter);
    let path = mailer.dir.join(file_name);
    secrets::write_atomic(&path, &pdf, 0o600)?;
    Ok((path, hex::encode(sha2::Sha256::digest(&pdf))))
}

/// The card on the reader and its record: the token serial must belong to a card of
/// this CA.
async fn card_on_reader(
    app: &App,
    module: &Module,
    slot: kmn_token::Slot,
) -> Result<(String, CardRow), AppError> {
    let serial = kmn_token::token_serial(module, slot).map_err(token_err)?;
    let mut tx = app.store.read().await?;
    let card = tx.card_by_token_serial(&serial).await;
    tx.rollback().await?;
    let card = card?.ok_or_else(|| {
        AppError::NotFound(format!(
            "リーダーのカード（シリアル {serial}）はこの認証局の利用者カードとして登録されていません"
        ))
    })?;
    Ok((serial, card))
}

/// What an unlock produced.
pub struct Unlocked {
    /// The card.
    pub card: crate::views::Card,
    /// The new PIN mailer.
    pub mailer_path: PathBuf,
    /// Its record.
    pub mailer_id: String,
}

/// `kmn card unlock` (第9条): the support center, after checking the holder's identity
/// (recorded in the audit log), logs in with the card's SO PIN, sets a new random user
/// PIN (C_InitPIN) and makes a new PIN mailer with a new emergency revocation code.
pub async fn unlock(
    app: &App,
    who: &Center,
    module_path: &Path,
    token: &TokenRef,
    identity_check: &str,
    mailer: &MailerOut<'_>,
) -> Result<Unlocked, AppError> {
    let actor = who.actor();
    let identity_check = identity_check.trim();
    if identity_check.chars().count() < 4 || identity_check.chars().any(char::is_control) {
        return Err(AppError::BadInput(
            "本人確認の内容（確認した書類と担当者など）を --identity-check に記入してください"
                .into(),
        ));
    }
    if app.cfg.support_center_phone.is_empty() {
        return Err(AppError::Config(
            "PIN通知書に載せるサポートセンターの電話番号が設定されていません。kmn.toml の support_center_phone を設定してください".into(),
        ));
    }
    let module = Module::load(module_path).map_err(token_err)?;
    let slot = module
        .find_token(token.label.as_deref(), token.slot, kmn_token::Wanted::Card)
        .map_err(token_err)?;
    let (serial, card) = card_on_reader(app, &module, slot).await?;
    let state: kmn_domain::CardState = card
        .state
        .parse()
        .map_err(|e: kmn_domain::UnknownCode| AppError::Internal(e.to_string()))?;
    use kmn_domain::CardState as S;
    if !matches!(
        state,
        S::Received | S::HandedOver | S::Active | S::Suspended
    ) {
        return Err(AppError::Rule(format!(
            "利用者カード {} は「{}」のためロック解除できません",
            card.id,
            state.label_ja()
        )));
    }
    let (holder, facility) = {
        let mut tx = app.store.read().await?;
        let p = tx.person(&card.holder_id).await?;
        let f = tx.facility(&card.facility_code).await?;
        tx.rollback().await?;
        (
            p.map(|p| p.name_kanji).unwrap_or_default(),
            f.map(|f| f.name_kanji).unwrap_or_default(),
        )
    };
    let so_pin = so_pin_deriver(app)?.so_pin(&serial).map_err(token_err)?;
    let pin = SecretPin::random_digits(8).map_err(token_err)?;
    let code = SecretPin::random_digits(12).map_err(token_err)?;
    // The mailer first: a card is never given a PIN that exists nowhere.
    let n = {
        let mut tx = app.store.begin().await?;
        let r = tx.next_counter("pin_mailer").await.map_err(AppError::from);
        crate::finish(tx, r).await?
    };
    let mailer_id = format!("M{n:08}");
    let target = crate::station::StationTarget {
        application_id: card.application_id.clone(),
        holder_id: card.holder_id.clone(),
        holder_name_kanji: holder,
        facility_code: card.facility_code.clone(),
        facility_name_kanji: facility,
        support_center_phone: app.cfg.support_center_phone.clone(),
        kind: kmn_letters::MailerKind::CardUnlock,
    };
    let (path, sha256) = write_mailer(
        mailer,
        &target,
        &card.id,
        &pin,
        &code,
        (
            app.clock.now(),
            card.not_after
                .and_then(|t| time::OffsetDateTime::from_unix_timestamp(t).ok()),
        ),
        &format!("{}-pin-mailer-{mailer_id}.pdf", card.id),
    )?;
    if let Err(e) = kmn_token::unlock_with_so(&module, slot, &so_pin, &pin) {
        crate::ra::delivery::shred(&path);
        return Err(token_err(e));
    }
    // The card now has the new PIN: record it. A failure here leaves a card whose PIN is
    // in the mailer just written, so the path is reported either way.
    let now = app.now();
    let sealed =
        crate::ra::emergency::seal_code(&crate::ra::emergency::code_pepper(app)?, code.expose())?;
    let mut tx = app.store.begin().await?;
    let r = async {
        tx.set_card_revocation_code(&card.id, &sealed).await?;
        tx.insert_pin_mailer(&kmn_store::PinMailerRow {
            id: mailer_id.clone(),
            card_id: card.id.clone(),
            purpose: "unlock".into(),
            state: "released".into(),
            file_name: path.to_string_lossy().into_owned(),
            produced_by: "center".into(),
            sha256: sha256.clone(),
            created_at: now,
            released_at: Some(now),
            dispatched_at: None,
            destroyed_at: None,
            version: 1,
        })
        .await?;
        tx.append_audit(&kmn_store::NewAuditEvent {
            at: now,
            actor: &actor.account_id,
            action: "card.unlock",
            object: &format!("card:{}", card.id),
            facility: Some(&card.facility_code),
            summary: &format!(
                "card {} (token {serial}) unlocked with its SO PIN after an identity check: {identity_check}; new PIN in mailer {mailer_id} (SHA-256 {sha256}), new emergency revocation code",
                card.id
            ),
        })
        .await?;
        Ok::<_, AppError>(())
    }
    .await;
    crate::finish(tx, r).await.map_err(|e| {
        AppError::Internal(format!(
            "カードのロックは解除しましたが記録に失敗しました（新しいPINは {} にあります）: {e}",
            path.display()
        ))
    })?;
    Ok(Unlocked {
        card: card.into(),
        mailer_path: path,
        mailer_id,
    })
}

/// `kmn card destroy` (第15条): wipes a returned card's token with its SO PIN (when the
/// token is on the reader) and records the destruction.
pub async fn destroy(
    app: &App,
    who: &Center,
    card_id: &str,
    reader: Option<(&Path, &TokenRef)>,
) -> Result<crate::ra::delivery::CardView, AppError> {
    let view = crate::ra::delivery::view(app, &who.reader(), card_id).await?;
    let state: kmn_domain::CardState = view
        .card
        .state
        .parse()
        .map_err(|e: kmn_domain::UnknownCode| AppError::Internal(e.to_string()))?;
    if state.apply(CardEvent::Destroy).is_err() {
        return Err(AppError::Rule(format!(
            "利用者カード {card_id} は「{}」のため廃棄できません（返却済みのカードのみ廃棄できます。利用規約第15条）",
            state.label_ja()
        )));
    }
    let detail = match reader {
        Some((module_path, token)) => {
            let module = Module::load(module_path).map_err(token_err)?;
            let slot = module
                .find_token(token.label.as_deref(), token.slot, kmn_token::Wanted::Card)
                .map_err(token_err)?;
            let serial = kmn_token::token_serial(&module, slot).map_err(token_err)?;
            if view.card.token_serial.as_deref() != Some(serial.as_str()) {
                return Err(AppError::Rule(format!(
                    "リーダーのカード（シリアル {serial}）は利用者カード {card_id} ではありません（登録シリアル {}）",
                    view.card.token_serial.as_deref().unwrap_or("なし")
                )));
            }
            let so_pin = so_pin_deriver(app)?.so_pin(&serial).map_err(token_err)?;
            kmn_token::wipe(&module, slot, &so_pin, "KMN destroyed").map_err(token_err)?;
            format!("token {serial} wiped (C_InitToken with its SO PIN)")
        }
        None => "destroyed physically without a reader".to_string(),
    };
    crate::ra::delivery::record_destruction(app, who, card_id, &detail).await
}

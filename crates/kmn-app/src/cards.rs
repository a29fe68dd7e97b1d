//! Cards on PKCS#11 tokens (利用者カード, 第7–9条, DESIGN §6): personalization at the
//! station — the card initialised with a per-card SO PIN derived from the center's master
//! secret, a random initial user PIN, the key pair generated on the card and checked,
//! the CSR signed on the card (proof of possession), the certificate issued from the
//! registry and written with its chain — and inspection. Any failure after the card was
//! touched wipes it back to blank and revokes a certificate already issued, so no usable
//! half-made card is left.

use std::path::Path;

use kmn_domain::CardEvent;
use kmn_store::CardRow;
use kmn_token::{CardKeyAlg, CardSession, Module, SecretPin, SoPinDeriver};
use sha2::Digest;

use crate::actor::Actor;
use crate::ra::applications;
use crate::{App, AppError, secrets};

fn token_err(e: kmn_token::TokenError) -> AppError {
    AppError::Rule(format!("{e} ({})", e.code()))
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

/// What personalization produced for the PIN mailer. The PIN and the code exist only here
/// and in the mailer; the database keeps a salted hash of the code and nothing of the PIN.
pub struct Personalized {
    /// The application, now fulfilled.
    pub application: kmn_store::ApplicationRow,
    /// The card, `personalized`.
    pub card: CardRow,
    /// The token serial.
    pub token_serial: String,
    /// The initial user PIN (for the mailer only).
    pub initial_pin: SecretPin,
    /// The one-time emergency revocation code (for the mailer only, 第11条).
    pub revocation_code: SecretPin,
    /// Holder and facility names for the mailer.
    pub holder_name: String,
    /// Facility name.
    pub facility_name: String,
}

/// Which token: a label, a slot id, or (neither) the only token present.
#[derive(Clone, Debug, Default)]
pub struct TokenRef {
    /// Token label.
    pub label: Option<String>,
    /// Slot id.
    pub slot: Option<u64>,
}

/// A salted SHA-256 of the emergency revocation code: `salt$hash`, hex.
pub fn hash_code(code: &str) -> String {
    let mut salt = [0u8; 16];
    let _ = aws_lc_rs::rand::fill(&mut salt);
    let h = sha2::Sha256::digest([&salt[..], code.as_bytes()].concat());
    format!("{}${}", hex::encode(salt), hex::encode(h))
}

/// Personalizes a card for an approved application (local station).
pub async fn personalize(
    app: &App,
    actor: &Actor,
    module_path: &Path,
    token: &TokenRef,
    application_id: &str,
    alg: CardKeyAlg,
) -> Result<Personalized, AppError> {
    actor.require_center()?;
    let target = applications::load_for_issue(app, application_id).await?;
    let deriver = so_pin_deriver(app)?;
    let module = Module::load(module_path).map_err(token_err)?;
    let slot = module
        .find_slot(token.label.as_deref(), token.slot)
        .map_err(token_err)?;
    let label = format!("KMN {}", target.person.holder_id);
    let init = kmn_token::init_card_derived(&module, slot, &deriver, &label).map_err(token_err)?;
    // From here on, every failure wipes the card (and revokes an issued certificate).
    let mut issued_serial: Option<String> = None;
    let r = async {
        let pin = SecretPin::random_digits(8).map_err(token_err)?;
        kmn_token::set_initial_user_pin(&module, slot, &init.so_pin, &pin).map_err(token_err)?;
        let session = CardSession::open(&module, slot).map_err(token_err)?;
        kmn_token::login_user(&session, &pin).map_err(token_err)?;
        let key = kmn_token::generate_card_key(&session, alg, &[1], "KMN card key").map_err(token_err)?;
        kmn_token::check_card_key(&session, &key).map_err(|e| AppError::Rule(format!("{e} ({})", e.code())))?;
        // Proof of possession: the CSR is signed on the card and must verify with the card's key.
        let csr = kmn_token::build_csr_on_card(&session, &key, &kmn_pki::name::DistinguishedName::default().to_der()).map_err(token_err)?;
        let verified = kmn_pki::csr::parse_and_verify(&csr)?;
        if verified.spki_der != key.spki_der() {
            return Err(AppError::Rule("カードが返した公開鍵と CSR の鍵が一致しません".into()));
        }
        let issued = applications::issue_for(app, actor, &target, verified.spki_der).await?;
        issued_serial = Some(issued.serial_hex.clone());
        let ca = crate::ca::load_active(app, kmn_store::CaKind::Issuing).await?;
        let root = {
            let mut tx = app.store.read().await?;
            let r = tx.active_ca(kmn_store::CaKind::Root).await?;
            tx.rollback().await?;
            r.ok_or_else(|| AppError::CaState("no root".into()))?
        };
        kmn_token::write_certificate(&session, &[1], "KMN card certificate", &issued.der, &[ca.record.cert_der.clone(), root.cert_der]).map_err(token_err)?;
        kmn_token::logout(&session);
        drop(session);
        let code = SecretPin::random_digits(12).map_err(token_err)?;
        // The card's record, the fulfilment and the audit event commit together: once this
        // returns Ok nothing below can fail, so a recorded card is never wiped.
        let summary = format!(
            "personalized on token {} ({} key generated on the card, checks passed), certificate {}",
            init.serial,
            alg.as_str(),
            issued.serial_hex
        );
        let (application, card) = applications::record_fulfilment(
            app,
            actor,
            &target,
            &issued,
            CardEvent::Personalize,
            Some(&init.serial),
            Some(&hash_code(code.expose())),
            Some(&summary),
        )
        .await?;
        Ok::<_, AppError>((application, card, pin, code))
    }
    .await;
    match r {
        Ok((application, card, initial_pin, revocation_code)) => Ok(Personalized {
            application,
            card,
            token_serial: init.serial,
            initial_pin,
            revocation_code,
            holder_name: target.person.name_kanji,
            facility_name: target.facility.name_kanji,
        }),
        Err(e) => {
            let wiped = kmn_token::wipe(&module, slot, &init.so_pin, "KMN blank").is_ok();
            if let Some(s) = &issued_serial {
                applications::revoke_orphan(
                    app,
                    s,
                    &format!("カード発行の途中で失敗したため無効化: {e}"),
                )
                .await;
            }
            let what = if wiped {
                "カードは未発行の状態に戻しました"
            } else {
                "カードを未発行の状態に戻せませんでした。カードを廃棄してください"
            };
            let cert = if issued_serial.is_some() {
                "発行済みの証明書は失効させました。"
            } else {
                ""
            };
            Err(AppError::Rule(format!(
                "カードの発行に失敗しました: {}。{what}。{cert}",
                e.message_ja()
            )))
        }
    }
}

/// A card as seen on the token and at the CA.
pub struct Inspection {
    /// What the token says.
    pub token: kmn_token::CardInspection,
    /// The card record with that token serial, if any.
    pub card: Option<CardRow>,
    /// The certificate's status at the CA, per certificate on the card: (serial, subject, not after, status).
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
        .find_slot(token.label.as_deref(), token.slot)
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
                None => "unknown to this CA".to_string(),
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
        card,
        certificates,
    })
}

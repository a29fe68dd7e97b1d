//! The personalization station's view of the CA (issue #4 item 1, DESIGN §6). A station
//! needs five things from the center: what to print for an application, the per-card SO
//! PIN for a token serial, a certificate for a CSR signed on the card, the record of the
//! finished card, and the revocation of a certificate whose card could not be finished.
//! [`StationBackend`] is that interface; [`LocalStation`] runs it against the data dir
//! (small deployments, the demo, tests), and `kmn card personalize --server` runs it over
//! the station endpoints of the API, so the CA keys and the SO-PIN master secret stay on
//! the server while the user PIN and the PIN mailer never leave the station.

pub mod operator;
pub mod personalization;

use kmn_token::{KeyFacts, SecretPin};

use crate::ra::applications::{self, PersonalizationRecord};
use crate::rights::Station;
use crate::station::personalization::token_err;
use crate::{App, AppError};

/// What the station prints for an application.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct StationTarget {
    /// Application id.
    pub application_id: String,
    /// Holder id.
    pub holder_id: String,
    /// Holder's name in kanji (for the PIN mailer).
    pub holder_name_kanji: String,
    /// Facility code.
    pub facility_code: String,
    /// Facility's name in kanji.
    pub facility_name_kanji: String,
    /// The support center's telephone number for the mailer (第11条).
    pub support_center_phone: String,
    /// A holder's card, or a support-center staff member's operator token.
    #[serde(default)]
    pub kind: kmn_letters::MailerKind,
}

/// What the station reports about the key on the card (from `check_card_key`); the CA
/// re-checks everything it can see in the public key itself.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct KeyReport {
    /// `rsa2048` or `p256`.
    pub alg: String,
    /// CKA_LOCAL.
    pub local: bool,
    /// CKA_NEVER_EXTRACTABLE.
    pub never_extractable: bool,
    /// CKA_SENSITIVE / CKA_ALWAYS_SENSITIVE.
    pub sensitive: bool,
}

impl From<&KeyFacts> for KeyReport {
    fn from(f: &KeyFacts) -> Self {
        Self {
            alg: f.alg.as_str().into(),
            local: f.local,
            never_extractable: f.never_extractable,
            sensitive: f.sensitive,
        }
    }
}

/// A certificate the CA issued for a card, with its chain (issuing CA, root) and the card
/// id to print on the mailer.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct StationIssued {
    /// Serial, hex.
    pub serial_hex: String,
    /// Certificate, DER.
    #[serde(with = "hex_bytes")]
    pub der: Vec<u8>,
    /// Issuing CA and root certificates, DER.
    #[serde(with = "hex_vec")]
    pub chain: Vec<Vec<u8>>,
    /// The card id allocated for this card.
    pub card_id: String,
}

/// The finished card, as the station reports it.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct StationRecord {
    /// Card id from [`StationIssued`].
    pub card_id: String,
    /// Certificate serial from [`StationIssued`].
    pub serial_hex: String,
    /// Token serial.
    pub token_serial: String,
    /// The emergency revocation code printed on the mailer (12 digits), sent over the
    /// station's mTLS channel; the center keeps only its HMAC under the pepper.
    pub revocation_code: String,
    /// What was done, for the audit log.
    pub summary: String,
    /// The PIN mailer's path at the station.
    pub mailer_file: String,
    /// Its SHA-256.
    pub mailer_sha256: String,
}

/// The center as a personalization station sees it.
#[allow(async_fn_in_trait)]
pub trait StationBackend {
    /// The application to personalize (refused unless approved and eligible).
    async fn target(&self, application_id: &str) -> Result<StationTarget, AppError>;
    /// The per-card SO PIN for a token serial (HMAC of the center's master secret).
    async fn so_pin(&self, token_serial: &str) -> Result<SecretPin, AppError>;
    /// Issues the certificate for a CSR signed on the card.
    async fn issue(
        &self,
        application_id: &str,
        csr_der: &[u8],
        key: &KeyReport,
    ) -> Result<StationIssued, AppError>;
    /// Records the finished card and fulfils the application; returns (application, card)
    /// as JSON for the operator's output.
    async fn complete(
        &self,
        application_id: &str,
        rec: &StationRecord,
    ) -> Result<(serde_json::Value, serde_json::Value), AppError>;
    /// Revokes the certificate issued to this station whose card could not be finished.
    /// Ok means it is revoked (now or before); an error says why it is not.
    async fn abort(&self, serial_hex: &str, why: &str) -> Result<(), AppError>;
    /// Now (the date printed on the mailer).
    fn now(&self) -> time::OffsetDateTime {
        time::OffsetDateTime::now_utc()
    }
}

/// The station working directly on the data dir.
pub struct LocalStation<'a> {
    /// The app.
    pub app: &'a App,
    /// Who acts: a station ([`crate::rights::CaAdmin::station`] for the center's own).
    pub station: &'a Station,
}

impl StationBackend for LocalStation<'_> {
    async fn target(&self, application_id: &str) -> Result<StationTarget, AppError> {
        target(self.app, self.station, application_id).await
    }

    async fn so_pin(&self, token_serial: &str) -> Result<SecretPin, AppError> {
        so_pin(self.app, self.station, token_serial).await
    }

    async fn issue(
        &self,
        application_id: &str,
        csr_der: &[u8],
        key: &KeyReport,
    ) -> Result<StationIssued, AppError> {
        issue(self.app, self.station, application_id, csr_der, key).await
    }

    async fn complete(
        &self,
        application_id: &str,
        rec: &StationRecord,
    ) -> Result<(serde_json::Value, serde_json::Value), AppError> {
        let (a, c) = complete(self.app, self.station, application_id, rec, "center").await?;
        Ok((json(&a)?, json(&c)?))
    }

    async fn abort(&self, serial_hex: &str, why: &str) -> Result<(), AppError> {
        abort(self.app, self.station, serial_hex, why).await
    }

    fn now(&self) -> time::OffsetDateTime {
        self.app.clock.now()
    }
}

fn json<T: serde::Serialize>(v: &T) -> Result<serde_json::Value, AppError> {
    serde_json::to_value(v).map_err(|e| AppError::Internal(e.to_string()))
}

/// The server side of [`StationBackend::target`].
pub async fn target(
    app: &App,
    right: &Station,
    application_id: &str,
) -> Result<StationTarget, AppError> {
    if app.cfg.support_center_phone.is_empty() {
        return Err(AppError::Config(
            "PIN通知書に載せるサポートセンターの電話番号が設定されていません。kmn.toml の support_center_phone を設定してください（利用規約第11条の緊急連絡先）".into(),
        ));
    }
    let t = applications::load_for_issue(app, application_id).await?;
    // The station sees the holder's name and facility: a read of personal data (G1).
    crate::audit::log_read(
        app,
        right.actor(),
        "read",
        &format!("application:{}/station", t.application.id),
        Some(&t.facility.code),
    )
    .await?;
    Ok(StationTarget {
        application_id: t.application.id,
        holder_id: t.person.holder_id,
        holder_name_kanji: t.person.name_kanji,
        facility_code: t.facility.code,
        facility_name_kanji: t.facility.name_kanji,
        support_center_phone: app.cfg.support_center_phone.clone(),
        kind: kmn_letters::MailerKind::UserCard,
    })
}

/// The server side of [`StationBackend::so_pin`]: recorded in the audit log (the PIN is not).
pub async fn so_pin(app: &App, who: &Station, token_serial: &str) -> Result<SecretPin, AppError> {
    let actor = who.actor();
    let serial = token_serial.trim();
    if serial.is_empty()
        || serial.len() > 32
        || !serial
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-')
    {
        return Err(AppError::BadInput(format!(
            "トークンのシリアル番号 '{serial}' が正しくありません"
        )));
    }
    // A card on record (any state but destroyed or terminated) is never initialised
    // again: that would wipe an issued card, for instance one left on a batch's reader.
    // The same refusal keeps a station from wiping or unlocking someone's card.
    let mut tx = app.store.read().await?;
    let card = tx.card_by_token_serial(serial).await;
    tx.rollback().await?;
    if let Some(c) = card? {
        let state: kmn_domain::CardState = c
            .state
            .parse()
            .map_err(|e: kmn_domain::UnknownCode| AppError::Internal(e.to_string()))?;
        if !state.is_final() {
            return Err(AppError::Forbidden(format!(
                "リーダーのカード（シリアル {serial}）は利用者カード {}（{}）として発行済みです。未発行のカードに入れ替えてください",
                c.id,
                state.label_ja()
            )));
        }
    }
    let pin = crate::station::personalization::so_pin_deriver(app)?
        .so_pin(serial)
        .map_err(token_err)?;
    {
        let mut tx = app.store.begin().await?;
        let r = tx
            .append_audit(&kmn_store::NewAuditEvent {
                at: app.now(),
                actor: &actor.account_id,
                action: "station.so_pin",
                object: &format!("token:{serial}"),
                facility: None,
                summary: &format!(
                    "per-card SO PIN of token {serial} handed to station {}",
                    actor.account_id
                ),
            })
            .await
            .map_err(AppError::from);
        crate::finish(tx, r).await?;
    }
    Ok(pin)
}

/// The server side of [`StationBackend::issue`]: proof of possession (the CSR verifies
/// with its own key), the key checks the CA can make itself (size, exponent 65537, ROCA),
/// the station's report of the card's attributes (CKA_LOCAL, CKA_NEVER_EXTRACTABLE,
/// CKA_SENSITIVE), then issuance from the registry (on hold under `hold_until_receipt`).
pub async fn issue(
    app: &App,
    who: &Station,
    application_id: &str,
    csr_der: &[u8],
    key: &KeyReport,
) -> Result<StationIssued, AppError> {
    let actor = who.actor();
    let t = applications::load_for_issue(app, application_id).await?;
    let spki_der = accept_card_key(csr_der, key)?;
    // The center allocates the card id, before the certificate: a failure here leaves
    // only a gap in the numbers.
    let card_id = applications::allocate_card_id(app).await?;
    let issued =
        applications::issue_for(app, actor, &t, spki_der, app.cfg.hold_until_receipt).await?;
    // Recorded as issued to this station for this application with that card id; a
    // previous unbound certificate of the application is revoked (superseded).
    applications::record_issuance(app, actor, application_id, &issued, &card_id).await?;
    let chain = chain_of(app, &issued.ca_name).await?;
    Ok(StationIssued {
        serial_hex: issued.serial_hex,
        der: issued.der,
        chain,
        card_id,
    })
}

/// What the CA checks of a key generated on a card or token before it certifies it:
/// the station's report of the key's attributes (CKA_LOCAL, CKA_NEVER_EXTRACTABLE,
/// CKA_SENSITIVE), proof of possession (the CSR verifies with its own key), and what the
/// CA can see in the key itself (size, exponent 65537, ROCA). Returns the key (SPKI DER).
pub(crate) fn accept_card_key(csr_der: &[u8], key: &KeyReport) -> Result<Vec<u8>, AppError> {
    if !(key.local && key.never_extractable && key.sensitive) {
        return Err(AppError::Rule(
            "カードの鍵がカード内で生成・保護されていないため、証明書を発行できません（CKA_LOCAL・CKA_NEVER_EXTRACTABLE・CKA_SENSITIVE）".into(),
        ));
    }
    let req = kmn_pki::csr::parse_and_verify(csr_der)
        .map_err(|e| AppError::BadInput(format!("CSR を検証できません（カードでの署名）: {e}")))?;
    kmn_pki::lint::lint_key(&req.spki_der)
        .map_err(|e| AppError::Rule(format!("カードの鍵を受け付けられません: {e}")))?;
    if let kmn_pki::parse::KeyInfo::Rsa { modulus, .. } = kmn_pki::parse::key_info(&req.spki_der)?
        && kmn_token::roca::is_roca_fingerprinted(&modulus)
    {
        return Err(AppError::Rule(
            "カードの鍵に ROCA 脆弱性（CVE-2017-15361）の特徴があります。このカードは使用できません".into(),
        ));
    }
    Ok(req.spki_der)
}

/// The chain written on a card beside its certificate: the issuing CA `ca_name` and the
/// root, from the records (loading the CA again would decrypt its key once more: scrypt,
/// about 25 ms a card; docs/PERFORMANCE.md).
pub(crate) async fn chain_of(app: &App, ca_name: &str) -> Result<Vec<Vec<u8>>, AppError> {
    let mut tx = app.store.read().await?;
    let r = async {
        let cas = tx.list_cas().await?;
        let root = tx.active_ca(kmn_store::CaKind::Root).await?;
        Ok::<_, AppError>((cas, root))
    }
    .await;
    tx.rollback().await?;
    let (cas, root) = r?;
    let issuer = cas
        .into_iter()
        .find(|c| c.name == ca_name)
        .ok_or_else(|| AppError::CaState(format!("no CA {ca_name}")))?;
    let root = root.ok_or_else(|| AppError::CaState("no root".into()))?;
    Ok(vec![issuer.cert_der, root.cert_der])
}

/// The server side of [`StationBackend::complete`]: the card, its mailer record, the
/// fulfilment and the audit events in one commit. The serial must be the unbound
/// certificate issued to this station for this application, and the card id the one the
/// center allocated with it; on a failure after that check, that certificate (and no
/// other) is revoked.
pub async fn complete(
    app: &App,
    who: &Station,
    application_id: &str,
    rec: &StationRecord,
    produced_by: &str,
) -> Result<(crate::views::Application, crate::views::Card), AppError> {
    let r: Result<(kmn_store::ApplicationRow, kmn_store::CardRow), AppError> = async {
    let actor = who.actor();
    let t = applications::load_for_issue(app, application_id).await?;
    // Absent and foreign serials get one answer; nothing is revoked for either.
    let cert = {
        let mut tx = app.store.read().await?;
        let r = async {
            let iss = tx.issuance(&rec.serial_hex).await?;
            let c = tx.certificate(&rec.serial_hex).await?;
            Ok::<_, AppError>((iss, c))
        }
        .await;
        tx.rollback().await?;
        match r? {
            (Some(iss), Some(c))
                if iss.application_id == application_id && iss.issued_to == actor.account_id =>
            {
                c
            }
            _ => {
                return Err(AppError::Forbidden(format!(
                    "証明書 {} はこの申請（{application_id}）のためにこの発行端末へ発行された証明書ではありません",
                    rec.serial_hex
                )));
            }
        }
    };
    let issued = crate::ca::issue::Issued {
        serial_hex: cert.serial_hex.clone(),
        der: cert.der.clone(),
        subject: cert.subject.clone(),
        ca_name: cert.ca_name.clone(),
        not_after: time::OffsetDateTime::from_unix_timestamp(cert.not_after)
            .map_err(|e| AppError::Internal(e.to_string()))?,
        fingerprint_sha256: cert.fingerprint_sha256.clone(),
    };
    // The code itself came over the station's mTLS channel; only its HMAC is kept.
    let code = rec.revocation_code.trim();
    if code.len() != 12 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Err(AppError::BadInput(
            "緊急失効コードは12桁の数字です（発行端末から送られた値が正しくありません）".into(),
        ));
    }
    let sealed = crate::ra::emergency::seal_code(&crate::ra::emergency::code_pepper(app)?, code)?;
    let record = PersonalizationRecord {
        card_id: &rec.card_id,
        token_serial: &rec.token_serial,
        revocation_code_hash: &sealed,
        summary: &rec.summary,
        mailer: Some((&rec.mailer_file, &rec.mailer_sha256, produced_by)),
    };
    applications::record_fulfilment(
        app,
        actor,
        &t,
        &issued,
        kmn_domain::CardEvent::Personalize,
        Some(&record),
    )
    .await
}
    .await;
    r.map(|(a, c)| (a.into(), c.into()))
}

/// Revokes a certificate a station gives up on: only one issued to this station for an
/// application and on no card (issue 8). Any other serial — a CA's, an OCSP signer's,
/// an operator's, a server's, another station's, an absent one — gets one answer (403)
/// and nothing is revoked; one already on a card is refused (422). Ok means revoked, now
/// or before.
pub async fn abort(app: &App, who: &Station, serial_hex: &str, why: &str) -> Result<(), AppError> {
    let actor = who.actor();
    let why = why.trim();
    applications::withdraw_unbound(
        app,
        serial_hex,
        None,
        Some(&actor.account_id),
        kmn_domain::RevocationGrounds::IssuanceAbandoned,
        &format!(
            "発行端末 {} がカードを完成できなかったため無効化: {}",
            actor.account_id,
            why.chars().take(200).collect::<String>()
        ),
        &actor.account_id,
    )
    .await
    .map(|_| ())
}

mod hex_bytes {
    pub fn serialize<S: serde::Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(v))
    }
    pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let s: String = serde::Deserialize::deserialize(d)?;
        hex::decode(s).map_err(serde::de::Error::custom)
    }
}

mod hex_vec {
    pub fn serialize<S: serde::Serializer>(v: &[Vec<u8>], s: S) -> Result<S::Ok, S::Error> {
        use serde::Serialize;
        v.iter().map(hex::encode).collect::<Vec<_>>().serialize(s)
    }
    pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<Vec<u8>>, D::Error> {
        let v: Vec<String> = serde::Deserialize::deserialize(d)?;
        v.iter()
            .map(|s| hex::decode(s).map_err(serde::de::Error::custom))
            .collect()
    }
}

//! Views: what kmn-app's use cases return (issue 9 item 2, one door to the store). The
//! store's rows stay inside kmn-app; callers (kmn-web, kmn-cli) see these structs, with
//! the same field names and stable codes as text.

use serde::Serialize;

/// A facility (利用施設).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Facility {
    pub code: String,
    pub name_kanji: String,
    pub name_kana: String,
    pub name_romaji: String,
    pub kind: String,
    pub postal_code: String,
    pub address: String,
    pub phone: String,
    pub email: String,
    pub status: String,
    pub created_at: i64,
    pub updated_at: i64,
    pub version: i64,
}

impl Facility {
    /// The postal code as people read it: `〒860-0806`.
    pub fn postal_code_ja(&self) -> String {
        kmn_domain::postal_code_ja(&self.postal_code)
    }
}

impl From<kmn_store::FacilityRow> for Facility {
    fn from(r: kmn_store::FacilityRow) -> Self {
        Self {
            code: r.code,
            name_kanji: r.name_kanji,
            name_kana: r.name_kana,
            name_romaji: r.name_romaji,
            kind: r.kind,
            postal_code: r.postal_code,
            address: r.address,
            phone: r.phone,
            email: r.email,
            status: r.status,
            created_at: r.created_at,
            updated_at: r.updated_at,
            version: r.version,
        }
    }
}

/// A facility's consent to a published document version (第2条2).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Consent {
    pub facility_code: String,
    pub kind: String,
    pub version: String,
    pub given_by: String,
    pub given_at: i64,
    pub recorded_by: String,
}

impl From<kmn_store::ConsentRow> for Consent {
    fn from(r: kmn_store::ConsentRow) -> Self {
        Self {
            facility_code: r.facility_code,
            kind: r.kind,
            version: r.version,
            given_by: r.given_by,
            given_at: r.given_at,
            recorded_by: r.recorded_by,
        }
    }
}

/// A person (利用者).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Person {
    pub holder_id: String,
    pub name_kanji: String,
    pub name_kana: String,
    pub name_romaji: String,
    pub date_of_birth: String,
    pub profession: String,
    pub licence_checked: i64,
    pub work_email: String,
    pub created_at: i64,
    pub updated_at: i64,
    pub version: i64,
}

impl From<kmn_store::PersonRow> for Person {
    fn from(r: kmn_store::PersonRow) -> Self {
        Self {
            holder_id: r.holder_id,
            name_kanji: r.name_kanji,
            name_kana: r.name_kana,
            name_romaji: r.name_romaji,
            date_of_birth: r.date_of_birth,
            profession: r.profession,
            licence_checked: r.licence_checked,
            work_email: r.work_email,
            created_at: r.created_at,
            updated_at: r.updated_at,
            version: r.version,
        }
    }
}

/// A person's affiliation to a facility.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Affiliation {
    pub holder_id: String,
    pub facility_code: String,
    pub permitted: i64,
    pub is_desk: i64,
    pub since: i64,
}

impl From<kmn_store::AffiliationRow> for Affiliation {
    fn from(r: kmn_store::AffiliationRow) -> Self {
        Self {
            holder_id: r.holder_id,
            facility_code: r.facility_code,
            permitted: r.permitted,
            is_desk: r.is_desk,
            since: r.since,
        }
    }
}

/// An application (利用申請).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Application {
    pub id: String,
    pub facility_code: String,
    pub holder_id: String,
    pub kind: String,
    pub kind_detail: Option<String>,
    pub validity_years: Option<i64>,
    pub target_card_id: Option<String>,
    pub state: String,
    pub fee_bearing: i64,
    pub created_by: String,
    pub created_at: i64,
    pub updated_at: i64,
    pub decided_by: Option<String>,
    pub decided_at: Option<i64>,
    pub reject_reason: Option<String>,
    pub card_id: Option<String>,
    pub version: i64,
}

impl From<kmn_store::ApplicationRow> for Application {
    fn from(r: kmn_store::ApplicationRow) -> Self {
        Self {
            id: r.id,
            facility_code: r.facility_code,
            holder_id: r.holder_id,
            kind: r.kind,
            kind_detail: r.kind_detail,
            validity_years: r.validity_years,
            target_card_id: r.target_card_id,
            state: r.state,
            fee_bearing: r.fee_bearing,
            created_by: r.created_by,
            created_at: r.created_at,
            updated_at: r.updated_at,
            decided_by: r.decided_by,
            decided_at: r.decided_at,
            reject_reason: r.reject_reason,
            card_id: r.card_id,
            version: r.version,
        }
    }
}

/// One step of an application's review.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Round {
    pub application_id: String,
    pub seq: i64,
    pub action: String,
    pub actor: String,
    pub at: i64,
    pub from_state: String,
    pub to_state: String,
    pub deficiencies: Option<String>,
    pub comment: Option<String>,
}

impl From<kmn_store::RoundRow> for Round {
    fn from(r: kmn_store::RoundRow) -> Self {
        Self {
            application_id: r.application_id,
            seq: r.seq,
            action: r.action,
            actor: r.actor,
            at: r.at,
            from_state: r.from_state,
            to_state: r.to_state,
            deficiencies: r.deficiencies,
            comment: r.comment,
        }
    }
}

/// A document attached to an application (its bytes are read separately).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Document {
    pub id: String,
    pub application_id: String,
    pub file_name: String,
    pub media_type: String,
    pub sha256: String,
    pub size: i64,
    pub uploaded_by: String,
    pub uploaded_at: i64,
    pub retain_until: Option<i64>,
}

impl From<kmn_store::DocumentRow> for Document {
    fn from(r: kmn_store::DocumentRow) -> Self {
        Self {
            id: r.id,
            application_id: r.application_id,
            file_name: r.file_name,
            media_type: r.media_type,
            sha256: r.sha256,
            size: r.size,
            uploaded_by: r.uploaded_by,
            uploaded_at: r.uploaded_at,
            retain_until: r.retain_until,
        }
    }
}

/// A user card (利用者カード).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Card {
    pub id: String,
    pub holder_id: String,
    pub facility_code: String,
    pub application_id: String,
    pub state: String,
    pub cert_serial_hex: Option<String>,
    pub token_serial: Option<String>,
    pub validity_years: i64,
    pub issued_at: Option<i64>,
    pub not_after: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
    pub version: i64,
}

impl From<kmn_store::CardRow> for Card {
    fn from(r: kmn_store::CardRow) -> Self {
        Self {
            id: r.id,
            holder_id: r.holder_id,
            facility_code: r.facility_code,
            application_id: r.application_id,
            state: r.state,
            cert_serial_hex: r.cert_serial_hex,
            token_serial: r.token_serial,
            validity_years: r.validity_years,
            issued_at: r.issued_at,
            not_after: r.not_after,
            created_at: r.created_at,
            updated_at: r.updated_at,
            version: r.version,
        }
    }
}

/// A notice to a facility.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Notice {
    pub id: String,
    pub facility_code: Option<String>,
    pub kind: String,
    pub subject: String,
    pub body: String,
    pub object: Option<String>,
    pub created_at: i64,
    pub read_at: Option<i64>,
}

impl From<kmn_store::NoticeRow> for Notice {
    fn from(r: kmn_store::NoticeRow) -> Self {
        Self {
            id: r.id,
            facility_code: r.facility_code,
            kind: r.kind,
            subject: r.subject,
            body: r.body,
            object: r.object,
            created_at: r.created_at,
            read_at: r.read_at,
        }
    }
}

/// An account: a client certificate mapped to a role and a person.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Account {
    pub id: String,
    pub role: String,
    pub display_name: String,
    pub cert_issuer: String,
    pub cert_fingerprint: String,
    pub facility_code: Option<String>,
    pub holder_id: Option<String>,
    pub disabled: i64,
    pub created_at: i64,
    pub created_by: String,
    /// The person who holds the account (a desk: its holder id; center staff: given at
    /// `kmn account add --person`, else the account's own id).
    pub person_id: Option<String>,
    /// The token the key was generated on (`kmn account enrol`, issue 9 item 3).
    pub token_serial: Option<String>,
}

impl From<kmn_store::AccountRow> for Account {
    fn from(r: kmn_store::AccountRow) -> Self {
        Self {
            id: r.id,
            role: r.role,
            display_name: r.display_name,
            cert_issuer: r.cert_issuer,
            cert_fingerprint: r.cert_fingerprint,
            facility_code: r.facility_code,
            holder_id: r.holder_id,
            disabled: r.disabled,
            created_at: r.created_at,
            created_by: r.created_by,
            person_id: r.person_id,
            token_serial: r.token_serial,
        }
    }
}

/// A card's delivery and receipt (第8条).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Default)]
pub struct Delivery {
    pub card_id: String,
    pub shipped_at: Option<i64>,
    pub shipped_by: Option<String>,
    pub shipping_method: Option<String>,
    pub tracking_number: Option<String>,
    pub received_at: Option<i64>,
    pub received_by: Option<String>,
    /// `desk` (the facility desk, by the card's serial) or `paper` / `phone` (recorded
    /// by the center for a facility whose desk has no card yet).
    pub receipt_channel: Option<String>,
    pub receipt_note: Option<String>,
    /// When the holder received the card from the desk (as the desk reports it).
    pub handed_over_at: Option<i64>,
    /// Who received it (the holder's name as the desk checked it).
    pub handed_over_to: Option<String>,
    pub handed_over_by: Option<String>,
    pub handover_recorded_at: Option<i64>,
    pub lost_at: Option<i64>,
    pub lost_note: Option<String>,
}

impl From<kmn_store::DeliveryRow> for Delivery {
    fn from(r: kmn_store::DeliveryRow) -> Self {
        Self {
            card_id: r.card_id,
            shipped_at: r.shipped_at,
            shipped_by: r.shipped_by,
            shipping_method: r.shipping_method,
            tracking_number: r.tracking_number,
            received_at: r.received_at,
            received_by: r.received_by,
            receipt_channel: r.receipt_channel,
            receipt_note: r.receipt_note,
            handed_over_at: r.handed_over_at,
            handed_over_to: r.handed_over_to,
            handed_over_by: r.handed_over_by,
            handover_recorded_at: r.handover_recorded_at,
            lost_at: r.lost_at,
            lost_note: r.lost_note,
        }
    }
}

/// A PIN mailer (PIN通知書).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PinMailer {
    pub id: String,
    pub card_id: String,
    /// `initial` (personalization) or `unlock` (a new PIN after an unlock, 第9条).
    pub purpose: String,
    /// `held` → `released` (receipt confirmed) → `dispatched`; or `destroyed`.
    pub state: String,
    /// File name under the producing station's mailer directory.
    pub file_name: String,
    /// Where the file is: `center` (local station) or the station account id.
    pub produced_by: String,
    /// SHA-256 of the PDF, so a printed or moved file can be checked.
    pub sha256: String,
    pub created_at: i64,
    pub released_at: Option<i64>,
    pub dispatched_at: Option<i64>,
    pub destroyed_at: Option<i64>,
    pub version: i64,
}

impl From<kmn_store::PinMailerRow> for PinMailer {
    fn from(r: kmn_store::PinMailerRow) -> Self {
        Self {
            id: r.id,
            card_id: r.card_id,
            purpose: r.purpose,
            state: r.state,
            file_name: r.file_name,
            produced_by: r.produced_by,
            sha256: r.sha256,
            created_at: r.created_at,
            released_at: r.released_at,
            dispatched_at: r.dispatched_at,
            destroyed_at: r.destroyed_at,
            version: r.version,
        }
    }
}

/// The kind of a CA.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum CaKind {
    /// Offline root.
    Root,
    /// Online issuing CA.
    Issuing,
    /// Delegated OCSP signer.
    OcspSigner,
    /// The audit signer (signed checkpoints of the audit log, issue 9 item 6).
    AuditSigner,
}

impl From<CaKind> for kmn_store::CaKind {
    fn from(k: CaKind) -> Self {
        match k {
            CaKind::Root => Self::Root,
            CaKind::Issuing => Self::Issuing,
            CaKind::OcspSigner => Self::OcspSigner,
            CaKind::AuditSigner => Self::AuditSigner,
        }
    }
}

impl From<kmn_store::CaKind> for CaKind {
    fn from(k: kmn_store::CaKind) -> Self {
        match k {
            kmn_store::CaKind::Root => Self::Root,
            kmn_store::CaKind::Issuing => Self::Issuing,
            kmn_store::CaKind::OcspSigner => Self::OcspSigner,
            kmn_store::CaKind::AuditSigner => Self::AuditSigner,
        }
    }
}

/// A CA of this center, as recorded.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CaSummary {
    /// Short name, used in repository URLs.
    pub name: String,
    /// Kind.
    pub kind: CaKind,
    /// Serial of its certificate, hex.
    pub serial_hex: String,
    /// Its certificate (DER).
    pub cert_der: Vec<u8>,
    /// Where its key is: `file:secrets/…` or `pkcs11:…`.
    pub key_ref: String,
    /// notAfter, Unix seconds.
    pub not_after: i64,
    /// The current one of its kind.
    pub active: bool,
}

impl From<kmn_store::CaRecord> for CaSummary {
    fn from(r: kmn_store::CaRecord) -> Self {
        Self {
            name: r.name,
            kind: r.kind.into(),
            serial_hex: r.serial_hex,
            cert_der: r.cert_der,
            key_ref: r.key_ref,
            not_after: r.not_after,
            active: r.active,
        }
    }
}

/// The last CRL (or ARL) a CA published.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CrlSummary {
    /// CA.
    pub ca_name: String,
    /// Number.
    pub number: i64,
    /// thisUpdate, Unix seconds.
    pub this_update: i64,
    /// nextUpdate, Unix seconds.
    pub next_update: i64,
    /// Entries.
    pub entries: i64,
}

/// A published CPS / terms / privacy-policy version.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PublishedDocument {
    /// cps, terms, privacy_policy.
    pub kind: String,
    /// Version.
    pub version: String,
    /// File name.
    pub file_name: String,
    /// SHA-256 (hex).
    pub sha256: String,
    /// The bytes.
    pub bytes: Vec<u8>,
    /// When, Unix seconds.
    pub published_at: i64,
}

/// The result of checking the audit chain.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AuditCheck {
    /// Events in the chain.
    pub events: i64,
    /// The head hash.
    pub head: String,
    /// What is broken, if anything.
    pub problem: Option<String>,
}

/// Reads that need no right: the public repository and `/health`, and the server's
/// own listener (no person is acting).
pub mod public {
    use super::{CaSummary, CrlSummary, PublishedDocument};
    use crate::{App, AppError};

    /// Every CA record of this center.
    pub async fn cas(app: &App) -> Result<Vec<CaSummary>, AppError> {
        let mut tx = app.store.read().await?;
        let v = tx.list_cas().await;
        tx.rollback().await?;
        Ok(v?.into_iter().map(Into::into).collect())
    }

    /// The last CRL (ARL) of every CA that publishes one.
    pub async fn last_crls(app: &App) -> Result<Vec<CrlSummary>, AppError> {
        let mut tx = app.store.read().await?;
        let r = async {
            let mut out = Vec::new();
            for ca in tx.list_cas().await? {
                if ca.kind == kmn_store::CaKind::OcspSigner {
                    continue;
                }
                if let Some(c) = tx.last_crl(&ca.name).await? {
                    out.push(CrlSummary {
                        ca_name: c.ca_name,
                        number: c.number,
                        this_update: c.this_update,
                        next_update: c.next_update,
                        entries: c.entries,
                    });
                }
            }
            Ok::<_, AppError>(out)
        }
        .await;
        tx.rollback().await?;
        r
    }

    /// A published document: the current version of `kind`, or a given one. A read:
    /// a public route never takes SQLite's write lock.
    pub async fn published_document(
        app: &App,
        kind: &str,
        version: Option<&str>,
    ) -> Result<Option<PublishedDocument>, AppError> {
        let mut tx = app.store.read().await?;
        let d = match version {
            Some(v) => tx.published_document(kind, v).await,
            None => tx.current_document(kind).await,
        };
        tx.rollback().await?;
        Ok(d?.map(|d| PublishedDocument {
            kind: d.kind,
            version: d.version,
            file_name: d.file_name,
            sha256: d.sha256,
            bytes: d.bytes,
            published_at: d.published_at,
        }))
    }

    /// The status of a certificate this CA issued, by its SHA-256 fingerprint: (serial,
    /// status, profile, revocation reason) or `None` for a foreign certificate.
    pub async fn certificate_by_fingerprint(
        app: &App,
        fp: &str,
    ) -> Result<Option<super::CertificateStatus>, AppError> {
        let mut tx = app.store.read().await?;
        let r = async {
            Ok::<_, AppError>(match tx.cert_status_by_fingerprint(fp).await? {
                Some((serial, _, _)) => tx.certificate(&serial).await?,
                None => None,
            })
        }
        .await;
        tx.rollback().await?;
        Ok(r?.map(|c| super::CertificateStatus {
            serial_hex: c.serial_hex,
            status: c.status,
            profile: c.profile,
            revocation_reason: c.revocation.map(|r| r.reason),
        }))
    }
}

/// A certificate's status.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CertificateStatus {
    /// Serial, hex.
    pub serial_hex: String,
    /// Valid, on hold, revoked.
    pub status: kmn_domain::CertStatus,
    /// Profile code.
    pub profile: String,
    /// The reason, when revoked.
    pub revocation_reason: Option<kmn_domain::RevocationReason>,
}

/// A certificate this CA issued, with its status (`kmn cert show`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Certificate {
    pub serial_hex: String,
    pub ca_name: String,
    pub profile: String,
    pub subject: String,
    pub not_before: i64,
    pub not_after: i64,
    pub fingerprint_sha256: String,
    pub der: Vec<u8>,
    pub issued_at: i64,
    pub status: kmn_domain::CertStatus,
    pub revocation: Option<Revocation>,
}

/// What is known about a revocation (第16条, 第23条3).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Revocation {
    pub reason: kmn_domain::RevocationReason,
    pub revoked_at: i64,
    pub invalidity_date: Option<i64>,
    pub article: Option<String>,
    pub comment: Option<String>,
    pub requested_by: Option<String>,
    pub request_received_at: Option<i64>,
    pub first_crl_number: Option<i64>,
    pub first_crl_published_at: Option<i64>,
    /// The grounds' code (`emergency:lost`, …).
    pub grounds: Option<String>,
    /// The channel (`desk`, `holder`, `phone`, …).
    pub channel: Option<String>,
    /// producedAt of the first OCSP response showing it revoked.
    pub first_ocsp_produced_at: Option<i64>,
    /// When that response was stored, read back and checked.
    pub first_ocsp_at: Option<i64>,
}

impl From<kmn_store::RevocationInfo> for Revocation {
    fn from(r: kmn_store::RevocationInfo) -> Self {
        Self {
            reason: r.reason,
            revoked_at: r.revoked_at,
            invalidity_date: r.invalidity_date,
            article: r.article,
            comment: r.comment,
            requested_by: r.requested_by,
            request_received_at: r.request_received_at,
            first_crl_number: r.first_crl_number,
            first_crl_published_at: r.first_crl_published_at,
            grounds: r.grounds,
            channel: r.channel,
            first_ocsp_produced_at: r.first_ocsp_produced_at,
            first_ocsp_at: r.first_ocsp_at,
        }
    }
}

impl From<kmn_store::CertRecord> for Certificate {
    fn from(c: kmn_store::CertRecord) -> Self {
        Self {
            serial_hex: c.serial_hex,
            ca_name: c.ca_name,
            profile: c.profile,
            subject: c.subject,
            not_before: c.not_before,
            not_after: c.not_after,
            fingerprint_sha256: c.fingerprint_sha256,
            der: c.der,
            issued_at: c.issued_at,
            status: c.status,
            revocation: c.revocation.map(Into::into),
        }
    }
}

/// The evidence of one certificate's revocation (第23条3, issue 10 item 6): every
/// timestamp from the request's arrival to the first CRL and the first OCSP response
/// showing it revoked, each `None` until it has happened (a certificate that is not
/// revoked has only its status).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Evidence {
    /// Serial, lowercase hex.
    pub serial_hex: String,
    /// The issuing CA's record name.
    pub ca_name: String,
    /// The certificate's subject.
    pub subject: String,
    /// Its status now.
    pub status: kmn_domain::CertStatus,
    /// The card holding it (a holder's card), its holder and facility.
    pub card_id: Option<String>,
    /// The card's holder.
    pub holder_id: Option<String>,
    /// The card's facility.
    pub facility_code: Option<String>,
    /// The RFC 5280 reason.
    pub reason: Option<kmn_domain::RevocationReason>,
    /// The grounds' code (`emergency:lost`, …).
    pub grounds: Option<String>,
    /// The article of the terms (`第11条`, …).
    pub article: Option<String>,
    /// The channel the request came through (`desk`, `holder`, `phone`, …).
    pub channel: Option<String>,
    /// Who asked (account, `system:jobs`, the CA administrator).
    pub requested_by: Option<String>,
    /// Free text kept with the revocation.
    pub comment: Option<String>,
    /// When the request arrived.
    pub request_received_at: Option<i64>,
    /// When it was revoked (the CRL's revocationDate).
    pub revoked_at: Option<i64>,
    /// invalidityDate (keyCompromise only).
    pub invalidity_date: Option<i64>,
    /// The first CRL listing it: its number …
    pub first_crl_number: Option<i64>,
    /// … its thisUpdate …
    pub first_crl_this_update: Option<i64>,
    /// … when it was written, read back and checked …
    pub first_crl_published_at: Option<i64>,
    /// … and the SHA-256 of its DER (hex).
    pub first_crl_sha256: Option<String>,
    /// producedAt of the first OCSP response showing it revoked.
    pub first_ocsp_produced_at: Option<i64>,
    /// When that response was stored, read back and checked.
    pub first_ocsp_at: Option<i64>,
}

impl Evidence {
    /// The grounds as people read them, e.g. 緊急失効（紛失）.
    pub fn grounds_label_ja(&self) -> Option<String> {
        self.grounds
            .as_deref()
            .and_then(|g| kmn_domain::RevocationGrounds::parse(g).ok())
            .map(kmn_domain::RevocationGrounds::label_ja)
    }

    /// The channel as people read it, e.g. 利用施設窓口.
    pub fn channel_label_ja(&self) -> Option<&'static str> {
        self.channel
            .as_deref()
            .and_then(|c| c.parse::<kmn_domain::RevocationChannel>().ok())
            .map(kmn_domain::RevocationChannel::label_ja)
    }
}

/// A doctor's binding to a facility (医師の登録, issue 11 item 3): one registered HPKI
/// certificate at one facility. The certificate itself is served separately.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DoctorBinding {
    pub id: String,
    pub facility_code: String,
    /// The certificate's issuer Name, DER, hex (what the lookup compares).
    pub issuer_der_hex: String,
    /// The issuer Name as text (for people).
    pub issuer: String,
    /// The certificate's serial, hex.
    pub serial_hex: String,
    /// SHA-256 of the certificate's SubjectPublicKeyInfo, hex.
    pub spki_sha256: String,
    /// SHA-256 of the whole certificate, hex.
    pub cert_sha256: String,
    /// The certificate's subject (the doctor's name as the HPKI CA wrote it; shown,
    /// never used for a decision).
    pub subject: String,
    pub not_before: i64,
    pub not_after: i64,
    /// enrolled, confirmed, active, ended, refused, withdrawn.
    pub state: String,
    pub enrolled_by: String,
    pub enrolled_at: i64,
    pub confirmed_by: Option<String>,
    /// Who at the facility confirmed in writing, when the center recorded it.
    pub confirmed_note: Option<String>,
    pub confirmed_at: Option<i64>,
    pub approved_by: Option<String>,
    pub approved_at: Option<i64>,
    /// Who ended, refused or withdrew it.
    pub closed_by: Option<String>,
    pub closed_at: Option<i64>,
    /// The day the doctor left the facility (YYYY-MM-DD).
    pub ended_on: Option<String>,
    pub close_reason: Option<String>,
    pub version: i64,
}

impl From<kmn_store::DoctorBindingRow> for DoctorBinding {
    fn from(r: kmn_store::DoctorBindingRow) -> Self {
        Self {
            id: r.id,
            facility_code: r.facility_code,
            issuer_der_hex: r.issuer_der_hex,
            issuer: r.issuer_text,
            serial_hex: r.serial_hex,
            spki_sha256: r.spki_sha256,
            cert_sha256: r.cert_sha256,
            subject: r.subject_text,
            not_before: r.not_before,
            not_after: r.not_after,
            state: r.state,
            enrolled_by: r.enrolled_by,
            enrolled_at: r.enrolled_at,
            confirmed_by: r.confirmed_by,
            confirmed_note: r.confirmed_note,
            confirmed_at: r.confirmed_at,
            approved_by: r.approved_by,
            approved_at: r.approved_at,
            closed_by: r.closed_by,
            closed_at: r.closed_at,
            ended_on: r.ended_on,
            close_reason: r.close_reason,
            version: r.version,
        }
    }
}

/// One active binding of a presented certificate.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DoctorLookupEntry {
    pub binding_id: String,
    /// The facility the doctor may act for.
    pub facility_code: String,
    /// Always `doctor` (what the gateway forwards as `X-KMN-Profession`).
    pub profession: String,
    /// The certificate's notAfter.
    pub not_after: i64,
}

/// The doctor registry's answer for a presented certificate: its active bindings (empty:
/// not registered, not yet approved, ended, or another key).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DoctorLookupAnswer {
    pub bindings: Vec<DoctorLookupEntry>,
}

//! The request bodies of the API (`/api/v1`, kmn-web): what a client sends, so untrusted
//! input. They are kept in this small crate, beside nothing but serde and utoipa, so that
//! the fuzz target `json` (`fuzz/`, issue 9 item 5) decodes the very types the handlers
//! decode without building the server; kmn-web re-exports each one where its handler is.
//!
//! Every body refuses unknown fields; times are RFC 3339. The handlers decode them with
//! axum's `Json` (serde_json + serde_path_to_error) and map a refusal to the documented
//! Japanese error body (`kmn_web::api::error::json_rejection`). [`visit_all`] lists them
//! all, for the fuzz target and the replay of the corpus `tests/hostile/json/`.
//!
//! One response body lives here too, for clients that decode it: [`EvidenceOut`], the
//! evidence of a revocation (第23条3). It is never decoded from a request.
#![forbid(unsafe_code)]

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Something done with every request body type (decode a corpus file, fuzz).
pub trait BodyVisitor {
    /// Called once per type with its name (the type's name, which is also the name of its
    /// folder in `tests/hostile/json/`).
    fn visit<T: DeserializeOwned + 'static>(&mut self, name: &'static str);
}

/// Calls `v` with every request body type of the API.
pub fn visit_all<V: BodyVisitor>(v: &mut V) {
    v.visit::<FacilityIn>("FacilityIn");
    v.visit::<ConsentIn>("ConsentIn");
    v.visit::<PersonIn>("PersonIn");
    v.visit::<ApplicationIn>("ApplicationIn");
    v.visit::<ActionIn>("ActionIn");
    v.visit::<ReturnIn>("ReturnIn");
    v.visit::<RejectIn>("RejectIn");
    v.visit::<FulfilIn>("FulfilIn");
    v.visit::<ShipIn>("ShipIn");
    v.visit::<ReceiptIn>("ReceiptIn");
    v.visit::<OutOfBandReceiptIn>("OutOfBandReceiptIn");
    v.visit::<HandoverIn>("HandoverIn");
    v.visit::<LostInPostIn>("LostInPostIn");
    v.visit::<EmergencyRevocationIn>("EmergencyRevocationIn");
    v.visit::<HolderEmergencyIn>("HolderEmergencyIn");
    v.visit::<RevocationProposalIn>("RevocationProposalIn");
    v.visit::<ProposalDecisionIn>("ProposalDecisionIn");
    v.visit::<SoPinIn>("SoPinIn");
    v.visit::<StationCsrIn>("StationCsrIn");
    v.visit::<StationCardIn>("StationCardIn");
    v.visit::<AbortIn>("AbortIn");
    v.visit::<DoctorEnrolIn>("DoctorEnrolIn");
    v.visit::<DoctorConfirmIn>("DoctorConfirmIn");
    v.visit::<DoctorReasonIn>("DoctorReasonIn");
    v.visit::<DoctorEndIn>("DoctorEndIn");
}

// --- registry (kmn-web `api::dto`) ---------------------------------------------------

/// A facility to register.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FacilityIn {
    /// 医療機関コード or 介護保険事業所番号 (10 digits).
    pub code: String,
    /// hospital, clinic, dental_clinic, pharmacy, care_facility, visiting_nursing, other.
    pub kind: String,
    pub name_kanji: String,
    /// Full-width katakana.
    pub name_kana: String,
    /// As entered (never generated).
    pub name_romaji: String,
    pub postal_code: String,
    pub address: String,
    pub phone: String,
    /// Where notices are mailed.
    pub email: String,
}

/// A consent to record (第2条2).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConsentIn {
    /// cps, terms or privacy_policy.
    pub kind: String,
    /// The published version consented to.
    pub version: String,
    /// Who consented for the facility.
    pub given_by: String,
}

/// A person to register at a facility.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PersonIn {
    pub facility_code: String,
    pub name_kanji: String,
    /// Full-width katakana.
    pub name_kana: String,
    pub name_romaji: String,
    /// YYYY-MM-DD.
    pub date_of_birth: String,
    /// A profession code (e.g. nurse, pharmacist; doctor exists but cannot apply).
    pub profession: String,
    pub work_email: String,
    /// Permitted to use the network (第4条1).
    #[serde(default)]
    pub permitted: bool,
    /// A member of the facility desk (第17条).
    #[serde(default)]
    pub is_desk: bool,
    /// Qualification checked against the licence (center only).
    #[serde(default)]
    pub licence_checked: bool,
}

/// A new application (draft).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApplicationIn {
    pub facility_code: String,
    pub holder_id: String,
    /// new, renewal, reissue, discontinuation, loss_report, info_change.
    pub kind: String,
    /// reissue: lost, damaged, facility_renamed, holder_renamed, defective; discontinuation: left_facility, stopped_using.
    pub detail: Option<String>,
    /// 3 or 5, for kinds that issue a card (第10条).
    pub validity_years: Option<i64>,
    /// The card a renewal, reissue, discontinuation or loss report is about.
    pub target_card_id: Option<String>,
}

/// A deficiency (第6条2): the field, the problem, what to do.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeficiencyIo {
    pub field: String,
    pub problem: String,
    pub action: String,
}

/// A plain action on a version.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ActionIn {
    /// The version acted on (from `ApplicationOut.version`); stale versions are refused.
    pub version: Option<i64>,
}

/// Return with deficiencies (第6条2).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReturnIn {
    pub version: Option<i64>,
    pub deficiencies: Vec<DeficiencyIo>,
}

/// Reject with a reason.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RejectIn {
    pub version: Option<i64>,
    pub reason: String,
}

/// Fulfil from a CSR (demo mode only).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FulfilIn {
    /// PEM `CERTIFICATE REQUEST`.
    pub csr_pem: String,
}

// --- card delivery (kmn-web `api::delivery`) ----------------------------------------

/// Shipping.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ShipIn {
    /// How it was sent (e.g. 簡易書留).
    pub method: String,
    pub tracking_number: Option<String>,
}

/// The desk's receipt, by the serial printed on the card.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReceiptIn {
    pub token_serial: String,
}

/// A receipt the center received on paper or by phone.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OutOfBandReceiptIn {
    /// `paper` or `phone`.
    pub channel: String,
    /// Who called, the slip's number, …
    pub note: String,
}

/// The handover to the holder.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HandoverIn {
    /// The name of the holder who received it (checked against the registry).
    pub handed_to: String,
    /// When (RFC 3339); now when absent.
    pub handed_over_at: Option<String>,
}

/// A loss in the post.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LostInPostIn {
    pub note: String,
}

/// A proposal to revoke on the association's own grounds (第12条), under dual control:
/// named cards, or every live card of one facility (bulk).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RevocationProposalIn {
    /// `breach` (1), `compromise` (2), `misuse` (3), `untrue_data` (4), `unpaid_fees` (5),
    /// `other` (6): the item of 第12条.
    pub ground: String,
    /// The cards (ids as printed).
    #[serde(default)]
    pub card_ids: Vec<String>,
    /// Or: every card of this facility whose certificate is valid now (frozen when
    /// proposed).
    pub facility_code: Option<String>,
    /// Whether the cards must come back (第15条).
    #[serde(default)]
    pub card_must_return: bool,
    /// Why (4 to 500 characters).
    pub note: String,
}

/// A supervisor's decision on a proposal: the SHA-256 of the content they saw, and for a
/// rejection the reason.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProposalDecisionIn {
    /// `content_sha256` of the proposal as shown.
    pub content_sha256: String,
    /// A rejection's reason.
    pub reason: Option<String>,
}

/// An emergency revocation (第11条): the card is revoked at once.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EmergencyRevocationIn {
    /// `lost`, `stolen` or `feared_misuse` (e.g. the PIN may have leaked).
    pub reason: String,
    /// The last time the card was known to be safe (RFC 3339): the certificate's
    /// invalidityDate.
    pub last_known_safe: Option<String>,
    /// Where and how (free text, up to 500 characters).
    #[serde(default)]
    pub note: String,
}

/// The holder's own emergency revocation (第11条), the JSON variant of the public form
/// on the holders' listener (no client certificate): the card number and the emergency
/// code printed on the PIN mailer.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HolderEmergencyIn {
    /// カード番号 as printed on the PIN mailer (e.g. C00000002; case and hyphens ignored).
    pub card_number: String,
    /// The emergency code (hyphens and spaces ignored).
    pub code: String,
    /// `lost`, `stolen` or `feared_misuse`.
    pub reason: String,
}

// --- personalization stations (kmn-web `api::station`) -------------------------------

/// The token whose SO PIN is wanted.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SoPinIn {
    pub token_serial: String,
}

/// The key's attributes on the card, as `check_card_key` read them.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct KeyReportIn {
    /// `rsa2048` or `p256`.
    pub alg: String,
    pub local: bool,
    pub never_extractable: bool,
    pub sensitive: bool,
}

/// A CSR signed on the card.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StationCsrIn {
    /// PEM `CERTIFICATE REQUEST`.
    pub csr_pem: String,
    pub key: KeyReportIn,
}

/// The finished card: the card id and serial the center issued to this station for the
/// application (any other is refused).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StationCardIn {
    pub card_id: String,
    pub serial_hex: String,
    pub token_serial: String,
    /// The emergency revocation code printed on the PIN mailer (12 digits): the center
    /// keeps it only as an HMAC under its pepper (第11条, issue 10).
    pub revocation_code: String,
    pub summary: String,
    /// Where the station keeps the PIN mailer.
    pub mailer_file: String,
    pub mailer_sha256: String,
}

/// Why the station gives a certificate up.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AbortIn {
    pub reason: String,
}

// --- response bodies clients decode ---------------------------------------------------

/// The evidence of a certificate's revocation (第23条3): when the request arrived,
/// through whom and which channel, when it was revoked, the first CRL listing it and
/// the first OCSP response showing it revoked. Times are RFC 3339 (UTC); a time is
/// `null` until it has happened (a certificate that is not revoked has only its status).
/// A response body only: never decoded from a client.
#[derive(Debug, Serialize, ToSchema)]
pub struct EvidenceOut {
    /// Serial, lowercase hex.
    pub serial_hex: String,
    /// The issuing CA.
    pub ca_name: String,
    /// The certificate's subject.
    pub subject: String,
    /// `valid`, `on_hold` or `revoked`.
    pub status: String,
    /// The status in Japanese.
    pub status_label: String,
    /// The card holding the certificate, its holder and facility.
    pub card_id: Option<String>,
    pub holder_id: Option<String>,
    pub facility_code: Option<String>,
    /// The RFC 5280 reason (`keyCompromise`, …) and its Japanese label.
    pub reason: Option<String>,
    pub reason_label: Option<String>,
    /// The grounds' code (`emergency:lost`, …) and its Japanese label.
    pub grounds: Option<String>,
    pub grounds_label: Option<String>,
    /// The article of the terms (`第11条`, …).
    pub article: Option<String>,
    /// The channel (`desk`, `holder`, `phone`, …) and its Japanese label.
    pub channel: Option<String>,
    pub channel_label: Option<String>,
    /// Who asked (an account id, `system:jobs`, the CA administrator).
    pub requested_by: Option<String>,
    /// When the request arrived.
    pub request_received_at: Option<String>,
    /// When it was revoked (the CRL's revocationDate).
    pub revoked_at: Option<String>,
    /// invalidityDate (keyCompromise only).
    pub invalidity_date: Option<String>,
    /// The first CRL listing it: its number, thisUpdate, when it was written, read back
    /// and checked, and the SHA-256 of its DER (hex).
    pub first_crl_number: Option<i64>,
    pub first_crl_this_update: Option<String>,
    pub first_crl_published_at: Option<String>,
    pub first_crl_sha256: Option<String>,
    /// The first OCSP response showing it revoked: its producedAt, and when it was
    /// stored, read back and checked.
    pub first_ocsp_produced_at: Option<String>,
    pub first_ocsp_at: Option<String>,
    /// Whether the signed receipt (`…/revocation-receipt`) and the letter
    /// (`…/revocation-letter`) can be had: revoked and on a CRL that was read back.
    pub receipt_available: bool,
}

// --- the doctor registry (kmn-web `api::doctors`, issue 11 item 3) ---------------------

/// A doctor's HPKI authentication certificate to enrol for a facility.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DoctorEnrolIn {
    /// The facility the doctor acts for (a desk: its own).
    pub facility_code: String,
    /// The certificate: PEM (`-----BEGIN CERTIFICATE-----`), or its DER in base64.
    pub certificate: String,
}

/// The facility's confirmation.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DoctorConfirmIn {
    /// Required when the center records a confirmation given in writing: who at the
    /// facility gave it. A desk confirms for itself and leaves it out.
    pub given_by: Option<String>,
}

/// A refusal or a withdrawal, with its reason.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DoctorReasonIn {
    /// Why (up to 200 characters).
    pub reason: String,
}

/// The end of a binding: the doctor left the facility (or the card was replaced).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DoctorEndIn {
    /// The day the binding ends, YYYY-MM-DD.
    pub ended_on: String,
    /// Why (up to 200 characters).
    pub reason: String,
}

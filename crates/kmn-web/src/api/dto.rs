//! Request and response bodies of the API. Requests refuse unknown fields; times are
//! RFC 3339 in UTC; every code has its Japanese label beside it for people.

use kmn_app::views::{
    Affiliation as AffiliationRow, Application as ApplicationRow, Card as CardRow,
    Consent as ConsentRow, Document as DocumentRow, Facility as FacilityRow, Notice as NoticeRow,
    Person as PersonRow, Round as RoundRow,
};
use serde::Serialize;
use utoipa::ToSchema;

// The request bodies live in kmn-api-types (fuzzed on their own, issue 9 item 5).
pub use kmn_api_types::{
    ActionIn, ApplicationIn, ConsentIn, DeficiencyIo, EvidenceOut, FacilityIn, FulfilIn, PersonIn,
    RejectIn, ReturnIn,
};

pub(crate) fn ts(t: i64) -> String {
    kmn_domain::time_fmt::rfc3339_unix(t)
}

fn label<T: std::str::FromStr>(code: &str, f: impl Fn(T) -> &'static str) -> String {
    code.parse::<T>().map(f).unwrap_or("").to_string()
}

/// A page of results; pass `next` as `after` for the following page.
#[derive(Debug, Serialize, ToSchema)]
pub struct Page<T: ToSchema> {
    /// The items.
    pub items: Vec<T>,
    /// The cursor of the next page, if there is one.
    pub next: Option<String>,
}

/// Who is calling.
#[derive(Debug, Serialize, ToSchema)]
pub struct WhoAmI {
    pub account_id: String,
    pub role: String,
    pub role_label: String,
    pub facility_code: Option<String>,
    pub display_name: String,
}

/// A facility.
#[derive(Debug, Serialize, ToSchema)]
pub struct FacilityOut {
    pub code: String,
    pub kind: String,
    pub kind_label: String,
    pub name_kanji: String,
    pub name_kana: String,
    pub name_romaji: String,
    pub postal_code: String,
    pub address: String,
    pub phone: String,
    pub email: String,
    pub status: String,
    pub status_label: String,
    pub created_at: String,
}

impl From<FacilityRow> for FacilityOut {
    fn from(f: FacilityRow) -> Self {
        Self {
            kind_label: label(&f.kind, kmn_domain::FacilityKind::label_ja),
            status_label: label(&f.status, kmn_domain::FacilityStatus::label_ja),
            created_at: ts(f.created_at),
            code: f.code,
            kind: f.kind,
            name_kanji: f.name_kanji,
            name_kana: f.name_kana,
            name_romaji: f.name_romaji,
            postal_code: f.postal_code,
            address: f.address,
            phone: f.phone,
            email: f.email,
            status: f.status,
        }
    }
}

/// A recorded consent.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConsentOut {
    pub facility_code: String,
    pub kind: String,
    pub version: String,
    pub given_by: String,
    pub given_at: String,
}

impl From<ConsentRow> for ConsentOut {
    fn from(c: ConsentRow) -> Self {
        Self {
            given_at: ts(c.given_at),
            facility_code: c.facility_code,
            kind: c.kind,
            version: c.version,
            given_by: c.given_by,
        }
    }
}

/// A person.
#[derive(Debug, Serialize, ToSchema)]
pub struct PersonOut {
    pub holder_id: String,
    pub name_kanji: String,
    pub name_kana: String,
    pub name_romaji: String,
    pub date_of_birth: String,
    pub profession: String,
    pub profession_label: String,
    pub licence_checked: bool,
    pub work_email: String,
    pub affiliations: Vec<AffiliationOut>,
}

/// An affiliation.
#[derive(Debug, Serialize, ToSchema)]
pub struct AffiliationOut {
    pub facility_code: String,
    pub permitted: bool,
    pub is_desk: bool,
}

impl From<AffiliationRow> for AffiliationOut {
    fn from(a: AffiliationRow) -> Self {
        Self {
            facility_code: a.facility_code,
            permitted: a.permitted != 0,
            is_desk: a.is_desk != 0,
        }
    }
}

impl PersonOut {
    /// From rows.
    pub fn new(p: PersonRow, affs: Vec<AffiliationRow>) -> Self {
        Self {
            profession_label: label(&p.profession, kmn_domain::Profession::label_ja),
            holder_id: p.holder_id,
            name_kanji: p.name_kanji,
            name_kana: p.name_kana,
            name_romaji: p.name_romaji,
            date_of_birth: p.date_of_birth,
            profession: p.profession,
            licence_checked: p.licence_checked != 0,
            work_email: p.work_email,
            affiliations: affs.into_iter().map(Into::into).collect(),
        }
    }
}

/// An application.
#[derive(Debug, Serialize, ToSchema)]
pub struct ApplicationOut {
    pub id: String,
    pub facility_code: String,
    pub holder_id: String,
    pub kind: String,
    pub detail: Option<String>,
    pub kind_label: String,
    pub validity_years: Option<i64>,
    pub target_card_id: Option<String>,
    pub state: String,
    pub state_label: String,
    /// A reissue caused by the facility or holder bears the reissue fee (第14条2).
    pub fee_bearing: bool,
    pub created_by: String,
    pub created_at: String,
    pub updated_at: String,
    pub decided_by: Option<String>,
    pub reject_reason: Option<String>,
    pub card_id: Option<String>,
    /// Pass back as `version` to act on exactly this version.
    pub version: i64,
}

impl From<ApplicationRow> for ApplicationOut {
    fn from(a: ApplicationRow) -> Self {
        Self {
            kind_label: kmn_domain::ApplicationKind::from_codes(&a.kind, a.kind_detail.as_deref())
                .map(|k| k.label_ja())
                .unwrap_or("")
                .into(),
            state_label: label(&a.state, kmn_domain::ApplicationState::label_ja),
            created_at: ts(a.created_at),
            updated_at: ts(a.updated_at),
            id: a.id,
            facility_code: a.facility_code,
            holder_id: a.holder_id,
            kind: a.kind,
            detail: a.kind_detail,
            validity_years: a.validity_years,
            target_card_id: a.target_card_id,
            state: a.state,
            fee_bearing: a.fee_bearing != 0,
            created_by: a.created_by,
            decided_by: a.decided_by,
            reject_reason: a.reject_reason,
            card_id: a.card_id,
            version: a.version,
        }
    }
}

/// One review round (every round is kept, 第6条).
#[derive(Debug, Serialize, ToSchema)]
pub struct RoundOut {
    pub seq: i64,
    pub action: String,
    pub actor: String,
    pub at: String,
    pub from_state: String,
    pub to_state: String,
    pub deficiencies: Vec<DeficiencyIo>,
    pub comment: Option<String>,
}

impl From<RoundRow> for RoundOut {
    fn from(r: RoundRow) -> Self {
        let deficiencies = r
            .deficiencies
            .as_deref()
            .and_then(|j| serde_json::from_str::<Vec<kmn_domain::Deficiency>>(j).ok())
            .unwrap_or_default()
            .into_iter()
            .map(|d| DeficiencyIo {
                field: d.field().into(),
                problem: d.problem().into(),
                action: d.action().into(),
            })
            .collect();
        Self {
            seq: r.seq,
            action: r.action,
            actor: r.actor,
            at: ts(r.at),
            from_state: r.from_state,
            to_state: r.to_state,
            deficiencies,
            comment: r.comment,
        }
    }
}

/// An attached document (metadata).
#[derive(Debug, Serialize, ToSchema)]
pub struct DocumentOut {
    pub id: String,
    pub application_id: String,
    pub file_name: String,
    pub media_type: String,
    pub sha256: String,
    pub size: i64,
    pub uploaded_at: String,
    /// Kept until (第18条3: 6 years from the card's issue date).
    pub retain_until: Option<String>,
}

impl From<DocumentRow> for DocumentOut {
    fn from(d: DocumentRow) -> Self {
        Self {
            uploaded_at: ts(d.uploaded_at),
            retain_until: d.retain_until.map(ts),
            id: d.id,
            application_id: d.application_id,
            file_name: d.file_name,
            media_type: d.media_type,
            sha256: d.sha256,
            size: d.size,
        }
    }
}

/// An application with its review history and documents.
#[derive(Debug, Serialize, ToSchema)]
pub struct ApplicationDetail {
    pub application: ApplicationOut,
    pub rounds: Vec<RoundOut>,
    pub documents: Vec<DocumentOut>,
}

/// A fulfilled application with its card.
#[derive(Debug, Serialize, ToSchema)]
pub struct FulfilOut {
    pub application: ApplicationOut,
    pub card: CardOut,
    /// The certificate, PEM.
    pub certificate_pem: String,
}

/// A card.
#[derive(Debug, Serialize, ToSchema)]
pub struct CardOut {
    pub id: String,
    pub holder_id: String,
    pub facility_code: String,
    pub application_id: String,
    pub state: String,
    pub state_label: String,
    pub cert_serial_hex: Option<String>,
    pub validity_years: i64,
    pub issued_at: Option<String>,
    pub not_after: Option<String>,
}

impl From<CardRow> for CardOut {
    fn from(c: CardRow) -> Self {
        Self {
            state_label: label(&c.state, kmn_domain::CardState::label_ja),
            issued_at: c.issued_at.map(ts),
            not_after: c.not_after.map(ts),
            id: c.id,
            holder_id: c.holder_id,
            facility_code: c.facility_code,
            application_id: c.application_id,
            state: c.state,
            cert_serial_hex: c.cert_serial_hex,
            validity_years: c.validity_years,
        }
    }
}

/// A notice.
#[derive(Debug, Serialize, ToSchema)]
pub struct NoticeOut {
    pub id: String,
    pub facility_code: Option<String>,
    pub kind: String,
    pub subject: String,
    pub body: String,
    pub object: Option<String>,
    pub created_at: String,
}

impl From<NoticeRow> for NoticeOut {
    fn from(n: NoticeRow) -> Self {
        Self {
            created_at: ts(n.created_at),
            id: n.id,
            facility_code: n.facility_code,
            kind: n.kind,
            subject: n.subject,
            body: n.body,
            object: n.object,
        }
    }
}

/// An account (for `whoami`).
impl From<&kmn_app::actor::Actor> for WhoAmI {
    fn from(a: &kmn_app::actor::Actor) -> Self {
        Self {
            account_id: a.account_id().into(),
            role: a.role().as_str().into(),
            role_label: a.role().label_ja().into(),
            facility_code: a.facility().map(str::to_string),
            display_name: a.display_name().into(),
        }
    }
}

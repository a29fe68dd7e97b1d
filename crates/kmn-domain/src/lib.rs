//! Pure domain rules of kmn-pki: newtypes parsed once at the edge, the certificate
//! status machine and revocation reasons.
//!
//! Nothing here performs I/O, talks to a database or reads the clock: time is always an
//! argument. Each rule names its source (an article of the terms of use, `第N条`, or an
//! RFC section) in its doc comment, and its tests are named after it.
#![forbid(unsafe_code)]

pub mod application;
pub mod card;
pub mod cert;
pub mod doctor;
pub mod effect;
pub mod eligibility;
pub mod enum_codes;
pub mod facility;
pub mod notice;
pub mod person;
pub mod proposal;
pub mod revocation;
pub mod serde_util;
pub mod serial;
pub mod time_fmt;

pub use application::{
    ApplicationAction, ApplicationActionKind, ApplicationEffect, ApplicationKind, ApplicationState,
    ApplicationTransition, ApplicationTransitionError, Deficiency, DeficiencyError,
    DiscontinuationReason, DocumentError, FeeKind, MAX_DOCUMENT_BYTES, ReissueCause, ReturnReason,
    cannot_return_means_loss_procedure, check_document, document_retention_deadline,
    retention_has_ended,
};
pub use card::{
    CardBinding, CardEffect, CardEvent, CardState, CardTransition, CardTransitionError,
};
pub use cert::{CertStatus, CertStatusError, ProfileKind, RevocationReason, ValidityPeriod};
pub use effect::Effect;
pub use eligibility::{
    Affiliation, DEFAULT_RENEWAL_OVERLAP_DAYS, EligibilityError, PersonFacts, check_new_card,
    renewal_overlap_ends,
};
pub use enum_codes::UnknownCode;
pub use facility::{
    Consent, ConsentError, DocumentKind, FacilityCode, FacilityCodeClass, FacilityCodeError,
    FacilityCodeScheme, FacilityKind, FacilityStatus, consent_is_current, consent_problems,
    normalize_phone, postal_code_ja,
};
pub use notice::NoticeKind;
pub use person::{
    DateOfBirth, HolderId, KanaName, KanjiName, PROFESSIONS, PersonDataError, Profession,
    ProfessionEntry, RomajiName, WorkEmail,
};
pub use revocation::{
    AssociationGround, EmergencyCause, RevocationChannel, RevocationGrounds, UnknownGrounds,
};
pub use serial::{CertSerial, CrlNumber, SerialParseError};

//! Applications (利用申請) and their review (第5・6条), with the kinds of procedure the
//! terms know — new card, renewal, reissue (第14条), discontinuation (第13条), loss
//! report (第11条, 第15条2) — and the rules on returns (第15条), fees (第3条6, 第14条2)
//! and document retention (第18条3).
//!
//! The validity period a new card is issued for is [`crate::cert::ValidityPeriod`]
//! (3 or 5 years, 第10条), chosen per application and kept by the app layer beside it.

use std::fmt;

use serde::{Deserialize, Serialize};
use time::Date;

use crate::cert::RevocationReason;
use crate::enum_codes::{UnknownCode, coded_enum};
use crate::notice::NoticeKind;

coded_enum! {
    /// Why a card is reissued (第14条2).
    pub enum ReissueCause: "再発行の理由" {
        /// The card was lost or stolen; the loss procedure comes first (第14条2, 第11条).
        Lost = "lost" => "紛失・盗難",
        /// The card was damaged by the facility or the holder.
        Damaged = "damaged" => "破損",
        /// The card failed through no fault of the facility or holder (a defect of the
        /// service, 第3条6): reissued without a fee. Not in the terms; a real CA needs it.
        Defective = "defective" => "カードの不具合",
        /// The facility changed its name (第14条2).
        FacilityRenamed = "facility_renamed" => "施設名称の変更",
        /// The holder changed their name (第14条2).
        HolderRenamed = "holder_renamed" => "利用者の氏名変更",
    }
}

impl ReissueCause {
    /// Whether the reissue fee is due (第14条2: a reissue caused by the facility's or the
    /// holder's intent or negligence — loss, damage — bears the fee; a rename or a defect
    /// of the card does not).
    pub fn fee_bearing(self) -> bool {
        matches!(self, Self::Lost | Self::Damaged)
    }

    /// The revocation reason of the certificate on the card being replaced: a lost card
    /// is a key compromise (第11条); every other reissue supersedes the old card (第14条).
    pub fn revocation_reason(self) -> RevocationReason {
        match self {
            Self::Lost => RevocationReason::KeyCompromise,
            Self::Damaged | Self::Defective | Self::FacilityRenamed | Self::HolderRenamed => {
                RevocationReason::Superseded
            }
        }
    }

    /// Whether the old card can be asked back (第15条1(3)); a lost one cannot, it went
    /// through the loss procedure instead (第15条2).
    pub fn old_card_returnable(self) -> bool {
        self != Self::Lost
    }
}

coded_enum! {
    /// Why a facility stops a card (第13条).
    pub enum DiscontinuationReason: "利用中止の理由" {
        /// The holder left the facility (退職・異動).
        LeftFacility = "left_facility" => "退職・異動",
        /// The holder no longer uses the network.
        StoppedUsing = "stopped_using" => "ネットワークの利用終了",
    }
}

impl DiscontinuationReason {
    /// The revocation reason: leaving the facility changes the affiliation; stopping
    /// use is a cessation of operation (DESIGN §4).
    pub fn revocation_reason(self) -> RevocationReason {
        match self {
            Self::LeftFacility => RevocationReason::AffiliationChanged,
            Self::StoppedUsing => RevocationReason::CessationOfOperation,
        }
    }
}

coded_enum! {
    /// Why the association asks for a card back (第15条1; the card must come back even
    /// within its validity period).
    pub enum ReturnReason: "返却の理由" {
        /// (1) A breach of the holder's duties under the CPS or the terms.
        Breach = "breach" => "規約違反",
        /// (2) The holder no longer uses the network.
        LeftNetwork = "left_network" => "ネットワークの利用終了",
        /// (3) Discontinuation (第13条).
        Discontinuation = "discontinuation" => "利用中止",
        /// (3) Reissue or renewal: the replaced card comes back.
        Reissue = "reissue" => "再発行・更新",
        /// (4) Fees not paid.
        NonPayment = "non_payment" => "料金の未払い",
        /// (5) Anything else the association deems necessary.
        AssociationRequest = "association_request" => "本会の指示",
    }
}

/// What happens to a card that cannot be returned (第15条2): it goes through the loss
/// procedure — a loss report, whose certificate is revoked as keyCompromise like any lost
/// card (第11条). There is no other way to close a return request without the card.
pub fn cannot_return_means_loss_procedure() -> ApplicationKind {
    ApplicationKind::LossReport
}

coded_enum! {
    /// Which fee an application incurs (fee schedule per 第3条6, 第14条2).
    pub enum FeeKind: "料金の種類" {
        /// Issuance of a new card.
        Issuance = "issuance" => "発行手数料",
        /// Renewal (第14条1).
        Renewal = "renewal" => "更新手数料",
        /// Fee-bearing reissue (第14条2).
        Reissue = "reissue" => "再発行手数料",
    }
}

/// What a facility applies for (第5条). Every kind except `New` concerns one existing
/// card, the *subject card*: the one renewed, reissued, stopped or reported lost.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ApplicationKind {
    /// A first card for a holder at the facility.
    New,
    /// A new card before the old one's 3/5 years end (第10条3, 第14条1).
    Renewal,
    /// A replacement card (第14条2).
    Reissue {
        /// Why.
        cause: ReissueCause,
    },
    /// Stop of use (第13条).
    Discontinuation {
        /// Why.
        reason: DiscontinuationReason,
    },
    /// The written loss report (紛失届) after a loss or theft (第11条, 第14条2, 第15条2).
    /// The emergency revocation itself does not wait for it: see
    /// [`crate::card::CardEvent::ReportLost`].
    LossReport,
    /// A change of registered data that does not change the certificate (e.g. e-mail).
    /// A change of name needs a reissue.
    InfoChange,
}

impl ApplicationKind {
    /// Stable code of the kind (the cause or reason is stored beside it, see
    /// [`Self::detail_code`]).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::New => "new",
            Self::Renewal => "renewal",
            Self::Reissue { .. } => "reissue",
            Self::Discontinuation { .. } => "discontinuation",
            Self::LossReport => "loss_report",
            Self::InfoChange => "info_change",
        }
    }

    /// The code of the reissue cause or discontinuation reason, if the kind has one.
    pub fn detail_code(self) -> Option<&'static str> {
        match self {
            Self::Reissue { cause } => Some(cause.as_str()),
            Self::Discontinuation { reason } => Some(reason.as_str()),
            _ => None,
        }
    }

    /// Rebuilds a kind from [`Self::as_str`] and [`Self::detail_code`] (as stored).
    pub fn from_codes(kind: &str, detail: Option<&str>) -> Result<Self, UnknownCode> {
        let detail = detail.unwrap_or("");
        Ok(match kind.trim() {
            "new" => Self::New,
            "renewal" => Self::Renewal,
            "reissue" => Self::Reissue {
                cause: detail.parse()?,
            },
            "discontinuation" => Self::Discontinuation {
                reason: detail.parse()?,
            },
            "loss_report" => Self::LossReport,
            "info_change" => Self::InfoChange,
            other => {
                return Err(UnknownCode::new(
                    "申請の種類",
                    other,
                    [
                        "new",
                        "renewal",
                        "reissue",
                        "discontinuation",
                        "loss_report",
                        "info_change",
                    ],
                ));
            }
        })
    }

    /// The label people see.
    pub fn label_ja(self) -> &'static str {
        match self {
            Self::New => "新規発行",
            Self::Renewal => "更新",
            Self::Reissue { .. } => "再発行",
            Self::Discontinuation { .. } => "利用中止",
            Self::LossReport => "紛失届",
            Self::InfoChange => "登録内容の変更",
        }
    }

    /// Whether approval starts the issuance of a new card (第6条1).
    pub fn issues_card(self) -> bool {
        matches!(self, Self::New | Self::Renewal | Self::Reissue { .. })
    }

    /// The fee recorded when the application is fulfilled, if any (第14条2: only a
    /// fee-bearing reissue costs the reissue fee).
    pub fn fee(self) -> Option<FeeKind> {
        match self {
            Self::New => Some(FeeKind::Issuance),
            Self::Renewal => Some(FeeKind::Renewal),
            Self::Reissue { cause } if cause.fee_bearing() => Some(FeeKind::Reissue),
            _ => None,
        }
    }
}

/// Parses the [`Display`](fmt::Display) form: `new`, `reissue:lost`,
/// `discontinuation:left_facility`, …
impl std::str::FromStr for ApplicationKind {
    type Err = UnknownCode;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut parts = s.trim().splitn(2, ':');
        let kind = parts.next().unwrap_or("");
        Self::from_codes(kind, parts.next())
    }
}

impl fmt::Display for ApplicationKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.detail_code() {
            Some(d) => write!(f, "{}:{d}", self.as_str()),
            None => f.write_str(self.as_str()),
        }
    }
}

coded_enum! {
    /// Where an application is (DESIGN §3).
    pub enum ApplicationState: "申請の状態" {
        /// Being written by the facility desk; not yet filed.
        Draft = "draft" => "下書き",
        /// Filed; under review (第5条, 第6条1).
        Submitted = "submitted" => "申請中",
        /// Sent back with its deficiencies listed (第6条2).
        Returned = "returned" => "差戻し",
        /// Corrected and filed again; under review.
        Resubmitted = "resubmitted" => "再申請",
        /// Approved; the procedure (issuance, revocation…) is under way (第6条1).
        Approved = "approved" => "承認済み",
        /// Done.
        Fulfilled = "fulfilled" => "完了",
        /// Refused, with a reason.
        Rejected = "rejected" => "却下",
        /// Withdrawn by the facility.
        Withdrawn = "withdrawn" => "取下げ",
    }
}

impl ApplicationState {
    /// Whether nothing can happen to the application any more.
    pub fn is_final(self) -> bool {
        matches!(self, Self::Fulfilled | Self::Rejected | Self::Withdrawn)
    }

    /// Whether the center has to review it now.
    pub fn awaits_review(self) -> bool {
        matches!(self, Self::Submitted | Self::Resubmitted)
    }
}

coded_enum! {
    /// The name of an [`ApplicationAction`], for messages and the audit log.
    pub enum ApplicationActionKind: "申請の操作" {
        /// File a draft.
        Submit = "submit" => "申請",
        /// Send back with deficiencies.
        Return = "return" => "差戻し",
        /// File again after correction.
        Resubmit = "resubmit" => "再申請",
        /// Approve.
        Approve = "approve" => "承認",
        /// Refuse.
        Reject = "reject" => "却下",
        /// Withdraw.
        Withdraw = "withdraw" => "取下げ",
        /// Record completion.
        Fulfil = "fulfil" => "完了",
    }
}

/// One deficiency found in review (第6条2): which field, what is wrong, what to do.
/// All three are non-empty.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "DeficiencyFields")]
pub struct Deficiency {
    field: String,
    problem: String,
    action: String,
}

#[derive(Deserialize)]
struct DeficiencyFields {
    field: String,
    problem: String,
    action: String,
}

impl TryFrom<DeficiencyFields> for Deficiency {
    type Error = DeficiencyError;
    fn try_from(f: DeficiencyFields) -> Result<Self, Self::Error> {
        Self::new(&f.field, &f.problem, &f.action)
    }
}

/// An incomplete deficiency.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DeficiencyError {
    /// One of the three parts is empty.
    #[error("不備の{0}を入力してください")]
    Empty(&'static str),
}

impl Deficiency {
    /// A deficiency; each part is trimmed and must not be empty.
    pub fn new(field: &str, problem: &str, action: &str) -> Result<Self, DeficiencyError> {
        let part = |s: &str, name: &'static str| {
            let t = s.trim();
            if t.is_empty() {
                Err(DeficiencyError::Empty(name))
            } else {
                Ok(t.to_string())
            }
        };
        Ok(Self {
            field: part(field, "項目")?,
            problem: part(problem, "内容")?,
            action: part(action, "対応方法")?,
        })
    }

    /// The field concerned (e.g. 氏名（カナ）).
    pub fn field(&self) -> &str {
        &self.field
    }

    /// What is wrong.
    pub fn problem(&self) -> &str {
        &self.problem
    }

    /// What the facility should do.
    pub fn action(&self) -> &str {
        &self.action
    }

    /// One line for a notice: `【項目】内容 → 対応方法`.
    pub fn to_line_ja(&self) -> String {
        format!("【{}】{} → {}", self.field, self.problem, self.action)
    }
}

/// Something done to an application.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum ApplicationAction {
    /// The desk files the draft (第5条).
    Submit,
    /// The center sends it back; at least one deficiency (第6条2).
    Return {
        /// What is wrong.
        deficiencies: Vec<Deficiency>,
    },
    /// The desk files the corrected application.
    Resubmit,
    /// The center approves; the procedure starts (第6条1).
    Approve,
    /// The center refuses; a reason is required.
    Reject {
        /// Why, for the facility.
        reason: String,
    },
    /// The desk withdraws it.
    Withdraw,
    /// The procedure is complete (for issuing kinds: the new card has been issued).
    Fulfil,
}

impl ApplicationAction {
    /// The action's name.
    pub fn kind(&self) -> ApplicationActionKind {
        match self {
            Self::Submit => ApplicationActionKind::Submit,
            Self::Return { .. } => ApplicationActionKind::Return,
            Self::Resubmit => ApplicationActionKind::Resubmit,
            Self::Approve => ApplicationActionKind::Approve,
            Self::Reject { .. } => ApplicationActionKind::Reject,
            Self::Withdraw => ApplicationActionKind::Withdraw,
            Self::Fulfil => ApplicationActionKind::Fulfil,
        }
    }
}

/// What the app layer must do after an application transition. `Revoke`,
/// `RequestCardReturn` and `ScheduleSupersession` concern the application's *subject
/// card* (see [`ApplicationKind`]); `Issue` makes a new card.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "effect", rename_all = "snake_case")]
pub enum ApplicationEffect {
    /// Send the facility a notice (第6条2, 第24条). `deficiencies` is filled for a
    /// return, `reason` for a rejection.
    NotifyFacility {
        /// The template.
        template: NoticeKind,
        /// The deficiencies to list (第6条2).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        deficiencies: Vec<Deficiency>,
        /// The reason for a rejection.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    /// Start issuing the new card (第6条1: only after approval; 第7条).
    Issue,
    /// Revoke the subject card's certificate (a no-op if it is already revoked). The
    /// grounds decide the RFC 5280 reason and the article (issue 10 item 1).
    Revoke {
        /// Why.
        grounds: crate::revocation::RevocationGrounds,
    },
    /// Ask the facility to return the subject card (第13条, 第15条).
    RequestCardReturn {
        /// Why.
        reason: ReturnReason,
    },
    /// Renewal: when the overlap ends ([`crate::eligibility::renewal_overlap_ends`]),
    /// revoke the predecessor as superseded and ask for it back (第4条2, 第15条1(3)).
    ScheduleSupersession,
    /// Record the fee on the facility's account (第3条6, 第14条2).
    RecordFee {
        /// Which fee.
        kind: FeeKind,
    },
}

impl ApplicationEffect {
    fn notify(template: NoticeKind) -> Self {
        Self::NotifyFacility {
            template,
            deficiencies: Vec::new(),
            reason: None,
        }
    }
}

/// The result of a legal transition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApplicationTransition {
    /// The new state.
    pub state: ApplicationState,
    /// What the app layer must do, in order.
    pub effects: Vec<ApplicationEffect>,
}

/// A transition that is not allowed. Messages are Japanese.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ApplicationTransitionError {
    /// The action is not possible in the current state.
    #[error("この申請は「{}」のため{}できません", .from.label_ja(), .action.label_ja())]
    Illegal {
        /// The current state.
        from: ApplicationState,
        /// The action asked for.
        action: ApplicationActionKind,
    },
    /// A return must list at least one deficiency (第6条2).
    #[error("差戻しには不備の内容を1件以上入力してください（利用規約第6条2）")]
    NoDeficiencies,
    /// A rejection must give a reason.
    #[error("却下の理由を入力してください")]
    NoRejectReason,
}

impl ApplicationState {
    /// Applies `action` to an application of `kind` in this state (第5・6条):
    ///
    /// | from | action | to |
    /// |---|---|---|
    /// | draft | submit | submitted |
    /// | submitted, resubmitted | return (≥ 1 deficiency) | returned |
    /// | returned | resubmit | resubmitted |
    /// | submitted, resubmitted | approve | approved |
    /// | submitted, resubmitted | reject (reason) | rejected |
    /// | draft, submitted, returned, resubmitted | withdraw | withdrawn |
    /// | approved | fulfil | fulfilled |
    ///
    /// Every transition notifies the facility; a return lists the deficiencies (第6条2).
    /// Approval starts the procedure (第6条1): issuance for new, renewal and reissue;
    /// revocation and a return request for a discontinuation (第13条); revocation as
    /// keyCompromise for a loss report and a reissue after loss (normally already done by
    /// the emergency revocation, 第11条). Fulfilment records the fee (第14条2) and, for a
    /// reissue, supersedes the old card and asks it back (第15条1(3)); for a renewal the
    /// predecessor is superseded when the overlap ends (第4条2).
    pub fn apply(
        self,
        kind: ApplicationKind,
        action: ApplicationAction,
    ) -> Result<ApplicationTransition, ApplicationTransitionError> {
        use ApplicationEffect as E;
        use ApplicationState as S;
        let illegal = || ApplicationTransitionError::Illegal {
            from: self,
            action: action.kind(),
        };
        let (state, effects) = match (&action, self) {
            (ApplicationAction::Submit, S::Draft) => (
                S::Submitted,
                vec![E::notify(NoticeKind::ApplicationReceived)],
            ),
            (ApplicationAction::Return { deficiencies }, S::Submitted | S::Resubmitted) => {
                if deficiencies.is_empty() {
                    return Err(ApplicationTransitionError::NoDeficiencies);
                }
                (
                    S::Returned,
                    vec![E::NotifyFacility {
                        template: NoticeKind::ApplicationReturned,
                        deficiencies: deficiencies.clone(),
                        reason: None,
                    }],
                )
            }
            (ApplicationAction::Resubmit, S::Returned) => (
                S::Resubmitted,
                vec![E::notify(NoticeKind::ApplicationResubmitted)],
            ),
            (ApplicationAction::Approve, S::Submitted | S::Resubmitted) => {
                let mut effects = vec![E::notify(NoticeKind::ApplicationApproved)];
                match kind {
                    ApplicationKind::New | ApplicationKind::Renewal => effects.push(E::Issue),
                    ApplicationKind::Reissue { cause } => {
                        if cause == ReissueCause::Lost {
                            effects.push(E::Revoke {
                                grounds: crate::revocation::RevocationGrounds::Reissue(cause),
                            });
                        }
                        effects.push(E::Issue);
                    }
                    ApplicationKind::Discontinuation { reason } => {
                        effects.push(E::Revoke {
                            grounds: crate::revocation::RevocationGrounds::Discontinuation(reason),
                        });
                        effects.push(E::RequestCardReturn {
                            reason: ReturnReason::Discontinuation,
                        });
                    }
                    ApplicationKind::LossReport => effects.push(E::Revoke {
                        grounds: crate::revocation::RevocationGrounds::Emergency(
                            crate::revocation::EmergencyCause::Lost,
                        ),
                    }),
                    ApplicationKind::InfoChange => {}
                }
                (S::Approved, effects)
            }
            (ApplicationAction::Reject { reason }, S::Submitted | S::Resubmitted) => {
                let reason = reason.trim();
                if reason.is_empty() {
                    return Err(ApplicationTransitionError::NoRejectReason);
                }
                (
                    S::Rejected,
                    vec![E::NotifyFacility {
                        template: NoticeKind::ApplicationRejected,
                        deficiencies: Vec::new(),
                        reason: Some(reason.to_string()),
                    }],
                )
            }
            (
                ApplicationAction::Withdraw,
                S::Draft | S::Submitted | S::Returned | S::Resubmitted,
            ) => (
                S::Withdrawn,
                vec![E::notify(NoticeKind::ApplicationWithdrawn)],
            ),
            (ApplicationAction::Fulfil, S::Approved) => {
                let mut effects = vec![E::notify(NoticeKind::ApplicationFulfilled)];
                match kind {
                    ApplicationKind::Renewal => effects.push(E::ScheduleSupersession),
                    ApplicationKind::Reissue { cause } if cause.old_card_returnable() => {
                        effects.push(E::Revoke {
                            grounds: crate::revocation::RevocationGrounds::Reissue(cause),
                        });
                        effects.push(E::RequestCardReturn {
                            reason: ReturnReason::Reissue,
                        });
                    }
                    ApplicationKind::Reissue { .. }
                    | ApplicationKind::New
                    | ApplicationKind::Discontinuation { .. }
                    | ApplicationKind::LossReport
                    | ApplicationKind::InfoChange => {}
                }
                if let Some(fee) = kind.fee() {
                    effects.push(E::RecordFee { kind: fee });
                }
                (S::Fulfilled, effects)
            }
            _ => return Err(illegal()),
        };
        Ok(ApplicationTransition { state, effects })
    }
}

/// [`ApplicationState::apply`] as a function.
pub fn transition(
    state: ApplicationState,
    kind: ApplicationKind,
    action: ApplicationAction,
) -> Result<ApplicationTransition, ApplicationTransitionError> {
    state.apply(kind, action)
}

/// How long application forms and documents are kept: 6 years from the card's issue
/// date (第18条3), then deleted. 29 February maps to 28 February.
pub const RETENTION_YEARS: i32 = 6;

/// The last day documents of a card issued on `card_issue_date` must be kept (第18条3):
/// the same calendar day 6 years later (29 February → 28 February).
pub fn document_retention_deadline(card_issue_date: Date) -> Date {
    let year = card_issue_date.year() + RETENTION_YEARS;
    card_issue_date
        .replace_year(year)
        .or_else(|_| {
            card_issue_date
                .replace_day(28)
                .and_then(|d| d.replace_year(year))
        })
        .expect("a valid calendar date")
}

/// Whether documents of a card issued on `card_issue_date` may be deleted on `today`:
/// only after the deadline day has passed (第18条3, kept for the full 6 years).
pub fn retention_has_ended(card_issue_date: Date, today: Date) -> bool {
    today > document_retention_deadline(card_issue_date)
}

/// Largest accepted document: 10 MiB.
pub const MAX_DOCUMENT_BYTES: u64 = 10 * 1024 * 1024;

/// Longest accepted file name, in characters.
pub const MAX_DOCUMENT_NAME_CHARS: usize = 255;

/// Why an attached document was refused. Messages are Japanese.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DocumentError {
    /// No file name.
    #[error("添付ファイルの名前がありません")]
    NoName,
    /// The name is too long or has characters unsafe for storage and download.
    #[error(
        "添付ファイルの名前に使用できない文字が含まれているか、長すぎます（255文字以内、「/」「\\」や制御文字は使用できません）"
    )]
    BadName,
    /// The file is empty.
    #[error("添付ファイルが空です")]
    Empty,
    /// Larger than [`MAX_DOCUMENT_BYTES`].
    #[error("添付ファイルが大きすぎます（上限 10MB）")]
    TooLarge {
        /// The size in bytes.
        bytes: u64,
    },
    /// Not a PDF.
    #[error("添付できるのはPDFファイルのみです")]
    NotPdf,
}

/// Checks an attached document (application forms, licence copies; 第18条3): a file name
/// without path separators or control characters, at most 10 MiB, not empty, and a PDF —
/// the content must start with `%PDF-` (the extension is not trusted).
pub fn check_document(name: &str, bytes_len: u64, first_bytes: &[u8]) -> Result<(), DocumentError> {
    let name = name.trim();
    if name.is_empty() {
        return Err(DocumentError::NoName);
    }
    if name.chars().count() > MAX_DOCUMENT_NAME_CHARS
        || name.chars().any(|c| {
            c.is_control() || crate::enum_codes::is_format_char(c) || matches!(c, '/' | '\\')
        })
        || name == "."
        || name == ".."
    {
        return Err(DocumentError::BadName);
    }
    if bytes_len == 0 {
        return Err(DocumentError::Empty);
    }
    if bytes_len > MAX_DOCUMENT_BYTES {
        return Err(DocumentError::TooLarge { bytes: bytes_len });
    }
    if !first_bytes.starts_with(b"%PDF-") {
        return Err(DocumentError::NotPdf);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ApplicationAction as A;
    use ApplicationEffect as E;
    use ApplicationState as S;
    use time::macros::date;

    fn deficiency() -> Deficiency {
        Deficiency::new(
            "氏名（カナ）",
            "ひらがなで記入されています",
            "カタカナで記入してください",
        )
        .unwrap()
    }

    fn notice(t: &ApplicationTransition) -> NoticeKind {
        match &t.effects[0] {
            E::NotifyFacility { template, .. } => *template,
            other => panic!("first effect is not a notice: {other:?}"),
        }
    }

    #[test]
    fn art5_submit_files_the_draft_and_notifies() {
        let t = S::Draft.apply(ApplicationKind::New, A::Submit).unwrap();
        assert_eq!(t.state, S::Submitted);
        assert_eq!(notice(&t), NoticeKind::ApplicationReceived);
    }

    #[test]
    fn art6_2_return_lists_deficiencies_and_needs_one() {
        for from in [S::Submitted, S::Resubmitted] {
            let t = from
                .apply(
                    ApplicationKind::New,
                    A::Return {
                        deficiencies: vec![deficiency()],
                    },
                )
                .unwrap();
            assert_eq!(t.state, S::Returned);
            assert_eq!(
                t.effects,
                vec![E::NotifyFacility {
                    template: NoticeKind::ApplicationReturned,
                    deficiencies: vec![deficiency()],
                    reason: None
                }]
            );
        }
        let e = S::Submitted
            .apply(
                ApplicationKind::New,
                A::Return {
                    deficiencies: vec![],
                },
            )
            .unwrap_err();
        assert_eq!(e, ApplicationTransitionError::NoDeficiencies);
        assert!(e.to_string().contains("第6条2"), "{e}");
    }

    #[test]
    fn art6_2_deficiency_parts_are_required() {
        assert_eq!(
            Deficiency::new(" ", "x", "y"),
            Err(DeficiencyError::Empty("項目"))
        );
        assert_eq!(
            Deficiency::new("x", "", "y").unwrap_err().to_string(),
            "不備の内容を入力してください"
        );
        assert!(Deficiency::new("x", "y", "\u{3000}").is_err());
        assert_eq!(
            deficiency().to_line_ja(),
            "【氏名（カナ）】ひらがなで記入されています → カタカナで記入してください"
        );
    }

    #[test]
    fn art6_2_returned_application_can_be_resubmitted() {
        let t = S::Returned
            .apply(ApplicationKind::New, A::Resubmit)
            .unwrap();
        assert_eq!(t.state, S::Resubmitted);
        assert_eq!(notice(&t), NoticeKind::ApplicationResubmitted);
        assert!(S::Resubmitted.awaits_review());
    }

    #[test]
    fn art6_1_issuance_starts_only_after_approval() {
        for kind in [
            ApplicationKind::New,
            ApplicationKind::Renewal,
            ApplicationKind::Reissue {
                cause: ReissueCause::HolderRenamed,
            },
        ] {
            for from in [S::Submitted, S::Resubmitted] {
                let t = from.apply(kind, A::Approve).unwrap();
                assert_eq!(t.state, S::Approved);
                assert_eq!(notice(&t), NoticeKind::ApplicationApproved);
                assert!(t.effects.contains(&E::Issue), "{kind:?}");
            }
        }
        // No other transition ever issues.
        for from in S::ALL {
            for action in every_action() {
                if action.kind() == ApplicationActionKind::Approve {
                    continue;
                }
                if let Ok(t) = from.apply(ApplicationKind::New, action) {
                    assert!(!t.effects.contains(&E::Issue));
                }
            }
        }
    }

    #[test]
    fn art6_rejection_needs_a_reason() {
        let t = S::Submitted
            .apply(
                ApplicationKind::New,
                A::Reject {
                    reason: " 所属が確認できません ".into(),
                },
            )
            .unwrap();
        assert_eq!(t.state, S::Rejected);
        assert_eq!(
            t.effects,
            vec![E::NotifyFacility {
                template: NoticeKind::ApplicationRejected,
                deficiencies: vec![],
                reason: Some("所属が確認できません".into())
            }]
        );
        assert_eq!(
            S::Resubmitted.apply(
                ApplicationKind::New,
                A::Reject {
                    reason: "  ".into()
                }
            ),
            Err(ApplicationTransitionError::NoRejectReason)
        );
    }

    #[test]
    fn art5_withdraw_before_approval_only() {
        for from in [S::Draft, S::Submitted, S::Returned, S::Resubmitted] {
            let t = from.apply(ApplicationKind::New, A::Withdraw).unwrap();
            assert_eq!(t.state, S::Withdrawn);
            assert_eq!(notice(&t), NoticeKind::ApplicationWithdrawn);
        }
        let e = S::Approved
            .apply(ApplicationKind::New, A::Withdraw)
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "この申請は「承認済み」のため取下げできません"
        );
    }

    #[test]
    fn art6_illegal_transitions_are_named_in_japanese() {
        let e = S::Approved
            .apply(
                ApplicationKind::New,
                A::Return {
                    deficiencies: vec![deficiency()],
                },
            )
            .unwrap_err();
        assert_eq!(
            e,
            ApplicationTransitionError::Illegal {
                from: S::Approved,
                action: ApplicationActionKind::Return
            }
        );
        assert_eq!(
            e.to_string(),
            "この申請は「承認済み」のため差戻しできません"
        );
        assert_eq!(
            S::Draft
                .apply(ApplicationKind::New, A::Fulfil)
                .unwrap_err()
                .to_string(),
            "この申請は「下書き」のため完了できません"
        );
    }

    fn every_action() -> Vec<ApplicationAction> {
        vec![
            A::Submit,
            A::Return {
                deficiencies: vec![deficiency()],
            },
            A::Resubmit,
            A::Approve,
            A::Reject {
                reason: "理由".into(),
            },
            A::Withdraw,
            A::Fulfil,
        ]
    }

    #[test]
    fn design3_exactly_the_listed_transitions_are_allowed() {
        use ApplicationActionKind as K;
        let allowed = [
            (S::Draft, K::Submit, S::Submitted),
            (S::Submitted, K::Return, S::Returned),
            (S::Resubmitted, K::Return, S::Returned),
            (S::Returned, K::Resubmit, S::Resubmitted),
            (S::Submitted, K::Approve, S::Approved),
            (S::Resubmitted, K::Approve, S::Approved),
            (S::Submitted, K::Reject, S::Rejected),
            (S::Resubmitted, K::Reject, S::Rejected),
            (S::Draft, K::Withdraw, S::Withdrawn),
            (S::Submitted, K::Withdraw, S::Withdrawn),
            (S::Returned, K::Withdraw, S::Withdrawn),
            (S::Resubmitted, K::Withdraw, S::Withdrawn),
            (S::Approved, K::Fulfil, S::Fulfilled),
        ];
        for from in S::ALL {
            for action in every_action() {
                let k = action.kind();
                let want = allowed
                    .iter()
                    .find(|(f, a, _)| f == from && *a == k)
                    .map(|(_, _, to)| *to);
                let got = from.apply(ApplicationKind::New, action);
                match want {
                    Some(to) => {
                        let t = got.unwrap();
                        assert_eq!(t.state, to);
                        // 第6条2 / 第24条: every transition notifies the facility.
                        assert!(matches!(t.effects[0], E::NotifyFacility { .. }));
                    }
                    None => assert_eq!(
                        got,
                        Err(ApplicationTransitionError::Illegal {
                            from: *from,
                            action: k
                        }),
                        "{from:?} {k:?}"
                    ),
                }
            }
        }
        for s in [S::Fulfilled, S::Rejected, S::Withdrawn] {
            assert!(s.is_final());
        }
    }

    #[test]
    fn art13_discontinuation_revokes_and_asks_the_card_back() {
        let t = S::Submitted
            .apply(
                ApplicationKind::Discontinuation {
                    reason: DiscontinuationReason::LeftFacility,
                },
                A::Approve,
            )
            .unwrap();
        assert_eq!(
            t.effects[1..],
            [
                E::Revoke {
                    grounds: crate::revocation::RevocationGrounds::Discontinuation(
                        DiscontinuationReason::LeftFacility
                    )
                },
                E::RequestCardReturn {
                    reason: ReturnReason::Discontinuation
                }
            ]
        );
        assert_eq!(
            DiscontinuationReason::StoppedUsing.revocation_reason(),
            RevocationReason::CessationOfOperation
        );
        let t = S::Approved
            .apply(
                ApplicationKind::Discontinuation {
                    reason: DiscontinuationReason::StoppedUsing,
                },
                A::Fulfil,
            )
            .unwrap();
        assert_eq!(t.effects.len(), 1);
    }

    #[test]
    fn art14_2_reissue_fee_only_for_loss_and_damage() {
        assert!(ReissueCause::Lost.fee_bearing());
        assert!(ReissueCause::Damaged.fee_bearing());
        assert!(!ReissueCause::FacilityRenamed.fee_bearing());
        assert!(!ReissueCause::HolderRenamed.fee_bearing());
        assert!(!ReissueCause::Defective.fee_bearing());
        for cause in ReissueCause::ALL {
            let t = S::Approved
                .apply(ApplicationKind::Reissue { cause: *cause }, A::Fulfil)
                .unwrap();
            let fee = t.effects.contains(&E::RecordFee {
                kind: FeeKind::Reissue,
            });
            assert_eq!(fee, cause.fee_bearing(), "{cause}");
        }
    }

    #[test]
    fn art14_2_reissue_revokes_old_card_lost_as_key_compromise_else_superseded() {
        assert_eq!(
            ReissueCause::Lost.revocation_reason(),
            RevocationReason::KeyCompromise
        );
        for cause in [
            ReissueCause::Damaged,
            ReissueCause::Defective,
            ReissueCause::FacilityRenamed,
            ReissueCause::HolderRenamed,
        ] {
            assert_eq!(cause.revocation_reason(), RevocationReason::Superseded);
            let t = S::Approved
                .apply(ApplicationKind::Reissue { cause }, A::Fulfil)
                .unwrap();
            assert!(t.effects.contains(&E::Revoke {
                grounds: crate::revocation::RevocationGrounds::Reissue(cause)
            }));
            assert_eq!(
                crate::revocation::RevocationGrounds::Reissue(cause).reason(),
                RevocationReason::Superseded
            );
            assert!(t.effects.contains(&E::RequestCardReturn {
                reason: ReturnReason::Reissue
            }));
        }
        // Lost: revoked at approval (the loss procedure), never asked back (第15条2).
        let lost = ApplicationKind::Reissue {
            cause: ReissueCause::Lost,
        };
        let t = S::Submitted.apply(lost, A::Approve).unwrap();
        assert!(t.effects.contains(&E::Revoke {
            grounds: crate::revocation::RevocationGrounds::Reissue(ReissueCause::Lost)
        }));
        let t = S::Approved.apply(lost, A::Fulfil).unwrap();
        assert!(
            !t.effects
                .iter()
                .any(|e| matches!(e, E::RequestCardReturn { .. } | E::Revoke { .. }))
        );
    }

    #[test]
    fn art14_1_renewal_fee_and_superseded_after_overlap() {
        let t = S::Approved
            .apply(ApplicationKind::Renewal, A::Fulfil)
            .unwrap();
        assert_eq!(
            t.effects[1..],
            [
                E::ScheduleSupersession,
                E::RecordFee {
                    kind: FeeKind::Renewal
                }
            ]
        );
        let t = S::Approved.apply(ApplicationKind::New, A::Fulfil).unwrap();
        assert_eq!(
            t.effects[1..],
            [E::RecordFee {
                kind: FeeKind::Issuance
            }]
        );
    }

    #[test]
    fn art11_loss_report_revokes_as_key_compromise() {
        let t = S::Submitted
            .apply(ApplicationKind::LossReport, A::Approve)
            .unwrap();
        assert_eq!(
            t.effects[1..],
            [E::Revoke {
                grounds: crate::revocation::RevocationGrounds::Emergency(
                    crate::revocation::EmergencyCause::Lost
                )
            }]
        );
    }

    #[test]
    fn art15_2_card_that_cannot_be_returned_goes_through_loss_procedure() {
        assert_eq!(
            cannot_return_means_loss_procedure(),
            ApplicationKind::LossReport
        );
        assert!(!ReissueCause::Lost.old_card_returnable());
    }

    #[test]
    fn art15_return_reasons_have_labels() {
        let codes: Vec<_> = ReturnReason::ALL.iter().map(|r| r.as_str()).collect();
        assert_eq!(
            codes,
            [
                "breach",
                "left_network",
                "discontinuation",
                "reissue",
                "non_payment",
                "association_request"
            ]
        );
        for r in ReturnReason::ALL {
            assert!(!r.label_ja().is_empty());
        }
    }

    #[test]
    fn application_kind_codes_round_trip() {
        let kinds = [
            ApplicationKind::New,
            ApplicationKind::Renewal,
            ApplicationKind::Reissue {
                cause: ReissueCause::Damaged,
            },
            ApplicationKind::Discontinuation {
                reason: DiscontinuationReason::StoppedUsing,
            },
            ApplicationKind::LossReport,
            ApplicationKind::InfoChange,
        ];
        for k in kinds {
            assert_eq!(
                ApplicationKind::from_codes(k.as_str(), k.detail_code()),
                Ok(k)
            );
        }
        assert!(ApplicationKind::from_codes("reissue", None).is_err());
        assert!(ApplicationKind::from_codes("reissue", Some("stolen")).is_err());
        assert!(ApplicationKind::from_codes("transfer", None).is_err());
        assert_eq!(ApplicationKind::LossReport.label_ja(), "紛失届");
        let labels: Vec<_> = ApplicationState::ALL.iter().map(|s| s.label_ja()).collect();
        assert_eq!(
            labels,
            [
                "下書き",
                "申請中",
                "差戻し",
                "再申請",
                "承認済み",
                "完了",
                "却下",
                "取下げ"
            ]
        );
    }

    #[test]
    fn art18_3_documents_kept_six_years_from_issue() {
        assert_eq!(
            document_retention_deadline(date!(2026 - 11 - 26)),
            date!(2032 - 11 - 26)
        );
        assert_eq!(
            document_retention_deadline(date!(2028 - 02 - 29)),
            date!(2034 - 02 - 28)
        );
        assert!(!retention_has_ended(
            date!(2026 - 11 - 26),
            date!(2032 - 11 - 26)
        ));
        assert!(retention_has_ended(
            date!(2026 - 11 - 26),
            date!(2032 - 11 - 27)
        ));
    }

    #[test]
    fn art18_3_documents_are_pdf_up_to_10_mib() {
        let pdf = b"%PDF-1.7\n";
        assert_eq!(check_document("申請書.pdf", 1234, pdf), Ok(()));
        assert_eq!(check_document("scan", MAX_DOCUMENT_BYTES, pdf), Ok(()));
        assert_eq!(
            check_document("申請書.pdf", MAX_DOCUMENT_BYTES + 1, pdf),
            Err(DocumentError::TooLarge {
                bytes: MAX_DOCUMENT_BYTES + 1
            })
        );
        assert_eq!(check_document(" ", 10, pdf), Err(DocumentError::NoName));
        assert_eq!(check_document("a.pdf", 0, b""), Err(DocumentError::Empty));
        let e = check_document("免許証.pdf", 10, b"\x89PNG\r\n").unwrap_err();
        assert_eq!(e.to_string(), "添付できるのはPDFファイルのみです");
        assert_eq!(
            check_document("../etc/passwd.pdf", 10, pdf),
            Err(DocumentError::BadName)
        );
        assert_eq!(
            check_document("a\u{202E}fdp.exe", 10, pdf),
            Err(DocumentError::BadName)
        );
        assert!(
            DocumentError::TooLarge { bytes: 0 }
                .to_string()
                .contains("10MB")
        );
    }

    #[test]
    fn serde_of_actions_and_deficiencies_validates() {
        use serde::de::IntoDeserializer;
        use serde::de::value::{Error, StrDeserializer};
        let d: StrDeserializer<Error> = "approved".into_deserializer();
        assert_eq!(ApplicationState::deserialize(d), Ok(S::Approved));
        let d: StrDeserializer<Error> = "holder_renamed".into_deserializer();
        assert_eq!(
            ReissueCause::deserialize(d),
            Ok(ReissueCause::HolderRenamed)
        );
    }
}

//! The doctor registry (医師の登録, issue 11 item 3): doctors do not get the network's card
//! (第4条: they log in with the JMA physician card, 医師資格証, an HPKI card of another
//! CA), so the facilities a doctor may act for are bound to the doctor's **registered
//! certificate** — its issuer and serial number, with the SHA-256 of its
//! SubjectPublicKeyInfo — never to a subject name (a name match with another key is not a
//! binding).
//!
//! The lifecycle of one binding (one certificate at one facility) is data: one table,
//! [`TRANSITIONS`], with a unit test per row, and who may take each step in
//! [`BindingAction::allowed_for`].
//!
//! ```text
//! Enrolled ─Confirm (desk of that facility)→ Confirmed ─Approve (center)→ Active
//! Active ─End (desk or center, with the date the doctor left)→ Ended
//! Enrolled|Confirmed ─Refuse (center)→ Refused;  ─Withdraw (desk or center)→ Withdrawn
//! ```
//!
//! Decisions beyond the brief (the terms are silent on doctors' bindings):
//! * A renewed HPKI card is a new certificate, so a new binding: it goes through the same
//!   three steps; the old binding is ended separately (or runs out with its certificate).
//! * The center may record the facility's confirmation received in writing (like an
//!   out-of-band receipt, 第8条), naming who confirmed; the approver must then be another
//!   person than the one who recorded the confirmation ([`check_approver`]).
//! * Only the authentication certificate of a card is registered, never its signature
//!   certificate ([`check_certificate`]).

use crate::enum_codes::coded_enum;

coded_enum! {
    /// Where a doctor's binding to a facility is.
    pub enum BindingState: "医師の登録の状態" {
        /// The certificate was uploaded for the facility; the facility's desk has not
        /// confirmed yet.
        Enrolled = "enrolled" => "受付（施設の確認待ち）",
        /// The facility's desk confirmed the doctor acts for it; the center has not
        /// approved yet.
        Confirmed = "confirmed" => "施設確認済み（センターの承認待ち）",
        /// Approved by the center: the doctor may act for the facility with this
        /// certificate.
        Active = "active" => "有効",
        /// The doctor left the facility (or the card was replaced). Final.
        Ended = "ended" => "終了",
        /// The center refused the binding. Final.
        Refused = "refused" => "不承認",
        /// Withdrawn before approval by the facility or the center. Final.
        Withdrawn = "withdrawn" => "取下げ",
    }
}

coded_enum! {
    /// A step of a binding.
    pub enum BindingAction: "医師の登録の操作" {
        /// The facility's desk confirms the doctor acts for it.
        Confirm = "confirm" => "施設の確認",
        /// The center approves.
        Approve = "approve" => "センターの承認",
        /// The binding ends (the doctor left the facility).
        End = "end" => "終了",
        /// The center refuses.
        Refuse = "refuse" => "不承認",
        /// Withdrawn before approval.
        Withdraw = "withdraw" => "取下げ",
    }
}

use BindingAction as Ac;
use BindingState as St;

/// Every allowed transition: (from, action, to). Anything not here is refused.
pub const TRANSITIONS: &[(BindingState, BindingAction, BindingState)] = &[
    (St::Enrolled, Ac::Confirm, St::Confirmed),
    (St::Confirmed, Ac::Approve, St::Active),
    (St::Active, Ac::End, St::Ended),
    (St::Enrolled, Ac::Refuse, St::Refused),
    (St::Confirmed, Ac::Refuse, St::Refused),
    (St::Enrolled, Ac::Withdraw, St::Withdrawn),
    (St::Confirmed, Ac::Withdraw, St::Withdrawn),
];

/// Who takes a step.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Party {
    /// The desk (窓口, 第17条) of the binding's own facility.
    FacilityDesk,
    /// The support center (operator or supervisor).
    Center,
}

/// A refused step. Messages are Japanese, for desks and operators.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BindingError {
    /// `action` is not allowed from `from`.
    #[error("この医師の登録は「{}」のため「{}」はできません", .from.label_ja(), .action.label_ja())]
    Illegal {
        /// The current state.
        from: BindingState,
        /// The step asked for.
        action: BindingAction,
    },
    /// The party may not take this step.
    #[error("{}", .0)]
    NotYours(&'static str),
    /// The approver recorded the confirmation themself.
    #[error(
        "施設の確認を記録した方とは別の担当者が承認してください（確認と承認は別の人が行います）"
    )]
    SamePerson,
}

impl BindingState {
    /// Whether nothing can happen to the binding any more.
    pub fn is_final(self) -> bool {
        matches!(self, St::Ended | St::Refused | St::Withdrawn)
    }

    /// Whether the binding holds its certificate at its facility (no second binding of
    /// the same certificate there while it does).
    pub fn is_open(self) -> bool {
        matches!(self, St::Enrolled | St::Confirmed | St::Active)
    }

    /// The state `action` leads to, if [`TRANSITIONS`] allows it.
    pub fn next(self, action: BindingAction) -> Option<BindingState> {
        TRANSITIONS
            .iter()
            .find(|(from, a, _)| *from == self && *a == action)
            .map(|(_, _, to)| *to)
    }

    /// Applies `action` taken by `by`: the new state, or why not.
    pub fn apply(self, action: BindingAction, by: Party) -> Result<BindingState, BindingError> {
        action.allowed_for(by)?;
        self.next(action)
            .ok_or(BindingError::Illegal { from: self, action })
    }
}

impl BindingAction {
    /// Who may take the step: confirming is the facility's own (the center only records
    /// a confirmation given in writing, naming who gave it); approving and refusing are
    /// the center's; withdrawing and ending are either's.
    pub fn allowed_for(self, by: Party) -> Result<(), BindingError> {
        match (self, by) {
            (Ac::Approve, Party::FacilityDesk) => Err(BindingError::NotYours(
                "医師の登録の承認はサポートセンターが行います",
            )),
            (Ac::Refuse, Party::FacilityDesk) => Err(BindingError::NotYours(
                "医師の登録の不承認はサポートセンターが行います（施設からは取下げができます）",
            )),
            _ => Ok(()),
        }
    }
}

/// Separation of duties: the person who approves is not the person who recorded the
/// facility's confirmation (persons, not accounts, are compared).
pub fn check_approver(
    confirmed_by_person: &str,
    approver_person: &str,
) -> Result<(), BindingError> {
    if confirmed_by_person == approver_person {
        Err(BindingError::SamePerson)
    } else {
        Ok(())
    }
}

/// What the registry reads from an uploaded certificate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PresentedCert {
    /// basicConstraints cA = TRUE.
    pub is_ca: bool,
    /// keyUsage is present.
    pub has_key_usage: bool,
    /// keyUsage digitalSignature.
    pub digital_signature: bool,
    /// keyUsage nonRepudiation (contentCommitment): the mark of a signature certificate.
    pub non_repudiation: bool,
    /// notBefore, Unix seconds.
    pub not_before: i64,
    /// notAfter, Unix seconds.
    pub not_after: i64,
    /// certificatePolicies OIDs, dotted.
    pub policies: Vec<String>,
    /// Issued by one of this CA's own CA certificates (a network card or operator
    /// certificate).
    pub issued_by_us: bool,
}

/// The HPKI policy OIDs configured for telling the authentication certificate from the
/// signature certificate (`[hpki]` in `kmn.toml`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HpkiPolicyOids {
    /// The authentication certificate carries one of these (when any is configured).
    pub authentication: Vec<String>,
    /// A certificate carrying one of these is a signature certificate: refused.
    pub signature: Vec<String>,
}

/// Why an uploaded certificate cannot be registered. Japanese, for the desk.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DoctorCertError {
    /// A CA certificate.
    #[error(
        "認証局（CA）の証明書は登録できません。医師資格証の認証用証明書をアップロードしてください"
    )]
    CaCertificate,
    /// One of this CA's own certificates.
    #[error(
        "本会の利用者カード（または担当者）の証明書は医師の登録に使えません。日本医師会の医師資格証（HPKI）の認証用証明書をアップロードしてください"
    )]
    OwnCertificate,
    /// Past its notAfter.
    #[error(
        "この証明書は有効期限が切れています（{0}まで）。新しい医師資格証の証明書をアップロードしてください"
    )]
    Expired(String),
    /// Before its notBefore.
    #[error("この証明書はまだ有効期間が始まっていません（{0}から）")]
    NotYetValid(String),
    /// A signature certificate (policy OID or key usage).
    #[error(
        "これは医師資格証の署名用証明書です。認証用証明書をアップロードしてください（署名用証明書はログインに使えません）"
    )]
    SignatureCertificate,
    /// Neither digitalSignature nor a configured authentication policy.
    #[error(
        "この証明書は認証用ではありません（鍵用途に digitalSignature がありません）。医師資格証の認証用証明書をアップロードしてください"
    )]
    NotForAuthentication,
    /// Authentication policies are configured and the certificate carries none of them.
    #[error("この証明書には医師資格証の認証用証明書ポリシーがありません（設定された OID: {0}）")]
    NotHpkiAuthenticationPolicy(String),
}

/// Checks an uploaded certificate (issue 11 item 3, 第4条): an end-entity certificate,
/// valid at `now`, for authentication (keyUsage digitalSignature; not a signature
/// certificate, which HPKI marks by its policy OID and nonRepudiation), carrying a
/// configured authentication policy when any is configured, and not one of this CA's
/// own certificates. Path validation against the HPKI anchors is the app layer's.
pub fn check_certificate(
    c: &PresentedCert,
    oids: &HpkiPolicyOids,
    now: i64,
    show_time: impl Fn(i64) -> String,
) -> Result<(), DoctorCertError> {
    if c.is_ca {
        return Err(DoctorCertError::CaCertificate);
    }
    if c.issued_by_us {
        return Err(DoctorCertError::OwnCertificate);
    }
    if now > c.not_after {
        return Err(DoctorCertError::Expired(show_time(c.not_after)));
    }
    if now < c.not_before {
        return Err(DoctorCertError::NotYetValid(show_time(c.not_before)));
    }
    if c.policies.iter().any(|p| oids.signature.contains(p)) {
        return Err(DoctorCertError::SignatureCertificate);
    }
    if !c.has_key_usage || !c.digital_signature {
        return Err(if c.non_repudiation {
            DoctorCertError::SignatureCertificate
        } else {
            DoctorCertError::NotForAuthentication
        });
    }
    if !oids.authentication.is_empty()
        && !c.policies.iter().any(|p| oids.authentication.contains(p))
    {
        return Err(DoctorCertError::NotHpkiAuthenticationPolicy(
            oids.authentication.join(", "),
        ));
    }
    Ok(())
}

/// The profession a gateway forwards for an HPKI binding.
pub const DOCTOR_PROFESSION: &str = "doctor";

#[cfg(test)]
mod tests {
    use super::*;

    /// One test per row of [`TRANSITIONS`]; `TESTED` lists the rows the tests cover and
    /// must equal the table.
    macro_rules! row_tests {
        ($($name:ident: $from:ident, $action:ident, $by:ident => $to:ident;)+) => {
            const TESTED: &[(BindingState, BindingAction, BindingState)] =
                &[$((St::$from, Ac::$action, St::$to)),+];
            $(
                #[test]
                fn $name() {
                    assert_eq!(St::$from.apply(Ac::$action, Party::$by).unwrap(), St::$to);
                }
            )+
        };
    }

    row_tests! {
        art4_facility_desk_confirms_an_enrolled_doctor: Enrolled, Confirm, FacilityDesk => Confirmed;
        art4_center_approves_a_confirmed_doctor: Confirmed, Approve, Center => Active;
        art4_binding_ends_when_the_doctor_leaves: Active, End, FacilityDesk => Ended;
        center_refuses_an_enrolled_binding: Enrolled, Refuse, Center => Refused;
        center_refuses_a_confirmed_binding: Confirmed, Refuse, Center => Refused;
        facility_withdraws_an_enrolled_binding: Enrolled, Withdraw, FacilityDesk => Withdrawn;
        facility_withdraws_a_confirmed_binding: Confirmed, Withdraw, Center => Withdrawn;
    }

    #[test]
    fn every_row_has_a_test_and_rows_are_unique() {
        assert_eq!(TESTED, TRANSITIONS);
        for (i, (f, a, _)) in TRANSITIONS.iter().enumerate() {
            assert!(
                !TRANSITIONS[i + 1..]
                    .iter()
                    .any(|(f2, a2, _)| f2 == f && a2 == a),
                "duplicate row {f:?} {a:?}"
            );
        }
    }

    #[test]
    fn center_cannot_approve_before_the_desk_confirms() {
        let e = St::Enrolled.apply(Ac::Approve, Party::Center).unwrap_err();
        assert_eq!(
            e.to_string(),
            "この医師の登録は「受付（施設の確認待ち）」のため「センターの承認」はできません"
        );
    }

    #[test]
    fn a_desk_cannot_approve_or_refuse() {
        for a in [Ac::Approve, Ac::Refuse] {
            assert!(matches!(
                St::Confirmed.apply(a, Party::FacilityDesk),
                Err(BindingError::NotYours(_))
            ));
        }
    }

    #[test]
    fn final_states_allow_nothing() {
        for s in [St::Ended, St::Refused, St::Withdrawn] {
            assert!(s.is_final() && !s.is_open());
            for a in [Ac::Confirm, Ac::Approve, Ac::End, Ac::Refuse, Ac::Withdraw] {
                assert!(s.apply(a, Party::Center).is_err(), "{s:?} {a:?}");
            }
        }
    }

    #[test]
    fn an_ended_binding_cannot_be_reactivated_a_renewed_card_needs_a_new_enrolment() {
        assert_eq!(St::Ended.next(Ac::Approve), None);
        assert_eq!(St::Ended.next(Ac::Confirm), None);
    }

    #[test]
    fn confirmation_and_approval_are_by_two_people() {
        assert_eq!(check_approver("P1", "P1"), Err(BindingError::SamePerson));
        assert!(check_approver("P1", "P2").is_ok());
    }

    fn auth_cert() -> PresentedCert {
        PresentedCert {
            is_ca: false,
            has_key_usage: true,
            digital_signature: true,
            non_repudiation: false,
            not_before: 1_000,
            not_after: 2_000,
            policies: vec!["1.2.392.100495.1.5.1.1.2".into()],
            issued_by_us: false,
        }
    }

    fn oids() -> HpkiPolicyOids {
        HpkiPolicyOids {
            authentication: vec!["1.2.392.100495.1.5.1.1.2".into()],
            signature: vec!["1.2.392.100495.1.5.1.1.1".into()],
        }
    }

    fn check(c: &PresentedCert, now: i64) -> Result<(), DoctorCertError> {
        check_certificate(c, &oids(), now, |t| t.to_string())
    }

    #[test]
    fn hpki_authentication_certificate_is_accepted() {
        assert_eq!(check(&auth_cert(), 1_500), Ok(()));
        // Without configured OIDs, keyUsage decides.
        assert_eq!(
            check_certificate(&auth_cert(), &HpkiPolicyOids::default(), 1_500, |t| t
                .to_string()),
            Ok(())
        );
    }

    #[test]
    fn hpki_signature_certificate_is_refused_by_policy_and_by_key_usage() {
        let mut c = auth_cert();
        c.policies = vec!["1.2.392.100495.1.5.1.1.1".into()];
        assert_eq!(check(&c, 1_500), Err(DoctorCertError::SignatureCertificate));
        let mut c = auth_cert();
        c.digital_signature = false;
        c.non_repudiation = true;
        let none = HpkiPolicyOids::default();
        assert_eq!(
            check_certificate(&c, &none, 1_500, |t| t.to_string()),
            Err(DoctorCertError::SignatureCertificate)
        );
    }

    #[test]
    fn certificate_without_digital_signature_is_refused() {
        let mut c = auth_cert();
        c.has_key_usage = false;
        assert_eq!(check(&c, 1_500), Err(DoctorCertError::NotForAuthentication));
    }

    #[test]
    fn certificate_without_the_configured_authentication_policy_is_refused() {
        let mut c = auth_cert();
        c.policies = vec!["1.2.3.4".into()];
        assert!(matches!(
            check(&c, 1_500),
            Err(DoctorCertError::NotHpkiAuthenticationPolicy(_))
        ));
    }

    #[test]
    fn ca_expired_not_yet_valid_and_own_certificates_are_refused() {
        let mut c = auth_cert();
        c.is_ca = true;
        assert_eq!(check(&c, 1_500), Err(DoctorCertError::CaCertificate));
        assert_eq!(
            check(&auth_cert(), 2_001),
            Err(DoctorCertError::Expired("2000".into()))
        );
        assert_eq!(
            check(&auth_cert(), 999),
            Err(DoctorCertError::NotYetValid("1000".into()))
        );
        let mut c = auth_cert();
        c.issued_by_us = true;
        assert_eq!(check(&c, 1_500), Err(DoctorCertError::OwnCertificate));
    }
}

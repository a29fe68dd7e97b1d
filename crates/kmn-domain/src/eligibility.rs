//! Who may get a card, and where (第4条).

use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};

use crate::facility::FacilityCode;
use crate::person::Profession;

/// A person's affiliation to one participating facility, as the facility declares it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Affiliation {
    /// The facility.
    pub facility: FacilityCode,
    /// Whether the facility has permitted this person to use the network (第4条1).
    pub permitted_to_use_network: bool,
}

/// What eligibility needs to know about a person.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersonFacts {
    /// The person's profession.
    pub profession: Profession,
    /// Facilities the person belongs to.
    pub affiliations: Vec<Affiliation>,
}

/// Why a card cannot be issued to a person at a facility (第4条). Messages are Japanese.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EligibilityError {
    /// Doctors log in with the 医師資格証 (the JMA HPKI card), not this card (第4条1).
    #[error(
        "医師は医師資格証を利用者カードとして使用するため、利用者カードの申請はできません（利用規約第4条1）"
    )]
    DoctorUsesHpkiCard,
    /// The person does not belong to the applying facility (第4条1).
    #[error(
        "申請対象の方は申請施設（施設コード {facility}）に所属していないため、利用者カードを申請できません（利用規約第4条1）"
    )]
    NotAffiliated {
        /// The applying facility.
        facility: FacilityCode,
    },
    /// The facility has not permitted the person to use the network (第4条1).
    #[error(
        "申請対象の方は申請施設（施設コード {facility}）から本ネットワークの利用を許可されていないため、利用者カードを申請できません（利用規約第4条1）"
    )]
    NotPermitted {
        /// The applying facility.
        facility: FacilityCode,
    },
    /// The person already holds a valid card at this facility (第4条2).
    #[error(
        "申請対象の方はこの施設（施設コード {facility}）で有効な利用者カードをすでにお持ちです（{existing}枚）。同じ施設で有効なカードは1枚までです（更新時の切替期間を除く）（利用規約第4条2）"
    )]
    AlreadyHoldsCard {
        /// The applying facility.
        facility: FacilityCode,
        /// How many valid cards the person holds there.
        existing: usize,
    },
}

/// Whether a new card (new, renewal or reissue) may be issued to `person` at `facility`
/// (第4条).
///
/// * 第4条1: doctors cannot apply — the 医師資格証 is their card; the person must belong
///   to the applying facility and be permitted by it to use the network.
/// * 第4条2: a card works only at the facility that applied, so someone at several
///   facilities holds one card per facility — and never two valid cards at one facility,
///   except during a renewal's overlap (`is_renewal_overlap`: the one existing card is the
///   predecessor the renewal replaces; it is revoked as superseded when the overlap ends,
///   see [`renewal_overlap_ends`]). A reissue is not an overlap: its predecessor is
///   revoked (or already revoked, for a loss) before the new card counts.
///
/// `existing_valid_cards_at_facility` counts this person's cards at this facility whose
/// certificate is valid (not revoked, not expired).
pub fn check_new_card(
    person: &PersonFacts,
    facility_code: &FacilityCode,
    existing_valid_cards_at_facility: usize,
    is_renewal_overlap: bool,
) -> Result<(), EligibilityError> {
    if person.profession.is_doctor() {
        return Err(EligibilityError::DoctorUsesHpkiCard);
    }
    let affiliation = person
        .affiliations
        .iter()
        .find(|a| &a.facility == facility_code)
        .ok_or_else(|| EligibilityError::NotAffiliated {
            facility: facility_code.clone(),
        })?;
    if !affiliation.permitted_to_use_network {
        return Err(EligibilityError::NotPermitted {
            facility: facility_code.clone(),
        });
    }
    let allowed = if is_renewal_overlap { 1 } else { 0 };
    if existing_valid_cards_at_facility > allowed {
        return Err(EligibilityError::AlreadyHoldsCard {
            facility: facility_code.clone(),
            existing: existing_valid_cards_at_facility,
        });
    }
    Ok(())
}

/// Default length of a renewal's overlap, in days (第4条2 aside; 第14条1).
pub const DEFAULT_RENEWAL_OVERLAP_DAYS: i64 = 30;

/// When the overlap of a renewal ends: the predecessor card's certificate is revoked as
/// superseded (and its return requested) at this instant by a scheduled job. A negative
/// `overlap_days` counts as 0.
pub fn renewal_overlap_ends(new_issue: OffsetDateTime, overlap_days: i64) -> OffsetDateTime {
    new_issue + Duration::days(overlap_days.max(0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn code(s: &str) -> FacilityCode {
        FacilityCode::parse(s).unwrap()
    }

    fn nurse_at(facilities: &[(&str, bool)]) -> PersonFacts {
        PersonFacts {
            profession: Profession::Nurse,
            affiliations: facilities
                .iter()
                .map(|(c, p)| Affiliation {
                    facility: code(c),
                    permitted_to_use_network: *p,
                })
                .collect(),
        }
    }

    const HOSPITAL: &str = "4310112349";
    const PHARMACY: &str = "4340140005";

    #[test]
    fn art4_doctors_cannot_apply() {
        let mut doctor = nurse_at(&[(HOSPITAL, true)]);
        doctor.profession = Profession::Doctor;
        let e = check_new_card(&doctor, &code(HOSPITAL), 0, false).unwrap_err();
        assert_eq!(e, EligibilityError::DoctorUsesHpkiCard);
        assert_eq!(
            e.to_string(),
            "医師は医師資格証を利用者カードとして使用するため、利用者カードの申請はできません（利用規約第4条1）"
        );
    }

    #[test]
    fn art4_1_holder_must_belong_to_applying_facility() {
        let p = nurse_at(&[(HOSPITAL, true)]);
        assert_eq!(check_new_card(&p, &code(HOSPITAL), 0, false), Ok(()));
        let e = check_new_card(&p, &code(PHARMACY), 0, false).unwrap_err();
        assert_eq!(
            e,
            EligibilityError::NotAffiliated {
                facility: code(PHARMACY)
            }
        );
        assert!(e.to_string().contains("所属していない"), "{e}");
    }

    #[test]
    fn art4_1_holder_must_be_permitted_to_use_network() {
        let p = nurse_at(&[(HOSPITAL, false)]);
        let e = check_new_card(&p, &code(HOSPITAL), 0, false).unwrap_err();
        assert!(matches!(e, EligibilityError::NotPermitted { .. }));
        assert!(e.to_string().contains("利用を許可されていない"), "{e}");
    }

    #[test]
    fn art4_2_one_card_per_facility() {
        let p = nurse_at(&[(HOSPITAL, true), (PHARMACY, true)]);
        // A card at the hospital does not stop a card at the pharmacy: one per facility.
        assert_eq!(check_new_card(&p, &code(PHARMACY), 0, false), Ok(()));
        let e = check_new_card(&p, &code(HOSPITAL), 1, false).unwrap_err();
        assert_eq!(
            e,
            EligibilityError::AlreadyHoldsCard {
                facility: code(HOSPITAL),
                existing: 1
            }
        );
        assert!(e.to_string().contains("第4条2"), "{e}");
    }

    #[test]
    fn art4_2_renewal_overlap_allows_exactly_one_predecessor() {
        let p = nurse_at(&[(HOSPITAL, true)]);
        assert_eq!(check_new_card(&p, &code(HOSPITAL), 1, true), Ok(()));
        assert_eq!(check_new_card(&p, &code(HOSPITAL), 0, true), Ok(()));
        assert!(check_new_card(&p, &code(HOSPITAL), 2, true).is_err());
    }

    #[test]
    fn art14_1_renewal_overlap_ends_after_default_30_days() {
        let issued = datetime!(2026-11-26 03:00 UTC);
        assert_eq!(
            renewal_overlap_ends(issued, DEFAULT_RENEWAL_OVERLAP_DAYS),
            datetime!(2026-12-26 03:00 UTC)
        );
        assert_eq!(renewal_overlap_ends(issued, -5), issued);
    }
}

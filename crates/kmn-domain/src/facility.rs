//! Facilities (利用施設): their codes, kinds and status, and their consent to the CPS,
//! the terms and the use of personal data (第1条6・7, 第2条2, 第3条2).

use std::fmt;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::enum_codes::{Shown, coded_enum};

/// A facility's 10-digit code (第3条2: applications carry accurate facility data).
///
/// Two national numbering schemes share the same shape — 都道府県番号 (2 digits),
/// one class digit, 郡市区番号 (2), a serial (4) and a 検証番号 (check digit, 1):
///
/// * the **医療機関コード / 薬局コード** of hospitals, clinics and pharmacies, whose third
///   digit is the 点数表番号: `1` 医科, `3` 歯科, `4` 調剤 ([`FacilityCodeClass::Medical`],
///   [`FacilityCodeClass::Dental`], [`FacilityCodeClass::Pharmacy`]);
/// * the **介護保険事業所番号** of care providers, whose third digit is the 事業所区分:
///   `0` 地域包括支援センター等, `5` 介護老人保健施設, `6` 訪問看護, `7` 指定事業所,
///   `8` 基準該当事業所, `9` 地域密着型サービス事業所. (`6` is also the 点数表番号 of the
///   訪問看護ステーションコード.)
///
/// The prefecture must be 01–47 (Kumamoto is 43). `2` (健診等機関) is not accepted, and
/// the letters some municipalities use in the 事業所区分 of 総合事業 providers (`A`…) are
/// not accepted either: the code is 10 ASCII digits.
///
/// # Check digit
///
/// For the 医療機関コード / 薬局コード (class digit 1, 3 or 4) the 検証番号 **is checked**:
/// modulus 10, weights 2 and 1 alternating from the rightmost of the nine preceding
/// digits (都道府県番号 + 点数表番号 + 郡市区番号 + 医療機関番号; the rightmost gets 2), a
/// two-digit product counts as the sum of its digits, and the check digit is 10 minus the
/// last digit of the sum (0 when that digit is 0). Evidence:
///
/// * the rule and its worked example 34-1-07-1236 → 2 (`3410712362`) in the MHLW
///   notification 別添２「保険者番号、公費負担者番号…並びに医療機関コード及び薬局コード
///   設定要領」第４-５ (mhlw.go.jp/content/12400000/001275316.pdf), as quoted in
///   `kotoba-lang/insurance`, `src/kotoba/insurance/jp.cljk`;
/// * a real published code: 徳島大学病院, listed in the 全医療機関一覧表 as `80-10015`
///   (郡市区番号 80, 医療機関番号 1001, 検証番号 5; quoted at
///   myozai119.jp/Qsuke6/Q6Manual684.htm), i.e. `3618010015`. The nine-digit rule gives 5,
///   as printed; the often-repeated rule that weighs only the six digits of 郡市区番号 +
///   医療機関番号 gives 9 — so that rule is wrong for current codes;
/// * the example `0110113719` of the Japanese Wikipedia article 「処方箋発行医療機関コード」
///   (which names the rule "Luhn") also passes.
///
/// The same article reports that some codes issued before the 1976 unification in 埼玉
/// (11), 千葉 (12), 東京 (13) and 神奈川 (14) carry a check digit computed over the six
/// digits only; for those four prefectures either check digit is accepted. That exception
/// is unconfirmed; accepting it only weakens the check there, it never refuses a code.
///
/// For the 介護保険事業所番号 (class digits 0, 5–9) **only the structure is checked**. An
/// MHLW document (「介護予防・日常生活支援総合事業における事業所番号の考え方について」資料13)
/// describes the same modulus 10 weights 2-1 rule over the first nine characters, but no
/// real published care code could be found to confirm it, so it is not enforced.
///
/// Input may contain full-width digits, hyphens and spaces (`４３－１…`): they are
/// normalised before the check.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct FacilityCode(String);

/// Why a facility code was refused. Messages are Japanese: they are shown to the desk.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FacilityCodeError {
    /// Nothing was entered.
    #[error("施設コードを入力してください")]
    Empty,
    /// A character that is neither a digit nor a separator.
    #[error("施設コードに使用できない文字（{}）が含まれています。施設コードは10桁の数字で入力してください", Shown(*.0))]
    InvalidCharacter(char),
    /// Not exactly ten digits.
    #[error("施設コードは10桁の数字で入力してください（入力された桁数: {0}）")]
    WrongLength(usize),
    /// The first two digits are not a prefecture number.
    #[error("施設コードの先頭2桁（都道府県番号）「{0:02}」が正しくありません（01〜47）")]
    Prefecture(u8),
    /// The third digit is not a class digit in use.
    #[error(
        "施設コードの3桁目「{0}」は、医療機関コード（医科1・歯科3・薬局4）にも介護保険事業所番号の区分（0・5〜9）にも使われていません"
    )]
    Class(char),
    /// The check digit does not match (a typing error, most likely).
    #[error("施設コードの10桁目（検証番号）が一致しません。入力内容をご確認ください")]
    CheckDigit {
        /// The check digit computed from the first nine digits.
        expected: u8,
        /// The tenth digit entered.
        found: u8,
    },
    /// The code's class does not fit the facility's kind.
    #[error("施設種別「{}」には{}が必要です（入力された施設コードは「{}」のコードです）", .kind.label_ja(), .kind.required_code_ja(), .class.label_ja())]
    KindMismatch {
        /// The facility's kind.
        kind: FacilityKind,
        /// The class of the code entered.
        class: FacilityCodeClass,
    },
}

/// Characters accepted as separators and dropped: hyphens and dashes people type
/// (including the katakana prolonged sound mark an IME produces for `-`) and spaces.
fn is_separator(c: char) -> bool {
    matches!(
        c,
        '-' | '\u{2010}'
            ..='\u{2015}' | '\u{2212}' | '\u{FF0D}' | '\u{30FC}' | '\u{FF70}' | ' ' | '\u{3000}'
    )
}

/// The 検証番号 of a 医療機関コード / 薬局コード: modulus 10, weights 2-1 from the right,
/// over the first nine digits (MHLW 別添２ 第４-５; see [`FacilityCode`]).
pub fn medical_code_check_digit(first_nine: &[u8; 9]) -> u8 {
    weighted_mod10(first_nine)
}

/// Modulus 10, weights 2 and 1 alternating from the rightmost digit (which gets 2), a
/// two-digit product counted as the sum of its digits; 10 minus the last digit of the sum.
fn weighted_mod10(digits: &[u8]) -> u8 {
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, d)| {
            let p = u32::from(*d) * if i % 2 == 0 { 2 } else { 1 };
            p / 10 + p % 10
        })
        .sum();
    ((10 - sum % 10) % 10) as u8
}

impl FacilityCode {
    /// Parses a facility code as a desk enters it: full-width digits, hyphens and spaces
    /// are normalised, then the structure (and, for 医療機関コード, the check digit) is
    /// checked (第3条2).
    pub fn parse(input: &str) -> Result<Self, FacilityCodeError> {
        let mut digits = String::with_capacity(10);
        for c in input.trim().chars() {
            match c {
                '0'..='9' => digits.push(c),
                '０'..='９' => {
                    let d = u32::from(c) - u32::from('０');
                    digits.push(char::from_digit(d, 10).expect("a decimal digit"));
                }
                c if is_separator(c) => {}
                c => return Err(FacilityCodeError::InvalidCharacter(c)),
            }
        }
        if digits.is_empty() {
            return Err(FacilityCodeError::Empty);
        }
        if digits.len() != 10 {
            return Err(FacilityCodeError::WrongLength(digits.len()));
        }
        let d: Vec<u8> = digits.bytes().map(|b| b - b'0').collect();
        let prefecture = d[0] * 10 + d[1];
        if !(1..=47).contains(&prefecture) {
            return Err(FacilityCodeError::Prefecture(prefecture));
        }
        let class = FacilityCodeClass::from_digit(d[2])
            .ok_or(FacilityCodeError::Class(char::from(b'0' + d[2])))?;
        if class.scheme() == FacilityCodeScheme::MedicalInstitution {
            let nine: [u8; 9] = d[..9].try_into().expect("ten digits");
            let expected = medical_code_check_digit(&nine);
            let found = d[9];
            // Legacy codes of 埼玉・千葉・東京・神奈川: check digit over 郡市区番号 + 医療機関番号.
            let legacy_ok = (11..=14).contains(&prefecture) && weighted_mod10(&d[3..9]) == found;
            if expected != found && !legacy_ok {
                return Err(FacilityCodeError::CheckDigit { expected, found });
            }
        }
        Ok(Self(digits))
    }

    /// The ten ASCII digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The 都道府県番号 (1–47).
    pub fn prefecture(&self) -> u8 {
        let b = self.0.as_bytes();
        (b[0] - b'0') * 10 + (b[1] - b'0')
    }

    /// Whether the facility is in Kumamoto (都道府県番号 43).
    pub fn is_kumamoto(&self) -> bool {
        self.prefecture() == 43
    }

    /// The class given by the third digit.
    pub fn class(&self) -> FacilityCodeClass {
        FacilityCodeClass::from_digit(self.0.as_bytes()[2] - b'0').expect("checked at parse")
    }

    /// The numbering scheme the code belongs to.
    pub fn scheme(&self) -> FacilityCodeScheme {
        self.class().scheme()
    }

    /// `43-1-01-1234-9`, for letters and the portal.
    pub fn to_display_string(&self) -> String {
        let s = &self.0;
        format!(
            "{}-{}-{}-{}-{}",
            &s[0..2],
            &s[2..3],
            &s[3..5],
            &s[5..9],
            &s[9..10]
        )
    }
}

impl TryFrom<String> for FacilityCode {
    type Error = FacilityCodeError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<FacilityCode> for String {
    fn from(c: FacilityCode) -> Self {
        c.0
    }
}

impl std::str::FromStr for FacilityCode {
    type Err = FacilityCodeError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl fmt::Display for FacilityCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for FacilityCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "FacilityCode({})", self.0)
    }
}

coded_enum! {
    /// The numbering scheme of a [`FacilityCode`].
    pub enum FacilityCodeScheme: "施設コードの体系" {
        /// 医療機関コード / 薬局コード (点数表番号 1, 3, 4).
        MedicalInstitution = "medical_institution" => "医療機関コード",
        /// 介護保険事業所番号 (and the 訪問看護ステーションコード).
        CareProvider = "care_provider" => "介護保険事業所番号",
    }
}

coded_enum! {
    /// The class given by the third digit of a [`FacilityCode`].
    pub enum FacilityCodeClass: "施設コードの区分" {
        /// 点数表番号 1.
        Medical = "medical" => "医科",
        /// 点数表番号 3.
        Dental = "dental" => "歯科",
        /// 点数表番号 4.
        Pharmacy = "pharmacy" => "調剤（薬局）",
        /// 事業所区分 0.
        CareSupportCenter = "care_support_center" => "地域包括支援センター等",
        /// 事業所区分 5.
        CareHealthFacility = "care_health_facility" => "介護老人保健施設",
        /// 事業所区分 / 点数表番号 6.
        VisitingNursing = "visiting_nursing" => "訪問看護",
        /// 事業所区分 7.
        DesignatedCare = "designated_care" => "指定介護サービス事業所",
        /// 事業所区分 8.
        StandardCare = "standard_care" => "基準該当サービス事業所",
        /// 事業所区分 9.
        CommunityCare = "community_care" => "地域密着型サービス事業所",
    }
}

impl FacilityCodeClass {
    /// The class of a third digit, if that digit is in use.
    pub fn from_digit(d: u8) -> Option<Self> {
        Some(match d {
            1 => Self::Medical,
            3 => Self::Dental,
            4 => Self::Pharmacy,
            0 => Self::CareSupportCenter,
            5 => Self::CareHealthFacility,
            6 => Self::VisitingNursing,
            7 => Self::DesignatedCare,
            8 => Self::StandardCare,
            9 => Self::CommunityCare,
            _ => return None,
        })
    }

    /// The third digit.
    pub fn digit(self) -> u8 {
        match self {
            Self::Medical => 1,
            Self::Dental => 3,
            Self::Pharmacy => 4,
            Self::CareSupportCenter => 0,
            Self::CareHealthFacility => 5,
            Self::VisitingNursing => 6,
            Self::DesignatedCare => 7,
            Self::StandardCare => 8,
            Self::CommunityCare => 9,
        }
    }

    /// The scheme this class belongs to.
    pub fn scheme(self) -> FacilityCodeScheme {
        match self {
            Self::Medical | Self::Dental | Self::Pharmacy => FacilityCodeScheme::MedicalInstitution,
            _ => FacilityCodeScheme::CareProvider,
        }
    }
}

coded_enum! {
    /// What a participating facility (利用施設) is.
    pub enum FacilityKind: "施設種別" {
        /// 病院 (20 beds or more).
        Hospital = "hospital" => "病院",
        /// 診療所.
        Clinic = "clinic" => "診療所",
        /// 歯科診療所.
        DentalClinic = "dental_clinic" => "歯科診療所",
        /// 薬局.
        Pharmacy = "pharmacy" => "薬局",
        /// A care provider under the long-term care insurance.
        CareFacility = "care_facility" => "介護施設",
        /// 訪問看護ステーション.
        VisitingNursing = "visiting_nursing" => "訪問看護ステーション",
        /// Anything else the association admits (e.g. a 地域包括支援センター run by a city).
        Other = "other" => "その他",
    }
}

impl FacilityKind {
    /// Whether a code of `class` fits this kind: hospitals and clinics need a 医科
    /// 医療機関コード, dental clinics a 歯科 one, pharmacies a 薬局コード, care kinds a
    /// 介護保険事業所番号 (第3条2).
    pub fn accepts(self, class: FacilityCodeClass) -> bool {
        use FacilityCodeClass as C;
        match self {
            Self::Hospital | Self::Clinic => class == C::Medical,
            Self::DentalClinic => class == C::Dental,
            Self::Pharmacy => class == C::Pharmacy,
            Self::CareFacility => matches!(
                class,
                C::CareSupportCenter
                    | C::CareHealthFacility
                    | C::DesignatedCare
                    | C::StandardCare
                    | C::CommunityCare
            ),
            Self::VisitingNursing => matches!(class, C::VisitingNursing | C::DesignatedCare),
            Self::Other => true,
        }
    }

    /// The code this kind needs, in words for the desk.
    pub fn required_code_ja(self) -> &'static str {
        match self {
            Self::Hospital | Self::Clinic => "医療機関コード（3桁目が1：医科）",
            Self::DentalClinic => "医療機関コード（3桁目が3：歯科）",
            Self::Pharmacy => "薬局コード（3桁目が4：調剤）",
            Self::CareFacility => "介護保険事業所番号",
            Self::VisitingNursing => "訪問看護ステーションコードまたは介護保険事業所番号",
            Self::Other => "施設コード",
        }
    }

    /// Checks that `code` fits this kind (第3条2).
    pub fn check_code(self, code: &FacilityCode) -> Result<(), FacilityCodeError> {
        let class = code.class();
        if self.accepts(class) {
            Ok(())
        } else {
            Err(FacilityCodeError::KindMismatch { kind: self, class })
        }
    }
}

coded_enum! {
    /// A facility's participation in the network.
    pub enum FacilityStatus: "施設の状態" {
        /// Participating: may apply for cards (第2条1).
        Active = "active" => "参加中",
        /// Suspended by the association (e.g. 第12条(5) unpaid fees): no new applications.
        Suspended = "suspended" => "利用停止中",
        /// Left the network.
        Withdrawn = "withdrawn" => "退会",
    }
}

impl FacilityStatus {
    /// Whether the facility may file applications (第2条1・2).
    pub fn can_apply(self) -> bool {
        self == Self::Active
    }
}

coded_enum! {
    /// The versioned documents a facility consents to (第1条5–7, 第2条2).
    pub enum DocumentKind: "文書の種類" {
        /// The CPS (認証局運用規程, 第1条5).
        Cps = "cps" => "CPS（認証局運用規程）",
        /// These terms of use (利用規約, 第1条4).
        Terms = "terms" => "利用規約",
        /// Use of the personal data submitted with applications (第1条7).
        PrivacyPolicy = "privacy_policy" => "個人情報の取扱い",
    }
}

/// A facility's recorded consent to one version of a document: who consented, when and to
/// which version (第1条6・7, R1).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Consent {
    /// Which document.
    pub kind: DocumentKind,
    /// The document's version, as published (e.g. `2.00`).
    pub version: String,
    /// Who consented on the facility's behalf (desk staff name or account).
    pub by: String,
    /// When.
    #[serde(with = "crate::serde_util::rfc3339")]
    pub at: OffsetDateTime,
}

/// Why a facility's consents do not allow an application (第1条6・7, 第2条2).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConsentError {
    /// No consent to the document at all.
    #[error("{}への同意が確認できません。同意の手続きをお願いします（利用規約第1条・第2条2）", .kind.label_ja())]
    Missing {
        /// Which document.
        kind: DocumentKind,
    },
    /// Consent to an older version only: a new version needs fresh consent (第1条6).
    #[error("{}は第{current}版に改定されています。改定後の版への同意をお願いします（同意済みの版: 第{consented}版）（利用規約第1条6、第2条2）", .kind.label_ja())]
    Outdated {
        /// Which document.
        kind: DocumentKind,
        /// The most recent version the facility consented to.
        consented: String,
        /// The current version.
        current: String,
    },
}

/// A postal code as people read it, everywhere it is shown (CLI, portal, letters):
/// `〒860-0806`. Stored as the seven digits (`8600806`); anything else is shown as it
/// is after the mark.
pub fn postal_code_ja(stored: &str) -> String {
    let s = stored.trim();
    if s.len() == 7 && s.bytes().all(|b| b.is_ascii_digit()) {
        format!("〒{}-{}", &s[..3], &s[3..])
    } else {
        format!("〒{s}")
    }
}

/// A telephone number as typed, kept with its hyphens (`096-000-0000`: where the area
/// code ends cannot be told from the digits alone), in half-width characters: full-width
/// digits and hyphen-like marks (－ ー ‐ −) are made ASCII, brackets (`096(000)0000`)
/// become hyphens, spaces go. 10 or 11 digits, starting with 0.
pub fn normalize_phone(input: &str) -> Result<String, &'static str> {
    let mut out = String::new();
    for c in input.trim().chars() {
        let c = match c {
            '０'..='９' => char::from_u32(c as u32 - '０' as u32 + '0' as u32).unwrap_or(c),
            '－' | 'ー' | '‐' | '−' | '–' | '—' | '―' | '(' | ')' | '（' | '）' => {
                '-'
            }
            ' ' | '\u{3000}' => continue,
            c => c,
        };
        match c {
            '0'..='9' => out.push(c),
            '-' if !out.is_empty() && !out.ends_with('-') => out.push('-'),
            '-' => {}
            _ => return Err("電話番号は数字とハイフンで入力してください（例: 096-000-0000）"),
        }
    }
    let out = out.trim_end_matches('-').to_string();
    let digits = out.bytes().filter(u8::is_ascii_digit).count();
    if !(10..=11).contains(&digits) || !out.starts_with('0') {
        return Err("電話番号は0から始まる10桁または11桁で入力してください（例: 096-000-0000）");
    }
    Ok(out)
}

/// Every consent problem of a facility, in the order CPS, terms, personal data: the CPS
/// and the terms must be consented to in their current versions (第2条2; a new version
/// needs fresh consent, 第1条6), and consent to the use of personal data must exist in
/// some version (第1条7; that document's versions are not tracked here).
pub fn consent_problems(
    consents: &[Consent],
    current_cps: &str,
    current_terms: &str,
) -> Vec<ConsentError> {
    let mut problems = Vec::new();
    for (kind, current) in [
        (DocumentKind::Cps, current_cps.trim()),
        (DocumentKind::Terms, current_terms.trim()),
    ] {
        let of_kind = consents.iter().filter(|c| c.kind == kind);
        if of_kind.clone().any(|c| c.version.trim() == current) {
            continue;
        }
        match of_kind.max_by_key(|c| c.at) {
            None => problems.push(ConsentError::Missing { kind }),
            Some(latest) => problems.push(ConsentError::Outdated {
                kind,
                consented: latest.version.trim().to_string(),
                current: current.to_string(),
            }),
        }
    }
    if !consents
        .iter()
        .any(|c| c.kind == DocumentKind::PrivacyPolicy)
    {
        problems.push(ConsentError::Missing {
            kind: DocumentKind::PrivacyPolicy,
        });
    }
    problems
}

/// Whether a facility may apply as far as consent goes (第2条2, 第1条6・7): `Ok` when it
/// consented to the current CPS and terms and to the use of personal data; otherwise the
/// first problem (see [`consent_problems`] for all of them).
pub fn consent_is_current(
    consents: &[Consent],
    current_cps: &str,
    current_terms: &str,
) -> Result<(), ConsentError> {
    match consent_problems(consents, current_cps, current_terms)
        .into_iter()
        .next()
    {
        None => Ok(()),
        Some(p) => Err(p),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn issue12_postal_codes_and_phones_one_format() {
        assert_eq!(postal_code_ja("8600806"), "〒860-0806");
        assert_eq!(postal_code_ja("860-0806"), "〒860-0806");
        assert_eq!(normalize_phone("096-000-0000").unwrap(), "096-000-0000");
        assert_eq!(
            normalize_phone("０９６－０００－００００").unwrap(),
            "096-000-0000"
        );
        assert_eq!(normalize_phone("096(000)0000").unwrap(), "096-000-0000");
        assert_eq!(normalize_phone(" 0960000000 ").unwrap(), "0960000000");
        assert_eq!(normalize_phone("090 1234 5678").unwrap(), "09012345678");
        assert!(normalize_phone("096-000-000").is_err());
        assert!(normalize_phone("96-000-00000").is_err());
        assert!(normalize_phone("096-000-0000 内線12").is_err());
    }

    use super::*;
    use time::macros::datetime;

    /// A synthetic Kumamoto 医科 code with a correct check digit (not a real facility).
    const KUMAMOTO_MEDICAL: &str = "4310112349";

    #[test]
    fn art3_2_check_digit_matches_mhlw_worked_example_and_real_codes() {
        // MHLW 別添２ 第４-５ worked example.
        assert_eq!(medical_code_check_digit(&[3, 4, 1, 0, 7, 1, 2, 3, 6]), 2);
        assert!(FacilityCode::parse("3410712362").is_ok());
        // 徳島大学病院 (36 / 1 / 80-1001-5), a real published code.
        assert!(FacilityCode::parse("3618010015").is_ok());
        // The Wikipedia example.
        assert!(FacilityCode::parse("0110113719").is_ok());
        assert!(FacilityCode::parse(KUMAMOTO_MEDICAL).is_ok());
    }

    #[test]
    fn art3_2_wrong_check_digit_is_refused_in_japanese() {
        let err = FacilityCode::parse("3618010019").unwrap_err();
        assert_eq!(
            err,
            FacilityCodeError::CheckDigit {
                expected: 5,
                found: 9
            }
        );
        assert!(err.to_string().contains("検証番号"), "{err}");
        // The six-digit rule gives 9 for 徳島大学病院, which is printed with 5.
        assert!(FacilityCode::parse("4310112340").is_err());
    }

    #[test]
    fn art3_2_legacy_check_digit_accepted_only_in_saitama_chiba_tokyo_kanagawa() {
        // 13-1-01-1234: the nine-digit rule gives 5, the six-digit rule (011234) gives 2.
        assert_eq!(medical_code_check_digit(&[1, 3, 1, 0, 1, 1, 2, 3, 4]), 5);
        assert!(FacilityCode::parse("1310112345").is_ok());
        assert!(FacilityCode::parse("1310112342").is_ok());
        assert!(FacilityCode::parse("1310112343").is_err());
        // Kumamoto 43-1-01-1234: the six-digit rule's 2 is refused.
        assert!(FacilityCode::parse("4310112342").is_err());
    }

    #[test]
    fn art3_2_full_width_digits_hyphens_and_spaces_are_normalised() {
        let c = FacilityCode::parse("４３－１－０１－１２３４－９").unwrap();
        assert_eq!(c.as_str(), KUMAMOTO_MEDICAL);
        let c = FacilityCode::parse(" 43 1 01 1234 9 ").unwrap();
        assert_eq!(c.as_str(), KUMAMOTO_MEDICAL);
        let c = FacilityCode::parse("43ー1ー011234ー9").unwrap();
        assert_eq!(c.as_str(), KUMAMOTO_MEDICAL);
        assert_eq!(c.to_display_string(), "43-1-01-1234-9");
        assert!(c.is_kumamoto());
        assert_eq!(c.prefecture(), 43);
        assert_eq!(c.class(), FacilityCodeClass::Medical);
    }

    #[test]
    fn art3_2_structure_errors_are_japanese() {
        assert_eq!(FacilityCode::parse("  "), Err(FacilityCodeError::Empty));
        let e = FacilityCode::parse("431011234").unwrap_err();
        assert_eq!(e, FacilityCodeError::WrongLength(9));
        assert_eq!(
            e.to_string(),
            "施設コードは10桁の数字で入力してください（入力された桁数: 9）"
        );
        let e = FacilityCode::parse("43101A2349").unwrap_err();
        assert_eq!(e, FacilityCodeError::InvalidCharacter('A'));
        assert!(e.to_string().contains("10桁の数字"), "{e}");
        let e = FacilityCode::parse("4810112349").unwrap_err();
        assert_eq!(e, FacilityCodeError::Prefecture(48));
        assert!(e.to_string().contains("「48」"), "{e}");
        assert_eq!(
            FacilityCode::parse("0010112349"),
            Err(FacilityCodeError::Prefecture(0))
        );
        let e = FacilityCode::parse("4320112349").unwrap_err();
        assert_eq!(e, FacilityCodeError::Class('2'));
    }

    #[test]
    fn art3_2_care_codes_checked_for_structure_only() {
        // Any last digit: the care check digit is not enforced (unconfirmed on a real code).
        for last in 0..=9 {
            let c = FacilityCode::parse(&format!("437010001{last}")).unwrap();
            assert_eq!(c.scheme(), FacilityCodeScheme::CareProvider);
            assert_eq!(c.class(), FacilityCodeClass::DesignatedCare);
        }
    }

    #[test]
    fn art3_2_kind_needs_matching_code() {
        let medical = FacilityCode::parse(KUMAMOTO_MEDICAL).unwrap();
        let care = FacilityCode::parse("4370100012").unwrap();
        let nursing = FacilityCode::parse("4360100012").unwrap();
        assert!(FacilityKind::Hospital.check_code(&medical).is_ok());
        assert!(FacilityKind::Clinic.check_code(&medical).is_ok());
        assert!(FacilityKind::CareFacility.check_code(&care).is_ok());
        assert!(FacilityKind::VisitingNursing.check_code(&nursing).is_ok());
        assert!(FacilityKind::VisitingNursing.check_code(&care).is_ok());
        assert!(FacilityKind::Other.check_code(&care).is_ok());
        let e = FacilityKind::Pharmacy.check_code(&medical).unwrap_err();
        assert_eq!(
            e.to_string(),
            "施設種別「薬局」には薬局コード（3桁目が4：調剤）が必要です（入力された施設コードは「医科」のコードです）"
        );
        assert!(FacilityKind::DentalClinic.check_code(&medical).is_err());
        assert!(FacilityKind::CareFacility.check_code(&medical).is_err());
        assert!(FacilityKind::Hospital.check_code(&care).is_err());
        // Every class is accepted by some kind other than Other.
        for class in FacilityCodeClass::ALL {
            assert!(
                FacilityKind::ALL
                    .iter()
                    .any(|k| *k != FacilityKind::Other && k.accepts(*class)),
                "{class}"
            );
            assert_eq!(FacilityCodeClass::from_digit(class.digit()), Some(*class));
        }
    }

    #[test]
    fn facility_code_serde_validates() {
        use serde::de::IntoDeserializer;
        use serde::de::value::{Error, StringDeserializer};
        let d: StringDeserializer<Error> = "43-1-01-1234-9".to_string().into_deserializer();
        assert_eq!(
            FacilityCode::deserialize(d).unwrap().as_str(),
            KUMAMOTO_MEDICAL
        );
        let d: StringDeserializer<Error> = "4310112340".to_string().into_deserializer();
        assert!(FacilityCode::deserialize(d).is_err());
    }

    #[test]
    fn labels_are_japanese() {
        let labels: Vec<_> = FacilityKind::ALL.iter().map(|k| k.label_ja()).collect();
        assert_eq!(
            labels,
            [
                "病院",
                "診療所",
                "歯科診療所",
                "薬局",
                "介護施設",
                "訪問看護ステーション",
                "その他"
            ]
        );
        assert_eq!("dental_clinic".parse(), Ok(FacilityKind::DentalClinic));
        assert!(FacilityStatus::Active.can_apply());
        assert!(!FacilityStatus::Suspended.can_apply());
        assert!(!FacilityStatus::Withdrawn.can_apply());
    }

    fn consent(kind: DocumentKind, version: &str, at: OffsetDateTime) -> Consent {
        Consent {
            kind,
            version: version.into(),
            by: "窓口 太郎".into(),
            at,
        }
    }

    #[test]
    fn art2_2_consent_to_current_cps_and_terms_allows_application() {
        let t = datetime!(2026-04-01 00:00 UTC);
        let consents = [
            consent(DocumentKind::Cps, "1.10", t),
            consent(DocumentKind::Terms, "2.00", t),
            consent(DocumentKind::PrivacyPolicy, "1.0", t),
        ];
        assert_eq!(consent_is_current(&consents, "1.10", "2.00"), Ok(()));
    }

    #[test]
    fn art2_2_no_consent_means_no_application() {
        let e = consent_is_current(&[], "1.10", "2.00").unwrap_err();
        assert_eq!(
            e,
            ConsentError::Missing {
                kind: DocumentKind::Cps
            }
        );
        assert!(e.to_string().contains("CPS"), "{e}");
        assert_eq!(consent_problems(&[], "1.10", "2.00").len(), 3);
    }

    #[test]
    fn art1_6_new_version_requires_fresh_consent() {
        let consents = [
            consent(DocumentKind::Cps, "1.10", datetime!(2026-04-01 00:00 UTC)),
            consent(DocumentKind::Terms, "1.00", datetime!(2016-02-25 00:00 UTC)),
            consent(DocumentKind::Terms, "1.50", datetime!(2019-02-25 00:00 UTC)),
            consent(
                DocumentKind::PrivacyPolicy,
                "1.0",
                datetime!(2016-02-25 00:00 UTC),
            ),
        ];
        let e = consent_is_current(&consents, "1.10", "2.00").unwrap_err();
        assert_eq!(
            e,
            ConsentError::Outdated {
                kind: DocumentKind::Terms,
                consented: "1.50".into(),
                current: "2.00".into()
            }
        );
        assert_eq!(
            e.to_string(),
            "利用規約は第2.00版に改定されています。改定後の版への同意をお願いします（同意済みの版: 第1.50版）（利用規約第1条6、第2条2）"
        );
    }

    #[test]
    fn art1_7_personal_data_consent_is_required() {
        let t = datetime!(2026-04-01 00:00 UTC);
        let consents = [
            consent(DocumentKind::Cps, "1.10", t),
            consent(DocumentKind::Terms, "2.00", t),
        ];
        let e = consent_is_current(&consents, "1.10", "2.00").unwrap_err();
        assert_eq!(
            e,
            ConsentError::Missing {
                kind: DocumentKind::PrivacyPolicy
            }
        );
        assert!(e.to_string().contains("個人情報の取扱い"), "{e}");
    }
}

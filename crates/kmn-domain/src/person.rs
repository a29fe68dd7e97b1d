//! A holder's (利用者) personal data as an application carries it (第3条2: accurate
//! holder data — names in kanji and kana, profession, contact), the network's own holder
//! id, and the profession table.
//!
//! Each newtype is parsed once at the edge; the error names the field in Japanese so the
//! portal can show it as is.

use std::fmt;

use serde::{Deserialize, Serialize};
use time::Date;
use unicode_normalization::UnicodeNormalization;

use crate::enum_codes::{Shown, UnknownCode, is_format_char};

/// Field names used in error messages.
pub mod field {
    /// 氏名（漢字）.
    pub const KANJI_NAME: &str = "氏名（漢字）";
    /// 氏名（カナ）.
    pub const KANA_NAME: &str = "氏名（カナ）";
    /// 氏名（ローマ字）.
    pub const ROMAJI_NAME: &str = "氏名（ローマ字）";
    /// 勤務先メールアドレス.
    pub const WORK_EMAIL: &str = "勤務先メールアドレス";
    /// 生年月日.
    pub const DATE_OF_BIRTH: &str = "生年月日";
    /// 利用者ID.
    pub const HOLDER_ID: &str = "利用者ID";
    /// 職種.
    pub const PROFESSION: &str = "職種";
}

/// Maximum length of a name, in characters (the certificate's CN and UTF8String
/// attributes are limited to 64, DESIGN §4).
pub const MAX_NAME_CHARS: usize = 64;

/// Maximum length of an e-mail address (RFC 5321 path limit).
pub const MAX_EMAIL_LEN: usize = 254;

/// Oldest accepted age in years.
pub const MAX_AGE_YEARS: i32 = 120;

/// Why a piece of personal data was refused. Messages are Japanese and name the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PersonDataError {
    /// Nothing was entered.
    #[error("{field}を入力してください")]
    Empty {
        /// The field, in Japanese.
        field: &'static str,
    },
    /// Too long.
    #[error("{field}は{max}文字以内で入力してください（{len}文字入力されています）")]
    TooLong {
        /// The field, in Japanese.
        field: &'static str,
        /// The limit.
        max: usize,
        /// What was entered.
        len: usize,
    },
    /// A character the field does not allow.
    #[error("{field}に使用できない文字（{}）が含まれています。{hint}", Shown(*.ch))]
    InvalidChar {
        /// The field, in Japanese.
        field: &'static str,
        /// The character.
        ch: char,
        /// What to enter instead.
        hint: &'static str,
    },
    /// Hiragana in the kana name.
    #[error("{field}はカタカナで入力してください（ひらがなは使用できません）")]
    Hiragana {
        /// The field, in Japanese.
        field: &'static str,
    },
    /// The overall shape is wrong.
    #[error("{field}の形式が正しくありません。{hint}")]
    Format {
        /// The field, in Japanese.
        field: &'static str,
        /// What to enter.
        hint: &'static str,
    },
    /// A calendar date that does not exist (e.g. 2月30日).
    #[error("{field}の日付（{input}）は存在しません")]
    NoSuchDate {
        /// The field, in Japanese.
        field: &'static str,
        /// What was entered.
        input: String,
    },
    /// A date of birth in the future.
    #[error("{field}が未来の日付になっています。入力内容をご確認ください")]
    FutureDate {
        /// The field, in Japanese.
        field: &'static str,
    },
    /// A date of birth more than 120 years ago.
    #[error("{field}から計算した年齢が{max}歳を超えています。入力内容をご確認ください")]
    TooOld {
        /// The field, in Japanese.
        field: &'static str,
        /// The limit in years.
        max: i32,
    },
    /// The holder-id sequence is outside 1–99,999,999.
    #[error("利用者IDの連番 {0} は範囲外です（1〜99999999）")]
    SequenceOutOfRange(u64),
}

/// Checks length and emptiness (in characters).
fn check_len(field: &'static str, s: &str, max: usize) -> Result<(), PersonDataError> {
    let len = s.chars().count();
    if len == 0 {
        return Err(PersonDataError::Empty { field });
    }
    if len > max {
        return Err(PersonDataError::TooLong { field, max, len });
    }
    Ok(())
}

/// Splits on ASCII and ideographic spaces and joins the words with one full-width space.
fn join_words_fullwidth<'a>(words: impl Iterator<Item = &'a str>) -> String {
    words
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join("\u{3000}")
}

/// Implements the common traits of a validated string newtype: `as_str`, `Display`,
/// `Debug`, `FromStr`, `TryFrom<String>`, `From<T> for String` (serde goes through them).
macro_rules! string_newtype {
    ($name:ident) => {
        impl $name {
            /// The normalised text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({:?})", stringify!($name), self.0)
            }
        }

        impl std::str::FromStr for $name {
            type Err = PersonDataError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::parse(s)
            }
        }

        impl TryFrom<String> for $name {
            type Error = PersonDataError;
            fn try_from(s: String) -> Result<Self, Self::Error> {
                Self::parse(&s)
            }
        }

        impl From<$name> for String {
            fn from(v: $name) -> Self {
                v.0
            }
        }
    };
}

/// The holder's name in kanji (第3条2), as shown to people and put, NFC-normalised, in
/// the certificate's SAN directoryName (DESIGN §4) — never used for authorisation.
///
/// NFC-normalised; surrounding spaces trimmed; runs of ASCII or full-width spaces inside
/// become one full-width space; 1–64 characters; no control or invisible format
/// characters, no private-use characters (外字: other systems cannot show them).
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct KanjiName(String);

impl KanjiName {
    /// Parses a kanji name (第3条2).
    pub fn parse(input: &str) -> Result<Self, PersonDataError> {
        const F: &str = field::KANJI_NAME;
        let nfc: String = input.nfc().collect();
        for ch in nfc.chars() {
            if ch.is_control() || is_format_char(ch) {
                return Err(PersonDataError::InvalidChar {
                    field: F,
                    ch,
                    hint: "制御文字や見えない文字は使用できません",
                });
            }
            // Markup characters are never part of a name and would be live in any page
            // or mail that forgot to escape it.
            if matches!(ch, '<' | '>' | '&') {
                return Err(PersonDataError::InvalidChar {
                    field: F,
                    ch,
                    hint: "記号 < > & は氏名に使用できません",
                });
            }
            if ('\u{E000}'..='\u{F8FF}').contains(&ch) || ('\u{F0000}'..='\u{10FFFF}').contains(&ch)
            {
                return Err(PersonDataError::InvalidChar {
                    field: F,
                    ch,
                    hint: "外字（私用領域の文字）は使用できません。通常の漢字に置き換えてください",
                });
            }
        }
        let name = join_words_fullwidth(nfc.split([' ', '\u{3000}']));
        check_len(F, &name, MAX_NAME_CHARS)?;
        Ok(Self(name))
    }
}

string_newtype!(KanjiName);

/// The holder's name in katakana (第3条2).
///
/// Full-width katakana only, with ー and ・; half-width katakana (ｶﾞ) is converted to
/// full-width (ガ); full-width or half-width spaces become one full-width space between
/// words (family name, given name); hiragana is refused with a message that asks for
/// カタカナ; 1–64 characters.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct KanaName(String);

impl KanaName {
    /// Parses a kana name (第3条2).
    pub fn parse(input: &str) -> Result<Self, PersonDataError> {
        const F: &str = field::KANA_NAME;
        // NFKC turns half-width katakana into full-width (composing ﾞ and ﾟ), ･ into ・,
        // ｰ into ー and the ideographic space into a space.
        let nfkc: String = input.nfkc().collect();
        let mut has_katakana = false;
        for ch in nfkc.chars() {
            match ch {
                '\u{30A1}'..='\u{30FA}' => has_katakana = true,
                'ー' | '・' | ' ' => {}
                '\u{3041}'..='\u{3096}' | 'ゝ' | 'ゞ' => {
                    return Err(PersonDataError::Hiragana { field: F });
                }
                _ => {
                    return Err(PersonDataError::InvalidChar {
                        field: F,
                        ch,
                        hint: "全角カタカナで入力してください",
                    });
                }
            }
        }
        let name = join_words_fullwidth(nfkc.split(' '));
        check_len(F, &name, MAX_NAME_CHARS)?;
        if !has_katakana {
            return Err(PersonDataError::Format {
                field: F,
                hint: "全角カタカナで入力してください",
            });
        }
        Ok(Self(name))
    }
}

string_newtype!(KanaName);

/// The holder's name in Latin letters, as the holder writes it (第3条2), for the
/// certificate's CN (DESIGN §4). Entered, never generated from kana: only the holder knows
/// whether they are "Ohno", "Ono" or "Oono".
///
/// ASCII letters, space, hyphen, apostrophe and period; 1–64 characters; stored as
/// entered but trimmed. Full-width Latin letters and spaces (Ｙａｍａｄａ) are read as
/// their ASCII forms — the same letters, typed in the other width.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct RomajiName(String);

impl RomajiName {
    /// Parses a romaji name (第3条2).
    pub fn parse(input: &str) -> Result<Self, PersonDataError> {
        const F: &str = field::ROMAJI_NAME;
        let ascii: String = input
            .chars()
            .map(|c| match c {
                '\u{FF01}'..='\u{FF5E}' => {
                    char::from_u32(u32::from(c) - 0xFF01 + 0x21).expect("ASCII")
                }
                '\u{3000}' => ' ',
                c => c,
            })
            .collect();
        let name = ascii.trim_matches(' ');
        for ch in name.chars() {
            if !(ch.is_ascii_alphabetic() || matches!(ch, ' ' | '-' | '\'' | '.')) {
                return Err(PersonDataError::InvalidChar {
                    field: F,
                    ch,
                    hint: "半角英字（スペース、ハイフン、アポストロフィ、ピリオドを含む）で入力してください",
                });
            }
        }
        check_len(F, name, MAX_NAME_CHARS)?;
        if !name.chars().any(|c| c.is_ascii_alphabetic()) {
            return Err(PersonDataError::Format {
                field: F,
                hint: "半角英字で入力してください（例: YAMADA Taro）",
            });
        }
        Ok(Self(name.to_string()))
    }
}

string_newtype!(RomajiName);

/// The holder's work e-mail address (第3条2 contact; 第24条 notices).
///
/// A pragmatic check, not RFC 5322: exactly one `@`, a non-empty local part of at most 64
/// characters, a domain with a dot, letters, digits and hyphens in dot-separated labels,
/// no spaces, printable ASCII only, at most 254 characters. The domain is lower-cased; the
/// local part is kept as entered.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct WorkEmail(String);

impl WorkEmail {
    /// Parses a work e-mail address.
    pub fn parse(input: &str) -> Result<Self, PersonDataError> {
        const F: &str = field::WORK_EMAIL;
        let s = input.trim();
        if s.is_empty() {
            return Err(PersonDataError::Empty { field: F });
        }
        if let Some(ch) = s.chars().find(|c| !c.is_ascii_graphic()) {
            return Err(PersonDataError::InvalidChar {
                field: F,
                ch,
                hint: "半角英数字と記号で、空白を含めずに入力してください",
            });
        }
        if s.len() > MAX_EMAIL_LEN {
            return Err(PersonDataError::TooLong {
                field: F,
                max: MAX_EMAIL_LEN,
                len: s.len(),
            });
        }
        let mut parts = s.split('@');
        let (Some(local), Some(domain), None) = (parts.next(), parts.next(), parts.next()) else {
            return Err(PersonDataError::Format {
                field: F,
                hint: "「@」を1つだけ含むメールアドレスを入力してください",
            });
        };
        if local.is_empty() || local.len() > 64 {
            return Err(PersonDataError::Format {
                field: F,
                hint: "「@」の前の部分（1〜64文字）を確認してください",
            });
        }
        let domain_ok = domain.contains('.')
            && domain.split('.').all(|label| {
                !label.is_empty()
                    && label.len() <= 63
                    && !label.starts_with('-')
                    && !label.ends_with('-')
                    && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            });
        if !domain_ok {
            return Err(PersonDataError::Format {
                field: F,
                hint: "「@」の後ろのドメイン（例: example.jp）を確認してください",
            });
        }
        Ok(Self(format!("{local}@{}", domain.to_ascii_lowercase())))
    }
}

string_newtype!(WorkEmail);

/// The holder's date of birth (第3条2: accurate holder data).
///
/// Parsed with [`DateOfBirth::parse`], which takes today's date: a date in the future or
/// an age over 120 is refused. Serialised as `YYYY-MM-DD`; deserialisation checks only the
/// format (it reads values that were checked when they were entered), so API input must go
/// through `parse`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DateOfBirth(Date);

impl DateOfBirth {
    /// Parses a western-calendar date: `1985-04-01`, `1985/4/1`, `1985.4.1`,
    /// `1985年4月1日` or `19850401`, in half- or full-width digits. `today` is the date the
    /// entry is checked on (in JST).
    pub fn parse(input: &str, today: Date) -> Result<Self, PersonDataError> {
        const F: &str = field::DATE_OF_BIRTH;
        const HINT: &str = "西暦の年月日で入力してください（例: 1985-04-01）";
        let s: String = input.trim().nfkc().collect();
        if s.is_empty() {
            return Err(PersonDataError::Empty { field: F });
        }
        let parts: Vec<&str> = if s.len() == 8 && s.bytes().all(|b| b.is_ascii_digit()) {
            vec![&s[0..4], &s[4..6], &s[6..8]]
        } else {
            s.trim_end_matches('日')
                .split(['-', '/', '.', '年', '月'])
                .collect()
        };
        let numbers: Option<Vec<u32>> = match parts.as_slice() {
            [y, m, d]
                if y.len() == 4
                    && (1..=2).contains(&m.len())
                    && (1..=2).contains(&d.len())
                    && parts.iter().all(|p| p.bytes().all(|b| b.is_ascii_digit())) =>
            {
                parts.iter().map(|p| p.parse().ok()).collect()
            }
            _ => None,
        };
        let Some([y, m, d]) = numbers.as_deref().map(|n| [n[0], n[1], n[2]]) else {
            return Err(PersonDataError::Format {
                field: F,
                hint: HINT,
            });
        };
        let date = u8::try_from(m)
            .ok()
            .and_then(|m| time::Month::try_from(m).ok())
            .and_then(|month| Date::from_calendar_date(y as i32, month, u8::try_from(d).ok()?).ok())
            .ok_or_else(|| PersonDataError::NoSuchDate {
                field: F,
                input: input.trim().to_string(),
            })?;
        Self::from_date(date, today)
    }

    /// Checks an already-typed date against `today`: not in the future, age at most 120.
    pub fn from_date(date: Date, today: Date) -> Result<Self, PersonDataError> {
        const F: &str = field::DATE_OF_BIRTH;
        if date > today {
            return Err(PersonDataError::FutureDate { field: F });
        }
        let dob = Self(date);
        if dob.age_on(today) > MAX_AGE_YEARS {
            return Err(PersonDataError::TooOld {
                field: F,
                max: MAX_AGE_YEARS,
            });
        }
        Ok(dob)
    }

    /// The date.
    pub fn date(self) -> Date {
        self.0
    }

    /// Age in whole years on `today` (the birthday counts from the day itself; a 29
    /// February birthday counts from 1 March in common years).
    pub fn age_on(self, today: Date) -> i32 {
        let b = self.0;
        let mut age = today.year() - b.year();
        if (u8::from(today.month()), today.day()) < (u8::from(b.month()), b.day()) {
            age -= 1;
        }
        age
    }
}

impl fmt::Display for DateOfBirth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&crate::serde_util::iso_date::format(self.0))
    }
}

impl Serialize for DateOfBirth {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        crate::serde_util::iso_date::serialize(&self.0, s)
    }
}

impl<'de> Deserialize<'de> for DateOfBirth {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        crate::serde_util::iso_date::deserialize(d).map(Self)
    }
}

impl fmt::Debug for DateOfBirth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DateOfBirth({self})")
    }
}

/// The network's own holder id: `H` followed by 8 digits (`H00000123`). It is the
/// certificate subject's serialNumber (a PrintableString, DESIGN §4). Never the My Number
/// (個人番号, 12 digits), which this system must not collect.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct HolderId(String);

impl HolderId {
    /// Largest sequence number.
    pub const MAX_SEQUENCE: u64 = 99_999_999;

    /// The id for a database sequence value (1–99,999,999).
    pub fn from_sequence(n: u64) -> Result<Self, PersonDataError> {
        if n == 0 || n > Self::MAX_SEQUENCE {
            return Err(PersonDataError::SequenceOutOfRange(n));
        }
        Ok(Self(format!("H{n:08}")))
    }

    /// Parses `H` + 8 digits (a lower-case `h` is accepted and upper-cased).
    pub fn parse(input: &str) -> Result<Self, PersonDataError> {
        let s = input.trim();
        let digits = s.strip_prefix(['H', 'h']).unwrap_or("");
        if digits.len() != 8 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(PersonDataError::Format {
                field: field::HOLDER_ID,
                hint: "「H」に続く8桁の数字で入力してください（例: H00000123）",
            });
        }
        Ok(Self(format!("H{digits}")))
    }

    /// The sequence number.
    pub fn sequence(&self) -> u64 {
        self.0[1..].parse().expect("eight digits")
    }
}

string_newtype!(HolderId);

/// One row of the profession table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProfessionEntry {
    /// The profession.
    pub profession: Profession,
    /// Stable code (database, API).
    pub code: &'static str,
    /// Japanese label.
    pub label_ja: &'static str,
    /// The hcRole string an HPKI certificate uses for this national qualification, where
    /// confirmed against the MHLW HPKI certificate policy; `None` where not confirmed
    /// (and for professions that are not HPKI qualifications). See [`PROFESSIONS`].
    pub hpki_role: Option<&'static str>,
    /// Whether the profession is one of the 27 national qualifications HPKI certifies
    /// (医師, 歯科医師, 薬剤師, 臨床検査技師, 診療放射線技師, 看護師, 保健師, 助産師,
    /// 理学療法士, 作業療法士, 視能訓練士, 言語聴覚士, 歯科技工士, 管理栄養士, 社会福祉士,
    /// 介護福祉士, 救急救命士, 精神保健福祉士, 臨床工学技士, あん摩マッサージ指圧師, はり師,
    /// きゅう師, 歯科衛生士, 義肢装具士, 柔道整復師, 衛生検査技師, 公認心理師).
    pub hpki_qualification: bool,
    /// Whether the application must carry a licence or registration document
    /// (免許証・登録証の写し) for this profession.
    pub requires_licence: bool,
}

/// A holder's profession (職種, 第3条2). Doctors cannot apply (第4条1): see
/// [`crate::eligibility`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Profession {
    /// 医師.
    Doctor,
    /// 歯科医師.
    Dentist,
    /// 薬剤師.
    Pharmacist,
    /// 看護師.
    Nurse,
    /// 准看護師 (a prefectural licence; not an HPKI qualification).
    AssistantNurse,
    /// 保健師.
    PublicHealthNurse,
    /// 助産師.
    Midwife,
    /// 診療放射線技師.
    RadiologicalTechnologist,
    /// 臨床検査技師.
    ClinicalLaboratoryTechnician,
    /// 理学療法士.
    PhysicalTherapist,
    /// 作業療法士.
    OccupationalTherapist,
    /// 言語聴覚士.
    SpeechTherapist,
    /// 視能訓練士.
    Orthoptist,
    /// 臨床工学技士.
    ClinicalEngineer,
    /// 歯科衛生士.
    DentalHygienist,
    /// 管理栄養士.
    RegisteredDietitian,
    /// 介護福祉士.
    CertifiedCareWorker,
    /// 社会福祉士.
    CertifiedSocialWorker,
    /// 精神保健福祉士.
    PsychiatricSocialWorker,
    /// 介護支援専門員 (ケアマネジャー; a prefectural registration, not an HPKI
    /// qualification).
    CareManager,
    /// 医療事務 (no licence).
    MedicalClerk,
    /// その他.
    Other,
}

/// The profession table.
///
/// `hpki_role` is `None` everywhere: the English hcRole strings of the MHLW 「保健医療福祉
/// 分野PKI認証局 証明書ポリシ」 (its table of 英語表記 in §7.1.2) could not be retrieved
/// and checked, and a wrong string in a certificate would be worse than none (DESIGN §4
/// puts hcRole in the certificate only for a checked qualification). Fill them in from
/// the policy text. `hpki_qualification` follows the list of 27 national qualifications
/// HPKI certifies, which was confirmed.
pub const PROFESSIONS: &[ProfessionEntry] = &[
    entry(Profession::Doctor, "doctor", "医師", true, true),
    entry(Profession::Dentist, "dentist", "歯科医師", true, true),
    entry(Profession::Pharmacist, "pharmacist", "薬剤師", true, true),
    entry(Profession::Nurse, "nurse", "看護師", true, true),
    entry(
        Profession::AssistantNurse,
        "assistant_nurse",
        "准看護師",
        false,
        true,
    ),
    entry(
        Profession::PublicHealthNurse,
        "public_health_nurse",
        "保健師",
        true,
        true,
    ),
    entry(Profession::Midwife, "midwife", "助産師", true, true),
    entry(
        Profession::RadiologicalTechnologist,
        "radiological_technologist",
        "診療放射線技師",
        true,
        true,
    ),
    entry(
        Profession::ClinicalLaboratoryTechnician,
        "clinical_laboratory_technician",
        "臨床検査技師",
        true,
        true,
    ),
    entry(
        Profession::PhysicalTherapist,
        "physical_therapist",
        "理学療法士",
        true,
        true,
    ),
    entry(
        Profession::OccupationalTherapist,
        "occupational_therapist",
        "作業療法士",
        true,
        true,
    ),
    entry(
        Profession::SpeechTherapist,
        "speech_therapist",
        "言語聴覚士",
        true,
        true,
    ),
    entry(
        Profession::Orthoptist,
        "orthoptist",
        "視能訓練士",
        true,
        true,
    ),
    entry(
        Profession::ClinicalEngineer,
        "clinical_engineer",
        "臨床工学技士",
        true,
        true,
    ),
    entry(
        Profession::DentalHygienist,
        "dental_hygienist",
        "歯科衛生士",
        true,
        true,
    ),
    entry(
        Profession::RegisteredDietitian,
        "registered_dietitian",
        "管理栄養士",
        true,
        true,
    ),
    entry(
        Profession::CertifiedCareWorker,
        "certified_care_worker",
        "介護福祉士",
        true,
        true,
    ),
    entry(
        Profession::CertifiedSocialWorker,
        "certified_social_worker",
        "社会福祉士",
        true,
        true,
    ),
    entry(
        Profession::PsychiatricSocialWorker,
        "psychiatric_social_worker",
        "精神保健福祉士",
        true,
        true,
    ),
    entry(
        Profession::CareManager,
        "care_manager",
        "介護支援専門員",
        false,
        true,
    ),
    entry(
        Profession::MedicalClerk,
        "medical_clerk",
        "医療事務",
        false,
        false,
    ),
    entry(Profession::Other, "other", "その他", false, false),
];

const fn entry(
    profession: Profession,
    code: &'static str,
    label_ja: &'static str,
    hpki_qualification: bool,
    requires_licence: bool,
) -> ProfessionEntry {
    ProfessionEntry {
        profession,
        code,
        label_ja,
        hpki_role: None,
        hpki_qualification,
        requires_licence,
    }
}

impl Profession {
    /// This profession's row of [`PROFESSIONS`].
    pub fn entry(self) -> &'static ProfessionEntry {
        PROFESSIONS
            .iter()
            .find(|e| e.profession == self)
            .expect("every profession has a row")
    }

    /// Looks a profession up by its stable code.
    pub fn from_code(code: &str) -> Result<Self, UnknownCode> {
        let code = code.trim();
        PROFESSIONS
            .iter()
            .find(|e| e.code == code)
            .map(|e| e.profession)
            .ok_or_else(|| {
                UnknownCode::new(field::PROFESSION, code, PROFESSIONS.iter().map(|e| e.code))
            })
    }

    /// Stable code.
    pub fn as_str(self) -> &'static str {
        self.entry().code
    }

    /// Japanese label.
    pub fn label_ja(self) -> &'static str {
        self.entry().label_ja
    }

    /// The confirmed HPKI hcRole string, if any.
    pub fn hpki_role(self) -> Option<&'static str> {
        self.entry().hpki_role
    }

    /// Whether a licence document is required.
    pub fn requires_licence(self) -> bool {
        self.entry().requires_licence
    }

    /// Whether this is 医師, who use the 医師資格証 instead of this card (第4条1).
    pub fn is_doctor(self) -> bool {
        self == Self::Doctor
    }
}

impl std::str::FromStr for Profession {
    type Err = UnknownCode;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::from_code(s)
    }
}

impl fmt::Display for Profession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Profession {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Profession {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let code = String::deserialize(d)?;
        Self::from_code(&code).map_err(serde::de::Error::custom)
    }
}

/// Whether `given` names the same person as a registered kanji or kana name, ignoring
/// spaces (half- or full-width) and Unicode normalisation: the handover check of 第8条,
/// where a desk writes the name of the person it handed the card to.
pub fn same_person_name(given: &str, registered: &[&str]) -> bool {
    fn key(s: &str) -> String {
        s.nfkc()
            .filter(|c| !c.is_whitespace() && *c != '\u{3000}')
            .collect()
    }
    let g = key(given);
    !g.is_empty() && registered.iter().any(|r| key(r) == g)
}

#[cfg(test)]
mod tests {
    #[test]
    fn issue8_markup_characters_are_refused_in_names() {
        for bad in ["<script>alert(1)</script>", "熊本 & 太郎", "山田>太郎"] {
            let e = KanjiName::parse(bad).unwrap_err();
            assert!(
                matches!(e, PersonDataError::InvalidChar { ch, .. } if "<>&".contains(ch)),
                "{bad}: {e:?}"
            );
            assert!(e.to_string().contains("使用できません"), "{e}");
            assert!(RomajiName::parse(bad).is_err(), "{bad}");
            assert!(KanaName::parse(bad).is_err(), "{bad}");
        }
        // Full-width forms in romaji become ASCII and are refused too.
        assert!(RomajiName::parse("Taro ＜b＞").is_err());
        assert!(KanjiName::parse("山田 太郎").is_ok());
    }

    #[test]
    fn art8_handover_name_matches_ignoring_spaces_and_width() {
        assert!(same_person_name(
            "熊本 花子",
            &["熊本\u{3000}花子", "クマモト　ハナコ"]
        ));
        assert!(same_person_name(
            "ｸﾏﾓﾄ ﾊﾅｺ",
            &["熊本\u{3000}花子", "クマモト　ハナコ"]
        ));
        assert!(!same_person_name(
            "熊本 太郎",
            &["熊本\u{3000}花子", "クマモト　ハナコ"]
        ));
        assert!(!same_person_name("  ", &["熊本\u{3000}花子"]));
    }
    use super::*;
    use time::macros::date;

    const TODAY: Date = date!(2026 - 11 - 26);

    #[test]
    fn art3_2_kanji_name_is_nfc_normalised_and_spaced() {
        // が as か + combining dakuten becomes the precomposed character.
        let n = KanjiName::parse(" 山田  太郎\u{3000}").unwrap();
        assert_eq!(n.as_str(), "山田\u{3000}太郎");
        let decomposed = "か\u{3099}";
        assert_eq!(KanjiName::parse(decomposed).unwrap().as_str(), "が");
        // 髙 (a common 異体字) is kept.
        assert_eq!(
            KanjiName::parse("髙橋 一郎").unwrap().as_str(),
            "髙橋\u{3000}一郎"
        );
    }

    #[test]
    fn art3_2_kanji_name_refuses_controls_private_use_and_length() {
        let e = KanjiName::parse("山田\u{200B}太郎").unwrap_err();
        assert!(matches!(
            e,
            PersonDataError::InvalidChar { ch: '\u{200B}', .. }
        ));
        assert!(
            e.to_string()
                .starts_with("氏名（漢字）に使用できない文字（U+200B）"),
            "{e}"
        );
        assert!(KanjiName::parse("山田\n太郎").is_err());
        assert!(
            KanjiName::parse("山田\u{E000}")
                .unwrap_err()
                .to_string()
                .contains("外字")
        );
        assert_eq!(
            KanjiName::parse(" \u{3000} "),
            Err(PersonDataError::Empty {
                field: field::KANJI_NAME
            })
        );
        assert!(KanjiName::parse(&"山".repeat(64)).is_ok());
        let e = KanjiName::parse(&"山".repeat(65)).unwrap_err();
        assert_eq!(
            e.to_string(),
            "氏名（漢字）は64文字以内で入力してください（65文字入力されています）"
        );
    }

    #[test]
    fn art3_2_kana_name_converts_half_width_and_spaces() {
        let n = KanaName::parse("ﾔﾏﾀﾞ ﾀﾛｳ").unwrap();
        assert_eq!(n.as_str(), "ヤマダ\u{3000}タロウ");
        let n = KanaName::parse("  ヤマダ\u{3000}\u{3000}ハナコ ").unwrap();
        assert_eq!(n.as_str(), "ヤマダ\u{3000}ハナコ");
        let n = KanaName::parse("ｽﾐｽ･ｼﾞｮﾝ ｳﾞｨｰ").unwrap();
        assert_eq!(n.as_str(), "スミス・ジョン\u{3000}ヴィー");
        assert_eq!(KanaName::parse("ﾊﾟｰｸ").unwrap().as_str(), "パーク");
    }

    #[test]
    fn art3_2_kana_name_refuses_hiragana_asking_for_katakana() {
        let e = KanaName::parse("やまだ たろう").unwrap_err();
        assert_eq!(
            e.to_string(),
            "氏名（カナ）はカタカナで入力してください（ひらがなは使用できません）"
        );
        let e = KanaName::parse("山田 タロウ").unwrap_err();
        assert!(e.to_string().contains("全角カタカナ"), "{e}");
        assert!(KanaName::parse("ヤマダ-タロウ").is_err());
        assert!(KanaName::parse("ーー").is_err());
        assert!(matches!(
            KanaName::parse(""),
            Err(PersonDataError::Empty { .. })
        ));
    }

    #[test]
    fn art3_2_romaji_name_entered_as_is_but_trimmed() {
        assert_eq!(
            RomajiName::parse("  YAMADA Taro ").unwrap().as_str(),
            "YAMADA Taro"
        );
        assert_eq!(
            RomajiName::parse("O'Brien-Smith Jr.").unwrap().as_str(),
            "O'Brien-Smith Jr."
        );
        assert_eq!(
            RomajiName::parse("Ｏｈｎｏ　Ｋｅｎ").unwrap().as_str(),
            "Ohno Ken"
        );
        let e = RomajiName::parse("Yamada 太郎").unwrap_err();
        assert!(
            e.to_string()
                .starts_with("氏名（ローマ字）に使用できない文字（太）"),
            "{e}"
        );
        assert!(RomajiName::parse("Müller").is_err());
        assert!(RomajiName::parse("--").is_err());
        assert!(RomajiName::parse(&"a".repeat(65)).is_err());
    }

    #[test]
    fn art3_2_work_email_pragmatic_check() {
        assert_eq!(
            WorkEmail::parse(" Taro.Yamada+kmn@Example.Hospital.JP ")
                .unwrap()
                .as_str(),
            "Taro.Yamada+kmn@example.hospital.jp"
        );
        for bad in [
            "taro",
            "taro@@example.jp",
            "taro@example",
            "taro@.example.jp",
            "taro@example..jp",
            "taro@-example.jp",
            "@example.jp",
            "ta ro@example.jp",
            "たろう@example.jp",
        ] {
            let e = WorkEmail::parse(bad).unwrap_err();
            assert!(e.to_string().contains("勤務先メールアドレス"), "{bad}: {e}");
        }
        let long = format!("{}@example.jp", "a".repeat(250));
        assert!(matches!(
            WorkEmail::parse(&long),
            Err(PersonDataError::TooLong { .. })
        ));
    }

    #[test]
    fn art3_2_date_of_birth_formats() {
        let want = date!(1985 - 04 - 01);
        for input in [
            "1985-04-01",
            "1985/4/1",
            "1985.4.1",
            "1985年4月1日",
            "19850401",
            "１９８５－０４－０１",
        ] {
            assert_eq!(
                DateOfBirth::parse(input, TODAY).unwrap().date(),
                want,
                "{input}"
            );
        }
        let e = DateOfBirth::parse("昭和60年4月1日", TODAY).unwrap_err();
        assert!(e.to_string().contains("西暦"), "{e}");
        let e = DateOfBirth::parse("1985-02-30", TODAY).unwrap_err();
        assert_eq!(e.to_string(), "生年月日の日付（1985-02-30）は存在しません");
    }

    #[test]
    fn art3_2_date_of_birth_refuses_future_and_over_120() {
        let e = DateOfBirth::parse("2026-11-27", TODAY).unwrap_err();
        assert_eq!(
            e.to_string(),
            "生年月日が未来の日付になっています。入力内容をご確認ください"
        );
        assert!(DateOfBirth::parse("2026-11-26", TODAY).is_ok());
        // Exactly 120 today: accepted; 120 and one day short of 121 the day before: too.
        assert!(DateOfBirth::parse("1906-11-26", TODAY).is_ok());
        assert!(DateOfBirth::parse("1905-11-27", TODAY).is_ok());
        let e = DateOfBirth::parse("1905-11-26", TODAY).unwrap_err();
        assert_eq!(
            e.to_string(),
            "生年月日から計算した年齢が120歳を超えています。入力内容をご確認ください"
        );
    }

    #[test]
    fn date_of_birth_age() {
        let dob = DateOfBirth::parse("2000-02-29", TODAY).unwrap();
        assert_eq!(dob.age_on(date!(2026 - 02 - 28)), 25);
        assert_eq!(dob.age_on(date!(2026 - 03 - 01)), 26);
        assert_eq!(dob.to_string(), "2000-02-29");
    }

    #[test]
    fn holder_id_is_h_and_eight_digits_never_my_number() {
        let id = HolderId::from_sequence(123).unwrap();
        assert_eq!(id.as_str(), "H00000123");
        assert_eq!(id.sequence(), 123);
        assert_eq!(HolderId::parse("h00000123"), Ok(id));
        assert!(HolderId::from_sequence(99_999_999).is_ok());
        assert_eq!(
            HolderId::from_sequence(100_000_000),
            Err(PersonDataError::SequenceOutOfRange(100_000_000))
        );
        assert!(HolderId::from_sequence(0).is_err());
        // A 12-digit My Number is not a holder id.
        assert!(HolderId::parse("123456789012").is_err());
        assert!(HolderId::parse("H1234567").is_err());
        assert!(HolderId::parse("H123456789").is_err());
    }

    #[test]
    fn art3_2_profession_table_is_complete_and_codes_unique() {
        let all = [
            Profession::Doctor,
            Profession::Dentist,
            Profession::Pharmacist,
            Profession::Nurse,
            Profession::AssistantNurse,
            Profession::PublicHealthNurse,
            Profession::Midwife,
            Profession::RadiologicalTechnologist,
            Profession::ClinicalLaboratoryTechnician,
            Profession::PhysicalTherapist,
            Profession::OccupationalTherapist,
            Profession::SpeechTherapist,
            Profession::Orthoptist,
            Profession::ClinicalEngineer,
            Profession::DentalHygienist,
            Profession::RegisteredDietitian,
            Profession::CertifiedCareWorker,
            Profession::CertifiedSocialWorker,
            Profession::PsychiatricSocialWorker,
            Profession::CareManager,
            Profession::MedicalClerk,
            Profession::Other,
        ];
        assert_eq!(PROFESSIONS.len(), all.len());
        for p in all {
            assert_eq!(PROFESSIONS.iter().filter(|e| e.profession == p).count(), 1);
            assert_eq!(Profession::from_code(p.as_str()), Ok(p));
        }
        let mut codes: Vec<_> = PROFESSIONS.iter().map(|e| e.code).collect();
        codes.sort();
        codes.dedup();
        assert_eq!(codes.len(), PROFESSIONS.len());
        assert_eq!(Profession::from_code("doctor"), Ok(Profession::Doctor));
        assert_eq!(Profession::Doctor.label_ja(), "医師");
        assert!(!Profession::MedicalClerk.requires_licence());
        assert!(Profession::Nurse.requires_licence());
        assert!(!Profession::AssistantNurse.entry().hpki_qualification);
        assert!(!Profession::CareManager.entry().hpki_qualification);
        for e in PROFESSIONS {
            // An hcRole only ever names an HPKI qualification.
            assert!(e.hpki_role.is_none() || e.hpki_qualification, "{}", e.code);
        }
        let e = Profession::from_code("surgeon").unwrap_err();
        assert!(e.to_string().contains("職種"), "{e}");
    }

    #[test]
    fn serde_goes_through_parse() {
        use serde::de::IntoDeserializer;
        use serde::de::value::{Error, StrDeserializer, StringDeserializer};
        let d: StringDeserializer<Error> = "やまだ".to_string().into_deserializer();
        assert!(KanaName::deserialize(d).is_err());
        let d: StrDeserializer<Error> = "registered_dietitian".into_deserializer();
        assert_eq!(
            Profession::deserialize(d),
            Ok(Profession::RegisteredDietitian)
        );
        let d: StrDeserializer<Error> = "1985-04-01".into_deserializer();
        assert_eq!(
            DateOfBirth::deserialize(d).unwrap().date(),
            date!(1985 - 04 - 01)
        );
    }
}

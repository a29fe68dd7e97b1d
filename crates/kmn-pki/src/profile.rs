//! The certificate profiles of DESIGN §4: what each kind of certificate must carry
//! (key usage, extended key usage), what the issuing CA contributes ([`IssuerInfo`]),
//! and the user card's names (subject and kanji directoryName, with the 64-character
//! abbreviation rule).
//!
//! The builder ([`crate::cert`]) and the lints ([`crate::lint`]) both read the profile
//! from here; neither depends on the other for it.

#![deny(clippy::indexing_slicing, clippy::unwrap_used, clippy::expect_used)]

use kmn_domain::ProfileKind;
use time::OffsetDateTime;

use crate::ext::{self, AltName, ku};
use crate::keys::SignatureAlgorithm;
use crate::name::{DistinguishedName, MAX_VALUE_CHARS};
use crate::{PkiError, derw, oid, parse};

/// What the lints and the builder need to know about the issuing CA.
#[derive(Clone, Debug)]
pub struct IssuerInfo {
    /// The CA's subject Name, byte for byte from its certificate.
    pub subject_der: Vec<u8>,
    /// The CA's key identifier (its SKI).
    pub key_id: Vec<u8>,
    /// The CA's SubjectPublicKeyInfo.
    pub spki_der: Vec<u8>,
    /// The CA's notBefore.
    pub not_before: OffsetDateTime,
    /// The CA's notAfter.
    pub not_after: OffsetDateTime,
    /// The algorithm the CA's key signs with.
    pub signature_algorithm: SignatureAlgorithm,
}

impl IssuerInfo {
    /// Reads the issuer's facts from its certificate.
    pub fn from_cert(
        cert_der: &[u8],
        signature_algorithm: SignatureAlgorithm,
    ) -> Result<Self, PkiError> {
        let c = parse::cert(cert_der)?;
        let key_id = match c.tbs.ext(&oid::EXT_SUBJECT_KEY_ID) {
            Some(e) => crate::derr::read_one(e.value, derw::tag::OCTET_STRING)?
                .content
                .to_vec(),
            None => ext::key_identifier(c.tbs.spki)?,
        };
        Ok(Self {
            subject_der: c.tbs.subject.to_vec(),
            key_id,
            spki_der: c.tbs.spki.to_vec(),
            not_before: c.tbs.not_before.at,
            not_after: c.tbs.not_after.at,
            signature_algorithm,
        })
    }
}

/// The key usage bits a profile requires (RFC 5280 §4.2.1.3).
pub fn profile_key_usage(profile: ProfileKind, spki_der: &[u8]) -> Vec<u8> {
    match profile {
        ProfileKind::Root | ProfileKind::IssuingCa => vec![ku::KEY_CERT_SIGN, ku::CRL_SIGN],
        ProfileKind::OcspSigner
        | ProfileKind::AuditSigner
        | ProfileKind::UserCard
        | ProfileKind::Operator
        | ProfileKind::Station => {
            vec![ku::DIGITAL_SIGNATURE]
        }
        ProfileKind::Server => {
            if matches!(parse::key_info(spki_der), Ok(parse::KeyInfo::Rsa { .. })) {
                vec![ku::DIGITAL_SIGNATURE, ku::KEY_ENCIPHERMENT]
            } else {
                vec![ku::DIGITAL_SIGNATURE]
            }
        }
    }
}

/// The extended key usage a profile requires (none for CAs).
pub fn profile_eku(profile: ProfileKind) -> Vec<const_oid::ObjectIdentifier> {
    match profile {
        ProfileKind::Root | ProfileKind::IssuingCa => vec![],
        ProfileKind::OcspSigner => vec![oid::KP_OCSP_SIGNING],
        ProfileKind::AuditSigner => vec![oid::KP_DOCUMENT_SIGNING],
        ProfileKind::UserCard | ProfileKind::Operator | ProfileKind::Station => {
            vec![oid::KP_CLIENT_AUTH]
        }
        ProfileKind::Server => vec![oid::KP_SERVER_AUTH],
    }
}

/// The registry facts a user card certificate names (DESIGN §4). Romaji names are as
/// entered (never generated); the kanji names are shown to people but never used for
/// authorisation.
#[derive(Clone, Copy, Debug)]
pub struct UserCardNames<'a> {
    /// The facility's name in romaji (O).
    pub facility_romaji: &'a str,
    /// The facility's code (OU).
    pub facility_code: &'a str,
    /// The facility's name in kanji (O of the SAN directoryName).
    pub facility_kanji: &'a str,
    /// The holder's name in romaji (CN).
    pub holder_romaji: &'a str,
    /// The holder's name in kanji (CN of the SAN directoryName).
    pub holder_kanji: &'a str,
    /// The network's own holder id (serialNumber; never the My Number).
    pub holder_id: &'a str,
}

impl UserCardNames<'_> {
    /// The subject `C=JP, O=<facility, romaji>, OU=<facility code>, CN=<holder, romaji>,
    /// serialNumber=<holder id>` (DESIGN §4), the romaji names abbreviated to 64
    /// characters by [`abbreviate`].
    pub fn subject(&self) -> Result<DistinguishedName, PkiError> {
        let mut dn = DistinguishedName::default();
        dn.push(oid::AT_COUNTRY, "JP")?
            .push(oid::AT_ORGANIZATION, &abbreviate(self.facility_romaji))?
            .push(oid::AT_ORG_UNIT, self.facility_code)?
            .push(oid::AT_COMMON_NAME, &abbreviate(self.holder_romaji))?
            .push(oid::AT_SERIAL_NUMBER, self.holder_id)?;
        Ok(dn)
    }

    /// The kanji names as a SAN directoryName `O=<facility>, CN=<holder>` (UTF8String;
    /// the facility's name cut to 64 characters).
    pub fn kanji_alt_name(&self) -> Result<AltName, PkiError> {
        let mut dn = DistinguishedName::default();
        dn.push(
            oid::AT_ORGANIZATION,
            &self
                .facility_kanji
                .chars()
                .take(MAX_VALUE_CHARS)
                .collect::<String>(),
        )?
        .push(oid::AT_COMMON_NAME, self.holder_kanji)?;
        Ok(AltName::Directory(dn.to_der()))
    }
}

/// Shortens a romaji name to the profile's 64 characters (DESIGN §4): common words first,
/// then truncation at a word boundary.
pub fn abbreviate(name: &str) -> String {
    const MAX: usize = MAX_VALUE_CHARS;
    if name.chars().count() <= MAX {
        return name.to_string();
    }
    let mut s = name.to_string();
    for (long, short) in [
        ("Medical Corporation", "MC"),
        ("Incorporated", "Inc."),
        ("Corporation", "Corp."),
        ("Association", "Assn."),
        ("Foundation", "Fdn."),
        ("University", "Univ."),
        ("Hospital", "Hosp."),
        ("Medical", "Med."),
        ("Pharmacy", "Pharm."),
        ("Clinic", "Clin."),
        ("Center", "Ctr."),
        ("Centre", "Ctr."),
        ("Kumamoto", "Kmt."),
    ] {
        if s.chars().count() <= MAX {
            break;
        }
        s = s.replace(long, short);
    }
    if s.chars().count() > MAX {
        let cut: String = s.chars().take(MAX).collect();
        s = match cut.rfind(' ') {
            Some(i) if i > MAX / 2 => cut.get(..i).unwrap_or(&cut).to_string(),
            _ => cut,
        };
    }
    s
}

#[cfg(test)]
#[allow(clippy::indexing_slicing, clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn design4_long_romaji_names_are_abbreviated_to_64() {
        let long =
            "Social Medical Corporation Kumamoto Central Hospital Foundation Rehabilitation Center";
        let s = abbreviate(long);
        assert!(s.chars().count() <= 64, "{s}");
        assert!(s.starts_with("Social MC"), "{s}");
        assert_eq!(abbreviate("Short Clinic"), "Short Clinic");
    }

    #[test]
    fn design4_abbreviation_cuts_at_a_word_boundary_and_counts_characters() {
        // No word to shorten: cut at the last space within 64 characters.
        let s = abbreviate(&"Abcdefghij ".repeat(8));
        assert_eq!(s, "Abcdefghij Abcdefghij Abcdefghij Abcdefghij Abcdefghij");
        // No space after the middle: a plain cut at 64 characters (not octets).
        let s = abbreviate(&"é".repeat(70));
        assert_eq!(s.chars().count(), 64);
    }

    fn names<'a>(facility_romaji: &'a str, facility_kanji: &'a str) -> UserCardNames<'a> {
        UserCardNames {
            facility_romaji,
            facility_code: "4310000001",
            facility_kanji,
            holder_romaji: "Taro Yamada",
            holder_kanji: "山田 太郎",
            holder_id: "H0000001",
        }
    }

    #[test]
    fn design4_user_card_subject_has_the_profile_attributes_in_order() {
        let n = names(
            "Social Medical Corporation Kumamoto Central Hospital Foundation Rehabilitation Center",
            "熊本中央病院",
        );
        let dn = n.subject().unwrap();
        let got: Vec<_> = dn.0.iter().map(|a| (a.oid, a.value.as_str())).collect();
        assert_eq!(got[0], (oid::AT_COUNTRY, "JP"));
        assert_eq!(got[1].0, oid::AT_ORGANIZATION);
        assert!(got[1].1.starts_with("Social MC") && got[1].1.chars().count() <= 64);
        assert_eq!(got[2], (oid::AT_ORG_UNIT, "4310000001"));
        assert_eq!(got[3], (oid::AT_COMMON_NAME, "Taro Yamada"));
        assert_eq!(got[4], (oid::AT_SERIAL_NUMBER, "H0000001"));
        // C and serialNumber are PrintableString, the rest UTF8String.
        let der = dn.to_der();
        let attrs = parse::name_attributes(&der).unwrap();
        let tags: Vec<u8> = attrs.iter().map(|r| r[0].1).collect();
        assert_eq!(
            tags,
            [
                derw::tag::PRINTABLE_STRING,
                derw::tag::UTF8_STRING,
                derw::tag::UTF8_STRING,
                derw::tag::UTF8_STRING,
                derw::tag::PRINTABLE_STRING
            ]
        );
    }

    #[test]
    fn design4_kanji_names_go_to_a_utf8_directory_name_cut_to_64() {
        let long_kanji = "熊".repeat(70);
        let n = names("Kumamoto Clinic", &long_kanji);
        let AltName::Directory(der) = n.kanji_alt_name().unwrap() else {
            panic!("a directoryName");
        };
        let attrs = parse::name_attributes(&der).unwrap();
        assert_eq!(attrs.len(), 2);
        assert_eq!(attrs[0][0].1, derw::tag::UTF8_STRING);
        assert_eq!(
            std::str::from_utf8(attrs[0][0].2).unwrap().chars().count(),
            64
        );
        assert_eq!(std::str::from_utf8(attrs[1][0].2).unwrap(), "山田 太郎");
    }
}

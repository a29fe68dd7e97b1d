//! Distinguished names: built with the string types of the profile (DESIGN §4: C and
//! serialNumber as PrintableString, everything else as UTF8String, each value at most 64
//! characters), parsed from any DirectoryString, shown as `C=JP, O=…, CN=…`.

#![deny(clippy::indexing_slicing, clippy::unwrap_used, clippy::expect_used)]

use const_oid::ObjectIdentifier as Oid;
use der::{Decode, Tag, Tagged};

use crate::{PkiError, derw, oid};

/// How an attribute value is encoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StringKind {
    /// PrintableString.
    Printable,
    /// UTF8String.
    Utf8,
}

/// One attribute (every RDN of this profile holds exactly one).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attribute {
    /// Attribute type.
    pub oid: Oid,
    /// Encoding.
    pub kind: StringKind,
    /// Value (NFC text).
    pub value: String,
}

/// A distinguished name as an ordered list of single-attribute RDNs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DistinguishedName(pub Vec<Attribute>);

/// The maximum length of any attribute value in this profile (DESIGN §4; RFC 5280
/// Appendix A's ub-common-name and ub-organization-name are 64 too).
pub const MAX_VALUE_CHARS: usize = 64;

/// Attribute types the profile allows in a subject, with their short names.
pub const KNOWN_ATTRIBUTES: [(Oid, &str); 7] = [
    (oid::AT_COUNTRY, "C"),
    (oid::AT_STATE, "ST"),
    (oid::AT_LOCALITY, "L"),
    (oid::AT_ORGANIZATION, "O"),
    (oid::AT_ORG_UNIT, "OU"),
    (oid::AT_COMMON_NAME, "CN"),
    (oid::AT_SERIAL_NUMBER, "serialNumber"),
];

/// The short name of an attribute type, or its dotted OID.
pub fn attribute_label(o: &Oid) -> String {
    KNOWN_ATTRIBUTES
        .iter()
        .find(|(k, _)| k == o)
        .map(|(_, n)| (*n).to_string())
        .unwrap_or_else(|| o.to_string())
}

/// The string type the profile requires for an attribute type.
pub fn profile_kind(o: &Oid) -> StringKind {
    if *o == oid::AT_COUNTRY || *o == oid::AT_SERIAL_NUMBER {
        StringKind::Printable
    } else {
        StringKind::Utf8
    }
}

impl DistinguishedName {
    /// Appends an attribute with the profile's string type, checking the value.
    pub fn push(&mut self, o: Oid, value: &str) -> Result<&mut Self, PkiError> {
        let kind = profile_kind(&o);
        check_value(&o, kind, value)?;
        self.0.push(Attribute {
            oid: o,
            kind,
            value: value.to_string(),
        });
        Ok(self)
    }

    /// DER of the Name (RDNSequence).
    pub fn to_der(&self) -> Vec<u8> {
        let rdns: Vec<Vec<u8>> = self
            .0
            .iter()
            .map(|a| {
                let v = match a.kind {
                    StringKind::Printable => derw::printable(&a.value),
                    StringKind::Utf8 => derw::utf8(&a.value),
                };
                let atv = derw::seq(&[&derw::oid(&a.oid), &v]);
                derw::constructed(derw::tag::SET, &[&atv])
            })
            .collect();
        let refs: Vec<&[u8]> = rdns.iter().map(|r| r.as_slice()).collect();
        derw::seq(&refs)
    }

    /// Parses a Name and re-encodes every value with the profile's string type.
    /// Multi-valued RDNs and attribute types outside [`KNOWN_ATTRIBUTES`] are refused.
    pub fn from_der_for_profile(der: &[u8]) -> Result<Self, PkiError> {
        let name = x509_cert::name::Name::from_der(der)
            .map_err(|e| PkiError::BadInput(format!("the subject name is not valid DER ({e})")))?;
        let mut dn = DistinguishedName::default();
        for rdn in name.iter_rdn() {
            if rdn.len() != 1 {
                return Err(PkiError::BadInput(
                    "multi-valued RDNs are not allowed in the subject".into(),
                ));
            }
            for atv in rdn.iter() {
                if !KNOWN_ATTRIBUTES.iter().any(|(k, _)| *k == atv.oid) {
                    return Err(PkiError::BadInput(format!(
                        "subject attribute {} is not allowed (allowed: C, ST, L, O, OU, CN, serialNumber)",
                        atv.oid
                    )));
                }
                let value = decode_directory_string(atv.value.tag(), atv.value.value())?;
                dn.push(atv.oid, &value)?;
            }
        }
        Ok(dn)
    }

    /// The value of the first attribute of this type.
    pub fn get(&self, o: &Oid) -> Option<&str> {
        self.0
            .iter()
            .find(|a| a.oid == *o)
            .map(|a| a.value.as_str())
    }

    /// Whether it has no attributes.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl std::fmt::Display for DistinguishedName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let parts: Vec<String> = self
            .0
            .iter()
            .map(|a| format!("{}={}", attribute_label(&a.oid), a.value))
            .collect();
        f.write_str(&parts.join(", "))
    }
}

/// Checks one value against the profile: not empty, at most 64 characters, the
/// PrintableString character set where required, two letters for C.
pub fn check_value(o: &Oid, kind: StringKind, value: &str) -> Result<(), PkiError> {
    let label = attribute_label(o);
    if value.trim().is_empty() {
        return Err(PkiError::BadInput(format!("subject {label} is empty")));
    }
    if value.chars().count() > MAX_VALUE_CHARS {
        return Err(PkiError::BadInput(format!(
            "subject {label} has {} characters; at most {MAX_VALUE_CHARS} are allowed",
            value.chars().count()
        )));
    }
    if kind == StringKind::Printable && !derw::is_printable(value) {
        return Err(PkiError::BadInput(format!(
            "subject {label} '{value}' has characters outside PrintableString"
        )));
    }
    if *o == oid::AT_COUNTRY && (value.len() != 2 || !value.bytes().all(|b| b.is_ascii_uppercase()))
    {
        return Err(PkiError::BadInput(format!(
            "subject C '{value}' must be a two-letter ISO 3166 code such as JP"
        )));
    }
    Ok(())
}

/// Decodes a DirectoryString (and IA5String) value to text.
pub fn decode_directory_string(tag: Tag, bytes: &[u8]) -> Result<String, PkiError> {
    let bad = || PkiError::BadInput("a name value is not valid text".to_string());
    match tag {
        Tag::Utf8String | Tag::PrintableString | Tag::Ia5String | Tag::VisibleString => {
            String::from_utf8(bytes.to_vec()).map_err(|_| bad())
        }
        Tag::TeletexString => Ok(bytes.iter().map(|b| *b as char).collect()),
        Tag::BmpString => {
            if !bytes.len().is_multiple_of(2) {
                return Err(bad());
            }
            let units: Vec<u16> = bytes
                .chunks_exact(2)
                .map(|c| match c {
                    [hi, lo] => u16::from_be_bytes([*hi, *lo]),
                    _ => 0xfffd,
                })
                .collect();
            String::from_utf16(&units).map_err(|_| bad())
        }
        other => Err(PkiError::BadInput(format!(
            "a name value has the unsupported type {other}"
        ))),
    }
}

/// Renders any DER Name as `C=JP, O=…, CN=…` (for display and errors).
pub fn display_name_der(der: &[u8]) -> String {
    match x509_cert::name::Name::from_der(der) {
        Ok(n) => display_name(&n),
        Err(_) => "<unparsable name>".into(),
    }
}

/// Renders a parsed Name as `C=JP, O=…, CN=…`.
pub fn display_name(n: &x509_cert::name::Name) -> String {
    let mut parts = Vec::new();
    for atv in n.iter() {
        let v = decode_directory_string(atv.value.tag(), atv.value.value())
            .unwrap_or_else(|_| "?".into());
        parts.push(format!("{}={}", attribute_label(&atv.oid), v));
    }
    parts.join(", ")
}

#[cfg(test)]
#[allow(clippy::indexing_slicing, clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn design4_country_and_serial_number_printable_rest_utf8() {
        let mut dn = DistinguishedName::default();
        dn.push(oid::AT_COUNTRY, "JP").unwrap();
        dn.push(oid::AT_ORGANIZATION, "Kumamoto Clinic").unwrap();
        dn.push(oid::AT_SERIAL_NUMBER, "H0000001").unwrap();
        assert_eq!(dn.0[0].kind, StringKind::Printable);
        assert_eq!(dn.0[1].kind, StringKind::Utf8);
        assert_eq!(dn.0[2].kind, StringKind::Printable);
        let der = dn.to_der();
        let back = DistinguishedName::from_der_for_profile(&der).unwrap();
        assert_eq!(back, dn);
        assert_eq!(
            back.to_string(),
            "C=JP, O=Kumamoto Clinic, serialNumber=H0000001"
        );
    }

    #[test]
    fn design4_values_longer_than_64_refused() {
        let mut dn = DistinguishedName::default();
        let err = dn.push(oid::AT_COMMON_NAME, &"a".repeat(65)).unwrap_err();
        assert!(err.to_string().contains("64"), "{err}");
        assert!(dn.push(oid::AT_COUNTRY, "jp").is_err());
        assert!(dn.push(oid::AT_SERIAL_NUMBER, "番号").is_err());
    }
}

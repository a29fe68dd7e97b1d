//! X.501 names: parsing, RFC 5280 §7.1 comparison and RFC 4514-style display.

#![deny(clippy::indexing_slicing, clippy::unwrap_used, clippy::expect_used)]

use std::fmt;

use crate::asn1::{PResult, ParseError, Reader, Tlv, oid_to_string, tag};

/// One attribute type and value.
#[derive(Debug, Clone)]
pub(crate) struct Ava {
    /// OID content bytes.
    pub oid: Vec<u8>,
    pub tag: u8,
    pub value: Vec<u8>,
    /// Normalised value used for comparison.
    norm: NormValue,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum NormValue {
    Text(String),
    Raw(u8, Vec<u8>),
}

impl Ava {
    pub(crate) fn new(oid: Vec<u8>, tag: u8, value: Vec<u8>) -> Self {
        let norm = match decode_string(tag, &value) {
            Some(s) => NormValue::Text(normalise(&s)),
            None => NormValue::Raw(tag, value.clone()),
        };
        Ava {
            oid,
            tag,
            value,
            norm,
        }
    }

    fn matches(&self, other: &Ava) -> bool {
        self.oid == other.oid && self.norm == other.norm
    }

    /// The value as text, if it is a character string.
    pub(crate) fn text(&self) -> Option<String> {
        decode_string(self.tag, &self.value)
    }
}

/// A distinguished name: a sequence of RDNs, each a set of AVAs.
#[derive(Debug, Clone)]
pub(crate) struct Name {
    pub rdns: Vec<Vec<Ava>>,
}

impl Name {
    /// Parses a `Name` element (a SEQUENCE OF RelativeDistinguishedName).
    pub(crate) fn parse(t: &Tlv<'_>) -> PResult<Name> {
        if t.tag != tag::SEQUENCE {
            return Err(ParseError::new("Name: expected SEQUENCE"));
        }
        let mut r = t.reader();
        let mut rdns = Vec::new();
        while !r.is_empty() {
            let set = r.expect(tag::SET, "RelativeDistinguishedName")?;
            rdns.push(parse_rdn(set.value)?);
        }
        Ok(Name { rdns })
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.rdns.is_empty()
    }

    /// RFC 5280 §7.1 comparison: same number of RDNs, each RDN holding the same set of
    /// attributes; character strings compared after case folding and whitespace
    /// normalisation, whatever their string type.
    pub(crate) fn matches(&self, other: &Name) -> bool {
        self.rdns.len() == other.rdns.len()
            && self
                .rdns
                .iter()
                .zip(&other.rdns)
                .all(|(a, b)| rdn_matches(a, b))
    }

    /// True if `base` is a prefix of this name (RDN by RDN), i.e. this name lies in the
    /// directory subtree rooted at `base`.
    pub(crate) fn within(&self, base: &Name) -> bool {
        base.rdns.len() <= self.rdns.len()
            && base
                .rdns
                .iter()
                .zip(&self.rdns)
                .all(|(a, b)| rdn_matches(a, b))
    }

    /// Text values of attributes of the given type (OID content bytes).
    pub(crate) fn values_of(&self, oid: &[u8]) -> Vec<String> {
        self.rdns
            .iter()
            .flatten()
            .filter(|a| a.oid == oid)
            .filter_map(Ava::text)
            .collect()
    }

    /// Returns this name with one more RDN appended (the most specific position).
    pub(crate) fn with_rdn(&self, rdn: &[Ava]) -> Name {
        let mut n = self.clone();
        n.rdns.push(rdn.to_vec());
        n
    }
}

/// Parses the contents of a SET OF AttributeTypeAndValue.
pub(crate) fn parse_rdn(value: &[u8]) -> PResult<Vec<Ava>> {
    let mut r = Reader::new(value);
    let mut avas = Vec::new();
    while !r.is_empty() {
        let seq = r.expect(tag::SEQUENCE, "AttributeTypeAndValue")?;
        let mut a = seq.reader();
        let oid = a.expect(tag::OID, "attribute type")?;
        let val = a.any()?;
        a.finish("AttributeTypeAndValue")?;
        avas.push(Ava::new(oid.value.to_vec(), val.tag, val.value.to_vec()));
    }
    if avas.is_empty() {
        return Err(ParseError::new("empty RelativeDistinguishedName"));
    }
    Ok(avas)
}

fn rdn_matches(a: &[Ava], b: &[Ava]) -> bool {
    a.len() == b.len()
        && a.iter().all(|x| b.iter().any(|y| x.matches(y)))
        && b.iter().all(|y| a.iter().any(|x| x.matches(y)))
}

/// Decodes the character string types found in names.
fn decode_string(tag: u8, v: &[u8]) -> Option<String> {
    match tag {
        tag::UTF8_STRING => String::from_utf8(v.to_vec()).ok(),
        tag::PRINTABLE_STRING | tag::IA5_STRING | tag::NUMERIC_STRING | tag::VISIBLE_STRING => {
            if v.is_ascii() {
                String::from_utf8(v.to_vec()).ok()
            } else {
                None
            }
        }
        // T.61 is read as Latin-1, which is what issuers put in it in practice.
        tag::TELETEX_STRING => Some(v.iter().map(|b| *b as char).collect()),
        tag::BMP_STRING => {
            if !v.len().is_multiple_of(2) {
                return None;
            }
            let units: Vec<u16> = v
                .chunks_exact(2)
                .filter_map(|c| <[u8; 2]>::try_from(c).ok())
                .map(u16::from_be_bytes)
                .collect();
            String::from_utf16(&units).ok()
        }
        tag::UNIVERSAL_STRING => {
            if !v.len().is_multiple_of(4) {
                return None;
            }
            v.chunks_exact(4)
                .map(|c| {
                    <[u8; 4]>::try_from(c)
                        .ok()
                        .and_then(|b| char::from_u32(u32::from_be_bytes(b)))
                })
                .collect()
        }
        _ => None,
    }
}

/// Case folding plus insignificant-space handling (RFC 4518 §2.6.1, simplified): leading and
/// trailing whitespace removed, internal runs of whitespace collapsed to one space.
fn normalise(s: &str) -> String {
    let folded = s.to_lowercase();
    folded.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn short_name(oid: &[u8]) -> Option<&'static str> {
    const NAMES: &[(&str, &str)] = &[
        ("2.5.4.3", "CN"),
        ("2.5.4.4", "SN"),
        ("2.5.4.5", "serialNumber"),
        ("2.5.4.6", "C"),
        ("2.5.4.7", "L"),
        ("2.5.4.8", "ST"),
        ("2.5.4.9", "STREET"),
        ("2.5.4.10", "O"),
        ("2.5.4.11", "OU"),
        ("2.5.4.12", "title"),
        ("2.5.4.42", "GN"),
        ("2.5.4.43", "initials"),
        ("2.5.4.44", "generationQualifier"),
        ("2.5.4.46", "dnQualifier"),
        ("2.5.4.65", "pseudonym"),
        ("2.5.4.97", "organizationIdentifier"),
        ("0.9.2342.19200300.100.1.1", "UID"),
        ("0.9.2342.19200300.100.1.25", "DC"),
        ("1.2.840.113549.1.9.1", "emailAddress"),
    ];
    let dotted = oid_to_string(oid);
    NAMES.iter().find(|(o, _)| *o == dotted).map(|(_, n)| *n)
}

fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let n = s.chars().count();
    for (i, c) in s.chars().enumerate() {
        let special = matches!(c, ',' | '+' | '"' | '\\' | '<' | '>' | ';' | '=')
            || (i == 0 && (c == '#' || c == ' '))
            || (i + 1 == n && c == ' ');
        if special {
            out.push('\\');
        }
        if c.is_control() {
            out.push_str(&format!("\\{:02x}", c as u32));
        } else {
            out.push(c);
        }
    }
    out
}

impl fmt::Display for Name {
    /// RFC 4514 order: most specific RDN first (`CN=..., O=..., C=...`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.rdns.is_empty() {
            return f.write_str("(empty name)");
        }
        for (i, rdn) in self.rdns.iter().rev().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            for (j, ava) in rdn.iter().enumerate() {
                if j > 0 {
                    f.write_str("+")?;
                }
                let ty = short_name(&ava.oid)
                    .map(str::to_string)
                    .unwrap_or_else(|| oid_to_string(&ava.oid));
                match ava.text() {
                    Some(t) => write!(f, "{ty}={}", escape(&t))?,
                    None => write!(f, "{ty}=#{}", hex::encode(&ava.value))?,
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::indexing_slicing, clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use der::asn1::ObjectIdentifier;

    fn cn() -> Vec<u8> {
        ObjectIdentifier::new_unwrap("2.5.4.3").as_bytes().to_vec()
    }
    fn o() -> Vec<u8> {
        ObjectIdentifier::new_unwrap("2.5.4.10").as_bytes().to_vec()
    }
    fn name(parts: &[(Vec<u8>, u8, &str)]) -> Name {
        Name {
            rdns: parts
                .iter()
                .map(|(oid, t, v)| vec![Ava::new(oid.clone(), *t, v.as_bytes().to_vec())])
                .collect(),
        }
    }

    #[test]
    fn case_and_whitespace_are_insignificant() {
        let a = name(&[
            (o(), tag::PRINTABLE_STRING, "Test Certificates 2011"),
            (cn(), tag::PRINTABLE_STRING, "Good CA"),
        ]);
        let b = name(&[
            (o(), tag::PRINTABLE_STRING, "  test   certificates 2011 "),
            (cn(), tag::PRINTABLE_STRING, "GOOD ca"),
        ]);
        assert!(a.matches(&b));
        assert!(b.matches(&a));
    }

    #[test]
    fn printable_and_utf8_compare_as_strings() {
        let a = name(&[(cn(), tag::PRINTABLE_STRING, "Rollover CA")]);
        let b = name(&[(cn(), tag::UTF8_STRING, "rollover ca")]);
        assert!(a.matches(&b));
        // BMPString "AB"
        let bmp = Name {
            rdns: vec![vec![Ava::new(
                cn(),
                tag::BMP_STRING,
                vec![0, b'A', 0, b'B'],
            )]],
        };
        assert!(bmp.matches(&name(&[(cn(), tag::UTF8_STRING, "ab")])));
    }

    #[test]
    fn order_type_and_value_matter() {
        let a = name(&[
            (o(), tag::PRINTABLE_STRING, "X"),
            (cn(), tag::PRINTABLE_STRING, "Y"),
        ]);
        let swapped = name(&[
            (cn(), tag::PRINTABLE_STRING, "Y"),
            (o(), tag::PRINTABLE_STRING, "X"),
        ]);
        assert!(!a.matches(&swapped));
        let other_type = name(&[
            (o(), tag::PRINTABLE_STRING, "X"),
            (o(), tag::PRINTABLE_STRING, "Y"),
        ]);
        assert!(!a.matches(&other_type));
        let other_value = name(&[
            (o(), tag::PRINTABLE_STRING, "X"),
            (cn(), tag::PRINTABLE_STRING, "Y2"),
        ]);
        assert!(!a.matches(&other_value));
        let shorter = name(&[(o(), tag::PRINTABLE_STRING, "X")]);
        assert!(!a.matches(&shorter));
    }

    #[test]
    fn multi_valued_rdn_is_a_set() {
        let a = Name {
            rdns: vec![vec![
                Ava::new(cn(), tag::UTF8_STRING, b"A".to_vec()),
                Ava::new(o(), tag::UTF8_STRING, b"B".to_vec()),
            ]],
        };
        let b = Name {
            rdns: vec![vec![
                Ava::new(o(), tag::PRINTABLE_STRING, b"b".to_vec()),
                Ava::new(cn(), tag::PRINTABLE_STRING, b"a".to_vec()),
            ]],
        };
        assert!(a.matches(&b));
    }

    #[test]
    fn display_is_most_specific_first() {
        let a = name(&[
            (o(), tag::PRINTABLE_STRING, "Test, Inc"),
            (cn(), tag::UTF8_STRING, "Good CA"),
        ]);
        assert_eq!(a.to_string(), "CN=Good CA, O=Test\\, Inc");
    }
}

//! A strict, light parser of the certificates this CA makes, over [`crate::derr`]: the
//! lints read the to-be-signed bytes with it (so they check what will be signed, not
//! what the builder meant), and `kmn cert show` uses it for display.

use time::OffsetDateTime;

use crate::derr::{self, Tlv};
use crate::derw::tag;
use crate::{PkiError, name};

/// One extension.
#[derive(Clone, Debug)]
pub struct Ext<'a> {
    /// Dotted OID.
    pub oid: String,
    /// Criticality.
    pub critical: bool,
    /// The OCTET STRING's content.
    pub value: &'a [u8],
}

/// A time field with its encoding.
#[derive(Clone, Copy, Debug)]
pub struct TimeField {
    /// UTCTime (0x17) or GeneralizedTime (0x18).
    pub tag: u8,
    /// The instant.
    pub at: OffsetDateTime,
}

/// The fields of a TBSCertificate.
#[derive(Clone, Debug)]
pub struct Tbs<'a> {
    /// 0 = v1, 2 = v3.
    pub version: u8,
    /// Content octets of the serial INTEGER.
    pub serial: &'a [u8],
    /// The signature AlgorithmIdentifier, whole.
    pub signature_alg: &'a [u8],
    /// The issuer Name, whole.
    pub issuer: &'a [u8],
    /// notBefore.
    pub not_before: TimeField,
    /// notAfter.
    pub not_after: TimeField,
    /// The subject Name, whole.
    pub subject: &'a [u8],
    /// The SubjectPublicKeyInfo, whole.
    pub spki: &'a [u8],
    /// Extensions in order.
    pub extensions: Vec<Ext<'a>>,
    /// The TBS, whole.
    pub raw: &'a [u8],
}

/// A certificate: TBS, algorithm, signature.
#[derive(Clone, Debug)]
pub struct Cert<'a> {
    /// The TBSCertificate.
    pub tbs: Tbs<'a>,
    /// The outer signatureAlgorithm, whole.
    pub signature_alg: &'a [u8],
    /// The signature bits (without the unused-bits octet).
    pub signature: &'a [u8],
}

fn bad(what: &str) -> PkiError {
    PkiError::BadInput(format!("malformed certificate: {what}"))
}

/// Parses a DER certificate.
pub fn cert(der: &[u8]) -> Result<Cert<'_>, PkiError> {
    let outer = derr::read_one(der, tag::SEQUENCE)?;
    let parts = derr::children(outer.content)?;
    if parts.len() != 3 {
        return Err(bad(
            "expected tbsCertificate, signatureAlgorithm, signature",
        ));
    }
    let tbs = tbs(parts[0].raw)?;
    let sig = parts[2];
    if sig.tag != tag::BIT_STRING || sig.content.first() != Some(&0) {
        return Err(bad("signature is not a BIT STRING"));
    }
    Ok(Cert {
        tbs,
        signature_alg: parts[1].raw,
        signature: &sig.content[1..],
    })
}

/// Parses a DER TBSCertificate.
pub fn tbs(der: &[u8]) -> Result<Tbs<'_>, PkiError> {
    let t = derr::read_one(der, tag::SEQUENCE)?;
    let mut parts = derr::children(t.content)?.into_iter().peekable();
    let mut version = 0u8;
    if let Some(p) = parts.peek()
        && p.tag == 0xa0
    {
        let v = derr::read_one(p.content, tag::INTEGER)?;
        if v.content.len() != 1 || v.content[0] > 2 {
            return Err(bad("bad version"));
        }
        version = v.content[0];
        parts.next();
    }
    let mut next = |what: &str, tg: u8| -> Result<Tlv<'_>, PkiError> {
        let p = parts
            .next()
            .ok_or_else(|| bad(&format!("missing {what}")))?;
        if p.tag != tg {
            return Err(bad(&format!("{what} has the wrong type")));
        }
        Ok(p)
    };
    let serial = next("serialNumber", tag::INTEGER)?;
    let signature_alg = next("signature", tag::SEQUENCE)?;
    let issuer = next("issuer", tag::SEQUENCE)?;
    let validity = next("validity", tag::SEQUENCE)?;
    let subject = next("subject", tag::SEQUENCE)?;
    let spki = next("subjectPublicKeyInfo", tag::SEQUENCE)?;
    let mut extensions = Vec::new();
    for p in parts {
        match p.tag {
            0x81 | 0x82 => {}
            0xa3 => {
                let seq = derr::read_one(p.content, tag::SEQUENCE)?;
                for e in derr::children(seq.content)? {
                    extensions.push(extension(e)?);
                }
            }
            _ => return Err(bad("unexpected field after subjectPublicKeyInfo")),
        }
    }
    let v = derr::children(validity.content)?;
    if v.len() != 2 {
        return Err(bad("validity must hold two times"));
    }
    Ok(Tbs {
        version,
        serial: serial.content,
        signature_alg: signature_alg.raw,
        issuer: issuer.raw,
        not_before: time_field(&v[0])?,
        not_after: time_field(&v[1])?,
        subject: subject.raw,
        spki: spki.raw,
        extensions,
        raw: t.raw,
    })
}

/// Parses one Extension.
pub fn extension<'a>(e: Tlv<'a>) -> Result<Ext<'a>, PkiError> {
    if e.tag != tag::SEQUENCE {
        return Err(bad("extension is not a SEQUENCE"));
    }
    let f = derr::children(e.content)?;
    let (crit, val) = match f.len() {
        2 => (false, f[1]),
        3 => {
            if f[1].tag != tag::BOOLEAN || f[1].content != [0xff] {
                return Err(bad("extension criticality must be TRUE when present (DER)"));
            }
            (true, f[2])
        }
        _ => return Err(bad("extension has the wrong number of fields")),
    };
    if f[0].tag != tag::OID || val.tag != tag::OCTET_STRING {
        return Err(bad("extension fields have the wrong types"));
    }
    Ok(Ext {
        oid: derr::oid_to_string(f[0].content)?,
        critical: crit,
        value: val.content,
    })
}

/// Parses a UTCTime or GeneralizedTime in the `…Z` form RFC 5280 requires.
pub fn time_field(t: &Tlv<'_>) -> Result<TimeField, PkiError> {
    let s = std::str::from_utf8(t.content).map_err(|_| bad("time is not ASCII"))?;
    let (year, rest) = match t.tag {
        tag::UTC_TIME if s.len() == 13 => {
            let yy: i32 = s[0..2].parse().map_err(|_| bad("bad UTCTime"))?;
            (if yy >= 50 { 1900 + yy } else { 2000 + yy }, &s[2..])
        }
        tag::GENERALIZED_TIME if s.len() == 15 => (
            s[0..4].parse().map_err(|_| bad("bad GeneralizedTime"))?,
            &s[4..],
        ),
        _ => {
            return Err(bad(
                "time must be UTCTime YYMMDDHHMMSSZ or GeneralizedTime YYYYMMDDHHMMSSZ",
            ));
        }
    };
    if !rest.ends_with('Z') || !rest[..10].bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad("time must be in UTC with seconds (…Z)"));
    }
    let n = |i: usize| -> u8 { rest[i..i + 2].parse().unwrap_or(99) };
    let month = time::Month::try_from(n(0)).map_err(|_| bad("bad month"))?;
    let date = time::Date::from_calendar_date(year, month, n(2)).map_err(|_| bad("bad date"))?;
    let tm = time::Time::from_hms(n(4), n(6), n(8)).map_err(|_| bad("bad time of day"))?;
    Ok(TimeField {
        tag: t.tag,
        at: time::PrimitiveDateTime::new(date, tm).assume_utc(),
    })
}

impl Tbs<'_> {
    /// The extension with this dotted OID.
    pub fn ext(&self, oid: &str) -> Option<&Ext<'_>> {
        self.extensions.iter().find(|e| e.oid == oid)
    }

    /// The serial as lowercase hex of its unsigned value.
    pub fn serial_hex(&self) -> String {
        let s = self.serial;
        let s = if s.len() > 1 && s[0] == 0 { &s[1..] } else { s };
        hex::encode(s)
    }

    /// The subject as text.
    pub fn subject_text(&self) -> String {
        name::display_name_der(self.subject)
    }

    /// The issuer as text.
    pub fn issuer_text(&self) -> String {
        name::display_name_der(self.issuer)
    }
}

/// One attribute of a Name: (dotted OID, value tag, value bytes).
pub type NameAttribute<'a> = (String, u8, &'a [u8]);

/// The attributes of a Name, RDN by RDN.
pub fn name_attributes(name_der: &[u8]) -> Result<Vec<Vec<NameAttribute<'_>>>, PkiError> {
    let seq = derr::read_one(name_der, tag::SEQUENCE)?;
    let mut out = Vec::new();
    for rdn in derr::children(seq.content)? {
        if rdn.tag != tag::SET {
            return Err(bad("RDN is not a SET"));
        }
        let mut atvs = Vec::new();
        for atv in derr::children(rdn.content)? {
            let f = derr::children(atv.content)?;
            if atv.tag != tag::SEQUENCE || f.len() != 2 || f[0].tag != tag::OID {
                return Err(bad("malformed AttributeTypeAndValue"));
            }
            atvs.push((derr::oid_to_string(f[0].content)?, f[1].tag, f[1].content));
        }
        out.push(atvs);
    }
    Ok(out)
}

/// `(modulus bits, public exponent)` of an RSA SubjectPublicKeyInfo, or the curve OID of
/// an EC one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeyInfo {
    /// RSA.
    Rsa {
        /// Modulus size in bits.
        bits: usize,
        /// Public exponent (saturating at u64::MAX).
        exponent: u64,
        /// Modulus bytes (for the ROCA test of later work).
        modulus: Vec<u8>,
    },
    /// EC with the named curve's dotted OID.
    Ec {
        /// Dotted curve OID.
        curve: String,
    },
    /// Anything else: the algorithm's dotted OID.
    Other(String),
}

/// Reads the key type and size from a SubjectPublicKeyInfo.
pub fn key_info(spki_der: &[u8]) -> Result<KeyInfo, PkiError> {
    let spki = derr::read_one(spki_der, tag::SEQUENCE)?;
    let f = derr::children(spki.content)?;
    if f.len() != 2 || f[0].tag != tag::SEQUENCE || f[1].tag != tag::BIT_STRING {
        return Err(bad("malformed SubjectPublicKeyInfo"));
    }
    let alg = derr::children(f[0].content)?;
    let alg_oid = derr::oid_to_string(alg.first().ok_or_else(|| bad("no algorithm"))?.content)?;
    match alg_oid.as_str() {
        "1.2.840.113549.1.1.1" => {
            let bits = f[1].content.get(1..).ok_or_else(|| bad("empty key"))?;
            let rsa = derr::read_one(bits, tag::SEQUENCE)?;
            let nums = derr::children(rsa.content)?;
            if nums.len() != 2 {
                return Err(bad("malformed RSAPublicKey"));
            }
            let m = nums[0].content;
            let m = if m.first() == Some(&0) { &m[1..] } else { m };
            let e = nums[1].content;
            let exponent = if e.len() > 8 {
                u64::MAX
            } else {
                e.iter().fold(0u64, |a, b| (a << 8) | u64::from(*b))
            };
            let bits = if m.is_empty() {
                0
            } else {
                m.len() * 8 - m[0].leading_zeros() as usize
            };
            Ok(KeyInfo::Rsa {
                bits,
                exponent,
                modulus: m.to_vec(),
            })
        }
        "1.2.840.10045.2.1" => {
            let curve = alg
                .get(1)
                .filter(|t| t.tag == tag::OID)
                .ok_or_else(|| bad("EC key without a named curve"))?;
            Ok(KeyInfo::Ec {
                curve: derr::oid_to_string(curve.content)?,
            })
        }
        other => Ok(KeyInfo::Other(other.to_string())),
    }
}

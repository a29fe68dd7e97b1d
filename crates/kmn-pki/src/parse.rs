//! A strict, light parser of the certificates this CA makes, over [`crate::derr`]: the
//! lints read the to-be-signed bytes with it (so they check what will be signed, not
//! what the builder meant), and `kmn cert show` uses it for display.

#![deny(clippy::indexing_slicing, clippy::unwrap_used, clippy::expect_used)]

use const_oid::ObjectIdentifier as Oid;
use time::OffsetDateTime;

use crate::derr::{self, Tlv};
use crate::derw::tag;
use crate::{PkiError, name, oid};

/// One extension.
#[derive(Clone, Debug)]
pub struct Ext<'a> {
    /// Dotted OID.
    pub oid: String,
    /// The OID's content octets (compare with [`Ext::is`]).
    pub oid_der: &'a [u8],
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
    let [tbs_t, alg, sig] = derr::children_n::<3>(outer.content, "Certificate")
        .map_err(|_| bad("expected tbsCertificate, signatureAlgorithm, signature"))?;
    let tbs = tbs(tbs_t.raw)?;
    if alg.tag != tag::SEQUENCE {
        return Err(bad("signatureAlgorithm is not a SEQUENCE"));
    }
    let signature = match (sig.tag, sig.content.split_first()) {
        (tag::BIT_STRING, Some((0, bits))) => bits,
        _ => return Err(bad("signature is not a BIT STRING")),
    };
    Ok(Cert {
        tbs,
        signature_alg: alg.raw,
        signature,
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
        version = match v.content {
            [n @ 0..=2] => *n,
            _ => return Err(bad("bad version")),
        };
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
    let [not_before, not_after] = derr::children_n::<2>(validity.content, "validity")
        .map_err(|_| bad("validity must hold two times"))?;
    Ok(Tbs {
        version,
        serial: serial.content,
        signature_alg: signature_alg.raw,
        issuer: issuer.raw,
        not_before: time_field(&not_before)?,
        not_after: time_field(&not_after)?,
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
    let (id, crit, val) = match f.as_slice() {
        [id, val] => (id, false, val),
        [id, crit, val] => {
            if crit.tag != tag::BOOLEAN || crit.content != [0xff] {
                return Err(bad("extension criticality must be TRUE when present (DER)"));
            }
            (id, true, val)
        }
        _ => return Err(bad("extension has the wrong number of fields")),
    };
    if id.tag != tag::OID || val.tag != tag::OCTET_STRING {
        return Err(bad("extension fields have the wrong types"));
    }
    Ok(Ext {
        oid: derr::oid_to_string(id.content)?,
        oid_der: id.content,
        critical: crit,
        value: val.content,
    })
}

/// Parses a UTCTime or GeneralizedTime in the `…Z` form RFC 5280 requires.
pub fn time_field(t: &Tlv<'_>) -> Result<TimeField, PkiError> {
    let digits = |b: &[u8]| -> Option<u32> {
        if b.is_empty() || !b.iter().all(u8::is_ascii_digit) {
            return None;
        }
        Some(b.iter().fold(0u32, |a, d| a * 10 + u32::from(d - b'0')))
    };
    let (year, rest) = match (t.tag, t.content.len()) {
        (tag::UTC_TIME, 13) => {
            let (yy, rest) = t.content.split_at(2);
            let yy = digits(yy).ok_or_else(|| bad("bad UTCTime"))?;
            (if yy >= 50 { 1900 + yy } else { 2000 + yy }, rest)
        }
        (tag::GENERALIZED_TIME, 15) => {
            let (yyyy, rest) = t.content.split_at(4);
            (
                digits(yyyy).ok_or_else(|| bad("bad GeneralizedTime"))?,
                rest,
            )
        }
        _ => {
            return Err(bad(
                "time must be UTCTime YYMMDDHHMMSSZ or GeneralizedTime YYYYMMDDHHMMSSZ",
            ));
        }
    };
    // rest is MMDDHHMMSSZ: five two-digit fields and the Z.
    let [mo, d, h, mi, sec] = match rest {
        [m1, m2, d1, d2, h1, h2, i1, i2, s1, s2, b'Z'] => {
            [[*m1, *m2], [*d1, *d2], [*h1, *h2], [*i1, *i2], [*s1, *s2]]
        }
        _ => return Err(bad("time must be in UTC with seconds (…Z)")),
    };
    let n = |pair: [u8; 2]| -> Result<u8, PkiError> {
        digits(&pair)
            .and_then(|v| u8::try_from(v).ok())
            .ok_or_else(|| bad("time must be in UTC with seconds (…Z)"))
    };
    let year = i32::try_from(year).map_err(|_| bad("bad year"))?;
    let month = time::Month::try_from(n(mo)?).map_err(|_| bad("bad month"))?;
    let date = time::Date::from_calendar_date(year, month, n(d)?).map_err(|_| bad("bad date"))?;
    let tm = time::Time::from_hms(n(h)?, n(mi)?, n(sec)?).map_err(|_| bad("bad time of day"))?;
    Ok(TimeField {
        tag: t.tag,
        at: time::PrimitiveDateTime::new(date, tm).assume_utc(),
    })
}

impl Ext<'_> {
    /// Whether this is the extension `oid` (one of [`crate::oid`]'s constants).
    pub fn is(&self, oid: &Oid) -> bool {
        self.oid_der == oid.as_bytes()
    }
}

impl Tbs<'_> {
    /// The extension `oid` (one of [`crate::oid`]'s constants), if present.
    pub fn ext(&self, oid: &Oid) -> Option<&Ext<'_>> {
        self.extensions.iter().find(|e| e.is(oid))
    }

    /// The serial as lowercase hex of its unsigned value.
    pub fn serial_hex(&self) -> String {
        let s = match self.serial {
            [0, rest @ ..] if !rest.is_empty() => rest,
            s => s,
        };
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

/// The top-level fields of a CertificateList (RFC 5280 §5.1), read without walking the
/// revoked certificates: it costs the same for an empty CRL and for a million entries.
#[derive(Clone, Debug)]
pub struct CrlHead<'a> {
    /// The TBSCertList, whole (what the signature covers).
    pub tbs: &'a [u8],
    /// 0 = v1 (no version field), 1 = v2.
    pub version: u8,
    /// The issuer Name, whole.
    pub issuer: &'a [u8],
    /// thisUpdate.
    pub this_update: TimeField,
    /// nextUpdate, if present.
    pub next_update: Option<TimeField>,
    /// The revokedCertificates SEQUENCE's content, unread (absent when empty).
    pub revoked: Option<&'a [u8]>,
    /// The CRL extensions in order.
    pub extensions: Vec<Ext<'a>>,
    /// The outer signatureAlgorithm, whole.
    pub signature_alg: &'a [u8],
    /// The signature bits (without the unused-bits octet).
    pub signature: &'a [u8],
}

fn bad_crl(what: &str) -> PkiError {
    PkiError::BadInput(format!("malformed CRL: {what}"))
}

/// Parses the top-level fields of a DER CertificateList (RFC 5280 §5.1).
pub fn crl(der: &[u8]) -> Result<CrlHead<'_>, PkiError> {
    let outer = derr::read_one(der, tag::SEQUENCE)?;
    let [tbs_t, alg, sig] = derr::children_n::<3>(outer.content, "CertificateList")
        .map_err(|_| bad_crl("expected tbsCertList, signatureAlgorithm, signature"))?;
    if tbs_t.tag != tag::SEQUENCE || alg.tag != tag::SEQUENCE {
        return Err(bad_crl(
            "tbsCertList and signatureAlgorithm must be SEQUENCEs",
        ));
    }
    let signature = match (sig.tag, sig.content.split_first()) {
        (tag::BIT_STRING, Some((0, bits))) => bits,
        _ => return Err(bad_crl("signature is not a BIT STRING")),
    };
    let mut parts = derr::children(tbs_t.content)?.into_iter().peekable();
    let mut version = 0u8;
    if let Some(p) = parts.peek()
        && p.tag == tag::INTEGER
    {
        version = match p.content {
            [1] => 1,
            _ => return Err(bad_crl("the version must be v2 when present")),
        };
        parts.next();
    }
    let mut next = |what: &str| {
        parts
            .next()
            .ok_or_else(|| bad_crl(&format!("missing {what}")))
    };
    if next("signature")?.tag != tag::SEQUENCE {
        return Err(bad_crl("signature has the wrong type"));
    }
    let issuer = next("issuer")?;
    if issuer.tag != tag::SEQUENCE {
        return Err(bad_crl("issuer is not a Name"));
    }
    let this_update = time_field(&next("thisUpdate")?)?;
    let (mut next_update, mut revoked, mut extensions) = (None, None, Vec::new());
    let mut seen = 0u8; // 1: nextUpdate, 2: revokedCertificates, 3: extensions (in order)
    for p in parts {
        let order = match p.tag {
            tag::UTC_TIME | tag::GENERALIZED_TIME => 1,
            tag::SEQUENCE => 2,
            0xa0 => 3,
            _ => return Err(bad_crl("unexpected field after thisUpdate")),
        };
        if order <= seen {
            return Err(bad_crl("fields out of order or repeated"));
        }
        seen = order;
        match order {
            1 => next_update = Some(time_field(&p)?),
            2 => revoked = Some(p.content),
            _ => {
                if version != 1 {
                    return Err(bad_crl("extensions need a v2 CRL"));
                }
                let seq = derr::read_one(p.content, tag::SEQUENCE)?;
                for e in derr::children(seq.content)? {
                    extensions.push(extension(e)?);
                }
            }
        }
    }
    Ok(CrlHead {
        tbs: tbs_t.raw,
        version,
        issuer: issuer.raw,
        this_update,
        next_update,
        revoked,
        extensions,
        signature_alg: alg.raw,
        signature,
    })
}

impl CrlHead<'_> {
    /// The cRLNumber (RFC 5280 §5.2.3): `Ok(None)` when the CRL has none; an error when
    /// it is malformed, negative, or beyond what this CA counts to (`i64`).
    pub fn number(&self) -> Result<Option<i64>, PkiError> {
        let Some(e) = self.extensions.iter().find(|e| e.is(&oid::EXT_CRL_NUMBER)) else {
            return Ok(None);
        };
        let n = derr::read_one(e.value, tag::INTEGER)?;
        let digits = match n.content {
            [] => return Err(bad_crl("empty cRLNumber")),
            [first, ..] if first & 0x80 != 0 => return Err(bad_crl("negative cRLNumber")),
            [0, rest @ ..] => rest,
            all => all,
        };
        if digits.len() > 8 || (digits.len() == 8 && digits.first().is_some_and(|b| b & 0x80 != 0))
        {
            return Err(bad_crl("cRLNumber out of range"));
        }
        Ok(Some(
            digits.iter().fold(0i64, |a, b| (a << 8) | i64::from(*b)),
        ))
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
            if atv.tag != tag::SEQUENCE {
                return Err(bad("malformed AttributeTypeAndValue"));
            }
            let [ty, value] = derr::children_n::<2>(atv.content, "AttributeTypeAndValue")
                .map_err(|_| bad("malformed AttributeTypeAndValue"))?;
            if ty.tag != tag::OID {
                return Err(bad("malformed AttributeTypeAndValue"));
            }
            atvs.push((derr::oid_to_string(ty.content)?, value.tag, value.content));
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
    let [alg_t, key_t] = derr::children_n::<2>(spki.content, "SubjectPublicKeyInfo")
        .map_err(|_| bad("malformed SubjectPublicKeyInfo"))?;
    if alg_t.tag != tag::SEQUENCE || key_t.tag != tag::BIT_STRING {
        return Err(bad("malformed SubjectPublicKeyInfo"));
    }
    let alg = derr::children(alg_t.content)?;
    let alg_oid = derr::oid_to_string(alg.first().ok_or_else(|| bad("no algorithm"))?.content)?;
    match alg_oid.as_str() {
        "1.2.840.113549.1.1.1" => {
            let bits = match key_t.content.split_first() {
                Some((0, bits)) => bits,
                _ => return Err(bad("empty key")),
            };
            let rsa = derr::read_one(bits, tag::SEQUENCE)?;
            let [m, e] = derr::children_n::<2>(rsa.content, "RSAPublicKey")
                .map_err(|_| bad("malformed RSAPublicKey"))?;
            if m.tag != tag::INTEGER || e.tag != tag::INTEGER {
                return Err(bad("malformed RSAPublicKey"));
            }
            let m = match m.content {
                [0, rest @ ..] => rest,
                m => m,
            };
            let e = e.content;
            let exponent = if e.len() > 8 {
                u64::MAX
            } else {
                e.iter().fold(0u64, |a, b| (a << 8) | u64::from(*b))
            };
            let bits = match m.first() {
                None => 0,
                Some(top) => m.len().saturating_mul(8) - top.leading_zeros() as usize,
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

//! Certificate parsing (RFC 5280 §4) into the fields path validation needs.

#![deny(clippy::indexing_slicing, clippy::unwrap_used, clippy::expect_used)]

use der::asn1::ObjectIdentifier;

use crate::asn1::{
    PResult, ParseError, Reader, Tlv, bit_string_bytes, named_bits, parse_bool, parse_time,
    parse_u32, single, tag,
};
use crate::name::{Ava, Name, parse_rdn};

pub(crate) mod oid {
    use der::asn1::ObjectIdentifier as O;
    pub const SUBJECT_DIRECTORY_ATTRIBUTES: O = O::new_unwrap("2.5.29.9");
    pub const SUBJECT_KEY_ID: O = O::new_unwrap("2.5.29.14");
    pub const KEY_USAGE: O = O::new_unwrap("2.5.29.15");
    pub const SUBJECT_ALT_NAME: O = O::new_unwrap("2.5.29.17");
    pub const ISSUER_ALT_NAME: O = O::new_unwrap("2.5.29.18");
    pub const BASIC_CONSTRAINTS: O = O::new_unwrap("2.5.29.19");
    pub const CRL_NUMBER: O = O::new_unwrap("2.5.29.20");
    pub const CRL_REASON: O = O::new_unwrap("2.5.29.21");
    pub const HOLD_INSTRUCTION: O = O::new_unwrap("2.5.29.23");
    pub const INVALIDITY_DATE: O = O::new_unwrap("2.5.29.24");
    pub const DELTA_CRL_INDICATOR: O = O::new_unwrap("2.5.29.27");
    pub const ISSUING_DISTRIBUTION_POINT: O = O::new_unwrap("2.5.29.28");
    pub const CERTIFICATE_ISSUER: O = O::new_unwrap("2.5.29.29");
    pub const NAME_CONSTRAINTS: O = O::new_unwrap("2.5.29.30");
    pub const CRL_DISTRIBUTION_POINTS: O = O::new_unwrap("2.5.29.31");
    pub const CERTIFICATE_POLICIES: O = O::new_unwrap("2.5.29.32");
    pub const POLICY_MAPPINGS: O = O::new_unwrap("2.5.29.33");
    pub const AUTHORITY_KEY_ID: O = O::new_unwrap("2.5.29.35");
    pub const POLICY_CONSTRAINTS: O = O::new_unwrap("2.5.29.36");
    pub const EXT_KEY_USAGE: O = O::new_unwrap("2.5.29.37");
    pub const FRESHEST_CRL: O = O::new_unwrap("2.5.29.46");
    pub const INHIBIT_ANY_POLICY: O = O::new_unwrap("2.5.29.54");
    pub const AUTHORITY_INFO_ACCESS: O = O::new_unwrap("1.3.6.1.5.5.7.1.1");
    pub const SUBJECT_INFO_ACCESS: O = O::new_unwrap("1.3.6.1.5.5.7.1.11");
    pub const KP_SERVER_AUTH: O = O::new_unwrap("1.3.6.1.5.5.7.3.1");
    pub const KP_CLIENT_AUTH: O = O::new_unwrap("1.3.6.1.5.5.7.3.2");
    pub const KP_OCSP_SIGNING: O = O::new_unwrap("1.3.6.1.5.5.7.3.9");
}

/// keyUsage bits (RFC 5280 §4.2.1.3).
pub(crate) mod ku {
    pub const DIGITAL_SIGNATURE: u32 = 1 << 0;
    pub const NON_REPUDIATION: u32 = 1 << 1;
    pub const KEY_CERT_SIGN: u32 = 1 << 5;
    pub const CRL_SIGN: u32 = 1 << 6;
}

fn is(oid: &[u8], o: &ObjectIdentifier) -> bool {
    oid == o.as_bytes()
}

/// `AlgorithmIdentifier`: OID plus the raw parameters element, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AlgId {
    pub oid: Vec<u8>,
    pub params: Option<Vec<u8>>,
}

impl AlgId {
    pub(crate) fn parse(t: &Tlv<'_>) -> PResult<AlgId> {
        let mut r = t.reader();
        let oid = r.expect(tag::OID, "algorithm")?;
        let params = if r.is_empty() {
            None
        } else {
            Some(r.any()?.raw.to_vec())
        };
        r.finish("AlgorithmIdentifier")?;
        Ok(AlgId {
            oid: oid.value.to_vec(),
            params,
        })
    }
}

/// SubjectPublicKeyInfo.
#[derive(Debug, Clone)]
pub(crate) struct Spki {
    pub alg: AlgId,
    /// The subjectPublicKey BIT STRING contents.
    pub key: Vec<u8>,
}

#[derive(Debug, Clone)]
pub(crate) struct Extension {
    pub oid: Vec<u8>,
    pub critical: bool,
    pub value: Vec<u8>,
}

pub(crate) fn parse_extensions(t: &Tlv<'_>) -> PResult<Vec<Extension>> {
    let mut r = t.reader();
    let mut out: Vec<Extension> = Vec::new();
    while !r.is_empty() {
        let e = r.expect(tag::SEQUENCE, "Extension")?;
        let mut er = e.reader();
        let id = er.expect(tag::OID, "extnID")?;
        let critical = match er.optional(tag::BOOLEAN)? {
            Some(b) => parse_bool(&b)?,
            None => false,
        };
        let value = er.expect(tag::OCTET_STRING, "extnValue")?;
        er.finish("Extension")?;
        if out.iter().any(|x| x.oid == id.value) {
            return Err(ParseError(format!(
                "extension {} appears twice",
                crate::asn1::oid_to_string(id.value)
            )));
        }
        out.push(Extension {
            oid: id.value.to_vec(),
            critical,
            value: value.value.to_vec(),
        });
    }
    Ok(out)
}

/// The GeneralName forms path validation looks at.
#[derive(Debug, Clone)]
pub(crate) enum GeneralName {
    Rfc822(String),
    Dns(String),
    Uri(String),
    Directory(Name),
    Ip(Vec<u8>),
    Other(u8, Vec<u8>),
}

impl GeneralName {
    pub(crate) fn parse(t: &Tlv<'_>) -> PResult<GeneralName> {
        let text = |v: &[u8]| -> PResult<String> {
            if v.is_ascii() {
                Ok(String::from_utf8_lossy(v).into_owned())
            } else {
                Err(ParseError::new("GeneralName: non-ASCII IA5String"))
            }
        };
        Ok(match t.tag {
            0x81 => GeneralName::Rfc822(text(t.value)?),
            0x82 => GeneralName::Dns(text(t.value)?),
            0x86 => GeneralName::Uri(text(t.value)?),
            0x87 => GeneralName::Ip(t.value.to_vec()),
            0xa4 => {
                let n = single(t.value, tag::SEQUENCE, "directoryName")?;
                GeneralName::Directory(Name::parse(&n)?)
            }
            other => GeneralName::Other(other, t.value.to_vec()),
        })
    }

    /// The GeneralName choice number (rfc822Name = 1, dNSName = 2, ...).
    pub(crate) fn kind(&self) -> u8 {
        match self {
            GeneralName::Rfc822(_) => 1,
            GeneralName::Dns(_) => 2,
            GeneralName::Directory(_) => 4,
            GeneralName::Uri(_) => 6,
            GeneralName::Ip(_) => 7,
            GeneralName::Other(t, _) => t & 0x1f,
        }
    }

    /// Equality used when matching distribution point names.
    pub(crate) fn matches(&self, other: &GeneralName) -> bool {
        match (self, other) {
            (GeneralName::Directory(a), GeneralName::Directory(b)) => a.matches(b),
            (GeneralName::Rfc822(a), GeneralName::Rfc822(b))
            | (GeneralName::Dns(a), GeneralName::Dns(b))
            | (GeneralName::Uri(a), GeneralName::Uri(b)) => a.eq_ignore_ascii_case(b),
            (GeneralName::Ip(a), GeneralName::Ip(b)) => a == b,
            (GeneralName::Other(t1, a), GeneralName::Other(t2, b)) => t1 == t2 && a == b,
            _ => false,
        }
    }
}

/// Parses the contents of `GeneralNames` (a SEQUENCE OF GeneralName).
pub(crate) fn parse_general_names(value: &[u8]) -> PResult<Vec<GeneralName>> {
    let mut r = Reader::new(value);
    let mut out = Vec::new();
    while !r.is_empty() {
        out.push(GeneralName::parse(&r.any()?)?);
    }
    if out.is_empty() {
        return Err(ParseError::new("empty GeneralNames"));
    }
    Ok(out)
}

/// `DistributionPointName`.
#[derive(Debug, Clone)]
pub(crate) enum DpName {
    Full(Vec<GeneralName>),
    Relative(Vec<Ava>),
}

impl DpName {
    /// Parses the element inside the `[0]` wrapper.
    pub(crate) fn parse_wrapped(t: &Tlv<'_>) -> PResult<DpName> {
        let inner = single(
            t.value,
            t.value.first().copied().unwrap_or(0),
            "DistributionPointName",
        )?;
        match inner.tag {
            0xa0 => Ok(DpName::Full(parse_general_names(inner.value)?)),
            0xa1 => Ok(DpName::Relative(parse_rdn(inner.value)?)),
            _ => Err(ParseError::new("bad DistributionPointName")),
        }
    }

    /// Full names, resolving a relative name against `base`.
    pub(crate) fn full_names(&self, base: &Name) -> Vec<GeneralName> {
        match self {
            DpName::Full(v) => v.clone(),
            DpName::Relative(rdn) => vec![GeneralName::Directory(base.with_rdn(rdn))],
        }
    }
}

/// One entry of cRLDistributionPoints.
#[derive(Debug, Clone, Default)]
pub(crate) struct DistributionPoint {
    pub name: Option<DpName>,
    /// Reason bits (bit `i` = reason code `i`); `None` = all reasons.
    pub reasons: Option<u32>,
    pub crl_issuer: Option<Vec<GeneralName>>,
}

fn parse_crl_dps(value: &[u8]) -> PResult<Vec<DistributionPoint>> {
    let seq = single(value, tag::SEQUENCE, "cRLDistributionPoints")?;
    let mut r = seq.reader();
    let mut out = Vec::new();
    while !r.is_empty() {
        let dp = r.expect(tag::SEQUENCE, "DistributionPoint")?;
        let mut d = dp.reader();
        let name = match d.optional(tag::ctx_cons(0))? {
            Some(t) => Some(DpName::parse_wrapped(&t)?),
            None => None,
        };
        let reasons = match d.optional(tag::ctx(1))? {
            Some(t) => Some(named_bits(&t)?),
            None => None,
        };
        let crl_issuer = match d.optional(tag::ctx_cons(2))? {
            Some(t) => Some(parse_general_names(t.value)?),
            None => None,
        };
        d.finish("DistributionPoint")?;
        if name.is_none() && crl_issuer.is_none() {
            return Err(ParseError::new(
                "DistributionPoint has neither a name nor a cRLIssuer",
            ));
        }
        out.push(DistributionPoint {
            name,
            reasons,
            crl_issuer,
        });
    }
    Ok(out)
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct BasicConstraints {
    pub ca: bool,
    pub path_len: Option<u32>,
}

/// One name-constraints subtree (only the base is used; minimum/maximum are not in the profile).
#[derive(Debug, Clone)]
pub(crate) struct NameConstraints {
    pub permitted: Vec<GeneralName>,
    pub excluded: Vec<GeneralName>,
}

fn parse_subtrees(value: &[u8]) -> PResult<Vec<GeneralName>> {
    let mut r = Reader::new(value);
    let mut out = Vec::new();
    while !r.is_empty() {
        let st = r.expect(tag::SEQUENCE, "GeneralSubtree")?;
        let mut s = st.reader();
        out.push(GeneralName::parse(&s.any()?)?);
    }
    Ok(out)
}

/// A parsed certificate.
#[derive(Debug, Clone)]
pub(crate) struct Cert {
    pub der: Vec<u8>,
    pub tbs: Vec<u8>,
    pub outer_alg_raw: Vec<u8>,
    pub inner_alg_raw: Vec<u8>,
    pub inner_alg: AlgId,
    pub sig_alg: AlgId,
    pub signature: Vec<u8>,
    /// 0 = v1, 1 = v2, 2 = v3.
    pub version: u32,
    pub serial: Vec<u8>,
    pub issuer: Name,
    pub subject: Name,
    /// The subject Name element, header included (OCSP CertID issuerNameHash).
    pub subject_raw: Vec<u8>,
    /// The SubjectPublicKeyInfo element, header included.
    pub spki_raw: Vec<u8>,
    /// The subjectDirectoryAttributes extension's value, if present.
    pub subject_directory_attributes: Option<Vec<u8>>,
    pub not_before: i64,
    pub not_after: i64,
    pub spki: Spki,
    pub extensions: Vec<Extension>,
    pub basic_constraints: Option<BasicConstraints>,
    pub key_usage: Option<u32>,
    pub eku: Option<Vec<Vec<u8>>>,
    pub policies: Option<Vec<Vec<u8>>>,
    pub crl_dps: Option<Vec<DistributionPoint>>,
    pub ski: Option<Vec<u8>>,
    pub aki: Option<Vec<u8>>,
    pub san: Option<Vec<GeneralName>>,
    pub name_constraints: Option<NameConstraints>,
    /// Critical extensions this library does not process.
    pub unknown_critical: Vec<Vec<u8>>,
    /// Extensions RFC 5280 requires to be non-critical but that are marked critical.
    pub wrongly_critical: Vec<Vec<u8>>,
    /// The policy-processing extensions present (policyMappings, policyConstraints,
    /// inhibitAnyPolicy), critical or not.
    pub policy_controls: Vec<Vec<u8>>,
    pub subject_display: String,
}

impl Cert {
    pub(crate) fn parse(der: &[u8]) -> PResult<Cert> {
        let outer = single(der, tag::SEQUENCE, "Certificate")?;
        let mut r = outer.reader();
        let tbs = r.expect(tag::SEQUENCE, "tbsCertificate")?;
        let outer_alg = r.expect(tag::SEQUENCE, "signatureAlgorithm")?;
        let sig = r.expect(tag::BIT_STRING, "signatureValue")?;
        r.finish("Certificate")?;
        let signature = bit_string_bytes(&sig)?.to_vec();

        let mut t = tbs.reader();
        let version = match t.optional(tag::ctx_cons(0))? {
            Some(v) => {
                let i = single(v.value, tag::INTEGER, "version")?;
                let n = parse_u32(i.value)?;
                if n > 2 {
                    return Err(ParseError(format!("unknown certificate version {}", n + 1)));
                }
                n
            }
            None => 0,
        };
        let serial = t.expect(tag::INTEGER, "serialNumber")?;
        if serial.value.is_empty() {
            return Err(ParseError::new("empty serialNumber"));
        }
        let inner_alg = t.expect(tag::SEQUENCE, "signature")?;
        let issuer = Name::parse(&t.expect(tag::SEQUENCE, "issuer")?)?;
        let validity = t.expect(tag::SEQUENCE, "validity")?;
        let mut v = validity.reader();
        let not_before = parse_time(&v.any()?)?;
        let not_after = parse_time(&v.any()?)?;
        v.finish("validity")?;
        let subject_t = t.expect(tag::SEQUENCE, "subject")?;
        let subject = Name::parse(&subject_t)?;
        let spki_t = t.expect(tag::SEQUENCE, "subjectPublicKeyInfo")?;
        let mut s = spki_t.reader();
        let key_alg = AlgId::parse(&s.expect(tag::SEQUENCE, "algorithm")?)?;
        let key_bits = s.expect(tag::BIT_STRING, "subjectPublicKey")?;
        s.finish("subjectPublicKeyInfo")?;
        let spki = Spki {
            alg: key_alg,
            key: bit_string_bytes(&key_bits)?.to_vec(),
        };
        let issuer_uid = t.optional(tag::ctx(1))?;
        let subject_uid = t.optional(tag::ctx(2))?;
        if (issuer_uid.is_some() || subject_uid.is_some()) && version < 1 {
            return Err(ParseError::new("unique identifiers in a v1 certificate"));
        }
        let extensions = match t.optional(tag::ctx_cons(3))? {
            Some(e) => {
                if version < 2 {
                    return Err(ParseError::new("extensions in a pre-v3 certificate"));
                }
                let seq = single(e.value, tag::SEQUENCE, "extensions")?;
                parse_extensions(&seq)?
            }
            None => Vec::new(),
        };
        t.finish("tbsCertificate")?;

        let subject_display = subject.to_string();
        let mut cert = Cert {
            der: der.to_vec(),
            tbs: tbs.raw.to_vec(),
            outer_alg_raw: outer_alg.raw.to_vec(),
            inner_alg_raw: inner_alg.raw.to_vec(),
            inner_alg: AlgId::parse(&inner_alg)?,
            sig_alg: AlgId::parse(&outer_alg)?,
            signature,
            version,
            serial: serial.value.to_vec(),
            issuer,
            subject,
            subject_raw: subject_t.raw.to_vec(),
            spki_raw: spki_t.raw.to_vec(),
            subject_directory_attributes: None,
            not_before,
            not_after,
            spki,
            extensions: Vec::new(),
            basic_constraints: None,
            key_usage: None,
            eku: None,
            policies: None,
            crl_dps: None,
            ski: None,
            aki: None,
            san: None,
            name_constraints: None,
            unknown_critical: Vec::new(),
            wrongly_critical: Vec::new(),
            policy_controls: Vec::new(),
            subject_display,
        };
        for ext in &extensions {
            cert.apply_extension(ext).map_err(|e| {
                ParseError(format!(
                    "extension {}: {e}",
                    crate::asn1::oid_to_string(&ext.oid)
                ))
            })?;
        }
        cert.extensions = extensions;
        Ok(cert)
    }

    fn apply_extension(&mut self, ext: &Extension) -> PResult<()> {
        let id = ext.oid.as_slice();
        let v = ext.value.as_slice();
        if ext.critical && Self::must_not_be_critical(id) {
            self.wrongly_critical.push(ext.oid.clone());
        }
        if [
            oid::POLICY_MAPPINGS,
            oid::POLICY_CONSTRAINTS,
            oid::INHIBIT_ANY_POLICY,
        ]
        .iter()
        .any(|o| is(id, o))
        {
            self.policy_controls.push(ext.oid.clone());
        }
        if is(id, &oid::BASIC_CONSTRAINTS) {
            let seq = single(v, tag::SEQUENCE, "basicConstraints")?;
            let mut r = seq.reader();
            let ca = match r.optional(tag::BOOLEAN)? {
                Some(b) => parse_bool(&b)?,
                None => false,
            };
            let path_len = match r.optional(tag::INTEGER)? {
                Some(i) => Some(parse_u32(i.value)?),
                None => None,
            };
            r.finish("basicConstraints")?;
            self.basic_constraints = Some(BasicConstraints { ca, path_len });
        } else if is(id, &oid::KEY_USAGE) {
            let bits = single(v, tag::BIT_STRING, "keyUsage")?;
            self.key_usage = Some(named_bits(&bits)?);
        } else if is(id, &oid::EXT_KEY_USAGE) {
            let seq = single(v, tag::SEQUENCE, "extKeyUsage")?;
            let mut r = seq.reader();
            let mut list = Vec::new();
            while !r.is_empty() {
                list.push(r.expect(tag::OID, "KeyPurposeId")?.value.to_vec());
            }
            self.eku = Some(list);
        } else if is(id, &oid::CERTIFICATE_POLICIES) {
            let seq = single(v, tag::SEQUENCE, "certificatePolicies")?;
            let mut r = seq.reader();
            let mut list = Vec::new();
            while !r.is_empty() {
                let pi = r.expect(tag::SEQUENCE, "PolicyInformation")?;
                let mut p = pi.reader();
                list.push(p.expect(tag::OID, "policyIdentifier")?.value.to_vec());
            }
            self.policies = Some(list);
        } else if is(id, &oid::CRL_DISTRIBUTION_POINTS) {
            self.crl_dps = Some(parse_crl_dps(v)?);
        } else if is(id, &oid::SUBJECT_KEY_ID) {
            self.ski = Some(
                single(v, tag::OCTET_STRING, "subjectKeyIdentifier")?
                    .value
                    .to_vec(),
            );
        } else if is(id, &oid::AUTHORITY_KEY_ID) {
            let seq = single(v, tag::SEQUENCE, "authorityKeyIdentifier")?;
            let mut r = seq.reader();
            self.aki = r.optional(tag::ctx(0))?.map(|k| k.value.to_vec());
        } else if is(id, &oid::SUBJECT_ALT_NAME) {
            let seq = single(v, tag::SEQUENCE, "subjectAltName")?;
            self.san = Some(parse_general_names(seq.value)?);
        } else if is(id, &oid::NAME_CONSTRAINTS) {
            let seq = single(v, tag::SEQUENCE, "nameConstraints")?;
            let mut r = seq.reader();
            let permitted = match r.optional(tag::ctx_cons(0))? {
                Some(t) => parse_subtrees(t.value)?,
                None => Vec::new(),
            };
            let excluded = match r.optional(tag::ctx_cons(1))? {
                Some(t) => parse_subtrees(t.value)?,
                None => Vec::new(),
            };
            r.finish("nameConstraints")?;
            self.name_constraints = Some(NameConstraints {
                permitted,
                excluded,
            });
        } else if is(id, &oid::SUBJECT_DIRECTORY_ATTRIBUTES) {
            self.subject_directory_attributes = Some(v.to_vec());
        } else if ext.critical && !Self::recognised_without_processing(id) {
            self.unknown_critical.push(ext.oid.clone());
        }
        Ok(())
    }

    /// Extensions not counted as unknown when critical: the policy-processing ones (refused
    /// anyway, with their own reason: `policy_controls`) and the informational ones (those
    /// RFC 5280 requires to be non-critical are refused through `wrongly_critical`).
    fn recognised_without_processing(id: &[u8]) -> bool {
        [
            oid::POLICY_MAPPINGS,
            oid::POLICY_CONSTRAINTS,
            oid::INHIBIT_ANY_POLICY,
            oid::ISSUER_ALT_NAME,
            oid::SUBJECT_DIRECTORY_ATTRIBUTES,
            oid::AUTHORITY_INFO_ACCESS,
            oid::SUBJECT_INFO_ACCESS,
            oid::FRESHEST_CRL,
        ]
        .iter()
        .any(|o| is(id, o))
    }

    /// Extensions RFC 5280 says conforming CAs MUST mark non-critical: authorityKeyIdentifier
    /// (§4.2.1.1), subjectKeyIdentifier (§4.2.1.2), subjectDirectoryAttributes (§4.2.1.8),
    /// freshestCRL (§4.2.1.15), authorityInfoAccess (§4.2.2.1), subjectInfoAccess (§4.2.2.2).
    fn must_not_be_critical(id: &[u8]) -> bool {
        [
            oid::AUTHORITY_KEY_ID,
            oid::SUBJECT_KEY_ID,
            oid::SUBJECT_DIRECTORY_ATTRIBUTES,
            oid::FRESHEST_CRL,
            oid::AUTHORITY_INFO_ACCESS,
            oid::SUBJECT_INFO_ACCESS,
        ]
        .iter()
        .any(|o| is(id, o))
    }

    pub(crate) fn is_self_issued(&self) -> bool {
        self.issuer.matches(&self.subject)
    }

    /// cA asserted in basicConstraints (v3 only).
    pub(crate) fn is_ca(&self) -> bool {
        self.version == 2 && self.basic_constraints.is_some_and(|b| b.ca)
    }

    pub(crate) fn has_key_usage(&self, bit: u32) -> bool {
        self.key_usage.is_none_or(|k| k & bit != 0)
    }
}

#[cfg(test)]
#[allow(clippy::indexing_slicing, clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn named_bits_order() {
        // keyUsage keyCertSign + cRLSign: BIT STRING 03 02 01 06
        let t = single(&[0x03, 0x02, 0x01, 0x06], tag::BIT_STRING, "ku").unwrap();
        let m = named_bits(&t).unwrap();
        assert_eq!(m, ku::KEY_CERT_SIGN | ku::CRL_SIGN);
        // digitalSignature: 03 02 07 80
        let t = single(&[0x03, 0x02, 0x07, 0x80], tag::BIT_STRING, "ku").unwrap();
        assert_eq!(named_bits(&t).unwrap(), ku::DIGITAL_SIGNATURE);
    }
}

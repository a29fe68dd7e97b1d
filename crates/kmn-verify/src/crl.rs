//! CRL parsing (RFC 5280 §5).

use crate::asn1::{
    PResult, ParseError, bit_string_bytes, named_bits, parse_bool, parse_time, parse_u32, single,
    tag,
};
use crate::cert::{AlgId, DpName, Extension, GeneralName, oid, parse_extensions, parse_general_names};
use crate::name::Name;

/// CRLReason codes (RFC 5280 §5.3.1).
pub(crate) fn reason_name(code: u32) -> &'static str {
    match code {
        0 => "unspecified",
        1 => "keyCompromise",
        2 => "cACompromise",
        3 => "affiliationChanged",
        4 => "superseded",
        5 => "cessationOfOperation",
        6 => "certificateHold",
        8 => "removeFromCRL",
        9 => "privilegeWithdrawn",
        10 => "aACompromise",
        _ => "unknown reason",
    }
}

pub(crate) const REMOVE_FROM_CRL: u32 = 8;

/// All ReasonFlags bits that count for coverage: keyCompromise(1) .. aACompromise(8).
pub(crate) const ALL_REASONS: u32 = 0b1_1111_1110;

#[derive(Debug, Clone)]
pub(crate) struct Idp {
    pub dp: Option<DpName>,
    pub only_user: bool,
    pub only_ca: bool,
    pub only_some_reasons: Option<u32>,
    pub indirect: bool,
    pub only_attribute: bool,
}

#[derive(Debug, Clone)]
pub(crate) struct Entry {
    pub serial: Vec<u8>,
    pub revocation_date: i64,
    pub reason: Option<u32>,
    /// Issuer of the revoked certificate: the CRL issuer, or for indirect CRLs the names of the
    /// latest certificateIssuer entry extension.
    pub cert_issuer: Option<Vec<GeneralName>>,
}

#[derive(Debug, Clone)]
pub(crate) struct Crl {
    pub tbs: Vec<u8>,
    pub outer_alg_raw: Vec<u8>,
    pub inner_alg_raw: Vec<u8>,
    pub sig_alg: AlgId,
    pub signature: Vec<u8>,
    pub issuer: Name,
    pub issuer_display: String,
    pub this_update: i64,
    pub next_update: Option<i64>,
    pub entries: Vec<Entry>,
    pub idp: Option<Idp>,
    pub is_delta: bool,
    pub aki: Option<Vec<u8>>,
    /// Unknown critical CRL extensions.
    pub unknown_critical: Vec<Vec<u8>>,
    /// Unknown critical CRL entry extensions (any entry).
    pub unknown_critical_entry: Vec<Vec<u8>>,
}

fn is(id: &[u8], o: &der::asn1::ObjectIdentifier) -> bool {
    id == o.as_bytes()
}

fn parse_idp(v: &[u8]) -> PResult<Idp> {
    let seq = single(v, tag::SEQUENCE, "issuingDistributionPoint")?;
    let mut r = seq.reader();
    let dp = match r.optional(tag::ctx_cons(0))? {
        Some(t) => Some(DpName::parse_wrapped(&t)?),
        None => None,
    };
    let flag = |t: Option<crate::asn1::Tlv<'_>>| -> PResult<bool> {
        match t {
            Some(t) => parse_bool(&t),
            None => Ok(false),
        }
    };
    let only_user = flag(r.optional(tag::ctx(1))?)?;
    let only_ca = flag(r.optional(tag::ctx(2))?)?;
    let only_some_reasons = match r.optional(tag::ctx(3))? {
        Some(t) => Some(named_bits(&t)?),
        None => None,
    };
    let indirect = flag(r.optional(tag::ctx(4))?)?;
    let only_attribute = flag(r.optional(tag::ctx(5))?)?;
    r.finish("issuingDistributionPoint")?;
    Ok(Idp {
        dp,
        only_user,
        only_ca,
        only_some_reasons,
        indirect,
        only_attribute,
    })
}

impl Crl {
    pub(crate) fn parse(der: &[u8]) -> PResult<Crl> {
        let outer = single(der, tag::SEQUENCE, "CertificateList")?;
        let mut r = outer.reader();
        let tbs = r.expect(tag::SEQUENCE, "tbsCertList")?;
        let outer_alg = r.expect(tag::SEQUENCE, "signatureAlgorithm")?;
        let sig = r.expect(tag::BIT_STRING, "signatureValue")?;
        r.finish("CertificateList")?;

        let mut t = tbs.reader();
        let version = match t.optional(tag::INTEGER)? {
            Some(v) => parse_u32(v.value)?,
            None => 0,
        };
        if version > 1 {
            return Err(ParseError(format!("unknown CRL version {}", version + 1)));
        }
        let inner_alg = t.expect(tag::SEQUENCE, "signature")?;
        let issuer = Name::parse(&t.expect(tag::SEQUENCE, "issuer")?)?;
        let this_update = parse_time(&t.any()?)?;
        let next_update = match t.peek_tag() {
            Some(tag::UTC_TIME) | Some(tag::GENERALIZED_TIME) => Some(parse_time(&t.any()?)?),
            _ => None,
        };
        let revoked = t.optional(tag::SEQUENCE)?;
        let exts = match t.optional(tag::ctx_cons(0))? {
            Some(e) => {
                if version < 1 {
                    return Err(ParseError::new("extensions in a v1 CRL"));
                }
                parse_extensions(&single(e.value, tag::SEQUENCE, "crlExtensions")?)?
            }
            None => Vec::new(),
        };
        t.finish("tbsCertList")?;

        let mut idp = None;
        let mut is_delta = false;
        let mut aki = None;
        let mut unknown_critical = Vec::new();
        for e in &exts {
            let id = e.oid.as_slice();
            let wrap = |err: ParseError| {
                ParseError(format!(
                    "CRL extension {}: {err}",
                    crate::asn1::oid_to_string(id)
                ))
            };
            if is(id, &oid::ISSUING_DISTRIBUTION_POINT) {
                idp = Some(parse_idp(&e.value).map_err(wrap)?);
            } else if is(id, &oid::DELTA_CRL_INDICATOR) {
                is_delta = true;
            } else if is(id, &oid::AUTHORITY_KEY_ID) {
                let seq = single(&e.value, tag::SEQUENCE, "authorityKeyIdentifier").map_err(wrap)?;
                let mut r = seq.reader();
                aki = r.optional(tag::ctx(0)).map_err(wrap)?.map(|k| k.value.to_vec());
            } else if e.critical
                && ![
                    oid::CRL_NUMBER,
                    oid::ISSUER_ALT_NAME,
                    oid::FRESHEST_CRL,
                    oid::AUTHORITY_INFO_ACCESS,
                ]
                .iter()
                .any(|o| is(id, o))
            {
                unknown_critical.push(e.oid.clone());
            }
        }

        let indirect = idp.as_ref().is_some_and(|i| i.indirect);
        let mut entries = Vec::new();
        let mut unknown_critical_entry = Vec::new();
        let mut current_issuer: Option<Vec<GeneralName>> = None;
        if let Some(rev) = revoked {
            let mut rr = rev.reader();
            while !rr.is_empty() {
                let e = rr.expect(tag::SEQUENCE, "revokedCertificate")?;
                let mut er = e.reader();
                let serial = er.expect(tag::INTEGER, "userCertificate")?;
                let revocation_date = parse_time(&er.any()?)?;
                let eexts: Vec<Extension> = match er.optional(tag::SEQUENCE)? {
                    Some(x) => parse_extensions(&x)?,
                    None => Vec::new(),
                };
                er.finish("revokedCertificate")?;
                let mut reason = None;
                for x in &eexts {
                    let id = x.oid.as_slice();
                    if is(id, &oid::CRL_REASON) {
                        let en = single(&x.value, tag::ENUMERATED, "reasonCode")?;
                        reason = Some(parse_u32(en.value)?);
                    } else if is(id, &oid::CERTIFICATE_ISSUER) {
                        let seq = single(&x.value, tag::SEQUENCE, "certificateIssuer")?;
                        if indirect {
                            current_issuer = Some(parse_general_names(seq.value)?);
                        }
                    } else if x.critical
                        && ![oid::INVALIDITY_DATE, oid::HOLD_INSTRUCTION]
                            .iter()
                            .any(|o| is(id, o))
                    {
                        unknown_critical_entry.push(x.oid.clone());
                    }
                }
                entries.push(Entry {
                    serial: serial.value.to_vec(),
                    revocation_date,
                    reason,
                    cert_issuer: current_issuer.clone(),
                });
            }
        }

        Ok(Crl {
            tbs: tbs.raw.to_vec(),
            outer_alg_raw: outer_alg.raw.to_vec(),
            inner_alg_raw: inner_alg.raw.to_vec(),
            sig_alg: AlgId::parse(&outer_alg)?,
            signature: bit_string_bytes(&sig)?.to_vec(),
            issuer_display: issuer.to_string(),
            issuer,
            this_update,
            next_update,
            entries,
            idp,
            is_delta,
            aki,
            unknown_critical,
            unknown_critical_entry,
        })
    }
}

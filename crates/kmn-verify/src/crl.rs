//! CRL parsing (RFC 5280 §5).

#![deny(clippy::indexing_slicing, clippy::unwrap_used, clippy::expect_used)]

use crate::asn1::{
    PResult, ParseError, bit_string_bytes, named_bits, parse_bool, parse_time, parse_u32, single,
    tag,
};
use crate::cert::{
    AlgId, DpName, Extension, GeneralName, oid, parse_extensions, parse_general_names,
};
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

/// A revocation entry that matched a certificate.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    pub revocation_date: i64,
    pub reason: Option<u32>,
}

/// One decoded revokedCertificates element.
struct RawEntry<'a> {
    serial: &'a [u8],
    revocation_date: i64,
    reason: Option<u32>,
    /// certificateIssuer names, if the entry carries that extension.
    cert_issuer: Option<Vec<GeneralName>>,
    /// Critical entry extensions this library does not know.
    unknown_critical: Option<Vec<u8>>,
}

fn parse_entry<'a>(e: &crate::asn1::Tlv<'a>) -> PResult<RawEntry<'a>> {
    let mut er = e.reader();
    let serial = er.expect(tag::INTEGER, "userCertificate")?;
    let revocation_date = parse_time(&er.any()?)?;
    let eexts: Vec<Extension> = match er.optional(tag::SEQUENCE)? {
        Some(x) => parse_extensions(&x)?,
        None => Vec::new(),
    };
    er.finish("revokedCertificate")?;
    let mut out = RawEntry {
        serial: serial.value,
        revocation_date,
        reason: None,
        cert_issuer: None,
        unknown_critical: None,
    };
    for x in &eexts {
        let id = x.oid.as_slice();
        if is(id, &oid::CRL_REASON) {
            let en = single(&x.value, tag::ENUMERATED, "reasonCode")?;
            out.reason = Some(parse_u32(en.value)?);
        } else if is(id, &oid::CERTIFICATE_ISSUER) {
            let seq = single(&x.value, tag::SEQUENCE, "certificateIssuer")?;
            out.cert_issuer = Some(parse_general_names(seq.value)?);
        } else if x.critical
            && ![oid::INVALIDITY_DATE, oid::HOLD_INSTRUCTION]
                .iter()
                .any(|o| is(id, o))
        {
            out.unknown_critical.get_or_insert_with(|| x.oid.clone());
        }
    }
    Ok(out)
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
    /// Byte range of the revokedCertificates contents inside `tbs` (entries are decoded on
    /// demand, so that CRLs with a million entries stay cheap).
    revoked: Option<(usize, usize)>,
    pub indirect: bool,
    pub idp: Option<Idp>,
    pub is_delta: bool,
    pub aki: Option<Vec<u8>>,
    /// Extensions marked critical that RFC 5280 requires to be non-critical in a CRL:
    /// authorityKeyIdentifier (§5.2.1), freshestCRL (§5.2.6), authorityInfoAccess (§5.2.7).
    pub wrongly_critical: Vec<Vec<u8>>,
    /// cRLNumber (RFC 5280 §5.2.3), the INTEGER's content octets.
    pub number: Option<Vec<u8>>,
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
    /// Looks up the entry for a certificate with `serial` issued by `cert_issuer`. In an
    /// indirect CRL, entries belong to the CRL issuer until a certificateIssuer entry extension
    /// names another issuer, which then applies to that entry and the following ones.
    pub(crate) fn lookup(&self, serial: &[u8], cert_issuer: &Name) -> Option<Entry> {
        let (start, end) = self.revoked?;
        let mut rr = crate::asn1::Reader::new(self.tbs.get(start..end)?);
        let mut current_is_ours = self.issuer.matches(cert_issuer);
        while !rr.is_empty() {
            // The contents were validated in `parse`.
            let e = rr.expect(tag::SEQUENCE, "revokedCertificate").ok()?;
            if !self.indirect {
                // Fast path: only the serial number matters.
                let first = e.reader().expect(tag::INTEGER, "userCertificate").ok()?;
                if first.value != serial {
                    continue;
                }
            }
            let entry = parse_entry(&e).ok()?;
            if self.indirect
                && let Some(names) = &entry.cert_issuer
            {
                current_is_ours = names
                    .iter()
                    .any(|g| matches!(g, GeneralName::Directory(n) if n.matches(cert_issuer)));
            }
            if entry.serial == serial && current_is_ours {
                return Some(Entry {
                    revocation_date: entry.revocation_date,
                    reason: entry.reason,
                });
            }
        }
        None
    }

    /// Calls `f(serial, revocationDate, reason, has_certificate_issuer)` for every entry, in
    /// order (the revocation index is built from this, once per CRL).
    pub(crate) fn for_each_entry(
        &self,
        mut f: impl FnMut(&[u8], i64, Option<u32>, bool) -> Result<(), String>,
    ) -> Result<(), String> {
        let Some((start, end)) = self.revoked else {
            return Ok(());
        };
        let bytes = self
            .tbs
            .get(start..end)
            .ok_or("revokedCertificates out of range")?;
        let mut rr = crate::asn1::Reader::new(bytes);
        while !rr.is_empty() {
            let e = rr
                .expect(tag::SEQUENCE, "revokedCertificate")
                .map_err(|e| e.to_string())?;
            let entry = parse_entry(&e).map_err(|e| e.to_string())?;
            f(
                entry.serial,
                entry.revocation_date,
                entry.reason,
                entry.cert_issuer.is_some(),
            )?;
        }
        Ok(())
    }

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
        // Offset in tbs.raw of the element read next (header of tbs + what has been read).
        let revoked_at = (tbs.raw.len() - tbs.value.len()) + (tbs.value.len() - t.remaining());
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
        let mut wrongly_critical = Vec::new();
        let mut number = None;
        let mut unknown_critical = Vec::new();
        for e in &exts {
            let id = e.oid.as_slice();
            if e.critical
                && [
                    oid::AUTHORITY_KEY_ID,
                    oid::FRESHEST_CRL,
                    oid::AUTHORITY_INFO_ACCESS,
                ]
                .iter()
                .any(|o| is(id, o))
            {
                wrongly_critical.push(e.oid.clone());
            }
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
                let seq =
                    single(&e.value, tag::SEQUENCE, "authorityKeyIdentifier").map_err(wrap)?;
                let mut r = seq.reader();
                aki = r
                    .optional(tag::ctx(0))
                    .map_err(wrap)?
                    .map(|k| k.value.to_vec());
            } else if is(id, &oid::CRL_NUMBER) {
                let n = single(&e.value, tag::INTEGER, "cRLNumber").map_err(wrap)?;
                match n.value {
                    [] => return Err(wrap(ParseError::new("empty INTEGER"))),
                    [first, ..] if first & 0x80 != 0 => {
                        return Err(wrap(ParseError::new("a negative cRLNumber")));
                    }
                    _ => {}
                }
                // RFC 5280 §5.2.3: at most 20 octets.
                if n.value.len() > 21 || (n.value.len() == 21 && n.value.first() != Some(&0)) {
                    return Err(wrap(ParseError::new("a cRLNumber longer than 20 octets")));
                }
                number = Some(n.value.to_vec());
            } else if e.critical
                && ![
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
        let mut unknown_critical_entry = Vec::new();
        let revoked_range = match revoked {
            Some(rev) => {
                // One validating pass; nothing is kept but unknown critical entry extensions.
                let mut rr = rev.reader();
                while !rr.is_empty() {
                    let e = rr.expect(tag::SEQUENCE, "revokedCertificate")?;
                    let entry = parse_entry(&e)?;
                    if let Some(o) = entry.unknown_critical
                        && !unknown_critical_entry.contains(&o)
                    {
                        unknown_critical_entry.push(o);
                    }
                }
                let start = revoked_at + (rev.raw.len() - rev.value.len());
                Some((start, start + rev.value.len()))
            }
            None => None,
        };

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
            revoked: revoked_range,
            indirect,
            idp,
            is_delta,
            aki,
            wrongly_critical,
            number,
            unknown_critical,
            unknown_critical_entry,
        })
    }
}

#[cfg(test)]
#[allow(clippy::indexing_slicing, clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn tlv(tag: u8, v: &[u8]) -> Vec<u8> {
        let n = v.len();
        let mut out = vec![tag];
        if n < 0x80 {
            out.push(n as u8);
        } else {
            let bytes = (n as u32).to_be_bytes();
            let skip = bytes.iter().take_while(|b| **b == 0).count();
            out.push(0x80 | (4 - skip) as u8);
            out.extend_from_slice(&bytes[skip..]);
        }
        out.extend_from_slice(v);
        out
    }

    /// An (unsigned) v2 CRL with `n` entries, serials 0x010000.. and reason keyCompromise.
    fn synthetic_crl(n: u32) -> Vec<u8> {
        let mut entries = Vec::new();
        for i in 0..n {
            let mut e = tlv(
                tag::INTEGER,
                &[0x01, (i >> 16) as u8, (i >> 8) as u8, i as u8],
            );
            e.extend(tlv(tag::UTC_TIME, b"260101000000Z"));
            let reason = [
                tlv(tag::OID, &[0x55, 0x1d, 0x15]),
                tlv(tag::OCTET_STRING, &tlv(tag::ENUMERATED, &[1])),
            ]
            .concat();
            e.extend(tlv(tag::SEQUENCE, &tlv(tag::SEQUENCE, &reason)));
            entries.extend(tlv(tag::SEQUENCE, &e));
        }
        let alg = tlv(
            tag::SEQUENCE,
            &tlv(tag::OID, &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02]),
        );
        let cn = [
            tlv(tag::OID, &[0x55, 4, 3]),
            tlv(tag::UTF8_STRING, b"Big CA"),
        ]
        .concat();
        let name = tlv(tag::SEQUENCE, &tlv(tag::SET, &tlv(tag::SEQUENCE, &cn)));
        let tbs = [
            tlv(tag::INTEGER, &[1]),
            alg.clone(),
            name,
            tlv(tag::UTC_TIME, b"260101000000Z"),
            tlv(tag::GENERALIZED_TIME, b"20500101000000Z"),
            tlv(tag::SEQUENCE, &entries),
        ]
        .concat();
        tlv(
            tag::SEQUENCE,
            &[
                tlv(tag::SEQUENCE, &tbs),
                alg,
                tlv(tag::BIT_STRING, &[0, 1, 2]),
            ]
            .concat(),
        )
    }

    #[test]
    fn lookup_in_a_large_crl() {
        let crl = Crl::parse(&synthetic_crl(20_000)).unwrap();
        assert_eq!(crl.issuer_display, "CN=Big CA");
        assert_eq!(
            crate::asn1::fmt_time(crl.next_update.unwrap()),
            "2050-01-01T00:00:00Z"
        );
        let issuer = crl.issuer.clone();
        let last = crl.lookup(&[0x01, 0x00, 0x4e, 0x1f], &issuer).unwrap();
        assert_eq!(last.reason, Some(1));
        assert!(crl.lookup(&[0x01, 0x00, 0x4e, 0x20], &issuer).is_none());
        assert!(crl.lookup(&[0x01, 0x00, 0x00, 0x00], &issuer).is_some());
        assert!(crl.unknown_critical_entry.is_empty());
    }
}

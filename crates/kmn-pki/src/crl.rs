//! The streaming CRL encoder (RFC 5280 §5) with its lints.
//!
//! Two passes over the entries: the first lints each entry and sums the encoded sizes,
//! the second writes the DER straight into one buffer of the final size. Nothing is
//! re-parsed; one CRL of a million entries needs the entries and the output, no more.

use kmn_domain::{CrlNumber, RevocationReason};
use time::OffsetDateTime;

use crate::cert::IssuerInfo;
use crate::derw::{self, tag};
use crate::keys::Signer;
use crate::lint::LintFailure;
use crate::{PkiError, ext, oid};

/// One revoked certificate, compact (no heap allocation per entry).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CrlEntry {
    serial: [u8; 20],
    serial_len: u8,
    /// revocationDate, Unix seconds.
    pub revoked_at: i64,
    /// RFC 5280 reason code.
    pub reason: u8,
    /// invalidityDate, Unix seconds; 0 when absent.
    pub invalidity: i64,
}

impl CrlEntry {
    /// Builds an entry from a serial's unsigned bytes.
    pub fn new(
        serial: &[u8],
        revoked_at: i64,
        reason: RevocationReason,
        invalidity: Option<i64>,
    ) -> Result<Self, PkiError> {
        let serial = strip_zeros(serial);
        if serial.is_empty() || serial.len() > 20 {
            return Err(PkiError::BadInput(
                "a CRL entry's serial must have 1 to 20 octets".into(),
            ));
        }
        let mut s = [0u8; 20];
        s[..serial.len()].copy_from_slice(serial);
        Ok(Self {
            serial: s,
            serial_len: serial.len() as u8,
            revoked_at,
            reason: reason.code(),
            invalidity: invalidity.unwrap_or(0),
        })
    }

    /// The serial's unsigned bytes.
    pub fn serial(&self) -> &[u8] {
        &self.serial[..self.serial_len as usize]
    }
}

fn strip_zeros(b: &[u8]) -> &[u8] {
    let i = b.iter().position(|x| *x != 0).unwrap_or(b.len());
    &b[i..]
}

/// The fields of one CRL.
#[derive(Clone, Debug)]
pub struct CrlParams {
    /// cRLNumber.
    pub number: CrlNumber,
    /// thisUpdate.
    pub this_update: OffsetDateTime,
    /// nextUpdate.
    pub next_update: OffsetDateTime,
    /// The previous CRL of this issuer, if any: (number, thisUpdate).
    pub previous: Option<(CrlNumber, OffsetDateTime)>,
}

fn fail(rule: &'static str, detail: impl Into<String>) -> PkiError {
    PkiError::Lint(LintFailure {
        rule,
        detail: detail.into(),
    })
}

fn unix(t: i64) -> Result<OffsetDateTime, PkiError> {
    OffsetDateTime::from_unix_timestamp(t)
        .map_err(|_| PkiError::BadInput("time out of range".into()))
}

/// Lints the CRL header fields (RFC 5280 §5.1.2, DESIGN §4).
pub fn lint_header(p: &CrlParams, issuer: &IssuerInfo) -> Result<(), PkiError> {
    if p.number.0 < 0 {
        return Err(fail(
            "e_crl_number_non_negative",
            "the CRL number must not be negative",
        ));
    }
    if p.next_update <= p.this_update {
        return Err(fail(
            "e_crl_next_update_after_this_update",
            "nextUpdate must be after thisUpdate",
        ));
    }
    if let Some((n, t)) = p.previous {
        if p.number <= n {
            return Err(fail(
                "e_crl_number_increasing",
                format!("CRL number {} is not above the last one, {}", p.number, n),
            ));
        }
        if p.this_update < t {
            return Err(fail(
                "e_crl_this_update_monotonic",
                "thisUpdate is earlier than the previous CRL's",
            ));
        }
    }
    if p.this_update < issuer.not_before {
        return Err(fail(
            "e_crl_within_issuer_validity",
            "thisUpdate is before the CA's notBefore",
        ));
    }
    if p.this_update > issuer.not_after {
        return Err(fail(
            "e_crl_within_issuer_validity",
            "the CA certificate has expired",
        ));
    }
    Ok(())
}

/// Lints one entry; `prev` is the previous entry's serial (entries come sorted).
fn lint_entry(e: &CrlEntry, prev: Option<&[u8]>, this_update: i64) -> Result<(), PkiError> {
    let reason = RevocationReason::from_code(e.reason).ok_or_else(|| {
        fail(
            "e_crl_entry_reason_code",
            format!("reason code {} is not used by this CA", e.reason),
        )
    })?;
    if e.revoked_at > this_update {
        return Err(fail(
            "e_crl_entry_revocation_date",
            "revocationDate is after thisUpdate",
        ));
    }
    if e.invalidity != 0 {
        if !reason.allows_invalidity_date() {
            return Err(fail(
                "e_crl_entry_invalidity_date_meaningful",
                "invalidityDate is only given for keyCompromise",
            ));
        }
        if e.invalidity > e.revoked_at {
            return Err(fail(
                "e_crl_entry_invalidity_not_after_revocation",
                "invalidityDate is after revocationDate",
            ));
        }
    }
    if let Some(p) = prev {
        let cur = e.serial();
        if (p.len(), p) >= (cur.len(), cur) {
            return Err(fail(
                "e_crl_entries_unique_sorted",
                "serials must be unique and in ascending order",
            ));
        }
    }
    Ok(())
}

/// Size of the content of one entry's SEQUENCE, and of its extensions SEQUENCE content.
fn entry_sizes(e: &CrlEntry, revoked: OffsetDateTime) -> (usize, usize) {
    let s = e.serial();
    let int_len = derw::tlv_len(s.len() + usize::from(s[0] & 0x80 != 0));
    let time_len = derw::time_len(revoked);
    // reasonCode: SEQ { OID(3), OCTET STRING { ENUMERATED(1) } }
    let reason_ext = derw::tlv_len(5 + derw::tlv_len(3));
    let inv_ext = if e.invalidity != 0 {
        // SEQ { OID(3), OCTET STRING { GeneralizedTime(15) } }
        derw::tlv_len(5 + derw::tlv_len(17))
    } else {
        0
    };
    let exts_content = reason_ext + inv_ext;
    (
        int_len + time_len + derw::tlv_len(exts_content),
        exts_content,
    )
}

/// The result of [`build_and_sign`].
#[derive(Debug)]
pub struct SignedCrl {
    /// The DER CRL.
    pub der: Vec<u8>,
    /// Number of entries.
    pub entries: usize,
}

/// Builds, lints and signs a CRL over `entries` (sorted by serial, as the store returns
/// them). A failing lint refuses to sign and names the rule.
pub fn build_and_sign(
    p: &CrlParams,
    entries: &[CrlEntry],
    issuer: &IssuerInfo,
    signer: &dyn Signer,
) -> Result<SignedCrl, PkiError> {
    lint_header(p, issuer)?;
    if signer.spki_der() != issuer.spki_der.as_slice() {
        return Err(fail(
            "e_crl_signer_is_issuer",
            "the signing key is not the CA certificate's key",
        ));
    }
    let this_update_unix = p.this_update.unix_timestamp();

    // Pass 1: lint and size.
    let mut revoked_content = 0usize;
    let mut prev: Option<&[u8]> = None;
    for e in entries {
        lint_entry(e, prev, this_update_unix)?;
        prev = Some(e.serial());
        let (c, _) = entry_sizes(e, unix(e.revoked_at)?);
        revoked_content += derw::tlv_len(c);
    }

    let version = derw::uint_u64(1);
    let alg = issuer.signature_algorithm.algorithm_identifier();
    let times = [derw::time(p.this_update), derw::time(p.next_update)].concat();
    let aki = ext::authority_key_id(&issuer.key_id);
    let number = ext::extension(
        &oid::EXT_CRL_NUMBER,
        false,
        &derw::uint_u64(p.number.0 as u64),
    );
    let crl_exts = derw::explicit(0, &derw::seq(&[&aki, &number]));
    let revoked_len = if entries.is_empty() {
        0
    } else {
        derw::tlv_len(revoked_content)
    };
    let tbs_content = version.len()
        + alg.len()
        + issuer.subject_der.len()
        + times.len()
        + revoked_len
        + crl_exts.len();
    let tbs_len = derw::tlv_len(tbs_content);

    // Room for the outer header in front, the algorithm and signature behind.
    const HEAD: usize = 6;
    let mut buf = Vec::with_capacity(HEAD + tbs_len + alg.len() + 16 + 520);
    buf.resize(HEAD, 0);
    buf.push(tag::SEQUENCE);
    derw::write_len(&mut buf, tbs_content);
    buf.extend_from_slice(&version);
    buf.extend_from_slice(&alg);
    buf.extend_from_slice(&issuer.subject_der);
    buf.extend_from_slice(&times);
    if !entries.is_empty() {
        buf.push(tag::SEQUENCE);
        derw::write_len(&mut buf, revoked_content);
        let reason_oid = oid::EXT_REASON_CODE.as_bytes();
        let inv_oid = oid::EXT_INVALIDITY_DATE.as_bytes();
        for e in entries {
            let revoked = unix(e.revoked_at)?;
            let (c, exts_content) = entry_sizes(e, revoked);
            buf.push(tag::SEQUENCE);
            derw::write_len(&mut buf, c);
            let s = e.serial();
            buf.push(tag::INTEGER);
            let pad = s[0] & 0x80 != 0;
            derw::write_len(&mut buf, s.len() + usize::from(pad));
            if pad {
                buf.push(0);
            }
            buf.extend_from_slice(s);
            derw::write_time(&mut buf, revoked);
            buf.push(tag::SEQUENCE);
            derw::write_len(&mut buf, exts_content);
            // reasonCode
            buf.extend_from_slice(&[tag::SEQUENCE, 10, tag::OID, 3]);
            buf.extend_from_slice(reason_oid);
            buf.extend_from_slice(&[tag::OCTET_STRING, 3, tag::ENUMERATED, 1, e.reason]);
            if e.invalidity != 0 {
                buf.extend_from_slice(&[tag::SEQUENCE, 24, tag::OID, 3]);
                buf.extend_from_slice(inv_oid);
                buf.extend_from_slice(&[tag::OCTET_STRING, 17]);
                write_generalized(&mut buf, unix(e.invalidity)?);
            }
        }
    }
    buf.extend_from_slice(&crl_exts);
    debug_assert_eq!(buf.len() - HEAD, tbs_len);

    let sig = signer.sign(&buf[HEAD..])?;
    buf.extend_from_slice(&alg);
    buf.extend_from_slice(&derw::bits(&sig));
    let total = buf.len() - HEAD;
    let mut hdr = vec![tag::SEQUENCE];
    derw::write_len(&mut hdr, total);
    let start = HEAD - hdr.len();
    buf[start..HEAD].copy_from_slice(&hdr);
    buf.drain(..start);
    Ok(SignedCrl {
        der: buf,
        entries: entries.len(),
    })
}

/// invalidityDate is always GeneralizedTime (RFC 5280 §5.3.2).
fn write_generalized(out: &mut Vec<u8>, t: OffsetDateTime) {
    derw::write_generalized_time(out, t);
}

/// What [`read_back`] found in a published CRL.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReadBack {
    /// cRLNumber.
    pub number: CrlNumber,
    /// thisUpdate.
    pub this_update: OffsetDateTime,
}

/// Reads a published CRL back before it is reported as published (DESIGN §5): the
/// signature must verify with the issuer's key `issuer_spki`, and the CRL must carry a
/// cRLNumber. Reads only the top-level fields ([`crate::parse::crl`]), so it costs the
/// same for an empty CRL and for a million entries (plus one hash of the bytes).
pub fn read_back(der: &[u8], issuer_spki: &[u8]) -> Result<ReadBack, PkiError> {
    let c = crate::parse::crl(der)?;
    crate::csr::verify_signature(issuer_spki, c.signature_alg, c.tbs, c.signature)
        .map_err(|_| PkiError::BadInput("its signature does not verify with the CA key".into()))?;
    let number = c
        .number()?
        .ok_or_else(|| PkiError::BadInput("no cRLNumber".into()))?;
    Ok(ReadBack {
        number: CrlNumber(number),
        this_update: c.this_update.at,
    })
}

/// The cRLNumber of a DER CRL, without checking its signature: only to compare with
/// another copy, or to keep a number from being used twice (a forged file can only make
/// numbers skip ahead). `None` when the bytes are no CRL or it has no usable number.
pub fn number_unchecked(der: &[u8]) -> Option<CrlNumber> {
    crate::parse::crl(der)
        .ok()?
        .number()
        .ok()
        .flatten()
        .map(CrlNumber)
}

/// PEM for a CRL.
pub fn to_pem(der: &[u8]) -> String {
    crate::cert::pem_encode("X509 CRL", der)
}

#[cfg(test)]
mod tests {
    use kmn_domain::{CrlNumber, RevocationReason};
    use time::macros::datetime;

    use super::*;
    use crate::keys::{KeyAlgorithm, SoftwareKey};
    use crate::name::DistinguishedName;

    fn issuer() -> (SoftwareKey, IssuerInfo) {
        let (k, _) = SoftwareKey::generate(KeyAlgorithm::P256).unwrap();
        let mut dn = DistinguishedName::default();
        dn.push(oid::AT_COMMON_NAME, "Test CA").unwrap();
        let info = IssuerInfo {
            subject_der: dn.to_der(),
            key_id: ext::key_identifier(k.spki_der()).unwrap(),
            spki_der: k.spki_der().to_vec(),
            not_before: datetime!(2026-01-01 00:00 UTC),
            not_after: datetime!(2036-01-01 00:00 UTC),
            signature_algorithm: k.signature_algorithm(),
        };
        (k, info)
    }

    fn params() -> CrlParams {
        let tu = datetime!(2026-11-26 00:00 UTC);
        CrlParams {
            number: CrlNumber(5),
            this_update: tu,
            next_update: tu + time::Duration::hours(48),
            previous: Some((CrlNumber(4), tu - time::Duration::hours(1))),
        }
    }

    fn rule(r: Result<SignedCrl, PkiError>) -> &'static str {
        match r {
            Err(PkiError::Lint(l)) => l.rule,
            other => panic!("expected a lint failure, got {other:?}"),
        }
    }

    fn at(h: i64) -> i64 {
        (datetime!(2026-11-25 00:00 UTC) + time::Duration::hours(h)).unix_timestamp()
    }

    #[test]
    fn rfc5280_5_crl_with_entries_encodes_and_verifies() {
        let (k, iss) = issuer();
        let entries = vec![
            CrlEntry::new(
                &[0x01, 0x02],
                at(1),
                RevocationReason::KeyCompromise,
                Some(at(0)),
            )
            .unwrap(),
            CrlEntry::new(&[0x80, 0x00], at(2), RevocationReason::Superseded, None).unwrap(),
            CrlEntry::new(
                &[0x01, 0x00, 0x00],
                at(3),
                RevocationReason::CertificateHold,
                None,
            )
            .unwrap(),
        ];
        let crl = build_and_sign(&params(), &entries, &iss, &k).unwrap();
        assert_eq!(crl.entries, 3);
        let outer = crate::derr::read_one(&crl.der, crate::derw::tag::SEQUENCE).unwrap();
        let parts = crate::derr::children(outer.content).unwrap();
        crate::csr::verify_signature(
            &iss.spki_der,
            parts[1].raw,
            parts[0].raw,
            &parts[2].content[1..],
        )
        .unwrap();
        // The empty CRL has no revokedCertificates field at all (RFC 5280 §5.1.2.6).
        let empty = build_and_sign(&params(), &[], &iss, &k).unwrap();
        let tbs = crate::derr::read_one(
            crate::derr::children(crate::derr::read_one(&empty.der, 0x30).unwrap().content)
                .unwrap()[0]
                .raw,
            0x30,
        )
        .unwrap();
        assert_eq!(crate::derr::children(tbs.content).unwrap().len(), 6);
    }

    #[test]
    fn design4_crl_number_must_increase_and_this_update_never_go_back() {
        let (k, iss) = issuer();
        let mut p = params();
        p.number = CrlNumber(4);
        assert_eq!(
            rule(build_and_sign(&p, &[], &iss, &k)),
            "e_crl_number_increasing"
        );
        let mut p = params();
        p.previous = Some((CrlNumber(4), p.this_update + time::Duration::seconds(1)));
        assert_eq!(
            rule(build_and_sign(&p, &[], &iss, &k)),
            "e_crl_this_update_monotonic"
        );
        let mut p = params();
        p.next_update = p.this_update;
        assert_eq!(
            rule(build_and_sign(&p, &[], &iss, &k)),
            "e_crl_next_update_after_this_update"
        );
    }

    #[test]
    fn design4_invalidity_date_only_for_key_compromise_and_not_after_revocation() {
        let (k, iss) = issuer();
        let e = CrlEntry::new(&[1], at(1), RevocationReason::Superseded, Some(at(0))).unwrap();
        assert_eq!(
            rule(build_and_sign(&params(), &[e], &iss, &k)),
            "e_crl_entry_invalidity_date_meaningful"
        );
        let e = CrlEntry::new(&[1], at(1), RevocationReason::KeyCompromise, Some(at(2))).unwrap();
        assert_eq!(
            rule(build_and_sign(&params(), &[e], &iss, &k)),
            "e_crl_entry_invalidity_not_after_revocation"
        );
        let e = CrlEntry::new(&[1], at(30), RevocationReason::KeyCompromise, None).unwrap();
        assert_eq!(
            rule(build_and_sign(&params(), &[e], &iss, &k)),
            "e_crl_entry_revocation_date"
        );
    }

    #[test]
    fn rfc5280_5_1_2_6_entries_unique_and_sorted() {
        let (k, iss) = issuer();
        let a = CrlEntry::new(&[2], at(1), RevocationReason::Superseded, None).unwrap();
        let b = CrlEntry::new(&[1], at(1), RevocationReason::Superseded, None).unwrap();
        assert_eq!(
            rule(build_and_sign(&params(), &[a, b], &iss, &k)),
            "e_crl_entries_unique_sorted"
        );
        assert_eq!(
            rule(build_and_sign(&params(), &[a, a], &iss, &k)),
            "e_crl_entries_unique_sorted"
        );
    }

    #[test]
    fn design5_a_published_crl_reads_back_its_number_and_this_update() {
        let (k, iss) = issuer();
        let e = CrlEntry::new(&[1], at(1), RevocationReason::Superseded, None).unwrap();
        for entries in [vec![], vec![e]] {
            let crl = build_and_sign(&params(), &entries, &iss, &k).unwrap();
            let r = read_back(&crl.der, &iss.spki_der).unwrap();
            assert_eq!(r.number, CrlNumber(5));
            assert_eq!(r.this_update, params().this_update);
            assert_eq!(number_unchecked(&crl.der), Some(CrlNumber(5)));
            let head = crate::parse::crl(&crl.der).unwrap();
            assert_eq!(head.version, 1);
            assert_eq!(head.issuer, iss.subject_der.as_slice());
            assert_eq!(head.next_update.unwrap().at, params().next_update);
            assert_eq!(head.revoked.is_some(), !entries.is_empty());
        }
    }

    #[test]
    fn design5_read_back_refuses_another_key_a_truncation_and_a_changed_octet() {
        let (k, iss) = issuer();
        let crl = build_and_sign(&params(), &[], &iss, &k).unwrap();
        let (other, _) = SoftwareKey::generate(KeyAlgorithm::P256).unwrap();
        let e = read_back(&crl.der, other.spki_der()).unwrap_err();
        assert!(e.to_string().contains("signature"), "{e}");
        for n in 0..crl.der.len() {
            assert!(
                read_back(&crl.der[..n], &iss.spki_der).is_err(),
                "cut at {n}"
            );
        }
        for i in 0..crl.der.len() {
            let mut m = crl.der.clone();
            m[i] ^= 0x01;
            assert!(read_back(&m, &iss.spki_der).is_err(), "octet {i} changed");
        }
    }

    #[test]
    fn rfc5280_5_2_3_crl_numbers_beyond_i64_or_negative_are_not_read() {
        let (k, iss) = issuer();
        let crl = build_and_sign(&params(), &[], &iss, &k).unwrap();
        let head = crate::parse::crl(&crl.der).unwrap();
        let mut e = head.extensions[1].clone();
        assert!(e.is(&oid::EXT_CRL_NUMBER));
        let mut h = head.clone();
        for (value, want) in [
            (vec![0x02, 0x01, 0x80], None),
            (vec![0x02, 0x09, 0x00, 0xff, 0, 0, 0, 0, 0, 0, 0], None),
            (
                vec![0x02, 0x08, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
                Some(i64::MAX),
            ),
            (vec![0x02, 0x02, 0x00, 0x80], Some(128)),
        ] {
            e.value = Box::leak(value.into_boxed_slice());
            h.extensions = vec![e.clone()];
            assert_eq!(h.number().ok().flatten(), want);
        }
    }

    #[test]
    fn crl_signed_by_another_key_is_refused() {
        let (_, iss) = issuer();
        let (other, _) = SoftwareKey::generate(KeyAlgorithm::P256).unwrap();
        assert_eq!(
            rule(build_and_sign(&params(), &[], &iss, &other)),
            "e_crl_signer_is_issuer"
        );
    }
}

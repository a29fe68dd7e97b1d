//! The signed revocation receipt (第23条3): the record of docs/REVOCATION-RECEIPT.asn1,
//! the content of a CMS SignedData ([`crate::cms::sign_typed`]) of eContentType
//! id-ct-kmnRevocationReceipt ([`crate::oid::CT_REVOCATION_RECEIPT`]):
//!
//! ```text
//! RevocationReceipt ::= SEQUENCE {
//!     version            INTEGER { v1(1) },
//!     issuer             Name,                 -- the certificate's issuer
//!     serialNumber       CertificateSerialNumber,
//!     reason             CRLReason,
//!     grounds            UTF8String,           -- e.g. "emergency:lost"
//!     article            [0] IMPLICIT UTF8String OPTIONAL,  -- e.g. "第11条"
//!     channel            UTF8String,           -- e.g. "desk"
//!     requestedBy        UTF8String,           -- the account that asked
//!     requestReceivedAt  GeneralizedTime,
//!     revokedAt          GeneralizedTime,
//!     invalidityDate     [1] IMPLICIT GeneralizedTime OPTIONAL,
//!     firstCrl           FirstCrl,
//!     firstOcspAt        [2] IMPLICIT GeneralizedTime OPTIONAL,
//!     issuedAt           GeneralizedTime       -- when the receipt was signed
//! }
//! FirstCrl ::= SEQUENCE {
//!     crlNumber    CRLNumber,
//!     thisUpdate   GeneralizedTime,
//!     publishedAt  GeneralizedTime,            -- written, read back and checked
//!     sha256       OCTET STRING (SIZE (32))    -- of the CRL's DER as published
//! }
//! ```
//!
//! The reader refuses anything else (a wrong version, tag, order, an unknown reason, a
//! time that is not a GeneralizedTime, trailing octets) and never panics: it runs on
//! files from outside (`kmn receipt verify`, the fuzz target `receipt`).

#![deny(clippy::indexing_slicing, clippy::unwrap_used, clippy::expect_used)]

use kmn_domain::RevocationReason;
use time::OffsetDateTime;

use crate::derr::{self, Tlv};
use crate::derw::{self, tag};
use crate::{PkiError, parse};

/// The first CRL that listed the revocation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FirstCrl {
    /// Its cRLNumber.
    pub number: u64,
    /// Its thisUpdate.
    pub this_update: OffsetDateTime,
    /// When it was written, read back and checked (its signature and number).
    pub published_at: OffsetDateTime,
    /// SHA-256 of its DER as published.
    pub sha256: [u8; 32],
}

/// One revocation's receipt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RevocationReceipt {
    /// The certificate's issuer (DER Name, copied from the certificate).
    pub issuer: Vec<u8>,
    /// The serial (unsigned big-endian octets, no leading zero).
    pub serial: Vec<u8>,
    /// The RFC 5280 reason.
    pub reason: RevocationReason,
    /// The grounds' code (`kmn_domain::RevocationGrounds::code`).
    pub grounds: String,
    /// The article of the terms, e.g. `第11条`.
    pub article: Option<String>,
    /// The channel (`kmn_domain::RevocationChannel`).
    pub channel: String,
    /// Who asked (an account, `system:jobs`, the CA administrator).
    pub requested_by: String,
    /// When the request arrived.
    pub request_received_at: OffsetDateTime,
    /// When it was revoked (the CRL's revocationDate).
    pub revoked_at: OffsetDateTime,
    /// invalidityDate (keyCompromise only).
    pub invalidity_date: Option<OffsetDateTime>,
    /// The first CRL listing it.
    pub first_crl: FirstCrl,
    /// When the first OCSP response showing it revoked was stored and read back.
    pub first_ocsp_at: Option<OffsetDateTime>,
    /// When the receipt was signed.
    pub issued_at: OffsetDateTime,
}

fn bad(what: &str) -> PkiError {
    PkiError::BadInput(format!("malformed revocation receipt: {what}"))
}

fn read_u64(t: &Tlv<'_>, what: &str) -> Result<u64, PkiError> {
    let c = match t.content {
        [0, rest @ ..] if !rest.is_empty() => rest,
        c => c,
    };
    if t.tag != tag::INTEGER || c.is_empty() || c.len() > 8 || t.content.first() > Some(&0x7f) {
        return Err(bad(&format!("{what} is not a small non-negative INTEGER")));
    }
    Ok(c.iter().fold(0u64, |a, b| (a << 8) | u64::from(*b)))
}

fn gen_time(t: &Tlv<'_>, tag_expected: u8, what: &str) -> Result<OffsetDateTime, PkiError> {
    if t.tag != tag_expected {
        return Err(bad(&format!("{what} is not a GeneralizedTime")));
    }
    // An IMPLICIT tag keeps the content: read it as the universal type it replaces.
    let as_gt = Tlv {
        tag: tag::GENERALIZED_TIME,
        content: t.content,
        raw: t.raw,
    };
    Ok(parse::time_field(&as_gt)?.at)
}

fn utf8(t: &Tlv<'_>, tag_expected: u8, what: &str) -> Result<String, PkiError> {
    if t.tag != tag_expected {
        return Err(bad(&format!("{what} is not a UTF8String")));
    }
    let s = std::str::from_utf8(t.content).map_err(|_| bad(&format!("{what} is not UTF-8")))?;
    if s.is_empty() || s.chars().any(char::is_control) {
        return Err(bad(&format!("{what} is empty or holds control characters")));
    }
    Ok(s.to_string())
}

impl RevocationReceipt {
    /// The serial as lowercase hex.
    pub fn serial_hex(&self) -> String {
        hex::encode(&self.serial)
    }

    /// The DER record.
    pub fn to_der(&self) -> Vec<u8> {
        let mut parts: Vec<Vec<u8>> = vec![
            derw::uint_u64(1),
            self.issuer.clone(),
            derw::uint(&self.serial),
            derw::tlv(tag::ENUMERATED, &[self.reason.code()]),
            derw::utf8(&self.grounds),
        ];
        if let Some(a) = &self.article {
            parts.push(derw::implicit_prim(0, a.as_bytes()));
        }
        parts.push(derw::utf8(&self.channel));
        parts.push(derw::utf8(&self.requested_by));
        parts.push(derw::generalized_time(self.request_received_at));
        parts.push(derw::generalized_time(self.revoked_at));
        if let Some(t) = self.invalidity_date {
            let gt = derw::generalized_time(t);
            let content = derr::read_one(&gt, tag::GENERALIZED_TIME)
                .map(|t| t.content.to_vec())
                .unwrap_or_default();
            parts.push(derw::implicit_prim(1, &content));
        }
        parts.push(derw::seq(&[
            &derw::uint_u64(self.first_crl.number),
            &derw::generalized_time(self.first_crl.this_update),
            &derw::generalized_time(self.first_crl.published_at),
            &derw::octets(&self.first_crl.sha256),
        ]));
        if let Some(t) = self.first_ocsp_at {
            let gt = derw::generalized_time(t);
            let content = derr::read_one(&gt, tag::GENERALIZED_TIME)
                .map(|t| t.content.to_vec())
                .unwrap_or_default();
            parts.push(derw::implicit_prim(2, &content));
        }
        parts.push(derw::generalized_time(self.issued_at));
        let refs: Vec<&[u8]> = parts.iter().map(Vec::as_slice).collect();
        derw::seq(&refs)
    }

    /// Reads a DER record.
    pub fn from_der(der: &[u8]) -> Result<Self, PkiError> {
        let s = derr::read_one(der, tag::SEQUENCE)?;
        let fields = derr::children(s.content)?;
        let mut it = fields.into_iter().peekable();
        let mut next = |what: &str| it.next().ok_or_else(|| bad(&format!("{what} is missing")));
        if read_u64(&next("version")?, "version")? != 1 {
            return Err(bad("unknown version"));
        }
        let issuer = next("issuer")?;
        if issuer.tag != tag::SEQUENCE {
            return Err(bad("issuer is not a Name"));
        }
        let serial_t = next("serialNumber")?;
        let serial = match serial_t.content {
            [0, rest @ ..] if !rest.is_empty() => rest,
            c => c,
        };
        if serial_t.tag != tag::INTEGER
            || serial.is_empty()
            || serial.len() > 20
            || serial_t.content.first() > Some(&0x7f)
        {
            return Err(bad(
                "serialNumber is not a positive INTEGER of at most 20 octets",
            ));
        }
        let reason_t = next("reason")?;
        let reason = match (reason_t.tag, reason_t.content) {
            (tag::ENUMERATED, [c]) => RevocationReason::from_code(*c),
            _ => None,
        }
        .ok_or_else(|| bad("reason is not a CRLReason"))?;
        let grounds = utf8(&next("grounds")?, tag::UTF8_STRING, "grounds")?;
        let article = match it.next_if(|t| t.tag == 0x80) {
            Some(t) => Some(utf8(&t, 0x80, "article")?),
            None => None,
        };
        let mut next = |what: &str| it.next().ok_or_else(|| bad(&format!("{what} is missing")));
        let channel = utf8(&next("channel")?, tag::UTF8_STRING, "channel")?;
        let requested_by = utf8(&next("requestedBy")?, tag::UTF8_STRING, "requestedBy")?;
        let request_received_at = gen_time(
            &next("requestReceivedAt")?,
            tag::GENERALIZED_TIME,
            "requestReceivedAt",
        )?;
        let revoked_at = gen_time(&next("revokedAt")?, tag::GENERALIZED_TIME, "revokedAt")?;
        let invalidity_date = match it.next_if(|t| t.tag == 0x81) {
            Some(t) => Some(gen_time(&t, 0x81, "invalidityDate")?),
            None => None,
        };
        let crl_t = it.next().ok_or_else(|| bad("firstCrl is missing"))?;
        if crl_t.tag != tag::SEQUENCE {
            return Err(bad("firstCrl is not a SEQUENCE"));
        }
        let [n, tu, pa, h] = derr::children_n::<4>(crl_t.content, "FirstCrl")?;
        if h.tag != tag::OCTET_STRING {
            return Err(bad("the CRL's sha256 is not an OCTET STRING"));
        }
        let first_crl = FirstCrl {
            number: read_u64(&n, "crlNumber")?,
            this_update: gen_time(&tu, tag::GENERALIZED_TIME, "thisUpdate")?,
            published_at: gen_time(&pa, tag::GENERALIZED_TIME, "publishedAt")?,
            sha256: <[u8; 32]>::try_from(h.content)
                .map_err(|_| bad("the CRL's sha256 is not 32 octets"))?,
        };
        let first_ocsp_at = match it.next_if(|t| t.tag == 0x82) {
            Some(t) => Some(gen_time(&t, 0x82, "firstOcspAt")?),
            None => None,
        };
        let issued_t = it.next().ok_or_else(|| bad("issuedAt is missing"))?;
        let issued_at = gen_time(&issued_t, tag::GENERALIZED_TIME, "issuedAt")?;
        if it.next().is_some() {
            return Err(bad("unexpected fields after issuedAt"));
        }
        Ok(Self {
            issuer: issuer.raw.to_vec(),
            serial: serial.to_vec(),
            reason,
            grounds,
            article,
            channel,
            requested_by,
            request_received_at,
            revoked_at,
            invalidity_date,
            first_crl,
            first_ocsp_at,
            issued_at,
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use time::macros::datetime;

    pub(crate) fn sample() -> RevocationReceipt {
        let mut dn = crate::name::DistinguishedName::default();
        dn.push(crate::oid::AT_COUNTRY, "JP").unwrap();
        dn.push(crate::oid::AT_COMMON_NAME, "KMN Issuing CA G1")
            .unwrap();
        RevocationReceipt {
            issuer: dn.to_der(),
            serial: vec![0x80, 0x01, 0x02],
            reason: RevocationReason::KeyCompromise,
            grounds: "emergency:lost".into(),
            article: Some("第11条".into()),
            channel: "desk".into(),
            requested_by: "A000003".into(),
            request_received_at: datetime!(2026-12-07 03:00:01 UTC),
            revoked_at: datetime!(2026-12-07 03:00:02 UTC),
            invalidity_date: Some(datetime!(2026-12-06 23:30:00 UTC)),
            first_crl: FirstCrl {
                number: 7,
                this_update: datetime!(2026-12-07 03:00:02 UTC),
                published_at: datetime!(2026-12-07 03:00:03 UTC),
                sha256: [0x5a; 32],
            },
            first_ocsp_at: Some(datetime!(2026-12-07 03:00:02 UTC)),
            issued_at: datetime!(2026-12-07 03:10:00 UTC),
        }
    }

    /// 第23条3: every timestamp of the evidence survives the DER record, with and
    /// without the optional fields.
    #[test]
    fn art23_receipt_record_round_trips() {
        let r = sample();
        assert_eq!(RevocationReceipt::from_der(&r.to_der()).unwrap(), r);
        assert_eq!(r.serial_hex(), "800102");
        let mut bare = sample();
        bare.article = None;
        bare.invalidity_date = None;
        bare.first_ocsp_at = None;
        assert_eq!(RevocationReceipt::from_der(&bare.to_der()).unwrap(), bare);
    }

    /// Every truncation and every one-octet change is an error or another record, never
    /// a panic; trailing octets are refused.
    #[test]
    fn art23_receipt_reader_refuses_damage_without_panicking() {
        let der = sample().to_der();
        for n in 0..der.len() {
            assert!(RevocationReceipt::from_der(&der[..n]).is_err());
        }
        for i in 0..der.len() {
            let mut d = der.clone();
            d[i] ^= 0xff;
            let _ = RevocationReceipt::from_der(&d);
        }
        let mut long = der.clone();
        long.push(0);
        assert!(RevocationReceipt::from_der(&long).is_err());
        // Version 2 is refused.
        let mut v2 = der.clone();
        let pos = v2.windows(3).position(|w| w == [2, 1, 1]).unwrap();
        v2[pos + 2] = 2;
        assert!(RevocationReceipt::from_der(&v2).is_err());
    }

    /// A real receipt: issuing CA → receipt signer (profile audit-signer,
    /// id-kp-documentSigning), signed with its own eContentType; OpenSSL verifies it with
    /// the CA certificate alone (`-purpose any`), and hands back exactly the record.
    #[test]
    fn art23_receipt_verifies_with_openssl_cms() {
        use crate::cert::{self, CertTemplate, IssuerInfo, Urls};
        use crate::keys::{KeyAlgorithm, Signer, SoftwareKey};
        use kmn_domain::{CertSerial, ProfileKind};
        use time::Duration;

        let now = OffsetDateTime::now_utc().replace_nanosecond(0).unwrap();
        let dn = |cn: &str| {
            let mut d = crate::name::DistinguishedName::default();
            d.push(crate::oid::AT_COUNTRY, "JP").unwrap();
            d.push(crate::oid::AT_COMMON_NAME, cn).unwrap();
            d
        };
        let issue = |profile,
                     subject: crate::name::DistinguishedName,
                     spki: &[u8],
                     n: u8,
                     info: &IssuerInfo,
                     key: &SoftwareKey| {
            let mut s = [0u8; 16];
            s[0] = 0x40;
            s[15] = n;
            let t = CertTemplate {
                profile,
                serial: CertSerial::from_random(s).unwrap(),
                subject,
                spki_der: spki.to_vec(),
                not_before: now - Duration::days(1),
                not_after: now + Duration::days(365),
                policies: vec![],
                urls: Urls::default(),
                alt_names: vec![],
                hc_role: None,
            };
            let tbs = cert::build_tbs(&t, info).unwrap();
            cert::assemble(&tbs, key.signature_algorithm(), &key.sign(&tbs).unwrap())
        };
        let (ca_key, _) = SoftwareKey::generate(KeyAlgorithm::P256).unwrap();
        let self_info = IssuerInfo {
            subject_der: dn("Test Issuing CA").to_der(),
            key_id: crate::ext::key_identifier(ca_key.spki_der()).unwrap(),
            spki_der: ca_key.spki_der().to_vec(),
            not_before: now - Duration::days(1),
            not_after: now + Duration::days(3650),
            signature_algorithm: ca_key.signature_algorithm(),
        };
        let ca = issue(
            ProfileKind::Root,
            dn("Test Issuing CA"),
            ca_key.spki_der(),
            1,
            &self_info,
            &ca_key,
        );
        let info = IssuerInfo::from_cert(&ca, ca_key.signature_algorithm()).unwrap();
        let (key, _) = SoftwareKey::generate(KeyAlgorithm::P256).unwrap();
        let signer = issue(
            ProfileKind::AuditSigner,
            dn("Test Receipt Signer"),
            key.spki_der(),
            2,
            &info,
            &ca_key,
        );
        let mut record = sample();
        record.issued_at = now;
        let der = crate::cms::sign_typed(
            &crate::oid::CT_REVOCATION_RECEIPT,
            &record.to_der(),
            &signer,
            &[&ca],
            &key,
            now,
        )
        .unwrap();
        let v = crate::cms::verify(&der).unwrap();
        assert!(v.content_type_is(&crate::oid::CT_REVOCATION_RECEIPT));
        assert_eq!(RevocationReceipt::from_der(&v.content).unwrap(), record);

        let dir = tempfile::tempdir().unwrap();
        let p7m = dir.path().join("receipt.p7m");
        let ca_pem = dir.path().join("ca.pem");
        let out = dir.path().join("receipt.der");
        std::fs::write(&p7m, &der).unwrap();
        std::fs::write(&ca_pem, cert::to_pem(&ca)).unwrap();
        let o = std::process::Command::new("openssl")
            .args(["cms", "-verify", "-binary", "-inform", "DER", "-in"])
            .arg(&p7m)
            .arg("-CAfile")
            .arg(&ca_pem)
            .args(["-purpose", "any", "-out"])
            .arg(&out)
            .output()
            .expect("openssl");
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        assert_eq!(std::fs::read(&out).unwrap(), record.to_der());
        // One changed octet of the record: OpenSSL refuses it too.
        let pos = der.windows(7).position(|w| w == b"A000003").unwrap();
        let mut bad = der.clone();
        bad[pos] ^= 1;
        std::fs::write(&p7m, &bad).unwrap();
        let o = std::process::Command::new("openssl")
            .args(["cms", "-verify", "-binary", "-inform", "DER", "-in"])
            .arg(&p7m)
            .arg("-CAfile")
            .arg(&ca_pem)
            .args(["-purpose", "any", "-out"])
            .arg(&out)
            .output()
            .expect("openssl");
        assert!(!o.status.success());
        assert!(crate::cms::verify(&bad).is_err());
    }
}

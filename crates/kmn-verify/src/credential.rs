//! What a validated leaf is: one of the network's user cards, an operator certificate or an
//! HPKI physician card (issue #11 items 1 and 2), with the facts a relying party binds to.

#![deny(clippy::indexing_slicing, clippy::unwrap_used, clippy::expect_used)]

use der::asn1::ObjectIdentifier as O;
use sha2::Digest as _;

use crate::asn1::{PResult, single, tag};
use crate::cert::Cert;
use crate::error::VerifyError;
use crate::{Profile, ValidatedPath};

const AT_ORG_UNIT: O = O::new_unwrap("2.5.4.11");
const AT_SERIAL_NUMBER: O = O::new_unwrap("2.5.4.5");
/// hcRole (ISO 17090-3).
const HC_ROLE: O = O::new_unwrap("1.0.17090.0.1");

/// The default HPKI authentication certificate policy arc (see docs/VERIFY.md: a placeholder
/// to be replaced by the OIDs of the HPKI CA's published certificate policy).
pub const DEFAULT_HPKI_AUTH_POLICY: &str = "1.2.392.100495.1.5.1.2";
/// The default HPKI signature (non-repudiation) certificate policy arc (see docs/VERIFY.md).
pub const DEFAULT_HPKI_SIGNATURE_POLICY: &str = "1.2.392.100495.1.5.1.1";

/// Who a validated certificate stands for. `kind()` gives the `X-KMN-Credential` value.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Credential {
    /// One of the network's user cards (subject `C=JP, O=…, OU=<facility code>, CN=…,
    /// serialNumber=<holder id>`, DESIGN §4).
    KmnCard {
        /// The subject's OU: the facility code the card was issued for (第4条2).
        facility_code: String,
        /// The subject's serialNumber: the network's own holder id.
        holder_id: String,
        /// The hcRole in subjectDirectoryAttributes, when the card carries one.
        role: Option<String>,
    },
    /// An operator certificate of the network's CA (its leaf has one of the operator policy
    /// OIDs given to [`credential`]).
    Operator {
        /// The subject, RFC 4514 style.
        subject: String,
        /// The serial number, lowercase hex of the INTEGER's content octets.
        serial: String,
    },
    /// An HPKI physician card's authentication certificate (validated under
    /// [`Profile::Hpki`]). The doctor registry binds a doctor by issuer, serial and SPKI hash,
    /// never by a subject name.
    Hpki {
        /// The hcRole code value (e.g. `Medical Doctor`), when present.
        role: Option<String>,
        /// The issuer name, RFC 4514 style.
        issuer: String,
        /// The serial number, lowercase hex of the INTEGER's content octets.
        serial: String,
        /// SHA-256 of the DER SubjectPublicKeyInfo.
        spki_sha256: [u8; 32],
    },
}

impl Credential {
    /// `kmn-card`, `operator` or `hpki`.
    pub fn kind(&self) -> &'static str {
        match self {
            Credential::KmnCard { .. } => "kmn-card",
            Credential::Operator { .. } => "operator",
            Credential::Hpki { .. } => "hpki",
        }
    }
}

/// The facility binding facts of one of the network's user cards.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KmnCardIdentity {
    /// The subject's organizationalUnitName.
    pub facility_code: String,
    /// The subject's serialNumber.
    pub holder_id: String,
}

fn parse_cert(der: &[u8]) -> Result<Cert, VerifyError> {
    Cert::parse(der).map_err(|e| VerifyError::Malformed {
        what: "the certificate".into(),
        detail: e.to_string(),
    })
}

fn one_value(c: &Cert, oid: &O, what: &str) -> Result<String, VerifyError> {
    let bad = |detail: String| VerifyError::InvalidCertificate {
        subject: c.subject_display.clone(),
        detail,
    };
    let values = c.subject.values_of(oid.as_bytes());
    match values.as_slice() {
        [v] if !v.trim().is_empty() => Ok(v.clone()),
        [] => Err(bad(format!(
            "it is not one of the network's user cards: its subject has no {what}"
        ))),
        [_] => Err(bad(format!("its subject's {what} is empty"))),
        _ => Err(bad(format!(
            "its subject has {} {what} attributes (one expected)",
            values.len()
        ))),
    }
}

/// Reads the facility code (subject OU) and holder id (subject serialNumber) of one of the
/// network's user cards (DESIGN §4). Exactly one of each must be present. It does not
/// validate the certificate: call it on a leaf [`crate::verify`] accepted.
pub fn kmn_card_identity(cert_der: &[u8]) -> Result<KmnCardIdentity, VerifyError> {
    let c = parse_cert(cert_der)?;
    Ok(KmnCardIdentity {
        facility_code: one_value(&c, &AT_ORG_UNIT, "organizationalUnitName (facility code)")?,
        holder_id: one_value(&c, &AT_SERIAL_NUMBER, "serialNumber (holder id)")?,
    })
}

/// The hcRole code value of a certificate's subjectDirectoryAttributes (ISO 17090-3:
/// `HCActorData ::= SET OF HCActor`, `HCActor ::= SEQUENCE { codedData [0] EXPLICIT
/// CodedData OPTIONAL, … }`, `CodedData ::= SEQUENCE { codingSchemeReference OID,
/// codeDataValue String, … }`); the first coded value. `None` without one.
pub fn hc_role(cert_der: &[u8]) -> Result<Option<String>, VerifyError> {
    let c = parse_cert(cert_der)?;
    hc_role_of(&c).map_err(|e| VerifyError::InvalidCertificate {
        subject: c.subject_display.clone(),
        detail: format!("its hcRole attribute is unreadable: {e}"),
    })
}

pub(crate) fn hc_role_of(c: &Cert) -> PResult<Option<String>> {
    let Some(sda) = &c.subject_directory_attributes else {
        return Ok(None);
    };
    let seq = single(sda, tag::SEQUENCE, "subjectDirectoryAttributes")?;
    let mut attrs = seq.reader();
    while !attrs.is_empty() {
        let attr = attrs.expect(tag::SEQUENCE, "Attribute")?;
        let mut a = attr.reader();
        let ty = a.expect(tag::OID, "attribute type")?;
        if ty.value != HC_ROLE.as_bytes() {
            continue;
        }
        let values = a.expect(tag::SET, "attribute values")?;
        let mut v = values.reader();
        while !v.is_empty() {
            let actor_data = v.expect(tag::SET, "HCActorData")?;
            let mut actors = actor_data.reader();
            while !actors.is_empty() {
                let actor = actors.expect(tag::SEQUENCE, "HCActor")?;
                let mut ar = actor.reader();
                if let Some(coded) = ar.optional(tag::ctx_cons(0))? {
                    let cd = single(coded.value, tag::SEQUENCE, "CodedData")?;
                    let mut cr = cd.reader();
                    cr.expect(tag::OID, "codingSchemeReference")?;
                    let value = cr.any()?;
                    return Ok(Some(text(value.tag, value.value)?));
                }
            }
        }
    }
    Ok(None)
}

fn text(t: u8, v: &[u8]) -> PResult<String> {
    match t {
        tag::UTF8_STRING | tag::PRINTABLE_STRING | tag::IA5_STRING | tag::VISIBLE_STRING => {
            String::from_utf8(v.to_vec())
                .map_err(|_| crate::asn1::ParseError::new("codeDataValue is not UTF-8"))
        }
        _ => Err(crate::asn1::ParseError::new(
            "codeDataValue is not a UTF8String or PrintableString",
        )),
    }
}

/// What the leaf of `path` (as [`crate::verify`] or [`crate::verify_with_index`] returned it
/// under `profile`) is: under [`Profile::Hpki`] an [`Credential::Hpki`]; otherwise an
/// [`Credential::Operator`] when its certificatePolicies contain one of
/// `operator_policy_oids`, else a [`Credential::KmnCard`] (facility code and holder id
/// required, [`kmn_card_identity`]).
pub fn credential(
    path: &ValidatedPath,
    profile: &Profile,
    operator_policy_oids: &[O],
) -> Result<Credential, VerifyError> {
    let leaf = path.chain.first().ok_or_else(|| VerifyError::Malformed {
        what: "the validated path".into(),
        detail: "it is empty".into(),
    })?;
    let c = parse_cert(leaf)?;
    if let Profile::Hpki { .. } = profile {
        let role = hc_role_of(&c).map_err(|e| VerifyError::InvalidCertificate {
            subject: c.subject_display.clone(),
            detail: format!("its hcRole attribute is unreadable: {e}"),
        })?;
        let mut spki_sha256 = [0u8; 32];
        spki_sha256.copy_from_slice(&sha2::Sha256::digest(&c.spki_raw));
        return Ok(Credential::Hpki {
            role,
            issuer: c.issuer.to_string(),
            serial: hex::encode(&c.serial),
            spki_sha256,
        });
    }
    let is_operator = c.policies.as_ref().is_some_and(|p| {
        p.iter().any(|o| {
            operator_policy_oids
                .iter()
                .any(|w| w.as_bytes() == o.as_slice())
        })
    });
    if is_operator {
        return Ok(Credential::Operator {
            subject: c.subject_display.clone(),
            serial: hex::encode(&c.serial),
        });
    }
    let id = kmn_card_identity(leaf)?;
    let role = hc_role_of(&c).ok().flatten();
    Ok(Credential::KmnCard {
        facility_code: id.facility_code,
        holder_id: id.holder_id,
        role,
    })
}

/// Whether the OID `have` (content octets) is `want` or lies under it.
pub(crate) fn oid_within(have: &[u8], want: &O) -> bool {
    // A complete OID's encoding ends on an arc boundary, so a byte prefix that is a whole
    // OID is an arc prefix.
    have.starts_with(want.as_bytes())
}

//! The credential check: ONE trait ([`CredentialCheck`]) between a presented certificate and
//! the identity the gateway forwards, so HPKI anchors and OCSP can be plugged in behind it.
//!
//! [`KmnCredentials`] checks the network's own certificates with kmn-verify
//! ([`kmn_verify::verify_with_index`], [`kmn_verify::Profile::Kmn`],
//! [`kmn_verify::Purpose::ClientAuth`]) against the revocation indexes kept fresh by
//! kmn-crl-fetch, and tells a user card from an operator certificate by its policy OID.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use der::{Decode, Tagged};
use kmn_verify::{Profile, Purpose, RevocationStore, VerifyError, VerifyOptions};
use x509_cert::Certificate;

use crate::config::CredentialKind;
use crate::refusal::{Reason, Refusal};

/// Who logged in, as forwarded upstream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub credential: CredentialKind,
    /// `X-KMN-Holder-Id`: the subject serialNumber (the network's holder id).
    pub holder_id: String,
    /// `X-KMN-Facility-Code`: the subject OU of a user card; none for an operator.
    pub facility_code: Option<String>,
    /// `X-KMN-Profession`: hcRole, when the certificate carries it.
    pub profession: Option<String>,
    /// `X-KMN-Cert-Serial`: lower-case hex.
    pub cert_serial: String,
    /// The subject, for logs.
    pub subject: String,
}

/// Checks a client certificate at a time. Implementations must be cheap per call (no CRL
/// parsing, no network) and fail closed.
pub trait CredentialCheck: Send + Sync + 'static {
    /// The identity of `leaf_der` (the certificate the client presented, DER), or why not.
    fn check(&self, leaf_der: &[u8], at: time::OffsetDateTime) -> Result<Identity, Refusal>;

    /// Changes whenever the data behind [`CredentialCheck::check`] may have changed (a CRL
    /// refetched, a fetch failed): a cached answer of another generation is asked again.
    fn generation(&self) -> u64;
}

/// The network's own certificates, checked by kmn-verify with live CRLs.
pub struct KmnCredentials {
    anchors: Vec<Vec<u8>>,
    intermediates: Vec<Vec<u8>>,
    store: Arc<RevocationStore>,
    card_oids: Vec<der::asn1::ObjectIdentifier>,
    operator_oids: Vec<der::asn1::ObjectIdentifier>,
    generation: AtomicU64,
}

impl KmnCredentials {
    pub fn new(
        anchors: Vec<Vec<u8>>,
        intermediates: Vec<Vec<u8>>,
        store: Arc<RevocationStore>,
        card_oids: &[String],
        operator_oids: &[String],
    ) -> Result<KmnCredentials, String> {
        let parse = |v: &[String]| -> Result<Vec<_>, String> {
            v.iter()
                .map(|o| {
                    der::asn1::ObjectIdentifier::new(o)
                        .map_err(|_| format!("policy OID '{o}' is not an OID"))
                })
                .collect()
        };
        Ok(KmnCredentials {
            anchors,
            intermediates,
            store,
            card_oids: parse(card_oids)?,
            operator_oids: parse(operator_oids)?,
            generation: AtomicU64::new(0),
        })
    }

    /// The revocation store the fetcher fills.
    pub fn store(&self) -> &Arc<RevocationStore> {
        &self.store
    }

    /// Tells the check that the revocation data may have changed.
    pub fn bump(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
    }
}

impl CredentialCheck for KmnCredentials {
    fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    fn check(&self, leaf_der: &[u8], at: time::OffsetDateTime) -> Result<Identity, Refusal> {
        let cert = Certificate::from_der(leaf_der).map_err(|e| {
            Refusal::new(
                Reason::InvalidCertificate,
                format!("cannot parse the client certificate: {e}"),
            )
        })?;
        let policy_oids: Vec<_> = self
            .card_oids
            .iter()
            .chain(&self.operator_oids)
            .cloned()
            .collect();
        let opts = VerifyOptions {
            at,
            purpose: Purpose::ClientAuth,
            profile: Profile::Kmn { policy_oids },
            check_revocation: true,
            dns_name: None,
        };
        let snapshot = self.store.snapshot();
        kmn_verify::verify_with_index(
            leaf_der,
            &self.anchors,
            &self.intermediates,
            &snapshot,
            &opts,
        )
        .map_err(refusal_of)?;
        let fields = CertFields::of(&cert);
        let credential = if fields.policies.iter().any(|p| self.card_oids.contains(p)) {
            CredentialKind::KmnCard
        } else if fields
            .policies
            .iter()
            .any(|p| self.operator_oids.contains(p))
        {
            CredentialKind::Operator
        } else {
            return Err(Refusal::new(
                Reason::WrongCredential,
                format!(
                    "'{}' carries none of the accepted policy OIDs",
                    fields.subject
                ),
            ));
        };
        let holder_id = match (&fields.serial_number, credential) {
            (Some(s), _) => s.clone(),
            (None, CredentialKind::Operator) => fields.common_name.clone().unwrap_or_default(),
            (None, _) => {
                return Err(Refusal::new(
                    Reason::WrongCredential,
                    format!("user card '{}' has no subject serialNumber", fields.subject),
                ));
            }
        };
        let facility_code = match credential {
            CredentialKind::KmnCard => Some(fields.org_unit.clone().ok_or_else(|| {
                Refusal::new(
                    Reason::WrongCredential,
                    format!("user card '{}' has no facility code (OU)", fields.subject),
                )
            })?),
            _ => None,
        };
        Ok(Identity {
            credential,
            holder_id,
            facility_code,
            profession: fields.hc_role,
            cert_serial: crate::credential::serial_hex(
                cert.tbs_certificate().serial_number().as_bytes(),
            ),
            subject: fields.subject,
        })
    }
}

/// What a presented certificate claims, unverified (for the record of a refusal): its
/// serial (hex), subject serialNumber and OU.
pub fn presented(leaf_der: &[u8]) -> Option<(String, Option<String>, Option<String>)> {
    let cert = Certificate::from_der(leaf_der).ok()?;
    let f = CertFields::of(&cert);
    Some((
        serial_hex(cert.tbs_certificate().serial_number().as_bytes()),
        f.serial_number,
        f.org_unit,
    ))
}

/// A serial number's INTEGER content octets as lower-case hex without the sign octet
/// (`00ab…` → `ab…`), as the CA shows serials.
pub fn serial_hex(octets: &[u8]) -> String {
    let mut o = octets;
    while o.len() > 1 && o.first() == Some(&0) {
        o = o.get(1..).unwrap_or(o);
    }
    hex::encode(o)
}

/// kmn-verify's reason, in the gateway's terms.
fn refusal_of(e: VerifyError) -> Refusal {
    let reason = match &e {
        VerifyError::Revoked { date, .. } => Reason::Revoked { date: date.clone() },
        VerifyError::Expired { .. } => Reason::Expired,
        VerifyError::NotYetValid { .. } => Reason::NotYetValid,
        VerifyError::NoCrl { .. } => Reason::RevocationUnavailable,
        VerifyError::WrongPurpose { .. } | VerifyError::ProfileViolation { .. } => {
            Reason::WrongCredential
        }
        VerifyError::NoIssuer { .. }
        | VerifyError::BadSignature { .. }
        | VerifyError::NotCa { .. }
        | VerifyError::NoKeyCertSign { .. }
        | VerifyError::PathLengthExceeded { .. }
        | VerifyError::NameConstraintViolation { .. }
        | VerifyError::PathTooLong { .. } => Reason::Untrusted,
        _ => Reason::InvalidCertificate,
    };
    Refusal::new(reason, e.to_string())
}

/// The subject attributes and extensions the gateway forwards.
#[derive(Debug, Default)]
struct CertFields {
    subject: String,
    serial_number: Option<String>,
    org_unit: Option<String>,
    common_name: Option<String>,
    policies: Vec<der::asn1::ObjectIdentifier>,
    hc_role: Option<String>,
}

impl CertFields {
    fn of(cert: &Certificate) -> CertFields {
        use kmn_pki::oid;
        let tbs = cert.tbs_certificate();
        let mut f = CertFields {
            subject: kmn_pki::name::display_name(tbs.subject()),
            ..CertFields::default()
        };
        for atv in tbs.subject().iter() {
            let Ok(v) = kmn_pki::name::decode_directory_string(atv.value.tag(), atv.value.value())
            else {
                continue;
            };
            if atv.oid == oid::AT_SERIAL_NUMBER {
                f.serial_number = Some(v);
            } else if atv.oid == oid::AT_ORG_UNIT {
                f.org_unit = Some(v);
            } else if atv.oid == oid::AT_COMMON_NAME {
                f.common_name = Some(v);
            }
        }
        if let Ok(Some((_, p))) = tbs.get_extension::<x509_cert::ext::pkix::CertificatePolicies>() {
            f.policies = p.0.iter().map(|i| i.policy_identifier).collect();
        }
        for ext in tbs.extensions().into_iter().flatten() {
            if ext.extn_id == oid::EXT_SUBJECT_DIRECTORY_ATTRIBUTES {
                f.hc_role = hc_role(ext.extn_value.as_bytes());
            }
        }
        f
    }
}

/// One DER TLV: (tag byte, content, rest). Definite lengths up to 4 octets.
fn tlv(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&l0, rest) = rest.split_first()?;
    let (len, rest) = if l0 < 0x80 {
        (usize::from(l0), rest)
    } else {
        let n = usize::from(l0 & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let (lb, rest) = rest.split_at(n);
        (
            lb.iter().fold(0usize, |a, b| (a << 8) | usize::from(*b)),
            rest,
        )
    };
    if rest.len() < len {
        return None;
    }
    let (content, rest) = rest.split_at(len);
    Some((tag, content, rest))
}

/// hcRole from subjectDirectoryAttributes (ISO 17090-3; kmn-pki `ext::hc_role`):
/// `SEQUENCE OF Attribute { OID hcRole, SET { SET OF HCActor { [0] { CodedData { OID,
/// UTF8String } } } } }`; the first role value found.
fn hc_role(ext_value: &[u8]) -> Option<String> {
    let hc_role_oid = der::asn1::ObjectIdentifier::new_unwrap("1.0.17090.0.1");
    let oid_der = hc_role_oid.as_bytes();
    let (_, attrs, _) = tlv(ext_value)?;
    let mut attrs = attrs;
    while !attrs.is_empty() {
        let (_, attr, rest) = tlv(attrs)?;
        attrs = rest;
        let (t, oid, values) = tlv(attr)?;
        if t != 0x06 || oid != oid_der {
            continue;
        }
        let (_, set, _) = tlv(values)?; // SET OF AttributeValue
        let (_, actor_data, _) = tlv(set)?; // HCActorData (SET OF HCActor)
        let (_, actor, _) = tlv(actor_data)?; // HCActor
        let (_, explicit, _) = tlv(actor)?; // [0]
        let (_, coded, _) = tlv(explicit)?; // CodedData
        let (_, _, value) = tlv(coded)?; // scheme OID, then the value
        let (_, text, _) = tlv(value)?;
        return std::str::from_utf8(text).ok().map(str::to_string);
    }
    None
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn hc_role_round_trips_through_kmn_pki_encoding() {
        let ext = kmn_pki::ext::hc_role("Medical Doctor");
        let c = x509_cert::ext::Extension::from_der(&ext).unwrap();
        assert_eq!(
            hc_role(c.extn_value.as_bytes()).as_deref(),
            Some("Medical Doctor")
        );
        assert_eq!(hc_role(&[0x30, 0x00]), None);
        assert_eq!(hc_role(&[0x30, 0x85, 0xff]), None);
    }
}

//! The credential check: ONE trait ([`CredentialCheck`]) between a presented certificate and
//! the identity the gateway forwards.
//!
//! [`Credentials`] dispatches on the certificate's issuer name:
//!
//! * issued under the network's own anchors (`[trust]`): kmn-verify
//!   ([`kmn_verify::verify_with_index`], [`Profile::Kmn`], [`Purpose::ClientAuth`]) against
//!   the revocation indexes kept fresh by kmn-crl-fetch; a user card or an operator
//!   certificate by its policy OID;
//! * issued under an `[[hpki]]` anchor: the same with that anchor's own
//!   [`Profile::Hpki`] (authentication certificate only, its own CRLs and grace), then
//!   [`kmn_verify::credential`] gives issuer, serial and key, and the doctor registry
//!   ([`Registry`]) the facilities the doctor is bound to;
//! * anything else: [`Reason::UnknownAnchor`].
//!
//! With `ocsp` on for the anchor, the leaf's OCSP answer is read from memory
//! ([`kmn_crl_fetch::OcspCache`], refreshed in the background): `revoked` and `unknown`
//! refuse; no usable answer leaves the decision to the CRL index, which is always checked
//! (a certificate no current CRL covers is refused whatever OCSP says).

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use der::{Decode, Encode, Tagged};
use kmn_crl_fetch::{OcspCache, OcspRefresher, OcspStatus};
use kmn_verify::{
    Credential, Profile, Purpose, RevocationStore, ValidatedPath, VerifyError, VerifyOptions,
};
use x509_cert::Certificate;

use crate::config::CredentialKind;
use crate::refusal::{Reason, Refusal};
use crate::registry::{Binding, Registry};

/// A boxed future, as [`CredentialCheck::check`] returns it.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Who logged in, as forwarded upstream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub credential: CredentialKind,
    /// `X-KMN-Holder-Id`: the subject serialNumber (the network's holder id); for a doctor
    /// the registry's binding id of the facility acted for (`hpki:<serial>` until one is
    /// chosen).
    pub holder_id: String,
    /// `X-KMN-Facility-Code`: the subject OU of a user card; for a doctor the facility
    /// acted for (set by the facility binding); none for an operator.
    pub facility_code: Option<String>,
    /// `X-KMN-Profession`: the registry's profession of a doctor, else hcRole when the
    /// certificate carries it.
    pub profession: Option<String>,
    /// `X-KMN-Cert-Serial`: lower-case hex.
    pub cert_serial: String,
    /// The subject, for logs.
    pub subject: String,
    /// A doctor's active bindings in the registry (empty for other credentials).
    pub bindings: Vec<Binding>,
}

/// Checks a client certificate at a time. Implementations answer from memory (no CRL
/// parsing, no OCSP fetch; the doctor registry only when no fresh answer is held) and fail
/// closed.
pub trait CredentialCheck: Send + Sync + 'static {
    /// The identity of `leaf_der` (the certificate the client presented, DER), or why not.
    fn check<'a>(
        &'a self,
        leaf_der: &'a [u8],
        at: time::OffsetDateTime,
    ) -> BoxFuture<'a, Result<Identity, Refusal>>;

    /// Changes whenever the data behind [`CredentialCheck::check`] may have changed (a CRL
    /// refetched, a fetch failed, the registry flushed): a cached answer of another
    /// generation is asked again.
    fn generation(&self) -> u64;
}

/// A group of trust anchors with its own policy, revocation data and OCSP.
pub struct AnchorSet {
    /// `kmn` or the `[[hpki]]` name.
    pub name: String,
    anchors: Vec<Vec<u8>>,
    intermediates: Vec<Vec<u8>>,
    /// Subject names (DER) of the anchors and intermediates: a leaf issued by one of them
    /// belongs to this set.
    subjects: Vec<Vec<u8>>,
    store: Arc<RevocationStore>,
    profile: Profile,
    ocsp: Option<Arc<OcspCache>>,
    _refresher: Option<OcspRefresher>,
}

impl AnchorSet {
    /// `ocsp`: `None` off, `Some(None)` the certificates' own responder, `Some(Some(url))`.
    pub fn new(
        name: &str,
        anchors: Vec<Vec<u8>>,
        intermediates: Vec<Vec<u8>>,
        store: Arc<RevocationStore>,
        profile: Profile,
        ocsp: Option<Option<String>>,
        ocsp_grace: std::time::Duration,
    ) -> Result<AnchorSet, String> {
        let subjects = anchors
            .iter()
            .chain(&intermediates)
            .filter_map(|c| Certificate::from_der(c).ok())
            .filter_map(|c| c.tbs_certificate().subject().to_der().ok())
            .collect();
        let (ocsp, refresher) = match ocsp {
            None => (None, None),
            Some(responder_url) => {
                let cache = OcspCache::new(kmn_crl_fetch::OcspConfig {
                    responder_url,
                    unreachable_grace: Some(ocsp_grace),
                    ..kmn_crl_fetch::OcspConfig::default()
                })
                .map_err(|e| format!("{name}: ocsp: {e}"))?;
                let r = cache.spawn_refresher();
                (Some(cache), Some(r))
            }
        };
        Ok(AnchorSet {
            name: name.to_string(),
            anchors,
            intermediates,
            subjects,
            store,
            profile,
            ocsp,
            _refresher: refresher,
        })
    }

    /// The revocation store the set's fetcher fills.
    pub fn store(&self) -> &Arc<RevocationStore> {
        &self.store
    }

    /// The trust anchors (DER).
    pub fn anchors(&self) -> &[Vec<u8>] {
        &self.anchors
    }

    /// One line on the OCSP answers held, when OCSP is on for this set.
    pub fn ocsp_summary(&self) -> Option<String> {
        let cache = self.ocsp.as_ref()?;
        let entries = cache.entries();
        let failing = entries.iter().filter(|e| e.last_error.is_some()).count();
        let url = cache
            .config()
            .responder_url
            .clone()
            .unwrap_or_else(|| "each certificate's own responder".into());
        Some(format!(
            "OCSP ({url}): {} certificate(s) held, {failing} failing",
            entries.len()
        ))
    }

    fn issued(&self, issuer_der: &[u8]) -> bool {
        self.subjects.iter().any(|s| s == issuer_der)
    }

    fn verify(&self, leaf_der: &[u8], at: time::OffsetDateTime) -> Result<ValidatedPath, Refusal> {
        let opts = VerifyOptions {
            at,
            purpose: Purpose::ClientAuth,
            profile: self.profile.clone(),
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
        .map_err(refusal_of)
    }
}

/// The network's own certificates and the HPKI anchors, with the doctor registry.
pub struct Credentials {
    kmn: AnchorSet,
    card_oids: Vec<der::asn1::ObjectIdentifier>,
    operator_oids: Vec<der::asn1::ObjectIdentifier>,
    hpki: Vec<AnchorSet>,
    registry: Option<Registry>,
    generation: AtomicU64,
    /// Certificates whose OCSP answer was asked (leaf → (cache, issuer)), refreshed at once
    /// by `kmn gateway reload`.
    ocsp_seen: Mutex<HashMap<Vec<u8>, SeenCert>>,
}

/// A certificate whose OCSP answer was asked: the cache holding it and its issuer (DER).
type SeenCert = (Arc<OcspCache>, Vec<u8>);

/// At most this many certificates are remembered for the OCSP refresh of a reload.
const MAX_OCSP_SEEN: usize = 100_000;

impl Credentials {
    pub fn new(
        kmn: AnchorSet,
        card_oids: &[String],
        operator_oids: &[String],
        hpki: Vec<AnchorSet>,
        registry: Option<Registry>,
    ) -> Result<Credentials, String> {
        Ok(Credentials {
            kmn,
            card_oids: parse_oids(card_oids)?,
            operator_oids: parse_oids(operator_oids)?,
            hpki,
            registry,
            generation: AtomicU64::new(0),
            ocsp_seen: Mutex::new(HashMap::new()),
        })
    }

    /// Every anchor set: the network's first, then the HPKI ones.
    pub fn sets(&self) -> impl Iterator<Item = &AnchorSet> {
        std::iter::once(&self.kmn).chain(&self.hpki)
    }

    /// Tells the check that the revocation data may have changed.
    pub fn bump(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
    }

    /// `kmn gateway reload`: empties the registry cache and fetches the OCSP answer of
    /// every certificate seen now (blocking: call it off the async threads). One line per
    /// part.
    pub fn reload_blocking(&self) -> Vec<String> {
        let mut lines = Vec::new();
        if let Some(r) = &self.registry {
            lines.push(format!(
                "flushed the doctor registry cache ({} answer(s))",
                r.flush()
            ));
        }
        let seen: Vec<(Vec<u8>, Arc<OcspCache>, Vec<u8>)> = self
            .ocsp_seen
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .map(|(k, (c, i))| (k.clone(), Arc::clone(c), i.clone()))
            .collect();
        if self.sets().any(|s| s.ocsp.is_some()) {
            let now = time::OffsetDateTime::now_utc().unix_timestamp();
            let (mut revoked, mut failed) = (0, 0);
            for (leaf, cache, issuer) in &seen {
                match cache.refresh_now(leaf, issuer, now) {
                    OcspStatus::Revoked { .. } => revoked += 1,
                    OcspStatus::Unavailable { .. } => failed += 1,
                    _ => {}
                }
            }
            lines.push(format!(
                "OCSP: asked again for {} certificate(s): {revoked} revoked, {failed} without an answer",
                seen.len()
            ));
        }
        self.bump();
        lines
    }

    fn ocsp(&self, set: &AnchorSet, path: &ValidatedPath, at: i64) -> Result<(), Refusal> {
        let Some(cache) = &set.ocsp else {
            return Ok(());
        };
        let (Some(leaf), Some(issuer)) = (path.chain.first(), path.chain.get(1)) else {
            return Ok(());
        };
        {
            let mut seen = self.ocsp_seen.lock().unwrap_or_else(|p| p.into_inner());
            if seen.len() >= MAX_OCSP_SEEN && !seen.contains_key(leaf) {
                seen.clear();
            }
            seen.entry(leaf.clone())
                .or_insert_with(|| (Arc::clone(cache), issuer.clone()));
        }
        match cache.status(leaf, issuer, at) {
            OcspStatus::Good { .. } => Ok(()),
            OcspStatus::Revoked { time, reason } => Err(Refusal::new(
                Reason::Revoked {
                    date: fmt_time(time),
                },
                format!(
                    "OCSP ({}): revoked at {} ({})",
                    set.name,
                    fmt_time(time),
                    reason.unwrap_or("no reason given")
                ),
            )),
            OcspStatus::Unknown => Err(Refusal::new(
                Reason::RevocationUnknown,
                format!("OCSP ({}): the responder answers unknown", set.name),
            )),
            OcspStatus::Unavailable { why } => {
                tracing::debug!("OCSP ({}): {why}; the CRL index decides", set.name);
                Ok(())
            }
        }
    }

    fn check_kmn(
        &self,
        leaf_der: &[u8],
        cert: &Certificate,
        at: time::OffsetDateTime,
    ) -> Result<Identity, Refusal> {
        let path = self.kmn.verify(leaf_der, at)?;
        self.ocsp(&self.kmn, &path, at.unix_timestamp())?;
        let fields = CertFields::of(cert);
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
            cert_serial: serial_hex(cert.tbs_certificate().serial_number().as_bytes()),
            subject: fields.subject,
            bindings: Vec::new(),
        })
    }

    async fn check_hpki(
        &self,
        set: &AnchorSet,
        leaf_der: &[u8],
        cert: &Certificate,
        issuer_der: &[u8],
        at: time::OffsetDateTime,
    ) -> Result<Identity, Refusal> {
        let path = set.verify(leaf_der, at)?;
        self.ocsp(set, &path, at.unix_timestamp())?;
        let (role, spki_sha256) = match kmn_verify::credential(&path, &set.profile, &[]) {
            Ok(Credential::Hpki {
                role, spki_sha256, ..
            }) => (role, spki_sha256),
            Ok(other) => {
                return Err(Refusal::new(
                    Reason::WrongCredential,
                    format!("not read as an HPKI credential: {}", other.kind()),
                ));
            }
            Err(e) => return Err(refusal_of(e)),
        };
        let serial = serial_hex(cert.tbs_certificate().serial_number().as_bytes());
        let subject = kmn_pki::name::display_name(cert.tbs_certificate().subject());
        let Some(registry) = &self.registry else {
            return Err(Refusal::new(
                Reason::RegistryUnavailable,
                "no [registry] is configured",
            ));
        };
        let bindings = registry.lookup(issuer_der, &serial, &spki_sha256).await?;
        if bindings.is_empty() {
            return Err(Refusal::new(
                Reason::DoctorNotRegistered,
                format!(
                    "HPKI certificate {serial} of '{subject}' ({}) has no active binding in the doctor registry",
                    set.name
                ),
            ));
        }
        let profession = bindings.first().map(|b| b.profession.clone()).or(role);
        Ok(Identity {
            credential: CredentialKind::Hpki,
            holder_id: format!("hpki:{serial}"),
            facility_code: None,
            profession,
            cert_serial: serial,
            subject,
            bindings,
        })
    }
}

fn parse_oids(v: &[String]) -> Result<Vec<der::asn1::ObjectIdentifier>, String> {
    v.iter()
        .map(|o| {
            der::asn1::ObjectIdentifier::new(o)
                .map_err(|_| format!("policy OID '{o}' is not an OID"))
        })
        .collect()
}

fn fmt_time(t: i64) -> String {
    use time::format_description::well_known::Rfc3339;
    time::OffsetDateTime::from_unix_timestamp(t)
        .ok()
        .and_then(|x| x.format(&Rfc3339).ok())
        .unwrap_or_else(|| t.to_string())
}

impl CredentialCheck for Credentials {
    fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    fn check<'a>(
        &'a self,
        leaf_der: &'a [u8],
        at: time::OffsetDateTime,
    ) -> BoxFuture<'a, Result<Identity, Refusal>> {
        Box::pin(async move {
            let cert = Certificate::from_der(leaf_der).map_err(|e| {
                Refusal::new(
                    Reason::InvalidCertificate,
                    format!("cannot parse the client certificate: {e}"),
                )
            })?;
            let issuer = cert.tbs_certificate().issuer().to_der().map_err(|e| {
                Refusal::new(
                    Reason::InvalidCertificate,
                    format!("the client certificate's issuer: {e}"),
                )
            })?;
            if self.kmn.issued(&issuer) {
                return self.check_kmn(leaf_der, &cert, at);
            }
            if let Some(set) = self.hpki.iter().find(|s| s.issued(&issuer)) {
                return self.check_hpki(set, leaf_der, &cert, &issuer, at).await;
            }
            Err(Refusal::new(
                Reason::UnknownAnchor,
                format!(
                    "'{}' is issued by '{}', which is none of the configured anchors or intermediates",
                    kmn_pki::name::display_name(cert.tbs_certificate().subject()),
                    kmn_pki::name::display_name(cert.tbs_certificate().issuer())
                ),
            ))
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
        VerifyError::NotHpkiAuthentication { .. } => Reason::HpkiSignatureCertificate,
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

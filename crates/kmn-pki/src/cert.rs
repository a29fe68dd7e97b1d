//! Certificate profiles (DESIGN §4) and the issuance pipeline: build the TBS → lint it →
//! hand out a one-shot [`LintedTbs`] token → the caller records serial and TBS → sign.
//!
//! The token can only be made by [`prepare`], which runs the lints, and is consumed by
//! [`sign`], so nothing that the lints have not passed reaches a key, and the caller can
//! store the exact bytes before they are signed (after Boulder's `issuance/cert.go`).

#![deny(clippy::indexing_slicing, clippy::unwrap_used, clippy::expect_used)]

use kmn_domain::{CertSerial, ProfileKind};
use time::OffsetDateTime;

use crate::ext::{self, AltName, PolicyOid};
use crate::keys::{SignatureAlgorithm, Signer};
use crate::name::DistinguishedName;
use crate::profile::{profile_eku, profile_key_usage};
use crate::{PkiError, derw, lint};

pub use crate::profile::IssuerInfo;

/// The URLs certificates point to (DESIGN §7a: from `public_base_url`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Urls {
    /// cRLDistributionPoints URL.
    pub crl: Option<String>,
    /// AIA OCSP URL.
    pub ocsp: Option<String>,
    /// AIA caIssuers URL.
    pub ca_issuers: Option<String>,
    /// CPS URI for the policy qualifier.
    pub cps: Option<String>,
}

/// Everything that varies between certificates of one profile.
#[derive(Clone, Debug)]
pub struct CertTemplate {
    /// The profile.
    pub profile: ProfileKind,
    /// The serial number.
    pub serial: CertSerial,
    /// The subject.
    pub subject: DistinguishedName,
    /// The subject's public key.
    pub spki_der: Vec<u8>,
    /// notBefore.
    pub not_before: OffsetDateTime,
    /// notAfter.
    pub not_after: OffsetDateTime,
    /// Policy OIDs (none for the root).
    pub policies: Vec<PolicyOid>,
    /// URLs for CRL DP, AIA and the CPS qualifier.
    pub urls: Urls,
    /// subjectAltName entries.
    pub alt_names: Vec<AltName>,
    /// hcRole, only when the qualification was checked against a licence.
    pub hc_role: Option<String>,
}

/// Builds the DER TBSCertificate for a template under an issuer.
pub fn build_tbs(t: &CertTemplate, issuer: &IssuerInfo) -> Result<Vec<u8>, PkiError> {
    let own_kid = ext::key_identifier(&t.spki_der)?;
    let mut exts: Vec<Vec<u8>> = Vec::new();
    match t.profile {
        ProfileKind::Root => exts.push(ext::basic_constraints_ca(None)),
        ProfileKind::IssuingCa => exts.push(ext::basic_constraints_ca(Some(0))),
        ProfileKind::OcspSigner
        | ProfileKind::AuditSigner
        | ProfileKind::UserCard
        | ProfileKind::Operator
        | ProfileKind::Station
        | ProfileKind::Server => {}
    }
    exts.push(ext::key_usage(&profile_key_usage(t.profile, &t.spki_der)));
    let eku = profile_eku(t.profile);
    if !eku.is_empty() {
        exts.push(ext::ext_key_usage(&eku));
    }
    exts.push(ext::subject_key_id(&own_kid));
    exts.push(ext::authority_key_id(&issuer.key_id));
    if !t.alt_names.is_empty() {
        exts.push(ext::subject_alt_name(&t.alt_names, t.subject.is_empty()));
    }
    if let Some(role) = &t.hc_role {
        exts.push(ext::hc_role(role));
    }
    if !t.policies.is_empty() {
        exts.push(ext::certificate_policies(
            &t.policies,
            t.urls.cps.as_deref(),
        ));
    }
    if t.profile != ProfileKind::Root && t.profile != ProfileKind::OcspSigner {
        if let Some(crl) = &t.urls.crl {
            exts.push(ext::crl_distribution_points(crl));
        }
        let ocsp = match t.profile {
            ProfileKind::IssuingCa => None,
            _ => t.urls.ocsp.as_deref(),
        };
        if ocsp.is_some() || t.urls.ca_issuers.is_some() {
            exts.push(ext::authority_info_access(
                ocsp,
                t.urls.ca_issuers.as_deref(),
            ));
        }
    }
    if t.profile == ProfileKind::OcspSigner {
        exts.push(ext::ocsp_nocheck());
    }
    let ext_refs: Vec<&[u8]> = exts.iter().map(|e| e.as_slice()).collect();
    let extensions = derw::explicit(3, &derw::seq(&ext_refs));

    let version = derw::explicit(0, &derw::uint_u64(2));
    let serial = derw::uint(t.serial.as_bytes());
    let sig = issuer.signature_algorithm.algorithm_identifier();
    let validity = derw::seq(&[&derw::time(t.not_before), &derw::time(t.not_after)]);
    let subject = t.subject.to_der();
    Ok(derw::seq(&[
        &version,
        &serial,
        &sig,
        &issuer.subject_der,
        &validity,
        &subject,
        &t.spki_der,
        &extensions,
    ]))
}

/// A TBSCertificate that passed the lints: the only thing [`sign`] accepts.
#[derive(Debug)]
pub struct LintedTbs {
    tbs: Vec<u8>,
    serial: CertSerial,
}

impl LintedTbs {
    /// The exact bytes that will be signed (store them before signing).
    pub fn tbs(&self) -> &[u8] {
        &self.tbs
    }

    /// The serial number.
    pub fn serial(&self) -> &CertSerial {
        &self.serial
    }
}

/// Builds and lints a certificate; a failing lint refuses and names the rule.
pub fn prepare(
    t: &CertTemplate,
    issuer: &IssuerInfo,
    expect: &lint::Expectations,
) -> Result<LintedTbs, PkiError> {
    let tbs = build_tbs(t, issuer)?;
    lint::lint_tbs(&tbs, t.profile, issuer, expect)?;
    Ok(LintedTbs {
        tbs,
        serial: t.serial.clone(),
    })
}

/// Signs a linted TBS and assembles the certificate. The signer must be the issuer's key.
pub fn sign(linted: LintedTbs, signer: &dyn Signer) -> Result<Vec<u8>, PkiError> {
    let sig = signer.sign(&linted.tbs)?;
    Ok(assemble(&linted.tbs, signer.signature_algorithm(), &sig))
}

/// TBS + algorithm + signature → Certificate (or CertificateList: same shape).
pub fn assemble(tbs: &[u8], alg: SignatureAlgorithm, signature: &[u8]) -> Vec<u8> {
    derw::seq(&[tbs, &alg.algorithm_identifier(), &derw::bits(signature)])
}

/// SHA-256 fingerprint, lowercase hex.
pub fn fingerprint_sha256(der: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(der))
}

/// PEM encoding of a certificate.
pub fn to_pem(der: &[u8]) -> String {
    pem_encode("CERTIFICATE", der)
}

/// PEM with a label, 64-column base64.
pub fn pem_encode(label: &str, der: &[u8]) -> String {
    use base64::Engine;
    let b = base64::engine::general_purpose::STANDARD.encode(der);
    let mut s = format!("-----BEGIN {label}-----\n");
    let mut rest = b.as_str();
    while !rest.is_empty() {
        // base64 is ASCII, so every index is a character boundary.
        let (line, tail) = rest.split_at_checked(64).unwrap_or((rest, ""));
        s.push_str(line);
        s.push('\n');
        rest = tail;
    }
    s.push_str(&format!("-----END {label}-----\n"));
    s
}

/// Decodes the first PEM block with the label, or the input itself when it is DER.
pub fn pem_or_der(input: &[u8], label: &str) -> Result<Vec<u8>, PkiError> {
    if input.first() == Some(&0x30) {
        return Ok(input.to_vec());
    }
    let text = std::str::from_utf8(input)
        .map_err(|_| PkiError::BadInput("the file is neither DER nor PEM".into()))?;
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let (_, rest) = text.split_once(&begin).ok_or_else(|| {
        PkiError::BadInput(format!("the file has no '{begin}' block and is not DER"))
    })?;
    let (body, _) = rest
        .split_once(&end)
        .ok_or_else(|| PkiError::BadInput(format!("the PEM block has no '{end}' line")))?;
    let b64: String = body.chars().filter(|c| !c.is_whitespace()).collect();
    use base64::Engine;
    base64::engine::general_purpose::STANDARD
        .decode(b64)
        .map_err(|_| PkiError::BadInput("the PEM block is not valid base64".into()))
}

//! kmn-verify: offline X.509 certification path validation (RFC 5280 §6.1) with CRL-based
//! revocation checking (RFC 5280 §6.3).
//!
//! The library builds a path from a leaf certificate to one of the supplied trust anchors
//! (backtracking over candidate issuers, so key rollover with self-issued certificates works),
//! validates every certificate on it, and — when asked — checks every certificate except the
//! anchor against the supplied CRLs (issuing distribution points, reason masks, indirect CRLs
//! and separate CRL-signing keys included). Delta CRLs are ignored. Name constraints are
//! enforced for directoryName, rfc822Name, dNSName, uniformResourceIdentifier and iPAddress
//! subtrees.
//!
//! # A strict relying party
//!
//! Beyond the minimum of RFC 5280 (issue #11; docs/VERIFY.md has the reasons and the
//! differences from rustls-webpki):
//!
//! * The trust anchor's own constraints apply: its validity period, basicConstraints (cA and
//!   pathLenConstraint), keyUsage keyCertSign, nameConstraints, critical extensions and, with
//!   a purpose, its extendedKeyUsage (optional in RFC 5937; done here).
//! * A CRL must carry a cRLNumber; unknown critical CRL (entry) extensions and a critical
//!   authorityKeyIdentifier, freshestCRL or authorityInfoAccess make it unusable.
//! * Extensions RFC 5280 requires to be non-critical (authorityKeyIdentifier,
//!   subjectKeyIdentifier, subjectDirectoryAttributes, freshestCRL, authorityInfoAccess,
//!   subjectInfoAccess) are refused when marked critical. BOOLEANs must be DER (TRUE = 0xFF).
//! * At most [`MAX_INTERMEDIATES`] intermediate CA certificates; name constraints get at most
//!   [`MAX_NAME_CONSTRAINT_COMPARISONS`] comparisons per validation, counted before they are
//!   made, so an oversized certificate is refused at once.
//! * [`Purpose::ClientAuth`] and [`Purpose::ServerAuth`] require the key purpose in the
//!   leaf's extendedKeyUsage (the extension is mandatory), a leaf that is not a CA, and the
//!   purpose in every CA certificate of the path that has extendedKeyUsage;
//!   [`VerifyOptions::dns_name`] checks the server's name against its subjectAltName dNSNames
//!   (RFC 6125).
//! * Certificate policies: RFC 5280 §6.1 policy-tree processing is **not** implemented.
//!   Instead, a path in which any certificate (the anchor included) carries policyMappings,
//!   policyConstraints or inhibitAnyPolicy, critical or not, is refused with
//!   [`VerifyError::PolicyProcessingRefused`]. certificatePolicies itself is accepted (critical
//!   too); under [`Profile::Kmn`] the leaf's policy OIDs are checked against the accepted list.
//!
//! ```no_run
//! use kmn_verify::{verify, load_pem_or_der_bundle, load_crls, Profile, Purpose, VerifyOptions};
//! # fn main() -> Result<(), kmn_verify::VerifyError> {
//! let leaf = load_pem_or_der_bundle(&std::fs::read("leaf.pem").unwrap())?.remove(0);
//! let anchors = load_pem_or_der_bundle(&std::fs::read("root.pem").unwrap())?;
//! let crls = load_crls(&std::fs::read("ca.crl").unwrap())?;
//! let opts = VerifyOptions {
//!     at: time::OffsetDateTime::now_utc(),
//!     purpose: Purpose::ClientAuth,
//!     profile: Profile::Kmn { policy_oids: vec![] },
//!     check_revocation: true,
//!     dns_name: None,
//! };
//! let path = verify(&leaf, &anchors, &[], &crls, &opts)?;
//! println!("valid, {} certificates", path.chain.len());
//! # Ok(()) }
//! ```

#![forbid(unsafe_code)]

mod asn1;
mod cert;
mod credential;
mod crl;
mod error;
mod name;
mod ocsp;
mod pem;
mod revocation;
mod sig;
mod validate;

pub use credential::{
    Credential, DEFAULT_HPKI_AUTH_POLICY, DEFAULT_HPKI_SIGNATURE_POLICY, KmnCardIdentity,
    credential, hc_role, kmn_card_identity,
};
pub use error::VerifyError;
pub use ocsp::{
    MAX_OCSP_RESPONSE_LEN, OCSP_MAX_SKEW, OcspCertStatus, OcspError, OcspHash, OcspResult,
    check_ocsp_response, ocsp_request, ocsp_urls,
};
pub use revocation::{
    IndexError, MAX_SERIAL_LEN, RevocationConfig, RevocationIndex, RevocationSnapshot,
    RevocationStatus, RevocationStore, SourceState,
};

/// What the leaf certificate is going to be used for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Purpose {
    /// No extended key usage requirement.
    #[default]
    Any,
    /// TLS client authentication: the leaf must be an end-entity certificate whose
    /// extendedKeyUsage contains id-kp-clientAuth, and every CA certificate of the path that
    /// has extendedKeyUsage must contain it too.
    ClientAuth,
    /// TLS server authentication: as [`Purpose::ClientAuth`], with id-kp-serverAuth. Combine
    /// with [`VerifyOptions::dns_name`] to check the server's name.
    ServerAuth,
}

impl Purpose {
    /// The purpose in words, as error messages name it.
    pub fn describe(self) -> &'static str {
        match self {
            Purpose::Any => "any purpose",
            Purpose::ClientAuth => "client authentication",
            Purpose::ServerAuth => "server authentication",
        }
    }
}

/// Which set of rules to apply.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Profile {
    /// Plain RFC 5280 path validation. RSA keys from 1024 bits and SHA-1 signatures are
    /// accepted (legacy data such as NIST PKITS uses them).
    #[default]
    Rfc5280,
    /// RFC 5280 plus the regional network's rules for the leaf: extendedKeyUsage with
    /// id-kp-clientAuth, keyUsage with digitalSignature, and certificatePolicies containing one
    /// of `policy_oids` (any non-empty certificatePolicies if `policy_oids` is empty).
    /// Signatures must use SHA-2 (or Ed25519) and RSA keys must have at least 2048 bits.
    Kmn {
        policy_oids: Vec<der::asn1::ObjectIdentifier>,
    },
    /// An HPKI physician card's **authentication** certificate (issue #11 item 2), under an
    /// HPKI trust anchor given as the anchor of the call. The leaf must:
    ///
    /// * carry certificatePolicies with an OID equal to or under one of `auth_policy_oids`,
    ///   and none equal to or under one of `signature_policy_oids`;
    /// * have keyUsage with digitalSignature and without nonRepudiation (contentCommitment):
    ///   the signature certificate (nonRepudiation, the signature policy) is refused with
    ///   [`VerifyError::NotHpkiAuthentication`] saying so;
    /// * not need extendedKeyUsage: with [`Purpose::ClientAuth`] an absent extension is
    ///   accepted (one that is present must still contain id-kp-clientAuth); hcRole is not
    ///   required (it is read by [`credential`] when present).
    ///
    /// SHA-2 (or Ed25519) signatures and RSA keys of 2048 bits or more, as under `Kmn`.
    /// `crl_grace` is added to the nextUpdate grace of the CRLs checked in this validation
    /// (raw CRLs with [`verify`], the store's `next_update_grace` with
    /// [`verify_with_index`]): the HPKI CA's CRL schedule is not the network's.
    Hpki {
        auth_policy_oids: Vec<der::asn1::ObjectIdentifier>,
        signature_policy_oids: Vec<der::asn1::ObjectIdentifier>,
        crl_grace: std::time::Duration,
    },
}

impl Profile {
    /// `Profile::Hpki` with the default policy arcs ([`DEFAULT_HPKI_AUTH_POLICY`],
    /// [`DEFAULT_HPKI_SIGNATURE_POLICY`]; see docs/VERIFY.md before relying on them) and
    /// `crl_grace`.
    pub fn hpki_default(crl_grace: std::time::Duration) -> Profile {
        Profile::Hpki {
            auth_policy_oids: vec![der::asn1::ObjectIdentifier::new_unwrap(
                DEFAULT_HPKI_AUTH_POLICY,
            )],
            signature_policy_oids: vec![der::asn1::ObjectIdentifier::new_unwrap(
                DEFAULT_HPKI_SIGNATURE_POLICY,
            )],
            crl_grace,
        }
    }
}

/// The most intermediate CA certificates a path may hold (the leaf and the trust anchor not
/// counted). Longer paths are refused with [`VerifyError::PathTooLong`].
pub const MAX_INTERMEDIATES: usize = 6;

/// The most name comparisons one validation may make for name constraints (each name of a
/// certificate against each subtree of a CA above it). A certificate whose names times the
/// subtrees above it exceed what is left is refused before any comparison
/// ([`VerifyError::TooComplex`]).
pub const MAX_NAME_CONSTRAINT_COMPARISONS: usize = 65_536;

/// Validation parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyOptions {
    /// The time at which the path must be valid.
    pub at: time::OffsetDateTime,
    pub purpose: Purpose,
    pub profile: Profile,
    /// Check every certificate except the anchor against the supplied CRLs; a certificate no
    /// valid, current CRL covers makes validation fail.
    pub check_revocation: bool,
    /// A DNS name (A-labels, e.g. `kmn.example.jp`) the leaf must carry as a subjectAltName
    /// dNSName (RFC 6125: no common-name fallback; a wildcard only as the whole left-most
    /// label, standing for exactly one label).
    pub dns_name: Option<String>,
}

impl VerifyOptions {
    /// Options for validation at `at`: purpose Any, RFC 5280 profile, no revocation checking.
    pub fn new(at: time::OffsetDateTime) -> Self {
        VerifyOptions {
            at,
            purpose: Purpose::Any,
            profile: Profile::Rfc5280,
            check_revocation: false,
            dns_name: None,
        }
    }
}

/// A successfully validated path.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ValidatedPath {
    /// DER certificates, leaf first, trust anchor last.
    pub chain: Vec<Vec<u8>>,
    /// Subject names of `chain`, in the same order (RFC 4514 style).
    pub subjects: Vec<String>,
    /// Whether revocation was checked for every certificate but the anchor.
    pub revocation_checked: bool,
}

/// Validates `leaf_der` against `anchors` (DER certificates whose subject name and key are
/// trusted), using `intermediates` (DER, any order) to build the path and `crls` (DER) for
/// revocation when `opts.check_revocation` is set.
pub fn verify(
    leaf_der: &[u8],
    anchors: &[Vec<u8>],
    intermediates: &[Vec<u8>],
    crls: &[Vec<u8>],
    opts: &VerifyOptions,
) -> Result<ValidatedPath, VerifyError> {
    validate::verify(leaf_der, anchors, intermediates, crls, None, opts)
}

/// As [`verify`], with revocation checked (always) against the indexes of `revocation`
/// instead of raw CRLs: no CRL is parsed and no CRL signature is verified here, each
/// certificate of the path but the anchor costs a binary search in the index of its issuer
/// (same name and key) that covers its partition. A certificate no current index covers fails
/// closed with [`VerifyError::NoCrl`], whose message says why (past nextUpdate, unreachable
/// source, missing partition). Take the snapshot from a [`RevocationStore`].
pub fn verify_with_index(
    leaf_der: &[u8],
    anchors: &[Vec<u8>],
    intermediates: &[Vec<u8>],
    revocation: &RevocationSnapshot,
    opts: &VerifyOptions,
) -> Result<ValidatedPath, VerifyError> {
    validate::verify(
        leaf_der,
        anchors,
        intermediates,
        &[],
        Some(revocation),
        opts,
    )
}

/// Checks that `name` can be given as [`VerifyOptions::dns_name`]: a DNS name of LDH labels
/// (A-labels for internationalised names), at most 253 characters, one trailing dot allowed;
/// not a wildcard, not an IP address.
pub fn check_dns_name_syntax(name: &str) -> Result<(), VerifyError> {
    validate::check_dns_name_syntax(name)
}

/// Splits a certificate file: one (or several concatenated) DER certificates, or any number of
/// PEM `CERTIFICATE` blocks (other PEM blocks are ignored). Every certificate is parsed so that
/// a broken file is reported here.
pub fn load_pem_or_der_bundle(bytes: &[u8]) -> Result<Vec<Vec<u8>>, VerifyError> {
    pem::load_certs(bytes)
}

/// Splits a CRL file: DER, or PEM `X509 CRL` blocks.
pub fn load_crls(bytes: &[u8]) -> Result<Vec<Vec<u8>>, VerifyError> {
    pem::load_crl_list(bytes)
}

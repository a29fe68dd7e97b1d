//! The error type.

/// Why a certificate (or an input file) was not accepted.
///
/// The `Display` text is meant for operators: it names the certificate concerned by its
/// subject, most specific RDN first.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// An input could not be decoded.
    #[error("could not parse {what}: {detail}")]
    Malformed { what: String, detail: String },

    /// No certificate was found in a bundle.
    #[error("no certificate found in the input (expected DER or PEM \"CERTIFICATE\" blocks)")]
    NoCertificates,

    /// No CRL was found in a CRL file.
    #[error("no CRL found in the input (expected DER or PEM \"X509 CRL\" blocks)")]
    NoCrls,

    /// The caller supplied no trust anchor.
    #[error("no trust anchor was supplied")]
    NoTrustAnchors,

    /// A signature uses an algorithm or key type that is not supported.
    #[error("unsupported algorithm: cannot verify the signature of '{subject}': {detail}")]
    UnsupportedAlgorithm { subject: String, detail: String },

    /// A certificate signature does not verify.
    #[error("signature of '{subject}' does not verify with the key of '{issuer}'")]
    BadSignature { subject: String, issuer: String },

    /// The signature algorithm inside the signed part differs from the outer one.
    #[error(
        "certificate '{subject}' names different signature algorithms inside ({inner}) and outside ({outer}) the signed part"
    )]
    AlgorithmMismatch {
        subject: String,
        inner: String,
        outer: String,
    },

    /// No issuer could be found.
    #[error("no path to a trust anchor: no issuer found for '{subject}' (issuer '{issuer}')")]
    NoIssuer { subject: String, issuer: String },

    /// The certificate is not valid yet.
    #[error("certificate '{subject}' is not valid before {not_before}")]
    NotYetValid { subject: String, not_before: String },

    /// The certificate has expired.
    #[error("certificate '{subject}' expired at {not_after}")]
    Expired { subject: String, not_after: String },

    /// An intermediate is not a CA certificate.
    #[error("certificate '{subject}' is not a CA certificate ({detail}) but issued '{child}'")]
    NotCa {
        subject: String,
        child: String,
        detail: String,
    },

    /// A CA certificate's keyUsage lacks keyCertSign.
    #[error("certificate '{subject}' may not sign certificates: its keyUsage lacks keyCertSign")]
    NoKeyCertSign { subject: String },

    /// A pathLenConstraint was exceeded.
    #[error("certificate '{subject}' exceeds the path length allowed by a CA above it")]
    PathLengthExceeded { subject: String },

    /// The certificate carries a critical extension this library does not process.
    #[error("certificate '{subject}' has an unsupported critical extension {oid}")]
    UnknownCriticalExtension { subject: String, oid: String },

    /// The certificate is structurally unacceptable.
    #[error("certificate '{subject}' is invalid: {detail}")]
    InvalidCertificate { subject: String, detail: String },

    /// A name in the certificate violates a nameConstraints extension of a CA above it.
    #[error("certificate '{subject}' violates the name constraints of '{ca}': {detail}")]
    NameConstraintViolation {
        subject: String,
        ca: String,
        detail: String,
    },

    /// The certificate was revoked.
    #[error("certificate '{subject}' was revoked on {date} (reason: {reason})")]
    Revoked {
        subject: String,
        date: String,
        reason: String,
    },

    /// No usable CRL covers the certificate (for all revocation reasons).
    #[error("no CRL covers certificate '{subject}'{detail}")]
    NoCrl { subject: String, detail: String },

    /// The leaf does not allow the requested purpose.
    #[error("certificate '{subject}' is not valid for {purpose}: {detail}")]
    WrongPurpose {
        subject: String,
        purpose: String,
        detail: String,
    },

    /// The leaf is not valid for the DNS name the caller asked for.
    #[error("certificate '{subject}' is not valid for the DNS name '{name}': {detail}")]
    NameMismatch {
        subject: String,
        name: String,
        detail: String,
    },

    /// A certificate carries a policy-processing extension (policyMappings,
    /// policyConstraints, inhibitAnyPolicy); such paths are refused, not half-processed.
    #[error(
        "certificate '{subject}' carries {extension}: certificate policy mapping and policy constraints are not processed, so a path with them is refused"
    )]
    PolicyProcessingRefused { subject: String, extension: String },

    /// The path is longer than this library accepts.
    #[error(
        "no acceptable path for '{subject}': a path may hold at most {max} intermediate CA certificates"
    )]
    PathTooLong { subject: String, max: usize },

    /// Checking the certificate would take more work than this library allows.
    #[error("certificate '{subject}' is refused without being checked: {detail}")]
    TooComplex { subject: String, detail: String },

    /// The leaf does not meet the kmn profile.
    #[error("certificate '{subject}' does not meet the kmn profile: {detail}")]
    ProfileViolation { subject: String, detail: String },

    /// Under [`crate::Profile::Hpki`]: the leaf is not an HPKI authentication certificate
    /// (a signature certificate, another policy, wrong keyUsage).
    #[error(
        "certificate '{subject}' is not accepted as an HPKI authentication certificate: {detail}"
    )]
    NotHpkiAuthentication { subject: String, detail: String },
}

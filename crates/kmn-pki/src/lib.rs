//! kmn-pki: X.509 for the Kumamoto Medical Network CA.
//!
//! Profiles ([`profile`]: root, issuing CA, OCSP signer, audit signer, user card,
//! operator, station, TLS server), the lint-before-sign issuance pipeline
//! ([`cert::prepare`] → store → [`cert::sign`]), the streaming CRL encoder and its
//! read-back ([`crl`]), CSR parsing ([`csr`]), the [`keys::Signer`] trait with software
//! keys, and the CMS SignedData of the audit checkpoints ([`cms`], [`checkpoint`]).
//! Everything is DER written by [`derw`] and read back by [`parse`].
#![forbid(unsafe_code)]

pub mod cert;
pub mod checkpoint;
pub mod cms;
pub mod crl;
pub mod csr;
pub mod derr;
pub mod derw;
pub mod ext;
pub mod keys;
pub mod lint;
pub mod name;
pub mod ocsp;
pub mod oid;
pub mod parse;
pub mod profile;
pub mod receipt;

pub use lint::LintFailure;

/// Errors of this crate. Messages are for the CA administrator (English).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PkiError {
    /// Input that does not parse or breaks the profile.
    #[error("{0}")]
    BadInput(String),
    /// A profile lint refused to sign.
    #[error(transparent)]
    Lint(#[from] LintFailure),
    /// Key loading or format problem.
    #[error("{0}")]
    Key(String),
    /// The key exists but cannot sign now (an HSM token that is gone, a lost session,
    /// a refused PIN). The message is for the person who must fix it.
    #[error("{0}")]
    KeyUnavailable(String),
    /// The passphrase does not decrypt the key.
    #[error("the CA passphrase is wrong: the key file could not be decrypted")]
    WrongPassphrase,
    /// A cryptographic operation failed.
    #[error("cryptographic failure: {0}")]
    Crypto(String),
}

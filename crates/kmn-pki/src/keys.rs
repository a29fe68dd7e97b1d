//! Keys and signers: the [`Signer`] trait every CA key implements (software keys here,
//! PKCS#11 keys in kmn-token), software key generation, and encrypted PKCS#8 storage.

#![deny(clippy::indexing_slicing, clippy::unwrap_used, clippy::expect_used)]

use std::fmt;
use std::str::FromStr;

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::{KeyPair as RsaKeyPair, KeySize};
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_ASN1_SIGNING, ECDSA_P384_SHA384_ASN1_SIGNING, EcdsaKeyPair, KeyPair,
    RSA_PKCS1_SHA256,
};
use zeroize::Zeroizing;

use crate::{PkiError, derw, oid};

/// Key algorithms a ceremony may choose (DESIGN §4).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KeyAlgorithm {
    /// ECDSA on P-256 (signs with SHA-256).
    P256,
    /// ECDSA on P-384 (signs with SHA-384).
    P384,
    /// RSA 2048 (signs with SHA-256, PKCS #1 v1.5).
    Rsa2048,
    /// RSA 3072.
    Rsa3072,
    /// RSA 4096.
    Rsa4096,
}

impl KeyAlgorithm {
    /// Command-line name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::P256 => "p256",
            Self::P384 => "p384",
            Self::Rsa2048 => "rsa2048",
            Self::Rsa3072 => "rsa3072",
            Self::Rsa4096 => "rsa4096",
        }
    }

    /// The signature algorithm a key of this kind signs with.
    pub fn signature_algorithm(self) -> SignatureAlgorithm {
        match self {
            Self::P256 => SignatureAlgorithm::EcdsaSha256,
            Self::P384 => SignatureAlgorithm::EcdsaSha384,
            _ => SignatureAlgorithm::RsaPkcs1Sha256,
        }
    }
}

impl FromStr for KeyAlgorithm {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s.to_ascii_lowercase().as_str() {
            "p256" | "p-256" | "ecdsa-p256" => Self::P256,
            "p384" | "p-384" | "ecdsa-p384" => Self::P384,
            "rsa2048" | "rsa-2048" => Self::Rsa2048,
            "rsa3072" | "rsa-3072" => Self::Rsa3072,
            "rsa4096" | "rsa-4096" => Self::Rsa4096,
            other => {
                return Err(format!(
                    "unknown key algorithm '{other}' (known: p256, p384, rsa2048, rsa3072, rsa4096)"
                ));
            }
        })
    }
}

impl fmt::Display for KeyAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Signature algorithms the CA signs with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SignatureAlgorithm {
    /// ecdsa-with-SHA256 (RFC 5758 §3.2: parameters absent).
    EcdsaSha256,
    /// ecdsa-with-SHA384.
    EcdsaSha384,
    /// sha256WithRSAEncryption (RFC 4055: parameters NULL).
    RsaPkcs1Sha256,
}

impl SignatureAlgorithm {
    /// The DER AlgorithmIdentifier.
    pub fn algorithm_identifier(self) -> Vec<u8> {
        match self {
            Self::EcdsaSha256 => derw::seq(&[&derw::oid(&oid::ECDSA_WITH_SHA256)]),
            Self::EcdsaSha384 => derw::seq(&[&derw::oid(&oid::ECDSA_WITH_SHA384)]),
            Self::RsaPkcs1Sha256 => derw::seq(&[&derw::oid(&oid::SHA256_WITH_RSA), &derw::null()]),
        }
    }

    /// The OID.
    pub fn oid(self) -> const_oid::ObjectIdentifier {
        match self {
            Self::EcdsaSha256 => oid::ECDSA_WITH_SHA256,
            Self::EcdsaSha384 => oid::ECDSA_WITH_SHA384,
            Self::RsaPkcs1Sha256 => oid::SHA256_WITH_RSA,
        }
    }
}

/// Anything that can sign for a CA: a software key, an HSM key behind PKCS#11.
///
/// `sign` receives the exact DER of the to-be-signed structure (already linted and
/// recorded, see [`crate::issue`]) and returns the signature value in the encoding the
/// algorithm identifier names (DER ECDSA-Sig-Value for ECDSA).
pub trait Signer: Send + Sync {
    /// The algorithm `sign` produces.
    fn signature_algorithm(&self) -> SignatureAlgorithm;
    /// DER SubjectPublicKeyInfo of the key.
    fn spki_der(&self) -> &[u8];
    /// Sign `tbs`.
    fn sign(&self, tbs: &[u8]) -> Result<Vec<u8>, PkiError>;
    /// Checks that the key can sign now (an HSM key: the token is there, the login
    /// works, the key is the certified one) without signing anything. Software keys
    /// are always ready.
    fn check(&self) -> Result<(), PkiError> {
        Ok(())
    }
}

/// A key held in memory (decrypted from encrypted PKCS#8 for the quick start and tests;
/// production CA keys live in an HSM).
pub struct SoftwareKey {
    inner: SoftInner,
    spki: Vec<u8>,
    algorithm: KeyAlgorithm,
}

enum SoftInner {
    Ec(EcdsaKeyPair),
    Rsa(RsaKeyPair),
}

impl fmt::Debug for SoftwareKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SoftwareKey")
            .field("algorithm", &self.algorithm)
            .field("private", &"<redacted>")
            .finish()
    }
}

impl SoftwareKey {
    /// Generates a new key; returns it with its unencrypted PKCS#8 (zeroized on drop).
    pub fn generate(alg: KeyAlgorithm) -> Result<(Self, Zeroizing<Vec<u8>>), PkiError> {
        let pkcs8 = match alg {
            KeyAlgorithm::P256 | KeyAlgorithm::P384 => {
                let sig_alg = if alg == KeyAlgorithm::P256 {
                    &ECDSA_P256_SHA256_ASN1_SIGNING
                } else {
                    &ECDSA_P384_SHA384_ASN1_SIGNING
                };
                let kp = EcdsaKeyPair::generate(sig_alg)
                    .map_err(|_| PkiError::Crypto("EC key generation failed".into()))?;
                kp.to_pkcs8v1()
                    .map_err(|_| PkiError::Crypto("PKCS#8 export failed".into()))?
                    .as_ref()
                    .to_vec()
            }
            KeyAlgorithm::Rsa2048 | KeyAlgorithm::Rsa3072 | KeyAlgorithm::Rsa4096 => {
                let size = match alg {
                    KeyAlgorithm::Rsa2048 => KeySize::Rsa2048,
                    KeyAlgorithm::Rsa3072 => KeySize::Rsa3072,
                    _ => KeySize::Rsa4096,
                };
                let kp = RsaKeyPair::generate(size)
                    .map_err(|_| PkiError::Crypto("RSA key generation failed".into()))?;
                AsDer::<aws_lc_rs::encoding::Pkcs8V1Der>::as_der(&kp)
                    .map_err(|_| PkiError::Crypto("PKCS#8 export failed".into()))?
                    .as_ref()
                    .to_vec()
            }
        };
        let pkcs8 = Zeroizing::new(pkcs8);
        let key = Self::from_pkcs8(&pkcs8)?;
        Ok((key, pkcs8))
    }

    /// Loads an unencrypted PKCS#8 private key.
    pub fn from_pkcs8(der: &[u8]) -> Result<Self, PkiError> {
        if let Ok(kp) = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, der) {
            return Self::from_ec(kp, KeyAlgorithm::P256);
        }
        if let Ok(kp) = EcdsaKeyPair::from_pkcs8(&ECDSA_P384_SHA384_ASN1_SIGNING, der) {
            return Self::from_ec(kp, KeyAlgorithm::P384);
        }
        let kp = RsaKeyPair::from_pkcs8(der).map_err(|e| {
            PkiError::Key(format!(
                "the private key is not a supported PKCS#8 key ({e})"
            ))
        })?;
        let alg = match kp.public_modulus_len() * 8 {
            2048 => KeyAlgorithm::Rsa2048,
            3072 => KeyAlgorithm::Rsa3072,
            4096 => KeyAlgorithm::Rsa4096,
            n => return Err(PkiError::Key(format!("unsupported RSA key size {n}"))),
        };
        let spki = AsDer::<aws_lc_rs::encoding::PublicKeyX509Der>::as_der(kp.public_key())
            .map_err(|_| PkiError::Crypto("public key export failed".into()))?
            .as_ref()
            .to_vec();
        Ok(Self {
            inner: SoftInner::Rsa(kp),
            spki,
            algorithm: alg,
        })
    }

    fn from_ec(kp: EcdsaKeyPair, alg: KeyAlgorithm) -> Result<Self, PkiError> {
        let spki = AsDer::<aws_lc_rs::encoding::PublicKeyX509Der>::as_der(kp.public_key())
            .map_err(|_| PkiError::Crypto("public key export failed".into()))?
            .as_ref()
            .to_vec();
        Ok(Self {
            inner: SoftInner::Ec(kp),
            spki,
            algorithm: alg,
        })
    }

    /// The key's algorithm.
    pub fn algorithm(&self) -> KeyAlgorithm {
        self.algorithm
    }

    /// Loads a PEM `ENCRYPTED PRIVATE KEY` (PKCS#8 PBES2) with a passphrase.
    pub fn from_encrypted_pem(pem: &str, passphrase: &[u8]) -> Result<Self, PkiError> {
        let pkcs8 = decrypt_pkcs8_pem(pem, passphrase)?;
        Self::from_pkcs8(&pkcs8).map_err(|_| PkiError::WrongPassphrase)
    }
}

/// Decrypts a PEM `ENCRYPTED PRIVATE KEY` (PKCS#8 PBES2) to the unencrypted PKCS#8 DER
/// (zeroized on drop): for the root-key backup, which wraps exactly these bytes.
pub fn decrypt_pkcs8_pem(pem: &str, passphrase: &[u8]) -> Result<Zeroizing<Vec<u8>>, PkiError> {
    let (label, der) = pkcs8::der::pem::decode_vec(pem.as_bytes())
        .map_err(|e| PkiError::Key(format!("the key file is not PEM ({e})")))?;
    if label != "ENCRYPTED PRIVATE KEY" {
        return Err(PkiError::Key(format!(
            "the key file holds '{label}', expected an ENCRYPTED PRIVATE KEY"
        )));
    }
    let enc = pkcs8::EncryptedPrivateKeyInfoRef::try_from(der.as_slice())
        .map_err(|e| PkiError::Key(format!("the key file is not encrypted PKCS#8 ({e})")))?;
    let doc = enc
        .decrypt(passphrase)
        .map_err(|_| PkiError::WrongPassphrase)?;
    Ok(Zeroizing::new(doc.as_bytes().to_vec()))
}

/// Encrypts an unencrypted PKCS#8 key as a PEM `ENCRYPTED PRIVATE KEY` (PBES2 with
/// scrypt and AES-256-CBC; OpenSSL reads it with `openssl pkey`).
pub fn encrypt_pkcs8_pem(pkcs8_der: &[u8], passphrase: &[u8]) -> Result<String, PkiError> {
    if passphrase.len() < 12 {
        return Err(PkiError::Key(
            "the CA passphrase must have at least 12 characters".into(),
        ));
    }
    let pki = pkcs8::PrivateKeyInfoRef::try_from(pkcs8_der)
        .map_err(|e| PkiError::Key(format!("not a PKCS#8 key ({e})")))?;
    let doc = pki
        .encrypt(passphrase)
        .map_err(|e| PkiError::Crypto(format!("key encryption failed ({e})")))?;
    let pem = doc
        .to_pem("ENCRYPTED PRIVATE KEY", pkcs8::LineEnding::LF)
        .map_err(|e| PkiError::Crypto(format!("PEM encoding failed ({e})")))?;
    Ok(pem.to_string())
}

impl Signer for SoftwareKey {
    fn signature_algorithm(&self) -> SignatureAlgorithm {
        self.algorithm.signature_algorithm()
    }

    fn spki_der(&self) -> &[u8] {
        &self.spki
    }

    fn sign(&self, tbs: &[u8]) -> Result<Vec<u8>, PkiError> {
        let rng = SystemRandom::new();
        match &self.inner {
            SoftInner::Ec(kp) => kp
                .sign(&rng, tbs)
                .map(|s| s.as_ref().to_vec())
                .map_err(|_| PkiError::Crypto("ECDSA signing failed".into())),
            SoftInner::Rsa(kp) => {
                let mut sig = vec![0u8; kp.public_modulus_len()];
                kp.sign(&RSA_PKCS1_SHA256, &rng, tbs, &mut sig)
                    .map_err(|_| PkiError::Crypto("RSA signing failed".into()))?;
                Ok(sig)
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::indexing_slicing, clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn encrypted_pkcs8_round_trip_and_wrong_passphrase() {
        let (key, pkcs8) = SoftwareKey::generate(KeyAlgorithm::P256).unwrap();
        let pem = encrypt_pkcs8_pem(&pkcs8, b"correct horse battery").unwrap();
        assert!(pem.starts_with("-----BEGIN ENCRYPTED PRIVATE KEY-----"));
        let back = SoftwareKey::from_encrypted_pem(&pem, b"correct horse battery").unwrap();
        assert_eq!(back.spki_der(), key.spki_der());
        assert!(matches!(
            SoftwareKey::from_encrypted_pem(&pem, b"wrong passphrase!!"),
            Err(PkiError::WrongPassphrase)
        ));
        assert!(format!("{back:?}").contains("redacted"));
    }

    #[test]
    fn short_passphrase_refused() {
        let (_, pkcs8) = SoftwareKey::generate(KeyAlgorithm::P256).unwrap();
        assert!(encrypt_pkcs8_pem(&pkcs8, b"short").is_err());
    }
}

//! Signature verification with aws-lc-rs.

#![deny(clippy::indexing_slicing, clippy::unwrap_used, clippy::expect_used)]

use aws_lc_rs::signature::{self as sg, UnparsedPublicKey, VerificationAlgorithm};
use der::asn1::ObjectIdentifier as O;

use crate::asn1::{PResult, oid_to_string, parse_u32, single, tag};
use crate::cert::{AlgId, Spki};

const RSA_ENCRYPTION: O = O::new_unwrap("1.2.840.113549.1.1.1");
const MD2_RSA: O = O::new_unwrap("1.2.840.113549.1.1.2");
const MD5_RSA: O = O::new_unwrap("1.2.840.113549.1.1.4");
const SHA1_RSA: O = O::new_unwrap("1.2.840.113549.1.1.5");
const MGF1: O = O::new_unwrap("1.2.840.113549.1.1.8");
const RSASSA_PSS: O = O::new_unwrap("1.2.840.113549.1.1.10");
const SHA256_RSA: O = O::new_unwrap("1.2.840.113549.1.1.11");
const SHA384_RSA: O = O::new_unwrap("1.2.840.113549.1.1.12");
const SHA512_RSA: O = O::new_unwrap("1.2.840.113549.1.1.13");
const SHA224_RSA: O = O::new_unwrap("1.2.840.113549.1.1.14");
const EC_PUBLIC_KEY: O = O::new_unwrap("1.2.840.10045.2.1");
const ECDSA_SHA1: O = O::new_unwrap("1.2.840.10045.4.1");
const ECDSA_SHA224: O = O::new_unwrap("1.2.840.10045.4.3.1");
const ECDSA_SHA256: O = O::new_unwrap("1.2.840.10045.4.3.2");
const ECDSA_SHA384: O = O::new_unwrap("1.2.840.10045.4.3.3");
const ECDSA_SHA512: O = O::new_unwrap("1.2.840.10045.4.3.4");
const P256: O = O::new_unwrap("1.2.840.10045.3.1.7");
const P384: O = O::new_unwrap("1.3.132.0.34");
const P521: O = O::new_unwrap("1.3.132.0.35");
const ED25519: O = O::new_unwrap("1.3.101.112");
const DSA_KEY: O = O::new_unwrap("1.2.840.10040.4.1");
const DSA_SHA1: O = O::new_unwrap("1.2.840.10040.4.3");
const DSA_SHA224: O = O::new_unwrap("2.16.840.1.101.3.4.3.1");
const DSA_SHA256: O = O::new_unwrap("2.16.840.1.101.3.4.3.2");
const SHA1: O = O::new_unwrap("1.3.14.3.2.26");
const SHA256: O = O::new_unwrap("2.16.840.1.101.3.4.2.1");
const SHA384: O = O::new_unwrap("2.16.840.1.101.3.4.2.2");
const SHA512: O = O::new_unwrap("2.16.840.1.101.3.4.2.3");

/// Why a signature could not be accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SigError {
    /// Algorithm or key type this library does not (or, by policy, will not) verify.
    Unsupported(String),
    /// The signature does not verify (or the key is unusable for the algorithm).
    Invalid,
}

/// Human-readable name of a signature algorithm.
pub(crate) fn alg_name(oid: &[u8]) -> String {
    let named: &[(O, &str)] = &[
        (MD2_RSA, "md2WithRSAEncryption"),
        (MD5_RSA, "md5WithRSAEncryption"),
        (SHA1_RSA, "sha1WithRSAEncryption"),
        (SHA224_RSA, "sha224WithRSAEncryption"),
        (SHA256_RSA, "sha256WithRSAEncryption"),
        (SHA384_RSA, "sha384WithRSAEncryption"),
        (SHA512_RSA, "sha512WithRSAEncryption"),
        (RSASSA_PSS, "RSASSA-PSS"),
        (ECDSA_SHA1, "ecdsa-with-SHA1"),
        (ECDSA_SHA224, "ecdsa-with-SHA224"),
        (ECDSA_SHA256, "ecdsa-with-SHA256"),
        (ECDSA_SHA384, "ecdsa-with-SHA384"),
        (ECDSA_SHA512, "ecdsa-with-SHA512"),
        (ED25519, "Ed25519"),
        (DSA_SHA1, "DSA (dsa-with-sha1)"),
        (DSA_SHA224, "DSA (dsa-with-sha224)"),
        (DSA_SHA256, "DSA (dsa-with-sha256)"),
        (DSA_KEY, "DSA key"),
        (RSA_ENCRYPTION, "RSA key"),
        (EC_PUBLIC_KEY, "EC key"),
    ];
    named
        .iter()
        .find(|(o, _)| o.as_bytes() == oid)
        .map(|(_, n)| n.to_string())
        .unwrap_or_else(|| oid_to_string(oid))
}

fn is(oid: &[u8], o: &O) -> bool {
    oid == o.as_bytes()
}

fn params_null_or_absent(alg: &AlgId) -> bool {
    match &alg.params {
        None => true,
        Some(p) => p.as_slice() == [tag::NULL, 0],
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Hash {
    Sha1,
    Sha256,
    Sha384,
    Sha512,
}

fn hash_of(alg: &AlgId) -> Option<Hash> {
    if !params_null_or_absent(alg) {
        return None;
    }
    let o = alg.oid.as_slice();
    if is(o, &SHA1) {
        Some(Hash::Sha1)
    } else if is(o, &SHA256) {
        Some(Hash::Sha256)
    } else if is(o, &SHA384) {
        Some(Hash::Sha384)
    } else if is(o, &SHA512) {
        Some(Hash::Sha512)
    } else {
        None
    }
}

/// Parses RSASSA-PSS-params; returns the hash if MGF1 uses the same hash and the salt length
/// equals the hash length (the only combinations aws-lc-rs verifies).
fn pss_hash(params: Option<&[u8]>) -> PResult<Option<Hash>> {
    let Some(p) = params else {
        return Ok(None);
    };
    let seq = single(p, tag::SEQUENCE, "RSASSA-PSS-params")?;
    let mut r = seq.reader();
    let alg_in = |t: crate::asn1::Tlv<'_>| -> PResult<AlgId> {
        AlgId::parse(&single(t.value, tag::SEQUENCE, "AlgorithmIdentifier")?)
    };
    let hash = match r.optional(tag::ctx_cons(0))? {
        Some(t) => hash_of(&alg_in(t)?),
        None => Some(Hash::Sha1),
    };
    let mgf_hash = match r.optional(tag::ctx_cons(1))? {
        Some(t) => {
            let mgf = alg_in(t)?;
            if !is(&mgf.oid, &MGF1) {
                return Ok(None);
            }
            match mgf.params.as_deref() {
                Some(hp) => hash_of(&AlgId::parse(&single(hp, tag::SEQUENCE, "MGF1 hash")?)?),
                None => None,
            }
        }
        None => Some(Hash::Sha1),
    };
    let salt = match r.optional(tag::ctx_cons(2))? {
        Some(t) => parse_u32(single(t.value, tag::INTEGER, "saltLength")?.value)?,
        None => 20,
    };
    if let Some(t) = r.optional(tag::ctx_cons(3))?
        && parse_u32(single(t.value, tag::INTEGER, "trailerField")?.value)? != 1
    {
        return Ok(None);
    }
    r.finish("RSASSA-PSS-params")?;
    let Some(h) = hash else { return Ok(None) };
    let expected_salt = match h {
        Hash::Sha1 => 20,
        Hash::Sha256 => 32,
        Hash::Sha384 => 48,
        Hash::Sha512 => 64,
    };
    Ok((mgf_hash == Some(h) && salt == expected_salt).then_some(h))
}

/// Picks the aws-lc-rs algorithm for a signature algorithm and key.
///
/// `legacy` (the rfc5280 profile) accepts RSA keys from 1024 bits and SHA-1; otherwise RSA keys
/// must have at least 2048 bits and SHA-1 is refused.
fn select(
    sig_alg: &AlgId,
    spki: &Spki,
    legacy: bool,
) -> Result<&'static dyn VerificationAlgorithm, SigError> {
    let s = sig_alg.oid.as_slice();
    let k = spki.alg.oid.as_slice();
    let unsupported = |why: &str| SigError::Unsupported(why.to_string());
    if is(k, &DSA_KEY) || is(s, &DSA_SHA1) || is(s, &DSA_SHA224) || is(s, &DSA_SHA256) {
        return Err(unsupported("DSA signatures are not supported"));
    }
    let rsa_pkcs1 = [SHA1_RSA, SHA256_RSA, SHA384_RSA, SHA512_RSA];
    if rsa_pkcs1.iter().any(|o| is(s, o)) {
        if !params_null_or_absent(sig_alg) {
            return Err(unsupported(
                "RSA signature algorithm with unexpected parameters",
            ));
        }
        if !is(k, &RSA_ENCRYPTION) {
            return Err(SigError::Invalid);
        }
        let alg: &'static dyn VerificationAlgorithm = if is(s, &SHA1_RSA) {
            if !legacy {
                return Err(unsupported(
                    "SHA-1 signatures are not accepted by this profile",
                ));
            }
            &sg::RSA_PKCS1_1024_8192_SHA1_FOR_LEGACY_USE_ONLY
        } else if is(s, &SHA256_RSA) {
            if legacy {
                &sg::RSA_PKCS1_1024_8192_SHA256_FOR_LEGACY_USE_ONLY
            } else {
                &sg::RSA_PKCS1_2048_8192_SHA256
            }
        } else if is(s, &SHA384_RSA) {
            &sg::RSA_PKCS1_2048_8192_SHA384
        } else if legacy {
            &sg::RSA_PKCS1_1024_8192_SHA512_FOR_LEGACY_USE_ONLY
        } else {
            &sg::RSA_PKCS1_2048_8192_SHA512
        };
        return Ok(alg);
    }
    if is(s, &RSASSA_PSS) {
        if !is(k, &RSA_ENCRYPTION) && !is(k, &RSASSA_PSS) {
            return Err(SigError::Invalid);
        }
        let h = pss_hash(sig_alg.params.as_deref())
            .map_err(|e| SigError::Unsupported(format!("RSASSA-PSS parameters: {e}")))?;
        return match h {
            Some(Hash::Sha256) => Ok(&sg::RSA_PSS_2048_8192_SHA256),
            Some(Hash::Sha384) => Ok(&sg::RSA_PSS_2048_8192_SHA384),
            Some(Hash::Sha512) => Ok(&sg::RSA_PSS_2048_8192_SHA512),
            _ => Err(unsupported(
                "RSASSA-PSS is supported only with SHA-256/384/512, matching MGF1 and salt",
            )),
        };
    }
    let ecdsa = [ECDSA_SHA256, ECDSA_SHA384, ECDSA_SHA512];
    if ecdsa.iter().any(|o| is(s, o)) {
        if sig_alg.params.is_some() {
            return Err(unsupported("ECDSA signature algorithm with parameters"));
        }
        if !is(k, &EC_PUBLIC_KEY) {
            return Err(SigError::Invalid);
        }
        let curve = spki
            .alg
            .params
            .as_deref()
            .and_then(|p| single(p, tag::OID, "namedCurve").ok())
            .map(|t| t.value.to_vec())
            .ok_or_else(|| unsupported("EC key without a named curve"))?;
        let c = curve.as_slice();
        let h = if is(s, &ECDSA_SHA256) {
            Hash::Sha256
        } else if is(s, &ECDSA_SHA384) {
            Hash::Sha384
        } else {
            Hash::Sha512
        };
        let alg: &'static dyn VerificationAlgorithm = if is(c, &P256) {
            match h {
                Hash::Sha256 => &sg::ECDSA_P256_SHA256_ASN1,
                Hash::Sha384 => &sg::ECDSA_P256_SHA384_ASN1,
                _ => &sg::ECDSA_P256_SHA512_ASN1,
            }
        } else if is(c, &P384) {
            match h {
                Hash::Sha256 => &sg::ECDSA_P384_SHA256_ASN1,
                Hash::Sha384 => &sg::ECDSA_P384_SHA384_ASN1,
                _ => &sg::ECDSA_P384_SHA512_ASN1,
            }
        } else if is(c, &P521) {
            match h {
                Hash::Sha256 => &sg::ECDSA_P521_SHA256_ASN1,
                Hash::Sha384 => &sg::ECDSA_P521_SHA384_ASN1,
                _ => &sg::ECDSA_P521_SHA512_ASN1,
            }
        } else {
            return Err(SigError::Unsupported(format!(
                "elliptic curve {} is not supported",
                oid_to_string(c)
            )));
        };
        return Ok(alg);
    }
    if is(s, &ED25519) {
        if sig_alg.params.is_some() || !is(k, &ED25519) {
            return Err(SigError::Invalid);
        }
        return Ok(&sg::ED25519);
    }
    Err(SigError::Unsupported(format!(
        "signature algorithm {} is not supported",
        alg_name(s)
    )))
}

/// Verifies `signature` over `msg` with the key in `spki`.
pub(crate) fn verify(
    sig_alg: &AlgId,
    spki: &Spki,
    msg: &[u8],
    signature: &[u8],
    legacy: bool,
) -> Result<(), SigError> {
    let alg = select(sig_alg, spki, legacy)?;
    UnparsedPublicKey::new(alg, &spki.key)
        .verify(msg, signature)
        .map_err(|_| SigError::Invalid)
}

//! PKCS #10 certificate signing requests (RFC 2986): parsed strictly, with the
//! signature checked (proof of possession) before anything else looks at them.
//! Hostile input: every failure is a [`PkiError::BadInput`] naming what was wrong.

use aws_lc_rs::signature::{self, UnparsedPublicKey, VerificationAlgorithm};

use crate::derw::tag;
use crate::ext::AltName;
use crate::parse::{self, KeyInfo};
use crate::{PkiError, derr, oid};

/// A CSR whose signature verified.
#[derive(Clone, Debug)]
pub struct VerifiedCsr {
    /// The subject Name, as encoded in the CSR.
    pub subject_der: Vec<u8>,
    /// The SubjectPublicKeyInfo.
    pub spki_der: Vec<u8>,
    /// subjectAltName entries requested in an extensionRequest (DNS and IP only).
    pub requested_alt_names: Vec<AltName>,
}

fn bad(what: impl Into<String>) -> PkiError {
    PkiError::BadInput(format!("the CSR is not acceptable: {}", what.into()))
}

/// Parses a CSR (PEM `CERTIFICATE REQUEST` or DER) and verifies its signature.
pub fn parse_and_verify(input: &[u8]) -> Result<VerifiedCsr, PkiError> {
    let der = if input.first() == Some(&0x30) {
        input.to_vec()
    } else {
        let text = String::from_utf8_lossy(input);
        let label = if text.contains("-----BEGIN NEW CERTIFICATE REQUEST-----") {
            "NEW CERTIFICATE REQUEST"
        } else {
            "CERTIFICATE REQUEST"
        };
        crate::cert::pem_or_der(input, label).map_err(|e| bad(e.to_string()))?
    };
    let outer = derr::read_one(&der, tag::SEQUENCE).map_err(|e| bad(e.to_string()))?;
    let parts = derr::children(outer.content).map_err(|e| bad(e.to_string()))?;
    if parts.len() != 3
        || parts[0].tag != tag::SEQUENCE
        || parts[1].tag != tag::SEQUENCE
        || parts[2].tag != tag::BIT_STRING
    {
        return Err(bad("it is not a PKCS #10 CertificationRequest"));
    }
    let info = parts[0];
    let fields = derr::children(info.content).map_err(|e| bad(e.to_string()))?;
    if fields.len() < 3 || fields[0].tag != tag::INTEGER || fields[0].content != [0] {
        return Err(bad("only version 1 (0) requests are supported"));
    }
    let subject = fields[1];
    let spki = fields[2];
    if subject.tag != tag::SEQUENCE || spki.tag != tag::SEQUENCE {
        return Err(bad("malformed subject or public key"));
    }
    let sig_bits = parts[2].content;
    if sig_bits.first() != Some(&0) {
        return Err(bad("malformed signature"));
    }
    verify_signature(spki.raw, parts[1].raw, info.raw, &sig_bits[1..])?;

    let mut requested_alt_names = Vec::new();
    if let Some(attrs) = fields.get(3) {
        if attrs.tag != 0xa0 {
            return Err(bad("malformed attributes"));
        }
        for attr in derr::children(attrs.content)? {
            let f = derr::children(attr.content)?;
            if f.len() != 2 || f[0].tag != tag::OID {
                return Err(bad("malformed attribute"));
            }
            if derr::oid_to_string(f[0].content)? != oid::PKCS9_EXTENSION_REQUEST.to_string() {
                continue;
            }
            for exts in derr::children(f[1].content)? {
                for e in derr::children(exts.content)? {
                    let e = parse::extension(e)?;
                    if e.oid == oid::EXT_SUBJECT_ALT_NAME.to_string() {
                        requested_alt_names = parse_alt_names(e.value)?;
                    }
                }
            }
        }
    }
    Ok(VerifiedCsr {
        subject_der: subject.raw.to_vec(),
        spki_der: spki.raw.to_vec(),
        requested_alt_names,
    })
}

fn parse_alt_names(value: &[u8]) -> Result<Vec<AltName>, PkiError> {
    let seq = derr::read_one(value, tag::SEQUENCE)?;
    let mut out = Vec::new();
    for n in derr::children(seq.content)? {
        match n.tag {
            0x82 => out.push(AltName::Dns(
                String::from_utf8(n.content.to_vec()).map_err(|_| bad("bad dNSName"))?,
            )),
            0x87 => {
                let ip = match n.content.len() {
                    4 => std::net::IpAddr::from(<[u8; 4]>::try_from(n.content).expect("4 octets")),
                    16 => {
                        std::net::IpAddr::from(<[u8; 16]>::try_from(n.content).expect("16 octets"))
                    }
                    _ => return Err(bad("bad iPAddress")),
                };
                out.push(AltName::Ip(ip));
            }
            _ => {
                return Err(bad(
                    "only DNS names and IP addresses may be requested as alternative names",
                ));
            }
        }
    }
    Ok(out)
}

/// Verifies `signature` over `message` with the key in `spki_der` under the algorithm
/// `alg_der` (an AlgorithmIdentifier). Supports ECDSA (P-256, P-384 with SHA-256/384/512),
/// RSA PKCS #1 v1.5 and RSASSA-PSS with SHA-256/384/512 (RSA ≥ 2048 bits).
pub fn verify_signature(
    spki_der: &[u8],
    alg_der: &[u8],
    message: &[u8],
    sig: &[u8],
) -> Result<(), PkiError> {
    let key = parse::key_info(spki_der).map_err(|e| bad(e.to_string()))?;
    let alg = derr::read_one(alg_der, tag::SEQUENCE)?;
    let alg_f = derr::children(alg.content)?;
    let alg_oid = derr::oid_to_string(alg_f.first().ok_or_else(|| bad("no algorithm"))?.content)?;
    let spki = derr::read_one(spki_der, tag::SEQUENCE)?;
    let key_bits = derr::children(spki.content)?[1].content[1..].to_vec();

    let verifier: &'static dyn VerificationAlgorithm = match (&key, alg_oid.as_str()) {
        (KeyInfo::Ec { curve }, a) => {
            let p256 = *curve == oid::SECP256R1.to_string();
            let p384 = *curve == oid::SECP384R1.to_string();
            match (p256, p384, a) {
                (true, _, "1.2.840.10045.4.3.2") => &signature::ECDSA_P256_SHA256_ASN1,
                (true, _, "1.2.840.10045.4.3.3") => &signature::ECDSA_P256_SHA384_ASN1,
                (true, _, "1.2.840.10045.4.3.4") => &signature::ECDSA_P256_SHA512_ASN1,
                (_, true, "1.2.840.10045.4.3.2") => &signature::ECDSA_P384_SHA256_ASN1,
                (_, true, "1.2.840.10045.4.3.3") => &signature::ECDSA_P384_SHA384_ASN1,
                (_, true, "1.2.840.10045.4.3.4") => &signature::ECDSA_P384_SHA512_ASN1,
                _ => {
                    return Err(bad(format!(
                        "unsupported EC curve or signature algorithm {a}"
                    )));
                }
            }
        }
        (KeyInfo::Rsa { bits, .. }, a) => {
            if *bits < 2048 {
                return Err(bad(format!(
                    "the RSA key has {bits} bits; at least 2048 are required"
                )));
            }
            match a {
                "1.2.840.113549.1.1.11" => &signature::RSA_PKCS1_2048_8192_SHA256,
                "1.2.840.113549.1.1.12" => &signature::RSA_PKCS1_2048_8192_SHA384,
                "1.2.840.113549.1.1.13" => &signature::RSA_PKCS1_2048_8192_SHA512,
                "1.2.840.113549.1.1.10" => pss_verifier(alg_f.get(1).map(|t| t.raw))?,
                other => return Err(bad(format!("unsupported RSA signature algorithm {other}"))),
            }
        }
        (KeyInfo::Other(o), _) => return Err(bad(format!("unsupported key algorithm {o}"))),
    };
    UnparsedPublicKey::new(verifier, &key_bits)
        .verify(message, sig)
        .map_err(|_| bad("its signature does not verify with its own public key"))
}

/// RSASSA-PSS parameters (RFC 4055 §3.1): hash and MGF1 hash must agree, salt = hash length.
fn pss_verifier(params: Option<&[u8]>) -> Result<&'static dyn VerificationAlgorithm, PkiError> {
    let params = params.ok_or_else(|| bad("RSASSA-PSS without parameters"))?;
    let seq = derr::read_one(params, tag::SEQUENCE)?;
    let mut hash = "2.16.840.1.101.3.4.2.1".to_string();
    let mut salt = 20u64;
    let mut hash_given = false;
    for f in derr::children(seq.content)? {
        match f.tag {
            0xa0 => {
                let a = derr::read_one(f.content, tag::SEQUENCE)?;
                hash = derr::oid_to_string(derr::children(a.content)?[0].content)?;
                hash_given = true;
            }
            0xa2 => {
                let i = derr::read_one(f.content, tag::INTEGER)?;
                salt = i.content.iter().fold(0u64, |a, b| (a << 8) | u64::from(*b));
            }
            _ => {}
        }
    }
    if !hash_given {
        return Err(bad("RSASSA-PSS with SHA-1 is not accepted"));
    }
    match (hash.as_str(), salt) {
        ("2.16.840.1.101.3.4.2.1", 32) => Ok(&signature::RSA_PSS_2048_8192_SHA256),
        ("2.16.840.1.101.3.4.2.2", 48) => Ok(&signature::RSA_PSS_2048_8192_SHA384),
        ("2.16.840.1.101.3.4.2.3", 64) => Ok(&signature::RSA_PSS_2048_8192_SHA512),
        _ => Err(bad(
            "unsupported RSASSA-PSS parameters (hash SHA-256/384/512, salt = hash length)",
        )),
    }
}

/// Builds a PKCS #10 request for `subject_der` signed by `signer` (demo credentials,
/// tests and the personalization station, where the key is on the card).
pub fn build(subject_der: &[u8], signer: &dyn crate::keys::Signer) -> Result<Vec<u8>, PkiError> {
    use crate::derw;
    let info = derw::seq(&[
        &derw::uint_u64(0),
        subject_der,
        signer.spki_der(),
        &derw::implicit_cons(0, &[]),
    ]);
    let sig = signer.sign(&info)?;
    Ok(derw::seq(&[
        &info,
        &signer.signature_algorithm().algorithm_identifier(),
        &derw::bits(&sig),
    ]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::{KeyAlgorithm, SoftwareKey};

    #[test]
    fn rfc2986_built_requests_verify() {
        for alg in [KeyAlgorithm::P256, KeyAlgorithm::Rsa2048] {
            let (k, _) = SoftwareKey::generate(alg).unwrap();
            let mut dn = crate::name::DistinguishedName::default();
            dn.push(crate::oid::AT_COMMON_NAME, "x").unwrap();
            let der = build(&dn.to_der(), &k).unwrap();
            let v = parse_and_verify(&der).unwrap();
            assert_eq!(v.subject_der, dn.to_der());
        }
        let mut der = {
            let (k, _) = SoftwareKey::generate(KeyAlgorithm::P256).unwrap();
            build(&crate::name::DistinguishedName::default().to_der(), &k).unwrap()
        };
        let n = der.len();
        der[n - 3] ^= 1;
        assert!(parse_and_verify(&der).is_err());
    }
}

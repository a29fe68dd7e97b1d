//! PKCS #10 certificate signing requests (RFC 2986): parsed strictly, with the
//! signature checked (proof of possession) before anything else looks at them.
//! Hostile input: every failure is a [`PkiError::BadInput`] naming what was wrong.

#![deny(clippy::indexing_slicing, clippy::unwrap_used, clippy::expect_used)]

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
    parse_der(&der).map_err(|e| match e {
        PkiError::BadInput(m) if !m.starts_with("the CSR is not acceptable") => bad(m),
        other => other,
    })
}

fn parse_der(der: &[u8]) -> Result<VerifiedCsr, PkiError> {
    let outer = derr::read_one(der, tag::SEQUENCE)?;
    let [info, alg, sig] = derr::children_n::<3>(outer.content, "CertificationRequest")
        .map_err(|_| bad("it is not a PKCS #10 CertificationRequest"))?;
    if info.tag != tag::SEQUENCE || alg.tag != tag::SEQUENCE || sig.tag != tag::BIT_STRING {
        return Err(bad("it is not a PKCS #10 CertificationRequest"));
    }
    let fields = derr::children(info.content)?;
    let (version, subject, spki, attrs) = match fields.as_slice() {
        [v, s, k] => (v, s, k, None),
        [v, s, k, a] => (v, s, k, Some(a)),
        _ => {
            return Err(bad(
                "the CertificationRequestInfo has the wrong number of fields",
            ));
        }
    };
    if version.tag != tag::INTEGER || version.content != [0] {
        return Err(bad("only version 1 (0) requests are supported"));
    }
    if subject.tag != tag::SEQUENCE || spki.tag != tag::SEQUENCE {
        return Err(bad("malformed subject or public key"));
    }
    let sig_bits = match sig.content.split_first() {
        Some((0, bits)) if !bits.is_empty() => bits,
        _ => return Err(bad("malformed signature")),
    };
    verify_signature(spki.raw, alg.raw, info.raw, sig_bits)?;

    let mut requested_alt_names = Vec::new();
    if let Some(attrs) = attrs {
        if attrs.tag != 0xa0 {
            return Err(bad("malformed attributes"));
        }
        for attr in derr::children(attrs.content)? {
            if attr.tag != tag::SEQUENCE {
                return Err(bad("malformed attribute"));
            }
            let [attr_type, values] = derr::children_n::<2>(attr.content, "attribute")
                .map_err(|_| bad("malformed attribute"))?;
            if attr_type.tag != tag::OID || values.tag != tag::SET {
                return Err(bad("malformed attribute"));
            }
            if derr::oid_to_string(attr_type.content)? != oid::PKCS9_EXTENSION_REQUEST.to_string() {
                continue;
            }
            for exts in derr::children(values.content)? {
                if exts.tag != tag::SEQUENCE {
                    return Err(bad("malformed extensionRequest"));
                }
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
                let ip = if let Ok(v4) = <[u8; 4]>::try_from(n.content) {
                    std::net::IpAddr::from(v4)
                } else if let Ok(v6) = <[u8; 16]>::try_from(n.content) {
                    std::net::IpAddr::from(v6)
                } else {
                    return Err(bad("bad iPAddress"));
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

/// The subjectPublicKey of a SubjectPublicKeyInfo, without the unused-bits octet: a key
/// is a whole number of octets, so that octet must be 0 and at least one octet follow.
pub fn subject_public_key(spki_der: &[u8]) -> Result<&[u8], PkiError> {
    let spki = derr::read_one(spki_der, tag::SEQUENCE)?;
    let [alg, bits] = derr::children_n::<2>(spki.content, "SubjectPublicKeyInfo")?;
    if alg.tag != tag::SEQUENCE || bits.tag != tag::BIT_STRING {
        return Err(bad("malformed SubjectPublicKeyInfo"));
    }
    match bits.content.split_first() {
        Some((0, key)) if !key.is_empty() => Ok(key),
        Some((0, _)) | None => Err(bad("the public key is empty")),
        Some(_) => Err(bad("the public key BIT STRING has unused bits")),
    }
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
    let key_bits = subject_public_key(spki_der)?;
    let alg = derr::read_one(alg_der, tag::SEQUENCE)?;
    let alg_f = derr::children(alg.content)?;
    let (alg_oid, alg_params) = match alg_f.as_slice() {
        [o] => (o, None),
        [o, p] => (o, Some(p)),
        _ => return Err(bad("malformed signature algorithm")),
    };
    if alg_oid.tag != tag::OID {
        return Err(bad("malformed signature algorithm"));
    }
    let alg_oid = derr::oid_to_string(alg_oid.content)?;

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
                "1.2.840.113549.1.1.10" => pss_verifier(alg_params.map(|t| t.raw))?,
                other => return Err(bad(format!("unsupported RSA signature algorithm {other}"))),
            }
        }
        (KeyInfo::Other(o), _) => return Err(bad(format!("unsupported key algorithm {o}"))),
    };
    UnparsedPublicKey::new(verifier, key_bits)
        .verify(message, sig)
        .map_err(|_| bad("its signature does not verify with its own public key"))
}

/// The dotted OID of the hash in an AlgorithmIdentifier (parameters absent or NULL).
fn hash_algorithm(alg_der: &[u8], what: &str) -> Result<String, PkiError> {
    let a = derr::read_one(alg_der, tag::SEQUENCE)?;
    let (o, params) = match derr::children(a.content)?.as_slice() {
        [o] => (*o, None),
        [o, p] => (*o, Some(*p)),
        _ => {
            return Err(bad(format!(
                "RSASSA-PSS {what} is not an AlgorithmIdentifier"
            )));
        }
    };
    if o.tag != tag::OID || params.is_some_and(|p| p.raw != [tag::NULL, 0]) {
        return Err(bad(format!(
            "RSASSA-PSS {what} is not an AlgorithmIdentifier"
        )));
    }
    derr::oid_to_string(o.content)
}

/// RSASSA-PSS parameters (RFC 4055 §3.1): hash and MGF1 hash must agree, salt = hash length,
/// trailer field 1.
fn pss_verifier(params: Option<&[u8]>) -> Result<&'static dyn VerificationAlgorithm, PkiError> {
    const SHA1: &str = "1.3.14.3.2.26";
    let params = params.ok_or_else(|| bad("RSASSA-PSS without parameters"))?;
    let seq = derr::read_one(params, tag::SEQUENCE)?;
    let mut hash = SHA1.to_string();
    let mut mgf_hash = SHA1.to_string();
    let mut salt = 20u64;
    let mut last_tag = None;
    for f in derr::children(seq.content)? {
        if last_tag.is_some_and(|t| t >= f.tag) {
            return Err(bad("RSASSA-PSS parameters are out of order or repeated"));
        }
        last_tag = Some(f.tag);
        match f.tag {
            0xa0 => hash = hash_algorithm(f.content, "hashAlgorithm")?,
            0xa1 => {
                let m = derr::read_one(f.content, tag::SEQUENCE)?;
                let [m_oid, m_params] = derr::children_n::<2>(m.content, "maskGenAlgorithm")?;
                if m_oid.tag != tag::OID
                    || derr::oid_to_string(m_oid.content)? != "1.2.840.113549.1.1.8"
                {
                    return Err(bad("RSASSA-PSS with a mask generation other than MGF1"));
                }
                mgf_hash = hash_algorithm(m_params.raw, "MGF1 hash")?;
            }
            0xa2 => salt = small_uint(f.content, "saltLength")?,
            0xa3 => {
                if small_uint(f.content, "trailerField")? != 1 {
                    return Err(bad("RSASSA-PSS trailerField must be 1"));
                }
            }
            _ => return Err(bad("unknown field in RSASSA-PSS parameters")),
        }
    }
    if hash == SHA1 {
        return Err(bad("RSASSA-PSS with SHA-1 is not accepted"));
    }
    if mgf_hash != hash {
        return Err(bad("RSASSA-PSS hash and MGF1 hash differ"));
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

/// A non-negative INTEGER of at most 8 octets inside an explicit tag.
fn small_uint(explicit_content: &[u8], what: &str) -> Result<u64, PkiError> {
    let i = derr::read_one(explicit_content, tag::INTEGER)?;
    match i.content {
        [] => Err(bad(format!("RSASSA-PSS {what} is empty"))),
        [first, ..] if first & 0x80 != 0 => Err(bad(format!("RSASSA-PSS {what} is negative"))),
        c if c.len() > 8 => Err(bad(format!("RSASSA-PSS {what} is too large"))),
        c => Ok(c.iter().fold(0u64, |a, b| (a << 8) | u64::from(*b))),
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
#[allow(clippy::indexing_slicing, clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::keys::{KeyAlgorithm, SoftwareKey};

    /// RFC 4055 §3.1: a request signed with RSASSA-PSS (SHA-256, MGF1-SHA256, salt 32, as
    /// `openssl req -sigopt rsa_padding_mode:pss` writes them) verifies; the same
    /// request with the MGF1 hash changed, or a salt of 20, does not.
    #[test]
    fn rfc4055_pss_requests_verify_with_matching_parameters_only() {
        use crate::derw;
        use aws_lc_rs::encoding::AsDer;
        use aws_lc_rs::rsa::{KeyPair, KeySize};
        use aws_lc_rs::signature::KeyPair as _;
        let k = KeyPair::generate(KeySize::Rsa2048).unwrap();
        // aws-lc-rs writes the public key as a SubjectPublicKeyInfo.
        let spki = k.public_key().as_der().unwrap().as_ref().to_vec();
        let mut dn = crate::name::DistinguishedName::default();
        dn.push(crate::oid::AT_COMMON_NAME, "pss").unwrap();
        let info = derw::seq(&[
            &derw::uint_u64(0),
            &dn.to_der(),
            &spki,
            &derw::implicit_cons(0, &[]),
        ]);
        let rng = aws_lc_rs::rand::SystemRandom::new();
        let mut sig = vec![0; k.public_modulus_len()];
        k.sign(&signature::RSA_PSS_SHA256, &rng, &info, &mut sig)
            .unwrap();
        let params = |mgf_hash: &const_oid::ObjectIdentifier, salt: u64| {
            let hash = derw::seq(&[&derw::oid(&oid::SHA256)]);
            let mgf = derw::seq(&[&derw::oid(&oid::MGF1), &derw::seq(&[&derw::oid(mgf_hash)])]);
            derw::seq(&[
                &derw::oid(&oid::RSASSA_PSS),
                &derw::seq(&[
                    &derw::explicit(0, &hash),
                    &derw::explicit(1, &mgf),
                    &derw::explicit(2, &derw::uint_u64(salt)),
                ]),
            ])
        };
        let csr = |alg: &[u8]| derw::seq(&[&info, alg, &derw::bits(&sig)]);
        parse_and_verify(&csr(&params(&oid::SHA256, 32))).unwrap();
        let e = parse_and_verify(&csr(&params(&oid::SHA512, 32))).unwrap_err();
        assert!(e.to_string().contains("MGF1 hash differ"), "{e}");
        let e = parse_and_verify(&csr(&params(&oid::SHA256, 20))).unwrap_err();
        assert!(e.to_string().contains("salt = hash length"), "{e}");
    }

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

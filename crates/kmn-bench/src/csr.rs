//! PKCS #10 requests made in Rust (RFC 2986) with `kmn_pki::derw`, signed by software keys.

use anyhow::Result;
use kmn_pki::derw;
use kmn_pki::keys::{KeyAlgorithm, Signer, SoftwareKey};
use kmn_pki::name::DistinguishedName;
use kmn_pki::oid;

/// The key type of the requests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CsrKind {
    /// RSA-2048, sha256WithRSAEncryption.
    Rsa2048,
    /// P-256, ecdsa-with-SHA256.
    P256,
}

impl CsrKind {
    /// Both kinds, in report order.
    pub const ALL: [CsrKind; 2] = [CsrKind::Rsa2048, CsrKind::P256];

    /// Short name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Rsa2048 => "rsa2048",
            Self::P256 => "p256",
        }
    }

    /// The key algorithm.
    pub fn key_algorithm(self) -> KeyAlgorithm {
        match self {
            Self::Rsa2048 => KeyAlgorithm::Rsa2048,
            Self::P256 => KeyAlgorithm::P256,
        }
    }
}

impl std::str::FromStr for CsrKind {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "rsa" | "rsa2048" => Ok(Self::Rsa2048),
            "p256" | "ec" => Ok(Self::P256),
            o => anyhow::bail!("unknown CSR kind {o} (rsa2048, p256)"),
        }
    }
}

/// A request and its parts (for timing the signature check alone).
#[derive(Clone, Debug)]
pub struct Csr {
    /// The whole CertificationRequest, DER.
    pub der: Vec<u8>,
    /// CertificationRequestInfo, DER (the signed message).
    pub info: Vec<u8>,
    /// SubjectPublicKeyInfo, DER.
    pub spki: Vec<u8>,
    /// signatureAlgorithm, DER AlgorithmIdentifier.
    pub alg: Vec<u8>,
    /// The signature value (BIT STRING content without the unused-bits octet).
    pub sig: Vec<u8>,
}

/// The subject of request number `i`: C=JP, O=…, CN=….
pub fn subject(i: usize) -> Result<DistinguishedName> {
    let mut dn = DistinguishedName::default();
    dn.push(oid::AT_COUNTRY, "JP")?;
    dn.push(oid::AT_ORGANIZATION, "Kumamoto Bench Clinic")?;
    dn.push(oid::AT_COMMON_NAME, &format!("Bench Doctor {i:07}"))?;
    Ok(dn)
}

/// Builds and signs a PKCS #10 request:
/// `SEQUENCE { CertificationRequestInfo { 0, subject, spki, [0] {} }, alg, BIT STRING }`.
pub fn build(key: &SoftwareKey, subject: &DistinguishedName) -> Result<Csr> {
    let info = derw::seq(&[
        &derw::uint_u64(0),
        &subject.to_der(),
        key.spki_der(),
        &derw::implicit_cons(0, &[]),
    ]);
    let alg = key.signature_algorithm().algorithm_identifier();
    let sig = key.sign(&info)?;
    let der = derw::seq(&[&info, &alg, &derw::bits(&sig)]);
    Ok(Csr {
        der,
        info,
        spki: key.spki_der().to_vec(),
        alg,
        sig,
    })
}

/// `n` requests of one kind with distinct subjects. RSA key generation is slow (tens of
/// milliseconds a key), so RSA requests share a pool of `rsa_keys` keys; the cost of
/// checking a signature does not depend on which key made it.
pub fn many(kind: CsrKind, n: usize, rsa_keys: usize) -> Result<Vec<Csr>> {
    let pool = match kind {
        CsrKind::Rsa2048 => rsa_keys.max(1),
        CsrKind::P256 => n.max(1),
    };
    let mut keys = Vec::with_capacity(pool.min(n.max(1)));
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        if keys.len() <= i % pool {
            keys.push(SoftwareKey::generate(kind.key_algorithm())?.0);
        }
        out.push(build(&keys[i % pool], &subject(i)?)?);
    }
    Ok(out)
}

/// PEM `CERTIFICATE REQUEST`.
pub fn to_pem(der: &[u8]) -> String {
    kmn_pki::cert::pem_encode("CERTIFICATE REQUEST", der)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rust_made_requests_parse_and_verify() {
        for kind in CsrKind::ALL {
            let c = &many(kind, 2, 1).unwrap()[1];
            let v = kmn_pki::csr::parse_and_verify(&c.der).unwrap();
            assert_eq!(v.spki_der, c.spki);
            kmn_pki::csr::verify_signature(&c.spki, &c.alg, &c.info, &c.sig).unwrap();
        }
    }
}

//! Real X.509 certificates and CRLs made by the tests themselves: a small DER writer and
//! ECDSA P-256 signatures (aws-lc-rs). Every extension is chosen by the test, so that each
//! strict rule can be shown with exactly the certificate that breaks it.

#![allow(dead_code)]

use std::sync::atomic::{AtomicU64, Ordering};

use aws_lc_rs::digest;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, KeyPair};
use der::asn1::ObjectIdentifier;

pub const SEQUENCE: u8 = 0x30;

pub fn tlv(tag: u8, value: &[u8]) -> Vec<u8> {
    let n = value.len();
    let mut out = vec![tag];
    if n < 0x80 {
        out.push(n as u8);
    } else {
        let bytes = (n as u32).to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        out.push(0x80 | (4 - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
    out.extend_from_slice(value);
    out
}

pub fn seq(parts: &[Vec<u8>]) -> Vec<u8> {
    tlv(SEQUENCE, &parts.concat())
}

pub fn oid(dotted: &str) -> Vec<u8> {
    tlv(0x06, ObjectIdentifier::new_unwrap(dotted).as_bytes())
}

pub fn int(v: u64) -> Vec<u8> {
    let bytes = v.to_be_bytes();
    let skip = bytes.iter().take_while(|b| **b == 0).count().min(7);
    let mut body = bytes[skip..].to_vec();
    if body[0] & 0x80 != 0 {
        body.insert(0, 0);
    }
    tlv(0x02, &body)
}

pub fn ia5(tag: u8, s: &str) -> Vec<u8> {
    tlv(tag, s.as_bytes())
}

/// A BIT STRING with the given named bits set (bit 0 = the most significant bit).
pub fn named_bits(bits: &[u8]) -> Vec<u8> {
    let Some(&top) = bits.iter().max() else {
        return tlv(0x03, &[0]);
    };
    let mut bytes = vec![0u8; usize::from(top / 8) + 1];
    for b in bits {
        bytes[usize::from(b / 8)] |= 0x80 >> (b % 8);
    }
    let unused = 7 - top % 8;
    let mut v = vec![unused];
    v.extend(bytes);
    tlv(0x03, &v)
}

/// `C=JP, O=KMN Strict Test, CN=<cn>`.
pub fn name(cn: &str) -> Vec<u8> {
    let rdn = |t: &str, tag: u8, v: &str| tlv(0x31, &seq(&[oid(t), tlv(tag, v.as_bytes())]));
    seq(&[
        rdn("2.5.4.6", 0x13, "JP"),
        rdn("2.5.4.10", 0x0c, "KMN Strict Test"),
        rdn("2.5.4.3", 0x0c, cn),
    ])
}

pub struct Key {
    pair: EcdsaKeyPair,
    pub spki: Vec<u8>,
}

impl Key {
    pub fn new() -> Key {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &rng).unwrap();
        let pair =
            EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8.as_ref()).unwrap();
        let mut bits = vec![0u8];
        bits.extend_from_slice(pair.public_key().as_ref());
        let spki = seq(&[
            seq(&[oid("1.2.840.10045.2.1"), oid("1.2.840.10045.3.1.7")]),
            tlv(0x03, &bits),
        ]);
        Key { pair, spki }
    }

    /// A key identifier: the first 20 octets of SHA-256 over the SPKI.
    pub fn key_id(&self) -> Vec<u8> {
        digest::digest(&digest::SHA256, &self.spki).as_ref()[..20].to_vec()
    }

    fn sign(&self, tbs: &[u8]) -> Vec<u8> {
        let (alg, bits) = self.sign_parts(tbs);
        seq(&[tbs.to_vec(), alg, bits])
    }

    /// The signatureAlgorithm (ecdsa-with-SHA256) and the signature BIT STRING over `tbs`,
    /// for signed structures other than certificates and CRLs (OCSP responses).
    pub fn sign_parts(&self, tbs: &[u8]) -> (Vec<u8>, Vec<u8>) {
        let sig = self.pair.sign(&SystemRandom::new(), tbs).unwrap();
        let mut bits = vec![0u8];
        bits.extend_from_slice(sig.as_ref());
        (ecdsa_sha256(), tlv(0x03, &bits))
    }

    /// The subjectPublicKey BIT STRING's contents (the key OCSP's issuerKeyHash hashes).
    pub fn public_key_bits(&self) -> Vec<u8> {
        self.pair.public_key().as_ref().to_vec()
    }
}

pub fn ecdsa_sha256() -> Vec<u8> {
    seq(&[oid("1.2.840.10045.4.3.2")])
}

/// One extension: OID, critical, the DER of extnValue's contents.
#[derive(Clone)]
pub struct Ext {
    pub oid: &'static str,
    pub critical: bool,
    pub value: Vec<u8>,
}

impl Ext {
    fn der(&self) -> Vec<u8> {
        let mut parts = vec![oid(self.oid)];
        if self.critical {
            parts.push(tlv(0x01, &[0xff]));
        }
        parts.push(tlv(0x04, &self.value));
        seq(&parts)
    }

    pub fn critical(mut self, critical: bool) -> Ext {
        self.critical = critical;
        self
    }
}

pub const BC: &str = "2.5.29.19";
pub const KU: &str = "2.5.29.15";
pub const EKU: &str = "2.5.29.37";
pub const SAN: &str = "2.5.29.17";
pub const SKI: &str = "2.5.29.14";
pub const AKI: &str = "2.5.29.35";
pub const NC: &str = "2.5.29.30";
pub const CP: &str = "2.5.29.32";
pub const POLICY_MAPPINGS: &str = "2.5.29.33";
pub const POLICY_CONSTRAINTS: &str = "2.5.29.36";
pub const INHIBIT_ANY_POLICY: &str = "2.5.29.54";
pub const CRL_NUMBER: &str = "2.5.29.20";
pub const KP_SERVER_AUTH: &str = "1.3.6.1.5.5.7.3.1";
pub const KP_CLIENT_AUTH: &str = "1.3.6.1.5.5.7.3.2";
pub const POLICY: &str = "1.3.6.1.4.1.55555.1.1";

pub fn bc(ca: bool, path_len: Option<u64>) -> Ext {
    let mut parts = Vec::new();
    if ca {
        parts.push(tlv(0x01, &[0xff]));
    }
    if let Some(p) = path_len {
        parts.push(int(p));
    }
    Ext {
        oid: BC,
        critical: true,
        value: seq(&parts),
    }
}

/// keyUsage bits: 0 digitalSignature, 5 keyCertSign, 6 cRLSign.
pub fn ku(bits: &[u8]) -> Ext {
    Ext {
        oid: KU,
        critical: true,
        value: named_bits(bits),
    }
}

pub fn eku(purposes: &[&str]) -> Ext {
    Ext {
        oid: EKU,
        critical: false,
        value: seq(&purposes.iter().map(|p| oid(p)).collect::<Vec<_>>()),
    }
}

pub fn san_dns<S: AsRef<str>>(names: &[S]) -> Ext {
    Ext {
        oid: SAN,
        critical: false,
        value: seq(&names
            .iter()
            .map(|n| ia5(0x82, n.as_ref()))
            .collect::<Vec<_>>()),
    }
}

pub fn ski(key: &Key) -> Ext {
    Ext {
        oid: SKI,
        critical: false,
        value: tlv(0x04, &key.key_id()),
    }
}

pub fn aki(key: &Key) -> Ext {
    Ext {
        oid: AKI,
        critical: false,
        value: seq(&[tlv(0x80, &key.key_id())]),
    }
}

/// nameConstraints with dNSName subtrees.
pub fn nc_dns<S: AsRef<str>>(permitted: &[S], excluded: &[S]) -> Ext {
    let subtrees = |names: &[S]| {
        names
            .iter()
            .map(|n| seq(&[ia5(0x82, n.as_ref())]))
            .collect::<Vec<_>>()
            .concat()
    };
    let mut parts = Vec::new();
    if !permitted.is_empty() {
        parts.push(tlv(0xa0, &subtrees(permitted)));
    }
    if !excluded.is_empty() {
        parts.push(tlv(0xa1, &subtrees(excluded)));
    }
    Ext {
        oid: NC,
        critical: true,
        value: seq(&parts),
    }
}

pub fn policies(oids: &[&str]) -> Ext {
    Ext {
        oid: CP,
        critical: false,
        value: seq(&oids.iter().map(|o| seq(&[oid(o)])).collect::<Vec<_>>()),
    }
}

/// policyConstraints with requireExplicitPolicy 0.
pub fn require_explicit_policy() -> Ext {
    Ext {
        oid: POLICY_CONSTRAINTS,
        critical: true,
        value: seq(&[tlv(0x80, &[0])]),
    }
}

/// policyMappings: issuerDomainPolicy -> subjectDomainPolicy.
pub fn policy_mapping(from: &str, to: &str) -> Ext {
    Ext {
        oid: POLICY_MAPPINGS,
        critical: true,
        value: seq(&[seq(&[oid(from), oid(to)])]),
    }
}

pub fn inhibit_any_policy() -> Ext {
    Ext {
        oid: INHIBIT_ANY_POLICY,
        critical: true,
        value: int(0),
    }
}

static SERIAL: AtomicU64 = AtomicU64::new(0x1000);

/// A certificate to be signed: subject, validity and extensions (SKI and AKI are added,
/// non-critical, unless the test sets its own).
#[derive(Clone)]
pub struct Tbs {
    pub subject: String,
    pub not_before: &'static str,
    pub not_after: &'static str,
    pub exts: Vec<Ext>,
    /// A subject Name (DER) used instead of `name(subject)`.
    pub subject_der: Option<Vec<u8>>,
}

impl Tbs {
    /// A CA: basicConstraints cA, keyUsage keyCertSign + cRLSign.
    pub fn ca(cn: &str) -> Tbs {
        Tbs {
            subject: cn.into(),
            not_before: "260101000000Z",
            not_after: "360101000000Z",
            exts: vec![bc(true, None), ku(&[5, 6])],
            subject_der: None,
        }
    }

    /// An end-entity certificate with keyUsage digitalSignature, the given extended key
    /// usages and DNS names (none: no subjectAltName).
    pub fn leaf(cn: &str, purposes: &[&str], dns: &[&str]) -> Tbs {
        let mut exts = vec![ku(&[0]), policies(&[POLICY])];
        if !purposes.is_empty() {
            exts.push(eku(purposes));
        }
        if !dns.is_empty() {
            exts.push(san_dns(dns));
        }
        Tbs {
            subject: cn.into(),
            not_before: "260101000000Z",
            not_after: "360101000000Z",
            exts,
            subject_der: None,
        }
    }

    /// Replaces (or adds) the extension with `e`'s OID.
    pub fn with(mut self, e: Ext) -> Tbs {
        self.exts.retain(|x| x.oid != e.oid);
        self.exts.push(e);
        self
    }

    pub fn without(mut self, oid: &str) -> Tbs {
        self.exts.retain(|x| x.oid != oid);
        self
    }

    pub fn validity(mut self, not_before: &'static str, not_after: &'static str) -> Tbs {
        self.not_before = not_before;
        self.not_after = not_after;
        self
    }

    /// Signs with `issuer` (its subject CN and key), or self-signs when `issuer` is None.
    pub fn sign(&self, key: &Key, issuer: Option<(&str, &Key)>) -> Vec<u8> {
        let (issuer_cn, issuer_key) = issuer.unwrap_or((&self.subject, key));
        let mut exts = self.exts.clone();
        if !exts.iter().any(|e| e.oid == SKI) {
            exts.push(ski(key));
        }
        if !exts.iter().any(|e| e.oid == AKI) {
            exts.push(aki(issuer_key));
        }
        let ext_der: Vec<Vec<u8>> = exts.iter().map(Ext::der).collect();
        let tbs = seq(&[
            tlv(0xa0, &int(2)),
            int(SERIAL.fetch_add(1, Ordering::Relaxed)),
            ecdsa_sha256(),
            name(issuer_cn),
            seq(&[ia5(0x17, self.not_before), ia5(0x17, self.not_after)]),
            self.subject_der
                .clone()
                .unwrap_or_else(|| name(&self.subject)),
            key.spki.clone(),
            tlv(0xa3, &seq(&ext_der)),
        ]);
        issuer_key.sign(&tbs)
    }
}

/// A v2 CRL of `issuer` valid 2030-01-01 .. 2031-01-01 with authorityKeyIdentifier, the
/// cRLNumber `number` if given, the extra extensions `extra` and the revoked `serials`.
pub fn crl(
    issuer_cn: &str,
    key: &Key,
    number: Option<u64>,
    extra: &[Ext],
    serials: &[u64],
) -> Vec<u8> {
    let mut exts = vec![aki(key)];
    if let Some(n) = number {
        exts.push(Ext {
            oid: CRL_NUMBER,
            critical: false,
            value: int(n),
        });
    }
    for e in extra {
        exts.retain(|x| x.oid != e.oid);
        exts.push(e.clone());
    }
    let mut parts = vec![
        int(1),
        ecdsa_sha256(),
        name(issuer_cn),
        ia5(0x17, "300101000000Z"),
        ia5(0x17, "310101000000Z"),
    ];
    if !serials.is_empty() {
        parts.push(seq(&serials
            .iter()
            .map(|s| seq(&[int(*s), ia5(0x17, "300101000000Z")]))
            .collect::<Vec<_>>()));
    }
    parts.push(tlv(
        0xa0,
        &seq(&exts.iter().map(Ext::der).collect::<Vec<_>>()),
    ));
    key.sign(&seq(&parts))
}

pub fn sha1(b: &[u8]) -> Vec<u8> {
    digest::digest(&digest::SHA1_FOR_LEGACY_USE_ONLY, b)
        .as_ref()
        .to_vec()
}

pub fn sha256(b: &[u8]) -> Vec<u8> {
    digest::digest(&digest::SHA256, b).as_ref().to_vec()
}

/// The serialNumber INTEGER (DER) of a certificate.
pub fn serial_der(cert: &[u8]) -> Vec<u8> {
    use der::Decode;
    let c = x509_cert::Certificate::from_der(cert).unwrap();
    tlv(0x02, c.tbs_certificate().serial_number().as_bytes())
}

/// A GeneralizedTime.
pub fn gt(s: &str) -> Vec<u8> {
    tlv(0x18, s.as_bytes())
}

/// An OCSP SingleResponse for the certificate with `serial` (DER INTEGER) of the CA named
/// `issuer_cn` with `issuer_key`: the CertID with SHA-1 or SHA-256, `status` (`good` is
/// `tlv(0x80, &[])`), thisUpdate and nextUpdate (GeneralizedTime strings).
pub fn ocsp_single(
    issuer_cn: &str,
    issuer_key: &Key,
    serial: Vec<u8>,
    use_sha256: bool,
    status: Vec<u8>,
    this_update: &str,
    next_update: Option<&str>,
) -> Vec<u8> {
    let issuer_name = name(issuer_cn);
    let key = issuer_key.public_key_bits();
    let (alg, nh, kh) = if use_sha256 {
        ("2.16.840.1.101.3.4.2.1", sha256(&issuer_name), sha256(&key))
    } else {
        ("1.3.14.3.2.26", sha1(&issuer_name), sha1(&key))
    };
    let cert_id = seq(&[seq(&[oid(alg)]), tlv(0x04, &nh), tlv(0x04, &kh), serial]);
    let mut parts = vec![cert_id, status, gt(this_update)];
    if let Some(n) = next_update {
        parts.push(tlv(0xa0, &gt(n)));
    }
    seq(&parts)
}

/// An OCSP responderID.
pub enum OcspResponder<'a> {
    ByName(&'a str),
    ByKey(&'a Key),
}

/// A successful OCSPResponse (id-pkix-ocsp-basic) with `singles`, signed by `signer`,
/// carrying `certs`.
pub fn ocsp_response(
    responder: OcspResponder<'_>,
    singles: &[Vec<u8>],
    signer: &Key,
    certs: &[Vec<u8>],
) -> Vec<u8> {
    let rid = match responder {
        OcspResponder::ByName(cn) => tlv(0xa1, &name(cn)),
        OcspResponder::ByKey(k) => tlv(0xa2, &tlv(0x04, &sha1(&k.public_key_bits()))),
    };
    let tbs = seq(&[rid, gt("20300531000000Z"), seq(singles)]);
    let (alg, sig) = signer.sign_parts(&tbs);
    let mut basic = vec![tbs, alg, sig];
    if !certs.is_empty() {
        basic.push(tlv(0xa0, &seq(certs)));
    }
    let basic = seq(&basic);
    seq(&[
        tlv(0x0a, &[0]),
        tlv(
            0xa0,
            &seq(&[oid("1.3.6.1.5.5.7.48.1.1"), tlv(0x04, &basic)]),
        ),
    ])
}

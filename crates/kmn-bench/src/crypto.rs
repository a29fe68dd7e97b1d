//! (a) The crypto limit of issuance: 1 / (t_verify(CSR signature) + t_sign(CA key)).

use std::time::Instant;

use anyhow::Result;
use kmn_pki::keys::{KeyAlgorithm, Signer, SoftwareKey};

use crate::csr::{self, CsrKind};
use crate::util::{Stats, per_op_us};

/// Per-operation times, µs, and the limit they give.
#[derive(Clone, Debug)]
pub struct CryptoKind {
    /// CSR key type.
    pub kind: CsrKind,
    /// `csr::verify_signature` alone.
    pub verify: Stats,
    /// `csr::parse_and_verify` (parse + verify).
    pub parse_and_verify: Stats,
    /// `csr::verify_signature` cycling through 256 CSRs with distinct keys (as in bulk
    /// issuance, where no key repeats).
    pub verify_distinct: Stats,
    /// `name::DistinguishedName::from_der_for_profile` of the CSR's subject.
    pub subject: Stats,
    /// 1e6 / (verify + sign), certificates per second on one core.
    pub limit: f64,
}

/// (a) for both CSR kinds under one P-256 CA key.
#[derive(Clone, Debug)]
pub struct CryptoResult {
    /// The CA key's `Signer::sign` over a TBSCertificate-sized message.
    pub sign: Stats,
    /// Size of that message.
    pub tbs_len: usize,
    /// Per CSR kind.
    pub kinds: Vec<CryptoKind>,
}

/// Iterations that take about `target_s` seconds.
fn calibrate(target_s: f64, mut f: impl FnMut()) -> usize {
    let t = Instant::now();
    let mut n = 0usize;
    while t.elapsed().as_secs_f64() < 0.02 {
        f();
        n += 1;
    }
    let per = t.elapsed().as_secs_f64() / n as f64;
    ((target_s / per) as usize).clamp(10, 1_000_000)
}

/// Measures (a): `samples` samples of about 0.2 s each per figure.
pub fn run(samples: usize) -> Result<CryptoResult> {
    let (ca_key, _) = SoftwareKey::generate(KeyAlgorithm::P256)?;
    // A TBSCertificate of the user-card profile is about 800 octets (URLs, policies).
    let tbs: Vec<u8> = (0..800u32).map(|i| (i * 7 + 3) as u8).collect();
    let iters = calibrate(0.2, || {
        ca_key.sign(&tbs).expect("sign");
    });
    let sign = per_op_us(samples, iters, || {
        ca_key.sign(std::hint::black_box(&tbs)).expect("sign");
    });
    let mut kinds = Vec::new();
    for kind in CsrKind::ALL {
        let c = csr::many(kind, 1, 1)?.remove(0);
        let check = || {
            kmn_pki::csr::verify_signature(std::hint::black_box(&c.spki), &c.alg, &c.info, &c.sig)
                .expect("verifies");
        };
        let iters = calibrate(0.2, check);
        let verify = per_op_us(samples, iters, check);
        let parse_and_verify = per_op_us(samples, iters, || {
            kmn_pki::csr::parse_and_verify(std::hint::black_box(&c.der)).expect("verifies");
        });
        let set = csr::many(kind, 256, 16)?;
        let mut i = 0usize;
        let verify_distinct = per_op_us(samples, iters, || {
            let c = &set[i % set.len()];
            i += 1;
            kmn_pki::csr::verify_signature(&c.spki, &c.alg, &c.info, &c.sig).expect("verifies");
        });
        let subject_der = kmn_pki::csr::parse_and_verify(&c.der)?.subject_der;
        let subject = per_op_us(samples, 20_000, || {
            kmn_pki::name::DistinguishedName::from_der_for_profile(std::hint::black_box(
                &subject_der,
            ))
            .expect("subject");
        });
        let limit = 1e6 / (verify.median + sign.median);
        kinds.push(CryptoKind {
            kind,
            verify,
            parse_and_verify,
            verify_distinct,
            subject,
            limit,
        });
    }
    Ok(CryptoResult {
        sign,
        tbs_len: tbs.len(),
        kinds,
    })
}

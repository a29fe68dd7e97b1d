//! Issue #11, "revocation live": OCSP responses checked as a relying party (RFC 6960), with
//! certificates and responses the test makes itself (ECDSA P-256, tests/support): good,
//! revoked, unknown, a forged signature, a delegated signer without id-kp-OCSPSigning or
//! from another CA, a CertID of another certificate, stale and future times, error statuses,
//! and truncated bytes.

mod support;

use kmn_verify::{OcspCertStatus, OcspHash, check_ocsp_response, ocsp_request, ocsp_urls};
use support::*;

const ROOT: &str = "KMN OCSP Root";
const CA: &str = "KMN OCSP Issuing";
/// 2030-06-01T00:00:00Z.
const AT: i64 = 1_906_502_400;
const OCSP_SIGNING: &str = "1.3.6.1.5.5.7.3.9";

struct Pki {
    ca_key: Key,
    ca: Vec<u8>,
    leaf: Vec<u8>,
    other_leaf: Vec<u8>,
}

fn pki() -> Pki {
    let root_key = Key::new();
    let ca_key = Key::new();
    let ca = Tbs::ca(CA).sign(&ca_key, Some((ROOT, &root_key)));
    let leaf_key = Key::new();
    let leaf = Tbs::leaf("Taro", &[KP_CLIENT_AUTH], &[]).sign(&leaf_key, Some((CA, &ca_key)));
    let other_leaf =
        Tbs::leaf("Hanako", &[KP_CLIENT_AUTH], &[]).sign(&Key::new(), Some((CA, &ca_key)));
    Pki {
        ca_key,
        ca,
        leaf,
        other_leaf,
    }
}

/// One SingleResponse.
struct Single {
    sha256: bool,
    serial: Vec<u8>,
    status: Vec<u8>,
    this_update: &'static str,
    next_update: Option<&'static str>,
}

impl Single {
    fn good(cert: &[u8]) -> Single {
        Single {
            sha256: false,
            serial: serial_der(cert),
            status: tlv(0x80, &[]),
            this_update: "20300531000000Z",
            next_update: Some("20300607000000Z"),
        }
    }

    fn der(&self, ca_key: &Key) -> Vec<u8> {
        ocsp_single(
            CA,
            ca_key,
            self.serial.clone(),
            self.sha256,
            self.status.clone(),
            self.this_update,
            self.next_update,
        )
    }
}

use support::OcspResponder as Responder;

fn response(
    responder: Responder<'_>,
    singles: &[Vec<u8>],
    signer: &Key,
    certs: &[Vec<u8>],
) -> Vec<u8> {
    ocsp_response(responder, singles, signer, certs)
}

fn delegate(p: &Pki, cn: &str, key: &Key, purposes: &[&str]) -> Vec<u8> {
    Tbs::leaf(cn, purposes, &[]).sign(key, Some((CA, &p.ca_key)))
}

#[test]
fn issue11_ocsp_good_signed_by_the_ca() {
    let p = pki();
    let r = response(
        Responder::ByName(CA),
        &[Single::good(&p.leaf).der(&p.ca_key)],
        &p.ca_key,
        &[],
    );
    let got = check_ocsp_response(&r, &p.leaf, &p.ca, AT).unwrap();
    assert_eq!(got.status, OcspCertStatus::Good);
    assert!(!got.delegated);
    assert_eq!(got.next_update, AT + 6 * 86_400);
    assert!(got.describe().starts_with("good"), "{}", got.describe());
}

#[test]
fn issue11_ocsp_good_from_a_delegated_signer_with_sha256_cert_id() {
    let p = pki();
    let dkey = Key::new();
    let d = delegate(&p, "KMN OCSP Signer", &dkey, &[OCSP_SIGNING]);
    let mut s = Single::good(&p.leaf);
    s.sha256 = true;
    let r = response(Responder::ByKey(&dkey), &[s.der(&p.ca_key)], &dkey, &[d]);
    let got = check_ocsp_response(&r, &p.leaf, &p.ca, AT).unwrap();
    assert_eq!(got.status, OcspCertStatus::Good);
    assert!(got.delegated);
    assert!(got.signer.contains("KMN OCSP Signer"), "{}", got.signer);
}

#[test]
fn issue11_ocsp_revoked_with_time_and_reason() {
    let p = pki();
    let mut s = Single::good(&p.leaf);
    // RevokedInfo: revocationTime, revocationReason [0] keyCompromise (1).
    s.status = tlv(
        0xa1,
        &[gt("20300530120000Z"), tlv(0xa0, &tlv(0x0a, &[1]))].concat(),
    );
    let r = response(Responder::ByName(CA), &[s.der(&p.ca_key)], &p.ca_key, &[]);
    let got = check_ocsp_response(&r, &p.leaf, &p.ca, AT).unwrap();
    assert_eq!(
        got.status,
        OcspCertStatus::Revoked {
            time: AT - 36 * 3600,
            reason: Some("keyCompromise"),
        }
    );
    // Unknown is an answer too (fail closed by the caller).
    let mut s = Single::good(&p.leaf);
    s.status = tlv(0x82, &[]);
    let r = response(Responder::ByName(CA), &[s.der(&p.ca_key)], &p.ca_key, &[]);
    let got = check_ocsp_response(&r, &p.leaf, &p.ca, AT).unwrap();
    assert_eq!(got.status, OcspCertStatus::Unknown);
}

fn refused(r: &[u8], p: &Pki, needle: &str) {
    match check_ocsp_response(r, &p.leaf, &p.ca, AT) {
        Ok(ok) => panic!("accepted, expected '{needle}': {ok:?}"),
        Err(e) => assert!(e.to_string().contains(needle), "{e}"),
    }
}

#[test]
fn issue11_ocsp_forged_signature_is_refused() {
    let p = pki();
    // Names the CA but is signed by another key.
    let rogue = Key::new();
    let r = response(
        Responder::ByName(CA),
        &[Single::good(&p.leaf).der(&p.ca_key)],
        &rogue,
        &[],
    );
    refused(&r, &p, "its signature does not verify with the key of");
    // A byte of the signed part changed after signing.
    let mut r = response(
        Responder::ByName(CA),
        &[Single::good(&p.leaf).der(&p.ca_key)],
        &p.ca_key,
        &[],
    );
    let mut status = serial_der(&p.leaf);
    status.extend_from_slice(&[0x80, 0x00]);
    let at = r.windows(status.len()).position(|w| w == status).unwrap();
    r[at + status.len() - 2] = 0x82; // good -> unknown
    refused(&r, &p, "its signature does not verify");
}

#[test]
fn issue11_ocsp_signer_without_the_eku_is_refused() {
    let p = pki();
    let dkey = Key::new();
    let d = delegate(&p, "KMN Not A Signer", &dkey, &[KP_CLIENT_AUTH]);
    let r = response(
        Responder::ByKey(&dkey),
        &[Single::good(&p.leaf).der(&p.ca_key)],
        &dkey,
        &[d],
    );
    refused(&r, &p, "does not include id-kp-OCSPSigning");
    // Without any extendedKeyUsage.
    let d = delegate(&p, "KMN Not A Signer", &dkey, &[]);
    let r = response(
        Responder::ByName("KMN Not A Signer"),
        &[Single::good(&p.leaf).der(&p.ca_key)],
        &dkey,
        &[d],
    );
    refused(&r, &p, "does not include id-kp-OCSPSigning");
}

#[test]
fn issue11_ocsp_signer_of_another_ca_or_expired_is_refused() {
    let p = pki();
    // A signer with the EKU, issued by another key under the CA's name.
    let dkey = Key::new();
    let other_ca = Key::new();
    let d = Tbs::leaf("KMN OCSP Signer", &[OCSP_SIGNING], &[]).sign(&dkey, Some((CA, &other_ca)));
    let r = response(
        Responder::ByKey(&dkey),
        &[Single::good(&p.leaf).der(&p.ca_key)],
        &dkey,
        &[d],
    );
    refused(&r, &p, "is not signed by");
    // A signer issued by the root, not by the certificate's issuer.
    let d = Tbs::leaf("KMN OCSP Signer", &[OCSP_SIGNING], &[]).sign(&dkey, Some((ROOT, &other_ca)));
    let r = response(
        Responder::ByKey(&dkey),
        &[Single::good(&p.leaf).der(&p.ca_key)],
        &dkey,
        &[d],
    );
    refused(&r, &p, "was not issued by the certificate's issuer");
    // An expired signer.
    let d = Tbs::leaf("KMN OCSP Signer", &[OCSP_SIGNING], &[])
        .validity("260101000000Z", "300101000000Z")
        .sign(&dkey, Some((CA, &p.ca_key)));
    let r = response(
        Responder::ByKey(&dkey),
        &[Single::good(&p.leaf).der(&p.ca_key)],
        &dkey,
        &[d],
    );
    refused(&r, &p, "expired at 2030-01-01T00:00:00Z");
    // A responderID that names nobody the response carries.
    let r = response(
        Responder::ByName("Somebody Else"),
        &[Single::good(&p.leaf).der(&p.ca_key)],
        &p.ca_key,
        &[],
    );
    refused(&r, &p, "names neither the issuer");
}

#[test]
fn issue11_ocsp_wrong_cert_id_is_refused() {
    let p = pki();
    // The response is about another certificate of the same CA.
    let r = response(
        Responder::ByName(CA),
        &[Single::good(&p.other_leaf).der(&p.ca_key)],
        &p.ca_key,
        &[],
    );
    refused(&r, &p, "the CertID does not match");
    // The right serial, the hashes of another issuer key.
    let r = response(
        Responder::ByName(CA),
        &[Single::good(&p.leaf).der(&Key::new())],
        &p.ca_key,
        &[],
    );
    refused(&r, &p, "the CertID does not match");
    // Both in one response: the matching one is used.
    let r = response(
        Responder::ByName(CA),
        &[
            Single::good(&p.other_leaf).der(&p.ca_key),
            Single::good(&p.leaf).der(&p.ca_key),
        ],
        &p.ca_key,
        &[],
    );
    assert!(check_ocsp_response(&r, &p.leaf, &p.ca, AT).is_ok());
}

#[test]
fn issue11_ocsp_stale_or_future_times_are_refused() {
    let p = pki();
    let mut s = Single::good(&p.leaf);
    s.next_update = Some("20300531120000Z");
    let r = response(Responder::ByName(CA), &[s.der(&p.ca_key)], &p.ca_key, &[]);
    refused(&r, &p, "past its nextUpdate (2030-05-31T12:00:00Z)");
    let mut s = Single::good(&p.leaf);
    s.next_update = None;
    let r = response(Responder::ByName(CA), &[s.der(&p.ca_key)], &p.ca_key, &[]);
    refused(&r, &p, "it has no nextUpdate");
    let mut s = Single::good(&p.leaf);
    s.this_update = "20300601001000Z"; // 10 minutes ahead: beyond the 5-minute skew
    let r = response(Responder::ByName(CA), &[s.der(&p.ca_key)], &p.ca_key, &[]);
    refused(&r, &p, "is in the future");
    let mut s = Single::good(&p.leaf);
    s.this_update = "20300601000200Z"; // 2 minutes ahead: within the skew
    let r = response(Responder::ByName(CA), &[s.der(&p.ca_key)], &p.ca_key, &[]);
    assert!(check_ocsp_response(&r, &p.leaf, &p.ca, AT).is_ok());
}

#[test]
fn issue11_ocsp_error_statuses_and_hostile_bytes_are_refused_without_panic() {
    let p = pki();
    for (code, name) in [
        (1u8, "malformedRequest"),
        (3, "tryLater"),
        (6, "unauthorized"),
    ] {
        let r = seq(&[tlv(0x0a, &[code])]);
        refused(&r, &p, name);
    }
    let good = response(
        Responder::ByName(CA),
        &[Single::good(&p.leaf).der(&p.ca_key)],
        &p.ca_key,
        &[],
    );
    for n in 0..good.len() {
        assert!(check_ocsp_response(&good[..n], &p.leaf, &p.ca, AT).is_err());
    }
    for i in 0..good.len() {
        let mut b = good.clone();
        b[i] ^= 0x55;
        let _ = check_ocsp_response(&b, &p.leaf, &p.ca, AT);
    }
    // The certificate and the issuer must belong together.
    let e = check_ocsp_response(&good, &p.leaf, &p.leaf, AT).unwrap_err();
    assert!(e.to_string().contains("was not issued by"), "{e}");
}

#[test]
fn issue11_ocsp_request_and_aia_urls() {
    let p = pki();
    let req = ocsp_request(&p.leaf, &p.ca, OcspHash::Sha1).unwrap();
    // OCSPRequest { TBSRequest { requestList { Request { CertID } } } }, the CertID as a
    // response would carry it.
    let single = Single::good(&p.leaf).der(&p.ca_key);
    let cert_id = &single[2..2 + usize::from(single[3]) + 2];
    assert!(req.windows(cert_id.len()).any(|w| w == cert_id));
    // No authorityInfoAccess: no URL.
    assert!(ocsp_urls(&p.leaf).unwrap().is_empty());
    let aia = Ext {
        oid: "1.3.6.1.5.5.7.1.1",
        critical: false,
        value: seq(&[
            seq(&[
                oid("1.3.6.1.5.5.7.48.2"),
                ia5(0x86, "http://kmn.example.jp/repo/ca.crt"),
            ]),
            seq(&[
                oid("1.3.6.1.5.5.7.48.1"),
                ia5(0x86, "http://kmn.example.jp/ocsp"),
            ]),
        ]),
    };
    let leaf = Tbs::leaf("Taro", &[KP_CLIENT_AUTH], &[])
        .with(aia)
        .sign(&Key::new(), Some((CA, &p.ca_key)));
    assert_eq!(
        ocsp_urls(&leaf).unwrap(),
        vec!["http://kmn.example.jp/ocsp"]
    );
}

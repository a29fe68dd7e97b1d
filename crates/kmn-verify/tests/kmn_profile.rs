//! End-to-end checks on a small generated PKI (tests/data/gen.sh): ECDSA, RSASSA-PSS and
//! RSA PKCS#1 signatures, the kmn profile, client-auth purpose, revocation and error texts.

use der::asn1::ObjectIdentifier;
use kmn_verify::{
    Profile, Purpose, VerifyError, VerifyOptions, load_crls, load_pem_or_der_bundle, verify,
};
use time::macros::datetime;

const ROOT: &[u8] = include_bytes!("data/root.pem");
const OTHER_ROOT: &[u8] = include_bytes!("data/other-root.pem");
const INTER: &[u8] = include_bytes!("data/inter.pem");
const ALICE: &[u8] = include_bytes!("data/alice.pem");
const BOB: &[u8] = include_bytes!("data/bob.pem");
const CAROL: &[u8] = include_bytes!("data/carol.pem");
const DAVE: &[u8] = include_bytes!("data/dave.pem");
const ROOT_CRL: &[u8] = include_bytes!("data/root.crl.pem");
const INTER_CRL_PEM: &[u8] = include_bytes!("data/inter.crl.pem");
const INTER_CRL_DER: &[u8] = include_bytes!("data/inter.crl.der");

const POLICY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.55555.1.1");

fn one(pem: &[u8]) -> Vec<u8> {
    let mut v = load_pem_or_der_bundle(pem).unwrap();
    assert_eq!(v.len(), 1);
    v.remove(0)
}

fn crls() -> Vec<Vec<u8>> {
    let mut v = load_crls(ROOT_CRL).unwrap();
    v.extend(load_crls(INTER_CRL_PEM).unwrap());
    v
}

fn kmn(policy_oids: Vec<ObjectIdentifier>) -> VerifyOptions {
    VerifyOptions {
        at: datetime!(2030-06-01 00:00 UTC),
        purpose: Purpose::ClientAuth,
        profile: Profile::Kmn { policy_oids },
        check_revocation: true,
        dns_name: None,
    }
}

fn run(leaf: &[u8], opts: &VerifyOptions) -> Result<kmn_verify::ValidatedPath, VerifyError> {
    verify(&one(leaf), &[one(ROOT)], &[one(INTER)], &crls(), opts)
}

#[test]
fn kmn_client_certificate_is_valid() {
    let path = run(ALICE, &kmn(vec![POLICY])).unwrap();
    assert_eq!(path.chain.len(), 3);
    assert_eq!(path.chain[0], one(ALICE));
    assert_eq!(path.chain[2], one(ROOT));
    assert_eq!(
        path.subjects,
        [
            "CN=alice, O=KMN Test, C=JP",
            "CN=KMN Test Intermediate, O=KMN Test, C=JP",
            "CN=KMN Test Root, O=KMN Test, C=JP"
        ]
    );
    assert!(path.revocation_checked);
    // Any policy is fine when no policy OIDs are configured.
    run(ALICE, &kmn(vec![])).unwrap();
}

#[test]
fn intermediates_may_come_in_a_bundle_with_noise() {
    let mut bundle = INTER.to_vec();
    bundle.extend_from_slice(OTHER_ROOT);
    bundle.extend_from_slice(CAROL);
    let inters = load_pem_or_der_bundle(&bundle).unwrap();
    assert_eq!(inters.len(), 3);
    let crls = crls();
    let path = verify(
        &one(ALICE),
        &[one(OTHER_ROOT), one(ROOT)],
        &inters,
        &crls,
        &kmn(vec![POLICY]),
    )
    .unwrap();
    assert_eq!(path.chain.len(), 3);
}

#[test]
fn wrong_policy_is_rejected() {
    let other = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.55555.1.2");
    let err = run(ALICE, &kmn(vec![other])).unwrap_err();
    assert!(matches!(err, VerifyError::ProfileViolation { .. }), "{err}");
    let text = err.to_string();
    assert!(text.contains("CN=alice"), "{text}");
    assert!(text.contains("1.3.6.1.4.1.55555.1.1"), "{text}");
}

#[test]
fn revoked_certificate_is_rejected() {
    let err = run(BOB, &kmn(vec![POLICY])).unwrap_err();
    match &err {
        VerifyError::Revoked {
            subject, reason, ..
        } => {
            assert_eq!(subject, "CN=bob, O=KMN Test, C=JP");
            assert_eq!(reason, "keyCompromise");
        }
        other => panic!("expected Revoked, got {other}"),
    }
    let text = err.to_string();
    assert!(
        text.starts_with("certificate 'CN=bob, O=KMN Test, C=JP' was revoked on 20"),
        "{text}"
    );
    assert!(text.ends_with("Z (reason: keyCompromise)"), "{text}");
    // Without revocation checking the same certificate passes.
    let mut opts = kmn(vec![POLICY]);
    opts.check_revocation = false;
    run(BOB, &opts).unwrap();
}

#[test]
fn der_crl_works_too() {
    let mut crls = load_crls(ROOT_CRL).unwrap();
    crls.extend(load_crls(INTER_CRL_DER).unwrap());
    let err = verify(
        &one(BOB),
        &[one(ROOT)],
        &[one(INTER)],
        &crls,
        &kmn(vec![POLICY]),
    )
    .unwrap_err();
    assert!(matches!(err, VerifyError::Revoked { .. }), "{err}");
}

#[test]
fn missing_crl_is_reported() {
    let err = verify(
        &one(ALICE),
        &[one(ROOT)],
        &[one(INTER)],
        &[],
        &kmn(vec![POLICY]),
    )
    .unwrap_err();
    assert!(matches!(err, VerifyError::NoCrl { .. }), "{err}");
    // The intermediate is checked first (top-down), so it is the one named.
    assert!(
        err.to_string()
            .starts_with("no CRL covers certificate 'CN=KMN Test Intermediate"),
        "{err}"
    );

    let only_inter = load_crls(INTER_CRL_PEM).unwrap();
    let err = verify(
        &one(ALICE),
        &[one(ROOT)],
        &[one(INTER)],
        &only_inter,
        &kmn(vec![POLICY]),
    )
    .unwrap_err();
    assert!(err.to_string().contains("KMN Test Intermediate"), "{err}");

    let only_root = load_crls(ROOT_CRL).unwrap();
    let err = verify(
        &one(ALICE),
        &[one(ROOT)],
        &[one(INTER)],
        &only_root,
        &kmn(vec![POLICY]),
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "no CRL covers certificate 'CN=alice, O=KMN Test, C=JP': no CRL issued by 'CN=KMN Test Intermediate, O=KMN Test, C=JP' was supplied"
    );
}

#[test]
fn client_auth_purpose() {
    let err = run(CAROL, &kmn(vec![])).unwrap_err();
    assert!(matches!(err, VerifyError::WrongPurpose { .. }), "{err}");
    assert!(err.to_string().contains("id-kp-clientAuth"), "{err}");
    // Under plain RFC 5280 with purpose Any, the server certificate is fine.
    let mut opts = kmn(vec![]);
    opts.purpose = Purpose::Any;
    opts.profile = Profile::Rfc5280;
    run(CAROL, &opts).unwrap();
    // Purpose ClientAuth still applies under RFC 5280.
    opts.purpose = Purpose::ClientAuth;
    assert!(matches!(
        run(CAROL, &opts),
        Err(VerifyError::WrongPurpose { .. })
    ));
}

#[test]
fn sha1_is_refused_by_the_kmn_profile_only() {
    let err = run(DAVE, &kmn(vec![POLICY])).unwrap_err();
    assert!(
        matches!(err, VerifyError::UnsupportedAlgorithm { .. }),
        "{err}"
    );
    assert!(err.to_string().contains("SHA-1"), "{err}");
    let mut opts = kmn(vec![POLICY]);
    opts.profile = Profile::Rfc5280;
    run(DAVE, &opts).unwrap();
}

#[test]
fn validity_period_is_enforced() {
    let mut opts = kmn(vec![POLICY]);
    opts.at = datetime!(2046-01-02 00:00 UTC);
    let err = run(ALICE, &opts).unwrap_err();
    assert!(matches!(err, VerifyError::Expired { .. }), "{err}");
    assert!(
        err.to_string().ends_with("expired at 2046-01-01T00:00:00Z"),
        "{err}"
    );
    opts.at = datetime!(2025-12-31 00:00 UTC);
    let err = run(ALICE, &opts).unwrap_err();
    assert!(matches!(err, VerifyError::NotYetValid { .. }), "{err}");
}

#[test]
fn untrusted_or_incomplete_paths_fail() {
    let crls = crls();
    let err = verify(
        &one(ALICE),
        &[one(OTHER_ROOT)],
        &[one(INTER)],
        &crls,
        &kmn(vec![]),
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "no path to a trust anchor: no issuer found for 'CN=KMN Test Intermediate, O=KMN Test, C=JP' (issuer 'CN=KMN Test Root, O=KMN Test, C=JP')"
    );
    let err = verify(&one(ALICE), &[one(ROOT)], &[], &crls, &kmn(vec![])).unwrap_err();
    assert!(matches!(err, VerifyError::NoIssuer { .. }), "{err}");
    let err = verify(&one(ALICE), &[], &[one(INTER)], &crls, &kmn(vec![])).unwrap_err();
    assert_eq!(err, VerifyError::NoTrustAnchors);
    // The intermediate itself may be the trust anchor.
    let mut opts = kmn(vec![POLICY]);
    opts.check_revocation = false;
    let path = verify(&one(ALICE), &[one(INTER)], &[], &[], &opts).unwrap();
    assert_eq!(path.chain.len(), 2);
}

#[test]
fn anchor_as_leaf() {
    let mut opts = kmn(vec![]);
    opts.profile = Profile::Rfc5280;
    opts.purpose = Purpose::Any;
    let path = verify(&one(ROOT), &[one(ROOT)], &[one(INTER)], &crls(), &opts).unwrap();
    assert_eq!(path.chain, vec![one(ROOT)]);
    // The kmn profile still applies to it as a leaf.
    let err = verify(&one(ROOT), &[one(ROOT)], &[], &crls(), &kmn(vec![])).unwrap_err();
    assert!(matches!(err, VerifyError::WrongPurpose { .. }), "{err}");
}

#[test]
fn tampered_signature_fails() {
    let mut alice = one(ALICE);
    let n = alice.len();
    alice[n - 5] ^= 0x01;
    let err = verify(&alice, &[one(ROOT)], &[one(INTER)], &crls(), &kmn(vec![])).unwrap_err();
    assert_eq!(
        err.to_string(),
        "signature of 'CN=alice, O=KMN Test, C=JP' does not verify with the key of 'CN=KMN Test Intermediate, O=KMN Test, C=JP'"
    );
}

#[test]
fn garbage_input_is_malformed() {
    let err = verify(b"\x30\x03\x02\x01", &[one(ROOT)], &[], &[], &kmn(vec![])).unwrap_err();
    assert!(matches!(err, VerifyError::Malformed { .. }), "{err}");
    assert!(
        err.to_string()
            .starts_with("could not parse the leaf certificate"),
        "{err}"
    );
    assert_eq!(load_crls(b""), Err(VerifyError::NoCrls));
}

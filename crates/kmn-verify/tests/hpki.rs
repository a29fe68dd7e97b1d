//! Issue #11 item 2: HPKI physician cards as a second trust anchor with its own policy, and
//! the credential a validated leaf stands for (facility binding facts of the network's own
//! cards).
//!
//! No real JMA anchor is available offline, so the test builds an HPKI-like CA following the
//! structure of the published HPKI certificate profiles (a root; an authentication
//! certificate with keyUsage digitalSignature and the authentication policy OID, no
//! extendedKeyUsage; a signature certificate with keyUsage nonRepudiation, the signature
//! policy OID and hcRole in subjectDirectoryAttributes). ECDSA P-256 keys stand in for the
//! cards' RSA-2048 keys (tests/support signs with P-256 only).

mod support;

use std::sync::Arc;
use std::time::Duration;

use der::Decode;
use der::asn1::ObjectIdentifier;
use kmn_verify::{
    Credential, Profile, Purpose, RevocationConfig, RevocationIndex, RevocationStore, VerifyError,
    VerifyOptions, credential, hc_role, kmn_card_identity, verify, verify_with_index,
};
use support::*;
use time::macros::datetime;

const HPKI_ROOT: &str = "HPKI Test Root CA";
const AUTH_POLICY: &str = "1.2.392.100495.1.5.1.2.1";
const SIGNATURE_POLICY: &str = "1.2.392.100495.1.5.1.1.1";
const AT: time::OffsetDateTime = datetime!(2030-06-01 00:00 UTC);

fn oid_of(s: &str) -> ObjectIdentifier {
    ObjectIdentifier::new_unwrap(s)
}

fn hpki_profile(grace: Duration) -> Profile {
    Profile::Hpki {
        auth_policy_oids: vec![oid_of("1.2.392.100495.1.5.1.2")],
        signature_policy_oids: vec![oid_of("1.2.392.100495.1.5.1.1")],
        crl_grace: grace,
    }
}

fn opts(profile: Profile, at: time::OffsetDateTime, revocation: bool) -> VerifyOptions {
    VerifyOptions {
        at,
        purpose: Purpose::ClientAuth,
        profile,
        check_revocation: revocation,
        dns_name: None,
    }
}

/// subjectDirectoryAttributes with hcRole (ISO 17090-3, the Japanese HPKI role scheme).
fn hc_role_ext(role: &str) -> Ext {
    let coded = seq(&[oid("1.2.392.100495.1.6.1.1"), tlv(0x0c, role.as_bytes())]);
    let actor = seq(&[tlv(0xa0, &coded)]);
    let attr = seq(&[oid("1.0.17090.0.1"), tlv(0x31, &tlv(0x31, &actor))]);
    Ext {
        oid: "2.5.29.9",
        critical: false,
        value: seq(&[attr]),
    }
}

struct Hpki {
    root_key: Key,
    root: Vec<u8>,
    auth_key: Key,
    auth: Vec<u8>,
    signature: Vec<u8>,
}

fn hpki() -> Hpki {
    let root_key = Key::new();
    let root = Tbs::ca(HPKI_ROOT).sign(&root_key, None);
    let auth_key = Key::new();
    // The authentication certificate: digitalSignature, the authentication policy, no EKU,
    // no hcRole.
    let auth = Tbs::leaf("YAMADA TARO", &[], &[])
        .with(ku(&[0]))
        .with(policies(&[AUTH_POLICY]))
        .sign(&auth_key, Some((HPKI_ROOT, &root_key)));
    // The signature certificate: nonRepudiation, the signature policy, hcRole.
    let signature = Tbs::leaf("YAMADA TARO", &[], &[])
        .with(ku(&[1]))
        .with(policies(&[SIGNATURE_POLICY]))
        .with(hc_role_ext("Medical Doctor"))
        .sign(&Key::new(), Some((HPKI_ROOT, &root_key)));
    Hpki {
        root_key,
        root,
        auth_key,
        auth,
        signature,
    }
}

fn serial_of(der: &[u8]) -> u64 {
    let c = x509_cert::Certificate::from_der(der).unwrap();
    c.tbs_certificate()
        .serial_number()
        .as_bytes()
        .iter()
        .fold(0u64, |acc, b| (acc << 8) | u64::from(*b))
}

#[test]
fn issue11_hpki_authentication_certificate_is_accepted() {
    let h = hpki();
    let profile = hpki_profile(Duration::ZERO);
    let path = verify(
        &h.auth,
        std::slice::from_ref(&h.root),
        &[],
        &[],
        &opts(profile.clone(), AT, false),
    )
    .unwrap();
    match credential(&path, &profile, &[]).unwrap() {
        Credential::Hpki {
            role,
            issuer,
            serial,
            spki_sha256,
        } => {
            assert_eq!(
                role, None,
                "hcRole is not required in the authentication certificate"
            );
            assert!(issuer.contains(HPKI_ROOT), "{issuer}");
            assert_eq!(
                u64::from_str_radix(&serial, 16).unwrap(),
                serial_of(&h.auth)
            );
            use sha2::Digest;
            assert_eq!(
                spki_sha256.as_slice(),
                sha2::Sha256::digest(&h.auth_key.spki).as_slice()
            );
        }
        other => panic!("{other:?}"),
    }
    // An authentication certificate that does carry hcRole, and a clientAuth EKU: accepted,
    // the role read.
    let with_role = Tbs::leaf("SATO HANAKO", &[KP_CLIENT_AUTH], &[])
        .with(policies(&[AUTH_POLICY]))
        .with(hc_role_ext("Medical Doctor"))
        .sign(&Key::new(), Some((HPKI_ROOT, &h.root_key)));
    let path = verify(
        &with_role,
        std::slice::from_ref(&h.root),
        &[],
        &[],
        &opts(profile.clone(), AT, false),
    )
    .unwrap();
    let c = credential(&path, &profile, &[]).unwrap();
    assert_eq!(c.kind(), "hpki");
    assert!(matches!(c, Credential::Hpki { role: Some(ref r), .. } if r == "Medical Doctor"));
    assert_eq!(
        hc_role(&with_role).unwrap().as_deref(),
        Some("Medical Doctor")
    );
}

#[test]
fn issue11_hpki_signature_certificate_is_refused() {
    let h = hpki();
    let e = verify(
        &h.signature,
        std::slice::from_ref(&h.root),
        &[],
        &[],
        &opts(hpki_profile(Duration::ZERO), AT, false),
    )
    .unwrap_err();
    assert!(
        matches!(e, VerifyError::NotHpkiAuthentication { .. }),
        "{e:?}"
    );
    let msg = e.to_string();
    assert!(
        msg.contains("it is an HPKI signature certificate (certificate policy 1.2.392.100495.1.5.1.1.1), not the authentication certificate"),
        "{msg}"
    );
    // Under the authentication policy but with nonRepudiation: a signature key all the same.
    let nr = Tbs::leaf("YAMADA TARO", &[], &[])
        .with(ku(&[0, 1]))
        .with(policies(&[AUTH_POLICY]))
        .sign(&Key::new(), Some((HPKI_ROOT, &h.root_key)));
    let e = verify(
        &nr,
        std::slice::from_ref(&h.root),
        &[],
        &[],
        &opts(hpki_profile(Duration::ZERO), AT, false),
    )
    .unwrap_err();
    assert!(e.to_string().contains("keyUsage has nonRepudiation"), "{e}");
    // Neither policy: not an HPKI authentication certificate.
    let none = Tbs::leaf("YAMADA TARO", &[], &[]).sign(&Key::new(), Some((HPKI_ROOT, &h.root_key)));
    let e = verify(
        &none,
        std::slice::from_ref(&h.root),
        &[],
        &[],
        &opts(hpki_profile(Duration::ZERO), AT, false),
    )
    .unwrap_err();
    assert!(
        e.to_string()
            .contains("is not an HPKI authentication certificate"),
        "{e}"
    );
    // An EKU that is present must still allow client authentication.
    let server = Tbs::leaf("YAMADA TARO", &[KP_SERVER_AUTH], &[])
        .with(policies(&[AUTH_POLICY]))
        .sign(&Key::new(), Some((HPKI_ROOT, &h.root_key)));
    let e = verify(
        &server,
        std::slice::from_ref(&h.root),
        &[],
        &[],
        &opts(hpki_profile(Duration::ZERO), AT, false),
    )
    .unwrap_err();
    assert!(matches!(e, VerifyError::WrongPurpose { .. }), "{e:?}");
}

#[test]
fn issue11_hpki_card_from_an_unknown_anchor_is_refused() {
    let h = hpki();
    // Another HPKI-like root with the same name but another key.
    let other_key = Key::new();
    let other = Tbs::ca(HPKI_ROOT).sign(&other_key, None);
    let e = verify(
        &h.auth,
        &[other],
        &[],
        &[],
        &opts(hpki_profile(Duration::ZERO), AT, false),
    )
    .unwrap_err();
    assert!(matches!(e, VerifyError::BadSignature { .. }), "{e:?}");
    // The network's own root does not vouch for HPKI cards.
    let kmn_root = Tbs::ca("KMN Root").sign(&Key::new(), None);
    let e = verify(
        &h.auth,
        &[kmn_root],
        &[],
        &[],
        &opts(hpki_profile(Duration::ZERO), AT, false),
    )
    .unwrap_err();
    assert!(matches!(e, VerifyError::NoIssuer { .. }), "{e:?}");
}

#[test]
fn issue11_hpki_revoked_card_is_refused() {
    let h = hpki();
    let crl = crl(HPKI_ROOT, &h.root_key, Some(7), &[], &[serial_of(&h.auth)]);
    let e = verify(
        &h.auth,
        std::slice::from_ref(&h.root),
        &[],
        std::slice::from_ref(&crl),
        &opts(hpki_profile(Duration::ZERO), AT, true),
    )
    .unwrap_err();
    assert!(matches!(e, VerifyError::Revoked { .. }), "{e:?}");
    // Through the revocation index as the gateway uses it.
    let store = RevocationStore::new(RevocationConfig::default());
    let ix = RevocationIndex::build(&crl, std::slice::from_ref(&h.root)).unwrap();
    store
        .install("hpki.crl", ix, None, AT.unix_timestamp())
        .unwrap();
    let e = verify_with_index(
        &h.auth,
        std::slice::from_ref(&h.root),
        &[],
        &store.snapshot(),
        &opts(hpki_profile(Duration::ZERO), AT, false),
    )
    .unwrap_err();
    assert!(matches!(e, VerifyError::Revoked { .. }), "{e:?}");
}

#[test]
fn issue11_hpki_crl_grace_is_its_own() {
    let h = hpki();
    // The CRL's nextUpdate is 2031-01-01; a day later it is stale.
    let crl = crl(HPKI_ROOT, &h.root_key, Some(7), &[], &[]);
    let late = datetime!(2031-01-02 00:00 UTC);
    let check = |grace: Duration| {
        verify(
            &h.auth,
            std::slice::from_ref(&h.root),
            &[],
            std::slice::from_ref(&crl),
            &opts(hpki_profile(grace), late, true),
        )
    };
    let e = check(Duration::ZERO).unwrap_err();
    assert!(matches!(e, VerifyError::NoCrl { .. }), "{e:?}");
    assert!(e.to_string().contains("out of date"), "{e}");
    check(Duration::from_secs(2 * 86_400)).unwrap();
    let e = check(Duration::from_secs(3600)).unwrap_err();
    assert!(matches!(e, VerifyError::NoCrl { .. }), "{e:?}");

    // The same with the index: the store's own grace is 0 (the network's CRLs), the HPKI
    // profile adds its own.
    let store = Arc::new(RevocationStore::new(RevocationConfig::default()));
    let ix = RevocationIndex::build(&crl, std::slice::from_ref(&h.root)).unwrap();
    store
        .install("hpki.crl", ix, None, late.unix_timestamp())
        .unwrap();
    let check = |grace: Duration| {
        verify_with_index(
            &h.auth,
            std::slice::from_ref(&h.root),
            &[],
            &store.snapshot(),
            &opts(hpki_profile(grace), late, false),
        )
    };
    let e = check(Duration::ZERO).unwrap_err();
    assert!(e.to_string().contains("past its nextUpdate"), "{e}");
    check(Duration::from_secs(2 * 86_400)).unwrap();
    // The grace is the HPKI profile's only: the network's profile gets none.
    let kmn = verify_with_index(
        &h.auth,
        std::slice::from_ref(&h.root),
        &[],
        &store.snapshot(),
        &VerifyOptions {
            profile: Profile::Rfc5280,
            purpose: Purpose::Any,
            ..opts(Profile::Rfc5280, late, false)
        },
    )
    .unwrap_err();
    assert!(matches!(kmn, VerifyError::NoCrl { .. }), "{kmn:?}");
}

/// `C=JP, O=<facility>, OU=<code>, CN=<holder>, serialNumber=<id>` (DESIGN §4).
fn card_subject(code: Option<&str>, id: &str) -> Vec<u8> {
    let rdn = |t: &str, tag: u8, v: &str| tlv(0x31, &seq(&[oid(t), tlv(tag, v.as_bytes())]));
    let mut parts = vec![
        rdn("2.5.4.6", 0x13, "JP"),
        rdn("2.5.4.10", 0x0c, "Kumamoto Clinic"),
    ];
    if let Some(c) = code {
        parts.push(rdn("2.5.4.11", 0x0c, c));
    }
    parts.push(rdn("2.5.4.3", 0x0c, "Taro Yamada"));
    parts.push(rdn("2.5.4.5", 0x13, id));
    seq(&parts)
}

#[test]
fn art4_card_credential_carries_facility_code_and_holder_id() {
    let root_key = Key::new();
    let root = Tbs::ca("KMN Root").sign(&root_key, None);
    let mut tbs = Tbs::leaf("Taro Yamada", &[KP_CLIENT_AUTH], &[]);
    tbs.subject_der = Some(card_subject(Some("4310000001"), "H0000001"));
    let card = tbs.sign(&Key::new(), Some(("KMN Root", &root_key)));
    let profile = Profile::Kmn {
        policy_oids: vec![oid_of(POLICY)],
    };
    let path = verify(
        &card,
        std::slice::from_ref(&root),
        &[],
        &[],
        &opts(profile.clone(), AT, false),
    )
    .unwrap();
    let id = kmn_card_identity(&card).unwrap();
    assert_eq!(id.facility_code, "4310000001");
    assert_eq!(id.holder_id, "H0000001");
    let c = credential(&path, &profile, &[oid_of("1.3.6.1.4.1.55555.1.2")]).unwrap();
    assert_eq!(
        c,
        Credential::KmnCard {
            facility_code: "4310000001".into(),
            holder_id: "H0000001".into(),
            role: None,
        }
    );
    assert_eq!(c.kind(), "kmn-card");
    // With the operator policy: an operator.
    let op = Tbs::leaf("Desk Operator", &[KP_CLIENT_AUTH], &[])
        .with(policies(&["1.3.6.1.4.1.55555.1.2"]))
        .sign(&Key::new(), Some(("KMN Root", &root_key)));
    let profile = Profile::Kmn {
        policy_oids: vec![oid_of("1.3.6.1.4.1.55555.1.2")],
    };
    let path = verify(
        &op,
        std::slice::from_ref(&root),
        &[],
        &[],
        &opts(profile.clone(), AT, false),
    )
    .unwrap();
    let c = credential(&path, &profile, &[oid_of("1.3.6.1.4.1.55555.1.2")]).unwrap();
    assert_eq!(c.kind(), "operator");
    // A card without OU cannot be bound to a facility.
    let mut tbs = Tbs::leaf("Taro Yamada", &[KP_CLIENT_AUTH], &[]);
    tbs.subject_der = Some(card_subject(None, "H0000001"));
    let no_ou = tbs.sign(&Key::new(), Some(("KMN Root", &root_key)));
    let e = kmn_card_identity(&no_ou).unwrap_err();
    assert!(
        e.to_string()
            .contains("its subject has no organizationalUnitName (facility code)"),
        "{e}"
    );
}

//! Issue #11 item 1: the strict relying party. Each rule beyond the minimum of RFC 5280 is
//! shown with certificates the test makes (tests/support), and rustls-webpki is run over the
//! same certificates: whatever it refuses, kmn-verify refuses too, except the differences
//! docs/VERIFY.md lists.

mod support;

use std::time::{Duration, Instant};

use der::asn1::ObjectIdentifier;
use kmn_verify::{Profile, Purpose, ValidatedPath, VerifyError, VerifyOptions, verify};
use support::*;
use time::macros::datetime;

const AT: time::OffsetDateTime = datetime!(2030-06-01 00:00 UTC);
const ROOT: &str = "KMN Strict Root";
const INTER: &str = "KMN Strict Issuing";

fn subject(cn: &str) -> String {
    format!("CN={cn}, O=KMN Strict Test, C=JP")
}

fn opts(purpose: Purpose, dns: Option<&str>) -> VerifyOptions {
    let mut o = VerifyOptions::new(AT);
    o.purpose = purpose;
    o.dns_name = dns.map(str::to_string);
    o
}

/// Root → issuing CA → leaf, each part replaceable.
struct Pki {
    root_key: Key,
    root: Vec<u8>,
    inter_key: Key,
    inter: Vec<u8>,
}

impl Pki {
    fn new() -> Pki {
        Pki::with(Tbs::ca(ROOT), Tbs::ca(INTER))
    }

    fn with(root: Tbs, inter: Tbs) -> Pki {
        let root_key = Key::new();
        let inter_key = Key::new();
        let root_der = root.sign(&root_key, None);
        let inter_der = inter.sign(&inter_key, Some((ROOT, &root_key)));
        Pki {
            root_key,
            root: root_der,
            inter_key,
            inter: inter_der,
        }
    }

    fn leaf(&self, tbs: Tbs) -> Vec<u8> {
        tbs.sign(&Key::new(), Some((INTER, &self.inter_key)))
    }

    fn check(&self, leaf: &[u8], o: &VerifyOptions) -> Result<ValidatedPath, VerifyError> {
        verify(
            leaf,
            std::slice::from_ref(&self.root),
            std::slice::from_ref(&self.inter),
            &[],
            o,
        )
    }
}

fn server_leaf(dns: &[&str]) -> Tbs {
    Tbs::leaf("kmn.example.jp", &[KP_SERVER_AUTH], dns)
}

fn client_leaf() -> Tbs {
    Tbs::leaf("Taro", &[KP_CLIENT_AUTH], &[])
}

#[test]
fn issue11_anchor_name_constraints_apply() {
    let pki = Pki::with(
        Tbs::ca(ROOT).with(nc_dns(&["example.jp"], &["bad.example.jp"])),
        Tbs::ca(INTER),
    );
    let o = opts(Purpose::ServerAuth, None);
    pki.check(&pki.leaf(server_leaf(&["kmn.example.jp"])), &o)
        .unwrap();
    let err = pki
        .check(&pki.leaf(server_leaf(&["kmn.example.com"])), &o)
        .unwrap_err();
    match &err {
        VerifyError::NameConstraintViolation { subject: s, ca, .. } => {
            assert_eq!(s, &subject("kmn.example.jp"));
            assert_eq!(ca, &subject(ROOT), "the anchor's constraints, {err}");
        }
        other => panic!("expected a name-constraint violation, got {other}"),
    }
    assert!(
        err.to_string()
            .ends_with("DNS name 'kmn.example.com' is not within the permitted subtrees"),
        "{err}"
    );
    let err = pki
        .check(&pki.leaf(server_leaf(&["x.bad.example.jp"])), &o)
        .unwrap_err();
    assert!(
        err.to_string().contains("within an excluded subtree"),
        "{err}"
    );
}

#[test]
fn issue11_anchor_validity_basic_constraints_and_key_usage_apply() {
    let o = opts(Purpose::ClientAuth, None);
    let run = |root: Tbs| {
        let pki = Pki::with(root, Tbs::ca(INTER));
        pki.check(&pki.leaf(client_leaf()), &o)
    };
    run(Tbs::ca(ROOT)).unwrap();

    let err = run(Tbs::ca(ROOT).validity("200101000000Z", "291231235959Z")).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "certificate '{}' expired at 2029-12-31T23:59:59Z",
            subject(ROOT)
        )
    );
    let err = run(Tbs::ca(ROOT).without(BC)).unwrap_err();
    assert!(
        matches!(&err, VerifyError::NotCa { subject: s, detail, .. }
            if s == &subject(ROOT) && detail == "it has no basicConstraints extension"),
        "{err}"
    );
    let err = run(Tbs::ca(ROOT).with(bc(false, None))).unwrap_err();
    assert!(matches!(err, VerifyError::NotCa { .. }), "{err}");
    let err = run(Tbs::ca(ROOT).with(ku(&[6]))).unwrap_err();
    assert_eq!(
        err,
        VerifyError::NoKeyCertSign {
            subject: subject(ROOT)
        }
    );
    // The anchor's pathLenConstraint 0 leaves no room for the issuing CA.
    let err = run(Tbs::ca(ROOT).with(bc(true, Some(0)))).unwrap_err();
    assert_eq!(
        err,
        VerifyError::PathLengthExceeded {
            subject: subject(INTER)
        }
    );
    run(Tbs::ca(ROOT).with(bc(true, Some(1)))).unwrap();
    // An unknown critical extension in the anchor is refused like anywhere else.
    let err = run(Tbs::ca(ROOT).with(Ext {
        oid: "1.3.6.1.4.1.55555.9.9",
        critical: true,
        value: tlv(0x05, &[]),
    }))
    .unwrap_err();
    assert!(
        matches!(err, VerifyError::UnknownCriticalExtension { .. }),
        "{err}"
    );
}

#[test]
fn issue11_critical_aki_or_ski_is_refused() {
    let pki = Pki::new();
    let o = opts(Purpose::ClientAuth, None);
    pki.check(&pki.leaf(client_leaf()), &o).unwrap();
    let leaf = pki.leaf(client_leaf().with(aki(&pki.inter_key).critical(true)));
    let err = pki.check(&leaf, &o).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "certificate '{}' is invalid: its authorityKeyIdentifier extension is marked critical, which RFC 5280 §4.2.1.1 forbids",
            subject("Taro")
        )
    );

    // A critical subjectKeyIdentifier, in the issuing CA and in the anchor.
    let inter_key = Key::new();
    let pki = Pki::with(
        Tbs::ca(ROOT),
        Tbs::ca(INTER).with(ski(&inter_key).critical(true)),
    );
    let err = pki.check(&pki.leaf(client_leaf()), &o).unwrap_err();
    assert!(
        matches!(&err, VerifyError::InvalidCertificate { subject: s, detail }
            if s == &subject(INTER) && detail.contains("subjectKeyIdentifier extension is marked critical")),
        "{err}"
    );
    let root_key = Key::new();
    let pki = Pki::with(
        Tbs::ca(ROOT).with(ski(&root_key).critical(true)),
        Tbs::ca(INTER),
    );
    let err = pki.check(&pki.leaf(client_leaf()), &o).unwrap_err();
    assert!(
        err.to_string().contains(&subject(ROOT)) && err.to_string().contains("§4.2.1.2"),
        "{err}"
    );
}

#[test]
fn issue11_crl_without_number_is_refused() {
    let pki = Pki::new();
    let leaf = pki.leaf(client_leaf());
    let mut o = opts(Purpose::ClientAuth, None);
    o.check_revocation = true;
    let root_crl = crl(ROOT, &pki.root_key, Some(1), &[], &[]);
    let run = |inter_crl: Vec<u8>| {
        verify(
            &leaf,
            std::slice::from_ref(&pki.root),
            std::slice::from_ref(&pki.inter),
            &[root_crl.clone(), inter_crl],
            &o,
        )
    };
    let path = run(crl(INTER, &pki.inter_key, Some(7), &[], &[])).unwrap();
    assert!(path.revocation_checked);

    let err = run(crl(INTER, &pki.inter_key, None, &[], &[])).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "no CRL covers certificate '{}': CRL of '{}': it has no cRLNumber extension (RFC 5280 §5.2.3; this library requires it)",
            subject("Taro"),
            subject(INTER)
        )
    );
    let err = run(crl(
        INTER,
        &pki.inter_key,
        Some(8),
        &[aki(&pki.inter_key).critical(true)],
        &[],
    ))
    .unwrap_err();
    assert!(
        err.to_string()
            .contains("its authorityKeyIdentifier extension is marked critical"),
        "{err}"
    );
    let aia = Ext {
        oid: "1.3.6.1.5.5.7.1.1",
        critical: true,
        value: seq(&[seq(&[
            oid("1.3.6.1.5.5.7.48.2"),
            ia5(0x86, "http://kmn.example.jp/repo/kmn-issuing-g1.crt"),
        ])]),
    };
    let err = run(crl(
        INTER,
        &pki.inter_key,
        Some(8),
        std::slice::from_ref(&aia),
        &[],
    ))
    .unwrap_err();
    assert!(
        err.to_string().ends_with(
            "its authorityInfoAccess extension is marked critical, which RFC 5280 §5.2.7 forbids"
        ),
        "{err}"
    );
    run(crl(
        INTER,
        &pki.inter_key,
        Some(8),
        &[aia.critical(false)],
        &[],
    ))
    .unwrap();
    let unknown = Ext {
        oid: "1.3.6.1.4.1.55555.9.9",
        critical: true,
        value: tlv(0x05, &[]),
    };
    let err = run(crl(
        INTER,
        &pki.inter_key,
        Some(9),
        std::slice::from_ref(&unknown),
        &[],
    ))
    .unwrap_err();
    assert!(
        err.to_string()
            .contains("it has an unsupported critical extension 1.3.6.1.4.1.55555.9.9"),
        "{err}"
    );
    // The same extension, not critical, is fine.
    run(crl(
        INTER,
        &pki.inter_key,
        Some(10),
        &[unknown.critical(false)],
        &[],
    ))
    .unwrap();
}

/// root → CA 1 → … → CA `n` → leaf.
fn long_chain(n: usize) -> (Vec<u8>, Vec<Vec<u8>>, Vec<u8>) {
    let root_key = Key::new();
    let root = Tbs::ca(ROOT).sign(&root_key, None);
    let mut inters = Vec::new();
    let mut issuer = (ROOT.to_string(), root_key);
    for i in 1..=n {
        let key = Key::new();
        let cn = format!("KMN Strict CA {i}");
        inters.push(Tbs::ca(&cn).sign(&key, Some((&issuer.0, &issuer.1))));
        issuer = (cn, key);
    }
    let leaf = client_leaf().sign(&Key::new(), Some((&issuer.0, &issuer.1)));
    (root, inters, leaf)
}

#[test]
fn issue11_maximum_path_length() {
    assert_eq!(kmn_verify::MAX_INTERMEDIATES, 6);
    let o = opts(Purpose::ClientAuth, None);
    let (root, inters, leaf) = long_chain(6);
    let path = verify(&leaf, &[root], &inters, &[], &o).unwrap();
    assert_eq!(path.chain.len(), 8);
    let (root, inters, leaf) = long_chain(7);
    let err = verify(&leaf, &[root], &inters, &[], &o).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "no acceptable path for '{}': a path may hold at most 6 intermediate CA certificates",
            subject("Taro")
        )
    );
}

fn many_names(n: usize) -> (Tbs, Tbs) {
    let subtrees: Vec<String> = (0..n).map(|i| format!("d{i}.example.jp")).collect();
    let names: Vec<String> = (0..n).map(|i| format!("h.d{i}.example.jp")).collect();
    let inter = Tbs::ca(INTER).with(nc_dns(&subtrees, &[]));
    let leaf = server_leaf(&[]).with(san_dns(&names));
    (inter, leaf)
}

#[test]
fn issue11_name_constraint_work_is_bounded() {
    let o = opts(Purpose::ServerAuth, None);
    // 3 000 names under 3 000 subtrees: 9 million comparisons, refused before the first.
    let (inter, leaf) = many_names(3000);
    let pki = Pki::with(Tbs::ca(ROOT), inter);
    let leaf = pki.leaf(leaf);
    let started = Instant::now();
    let err = pki.check(&leaf, &o).unwrap_err();
    let took = started.elapsed();
    assert_eq!(
        err.to_string(),
        format!(
            "certificate '{}' is refused without being checked: checking its 3001 names against the 3000 name-constraint subtrees of '{}' would exceed the limit of 65536 name comparisons per validation",
            subject("kmn.example.jp"),
            subject(INTER)
        )
    );
    assert!(took < Duration::from_secs(2), "took {took:?}");

    // A certificate with a few names under the same 3 000 subtrees is checked.
    let pki = Pki::with(Tbs::ca(ROOT), many_names(3000).0);
    let leaf = pki.leaf(server_leaf(&["a.d1.example.jp", "b.d2999.example.jp"]));
    pki.check(&leaf, &o).unwrap();
    let leaf = pki.leaf(server_leaf(&["a.d1.example.jp", "b.example.jp"]));
    assert!(matches!(
        pki.check(&leaf, &o),
        Err(VerifyError::NameConstraintViolation { .. })
    ));
}

#[test]
fn issue11_policy_mappings_and_policy_constraints_are_refused() {
    let o = opts(Purpose::ClientAuth, None);
    for (ext, name) in [
        (require_explicit_policy(), "policyConstraints"),
        (
            policy_mapping(POLICY, "1.3.6.1.4.1.55555.1.2"),
            "policyMappings",
        ),
        (inhibit_any_policy(), "inhibitAnyPolicy"),
    ] {
        for critical in [true, false] {
            let pki = Pki::with(
                Tbs::ca(ROOT),
                Tbs::ca(INTER).with(ext.clone().critical(critical)),
            );
            let err = pki.check(&pki.leaf(client_leaf()), &o).unwrap_err();
            assert_eq!(
                err,
                VerifyError::PolicyProcessingRefused {
                    subject: subject(INTER),
                    extension: name.into()
                }
            );
            assert_eq!(
                err.to_string(),
                format!(
                    "certificate '{}' carries {name}: certificate policy mapping and policy constraints are not processed, so a path with them is refused",
                    subject(INTER)
                )
            );
        }
    }
    // In the anchor too.
    let pki = Pki::with(
        Tbs::ca(ROOT).with(require_explicit_policy()),
        Tbs::ca(INTER),
    );
    assert!(matches!(
        pki.check(&pki.leaf(client_leaf()), &o),
        Err(VerifyError::PolicyProcessingRefused { .. })
    ));
    // certificatePolicies itself is fine, and the kmn profile still checks its OIDs.
    let pki = Pki::new();
    let leaf = pki.leaf(client_leaf());
    let mut kmn = opts(Purpose::ClientAuth, None);
    kmn.profile = Profile::Kmn {
        policy_oids: vec![ObjectIdentifier::new_unwrap(POLICY)],
    };
    pki.check(&leaf, &kmn).unwrap();
    kmn.profile = Profile::Kmn {
        policy_oids: vec![ObjectIdentifier::new_unwrap("1.3.6.1.4.1.55555.1.2")],
    };
    assert!(matches!(
        pki.check(&leaf, &kmn),
        Err(VerifyError::ProfileViolation { .. })
    ));
}

#[test]
fn issue11_extended_key_usage_per_purpose() {
    let pki = Pki::new();
    let client = opts(Purpose::ClientAuth, None);
    let server = opts(Purpose::ServerAuth, None);
    let s = pki.leaf(server_leaf(&["kmn.example.jp"]));
    let c = pki.leaf(client_leaf());
    pki.check(&s, &server).unwrap();
    pki.check(&c, &client).unwrap();
    let err = pki.check(&s, &client).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "certificate '{}' is not valid for client authentication: its extendedKeyUsage does not include id-kp-clientAuth",
            subject("kmn.example.jp")
        )
    );
    let err = pki.check(&c, &server).unwrap_err();
    assert!(
        err.to_string()
            .ends_with("does not include id-kp-serverAuth"),
        "{err}"
    );
    // No extendedKeyUsage: refused for either purpose, fine for Any.
    let none = pki.leaf(Tbs::leaf("Taro", &[], &[]));
    for o in [&client, &server] {
        let err = pki.check(&none, o).unwrap_err();
        assert!(
            err.to_string()
                .contains("it has no extendedKeyUsage extension"),
            "{err}"
        );
    }
    pki.check(&none, &opts(Purpose::Any, None)).unwrap();
    // A CA certificate is not a client or a server.
    let ca_leaf = pki.leaf(client_leaf().with(bc(true, None)));
    let err = pki.check(&ca_leaf, &client).unwrap_err();
    assert!(
        err.to_string().contains("not an end-entity certificate"),
        "{err}"
    );
    // An issuing CA restricted to client authentication cannot vouch for a server.
    let pki = Pki::with(Tbs::ca(ROOT), Tbs::ca(INTER).with(eku(&[KP_CLIENT_AUTH])));
    pki.check(&pki.leaf(client_leaf()), &client).unwrap();
    let err = pki
        .check(&pki.leaf(server_leaf(&["kmn.example.jp"])), &server)
        .unwrap_err();
    assert!(
        matches!(&err, VerifyError::WrongPurpose { subject: s, .. } if s == &subject(INTER)),
        "{err}"
    );
    // So can an anchor restricted to client authentication.
    let pki = Pki::with(Tbs::ca(ROOT).with(eku(&[KP_CLIENT_AUTH])), Tbs::ca(INTER));
    pki.check(&pki.leaf(client_leaf()), &client).unwrap();
    let err = pki
        .check(&pki.leaf(server_leaf(&["kmn.example.jp"])), &server)
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "certificate '{}' is not valid for server authentication: it is a CA certificate whose extendedKeyUsage, which binds every certificate below it, does not include id-kp-serverAuth",
            subject(ROOT)
        )
    );
}

#[test]
fn issue11_server_dns_name_rfc6125() {
    let pki = Pki::new();
    let leaf = pki.leaf(server_leaf(&["kmn.example.jp", "*.svc.example.jp"]));
    let check = |name: &str| pki.check(&leaf, &opts(Purpose::ServerAuth, Some(name)));
    check("kmn.example.jp").unwrap();
    check("KMN.Example.JP.").unwrap();
    check("api.svc.example.jp").unwrap();
    let err = check("a.api.svc.example.jp").unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "certificate '{}' is not valid for the DNS name 'a.api.svc.example.jp': its subjectAltName DNS names are kmn.example.jp, *.svc.example.jp",
            subject("kmn.example.jp")
        )
    );
    assert!(matches!(
        check("svc.example.jp"),
        Err(VerifyError::NameMismatch { .. })
    ));
    // No fallback to the common name.
    let cn_only = pki.leaf(server_leaf(&[]));
    let err = pki
        .check(&cn_only, &opts(Purpose::ServerAuth, Some("kmn.example.jp")))
        .unwrap_err();
    assert!(
        err.to_string()
            .ends_with("it has no subjectAltName dNSName (the common name is not used)"),
        "{err}"
    );
    // The name asked for must be a DNS name.
    let err = check("*.svc.example.jp").unwrap_err();
    assert!(matches!(err, VerifyError::Malformed { .. }), "{err}");
    // A pinned self-signed server certificate (the trust anchor as the leaf) is held to the
    // name too.
    let pinned = server_leaf(&["kmn.example.jp"]).sign(&Key::new(), None);
    let anchors = std::slice::from_ref(&pinned);
    verify(
        &pinned,
        anchors,
        &[],
        &[],
        &opts(Purpose::ServerAuth, Some("kmn.example.jp")),
    )
    .unwrap();
    let err = verify(
        &pinned,
        anchors,
        &[],
        &[],
        &opts(Purpose::ServerAuth, Some("x.example.jp")),
    )
    .unwrap_err();
    assert!(matches!(err, VerifyError::NameMismatch { .. }), "{err}");
}

/// basicConstraints cA TRUE encoded as 0x01: valid BER, not DER.
fn ber_ca_flag() -> Ext {
    Ext {
        oid: BC,
        critical: true,
        value: seq(&[tlv(0x01, &[0x01])]),
    }
}

#[test]
fn issue11_der_boolean_only() {
    let pki = Pki::with(Tbs::ca(ROOT), Tbs::ca(INTER).with(ber_ca_flag()));
    let err = pki
        .check(&pki.leaf(client_leaf()), &opts(Purpose::ClientAuth, None))
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "could not parse intermediate certificate #1: extension 2.5.29.19: BOOLEAN TRUE is not encoded as 0xFF (not DER)"
    );
}

// ------------------------------------------------------------------------ rustls-webpki

struct Case {
    name: &'static str,
    anchor: Vec<u8>,
    inters: Vec<Vec<u8>>,
    leaf: Vec<u8>,
    purpose: Purpose,
    dns: Option<&'static str>,
}

/// Cases where rustls-webpki refuses and kmn-verify accepts on purpose (docs/VERIFY.md,
/// "Differences from rustls-webpki").
const DOCUMENTED_EXCEPTIONS: &[&str] = &["critical certificatePolicies", "critical issuerAltName"];

fn webpki_result(c: &Case) -> Result<(), String> {
    use rustls_pki_types::{CertificateDer, ServerName, UnixTime};
    let anchor_der = CertificateDer::from(c.anchor.as_slice());
    let anchor = webpki::anchor_from_trusted_cert(&anchor_der).map_err(|e| format!("{e:?}"))?;
    let leaf_der = CertificateDer::from(c.leaf.as_slice());
    let ee = webpki::EndEntityCert::try_from(&leaf_der).map_err(|e| format!("{e:?}"))?;
    let inters: Vec<CertificateDer<'_>> = c
        .inters
        .iter()
        .map(|d| CertificateDer::from(d.as_slice()))
        .collect();
    let usage = match c.purpose {
        Purpose::ServerAuth => webpki::KeyUsage::server_auth(),
        _ => webpki::KeyUsage::client_auth(),
    };
    let time = UnixTime::since_unix_epoch(Duration::from_secs(AT.unix_timestamp() as u64));
    ee.verify_for_usage(
        webpki::ALL_VERIFICATION_ALGS,
        &[anchor],
        &inters,
        time,
        usage,
        None,
        None,
    )
    .map_err(|e| format!("{e:?}"))?;
    if let Some(name) = c.dns {
        let sn = ServerName::try_from(name).map_err(|e| format!("{e:?}"))?;
        ee.verify_is_valid_for_subject_name(&sn)
            .map_err(|e| format!("{e:?}"))?;
    }
    Ok(())
}

fn cases() -> Vec<Case> {
    let mut out = Vec::new();
    let mut add = |name, pki: &Pki, leaf: Vec<u8>, purpose, dns| {
        out.push(Case {
            name,
            anchor: pki.root.clone(),
            inters: vec![pki.inter.clone()],
            leaf,
            purpose,
            dns,
        })
    };
    let server = Purpose::ServerAuth;
    let client = Purpose::ClientAuth;
    let pki = Pki::new();
    add("good client", &pki, pki.leaf(client_leaf()), client, None);
    let good_server = pki.leaf(server_leaf(&["kmn.example.jp", "*.svc.example.jp"]));
    add(
        "good server",
        &pki,
        good_server.clone(),
        server,
        Some("kmn.example.jp"),
    );
    add(
        "wildcard",
        &pki,
        good_server.clone(),
        server,
        Some("a.svc.example.jp"),
    );
    add(
        "wildcard two labels",
        &pki,
        good_server.clone(),
        server,
        Some("b.a.svc.example.jp"),
    );
    add(
        "wrong DNS name",
        &pki,
        good_server,
        server,
        Some("other.example.jp"),
    );
    add(
        "CN only",
        &pki,
        pki.leaf(server_leaf(&[])),
        server,
        Some("kmn.example.jp"),
    );
    add(
        "server used as client",
        &pki,
        pki.leaf(server_leaf(&["kmn.example.jp"])),
        client,
        None,
    );
    add(
        "client used as server",
        &pki,
        pki.leaf(client_leaf()),
        server,
        None,
    );
    add(
        "no EKU",
        &pki,
        pki.leaf(Tbs::leaf("Taro", &[], &[])),
        client,
        None,
    );
    add(
        "CA as leaf",
        &pki,
        pki.leaf(client_leaf().with(bc(true, None))),
        client,
        None,
    );
    add(
        "critical AKI",
        &pki,
        pki.leaf(client_leaf().with(aki(&pki.inter_key).critical(true))),
        client,
        None,
    );
    add(
        "critical certificatePolicies",
        &pki,
        pki.leaf(client_leaf().with(policies(&[POLICY]).critical(true))),
        client,
        None,
    );
    add(
        "critical issuerAltName",
        &pki,
        pki.leaf(client_leaf().with(Ext {
            oid: "2.5.29.18",
            critical: true,
            value: seq(&[ia5(0x82, "example.jp")]),
        })),
        client,
        None,
    );
    add(
        "expired leaf",
        &pki,
        pki.leaf(client_leaf().validity("200101000000Z", "291231235959Z")),
        client,
        None,
    );
    add(
        "unknown critical extension",
        &pki,
        pki.leaf(client_leaf().with(Ext {
            oid: "1.3.6.1.4.1.55555.9.9",
            critical: true,
            value: tlv(0x05, &[]),
        })),
        client,
        None,
    );

    let nc = Pki::with(
        Tbs::ca(ROOT).with(nc_dns(&["example.jp"], &[])),
        Tbs::ca(INTER),
    );
    add(
        "anchor name constraints kept",
        &nc,
        nc.leaf(server_leaf(&["kmn.example.jp"])),
        server,
        None,
    );
    add(
        "anchor name constraints broken",
        &nc,
        nc.leaf(server_leaf(&["kmn.example.com"])),
        server,
        None,
    );
    let expired_root = Pki::with(
        Tbs::ca(ROOT).validity("200101000000Z", "291231235959Z"),
        Tbs::ca(INTER),
    );
    add(
        "expired anchor",
        &expired_root,
        expired_root.leaf(client_leaf()),
        client,
        None,
    );
    let no_bc_root = Pki::with(Tbs::ca(ROOT).without(BC), Tbs::ca(INTER));
    add(
        "anchor without basicConstraints",
        &no_bc_root,
        no_bc_root.leaf(client_leaf()),
        client,
        None,
    );
    let inter_key = Key::new();
    let ski_inter = Pki::with(
        Tbs::ca(ROOT),
        Tbs::ca(INTER).with(ski(&inter_key).critical(true)),
    );
    add(
        "critical SKI",
        &ski_inter,
        ski_inter.leaf(client_leaf()),
        client,
        None,
    );
    for (name, ext) in [
        ("critical policyConstraints", require_explicit_policy()),
        (
            "non-critical policyConstraints",
            require_explicit_policy().critical(false),
        ),
        (
            "critical policyMappings",
            policy_mapping(POLICY, "1.3.6.1.4.1.55555.1.2"),
        ),
        ("critical inhibitAnyPolicy", inhibit_any_policy()),
    ] {
        let p = Pki::with(Tbs::ca(ROOT), Tbs::ca(INTER).with(ext));
        add(name, &p, p.leaf(client_leaf()), client, None);
    }
    let ber = Pki::with(Tbs::ca(ROOT), Tbs::ca(INTER).with(ber_ca_flag()));
    add("BER BOOLEAN", &ber, ber.leaf(client_leaf()), client, None);
    let eku_inter = Pki::with(Tbs::ca(ROOT), Tbs::ca(INTER).with(eku(&[KP_CLIENT_AUTH])));
    add(
        "issuing CA for clients only",
        &eku_inter,
        eku_inter.leaf(server_leaf(&["kmn.example.jp"])),
        server,
        None,
    );
    let (inter, leaf) = many_names(3000);
    let big = Pki::with(Tbs::ca(ROOT), inter);
    add("name-constraint work", &big, big.leaf(leaf), server, None);

    for n in [6, 7] {
        let (root, inters, leaf) = long_chain(n);
        out.push(Case {
            name: if n == 6 {
                "6 intermediates"
            } else {
                "7 intermediates"
            },
            anchor: root,
            inters,
            leaf,
            purpose: Purpose::ClientAuth,
            dns: None,
        });
    }
    out
}

#[test]
fn issue11_whatever_webpki_refuses_is_refused_here() {
    let mut accepted_by_us_only = Vec::new();
    let mut rows = Vec::new();
    for c in cases() {
        let theirs = webpki_result(&c);
        let ours = verify(
            &c.leaf,
            std::slice::from_ref(&c.anchor),
            &c.inters,
            &[],
            &opts(c.purpose, c.dns),
        );
        rows.push(format!(
            "{:<34} webpki: {:<45} kmn-verify: {}",
            c.name,
            match &theirs {
                Ok(()) => "valid".to_string(),
                Err(e) => e.clone(),
            },
            match &ours {
                Ok(_) => "valid".to_string(),
                Err(e) => e.to_string(),
            }
        ));
        if theirs.is_err() && ours.is_ok() {
            accepted_by_us_only.push(c.name);
        }
    }
    println!("{}", rows.join("\n"));
    assert_eq!(
        accepted_by_us_only,
        DOCUMENTED_EXCEPTIONS,
        "refused by rustls-webpki but accepted here:\n{}",
        rows.join("\n")
    );
    // The cases that should pass do pass with both.
    let rows = rows.join("\n");
    for name in ["good client", "good server", "wildcard", "6 intermediates"] {
        let row = rows.lines().find(|l| l.starts_with(name)).unwrap();
        assert!(row.ends_with("kmn-verify: valid"), "{row}");
        assert!(row.contains("webpki: valid"), "{row}");
    }
}

//! Issue #11, "revocation live": revocation from indexes built once per CRL
//! (`RevocationIndex`, `RevocationStore`, `verify_with_index`), with real certificates and
//! CRLs made by the test (tests/support, ECDSA P-256). The HTTP refetch is tested in
//! crates/kmn-crl-fetch.

mod support;

use std::sync::Arc;
use std::time::Duration;

use der::Decode;
use kmn_verify::{
    RevocationConfig, RevocationIndex, RevocationStatus, RevocationStore, VerifyError,
    VerifyOptions, verify, verify_with_index,
};
use support::*;
use time::macros::datetime;

const AT: time::OffsetDateTime = datetime!(2030-06-01 00:00 UTC);
const ROOT: &str = "KMN Live Root";
const G1: &str = "KMN Live Issuing G1";
const G2: &str = "KMN Live Issuing G2";

struct Ca {
    cn: &'static str,
    key: Key,
    cert: Vec<u8>,
}

struct Pki {
    root: Ca,
    g1: Ca,
    g2: Ca,
}

impl Pki {
    fn new() -> Pki {
        let root_key = Key::new();
        let root = Tbs::ca(ROOT).sign(&root_key, None);
        let issuing = |cn: &'static str| {
            let key = Key::new();
            let cert = Tbs::ca(cn).sign(&key, Some((ROOT, &root_key)));
            Ca { cn, key, cert }
        };
        let (g1, g2) = (issuing(G1), issuing(G2));
        Pki {
            root: Ca {
                cn: ROOT,
                key: root_key,
                cert: root,
            },
            g1,
            g2,
        }
    }

    fn leaf(&self, ca: &Ca, exts: &[Ext]) -> Vec<u8> {
        let mut tbs = Tbs::leaf("Dr. Live", &["1.3.6.1.5.5.7.3.2"], &[]);
        for e in exts {
            tbs = tbs.with(e.clone());
        }
        tbs.sign(&Key::new(), Some((ca.cn, &ca.key)))
    }

    fn intermediates(&self) -> Vec<Vec<u8>> {
        vec![self.g1.cert.clone(), self.g2.cert.clone()]
    }

    fn issuers(&self) -> Vec<Vec<u8>> {
        vec![
            self.root.cert.clone(),
            self.g1.cert.clone(),
            self.g2.cert.clone(),
        ]
    }

    /// An index of `ca`'s CRL (number `n`, revoking `serials`, extra CRL extensions).
    fn index(&self, ca: &Ca, n: u64, extra: &[Ext], serials: &[u64]) -> RevocationIndex {
        RevocationIndex::build(
            &crl(ca.cn, &ca.key, Some(n), extra, serials),
            &self.issuers(),
        )
        .unwrap()
    }

    /// A store with the root's ARL and the CRLs of G1 and G2, none revoking anything.
    fn store(&self, config: RevocationConfig) -> RevocationStore {
        let store = RevocationStore::new(config);
        let at = AT.unix_timestamp();
        for (src, ca) in [("arl", &self.root), ("g1", &self.g1), ("g2", &self.g2)] {
            store
                .install(src, self.index(ca, 1, &[], &[]), None, at)
                .unwrap();
        }
        store
    }

    fn verify(
        &self,
        leaf: &[u8],
        store: &RevocationStore,
        at: time::OffsetDateTime,
    ) -> Result<(), VerifyError> {
        verify_with_index(
            leaf,
            std::slice::from_ref(&self.root.cert),
            &self.intermediates(),
            &store.snapshot(),
            &VerifyOptions::new(at),
        )
        .map(|p| assert!(p.revocation_checked))
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

fn serial_bytes(der: &[u8]) -> Vec<u8> {
    let c = x509_cert::Certificate::from_der(der).unwrap();
    c.tbs_certificate().serial_number().as_bytes().to_vec()
}

/// cRLDistributionPoints with one URI.
fn crl_dp(uri: &str) -> Ext {
    Ext {
        oid: "2.5.29.31",
        critical: false,
        value: seq(&[seq(&[tlv(0xa0, &tlv(0xa0, &ia5(0x86, uri)))])]),
    }
}

/// issuingDistributionPoint naming one URI (a partition).
fn idp(uri: &str) -> Ext {
    Ext {
        oid: "2.5.29.28",
        critical: true,
        value: seq(&[tlv(0xa0, &tlv(0xa0, &ia5(0x86, uri)))]),
    }
}

fn no_crl_detail(e: VerifyError) -> String {
    match e {
        VerifyError::NoCrl { .. } => e.to_string(),
        other => panic!("expected NoCrl, got {other:?}"),
    }
}

#[test]
fn issue11_index_answers_like_the_crl_path() {
    let pki = Pki::new();
    let good = pki.leaf(&pki.g1, &[]);
    let bad = pki.leaf(&pki.g1, &[]);
    let store = pki.store(RevocationConfig::default());
    let idx = pki.index(&pki.g1, 2, &[], &[serial_of(&bad), 0xdead_beef]);
    assert_eq!(idx.len(), 2);
    store.install("g1", idx, None, AT.unix_timestamp()).unwrap();

    pki.verify(&good, &store, AT).unwrap();
    let err = pki.verify(&bad, &store, AT).unwrap_err();
    assert!(matches!(err, VerifyError::Revoked { .. }), "{err}");
    assert!(
        err.to_string()
            .contains("was revoked on 2030-01-01T00:00:00Z"),
        "{err}"
    );

    // The existing per-check CRL path gives the same answers.
    let crls = vec![
        crl(ROOT, &pki.root.key, Some(1), &[], &[]),
        crl(G1, &pki.g1.key, Some(2), &[], &[serial_of(&bad)]),
    ];
    let mut o = VerifyOptions::new(AT);
    o.check_revocation = true;
    let roots = [pki.root.cert.clone()];
    verify(&good, &roots, &pki.intermediates(), &crls, &o).unwrap();
    let err2 = verify(&bad, &roots, &pki.intermediates(), &crls, &o).unwrap_err();
    assert_eq!(err.to_string(), err2.to_string());
}

#[test]
fn issue11_index_check_by_serial() {
    let pki = Pki::new();
    let leaf = pki.leaf(&pki.g1, &[]);
    let idx = pki.index(&pki.g1, 1, &[], &[serial_of(&leaf)]);
    let at = AT.unix_timestamp();
    assert!(matches!(
        idx.check(&serial_bytes(&leaf), at),
        RevocationStatus::Revoked {
            reason: "unspecified",
            ..
        }
    ));
    assert_eq!(idx.check(&[0x7f, 0x01], at), RevocationStatus::Good);
    let after = datetime!(2031-01-02 00:00 UTC).unix_timestamp();
    match idx.check(&[0x7f, 0x01], after) {
        RevocationStatus::Unknown { why } => assert!(
            why.contains("is past its nextUpdate (2031-01-01T00:00:00Z)"),
            "{why}"
        ),
        other => panic!("{other:?}"),
    }
    let before = datetime!(2029-12-31 00:00 UTC).unix_timestamp();
    assert!(matches!(
        idx.check(&[1], before),
        RevocationStatus::Unknown { .. }
    ));
    // Longer than any serial held: simply not listed.
    assert_eq!(idx.check(&[1; 40], at), RevocationStatus::Good);
}

#[test]
fn issue11_past_next_update_fails_closed_unless_within_grace() {
    let pki = Pki::new();
    let leaf = pki.leaf(&pki.g1, &[]);
    let late = datetime!(2031-01-10 00:00 UTC);
    let store = pki.store(RevocationConfig::default());
    let err = no_crl_detail(pki.verify(&leaf, &store, late).unwrap_err());
    assert!(
        err.contains("is past its nextUpdate (2031-01-01T00:00:00Z)"),
        "{err}"
    );
    let lenient = pki.store(RevocationConfig {
        next_update_grace: Duration::from_secs(30 * 86_400),
        unreachable_grace: None,
    });
    pki.verify(&leaf, &lenient, late).unwrap();
    let err = no_crl_detail(
        pki.verify(&leaf, &lenient, datetime!(2031-02-10 00:00 UTC))
            .unwrap_err(),
    );
    assert!(err.contains("and the grace of 2592000 s"), "{err}");
}

#[test]
fn issue11_unreachable_beyond_grace_fails_closed() {
    let pki = Pki::new();
    let leaf = pki.leaf(&pki.g1, &[]);
    let store = pki.store(RevocationConfig {
        next_update_grace: Duration::ZERO,
        unreachable_grace: Some(Duration::from_secs(3600)),
    });
    let t0 = AT.unix_timestamp();
    store.record_failure("g1", t0 + 300, "connection refused");
    store.record_not_modified("arl", t0 + 3000);
    // Within the grace: the old index answers.
    pki.verify(&leaf, &store, AT + Duration::from_secs(1800))
        .unwrap();
    let err = no_crl_detail(
        pki.verify(&leaf, &store, AT + Duration::from_secs(3601))
            .unwrap_err(),
    );
    assert!(
        err.contains("CRL of 'CN=KMN Live Issuing G1, O=KMN Strict Test, C=JP' unreachable since 2030-06-01T00:05:00Z at g1 (last fetched 2030-06-01T00:00:00Z, grace 3600 s): connection refused"),
        "{err}"
    );
    // The age and the failure are reported per source.
    let snap = store.snapshot();
    let g1 = snap.sources().iter().find(|s| s.source == "g1").unwrap();
    assert_eq!(
        g1.describe(t0 + 1800),
        "g1: cRLNumber 01, 0 revoked, fetched 1800 s ago, nextUpdate 2031-01-01T00:00:00Z; failing since 2030-06-01T00:05:00Z: connection refused"
    );
    // A source simply not refetched fails closed too.
    let err = no_crl_detail(
        pki.verify(&leaf, &store, AT + Duration::from_secs(6700))
            .unwrap_err(),
    );
    assert!(err.contains("CRL of 'CN=KMN Live Root, O=KMN Strict Test, C=JP' not fetched at arl (last fetched 2030-06-01T00:50:00Z, grace 3600 s)"), "{err}");
    // A 304 counts as a successful fetch.
    store.record_not_modified("g1", t0 + 3600);
    pki.verify(&leaf, &store, AT + Duration::from_secs(3700))
        .unwrap();
    // A revoked certificate stays revoked, stale or not.
    let bad = pki.leaf(&pki.g1, &[]);
    store
        .install(
            "g1",
            pki.index(&pki.g1, 2, &[], &[serial_of(&bad)]),
            None,
            t0,
        )
        .unwrap();
    store.record_not_modified("arl", t0 + 89_000);
    let err = pki
        .verify(&bad, &store, AT + Duration::from_secs(90_000))
        .unwrap_err();
    assert!(matches!(err, VerifyError::Revoked { .. }), "{err}");
}

#[test]
fn issue11_missing_partition_fails_closed() {
    let pki = Pki::new();
    let p1 = "http://kmn.example.jp/repo/kmn-issuing-g1-p1.crl";
    let p2 = "http://kmn.example.jp/repo/kmn-issuing-g1-p2.crl";
    let in_p1 = pki.leaf(&pki.g1, &[crl_dp(p1)]);
    let in_p2 = pki.leaf(&pki.g1, &[crl_dp(p2)]);
    let no_dp = pki.leaf(&pki.g1, &[]);
    let store = RevocationStore::new(RevocationConfig::default());
    let at = AT.unix_timestamp();
    store
        .install("arl", pki.index(&pki.root, 1, &[], &[]), None, at)
        .unwrap();
    store
        .install(p1, pki.index(&pki.g1, 1, &[idp(p1)], &[]), None, at)
        .unwrap();

    pki.verify(&in_p1, &store, AT).unwrap();
    let err = no_crl_detail(pki.verify(&in_p2, &store, AT).unwrap_err());
    assert!(
        err.contains(
            "no CRL of 'CN=KMN Live Issuing G1, O=KMN Strict Test, C=JP' covers its partition"
        ),
        "{err}"
    );
    assert!(err.contains(p2) && err.contains(p1), "{err}");
    // A certificate without a distribution point is covered by no partition CRL either.
    no_crl_detail(pki.verify(&no_dp, &store, AT).unwrap_err());

    // Once p2's CRL is there, its revocations count.
    store
        .install(
            p2,
            pki.index(&pki.g1, 1, &[idp(p2)], &[serial_of(&in_p2)]),
            None,
            at,
        )
        .unwrap();
    let err = pki.verify(&in_p2, &store, AT).unwrap_err();
    assert!(matches!(err, VerifyError::Revoked { .. }), "{err}");
    pki.verify(&in_p1, &store, AT).unwrap();
}

#[test]
fn issue11_rollover_g1_and_g2_both_trusted() {
    let pki = Pki::new();
    let a = pki.leaf(&pki.g1, &[]);
    let b = pki.leaf(&pki.g2, &[]);
    let store = pki.store(RevocationConfig::default());
    pki.verify(&a, &store, AT).unwrap();
    pki.verify(&b, &store, AT).unwrap();
    // Each certificate against its own issuer's CRL: G1's CRL listing G2's serial revokes
    // nothing under G2.
    store
        .install(
            "g1",
            pki.index(&pki.g1, 2, &[], &[serial_of(&b)]),
            None,
            AT.unix_timestamp(),
        )
        .unwrap();
    pki.verify(&b, &store, AT).unwrap();
    store
        .install(
            "g2",
            pki.index(&pki.g2, 2, &[], &[serial_of(&b)]),
            None,
            AT.unix_timestamp(),
        )
        .unwrap();
    assert!(matches!(
        pki.verify(&b, &store, AT).unwrap_err(),
        VerifyError::Revoked { .. }
    ));
    // Without G2's CRL, G2's certificates fail closed while G1's still pass.
    let only_g1 = RevocationStore::new(RevocationConfig::default());
    let at = AT.unix_timestamp();
    only_g1
        .install("arl", pki.index(&pki.root, 1, &[], &[]), None, at)
        .unwrap();
    only_g1
        .install("g1", pki.index(&pki.g1, 1, &[], &[]), None, at)
        .unwrap();
    only_g1.add_source("g2");
    only_g1.record_failure("g2", at, "HTTP 404");
    pki.verify(&a, &only_g1, AT).unwrap();
    let err = no_crl_detail(pki.verify(&b, &only_g1, AT).unwrap_err());
    assert!(
        err.contains(
            "no CRL of 'CN=KMN Live Issuing G2, O=KMN Strict Test, C=JP' (with its key) is loaded"
        ),
        "{err}"
    );
    assert!(
        err.contains("g2 never loaded (failing since 2030-06-01T00:00:00Z): HTTP 404"),
        "{err}"
    );
}

#[test]
fn issue11_crl_of_another_key_with_the_same_name_is_not_used() {
    let pki = Pki::new();
    let leaf = pki.leaf(&pki.g1, &[]);
    // An impostor G1 (same name, another key) whose CRL says nothing is revoked.
    let fake_key = Key::new();
    let fake = Tbs::ca(G1).sign(&fake_key, None);
    let idx = RevocationIndex::build(&crl(G1, &fake_key, Some(9), &[], &[]), &[fake]).unwrap();
    let store = RevocationStore::new(RevocationConfig::default());
    let at = AT.unix_timestamp();
    store
        .install("arl", pki.index(&pki.root, 1, &[], &[]), None, at)
        .unwrap();
    store.install("g1", idx, None, at).unwrap();
    let err = no_crl_detail(pki.verify(&leaf, &store, AT).unwrap_err());
    assert!(err.contains("(with its key) is loaded"), "{err}");
}

#[test]
fn issue11_index_refuses_unverified_or_unusable_crls() {
    let pki = Pki::new();
    let issuers = pki.issuers();
    // Signed by another key.
    let other = Key::new();
    let e = RevocationIndex::build(&crl(G1, &other, Some(1), &[], &[]), &issuers).unwrap_err();
    assert!(
        e.to_string()
            .contains("its signature does not verify with the key of 'CN=KMN Live Issuing G1"),
        "{e}"
    );
    // No cRLNumber.
    let e = RevocationIndex::build(&crl(G1, &pki.g1.key, None, &[], &[]), &issuers).unwrap_err();
    assert!(e.to_string().contains("no cRLNumber"), "{e}");
    // No issuer certificate given.
    let e = RevocationIndex::build(&crl(G1, &pki.g1.key, Some(1), &[], &[]), &[]).unwrap_err();
    assert!(
        e.to_string()
            .contains("no certificate of its issuer was given"),
        "{e}"
    );
    // Hostile bytes: an error, never a panic.
    let good = crl(G1, &pki.g1.key, Some(1), &[], &[1, 2, 3]);
    for cut in [0, 1, 2, 10, good.len() / 2, good.len() - 1] {
        assert!(RevocationIndex::build(&good[..cut], &issuers).is_err());
    }
    for i in (0..good.len()).step_by(7) {
        let mut bad = good.clone();
        bad[i] ^= 0x41;
        let _ = RevocationIndex::build(&bad, &issuers);
    }
}

#[test]
fn issue11_crl_number_never_goes_back() {
    let pki = Pki::new();
    let store = pki.store(RevocationConfig::default());
    let at = AT.unix_timestamp();
    store
        .install("g1", pki.index(&pki.g1, 5, &[], &[]), None, at)
        .unwrap();
    let err = store
        .install("g1", pki.index(&pki.g1, 4, &[], &[]), None, at)
        .unwrap_err();
    assert!(
        err.contains("has cRLNumber 04 below the one held (05)"),
        "{err}"
    );
    let snap = store.snapshot();
    let g1 = snap.sources().iter().find(|s| s.source == "g1").unwrap();
    assert_eq!(g1.index.as_ref().unwrap().crl_number(), &[5]);
}

#[test]
fn issue11_reload_swaps_a_snapshot_without_disturbing_readers() {
    let pki = Pki::new();
    let leaf = pki.leaf(&pki.g1, &[]);
    let store = Arc::new(pki.store(RevocationConfig::default()));
    let before = store.snapshot();
    // A reader holding the old snapshot keeps its answer while a new CRL is installed.
    let idx = pki.index(&pki.g1, 2, &[], &[serial_of(&leaf)]);
    store.install("g1", idx, None, AT.unix_timestamp()).unwrap();
    let roots = [pki.root.cert.clone()];
    let o = VerifyOptions::new(AT);
    verify_with_index(&leaf, &roots, &pki.intermediates(), &before, &o).unwrap();
    assert!(verify_with_index(&leaf, &roots, &pki.intermediates(), &store.snapshot(), &o).is_err());
    // Concurrent readers and a writer: no reader ever sees a half-installed state.
    let writer = {
        let store = Arc::clone(&store);
        let idxs: Vec<_> = (3..23)
            .map(|n| pki.index(&pki.g1, n, &[], &[serial_of(&leaf)]))
            .collect();
        std::thread::spawn(move || {
            for idx in idxs {
                store.install("g1", idx, None, AT.unix_timestamp()).unwrap();
            }
        })
    };
    for _ in 0..50 {
        let err = verify_with_index(&leaf, &roots, &pki.intermediates(), &store.snapshot(), &o)
            .unwrap_err();
        assert!(matches!(err, VerifyError::Revoked { .. }), "{err}");
    }
    writer.join().unwrap();
}

/// Hostile input never panics: every truncation and every one-octet change of a real CRL
/// (tests/data, made by OpenSSL) given to the index builder is an error, never a panic and,
/// but for the one octet below, never an index.
#[test]
fn issue11_index_build_on_hostile_bytes() {
    let crl = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/inter.crl.der"
    ))
    .unwrap();
    let issuers = kmn_verify::load_pem_or_der_bundle(include_bytes!("data/inter.pem")).unwrap();
    let ok = RevocationIndex::build(&crl, &issuers);
    assert!(ok.is_ok(), "{ok:?}");
    for cut in 0..crl.len() {
        assert!(RevocationIndex::build(&crl[..cut], &issuers).is_err());
    }
    // The signature BIT STRING's unused-bits octet (226 here): the parser takes the
    // contents as octets whatever the count says (a malleable encoding of the same signed
    // CRL, not a forgery; noted in docs/VERIFY.md). Every other change is refused.
    let unused_bits_octet = 226;
    for i in 0..crl.len() {
        for flip in [0x01u8, 0x80, 0xff] {
            let mut bad = crl.clone();
            bad[i] ^= flip;
            let r = RevocationIndex::build(&bad, &issuers);
            if i != unused_bits_octet {
                assert!(r.is_err(), "octet {i} ^ {flip:#x}");
            }
        }
    }
}

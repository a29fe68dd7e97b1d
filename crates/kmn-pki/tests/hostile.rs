//! Hostile input never panics (issue 8 item 4).
//!
//! Every file of the corpus in `tests/hostile/` (repository root) is fed to every reader
//! of untrusted DER/PEM in kmn-pki and kmn-verify, each call inside `catch_unwind`; a
//! panic fails the test and names the file and the reader. Readers of whole structures
//! (CSR, certificate, CRL) must also answer with an error. Truncations and single-octet
//! corruptions of valid samples are replayed the same way.
//!
//! The corpus is committed (the fuzz targets under `fuzz/` use it as their seeds) and is
//! written by `write_hostile_corpus` below, which is ignored by default:
//! `cargo test -p kmn-pki --test hostile -- --ignored write_hostile_corpus`.
//! Files added by hand or by the fuzzer (minimised crashes) are replayed too.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

use kmn_pki::derw::{self, tag};
use kmn_pki::keys::{KeyAlgorithm, Signer, SoftwareKey};
use kmn_pki::{csr, derr, ext, lint, name, oid, parse};

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/hostile")
}

// ---------------------------------------------------------------------------------------
// The readers.
// ---------------------------------------------------------------------------------------

/// What the CA does with a CSR before it signs anything: parse and verify, then read
/// the subject for the profile and check the key.
fn read_csr(b: &[u8]) -> Result<(), String> {
    let v = csr::parse_and_verify(b).map_err(|e| e.to_string())?;
    name::DistinguishedName::from_der_for_profile(&v.subject_der).map_err(|e| e.to_string())?;
    lint::lint_key(&v.spki_der).map_err(|e| e.to_string())?;
    ext::key_identifier(&v.spki_der).map_err(|e| e.to_string())?;
    Ok(())
}

/// What `kmn` does with a certificate file it is given (PEM or DER).
fn read_cert(b: &[u8]) -> Result<(), String> {
    let der = kmn_pki::cert::pem_or_der(b, "CERTIFICATE").map_err(|e| e.to_string())?;
    let c = parse::cert(&der).map_err(|e| e.to_string())?;
    parse::key_info(c.tbs.spki).map_err(|e| e.to_string())?;
    parse::name_attributes(c.tbs.subject).map_err(|e| e.to_string())?;
    parse::name_attributes(c.tbs.issuer).map_err(|e| e.to_string())?;
    let _ = c.tbs.serial_hex();
    let _ = c.tbs.subject_text();
    kmn_pki::cert::IssuerInfo::from_cert(&der, kmn_pki::keys::SignatureAlgorithm::EcdsaSha256)
        .map_err(|e| e.to_string())?;
    Ok(())
}

/// The pieces of a certificate the lints read, on their own.
fn read_cert_parts(b: &[u8]) -> Result<(), String> {
    let t = parse::tbs(b).map(|_| ()).map_err(|e| e.to_string());
    let k = parse::key_info(b).map(|_| ()).map_err(|e| e.to_string());
    let n = parse::name_attributes(b)
        .map(|_| ())
        .map_err(|e| e.to_string());
    let d = name::DistinguishedName::from_der_for_profile(b)
        .map(|_| ())
        .map_err(|e| e.to_string());
    let _ = name::display_name_der(b);
    let l = lint::lint_key(b).map_err(|e| e.to_string());
    let i = ext::key_identifier(b)
        .map(|_| ())
        .map_err(|e| e.to_string());
    t.and(k).and(n).and(d).and(l).and(i)
}

/// kmn-pki's DER reader, walking every constructed element (iteratively, so that a deep
/// nesting tests the reader and not this walk) and decoding every OID.
fn read_der_pki(b: &[u8]) -> Result<(), String> {
    let mut stack = vec![b];
    while let Some(content) = stack.pop() {
        for t in derr::children(content).map_err(|e| e.to_string())? {
            if t.tag == tag::OID {
                derr::oid_to_string(t.content).map_err(|e| e.to_string())?;
            } else if t.tag & 0x20 != 0 {
                stack.push(t.content);
            }
        }
    }
    if b.is_empty() {
        return Err("empty".into());
    }
    Ok(())
}

/// kmn-pki's read-back of a published CRL (issue 9 item 7): the top-level fields and the
/// number, unchecked.
fn read_crl_pki(b: &[u8]) -> Result<(), String> {
    let _ = kmn_pki::crl::number_unchecked(b);
    let head = parse::crl(b).map_err(|e| e.to_string())?;
    head.number().map(|_| ()).map_err(|e| e.to_string())
}

/// The same with the signature checked against a CA key, as the publisher does.
fn read_crl_pki_checked(b: &[u8]) -> Result<(), String> {
    let inter = kmn_verify::load_pem_or_der_bundle(VERIFY_INTER).map_err(|e| e.to_string())?;
    let ca = inter.first().ok_or("no CA certificate")?;
    let c = parse::cert(ca).map_err(|e| e.to_string())?;
    kmn_pki::crl::read_back(b, c.tbs.spki)
        .map(|_| ())
        .map_err(|e| e.to_string())
}

/// kmn-pki's CMS SignedData reader and the audit checkpoint record (issue 9 item 6).
fn read_cms(b: &[u8]) -> Result<(), String> {
    let v = kmn_pki::cms::verify(b).map_err(|e| e.to_string())?;
    kmn_pki::checkpoint::AuditCheckpoint::from_der(&v.content).map_err(|e| e.to_string())?;
    Ok(())
}

fn read_cert_verify(b: &[u8]) -> Result<(), String> {
    kmn_verify::load_pem_or_der_bundle(b)
        .map(|_| ())
        .map_err(|e| e.to_string())
}

fn read_crl_verify(b: &[u8]) -> Result<(), String> {
    kmn_verify::load_crls(b)
        .map(|_| ())
        .map_err(|e| e.to_string())
}

fn verify_opts(revocation: bool) -> kmn_verify::VerifyOptions {
    let mut o = kmn_verify::VerifyOptions::new(time::macros::datetime!(2030-01-01 0:00 UTC));
    o.check_revocation = revocation;
    o
}

/// The input as leaf, as trust anchor, as intermediate, as CRL of a real chain.
fn verify_paths(b: &[u8]) -> Result<(), String> {
    let root = kmn_verify::load_pem_or_der_bundle(VERIFY_ROOT).map_err(|e| e.to_string())?;
    let inter = kmn_verify::load_pem_or_der_bundle(VERIFY_INTER).map_err(|e| e.to_string())?;
    let leaf = inter.first().cloned().unwrap_or_default();
    let hostile = vec![b.to_vec()];
    let as_leaf = kmn_verify::verify(b, &root, &[], &[], &verify_opts(false));
    let as_anchor = kmn_verify::verify(&leaf, &hostile, &[], &[], &verify_opts(false));
    let as_inter = kmn_verify::verify(&leaf, &root, &hostile, &[], &verify_opts(false));
    let as_crl = kmn_verify::verify(&leaf, &root, &[], &hostile, &verify_opts(true));
    let as_self = kmn_verify::verify(b, &hostile, &[], &hostile, &verify_opts(true));
    as_leaf
        .and(as_anchor)
        .and(as_inter)
        .and(as_crl)
        .and(as_self)
        .map(|_| ())
        .map_err(|e| e.to_string())
}

/// What the OCSP responder does with a request body (POST, or GET after base64): read
/// it, then match its CertID against an issuer.
fn read_ocsp_request(b: &[u8]) -> Result<(), String> {
    let r = kmn_pki::ocsp::parse_request(b).map_err(|e| e.to_string())?;
    let _ = r.cert_id.serial_hex();
    let root = first_der(VERIFY_ROOT);
    let issuer = kmn_pki::ocsp::IssuerHashes::from_cert(&root).map_err(|e| e.to_string())?;
    let _ = issuer.matches(&r.cert_id);
    Ok(())
}

/// An OCSP response read back (the evidence of a revocation, issue 10 item 6).
fn read_ocsp_response(b: &[u8]) -> Result<(), String> {
    kmn_pki::ocsp::parse_response(b)
        .map(|_| ())
        .map_err(|e| e.to_string())
}

/// A signed revocation receipt (第23条3, issue 10 item 6) as `kmn receipt verify` reads
/// it: the CMS SignedData, its eContentType, then the record.
fn read_receipt(b: &[u8]) -> Result<(), String> {
    let v = kmn_pki::cms::verify(b).map_err(|e| e.to_string())?;
    if !v.content_type_is(&oid::CT_REVOCATION_RECEIPT) {
        return Err("not a revocation receipt".into());
    }
    read_receipt_record(&v.content)
}

/// The receipt's record alone (docs/REVOCATION-RECEIPT.asn1).
fn read_receipt_record(b: &[u8]) -> Result<(), String> {
    kmn_pki::receipt::RevocationReceipt::from_der(b)
        .map(|r| {
            let _ = r.serial_hex();
        })
        .map_err(|e| e.to_string())
}

const VERIFY_ROOT: &[u8] = include_bytes!("../../kmn-verify/tests/data/root.pem");
const VERIFY_INTER: &[u8] = include_bytes!("../../kmn-verify/tests/data/inter.pem");
const VERIFY_CRL: &[u8] = include_bytes!("../../kmn-verify/tests/data/inter.crl.pem");

type Reader = fn(&[u8]) -> Result<(), String>;

/// One reader of untrusted bytes.
struct Entry {
    name: &'static str,
    read: Reader,
    /// It reads a whole structure, so no proper prefix of a valid one is acceptable.
    whole: bool,
    /// Corpus directories whose every file it must refuse (the parse-only readers accept
    /// what is well formed at their level, e.g. a name value of an unusual string type).
    refuses: &'static [&'static str],
}

const READERS: &[Entry] = &[
    Entry {
        name: "kmn_pki CSR (parse_and_verify + subject + key)",
        read: read_csr,
        whole: true,
        refuses: &["csr/"],
    },
    Entry {
        name: "kmn_pki certificate (pem_or_der + parse::cert)",
        read: read_cert,
        whole: true,
        refuses: &[],
    },
    Entry {
        name: "kmn_pki certificate parts (tbs, key_info, names)",
        read: read_cert_parts,
        whole: false,
        refuses: &[],
    },
    Entry {
        name: "kmn_pki DER reader (derr)",
        read: read_der_pki,
        whole: false,
        refuses: &["der/"],
    },
    Entry {
        name: "kmn_pki CRL read-back (parse::crl, number)",
        read: read_crl_pki,
        whole: true,
        refuses: &[],
    },
    Entry {
        name: "kmn_pki CRL read-back with the signature (crl::read_back)",
        read: read_crl_pki_checked,
        whole: true,
        refuses: &["csr/", "cert/", "crl/", "der/"],
    },
    Entry {
        name: "kmn_pki CMS SignedData + audit checkpoint",
        read: read_cms,
        whole: true,
        refuses: &["csr/", "cert/", "crl/", "der/"],
    },
    Entry {
        name: "kmn_verify certificate bundle (PEM/DER)",
        read: read_cert_verify,
        whole: true,
        refuses: &[],
    },
    Entry {
        name: "kmn_verify CRL list (PEM/DER)",
        read: read_crl_verify,
        whole: true,
        refuses: &["crl/"],
    },
    Entry {
        name: "kmn_verify path validation",
        read: verify_paths,
        whole: true,
        refuses: &["csr/", "cert/", "crl/", "der/"],
    },
    Entry {
        name: "kmn_pki OCSP request (parse_request + issuer match)",
        read: read_ocsp_request,
        whole: true,
        refuses: &["ocsp/", "csr/", "cert/", "crl/", "der/"],
    },
    Entry {
        name: "kmn_pki OCSP response (parse_response)",
        read: read_ocsp_response,
        whole: true,
        refuses: &["ocsp/", "csr/", "cert/", "crl/", "der/"],
    },
    Entry {
        name: "kmn_pki revocation receipt (cms::verify + eContentType + record)",
        read: read_receipt,
        whole: true,
        refuses: &["receipt/", "ocsp/", "csr/", "cert/", "crl/", "der/"],
    },
    Entry {
        name: "kmn_pki revocation receipt record (RevocationReceipt::from_der)",
        read: read_receipt_record,
        whole: true,
        // Not `receipt/unsigned-record.der`: a valid record (which the CMS reader refuses).
        refuses: &[
            "receipt/record-",
            "receipt/empty",
            "receipt/signed-",
            "receipt/nested-",
            "ocsp/",
            "csr/",
            "cert/",
            "crl/",
            "der/",
        ],
    },
];

/// A valid receipt record (unsigned).
fn receipt_record() -> kmn_pki::receipt::RevocationReceipt {
    use time::macros::datetime;
    kmn_pki::receipt::RevocationReceipt {
        issuer: subject(),
        serial: vec![0x5f, 0x3c, 0x0a, 0x9d],
        reason: kmn_domain::RevocationReason::KeyCompromise,
        grounds: "emergency:lost".into(),
        article: Some("第11条".into()),
        channel: "desk".into(),
        requested_by: "A000003".into(),
        request_received_at: datetime!(2026-12-07 03:00:01 UTC),
        revoked_at: datetime!(2026-12-07 03:00:02 UTC),
        invalidity_date: Some(datetime!(2026-12-06 23:00:00 UTC)),
        first_crl: kmn_pki::receipt::FirstCrl {
            number: 7,
            this_update: datetime!(2026-12-07 03:00:02 UTC),
            published_at: datetime!(2026-12-07 03:00:03 UTC),
            sha256: [0x11; 32],
        },
        first_ocsp_at: Some(datetime!(2026-12-07 03:00:02 UTC)),
        issued_at: datetime!(2026-12-07 03:10:00 UTC),
    }
}

fn panic_text(p: &(dyn std::any::Any + Send)) -> String {
    p.downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(non-text panic)".into())
}

/// What must be refused.
#[derive(Clone, Copy)]
enum Expect<'a> {
    /// A corpus file in this directory.
    CorpusFile(&'a str),
    /// A proper prefix of a valid structure.
    Truncated,
    /// Anything else: only no panic.
    NoPanic,
}

/// Feeds `input` to every reader; records the failures (panics, and acceptances where
/// an error is required).
fn feed(label: &str, input: &[u8], expect: Expect<'_>, failures: &mut Vec<String>) {
    for r in READERS {
        let must_refuse = match expect {
            Expect::CorpusFile(dir) => r.refuses.iter().any(|d| dir.starts_with(d)),
            Expect::Truncated => r.whole,
            Expect::NoPanic => false,
        };
        match catch_unwind(AssertUnwindSafe(|| (r.read)(input))) {
            Err(p) => failures.push(format!("{label}: {} PANICKED: {}", r.name, panic_text(&*p))),
            Ok(Ok(())) if must_refuse => failures.push(format!("{label}: {} accepted it", r.name)),
            Ok(_) => {}
        }
    }
}

fn corpus_files() -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut dirs = vec![corpus_dir()];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(&d).unwrap_or_else(|e| panic!("{}: {e}", d.display())) {
            let p = e.unwrap().path();
            if p.is_dir() {
                dirs.push(p);
            } else if p.file_name().is_some_and(|n| n != "README.md") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

fn quiet_panics<T>(f: impl FnOnce() -> T) -> T {
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let r = f();
    std::panic::set_hook(hook);
    r
}

#[test]
fn issue8_hostile_corpus_is_refused_by_every_reader_without_a_panic() {
    let files = corpus_files();
    assert!(
        files.len() >= 40,
        "the corpus is missing: {}",
        corpus_dir().display()
    );
    let mut failures = Vec::new();
    quiet_panics(|| {
        for p in &files {
            let bytes = std::fs::read(p).unwrap();
            let label = p
                .strip_prefix(corpus_dir())
                .unwrap_or(p)
                .display()
                .to_string();
            feed(&label, &bytes, Expect::CorpusFile(&label), &mut failures);
        }
    });
    assert!(
        failures.is_empty(),
        "{} failure(s):\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn issue8_truncated_and_corrupted_samples_never_panic() {
    let (k, _) = SoftwareKey::generate(KeyAlgorithm::P256).unwrap();
    let mut dn = name::DistinguishedName::default();
    dn.push(oid::AT_COUNTRY, "JP").unwrap();
    dn.push(oid::AT_COMMON_NAME, "Hostile Taro").unwrap();
    let samples: Vec<(&str, Vec<u8>)> = vec![
        ("valid CSR", csr::build(&dn.to_der(), &k).unwrap()),
        (
            "PSS CSR",
            pss_csr(&pss_params(&derw::oid(&oid::SHA256), 32)).0,
        ),
        ("kmn-verify root", first_der(VERIFY_ROOT)),
        (
            "OCSP request",
            ocsp_request(&[ocsp_single(&[0x01, 0x02])], true),
        ),
        ("kmn-verify CRL", first_der(VERIFY_CRL)),
        ("revocation receipt record", receipt_record().to_der()),
    ];
    let mut failures = Vec::new();
    quiet_panics(|| {
        for (name, der) in &samples {
            for n in 0..der.len() {
                let cut = der.get(..n).unwrap();
                feed(
                    &format!("{name} truncated to {n}"),
                    cut,
                    Expect::Truncated,
                    &mut failures,
                );
            }
            for i in 0..der.len() {
                for v in [0x00u8, 0x80, 0xff] {
                    let mut m = der.clone();
                    m[i] = v;
                    feed(
                        &format!("{name} octet {i} = {v:#04x}"),
                        &m,
                        Expect::NoPanic,
                        &mut failures,
                    );
                }
            }
        }
    });
    assert!(
        failures.is_empty(),
        "{} failure(s):\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Every file the generator writes is in the committed corpus (so nobody loses a case by
/// regenerating or by deleting one by mistake).
#[test]
fn issue8_hostile_corpus_holds_every_generated_case() {
    let missing: Vec<String> = corpus()
        .into_iter()
        .map(|(n, _)| n)
        .filter(|n| !corpus_dir().join(n).is_file())
        .collect();
    assert!(
        missing.is_empty(),
        "not in tests/hostile: {missing:?} (run write_hostile_corpus)"
    );
}

#[test]
#[ignore = "writes the corpus files; run by hand after adding a case"]
fn write_hostile_corpus() {
    for (n, bytes) in corpus() {
        let p = corpus_dir().join(&n);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, bytes).unwrap();
    }
}

fn sha1_alg() -> Vec<u8> {
    seq(&[&derw::oid(&const_oid::ObjectIdentifier::new_unwrap(
        "1.3.14.3.2.26",
    ))])
}

/// A CertID with `hash_len`-octet issuer hashes.
fn ocsp_cert_id(alg: &[u8], hash_len: usize, serial: &[u8]) -> Vec<u8> {
    seq(&[
        alg,
        &derw::octets(&vec![0x11; hash_len]),
        &derw::octets(&vec![0x22; hash_len]),
        serial,
    ])
}

/// One Request (a SHA-1 CertID for `serial`).
fn ocsp_single(serial: &[u8]) -> Vec<u8> {
    seq(&[&ocsp_cert_id(&sha1_alg(), 20, &derw::uint(serial))])
}

/// An OCSPRequest holding `requests`, with a nonce extension when asked.
fn ocsp_request(requests: &[Vec<u8>], nonce: bool) -> Vec<u8> {
    let refs: Vec<&[u8]> = requests.iter().map(|r| r.as_slice()).collect();
    let list = seq(&refs);
    let tbs = if nonce {
        let ext = seq(&[
            &derw::oid(&const_oid::ObjectIdentifier::new_unwrap(
                "1.3.6.1.5.5.7.48.1.2",
            )),
            &derw::octets(&derw::octets(&[7; 16])),
        ]);
        seq(&[&list, &derw::explicit(2, &seq(&[&ext]))])
    } else {
        seq(&[&list])
    };
    seq(&[&tbs])
}

fn first_der(pem: &[u8]) -> Vec<u8> {
    kmn_verify::load_pem_or_der_bundle(pem)
        .or_else(|_| kmn_verify::load_crls(pem))
        .unwrap()
        .remove(0)
}

// ---------------------------------------------------------------------------------------
// The generator.
// ---------------------------------------------------------------------------------------

fn t(tg: u8, content: &[u8]) -> Vec<u8> {
    derw::tlv(tg, content)
}

fn seq(parts: &[&[u8]]) -> Vec<u8> {
    derw::seq(parts)
}

/// `depth` SEQUENCEs, one inside the other, around `core` (long-form lengths included).
fn nested(depth: usize, core: &[u8]) -> Vec<u8> {
    let mut v = core.to_vec();
    for _ in 0..depth {
        v = seq(&[&v]);
    }
    v
}

/// Deterministic bytes (xorshift), so that regenerating does not churn the garbage files.
fn garbage(seed: u64, n: usize) -> Vec<u8> {
    let mut x = seed | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

fn pem(label: &str, der: &[u8]) -> Vec<u8> {
    kmn_pki::cert::pem_encode(label, der).into_bytes()
}

fn subject() -> Vec<u8> {
    let mut dn = name::DistinguishedName::default();
    dn.push(oid::AT_COUNTRY, "JP").unwrap();
    dn.push(oid::AT_COMMON_NAME, "Hostile Taro").unwrap();
    dn.to_der()
}

fn ec_alg() -> Vec<u8> {
    seq(&[&derw::oid(&oid::EC_PUBLIC_KEY), &derw::oid(&oid::SECP256R1)])
}

fn ecdsa_sha256() -> Vec<u8> {
    seq(&[&derw::oid(&oid::ECDSA_WITH_SHA256)])
}

/// A CSR around a CertificationRequestInfo, with any algorithm and signature.
fn csr_with(info: &[u8], alg: &[u8], sig: &[u8]) -> Vec<u8> {
    seq(&[info, alg, sig])
}

fn info_with(spki: &[u8], attrs: &[u8]) -> Vec<u8> {
    seq(&[&derw::uint_u64(0), &subject(), spki, attrs])
}

fn no_attrs() -> Vec<u8> {
    derw::implicit_cons(0, &[])
}

/// A CSR signed correctly by a P-256 key, whose CertificationRequestInfo has these
/// attributes (what the CA reads after the signature check).
fn signed_csr_with_attrs(attrs_content: &[u8]) -> Vec<u8> {
    signed_csr(&subject(), attrs_content)
}

fn signed_csr(subject_der: &[u8], attrs_content: &[u8]) -> Vec<u8> {
    let (k, _) = SoftwareKey::generate(KeyAlgorithm::P256).unwrap();
    let info = seq(&[
        &derw::uint_u64(0),
        subject_der,
        k.spki_der(),
        &derw::implicit_cons(0, attrs_content),
    ]);
    let sig = k.sign(&info).unwrap();
    csr_with(
        &info,
        &k.signature_algorithm().algorithm_identifier(),
        &derw::bits(&sig),
    )
}

/// extensionRequest attribute holding these Extension encodings.
fn ext_request(exts: &[&[u8]]) -> Vec<u8> {
    seq(&[
        &derw::oid(&oid::PKCS9_EXTENSION_REQUEST),
        &derw::constructed(tag::SET, &[&seq(exts)]),
    ])
}

fn san(names: &[&[u8]]) -> Vec<u8> {
    ext::extension(&oid::EXT_SUBJECT_ALT_NAME, false, &seq(names))
}

fn pss_params(hash_oid_der: &[u8], salt: u64) -> Vec<u8> {
    let hash = seq(&[hash_oid_der]);
    let mgf = seq(&[&derw::oid(&oid::MGF1), &hash]);
    seq(&[
        &derw::explicit(0, &hash),
        &derw::explicit(1, &mgf),
        &derw::explicit(2, &derw::uint_u64(salt)),
    ])
}

/// A CSR with an RSA key and RSASSA-PSS `params` (the signature is garbage: the
/// parameters are read before it is checked). Also returns the RSA SPKI.
fn pss_csr(params: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let (k, _) = SoftwareKey::generate(KeyAlgorithm::Rsa2048).unwrap();
    let spki = k.spki_der().to_vec();
    let info = info_with(&spki, &no_attrs());
    let alg = seq(&[&derw::oid(&oid::RSASSA_PSS), params]);
    (csr_with(&info, &alg, &derw::bits(&[0x5a; 256])), spki)
}

/// An EC SPKI with this BIT STRING encoding of the key.
fn ec_spki(bit_string: &[u8]) -> Vec<u8> {
    seq(&[&ec_alg(), bit_string])
}

fn ec_csr(spki: &[u8]) -> Vec<u8> {
    csr_with(
        &info_with(spki, &no_attrs()),
        &ecdsa_sha256(),
        &derw::bits(&[0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01]),
    )
}

fn utc(s: &str) -> Vec<u8> {
    t(tag::UTC_TIME, s.as_bytes())
}

/// A certificate around TBS fields (version, serial, alg, issuer, validity, subject, spki,
/// extensions), each given as its encoding; the signature is garbage.
fn cert_with(fields: &[&[u8]]) -> Vec<u8> {
    let tbs = seq(fields);
    seq(&[&tbs, &ecdsa_sha256(), &derw::bits(&[1, 2, 3])])
}

struct CertParts {
    version: Vec<u8>,
    serial: Vec<u8>,
    alg: Vec<u8>,
    issuer: Vec<u8>,
    validity: Vec<u8>,
    subject: Vec<u8>,
    spki: Vec<u8>,
    exts: Vec<u8>,
}

fn good_parts() -> CertParts {
    let (k, _) = SoftwareKey::generate(KeyAlgorithm::P256).unwrap();
    CertParts {
        version: derw::explicit(0, &derw::uint_u64(2)),
        serial: derw::uint_u64(0x1234),
        alg: ecdsa_sha256(),
        issuer: subject(),
        validity: seq(&[&utc("250101000000Z"), &utc("350101000000Z")]),
        subject: subject(),
        spki: k.spki_der().to_vec(),
        exts: derw::explicit(
            3,
            &seq(&[&ext::extension(
                &oid::EXT_BASIC_CONSTRAINTS,
                true,
                &seq(&[&derw::boolean(true)]),
            )]),
        ),
    }
}

impl CertParts {
    fn build(&self) -> Vec<u8> {
        cert_with(&[
            &self.version,
            &self.serial,
            &self.alg,
            &self.issuer,
            &self.validity,
            &self.subject,
            &self.spki,
            &self.exts,
        ])
    }
}

fn cert_case(f: impl FnOnce(&mut CertParts)) -> Vec<u8> {
    let mut p = good_parts();
    f(&mut p);
    p.build()
}

fn one_ext(e: &[u8]) -> Vec<u8> {
    derw::explicit(3, &seq(&[e]))
}

/// A v2 CRL: version, alg, issuer, thisUpdate, nextUpdate, revoked, extensions.
fn crl_with(fields: &[&[u8]]) -> Vec<u8> {
    seq(&[&seq(fields), &ecdsa_sha256(), &derw::bits(&[1, 2, 3])])
}

fn crl_case(revoked: &[u8], exts: &[u8]) -> Vec<u8> {
    crl_with(&[
        &derw::uint_u64(1),
        &ecdsa_sha256(),
        &subject(),
        &utc("250101000000Z"),
        &utc("250102000000Z"),
        revoked,
        exts,
    ])
}

fn entry(serial: &[u8], when: &[u8], exts: &[&[u8]]) -> Vec<u8> {
    if exts.is_empty() {
        seq(&[serial, when])
    } else {
        seq(&[serial, when, &seq(exts)])
    }
}

fn crl_ext(o: &const_oid::ObjectIdentifier, critical: bool, v: &[u8]) -> Vec<u8> {
    derw::explicit(0, &seq(&[&ext::extension(o, critical, v)]))
}

/// The corpus: (path under tests/hostile, bytes).
fn corpus() -> Vec<(String, Vec<u8>)> {
    let mut c: Vec<(&str, Vec<u8>)> = Vec::new();

    // ---- CSRs --------------------------------------------------------------------------
    // The two of the issue: an EC key whose BIT STRING is empty (csr.rs:137), and
    // RSASSA-PSS parameters [0] SEQUENCE {} (csr.rs:189).
    c.push((
        "csr/issue8-ec-key-bit-string-empty.der",
        ec_csr(&ec_spki(&[0x03, 0x00])),
    ));
    let empty_hash = seq(&[&derw::explicit(0, &seq(&[]))]);
    c.push((
        "csr/issue8-rsa-pss-hash-empty-sequence.der",
        pss_csr(&empty_hash).0,
    ));
    c.push((
        "csr/issue8-ec-key-bit-string-empty.pem",
        pem("CERTIFICATE REQUEST", &ec_csr(&ec_spki(&[0x03, 0x00]))),
    ));
    c.push((
        "csr/ec-key-only-unused-bits-octet.der",
        ec_csr(&ec_spki(&[0x03, 0x01, 0x00])),
    ));
    c.push((
        "csr/ec-key-unused-bits-7.der",
        ec_csr(&ec_spki(&[0x03, 0x02, 0x07, 0x04])),
    ));
    c.push((
        "csr/ec-key-not-a-point.der",
        ec_csr(&ec_spki(&derw::bits(&[0x04, 1, 2, 3]))),
    ));
    c.push((
        "csr/ec-key-without-curve.der",
        ec_csr(&seq(&[
            &seq(&[&derw::oid(&oid::EC_PUBLIC_KEY)]),
            &derw::bits(&[4; 65]),
        ])),
    ));
    c.push((
        "csr/spki-algorithm-empty.der",
        ec_csr(&seq(&[&seq(&[]), &derw::bits(&[4; 65])])),
    ));
    c.push(("csr/spki-one-field.der", ec_csr(&seq(&[&ec_alg()]))));
    c.push(("csr/spki-empty.der", ec_csr(&seq(&[]))));
    c.push((
        "csr/spki-oid-empty.der",
        ec_csr(&seq(&[&seq(&[&t(tag::OID, &[])]), &derw::bits(&[4; 65])])),
    ));
    c.push((
        "csr/spki-oid-arc-overflow.der",
        ec_csr(&seq(&[
            &seq(&[&t(tag::OID, &[0xff; 40])]),
            &derw::bits(&[4; 65]),
        ])),
    ));
    let rsa_spki = |rsa_key: &[u8]| {
        seq(&[
            &seq(&[&derw::oid(&oid::RSA_ENCRYPTION), &derw::null()]),
            &derw::bits(rsa_key),
        ])
    };
    let rsa_csr = |spki: &[u8]| {
        csr_with(
            &info_with(spki, &no_attrs()),
            &seq(&[&derw::oid(&oid::SHA256_WITH_RSA), &derw::null()]),
            &derw::bits(&[0; 256]),
        )
    };
    c.push((
        "csr/rsa-key-bit-string-empty.der",
        rsa_csr(&seq(&[
            &seq(&[&derw::oid(&oid::RSA_ENCRYPTION), &derw::null()]),
            &[0x03, 0x00],
        ])),
    ));
    c.push((
        "csr/rsa-key-empty-integers.der",
        rsa_csr(&rsa_spki(&seq(&[
            &t(tag::INTEGER, &[]),
            &t(tag::INTEGER, &[]),
        ]))),
    ));
    c.push((
        "csr/rsa-key-modulus-only-zero.der",
        rsa_csr(&rsa_spki(&seq(&[
            &t(tag::INTEGER, &[0]),
            &derw::uint_u64(65537),
        ]))),
    ));
    c.push((
        "csr/rsa-key-one-integer.der",
        rsa_csr(&rsa_spki(&seq(&[&derw::uint_u64(65537)]))),
    ));
    c.push((
        "csr/rsa-key-not-a-sequence.der",
        rsa_csr(&rsa_spki(&[0x04, 0x00])),
    ));
    c.push((
        "csr/rsa-key-huge-exponent.der",
        rsa_csr(&rsa_spki(&seq(&[
            &derw::uint(&[0xc5; 256]),
            &derw::uint(&[0xff; 300]),
        ]))),
    ));
    // RSASSA-PSS parameters.
    let sha256 = derw::oid(&oid::SHA256);
    c.push(("csr/rsa-pss-no-parameters.der", {
        let (k, _) = SoftwareKey::generate(KeyAlgorithm::Rsa2048).unwrap();
        csr_with(
            &info_with(k.spki_der(), &no_attrs()),
            &seq(&[&derw::oid(&oid::RSASSA_PSS)]),
            &derw::bits(&[0; 256]),
        )
    }));
    c.push((
        "csr/rsa-pss-parameters-empty-sequence.der",
        pss_csr(&seq(&[])).0,
    ));
    c.push(("csr/rsa-pss-parameters-null.der", pss_csr(&derw::null()).0));
    c.push((
        "csr/rsa-pss-hash-not-a-sequence.der",
        pss_csr(&seq(&[&derw::explicit(0, &derw::null())])).0,
    ));
    c.push((
        "csr/rsa-pss-hash-explicit-empty.der",
        pss_csr(&seq(&[&derw::implicit_cons(0, &[])])).0,
    ));
    c.push((
        "csr/rsa-pss-hash-oid-empty.der",
        pss_csr(&seq(&[&derw::explicit(0, &seq(&[&t(tag::OID, &[])]))])).0,
    ));
    c.push((
        "csr/rsa-pss-mgf-empty-sequence.der",
        pss_csr(&seq(&[
            &derw::explicit(0, &seq(&[&sha256])),
            &derw::explicit(1, &seq(&[])),
        ]))
        .0,
    ));
    c.push((
        "csr/rsa-pss-mgf-without-hash.der",
        pss_csr(&seq(&[
            &derw::explicit(0, &seq(&[&sha256])),
            &derw::explicit(1, &seq(&[&derw::oid(&oid::MGF1)])),
        ]))
        .0,
    ));
    c.push((
        "csr/rsa-pss-mgf-hash-differs.der",
        pss_csr(&seq(&[
            &derw::explicit(0, &seq(&[&sha256])),
            &derw::explicit(
                1,
                &seq(&[&derw::oid(&oid::MGF1), &seq(&[&derw::oid(&oid::SHA512)])]),
            ),
            &derw::explicit(2, &derw::uint_u64(32)),
        ]))
        .0,
    ));
    c.push((
        "csr/rsa-pss-salt-empty-integer.der",
        pss_csr(&seq(&[
            &derw::explicit(0, &seq(&[&sha256])),
            &derw::explicit(2, &t(tag::INTEGER, &[])),
        ]))
        .0,
    ));
    c.push((
        "csr/rsa-pss-salt-nine-octets-wrapping-to-32.der",
        pss_csr(&seq(&[
            &derw::explicit(0, &seq(&[&sha256])),
            &derw::explicit(1, &seq(&[&derw::oid(&oid::MGF1), &seq(&[&sha256])])),
            &derw::explicit(2, &t(tag::INTEGER, &[0x01, 0, 0, 0, 0, 0, 0, 0, 0x20])),
        ]))
        .0,
    ));
    c.push((
        "csr/rsa-pss-salt-negative.der",
        pss_csr(&seq(&[
            &derw::explicit(0, &seq(&[&sha256])),
            &derw::explicit(2, &t(tag::INTEGER, &[0xe0])),
        ]))
        .0,
    ));
    c.push((
        "csr/rsa-pss-trailer-2.der",
        pss_csr(&seq(&[
            &derw::explicit(0, &seq(&[&sha256])),
            &derw::explicit(1, &seq(&[&derw::oid(&oid::MGF1), &seq(&[&sha256])])),
            &derw::explicit(2, &derw::uint_u64(32)),
            &derw::explicit(3, &derw::uint_u64(2)),
        ]))
        .0,
    ));
    c.push((
        "csr/rsa-pss-sha1-default.der",
        pss_csr(&seq(&[&derw::explicit(2, &derw::uint_u64(20))])).0,
    ));
    c.push((
        "csr/rsa-pss-valid-parameters-bad-signature.der",
        pss_csr(&pss_params(&sha256, 32)).0,
    ));
    // The envelope.
    let good_info = info_with(&ec_spki(&derw::bits(&[4; 65])), &no_attrs());
    let good_sig = derw::bits(&[0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01]);
    c.push((
        "csr/signature-bit-string-empty.der",
        csr_with(&good_info, &ecdsa_sha256(), &[0x03, 0x00]),
    ));
    c.push((
        "csr/signature-bit-string-only-unused-octet.der",
        csr_with(&good_info, &ecdsa_sha256(), &[0x03, 0x01, 0x00]),
    ));
    c.push((
        "csr/signature-unused-bits-3.der",
        csr_with(&good_info, &ecdsa_sha256(), &[0x03, 0x02, 0x03, 0x08]),
    ));
    c.push((
        "csr/signature-algorithm-empty.der",
        csr_with(&good_info, &seq(&[]), &good_sig),
    ));
    c.push((
        "csr/signature-algorithm-oid-empty.der",
        csr_with(&good_info, &seq(&[&t(tag::OID, &[])]), &good_sig),
    ));
    c.push((
        "csr/signature-algorithm-three-fields.der",
        csr_with(
            &good_info,
            &seq(&[
                &derw::oid(&oid::ECDSA_WITH_SHA256),
                &derw::null(),
                &derw::null(),
            ]),
            &good_sig,
        ),
    ));
    c.push(("csr/request-empty-sequence.der", seq(&[])));
    c.push((
        "csr/request-two-fields.der",
        seq(&[&good_info, &ecdsa_sha256()]),
    ));
    c.push((
        "csr/request-four-fields.der",
        seq(&[&good_info, &ecdsa_sha256(), &good_sig, &derw::null()]),
    ));
    c.push((
        "csr/info-empty.der",
        csr_with(&seq(&[]), &ecdsa_sha256(), &good_sig),
    ));
    c.push((
        "csr/info-version-empty-integer.der",
        csr_with(
            &seq(&[
                &t(tag::INTEGER, &[]),
                &subject(),
                &ec_spki(&derw::bits(&[4; 65])),
                &no_attrs(),
            ]),
            &ecdsa_sha256(),
            &good_sig,
        ),
    ));
    c.push((
        "csr/info-five-fields.der",
        csr_with(
            &seq(&[
                &derw::uint_u64(0),
                &subject(),
                &ec_spki(&derw::bits(&[4; 65])),
                &no_attrs(),
                &no_attrs(),
            ]),
            &ecdsa_sha256(),
            &good_sig,
        ),
    ));
    let mut trailing = ec_csr(&ec_spki(&derw::bits(&[4; 65])));
    trailing.extend_from_slice(&[0x00, 0x00]);
    c.push(("csr/trailing-data.der", trailing));
    c.push(("csr/indefinite-length.der", {
        let mut v = vec![0x30, 0x80];
        v.extend_from_slice(&good_info);
        v.extend_from_slice(&[0x00, 0x00]);
        v
    }));
    c.push(("csr/length-ffffffff.der", {
        let mut v = vec![0x30, 0x84, 0xff, 0xff, 0xff, 0xff];
        v.extend_from_slice(&good_info);
        v
    }));
    c.push(("csr/length-five-octets.der", {
        let mut v = vec![0x30, 0x85, 0x01, 0x00, 0x00, 0x00, 0x00];
        v.extend_from_slice(&good_info);
        v
    }));
    c.push(("csr/info-nested-20000-deep.der", {
        csr_with(&nested(20_000, &[0x05, 0x00]), &ecdsa_sha256(), &good_sig)
    }));
    let whole = signed_csr_with_attrs(&[]);
    c.push((
        "csr/truncated-by-one.der",
        whole.get(..whole.len() - 1).unwrap().to_vec(),
    ));
    c.push((
        "csr/truncated-half.der",
        whole.get(..whole.len() / 2).unwrap().to_vec(),
    ));
    c.push((
        "csr/truncated-to-header.der",
        whole.get(..4).unwrap().to_vec(),
    ));
    c.push(("csr/empty.der", Vec::new()));
    c.push(("csr/one-byte-sequence-tag.der", vec![0x30]));
    c.push(("csr/garbage.bin", garbage(1, 700)));
    c.push(("csr/garbage-starting-with-sequence.der", {
        let mut g = garbage(2, 700);
        g[0] = 0x30;
        g
    }));
    // Correctly signed requests with hostile content after the signature check.
    c.push((
        "csr/signed-attribute-without-values.der",
        signed_csr_with_attrs(&seq(&[&derw::oid(&oid::PKCS9_EXTENSION_REQUEST)])),
    ));
    c.push((
        "csr/signed-attribute-type-empty-oid.der",
        signed_csr_with_attrs(&seq(&[
            &t(tag::OID, &[]),
            &derw::constructed(tag::SET, &[]),
        ])),
    ));
    c.push((
        "csr/signed-attribute-not-a-sequence.der",
        signed_csr_with_attrs(&derw::null()),
    ));
    c.push((
        "csr/signed-extension-request-not-a-sequence.der",
        signed_csr_with_attrs(&seq(&[
            &derw::oid(&oid::PKCS9_EXTENSION_REQUEST),
            &derw::constructed(tag::SET, &[&derw::octets(&[1, 2])]),
        ])),
    ));
    c.push((
        "csr/signed-extension-one-field.der",
        signed_csr_with_attrs(&ext_request(&[&seq(&[&derw::oid(
            &oid::EXT_SUBJECT_ALT_NAME,
        )])])),
    ));
    c.push((
        "csr/signed-extension-criticality-empty-boolean.der",
        signed_csr_with_attrs(&ext_request(&[&seq(&[
            &derw::oid(&oid::EXT_SUBJECT_ALT_NAME),
            &t(tag::BOOLEAN, &[]),
            &derw::octets(&seq(&[])),
        ])])),
    ));
    c.push((
        "csr/signed-san-not-a-sequence.der",
        signed_csr_with_attrs(&ext_request(&[&ext::extension(
            &oid::EXT_SUBJECT_ALT_NAME,
            false,
            &derw::null(),
        )])),
    ));
    c.push((
        "csr/signed-san-ip-five-octets.der",
        signed_csr_with_attrs(&ext_request(&[&san(&[&derw::implicit_prim(
            7,
            &[1, 2, 3, 4, 5],
        )])])),
    ));
    c.push((
        "csr/signed-san-ip-empty.der",
        signed_csr_with_attrs(&ext_request(&[&san(&[&derw::implicit_prim(7, &[])])])),
    ));
    c.push((
        "csr/signed-san-dns-not-utf8.der",
        signed_csr_with_attrs(&ext_request(&[&san(&[&derw::implicit_prim(
            2,
            &[0xff, 0xfe],
        )])])),
    ));
    c.push((
        "csr/signed-san-uri.der",
        signed_csr_with_attrs(&ext_request(&[&san(&[&derw::implicit_prim(
            6,
            b"http://x",
        )])])),
    ));
    c.push((
        "csr/signed-san-truncated-name.der",
        signed_csr_with_attrs(&ext_request(&[&ext::extension(
            &oid::EXT_SUBJECT_ALT_NAME,
            false,
            &[0x30, 0x03, 0x82, 0x05, b'a'],
        )])),
    ));
    // Correctly signed requests whose subject the profile refuses.
    let rdn = |o: &const_oid::ObjectIdentifier, v: &[u8]| {
        derw::constructed(tag::SET, &[&seq(&[&derw::oid(o), v])])
    };
    c.push((
        "csr/signed-subject-bmpstring-odd-length.der",
        signed_csr(
            &seq(&[&rdn(&oid::AT_COMMON_NAME, &t(0x1e, &[0x00, 0x41, 0x00]))]),
            &[],
        ),
    ));
    c.push((
        "csr/signed-subject-bmpstring-lone-surrogate.der",
        signed_csr(
            &seq(&[&rdn(&oid::AT_COMMON_NAME, &t(0x1e, &[0xd8, 0x00]))]),
            &[],
        ),
    ));
    c.push((
        "csr/signed-subject-utf8-invalid.der",
        signed_csr(
            &seq(&[&rdn(
                &oid::AT_COMMON_NAME,
                &t(tag::UTF8_STRING, &[0xc3, 0x28]),
            )]),
            &[],
        ),
    ));
    c.push((
        "csr/signed-subject-rdn-empty-set.der",
        signed_csr(&seq(&[&derw::constructed(tag::SET, &[])]), &[]),
    ));
    c.push((
        "csr/signed-subject-atv-one-field.der",
        signed_csr(
            &seq(&[&derw::constructed(
                tag::SET,
                &[&seq(&[&derw::oid(&oid::AT_COMMON_NAME)])],
            )]),
            &[],
        ),
    ));
    c.push((
        "csr/signed-subject-value-65-characters.der",
        signed_csr(
            &seq(&[&rdn(&oid::AT_COMMON_NAME, &derw::utf8(&"あ".repeat(65)))]),
            &[],
        ),
    ));
    // PEM wrappers.
    c.push((
        "csr/pem-empty-block.pem",
        b"-----BEGIN CERTIFICATE REQUEST-----\n-----END CERTIFICATE REQUEST-----\n".to_vec(),
    ));
    c.push((
        "csr/pem-no-end-line.pem",
        b"-----BEGIN CERTIFICATE REQUEST-----\nMAA=\n".to_vec(),
    ));
    c.push((
        "csr/pem-bad-base64.pem",
        b"-----BEGIN CERTIFICATE REQUEST-----\nMA*=\n-----END CERTIFICATE REQUEST-----\n".to_vec(),
    ));
    c.push((
        "csr/pem-multibyte-around-label.pem",
        "あ-----BEGIN CERTIFICATE REQUEST-----あ\nMAA=\nい-----END CERTIFICATE REQUEST-----う"
            .as_bytes()
            .to_vec(),
    ));
    c.push((
        "csr/pem-not-utf8.pem",
        b"\xff\xfe-----BEGIN CERTIFICATE REQUEST-----\n\xc3\x28\n-----END CERTIFICATE REQUEST-----\n"
            .to_vec(),
    ));

    // ---- Certificates ------------------------------------------------------------------
    c.push((
        "cert/utctime-multibyte-character.der",
        cert_case(|p| {
            // 13 octets, 'é' straddles the year/month boundary.
            let mut v = b"1".to_vec();
            v.extend_from_slice("é".as_bytes());
            v.extend_from_slice(b"0101000000Z");
            p.validity = seq(&[&t(tag::UTC_TIME, &v), &utc("350101000000Z")]);
        }),
    ));
    c.push((
        "cert/generalizedtime-multibyte-character.der",
        cert_case(|p| {
            let mut v = b"202".to_vec();
            v.extend_from_slice("é".as_bytes());
            v.extend_from_slice(b"101000000Z");
            p.validity = seq(&[&t(tag::GENERALIZED_TIME, &v), &utc("350101000000Z")]);
        }),
    ));
    c.push((
        "cert/generalizedtime-long-fraction.der",
        cert_case(|p| {
            p.validity = seq(&[
                &t(
                    tag::GENERALIZED_TIME,
                    b"20250101000000.99999999999999999999999999Z",
                ),
                &utc("350101000000Z"),
            ]);
        }),
    ));
    c.push((
        "cert/generalizedtime-empty-fraction.der",
        cert_case(|p| {
            p.validity = seq(&[
                &t(tag::GENERALIZED_TIME, b"20250101000000.Z"),
                &utc("350101000000Z"),
            ]);
        }),
    ));
    c.push((
        "cert/utctime-month-00.der",
        cert_case(|p| {
            p.validity = seq(&[&utc("250001000000Z"), &utc("350101000000Z")]);
        }),
    ));
    c.push((
        "cert/utctime-month-13-day-32.der",
        cert_case(|p| {
            p.validity = seq(&[&utc("251332000000Z"), &utc("350101000000Z")]);
        }),
    ));
    c.push((
        "cert/utctime-signs-in-digits.der",
        cert_case(|p| {
            p.validity = seq(&[&utc("+5-101000000Z"), &utc("350101000000Z")]);
        }),
    ));
    c.push((
        "cert/utctime-empty.der",
        cert_case(|p| {
            p.validity = seq(&[&utc(""), &utc("350101000000Z")]);
        }),
    ));
    c.push((
        "cert/utctime-only-z.der",
        cert_case(|p| {
            p.validity = seq(&[&utc("Z"), &utc("350101000000Z")]);
        }),
    ));
    c.push((
        "cert/validity-one-time.der",
        cert_case(|p| {
            p.validity = seq(&[&utc("250101000000Z")]);
        }),
    ));
    c.push((
        "cert/validity-empty.der",
        cert_case(|p| p.validity = seq(&[])),
    ));
    c.push((
        "cert/version-empty-integer.der",
        cert_case(|p| {
            p.version = derw::explicit(0, &t(tag::INTEGER, &[]));
        }),
    ));
    c.push((
        "cert/version-huge.der",
        cert_case(|p| {
            p.version = derw::explicit(0, &derw::uint(&[0xff; 12]));
        }),
    ));
    c.push((
        "cert/version-explicit-empty.der",
        cert_case(|p| {
            p.version = derw::implicit_cons(0, &[]);
        }),
    ));
    c.push((
        "cert/serial-empty.der",
        cert_case(|p| p.serial = t(tag::INTEGER, &[])),
    ));
    c.push((
        "cert/spki-bit-string-empty.der",
        cert_case(|p| p.spki = ec_spki(&[0x03, 0x00])),
    ));
    c.push(("cert/spki-empty.der", cert_case(|p| p.spki = seq(&[]))));
    c.push((
        "cert/spki-rsa-empty-key.der",
        cert_case(|p| {
            p.spki = seq(&[
                &seq(&[&derw::oid(&oid::RSA_ENCRYPTION), &derw::null()]),
                &[0x03, 0x00],
            ]);
        }),
    ));
    c.push((
        "cert/spki-rsa-empty-integers.der",
        cert_case(|p| {
            p.spki = seq(&[
                &seq(&[&derw::oid(&oid::RSA_ENCRYPTION), &derw::null()]),
                &derw::bits(&seq(&[&t(tag::INTEGER, &[]), &t(tag::INTEGER, &[])])),
            ]);
        }),
    ));
    c.push((
        "cert/issuer-bmpstring-odd.der",
        cert_case(|p| {
            p.issuer = seq(&[&derw::constructed(
                tag::SET,
                &[&seq(&[&derw::oid(&oid::AT_COMMON_NAME), &t(0x1e, &[0x41])])],
            )]);
        }),
    ));
    c.push((
        "cert/subject-universalstring-bad.der",
        cert_case(|p| {
            p.subject = seq(&[&derw::constructed(
                tag::SET,
                &[&seq(&[
                    &derw::oid(&oid::AT_COMMON_NAME),
                    &t(0x1c, &[0xff, 0xff, 0xff, 0xff, 0]),
                ])],
            )]);
        }),
    ));
    c.push((
        "cert/subject-rdn-empty.der",
        cert_case(|p| {
            p.subject = seq(&[&derw::constructed(tag::SET, &[])]);
        }),
    ));
    c.push((
        "cert/subject-atv-empty.der",
        cert_case(|p| {
            p.subject = seq(&[&derw::constructed(tag::SET, &[&seq(&[])])]);
        }),
    ));
    c.push((
        "cert/extension-empty-sequence.der",
        cert_case(|p| p.exts = one_ext(&seq(&[]))),
    ));
    c.push((
        "cert/extension-one-field.der",
        cert_case(|p| {
            p.exts = one_ext(&seq(&[&derw::oid(&oid::EXT_KEY_USAGE)]));
        }),
    ));
    c.push((
        "cert/extension-four-fields.der",
        cert_case(|p| {
            p.exts = one_ext(&seq(&[
                &derw::oid(&oid::EXT_KEY_USAGE),
                &derw::boolean(true),
                &derw::octets(&[3, 1, 0]),
                &derw::null(),
            ]));
        }),
    ));
    c.push((
        "cert/extension-criticality-empty-boolean.der",
        cert_case(|p| {
            p.exts = one_ext(&seq(&[
                &derw::oid(&oid::EXT_KEY_USAGE),
                &t(tag::BOOLEAN, &[]),
                &derw::octets(&[3, 2, 7, 0x80]),
            ]));
        }),
    ));
    c.push((
        "cert/extension-oid-empty.der",
        cert_case(|p| {
            p.exts = one_ext(&seq(&[&t(tag::OID, &[]), &derw::octets(&[5, 0])]));
        }),
    ));
    c.push((
        "cert/extensions-empty-wrapper.der",
        cert_case(|p| {
            p.exts = derw::implicit_cons(3, &[]);
        }),
    ));
    c.push((
        "cert/key-usage-bit-string-empty.der",
        cert_case(|p| {
            p.exts = one_ext(&ext::extension(&oid::EXT_KEY_USAGE, true, &[0x03, 0x00]));
        }),
    ));
    c.push((
        "cert/key-usage-unused-bits-9.der",
        cert_case(|p| {
            p.exts = one_ext(&ext::extension(
                &oid::EXT_KEY_USAGE,
                true,
                &[0x03, 0x02, 0x09, 0x80],
            ));
        }),
    ));
    c.push((
        "cert/basic-constraints-path-len-empty.der",
        cert_case(|p| {
            p.exts = one_ext(&ext::extension(
                &oid::EXT_BASIC_CONSTRAINTS,
                true,
                &seq(&[&derw::boolean(true), &t(tag::INTEGER, &[])]),
            ));
        }),
    ));
    c.push((
        "cert/basic-constraints-path-len-huge.der",
        cert_case(|p| {
            p.exts = one_ext(&ext::extension(
                &oid::EXT_BASIC_CONSTRAINTS,
                true,
                &seq(&[&derw::boolean(true), &derw::uint(&[0x7f; 20])]),
            ));
        }),
    ));
    c.push((
        "cert/crl-dp-name-empty-wrapper.der",
        cert_case(|p| {
            p.exts = one_ext(&ext::extension(
                &oid::EXT_CRL_DP,
                false,
                &seq(&[&seq(&[&derw::implicit_cons(0, &[])])]),
            ));
        }),
    ));
    c.push((
        "cert/crl-dp-empty-point.der",
        cert_case(|p| {
            p.exts = one_ext(&ext::extension(&oid::EXT_CRL_DP, false, &seq(&[&seq(&[])])));
        }),
    ));
    c.push((
        "cert/san-empty.der",
        cert_case(|p| {
            p.exts = one_ext(&ext::extension(
                &oid::EXT_SUBJECT_ALT_NAME,
                false,
                &seq(&[]),
            ));
        }),
    ));
    c.push((
        "cert/san-directory-name-empty.der",
        cert_case(|p| {
            p.exts = one_ext(&ext::extension(
                &oid::EXT_SUBJECT_ALT_NAME,
                false,
                &seq(&[&derw::implicit_cons(4, &[])]),
            ));
        }),
    ));
    c.push((
        "cert/name-constraints-subtree-empty.der",
        cert_case(|p| {
            p.exts = one_ext(&ext::extension(
                &"2.5.29.30".parse().unwrap(),
                true,
                &seq(&[&derw::implicit_cons(0, &seq(&[]))]),
            ));
        }),
    ));
    c.push((
        "cert/extension-nested-20000-deep.der",
        cert_case(|p| {
            p.exts = one_ext(&ext::extension(
                &oid::EXT_CERT_POLICIES,
                false,
                &nested(20_000, &[]),
            ));
        }),
    ));
    c.push(("cert/tbs-nested-20000-deep.der", {
        seq(&[
            &nested(20_000, &[0x05, 0x00]),
            &ecdsa_sha256(),
            &derw::bits(&[1]),
        ])
    }));
    c.push(("cert/signature-bit-string-empty.der", {
        let tbs = derr::read_one(&good_parts().build(), tag::SEQUENCE)
            .map(|o| derr::children(o.content).unwrap()[0].raw.to_vec())
            .unwrap();
        seq(&[&tbs, &ecdsa_sha256(), &[0x03, 0x00]])
    }));
    c.push(("cert/signature-algorithm-empty.der", {
        let tbs = derr::read_one(&good_parts().build(), tag::SEQUENCE)
            .map(|o| derr::children(o.content).unwrap()[0].raw.to_vec())
            .unwrap();
        seq(&[&tbs, &seq(&[]), &derw::bits(&[1, 2])])
    }));
    c.push(("cert/two-fields.der", {
        let tbs = derr::read_one(&good_parts().build(), tag::SEQUENCE)
            .map(|o| derr::children(o.content).unwrap()[0].raw.to_vec())
            .unwrap();
        seq(&[&tbs, &ecdsa_sha256()])
    }));
    let good_cert = good_parts().build();
    c.push((
        "cert/truncated-by-one.der",
        good_cert.get(..good_cert.len() - 1).unwrap().to_vec(),
    ));
    c.push((
        "cert/truncated-half.der",
        good_cert.get(..good_cert.len() / 2).unwrap().to_vec(),
    ));
    c.push(("cert/length-ffffffff.der", {
        let mut v = vec![0x30, 0x84, 0xff, 0xff, 0xff, 0xff];
        v.extend_from_slice(&good_cert);
        v
    }));
    c.push(("cert/length-four-octets-7fffffff.der", {
        let mut v = vec![0x30, 0x84, 0x7f, 0xff, 0xff, 0xff];
        v.extend_from_slice(&good_cert);
        v
    }));
    c.push(("cert/empty.der", Vec::new()));
    c.push(("cert/garbage.bin", garbage(3, 900)));
    c.push((
        "cert/pem-empty-block.pem",
        b"-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n".to_vec(),
    ));
    c.push((
        "cert/pem-header-without-end.pem",
        b"-----BEGIN CERTIFICATE".to_vec(),
    ));
    c.push((
        "cert/pem-label-multibyte.pem",
        "-----BEGIN CERTIFICATEあ-----\nMAA=\n-----END CERTIFICATEあ-----\n-----BEGIN CERTIFICATE-----\nあ\n-----END CERTIFICATE-----\n"
            .as_bytes()
            .to_vec(),
    ));
    c.push((
        "cert/pem-rfc1421-headers-only.pem",
        b"-----BEGIN CERTIFICATE-----\nProc-Type: 4,ENCRYPTED\n\n-----END CERTIFICATE-----\n"
            .to_vec(),
    ));
    c.push((
        "cert/pem-wrapping-truncated-der.pem",
        pem("CERTIFICATE", good_cert.get(..good_cert.len() / 2).unwrap()),
    ));
    c.push((
        "cert/pem-wrapping-spki-bit-string-empty.pem",
        pem(
            "CERTIFICATE",
            &cert_case(|p| p.spki = ec_spki(&[0x03, 0x00])),
        ),
    ));

    // ---- CRLs --------------------------------------------------------------------------
    let one_entry = |e: &[u8]| seq(&[e]);
    let serial = derw::uint_u64(7);
    let when = utc("250101000000Z");
    c.push(("crl/entry-empty.der", crl_case(&one_entry(&seq(&[])), &[])));
    c.push((
        "crl/entry-serial-only.der",
        crl_case(&one_entry(&seq(&[&serial])), &[]),
    ));
    c.push((
        "crl/entry-time-bad.der",
        crl_case(&one_entry(&entry(&serial, &utc("25010100000Z"), &[])), &[]),
    ));
    // A long fraction is valid (it is dropped); the entry after it is not.
    c.push((
        "crl/entry-generalizedtime-long-fraction-then-empty-entry.der",
        crl_case(
            &seq(&[
                &entry(
                    &serial,
                    &t(
                        tag::GENERALIZED_TIME,
                        b"20250101000000.123456789012345678901234567890Z",
                    ),
                    &[],
                ),
                &seq(&[]),
            ]),
            &[],
        ),
    ));
    c.push((
        "crl/entry-reason-empty-enumerated.der",
        crl_case(
            &one_entry(&entry(
                &serial,
                &when,
                &[&ext::extension(
                    &oid::EXT_REASON_CODE,
                    false,
                    &t(tag::ENUMERATED, &[]),
                )],
            )),
            &[],
        ),
    ));
    c.push((
        "crl/entry-reason-huge.der",
        crl_case(
            &one_entry(&entry(
                &serial,
                &when,
                &[&ext::extension(
                    &oid::EXT_REASON_CODE,
                    false,
                    &t(tag::ENUMERATED, &[0x7f; 9]),
                )],
            )),
            &[],
        ),
    ));
    c.push((
        "crl/entry-certificate-issuer-empty.der",
        crl_case(
            &one_entry(&entry(
                &serial,
                &when,
                &[&ext::extension(
                    &"2.5.29.29".parse().unwrap(),
                    true,
                    &seq(&[]),
                )],
            )),
            &[],
        ),
    ));
    c.push((
        "crl/entry-extensions-empty-extension.der",
        crl_case(&one_entry(&seq(&[&serial, &when, &seq(&[&seq(&[])])])), &[]),
    ));
    c.push((
        "crl/revoked-not-entries.der",
        crl_case(&seq(&[&derw::null()]), &[]),
    ));
    c.push((
        "crl/idp-empty-dp-wrapper.der",
        crl_case(
            &seq(&[]),
            &crl_ext(
                &oid::EXT_ISSUING_DP,
                true,
                &seq(&[&derw::implicit_cons(0, &[])]),
            ),
        ),
    ));
    c.push((
        "crl/idp-boolean-empty.der",
        crl_case(
            &seq(&[]),
            &crl_ext(
                &oid::EXT_ISSUING_DP,
                true,
                &seq(&[&derw::implicit_prim(1, &[])]),
            ),
        ),
    ));
    c.push((
        "crl/idp-reasons-bad-bit-string.der",
        crl_case(
            &seq(&[]),
            &crl_ext(
                &oid::EXT_ISSUING_DP,
                true,
                &seq(&[&derw::implicit_prim(3, &[0x08])]),
            ),
        ),
    ));
    c.push((
        "crl/idp-not-a-sequence.der",
        crl_case(
            &seq(&[]),
            &crl_ext(&oid::EXT_ISSUING_DP, true, &derw::null()),
        ),
    ));
    c.push((
        "crl/aki-not-a-sequence.der",
        crl_case(
            &seq(&[]),
            &crl_ext(&oid::EXT_AUTHORITY_KEY_ID, false, &derw::null()),
        ),
    ));
    c.push((
        "crl/extensions-wrapper-empty.der",
        crl_case(&seq(&[]), &derw::implicit_cons(0, &[])),
    ));
    c.push((
        "crl/version-huge.der",
        crl_with(&[&derw::uint(&[0x7f; 10]), &ecdsa_sha256(), &subject(), &when]),
    ));
    c.push((
        "crl/version-empty.der",
        crl_with(&[&t(tag::INTEGER, &[]), &ecdsa_sha256(), &subject(), &when]),
    ));
    c.push((
        "crl/no-this-update.der",
        crl_with(&[&derw::uint_u64(1), &ecdsa_sha256(), &subject()]),
    ));
    c.push((
        "crl/this-update-month-13.der",
        crl_with(&[
            &derw::uint_u64(1),
            &ecdsa_sha256(),
            &subject(),
            &utc("251301000000Z"),
        ]),
    ));
    c.push((
        "crl/this-update-february-30.der",
        crl_with(&[
            &derw::uint_u64(1),
            &ecdsa_sha256(),
            &subject(),
            &utc("250230000000Z"),
        ]),
    ));
    c.push((
        "crl/issuer-not-a-name.der",
        crl_with(&[
            &derw::uint_u64(1),
            &ecdsa_sha256(),
            &seq(&[&derw::null()]),
            &when,
        ]),
    ));
    c.push((
        "crl/tbs-empty.der",
        seq(&[&seq(&[]), &ecdsa_sha256(), &derw::bits(&[1])]),
    ));
    c.push(("crl/signature-bit-string-empty.der", {
        let tbs = seq(&[&derw::uint_u64(1), &ecdsa_sha256(), &subject(), &when]);
        seq(&[&tbs, &ecdsa_sha256(), &[0x03, 0x00]])
    }));
    c.push((
        "crl/revoked-nested-20000-deep.der",
        crl_case(&nested(20_000, &[]), &[]),
    ));
    c.push(("crl/many-entries-truncated-last.der", {
        let mut entries: Vec<Vec<u8>> = (1..2000u64)
            .map(|i| entry(&derw::uint_u64(i), &when, &[]))
            .collect();
        entries.push(vec![0x30, 0x10, 0x02]);
        let refs: Vec<&[u8]> = entries.iter().map(|e| e.as_slice()).collect();
        crl_case(&derw::seq(&refs), &[])
    }));
    let good_crl = crl_case(&one_entry(&entry(&serial, &when, &[])), &[]);
    c.push((
        "crl/truncated-by-one.der",
        good_crl.get(..good_crl.len() - 1).unwrap().to_vec(),
    ));
    c.push((
        "crl/truncated-half.der",
        good_crl.get(..good_crl.len() / 2).unwrap().to_vec(),
    ));
    c.push(("crl/length-ffffffff.der", {
        let mut v = vec![0x30, 0x84, 0xff, 0xff, 0xff, 0xff];
        v.extend_from_slice(&good_crl);
        v
    }));
    c.push(("crl/empty.der", Vec::new()));
    c.push(("crl/garbage.bin", garbage(4, 500)));
    c.push((
        "crl/pem-empty-block.pem",
        b"-----BEGIN X509 CRL-----\n-----END X509 CRL-----\n".to_vec(),
    ));
    c.push((
        "crl/pem-data-after-padding.pem",
        b"-----BEGIN X509 CRL-----\nMA==MA==\n-----END X509 CRL-----\n".to_vec(),
    ));
    c.push((
        "crl/pem-wrapping-entry-empty.pem",
        pem("X509 CRL", &crl_case(&one_entry(&seq(&[])), &[])),
    ));

    // ---- Plain DER -----------------------------------------------------------------------
    c.push(("der/empty.bin", Vec::new()));
    c.push(("der/tag-only.bin", vec![0x30]));
    c.push(("der/high-tag-number.bin", vec![0x1f, 0x81, 0x00, 0x00]));
    c.push((
        "der/indefinite-length.bin",
        vec![0x30, 0x80, 0x05, 0x00, 0x00, 0x00],
    ));
    c.push(("der/length-zero-octets-of-length.bin", vec![0x04, 0x80]));
    c.push((
        "der/length-ffffffff.bin",
        vec![0x04, 0x84, 0xff, 0xff, 0xff, 0xff, 0x00],
    ));
    c.push((
        "der/length-five-octets.bin",
        vec![0x04, 0x85, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00],
    ));
    c.push((
        "der/length-eight-octets-ffffffffffffffff.bin",
        vec![
            0x04, 0x88, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00,
        ],
    ));
    c.push(("der/length-127-octets-of-length.bin", {
        let mut v = vec![0x04, 0xff];
        v.extend_from_slice(&[0xff; 127]);
        v
    }));
    c.push(("der/length-octets-truncated.bin", vec![0x04, 0x82, 0x01]));
    c.push(("der/non-minimal-length.bin", vec![0x04, 0x81, 0x01, 0xaa]));
    c.push(("der/non-minimal-length-leading-zero.bin", {
        let mut v = vec![0x04, 0x82, 0x00, 0x81];
        v.extend_from_slice(&[0xaa; 0x81]);
        v
    }));
    c.push(("der/content-truncated.bin", vec![0x04, 0x05, 0xaa, 0xbb]));
    c.push((
        "der/inner-longer-than-outer.bin",
        vec![0x30, 0x03, 0x04, 0x05, 0xaa],
    ));
    c.push(("der/oid-empty.bin", seq(&[&t(tag::OID, &[])])));
    c.push((
        "der/oid-truncated-arc.bin",
        seq(&[&t(tag::OID, &[0x2a, 0x86])]),
    ));
    c.push((
        "der/oid-non-minimal-arc.bin",
        seq(&[&t(tag::OID, &[0x2a, 0x80, 0x01])]),
    ));
    c.push((
        "der/oid-arc-wider-than-128-bits.bin",
        seq(&[&t(tag::OID, &{
            let mut v = vec![0xff; 40];
            v.push(0x7f);
            v
        })]),
    ));
    c.push(("der/nested-40000-deep-truncated.bin", {
        // Well formed all the way down but for the innermost element.
        nested(40_000, &[0x04, 0x05, 0xaa])
    }));
    c.push(("der/nested-sets-and-tags-20000-deep-bad-oid.bin", {
        let mut v = t(tag::OID, &[0x80]);
        for i in 0..20_000 {
            v = match i % 3 {
                0 => seq(&[&v]),
                1 => derw::constructed(tag::SET, &[&v]),
                _ => derw::explicit(0, &v),
            };
        }
        v
    }));
    c.push(("der/garbage.bin", garbage(5, 4096)));

    // ---- OCSP requests (issue 10 item 5) -------------------------------------------------
    let one = ocsp_single(&[0x01, 0x02]);
    // ---- revocation receipts (issue 10 item 6) ------------------------------------------
    let rec = receipt_record().to_der();
    c.push(("receipt/empty.der", Vec::new()));
    c.push(("receipt/unsigned-record.der", rec.clone()));
    c.push((
        "receipt/record-trailing-garbage.der",
        [&rec[..], &[0u8][..]].concat(),
    ));
    {
        let mut v2 = rec.clone();
        let pos = v2.windows(3).position(|w| w == [2, 1, 1]).unwrap();
        v2[pos + 2] = 2;
        c.push(("receipt/record-version-2.der", v2));
    }
    {
        let mut r = receipt_record();
        r.serial = vec![0x7f; 21];
        c.push(("receipt/record-serial-21-octets.der", r.to_der()));
    }
    {
        // reason 7 is unused in RFC 5280.
        let mut bad = rec.clone();
        let pos = bad.windows(3).position(|w| w == [0x0a, 1, 1]).unwrap();
        bad[pos + 2] = 7;
        c.push(("receipt/record-reason-7.der", bad));
    }
    c.push((
        "receipt/signed-data-empty.der",
        seq(&[
            &derw::oid(&oid::CMS_SIGNED_DATA),
            &derw::explicit(0, &seq(&[])),
        ]),
    ));
    c.push(("receipt/nested-10000-deep.der", nested(10000, &rec)));
    c.push(("ocsp/empty.der", Vec::new()));
    c.push(("ocsp/empty-sequence.der", seq(&[])));
    c.push(("ocsp/empty-request-list.der", ocsp_request(&[], false)));
    c.push((
        "ocsp/two-requests.der",
        ocsp_request(&[one.clone(), one.clone()], false),
    ));
    c.push(("ocsp/thousand-requests.der", {
        let many: Vec<Vec<u8>> = (0..1000).map(|_| one.clone()).collect();
        ocsp_request(&many, false)
    }));
    c.push(("ocsp/truncated.der", {
        let v = ocsp_request(std::slice::from_ref(&one), true);
        v[..v.len() - 3].to_vec()
    }));
    c.push(("ocsp/trailing-garbage.der", {
        let mut v = ocsp_request(std::slice::from_ref(&one), false);
        v.extend_from_slice(&[0x00, 0x00]);
        v
    }));
    c.push((
        "ocsp/md5-cert-id.der",
        ocsp_request(
            &[seq(&[&ocsp_cert_id(
                &seq(&[
                    &derw::oid(&const_oid::ObjectIdentifier::new_unwrap(
                        "1.2.840.113549.2.5",
                    )),
                    &derw::null(),
                ]),
                16,
                &derw::uint(&[1]),
            )])],
            false,
        ),
    ));
    c.push((
        "ocsp/sha256-with-sha1-lengths.der",
        ocsp_request(
            &[seq(&[&ocsp_cert_id(
                &seq(&[&derw::oid(&oid::SHA256)]),
                20,
                &derw::uint(&[1]),
            )])],
            false,
        ),
    ));
    c.push((
        "ocsp/serial-empty.der",
        ocsp_request(
            &[seq(&[&ocsp_cert_id(
                &sha1_alg(),
                20,
                &t(tag::INTEGER, &[]),
            )])],
            false,
        ),
    ));
    c.push((
        "ocsp/serial-30-octets.der",
        ocsp_request(
            &[seq(&[&ocsp_cert_id(
                &sha1_alg(),
                20,
                &t(tag::INTEGER, &[0x11; 30]),
            )])],
            false,
        ),
    ));
    c.push((
        "ocsp/serial-non-minimal.der",
        ocsp_request(
            &[seq(&[&ocsp_cert_id(
                &sha1_alg(),
                20,
                &t(tag::INTEGER, &[0x00, 0x01]),
            )])],
            false,
        ),
    ));
    c.push((
        "ocsp/hash-params-not-null.der",
        ocsp_request(
            &[seq(&[&ocsp_cert_id(
                &seq(&[&derw::oid(&oid::SHA256), &derw::octets(&[1])]),
                32,
                &derw::uint(&[1]),
            )])],
            false,
        ),
    ));
    c.push(("ocsp/version-2.der", {
        let tbs = seq(&[&derw::explicit(0, &derw::uint(&[1])), &seq(&[&one])]);
        seq(&[&tbs])
    }));
    c.push(("ocsp/nonce-extension-broken.der", {
        let tbs = seq(&[
            &seq(&[&one]),
            &derw::explicit(2, &seq(&[&seq(&[&t(tag::OID, &[0x80])])])),
        ]);
        seq(&[&tbs])
    }));
    c.push(("ocsp/request-list-not-a-sequence.der", {
        let tbs = seq(&[&derw::constructed(tag::SET, &[&one])]);
        seq(&[&tbs])
    }));
    c.push(("ocsp/signature-twice.der", {
        let tbs = seq(&[&seq(&[&one])]);
        seq(&[
            &tbs,
            &derw::explicit(0, &seq(&[])),
            &derw::explicit(0, &seq(&[])),
        ])
    }));
    c.push(("ocsp/nested-cert-id-10000-deep.der", {
        ocsp_request(&[seq(&[&nested(10_000, &one)])], false)
    }));
    c.push((
        "ocsp/base64-text.b64",
        b"MEMwQTA/MD0wOzAJBgUrDgMCGgUABBQ=".to_vec(),
    ));
    c.push((
        "ocsp/http-request-line.txt",
        b"GET /ocsp/MEMwQTA HTTP/1.1\r\n".to_vec(),
    ));
    c.push(("ocsp/garbage.der", garbage(11, 2048)));
    c.push(("der/zeros-odd-length.bin", vec![0; 63]));
    c.push(("der/ff.bin", vec![0xff; 64]));

    c.into_iter().map(|(n, b)| (n.to_string(), b)).collect()
}

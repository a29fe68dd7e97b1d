//! The ceremony and issuance produce artifacts that pkilint and OpenSSL accept: root,
//! issuing CA, OCSP signer, audit signer, user-card, operator and server certificates,
//! the ARL, an empty CRL and a CRL with entries; and so does every artifact of `kmn up`
//! (the demo credentials and the TLS server certificate included).

use std::path::PathBuf;

use kmn_store::CaKind;

use crate::support::{Env, assert_fails, pkilint, pkilint_except, tool};

pub(crate) struct Artifacts {
    root: PathBuf,
    issuing: PathBuf,
    ocsp: PathBuf,
    audit: PathBuf,
    pub(crate) user: PathBuf,
    operator: PathBuf,
    server: PathBuf,
    arl: PathBuf,
    empty_crl: PathBuf,
    crl_with_entries: PathBuf,
    pub(crate) user_serial: String,
}

pub(crate) async fn make(env: &Env, init_args: &[&str]) -> Artifacts {
    env.init(init_args);
    let root = env.pem_of(&env.repo("kmn-root-g1.crt"), "cert");
    let issuing = env.pem_of(&env.repo("kmn-issuing-g1.crt"), "cert");
    let arl = env.pem_of(&env.repo("kmn-root-g1.crl"), "crl");
    let empty_crl = env.path("empty.crl.pem");
    std::fs::copy(
        env.pem_of(&env.repo("kmn-issuing-g1.crl"), "crl"),
        &empty_crl,
    )
    .unwrap();
    let app = env.app().await;
    let mut tx = app.store_for_tests().begin().await.unwrap();
    let ocsp_rec = tx.active_ca(CaKind::OcspSigner).await.unwrap().unwrap();
    let audit_rec = tx.active_ca(CaKind::AuditSigner).await.unwrap().unwrap();
    tx.rollback().await.unwrap();
    let ocsp = env.path("ocsp.pem");
    std::fs::write(&ocsp, kmn_pki::cert::to_pem(&ocsp_rec.cert_der)).unwrap();
    let audit = env.path("audit-signer.pem");
    std::fs::write(&audit, kmn_pki::cert::to_pem(&audit_rec.cert_der)).unwrap();

    let ucsr = env.csr(
        "user",
        "rsa2048",
        "/C=JP/O=Kumamoto Clinic/OU=4310000001/CN=Taro Yamada/serialNumber=H0000001",
        &[],
    );
    let (user, user_serial) = env.issue("user", &ucsr, "user-card", "5y");
    let ocsr = env.csr(
        "operator",
        "p256",
        "/C=JP/O=Kumamoto Medical Association/CN=Operator One",
        &[],
    );
    let (operator, _) = env.issue("operator", &ocsr, "operator", "3y");
    let scsr = env.csr(
        "server",
        "p256",
        "/CN=kmn.example.jp",
        &["-addext", "subjectAltName=DNS:kmn.example.jp,IP:127.0.0.1"],
    );
    let (server, _) = env.issue("server", &scsr, "server", "3y");
    // Revoke the operator certificate: the CRL then has an entry.
    let o = env.ok(&["cert", "show", "--pem", &user_serial]);
    assert!(o.starts_with("-----BEGIN CERTIFICATE-----"));
    let (_, op_serial) = {
        let op = std::fs::read_to_string(&operator).unwrap();
        let (ok, out) = tool(
            "openssl",
            &[
                "x509",
                "-noout",
                "-serial",
                "-in",
                operator.to_str().unwrap(),
            ],
        );
        assert!(ok);
        (op, out.trim().trim_start_matches("serial=").to_string())
    };
    env.ok(&[
        "cert",
        "revoke",
        &op_serial,
        "--reason",
        "key-compromise",
        "--invalidity-date",
        "2020-01-01T00:00:00Z",
    ]);
    let crl_with_entries = env.pem_of(&env.repo("kmn-issuing-g1.crl"), "crl");
    Artifacts {
        root,
        issuing,
        ocsp,
        audit,
        user,
        operator,
        server,
        arl,
        empty_crl,
        crl_with_entries,
        user_serial,
    }
}

pub(crate) fn check_all(a: &Artifacts) {
    let s = |p: &PathBuf| p.to_str().unwrap().to_string();
    for c in [
        &a.root,
        &a.issuing,
        &a.ocsp,
        &a.audit,
        &a.user,
        &a.operator,
        &a.server,
    ] {
        pkilint("lint_pkix_cert", &[&s(c)]);
    }
    pkilint(
        "lint_pkix_signer_signee_cert_chain",
        &[&s(&a.root), &s(&a.issuing)],
    );
    for c in [&a.ocsp, &a.audit, &a.user, &a.operator, &a.server] {
        pkilint(
            "lint_pkix_signer_signee_cert_chain",
            &[&s(&a.issuing), &s(c)],
        );
    }
    pkilint("lint_crl", &["-t", "ARL", "-p", "PKIX", &s(&a.arl)]);
    pkilint("lint_crl", &["-t", "CRL", "-p", "PKIX", &s(&a.empty_crl)]);
    pkilint(
        "lint_crl",
        &["-t", "CRL", "-p", "PKIX", &s(&a.crl_with_entries)],
    );

    // OpenSSL: strict path validation with CRL checking of the whole chain.
    let dir = a.root.parent().unwrap();
    let crls = dir.join("all-crls.pem");
    std::fs::write(
        &crls,
        [
            std::fs::read(&a.arl).unwrap(),
            std::fs::read(&a.crl_with_entries).unwrap(),
        ]
        .concat(),
    )
    .unwrap();
    for (c, purpose) in [
        (&a.user, "sslclient"),
        (&a.server, "sslserver"),
        (&a.audit, "any"),
    ] {
        let (ok, out) = tool(
            "openssl",
            &[
                "verify",
                "-x509_strict",
                "-crl_check_all",
                "-purpose",
                purpose,
                "-CAfile",
                &s(&a.root),
                "-untrusted",
                &s(&a.issuing),
                "-CRLfile",
                &s(&crls),
                &s(c),
            ],
        );
        assert!(
            ok && out.contains(": OK"),
            "openssl verify {}: {out}",
            c.display()
        );
    }
    let (ok, out) = tool(
        "openssl",
        &[
            "verify",
            "-x509_strict",
            "-crl_check_all",
            "-CAfile",
            &s(&a.root),
            "-untrusted",
            &s(&a.issuing),
            "-CRLfile",
            &s(&crls),
            &s(&a.operator),
        ],
    );
    assert!(
        !ok && out.contains("certificate revoked"),
        "the revoked operator certificate must fail: {out}"
    );
    let (ok, out) = tool(
        "openssl",
        &[
            "verify",
            "-x509_strict",
            "-CAfile",
            &s(&a.root),
            "-untrusted",
            &s(&a.issuing),
            &s(&a.ocsp),
        ],
    );
    assert!(ok, "OCSP signer: {out}");
    let chain = dir.join("chain.pem");
    std::fs::write(
        &chain,
        [
            std::fs::read(&a.root).unwrap(),
            std::fs::read(&a.issuing).unwrap(),
        ]
        .concat(),
    )
    .unwrap();
    for crl in [&a.arl, &a.empty_crl, &a.crl_with_entries] {
        let (ok, out) = tool(
            "openssl",
            &[
                "crl",
                "-noout",
                "-verify",
                "-CAfile",
                &s(&chain),
                "-in",
                &s(crl),
            ],
        );
        assert!(
            ok && out.contains("verify OK"),
            "openssl crl -verify {}: {out}",
            crl.display()
        );
    }
}

#[tokio::test]
async fn every_artifact_passes_pkilint_and_openssl_ecdsa() {
    let env = Env::new();
    let a = make(&env, &[]).await;
    check_all(&a);
    // The user card certificate follows the profile of DESIGN §4.
    let (_, text) = tool(
        "openssl",
        &["x509", "-noout", "-text", "-in", a.user.to_str().unwrap()],
    );
    assert!(text.contains("Digital Signature"), "{text}");
    assert!(text.contains("TLS Web Client Authentication"));
    assert!(text.contains("CPS: http://127.0.0.1:8080/repo/cps"));
    assert!(text.contains("URI:http://127.0.0.1:8080/repo/kmn-issuing-g1.crl"));
    assert!(text.contains("OCSP - URI:http://127.0.0.1:8080/ocsp"));
    assert!(!a.user_serial.is_empty());
}

#[tokio::test]
async fn every_artifact_passes_pkilint_and_openssl_rsa() {
    let env = Env::new();
    let a = make(
        &env,
        &[
            "--root-key",
            "rsa4096",
            "--issuing-key",
            "rsa3072",
            "--ocsp-key",
            "rsa2048",
        ],
    )
    .await;
    check_all(&a);
}

/// The one pkilint finding allowed anywhere: the demo TLS certificate's dNSName
/// `localhost`, which pkilint's domain validator (a public-suffix style check) refuses
/// although it is a valid RFC 1034 preferred-syntax name (docs/SECURITY.md).
const LOCALHOST_SAN: &str =
    r#"pkix.invalid_domain_name_syntax (ERROR): Invalid domain name syntax: "localhost""#;

/// Splits a PEM file into one file per certificate (leaf first, as written).
fn split_pem(env: &Env, file: &std::path::Path) -> Vec<PathBuf> {
    let text = std::fs::read_to_string(file).unwrap();
    let mut out = Vec::new();
    for (i, block) in text
        .split_inclusive("-----END CERTIFICATE-----\n")
        .enumerate()
    {
        if !block.contains("-----BEGIN CERTIFICATE-----") {
            continue;
        }
        let name = format!(
            "{}.{i}.pem",
            file.file_name()
                .unwrap()
                .to_str()
                .unwrap()
                .replace('/', "_")
        );
        let p = env.path(&name);
        std::fs::write(&p, block.trim_start()).unwrap();
        out.push(p);
    }
    out
}

#[tokio::test]
async fn issue9_every_artifact_of_kmn_up_passes_pkilint() {
    let env = Env::new();
    let srv = crate::serve::start(&env);
    let s = |p: &PathBuf| p.to_str().unwrap().to_string();
    let mut certs: Vec<(String, PathBuf)> = Vec::new();
    let mut crls: Vec<(&str, PathBuf)> = Vec::new();
    // The repository: CA certificates, the ARL and the CRL.
    let mut repo: Vec<PathBuf> = std::fs::read_dir(env.data_dir().join("repo"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    repo.sort();
    for f in &repo {
        let name = f.file_name().unwrap().to_str().unwrap().to_string();
        if name.ends_with(".crt") {
            certs.push((name, env.pem_of(f, "cert")));
        } else if name.ends_with(".crl") {
            let kind = if name.starts_with("kmn-root-") {
                "ARL"
            } else {
                "CRL"
            };
            crls.push((kind, env.pem_of(f, "crl")));
        }
    }
    // Every CA of the database (the OCSP signer is not in the repository).
    let app = env.app().await;
    let mut tx = app.store_for_tests().begin().await.unwrap();
    let cas = tx.list_cas().await.unwrap();
    tx.rollback().await.unwrap();
    for ca in &cas {
        let p = env.path(&format!("db-{}.pem", ca.name));
        std::fs::write(&p, kmn_pki::cert::to_pem(&ca.cert_der)).unwrap();
        certs.push((format!("CA {} ({:?})", ca.name, ca.kind), p));
    }
    // The TLS server certificate and the demo credentials: leaf, then the issuing CA.
    let issuing = env.pem_of(&env.repo("kmn-issuing-g1.crt"), "cert");
    let mut leaves = vec![env.data_dir().join("secrets/tls-server.crt.pem")];
    let mut demo: Vec<PathBuf> = std::fs::read_dir(env.data_dir().join("demo"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.extension().is_some_and(|x| x == "pem")
                && std::fs::read_to_string(p).is_ok_and(|t| t.contains("BEGIN CERTIFICATE"))
        })
        .collect();
    demo.sort();
    leaves.extend(demo);
    let mut leaf_files = Vec::new();
    for f in &leaves {
        let parts = split_pem(&env, f);
        assert!(!parts.is_empty(), "{} holds no certificate", f.display());
        for p in &parts {
            certs.push((f.display().to_string(), p.clone()));
        }
        // demo/root-ca.pem is the root itself, for clients to trust (linted above).
        if !f.ends_with("root-ca.pem") {
            leaf_files.push((f.display().to_string(), parts[0].clone()));
        }
    }
    drop(srv);
    let names: Vec<&str> = certs.iter().map(|(n, _)| n.as_str()).collect();
    for want in [
        "kmn-root-g1.crt",
        "kmn-issuing-g1.crt",
        "OcspSigner",
        "tls-server.crt.pem",
        "operator.pem",
        "supervisor.pem",
        "auditor.pem",
        "facility_desk.pem",
        "station.pem",
    ] {
        assert!(
            names.iter().any(|n| n.contains(want)),
            "kmn up made no {want}: {names:?}"
        );
    }
    assert_eq!(crls.len(), 2, "the ARL and the issuing CA's CRL: {crls:?}");

    for (what, c) in &certs {
        eprintln!("pkilint {what}");
        pkilint_except("lint_pkix_cert", &[&s(c)], &[LOCALHOST_SAN]);
    }
    for (what, leaf) in &leaf_files {
        eprintln!("pkilint chain {what}");
        pkilint_except(
            "lint_pkix_signer_signee_cert_chain",
            &[&s(&issuing), &s(leaf)],
            &[LOCALHOST_SAN],
        );
    }
    for (kind, crl) in &crls {
        pkilint("lint_crl", &["-t", kind, "-p", "PKIX", &s(crl)]);
    }
    // The exception is that one name in that one certificate: nothing else may need it.
    for (what, c) in certs.iter().filter(|(w, _)| !w.contains("tls-server")) {
        let (_, text) = tool(
            "openssl",
            &["x509", "-noout", "-ext", "subjectAltName", "-in", &s(c)],
        );
        assert!(!text.contains("DNS:localhost"), "{what}: {text}");
    }
}

#[tokio::test]
async fn art10_card_certificate_is_valid_the_full_period() {
    let env = Env::new();
    env.init(&[]);
    let csr = env.csr("u", "p256", "/C=JP/O=Clinic/CN=Hanako Sato", &[]);
    let (pem, _) = env.issue("u", &csr, "user-card", "5y");
    let (_, dates) = tool(
        "openssl",
        &[
            "x509",
            "-noout",
            "-startdate",
            "-enddate",
            "-in",
            pem.to_str().unwrap(),
        ],
    );
    let year = |k: &str| -> i32 {
        let l = dates.lines().find(|l| l.starts_with(k)).unwrap();
        l.split_whitespace().rev().nth(1).unwrap().parse().unwrap()
    };
    assert_eq!(year("notAfter") - year("notBefore"), 5, "{dates}");
}

#[tokio::test]
async fn design4_ceremony_record_in_audit_log_and_second_init_refused() {
    let env = Env::new();
    env.init(&[]);
    let app = env.app().await;
    let mut tx = app.store_for_tests().begin().await.unwrap();
    let events = tx.audit_events(Some("ca.init")).await.unwrap();
    tx.rollback().await.unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(
        events[0].actor,
        format!("test-admin (os:{})", kmn_app::actor::os_user())
    );
    assert!(
        events[0].summary.contains("SHA-256"),
        "{}",
        events[0].summary
    );
    assert!(
        events[0]
            .summary
            .contains("policy arc 1.2.840.113556.1.8000.2554.")
    );
    let secrets = std::fs::read_dir(env.data_dir().join("secrets"))
        .unwrap()
        .count();
    // Root, issuing CA, OCSP signer and audit signer (issue 9 item 6).
    assert_eq!(secrets, 4);
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(env.data_dir().join("secrets/kmn-root-g1.key.pem"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    let key = std::fs::read_to_string(env.data_dir().join("secrets/kmn-root-g1.key.pem")).unwrap();
    assert!(key.starts_with("-----BEGIN ENCRYPTED PRIVATE KEY-----"));
    // OpenSSL opens it with the passphrase: standard PKCS#8 PBES2.
    let (ok, out) = tool(
        "openssl",
        &[
            "pkey",
            "-noout",
            "-passin",
            "pass:correct-horse-battery-staple",
            "-in",
            env.data_dir()
                .join("secrets/kmn-root-g1.key.pem")
                .to_str()
                .unwrap(),
        ],
    );
    assert!(ok, "{out}");
}

#[tokio::test]
async fn design4_new_issuing_ca_takes_over_and_both_publish_crls() {
    let env = Env::new();
    env.init(&[]);
    let out = env.ok(&["ca", "new-issuing", "--years", "12"]);
    assert!(out.contains("kmn-issuing-g2"), "{out}");
    let csr = env.csr("u", "p256", "/C=JP/O=Clinic/CN=Hanako Sato", &[]);
    let (pem, _) = env.issue("u", &csr, "user-card", "5y");
    let (_, issuer) = tool(
        "openssl",
        &["x509", "-noout", "-issuer", "-in", pem.to_str().unwrap()],
    );
    assert!(issuer.contains("Issuing CA G2"), "{issuer}");
    let out = env.ok(&["crl", "publish"]);
    assert!(
        out.contains("kmn-issuing-g1") && out.contains("kmn-issuing-g2"),
        "{out}"
    );
    let arl = env.ok(&["ca", "sign-arl"]);
    assert!(arl.contains("ARL #2"), "{arl}");
    let g2 = env.pem_of(&env.repo("kmn-issuing-g2.crt"), "cert");
    pkilint("lint_pkix_cert", &[g2.to_str().unwrap()]);
    let (ok, o) = env.verify_with_repository("kmn-issuing-g2", &pem, &["-x509_strict"]);
    assert!(ok, "{o}");
}

#[tokio::test]
async fn issue8_ca_init_outside_demo_needs_the_base_url_and_names_and_shows_them_first() {
    let env = Env::new();
    // Nothing configured: refused before anything is made, naming both settings.
    let mut c = env.cmd(&["ca", "init"]);
    c.env_remove("KMN_PUBLIC_BASE_URL")
        .env_remove("KMN_ORGANIZATION");
    let o = c.output().unwrap();
    crate::support::assert_fails(&o, 1, "public_base_url and organization not configured");
    crate::support::assert_fails(&o, 1, "(E_CONFIG)");
    assert!(!env.data_dir().exists(), "nothing may be left behind");
    // Only the URL in kmn.toml: still refused, naming the names.
    std::fs::create_dir_all(env.data_dir()).unwrap();
    let toml = env.data_dir().join("kmn.toml");
    std::fs::write(&toml, "public_base_url = \"http://pki.kmn.example.jp\"\n").unwrap();
    let mut c = env.cmd(&["ca", "init"]);
    c.env_remove("KMN_PUBLIC_BASE_URL")
        .env_remove("KMN_ORGANIZATION");
    let o = c.output().unwrap();
    crate::support::assert_fails(&o, 1, "organization not configured");
    assert!(!env.data_dir().join("kmn.db").exists());
    assert!(!env.data_dir().join("secrets").exists());
    // Both set: the ceremony prints what the certificates will carry before it signs.
    std::fs::write(
        &toml,
        "public_base_url = \"http://pki.kmn.example.jp\"\norganization = \"Kumamoto Medical Association\"\n",
    )
    .unwrap();
    let mut c = env.cmd(&["ca", "init"]);
    c.env_remove("KMN_PUBLIC_BASE_URL")
        .env_remove("KMN_ORGANIZATION");
    let o = c.output().unwrap();
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(
        o.status.success(),
        "{out}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let plan = out.find("The certificates will carry:").expect("the plan");
    let done = out.find("Key ceremony complete.").expect("done");
    assert!(plan < done, "{out}");
    for want in [
        "root CA subject      C=JP, O=Kumamoto Medical Association, CN=Kumamoto Medical Network Root CA G1",
        "root CRL (ARL) URL   http://pki.kmn.example.jp/repo/kmn-root-g1.crl",
        "issuing CRL URL      http://pki.kmn.example.jp/repo/kmn-issuing-g1.crl",
        "CPS URL              http://pki.kmn.example.jp/repo/cps",
    ] {
        assert!(
            out[plan..done].contains(want),
            "expected '{want}' in:\n{out}"
        );
    }
    let issuing = env.pem_of(&env.repo("kmn-issuing-g1.crt"), "cert");
    let (_, text) = tool(
        "openssl",
        &["x509", "-noout", "-text", "-in", issuing.to_str().unwrap()],
    );
    assert!(
        text.contains("http://pki.kmn.example.jp/repo/kmn-root-g1.crl")
            && !text.contains("127.0.0.1"),
        "{text}"
    );
}

#[tokio::test]
async fn issue8_demo_ca_init_needs_no_configuration() {
    let env = Env::new();
    let mut c = env.cmd(&["ca", "init"]);
    c.env_remove("KMN_PUBLIC_BASE_URL")
        .env_remove("KMN_ORGANIZATION")
        .env("KMN_DEMO", "true");
    let o = c.output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("http://127.0.0.1:8080/repo/kmn-root-g1.crl")
    );
}

#[tokio::test]
async fn issue8_short_passphrase_is_a_clear_error_before_anything_is_written() {
    let env = Env::new();
    let mut c = env.cmd(&["ca", "init"]);
    c.env("KMN_CA_PASSPHRASE", "elevenchars");
    let o = c.output().unwrap();
    crate::support::assert_fails(&o, 1, "it must have at least 12");
    crate::support::assert_fails(&o, 1, "(E_PASSPHRASE)");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!err.contains("internal error"), "{err}");
    assert!(
        !env.data_dir().exists(),
        "no data dir, repo/ or secrets/ is left"
    );
}

#[tokio::test]
async fn issue8_failed_ceremony_removes_what_it_created() {
    let env = Env::new();
    // Fails inside the ceremony, after the data dir and the database were made.
    let o = env.run(&[
        "ca",
        "init",
        "--policy-arc",
        "2.25.329800735698586629295641978511506172918",
    ]);
    crate::support::assert_fails(&o, 1, "wider than 32 bits");
    assert!(
        !env.data_dir().exists(),
        "the failed ceremony left its data dir"
    );
    // Into an existing data dir with its kmn.toml: that stays, nothing else.
    std::fs::create_dir_all(env.data_dir()).unwrap();
    std::fs::write(env.data_dir().join("kmn.toml"), "demo = false\n").unwrap();
    let o = env.run(&[
        "ca",
        "init",
        "--policy-arc",
        "2.25.329800735698586629295641978511506172918",
    ]);
    crate::support::assert_fails(&o, 1, "wider than 32 bits");
    let mut left: Vec<String> = std::fs::read_dir(env.data_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    left.sort();
    assert_eq!(left, vec!["kmn.toml".to_string()]);
    // And the ceremony runs afterwards.
    env.init(&[]);
}

/// The serial of a PEM certificate, as OpenSSL prints it (uppercase hex).
fn openssl_serial(pem: &std::path::Path) -> String {
    let (ok, out) = tool(
        "openssl",
        &["x509", "-noout", "-serial", "-in", pem.to_str().unwrap()],
    );
    assert!(ok, "{out}");
    out.trim().trim_start_matches("serial=").to_string()
}

fn crl_text(env: &Env, file: &str) -> String {
    let pem = env.pem_of(&env.repo(file), "crl");
    let (ok, out) = tool(
        "openssl",
        &["crl", "-noout", "-text", "-in", pem.to_str().unwrap()],
    );
    assert!(ok, "{out}");
    out
}

/// Issue 8 item 1: revoking an issuing CA is a root act that re-signs the ARL, never an
/// entry on the issuing CA's own CRL (`kmn ca revoke-issuing`); the root itself and
/// end-entity certificates are refused, and so is the active issuing CA until
/// `kmn ca new-issuing` has made its successor.
async fn root_revokes_issuing_ca(db_url: Option<&str>) {
    let mut env = Env::new();
    if let Some(u) = db_url {
        env = env.env("KMN_DATABASE_URL", u);
    }
    env.init(&[]);
    let root = env.pem_of(&env.repo("kmn-root-g1.crt"), "cert");
    let g1 = env.pem_of(&env.repo("kmn-issuing-g1.crt"), "cert");
    let root_serial = openssl_serial(&root);
    let g1_serial = openssl_serial(&g1);
    let csr = env.csr("g1card", "p256", "/C=JP/O=Clinic/CN=Taro Yamada", &[]);
    let (g1_card, g1_card_serial) = env.issue("g1card", &csr, "user-card", "5y");

    // The active (and only) issuing CA: its successor must come first.
    let o = env.run(&[
        "ca",
        "revoke-issuing",
        "kmn-issuing-g1",
        "--reason",
        "ca-compromise",
    ]);
    assert_fails(&o, 1, "run `kmn ca new-issuing` first");
    assert_fails(&o, 1, "nothing was revoked");
    assert!(!crl_text(&env, "kmn-root-g1.crl").contains(&g1_serial));

    env.ok(&["ca", "new-issuing"]);
    // `kmn cert revoke` of an issuing CA names the root act.
    let o = env.run(&["cert", "revoke", &g1_serial, "--reason", "key-compromise"]);
    assert_fails(&o, 1, "kmn ca revoke-issuing");
    // ca-compromise is not a reason for an end-entity certificate.
    let o = env.run(&[
        "cert",
        "revoke",
        &g1_card_serial,
        "--reason",
        "ca-compromise",
    ]);
    assert_fails(&o, 1, "kmn ca revoke-issuing");

    let out = env.ok(&[
        "ca",
        "revoke-issuing",
        "kmn-issuing-g1",
        "--reason",
        "ca-compromise",
        "--comment",
        "HSM stolen",
    ]);
    assert!(
        out.contains("Issuing CA kmn-issuing-g1")
            && out.contains("(cACompromise)")
            && out.contains("ARL #2 of kmn-root-g1 published: 1 entries"),
        "{out}"
    );
    // On the ARL with its reason ...
    let arl = crl_text(&env, "kmn-root-g1.crl");
    let entry = arl
        .split("Serial Number: ")
        .find(|e| e.starts_with(&g1_serial))
        .unwrap_or_else(|| panic!("{g1_serial} not on the ARL:\n{arl}"));
    assert!(entry.contains("CA Compromise"), "{arl}");
    pkilint(
        "lint_crl",
        &[
            "-t",
            "ARL",
            "-p",
            "PKIX",
            env.pem_of(&env.repo("kmn-root-g1.crl"), "crl")
                .to_str()
                .unwrap(),
        ],
    );
    // ... never on its own CRL (published again after the revocation).
    let published = env.ok(&["crl", "publish"]);
    assert!(
        published.contains("of kmn-issuing-g1 published"),
        "{published}"
    );
    assert!(!crl_text(&env, "kmn-issuing-g1.crl").contains(&g1_serial));

    // A G1 card no longer validates: its issuer is revoked.
    let (ok, o) = env.verify_with_repository("kmn-issuing-g1", &g1_card, &[]);
    assert!(!ok && o.contains("certificate revoked"), "{o}");

    // New issuance is by G2.
    let csr = env.csr("g2card", "p256", "/C=JP/O=Clinic/CN=Hanako Sato", &[]);
    let (g2_card, _) = env.issue("g2card", &csr, "user-card", "5y");
    let (_, issuer) = tool(
        "openssl",
        &[
            "x509",
            "-noout",
            "-issuer",
            "-in",
            g2_card.to_str().unwrap(),
        ],
    );
    assert!(issuer.contains("Issuing CA G2"), "{issuer}");

    // Refused: again, the root (by name and by serial, and through `kmn cert revoke`),
    // an end-entity certificate, the active G2, an unknown name.
    let o = env.run(&["ca", "revoke-issuing", &g1_serial, "--reason", "superseded"]);
    assert_fails(&o, 1, "already revoked");
    for target in ["kmn-root-g1", root_serial.as_str()] {
        let o = env.run(&["ca", "revoke-issuing", target, "--reason", "key-compromise"]);
        assert_fails(&o, 1, "cannot revoke itself");
    }
    let o = env.run(&["cert", "revoke", &root_serial, "--reason", "key-compromise"]);
    assert_fails(&o, 1, "nothing was revoked");
    let o = env.run(&[
        "ca",
        "revoke-issuing",
        &g1_card_serial,
        "--reason",
        "key-compromise",
    ]);
    assert_fails(&o, 1, "revokes issuing CAs only");
    let o = env.run(&[
        "ca",
        "revoke-issuing",
        "kmn-issuing-g2",
        "--reason",
        "superseded",
    ]);
    assert_fails(&o, 1, "is the active issuing CA");
    let o = env.run(&[
        "ca",
        "revoke-issuing",
        "kmn-issuing-g9",
        "--reason",
        "superseded",
    ]);
    assert_fails(&o, 1, "no issuing CA named");
    let o = env.run(&[
        "ca",
        "revoke-issuing",
        "kmn-issuing-g2",
        "--reason",
        "affiliation-changed",
    ]);
    assert_eq!(o.status.code(), Some(2), "{o:?}");
    for serial in [&root_serial, &g1_card_serial] {
        assert!(
            env.ok(&["cert", "show", serial])
                .contains("status       valid")
        );
    }
    let shown = env.ok(&["cert", "show", &g1_serial]);
    assert!(shown.contains("status       revoked"), "{shown}");
    // Exactly one ARL entry and one audit event.
    assert!(
        env.ok(&["ca", "sign-arl"]).contains("1 entries"),
        "the ARL keeps exactly the revoked issuing CA"
    );
    let app = match db_url {
        Some(u) => {
            crate::support::app_with(
                u,
                &env.path("pg-app"),
                std::sync::Arc::new(kmn_app::FixedClock::new(time::OffsetDateTime::now_utc())),
            )
            .await
        }
        None => env.app().await,
    };
    use sqlx::Row;
    let rows = sqlx::query(
        "SELECT actor, object, summary FROM audit_events WHERE action = 'ca.revoke_issuing'",
    )
    .fetch_all(app.store_for_tests().pool())
    .await
    .unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].get::<String, _>(1), "ca:kmn-issuing-g1");
    let summary: String = rows[0].get(2);
    assert!(
        summary.contains("cACompromise") && summary.contains("HSM stolen"),
        "{summary}"
    );
    // No login under the revoked issuing CA: the card's own certificate is still valid,
    // its issuer's is not. A G2 certificate is not refused for that reason (it has no
    // account, so it is refused for that).
    let der_of = |pem: &std::path::Path| {
        let text = std::fs::read_to_string(pem).unwrap();
        let b64: String = text.lines().filter(|l| !l.starts_with("-----")).collect();
        base64::Engine::decode(&base64::engine::general_purpose::STANDARD, b64).unwrap()
    };
    match kmn_app::actor::authenticate(&app, &der_of(&g1_card)).await {
        Err(kmn_app::AppError::Unauthenticated(m)) => {
            assert!(m.contains("発行した認証局の証明書が失効"), "{m}")
        }
        other => panic!("a G1 card authenticated: {other:?}"),
    }
    match kmn_app::actor::authenticate(&app, &der_of(&g2_card)).await {
        Err(kmn_app::AppError::Forbidden(m)) => assert!(m.contains("アカウント"), "{m}"),
        other => panic!("{other:?}"),
    }
    env.ok(&["audit", "verify"]);
}

#[tokio::test]
async fn issue8_root_revokes_an_issuing_ca_on_the_arl_never_on_its_own_crl() {
    root_revokes_issuing_ca(None).await;
}

#[tokio::test]
async fn issue8_root_revokes_an_issuing_ca_on_the_arl_never_on_its_own_crl_postgres() {
    if let Some(url) = crate::support::pg_url("revoke_issuing").await {
        root_revokes_issuing_ca(Some(&url)).await;
    }
}

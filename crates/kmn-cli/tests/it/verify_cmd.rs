//! `kmn verify`: exit 0 valid, 1 invalid with the reason, 2 usage; CRL checking of the
//! whole chain; the kmn profile.

use crate::support::{Env, assert_fails};

#[tokio::test]
async fn verify_valid_revoked_and_profile() {
    let env = Env::new();
    env.init(&[]);
    let root = env.repo("kmn-root-g1.crt");
    let iss = env.repo("kmn-issuing-g1.crt");
    let csr = env.csr("u", "p256", "/C=JP/O=Clinic/CN=Taro", &[]);
    let (user, serial) = env.issue("u", &csr, "user-card", "3y");
    let scsr = env.csr("s", "p256", "/CN=kmn.example.jp", &[]);
    let (server, _) = env.issue("s", &scsr, "server", "3y");
    let (r, i, u, s) = (
        root.to_str().unwrap(),
        iss.to_str().unwrap(),
        user.to_str().unwrap(),
        server.to_str().unwrap(),
    );
    let arl = env.repo("kmn-root-g1.crl");
    let crl = env.repo("kmn-issuing-g1.crl");
    let (a, c) = (arl.to_str().unwrap(), crl.to_str().unwrap());

    let out = env.ok(&[
        "verify",
        "--anchor",
        r,
        "--intermediates",
        i,
        "--crl",
        a,
        "--crl",
        c,
        u,
    ]);
    assert!(
        out.contains("valid") && out.contains("revocation checked"),
        "{out}"
    );
    env.ok(&[
        "verify",
        "--anchor",
        r,
        "--intermediates",
        i,
        "--purpose",
        "client-auth",
        "--profile",
        "kmn",
        u,
    ]);
    // A server certificate is not a network login (R2 第2条3).
    let o = env.run(&[
        "verify",
        "--anchor",
        r,
        "--intermediates",
        i,
        "--purpose",
        "client-auth",
        "--profile",
        "kmn",
        s,
    ]);
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    // Without the intermediate there is no path.
    assert_eq!(
        env.run(&["verify", "--anchor", r, u]).status.code(),
        Some(1)
    );
    // In 4 years the 3-year certificate has expired.
    let o = env.run(&[
        "verify",
        "--anchor",
        r,
        "--intermediates",
        i,
        "--at",
        "2031-01-01T00:00:00Z",
        u,
    ]);
    assert_fails(&o, 1, "expired");

    env.ok(&["cert", "revoke", &serial, "--reason", "affiliation-changed"]);
    let o = env.run(&[
        "verify",
        "--anchor",
        r,
        "--intermediates",
        i,
        "--crl",
        a,
        "--crl",
        c,
        u,
    ]);
    assert_fails(&o, 1, "revoked");
    // Only the ARL given: the leaf has no CRL, which must fail, not pass.
    let o = env.run(&["verify", "--anchor", r, "--intermediates", i, "--crl", a, u]);
    assert_eq!(o.status.code(), Some(1));

    // Usage errors exit 2.
    assert_eq!(
        env.run(&["verify", "--anchor", "/nonexistent", u])
            .status
            .code(),
        Some(2)
    );
    assert_eq!(env.run(&["verify", u]).status.code(), Some(2));
    assert_eq!(
        env.run(&["verify", "--anchor", r, "--at", "yesterday", u])
            .status
            .code(),
        Some(2)
    );
}

/// Issue #11: `kmn verify --purpose server-auth --dns-name NAME` for the network's own TLS
/// servers — id-kp-serverAuth in the leaf, the name as a subjectAltName dNSName (RFC 6125,
/// no common-name fallback).
#[tokio::test]
async fn issue11_verify_server_auth_dns_name() {
    let env = Env::new();
    env.init(&[]);
    let root = env.repo("kmn-root-g1.crt");
    let iss = env.repo("kmn-issuing-g1.crt");
    let scsr = env.csr("s", "p256", "/CN=kmn.example.jp", &[]);
    let (server, _) = env.issue("s", &scsr, "server", "3y");
    let ucsr = env.csr("u", "p256", "/C=JP/O=Clinic/CN=Taro", &[]);
    let (user, _) = env.issue("u", &ucsr, "user-card", "3y");
    let (arl, crl) = (env.repo("kmn-root-g1.crl"), env.repo("kmn-issuing-g1.crl"));
    let (r, i, s, u, a, c) = (
        root.to_str().unwrap(),
        iss.to_str().unwrap(),
        server.to_str().unwrap(),
        user.to_str().unwrap(),
        arl.to_str().unwrap(),
        crl.to_str().unwrap(),
    );
    let base = ["verify", "--anchor", r, "--intermediates", i];
    fn join<'a>(base: &[&'a str], extra: &[&'a str]) -> Vec<&'a str> {
        [base, extra].concat()
    }

    let out = env.ok(&join(
        &base,
        &[
            "--crl",
            a,
            "--crl",
            c,
            "--purpose",
            "server-auth",
            "--dns-name",
            "KMN.example.jp",
            s,
        ],
    ));
    assert!(
        out.contains("valid: CN=kmn.example.jp") && out.contains("revocation checked"),
        "{out}"
    );
    // The kmn profile takes the CA's server policy for a server.
    env.ok(&join(
        &base,
        &[
            "--purpose",
            "server-auth",
            "--profile",
            "kmn",
            "--dns-name",
            "kmn.example.jp",
            s,
        ],
    ));
    let o = env.run(&join(
        &base,
        &[
            "--purpose",
            "server-auth",
            "--dns-name",
            "other.example.jp",
            s,
        ],
    ));
    assert_fails(
        &o,
        1,
        "is not valid for the DNS name 'other.example.jp': its subjectAltName DNS names are kmn.example.jp",
    );
    // A user card is not a server.
    let o = env.run(&join(&base, &["--purpose", "server-auth", u]));
    assert_fails(&o, 1, "does not include id-kp-serverAuth");
    // Nor is a server a client.
    let o = env.run(&join(&base, &["--purpose", "client-auth", s]));
    assert_fails(&o, 1, "does not include id-kp-clientAuth");
    // Usage errors: a wildcard or an address as the name, a name without server-auth.
    let o = env.run(&join(
        &base,
        &["--purpose", "server-auth", "--dns-name", "*.example.jp", s],
    ));
    assert_fails(
        &o,
        2,
        "--dns-name: could not parse the DNS name '*.example.jp'",
    );
    let o = env.run(&join(
        &base,
        &["--purpose", "server-auth", "--dns-name", "192.0.2.1", s],
    ));
    assert_fails(&o, 2, "IP address");
    let o = env.run(&join(&base, &["--dns-name", "kmn.example.jp", s]));
    assert_fails(&o, 2, "--dns-name needs --purpose server-auth");
}

/// Issue #11, revocation live: `kmn verify --crl-url` fetches the CRLs from a real `kmn up`
/// repository into the revocation index; a revocation shows after a refetch; a URL that
/// cannot be fetched fails closed with the reason.
#[test]
fn issue11_verify_crl_url_from_kmn_up() {
    let env = Env::new();
    let srv = crate::serve::start(&env);
    let pass = std::fs::read_to_string(env.data_dir().join("secrets/ca-passphrase")).unwrap();
    let env = env.env("KMN_CA_PASSPHRASE", pass.trim());
    let root = env.repo("kmn-root-g1.crt");
    let iss = env.repo("kmn-issuing-g1.crt");
    let csr = env.csr("u", "p256", "/C=JP/O=Clinic/CN=Taro", &[]);
    let (user, serial) = env.issue("u", &csr, "user-card", "3y");
    let (r, i, u) = (
        root.to_str().unwrap(),
        iss.to_str().unwrap(),
        user.to_str().unwrap(),
    );
    let arl = format!("{}/repo/kmn-root-g1.crl", srv.http);
    let crl = format!("{}/repo/kmn-issuing-g1.crl", srv.http);
    let base = ["verify", "--anchor", r, "--intermediates", i];
    let with = |extra: &[&str]| -> Vec<String> {
        base.iter()
            .chain(extra)
            .map(|s| s.to_string())
            .chain([u.to_string()])
            .collect()
    };
    let run = |args: Vec<String>| {
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        env.run(&a)
    };

    let o = run(with(&["--crl-url", &arl, "--crl-url", &crl]));
    let out = String::from_utf8_lossy(&o.stdout).to_string();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{out}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(out.contains(&format!("fetched {crl}: cRLNumber")), "{out}");
    assert!(out.contains("revocation checked"), "{out}");

    // The library's fetcher against the same repository: a refetch is a 304.
    let store = std::sync::Arc::new(kmn_verify::RevocationStore::new(Default::default()));
    let issuers = [r, i]
        .iter()
        .flat_map(|p| kmn_verify::load_pem_or_der_bundle(&std::fs::read(p).unwrap()).unwrap())
        .collect();
    let fetcher = kmn_crl_fetch::Fetcher::new(
        std::sync::Arc::clone(&store),
        issuers,
        vec![arl.clone(), crl.clone()],
        kmn_crl_fetch::FetcherConfig::default(),
    )
    .unwrap();
    let first = fetcher.refresh_all();
    assert!(
        first
            .iter()
            .all(|(_, o)| matches!(o, kmn_crl_fetch::Outcome::Updated { .. })),
        "{first:?}"
    );
    let again = fetcher.refresh_all();
    assert!(
        again
            .iter()
            .all(|(_, o)| *o == kmn_crl_fetch::Outcome::NotModified),
        "{again:?}"
    );

    env.ok(&["cert", "revoke", &serial, "--reason", "affiliation-changed"]);
    let o = run(with(&["--crl-url", &arl, "--crl-url", &crl]));
    assert_fails(&o, 1, "revoked");
    let again = fetcher.refresh_all();
    assert!(
        matches!(
            &again[1].1,
            kmn_crl_fetch::Outcome::Updated { entries: 1, .. }
        ),
        "{again:?}"
    );

    // An unreachable CRL: the certificates it covers fail closed, with the reason.
    drop(srv);
    let o = run(with(&["--crl-url", &arl, "--crl-url", &crl]));
    assert_fails(&o, 1, "no CRL covers certificate");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("never loaded") && err.contains("cannot connect"),
        "{err}"
    );
    // Not an http:// URL: a usage error.
    assert_eq!(
        run(with(&["--crl-url", "https://example.jp/x.crl"]))
            .status
            .code(),
        Some(2)
    );
}

/// Issue #11 "revocation live", OCSP: `kmn verify --ocsp-url` and kmn-crl-fetch's OcspCache
/// against the real responder of `kmn serve` (pre-signed responses from a delegated signer):
/// good, then revoked right after `kmn cert revoke`; a certificate the responder does not
/// serve fails closed.
#[test]
fn issue11_verify_ocsp_from_kmn_serve() {
    let env = Env::new();
    let srv = crate::serve::start(&env);
    let pass = std::fs::read_to_string(env.data_dir().join("secrets/ca-passphrase")).unwrap();
    let env = env.env("KMN_CA_PASSPHRASE", pass.trim());
    let root = env.repo("kmn-root-g1.crt");
    let iss = env.repo("kmn-issuing-g1.crt");
    let csr = env.csr("u", "p256", "/C=JP/O=Clinic/CN=Taro", &[]);
    let (user, serial) = env.issue("u", &csr, "user-card", "3y");
    let (r, i, u) = (
        root.to_str().unwrap(),
        iss.to_str().unwrap(),
        user.to_str().unwrap(),
    );
    let ocsp = format!("{}/ocsp", srv.http);
    let args = [
        "verify",
        "--anchor",
        r,
        "--intermediates",
        i,
        "--ocsp-url",
        &ocsp,
        u,
    ];

    // The signer loop pre-signs the new certificate's response within a moment (until then
    // the responder answers tryLater, and kmn verify fails closed).
    let started = std::time::Instant::now();
    let out = loop {
        let o = env.run(&args);
        if o.status.code() == Some(0) {
            break String::from_utf8_lossy(&o.stdout).to_string();
        }
        let err = String::from_utf8_lossy(&o.stderr).to_string();
        assert!(err.contains("invalid: OCSP:"), "{err}");
        assert!(
            started.elapsed() < std::time::Duration::from_secs(30),
            "no good OCSP answer: {err}"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    };
    assert!(out.contains("OCSP: good (thisUpdate"), "{out}");
    assert!(out.contains("valid: "), "{out}");

    // The library cache against the same responder.
    let load = |p: &std::path::Path| {
        kmn_verify::load_pem_or_der_bundle(&std::fs::read(p).unwrap())
            .unwrap()
            .remove(0)
    };
    let (leaf, issuer) = (load(&user), load(&iss));
    let cache = kmn_crl_fetch::OcspCache::new(kmn_crl_fetch::OcspConfig {
        responder_url: Some(ocsp.clone()),
        refresh: std::time::Duration::from_secs(1),
        ..Default::default()
    })
    .unwrap();
    let now = || time::OffsetDateTime::now_utc().unix_timestamp();
    assert!(matches!(
        cache.refresh_now(&leaf, &issuer, now()),
        kmn_crl_fetch::OcspStatus::Good { .. }
    ));

    env.ok(&["cert", "revoke", &serial, "--reason", "affiliation-changed"]);
    let started = std::time::Instant::now();
    loop {
        let o = env.run(&args);
        if o.status.code() == Some(1)
            && String::from_utf8_lossy(&o.stderr).contains("was revoked on")
        {
            break;
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(30),
            "not seen revoked: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    assert_fails(&env.run(&args), 1, "(reason: affiliationChanged)");
    // The cache sees it at its next refresh (due after 1 s here).
    std::thread::sleep(std::time::Duration::from_millis(1100));
    cache.refresh_due(now());
    assert!(
        matches!(
            cache.status(&leaf, &issuer, now()),
            kmn_crl_fetch::OcspStatus::Revoked { .. }
        ),
        "{:?}",
        cache.entries()
    );

    // Something that is not an OCSP responder (a 404): fails closed, with the reason.
    let other = env.csr("o", "p256", "/C=JP/O=Clinic/CN=Jiro", &[]);
    let (other, _) = env.issue("o", &other, "user-card", "3y");
    let o = env.run(&[
        "verify",
        "--anchor",
        r,
        "--intermediates",
        i,
        "--ocsp-url",
        &format!("{}/no-such-responder", srv.http),
        other.to_str().unwrap(),
    ]);
    assert_fails(&o, 1, "invalid: OCSP:");
    assert_fails(
        &env.run(&["verify", "--anchor", r, "--ocsp-url", "https://x/ocsp", u]),
        2,
        "only http:// responders",
    );
}

/// Issue #11 item 2 through the binary: `kmn verify --hpki-anchor` with an HPKI-like CA made
/// by openssl after the published HPKI certificate profiles (RSA-2048; an authentication
/// certificate with digitalSignature and the authentication policy; a signature certificate
/// with nonRepudiation, the signature policy and hcRole): the authentication certificate is
/// accepted and named, the signature certificate refused with the reason, a card of another
/// HPKI CA refused; the policy options override the defaults.
#[test]
fn issue11_verify_hpki_anchor_with_openssl_cards() {
    use crate::support::tool;
    let env = Env::new();
    let p = |n: &str| env.path(n).to_str().unwrap().to_string();
    // hcRole "Medical Doctor" (ISO 17090-3, scheme 1.2.392.100495.1.6.1.1) as
    // subjectDirectoryAttributes.
    let hc_role = "3030302E0606288185420001312431223020A01E301C060A2A830886910F010601010C0E4D65646963616C20446F63746F72";
    std::fs::write(
        env.path("hpki.cnf"),
        format!(
            "[req]\ndistinguished_name = dn\n[dn]\n\
             [root]\nbasicConstraints = critical,CA:true\nkeyUsage = critical,keyCertSign,cRLSign\nsubjectKeyIdentifier = hash\n\
             [auth]\nkeyUsage = critical,digitalSignature\ncertificatePolicies = 1.2.392.100495.1.5.1.2.1\nsubjectKeyIdentifier = hash\nauthorityKeyIdentifier = keyid\n\
             [sig]\nkeyUsage = critical,nonRepudiation\ncertificatePolicies = 1.2.392.100495.1.5.1.1.1\nsubjectKeyIdentifier = hash\nauthorityKeyIdentifier = keyid\n2.5.29.9 = DER:{hc_role}\n"
        ),
    )
    .unwrap();
    let run = |args: &[&str]| {
        let (ok, out) = tool("openssl", args);
        assert!(ok, "openssl {args:?}: {out}");
    };
    let cnf = p("hpki.cnf");
    for root in ["root", "other"] {
        run(&[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-sha256",
            "-keyout",
            &p(&format!("{root}.key")),
            "-out",
            &p(&format!("{root}.pem")),
            "-subj",
            "/C=JP/O=HPKI Test/CN=HPKI Test Root CA",
            "-days",
            "3650",
            "-config",
            &cnf,
            "-extensions",
            "root",
        ]);
    }
    for (cert, ext, ca) in [
        ("auth", "auth", "root"),
        ("sig", "sig", "root"),
        ("stranger", "auth", "other"),
    ] {
        run(&[
            "req",
            "-new",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            &p(&format!("{cert}.key")),
            "-subj",
            "/C=JP/CN=YAMADA TARO",
            "-out",
            &p(&format!("{cert}.csr")),
            "-config",
            &cnf,
        ]);
        run(&[
            "x509",
            "-req",
            "-sha256",
            "-in",
            &p(&format!("{cert}.csr")),
            "-CA",
            &p(&format!("{ca}.pem")),
            "-CAkey",
            &p(&format!("{ca}.key")),
            "-set_serial",
            "0x1234abcd",
            "-days",
            "1000",
            "-extfile",
            &cnf,
            "-extensions",
            ext,
            "-out",
            &p(&format!("{cert}.pem")),
        ]);
    }
    let root = p("root.pem");
    let verify = |cert: &str, extra: &[&str]| {
        let mut args = vec!["verify", "--hpki-anchor", &root, "--purpose", "client-auth"];
        args.extend_from_slice(extra);
        let c = p(cert);
        args.push(&c);
        env.run(&args)
    };
    let o = verify("auth.pem", &[]);
    let out = String::from_utf8_lossy(&o.stdout).to_string();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{out}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(out.contains("valid: CN=YAMADA TARO"), "{out}");
    assert!(
        out.contains("credential: hpki, issuer 'CN=HPKI Test Root CA, O=HPKI Test, C=JP', serial 1234abcd, SPKI SHA-256 "),
        "{out}"
    );
    assert_fails(
        &verify("sig.pem", &[]),
        1,
        "it is an HPKI signature certificate (certificate policy 1.2.392.100495.1.5.1.1.1), not the authentication certificate",
    );
    assert_fails(&verify("stranger.pem", &[]), 1, "invalid: ");
    // With the policy options: an authentication policy that is not the card's refuses it;
    // the signature certificate stays refused by its keyUsage whatever the OIDs.
    assert_fails(
        &verify("auth.pem", &["--hpki-auth-policy-oid", "1.2.392.100495.9"]),
        1,
        "is not an HPKI authentication certificate",
    );
    assert_fails(
        &verify(
            "sig.pem",
            &[
                "--hpki-auth-policy-oid",
                "1.2.392.100495.1.5.1.1",
                "--hpki-signature-policy-oid",
                "1.2.392.100495.9",
            ],
        ),
        1,
        "its keyUsage has nonRepudiation",
    );
    assert_fails(
        &verify("auth.pem", &["--hpki-auth-policy-oid", "not-an-oid"]),
        2,
        "--hpki-auth-policy-oid 'not-an-oid' is not an OID",
    );
}

/// Issue #11 "revocation live": `kmn verify --ocsp-url` against OpenSSL's own OCSP responder
/// (`openssl ocsp -port`, responses signed by the CA itself, responderID by key): another
/// implementation's GET requests and responses interoperate; good, then revoked.
#[test]
fn issue11_verify_ocsp_against_openssl_responder() {
    use crate::support::tool;
    let env = Env::new();
    let p = |n: &str| env.path(n).to_str().unwrap().to_string();
    let run = |args: &[&str]| {
        let (ok, out) = tool("openssl", args);
        assert!(ok, "openssl {args:?}: {out}");
    };
    std::fs::write(
        env.path("ca.cnf"),
        "[req]\ndistinguished_name = dn\n[dn]\n\
         [ca]\nbasicConstraints = critical,CA:true\nkeyUsage = critical,keyCertSign,cRLSign\nsubjectKeyIdentifier = hash\n\
         [leaf]\nkeyUsage = critical,digitalSignature\nextendedKeyUsage = clientAuth\nsubjectKeyIdentifier = hash\nauthorityKeyIdentifier = keyid\n",
    )
    .unwrap();
    let cnf = p("ca.cnf");
    run(&[
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-keyout",
        &p("ca.key"),
        "-out",
        &p("ca.pem"),
        "-subj",
        "/C=JP/CN=OpenSSL OCSP Test CA",
        "-days",
        "30",
        "-config",
        &cnf,
        "-extensions",
        "ca",
    ]);
    run(&[
        "req",
        "-new",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-keyout",
        &p("leaf.key"),
        "-out",
        &p("leaf.csr"),
        "-subj",
        "/C=JP/CN=Taro",
        "-config",
        &cnf,
    ]);
    run(&[
        "x509",
        "-req",
        "-in",
        &p("leaf.csr"),
        "-CA",
        &p("ca.pem"),
        "-CAkey",
        &p("ca.key"),
        "-set_serial",
        "0x0abc",
        "-days",
        "10",
        "-extfile",
        &cnf,
        "-extensions",
        "leaf",
        "-out",
        &p("leaf.pem"),
    ]);
    let serve = |index: &str| {
        std::fs::write(env.path("index.txt"), index).unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = std::process::Command::new("openssl")
            .args([
                "ocsp",
                "-index",
                &p("index.txt"),
                "-port",
                &port.to_string(),
                "-rsigner",
                &p("ca.pem"),
                "-rkey",
                &p("ca.key"),
                "-CA",
                &p("ca.pem"),
                "-ndays",
                "1",
                "-resp_key_id",
            ])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        (child, format!("http://127.0.0.1:{port}"))
    };
    let (ca, leaf) = (p("ca.pem"), p("leaf.pem"));

    // The responder takes a moment to listen (no probe: it serves one connection at a time).
    let ask = |url: &str| {
        let started = std::time::Instant::now();
        loop {
            let o = env.run(&["verify", "--anchor", &ca, "--ocsp-url", url, &leaf]);
            if !String::from_utf8_lossy(&o.stderr).contains("cannot connect")
                || started.elapsed() > std::time::Duration::from_secs(10)
            {
                return o;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    };
    let (mut child, url) = serve("V\t300101000000Z\t\t0ABC\tunknown\t/C=JP/CN=Taro\n");
    let o = ask(&url);
    let _ = child.kill();
    let _ = child.wait();
    let out = String::from_utf8_lossy(&o.stdout).to_string();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{out}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(out.contains("OCSP: good"), "{out}");

    let (mut child, url) =
        serve("R\t300101000000Z\t260101000000Z,keyCompromise\t0ABC\tunknown\t/C=JP/CN=Taro\n");
    let o = ask(&url);
    let _ = child.kill();
    let _ = child.wait();
    assert_fails(
        &o,
        1,
        "was revoked on 2026-01-01T00:00:00Z (reason: keyCompromise)",
    );
}

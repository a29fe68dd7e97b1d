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

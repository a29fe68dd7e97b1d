//! Bad input gets a clear error and changes nothing.

use crate::support::{Env, assert_fails, snapshot};

#[tokio::test]
async fn malformed_csr_is_refused_and_nothing_changes() {
    let env = Env::new();
    env.init(&[]);
    let app = env.app().await;
    let before = snapshot(&app).await;
    let bad = env.path("bad.csr");
    std::fs::write(
        &bad,
        "-----BEGIN CERTIFICATE REQUEST-----\nbm90IGEgY3Ny\n-----END CERTIFICATE REQUEST-----\n",
    )
    .unwrap();
    let o = env.run(&[
        "cert",
        "issue",
        "--csr",
        bad.to_str().unwrap(),
        "--validity",
        "3y",
    ]);
    assert_fails(&o, 1, "the CSR is not acceptable");
    std::fs::write(&bad, b"\x00\x01garbage").unwrap();
    let o = env.run(&[
        "cert",
        "issue",
        "--csr",
        bad.to_str().unwrap(),
        "--validity",
        "3y",
    ]);
    assert_fails(&o, 1, "(E_BAD_INPUT)");
    assert_eq!(snapshot(&app).await, before);
}

#[tokio::test]
async fn wrongly_signed_csr_is_refused_and_nothing_changes() {
    let env = Env::new();
    env.init(&[]);
    let app = env.app().await;
    let before = snapshot(&app).await;
    let csr = env.csr("u", "p256", "/C=JP/O=Clinic/CN=Taro", &["-outform", "DER"]);
    let mut der = std::fs::read(&csr).unwrap();
    let n = der.len();
    der[n - 5] ^= 0x01; // inside the signature
    std::fs::write(&csr, &der).unwrap();
    let o = env.run(&[
        "cert",
        "issue",
        "--csr",
        csr.to_str().unwrap(),
        "--validity",
        "3y",
    ]);
    assert_fails(&o, 1, "signature does not verify");
    assert_eq!(snapshot(&app).await, before);
}

#[tokio::test]
async fn weak_csr_key_is_refused() {
    let env = Env::new();
    env.init(&[]);
    let csr = env.csr("u", "rsa1024", "/C=JP/O=Clinic/CN=Taro", &[]);
    let o = env.run(&[
        "cert",
        "issue",
        "--csr",
        csr.to_str().unwrap(),
        "--validity",
        "3y",
    ]);
    assert_fails(&o, 1, "at least 2048");
}

#[tokio::test]
async fn wrong_passphrase_is_refused_and_nothing_changes() {
    let env = Env::new();
    env.init(&[]);
    let app = env.app().await;
    let before = snapshot(&app).await;
    let csr = env.csr("u", "p256", "/C=JP/O=Clinic/CN=Taro", &[]);
    let mut c = env.cmd(&[
        "cert",
        "issue",
        "--csr",
        csr.to_str().unwrap(),
        "--validity",
        "3y",
    ]);
    c.env("KMN_CA_PASSPHRASE", "this-is-the-wrong-one");
    let o = c.output().unwrap();
    assert_fails(&o, 1, "passphrase is wrong");
    assert_fails(&o, 1, "(E_PASSPHRASE)");
    let mut c = env.cmd(&["crl", "publish"]);
    c.env("KMN_CA_PASSPHRASE", "this-is-the-wrong-one");
    assert_fails(&c.output().unwrap(), 1, "passphrase is wrong");
    let mut c = env.cmd(&["ca", "sign-arl"]);
    c.env_remove("KMN_CA_PASSPHRASE");
    assert_fails(&c.output().unwrap(), 1, "KMN_CA_PASSPHRASE");
    assert_eq!(snapshot(&app).await, before);
}

#[tokio::test]
async fn unknown_profile_and_four_year_validity_are_usage_errors() {
    let env = Env::new();
    env.init(&[]);
    let csr = env.csr("u", "p256", "/C=JP/O=Clinic/CN=Taro", &[]);
    let o = env.run(&[
        "cert",
        "issue",
        "--csr",
        csr.to_str().unwrap(),
        "--profile",
        "doctor",
        "--validity",
        "3y",
    ]);
    assert_fails(&o, 2, "unknown profile 'doctor'");
    let o = env.run(&[
        "cert",
        "issue",
        "--csr",
        csr.to_str().unwrap(),
        "--validity",
        "4y",
    ]);
    assert_fails(&o, 2, "第10条");
    let o = env.run(&[
        "cert",
        "issue",
        "--csr",
        csr.to_str().unwrap(),
        "--profile",
        "root",
        "--validity",
        "3y",
    ]);
    assert_fails(&o, 1, "cannot be issued from a CSR");
    let o = env.run(&["cert", "revoke", "zz", "--reason", "key-compromise"]);
    assert_fails(&o, 2, "not hexadecimal");
    let o = env.run(&["cert", "revoke", "01", "--reason", "bored"]);
    assert_fails(&o, 2, "unknown revocation reason");
    let o = env.run(&["cert", "revoke", "0102030405", "--reason", "superseded"]);
    assert_fails(&o, 1, "no certificate with serial 0102030405");
}

#[tokio::test]
async fn unreachable_database_is_a_clear_error() {
    let env = Env::new();
    env.init(&[]);
    let mut c = env.cmd(&["crl", "publish"]);
    c.env(
        "KMN_DATABASE_URL",
        "postgres://kmn:secret-pw@127.0.0.1:1/kmn",
    );
    let o = c.output().unwrap();
    assert_fails(&o, 1, "cannot open the database");
    assert_fails(&o, 1, "(E_DB_UNAVAILABLE)");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        !err.contains("secret-pw"),
        "the password must be redacted: {err}"
    );
}

#[tokio::test]
async fn unwritable_repository_fails_publication_and_nothing_changes() {
    let env = Env::new();
    env.init(&[]);
    let app = env.app().await;
    let before = snapshot(&app).await;
    // Tests run as root: a path under a regular file cannot be written by anyone.
    let file = env.path("a-regular-file");
    std::fs::write(&file, "x").unwrap();
    let repo = file.join("repo");
    let mut c = env.cmd(&["crl", "publish"]);
    c.env("KMN_REPOSITORY_DIR", &repo);
    let o = c.output().unwrap();
    assert_fails(&o, 1, "repository directory");
    assert_fails(&o, 1, "(E_IO)");
    assert_eq!(snapshot(&app).await, before);
}

#[tokio::test]
async fn ceremony_with_unwritable_repository_leaves_no_trace() {
    let env = Env::new();
    let file = env.path("a-regular-file");
    std::fs::write(&file, "x").unwrap();
    let mut c = env.cmd(&["ca", "init"]);
    c.env("KMN_REPOSITORY_DIR", file.join("repo"));
    let o = c.output().unwrap();
    assert_fails(&o, 1, "repository directory");
    let secrets = env.data_dir().join("secrets");
    assert!(!secrets.exists() || std::fs::read_dir(&secrets).unwrap().count() == 0);
    // A later ceremony with a good repository works: nothing half-made blocks it.
    env.init(&[]);
}

#[tokio::test]
async fn second_ca_init_is_refused_and_keys_stay() {
    let env = Env::new();
    env.init(&[]);
    let app = env.app().await;
    let before = snapshot(&app).await;
    let o = env.run(&["ca", "init"]);
    assert_fails(&o, 1, "a CA already exists");
    assert_fails(&o, 1, "(E_CA_STATE)");
    assert_eq!(snapshot(&app).await, before);
}

#[tokio::test]
async fn ceremony_parameters_are_checked() {
    let env = Env::new();
    let o = env.run(&["ca", "init", "--issuing-years", "9"]);
    assert_fails(&o, 1, "at least 10 years");
    let o = env.run(&["ca", "init", "--root-key", "dsa"]);
    assert_fails(&o, 2, "unknown key algorithm");
    let o = env.run(&[
        "ca",
        "init",
        "--policy-arc",
        "2.25.329800735698586629295641978511506172918",
    ]);
    assert_fails(&o, 1, "wider than 32 bits");
    let mut c = env.cmd(&["ca", "init"]);
    c.env_remove("KMN_CA_PASSPHRASE");
    assert_fails(&c.output().unwrap(), 1, "KMN_CA_PASSPHRASE");
    let mut c = env.cmd(&["ca", "init"]);
    c.env("KMN_CA_PASSPHRASE", "short");
    assert_fails(&c.output().unwrap(), 1, "at least 12 characters");
    assert!(!env.data_dir().join("secrets/kmn-root-g1.key.pem").exists());
}

#[tokio::test]
async fn config_check_reports_typos_and_redacts_secrets() {
    let env = Env::new();
    env.init(&[]);
    let cfg = env.data_dir().join("kmn.toml");
    let good = std::fs::read_to_string(&cfg).unwrap();
    let out = env.ok(&["config", "check"]);
    assert!(out.contains("database: reachable"), "{out}");
    std::fs::write(&cfg, format!("{good}\ndatabse_url = 'x'\n")).unwrap();
    let o = env.run(&["config", "check"]);
    assert_fails(&o, 1, "unknown field");
    std::fs::write(&cfg, good).unwrap();
    let mut c = env.cmd(&["config", "check"]);
    c.env(
        "KMN_DATABASE_URL",
        "postgres://kmn:hunter2-secret@127.0.0.1:1/kmn",
    );
    let o = c.output().unwrap();
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(!all.contains("hunter2-secret"), "{all}");
}

#[tokio::test]
async fn issue8_passphrase_and_pin_files_readable_by_others_are_refused() {
    use std::os::unix::fs::PermissionsExt;
    let env = Env::new();
    let pass = env.path("ca-passphrase");
    std::fs::write(&pass, crate::support::PASSPHRASE).unwrap();
    std::fs::set_permissions(&pass, std::fs::Permissions::from_mode(0o644)).unwrap();
    let mut c = env.cmd(&["ca", "init"]);
    c.env_remove("KMN_CA_PASSPHRASE")
        .env("KMN_CA_PASSPHRASE_FILE", &pass);
    let o = c.output().unwrap();
    assert_fails(&o, 1, "is accessible by others (mode 0644)");
    assert_fails(&o, 1, &format!("chmod 600 {}", pass.display()));
    assert_fails(&o, 1, "(E_CONFIG)");
    assert!(!env.data_dir().exists());
    // An HSM PIN file readable by the group: refused before any module is loaded.
    let pin = env.path("hsm-pin");
    std::fs::write(&pin, "20261126").unwrap();
    std::fs::set_permissions(&pin, std::fs::Permissions::from_mode(0o640)).unwrap();
    let mut c = env.cmd(&[
        "ca",
        "init",
        "--hsm-module",
        "/nonexistent/libpkcs11.so",
        "--token-label",
        "kmn-ca",
    ]);
    c.env("KMN_HSM_PIN_FILE", &pin);
    let o = c.output().unwrap();
    assert_fails(&o, 1, "KMN_HSM_PIN_FILE=");
    assert_fails(&o, 1, "is accessible by others (mode 0640)");
    assert!(!env.data_dir().exists());
    // Owner-only: accepted.
    std::fs::set_permissions(&pass, std::fs::Permissions::from_mode(0o600)).unwrap();
    let mut c = env.cmd(&["ca", "init"]);
    c.env_remove("KMN_CA_PASSPHRASE")
        .env("KMN_CA_PASSPHRASE_FILE", &pass);
    let o = c.output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

/// Issue 8 item 4: every CSR of the hostile corpus (`tests/hostile/csr/`, the two of the
/// issue among them: an EC key whose BIT STRING is empty, RSASSA-PSS parameters
/// `[0] SEQUENCE {}`) is refused with a clear error and exit 1, never a panic (exit 101),
/// and nothing changes.
#[tokio::test]
async fn issue8_hostile_csrs_are_refused_without_a_panic() {
    let env = Env::new();
    env.init(&[]);
    let app = env.app().await;
    let before = snapshot(&app).await;
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/hostile/csr");
    let mut files: Vec<std::path::PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert!(
        files.len() >= 50,
        "the corpus is missing: {}",
        dir.display()
    );
    for f in &files {
        let name = f.file_name().unwrap().to_string_lossy().into_owned();
        let o = env.run(&[
            "cert",
            "issue",
            "--csr",
            f.to_str().unwrap(),
            "--validity",
            "3y",
        ]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!err.contains("panicked"), "{name}: {err}");
        assert_eq!(o.status.code(), Some(1), "{name}: {err}");
        assert!(err.contains("(E_BAD_INPUT)"), "{name}: {err}");
    }
    for (file, message) in [
        (
            "issue8-ec-key-bit-string-empty.der",
            "the CSR is not acceptable: the public key is empty",
        ),
        (
            "issue8-rsa-pss-hash-empty-sequence.der",
            "the CSR is not acceptable: RSASSA-PSS hashAlgorithm is not an AlgorithmIdentifier",
        ),
    ] {
        let o = env.run(&[
            "cert",
            "issue",
            "--csr",
            dir.join(file).to_str().unwrap(),
            "--validity",
            "3y",
        ]);
        assert_fails(&o, 1, message);
    }
    assert_eq!(snapshot(&app).await, before);
}

//! CA keys in a PKCS#11 HSM (DESIGN §6), on a real SoftHSM2 token per test (its own
//! SOFTHSM2_CONF and token directory): the ceremony generates the issuing CA's and the
//! OCSP signer's keys on the token, every later `kmn` process signs with them through the
//! CA record's `pkcs11:` reference, the keys stay sensitive and never extractable, and a
//! token that goes away leaves an unsigned intent and a clear Japanese error, never a
//! certificate.

use std::path::PathBuf;
use std::process::Command;

use crate::support::{Env, in_ci, tool};

const PIN: &str = "20261126";
const SO_PIN: &str = "12345678";

/// A SoftHSM2 of the test's own: a config and token directory in the test's temp dir,
/// one initialised token, the user PIN in a file.
struct SoftHsm {
    module: PathBuf,
    conf: PathBuf,
    pin_file: PathBuf,
}

fn have(prog: &str) -> bool {
    Command::new(prog).arg("--version").output().is_ok()
        || Command::new(prog).arg("--help").output().is_ok()
}

/// The SoftHSM2 module and tools, or None (skip) outside CI.
fn softhsm(env: &Env, label: &str) -> Option<SoftHsm> {
    let module = kmn_token::find_softhsm2_module();
    let tools = have("softhsm2-util") && have("pkcs11-tool");
    let Some(module) = module.filter(|_| tools) else {
        assert!(
            !in_ci(),
            "SoftHSM2 and OpenSC are required in CI (apt-get install softhsm2 opensc)"
        );
        eprintln!("SKIP: SoftHSM2 or pkcs11-tool not installed");
        return None;
    };
    let tokens = env.path("softhsm-tokens");
    std::fs::create_dir_all(&tokens).unwrap();
    let conf = env.path("softhsm2.conf");
    std::fs::write(
        &conf,
        format!(
            "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\n",
            tokens.display()
        ),
    )
    .unwrap();
    let pin_file = env.path("hsm-pin");
    crate::support::write_secret(&pin_file, &format!("{PIN}\n"));
    let h = SoftHsm {
        module,
        conf,
        pin_file,
    };
    let out = h.util(&[
        "--init-token",
        "--free",
        "--label",
        label,
        "--so-pin",
        SO_PIN,
        "--pin",
        PIN,
    ]);
    assert!(out.0, "softhsm2-util --init-token: {}", out.1);
    Some(h)
}

impl SoftHsm {
    fn util(&self, args: &[&str]) -> (bool, String) {
        let o = Command::new("softhsm2-util")
            .args(args)
            .env("SOFTHSM2_CONF", &self.conf)
            .output()
            .expect("softhsm2-util");
        (
            o.status.success(),
            format!(
                "{}{}",
                String::from_utf8_lossy(&o.stdout),
                String::from_utf8_lossy(&o.stderr)
            ),
        )
    }

    /// `pkcs11-tool --list-objects --login` on the token, the PIN read from the PIN file.
    fn list_objects(&self, label: &str) -> String {
        let pin = std::fs::read_to_string(&self.pin_file).unwrap();
        let o = Command::new("pkcs11-tool")
            .arg("--module")
            .arg(&self.module)
            .args(["--token-label", label, "--login", "--pin", pin.trim()])
            .arg("--list-objects")
            .env("SOFTHSM2_CONF", &self.conf)
            .output()
            .expect("pkcs11-tool");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        assert!(o.status.success(), "pkcs11-tool --list-objects: {text}");
        text
    }

    /// The test's environment with this HSM and its PIN file.
    fn env(&self, env: Env) -> Env {
        env.env("SOFTHSM2_CONF", self.conf.to_str().unwrap())
            .env("KMN_HSM_PIN_FILE", self.pin_file.to_str().unwrap())
    }

    fn init_args<'a>(&'a self, label: &'a str) -> Vec<&'a str> {
        vec![
            "--hsm-module",
            self.module.to_str().unwrap(),
            "--token-label",
            label,
        ]
    }
}

/// The private key objects listed by pkcs11-tool, by label: (label, usage, access).
fn private_keys(listing: &str) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    for block in listing.split("Private Key Object").skip(1) {
        let field = |name: &str| {
            block
                .lines()
                .take_while(|l| !l.contains("Key Object"))
                .find_map(|l| l.trim().strip_prefix(name).map(|v| v.trim().to_string()))
                .unwrap_or_default()
        };
        out.push((field("label:"), field("Usage:"), field("Access:")));
    }
    out
}

async fn count(app: &kmn_app::App, table: &str) -> i64 {
    use sqlx::Row;
    sqlx::query(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM {table}")))
        .fetch_one(app.store_for_tests().pool())
        .await
        .unwrap()
        .get(0)
}

#[tokio::test]
async fn design6_ceremony_with_hsm_keys_passes_pkilint_and_openssl_and_keys_never_leave_the_token()
{
    let env = Env::new();
    let label = "kmn-ca-ceremony";
    let Some(h) = softhsm(&env, label) else {
        return;
    };
    let env = h.env(env);
    let a = crate::ceremony::make(&env, &h.init_args(label)).await;
    // Root, issuing CA, OCSP signer, user/operator/server certificates, the ARL and the
    // CRLs (the issuing CA's signed by the HSM key in later processes) pass pkilint and
    // OpenSSL's strict chain and CRL checks.
    crate::ceremony::check_all(&a);

    // Only the root is a key file; the others are pkcs11: references to the token.
    let secrets: Vec<String> = std::fs::read_dir(env.data_dir().join("secrets"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(secrets, vec!["kmn-root-g1.key.pem".to_string()]);
    // The audit signer's key on the token signs checkpoints (issue 9 item 6): the first
    // at the ceremony, one more in a later process.
    assert!(
        env.data_dir()
            .join("audit-checkpoints/00000001.p7s")
            .exists()
    );
    let out = env.ok(&["audit", "checkpoint"]);
    assert!(out.contains("by kmn-audit-g1-1"), "{out}");
    let out = env.ok(&["audit", "verify"]);
    assert!(out.contains("checkpoint #2"), "{out}");
    let app = env.app().await;
    let mut tx = app.store_for_tests().begin().await.unwrap();
    let cas = tx.list_cas().await.unwrap();
    tx.rollback().await.unwrap();
    for c in &cas {
        match c.name.as_str() {
            "kmn-root-g1" => assert_eq!(c.key_ref, "file:secrets/kmn-root-g1.key.pem"),
            name => {
                let r = kmn_app::ca::hsm::HsmKeyRef::parse(&c.key_ref).unwrap();
                assert_eq!((r.token.as_str(), r.object.as_str()), (label, name));
                assert_eq!(r.id.len(), 16, "{}", c.key_ref);
                assert!(r.module_path.exists(), "{}", c.key_ref);
            }
        }
    }

    // On the token: the three keys (issuing CA, OCSP signer, audit signer), sensitive,
    // never extractable, generated there, and good for signing only.
    let keys = private_keys(&h.list_objects(label));
    let mut labels: Vec<&str> = keys.iter().map(|k| k.0.as_str()).collect();
    labels.sort_unstable();
    assert_eq!(
        labels,
        vec!["kmn-audit-g1-1", "kmn-issuing-g1", "kmn-ocsp-g1-1"],
        "{keys:?}"
    );
    for (l, usage, access) in &keys {
        assert!(
            access.contains("sensitive")
                && access.contains("always sensitive")
                && access.contains("never extractable")
                && access.contains("local"),
            "{l}: {access}"
        );
        assert_eq!(usage, "sign", "{l}: a CA key only signs");
    }

    // `kmn config check` finds and opens both keys.
    let out = env.ok(&["config", "check"]);
    assert!(
        out.contains("CA key kmn-issuing-g1: pkcs11:") && out.contains(": usable"),
        "{out}"
    );
    assert!(!a.user_serial.is_empty());
}

#[tokio::test]
async fn ca_key_token_missing_gives_clear_error() {
    let env = Env::new();
    let label = "kmn-ca-vanishes";
    let Some(h) = softhsm(&env, label) else {
        return;
    };
    let env = h.env(env);
    env.init(&h.init_args(label));
    let csr = env.csr("u", "p256", "/C=JP/O=Clinic/CN=Hanako Sato", &[]);
    let (_, first) = env.issue("u", &csr, "user-card", "5y");
    assert!(!first.is_empty());

    // The token goes away (deleted by its administrator: the closest SoftHSM comes to a
    // pulled HSM cable).
    let (ok, out) = h.util(&["--delete-token", "--token", label]);
    assert!(ok, "{out}");
    let app = env.app().await;
    let (intents, certs) = (
        count(&app, "issuance_intents").await,
        count(&app, "certificates").await,
    );

    let o = env.run(&[
        "cert",
        "issue",
        "--csr",
        csr.to_str().unwrap(),
        "--profile",
        "user-card",
        "--validity",
        "5y",
    ]);
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(o.stdout.is_empty(), "no certificate is printed");
    for want in [
        &format!("HSMのトークン「{label}」が見つかりません"),
        "証明書は発行されていません",
        "署名されないまま残ります",
        "no token found",
        "(E_CA_KEY_UNAVAILABLE)",
    ] {
        assert!(err.contains(want), "expected '{want}' in: {err}");
    }
    // One code per message (issue 12): the token's own code is not printed beside it.
    assert!(!err.contains("E_TOKEN"), "{err}");
    // The serial named in the message is an intent only: no certificate is recorded.
    let serial = err
        .split("シリアル番号 ")
        .nth(1)
        .and_then(|s| s.split('）').next())
        .expect("serial in the message")
        .to_string();
    assert_eq!(count(&app, "issuance_intents").await, intents + 1);
    assert_eq!(count(&app, "certificates").await, certs);
    {
        use sqlx::Row;
        let n: i64 = sqlx::query("SELECT COUNT(*) FROM issuance_intents WHERE serial_hex = $1")
            .bind(&serial)
            .fetch_one(app.store_for_tests().pool())
            .await
            .unwrap()
            .get(0);
        assert_eq!(n, 1, "the intent of {serial} remains");
    }
    let o = env.run(&["cert", "show", &serial]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("no certificate with serial"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    // The first certificate is untouched.
    env.ok(&["cert", "show", &first]);

    // A CRL cannot be signed either: the same clear error, nothing published.
    let crl_before = std::fs::read(env.repo("kmn-issuing-g1.crl")).unwrap();
    let o = env.run(&["crl", "publish"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains(&format!("HSMのトークン「{label}」が見つかりません")),
        "{err}"
    );
    assert_eq!(
        std::fs::read(env.repo("kmn-issuing-g1.crl")).unwrap(),
        crl_before
    );
    env.ok(&["audit", "verify"]);
}

#[tokio::test]
async fn design6_new_issuing_ca_key_generated_in_hsm() {
    let env = Env::new();
    let label = "kmn-ca-g2";
    let Some(h) = softhsm(&env, label) else {
        return;
    };
    let env = h.env(env);
    env.init(&[]);
    let mut args = vec!["ca", "new-issuing", "--years", "12"];
    args.extend(h.init_args(label));
    let out = env.ok(&args);
    assert!(out.contains("kmn-issuing-g2"), "{out}");
    assert!(
        !env.data_dir()
            .join("secrets/kmn-issuing-g2.key.pem")
            .exists()
    );
    let app = env.app().await;
    let mut tx = app.store_for_tests().begin().await.unwrap();
    let g2 = tx
        .active_ca(kmn_store::CaKind::Issuing)
        .await
        .unwrap()
        .unwrap();
    tx.rollback().await.unwrap();
    assert_eq!(g2.name, "kmn-issuing-g2");
    assert!(
        g2.key_ref
            .starts_with(&format!("pkcs11:token={label};object=kmn-issuing-g2;")),
        "{}",
        g2.key_ref
    );
    // The new CA's key, its own OCSP signer's and its audit signer's, all on the token.
    let keys = private_keys(&h.list_objects(label));
    let mut labels: Vec<&str> = keys.iter().map(|k| k.0.as_str()).collect();
    labels.sort_unstable();
    assert_eq!(
        labels,
        vec!["kmn-audit-g2-1", "kmn-issuing-g2", "kmn-ocsp-g2-1"],
        "{keys:?}"
    );
    assert!(
        keys.iter().all(|k| k.2.contains("never extractable")),
        "{keys:?}"
    );

    // Issued by G2 with the HSM key, in another process; chain and CRLs verify.
    let csr = env.csr("u", "rsa2048", "/C=JP/O=Clinic/CN=Taro Yamada", &[]);
    let (pem, _) = env.issue("u", &csr, "user-card", "5y");
    env.ok(&["crl", "publish"]);
    let root = env.pem_of(&env.repo("kmn-root-g1.crt"), "cert");
    let g2_pem = env.pem_of(&env.repo("kmn-issuing-g2.crt"), "cert");
    let crls = env.path("crls.pem");
    std::fs::write(
        &crls,
        [
            std::fs::read(env.pem_of(&env.repo("kmn-root-g1.crl"), "crl")).unwrap(),
            std::fs::read(env.pem_of(&env.repo("kmn-issuing-g2.crl"), "crl")).unwrap(),
        ]
        .concat(),
    )
    .unwrap();
    let (ok, o) = tool(
        "openssl",
        &[
            "verify",
            "-x509_strict",
            "-crl_check_all",
            "-purpose",
            "sslclient",
            "-CAfile",
            root.to_str().unwrap(),
            "-untrusted",
            g2_pem.to_str().unwrap(),
            "-CRLfile",
            crls.to_str().unwrap(),
            pem.to_str().unwrap(),
        ],
    );
    assert!(ok && o.contains(": OK"), "{o}");
    crate::support::pkilint("lint_pkix_cert", &[g2_pem.to_str().unwrap()]);
    crate::support::pkilint(
        "lint_pkix_signer_signee_cert_chain",
        &[g2_pem.to_str().unwrap(), pem.to_str().unwrap()],
    );
}

#[tokio::test]
async fn hsm_options_need_the_pin_from_the_environment() {
    let env = Env::new();
    let label = "kmn-ca-nopin";
    let Some(h) = softhsm(&env, label) else {
        return;
    };
    // No KMN_HSM_PIN / KMN_HSM_PIN_FILE: refused before anything is made.
    let env = env.env("SOFTHSM2_CONF", h.conf.to_str().unwrap());
    let mut args = vec!["ca", "init"];
    args.extend(h.init_args(label));
    let o = env.run(&args);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("KMN_HSM_PIN"), "{err}");
    assert!(!env.data_dir().join("secrets").exists());
    // A wrong PIN: a clear message, no CA, no key left on the token.
    let wrong = env.path("wrong-pin");
    crate::support::write_secret(&wrong, "99999999");
    let env = env.env("KMN_HSM_PIN_FILE", wrong.to_str().unwrap());
    let o = env.run(&args);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("HSMの利用者PINが違います"), "{err}");
    assert!(private_keys(&h.list_objects(label)).is_empty());
    assert!(!env.data_dir().join("secrets/kmn-root-g1.key.pem").exists());
    // --hsm-module without --token-label is a usage error.
    let o = env.run(&["ca", "init", "--hsm-module", h.module.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    // With the right PIN the ceremony runs: nothing of the failed one was left behind.
    let env = env.env("KMN_HSM_PIN_FILE", h.pin_file.to_str().unwrap());
    env.init(&h.init_args(label));
    assert_eq!(private_keys(&h.list_objects(label)).len(), 3);
}

#[tokio::test]
async fn design6_failed_hsm_ceremony_leaves_no_key_on_the_token() {
    let env = Env::new();
    let label = "kmn-ca-busy";
    let Some(h) = softhsm(&env, label) else {
        return;
    };
    // A key already holds the OCSP signer's label: the issuing CA's key is generated
    // first, then the OCSP signer's is refused, and the ceremony must undo the first.
    let pin = std::fs::read_to_string(&h.pin_file).unwrap();
    let o = Command::new("pkcs11-tool")
        .arg("--module")
        .arg(&h.module)
        .args(["--token-label", label, "--login", "--pin", pin.trim()])
        .args(["--keypairgen", "--key-type", "EC:prime256v1"])
        .args(["--label", "kmn-ocsp-g1-1", "--id", "01"])
        .env("SOFTHSM2_CONF", &h.conf)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let env = h.env(env);
    let mut args = vec!["ca", "init"];
    args.extend(h.init_args(label));
    let o = env.run(&args);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("鍵「kmn-ocsp-g1-1」を作れません") && err.contains("already exists"),
        "{err}"
    );
    let keys = private_keys(&h.list_objects(label));
    assert_eq!(
        keys.iter().map(|k| k.0.as_str()).collect::<Vec<_>>(),
        vec!["kmn-ocsp-g1-1"],
        "the issuing CA's key was destroyed again: {keys:?}"
    );
    // Nothing else either: no key file, no configuration, no CA in the database.
    assert_eq!(
        std::fs::read_dir(env.data_dir().join("secrets"))
            .map(|d| d.count())
            .unwrap_or(0),
        0
    );
    assert!(!env.data_dir().join("kmn.toml").exists());
    let o = env.run(&["crl", "publish"]);
    assert_eq!(o.status.code(), Some(1));
}

#[tokio::test]
async fn issue8_new_issuing_ca_inherits_the_hsm_and_gets_its_own_ocsp_signer() {
    let env = Env::new();
    let label = "kmn-ca-inherit";
    let Some(h) = softhsm(&env, label) else {
        return;
    };
    let env = h.env(env);
    env.init(&h.init_args(label));
    let app = env.app().await;
    let cas_before = count(&app, "cas").await;
    // Without the HSM PIN the command refuses (it never makes a software key instead).
    let mut c = env.cmd(&["ca", "new-issuing", "--key", "p256", "--years", "10"]);
    c.env_remove("KMN_HSM_PIN_FILE").env_remove("KMN_HSM_PIN");
    let o = c.output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains(&format!("is in the HSM token '{label}'")) && err.contains("KMN_HSM_PIN_FILE"),
        "{err}"
    );
    assert_eq!(count(&app, "cas").await, cas_before);
    assert!(
        !env.data_dir()
            .join("secrets/kmn-issuing-g2.key.pem")
            .exists()
    );
    // With the PIN: the documented command makes both keys on the same token.
    let out = env.ok(&["ca", "new-issuing", "--key", "p256", "--years", "10"]);
    assert!(
        out.contains("kmn-issuing-g2") && out.contains("kmn-ocsp-g2-1"),
        "{out}"
    );
    let secrets: Vec<String> = std::fs::read_dir(env.data_dir().join("secrets"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(secrets, vec!["kmn-root-g1.key.pem".to_string()]);
    let mut tx = app.store_for_tests().begin().await.unwrap();
    let cas = tx.list_cas().await.unwrap();
    tx.rollback().await.unwrap();
    let g2 = cas.iter().find(|c| c.name == "kmn-issuing-g2").unwrap();
    let ocsp = cas.iter().find(|c| c.name == "kmn-ocsp-g2-1").unwrap();
    assert_eq!(ocsp.kind, kmn_store::CaKind::OcspSigner);
    assert_eq!(ocsp.issuer_name.as_deref(), Some("kmn-issuing-g2"));
    for (c, object) in [(g2, "kmn-issuing-g2"), (ocsp, "kmn-ocsp-g2-1")] {
        let r = kmn_app::ca::hsm::HsmKeyRef::parse(&c.key_ref).unwrap();
        assert_eq!((r.token.as_str(), r.object.as_str()), (label, object));
    }
    let mut labels: Vec<String> = private_keys(&h.list_objects(label))
        .into_iter()
        .map(|k| k.0)
        .collect();
    labels.sort();
    assert_eq!(
        labels,
        vec![
            "kmn-audit-g1-1",
            "kmn-audit-g2-1",
            "kmn-issuing-g1",
            "kmn-issuing-g2",
            "kmn-ocsp-g1-1",
            "kmn-ocsp-g2-1"
        ]
    );
    // The OCSP signer is certified by G2 (OpenSSL checks the chain).
    let root = env.pem_of(&env.repo("kmn-root-g1.crt"), "cert");
    let g2_pem = env.pem_of(&env.repo("kmn-issuing-g2.crt"), "cert");
    let ocsp_pem = env.path("ocsp-g2.pem");
    std::fs::write(&ocsp_pem, kmn_pki::cert::to_pem(&ocsp.cert_der)).unwrap();
    let (ok, o) = tool(
        "openssl",
        &[
            "verify",
            "-CAfile",
            root.to_str().unwrap(),
            "-untrusted",
            g2_pem.to_str().unwrap(),
            ocsp_pem.to_str().unwrap(),
        ],
    );
    assert!(ok, "{o}");
    // And G2 signs with its HSM key in a later process.
    let csr = env.csr("u", "p256", "/C=JP/O=Clinic/CN=Taro Yamada", &[]);
    env.issue("u", &csr, "user-card", "5y");
}

#[tokio::test]
async fn issue8_config_check_fails_on_any_hsm_error_and_logs_in_at_most_once() {
    let env = Env::new();
    let label = "kmn-ca-check";
    let Some(h) = softhsm(&env, label) else {
        return;
    };
    let env = h.env(env);
    env.init(&h.init_args(label));
    let out = env.ok(&["config", "check"]);
    assert!(out.contains("configuration: OK"), "{out}");
    // A wrong PIN: exit 1 with the code; the second key on the token is not tried.
    let wrong = env.path("wrong-pin");
    crate::support::write_secret(&wrong, "99999999");
    let mut c = env.cmd(&["config", "check"]);
    c.env("KMN_HSM_PIN_FILE", &wrong);
    let o = c.output().unwrap();
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert_eq!(o.status.code(), Some(1), "{out}{err}");
    assert!(
        err.contains("HSMの利用者PINが違います") && err.contains("(E_CA_KEY_UNAVAILABLE)"),
        "{err}"
    );
    assert!(!err.contains("E_TOKEN"), "one code (issue 12): {err}");
    assert_eq!(
        out.matches("HSMの利用者PINが違います").count(),
        1,
        "one login only: {out}"
    );
    assert!(
        out.contains(&format!("not checked: the token '{label}' refused the PIN")),
        "{out}"
    );
    // The token is gone: exit 1, the token named as not found.
    let (ok, o) = h.util(&["--delete-token", "--token", label]);
    assert!(ok, "{o}");
    let o = env.run(&["config", "check"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("が見つかりません") && err.contains("(E_CA_KEY_UNAVAILABLE)"),
        "{err}"
    );
}

#[tokio::test]
async fn issue8_health_names_each_degraded_reason() {
    let env = Env::new();
    let label = "kmn-ca-health";
    let Some(h) = softhsm(&env, label) else {
        return;
    };
    let env = h.env(env);
    env.init(&h.init_args(label));
    let mut srv = crate::serve::start(&env);
    let health = |srv: &crate::serve::Server| {
        let (st, _, body) = crate::serve::get(&srv.http, "/health");
        assert_eq!(st, 200);
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        let reasons: Vec<(String, String)> = v["degraded"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| {
                (
                    d["reason"].as_str().unwrap().to_string(),
                    d["object"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        (v["status"].as_str().unwrap().to_string(), reasons)
    };
    let pair = |a: &str, b: &str| (a.to_string(), b.to_string());
    // No CPS published yet.
    assert_eq!(
        health(&srv),
        ("degraded".to_string(), vec![pair("cps_unpublished", "cps")])
    );
    let cps = env.path("cps.txt");
    std::fs::write(&cps, "CPS 1.00").unwrap();
    env.ok(&[
        "document",
        "publish",
        "--kind",
        "cps",
        "--version",
        "1.00",
        cps.to_str().unwrap(),
    ]);
    assert_eq!(health(&srv), ("ok".to_string(), vec![]));
    // A CA certificate missing from the repository.
    std::fs::remove_file(env.repo("kmn-root-g1.crt")).unwrap();
    assert_eq!(
        health(&srv),
        (
            "degraded".to_string(),
            vec![pair("ca_certificate_missing", "kmn-root-g1")]
        )
    );
    // A CRL missing from the repository comes back from the database within a second
    // (issue 10 item 4: the repository follows the database).
    let arl = std::fs::read(env.repo("kmn-root-g1.crl")).unwrap();
    std::fs::remove_file(env.repo("kmn-root-g1.crl")).unwrap();
    let t = std::time::Instant::now();
    while std::fs::read(env.repo("kmn-root-g1.crl")).ok().as_deref() != Some(arl.as_slice()) {
        assert!(
            t.elapsed() < std::time::Duration::from_secs(1),
            "the ARL did not come back"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    // The HSM goes away (SoftHSM notices a deleted token in a new process only).
    drop(srv);
    let (ok, o) = h.util(&["--delete-token", "--token", label]);
    assert!(ok, "{o}");
    srv = crate::serve::start(&env);
    let (status, reasons) = health(&srv);
    assert_eq!(status, "degraded");
    assert!(
        reasons.contains(&pair("hsm_unavailable", "kmn-issuing-g1")),
        "{reasons:?}"
    );
    // `kmn crl publish` puts the repository back even while the HSM is away (the CRL
    // itself then fails, clearly).
    let o = env.run(&["crl", "publish"]);
    assert_eq!(o.status.code(), Some(1));
    let (_, reasons) = health(&srv);
    assert_eq!(reasons, vec![pair("hsm_unavailable", "kmn-issuing-g1")]);
    drop(srv);
}

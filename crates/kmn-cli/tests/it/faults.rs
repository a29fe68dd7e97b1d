//! Faults during personalization and PIN use, through the binary built with the
//! `fault-points` feature (`KMN_FAULT`, see kmn-token src/fault.rs) where a real fault
//! cannot be made reliably, and real ones where it can (a card initialised with another
//! SO PIN). Each must end with a clear message and no usable half-issued card: the card
//! wiped back to blank and any certificate already issued revoked (第7条, 第9条).

use std::path::PathBuf;

use crate::cards::{approved_application, softhsm};
use crate::support::{Env, tool};

fn hsm_env() -> (Env, PathBuf) {
    crate::cards::with_softhsm(Env::new())
}

/// `kmn card personalize` with `KMN_FAULT=fault`; returns stderr (it must fail with 1).
fn personalize_failing(
    env: &Env,
    module: &str,
    app_id: &str,
    fault: &str,
    extra: &[&str],
) -> String {
    let mut args = vec![
        "card",
        "personalize",
        "--module",
        module,
        "--application",
        app_id,
    ];
    args.extend_from_slice(extra);
    let o = env.cmd(&args).env("KMN_FAULT", fault).output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr).to_string();
    assert_eq!(o.status.code(), Some(1), "{fault}: {err}");
    err
}

/// Issued, revoked and card counts, and the application's state.
async fn ledger(env: &Env, app_id: &str) -> (i64, usize, usize, String) {
    let app = env.app().await;
    let mut tx = app.store_for_tests().read().await.unwrap();
    let ca = tx
        .active_ca(kmn_store::CaKind::Issuing)
        .await
        .unwrap()
        .unwrap();
    let issued = tx.count_certificates(&ca.name).await.unwrap();
    let revoked = tx.crl_entries(&ca.name, 0).await.unwrap().len();
    let a = tx.application(app_id).await.unwrap().unwrap();
    let cards = tx
        .list_cards(None, Some(&a.holder_id), None, 10)
        .await
        .unwrap()
        .len();
    tx.rollback().await.unwrap();
    (issued, revoked, cards, a.state)
}

/// What pkcs11-tool sees on the token with `label` (public objects).
fn objects(conf: &std::path::Path, module: &str, label: &str) -> String {
    let o = std::process::Command::new("pkcs11-tool")
        .env("SOFTHSM2_CONF", conf)
        .args(["--module", module, "--token-label", label, "--list-objects"])
        .output()
        .unwrap();
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn mailers(env: &Env) -> usize {
    std::fs::read_dir(env.data_dir().join("mailers"))
        .map(|d| d.count())
        .unwrap_or(0)
}

#[tokio::test]
async fn art7_token_removed_after_keygen_leaves_a_blank_card_and_no_certificate() {
    let Some(module) = softhsm() else { return };
    let m = module.to_str().unwrap();
    let (env, conf) = hsm_env();
    let id = approved_application(&env).await;
    let before = ledger(&env, &id).await;
    let err = personalize_failing(&env, m, &id, "after_keygen", &[]);
    assert!(
        err.contains("カードの発行に失敗しました") && err.contains("未発行の状態に戻しました"),
        "{err}"
    );
    assert!(err.contains("E_TOKEN"), "the code names the fault: {err}");
    assert_eq!(
        ledger(&env, &id).await,
        before,
        "nothing issued, nothing recorded"
    );
    assert_eq!(mailers(&env), 0, "no PIN mailer left behind");
    let objs = objects(&conf, m, "KMN blank");
    assert!(
        !objs.contains("Certificate Object") && !objs.contains("Public Key Object"),
        "{objs}"
    );
    // The same card (wiped, labelled "KMN blank") and application work once the fault is gone.
    env.ok(&[
        "card",
        "personalize",
        "--module",
        m,
        "--token-label",
        "KMN blank",
        "--application",
        &id,
    ]);
}

#[tokio::test]
async fn art7_token_removed_after_certificate_written_revokes_it_and_wipes_the_card() {
    let Some(module) = softhsm() else { return };
    let m = module.to_str().unwrap();
    let (env, conf) = hsm_env();
    let id = approved_application(&env).await;
    let (issued, revoked, cards, state) = ledger(&env, &id).await;
    let err = personalize_failing(&env, m, &id, "after_write_certificate", &[]);
    assert!(
        err.contains("発行済みの証明書（シリアル ") && err.contains("）は失効させました"),
        "{err}"
    );
    let after = ledger(&env, &id).await;
    assert_eq!(
        after,
        (issued + 1, revoked + 1, cards, state),
        "issued once, revoked, no card recorded"
    );
    let objs = objects(&conf, m, "KMN blank");
    assert!(!objs.contains("Certificate Object"), "{objs}");
    assert_eq!(mailers(&env), 0);
}

#[tokio::test]
async fn art7_card_with_another_so_pin_is_refused_and_left_as_it_was() {
    let Some(module) = softhsm() else { return };
    let m = module.to_str().unwrap();
    let (env, conf) = hsm_env();
    let id = approved_application(&env).await;
    let o = std::process::Command::new("softhsm2-util")
        .env("SOFTHSM2_CONF", &conf)
        .args([
            "--init-token",
            "--free",
            "--label",
            "OTHER",
            "--so-pin",
            "99999999",
            "--pin",
            "123456",
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{o:?}");
    let before = ledger(&env, &id).await;
    let o = env.run(&[
        "card",
        "personalize",
        "--module",
        m,
        "--token-label",
        "OTHER",
        "--application",
        &id,
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("SO PIN"), "{err}");
    assert_eq!(ledger(&env, &id).await, before);
    // Its own PIN still works: the card was not touched.
    let (ok, out) = tool(
        "env",
        &[
            &format!("SOFTHSM2_CONF={}", conf.display()),
            "pkcs11-tool",
            "--module",
            m,
            "--token-label",
            "OTHER",
            "--login",
            "--pin",
            "123456",
            "--list-objects",
        ],
    );
    assert!(ok, "{out}");
}

#[tokio::test]
async fn r1_card_key_that_is_not_protected_is_refused() {
    let Some(module) = softhsm() else { return };
    let m = module.to_str().unwrap();
    let (env, _conf) = hsm_env();
    let id = approved_application(&env).await;
    let before = ledger(&env, &id).await;
    let err = personalize_failing(&env, m, &id, "keygen_extractable", &[]);
    assert!(
        err.contains("取り出し可能") && err.contains("E_KEYCHECK"),
        "{err}"
    );
    assert_eq!(
        ledger(&env, &id).await,
        before,
        "the CA issued nothing for that key"
    );
}

#[tokio::test]
async fn art9_locked_pin_gets_a_clear_message() {
    let Some(module) = softhsm() else { return };
    let m = module.to_str().unwrap();
    let (env, _conf) = hsm_env();
    let id = approved_application(&env).await;
    let before = ledger(&env, &id).await;
    let err = personalize_failing(&env, m, &id, "login_user=pin_locked", &[]);
    assert!(err.contains("PINがロックされています"), "{err}");
    assert_eq!(ledger(&env, &id).await, before);
    // A holder whose PIN is locked is told to go to the support center.
    let v: serde_json::Value = serde_json::from_str(&env.ok(&[
        "card",
        "personalize",
        "--module",
        m,
        "--token-label",
        "KMN blank",
        "--application",
        &id,
        "--json",
    ]))
    .unwrap();
    let label = format!("KMN {}", v["card"]["holder_id"].as_str().unwrap());
    let pins = env.path("pins");
    std::fs::write(&pins, "00000000\n11111111\n").unwrap();
    let o = env
        .cmd(&["card", "change-pin", "--module", m, "--token-label", &label])
        .env("KMN_FAULT", "login_user=pin_locked")
        .stdin(std::fs::File::open(&pins).unwrap())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("PINがロックされています") && err.contains("ロック解除"),
        "{err}"
    );
}

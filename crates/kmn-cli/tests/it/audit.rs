//! `kmn audit verify` detects an edited, deleted, inserted or reordered event, and a
//! truncated tail. The append-only triggers are dropped first, as someone with
//! database-administrator rights could.

use crate::support::{Env, assert_fails};

async fn prepared() -> Env {
    let env = Env::new();
    env.init(&[]);
    let csr = env.csr("u", "p256", "/C=JP/O=Clinic/CN=Taro", &[]);
    env.issue("u", &csr, "user-card", "3y");
    env.ok(&["crl", "publish"]);
    let out = env.ok(&["audit", "verify"]);
    assert!(out.contains("audit log intact"), "{out}");
    env
}

async fn tamper(env: &Env, sql: &str) {
    let app = env.app().await;
    let mut tx = app.store_for_tests().begin().await.unwrap();
    tx.execute_raw("DROP TRIGGER IF EXISTS audit_events_append_only_u; DROP TRIGGER IF EXISTS audit_events_append_only_d;")
        .await
        .unwrap();
    tx.execute_raw(sql).await.unwrap();
    tx.commit().await.unwrap();
    app.store_for_tests().close().await;
}

#[tokio::test]
async fn g1_audit_log_is_append_only_in_sql() {
    let env = prepared().await;
    let app = env.app().await;
    let mut tx = app.store_for_tests().begin().await.unwrap();
    let r = tx
        .execute_raw("UPDATE audit_events SET summary = 'x' WHERE seq = 1")
        .await;
    assert!(r.is_err(), "the trigger must refuse an update");
    tx.rollback().await.unwrap();
    let mut tx = app.store_for_tests().begin().await.unwrap();
    assert!(
        tx.execute_raw("DELETE FROM certificates").await.is_err(),
        "certificates are append-only"
    );
}

#[tokio::test]
async fn g1_edited_event_is_detected() {
    let env = prepared().await;
    tamper(
        &env,
        "UPDATE audit_events SET summary = 'nothing happened' WHERE seq = 2",
    )
    .await;
    assert_fails(
        &env.run(&["audit", "verify"]),
        1,
        "was altered: its content does not match its hash",
    );
}

#[tokio::test]
async fn g1_deleted_event_is_detected() {
    let env = prepared().await;
    tamper(&env, "DELETE FROM audit_events WHERE seq = 2").await;
    assert_fails(&env.run(&["audit", "verify"]), 1, "event 2 is missing");
}

#[tokio::test]
async fn g1_reordered_events_are_detected() {
    let env = prepared().await;
    tamper(
        &env,
        "UPDATE audit_events SET seq = -1 WHERE seq = 2; UPDATE audit_events SET seq = 2 WHERE seq = 3; UPDATE audit_events SET seq = 3 WHERE seq = -1;",
    )
    .await;
    assert_fails(&env.run(&["audit", "verify"]), 1, "does not follow");
}

#[tokio::test]
async fn g1_truncated_tail_is_detected() {
    let env = prepared().await;
    tamper(
        &env,
        "DELETE FROM audit_events WHERE seq = (SELECT MAX(seq) FROM audit_events)",
    )
    .await;
    assert_fails(
        &env.run(&["audit", "verify"]),
        1,
        "events at the end were deleted",
    );
}

async fn last_actor(env: &Env, action: &str) -> String {
    let app = env.app().await;
    let mut tx = app.store_for_tests().begin().await.unwrap();
    let events = tx.audit_events(Some(action)).await.unwrap();
    tx.rollback().await.unwrap();
    app.store_for_tests().close().await;
    events.last().expect("an event").actor.clone()
}

#[tokio::test]
async fn issue8_actor_name_cannot_hide_the_os_user() {
    let env = Env::new();
    env.init(&[]);
    let os = kmn_app::actor::os_user();
    // --actor names someone; the OS user is recorded beside it.
    let mut c = env.cmd(&["--actor", "cli:tanaka", "crl", "publish"]);
    c.env("USER", "tanaka");
    assert!(c.output().unwrap().status.success());
    assert_eq!(
        last_actor(&env, "crl.publish").await,
        format!("cli:tanaka (os:{os})")
    );
    // A name that pretends to carry the OS user gets the real one as well.
    let mut c = env.cmd(&["crl", "publish"]);
    c.env("KMN_ACTOR", "cli:admin (os:admin)");
    assert!(c.output().unwrap().status.success());
    assert_eq!(
        last_actor(&env, "crl.publish").await,
        format!("cli:admin (os:admin) (os:{os})")
    );
    // No --actor: cli:$USER, and the OS user when $USER says someone else.
    let mut c = env.cmd(&["crl", "publish"]);
    c.env_remove("KMN_ACTOR").env("USER", "suzuki");
    assert!(c.output().unwrap().status.success());
    assert_eq!(
        last_actor(&env, "crl.publish").await,
        format!("cli:suzuki (os:{os})")
    );
    let mut c = env.cmd(&["crl", "publish"]);
    c.env_remove("KMN_ACTOR").env_remove("USER");
    assert!(c.output().unwrap().status.success());
    assert_eq!(
        last_actor(&env, "crl.publish").await,
        format!("cli:unknown (os:{os})")
    );
    // Under sudo the person who ran sudo is named with the account it became.
    let mut c = env.cmd(&["crl", "publish"]);
    c.env("SUDO_USER", "yamada");
    assert!(c.output().unwrap().status.success());
    let a = last_actor(&env, "crl.publish").await;
    assert!(a.starts_with("test-admin (os:yamada as "), "{a}");
    env.ok(&["audit", "verify"]);
}

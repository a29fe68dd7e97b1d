//! `kmn audit verify` detects an edited, deleted, inserted or reordered event, and a
//! truncated tail. The append-only triggers are dropped first, as someone with
//! database-administrator rights could.

use crate::support::{Env, assert_fails, tool};

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
    let mut tx = app.store.begin().await.unwrap();
    tx.execute_raw("DROP TRIGGER IF EXISTS audit_events_append_only_u; DROP TRIGGER IF EXISTS audit_events_append_only_d;")
        .await
        .unwrap();
    tx.execute_raw(sql).await.unwrap();
    tx.commit().await.unwrap();
    app.store.close().await;
}

#[tokio::test]
async fn g1_audit_log_is_append_only_in_sql() {
    let env = prepared().await;
    let app = env.app().await;
    let mut tx = app.store.begin().await.unwrap();
    let r = tx
        .execute_raw("UPDATE audit_events SET summary = 'x' WHERE seq = 1")
        .await;
    assert!(r.is_err(), "the trigger must refuse an update");
    tx.rollback().await.unwrap();
    let mut tx = app.store.begin().await.unwrap();
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
    let mut tx = app.store.begin().await.unwrap();
    let events = tx.audit_events(Some(action)).await.unwrap();
    tx.rollback().await.unwrap();
    app.store.close().await;
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

// ---------------------------------------------------------------------------------------
// Issue 9 item 6: an audit trail that outlives a hostile database administrator.
// ---------------------------------------------------------------------------------------

/// The database of a data dir: the SQLite file, or the PostgreSQL URL given.
fn db_url(env: &Env, pg: Option<&str>) -> String {
    match pg {
        Some(u) => u.to_string(),
        None => format!("sqlite://{}", env.data_dir().join("kmn.db").display()),
    }
}

/// What someone with write access to the database (and nothing else) runs: the
/// append-only triggers go first.
async fn as_dba(url: &str, sql: &str) {
    let store = kmn_store::Store::open(url).await.unwrap();
    let drop = match store.backend() {
        kmn_store::Backend::Sqlite => {
            "DROP TRIGGER IF EXISTS audit_events_append_only_u; DROP TRIGGER IF EXISTS audit_events_append_only_d; \
             DROP TRIGGER IF EXISTS access_log_append_only_u; DROP TRIGGER IF EXISTS access_log_append_only_d;"
        }
        kmn_store::Backend::Postgres => {
            "DROP TRIGGER IF EXISTS audit_events_append_only ON audit_events; \
             DROP TRIGGER IF EXISTS access_log_append_only ON access_log;"
        }
    };
    let mut tx = store.begin().await.unwrap();
    tx.execute_raw(drop).await.unwrap();
    tx.execute_raw(sql).await.unwrap();
    tx.commit().await.unwrap();
    store.close().await;
}

/// A data dir with some history and a checkpoint signed on demand; returns the env and
/// the checkpointed event's sequence number.
fn checkpointed(pg: Option<&str>) -> (Env, i64) {
    let mut env = Env::new();
    if let Some(u) = pg {
        env = env.env("KMN_DATABASE_URL", u);
    }
    let out = env.init(&[]);
    assert!(out.contains("checkpoint   #1 of the audit log"), "{out}");
    let csr = env.csr("u", "p256", "/C=JP/O=Clinic/CN=Taro", &[]);
    env.issue("u", &csr, "user-card", "3y");
    env.ok(&["crl", "publish"]);
    let out = env.ok(&["audit", "checkpoint"]);
    assert!(
        out.starts_with("checkpoint #2 of the audit log: event "),
        "{out}"
    );
    let seq: i64 = out
        .trim_start_matches("checkpoint #2 of the audit log: event ")
        .split(',')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(seq >= 4, "{out}");
    let out = env.ok(&["audit", "verify"]);
    assert!(out.contains("audit log intact"), "{out}");
    assert!(
        out.contains(&format!(
            "checkpoint #2 ({}",
            env.data_dir()
                .join("audit-checkpoints/00000002.p7s")
                .display()
        )),
        "{out}"
    );
    assert!(
        out.contains(&format!("its event {seq} with the signed hash")),
        "{out}"
    );
    // More happens after the checkpoint: the chain extends it.
    env.ok(&["crl", "publish"]);
    env.ok(&["audit", "verify"]);
    (env, seq)
}

async fn rewound_chain_detected(pg: Option<&str>) {
    let (env, seq) = checkpointed(pg);
    let url = db_url(&env, pg);
    let keep = seq - 2;
    // Delete the last events and move the head back to the last one kept, consistently:
    // the chain alone no longer shows anything.
    as_dba(
        &url,
        &format!(
            "DELETE FROM audit_events WHERE seq > {keep}; \
             UPDATE audit_head SET seq = {keep}, hash = (SELECT hash FROM audit_events WHERE seq = {keep}) WHERE id = 1;"
        ),
    )
    .await;
    let o = env.run(&["audit", "verify"]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("audit log intact"),
        "the chain alone looks fine: {out}"
    );
    assert_fails(&o, 1, "the audit chain was REWOUND: checkpoint #2");
    assert_fails(&o, 1, &format!("covers events up to {seq} with head hash"));
    assert_fails(&o, 1, &format!("the database's chain ends at event {keep}"));
    // No checkpoint is signed over a rewound chain.
    assert_fails(
        &env.run(&["audit", "checkpoint"]),
        1,
        "does not extend checkpoint #2",
    );
}

#[tokio::test]
async fn issue9_audit_rewound_chain_detected() {
    rewound_chain_detected(None).await;
}

#[tokio::test]
async fn issue9_audit_rewound_chain_detected_postgres() {
    if let Some(url) = crate::support::pg_url("audit_rewound").await {
        rewound_chain_detected(Some(&url)).await;
    }
}

async fn rewritten_chain_detected(pg: Option<&str>) {
    let (env, seq) = checkpointed(pg);
    let url = db_url(&env, pg);
    // Read the chain, change an early event, and recompute every hash after it with the
    // chain's own algorithm: a consistent chain that says something else.
    let store = kmn_store::Store::open(&url).await.unwrap();
    let mut tx = store.read().await.unwrap();
    let mut events = tx.audit_events(None).await.unwrap();
    tx.rollback().await.unwrap();
    store.close().await;
    let mut prev = kmn_store::AUDIT_GENESIS.to_string();
    let mut sql = String::from("DELETE FROM audit_events;");
    for e in &mut events {
        if e.seq == 2 {
            e.summary = "nothing was issued".into();
        }
        e.prev_hash = prev.clone();
        e.hash = e.recomputed_hash();
        prev = e.hash.clone();
        let q = |s: &str| s.replace('\'', "''");
        sql.push_str(&format!(
            "INSERT INTO audit_events (seq, at, actor, action, object, facility, summary, prev_hash, hash) \
             VALUES ({}, {}, '{}', '{}', '{}', {}, '{}', '{}', '{}');",
            e.seq,
            e.at,
            q(&e.actor),
            q(&e.action),
            q(&e.object),
            e.facility.as_deref().map(|f| format!("'{}'", q(f))).unwrap_or("NULL".into()),
            q(&e.summary),
            e.prev_hash,
            e.hash
        ));
    }
    sql.push_str(&format!(
        "UPDATE audit_head SET hash = '{prev}' WHERE id = 1;"
    ));
    as_dba(&url, &sql).await;
    let o = env.run(&["audit", "verify"]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("audit log intact"),
        "the chain alone looks fine: {out}"
    );
    assert_fails(&o, 1, "the audit chain was REWRITTEN: checkpoint #2");
    assert_fails(&o, 1, &format!("signed event {seq} with hash"));
    assert_fails(
        &env.run(&["audit", "checkpoint"]),
        1,
        "no longer has the signed hash (the chain was rewritten)",
    );
}

#[tokio::test]
async fn issue9_audit_rewritten_chain_detected() {
    rewritten_chain_detected(None).await;
}

#[tokio::test]
async fn issue9_audit_rewritten_chain_detected_postgres() {
    if let Some(url) = crate::support::pg_url("audit_rewritten").await {
        rewritten_chain_detected(Some(&url)).await;
    }
}

/// The checkpoint verifies with OpenSSL and the root certificate alone (the command of
/// docs/ADMIN.md §3b), and the audit signer's certificate passes pkilint and OpenSSL.
#[tokio::test]
async fn issue9_audit_checkpoint_verifies_with_openssl_alone() {
    let env = Env::new();
    env.init(&[]);
    env.ok(&["audit", "checkpoint"]);
    let root = env.pem_of(&env.repo("kmn-root-g1.crt"), "cert");
    let latest = env.data_dir().join("audit-checkpoints/latest.p7s");
    let out = env.path("checkpoint.der");
    let (ok, text) = tool(
        "openssl",
        &[
            "cms",
            "-verify",
            "-binary",
            "-inform",
            "DER",
            "-in",
            latest.to_str().unwrap(),
            "-CAfile",
            root.to_str().unwrap(),
            "-purpose",
            "any",
            "-out",
            out.to_str().unwrap(),
        ],
    );
    assert!(ok, "{text}");
    assert!(text.contains("Verification successful"), "{text}");
    let record =
        kmn_pki::checkpoint::AuditCheckpoint::from_der(&std::fs::read(&out).unwrap()).unwrap();
    assert_eq!(record.number, 2);
    assert_eq!(
        std::fs::read(&latest).unwrap(),
        std::fs::read(env.data_dir().join("audit-checkpoints/00000002.p7s")).unwrap()
    );
    // The record read by OpenSSL is the documented ASN.1.
    let (ok, text) = tool(
        "openssl",
        &["asn1parse", "-inform", "DER", "-in", out.to_str().unwrap()],
    );
    assert!(ok && text.contains("GENERALIZEDTIME"), "{text}");
    // A changed octet: OpenSSL refuses it.
    let mut bad = std::fs::read(&latest).unwrap();
    let n = bad.len();
    bad[n - 10] ^= 1;
    let badf = env.path("bad.p7s");
    std::fs::write(&badf, bad).unwrap();
    let (ok, _) = tool(
        "openssl",
        &[
            "cms",
            "-verify",
            "-binary",
            "-inform",
            "DER",
            "-in",
            badf.to_str().unwrap(),
            "-CAfile",
            root.to_str().unwrap(),
            "-purpose",
            "any",
            "-out",
            "/dev/null",
        ],
    );
    assert!(!ok, "a changed checkpoint must not verify");

    // The audit signer's certificate: the profile, pkilint and OpenSSL.
    let (ok, signer) = tool(
        "openssl",
        &[
            "pkcs7",
            "-print_certs",
            "-inform",
            "DER",
            "-in",
            latest.to_str().unwrap(),
        ],
    );
    assert!(ok, "{signer}");
    assert!(
        signer.contains("CN = Kumamoto Medical Network Audit Signer G1"),
        "{signer}"
    );
    assert!(
        signer.contains("CN = Kumamoto Medical Network Issuing CA G1"),
        "{signer}"
    );
    let store = kmn_store::Store::open(&db_url(&env, None)).await.unwrap();
    let mut tx = store.read().await.unwrap();
    let rec = tx
        .active_ca(kmn_store::CaKind::AuditSigner)
        .await
        .unwrap()
        .unwrap();
    tx.rollback().await.unwrap();
    store.close().await;
    assert_eq!(rec.name, "kmn-audit-g1-1");
    let pem = env.path("audit-signer.pem");
    std::fs::write(&pem, kmn_pki::cert::to_pem(&rec.cert_der)).unwrap();
    let (ok, text) = tool(
        "openssl",
        &["x509", "-noout", "-text", "-in", pem.to_str().unwrap()],
    );
    assert!(ok, "{text}");
    assert!(text.contains("Digital Signature"), "{text}");
    assert!(
        text.contains("1.3.6.1.5.5.7.3.36") || text.contains("Document Signing"),
        "{text}"
    );
    assert!(!text.contains("X509v3 Certificate Policies"), "{text}");
    crate::support::pkilint("lint_pkix_cert", &[pem.to_str().unwrap()]);
    let issuing = env.pem_of(&env.repo("kmn-issuing-g1.crt"), "cert");
    crate::support::pkilint(
        "lint_pkix_signer_signee_cert_chain",
        &[issuing.to_str().unwrap(), pem.to_str().unwrap()],
    );
    let (ok, text) = env.verify_with_repository("kmn-issuing-g1", &pem, &["-x509_strict"]);
    assert!(ok, "{text}");
}

/// `kmn ca new-issuing` makes the new CA's audit signer; `kmn audit key` makes one for a
/// data dir that has none (made before audit signers existed).
#[tokio::test]
async fn issue9_audit_signer_follows_the_issuing_ca_and_can_be_made_on_demand() {
    let env = Env::new();
    env.init(&[]);
    let out = env.ok(&["ca", "new-issuing"]);
    assert!(out.contains("audit signer kmn-audit-g2-1"), "{out}");
    let out = env.ok(&["audit", "checkpoint"]);
    assert!(out.contains("by kmn-audit-g2-1"), "{out}");
    env.ok(&["audit", "verify"]);
    // A data dir without an active audit signer.
    as_dba(
        &db_url(&env, None),
        "UPDATE cas SET active = 0 WHERE kind = 'audit_signer';",
    )
    .await;
    assert_fails(&env.run(&["audit", "checkpoint"]), 1, "run `kmn audit key`");
    let out = env.ok(&["audit", "key"]);
    assert!(out.contains("audit signer kmn-audit-g2-2"), "{out}");
    let out = env.ok(&["audit", "checkpoint"]);
    assert!(out.contains("by kmn-audit-g2-2"), "{out}");
    let out = env.ok(&["audit", "verify"]);
    assert!(out.contains("signed hash"), "{out}");
}

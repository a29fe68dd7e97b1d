//! Revocation by the association (第12条, issue 10 item 3) over the API, under dual
//! control: an operator proposes; the proposer's own right, an operator's approval, an
//! altered or expired proposal are refused with nothing revoked; a supervisor who is
//! another person approves, and the revocation, the return request and the notice are
//! one transaction. A bulk revocation freezes the facility's cards when proposed.

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::api_fixture::World;
use crate::support::pg_url;

async fn sqlite_world() -> World {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("ra.db").display());
    let w = World::new(&url).await;
    std::mem::forget(dir);
    w
}

async fn status(w: &World, serial: &str) -> kmn_store::CertRecord {
    let mut tx = w.app.store_for_tests().read().await.unwrap();
    let c = tx.certificate(serial).await.unwrap().unwrap();
    tx.rollback().await.unwrap();
    c
}

fn code(v: &Value) -> &str {
    v["code"].as_str().unwrap_or_default()
}

async fn story(w: &World) {
    let (_, card, serial) = w.issued_card(&w.nurse_a).await;
    // An unknown ground, or neither cards nor a facility: refused.
    let (st, v) = w
        .call(
            Some("operator"),
            Method::POST,
            "/api/v1/revocation-proposals",
            Some(json!({"ground": "bored", "card_ids": [card], "note": "理由の説明"})),
        )
        .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    let (st, v) = w
        .call(
            Some("operator"),
            Method::POST,
            "/api/v1/revocation-proposals",
            Some(json!({"ground": "unpaid_fees", "note": "理由の説明"})),
        )
        .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    // The operator proposes 第12条(5), the card to come back.
    let (st, p) = w
        .call(
            Some("operator"),
            Method::POST,
            "/api/v1/revocation-proposals",
            Some(json!({"ground": "unpaid_fees", "card_ids": [card.to_lowercase()], "card_must_return": true, "note": "6か月分のサービス料金が未払い"})),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{p}");
    let id = p["id"].as_str().unwrap().to_string();
    let sha = p["content_sha256"].as_str().unwrap().to_string();
    assert_eq!(p["payload"]["article"], "第12条(5)", "{p}");
    assert_eq!(p["payload"]["cards"][0]["card_id"], card.as_str(), "{p}");
    let approve = format!("/api/v1/proposals/{id}/approve");
    // Not by an operator; not with content other than what was proposed.
    let (st, v) = w
        .call(
            Some("operator"),
            Method::POST,
            &approve,
            Some(json!({"content_sha256": sha})),
        )
        .await;
    assert_eq!(st, StatusCode::FORBIDDEN, "{v}");
    let (st, v) = w
        .call(
            Some("supervisor"),
            Method::POST,
            &approve,
            Some(json!({"content_sha256": "00".repeat(32)})),
        )
        .await;
    assert_eq!(
        (st, code(&v)),
        (StatusCode::CONFLICT, "E_PROPOSAL_ALTERED"),
        "{v}"
    );
    assert!(
        status(w, &serial).await.revocation.is_none(),
        "nothing revoked yet"
    );
    // A supervisor who is another person: revoked, asked back, notified — at once.
    let (st, d) = w
        .call(
            Some("supervisor"),
            Method::POST,
            &approve,
            Some(json!({"content_sha256": sha})),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{d}");
    assert_eq!(d["revoked"], json!([serial]), "{d}");
    assert_eq!(d["returns_requested"], 1, "{d}");
    assert_eq!(d["facilities_notified"], 1, "{d}");
    assert_eq!(d["proposal"]["state"], "approved", "{d}");
    let c = status(w, &serial).await;
    let r = c.revocation.unwrap();
    assert_eq!(r.reason, kmn_domain::RevocationReason::PrivilegeWithdrawn);
    assert_eq!(r.article.as_deref(), Some("第12条(5)"));
    assert_eq!(r.grounds.as_deref(), Some("association:unpaid_fees"));
    assert_eq!(r.channel.as_deref(), Some("proposal"));
    let (_, cv) = w
        .call(
            Some("desk_a"),
            Method::GET,
            &format!("/api/v1/cards/{card}"),
            None,
        )
        .await;
    assert_eq!(cv["state"], "return_requested", "{cv}");
    let (_, notices) = w
        .call(Some("desk_a"), Method::GET, "/api/v1/notices", None)
        .await;
    assert!(
        notices
            .to_string()
            .contains("certificate_revoked_by_association"),
        "{notices}"
    );
    // Decided once: a second approval is a conflict.
    let (st, v) = w
        .call(
            Some("supervisor"),
            Method::POST,
            &approve,
            Some(json!({"content_sha256": sha})),
        )
        .await;
    assert_eq!(st, StatusCode::CONFLICT, "{v}");

    // The supervisor cannot approve what they proposed themselves.
    let (_, desk_card_b, desk_serial_b) = {
        let (a, c, s) = w.issued_card(&w.nurse_a).await;
        (a, c, s)
    };
    let (st, p) = w
        .call(
            Some("supervisor"),
            Method::POST,
            "/api/v1/revocation-proposals",
            Some(json!({"ground": "breach", "card_ids": [desk_card_b], "note": "規約違反の確認"})),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{p}");
    let (st, v) = w
        .call(
            Some("supervisor"),
            Method::POST,
            &format!("/api/v1/proposals/{}/approve", p["id"].as_str().unwrap()),
            Some(json!({"content_sha256": p["content_sha256"]})),
        )
        .await;
    assert_eq!(code(&v), "E_SELF_APPROVAL", "{st} {v}");
    // … and an expired proposal is refused, nothing revoked.
    w.clock.advance(time::Duration::hours(73));
    let (st, v) = w
        .call(
            Some("supervisor"),
            Method::POST,
            &format!("/api/v1/proposals/{}/approve", p["id"].as_str().unwrap()),
            Some(json!({"content_sha256": p["content_sha256"]})),
        )
        .await;
    assert_eq!(code(&v), "E_PROPOSAL_EXPIRED", "{st} {v}");
    assert!(status(w, &desk_serial_b).await.revocation.is_none());
}

#[tokio::test]
async fn art12_association_revocation_needs_another_supervisor_and_is_one_transaction() {
    story(&sqlite_world().await).await;
}

#[tokio::test]
async fn art12_association_revocation_needs_another_supervisor_and_is_one_transaction_postgres() {
    if let Some(url) = pg_url("association").await {
        story(&World::new(&url).await).await;
    }
}

#[tokio::test]
async fn art12_bulk_revocation_of_a_facility_freezes_its_cards_when_proposed() {
    let w = sqlite_world().await;
    // Facility B's live cards: the desk member's own card (the fixture's) and a nurse's.
    let id = w.approved_new("desk_b", &w.nurse_b, 3).await;
    let (st, v) = w
        .call(
            Some("operator"),
            Method::POST,
            &format!("/api/v1/applications/{id}/fulfil"),
            Some(json!({"csr_pem": crate::api_fixture::csr_pem()})),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    let (st, p) = w
        .call(
            Some("operator"),
            Method::POST,
            "/api/v1/revocation-proposals",
            Some(json!({"ground": "other", "facility_code": w.fac_b, "card_must_return": true, "note": "施設がネットワークから退会"})),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{p}");
    let frozen: Vec<String> = p["payload"]["cards"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["serial_hex"].as_str().unwrap().to_string())
        .collect();
    assert!(frozen.len() >= 2, "{p}");
    let (st, d) = w
        .call(
            Some("supervisor"),
            Method::POST,
            &format!("/api/v1/proposals/{}/approve", p["id"].as_str().unwrap()),
            Some(json!({"content_sha256": p["content_sha256"]})),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{d}");
    let mut revoked: Vec<String> = d["revoked"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect();
    revoked.sort();
    let mut want = frozen.clone();
    want.sort();
    assert_eq!(revoked, want, "exactly the frozen set");
    for s in &frozen {
        let r = status(&w, s).await.revocation.unwrap();
        assert_eq!(r.article.as_deref(), Some("第12条(6)"));
    }
    // Facility A's cards are untouched.
    let (_, a) = w
        .call(Some("desk_a"), Method::GET, "/api/v1/whoami", None)
        .await;
    assert_eq!(
        a["role"], "facility_desk",
        "facility A's desk still logs in: {a}"
    );
}

/// `kmn proposal` through the real binary against `kmn up` (第12条, issue 10 item 3): the
/// demo operator proposes a bulk revocation of the demo facility with its own certificate;
/// the operator cannot approve it; an altered hash is refused; the demo supervisor (another
/// person) approves with the progress shown and a summary; the CRL lists the card.
#[tokio::test]
async fn art12_kmn_proposal_bulk_revocation_through_the_api_with_progress() {
    use std::time::{Duration, Instant};
    let env = crate::support::Env::new();
    let srv = crate::serve::start(&env);
    let pass = std::fs::read_to_string(env.data_dir().join("secrets/ca-passphrase")).unwrap();
    let env = env.env("KMN_CA_PASSPHRASE", pass.trim());
    let app = env.app().await;
    let card = crate::serve::demo_desk_card(&app).await;
    let serial = card.cert_serial_hex.clone().unwrap();
    let demo = env.data_dir().join("demo");
    let d = |f: &str| demo.join(f).to_str().unwrap().to_string();
    let https = srv.https.replace("127.0.0.1", "localhost");
    let conn = |role: &str| {
        vec![
            "--server".to_string(),
            https.clone(),
            "--cert".to_string(),
            d(&format!("{role}.pem")),
            "--key-file".to_string(),
            d(&format!("{role}.key")),
            "--server-ca".to_string(),
            d("root-ca.pem"),
        ]
    };
    let run = |args: Vec<String>| {
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        env.run(&a)
    };
    let facility = kmn_app::quickstart::demo_facility_code();
    let mut args: Vec<String> = [
        "proposal",
        "revoke-facility",
        &facility,
        "--ground",
        "unpaid_fees",
        "--card-must-return",
        "--note",
        "6か月分のサービス料金が未払いのため",
        "--json",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    args.extend(conn("operator"));
    let o = run(args);
    assert!(o.status.success(), "{o:?}");
    let p: Value = serde_json::from_slice(&o.stdout).unwrap();
    let id = p["id"].as_str().unwrap().to_string();
    let sha = p["content_sha256"].as_str().unwrap().to_string();
    assert_eq!(p["payload"]["cards"].as_array().unwrap().len(), 1, "{p}");
    // `show` in Japanese.
    let mut args = vec!["proposal".to_string(), "show".into(), id.clone()];
    args.extend(conn("operator"));
    let o = run(args);
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success() && text.contains("承認待ち") && text.contains("第12条(5)"),
        "{text}"
    );
    // The operator may not decide: the supervisor's right.
    let mut args = vec![
        "proposal".to_string(),
        "approve".into(),
        id.clone(),
        "--sha256".into(),
        sha.clone(),
    ];
    args.extend(conn("operator"));
    let o = run(args);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success() && err.contains("E_FORBIDDEN"), "{err}");
    // An altered hash: refused, nothing revoked.
    let mut args = vec![
        "proposal".to_string(),
        "approve".into(),
        id.clone(),
        "--sha256".into(),
        "0".repeat(64),
    ];
    args.extend(conn("supervisor"));
    let o = run(args);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        !o.status.success() && err.contains("E_PROPOSAL_ALTERED"),
        "{err}"
    );
    let (_, _, crl) = crate::serve::get(&srv.http, "/repo/kmn-issuing-g1.crl");
    assert!(!crate::serve::crl_lists(&crl, &serial));
    // The supervisor approves: progress on stderr, the summary on stdout.
    let since = Instant::now();
    let mut args = vec![
        "proposal".to_string(),
        "approve".into(),
        id.clone(),
        "--sha256".into(),
        sha.clone(),
    ];
    args.extend(conn("supervisor"));
    let o = run(args);
    let out = String::from_utf8_lossy(&o.stdout);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{out}\n{err}");
    assert!(err.contains("失効中 1/1"), "progress: {err}");
    assert!(
        out.contains("失効させた証明書  1 件")
            && out.contains("返却を依頼したカード 1 枚")
            && out.contains("承認済み"),
        "{out}"
    );
    crate::serve::wait_until_on_crl(
        || crate::serve::get(&srv.http, "/repo/kmn-issuing-g1.crl").2,
        &serial,
        since,
        Duration::from_secs(10),
        Duration::from_millis(50),
    );
    // Decided once: a second approval is refused.
    let mut args = vec![
        "proposal".to_string(),
        "approve".into(),
        id.clone(),
        "--sha256".into(),
        sha,
        "--json".into(),
    ];
    args.extend(conn("supervisor"));
    let o = run(args);
    let v: Value = serde_json::from_slice(&o.stdout).unwrap_or(Value::Null);
    assert!(!o.status.success() && v["code"] != "", "{v}");
}

/// 第12条 in production: support-center staff log in with the key on their own operator
/// card (it never leaves the card), not a key file — `kmn proposal --module … --pin-file`
/// (or the PIN on standard input) proposes as that account; a wrong PIN is the card's own
/// error with nothing proposed; a PIN file others may read, and a card together with a key
/// file, are refused before anything is sent.
#[tokio::test]
async fn art12_kmn_proposal_with_the_operator_card() {
    use std::io::Write;
    let Some(module) = crate::cards::softhsm() else {
        return;
    };
    let m = module.to_str().unwrap().to_string();
    let (env, _conf) = crate::cards::with_softhsm(crate::support::Env::new());
    let srv = crate::serve::start(&env);
    let pass = std::fs::read_to_string(env.data_dir().join("secrets/ca-passphrase")).unwrap();
    let env = env.env("KMN_CA_PASSPHRASE", pass.trim());
    let app = env.app().await;
    let card = crate::serve::demo_desk_card(&app).await;
    let v: Value = serde_json::from_str(&env.ok(&[
        "account",
        "enrol",
        "--role",
        "operator",
        "--name",
        "熊本 一郎",
        "--person",
        "staff-01",
        "--module",
        &m,
        "--json",
    ]))
    .unwrap();
    let account = v["account"]["id"].as_str().unwrap().to_string();
    let mailer = std::path::PathBuf::from(v["mailer_path"].as_str().unwrap());
    let (_, pin) = crate::cards::pin_from_mailer(&mailer, &[&account]);
    let label = "KMN staff-01";
    let root = env.data_dir().join("demo/root-ca.pem");
    let https = srv.https.replace("127.0.0.1", "localhost");
    let propose = |extra: &[&str], stdin: Option<&str>| {
        let mut args = vec![
            "proposal",
            "revoke-cards",
            "--cards",
            &card.id,
            "--ground",
            "breach",
            "--note",
            "規約違反の確認（担当者ICカード）",
            "--json",
            "--server",
            &https,
            "--server-ca",
            root.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        let mut c = env.cmd(&args);
        c.stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        let mut child = c.spawn().unwrap();
        let mut input = child.stdin.take().unwrap();
        // A command refused by its options exits before it reads: a closed pipe is fine.
        if let Some(s) = stdin {
            let _ = input.write_all(s.as_bytes());
        }
        drop(input);
        child.wait_with_output().unwrap()
    };
    let proposals = || async {
        let mut tx = app.store_for_tests().read().await.unwrap();
        let n = tx
            .audit_events(Some("proposal.propose"))
            .await
            .unwrap()
            .len();
        tx.rollback().await.unwrap();
        n
    };
    let before = proposals().await;
    // A wrong PIN: the card's answer, one code, nothing proposed.
    let o = propose(&["--module", &m, "--token-label", label], Some("000000\n"));
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("E_TOKEN_") && err.contains("PIN"), "{err}");
    assert_eq!(proposals().await, before);
    // A PIN file others may read is refused.
    let loose = env.path("pin-loose");
    std::fs::write(&loose, format!("{pin}\n")).unwrap();
    std::fs::set_permissions(&loose, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
    let o = propose(
        &[
            "--module",
            &m,
            "--token-label",
            label,
            "--pin-file",
            loose.to_str().unwrap(),
        ],
        None,
    );
    assert!(!o.status.success(), "{o:?}");
    // A card and a key file together: refused by the options themselves.
    let o = propose(
        &["--module", &m, "--cert", "x.pem", "--key-file", "x.key"],
        Some(&format!("{pin}\n")),
    );
    assert_eq!(o.status.code(), Some(2), "{o:?}");
    assert_eq!(proposals().await, before);
    // The PIN on standard input: proposed as the card's account.
    let o = propose(
        &["--module", &m, "--token-label", label],
        Some(&format!("{pin}\n")),
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let p: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(p["proposed_by"], account.as_str(), "{p}");
    assert_eq!(p["state"], "proposed", "{p}");
    // The PIN from a file of the person's own (0600): `show` works the same way.
    let own = env.path("pin-own");
    crate::support::write_secret(&own, &format!("{pin}\n"));
    let o = env.run(&[
        "proposal",
        "show",
        p["id"].as_str().unwrap(),
        "--server",
        &https,
        "--server-ca",
        root.to_str().unwrap(),
        "--module",
        &m,
        "--token-label",
        label,
        "--pin-file",
        own.to_str().unwrap(),
    ]);
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success() && text.contains("承認待ち"),
        "{text}{o:?}"
    );
    drop(srv);
}

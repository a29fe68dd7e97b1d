//! A personalization station that is not the server (issue #4 item 1, DESIGN §6):
//! `kmn card personalize --server` with a station account's certificate, against `kmn up`
//! serving the API over real TLS. The SO-PIN master secret and the CA keys stay on the
//! server; the PIN mailer is written at the station and only its hash reaches the server.

use std::path::PathBuf;

use crate::cards::softhsm;
use crate::support::{Env, tool};

#[tokio::test]
async fn station_personalizes_a_card_through_the_api() {
    let Some(module) = softhsm() else { return };
    let m = module.to_str().unwrap().to_string();
    let server = Env::new();
    let srv = crate::serve::start(&server);
    // An approved application at the demo facility (the server process is running on the
    // same SQLite file; WAL lets this process write next to it).
    let app = server.app().await;
    let admin = kmn_app::rights::CaAdmin::local(Some("test")).registrar();
    let code = kmn_app::quickstart::demo_facility_code();
    let (p, _) = kmn_app::ra::persons::register(
        &app,
        &admin,
        &crate::api_fixture::person_input(
            &code,
            "球磨 花子",
            "クマ ハナコ",
            "Hanako Kuma",
            "nurse",
            true,
        ),
    )
    .await
    .unwrap();
    let a = kmn_app::ra::applications::create(
        &app,
        &admin,
        &kmn_app::ra::applications::ApplicationInput {
            facility_code: code.clone(),
            holder_id: p.holder_id.clone(),
            kind: "new".into(),
            validity_years: Some(3),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    for act in [
        kmn_domain::ApplicationAction::Submit,
        kmn_domain::ApplicationAction::Approve,
    ] {
        // Separation of duties: someone else approves what was filed.
        let who = if act == kmn_domain::ApplicationAction::Approve {
            kmn_app::rights::CaAdmin::local(Some("cli:supervisor")).registrar()
        } else {
            admin.clone()
        };
        kmn_app::ra::applications::act(&app, &who, &a.id, act, None)
            .await
            .unwrap();
    }

    // The station: its own (empty) data dir and token directory, no master secret.
    let (station, conf) = crate::cards::with_softhsm(Env::new());
    let demo = server.data_dir().join("demo");
    let mailers = station.path("mailers");
    let run = |role: &str| {
        station
            .cmd(&[
                "card",
                "personalize",
                "--module",
                &m,
                "--application",
                &a.id,
                "--server",
                &srv.https,
                "--cert",
                demo.join(format!("{role}.pem")).to_str().unwrap(),
                "--key-file",
                demo.join(format!("{role}.key")).to_str().unwrap(),
                "--server-ca",
                demo.join("root-ca.pem").to_str().unwrap(),
                "--mailer-dir",
                mailers.to_str().unwrap(),
                "--json",
            ])
            .env("SOFTHSM2_CONF", &conf)
            .env_remove("KMN_SO_PIN_MASTER")
            .env_remove("KMN_SO_PIN_MASTER_FILE")
            .env_remove("KMN_CA_PASSPHRASE")
            .output()
            .unwrap()
    };

    // A facility desk's certificate is not a station: refused before any card is touched.
    let o = run("facility_desk");
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("発行端末"), "{err}");

    let o = run("station");
    let out = String::from_utf8_lossy(&o.stdout).to_string();
    assert!(
        o.status.success(),
        "{out}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["card"]["state"], "personalized", "{v}");
    assert_eq!(v["application"]["state"], "fulfilled", "{v}");
    let token_serial = v["token_serial"].as_str().unwrap().to_string();
    let card_id = v["card"]["id"].as_str().unwrap().to_string();

    // The mailer is at the station, and only its record at the server.
    let mailer = PathBuf::from(v["pin_mailer"].as_str().unwrap());
    assert!(
        mailer.starts_with(&mailers) && mailer.exists(),
        "{mailer:?}"
    );
    let (ok, text) = tool("pdftotext", &["-layout", mailer.to_str().unwrap(), "-"]);
    assert!(
        ok && text.contains("球磨") && text.contains("初期PIN"),
        "{text}"
    );
    assert!(
        !server
            .data_dir()
            .join("mailers")
            .join(mailer.file_name().unwrap())
            .exists()
    );
    assert!(
        !station.data_dir().join("secrets/so-pin-master").exists(),
        "the master secret stays on the server"
    );
    let view = kmn_app::ra::delivery::view(&app, &admin.reader(), &card_id)
        .await
        .unwrap();
    assert_eq!(
        view.card.token_serial.as_deref(),
        Some(token_serial.as_str())
    );
    assert_eq!(view.pin_mailers.len(), 1);
    assert_eq!(view.pin_mailers[0].state, "held");
    assert_ne!(
        view.pin_mailers[0].produced_by, "center",
        "held at the station"
    );
    let mut tx = app.store_for_tests().read().await.unwrap();
    let so = tx.audit_events(Some("station.so_pin")).await.unwrap();
    tx.rollback().await.unwrap();
    assert!(
        so.iter().any(|e| e.summary.contains(&token_serial)),
        "{so:?}"
    );

    // The card holds the chain; the CA at the server knows it (inspected at the server).
    let label = format!("KMN {}", p.holder_id);
    let o = std::process::Command::new("pkcs11-tool")
        .env("SOFTHSM2_CONF", &conf)
        .args(["--module", &m, "--token-label", &label, "--list-objects"])
        .output()
        .unwrap();
    let objs = String::from_utf8_lossy(&o.stdout);
    assert!(
        objs.matches("Certificate Object").count() >= 3,
        "card, issuing CA and root: {objs}"
    );
    // A station never gets the SO PIN of a card in use.
    let station_actor = kmn_app::rights::CaAdmin::local(Some("U-station")).station();
    let e = kmn_app::station::so_pin(&app, &station_actor, &token_serial)
        .await
        .map(|_| ())
        .expect_err("refused");
    assert!(matches!(e, kmn_app::AppError::Forbidden(_)), "{e}");
    drop(srv);
}

// --- issue 8 items 1 and 2: a station revokes or binds only its own certificate ---------

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::api_fixture::World;

async fn sqlite_world() -> World {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("ra.db").display());
    let w = World::new(&url).await;
    std::mem::forget(dir);
    w
}

/// Runs a World test on SQLite, then on PostgreSQL (when reachable).
macro_rules! on_both {
    ($name:ident, $body:ident, $tag:literal) => {
        #[tokio::test]
        async fn $name() {
            $body(&sqlite_world().await).await;
            // A short tag: PostgreSQL truncates schema names to 63 bytes.
            if let Some(url) = crate::support::pg_url($tag).await {
                $body(&World::new(&url).await).await;
            }
        }
    };
}

fn serial_of(der: &[u8]) -> String {
    kmn_pki::parse::cert(der).unwrap().tbs.serial_hex()
}

/// (serial, profile) of the CA, OCSP-signer, operator and server certificates of `w`.
async fn protected(w: &World) -> Vec<(String, String)> {
    use sqlx::Row;
    let mut v: Vec<(String, String)> = sqlx::query(
        "SELECT serial_hex, profile FROM certificates WHERE profile IN ('root', 'issuing-ca', 'ocsp-signer') ORDER BY profile",
    )
    .fetch_all(w.app.store_for_tests().pool())
    .await
    .unwrap()
    .into_iter()
    .map(|r| (r.get(0), r.get(1)))
    .collect();
    assert_eq!(v.len(), 3, "{v:?}");
    v.push((serial_of(&w.certs["operator"]), "operator".into()));
    v.push((serial_of(&w.certs["server"]), "server".into()));
    v
}

async fn status(w: &World, serial: &str) -> kmn_domain::CertStatus {
    let mut tx = w.app.store_for_tests().read().await.unwrap();
    let c = tx.certificate(serial).await.unwrap().unwrap();
    tx.rollback().await.unwrap();
    c.status
}

async fn revocation(w: &World, serial: &str) -> Option<kmn_store::RevocationInfo> {
    let mut tx = w.app.store_for_tests().read().await.unwrap();
    let c = tx.certificate(serial).await.unwrap().unwrap();
    tx.rollback().await.unwrap();
    c.revocation
}

fn code(v: &Value) -> &str {
    v["code"].as_str().unwrap_or_default()
}

/// An approved new-card application of `holder` at facility A.
async fn approved(w: &World, holder: &str) -> String {
    w.approved_new("desk_a", holder, 5).await
}

/// The station's certificate request over the API: (serial, card id).
async fn station_certificate(w: &World, id: &str) -> (String, String) {
    let (st, v) = w
        .call(
            Some("station"),
            Method::POST,
            &format!("/api/v1/station/applications/{id}/certificate"),
            Some(json!({"csr_pem": crate::api_fixture::csr_pem(),
                "key": {"alg": "p256", "local": true, "never_extractable": true, "sensitive": true}})),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    (
        v["serial_hex"].as_str().unwrap().into(),
        v["card_id"].as_str().unwrap().into(),
    )
}

async fn record_card(
    w: &World,
    who: &str,
    id: &str,
    card_id: &str,
    serial: &str,
    token: &str,
) -> (StatusCode, Value) {
    w.call(
        Some(who),
        Method::POST,
        &format!("/api/v1/station/applications/{id}/card"),
        Some(
            json!({"card_id": card_id, "serial_hex": serial, "token_serial": token,
            "revocation_code": "123456789012",
            "summary": "test", "mailer_file": "/station/m.pdf", "mailer_sha256": "00"}),
        ),
    )
    .await
}

async fn abort(w: &World, who: &str, serial: &str) -> (StatusCode, Value) {
    w.call(
        Some(who),
        Method::POST,
        &format!("/api/v1/station/certificates/{serial}/abort"),
        Some(json!({"reason": "test"})),
    )
    .await
}

/// Points an existing card at `serial` behind the API's back (as a bad record or an
/// older defect would have), so the revocation guard itself is what refuses.
async fn plant(w: &World, card_id: &str, serial: &str) {
    sqlx::query("UPDATE cards SET cert_serial_hex = $1 WHERE id = $2")
        .bind(serial)
        .bind(card_id)
        .execute(w.app.store_for_tests().pool())
        .await
        .unwrap();
}

/// A new permitted nurse at facility A (each live card needs its own holder, 第4条2).
async fn new_holder(w: &World, n: usize) -> String {
    const K: [(&str, &str, &str); 10] = [
        ("一", "イチ", "Ichi"),
        ("二", "ニ", "Ni"),
        ("三", "サン", "San"),
        ("四", "シ", "Shi"),
        ("五", "ゴ", "Go"),
        ("六", "ロク", "Roku"),
        ("七", "ナナ", "Nana"),
        ("八", "ハチ", "Hachi"),
        ("九", "ク", "Ku"),
        ("十", "ジュウ", "Ju"),
    ];
    let (k, kana, r) = K[n % K.len()];
    let (p, _) = kmn_app::ra::persons::register(
        &w.app,
        &crate::api_fixture::admin().registrar(),
        &crate::api_fixture::person_input(
            &w.fac_a,
            &format!("検証 {k}"),
            &format!("ケンショウ {kana}"),
            &format!("{r} Kensho"),
            "nurse",
            true,
        ),
    )
    .await
    .unwrap();
    p.holder_id
}

/// Every revocation entry point — station abort, the station route as a center operator,
/// the RA paths (loss report, lost in the post, suspension), the jobs, and the CA
/// administrator's `kmn cert revoke` — against the root, the issuing CA, the OCSP signer,
/// an operator's and the TLS server's certificate.
async fn every_revocation_entry_point_refuses_protected_certificates(w: &World) {
    let targets = protected(w).await;
    let admin = crate::api_fixture::admin();
    for (n, (serial, profile)) in targets.iter().enumerate() {
        // The station: not a certificate issued to it (one answer for all), nothing revoked.
        let (st, v) = abort(w, "station", serial).await;
        assert_eq!(
            (st, code(&v)),
            (StatusCode::FORBIDDEN, "E_FORBIDDEN"),
            "{profile}: {v}"
        );
        // Center staff are not stations.
        for who in ["operator", "supervisor"] {
            let (st, v) = abort(w, who, serial).await;
            assert_eq!(
                (st, code(&v)),
                (StatusCode::FORBIDDEN, "E_FORBIDDEN"),
                "{who} {profile}: {v}"
            );
        }

        // RA: a loss report (keyCompromise on approval) of a card planted on the serial.
        let holder = new_holder(w, 2 * n).await;
        let (_, card, own) = w.issued_card(&holder).await;
        plant(w, &card, serial).await;
        let (st, a) = w
            .call(
                Some("desk_a"),
                Method::POST,
                "/api/v1/applications",
                Some(json!({"facility_code": w.fac_a, "holder_id": holder, "kind": "loss_report", "target_card_id": card})),
            )
            .await;
        assert_eq!(st, StatusCode::CREATED, "{a}");
        let lid = a["id"].as_str().unwrap();
        let (st, v) = w
            .call(
                Some("desk_a"),
                Method::POST,
                &format!("/api/v1/applications/{lid}/submit"),
                None,
            )
            .await;
        assert_eq!(st, StatusCode::OK, "{v}");
        let (st, v) = w
            .call(
                Some("operator"),
                Method::POST,
                &format!("/api/v1/applications/{lid}/approve"),
                None,
            )
            .await;
        assert_eq!(
            (st, code(&v)),
            (StatusCode::UNPROCESSABLE_ENTITY, "E_RULE"),
            "loss report {profile}: {v}"
        );
        // RA: suspension (certificateHold) of the same card.
        let e = kmn_app::ra::delivery::suspend_or_resume(&w.app, &admin, &card, true, "テスト")
            .await
            .map(|_| ())
            .expect_err("refused");
        assert_eq!(e.code(), "E_RULE", "suspend {profile}: {e}");
        // The jobs: a renewal's supersession of the planted serial.
        let mut tx = w.app.store_for_tests().begin().await.unwrap();
        kmn_app::jobs::enqueue(
            &mut tx,
            &kmn_app::jobs::Job::RevokeSuperseded {
                serial_hex: serial.clone(),
                card_id: card.clone(),
                application_id: lid.into(),
            },
            0,
            &format!("issue8:{serial}"),
            0,
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
        let r = kmn_app::jobs::run_once(&w.app, "test").await.unwrap();
        assert_eq!((r.done, r.failed), (0, 1), "job {profile}");
        // RA: lost in the post, for a shipped card planted on the serial.
        plant(w, &card, &own).await;
        let (pcard, _) = w
            .personalized_card(
                &new_holder(w, 2 * n + 1).await,
                &format!("TOK{}", &serial[..8]),
            )
            .await;
        kmn_app::ra::delivery::ship(&w.app, &admin, &pcard, "簡易書留", None)
            .await
            .unwrap();
        plant(w, &pcard, serial).await;
        let (st, v) = w
            .call(
                Some("operator"),
                Method::POST,
                &format!("/api/v1/cards/{pcard}/lost-in-post"),
                Some(json!({"note": "配送業者の回答: 所在不明"})),
            )
            .await;
        assert_eq!(
            (st, code(&v)),
            (StatusCode::UNPROCESSABLE_ENTITY, "E_RULE"),
            "lost in post {profile}: {v}"
        );
        assert_eq!(
            status(w, serial).await,
            kmn_domain::CertStatus::Valid,
            "{profile} untouched"
        );
    }

    // The CA administrator's own path: a CA certificate is a root act, refused in English;
    // the OCSP signer, an operator's and the server's certificate may be revoked there.
    for (serial, profile) in &targets {
        let e = kmn_app::ca::revoke::revoke(
            &w.app,
            &kmn_app::ca::revoke::RevokeRequest {
                serial: serial.parse().unwrap(),
                reason: kmn_domain::RevocationReason::KeyCompromise,
                comment: None,
                invalidity_date: None,
                received_at: None,
                requested_by: "cli:admin".into(),
            },
        )
        .await;
        match profile.as_str() {
            "root" | "issuing-ca" => {
                let e = e.expect_err("a CA is not revoked here");
                assert_eq!(e.code(), "E_RULE");
                assert!(e.to_string().contains("root act"), "{e}");
                assert_eq!(status(w, serial).await, kmn_domain::CertStatus::Valid);
            }
            _ => {
                e.unwrap();
                assert_eq!(status(w, serial).await, kmn_domain::CertStatus::Revoked);
            }
        }
    }
}
on_both!(
    issue8_every_revocation_entry_point_refuses_ca_ocsp_operator_and_server_certificates,
    every_revocation_entry_point_refuses_protected_certificates,
    "i8_entry"
);

/// A station aborts only a certificate issued to it, unbound; a center operator cannot
/// use the station route even for that one.
async fn station_aborts_only_its_own_unbound_certificate(w: &World) {
    let id = approved(w, &w.nurse_a).await;
    let (serial, _) = station_certificate(w, &id).await;
    let (st, v) = abort(w, "operator", &serial).await;
    assert_eq!(
        (st, code(&v)),
        (StatusCode::FORBIDDEN, "E_FORBIDDEN"),
        "{v}"
    );
    assert_eq!(status(w, &serial).await, kmn_domain::CertStatus::Valid);
    // Another holder's active card certificate: not the station's.
    let (_, _, other) = w.issued_card(&new_holder(w, 0).await).await;
    let (st, v) = abort(w, "station", &other).await;
    assert_eq!(
        (st, code(&v)),
        (StatusCode::FORBIDDEN, "E_FORBIDDEN"),
        "{v}"
    );
    assert_eq!(status(w, &other).await, kmn_domain::CertStatus::Valid);
    let (st, v) = abort(w, "station", "00deadbeef").await;
    assert_eq!(
        (st, code(&v)),
        (StatusCode::FORBIDDEN, "E_FORBIDDEN"),
        "absent: {v}"
    );
    // Its own: revoked (cessationOfOperation, requested by the station), and again is
    // no error (revoked before).
    let (st, v) = abort(w, "station", &serial).await;
    assert_eq!(st, StatusCode::NO_CONTENT, "{v}");
    let r = revocation(w, &serial).await.unwrap();
    assert_eq!(r.reason, kmn_domain::RevocationReason::CessationOfOperation);
    assert_eq!(r.requested_by.as_deref(), Some(w.station().await.account()));
    let (st, _) = abort(w, "station", &serial).await;
    assert_eq!(st, StatusCode::NO_CONTENT);
    // Once on a card, a station cannot revoke it.
    let (serial2, card2) = station_certificate(w, &id).await;
    let (st, v) = record_card(w, "station", &id, &card2, &serial2, "TOKABORT01").await;
    assert_eq!(st, StatusCode::OK, "{v}");
    let (st, v) = abort(w, "station", &serial2).await;
    assert_eq!(
        (st, code(&v)),
        (StatusCode::UNPROCESSABLE_ENTITY, "E_RULE"),
        "{v}"
    );
    assert_eq!(status(w, &serial2).await, kmn_domain::CertStatus::Valid);
}
on_both!(
    issue8_station_aborts_only_its_own_unbound_certificate,
    station_aborts_only_its_own_unbound_certificate,
    "i8_abort"
);

/// `complete` binds only the certificate issued to this station for this application,
/// with the card id the center allocated: never another holder's active card, an
/// auditor's certificate or the HTTPS server's own; and nothing is revoked for trying.
async fn station_complete_binds_only_its_own_certificate(w: &World) {
    let (other_app, other_card, other_serial) = w.issued_card(&new_holder(w, 0).await).await;
    let id = approved(w, &w.nurse_a).await;
    let (serial, card_id) = station_certificate(w, &id).await;
    // Another holder's active card, with its card id (the clash that once answered 500
    // and revoked that card's certificate).
    let (st, v) = record_card(w, "station", &id, &other_card, &other_serial, "TOK1").await;
    assert_eq!(
        (st, code(&v)),
        (StatusCode::FORBIDDEN, "E_FORBIDDEN"),
        "{v}"
    );
    let (st, v) = record_card(w, "station", &id, &card_id, &other_serial, "TOK1").await;
    assert_eq!(
        (st, code(&v)),
        (StatusCode::FORBIDDEN, "E_FORBIDDEN"),
        "{v}"
    );
    assert_eq!(
        status(w, &other_serial).await,
        kmn_domain::CertStatus::Valid
    );
    let (st, v) = w
        .call(
            Some("operator"),
            Method::GET,
            &format!("/api/v1/cards/{other_card}"),
            None,
        )
        .await;
    assert_eq!(
        (st, v["state"].as_str()),
        (StatusCode::OK, Some("active")),
        "{v}"
    );
    let _ = other_app;
    // An auditor's certificate, the HTTPS server's TLS certificate.
    for who in ["auditor", "server"] {
        let (st, v) = record_card(
            w,
            "station",
            &id,
            &card_id,
            &serial_of(&w.certs[who]),
            "TOK1",
        )
        .await;
        assert_eq!(
            (st, code(&v)),
            (StatusCode::FORBIDDEN, "E_FORBIDDEN"),
            "{who}: {v}"
        );
        assert_eq!(
            status(w, &serial_of(&w.certs[who])).await,
            kmn_domain::CertStatus::Valid
        );
    }
    // A center operator on the station route.
    let (st, v) = record_card(w, "operator", &id, &card_id, &serial, "TOK1").await;
    assert_eq!(
        (st, code(&v)),
        (StatusCode::FORBIDDEN, "E_FORBIDDEN"),
        "{v}"
    );
    // A card id the station chose itself.
    let (st, v) = record_card(w, "station", &id, "C99999999", &serial, "TOK1").await;
    assert_eq!(
        (st, code(&v)),
        (StatusCode::UNPROCESSABLE_ENTITY, "E_RULE"),
        "{v}"
    );
    // The station's own certificate was withdrawn by that failure (its own, unbound):
    // a new one, with the allocated card id, binds.
    assert_eq!(status(w, &serial).await, kmn_domain::CertStatus::Revoked);
    let (serial, card_id) = station_certificate(w, &id).await;
    let (st, v) = record_card(w, "station", &id, &card_id, &serial, "TOK1").await;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!(v["card"]["id"], card_id.as_str());
    assert_eq!(v["card"]["cert_serial_hex"], serial.as_str());
    assert_eq!(status(w, &serial).await, kmn_domain::CertStatus::Valid);
}
on_both!(
    issue8_station_complete_binds_only_its_own_certificate,
    station_complete_binds_only_its_own_certificate,
    "i8_bind"
);

/// Issuing twice for one application revokes the first (superseded): one valid, unbound
/// certificate per application; the first can no longer be bound.
async fn issuing_twice_supersedes_the_first(w: &World) {
    let id = approved(w, &w.nurse_a).await;
    let (first, first_card) = station_certificate(w, &id).await;
    let (second, second_card) = station_certificate(w, &id).await;
    assert_ne!(first_card, second_card);
    let r = revocation(w, &first).await.expect("first revoked");
    assert_eq!(r.reason, kmn_domain::RevocationReason::Superseded);
    assert_eq!(status(w, &second).await, kmn_domain::CertStatus::Valid);
    let (st, v) = record_card(w, "station", &id, &first_card, &first, "TOK2").await;
    assert_eq!(
        (st, code(&v)),
        (StatusCode::UNPROCESSABLE_ENTITY, "E_RULE"),
        "{v}"
    );
    // That refusal did not touch the second (not the serial it named).
    assert_eq!(status(w, &second).await, kmn_domain::CertStatus::Valid);
    let (st, v) = record_card(w, "station", &id, &second_card, &second, "TOK2").await;
    assert_eq!(st, StatusCode::OK, "{v}");
    // Recording again loses: the application is fulfilled and the binding taken.
    let (st, v) = record_card(w, "station", &id, &second_card, &second, "TOK2").await;
    assert_eq!(
        (st, code(&v)),
        (StatusCode::UNPROCESSABLE_ENTITY, "E_RULE"),
        "{v}"
    );
    assert_eq!(status(w, &second).await, kmn_domain::CertStatus::Valid);
    // A live token is in one card only: another application's card cannot reuse it.
    let id2 = approved(w, &new_holder(w, 0).await).await;
    let (s3, c3) = station_certificate(w, &id2).await;
    let (st, v) = record_card(w, "station", &id2, &c3, &s3, "TOK2").await;
    assert_eq!((st, code(&v)), (StatusCode::CONFLICT, "E_CONFLICT"), "{v}");
    assert_eq!(status(w, &s3).await, kmn_domain::CertStatus::Revoked);
}
on_both!(
    issue8_issuing_twice_revokes_the_first_as_superseded,
    issuing_twice_supersedes_the_first,
    "i8_twice"
);

/// Migration 0005 makes `cards.cert_serial_hex` and the live `token_serial` UNIQUE: on a
/// database that holds duplicates it refuses with their list and changes nothing; once
/// they are resolved it applies, and the indexes refuse new duplicates.
async fn migration_0005_refuses_duplicates(w: &World, url: &str) {
    let (_, c1, s1) = w.issued_card(&w.nurse_a).await;
    let (_, c2, s2) = w.issued_card(&new_holder(w, 0).await).await;
    let pool = w.app.store_for_tests().pool();
    let exec = |sql: String| async move {
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .execute(pool)
            .await
            .unwrap();
    };
    // Back to schema 4, with the duplicates 0005 forbids.
    for sql in [
        "DROP INDEX cards_cert_serial_unique".to_string(),
        "DROP INDEX cards_live_token_serial_unique".to_string(),
        "DROP TABLE card_issuances".to_string(),
        "DELETE FROM schema_migrations WHERE version = 5".to_string(),
        format!("UPDATE cards SET cert_serial_hex = '{s1}' WHERE id = '{c2}'"),
        format!("UPDATE cards SET token_serial = 'DUPTOKEN' WHERE id IN ('{c1}', '{c2}')"),
    ] {
        exec(sql).await;
    }
    let Err(e) = kmn_store::Store::open(url).await else {
        panic!("refused")
    };
    let m = e.to_string();
    assert!(matches!(e, kmn_store::StoreError::Refused(_)), "{m}");
    assert!(
        m.contains(&format!("certificate serial {s1}: cards {c1}, {c2}")),
        "{m}"
    );
    assert!(
        m.contains(&format!(
            "token serial (live cards) DUPTOKEN: cards {c1}, {c2}"
        )),
        "{m}"
    );
    assert!(m.contains("nothing was changed"), "{m}");
    use sqlx::Row;
    let v5: i64 = sqlx::query("SELECT COUNT(*) FROM schema_migrations WHERE version = 5")
        .fetch_one(pool)
        .await
        .unwrap()
        .get(0);
    assert_eq!(v5, 0);
    let kept: String = sqlx::query("SELECT cert_serial_hex FROM cards WHERE id = $1")
        .bind(&c2)
        .fetch_one(pool)
        .await
        .unwrap()
        .get(0);
    assert_eq!(kept, s1, "the data is as it was");
    // Resolved (a destroyed card's token no longer counts): 0005 applies.
    exec(format!(
        "UPDATE cards SET cert_serial_hex = '{s2}', state = 'destroyed' WHERE id = '{c2}'"
    ))
    .await;
    let store = kmn_store::Store::open(url).await.expect("applies");
    store.close().await;
    let dup = sqlx::query("UPDATE cards SET cert_serial_hex = $1 WHERE id = $2")
        .bind(&s1)
        .bind(&c2)
        .execute(pool)
        .await;
    assert!(dup.is_err(), "the UNIQUE index refuses");
}

#[tokio::test]
async fn issue8_migration_0005_refuses_duplicate_card_serials_with_a_list() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("ra.db").display());
    migration_0005_refuses_duplicates(&World::new(&url).await, &url).await;
    if let Some(url) = crate::support::pg_url("issue8_mig").await {
        migration_0005_refuses_duplicates(&World::new(&url).await, &url).await;
    }
}

/// `curl` with a demo credential of `kmn up`: (HTTP status, body).
fn curl_post(server: &Env, https: &str, role: &str, path: &str, body: &str) -> (u16, Value) {
    let demo = server.data_dir().join("demo");
    let o = std::process::Command::new("curl")
        .args(["-s", "-o", "-", "-w", "\n%{http_code}", "-X", "POST"])
        .args(["-H", "content-type: application/json", "--data", body])
        .arg("--cacert")
        .arg(demo.join("root-ca.pem"))
        .arg("--cert")
        .arg(demo.join(format!("{role}.pem")))
        .arg("--key")
        .arg(demo.join(format!("{role}.key")))
        .arg(format!("{https}{path}"))
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout).to_string();
    let (body, status) = out.rsplit_once('\n').unwrap_or(("", &out));
    (
        status.trim().parse().unwrap_or(0),
        serde_json::from_str(body).unwrap_or(Value::Null),
    )
}

/// The black-box finding of issue 8 item 1, as found: on a fresh `kmn up`, the demo
/// station's (and an operator's) credential over real TLS cannot abort the root, the
/// issuing CA, the OCSP signer, an operator's or the HTTPS server's own certificate; and
/// the CA administrator's `kmn cert revoke` of the issuing CA is refused as a root act.
#[tokio::test]
async fn issue8_station_cannot_abort_the_issuing_ca_over_tls() {
    use sqlx::Row;
    let server = Env::new();
    let srv = crate::serve::start(&server);
    let app = server.app().await;
    let targets: Vec<(String, String)> = sqlx::query(
        "SELECT c.serial_hex, c.profile FROM certificates c WHERE c.profile <> 'user-card' ORDER BY c.profile",
    )
    .fetch_all(app.store_for_tests().pool())
    .await
    .unwrap()
    .into_iter()
    .map(|r| (r.get(0), r.get(1)))
    .collect();
    for p in ["root", "issuing-ca", "ocsp-signer", "operator", "server"] {
        assert!(targets.iter().any(|(_, q)| q == p), "{p}: {targets:?}");
    }
    for (serial, profile) in &targets {
        let path = format!("/api/v1/station/certificates/{serial}/abort");
        let (st, v) = curl_post(
            &server,
            &srv.https,
            "station",
            &path,
            r#"{"reason":"test"}"#,
        );
        assert_eq!(
            (st, code(&v)),
            (403, "E_FORBIDDEN"),
            "station {profile}: {v}"
        );
        let (st, v) = curl_post(
            &server,
            &srv.https,
            "operator",
            &path,
            r#"{"reason":"test"}"#,
        );
        assert_eq!(
            (st, code(&v)),
            (403, "E_FORBIDDEN"),
            "operator {profile}: {v}"
        );
        let shown = server.ok(&["cert", "show", serial]);
        assert!(shown.contains("status       valid"), "{profile}: {shown}");
    }
    let issuing = &targets.iter().find(|(_, p)| p == "issuing-ca").unwrap().0;
    let o = server.run(&["cert", "revoke", issuing, "--reason", "key-compromise"]);
    assert_eq!(o.status.code(), Some(1), "{o:?}");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("root act") && err.contains("nothing was revoked"),
        "{err}"
    );
    assert!(
        server
            .ok(&["cert", "show", issuing])
            .contains("status       valid")
    );
    drop(srv);
}

/// A station whose `complete` is lost (the answer never arrives, as when the line drops)
/// and whose `abort` goes to the center as `abort_as` (the center's real answer).
struct LostAnswer<'a> {
    inner: kmn_app::station::LocalStation<'a>,
    abort_as: &'a kmn_app::rights::Station,
}

impl kmn_app::station::StationBackend for LostAnswer<'_> {
    async fn target(
        &self,
        application_id: &str,
    ) -> Result<kmn_app::station::StationTarget, kmn_app::AppError> {
        self.inner.target(application_id).await
    }
    async fn so_pin(&self, token_serial: &str) -> Result<kmn_token::SecretPin, kmn_app::AppError> {
        self.inner.so_pin(token_serial).await
    }
    async fn issue(
        &self,
        application_id: &str,
        csr_der: &[u8],
        key: &kmn_app::station::KeyReport,
    ) -> Result<kmn_app::station::StationIssued, kmn_app::AppError> {
        self.inner.issue(application_id, csr_der, key).await
    }
    async fn complete(
        &self,
        _application_id: &str,
        _rec: &kmn_app::station::StationRecord,
    ) -> Result<(Value, Value), kmn_app::AppError> {
        Err(kmn_app::AppError::Unavailable(
            "応答が届きませんでした".into(),
        ))
    }
    async fn abort(&self, serial_hex: &str, why: &str) -> Result<(), kmn_app::AppError> {
        kmn_app::station::abort(self.inner.app, self.abort_as, serial_hex, why).await
    }
    fn now(&self) -> time::OffsetDateTime {
        self.inner.now()
    }
}

/// Runs in a child process where `SOFTHSM2_CONF` is set (SoftHSM reads it once, when it
/// loads): personalizes the application `KMN_TEST_APP` through [`LostAnswer`], aborting
/// as the station itself (`own`) or as another station (`other`), and prints the
/// operator's message.
#[tokio::test]
#[ignore = "child of issue8_personalize_tells_the_operator_whether_the_certificate_was_revoked"]
async fn personalize_truth_child() {
    let data_dir = PathBuf::from(std::env::var("KMN_TEST_DATA_DIR").unwrap());
    let id = std::env::var("KMN_TEST_APP").unwrap();
    let app = kmn_app::App::open(&data_dir, std::sync::Arc::new(kmn_app::SystemClock))
        .await
        .unwrap();
    let station = kmn_app::rights::CaAdmin::local(Some("cli:test")).station();
    let other = kmn_app::rights::CaAdmin::local(Some("U-other-station")).station();
    let abort_as = if std::env::var("KMN_TEST_ABORT").unwrap() == "own" {
        &station
    } else {
        &other
    };
    let backend = LostAnswer {
        inner: kmn_app::station::LocalStation {
            app: &app,
            station: &station,
        },
        abort_as,
    };
    let font = kmn_letters::Font::load_default().unwrap();
    let dir = data_dir.join("mailers");
    kmn_app::secrets::ensure_dir(&dir, 0o700).unwrap();
    let e = kmn_app::station::personalization::personalize_with(
        &backend,
        &crate::cards::softhsm().unwrap(),
        &kmn_app::station::personalization::TokenRef::default(),
        &id,
        kmn_token::CardKeyAlg::P256,
        &kmn_app::station::personalization::MailerOut { font: &font, dir },
    )
    .await
    .map(|_| ())
    .expect_err("the answer was lost");
    println!("TRUTH {}", e.message_ja());
}

/// 第7条, issue 8: when a personalization fails after the certificate was issued, the
/// operator is told the truth with the serial — revoked, or NOT revoked and why.
#[tokio::test]
async fn issue8_personalize_tells_the_operator_whether_the_certificate_was_revoked() {
    let Some(_module) = softhsm() else { return };
    for (abort, revoked) in [("own", true), ("other", false)] {
        let (env, conf) = crate::cards::with_softhsm(Env::new());
        let id = crate::cards::approved_application(&env).await;
        let o = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "station::personalize_truth_child",
                "--ignored",
                "--nocapture",
            ])
            .env("SOFTHSM2_CONF", &conf)
            .env("KMN_TEST_DATA_DIR", env.data_dir())
            .env("KMN_TEST_APP", &id)
            .env("KMN_TEST_ABORT", abort)
            .env("KMN_CA_PASSPHRASE", crate::support::PASSPHRASE)
            .env("KMN_SUPPORT_CENTER_PHONE", "096-000-0000")
            .env_remove("KMN_DATABASE_URL")
            .output()
            .unwrap();
        let out = String::from_utf8_lossy(&o.stdout).to_string();
        assert!(
            o.status.success(),
            "{out}\n{}",
            String::from_utf8_lossy(&o.stderr)
        );
        let msg = out
            .lines()
            .find_map(|l| l.strip_prefix("TRUTH "))
            .expect("the message")
            .to_string();
        let app = env.app().await;
        use sqlx::Row;
        let serial: String =
            sqlx::query("SELECT serial_hex FROM card_issuances WHERE application_id = $1")
                .bind(&id)
                .fetch_one(app.store_for_tests().pool())
                .await
                .unwrap()
                .get(0);
        let mut tx = app.store_for_tests().read().await.unwrap();
        let c = tx.certificate(&serial).await.unwrap().unwrap();
        tx.rollback().await.unwrap();
        if revoked {
            assert!(
                msg.contains(&format!(
                    "発行済みの証明書（シリアル {serial}）は失効させました"
                )),
                "{msg}"
            );
            assert_eq!(c.status, kmn_domain::CertStatus::Revoked);
        } else {
            assert!(
                msg.contains(&format!(
                    "発行済みの証明書（シリアル {serial}）は失効できていません"
                )) && msg.contains("この発行端末へ発行された証明書ではありません")
                    && msg.contains("サポートセンターに連絡"),
                "{msg}"
            );
            assert_ne!(c.status, kmn_domain::CertStatus::Revoked);
        }
    }
}

/// A late `complete` of the first certificate and a new certificate for the same
/// application, at the same time: exactly one wins (compare-and-set on the binding), and
/// no second valid certificate is left for the application.
async fn late_complete_and_new_issue_race(w: &World) {
    for round in 0..3 {
        let id = approved(w, &new_holder(w, round).await).await;
        let (first, first_card) = station_certificate(w, &id).await;
        let token = format!("RACE{round}");
        let csr = crate::api_fixture::csr_pem();
        let uri = format!("/api/v1/station/applications/{id}/certificate");
        let ((st_c, v_c), (st_i, v_i)) = tokio::join!(
            record_card(w, "station", &id, &first_card, &first, &token),
            w.call(
                Some("station"),
                Method::POST,
                &uri,
                Some(json!({"csr_pem": csr,
                    "key": {"alg": "p256", "local": true, "never_extractable": true, "sensitive": true}})),
            )
        );
        let second = v_i["serial_hex"].as_str().map(str::to_string);
        if st_c == StatusCode::OK {
            assert_eq!(status(w, &first).await, kmn_domain::CertStatus::Valid);
            assert_ne!(st_i, StatusCode::OK, "both won: {v_i}");
            // A certificate issued before the loss was noticed is revoked, not left valid.
            if let Some(s) = second {
                assert_eq!(status(w, &s).await, kmn_domain::CertStatus::Revoked);
            }
        } else {
            assert_eq!(st_i, StatusCode::OK, "neither won: {v_c} / {v_i}");
            let r = revocation(w, &first).await.expect("first revoked");
            assert_eq!(r.reason, kmn_domain::RevocationReason::Superseded);
            assert_eq!(
                status(w, &second.unwrap()).await,
                kmn_domain::CertStatus::Valid
            );
        }
    }
}
on_both!(
    issue8_a_late_complete_and_a_new_issue_do_not_both_win,
    late_complete_and_new_issue_race,
    "i8_race"
);

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
    let admin = kmn_app::actor::Actor::cli("test");
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
            kmn_app::actor::Actor::cli("cli:supervisor")
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
    let view = kmn_app::ra::cards::view(&app, &admin, &card_id)
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
    let mut tx = app.store.read().await.unwrap();
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
    let station_actor = kmn_app::actor::Actor {
        account_id: "U-station".into(),
        role: kmn_app::actor::Role::Station,
        facility: None,
        holder_id: None,
        display_name: "発行端末".into(),
    };
    let e = kmn_app::station::so_pin(&app, &station_actor, &token_serial)
        .await
        .map(|_| ())
        .expect_err("refused");
    assert!(matches!(e, kmn_app::AppError::Forbidden(_)), "{e}");
    drop(srv);
}

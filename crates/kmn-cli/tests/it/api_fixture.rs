//! A registration-authority world for API tests: a CA, published CPS/terms/privacy
//! policy, two consenting facilities, people, and an account with a real certificate for
//! every role (plus a revoked one), driven in-process through the real router.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use kmn_app::actor::Role;
use kmn_app::ra::{accounts, documents, facilities, persons};
use kmn_app::rights::{Capability, Center, Station};
use kmn_app::{App, FixedClock};
use kmn_domain::{ProfileKind, ValidityPeriod};
use kmn_pki::keys::{KeyAlgorithm, Signer, SoftwareKey};
use kmn_pki::name::DistinguishedName;
use serde_json::{Value, json};
use time::macros::datetime;
use tower::ServiceExt;

use crate::support::{PASSPHRASE, app_with};

/// A valid 医療機関コード for Kumamoto (43) with the given 点数表 digit and number.
pub fn facility_code(class: u8, n: u32) -> String {
    let s = format!("43{class}{n:06}");
    let d: Vec<u8> = s.bytes().map(|b| b - b'0').collect();
    let arr: [u8; 9] = d.try_into().unwrap();
    format!(
        "{s}{}",
        kmn_domain::facility::medical_code_check_digit(&arr)
    )
}

pub struct World {
    pub app: App,
    pub clock: Arc<FixedClock>,
    pub router: axum::Router,
    pub openapi: utoipa::openapi::OpenApi,
    pub fac_a: String,
    pub fac_b: String,
    /// Certificates (DER) by name: operator, supervisor, auditor, desk_a, desk_b, station,
    /// revoked (accounts), and `server` (a TLS server certificate, no account).
    pub certs: std::collections::HashMap<&'static str, Vec<u8>>,
    pub nurse_a: String,
    pub nurse_b: String,
    pub doctor_a: String,
    pub unpermitted_a: String,
    pub _dir: tempfile::TempDir,
}

pub fn admin() -> Center {
    kmn_app::rights::CaAdmin::local(Some("cli:test")).center()
}

pub fn person_input(
    fac: &str,
    kanji: &str,
    kana: &str,
    romaji: &str,
    profession: &str,
    permitted: bool,
) -> persons::PersonInput {
    persons::PersonInput {
        facility_code: fac.into(),
        name_kanji: kanji.into(),
        name_kana: kana.into(),
        name_romaji: romaji.into(),
        date_of_birth: "1985-04-01".into(),
        profession: profession.into(),
        work_email: "staff@example.jp".into(),
        permitted,
        is_desk: false,
        licence_checked: false,
    }
}

pub async fn cert_for(app: &App, cn: &str, profile: ProfileKind) -> Vec<u8> {
    let alt = if profile == ProfileKind::Server {
        vec![kmn_pki::ext::AltName::Dns(cn.to_string())]
    } else {
        vec![]
    };
    let ca = kmn_app::ca::load_active(app, kmn_app::views::CaKind::Issuing)
        .await
        .unwrap();
    let (k, _) = SoftwareKey::generate(KeyAlgorithm::P256).unwrap();
    let mut dn = DistinguishedName::default();
    dn.push(kmn_pki::oid::AT_COUNTRY, "JP").unwrap();
    dn.push(kmn_pki::oid::AT_COMMON_NAME, cn).unwrap();
    kmn_app::ca::issue::issue_template(
        app,
        &ca,
        profile,
        ValidityPeriod::Years3,
        dn,
        k.spki_der().to_vec(),
        alt,
        None,
        "test",
    )
    .await
    .unwrap()
    .der
}

impl World {
    pub async fn new(url: &str) -> World {
        let dir = tempfile::tempdir().unwrap();
        let clock = Arc::new(FixedClock::new(datetime!(2026-11-26 01:00 UTC)));
        let mut app = app_with(url, dir.path(), clock.clone()).await;
        app.cfg.demo = true;
        app.cfg.support_center_phone = "096-000-0000".into();
        kmn_app::ca::init(&app, &kmn_app::ca::CeremonyParams::default(), PASSPHRASE)
            .await
            .unwrap();
        let a = admin();
        for kind in ["cps", "terms", "privacy_policy"] {
            documents::publish(
                &app,
                &a,
                kind,
                "2.00",
                &format!("{kind}.pdf"),
                b"%PDF-1.4 test".to_vec(),
            )
            .await
            .unwrap();
        }
        let fac_a = facility_code(1, 100);
        let fac_b = facility_code(4, 200);
        for (code, kind, kanji, kana, romaji) in [
            (
                &fac_a,
                "clinic",
                "熊本中央クリニック",
                "クマモトチュウオウクリニック",
                "Kumamoto Chuo Clinic",
            ),
            (
                &fac_b,
                "pharmacy",
                "水前寺薬局",
                "スイゼンジヤッキョク",
                "Suizenji Pharmacy",
            ),
        ] {
            facilities::register(
                &app,
                &a,
                &facilities::FacilityInput {
                    code: code.clone(),
                    kind: kind.into(),
                    name_kanji: kanji.into(),
                    name_kana: kana.into(),
                    name_romaji: romaji.into(),
                    postal_code: "860-0806".into(),
                    address: "熊本県熊本市中央区花畑町1-1".into(),
                    phone: "096-000-0000".into(),
                    email: format!("desk-{code}@example.jp"),
                },
            )
            .await
            .unwrap();
            for kind in ["cps", "terms", "privacy_policy"] {
                facilities::consent(&app, &a.registrar(), code, kind, "2.00", "窓口 太郎")
                    .await
                    .unwrap();
            }
        }
        let (nurse_a, _) = persons::register(
            &app,
            &a.registrar(),
            &person_input(
                &fac_a,
                "山田 花子",
                "ヤマダ ハナコ",
                "Hanako Yamada",
                "nurse",
                true,
            ),
        )
        .await
        .unwrap();
        let (nurse_b, _) = persons::register(
            &app,
            &a.registrar(),
            &person_input(
                &fac_b,
                "佐藤 次郎",
                "サトウ ジロウ",
                "Jiro Sato",
                "pharmacist",
                true,
            ),
        )
        .await
        .unwrap();
        let (doctor_a, _) = persons::register(
            &app,
            &a.registrar(),
            &person_input(
                &fac_a,
                "鈴木 一郎",
                "スズキ イチロウ",
                "Ichiro Suzuki",
                "doctor",
                true,
            ),
        )
        .await
        .unwrap();
        let (unpermitted_a, _) = persons::register(
            &app,
            &a.registrar(),
            &person_input(
                &fac_a,
                "田中 三郎",
                "タナカ サブロウ",
                "Saburo Tanaka",
                "nurse",
                false,
            ),
        )
        .await
        .unwrap();
        let mut desk_a_in = person_input(
            &fac_a,
            "窓口 一子",
            "マドグチ カズコ",
            "Kazuko Madoguchi",
            "medical_clerk",
            true,
        );
        desk_a_in.is_desk = true;
        let (desk_a, _) = persons::register(&app, &a.registrar(), &desk_a_in)
            .await
            .unwrap();
        let mut desk_b_in = person_input(
            &fac_b,
            "窓口 二子",
            "マドグチ ニコ",
            "Niko Madoguchi",
            "medical_clerk",
            true,
        );
        desk_b_in.is_desk = true;
        let (desk_b, _) = persons::register(&app, &a.registrar(), &desk_b_in)
            .await
            .unwrap();

        let mut certs = std::collections::HashMap::new();
        for (name, role, fac, holder) in [
            ("operator", Role::Operator, None, None),
            ("supervisor", Role::Supervisor, None, None),
            ("auditor", Role::Auditor, None, None),
            (
                "desk_a",
                Role::FacilityDesk,
                Some(fac_a.clone()),
                Some(desk_a.holder_id.clone()),
            ),
            (
                "desk_b",
                Role::FacilityDesk,
                Some(fac_b.clone()),
                Some(desk_b.holder_id.clone()),
            ),
            ("station", Role::Station, None, None),
            ("revoked", Role::Operator, None, None),
        ] {
            let der = match (&fac, &holder) {
                // A desk logs in with the member's own card (issue 9 item 3).
                (Some(f), Some(h)) => {
                    let (k, _) = SoftwareKey::generate(KeyAlgorithm::P256).unwrap();
                    kmn_app::quickstart::demo_desk_card(&app, &a, f, h, name, &k)
                        .await
                        .unwrap()
                }
                _ => {
                    let profile = accounts::credential_profile(role);
                    cert_for(&app, &format!("Test {name}"), profile).await
                }
            };
            accounts::add(
                &app,
                &a,
                accounts::NewAccount {
                    role,
                    display_name: name.into(),
                    cert_der: der.clone(),
                    facility_code: fac,
                    holder_id: holder,
                    person_id: None,
                },
            )
            .await
            .unwrap();
            certs.insert(name, der);
        }
        certs.insert(
            "server",
            cert_for(&app, "kmn.example.jp", ProfileKind::Server).await,
        );
        let revoked_serial = kmn_pki::parse::cert(&certs["revoked"])
            .unwrap()
            .tbs
            .serial_hex();
        kmn_app::ca::revoke::revoke(
            &app,
            &kmn_app::ca::revoke::RevokeRequest {
                serial: revoked_serial.parse().unwrap(),
                reason: kmn_domain::RevocationReason::KeyCompromise,
                comment: None,
                invalidity_date: None,
                received_at: None,
                requested_by: "test".into(),
            },
        )
        .await
        .unwrap();
        let (router, openapi) = kmn_web::api::router(app.clone());
        World {
            app,
            clock,
            router,
            openapi,
            fac_a,
            fac_b,
            certs,
            nurse_a: nurse_a.holder_id,
            nurse_b: nurse_b.holder_id,
            doctor_a: doctor_a.holder_id,
            unpermitted_a: unpermitted_a.holder_id,
            _dir: dir,
        }
    }

    /// Calls the API as `who` (a key of `certs`, or None for no certificate).
    pub async fn call(
        &self,
        who: Option<&str>,
        method: Method,
        uri: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        self.call_with(who, method, uri, body, &[]).await
    }

    pub async fn call_with(
        &self,
        who: Option<&str>,
        method: Method,
        uri: &str,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> (StatusCode, Value) {
        let mut b = Request::builder().method(method).uri(uri);
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        let mut req = match body {
            Some(v) => b
                .header("content-type", "application/json")
                .body(Body::from(v.to_string()))
                .unwrap(),
            None => b.body(Body::empty()).unwrap(),
        };
        if let Some(w) = who {
            req.extensions_mut()
                .insert(kmn_web::api::auth::PeerCert(self.certs[w].clone()));
        }
        self.send(req).await
    }

    pub async fn raw(
        &self,
        who: &str,
        method: Method,
        uri: &str,
        content_type: &str,
        body: Vec<u8>,
    ) -> (StatusCode, Value) {
        let mut req = Request::builder()
            .method(method)
            .uri(uri)
            .header("content-type", content_type)
            .body(Body::from(body))
            .unwrap();
        req.extensions_mut()
            .insert(kmn_web::api::auth::PeerCert(self.certs[who].clone()));
        self.send(req).await
    }

    /// A GET whose answer is not JSON: (status, Content-Type, body).
    pub async fn get_bytes(&self, who: &str, uri: &str) -> (StatusCode, String, Vec<u8>) {
        let mut req = Request::builder()
            .method(Method::GET)
            .uri(uri)
            .body(Body::empty())
            .unwrap();
        req.extensions_mut()
            .insert(kmn_web::api::auth::PeerCert(self.certs[who].clone()));
        let resp = self.router.clone().oneshot(req).await.unwrap();
        let status = resp.status();
        let ct = resp
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        let bytes = axum::body::to_bytes(resp.into_body(), 64 * 1024 * 1024)
            .await
            .unwrap();
        (status, ct, bytes.to_vec())
    }

    async fn send(&self, req: Request<Body>) -> (StatusCode, Value) {
        let resp = self.router.clone().oneshot(req).await.unwrap();
        let status = resp.status();
        let bytes = axum::body::to_bytes(resp.into_body(), 64 * 1024 * 1024)
            .await
            .unwrap();
        let v = serde_json::from_slice(&bytes).unwrap_or_else(|_| json!({"raw_len": bytes.len()}));
        (status, v)
    }

    /// Counts rows of the tables a failed request must leave alone.
    pub async fn counts(&self) -> Vec<i64> {
        use sqlx::Row;
        let mut v = Vec::new();
        for t in [
            "facilities",
            "persons",
            "affiliations",
            "applications",
            "application_rounds",
            "application_documents",
            "cards",
            "notices",
            "mail_outbox",
            "audit_events",
            "consents",
            "idempotency_keys",
        ] {
            v.push(
                sqlx::query(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM {t}")))
                    .fetch_one(self.app.store_for_tests().pool())
                    .await
                    .unwrap()
                    .get::<i64, _>(0),
            );
        }
        v
    }

    /// A new-card application of the nurse at A, drafted by desk A; returns its id.
    pub async fn draft_new(&self, holder: &str, years: i64) -> (StatusCode, Value) {
        self.call(Some("desk_a"), Method::POST, "/api/v1/applications", Some(json!({"facility_code": self.fac_a, "holder_id": holder, "kind": "new", "validity_years": years}))).await
    }

    /// A new-card application of `holder`, drafted and submitted by `desk` for its facility
    /// and approved by the operator (another person: separation of duties); returns its id.
    pub async fn approved_new(&self, desk: &str, holder: &str, years: i64) -> String {
        let facility = if desk == "desk_b" {
            &self.fac_b
        } else {
            &self.fac_a
        };
        let (st, a) = self
            .call(
                Some(desk),
                Method::POST,
                "/api/v1/applications",
                Some(json!({"facility_code": facility, "holder_id": holder, "kind": "new", "validity_years": years})),
            )
            .await;
        assert_eq!(st, StatusCode::CREATED, "{a}");
        let id = a["id"].as_str().unwrap().to_string();
        for (who, act) in [(desk, "submit"), ("operator", "approve")] {
            let (st, v) = self
                .call(
                    Some(who),
                    Method::POST,
                    &format!("/api/v1/applications/{id}/{act}"),
                    None,
                )
                .await;
            assert_eq!(st, StatusCode::OK, "{act}: {v}");
        }
        id
    }

    /// Takes an application of the nurse at A all the way to an active card; returns (application id, card id, serial).
    pub async fn issued_card(&self, holder: &str) -> (String, String, String) {
        let id = self.approved_new("desk_a", holder, 5).await;
        let (st, v) = self
            .call(
                Some("operator"),
                Method::POST,
                &format!("/api/v1/applications/{id}/fulfil"),
                Some(json!({"csr_pem": csr_pem()})),
            )
            .await;
        assert_eq!(st, StatusCode::OK, "fulfil: {v}");
        (
            id,
            v["card"]["id"].as_str().unwrap().into(),
            v["card"]["cert_serial_hex"].as_str().unwrap().into(),
        )
    }

    /// A card as a personalization station records it (the token itself is exercised by
    /// the SoftHSM tests): approved over the API, then issued for a software key and
    /// recorded with `token_serial`. Returns (card id, certificate serial).
    pub async fn personalized_card(&self, holder: &str, token_serial: &str) -> (String, String) {
        let (st, a) = self.draft_new(holder, 5).await;
        assert_eq!(st, StatusCode::CREATED, "{a}");
        let id = a["id"].as_str().unwrap().to_string();
        for (who, act) in [("desk_a", "submit"), ("operator", "approve")] {
            let (st, v) = self
                .call(
                    Some(who),
                    Method::POST,
                    &format!("/api/v1/applications/{id}/{act}"),
                    None,
                )
                .await;
            assert_eq!(st, StatusCode::OK, "{act}: {v}");
        }
        let station = self.station().await;
        let issued = self.station_issue(&station, &id).await;
        let rec = kmn_app::station::StationRecord {
            card_id: issued.card_id.clone(),
            serial_hex: issued.serial_hex.clone(),
            token_serial: token_serial.into(),
            revocation_code: "123456789012".into(),
            summary: "test station".into(),
            mailer_file: "/nonexistent/mailer.pdf".into(),
            mailer_sha256: "00".into(),
        };
        kmn_app::station::complete(&self.app, &station, &id, &rec, "center")
            .await
            .unwrap();
        (issued.card_id, issued.serial_hex)
    }

    /// [`World::personalized_card`], shipped by the operator (簡易書留) through the API.
    pub async fn shipped_card(&self, holder: &str, token_serial: &str) -> (String, String) {
        let (card, serial) = self.personalized_card(holder, token_serial).await;
        let (st, v) = self
            .call(
                Some("operator"),
                Method::POST,
                &format!("/api/v1/cards/{card}/ship"),
                Some(json!({"method": "簡易書留"})),
            )
            .await;
        assert_eq!(st, StatusCode::OK, "{v}");
        (card, serial)
    }

    /// The station account as an actor.
    pub async fn station(&self) -> Station {
        let a = kmn_app::actor::authenticate(&self.app, &self.certs["station"])
            .await
            .unwrap();
        Station::from_actor(&a).unwrap()
    }

    /// A certificate issued to `station` for an approved application (a software key,
    /// reported as made on the card).
    pub async fn station_issue(
        &self,
        station: &Station,
        id: &str,
    ) -> kmn_app::station::StationIssued {
        let (key, _) =
            kmn_pki::keys::SoftwareKey::generate(kmn_pki::keys::KeyAlgorithm::P256).unwrap();
        let csr = kmn_pki::csr::build(&DistinguishedName::default().to_der(), &key).unwrap();
        kmn_app::station::issue(
            &self.app,
            station,
            id,
            &csr,
            &kmn_app::station::KeyReport {
                alg: "p256".into(),
                local: true,
                never_extractable: true,
                sensitive: true,
            },
        )
        .await
        .unwrap()
    }
}

/// A P-256 CSR made with OpenSSL.
pub fn csr_pem() -> String {
    let dir = tempfile::tempdir().unwrap();
    let csr = dir.path().join("c.csr");
    let o = std::process::Command::new("openssl")
        .args([
            "req",
            "-new",
            "-nodes",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-subj",
            "/CN=ignored",
            "-keyout",
        ])
        .arg(dir.path().join("k.pem"))
        .arg("-out")
        .arg(&csr)
        .output()
        .unwrap();
    assert!(o.status.success());
    std::fs::read_to_string(csr).unwrap()
}

//! The doctor registry (issue 11 item 3), through the API on SQLite and PostgreSQL and
//! through the real binary: a doctor (医師資格証, 第4条) is bound to a facility by the
//! registered HPKI certificate — issuer, serial and key — never by a subject name. The
//! tests make their own HPKI-like CA with OpenSSL: a root, an authentication certificate
//! (keyUsage digitalSignature, the authentication policy) and a signature certificate
//! (nonRepudiation, the signature policy), as the HPKI certificate profiles have them.

use std::path::{Path, PathBuf};
use std::process::Command;

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::api_fixture::World;
use crate::support::{Env, assert_fails, pg_url};

/// Test policy OIDs standing for the HPKI authentication and signature policies (the
/// real ones come from the JMA's certificate policy and go into `[hpki]`).
pub const AUTH_OID: &str = "1.3.6.1.4.1.99999.1.1";
pub const SIGN_OID: &str = "1.3.6.1.4.1.99999.1.2";

/// An HPKI-like CA in a temp dir.
pub struct Hpki {
    dir: tempfile::TempDir,
    serial: std::cell::Cell<u32>,
}

fn openssl(args: &[&str]) {
    let o = Command::new("openssl")
        .args(args)
        .output()
        .expect("openssl");
    assert!(
        o.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

impl Hpki {
    /// A root CA named `name`.
    pub fn new(name: &str) -> Hpki {
        let dir = tempfile::tempdir().unwrap();
        let h = Hpki {
            dir,
            serial: std::cell::Cell::new(0x1000),
        };
        std::fs::write(
            h.path("ext.cnf"),
            format!(
                "[auth]\nbasicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n\
                 certificatePolicies={AUTH_OID}\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n\
                 [sign]\nbasicConstraints=critical,CA:FALSE\nkeyUsage=critical,nonRepudiation\n\
                 certificatePolicies={SIGN_OID}\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n\
                 [ca]\nbasicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n\
                 subjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n"
            ),
        )
        .unwrap();
        let (key, pem) = (h.path("root.key"), h.path("root.pem"));
        openssl(&[
            "req",
            "-x509",
            "-new",
            "-nodes",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-keyout",
            key.to_str().unwrap(),
            "-out",
            pem.to_str().unwrap(),
            "-days",
            "3650",
            "-subj",
            &format!("/C=JP/O=Japan Medical Association/CN={name}"),
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ]);
        h
    }

    pub fn path(&self, f: &str) -> PathBuf {
        self.dir.path().join(f)
    }

    /// The root certificate (PEM file).
    pub fn root(&self) -> PathBuf {
        self.path("root.pem")
    }

    /// Issues a certificate of `profile` (auth, sign, ca) to the doctor `cn` with a new
    /// key; returns the PEM file.
    pub fn issue(&self, file: &str, cn: &str, profile: &str) -> PathBuf {
        let n = self.serial.get() + 1;
        self.serial.set(n);
        let (key, csr, pem) = (
            self.path(&format!("{file}.key")),
            self.path(&format!("{file}.csr")),
            self.path(&format!("{file}.pem")),
        );
        openssl(&[
            "req",
            "-new",
            "-nodes",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-keyout",
            key.to_str().unwrap(),
            "-out",
            csr.to_str().unwrap(),
            "-subj",
            &format!("/C=JP/CN={cn}"),
        ]);
        openssl(&[
            "x509",
            "-req",
            "-in",
            csr.to_str().unwrap(),
            "-CA",
            self.root().to_str().unwrap(),
            "-CAkey",
            self.path("root.key").to_str().unwrap(),
            "-set_serial",
            &format!("0x{n:x}"),
            "-days",
            "365",
            "-sha256",
            "-extfile",
            self.path("ext.cnf").to_str().unwrap(),
            "-extensions",
            profile,
            "-out",
            pem.to_str().unwrap(),
        ]);
        pem
    }
}

fn pem(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap()
}

/// (issuer DER hex, serial hex, SPKI SHA-256 hex) of a PEM certificate, as a gateway
/// computes them from the certificate it was shown.
fn cert_key(p: &Path) -> (String, String, String) {
    use sha2::Digest;
    let der = kmn_pki::cert::pem_or_der(pem(p).as_bytes(), "CERTIFICATE").unwrap();
    let c = kmn_pki::parse::cert(&der).unwrap();
    (
        hex::encode(c.tbs.issuer),
        c.tbs.serial_hex(),
        hex::encode(sha2::Sha256::digest(c.tbs.spki)),
    )
}

/// A World whose `[hpki]` trusts `h` with the test policy OIDs, its clock at the real
/// time (OpenSSL dates the test certificates from now).
async fn world(url: &str, h: &Hpki) -> World {
    let mut w = World::new(url).await;
    w.app.cfg.hpki.anchors = vec![h.root().display().to_string()];
    w.app.cfg.hpki.auth_policy_oids = vec![AUTH_OID.into()];
    w.app.cfg.hpki.signature_policy_oids = vec![SIGN_OID.into()];
    w.clock
        .set(time::OffsetDateTime::now_utc() + time::Duration::minutes(1));
    let (router, openapi) = kmn_web::api::router(w.app.clone());
    w.router = router;
    w.openapi = openapi;
    w
}

async fn enrol(w: &World, who: &str, fac: &str, cert: &Path) -> (StatusCode, Value) {
    w.call(
        Some(who),
        Method::POST,
        "/api/v1/doctor-bindings",
        Some(json!({"facility_code": fac, "certificate": pem(cert)})),
    )
    .await
}

async fn act(
    w: &World,
    who: &str,
    id: &str,
    what: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    w.call(
        Some(who),
        Method::POST,
        &format!("/api/v1/doctor-bindings/{id}/{what}"),
        body,
    )
    .await
}

async fn lookup(w: &World, who: &str, cert: &Path) -> (StatusCode, Value) {
    let (i, s, k) = cert_key(cert);
    w.call(
        Some(who),
        Method::GET,
        &format!("/api/v1/doctor-lookup?issuer={i}&serial={s}&spki_sha256={k}"),
        None,
    )
    .await
}

fn facilities(v: &Value) -> Vec<String> {
    v["bindings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            assert_eq!(b["profession"], "doctor");
            b["facility_code"].as_str().unwrap().to_string()
        })
        .collect()
}

/// The registry's story: enrolment by the desk, confirmation by THAT desk, approval by
/// the center, the lookup, the end, the renewed card.
async fn registry_story(w: &World, h: &Hpki) {
    let auth = h.issue("auth1", "Taro Isha", "auth");
    let before = w.counts().await;
    // 第4条: the desk of A cannot enrol for B.
    let (st, v) = enrol(w, "desk_a", &w.fac_b, &auth).await;
    assert_eq!(st, StatusCode::FORBIDDEN, "{v}");
    assert_eq!(v["message"], "他の施設の情報は操作できません");
    assert_eq!(
        w.counts().await,
        before,
        "a refused enrolment writes nothing"
    );
    let (st, b) = enrol(w, "desk_a", &w.fac_a, &auth).await;
    assert_eq!(st, StatusCode::CREATED, "{b}");
    assert_eq!(b["state"], "enrolled");
    assert_eq!(b["state_label"], "受付（施設の確認待ち）");
    let id = b["id"].as_str().unwrap().to_string();
    let (i, s, k) = cert_key(&auth);
    assert_eq!(
        (
            b["issuer_der_hex"].as_str(),
            b["serial_hex"].as_str(),
            b["spki_sha256"].as_str()
        ),
        (Some(i.as_str()), Some(s.as_str()), Some(k.as_str()))
    );
    // The same certificate cannot be open twice at one facility.
    let (st, v) = enrol(w, "operator", &w.fac_a, &auth).await;
    assert_eq!(st, StatusCode::CONFLICT, "{v}");
    assert!(
        v["message"]
            .as_str()
            .unwrap()
            .contains("既に登録されています"),
        "{v}"
    );
    // The center cannot approve before the desk confirms.
    let (st, v) = act(w, "operator", &id, "approve", None).await;
    assert_eq!(st, StatusCode::CONFLICT, "{v}");
    assert_eq!(
        v["message"],
        "この医師の登録は「受付（施設の確認待ち）」のため「センターの承認」はできません"
    );
    // Not yet active: the lookup has nothing.
    let (st, v) = lookup(w, "station", &auth).await;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert!(facilities(&v).is_empty(), "{v}");
    // The desk of B cannot confirm for A (another facility's binding is answered as absent).
    let (st, v) = act(w, "desk_b", &id, "confirm", None).await;
    assert_eq!(st, StatusCode::NOT_FOUND, "{v}");
    // A desk cannot approve.
    let (st, _) = act(w, "desk_a", &id, "approve", None).await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    // The center records a written confirmation only with a name.
    let (st, v) = act(w, "operator", &id, "confirm", None).await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    let (st, v) = act(w, "desk_a", &id, "confirm", None).await;
    assert_eq!(
        (st, v["state"].as_str()),
        (StatusCode::OK, Some("confirmed")),
        "{v}"
    );
    let (st, v) = act(w, "operator", &id, "approve", None).await;
    assert_eq!(
        (st, v["state"].as_str()),
        (StatusCode::OK, Some("active")),
        "{v}"
    );
    // The gateway's lookup: the facility and the profession.
    let (st, v) = lookup(w, "station", &auth).await;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!(facilities(&v), vec![w.fac_a.clone()]);
    let (st, v) = lookup(w, "operator", &auth).await;
    assert_eq!((st, facilities(&v).len()), (StatusCode::OK, 1), "{v}");
    for who in ["desk_a", "auditor"] {
        let (st, _) = lookup(w, who, &auth).await;
        assert_eq!(st, StatusCode::FORBIDDEN, "{who}");
    }
    // A subject-name match with another key is NOT a binding — nor the same issuer and
    // serial with another key.
    let impostor = h.issue("impostor", "Taro Isha", "auth");
    let (_, v) = lookup(w, "station", &impostor).await;
    assert!(facilities(&v).is_empty(), "{v}");
    let (_, _, other_key) = cert_key(&impostor);
    let (st, v) = w
        .call(
            Some("station"),
            Method::GET,
            &format!("/api/v1/doctor-lookup?issuer={i}&serial={s}&spki_sha256={other_key}"),
            None,
        )
        .await;
    assert_eq!(st, StatusCode::OK);
    assert!(facilities(&v).is_empty(), "{v}");
    // Bad lookup input: field errors.
    let (st, v) = w
        .call(
            Some("station"),
            Method::GET,
            "/api/v1/doctor-lookup?issuer=zz&serial=1&spki_sha256=00",
            None,
        )
        .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    // The desk reads its own binding; the read is logged.
    let (st, v) = w
        .call(
            Some("desk_a"),
            Method::GET,
            &format!("/api/v1/doctor-bindings/{id}"),
            None,
        )
        .await;
    assert_eq!(
        (st, v["subject"].as_str()),
        (StatusCode::OK, Some("C=JP, CN=Taro Isha")),
        "{v}"
    );
    let (st, v) = w
        .call(
            Some("desk_b"),
            Method::GET,
            &format!("/api/v1/doctor-bindings?facility={}", w.fac_a),
            None,
        )
        .await;
    assert_eq!(st, StatusCode::FORBIDDEN, "{v}");
    let (st, v) = w
        .call(Some("desk_b"), Method::GET, "/api/v1/doctor-bindings", None)
        .await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(v["items"].as_array().unwrap().len(), 0, "{v}");
    // A renewed HPKI card: a new certificate needs its own enrolment.
    let renewed = h.issue("auth2", "Taro Isha", "auth");
    let (_, v) = lookup(w, "station", &renewed).await;
    assert!(facilities(&v).is_empty(), "{v}");
    let (st, b2) = enrol(w, "desk_a", &w.fac_a, &renewed).await;
    assert_eq!(st, StatusCode::CREATED, "{b2}");
    let id2 = b2["id"].as_str().unwrap().to_string();
    act(w, "desk_a", &id2, "confirm", None).await;
    let (st, v) = act(w, "supervisor", &id2, "approve", None).await;
    assert_eq!(st, StatusCode::OK, "{v}");
    let (_, v) = lookup(w, "station", &renewed).await;
    assert_eq!(facilities(&v), vec![w.fac_a.clone()]);
    // The doctor leaves: the desk ends the old binding with the date.
    let (st, v) = act(
        w,
        "desk_a",
        &id,
        "end",
        Some(json!({"ended_on": "2026-13-01", "reason": "退職"})),
    )
    .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    let (st, v) = act(
        w,
        "desk_b",
        &id,
        "end",
        Some(json!({"ended_on": "2026-12-31", "reason": "退職"})),
    )
    .await;
    assert_eq!(st, StatusCode::NOT_FOUND, "{v}");
    let (st, v) = act(
        w,
        "desk_a",
        &id,
        "end",
        Some(json!({"ended_on": "2026-12-31", "reason": "カード更新のため"})),
    )
    .await;
    assert_eq!(
        (st, v["state"].as_str()),
        (StatusCode::OK, Some("ended")),
        "{v}"
    );
    assert_eq!(v["ended_on"], "2026-12-31");
    // An ended binding no longer appears in the lookup, and cannot come back.
    let (_, v) = lookup(w, "station", &auth).await;
    assert!(facilities(&v).is_empty(), "{v}");
    let (st, _) = act(w, "operator", &id, "approve", None).await;
    assert_eq!(st, StatusCode::CONFLICT);
    // Once ended, the old certificate may be enrolled again (a new binding).
    let (st, v) = enrol(w, "desk_a", &w.fac_a, &auth).await;
    assert_eq!(st, StatusCode::CREATED, "{v}");
    let id3 = v["id"].as_str().unwrap().to_string();
    // Withdrawn by the desk, refused by the center.
    let (st, v) = act(w, "desk_a", &id3, "refuse", Some(json!({"reason": "x"}))).await;
    assert_eq!(st, StatusCode::FORBIDDEN, "{v}");
    let (st, v) = act(
        w,
        "desk_a",
        &id3,
        "withdraw",
        Some(json!({"reason": "誤登録"})),
    )
    .await;
    assert_eq!(
        (st, v["state"].as_str()),
        (StatusCode::OK, Some("withdrawn")),
        "{v}"
    );
    // Two desks' worth of the same upload at once: one binding, the other a conflict.
    let race = h.issue("race", "Hanako Isha", "auth");
    let (r1, r2) = tokio::join!(
        enrol(w, "desk_a", &w.fac_a, &race),
        enrol(w, "operator", &w.fac_a, &race)
    );
    let mut got = [r1.0.as_u16(), r2.0.as_u16()];
    got.sort();
    assert_eq!(got, [201, 409], "{} {}", r1.1, r2.1);
    let race_id = if r1.0 == StatusCode::CREATED {
        &r1.1
    } else {
        &r2.1
    }["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (st, _) = act(
        w,
        "operator",
        &race_id,
        "refuse",
        Some(json!({"reason": "重複登録の確認"})),
    )
    .await;
    assert_eq!(st, StatusCode::OK);
    // Audit: every change is an event; reads are in the access log.
    use sqlx::Row;
    let pool = w.app.store_for_tests().pool();
    let actions: Vec<String> =
        sqlx::query("SELECT action FROM audit_events WHERE action LIKE 'doctor.%' ORDER BY seq")
            .fetch_all(pool)
            .await
            .unwrap()
            .iter()
            .map(|r| r.get::<String, _>(0))
            .collect();
    assert_eq!(
        actions,
        [
            "doctor.enrol",
            "doctor.confirm",
            "doctor.approve",
            "doctor.enrol",
            "doctor.confirm",
            "doctor.approve",
            "doctor.end",
            "doctor.enrol",
            "doctor.withdraw",
            "doctor.enrol",
            "doctor.refuse"
        ]
    );
    let reads: i64 = sqlx::query("SELECT COUNT(*) FROM access_log WHERE object LIKE 'doctor_%'")
        .fetch_one(pool)
        .await
        .unwrap()
        .get(0);
    assert!(reads >= 8, "reads logged: {reads}");
}

/// Certificates the registry refuses, each with its reason in Japanese; nothing written.
async fn refusals(w: &World, h: &Hpki) {
    let before = w.counts().await;
    let msg = |v: &Value| {
        v["fields"][0]["message"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    };
    // The signature certificate of the card.
    let sign = h.issue("sign", "Taro Isha", "sign");
    let (st, v) = enrol(w, "desk_a", &w.fac_a, &sign).await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert!(msg(&v).contains("署名用証明書"), "{v}");
    // A CA certificate.
    let (st, v) = enrol(w, "desk_a", &w.fac_a, &h.root()).await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert!(msg(&v).contains("認証局（CA）の証明書"), "{v}");
    // From an anchor that is not configured.
    let other = Hpki::new("Unknown HPKI Root");
    let stranger = other.issue("stranger", "Jiro Isha", "auth");
    let (st, v) = enrol(w, "desk_a", &w.fac_a, &stranger).await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert!(msg(&v).contains("HPKI 認証局"), "{v}");
    // One of our own card certificates.
    let own = kmn_pki::cert::to_pem(&w.certs["desk_a"]);
    let (st, v) = w
        .call(
            Some("desk_a"),
            Method::POST,
            "/api/v1/doctor-bindings",
            Some(json!({"facility_code": w.fac_a, "certificate": own})),
        )
        .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert!(msg(&v).contains("本会の利用者カード"), "{v}");
    // Not a certificate at all; base64 DER is accepted as a form.
    let (st, v) = w
        .call(
            Some("desk_a"),
            Method::POST,
            "/api/v1/doctor-bindings",
            Some(json!({"facility_code": w.fac_a, "certificate": "bm90IGEgY2VydGlmaWNhdGU="})),
        )
        .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert!(msg(&v).contains("証明書を読み取れません"), "{v}");
    // Expired: two years on.
    let auth = h.issue("late", "Saburo Isha", "auth");
    let now = w.app.clock.now();
    w.clock.set(now + time::Duration::days(800));
    let (st, v) = enrol(w, "desk_a", &w.fac_a, &auth).await;
    w.clock.set(now);
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert!(msg(&v).contains("有効期限が切れています"), "{v}");
    // A facility that has left the network (退会) takes no new doctor.
    let fresh = h.issue("fresh", "Shiro Isha", "auth");
    sqlx::query("UPDATE facilities SET status = 'withdrawn' WHERE code = $1")
        .bind(&w.fac_b)
        .execute(w.app.store_for_tests().pool())
        .await
        .unwrap();
    let (st, v) = enrol(w, "operator", &w.fac_b, &fresh).await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(
        v["message"],
        format!("施設 {} は現在「退会」のため医師を登録できません", w.fac_b)
    );
    sqlx::query("UPDATE facilities SET status = 'active' WHERE code = $1")
        .bind(&w.fac_b)
        .execute(w.app.store_for_tests().pool())
        .await
        .unwrap();
    assert_eq!(w.counts().await, before, "refused enrolments write nothing");
}

#[tokio::test]
async fn art4_doctor_registry_binds_certificates_not_names_sqlite() {
    let h = Hpki::new("HPKI Test Root CA");
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("ra.db").display());
    let w = world(&url, &h).await;
    registry_story(&w, &h).await;
    refusals(&w, &h).await;
}

#[tokio::test]
async fn art4_doctor_registry_binds_certificates_not_names_postgres() {
    let Some(url) = pg_url("doctors").await else {
        return;
    };
    let h = Hpki::new("HPKI Test Root CA");
    let w = world(&url, &h).await;
    registry_story(&w, &h).await;
    refusals(&w, &h).await;
}

/// `kmn doctor` through the real binary: enrol, a written confirmation, approval by
/// another person, lookup by certificate, show, list, end.
#[tokio::test]
async fn art4_doctor_cli_enrol_confirm_approve_end() {
    let h = Hpki::new("HPKI Test Root CA");
    let env = Env::new();
    env.init(&[]);
    let code = crate::api_fixture::facility_code(1, 555);
    env.ok(&[
        "facility",
        "add",
        "--code",
        &code,
        "--kind",
        "clinic",
        "--name-kanji",
        "テスト診療所",
        "--name-kana",
        "テストシンリョウジョ",
        "--name-romaji",
        "Test Clinic",
        "--postal-code",
        "860-0806",
        "--address",
        "熊本市中央区",
        "--phone",
        "096-000-0000",
        "--email",
        "t@example.jp",
    ]);
    // `kmn ca init` wrote every section, `[hpki]` empty: fill it in.
    let toml_path = env.data_dir().join("kmn.toml");
    let cfg = std::fs::read_to_string(&toml_path).unwrap();
    let mut filled = cfg.clone();
    for (k, v) in [
        ("anchors", h.root().display().to_string()),
        ("auth_policy_oids", AUTH_OID.to_string()),
        ("signature_policy_oids", SIGN_OID.to_string()),
    ] {
        let empty = format!("\n{k} = []\n");
        assert!(filled.contains(&empty), "{k} in:\n{cfg}");
        filled = filled.replacen(&empty, &format!("\n{k} = [\"{v}\"]\n"), 1);
    }
    std::fs::write(&toml_path, filled).unwrap();
    env.ok(&["config", "check"]);
    let help = env.ok(&["doctor", "--help"]);
    for sub in [
        "enrol", "confirm", "approve", "refuse", "withdraw", "end", "list", "show", "lookup",
    ] {
        assert!(help.contains(sub), "{sub} missing from --help:\n{help}");
    }
    let auth = h.issue("auth", "Taro Isha", "auth");
    let sign = h.issue("sign", "Taro Isha", "sign");
    let o = env.run(&[
        "doctor",
        "enrol",
        "--facility",
        &code,
        "--cert",
        sign.to_str().unwrap(),
    ]);
    assert_fails(&o, 1, "署名用証明書");
    let out = env.ok(&[
        "doctor",
        "enrol",
        "--facility",
        &code,
        "--cert",
        auth.to_str().unwrap(),
        "--json",
    ]);
    let b: Value = serde_json::from_str(&out).unwrap();
    let id = b["id"].as_str().unwrap().to_string();
    let o = env.run(&["doctor", "approve", &id]);
    assert_fails(&o, 1, "施設の確認待ち");
    let o = env.run(&["doctor", "confirm", &id, "--given-by", ""]);
    assert_fails(&o, 1, "(E_VALIDATION)");
    let out = env.ok(&[
        "--actor",
        "op-one",
        "doctor",
        "confirm",
        &id,
        "--given-by",
        "窓口 一子",
    ]);
    assert!(out.contains("施設の確認を記録しました"), "{out}");
    // Separation of duties: the one who recorded the confirmation does not approve.
    let o = env.run(&["--actor", "op-one", "doctor", "approve", &id]);
    assert_fails(&o, 1, "(E_SELF_APPROVAL)");
    let out = env.ok(&["--actor", "op-two", "doctor", "approve", &id]);
    assert!(
        out.contains("承認しました") && out.contains("有効"),
        "{out}"
    );
    let out = env.ok(&["doctor", "lookup", "--cert", auth.to_str().unwrap()]);
    // Issue 12: the profession in Japanese in text (the API's answer keeps `doctor`).
    assert!(
        out.contains(&code) && out.contains("職種 医師") && !out.contains("doctor"),
        "{out}"
    );
    let out = env.ok(&["doctor", "lookup", "--cert", sign.to_str().unwrap()]);
    assert!(out.contains("有効な登録はありません"), "{out}");
    let out = env.ok(&["doctor", "show", &id]);
    assert!(
        out.contains("CN=Taro Isha") && out.contains("窓口 一子"),
        "{out}"
    );
    let out = env.ok(&["doctor", "show", &id, "--pem"]);
    assert_eq!(
        kmn_pki::cert::pem_or_der(out.as_bytes(), "CERTIFICATE").unwrap(),
        kmn_pki::cert::pem_or_der(pem(&auth).as_bytes(), "CERTIFICATE").unwrap()
    );
    let out = env.ok(&["doctor", "list", "--facility", &code, "--state", "active"]);
    assert!(out.contains(&id) && out.contains("1件"), "{out}");
    let out = env.ok(&[
        "doctor",
        "end",
        &id,
        "--on",
        "2026-12-31",
        "--reason",
        "退職",
    ]);
    assert!(out.contains("終了しました"), "{out}");
    let out = env.ok(&[
        "doctor",
        "lookup",
        "--cert",
        auth.to_str().unwrap(),
        "--json",
    ]);
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["bindings"], json!([]));
    let out = env.ok(&["audit", "verify"]);
    assert!(!out.is_empty());
}

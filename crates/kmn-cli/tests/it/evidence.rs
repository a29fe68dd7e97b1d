//! The evidence of a revocation and the signed revocation receipt (第23条3, issue 10
//! item 6). The lost-card story on the real binary: `kmn up` serves, the desk's card is
//! reported lost, the CRL and the OCSP response follow; the evidence record has every
//! timestamp, in order; `kmn cert receipt` signs a receipt that `kmn receipt verify`
//! and `openssl cms -verify` accept and that fails once tampered with; the letter to the
//! facility is Japanese text. Over the API (SQLite and PostgreSQL): before the CRL the
//! receipt is refused in Japanese; the center, the auditor and the card's own desk read
//! the evidence, the receipt and the letter; another facility's desk gets exactly the
//! answer of an unknown serial; a station is refused.

use std::path::Path;
use std::time::{Duration, Instant};

use axum::http::{Method, StatusCode};
use kmn_app::ra::emergency::{self, EmergencyReport};
use kmn_domain::EmergencyCause;
use serde_json::json;

use crate::api_fixture::{World, admin};
use crate::serve::{demo_desk_card, get, start, wait_until_on_crl};
use crate::support::{Env, assert_fails, in_ci, pg_url, tool};

fn pdf_text(pdf: &[u8], dir: &Path) -> Option<String> {
    if std::process::Command::new("pdftotext")
        .arg("-v")
        .output()
        .is_err()
    {
        assert!(!in_ci(), "pdftotext (poppler-utils) is required in CI");
        eprintln!("SKIP: pdftotext not installed");
        return None;
    }
    let f = dir.join("letter.pdf");
    std::fs::write(&f, pdf).unwrap();
    let (ok, text) = tool("pdftotext", &[f.to_str().unwrap(), "-"]);
    assert!(ok, "{text}");
    Some(text)
}

/// The letter says what happened, to whom, in whole Japanese sentences (compared without
/// white space: pdftotext breaks the lines where the letter wraps them).
fn check_letter(text: &str, facility: &str, holder: &str, card: &str, serial: &str, crl: i64) {
    let flat = |s: &str| s.split_whitespace().collect::<String>();
    let text = flat(text);
    for want in [
        "電子証明書失効のお知らせ",
        &format!("{facility}御中"),
        holder,
        card,
        serial,
        "緊急失効（紛失）（利用規約第11条）",
        "失効の申出の受付日時",
        "失効日時",
        &format!("第{crl}号"),
        "OCSPへの反映",
        "その電子証明書を下記のとおり失効いたしましたので、お知らせいたします。",
        "敬具",
        "以上",
    ] {
        assert!(
            text.contains(&flat(want)),
            "'{want}' in the letter:\n{text}"
        );
    }
    // One format for times (issue 12): 2026年11月26日 10:00:00, the seconds as evidence.
    let hms = |s: &str| {
        let p: Vec<&str> = s.splitn(4, ':').collect();
        p.len() >= 3
            && (1..=2).contains(&p[0].len())
            && p[0].bytes().all(|b| b.is_ascii_digit())
            && p[1].len() == 2
            && p[1].bytes().all(|b| b.is_ascii_digit())
            && p[2]
                .get(..2)
                .is_some_and(|x| x.bytes().all(|b| b.is_ascii_digit()))
    };
    assert!(
        text.match_indices('日')
            .any(|(i, d)| hms(&text[i + d.len()..])),
        "a time as 2026年11月26日 10:00:00 in the letter:\n{text}"
    );
    assert!(!text.contains("秒"), "{text}");
}

#[tokio::test]
async fn art23_lost_card_evidence_has_every_timestamp_and_the_receipt_verifies() {
    let env = Env::new();
    let srv = start(&env);
    let pass = std::fs::read_to_string(env.data_dir().join("secrets/ca-passphrase")).unwrap();
    let env = env.env("KMN_CA_PASSPHRASE", pass.trim());
    let app = env.app().await;
    let card = demo_desk_card(&app).await;
    let serial = card
        .cert_serial_hex
        .clone()
        .expect("the demo card's certificate");
    let receipt = env.path("receipt.p7m");
    let receipt_s = receipt.to_str().unwrap();
    // A certificate in use has no receipt: refused in Japanese, no file written.
    let o = env.run(&["cert", "receipt", &serial, "--out", receipt_s]);
    assert_fails(&o, 1, "失効していません");
    assert!(!receipt.exists());

    // The desk reports the card lost (第11条); the server publishes the CRL and signs
    // the OCSP response on its own.
    let since = Instant::now();
    emergency::by_desk(
        &app,
        &admin().registrar(),
        &card.id,
        &EmergencyReport {
            cause: EmergencyCause::Lost,
            last_known_safe: None,
            note: "通勤途中に紛失".into(),
        },
    )
    .await
    .unwrap();
    wait_until_on_crl(
        || get(&srv.http, "/repo/kmn-issuing-g1.crl").2,
        &serial,
        since,
        Duration::from_secs(10),
        Duration::from_millis(100),
    );
    // `kmn cert show` prints the evidence; wait until the OCSP response was read back.
    let show = loop {
        let s = env.ok(&["cert", "show", &serial]);
        if s.contains("first OCSP        produced") {
            break s;
        }
        assert!(
            since.elapsed() < Duration::from_secs(15),
            "no OCSP evidence:\n{s}"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    for want in [
        "evidence (第23条3)",
        "request received  20",
        "revoked           20",
        "first CRL         #",
        "first CRL SHA-256 ",
        "stored and read back",
        "年",
        "日 ",
        ":",
        "(利用施設窓口)",
    ] {
        assert!(show.contains(want), "'{want}' in:\n{show}");
    }
    let e = kmn_app::ca::evidence::load(&app, &admin().reader(), &serial)
        .await
        .unwrap();
    let received = e.request_received_at.expect("arrival");
    let revoked = e.revoked_at.expect("revocation");
    let crl_at = e.first_crl_published_at.expect("first CRL");
    let crl_no = e.first_crl_number.expect("first CRL number");
    let ocsp_at = e.first_ocsp_at.expect("first OCSP response read back");
    let produced = e.first_ocsp_produced_at.expect("its producedAt");
    assert!(received <= revoked && revoked <= crl_at, "{e:?}");
    assert!(revoked <= produced && produced <= ocsp_at, "{e:?}");
    assert!(crl_at - received <= 5 && ocsp_at - received <= 5, "{e:?}");
    assert_eq!(e.grounds.as_deref(), Some("emergency:lost"));
    assert_eq!(e.article.as_deref(), Some("第11条"));
    assert_eq!(e.channel.as_deref(), Some("desk"));
    assert_eq!(e.first_crl_sha256.as_ref().map(String::len), Some(64));

    // The receipt: signed, verified by kmn and by OpenSSL with the root alone.
    let out = env.ok(&["cert", "receipt", &serial, "--out", receipt_s]);
    assert!(out.contains(&format!("最初のCRL 第{crl_no}号")), "{out}");
    // Never over an existing file.
    let o = env.run(&["cert", "receipt", &serial, "--out", receipt_s]);
    assert_fails(&o, 1, "上書きしません");
    let v = env.ok(&["receipt", "verify", receipt_s]);
    for want in [
        "失効の証明を検証しました",
        serial.as_str(),
        "緊急失効（紛失） [emergency:lost]（利用規約第11条）",
        "keyCompromise",
        "利用施設窓口 [desk]",
        &format!("第{crl_no}号"),
        "最初のOCSP応答",
    ] {
        assert!(v.contains(want), "'{want}' in:\n{v}");
    }
    let root = env.data_dir().join("demo/root-ca.pem");
    let root_s = root.to_str().unwrap();
    // The CRL in the repository is still the first one listing it: its hash matches.
    let crl = env.path("issuing.crl");
    std::fs::write(&crl, get(&srv.http, "/repo/kmn-issuing-g1.crl").2).unwrap();
    let crl_now = kmn_pki::crl::number_unchecked(&std::fs::read(&crl).unwrap())
        .unwrap()
        .0;
    if crl_now == crl_no {
        let v = env.ok(&[
            "receipt",
            "verify",
            receipt_s,
            "--root",
            root_s,
            "--crl",
            crl.to_str().unwrap(),
        ]);
        assert!(v.contains("CRLの照合              一致"), "{v}");
    }
    // Another CRL's bytes do not match the recorded hash.
    let mut other = std::fs::read(&crl).unwrap();
    let last = other.len() - 1;
    other[last] ^= 1;
    std::fs::write(&crl, &other).unwrap();
    let o = env.run(&[
        "receipt",
        "verify",
        receipt_s,
        "--root",
        root_s,
        "--crl",
        crl.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1));

    // OpenSSL, exactly as docs/ADMIN.md §3c writes it.
    let record = env.path("receipt.der");
    let (ok, msg) = tool(
        "openssl",
        &[
            "cms",
            "-verify",
            "-binary",
            "-inform",
            "DER",
            "-in",
            receipt_s,
            "-CAfile",
            root_s,
            "-purpose",
            "any",
            "-out",
            record.to_str().unwrap(),
        ],
    );
    assert!(ok, "{msg}");
    let r =
        kmn_pki::receipt::RevocationReceipt::from_der(&std::fs::read(&record).unwrap()).unwrap();
    assert_eq!(r.serial_hex(), serial);
    assert_eq!(r.first_crl.number as i64, crl_no);
    assert_eq!(r.revoked_at.unix_timestamp(), revoked);
    assert_eq!(r.request_received_at.unix_timestamp(), received);
    assert_eq!(r.first_crl.published_at.unix_timestamp(), crl_at);
    assert_eq!(r.first_ocsp_at.map(|t| t.unix_timestamp()), Some(ocsp_at));
    assert_eq!(
        hex::encode(r.first_crl.sha256),
        e.first_crl_sha256.clone().unwrap()
    );

    // Tampered with (the arrival time moved by a second): both refuse it.
    let der = std::fs::read(&receipt).unwrap();
    let t = kmn_pki::derw::generalized_time(r.request_received_at);
    let pos = der.windows(t.len()).position(|w| w == t).unwrap();
    let mut bad = der.clone();
    bad[pos + t.len() - 2] ^= 1;
    let tampered = env.path("tampered.p7m");
    std::fs::write(&tampered, &bad).unwrap();
    let o = env.run(&["receipt", "verify", tampered.to_str().unwrap()]);
    assert_fails(&o, 1, "検証できません");
    let (ok, _) = tool(
        "openssl",
        &[
            "cms",
            "-verify",
            "-binary",
            "-inform",
            "DER",
            "-in",
            tampered.to_str().unwrap(),
            "-CAfile",
            root_s,
            "-purpose",
            "any",
            "-out",
            env.path("t.der").to_str().unwrap(),
        ],
    );
    assert!(!ok, "openssl accepted a tampered receipt");
    // A checkpoint (the same signer, eContentType id-data) is not a receipt.
    let cp = env.data_dir().join("audit-checkpoints/latest.p7s");
    if cp.exists() {
        let o = env.run(&["receipt", "verify", cp.to_str().unwrap()]);
        assert_fails(&o, 1, "失効の証明（eContentType");
    }

    // The letter to the facility.
    let pdf = env.path("letter.pdf");
    env.ok(&["cert", "letter", &serial, "--out", pdf.to_str().unwrap()]);
    let bytes = std::fs::read(&pdf).unwrap();
    assert!(bytes.starts_with(b"%PDF"));
    if let Some(text) = pdf_text(&bytes, &env.data_dir()) {
        assert!(text.contains("御中"), "{text}");
        let facility = text
            .lines()
            .find_map(|l| l.trim().strip_suffix("御中"))
            .unwrap_or_default()
            .trim_end_matches('　')
            .to_string();
        check_letter(&text, &facility, "様", &card.id, &serial, crl_no);
    }
}

async fn api_story(w: &World) {
    let (_, card, serial) = w.issued_card(&w.nurse_a).await;
    let evidence = format!("/api/v1/certificates/{serial}/evidence");
    let receipt = format!("/api/v1/certificates/{serial}/revocation-receipt");
    let letter = format!("/api/v1/certificates/{serial}/revocation-letter");
    // In use: only its status.
    let (st, v) = w.call(Some("desk_a"), Method::GET, &evidence, None).await;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!(v["status"], "valid", "{v}");
    assert!(
        v["revoked_at"].is_null() && v["first_crl_number"].is_null(),
        "{v}"
    );
    assert_eq!(v["receipt_available"], false, "{v}");

    // The desk reports it lost (第11条).
    let (st, v) = w
        .call(
            Some("desk_a"),
            Method::POST,
            &format!("/api/v1/cards/{card}/emergency-revocation"),
            Some(json!({"reason": "lost", "note": "院内で紛失"})),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    // Before the CRL: the evidence has the arrival and the revocation only, and the
    // receipt and the letter are refused in Japanese.
    let (st, v) = w.call(Some("desk_a"), Method::GET, &evidence, None).await;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!(v["status"], "revoked", "{v}");
    assert!(
        v["request_received_at"].is_string() && v["revoked_at"].is_string(),
        "{v}"
    );
    assert!(
        v["first_crl_number"].is_null() && v["first_ocsp_at"].is_null(),
        "{v}"
    );
    assert_eq!(v["channel_label"], "利用施設窓口", "{v}");
    for path in [&receipt, &letter] {
        let (st, v) = w.call(Some("desk_a"), Method::GET, path, None).await;
        assert_eq!(st, StatusCode::CONFLICT, "{v}");
        assert_eq!(v["code"], "E_CA_STATE", "{v}");
        assert!(
            v["message"]
                .as_str()
                .unwrap()
                .contains("まだCRLに掲載されていません。"),
            "{v}"
        );
    }

    // The CRL (read back) and the OCSP response (stored, read back) follow.
    w.clock.advance(time::Duration::seconds(1));
    kmn_app::ca::crl::publish_all(&w.app, "test").await.unwrap();
    w.clock.advance(time::Duration::seconds(1));
    let responders = kmn_app::ca::ocsp::load(&w.app).await.unwrap();
    kmn_app::ca::ocsp::refresh(&w.app, &responders)
        .await
        .unwrap();

    // The center, a supervisor, the auditor and the card's own desk read it all.
    for who in ["operator", "supervisor", "auditor", "desk_a"] {
        let (st, v) = w.call(Some(who), Method::GET, &evidence, None).await;
        assert_eq!(st, StatusCode::OK, "{who}: {v}");
        assert_eq!(v["serial_hex"], serial.as_str(), "{v}");
        assert_eq!(v["receipt_available"], true, "{v}");
        let t = |k: &str| {
            let s = v[k].as_str().unwrap_or_else(|| panic!("{k} in {v}"));
            time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).unwrap()
        };
        assert!(t("request_received_at") <= t("revoked_at"), "{v}");
        assert!(t("revoked_at") < t("first_crl_published_at"), "{v}");
        assert!(t("first_crl_published_at") < t("first_ocsp_at"), "{v}");
        assert_eq!(v["first_crl_sha256"].as_str().unwrap().len(), 64, "{v}");
        assert_eq!(v["grounds"], "emergency:lost", "{v}");
        assert_eq!(v["article"], "第11条", "{v}");

        let (st, ct, der) = w.get_bytes(who, &receipt).await;
        assert_eq!(
            st,
            StatusCode::OK,
            "{who}: {}",
            String::from_utf8_lossy(&der)
        );
        assert!(ct.starts_with("application/pkcs7-mime"), "{ct}");
        let roots = kmn_app::ca::evidence::repository_roots(&w.app);
        let vr = kmn_app::ca::evidence::verify_receipt(&der, &roots, None).unwrap();
        // Another root, no root, or not a receipt at all: refused, in Japanese.
        let other = kmn_verify::load_pem_or_der_bundle(include_bytes!(
            "../../../kmn-verify/tests/data/root.pem"
        ))
        .unwrap();
        for (anchors, input, why) in [
            (&other, der.as_slice(), "ルート認証局まで検証できません"),
            (&vec![], der.as_slice(), "ルート認証局の証明書がありません"),
            (&roots, b"not a receipt".as_slice(), "署名を検証できません"),
        ] {
            let e = kmn_app::ca::evidence::verify_receipt(input, anchors, None).unwrap_err();
            assert!(e.to_string().contains(why), "{e}");
        }
        assert_eq!(vr.record.serial_hex(), serial);
        assert_eq!(
            hex::encode(vr.record.first_crl.sha256),
            v["first_crl_sha256"].as_str().unwrap()
        );

        let (st, ct, pdf) = w.get_bytes(who, &letter).await;
        assert_eq!(st, StatusCode::OK, "{who}");
        assert_eq!(ct, "application/pdf");
        if who == "desk_a"
            && let Some(text) = pdf_text(&pdf, w._dir.path())
        {
            check_letter(
                &text,
                "熊本中央クリニック",
                "山田 花子",
                &card,
                &serial,
                v["first_crl_number"].as_i64().unwrap(),
            );
        }
    }

    // Another facility's desk: the answer of an unknown serial, to the byte.
    for kind in ["evidence", "revocation-receipt", "revocation-letter"] {
        let (st, v) = w
            .call(
                Some("desk_b"),
                Method::GET,
                &format!("/api/v1/certificates/{serial}/{kind}"),
                None,
            )
            .await;
        let (st_u, v_u) = w
            .call(
                Some("desk_b"),
                Method::GET,
                &format!("/api/v1/certificates/7f00/{kind}"),
                None,
            )
            .await;
        assert_eq!(st, StatusCode::NOT_FOUND, "{v}");
        assert_eq!(st_u, StatusCode::NOT_FOUND, "{v_u}");
        assert_eq!(
            v.to_string(),
            v_u.to_string().replace("7f00", &serial),
            "{kind}"
        );
        // A station is refused before anything is read.
        let (st, v) = w
            .call(
                Some("station"),
                Method::GET,
                &format!("/api/v1/certificates/{serial}/{kind}"),
                None,
            )
            .await;
        assert_eq!(st, StatusCode::FORBIDDEN, "{v}");
    }
}

#[tokio::test]
async fn art23_evidence_receipt_and_letter_over_the_api_by_role() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("ra.db").display());
    let w = World::new(&url).await;
    api_story(&w).await;
}

#[tokio::test]
async fn art23_evidence_receipt_and_letter_over_the_api_by_role_postgres() {
    let Some(url) = pg_url("evidence").await else {
        return;
    };
    let w = World::new(&url).await;
    api_story(&w).await;
}

/// 第23条3 in the lost-card stories: waits (up to 10 s from `since`) until the evidence of
/// `serial` has its first OCSP response, and checks that every timestamp is there and in
/// order: request ≤ revocation ≤ first CRL, revocation ≤ first OCSP producedAt ≤ its
/// read-back; the first CRL has its number and SHA-256.
pub(crate) async fn wait_for_complete_evidence(
    app: &kmn_app::App,
    serial: &str,
    since: std::time::Instant,
) -> kmn_app::views::Evidence {
    let e = loop {
        let e = kmn_app::ca::evidence::load(app, &crate::api_fixture::admin().reader(), serial)
            .await
            .unwrap();
        if e.first_ocsp_at.is_some() {
            break e;
        }
        assert!(
            since.elapsed() < std::time::Duration::from_secs(10),
            "{e:?}"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    let at = |t: Option<i64>| t.unwrap_or_else(|| panic!("a missing time in {e:?}"));
    assert!(at(e.request_received_at) <= at(e.revoked_at));
    assert!(at(e.revoked_at) <= at(e.first_crl_published_at));
    assert!(at(e.revoked_at) <= at(e.first_ocsp_produced_at));
    assert!(at(e.first_ocsp_produced_at) <= at(e.first_ocsp_at));
    assert!(e.first_crl_number.is_some() && e.first_crl_sha256.is_some());
    e
}

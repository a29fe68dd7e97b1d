//! The registration authority through the REST API, on SQLite and PostgreSQL: the rules
//! of the terms, bad input, concurrency, idempotency, filters, the access log, and an
//! authorization matrix generated from the OpenAPI route list.

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::api_fixture::{World, csr_pem};
use crate::support::pg_url;

async fn sqlite_world() -> World {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("ra.db").display());
    let w = World::new(&url).await;
    std::mem::forget(dir);
    w
}

fn msg(v: &Value) -> String {
    v["message"].as_str().unwrap_or_default().to_string()
}

fn field_errors(v: &Value) -> Vec<String> {
    v["fields"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|f| f["field"].as_str().unwrap().to_string())
                .collect()
        })
        .unwrap_or_default()
}

/// 第5・6・7・13条: consent → application → returned with deficiencies → resubmitted →
/// approved → certificate issued → discontinuation → revoked.
async fn happy_path(w: &World) {
    let (st, a) = w.draft_new(&w.nurse_a, 5).await;
    assert_eq!(st, StatusCode::CREATED, "{a}");
    assert_eq!(a["state"], "draft");
    assert_eq!(a["state_label"], "下書き");
    let id = a["id"].as_str().unwrap().to_string();
    let post = |who: &'static str, act: &'static str, body: Option<Value>| {
        let id = id.clone();
        async move {
            w.call(
                Some(who),
                Method::POST,
                &format!("/api/v1/applications/{id}/{act}"),
                body,
            )
            .await
        }
    };
    let (st, v) = post("desk_a", "submit", None).await;
    assert_eq!(
        (st, v["state"].as_str()),
        (StatusCode::OK, Some("submitted")),
        "{v}"
    );
    // 第6条2: returned with a list of deficiencies.
    let (st, v) = post("operator", "return", Some(json!({"deficiencies": [
        {"field": "name_kana", "problem": "氏名のフリガナが申請書と異なります", "action": "申請書の写しを添付してください"}
    ]})))
    .await;
    assert_eq!(
        (st, v["state"].as_str()),
        (StatusCode::OK, Some("returned")),
        "{v}"
    );
    let (_, notices) = w
        .call(Some("desk_a"), Method::GET, "/api/v1/notices", None)
        .await;
    let returned = notices
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["kind"] == "application_returned")
        .expect("a notice of the return");
    assert!(
        returned["body"]
            .as_str()
            .unwrap()
            .contains("氏名のフリガナが申請書と異なります")
    );
    assert!(returned["body"].as_str().unwrap().contains("第6条2"));
    let (st, v) = w
        .raw(
            "desk_a",
            Method::POST,
            &format!("/api/v1/applications/{id}/documents?file_name=form.pdf"),
            "application/pdf",
            b"%PDF-1.7\nscanned form".to_vec(),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{v}");
    let (st, v) = post("desk_a", "resubmit", None).await;
    assert_eq!(
        (st, v["state"].as_str()),
        (StatusCode::OK, Some("resubmitted")),
        "{v}"
    );
    let (st, v) = post("operator", "approve", None).await;
    assert_eq!(
        (st, v["state"].as_str()),
        (StatusCode::OK, Some("approved")),
        "{v}"
    );
    let (st, v) = post("operator", "fulfil", Some(json!({"csr_pem": csr_pem()}))).await;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!(v["application"]["state"], "fulfilled");
    assert_eq!(v["card"]["state"], "active");
    // DESIGN §4: the subject and the kanji SAN come from the registry.
    let pem = v["certificate_pem"].as_str().unwrap();
    let der = kmn_pki::cert::pem_or_der(pem.as_bytes(), "CERTIFICATE").unwrap();
    let c = kmn_pki::parse::cert(&der).unwrap();
    let subject = c.tbs.subject_text();
    assert!(
        subject.contains("O=Kumamoto Chuo Clinic")
            && subject.contains(&format!("OU={}", w.fac_a))
            && subject.contains("CN=Hanako Yamada")
            && subject.contains(&format!("serialNumber={}", w.nurse_a)),
        "{subject}"
    );
    let san = c
        .tbs
        .ext(&kmn_pki::oid::EXT_SUBJECT_ALT_NAME)
        .expect("SAN directoryName");
    assert!(String::from_utf8_lossy(san.value).contains("山田　花子"));
    let nb = c.tbs.not_before.at;
    assert_eq!(
        c.tbs.not_after.at,
        kmn_domain::ValidityPeriod::Years5.not_after(nb),
        "第10条: 5 years"
    );
    let card_id = v["card"]["id"].as_str().unwrap().to_string();
    let serial = v["card"]["cert_serial_hex"].as_str().unwrap().to_string();
    // Every round is kept.
    let (_, d) = w
        .call(
            Some("desk_a"),
            Method::GET,
            &format!("/api/v1/applications/{id}"),
            None,
        )
        .await;
    let actions: Vec<&str> = d["rounds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        ["submit", "return", "resubmit", "approve", "fulfil"]
    );
    assert_eq!(d["rounds"][1]["deficiencies"][0]["field"], "name_kana");
    assert!(
        d["documents"][0]["retain_until"]
            .as_str()
            .unwrap()
            .starts_with("2032-11-26"),
        "第18条3: 6 years: {d}"
    );

    // 第13条: discontinuation → revoked (affiliationChanged) and the card asked back.
    let (st, dis) = w.call(Some("desk_a"), Method::POST, "/api/v1/applications", Some(json!({"facility_code": w.fac_a, "holder_id": w.nurse_a, "kind": "discontinuation", "detail": "left_facility", "target_card_id": card_id}))).await;
    assert_eq!(st, StatusCode::CREATED, "{dis}");
    let did = dis["id"].as_str().unwrap();
    assert_eq!(
        w.call(
            Some("desk_a"),
            Method::POST,
            &format!("/api/v1/applications/{did}/submit"),
            None
        )
        .await
        .0,
        StatusCode::OK
    );
    let (st, v) = w
        .call(
            Some("operator"),
            Method::POST,
            &format!("/api/v1/applications/{did}/approve"),
            None,
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    let mut tx = w.app.store_for_tests().begin().await.unwrap();
    let cert = tx.certificate(&serial).await.unwrap().unwrap();
    let card = tx.card(&card_id).await.unwrap().unwrap();
    tx.rollback().await.unwrap();
    assert_eq!(
        cert.revocation.unwrap().reason,
        kmn_domain::RevocationReason::AffiliationChanged
    );
    assert_eq!(card.state, "return_requested");
    let (_, notices) = w
        .call(Some("desk_a"), Method::GET, "/api/v1/notices", None)
        .await;
    assert!(
        notices
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n["kind"] == "card_return_requested")
    );
    assert!(
        kmn_app::ca::crl::due(&w.app, "kmn-issuing-g1")
            .await
            .unwrap(),
        "第16条: the revocation makes a CRL due"
    );
    let (st, v) = w
        .call(
            Some("operator"),
            Method::POST,
            &format!("/api/v1/applications/{did}/complete"),
            None,
        )
        .await;
    assert_eq!(
        (st, v["state"].as_str()),
        (StatusCode::OK, Some("fulfilled")),
        "{v}"
    );
    // Mail for every notice, in the outbox of the same transaction.
    let mut tx = w.app.store_for_tests().begin().await.unwrap();
    let mail = tx.unsent_mail(100).await.unwrap();
    tx.rollback().await.unwrap();
    assert!(
        mail.iter()
            .any(|m| m.subject.contains("不備") && m.to_addr.starts_with("desk-"))
    );
}

#[tokio::test]
async fn art5_6_13_happy_path_sqlite() {
    happy_path(&sqlite_world().await).await;
}

#[tokio::test]
async fn art5_6_13_happy_path_postgres() {
    if let Some(url) = pg_url("ra_happy").await {
        happy_path(&World::new(&url).await).await;
    }
}

#[tokio::test]
async fn art4_1_doctors_cannot_apply() {
    let w = sqlite_world().await;
    let before = w.counts().await;
    let (st, v) = w.draft_new(&w.doctor_a, 3).await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert!(msg(&v).contains("医師資格証"), "{v}");
    assert_eq!(w.counts().await, before, "nothing written");
}

#[tokio::test]
async fn art4_1_holder_must_be_affiliated_and_permitted() {
    let w = sqlite_world().await;
    let (st, v) = w.draft_new(&w.unpermitted_a, 3).await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    let (st, v) = w.call(Some("operator"), Method::POST, "/api/v1/applications", Some(json!({"facility_code": w.fac_a, "holder_id": w.nurse_b, "kind": "new", "validity_years": 3}))).await;
    assert_eq!(
        st,
        StatusCode::UNPROCESSABLE_ENTITY,
        "a person of facility B cannot get a card at A: {v}"
    );
}

#[tokio::test]
async fn art4_2_one_valid_card_per_person_and_facility() {
    let w = sqlite_world().await;
    w.issued_card(&w.nurse_a).await;
    let before = w.counts().await;
    let (st, v) = w.draft_new(&w.nurse_a, 3).await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert!(msg(&v).contains("第4条"), "{v}");
    assert_eq!(w.counts().await, before);
}

#[tokio::test]
async fn art2_2_new_terms_version_requires_fresh_consent() {
    let w = sqlite_world().await;
    let n = kmn_app::ra::documents::publish(
        &w.app,
        &crate::api_fixture::admin(),
        "terms",
        "2.01",
        "terms.pdf",
        b"%PDF-1.4 v2.01".to_vec(),
    )
    .await
    .unwrap();
    assert_eq!(n, 2, "every facility is notified");
    let (_, notices) = w
        .call(Some("desk_b"), Method::GET, "/api/v1/notices", None)
        .await;
    assert!(notices.as_array().unwrap().iter().any(
        |x| x["kind"] == "document_published" && x["body"].as_str().unwrap().contains("第2条2")
    ));
    let (st, v) = w.draft_new(&w.nurse_a, 3).await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert!(msg(&v).contains("2.01") || msg(&v).contains("同意"), "{v}");
    let (st, v) = w
        .call(
            Some("desk_a"),
            Method::POST,
            &format!("/api/v1/facilities/{}/consents", w.fac_a),
            Some(json!({"kind": "terms", "version": "2.01", "given_by": "窓口 一子"})),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{v}");
    let (st, v) = w.draft_new(&w.nurse_a, 3).await;
    assert_eq!(st, StatusCode::CREATED, "{v}");
    // A desk cannot consent for another facility.
    let (st, _) = w
        .call(
            Some("desk_a"),
            Method::POST,
            &format!("/api/v1/facilities/{}/consents", w.fac_b),
            Some(json!({"kind": "terms", "version": "2.01", "given_by": "x"})),
        )
        .await;
    assert_eq!(st, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn art3_4_art25_card_never_moves_to_another_person() {
    let w = sqlite_world().await;
    let (_, card_id, _) = w.issued_card(&w.nurse_a).await;
    // No API takes a card to another holder: a renewal naming someone else's card is refused.
    let (st, v) = w.call(Some("operator"), Method::POST, "/api/v1/applications", Some(json!({"facility_code": w.fac_a, "holder_id": w.unpermitted_a, "kind": "renewal", "validity_years": 3, "target_card_id": card_id}))).await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert!(msg(&v).contains("第25条"), "{v}");
    // And the database refuses it too.
    let mut tx = w.app.store_for_tests().begin().await.unwrap();
    let r = tx
        .execute_raw(&format!(
            "UPDATE cards SET holder_id = '{}' WHERE id = '{card_id}'",
            w.doctor_a
        ))
        .await;
    assert!(r.is_err(), "a card can never move to another person");
}

#[tokio::test]
async fn art14_reissue_for_loss_is_fee_bearing_and_revokes_for_key_compromise() {
    let w = sqlite_world().await;
    let (_, card_id, serial) = w.issued_card(&w.nurse_a).await;
    let (st, v) = w.call(Some("desk_a"), Method::POST, "/api/v1/applications", Some(json!({"facility_code": w.fac_a, "holder_id": w.nurse_a, "kind": "reissue", "detail": "lost", "validity_years": 5, "target_card_id": card_id}))).await;
    assert_eq!(st, StatusCode::CREATED, "{v}");
    assert_eq!(
        v["fee_bearing"], true,
        "第14条2: the holder's fault bears the fee"
    );
    let id = v["id"].as_str().unwrap();
    w.call(
        Some("desk_a"),
        Method::POST,
        &format!("/api/v1/applications/{id}/submit"),
        None,
    )
    .await;
    let (st, v) = w
        .call(
            Some("operator"),
            Method::POST,
            &format!("/api/v1/applications/{id}/approve"),
            None,
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    let mut tx = w.app.store_for_tests().begin().await.unwrap();
    let c = tx.certificate(&serial).await.unwrap().unwrap();
    tx.rollback().await.unwrap();
    assert_eq!(
        c.revocation.unwrap().reason,
        kmn_domain::RevocationReason::KeyCompromise
    );
    // A rename is not the holder's fault: no fee.
    let (_, card2, _) = {
        let (st, v) = w
            .call(
                Some("operator"),
                Method::POST,
                &format!("/api/v1/applications/{id}/fulfil"),
                Some(json!({"csr_pem": csr_pem()})),
            )
            .await;
        assert_eq!(st, StatusCode::OK, "{v}");
        (0, v["card"]["id"].as_str().unwrap().to_string(), 0)
    };
    let (_, v) = w.call(Some("desk_a"), Method::POST, "/api/v1/applications", Some(json!({"facility_code": w.fac_a, "holder_id": w.nurse_a, "kind": "reissue", "detail": "holder_renamed", "validity_years": 5, "target_card_id": card2}))).await;
    assert_eq!(v["fee_bearing"], false, "{v}");
}

#[tokio::test]
async fn art4_2_renewal_overlaps_then_the_predecessor_is_superseded_by_a_job() {
    let w = sqlite_world().await;
    let (_, old_card, old_serial) = w.issued_card(&w.nurse_a).await;
    let (st, v) = w.call(Some("desk_a"), Method::POST, "/api/v1/applications", Some(json!({"facility_code": w.fac_a, "holder_id": w.nurse_a, "kind": "renewal", "validity_years": 3, "target_card_id": old_card}))).await;
    assert_eq!(st, StatusCode::CREATED, "{v}");
    let id = v["id"].as_str().unwrap().to_string();
    w.call(
        Some("desk_a"),
        Method::POST,
        &format!("/api/v1/applications/{id}/submit"),
        None,
    )
    .await;
    w.call(
        Some("operator"),
        Method::POST,
        &format!("/api/v1/applications/{id}/approve"),
        None,
    )
    .await;
    let (st, v) = w
        .call(
            Some("operator"),
            Method::POST,
            &format!("/api/v1/applications/{id}/fulfil"),
            Some(json!({"csr_pem": csr_pem()})),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    let status = |serial: String| {
        let app = w.app.clone();
        async move {
            let mut tx = app.store_for_tests().begin().await.unwrap();
            let c = tx.certificate(&serial).await.unwrap().unwrap();
            tx.rollback().await.unwrap();
            c.status
        }
    };
    // During the overlap both are valid; the job is not due.
    let r = kmn_app::jobs::run_once(&w.app, "w1").await.unwrap();
    assert_eq!(r.done, 0);
    assert_eq!(
        status(old_serial.clone()).await,
        kmn_domain::CertStatus::Valid
    );
    w.clock.advance(time::Duration::days(29));
    assert_eq!(kmn_app::jobs::run_once(&w.app, "w1").await.unwrap().done, 0);
    w.clock.advance(time::Duration::days(2));
    let r = kmn_app::jobs::run_once(&w.app, "w1").await.unwrap();
    assert_eq!(r.done, 1);
    assert_eq!(
        status(old_serial.clone()).await,
        kmn_domain::CertStatus::Revoked
    );
    let mut tx = w.app.store_for_tests().begin().await.unwrap();
    let c = tx.certificate(&old_serial).await.unwrap().unwrap();
    let jobs = tx.jobs_of_kind("revoke_superseded").await.unwrap();
    tx.rollback().await.unwrap();
    assert_eq!(
        c.revocation.unwrap().reason,
        kmn_domain::RevocationReason::Superseded
    );
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].state, "done");
    // Idempotent: nothing runs again.
    assert_eq!(
        kmn_app::jobs::run_once(&w.app, "w1").await.unwrap(),
        kmn_app::jobs::RunReport::default()
    );
}

#[tokio::test]
async fn jobs_with_expired_leases_are_taken_over_and_idempotent() {
    let w = sqlite_world().await;
    let now = w.app.now();
    let mut tx = w.app.store_for_tests().begin().await.unwrap();
    let job = kmn_app::jobs::Job::RevokeSuperseded {
        serial_hex: "0102030405060708090a".into(),
        card_id: "C-none".into(),
        application_id: "A-none".into(),
    };
    assert!(
        kmn_app::jobs::enqueue(&mut tx, &job, now, "k1", now)
            .await
            .unwrap()
    );
    assert!(
        !kmn_app::jobs::enqueue(&mut tx, &job, now, "k1", now)
            .await
            .unwrap(),
        "dedup key"
    );
    let claimed = tx.claim_jobs("dead-worker", now, 60, 10).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(claimed.len(), 1);
    // The first worker dies; before the lease ends nobody else takes the job.
    assert_eq!(
        kmn_app::jobs::run_once(&w.app, "w2").await.unwrap(),
        kmn_app::jobs::RunReport::default()
    );
    w.clock.advance(time::Duration::seconds(61));
    let r = kmn_app::jobs::run_once(&w.app, "w2").await.unwrap();
    assert_eq!(
        r.failed + r.done,
        1,
        "taken over after the lease expired: {r:?}"
    );
    let mut tx = w.app.store_for_tests().begin().await.unwrap();
    assert!(
        !tx.complete_job(&claimed[0].id, "dead-worker", now)
            .await
            .unwrap(),
        "the old lease holder cannot complete it"
    );
}

#[tokio::test]
async fn bad_input_gets_field_errors_and_writes_nothing() {
    let w = sqlite_world().await;
    let before = w.counts().await;
    let person = |over: Value| {
        let mut p = json!({"facility_code": w.fac_a, "name_kanji": "木村 愛", "name_kana": "キムラ アイ", "name_romaji": "Ai Kimura", "date_of_birth": "1990-01-01", "profession": "nurse", "work_email": "ai@example.jp", "permitted": true});
        for (k, v) in over.as_object().unwrap() {
            if v.is_null() {
                p.as_object_mut().unwrap().remove(k);
            } else {
                p[k] = v.clone();
            }
        }
        p
    };
    let cases: Vec<(&str, Value, &str)> = vec![
        (
            "missing kana",
            person(json!({"name_kana": null})),
            "name_kana",
        ),
        (
            "hiragana kana",
            person(json!({"name_kana": "きむら あい"})),
            "name_kana",
        ),
        (
            "future birth",
            person(json!({"date_of_birth": "2030-01-01"})),
            "date_of_birth",
        ),
        (
            "unknown field",
            person(json!({"favourite_colour": "blue"})),
            "favourite_colour",
        ),
    ];
    for (name, body, field) in cases {
        let (st, v) = w
            .call(Some("desk_a"), Method::POST, "/api/v1/persons", Some(body))
            .await;
        assert!(st == StatusCode::UNPROCESSABLE_ENTITY, "{name}: {st} {v}");
        assert!(field_errors(&v).contains(&field.to_string()), "{name}: {v}");
    }
    let (st, v) = w.call(Some("operator"), Method::POST, "/api/v1/facilities", Some(json!({"code": "4312345678", "kind": "clinic", "name_kanji": "x", "name_kana": "エックス", "name_romaji": "X", "postal_code": "8600806", "address": "熊本", "phone": "0960000000", "email": "x@example.jp"}))).await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert!(
        field_errors(&v).contains(&"code".to_string()),
        "invalid facility code: {v}"
    );
    let (st, v) = w.draft_new(&w.nurse_a, 4).await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        field_errors(&v).contains(&"validity_years".to_string()),
        "a 4-year validity: {v}"
    );
    assert!(
        v["fields"][0]["message"]
            .as_str()
            .unwrap()
            .contains("第10条")
    );
    let (st, v) = w.draft_new(&w.doctor_a, 3).await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "a doctor: {v}");
    // Malformed JSON.
    let mut req = axum::http::Request::builder()
        .method(Method::POST)
        .uri("/api/v1/applications")
        .header("content-type", "application/json")
        .body(axum::body::Body::from("{\"kind\": "))
        .unwrap();
    req.extensions_mut()
        .insert(kmn_web::api::auth::PeerCert(w.certs["desk_a"].clone()));
    let resp = tower::ServiceExt::oneshot(w.router.clone(), req)
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert_eq!(w.counts().await, before, "nothing was written");

    // A duplicate card and an oversized PDF.
    w.issued_card(&w.nurse_a).await;
    let before = w.counts().await;
    let (st, v) = w.draft_new(&w.nurse_a, 3).await;
    assert_eq!(
        st,
        StatusCode::UNPROCESSABLE_ENTITY,
        "a duplicate card: {v}"
    );
    assert_eq!(
        w.counts().await,
        before,
        "nothing written for the duplicate"
    );
    let (_, b) = w.call(Some("desk_b"), Method::POST, "/api/v1/applications", Some(json!({"facility_code": w.fac_b, "holder_id": w.nurse_b, "kind": "new", "validity_years": 3}))).await;
    let before_b = w.counts().await;
    let big = [b"%PDF-1.7\n".to_vec(), vec![b'x'; 10 * 1024 * 1024]].concat();
    let (st, v) = w
        .raw(
            "desk_b",
            Method::POST,
            &format!(
                "/api/v1/applications/{}/documents?file_name=big.pdf",
                b["id"].as_str().unwrap()
            ),
            "application/pdf",
            big,
        )
        .await;
    assert_eq!(
        st,
        StatusCode::UNPROCESSABLE_ENTITY,
        "a PDF over 10 MiB: {v}"
    );
    let (st, v) = w
        .raw(
            "desk_b",
            Method::POST,
            &format!(
                "/api/v1/applications/{}/documents?file_name=x.pdf",
                b["id"].as_str().unwrap()
            ),
            "application/pdf",
            b"not a pdf".to_vec(),
        )
        .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "not a PDF: {v}");
    assert_eq!(w.counts().await, before_b);
}

async fn concurrent_approval(w: &World) {
    let (_, a) = w.draft_new(&w.nurse_a, 3).await;
    let id = a["id"].as_str().unwrap().to_string();
    w.call(
        Some("desk_a"),
        Method::POST,
        &format!("/api/v1/applications/{id}/submit"),
        None,
    )
    .await;
    let uri = format!("/api/v1/applications/{id}/approve");
    let (x, y) = tokio::join!(
        w.call(Some("operator"), Method::POST, &uri, None),
        w.call(Some("supervisor"), Method::POST, &uri, None)
    );
    let statuses = [x.0, y.0];
    assert!(
        statuses.contains(&StatusCode::OK) && statuses.contains(&StatusCode::CONFLICT),
        "exactly one wins: {x:?} {y:?}"
    );
    let loser = if x.0 == StatusCode::CONFLICT {
        x.1
    } else {
        y.1
    };
    assert_eq!(loser["code"], "E_CONFLICT");
    let (_, d) = w
        .call(
            Some("operator"),
            Method::GET,
            &format!("/api/v1/applications/{id}"),
            None,
        )
        .await;
    assert_eq!(
        d["rounds"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["action"] == "approve")
            .count(),
        1
    );
}

#[tokio::test]
async fn art6_two_operators_approving_at_once_sqlite() {
    concurrent_approval(&sqlite_world().await).await;
}

#[tokio::test]
async fn art6_two_operators_approving_at_once_postgres() {
    if let Some(url) = pg_url("ra_conc").await {
        concurrent_approval(&World::new(&url).await).await;
    }
}

#[tokio::test]
async fn idempotency_key_replay_returns_the_same_body_and_writes_nothing() {
    let w = sqlite_world().await;
    let body = json!({"facility_code": w.fac_a, "holder_id": w.nurse_a, "kind": "new", "validity_years": 3});
    let h = [("idempotency-key", "k-123")];
    let (st1, v1) = w
        .call_with(
            Some("desk_a"),
            Method::POST,
            "/api/v1/applications",
            Some(body.clone()),
            &h,
        )
        .await;
    assert_eq!(st1, StatusCode::CREATED);
    let before = w.counts().await;
    let (st2, v2) = w
        .call_with(
            Some("desk_a"),
            Method::POST,
            "/api/v1/applications",
            Some(body),
            &h,
        )
        .await;
    assert_eq!((st2, &v2), (st1, &v1));
    assert_eq!(w.counts().await, before, "the replay wrote no row");
    let (st3, v3) = w.call_with(Some("desk_a"), Method::POST, "/api/v1/applications", Some(json!({"facility_code": w.fac_a, "holder_id": w.nurse_a, "kind": "new", "validity_years": 5})), &h).await;
    assert_eq!(st3, StatusCode::CONFLICT, "same key, other request: {v3}");
}

#[tokio::test]
async fn filters_and_pagination() {
    let w = sqlite_world().await;
    let (_, a1) = w.draft_new(&w.nurse_a, 3).await;
    w.call(
        Some("desk_a"),
        Method::POST,
        &format!("/api/v1/applications/{}/submit", a1["id"].as_str().unwrap()),
        None,
    )
    .await;
    w.clock.advance(time::Duration::hours(2));
    let (_, b1) = w.call(Some("desk_b"), Method::POST, "/api/v1/applications", Some(json!({"facility_code": w.fac_b, "holder_id": w.nurse_b, "kind": "new", "validity_years": 5}))).await;
    let ids = |v: &Value| -> Vec<String> {
        v["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x["id"].as_str().unwrap().to_string())
            .collect()
    };
    let wr = &w;
    let q = |uri: String| async move { wr.call(Some("operator"), Method::GET, &uri, None).await.1 };
    let a1id = a1["id"].as_str().unwrap().to_string();
    let b1id = b1["id"].as_str().unwrap().to_string();
    // The fixture's own: the desk members' card applications (fulfilled), A then B.
    let fixture = ids(&q("/api/v1/applications?status=fulfilled".into()).await);
    assert_eq!(fixture.len(), 2, "{fixture:?}");
    assert_eq!(
        ids(&q("/api/v1/applications?status=submitted".into()).await),
        vec![a1id.clone()]
    );
    assert_eq!(
        ids(&q(format!("/api/v1/applications?facility={}", w.fac_b)).await),
        vec![fixture[1].clone(), b1id.clone()]
    );
    assert_eq!(
        ids(&q("/api/v1/applications?kind=new".into()).await).len(),
        4
    );
    assert_eq!(
        ids(&q("/api/v1/applications?kind=renewal".into()).await).len(),
        0
    );
    assert_eq!(
        ids(&q("/api/v1/applications?from=2026-11-26T02:00:00Z".into()).await),
        vec![b1id.clone()]
    );
    assert_eq!(
        ids(&q("/api/v1/applications?to=2026-11-26T02:00:00Z".into()).await),
        vec![fixture[0].clone(), fixture[1].clone(), a1id.clone()]
    );
    let p1 = q("/api/v1/applications?limit=2".into()).await;
    assert_eq!(ids(&p1), fixture);
    let p2 = q(format!(
        "/api/v1/applications?limit=2&after={}",
        p1["next"].as_str().unwrap()
    ))
    .await;
    assert_eq!(ids(&p2), vec![a1id.clone(), b1id.clone()]);
    assert!(p2["next"].is_null());
    let (st, v) = w
        .call(
            Some("operator"),
            Method::GET,
            "/api/v1/applications?status=bogus",
            None,
        )
        .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    // A desk sees only its own facility, whatever it asks for.
    let (_, v) = w
        .call(Some("desk_a"), Method::GET, "/api/v1/applications", None)
        .await;
    assert_eq!(ids(&v), vec![fixture[0].clone(), a1id]);
    let (st, _) = w
        .call(
            Some("desk_a"),
            Method::GET,
            &format!("/api/v1/applications?facility={}", w.fac_b),
            None,
        )
        .await;
    assert_eq!(st, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn g1_every_read_of_personal_data_is_in_the_access_log() {
    let w = sqlite_world().await;
    w.call(
        Some("desk_a"),
        Method::GET,
        &format!("/api/v1/persons/{}", w.nurse_a),
        None,
    )
    .await;
    w.call(
        Some("auditor"),
        Method::GET,
        &format!("/api/v1/persons/{}", w.nurse_a),
        None,
    )
    .await;
    let (st, _) = w
        .call(
            Some("desk_b"),
            Method::GET,
            &format!("/api/v1/persons/{}", w.nurse_a),
            None,
        )
        .await;
    // Another facility's person is answered like an absent one (issue 8, item 5).
    assert_eq!(st, StatusCode::NOT_FOUND);
    let mut tx = w.app.store_for_tests().begin().await.unwrap();
    let log = tx
        .access_log_for(&format!("person:{}", w.nurse_a))
        .await
        .unwrap();
    tx.rollback().await.unwrap();
    let roles: Vec<&str> = log.iter().map(|r| r.2.as_str()).collect();
    assert_eq!(roles, ["facility_desk", "auditor"], "{log:?}");
}

#[tokio::test]
async fn openapi_document_is_public_and_stable() {
    let w = sqlite_world().await;
    let (st, v) = w
        .call(None, Method::GET, "/api/v1/openapi.json", None)
        .await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(v["info"]["title"], "kmn-pki API");
    insta::assert_json_snapshot!("openapi", v);
}

/// The authorization matrix: every route of the OpenAPI document × every role — the
/// center (operator, supervisor), the auditor, a desk on its own facility, the same desk
/// naming another facility's object in the path, a personalization station, the desk
/// naming another facility's data in the body — and no certificate / a revoked one. Each
/// cell is the EXACT status (0: the route has no body that names a facility). A route
/// without a row fails the test, so no route is left out. Rights come first: a role
/// without the right is refused (403) whatever it names; a desk gets one answer for an
/// absent and a foreign id; no answer to a desk carries another facility's data.
#[tokio::test]
async fn authorization_matrix_from_openapi() {
    let w = sqlite_world().await;
    let (_, app_a) = w.draft_new(&w.nurse_a, 3).await;
    let (_, app_b) = w.call(Some("desk_b"), Method::POST, "/api/v1/applications", Some(json!({"facility_code": w.fac_b, "holder_id": w.nurse_b, "kind": "new", "validity_years": 3}))).await;
    let (_, doc_a) = w
        .raw(
            "desk_a",
            Method::POST,
            &format!(
                "/api/v1/applications/{}/documents?file_name=a.pdf",
                app_a["id"].as_str().unwrap()
            ),
            "application/pdf",
            b"%PDF-1.4 a".to_vec(),
        )
        .await;
    let (_, _card_a, serial_a) = w.issued_card(&w.nurse_a).await;
    let card_a = _card_a;
    let card_b = {
        let (_, b) = w.call(Some("desk_b"), Method::POST, "/api/v1/applications", Some(json!({"facility_code": w.fac_b, "holder_id": w.nurse_b, "kind": "new", "validity_years": 3}))).await;
        let id = b["id"].as_str().unwrap().to_string();
        w.call(
            Some("desk_b"),
            Method::POST,
            &format!("/api/v1/applications/{id}/submit"),
            None,
        )
        .await;
        w.call(
            Some("operator"),
            Method::POST,
            &format!("/api/v1/applications/{id}/approve"),
            None,
        )
        .await;
        let (st, v) = w
            .call(
                Some("operator"),
                Method::POST,
                &format!("/api/v1/applications/{id}/fulfil"),
                Some(json!({"csr_pem": csr_pem()})),
            )
            .await;
        assert_eq!(st, StatusCode::OK, "{v}");
        (
            v["card"]["id"].as_str().unwrap().to_string(),
            v["card"]["cert_serial_hex"].as_str().unwrap().to_string(),
        )
    };
    let (card_b, serial_b) = card_b;
    let (_, doc_b) = w
        .raw(
            "desk_b",
            Method::POST,
            &format!(
                "/api/v1/applications/{}/documents?file_name=b.pdf",
                app_b["id"].as_str().unwrap()
            ),
            "application/pdf",
            b"%PDF-1.4 b".to_vec(),
        )
        .await;
    // A doctor's binding at each facility (enrolled), from an HPKI-like certificate
    // dated from now: the clock stands at now only while they are enrolled.
    let hpki = crate::doctors::Hpki::new("HPKI Test Root CA");
    let fixed = w.app.clock.now();
    w.clock
        .set(time::OffsetDateTime::now_utc() + time::Duration::minutes(1));
    let mut bindings = Vec::new();
    for (n, fac) in [&w.fac_a, &w.fac_b].into_iter().enumerate() {
        let pem = std::fs::read(hpki.issue(&format!("m{n}"), "Taro Isha", "auth")).unwrap();
        let b = kmn_app::ra::doctors::enrol(
            &w.app,
            &crate::api_fixture::admin().registrar(),
            fac,
            &pem,
        )
        .await
        .unwrap();
        bindings.push(b.id);
    }
    w.clock.set(fixed);
    let (binding_a, binding_b) = (bindings[0].clone(), bindings[1].clone());
    // (operation id) → [operator, supervisor, auditor, desk own, desk other (path),
    //                     station, desk other (body)]
    #[rustfmt::skip]
    let table: &[(&str, [u16; 7])] = &[
        ("whoami",                       [200, 200, 200, 200, 200, 200, 0]),
        ("list_facilities",              [200, 200, 200, 200, 200, 403, 0]),
        ("create_facility",              [422, 422, 403, 403, 403, 403, 0]),
        ("get_facility",                 [200, 200, 200, 200, 403, 403, 0]),
        ("create_consent",               [422, 422, 403, 422, 403, 403, 0]),
        ("list_persons",                 [200, 200, 200, 200, 403, 403, 0]),
        ("create_person",                [201, 201, 403, 201, 403, 403, 403]),
        ("get_person",                   [200, 200, 200, 200, 404, 403, 0]),
        ("list_applications",            [200, 200, 200, 200, 403, 403, 0]),
        ("create_application",           [422, 422, 403, 422, 403, 403, 422]),
        ("get_application",              [200, 200, 200, 200, 404, 403, 0]),
        ("submit_application",           [422, 422, 403, 422, 404, 403, 0]),
        ("resubmit_application",         [409, 409, 403, 409, 404, 403, 0]),
        ("withdraw_application",         [200, 409, 403, 409, 404, 403, 0]),
        ("approve_application",          [409, 409, 403, 403, 403, 403, 0]),
        ("complete_application",         [422, 422, 403, 403, 403, 403, 0]),
        ("return_application",           [409, 409, 403, 403, 403, 403, 0]),
        ("reject_application",           [409, 409, 403, 403, 403, 403, 0]),
        ("fulfil_application",           [400, 400, 403, 403, 403, 403, 0]),
        ("upload_document",              [201, 201, 403, 201, 404, 403, 0]),
        ("get_document",                 [200, 200, 200, 200, 404, 403, 0]),
        ("list_cards",                   [200, 200, 200, 200, 403, 403, 0]),
        ("get_card",                     [200, 200, 200, 200, 404, 403, 0]),
        ("list_notices",                 [200, 200, 200, 200, 403, 403, 0]),
        ("get_card_delivery",            [200, 200, 200, 200, 404, 403, 0]),
        ("ship_card",                    [422, 422, 403, 403, 403, 403, 0]),
        ("confirm_card_receipt",         [404, 404, 403, 404, 404, 403, 0]),
        ("record_card_receipt",          [422, 422, 403, 403, 403, 403, 0]),
        ("record_card_handover",         [422, 422, 403, 422, 404, 403, 0]),
        ("record_card_lost_in_post",     [422, 422, 403, 403, 403, 403, 0]),
        ("emergency_revocation",         [422, 422, 403, 422, 422, 403, 0]),
        ("create_revocation_proposal",   [422, 422, 403, 403, 403, 403, 0]),
        ("get_proposal",                 [404, 404, 403, 403, 403, 403, 0]),
        ("approve_proposal",             [403, 404, 403, 403, 403, 403, 0]),
        ("reject_proposal",              [403, 404, 403, 403, 403, 403, 0]),
        ("list_pin_mailers",             [200, 200, 403, 403, 403, 403, 0]),
        ("record_pin_mailer_dispatched", [404, 404, 403, 403, 403, 403, 0]),
        ("station_get_application",      [403, 403, 403, 403, 403, 422, 0]),
        ("station_so_pin",               [403, 403, 403, 403, 403, 200, 0]),
        ("station_issue_certificate",    [403, 403, 403, 403, 403, 400, 0]),
        ("station_record_card",          [403, 403, 403, 403, 403, 422, 0]),
        ("station_abort_certificate",    [403, 403, 403, 403, 403, 403, 0]),
        // Certificates in use: the evidence is their status; no receipt, no letter yet.
        ("get_revocation_evidence",      [200, 200, 200, 200, 404, 403, 0]),
        ("get_revocation_receipt",       [409, 409, 409, 409, 404, 403, 0]),
        ("get_revocation_letter",        [409, 409, 409, 409, 404, 403, 0]),
        // The doctor registry: A's binding is enrolled; a desk confirms its own (200,
        // then confirmed); the center records a written confirmation only with a name
        // (422); approval before confirmation is 409; bad bodies are refused before the
        // binding is loaded (422 for own and foreign alike); the lookup is the center's
        // and the gateway's (station).
        ("enrol_doctor",                 [422, 422, 403, 422, 403, 403, 403]),
        ("list_doctor_bindings",         [200, 200, 200, 200, 403, 403, 0]),
        ("get_doctor_binding",           [200, 200, 200, 200, 404, 403, 0]),
        ("approve_doctor_binding",       [409, 409, 403, 403, 403, 403, 0]),
        ("confirm_doctor_binding",       [422, 422, 403, 200, 404, 403, 0]),
        ("end_doctor_binding",           [422, 422, 403, 422, 422, 403, 0]),
        ("refuse_doctor_binding",        [422, 422, 403, 403, 403, 403, 0]),
        ("withdraw_doctor_binding",      [422, 422, 403, 422, 422, 403, 0]),
        ("lookup_doctor",                [200, 200, 403, 403, 403, 200, 0]),
    ];
    let mut routes = Vec::new();
    for (path, item) in w.openapi.paths.paths.iter() {
        for (method, op) in [("get", &item.get), ("post", &item.post)] {
            if let Some(op) = op {
                routes.push((path.clone(), method, op.operation_id.clone().unwrap()));
            }
        }
    }
    assert!(routes.len() >= 24, "{routes:?}");
    let own_doc = doc_a["id"].as_str().unwrap_or("D00000001").to_string();
    let other_doc = doc_b["id"].as_str().unwrap_or("D00000002").to_string();
    let mut wrong = Vec::new();
    for (path, method, op) in &routes {
        let row = table.iter().find(|r| r.0 == op).unwrap_or_else(|| {
            panic!("route {method} {path} ({op}) has no row in the authorization matrix")
        });
        // Fill path parameters for "own" (facility A) and "other" (facility B).
        let fill = |own: bool| -> String {
            let (fac, holder, app, doc, card) = if own {
                (
                    &w.fac_a,
                    &w.nurse_a,
                    app_a["id"].as_str().unwrap().to_string(),
                    own_doc.clone(),
                    card_a.clone(),
                )
            } else {
                (
                    &w.fac_b,
                    &w.nurse_b,
                    app_b["id"].as_str().unwrap().to_string(),
                    other_doc.clone(),
                    card_b.clone(),
                )
            };
            let mut p = path.replace("{code}", fac).replace("{holder_id}", holder);
            p = if p.contains("/doctor-bindings/") {
                p.replace("{id}", if own { &binding_a } else { &binding_b })
            } else if p.contains("/documents/") {
                p.replace("{id}", &doc)
            } else if p.contains("/cards/") {
                p.replace("{id}", &card)
            } else if p.contains("/station/certificates/") {
                p.replace("{serial}", "7F00")
            } else if p.contains("/certificates/") {
                p.replace("{serial}", if own { &serial_a } else { &serial_b })
            } else {
                p.replace("{id}", &app)
            };
            if op == "upload_document" {
                p.push_str("?file_name=m.pdf");
            }
            if op == "lookup_doctor" {
                p.push_str(&format!(
                    "?issuer=00&serial=01&spki_sha256={}",
                    "0".repeat(64)
                ));
            }
            if op == "list_cards"
                || op == "list_notices"
                || op == "list_applications"
                || op == "list_doctor_bindings"
            {
                p.push_str(&format!("?facility={fac}"));
            }
            p
        };
        // own: facility A's data; other: facility B's in the path (and body); foreign: a
        // path of facility A with facility B's data in the body.
        let body = |fac: &String, holder: &str| -> Option<Value> {
            match op.as_str() {
                "create_facility" => Some(
                    json!({"code": "x", "kind": "clinic", "name_kanji": "x", "name_kana": "エ", "name_romaji": "x", "postal_code": "1", "address": "x", "phone": "1", "email": "x"}),
                ),
                "create_consent" => {
                    Some(json!({"kind": "terms", "version": "9.99", "given_by": "x"}))
                }
                "create_person" => Some(
                    json!({"facility_code": fac, "name_kanji": "x", "name_kana": "エ", "name_romaji": "x", "date_of_birth": "1990-01-01", "profession": "nurse", "work_email": "x@example.jp"}),
                ),
                "create_application" => Some(
                    json!({"facility_code": fac, "holder_id": holder, "kind": "new", "validity_years": 3}),
                ),
                "return_application" => Some(json!({"deficiencies": []})),
                "reject_application" => Some(json!({"reason": "x"})),
                "fulfil_application" => Some(json!({"csr_pem": "x"})),
                "ship_card" => Some(json!({"method": "簡易書留"})),
                "confirm_card_receipt" => Some(json!({"token_serial": "NOSUCHTOKEN"})),
                "record_card_receipt" => Some(json!({"channel": "phone", "note": "x"})),
                "record_card_handover" => Some(json!({"handed_to": "x"})),
                "record_card_lost_in_post" => Some(json!({"note": "x"})),
                // An invalid reason: the rights are tried without revoking anything.
                "emergency_revocation" => Some(json!({"reason": "bored"})),
                "create_revocation_proposal" => Some(json!({"ground": "bored", "note": "x"})),
                "approve_proposal" | "reject_proposal" => {
                    Some(json!({"content_sha256": "00", "reason": "x"}))
                }
                "station_so_pin" => Some(json!({"token_serial": "ABC123"})),
                "station_issue_certificate" => Some(
                    json!({"csr_pem": "x", "key": {"alg": "rsa2048", "local": true, "never_extractable": true, "sensitive": true}}),
                ),
                "station_record_card" => Some(
                    json!({"card_id": "C0", "serial_hex": "00", "token_serial": "x", "revocation_code": "x", "summary": "x", "mailer_file": "x", "mailer_sha256": "x"}),
                ),
                "station_abort_certificate" => Some(json!({"reason": "x"})),
                "enrol_doctor" => Some(json!({"facility_code": fac, "certificate": "x"})),
                "end_doctor_binding" => Some(json!({"ended_on": "x", "reason": "x"})),
                "refuse_doctor_binding" | "withdraw_doctor_binding" => Some(json!({"reason": ""})),
                _ => None,
            }
        };
        let m = if *method == "get" {
            Method::GET
        } else {
            Method::POST
        };
        let wr = &w;
        let run = |who: Option<&'static str>, col: usize| {
            let own = col != 4;
            let uri = fill(own);
            let b = match col {
                4 => body(&w.fac_b, "H99999999"),
                // The facility itself where the body names no other id.
                6 if op == "create_person" || op == "enrol_doctor" => body(&w.fac_b, &w.nurse_b),
                6 => body(&w.fac_a, &w.nurse_b),
                _ => body(&w.fac_a, "H99999999"),
            };
            let m = m.clone();
            async move {
                if let (true, Some(who)) = (op == "upload_document", who) {
                    wr.raw(who, m, &uri, "application/pdf", b"%PDF-1.4 m".to_vec())
                        .await
                } else {
                    wr.call(who, m, &uri, b).await
                }
            }
        };
        let callers: [(&'static str, usize); 7] = [
            ("operator", 0),
            ("supervisor", 1),
            ("auditor", 2),
            ("desk_a", 3),
            ("desk_a", 4),
            ("station", 5),
            ("desk_a", 6),
        ];
        let columns = [
            "operator",
            "supervisor",
            "auditor",
            "desk own",
            "desk other",
            "station",
            "desk other in body",
        ];
        for (who, col) in callers {
            let want = row.1[col];
            if want == 0 {
                continue;
            }
            let sent = format!(
                "{} {:?}",
                fill(col != 4),
                match col {
                    4 => body(&w.fac_b, "H99999999"),
                    // The facility itself where the body names no other id.
                    6 if op == "create_person" || op == "enrol_doctor" =>
                        body(&w.fac_b, &w.nurse_b),
                    6 => body(&w.fac_a, &w.nurse_b),
                    _ => body(&w.fac_a, "H99999999"),
                }
            );
            let (st, v) = run(Some(who), col).await;
            let ctx = format!("{} {method} {path}", columns[col]);
            if st.as_u16() != want {
                wrong.push(format!("{ctx}: expected {want}, got {} {v}", st.as_u16()));
            }
            if st.is_client_error() {
                assert!(!msg(&v).is_empty(), "{ctx}: a refusal says why: {v}");
                assert!(
                    v["code"].as_str().is_some_and(|c| c.starts_with("E_")),
                    "{ctx}: {v}"
                );
            }
            // No answer to a desk of facility A carries facility B's data.
            if who == "desk_a" {
                let text = v.to_string();
                for marker in ["Suizenji", "水前寺", w.nurse_b.as_str(), w.fac_b.as_str()] {
                    // An id the desk itself sent may be echoed in the refusal.
                    assert!(
                        !text.contains(marker) || sent.contains(marker),
                        "{ctx}: leaked {marker}: {v}"
                    );
                }
            }
        }
        for (who, name) in [
            (None, "no certificate"),
            (Some("revoked"), "revoked certificate"),
        ] {
            let (st, v) = run(who, 0).await;
            assert_eq!(st, StatusCode::UNAUTHORIZED, "{name} {method} {path}: {v}");
            assert_eq!(
                v["code"], "E_UNAUTHENTICATED",
                "{name} {method} {path}: {v}"
            );
        }
    }
    assert!(
        wrong.is_empty(),
        "{} cells differ:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}

/// The delivery of a card over the API (第7・8条): the operator ships it, the desk of its
/// facility confirms receipt by the serial on the card (another facility's desk cannot
/// even see it), the PIN mailer becomes ready to send, and the desk records the handover
/// to the holder herself.
#[tokio::test]
async fn art8_desk_confirms_receipt_by_card_serial_and_records_handover() {
    let w = sqlite_world().await;
    let (card, _serial) = w.personalized_card(&w.nurse_a, "0123456789ABCDEF").await;
    let (st, v) = w
        .call(
            Some("desk_a"),
            Method::POST,
            "/api/v1/cards/receipt",
            Some(json!({"token_serial": "0123456789ABCDEF"})),
        )
        .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "not shipped yet: {v}");
    let (st, v) = w
        .call(
            Some("operator"),
            Method::POST,
            &format!("/api/v1/cards/{card}/ship"),
            Some(json!({"method": "  "})),
        )
        .await;
    assert_eq!(st, StatusCode::BAD_REQUEST, "{v}");
    assert!(msg(&v).contains("発送方法"), "{v}");
    let (st, v) = w
        .call(
            Some("operator"),
            Method::POST,
            &format!("/api/v1/cards/{card}/ship"),
            Some(json!({"method": "簡易書留", "tracking_number": "1234"})),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!(v["card"]["state"], "shipped");
    assert_eq!(v["pin_mailers"][0]["state"], "held");
    let (st, v) = w
        .call(
            Some("desk_b"),
            Method::POST,
            "/api/v1/cards/receipt",
            Some(json!({"token_serial": "0123456789ABCDEF"})),
        )
        .await;
    assert_eq!(st, StatusCode::NOT_FOUND, "{v}");
    assert!(
        !v.to_string().contains(&card),
        "another facility learns nothing: {v}"
    );
    let (st, v) = w
        .call(
            Some("desk_a"),
            Method::POST,
            "/api/v1/cards/receipt",
            Some(json!({"token_serial": "0123456789ABCDEF"})),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!(v["card"]["state"], "received");
    assert_eq!(v["delivery"]["receipt_channel"], "desk");
    assert_eq!(v["pin_mailers"][0]["state"], "released");
    let (st, v) = w
        .call(
            Some("operator"),
            Method::GET,
            "/api/v1/pin-mailers?state=released",
            None,
        )
        .await;
    assert_eq!(st, StatusCode::OK);
    let mailer = v[0]["id"].as_str().unwrap().to_string();
    let (st, v) = w
        .call(
            Some("operator"),
            Method::POST,
            &format!("/api/v1/pin-mailers/{mailer}/dispatched"),
            None,
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!(v["state"], "dispatched");
    let (st, v) = w
        .call(
            Some("desk_a"),
            Method::POST,
            &format!("/api/v1/cards/{card}/handover"),
            Some(json!({"handed_to": "誰か 別人"})),
        )
        .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert!(msg(&v).contains("一致しません"), "{v}");
    let (st, v) = w
        .call(
            Some("desk_a"),
            Method::POST,
            &format!("/api/v1/cards/{card}/handover"),
            Some(json!({"handed_to": "x", "handed_over_at": "yesterday"})),
        )
        .await;
    assert_eq!(st, StatusCode::BAD_REQUEST, "{v}");
    let (_, person) = w
        .call(
            Some("desk_a"),
            Method::GET,
            &format!("/api/v1/persons/{}", w.nurse_a),
            None,
        )
        .await;
    let name = person["name_kanji"].as_str().unwrap().to_string();
    let (st, v) = w
        .call(
            Some("desk_a"),
            Method::POST,
            &format!("/api/v1/cards/{card}/handover"),
            Some(json!({"handed_to": name})),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!(v["card"]["state"], "handed_over");
    assert_eq!(v["delivery"]["handed_over_to"], name.as_str());
    let (st, v) = w
        .call(
            Some("desk_a"),
            Method::GET,
            &format!("/api/v1/cards/{card}/delivery"),
            None,
        )
        .await;
    assert_eq!(st, StatusCode::OK);
    assert!(
        v["delivery"]["shipped_at"].is_string() && v["delivery"]["received_at"].is_string(),
        "{v}"
    );
}

/// A suspended card's certificate is on certificateHold (in the next CRL, and refused at
/// login), and lifting the suspension releases it; a revoked certificate never comes back.
#[tokio::test]
async fn suspended_card_is_on_hold_until_resumed() {
    let w = sqlite_world().await;
    let (_, card, serial) = w.issued_card(&w.nurse_a).await;
    let admin = crate::api_fixture::admin();
    let e = kmn_app::ra::delivery::suspend_or_resume(&w.app, &admin, &card, true, " ")
        .await
        .unwrap_err();
    assert!(e.to_string().contains("理由"), "{e}");
    let v = kmn_app::ra::delivery::suspend_or_resume(&w.app, &admin, &card, true, "所属先の調査中")
        .await
        .unwrap();
    assert_eq!(v.card.state, "suspended");
    assert_eq!(v.certificate_status.as_deref(), Some("on_hold"));
    let mut tx = w.app.store_for_tests().read().await.unwrap();
    let ca = tx
        .active_ca(kmn_store::CaKind::Issuing)
        .await
        .unwrap()
        .unwrap();
    let entries = tx.crl_entries(&ca.name, 0).await.unwrap();
    assert!(
        entries
            .iter()
            .any(|e| hex::encode(e.serial()) == serial.trim_start_matches("00") && e.reason == 6),
        "certificateHold in the next CRL"
    );
    assert!(
        tx.unpublished_status_changes(&ca.name).await.unwrap() > 0,
        "a CRL is due at once"
    );
    tx.rollback().await.unwrap();
    let v = kmn_app::ra::delivery::suspend_or_resume(&w.app, &admin, &card, false, "調査終了")
        .await
        .unwrap();
    assert_eq!(v.card.state, "active");
    assert_eq!(v.certificate_status.as_deref(), Some("valid"));
    // Resuming an active card is refused.
    assert!(
        kmn_app::ra::delivery::suspend_or_resume(&w.app, &admin, &card, false, "x")
            .await
            .is_err()
    );
}

/// Sends a request with any headers and body; returns status, headers and raw body.
async fn send_raw(
    w: &World,
    who: Option<&str>,
    method: Method,
    uri: &str,
    headers: &[(&str, &str)],
    body: Vec<u8>,
) -> (StatusCode, axum::http::HeaderMap, Vec<u8>) {
    use tower::ServiceExt;
    let mut b = axum::http::Request::builder().method(method).uri(uri);
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    let mut req = b.body(axum::body::Body::from(body)).unwrap();
    if let Some(who) = who {
        req.extensions_mut()
            .insert(kmn_web::api::auth::PeerCert(w.certs[who].clone()));
    }
    let resp = w.router.clone().oneshot(req).await.unwrap();
    let st = resp.status();
    let h = resp.headers().clone();
    let bytes = axum::body::to_bytes(resp.into_body(), 64 << 20)
        .await
        .unwrap()
        .to_vec();
    (st, h, bytes)
}

/// An active card of the nurse at facility B (drafted by desk B, approved, fulfilled).
async fn issued_card_b(w: &World) -> String {
    let id = w.approved_new("desk_b", &w.nurse_b, 3).await;
    let (st, v) = w
        .call(
            Some("operator"),
            Method::POST,
            &format!("/api/v1/applications/{id}/fulfil"),
            Some(json!({"csr_pem": csr_pem()})),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    v["card"]["id"].as_str().unwrap().to_string()
}

/// The same refusal for two ids, once each id is masked.
fn same_answer(a: &(StatusCode, Value), a_id: &str, b: &(StatusCode, Value), b_id: &str) {
    assert_eq!(a.0, b.0, "{} vs {}", a.1, b.1);
    assert_eq!(
        a.1.to_string().replace(a_id, "<id>"),
        b.1.to_string().replace(b_id, "<id>"),
        "absent and foreign answer alike"
    );
}

/// Item 5: rights first, then existence — a desk learns nothing about other facilities'
/// people and cards, and sees only its own facility's affiliation of a person.
#[tokio::test]
async fn issue8_rights_before_existence_for_persons_and_handover() {
    let w = sqlite_world().await;
    let get = |who: &'static str, id: String| {
        let w = &w;
        async move {
            w.call(
                Some(who),
                Method::GET,
                &format!("/api/v1/persons/{id}"),
                None,
            )
            .await
        }
    };
    let foreign = get("desk_a", w.nurse_b.clone()).await;
    let absent = get("desk_a", "H99999999".into()).await;
    assert_eq!(foreign.0, StatusCode::NOT_FOUND, "{}", foreign.1);
    assert_eq!(foreign.1["code"], "E_NOT_FOUND");
    same_answer(&foreign, &w.nurse_b, &absent, "H99999999");
    // A station is refused whatever it names.
    for id in [w.nurse_a.clone(), "H99999999".into()] {
        let (st, v) = get("station", id).await;
        assert_eq!(
            (st, v["code"].as_str()),
            (StatusCode::FORBIDDEN, Some("E_FORBIDDEN"))
        );
    }
    // A person at both facilities: desk A sees the person and only A's affiliation.
    {
        let mut tx = w.app.store_for_tests().begin().await.unwrap();
        tx.insert_affiliation(&kmn_store::AffiliationRow {
            holder_id: w.nurse_a.clone(),
            facility_code: w.fac_b.clone(),
            permitted: 1,
            is_desk: 0,
            since: 0,
        })
        .await
        .unwrap();
        tx.commit().await.unwrap();
    }
    let (st, v) = get("desk_a", w.nurse_a.clone()).await;
    assert_eq!(st, StatusCode::OK, "{v}");
    let affs: Vec<&str> = v["affiliations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["facility_code"].as_str().unwrap())
        .collect();
    assert_eq!(affs, vec![w.fac_a.as_str()]);
    assert!(!v.to_string().contains(&w.fac_b), "{v}");
    let (_, v) = get("operator", w.nurse_a.clone()).await;
    assert_eq!(v["affiliations"].as_array().unwrap().len(), 2, "{v}");

    // The handover of a card of another facility: as for an absent card, even with an
    // empty name (existence before validation).
    let card_b = issued_card_b(&w).await;
    let before = w.counts().await;
    let handover = |who: &'static str, card: String, to: &'static str| {
        let w = &w;
        async move {
            w.call(
                Some(who),
                Method::POST,
                &format!("/api/v1/cards/{card}/handover"),
                Some(json!({ "handed_to": to })),
            )
            .await
        }
    };
    let foreign = handover("desk_a", card_b.clone(), "佐藤 次郎").await;
    let absent = handover("desk_a", "C99999999".into(), "佐藤 次郎").await;
    assert_eq!(foreign.0, StatusCode::NOT_FOUND, "{}", foreign.1);
    same_answer(&foreign, &card_b, &absent, "C99999999");
    let (st, _) = handover("desk_a", card_b.clone(), "").await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    for who in ["station", "auditor"] {
        let (st, v) = handover(who, "C99999999".into(), "").await;
        assert_eq!(st, StatusCode::FORBIDDEN, "{who}: {v}");
    }
    assert_eq!(w.counts().await, before, "refusals write nothing");
}

/// Item 10: a holder or card of another facility named in the body answers exactly like
/// one that does not exist (E_VALIDATION on that field); a role without the right is
/// refused before its input is looked at.
#[tokio::test]
async fn issue8_foreign_and_absent_ids_in_the_body_answer_alike() {
    let w = sqlite_world().await;
    let create = |who: &'static str, body: Value| {
        let w = &w;
        async move {
            w.call(Some(who), Method::POST, "/api/v1/applications", Some(body))
                .await
        }
    };
    let app_for = |holder: &str| json!({"facility_code": w.fac_a, "holder_id": holder, "kind": "new", "validity_years": 3});
    let foreign = create("desk_a", app_for(&w.nurse_b)).await;
    let absent = create("desk_a", app_for("H99999999")).await;
    assert_eq!(foreign.0, StatusCode::UNPROCESSABLE_ENTITY, "{}", foreign.1);
    assert_eq!(foreign.1["code"], "E_VALIDATION");
    assert_eq!(field_errors(&foreign.1), vec!["holder_id"]);
    same_answer(&foreign, &w.nurse_b, &absent, "H99999999");

    let card_b = issued_card_b(&w).await;
    let renew = |card: &str| json!({"facility_code": w.fac_a, "holder_id": w.nurse_a, "kind": "renewal", "validity_years": 3, "target_card_id": card});
    let foreign = create("desk_a", renew(&card_b)).await;
    let absent = create("desk_a", renew("C99999999")).await;
    assert_eq!(foreign.1["code"], "E_VALIDATION", "{}", foreign.1);
    assert_eq!(field_errors(&foreign.1), vec!["target_card_id"]);
    same_answer(&foreign, &card_b, &absent, "C99999999");

    // Rights first: an auditor, a station, and a desk naming another facility are
    // refused (403) even when the rest of the body is wrong.
    let bad = json!({"facility_code": w.fac_b, "holder_id": "H99999999", "kind": "nonsense", "validity_years": 7});
    for who in ["auditor", "station", "desk_a"] {
        let (st, v) = create(who, bad.clone()).await;
        assert_eq!(
            (st, v["code"].as_str()),
            (StatusCode::FORBIDDEN, Some("E_FORBIDDEN")),
            "{who}: {v}"
        );
    }
    // A desk returning an application with bad deficiencies: 403, not 422.
    let (_, a) = w.draft_new(&w.nurse_a, 3).await;
    let id = a["id"].as_str().unwrap();
    let (st, v) = w
        .call(
            Some("desk_a"),
            Method::POST,
            &format!("/api/v1/applications/{id}/return"),
            Some(json!({"deficiencies": [{"field": "", "problem": "", "action": ""}]})),
        )
        .await;
    assert_eq!(st, StatusCode::FORBIDDEN, "{v}");
}

/// Item 10: separation of duties — whoever drafted or filed an application cannot
/// approve it; someone else can.
#[tokio::test]
async fn issue8_the_creator_or_submitter_cannot_approve() {
    let w = sqlite_world().await;
    let post = |who: &'static str, id: String, act: &'static str| {
        let w = &w;
        async move {
            w.call(
                Some(who),
                Method::POST,
                &format!("/api/v1/applications/{id}/{act}"),
                None,
            )
            .await
        }
    };
    // (drafted by, filed by): the operator is the creator, then the submitter.
    let cases = [
        ("operator", "desk_b", w.fac_b.clone(), w.nurse_b.clone()),
        ("desk_a", "operator", w.fac_a.clone(), w.nurse_a.clone()),
    ];
    for (creator, submitter, fac, holder) in cases {
        let (st, a) = w.call(Some(creator), Method::POST, "/api/v1/applications", Some(json!({"facility_code": fac, "holder_id": holder, "kind": "new", "validity_years": 3}))).await;
        assert_eq!(st, StatusCode::CREATED, "{a}");
        let id = a["id"].as_str().unwrap().to_string();
        let (st, v) = post(submitter, id.clone(), "submit").await;
        assert_eq!(st, StatusCode::OK, "{v}");
        let before = w.counts().await;
        let (st, v) = post("operator", id.clone(), "approve").await;
        assert_eq!(st, StatusCode::FORBIDDEN, "{creator}/{submitter}: {v}");
        assert_eq!(v["code"], "E_SELF_APPROVAL");
        assert!(msg(&v).contains("承認できません"), "{v}");
        assert_eq!(w.counts().await, before, "the refusal wrote nothing");
        let (st, v) = post("supervisor", id.clone(), "approve").await;
        assert_eq!(st, StatusCode::OK, "{v}");
        assert_eq!(v["state"], "approved");
    }
}

/// Item 10: a certificate from a bare CSR only with `demo = true`; otherwise a clear
/// refusal and nothing issued.
#[tokio::test]
async fn issue8_fulfil_from_a_bare_csr_only_in_demo_mode() {
    use tower::ServiceExt;
    let w = sqlite_world().await;
    let (st, a) = w.draft_new(&w.nurse_a, 3).await;
    assert_eq!(st, StatusCode::CREATED);
    let id = a["id"].as_str().unwrap().to_string();
    for (who, act) in [("desk_a", "submit"), ("operator", "approve")] {
        let (st, v) = w
            .call(
                Some(who),
                Method::POST,
                &format!("/api/v1/applications/{id}/{act}"),
                None,
            )
            .await;
        assert_eq!(st, StatusCode::OK, "{v}");
    }
    let mut prod = w.app.clone();
    prod.cfg.demo = false;
    let (router, _) = kmn_web::api::router(prod);
    let mut req = axum::http::Request::builder()
        .method(Method::POST)
        .uri(format!("/api/v1/applications/{id}/fulfil"))
        .header("content-type", "application/json")
        .body(axum::body::Body::from(
            json!({"csr_pem": csr_pem()}).to_string(),
        ))
        .unwrap();
    req.extensions_mut()
        .insert(kmn_web::api::auth::PeerCert(w.certs["supervisor"].clone()));
    let before = w.counts().await;
    let resp = router.oneshot(req).await.unwrap();
    let st = resp.status();
    let v: Value = serde_json::from_slice(
        &axum::body::to_bytes(resp.into_body(), 1 << 20)
            .await
            .unwrap(),
    )
    .unwrap();
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(v["code"], "E_RULE");
    assert!(msg(&v).contains("デモモード"), "{v}");
    assert_eq!(w.counts().await, before, "no card, nothing written");
}

/// Item 10: a cross-site HTML form cannot post: uploads take `application/pdf` only and
/// JSON routes `application/json` only — every media type a form can send is refused
/// with 415 and the documented error body, and nothing is written.
#[tokio::test]
async fn issue8_form_media_types_are_refused() {
    let w = sqlite_world().await;
    let (_, a) = w.draft_new(&w.nurse_a, 3).await;
    let id = a["id"].as_str().unwrap().to_string();
    let before = w.counts().await;
    for ct in [
        "text/plain",
        "text/html",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "application/octet-stream",
    ] {
        let (st, h, b) = send_raw(
            &w,
            Some("desk_a"),
            Method::POST,
            &format!("/api/v1/applications/{id}/documents?file_name=a.pdf"),
            &[("content-type", ct), ("origin", "https://evil.example")],
            b"%PDF-1.4 x".to_vec(),
        )
        .await;
        assert_eq!(st, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{ct}");
        assert!(
            h["content-type"]
                .to_str()
                .unwrap()
                .starts_with("application/json")
        );
        let v: Value = serde_json::from_slice(&b).unwrap();
        assert_eq!(v["code"], "E_MEDIA_TYPE", "{ct}: {v}");
        assert!(msg(&v).contains("application/pdf"), "{v}");
        // JSON routes, with a body that is valid JSON.
        let body = json!({"facility_code": w.fac_a, "holder_id": w.nurse_a, "kind": "new", "validity_years": 3});
        for uri in [
            "/api/v1/applications".to_string(),
            format!("/api/v1/applications/{id}/submit"),
            format!("/api/v1/applications/{id}/withdraw"),
        ] {
            let (st, _, b) = send_raw(
                &w,
                Some("desk_a"),
                Method::POST,
                &uri,
                &[("content-type", ct), ("origin", "https://evil.example")],
                body.to_string().into_bytes(),
            )
            .await;
            assert_eq!(st, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{ct} {uri}");
            let v: Value = serde_json::from_slice(&b).unwrap();
            assert_eq!(v["code"], "E_MEDIA_TYPE", "{ct} {uri}: {v}");
        }
    }
    assert_eq!(w.counts().await, before, "nothing written");
    // The right media type still works.
    let (st, v) = w
        .raw(
            "desk_a",
            Method::POST,
            &format!("/api/v1/applications/{id}/documents?file_name=a.pdf"),
            "application/pdf",
            b"%PDF-1.4 x".to_vec(),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{v}");
}

/// Item 10: documents are downloads (`Content-Disposition: attachment`, `nosniff`);
/// every HTTPS response carries HSTS; a name with markup is refused.
#[tokio::test]
async fn issue8_documents_are_attachments_hsts_and_no_markup_in_names() {
    use tower::ServiceExt;
    let w = sqlite_world().await;
    let (_, a) = w.draft_new(&w.nurse_a, 3).await;
    let id = a["id"].as_str().unwrap().to_string();
    let (_, d) = w
        .raw(
            "desk_a",
            Method::POST,
            &format!("/api/v1/applications/{id}/documents?file_name=%3Cb%3E.pdf"),
            "application/pdf",
            b"%PDF-1.4 x".to_vec(),
        )
        .await;
    let doc = d["id"].as_str().unwrap().to_string();
    let (st, h, body) = send_raw(
        &w,
        Some("desk_a"),
        Method::GET,
        &format!("/api/v1/documents/{doc}"),
        &[],
        vec![],
    )
    .await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(body, b"%PDF-1.4 x");
    assert_eq!(h["content-type"], "application/pdf");
    assert_eq!(
        h["content-disposition"],
        format!("attachment; filename=\"{doc}.pdf\"").as_str()
    );
    assert_eq!(h["x-content-type-options"], "nosniff");

    // HSTS on the HTTPS listener's router, for the API and the repository alike.
    let https = kmn_web::https_router(w.app.clone());
    for uri in [
        "/api/v1/openapi.json",
        "/repo/nothing.crl",
        "/api/v1/nothing",
    ] {
        let resp = https
            .clone()
            .oneshot(
                axum::http::Request::builder()
                    .uri(uri)
                    .body(axum::body::Body::empty())
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(
            resp.headers()["strict-transport-security"],
            "max-age=31536000; includeSubDomains",
            "{uri}"
        );
    }

    let before = w.counts().await;
    let (st, v) = w.call(Some("desk_a"), Method::POST, "/api/v1/persons", Some(json!({"facility_code": w.fac_a, "name_kanji": "<script>alert(1)</script>", "name_kana": "ヤマダ タロウ", "name_romaji": "Taro Yamada", "date_of_birth": "1990-01-01", "profession": "nurse", "work_email": "taro@example.jp"}))).await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(field_errors(&v), vec!["name_kanji"]);
    assert!(
        v["fields"][0]["message"]
            .as_str()
            .unwrap()
            .contains("使用できません"),
        "{v}"
    );
    assert_eq!(w.counts().await, before);
}

/// Item 10: every error comes in the documented body, in Japanese, without Rust type
/// names: a body too large, JSON of the wrong shape or type, unknown routes and methods,
/// a query that does not parse.
#[tokio::test]
async fn issue8_every_error_is_in_the_documented_body() {
    let w = sqlite_world().await;
    let (_, a) = w.draft_new(&w.nurse_a, 3).await;
    let id = a["id"].as_str().unwrap().to_string();
    let check =
        |st: StatusCode, h: &axum::http::HeaderMap, b: &[u8], want: StatusCode, code: &str| {
            assert_eq!(st, want, "{}", String::from_utf8_lossy(b));
            assert!(
                h["content-type"]
                    .to_str()
                    .unwrap()
                    .starts_with("application/json"),
                "{want}: {:?}",
                h["content-type"]
            );
            let v: Value = serde_json::from_slice(b).unwrap();
            assert_eq!(v["code"], code, "{v}");
            let m = msg(&v);
            assert!(!m.is_empty() && !m.is_ascii(), "Japanese: {v}");
            for rust in ["ApplicationIn", "struct", "i64", "serde", "Failed to"] {
                assert!(!v.to_string().contains(rust), "{rust} in {v}");
            }
            v
        };
    // 413
    let (st, h, b) = send_raw(
        &w,
        Some("desk_a"),
        Method::POST,
        &format!("/api/v1/applications/{id}/documents?file_name=a.pdf"),
        &[("content-type", "application/pdf")],
        vec![b'%'; 13 * 1024 * 1024],
    )
    .await;
    check(st, &h, &b, StatusCode::PAYLOAD_TOO_LARGE, "E_TOO_LARGE");
    // JSON of the wrong shape and type.
    for (body, want, code) in [
        ("\"x\"", StatusCode::BAD_REQUEST, "E_BAD_INPUT"),
        ("[1]", StatusCode::BAD_REQUEST, "E_BAD_INPUT"),
        ("{", StatusCode::BAD_REQUEST, "E_BAD_INPUT"),
        (
            r#"{"facility_code": "x", "holder_id": "y", "kind": "new", "validity_years": "three"}"#,
            StatusCode::UNPROCESSABLE_ENTITY,
            "E_VALIDATION",
        ),
    ] {
        let (st, h, b) = send_raw(
            &w,
            Some("desk_a"),
            Method::POST,
            "/api/v1/applications",
            &[("content-type", "application/json")],
            body.as_bytes().to_vec(),
        )
        .await;
        let v = check(st, &h, &b, want, code);
        if code == "E_VALIDATION" {
            assert_eq!(field_errors(&v), vec!["validity_years"]);
        }
    }
    // Unknown route, wrong method, a query that does not parse.
    let (st, h, b) = send_raw(
        &w,
        Some("desk_a"),
        Method::GET,
        "/api/v1/nothing",
        &[],
        vec![],
    )
    .await;
    check(st, &h, &b, StatusCode::NOT_FOUND, "E_NOT_FOUND");
    let (st, h, b) = send_raw(
        &w,
        Some("desk_a"),
        Method::DELETE,
        "/api/v1/applications",
        &[],
        vec![],
    )
    .await;
    check(
        st,
        &h,
        &b,
        StatusCode::METHOD_NOT_ALLOWED,
        "E_METHOD_NOT_ALLOWED",
    );
    let (st, h, b) = send_raw(
        &w,
        Some("desk_a"),
        Method::GET,
        "/api/v1/applications?limit=many",
        &[],
        vec![],
    )
    .await;
    check(st, &h, &b, StatusCode::BAD_REQUEST, "E_BAD_INPUT");
}

/// Item 6: concurrent requests with one `Idempotency-Key` commit once; every one of
/// them is answered with the first response.
async fn concurrent_idempotent_requests(w: &World) {
    let before = w.counts().await;
    let body = json!({"facility_code": w.fac_a, "name_kanji": "並行 太郎", "name_kana": "ヘイコウ タロウ", "name_romaji": "Taro Heiko", "date_of_birth": "1990-01-01", "profession": "nurse", "work_email": "heiko@example.jp"});
    let h = [("idempotency-key", "same-key-1")];
    let call = || {
        w.call_with(
            Some("desk_a"),
            Method::POST,
            "/api/v1/persons",
            Some(body.clone()),
            &h,
        )
    };
    let (r1, r2, r3, r4) = tokio::join!(call(), call(), call(), call());
    for r in [&r2, &r3, &r4] {
        assert_eq!(r1.0, StatusCode::CREATED, "{}", r1.1);
        assert_eq!(
            (r.0, &r.1),
            (r1.0, &r1.1),
            "every duplicate gets the first response"
        );
    }
    let after = w.counts().await;
    // persons, affiliations, audit events and idempotency keys: one each.
    assert_eq!(after[1], before[1] + 1, "one person");
    assert_eq!(after[2], before[2] + 1, "one affiliation");
    assert_eq!(after[11], before[11] + 1, "one key");
    // Applications too (a counter and a UNIQUE-free table).
    let body = json!({"facility_code": w.fac_a, "holder_id": w.nurse_a, "kind": "new", "validity_years": 3});
    let h = [("idempotency-key", "same-key-2")];
    let call = || {
        w.call_with(
            Some("desk_a"),
            Method::POST,
            "/api/v1/applications",
            Some(body.clone()),
            &h,
        )
    };
    let before = w.counts().await;
    let (r1, r2, r3) = tokio::join!(call(), call(), call());
    assert_eq!(r1.0, StatusCode::CREATED, "{}", r1.1);
    assert_eq!((r2.0, &r2.1), (r1.0, &r1.1));
    assert_eq!((r3.0, &r3.1), (r1.0, &r1.1));
    let after = w.counts().await;
    assert_eq!(after[3], before[3] + 1, "one application");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn issue8_idempotency_key_concurrent_duplicates_commit_once_sqlite() {
    concurrent_idempotent_requests(&sqlite_world().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn issue8_idempotency_key_concurrent_duplicates_commit_once_postgres() {
    if let Some(url) = pg_url("ra_idem").await {
        concurrent_idempotent_requests(&World::new(&url).await).await;
    }
}

/// Issue 9 item 4 (first step): the public repository never takes SQLite's write lock.
/// While a writer holds it (a long CRL publication, say), `/repo/cps` still answers at
/// once, instead of queueing behind the lock for the 30 s busy timeout and, in a flood,
/// starving the CRL publisher.
#[tokio::test]
async fn art16_public_repository_reads_do_not_wait_for_the_write_lock() {
    use tower::ServiceExt;
    let w = sqlite_world().await;
    let writer = w.app.store_for_tests().begin().await.unwrap();
    let req = axum::http::Request::get("/repo/cps")
        .body(axum::body::Body::empty())
        .unwrap();
    let r = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        kmn_web::http_router(w.app.clone(), None).oneshot(req),
    )
    .await
    .expect("/repo/cps waited for the write lock")
    .unwrap();
    assert!(
        r.status() == StatusCode::OK || r.status() == StatusCode::NOT_FOUND,
        "{}",
        r.status()
    );
    writer.rollback().await.unwrap();
}

/// Issue 9 item 6: the reads the access log missed — a card, the cards list, a card's
/// delivery view, the notices, PIN mailers and the station's application view — are
/// logged, sealed into the audit chain in a batch, and a sealed read deleted later is
/// detected.
async fn personal_data_reads_logged_and_sealed(w: &World) {
    let id = w.approved_new("desk_a", &w.nurse_a, 5).await;
    let (st, v) = w
        .call(
            Some("station"),
            Method::GET,
            &format!("/api/v1/station/applications/{id}"),
            None,
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    let (st, v) = w
        .call(
            Some("operator"),
            Method::POST,
            &format!("/api/v1/applications/{id}/fulfil"),
            Some(json!({"csr_pem": csr_pem()})),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    let card = v["card"]["id"].as_str().unwrap().to_string();
    for (who, uri) in [
        ("desk_a", format!("/api/v1/cards/{card}")),
        ("desk_a", format!("/api/v1/cards?holder={}", w.nurse_a)),
        ("auditor", format!("/api/v1/cards/{card}/delivery")),
        ("desk_a", "/api/v1/notices".to_string()),
        ("operator", "/api/v1/pin-mailers".to_string()),
    ] {
        let (st, v) = w.call(Some(who), Method::GET, &uri, None).await;
        assert_eq!(st, StatusCode::OK, "{uri}: {v}");
    }
    let mut tx = w.app.store_for_tests().read().await.unwrap();
    let mut roles = Vec::new();
    for object in [
        format!("application:{id}/station"),
        format!("card:{card}"),
        format!("person:{}/cards", w.nurse_a),
        format!("card:{card}/delivery"),
        "notices".to_string(),
        "pin_mailers".to_string(),
    ] {
        let log = tx.access_log_for(&object).await.unwrap();
        assert_eq!(log.len(), 1, "{object}: {log:?}");
        roles.push(log[0].2.clone());
    }
    tx.rollback().await.unwrap();
    assert_eq!(
        roles,
        [
            "station",
            "facility_desk",
            "facility_desk",
            "auditor",
            "facility_desk",
            "operator"
        ]
    );

    // Sealed into the chain in one batch, and checked.
    let sealed = kmn_app::audit::seal_access_log(&w.app, "test")
        .await
        .unwrap();
    assert!(sealed >= 6, "{sealed}");
    assert_eq!(
        kmn_app::audit::seal_access_log(&w.app, "test")
            .await
            .unwrap(),
        0
    );
    let mut tx = w.app.store_for_tests().read().await.unwrap();
    let seals = tx.audit_events(Some(kmn_store::SEAL_ACTION)).await.unwrap();
    tx.rollback().await.unwrap();
    assert_eq!(seals.len(), 1, "{seals:?}");
    assert!(
        seals[0]
            .summary
            .contains(&format!("{sealed} reads of personal data sealed"))
    );
    let r = kmn_app::audit::verify(&w.app).await.unwrap();
    assert!(r.problems.is_empty(), "{r:?}");
    assert!(
        r.checked.iter().any(|l| l.contains(&format!(
            "{sealed} reads of personal data sealed by 1 seals; 0 not sealed"
        ))),
        "{r:?}"
    );

    // Someone with database rights deletes a sealed read: the seal no longer matches.
    let drop = match w.app.store_for_tests().backend() {
        kmn_store::Backend::Sqlite => "DROP TRIGGER access_log_append_only_d;",
        kmn_store::Backend::Postgres => "DROP TRIGGER access_log_append_only ON access_log;",
    };
    let mut tx = w.app.store_for_tests().begin().await.unwrap();
    tx.execute_raw(drop).await.unwrap();
    tx.execute_raw(&format!(
        "DELETE FROM access_log WHERE object = 'card:{card}'"
    ))
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let r = kmn_app::audit::verify(&w.app).await.unwrap();
    assert!(
        r.problems.iter().any(|p| p.contains("was deleted")),
        "{r:?}"
    );
}

#[tokio::test]
async fn issue9_personal_data_reads_are_logged_and_sealed() {
    personal_data_reads_logged_and_sealed(&sqlite_world().await).await;
}

#[tokio::test]
async fn issue9_personal_data_reads_are_logged_and_sealed_postgres() {
    if let Some(url) = pg_url("audit_reads").await {
        personal_data_reads_logged_and_sealed(&World::new(&url).await).await;
    }
}

/// Issue 9 item 1: the right is checked before the body is parsed — a caller without
/// the right gets 403 for malformed JSON too (it used to get 400), on every route that
/// takes a JSON body; a caller with the right still gets 400.
#[tokio::test]
async fn issue9_rights_before_the_body_is_parsed() {
    let w = sqlite_world().await;
    let (_, a) = w.draft_new(&w.nurse_a, 3).await;
    let id = a["id"].as_str().unwrap().to_string();
    let routes = [
        ("/api/v1/facilities".to_string(), "auditor"),
        ("/api/v1/applications".to_string(), "auditor"),
        ("/api/v1/persons".to_string(), "station"),
        (format!("/api/v1/applications/{id}/return"), "desk_a"),
        (format!("/api/v1/applications/{id}/reject"), "auditor"),
        (format!("/api/v1/applications/{id}/fulfil"), "desk_a"),
        ("/api/v1/station/so-pin".to_string(), "operator"),
    ];
    for (uri, who) in &routes {
        let (st, v) = w
            .raw(
                who,
                Method::POST,
                uri,
                "application/json",
                b"{not json".to_vec(),
            )
            .await;
        assert_eq!(
            (st, v["code"].as_str()),
            (StatusCode::FORBIDDEN, Some("E_FORBIDDEN")),
            "{who} {uri}: {v}"
        );
    }
    // With the right, the same body is a bad request.
    let (st, _) = w
        .raw(
            "operator",
            Method::POST,
            "/api/v1/applications",
            "application/json",
            b"{not json".to_vec(),
        )
        .await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
}

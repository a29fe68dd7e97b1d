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
    let san = c.tbs.ext("2.5.29.17").expect("SAN directoryName");
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
    let mut tx = w.app.store.begin().await.unwrap();
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
        kmn_app::crl::due(&w.app, "kmn-issuing-g1").await.unwrap(),
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
    let mut tx = w.app.store.begin().await.unwrap();
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
    let mut tx = w.app.store.begin().await.unwrap();
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
    let mut tx = w.app.store.begin().await.unwrap();
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
            let mut tx = app.store.begin().await.unwrap();
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
    let mut tx = w.app.store.begin().await.unwrap();
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
    let mut tx = w.app.store.begin().await.unwrap();
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
    let mut tx = w.app.store.begin().await.unwrap();
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
    assert_eq!(
        ids(&q("/api/v1/applications?status=submitted".into()).await),
        vec![a1id.clone()]
    );
    assert_eq!(
        ids(&q(format!("/api/v1/applications?facility={}", w.fac_b)).await),
        vec![b1id.clone()]
    );
    assert_eq!(
        ids(&q("/api/v1/applications?kind=new".into()).await).len(),
        2
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
        vec![a1id.clone()]
    );
    let p1 = q("/api/v1/applications?limit=1".into()).await;
    assert_eq!(ids(&p1), vec![a1id.clone()]);
    let p2 = q(format!(
        "/api/v1/applications?limit=1&after={}",
        p1["next"].as_str().unwrap()
    ))
    .await;
    assert_eq!(ids(&p2), vec![b1id.clone()]);
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
    assert_eq!(ids(&v), vec![a1id]);
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
    assert_eq!(st, StatusCode::FORBIDDEN);
    let mut tx = w.app.store.begin().await.unwrap();
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

/// Expected outcome of a route for a role, from the caller's point of view.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Expect {
    /// 2xx, or a 4xx that is not an authorization failure (the request got past auth).
    Allowed,
    /// 403.
    Forbidden,
}

/// The authorization matrix: every route of the OpenAPI document × every role ×
/// own facility / other facility / no certificate / revoked certificate. A route without
/// an entry here fails the test, so no route is left out.
#[tokio::test]
async fn authorization_matrix_from_openapi() {
    use Expect::*;
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
    let (_, _card_a, _) = w.issued_card(&w.nurse_a).await;
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
        v["card"]["id"].as_str().unwrap().to_string()
    };
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
    // (operation id) → (center roles, auditor, desk on own facility, desk on another facility)
    let table: &[(&str, Expect, Expect, Expect, Expect)] = &[
        ("whoami", Allowed, Allowed, Allowed, Allowed),
        ("list_facilities", Allowed, Allowed, Allowed, Allowed),
        ("create_facility", Allowed, Forbidden, Forbidden, Forbidden),
        ("get_facility", Allowed, Allowed, Allowed, Forbidden),
        ("create_consent", Allowed, Forbidden, Allowed, Forbidden),
        ("list_persons", Allowed, Allowed, Allowed, Forbidden),
        ("create_person", Allowed, Forbidden, Allowed, Forbidden),
        ("get_person", Allowed, Allowed, Allowed, Forbidden),
        ("list_applications", Allowed, Allowed, Allowed, Forbidden),
        ("create_application", Allowed, Forbidden, Allowed, Forbidden),
        ("get_application", Allowed, Allowed, Allowed, Forbidden),
        ("submit_application", Allowed, Forbidden, Allowed, Forbidden),
        (
            "resubmit_application",
            Allowed,
            Forbidden,
            Allowed,
            Forbidden,
        ),
        (
            "withdraw_application",
            Allowed,
            Forbidden,
            Allowed,
            Forbidden,
        ),
        (
            "approve_application",
            Allowed,
            Forbidden,
            Forbidden,
            Forbidden,
        ),
        (
            "complete_application",
            Allowed,
            Forbidden,
            Forbidden,
            Forbidden,
        ),
        (
            "return_application",
            Allowed,
            Forbidden,
            Forbidden,
            Forbidden,
        ),
        (
            "reject_application",
            Allowed,
            Forbidden,
            Forbidden,
            Forbidden,
        ),
        (
            "fulfil_application",
            Allowed,
            Forbidden,
            Forbidden,
            Forbidden,
        ),
        ("upload_document", Allowed, Forbidden, Allowed, Forbidden),
        ("get_document", Allowed, Allowed, Allowed, Forbidden),
        ("list_cards", Allowed, Allowed, Allowed, Forbidden),
        ("get_card", Allowed, Allowed, Allowed, Forbidden),
        ("list_notices", Allowed, Allowed, Allowed, Forbidden),
        ("get_card_delivery", Allowed, Allowed, Allowed, Forbidden),
        ("ship_card", Allowed, Forbidden, Forbidden, Forbidden),
        // By the card's serial: a desk of another facility gets 404, never the card.
        ("confirm_card_receipt", Allowed, Forbidden, Allowed, Allowed),
        (
            "record_card_receipt",
            Allowed,
            Forbidden,
            Forbidden,
            Forbidden,
        ),
        (
            "record_card_handover",
            Allowed,
            Forbidden,
            Allowed,
            Forbidden,
        ),
        (
            "record_card_lost_in_post",
            Allowed,
            Forbidden,
            Forbidden,
            Forbidden,
        ),
        ("list_pin_mailers", Allowed, Forbidden, Forbidden, Forbidden),
        (
            "record_pin_mailer_dispatched",
            Allowed,
            Forbidden,
            Forbidden,
            Forbidden,
        ),
        // Station endpoints: station accounts only; center staff are not stations (issue 8).
        (
            "station_get_application",
            Forbidden,
            Forbidden,
            Forbidden,
            Forbidden,
        ),
        ("station_so_pin", Forbidden, Forbidden, Forbidden, Forbidden),
        (
            "station_issue_certificate",
            Forbidden,
            Forbidden,
            Forbidden,
            Forbidden,
        ),
        (
            "station_record_card",
            Forbidden,
            Forbidden,
            Forbidden,
            Forbidden,
        ),
        (
            "station_abort_certificate",
            Forbidden,
            Forbidden,
            Forbidden,
            Forbidden,
        ),
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
            p = if p.contains("/documents/") {
                p.replace("{id}", &doc)
            } else if p.contains("/cards/") {
                p.replace("{id}", &card)
            } else {
                p.replace("{id}", &app)
            };
            if op == "upload_document" {
                p.push_str("?file_name=m.pdf");
            }
            if op == "list_cards" || op == "list_notices" || op == "list_applications" {
                p.push_str(&format!("?facility={fac}"));
            }
            p
        };
        let body = |own: bool| -> Option<Value> {
            let fac = if own { &w.fac_a } else { &w.fac_b };
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
                    json!({"facility_code": fac, "holder_id": "H99999999", "kind": "new", "validity_years": 3}),
                ),
                "return_application" => Some(json!({"deficiencies": []})),
                "reject_application" => Some(json!({"reason": "x"})),
                "fulfil_application" => Some(json!({"csr_pem": "x"})),
                "ship_card" => Some(json!({"method": "簡易書留"})),
                "confirm_card_receipt" => Some(json!({"token_serial": "NOSUCHTOKEN"})),
                "record_card_receipt" => Some(json!({"channel": "phone", "note": "x"})),
                "record_card_handover" => Some(json!({"handed_to": "x"})),
                "record_card_lost_in_post" => Some(json!({"note": "x"})),
                "station_so_pin" => Some(json!({"token_serial": "ABC123"})),
                "station_issue_certificate" => Some(
                    json!({"csr_pem": "x", "key": {"alg": "rsa2048", "local": true, "never_extractable": true, "sensitive": true}}),
                ),
                "station_record_card" => Some(
                    json!({"card_id": "C0", "serial_hex": "00", "token_serial": "x", "revocation_code_hash": "x", "summary": "x", "mailer_file": "x", "mailer_sha256": "x"}),
                ),
                "station_abort_certificate" => Some(json!({"reason": "x"})),
                _ => None,
            }
        };
        let m = if *method == "get" {
            Method::GET
        } else {
            Method::POST
        };
        let wr = &w;
        let run = |who: Option<&'static str>, own: bool| {
            let (m, uri, b) = (m.clone(), fill(own), body(own));
            async move {
                if let (true, Some(who)) = (op == "upload_document", who) {
                    wr.raw(who, m, &uri, "application/pdf", b"%PDF-1.4 m".to_vec())
                        .await
                } else {
                    wr.call(who, m, &uri, b).await
                }
            }
        };
        let check = |got: (StatusCode, Value), want: Expect, ctx: String| {
            let (st, v) = got;
            match want {
                Allowed => assert!(
                    st != StatusCode::FORBIDDEN && st != StatusCode::UNAUTHORIZED,
                    "{ctx}: expected allowed, got {st} {v}"
                ),
                Forbidden => {
                    assert_eq!(st, StatusCode::FORBIDDEN, "{ctx}: expected 403, got {v}");
                    assert!(!msg(&v).is_empty(), "{ctx}: a denial says why");
                }
            }
            // No data of another facility is ever returned.
            if want == Forbidden {
                assert!(
                    !v.to_string().contains("Suizenji") && !v.to_string().contains("Kumamoto Chuo"),
                    "{ctx}: leaked {v}"
                );
            }
        };
        for who in ["operator", "supervisor"] {
            check(
                run(Some(who), true).await,
                row.1,
                format!("{who} {method} {path}"),
            );
        }
        check(
            run(Some("auditor"), true).await,
            row.2,
            format!("auditor {method} {path}"),
        );
        check(
            run(Some("desk_a"), true).await,
            row.3,
            format!("desk own {method} {path}"),
        );
        check(
            run(Some("desk_a"), false).await,
            row.4,
            format!("desk other {method} {path}"),
        );
        for (who, name) in [
            (None, "no certificate"),
            (Some("revoked"), "revoked certificate"),
        ] {
            let (st, v) = run(who, true).await;
            assert_eq!(st, StatusCode::UNAUTHORIZED, "{name} {method} {path}: {v}");
            assert!(!msg(&v).is_empty());
        }
    }
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
    let e = kmn_app::ra::cards::suspend_or_resume(&w.app, &admin, &card, true, " ")
        .await
        .unwrap_err();
    assert!(e.to_string().contains("理由"), "{e}");
    let v = kmn_app::ra::cards::suspend_or_resume(&w.app, &admin, &card, true, "所属先の調査中")
        .await
        .unwrap();
    assert_eq!(v.card.state, "suspended");
    assert_eq!(v.certificate_status.as_deref(), Some("on_hold"));
    let mut tx = w.app.store.read().await.unwrap();
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
    let v = kmn_app::ra::cards::suspend_or_resume(&w.app, &admin, &card, false, "調査終了")
        .await
        .unwrap();
    assert_eq!(v.card.state, "active");
    assert_eq!(v.certificate_status.as_deref(), Some("valid"));
    // Resuming an active card is refused.
    assert!(
        kmn_app::ra::cards::suspend_or_resume(&w.app, &admin, &card, false, "x")
            .await
            .is_err()
    );
}

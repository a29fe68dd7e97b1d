//! Emergency revocation (第11条, issue 10 item 2) on SQLite and PostgreSQL: the desk
//! revokes its own holder's card at once over the API (no review first), recorded with
//! its grounds, channel, arrival and invalidityDate through the one revocation path; a
//! loss report is drafted; another facility's desk, an auditor and a station are
//! refused; a telephone revocation records the call and is put to a supervisor; many
//! revocations by one account within an hour raise an alert.

use axum::http::{Method, StatusCode};
use kmn_app::AppError;
use kmn_app::ra::emergency::{self, EmergencyReport, PHONE_REVIEW_KIND, PhoneCall};
use kmn_domain::EmergencyCause;
use serde_json::json;

use crate::api_fixture::{World, admin};
use crate::support::pg_url;

async fn sqlite_world() -> World {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("ra.db").display());
    let w = World::new(&url).await;
    std::mem::forget(dir);
    w
}

async fn revocation(w: &World, serial: &str) -> kmn_store::RevocationInfo {
    let mut tx = w.app.store_for_tests().read().await.unwrap();
    let c = tx.certificate(serial).await.unwrap().unwrap();
    tx.rollback().await.unwrap();
    c.revocation.expect("revoked")
}

async fn desk_story(w: &World) {
    let (_, card, serial) = w.issued_card(&w.nurse_a).await;
    let path = format!("/api/v1/cards/{card}/emergency-revocation");
    let body = json!({"reason": "stolen", "last_known_safe": "2026-11-26T08:30:00+09:00", "note": "鞄ごと盗まれた"});
    // Rights first: an auditor, a station, the desk of another facility.
    for (who, want) in [
        ("auditor", StatusCode::FORBIDDEN),
        ("station", StatusCode::FORBIDDEN),
        ("desk_b", StatusCode::NOT_FOUND),
    ] {
        let (st, v) = w
            .call(Some(who), Method::POST, &path, Some(body.clone()))
            .await;
        assert_eq!(st, want, "{who}: {v}");
    }
    // A reason that is not one of 第11条's.
    let (st, v) = w
        .call(
            Some("desk_a"),
            Method::POST,
            &path,
            Some(json!({"reason": "bored"})),
        )
        .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(v["fields"][0]["field"], "reason", "{v}");
    // Nothing was revoked by the refusals.
    {
        let mut tx = w.app.store_for_tests().read().await.unwrap();
        let c = tx.certificate(&serial).await.unwrap().unwrap();
        tx.rollback().await.unwrap();
        assert!(c.revocation.is_none());
    }
    // The desk of the card's own facility: revoked at once, card id typed loosely.
    let loose = format!("{}-{}", &card[..3], &card[3..]).to_lowercase();
    let (st, v) = w
        .call(
            Some("desk_a"),
            Method::POST,
            &format!("/api/v1/cards/{loose}/emergency-revocation"),
            Some(body.clone()),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!(v["grounds"], "emergency:stolen", "{v}");
    assert_eq!(v["card"]["card"]["state"], "lost", "{v}");
    assert_eq!(v["card"]["certificate_status"], "revoked", "{v}");
    let draft = v["draft_application"]
        .as_str()
        .expect("a loss report drafted");
    let r = revocation(w, &serial).await;
    assert_eq!(r.reason, kmn_domain::RevocationReason::KeyCompromise);
    assert_eq!(r.article.as_deref(), Some("第11条"));
    assert_eq!(r.grounds.as_deref(), Some("emergency:stolen"));
    assert_eq!(r.channel.as_deref(), Some("desk"));
    assert_eq!(
        r.invalidity_date,
        Some(time::macros::datetime!(2026-11-25 23:30 UTC).unix_timestamp())
    );
    assert_eq!(r.request_received_at, Some(r.revoked_at));
    // The loss report waits for the desk as a draft about that card.
    let (st, a) = w
        .call(
            Some("desk_a"),
            Method::GET,
            &format!("/api/v1/applications/{draft}"),
            None,
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{a}");
    let a = &a["application"];
    assert_eq!(a["kind"], "loss_report", "{a}");
    assert_eq!(a["state"], "draft", "{a}");
    assert_eq!(a["target_card_id"], card.as_str(), "{a}");
    // Once is enough: a second report is a conflict, and says why.
    let (st, v) = w
        .call(Some("desk_a"), Method::POST, &path, Some(body))
        .await;
    assert_eq!(st, StatusCode::CONFLICT, "{v}");
    assert!(
        v["message"]
            .as_str()
            .unwrap()
            .contains("既に失効しています"),
        "{v}"
    );
}

#[tokio::test]
async fn art11_desk_emergency_revocation_is_immediate_and_drafts_the_loss_report() {
    desk_story(&sqlite_world().await).await;
}

#[tokio::test]
async fn art11_desk_emergency_revocation_is_immediate_and_drafts_the_loss_report_postgres() {
    if let Some(url) = pg_url("emergency_desk").await {
        desk_story(&World::new(&url).await).await;
    }
}

#[tokio::test]
async fn art11_phone_revocation_records_the_call_and_goes_to_a_supervisor() {
    let w = sqlite_world().await;
    let (_, card, serial) = w.issued_card(&w.nurse_a).await;
    let report = EmergencyReport {
        cause: EmergencyCause::Lost,
        last_known_safe: None,
        note: "タクシーに置き忘れ".into(),
    };
    // The call must be recorded: who called, where to call back, how identity was checked.
    let e = emergency::by_phone(
        &w.app,
        &admin(),
        &card,
        &report,
        &PhoneCall {
            caller: "本人".into(),
            callback: "".into(),
            identity_check: "".into(),
            received_at: None,
        },
    )
    .await
    .unwrap_err();
    assert!(
        matches!(&e, AppError::BadInput(m) if m.contains("本人確認の方法")),
        "{e:?}"
    );
    let received = w.app.now() - 300;
    let r = emergency::by_phone(
        &w.app,
        &admin(),
        &card,
        &report,
        &PhoneCall {
            caller: "阿蘇 花子（本人）".into(),
            callback: "090-0000-0000".into(),
            identity_check: "生年月日と勤務先施設名を確認".into(),
            received_at: Some(received),
        },
    )
    .await
    .unwrap();
    let review = r.review_proposal.expect("put to a supervisor");
    let p = kmn_app::proposal::get(&w.app, &admin(), &review)
        .await
        .unwrap();
    assert_eq!(p.kind, PHONE_REVIEW_KIND);
    assert_eq!(p.state, kmn_domain::proposal::ProposalState::Proposed);
    let info = revocation(&w, &serial).await;
    assert_eq!(info.channel.as_deref(), Some("phone"));
    assert_eq!(info.grounds.as_deref(), Some("emergency:lost"));
    assert_eq!(
        info.request_received_at,
        Some(received),
        "the call's time, not the processing time"
    );
    assert!(
        info.comment
            .unwrap()
            .contains("生年月日と勤務先施設名を確認"),
        "the identity check is kept with the revocation"
    );
}

#[tokio::test]
async fn art11_many_emergency_revocations_by_one_account_raise_an_alert() {
    let mut w = sqlite_world().await;
    w.app.cfg.emergency_alert_per_hour = 2;
    let registrar = admin().registrar();
    let report = EmergencyReport {
        cause: EmergencyCause::FearedMisuse,
        last_known_safe: None,
        note: String::new(),
    };
    let (_, c1, _) = w.issued_card(&w.nurse_a).await;
    let r1 = emergency::by_desk(&w.app, &registrar, &c1, &report)
        .await
        .unwrap();
    assert!(!r1.alert);
    // Feared misuse while the card is in hand: it is asked back (第15条), no loss report.
    assert_eq!(r1.card.card.state, "return_requested");
    assert!(r1.draft_application.is_none());
    let (_, c2, _) = w.issued_card(&w.nurse_a).await;
    let r2 = emergency::by_desk(&w.app, &registrar, &c2, &report)
        .await
        .unwrap();
    assert!(r2.alert, "the second within the hour reaches the threshold");
    let mut tx = w.app.store_for_tests().read().await.unwrap();
    let ev = tx
        .audit_events(Some("alert.emergency_revocations"))
        .await
        .unwrap();
    tx.rollback().await.unwrap();
    assert_eq!(ev.len(), 1, "{ev:?}");
}

/// Gives `card` the emergency code `code`, as its PIN mailer printed it.
async fn give_code(w: &World, card: &str, code: &str) {
    let pepper = emergency::code_pepper(&w.app).unwrap();
    let sealed = emergency::seal_code(&pepper, code).unwrap();
    let mut tx = w.app.store_for_tests().begin().await.unwrap();
    tx.set_card_revocation_code(card, &sealed).await.unwrap();
    tx.commit().await.unwrap();
}

/// 第11条 (issue 10 item 2): after a holder's own emergency revocation the holder gets a
/// notice — a mail in the outbox to the registered e-mail address, in Japanese, saying
/// what was revoked, when, and what comes next (the desk's loss report, reissue) — beside
/// the facility's; a holder without an address gets none (and the revocation stands).
#[tokio::test]
async fn art11_holder_emergency_revocation_mails_the_holder() {
    let w = sqlite_world().await;
    let (_, card, serial) = w.issued_card(&w.nurse_a).await;
    give_code(&w, &card, "271828182845").await;
    let a = emergency::by_holder(
        &w.app,
        &card,
        "2718-2818-2845",
        EmergencyCause::Lost,
        "192.0.2.7",
    )
    .await
    .unwrap();
    assert!(
        matches!(a, emergency::HolderAnswer::Revoked { .. }),
        "{a:?}"
    );
    let revoked_at = revocation(&w, &serial).await.revoked_at;
    let mut tx = w.app.store_for_tests().read().await.unwrap();
    let mail = tx.unsent_mail(100).await.unwrap();
    let notices = tx.notices(None, 100).await.unwrap();
    tx.rollback().await.unwrap();
    let to_holder: Vec<_> = mail.iter().filter(|m| m.notice_id.is_none()).collect();
    assert_eq!(to_holder.len(), 1, "one mail to the holder: {mail:?}");
    let m = to_holder[0];
    assert_eq!(m.to_addr, "staff@example.jp");
    assert!(
        m.subject.contains(&card) && m.subject.contains("失効"),
        "{}",
        m.subject
    );
    let when = kmn_domain::time_fmt::ja_unix_secs(revoked_at);
    for want in [
        "山田　花子 様",
        card.as_str(),
        serial.as_str(),
        when.as_str(),
        "紛失",
        "利用規約第11条",
        "紛失届",
        "再発行",
        "窓口",
        "サポートセンター",
    ] {
        assert!(m.body.contains(want), "{want} missing from:\n{}", m.body);
    }
    assert_eq!(
        m.created_at, revoked_at,
        "written in the revocation's transaction"
    );
    // The facility's notice came too.
    assert!(
        notices.iter().any(
            |n| n.object.as_deref() == Some(&format!("card:{card}")) && n.body.contains("失効")
        ),
        "{notices:?}"
    );

    // A holder without a registered address: revoked, and no mail.
    let (nurse, _) = kmn_app::ra::persons::register(
        &w.app,
        &admin().registrar(),
        &crate::api_fixture::person_input(
            &w.fac_a,
            "熊本 一郎",
            "クマモト イチロウ",
            "Ichiro Kumamoto",
            "nurse",
            true,
        ),
    )
    .await
    .unwrap();
    let (_, card2, _) = w.issued_card(&nurse.holder_id).await;
    sqlx::query("UPDATE persons SET work_email = '' WHERE holder_id = $1")
        .bind(&nurse.holder_id)
        .execute(w.app.store_for_tests().pool())
        .await
        .unwrap();
    give_code(&w, &card2, "161803398874").await;
    let a = emergency::by_holder(
        &w.app,
        &card2,
        "161803398874",
        EmergencyCause::Stolen,
        "192.0.2.8",
    )
    .await
    .unwrap();
    assert!(
        matches!(a, emergency::HolderAnswer::Revoked { .. }),
        "{a:?}"
    );
    let mut tx = w.app.store_for_tests().read().await.unwrap();
    let mail = tx.unsent_mail(100).await.unwrap();
    tx.rollback().await.unwrap();
    assert_eq!(
        mail.iter().filter(|m| m.notice_id.is_none()).count(),
        1,
        "no new mail without an address: {mail:?}"
    );
}

/// 第11条 with 第8条: a card lost after its receipt was confirmed, while its PIN mailer is
/// released but not yet dispatched — the mailer is destroyed unsent with the revocation
/// (its PIN and emergency code are for a card that is gone), and its file with it.
#[tokio::test]
async fn art11_loss_after_receipt_destroys_the_mailer_not_yet_dispatched() {
    let w = sqlite_world().await;
    let (card, _) = w.shipped_card(&w.nurse_a, "00112233445566BB").await;
    let (st, v) = w
        .call(
            Some("desk_a"),
            Method::POST,
            "/api/v1/cards/receipt",
            Some(json!({"token_serial": "0011-2233-4455-66bb"})),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!(v["pin_mailers"][0]["state"], "released", "{v}");
    let (st, v) = w
        .call(
            Some("desk_a"),
            Method::POST,
            &format!("/api/v1/cards/{card}/emergency-revocation"),
            Some(json!({"reason": "lost"})),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    let v = kmn_app::ra::delivery::view(&w.app, &crate::api_fixture::admin().reader(), &card)
        .await
        .unwrap();
    assert_eq!(v.card.state, "lost");
    assert_eq!(v.pin_mailers.len(), 1);
    assert_eq!(v.pin_mailers[0].state, "destroyed", "{:?}", v.pin_mailers);
}

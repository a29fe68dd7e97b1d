//! Issue 9 item 1: dual control. A proposal is approved only by a different *person*
//! holding the supervisor's right, on the content that person saw, before it expires.
//! The actors are real accounts authenticated by their real certificates.

use kmn_app::actor::Role;
use kmn_app::proposal;
use kmn_app::ra::accounts;
use kmn_app::rights::{Capability, Center, Supervisor};
use kmn_domain::ProfileKind;
use kmn_domain::proposal::ProposalState;
use serde_json::json;

use crate::api_fixture::{World, cert_for};

async fn world() -> World {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("ra.db").display());
    let w = World::new(&url).await;
    std::mem::forget(dir);
    w
}

/// A new account of `role` for `person` (a real certificate), authenticated.
async fn account(w: &World, role: Role, name: &str, person: &str) -> kmn_app::actor::Actor {
    let der = cert_for(&w.app, &format!("Test {name}"), ProfileKind::Operator).await;
    accounts::add(
        &w.app,
        &crate::api_fixture::admin(),
        accounts::NewAccount {
            role,
            display_name: name.into(),
            cert_der: der.clone(),
            facility_code: None,
            holder_id: None,
            person_id: Some(person.into()),
        },
    )
    .await
    .unwrap();
    kmn_app::actor::authenticate(&w.app, &der).await.unwrap()
}

#[tokio::test]
async fn issue9_proposal_needs_another_person_with_the_supervisors_right() {
    let w = world().await;
    // Suzuki is a supervisor with two certificates (two accounts); Sato is another
    // supervisor; Tanaka an operator.
    let suzuki_1 = account(&w, Role::Supervisor, "suzuki-1", "person-suzuki").await;
    let suzuki_2 = account(&w, Role::Supervisor, "suzuki-2", "person-suzuki").await;
    let sato = account(&w, Role::Supervisor, "sato", "person-sato").await;
    let tanaka = account(&w, Role::Operator, "tanaka", "person-tanaka").await;
    assert_eq!(suzuki_1.person_id(), suzuki_2.person_id());
    assert_ne!(suzuki_1.account_id(), suzuki_2.account_id());

    let payload = json!({"facility_code": w.fac_a, "reason": "第12条(5)", "b": [2, 1]});
    let p = proposal::propose(
        &w.app,
        &Center::from_actor(&suzuki_1).unwrap(),
        "test.dual_control",
        &payload,
    )
    .await
    .unwrap();
    assert_eq!(p.state, ProposalState::Proposed);
    assert_eq!(p.proposed_by_person, "person-suzuki");
    assert_eq!(p.content_sha256.len(), 64);
    // Canonical payload: keys sorted.
    assert!(
        p.payload.starts_with("{\"b\":[2,1],\"facility_code\":"),
        "{}",
        p.payload
    );

    // The proposer cannot approve, through either of their accounts.
    for own in [&suzuki_1, &suzuki_2] {
        let e = proposal::approve(
            &w.app,
            &Supervisor::from_actor(own).unwrap(),
            &p.id,
            &p.content_sha256,
        )
        .await
        .unwrap_err();
        assert_eq!(e.code(), "E_SELF_APPROVAL", "{e}");
    }
    // An operator has no supervisor's right at all.
    let e = Supervisor::from_actor(&tanaka).unwrap_err();
    assert_eq!(e.code(), "E_FORBIDDEN");
    assert!(e.to_string().contains("サポートセンター責任者のみ"), "{e}");
    // Another supervisor who saw other content is refused.
    let sato_sup = Supervisor::from_actor(&sato).unwrap();
    let e = proposal::approve(&w.app, &sato_sup, &p.id, &"0".repeat(64))
        .await
        .unwrap_err();
    assert_eq!(e.code(), "E_PROPOSAL_ALTERED", "{e}");
    // Nothing was decided by the refusals.
    let now = proposal::get(&w.app, &Center::from_actor(&sato).unwrap(), &p.id)
        .await
        .unwrap();
    assert_eq!(now.state, ProposalState::Proposed);

    // Another supervisor, on what they saw: approved, once.
    let ok = proposal::approve(&w.app, &sato_sup, &p.id, &p.content_sha256)
        .await
        .unwrap();
    assert_eq!(ok.proposal().state, ProposalState::Approved);
    assert_eq!(
        ok.proposal().decided_by_person.as_deref(),
        Some("person-sato")
    );
    let e = proposal::approve(&w.app, &sato_sup, &p.id, &p.content_sha256)
        .await
        .unwrap_err();
    assert_eq!(e.code(), "E_CONFLICT", "{e}");
    let e = proposal::reject(&w.app, &sato_sup, &p.id, &p.content_sha256, "x")
        .await
        .unwrap_err();
    assert_eq!(e.code(), "E_CONFLICT", "{e}");
}

#[tokio::test]
async fn issue9_proposal_expires_and_a_rejection_is_dual_control_too() {
    let w = world().await;
    let suzuki = account(&w, Role::Supervisor, "suzuki", "person-suzuki").await;
    let sato = account(&w, Role::Supervisor, "sato", "person-sato").await;
    let center = Center::from_actor(&suzuki).unwrap();
    let sato_sup = Supervisor::from_actor(&sato).unwrap();

    // Expired: 72 hours later it can no longer be approved, and is recorded as expired.
    let p = proposal::propose(&w.app, &center, "test.dual_control", &json!({"n": 1}))
        .await
        .unwrap();
    assert_eq!(p.expires_at - p.proposed_at, 72 * 3600);
    w.clock.advance(time::Duration::hours(72));
    let e = proposal::approve(&w.app, &sato_sup, &p.id, &p.content_sha256)
        .await
        .unwrap_err();
    assert_eq!(e.code(), "E_PROPOSAL_EXPIRED", "{e}");
    let now = proposal::get(&w.app, &center, &p.id).await.unwrap();
    assert_eq!(now.state, ProposalState::Expired);

    // Rejected by another person, with a reason; the proposer cannot reject either.
    let p = proposal::propose(&w.app, &center, "test.dual_control", &json!({"n": 2}))
        .await
        .unwrap();
    let e = proposal::reject(
        &w.app,
        &Supervisor::from_actor(&suzuki).unwrap(),
        &p.id,
        &p.content_sha256,
        "理由",
    )
    .await
    .unwrap_err();
    assert_eq!(e.code(), "E_SELF_APPROVAL", "{e}");
    let r = proposal::reject(&w.app, &sato_sup, &p.id, &p.content_sha256, "根拠が不足")
        .await
        .unwrap();
    assert_eq!(r.state, ProposalState::Rejected);
    assert_eq!(r.note.as_deref(), Some("根拠が不足"));
    // Every step is in the audit chain.
    let report: Vec<String> = sqlx::query_scalar("SELECT action FROM audit_events")
        .fetch_all(w.app.store_for_tests().pool())
        .await
        .unwrap();
    for a in ["proposal.propose", "proposal.expire", "proposal.reject"] {
        assert!(report.iter().any(|x| x == a), "{a}: {report:?}");
    }
}

#[tokio::test]
async fn issue9_application_self_approval_compares_persons() {
    let w = world().await;
    // The supervisor files an application through one account and tries to approve it
    // through a second account of the same person: refused.
    let one = account(&w, Role::Supervisor, "kato-1", "person-kato").await;
    let two = account(&w, Role::Supervisor, "kato-2", "person-kato").await;
    let other = account(&w, Role::Supervisor, "ito", "person-ito").await;
    let reg = Center::from_actor(&one).unwrap().registrar();
    let a = kmn_app::ra::applications::create(
        &w.app,
        &reg,
        &kmn_app::ra::applications::ApplicationInput {
            facility_code: w.fac_a.clone(),
            holder_id: w.nurse_a.clone(),
            kind: "new".into(),
            validity_years: Some(3),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    kmn_app::ra::applications::act(
        &w.app,
        &reg,
        &a.id,
        kmn_domain::ApplicationAction::Submit,
        None,
    )
    .await
    .unwrap();
    let e = kmn_app::ra::applications::review(
        &w.app,
        &Center::from_actor(&two).unwrap(),
        &a.id,
        kmn_domain::ApplicationAction::Approve,
        None,
    )
    .await
    .unwrap_err();
    assert_eq!(e.code(), "E_SELF_APPROVAL", "{e}");
    let ok = kmn_app::ra::applications::review(
        &w.app,
        &Center::from_actor(&other).unwrap(),
        &a.id,
        kmn_domain::ApplicationAction::Approve,
        None,
    )
    .await
    .unwrap();
    assert_eq!(ok.state, "approved");
}

//! The story: the same scenarios on SQLite and PostgreSQL, through the application
//! layer with a fake clock (STYLE §7–8).

use std::sync::Arc;

use kmn_app::ca::issue::{self, IssueRequest};
use kmn_app::ca::revoke::{RevokeRequest, revoke};
use kmn_app::ca::{self, CeremonyParams, Policies};
use kmn_app::{App, AppError, FixedClock};
use kmn_domain::{ProfileKind, RevocationReason, ValidityPeriod};
use kmn_pki::keys::{KeyAlgorithm, Signer, SoftwareKey};
use kmn_pki::name::DistinguishedName;
use time::Duration;
use time::macros::datetime;

use crate::support::{PASSPHRASE, app_with, pg_url};

fn subject(cn: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::default();
    dn.push(kmn_pki::oid::AT_COUNTRY, "JP").unwrap();
    dn.push(kmn_pki::oid::AT_ORGANIZATION, "Kumamoto Clinic")
        .unwrap();
    dn.push(kmn_pki::oid::AT_COMMON_NAME, cn).unwrap();
    dn
}

pub(crate) async fn issue_n(
    app: &App,
    n: usize,
    validity: ValidityPeriod,
) -> Result<Vec<String>, AppError> {
    let ca = ca::load_active(app, kmn_app::views::CaKind::Issuing).await?;
    let policies = Policies::current(app).await?;
    let mut reqs = Vec::new();
    for i in 0..n {
        let (k, _) = SoftwareKey::generate(KeyAlgorithm::P256).unwrap();
        reqs.push(IssueRequest {
            profile: ProfileKind::UserCard,
            validity,
            subject: subject(&format!("Holder {i}")),
            spki_der: k.spki_der().to_vec(),
            alt_names: vec![],
            hc_role: None,
            on_hold: false,
        });
    }
    let out = issue::issue_batch(app, &ca, &policies, reqs, app.clock.now(), "story").await?;
    Ok(out.into_iter().map(|i| i.serial_hex).collect())
}

pub(crate) fn req(serial: &str, reason: RevocationReason) -> RevokeRequest {
    RevokeRequest {
        serial: serial.parse().unwrap(),
        reason,
        comment: None,
        invalidity_date: None,
        received_at: None,
        requested_by: "story".into(),
    }
}

async fn story(url: &str) {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(FixedClock::new(datetime!(2026-11-26 03:00 UTC)));
    let app = app_with(url, dir.path(), clock.clone()).await;

    // Ceremony; a second one is refused.
    ca::init(&app, &CeremonyParams::default(), PASSPHRASE)
        .await
        .unwrap();
    assert!(matches!(
        ca::init(&app, &CeremonyParams::default(), PASSPHRASE).await,
        Err(AppError::CaState(_))
    ));

    // Issue; serials are unique 128-bit values.
    let serials = issue_n(&app, 5, ValidityPeriod::Years5).await.unwrap();
    assert_eq!(serials.len(), 5);
    assert!(serials.iter().all(|s| s.len() == 32));

    // 第3条4: certificates are append-only; a status never leaves 'revoked'.
    {
        let mut tx = app.store_for_tests().begin().await.unwrap();
        let r = tx
            .execute_raw(&format!(
                "UPDATE certificates SET subject = 'someone else' WHERE serial_hex = '{}'",
                serials[0]
            ))
            .await;
        assert!(r.is_err(), "a certificate can never move to another person");
    }

    // Revocation by compare-and-set: two revokers at once, exactly one wins.
    clock.advance(Duration::minutes(5));
    let (ra, rb) = (
        req(&serials[0], RevocationReason::KeyCompromise),
        req(&serials[0], RevocationReason::Superseded),
    );
    let (a, b) = tokio::join!(revoke(&app, &ra), revoke(&app, &rb));
    assert!(
        a.is_ok() ^ b.is_ok(),
        "exactly one revocation wins: {a:?} {b:?}"
    );
    assert!(matches!(a.err().or(b.err()), Some(AppError::Conflict(_))));
    {
        let mut tx = app.store_for_tests().begin().await.unwrap();
        let r = tx
            .execute_raw(&format!(
                "UPDATE cert_status SET status = 'valid' WHERE serial_hex = '{}'",
                serials[0]
            ))
            .await;
        assert!(r.is_err(), "a revoked certificate is never un-revoked");
    }

    // A revocation makes a CRL due at once (第16条).
    assert!(kmn_app::ca::crl::due(&app, "kmn-issuing-g1").await.unwrap());
    let p1 = kmn_app::ca::crl::publish_all(&app, "story").await.unwrap();
    assert_eq!(p1[0].number, 2);
    assert_eq!(p1[0].entries, 1);
    assert!(!kmn_app::ca::crl::due(&app, "kmn-issuing-g1").await.unwrap());

    // The clock goes back: thisUpdate never does; the number still rises.
    clock.advance(-Duration::hours(2));
    let p2 = kmn_app::ca::crl::publish_all(&app, "story").await.unwrap();
    assert_eq!(p2[0].number, 3);
    assert_eq!(p2[0].this_update, p1[0].this_update);

    // 24 hours later a CRL is due even without revocations (第16条).
    clock.advance(Duration::hours(2) + Duration::hours(23));
    assert!(!kmn_app::ca::crl::due(&app, "kmn-issuing-g1").await.unwrap());
    clock.advance(Duration::hours(1));
    assert!(kmn_app::ca::crl::due(&app, "kmn-issuing-g1").await.unwrap());

    // Two publishers at once never use one number twice.
    let (x, y) = tokio::join!(
        kmn_app::ca::crl::publish_all(&app, "a"),
        kmn_app::ca::crl::publish_all(&app, "b")
    );
    let mut numbers = vec![x.unwrap()[0].number, y.unwrap()[0].number];
    numbers.sort();
    assert_eq!(numbers, vec![4, 5]);

    // The revocation's evidence (第23条3).
    {
        let mut tx = app.store_for_tests().begin().await.unwrap();
        let c = tx.certificate(&serials[0]).await.unwrap().unwrap();
        tx.rollback().await.unwrap();
        let r = c.revocation.unwrap();
        assert_eq!(r.first_crl_number, Some(2));
        assert!(r.first_crl_published_at.is_some());
        assert_eq!(r.requested_by.as_deref(), Some("story"));
    }

    // Validity is never shortened (第10条): 6 years on, the 10-year issuing CA can cover
    // 3 years but not 5.
    clock.set(datetime!(2032-12-01 00:00 UTC));
    let err = issue_n(&app, 1, ValidityPeriod::Years5).await.unwrap_err();
    assert!(
        matches!(err, AppError::CaState(ref m) if m.contains("第10条")),
        "{err}"
    );
    issue_n(&app, 1, ValidityPeriod::Years3).await.unwrap();

    // The audit log is intact and complete.
    let report = app.store_for_tests().verify_audit().await.unwrap();
    assert_eq!(report.problem, None);
    let mut tx = app.store_for_tests().begin().await.unwrap();
    let issued = tx.audit_events(Some("cert.issue")).await.unwrap().len();
    let revoked = tx.audit_events(Some("cert.revoke")).await.unwrap().len();
    tx.rollback().await.unwrap();
    assert_eq!(
        issued, 6,
        "5 + 1 user cards; the ceremony's certificates are in ca.init"
    );
    assert_eq!(revoked, 1);
    app.store_for_tests().close().await;
}

#[tokio::test]
async fn story_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    story(&format!(
        "sqlite://{}",
        dir.path().join("story.db").display()
    ))
    .await;
}

#[tokio::test]
async fn story_postgres() {
    if let Some(url) = pg_url("story").await {
        story(&url).await;
    }
}

#[tokio::test]
async fn postgres_migrations_are_idempotent_across_instances() {
    let Some(url) = pg_url("migr").await else {
        return;
    };
    let (a, b) = tokio::join!(kmn_store::Store::open(&url), kmn_store::Store::open(&url));
    a.unwrap();
    b.unwrap();
    kmn_store::Store::open(&url).await.unwrap();
}

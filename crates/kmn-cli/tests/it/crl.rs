//! The first-CRL evidence of a revocation (第16条, 第23条3): a revocation is stamped with
//! the first CRL that lists it, and only with a CRL that lists it. On SQLite and
//! PostgreSQL, through the application layer with a fake clock; the faults inside a
//! publication need the `fault-points` feature (kmn-app src/fault.rs).

use std::sync::Arc;

use kmn_app::ca::revoke::revoke;
use kmn_app::ca::{self, CeremonyParams};
use kmn_app::{App, FixedClock};
use kmn_domain::{RevocationReason, ValidityPeriod};
use time::Duration;
use time::macros::datetime;

use crate::story::{issue_n, req};
use crate::support::{PASSPHRASE, app_with, pg_url};

/// A data dir with a CA (CRL 1 published at the fixed time), over `url` or SQLite.
async fn ca_app(url: Option<String>) -> (tempfile::TempDir, Arc<FixedClock>, App) {
    let dir = tempfile::tempdir().unwrap();
    let url = url.unwrap_or_else(|| format!("sqlite://{}", dir.path().join("kmn.db").display()));
    let clock = Arc::new(FixedClock::new(datetime!(2026-11-26 03:00 UTC)));
    let app = app_with(&url, dir.path(), clock.clone()).await;
    ca::init(&app, &CeremonyParams::default(), PASSPHRASE)
        .await
        .unwrap();
    (dir, clock, app)
}

/// The first-CRL evidence of a certificate: (number, published at).
async fn first_crl(app: &App, serial: &str) -> (Option<i64>, Option<i64>) {
    let mut tx = app.store_for_tests().read().await.unwrap();
    let c = tx.certificate(serial).await.unwrap().unwrap();
    tx.rollback().await.unwrap();
    let r = c.revocation.expect("revoked");
    (r.first_crl_number, r.first_crl_published_at)
}

/// Whether the DER CRL lists the serial (its 16 octets appear in it).
fn lists(der: &[u8], serial_hex: &str) -> bool {
    let s = hex::decode(serial_hex).unwrap();
    der.windows(s.len()).any(|w| w == s.as_slice())
}

/// A certificate revoked but expired before any CRL listed it is not in the next CRL
/// (CRLs omit expired certificates): that CRL must not claim to have published it, and
/// it must not make a CRL due at every poll.
async fn expired_before_any_crl(url: Option<String>) {
    let (_dir, clock, app) = ca_app(url).await;
    let serials = issue_n(&app, 1, ValidityPeriod::Years3).await.unwrap();
    revoke(&app, &req(&serials[0], RevocationReason::KeyCompromise))
        .await
        .unwrap();
    clock.advance(Duration::days(3 * 366 + 30));
    let p = kmn_app::ca::crl::publish_all(&app, "test").await.unwrap();
    assert_eq!((p[0].number, p[0].entries), (2, 0));
    let der = std::fs::read(&p[0].path).unwrap();
    assert!(!lists(&der, &serials[0]));
    assert_eq!(
        first_crl(&app, &serials[0]).await,
        (None, None),
        "CRL 2 does not list the expired revocation, so it is not its first CRL"
    );
    assert!(
        !kmn_app::ca::crl::due(&app, "kmn-issuing-g1").await.unwrap(),
        "an expired revocation no CRL will list does not make a CRL due"
    );
    app.store_for_tests().close().await;
}

#[tokio::test]
async fn art23_revocation_expired_before_any_crl_is_not_stamped_sqlite() {
    expired_before_any_crl(None).await;
}

#[tokio::test]
async fn art23_revocation_expired_before_any_crl_is_not_stamped_postgres() {
    if let Some(url) = pg_url("crlexp").await {
        expired_before_any_crl(Some(url)).await;
    }
}

/// Faults inside a publication (feature `fault-points`; `scripts/test` runs them with
/// `-- faults`).
#[cfg(feature = "fault-points")]
mod faults {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::{Duration, Instant};

    use kmn_app::ca;
    use kmn_app::ca::revoke::revoke;
    use kmn_app::fault::{CrlHook, CrlPause, set_crl_before_stamp};
    use kmn_domain::RevocationReason;
    use kmn_store::Backend;

    use super::{ca_app, first_crl, lists};
    use crate::story::{issue_n, req};
    use crate::support::pg_url;

    /// The publisher loop of `kmn serve` builds CRL N for revocation A; while N is
    /// written and read back but not yet recorded, revocation B commits (PostgreSQL; on
    /// SQLite B waits for the publication's write lock). N must not be B's first CRL —
    /// it does not list B — and the next CRL must list B within the 1 s target (第16条).
    async fn committed_during_publication(url: Option<String>) {
        let (_dir, _clock, app) = ca_app(url).await;
        let serials = issue_n(&app, 2, kmn_domain::ValidityPeriod::Years5)
            .await
            .unwrap();
        let (a, b) = (serials[0].clone(), serials[1].clone());
        revoke(&app, &req(&a, RevocationReason::KeyCompromise))
            .await
            .unwrap();

        // Pause the first publication between encode and stamp.
        let (paused_tx, mut paused_rx) = tokio::sync::mpsc::unbounded_channel::<CrlPause>();
        let resume = Arc::new(tokio::sync::Semaphore::new(0));
        let armed = Arc::new(AtomicBool::new(true));
        let hook: CrlHook = {
            let resume = resume.clone();
            Arc::new(move |p: CrlPause| {
                let (paused_tx, resume, armed) = (paused_tx.clone(), resume.clone(), armed.clone());
                Box::pin(async move {
                    if armed.swap(false, Ordering::SeqCst) {
                        let _ = paused_tx.send(p);
                        resume.acquire().await.unwrap().forget();
                    }
                })
            })
        };
        set_crl_before_stamp(&app.data_dir, Some(hook));
        let issuing = ca::load_active(&app, kmn_app::views::CaKind::Issuing)
            .await
            .unwrap();
        let spki = issuing.info.spki_der.clone();
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let publisher = tokio::spawn(kmn_app::ca::crl::publisher_loop(
            app.clone(),
            vec![issuing],
            stop_rx,
        ));
        let paused = tokio::time::timeout(Duration::from_secs(20), paused_rx.recv())
            .await
            .expect("the publisher did not start a CRL for revocation A")
            .unwrap();
        let n = paused.number;
        let der = std::fs::read(&paused.path).unwrap();
        assert!(lists(&der, &a) && !lists(&der, &b));

        // Revocation B commits in the middle of CRL N's publication.
        let mut revoking = {
            let app = app.clone();
            let b = b.clone();
            tokio::spawn(async move { revoke(&app, &req(&b, RevocationReason::Superseded)).await })
        };
        let pg = app.store_for_tests().backend() == Backend::Postgres;
        if pg {
            tokio::time::timeout(Duration::from_secs(10), &mut revoking)
                .await
                .expect("on PostgreSQL a revocation does not wait for a CRL publication")
                .unwrap()
                .unwrap();
        } else {
            tokio::time::sleep(Duration::from_millis(300)).await;
            assert!(
                !revoking.is_finished(),
                "on SQLite a publication holds the write lock"
            );
        }
        let resumed = Instant::now();
        resume.add_permits(1);
        if !pg {
            tokio::time::timeout(Duration::from_secs(30), revoking)
                .await
                .unwrap()
                .unwrap()
                .unwrap();
        }

        // The next CRL lists B, within 1 s of CRL N being recorded.
        let crl_path = paused.path.clone();
        let next = loop {
            if let Ok(der) = std::fs::read(&crl_path)
                && let Ok((number, _)) = kmn_app::ca::crl::check_crl(&der, &spki)
                && number > n
                && lists(&der, &b)
            {
                break number;
            }
            assert!(
                resumed.elapsed() < Duration::from_secs(1),
                "no CRL listed revocation B within 1 s of CRL {n}: {:?}",
                first_crl(&app, &b).await
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        let _ = stop_tx.send(true);
        publisher.await.unwrap();
        set_crl_before_stamp(&app.data_dir, None);

        // The evidence (第23条3): each revocation's first CRL is one that lists it.
        assert_eq!(first_crl(&app, &a).await.0, Some(n));
        assert_eq!(next, n + 1);
        let (bn, bat) = first_crl(&app, &b).await;
        assert_eq!(bn, Some(n + 1), "CRL {n} does not list B");
        assert!(bat.is_some());
        assert!(!kmn_app::ca::crl::due(&app, "kmn-issuing-g1").await.unwrap());
        app.store_for_tests().close().await;
    }

    #[tokio::test]
    async fn art16_art23_revocation_committed_during_publication_reaches_next_crl_sqlite() {
        committed_during_publication(None).await;
    }

    #[tokio::test]
    async fn art16_art23_revocation_committed_during_publication_reaches_next_crl_postgres() {
        if let Some(url) = pg_url("crlrace").await {
            committed_during_publication(Some(url)).await;
        }
    }
}

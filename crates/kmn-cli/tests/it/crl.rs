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

/// The database keeps the newest CRL of each CA with its record (issue 10 item 4,
/// migration 0014), and only the newest: older rows keep their hash, not their bytes.
/// Keeping the bytes of a CRL that is not recorded is refused and changes nothing.
async fn crl_bytes_in_database(url: Option<String>) {
    let (_dir, _clock, app) = ca_app(url).await;
    let p = kmn_app::ca::crl::publish_all(&app, "test").await.unwrap();
    assert_eq!(p[0].number, 2);
    let file = std::fs::read(&p[0].path).unwrap();
    let mut tx = app.store_for_tests().begin().await.unwrap();
    assert_eq!(
        tx.crl_der("kmn-issuing-g1", 2).await.unwrap().as_deref(),
        Some(file.as_slice())
    );
    assert_eq!(tx.crl_der("kmn-issuing-g1", 1).await.unwrap(), None);
    let arl = tx
        .crl_der("kmn-root-g1", 1)
        .await
        .unwrap()
        .expect("the ARL's bytes");
    assert_eq!(
        arl,
        std::fs::read(app.repo_dir().join("kmn-root-g1.crl")).unwrap()
    );
    let refused = tx.keep_crl_der("kmn-issuing-g1", 99, b"not a CRL").await;
    assert!(
        matches!(refused, Err(kmn_store::StoreError::Conflict(_))),
        "{refused:?}"
    );
    assert_eq!(tx.crl_der("kmn-issuing-g1", 99).await.unwrap(), None);
    assert_eq!(
        tx.crl_der("kmn-issuing-g1", 2).await.unwrap().as_deref(),
        Some(file.as_slice())
    );
    tx.rollback().await.unwrap();
    app.store_for_tests().close().await;
}

#[tokio::test]
async fn art16_newest_crl_bytes_kept_in_database_sqlite() {
    crl_bytes_in_database(None).await;
}

#[tokio::test]
async fn art16_newest_crl_bytes_kept_in_database_postgres() {
    if let Some(url) = pg_url("crlder").await {
        crl_bytes_in_database(Some(url)).await;
    }
}

/// PostgreSQL wakes the publisher at the commit of a revocation and of a published CRL
/// (migration 0014's triggers, whoever writes); notifications of another schema of the
/// same database are not ours. SQLite has no LISTEN.
#[tokio::test]
async fn art16_listen_wakes_at_revocation_and_publication_commit_postgres() {
    use kmn_store::CrlWake;
    let sqlite = tempfile::tempdir().unwrap();
    let store = kmn_store::Store::open(&format!(
        "sqlite://{}",
        sqlite.path().join("kmn.db").display()
    ))
    .await
    .unwrap();
    assert!(store.listen_crl_wakes().await.unwrap().is_none());
    let Some(url) = pg_url("crlwake").await else {
        return;
    };
    let (_dir, _clock, app) = ca_app(Some(url)).await;
    let serials = issue_n(&app, 1, ValidityPeriod::Years5).await.unwrap();
    let mut wakes = app
        .store_for_tests()
        .listen_crl_wakes()
        .await
        .unwrap()
        .expect("LISTEN on PostgreSQL");
    async fn next(w: &mut kmn_store::CrlWakes) -> kmn_store::CrlWake {
        tokio::time::timeout(std::time::Duration::from_secs(1), w.next())
            .await
            .expect("a wake-up within 1 s")
            .unwrap()
    }
    let mut tx = app.store_for_tests().begin().await.unwrap();
    tx.execute_raw("SELECT pg_notify('kmn_crl', 'another_schema cert_status')")
        .await
        .unwrap();
    tx.commit().await.unwrap();
    revoke(&app, &req(&serials[0], RevocationReason::KeyCompromise))
        .await
        .unwrap();
    assert_eq!(next(&mut wakes).await, CrlWake::StatusChange);
    kmn_app::ca::crl::publish_all(&app, "test").await.unwrap();
    assert_eq!(next(&mut wakes).await, CrlWake::Published);
    drop(wakes);
    app.store_for_tests().close().await;
}

/// A second instance's repository follows the database (issue 10 item 4): it starts with
/// the CA certificates, the ARL and the CRL from the database; a CRL published elsewhere
/// is in its repository within 1 s, byte for byte; and a CRL file numbered above every
/// recorded CRL (a publication that wrote its file and never committed, simulated by
/// removing its record) is superseded at once by a CRL numbered above it — the file is
/// an extra floor of the number.
async fn second_instance_follows_database(url: Option<String>) {
    use std::time::{Duration as StdDuration, Instant};
    let (dir_a, clock, app_a) = ca_app(url.clone()).await;
    let url = url.unwrap_or_else(|| format!("sqlite://{}", dir_a.path().join("kmn.db").display()));
    // Host B: its own data dir with the CA key material (as a second host gets it).
    let dir_b = tempfile::tempdir().unwrap();
    let o = std::process::Command::new("cp")
        .arg("-a")
        .arg(dir_a.path().join("secrets"))
        .arg(dir_b.path())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let app_b = app_with(&url, dir_b.path(), clock.clone()).await;
    let issuing = ca::load_active(&app_b, kmn_app::views::CaKind::Issuing)
        .await
        .unwrap();
    let spki = issuing.info.spki_der.clone();
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let publisher = tokio::spawn(kmn_app::ca::crl::publisher_loop(
        app_b.clone(),
        vec![issuing],
        stop_rx,
    ));
    // The newest CRL and its bytes (read again when another publication let go of them
    // between the two statements: PostgreSQL reads each in its own snapshot).
    let newest = |app: &App| {
        let app = app.clone();
        async move {
            loop {
                let mut tx = app.store_for_tests().read().await.unwrap();
                let n = tx.last_crl("kmn-issuing-g1").await.unwrap().unwrap().number;
                let der = tx.crl_der("kmn-issuing-g1", n).await.unwrap();
                tx.rollback().await.unwrap();
                if let Some(der) = der {
                    return (n, der);
                }
            }
        }
    };
    let b_crl = app_b.repo_dir().join("kmn-issuing-g1.crl");
    let wait_for = |want: Vec<u8>, what: &'static str| {
        let b_crl = b_crl.clone();
        async move {
            let t = Instant::now();
            while std::fs::read(&b_crl).ok().as_deref() != Some(want.as_slice()) {
                assert!(t.elapsed() < StdDuration::from_secs(1), "{what}");
                tokio::time::sleep(StdDuration::from_millis(10)).await;
            }
        }
    };
    wait_for(
        newest(&app_a).await.1,
        "B's repository starts with the newest CRL",
    )
    .await;
    for f in ["kmn-root-g1.crt", "kmn-issuing-g1.crt", "kmn-root-g1.crl"] {
        assert_eq!(
            std::fs::read(app_b.repo_dir().join(f)).unwrap(),
            std::fs::read(app_a.repo_dir().join(f)).unwrap(),
            "{f}"
        );
    }

    // A publishes; B's repository has it within 1 s (B's own publisher may also have
    // published one for the revocation: either way the newest in the database).
    let serials = issue_n(&app_a, 1, ValidityPeriod::Years5).await.unwrap();
    revoke(&app_a, &req(&serials[0], RevocationReason::KeyCompromise))
        .await
        .unwrap();
    kmn_app::ca::crl::publish_all(&app_a, "test").await.unwrap();
    let t = Instant::now();
    loop {
        let (_, der) = newest(&app_a).await;
        if std::fs::read(&b_crl).ok() == Some(der.clone()) && lists(&der, &serials[0]) {
            break;
        }
        assert!(
            t.elapsed() < StdDuration::from_secs(1),
            "A's CRL did not reach B's repository within 1 s"
        );
        tokio::time::sleep(StdDuration::from_millis(10)).await;
    }

    // B's file is numbered above every record: B publishes above it.
    let (n, _) = newest(&app_a).await;
    let mut tx = app_a.store_for_tests().begin().await.unwrap();
    tx.execute_raw(&format!(
        "DELETE FROM crls WHERE ca_name = 'kmn-issuing-g1' AND number = {n}"
    ))
    .await
    .unwrap();
    tx.execute_raw(&format!(
        "UPDATE crl_state SET last_number = {m}, last_published_number = {m} WHERE ca_name = 'kmn-issuing-g1'",
        m = n - 1
    ))
    .await
    .unwrap();
    tx.commit().await.unwrap();
    // Nothing notifies a removed record: on PostgreSQL the safety poll finds it (a real
    // unrecorded file is found by the first look after the crash's restart).
    let within = if app_a.store_for_tests().backend() == kmn_store::Backend::Postgres {
        kmn_app::ca::publisher::SAFETY_POLL + StdDuration::from_secs(1)
    } else {
        StdDuration::from_secs(1)
    };
    let t = Instant::now();
    loop {
        if let Ok(der) = std::fs::read(&b_crl)
            && let Ok((number, _)) = kmn_app::ca::crl::check_crl(&der, &spki)
            && number > n
        {
            assert_eq!(newest(&app_a).await, (number, der));
            assert_eq!(number, n + 1);
            break;
        }
        assert!(
            t.elapsed() < within,
            "the unrecorded CRL {n} was not superseded within {within:?}"
        );
        tokio::time::sleep(StdDuration::from_millis(10)).await;
    }

    // B's file shares its number with a recorded CRL of other contents (B's publication
    // of N+1 never committed, and A published another N+1): B never serves A's N+1 in
    // place of its own, it publishes above both.
    let (m, b_own) = newest(&app_a).await;
    let mut tx = app_a.store_for_tests().begin().await.unwrap();
    tx.execute_raw(&format!(
        "DELETE FROM crls WHERE ca_name = 'kmn-issuing-g1' AND number = {m}"
    ))
    .await
    .unwrap();
    tx.execute_raw(&format!(
        "UPDATE crl_state SET last_number = {n}, last_published_number = {n} WHERE ca_name = 'kmn-issuing-g1'"
    ))
    .await
    .unwrap();
    tx.commit().await.unwrap();
    kmn_app::ca::crl::publish_all(&app_a, "test").await.unwrap();
    let t = Instant::now();
    loop {
        let der = std::fs::read(&b_crl).unwrap();
        let (number, _) = kmn_app::ca::crl::check_crl(&der, &spki).unwrap();
        assert!(
            number > m || der == b_own,
            "B served another CRL numbered {number}"
        );
        if number > m && newest(&app_a).await == (number, der) {
            break;
        }
        assert!(
            t.elapsed() < StdDuration::from_secs(1),
            "B did not publish above its unrecorded CRL {m} within 1 s"
        );
        tokio::time::sleep(StdDuration::from_millis(5)).await;
    }
    let _ = stop_tx.send(true);
    publisher.await.unwrap();
    app_a.store_for_tests().close().await;
    app_b.store_for_tests().close().await;
}

#[tokio::test]
async fn art16_second_instance_repository_follows_database_sqlite() {
    second_instance_follows_database(None).await;
}

#[tokio::test]
async fn art16_second_instance_repository_follows_database_postgres() {
    if let Some(url) = pg_url("crlsync").await {
        second_instance_follows_database(Some(url)).await;
    }
}

/// `/health` (issue 10 item 4): the ARL's nextUpdate is announced `ca.arl_warning_days`
/// (7) ahead and is an error once passed; the issuing CA's CRL is overdue when none
/// followed it within the 24-hour interval (a warning) and an error past its nextUpdate.
#[tokio::test]
async fn art16_health_warns_before_arl_next_update_and_when_crl_overdue() {
    let (_dir, clock, app) = ca_app(None).await;
    let ours = [
        "arl_next_update_soon",
        "arl_expired",
        "crl_overdue",
        "crl_expired",
    ];
    let reasons = || {
        let app = app.clone();
        async move {
            kmn_app::health::degraded(&app)
                .await
                .unwrap()
                .into_iter()
                .filter(|d| ours.contains(&d.reason))
                .map(|d| (d.reason, d.object, d.detail))
                .collect::<Vec<_>>()
        }
    };
    let names = |v: &[(&'static str, String, String)]| {
        v.iter()
            .map(|(r, o, _)| format!("{r} {o}"))
            .collect::<Vec<_>>()
    };
    assert!(reasons().await.is_empty());
    clock.advance(Duration::hours(24));
    assert!(reasons().await.is_empty(), "24 h: not yet overdue");
    clock.advance(Duration::hours(1));
    assert_eq!(names(&reasons().await), ["crl_overdue kmn-issuing-g1"]);
    clock.advance(Duration::hours(23));
    let r = reasons().await;
    assert_eq!(names(&r), ["crl_expired kmn-issuing-g1"]);
    assert!(r[0].2.contains("2026-11-28T03:00:00Z"), "{}", r[0].2);
    // The ARL of the ceremony (2026-11-26 03:00) reaches its nextUpdate a year later.
    let p = kmn_app::ca::crl::publish_all(&app, "test").await.unwrap();
    assert_eq!(p[0].number, 2);
    assert!(reasons().await.is_empty());
    clock.advance(Duration::days(365 - 2 - 7) - Duration::minutes(1));
    let keep_crl_fresh = || async {
        kmn_app::ca::crl::publish_all(&app, "test").await.unwrap();
    };
    keep_crl_fresh().await;
    assert!(reasons().await.is_empty(), "8 days before: no warning");
    clock.advance(Duration::minutes(2));
    keep_crl_fresh().await;
    let r = reasons().await;
    assert_eq!(names(&r), ["arl_next_update_soon kmn-root-g1"]);
    assert!(r[0].2.contains("2027-11-26T03:00:00Z"), "{}", r[0].2);
    clock.advance(Duration::days(7));
    keep_crl_fresh().await;
    assert_eq!(names(&reasons().await), ["arl_expired kmn-root-g1"]);
    app.store_for_tests().close().await;
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

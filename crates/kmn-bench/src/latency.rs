//! Issue 10: how long a revocation takes to reach OCSP and the CRL, with `N` revoked
//! certificates already on the CRL, `kmn serve`'s loops running in the process as they
//! do in `kmn serve` (the OCSP pre-signer installed in the store, the OCSP signer loop,
//! the CRL publisher).
//!
//! Each run revokes one certificate with `kmn_app::ca::revoke::revoke` (the CA
//! administrator's path; the commit is where every path ends) and times, from the call:
//! the commit; the first `ocsp::answer` that says `revoked` (polled every millisecond);
//! the CRL published that lists it (`crl_state.last_published_number` past the number
//! before, polled every millisecond). The baseline of the same run: `build_and_sign` of
//! a CRL with as many entries (the raw signing of what the publisher must produce).

use std::time::{Duration, Instant};

use anyhow::{Context, Result, ensure};
use kmn_app::ca::{crl as app_crl, ocsp};
use kmn_domain::{CrlNumber, RevocationReason};
use kmn_pki::crl::{CrlParams, build_and_sign};

use crate::crl::{entries, insert_revoked, revocations};
use crate::setup::{self, Backend};
use crate::util::{Rng, Stats};

/// The figures of one backend.
#[derive(Debug)]
pub struct Figures {
    /// Revoked entries already on the CRL.
    pub entries: usize,
    /// Call → commit, ms.
    pub commit_ms: Stats,
    /// Call → OCSP answers `revoked`, ms.
    pub ocsp_ms: Stats,
    /// Call → the CRL that lists it is published, ms.
    pub crl_ms: Stats,
    /// `build_and_sign` of a CRL with as many entries, ms (the baseline).
    pub build_ms: Stats,
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// Runs the measurement on `backend` with `n` revoked entries, `runs` revocations.
pub fn run(backend: &Backend, n: usize, runs: usize) -> Result<Figures> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let tmp = tempfile::Builder::new()
        .prefix("kmn-bench-latency")
        .tempdir()?;
    rt.block_on(async {
        let b = setup::make(tmp.path(), backend, "latency").await?;
        let app = b.app.clone();
        let name = b.ca.name().to_string();
        let now = app.now();
        let revs = revocations(n, now - 5, &mut Rng::from_time());
        insert_revoked(&app, &name, &revs, now).await?;
        // The baseline: the raw build and signature of a CRL this size.
        let ents = entries(&revs)?;
        let mut build = Vec::new();
        for _ in 0..runs.clamp(1, 5) {
            let t = Instant::now();
            let params = CrlParams {
                number: CrlNumber(1_000),
                this_update: app.clock.now(),
                next_update: app.clock.now() + time::Duration::hours(48),
                previous: None,
            };
            build_and_sign(&params, &ents, &b.ca.info, b.ca.signer.as_ref())?;
            build.push(ms(t.elapsed()));
        }
        drop(ents);
        drop(revs);
        let admin = kmn_app::rights::CaAdmin::local(Some("bench"));
        // The certificates to revoke.
        let csrs = crate::csr::many(crate::csr::CsrKind::P256, runs, 1)?;
        let mut serials = Vec::new();
        for c in &csrs {
            let i = kmn_app::ca::issue::issue_from_csr(
                &app,
                &c.der,
                kmn_domain::ProfileKind::Operator,
                kmn_domain::ValidityPeriod::Years3,
                &admin,
            )
            .await?;
            serials.push(i.serial_hex);
        }
        // Everything on the CRL once (the first CRL after the mass revocation stamps
        // all N rows: not what is measured).
        app_crl::publish_all(&app, "bench").await?;
        // `kmn serve`'s loops.
        let responders = std::sync::Arc::new(ocsp::load(&app).await?);
        // The steady state: every certificate has its responses (the first start after a
        // mass revocation signs them all; not what is measured).
        let t = Instant::now();
        while ocsp::refresh(&app, &responders).await? > 0 {}
        eprintln!(
            "signed the OCSP responses of {} certificates in {:.1} s",
            n + runs,
            t.elapsed().as_secs_f64()
        );
        ocsp::install_presigner(&app, &responders);
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let signer = tokio::spawn(ocsp::signer_loop(
            app.clone(),
            responders.clone(),
            stop_rx.clone(),
        ));
        let ca = kmn_app::ca::load_active(&app, kmn_app::views::CaKind::Issuing).await?;
        let publisher = tokio::spawn(app_crl::publisher_loop(app.clone(), vec![ca], stop_rx));
        // Wait until every new certificate has its responses and no CRL is due.
        let iss_der = b.ca.cert_der().to_vec();
        let hashes = kmn_pki::ocsp::IssuerHashes::from_cert(&iss_der)?;
        let request = |serial: &str| -> Result<Vec<u8>> {
            let id = kmn_pki::ocsp::CertId::new(
                kmn_pki::ocsp::HashAlg::Sha256,
                &hashes,
                &hex::decode(serial)?,
            );
            Ok(kmn_pki::ocsp::request_der(&id))
        };
        for s in &serials {
            let req = request(s)?;
            let t = Instant::now();
            while ocsp::answer(&app, &responders, &req).await.outcome != "good" {
                ensure!(
                    t.elapsed() < Duration::from_secs(30),
                    "no good response for {s}"
                );
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
        let published = |app: kmn_app::App, name: String| async move {
            let mut tx = app.store_for_tests().read().await?;
            let st = tx.crl_state(&name).await;
            tx.rollback().await?;
            Ok::<i64, anyhow::Error>(st?.last_published_number.0)
        };
        let (mut commit, mut to_ocsp, mut to_crl) = (Vec::new(), Vec::new(), Vec::new());
        for s in &serials {
            // Start from a quiet publisher: nothing due.
            tokio::time::sleep(Duration::from_millis(300)).await;
            let before = published(app.clone(), name.clone()).await?;
            let req = request(s)?;
            let t = Instant::now();
            kmn_app::ca::revoke::revoke(
                &app,
                &kmn_app::ca::revoke::RevokeRequest {
                    serial: s.parse().context("serial")?,
                    reason: RevocationReason::KeyCompromise,
                    comment: None,
                    invalidity_date: None,
                    received_at: None,
                    requested_by: "bench".into(),
                },
            )
            .await?;
            commit.push(ms(t.elapsed()));
            let (mut o, mut c) = (None, None);
            while o.is_none() || c.is_none() {
                ensure!(
                    t.elapsed() < Duration::from_secs(60),
                    "no CRL or OCSP for {s}"
                );
                if o.is_none() && ocsp::answer(&app, &responders, &req).await.outcome == "revoked" {
                    o = Some(ms(t.elapsed()));
                }
                if c.is_none() && published(app.clone(), name.clone()).await? > before {
                    c = Some(ms(t.elapsed()));
                }
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            to_ocsp.extend(o);
            to_crl.extend(c);
        }
        let _ = stop_tx.send(true);
        let _ = signer.await;
        let _ = publisher.await;
        b.finish().await?;
        Ok(Figures {
            entries: n,
            commit_ms: Stats::of(&commit),
            ocsp_ms: Stats::of(&to_ocsp),
            crl_ms: Stats::of(&to_crl),
            build_ms: Stats::of(&build),
        })
    })
}

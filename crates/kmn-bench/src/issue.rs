//! (b) Bulk issuance: CSR in → certificate stored durably, on a current_thread runtime,
//! through `kmn_app::ca::issue::issue_batch`; and a copy of that pipeline with a timer
//! around each step, to show where the time goes.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use anyhow::{Result, ensure};
use kmn_app::ca::issue::{IssueRequest, issue_batch};
use kmn_app::ca::repo;
use kmn_domain::{CertStatus, ProfileKind, ValidityPeriod};
use kmn_pki::cert::{CertTemplate, Urls};
use kmn_pki::lint::Expectations;
use kmn_pki::name::DistinguishedName;
use kmn_store::{NewAuditEvent, NewCert};
use sqlx::AssertSqlSafe;

use crate::csr::{Csr, CsrKind};
use crate::setup::{self, Backend, BenchCa};
use crate::util::{Rng, Stats, cpu_seconds, io_write_bytes};

/// One measurement's settings.
#[derive(Clone, Debug)]
pub struct IssueOpts {
    /// Store.
    pub backend: Backend,
    /// Certificates per `issue_batch` call (one group commit).
    pub batch: usize,
    /// Certificates per run.
    pub count: usize,
    /// Runs (the median is reported).
    pub runs: usize,
    /// CSR key type.
    pub kind: CsrKind,
    /// Also time each step of the pipeline (one extra run).
    pub split: bool,
}

/// One measurement's result.
#[derive(Clone, Debug)]
pub struct IssueResult {
    /// Certificates per second, one per run.
    pub rate: Stats,
    /// CPU seconds (all threads of this process) per wall second, one per run.
    pub cpu_per_wall: Stats,
    /// Bytes written to storage by this process per certificate (SQLite: database and
    /// WAL; PostgreSQL writes in its own processes, so about 0 here).
    pub disk_bytes_per_cert: Stats,
    /// Time per certificate by step, µs (from the extra instrumented run).
    pub split: Option<Split>,
}

/// Time per certificate spent in each step of issuance, µs.
#[derive(Clone, Debug, Default)]
pub struct Split {
    /// Steps in pipeline order: (name, µs per certificate).
    pub steps: Vec<(&'static str, f64)>,
    /// Wall time per certificate of the instrumented run, µs.
    pub total: f64,
    /// One prepared-statement round trip (`SELECT … FROM settings`) inside a
    /// transaction, µs: the floor under every SQL statement.
    pub statement_floor: f64,
    /// SQL statements issued per certificate by `issue_batch`.
    pub statements_per_cert: f64,
    /// The suggested alternative, measured on the same store: recording a batch of
    /// intents (800-octet TBS) with one INSERT per row, and with one multi-row INSERT
    /// per batch; µs per row, commit included.
    pub intents_single_vs_multi: Option<(f64, f64)>,
}

/// Runs one measurement in a fresh data dir (temporary; removed at the end).
pub fn run(opts: &IssueOpts, csrs: &[Csr]) -> Result<IssueResult> {
    ensure!(csrs.len() >= opts.count, "not enough CSRs");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let dir = tempfile::Builder::new()
        .prefix("kmn-bench-issue")
        .tempdir()?;
    let tag = format!("{}_{}", opts.kind.as_str(), opts.batch);
    rt.block_on(async {
        let b = setup::make(dir.path(), &opts.backend, &tag).await?;
        let r = measure(&b, opts, &csrs[..opts.count]).await;
        b.finish().await?;
        r
    })
}

async fn measure(b: &BenchCa, opts: &IssueOpts, csrs: &[Csr]) -> Result<IssueResult> {
    // Warm-up: the first batch pays for statement preparation and page cache.
    issue_all(b, &csrs[..opts.batch.min(csrs.len())], opts.batch).await?;
    let mut rates = Vec::new();
    let mut cpu = Vec::new();
    let mut disk = Vec::new();
    for _ in 0..opts.runs {
        let io0 = io_write_bytes();
        let c0 = cpu_seconds();
        let t0 = Instant::now();
        let n = issue_all(b, csrs, opts.batch).await?;
        let wall = t0.elapsed().as_secs_f64();
        ensure!(n == csrs.len(), "issued {n} of {}", csrs.len());
        rates.push(n as f64 / wall);
        cpu.push((cpu_seconds() - c0) / wall);
        disk.push((io_write_bytes() - io0) as f64 / n as f64);
    }
    let split = if opts.split {
        Some(split_run(b, csrs, opts.batch).await?)
    } else {
        None
    };
    Ok(IssueResult {
        rate: Stats::of(&rates),
        cpu_per_wall: Stats::of(&cpu),
        disk_bytes_per_cert: Stats::of(&disk),
        split,
    })
}

fn request(c: &Csr) -> Result<IssueRequest> {
    let v = kmn_pki::csr::parse_and_verify(&c.der)?;
    let subject = DistinguishedName::from_der_for_profile(&v.subject_der)?;
    Ok(IssueRequest {
        profile: ProfileKind::UserCard,
        validity: ValidityPeriod::Years5,
        subject,
        spki_der: v.spki_der,
        alt_names: vec![],
        hc_role: None,
        on_hold: false,
    })
}

/// The measured path: parse and verify each CSR, then `issue_batch` per `batch`.
pub async fn issue_all(b: &BenchCa, csrs: &[Csr], batch: usize) -> Result<usize> {
    let mut n = 0;
    for chunk in csrs.chunks(batch.max(1)) {
        let reqs = chunk.iter().map(request).collect::<Result<Vec<_>>>()?;
        let out = issue_batch(&b.app, &b.ca, &b.policies, reqs, b.app.clock.now(), "bench").await?;
        n += out.len();
    }
    Ok(n)
}

#[derive(Default)]
struct Clock {
    d: [Duration; 10],
}

const STEPS: [&str; 10] = [
    "CSR parse_and_verify",
    "subject from_der_for_profile",
    "build TBS + lint (cert::prepare)",
    "SQL: begin + insert_intent",
    "commit 1 (intents)",
    "sign (CA key)",
    "fingerprint + text (subject, audit summary)",
    "SQL: insert_certificate (2 INSERTs)",
    "SQL: append_audit (4 statements + hash)",
    "begin + commit 2 (certificates, audit)",
];

impl Clock {
    fn lap(&mut self, i: usize, t: &mut Instant) {
        let now = Instant::now();
        self.d[i] += now - *t;
        *t = now;
    }
}

/// A copy of `issue_batch` (crates/kmn-app/src/issue.rs) with a timer around each step.
async fn split_run(b: &BenchCa, csrs: &[Csr], batch: usize) -> Result<Split> {
    let app = &b.app;
    let ca = &b.ca;
    let mut c = Clock::default();
    let t_start = Instant::now();
    for chunk in csrs.chunks(batch.max(1)) {
        let mut t = Instant::now();
        let verified = chunk
            .iter()
            .map(|c| Ok(kmn_pki::csr::parse_and_verify(&c.der)?))
            .collect::<Result<Vec<_>>>()?;
        c.lap(0, &mut t);
        let mut reqs = Vec::with_capacity(verified.len());
        for v in verified {
            reqs.push(IssueRequest {
                profile: ProfileKind::UserCard,
                validity: ValidityPeriod::Years5,
                subject: DistinguishedName::from_der_for_profile(&v.subject_der)?,
                spki_der: v.spki_der,
                alt_names: vec![],
                hc_role: None,
                on_hold: false,
            });
        }
        c.lap(1, &mut t);
        let now_t = app.clock.now();
        let now = now_t.unix_timestamp();
        let mut prepared = Vec::with_capacity(reqs.len());
        for r in reqs {
            let not_after = r.validity.not_after(now_t);
            let tpl = CertTemplate {
                profile: r.profile,
                serial: kmn_app::ca::new_serial(),
                subject: r.subject,
                spki_der: r.spki_der,
                not_before: now_t,
                not_after,
                policies: b.policies.for_profile(r.profile),
                urls: Urls {
                    crl: Some(repo::url(app, &repo::crl_file(ca.name()))),
                    ocsp: Some(format!("{}/ocsp", app.cfg.public_base_url)),
                    ca_issuers: Some(repo::url(app, &repo::cert_file(ca.name()))),
                    cps: Some(format!("{}/repo/cps", app.cfg.public_base_url)),
                },
                alt_names: r.alt_names,
                hc_role: r.hc_role,
            };
            let expect = Expectations {
                policies: b.policies.for_profile(r.profile),
                validity: Some(r.validity),
                require_urls: true,
            };
            let linted = kmn_pki::cert::prepare(&tpl, &ca.info, &expect)?;
            prepared.push((tpl, r.validity, linted));
        }
        c.lap(2, &mut t);
        let mut tx = app.store_for_tests().begin().await?;
        for (tpl, _, linted) in &prepared {
            tx.insert_intent(
                &tpl.serial.to_hex(),
                ca.name(),
                tpl.profile.as_str(),
                linted.tbs(),
                now,
            )
            .await?;
        }
        c.lap(3, &mut t);
        tx.commit().await?;
        c.lap(4, &mut t);
        let mut signed = Vec::with_capacity(prepared.len());
        for (tpl, validity, linted) in prepared {
            let der = kmn_pki::cert::sign(linted, ca.signer.as_ref())?;
            signed.push((tpl, validity, der));
        }
        c.lap(5, &mut t);
        let mut tx = app.store_for_tests().begin().await?;
        c.lap(9, &mut t);
        for (tpl, validity, der) in signed {
            let fp = kmn_pki::cert::fingerprint_sha256(&der);
            let subject = tpl.subject.to_string();
            let serial_hex = tpl.serial.to_hex();
            let summary = format!(
                "issued {} certificate {serial_hex} for '{subject}' by {}, valid {} years until {}, SHA-256 {fp}",
                tpl.profile,
                ca.name(),
                validity.years(),
                kmn_domain::time_fmt::rfc3339(tpl.not_after)
            );
            let object = format!("cert:{serial_hex}");
            c.lap(6, &mut t);
            tx.insert_certificate(&NewCert {
                serial_hex: &serial_hex,
                serial: tpl.serial.as_bytes(),
                ca_name: ca.name(),
                profile: tpl.profile.as_str(),
                subject: &subject,
                not_before: now,
                not_after: tpl.not_after.unix_timestamp(),
                fingerprint_sha256: &fp,
                der: &der,
                issued_at: now,
                status: CertStatus::Valid,
            })
            .await?;
            c.lap(7, &mut t);
            tx.append_audit(&NewAuditEvent {
                at: now,
                actor: "bench",
                action: "cert.issue",
                object: &object,
                facility: None,
                summary: &summary,
            })
            .await?;
            c.lap(8, &mut t);
        }
        tx.commit().await?;
        c.lap(9, &mut t);
    }
    let total = t_start.elapsed();
    let n = csrs.len() as f64;

    // The floor: one prepared statement's round trip through the pool's connection.
    let mut tx = app.store_for_tests().begin().await?;
    let reps = 2000;
    let t = Instant::now();
    for _ in 0..reps {
        tx.setting("policy_arc").await?;
    }
    let floor = t.elapsed().as_secs_f64() * 1e6 / f64::from(reps);
    tx.rollback().await?;

    Ok(Split {
        steps: STEPS
            .iter()
            .zip(c.d.iter())
            .map(|(name, d)| (*name, d.as_secs_f64() * 1e6 / n))
            .collect(),
        total: total.as_secs_f64() * 1e6 / n,
        statement_floor: floor,
        // insert_intent 1, insert_certificate 2, append_audit 4; plus 2 BEGIN and 2
        // COMMIT per batch.
        statements_per_cert: 7.0 + 4.0 / batch.max(1) as f64,
        intents_single_vs_multi: if batch > 1 {
            Some(intents_experiment(app.store_for_tests().pool(), ca.name(), batch).await?)
        } else {
            None
        },
    })
}

/// Inserts about 5000 intents in batches of `batch`, once with one INSERT per row
/// (as `issue_batch` does) and once with one multi-row INSERT per batch.
async fn intents_experiment(
    pool: &sqlx::AnyPool,
    ca_name: &str,
    batch: usize,
) -> Result<(f64, f64)> {
    const INSERT: &str =
        "INSERT INTO issuance_intents (serial_hex, ca_name, profile, tbs_der, created_at) VALUES ";
    let tbs = vec![0x30u8; 800];
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let mut rng = Rng::from_time();
    let batches = (5000 / batch).max(1);
    let rows = (batches * batch) as f64;

    let single = format!("{INSERT}($1,$2,$3,$4,$5)");
    let t = Instant::now();
    for _ in 0..batches {
        let mut tx = pool.begin().await?;
        for _ in 0..batch {
            sqlx::query(AssertSqlSafe(single.as_str()))
                .bind(hex::encode(rng.serial16()))
                .bind(ca_name)
                .bind("user-card")
                .bind(&tbs[..])
                .bind(now)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
    }
    let single_us = t.elapsed().as_secs_f64() * 1e6 / rows;

    let mut multi = String::from(INSERT);
    for i in 0..batch {
        let p = 5 * i;
        let sep = if i == 0 { "" } else { "," };
        let _ = write!(
            multi,
            "{sep}(${},${},${},${},${})",
            p + 1,
            p + 2,
            p + 3,
            p + 4,
            p + 5
        );
    }
    let t = Instant::now();
    for _ in 0..batches {
        let mut tx = pool.begin().await?;
        let mut q = sqlx::query(AssertSqlSafe(multi.as_str()));
        for _ in 0..batch {
            q = q
                .bind(hex::encode(rng.serial16()))
                .bind(ca_name)
                .bind("user-card")
                .bind(&tbs[..])
                .bind(now);
        }
        q.execute(&mut *tx).await?;
        tx.commit().await?;
    }
    let multi_us = t.elapsed().as_secs_f64() * 1e6 / rows;
    Ok((single_us, multi_us))
}

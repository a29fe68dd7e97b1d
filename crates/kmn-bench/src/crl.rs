//! (c) CRLs: `crl::build_and_sign` time and peak memory (one size per process), the
//! database read (`Tx::crl_entries`) on SQLite, and `crl::publish_in_tx` end to end.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Result, ensure};
use kmn_domain::{CrlNumber, RevocationReason};
use kmn_pki::crl::{CrlEntry, CrlParams, build_and_sign};
use time::{Duration, OffsetDateTime};

use crate::setup::{self, Backend};
use crate::util::{Rng, join, result_line, vm_hwm_mb};

/// The reasons of entry `i`: a quarter each of keyCompromise (with an invalidityDate a
/// day before the revocation), superseded, affiliationChanged and cessationOfOperation.
/// The OpenSSL baseline's index.txt uses the same mix.
pub fn reason_of(i: usize) -> RevocationReason {
    match i % 4 {
        0 => RevocationReason::KeyCompromise,
        1 => RevocationReason::Superseded,
        2 => RevocationReason::AffiliationChanged,
        _ => RevocationReason::CessationOfOperation,
    }
}

/// One revoked certificate as generated: serial, revocation time, reason, invalidity.
#[derive(Clone, Copy, Debug)]
pub struct Revoked {
    /// 16 random octets, first one non-zero.
    pub serial: [u8; 16],
    /// revocationDate, Unix seconds.
    pub revoked_at: i64,
    /// Reason.
    pub reason: RevocationReason,
    /// invalidityDate (keyCompromise only).
    pub invalidity: Option<i64>,
}

/// `n` revocations within the last 30 days before `now`, sorted by serial.
pub fn revocations(n: usize, now: i64, rng: &mut Rng) -> Vec<Revoked> {
    let mut v: Vec<Revoked> = (0..n)
        .map(|i| {
            let revoked_at = now - 60 - (rng.next_u64() % (30 * 86_400)) as i64;
            let reason = reason_of(i);
            Revoked {
                serial: rng.serial16(),
                revoked_at,
                reason,
                invalidity: (reason == RevocationReason::KeyCompromise)
                    .then_some(revoked_at - 86_400),
            }
        })
        .collect();
    // Fixed width, so (length, bytes) order is byte order.
    v.sort_unstable_by_key(|r| r.serial);
    v.dedup_by_key(|r| r.serial);
    v
}

/// The CRL entries of [`revocations`].
pub fn entries(revs: &[Revoked]) -> Result<Vec<CrlEntry>> {
    revs.iter()
        .map(|r| {
            Ok(CrlEntry::new(
                &r.serial,
                r.revoked_at,
                r.reason,
                r.invalidity,
            )?)
        })
        .collect()
}

/// Child process `kmn-bench crl --data-dir D --entries N --runs R`: builds N entries,
/// then `build_and_sign` R times with the data dir's issuing CA; prints the times and
/// the process's peak memory (VmHWM) on a `RESULT` line.
pub fn child_build(data_dir: &Path, n: usize, runs: usize) -> Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let (app, ca) = rt.block_on(setup::open_existing(data_dir))?;
    let rt_mb = vm_hwm_mb();
    let now = OffsetDateTime::now_utc().replace_nanosecond(0)?;
    let mut rng = Rng::from_time();
    let revs = revocations(n, now.unix_timestamp(), &mut rng);
    let entries = entries(&revs)?;
    drop(revs);
    let params = CrlParams {
        number: CrlNumber(2),
        this_update: now,
        next_update: now + Duration::hours(48),
        previous: None,
    };
    let before_mb = vm_hwm_mb();
    let mut ms = Vec::new();
    let mut der_len = 0;
    for _ in 0..runs {
        let t = Instant::now();
        let crl = build_and_sign(&params, &entries, &ca.info, ca.signer.as_ref())?;
        ms.push(t.elapsed().as_secs_f64() * 1e3);
        ensure!(crl.entries == entries.len());
        der_len = crl.der.len();
        if n <= 100_000 && ms.len() == 1 {
            // The CRL reads back with the publisher's own check.
            kmn_app::ca::crl::check_crl(&crl.der, &ca.info.spki_der)?;
        }
    }
    let hwm = vm_hwm_mb();
    drop(app);
    println!(
        "{}",
        result_line(&[
            ("entries", entries.len().to_string()),
            ("build_ms", join(&ms)),
            ("der_bytes", der_len.to_string()),
            ("hwm_setup_mb", format!("{rt_mb:.1}")),
            ("hwm_entries_mb", format!("{before_mb:.1}")),
            ("hwm_mb", format!("{hwm:.1}")),
        ])
    );
    Ok(())
}

fn sql_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// Inserts revoked certificates straight into `issuance_intents`, `certificates` and
/// `cert_status` (see crates/kmn-store/migrations/sqlite/0001_foundation.sql), in one
/// transaction, 1000 rows a statement.
pub(crate) async fn insert_revoked(
    app: &kmn_app::App,
    ca_name: &str,
    revs: &[Revoked],
    now: i64,
) -> Result<()> {
    let ca = sql_quote(ca_name);
    let not_after = now + 5 * 365 * 86_400;
    // A blob literal in the backend's own syntax.
    let pg = app.store_for_tests().backend() == kmn_store::Backend::Postgres;
    let blob = |hex: &str| {
        if pg {
            format!("decode('{hex}','hex')")
        } else {
            format!("X'{hex}'")
        }
    };
    let zero = blob("00");
    let mut tx = app.store_for_tests().begin().await?;
    for chunk in revs.chunks(1000) {
        let mut intents = String::from(
            "INSERT INTO issuance_intents (serial_hex, ca_name, profile, tbs_der, created_at) VALUES ",
        );
        let mut certs = String::from(
            "INSERT INTO certificates (serial_hex, ca_name, profile, subject, not_before, not_after, \
             fingerprint_sha256, der, issued_at) VALUES ",
        );
        let mut status = String::from(
            "INSERT INTO cert_status (serial_hex, serial, ca_name, not_after, status, reason, \
             revoked_at, invalidity_date, updated_at) VALUES ",
        );
        for (i, r) in chunk.iter().enumerate() {
            let sep = if i == 0 { "" } else { "," };
            let hex = hex::encode(r.serial);
            let issued = r.revoked_at - 86_400 * 100;
            let _ = write!(intents, "{sep}('{hex}',{ca},'user-card',{zero},{issued})");
            let _ = write!(
                certs,
                "{sep}('{hex}',{ca},'user-card','CN=bench',{issued},{not_after},'{hex}',{zero},{issued})"
            );
            let inv = r
                .invalidity
                .map_or_else(|| "NULL".to_string(), |t| t.to_string());
            let _ = write!(
                status,
                "{sep}('{hex}',{},{ca},{not_after},'revoked',{},{},{inv},{})",
                blob(&hex),
                r.reason.code(),
                r.revoked_at,
                r.revoked_at
            );
        }
        tx.execute_raw(&intents).await?;
        tx.execute_raw(&certs).await?;
        tx.execute_raw(&status).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Child process `kmn-bench crl-db --entries N --runs R [--publish]`: a fresh SQLite data
/// dir with a CA and N revoked certificates; times `Tx::crl_entries` R times and, with
/// `--publish`, `crl::publish_in_tx` + commit R times (the first-CRL stamps are reset
/// between runs so that every run does the same work). `keep`: a new directory to use
/// and leave behind (for looking at the database afterwards) instead of a temporary one.
pub fn child_db(n: usize, runs: usize, publish: bool, keep: Option<PathBuf>) -> Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let tmp = tempfile::Builder::new()
        .prefix("kmn-bench-crl-db")
        .tempdir()?;
    let dir = match &keep {
        Some(k) => {
            std::fs::create_dir(k)?;
            k.clone()
        }
        None => tmp.path().to_path_buf(),
    };
    rt.block_on(async {
        let b = setup::make(&dir, &Backend::Sqlite, "crl").await?;
        let name = b.ca.name().to_string();
        let now = b.app.now();
        let revs = revocations(n, now - 5, &mut Rng::from_time());
        let t = Instant::now();
        insert_revoked(&b.app, &name, &revs, now).await?;
        let insert_s = t.elapsed().as_secs_f64();
        let n = revs.len();
        drop(revs);
        let hwm_insert = vm_hwm_mb();

        // First the suggested alternative (its peak memory is read before the store's).
        let mut alt_ms = Vec::new();
        for _ in 0..runs {
            let t = Instant::now();
            let v = read_compact(b.app.store_for_tests().pool(), &name, b.app.now()).await?;
            alt_ms.push(t.elapsed().as_secs_f64() * 1e3);
            ensure!(v.len() == n, "read {} entries of {n}", v.len());
        }
        let hwm_alt = vm_hwm_mb();
        let native_url = format!("sqlite://{}", dir.join("kmn.db").display());
        let native = sqlx::SqlitePool::connect(&native_url).await?;
        let mut native_ms = Vec::new();
        for _ in 0..runs {
            let t = Instant::now();
            let v = read_compact_native(&native, &name, b.app.now()).await?;
            native_ms.push(t.elapsed().as_secs_f64() * 1e3);
            ensure!(v.len() == n, "read {} entries of {n}", v.len());
        }
        native.close().await;
        let hwm_native = vm_hwm_mb();
        let (cli_sorted, cli_unsorted) =
            sqlite3_cli(&dir.join("kmn.db"), &name, b.app.now(), runs).unwrap_or_default();

        let mut read_ms = Vec::new();
        for _ in 0..runs {
            let mut tx = b.app.store_for_tests().begin().await?;
            let t = Instant::now();
            let rows = tx.crl_entries(&name, b.app.now()).await?;
            read_ms.push(t.elapsed().as_secs_f64() * 1e3);
            ensure!(rows.len() == n, "read {} rows of {n}", rows.len());
            drop(rows);
            tx.rollback().await?;
        }
        let hwm_read = vm_hwm_mb();

        let mut pub_ms = Vec::new();
        if publish {
            for _ in 0..runs {
                let mut tx = b.app.store_for_tests().begin().await?;
                tx.execute_raw(
                    "UPDATE cert_status SET first_crl_number = NULL, first_crl_published_at = NULL",
                )
                .await?;
                tx.commit().await?;
                let t = Instant::now();
                let mut tx = b.app.store_for_tests().begin().await?;
                let p = kmn_app::ca::crl::publish_in_tx(
                    &b.app,
                    &mut tx,
                    &name,
                    &b.ca.info,
                    b.ca.signer.as_ref(),
                    Duration::hours(48),
                    "bench",
                )
                .await?;
                tx.commit().await?;
                pub_ms.push(t.elapsed().as_secs_f64() * 1e3);
                ensure!(p.entries == n);
            }
        }
        let hwm_publish = vm_hwm_mb();
        b.finish().await?;
        println!(
            "{}",
            result_line(&[
                ("entries", n.to_string()),
                ("insert_s", format!("{insert_s:.2}")),
                ("read_ms", join(&read_ms)),
                ("publish_ms", join(&pub_ms)),
                ("alt_read_ms", join(&alt_ms)),
                ("hwm_alt_mb", format!("{hwm_alt:.1}")),
                ("native_read_ms", join(&native_ms)),
                ("cli_sorted_ms", join(&cli_sorted)),
                ("cli_unsorted_ms", join(&cli_unsorted)),
                ("hwm_native_mb", format!("{hwm_native:.1}")),
                ("hwm_insert_mb", format!("{hwm_insert:.1}")),
                ("hwm_read_mb", format!("{hwm_read:.1}")),
                ("hwm_publish_mb", format!("{hwm_publish:.1}")),
            ])
        );
        Ok(())
    })
}

/// What `Tx::crl_entries` + the conversion in `publish_in_tx` could be (the suggestion
/// in docs/PERFORMANCE.md): the same rows through the same pool, without `ORDER BY`
/// (SQLite sorts 1M rows in a temporary B-tree), each row mapped straight into a
/// compact [`CrlEntry`] as it arrives (no `Vec<AnyRow>`, no `Vec<u8>` per serial),
/// then sorted in memory by (length, bytes).
pub async fn read_compact(pool: &sqlx::AnyPool, ca_name: &str, now: i64) -> Result<Vec<CrlEntry>> {
    use sqlx::Row;
    let mut v = sqlx::query(COMPACT_SQL)
        .bind(ca_name)
        .bind(now)
        .try_map(|r: sqlx::any::AnyRow| {
            let serial: Vec<u8> = r.try_get(0)?;
            let code: i64 = r.try_get(2)?;
            let reason = RevocationReason::from_code(code as u8)
                .ok_or_else(|| sqlx::Error::Decode(format!("reason code {code}").into()))?;
            CrlEntry::new(&serial, r.try_get(1)?, reason, r.try_get(3)?)
                .map_err(|e| sqlx::Error::Decode(Box::new(e)))
        })
        .fetch_all(pool)
        .await?;
    v.sort_unstable_by(|a, b| (a.serial().len(), a.serial()).cmp(&(b.serial().len(), b.serial())));
    Ok(v)
}

const COMPACT_SQL: &str = "SELECT serial, CASE WHEN status = 'on_hold' THEN updated_at ELSE revoked_at END, \
     CASE WHEN status = 'on_hold' THEN 6 ELSE reason END, invalidity_date FROM cert_status \
     WHERE ca_name = $1 AND status IN ('revoked', 'on_hold') AND not_after >= $2";

/// [`read_compact`] through sqlx's native SQLite driver instead of `Any` (a second pool
/// on the same file): how much of the read is the `Any` layer's per-row conversion.
pub async fn read_compact_native(
    pool: &sqlx::SqlitePool,
    ca_name: &str,
    now: i64,
) -> Result<Vec<CrlEntry>> {
    use sqlx::Row;
    let mut v = sqlx::query(COMPACT_SQL)
        .bind(ca_name)
        .bind(now)
        .try_map(|r: sqlx::sqlite::SqliteRow| {
            let serial: &[u8] = r.try_get(0)?;
            let code: i64 = r.try_get(2)?;
            let reason = RevocationReason::from_code(code as u8)
                .ok_or_else(|| sqlx::Error::Decode(format!("reason code {code}").into()))?;
            CrlEntry::new(serial, r.try_get(1)?, reason, r.try_get(3)?)
                .map_err(|e| sqlx::Error::Decode(Box::new(e)))
        })
        .fetch_all(pool)
        .await?;
    v.sort_unstable_by(|a, b| (a.serial().len(), a.serial()).cmp(&(b.serial().len(), b.serial())));
    Ok(v)
}

/// The SQLite engine alone (the `sqlite3` shell, when installed): the store's query with
/// its ORDER BY, and without, each row's columns summed so that all are read.
fn sqlite3_cli(db: &Path, ca_name: &str, now: i64, runs: usize) -> Option<(Vec<f64>, Vec<f64>)> {
    let where_ = format!(
        "FROM cert_status WHERE ca_name = {} AND status IN ('revoked', 'on_hold') AND not_after >= {now}",
        sql_quote(ca_name)
    );
    let cols = "serial, revoked_at, reason, invalidity_date, status, updated_at";
    let outer = "SELECT count(*), sum(length(serial)), sum(revoked_at), sum(reason), \
                 sum(invalidity_date), sum(length(status)), sum(updated_at) FROM";
    let mut script = String::from(".timer on\n");
    for _ in 0..runs {
        let _ = writeln!(
            script,
            "{outer} (SELECT {cols} {where_} ORDER BY LENGTH(serial_hex), serial_hex);"
        );
    }
    for _ in 0..runs {
        let _ = writeln!(script, "{outer} (SELECT {cols} {where_});");
    }
    let mut child = std::process::Command::new("sqlite3")
        .arg(db)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .ok()?;
    {
        use std::io::Write as _;
        child.stdin.take()?.write_all(script.as_bytes()).ok()?;
    }
    let out = child.wait_with_output().ok()?;
    let times: Vec<f64> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.strip_prefix("Run Time: real "))
        .filter_map(|r| r.split_whitespace().next()?.parse::<f64>().ok())
        .map(|s| s * 1e3)
        .collect();
    (times.len() == 2 * runs).then(|| (times[..runs].to_vec(), times[runs..].to_vec()))
}

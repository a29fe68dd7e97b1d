//! `kmn-bench all` (and `cargo bench -p kmn-bench`): every figure, the OpenSSL peers and
//! the summary table, from one run.

use std::fmt::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{Context, Result, bail};

use crate::crypto::{self, CryptoResult};
use crate::csr::{self, CsrKind};
use crate::issue::{self, IssueOpts, IssueResult};
use crate::peer::{self, OpensslCrl, OpensslIssue, Speed};
use crate::setup::{self, Backend};
use crate::util::{Stats, parse_result, split};

/// What to run.
#[derive(Clone, Debug)]
pub struct Opts {
    /// Smaller counts, for trying the harness (figures are not comparable).
    pub quick: bool,
    /// PostgreSQL base URL; None skips PostgreSQL.
    pub pg_url: Option<String>,
    /// Run the OpenSSL peers.
    pub openssl: bool,
    /// Runs per figure (the median is reported); at least 5.
    pub runs: usize,
    /// Certificates per run at batch sizes 64 and 256.
    pub issue_count: usize,
    /// Certificates per run at batch size 1 (each certificate is two synced commits).
    pub issue_count_b1: usize,
    /// CRL sizes.
    pub crl_sizes: Vec<usize>,
}

impl Default for Opts {
    fn default() -> Self {
        Opts {
            quick: false,
            pg_url: Some(
                std::env::var("KMN_BENCH_PG_URL")
                    .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into()),
            ),
            openssl: true,
            runs: 5,
            issue_count: 5000,
            issue_count_b1: 5000,
            crl_sizes: vec![10_000, 100_000, 1_000_000],
        }
    }
}

impl Opts {
    /// Parses `--quick`, `--no-pg`, `--pg-url U`, `--no-openssl`, `--runs N`,
    /// `--count N`, `--count-b1 N`, `--crl-sizes a,b,c` (and ignores `--bench`).
    pub fn parse(args: &[String]) -> Result<Opts> {
        let mut o = Opts::default();
        let mut it = args.iter();
        while let Some(a) = it.next() {
            let mut val = || it.next().context(format!("{a} needs a value"));
            match a.as_str() {
                "--bench" => {}
                "--quick" => {
                    o.quick = true;
                    o.issue_count = 512;
                    o.issue_count_b1 = 100;
                    o.crl_sizes = vec![10_000, 100_000];
                }
                "--no-pg" => o.pg_url = None,
                "--pg-url" => o.pg_url = Some(val()?.clone()),
                "--no-openssl" => o.openssl = false,
                "--runs" => o.runs = val()?.parse()?,
                "--count" => o.issue_count = val()?.parse()?,
                "--count-b1" => o.issue_count_b1 = val()?.parse()?,
                "--crl-sizes" => {
                    o.crl_sizes = val()?
                        .split(',')
                        .map(|s| s.parse())
                        .collect::<Result<_, _>>()?
                }
                other => bail!("unknown option {other}"),
            }
        }
        if o.runs < 5 && !o.quick {
            bail!("--runs must be at least 5 (medians of at least 5 runs)");
        }
        Ok(o)
    }
}

/// Runs a child `kmn-bench` and returns its `RESULT` line.
fn child(exe: &Path, args: &[String]) -> Result<std::collections::BTreeMap<String, String>> {
    let out = Command::new(exe)
        .args(args)
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .with_context(|| format!("running {}", exe.display()))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        bail!("{} {} failed: {stdout}", exe.display(), args.join(" "));
    }
    parse_result(&stdout).context("the child printed no RESULT line")
}

fn f(m: &std::collections::BTreeMap<String, String>, k: &str) -> f64 {
    m.get(k).and_then(|v| v.parse().ok()).unwrap_or(f64::NAN)
}

struct CrlRow {
    entries: usize,
    build_ms: Stats,
    der_mb: f64,
    hwm_mb: f64,
    read_ms: Option<Stats>,
    hwm_read_mb: f64,
    alt_ms: Option<Stats>,
    hwm_alt_mb: f64,
    native_ms: Option<Stats>,
    cli_sorted_ms: Option<Stats>,
    cli_unsorted_ms: Option<Stats>,
    publish_ms: Option<Stats>,
    hwm_publish_mb: f64,
}

fn machine() -> String {
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("model name"))
                .map(|v| v.trim_start_matches([' ', '\t', ':']).to_string())
        })
        .unwrap_or_else(|| "?".into());
    let mem = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0 / 1024.0);
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let load: Vec<&str> = load.split_whitespace().take(3).collect();
    format!(
        "{cpus} CPUs ({model}), {mem:.0} GiB, load average {}",
        load.join(" ")
    )
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .next()
        .unwrap_or("?")
        .to_string()
}

/// Share of the instrumented run's time spent in the two operations of (a).
fn crypto_share(r: &IssueResult) -> f64 {
    let Some(s) = &r.split else {
        return f64::NAN;
    };
    let of = |n: &str| {
        s.steps
            .iter()
            .find(|(name, _)| *name == n)
            .map_or(0.0, |(_, us)| *us)
    };
    100.0 * (of("CSR parse_and_verify") + of("sign (CA key)")) / s.total
}

fn ratio(a: f64, b: f64) -> String {
    if a.is_finite() && b.is_finite() && b > 0.0 {
        let r = a / b;
        if r < 0.1 {
            format!("{r:.3}")
        } else {
            format!("{r:.2}")
        }
    } else {
        "n/a".into()
    }
}

fn met(ok: bool) -> &'static str {
    if ok { "met" } else { "NOT met" }
}

/// Everything. `exe` is the `kmn-bench` binary (for the one-size-per-process CRL runs).
pub fn run_all(exe: &Path, o: &Opts) -> Result<()> {
    let started = Instant::now();
    let date = time::OffsetDateTime::now_utc();
    println!("# kmn-pki foundation benchmark");
    println!(
        "date {}; {}",
        kmn_domain::time_fmt::rfc3339(date),
        machine()
    );
    let ossl = if o.openssl { peer::version() } else { None };
    println!(
        "peer: {}",
        ossl.as_deref().unwrap_or("none (OpenSSL not run)")
    );
    if o.quick {
        println!("QUICK MODE: small counts, figures not comparable");
    }
    let runs = o.runs;

    // (a)
    println!("\n## (a) crypto limit of issuance (one core, P-256 CA key)");
    let a: CryptoResult = crypto::run(runs.max(7))?;
    println!(
        "CA Signer::sign (P-256, {} octets): {}",
        a.tbs_len,
        a.sign.show(2, "µs")
    );
    for k in &a.kinds {
        println!(
            "{} CSR: verify_signature {}; over 256 distinct keys {}; parse_and_verify {}; subject from_der_for_profile {}; limit {:.0} certs/s",
            k.kind.as_str(),
            k.verify.show(2, "µs"),
            k.verify_distinct.show(2, "µs"),
            k.parse_and_verify.show(2, "µs"),
            k.subject.show(2, "µs"),
            k.limit
        );
    }
    let speed: Option<Speed> = if ossl.is_some() {
        match peer::speed() {
            Ok(s) => {
                println!(
                    "openssl speed: RSA-2048 verify {:.0}/s, P-256 sign {:.0}/s, P-256 verify {:.0}/s",
                    s.rsa2048_verify, s.p256_sign, s.p256_verify
                );
                Some(s)
            }
            Err(e) => {
                println!("openssl speed: {e}");
                None
            }
        }
    } else {
        None
    };

    // (b)
    println!("\n## (b) bulk issuance, CSR in → certificate stored durably, current_thread runtime");
    let need = o.issue_count.max(o.issue_count_b1);
    let mut csrs = Vec::new();
    for kind in CsrKind::ALL {
        let t = Instant::now();
        csrs.push((kind, csr::many(kind, need, 32)?));
        eprintln!(
            "  made {need} {} CSRs in {:.1} s",
            kind.as_str(),
            t.elapsed().as_secs_f64()
        );
    }
    let mut backends = vec![Backend::Sqlite];
    if let Some(u) = &o.pg_url {
        backends.push(Backend::Postgres(u.clone()));
    }
    let mut b_rows: Vec<(String, CsrKind, usize, usize, Result<IssueResult>)> = Vec::new();
    for backend in &backends {
        for (kind, list) in &csrs {
            for batch in [1usize, 64, 256] {
                let count = if batch == 1 {
                    o.issue_count_b1
                } else {
                    o.issue_count
                };
                let opts = IssueOpts {
                    backend: backend.clone(),
                    batch,
                    count,
                    runs,
                    kind: *kind,
                    split: true,
                };
                let t = Instant::now();
                let r = issue::run(&opts, list);
                match &r {
                    Ok(r) => println!(
                        "{} {} batch {batch:>3}: {} certs/run → {} ; CPU/wall {:.2}; {:.1} kB written/cert  [{:.0} s, load {}]",
                        backend.name(),
                        kind.as_str(),
                        count,
                        r.rate.show(0, "certs/s"),
                        r.cpu_per_wall.median,
                        r.disk_bytes_per_cert.median / 1e3,
                        t.elapsed().as_secs_f64(),
                        loadavg()
                    ),
                    Err(e) => println!(
                        "{} {} batch {batch}: FAILED: {e:#}",
                        backend.name(),
                        kind.as_str()
                    ),
                }
                b_rows.push((backend.name().to_string(), *kind, batch, count, r));
            }
        }
    }
    println!("\n### where the time goes (instrumented copy of issue_batch, µs per certificate)");
    for (store, kind, batch, _, r) in &b_rows {
        let Ok(IssueResult { split: Some(s), .. }) = r else {
            continue;
        };
        let mut line = format!(
            "{store} {} batch {batch}: total {:.1} µs/cert;",
            kind.as_str(),
            s.total
        );
        for (name, us) in &s.steps {
            let _ = write!(line, " {name} {us:.1};");
        }
        let _ = write!(
            line,
            " [{:.1} SQL statements/cert, one prepared-statement round trip {:.1} µs]",
            s.statements_per_cert, s.statement_floor
        );
        if let Some((one, multi)) = s.intents_single_vs_multi {
            let _ = write!(
                line,
                " [intents µs/row with commit: one INSERT per row {one:.1}, one multi-row INSERT per batch {multi:.1}]"
            );
        }
        println!("{line}");
    }
    let mut ossl_issue: Vec<OpensslIssue> = Vec::new();
    if ossl.is_some() {
        for kind in CsrKind::ALL {
            match peer::issue(kind, 200, runs) {
                Ok(r) => {
                    println!(
                        "openssl ca -batch, {} CSRs, {} certs: one process per cert {}; one process (-infiles) {}",
                        kind.as_str(),
                        r.count,
                        r.per_process.show(0, "certs/s"),
                        r.one_process.show(0, "certs/s")
                    );
                    ossl_issue.push(r);
                }
                Err(e) => println!("openssl ca -batch: {e:#}"),
            }
        }
    }

    // (c)
    println!("\n## (c) CRL build + sign (one size per process), database read, publish");
    let crl_dir = tempfile::Builder::new().prefix("kmn-bench-crl").tempdir()?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let b = setup::make(crl_dir.path(), &Backend::Sqlite, "crl").await?;
        b.finish().await
    })?;
    let mut crl_rows = Vec::new();
    for &n in &o.crl_sizes {
        let m = child(
            exe,
            &[
                "crl".into(),
                "--data-dir".into(),
                crl_dir.path().display().to_string(),
                "--entries".into(),
                n.to_string(),
                "--runs".into(),
                runs.to_string(),
            ],
        )?;
        let build_ms = Stats::of(&split(&m["build_ms"]));
        println!(
            "{n} entries: build_and_sign {}; DER {:.1} MB; peak {:.1} MB (process after setup {:.1}, with entries {:.1})",
            build_ms.show(1, "ms"),
            f(&m, "der_bytes") / 1e6,
            f(&m, "hwm_mb"),
            f(&m, "hwm_setup_mb"),
            f(&m, "hwm_entries_mb")
        );
        let db = child(
            exe,
            &[
                "crl-db".into(),
                "--entries".into(),
                n.to_string(),
                "--runs".into(),
                runs.to_string(),
                "--publish".into(),
            ],
        );
        let stats = |d: &std::collections::BTreeMap<String, String>, k: &str| {
            let v = Stats::of(&split(d.get(k).map_or("", |s| s.as_str())));
            (v.n > 0).then_some(v)
        };
        let mut row = CrlRow {
            entries: n,
            build_ms,
            der_mb: f(&m, "der_bytes") / 1e6,
            hwm_mb: f(&m, "hwm_mb"),
            read_ms: None,
            hwm_read_mb: f64::NAN,
            alt_ms: None,
            hwm_alt_mb: f64::NAN,
            native_ms: None,
            cli_sorted_ms: None,
            cli_unsorted_ms: None,
            publish_ms: None,
            hwm_publish_mb: f64::NAN,
        };
        match &db {
            Ok(d) => {
                row.read_ms = stats(d, "read_ms");
                row.alt_ms = stats(d, "alt_read_ms");
                row.native_ms = stats(d, "native_read_ms");
                row.cli_sorted_ms = stats(d, "cli_sorted_ms");
                row.cli_unsorted_ms = stats(d, "cli_unsorted_ms");
                row.publish_ms = stats(d, "publish_ms");
                row.hwm_read_mb = f(d, "hwm_read_mb");
                row.hwm_alt_mb = f(d, "hwm_alt_mb");
                row.hwm_publish_mb = f(d, "hwm_publish_mb");
                let show = |s: Option<Stats>| s.map_or("n/a".into(), |s| s.show(1, "ms"));
                println!(
                    "{n} entries, SQLite: Tx::crl_entries {} (process peak {:.1} MB); publish_in_tx + commit {} (peak {:.1} MB); streamed compact read without ORDER BY {} (peak {:.1} MB); [{n} rows inserted in {:.1} s, peak {:.1} MB]",
                    show(row.read_ms),
                    row.hwm_read_mb,
                    show(row.publish_ms),
                    row.hwm_publish_mb,
                    show(row.alt_ms),
                    row.hwm_alt_mb,
                    f(d, "insert_s"),
                    f(d, "hwm_insert_mb")
                );
                println!(
                    "{n} entries, the same read elsewhere: through sqlx's native SQLite driver {}; sqlite3 shell with the ORDER BY {}, without {}",
                    show(row.native_ms),
                    show(row.cli_sorted_ms),
                    show(row.cli_unsorted_ms)
                );
            }
            Err(e) => println!("{n} entries: database read FAILED: {e:#}"),
        }
        crl_rows.push(row);
    }
    drop(crl_dir);
    let peer_n = *o.crl_sizes.iter().max().unwrap_or(&0);
    let ossl_crl: Option<OpensslCrl> = if ossl.is_some() && peer_n > 0 {
        match peer::gencrl(peer_n, runs) {
            Ok(r) => {
                println!(
                    "openssl ca -gencrl, {peer_n} entries: {}; max RSS {}",
                    r.ms.show(0, "ms"),
                    r.max_rss_mb.show(1, "MB")
                );
                Some(r)
            }
            Err(e) => {
                println!("openssl ca -gencrl: {e:#}");
                None
            }
        }
    } else {
        None
    };

    // Summary.
    let mut s = String::new();
    let _ = writeln!(s, "\n# Summary (medians of {runs} runs)");
    let _ = writeln!(s, "\n(a) crypto limit, one core, P-256 CA key");
    let _ = writeln!(
        s,
        "| CSR | t_verify µs | t_sign µs | limit certs/s | OpenSSL limit certs/s | ours / OpenSSL |"
    );
    let _ = writeln!(s, "|---|---:|---:|---:|---:|---:|");
    for k in &a.kinds {
        let peer_limit = speed.map(|sp| {
            let v = match k.kind {
                CsrKind::Rsa2048 => sp.rsa2048_verify,
                CsrKind::P256 => sp.p256_verify,
            };
            1.0 / (1.0 / v + 1.0 / sp.p256_sign)
        });
        let _ = writeln!(
            s,
            "| {} | {:.1} | {:.1} | {:.0} | {} | {} |",
            k.kind.as_str(),
            k.verify.median,
            a.sign.median,
            k.limit,
            peer_limit.map_or("n/a".into(), |v| format!("{v:.0}")),
            peer_limit.map_or("n/a".into(), |v| ratio(k.limit, v))
        );
    }
    let _ = writeln!(
        s,
        "\n(b) bulk issuance, CSR in → stored durably, current_thread runtime (target ≥ 50 % of (a))"
    );
    let _ = writeln!(
        s,
        "| store | CSR | batch | certs/run | certs/s | % of (a) | target | crypto share of time (split) | CPU/wall | kB written/cert | ours / openssl ca (1 proc/cert) | ours / openssl ca (-infiles) |"
    );
    let _ = writeln!(
        s,
        "|---|---|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|"
    );
    for (store, kind, batch, count, r) in &b_rows {
        let limit = a
            .kinds
            .iter()
            .find(|k| k.kind == *kind)
            .map_or(f64::NAN, |k| k.limit);
        let peer = ossl_issue.iter().find(|p| p.kind == *kind);
        match r {
            Ok(r) => {
                let pct = 100.0 * r.rate.median / limit;
                let _ = writeln!(
                    s,
                    "| {store} | {} | {batch} | {count} | {:.0} | {pct:.1} % | {} | {:.1} % | {:.2} | {} | {} | {} |",
                    kind.as_str(),
                    r.rate.median,
                    met(pct >= 50.0),
                    crypto_share(r),
                    r.cpu_per_wall.median,
                    if store == "SQLite" {
                        format!("{:.1}", r.disk_bytes_per_cert.median / 1e3)
                    } else {
                        "n/a".into()
                    },
                    peer.map_or("n/a".into(), |p| ratio(r.rate.median, p.per_process.median)),
                    peer.map_or("n/a".into(), |p| ratio(r.rate.median, p.one_process.median)),
                );
            }
            Err(e) => {
                let _ = writeln!(
                    s,
                    "| {store} | {} | {batch} | {count} | failed: {e} | | | | | | | |",
                    kind.as_str()
                );
            }
        }
    }
    for p in &ossl_issue {
        let _ = writeln!(
            s,
            "| openssl ca -batch (no fsync) | {} | 1 proc/cert | {} | {:.0} | | | | | | | |",
            p.kind.as_str(),
            p.count,
            p.per_process.median
        );
        let _ = writeln!(
            s,
            "| openssl ca -batch -infiles (no fsync) | {} | {} | {} | {:.0} | | | | | | | |",
            p.kind.as_str(),
            p.count,
            p.count,
            p.one_process.median
        );
    }
    let _ = writeln!(
        s,
        "\n(c) CRL (P-256 CA; targets for 1M entries: build+sign ≤ 500 ms, ≤ 250 MB)"
    );
    let _ = writeln!(
        s,
        "| entries | build+sign ms | peak MB (process) | DER MB | SQLite crl_entries ms | peak MB with read | publish_in_tx+commit ms | peak MB with publish | compact read, no ORDER BY, Any ms (suggestion) | its peak MB | same, native sqlx-sqlite ms | sqlite3 shell ms, sorted / unsorted |"
    );
    let _ = writeln!(
        s,
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    );
    let med = |x: Option<Stats>| x.map_or("n/a".into(), |x| format!("{:.1}", x.median));
    for r in &crl_rows {
        let _ = writeln!(
            s,
            "| {} | {:.1} | {:.1} | {:.1} | {} | {:.1} | {} | {:.1} | {} | {:.1} | {} | {} / {} |",
            r.entries,
            r.build_ms.median,
            r.hwm_mb,
            r.der_mb,
            med(r.read_ms),
            r.hwm_read_mb,
            med(r.publish_ms),
            r.hwm_publish_mb,
            med(r.alt_ms),
            r.hwm_alt_mb,
            med(r.native_ms),
            med(r.cli_sorted_ms),
            med(r.cli_unsorted_ms),
        );
    }
    if let Some(p) = &ossl_crl {
        let _ = writeln!(
            s,
            "| openssl ca -gencrl {} | {:.1} | {:.1} | | | | | | | | | |",
            p.entries, p.ms.median, p.max_rss_mb.median
        );
    }
    if let Some(big) = crl_rows.iter().find(|r| r.entries == 1_000_000) {
        let _ = writeln!(
            s,
            "1M build+sign: {:.0} ms (target ≤ 500: {}), peak {:.0} MB (target ≤ 250: {})",
            big.build_ms.median,
            met(big.build_ms.median <= 500.0),
            big.hwm_mb,
            met(big.hwm_mb <= 250.0)
        );
        if let Some(rd) = big.read_ms {
            let _ = writeln!(
                s,
                "1M with the database read: {:.0} ms, peak {:.0} MB (read alone); publish end to end {} ms, peak {:.0} MB",
                rd.median + big.build_ms.median,
                big.hwm_read_mb,
                big.publish_ms
                    .map_or("n/a".into(), |p| format!("{:.0}", p.median)),
                big.hwm_publish_mb
            );
        }
        if let Some(p) = ossl_crl.as_ref().filter(|p| p.entries == big.entries) {
            let _ = writeln!(
                s,
                "vs openssl ca -gencrl (1M): time {} ×, memory {} × (ours / OpenSSL; below 1 is better)",
                ratio(big.build_ms.median, p.ms.median),
                ratio(big.hwm_mb, p.max_rss_mb.median)
            );
        }
    }
    let _ = writeln!(
        s,
        "\ntotal benchmark time {:.0} s",
        started.elapsed().as_secs_f64()
    );
    println!("{s}");
    Ok(())
}

//! kmn-bench: the foundation benchmark of kmn-pki. Not a test and not run in CI.
//!
//! `bench/run` (or `cargo bench -p kmn-bench`) prints, from one run:
//! (a) the crypto limit of issuance, 1 / (t_verify + t_sign), for RSA-2048 and P-256
//! CSRs under a P-256 CA ([`crypto`]); (b) bulk issuance through
//! `kmn_app::ca::issue::issue_batch` on one current_thread runtime, SQLite and PostgreSQL,
//! batch sizes 1, 64 and 256, with a per-step split ([`issue`]); (c) CRL build + sign
//! time and peak memory, one size per process, the database read and publication end
//! to end ([`crl`]); and OpenSSL on the same machine as the peer baseline ([`peer`]).
#![forbid(unsafe_code)]

pub mod api_load;
pub mod card_fixture;
pub mod crl;
pub mod crypto;
pub mod csr;
pub mod gateway;
pub mod holder_timing;
pub mod issue;
pub mod latency;
pub mod peer;
pub mod runner;
pub mod setup;
pub mod util;

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

const USAGE: &str = "usage: kmn-bench [all] [--quick] [--no-pg] [--pg-url URL] [--no-openssl] [--runs N] [--count N] [--count-b1 N] [--crl-sizes a,b,c]
       kmn-bench crypto
       kmn-bench issue [--store sqlite|postgres] [--csr rsa2048|p256] [--batch N] [--count N] [--runs N] [--pg-url URL]
       kmn-bench crl --data-dir DIR --entries N [--runs N]
       kmn-bench crl-db --entries N [--runs N] [--publish] [--keep NEW_DIR]
       kmn-bench init --data-dir DIR   (a SQLite data dir with a CA, for `crl`)
       kmn-bench openssl-issue [--csr rsa2048|p256] [--count N] [--runs N]
       kmn-bench openssl-crl --entries N [--runs N]
       kmn-bench csr [--csr rsa2048|p256] --out FILE.pem
       kmn-bench revocation-latency [--store sqlite|postgres] [--entries N] [--runs N] [--pg-url URL]   (issue 10)
       kmn-bench holder-timing [--store sqlite|postgres] [--runs N] [--pg-url URL]   (issue 10: unknown card vs wrong code)
       kmn-bench card-applications --data-dir DIR --facility CODE --holders H1,H2,…   (for bench/cards)";

/// Named options of the single-figure subcommands.
struct Args(Vec<String>);

impl Args {
    fn get(&self, name: &str) -> Option<&str> {
        let i = self.0.iter().position(|a| a == name)?;
        self.0.get(i + 1).map(|s| s.as_str())
    }
    fn num(&self, name: &str, default: usize) -> Result<usize> {
        self.get(name).map_or(Ok(default), |v| {
            v.parse().with_context(|| format!("{name} {v}"))
        })
    }
    /// `--store sqlite|postgres` (default sqlite) with `--pg-url`.
    fn backend(&self) -> Result<setup::Backend> {
        Ok(match self.get("--store").unwrap_or("sqlite") {
            "sqlite" => setup::Backend::Sqlite,
            "postgres" => setup::Backend::Postgres(
                self.get("--pg-url")
                    .unwrap_or("postgres://postgres@127.0.0.1:5432/test")
                    .to_string(),
            ),
            o => bail!("unknown store {o}"),
        })
    }
    fn has(&self, name: &str) -> bool {
        self.0.iter().any(|a| a == name)
    }
}

/// The command line of the `kmn-bench` binary and of the `foundation` bench; `exe` is
/// the `kmn-bench` binary that runs the one-size-per-process measurements.
pub fn main_with(exe: &Path, args: Vec<String>) -> Result<()> {
    let (cmd, rest) = match args.first().map(|s| s.as_str()) {
        None => ("all", vec![]),
        Some(a) if a.starts_with("--") => ("all", args.clone()),
        Some(a) => (a, args[1..].to_vec()),
    };
    let a = Args(rest.clone());
    match cmd {
        "all" => runner::run_all(exe, &runner::Opts::parse(&rest)?),
        "api" => {
            // Issue 3: applications submitted and approved per second through the REST API.
            let holders = a.num("--holders", 100_000)?;
            let apps = a.num("--apps", 2000)?;
            let conns = a.num("--conns", 8)?;
            let rt = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()?;
            let mut targets = vec![("sqlite".to_string(), None)];
            if !a.has("--no-pg") {
                targets.push((
                    "postgres".to_string(),
                    Some(
                        a.get("--pg-url")
                            .unwrap_or("postgres://postgres@127.0.0.1:5432/test")
                            .to_string(),
                    ),
                ));
            }
            for (name, pg) in targets {
                let r = rt.block_on(async {
                    let (url, _dir, schema) = match pg {
                        None => {
                            let d = tempfile::tempdir()?;
                            (
                                format!("sqlite://{}", d.path().join("api.db").display()),
                                Some(d),
                                None,
                            )
                        }
                        Some(base) => {
                            let schema = format!("bench_api_{}", std::process::id());
                            (
                                kmn_store::create_test_schema(&base, &schema).await?,
                                None,
                                Some((base, schema)),
                            )
                        }
                    };
                    let r = api_load::run(&url, &name, holders, apps, conns).await;
                    if let Some((base, schema)) = schema {
                        let pool = sqlx::any::AnyPoolOptions::new()
                            .max_connections(1)
                            .connect(&base)
                            .await?;
                        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE")))
                            .execute(&pool)
                            .await?;
                    }
                    r
                })?;
                println!(
                    "API {}: {} holders, {} applications created+submitted+approved in {:.1} s → {:.0} applications/s ({:.0} requests/s), {} connections",
                    r.backend,
                    r.holders,
                    r.applications,
                    r.seconds,
                    r.apps_per_sec,
                    r.apps_per_sec * 3.0,
                    conns
                );
                for (k, p50, p99) in &r.latencies {
                    println!("  {k:<8} p50 {p50:6.2} ms  p99 {p99:6.2} ms");
                }
            }
            Ok(())
        }
        "crypto" => {
            let r = crypto::run(a.num("--runs", 7)?)?;
            println!("CA sign (P-256): {}", r.sign.show(2, "µs"));
            for k in r.kinds {
                println!(
                    "{}: verify {}; verify (distinct keys) {}; parse_and_verify {}; subject {}; limit {:.0} certs/s",
                    k.kind.as_str(),
                    k.verify.show(2, "µs"),
                    k.verify_distinct.show(2, "µs"),
                    k.parse_and_verify.show(2, "µs"),
                    k.subject.show(2, "µs"),
                    k.limit
                );
            }
            Ok(())
        }
        "issue" => {
            let backend = a.backend()?;
            let kind: csr::CsrKind = a.get("--csr").unwrap_or("p256").parse()?;
            let opts = issue::IssueOpts {
                backend,
                batch: a.num("--batch", 64)?,
                count: a.num("--count", 5000)?,
                runs: a.num("--runs", 5)?,
                kind,
                split: true,
            };
            let csrs = csr::many(kind, opts.count, 32)?;
            let r = issue::run(&opts, &csrs)?;
            println!(
                "{} {} batch {}: {} ; CPU/wall {:.2}; {:.1} kB written/cert",
                opts.backend.name(),
                kind.as_str(),
                opts.batch,
                r.rate.show(0, "certs/s"),
                r.cpu_per_wall.median,
                r.disk_bytes_per_cert.median / 1e3
            );
            if let Some(s) = r.split {
                println!("split, µs per certificate (total {:.1}):", s.total);
                for (name, us) in s.steps {
                    println!("  {us:8.1}  {name}");
                }
                println!(
                    "  {:.1} statements/cert; one prepared-statement round trip {:.1} µs",
                    s.statements_per_cert, s.statement_floor
                );
                if let Some((one, multi)) = s.intents_single_vs_multi {
                    println!(
                        "  intents, µs/row with commit: one INSERT per row {one:.1}; one multi-row INSERT per batch {multi:.1}"
                    );
                }
            }
            Ok(())
        }
        "holder-timing" => {
            let backend = a.backend()?;
            let (unknown, wrong) = holder_timing::run(&backend, a.num("--runs", 400)?)?;
            println!(
                "{}: the holders' form refusing an unknown card number {} and a wrong code {}; unknown / wrong {:.3}",
                backend.name(),
                unknown.show(0, "µs"),
                wrong.show(0, "µs"),
                unknown.median / wrong.median.max(1e-9)
            );
            Ok(())
        }
        "revocation-latency" => {
            let backend = a.backend()?;
            let f = latency::run(&backend, a.num("--entries", 100_000)?, a.num("--runs", 9)?)?;
            println!(
                "{} with {} revoked entries: revocation → commit {}; → OCSP revoked {}; → CRL published {}; baseline build+sign of the CRL alone {}; CRL / baseline {:.1}",
                backend.name(),
                f.entries,
                f.commit_ms.show(1, "ms"),
                f.ocsp_ms.show(1, "ms"),
                f.crl_ms.show(1, "ms"),
                f.build_ms.show(1, "ms"),
                f.crl_ms.median / f.build_ms.median.max(1e-9)
            );
            Ok(())
        }
        "crl" => crl::child_build(
            &PathBuf::from(a.get("--data-dir").context("--data-dir")?),
            a.num("--entries", 10_000)?,
            a.num("--runs", 5)?,
        ),
        "gateway-crl" => gateway::make_crl(
            &PathBuf::from(a.get("--data-dir").context("--data-dir")?),
            a.num("--entries", 0)?,
            a.num("--number", 1000)? as u64,
            &a.get("--include")
                .unwrap_or("")
                .split(',')
                .map(str::to_string)
                .collect::<Vec<_>>(),
            &PathBuf::from(a.get("--out").context("--out")?),
        ),
        "tls-load" => gateway::load(
            a.get("--addr").context("--addr")?,
            &PathBuf::from(a.get("--ca").context("--ca")?),
            a.get("--clients").context("--clients")?,
            a.num("--conns", 16)?,
            a.num("--secs", 5)? as u64,
            a.has("--keepalive"),
            a.get("--path").unwrap_or("/"),
        ),
        "crl-db" => crl::child_db(
            a.num("--entries", 10_000)?,
            a.num("--runs", 5)?,
            a.has("--publish"),
            a.get("--keep").map(PathBuf::from),
        ),
        "init" => {
            let dir = PathBuf::from(a.get("--data-dir").context("--data-dir")?);
            std::fs::create_dir_all(&dir)?;
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?
                .block_on(async {
                    setup::make(&dir, &setup::Backend::Sqlite, "init")
                        .await?
                        .finish()
                        .await
                })
        }
        "openssl-issue" => {
            let kind: csr::CsrKind = a.get("--csr").unwrap_or("p256").parse()?;
            let r = peer::issue(kind, a.num("--count", 200)?, a.num("--runs", 5)?)?;
            println!(
                "openssl ca -batch {} x{}: per process {}; -infiles {}",
                kind.as_str(),
                r.count,
                r.per_process.show(0, "certs/s"),
                r.one_process.show(0, "certs/s")
            );
            Ok(())
        }
        "openssl-crl" => {
            let r = peer::gencrl(a.num("--entries", 1_000_000)?, a.num("--runs", 5)?)?;
            println!(
                "openssl ca -gencrl {}: {}; max RSS {}",
                r.entries,
                r.ms.show(0, "ms"),
                r.max_rss_mb.show(1, "MB")
            );
            Ok(())
        }
        "csr" => {
            let kind: csr::CsrKind = a.get("--csr").unwrap_or("p256").parse()?;
            let c = csr::many(kind, 1, 1)?.remove(0);
            std::fs::write(a.get("--out").context("--out")?, csr::to_pem(&c.der))?;
            Ok(())
        }
        "card-applications" => {
            // bench/cards: the desk's part (draft and submit) for registered holders.
            let dir = PathBuf::from(a.get("--data-dir").context("--data-dir")?);
            let facility = a.get("--facility").context("--facility")?.to_string();
            let holders: Vec<String> = a
                .get("--holders")
                .context("--holders")?
                .split(',')
                .filter(|h| !h.is_empty())
                .map(str::to_string)
                .collect();
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?
                .block_on(card_fixture::draft_and_submit(&dir, &facility, &holders))
        }
        "help" | "-h" | "--help" => {
            println!("{USAGE}");
            Ok(())
        }
        other => bail!("unknown subcommand {other}\n{USAGE}"),
    }
}

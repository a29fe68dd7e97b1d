//! `kmn gateway`: the mTLS reverse proxy in front of the network's services (kmn-gateway;
//! docs/GATEWAY.md). It runs beside a service, not on the CA: it needs no data dir.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;

/// The configuration file option shared by every subcommand.
#[derive(clap::Args, Debug, Clone)]
pub struct ConfigArg {
    /// The gateway's TOML file (docs/GATEWAY.md lists every key).
    #[arg(long, env = "KMN_GATEWAY_CONFIG", default_value = "kmn-gateway.toml")]
    pub config: PathBuf,
}

#[derive(Subcommand, Debug)]
pub enum GatewayCommand {
    /// Run the gateway: listen on HTTPS, request a client certificate, check it on every
    /// request (kmn-verify with CRLs refetched every ≤ 5 minutes and optional OCSP; HPKI
    /// physician cards under [[hpki]] anchors with the doctor registry; facility binding
    /// 第4条2), forward to the upstream with X-KMN-* identity headers, and keep the login
    /// record. Prints `kmn gateway: listening on https://ADDR` when ready; stops on
    /// SIGTERM/SIGINT (closing open sessions); SIGHUP does what `reload` does.
    Run(ConfigArg),
    /// Tell a running gateway to refetch every CRL now, empty its doctor registry cache and
    /// ask OCSP again for every certificate seen (through its admin socket); prints one
    /// line per CRL and per part. Connections stay open; a revoked card or an ended
    /// doctor's binding is refused at its next request. Exit 0 when every CRL was
    /// fetched, 1 otherwise.
    Reload(ConfigArg),
    /// Show a running gateway's CRL sources: CRL number, entries, age, failures.
    Status(ConfigArg),
    /// Check the configuration file and exit (0 valid, 2 invalid).
    Check(ConfigArg),
    /// The login record (who, from where, sessions, what was accessed).
    #[command(subcommand)]
    Log(LogCommand),
}

#[derive(Subcommand, Debug)]
pub enum LogCommand {
    /// Export records as CSV (UTF-8, CRLF; times RFC 3339 in JST, e.g.
    /// 2026-12-08T09:30:00+09:00), after checking the hash chain of the whole file (a
    /// broken chain: exit 1, naming the first bad line).
    Export {
        #[command(flatten)]
        config: ConfigArg,
        /// From (inclusive): a date (2026-12-08 = 00:00 JST) or an RFC 3339 time.
        #[arg(long)]
        from: String,
        /// To: a date (inclusive: through 24:00 JST of that day) or an RFC 3339 time
        /// (exclusive).
        #[arg(long)]
        to: String,
        /// Only this holder id (X-KMN-Holder-Id).
        #[arg(long)]
        holder: Option<String>,
        /// Only this facility code.
        #[arg(long)]
        facility: Option<String>,
        /// Write to this file instead of standard output.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Check the hash chain of the whole login record (exit 0 intact, 1 altered).
    Verify(ConfigArg),
}

/// An error of `kmn gateway`, as every `kmn` command prints one: `error: <message>
/// (<CODE>)`.
fn fail(message: impl std::fmt::Display, code: &str, exit: u8) -> ExitCode {
    eprintln!("error: {message} ({code})");
    ExitCode::from(exit)
}

fn load(c: &ConfigArg) -> Result<kmn_gateway::GatewayConfig, ExitCode> {
    kmn_gateway::GatewayConfig::load(&c.config).map_err(|e| fail(e, "E_CONFIG", 2))
}

pub async fn gateway(cmd: &GatewayCommand) -> ExitCode {
    match cmd {
        GatewayCommand::Run(c) => {
            let cfg = match load(c) {
                Ok(c) => c,
                Err(e) => return e,
            };
            let r = kmn_gateway::run(cfg, |s| {
                println!("kmn gateway: listening on https://{}", s.address);
                println!("kmn gateway: admin socket at {}", s.admin_socket.display());
                if let Some(m) = s.metrics_address {
                    println!(
                        "kmn gateway: health at http://{m}/health, metrics at http://{m}/metrics"
                    );
                }
            })
            .await;
            match r {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => fail(e, "E_GATEWAY", 1),
            }
        }
        GatewayCommand::Reload(c) | GatewayCommand::Status(c) => {
            let cfg = match load(c) {
                Ok(c) => c,
                Err(e) => return e,
            };
            let what = if matches!(cmd, GatewayCommand::Reload(_)) {
                "reload"
            } else {
                "status"
            };
            match kmn_gateway::admin_request(&cfg.listen.admin_socket, what).await {
                Ok(out) => {
                    let ok = out.lines().last() == Some("ok");
                    for l in out.lines() {
                        if l != "ok" && l != "failed" {
                            println!("{l}");
                        }
                    }
                    if ok {
                        ExitCode::SUCCESS
                    } else {
                        fail(
                            "not every CRL could be fetched (see above)",
                            "E_CRL_FETCH",
                            1,
                        )
                    }
                }
                Err(e) => fail(e, "E_GATEWAY_UNREACHABLE", 1),
            }
        }
        GatewayCommand::Check(c) => match load(c) {
            Ok(cfg) => {
                println!(
                    "{}: valid ({} upstream(s), {} CRL URL(s), {} HPKI anchor set(s){})",
                    c.config.display(),
                    cfg.upstreams.len(),
                    cfg.trust.crl_urls.len()
                        + cfg.hpki.iter().map(|h| h.crl_urls.len()).sum::<usize>(),
                    cfg.hpki.len(),
                    if cfg.registry.is_some() {
                        ", the doctor registry"
                    } else {
                        ""
                    }
                );
                ExitCode::SUCCESS
            }
            Err(e) => e,
        },
        GatewayCommand::Log(LogCommand::Verify(c)) => {
            let cfg = match load(c) {
                Ok(c) => c,
                Err(e) => return e,
            };
            match kmn_gateway::loginlog::read_verified(&cfg.log.path) {
                Ok(r) => {
                    println!("{}: intact, {} records", cfg.log.path.display(), r.len());
                    ExitCode::SUCCESS
                }
                Err(e) => fail(e, "E_LOGIN_LOG", 1),
            }
        }
        GatewayCommand::Log(LogCommand::Export {
            config,
            from,
            to,
            holder,
            facility,
            out,
        }) => {
            let cfg = match load(config) {
                Ok(c) => c,
                Err(e) => return e,
            };
            let bounds = kmn_gateway::loginlog::parse_bound(from, false)
                .map_err(|e| format!("--from {e}"))
                .and_then(|f| {
                    kmn_gateway::loginlog::parse_bound(to, true)
                        .map_err(|e| format!("--to {e}"))
                        .map(|t| (f, t))
                });
            let (f, t) = match bounds {
                Ok(b) => b,
                Err(e) => return fail(e, "E_BAD_INPUT", 2),
            };
            let filter = kmn_gateway::loginlog::ExportFilter {
                from: Some(f),
                to: Some(t),
                holder: holder.clone(),
                facility: facility.clone(),
            };
            let mut sink: Box<dyn std::io::Write> = match out {
                Some(p) => match std::fs::File::create(p) {
                    Ok(f) => Box::new(f),
                    Err(e) => {
                        return fail(format!("cannot write {}: {e}", p.display()), "E_IO", 1);
                    }
                },
                None => Box::new(std::io::stdout().lock()),
            };
            match kmn_gateway::loginlog::export_csv(&cfg.log.path, &filter, &mut sink) {
                Ok(n) => {
                    let _ = sink.flush();
                    eprintln!("{n} records");
                    ExitCode::SUCCESS
                }
                Err(e) => fail(e, "E_LOGIN_LOG", 1),
            }
        }
    }
}

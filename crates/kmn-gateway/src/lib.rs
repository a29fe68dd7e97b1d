//! kmn-gateway: `kmn gateway`, an mTLS reverse proxy in front of the network's services
//! (issue #11 item 4; docs/GATEWAY.md).
//!
//! * TLS ([`tls`]): TLS 1.3, and TLS 1.2 (rsa_pkcs1_sha256 for RSA cards without PSS). A
//!   client certificate is requested; the handshake completes with any parseable one (or
//!   none) so that a refused person gets a page in Japanese.
//! * Every request: the certificate is checked by ONE [`CredentialCheck`] —
//!   [`Credentials`]: kmn-verify with the revocation indexes kmn-crl-fetch keeps fresh
//!   (refetched every ≤ 5 minutes, at once on `kmn gateway reload` or SIGHUP; an answer is
//!   reused on a kept-alive connection only while no CRL changed and for at most 5 s),
//!   optional OCSP answered from memory, HPKI physician cards under their own anchors and
//!   the doctor registry ([`registry`]) — then the upstream's accepted credentials and
//!   facility binding (第4条2); refused → 403 (Japanese HTML for a browser, JSON
//!   otherwise), never forwarded, and logged.
//! * Forwarded with `X-KMN-Holder-Id`, `X-KMN-Facility-Code`, `X-KMN-Credential`,
//!   `X-KMN-Profession`, `X-KMN-Cert-Serial` ([`proxy`]), after removing every `X-KMN-*`
//!   field the client sent and the hop-by-hop fields (RFC 9110 §7.6.1).
//! * The login record ([`loginlog`]): sessions and accesses in a hash-chained JSON-lines
//!   file, exported as CSV.

#![forbid(unsafe_code)]

pub mod config;
pub mod credential;
pub mod loginlog;
pub mod metrics;
pub mod proxy;
pub mod refusal;
pub mod registry;
pub mod tls;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};

pub use config::{CredentialKind, FacilityBinding, GatewayConfig};
pub use credential::{AnchorSet, CredentialCheck, Credentials, Identity};

/// What a running gateway tells its caller once it listens.
#[derive(Debug, Clone)]
pub struct Started {
    pub address: SocketAddr,
    pub admin_socket: std::path::PathBuf,
    /// The monitoring listener (`/health`, `/metrics`), when configured.
    pub metrics_address: Option<SocketAddr>,
}

fn load_certs(files: &[std::path::PathBuf]) -> Result<Vec<Vec<u8>>, String> {
    let mut out = Vec::new();
    for f in files {
        let bytes = std::fs::read(f).map_err(|e| format!("cannot read {}: {e}", f.display()))?;
        out.extend(
            kmn_verify::load_pem_or_der_bundle(&bytes)
                .map_err(|e| format!("{}: {e}", f.display()))?,
        );
    }
    Ok(out)
}

/// The CRL fetchers, one per anchor set.
type Fetchers = Arc<Vec<Arc<kmn_crl_fetch::Fetcher>>>;

/// Fetches every CRL of `fetcher` now; returns one line per source and whether all
/// succeeded.
async fn refresh_one(
    fetcher: &Arc<kmn_crl_fetch::Fetcher>,
    check: &Arc<Credentials>,
) -> (Vec<String>, bool) {
    let f = Arc::clone(fetcher);
    let outcomes = tokio::task::spawn_blocking(move || f.refresh_all())
        .await
        .unwrap_or_default();
    check.bump();
    let mut ok = true;
    let lines = outcomes
        .into_iter()
        .map(|(url, o)| match o {
            kmn_crl_fetch::Outcome::Updated {
                crl_number,
                entries,
            } => {
                tracing::info!("CRL {url}: cRLNumber {crl_number}, {entries} revoked");
                format!("updated {url}: cRLNumber {crl_number}, {entries} revoked")
            }
            kmn_crl_fetch::Outcome::NotModified => format!("unchanged {url}"),
            kmn_crl_fetch::Outcome::Failed(e) => {
                ok = false;
                tracing::warn!("CRL {url}: {e}");
                format!("failed {url}: {e}")
            }
        })
        .collect();
    (lines, ok)
}

/// Every CRL of every anchor set now.
async fn refresh(fetchers: &Fetchers, check: &Arc<Credentials>) -> (Vec<String>, bool) {
    let (mut lines, mut ok) = (Vec::new(), true);
    for f in fetchers.iter() {
        let (l, o) = refresh_one(f, check).await;
        lines.extend(l);
        ok &= o;
    }
    (lines, ok)
}

/// `reload` / SIGHUP: every CRL, the registry cache flushed, OCSP answers asked again.
async fn reload(fetchers: &Fetchers, check: &Arc<Credentials>) -> (Vec<String>, bool) {
    let (mut lines, ok) = refresh(fetchers, check).await;
    let c = Arc::clone(check);
    let more = tokio::task::spawn_blocking(move || c.reload_blocking())
        .await
        .unwrap_or_default();
    for l in &more {
        tracing::info!("{l}");
    }
    lines.extend(more);
    (lines, ok)
}

/// The admin socket: `reload` (refetch every CRL now, flush the registry cache, ask OCSP
/// again; answers one line per source, then `ok` or `failed`), `status` (one line per CRL
/// source).
async fn admin(stream: UnixStream, fetchers: Fetchers, check: Arc<Credentials>) {
    let (r, mut w) = stream.into_split();
    let mut line = String::new();
    if BufReader::new(r).read_line(&mut line).await.is_err() {
        return;
    }
    let reply = match line.trim() {
        "reload" => {
            let (lines, ok) = reload(&fetchers, &check).await;
            format!(
                "{}\n{}\n",
                lines.join("\n"),
                if ok { "ok" } else { "failed" }
            )
        }
        "status" => {
            let now = time::OffsetDateTime::now_utc().unix_timestamp();
            let lines: Vec<String> = check
                .sets()
                .flat_map(|set| {
                    let snap = set.store().snapshot();
                    let mut lines: Vec<String> = snap
                        .sources()
                        .iter()
                        .map(|s| format!("[{}] {}", set.name, s.describe(now)))
                        .collect();
                    lines.extend(set.ocsp_summary().map(|o| format!("[{}] {o}", set.name)));
                    lines
                })
                .collect();
            format!("{}\nok\n", lines.join("\n"))
        }
        other => format!("unknown command '{}'\nfailed\n", other.escape_debug()),
    };
    let _ = w.write_all(reply.as_bytes()).await;
}

/// Every CRL source of every anchor set, for `/health` and `/metrics`.
fn source_health(check: &Credentials, now: i64) -> Vec<metrics::SourceHealth> {
    check
        .sets()
        .flat_map(|set| {
            let snap = set.store().snapshot();
            snap.sources()
                .iter()
                .map(|s| metrics::SourceHealth {
                    set: set.name.clone(),
                    source: s.source.clone(),
                    fetched_ago: s.last_success.map(|t| now.saturating_sub(t)),
                    crl_age: s
                        .index
                        .as_ref()
                        .map(|ix| now.saturating_sub(ix.this_update())),
                    next_update_in: s
                        .index
                        .as_ref()
                        .map(|ix| ix.next_update().saturating_sub(now)),
                    entries: s.index.as_ref().map(|ix| ix.len()),
                    failing: snap.source_problem(s, now),
                })
                .collect::<Vec<_>>()
        })
        .collect()
}

/// The monitoring listener: `GET /health`, `GET /metrics`; anything else 404.
async fn serve_metrics(
    listener: tokio::net::TcpListener,
    check: Arc<Credentials>,
    m: Arc<metrics::Metrics>,
) {
    while let Ok((tcp, _)) = listener.accept().await {
        let (check, m) = (Arc::clone(&check), Arc::clone(&m));
        tokio::spawn(async move {
            let svc =
                hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                    let now = time::OffsetDateTime::now_utc().unix_timestamp();
                    let (status, ctype, body) = match (req.method(), req.uri().path()) {
                        (&hyper::Method::GET, "/metrics") => (
                            200,
                            "text/plain; version=0.0.4; charset=utf-8",
                            m.render(&source_health(&check, now)),
                        ),
                        (&hyper::Method::GET, "/health") => {
                            let (code, text) = metrics::health(&source_health(&check, now));
                            (code, "text/plain; charset=utf-8", text)
                        }
                        _ => (
                            404,
                            "text/plain; charset=utf-8",
                            "not found: /health, /metrics\n".to_string(),
                        ),
                    };
                    let resp = hyper::Response::builder()
                        .status(status)
                        .header(hyper::header::CONTENT_TYPE, ctype)
                        .header(hyper::header::CACHE_CONTROL, "no-store")
                        .body(http_body_util::Full::new(bytes::Bytes::from(body)))
                        .map_err(|e| e.to_string());
                    async move { resp }
                });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(tcp), svc)
                .await;
        });
    }
}

/// Sends `command` to the admin socket of a running gateway; returns its answer.
pub async fn admin_request(socket: &Path, command: &str) -> Result<String, String> {
    let mut s = UnixStream::connect(socket).await.map_err(|e| {
        format!(
            "cannot reach the gateway at {} ({e}); is `kmn gateway run` running with this configuration?",
            socket.display()
        )
    })?;
    s.write_all(format!("{command}\n").as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    let mut out = String::new();
    tokio::io::AsyncReadExt::read_to_string(&mut s, &mut out)
        .await
        .map_err(|e| e.to_string())?;
    Ok(out)
}

/// Runs the gateway until SIGTERM or SIGINT; `started` is called once it listens.
pub async fn run(cfg: GatewayConfig, started: impl FnOnce(&Started)) -> Result<(), String> {
    let anchors = load_certs(&cfg.trust.anchors)?;
    let intermediates = load_certs(&cfg.trust.intermediates)?;
    let mut hints = anchors.clone();
    let mut fetchers = Vec::new();
    let store = Arc::new(kmn_verify::RevocationStore::new(
        kmn_verify::RevocationConfig {
            next_update_grace: Duration::from_secs(cfg.trust.next_update_grace_seconds),
            unreachable_grace: Some(Duration::from_secs(cfg.trust.unreachable_grace_seconds)),
        },
    ));
    let issuers: Vec<Vec<u8>> = anchors.iter().chain(&intermediates).cloned().collect();
    fetchers.push(Arc::new(kmn_crl_fetch::Fetcher::new(
        Arc::clone(&store),
        issuers,
        cfg.trust.crl_urls.clone(),
        kmn_crl_fetch::FetcherConfig {
            interval: Duration::from_secs(cfg.trust.refetch_seconds),
            ..kmn_crl_fetch::FetcherConfig::default()
        },
    )?));
    let policy_oids = cfg
        .trust
        .card_policy_oids
        .iter()
        .chain(&cfg.trust.operator_policy_oids)
        .map(|o| der::asn1::ObjectIdentifier::new(o).map_err(|_| format!("'{o}' is not an OID")))
        .collect::<Result<Vec<_>, _>>()?;
    let kmn = AnchorSet::new(
        "kmn",
        anchors,
        intermediates,
        store,
        kmn_verify::Profile::Kmn { policy_oids },
        config::OcspSetting::responder(&cfg.trust.ocsp),
        Duration::from_secs(cfg.trust.unreachable_grace_seconds),
    )?;
    let mut hpki = Vec::new();
    for h in &cfg.hpki {
        let anchors = load_certs(&h.anchors)?;
        let intermediates = load_certs(&h.intermediates)?;
        hints.extend(anchors.iter().cloned());
        // The HPKI CA's own grace past nextUpdate is given to the profile (kmn-verify adds
        // it to the store's), the unreachable grace to the store.
        let store = Arc::new(kmn_verify::RevocationStore::new(
            kmn_verify::RevocationConfig {
                next_update_grace: Duration::ZERO,
                unreachable_grace: Some(Duration::from_secs(h.unreachable_grace_seconds)),
            },
        ));
        let issuers: Vec<Vec<u8>> = anchors.iter().chain(&intermediates).cloned().collect();
        fetchers.push(Arc::new(
            kmn_crl_fetch::Fetcher::new(
                Arc::clone(&store),
                issuers,
                h.crl_urls.clone(),
                kmn_crl_fetch::FetcherConfig {
                    interval: Duration::from_secs(h.refetch_seconds),
                    ..kmn_crl_fetch::FetcherConfig::default()
                },
            )
            .map_err(|e| format!("[[hpki]] '{}': {e}", h.name))?,
        ));
        let oids = |v: &[String]| {
            v.iter()
                .map(|o| {
                    der::asn1::ObjectIdentifier::new(o)
                        .map_err(|_| format!("[[hpki]] '{}': '{o}' is not an OID", h.name))
                })
                .collect::<Result<Vec<_>, _>>()
        };
        hpki.push(AnchorSet::new(
            &h.name,
            anchors,
            intermediates,
            store,
            kmn_verify::Profile::Hpki {
                auth_policy_oids: oids(&h.auth_policy_oids)?,
                signature_policy_oids: oids(&h.signature_policy_oids)?,
                crl_grace: Duration::from_secs(h.crl_grace_seconds),
            },
            config::OcspSetting::responder(&h.ocsp),
            Duration::from_secs(h.unreachable_grace_seconds),
        )?);
    }
    let registry = cfg
        .registry
        .as_ref()
        .map(registry::Registry::new)
        .transpose()?;
    let check = Arc::new(Credentials::new(
        kmn,
        &cfg.trust.card_policy_oids,
        &cfg.trust.operator_policy_oids,
        hpki,
        registry,
    )?);
    let fetchers: Fetchers = Arc::new(fetchers);
    let tls = tls::server_config(&cfg.listen.cert, &cfg.listen.key, &hints, cfg.listen.tls12)?;
    let upstreams = cfg
        .upstreams
        .iter()
        .cloned()
        .map(proxy::Upstream::new)
        .collect::<Result<Vec<_>, _>>()?;
    let (writer, log) = loginlog::LogWriter::open(
        &cfg.log.path,
        cfg.log.fsync,
        Duration::from_secs(cfg.log.idle_seconds),
    )?;

    // The first fetch before the first login; a failure fails closed, and is retried.
    let (lines, _) = refresh(&fetchers, &check).await;
    for l in lines {
        tracing::info!("{l}");
    }
    for f in fetchers.iter() {
        let interval = f.interval();
        let (f, check) = (Arc::clone(f), Arc::clone(&check));
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(interval).await;
                refresh_one(&f, &check).await;
            }
        });
    }
    {
        let (fetchers, check) = (Arc::clone(&fetchers), Arc::clone(&check));
        if let Ok(mut hup) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
        {
            tokio::spawn(async move {
                while hup.recv().await.is_some() {
                    tracing::info!("SIGHUP: refetching the CRLs, flushing the registry cache");
                    reload(&fetchers, &check).await;
                }
            });
        }
    }
    let sock = &cfg.listen.admin_socket;
    if let Some(dir) = sock.parent() {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    if sock.exists() {
        if UnixStream::connect(sock).await.is_ok() {
            return Err(format!(
                "another gateway answers on the admin socket {}",
                sock.display()
            ));
        }
        let _ = std::fs::remove_file(sock);
    }
    let admin_listener =
        UnixListener::bind(sock).map_err(|e| format!("cannot bind {}: {e}", sock.display()))?;
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(sock, std::fs::Permissions::from_mode(0o600))
            .map_err(|e| format!("{}: {e}", sock.display()))?;
    }
    {
        let (fetchers, check) = (Arc::clone(&fetchers), Arc::clone(&check));
        tokio::spawn(async move {
            while let Ok((s, _)) = admin_listener.accept().await {
                tokio::spawn(admin(s, Arc::clone(&fetchers), Arc::clone(&check)));
            }
        });
    }

    let listener = tokio::net::TcpListener::bind(&cfg.listen.address)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", cfg.listen.address))?;
    let address = listener.local_addr().map_err(|e| e.to_string())?;
    let client = hyper_util::client::legacy::Client::builder(TokioExecutor::new())
        .pool_idle_timeout(Duration::from_secs(60))
        .build_http();
    let metrics = Arc::new(metrics::Metrics::default());
    let metrics_address = match &cfg.listen.metrics_address {
        Some(a) => {
            let l = tokio::net::TcpListener::bind(a)
                .await
                .map_err(|e| format!("cannot listen on {a} (metrics_address): {e}"))?;
            let addr = l.local_addr().map_err(|e| e.to_string())?;
            tokio::spawn(serve_metrics(l, Arc::clone(&check), Arc::clone(&metrics)));
            Some(addr)
        }
        None => None,
    };
    let shared = Arc::new(proxy::Shared {
        check: check.clone(),
        upstreams,
        client,
        log,
        metrics: Arc::clone(&metrics),
    });
    started(&Started {
        address,
        admin_socket: sock.clone(),
        metrics_address,
    });
    let acceptor = tokio_rustls::TlsAcceptor::from(tls);
    let header_timeout = Duration::from_secs(cfg.listen.header_timeout_seconds);
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .map_err(|e| e.to_string())?;
    loop {
        let (tcp, remote) = tokio::select! {
            a = listener.accept() => match a {
                Ok(x) => x,
                Err(e) => {
                    tracing::warn!("accept: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = tokio::signal::ctrl_c() => break,
            _ = term.recv() => break,
        };
        let _ = tcp.set_nodelay(true);
        let acceptor = acceptor.clone();
        let shared = Arc::clone(&shared);
        tokio::spawn(async move {
            let tls = match tokio::time::timeout(header_timeout, acceptor.accept(tcp)).await {
                Ok(Ok(s)) => {
                    shared.metrics.handshake();
                    s
                }
                Ok(Err(e)) => {
                    tracing::debug!(%remote, "TLS handshake failed: {e}");
                    shared.metrics.handshake_failed();
                    return;
                }
                Err(_) => {
                    shared.metrics.handshake_failed();
                    return;
                }
            };
            let leaf = tls
                .get_ref()
                .1
                .peer_certificates()
                .and_then(|c| c.first())
                .map(|c| c.to_vec());
            let conn = Arc::new(proxy::Conn::new(remote, leaf));
            let svc = hyper::service::service_fn(move |req| {
                proxy::handle(Arc::clone(&shared), Arc::clone(&conn), req)
            });
            let r = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(header_timeout)
                .keep_alive(true)
                .serve_connection(TokioIo::new(tls), svc)
                .await;
            if let Err(e) = r {
                tracing::debug!(%remote, "connection: {e}");
            }
        });
    }
    tracing::info!("stopping: closing the open sessions of the login record");
    let _ = std::fs::remove_file(sock);
    tokio::task::spawn_blocking(move || writer.stop())
        .await
        .map_err(|e| e.to_string())?;
    Ok(())
}

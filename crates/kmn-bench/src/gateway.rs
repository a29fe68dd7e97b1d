//! `kmn gateway` against nginx (bench/gateway, docs/PERFORMANCE.md "Gateway"):
//!
//! * `gateway-crl`: a CRL of the data dir's issuing CA with N random entries plus given
//!   serials (the revoked clients of the benchmark), DER to a file.
//! * `tls-load`: the one load client for both servers. C concurrent connections for S
//!   seconds, each a new TCP connection and a full TLS handshake (no resumption) with one
//!   client certificate of a round-robin list (the certificate alone, as cards send it),
//!   one `GET`, the answer read, the connection closed (`--keepalive`: one connection per
//!   task, requests on it, good certificates only). A good certificate must get 200; a revoked one a refusal (a
//!   4xx answer or a TLS alert). Anything else is a failure. Prints a `RESULT` line.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration as StdDuration, Instant};

use anyhow::{Context, Result};
use kmn_domain::{CrlNumber, RevocationReason};
use kmn_pki::crl::{CrlEntry, CrlParams, build_and_sign};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use time::{Duration, OffsetDateTime};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::crl::{entries, revocations};
use crate::setup;
use crate::util::{Rng, result_line};

/// `gateway-crl --data-dir D --entries N --number K --include HEX,HEX --out F`.
pub fn make_crl(
    data_dir: &Path,
    n: usize,
    number: u64,
    include: &[String],
    out: &Path,
) -> Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let (_app, ca) = rt.block_on(setup::open_existing(data_dir))?;
    let now = OffsetDateTime::now_utc().replace_nanosecond(0)?;
    let mut rng = Rng::from_time();
    let mut list = entries(&revocations(n, now.unix_timestamp() - 60, &mut rng))?;
    for h in include.iter().filter(|h| !h.is_empty()) {
        list.push(CrlEntry::new(
            &hex::decode(h).with_context(|| format!("--include {h}"))?,
            now.unix_timestamp() - 30,
            RevocationReason::KeyCompromise,
            None,
        )?);
    }
    // Ascending serials (as integers), as the CRL lint requires.
    list.sort_by(|a, b| (a.serial().len(), a.serial()).cmp(&(b.serial().len(), b.serial())));
    list.dedup_by(|a, b| a.serial() == b.serial());
    let params = CrlParams {
        number: CrlNumber(i64::try_from(number)?),
        this_update: now,
        next_update: now + Duration::hours(48),
        previous: None,
    };
    let crl = build_and_sign(&params, &list, &ca.info, ca.signer.as_ref())?;
    std::fs::write(out, &crl.der)?;
    println!(
        "{}",
        result_line(&[
            ("entries", crl.entries.to_string()),
            ("der_bytes", crl.der.len().to_string())
        ])
    );
    Ok(())
}

struct Client {
    config: Arc<rustls::ClientConfig>,
    revoked: bool,
}

/// `--clients good:cert.pem:key.pem,revoked:cert.pem:key.pem`.
fn clients(spec: &str, ca: &Path) -> Result<Vec<Client>> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(CertificateDer::from_pem_file(ca).context("--ca")?)?;
    let roots = Arc::new(roots);
    let mut out = Vec::new();
    for c in spec.split(',') {
        let mut p = c.splitn(3, ':');
        let (kind, cert, key) = (
            p.next().unwrap_or(""),
            p.next().context("--clients kind:cert:key")?,
            p.next().context("--clients kind:cert:key")?,
        );
        let leaf = CertificateDer::pem_file_iter(cert)?
            .next()
            .context("no certificate")??;
        let mut cfg = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::aws_lc_rs::default_provider(),
        ))
        .with_safe_default_protocol_versions()?
        .with_root_certificates(Arc::clone(&roots))
        .with_client_auth_cert(vec![leaf], PrivateKeyDer::from_pem_file(key)?)?;
        cfg.resumption = rustls::client::Resumption::disabled();
        out.push(Client {
            config: Arc::new(cfg),
            revoked: kind == "revoked",
        });
    }
    Ok(out)
}

#[derive(Default)]
struct Counts {
    ok: AtomicU64,
    refused: AtomicU64,
    failed: AtomicU64,
}

type Tls = tokio_rustls::client::TlsStream<tokio::net::TcpStream>;

/// Sends one GET and reads the answer (Content-Length bodies); returns the status.
async fn get(s: &mut Tls, path: &str, buf: &mut Vec<u8>) -> std::io::Result<u16> {
    let req = format!(
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nAccept: application/json\r\nX-KMN-Act-For-Facility: 0\r\n\r\n"
    );
    s.write_all(req.as_bytes()).await?;
    buf.clear();
    let mut chunk = [0u8; 8192];
    loop {
        let n = s.read(&mut chunk).await?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        buf.extend_from_slice(chunk.get(..n).unwrap_or_default());
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head =
                String::from_utf8_lossy(buf.get(..end).unwrap_or_default()).to_ascii_lowercase();
            let status: u16 = head
                .split_whitespace()
                .nth(1)
                .and_then(|s| s.parse().ok())
                .unwrap_or(0);
            let len: usize = head
                .lines()
                .find_map(|l| {
                    l.strip_prefix("content-length:")
                        .map(|v| v.trim().parse().unwrap_or(0))
                })
                .unwrap_or(0);
            while buf.len() < end + 4 + len {
                let n = s.read(&mut chunk).await?;
                if n == 0 {
                    break;
                }
                buf.extend_from_slice(chunk.get(..n).unwrap_or_default());
            }
            return Ok(status);
        }
    }
}

fn judge(c: &Client, r: std::io::Result<u16>, counts: &Counts) {
    match (r, c.revoked) {
        (Ok(200), false) => counts.ok.fetch_add(1, Ordering::Relaxed),
        (Ok(s), true) if (400..500).contains(&s) => counts.refused.fetch_add(1, Ordering::Relaxed),
        // A revoked certificate refused inside TLS (an alert) is a refusal too.
        (Err(e), true)
            if e.to_string().contains("alert") || e.kind() == std::io::ErrorKind::InvalidData =>
        {
            counts.refused.fetch_add(1, Ordering::Relaxed)
        }
        (r, _) => {
            if counts.failed.load(Ordering::Relaxed) < 3 {
                eprintln!("failure: {r:?} (revoked client: {})", c.revoked);
            }
            counts.failed.fetch_add(1, Ordering::Relaxed)
        }
    };
}

/// `tls-load --addr A --ca PEM --clients … --conns C --secs S [--keepalive] [--path P]`.
pub fn load(
    addr: &str,
    ca: &Path,
    spec: &str,
    conns: usize,
    secs: u64,
    keepalive: bool,
    path: &str,
) -> Result<()> {
    let mut clients = clients(spec, ca)?;
    if keepalive {
        // Kept-alive connections measure forwarding: a server may close a refused one.
        clients.retain(|c| !c.revoked);
    }
    let clients = Arc::new(clients);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let counts = Arc::new(Counts::default());
    let deadline = Instant::now() + StdDuration::from_secs(secs);
    let started = Instant::now();
    rt.block_on(async {
        let mut tasks = Vec::new();
        for t in 0..conns {
            let (clients, counts, addr, path) = (
                Arc::clone(&clients),
                Arc::clone(&counts),
                addr.to_string(),
                path.to_string(),
            );
            tasks.push(tokio::spawn(async move {
                let mut i = t;
                let mut buf = Vec::with_capacity(16 << 10);
                let name = ServerName::try_from("localhost")
                    .unwrap_or(ServerName::IpAddress(std::net::Ipv4Addr::LOCALHOST.into()));
                while Instant::now() < deadline {
                    let c = &clients[i % clients.len()];
                    i += 1;
                    let connector = tokio_rustls::TlsConnector::from(Arc::clone(&c.config));
                    let tcp = match tokio::net::TcpStream::connect(&addr).await {
                        Ok(t) => t,
                        Err(e) => {
                            judge(c, Err(e), &counts);
                            continue;
                        }
                    };
                    let _ = tcp.set_nodelay(true);
                    let mut s = match connector.connect(name.clone(), tcp).await {
                        Ok(s) => s,
                        Err(e) => {
                            judge(c, Err(e), &counts);
                            continue;
                        }
                    };
                    if keepalive {
                        while Instant::now() < deadline {
                            let r = get(&mut s, &path, &mut buf).await;
                            let broken = r.is_err();
                            judge(c, r, &counts);
                            if broken {
                                break;
                            }
                        }
                    } else {
                        let r = get(&mut s, &path, &mut buf).await;
                        judge(c, r, &counts);
                        let _ = s.shutdown().await;
                    }
                }
            }));
        }
        for t in tasks {
            let _ = t.await;
        }
    });
    let el = started.elapsed().as_secs_f64();
    let (ok, refused, failed) = (
        counts.ok.load(Ordering::Relaxed),
        counts.refused.load(Ordering::Relaxed),
        counts.failed.load(Ordering::Relaxed),
    );
    println!(
        "{}",
        result_line(&[
            ("per_s", format!("{:.1}", (ok + refused) as f64 / el)),
            ("ok", ok.to_string()),
            ("refused", refused.to_string()),
            ("failed", failed.to_string()),
        ])
    );
    Ok(())
}

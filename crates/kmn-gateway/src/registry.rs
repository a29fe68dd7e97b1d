//! The doctor registry, asked over the CA's API (`GET /api/v1/doctor-lookup`, issue #11
//! item 3) with a station account's certificate (mutual TLS), answers cached in memory.
//!
//! * A fresh answer (younger than `cache_seconds`, ≤ 5 minutes) is used without any
//!   network call. An older one is asked again; when the registry cannot be reached, the
//!   old answer stands until it is `unreachable_grace_seconds` older than fresh, then the
//!   login fails closed ([`Reason::RegistryUnavailable`]). Never asked before and
//!   unreachable: fail closed at once.
//! * `kmn gateway reload` (or SIGHUP) empties the cache ([`Registry::flush`]): an ended
//!   binding is refused at the next request.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Limited};
use hyper_util::rt::TokioIo;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};

use crate::config::RegistryConfig;
use crate::refusal::{Reason, Refusal};

/// The most answers held; when full, the oldest is dropped.
const MAX_ENTRIES: usize = 50_000;
/// The largest lookup answer read.
const MAX_ANSWER: usize = 256 * 1024;

/// One active binding of a certificate: the facility a doctor may act for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binding {
    /// The registry's binding id (`DR00000001`): `X-KMN-Holder-Id` of a doctor.
    pub binding_id: String,
    pub facility_code: String,
    /// The registry's profession (`doctor`).
    pub profession: String,
}

/// (issuer Name DER, serial hex, SPKI SHA-256).
type Key = (Vec<u8>, String, [u8; 32]);

/// The registry client and its cache.
pub struct Registry {
    host: String,
    port: u16,
    base_path: String,
    server_name: ServerName<'static>,
    tls: tokio_rustls::TlsConnector,
    fresh: Duration,
    grace: Duration,
    timeout: Duration,
    cache: Mutex<HashMap<Key, (Instant, Vec<Binding>)>>,
}

impl Registry {
    pub fn new(cfg: &RegistryConfig) -> Result<Registry, String> {
        let uri: hyper::Uri = cfg
            .url
            .parse()
            .map_err(|e| format!("[registry] url '{}': {e}", cfg.url))?;
        let host = uri
            .host()
            .ok_or_else(|| format!("[registry] url '{}' has no host", cfg.url))?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
        let port = uri.port_u16().unwrap_or(443);
        let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&cfg.cert)
            .map_err(|e| format!("[registry] cannot read {}: {e}", cfg.cert.display()))?
            .collect::<Result<_, _>>()
            .map_err(|e| format!("[registry] {}: {e}", cfg.cert.display()))?;
        if chain.is_empty() {
            return Err(format!("[registry] {}: no certificate", cfg.cert.display()));
        }
        let key = PrivateKeyDer::from_pem_file(&cfg.key)
            .map_err(|e| format!("[registry] cannot read the key {}: {e}", cfg.key.display()))?;
        let mut roots = rustls::RootCertStore::empty();
        for c in read_certs(&cfg.ca)? {
            roots
                .add(c)
                .map_err(|e| format!("[registry] {}: {e}", cfg.ca.display()))?;
        }
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .with_root_certificates(roots)
            .with_client_auth_cert(chain, key)
            .map_err(|e| format!("[registry] the station certificate and key: {e}"))?;
        let server_name = ServerName::try_from(host.clone())
            .map_err(|e| format!("[registry] host '{host}': {e}"))?;
        Ok(Registry {
            host,
            port,
            base_path: uri.path().trim_end_matches('/').to_string(),
            server_name,
            tls: tokio_rustls::TlsConnector::from(Arc::new(config)),
            fresh: Duration::from_secs(cfg.cache_seconds),
            grace: Duration::from_secs(cfg.unreachable_grace_seconds),
            timeout: Duration::from_secs(cfg.timeout_seconds),
            cache: Mutex::new(HashMap::new()),
        })
    }

    /// Empties the cache; returns how many answers were held.
    pub fn flush(&self) -> usize {
        let mut c = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        let n = c.len();
        c.clear();
        n
    }

    /// The active bindings of the certificate (empty: none), from the cache when fresh.
    pub async fn lookup(
        &self,
        issuer_der: &[u8],
        serial_hex: &str,
        spki_sha256: &[u8; 32],
    ) -> Result<Vec<Binding>, Refusal> {
        let key: Key = (issuer_der.to_vec(), serial_hex.to_string(), *spki_sha256);
        let held = self
            .cache
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&key)
            .cloned();
        if let Some((at, b)) = &held
            && at.elapsed() < self.fresh
        {
            return Ok(b.clone());
        }
        match tokio::time::timeout(self.timeout, self.ask(&key)).await {
            Ok(Ok(b)) => {
                let mut c = self.cache.lock().unwrap_or_else(|p| p.into_inner());
                if c.len() >= MAX_ENTRIES && !c.contains_key(&key) {
                    let oldest = c
                        .iter()
                        .min_by_key(|(_, (t, _))| *t)
                        .map(|(k, _)| k.clone());
                    if let Some(k) = oldest {
                        c.remove(&k);
                    }
                }
                c.insert(key, (Instant::now(), b.clone()));
                Ok(b)
            }
            failed => {
                let why = match failed {
                    Ok(Err(e)) => e,
                    _ => format!("no answer within {} s", self.timeout.as_secs()),
                };
                match held {
                    Some((at, b)) if at.elapsed() < self.fresh + self.grace => {
                        tracing::warn!(
                            "doctor registry {}:{} unreachable ({why}); using the answer of {} s ago",
                            self.host,
                            self.port,
                            at.elapsed().as_secs()
                        );
                        Ok(b)
                    }
                    _ => Err(Refusal::new(
                        Reason::RegistryUnavailable,
                        format!(
                            "the doctor registry at https://{}:{} cannot be asked: {why}",
                            self.host, self.port
                        ),
                    )),
                }
            }
        }
    }

    async fn ask(&self, key: &Key) -> Result<Vec<Binding>, String> {
        let tcp = tokio::net::TcpStream::connect((self.host.as_str(), self.port))
            .await
            .map_err(|e| format!("connect: {e}"))?;
        let _ = tcp.set_nodelay(true);
        let tls = self
            .tls
            .connect(self.server_name.clone(), tcp)
            .await
            .map_err(|e| format!("TLS: {e}"))?;
        let (mut send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
            .await
            .map_err(|e| format!("HTTP: {e}"))?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        let path = format!(
            "{}/api/v1/doctor-lookup?issuer={}&serial={}&spki_sha256={}",
            self.base_path,
            hex::encode(&key.0),
            key.1,
            hex::encode(key.2)
        );
        let req = hyper::Request::get(path)
            .header(hyper::header::HOST, format!("{}:{}", self.host, self.port))
            .header(hyper::header::ACCEPT, "application/json")
            .header(hyper::header::CONNECTION, "close")
            .body(Empty::<Bytes>::new())
            .map_err(|e| e.to_string())?;
        let resp = send
            .send_request(req)
            .await
            .map_err(|e| format!("HTTP: {e}"))?;
        let status = resp.status();
        let body = Limited::new(resp.into_body(), MAX_ANSWER)
            .collect()
            .await
            .map_err(|e| format!("reading the answer: {e}"))?
            .to_bytes();
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
        if !status.is_success() {
            return Err(format!(
                "HTTP {status}: {}",
                v["message"].as_str().unwrap_or("(no message)")
            ));
        }
        let items = v["bindings"]
            .as_array()
            .ok_or_else(|| "the answer has no bindings list".to_string())?;
        items
            .iter()
            .map(|b| {
                let s = |k: &str| {
                    b[k].as_str()
                        .map(str::to_string)
                        .ok_or_else(|| format!("a binding without {k}"))
                };
                Ok(Binding {
                    binding_id: s("binding_id")?,
                    facility_code: s("facility_code")?,
                    profession: s("profession")?,
                })
            })
            .collect()
    }
}

fn read_certs(p: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let bytes = std::fs::read(p).map_err(|e| format!("cannot read {}: {e}", p.display()))?;
    Ok(kmn_verify::load_pem_or_der_bundle(&bytes)
        .map_err(|e| format!("{}: {e}", p.display()))?
        .into_iter()
        .map(CertificateDer::from)
        .collect())
}

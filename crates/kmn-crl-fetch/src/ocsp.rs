//! OCSP for a relying party that checks a certificate per login (issue #11, "revocation
//! live"): an [`OcspCache`] answers [`OcspCache::status`] from memory — no network I/O on
//! the login path — and a background refresher ([`OcspCache::spawn_refresher`]) keeps the
//! answers fresh.
//!
//! * A certificate is asked about the first time by [`OcspCache::status`]: it is registered
//!   (responder URL from its authorityInfoAccess, or [`OcspConfig::responder_url`]) and the
//!   refresher is woken; that first call answers [`OcspStatus::Unavailable`] ("not fetched
//!   yet"), so the caller decides (the gateway falls back on its CRL index, `kmn verify
//!   --ocsp` fetches at once with [`OcspCache::refresh_now`]).
//! * A fetch is a GET of `<responder URL>/<base64 of the DER request>` (RFC 6960 appendix
//!   A.1, `+`, `/` and `=` percent-encoded), `If-None-Match` with the entity tag of the
//!   response held when the responder sent one. The response is checked with
//!   [`kmn_verify::check_ocsp_response`] (signature, responder authorisation, CertID, times)
//!   before it replaces the held one; anything else keeps the old answer and records the
//!   failure.
//! * Each answer is refetched at min(its nextUpdate, fetched + [`OcspConfig::refresh`]), the
//!   refresh capped at five minutes ([`crate::MAX_INTERVAL`]).
//! * [`OcspCache::status`] answers `Good` only from a response whose nextUpdate has not
//!   passed and, with [`OcspConfig::unreachable_grace`], that was confirmed by a fetch within
//!   the grace; `Revoked` stands once seen; everything else is `Unavailable` with the reason
//!   (fail closed).

#![deny(clippy::indexing_slicing, clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, RwLock};
use std::thread::JoinHandle;
use std::time::Duration;

use kmn_verify::{
    MAX_OCSP_RESPONSE_LEN, OCSP_MAX_SKEW, OcspCertStatus, OcspHash, OcspResult,
    check_ocsp_response, ocsp_request, ocsp_urls,
};

use crate::{FetcherConfig, MAX_INTERVAL, http_get, now, parse_url};

/// OCSP cache settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OcspConfig {
    /// Longest time an answer is used without refetching (capped at five minutes).
    pub refresh: Duration,
    /// When set: an answer not confirmed by a successful fetch for longer than this is no
    /// longer `Good` (the responder is unreachable: fail closed).
    pub unreachable_grace: Option<Duration>,
    /// When set, every certificate is asked at this responder (an `http://` URL such as
    /// `http://kmn.example.jp/ocsp`) instead of its authorityInfoAccess.
    pub responder_url: Option<String>,
    /// The CertID hash.
    pub hash: OcspHash,
    /// Certificates held at most; when full, the one asked about least recently is dropped.
    pub max_entries: usize,
    /// A certificate not asked about for this long is dropped.
    pub forget_after: Duration,
    /// Connect and per-read timeout of one fetch.
    pub timeout: Duration,
    /// Longest time one fetch may take.
    pub deadline: Duration,
}

impl Default for OcspConfig {
    fn default() -> Self {
        OcspConfig {
            refresh: MAX_INTERVAL,
            unreachable_grace: Some(Duration::from_secs(3600)),
            responder_url: None,
            hash: OcspHash::Sha1,
            max_entries: 100_000,
            forget_after: Duration::from_secs(24 * 3600),
            timeout: Duration::from_secs(5),
            deadline: Duration::from_secs(15),
        }
    }
}

/// What [`OcspCache::status`] says about a certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OcspStatus {
    /// The responder said `good` in a response that is current.
    Good {
        /// thisUpdate of the response, Unix seconds.
        this_update: i64,
        /// nextUpdate of the response, Unix seconds.
        next_update: i64,
    },
    /// The responder said `revoked` (it stands, however old the response).
    Revoked {
        /// revocationTime, Unix seconds.
        time: i64,
        /// CRLReason name, if the response gave one.
        reason: Option<&'static str>,
    },
    /// The responder said `unknown`: it does not know the certificate.
    Unknown,
    /// No usable answer (not fetched yet, every fetch failed, the answer is stale, no
    /// responder URL): fail closed, or use another source.
    Unavailable {
        /// Why, in one English line.
        why: String,
    },
}

/// One line per certificate in the cache, for logs and health pages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OcspEntryState {
    /// The responder URL.
    pub url: String,
    pub result: Option<OcspResult>,
    pub etag: Option<String>,
    pub last_success: Option<i64>,
    pub failing_since: Option<i64>,
    pub last_error: Option<String>,
}

#[derive(Debug)]
struct Entry {
    cert: Vec<u8>,
    issuer: Vec<u8>,
    url: String,
    result: Option<OcspResult>,
    etag: Option<String>,
    last_success: Option<i64>,
    failing_since: Option<i64>,
    last_error: Option<String>,
    /// When the next fetch is due, Unix seconds.
    refresh_after: i64,
    /// When `status` last asked, Unix seconds.
    last_used: AtomicI64,
}

impl Entry {
    fn copy(&self) -> Entry {
        Entry {
            cert: self.cert.clone(),
            issuer: self.issuer.clone(),
            url: self.url.clone(),
            result: self.result.clone(),
            etag: self.etag.clone(),
            last_success: self.last_success,
            failing_since: self.failing_since,
            last_error: self.last_error.clone(),
            refresh_after: self.refresh_after,
            last_used: AtomicI64::new(self.last_used.load(Ordering::Relaxed)),
        }
    }
}

/// OCSP answers per certificate, from memory; see the module documentation.
#[derive(Debug)]
pub struct OcspCache {
    config: OcspConfig,
    entries: RwLock<HashMap<Vec<u8>, Arc<Entry>>>,
    wake: std::sync::Mutex<Option<mpsc::SyncSender<()>>>,
}

fn secs(d: Duration) -> i64 {
    i64::try_from(d.as_secs()).unwrap_or(i64::MAX)
}

/// RFC 4648 base64 with padding, `+`, `/` and `=` percent-encoded for a URL path.
fn base64_url_path(data: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len() * 2);
    let mut push = |i: u32| {
        let c = A.get((i & 63) as usize).copied().unwrap_or(b'A');
        match c {
            b'+' => out.push_str("%2B"),
            b'/' => out.push_str("%2F"),
            c => out.push(char::from(c)),
        }
    };
    let mut chunks = data.chunks_exact(3);
    for c in chunks.by_ref() {
        if let [a, b, d] = *c {
            let n = (u32::from(a) << 16) | (u32::from(b) << 8) | u32::from(d);
            push(n >> 18);
            push(n >> 12);
            push(n >> 6);
            push(n);
        }
    }
    let rest = chunks.remainder();
    let mut tail = String::new();
    match *rest {
        [a] => {
            let n = u32::from(a) << 16;
            push(n >> 18);
            push(n >> 12);
            tail.push_str("%3D%3D");
        }
        [a, b] => {
            let n = (u32::from(a) << 16) | (u32::from(b) << 8);
            push(n >> 18);
            push(n >> 12);
            push(n >> 6);
            tail.push_str("%3D");
        }
        _ => {}
    }
    out.push_str(&tail);
    out
}

impl OcspCache {
    /// An empty cache. `config.refresh` is capped at five minutes.
    pub fn new(mut config: OcspConfig) -> Result<Arc<OcspCache>, String> {
        config.refresh = config.refresh.min(MAX_INTERVAL);
        if let Some(u) = &config.responder_url {
            parse_url(u)?;
        }
        Ok(Arc::new(OcspCache {
            config,
            entries: RwLock::new(HashMap::new()),
            wake: std::sync::Mutex::new(None),
        }))
    }

    /// The settings in force.
    pub fn config(&self) -> &OcspConfig {
        &self.config
    }

    /// The answer for `cert_der` (issued by `issuer_der`) at `at` (Unix seconds), from
    /// memory only. A certificate not held yet is registered for the refresher (which is
    /// woken) and answered `Unavailable`.
    pub fn status(&self, cert_der: &[u8], issuer_der: &[u8], at: i64) -> OcspStatus {
        let held = self
            .entries
            .read()
            .ok()
            .and_then(|m| m.get(cert_der).cloned());
        match held {
            Some(e) if e.issuer == issuer_der => {
                e.last_used.store(at, Ordering::Relaxed);
                self.judge(&e, at)
            }
            _ => match self.register(cert_der, issuer_der, at) {
                Ok(()) => {
                    self.wake();
                    OcspStatus::Unavailable {
                        why: "no OCSP response fetched yet for this certificate (queued)".into(),
                    }
                }
                Err(why) => OcspStatus::Unavailable { why },
            },
        }
    }

    fn judge(&self, e: &Entry, at: i64) -> OcspStatus {
        let Some(r) = &e.result else {
            return OcspStatus::Unavailable {
                why: match &e.last_error {
                    Some(err) => format!("no usable OCSP response from {}: {err}", e.url),
                    None => format!("no OCSP response fetched yet from {}", e.url),
                },
            };
        };
        match r.status {
            OcspCertStatus::Revoked { time, reason } => {
                return OcspStatus::Revoked { time, reason };
            }
            OcspCertStatus::Unknown => return OcspStatus::Unknown,
            OcspCertStatus::Good => {}
        }
        if at > r.next_update {
            return OcspStatus::Unavailable {
                why: format!(
                    "the OCSP response held from {} is past its nextUpdate ({}){}",
                    e.url,
                    fmt(r.next_update),
                    e.last_error
                        .as_ref()
                        .map(|x| format!("; the last fetch failed: {x}"))
                        .unwrap_or_default()
                ),
            };
        }
        if r.this_update > at.saturating_add(secs(OCSP_MAX_SKEW)) {
            return OcspStatus::Unavailable {
                why: format!(
                    "the OCSP response held from {} is not valid before {}",
                    e.url,
                    fmt(r.this_update)
                ),
            };
        }
        if let (Some(grace), Some(last)) = (self.config.unreachable_grace, e.last_success)
            && at.saturating_sub(last) > secs(grace)
        {
            return OcspStatus::Unavailable {
                why: format!(
                    "the OCSP responder {} has not answered since {} (grace {} s){}",
                    e.url,
                    fmt(last),
                    grace.as_secs(),
                    e.last_error
                        .as_ref()
                        .map(|x| format!(": {x}"))
                        .unwrap_or_default()
                ),
            };
        }
        OcspStatus::Good {
            this_update: r.this_update,
            next_update: r.next_update,
        }
    }

    fn register(&self, cert_der: &[u8], issuer_der: &[u8], at: i64) -> Result<(), String> {
        let url = match &self.config.responder_url {
            Some(u) => u.clone(),
            None => ocsp_urls(cert_der)
                .map_err(|e| e.to_string())?
                .into_iter()
                .next()
                .ok_or_else(|| {
                    "the certificate names no http:// OCSP responder in its authorityInfoAccess"
                        .to_string()
                })?,
        };
        parse_url(&url)?;
        // The request can be built (the certificate and its issuer parse and match).
        ocsp_request(cert_der, issuer_der, self.config.hash).map_err(|e| e.to_string())?;
        let mut map = self
            .entries
            .write()
            .map_err(|_| "OCSP cache lock poisoned")?;
        if map.len() >= self.config.max_entries.max(1) && !map.contains_key(cert_der) {
            let oldest = map
                .iter()
                .min_by_key(|(_, e)| e.last_used.load(Ordering::Relaxed))
                .map(|(k, _)| k.clone());
            if let Some(k) = oldest {
                map.remove(&k);
            }
        }
        map.insert(
            cert_der.to_vec(),
            Arc::new(Entry {
                cert: cert_der.to_vec(),
                issuer: issuer_der.to_vec(),
                url,
                result: None,
                etag: None,
                last_success: None,
                failing_since: None,
                last_error: None,
                refresh_after: 0,
                last_used: AtomicI64::new(at),
            }),
        );
        Ok(())
    }

    fn wake(&self) {
        if let Ok(w) = self.wake.lock()
            && let Some(tx) = w.as_ref()
        {
            let _ = tx.try_send(());
        }
    }

    /// Registers `cert_der` if needed and fetches its answer now (blocking), then answers as
    /// [`OcspCache::status`] would at `at`. For one-off checks (`kmn verify --ocsp`), never on
    /// a login path.
    pub fn refresh_now(&self, cert_der: &[u8], issuer_der: &[u8], at: i64) -> OcspStatus {
        let held = self
            .entries
            .read()
            .ok()
            .and_then(|m| m.get(cert_der).cloned());
        if held.is_none_or(|e| e.issuer != issuer_der)
            && let Err(why) = self.register(cert_der, issuer_der, at)
        {
            return OcspStatus::Unavailable { why };
        }
        self.fetch_one(cert_der, at);
        let held = self
            .entries
            .read()
            .ok()
            .and_then(|m| m.get(cert_der).cloned());
        match held {
            Some(e) => self.judge(&e, at),
            None => OcspStatus::Unavailable {
                why: "the certificate was dropped from the OCSP cache".into(),
            },
        }
    }

    /// Fetches every answer that is due at `at` (and drops certificates not asked about for
    /// [`OcspConfig::forget_after`]); returns how many were fetched. The refresher calls it.
    pub fn refresh_due(&self, at: i64) -> usize {
        let due: Vec<Vec<u8>> = match self.entries.read() {
            Ok(m) => m
                .iter()
                .filter(|(_, e)| e.refresh_after <= at)
                .map(|(k, _)| k.clone())
                .collect(),
            Err(_) => return 0,
        };
        let forget = secs(self.config.forget_after);
        if let Ok(mut m) = self.entries.write() {
            m.retain(|_, e| at.saturating_sub(e.last_used.load(Ordering::Relaxed)) <= forget);
        }
        let mut n = 0;
        for k in due {
            if self.fetch_one(&k, at) {
                n += 1;
            }
        }
        n
    }

    /// The earliest time a fetch is due, if any certificate is held.
    fn next_due(&self) -> Option<i64> {
        self.entries
            .read()
            .ok()?
            .values()
            .map(|e| e.refresh_after)
            .min()
    }

    /// One fetch for the certificate `key`; false if it is not held.
    fn fetch_one(&self, key: &[u8], at: i64) -> bool {
        let Some(e) = self.entries.read().ok().and_then(|m| m.get(key).cloned()) else {
            return false;
        };
        let outcome = self.fetch(&e, at);
        let mut next = e.copy();
        let refresh = secs(self.config.refresh);
        match outcome {
            Ok(Fetched::New(result, etag)) => {
                next.refresh_after = at
                    .saturating_add(refresh)
                    .min(result.next_update)
                    .max(at + 1);
                next.result = Some(result);
                next.etag = etag;
                next.last_success = Some(at);
                next.failing_since = None;
                next.last_error = None;
            }
            Ok(Fetched::NotModified) => {
                let nu = next.result.as_ref().map_or(i64::MAX, |r| r.next_update);
                next.refresh_after = at.saturating_add(refresh).min(nu).max(at + 1);
                next.last_success = Some(at);
                next.failing_since = None;
                next.last_error = None;
            }
            Err(why) => {
                // Retry sooner than a full refresh, but not in a loop.
                next.refresh_after = at.saturating_add(refresh.min(30));
                next.failing_since.get_or_insert(at);
                next.last_error = Some(why);
            }
        }
        if let Ok(mut m) = self.entries.write()
            && m.get(key).is_some_and(|cur| Arc::ptr_eq(cur, &e))
        {
            m.insert(key.to_vec(), Arc::new(next));
        }
        true
    }

    fn fetch(&self, e: &Entry, at: i64) -> Result<Fetched, String> {
        let req = ocsp_request(&e.cert, &e.issuer, self.config.hash).map_err(|x| x.to_string())?;
        let url = format!("{}/{}", e.url.trim_end_matches('/'), base64_url_path(&req));
        let cfg = FetcherConfig {
            interval: self.config.refresh,
            timeout: self.config.timeout,
            deadline: self.config.deadline,
            max_bytes: MAX_OCSP_RESPONSE_LEN,
        };
        let etag = e.etag.as_deref().filter(|_| e.result.is_some());
        let resp = http_get(&url, etag, &cfg, "application/ocsp-response")
            .map_err(|x| x.replace(&url, &e.url))?;
        match resp.status {
            304 if etag.is_some() => Ok(Fetched::NotModified),
            200 => {
                let r = check_ocsp_response(&resp.body, &e.cert, &e.issuer, at)
                    .map_err(|x| format!("{}: {x}", e.url))?;
                Ok(Fetched::New(r, resp.etag))
            }
            s => Err(format!("{}: HTTP status {s}", e.url)),
        }
    }

    /// Every certificate held, for logs and health pages.
    pub fn entries(&self) -> Vec<OcspEntryState> {
        let Ok(m) = self.entries.read() else {
            return Vec::new();
        };
        m.values()
            .map(|e| OcspEntryState {
                url: e.url.clone(),
                result: e.result.clone(),
                etag: e.etag.clone(),
                last_success: e.last_success,
                failing_since: e.failing_since,
                last_error: e.last_error.clone(),
            })
            .collect()
    }

    /// Starts the background refresher: a thread that fetches due answers (see
    /// [`OcspCache::refresh_due`]) as soon as [`OcspCache::status`] registers a certificate
    /// and then whenever an answer is due (checking at least every second). It stops when the
    /// handle is stopped or dropped.
    pub fn spawn_refresher(self: &Arc<Self>) -> OcspRefresher {
        let (tx, rx) = mpsc::sync_channel::<()>(1);
        if let Ok(mut w) = self.wake.lock() {
            *w = Some(tx.clone());
        }
        let stop = Arc::new(AtomicBool::new(false));
        let cache = Arc::clone(self);
        let flag = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name("kmn-ocsp-refresh".into())
            .spawn(move || {
                while !flag.load(Ordering::Relaxed) {
                    let t = now();
                    cache.refresh_due(t);
                    // Something still due (a fetch failed fast): look again soon; otherwise
                    // every second, or at once when `status` registers a certificate.
                    let due_now = cache.next_due().is_some_and(|d| d <= now());
                    let wait = Duration::from_millis(if due_now { 200 } else { 1000 });
                    match rx.recv_timeout(wait) {
                        Ok(()) | Err(mpsc::RecvTimeoutError::Timeout) => {}
                        Err(mpsc::RecvTimeoutError::Disconnected) => break,
                    }
                }
            })
            .ok();
        OcspRefresher {
            stop,
            wake: Some(tx),
            thread,
        }
    }
}

enum Fetched {
    New(OcspResult, Option<String>),
    NotModified,
}

fn fmt(t: i64) -> String {
    use time::format_description::well_known::Rfc3339;
    time::OffsetDateTime::from_unix_timestamp(t)
        .ok()
        .and_then(|x| x.format(&Rfc3339).ok())
        .unwrap_or_else(|| t.to_string())
}

/// The background OCSP refresher; stopping (or dropping) it ends the thread.
#[derive(Debug)]
pub struct OcspRefresher {
    stop: Arc<AtomicBool>,
    wake: Option<mpsc::SyncSender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl OcspRefresher {
    /// Whether the thread is running.
    pub fn is_running(&self) -> bool {
        self.thread.as_ref().is_some_and(|t| !t.is_finished())
    }

    /// Stops the thread (after the fetch in progress, if any) and waits for it.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(tx) = self.wake.take() {
            let _ = tx.try_send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for OcspRefresher {
    fn drop(&mut self) {
        self.shutdown();
    }
}

#[cfg(test)]
#[allow(clippy::indexing_slicing, clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn base64_path_encoding() {
        assert_eq!(base64_url_path(b""), "");
        assert_eq!(base64_url_path(b"f"), "Zg%3D%3D");
        assert_eq!(base64_url_path(b"fo"), "Zm8%3D");
        assert_eq!(base64_url_path(b"foo"), "Zm9v");
        assert_eq!(base64_url_path(&[0xfb, 0xff]), "%2B%2F8%3D");
    }
}

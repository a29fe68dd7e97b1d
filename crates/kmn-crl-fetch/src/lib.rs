//! kmn-crl-fetch: keeps a [`kmn_verify::RevocationStore`] fresh (issue #11, "revocation
//! live").
//!
//! A [`Fetcher`] fetches each configured CRL URL over plain HTTP (the repository serves CRLs
//! as `http://…/repo/kmn-issuing-g1.crl`; a CRL is signed, so TLS adds nothing to its
//! integrity, RFC 5280 §4.2.1.13) with `If-None-Match` carrying the entity tag of the CRL it
//! holds, every [`FetcherConfig::interval`] (at most [`MAX_INTERVAL`], five minutes, whatever
//! the CRL's nextUpdate says):
//!
//! * `200`: the CRL is verified and indexed once ([`kmn_verify::RevocationIndex::build`],
//!   outside any lock), then installed, replacing the source's index in one pointer swap;
//!   verifications in flight keep the snapshot they hold.
//! * `304 Not Modified`: the index is kept; the source counts as fetched now.
//! * anything else (connection refused, timeout, an HTTP error, a CRL that does not verify,
//!   an older cRLNumber): the old index is kept and the failure recorded with its time. The
//!   store then fails closed once the CRL is past its nextUpdate (plus the configured grace),
//!   or once the source has not been fetched successfully for longer than the configured
//!   unreachable grace ([`kmn_verify::RevocationConfig`]).
//!
//! Only `http://` URLs are fetched; responses are bounded ([`FetcherConfig::max_bytes`]) and
//! timed out ([`FetcherConfig::timeout`] per read, [`FetcherConfig::deadline`] in all).

#![forbid(unsafe_code)]
#![deny(clippy::indexing_slicing, clippy::unwrap_used, clippy::expect_used)]

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use kmn_verify::{RevocationIndex, RevocationStore};

mod ocsp;
pub use ocsp::{OcspCache, OcspConfig, OcspEntryState, OcspRefresher, OcspStatus};

/// The longest refetch interval: 5 minutes.
pub const MAX_INTERVAL: Duration = Duration::from_secs(300);

/// Fetch settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FetcherConfig {
    /// Time between two fetches of each source; capped at [`MAX_INTERVAL`].
    pub interval: Duration,
    /// Connect and per-read timeout.
    pub timeout: Duration,
    /// Longest time one fetch may take in all.
    pub deadline: Duration,
    /// Largest response body accepted (a CRL of a million entries is about 40 MB).
    pub max_bytes: usize,
}

impl Default for FetcherConfig {
    fn default() -> Self {
        FetcherConfig {
            interval: MAX_INTERVAL,
            timeout: Duration::from_secs(10),
            deadline: Duration::from_secs(120),
            max_bytes: 256 << 20,
        }
    }
}

/// What one fetch of one source did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// A new CRL was verified, indexed and installed.
    Updated {
        /// Its cRLNumber, hex.
        crl_number: String,
        /// Revoked serial numbers held.
        entries: usize,
    },
    /// `304 Not Modified`: the index is kept.
    NotModified,
    /// The fetch or the CRL failed; the old index (if any) is kept.
    Failed(String),
}

/// Fetches the CRLs of a set of URLs into a store.
#[derive(Debug)]
pub struct Fetcher {
    store: Arc<RevocationStore>,
    issuers: Vec<Vec<u8>>,
    urls: Vec<String>,
    config: FetcherConfig,
}

/// A parsed `http://host[:port]/path` URL.
#[derive(Debug, Clone, PartialEq, Eq)]
struct HttpUrl {
    host: String,
    port: u16,
    /// `host` or `host:port`, for the Host header.
    authority: String,
    path: String,
}

fn parse_url(url: &str) -> Result<HttpUrl, String> {
    let Some(rest) = url.strip_prefix("http://") else {
        return Err(format!(
            "'{}': only http:// URLs are fetched (CRLs are signed; the repository serves them over plain HTTP)",
            url.escape_debug()
        ));
    };
    let (authority, path) = match rest.find(['/', '?', '#']) {
        Some(i) => rest.split_at(i),
        None => (rest, "/"),
    };
    let path = path.split('#').next().unwrap_or("/");
    let path = if path.starts_with('/') {
        path.to_string()
    } else {
        format!("/{path}")
    };
    let bad = |why: &str| format!("'{}': {why}", url.escape_debug());
    if authority.contains('@') {
        return Err(bad("user information in the URL is not supported"));
    }
    if path.bytes().any(|b| b <= b' ' || b == 0x7f) || !path.is_ascii() {
        return Err(bad(
            "the path must be ASCII without spaces or control characters",
        ));
    }
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (h, after) = v6.split_once(']').ok_or_else(|| bad("unclosed '['"))?;
        let port = match after.strip_prefix(':') {
            Some(p) => Some(p),
            None if after.is_empty() => None,
            None => return Err(bad("junk after the IPv6 address")),
        };
        (h.to_string(), port)
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h.to_string(), Some(p)),
            None => (authority.to_string(), None),
        }
    };
    if host.is_empty()
        || !host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._:".contains(&b))
    {
        return Err(bad("no usable host name"));
    }
    let port = match port {
        Some(p) => p.parse::<u16>().map_err(|_| bad("bad port"))?,
        None => 80,
    };
    Ok(HttpUrl {
        host,
        port,
        authority: authority.to_string(),
        path,
    })
}

/// An HTTP response: status, ETag header, body.
#[derive(Debug)]
struct Response {
    status: u16,
    etag: Option<String>,
    body: Vec<u8>,
}

const MAX_HEAD: usize = 64 << 10;

/// One GET, `Connection: close`, with `If-None-Match: etag` when given.
fn http_get(
    url: &str,
    etag: Option<&str>,
    cfg: &FetcherConfig,
    accept: &str,
) -> Result<Response, String> {
    let u = parse_url(url)?;
    let start = Instant::now();
    let addrs = (u.host.as_str(), u.port)
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve {}: {e}", u.host))?;
    let mut last = format!("no address for {}", u.host);
    let mut stream = None;
    for a in addrs {
        match TcpStream::connect_timeout(&a, cfg.timeout) {
            Ok(s) => {
                stream = Some(s);
                break;
            }
            Err(e) => last = format!("cannot connect to {a}: {e}"),
        }
    }
    let mut s = stream.ok_or(last)?;
    let io = |e: std::io::Error| format!("{url}: {e}");
    s.set_read_timeout(Some(cfg.timeout)).map_err(io)?;
    s.set_write_timeout(Some(cfg.timeout)).map_err(io)?;
    let mut req = format!(
        "GET {} HTTP/1.1\r\nHost: {}\r\nAccept: {accept}\r\nUser-Agent: kmn-crl-fetch\r\nConnection: close\r\n",
        u.path, u.authority
    );
    if let Some(t) = etag.filter(|t| t.bytes().all(|b| (b' '..0x7f).contains(&b))) {
        req.push_str(&format!("If-None-Match: {t}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).map_err(io)?;

    let mut buf: Vec<u8> = Vec::with_capacity(16 << 10);
    let mut chunk = vec![0u8; 64 << 10];
    let read_more =
        |s: &mut TcpStream, buf: &mut Vec<u8>, chunk: &mut [u8]| -> Result<bool, String> {
            if start.elapsed() > cfg.deadline {
                return Err(format!(
                    "{url}: no complete response within {} s",
                    cfg.deadline.as_secs()
                ));
            }
            let n = s.read(chunk).map_err(io)?;
            buf.extend_from_slice(chunk.get(..n).unwrap_or_default());
            Ok(n > 0)
        };
    // The head.
    let (head_len, status, etag, content_length, chunked) = loop {
        let mut headers = [httparse::EMPTY_HEADER; 64];
        let mut resp = httparse::Response::new(&mut headers);
        match resp.parse(&buf) {
            Ok(httparse::Status::Complete(n)) => {
                let status = resp.code.unwrap_or(0);
                let mut etag = None;
                let mut content_length = None;
                let mut chunked = false;
                for h in resp.headers.iter() {
                    let v = String::from_utf8_lossy(h.value).trim().to_string();
                    if h.name.eq_ignore_ascii_case("etag") {
                        etag = Some(v);
                    } else if h.name.eq_ignore_ascii_case("content-length") {
                        content_length = Some(v.parse::<usize>().map_err(|_| {
                            format!("{url}: bad Content-Length '{}'", v.escape_debug())
                        })?);
                    } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
                        chunked = v.to_ascii_lowercase().contains("chunked");
                    }
                }
                break (n, status, etag, content_length, chunked);
            }
            Ok(httparse::Status::Partial) => {
                if buf.len() > MAX_HEAD {
                    return Err(format!("{url}: response head larger than {MAX_HEAD} bytes"));
                }
                if !read_more(&mut s, &mut buf, &mut chunk)? {
                    return Err(format!(
                        "{url}: connection closed before a complete response"
                    ));
                }
            }
            Err(e) => return Err(format!("{url}: not an HTTP response ({e})")),
        }
    };
    if status == 304 || status == 204 || (100..200).contains(&status) {
        return Ok(Response {
            status,
            etag,
            body: Vec::new(),
        });
    }
    if let Some(n) = content_length
        && n > cfg.max_bytes
    {
        return Err(format!(
            "{url}: the response has {n} bytes, more than the limit of {}",
            cfg.max_bytes
        ));
    }
    // The body: Content-Length bytes, or everything until the server closes.
    loop {
        let have = buf.len().saturating_sub(head_len);
        if !chunked && content_length.is_some_and(|n| have >= n) {
            break;
        }
        if have
            > cfg
                .max_bytes
                .saturating_add(if chunked { 1 << 20 } else { 0 })
        {
            return Err(format!(
                "{url}: the response is larger than the limit of {} bytes",
                cfg.max_bytes
            ));
        }
        if !read_more(&mut s, &mut buf, &mut chunk)? {
            if let Some(n) = content_length
                && !chunked
                && have < n
            {
                return Err(format!(
                    "{url}: connection closed after {have} of {n} body bytes"
                ));
            }
            break;
        }
    }
    let raw = buf.get(head_len..).unwrap_or_default();
    let body = if chunked {
        dechunk(raw, cfg.max_bytes).map_err(|e| format!("{url}: {e}"))?
    } else {
        match content_length {
            Some(n) => raw.get(..n).unwrap_or(raw).to_vec(),
            None => raw.to_vec(),
        }
    };
    Ok(Response { status, etag, body })
}

/// Decodes a chunked body (RFC 9112 §7.1); trailers are ignored.
fn dechunk(mut raw: &[u8], max: usize) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    loop {
        let line_end = raw
            .windows(2)
            .position(|w| w == b"\r\n")
            .ok_or("truncated chunked body")?;
        let line = raw.get(..line_end).unwrap_or_default();
        let size_hex = line.split(|b| *b == b';').next().unwrap_or_default();
        let size_str = std::str::from_utf8(size_hex).map_err(|_| "bad chunk size")?;
        let size =
            usize::from_str_radix(size_str.trim(), 16).map_err(|_| "bad chunk size".to_string())?;
        raw = raw.get(line_end + 2..).unwrap_or_default();
        if size == 0 {
            return Ok(out);
        }
        if out.len().saturating_add(size) > max {
            return Err(format!(
                "the response is larger than the limit of {max} bytes"
            ));
        }
        let data = raw.get(..size).ok_or("truncated chunk")?;
        out.extend_from_slice(data);
        raw = raw
            .get(size..)
            .and_then(|r| r.strip_prefix(b"\r\n"))
            .ok_or("chunk not followed by CRLF")?;
    }
}

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

impl Fetcher {
    /// A fetcher of `urls` into `store`; CRLs must be signed by one of `issuers` (DER
    /// certificates: the root for the ARL, the issuing CAs G1 and G2 during a rollover). Each
    /// URL is registered as a source at once, so a certificate its CRL would cover fails
    /// closed until the first successful fetch. The interval is capped at [`MAX_INTERVAL`].
    pub fn new(
        store: Arc<RevocationStore>,
        issuers: Vec<Vec<u8>>,
        urls: Vec<String>,
        mut config: FetcherConfig,
    ) -> Result<Fetcher, String> {
        for u in &urls {
            parse_url(u)?;
            store.add_source(u);
        }
        config.interval = config.interval.min(MAX_INTERVAL);
        Ok(Fetcher {
            store,
            issuers,
            urls,
            config,
        })
    }

    /// The refetch interval in force (capped).
    pub fn interval(&self) -> Duration {
        self.config.interval
    }

    /// Fetches every source once, now.
    pub fn refresh_all(&self) -> Vec<(String, Outcome)> {
        self.refresh_all_at(now())
    }

    /// Fetches every source once, recording `at` (Unix seconds) as the time of the fetch.
    pub fn refresh_all_at(&self, at: i64) -> Vec<(String, Outcome)> {
        self.urls
            .iter()
            .map(|u| (u.clone(), self.refresh_at(u, at)))
            .collect()
    }

    /// Fetches one source (`If-None-Match` with the held CRL's entity tag) and updates the
    /// store, recording `at` as the time of the fetch.
    pub fn refresh_at(&self, url: &str, at: i64) -> Outcome {
        let held = self.store.snapshot();
        let etag = held
            .sources()
            .iter()
            .find(|s| s.source == url)
            .filter(|s| s.index.is_some())
            .and_then(|s| s.etag.clone());
        drop(held);
        let fail = |why: String| {
            self.store.record_failure(url, at, &why);
            Outcome::Failed(why)
        };
        let resp = match http_get(url, etag.as_deref(), &self.config, "application/pkix-crl") {
            Ok(r) => r,
            Err(e) => return fail(e),
        };
        match resp.status {
            304 if etag.is_some() => {
                self.store.record_not_modified(url, at);
                Outcome::NotModified
            }
            200 => {
                let der = match kmn_verify::load_crls(&resp.body) {
                    Ok(mut v) if v.len() == 1 => v.remove(0),
                    Ok(v) => {
                        return fail(format!(
                            "{url}: expected one CRL, the response holds {}",
                            v.len()
                        ));
                    }
                    Err(e) => return fail(format!("{url}: {e}")),
                };
                let index = match RevocationIndex::build(&der, &self.issuers) {
                    Ok(i) => i,
                    Err(e) => return fail(format!("{url}: {e}")),
                };
                let crl_number = hex_string(index.crl_number());
                let entries = index.len();
                match self.store.install(url, index, resp.etag, at) {
                    Ok(()) => Outcome::Updated {
                        crl_number,
                        entries,
                    },
                    Err(e) => Outcome::Failed(e),
                }
            }
            s => fail(format!("{url}: HTTP status {s}")),
        }
    }

    /// Runs [`Fetcher::refresh_all`] now and then every interval (measured from the start of
    /// each round; a round slower than the interval is followed at once by the next) on a
    /// background thread, until the handle is stopped or dropped. Sources are fetched one
    /// after the other: with N unreachable sources a round can take N × the timeout.
    pub fn spawn(self) -> FetcherHandle {
        let (tx, rx) = mpsc::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("kmn-crl-fetch".into())
            .spawn(move || {
                loop {
                    // Rounds start every interval (not an interval after the last one ended).
                    let started = Instant::now();
                    self.refresh_all();
                    let wait = self.config.interval.saturating_sub(started.elapsed());
                    match rx.recv_timeout(wait) {
                        Err(mpsc::RecvTimeoutError::Timeout) => continue,
                        _ => break,
                    }
                }
            });
        FetcherHandle {
            stop: Some(tx),
            thread: thread.ok(),
        }
    }
}

fn hex_string(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// The background refetch thread; stopping (or dropping) it ends the thread after the fetch in
/// progress, if any.
#[derive(Debug)]
pub struct FetcherHandle {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl FetcherHandle {
    /// Whether the background thread could be started.
    pub fn is_running(&self) -> bool {
        self.thread.as_ref().is_some_and(|t| !t.is_finished())
    }

    /// Stops the thread and waits for it.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for FetcherHandle {
    fn drop(&mut self) {
        self.shutdown();
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let u = parse_url("http://kmn.example.jp/repo/kmn-issuing-g1.crl").unwrap();
        assert_eq!((u.host.as_str(), u.port), ("kmn.example.jp", 80));
        assert_eq!(u.path, "/repo/kmn-issuing-g1.crl");
        let u = parse_url("http://127.0.0.1:8080").unwrap();
        assert_eq!(
            (u.port, u.path.as_str(), u.authority.as_str()),
            (8080, "/", "127.0.0.1:8080")
        );
        let u = parse_url("http://[::1]:9/x?y#z").unwrap();
        assert_eq!(
            (u.host.as_str(), u.port, u.path.as_str()),
            ("::1", 9, "/x?y")
        );
        assert!(parse_url("https://kmn.example.jp/x.crl").is_err());
        assert!(parse_url("http://u@h/x").is_err());
        assert!(parse_url("http://h:99999/x").is_err());
        assert!(parse_url("http:///x").is_err());
        assert!(parse_url("http://h/a b").is_err());
        assert!(parse_url("http://h\r\nX: y/").is_err());
    }

    #[test]
    fn chunked() {
        assert_eq!(
            dechunk(b"3\r\nabc\r\n2;x=y\r\nde\r\n0\r\n\r\n", 10).unwrap(),
            b"abcde"
        );
        assert!(dechunk(b"3\r\nabc\r\n", 10).is_err());
        assert!(dechunk(b"zz\r\n", 10).is_err());
        assert!(dechunk(b"ffffffffffffffffff\r\n", 10).is_err());
        assert!(dechunk(b"b\r\nabcdefghijk\r\n0\r\n\r\n", 10).is_err());
    }
}

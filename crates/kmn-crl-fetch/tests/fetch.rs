//! Issue #11, "revocation live": CRLs fetched over real HTTP (a hyper HTTP/1.1 server in the
//! test, serving strong ETags and 304 as kmn-web's repository does) into a RevocationStore,
//! then certificates checked with kmn_verify::verify_with_index.

#[path = "../../kmn-verify/tests/support/mod.rs"]
mod support;

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use der::Decode;
use http_body_util::Full;
use hyper::{Request, Response, StatusCode};
use kmn_crl_fetch::{
    Fetcher, FetcherConfig, MAX_INTERVAL, OcspCache, OcspConfig, OcspStatus, Outcome,
};
use kmn_verify::{
    RevocationConfig, RevocationStore, VerifyError, VerifyOptions, verify_with_index,
};
use support::*;
use time::macros::datetime;

const AT: time::OffsetDateTime = datetime!(2030-06-01 00:00 UTC);
const ROOT: &str = "KMN Fetch Root";
const G1: &str = "KMN Fetch Issuing G1";
const G2: &str = "KMN Fetch Issuing G2";

/// What the server holds and saw.
#[derive(Default)]
struct Repo {
    files: HashMap<String, Vec<u8>>,
    /// (path, If-None-Match sent, status answered)
    log: Vec<(String, Option<String>, u16)>,
}

fn etag_of(bytes: &[u8]) -> String {
    use sha2::Digest;
    format!("\"{}\"", hex::encode(&sha2::Sha256::digest(bytes)[..16]))
}

struct Server {
    addr: SocketAddr,
    repo: Arc<Mutex<Repo>>,
    rt: tokio::runtime::Runtime,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Server {
    fn start() -> Server {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let repo = Arc::new(Mutex::new(Repo::default()));
        let listener = rt
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let addr = listener.local_addr().unwrap();
        let r = Arc::clone(&repo);
        let task = rt.spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let r = Arc::clone(&r);
                tokio::spawn(async move {
                    let service =
                        hyper::service::service_fn(move |req: Request<hyper::body::Incoming>| {
                            let r = Arc::clone(&r);
                            async move { Ok::<_, Infallible>(serve(&r, &req)) }
                        });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Server {
            addr,
            repo,
            rt,
            task: Some(task),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    fn put(&self, path: &str, bytes: Vec<u8>) {
        self.repo.lock().unwrap().files.insert(path.into(), bytes);
    }

    fn log(&self) -> Vec<(String, Option<String>, u16)> {
        std::mem::take(&mut self.repo.lock().unwrap().log)
    }

    /// Stops listening: later connections are refused.
    fn stop(&mut self) {
        if let Some(t) = self.task.take() {
            t.abort();
            let _ = self.rt.block_on(t);
        }
    }
}

/// The repository's behaviour (crates/kmn-web repo_file): strong ETag, 304 on a match.
fn serve(repo: &Mutex<Repo>, req: &Request<hyper::body::Incoming>) -> Response<Full<Bytes>> {
    let mut repo = repo.lock().unwrap();
    let path = req.uri().path().to_string();
    let inm = req
        .headers()
        .get("if-none-match")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    // Every OCSP GET (`/ocsp/<base64 request>`) gets the one response held at `/ocsp`.
    let key = if path.starts_with("/ocsp/") {
        "/ocsp".to_string()
    } else {
        path.clone()
    };
    let (status, resp) = match repo.files.get(&key) {
        None => (
            404,
            Response::builder()
                .status(StatusCode::NOT_FOUND)
                .body(Full::new(Bytes::from_static(b"not found\n")))
                .unwrap(),
        ),
        Some(bytes) => {
            let etag = etag_of(bytes);
            if inm.as_deref() == Some(etag.as_str()) {
                (
                    304,
                    Response::builder()
                        .status(StatusCode::NOT_MODIFIED)
                        .header("etag", &etag)
                        .body(Full::new(Bytes::new()))
                        .unwrap(),
                )
            } else {
                (
                    200,
                    Response::builder()
                        .header("content-type", "application/pkix-crl")
                        .header("cache-control", "public, max-age=60")
                        .header("etag", &etag)
                        .body(Full::new(Bytes::from(bytes.clone())))
                        .unwrap(),
                )
            }
        }
    };
    repo.log.push((path, inm, status));
    resp
}

struct Ca {
    cn: &'static str,
    key: Key,
    cert: Vec<u8>,
}

fn ca(cn: &'static str, root_key: &Key) -> Ca {
    let key = Key::new();
    let cert = Tbs::ca(cn).sign(&key, Some((ROOT, root_key)));
    Ca { cn, key, cert }
}

struct Pki {
    root: Ca,
    g1: Ca,
    g2: Ca,
}

impl Pki {
    fn new() -> Pki {
        let key = Key::new();
        let cert = Tbs::ca(ROOT).sign(&key, None);
        let g1 = ca(G1, &key);
        let g2 = ca(G2, &key);
        Pki {
            root: Ca {
                cn: ROOT,
                key,
                cert,
            },
            g1,
            g2,
        }
    }

    fn issuers(&self) -> Vec<Vec<u8>> {
        vec![
            self.root.cert.clone(),
            self.g1.cert.clone(),
            self.g2.cert.clone(),
        ]
    }

    fn leaf(&self, ca: &Ca) -> Vec<u8> {
        Tbs::leaf("Dr. Fetch", &["1.3.6.1.5.5.7.3.2"], &[])
            .sign(&Key::new(), Some((ca.cn, &ca.key)))
    }

    fn verify(
        &self,
        leaf: &[u8],
        store: &RevocationStore,
        at: time::OffsetDateTime,
    ) -> Result<(), VerifyError> {
        verify_with_index(
            leaf,
            std::slice::from_ref(&self.root.cert),
            &[self.g1.cert.clone(), self.g2.cert.clone()],
            &store.snapshot(),
            &VerifyOptions::new(at),
        )
        .map(|_| ())
    }
}

fn serial_of(der: &[u8]) -> u64 {
    let c = x509_cert::Certificate::from_der(der).unwrap();
    c.tbs_certificate()
        .serial_number()
        .as_bytes()
        .iter()
        .fold(0u64, |acc, b| (acc << 8) | u64::from(*b))
}

const ARL: &str = "/repo/kmn-root-g1.crl";
const CRL_G1: &str = "/repo/kmn-issuing-g1.crl";
const CRL_G2: &str = "/repo/kmn-issuing-g2.crl";

/// A server with the ARL and G1's and G2's CRLs (nothing revoked), a store and a fetcher.
fn setup(config: RevocationConfig) -> (Pki, Server, Arc<RevocationStore>, Fetcher) {
    let pki = Pki::new();
    let server = Server::start();
    server.put(ARL, crl(ROOT, &pki.root.key, Some(1), &[], &[]));
    server.put(CRL_G1, crl(G1, &pki.g1.key, Some(1), &[], &[]));
    server.put(CRL_G2, crl(G2, &pki.g2.key, Some(1), &[], &[]));
    let store = Arc::new(RevocationStore::new(config));
    let fetcher = Fetcher::new(
        Arc::clone(&store),
        pki.issuers(),
        vec![server.url(ARL), server.url(CRL_G1), server.url(CRL_G2)],
        FetcherConfig {
            timeout: Duration::from_secs(5),
            ..FetcherConfig::default()
        },
    )
    .unwrap();
    (pki, server, store, fetcher)
}

fn all_updated(outcomes: &[(String, Outcome)]) {
    for (u, o) in outcomes {
        assert!(matches!(o, Outcome::Updated { .. }), "{u}: {o:?}");
    }
}

#[test]
fn issue11_refetch_sends_if_none_match_and_keeps_the_index_on_304() {
    let (pki, server, store, fetcher) = setup(RevocationConfig::default());
    let leaf = pki.leaf(&pki.g1);
    // Before any fetch: every source registered, none loaded: fail closed.
    assert!(matches!(
        pki.verify(&leaf, &store, AT).unwrap_err(),
        VerifyError::NoCrl { .. }
    ));
    let t0 = AT.unix_timestamp();
    all_updated(&fetcher.refresh_all_at(t0));
    let first = server.log();
    assert_eq!(first.len(), 3);
    assert!(
        first.iter().all(|(_, inm, st)| inm.is_none() && *st == 200),
        "{first:?}"
    );
    pki.verify(&leaf, &store, AT).unwrap();
    let before = store.snapshot();

    let again = fetcher.refresh_all_at(t0 + 300);
    assert!(
        again.iter().all(|(_, o)| *o == Outcome::NotModified),
        "{again:?}"
    );
    let log = server.log();
    for (path, inm, status) in &log {
        assert_eq!(*status, 304, "{path}");
        let expected = etag_of(&server.repo.lock().unwrap().files[path]);
        assert_eq!(inm.as_deref(), Some(expected.as_str()), "{path}");
    }
    // The very same index objects are kept.
    let after = store.snapshot();
    for (a, b) in before.sources().iter().zip(after.sources()) {
        assert!(Arc::ptr_eq(
            a.index.as_ref().unwrap(),
            b.index.as_ref().unwrap()
        ));
        assert_eq!(b.last_success, Some(t0 + 300));
    }
}

#[test]
fn issue11_revoked_serial_seen_after_refetch() {
    let (pki, server, store, fetcher) = setup(RevocationConfig::default());
    let leaf = pki.leaf(&pki.g1);
    let t0 = AT.unix_timestamp();
    all_updated(&fetcher.refresh_all_at(t0));
    pki.verify(&leaf, &store, AT).unwrap();
    server.put(
        CRL_G1,
        crl(G1, &pki.g1.key, Some(2), &[], &[serial_of(&leaf)]),
    );
    let out = fetcher.refresh_all_at(t0 + 300);
    assert_eq!(
        out[1].1,
        Outcome::Updated {
            crl_number: "02".into(),
            entries: 1
        }
    );
    assert_eq!(out[0].1, Outcome::NotModified);
    let err = pki.verify(&leaf, &store, AT).unwrap_err();
    assert!(matches!(err, VerifyError::Revoked { .. }), "{err}");
    // An older CRL served later is refused; the revocation stays.
    server.put(CRL_G1, crl(G1, &pki.g1.key, Some(1), &[], &[]));
    let out = fetcher.refresh_at(&server.url(CRL_G1), t0 + 600);
    assert!(
        matches!(&out, Outcome::Failed(e) if e.contains("below the one held")),
        "{out:?}"
    );
    assert!(matches!(
        pki.verify(&leaf, &store, AT).unwrap_err(),
        VerifyError::Revoked { .. }
    ));
    // So is a CRL signed by another key.
    server.put(CRL_G1, crl(G1, &Key::new(), Some(3), &[], &[]));
    let out = fetcher.refresh_at(&server.url(CRL_G1), t0 + 900);
    assert!(
        matches!(&out, Outcome::Failed(e) if e.contains("does not verify")),
        "{out:?}"
    );
}

#[test]
fn issue11_unreachable_beyond_grace_fails_closed_over_http() {
    let (pki, mut server, store, fetcher) = setup(RevocationConfig {
        next_update_grace: Duration::ZERO,
        unreachable_grace: Some(Duration::from_secs(900)),
    });
    let leaf = pki.leaf(&pki.g2);
    let t0 = AT.unix_timestamp();
    all_updated(&fetcher.refresh_all_at(t0));
    server.stop();
    let out = fetcher.refresh_all_at(t0 + 300);
    assert!(
        out.iter()
            .all(|(_, o)| matches!(o, Outcome::Failed(e) if e.contains("cannot connect"))),
        "{out:?}"
    );
    // The old indexes answer within the grace ...
    pki.verify(&leaf, &store, AT + Duration::from_secs(600))
        .unwrap();
    // ... and not beyond it.
    fetcher.refresh_all_at(t0 + 600);
    let err = pki
        .verify(&leaf, &store, AT + Duration::from_secs(901))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("unreachable since 2030-06-01T00:05:00Z"),
        "{err}"
    );
    assert!(err.contains("cannot connect"), "{err}");
}

#[test]
fn issue11_past_next_update_fails_closed_even_when_fetched() {
    let (pki, _server, store, fetcher) = setup(RevocationConfig::default());
    let leaf = pki.leaf(&pki.g1);
    let late = datetime!(2031-01-01 00:00:01 UTC);
    all_updated(&fetcher.refresh_all_at(late.unix_timestamp()));
    let err = pki.verify(&leaf, &store, late).unwrap_err().to_string();
    assert!(
        err.contains("is past its nextUpdate (2031-01-01T00:00:00Z)"),
        "{err}"
    );
}

#[test]
fn issue11_rollover_both_issuing_cas_over_http() {
    let (pki, server, store, fetcher) = setup(RevocationConfig::default());
    let (a, b) = (pki.leaf(&pki.g1), pki.leaf(&pki.g2));
    all_updated(&fetcher.refresh_all_at(AT.unix_timestamp()));
    pki.verify(&a, &store, AT).unwrap();
    pki.verify(&b, &store, AT).unwrap();
    // G2's CRL disappears from the repository: G2's old index stays usable until its
    // nextUpdate; a fresh store with no G2 CRL fails closed for G2 only.
    server.repo.lock().unwrap().files.remove(CRL_G2);
    let out = fetcher.refresh_at(&server.url(CRL_G2), AT.unix_timestamp() + 300);
    assert!(
        matches!(&out, Outcome::Failed(e) if e.contains("HTTP status 404")),
        "{out:?}"
    );
    pki.verify(&b, &store, AT).unwrap();
    let fresh = Arc::new(RevocationStore::new(RevocationConfig::default()));
    let f2 = Fetcher::new(
        Arc::clone(&fresh),
        pki.issuers(),
        vec![server.url(ARL), server.url(CRL_G1), server.url(CRL_G2)],
        FetcherConfig::default(),
    )
    .unwrap();
    f2.refresh_all_at(AT.unix_timestamp());
    pki.verify(&a, &fresh, AT).unwrap();
    let err = pki.verify(&b, &fresh, AT).unwrap_err().to_string();
    assert!(err.contains("HTTP status 404"), "{err}");
}

#[test]
fn issue11_refetch_interval_is_capped_at_five_minutes() {
    let store = Arc::new(RevocationStore::new(RevocationConfig::default()));
    let f = Fetcher::new(
        store,
        vec![],
        vec!["http://127.0.0.1:9/x.crl".into()],
        FetcherConfig {
            interval: Duration::from_secs(3600),
            ..FetcherConfig::default()
        },
    )
    .unwrap();
    assert_eq!(f.interval(), MAX_INTERVAL);
    assert!(
        Fetcher::new(
            Arc::new(RevocationStore::new(RevocationConfig::default())),
            vec![],
            vec!["https://kmn.example.jp/repo/x.crl".into()],
            FetcherConfig::default()
        )
        .unwrap_err()
        .contains("only http:// URLs")
    );
}

#[test]
fn issue11_background_refetch_thread() {
    let (pki, server, store, _unused) = setup(RevocationConfig::default());
    let fetcher = Fetcher::new(
        Arc::clone(&store),
        pki.issuers(),
        vec![server.url(ARL), server.url(CRL_G1), server.url(CRL_G2)],
        FetcherConfig {
            interval: Duration::from_millis(100),
            ..FetcherConfig::default()
        },
    )
    .unwrap();
    let handle = fetcher.spawn();
    let leaf = pki.leaf(&pki.g1);
    server.put(
        CRL_G1,
        crl(G1, &pki.g1.key, Some(2), &[], &[serial_of(&leaf)]),
    );
    // Rounds go on every 100 ms: the revocation is seen, and later rounds get 304s for
    // If-None-Match.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let mut log = Vec::new();
    loop {
        log.extend(server.log());
        let revoked = matches!(
            pki.verify(&leaf, &store, AT),
            Err(VerifyError::Revoked { .. })
        );
        let revalidated = log.iter().any(|(_, inm, st)| inm.is_some() && *st == 304);
        if revoked && revalidated {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "revoked {revoked}, log {log:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(handle.is_running());
    handle.stop();
}

#[test]
fn issue11_hostile_http_answers_are_failures_not_panics() {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let answers: Vec<&'static [u8]> = vec![
        b"garbage\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 99999999999\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc",
        b"HTTP/1.1 304 Not Modified\r\n\r\n",
        b"",
    ];
    let n = answers.len();
    let server = std::thread::spawn(move || {
        for a in answers {
            let (mut s, _) = listener.accept().unwrap();
            let mut buf = [0u8; 4096];
            let _ = s.read(&mut buf);
            let _ = s.write_all(a);
        }
    });
    let store = Arc::new(RevocationStore::new(RevocationConfig::default()));
    let url = format!("http://{addr}/x.crl");
    let f = Fetcher::new(
        store,
        vec![],
        vec![url.clone()],
        FetcherConfig {
            timeout: Duration::from_secs(5),
            max_bytes: 1 << 20,
            ..FetcherConfig::default()
        },
    )
    .unwrap();
    for _ in 0..n {
        let out = f.refresh_at(&url, 0);
        assert!(matches!(out, Outcome::Failed(_)), "{out:?}");
    }
    server.join().unwrap();
}

// ------------------------------------------------------------------------------ OCSP

const OCSP: &str = "/ocsp";
/// 2030-06-01T00:00:00Z, as Unix seconds.
const T: i64 = 1_906_502_400;

fn good(pki: &Pki, leaf: &[u8], this: &str, next: &str) -> Vec<u8> {
    ocsp_response(
        OcspResponder::ByName(G1),
        &[ocsp_single(
            G1,
            &pki.g1.key,
            serial_der(leaf),
            false,
            tlv(0x80, &[]),
            this,
            Some(next),
        )],
        &pki.g1.key,
        &[],
    )
}

fn ocsp_cache(server: &Server, refresh: Duration) -> Arc<OcspCache> {
    OcspCache::new(OcspConfig {
        responder_url: Some(server.url(OCSP)),
        refresh,
        unreachable_grace: Some(Duration::from_secs(900)),
        ..OcspConfig::default()
    })
    .unwrap()
}

#[test]
fn issue11_ocsp_cache_answers_from_memory_and_refetches_with_if_none_match() {
    let pki = Pki::new();
    let server = Server::start();
    let leaf = pki.leaf(&pki.g1);
    let ca = pki.g1.cert.clone();
    server.put(
        OCSP,
        good(&pki, &leaf, "20300531000000Z", "20300607000000Z"),
    );
    let cache = ocsp_cache(&server, Duration::from_secs(60));

    // The first question registers the certificate; nothing is fetched on the way.
    match cache.status(&leaf, &ca, T) {
        OcspStatus::Unavailable { why } => assert!(why.contains("queued"), "{why}"),
        other => panic!("{other:?}"),
    }
    assert!(server.log().is_empty());
    assert_eq!(cache.refresh_due(T), 1);
    assert!(matches!(
        cache.status(&leaf, &ca, T),
        OcspStatus::Good { .. }
    ));
    let log = server.log();
    assert_eq!(log.len(), 1, "{log:?}");
    assert!(
        log[0].0.starts_with("/ocsp/M"),
        "a GET of the base64 request: {log:?}"
    );
    assert_eq!(log[0].1, None);

    // Not due again before the refresh interval; then If-None-Match and a 304.
    assert_eq!(cache.refresh_due(T + 30), 0);
    assert_eq!(cache.refresh_due(T + 61), 1);
    let log = server.log();
    assert!(log[0].1.is_some() && log[0].2 == 304, "{log:?}");
    assert!(matches!(
        cache.status(&leaf, &ca, T + 61),
        OcspStatus::Good { .. }
    ));

    // Revoked at the responder: seen at the next refresh, not before.
    let revoked = ocsp_response(
        OcspResponder::ByName(G1),
        &[ocsp_single(
            G1,
            &pki.g1.key,
            serial_der(&leaf),
            false,
            tlv(0xa1, &gt("20300601000000Z")),
            "20300601000100Z",
            Some("20300608000000Z"),
        )],
        &pki.g1.key,
        &[],
    );
    server.put(OCSP, revoked);
    assert!(matches!(
        cache.status(&leaf, &ca, T + 100),
        OcspStatus::Good { .. }
    ));
    assert_eq!(cache.refresh_due(T + 122), 1);
    assert_eq!(
        cache.status(&leaf, &ca, T + 122),
        OcspStatus::Revoked {
            time: T,
            reason: None
        }
    );
}

#[test]
fn issue11_ocsp_cache_fails_closed() {
    let pki = Pki::new();
    let mut server = Server::start();
    let leaf = pki.leaf(&pki.g1);
    let ca = pki.g1.cert.clone();
    let cache = ocsp_cache(&server, Duration::from_secs(60));

    // A forged response (signed by another key) is never used.
    let forged = ocsp_response(
        OcspResponder::ByName(G1),
        &[ocsp_single(
            G1,
            &pki.g1.key,
            serial_der(&leaf),
            false,
            tlv(0x80, &[]),
            "20300531000000Z",
            Some("20300607000000Z"),
        )],
        &Key::new(),
        &[],
    );
    server.put(OCSP, forged);
    cache.status(&leaf, &ca, T);
    cache.refresh_due(T);
    match cache.status(&leaf, &ca, T) {
        OcspStatus::Unavailable { why } => {
            assert!(why.contains("its signature does not verify"), "{why}")
        }
        other => panic!("{other:?}"),
    }

    // A good response, then the responder goes away: good until the unreachable grace
    // (900 s) has passed, then unavailable with the reason.
    server.put(
        OCSP,
        good(&pki, &leaf, "20300531000000Z", "20300607000000Z"),
    );
    cache.refresh_due(T + 31);
    assert!(matches!(
        cache.status(&leaf, &ca, T + 31),
        OcspStatus::Good { .. }
    ));
    server.stop();
    cache.refresh_due(T + 100);
    assert!(matches!(
        cache.status(&leaf, &ca, T + 100),
        OcspStatus::Good { .. }
    ));
    cache.refresh_due(T + 1000);
    match cache.status(&leaf, &ca, T + 1000) {
        OcspStatus::Unavailable { why } => {
            assert!(why.contains("has not answered since"), "{why}");
            assert!(why.contains("cannot connect"), "{why}");
        }
        other => panic!("{other:?}"),
    }

    // Past the response's nextUpdate: unavailable whatever the fetches did.
    let server = Server::start();
    let cache = ocsp_cache(&server, Duration::from_secs(60));
    server.put(
        OCSP,
        good(&pki, &leaf, "20300531000000Z", "20300601000100Z"),
    );
    cache.status(&leaf, &ca, T);
    cache.refresh_due(T);
    assert!(matches!(
        cache.status(&leaf, &ca, T),
        OcspStatus::Good { .. }
    ));
    match cache.status(&leaf, &ca, T + 120) {
        OcspStatus::Unavailable { why } => assert!(why.contains("past its nextUpdate"), "{why}"),
        other => panic!("{other:?}"),
    }
    // ... and it was due for a refetch at its nextUpdate, before the 60 s refresh.
    assert_eq!(cache.refresh_due(T + 60), 1);

    // No responder URL at all.
    let cache = OcspCache::new(OcspConfig::default()).unwrap();
    match cache.status(&leaf, &ca, T) {
        OcspStatus::Unavailable { why } => {
            assert!(why.contains("names no http:// OCSP responder"), "{why}")
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn issue11_ocsp_background_refresher() {
    let pki = Pki::new();
    let server = Server::start();
    let leaf = pki.leaf(&pki.g1);
    let ca = pki.g1.cert.clone();
    let now = time::OffsetDateTime::now_utc();
    let fmt = |t: time::OffsetDateTime| {
        format!(
            "{:04}{:02}{:02}{:02}{:02}{:02}Z",
            t.year(),
            u8::from(t.month()),
            t.day(),
            t.hour(),
            t.minute(),
            t.second()
        )
    };
    server.put(
        OCSP,
        good(
            &pki,
            &leaf,
            &fmt(now - time::Duration::minutes(1)),
            &fmt(now + time::Duration::days(1)),
        ),
    );
    let cache = ocsp_cache(&server, Duration::from_secs(60));
    let refresher = cache.spawn_refresher();
    let t = now.unix_timestamp();
    assert!(matches!(
        cache.status(&leaf, &ca, t),
        OcspStatus::Unavailable { .. }
    ));
    // Woken by the registration, the refresher fetches at once.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !matches!(cache.status(&leaf, &ca, t), OcspStatus::Good { .. }) {
        assert!(
            std::time::Instant::now() < deadline,
            "{:?}",
            cache.entries()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(refresher.is_running());
    refresher.stop();
}

//! The accept loops of both listeners (issue 9 item 4): a cap on open connections, the
//! TLS handshake timeout, and per connection a header-read timeout and an idle timeout,
//! with HTTP/1.1 served by hyper over each connection.
//!
//! # The timers of a connection
//!
//! - **header read**: a request head must be complete `header_read_timeout` after its
//!   first byte arrived; the first head of a connection counts from the moment the
//!   connection was made (after the TLS handshake on HTTPS). A client that sends its
//!   headers a byte a second is closed then, whatever it sends.
//! - **idle**: no byte moved either way for `idle_timeout`: a keep-alive connection
//!   waiting for a next request that does not come, a request body that stalls, a client
//!   that stops reading its response.
//!
//! The connection is dropped when either fires, which closes the socket (and cancels a
//! handler still waiting for the body).
//!
//! # The cap
//!
//! Each listener holds at most `max_connections` open connections. One more waits a
//! quarter of a second for a free slot, then is refused: on HTTP with a short `503` and
//! `Retry-After`, written without waiting, on HTTPS by closing it (no TLS yet). The
//! accept loop waits with it, so at most one connection beyond the cap is ever open.

use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use kmn_app::config::ListenConfig;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio::time::Instant;

use crate::api::auth::PeerCert;
use crate::tls::ServerTls;

/// How long a connection beyond the cap waits for a free slot before it is refused.
const OVERFLOW_WAIT: Duration = Duration::from_millis(250);

/// The timers and the cap of one listener, from `[listen]`.
#[derive(Clone, Debug)]
pub struct Limits {
    /// See [`ListenConfig::header_read_timeout_secs`].
    pub header_read_timeout: Duration,
    /// See [`ListenConfig::idle_timeout_secs`].
    pub idle_timeout: Duration,
    /// See [`ListenConfig::tls_handshake_timeout_secs`].
    pub tls_handshake_timeout: Duration,
    /// See [`ListenConfig::max_connections`].
    pub max_connections: usize,
}

impl From<&ListenConfig> for Limits {
    fn from(c: &ListenConfig) -> Self {
        Limits {
            header_read_timeout: Duration::from_secs(c.header_read_timeout_secs),
            idle_timeout: Duration::from_secs(c.idle_timeout_secs),
            tls_handshake_timeout: Duration::from_secs(c.tls_handshake_timeout_secs),
            max_connections: c.max_connections as usize,
        }
    }
}

/// What happens on a connection, as the timers need it. Times are milliseconds since
/// `base`; `NONE` is "not running".
struct Activity {
    base: Instant,
    /// The last time a byte was read or written.
    last_io: AtomicU64,
    /// When the first byte of the request head now being read arrived (or the
    /// connection was made), `NONE` while no head is being read.
    head_since: AtomicU64,
    /// Requests handed to the router, and those answered (or abandoned).
    started: AtomicU64,
    finished: AtomicU64,
}

const NONE: u64 = u64::MAX;

impl Activity {
    fn new() -> Arc<Self> {
        Arc::new(Activity {
            base: Instant::now(),
            last_io: AtomicU64::new(0),
            head_since: AtomicU64::new(0),
            started: AtomicU64::new(0),
            finished: AtomicU64::new(0),
        })
    }

    fn now(&self) -> u64 {
        self.base.elapsed().as_millis() as u64
    }

    fn at(&self, ms: u64) -> Instant {
        self.base + Duration::from_millis(ms)
    }

    /// Bytes moved; bytes read while no request is in progress start a request head.
    fn io(&self, read: bool) {
        let now = self.now();
        self.last_io.store(now, Ordering::Relaxed);
        if read
            && self.started.load(Ordering::Acquire) == self.finished.load(Ordering::Acquire)
            && self.head_since.load(Ordering::Acquire) == NONE
        {
            self.head_since.store(now, Ordering::Release);
        }
    }

    /// A request head was complete: the router has the request.
    fn request_started(&self) {
        self.head_since.store(NONE, Ordering::Release);
        self.started.fetch_add(1, Ordering::AcqRel);
    }

    fn request_finished(&self) {
        self.finished.fetch_add(1, Ordering::AcqRel);
    }

    /// The next moment a timer may fire, and whether one has fired.
    fn deadline(&self, limits: &Limits) -> (Instant, bool) {
        let now = Instant::now();
        let idle = self.at(self.last_io.load(Ordering::Relaxed)) + limits.idle_timeout;
        let head = match self.head_since.load(Ordering::Acquire) {
            NONE => None,
            t => Some(self.at(t) + limits.header_read_timeout),
        };
        let next = head.map_or(idle, |h| h.min(idle));
        (next, next <= now)
    }
}

/// A connection's byte stream, telling [`Activity`] when bytes move.
struct Watched<S> {
    inner: S,
    activity: Arc<Activity>,
}

impl<S: AsyncRead + Unpin> AsyncRead for Watched<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(r, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.activity.io(true);
        }
        r
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Watched<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write(cx, buf);
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.io(false);
        }
        r
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.io(false);
        }
        r
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// Counts a request as finished when its future ends or is dropped.
struct Finished(Arc<Activity>);

impl Drop for Finished {
    fn drop(&mut self) {
        self.0.request_finished();
    }
}

/// Serves HTTP/1.1 on one connection until it ends or a timer fires.
async fn serve_connection<S>(
    io: S,
    router: Router,
    peer: SocketAddr,
    cert: Option<PeerCert>,
    activity: Arc<Activity>,
    limits: &Limits,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let io = TokioIo::new(Watched {
        inner: io,
        activity: activity.clone(),
    });
    let act = activity.clone();
    let service = hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
        act.request_started();
        let guard = Finished(act.clone());
        let mut req = req.map(axum::body::Body::new);
        req.extensions_mut().insert(ConnectInfo(peer));
        if let Some(c) = &cert {
            req.extensions_mut().insert(c.clone());
        }
        let mut router = router.clone();
        async move {
            let r = tower::Service::call(&mut router, req).await;
            drop(guard);
            r
        }
    });
    let conn = hyper::server::conn::http1::Builder::new()
        // The timers below replace hyper's own header timer (which would also end a
        // keep-alive connection at the header timeout).
        .header_read_timeout(None)
        // A request head, and each read of a body, fit in 64 KiB (hyper's default is
        // ~400 KiB per connection).
        .max_buf_size(64 * 1024)
        .serve_connection(io, service)
        .without_shutdown();
    tokio::pin!(conn);
    loop {
        let (next, fired) = activity.deadline(limits);
        if fired {
            tracing::debug!(%peer, "connection closed: header-read or idle timeout");
            return;
        }
        tokio::select! {
            r = conn.as_mut() => {
                match r {
                    Ok(parts) => linger(parts.io.into_inner()).await,
                    Err(e) => tracing::debug!(%peer, error = %e, "connection ended"),
                }
                return;
            }
            _ = tokio::time::sleep_until(next) => {}
        }
    }
}

/// How long, and how many bytes, a connection is read after its last response before it
/// is closed.
const LINGER: Duration = Duration::from_secs(2);
const LINGER_BYTES: usize = 1024 * 1024;

/// Closes a connection whose last response is written: our side first (FIN), then what
/// the client still sends (the rest of a body refused with 413, say) is read and dropped
/// until it closes too, for at most [`LINGER`]. Closing with unread bytes would reset
/// the connection, and the client could lose the response before reading it.
async fn linger<S: AsyncRead + AsyncWrite + Unpin>(mut io: S) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let _ = tokio::time::timeout(LINGER, async {
        if io.shutdown().await.is_err() {
            return;
        }
        let mut buf = [0u8; 8192];
        let mut total = 0usize;
        while let Ok(n) = io.read(&mut buf).await {
            total += n;
            if n == 0 || total > LINGER_BYTES {
                break;
            }
        }
    })
    .await;
}

/// Waits for a free slot for a new connection, briefly.
async fn slot(sem: &Arc<Semaphore>) -> Option<tokio::sync::OwnedSemaphorePermit> {
    match sem.clone().try_acquire_owned() {
        Ok(p) => Some(p),
        Err(_) => tokio::time::timeout(OVERFLOW_WAIT, sem.clone().acquire_owned())
            .await
            .ok()
            .and_then(Result::ok),
    }
}

/// The answer to a connection beyond the cap on the HTTP listener.
fn busy() -> Vec<u8> {
    let body = "接続が混み合っています。しばらくしてからもう一度お試しください。\n";
    format!(
        "HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// Accepts; a failed accept (no file descriptor left, say) waits a moment instead of
/// spinning.
async fn accept(listener: &TcpListener, name: &str) -> (tokio::net::TcpStream, SocketAddr) {
    loop {
        match listener.accept().await {
            Ok(x) => return x,
            Err(e) => {
                tracing::warn!(error = %e, "{name} listener: accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// The HTTP listener: serves `router` on every connection, within the limits.
pub async fn serve_http(listener: TcpListener, router: Router, limits: Limits) {
    let sem = Arc::new(Semaphore::new(limits.max_connections));
    let limits = Arc::new(limits);
    loop {
        let (stream, peer) = accept(&listener, "http").await;
        let Some(permit) = slot(&sem).await else {
            tracing::warn!(%peer, "http listener: connection refused, {} connections open", limits.max_connections);
            // Best effort, never waiting: the socket buffer of a new connection is empty.
            let _ = stream.try_write(&busy());
            continue;
        };
        let _ = stream.set_nodelay(true);
        let (router, limits) = (router.clone(), limits.clone());
        tokio::spawn(async move {
            let activity = Activity::new();
            serve_connection(stream, router, peer, None, activity, &limits).await;
            drop(permit);
        });
    }
}

/// The HTTPS listener: the TLS handshake within its timeout (with the configuration
/// [`ServerTls`] holds now), then `router` with the client certificate in every
/// request ([`PeerCert`]), within the limits.
pub async fn serve_https(listener: TcpListener, router: Router, tls: ServerTls, limits: Limits) {
    let sem = Arc::new(Semaphore::new(limits.max_connections));
    let limits = Arc::new(limits);
    loop {
        let (stream, peer) = accept(&listener, "https").await;
        let Some(permit) = slot(&sem).await else {
            tracing::warn!(%peer, "https listener: connection refused, {} connections open", limits.max_connections);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let (router, limits) = (router.clone(), limits.clone());
        let acceptor = tokio_rustls::TlsAcceptor::from(tls.current());
        tokio::spawn(async move {
            let tls =
                match tokio::time::timeout(limits.tls_handshake_timeout, acceptor.accept(stream))
                    .await
                {
                    Ok(Ok(s)) => s,
                    Ok(Err(e)) => {
                        tracing::debug!(%peer, error = %e, "TLS handshake failed");
                        return;
                    }
                    Err(_) => {
                        tracing::debug!(%peer, "TLS handshake timed out");
                        return;
                    }
                };
            let cert = tls
                .get_ref()
                .1
                .peer_certificates()
                .and_then(|c| c.first())
                .map(|c| PeerCert(c.as_ref().to_vec()));
            let activity = Activity::new();
            serve_connection(tls, router, peer, cert, activity, &limits).await;
            drop(permit);
        });
    }
}

//! kmn-web: the two listeners (DESIGN §7a).
//!
//! - `http://…`: the repository (`/repo/<ca>.crt`, `/repo/<ca>.crl` as DER with their
//!   media types, short HTTP caching, the audit log's signed checkpoints at
//!   `/repo/audit/checkpoints/{latest,<n>}.p7s`), the OCSP responder (`POST /ocsp`,
//!   `GET /ocsp/{base64}`, [`ocsp`]) and `/health`.
//! - `https://…`: the API (`/api/v1/…`) and the portal (`/`, `/portal/…`,
//!   `/public/repository`: [`portal`]). Client
//!   certificates are optional at the TLS layer (so the application can answer 401/403
//!   with a reason) and verified against this CA's root, the path built with the issuing
//!   CAs' certificates the server holds ([`tls`]).
//!
//! Both hold under abuse (issue 9 item 4): header-read, idle and TLS handshake timeouts
//! and a cap on open connections ([`listen`]), request rates per address where no client
//! certificate is needed and per certificate where one is ([`limit`]), body limits per
//! API route ([`api::router`]). The routes that need no certificate only read the
//! database (never SQLite's write lock), through at most [`PUBLIC_READERS`] connections
//! at once, so that a flood of them cannot starve the CRL publisher.
#![forbid(unsafe_code)]

pub mod api;
pub mod emergency;
pub mod limit;
pub mod listen;
pub mod ocsp;
pub mod portal;
pub mod tls;

pub use tls::tls_config;

use std::net::SocketAddr;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use kmn_app::{App, AppError};

/// How many database connections the routes that need no client certificate use at
/// once (SQLite's pool has four): the rest stay free for the CRL publisher and the API.
pub const PUBLIC_READERS: usize = 2;

static PUBLIC_READS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(PUBLIC_READERS);

/// The running listeners.
pub struct Running {
    /// Bound address of the HTTP listener.
    pub http_addr: SocketAddr,
    /// Bound address of the HTTPS listener.
    pub https_addr: SocketAddr,
    /// Bound address of the holders' emergency form (HTTPS, no client certificate).
    pub emergency_addr: SocketAddr,
    /// Resolves when a listener stops (an error) — normally never.
    pub done: tokio::task::JoinHandle<Result<(), String>>,
}

/// The HTTP router: repository, health and, given the responders, OCSP.
pub fn http_router(app: App, ocsp: Option<ocsp::Ocsp>) -> Router {
    let r = Router::new()
        .route("/health", get(health))
        .route("/repo/{file}", get(repo_file))
        .route("/repo/{kind}/{version}", get(repo_document_version))
        .route("/repo/audit/checkpoints/{file}", get(audit_checkpoint))
        .with_state(app.clone());
    match ocsp {
        Some(o) => r.merge(ocsp::router(app, o)),
        None => r,
    }
}

/// The HTTPS router: the API and the portal.
pub fn https_router(app: App) -> Router {
    https_routes(app).layer(axum::middleware::from_fn(hsts))
}

/// The HTTPS routes, without the HSTS header (added outside the rate limit in [`start`],
/// so that a `429` carries it too).
fn https_routes(app: App) -> Router {
    let (api, _) = api::router(app.clone());
    Router::new()
        .route("/api/v1/health", get(health))
        .route("/repo/{file}", get(repo_file))
        .with_state(app.clone())
        .merge(api)
        .merge(portal::router(app))
        // Unknown paths: the API's JSON error under /api/, the portal's Japanese page
        // elsewhere.
        .fallback(portal::not_found)
}

/// Every HTTPS response tells browsers to use HTTPS only (a year, subdomains included).
async fn hsts(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let mut resp = next.run(req).await;
    resp.headers_mut().insert(
        axum::http::header::STRICT_TRANSPORT_SECURITY,
        axum::http::HeaderValue::from_static("max-age=31536000; includeSubDomains"),
    );
    resp
}

/// `/health`: 200 with `"status":"ok"`, or `"status":"degraded"` and each reason
/// named in `degraded` (the HSM away, a CA certificate or the ARL missing from the
/// repository, no CPS published: the service still answers); 503 when the database
/// does not answer.
async fn health(State(app): State<App>) -> Response {
    let r = async {
        // A read through the public readers' gate (issue 9 item 4).
        let _gate = PUBLIC_READS.acquire().await;
        let mut crls = Vec::new();
        for c in kmn_app::views::public::last_crls(&app).await? {
            {
                crls.push(serde_json::json!({
                    "ca": c.ca_name,
                    "number": c.number,
                    "this_update": kmn_domain::time_fmt::rfc3339_unix(c.this_update),
                    "next_update": kmn_domain::time_fmt::rfc3339_unix(c.next_update),
                    "entries": c.entries,
                }));
            }
        }
        let degraded = kmn_app::health::degraded(&app).await?;
        Ok::<_, AppError>((crls, degraded))
    }
    .await;
    match r {
        Ok((crls, degraded)) => (
            StatusCode::OK,
            axum::Json(serde_json::json!({
                "status": if degraded.is_empty() { "ok" } else { "degraded" },
                "database": "ok",
                "degraded": degraded,
                "crls": crls,
            })),
        )
            .into_response(),
        Err(e) => {
            tracing::error!(error = %e, "health check failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                axum::Json(serde_json::json!({"status": "unavailable", "code": e.code(), "message": e.message_ja()})),
            )
                .into_response()
        }
    }
}

/// Serves `<name>.crt` and `<name>.crl` from the repository directory.
/// A strong entity tag of repository bytes (a CRL or a certificate): relying parties
/// refetch with `If-None-Match` and get `304 Not Modified` while nothing changed
/// (issue 10 item 4).
fn etag_of(bytes: &[u8]) -> String {
    use sha2::Digest;
    format!("\"{}\"", hex::encode(&sha2::Sha256::digest(bytes)[..16]))
}

/// Whether an `If-None-Match` header names this entity tag (or `*`).
fn not_modified(headers: &axum::http::HeaderMap, etag: &str) -> bool {
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|t| t.trim().trim_start_matches("W/"))
        .any(|t| t == etag || t == "*")
}

async fn repo_file(
    State(app): State<App>,
    Path(file): Path<String>,
    headers: axum::http::HeaderMap,
) -> Response {
    if kmn_app::ra::documents::KINDS.contains(&file.as_str()) {
        return published_document(&app, &file, None).await;
    }
    let (stem, media) = if let Some(s) = file.strip_suffix(".crl") {
        (s, "application/pkix-crl")
    } else if let Some(s) = file.strip_suffix(".crt") {
        (s, "application/pkix-cert")
    } else {
        return (StatusCode::NOT_FOUND, "not found\n").into_response();
    };
    if stem.is_empty()
        || !stem
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        return (StatusCode::NOT_FOUND, "not found\n").into_response();
    }
    match tokio::fs::read(app.repo_dir().join(&file)).await {
        Ok(bytes) => {
            let cache = if media == "application/pkix-crl" {
                "public, max-age=60"
            } else {
                "public, max-age=3600"
            };
            let etag = etag_of(&bytes);
            if not_modified(&headers, &etag) {
                return (
                    StatusCode::NOT_MODIFIED,
                    [
                        (header::ETAG, etag.as_str()),
                        (header::CACHE_CONTROL, cache),
                    ],
                )
                    .into_response();
            }
            (
                [
                    (header::CONTENT_TYPE, media),
                    (header::CACHE_CONTROL, cache),
                    (header::ETAG, etag.as_str()),
                ],
                bytes,
            )
                .into_response()
        }
        Err(_) => (StatusCode::NOT_FOUND, "not found\n").into_response(),
    }
}

/// `/repo/audit/checkpoints/latest.p7s` and `/repo/audit/checkpoints/<n>.p7s`: the
/// signed checkpoints of the audit log (CMS SignedData), read from the checkpoint
/// directory: public, read-only, no database.
async fn audit_checkpoint(State(app): State<App>, Path(file): Path<String>) -> Response {
    let dir = kmn_app::audit::checkpoint_dir(&app);
    let (name, cache) = if file == kmn_app::audit::LATEST {
        (file.clone(), "public, max-age=60")
    } else {
        match file.strip_suffix(".p7s").and_then(|n| {
            (!n.is_empty() && n.len() <= 12 && n.bytes().all(|b| b.is_ascii_digit()))
                .then(|| n.parse::<u64>().ok())
                .flatten()
        }) {
            Some(n) => (kmn_app::audit::file_name(n), "public, max-age=86400"),
            None => return (StatusCode::NOT_FOUND, "not found\n").into_response(),
        }
    };
    match tokio::fs::read(dir.join(name)).await {
        Ok(bytes) => (
            [
                (
                    header::CONTENT_TYPE,
                    "application/pkcs7-mime; smime-type=signed-data",
                ),
                (header::CACHE_CONTROL, cache),
            ],
            bytes,
        )
            .into_response(),
        Err(_) => (StatusCode::NOT_FOUND, "not found\n").into_response(),
    }
}

/// A published CPS / terms / privacy policy: the current version, or a given one.
async fn published_document(app: &App, kind: &str, version: Option<&str>) -> Response {
    // A read: a public route never takes SQLite's write lock (issue 9 item 4).
    let r = {
        let _gate = PUBLIC_READS.acquire().await;
        kmn_app::views::public::published_document(app, kind, version).await
    };
    match r {
        Ok(Some(d)) => (
            [
                (
                    header::CONTENT_TYPE,
                    kmn_app::ra::documents::media_type(&d.file_name).to_string(),
                ),
                (header::CACHE_CONTROL, "public, max-age=300".to_string()),
                (
                    header::HeaderName::from_static("x-document-version"),
                    d.version.clone(),
                ),
            ],
            d.bytes,
        )
            .into_response(),
        Ok(None) => (StatusCode::NOT_FOUND, "not published\n").into_response(),
        Err(e) => {
            tracing::error!(error = %e, "repository document");
            (StatusCode::SERVICE_UNAVAILABLE, "unavailable\n").into_response()
        }
    }
}

async fn repo_document_version(
    State(app): State<App>,
    Path((kind, version)): Path<(String, String)>,
) -> Response {
    if !kmn_app::ra::documents::KINDS.contains(&kind.as_str()) {
        return (StatusCode::NOT_FOUND, "not found\n").into_response();
    }
    published_document(&app, &kind, Some(&version)).await
}

/// Binds both listeners and starts serving, within the limits of `[listen]`
/// ([`listen`], [`limit`]).
pub async fn start(app: App, ocsp: Option<ocsp::Ocsp>) -> Result<Running, AppError> {
    let (tls, watch) = tls::start_config(&app).await?;
    let http_addr: SocketAddr = app
        .cfg
        .http_listen
        .parse()
        .map_err(|_| AppError::Config("bad http_listen".into()))?;
    let https_addr: SocketAddr = app
        .cfg
        .https_listen
        .parse()
        .map_err(|_| AppError::Config("bad https_listen".into()))?;
    let http = tokio::net::TcpListener::bind(http_addr)
        .await
        .map_err(|e| AppError::Config(format!("cannot listen on {http_addr}: {e}")))?;
    let https = tokio::net::TcpListener::bind(https_addr)
        .await
        .map_err(|e| AppError::Config(format!("cannot listen on {https_addr}: {e}")))?;
    let emergency_addr: SocketAddr = app
        .cfg
        .emergency_listen
        .parse()
        .map_err(|_| AppError::Config("bad emergency_listen".into()))?;
    let emergency = tokio::net::TcpListener::bind(emergency_addr)
        .await
        .map_err(|e| AppError::Config(format!("cannot listen on {emergency_addr}: {e}")))?;
    let emergency_bound = emergency
        .local_addr()
        .map_err(|e| AppError::Io(e.to_string()))?;
    let http_bound = http.local_addr().map_err(|e| AppError::Io(e.to_string()))?;
    let https_bound = https
        .local_addr()
        .map_err(|e| AppError::Io(e.to_string()))?;
    let rates = limit::RateLimits::new(&app.cfg.listen);
    let limits = listen::Limits::from(&app.cfg.listen);
    let rate_layer = axum::middleware::from_fn_with_state(rates, limit::rate_limit);
    let http_app = http_router(app.clone(), ocsp).layer(rate_layer.clone());
    // The public repository page links the holders' form on the port it is bound to
    // (`emergency_listen` may name port 0).
    let https_app = https_routes(app.clone())
        .layer(axum::Extension(portal::EmergencyPort(
            emergency_bound.port(),
        )))
        .layer(rate_layer.clone())
        .layer(axum::middleware::from_fn(hsts));
    let emergency_app = emergency::router(app.clone())
        .layer(rate_layer.clone())
        .layer(axum::middleware::from_fn(hsts));
    let server_tls = tls::ServerTls::new(tls);
    let public_tls = server_tls.without_client_auth();
    tokio::spawn(tls::watch(app.clone(), server_tls.clone(), watch));
    let done = tokio::spawn(async move {
        let a = tokio::spawn(listen::serve_http(http, http_app, limits.clone()));
        let c = tokio::spawn(listen::serve_https(
            emergency,
            emergency_app,
            public_tls,
            limits.clone(),
        ));
        let b = tokio::spawn(listen::serve_https(https, https_app, server_tls, limits));
        // The accept loops run until the process ends; a panic in one ends the server.
        tokio::select! {
            r = a => r.map_err(|e| format!("http listener: {e}")),
            r = b => r.map_err(|e| format!("https listener: {e}")),
            r = c => r.map_err(|e| format!("emergency listener: {e}")),
        }
    });
    Ok(Running {
        http_addr: http_bound,
        https_addr: https_bound,
        emergency_addr: emergency_bound,
        done,
    })
}

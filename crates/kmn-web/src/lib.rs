//! kmn-web: the two listeners (DESIGN §7a).
//!
//! - `http://…`: the repository (`/repo/<ca>.crt`, `/repo/<ca>.crl` as DER with their
//!   media types, short HTTP caching) and `/health`.
//! - `https://…`: the API (`/api/v1/…`) and, in later work, the portal. Client
//!   certificates are optional at the TLS layer (so the application can answer 401/403
//!   with a reason) and verified against this CA's root, the path built with the issuing
//!   CAs' certificates the server holds ([`tls`]).
#![forbid(unsafe_code)]

pub mod api;
pub mod tls;

pub use tls::tls_config;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use kmn_app::{App, AppError};

/// The running listeners.
pub struct Running {
    /// Bound address of the HTTP listener.
    pub http_addr: SocketAddr,
    /// Bound address of the HTTPS listener.
    pub https_addr: SocketAddr,
    /// Resolves when a listener stops (an error) — normally never.
    pub done: tokio::task::JoinHandle<Result<(), String>>,
}

/// The HTTP router: repository and health.
pub fn http_router(app: App) -> Router {
    Router::new()
        .route("/health", get(health))
        .route("/repo/{file}", get(repo_file))
        .route("/repo/{kind}/{version}", get(repo_document_version))
        .with_state(app)
}

/// The HTTPS router: the API.
pub fn https_router(app: App) -> Router {
    let (api, _) = api::router(app.clone());
    Router::new()
        .route("/api/v1/health", get(health))
        .route("/repo/{file}", get(repo_file))
        .with_state(app)
        .merge(api)
        .layer(axum::middleware::from_fn(hsts))
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
        let mut crls = Vec::new();
        for c in kmn_app::views::public::last_crls(&app).await? {
            {
                crls.push(serde_json::json!({
                    "ca": c.ca_name,
                    "number": c.number,
                    "this_update": kmn_domain::time_fmt::rfc3339(time::OffsetDateTime::from_unix_timestamp(c.this_update).unwrap_or(time::OffsetDateTime::UNIX_EPOCH)),
                    "next_update": kmn_domain::time_fmt::rfc3339(time::OffsetDateTime::from_unix_timestamp(c.next_update).unwrap_or(time::OffsetDateTime::UNIX_EPOCH)),
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
async fn repo_file(State(app): State<App>, Path(file): Path<String>) -> Response {
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
            (
                [
                    (header::CONTENT_TYPE, media),
                    (header::CACHE_CONTROL, cache),
                ],
                bytes,
            )
                .into_response()
        }
        Err(_) => (StatusCode::NOT_FOUND, "not found\n").into_response(),
    }
}

/// A published CPS / terms / privacy policy: the current version, or a given one.
async fn published_document(app: &App, kind: &str, version: Option<&str>) -> Response {
    // A read: a public route never takes SQLite's write lock (issue 9 item 4).
    let r = kmn_app::views::public::published_document(app, kind, version).await;
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

/// Binds both listeners and starts serving.
pub async fn start(app: App) -> Result<Running, AppError> {
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
    let https = std::net::TcpListener::bind(https_addr)
        .map_err(|e| AppError::Config(format!("cannot listen on {https_addr}: {e}")))?;
    https
        .set_nonblocking(true)
        .map_err(|e| AppError::Io(e.to_string()))?;
    let http_bound = http.local_addr().map_err(|e| AppError::Io(e.to_string()))?;
    let https_bound = https
        .local_addr()
        .map_err(|e| AppError::Io(e.to_string()))?;
    let http_app = http_router(app.clone());
    let https_app = https_router(app.clone());
    let rustls_cfg = axum_server::tls_rustls::RustlsConfig::from_config(Arc::new(tls));
    tokio::spawn(tls::watch(app.clone(), rustls_cfg.clone(), watch));
    let https_server = axum_server::tls_rustls::from_tcp_rustls(https, rustls_cfg)
        .map_err(|e| AppError::Io(e.to_string()))?;
    let done = tokio::spawn(async move {
        let a = tokio::spawn(async move {
            axum::serve(http, http_app)
                .await
                .map_err(|e| format!("http listener: {e}"))
        });
        let b = tokio::spawn(async move {
            https_server
                .serve(https_app.into_make_service())
                .await
                .map_err(|e| format!("https listener: {e}"))
        });
        tokio::select! {
            r = a => r.map_err(|e| e.to_string())?,
            r = b => r.map_err(|e| e.to_string())?,
        }
    });
    Ok(Running {
        http_addr: http_bound,
        https_addr: https_bound,
        done,
    })
}

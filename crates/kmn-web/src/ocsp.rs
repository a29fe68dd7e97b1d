//! The OCSP responder's HTTP face (RFC 6960 Appendix A, issue 10 item 5): `POST /ocsp`
//! with an `application/ocsp-request` body, and `GET /ocsp/{base64}` (the request's
//! base64 with `/`, `+` and `=` raw or percent-encoded). Every answer is
//! `application/ocsp-response` with HTTP 200 — errors are OCSP statuses
//! (`malformedRequest`, `unauthorized`, `tryLater`) — read from the pre-signed responses
//! ([`kmn_app::ca::ocsp::answer`]) through the public readers' gate; nothing is signed
//! here.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine;
use kmn_app::App;
use kmn_app::ca::ocsp::{Answer, Responders};

/// The responders, shared by the routes.
pub type Ocsp = Arc<Responders>;

/// How long an HTTP cache may keep a successful response, seconds: short, so that a
/// revocation reaches relying parties behind a cache quickly (the response itself is
/// valid for days).
pub const MAX_AGE_SECS: i64 = 60;

/// The OCSP routes.
pub fn router(app: App, ocsp: Ocsp) -> Router {
    Router::new()
        .route("/ocsp", post(by_post))
        .route("/ocsp/", post(by_post))
        .route("/ocsp/{*request}", get(by_get))
        .layer(DefaultBodyLimit::max(kmn_pki::ocsp::MAX_REQUEST_LEN))
        .with_state((app, ocsp))
}

async fn by_post(State((app, ocsp)): State<(App, Ocsp)>, body: Bytes) -> Response {
    respond(&app, &ocsp, &body).await
}

async fn by_get(State((app, ocsp)): State<(App, Ocsp)>, Path(request): Path<String>) -> Response {
    // The path is percent-decoded already; base64 with or without its padding.
    let b64 = request.trim_end_matches('=');
    match base64::engine::general_purpose::STANDARD_NO_PAD.decode(b64) {
        Ok(der) if der.len() <= kmn_pki::ocsp::MAX_REQUEST_LEN => respond(&app, &ocsp, &der).await,
        _ => ocsp_response(
            Answer {
                der: kmn_pki::ocsp::unsigned(kmn_pki::ocsp::ResponseStatus::MalformedRequest),
                next_update: None,
                outcome: "malformedRequest",
            },
            &app,
        ),
    }
}

async fn respond(app: &App, ocsp: &Ocsp, der: &[u8]) -> Response {
    let answer = {
        let _gate = crate::PUBLIC_READS.acquire().await;
        kmn_app::ca::ocsp::answer(app, ocsp, der).await
    };
    ocsp_response(answer, app)
}

fn ocsp_response(a: Answer, app: &App) -> Response {
    tracing::debug!(outcome = a.outcome, "OCSP");
    let cache = match a.next_update {
        Some(next) => {
            let left = (next - app.now()).clamp(0, MAX_AGE_SECS);
            format!("max-age={left}, public, no-transform, must-revalidate")
        }
        None => "no-store".to_string(),
    };
    let mut resp = (StatusCode::OK, a.der).into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/ocsp-response"),
    );
    if let Ok(v) = HeaderValue::from_str(&cache) {
        h.insert(header::CACHE_CONTROL, v);
    }
    resp
}

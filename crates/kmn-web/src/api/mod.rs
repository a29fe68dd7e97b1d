//! The REST API, `/api/v1` on the HTTPS listener. OpenAPI is generated from the handlers
//! (utoipa) and served publicly at `/api/v1/openapi.json`.

pub mod auth;
pub mod delivery;
pub mod doctors;
pub mod dto;
pub mod error;
pub mod evidence;
pub mod handlers;
pub mod proposals;
pub mod station;

#[cfg(test)]
mod hostile_bodies;

use axum::Json;
use axum::extract::{FromRequest, Request};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use kmn_app::actor::Actor;
use kmn_app::idempotency::{self, Idempotency};
use kmn_app::{App, AppError};
use serde::de::DeserializeOwned;
use sha2::Digest;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use error::{ApiError, ProtocolError, json_rejection};

/// JSON body with errors mapped to field-level Japanese messages.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = Response;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(v)) => Ok(ApiJson(v)),
            Err(r) => Err(json_rejection(r)),
        }
    }
}

impl<T: DeserializeOwned, S: Send + Sync> axum::extract::OptionalFromRequest<S> for ApiJson<T> {
    type Rejection = Response;

    async fn from_request(req: Request, state: &S) -> Result<Option<Self>, Self::Rejection> {
        let has_body = req
            .headers()
            .get(axum::http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .map(|v| v != "0")
            .unwrap_or(false)
            || req.headers().contains_key(axum::http::header::CONTENT_TYPE);
        if !has_body {
            return Ok(None);
        }
        <ApiJson<T> as FromRequest<S>>::from_request(req, state)
            .await
            .map(Some)
    }
}

/// A PDF request body (document uploads): `Content-Type: application/pdf` only, so that
/// no cross-site HTML form (which can send only `text/plain`, `multipart/form-data` and
/// `application/x-www-form-urlencoded`) can post one.
pub struct PdfBody(pub axum::body::Bytes);

impl<S: Send + Sync> FromRequest<S> for PdfBody {
    type Rejection = Response;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        if media_type(req.headers()).as_deref() != Some("application/pdf") {
            return Err(ProtocolError::media_type("application/pdf").into_response());
        }
        axum::body::Bytes::from_request(req, state)
            .await
            .map(PdfBody)
            .map_err(|r| ProtocolError::for_status(r.status()).into_response())
    }
}

/// The media type of a request body, lower case, without parameters.
fn media_type(h: &HeaderMap) -> Option<String> {
    let v = h.get(axum::http::header::CONTENT_TYPE)?.to_str().ok()?;
    Some(v.split(';').next()?.trim().to_ascii_lowercase())
}

/// Every API response: a body in a media type a form can send is refused before any
/// handler runs (415; the JSON routes take `application/json`, uploads
/// `application/pdf`); any error produced below the handlers (body limit, unknown
/// route, wrong method, unreadable path or query) gets the documented error body; and
/// `X-Content-Type-Options: nosniff` is set.
async fn api_layer(req: Request, next: axum::middleware::Next) -> Response {
    let form_type = media_type(req.headers()).is_some_and(|m| {
        !(m == "application/json" || m == "application/pdf" || m.ends_with("+json"))
    });
    let mut resp = if form_type && req.method() != axum::http::Method::GET {
        let expected = if req.uri().path().ends_with("/documents") {
            "application/pdf"
        } else {
            "application/json"
        };
        ProtocolError::media_type(expected).into_response()
    } else {
        next.run(req).await
    };
    let st = resp.status();
    let is_json = resp
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if (st.is_client_error() || st.is_server_error()) && !is_json {
        resp = ProtocolError::for_status(st).into_response();
    }
    resp.headers_mut().insert(
        axum::http::header::X_CONTENT_TYPE_OPTIONS,
        axum::http::HeaderValue::from_static("nosniff"),
    );
    resp
}

/// Unknown API routes: the documented error body.
async fn not_found() -> Response {
    ProtocolError::for_status(StatusCode::NOT_FOUND).into_response()
}

/// Runs a creating POST at most once per `Idempotency-Key`: the use case records the key
/// with its response in its own transaction (so a concurrent duplicate cannot also
/// commit); a replay with the same request returns the stored status and body and
/// writes nothing; the same key with a different request is refused.
pub async fn idempotent<'a, T, Fut>(
    app: &App,
    actor: &Actor,
    headers: &HeaderMap,
    request: &str,
    respond: &'a (dyn Fn(&T) -> (u16, String) + Send + Sync),
    run: impl FnOnce(Option<Idempotency<'a, T>>) -> Fut,
) -> Result<Response, ApiError>
where
    Fut: std::future::Future<Output = Result<T, AppError>>,
{
    let key = match headers.get("idempotency-key") {
        None => None,
        Some(v) => Some(
            v.to_str()
                .ok()
                .filter(|k| !k.is_empty() && k.len() <= 128)
                .ok_or_else(|| {
                    ApiError(AppError::BadInput(
                        "Idempotency-Key は1〜128文字の英数字記号で指定してください".into(),
                    ))
                })?
                .to_string(),
        ),
    };
    let Some(key) = key else {
        let v = run(None).await?;
        return Ok(json_reply(respond(&v)));
    };
    let hash = hex::encode(sha2::Sha256::digest(request.as_bytes()));
    if let Some(p) = idempotency::stored(app, actor, &key).await? {
        return replay(p, &hash);
    }
    let idem = Idempotency {
        key: key.clone(),
        request_hash: hash.clone(),
        respond,
    };
    match run(Some(idem)).await {
        Ok(v) => Ok(json_reply(respond(&v))),
        // A concurrent request with the same key committed first: answer as it did.
        Err(e) => match idempotency::stored(app, actor, &key).await? {
            Some(p) => replay(p, &hash),
            None => Err(ApiError(e)),
        },
    }
}

fn replay(p: idempotency::StoredResponse, hash: &str) -> Result<Response, ApiError> {
    if p.request_hash != hash {
        return Err(ApiError(AppError::Conflict(
            "この Idempotency-Key は別の内容の要求で使われています".into(),
        )));
    }
    Ok(json_reply((p.status, p.body)))
}

fn json_reply((status, body): (u16, String)) -> Response {
    (
        StatusCode::from_u16(status).unwrap_or(StatusCode::OK),
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        body,
    )
        .into_response()
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "kmn-pki API",
        version = "1",
        description = "くまもとメディカルネットワーク 利用者カード認証局 — registration authority API. \
Authenticate with a client certificate issued by this CA (operators: operator certificate; \
facility desks: their own card). Errors carry a stable `code` and a Japanese `message`. \
Requests are rate-limited per client certificate (per address without one): over the limit, \
429 with `Retry-After` and code `E_RATE_LIMITED`. A JSON body over the limit (64 KiB by \
default) is 413 with code `E_TOO_LARGE`."
    ),
    tags(
        (name = "meta", description = "Who am I"),
        (name = "facilities", description = "利用施設 and consents (第2条2)"),
        (name = "persons", description = "利用者 (personal data; reads are logged)"),
        (name = "applications", description = "利用申請 and review (第5・6条)"),
        (name = "cards", description = "利用者カード: delivery, receipt and handover (第7・8条), PIN mailers"),
        (name = "notices", description = "Notices to facilities"),
        (name = "proposals", description = "Dual control: a revocation on the association's grounds (第12条) proposed by one person, decided by a supervisor who is another"),
        (name = "evidence", description = "The evidence of a revocation (第23条3): its timestamps, the signed revocation receipt (CMS) and the letter to the facility"),
        (name = "doctors", description = "The doctor registry (issue 11): doctors' HPKI authentication certificates (医師資格証) bound to facilities — enrolled by the facility's desk, confirmed by it, approved by the center, ended when the doctor leaves; the gateway's lookup by certificate"),
        (name = "station", description = "Personalization stations (role station): SO PIN, certificate for a CSR signed on the card, card record"),
    )
)]
struct ApiDoc;

/// The API routes and their OpenAPI document. Request bodies are limited per route
/// (`[listen]`): document uploads to `document_body_limit_mib`, every other (JSON) body
/// to `json_body_limit_kib`.
pub fn router(app: App) -> (axum::Router, utoipa::openapi::OpenApi) {
    use axum::extract::DefaultBodyLimit;
    use handlers::*;
    let json_limit = app.cfg.listen.json_body_limit_kib as usize * 1024;
    let document_limit = app.cfg.listen.document_body_limit_mib as usize * 1024 * 1024;
    // The innermost limit wins: uploads get theirs, everything else the JSON one.
    let uploads = OpenApiRouter::new()
        .routes(routes!(upload_document))
        .layer(DefaultBodyLimit::max(document_limit));
    let (router, api) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(whoami))
        .routes(routes!(list_facilities, create_facility))
        .routes(routes!(get_facility))
        .routes(routes!(create_consent))
        .routes(routes!(list_persons))
        .routes(routes!(create_person))
        .routes(routes!(get_person))
        .routes(routes!(list_applications, create_application))
        .routes(routes!(get_application))
        .routes(routes!(submit_application))
        .routes(routes!(resubmit_application))
        .routes(routes!(withdraw_application))
        .routes(routes!(approve_application))
        .routes(routes!(fulfil_application))
        .routes(routes!(return_application))
        .routes(routes!(reject_application))
        .routes(routes!(fulfil_from_csr))
        .merge(uploads)
        .routes(routes!(get_document))
        .routes(routes!(list_cards))
        .routes(routes!(get_card))
        .routes(routes!(delivery::get_card_delivery))
        .routes(routes!(delivery::ship_card))
        .routes(routes!(delivery::confirm_card_receipt))
        .routes(routes!(delivery::record_card_receipt))
        .routes(routes!(delivery::record_card_handover))
        .routes(routes!(delivery::record_card_lost_in_post))
        .routes(routes!(delivery::emergency_revocation))
        .routes(routes!(proposals::create_revocation_proposal))
        .routes(routes!(proposals::get_proposal))
        .routes(routes!(proposals::approve_proposal))
        .routes(routes!(proposals::reject_proposal))
        .routes(routes!(delivery::list_pin_mailers))
        .routes(routes!(delivery::record_pin_mailer_dispatched))
        .routes(routes!(station::station_get_application))
        .routes(routes!(station::station_so_pin))
        .routes(routes!(station::station_issue_certificate))
        .routes(routes!(station::station_record_card))
        .routes(routes!(station::station_abort_certificate))
        .routes(routes!(list_notices))
        .routes(routes!(evidence::get_revocation_evidence))
        .routes(routes!(evidence::get_revocation_receipt))
        .routes(routes!(evidence::get_revocation_letter))
        .routes(routes!(
            doctors::enrol_doctor,
            doctors::list_doctor_bindings
        ))
        .routes(routes!(doctors::get_doctor_binding))
        .routes(routes!(doctors::confirm_doctor_binding))
        .routes(routes!(doctors::approve_doctor_binding))
        .routes(routes!(doctors::refuse_doctor_binding))
        .routes(routes!(doctors::withdraw_doctor_binding))
        .routes(routes!(doctors::end_doctor_binding))
        .routes(routes!(doctors::lookup_doctor))
        .layer(DefaultBodyLimit::max(json_limit))
        .with_state(app)
        .split_for_parts();
    let doc = api.clone();
    let router = router
        .route(
            "/api/v1/openapi.json",
            axum::routing::get(move || async move { Json(doc) }),
        )
        .fallback(not_found)
        .layer(axum::middleware::from_fn(api_layer));
    (router, api)
}

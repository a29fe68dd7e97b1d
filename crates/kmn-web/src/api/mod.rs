//! The REST API, `/api/v1` on the HTTPS listener. OpenAPI is generated from the handlers
//! (utoipa) and served publicly at `/api/v1/openapi.json`.

pub mod auth;
pub mod delivery;
pub mod dto;
pub mod error;
pub mod handlers;
pub mod station;

use axum::Json;
use axum::extract::{FromRequest, Request};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use kmn_app::actor::Actor;
use kmn_app::{App, AppError};
use serde::de::DeserializeOwned;
use sha2::Digest;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use error::{ApiError, json_rejection};

/// JSON body with errors mapped to field-level Japanese messages.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(v)) => Ok(ApiJson(v)),
            Err(r) => Err(json_rejection(r)),
        }
    }
}

impl<T: DeserializeOwned, S: Send + Sync> axum::extract::OptionalFromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

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

/// Runs a creating POST at most once per `Idempotency-Key`: a replay with the same
/// request returns the stored status and body and writes nothing; the same key with a
/// different request is refused.
pub async fn idempotent(
    app: &App,
    actor: &Actor,
    headers: &HeaderMap,
    request: &str,
    run: impl std::future::Future<Output = Result<(StatusCode, serde_json::Value), AppError>>,
) -> Result<Response, ApiError> {
    let key = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let Some(key) = key else {
        let (st, body) = run.await?;
        return Ok((st, Json(body)).into_response());
    };
    if key.is_empty() || key.len() > 128 {
        return Err(ApiError(AppError::BadInput(
            "Idempotency-Key は1〜128文字で指定してください".into(),
        )));
    }
    let hash = hex::encode(sha2::Sha256::digest(request.as_bytes()));
    let mut tx = app.store.begin().await?;
    let prior = tx.idempotency(&actor.account_id, &key).await?;
    tx.rollback().await?;
    if let Some(p) = prior {
        if p.request_hash != hash {
            return Err(ApiError(AppError::Conflict(
                "この Idempotency-Key は別の内容の要求で使われています".into(),
            )));
        }
        let body: serde_json::Value = serde_json::from_str(&p.body).unwrap_or_default();
        let st = StatusCode::from_u16(p.status as u16).unwrap_or(StatusCode::OK);
        return Ok((st, Json(body)).into_response());
    }
    let (st, body) = run.await?;
    let mut tx = app.store.begin().await?;
    tx.put_idempotency(
        &actor.account_id,
        &key,
        &hash,
        i64::from(st.as_u16()),
        &body.to_string(),
        app.now(),
    )
    .await?;
    tx.commit().await?;
    Ok((st, Json(body)).into_response())
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "kmn-pki API",
        version = "1",
        description = "くまもとメディカルネットワーク 利用者カード認証局 — registration authority API. \
Authenticate with a client certificate issued by this CA (operators: operator certificate; \
facility desks: their own card). Errors carry a stable `code` and a Japanese `message`."
    ),
    tags(
        (name = "meta", description = "Who am I"),
        (name = "facilities", description = "利用施設 and consents (第2条2)"),
        (name = "persons", description = "利用者 (personal data; reads are logged)"),
        (name = "applications", description = "利用申請 and review (第5・6条)"),
        (name = "cards", description = "利用者カード: delivery, receipt and handover (第7・8条), PIN mailers"),
        (name = "notices", description = "Notices to facilities"),
        (name = "station", description = "Personalization stations (role station): SO PIN, certificate for a CSR signed on the card, card record"),
    )
)]
struct ApiDoc;

/// The API routes and their OpenAPI document.
pub fn router(app: App) -> (axum::Router, utoipa::openapi::OpenApi) {
    use handlers::*;
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
        .routes(routes!(upload_document))
        .routes(routes!(get_document))
        .routes(routes!(list_cards))
        .routes(routes!(get_card))
        .routes(routes!(delivery::get_card_delivery))
        .routes(routes!(delivery::ship_card))
        .routes(routes!(delivery::confirm_card_receipt))
        .routes(routes!(delivery::record_card_receipt))
        .routes(routes!(delivery::record_card_handover))
        .routes(routes!(delivery::record_card_lost_in_post))
        .routes(routes!(delivery::list_pin_mailers))
        .routes(routes!(delivery::record_pin_mailer_dispatched))
        .routes(routes!(station::station_get_application))
        .routes(routes!(station::station_so_pin))
        .routes(routes!(station::station_issue_certificate))
        .routes(routes!(station::station_record_card))
        .routes(routes!(station::station_abort_certificate))
        .routes(routes!(list_notices))
        .with_state(app)
        .split_for_parts();
    let doc = api.clone();
    let router = router
        .route(
            "/api/v1/openapi.json",
            axum::routing::get(move || async move { Json(doc) }),
        )
        .layer(axum::extract::DefaultBodyLimit::max(12 * 1024 * 1024))
        .layer(axum::middleware::from_fn(auth::peer_cert_layer));
    (router, api)
}

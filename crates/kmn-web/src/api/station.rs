//! The station endpoints (issue #4 item 1, DESIGN §6): a personalization station that is
//! not the server (`kmn card personalize --server`) gets the application's names, the
//! per-card SO PIN, the certificate for the CSR its card signed, and records the finished
//! card here. The CA keys and the SO-PIN master secret never leave the server; the user
//! PIN and the PIN mailer never reach it (only the mailer's hash and location).

use axum::Json;
use axum::extract::{Path, State};
use kmn_app::App;
use kmn_app::station::{self, KeyReport, StationRecord};
use serde::Serialize;
use utoipa::ToSchema;

pub use kmn_api_types::{AbortIn, KeyReportIn, SoPinIn, StationCardIn, StationCsrIn};

use super::ApiJson;
use super::auth::{AsStation, Right};
use super::dto::{ApplicationOut, CardOut};
use super::error::{ApiError, ErrorBody};

type ApiResult<T> = Result<T, ApiError>;

/// What the station prints on the PIN mailer.
#[derive(Debug, Serialize, ToSchema)]
pub struct StationTargetOut {
    pub application_id: String,
    pub holder_id: String,
    pub holder_name_kanji: String,
    pub facility_code: String,
    pub facility_name_kanji: String,
    pub support_center_phone: String,
}

/// The per-card SO PIN (never logged or stored).
#[derive(Debug, Serialize, ToSchema)]
pub struct SoPinOut {
    pub so_pin: String,
}

/// The certificate for the card, its chain and the card id.
#[derive(Debug, Serialize, ToSchema)]
pub struct StationIssuedOut {
    pub serial_hex: String,
    pub certificate_pem: String,
    /// Issuing CA, then root (PEM).
    pub chain_pem: Vec<String>,
    pub card_id: String,
}

/// The fulfilled application and its card.
#[derive(Debug, Serialize, ToSchema)]
pub struct StationCardOut {
    pub application: ApplicationOut,
    pub card: CardOut,
}

/// What the station prints for an approved application.
#[utoipa::path(get, path = "/api/v1/station/applications/{id}", tag = "station", operation_id = "station_get_application", params(("id" = String, Path)),
    responses((status = 200, body = StationTargetOut), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn station_get_application(
    State(app): State<App>,
    Right(a): AsStation,
    Path(id): Path<String>,
) -> ApiResult<Json<StationTargetOut>> {
    let t = station::target(&app, &a, &id).await?;
    Ok(Json(StationTargetOut {
        application_id: t.application_id,
        holder_id: t.holder_id,
        holder_name_kanji: t.holder_name_kanji,
        facility_code: t.facility_code,
        facility_name_kanji: t.facility_name_kanji,
        support_center_phone: t.support_center_phone,
    }))
}

/// The per-card SO PIN for a token serial (recorded in the audit log, the PIN is not).
#[utoipa::path(post, path = "/api/v1/station/so-pin", tag = "station", operation_id = "station_so_pin", request_body = SoPinIn,
    responses((status = 200, body = SoPinOut), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn station_so_pin(
    State(app): State<App>,
    Right(a): AsStation,
    ApiJson(b): ApiJson<SoPinIn>,
) -> ApiResult<Json<SoPinOut>> {
    let pin = station::so_pin(&app, &a, &b.token_serial).await?;
    Ok(Json(SoPinOut {
        so_pin: pin.expose().to_string(),
    }))
}

/// Issues the certificate for a CSR signed on the card (proof of possession, key checks).
#[utoipa::path(post, path = "/api/v1/station/applications/{id}/certificate", tag = "station", operation_id = "station_issue_certificate", params(("id" = String, Path)), request_body = StationCsrIn,
    responses((status = 200, body = StationIssuedOut), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn station_issue_certificate(
    State(app): State<App>,
    Right(a): AsStation,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<StationCsrIn>,
) -> ApiResult<Json<StationIssuedOut>> {
    let csr = kmn_pki::cert::pem_or_der(b.csr_pem.as_bytes(), "CERTIFICATE REQUEST")
        .map_err(|e| kmn_app::AppError::BadInput(format!("csr_pem を読めません: {e}")))?;
    let key = KeyReport {
        alg: b.key.alg,
        local: b.key.local,
        never_extractable: b.key.never_extractable,
        sensitive: b.key.sensitive,
    };
    let i = station::issue(&app, &a, &id, &csr, &key).await?;
    Ok(Json(StationIssuedOut {
        certificate_pem: kmn_pki::cert::to_pem(&i.der),
        chain_pem: i.chain.iter().map(|c| kmn_pki::cert::to_pem(c)).collect(),
        serial_hex: i.serial_hex,
        card_id: i.card_id,
    }))
}

/// Records the finished card and fulfils the application.
#[utoipa::path(post, path = "/api/v1/station/applications/{id}/card", tag = "station", operation_id = "station_record_card", params(("id" = String, Path)), request_body = StationCardIn,
    responses((status = 200, body = StationCardOut), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn station_record_card(
    State(app): State<App>,
    Right(a): AsStation,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<StationCardIn>,
) -> ApiResult<Json<StationCardOut>> {
    let rec = StationRecord {
        card_id: b.card_id,
        serial_hex: b.serial_hex,
        token_serial: b.token_serial,
        revocation_code: b.revocation_code,
        summary: b.summary,
        mailer_file: b.mailer_file,
        mailer_sha256: b.mailer_sha256,
    };
    let (application, card) = station::complete(&app, &a, &id, &rec, a.account()).await?;
    Ok(Json(StationCardOut {
        application: application.into(),
        card: card.into(),
    }))
}

/// Revokes a certificate issued to this station that it could not put on a finished card
/// (only such a one: any other serial is 403, one already on a card 422).
#[utoipa::path(post, path = "/api/v1/station/certificates/{serial}/abort", tag = "station", operation_id = "station_abort_certificate", params(("serial" = String, Path)), request_body = AbortIn,
    responses((status = 204), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn station_abort_certificate(
    State(app): State<App>,
    Right(a): AsStation,
    Path(serial): Path<String>,
    ApiJson(b): ApiJson<AbortIn>,
) -> ApiResult<axum::http::StatusCode> {
    station::abort(&app, &a, &serial, &b.reason).await?;
    Ok(axum::http::StatusCode::NO_CONTENT)
}

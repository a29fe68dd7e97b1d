//! The doctor registry over the API (issue 11 item 3): a facility's desk enrols a
//! doctor's HPKI authentication certificate (医師資格証) for its own facility and
//! confirms it, the center approves; bindings end when the doctor leaves. The lookup by
//! certificate is for `kmn gateway` (role station, or the center).

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use base64::Engine;
use kmn_app::App;
use kmn_app::AppError;
use kmn_app::ra::doctors;
use kmn_app::rights::DoctorLookup;
use kmn_app::views::{DoctorBinding, DoctorLookupAnswer};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

pub use kmn_api_types::{DoctorConfirmIn, DoctorEndIn, DoctorEnrolIn, DoctorReasonIn};

use super::auth::{AsCenter, AsReader, AsRegistrar, Right};
use super::dto::{Page, ts};
use super::error::{ApiError, ErrorBody};
use super::{ApiJson, idempotent};

type ApiResult<T> = Result<T, ApiError>;

/// The lookup's right: the center or a gateway's station credential.
pub type AsDoctorLookup = Right<DoctorLookup>;

/// A doctor's binding to a facility.
#[derive(Debug, Serialize, ToSchema)]
pub struct DoctorBindingOut {
    pub id: String,
    pub facility_code: String,
    /// The certificate's issuer Name, DER in hex (what the lookup compares).
    pub issuer_der_hex: String,
    /// The issuer Name as text.
    pub issuer: String,
    /// The certificate's serial number, hex.
    pub serial_hex: String,
    /// SHA-256 of the certificate's SubjectPublicKeyInfo, hex.
    pub spki_sha256: String,
    /// SHA-256 of the certificate, hex.
    pub cert_sha256: String,
    /// The certificate's subject (shown; never used for a decision).
    pub subject: String,
    pub not_before: String,
    pub not_after: String,
    /// enrolled, confirmed, active, ended, refused, withdrawn.
    pub state: String,
    pub state_label: String,
    pub enrolled_by: String,
    pub enrolled_at: String,
    pub confirmed_by: Option<String>,
    /// Who at the facility confirmed in writing, when the center recorded it.
    pub confirmed_note: Option<String>,
    pub confirmed_at: Option<String>,
    pub approved_by: Option<String>,
    pub approved_at: Option<String>,
    pub closed_by: Option<String>,
    pub closed_at: Option<String>,
    /// The day the doctor left the facility, YYYY-MM-DD.
    pub ended_on: Option<String>,
    pub close_reason: Option<String>,
    pub version: i64,
}

impl From<DoctorBinding> for DoctorBindingOut {
    fn from(b: DoctorBinding) -> Self {
        Self {
            state_label: b
                .state
                .parse::<kmn_domain::doctor::BindingState>()
                .map(|s| s.label_ja())
                .unwrap_or("")
                .into(),
            not_before: ts(b.not_before),
            not_after: ts(b.not_after),
            enrolled_at: ts(b.enrolled_at),
            confirmed_at: b.confirmed_at.map(ts),
            approved_at: b.approved_at.map(ts),
            closed_at: b.closed_at.map(ts),
            id: b.id,
            facility_code: b.facility_code,
            issuer_der_hex: b.issuer_der_hex,
            issuer: b.issuer,
            serial_hex: b.serial_hex,
            spki_sha256: b.spki_sha256,
            cert_sha256: b.cert_sha256,
            subject: b.subject,
            state: b.state,
            enrolled_by: b.enrolled_by,
            confirmed_by: b.confirmed_by,
            confirmed_note: b.confirmed_note,
            approved_by: b.approved_by,
            closed_by: b.closed_by,
            ended_on: b.ended_on,
            close_reason: b.close_reason,
            version: b.version,
        }
    }
}

/// One active binding of a presented certificate.
#[derive(Debug, Serialize, ToSchema)]
pub struct DoctorLookupEntryOut {
    pub binding_id: String,
    pub facility_code: String,
    /// Always `doctor`.
    pub profession: String,
    pub not_after: String,
}

/// The active bindings of a presented certificate (empty: no binding).
#[derive(Debug, Serialize, ToSchema)]
pub struct DoctorLookupOut {
    pub bindings: Vec<DoctorLookupEntryOut>,
}

impl From<DoctorLookupAnswer> for DoctorLookupOut {
    fn from(a: DoctorLookupAnswer) -> Self {
        Self {
            bindings: a
                .bindings
                .into_iter()
                .map(|b| DoctorLookupEntryOut {
                    binding_id: b.binding_id,
                    facility_code: b.facility_code,
                    profession: b.profession,
                    not_after: ts(b.not_after),
                })
                .collect(),
        }
    }
}

/// Filters of the list.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct DoctorListQuery {
    /// The facility (a desk: its own, the default).
    pub facility: Option<String>,
    /// enrolled, confirmed, active, ended, refused, withdrawn.
    pub state: Option<String>,
    /// The `next` cursor of the previous page.
    pub after: Option<String>,
    /// Page size, 1–200 (default 50).
    pub limit: Option<i64>,
}

/// What the gateway looks up.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct DoctorLookupQuery {
    /// The certificate's issuer Name, DER in hex.
    pub issuer: String,
    /// The certificate's serial number, hex.
    pub serial: String,
    /// SHA-256 of the certificate's SubjectPublicKeyInfo, hex.
    pub spki_sha256: String,
}

/// The certificate text of an enrolment: PEM as it is, anything else as base64 DER.
fn certificate_bytes(s: &str) -> Result<Vec<u8>, ApiError> {
    if s.contains("-----BEGIN") {
        return Ok(s.as_bytes().to_vec());
    }
    let compact: String = s.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    base64::engine::general_purpose::STANDARD
        .decode(compact.as_bytes())
        .map_err(|_| {
            ApiError(AppError::Validation(vec![kmn_app::error::FieldError::new(
                "certificate",
                "証明書は PEM（-----BEGIN CERTIFICATE-----）または DER を base64 にしたもので指定してください",
            )]))
        })
}

/// Enrols a doctor's HPKI authentication certificate for a facility (a desk: its own).
/// The certificate is checked: an end-entity certificate in its validity period, with
/// keyUsage digitalSignature, not a signature certificate (`[hpki]` policy OIDs), not one
/// of this CA's own, and chaining to a configured HPKI anchor when anchors are set.
#[utoipa::path(post, path = "/api/v1/doctor-bindings", tag = "doctors", operation_id = "enrol_doctor", request_body = DoctorEnrolIn,
    params(("Idempotency-Key" = Option<String>, Header, description = "Replays return the first response and write nothing")),
    responses((status = 201, body = DoctorBindingOut), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn enrol_doctor(
    State(app): State<App>,
    Right(a): AsRegistrar,
    headers: HeaderMap,
    ApiJson(b): ApiJson<DoctorEnrolIn>,
) -> ApiResult<Response> {
    let body = serde_json::to_string(&(&b.facility_code, &b.certificate)).unwrap_or_default();
    // Rights first: a desk naming another facility is refused before the body is read.
    a.require(&b.facility_code).map_err(ApiError)?;
    let cert = certificate_bytes(&b.certificate)?;
    let respond = |v: &DoctorBinding| {
        (
            201,
            serde_json::to_string(&DoctorBindingOut::from(v.clone())).unwrap_or_default(),
        )
    };
    let (app, a) = (&app, &a);
    idempotent(
        app,
        a.actor(),
        &headers,
        &body,
        &respond,
        |idem| async move {
            doctors::enrol_once(app, a, &b.facility_code, &cert, idem.as_ref()).await
        },
    )
    .await
}

/// Doctors' bindings the caller may see (a desk: its own facility's). Reads are logged.
#[utoipa::path(get, path = "/api/v1/doctor-bindings", tag = "doctors", operation_id = "list_doctor_bindings", params(DoctorListQuery),
    responses((status = 200, body = Page<DoctorBindingOut>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn list_doctor_bindings(
    State(app): State<App>,
    Right(a): AsReader,
    Query(q): Query<DoctorListQuery>,
) -> ApiResult<Json<Page<DoctorBindingOut>>> {
    let l = q.limit.unwrap_or(50).clamp(1, 200);
    let mut v = doctors::list(
        &app,
        &a,
        q.facility.as_deref(),
        q.state.as_deref(),
        q.after.as_deref(),
        l + 1,
    )
    .await?;
    let next = (v.len() as i64 > l).then(|| {
        v.truncate(l as usize);
        v.last().map(|b| b.id.clone()).unwrap_or_default()
    });
    Ok(Json(Page {
        items: v.into_iter().map(Into::into).collect(),
        next,
    }))
}

/// One binding (a desk: of its own facility; another facility's is answered as absent).
#[utoipa::path(get, path = "/api/v1/doctor-bindings/{id}", tag = "doctors", operation_id = "get_doctor_binding", params(("id" = String, Path)),
    responses((status = 200, body = DoctorBindingOut), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn get_doctor_binding(
    State(app): State<App>,
    Right(a): AsReader,
    Path(id): Path<String>,
) -> ApiResult<Json<DoctorBindingOut>> {
    Ok(Json(doctors::get(&app, &a, &id).await?.into()))
}

/// The facility confirms the doctor acts for it: the desk of THAT facility (no body), or
/// the center recording a confirmation given in writing (`given_by` required).
#[utoipa::path(post, path = "/api/v1/doctor-bindings/{id}/confirm", tag = "doctors", operation_id = "confirm_doctor_binding", params(("id" = String, Path)), request_body = DoctorConfirmIn,
    responses((status = 200, body = DoctorBindingOut), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn confirm_doctor_binding(
    State(app): State<App>,
    Right(a): AsRegistrar,
    Path(id): Path<String>,
    body: Option<ApiJson<DoctorConfirmIn>>,
) -> ApiResult<Json<DoctorBindingOut>> {
    let given_by = body.and_then(|b| b.0.given_by);
    Ok(Json(
        doctors::confirm(&app, &a, &id, given_by.as_deref())
            .await?
            .into(),
    ))
}

/// The center approves a confirmed binding (another person than the one who recorded
/// the confirmation). Before the facility confirms: 409.
#[utoipa::path(post, path = "/api/v1/doctor-bindings/{id}/approve", tag = "doctors", operation_id = "approve_doctor_binding", params(("id" = String, Path)),
    responses((status = 200, body = DoctorBindingOut), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn approve_doctor_binding(
    State(app): State<App>,
    Right(a): AsCenter,
    Path(id): Path<String>,
) -> ApiResult<Json<DoctorBindingOut>> {
    Ok(Json(doctors::approve(&app, &a, &id).await?.into()))
}

/// The center refuses a binding before approval.
#[utoipa::path(post, path = "/api/v1/doctor-bindings/{id}/refuse", tag = "doctors", operation_id = "refuse_doctor_binding", params(("id" = String, Path)), request_body = DoctorReasonIn,
    responses((status = 200, body = DoctorBindingOut), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn refuse_doctor_binding(
    State(app): State<App>,
    Right(a): AsCenter,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<DoctorReasonIn>,
) -> ApiResult<Json<DoctorBindingOut>> {
    Ok(Json(
        doctors::refuse(&app, &a, &id, &b.reason).await?.into(),
    ))
}

/// The facility (or the center) withdraws a binding before approval.
#[utoipa::path(post, path = "/api/v1/doctor-bindings/{id}/withdraw", tag = "doctors", operation_id = "withdraw_doctor_binding", params(("id" = String, Path)), request_body = DoctorReasonIn,
    responses((status = 200, body = DoctorBindingOut), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn withdraw_doctor_binding(
    State(app): State<App>,
    Right(a): AsRegistrar,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<DoctorReasonIn>,
) -> ApiResult<Json<DoctorBindingOut>> {
    Ok(Json(
        doctors::withdraw(&app, &a, &id, &b.reason).await?.into(),
    ))
}

/// Ends an active binding: the doctor left the facility on `ended_on` (or the card was
/// replaced). The desk of the facility or the center.
#[utoipa::path(post, path = "/api/v1/doctor-bindings/{id}/end", tag = "doctors", operation_id = "end_doctor_binding", params(("id" = String, Path)), request_body = DoctorEndIn,
    responses((status = 200, body = DoctorBindingOut), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn end_doctor_binding(
    State(app): State<App>,
    Right(a): AsRegistrar,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<DoctorEndIn>,
) -> ApiResult<Json<DoctorBindingOut>> {
    Ok(Json(
        doctors::end(&app, &a, &id, &b.ended_on, &b.reason)
            .await?
            .into(),
    ))
}

/// The gateway's lookup (role station, or the center): the active bindings of a
/// presented certificate, matched on issuer, serial AND the key (a certificate with the
/// same subject name and another key has none). Logged as an access.
#[utoipa::path(get, path = "/api/v1/doctor-lookup", tag = "doctors", operation_id = "lookup_doctor", params(DoctorLookupQuery),
    responses((status = 200, body = DoctorLookupOut), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn lookup_doctor(
    State(app): State<App>,
    Right(a): AsDoctorLookup,
    Query(q): Query<DoctorLookupQuery>,
) -> ApiResult<Json<DoctorLookupOut>> {
    Ok(Json(
        doctors::lookup(&app, &a, &q.issuer, &q.serial, &q.spki_sha256)
            .await?
            .into(),
    ))
}

//! The handlers: extract → authorise (in kmn-app, by the caller's role) → use case →
//! DTO. Thin on purpose; the rules live in kmn-domain and kmn-app.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use kmn_app::App;
use kmn_app::ra::{applications, facilities, persons};
use kmn_domain::ApplicationAction;
use serde::Deserialize;
use utoipa::IntoParams;

use kmn_app::rights::{Center, Registrar};

use super::auth::{AsCenter, AsReader, AsRegistrar, Caller, Right};
use super::dto::*;
use super::error::{ApiError, ErrorBody};
use super::{ApiJson, PdfBody, idempotent};

type ApiResult<T> = Result<T, ApiError>;

/// A 201 response body as JSON text (what an `Idempotency-Key` stores).
fn created(v: impl serde::Serialize) -> (u16, String) {
    (201, serde_json::to_string(&v).unwrap_or_default())
}

const MAX_LIMIT: i64 = 200;

fn limit(l: Option<i64>) -> i64 {
    l.unwrap_or(50).clamp(1, MAX_LIMIT)
}

fn page<T: utoipa::ToSchema>(mut items: Vec<T>, limit: i64, key: impl Fn(&T) -> String) -> Page<T> {
    let next = (items.len() as i64 > limit).then(|| {
        items.truncate(limit as usize);
        items.last().map(&key).unwrap_or_default()
    });
    Page { items, next }
}

/// Paging parameters.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct PageQuery {
    /// The `next` cursor of the previous page.
    pub after: Option<String>,
    /// Page size, 1–200 (default 50).
    pub limit: Option<i64>,
}

/// Who is calling.
#[utoipa::path(get, path = "/api/v1/whoami", tag = "meta", operation_id = "whoami",
    responses((status = 200, body = WhoAmI), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn whoami(Caller(a): Caller) -> Json<WhoAmI> {
    Json((&a).into())
}

/// Facilities the caller may see (a desk: its own).
#[utoipa::path(get, path = "/api/v1/facilities", tag = "facilities", operation_id = "list_facilities", params(PageQuery),
    responses((status = 200, body = Page<FacilityOut>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn list_facilities(
    State(app): State<App>,
    Right(a): AsReader,
    Query(q): Query<PageQuery>,
) -> ApiResult<Json<Page<FacilityOut>>> {
    let l = limit(q.limit);
    let v = facilities::list(&app, &a, q.after.as_deref(), l + 1).await?;
    Ok(Json(page(
        v.into_iter().map(FacilityOut::from).collect(),
        l,
        |f| f.code.clone(),
    )))
}

/// Registers a facility (support center).
#[utoipa::path(post, path = "/api/v1/facilities", tag = "facilities", operation_id = "create_facility", request_body = FacilityIn,
    params(("Idempotency-Key" = Option<String>, Header, description = "Replays return the first response and write nothing")),
    responses((status = 201, body = FacilityOut), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create_facility(
    State(app): State<App>,
    Right(a): AsCenter,
    headers: HeaderMap,
    ApiJson(b): ApiJson<FacilityIn>,
) -> ApiResult<Response> {
    let body = serde_json::to_string(&(
        &b.code,
        &b.kind,
        &b.name_kanji,
        &b.name_kana,
        &b.name_romaji,
        &b.postal_code,
        &b.address,
        &b.phone,
        &b.email,
    ))
    .unwrap_or_default();
    let respond = |f: &kmn_app::views::Facility| created(FacilityOut::from(f.clone()));
    let (app, a) = (&app, &a);
    idempotent(
        app,
        a.actor(),
        &headers,
        &body,
        &respond,
        |idem| async move {
            let i = facilities::FacilityInput {
                code: b.code,
                kind: b.kind,
                name_kanji: b.name_kanji,
                name_kana: b.name_kana,
                name_romaji: b.name_romaji,
                postal_code: b.postal_code,
                address: b.address,
                phone: b.phone,
                email: b.email,
            };
            facilities::register_once(app, a, &i, idem.as_ref()).await
        },
    )
    .await
}

/// One facility.
#[utoipa::path(get, path = "/api/v1/facilities/{code}", tag = "facilities", operation_id = "get_facility", params(("code" = String, Path)),
    responses((status = 200, body = FacilityOut), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn get_facility(
    State(app): State<App>,
    Right(a): AsReader,
    Path(code): Path<String>,
) -> ApiResult<Json<FacilityOut>> {
    Ok(Json(facilities::get(&app, &a, &code).await?.into()))
}

/// Records the facility's consent to a published CPS / terms / privacy-policy version (第2条2).
#[utoipa::path(post, path = "/api/v1/facilities/{code}/consents", tag = "facilities", operation_id = "create_consent", params(("code" = String, Path),
    ("Idempotency-Key" = Option<String>, Header, description = "Replays return the first response and write nothing")), request_body = ConsentIn,
    responses((status = 201, body = ConsentOut), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create_consent(
    State(app): State<App>,
    Right(a): AsRegistrar,
    Path(code): Path<String>,
    headers: HeaderMap,
    ApiJson(b): ApiJson<ConsentIn>,
) -> ApiResult<Response> {
    let body =
        serde_json::to_string(&(&code, &b.kind, &b.version, &b.given_by)).unwrap_or_default();
    let respond = |c: &kmn_app::views::Consent| created(ConsentOut::from(c.clone()));
    let (app, a) = (&app, &a);
    idempotent(
        app,
        a.actor(),
        &headers,
        &body,
        &respond,
        |idem| async move {
            facilities::consent_once(
                app,
                a,
                &code,
                &b.kind,
                &b.version,
                &b.given_by,
                idem.as_ref(),
            )
            .await
        },
    )
    .await
}

/// People of a facility (personal data: every read is logged).
#[utoipa::path(get, path = "/api/v1/facilities/{code}/persons", tag = "persons", operation_id = "list_persons", params(("code" = String, Path), PageQuery),
    responses((status = 200, body = Page<PersonOut>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn list_persons(
    State(app): State<App>,
    Right(a): AsReader,
    Path(code): Path<String>,
    Query(q): Query<PageQuery>,
) -> ApiResult<Json<Page<PersonOut>>> {
    let l = limit(q.limit);
    let v = persons::list(&app, &a, &code, q.after.as_deref(), l + 1).await?;
    Ok(Json(page(
        v.into_iter().map(|p| PersonOut::new(p, vec![])).collect(),
        l,
        |p| p.holder_id.clone(),
    )))
}

/// Registers a person at a facility.
#[utoipa::path(post, path = "/api/v1/persons", tag = "persons", operation_id = "create_person", request_body = PersonIn,
    params(("Idempotency-Key" = Option<String>, Header, description = "Replays return the first response and write nothing")),
    responses((status = 201, body = PersonOut), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create_person(
    State(app): State<App>,
    Right(a): AsRegistrar,
    headers: HeaderMap,
    ApiJson(b): ApiJson<PersonIn>,
) -> ApiResult<Response> {
    let body = serde_json::to_string(&(
        &b.facility_code,
        &b.name_kanji,
        &b.name_kana,
        &b.name_romaji,
        &b.date_of_birth,
        &b.profession,
        &b.work_email,
        b.permitted,
        b.is_desk,
        b.licence_checked,
    ))
    .unwrap_or_default();
    let respond = |(p, aff): &(kmn_app::views::Person, kmn_app::views::Affiliation)| {
        created(PersonOut::new(p.clone(), vec![aff.clone()]))
    };
    let (app, a) = (&app, &a);
    idempotent(
        app,
        a.actor(),
        &headers,
        &body,
        &respond,
        |idem| async move {
            let i = persons::PersonInput {
                facility_code: b.facility_code,
                name_kanji: b.name_kanji,
                name_kana: b.name_kana,
                name_romaji: b.name_romaji,
                date_of_birth: b.date_of_birth,
                profession: b.profession,
                work_email: b.work_email,
                permitted: b.permitted,
                is_desk: b.is_desk,
                licence_checked: b.licence_checked,
            };
            persons::register_once(app, a, &i, idem.as_ref()).await
        },
    )
    .await
}

/// One person (personal data: the read is logged).
#[utoipa::path(get, path = "/api/v1/persons/{holder_id}", tag = "persons", operation_id = "get_person", params(("holder_id" = String, Path)),
    responses((status = 200, body = PersonOut), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn get_person(
    State(app): State<App>,
    Right(a): AsReader,
    Path(id): Path<String>,
) -> ApiResult<Json<PersonOut>> {
    let (p, affs) = persons::get(&app, &a, &id).await?;
    Ok(Json(PersonOut::new(p, affs)))
}

/// Filters for applications.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ApplicationQuery {
    /// State code (draft, submitted, returned, resubmitted, approved, fulfilled, rejected, withdrawn).
    pub status: Option<String>,
    /// Facility code (a desk sees only its own).
    pub facility: Option<String>,
    /// Kind code (new, renewal, reissue, discontinuation, loss_report, info_change).
    pub kind: Option<String>,
    /// Created at or after (RFC 3339).
    pub from: Option<String>,
    /// Created before (RFC 3339).
    pub to: Option<String>,
    pub after: Option<String>,
    pub limit: Option<i64>,
}

fn parse_time(field: &str, v: &Option<String>) -> Result<Option<i64>, ApiError> {
    match v {
        None => Ok(None),
        Some(s) => time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
            .map(|t| Some(t.unix_timestamp()))
            .map_err(|_| {
                ApiError(kmn_app::AppError::Validation(vec![
                    kmn_app::error::FieldError::new(
                        field,
                        "日時は RFC 3339 形式で指定してください（例: 2026-11-26T00:00:00+09:00）",
                    ),
                ]))
            }),
    }
}

/// Applications, filtered and paged.
#[utoipa::path(get, path = "/api/v1/applications", tag = "applications", operation_id = "list_applications", params(ApplicationQuery),
    responses((status = 200, body = Page<ApplicationOut>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn list_applications(
    State(app): State<App>,
    Right(a): AsReader,
    Query(q): Query<ApplicationQuery>,
) -> ApiResult<Json<Page<ApplicationOut>>> {
    let mut errs = Vec::new();
    if let Some(s) = &q.status
        && s.parse::<kmn_domain::ApplicationState>().is_err()
    {
        errs.push(kmn_app::error::FieldError::new(
            "status",
            format!("状態 '{s}' はありません"),
        ));
    }
    if let Some(k) = &q.kind
        && kmn_domain::ApplicationKind::from_codes(k, None).is_err()
        && !["reissue", "discontinuation"].contains(&k.as_str())
    {
        errs.push(kmn_app::error::FieldError::new(
            "kind",
            format!("申請の種類 '{k}' はありません"),
        ));
    }
    if !errs.is_empty() {
        return Err(ApiError(kmn_app::AppError::Validation(errs)));
    }
    let l = limit(q.limit);
    let f = applications::ApplicationQuery {
        facility_code: q.facility.clone(),
        state: q.status.clone(),
        kind: q.kind.clone(),
        holder_id: None,
        created_from: parse_time("from", &q.from)?,
        created_to: parse_time("to", &q.to)?,
        after_id: q.after.clone(),
        limit: l + 1,
    };
    let v = applications::list(&app, &a, f).await?;
    Ok(Json(page(
        v.into_iter().map(ApplicationOut::from).collect(),
        l,
        |x| x.id.clone(),
    )))
}

/// Drafts an application (the facility desk, or the center for it).
#[utoipa::path(post, path = "/api/v1/applications", tag = "applications", operation_id = "create_application", request_body = ApplicationIn,
    params(("Idempotency-Key" = Option<String>, Header, description = "Replays return the first response and write nothing")),
    responses((status = 201, body = ApplicationOut), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create_application(
    State(app): State<App>,
    Right(a): AsRegistrar,
    headers: HeaderMap,
    ApiJson(b): ApiJson<ApplicationIn>,
) -> ApiResult<Response> {
    let body = serde_json::to_string(&(
        &b.facility_code,
        &b.holder_id,
        &b.kind,
        &b.detail,
        b.validity_years,
        &b.target_card_id,
    ))
    .unwrap_or_default();
    let respond = |r: &kmn_app::views::Application| created(ApplicationOut::from(r.clone()));
    let (app, a) = (&app, &a);
    idempotent(
        app,
        a.actor(),
        &headers,
        &body,
        &respond,
        |idem| async move {
            let i = applications::ApplicationInput {
                facility_code: b.facility_code,
                holder_id: b.holder_id,
                kind: b.kind,
                detail: b.detail,
                validity_years: b.validity_years,
                target_card_id: b.target_card_id,
            };
            applications::create_once(app, a, &i, idem.as_ref()).await
        },
    )
    .await
}

/// An application with its review rounds and documents (the read is logged).
#[utoipa::path(get, path = "/api/v1/applications/{id}", tag = "applications", operation_id = "get_application", params(("id" = String, Path)),
    responses((status = 200, body = ApplicationDetail), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn get_application(
    State(app): State<App>,
    Right(a): AsReader,
    Path(id): Path<String>,
) -> ApiResult<Json<ApplicationDetail>> {
    let (row, rounds, docs) = applications::get(&app, &a, &id).await?;
    Ok(Json(ApplicationDetail {
        application: row.into(),
        rounds: rounds.into_iter().map(Into::into).collect(),
        documents: docs.into_iter().map(Into::into).collect(),
    }))
}

async fn act(
    app: &App,
    a: &Registrar,
    id: &str,
    action: ApplicationAction,
    version: Option<i64>,
) -> ApiResult<Json<ApplicationOut>> {
    Ok(Json(
        applications::act(app, a, id, action, version).await?.into(),
    ))
}

async fn review(
    app: &App,
    a: &Center,
    id: &str,
    action: ApplicationAction,
    version: Option<i64>,
) -> ApiResult<Json<ApplicationOut>> {
    Ok(Json(
        applications::review(app, a, id, action, version)
            .await?
            .into(),
    ))
}

macro_rules! simple_action {
    ($name:ident, $path:literal, $op:literal, $action:expr, $doc:literal, $right:ty, $via:ident) => {
        #[doc = $doc]
        #[utoipa::path(post, path = $path, tag = "applications", operation_id = $op, params(("id" = String, Path)), request_body = ActionIn,
            responses((status = 200, body = ApplicationOut), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
                (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
        pub async fn $name(State(app): State<App>, Right(a): $right, Path(id): Path<String>, body: Option<ApiJson<ActionIn>>) -> ApiResult<Json<ApplicationOut>> {
            let v = body.map(|b| b.0.version).unwrap_or_default();
            $via(&app, &a, &id, $action, v).await
        }
    };
}

simple_action!(
    submit_application,
    "/api/v1/applications/{id}/submit",
    "submit_application",
    ApplicationAction::Submit,
    "Files the draft (第5条).",
    AsRegistrar,
    act
);
simple_action!(
    resubmit_application,
    "/api/v1/applications/{id}/resubmit",
    "resubmit_application",
    ApplicationAction::Resubmit,
    "Files the corrected application (第6条2).",
    AsRegistrar,
    act
);
simple_action!(
    withdraw_application,
    "/api/v1/applications/{id}/withdraw",
    "withdraw_application",
    ApplicationAction::Withdraw,
    "Withdraws the application.",
    AsRegistrar,
    act
);
simple_action!(
    approve_application,
    "/api/v1/applications/{id}/approve",
    "approve_application",
    ApplicationAction::Approve,
    "Approves (第6条1; support center).",
    AsCenter,
    review
);
simple_action!(
    fulfil_application,
    "/api/v1/applications/{id}/complete",
    "complete_application",
    ApplicationAction::Fulfil,
    "Completes an application that issues no card (discontinuation, loss report, change of data).",
    AsCenter,
    review
);

/// Returns the application with a list of deficiencies (第6条2; support center).
#[utoipa::path(post, path = "/api/v1/applications/{id}/return", tag = "applications", operation_id = "return_application", params(("id" = String, Path)), request_body = ReturnIn,
    responses((status = 200, body = ApplicationOut), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn return_application(
    State(app): State<App>,
    Right(a): AsCenter,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<ReturnIn>,
) -> ApiResult<Json<ApplicationOut>> {
    let items: Vec<(String, String, String)> = b
        .deficiencies
        .into_iter()
        .map(|d| (d.field, d.problem, d.action))
        .collect();
    Ok(Json(
        applications::return_for_correction(&app, &a, &id, &items, b.version)
            .await?
            .into(),
    ))
}

/// Rejects the application with a reason (support center).
#[utoipa::path(post, path = "/api/v1/applications/{id}/reject", tag = "applications", operation_id = "reject_application", params(("id" = String, Path)), request_body = RejectIn,
    responses((status = 200, body = ApplicationOut), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn reject_application(
    State(app): State<App>,
    Right(a): AsCenter,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<RejectIn>,
) -> ApiResult<Json<ApplicationOut>> {
    review(
        &app,
        &a,
        &id,
        ApplicationAction::Reject { reason: b.reason },
        b.version,
    )
    .await
}

/// Fulfils an approved card application from a CSR (demo mode only; support center).
#[utoipa::path(post, path = "/api/v1/applications/{id}/fulfil", tag = "applications", operation_id = "fulfil_application", params(("id" = String, Path)), request_body = FulfilIn,
    responses((status = 200, body = FulfilOut), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn fulfil_from_csr(
    State(app): State<App>,
    Right(a): AsCenter,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<FulfilIn>,
) -> ApiResult<Json<FulfilOut>> {
    let (row, card, cert_der) =
        applications::fulfil_from_csr(&app, &a, &id, b.csr_pem.as_bytes()).await?;
    Ok(Json(FulfilOut {
        application: row.into(),
        certificate_pem: kmn_pki::cert::to_pem(&cert_der),
        card: card.into(),
    }))
}

/// Document upload parameters.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct UploadQuery {
    /// The file name (e.g. `application-form.pdf`).
    pub file_name: String,
}

/// Attaches a scanned form (PDF, at most 10 MiB) to an application.
#[utoipa::path(post, path = "/api/v1/applications/{id}/documents", tag = "applications", operation_id = "upload_document",
    params(("id" = String, Path), UploadQuery, ("Idempotency-Key" = Option<String>, Header, description = "Replays return the first response and write nothing")),
    request_body(content = Vec<u8>, content_type = "application/pdf"),
    responses((status = 201, body = DocumentOut), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 415, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn upload_document(
    State(app): State<App>,
    Right(a): AsRegistrar,
    Path(id): Path<String>,
    Query(q): Query<UploadQuery>,
    headers: HeaderMap,
    PdfBody(body): PdfBody,
) -> ApiResult<Response> {
    use sha2::Digest;
    let hash_src = format!(
        "{id}:{}:{}",
        q.file_name,
        hex::encode(sha2::Sha256::digest(&body))
    );
    let respond = |d: &kmn_app::views::Document| created(DocumentOut::from(d.clone()));
    let (app, a) = (&app, &a);
    idempotent(
        app,
        a.actor(),
        &headers,
        &hash_src,
        &respond,
        |idem| async move {
            applications::add_document_once(app, a, &id, &q.file_name, &body, idem.as_ref()).await
        },
    )
    .await
}

/// A document's bytes (the read is logged).
#[utoipa::path(get, path = "/api/v1/documents/{id}", tag = "applications", operation_id = "get_document", params(("id" = String, Path)),
    responses((status = 200, content_type = "application/pdf", body = Vec<u8>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn get_document(
    State(app): State<App>,
    Right(a): AsReader,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let (d, bytes) = applications::document(&app, &a, &id).await?;
    // Never rendered by a browser: downloaded, under the document's id.
    let disposition = format!("attachment; filename=\"{}.pdf\"", d.id);
    Ok((
        [
            (header::CONTENT_TYPE, d.media_type),
            (header::CONTENT_DISPOSITION, disposition),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_string()),
        ],
        bytes,
    )
        .into_response())
}

/// Card filters.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct CardQuery {
    pub facility: Option<String>,
    pub holder: Option<String>,
    pub after: Option<String>,
    pub limit: Option<i64>,
}

/// Cards the caller may see.
#[utoipa::path(get, path = "/api/v1/cards", tag = "cards", operation_id = "list_cards", params(CardQuery),
    responses((status = 200, body = Page<CardOut>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn list_cards(
    State(app): State<App>,
    Right(a): AsReader,
    Query(q): Query<CardQuery>,
) -> ApiResult<Json<Page<CardOut>>> {
    let l = limit(q.limit);
    let v = kmn_app::ra::delivery::list(
        &app,
        &a,
        q.facility.as_deref(),
        q.holder.as_deref(),
        q.after.as_deref(),
        l + 1,
    )
    .await?;
    Ok(Json(page(
        v.into_iter().map(CardOut::from).collect(),
        l,
        |c| c.id.clone(),
    )))
}

/// One card.
#[utoipa::path(get, path = "/api/v1/cards/{id}", tag = "cards", operation_id = "get_card", params(("id" = String, Path)),
    responses((status = 200, body = CardOut), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn get_card(
    State(app): State<App>,
    Right(a): AsReader,
    Path(id): Path<String>,
) -> ApiResult<Json<CardOut>> {
    // Rights first (the extractor); a card of another facility is answered like an
    // absent one.
    let c = kmn_app::ra::delivery::get(&app, &a, &id).await?;
    Ok(Json(c.into()))
}

/// Notice filters.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct NoticeQuery {
    pub facility: Option<String>,
    pub limit: Option<i64>,
}

/// Notices to the caller's facility (the center: any, or one facility).
#[utoipa::path(get, path = "/api/v1/notices", tag = "notices", operation_id = "list_notices", params(NoticeQuery),
    responses((status = 200, body = Vec<NoticeOut>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn list_notices(
    State(app): State<App>,
    Right(a): AsReader,
    Query(q): Query<NoticeQuery>,
) -> ApiResult<Json<Vec<NoticeOut>>> {
    let v = kmn_app::ra::notify::list(&app, &a, q.facility.as_deref(), limit(q.limit)).await?;
    Ok(Json(v.into_iter().map(Into::into).collect()))
}

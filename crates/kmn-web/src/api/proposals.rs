//! Dual control over the API (issue 9 item 1, issue 10 item 3): the support center
//! proposes a revocation on the association's grounds (第12条); a supervisor who is
//! another person approves or rejects, naming the SHA-256 of the content they saw. An
//! approval of a revocation proposal revokes, asks the cards back and notifies the
//! facilities in the same transaction; an approval of another kind (the review of a
//! telephone emergency revocation) records the decision.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use kmn_app::App;
use kmn_app::error::FieldError;
use kmn_app::proposal::Proposal;
use kmn_app::ra::association::{self, Target};
use serde::Serialize;
use utoipa::ToSchema;

pub use kmn_api_types::{ProposalDecisionIn, RevocationProposalIn};

use super::ApiJson;
use super::auth::{AsCenter, AsSupervisor, Right};
use super::dto::ts;
use super::error::{ApiError, ErrorBody};

type ApiResult<T> = Result<T, ApiError>;

/// A proposal of dual control.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProposalOut {
    pub id: String,
    /// e.g. `association_revocation`, `emergency_revocation_review`.
    pub kind: String,
    /// The canonical JSON content.
    pub payload: serde_json::Value,
    /// What the deciding supervisor passes back.
    pub content_sha256: String,
    /// `proposed`, `approved`, `rejected`, `expired`.
    pub state: String,
    pub proposed_by: String,
    pub proposed_at: String,
    pub expires_at: String,
    pub decided_by: Option<String>,
    pub decided_at: Option<String>,
    pub note: Option<String>,
}

impl From<Proposal> for ProposalOut {
    fn from(p: Proposal) -> Self {
        Self {
            payload: serde_json::from_str(&p.payload).unwrap_or(serde_json::Value::Null),
            id: p.id,
            kind: p.kind,
            content_sha256: p.content_sha256,
            state: p.state.as_str().into(),
            proposed_by: p.proposed_by,
            proposed_at: ts(p.proposed_at),
            expires_at: ts(p.expires_at),
            decided_by: p.decided_by,
            decided_at: p.decided_at.map(ts),
            note: p.note,
        }
    }
}

/// What an approval did.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProposalDecidedOut {
    pub proposal: ProposalOut,
    /// Certificates revoked now (a revocation proposal).
    pub revoked: Vec<String>,
    /// Certificates already revoked by another path.
    pub already_revoked: Vec<String>,
    /// Cards asked back (第15条).
    pub returns_requested: usize,
    /// Facilities notified.
    pub facilities_notified: usize,
}

fn invalid(field: &str, message: &str) -> ApiError {
    ApiError::from(kmn_app::AppError::Validation(vec![FieldError::new(
        field, message,
    )]))
}

/// Proposes a revocation on the association's grounds (第12条(1)–(6)): named cards, or
/// every card of a facility (frozen now). A supervisor who is another person decides.
#[utoipa::path(post, path = "/api/v1/revocation-proposals", tag = "proposals", operation_id = "create_revocation_proposal", request_body = RevocationProposalIn,
    responses((status = 201, body = ProposalOut), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create_revocation_proposal(
    State(app): State<App>,
    Right(c): AsCenter,
    ApiJson(b): ApiJson<RevocationProposalIn>,
) -> ApiResult<(StatusCode, Json<ProposalOut>)> {
    let ground = b.ground.parse::<kmn_domain::AssociationGround>().map_err(|_| {
        invalid(
            "ground",
            "事由は breach, compromise, misuse, untrue_data, unpaid_fees, other（利用規約第12条(1)〜(6)）のいずれかです",
        )
    })?;
    let target = match (b.card_ids.is_empty(), b.facility_code) {
        (false, None) => Target::Cards(b.card_ids),
        (true, Some(f)) => Target::Facility(f),
        _ => {
            return Err(invalid(
                "card_ids",
                "対象はカード（card_ids）か施設（facility_code）のどちらか一方で指定してください",
            ));
        }
    };
    let p = association::propose(&app, &c, ground, &target, b.card_must_return, &b.note).await?;
    Ok((StatusCode::CREATED, Json(p.into())))
}

/// A proposal (support-center staff).
#[utoipa::path(get, path = "/api/v1/proposals/{id}", tag = "proposals", operation_id = "get_proposal", params(("id" = String, Path)),
    responses((status = 200, body = ProposalOut), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn get_proposal(
    State(app): State<App>,
    Right(c): AsCenter,
    Path(id): Path<String>,
) -> ApiResult<Json<ProposalOut>> {
    Ok(Json(kmn_app::proposal::get(&app, &c, &id).await?.into()))
}

impl From<association::Decided> for ProposalDecidedOut {
    fn from(d: association::Decided) -> Self {
        Self {
            proposal: d.proposal.into(),
            revoked: d.revoked,
            already_revoked: d.already_revoked,
            returns_requested: d.returns_requested,
            facilities_notified: d.facilities_notified,
        }
    }
}

/// The media type of a streamed approval: one JSON object a line.
pub const NDJSON: &str = "application/x-ndjson";

/// A supervisor — another person than the proposer — approves. A revocation proposal
/// revokes, asks the cards back and notifies the facilities in the same transaction.
///
/// With `Accept: application/x-ndjson`, the approval of a revocation proposal streams
/// its progress (a bulk revocation of a whole facility takes a while): lines
/// `{"done": n, "total": m}` as the cards are revoked (some may be skipped), then one
/// line `{"result": ProposalDecidedOut}` or `{"error": ErrorBody}` (the status is 200 once
/// the stream has begun; an error rolls everything back). A client that goes away does
/// not stop the approval: it commits or rolls back as a whole.
#[utoipa::path(post, path = "/api/v1/proposals/{id}/approve", tag = "proposals", operation_id = "approve_proposal", params(("id" = String, Path)), request_body = ProposalDecisionIn,
    responses((status = 200, body = ProposalDecidedOut, description = "The decision; with `Accept: application/x-ndjson`, the progress lines and then `{\"result\": …}` or `{\"error\": …}`"), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn approve_proposal(
    State(app): State<App>,
    Right(s): AsSupervisor,
    Path(id): Path<String>,
    headers: axum::http::HeaderMap,
    ApiJson(b): ApiJson<ProposalDecisionIn>,
) -> ApiResult<axum::response::Response> {
    use axum::response::IntoResponse;
    let kind = kmn_app::proposal::get(&app, &s.center(), &id).await?.kind;
    let streamed = headers
        .get(axum::http::header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains(NDJSON));
    if kind == association::KIND && streamed {
        return Ok(streamed_approval(app, s, id, b.content_sha256));
    }
    if kind == association::KIND {
        let d = association::approve(&app, &s, &id, &b.content_sha256, &mut |_, _| {}).await?;
        return Ok(Json(ProposalDecidedOut::from(d)).into_response());
    }
    let a = kmn_app::proposal::approve(&app, &s, &id, &b.content_sha256).await?;
    Ok(Json(ProposalDecidedOut {
        proposal: a.proposal().clone().into(),
        revoked: vec![],
        already_revoked: vec![],
        returns_requested: 0,
        facilities_notified: 0,
    })
    .into_response())
}

fn streamed_approval(
    app: App,
    s: kmn_app::rights::Supervisor,
    id: String,
    sha: String,
) -> axum::response::Response {
    let (tx, rx) = tokio::sync::mpsc::channel::<String>(64);
    tokio::spawn(async move {
        let progress = tx.clone();
        let mut last = None;
        let r = association::approve(&app, &s, &id, &sha, &mut |done, total| {
            // At most about a hundred lines, and never blocking the transaction.
            let step = (total / 100).max(1);
            if done == total || last.is_none_or(|l: usize| done >= l + step) {
                last = Some(done);
                let _ = progress.try_send(format!(
                    "{}\n",
                    serde_json::json!({"done": done, "total": total})
                ));
            }
        })
        .await;
        let line = match r {
            Ok(d) => serde_json::json!({ "result": ProposalDecidedOut::from(d) }),
            Err(e) => serde_json::json!({ "error": super::error::body_of(&e) }),
        };
        let _ = tx.send(format!("{line}\n")).await;
    });
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv()
            .await
            .map(|l| (Ok::<_, std::convert::Infallible>(l), rx))
    });
    axum::response::Response::builder()
        .header(axum::http::header::CONTENT_TYPE, NDJSON)
        .body(axum::body::Body::from_stream(stream))
        .unwrap_or_else(|_| {
            axum::response::IntoResponse::into_response(StatusCode::INTERNAL_SERVER_ERROR)
        })
}

/// A supervisor — another person than the proposer — rejects, with a reason.
#[utoipa::path(post, path = "/api/v1/proposals/{id}/reject", tag = "proposals", operation_id = "reject_proposal", params(("id" = String, Path)), request_body = ProposalDecisionIn,
    responses((status = 200, body = ProposalOut), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn reject_proposal(
    State(app): State<App>,
    Right(s): AsSupervisor,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<ProposalDecisionIn>,
) -> ApiResult<Json<ProposalOut>> {
    let reason = b.reason.unwrap_or_default();
    Ok(Json(
        kmn_app::proposal::reject(&app, &s, &id, &b.content_sha256, &reason)
            .await?
            .into(),
    ))
}

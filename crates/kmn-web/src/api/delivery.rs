//! Delivery of cards over the API (第7・8条, DESIGN §4 Receipt): the center records
//! shipping, a loss in the post and out-of-band receipts and dispatches PIN mailers; the
//! facility desk confirms receipt by the serial printed on the card and records the
//! handover to the holder.

use axum::Json;
use axum::extract::{Path, Query, State};
use kmn_app::App;
use kmn_app::ra::delivery::{self, CardView, ReceiptChannel};
use kmn_app::views::PinMailer;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

pub use kmn_api_types::{
    EmergencyRevocationIn, HandoverIn, LostInPostIn, OutOfBandReceiptIn, ReceiptIn, ShipIn,
};

use super::ApiJson;
use super::auth::{AsCenter, AsReader, AsReceiver, AsRegistrar, Right};
use super::dto::{CardOut, ts};
use super::error::{ApiError, ErrorBody};

type ApiResult<T> = Result<T, ApiError>;

/// Shipping, receipt and handover of a card.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryOut {
    pub shipped_at: Option<String>,
    pub shipping_method: Option<String>,
    pub tracking_number: Option<String>,
    pub received_at: Option<String>,
    /// `desk`, `paper` or `phone`.
    pub receipt_channel: Option<String>,
    pub receipt_note: Option<String>,
    pub handed_over_at: Option<String>,
    pub handed_over_to: Option<String>,
    pub handed_over_by: Option<String>,
    pub lost_at: Option<String>,
    pub lost_note: Option<String>,
}

/// A PIN mailer (never its content).
#[derive(Debug, Serialize, ToSchema)]
pub struct PinMailerOut {
    pub id: String,
    pub card_id: String,
    /// `initial` or `unlock`.
    pub purpose: String,
    /// `held`, `released`, `dispatched` or `destroyed`.
    pub state: String,
    pub state_label: String,
    pub sha256: String,
    pub created_at: String,
    pub released_at: Option<String>,
    pub dispatched_at: Option<String>,
    pub destroyed_at: Option<String>,
}

impl From<PinMailer> for PinMailerOut {
    fn from(m: PinMailer) -> Self {
        Self {
            state_label: delivery::mailer_state_label_ja(&m.state).into(),
            created_at: ts(m.created_at),
            released_at: m.released_at.map(ts),
            dispatched_at: m.dispatched_at.map(ts),
            destroyed_at: m.destroyed_at.map(ts),
            id: m.id,
            card_id: m.card_id,
            purpose: m.purpose,
            state: m.state,
            sha256: m.sha256,
        }
    }
}

/// A card with its delivery record, PIN mailers and certificate status.
#[derive(Debug, Serialize, ToSchema)]
pub struct CardDeliveryOut {
    pub card: CardOut,
    pub delivery: DeliveryOut,
    pub pin_mailers: Vec<PinMailerOut>,
    /// `valid`, `on_hold` (certificateHold until receipt) or `revoked`.
    pub certificate_status: Option<String>,
    pub certificate_status_label: Option<String>,
}

impl From<CardView> for CardDeliveryOut {
    fn from(v: CardView) -> Self {
        let d = v.delivery;
        Self {
            certificate_status_label: v
                .certificate_status
                .as_deref()
                .and_then(kmn_domain::CertStatus::from_db)
                .map(|s| s.label_ja().to_string()),
            certificate_status: v.certificate_status,
            card: v.card.into(),
            delivery: DeliveryOut {
                shipped_at: d.shipped_at.map(ts),
                shipping_method: d.shipping_method,
                tracking_number: d.tracking_number,
                received_at: d.received_at.map(ts),
                receipt_channel: d.receipt_channel,
                receipt_note: d.receipt_note,
                handed_over_at: d.handed_over_at.map(ts),
                handed_over_to: d.handed_over_to,
                handed_over_by: d.handed_over_by,
                lost_at: d.lost_at.map(ts),
                lost_note: d.lost_note,
            },
            pin_mailers: v.pin_mailers.into_iter().map(Into::into).collect(),
        }
    }
}

/// A card with its delivery record.
#[utoipa::path(get, path = "/api/v1/cards/{id}/delivery", tag = "cards", operation_id = "get_card_delivery", params(("id" = String, Path)),
    responses((status = 200, body = CardDeliveryOut), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn get_card_delivery(
    State(app): State<App>,
    Right(a): AsReader,
    Path(id): Path<String>,
) -> ApiResult<Json<CardDeliveryOut>> {
    Ok(Json(delivery::view(&app, &a, &id).await?.into()))
}

/// Records shipping (support center, 第7条).
#[utoipa::path(post, path = "/api/v1/cards/{id}/ship", tag = "cards", operation_id = "ship_card", params(("id" = String, Path)), request_body = ShipIn,
    responses((status = 200, body = CardDeliveryOut), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn ship_card(
    State(app): State<App>,
    Right(a): AsCenter,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<ShipIn>,
) -> ApiResult<Json<CardDeliveryOut>> {
    Ok(Json(
        delivery::ship(&app, &a, &id, &b.method, b.tracking_number.as_deref())
            .await?
            .into(),
    ))
}

/// The facility desk confirms receipt by the serial printed on the card (第8条1). This
/// releases the PIN mailer for dispatch and, under `hold_until_receipt`, the
/// certificate's hold.
#[utoipa::path(post, path = "/api/v1/cards/receipt", tag = "cards", operation_id = "confirm_card_receipt", request_body = ReceiptIn,
    responses((status = 200, body = CardDeliveryOut), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn confirm_card_receipt(
    State(app): State<App>,
    AsReceiver(a): AsReceiver,
    ApiJson(b): ApiJson<ReceiptIn>,
) -> ApiResult<Json<CardDeliveryOut>> {
    Ok(Json(
        delivery::confirm_receipt_by_serial(&app, &a, &b.token_serial)
            .await?
            .into(),
    ))
}

/// The center records a receipt received on paper or by phone (第8条1).
#[utoipa::path(post, path = "/api/v1/cards/{id}/receipt", tag = "cards", operation_id = "record_card_receipt", params(("id" = String, Path)), request_body = OutOfBandReceiptIn,
    responses((status = 200, body = CardDeliveryOut), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn record_card_receipt(
    State(app): State<App>,
    Right(a): AsCenter,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<OutOfBandReceiptIn>,
) -> ApiResult<Json<CardDeliveryOut>> {
    let ch = ReceiptChannel::parse_out_of_band(&b.channel)?;
    Ok(Json(
        delivery::record_receipt(&app, &a, &id, ch, &b.note)
            .await?
            .into(),
    ))
}

/// The desk records the handover to the holder (第8条1).
#[utoipa::path(post, path = "/api/v1/cards/{id}/handover", tag = "cards", operation_id = "record_card_handover", params(("id" = String, Path)), request_body = HandoverIn,
    responses((status = 200, body = CardDeliveryOut), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn record_card_handover(
    State(app): State<App>,
    Right(a): AsRegistrar,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<HandoverIn>,
) -> ApiResult<Json<CardDeliveryOut>> {
    let at = match b.handed_over_at.as_deref() {
        None => None,
        Some(t) => Some(
            time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339)
                .map_err(|_| {
                    kmn_app::AppError::BadInput(format!(
                        "交付日時 '{t}' を読めません（例 2026-11-26T10:00:00+09:00）"
                    ))
                })?
                .unix_timestamp(),
        ),
    };
    Ok(Json(
        delivery::hand_over(&app, &a, &id, &b.handed_to, at)
            .await?
            .into(),
    ))
}

/// The center records a loss in the post: the certificate is revoked (keyCompromise)
/// and the unsent PIN mailer destroyed.
#[utoipa::path(post, path = "/api/v1/cards/{id}/lost-in-post", tag = "cards", operation_id = "record_card_lost_in_post", params(("id" = String, Path)), request_body = LostInPostIn,
    responses((status = 200, body = CardDeliveryOut), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn record_card_lost_in_post(
    State(app): State<App>,
    Right(a): AsCenter,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<LostInPostIn>,
) -> ApiResult<Json<CardDeliveryOut>> {
    Ok(Json(
        delivery::lost_in_post(&app, &a, &id, &b.note).await?.into(),
    ))
}

/// What an emergency revocation did.
#[derive(Debug, Serialize, ToSchema)]
pub struct EmergencyRevocationOut {
    /// The card, as it is now.
    pub card: CardDeliveryOut,
    /// The revoked certificate's serial (hex).
    pub serial_hex: String,
    /// When it was revoked.
    pub revoked_at: String,
    /// `emergency:lost`, `emergency:stolen` or `emergency:feared_misuse`.
    pub grounds: String,
    /// The grounds in Japanese.
    pub grounds_label: String,
    /// The loss report (紛失届) drafted for the desk to complete.
    pub draft_application: Option<String>,
    /// Why no loss report could be drafted (the revocation stands).
    pub draft_error: Option<String>,
    /// Whether this account revoked many cards within the hour (the center is alerted).
    pub alert: bool,
}

/// Emergency revocation (第11条): the facility's desk, for a card of its own facility (or
/// the center), revokes at once — no review first. The CRL follows within a second and
/// OCSP within about 100 ms; a loss report is drafted for the desk to complete.
#[utoipa::path(post, path = "/api/v1/cards/{id}/emergency-revocation", tag = "cards", operation_id = "emergency_revocation", params(("id" = String, Path)), request_body = EmergencyRevocationIn,
    responses((status = 200, body = EmergencyRevocationOut), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn emergency_revocation(
    State(app): State<App>,
    Right(a): AsRegistrar,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<EmergencyRevocationIn>,
) -> ApiResult<Json<EmergencyRevocationOut>> {
    let cause = b.reason.parse::<kmn_domain::EmergencyCause>().map_err(|_| {
        ApiError::from(kmn_app::AppError::Validation(vec![
            kmn_app::error::FieldError::new(
                "reason",
                "緊急失効の理由は lost（紛失）、stolen（盗難）、feared_misuse（不正使用のおそれ）のいずれかです",
            ),
        ]))
    })?;
    let last_known_safe = match &b.last_known_safe {
        None => None,
        Some(t) => Some(
            time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339)
                .map_err(|_| {
                    ApiError::from(kmn_app::AppError::Validation(vec![
                        kmn_app::error::FieldError::new(
                            "last_known_safe",
                            "日時は RFC 3339 で指定してください（例 2026-12-07T09:00:00+09:00）",
                        ),
                    ]))
                })?
                .unix_timestamp(),
        ),
    };
    let r = kmn_app::ra::emergency::by_desk(
        &app,
        &a,
        &id,
        &kmn_app::ra::emergency::EmergencyReport {
            cause,
            last_known_safe,
            note: b.note,
        },
    )
    .await?;
    Ok(Json(EmergencyRevocationOut {
        card: r.card.into(),
        serial_hex: r.serial_hex,
        revoked_at: ts(r.revoked_at),
        grounds: r.grounds,
        grounds_label: r.grounds_label,
        draft_application: r.draft_application,
        draft_error: r.draft_error,
        alert: r.alert,
    }))
}

/// PIN mailer filter.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct MailerQuery {
    /// `held`, `released`, `dispatched` or `destroyed`.
    pub state: Option<String>,
}

/// PIN mailers (support center): `released` ones are ready to send.
#[utoipa::path(get, path = "/api/v1/pin-mailers", tag = "cards", operation_id = "list_pin_mailers", params(MailerQuery),
    responses((status = 200, body = Vec<PinMailerOut>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn list_pin_mailers(
    State(app): State<App>,
    Right(a): AsCenter,
    Query(q): Query<MailerQuery>,
) -> ApiResult<Json<Vec<PinMailerOut>>> {
    Ok(Json(
        delivery::list_mailers(&app, &a, q.state.as_deref())
            .await?
            .into_iter()
            .map(Into::into)
            .collect(),
    ))
}

/// Records that a released PIN mailer was sent (support center).
#[utoipa::path(post, path = "/api/v1/pin-mailers/{id}/dispatched", tag = "cards", operation_id = "record_pin_mailer_dispatched", params(("id" = String, Path)),
    responses((status = 200, body = PinMailerOut), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn record_pin_mailer_dispatched(
    State(app): State<App>,
    Right(a): AsCenter,
    Path(id): Path<String>,
) -> ApiResult<Json<PinMailerOut>> {
    Ok(Json(
        delivery::mailer_dispatched(&app, &a, &id).await?.into(),
    ))
}

//! The evidence of a revocation (第23条3): its timestamps as JSON, the signed revocation
//! receipt (CMS SignedData, DER) and the Japanese letter to the facility (PDF). Readers
//! only: the center and auditors for every certificate, a facility's desk for its own
//! facility's cards; another facility's certificate is answered like an unknown serial.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use kmn_app::App;
use kmn_app::views::Evidence;

use super::auth::{AsReader, Right};
use super::dto::{EvidenceOut, ts};
use super::error::{ApiError, ErrorBody};

type ApiResult<T> = Result<T, ApiError>;

/// The media type of the receipt: a CMS SignedData with its content encapsulated
/// (RFC 8551 §3.2.2).
pub const RECEIPT_MEDIA_TYPE: &str = "application/pkcs7-mime; smime-type=signed-data";

fn evidence_out(e: Evidence) -> EvidenceOut {
    let receipt_available = e.status == kmn_domain::CertStatus::Revoked
        && e.first_crl_number.is_some()
        && e.first_crl_published_at.is_some();
    EvidenceOut {
        status: e.status.as_str().to_string(),
        status_label: e.status.label_ja().to_string(),
        reason: e.reason.map(|r| r.rfc_name().to_string()),
        reason_label: e.reason.map(|r| r.label_ja().to_string()),
        grounds_label: e.grounds_label_ja(),
        channel_label: e.channel_label_ja().map(str::to_string),
        request_received_at: e.request_received_at.map(ts),
        revoked_at: e.revoked_at.map(ts),
        invalidity_date: e.invalidity_date.map(ts),
        first_crl_this_update: e.first_crl_this_update.map(ts),
        first_crl_published_at: e.first_crl_published_at.map(ts),
        first_ocsp_produced_at: e.first_ocsp_produced_at.map(ts),
        first_ocsp_at: e.first_ocsp_at.map(ts),
        receipt_available,
        serial_hex: e.serial_hex,
        ca_name: e.ca_name,
        subject: e.subject,
        card_id: e.card_id,
        holder_id: e.holder_id,
        facility_code: e.facility_code,
        grounds: e.grounds,
        article: e.article,
        channel: e.channel,
        requested_by: e.requested_by,
        first_crl_number: e.first_crl_number,
        first_crl_sha256: e.first_crl_sha256,
    }
}

/// The evidence of a certificate's revocation (第23条3); the read is logged.
#[utoipa::path(get, path = "/api/v1/certificates/{serial}/evidence", tag = "evidence", operation_id = "get_revocation_evidence",
    params(("serial" = String, Path, description = "The certificate's serial, hex")),
    responses((status = 200, body = EvidenceOut), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn get_revocation_evidence(
    State(app): State<App>,
    Right(a): AsReader,
    Path(serial): Path<String>,
) -> ApiResult<Json<EvidenceOut>> {
    let e = kmn_app::ca::evidence::load(&app, &a, &serial).await?;
    Ok(Json(evidence_out(e)))
}

fn attachment(media_type: &str, file_name: String, bytes: Vec<u8>) -> Response {
    (
        [
            (header::CONTENT_TYPE, media_type.to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{file_name}\""),
            ),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_string()),
        ],
        bytes,
    )
        .into_response()
}

/// The signed revocation receipt (第23条3): a CMS SignedData (DER, eContentType
/// id-ct-kmnRevocationReceipt, docs/REVOCATION-RECEIPT.asn1) signed by the audit signer,
/// which the issuing CA certified for id-kp-documentSigning. Verify it with
/// `kmn receipt verify` or `openssl cms -verify -purpose any -inform DER -CAfile root.pem`.
/// 409 `E_CA_STATE` until the first CRL listing the revocation was published and read
/// back, or when the certificate is not revoked.
#[utoipa::path(get, path = "/api/v1/certificates/{serial}/revocation-receipt", tag = "evidence", operation_id = "get_revocation_receipt",
    params(("serial" = String, Path, description = "The certificate's serial, hex")),
    responses((status = 200, content_type = "application/pkcs7-mime", body = Vec<u8>), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn get_revocation_receipt(
    State(app): State<App>,
    Right(a): AsReader,
    Path(serial): Path<String>,
) -> ApiResult<Response> {
    let r = kmn_app::ca::evidence::receipt(&app, &a, &serial).await?;
    Ok(attachment(
        RECEIPT_MEDIA_TYPE,
        format!("revocation-receipt-{}.p7m", r.record.serial_hex()),
        r.der,
    ))
}

/// The letter to the facility (「電子証明書失効のお知らせ」, A4 PDF in Japanese) with every
/// timestamp of the evidence. 409 `E_CA_STATE` until the first CRL listing the
/// revocation was published and read back, or for a certificate that is on no card.
#[utoipa::path(get, path = "/api/v1/certificates/{serial}/revocation-letter", tag = "evidence", operation_id = "get_revocation_letter",
    params(("serial" = String, Path, description = "The certificate's serial, hex")),
    responses((status = 200, content_type = "application/pdf", body = Vec<u8>), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn get_revocation_letter(
    State(app): State<App>,
    Right(a): AsReader,
    Path(serial): Path<String>,
) -> ApiResult<Response> {
    let pdf = kmn_app::ca::evidence::letter(&app, &a, &serial).await?;
    let serial = serial.to_ascii_lowercase().replace(':', "");
    let name: String = serial.chars().filter(char::is_ascii_hexdigit).collect();
    Ok(attachment(
        "application/pdf",
        format!("revocation-letter-{name}.pdf"),
        pdf,
    ))
}

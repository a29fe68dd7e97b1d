//! The one place that maps errors to HTTP (STYLE §6): a stable machine code, a Japanese
//! message for people, and field-level errors where input was wrong. Internal details
//! go to the log, never to the client.

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use kmn_app::AppError;
use kmn_app::error::FieldError;
use serde::Serialize;
use utoipa::ToSchema;

/// The error body of every failed API call.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// Stable machine code, e.g. `E_VALIDATION`, `E_FORBIDDEN`, `E_CONFLICT`.
    pub code: String,
    /// For people, in Japanese.
    pub message: String,
    /// Field-level errors (for `E_VALIDATION`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<FieldErrorBody>,
}

/// One invalid field.
#[derive(Debug, Serialize, ToSchema)]
pub struct FieldErrorBody {
    /// The field (`name_kana`, `holder.date_of_birth`).
    pub field: String,
    /// What is wrong, in Japanese.
    pub message: String,
}

/// An API error.
#[derive(Debug)]
pub struct ApiError(pub AppError);

impl From<AppError> for ApiError {
    fn from(e: AppError) -> Self {
        Self(e)
    }
}

/// The HTTP status of an application error.
pub fn status_of(e: &AppError) -> StatusCode {
    match e {
        AppError::BadInput(_) => StatusCode::BAD_REQUEST,
        AppError::Validation(_)
        | AppError::Rule(_)
        | AppError::Lint(_)
        | AppError::Token { .. } => StatusCode::UNPROCESSABLE_ENTITY,
        AppError::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
        AppError::Forbidden(_) | AppError::SelfApproval(_) => StatusCode::FORBIDDEN,
        AppError::NotFound(_) => StatusCode::NOT_FOUND,
        AppError::Conflict(_)
        | AppError::CaState(_)
        | AppError::ProposalExpired(_)
        | AppError::ProposalAltered(_) => StatusCode::CONFLICT,
        AppError::Unavailable(_) | AppError::KeyUnavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// The documented error body of `e` (logged when it is the server's fault).
pub(crate) fn body_of(e: &AppError) -> ErrorBody {
    if status_of(e).is_server_error() {
        tracing::error!(error = %e, code = e.code(), "API request failed");
    }
    let fields = match e {
        AppError::Validation(f) => f
            .iter()
            .map(|f| FieldErrorBody {
                field: f.field.clone(),
                message: f.message.clone(),
            })
            .collect(),
        _ => vec![],
    };
    ErrorBody {
        code: e.code().to_string(),
        message: e.message_ja(),
        fields,
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (status_of(&self.0), Json(body_of(&self.0))).into_response()
    }
}

/// An error of the HTTP exchange itself (media type, size, route, method), in the same
/// documented body as every other error.
#[derive(Debug)]
pub struct ProtocolError {
    /// The status.
    pub status: StatusCode,
    /// The stable code.
    pub code: &'static str,
    /// For people, in Japanese.
    pub message: String,
    /// Seconds for the `Retry-After` header (`429`).
    pub retry_after: Option<u64>,
}

impl ProtocolError {
    /// 429: too many requests from this address (or this account); `Retry-After`
    /// says when the next one is accepted.
    pub fn rate_limited(secs: u64) -> Self {
        Self {
            status: StatusCode::TOO_MANY_REQUESTS,
            code: "E_RATE_LIMITED",
            message: format!(
                "短時間に要求が集中しています。{secs}秒ほど待ってからもう一度お試しください"
            ),
            retry_after: Some(secs),
        }
    }

    /// 413 for a JSON body over the limit (`listen.json_body_limit_kib`).
    pub fn json_too_large() -> Self {
        Self {
            status: StatusCode::PAYLOAD_TOO_LARGE,
            code: "E_TOO_LARGE",
            message: "送信された JSON が大きすぎます。内容をご確認ください".into(),
            retry_after: None,
        }
    }

    /// 415: the body's media type is not the one the route takes.
    pub fn media_type(expected: &str) -> Self {
        Self {
            status: StatusCode::UNSUPPORTED_MEDIA_TYPE,
            code: "E_MEDIA_TYPE",
            message: format!("Content-Type: {expected} で送信してください"),
            retry_after: None,
        }
    }

    /// The documented body for a bare status produced below the handlers (the body
    /// limit, the router's 404 and 405, a path or query that does not parse).
    pub fn for_status(status: StatusCode) -> Self {
        let (code, message) = match status {
            StatusCode::PAYLOAD_TOO_LARGE => (
                "E_TOO_LARGE",
                "送信された内容が大きすぎます（書類は10MiBまでです）",
            ),
            StatusCode::NOT_FOUND => (
                "E_NOT_FOUND",
                "指定の URL はありません。API の説明（/api/v1/openapi.json）をご確認ください",
            ),
            StatusCode::METHOD_NOT_ALLOWED => (
                "E_METHOD_NOT_ALLOWED",
                "この URL ではこのメソッドは使えません",
            ),
            StatusCode::UNSUPPORTED_MEDIA_TYPE => (
                "E_MEDIA_TYPE",
                "この URL ではこの Content-Type は受け付けていません",
            ),
            StatusCode::UNAUTHORIZED => {
                ("E_UNAUTHENTICATED", "クライアント証明書で認証してください")
            }
            StatusCode::FORBIDDEN => ("E_FORBIDDEN", "この操作は行えません"),
            StatusCode::TOO_MANY_REQUESTS => (
                "E_RATE_LIMITED",
                "短時間に要求が集中しています。しばらく待ってからもう一度お試しください",
            ),
            s if s.is_server_error() => (
                "E_INTERNAL",
                "システムエラーが発生しました。サポートセンターに連絡してください。",
            ),
            _ => (
                "E_BAD_INPUT",
                "リクエストの内容（URL のパスまたはクエリ）を読み取れません",
            ),
        };
        Self {
            status,
            code,
            message: message.into(),
            retry_after: None,
        }
    }
}

impl IntoResponse for ProtocolError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            code: self.code.into(),
            message: self.message,
            fields: vec![],
        };
        let mut resp = (self.status, Json(body)).into_response();
        if let Some(s) = self.retry_after {
            resp.headers_mut()
                .insert(axum::http::header::RETRY_AFTER, s.into());
        }
        resp
    }
}

/// Turns a JSON rejection into the documented error body, in Japanese: a field-level
/// error where serde names the field, never a Rust type or serde's English.
pub fn json_rejection(r: JsonRejection) -> Response {
    let text = r.body_text();
    // serde: "unknown field `foo`, expected one of …" / "missing field `bar`" /
    // "duplicate field `baz`"
    let field = |marker: &str| -> Option<String> {
        let i = text.find(marker)? + marker.len();
        let rest = text.get(i..)?;
        let end = rest.find('`')?;
        Some(rest.get(..end)?.to_string())
    };
    // serde_path_to_error: "…target type: holder.date_of_birth: invalid type: …"
    let path = || -> Option<String> {
        let rest = text.split_once("target type: ")?.1;
        let (p, what) = rest.split_once(": ")?;
        (what.starts_with("invalid ")
            && p.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
            && p.chars()
                .all(|c| c.is_ascii_alphanumeric() || "_.[]".contains(c)))
        .then(|| p.to_string())
    };
    let e = match &r {
        JsonRejection::MissingJsonContentType(_) => {
            return ProtocolError::media_type("application/json").into_response();
        }
        JsonRejection::BytesRejection(b) if b.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            return ProtocolError::json_too_large().into_response();
        }
        JsonRejection::JsonSyntaxError(_) => {
            AppError::BadInput("JSON の形式が正しくありません".into())
        }
        _ => {
            if let Some(f) = field("unknown field `") {
                AppError::Validation(vec![FieldError::new(
                    f,
                    "この項目は受け付けていません（項目名を確認してください）",
                )])
            } else if let Some(f) = field("missing field `") {
                AppError::Validation(vec![FieldError::new(f, "必須項目です")])
            } else if let Some(f) = field("duplicate field `") {
                AppError::Validation(vec![FieldError::new(
                    f,
                    "この項目が重複しています（一度だけ指定してください）",
                )])
            } else if let Some(f) = path() {
                AppError::Validation(vec![FieldError::new(
                    f,
                    "値の型が正しくありません（文字列・数値・真偽値の別をご確認ください）",
                )])
            } else {
                AppError::BadInput(
                    "リクエストの内容を読み取れません。JSON のオブジェクトで送信してください"
                        .into(),
                )
            }
        }
    };
    ApiError(e).into_response()
}

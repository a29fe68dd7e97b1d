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

impl From<kmn_store::StoreError> for ApiError {
    fn from(e: kmn_store::StoreError) -> Self {
        Self(e.into())
    }
}

/// The HTTP status of an application error.
pub fn status_of(e: &AppError) -> StatusCode {
    match e {
        AppError::BadInput(_) => StatusCode::BAD_REQUEST,
        AppError::Validation(_) | AppError::Rule(_) | AppError::Lint(_) => {
            StatusCode::UNPROCESSABLE_ENTITY
        }
        AppError::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
        AppError::Forbidden(_) => StatusCode::FORBIDDEN,
        AppError::NotFound(_) => StatusCode::NOT_FOUND,
        AppError::Conflict(_) | AppError::CaState(_) => StatusCode::CONFLICT,
        AppError::Unavailable(_) | AppError::KeyUnavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = status_of(&self.0);
        if status.is_server_error() {
            tracing::error!(error = %self.0, code = self.0.code(), "API request failed");
        }
        let fields = match &self.0 {
            AppError::Validation(f) => f
                .iter()
                .map(|f| FieldErrorBody {
                    field: f.field.clone(),
                    message: f.message.clone(),
                })
                .collect(),
            _ => vec![],
        };
        let body = ErrorBody {
            code: self.0.code().to_string(),
            message: self.0.message_ja(),
            fields,
        };
        (status, Json(body)).into_response()
    }
}

/// Turns a JSON rejection into a field-level error in Japanese.
pub fn json_rejection(r: JsonRejection) -> ApiError {
    let text = r.body_text();
    // serde: "unknown field `foo`, expected one of …" / "missing field `bar`"
    let field = |marker: &str| -> Option<String> {
        let i = text.find(marker)? + marker.len();
        let rest = &text[i..];
        let end = rest.find('`')?;
        Some(rest[..end].to_string())
    };
    let e = if let Some(f) = field("unknown field `") {
        AppError::Validation(vec![FieldError::new(
            f,
            "この項目は受け付けていません（項目名を確認してください）",
        )])
    } else if let Some(f) = field("missing field `") {
        AppError::Validation(vec![FieldError::new(f, "必須項目です")])
    } else if matches!(r, JsonRejection::MissingJsonContentType(_)) {
        AppError::BadInput("Content-Type: application/json で送信してください".into())
    } else if matches!(r, JsonRejection::JsonSyntaxError(_)) {
        AppError::BadInput("JSON の形式が正しくありません".into())
    } else {
        AppError::BadInput(format!("リクエストの内容を読み取れません（{text}）"))
    };
    ApiError(e)
}

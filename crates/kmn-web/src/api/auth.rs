//! Authentication by client certificate (DESIGN §1, G2/G3): the TLS layer accepts a
//! connection without a certificate so that the application can answer 401/403 with a
//! reason; every request maps the certificate to an account and checks its status.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use kmn_app::actor::Actor;
use kmn_app::{App, AppError};

use super::error::ApiError;

/// The client certificate of the connection (DER), put into every request of a TLS
/// connection by the HTTPS listener ([`crate::listen`]) (or by tests).
#[derive(Clone, Debug)]
pub struct PeerCert(pub Vec<u8>);

/// The authenticated caller of a request.
#[derive(Clone, Debug)]
pub struct Caller(pub Actor);

impl FromRequestParts<App> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self, Self::Rejection> {
        let Some(PeerCert(der)) = parts.extensions.get::<PeerCert>().cloned() else {
            return Err(ApiError(AppError::Unauthenticated(
                "クライアント証明書（利用者カードまたは担当者証明書）が必要です".into(),
            )));
        };
        let actor = kmn_app::actor::authenticate(app, &der).await?;
        Ok(Caller(actor))
    }
}

//! Authentication by client certificate (DESIGN §1, G2/G3): the TLS layer accepts a
//! connection without a certificate so that the application can answer 401/403 with a
//! reason; every request maps the certificate to an account and checks its status.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use kmn_app::actor::Actor;
use kmn_app::rights::{Capability, Center, Reader, Registrar, Station};
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

/// The caller's right `C`, checked from the certificate before the path, the query or
/// the body is read (rights first: a caller without the right gets 403 whatever it
/// sends). One extractor per capability: [`AsCenter`], [`AsRegistrar`], [`AsReader`],
/// [`AsStation`]; [`AsReceiver`] for a card's receipt.
#[derive(Clone, Debug)]
pub struct Right<C>(pub C);

impl<C: Capability> FromRequestParts<App> for Right<C> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self, Self::Rejection> {
        let Caller(actor) = Caller::from_request_parts(parts, app).await?;
        Ok(Right(C::from_actor(&actor)?))
    }
}

/// Support-center staff.
pub type AsCenter = Right<Center>;
/// The center, or a desk for its facility.
pub type AsRegistrar = Right<Registrar>;
/// Those who may read facility data.
pub type AsReader = Right<Reader>;
/// A personalization station.
pub type AsStation = Right<Station>;
/// A supervisor of the support center (the second person of dual control).
pub type AsSupervisor = Right<kmn_app::rights::Supervisor>;

/// The right to confirm a card's receipt (第8条1): a desk or the center, refused with the
/// receipt's own message.
#[derive(Clone, Debug)]
pub struct AsReceiver(pub Registrar);

impl FromRequestParts<App> for AsReceiver {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self, Self::Rejection> {
        let Caller(actor) = Caller::from_request_parts(parts, app).await?;
        Ok(AsReceiver(Registrar::for_receipt(&actor)?))
    }
}

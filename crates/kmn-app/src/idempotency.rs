//! `Idempotency-Key` for creating requests: the key is recorded **in the use case's own
//! transaction** (table `idempotency_keys`, primary key account × key), together with the
//! response it produced. A concurrent duplicate therefore cannot also commit: on
//! PostgreSQL its insert waits for the first transaction and then fails on the key, on
//! SQLite the write lock orders the two; either way the duplicate rolls back and is
//! answered with the stored response of the first.

use kmn_store::{StoreError, Tx};

use crate::actor::Actor;
use crate::{App, AppError};

/// A key to record with a use case's change, and how to render the response stored with
/// it (status and JSON text) from the use case's result.
pub struct Idempotency<'a, T> {
    /// The client's key (1–128 characters).
    pub key: String,
    /// SHA-256 (hex) of the request it was first used with.
    pub request_hash: String,
    /// The response the caller answers with.
    pub respond: &'a (dyn Fn(&T) -> (u16, String) + Send + Sync),
}

impl<T> Idempotency<'_, T> {
    async fn record(&self, tx: &mut Tx, actor: &Actor, v: &T, now: i64) -> Result<(), AppError> {
        let (status, body) = (self.respond)(v);
        tx.put_idempotency(
            &actor.account_id,
            &self.key,
            &self.request_hash,
            i64::from(status),
            &body,
            now,
        )
        .await
        .map_err(|e| match e {
            StoreError::Conflict(_) => {
                AppError::Conflict("同じ Idempotency-Key の要求が同時に処理されました".into())
            }
            other => other.into(),
        })
    }
}

/// The end of a use case that may carry a key: records it (when the change succeeded)
/// in the same transaction, then commits; rolls back on any error.
pub(crate) async fn finish_once<T>(
    mut tx: Tx,
    actor: &Actor,
    r: Result<T, AppError>,
    idem: Option<&Idempotency<'_, T>>,
    now: i64,
) -> Result<T, AppError> {
    let r = match (r, idem) {
        (Ok(v), Some(i)) => match i.record(&mut tx, actor, &v, now).await {
            Ok(()) => Ok(v),
            Err(e) => Err(e),
        },
        (r, _) => r,
    };
    crate::finish(tx, r).await
}

/// A response stored under a key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredResponse {
    /// SHA-256 (hex) of the request the key was first used with.
    pub request_hash: String,
    /// HTTP status.
    pub status: u16,
    /// JSON text.
    pub body: String,
}

/// The response stored under the caller's key, if any (a read: never takes the write lock).
pub async fn stored(
    app: &App,
    actor: &Actor,
    key: &str,
) -> Result<Option<StoredResponse>, AppError> {
    let mut tx = app.store.read().await?;
    let r = tx.idempotency(&actor.account_id, key).await;
    tx.rollback().await?;
    Ok(r?.map(|p| StoredResponse {
        request_hash: p.request_hash,
        status: u16::try_from(p.status).unwrap_or(200),
        body: p.body,
    }))
}

//! The registration authority (サポートセンター): facilities, people, applications and
//! review, cards, notices, documents and accounts, per the terms (第1–8・10・13–15・17・25条).

pub mod accounts;
pub mod applications;
pub mod documents;
pub mod facilities;
pub mod notify;
pub mod persons;

use kmn_store::Tx;

use crate::AppError;

/// Commits on success, rolls back on error.
pub(crate) async fn finish<T>(tx: Tx, r: Result<T, AppError>) -> Result<T, AppError> {
    match r {
        Ok(v) => {
            tx.commit().await?;
            Ok(v)
        }
        Err(e) => {
            let _ = tx.rollback().await;
            Err(e)
        }
    }
}

//! Notices on the association's home page (第24条): published in the repository,
//! withdrawn but never deleted.

use sqlx::FromRow;

use crate::{StoreError, Tx};

/// A home-page notice.
#[derive(Clone, Debug, PartialEq, Eq, FromRow, serde::Serialize)]
pub struct PublicNoticeRow {
    /// `K` and 8 digits.
    pub id: String,
    pub title: String,
    pub body: String,
    pub published_at: i64,
    pub published_by: String,
    pub withdrawn_at: Option<i64>,
    pub withdrawn_by: Option<String>,
    pub withdrawn_reason: Option<String>,
}

impl Tx {
    /// Records a new notice.
    pub async fn insert_public_notice(&mut self, n: &PublicNoticeRow) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO public_notices (id, title, body, published_at, published_by) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&n.id)
        .bind(&n.title)
        .bind(&n.body)
        .bind(n.published_at)
        .bind(&n.published_by)
        .execute(self.conn())
        .await?;
        Ok(())
    }

    /// One notice, withdrawn or not.
    pub async fn public_notice(&mut self, id: &str) -> Result<Option<PublicNoticeRow>, StoreError> {
        Ok(
            sqlx::query_as::<_, PublicNoticeRow>("SELECT * FROM public_notices WHERE id = $1")
                .bind(id)
                .fetch_optional(self.conn())
                .await?,
        )
    }

    /// The notices, newest first: only those in force, or also the withdrawn ones.
    pub async fn public_notices(
        &mut self,
        with_withdrawn: bool,
        limit: i64,
    ) -> Result<Vec<PublicNoticeRow>, StoreError> {
        let sql = if with_withdrawn {
            "SELECT * FROM public_notices ORDER BY published_at DESC, id DESC LIMIT $1"
        } else {
            "SELECT * FROM public_notices WHERE withdrawn_at IS NULL \
             ORDER BY published_at DESC, id DESC LIMIT $1"
        };
        Ok(sqlx::query_as::<_, PublicNoticeRow>(sql)
            .bind(limit)
            .fetch_all(self.conn())
            .await?)
    }

    /// Withdraws a notice in force; false when it is absent or already withdrawn.
    pub async fn withdraw_public_notice(
        &mut self,
        id: &str,
        at: i64,
        by: &str,
        reason: &str,
    ) -> Result<bool, StoreError> {
        let r = sqlx::query(
            "UPDATE public_notices SET withdrawn_at = $2, withdrawn_by = $3, withdrawn_reason = $4 \
             WHERE id = $1 AND withdrawn_at IS NULL",
        )
        .bind(id)
        .bind(at)
        .bind(by)
        .bind(reason)
        .execute(self.conn())
        .await?;
        Ok(r.rows_affected() == 1)
    }
}

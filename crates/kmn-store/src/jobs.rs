//! The database-backed job runner's storage (DESIGN §2): jobs are enqueued in the same
//! transaction as the change that needs them, claimed with a lease (compare-and-set on
//! state and lease), completed only by the lease holder, and retried after a failure or
//! an expired lease. A `dedup_key` makes enqueueing idempotent.

use sqlx::FromRow;

use crate::{StoreError, Tx};

/// A job.
#[derive(Clone, Debug, FromRow, serde::Serialize)]
pub struct JobRow {
    pub id: String,
    pub kind: String,
    pub payload: String,
    pub dedup_key: Option<String>,
    pub run_at: i64,
    pub state: String,
    pub lease_owner: Option<String>,
    pub lease_until: Option<i64>,
    pub attempts: i64,
    pub last_error: Option<String>,
    pub created_at: i64,
    pub finished_at: Option<i64>,
}

impl Tx {
    /// Enqueues a job; with a `dedup_key` already present, nothing is added (returns false).
    pub async fn enqueue_job(
        &mut self,
        id: &str,
        kind: &str,
        payload: &str,
        run_at: i64,
        dedup_key: Option<&str>,
        now: i64,
    ) -> Result<bool, StoreError> {
        if let Some(k) = dedup_key {
            let exists = sqlx::query("SELECT 1 FROM jobs WHERE dedup_key = $1")
                .bind(k)
                .fetch_optional(self.conn())
                .await?;
            if exists.is_some() {
                return Ok(false);
            }
        }
        sqlx::query(
            "INSERT INTO jobs (id, kind, payload, dedup_key, run_at, state, attempts, created_at) VALUES ($1,$2,$3,$4,$5,'pending',0,$6)",
        )
        .bind(id)
        .bind(kind)
        .bind(payload)
        .bind(dedup_key)
        .bind(run_at)
        .bind(now)
        .execute(self.conn())
        .await?;
        Ok(true)
    }

    /// Claims up to `limit` due jobs for `owner` until `now + lease_secs`: pending jobs
    /// whose time has come, and running jobs whose lease expired (their worker died).
    pub async fn claim_jobs(
        &mut self,
        owner: &str,
        now: i64,
        lease_secs: i64,
        limit: i64,
    ) -> Result<Vec<JobRow>, StoreError> {
        let candidates = sqlx::query_as::<_, JobRow>(
            "SELECT * FROM jobs WHERE (state = 'pending' AND run_at <= $1) OR (state = 'running' AND lease_until < $1) \
             ORDER BY run_at, id LIMIT $2",
        )
        .bind(now)
        .bind(limit)
        .fetch_all(self.conn())
        .await?;
        let mut claimed = Vec::new();
        for j in candidates {
            let update = sqlx::query(
                "UPDATE jobs SET state = 'running', lease_owner = $2, lease_until = $3, attempts = attempts + 1 \
                 WHERE id = $1 AND ((state = 'pending' AND run_at <= $4) OR (state = 'running' AND lease_until < $4))",
            )
            .bind(&j.id)
            .bind(owner)
            .bind(now + lease_secs)
            .bind(now);
            if self.compare_and_set(update).await? {
                claimed.push(JobRow {
                    state: "running".into(),
                    lease_owner: Some(owner.into()),
                    lease_until: Some(now + lease_secs),
                    attempts: j.attempts + 1,
                    ..j
                });
            }
        }
        Ok(claimed)
    }

    /// Marks a job done; only the current lease holder can (false otherwise).
    pub async fn complete_job(
        &mut self,
        id: &str,
        owner: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        let update = sqlx::query(
            "UPDATE jobs SET state = 'done', finished_at = $3, lease_owner = NULL, lease_until = NULL \
             WHERE id = $1 AND state = 'running' AND lease_owner = $2",
        )
        .bind(id)
        .bind(owner)
        .bind(now);
        self.compare_and_set(update).await
    }

    /// Records a failure; the job runs again at `retry_at` (or fails for good after 10
    /// attempts).
    pub async fn fail_job(
        &mut self,
        id: &str,
        owner: &str,
        error: &str,
        retry_at: i64,
    ) -> Result<bool, StoreError> {
        let update = sqlx::query(
            "UPDATE jobs SET state = CASE WHEN attempts >= 10 THEN 'failed' ELSE 'pending' END, run_at = $4, last_error = $3, \
             lease_owner = NULL, lease_until = NULL WHERE id = $1 AND state = 'running' AND lease_owner = $2",
        )
        .bind(id)
        .bind(owner)
        .bind(error)
        .bind(retry_at);
        self.compare_and_set(update).await
    }

    /// Jobs of a kind (for tests and the operator's view).
    pub async fn jobs_of_kind(&mut self, kind: &str) -> Result<Vec<JobRow>, StoreError> {
        Ok(sqlx::query_as::<_, JobRow>(
            "SELECT * FROM jobs WHERE kind = $1 ORDER BY created_at, id",
        )
        .bind(kind)
        .fetch_all(self.conn())
        .await?)
    }
}

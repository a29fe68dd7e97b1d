//! Proposals of dual control (issue 9 item 1): one row per proposal; a decision is a
//! compare-and-set on `state` (zero rows: someone decided first, a typed conflict).

use sqlx::FromRow;

use crate::{StoreError, Tx};

/// A proposal.
#[derive(Clone, Debug, FromRow, serde::Serialize)]
pub struct ProposalRow {
    pub id: String,
    pub kind: String,
    /// Canonical JSON.
    pub payload: String,
    pub content_sha256: String,
    pub state: String,
    pub proposed_by: String,
    pub proposed_by_person: String,
    pub proposed_at: i64,
    pub expires_at: i64,
    pub decided_by: Option<String>,
    pub decided_by_person: Option<String>,
    pub decided_at: Option<i64>,
    pub note: Option<String>,
}

/// A decision on a proposal.
#[derive(Clone, Copy, Debug)]
pub struct ProposalDecision<'a> {
    pub id: &'a str,
    /// The state it must still be in (`proposed`).
    pub from: &'a str,
    /// `approved`, `rejected` or `expired`.
    pub to: &'a str,
    pub by: Option<&'a str>,
    pub by_person: Option<&'a str>,
    pub at: i64,
    pub note: Option<&'a str>,
}

impl Tx {
    /// Inserts a proposal.
    pub async fn insert_proposal(&mut self, p: &ProposalRow) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO proposals (id, kind, payload, content_sha256, state, proposed_by, proposed_by_person, \
             proposed_at, expires_at, decided_by, decided_by_person, decided_at, note) \
             VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13)",
        )
        .bind(&p.id)
        .bind(&p.kind)
        .bind(&p.payload)
        .bind(&p.content_sha256)
        .bind(&p.state)
        .bind(&p.proposed_by)
        .bind(&p.proposed_by_person)
        .bind(p.proposed_at)
        .bind(p.expires_at)
        .bind(&p.decided_by)
        .bind(&p.decided_by_person)
        .bind(p.decided_at)
        .bind(&p.note)
        .execute(self.conn())
        .await?;
        Ok(())
    }

    /// A proposal by id.
    pub async fn proposal(&mut self, id: &str) -> Result<Option<ProposalRow>, StoreError> {
        Ok(
            sqlx::query_as::<_, ProposalRow>("SELECT * FROM proposals WHERE id = $1")
                .bind(id)
                .fetch_optional(self.conn())
                .await?,
        )
    }

    /// Decides a proposal, compare-and-set on its state: `Conflict` when it is no longer
    /// in `from`.
    pub async fn decide_proposal(&mut self, d: &ProposalDecision<'_>) -> Result<(), StoreError> {
        let n = sqlx::query(
            "UPDATE proposals SET state = $1, decided_by = $2, decided_by_person = $3, decided_at = $4, note = $5 \
             WHERE id = $6 AND state = $7",
        )
        .bind(d.to)
        .bind(d.by)
        .bind(d.by_person)
        .bind(d.at)
        .bind(d.note)
        .bind(d.id)
        .bind(d.from)
        .execute(self.conn())
        .await?
        .rows_affected();
        if n == 0 {
            return Err(StoreError::Conflict(format!(
                "proposal {} is no longer {}",
                d.id, d.from
            )));
        }
        Ok(())
    }

    /// The person bound to an account (its own id for an account made before persons
    /// were recorded); `None` when no account has that id (e.g. a local CLI name).
    pub async fn person_of_account(&mut self, id: &str) -> Result<Option<String>, StoreError> {
        let r: Option<(Option<String>,)> =
            sqlx::query_as("SELECT person_id FROM accounts WHERE id = $1")
                .bind(id)
                .fetch_optional(self.conn())
                .await?;
        Ok(r.map(|(p,)| p.unwrap_or_else(|| id.to_string())))
    }
}

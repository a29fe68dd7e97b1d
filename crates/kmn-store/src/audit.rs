//! The hash-chained audit log (DESIGN §8, MHLW guideline G1): every state change appends
//! an event whose hash covers its fields, its sequence number and the previous event's
//! hash. [`crate::Store::verify_audit`] detects an edited, deleted, inserted or reordered
//! event, and a truncated tail (the head row keeps the last sequence number and hash).

use sha2::{Digest, Sha256};
use sqlx::Row;

use crate::{Store, StoreError, Tx};

/// The hash before the first event.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// An event to append.
#[derive(Clone, Debug)]
pub struct NewAuditEvent<'a> {
    /// When (UTC Unix seconds).
    pub at: i64,
    /// Who: an account, a certificate fingerprint, `cli:<user>`, `system`.
    pub actor: &'a str,
    /// What, as a stable dotted name: `ca.init`, `cert.issue`, `cert.revoke`, `crl.publish`.
    pub action: &'a str,
    /// On what: `cert:<serial>`, `ca:<name>`, `crl:<ca>/<number>`.
    pub object: &'a str,
    /// The facility concerned, if any.
    pub facility: Option<&'a str>,
    /// A one-line summary (no PINs, no secrets).
    pub summary: &'a str,
}

/// A stored event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditEvent {
    /// Sequence number, from 1, without gaps.
    pub seq: i64,
    /// When.
    pub at: i64,
    /// Who.
    pub actor: String,
    /// What.
    pub action: String,
    /// On what.
    pub object: String,
    /// Facility.
    pub facility: Option<String>,
    /// Summary.
    pub summary: String,
    /// Previous event's hash.
    pub prev_hash: String,
    /// This event's hash.
    pub hash: String,
}

/// The outcome of a verification.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditReport {
    /// Events checked.
    pub events: i64,
    /// The head hash.
    pub head: String,
    /// The first problem found, if any.
    pub problem: Option<String>,
}

/// The hash of an event: SHA-256 over a canonical JSON array of its fields.
pub fn event_hash(seq: i64, e: &NewAuditEvent<'_>, prev_hash: &str) -> String {
    let canonical = serde_json::to_vec(&(
        seq, e.at, e.actor, e.action, e.object, e.facility, e.summary, prev_hash,
    ))
    .expect("serialising strings and integers cannot fail");
    hex::encode(Sha256::digest(canonical))
}

impl Tx {
    /// Appends an event inside the caller's transaction; returns its sequence number.
    /// The head row is updated first, which serialises appenders (row lock in
    /// PostgreSQL, the write lock in SQLite).
    pub async fn append_audit(&mut self, e: &NewAuditEvent<'_>) -> Result<i64, StoreError> {
        sqlx::query("UPDATE audit_head SET seq = seq + 1 WHERE id = 1")
            .execute(self.conn())
            .await?;
        let head = sqlx::query("SELECT seq, hash FROM audit_head WHERE id = 1")
            .fetch_one(self.conn())
            .await?;
        let seq: i64 = head.get(0);
        let prev: String = head.get(1);
        let hash = event_hash(seq, e, &prev);
        sqlx::query(
            "INSERT INTO audit_events (seq, at, actor, action, object, facility, summary, prev_hash, hash) \
             VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9)",
        )
        .bind(seq)
        .bind(e.at)
        .bind(e.actor)
        .bind(e.action)
        .bind(e.object)
        .bind(e.facility)
        .bind(e.summary)
        .bind(&prev)
        .bind(&hash)
        .execute(self.conn())
        .await?;
        sqlx::query("UPDATE audit_head SET hash = $1 WHERE id = 1")
            .bind(&hash)
            .execute(self.conn())
            .await?;
        Ok(seq)
    }

    /// Appends many events in one go: the head is taken once for the whole batch and the
    /// events are written with multi-row INSERTs (group issuance). Same chain as
    /// [`Tx::append_audit`] one by one.
    pub async fn append_audit_batch(
        &mut self,
        events: &[NewAuditEvent<'_>],
    ) -> Result<(), StoreError> {
        if events.is_empty() {
            return Ok(());
        }
        sqlx::query("UPDATE audit_head SET seq = seq + $1 WHERE id = 1")
            .bind(events.len() as i64)
            .execute(self.conn())
            .await?;
        let head = sqlx::query("SELECT seq, hash FROM audit_head WHERE id = 1")
            .fetch_one(self.conn())
            .await?;
        let last_seq: i64 = head.get(0);
        let mut prev: String = head.get(1);
        let first = last_seq - events.len() as i64 + 1;
        let mut rows = Vec::with_capacity(events.len());
        for (i, e) in events.iter().enumerate() {
            let seq = first + i as i64;
            let hash = event_hash(seq, e, &prev);
            rows.push((seq, prev.clone(), hash.clone()));
            prev = hash;
        }
        for (chunk_e, chunk_r) in events.chunks(100).zip(rows.chunks(100)) {
            let sql = format!(
                "INSERT INTO audit_events (seq, at, actor, action, object, facility, summary, prev_hash, hash) VALUES {}",
                crate::placeholders(chunk_e.len(), 9)
            );
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for (e, (seq, p, h)) in chunk_e.iter().zip(chunk_r) {
                q = q
                    .bind(*seq)
                    .bind(e.at)
                    .bind(e.actor)
                    .bind(e.action)
                    .bind(e.object)
                    .bind(e.facility)
                    .bind(e.summary)
                    .bind(p.as_str())
                    .bind(h.as_str());
            }
            q.execute(self.conn()).await?;
        }
        sqlx::query("UPDATE audit_head SET hash = $1 WHERE id = 1")
            .bind(&prev)
            .execute(self.conn())
            .await?;
        Ok(())
    }

    /// Events in order (for reports and tests), optionally filtered by action.
    pub async fn audit_events(
        &mut self,
        action: Option<&str>,
    ) -> Result<Vec<AuditEvent>, StoreError> {
        let rows = match action {
            Some(a) => {
                sqlx::query("SELECT * FROM audit_events WHERE action = $1 ORDER BY seq")
                    .bind(a)
                    .fetch_all(self.conn())
                    .await?
            }
            None => {
                sqlx::query("SELECT * FROM audit_events ORDER BY seq")
                    .fetch_all(self.conn())
                    .await?
            }
        };
        Ok(rows
            .iter()
            .map(|r| AuditEvent {
                seq: r.get("seq"),
                at: r.get("at"),
                actor: r.get("actor"),
                action: r.get("action"),
                object: r.get("object"),
                facility: r.get("facility"),
                summary: r.get("summary"),
                prev_hash: r.get("prev_hash"),
                hash: r.get("hash"),
            })
            .collect())
    }
}

impl Store {
    /// Walks the whole chain and reports the first break.
    pub async fn verify_audit(&self) -> Result<AuditReport, StoreError> {
        let mut tx = self.begin().await?;
        let events = tx.audit_events(None).await?;
        let head = sqlx::query("SELECT seq, hash FROM audit_head WHERE id = 1")
            .fetch_one(tx.conn())
            .await?;
        tx.rollback().await?;
        let (head_seq, head_hash): (i64, String) = (head.get(0), head.get(1));
        let mut prev = GENESIS.to_string();
        let mut problem = None;
        for (i, e) in events.iter().enumerate() {
            let expected_seq = i as i64 + 1;
            if e.seq != expected_seq {
                problem = Some(format!(
                    "event {expected_seq} is missing (the next stored event is {}): an event was deleted",
                    e.seq
                ));
                break;
            }
            if e.prev_hash != prev {
                problem = Some(format!(
                    "event {} does not follow event {}: events were deleted, inserted or reordered",
                    e.seq,
                    e.seq - 1
                ));
                break;
            }
            let fields = NewAuditEvent {
                at: e.at,
                actor: &e.actor,
                action: &e.action,
                object: &e.object,
                facility: e.facility.as_deref(),
                summary: &e.summary,
            };
            let h = event_hash(e.seq, &fields, &e.prev_hash);
            if h != e.hash {
                problem = Some(format!(
                    "event {} ({} on {}) was altered: its content does not match its hash",
                    e.seq, e.action, e.object
                ));
                break;
            }
            prev = e.hash.clone();
        }
        if problem.is_none() && (head_seq != events.len() as i64 || head_hash != prev) {
            problem = Some(format!(
                "the log ends at event {} but {} events were written: events at the end were deleted",
                events.len(),
                head_seq
            ));
        }
        Ok(AuditReport {
            events: events.len() as i64,
            head: head_hash,
            problem,
        })
    }
}

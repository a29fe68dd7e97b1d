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

    /// How many events of `action` by `actor` since `since` (an alert's count).
    pub async fn count_audit_events_since(
        &mut self,
        action: &str,
        actor: &str,
        since: i64,
    ) -> Result<i64, StoreError> {
        Ok(sqlx::query(
            "SELECT COUNT(*) FROM audit_events WHERE action = $1 AND actor = $2 AND at >= $3",
        )
        .bind(action)
        .bind(actor)
        .bind(since)
        .fetch_one(self.conn())
        .await?
        .get::<i64, _>(0))
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
        Ok(rows.iter().map(event_row).collect())
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

/// A signed checkpoint of the chain, as kept in the database (the file outside the
/// database is the authority; see kmn-app's `audit` module).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckpointRow {
    /// 1, 2, 3 …
    pub number: i64,
    /// The last event's sequence number when it was signed.
    pub event_seq: i64,
    /// That event's hash (hex).
    pub head_hash: String,
    /// When it was signed (Unix seconds).
    pub signed_at: i64,
    /// SHA-256 (hex) of the previous checkpoint's file.
    pub previous_sha256: String,
    /// SHA-256 (hex) of this checkpoint's file.
    pub sha256: String,
    /// The audit signer's name (`cas.name`).
    pub signer: String,
    /// The CMS SignedData (DER).
    pub der: Vec<u8>,
}

/// One read of personal data (`access_log`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccessRow {
    /// Row id.
    pub id: i64,
    /// When.
    pub at: i64,
    /// The account that read.
    pub account_id: String,
    /// Its role.
    pub role: String,
    /// `read`, `list`, …
    pub action: String,
    /// What was read.
    pub object: String,
    /// The facility concerned.
    pub facility: Option<String>,
}

/// The SHA-256 (hex) of a batch of access-log rows: over a canonical JSON array of
/// `[id, at, account_id, role, action, object, facility]` arrays, in id order.
pub fn access_batch_hash(rows: &[AccessRow]) -> String {
    let v: Vec<_> = rows
        .iter()
        .map(|r| {
            (
                r.id,
                r.at,
                &r.account_id,
                &r.role,
                &r.action,
                &r.object,
                &r.facility,
            )
        })
        .collect();
    let canonical = serde_json::to_vec(&v).expect("serialising strings and integers cannot fail");
    hex::encode(Sha256::digest(canonical))
}

/// The audit action of a seal of the access log.
pub const SEAL_ACTION: &str = "access_log.seal";

/// What a seal did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sealed {
    /// The seal's audit event.
    pub audit_seq: i64,
    /// Rows sealed.
    pub rows: i64,
    /// Their hash.
    pub hash: String,
}

/// The outcome of checking the seals of the access log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SealReport {
    /// Seal events in the chain.
    pub seals: i64,
    /// Rows they cover.
    pub sealed_rows: i64,
    /// Rows not sealed yet.
    pub unsealed_rows: i64,
    /// The first problem found, if any.
    pub problem: Option<String>,
}

fn access_row(r: &sqlx::any::AnyRow) -> AccessRow {
    AccessRow {
        id: r.get("id"),
        at: r.get("at"),
        account_id: r.get("account_id"),
        role: r.get("role"),
        action: r.get("action"),
        object: r.get("object"),
        facility: r.get("facility_code"),
    }
}

fn checkpoint_row(r: &sqlx::any::AnyRow) -> CheckpointRow {
    CheckpointRow {
        number: r.get("number"),
        event_seq: r.get("event_seq"),
        head_hash: r.get("head_hash"),
        signed_at: r.get("signed_at"),
        previous_sha256: r.get("previous_sha256"),
        sha256: r.get("sha256"),
        signer: r.get("signer"),
        der: r.get("der"),
    }
}

impl AuditEvent {
    /// Recomputes this event's hash from its fields.
    pub fn recomputed_hash(&self) -> String {
        let fields = NewAuditEvent {
            at: self.at,
            actor: &self.actor,
            action: &self.action,
            object: &self.object,
            facility: self.facility.as_deref(),
            summary: &self.summary,
        };
        event_hash(self.seq, &fields, &self.prev_hash)
    }
}

/// One `audit_events` row (`SELECT *`).
pub(crate) fn event_row(r: &sqlx::any::AnyRow) -> AuditEvent {
    AuditEvent {
        seq: r.get("seq"),
        at: r.get("at"),
        actor: r.get("actor"),
        action: r.get("action"),
        object: r.get("object"),
        facility: r.get("facility"),
        summary: r.get("summary"),
        prev_hash: r.get("prev_hash"),
        hash: r.get("hash"),
    }
}

impl Tx {
    /// The head row: the last sequence number and hash.
    pub async fn audit_head(&mut self) -> Result<(i64, String), StoreError> {
        let head = sqlx::query("SELECT seq, hash FROM audit_head WHERE id = 1")
            .fetch_one(self.conn())
            .await?;
        Ok((head.get(0), head.get(1)))
    }

    /// The events after `seq`, in order.
    pub async fn audit_events_after(&mut self, seq: i64) -> Result<Vec<AuditEvent>, StoreError> {
        let rows = sqlx::query("SELECT * FROM audit_events WHERE seq > $1 ORDER BY seq")
            .bind(seq)
            .fetch_all(self.conn())
            .await?;
        Ok(rows.iter().map(event_row).collect())
    }

    /// One event.
    pub async fn audit_event(&mut self, seq: i64) -> Result<Option<AuditEvent>, StoreError> {
        let row = sqlx::query("SELECT * FROM audit_events WHERE seq = $1")
            .bind(seq)
            .fetch_optional(self.conn())
            .await?;
        Ok(row.as_ref().map(event_row))
    }

    /// The sequence number of the last event with this action (0 when none).
    pub async fn last_event_seq_of(&mut self, action: &str) -> Result<i64, StoreError> {
        let row = sqlx::query("SELECT MAX(seq) FROM audit_events WHERE action = $1")
            .bind(action)
            .fetch_one(self.conn())
            .await?;
        Ok(row.get::<Option<i64>, _>(0).unwrap_or(0))
    }

    /// The last checkpoint recorded in the database.
    pub async fn last_checkpoint(&mut self) -> Result<Option<CheckpointRow>, StoreError> {
        let row = sqlx::query("SELECT * FROM audit_checkpoints ORDER BY number DESC LIMIT 1")
            .fetch_optional(self.conn())
            .await?;
        Ok(row.as_ref().map(checkpoint_row))
    }

    /// Records a checkpoint. Its number is the primary key: a number another instance
    /// took meanwhile is a [`StoreError::Conflict`].
    pub async fn insert_checkpoint(&mut self, c: &CheckpointRow) -> Result<(), StoreError> {
        let taken = sqlx::query("SELECT COUNT(*) FROM audit_checkpoints WHERE number = $1")
            .bind(c.number)
            .fetch_one(self.conn())
            .await?
            .get::<i64, _>(0);
        if taken > 0 {
            return Err(StoreError::Conflict(format!(
                "audit checkpoint {} was made meanwhile",
                c.number
            )));
        }
        sqlx::query(
            "INSERT INTO audit_checkpoints (number, event_seq, head_hash, signed_at, previous_sha256, sha256, signer, der) \
             VALUES ($1,$2,$3,$4,$5,$6,$7,$8)",
        )
        .bind(c.number)
        .bind(c.event_seq)
        .bind(&c.head_hash)
        .bind(c.signed_at)
        .bind(&c.previous_sha256)
        .bind(&c.sha256)
        .bind(&c.signer)
        .bind(&c.der)
        .execute(self.conn())
        .await?;
        Ok(())
    }

    /// Seals up to `max` reads of personal data not sealed yet into the chain: one
    /// [`SEAL_ACTION`] event carrying their count, id range and hash
    /// ([`access_batch_hash`]), and a row per read in `access_log_seals`. Reads never
    /// touch the chain themselves, so they never wait for its head; a read that commits
    /// after this one's snapshot is sealed by the next. None when nothing is unsealed.
    pub async fn seal_access_log(
        &mut self,
        at: i64,
        actor: &str,
        max: i64,
    ) -> Result<Option<Sealed>, StoreError> {
        let rows = sqlx::query(
            "SELECT a.* FROM access_log a WHERE NOT EXISTS \
             (SELECT 1 FROM access_log_seals s WHERE s.log_id = a.id) ORDER BY a.id LIMIT $1",
        )
        .bind(max)
        .fetch_all(self.conn())
        .await?;
        if rows.is_empty() {
            return Ok(None);
        }
        let rows: Vec<AccessRow> = rows.iter().map(access_row).collect();
        let hash = access_batch_hash(&rows);
        let (first, last) = (
            rows.first().map(|r| r.id).unwrap_or_default(),
            rows.last().map(|r| r.id).unwrap_or_default(),
        );
        let seq = self
            .append_audit(&NewAuditEvent {
                at,
                actor,
                action: SEAL_ACTION,
                object: &format!("access_log:{first}-{last}"),
                facility: None,
                summary: &format!(
                    "{} reads of personal data sealed (access_log ids {first} to {last}), SHA-256 {hash}",
                    rows.len()
                ),
            })
            .await?;
        for chunk in rows.chunks(200) {
            let sql = format!(
                "INSERT INTO access_log_seals (log_id, audit_seq) VALUES {}",
                crate::placeholders(chunk.len(), 2)
            );
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for r in chunk {
                q = q.bind(r.id).bind(seq);
            }
            q.execute(self.conn()).await?;
        }
        Ok(Some(Sealed {
            audit_seq: seq,
            rows: rows.len() as i64,
            hash,
        }))
    }
}

impl Store {
    /// Checks every seal of the access log: the rows each seal event covers still hash
    /// to what the event (in the chain) says, none is missing, and no row claims a seal
    /// the chain does not have. Counts the rows not sealed yet.
    pub async fn verify_access_seals(&self) -> Result<SealReport, StoreError> {
        let mut tx = self.read().await?;
        let seals = tx.audit_events(Some(SEAL_ACTION)).await?;
        let rows = sqlx::query(
            "SELECT s.audit_seq AS audit_seq, s.log_id AS log_id, a.id AS id, a.at AS at, a.account_id AS account_id, \
             a.role AS role, a.action AS action, a.object AS object, a.facility_code AS facility_code \
             FROM access_log_seals s LEFT JOIN access_log a ON a.id = s.log_id ORDER BY s.audit_seq, s.log_id",
        )
        .fetch_all(tx.conn())
        .await?;
        let unsealed: i64 = sqlx::query(
            "SELECT COUNT(*) FROM access_log a WHERE NOT EXISTS \
             (SELECT 1 FROM access_log_seals s WHERE s.log_id = a.id)",
        )
        .fetch_one(tx.conn())
        .await?
        .get(0);
        tx.rollback().await?;
        let mut by_seal: std::collections::BTreeMap<i64, Vec<AccessRow>> = Default::default();
        let mut problem = None;
        for r in &rows {
            let seq: i64 = r.get("audit_seq");
            let log_id: i64 = r.get("log_id");
            if r.get::<Option<i64>, _>("id").is_none() {
                problem.get_or_insert(format!(
                    "access_log row {log_id}, sealed by audit event {seq}, was deleted"
                ));
                continue;
            }
            by_seal.entry(seq).or_default().push(access_row(r));
        }
        let mut sealed_rows = 0;
        for e in &seals {
            let got = by_seal.remove(&e.seq).unwrap_or_default();
            sealed_rows += got.len() as i64;
            let want_hash = e.summary.rsplit("SHA-256 ").next().unwrap_or_default();
            let want_rows: i64 = e
                .summary
                .split(' ')
                .next()
                .and_then(|n| n.parse().ok())
                .unwrap_or(-1);
            if problem.is_none()
                && (got.len() as i64 != want_rows || access_batch_hash(&got) != want_hash)
            {
                problem = Some(format!(
                    "the reads sealed by audit event {} ({}) were altered or deleted: they no longer match the seal's hash",
                    e.seq, e.object
                ));
            }
        }
        if problem.is_none()
            && let Some((seq, v)) = by_seal.into_iter().next()
        {
            problem = Some(format!(
                "{} access_log rows claim a seal (audit event {seq}) that the chain does not have",
                v.len()
            ));
        }
        Ok(SealReport {
            seals: seals.len() as i64,
            sealed_rows,
            unsealed_rows: unsealed,
            problem,
        })
    }
}

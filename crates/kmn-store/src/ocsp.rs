//! Pre-signed OCSP responses (issue 10 item 5): what the signer loop must (re)sign, the
//! upsert of a signed response, and the lookup of the request path (a read, never a
//! write: the responder never takes SQLite's write lock).

use sqlx::Row;

use crate::{StoreError, Tx};

/// A certificate whose OCSP responses must be (re)signed: none yet, its status changed
/// since, or half their validity gone.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OcspDue {
    /// Serial, lowercase hex.
    pub serial_hex: String,
    /// The issuing CA.
    pub ca_name: String,
    /// `valid`, `on_hold` or `revoked`.
    pub status: String,
    /// RFC 5280 reason code (revoked or on hold).
    pub reason: Option<i32>,
    /// revocationTime (revoked), or when the hold was placed (`updated_at`).
    pub revoked_at: Option<i64>,
    /// `cert_status.updated_at`: the version the response is built from.
    pub status_version: i64,
}

/// A response signed for one certificate and one CertID hash.
#[derive(Clone, Debug)]
pub struct OcspResponseRow<'a> {
    /// Serial, lowercase hex.
    pub serial_hex: &'a str,
    /// `sha1` or `sha256`.
    pub hash_alg: &'a str,
    /// The issuing CA.
    pub ca_name: &'a str,
    /// The certificate's status it was built from (`valid`, `on_hold`, `revoked`):
    /// with `status_version`, what tells a stale response (two changes within one
    /// second have the same `updated_at`).
    pub status: &'a str,
    /// The `cert_status.updated_at` it was built from.
    pub status_version: i64,
    /// The DER `OCSPResponse`.
    pub der: &'a [u8],
    /// producedAt.
    pub produced_at: i64,
    /// thisUpdate.
    pub this_update: i64,
    /// nextUpdate.
    pub next_update: i64,
    /// When to sign it again (half its validity).
    pub refresh_at: i64,
    /// The OCSP signer's CA record name.
    pub signer: &'a str,
    /// When it is written (Unix seconds).
    pub stored_at: i64,
}

/// A stored response, as the request path reads it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredOcspResponse {
    /// The DER `OCSPResponse`.
    pub der: Vec<u8>,
    /// nextUpdate.
    pub next_update: i64,
    /// The certificate's status it was built from (`valid`, `on_hold`, `revoked`).
    pub status: String,
}

/// The first six columns of the `ocsp_due` queries: serial, CA, status, reason,
/// revocation time, `updated_at`.
fn due_from_row(r: &sqlx::any::AnyRow) -> OcspDue {
    OcspDue {
        serial_hex: r.get(0),
        ca_name: r.get(1),
        status: r.get(2),
        reason: r.get(3),
        revoked_at: r.get(4),
        status_version: r.get(5),
    }
}

impl Tx {
    /// Up to `limit` end-entity certificates of `ca_names` (issuing CAs), not expired at
    /// `now`, whose responses are missing, stale (status changed) or due for refresh.
    pub async fn ocsp_due(
        &mut self,
        ca_name: &str,
        now: i64,
        limit: i64,
    ) -> Result<Vec<OcspDue>, StoreError> {
        let rows = sqlx::query(
            "SELECT s.serial_hex, s.ca_name, s.status, s.reason, s.revoked_at, s.updated_at \
             FROM cert_status s JOIN certificates c ON c.serial_hex = s.serial_hex \
             LEFT JOIN ocsp_responses r ON r.serial_hex = s.serial_hex AND r.hash_alg = 'sha256' \
             WHERE s.ca_name = $1 AND s.not_after > $2 \
               AND c.profile NOT IN ('root', 'issuing-ca') \
               AND (r.serial_hex IS NULL OR r.status <> s.status OR r.status_version <> s.updated_at \
                    OR r.refresh_at <= $2) \
             ORDER BY s.updated_at LIMIT $3",
        )
        .bind(ca_name)
        .bind(now)
        .bind(limit)
        .fetch_all(self.conn())
        .await?;
        Ok(rows.iter().map(due_from_row).collect())
    }

    /// End-entity certificates of `ca_name`, not expired at `now`, whose status changed
    /// (or which were issued) at or after `since`, oldest first, at most `limit` — each
    /// with whether its stored SHA-256 response is missing or stale. An index range on
    /// `(ca_name, updated_at)`, not a scan of every certificate.
    pub async fn ocsp_changed_since(
        &mut self,
        ca_name: &str,
        since: i64,
        now: i64,
        limit: i64,
    ) -> Result<Vec<(OcspDue, bool)>, StoreError> {
        let rows = sqlx::query(
            "SELECT s.serial_hex, s.ca_name, s.status, s.reason, s.revoked_at, s.updated_at, \
                    r.status, r.status_version \
             FROM cert_status s JOIN certificates c ON c.serial_hex = s.serial_hex \
             LEFT JOIN ocsp_responses r ON r.serial_hex = s.serial_hex AND r.hash_alg = 'sha256' \
             WHERE s.ca_name = $1 AND s.updated_at >= $2 AND s.not_after > $3 \
               AND c.profile NOT IN ('root', 'issuing-ca') \
             ORDER BY s.updated_at LIMIT $4",
        )
        .bind(ca_name)
        .bind(since)
        .bind(now)
        .bind(limit)
        .fetch_all(self.conn())
        .await?;
        Ok(rows
            .iter()
            .map(|r| {
                let due = due_from_row(r);
                let stored_status: Option<String> = r.get(6);
                let stored_version: Option<i64> = r.get(7);
                let stale = stored_status.as_deref() != Some(due.status.as_str())
                    || stored_version != Some(due.status_version);
                (due, stale)
            })
            .collect())
    }

    /// Certificates of `ca_name` whose responses are due for their half-way refresh
    /// (the index on `refresh_at`), not expired at `now`, at most `limit`.
    pub async fn ocsp_refresh_due(
        &mut self,
        ca_name: &str,
        now: i64,
        limit: i64,
    ) -> Result<Vec<OcspDue>, StoreError> {
        let rows = sqlx::query(
            "SELECT s.serial_hex, s.ca_name, s.status, s.reason, s.revoked_at, s.updated_at \
             FROM ocsp_responses r JOIN cert_status s ON s.serial_hex = r.serial_hex \
             WHERE r.hash_alg = 'sha256' AND r.refresh_at <= $2 AND r.ca_name = $1 \
               AND s.not_after > $2 \
             ORDER BY r.refresh_at LIMIT $3",
        )
        .bind(ca_name)
        .bind(now)
        .bind(limit)
        .fetch_all(self.conn())
        .await?;
        Ok(rows.iter().map(due_from_row).collect())
    }

    /// Stores a signed response, replacing the one it renews — unless a response built
    /// from a newer status is already there (another instance signed it first): the
    /// newest status always wins. Returns whether it was written.
    pub async fn put_ocsp_response(&mut self, r: &OcspResponseRow<'_>) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "INSERT INTO ocsp_responses (serial_hex, hash_alg, ca_name, status, status_version, der, \
             produced_at, this_update, next_update, refresh_at, signer, stored_at) \
             VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12) \
             ON CONFLICT (serial_hex, hash_alg) DO UPDATE SET ca_name = excluded.ca_name, \
             status = excluded.status, status_version = excluded.status_version, der = excluded.der, \
             produced_at = excluded.produced_at, this_update = excluded.this_update, \
             next_update = excluded.next_update, refresh_at = excluded.refresh_at, signer = excluded.signer, \
             stored_at = excluded.stored_at \
             WHERE ocsp_responses.status_version <= excluded.status_version",
        )
        .bind(r.serial_hex)
        .bind(r.hash_alg)
        .bind(r.ca_name)
        .bind(r.status)
        .bind(r.status_version)
        .bind(r.der)
        .bind(r.produced_at)
        .bind(r.this_update)
        .bind(r.next_update)
        .bind(r.refresh_at)
        .bind(r.signer)
        .bind(r.stored_at)
        .execute(self.conn())
        .await?;
        Ok(done.rows_affected() > 0)
    }

    /// The certificates whose responses were stored at or after `since`: what an instance
    /// drops from its in-memory cache, whoever signed them.
    pub async fn ocsp_signed_since(&mut self, since: i64) -> Result<Vec<String>, StoreError> {
        let rows =
            sqlx::query("SELECT DISTINCT serial_hex FROM ocsp_responses WHERE stored_at >= $1")
                .bind(since)
                .fetch_all(self.conn())
                .await?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    }

    /// The stored response for a certificate and CertID hash.
    pub async fn ocsp_response(
        &mut self,
        serial_hex: &str,
        hash_alg: &str,
    ) -> Result<Option<StoredOcspResponse>, StoreError> {
        let row = sqlx::query(
            "SELECT der, next_update, status FROM ocsp_responses WHERE serial_hex = $1 AND hash_alg = $2",
        )
        .bind(serial_hex)
        .bind(hash_alg)
        .fetch_optional(self.conn())
        .await?;
        Ok(row.map(|r| StoredOcspResponse {
            der: r.get(0),
            next_update: r.get(1),
            status: r.get(2),
        }))
    }

    /// Whether this CA issued an end-entity certificate with this serial (the request
    /// path tells `tryLater` — issued, response not signed yet — from `unauthorized`).
    pub async fn issued_end_entity(
        &mut self,
        ca_name: &str,
        serial_hex: &str,
    ) -> Result<bool, StoreError> {
        Ok(sqlx::query(
            "SELECT 1 FROM certificates WHERE serial_hex = $1 AND ca_name = $2 \
             AND profile NOT IN ('root', 'issuing-ca')",
        )
        .bind(serial_hex)
        .bind(ca_name)
        .fetch_optional(self.conn())
        .await?
        .is_some())
    }
}

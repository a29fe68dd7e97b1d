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

/// A response signed inside a transaction by an [`OcspPresign`], for one CertID hash.
#[derive(Clone, Debug)]
pub struct PresignedResponse {
    /// `sha1` or `sha256`.
    pub hash_alg: &'static str,
    /// The DER `OCSPResponse`.
    pub der: Vec<u8>,
    /// producedAt and thisUpdate.
    pub produced_at: i64,
    /// nextUpdate.
    pub next_update: i64,
    /// When to sign it again.
    pub refresh_at: i64,
    /// The OCSP signer's CA record name.
    pub signer: String,
}

/// Signs a certificate's OCSP responses in the transaction that issued it or changed
/// its status (issue 10 item 5: a `good` response pre-signed in the issuance commit, a
/// new one with every status change), so that the responder has the new answer the
/// moment the change commits. Implemented by kmn-app with the OCSP signers `kmn serve`
/// loaded; `None` from [`OcspPresign::presign`] (no signer for that CA in this
/// process, or it could not sign) leaves the certificate to the signer loop.
pub trait OcspPresign: Send + Sync {
    /// The responses (one per CertID hash) for `due`, signed at `now`.
    fn presign(&self, due: &OcspDue, now: i64) -> Option<Vec<PresignedResponse>>;
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
    /// Pre-signs the OCSP responses of `serials` (end-entity certificates only) with the
    /// installed [`OcspPresign`], if any, in this transaction: called by every write that
    /// issues a certificate or changes its status. Does nothing without a pre-signer.
    pub(crate) async fn presign_ocsp(
        &mut self,
        serials: &[&str],
        now: i64,
    ) -> Result<(), StoreError> {
        let Some(p) = self.presigner.clone() else {
            return Ok(());
        };
        for serial in serials {
            let row = sqlx::query(
                "SELECT s.serial_hex, s.ca_name, s.status, s.reason, s.revoked_at, s.updated_at \
                 FROM cert_status s JOIN certificates c ON c.serial_hex = s.serial_hex \
                 WHERE s.serial_hex = $1 AND c.profile NOT IN ('root', 'issuing-ca')",
            )
            .bind(*serial)
            .fetch_optional(self.conn())
            .await?;
            let Some(row) = row else { continue };
            let due = due_from_row(&row);
            let Some(signed) = p.presign(&due, now) else {
                continue;
            };
            for r in &signed {
                self.put_ocsp_response(&OcspResponseRow {
                    serial_hex: &due.serial_hex,
                    hash_alg: r.hash_alg,
                    ca_name: &due.ca_name,
                    status: &due.status,
                    status_version: due.status_version,
                    der: &r.der,
                    produced_at: r.produced_at,
                    this_update: r.produced_at,
                    next_update: r.next_update,
                    refresh_at: r.refresh_at,
                    signer: &r.signer,
                    stored_at: now,
                })
                .await?;
            }
        }
        Ok(())
    }

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

    /// Takes or renews the lease on the OCSP signing work of `ca_name` for `holder`
    /// until `expires_at`: granted when nobody holds it, `holder` already does, or the
    /// other holder's lease ran out at `now`. Returns whether `holder` holds it.
    pub async fn take_ocsp_lease(
        &mut self,
        ca_name: &str,
        holder: &str,
        now: i64,
        expires_at: i64,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "INSERT INTO ocsp_work_leases (ca_name, holder, expires_at) VALUES ($1, $2, $3) \
             ON CONFLICT (ca_name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at \
             WHERE ocsp_work_leases.holder = excluded.holder OR ocsp_work_leases.expires_at <= $4",
        )
        .bind(ca_name)
        .bind(holder)
        .bind(expires_at)
        .bind(now)
        .execute(self.conn())
        .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Where the re-signing of `ca_name`'s stored responses with `signer` stands: the
    /// last serial done (`Some("")` when it has not begun), or `None` when every stored
    /// response is signed by `signer`. A new signer starts the walk from the beginning.
    pub async fn ocsp_resign_cursor(
        &mut self,
        ca_name: &str,
        signer: &str,
    ) -> Result<Option<String>, StoreError> {
        let row = sqlx::query(
            "SELECT resign_signer, resign_cursor FROM ocsp_work_leases WHERE ca_name = $1",
        )
        .bind(ca_name)
        .fetch_optional(self.conn())
        .await?;
        let (for_signer, cursor): (Option<String>, Option<String>) = match &row {
            Some(r) => (r.get(0), r.get(1)),
            None => (None, None),
        };
        if for_signer.as_deref() == Some(signer) {
            Ok(cursor)
        } else {
            Ok(Some(String::new()))
        }
    }

    /// Records how far the re-signing with `signer` went (`None`: all done).
    pub async fn set_ocsp_resign_cursor(
        &mut self,
        ca_name: &str,
        signer: &str,
        cursor: Option<&str>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE ocsp_work_leases SET resign_signer = $2, resign_cursor = $3 WHERE ca_name = $1",
        )
        .bind(ca_name)
        .bind(signer)
        .bind(cursor)
        .execute(self.conn())
        .await?;
        Ok(())
    }

    /// The next certificates after serial `after` (by serial) whose stored responses
    /// were signed by another signer than `signer`, not expired at `now`, at most
    /// `limit`; and the last serial looked at (the walk's next cursor), `None` at the end.
    pub async fn ocsp_signed_by_other(
        &mut self,
        ca_name: &str,
        signer: &str,
        after: &str,
        now: i64,
        limit: i64,
    ) -> Result<(Vec<OcspDue>, Option<String>), StoreError> {
        // The walk goes by serial over this CA's SHA-256 rows (both hashes are signed
        // together), `limit` rows a step whatever their signer, so a step is bounded
        // even where most rows are done already.
        let rows = sqlx::query(
            "SELECT r.serial_hex, r.signer, s.serial_hex, s.ca_name, s.status, s.reason, s.revoked_at, \
                    s.updated_at, s.not_after \
             FROM ocsp_responses r JOIN cert_status s ON s.serial_hex = r.serial_hex \
             WHERE r.ca_name = $1 AND r.hash_alg = 'sha256' AND r.serial_hex > $2 \
             ORDER BY r.serial_hex LIMIT $3",
        )
        .bind(ca_name)
        .bind(after)
        .bind(limit)
        .fetch_all(self.conn())
        .await?;
        let next = if i64::try_from(rows.len()).unwrap_or(i64::MAX) < limit {
            None
        } else {
            rows.last().map(|r| r.get::<String, _>(0))
        };
        let due = rows
            .iter()
            .filter(|r| r.get::<String, _>(1) != signer && r.get::<i64, _>(8) > now)
            .map(|r| OcspDue {
                serial_hex: r.get(2),
                ca_name: r.get(3),
                status: r.get(4),
                reason: r.get(5),
                revoked_at: r.get(6),
                status_version: r.get(7),
            })
            .collect();
        Ok((due, next))
    }

    /// Revoked certificates of `ca_name`, not expired at `now`, with a stored response
    /// showing them revoked but no first OCSP response recorded yet (第23条3), at most
    /// `limit` (the partial index of migration 15).
    pub async fn revoked_without_first_ocsp(
        &mut self,
        ca_name: &str,
        now: i64,
        limit: i64,
    ) -> Result<Vec<String>, StoreError> {
        let rows = sqlx::query(
            "SELECT s.serial_hex FROM cert_status s \
             JOIN ocsp_responses r ON r.serial_hex = s.serial_hex AND r.hash_alg = 'sha256' \
             WHERE s.ca_name = $1 AND s.status = 'revoked' AND s.first_ocsp_at IS NULL \
               AND s.not_after > $2 AND r.status = 'revoked' \
             LIMIT $3",
        )
        .bind(ca_name)
        .bind(now)
        .bind(limit)
        .fetch_all(self.conn())
        .await?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    }

    /// How many of `ca_name`'s stored responses were signed by another signer than
    /// `signer` (health, and the rotation tests).
    pub async fn ocsp_count_signed_by_other(
        &mut self,
        ca_name: &str,
        signer: &str,
    ) -> Result<i64, StoreError> {
        Ok(
            sqlx::query("SELECT COUNT(*) FROM ocsp_responses WHERE ca_name = $1 AND signer <> $2")
                .bind(ca_name)
                .bind(signer)
                .fetch_one(self.conn())
                .await?
                .get::<i64, _>(0),
        )
    }

    /// Every stored response of `ca_name` whose nextUpdate passes its own signer's
    /// notAfter: (serial, hash, signer). Empty unless something is wrong (the rotation
    /// tests and `/health`).
    pub async fn ocsp_outliving_signer(
        &mut self,
        ca_name: &str,
    ) -> Result<Vec<(String, String, String)>, StoreError> {
        let rows = sqlx::query(
            "SELECT r.serial_hex, r.hash_alg, r.signer FROM ocsp_responses r \
             JOIN cas c ON c.name = r.signer \
             WHERE r.ca_name = $1 AND r.next_update > c.not_after",
        )
        .bind(ca_name)
        .fetch_all(self.conn())
        .await?;
        Ok(rows
            .iter()
            .map(|r| (r.get(0), r.get(1), r.get(2)))
            .collect())
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

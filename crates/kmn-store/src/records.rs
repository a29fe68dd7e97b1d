//! Rows and the operations on them.

use kmn_domain::{CertStatus, CrlNumber, RevocationReason};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::{StoreError, Tx};

/// Kinds of CA key and certificate kept in `cas`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CaKind {
    /// Offline root.
    Root,
    /// Online issuing CA.
    Issuing,
    /// Delegated OCSP signer.
    OcspSigner,
    /// The signer of the audit log's checkpoints (not a CA: an end-entity key certified
    /// by the issuing CA, kept here like the OCSP signer's).
    AuditSigner,
}

impl CaKind {
    fn as_str(self) -> &'static str {
        match self {
            Self::Root => "root",
            Self::Issuing => "issuing",
            Self::OcspSigner => "ocsp_signer",
            Self::AuditSigner => "audit_signer",
        }
    }
    fn parse(s: &str) -> Self {
        match s {
            "root" => Self::Root,
            "issuing" => Self::Issuing,
            "audit_signer" => Self::AuditSigner,
            _ => Self::OcspSigner,
        }
    }
}

/// A CA (root, issuing CA or OCSP signer) with its certificate and key reference.
#[derive(Clone, Debug)]
pub struct CaRecord {
    /// Short name, used in repository URLs (`/repo/<name>.crl`).
    pub name: String,
    /// Kind.
    pub kind: CaKind,
    /// The CA that signed this one (None for the root).
    pub issuer_name: Option<String>,
    /// Serial of its certificate, hex.
    pub serial_hex: String,
    /// Its certificate.
    pub cert_der: Vec<u8>,
    /// Where its key is: `file:secrets/…` or `pkcs11:…`.
    pub key_ref: String,
    /// Key algorithm name.
    pub algorithm: String,
    /// notBefore, Unix seconds.
    pub not_before: i64,
    /// notAfter, Unix seconds.
    pub not_after: i64,
    /// The current one of its kind.
    pub active: bool,
    /// When it was made.
    pub created_at: i64,
}

fn ca_from_row(r: &AnyRow) -> CaRecord {
    CaRecord {
        name: r.get("name"),
        kind: CaKind::parse(&r.get::<String, _>("kind")),
        issuer_name: r.get("issuer_name"),
        serial_hex: r.get("serial_hex"),
        cert_der: r.get("cert_der"),
        key_ref: r.get("key_ref"),
        algorithm: r.get("algorithm"),
        not_before: r.get("not_before"),
        not_after: r.get("not_after"),
        active: r.get::<i64, _>("active") != 0,
        created_at: r.get("created_at"),
    }
}

/// A certificate as issued, with its current status.
#[derive(Clone, Debug)]
pub struct CertRecord {
    /// Serial, lowercase hex.
    pub serial_hex: String,
    /// Issuing CA's name.
    pub ca_name: String,
    /// Profile name.
    pub profile: String,
    /// Subject as text.
    pub subject: String,
    /// notBefore.
    pub not_before: i64,
    /// notAfter.
    pub not_after: i64,
    /// SHA-256 fingerprint, hex.
    pub fingerprint_sha256: String,
    /// DER.
    pub der: Vec<u8>,
    /// When it was signed.
    pub issued_at: i64,
    /// Status.
    pub status: CertStatus,
    /// Revocation details when revoked.
    pub revocation: Option<RevocationInfo>,
}

/// What is known about a revocation (第16条, 第23条3: evidence of prompt revocation).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RevocationInfo {
    /// RFC 5280 reason.
    pub reason: RevocationReason,
    /// When it was revoked.
    pub revoked_at: i64,
    /// invalidityDate (keyCompromise only).
    pub invalidity_date: Option<i64>,
    /// The article of the terms behind it, e.g. `第11条`.
    pub article: Option<String>,
    /// Free text.
    pub comment: Option<String>,
    /// Who asked.
    pub requested_by: Option<String>,
    /// When the request arrived.
    pub request_received_at: Option<i64>,
    /// The first CRL listing it.
    pub first_crl_number: Option<i64>,
    /// When that CRL was published.
    pub first_crl_published_at: Option<i64>,
    /// The grounds (`kmn_domain::RevocationGrounds::code`); None before migration 9.
    pub grounds: Option<String>,
    /// The channel (`kmn_domain::RevocationChannel`); None before migration 9.
    pub channel: Option<String>,
    /// producedAt of the first OCSP response showing it revoked (migration 13).
    pub first_ocsp_produced_at: Option<i64>,
    /// When that response was stored, read back and checked (migration 13).
    pub first_ocsp_at: Option<i64>,
}

/// A new certificate to record.
#[derive(Clone, Debug)]
pub struct NewCert<'a> {
    /// Serial hex.
    pub serial_hex: &'a str,
    /// Serial unsigned bytes.
    pub serial: &'a [u8],
    /// Issuing CA.
    pub ca_name: &'a str,
    /// Profile.
    pub profile: &'a str,
    /// Subject text.
    pub subject: &'a str,
    /// notBefore.
    pub not_before: i64,
    /// notAfter.
    pub not_after: i64,
    /// Fingerprint.
    pub fingerprint_sha256: &'a str,
    /// DER.
    pub der: &'a [u8],
    /// Time of issue.
    pub issued_at: i64,
    /// Initial status (`Valid`, or `OnHold` under `hold_until_receipt`).
    pub status: CertStatus,
}

/// A revocation request.
#[derive(Clone, Debug)]
pub struct Revocation<'a> {
    /// Serial hex.
    pub serial_hex: &'a str,
    /// Reason.
    pub reason: RevocationReason,
    /// When.
    pub revoked_at: i64,
    /// invalidityDate.
    pub invalidity_date: Option<i64>,
    /// Article of the terms.
    pub article: Option<&'a str>,
    /// Comment.
    pub comment: Option<&'a str>,
    /// Who asked.
    pub requested_by: &'a str,
    /// When the request arrived.
    pub request_received_at: i64,
    /// The grounds (`kmn_domain::RevocationGrounds::code`), e.g. `emergency:lost`.
    pub grounds: Option<&'a str>,
    /// The channel (`kmn_domain::RevocationChannel`), e.g. `desk`.
    pub channel: Option<&'a str>,
}

/// Who revokes (issue 8): the one revocation function refuses certificates that are not
/// a holder's card certificate for everyone but the CA administrator, and CA
/// certificates for everyone but the root's act (an issuing CA, on the ARL).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RevocationAuthority {
    /// The registration paths: RA card steps, applications, delivery, jobs, stations.
    Registration,
    /// The CA administrator's own path (`kmn cert revoke`, local CLI).
    CaAdministrator,
    /// The root's act (`kmn ca revoke-issuing`): an issuing CA's certificate, listed on
    /// the root's ARL, which the same transaction re-signs. Never the root itself, never
    /// an end-entity certificate.
    RootAct,
}

impl RevocationAuthority {
    /// Refuses a profile this authority may not revoke.
    pub fn check(self, serial_hex: &str, profile: &str) -> Result<(), StoreError> {
        let ca = matches!(profile, "root" | "issuing-ca");
        match self {
            Self::Registration if profile == "user-card" => Ok(()),
            Self::Registration => Err(StoreError::Refused(format!(
                "証明書 {serial_hex} は{}の証明書のため、この手続きでは失効も利用停止もできません。対象にできるのは利用者カードの証明書だけです（認証局・OCSP応答署名・担当者・サーバーの証明書は認証局管理者が扱います）",
                profile_label_ja(profile)
            ))),
            Self::CaAdministrator if ca => Err(StoreError::Refused(format!(
                "certificate {serial_hex} is {}: revoking a CA is a root act (the root re-signs its ARL at a ceremony), never an entry on a CRL of this CA, and `kmn cert revoke` does not do it; nothing was revoked",
                if profile == "root" {
                    "the root CA's certificate (the root is never revoked: relying parties remove it as a trust anchor)".to_string()
                } else {
                    format!(
                        "an issuing CA's certificate (revoke it with `kmn ca revoke-issuing {serial_hex} --reason …`)"
                    )
                }
            ))),
            Self::CaAdministrator => Ok(()),
            Self::RootAct if profile == "issuing-ca" => Ok(()),
            Self::RootAct if profile == "root" => Err(StoreError::Refused(format!(
                "certificate {serial_hex} is the root CA's own certificate: the root cannot revoke itself on its own ARL (relying parties remove it as a trust anchor); nothing was revoked"
            ))),
            Self::RootAct => Err(StoreError::Refused(format!(
                "certificate {serial_hex} is not an issuing CA's certificate ({profile}): `kmn ca revoke-issuing` revokes issuing CAs only (end-entity certificates: `kmn cert revoke`); nothing was revoked"
            ))),
        }
    }
}

fn profile_label_ja(profile: &str) -> &'static str {
    match profile {
        "root" => "ルート認証局",
        "issuing-ca" => "発行認証局",
        "ocsp-signer" => "OCSP応答署名者",
        "audit-signer" => "監査ログ署名者",
        "operator" => "担当者（操作用）",
        "server" => "サーバー（TLS）",
        "user-card" => "利用者カード",
        "station" => "発行端末",
        _ => "不明な種類",
    }
}

/// A row of the CRL query, compact (no heap allocation per entry: a million of them
/// must fit the CRL's memory budget).
#[derive(Clone, Copy, Debug)]
pub struct RevokedRow {
    serial: [u8; 20],
    serial_len: u8,
    /// revocationDate.
    pub revoked_at: i64,
    /// Reason code.
    pub reason: u8,
    /// invalidityDate.
    pub invalidity_date: Option<i64>,
}

impl RevokedRow {
    /// Serial unsigned bytes.
    pub fn serial(&self) -> &[u8] {
        &self.serial[..self.serial_len as usize]
    }
}

/// What one CRL encodes, from one read: every entry, and the revocations among them that
/// no published CRL has listed yet (their `serial_hex`), which are the rows the CRL
/// stamps when it is recorded as published (第23条3). Holds are entries but never
/// stamped: a hold is not a revocation, and a certificate revoked after its hold is
/// stamped by the first CRL that lists it as revoked.
#[derive(Clone, Debug, Default)]
pub struct CrlSnapshot {
    /// The entries, sorted by serial (shorter first, then bytewise).
    pub entries: Vec<RevokedRow>,
    /// Revocations listed here for the first time (unordered).
    pub first_listed: Vec<String>,
}

/// The CRL counters of one CA.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CrlState {
    /// Last number taken.
    pub last_number: CrlNumber,
    /// Last thisUpdate.
    pub last_this_update: i64,
    /// Last number published.
    pub last_published_number: CrlNumber,
}

/// A published CRL's record.
#[derive(Clone, Debug)]
pub struct CrlRecord {
    /// CA.
    pub ca_name: String,
    /// Number.
    pub number: i64,
    /// thisUpdate.
    pub this_update: i64,
    /// nextUpdate.
    pub next_update: i64,
    /// Entries.
    pub entries: i64,
    /// SHA-256 of the DER.
    pub sha256: String,
    /// When published.
    pub published_at: i64,
}

/// Serials per stamping UPDATE (well under SQLite's 32766 and PostgreSQL's 65535 binds).
const STAMP_CHUNK: usize = 1000;

const CERT_COLUMNS: &str = "c.serial_hex, c.ca_name, c.profile, c.subject, c.not_before, c.not_after, \
     c.fingerprint_sha256, c.der, c.issued_at, s.status, s.reason, s.revoked_at, s.invalidity_date, \
     s.article, s.comment, s.requested_by, s.request_received_at, s.first_crl_number, s.first_crl_published_at, s.grounds, s.channel, \
     s.first_ocsp_produced_at, s.first_ocsp_at";

fn cert_from_row(r: &AnyRow) -> Result<CertRecord, StoreError> {
    let status_s: String = r.get("status");
    let status = CertStatus::from_db(&status_s)
        .ok_or_else(|| StoreError::Conflict(format!("unknown status {status_s}")))?;
    let reason: Option<i32> = r.get("reason");
    let revocation = match (status, reason) {
        (CertStatus::Revoked, Some(code)) => Some(RevocationInfo {
            reason: RevocationReason::from_code(code as u8)
                .ok_or_else(|| StoreError::Conflict(format!("unknown reason code {code}")))?,
            revoked_at: r.get::<Option<i64>, _>("revoked_at").unwrap_or_default(),
            invalidity_date: r.get("invalidity_date"),
            article: r.get("article"),
            comment: r.get("comment"),
            requested_by: r.get("requested_by"),
            request_received_at: r.get("request_received_at"),
            first_crl_number: r.get("first_crl_number"),
            first_crl_published_at: r.get("first_crl_published_at"),
            grounds: r.get("grounds"),
            channel: r.get("channel"),
            first_ocsp_produced_at: r.get("first_ocsp_produced_at"),
            first_ocsp_at: r.get("first_ocsp_at"),
        }),
        _ => None,
    };
    Ok(CertRecord {
        serial_hex: r.get("serial_hex"),
        ca_name: r.get("ca_name"),
        profile: r.get("profile"),
        subject: r.get("subject"),
        not_before: r.get("not_before"),
        not_after: r.get("not_after"),
        fingerprint_sha256: r.get("fingerprint_sha256"),
        der: r.get("der"),
        issued_at: r.get("issued_at"),
        status,
        revocation,
    })
}

impl Tx {
    /// Records a CA.
    pub async fn insert_ca(&mut self, ca: &CaRecord) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO cas (name, kind, issuer_name, serial_hex, cert_der, key_ref, algorithm, \
             not_before, not_after, active, created_at) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11)",
        )
        .bind(&ca.name)
        .bind(ca.kind.as_str())
        .bind(&ca.issuer_name)
        .bind(&ca.serial_hex)
        .bind(&ca.cert_der)
        .bind(&ca.key_ref)
        .bind(&ca.algorithm)
        .bind(ca.not_before)
        .bind(ca.not_after)
        .bind(i64::from(ca.active))
        .bind(ca.created_at)
        .execute(self.conn())
        .await?;
        Ok(())
    }

    /// Makes `name` the only active CA of its kind.
    pub async fn activate_ca(&mut self, kind: CaKind, name: &str) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE cas SET active = CASE WHEN name = $2 THEN 1 ELSE 0 END WHERE kind = $1",
        )
        .bind(kind.as_str())
        .bind(name)
        .execute(self.conn())
        .await?;
        Ok(())
    }

    /// All CAs, oldest first.
    pub async fn list_cas(&mut self) -> Result<Vec<CaRecord>, StoreError> {
        let rows = sqlx::query("SELECT * FROM cas ORDER BY created_at, name")
            .fetch_all(self.conn())
            .await?;
        Ok(rows.iter().map(ca_from_row).collect())
    }

    /// The active CA of a kind.
    pub async fn active_ca(&mut self, kind: CaKind) -> Result<Option<CaRecord>, StoreError> {
        let row = sqlx::query("SELECT * FROM cas WHERE kind = $1 AND active = 1")
            .bind(kind.as_str())
            .fetch_optional(self.conn())
            .await?;
        Ok(row.as_ref().map(ca_from_row))
    }

    /// Records the serial and the TBS before the key signs.
    pub async fn insert_intent(
        &mut self,
        serial_hex: &str,
        ca_name: &str,
        profile: &str,
        tbs: &[u8],
        at: i64,
    ) -> Result<(), StoreError> {
        let r = sqlx::query(
            "INSERT INTO issuance_intents (serial_hex, ca_name, profile, tbs_der, created_at) VALUES ($1,$2,$3,$4,$5)",
        )
        .bind(serial_hex)
        .bind(ca_name)
        .bind(profile)
        .bind(tbs)
        .bind(at)
        .execute(self.conn())
        .await;
        match r {
            Ok(_) => Ok(()),
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => Err(StoreError::Conflict(
                format!("serial {serial_hex} is already taken"),
            )),
            Err(e) => Err(e.into()),
        }
    }

    /// Records an issued certificate and its initial status.
    pub async fn insert_certificate(&mut self, c: &NewCert<'_>) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO certificates (serial_hex, ca_name, profile, subject, not_before, not_after, \
             fingerprint_sha256, der, issued_at) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9)",
        )
        .bind(c.serial_hex)
        .bind(c.ca_name)
        .bind(c.profile)
        .bind(c.subject)
        .bind(c.not_before)
        .bind(c.not_after)
        .bind(c.fingerprint_sha256)
        .bind(c.der)
        .bind(c.issued_at)
        .execute(self.conn())
        .await?;
        sqlx::query(
            "INSERT INTO cert_status (serial_hex, serial, ca_name, not_after, status, updated_at) \
             VALUES ($1,$2,$3,$4,$5,$6)",
        )
        .bind(c.serial_hex)
        .bind(c.serial)
        .bind(c.ca_name)
        .bind(c.not_after)
        .bind(c.status.as_str())
        .bind(c.issued_at)
        .execute(self.conn())
        .await?;
        self.presign_ocsp(&[c.serial_hex], c.issued_at).await?;
        Ok(())
    }

    /// Records many intents with multi-row INSERTs (group issuance).
    pub async fn insert_intents(
        &mut self,
        rows: &[(String, &str, &str, &[u8])],
        at: i64,
    ) -> Result<(), StoreError> {
        for chunk in rows.chunks(200) {
            let sql = format!(
                "INSERT INTO issuance_intents (serial_hex, ca_name, profile, tbs_der, created_at) VALUES {}",
                crate::placeholders(chunk.len(), 5)
            );
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for (serial, ca, profile, tbs) in chunk {
                q = q
                    .bind(serial.as_str())
                    .bind(*ca)
                    .bind(*profile)
                    .bind(*tbs)
                    .bind(at);
            }
            q.execute(self.conn()).await.map_err(|e| match &e {
                sqlx::Error::Database(d) if d.is_unique_violation() => {
                    StoreError::Conflict("a serial is already taken".into())
                }
                _ => StoreError::Db(e),
            })?;
        }
        Ok(())
    }

    /// Records many issued certificates and their status rows with multi-row INSERTs.
    pub async fn insert_certificates(&mut self, certs: &[NewCert<'_>]) -> Result<(), StoreError> {
        for chunk in certs.chunks(100) {
            let sql = format!(
                "INSERT INTO certificates (serial_hex, ca_name, profile, subject, not_before, not_after, fingerprint_sha256, der, issued_at) VALUES {}",
                crate::placeholders(chunk.len(), 9)
            );
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for c in chunk {
                q = q
                    .bind(c.serial_hex)
                    .bind(c.ca_name)
                    .bind(c.profile)
                    .bind(c.subject)
                    .bind(c.not_before)
                    .bind(c.not_after)
                    .bind(c.fingerprint_sha256)
                    .bind(c.der)
                    .bind(c.issued_at);
            }
            q.execute(self.conn()).await?;
            let sql = format!(
                "INSERT INTO cert_status (serial_hex, serial, ca_name, not_after, status, updated_at) VALUES {}",
                crate::placeholders(chunk.len(), 6)
            );
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for c in chunk {
                q = q
                    .bind(c.serial_hex)
                    .bind(c.serial)
                    .bind(c.ca_name)
                    .bind(c.not_after)
                    .bind(c.status.as_str())
                    .bind(c.issued_at);
            }
            q.execute(self.conn()).await?;
            if let Some(first) = chunk.first() {
                let serials: Vec<&str> = chunk.iter().map(|c| c.serial_hex).collect();
                self.presign_ocsp(&serials, first.issued_at).await?;
            }
        }
        Ok(())
    }

    /// A certificate by serial (hex), with its status.
    pub async fn certificate(
        &mut self,
        serial_hex: &str,
    ) -> Result<Option<CertRecord>, StoreError> {
        let sql = format!(
            "SELECT {CERT_COLUMNS} FROM certificates c JOIN cert_status s ON s.serial_hex = c.serial_hex \
             WHERE c.serial_hex = $1"
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(serial_hex)
            .fetch_optional(self.conn())
            .await?;
        row.as_ref().map(cert_from_row).transpose()
    }

    /// Number of certificates issued by a CA.
    pub async fn count_certificates(&mut self, ca_name: &str) -> Result<i64, StoreError> {
        Ok(
            sqlx::query("SELECT COUNT(*) FROM certificates WHERE ca_name = $1")
                .bind(ca_name)
                .fetch_one(self.conn())
                .await?
                .get::<i64, _>(0),
        )
    }

    /// Revokes by compare-and-set from `valid` or `on_hold`. A certificate already revoked
    /// (by someone else, or earlier) is a [`StoreError::Conflict`]; an unknown serial is
    /// [`StoreError::NotFound`].
    ///
    /// This is the registration path (cards: loss, return, renewal, a station's abort):
    /// it revokes only holders' card certificates and refuses any other profile with
    /// [`StoreError::Refused`] (issue 8). The CA administrator's own path is
    /// [`Tx::revoke_as_ca_administrator`].
    pub async fn revoke(&mut self, r: &Revocation<'_>) -> Result<(), StoreError> {
        self.revoke_as(r, RevocationAuthority::Registration).await
    }

    /// The CA administrator's revocation (`kmn cert revoke`): any end-entity certificate
    /// (card, operator, OCSP signer, server). A CA certificate is refused: revoking the
    /// root or an issuing CA is a root act that re-signs the root's ARL, never an entry
    /// on a CRL the revoked CA signs itself.
    pub async fn revoke_as_ca_administrator(
        &mut self,
        r: &Revocation<'_>,
    ) -> Result<(), StoreError> {
        self.revoke_as(r, RevocationAuthority::CaAdministrator)
            .await
    }

    /// The root's act (`kmn ca revoke-issuing`): an issuing CA's certificate only; the
    /// caller re-signs the root's ARL in the same transaction.
    pub async fn revoke_as_root(&mut self, r: &Revocation<'_>) -> Result<(), StoreError> {
        self.revoke_as(r, RevocationAuthority::RootAct).await
    }

    async fn revoke_as(
        &mut self,
        r: &Revocation<'_>,
        authority: RevocationAuthority,
    ) -> Result<(), StoreError> {
        let profile = sqlx::query("SELECT profile FROM certificates WHERE serial_hex = $1")
            .bind(r.serial_hex)
            .fetch_optional(self.conn())
            .await?
            .map(|row| row.get::<String, _>(0))
            .ok_or_else(|| {
                StoreError::NotFound(format!("no certificate with serial {}", r.serial_hex))
            })?;
        authority.check(r.serial_hex, &profile)?;
        if r.reason == RevocationReason::CaCompromise {
            match authority {
                RevocationAuthority::RootAct => {}
                RevocationAuthority::Registration => {
                    return Err(StoreError::Refused(format!(
                        "証明書 {} は「認証局の鍵の危殆化」を理由に失効させられません（この理由は認証局の証明書だけのものです）",
                        r.serial_hex
                    )));
                }
                RevocationAuthority::CaAdministrator => {
                    return Err(StoreError::Refused(format!(
                        "cACompromise is only for an issuing CA's certificate revoked by the root (`kmn ca revoke-issuing`), not for certificate {}; nothing was revoked",
                        r.serial_hex
                    )));
                }
            }
        }
        let update = sqlx::query(
            "UPDATE cert_status SET status = 'revoked', reason = $2, revoked_at = $3, invalidity_date = $4, \
             article = $5, comment = $6, requested_by = $7, request_received_at = $8, updated_at = $3, \
             grounds = $9, channel = $10 \
             WHERE serial_hex = $1 AND status IN ('valid', 'on_hold')",
        )
        .bind(r.serial_hex)
        .bind(i32::from(r.reason.code()))
        .bind(r.revoked_at)
        .bind(r.invalidity_date)
        .bind(r.article)
        .bind(r.comment)
        .bind(r.requested_by)
        .bind(r.request_received_at)
        .bind(r.grounds)
        .bind(r.channel);
        if self.compare_and_set(update).await? {
            self.presign_ocsp(&[r.serial_hex], r.revoked_at).await?;
            return Ok(());
        }
        let exists = sqlx::query("SELECT status FROM cert_status WHERE serial_hex = $1")
            .bind(r.serial_hex)
            .fetch_optional(self.conn())
            .await?;
        match exists {
            None => Err(StoreError::NotFound(format!(
                "no certificate with serial {}",
                r.serial_hex
            ))),
            Some(_) => Err(StoreError::Conflict(format!(
                "certificate {} is already revoked",
                r.serial_hex
            ))),
        }
    }

    /// The CRL counters of a CA (created at zero on first use).
    pub async fn crl_state(&mut self, ca_name: &str) -> Result<CrlState, StoreError> {
        let row = sqlx::query(
            "SELECT last_number, last_this_update, last_published_number FROM crl_state WHERE ca_name = $1",
        )
        .bind(ca_name)
        .fetch_optional(self.conn())
        .await?;
        match row {
            Some(r) => Ok(CrlState {
                last_number: CrlNumber(r.get(0)),
                last_this_update: r.get(1),
                last_published_number: CrlNumber(r.get(2)),
            }),
            None => {
                sqlx::query(
                    "INSERT INTO crl_state (ca_name, last_number, last_this_update, last_published_number) VALUES ($1, 0, 0, 0)",
                )
                .bind(ca_name)
                .execute(self.conn())
                .await?;
                Ok(CrlState {
                    last_number: CrlNumber(0),
                    last_this_update: 0,
                    last_published_number: CrlNumber(0),
                })
            }
        }
    }

    /// Takes the next CRL number by compare-and-set on the last one. In PostgreSQL the
    /// UPDATE also locks the row until commit, so publishers of one CA take turns.
    pub async fn take_crl_number(
        &mut self,
        ca_name: &str,
        expected_last: CrlNumber,
        new_number: CrlNumber,
        this_update: i64,
    ) -> Result<(), StoreError> {
        let update = sqlx::query(
            "UPDATE crl_state SET last_number = $3, last_this_update = $4 \
             WHERE ca_name = $1 AND last_number = $2 AND last_this_update <= $4 AND $3 > last_number",
        )
        .bind(ca_name)
        .bind(expected_last.0)
        .bind(new_number.0)
        .bind(this_update);
        self.compare_and_set_or_conflict(update, || {
            format!("CRL number {new_number} of {ca_name} was taken by another publisher")
        })
        .await
    }

    /// The entries of the next CRL: revoked and on-hold certificates of `ca_name` that
    /// have not expired at `now`, sorted by serial (shorter first, then bytewise).
    pub async fn crl_entries(
        &mut self,
        ca_name: &str,
        now: i64,
    ) -> Result<Vec<RevokedRow>, StoreError> {
        Ok(self.crl_snapshot(ca_name, now).await?.entries)
    }

    /// The entries of the next CRL and the revocations it lists for the first time, from
    /// one statement (one snapshot on either backend), so that what is stamped is exactly
    /// what is encoded. Rows are streamed into compact entries and sorted in memory
    /// (cheaper than SQL's sort); only first-listed rows carry their `serial_hex`.
    pub async fn crl_snapshot(
        &mut self,
        ca_name: &str,
        now: i64,
    ) -> Result<CrlSnapshot, StoreError> {
        use futures_util::TryStreamExt;
        let mut out = CrlSnapshot::default();
        {
            let mut rows = sqlx::query(
                "SELECT serial, CASE WHEN status = 'on_hold' THEN updated_at ELSE revoked_at END, \
                 CASE WHEN status = 'on_hold' THEN 6 ELSE reason END, invalidity_date, \
                 CASE WHEN status = 'revoked' AND first_crl_number IS NULL THEN serial_hex END \
                 FROM cert_status \
                 WHERE ca_name = $1 AND status IN ('revoked', 'on_hold') AND not_after >= $2",
            )
            .bind(ca_name)
            .bind(now)
            .fetch(self.conn());
            while let Some(r) = rows.try_next().await? {
                let serial: &[u8] = r.try_get(0)?;
                let start = serial.iter().position(|b| *b != 0).unwrap_or(serial.len());
                let serial = &serial[start..];
                if serial.is_empty() || serial.len() > 20 {
                    return Err(StoreError::Conflict(
                        "a stored serial is not 1 to 20 octets".into(),
                    ));
                }
                let mut s = [0u8; 20];
                s[..serial.len()].copy_from_slice(serial);
                out.entries.push(RevokedRow {
                    serial: s,
                    serial_len: serial.len() as u8,
                    revoked_at: r.try_get::<Option<i64>, _>(1)?.unwrap_or_default(),
                    reason: r.try_get::<Option<i64>, _>(2)?.unwrap_or_default() as u8,
                    invalidity_date: r.try_get(3)?,
                });
                if let Some(hex) = r.try_get::<Option<String>, _>(4)? {
                    out.first_listed.push(hex);
                }
            }
        }
        out.entries
            .sort_unstable_by(|a, b| (a.serial_len, a.serial()).cmp(&(b.serial_len, b.serial())));
        Ok(out)
    }

    /// Records a published CRL: the published number moves up by compare-and-set (never
    /// down), and the revocations it lists for the first time (`first_listed`, from the
    /// [`CrlSnapshot`] it was built from) are stamped with it (第23条3) — those and no
    /// others: a revocation committed while the CRL was being built is not in it and stays
    /// unstamped, so the next CRL lists it. Returns false when a higher number was already
    /// published; a first-listed row that another publisher stamped meanwhile is a
    /// [`StoreError::Conflict`] (the caller rolls back).
    pub async fn record_published_crl(
        &mut self,
        crl: &CrlRecord,
        first_listed: &[String],
    ) -> Result<bool, StoreError> {
        let update = sqlx::query(
            "UPDATE crl_state SET last_published_number = $2, status_changes_published = status_changes \
             WHERE ca_name = $1 AND last_published_number < $2",
        )
        .bind(&crl.ca_name)
        .bind(crl.number);
        if !self.compare_and_set(update).await? {
            return Ok(false);
        }
        sqlx::query(
            "INSERT INTO crls (ca_name, number, this_update, next_update, entries, sha256, published_at) \
             VALUES ($1,$2,$3,$4,$5,$6,$7)",
        )
        .bind(&crl.ca_name)
        .bind(crl.number)
        .bind(crl.this_update)
        .bind(crl.next_update)
        .bind(crl.entries)
        .bind(&crl.sha256)
        .bind(crl.published_at)
        .execute(self.conn())
        .await?;
        // By primary key, in chunks (a first CRL after a bulk revocation may list 10^5
        // revocations for the first time; the usual one lists a few).
        let mut stamped = 0u64;
        for chunk in first_listed.chunks(STAMP_CHUNK) {
            let list = (0..chunk.len())
                .map(|i| format!("${}", i + 4))
                .collect::<Vec<_>>()
                .join(",");
            let sql = format!(
                "UPDATE cert_status SET first_crl_number = $2, first_crl_published_at = $3 \
                 WHERE ca_name = $1 AND status = 'revoked' AND first_crl_number IS NULL \
                 AND serial_hex IN ({list})"
            );
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(&crl.ca_name)
                .bind(crl.number)
                .bind(crl.published_at);
            for hex in chunk {
                q = q.bind(hex.as_str());
            }
            stamped += q.execute(self.conn()).await?.rows_affected();
        }
        if stamped != first_listed.len() as u64 {
            return Err(StoreError::Conflict(format!(
                "CRL {} of {}: {} of the {} revocations it lists for the first time were stamped meanwhile",
                crl.number,
                crl.ca_name,
                first_listed.len() as u64 - stamped,
                first_listed.len()
            )));
        }
        Ok(true)
    }

    /// Keeps the DER of the CRL just recorded by [`Tx::record_published_crl`] (same
    /// transaction) in its `crls` row, and lets go of the bytes of the CA's older CRLs
    /// (their record and SHA-256 stay): the database holds the newest CRL of each CA, so
    /// that every instance, on any host, serves it (DESIGN §7, migration 0014).
    pub async fn keep_crl_der(
        &mut self,
        ca_name: &str,
        number: i64,
        der: &[u8],
    ) -> Result<(), StoreError> {
        let update = sqlx::query("UPDATE crls SET der = $3 WHERE ca_name = $1 AND number = $2")
            .bind(ca_name)
            .bind(number)
            .bind(der);
        self.compare_and_set_or_conflict(update, || {
            format!("CRL {number} of {ca_name} is not recorded: its bytes cannot be kept")
        })
        .await?;
        sqlx::query(
            "UPDATE crls SET der = NULL WHERE ca_name = $1 AND number < $2 AND der IS NOT NULL",
        )
        .bind(ca_name)
        .bind(number)
        .execute(self.conn())
        .await?;
        Ok(())
    }

    /// The DER of a published CRL, when the database keeps it (the newest of each CA
    /// published since migration 0014).
    pub async fn crl_der(
        &mut self,
        ca_name: &str,
        number: i64,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        let row = sqlx::query("SELECT der FROM crls WHERE ca_name = $1 AND number = $2")
            .bind(ca_name)
            .bind(number)
            .fetch_optional(self.conn())
            .await?;
        match row {
            Some(r) => Ok(r.try_get::<Option<Vec<u8>>, _>(0)?),
            None => Ok(None),
        }
    }

    /// A published CRL by its number (the first CRL of a revocation, 第23条3).
    pub async fn crl(
        &mut self,
        ca_name: &str,
        number: i64,
    ) -> Result<Option<CrlRecord>, StoreError> {
        let row = sqlx::query(
            "SELECT ca_name, number, this_update, next_update, entries, sha256, published_at FROM crls \
             WHERE ca_name = $1 AND number = $2",
        )
        .bind(ca_name)
        .bind(number)
        .fetch_optional(self.conn())
        .await?;
        Ok(row.as_ref().map(crl_record_from_row))
    }

    /// Stamps a revocation with its first OCSP response showing it revoked (第23条3):
    /// `produced_at` is the response's producedAt, `checked_at` when it was read back
    /// from storage and checked. Only once (a later response changes nothing), only a
    /// revoked certificate, and never `updated_at` (which would make the signer loop
    /// sign again). Returns whether it stamped.
    pub async fn stamp_first_ocsp(
        &mut self,
        serial_hex: &str,
        produced_at: i64,
        checked_at: i64,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE cert_status SET first_ocsp_produced_at = $2, first_ocsp_at = $3 \
             WHERE serial_hex = $1 AND status = 'revoked' AND first_ocsp_at IS NULL",
        )
        .bind(serial_hex)
        .bind(produced_at)
        .bind(checked_at)
        .execute(self.conn())
        .await?;
        Ok(done.rows_affected() > 0)
    }

    /// The last published CRL of a CA.
    pub async fn last_crl(&mut self, ca_name: &str) -> Result<Option<CrlRecord>, StoreError> {
        let row = sqlx::query(
            "SELECT ca_name, number, this_update, next_update, entries, sha256, published_at FROM crls \
             WHERE ca_name = $1 ORDER BY number DESC LIMIT 1",
        )
        .bind(ca_name)
        .fetch_optional(self.conn())
        .await?;
        Ok(row.as_ref().map(crl_record_from_row))
    }

    /// Revocations of a CA that no published CRL lists yet and the next one would: not
    /// expired at `now`, as in [`Tx::crl_entries`] (a revocation that expired before any
    /// CRL listed it is never stamped, so it must not make a CRL due forever).
    pub async fn unpublished_revocations(
        &mut self,
        ca_name: &str,
        now: i64,
    ) -> Result<i64, StoreError> {
        Ok(sqlx::query(
            "SELECT COUNT(*) FROM cert_status WHERE ca_name = $1 AND status = 'revoked' \
             AND first_crl_number IS NULL AND not_after >= $2",
        )
        .bind(ca_name)
        .bind(now)
        .fetch_one(self.conn())
        .await?
        .get::<i64, _>(0))
    }
}

/// A `crls` row read with `ca_name, number, this_update, next_update, entries, sha256,
/// published_at` in that order.
fn crl_record_from_row(r: &sqlx::any::AnyRow) -> CrlRecord {
    CrlRecord {
        ca_name: r.get(0),
        number: r.get(1),
        this_update: r.get(2),
        next_update: r.get(3),
        entries: r.get(4),
        sha256: r.get(5),
        published_at: r.get(6),
    }
}

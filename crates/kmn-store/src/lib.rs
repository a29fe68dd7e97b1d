//! kmn-store: the only crate with SQL.
//!
//! One store over sqlx's `Any` driver: SQLite by default (a file in the data dir, WAL,
//! `synchronous=FULL` so a commit is on disk before the answer), PostgreSQL when the URL
//! is `postgres://…`. The same SQL runs on both (`$1` placeholders; times as BIGINT Unix
//! seconds, serials as TEXT hex and BLOB); migrations are kept per backend and run by
//! [`migrate`]. State transitions are compare-and-set (`UPDATE … WHERE status = $old`):
//! zero rows is a typed [`StoreError::Conflict`], never a silent success. Issued
//! certificates and the audit log are append-only, enforced again by triggers.
#![forbid(unsafe_code)]

mod audit;
mod delivery;
mod doctors;
mod issuance;
mod jobs;
mod migrate;
mod ocsp;
mod portal;
mod proposal;
mod public_notices;
mod ra;
mod records;

use std::time::Duration;

/// The `UPDATE` of a compare-and-set, with its arguments bound ([`Tx::compare_and_set`]).
pub(crate) type CasQuery<'q> = sqlx::query::Query<'q, Any, sqlx::any::AnyArguments>;

use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{Any, AnyPool, AssertSqlSafe, Executor, Row, Transaction};

pub use audit::GENESIS as AUDIT_GENESIS;
pub use audit::{
    AccessRow, AuditEvent, AuditReport, CheckpointRow, NewAuditEvent, SEAL_ACTION, SealReport,
    Sealed, access_batch_hash,
};
pub use delivery::{DeliveryRow, PinMailerRow};
pub use doctors::{DoctorBindingChange, DoctorBindingFilter, DoctorBindingRow};
pub use issuance::{CardIssuanceRow, IssuanceState};
pub use jobs::JobRow;
pub use ocsp::{OcspDue, OcspPresign, OcspResponseRow, PresignedResponse, StoredOcspResponse};
pub use portal::{AuditFilter, RevokedRow, StateCount};
pub use proposal::{ProposalDecision, ProposalRow};
pub use public_notices::PublicNoticeRow;
pub use ra::*;
pub use records::*;

/// Which database is behind the store.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// SQLite (embedded default).
    Sqlite,
    /// PostgreSQL (scale-out).
    Postgres,
}

/// Store errors. Messages are for operators and administrators.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The database cannot be reached or opened.
    #[error("cannot open the database {url}: {reason}")]
    Unavailable {
        /// The URL with any password redacted.
        url: String,
        /// Why.
        reason: String,
    },
    /// A compare-and-set found another state: someone else changed the row first.
    #[error("conflict: {0}")]
    Conflict(String),
    /// The request is refused by a rule the store enforces for every caller (a
    /// revocation of a certificate the caller may not revoke, a migration blocked by
    /// the data). The message says why and what was (not) done.
    #[error("{0}")]
    Refused(String),
    /// The row does not exist.
    #[error("not found: {0}")]
    NotFound(String),
    /// The URL is not one this store understands.
    #[error("unsupported database URL {0}: use sqlite://PATH or postgres://…")]
    UnsupportedUrl(String),
    /// Any other database error.
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
}

/// The VALUES list of a multi-row INSERT: `($1,$2),($3,$4)` for 2 rows of 2 columns.
pub(crate) fn placeholders(rows: usize, cols: usize) -> String {
    (0..rows)
        .map(|r| {
            let cells: Vec<String> = (1..=cols).map(|c| format!("${}", r * cols + c)).collect();
            format!("({})", cells.join(","))
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// Replaces the password in a database URL with `***` (for logs, errors and `Debug`).
pub fn redact_url(url: &str) -> String {
    if let Some((scheme, rest)) = url.split_once("://")
        && let Some((creds, host)) = rest.split_once('@')
        && let Some((user, _pw)) = creds.split_once(':')
    {
        return format!("{scheme}://{user}:***@{host}");
    }
    url.to_string()
}

/// The store: a pool and the backend it talks to.
#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
    url_redacted: String,
    /// Who signs OCSP responses inside the transaction of a status change (issue 10
    /// item 5): installed by `kmn serve` ([`Store::set_ocsp_presigner`]); shared by
    /// every clone of the store.
    presigner: std::sync::Arc<std::sync::RwLock<Option<std::sync::Arc<dyn OcspPresign>>>>,
    /// Who carries out the effects a transaction deferred ([`Tx::defer`]) once it has
    /// committed ([`Store::set_after_commit`]); shared by every clone of the store.
    after_commit: std::sync::Arc<std::sync::RwLock<Option<std::sync::Arc<dyn AfterCommit>>>>,
    /// The PostgreSQL URL (with its password: never shown), for the LISTEN connection.
    pg_url: Option<std::sync::Arc<str>>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("backend", &self.backend)
            .field("url", &self.url_redacted)
            .finish()
    }
}

impl Store {
    /// Connects and runs the migrations. `sqlite://PATH` creates the file if needed.
    pub async fn open(url: &str) -> Result<Store, StoreError> {
        sqlx::any::install_default_drivers();
        let redacted = redact_url(url);
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Backend::Postgres
        } else {
            return Err(StoreError::UnsupportedUrl(redacted));
        };
        let unavailable = |e: sqlx::Error| StoreError::Unavailable {
            url: redacted.clone(),
            reason: e.to_string(),
        };
        let pool = match backend {
            Backend::Sqlite => {
                let url = if url.contains('?') {
                    url.to_string()
                } else {
                    format!("{url}?mode=rwc")
                };
                AnyPoolOptions::new()
                    .max_connections(4)
                    .acquire_timeout(Duration::from_secs(30))
                    .after_connect(|conn, _| {
                        Box::pin(async move {
                            // WAL + synchronous=FULL: every commit is synced (durable);
                            // writers wait for each other instead of failing.
                            conn.execute(
                                "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; \
                                 PRAGMA busy_timeout=30000; PRAGMA foreign_keys=ON;",
                            )
                            .await?;
                            Ok(())
                        })
                    })
                    .connect(&url)
                    .await
                    .map_err(unavailable)?
            }
            Backend::Postgres => AnyPoolOptions::new()
                .max_connections(8)
                .acquire_timeout(Duration::from_secs(10))
                .connect(url)
                .await
                .map_err(unavailable)?,
        };
        let store = Store {
            pool,
            backend,
            url_redacted: redacted,
            presigner: std::sync::Arc::default(),
            after_commit: std::sync::Arc::default(),
            pg_url: (backend == Backend::Postgres).then(|| url.into()),
        };
        migrate::run(&store).await?;
        Ok(store)
    }

    /// The backend.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The pool (for the few read-only queries that need no transaction).
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Begins a write transaction. On SQLite it takes the write lock at once
    /// (`BEGIN IMMEDIATE`), so that read-then-write never deadlocks.
    pub async fn begin(&self) -> Result<Tx, StoreError> {
        let tx = match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => self.pool.begin().await?,
        };
        Ok(Tx {
            tx,
            backend: self.backend,
            presigner: self.presigner(),
            effects: Vec::new(),
            after_commit: self.after_commit.read().ok().and_then(|g| g.clone()),
        })
    }

    /// Installs (or, with `None`, removes) the OCSP pre-signer: from now on every
    /// transaction that issues a certificate or changes its status signs its OCSP
    /// responses before it commits.
    pub fn set_ocsp_presigner(&self, p: Option<std::sync::Arc<dyn OcspPresign>>) {
        if let Ok(mut g) = self.presigner.write() {
            *g = p;
        }
    }

    /// Installs (or, with `None`, removes) the runner of after-commit effects: from now
    /// on every transaction that deferred an effect hands it over once it has committed.
    pub fn set_after_commit(&self, r: Option<std::sync::Arc<dyn AfterCommit>>) {
        if let Ok(mut g) = self.after_commit.write() {
            *g = r;
        }
    }

    /// A clone of this store without the after-commit runner (its own, empty): for the
    /// runner itself, which must not hold the store that holds it.
    pub fn without_after_commit(&self) -> Store {
        Store {
            after_commit: std::sync::Arc::default(),
            ..self.clone()
        }
    }

    fn presigner(&self) -> Option<std::sync::Arc<dyn OcspPresign>> {
        self.presigner.read().ok().and_then(|g| g.clone())
    }

    /// Begins a read-only transaction: a plain (deferred) BEGIN, so that on SQLite readers
    /// never wait for the write lock. Roll it back when done.
    pub async fn read(&self) -> Result<Tx, StoreError> {
        Ok(Tx {
            tx: self.pool.begin().await?,
            backend: self.backend,
            presigner: None,
            effects: Vec::new(),
            after_commit: None,
        })
    }

    /// Closes the pool.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// Listens for the CRL publisher's wake-ups on PostgreSQL (`LISTEN kmn_crl` on a
    /// connection of its own; migration 0014's triggers notify at the commit of every
    /// status change and every published CRL). `None` on SQLite, which has no
    /// notifications: there the publisher polls.
    pub async fn listen_crl_wakes(&self) -> Result<Option<CrlWakes>, StoreError> {
        let Some(url) = self.pg_url.as_deref() else {
            return Ok(None);
        };
        let unavailable = |e: sqlx::Error| StoreError::Unavailable {
            url: self.url_redacted.clone(),
            reason: e.to_string(),
        };
        let mut listener = sqlx::postgres::PgListener::connect(url)
            .await
            .map_err(unavailable)?;
        // A lost connection is reported (the caller polls meanwhile and listens again),
        // not silently re-established with the notifications of the gap lost.
        listener.eager_reconnect(false);
        let schema: String = sqlx::query_scalar("SELECT current_schema()::text")
            .fetch_one(&mut listener)
            .await
            .map_err(unavailable)?;
        // Named, so that an operator (or a test) can see and end it in pg_stat_activity.
        sqlx::query("SELECT set_config('application_name', $1, false)")
            .bind(format!("kmn crl listener {schema}"))
            .execute(&mut listener)
            .await
            .map_err(unavailable)?;
        listener
            .listen(CRL_WAKE_CHANNEL)
            .await
            .map_err(unavailable)?;
        Ok(Some(CrlWakes {
            listener,
            schema,
            url_redacted: self.url_redacted.clone(),
        }))
    }
}

/// The notification channel of migration 0014's `kmn_crl_wake()` trigger function.
const CRL_WAKE_CHANNEL: &str = "kmn_crl";

/// What woke the CRL publisher through PostgreSQL.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CrlWake {
    /// A certificate status changed (revocation, hold, release, issuance on hold).
    StatusChange,
    /// A CRL was recorded as published (by any instance or process).
    Published,
}

/// A LISTEN connection for the CRL publisher ([`Store::listen_crl_wakes`]).
pub struct CrlWakes {
    listener: sqlx::postgres::PgListener,
    /// Notifications are per database: those of other schemas are not for us.
    schema: String,
    url_redacted: String,
}

impl std::fmt::Debug for CrlWakes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CrlWakes")
            .field("schema", &self.schema)
            .field("url", &self.url_redacted)
            .finish()
    }
}

impl CrlWakes {
    /// Waits for the next wake-up of this store's schema. An error means the connection
    /// is lost (PostgreSQL restarted, the network): drop this and listen again; the
    /// notifications of the gap are gone, so look at the database once listening again.
    pub async fn next(&mut self) -> Result<CrlWake, StoreError> {
        loop {
            let n = self.listener.try_recv().await?;
            let Some(n) = n else {
                return Err(StoreError::Db(sqlx::Error::Io(std::io::Error::new(
                    std::io::ErrorKind::ConnectionAborted,
                    format!("the LISTEN connection to {} was lost", self.url_redacted),
                ))));
            };
            let mut parts = n.payload().splitn(2, ' ');
            if parts.next() != Some(self.schema.as_str()) {
                continue;
            }
            return Ok(match parts.next() {
                Some("crls") => CrlWake::Published,
                _ => CrlWake::StatusChange,
            });
        }
    }
}

/// One transaction: every use case loads, decides, writes and appends its audit event
/// inside one of these, then commits.
pub struct Tx {
    tx: Transaction<'static, Any>,
    backend: Backend,
    presigner: Option<std::sync::Arc<dyn OcspPresign>>,
    /// Effects to carry out once this transaction has committed.
    effects: Vec<kmn_domain::Effect>,
    after_commit: Option<std::sync::Arc<dyn AfterCommit>>,
}

/// Carries out the effects a committed transaction deferred ([`Tx::defer`]). Implemented
/// by kmn-app: the CLI publishes the CRL at once, `kmn serve` wakes its publisher.
pub trait AfterCommit: Send + Sync {
    /// Runs `effects` (never empty) after their transaction committed. Failures are the
    /// runner's to report: the transaction stays committed.
    fn run(&self, effects: Vec<kmn_domain::Effect>)
    -> futures_util::future::BoxFuture<'static, ()>;
}

impl Tx {
    /// Commits (durably: see the module doc), then hands the deferred effects to the
    /// installed after-commit runner, if any (without one they are dropped: `kmn serve`
    /// finds the work by itself).
    pub async fn commit(self) -> Result<(), StoreError> {
        let Tx {
            tx,
            effects,
            after_commit,
            ..
        } = self;
        tx.commit().await?;
        if let Some(r) = after_commit
            && !effects.is_empty()
        {
            r.run(effects).await;
        }
        Ok(())
    }

    /// States an effect to carry out once this transaction has committed (once, however
    /// often it is deferred); dropped if it rolls back.
    pub fn defer(&mut self, e: kmn_domain::Effect) {
        if !self.effects.contains(&e) {
            self.effects.push(e);
        }
    }

    /// The effects deferred so far.
    pub fn deferred(&self) -> &[kmn_domain::Effect] {
        &self.effects
    }

    /// Rolls back.
    pub async fn rollback(self) -> Result<(), StoreError> {
        self.tx.rollback().await?;
        Ok(())
    }

    /// The backend.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub(crate) fn conn(&mut self) -> &mut sqlx::AnyConnection {
        &mut self.tx
    }

    /// Runs the `UPDATE … WHERE … state = $old` of a compare-and-set and tells whether it
    /// changed exactly one row; `false` means the row was not in the expected state
    /// (someone else acted first).
    pub(crate) async fn compare_and_set(
        &mut self,
        update: CasQuery<'_>,
    ) -> Result<bool, StoreError> {
        Ok(update.execute(self.conn()).await?.rows_affected() == 1)
    }

    /// A compare-and-set whose zero rows is a [`StoreError::Conflict`] with the message
    /// `conflict` makes.
    pub(crate) async fn compare_and_set_or_conflict(
        &mut self,
        update: CasQuery<'_>,
        conflict: impl FnOnce() -> String,
    ) -> Result<(), StoreError> {
        if self.compare_and_set(update).await? {
            Ok(())
        } else {
            Err(StoreError::Conflict(conflict()))
        }
    }

    /// Runs a statement (used by tests to simulate tampering with the database).
    pub async fn execute_raw(&mut self, sql: &str) -> Result<u64, StoreError> {
        let r = sqlx::raw_sql(AssertSqlSafe(sql.to_string()))
            .execute(&mut *self.tx)
            .await?;
        Ok(r.rows_affected())
    }

    /// Reads a setting.
    pub async fn setting(&mut self, key: &str) -> Result<Option<String>, StoreError> {
        let row: Option<AnyRow> = sqlx::query("SELECT value FROM settings WHERE key = $1")
            .bind(key)
            .fetch_optional(self.conn())
            .await?;
        Ok(row.map(|r| r.get::<String, _>(0)))
    }

    /// Writes a setting (insert or replace).
    pub async fn set_setting(&mut self, key: &str, value: &str) -> Result<(), StoreError> {
        let n = sqlx::query("UPDATE settings SET value = $2 WHERE key = $1")
            .bind(key)
            .bind(value)
            .execute(self.conn())
            .await?
            .rows_affected();
        if n == 0 {
            sqlx::query("INSERT INTO settings (key, value) VALUES ($1, $2)")
                .bind(key)
                .bind(value)
                .execute(self.conn())
                .await?;
        }
        Ok(())
    }
}

/// Makes a fresh PostgreSQL schema for one test and returns the URL that uses it.
pub async fn create_test_schema(base_url: &str, schema: &str) -> Result<String, StoreError> {
    sqlx::any::install_default_drivers();
    let pool = AnyPoolOptions::new()
        .max_connections(1)
        .connect(base_url)
        .await
        .map_err(|e| StoreError::Unavailable {
            url: redact_url(base_url),
            reason: e.to_string(),
        })?;
    if !schema
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    {
        return Err(StoreError::UnsupportedUrl(format!(
            "bad schema name {schema}"
        )));
    }
    sqlx::raw_sql(AssertSqlSafe(format!(
        "CREATE SCHEMA IF NOT EXISTS {schema}"
    )))
    .execute(&pool)
    .await?;
    pool.close().await;
    let sep = if base_url.contains('?') { '&' } else { '?' };
    Ok(format!(
        "{base_url}{sep}options=-c%20search_path%3D{schema}"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multi_row_placeholders() {
        assert_eq!(placeholders(2, 3), "($1,$2,$3),($4,$5,$6)");
    }

    #[test]
    fn database_passwords_are_redacted() {
        assert_eq!(
            redact_url("postgres://kmn:s3cret@db.example:5432/kmn"),
            "postgres://kmn:***@db.example:5432/kmn"
        );
        assert_eq!(redact_url("sqlite://kmn.db"), "sqlite://kmn.db");
    }
}

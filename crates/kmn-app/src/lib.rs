//! kmn-app: one function per use case. Each loads what it needs, applies the domain
//! rules, writes in one transaction with its audit event, and commits; errors carry a
//! stable code and a message for the person at the other end.
#![forbid(unsafe_code)]

pub mod actor;
pub mod audit;
pub mod ca;
pub mod clock;
pub mod config;
pub mod effects;
pub mod error;
#[cfg(feature = "fault-points")]
pub mod fault;
pub mod health;
pub mod idempotency;
pub mod jobs;
pub mod portal;
pub mod proposal;
pub mod quickstart;
pub mod ra;
pub mod rights;
pub mod secrets;
pub mod station;
pub mod views;

use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use clock::{Clock, FixedClock, SystemClock};
pub use config::Config;
pub use error::AppError;
use kmn_store::Store;

/// An opened data dir: configuration, store, clock.
#[derive(Clone)]
pub struct App {
    /// The configuration (kmn.toml + environment).
    pub cfg: Config,
    /// The data dir.
    pub data_dir: PathBuf,
    /// The store: only kmn-app's use cases reach it (issue 9 item 2, one door).
    pub(crate) store: Store,
    /// The clock (a fake one in tests).
    pub clock: Arc<dyn Clock>,
    /// Software CA keys already decrypted by this process (scrypt costs about 25 ms a
    /// key), by CA name and key reference.
    pub(crate) ca_keys: ca::KeyCache,
    /// Wakes `kmn serve`'s CRL publisher (the after-commit effect in a server,
    /// [`effects`]).
    pub(crate) crl_wakes: Arc<tokio::sync::Notify>,
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App")
            .field("data_dir", &self.data_dir)
            .field("cfg", &self.cfg)
            .finish()
    }
}

/// Commits on success, rolls back on error: the end of every use case's transaction.
pub(crate) async fn finish<T>(tx: kmn_store::Tx, r: Result<T, AppError>) -> Result<T, AppError> {
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

/// The database file of a `sqlite:` URL (None for PostgreSQL and in-memory databases).
fn sqlite_file(url: &str) -> Option<PathBuf> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or_default();
    if path.is_empty() || path.starts_with(":memory:") {
        return None;
    }
    Some(PathBuf::from(path))
}

/// The database holds personal data and documents: the file is created 0600 before
/// SQLite opens it (SQLite gives its WAL and SHM files the database file's mode), and an
/// existing database, WAL or SHM with more bits is restricted to 0600, whatever the umask.
fn secure_sqlite_files(db: &Path) -> Result<(), AppError> {
    use std::os::unix::fs::OpenOptionsExt;
    if !db.exists() {
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(db)
        {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => {
                return Err(AppError::Io(format!(
                    "cannot create the database {}: {e}",
                    db.display()
                )));
            }
        }
    }
    let mut wal = db.as_os_str().to_owned();
    wal.push("-wal");
    let mut shm = db.as_os_str().to_owned();
    shm.push("-shm");
    for f in [db.to_path_buf(), PathBuf::from(wal), PathBuf::from(shm)] {
        secrets::restrict_file(&f, 0o600)?;
    }
    Ok(())
}

impl App {
    /// Opens an existing data dir (its kmn.toml must exist).
    pub async fn open(data_dir: &Path, clock: Arc<dyn Clock>) -> Result<App, AppError> {
        let cfg = Config::load(data_dir)?;
        Self::with_config(data_dir, cfg, clock).await
    }

    /// Opens the store for a given configuration.
    pub async fn with_config(
        data_dir: &Path,
        cfg: Config,
        clock: Arc<dyn Clock>,
    ) -> Result<App, AppError> {
        let url = cfg.database_url(data_dir);
        let db_file = sqlite_file(&url);
        if let Some(db) = &db_file {
            secure_sqlite_files(db)?;
        }
        let store = Store::open(&url).await?;
        if let Some(db) = &db_file {
            secure_sqlite_files(db)?;
        }
        Ok(App {
            cfg,
            data_dir: data_dir.to_path_buf(),
            store,
            clock,
            ca_keys: ca::KeyCache::default(),
            crl_wakes: Arc::new(tokio::sync::Notify::new()),
        })
    }

    /// The store itself, for kmn-bench and the integration tests (feature
    /// `test-support`); a use case is the only door for everything else.
    #[cfg(feature = "test-support")]
    #[doc(hidden)]
    pub fn store_for_tests(&self) -> &Store {
        &self.store
    }

    /// Closes the database connections (before the process hands the data dir over).
    pub async fn close(&self) {
        self.store.close().await;
    }

    /// Checks the audit chain (`kmn audit verify`).
    pub async fn verify_audit(&self) -> Result<views::AuditCheck, AppError> {
        let r = self.store.verify_audit().await?;
        Ok(views::AuditCheck {
            events: r.events,
            head: r.head,
            problem: r.problem,
        })
    }

    /// The database backend, for people (`Sqlite`, `Postgres`).
    pub fn backend_name(&self) -> String {
        format!("{:?}", self.store.backend())
    }

    /// Now, as Unix seconds.
    pub fn now(&self) -> i64 {
        self.clock.now().unix_timestamp()
    }

    /// The repository directory.
    pub fn repo_dir(&self) -> PathBuf {
        self.cfg.repository_dir(&self.data_dir)
    }
}

//! A data dir with a CA in a temporary directory, on SQLite or on a fresh PostgreSQL
//! schema, the way `kmn ca init` makes one.

use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use kmn_app::ca::{CeremonyParams, LoadedCa, Policies};
use kmn_app::config::{CaConfig, Config};
use kmn_app::{App, SystemClock};

/// The passphrase file inside the bench's data dirs (`ca.passphrase_file`).
/// `KMN_CA_PASSPHRASE` / `KMN_CA_PASSPHRASE_FILE` take precedence, as in `kmn`.
pub const PASSPHRASE_FILE: &str = "bench-passphrase";
const PASSPHRASE: &str = "kmn-bench throwaway passphrase";

/// Where the store lives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Backend {
    /// `sqlite://kmn.db` in the data dir (WAL, synchronous=FULL).
    Sqlite,
    /// A fresh schema on this PostgreSQL server (base URL).
    Postgres(String),
}

impl Backend {
    /// Short name.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Sqlite => "SQLite",
            Self::Postgres(_) => "PostgreSQL",
        }
    }
}

/// An opened data dir with its issuing CA.
pub struct BenchCa {
    /// The app.
    pub app: App,
    /// The active issuing CA with its key.
    pub ca: LoadedCa,
    /// The policy OIDs.
    pub policies: Policies,
    /// The PostgreSQL schema to drop at the end, if any.
    pub pg_schema: Option<String>,
}

/// Opens a data dir at `dir` whose kmn.toml already exists (made by [`make`]).
pub async fn open_existing(dir: &Path) -> Result<(App, LoadedCa)> {
    let text = std::fs::read_to_string(dir.join("kmn.toml"))?;
    let cfg = Config::parse(&text).map_err(anyhow::Error::msg)?;
    let app = App::with_config(dir, cfg, Arc::new(SystemClock)).await?;
    let ca = kmn_app::ca::load_active(&app, kmn_app::views::CaKind::Issuing).await?;
    Ok((app, ca))
}

/// Makes kmn.toml, the store and the CA (the key ceremony) in `dir`.
pub async fn make(dir: &Path, backend: &Backend, schema_tag: &str) -> Result<BenchCa> {
    make_with(dir, backend, schema_tag, false).await
}

/// [`make`], with `demo = true` when `demo` (for the demo's facility, people and card).
pub async fn make_with(
    dir: &Path,
    backend: &Backend,
    schema_tag: &str,
    demo: bool,
) -> Result<BenchCa> {
    let (database_url, pg_schema) = match backend {
        Backend::Sqlite => ("sqlite://kmn.db".to_string(), None),
        Backend::Postgres(base) => {
            let schema = format!("bench_{}_{schema_tag}", std::process::id());
            let url = kmn_store::create_test_schema(base, &schema)
                .await
                .with_context(|| format!("PostgreSQL at {base}"))?;
            (url, Some(schema))
        }
    };
    let cfg = Config {
        demo,
        database_url,
        ca: CaConfig {
            passphrase_file: Some(PASSPHRASE_FILE.into()),
            ..CaConfig::default()
        },
        ..Config::default()
    };
    kmn_app::secrets::write_atomic(&dir.join(PASSPHRASE_FILE), PASSPHRASE.as_bytes(), 0o600)?;
    std::fs::write(dir.join("kmn.toml"), cfg.to_toml())?;
    let app = App::with_config(dir, cfg, Arc::new(SystemClock)).await?;
    let pass = app.cfg.ca_passphrase(dir)?;
    if pass.chars().count() < 12 {
        bail!("KMN_CA_PASSPHRASE must have at least 12 characters");
    }
    kmn_app::ca::init(&app, &CeremonyParams::default(), &pass).await?;
    let ca = kmn_app::ca::load_active(&app, kmn_app::views::CaKind::Issuing).await?;
    let policies = Policies::current(&app).await?;
    Ok(BenchCa {
        app,
        ca,
        policies,
        pg_schema,
    })
}

impl BenchCa {
    /// Drops the PostgreSQL schema (if any) and closes the store.
    pub async fn finish(self) -> Result<()> {
        if let Some(schema) = &self.pg_schema {
            let mut tx = self.app.store_for_tests().begin().await?;
            tx.execute_raw(&format!("DROP SCHEMA {schema} CASCADE"))
                .await?;
            tx.commit().await?;
        }
        self.app.store_for_tests().close().await;
        Ok(())
    }
}

//! A small migration runner: migrations are compiled in, one folder per backend, each
//! applied once in its own transaction and recorded in `schema_migrations`.

use sqlx::{AssertSqlSafe, Row};

use crate::{Backend, Store, StoreError};

struct Migration {
    version: i64,
    sqlite: &'static str,
    postgres: &'static str,
}

const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        sqlite: include_str!("../migrations/sqlite/0001_foundation.sql"),
        postgres: include_str!("../migrations/postgres/0001_foundation.sql"),
    },
    Migration {
        version: 2,
        sqlite: include_str!("../migrations/sqlite/0002_registration.sql"),
        postgres: include_str!("../migrations/postgres/0002_registration.sql"),
    },
    Migration {
        version: 3,
        sqlite: include_str!("../migrations/sqlite/0003_cards.sql"),
        postgres: include_str!("../migrations/postgres/0003_cards.sql"),
    },
    Migration {
        version: 4,
        sqlite: include_str!("../migrations/sqlite/0004_delivery.sql"),
        postgres: include_str!("../migrations/postgres/0004_delivery.sql"),
    },
];

pub(crate) async fn run(store: &Store) -> Result<(), StoreError> {
    // One transaction for all of it. On PostgreSQL an advisory lock makes instances that
    // start together take turns (CREATE TABLE IF NOT EXISTS itself races); SQLite's
    // BEGIN IMMEDIATE already serialises writers.
    let mut tx = store.begin().await?;
    if store.backend() == Backend::Postgres {
        sqlx::raw_sql("SELECT pg_advisory_xact_lock(7346284913)")
            .execute(tx.conn())
            .await?;
    }
    sqlx::raw_sql(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)",
    )
    .execute(tx.conn())
    .await?;
    for m in MIGRATIONS {
        let done = sqlx::query("SELECT COUNT(*) FROM schema_migrations WHERE version = $1")
            .bind(m.version)
            .fetch_one(tx.conn())
            .await?
            .get::<i64, _>(0);
        if done > 0 {
            continue;
        }
        let sql = match store.backend() {
            Backend::Sqlite => m.sqlite,
            Backend::Postgres => m.postgres,
        };
        sqlx::raw_sql(AssertSqlSafe(sql)).execute(tx.conn()).await?;
        sqlx::query("INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)")
            .bind(m.version)
            .bind(time::OffsetDateTime::now_utc().unix_timestamp())
            .execute(tx.conn())
            .await?;
    }
    tx.commit().await?;
    Ok(())
}

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
    Migration {
        version: 5,
        sqlite: include_str!("../migrations/sqlite/0005_card_binding.sql"),
        postgres: include_str!("../migrations/postgres/0005_card_binding.sql"),
    },
    Migration {
        version: 6,
        sqlite: include_str!("../migrations/sqlite/0006_persons_and_proposals.sql"),
        postgres: include_str!("../migrations/postgres/0006_persons_and_proposals.sql"),
    },
    Migration {
        version: 7,
        sqlite: include_str!("../migrations/sqlite/0007_audit_checkpoints.sql"),
        postgres: include_str!("../migrations/postgres/0007_audit_checkpoints.sql"),
    },
    Migration {
        version: 8,
        sqlite: include_str!("../migrations/sqlite/0008_operator_tokens.sql"),
        postgres: include_str!("../migrations/postgres/0008_operator_tokens.sql"),
    },
    Migration {
        version: 9,
        sqlite: include_str!("../migrations/sqlite/0009_revocation_grounds.sql"),
        postgres: include_str!("../migrations/postgres/0009_revocation_grounds.sql"),
    },
    Migration {
        version: 10,
        sqlite: include_str!("../migrations/sqlite/0010_ocsp_responses.sql"),
        postgres: include_str!("../migrations/postgres/0010_ocsp_responses.sql"),
    },
    Migration {
        version: 11,
        sqlite: include_str!("../migrations/sqlite/0011_emergency_attempts.sql"),
        postgres: include_str!("../migrations/postgres/0011_emergency_attempts.sql"),
    },
    Migration {
        version: 12,
        sqlite: include_str!("../migrations/sqlite/0012_cert_status_updated.sql"),
        postgres: include_str!("../migrations/postgres/0012_cert_status_updated.sql"),
    },
    Migration {
        version: 13,
        sqlite: include_str!("../migrations/sqlite/0013_revocation_evidence.sql"),
        postgres: include_str!("../migrations/postgres/0013_revocation_evidence.sql"),
    },
    Migration {
        version: 14,
        sqlite: include_str!("../migrations/sqlite/0014_crl_bytes.sql"),
        postgres: include_str!("../migrations/postgres/0014_crl_bytes.sql"),
    },
    Migration {
        version: 15,
        sqlite: include_str!("../migrations/sqlite/0015_ocsp_work_leases.sql"),
        postgres: include_str!("../migrations/postgres/0015_ocsp_work_leases.sql"),
    },
    Migration {
        version: 16,
        sqlite: include_str!("../migrations/sqlite/0016_doctor_bindings.sql"),
        postgres: include_str!("../migrations/postgres/0016_doctor_bindings.sql"),
    },
    Migration {
        version: 17,
        sqlite: include_str!("../migrations/sqlite/0017_display_preferences.sql"),
        postgres: include_str!("../migrations/postgres/0017_display_preferences.sql"),
    },
    Migration {
        version: 18,
        sqlite: include_str!("../migrations/sqlite/0018_public_notices.sql"),
        postgres: include_str!("../migrations/postgres/0018_public_notices.sql"),
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
        if m.version == 5 {
            refuse_card_duplicates(&mut tx).await?;
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

/// Before 0005 makes `cards.cert_serial_hex` and the live `token_serial` UNIQUE: lists
/// the cards that share one and refuses, so nothing is applied half-way and the
/// administrator learns what to resolve.
async fn refuse_card_duplicates(tx: &mut crate::Tx) -> Result<(), StoreError> {
    let mut lines = Vec::new();
    for (what, column, live) in [
        ("certificate serial", "cert_serial_hex", ""),
        (
            "token serial (live cards)",
            "token_serial",
            " AND state NOT IN ('destroyed', 'terminated')",
        ),
    ] {
        let sql = format!(
            "SELECT {column}, id FROM cards WHERE {column} IS NOT NULL{live} AND {column} IN \
             (SELECT {column} FROM cards WHERE {column} IS NOT NULL{live} GROUP BY {column} HAVING COUNT(*) > 1) \
             ORDER BY {column}, id"
        );
        let rows = sqlx::query(AssertSqlSafe(sql)).fetch_all(tx.conn()).await?;
        let mut groups: Vec<(String, Vec<String>)> = Vec::new();
        for r in rows {
            let (value, id): (String, String) = (r.get(0), r.get(1));
            match groups.last_mut() {
                Some((v, ids)) if *v == value => ids.push(id),
                _ => groups.push((value, vec![id])),
            }
        }
        for (value, ids) in groups {
            lines.push(format!("  {what} {value}: cards {}", ids.join(", ")));
        }
    }
    if lines.is_empty() {
        return Ok(());
    }
    Err(StoreError::Refused(format!(
        "cannot upgrade the database to schema 5 (one card per certificate, one live card per token): \
         these cards share a serial; nothing was changed. Resolve each (revoke the shared certificate \
         and correct the wrong card's record; a token serial is free again once its card is destroyed), \
         then start kmn again:\n{}",
        lines.join("\n")
    )))
}

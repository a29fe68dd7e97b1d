//! Reads for the portal's overview pages (issue 12): counts per state with the age of
//! the oldest item (the support center's work queues), audit and access log queries with
//! filters, proposals by state, and the figures of the dashboard. Read-only.

use sqlx::Row;

use sqlx::AssertSqlSafe;

use crate::{AccessRow, AuditEvent, ProposalRow, StoreError, Tx};

/// How many rows are in one state, and since when the oldest waits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StateCount {
    /// The state code.
    pub state: String,
    /// How many.
    pub count: i64,
    /// The oldest row's time in that state (Unix seconds; `updated_at` or the mailer's
    /// own time), if any.
    pub oldest: Option<i64>,
}

/// Filters of the audit log (each optional; all given ones must match).
#[derive(Clone, Debug, Default)]
pub struct AuditFilter {
    /// Actions starting with this (`card.`, `cert.revoke`).
    pub action_prefix: Option<String>,
    /// Objects starting with this (`card:C00000002`).
    pub object_prefix: Option<String>,
    /// The actor exactly.
    pub actor: Option<String>,
    /// The facility exactly.
    pub facility: Option<String>,
    /// At or after (Unix seconds).
    pub from: Option<i64>,
    /// Before (Unix seconds).
    pub to: Option<i64>,
    /// At most this many, newest first.
    pub limit: i64,
}

/// A revoked certificate's reason code and grounds (the dashboard's revocations).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RevokedRow {
    /// CRL reason code.
    pub reason: Option<i64>,
    /// The grounds' code (`emergency:lost`, …), if recorded.
    pub grounds: Option<String>,
    /// When.
    pub revoked_at: Option<i64>,
}

fn like_prefix(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 1);
    for c in s.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}

impl Tx {
    async fn state_counts(&mut self, sql: &'static str) -> Result<Vec<StateCount>, StoreError> {
        let rows = sqlx::query(sql).fetch_all(self.conn()).await?;
        Ok(rows
            .iter()
            .map(|r| StateCount {
                state: r.get(0),
                count: r.get(1),
                oldest: r.get::<Option<i64>, _>(2),
            })
            .collect())
    }

    /// Applications per state, with the oldest `updated_at`.
    pub async fn application_state_counts(&mut self) -> Result<Vec<StateCount>, StoreError> {
        self.state_counts(
            "SELECT state, COUNT(*), MIN(updated_at) FROM applications GROUP BY state ORDER BY state",
        )
        .await
    }

    /// Cards per state, with the oldest `updated_at`.
    pub async fn card_state_counts(&mut self) -> Result<Vec<StateCount>, StoreError> {
        self.state_counts(
            "SELECT state, COUNT(*), MIN(updated_at) FROM cards GROUP BY state ORDER BY state",
        )
        .await
    }

    /// PIN mailers per state, with the oldest time of entering it.
    pub async fn pin_mailer_state_counts(&mut self) -> Result<Vec<StateCount>, StoreError> {
        self.state_counts(
            "SELECT state, COUNT(*), MIN(COALESCE(destroyed_at, dispatched_at, released_at, created_at)) \
             FROM pin_mailers GROUP BY state ORDER BY state",
        )
        .await
    }

    /// Audit events matching `f`, newest first.
    pub async fn audit_events_filtered(
        &mut self,
        f: &AuditFilter,
    ) -> Result<Vec<AuditEvent>, StoreError> {
        let mut sql = String::from("SELECT * FROM audit_events WHERE 1 = 1");
        let mut binds: Vec<String> = Vec::new();
        let mut ints: Vec<i64> = Vec::new();
        // Text binds first ($1…), then integers.
        for (col, v, like) in [
            ("action", &f.action_prefix, true),
            ("object", &f.object_prefix, true),
            ("actor", &f.actor, false),
            ("facility", &f.facility, false),
        ] {
            if let Some(v) = v {
                binds.push(if like { like_prefix(v) } else { v.clone() });
                if like {
                    sql.push_str(&format!(" AND {col} LIKE ${} ESCAPE '\\'", binds.len()));
                } else {
                    sql.push_str(&format!(" AND {col} = ${}", binds.len()));
                }
            }
        }
        for (op, v) in [(">=", f.from), ("<", f.to)] {
            if let Some(v) = v {
                ints.push(v);
                sql.push_str(&format!(" AND at {op} ${}", binds.len() + ints.len()));
            }
        }
        sql.push_str(&format!(
            " ORDER BY seq DESC LIMIT {}",
            f.limit.clamp(1, 10_000)
        ));
        let mut q = sqlx::query(AssertSqlSafe(sql));
        for b in &binds {
            q = q.bind(b.as_str());
        }
        for i in &ints {
            q = q.bind(*i);
        }
        let rows = q.fetch_all(self.conn()).await?;
        Ok(rows.iter().map(crate::audit::event_row).collect())
    }

    /// The events of a card and of its certificate, oldest first.
    pub async fn card_events(
        &mut self,
        card_id: &str,
        cert_serial_hex: Option<&str>,
    ) -> Result<Vec<AuditEvent>, StoreError> {
        let cert = cert_serial_hex
            .map(|s| format!("cert:{s}"))
            .unwrap_or_default();
        let rows = sqlx::query(
            "SELECT * FROM audit_events WHERE object = $1 OR object LIKE $2 ESCAPE '\\' OR (object = $3 AND $3 <> '') ORDER BY seq",
        )
        .bind(format!("card:{card_id}"))
        .bind(like_prefix(&format!("card:{card_id}/")))
        .bind(cert)
        .fetch_all(self.conn())
        .await?;
        Ok(rows.iter().map(crate::audit::event_row).collect())
    }

    /// The personal-data access log matching the filters, newest first.
    pub async fn access_log_filtered(
        &mut self,
        account: Option<&str>,
        facility: Option<&str>,
        from: Option<i64>,
        to: Option<i64>,
        limit: i64,
    ) -> Result<Vec<AccessRow>, StoreError> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT id, at, account_id, role, action, object, facility_code FROM access_log \
             WHERE ($1 = '' OR account_id = $1) AND ($2 = '' OR facility_code = $2) \
             AND at >= $3 AND at < $4 ORDER BY id DESC LIMIT {}",
            limit.clamp(1, 10_000)
        )))
        .bind(account.unwrap_or(""))
        .bind(facility.unwrap_or(""))
        .bind(from.unwrap_or(i64::MIN))
        .bind(to.unwrap_or(i64::MAX))
        .fetch_all(self.conn())
        .await?;
        Ok(rows
            .iter()
            .map(|r| AccessRow {
                id: r.get(0),
                at: r.get(1),
                account_id: r.get(2),
                role: r.get(3),
                action: r.get(4),
                object: r.get(5),
                facility: r.get(6),
            })
            .collect())
    }

    /// Proposals in a state (all when None), newest first.
    pub async fn list_proposals(
        &mut self,
        state: Option<&str>,
        limit: i64,
    ) -> Result<Vec<ProposalRow>, StoreError> {
        Ok(sqlx::query_as::<_, ProposalRow>(AssertSqlSafe(format!(
            "SELECT * FROM proposals WHERE ($1 = '' OR state = $1) ORDER BY proposed_at DESC, id LIMIT {}",
            limit.clamp(1, 1000)
        )))
        .bind(state.unwrap_or(""))
        .fetch_all(self.conn())
        .await?)
    }

    /// Creation times of applications since `since` (the dashboard's weeks).
    pub async fn application_times_since(&mut self, since: i64) -> Result<Vec<i64>, StoreError> {
        let rows = sqlx::query("SELECT created_at FROM applications WHERE created_at >= $1")
            .bind(since)
            .fetch_all(self.conn())
            .await?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    }

    /// Revoked certificates since `since`.
    pub async fn revocations_since(&mut self, since: i64) -> Result<Vec<RevokedRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT reason, grounds, revoked_at FROM cert_status WHERE status = 'revoked' AND revoked_at >= $1",
        )
        .bind(since)
        .fetch_all(self.conn())
        .await?;
        Ok(rows
            .iter()
            .map(|r| RevokedRow {
                reason: r.get::<Option<i64>, _>(0),
                grounds: r.get::<Option<String>, _>(1),
                revoked_at: r.get::<Option<i64>, _>(2),
            })
            .collect())
    }

    /// `not_after` of live cards (not revoked, returned, destroyed or ended) expiring
    /// before `until`.
    pub async fn card_expiries_before(&mut self, until: i64) -> Result<Vec<i64>, StoreError> {
        let rows = sqlx::query(
            "SELECT not_after FROM cards WHERE not_after IS NOT NULL AND not_after < $1 \
             AND state IN ('personalized', 'shipped', 'received', 'handed_over', 'active', 'suspended')",
        )
        .bind(until)
        .fetch_all(self.conn())
        .await?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    }

    /// The size in bytes of the last CRL of each CA (None when not kept).
    pub async fn last_crl_sizes(&mut self) -> Result<Vec<(String, i64, Option<i64>)>, StoreError> {
        let rows = sqlx::query(
            "SELECT c.ca_name, c.number, CAST(LENGTH(c.der) AS BIGINT) FROM crls c \
             WHERE c.number = (SELECT MAX(number) FROM crls d WHERE d.ca_name = c.ca_name) ORDER BY c.ca_name",
        )
        .fetch_all(self.conn())
        .await?;
        Ok(rows
            .iter()
            .map(|r| (r.get(0), r.get(1), r.get::<Option<i64>, _>(2)))
            .collect())
    }

    /// People whose kana name starts with `kana` (spaces ignored), within a facility
    /// when given.
    pub async fn persons_by_kana(
        &mut self,
        kana: &str,
        facility: Option<&str>,
        limit: i64,
    ) -> Result<Vec<crate::PersonRow>, StoreError> {
        Ok(sqlx::query_as::<_, crate::PersonRow>(AssertSqlSafe(format!(
            "SELECT p.* FROM persons p WHERE REPLACE(REPLACE(p.name_kana, ' ', ''), '　', '') LIKE $1 ESCAPE '\\' \
             AND ($2 = '' OR EXISTS (SELECT 1 FROM affiliations a WHERE a.holder_id = p.holder_id AND a.facility_code = $2)) \
             ORDER BY p.name_kana, p.holder_id LIMIT {}",
            limit.clamp(1, 500)
        )))
        .bind(like_prefix(kana))
        .bind(facility.unwrap_or(""))
        .fetch_all(self.conn())
        .await?)
    }

    /// An account's date style (`western`, `era`), if it chose one.
    pub async fn date_style(&mut self, account_id: &str) -> Result<Option<String>, StoreError> {
        Ok(
            sqlx::query("SELECT date_style FROM display_preferences WHERE account_id = $1")
                .bind(account_id)
                .fetch_optional(self.conn())
                .await?
                .map(|r| r.get(0)),
        )
    }

    /// Records an account's date style.
    pub async fn set_date_style(
        &mut self,
        account_id: &str,
        style: &str,
        at: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO display_preferences (account_id, date_style, updated_at) VALUES ($1, $2, $3) \
             ON CONFLICT (account_id) DO UPDATE SET date_style = excluded.date_style, updated_at = excluded.updated_at",
        )
        .bind(account_id)
        .bind(style)
        .bind(at)
        .execute(self.conn())
        .await?;
        Ok(())
    }
}

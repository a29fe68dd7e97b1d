//! The doctor registry (issue 11 item 3): doctors' HPKI certificates bound to facilities.
//! Transitions are compare-and-set on (state, version); the same certificate is open at
//! most once per facility (a partial unique index); rows are never deleted.

use sqlx::FromRow;

use crate::{StoreError, Tx};

/// A doctor's binding: one registered certificate at one facility.
#[derive(Clone, Debug, FromRow, serde::Serialize)]
pub struct DoctorBindingRow {
    pub id: String,
    pub facility_code: String,
    /// The issuer Name, DER, lowercase hex (compared byte for byte).
    pub issuer_der_hex: String,
    pub issuer_text: String,
    /// The serial, lowercase hex of its unsigned value.
    pub serial_hex: String,
    /// SHA-256 of the SubjectPublicKeyInfo, lowercase hex.
    pub spki_sha256: String,
    /// SHA-256 of the whole certificate, lowercase hex.
    pub cert_sha256: String,
    pub cert_der: Vec<u8>,
    pub subject_text: String,
    pub not_before: i64,
    pub not_after: i64,
    pub state: String,
    pub enrolled_by: String,
    pub enrolled_at: i64,
    pub confirmed_by: Option<String>,
    /// The person who confirmed (a desk member's holder id, or the center person who
    /// recorded a written confirmation): the approver must be another.
    pub confirmed_person: Option<String>,
    /// For a confirmation recorded by the center: who at the facility gave it.
    pub confirmed_note: Option<String>,
    pub confirmed_at: Option<i64>,
    pub approved_by: Option<String>,
    pub approved_at: Option<i64>,
    /// Who ended, refused or withdrew it.
    pub closed_by: Option<String>,
    pub closed_at: Option<i64>,
    /// The day the doctor left the facility (YYYY-MM-DD, JST), for an ended binding.
    pub ended_on: Option<String>,
    pub close_reason: Option<String>,
    pub updated_at: i64,
    pub version: i64,
}

/// What a transition writes besides the state.
#[derive(Clone, Debug, Default)]
pub struct DoctorBindingChange<'a> {
    pub confirmed_by: Option<&'a str>,
    pub confirmed_person: Option<&'a str>,
    pub confirmed_note: Option<&'a str>,
    pub approved_by: Option<&'a str>,
    pub closed_by: Option<&'a str>,
    pub ended_on: Option<&'a str>,
    pub close_reason: Option<&'a str>,
}

/// Filters for listing bindings.
#[derive(Clone, Debug, Default)]
pub struct DoctorBindingFilter {
    pub facility_code: Option<String>,
    pub state: Option<String>,
    /// Keyset pagination: ids after this one.
    pub after_id: Option<String>,
    pub limit: i64,
}

impl Tx {
    /// Records a new binding. A certificate already open at the facility is a conflict.
    pub async fn insert_doctor_binding(&mut self, b: &DoctorBindingRow) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO doctor_bindings (id, facility_code, issuer_der_hex, issuer_text, serial_hex, spki_sha256, \
             cert_sha256, cert_der, subject_text, not_before, not_after, state, enrolled_by, enrolled_at, updated_at, version) \
             VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,1)",
        )
        .bind(&b.id)
        .bind(&b.facility_code)
        .bind(&b.issuer_der_hex)
        .bind(&b.issuer_text)
        .bind(&b.serial_hex)
        .bind(&b.spki_sha256)
        .bind(&b.cert_sha256)
        .bind(&b.cert_der)
        .bind(&b.subject_text)
        .bind(b.not_before)
        .bind(b.not_after)
        .bind(&b.state)
        .bind(&b.enrolled_by)
        .bind(b.enrolled_at)
        .bind(b.updated_at)
        .execute(self.conn())
        .await
        .map_err(|e| match &e {
            sqlx::Error::Database(d) if d.is_unique_violation() => StoreError::Conflict(format!(
                "certificate {} is already enrolled at {}",
                b.serial_hex, b.facility_code
            )),
            _ => StoreError::Db(e),
        })?;
        Ok(())
    }

    /// A binding by id.
    pub async fn doctor_binding(
        &mut self,
        id: &str,
    ) -> Result<Option<DoctorBindingRow>, StoreError> {
        Ok(
            sqlx::query_as::<_, DoctorBindingRow>("SELECT * FROM doctor_bindings WHERE id = $1")
                .bind(id)
                .fetch_optional(self.conn())
                .await?,
        )
    }

    /// Bindings by filter, in id order.
    pub async fn list_doctor_bindings(
        &mut self,
        f: &DoctorBindingFilter,
    ) -> Result<Vec<DoctorBindingRow>, StoreError> {
        Ok(sqlx::query_as::<_, DoctorBindingRow>(
            "SELECT * FROM doctor_bindings WHERE ($1 IS NULL OR facility_code = $1) AND ($2 IS NULL OR state = $2) \
             AND ($3 IS NULL OR id > $3) ORDER BY id LIMIT $4",
        )
        .bind(f.facility_code.as_deref())
        .bind(f.state.as_deref())
        .bind(f.after_id.as_deref())
        .bind(f.limit)
        .fetch_all(self.conn())
        .await?)
    }

    /// The bindings of one certificate (issuer Name DER hex and serial hex) in `state`,
    /// whatever its key: the caller compares the SPKI hash.
    pub async fn doctor_bindings_of_cert(
        &mut self,
        issuer_der_hex: &str,
        serial_hex: &str,
        state: &str,
    ) -> Result<Vec<DoctorBindingRow>, StoreError> {
        Ok(sqlx::query_as::<_, DoctorBindingRow>(
            "SELECT * FROM doctor_bindings WHERE issuer_der_hex = $1 AND serial_hex = $2 AND state = $3 ORDER BY facility_code",
        )
        .bind(issuer_der_hex)
        .bind(serial_hex)
        .bind(state)
        .fetch_all(self.conn())
        .await?)
    }

    /// Moves a binding from `from` (at `version`) to `to`, by compare-and-set; zero rows
    /// is a conflict.
    #[allow(clippy::too_many_arguments)]
    pub async fn transition_doctor_binding(
        &mut self,
        id: &str,
        from: &str,
        version: i64,
        to: &str,
        at: i64,
        c: &DoctorBindingChange<'_>,
    ) -> Result<(), StoreError> {
        let update = sqlx::query(
            "UPDATE doctor_bindings SET state = $4, version = version + 1, updated_at = $5, \
             confirmed_by = COALESCE($6, confirmed_by), confirmed_person = COALESCE($7, confirmed_person), \
             confirmed_note = COALESCE($8, confirmed_note), \
             confirmed_at = CASE WHEN $6 IS NULL THEN confirmed_at ELSE $5 END, \
             approved_by = COALESCE($9, approved_by), approved_at = CASE WHEN $9 IS NULL THEN approved_at ELSE $5 END, \
             closed_by = COALESCE($10, closed_by), closed_at = CASE WHEN $10 IS NULL THEN closed_at ELSE $5 END, \
             ended_on = COALESCE($11, ended_on), close_reason = COALESCE($12, close_reason) \
             WHERE id = $1 AND state = $2 AND version = $3",
        )
        .bind(id)
        .bind(from)
        .bind(version)
        .bind(to)
        .bind(at)
        .bind(c.confirmed_by)
        .bind(c.confirmed_person)
        .bind(c.confirmed_note)
        .bind(c.approved_by)
        .bind(c.closed_by)
        .bind(c.ended_on)
        .bind(c.close_reason);
        self.compare_and_set_or_conflict(update, || {
            format!("doctor binding {id} was changed by someone else")
        })
        .await
    }
}

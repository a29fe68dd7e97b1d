//! Registration-authority rows: facilities, consents, people and affiliations,
//! applications with their rounds and documents, cards, notices and the mail outbox,
//! accounts, the access log and idempotency keys. Codes are the domain's snake_case
//! strings; the application layer turns them into domain types.

use sqlx::any::AnyRow;
use sqlx::{AssertSqlSafe, FromRow, Row};

use crate::{StoreError, Tx};

/// A facility.
#[derive(Clone, Debug, FromRow, serde::Serialize)]
pub struct FacilityRow {
    pub code: String,
    pub name_kanji: String,
    pub name_kana: String,
    pub name_romaji: String,
    pub kind: String,
    pub postal_code: String,
    pub address: String,
    pub phone: String,
    pub email: String,
    pub status: String,
    pub created_at: i64,
    pub updated_at: i64,
    pub version: i64,
}

/// A consent to a document version.
#[derive(Clone, Debug, FromRow, serde::Serialize)]
pub struct ConsentRow {
    pub facility_code: String,
    pub kind: String,
    pub version: String,
    pub given_by: String,
    pub given_at: i64,
    pub recorded_by: String,
}

/// A published document version (CPS, terms, privacy policy).
#[derive(Clone, Debug, FromRow)]
pub struct PublishedDocumentRow {
    pub kind: String,
    pub version: String,
    pub file_name: String,
    pub sha256: String,
    pub bytes: Vec<u8>,
    pub published_at: i64,
    pub published_by: String,
}

/// A published document version without its bytes (the list of versions).
#[derive(Clone, Debug, FromRow, serde::Serialize)]
pub struct PublishedDocumentInfo {
    pub kind: String,
    pub version: String,
    pub file_name: String,
    pub sha256: String,
    pub published_at: i64,
    pub published_by: String,
}

/// A person (holder).
#[derive(Clone, Debug, FromRow, serde::Serialize)]
pub struct PersonRow {
    pub holder_id: String,
    pub name_kanji: String,
    pub name_kana: String,
    pub name_romaji: String,
    pub date_of_birth: String,
    pub profession: String,
    pub licence_checked: i64,
    pub work_email: String,
    pub created_at: i64,
    pub updated_at: i64,
    pub version: i64,
}

/// A person's affiliation to a facility.
#[derive(Clone, Debug, FromRow, serde::Serialize)]
pub struct AffiliationRow {
    pub holder_id: String,
    pub facility_code: String,
    pub permitted: i64,
    pub is_desk: i64,
    pub since: i64,
}

/// An application.
#[derive(Clone, Debug, FromRow, serde::Serialize)]
pub struct ApplicationRow {
    pub id: String,
    pub facility_code: String,
    pub holder_id: String,
    pub kind: String,
    pub kind_detail: Option<String>,
    pub validity_years: Option<i64>,
    pub target_card_id: Option<String>,
    pub state: String,
    pub fee_bearing: i64,
    pub created_by: String,
    pub created_at: i64,
    pub updated_at: i64,
    pub decided_by: Option<String>,
    pub decided_at: Option<i64>,
    pub reject_reason: Option<String>,
    pub card_id: Option<String>,
    pub version: i64,
}

/// One round of an application's review (every round is kept, 第6条).
#[derive(Clone, Debug, FromRow, serde::Serialize)]
pub struct RoundRow {
    pub application_id: String,
    pub seq: i64,
    pub action: String,
    pub actor: String,
    pub at: i64,
    pub from_state: String,
    pub to_state: String,
    pub deficiencies: Option<String>,
    pub comment: Option<String>,
}

/// A document attached to an application (metadata; bytes separately).
#[derive(Clone, Debug, FromRow, serde::Serialize)]
pub struct DocumentRow {
    pub id: String,
    pub application_id: String,
    pub file_name: String,
    pub media_type: String,
    pub sha256: String,
    pub size: i64,
    pub uploaded_by: String,
    pub uploaded_at: i64,
    pub retain_until: Option<i64>,
}

/// A card.
#[derive(Clone, Debug, FromRow, serde::Serialize)]
pub struct CardRow {
    pub id: String,
    pub holder_id: String,
    pub facility_code: String,
    pub application_id: String,
    pub state: String,
    pub cert_serial_hex: Option<String>,
    pub token_serial: Option<String>,
    pub validity_years: i64,
    pub issued_at: Option<i64>,
    pub not_after: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
    pub version: i64,
}

/// A notice to a facility (or to the center when `facility_code` is None).
#[derive(Clone, Debug, FromRow, serde::Serialize)]
pub struct NoticeRow {
    pub id: String,
    pub facility_code: Option<String>,
    pub kind: String,
    pub subject: String,
    pub body: String,
    pub object: Option<String>,
    pub created_at: i64,
    pub read_at: Option<i64>,
}

/// A mail waiting for the SMTP sender.
#[derive(Clone, Debug, FromRow, serde::Serialize)]
pub struct MailRow {
    pub id: String,
    pub notice_id: Option<String>,
    pub to_addr: String,
    pub subject: String,
    pub body: String,
    pub created_at: i64,
    pub sent_at: Option<i64>,
    pub attempts: i64,
    pub last_error: Option<String>,
}

/// An account: a client certificate mapped to a role.
#[derive(Clone, Debug, FromRow, serde::Serialize)]
pub struct AccountRow {
    pub id: String,
    pub role: String,
    pub display_name: String,
    pub cert_issuer: String,
    pub cert_fingerprint: String,
    pub facility_code: Option<String>,
    pub holder_id: Option<String>,
    pub disabled: i64,
    pub created_at: i64,
    pub created_by: String,
    /// The person who holds the account (a desk: its holder id; center staff: given at
    /// `kmn account add --person`, else the account's own id).
    pub person_id: Option<String>,
    /// The token the key was generated on (`kmn account enrol`); None for a desk (its
    /// card is on record) and for CSR-issued credentials (demo, stations).
    pub token_serial: Option<String>,
}

/// A stored idempotent response.
#[derive(Clone, Debug, FromRow)]
pub struct IdempotencyRow {
    pub request_hash: String,
    pub status: i64,
    pub body: String,
}

/// Filters for listing applications.
#[derive(Clone, Debug, Default)]
pub struct ApplicationFilter {
    pub facility_code: Option<String>,
    pub state: Option<String>,
    pub kind: Option<String>,
    pub holder_id: Option<String>,
    pub created_from: Option<i64>,
    pub created_to: Option<i64>,
    /// Keyset pagination: ids after this one.
    pub after_id: Option<String>,
    pub limit: i64,
}

/// Card states that count as a valid card of a person at a facility (第4条2).
pub const LIVE_CARD_STATES: &[&str] = &[
    "personalized",
    "shipped",
    "received",
    "handed_over",
    "active",
    "suspended",
];

fn conflict_or(e: sqlx::Error, what: String) -> StoreError {
    match &e {
        sqlx::Error::Database(d) if d.is_unique_violation() => StoreError::Conflict(what),
        _ => StoreError::Db(e),
    }
}

impl Tx {
    /// The next value of a named counter (1, 2, …), by compare-and-set.
    pub async fn next_counter(&mut self, name: &str) -> Result<i64, StoreError> {
        // One statement: concurrent first uses cannot both insert (upsert, on both backends).
        Ok(sqlx::query(
            "INSERT INTO counters (name, value) VALUES ($1, 1) \
             ON CONFLICT (name) DO UPDATE SET value = counters.value + 1 RETURNING value",
        )
        .bind(name)
        .fetch_one(self.conn())
        .await?
        .get(0))
    }

    // --- documents published in the repository -------------------------------------

    /// Records a published version; a version is published once.
    pub async fn insert_published_document(
        &mut self,
        d: &PublishedDocumentRow,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO published_documents (kind, version, file_name, sha256, bytes, published_at, published_by) \
             VALUES ($1,$2,$3,$4,$5,$6,$7)",
        )
        .bind(&d.kind)
        .bind(&d.version)
        .bind(&d.file_name)
        .bind(&d.sha256)
        .bind(&d.bytes)
        .bind(d.published_at)
        .bind(&d.published_by)
        .execute(self.conn())
        .await
        .map_err(|e| conflict_or(e, format!("{} version {} is already published", d.kind, d.version)))?;
        Ok(())
    }

    /// The current (latest published) version of a document kind.
    pub async fn current_document(
        &mut self,
        kind: &str,
    ) -> Result<Option<PublishedDocumentRow>, StoreError> {
        Ok(sqlx::query_as::<_, PublishedDocumentRow>(
            "SELECT * FROM published_documents WHERE kind = $1 ORDER BY published_at DESC, version DESC LIMIT 1",
        )
        .bind(kind)
        .fetch_optional(self.conn())
        .await?)
    }

    /// Every published version of every kind (without the bytes), by kind, oldest first.
    pub async fn published_documents(&mut self) -> Result<Vec<PublishedDocumentInfo>, StoreError> {
        Ok(sqlx::query_as::<_, PublishedDocumentInfo>(
            "SELECT kind, version, file_name, sha256, published_at, published_by \
             FROM published_documents ORDER BY kind, published_at, version",
        )
        .fetch_all(self.conn())
        .await?)
    }

    /// One published version.
    pub async fn published_document(
        &mut self,
        kind: &str,
        version: &str,
    ) -> Result<Option<PublishedDocumentRow>, StoreError> {
        Ok(sqlx::query_as::<_, PublishedDocumentRow>(
            "SELECT * FROM published_documents WHERE kind = $1 AND version = $2",
        )
        .bind(kind)
        .bind(version)
        .fetch_optional(self.conn())
        .await?)
    }

    // --- facilities ------------------------------------------------------------------

    /// Inserts a facility; a duplicate code is a conflict.
    pub async fn insert_facility(&mut self, f: &FacilityRow) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO facilities (code, name_kanji, name_kana, name_romaji, kind, postal_code, address, phone, email, \
             status, created_at, updated_at, version) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,1)",
        )
        .bind(&f.code)
        .bind(&f.name_kanji)
        .bind(&f.name_kana)
        .bind(&f.name_romaji)
        .bind(&f.kind)
        .bind(&f.postal_code)
        .bind(&f.address)
        .bind(&f.phone)
        .bind(&f.email)
        .bind(&f.status)
        .bind(f.created_at)
        .bind(f.updated_at)
        .execute(self.conn())
        .await
        .map_err(|e| conflict_or(e, format!("facility {} is already registered", f.code)))?;
        Ok(())
    }

    /// A facility by code.
    pub async fn facility(&mut self, code: &str) -> Result<Option<FacilityRow>, StoreError> {
        Ok(
            sqlx::query_as::<_, FacilityRow>("SELECT * FROM facilities WHERE code = $1")
                .bind(code)
                .fetch_optional(self.conn())
                .await?,
        )
    }

    /// Facilities, optionally only one, in code order after `after`.
    pub async fn list_facilities(
        &mut self,
        only: Option<&str>,
        after: Option<&str>,
        limit: i64,
    ) -> Result<Vec<FacilityRow>, StoreError> {
        Ok(sqlx::query_as::<_, FacilityRow>(
            "SELECT * FROM facilities WHERE ($1 IS NULL OR code = $1) AND ($2 IS NULL OR code > $2) ORDER BY code LIMIT $3",
        )
        .bind(only)
        .bind(after)
        .bind(limit)
        .fetch_all(self.conn())
        .await?)
    }

    /// Every facility's contact e-mail (for notices to all).
    pub async fn all_facility_codes(&mut self) -> Result<Vec<(String, String)>, StoreError> {
        let rows =
            sqlx::query("SELECT code, email FROM facilities WHERE status = 'active' ORDER BY code")
                .fetch_all(self.conn())
                .await?;
        Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
    }

    /// Records a consent (the same version twice is a conflict).
    pub async fn insert_consent(&mut self, c: &ConsentRow) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO consents (facility_code, kind, version, given_by, given_at, recorded_by) VALUES ($1,$2,$3,$4,$5,$6)",
        )
        .bind(&c.facility_code)
        .bind(&c.kind)
        .bind(&c.version)
        .bind(&c.given_by)
        .bind(c.given_at)
        .bind(&c.recorded_by)
        .execute(self.conn())
        .await
        .map_err(|e| conflict_or(e, format!("consent to {} {} is already recorded", c.kind, c.version)))?;
        Ok(())
    }

    /// A facility's consents.
    pub async fn consents(&mut self, facility_code: &str) -> Result<Vec<ConsentRow>, StoreError> {
        Ok(sqlx::query_as::<_, ConsentRow>(
            "SELECT * FROM consents WHERE facility_code = $1 ORDER BY given_at",
        )
        .bind(facility_code)
        .fetch_all(self.conn())
        .await?)
    }

    // --- persons ---------------------------------------------------------------------

    /// Inserts a person.
    pub async fn insert_person(&mut self, p: &PersonRow) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO persons (holder_id, name_kanji, name_kana, name_romaji, date_of_birth, profession, licence_checked, \
             work_email, created_at, updated_at, version) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,1)",
        )
        .bind(&p.holder_id)
        .bind(&p.name_kanji)
        .bind(&p.name_kana)
        .bind(&p.name_romaji)
        .bind(&p.date_of_birth)
        .bind(&p.profession)
        .bind(p.licence_checked)
        .bind(&p.work_email)
        .bind(p.created_at)
        .bind(p.updated_at)
        .execute(self.conn())
        .await
        .map_err(|e| conflict_or(e, format!("holder {} exists", p.holder_id)))?;
        Ok(())
    }

    /// A person by holder id.
    pub async fn person(&mut self, holder_id: &str) -> Result<Option<PersonRow>, StoreError> {
        Ok(
            sqlx::query_as::<_, PersonRow>("SELECT * FROM persons WHERE holder_id = $1")
                .bind(holder_id)
                .fetch_optional(self.conn())
                .await?,
        )
    }

    /// People affiliated to a facility, in holder-id order after `after`.
    pub async fn persons_of_facility(
        &mut self,
        facility_code: &str,
        after: Option<&str>,
        limit: i64,
    ) -> Result<Vec<PersonRow>, StoreError> {
        Ok(sqlx::query_as::<_, PersonRow>(
            "SELECT p.* FROM persons p JOIN affiliations a ON a.holder_id = p.holder_id \
             WHERE a.facility_code = $1 AND ($2 IS NULL OR p.holder_id > $2) ORDER BY p.holder_id LIMIT $3",
        )
        .bind(facility_code)
        .bind(after)
        .bind(limit)
        .fetch_all(self.conn())
        .await?)
    }

    /// Inserts an affiliation.
    pub async fn insert_affiliation(&mut self, a: &AffiliationRow) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO affiliations (holder_id, facility_code, permitted, is_desk, since) VALUES ($1,$2,$3,$4,$5)")
            .bind(&a.holder_id)
            .bind(&a.facility_code)
            .bind(a.permitted)
            .bind(a.is_desk)
            .bind(a.since)
            .execute(self.conn())
            .await
            .map_err(|e| conflict_or(e, format!("{} is already affiliated to {}", a.holder_id, a.facility_code)))?;
        Ok(())
    }

    /// A person's affiliations.
    pub async fn affiliations(
        &mut self,
        holder_id: &str,
    ) -> Result<Vec<AffiliationRow>, StoreError> {
        Ok(sqlx::query_as::<_, AffiliationRow>(
            "SELECT * FROM affiliations WHERE holder_id = $1 ORDER BY facility_code",
        )
        .bind(holder_id)
        .fetch_all(self.conn())
        .await?)
    }

    // --- applications ----------------------------------------------------------------

    /// Inserts an application.
    pub async fn insert_application(&mut self, a: &ApplicationRow) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO applications (id, facility_code, holder_id, kind, kind_detail, validity_years, target_card_id, state, \
             fee_bearing, created_by, created_at, updated_at, version) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,1)",
        )
        .bind(&a.id)
        .bind(&a.facility_code)
        .bind(&a.holder_id)
        .bind(&a.kind)
        .bind(&a.kind_detail)
        .bind(a.validity_years)
        .bind(&a.target_card_id)
        .bind(&a.state)
        .bind(a.fee_bearing)
        .bind(&a.created_by)
        .bind(a.created_at)
        .bind(a.updated_at)
        .execute(self.conn())
        .await?;
        Ok(())
    }

    /// An application by id.
    pub async fn application(&mut self, id: &str) -> Result<Option<ApplicationRow>, StoreError> {
        Ok(
            sqlx::query_as::<_, ApplicationRow>("SELECT * FROM applications WHERE id = $1")
                .bind(id)
                .fetch_optional(self.conn())
                .await?,
        )
    }

    /// Applications matching the filter, in id order (keyset pagination).
    pub async fn list_applications(
        &mut self,
        f: &ApplicationFilter,
    ) -> Result<Vec<ApplicationRow>, StoreError> {
        Ok(sqlx::query_as::<_, ApplicationRow>(
            "SELECT * FROM applications WHERE ($1 IS NULL OR facility_code = $1) AND ($2 IS NULL OR state = $2) \
             AND ($3 IS NULL OR kind = $3) AND ($4 IS NULL OR holder_id = $4) AND ($5 IS NULL OR created_at >= $5) \
             AND ($6 IS NULL OR created_at < $6) AND ($7 IS NULL OR id > $7) ORDER BY id LIMIT $8",
        )
        .bind(&f.facility_code)
        .bind(&f.state)
        .bind(&f.kind)
        .bind(&f.holder_id)
        .bind(f.created_from)
        .bind(f.created_to)
        .bind(&f.after_id)
        .bind(f.limit)
        .fetch_all(self.conn())
        .await?)
    }

    /// Moves an application from `from` to `to` by compare-and-set on state and version.
    /// Zero rows is a [`StoreError::Conflict`]: someone else acted first.
    #[allow(clippy::too_many_arguments)]
    pub async fn transition_application(
        &mut self,
        id: &str,
        from: &str,
        version: i64,
        to: &str,
        at: i64,
        decided_by: Option<&str>,
        reject_reason: Option<&str>,
    ) -> Result<(), StoreError> {
        let update = sqlx::query(
            "UPDATE applications SET state = $4, version = version + 1, updated_at = $5, \
             decided_by = COALESCE($6, decided_by), decided_at = CASE WHEN $6 IS NULL THEN decided_at ELSE $5 END, \
             reject_reason = COALESCE($7, reject_reason) WHERE id = $1 AND state = $2 AND version = $3",
        )
        .bind(id)
        .bind(from)
        .bind(version)
        .bind(to)
        .bind(at)
        .bind(decided_by)
        .bind(reject_reason);
        self.compare_and_set_or_conflict(update, || {
            format!("application {id} was changed by someone else")
        })
        .await
    }

    /// Claims an approved application for this transaction before a card's certificate
    /// is recorded or bound to it: a write that changes nothing (SQLite's writers already
    /// take turns) but, on PostgreSQL, takes the row's lock and checks the state again
    /// after any transaction that held it committed — so a late `complete` and a new
    /// issuance for the same application are decided one after the other, never both on
    /// what each read before the other committed. Zero rows (no longer approved) is a
    /// [`StoreError::Conflict`].
    pub async fn claim_approved_application(&mut self, id: &str) -> Result<(), StoreError> {
        let update = sqlx::query(
            "UPDATE applications SET updated_at = updated_at WHERE id = $1 AND state = 'approved'",
        )
        .bind(id);
        self.compare_and_set_or_conflict(update, || {
            format!("application {id} is no longer approved")
        })
        .await
    }

    /// Links the card that fulfilled an application.
    pub async fn set_application_card(
        &mut self,
        id: &str,
        card_id: &str,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE applications SET card_id = $2 WHERE id = $1")
            .bind(id)
            .bind(card_id)
            .execute(self.conn())
            .await?;
        Ok(())
    }

    /// Appends a review round.
    pub async fn insert_round(&mut self, r: &RoundRow) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO application_rounds (application_id, seq, action, actor, at, from_state, to_state, deficiencies, comment) \
             VALUES ($1, (SELECT COALESCE(MAX(seq), 0) + 1 FROM application_rounds WHERE application_id = $1), $2,$3,$4,$5,$6,$7,$8)",
        )
        .bind(&r.application_id)
        .bind(&r.action)
        .bind(&r.actor)
        .bind(r.at)
        .bind(&r.from_state)
        .bind(&r.to_state)
        .bind(&r.deficiencies)
        .bind(&r.comment)
        .execute(self.conn())
        .await?;
        Ok(())
    }

    /// All rounds of an application.
    pub async fn rounds(&mut self, application_id: &str) -> Result<Vec<RoundRow>, StoreError> {
        Ok(sqlx::query_as::<_, RoundRow>(
            "SELECT * FROM application_rounds WHERE application_id = $1 ORDER BY seq",
        )
        .bind(application_id)
        .fetch_all(self.conn())
        .await?)
    }

    /// Stores a document with its bytes.
    pub async fn insert_document(
        &mut self,
        d: &DocumentRow,
        bytes: &[u8],
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO application_documents (id, application_id, file_name, media_type, sha256, size, bytes, uploaded_by, \
             uploaded_at, retain_until) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10)",
        )
        .bind(&d.id)
        .bind(&d.application_id)
        .bind(&d.file_name)
        .bind(&d.media_type)
        .bind(&d.sha256)
        .bind(d.size)
        .bind(bytes)
        .bind(&d.uploaded_by)
        .bind(d.uploaded_at)
        .bind(d.retain_until)
        .execute(self.conn())
        .await?;
        Ok(())
    }

    /// The documents of an application (metadata).
    pub async fn documents(
        &mut self,
        application_id: &str,
    ) -> Result<Vec<DocumentRow>, StoreError> {
        Ok(sqlx::query_as::<_, DocumentRow>(
            "SELECT id, application_id, file_name, media_type, sha256, size, uploaded_by, uploaded_at, retain_until \
             FROM application_documents WHERE application_id = $1 ORDER BY uploaded_at, id",
        )
        .bind(application_id)
        .fetch_all(self.conn())
        .await?)
    }

    /// A document's bytes.
    pub async fn document_bytes(
        &mut self,
        id: &str,
    ) -> Result<Option<(DocumentRow, Vec<u8>)>, StoreError> {
        let row: Option<AnyRow> = sqlx::query("SELECT * FROM application_documents WHERE id = $1")
            .bind(id)
            .fetch_optional(self.conn())
            .await?;
        match row {
            None => Ok(None),
            Some(r) => Ok(Some((DocumentRow::from_row(&r)?, r.get("bytes")))),
        }
    }

    /// Sets the retention deadline of an application's documents (第18条3).
    pub async fn set_retention(
        &mut self,
        application_id: &str,
        until: i64,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE application_documents SET retain_until = $2 WHERE application_id = $1")
            .bind(application_id)
            .bind(until)
            .execute(self.conn())
            .await?;
        Ok(())
    }

    // --- cards -----------------------------------------------------------------------

    /// Inserts a card.
    pub async fn insert_card(&mut self, c: &CardRow) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO cards (id, holder_id, facility_code, application_id, state, cert_serial_hex, token_serial, \
             validity_years, issued_at, not_after, created_at, updated_at, version) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,1)",
        )
        .bind(&c.id)
        .bind(&c.holder_id)
        .bind(&c.facility_code)
        .bind(&c.application_id)
        .bind(&c.state)
        .bind(&c.cert_serial_hex)
        .bind(&c.token_serial)
        .bind(c.validity_years)
        .bind(c.issued_at)
        .bind(c.not_after)
        .bind(c.created_at)
        .bind(c.updated_at)
        .execute(self.conn())
        .await?;
        Ok(())
    }

    /// A card by id.
    pub async fn card(&mut self, id: &str) -> Result<Option<CardRow>, StoreError> {
        Ok(
            sqlx::query_as::<_, CardRow>("SELECT * FROM cards WHERE id = $1")
                .bind(id)
                .fetch_optional(self.conn())
                .await?,
        )
    }

    /// Cards, optionally of one facility or holder.
    pub async fn list_cards(
        &mut self,
        facility: Option<&str>,
        holder: Option<&str>,
        after: Option<&str>,
        limit: i64,
    ) -> Result<Vec<CardRow>, StoreError> {
        Ok(sqlx::query_as::<_, CardRow>(
            "SELECT * FROM cards WHERE ($1 IS NULL OR facility_code = $1) AND ($2 IS NULL OR holder_id = $2) \
             AND ($3 IS NULL OR id > $3) ORDER BY id LIMIT $4",
        )
        .bind(facility)
        .bind(holder)
        .bind(after)
        .bind(limit)
        .fetch_all(self.conn())
        .await?)
    }

    /// Live cards of a person at a facility (第4条2).
    pub async fn live_cards(
        &mut self,
        holder_id: &str,
        facility_code: &str,
    ) -> Result<Vec<CardRow>, StoreError> {
        let states = LIVE_CARD_STATES
            .iter()
            .map(|s| format!("'{s}'"))
            .collect::<Vec<_>>()
            .join(",");
        Ok(sqlx::query_as::<_, CardRow>(AssertSqlSafe(format!(
            "SELECT * FROM cards WHERE holder_id = $1 AND facility_code = $2 AND state IN ({states}) ORDER BY id"
        )))
        .bind(holder_id)
        .bind(facility_code)
        .fetch_all(self.conn())
        .await?)
    }

    /// Stores the salted hash of a card's emergency revocation code (第11条).
    pub async fn set_card_revocation_code(
        &mut self,
        id: &str,
        hash: &str,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE cards SET revocation_code_hash = $2 WHERE id = $1")
            .bind(id)
            .bind(hash)
            .execute(self.conn())
            .await?;
        Ok(())
    }

    /// Replaces a card's stored emergency code by compare-and-set (wrapping a legacy
    /// hash, or using the code up: `new` None). Returns whether it was replaced.
    pub async fn replace_card_revocation_code(
        &mut self,
        id: &str,
        old: &str,
        new: Option<&str>,
    ) -> Result<bool, StoreError> {
        let q = sqlx::query(
            "UPDATE cards SET revocation_code_hash = $3 WHERE id = $1 AND revocation_code_hash = $2",
        )
        .bind(id)
        .bind(old)
        .bind(new);
        self.compare_and_set(q).await
    }

    /// A card's stored emergency code (its sealed form), if any.
    pub async fn card_revocation_code(&mut self, id: &str) -> Result<Option<String>, StoreError> {
        Ok(
            sqlx::query("SELECT revocation_code_hash FROM cards WHERE id = $1")
                .bind(id)
                .fetch_optional(self.conn())
                .await?
                .and_then(|r| r.get::<Option<String>, _>(0)),
        )
    }

    /// Cards whose emergency code is still a bare salted hash (before issue 10): (id, hash).
    pub async fn cards_with_legacy_codes(&mut self) -> Result<Vec<(String, String)>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, revocation_code_hash FROM cards WHERE revocation_code_hash IS NOT NULL \
             AND revocation_code_hash NOT LIKE 'hmac1$%'",
        )
        .fetch_all(self.conn())
        .await?;
        Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
    }

    /// Wrong emergency codes typed for this card number (0 when none).
    pub async fn emergency_failures(&mut self, card_number: &str) -> Result<i64, StoreError> {
        Ok(
            sqlx::query("SELECT failures FROM emergency_attempts WHERE card_number = $1")
                .bind(card_number)
                .fetch_optional(self.conn())
                .await?
                .map(|r| r.get::<i64, _>(0))
                .unwrap_or(0),
        )
    }

    /// Counts one more wrong code for this card number.
    pub async fn record_emergency_failure(
        &mut self,
        card_number: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO emergency_attempts (card_number, failures, last_at) VALUES ($1, 1, $2) \
             ON CONFLICT (card_number) DO UPDATE SET failures = emergency_attempts.failures + 1, last_at = $2",
        )
        .bind(card_number)
        .bind(now)
        .execute(self.conn())
        .await?;
        Ok(())
    }

    /// Records the token serial of a personalized card.
    pub async fn set_card_token_serial(
        &mut self,
        id: &str,
        serial: &str,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE cards SET token_serial = $2 WHERE id = $1")
            .bind(id)
            .bind(serial)
            .execute(self.conn())
            .await?;
        Ok(())
    }

    /// The card holding a token serial, as people type or scan it: case, hyphens and
    /// spaces ignored (issue 12: an upper-case serial of a SoftHSM or card token whose
    /// serial is stored in lower case was answered 見つかりません).
    pub async fn card_by_token_serial(
        &mut self,
        serial: &str,
    ) -> Result<Option<CardRow>, StoreError> {
        Ok(sqlx::query_as::<_, CardRow>(
            "SELECT id, holder_id, facility_code, application_id, state, cert_serial_hex, token_serial, validity_years, \
             issued_at, not_after, created_at, updated_at, version FROM cards \
             WHERE UPPER(REPLACE(REPLACE(token_serial, '-', ''), ' ', '')) = $1 ORDER BY created_at DESC LIMIT 1",
        )
        .bind(normalize_serial(serial))
        .fetch_optional(self.conn())
        .await?)
    }

    /// Moves a card from `from` to `to` by compare-and-set.
    pub async fn transition_card(
        &mut self,
        id: &str,
        from: &str,
        version: i64,
        to: &str,
        at: i64,
    ) -> Result<(), StoreError> {
        let update = sqlx::query(
            "UPDATE cards SET state = $4, version = version + 1, updated_at = $5 WHERE id = $1 AND state = $2 AND version = $3",
        )
        .bind(id)
        .bind(from)
        .bind(version)
        .bind(to)
        .bind(at);
        self.compare_and_set_or_conflict(update, || {
            format!("card {id} was changed by someone else")
        })
        .await
    }

    // --- notices and mail ------------------------------------------------------------

    /// Writes a notice and, when an address is given, its mail, in this transaction.
    pub async fn insert_notice(
        &mut self,
        n: &NoticeRow,
        mail_to: Option<&str>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO notices (id, facility_code, kind, subject, body, object, created_at) VALUES ($1,$2,$3,$4,$5,$6,$7)",
        )
        .bind(&n.id)
        .bind(&n.facility_code)
        .bind(&n.kind)
        .bind(&n.subject)
        .bind(&n.body)
        .bind(&n.object)
        .bind(n.created_at)
        .execute(self.conn())
        .await?;
        if let Some(to) = mail_to {
            sqlx::query(
                "INSERT INTO mail_outbox (id, notice_id, to_addr, subject, body, created_at, attempts) VALUES ($1,$2,$3,$4,$5,$6,0)",
            )
            .bind(format!("M{}", &n.id[1..]))
            .bind(&n.id)
            .bind(to)
            .bind(&n.subject)
            .bind(&n.body)
            .bind(n.created_at)
            .execute(self.conn())
            .await?;
        }
        Ok(())
    }

    /// Notices of a facility (None: all), newest first.
    pub async fn notices(
        &mut self,
        facility: Option<&str>,
        limit: i64,
    ) -> Result<Vec<NoticeRow>, StoreError> {
        Ok(sqlx::query_as::<_, NoticeRow>(
            "SELECT * FROM notices WHERE ($1 IS NULL OR facility_code = $1) ORDER BY created_at DESC, id DESC LIMIT $2",
        )
        .bind(facility)
        .bind(limit)
        .fetch_all(self.conn())
        .await?)
    }

    /// Queues a mail to a person (no facility inbox notice beside it): the SMTP sender
    /// drains the outbox.
    pub async fn queue_mail(
        &mut self,
        id: &str,
        to: &str,
        subject: &str,
        body: &str,
        created_at: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO mail_outbox (id, notice_id, to_addr, subject, body, created_at, attempts) VALUES ($1,NULL,$2,$3,$4,$5,0)",
        )
        .bind(id)
        .bind(to)
        .bind(subject)
        .bind(body)
        .bind(created_at)
        .execute(self.conn())
        .await?;
        Ok(())
    }

    /// Mail not yet sent.
    pub async fn unsent_mail(&mut self, limit: i64) -> Result<Vec<MailRow>, StoreError> {
        Ok(sqlx::query_as::<_, MailRow>(
            "SELECT * FROM mail_outbox WHERE sent_at IS NULL ORDER BY created_at, id LIMIT $1",
        )
        .bind(limit)
        .fetch_all(self.conn())
        .await?)
    }

    // --- accounts, access log, idempotency -------------------------------------------

    /// Inserts an account.
    pub async fn insert_account(&mut self, a: &AccountRow) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO accounts (id, role, display_name, cert_issuer, cert_fingerprint, facility_code, holder_id, disabled, \
             created_at, created_by, person_id, token_serial) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12)",
        )
        .bind(&a.id)
        .bind(&a.role)
        .bind(&a.display_name)
        .bind(&a.cert_issuer)
        .bind(&a.cert_fingerprint)
        .bind(&a.facility_code)
        .bind(&a.holder_id)
        .bind(a.disabled)
        .bind(a.created_at)
        .bind(&a.created_by)
        .bind(&a.person_id)
        .bind(&a.token_serial)
        .execute(self.conn())
        .await
        .map_err(|e| conflict_or(e, "an account for this certificate already exists".into()))?;
        Ok(())
    }

    /// The account of a certificate fingerprint.
    pub async fn account_by_fingerprint(
        &mut self,
        fp: &str,
    ) -> Result<Option<AccountRow>, StoreError> {
        Ok(
            sqlx::query_as::<_, AccountRow>("SELECT * FROM accounts WHERE cert_fingerprint = $1")
                .bind(fp)
                .fetch_optional(self.conn())
                .await?,
        )
    }

    /// An account by id.
    pub async fn account(&mut self, id: &str) -> Result<Option<AccountRow>, StoreError> {
        Ok(
            sqlx::query_as::<_, AccountRow>("SELECT * FROM accounts WHERE id = $1")
                .bind(id)
                .fetch_optional(self.conn())
                .await?,
        )
    }

    /// The enabled account whose key is on the token with this serial.
    pub async fn enabled_account_by_token_serial(
        &mut self,
        serial: &str,
    ) -> Result<Option<AccountRow>, StoreError> {
        Ok(sqlx::query_as::<_, AccountRow>(
            "SELECT * FROM accounts WHERE token_serial = $1 AND disabled = 0 ORDER BY id LIMIT 1",
        )
        .bind(serial)
        .fetch_optional(self.conn())
        .await?)
    }

    /// All accounts.
    pub async fn list_accounts(&mut self) -> Result<Vec<AccountRow>, StoreError> {
        Ok(
            sqlx::query_as::<_, AccountRow>("SELECT * FROM accounts ORDER BY created_at, id")
                .fetch_all(self.conn())
                .await?,
        )
    }

    /// Disables an account.
    pub async fn disable_account(&mut self, id: &str) -> Result<(), StoreError> {
        let update =
            sqlx::query("UPDATE accounts SET disabled = 1 WHERE id = $1 AND disabled = 0").bind(id);
        if self.compare_and_set(update).await? {
            Ok(())
        } else {
            Err(StoreError::NotFound(format!("no enabled account {id}")))
        }
    }

    /// Records a read of personal data (G1).
    pub async fn log_access(
        &mut self,
        at: i64,
        account_id: &str,
        role: &str,
        action: &str,
        object: &str,
        facility: Option<&str>,
    ) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO access_log (at, account_id, role, action, object, facility_code) VALUES ($1,$2,$3,$4,$5,$6)")
            .bind(at)
            .bind(account_id)
            .bind(role)
            .bind(action)
            .bind(object)
            .bind(facility)
            .execute(self.conn())
            .await?;
        Ok(())
    }

    /// Access-log rows about an object.
    pub async fn access_log_for(
        &mut self,
        object: &str,
    ) -> Result<Vec<(i64, String, String, String)>, StoreError> {
        let rows = sqlx::query(
            "SELECT at, account_id, role, action FROM access_log WHERE object = $1 ORDER BY id",
        )
        .bind(object)
        .fetch_all(self.conn())
        .await?;
        Ok(rows
            .iter()
            .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
            .collect())
    }

    /// A stored idempotent response.
    pub async fn idempotency(
        &mut self,
        account: &str,
        key: &str,
    ) -> Result<Option<IdempotencyRow>, StoreError> {
        Ok(sqlx::query_as::<_, IdempotencyRow>(
            "SELECT request_hash, status, body FROM idempotency_keys WHERE account_id = $1 AND key = $2",
        )
        .bind(account)
        .bind(key)
        .fetch_optional(self.conn())
        .await?)
    }

    /// Stores an idempotent response.
    pub async fn put_idempotency(
        &mut self,
        account: &str,
        key: &str,
        hash: &str,
        status: i64,
        body: &str,
        at: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO idempotency_keys (account_id, key, request_hash, status, body, created_at) VALUES ($1,$2,$3,$4,$5,$6)",
        )
        .bind(account)
        .bind(key)
        .bind(hash)
        .bind(status)
        .bind(body)
        .bind(at)
        .execute(self.conn())
        .await
        .map_err(|e| conflict_or(e, "this idempotency key is being used by a concurrent request".into()))?;
        Ok(())
    }

    /// The certificate status of a fingerprint: (serial, status, not_after, revoked reason).
    pub async fn cert_status_by_fingerprint(
        &mut self,
        fp: &str,
    ) -> Result<Option<(String, String, i64)>, StoreError> {
        let r = sqlx::query(
            "SELECT c.serial_hex, s.status, c.not_after FROM certificates c JOIN cert_status s ON s.serial_hex = c.serial_hex \
             WHERE c.fingerprint_sha256 = $1",
        )
        .bind(fp)
        .fetch_optional(self.conn())
        .await?;
        Ok(r.map(|r| (r.get(0), r.get(1), r.get(2))))
    }

    /// The status of the certificate of the CA that issued the certificate with this
    /// fingerprint (`None` when either is unknown): a login under a revoked issuing CA
    /// is refused even though the card's own certificate is not revoked.
    pub async fn issuer_status_by_fingerprint(
        &mut self,
        fp: &str,
    ) -> Result<Option<String>, StoreError> {
        let r = sqlx::query(
            "SELECT s.status FROM certificates c JOIN cas a ON a.name = c.ca_name \
             JOIN cert_status s ON s.serial_hex = a.serial_hex WHERE c.fingerprint_sha256 = $1",
        )
        .bind(fp)
        .fetch_optional(self.conn())
        .await?;
        Ok(r.map(|r| r.get(0)))
    }
}

/// A token serial as compared: upper case, without hyphens or spaces (ASCII or
/// full-width), full-width digits and letters folded to ASCII.
pub fn normalize_serial(s: &str) -> String {
    s.trim()
        .chars()
        .filter_map(|c| match c {
            '-'
            | ' '
            | '\u{3000}'
            | '\u{2010}'..='\u{2015}'
            | '\u{2212}'
            | '\u{30FC}'
            | '\u{FF0D}' => None,
            '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0),
            c => Some(c),
        })
        .collect::<String>()
        .to_uppercase()
}

//! Delivery of cards (第7条, 第8条): the shipping, receipt and handover record of each
//! card; the PIN mailers held by the center until receipt (DESIGN §4 Receipt); and the
//! certificate-hold changes the next CRL must carry.

use sqlx::{FromRow, Row};

use crate::{StoreError, Tx};

/// Shipping, receipt and handover of one card. Every field is set once, by the step
/// that owns it.
#[derive(Clone, Debug, Default, FromRow, serde::Serialize)]
pub struct DeliveryRow {
    pub card_id: String,
    pub shipped_at: Option<i64>,
    pub shipped_by: Option<String>,
    pub shipping_method: Option<String>,
    pub tracking_number: Option<String>,
    pub received_at: Option<i64>,
    pub received_by: Option<String>,
    /// `desk` (the facility desk, by the card's serial) or `paper` / `phone` (recorded
    /// by the center for a facility whose desk has no card yet).
    pub receipt_channel: Option<String>,
    pub receipt_note: Option<String>,
    /// When the holder received the card from the desk (as the desk reports it).
    pub handed_over_at: Option<i64>,
    /// Who received it (the holder's name as the desk checked it).
    pub handed_over_to: Option<String>,
    pub handed_over_by: Option<String>,
    pub handover_recorded_at: Option<i64>,
    pub lost_at: Option<i64>,
    pub lost_note: Option<String>,
}

/// A PIN mailer: the PDF with the initial PIN and the emergency revocation code. The
/// database holds where it is and what state it is in, never its content.
#[derive(Clone, Debug, FromRow, serde::Serialize)]
pub struct PinMailerRow {
    pub id: String,
    pub card_id: String,
    /// `initial` (personalization) or `unlock` (a new PIN after an unlock, 第9条).
    pub purpose: String,
    /// `held` → `released` (receipt confirmed) → `dispatched`; or `destroyed`.
    pub state: String,
    /// File name under the producing station's mailer directory.
    pub file_name: String,
    /// Where the file is: `center` (local station) or the station account id.
    pub produced_by: String,
    /// SHA-256 of the PDF, so a printed or moved file can be checked.
    pub sha256: String,
    pub created_at: i64,
    pub released_at: Option<i64>,
    pub dispatched_at: Option<i64>,
    pub destroyed_at: Option<i64>,
    pub version: i64,
}

impl Tx {
    /// The delivery record of a card (an empty one when nothing happened yet).
    pub async fn delivery(&mut self, card_id: &str) -> Result<DeliveryRow, StoreError> {
        let row =
            sqlx::query_as::<_, DeliveryRow>("SELECT * FROM card_deliveries WHERE card_id = $1")
                .bind(card_id)
                .fetch_optional(self.conn())
                .await?;
        Ok(row.unwrap_or_else(|| DeliveryRow {
            card_id: card_id.to_string(),
            ..DeliveryRow::default()
        }))
    }

    async fn ensure_delivery(&mut self, card_id: &str) -> Result<(), StoreError> {
        let n = sqlx::query("SELECT COUNT(*) FROM card_deliveries WHERE card_id = $1")
            .bind(card_id)
            .fetch_one(self.conn())
            .await?
            .get::<i64, _>(0);
        if n == 0 {
            sqlx::query("INSERT INTO card_deliveries (card_id) VALUES ($1)")
                .bind(card_id)
                .execute(self.conn())
                .await?;
        }
        Ok(())
    }

    /// Records shipping (第7条).
    pub async fn record_shipping(
        &mut self,
        card_id: &str,
        at: i64,
        by: &str,
        method: &str,
        tracking_number: Option<&str>,
    ) -> Result<(), StoreError> {
        self.ensure_delivery(card_id).await?;
        sqlx::query(
            "UPDATE card_deliveries SET shipped_at = $2, shipped_by = $3, shipping_method = $4, tracking_number = $5 \
             WHERE card_id = $1",
        )
        .bind(card_id)
        .bind(at)
        .bind(by)
        .bind(method)
        .bind(tracking_number)
        .execute(self.conn())
        .await?;
        Ok(())
    }

    /// Records the facility's receipt (第8条1).
    pub async fn record_receipt(
        &mut self,
        card_id: &str,
        at: i64,
        by: &str,
        channel: &str,
        note: Option<&str>,
    ) -> Result<(), StoreError> {
        self.ensure_delivery(card_id).await?;
        sqlx::query(
            "UPDATE card_deliveries SET received_at = $2, received_by = $3, receipt_channel = $4, receipt_note = $5 \
             WHERE card_id = $1",
        )
        .bind(card_id)
        .bind(at)
        .bind(by)
        .bind(channel)
        .bind(note)
        .execute(self.conn())
        .await?;
        Ok(())
    }

    /// Records the handover to the holder (第8条1): when, to whom, by whom.
    pub async fn record_handover(
        &mut self,
        card_id: &str,
        handed_over_at: i64,
        to: &str,
        by: &str,
        recorded_at: i64,
    ) -> Result<(), StoreError> {
        self.ensure_delivery(card_id).await?;
        sqlx::query(
            "UPDATE card_deliveries SET handed_over_at = $2, handed_over_to = $3, handed_over_by = $4, \
             handover_recorded_at = $5 WHERE card_id = $1",
        )
        .bind(card_id)
        .bind(handed_over_at)
        .bind(to)
        .bind(by)
        .bind(recorded_at)
        .execute(self.conn())
        .await?;
        Ok(())
    }

    /// Records a loss in the post.
    pub async fn record_lost_in_post(
        &mut self,
        card_id: &str,
        at: i64,
        note: &str,
    ) -> Result<(), StoreError> {
        self.ensure_delivery(card_id).await?;
        sqlx::query("UPDATE card_deliveries SET lost_at = $2, lost_note = $3 WHERE card_id = $1")
            .bind(card_id)
            .bind(at)
            .bind(note)
            .execute(self.conn())
            .await?;
        Ok(())
    }

    /// The card that holds a certificate, if any.
    pub async fn card_by_cert_serial(
        &mut self,
        serial_hex: &str,
    ) -> Result<Option<crate::CardRow>, StoreError> {
        Ok(sqlx::query_as::<_, crate::CardRow>(
            "SELECT id, holder_id, facility_code, application_id, state, cert_serial_hex, token_serial, validity_years, \
             issued_at, not_after, created_at, updated_at, version FROM cards WHERE cert_serial_hex = $1",
        )
        .bind(serial_hex)
        .fetch_optional(self.conn())
        .await?)
    }

    // --- PIN mailers -----------------------------------------------------------------

    /// Records a PIN mailer.
    pub async fn insert_pin_mailer(&mut self, m: &PinMailerRow) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO pin_mailers (id, card_id, purpose, state, file_name, produced_by, sha256, created_at, \
             released_at, dispatched_at, destroyed_at, version) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12)",
        )
        .bind(&m.id)
        .bind(&m.card_id)
        .bind(&m.purpose)
        .bind(&m.state)
        .bind(&m.file_name)
        .bind(&m.produced_by)
        .bind(&m.sha256)
        .bind(m.created_at)
        .bind(m.released_at)
        .bind(m.dispatched_at)
        .bind(m.destroyed_at)
        .bind(m.version)
        .execute(self.conn())
        .await?;
        Ok(())
    }

    /// A PIN mailer by id.
    pub async fn pin_mailer(&mut self, id: &str) -> Result<Option<PinMailerRow>, StoreError> {
        Ok(
            sqlx::query_as::<_, PinMailerRow>("SELECT * FROM pin_mailers WHERE id = $1")
                .bind(id)
                .fetch_optional(self.conn())
                .await?,
        )
    }

    /// The PIN mailers of a card, oldest first.
    pub async fn pin_mailers_of_card(
        &mut self,
        card_id: &str,
    ) -> Result<Vec<PinMailerRow>, StoreError> {
        Ok(sqlx::query_as::<_, PinMailerRow>(
            "SELECT * FROM pin_mailers WHERE card_id = $1 ORDER BY created_at, id",
        )
        .bind(card_id)
        .fetch_all(self.conn())
        .await?)
    }

    /// PIN mailers in a state (all when `None`), oldest first, at most `limit`.
    pub async fn list_pin_mailers(
        &mut self,
        state: Option<&str>,
        limit: i64,
    ) -> Result<Vec<PinMailerRow>, StoreError> {
        Ok(sqlx::query_as::<_, PinMailerRow>(
            "SELECT * FROM pin_mailers WHERE ($1 IS NULL OR state = $1) ORDER BY created_at, id LIMIT $2",
        )
        .bind(state)
        .bind(limit)
        .fetch_all(self.conn())
        .await?)
    }

    /// Moves a PIN mailer from `from` to `to` by compare-and-set, stamping the time
    /// column of the new state.
    pub async fn transition_pin_mailer(
        &mut self,
        id: &str,
        from: &str,
        to: &str,
        at: i64,
    ) -> Result<(), StoreError> {
        let column = match to {
            "released" => "released_at",
            "dispatched" => "dispatched_at",
            "destroyed" => "destroyed_at",
            other => {
                return Err(StoreError::Conflict(format!(
                    "a PIN mailer cannot move to {other}"
                )));
            }
        };
        let sql = format!(
            "UPDATE pin_mailers SET state = $3, {column} = $4, version = version + 1 WHERE id = $1 AND state = $2"
        );
        let update = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id)
            .bind(from)
            .bind(to)
            .bind(at);
        self.compare_and_set_or_conflict(update, || format!("PIN mailer {id} is no longer {from}"))
            .await
    }

    // --- certificate hold --------------------------------------------------------------

    /// Puts a valid certificate on hold (certificateHold in the next CRL). Returns false
    /// when it was not valid (already on hold, or revoked).
    pub async fn hold_certificate(
        &mut self,
        serial_hex: &str,
        at: i64,
    ) -> Result<bool, StoreError> {
        self.change_hold(serial_hex, "valid", "on_hold", at).await
    }

    /// Releases a hold (第8条 receipt, or a suspension lifted). Returns false when the
    /// certificate was not on hold.
    pub async fn release_certificate_hold(
        &mut self,
        serial_hex: &str,
        at: i64,
    ) -> Result<bool, StoreError> {
        self.change_hold(serial_hex, "on_hold", "valid", at).await
    }

    async fn change_hold(
        &mut self,
        serial_hex: &str,
        from: &str,
        to: &str,
        at: i64,
    ) -> Result<bool, StoreError> {
        // A hold is the registration path's, on card certificates only (issue 8).
        let profile: Option<String> =
            sqlx::query("SELECT profile FROM certificates WHERE serial_hex = $1")
                .bind(serial_hex)
                .fetch_optional(self.conn())
                .await?
                .map(|r| r.get(0));
        if let Some(p) = &profile {
            crate::RevocationAuthority::Registration.check(serial_hex, p)?;
        }
        let ca: Option<String> =
            sqlx::query("SELECT ca_name FROM cert_status WHERE serial_hex = $1 AND status = $2")
                .bind(serial_hex)
                .bind(from)
                .fetch_optional(self.conn())
                .await?
                .map(|r| r.get(0));
        let Some(ca) = ca else {
            return Ok(false);
        };
        let update = sqlx::query(
            "UPDATE cert_status SET status = $3, updated_at = $4 WHERE serial_hex = $1 AND status = $2",
        )
        .bind(serial_hex)
        .bind(from)
        .bind(to)
        .bind(at);
        if !self.compare_and_set(update).await? {
            return Ok(false);
        }
        self.note_status_change(&ca).await?;
        self.presign_ocsp(&[serial_hex], at).await?;
        Ok(true)
    }

    /// Notes that a certificate status changed in a way only a new CRL shows (a hold
    /// placed or released), so that the publisher issues one at once.
    pub async fn note_status_change(&mut self, ca_name: &str) -> Result<(), StoreError> {
        self.crl_state(ca_name).await?;
        sqlx::query("UPDATE crl_state SET status_changes = status_changes + 1 WHERE ca_name = $1")
            .bind(ca_name)
            .execute(self.conn())
            .await?;
        Ok(())
    }

    /// Hold changes not yet carried by a published CRL.
    pub async fn unpublished_status_changes(&mut self, ca_name: &str) -> Result<i64, StoreError> {
        let row = sqlx::query(
            "SELECT status_changes - status_changes_published FROM crl_state WHERE ca_name = $1",
        )
        .bind(ca_name)
        .fetch_optional(self.conn())
        .await?;
        Ok(row.map(|r| r.get::<i64, _>(0)).unwrap_or(0))
    }
}

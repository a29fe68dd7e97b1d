//! Card certificates issued for an application and not yet on a recorded card (issue 8):
//! who they were issued to (the station account, or `cli:…` for the center's own
//! station), for which application, and the card id the center allocated. A certificate
//! leaves `unbound` exactly once, by compare-and-set: `bound` when its card is recorded,
//! `withdrawn` when it is revoked unbound (the station gave up, or a new certificate for
//! the same application superseded it). So a late `complete` and a revocation of the same
//! certificate cannot both win. At most one certificate per application is `unbound`
//! (a partial UNIQUE index).

use sqlx::FromRow;

use crate::{StoreError, Tx};

/// A card certificate's binding state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IssuanceState {
    /// Issued, no card recorded with it yet.
    Unbound,
    /// On a recorded card.
    Bound,
    /// Revoked before any card was recorded with it.
    Withdrawn,
}

impl IssuanceState {
    /// The stored code.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unbound => "unbound",
            Self::Bound => "bound",
            Self::Withdrawn => "withdrawn",
        }
    }
}

/// One card certificate issued for an application.
#[derive(Clone, Debug, FromRow, PartialEq, Eq)]
pub struct CardIssuanceRow {
    /// The certificate.
    pub serial_hex: String,
    /// The application it was issued for.
    pub application_id: String,
    /// The account it was issued to (a station account id, or the CLI user).
    pub issued_to: String,
    /// The card id the center allocated for it.
    pub card_id: String,
    /// `unbound`, `bound` or `withdrawn`.
    pub state: String,
    pub created_at: i64,
    pub updated_at: i64,
}

impl CardIssuanceRow {
    /// Whether the row is in `s`.
    pub fn is(&self, s: IssuanceState) -> bool {
        self.state == s.as_str()
    }
}

impl Tx {
    /// Records a card certificate just issued (state `unbound`). A second unbound
    /// certificate for the same application violates the partial UNIQUE index: withdraw
    /// the previous one first ([`Tx::unbound_issuance`], [`Tx::leave_unbound`]).
    pub async fn insert_issuance(&mut self, r: &CardIssuanceRow) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO card_issuances (serial_hex, application_id, issued_to, card_id, state, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, 'unbound', $5, $5)",
        )
        .bind(&r.serial_hex)
        .bind(&r.application_id)
        .bind(&r.issued_to)
        .bind(&r.card_id)
        .bind(r.created_at)
        .execute(self.conn())
        .await?;
        Ok(())
    }

    /// The issuance record of a certificate.
    pub async fn issuance(
        &mut self,
        serial_hex: &str,
    ) -> Result<Option<CardIssuanceRow>, StoreError> {
        Ok(sqlx::query_as::<_, CardIssuanceRow>(
            "SELECT serial_hex, application_id, issued_to, card_id, state, created_at, updated_at \
             FROM card_issuances WHERE serial_hex = $1",
        )
        .bind(serial_hex)
        .fetch_optional(self.conn())
        .await?)
    }

    /// The unbound certificate of an application, if any.
    pub async fn unbound_issuance(
        &mut self,
        application_id: &str,
    ) -> Result<Option<CardIssuanceRow>, StoreError> {
        Ok(sqlx::query_as::<_, CardIssuanceRow>(
            "SELECT serial_hex, application_id, issued_to, card_id, state, created_at, updated_at \
             FROM card_issuances WHERE application_id = $1 AND state = 'unbound'",
        )
        .bind(application_id)
        .fetch_optional(self.conn())
        .await?)
    }

    /// Moves a certificate of `application_id` from `unbound` to `to` (`bound` or
    /// `withdrawn`) by compare-and-set; zero rows (someone else bound or withdrew it
    /// first, or it is not this application's) is a [`StoreError::Conflict`].
    pub async fn leave_unbound(
        &mut self,
        serial_hex: &str,
        application_id: &str,
        to: IssuanceState,
        at: i64,
    ) -> Result<(), StoreError> {
        if to == IssuanceState::Unbound {
            return Err(StoreError::Conflict(
                "a certificate does not go back to unbound".into(),
            ));
        }
        let update = sqlx::query(
            "UPDATE card_issuances SET state = $3, updated_at = $4 \
             WHERE serial_hex = $1 AND application_id = $2 AND state = 'unbound'",
        )
        .bind(serial_hex)
        .bind(application_id)
        .bind(to.as_str())
        .bind(at);
        self.compare_and_set_or_conflict(update, || {
            format!(
                "certificate {serial_hex} is no longer an unbound certificate of application {application_id}"
            )
        })
        .await
    }
}

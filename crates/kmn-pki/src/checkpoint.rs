//! The audit log's checkpoint record (docs/AUDIT-CHECKPOINT.asn1), the content of a CMS
//! SignedData ([`crate::cms`]):
//!
//! ```text
//! AuditCheckpoint ::= SEQUENCE {
//!     version     INTEGER { v1(1) },
//!     number      INTEGER (1..MAX),      -- 1, 2, 3 …
//!     eventSeq    INTEGER (0..MAX),      -- the last event the chain had
//!     headHash    OCTET STRING (SIZE(32)), -- that event's hash (SHA-256)
//!     signedAt    GeneralizedTime,
//!     previous    OCTET STRING (SIZE(32))  -- SHA-256 of the previous checkpoint's
//! }                                        -- ContentInfo DER; zeros for the first
//! ```

#![deny(clippy::indexing_slicing, clippy::unwrap_used, clippy::expect_used)]

use time::OffsetDateTime;

use crate::derr;
use crate::derw::{self, tag};
use crate::{PkiError, parse};

/// One checkpoint of the audit chain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditCheckpoint {
    /// Its number: 1, 2, 3 … (the file name).
    pub number: u64,
    /// The sequence number of the last event of the chain when it was signed.
    pub event_seq: u64,
    /// That event's hash (the chain's head).
    pub head_hash: [u8; 32],
    /// When it was signed (whole seconds).
    pub signed_at: OffsetDateTime,
    /// SHA-256 of the previous checkpoint's file (all zeros for the first).
    pub previous: [u8; 32],
}

fn bad(what: &str) -> PkiError {
    PkiError::BadInput(format!("malformed audit checkpoint: {what}"))
}

fn read_u64(t: &derr::Tlv<'_>, what: &str) -> Result<u64, PkiError> {
    let c = match t.content {
        [0, rest @ ..] if !rest.is_empty() => rest,
        c => c,
    };
    if t.tag != tag::INTEGER || c.is_empty() || c.len() > 8 || t.content.first() > Some(&0x7f) {
        return Err(bad(&format!("{what} is not a small non-negative INTEGER")));
    }
    Ok(c.iter().fold(0u64, |a, b| (a << 8) | u64::from(*b)))
}

fn read_32(t: &derr::Tlv<'_>, what: &str) -> Result<[u8; 32], PkiError> {
    if t.tag != tag::OCTET_STRING {
        return Err(bad(&format!("{what} is not an OCTET STRING")));
    }
    <[u8; 32]>::try_from(t.content).map_err(|_| bad(&format!("{what} is not 32 octets")))
}

impl AuditCheckpoint {
    /// The DER record.
    pub fn to_der(&self) -> Vec<u8> {
        derw::seq(&[
            &derw::uint_u64(1),
            &derw::uint_u64(self.number),
            &derw::uint_u64(self.event_seq),
            &derw::octets(&self.head_hash),
            &derw::generalized_time(self.signed_at),
            &derw::octets(&self.previous),
        ])
    }

    /// Reads a DER record.
    pub fn from_der(der: &[u8]) -> Result<Self, PkiError> {
        let s = derr::read_one(der, tag::SEQUENCE)?;
        let [v, n, seq, head, at, prev] = derr::children_n::<6>(s.content, "AuditCheckpoint")?;
        if read_u64(&v, "version")? != 1 {
            return Err(bad("unknown version"));
        }
        if at.tag != tag::GENERALIZED_TIME {
            return Err(bad("signedAt is not a GeneralizedTime"));
        }
        Ok(Self {
            number: read_u64(&n, "number")?,
            event_seq: read_u64(&seq, "eventSeq")?,
            head_hash: read_32(&head, "headHash")?,
            signed_at: parse::time_field(&at)?.at,
            previous: read_32(&prev, "previous")?,
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn checkpoint_record_round_trips() {
        let c = AuditCheckpoint {
            number: 300,
            event_seq: 0x80,
            head_hash: [0xab; 32],
            signed_at: time::macros::datetime!(2026-12-07 14:00:05 UTC),
            previous: [0; 32],
        };
        assert_eq!(AuditCheckpoint::from_der(&c.to_der()).unwrap(), c);
    }
}

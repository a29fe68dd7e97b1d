//! serde helpers for types this crate does not own or that need a fixed text form, for
//! use with `#[serde(with = "…")]`.

/// `time::OffsetDateTime` as RFC 3339 text (e.g. `2026-11-26T03:00:00Z`).
pub mod rfc3339 {
    use serde::{Deserialize, Deserializer, Serializer};
    use time::OffsetDateTime;
    use time::format_description::well_known::Rfc3339;

    /// Serialises as RFC 3339.
    pub fn serialize<S: Serializer>(t: &OffsetDateTime, s: S) -> Result<S::Ok, S::Error> {
        let text = t.format(&Rfc3339).map_err(serde::ser::Error::custom)?;
        s.serialize_str(&text)
    }

    /// Parses RFC 3339.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<OffsetDateTime, D::Error> {
        let text = String::deserialize(d)?;
        OffsetDateTime::parse(&text, &Rfc3339).map_err(serde::de::Error::custom)
    }
}

/// `time::Date` as `YYYY-MM-DD`.
pub mod iso_date {
    use serde::{Deserialize, Deserializer, Serializer};
    use time::Date;

    /// `YYYY-MM-DD`.
    pub fn format(d: Date) -> String {
        format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
    }

    /// Parses exactly `YYYY-MM-DD`.
    pub fn parse(s: &str) -> Option<Date> {
        let mut parts = s.split('-');
        let (y, m, d) = (parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() || y.len() != 4 || m.len() != 2 || d.len() != 2 {
            return None;
        }
        let month = time::Month::try_from(m.parse::<u8>().ok()?).ok()?;
        Date::from_calendar_date(y.parse().ok()?, month, d.parse().ok()?).ok()
    }

    /// Serialises as `YYYY-MM-DD`.
    pub fn serialize<S: Serializer>(d: &Date, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format(*d))
    }

    /// Parses `YYYY-MM-DD`.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Date, D::Error> {
        let text = String::deserialize(d)?;
        parse(&text)
            .ok_or_else(|| serde::de::Error::custom(format!("not a YYYY-MM-DD date: {text}")))
    }
}

/// [`crate::cert::RevocationReason`] by its stable name (`key-compromise`, …).
pub mod revocation_reason {
    use crate::cert::RevocationReason;
    use serde::{Deserialize, Deserializer, Serializer};

    /// Serialises as [`RevocationReason::as_str`].
    pub fn serialize<S: Serializer>(r: &RevocationReason, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(r.as_str())
    }

    /// Parses [`RevocationReason::as_str`].
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<RevocationReason, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn iso_date_round_trips_and_is_strict() {
        assert_eq!(iso_date::format(date!(2028 - 02 - 29)), "2028-02-29");
        assert_eq!(iso_date::parse("2028-02-29"), Some(date!(2028 - 02 - 29)));
        assert_eq!(iso_date::parse("2027-02-29"), None);
        assert_eq!(iso_date::parse("2027-2-1"), None);
        assert_eq!(iso_date::parse("2027-02-01-01"), None);
    }
}

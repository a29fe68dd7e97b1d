//! Dates as people in Japan read them. Stored times are UTC; shown times are JST
//! (a fixed +09:00: Japan has no daylight saving time).

use time::{OffsetDateTime, UtcOffset};

/// Japan Standard Time.
pub const JST: UtcOffset = match UtcOffset::from_hms(9, 0, 0) {
    Ok(o) => o,
    Err(_) => panic!("invalid offset"),
};

/// `2026年11月26日` for a UTC instant, in JST.
pub fn ja_date(t: OffsetDateTime) -> String {
    let j = t.to_offset(JST);
    format!("{}年{}月{}日", j.year(), u8::from(j.month()), j.day())
}

/// `2026年11月26日 20時43分` for a UTC instant, in JST.
pub fn ja_datetime(t: OffsetDateTime) -> String {
    let j = t.to_offset(JST);
    format!(
        "{}年{}月{}日 {:02}時{:02}分",
        j.year(),
        u8::from(j.month()),
        j.day(),
        j.hour(),
        j.minute()
    )
}

/// `2026年11月26日 20時43分05秒` for a UTC instant, in JST: evidence (第23条3), where
/// the seconds matter.
pub fn ja_datetime_secs(t: OffsetDateTime) -> String {
    let j = t.to_offset(JST);
    format!(
        "{}年{}月{}日 {:02}時{:02}分{:02}秒",
        j.year(),
        u8::from(j.month()),
        j.day(),
        j.hour(),
        j.minute(),
        j.second()
    )
}

/// [`ja_datetime_secs`] of Unix seconds.
pub fn ja_unix_secs(t: i64) -> String {
    ja_datetime_secs(OffsetDateTime::from_unix_timestamp(t).unwrap_or(OffsetDateTime::UNIX_EPOCH))
}

/// RFC 3339 in UTC with a `Z`, second precision, for logs and machine output.
pub fn rfc3339(t: OffsetDateTime) -> String {
    let t = t.to_offset(UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn dates_shown_in_jst_japanese_style() {
        // 2026-11-26 15:30 UTC is already the 27th in Japan.
        let t = datetime!(2026-11-26 15:30 UTC);
        assert_eq!(ja_date(t), "2026年11月27日");
        assert_eq!(ja_datetime(t), "2026年11月27日 00時30分");
        assert_eq!(rfc3339(t), "2026-11-26T15:30:00Z");
        assert_eq!(ja_datetime_secs(t), "2026年11月27日 00時30分00秒");
        assert_eq!(
            ja_unix_secs(t.unix_timestamp() + 5),
            "2026年11月27日 00時30分05秒"
        );
    }
}

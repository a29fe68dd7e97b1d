//! Dates as people in Japan read them. Stored times are UTC; shown times are JST
//! (a fixed +09:00: Japan has no daylight saving time). One format everywhere people read
//! a time — CLI, portal, notices, letters: `2026年12月8日`, `2026年12月8日 14:05`, and
//! `2026年12月8日 14:05:07` where the seconds matter (evidence).

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

/// `2026年11月26日 20:43` for a UTC instant, in JST.
pub fn ja_datetime(t: OffsetDateTime) -> String {
    let j = t.to_offset(JST);
    format!(
        "{}年{}月{}日 {}:{:02}",
        j.year(),
        u8::from(j.month()),
        j.day(),
        j.hour(),
        j.minute()
    )
}

/// `2026年11月26日 20:43:05` for a UTC instant, in JST: evidence (第23条3), where the
/// seconds matter.
pub fn ja_datetime_secs(t: OffsetDateTime) -> String {
    let j = t.to_offset(JST);
    format!(
        "{}年{}月{}日 {}:{:02}:{:02}",
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
/// [`rfc3339`] of Unix seconds (the epoch for a time out of range).
pub fn rfc3339_unix(t: i64) -> String {
    rfc3339(OffsetDateTime::from_unix_timestamp(t).unwrap_or(OffsetDateTime::UNIX_EPOCH))
}

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

/// The year with the Japanese era of a JST date: `令和8年`, `令和元年`, `平成31年`.
/// 令和 from 2019-05-01, 平成 from 1989-01-08, 昭和 before.
pub fn ja_era_year(d: time::Date) -> String {
    let (y, m, day) = (d.year(), u8::from(d.month()), d.day());
    let (era, first) = if (y, m, day) >= (2019, 5, 1) {
        ("令和", 2019)
    } else if (y, m, day) >= (1989, 1, 8) {
        ("平成", 1989)
    } else {
        ("昭和", 1926)
    };
    match y - first + 1 {
        1 => format!("{era}元年"),
        n => format!("{era}{n}年"),
    }
}

/// `1985年4月1日` for a calendar date (a date of birth: no time, no zone).
pub fn ja_calendar_date(d: time::Date) -> String {
    format!("{}年{}月{}日", d.year(), u8::from(d.month()), d.day())
}

/// `昭和60年4月1日` for a calendar date (the 和暦 display option).
pub fn ja_era_calendar_date(d: time::Date) -> String {
    format!("{}{}月{}日", ja_era_year(d), u8::from(d.month()), d.day())
}

/// A stored `YYYY-MM-DD` date, or None when it is not one.
pub fn parse_iso_date(s: &str) -> Option<time::Date> {
    time::Date::parse(
        s.trim(),
        time::macros::format_description!("[year]-[month]-[day]"),
    )
    .ok()
}

/// `令和8年11月26日` for a UTC instant, in JST (the 和暦 display option).
pub fn ja_era_date(t: OffsetDateTime) -> String {
    let j = t.to_offset(JST);
    format!(
        "{}{}月{}日",
        ja_era_year(j.date()),
        u8::from(j.month()),
        j.day()
    )
}

/// `令和8年11月26日 20:43` for a UTC instant, in JST.
pub fn ja_era_datetime(t: OffsetDateTime) -> String {
    let j = t.to_offset(JST);
    format!("{} {}:{:02}", ja_era_date(t), j.hour(), j.minute())
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn issue12_dates_shown_in_jst_japanese_style() {
        // 2026-11-26 15:30 UTC is already the 27th in Japan.
        let t = datetime!(2026-11-26 15:30 UTC);
        assert_eq!(ja_date(t), "2026年11月27日");
        assert_eq!(ja_datetime(t), "2026年11月27日 0:30");
        assert_eq!(rfc3339(t), "2026-11-26T15:30:00Z");
        assert_eq!(ja_datetime_secs(t), "2026年11月27日 0:30:00");
        assert_eq!(
            ja_unix_secs(t.unix_timestamp() + 5),
            "2026年11月27日 0:30:05"
        );
        assert_eq!(
            ja_datetime(datetime!(2026-12-08 05:05 UTC)),
            "2026年12月8日 14:05"
        );
    }

    #[test]
    fn calendar_dates_of_birth_in_both_styles() {
        let d = parse_iso_date("1985-04-01").unwrap();
        assert_eq!(ja_calendar_date(d), "1985年4月1日");
        assert_eq!(ja_era_calendar_date(d), "昭和60年4月1日");
        let d = parse_iso_date("1989-01-08").unwrap();
        assert_eq!(ja_era_calendar_date(d), "平成元年1月8日");
        assert_eq!(parse_iso_date("1985/04/01"), None);
        assert_eq!(parse_iso_date("1985-02-30"), None);
    }

    #[test]
    fn era_dates_for_the_wareki_option() {
        assert_eq!(
            ja_era_date(datetime!(2026-12-02 03:00 UTC)),
            "令和8年12月2日"
        );
        assert_eq!(
            ja_era_date(datetime!(2019-05-01 00:00 UTC)),
            "令和元年5月1日"
        );
        // 2019-04-30 14:59 UTC is still 30 April in Japan: 平成31年.
        assert_eq!(
            ja_era_date(datetime!(2019-04-30 14:59 UTC)),
            "平成31年4月30日"
        );
        assert_eq!(
            ja_era_date(datetime!(1989-01-07 12:00 UTC)),
            "昭和64年1月7日"
        );
        assert_eq!(
            ja_era_date(datetime!(1989-01-08 00:00 UTC)),
            "平成元年1月8日"
        );
        assert_eq!(
            ja_era_datetime(datetime!(2026-11-26 15:30 UTC)),
            "令和8年11月27日 0:30"
        );
    }
}

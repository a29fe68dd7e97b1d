//! A small, strict-enough DER reader.
//!
//! The validator needs the exact bytes that were signed (TBSCertificate, TBSCertList), accepts
//! inputs that some higher-level parsers refuse (negative serial numbers, v1 CRLs), and must
//! never panic on hostile input. This module is the only place that touches raw bytes.

#![deny(clippy::indexing_slicing, clippy::unwrap_used, clippy::expect_used)]

use std::fmt;

/// A parse failure with a short English description.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ParseError(pub String);

impl ParseError {
    pub(crate) fn new(msg: impl Into<String>) -> Self {
        ParseError(msg.into())
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

pub(crate) type PResult<T> = Result<T, ParseError>;

pub(crate) mod tag {
    pub const BOOLEAN: u8 = 0x01;
    pub const INTEGER: u8 = 0x02;
    pub const BIT_STRING: u8 = 0x03;
    pub const OCTET_STRING: u8 = 0x04;
    pub const NULL: u8 = 0x05;
    pub const OID: u8 = 0x06;
    pub const ENUMERATED: u8 = 0x0a;
    pub const UTF8_STRING: u8 = 0x0c;
    pub const NUMERIC_STRING: u8 = 0x12;
    pub const PRINTABLE_STRING: u8 = 0x13;
    pub const TELETEX_STRING: u8 = 0x14;
    pub const IA5_STRING: u8 = 0x16;
    pub const UTC_TIME: u8 = 0x17;
    pub const GENERALIZED_TIME: u8 = 0x18;
    pub const VISIBLE_STRING: u8 = 0x1a;
    pub const UNIVERSAL_STRING: u8 = 0x1c;
    pub const BMP_STRING: u8 = 0x1e;
    pub const SEQUENCE: u8 = 0x30;
    pub const SET: u8 = 0x31;

    /// Context-specific, primitive `[n]`.
    pub const fn ctx(n: u8) -> u8 {
        0x80 | n
    }
    /// Context-specific, constructed `[n]`.
    pub const fn ctx_cons(n: u8) -> u8 {
        0xa0 | n
    }
}

/// One tag-length-value element.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Tlv<'a> {
    pub tag: u8,
    pub value: &'a [u8],
    /// The whole element, header included.
    pub raw: &'a [u8],
}

impl<'a> Tlv<'a> {
    pub(crate) fn reader(&self) -> Reader<'a> {
        Reader::new(self.value)
    }
}

/// Sequential reader over the contents of a constructed element.
#[derive(Debug, Clone)]
pub(crate) struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    pub(crate) fn new(data: &'a [u8]) -> Self {
        Reader { rest: data }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }

    /// How many bytes are left to read.
    pub(crate) fn remaining(&self) -> usize {
        self.rest.len()
    }

    pub(crate) fn peek_tag(&self) -> Option<u8> {
        self.rest.first().copied()
    }

    /// Reads the next element, whatever its tag.
    ///
    /// A length is compared with what is left before anything is added to it, so no
    /// arithmetic on a hostile length can overflow.
    pub(crate) fn any(&mut self) -> PResult<Tlv<'a>> {
        let d = self.rest;
        let truncated = || ParseError::new("truncated DER element");
        let (&tag, after_tag) = d.split_first().ok_or_else(truncated)?;
        if tag & 0x1f == 0x1f {
            return Err(ParseError::new("multi-byte DER tags are not supported"));
        }
        let (&first, after_len) = after_tag.split_first().ok_or_else(truncated)?;
        let (len, body) = match first {
            l if l < 0x80 => (usize::from(l), after_len),
            0x80 => return Err(ParseError::new("indefinite length is not allowed in DER")),
            l => {
                let n = usize::from(l & 0x7f);
                if n > 4 {
                    return Err(ParseError::new("bad DER length"));
                }
                let (octets, body) = after_len
                    .split_at_checked(n)
                    .ok_or_else(|| ParseError::new("bad DER length"))?;
                let len = octets
                    .iter()
                    .fold(0u64, |acc, b| (acc << 8) | u64::from(*b));
                let len = usize::try_from(len).map_err(|_| ParseError::new("bad DER length"))?;
                (len, body)
            }
        };
        let (value, rest) = body.split_at_checked(len).ok_or_else(truncated)?;
        let header = d.len() - body.len();
        let raw = d.get(..header + len).ok_or_else(truncated)?;
        self.rest = rest;
        Ok(Tlv { tag, value, raw })
    }

    /// Reads the next element and checks its tag.
    pub(crate) fn expect(&mut self, tag: u8, what: &str) -> PResult<Tlv<'a>> {
        match self.peek_tag() {
            Some(t) if t == tag => self.any(),
            Some(t) => Err(ParseError(format!(
                "{what}: expected tag 0x{tag:02x}, found 0x{t:02x}"
            ))),
            None => Err(ParseError(format!("{what}: missing"))),
        }
    }

    /// Reads the next element if it carries `tag`.
    pub(crate) fn optional(&mut self, tag: u8) -> PResult<Option<Tlv<'a>>> {
        if self.peek_tag() == Some(tag) {
            self.any().map(Some)
        } else {
            Ok(None)
        }
    }

    pub(crate) fn finish(&self, what: &str) -> PResult<()> {
        if self.rest.is_empty() {
            Ok(())
        } else {
            Err(ParseError(format!("{what}: unexpected trailing data")))
        }
    }
}

/// Parses exactly one element from `data`, with nothing after it.
pub(crate) fn single<'a>(data: &'a [u8], tag: u8, what: &str) -> PResult<Tlv<'a>> {
    let mut r = Reader::new(data);
    let t = r.expect(tag, what)?;
    r.finish(what)?;
    Ok(t)
}

/// A DER BOOLEAN: TRUE is 0xFF (X.690 §11.1); other non-zero octets are BER only.
pub(crate) fn parse_bool(t: &Tlv<'_>) -> PResult<bool> {
    match t.value {
        [0] => Ok(false),
        [0xff] => Ok(true),
        [_] => Err(ParseError::new(
            "BOOLEAN TRUE is not encoded as 0xFF (not DER)",
        )),
        _ => Err(ParseError::new("bad BOOLEAN")),
    }
}

/// Parses a small non-negative INTEGER (value bytes).
pub(crate) fn parse_u32(value: &[u8]) -> PResult<u32> {
    let v = match value {
        [] => return Err(ParseError::new("expected a non-negative INTEGER")),
        [first, ..] if first & 0x80 != 0 => {
            return Err(ParseError::new("expected a non-negative INTEGER"));
        }
        [0, rest @ ..] => rest,
        v => v,
    };
    if v.len() > 4 {
        return Err(ParseError::new("INTEGER too large"));
    }
    Ok(v.iter().fold(0u32, |acc, b| (acc << 8) | *b as u32))
}

/// Returns the content bits of a BIT STRING (unused-bits octet removed).
pub(crate) fn bit_string_bytes<'a>(t: &Tlv<'a>) -> PResult<&'a [u8]> {
    match t.value.split_first() {
        Some((&unused, rest)) if unused < 8 && (unused == 0 || !rest.is_empty()) => Ok(rest),
        _ => Err(ParseError::new("bad BIT STRING")),
    }
}

/// Turns a named-bit BIT STRING into a mask where bit `i` stands for named bit `i`.
pub(crate) fn named_bits(t: &Tlv<'_>) -> PResult<u32> {
    let bytes = bit_string_bytes(t)?;
    let mut mask = 0u32;
    for (i, b) in bytes.iter().enumerate().take(4) {
        for j in 0..8 {
            if b & (0x80 >> j) != 0 {
                mask |= 1 << (i * 8 + j);
            }
        }
    }
    Ok(mask)
}

/// Formats OID content bytes in dotted-decimal form.
pub(crate) fn oid_to_string(bytes: &[u8]) -> String {
    let mut arcs: Vec<u128> = Vec::new();
    let mut cur: u128 = 0;
    for &b in bytes {
        cur = cur.saturating_mul(128) | (b & 0x7f) as u128;
        if b & 0x80 == 0 {
            arcs.push(cur);
            cur = 0;
        }
    }
    let mut out = String::new();
    if let Some((&first, tail)) = arcs.split_first() {
        let (a, b) = if first < 40 {
            (0, first)
        } else if first < 80 {
            (1, first - 40)
        } else {
            (2, first - 80)
        };
        out = format!("{a}.{b}");
        for arc in tail {
            out.push('.');
            out.push_str(&arc.to_string());
        }
    }
    if out.is_empty() {
        out = format!("(bad OID {})", hex::encode(bytes));
    }
    out
}

/// Days since 1970-01-01 for a proleptic Gregorian date.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146097 + doe - 719468
}

fn digits(s: &[u8]) -> PResult<i64> {
    if s.is_empty() || !s.iter().all(u8::is_ascii_digit) {
        return Err(ParseError::new("bad digits in time"));
    }
    if s.len() > 4 {
        return Err(ParseError::new("bad digits in time"));
    }
    Ok(s.iter().fold(0i64, |acc, b| acc * 10 + (b - b'0') as i64))
}

fn to_unix(y: i64, mo: i64, d: i64, h: i64, mi: i64, s: i64) -> PResult<i64> {
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let mdays = [
        31,
        if leap { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    let days_in_month = usize::try_from(mo - 1)
        .ok()
        .and_then(|i| mdays.get(i))
        .copied()
        .unwrap_or(0);
    if !(1..=12).contains(&mo) || d < 1 || d > days_in_month || h > 23 || mi > 59 || s > 60 {
        return Err(ParseError::new("time value out of range"));
    }
    Ok(days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + s.min(59))
}

/// Splits `body` into fields of the given widths (all of `body` must be used).
fn fields<const N: usize>(body: &[u8], widths: [usize; N]) -> PResult<[i64; N]> {
    let mut out = [0i64; N];
    let mut rest = body;
    for (slot, w) in out.iter_mut().zip(widths) {
        let (field, r) = rest
            .split_at_checked(w)
            .ok_or_else(|| ParseError::new("bad time length"))?;
        *slot = digits(field)?;
        rest = r;
    }
    if !rest.is_empty() {
        return Err(ParseError::new("bad time length"));
    }
    Ok(out)
}

/// Parses UTCTime contents (`YYMMDDHHMM[SS]Z`): years 50–99 are 19xx, 00–49 are 20xx.
pub(crate) fn parse_utc_time(v: &[u8]) -> PResult<i64> {
    let body = v
        .strip_suffix(b"Z")
        .ok_or_else(|| ParseError::new("UTCTime must end in Z"))?;
    let [yy, mo, d, h, mi, sec] = match body.len() {
        12 => fields(body, [2, 2, 2, 2, 2, 2])?,
        10 => {
            let [yy, mo, d, h, mi] = fields(body, [2, 2, 2, 2, 2])?;
            [yy, mo, d, h, mi, 0]
        }
        _ => return Err(ParseError::new("bad UTCTime length")),
    };
    let year = if yy >= 50 { 1900 + yy } else { 2000 + yy };
    to_unix(year, mo, d, h, mi, sec)
}

/// Parses GeneralizedTime contents (`YYYYMMDDHHMMSS[.fff]Z`); fractions are dropped.
pub(crate) fn parse_generalized_time(v: &[u8]) -> PResult<i64> {
    let body = v
        .strip_suffix(b"Z")
        .ok_or_else(|| ParseError::new("GeneralizedTime must end in Z"))?;
    let body = match body.iter().position(|b| *b == b'.') {
        Some(p) => {
            let (whole, fraction) = body.split_at(p);
            let fraction = fraction.get(1..).unwrap_or_default();
            if fraction.is_empty() || !fraction.iter().all(u8::is_ascii_digit) {
                return Err(ParseError::new("bad digits in time"));
            }
            whole
        }
        None => body,
    };
    if body.len() != 14 {
        return Err(ParseError::new("bad GeneralizedTime length"));
    }
    let [y, mo, d, h, mi, sec] = fields(body, [4, 2, 2, 2, 2, 2])?;
    to_unix(y, mo, d, h, mi, sec)
}

/// Parses a `Time ::= CHOICE { utcTime, generalTime }` element into Unix seconds.
pub(crate) fn parse_time(t: &Tlv<'_>) -> PResult<i64> {
    match t.tag {
        tag::UTC_TIME => parse_utc_time(t.value),
        tag::GENERALIZED_TIME => parse_generalized_time(t.value),
        _ => Err(ParseError::new("expected UTCTime or GeneralizedTime")),
    }
}

/// Formats Unix seconds as RFC 3339 (UTC).
pub(crate) fn fmt_time(secs: i64) -> String {
    use time::format_description::well_known::Rfc3339;
    time::OffsetDateTime::from_unix_timestamp(secs)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_else(|| format!("(unix time {secs})"))
}

#[cfg(test)]
#[allow(clippy::indexing_slicing, clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn utc_time_2049_2050_boundary() {
        // 49 -> 2049, 50 -> 1950 (RFC 5280 §4.1.2.5.1)
        let t49 = parse_utc_time(b"491231235959Z").unwrap();
        let t50 = parse_utc_time(b"500101000000Z").unwrap();
        assert_eq!(fmt_time(t49), "2049-12-31T23:59:59Z");
        assert_eq!(fmt_time(t50), "1950-01-01T00:00:00Z");
        assert!(t50 < t49);
        assert_eq!(
            fmt_time(parse_utc_time(b"000101000000Z").unwrap()),
            "2000-01-01T00:00:00Z"
        );
        assert_eq!(
            fmt_time(parse_utc_time(b"991231235959Z").unwrap()),
            "1999-12-31T23:59:59Z"
        );
        // GeneralizedTime carries the full year.
        assert_eq!(
            fmt_time(parse_generalized_time(b"20500101120100Z").unwrap()),
            "2050-01-01T12:01:00Z"
        );
        assert!(parse_utc_time(b"500101000000").is_err());
        assert!(parse_utc_time(b"501301000000Z").is_err());
    }

    #[test]
    fn oid_formatting() {
        let oid = der::asn1::ObjectIdentifier::new_unwrap("2.16.840.1.101.2.1.12.2");
        assert_eq!(oid_to_string(oid.as_bytes()), "2.16.840.1.101.2.1.12.2");
        let oid = der::asn1::ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.11");
        assert_eq!(oid_to_string(oid.as_bytes()), "1.2.840.113549.1.1.11");
    }

    #[test]
    fn reader_rejects_truncation() {
        let mut r = Reader::new(&[0x30, 0x05, 0x02, 0x01]);
        assert!(r.any().is_err());
        let mut r = Reader::new(&[0x30, 0x80, 0x00, 0x00]);
        assert!(r.any().is_err());
    }
}

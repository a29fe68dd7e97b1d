//! A minimal DER writer (X.690 §10) for the structures this CA signs.
//!
//! Certificates, CRLs and extensions are written field by field so that every byte
//! that reaches a signing key is chosen here and checked by the lints
//! ([`crate::lint`]). Lengths are always definite and minimal.

use time::OffsetDateTime;

/// Universal tags used by the profile.
pub mod tag {
    pub const BOOLEAN: u8 = 0x01;
    pub const INTEGER: u8 = 0x02;
    pub const BIT_STRING: u8 = 0x03;
    pub const OCTET_STRING: u8 = 0x04;
    pub const NULL: u8 = 0x05;
    pub const OID: u8 = 0x06;
    pub const ENUMERATED: u8 = 0x0a;
    pub const UTF8_STRING: u8 = 0x0c;
    pub const PRINTABLE_STRING: u8 = 0x13;
    pub const IA5_STRING: u8 = 0x16;
    pub const UTC_TIME: u8 = 0x17;
    pub const GENERALIZED_TIME: u8 = 0x18;
    pub const SEQUENCE: u8 = 0x30;
    pub const SET: u8 = 0x31;
}

/// Number of octets the length field of `len` takes.
pub fn len_of_len(len: usize) -> usize {
    if len < 0x80 {
        1
    } else {
        1 + (usize::BITS as usize / 8 - len.leading_zeros() as usize / 8)
    }
}

/// Total encoded size of a TLV with `content_len` octets of content.
pub fn tlv_len(content_len: usize) -> usize {
    1 + len_of_len(content_len) + content_len
}

/// Appends a definite length.
pub fn write_len(out: &mut Vec<u8>, len: usize) {
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let n = len_of_len(len) - 1;
        out.push(0x80 | n as u8);
        for i in (0..n).rev() {
            out.push((len >> (8 * i)) as u8);
        }
    }
}

/// Appends tag, length and content.
pub fn write_tlv(out: &mut Vec<u8>, tag: u8, content: &[u8]) {
    out.push(tag);
    write_len(out, content.len());
    out.extend_from_slice(content);
}

/// A TLV as a new vector.
pub fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(tlv_len(content.len()));
    write_tlv(&mut v, tag, content);
    v
}

/// SEQUENCE of already encoded parts.
pub fn seq(parts: &[&[u8]]) -> Vec<u8> {
    constructed(tag::SEQUENCE, parts)
}

/// A constructed TLV of already encoded parts.
pub fn constructed(tag: u8, parts: &[&[u8]]) -> Vec<u8> {
    let len: usize = parts.iter().map(|p| p.len()).sum();
    let mut v = Vec::with_capacity(tlv_len(len));
    v.push(tag);
    write_len(&mut v, len);
    for p in parts {
        v.extend_from_slice(p);
    }
    v
}

/// `[n] EXPLICIT` around an encoded value (context-specific, constructed).
pub fn explicit(n: u8, inner: &[u8]) -> Vec<u8> {
    tlv(0xa0 | n, inner)
}

/// `[n] IMPLICIT` primitive with the given content octets.
pub fn implicit_prim(n: u8, content: &[u8]) -> Vec<u8> {
    tlv(0x80 | n, content)
}

/// `[n] IMPLICIT` constructed with the given (already encoded) content.
pub fn implicit_cons(n: u8, content: &[u8]) -> Vec<u8> {
    tlv(0xa0 | n, content)
}

/// Content octets of a positive INTEGER from unsigned big-endian bytes.
pub fn uint_content(bytes: &[u8]) -> Vec<u8> {
    let start = bytes
        .iter()
        .position(|b| *b != 0)
        .unwrap_or(bytes.len().saturating_sub(1));
    let b = &bytes[start..];
    if b.is_empty() {
        return vec![0];
    }
    let mut v = Vec::with_capacity(b.len() + 1);
    if b[0] & 0x80 != 0 {
        v.push(0);
    }
    v.extend_from_slice(b);
    v
}

/// INTEGER from unsigned big-endian bytes.
pub fn uint(bytes: &[u8]) -> Vec<u8> {
    tlv(tag::INTEGER, &uint_content(bytes))
}

/// INTEGER from a non-negative `u64`.
pub fn uint_u64(v: u64) -> Vec<u8> {
    uint(&v.to_be_bytes())
}

/// BOOLEAN (DER: TRUE is 0xff).
pub fn boolean(b: bool) -> Vec<u8> {
    tlv(tag::BOOLEAN, &[if b { 0xff } else { 0 }])
}

/// NULL.
pub fn null() -> Vec<u8> {
    vec![tag::NULL, 0]
}

/// OBJECT IDENTIFIER from a `const_oid` value.
pub fn oid(o: &const_oid::ObjectIdentifier) -> Vec<u8> {
    tlv(tag::OID, o.as_bytes())
}

/// OCTET STRING.
pub fn octets(b: &[u8]) -> Vec<u8> {
    tlv(tag::OCTET_STRING, b)
}

/// BIT STRING with zero unused bits.
pub fn bits(b: &[u8]) -> Vec<u8> {
    let mut c = Vec::with_capacity(b.len() + 1);
    c.push(0);
    c.extend_from_slice(b);
    tlv(tag::BIT_STRING, &c)
}

/// A named-bit BIT STRING (X.690 §11.2.2: trailing zero bits removed), bits numbered
/// from 0 = most significant bit of the first octet.
pub fn named_bits(set: &[u8]) -> Vec<u8> {
    let Some(max) = set.iter().copied().max() else {
        return tlv(tag::BIT_STRING, &[0]);
    };
    let n_octets = max as usize / 8 + 1;
    let mut data = vec![0u8; n_octets];
    for b in set {
        data[*b as usize / 8] |= 0x80 >> (b % 8);
    }
    let unused = 7 - (max % 8);
    let mut c = vec![unused];
    c.extend_from_slice(&data);
    tlv(tag::BIT_STRING, &c)
}

/// UTF8String.
pub fn utf8(s: &str) -> Vec<u8> {
    tlv(tag::UTF8_STRING, s.as_bytes())
}

/// PrintableString (caller checks the character set; the lints check it again).
pub fn printable(s: &str) -> Vec<u8> {
    tlv(tag::PRINTABLE_STRING, s.as_bytes())
}

/// IA5String.
pub fn ia5(s: &str) -> Vec<u8> {
    tlv(tag::IA5_STRING, s.as_bytes())
}

/// Whether every character is in the PrintableString set (X.680 §41.4).
pub fn is_printable(s: &str) -> bool {
    s.bytes().all(|c| {
        c.is_ascii_alphanumeric()
            || matches!(
                c,
                b' ' | b'\'' | b'(' | b')' | b'+' | b',' | b'-' | b'.' | b'/' | b':' | b'=' | b'?'
            )
    })
}

/// Time per RFC 5280 §4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050,
/// always in UTC with seconds and no fraction.
pub fn time(t: OffsetDateTime) -> Vec<u8> {
    let mut v = Vec::with_capacity(17);
    write_time(&mut v, t);
    v
}

/// Appends [`time`] to a buffer (used by the streaming CRL encoder).
pub fn write_time(out: &mut Vec<u8>, t: OffsetDateTime) {
    let t = t.to_offset(time::UtcOffset::UTC);
    let year = t.year();
    let mut digits = [0u8; 15];
    let (tagv, n) = if (1950..2050).contains(&year) {
        put2(&mut digits[0..2], (year % 100) as u32);
        (tag::UTC_TIME, 12)
    } else {
        put2(&mut digits[0..2], (year / 100) as u32);
        put2(&mut digits[2..4], (year % 100) as u32);
        (tag::GENERALIZED_TIME, 14)
    };
    let off = n - 10;
    put2(&mut digits[off..off + 2], u8::from(t.month()) as u32);
    put2(&mut digits[off + 2..off + 4], t.day() as u32);
    put2(&mut digits[off + 4..off + 6], t.hour() as u32);
    put2(&mut digits[off + 6..off + 8], t.minute() as u32);
    put2(&mut digits[off + 8..off + 10], t.second() as u32);
    digits[n] = b'Z';
    out.push(tagv);
    out.push((n + 1) as u8);
    out.extend_from_slice(&digits[..=n]);
}

/// GeneralizedTime in UTC, seconds, no fraction (RFC 5280 §4.1.2.5.2): for the fields
/// that are GeneralizedTime whatever the year (CRL invalidityDate, every OCSP time).
pub fn generalized_time(t: OffsetDateTime) -> Vec<u8> {
    let mut v = Vec::with_capacity(17);
    write_generalized_time(&mut v, t);
    v
}

/// Appends [`generalized_time`] to a buffer.
pub fn write_generalized_time(out: &mut Vec<u8>, t: OffsetDateTime) {
    let t = t.to_offset(time::UtcOffset::UTC);
    let s = format!(
        "{:04}{:02}{:02}{:02}{:02}{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    );
    out.push(tag::GENERALIZED_TIME);
    out.push(s.len() as u8);
    out.extend_from_slice(s.as_bytes());
}

/// Encoded size of [`time`] for `t`.
pub fn time_len(t: OffsetDateTime) -> usize {
    let y = t.to_offset(time::UtcOffset::UTC).year();
    if (1950..2050).contains(&y) { 15 } else { 17 }
}

fn put2(out: &mut [u8], v: u32) {
    out[0] = b'0' + (v / 10) as u8;
    out[1] = b'0' + (v % 10) as u8;
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn x690_lengths_are_minimal() {
        assert_eq!(tlv(0x04, &[0; 5])[1], 5);
        assert_eq!(&tlv(0x04, &[0; 200])[1..3], &[0x81, 200]);
        assert_eq!(&tlv(0x04, &[0; 300])[1..4], &[0x82, 1, 44]);
        assert_eq!(tlv_len(300), 304);
        assert_eq!(len_of_len(0x7f), 1);
        assert_eq!(len_of_len(0x80), 2);
        assert_eq!(len_of_len(0x10000), 4);
    }

    #[test]
    fn x690_integers_are_positive_and_minimal() {
        assert_eq!(uint(&[0x80]), vec![2, 2, 0, 0x80]);
        assert_eq!(uint(&[0, 0, 5]), vec![2, 1, 5]);
        assert_eq!(uint_u64(0), vec![2, 1, 0]);
    }

    #[test]
    fn x690_named_bits_drop_trailing_zeros() {
        // digitalSignature only: one octet, 7 unused bits.
        assert_eq!(named_bits(&[0]), vec![3, 2, 7, 0x80]);
        // keyCertSign(5) + cRLSign(6): 1 unused bit.
        assert_eq!(named_bits(&[5, 6]), vec![3, 2, 1, 0x06]);
    }

    #[test]
    fn rfc5280_4_1_2_5_utctime_until_2049_then_generalized() {
        assert_eq!(time(datetime!(2049-12-31 23:59:59 UTC)), {
            let mut v = vec![0x17, 13];
            v.extend_from_slice(b"491231235959Z");
            v
        });
        assert_eq!(time(datetime!(2050-01-01 00:00:00 UTC)), {
            let mut v = vec![0x18, 15];
            v.extend_from_slice(b"20500101000000Z");
            v
        });
        assert_eq!(time_len(datetime!(2050-01-01 00:00:00 UTC)), 17);
    }

    #[test]
    fn x680_printable_string_charset() {
        assert!(is_printable("JP"));
        assert!(is_printable("Kumamoto Medical Assn. (CA) 1"));
        assert!(!is_printable("a@b"));
        assert!(!is_printable("熊本"));
    }
}

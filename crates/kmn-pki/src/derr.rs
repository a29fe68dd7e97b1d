//! A minimal DER reader: splits TLVs without interpreting them. Used where the exact
//! bytes matter (the signed part of a CSR, extension values checked by the lints) and on
//! OIDs with arcs wider than 32 bits (the `2.25.<uuid>` policy arc).

#![deny(clippy::indexing_slicing, clippy::unwrap_used, clippy::expect_used)]

use crate::PkiError;

/// One TLV: its tag, its content and the whole encoding.
#[derive(Clone, Copy, Debug)]
pub struct Tlv<'a> {
    /// The identifier octet (low tag numbers only).
    pub tag: u8,
    /// Content octets.
    pub content: &'a [u8],
    /// Tag, length and content.
    pub raw: &'a [u8],
}

fn bad(what: &str) -> PkiError {
    PkiError::BadInput(format!("malformed DER: {what}"))
}

/// Reads one TLV from the front of `input`; returns it and the rest.
///
/// Lengths are taken in at most four octets, must be minimal, and must fit in `input`
/// (no arithmetic on them can overflow: a length is compared with what is left before
/// anything is added to it).
pub fn read(input: &[u8]) -> Result<(Tlv<'_>, &[u8]), PkiError> {
    let (&tag, after_tag) = input.split_first().ok_or_else(|| bad("truncated"))?;
    if tag & 0x1f == 0x1f {
        return Err(bad("high tag numbers are not used here"));
    }
    let (&first, after_len) = after_tag.split_first().ok_or_else(|| bad("truncated"))?;
    let (len, body) = if first < 0x80 {
        (usize::from(first), after_len)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 {
            return Err(bad("indefinite length is not allowed in DER"));
        }
        if n > 4 {
            return Err(bad("bad length"));
        }
        let (octets, body) = after_len
            .split_at_checked(n)
            .ok_or_else(|| bad("truncated"))?;
        if octets.first() == Some(&0) && n > 1 {
            return Err(bad("non-minimal length"));
        }
        let len = octets
            .iter()
            .fold(0u64, |acc, b| (acc << 8) | u64::from(*b));
        if len < 0x80 {
            return Err(bad("non-minimal length"));
        }
        (
            usize::try_from(len).map_err(|_| bad("length too large"))?,
            body,
        )
    };
    let (content, rest) = body.split_at_checked(len).ok_or_else(|| bad("truncated"))?;
    let header = input.len() - body.len();
    let raw = input.get(..header + len).ok_or_else(|| bad("truncated"))?;
    Ok((Tlv { tag, content, raw }, rest))
}

/// Reads exactly one TLV with the expected tag, nothing after it.
pub fn read_one(input: &[u8], tag: u8) -> Result<Tlv<'_>, PkiError> {
    let (t, rest) = read(input)?;
    if t.tag != tag {
        return Err(bad(&format!(
            "expected tag 0x{tag:02x}, found 0x{:02x}",
            t.tag
        )));
    }
    if !rest.is_empty() {
        return Err(bad("trailing data"));
    }
    Ok(t)
}

/// All TLVs inside a content.
pub fn children(content: &[u8]) -> Result<Vec<Tlv<'_>>, PkiError> {
    let mut out = Vec::new();
    let mut rest = content;
    while !rest.is_empty() {
        let (t, r) = read(rest)?;
        out.push(t);
        rest = r;
    }
    Ok(out)
}

/// Exactly `N` TLVs inside a content, or an error naming `what`.
pub fn children_n<'a, const N: usize>(
    content: &'a [u8],
    what: &str,
) -> Result<[Tlv<'a>; N], PkiError> {
    <[Tlv<'a>; N]>::try_from(children(content)?)
        .map_err(|v| bad(&format!("{what} has {} fields, expected {N}", v.len())))
}

/// Decodes OID content octets to dotted text, with arcs up to 128 bits.
pub fn oid_to_string(content: &[u8]) -> Result<String, PkiError> {
    let mut arcs: Vec<u128> = Vec::new();
    let mut cur: u128 = 0;
    let mut in_arc = false;
    for b in content {
        if !in_arc && *b == 0x80 {
            return Err(bad("non-minimal OID arc"));
        }
        if cur > (u128::MAX >> 7) {
            return Err(bad("OID arc too large"));
        }
        cur = (cur << 7) | u128::from(b & 0x7f);
        in_arc = true;
        if b & 0x80 == 0 {
            arcs.push(cur);
            cur = 0;
            in_arc = false;
        }
    }
    if in_arc {
        return Err(bad("truncated OID"));
    }
    let (&first, tail) = arcs.split_first().ok_or_else(|| bad("empty OID"))?;
    let (a, b) = if first < 40 {
        (0, first)
    } else if first < 80 {
        (1, first - 40)
    } else {
        (2, first - 80)
    };
    let mut s = format!("{a}.{b}");
    for arc in tail {
        s.push('.');
        s.push_str(&arc.to_string());
    }
    Ok(s)
}

#[cfg(test)]
#[allow(clippy::indexing_slicing, clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn x690_reader_rejects_non_minimal_and_truncated() {
        assert!(read(&[0x30, 0x81, 0x05, 0, 0, 0, 0, 0]).is_err());
        assert!(read(&[0x04, 0x05, 0]).is_err());
        let (t, rest) = read(&[0x04, 0x01, 0xaa, 0x05, 0x00]).unwrap();
        assert_eq!(t.content, &[0xaa]);
        assert_eq!(rest, &[0x05, 0x00]);
    }
}

//! A minimal DER reader: splits TLVs without interpreting them. Used where the exact
//! bytes matter (the signed part of a CSR, extension values checked by the lints) and on
//! OIDs with arcs wider than 32 bits (the `2.25.<uuid>` policy arc).

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
pub fn read(input: &[u8]) -> Result<(Tlv<'_>, &[u8]), PkiError> {
    if input.len() < 2 {
        return Err(bad("truncated"));
    }
    let tag = input[0];
    if tag & 0x1f == 0x1f {
        return Err(bad("high tag numbers are not used here"));
    }
    let first = input[1];
    let (len, hdr) = if first < 0x80 {
        (first as usize, 2)
    } else {
        let n = (first & 0x7f) as usize;
        if n == 0 || n > 4 || input.len() < 2 + n {
            return Err(bad("bad length"));
        }
        let mut len = 0usize;
        for b in &input[2..2 + n] {
            len = (len << 8) | *b as usize;
        }
        if len < 0x80 || (n > 1 && input[2] == 0) {
            return Err(bad("non-minimal length"));
        }
        (len, 2 + n)
    };
    if input.len() < hdr + len {
        return Err(bad("truncated"));
    }
    Ok((
        Tlv {
            tag,
            content: &input[hdr..hdr + len],
            raw: &input[..hdr + len],
        },
        &input[hdr + len..],
    ))
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

/// Decodes OID content octets to dotted text, with arcs up to 128 bits.
pub fn oid_to_string(content: &[u8]) -> Result<String, PkiError> {
    if content.is_empty() {
        return Err(bad("empty OID"));
    }
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
    let first = arcs[0];
    let (a, b) = if first < 40 {
        (0, first)
    } else if first < 80 {
        (1, first - 40)
    } else {
        (2, first - 80)
    };
    let mut s = format!("{a}.{b}");
    for arc in &arcs[1..] {
        s.push('.');
        s.push_str(&arc.to_string());
    }
    Ok(s)
}

#[cfg(test)]
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

//! Loading certificate bundles and CRL files (DER or PEM).

#![deny(clippy::indexing_slicing, clippy::unwrap_used, clippy::expect_used)]

use crate::asn1::{Reader, tag};
use crate::cert::Cert;
use crate::crl::Crl;
use crate::error::VerifyError;

fn b64_value(c: u8) -> Option<u32> {
    match c {
        b'A'..=b'Z' => Some((c - b'A') as u32),
        b'a'..=b'z' => Some((c - b'a' + 26) as u32),
        b'0'..=b'9' => Some((c - b'0' + 52) as u32),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    }
}

/// Lenient base64 decoding: whitespace is skipped, padding is optional.
fn b64_decode(text: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let mut acc = 0u32;
    let mut bits = 0u32;
    let mut padding = false;
    for &c in text {
        if c.is_ascii_whitespace() {
            continue;
        }
        if c == b'=' {
            padding = true;
            continue;
        }
        if padding {
            return Err("data after base64 padding".into());
        }
        let v = b64_value(c).ok_or_else(|| format!("invalid base64 character {:?}", c as char))?;
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Ok(out)
}

/// Extracts the decoded contents of every PEM block, with its label.
fn pem_blocks(bytes: &[u8]) -> Result<Vec<(String, Vec<u8>)>, String> {
    let text = String::from_utf8_lossy(bytes);
    let mut out = Vec::new();
    let mut rest: &str = &text;
    while let Some((_, after)) = rest.split_once("-----BEGIN ") {
        let (label, body_start) = after
            .split_once("-----")
            .ok_or_else(|| "unterminated PEM header".to_string())?;
        let end_marker = format!("-----END {label}-----");
        let (body, after_end) = body_start
            .split_once(&end_marker)
            .ok_or_else(|| format!("missing \"{end_marker}\""))?;
        // Skip RFC 1421 style headers ("Key: value" lines before an empty line).
        let body = if body.contains(':') {
            body.split_once("\n\n")
                .or_else(|| body.split_once("\r\n\r\n"))
                .map_or(body, |(_, b)| b)
        } else {
            body
        };
        out.push((label.to_string(), b64_decode(body.as_bytes())?));
        rest = after_end;
    }
    Ok(out)
}

/// Splits concatenated DER elements.
fn der_elements(bytes: &[u8]) -> Result<Vec<Vec<u8>>, String> {
    let mut r = Reader::new(bytes);
    let mut out = Vec::new();
    while !r.is_empty() {
        if r.peek_tag() != Some(tag::SEQUENCE) {
            // Allow trailing whitespace / NULs after the last element.
            break;
        }
        out.push(r.any().map_err(|e| e.to_string())?.raw.to_vec());
    }
    Ok(out)
}

fn load(
    bytes: &[u8],
    labels: &[&str],
    what: &str,
    empty: VerifyError,
    check: impl Fn(&[u8]) -> Result<(), String>,
) -> Result<Vec<Vec<u8>>, VerifyError> {
    let malformed = |detail: String| VerifyError::Malformed {
        what: what.to_string(),
        detail,
    };
    let trimmed_start = bytes
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(bytes.len());
    let start = bytes.get(trimmed_start..).unwrap_or_default();
    let items = if start.first() == Some(&tag::SEQUENCE) {
        der_elements(start).map_err(malformed)?
    } else {
        pem_blocks(bytes)
            .map_err(malformed)?
            .into_iter()
            .filter(|(label, _)| labels.contains(&label.as_str()))
            .map(|(_, der)| der)
            .collect()
    };
    if items.is_empty() {
        return Err(empty);
    }
    for (i, der) in items.iter().enumerate() {
        check(der).map_err(|e| VerifyError::Malformed {
            what: format!("{what} #{} in the input", i + 1),
            detail: e,
        })?;
    }
    Ok(items)
}

pub(crate) fn load_certs(bytes: &[u8]) -> Result<Vec<Vec<u8>>, VerifyError> {
    load(
        bytes,
        &["CERTIFICATE", "X509 CERTIFICATE"],
        "certificate",
        VerifyError::NoCertificates,
        |der| Cert::parse(der).map(|_| ()).map_err(|e| e.to_string()),
    )
}

pub(crate) fn load_crl_list(bytes: &[u8]) -> Result<Vec<Vec<u8>>, VerifyError> {
    load(bytes, &["X509 CRL"], "CRL", VerifyError::NoCrls, |der| {
        Crl::parse(der).map(|_| ()).map_err(|e| e.to_string())
    })
}

#[cfg(test)]
#[allow(clippy::indexing_slicing, clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    const ROOT: &[u8] = include_bytes!("../tests/data/root.pem");
    const INTER: &[u8] = include_bytes!("../tests/data/inter.pem");

    #[test]
    fn bundle_with_two_pem_certificates() {
        let mut bundle = b"KMN test chain\r\n".to_vec();
        bundle.extend_from_slice(INTER);
        bundle.extend_from_slice(b"\nsome explanatory text between blocks\n");
        bundle.extend_from_slice(ROOT);
        let certs = load_certs(&bundle).unwrap();
        assert_eq!(certs.len(), 2);
        assert_eq!(certs[0], load_certs(INTER).unwrap()[0]);
        assert_eq!(certs[1], load_certs(ROOT).unwrap()[0]);
        assert!(
            Cert::parse(&certs[0])
                .unwrap()
                .subject_display
                .contains("KMN Test Intermediate")
        );
        assert!(
            Cert::parse(&certs[1])
                .unwrap()
                .subject_display
                .contains("KMN Test Root")
        );

        // The same two certificates as concatenated DER.
        let mut der = certs[0].clone();
        der.extend_from_slice(&certs[1]);
        assert_eq!(load_certs(&der).unwrap(), certs);
    }

    #[test]
    fn bundle_errors() {
        assert_eq!(load_certs(b"no pem here"), Err(VerifyError::NoCertificates));
        let crl = include_bytes!("../tests/data/inter.crl.pem");
        // A CRL is not a certificate bundle.
        assert_eq!(load_certs(crl), Err(VerifyError::NoCertificates));
        assert_eq!(load_crl_list(crl).unwrap().len(), 1);
        let broken = String::from_utf8_lossy(ROOT).replace("M", "*");
        assert!(matches!(
            load_certs(broken.as_bytes()),
            Err(VerifyError::Malformed { .. })
        ));
        let mut truncated = load_certs(ROOT).unwrap().remove(0);
        truncated.truncate(100);
        assert!(matches!(
            load_certs(&truncated),
            Err(VerifyError::Malformed { .. })
        ));
    }

    #[test]
    fn base64_roundtrip_and_errors() {
        assert_eq!(b64_decode(b"TWFu").unwrap(), b"Man");
        assert_eq!(b64_decode(b"TWE=").unwrap(), b"Ma");
        assert_eq!(b64_decode(b"TQ==\n").unwrap(), b"M");
        assert!(b64_decode(b"T*E=").is_err());
    }
}

//! Certificate serial numbers and CRL numbers.

use std::fmt;

/// A certificate serial number (RFC 5280 §4.1.2.2): a positive INTEGER of at most
/// 20 octets, kept as its minimal unsigned big-endian bytes (no leading zero byte).
///
/// Canonical text form: lowercase hex without separators. Input may be in any case, with
/// or without colons, with or without leading zero bytes (as `openssl x509 -serial`
/// prints it).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CertSerial(Vec<u8>);

/// Why a serial number could not be parsed.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum SerialParseError {
    /// Empty input.
    #[error("the serial number is empty")]
    Empty,
    /// A character that is not a hex digit or a colon.
    #[error("the serial number '{0}' is not hexadecimal (0-9, a-f; colons allowed)")]
    NotHex(String),
    /// Zero is not a valid serial number.
    #[error("the serial number must be positive, not zero")]
    Zero,
    /// Longer than RFC 5280 allows.
    #[error("the serial number is longer than 20 octets (RFC 5280 §4.1.2.2)")]
    TooLong,
}

impl CertSerial {
    /// Builds a serial from unsigned big-endian bytes (leading zero bytes are dropped).
    pub fn from_unsigned_bytes(bytes: &[u8]) -> Result<Self, SerialParseError> {
        let first = bytes.iter().position(|b| *b != 0);
        let Some(first) = first else {
            return Err(if bytes.is_empty() {
                SerialParseError::Empty
            } else {
                SerialParseError::Zero
            });
        };
        let v = bytes[first..].to_vec();
        // Encoded as a positive INTEGER it may need one extra 0x00 octet.
        let encoded_len = v.len() + usize::from(v[0] & 0x80 != 0);
        if encoded_len > 20 {
            return Err(SerialParseError::TooLong);
        }
        Ok(Self(v))
    }

    /// Builds the serial of a new certificate from 16 random bytes (128 random bits,
    /// DESIGN §4). The caller draws again when the first byte is zero, so that every
    /// serial has exactly 128 bits of randomness and a fixed width.
    pub fn from_random(bytes: [u8; 16]) -> Option<Self> {
        if bytes[0] == 0 {
            return None;
        }
        Some(Self(bytes.to_vec()))
    }

    /// The minimal unsigned big-endian bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The canonical text form (lowercase hex).
    pub fn to_hex(&self) -> String {
        hex::encode(&self.0)
    }

    /// Colon-separated uppercase hex, as OpenSSL and most viewers print it.
    pub fn to_colon_hex(&self) -> String {
        self.0
            .iter()
            .map(|b| format!("{b:02X}"))
            .collect::<Vec<_>>()
            .join(":")
    }
}

impl std::str::FromStr for CertSerial {
    type Err = SerialParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let cleaned: String = s.trim().chars().filter(|c| *c != ':').collect();
        let cleaned = cleaned
            .strip_prefix("0x")
            .or_else(|| cleaned.strip_prefix("0X"))
            .unwrap_or(&cleaned)
            .to_string();
        if cleaned.is_empty() {
            return Err(SerialParseError::Empty);
        }
        if !cleaned.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(SerialParseError::NotHex(s.trim().to_string()));
        }
        let padded = if cleaned.len() % 2 == 1 {
            format!("0{cleaned}")
        } else {
            cleaned
        };
        let bytes = hex::decode(&padded).map_err(|_| SerialParseError::NotHex(s.to_string()))?;
        Self::from_unsigned_bytes(&bytes)
    }
}

impl fmt::Display for CertSerial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for CertSerial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CertSerial({})", self.to_hex())
    }
}

/// A CRL number (RFC 5280 §5.2.3): strictly increasing per issuer, at most 20 octets.
/// Kept as `u63` so that it fits a signed BIGINT in both databases.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CrlNumber(pub i64);

impl CrlNumber {
    /// The number after this one.
    pub fn next(self) -> Self {
        Self(self.0 + 1)
    }
}

impl fmt::Display for CrlNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc5280_4_1_2_2_serial_parses_any_case_with_colons() {
        let a: CertSerial = "7A:0b:FF".parse().unwrap();
        let b: CertSerial = "7a0bff".parse().unwrap();
        let c: CertSerial = "007A0BFF".parse().unwrap();
        assert_eq!(a, b);
        assert_eq!(a, c);
        assert_eq!(a.to_hex(), "7a0bff");
        assert_eq!(a.to_colon_hex(), "7A:0B:FF");
    }

    #[test]
    fn rfc5280_4_1_2_2_serial_rejects_zero_garbage_and_overlong() {
        assert_eq!("00".parse::<CertSerial>(), Err(SerialParseError::Zero));
        assert_eq!("".parse::<CertSerial>(), Err(SerialParseError::Empty));
        assert!(matches!(
            "xyz".parse::<CertSerial>(),
            Err(SerialParseError::NotHex(_))
        ));
        // 20 octets with the high bit set need 21 when encoded: too long.
        assert_eq!(
            "ff".repeat(20).parse::<CertSerial>(),
            Err(SerialParseError::TooLong)
        );
        assert!("7f".repeat(20).parse::<CertSerial>().is_ok());
    }

    #[test]
    fn design4_random_serial_has_128_bits() {
        assert!(CertSerial::from_random([0; 16]).is_none());
        let s = CertSerial::from_random([0x80; 16]).unwrap();
        assert_eq!(s.as_bytes().len(), 16);
    }
}

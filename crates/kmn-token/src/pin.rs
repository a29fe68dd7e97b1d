//! PINs: [`SecretPin`] (zeroized, never printed) and the per-card SO PIN derivation
//! ([`SoPinDeriver`], DESIGN §6: HMAC of the center's master secret and the token serial).

use std::fmt;

use aws_lc_rs::hmac;
use zeroize::Zeroizing;

use crate::TokenError;

/// A PIN (user or SO). Zeroized on drop; `Debug` shows `<redacted>`; no `Display`.
#[derive(Clone)]
pub struct SecretPin(Zeroizing<String>);

impl SecretPin {
    /// Wraps a PIN.
    pub fn new(pin: impl Into<String>) -> Self {
        Self(Zeroizing::new(pin.into()))
    }

    /// A random PIN of `n` decimal digits (initial user PINs; at least 6 digits).
    pub fn random_digits(n: usize) -> Result<Self, TokenError> {
        if !(6..=32).contains(&n) {
            return Err(TokenError::BadInput(format!(
                "初期PINの桁数は6〜32桁です（指定: {n}）"
            )));
        }
        let mut out = Zeroizing::new(String::with_capacity(n));
        let mut buf = Zeroizing::new([0u8; 64]);
        while out.len() < n {
            aws_lc_rs::rand::fill(buf.as_mut_slice())
                .map_err(|_| TokenError::BadInput("乱数を生成できません".into()))?;
            for b in buf.iter() {
                // Rejection sampling: 250 = 25 × 10, so values below it are unbiased.
                if *b < 250 && out.len() < n {
                    out.push(char::from(b'0' + b % 10));
                }
            }
        }
        Ok(Self(out))
    }

    /// The PIN text (for handing to PKCS#11 or a PIN mailer; never log it).
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Number of characters.
    pub fn len(&self) -> usize {
        self.0.chars().count()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub(crate) fn auth(&self) -> cryptoki::types::AuthPin {
        cryptoki::types::AuthPin::from(self.0.as_str())
    }
}

impl fmt::Debug for SecretPin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretPin(<redacted>)")
    }
}

impl PartialEq for SecretPin {
    fn eq(&self, other: &Self) -> bool {
        // Not constant time; PINs are compared only in tests and on the station.
        self.0.as_bytes() == other.0.as_bytes()
    }
}

/// Derives each card's SO PIN from the center's master secret and the token serial:
/// `HMAC-SHA256(master, "kmn-token so-pin v1\0" || serial)` read as a 256-bit number,
/// reduced modulo 10^16 and written as 16 decimal digits (cards often take digits only;
/// the reduction bias is below 2^-200).
pub struct SoPinDeriver {
    master: Zeroizing<Vec<u8>>,
}

const SO_PIN_CONTEXT: &[u8] = b"kmn-token so-pin v1\0";

impl SoPinDeriver {
    /// A deriver over the master secret (at least 16 bytes; 32 random bytes recommended).
    pub fn new(master: impl Into<Vec<u8>>) -> Result<Self, TokenError> {
        let master = Zeroizing::new(master.into());
        if master.len() < 16 {
            return Err(TokenError::BadInput(
                "SO PINのマスター鍵は16バイト以上必要です".into(),
            ));
        }
        Ok(Self { master })
    }

    /// The SO PIN of the card with this serial (as the token reports it, trimmed).
    pub fn so_pin(&self, token_serial: &str) -> Result<SecretPin, TokenError> {
        let serial = token_serial.trim();
        if serial.is_empty() {
            return Err(TokenError::BadInput(
                "カードのシリアル番号が空です。SO PINを導出できません".into(),
            ));
        }
        let key = hmac::Key::new(hmac::HMAC_SHA256, &self.master);
        let mut ctx = hmac::Context::with_key(&key);
        ctx.update(SO_PIN_CONTEXT);
        ctx.update(serial.as_bytes());
        let tag = ctx.sign();
        const MODULUS: u128 = 10_000_000_000_000_000; // 10^16
        let mut r: u128 = 0;
        for b in tag.as_ref() {
            r = ((r << 8) | u128::from(*b)) % MODULUS;
        }
        let pin = Zeroizing::new(format!("{r:016}"));
        Ok(SecretPin(pin))
    }
}

impl fmt::Debug for SoPinDeriver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SoPinDeriver(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn so_pin_is_stable_sixteen_digits_and_differs_per_serial() {
        let d = SoPinDeriver::new(vec![7u8; 32]).unwrap();
        let a = d.so_pin("8e95b7389bf0ae82").unwrap();
        let a2 = d.so_pin("8e95b7389bf0ae82  ").unwrap();
        let b = d.so_pin("8e95b7389bf0ae83").unwrap();
        assert_eq!(
            a, a2,
            "stable, and the token's blank padding does not matter"
        );
        assert_ne!(a, b, "differs per serial");
        for p in [&a, &b] {
            assert_eq!(p.expose().len(), 16);
            assert!(p.expose().bytes().all(|c| c.is_ascii_digit()));
        }
        // Another master gives another PIN.
        let d2 = SoPinDeriver::new(vec![8u8; 32]).unwrap();
        assert_ne!(d2.so_pin("8e95b7389bf0ae82").unwrap(), a);
        // Pinned value: the derivation must never change (cards in the field depend on it).
        assert_eq!(a.expose(), PINNED);
        assert!(d.so_pin("  ").is_err());
        assert!(SoPinDeriver::new(vec![1u8; 8]).is_err());
    }

    // HMAC-SHA256(key = 0x07 × 32, "kmn-token so-pin v1\0" || "8e95b7389bf0ae82") mod 10^16,
    // cross-checked with Python's hmac module.
    const PINNED: &str = "5684422348308094";

    #[test]
    fn pins_are_redacted_and_random_pins_are_digits() {
        let p = SecretPin::random_digits(8).unwrap();
        assert_eq!(p.len(), 8);
        assert!(p.expose().bytes().all(|c| c.is_ascii_digit()));
        assert_eq!(format!("{p:?}"), "SecretPin(<redacted>)");
        assert!(SecretPin::random_digits(4).is_err());
        let d = SoPinDeriver::new(vec![1u8; 16]).unwrap();
        assert!(!format!("{d:?}").contains('1'));
        // Not all equal digits across many draws (the RNG is wired).
        let many: Vec<String> = (0..4)
            .map(|_| SecretPin::random_digits(12).unwrap().expose().to_string())
            .collect();
        assert!(many.iter().any(|m| m != &many[0]));
    }
}

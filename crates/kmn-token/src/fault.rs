//! Fault injection between personalization steps (cargo feature `fault-points`).
//!
//! With the feature on, `KMN_FAULT` names the points to fail, comma-separated, each
//! optionally with the failure to simulate: `KMN_FAULT=after_keygen` (the card is
//! "removed" right after key generation) or `KMN_FAULT=login_user=pin_locked`.
//! Failures: `removed` (default; CKR_DEVICE_REMOVED), `pin_locked` (CKR_PIN_LOCKED),
//! `pin_incorrect` (CKR_PIN_INCORRECT), `device_error` (CKR_DEVICE_ERROR). A simulated
//! failure goes through the same error mapping as a real one.
//!
//! Points: `after_init_card`, `after_set_user_pin`, `login_user`, `after_keygen`,
//! `after_csr`, `after_write_certificate`, `hsm_sign`; and `keygen_extractable`, which
//! makes key generation ask for an extractable, non-sensitive key (a card that does not
//! protect its key), so the key checks must refuse it.
//!
//! Without the feature every point is `Ok(())` and the variable is never read.

use crate::TokenError;

/// The environment variable that arms fault points (feature `fault-points` only).
pub const FAULT_ENV: &str = "KMN_FAULT";

/// Fails if the point `name` is armed (feature `fault-points`); otherwise `Ok(())`.
#[cfg(feature = "fault-points")]
pub fn fault_point(name: &str) -> Result<(), TokenError> {
    raw_fault(name).map_err(crate::error::map_ck)
}

/// Fails if the point `name` is armed (feature `fault-points`); otherwise `Ok(())`.
#[cfg(not(feature = "fault-points"))]
#[inline(always)]
pub fn fault_point(_name: &str) -> Result<(), TokenError> {
    Ok(())
}

/// The simulated failure as the raw cryptoki error, so call sites map it like a real one.
#[cfg(feature = "fault-points")]
pub(crate) fn raw_fault(name: &str) -> Result<(), cryptoki::error::Error> {
    use cryptoki::context::Function;
    use cryptoki::error::{Error, RvError};
    let Ok(spec) = std::env::var(FAULT_ENV) else {
        return Ok(());
    };
    for item in spec.split(',') {
        let (point, kind) = item
            .trim()
            .split_once('=')
            .unwrap_or((item.trim(), "removed"));
        if point != name {
            continue;
        }
        let (rv, f) = match kind {
            "pin_locked" => (RvError::PinLocked, Function::Login),
            "pin_incorrect" => (RvError::PinIncorrect, Function::Login),
            "device_error" => (RvError::DeviceError, Function::GetTokenInfo),
            _ => (RvError::DeviceRemoved, Function::GetTokenInfo),
        };
        return Err(Error::Pkcs11(rv, f));
    }
    Ok(())
}

#[cfg(not(feature = "fault-points"))]
#[inline(always)]
pub(crate) fn raw_fault(_name: &str) -> Result<(), cryptoki::error::Error> {
    Ok(())
}

/// Whether the point `name` is armed (feature `fault-points`), for faults that change
/// behaviour rather than fail a call.
#[cfg(feature = "fault-points")]
pub(crate) fn armed(name: &str) -> bool {
    std::env::var(FAULT_ENV)
        .map(|spec| {
            spec.split(',')
                .any(|i| i.trim().split('=').next() == Some(name))
        })
        .unwrap_or(false)
}

#[cfg(not(feature = "fault-points"))]
#[inline(always)]
pub(crate) fn armed(_name: &str) -> bool {
    false
}

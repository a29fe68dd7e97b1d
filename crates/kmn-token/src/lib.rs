//! kmn-token: PKCS#11 for user cards (利用者カード) and CA keys in an HSM (DESIGN §6).
//!
//! - [`Module`] loads a PKCS#11 module once per process; slots are found by token label
//!   ([`Module::find_slot`]) because slot numbers move.
//! - Card personalization primitives, in the station's order: [`init_card`],
//!   [`set_initial_user_pin`], [`login_user`], [`generate_card_key`],
//!   [`build_csr_on_card`], [`check_card_key`], [`write_certificate`]; rollback and
//!   destruction with [`wipe`]; PIN service (第9条) with [`change_pin`] and
//!   [`unlock_with_so`]; [`inspect`] for the support desk.
//! - Per-card SO PINs from [`SoPinDeriver`]; PINs as [`SecretPin`].
//! - [`CardSigner`] and [`HsmSigner`] implement [`kmn_pki::keys::Signer`].
//! - [`tls`]: TLS client authentication with the key on the card (a rustls `SigningKey`
//!   over PKCS#11; RSA-PSS for TLS 1.3, legacy RSA cards fall back to TLS 1.2).
//! - Errors: [`TokenError`] / [`KeyCheckError`] with Japanese `Display`, stable `code()`.
//! - Feature `fault-points`: [`fault_point`] armed by `KMN_FAULT` (tests only).
//!
//! # SoftHSM2 2.6.1 notes (tests, quick start)
//! - The module reads `SOFTHSM2_CONF` at C_Initialize, once per process.
//! - A blank slot reports an empty serial; the serial is assigned by C_InitToken and kept
//!   when the token is re-initialised. [`init_card_derived`] copes (transient SO PIN,
//!   then C_SetPIN to the derived one). Initialising the blank slot adds a new blank
//!   slot in the same process; other processes see the token under another slot id.
//! - No CKM_ECDSA_SHA256: hashing is done on the host everywhere in this crate.
//! - CKA_EC_POINT comes back as a DER OCTET STRING (both forms are accepted).
//! - A user PIN never locks; CKR_PIN_LOCKED is exercised with the fault point.
//! - A token deleted by another process answers CKR_GENERAL_ERROR to C_GetTokenInfo;
//!   [`Module::slots_with_tokens`] skips such slots.
//! - `slots.mechanisms`: the syntax is `-A,B,C` (a leading minus disables the list;
//!   `ALL,-X` disables everything) and 2.6.1 ignores the first name after the minus.

#![forbid(unsafe_code)]

/// The cryptoki version this crate is built on (for [`CardSession::with_session`]).
pub use cryptoki;

mod card;
mod der;
mod error;
mod fault;
mod hsm;
mod module;
mod pin;
pub mod roca;
mod signer;
pub mod tls;

pub use card::{
    CardFlags, CardInspection, CardKey, CardKeyAlg, CardObject, InitializedCard, KeyFacts,
    build_csr_on_card, change_pin, change_pin_on_pin_pad, change_so_pin, check_card_key,
    find_card_key, generate_card_key, has_pin_pad, init_blank, init_card, init_card_derived,
    inspect, inspect_session, login_user, logout, set_initial_user_pin, token_serial,
    unlock_with_so, wipe, write_certificate,
};
pub use error::{KeyCheckError, TokenError};
pub use fault::{FAULT_ENV, fault_point};
pub use hsm::HsmSigner;
pub use module::{BLANK_LABEL, CardSession, MechanismSupport, Module, Slot, SlotInfo, Wanted};
pub use pin::{SecretPin, SoPinDeriver};
pub use signer::CardSigner;

/// Where Debian and Ubuntu install SoftHSM2's module (tests and the quick start).
pub const SOFTHSM2_MODULE_PATHS: [&str; 3] = [
    "/usr/lib/softhsm/libsofthsm2.so",
    "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
    "/usr/local/lib/softhsm/libsofthsm2.so",
];

/// The first SoftHSM2 module found at a usual path.
pub fn find_softhsm2_module() -> Option<std::path::PathBuf> {
    SOFTHSM2_MODULE_PATHS
        .iter()
        .map(std::path::PathBuf::from)
        .find(|p| p.exists())
}

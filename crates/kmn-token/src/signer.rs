//! [`CardSigner`]: a card key as a [`kmn_pki::keys::Signer`].
//!
//! The hash is always computed on the host: SoftHSM2 and many IC cards have no
//! CKM_ECDSA_SHA256, so ECDSA signs with CKM_ECDSA (raw `r‖s`, converted to DER) and RSA
//! with CKM_RSA_PKCS over a DigestInfo(SHA-256). RSA-PSS (for TLS 1.3 client auth) uses
//! CKM_RSA_PKCS_PSS with SHA-256, MGF1-SHA256 and a 32-byte salt.

use std::sync::Mutex;

use cryptoki::mechanism::rsa::{PkcsMgfType, PkcsPssParams};
use cryptoki::mechanism::{Mechanism, MechanismType};
use kmn_pki::PkiError;
use kmn_pki::keys::{SignatureAlgorithm, Signer};

use crate::card::{CardKey, CardKeyAlg};
use crate::error::map_ck;
use crate::module::{CardSession, MechanismSupport};
use crate::{TokenError, der};

/// Signs with a key on a card through an open, logged-in [`CardSession`].
pub struct CardSigner<'a> {
    card: &'a CardSession,
    key: CardKey,
    mechanisms: MechanismSupport,
    last_error: Mutex<Option<TokenError>>,
}

impl std::fmt::Debug for CardSigner<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CardSigner")
            .field("alg", &self.key.alg)
            .field("id", &hex::encode(&self.key.id))
            .finish()
    }
}

impl<'a> CardSigner<'a> {
    /// A signer for `key` through `card` (which must be logged in as the user to sign).
    pub fn new(card: &'a CardSession, key: &CardKey) -> Result<Self, TokenError> {
        let mechanisms = card.module().mechanisms(card.slot())?;
        let needed = match key.alg {
            CardKeyAlg::Rsa2048 => mechanisms.rsa_pkcs,
            CardKeyAlg::P256 => mechanisms.ecdsa,
        };
        if !needed {
            return Err(TokenError::Unsupported(match key.alg {
                CardKeyAlg::Rsa2048 => "RSA PKCS#1署名（CKM_RSA_PKCS）".into(),
                CardKeyAlg::P256 => "ECDSA署名（CKM_ECDSA）".into(),
            }));
        }
        Ok(Self {
            card,
            key: key.clone(),
            mechanisms,
            last_error: Mutex::new(None),
        })
    }

    /// A signer whose mechanisms were already checked by [`CardSigner::new`] (no second
    /// C_GetMechanismList per signature).
    pub(crate) fn checked(
        card: &'a CardSession,
        key: &CardKey,
        mechanisms: MechanismSupport,
    ) -> Self {
        Self {
            card,
            key: key.clone(),
            mechanisms,
            last_error: Mutex::new(None),
        }
    }

    /// The token's signature mechanisms, as read by [`CardSigner::new`].
    pub(crate) fn mechanisms(&self) -> MechanismSupport {
        self.mechanisms
    }

    /// The key.
    pub fn key(&self) -> &CardKey {
        &self.key
    }

    /// Whether the card offers CKM_RSA_PKCS_PSS (TLS 1.3 with an RSA card needs it;
    /// without it the gateway must keep TLS 1.2 rsa_pkcs1_sha256, DESIGN §4).
    pub fn supports_rsa_pss(&self) -> bool {
        self.key.alg == CardKeyAlg::Rsa2048 && self.mechanisms.rsa_pss
    }

    /// Signs `msg` with the key's certificate algorithm (ECDSA-SHA256 as DER, or
    /// sha256WithRSAEncryption), with the token's error kept typed.
    pub fn sign_message(&self, msg: &[u8]) -> Result<Vec<u8>, TokenError> {
        let digest = der::sha256(msg);
        match self.key.alg {
            CardKeyAlg::Rsa2048 => {
                self.raw_sign(&Mechanism::RsaPkcs, &der::digest_info_sha256(&digest))
            }
            CardKeyAlg::P256 => der::ecdsa_raw_to_der(&self.raw_sign(&Mechanism::Ecdsa, &digest)?),
        }
    }

    /// RSASSA-PKCS1-v1_5 with SHA-256 (TLS 1.2 rsa_pkcs1_sha256, certificates).
    pub fn sign_rsa_pkcs1_sha256(&self, msg: &[u8]) -> Result<Vec<u8>, TokenError> {
        self.require_rsa()?;
        self.sign_message(msg)
    }

    /// RSASSA-PSS with SHA-256, MGF1-SHA256, salt 32 (TLS 1.3 rsa_pss_rsae_sha256).
    pub fn sign_rsa_pss_sha256(&self, msg: &[u8]) -> Result<Vec<u8>, TokenError> {
        self.require_rsa()?;
        if !self.mechanisms.rsa_pss {
            return Err(TokenError::Unsupported(
                "RSA-PSS署名（CKM_RSA_PKCS_PSS）".into(),
            ));
        }
        let params = PkcsPssParams {
            hash_alg: MechanismType::SHA256,
            mgf: PkcsMgfType::MGF1_SHA256,
            s_len: 32u64.into(),
        };
        self.raw_sign(&Mechanism::RsaPkcsPss(params), &der::sha256(msg))
    }

    /// ECDSA P-256 with SHA-256, DER (TLS 1.3 ecdsa_secp256r1_sha256).
    pub fn sign_ecdsa_sha256(&self, msg: &[u8]) -> Result<Vec<u8>, TokenError> {
        if self.key.alg != CardKeyAlg::P256 {
            return Err(TokenError::BadInput("この鍵はECDSA鍵ではありません".into()));
        }
        self.sign_message(msg)
    }

    fn require_rsa(&self) -> Result<(), TokenError> {
        if self.key.alg != CardKeyAlg::Rsa2048 {
            return Err(TokenError::BadInput("この鍵はRSA鍵ではありません".into()));
        }
        Ok(())
    }

    fn raw_sign(&self, mech: &Mechanism<'_>, input: &[u8]) -> Result<Vec<u8>, TokenError> {
        self.card
            .lock()
            .sign(mech, self.key.private, input)
            .map_err(map_ck)
    }

    /// The token error behind the last failed [`Signer::sign`] (which can only return a
    /// [`PkiError`]).
    pub fn take_last_error(&self) -> Option<TokenError> {
        self.last_error
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
    }
}

impl Signer for CardSigner<'_> {
    fn signature_algorithm(&self) -> SignatureAlgorithm {
        self.key.alg.signature_algorithm()
    }

    fn spki_der(&self) -> &[u8] {
        &self.key.spki_der
    }

    fn sign(&self, tbs: &[u8]) -> Result<Vec<u8>, PkiError> {
        self.sign_message(tbs).map_err(|e| {
            let msg = format!("{e} [{}]", e.code());
            *self.last_error.lock().unwrap_or_else(|p| p.into_inner()) = Some(e);
            PkiError::Key(msg)
        })
    }
}

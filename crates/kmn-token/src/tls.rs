//! TLS client authentication with the key on the card (DESIGN §4, §6).
//!
//! [`CardTlsKey`] is a [`rustls::sign::SigningKey`] whose private-key operations go through
//! PKCS#11 on the card (by way of [`CardSigner`]): the key is never read or exported.
//! [`client_config`] wraps it in a [`rustls::ClientConfig`] (aws-lc-rs provider) that
//! presents the card's certificate whenever the server asks for one.
//!
//! # Signature schemes
//!
//! A scheme is chosen from those the server offers in its CertificateRequest that the
//! card can also make, judged by the token's mechanism list (read once, when the key is
//! opened):
//!
//! | card key | token mechanisms | schemes, in order of preference |
//! |---|---|---|
//! | RSA-2048 | CKM_RSA_PKCS and CKM_RSA_PKCS_PSS | `rsa_pss_rsae_sha256` (MGF1-SHA256, salt 32), `rsa_pkcs1_sha256` |
//! | RSA-2048 | CKM_RSA_PKCS only (legacy card) | `rsa_pkcs1_sha256` |
//! | P-256 | CKM_ECDSA | `ecdsa_secp256r1_sha256` (the card's raw `r‖s` re-encoded as DER) |
//!
//! The hash is computed on the host (SoftHSM2 and many IC cards lack the combined
//! mechanisms), so only SHA-256 schemes are offered.
//!
//! TLS 1.3 forbids PKCS #1 v1.5 signatures in CertificateVerify (RFC 8446 §4.2.3): an RSA
//! card needs RSA-PSS for TLS 1.3. The version is settled by the ClientHello, before the
//! server asks for a certificate, so [`client_config`] leaves TLS 1.3 out of the versions
//! it offers for an RSA card without CKM_RSA_PKCS_PSS; the handshake then runs TLS 1.2 with
//! `rsa_pkcs1_sha256`. When only TLS 1.3 is allowed, such a card is refused up front
//! with [`TokenError::Tls13NeedsPss`] rather than failing in the middle of a handshake.
//!
//! # Sessions and errors
//!
//! Each [`CardTlsKey`] owns one PKCS#11 session logged in as the user, behind a mutex
//! (rustls needs `Send + Sync`; concurrent handshakes sign one after the other). The PIN
//! is not kept: when the login is lost (card pulled, C_Logout from elsewhere) signing fails
//! and a new key must be opened. rustls only carries a [`rustls::Error::General`] text
//! (the Japanese message and its code); the typed error is kept for the application in
//! [`CardTlsKey::take_last_error`].
//!
//! # Example
//!
//! ```no_run
//! use kmn_token::{Module, SecretPin, find_softhsm2_module, tls};
//! # fn main() -> Result<(), kmn_token::TokenError> {
//! let module = Module::load(&find_softhsm2_module().unwrap())?;
//! let slot = module.find_slot(Some("card-0001"), None)?;
//! let mut roots = rustls::RootCertStore::empty();
//! # let root_der: Vec<u8> = vec![];
//! roots.add(root_der.into()).map_err(|e| kmn_token::TokenError::Tls(e.to_string()))?;
//! // An empty chain: the certificate stored on the card under the key's CKA_ID.
//! let config = tls::client_config(
//!     &module,
//!     slot,
//!     &SecretPin::new("12345678"),
//!     &[0x01],
//!     vec![],
//!     roots,
//!     rustls::ALL_VERSIONS,
//! )?;
//! # let _ = config;
//! # Ok(())
//! # }
//! ```

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use cryptoki::object::{Attribute, AttributeType, ObjectClass};
use cryptoki::session::SessionState;
use rustls::client::ResolvesClientCert;
use rustls::pki_types::{CertificateDer, SubjectPublicKeyInfoDer};
use rustls::sign::{CertifiedKey, SingleCertAndKey};
use rustls::{
    ClientConfig, ProtocolVersion, RootCertStore, SignatureAlgorithm, SignatureScheme,
    SupportedProtocolVersion,
};

use crate::card::{CardKey, CardKeyAlg, find_card_key, login_user};
use crate::error::map_ck;
use crate::module::{CardSession, MechanismSupport, Module, Slot};
use crate::{CardSigner, SecretPin, TokenError};

/// A key on a card as a rustls [`SigningKey`](rustls::sign::SigningKey) for TLS client
/// authentication. Cheap to clone (clones share the session and the counters).
#[derive(Clone)]
pub struct CardTlsKey {
    inner: Arc<Inner>,
}

struct Inner {
    session: CardSession,
    key: CardKey,
    mechanisms: MechanismSupport,
    signatures: AtomicU64,
    last_scheme: Mutex<Option<SignatureScheme>>,
    last_error: Mutex<Option<TokenError>>,
}

impl std::fmt::Debug for CardTlsKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CardTlsKey")
            .field("slot", &self.inner.session.slot().id())
            .field("alg", &self.inner.key.alg)
            .field("id", &hex::encode(&self.inner.key.id))
            .field("rsa_pss", &self.inner.mechanisms.rsa_pss)
            .finish()
    }
}

impl CardTlsKey {
    /// Opens a session on the card in `slot`, logs in with the user PIN and finds the key
    /// pair with CKA_ID `key_id`. A wrong PIN is [`TokenError::WrongPin`]; but PKCS#11
    /// logins are per token and process, so while another session of this process is
    /// logged in to the card, C_Login succeeds without checking the PIN.
    pub fn open(
        module: &Module,
        slot: Slot,
        pin: &SecretPin,
        key_id: &[u8],
    ) -> Result<CardTlsKey, TokenError> {
        let session = CardSession::open(module, slot)?;
        login_user(&session, pin)?;
        let key = find_card_key(&session, key_id)?;
        CardTlsKey::new(session, &key)
    }

    /// Wraps `key` reached through `session`, which must be logged in as the user; the
    /// key keeps the session.
    pub fn new(session: CardSession, key: &CardKey) -> Result<CardTlsKey, TokenError> {
        let state = session
            .lock()
            .get_session_info()
            .map_err(map_ck)?
            .session_state();
        if !matches!(state, SessionState::RoUser | SessionState::RwUser) {
            return Err(TokenError::NotLoggedIn);
        }
        let mechanisms = CardSigner::new(&session, key)?.mechanisms();
        Ok(CardTlsKey {
            inner: Arc::new(Inner {
                session,
                key: key.clone(),
                mechanisms,
                signatures: AtomicU64::new(0),
                last_scheme: Mutex::new(None),
                last_error: Mutex::new(None),
            }),
        })
    }

    /// The card key.
    pub fn key(&self) -> &CardKey {
        &self.inner.key
    }

    /// The key's algorithm.
    pub fn alg(&self) -> CardKeyAlg {
        self.inner.key.alg
    }

    /// The signature schemes this card can make, most preferred first (see the module
    /// documentation).
    pub fn schemes(&self) -> Vec<SignatureScheme> {
        match self.inner.key.alg {
            CardKeyAlg::Rsa2048 if self.inner.mechanisms.rsa_pss => vec![
                SignatureScheme::RSA_PSS_SHA256,
                SignatureScheme::RSA_PKCS1_SHA256,
            ],
            CardKeyAlg::Rsa2048 => vec![SignatureScheme::RSA_PKCS1_SHA256],
            CardKeyAlg::P256 => vec![SignatureScheme::ECDSA_NISTP256_SHA256],
        }
    }

    /// Whether the card can authenticate over TLS 1.3 (false for an RSA card without
    /// CKM_RSA_PKCS_PSS).
    pub fn supports_tls13(&self) -> bool {
        match self.inner.key.alg {
            CardKeyAlg::Rsa2048 => self.inner.mechanisms.rsa_pss,
            CardKeyAlg::P256 => true,
        }
    }

    /// The versions of `allowed` this card can authenticate with (TLS 1.3 left out for an
    /// RSA card without RSA-PSS). Errors with [`TokenError::Tls13NeedsPss`] when none is
    /// left.
    pub fn protocol_versions(
        &self,
        allowed: &[&'static SupportedProtocolVersion],
    ) -> Result<Vec<&'static SupportedProtocolVersion>, TokenError> {
        if allowed.is_empty() {
            return Err(TokenError::BadInput(
                "TLSのバージョンが指定されていません".into(),
            ));
        }
        let usable: Vec<_> = allowed
            .iter()
            .copied()
            .filter(|v| v.version != ProtocolVersion::TLSv1_3 || self.supports_tls13())
            .collect();
        if usable.is_empty() {
            return Err(TokenError::Tls13NeedsPss);
        }
        Ok(usable)
    }

    /// Signatures made so far (one per handshake with client authentication).
    pub fn signatures(&self) -> u64 {
        self.inner.signatures.load(Ordering::Relaxed)
    }

    /// The scheme of the last signature made, if any.
    pub fn last_scheme(&self) -> Option<SignatureScheme> {
        *self
            .inner
            .last_scheme
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }

    /// The token error behind the last failed signature (rustls only carries its text).
    pub fn take_last_error(&self) -> Option<TokenError> {
        self.inner
            .last_error
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
    }

    /// The DER certificate stored on the card with the key's CKA_ID (what
    /// [`write_certificate`](crate::write_certificate) wrote at personalization).
    pub fn card_certificate(&self) -> Result<Vec<u8>, TokenError> {
        let id = &self.inner.key.id;
        let not_found = || TokenError::CertificateNotFound {
            what: format!("ID {}", hex::encode(id)),
        };
        let s = self.inner.session.lock();
        let found = s
            .find_objects(&[
                Attribute::Class(ObjectClass::CERTIFICATE),
                Attribute::Id(id.clone()),
            ])
            .map_err(map_ck)?;
        let handle = *found.first().ok_or_else(not_found)?;
        s.get_attributes(handle, &[AttributeType::Value])
            .map_err(map_ck)?
            .into_iter()
            .find_map(|a| match a {
                Attribute::Value(v) => Some(v),
                _ => None,
            })
            .ok_or_else(not_found)
    }

    fn record(
        &self,
        scheme: SignatureScheme,
        r: Result<Vec<u8>, TokenError>,
    ) -> Result<Vec<u8>, rustls::Error> {
        match r {
            Ok(sig) => {
                self.inner.signatures.fetch_add(1, Ordering::Relaxed);
                *self
                    .inner
                    .last_scheme
                    .lock()
                    .unwrap_or_else(|e| e.into_inner()) = Some(scheme);
                Ok(sig)
            }
            Err(e) => {
                let msg = format!("{e} [{}]", e.code());
                *self
                    .inner
                    .last_error
                    .lock()
                    .unwrap_or_else(|p| p.into_inner()) = Some(e);
                Err(rustls::Error::General(msg))
            }
        }
    }

    fn sign_with(&self, scheme: SignatureScheme, message: &[u8]) -> Result<Vec<u8>, TokenError> {
        let inner = &self.inner;
        let signer = CardSigner::checked(&inner.session, &inner.key, inner.mechanisms);
        match scheme {
            SignatureScheme::RSA_PSS_SHA256 => signer.sign_rsa_pss_sha256(message),
            SignatureScheme::RSA_PKCS1_SHA256 => signer.sign_rsa_pkcs1_sha256(message),
            SignatureScheme::ECDSA_NISTP256_SHA256 => signer.sign_ecdsa_sha256(message),
            other => Err(TokenError::Unsupported(format!("TLSの署名方式 {other:?}"))),
        }
    }
}

impl rustls::sign::SigningKey for CardTlsKey {
    fn choose_scheme(&self, offered: &[SignatureScheme]) -> Option<Box<dyn rustls::sign::Signer>> {
        let scheme = self.schemes().into_iter().find(|s| offered.contains(s))?;
        Some(Box::new(CardTlsSigner {
            key: self.clone(),
            scheme,
        }))
    }

    fn public_key(&self) -> Option<SubjectPublicKeyInfoDer<'_>> {
        Some(SubjectPublicKeyInfoDer::from(
            self.inner.key.spki_der.as_slice(),
        ))
    }

    fn algorithm(&self) -> SignatureAlgorithm {
        match self.inner.key.alg {
            CardKeyAlg::Rsa2048 => SignatureAlgorithm::RSA,
            CardKeyAlg::P256 => SignatureAlgorithm::ECDSA,
        }
    }
}

/// One signature with a chosen scheme (what [`CardTlsKey::choose_scheme`] hands rustls).
///
/// [`CardTlsKey::choose_scheme`]: rustls::sign::SigningKey::choose_scheme
struct CardTlsSigner {
    key: CardTlsKey,
    scheme: SignatureScheme,
}

impl std::fmt::Debug for CardTlsSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CardTlsSigner")
            .field("key", &self.key)
            .field("scheme", &self.scheme)
            .finish()
    }
}

impl rustls::sign::Signer for CardTlsSigner {
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, rustls::Error> {
        let r = self.key.sign_with(self.scheme, message);
        self.key.record(self.scheme, r)
    }

    fn scheme(&self) -> SignatureScheme {
        self.scheme
    }
}

/// A rustls client configuration (aws-lc-rs provider) that authenticates with the key on
/// the card: opens a session on `slot`, logs in with `pin`, finds the key with CKA_ID
/// `key_id` and hands it to [`client_config_with_key`].
///
/// - `chain`: the card's certificate first, then any intermediates; empty means the
///   certificate stored on the card under `key_id` ([`CardTlsKey::card_certificate`]).
/// - `roots`: the trust anchors for the server's certificate.
/// - `versions`: the TLS versions allowed, e.g. [`rustls::ALL_VERSIONS`]; TLS 1.3 is left
///   out for an RSA card without RSA-PSS (see the module documentation), and
///   [`TokenError::Tls13NeedsPss`] is returned if nothing else was allowed.
pub fn client_config(
    module: &Module,
    slot: Slot,
    pin: &SecretPin,
    key_id: &[u8],
    chain: Vec<CertificateDer<'static>>,
    roots: RootCertStore,
    versions: &[&'static SupportedProtocolVersion],
) -> Result<ClientConfig, TokenError> {
    let key = CardTlsKey::open(module, slot, pin, key_id)?;
    client_config_with_key(&key, chain, roots, versions)
}

/// [`client_config`] for a key already opened (keep a clone of `key` to read
/// [`CardTlsKey::last_scheme`] or [`CardTlsKey::take_last_error`] after a handshake).
/// Checks that the certificate is the card key's.
pub fn client_config_with_key(
    key: &CardTlsKey,
    chain: Vec<CertificateDer<'static>>,
    roots: RootCertStore,
    versions: &[&'static SupportedProtocolVersion],
) -> Result<ClientConfig, TokenError> {
    let versions = key.protocol_versions(versions)?;
    let chain = if chain.is_empty() {
        vec![CertificateDer::from(key.card_certificate()?)]
    } else {
        chain
    };
    let cert = kmn_pki::parse::cert(&chain[0])
        .map_err(|e| TokenError::BadInput(format!("証明書を解釈できません: {e}")))?;
    if cert.tbs.spki != key.key().spki_der() {
        return Err(TokenError::BadInput(
            "証明書の公開鍵がカードの鍵と一致しません".into(),
        ));
    }
    let resolver: Arc<dyn ResolvesClientCert> = Arc::new(SingleCertAndKey::from(
        CertifiedKey::new(chain, Arc::new(key.clone())),
    ));
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    Ok(ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&versions)
        .map_err(|e| TokenError::Tls(e.to_string()))?
        .with_root_certificates(roots)
        .with_client_cert_resolver(resolver))
}

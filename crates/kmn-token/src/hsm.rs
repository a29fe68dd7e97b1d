//! [`HsmSigner`]: a CA key in a PKCS#11 HSM as a [`kmn_pki::keys::Signer`] (DESIGN §6).
//!
//! The key is found by token label and key label (slot numbers move). Signing takes a
//! session from a small pool (PKCS#11 sessions are `Send`, not `Sync`), so several threads
//! sign at once. A lost session, a logged-out token or a removed/re-inserted token is
//! retried once with a fresh session after looking the token and key up again; if that
//! fails too the error says what is missing.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use cryptoki::error::{Error as CkError, RvError};
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};
use kmn_pki::PkiError;
use kmn_pki::keys::{KeyAlgorithm, SignatureAlgorithm, Signer};

use crate::error::map_ck;
use crate::fault::raw_fault;
use crate::module::{Module, Slot};
use crate::{SecretPin, TokenError, card, der};

const POOL_MAX: usize = 4;

#[derive(Clone, Copy)]
struct Target {
    key: ObjectHandle,
}

/// A CA signing key on an HSM token.
pub struct HsmSigner {
    module: Module,
    token_label: String,
    key_label: String,
    /// CKA_ID of the key (empty: found by label alone).
    key_id: Vec<u8>,
    pin: SecretPin,
    alg: KeyAlgorithm,
    spki: Vec<u8>,
    target: Mutex<Option<Target>>,
    pool: Mutex<Vec<Session>>,
    retries: AtomicU64,
}

impl std::fmt::Debug for HsmSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HsmSigner")
            .field("token_label", &self.token_label)
            .field("key_label", &self.key_label)
            .field("alg", &self.alg)
            .finish()
    }
}

/// A login the token refused for its PIN: (SHA-256 of token label and PIN, locked).
type Refused = (Vec<u8>, bool);

/// Logins refused for a wrong or locked user PIN in this process. The same PIN is never
/// offered to the same token again (each wrong try uses up one of the token's PIN
/// tries: a check of two keys, a second command step or the CRL publisher's retry loop
/// would otherwise lock the token); a corrected PIN file gives a new PIN, which is tried.
static REFUSED_LOGINS: Mutex<Vec<Refused>> = Mutex::new(Vec::new());

fn login_digest(token_label: &str, pin: &SecretPin) -> Vec<u8> {
    let mut m = Vec::with_capacity(token_label.len() + pin.len() + 1);
    m.extend_from_slice(token_label.as_bytes());
    m.push(0);
    m.extend_from_slice(pin.expose().as_bytes());
    let d = der::sha256(&m);
    m.iter_mut().for_each(|b| *b = 0);
    d
}

fn user_login(s: &Session, token_label: &str, pin: &SecretPin) -> Result<(), TokenError> {
    let digest = login_digest(token_label, pin);
    let refused = REFUSED_LOGINS
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .find(|(d, _)| *d == digest)
        .map(|(_, locked)| *locked);
    match refused {
        Some(true) => return Err(TokenError::PinLocked),
        Some(false) => {
            return Err(TokenError::WrongPin {
                tries_left: None,
                count_low: false,
            });
        }
        None => {}
    }
    match s.login(UserType::User, Some(&pin.auth())) {
        Ok(()) | Err(CkError::Pkcs11(RvError::UserAlreadyLoggedIn, _)) => Ok(()),
        Err(e) => {
            let e = map_ck(e);
            if let TokenError::WrongPin { .. } | TokenError::PinLocked = e {
                REFUSED_LOGINS
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push((digest, matches!(e, TokenError::PinLocked)));
            }
            Err(e)
        }
    }
}

fn no_token(label: &str) -> TokenError {
    TokenError::NoSuchToken {
        what: format!("HSM token label '{label}'"),
    }
}

fn find_private_key(s: &Session, label: &str, id: &[u8]) -> Result<ObjectHandle, TokenError> {
    let mut template = vec![
        Attribute::Class(ObjectClass::PRIVATE_KEY),
        Attribute::Label(label.as_bytes().to_vec()),
    ];
    if !id.is_empty() {
        template.push(Attribute::Id(id.to_vec()));
    }
    let found = s.find_objects(&template).map_err(map_ck)?;
    match found.as_slice() {
        [] => Err(TokenError::KeyNotFound {
            what: if id.is_empty() {
                format!("private key label '{label}'")
            } else {
                format!("private key label '{label}', id {}", hex::encode(id))
            },
        }),
        [one] => Ok(*one),
        _ => Err(TokenError::BadInput(format!(
            "more than one private key is labelled '{label}'"
        ))),
    }
}

impl HsmSigner {
    /// Opens the existing key labelled `key_label` on the token labelled `token_label`.
    pub fn open(
        module: &Module,
        token_label: &str,
        key_label: &str,
        user_pin: &SecretPin,
    ) -> Result<HsmSigner, TokenError> {
        let slot = module
            .find_slot(Some(token_label), None)
            .map_err(|e| match e {
                TokenError::NoSuchToken { .. } => no_token(token_label),
                other => other,
            })?;
        let s = module.ctx.open_ro_session(slot.0).map_err(map_ck)?;
        user_login(&s, token_label, user_pin)?;
        let key = find_private_key(&s, key_label, &[])?;
        let (alg, spki, key_id) = describe_key(&s, key)?;
        Ok(HsmSigner {
            module: module.clone(),
            token_label: token_label.to_string(),
            key_label: key_label.to_string(),
            key_id,
            pin: user_pin.clone(),
            alg,
            spki,
            target: Mutex::new(Some(Target { key })),
            pool: Mutex::new(vec![s]),
            retries: AtomicU64::new(0),
        })
    }

    /// A signer for a key known from its certificate (algorithm and SubjectPublicKeyInfo)
    /// and its place (token label, key label, CKA_ID; an empty id means the label alone).
    /// Nothing is opened here: the token is found, logged in to and the key checked
    /// against `spki` on the first signature (or [`HsmSigner::check`]), so a process can
    /// start while the HSM is briefly away and a signature fails only when it is needed.
    pub fn deferred(
        module: &Module,
        token_label: &str,
        key_label: &str,
        key_id: &[u8],
        user_pin: &SecretPin,
        alg: KeyAlgorithm,
        spki: Vec<u8>,
    ) -> HsmSigner {
        HsmSigner {
            module: module.clone(),
            token_label: token_label.to_string(),
            key_label: key_label.to_string(),
            key_id: key_id.to_vec(),
            pin: user_pin.clone(),
            alg,
            spki,
            target: Mutex::new(None),
            pool: Mutex::new(Vec::new()),
            retries: AtomicU64::new(0),
        }
    }

    /// Generates a new CA key (P-256, P-384, RSA-3072; also RSA-2048/4096) labelled
    /// `label` on the token in `slot`: Token, Private, Sensitive, not Extractable, Sign.
    /// Refuses when a private key with that label exists.
    pub fn generate(
        module: &Module,
        slot: Slot,
        user_pin: &SecretPin,
        alg: KeyAlgorithm,
        label: &str,
    ) -> Result<HsmSigner, TokenError> {
        let token_label = module.token_info(slot)?.label().trim().to_string();
        let s = module.ctx.open_rw_session(slot.0).map_err(map_ck)?;
        user_login(&s, &token_label, user_pin)?;
        match find_private_key(&s, label, &[]) {
            Err(TokenError::KeyNotFound { .. }) => {}
            Ok(_) | Err(TokenError::BadInput(_)) => {
                return Err(TokenError::BadInput(format!(
                    "a private key labelled '{label}' already exists on token '{token_label}'"
                )));
            }
            Err(e) => return Err(e),
        }
        let mut id = [0u8; 16];
        aws_lc_rs::rand::fill(&mut id)
            .map_err(|_| TokenError::BadInput("no randomness for the key id".into()))?;
        // A CA key signs and does nothing else: no decryption, unwrapping or derivation
        // (SoftHSM and many HSMs default CKA_DECRYPT and CKA_UNWRAP to true).
        let mut pub_t = vec![
            Attribute::Token(true),
            Attribute::Private(false),
            Attribute::Verify(true),
            Attribute::Encrypt(false),
            Attribute::Wrap(false),
            Attribute::Id(id.to_vec()),
            Attribute::Label(label.as_bytes().to_vec()),
        ];
        let priv_t = vec![
            Attribute::Token(true),
            Attribute::Private(true),
            Attribute::Sensitive(true),
            Attribute::Extractable(false),
            Attribute::Sign(true),
            Attribute::Decrypt(false),
            Attribute::Unwrap(false),
            Attribute::Derive(false),
            Attribute::Id(id.to_vec()),
            Attribute::Label(label.as_bytes().to_vec()),
        ];
        let mech = match alg {
            KeyAlgorithm::P256 | KeyAlgorithm::P384 => {
                pub_t.push(Attribute::EcParams(
                    if alg == KeyAlgorithm::P256 {
                        der::P256_PARAMS
                    } else {
                        der::P384_PARAMS
                    }
                    .to_vec(),
                ));
                Mechanism::EccKeyPairGen
            }
            KeyAlgorithm::Rsa2048 | KeyAlgorithm::Rsa3072 | KeyAlgorithm::Rsa4096 => {
                let bits: u64 = match alg {
                    KeyAlgorithm::Rsa2048 => 2048,
                    KeyAlgorithm::Rsa3072 => 3072,
                    _ => 4096,
                };
                pub_t.push(Attribute::ModulusBits(bits.into()));
                pub_t.push(Attribute::PublicExponent(vec![0x01, 0x00, 0x01]));
                Mechanism::RsaPkcsKeyPairGen
            }
        };
        let (_public, private) = s
            .generate_key_pair(&mech, &pub_t, &priv_t)
            .map_err(map_ck)?;
        let (alg, spki, _) = describe_key(&s, private)?;
        Ok(HsmSigner {
            module: module.clone(),
            token_label,
            key_label: label.to_string(),
            key_id: id.to_vec(),
            pin: user_pin.clone(),
            alg,
            spki,
            target: Mutex::new(Some(Target { key: private })),
            pool: Mutex::new(vec![s]),
            retries: AtomicU64::new(0),
        })
    }

    /// The key algorithm.
    pub fn algorithm(&self) -> KeyAlgorithm {
        self.alg
    }

    /// The token label.
    pub fn token_label(&self) -> &str {
        &self.token_label
    }

    /// The key label.
    pub fn key_label(&self) -> &str {
        &self.key_label
    }

    /// The key's CKA_ID (empty when the signer was opened by label alone and the key
    /// has none).
    pub fn key_id(&self) -> &[u8] {
        &self.key_id
    }

    /// Finds the token and the key now, logs in and checks that the key is the one this
    /// signer stands for, without signing anything; keeps the session for the next
    /// signature. Retries once like a signature does.
    pub fn check(&self) -> Result<(), TokenError> {
        let (s, _) = match self.connect() {
            Err(e) if e.is_session_loss() => {
                self.reset();
                self.connect()?
            }
            r => r?,
        };
        let mut pool = self.pool.lock().unwrap_or_else(|e| e.into_inner());
        if pool.len() < POOL_MAX {
            pool.push(s);
        }
        Ok(())
    }

    /// Destroys the key pair (private and public key objects with this key's label and
    /// CKA_ID) on the token: the undo of [`HsmSigner::generate`] when what the key was
    /// made for fails. Closes the pooled sessions.
    pub fn destroy(&self) -> Result<(), TokenError> {
        self.reset();
        let slot = self
            .module
            .find_slot(Some(&self.token_label), None)
            .map_err(|e| match e {
                TokenError::NoSuchToken { .. } => no_token(&self.token_label),
                other => other,
            })?;
        let s = self.module.ctx.open_rw_session(slot.0).map_err(map_ck)?;
        user_login(&s, &self.token_label, &self.pin)?;
        for class in [ObjectClass::PRIVATE_KEY, ObjectClass::PUBLIC_KEY] {
            let mut template = vec![
                Attribute::Class(class),
                Attribute::Label(self.key_label.as_bytes().to_vec()),
            ];
            if !self.key_id.is_empty() {
                template.push(Attribute::Id(self.key_id.clone()));
            }
            for o in s.find_objects(&template).map_err(map_ck)? {
                s.destroy_object(o).map_err(map_ck)?;
            }
        }
        Ok(())
    }

    /// How many signatures needed the retry with a fresh session (for monitoring).
    pub fn retries(&self) -> u64 {
        self.retries.load(Ordering::Relaxed)
    }

    /// Signs `tbs` (hash on the host), retrying once with a fresh session after a lost
    /// session or token; the error stays typed.
    pub fn try_sign(&self, tbs: &[u8]) -> Result<Vec<u8>, TokenError> {
        let (mech, input) = match self.alg {
            KeyAlgorithm::P256 => (Mechanism::Ecdsa, der::sha256(tbs)),
            KeyAlgorithm::P384 => (Mechanism::Ecdsa, der::sha384(tbs)),
            _ => (
                Mechanism::RsaPkcs,
                der::digest_info_sha256(&der::sha256(tbs)),
            ),
        };
        let raw = match self.sign_once(&mech, &input, false) {
            Err(e) if e.is_session_loss() => {
                self.retries.fetch_add(1, Ordering::Relaxed);
                self.reset();
                self.sign_once(&mech, &input, true)?
            }
            r => r?,
        };
        match self.alg {
            KeyAlgorithm::P256 | KeyAlgorithm::P384 => der::ecdsa_raw_to_der(&raw),
            _ => Ok(raw),
        }
    }

    /// Closes every pooled session (they are reopened on demand).
    pub fn reset(&self) {
        self.pool.lock().unwrap_or_else(|e| e.into_inner()).clear();
        *self.target.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }

    fn sign_once(
        &self,
        mech: &Mechanism<'_>,
        input: &[u8],
        fresh: bool,
    ) -> Result<Vec<u8>, TokenError> {
        let pooled = if fresh {
            None
        } else {
            self.pool.lock().unwrap_or_else(|e| e.into_inner()).pop()
        };
        let (session, target) = match (pooled, self.cached_target()) {
            (Some(s), Some(t)) => (s, t),
            _ => self.connect()?,
        };
        match raw_fault("hsm_sign").and_then(|()| session.sign(mech, target.key, input)) {
            Ok(sig) => {
                let mut pool = self.pool.lock().unwrap_or_else(|e| e.into_inner());
                if pool.len() < POOL_MAX {
                    pool.push(session);
                }
                Ok(sig)
            }
            Err(e) => Err(map_ck(e)),
        }
    }

    fn cached_target(&self) -> Option<Target> {
        *self.target.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Finds the token and key again and opens a logged-in session.
    fn connect(&self) -> Result<(Session, Target), TokenError> {
        let slot = self
            .module
            .find_slot(Some(&self.token_label), None)
            .map_err(|e| match e {
                TokenError::NoSuchToken { .. } => no_token(&self.token_label),
                other => other,
            })?;
        let s = self.module.ctx.open_ro_session(slot.0).map_err(map_ck)?;
        user_login(&s, &self.token_label, &self.pin)?;
        let key = find_private_key(&s, &self.key_label, &self.key_id)?;
        let (alg, spki, _) = describe_key(&s, key)?;
        if alg != self.alg || spki != self.spki {
            return Err(TokenError::BadInput(format!(
                "the key labelled '{}' on token '{}' is not the key this signer was opened with",
                self.key_label, self.token_label
            )));
        }
        let t = Target { key };
        *self.target.lock().unwrap_or_else(|e| e.into_inner()) = Some(t);
        Ok((s, t))
    }
}

/// Algorithm, SubjectPublicKeyInfo and CKA_ID.
type KeyDescription = (KeyAlgorithm, Vec<u8>, Vec<u8>);

/// Algorithm, SubjectPublicKeyInfo and CKA_ID of a private key (RSA from its own public
/// components, EC from the public key object with the same CKA_ID).
fn describe_key(s: &Session, private: ObjectHandle) -> Result<KeyDescription, TokenError> {
    let attrs = s
        .get_attributes(
            private,
            &[
                AttributeType::KeyType,
                AttributeType::EcParams,
                AttributeType::Id,
                AttributeType::Modulus,
            ],
        )
        .map_err(map_ck)?;
    let (mut kt, mut params, mut id, mut modulus) = (None, None, None, None);
    for a in attrs {
        match a {
            Attribute::KeyType(k) => kt = Some(k),
            Attribute::EcParams(p) => params = Some(p),
            Attribute::Id(i) => id = Some(i),
            Attribute::Modulus(m) => modulus = Some(m),
            _ => {}
        }
    }
    match kt {
        Some(k) if k == KeyType::RSA => {
            let bits = der::bit_len(modulus.as_deref().unwrap_or_default());
            let alg = match bits {
                2048 => KeyAlgorithm::Rsa2048,
                3072 => KeyAlgorithm::Rsa3072,
                4096 => KeyAlgorithm::Rsa4096,
                n => return Err(TokenError::Unsupported(format!("RSA-{n}"))),
            };
            Ok((alg, card::rsa_spki_of(s, private)?, id.unwrap_or_default()))
        }
        Some(k) if k == KeyType::EC => {
            let (alg, p, field) = match params.as_deref() {
                Some(p) if p == der::P256_PARAMS => (KeyAlgorithm::P256, der::P256_PARAMS, 32),
                Some(p) if p == der::P384_PARAMS => (KeyAlgorithm::P384, der::P384_PARAMS, 48),
                _ => return Err(TokenError::Unsupported("this EC curve".into())),
            };
            let id = id.unwrap_or_default();
            let public = s
                .find_objects(&[
                    Attribute::Class(ObjectClass::PUBLIC_KEY),
                    Attribute::Id(id.clone()),
                ])
                .map_err(map_ck)?;
            let public = public.first().ok_or_else(|| TokenError::KeyNotFound {
                what: format!("public key with id {}", hex::encode(&id)),
            })?;
            Ok((alg, card::ec_spki_of(s, *public, p, field)?, id))
        }
        _ => Err(TokenError::Unsupported("this key type".into())),
    }
}

impl Signer for HsmSigner {
    fn signature_algorithm(&self) -> SignatureAlgorithm {
        self.alg.signature_algorithm()
    }

    fn spki_der(&self) -> &[u8] {
        &self.spki
    }

    fn check(&self) -> Result<(), PkiError> {
        HsmSigner::check(self).map_err(|e| {
            PkiError::KeyUnavailable(format!(
                "HSM key '{}' on token '{}' is not usable: {} [{}]",
                self.key_label,
                self.token_label,
                e.message_en(),
                e.code()
            ))
        })
    }

    fn sign(&self, tbs: &[u8]) -> Result<Vec<u8>, PkiError> {
        self.try_sign(tbs).map_err(|e| {
            PkiError::KeyUnavailable(format!(
                "HSM signing with key '{}' on token '{}' failed: {} [{}]",
                self.key_label,
                self.token_label,
                e.message_en(),
                e.code()
            ))
        })
    }
}

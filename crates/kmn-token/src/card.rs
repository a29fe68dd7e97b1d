//! User cards (利用者カード): the personalization primitives in the order the station
//! runs them (DESIGN §6), PIN handling (第9条), inspection and wiping.

use cryptoki::error::{Error as CkError, RvError};
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{
    Attribute, AttributeType, CertificateType, KeyType, ObjectClass, ObjectHandle,
};
use cryptoki::session::{Session, UserType};

use crate::der;
use crate::error::map_ck;
use crate::fault::{fault_point, raw_fault};
use crate::module::{CardSession, Module, Slot};
use crate::{KeyCheckError, SecretPin, TokenError};

/// CKA_CERTIFICATE_CATEGORY (PKCS#11 v2.20+); cryptoki 0.12 has no variant for it.
const CKA_CERTIFICATE_CATEGORY: u64 = 0x87;
/// CK_CERTIFICATE_CATEGORY_TOKEN_USER.
const CATEGORY_TOKEN_USER: u64 = 1;
/// CK_CERTIFICATE_CATEGORY_AUTHORITY.
const CATEGORY_AUTHORITY: u64 = 2;

/// Key algorithms for user cards (DESIGN §4: RSA-2048, P-256 where the card supports it).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CardKeyAlg {
    /// RSA 2048, e = 65537.
    Rsa2048,
    /// ECDSA P-256.
    P256,
}

impl CardKeyAlg {
    /// Short name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Rsa2048 => "rsa2048",
            Self::P256 => "p256",
        }
    }

    /// The algorithm the card signs certificates and CSRs with.
    pub fn signature_algorithm(self) -> kmn_pki::keys::SignatureAlgorithm {
        match self {
            Self::Rsa2048 => kmn_pki::keys::SignatureAlgorithm::RsaPkcs1Sha256,
            Self::P256 => kmn_pki::keys::SignatureAlgorithm::EcdsaSha256,
        }
    }
}

/// A key pair on a card.
#[derive(Clone, Debug)]
pub struct CardKey {
    pub(crate) alg: CardKeyAlg,
    pub(crate) id: Vec<u8>,
    pub(crate) label: String,
    pub(crate) private: ObjectHandle,
    pub(crate) public: Option<ObjectHandle>,
    pub(crate) spki_der: Vec<u8>,
}

impl CardKey {
    /// The algorithm.
    pub fn alg(&self) -> CardKeyAlg {
        self.alg
    }
    /// CKA_ID (also set on the certificate).
    pub fn id(&self) -> &[u8] {
        &self.id
    }
    /// CKA_LABEL.
    pub fn label(&self) -> &str {
        &self.label
    }
    /// DER SubjectPublicKeyInfo, built from the card's public key attributes.
    pub fn spki_der(&self) -> &[u8] {
        &self.spki_der
    }
}

/// What [`check_card_key`] established.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyFacts {
    /// Algorithm.
    pub alg: CardKeyAlg,
    /// Key size in bits (RSA modulus, or 256 for P-256).
    pub bits: usize,
    /// CKA_LOCAL was true.
    pub local: bool,
    /// CKA_NEVER_EXTRACTABLE was true.
    pub never_extractable: bool,
    /// CKA_SENSITIVE (and CKA_ALWAYS_SENSITIVE where reported) was true.
    pub sensitive: bool,
    /// The ROCA test ran (RSA) and found no fingerprint.
    pub roca_checked: bool,
    /// SHA-256 of the SubjectPublicKeyInfo, hex (for the issuance record).
    pub spki_sha256: String,
}

// ---------------------------------------------------------------- PIN plumbing

fn check_pin_len(module: &Module, slot: Slot, pin: &SecretPin) -> Result<(), TokenError> {
    let ti = module.token_info(slot)?;
    let (min, max) = (ti.min_pin_length(), ti.max_pin_length());
    if pin.len() < min || (max > 0 && pin.len() > max) {
        return Err(TokenError::PinInvalid {
            min,
            max,
            detail: format!("{}桁", pin.len()),
        });
    }
    Ok(())
}

fn pin_invalid(module: &Module, slot: Slot, e: TokenError) -> TokenError {
    match e {
        TokenError::PinInvalid { detail, .. } => match module.token_info(slot) {
            Ok(ti) => TokenError::PinInvalid {
                min: ti.min_pin_length(),
                max: ti.max_pin_length(),
                detail,
            },
            Err(e) => e,
        },
        other => other,
    }
}

/// After CKR_PIN_INCORRECT: read the token's flags for the remaining tries.
fn wrong_user_pin(module: &Module, slot: Slot) -> TokenError {
    match module.token_info(slot) {
        Ok(ti) if ti.user_pin_locked() => TokenError::PinLocked,
        Ok(ti) => TokenError::WrongPin {
            tries_left: ti.user_pin_final_try().then_some(1),
            count_low: ti.user_pin_count_low(),
        },
        Err(_) => TokenError::WrongPin {
            tries_left: None,
            count_low: false,
        },
    }
}

fn so_login(session: &Session, so_pin: &SecretPin) -> Result<(), TokenError> {
    match session.login(UserType::So, Some(&so_pin.auth())) {
        Ok(()) => Ok(()),
        Err(CkError::Pkcs11(RvError::UserAlreadyLoggedIn, _)) => Ok(()),
        Err(CkError::Pkcs11(RvError::PinIncorrect, _)) => Err(TokenError::WrongSoPin),
        Err(CkError::Pkcs11(RvError::PinLocked, _)) => Err(TokenError::SoPinLocked),
        Err(CkError::Pkcs11(
            RvError::UserAnotherAlreadyLoggedIn | RvError::SessionReadOnlyExists,
            _,
        )) => Err(TokenError::Busy),
        Err(e) => Err(map_ck(e)),
    }
}

fn init_token(
    module: &Module,
    slot: Slot,
    so_pin: &SecretPin,
    label: &str,
) -> Result<(), TokenError> {
    if label.trim().is_empty() || label.len() > 32 {
        return Err(TokenError::BadInput(format!(
            "カードのラベルは1〜32バイトです（'{label}' は{}バイト）",
            label.len()
        )));
    }
    match module.ctx.init_token(slot.0, &so_pin.auth(), label) {
        Ok(()) => Ok(()),
        Err(CkError::Pkcs11(RvError::PinIncorrect, _)) => Err(TokenError::WrongSoPin),
        Err(CkError::Pkcs11(RvError::PinLocked, _)) => Err(TokenError::SoPinLocked),
        Err(e) => Err(map_ck(e)),
    }
}

// ---------------------------------------------------------------- personalization

/// C_InitToken: initialises (wipes) the card with this SO PIN and label. A blank card
/// takes the SO PIN given; an initialised one must be given its current SO PIN.
/// No session may be open on the token. Fault point `after_init_card`.
pub fn init_card(
    module: &Module,
    slot: Slot,
    so_pin: &SecretPin,
    label: &str,
) -> Result<(), TokenError> {
    init_token(module, slot, so_pin, label)?;
    fault_point("after_init_card")
}

/// The result of [`init_card_derived`].
#[derive(Debug)]
pub struct InitializedCard {
    /// The token serial the SO PIN was derived from.
    pub serial: String,
    /// The card's SO PIN (derived; never store it).
    pub so_pin: SecretPin,
}

/// [`init_card`] with the SO PIN derived from the token serial. Real cards carry their
/// serial before initialisation; SoftHSM assigns it only at C_InitToken (a blank slot
/// reports an empty serial), so then the token is initialised with a random transient
/// SO PIN, its new serial read, and the SO PIN changed (C_SetPIN as SO) to the derived
/// one. Re-initialising an initialised card uses the SO PIN derived from its serial
/// (SoftHSM keeps the serial across re-initialisation). Fault point `after_init_card`.
pub fn init_card_derived(
    module: &Module,
    slot: Slot,
    deriver: &crate::SoPinDeriver,
    label: &str,
) -> Result<InitializedCard, TokenError> {
    let serial = token_serial(module, slot)?;
    if !serial.is_empty() {
        let so_pin = deriver.so_pin(&serial)?;
        init_card(module, slot, &so_pin, label)?;
        return Ok(InitializedCard { serial, so_pin });
    }
    let transient = SecretPin::random_digits(16)?;
    init_token(module, slot, &transient, label)?;
    let serial = token_serial(module, slot)?;
    let so_pin = deriver.so_pin(&serial)?;
    let session = module.ctx.open_rw_session(slot.0).map_err(map_ck)?;
    so_login(&session, &transient)?;
    let r = session
        .set_pin(&transient.auth(), &so_pin.auth())
        .map_err(|e| pin_invalid(module, slot, map_ck(e)));
    let _ = session.logout();
    drop(session);
    r?;
    fault_point("after_init_card")?;
    Ok(InitializedCard { serial, so_pin })
}

/// The first initialisation of a card that has no serial yet (a blank SoftHSM slot),
/// with a random transient SO PIN: returns the serial the token now has and that PIN,
/// to be replaced with [`change_so_pin`] once the real SO PIN for the serial is known
/// (a remote station asks the center for it).
pub fn init_blank(
    module: &Module,
    slot: Slot,
    label: &str,
) -> Result<(String, SecretPin), TokenError> {
    let transient = SecretPin::random_digits(16)?;
    init_token(module, slot, &transient, label)?;
    let serial = token_serial(module, slot)?;
    Ok((serial, transient))
}

/// C_Login(SO) + C_SetPIN: replaces the SO PIN.
pub fn change_so_pin(
    module: &Module,
    slot: Slot,
    old: &SecretPin,
    new: &SecretPin,
) -> Result<(), TokenError> {
    let session = module.ctx.open_rw_session(slot.0).map_err(map_ck)?;
    so_login(&session, old)?;
    let r = session
        .set_pin(&old.auth(), &new.auth())
        .map_err(|e| pin_invalid(module, slot, map_ck(e)));
    let _ = session.logout();
    drop(session);
    r
}

/// C_Login(SO) + C_InitPIN: sets the initial user PIN. Fault point `after_set_user_pin`.
pub fn set_initial_user_pin(
    module: &Module,
    slot: Slot,
    so_pin: &SecretPin,
    user_pin: &SecretPin,
) -> Result<(), TokenError> {
    init_pin_as_so(module, slot, so_pin, user_pin)?;
    fault_point("after_set_user_pin")
}

fn init_pin_as_so(
    module: &Module,
    slot: Slot,
    so_pin: &SecretPin,
    user_pin: &SecretPin,
) -> Result<(), TokenError> {
    check_pin_len(module, slot, user_pin)?;
    let session = module.ctx.open_rw_session(slot.0).map_err(map_ck)?;
    so_login(&session, so_pin)?;
    let r = session
        .init_pin(&user_pin.auth())
        .map_err(|e| pin_invalid(module, slot, map_ck(e)));
    let _ = session.logout();
    r
}

/// C_Login(SO) + C_InitPIN on a card whose user PIN is locked or forgotten (第9条).
pub fn unlock_with_so(
    module: &Module,
    slot: Slot,
    so_pin: &SecretPin,
    new_user_pin: &SecretPin,
) -> Result<(), TokenError> {
    init_pin_as_so(module, slot, so_pin, new_user_pin)
}

/// The token's serial number (trimmed). Blank SoftHSM slots report one too; real cards
/// have it fixed in the chip.
pub fn token_serial(module: &Module, slot: Slot) -> Result<String, TokenError> {
    Ok(module.token_info(slot)?.serial_number().trim().to_string())
}

/// C_Login as user. CKR_PIN_INCORRECT → [`TokenError::WrongPin`] with what the token's
/// flags say about the remaining tries; CKR_PIN_LOCKED or CKF_USER_PIN_LOCKED →
/// [`TokenError::PinLocked`]. Already logged in is success. Fault point `login_user`.
pub fn login_user(session: &CardSession, pin: &SecretPin) -> Result<(), TokenError> {
    let module = session.module();
    let slot = session.slot();
    let ti = module.token_info(slot)?;
    if ti.user_pin_locked() {
        return Err(TokenError::PinLocked);
    }
    if !ti.user_pin_initialized() {
        return Err(TokenError::UserPinNotInitialized);
    }
    let s = session.lock();
    let r = raw_fault("login_user").and_then(|()| s.login(UserType::User, Some(&pin.auth())));
    drop(s);
    match r {
        Ok(()) => Ok(()),
        Err(CkError::Pkcs11(RvError::UserAlreadyLoggedIn, _)) => Ok(()),
        Err(CkError::Pkcs11(RvError::PinIncorrect, _)) => Err(wrong_user_pin(module, slot)),
        Err(CkError::Pkcs11(RvError::UserAnotherAlreadyLoggedIn, _)) => Err(TokenError::Busy),
        Err(e) => Err(map_ck(e)),
    }
}

/// C_Logout (errors ignored: a logged-out session is what the caller wants).
pub fn logout(session: &CardSession) {
    let _ = session.lock().logout();
}

/// C_SetPIN: the holder changes the user PIN (第9条). The old PIN is checked by the card.
pub fn change_pin(
    session: &CardSession,
    old: &SecretPin,
    new: &SecretPin,
) -> Result<(), TokenError> {
    let module = session.module();
    let slot = session.slot();
    let ti = module.token_info(slot)?;
    if ti.user_pin_locked() {
        return Err(TokenError::PinLocked);
    }
    check_pin_len(module, slot, new)?;
    // Fault point `login_user` covers C_SetPIN too: it checks the old PIN like a login.
    let r = raw_fault("login_user").and_then(|()| session.lock().set_pin(&old.auth(), &new.auth()));
    match r {
        Ok(()) => Ok(()),
        Err(CkError::Pkcs11(RvError::PinIncorrect, _)) => Err(wrong_user_pin(module, slot)),
        Err(e) => Err(pin_invalid(module, slot, map_ck(e))),
    }
}

/// Whether the token's reader has a PIN pad (CKF_PROTECTED_AUTHENTICATION_PATH).
pub fn has_pin_pad(module: &Module, slot: Slot) -> Result<bool, TokenError> {
    Ok(module.token_info(slot)?.protected_authentication_path())
}

/// C_SetPIN on a reader with a PIN pad: the holder types the current and the new PIN on
/// the pad, never on the computer. Both PINs are passed empty, which PKCS#11 modules of
/// PIN-pad readers (OpenSC among them) take as "ask the pad". Refused on a token without
/// CKF_PROTECTED_AUTHENTICATION_PATH.
pub fn change_pin_on_pin_pad(session: &CardSession) -> Result<(), TokenError> {
    let module = session.module();
    let slot = session.slot();
    let ti = module.token_info(slot)?;
    if !ti.protected_authentication_path() {
        return Err(TokenError::BadInput(
            "このカードリーダーにはPINパッドがありません。PINはファイルか標準入力で渡してください"
                .into(),
        ));
    }
    if ti.user_pin_locked() {
        return Err(TokenError::PinLocked);
    }
    let empty = cryptoki::types::AuthPin::from("");
    let r = raw_fault("login_user").and_then(|()| session.lock().set_pin(&empty, &empty));
    match r {
        Ok(()) => Ok(()),
        Err(CkError::Pkcs11(RvError::PinIncorrect, _)) => Err(wrong_user_pin(module, slot)),
        Err(e) => Err(pin_invalid(module, slot, map_ck(e))),
    }
}

/// Generates the key pair on the card (needs a user login): private key Token, Private,
/// Sensitive, not Extractable, Sign only; public key Token, Verify. Returns the handles and
/// the SubjectPublicKeyInfo built from CKA_MODULUS/CKA_PUBLIC_EXPONENT or CKA_EC_POINT.
/// Fault point `after_keygen` (the key exists when it fires: roll back with [`wipe`]).
pub fn generate_card_key(
    session: &CardSession,
    alg: CardKeyAlg,
    id: &[u8],
    label: &str,
) -> Result<CardKey, TokenError> {
    if id.is_empty() || id.len() > 64 {
        return Err(TokenError::BadInput("鍵のIDは1〜64バイトです".into()));
    }
    let s = session.lock();
    let existing = s
        .find_objects(&[
            Attribute::Class(ObjectClass::PRIVATE_KEY),
            Attribute::Id(id.to_vec()),
        ])
        .map_err(map_ck)?;
    if !existing.is_empty() {
        return Err(TokenError::BadInput(format!(
            "同じID（{}）の鍵がカードに既にあります",
            hex::encode(id)
        )));
    }
    let common_pub = [
        Attribute::Token(true),
        Attribute::Private(false),
        Attribute::Verify(true),
        Attribute::Encrypt(false),
        Attribute::Wrap(false),
        Attribute::Id(id.to_vec()),
        Attribute::Label(label.as_bytes().to_vec()),
    ];
    // Fault point `keygen_extractable`: a card that does not protect its key.
    let protect = !crate::fault::armed("keygen_extractable");
    let priv_t = vec![
        Attribute::Token(true),
        Attribute::Private(true),
        Attribute::Sensitive(protect),
        Attribute::Extractable(!protect),
        Attribute::Sign(true),
        Attribute::Decrypt(false),
        Attribute::Unwrap(false),
        Attribute::Derive(false),
        Attribute::Id(id.to_vec()),
        Attribute::Label(label.as_bytes().to_vec()),
    ];
    let mut pub_t = common_pub.to_vec();
    let mech = match alg {
        CardKeyAlg::Rsa2048 => {
            pub_t.push(Attribute::ModulusBits(2048u64.into()));
            pub_t.push(Attribute::PublicExponent(vec![0x01, 0x00, 0x01]));
            Mechanism::RsaPkcsKeyPairGen
        }
        CardKeyAlg::P256 => {
            pub_t.push(Attribute::EcParams(der::P256_PARAMS.to_vec()));
            Mechanism::EccKeyPairGen
        }
    };
    let (public, private) = s
        .generate_key_pair(&mech, &pub_t, &priv_t)
        .map_err(map_ck)?;
    let spki_der = public_spki(&s, public, alg)?;
    drop(s);
    let key = CardKey {
        alg,
        id: id.to_vec(),
        label: label.to_string(),
        private,
        public: Some(public),
        spki_der,
    };
    fault_point("after_keygen")?;
    Ok(key)
}

/// SubjectPublicKeyInfo from a public key object.
pub(crate) fn public_spki(
    s: &Session,
    public: ObjectHandle,
    alg: CardKeyAlg,
) -> Result<Vec<u8>, TokenError> {
    match alg {
        CardKeyAlg::Rsa2048 => rsa_spki_of(s, public),
        CardKeyAlg::P256 => ec_spki_of(s, public, der::P256_PARAMS, 32),
    }
}

pub(crate) fn rsa_spki_of(s: &Session, obj: ObjectHandle) -> Result<Vec<u8>, TokenError> {
    let attrs = s
        .get_attributes(
            obj,
            &[AttributeType::Modulus, AttributeType::PublicExponent],
        )
        .map_err(map_ck)?;
    let (mut n, mut e) = (None, None);
    for a in attrs {
        match a {
            Attribute::Modulus(v) => n = Some(v),
            Attribute::PublicExponent(v) => e = Some(v),
            _ => {}
        }
    }
    match (n, e) {
        (Some(n), Some(e)) => Ok(der::rsa_spki(&n, &e)),
        _ => Err(TokenError::BadInput(
            "カードの公開鍵（CKA_MODULUS / CKA_PUBLIC_EXPONENT）を読み取れません".into(),
        )),
    }
}

pub(crate) fn ec_spki_of(
    s: &Session,
    obj: ObjectHandle,
    params: &[u8],
    field_len: usize,
) -> Result<Vec<u8>, TokenError> {
    let attrs = s
        .get_attributes(obj, &[AttributeType::EcPoint])
        .map_err(map_ck)?;
    let point = attrs
        .into_iter()
        .find_map(|a| match a {
            Attribute::EcPoint(v) => Some(v),
            _ => None,
        })
        .ok_or_else(|| {
            TokenError::BadInput("カードの公開鍵（CKA_EC_POINT）を読み取れません".into())
        })?;
    Ok(der::ec_spki(params, &der::ec_point(&point, field_len)?))
}

/// Finds the key pair with this CKA_ID (needs a user login to see the private key).
pub fn find_card_key(session: &CardSession, id: &[u8]) -> Result<CardKey, TokenError> {
    let s = session.lock();
    let what = || TokenError::KeyNotFound {
        what: format!("ID {}", hex::encode(id)),
    };
    let private = *s
        .find_objects(&[
            Attribute::Class(ObjectClass::PRIVATE_KEY),
            Attribute::Id(id.to_vec()),
        ])
        .map_err(map_ck)?
        .first()
        .ok_or_else(what)?;
    let public = s
        .find_objects(&[
            Attribute::Class(ObjectClass::PUBLIC_KEY),
            Attribute::Id(id.to_vec()),
        ])
        .map_err(map_ck)?
        .first()
        .copied();
    let attrs = s
        .get_attributes(
            private,
            &[
                AttributeType::KeyType,
                AttributeType::Label,
                AttributeType::EcParams,
            ],
        )
        .map_err(map_ck)?;
    let (mut kt, mut label, mut params) = (None, String::new(), None);
    for a in attrs {
        match a {
            Attribute::KeyType(k) => kt = Some(k),
            Attribute::Label(l) => label = String::from_utf8_lossy(&l).into_owned(),
            Attribute::EcParams(p) => params = Some(p),
            _ => {}
        }
    }
    let alg = match kt {
        Some(k) if k == KeyType::RSA => CardKeyAlg::Rsa2048,
        Some(k) if k == KeyType::EC && params.as_deref() == Some(der::P256_PARAMS) => {
            CardKeyAlg::P256
        }
        _ => return Err(TokenError::Unsupported("この鍵の種類".into())),
    };
    let spki_der = match (alg, public) {
        (_, Some(p)) => public_spki(&s, p, alg)?,
        // RSA private keys carry the public components too.
        (CardKeyAlg::Rsa2048, None) => rsa_spki_of(&s, private)?,
        (CardKeyAlg::P256, None) => return Err(what()),
    };
    Ok(CardKey {
        alg,
        id: id.to_vec(),
        label,
        private,
        public,
        spki_der,
    })
}

// ---------------------------------------------------------------- checks

/// Checks a card key before its certificate is issued (DESIGN §6): CKA_LOCAL,
/// CKA_NEVER_EXTRACTABLE, not CKA_EXTRACTABLE, CKA_SENSITIVE (and CKA_ALWAYS_SENSITIVE where
/// reported), RSA ≥ 2048 bits with e = 65537 and no ROCA fingerprint, P-256 for EC, and
/// that the card's key is the one in `key.spki_der()`. The first failing check is returned.
pub fn check_card_key(session: &CardSession, key: &CardKey) -> Result<KeyFacts, KeyCheckError> {
    let s = session.lock();
    let attrs = s
        .get_attributes(
            key.private,
            &[
                AttributeType::KeyType,
                AttributeType::Local,
                AttributeType::NeverExtractable,
                AttributeType::Extractable,
                AttributeType::Sensitive,
                AttributeType::AlwaysSensitive,
                AttributeType::Modulus,
                AttributeType::PublicExponent,
                AttributeType::EcParams,
            ],
        )
        .map_err(|e| KeyCheckError::Token(map_ck(e)))?;
    let mut f = RawFacts::default();
    for a in attrs {
        match a {
            Attribute::KeyType(k) => f.key_type = Some(k),
            Attribute::Local(b) => f.local = Some(b),
            Attribute::NeverExtractable(b) => f.never_extractable = Some(b),
            Attribute::Extractable(b) => f.extractable = Some(b),
            Attribute::Sensitive(b) => f.sensitive = Some(b),
            Attribute::AlwaysSensitive(b) => f.always_sensitive = Some(b),
            Attribute::Modulus(v) => f.modulus = Some(v),
            Attribute::PublicExponent(v) => f.exponent = Some(v),
            Attribute::EcParams(v) => f.ec_params = Some(v),
            _ => {}
        }
    }
    let public_point = match (key.alg, key.public) {
        (CardKeyAlg::P256, Some(p)) => Some(ec_spki_of(&s, p, der::P256_PARAMS, 32)?),
        _ => None,
    };
    drop(s);
    evaluate(key, &f, public_point.as_deref())
}

#[derive(Default)]
struct RawFacts {
    key_type: Option<KeyType>,
    local: Option<bool>,
    never_extractable: Option<bool>,
    extractable: Option<bool>,
    sensitive: Option<bool>,
    always_sensitive: Option<bool>,
    modulus: Option<Vec<u8>>,
    exponent: Option<Vec<u8>>,
    ec_params: Option<Vec<u8>>,
}

fn evaluate(
    key: &CardKey,
    f: &RawFacts,
    ec_public_spki: Option<&[u8]>,
) -> Result<KeyFacts, KeyCheckError> {
    use KeyCheckError as E;
    if !f.local.ok_or(E::AttributeMissing("CKA_LOCAL"))? {
        return Err(E::NotLocal);
    }
    if !f
        .never_extractable
        .ok_or(E::AttributeMissing("CKA_NEVER_EXTRACTABLE"))?
    {
        return Err(E::WasExtractable);
    }
    if f.extractable
        .ok_or(E::AttributeMissing("CKA_EXTRACTABLE"))?
    {
        return Err(E::Extractable);
    }
    if !f.sensitive.ok_or(E::AttributeMissing("CKA_SENSITIVE"))?
        || f.always_sensitive == Some(false)
    {
        return Err(E::NotSensitive);
    }
    let key_type = f.key_type.ok_or(E::AttributeMissing("CKA_KEY_TYPE"))?;
    let (bits, roca_checked) = match key.alg {
        CardKeyAlg::Rsa2048 => {
            if key_type != KeyType::RSA {
                return Err(E::UnsupportedKey(format!("{key_type}")));
            }
            let n = f
                .modulus
                .as_deref()
                .ok_or(E::AttributeMissing("CKA_MODULUS"))?;
            let e = f
                .exponent
                .as_deref()
                .ok_or(E::AttributeMissing("CKA_PUBLIC_EXPONENT"))?;
            if der::rsa_spki(n, e) != key.spki_der {
                return Err(E::PublicKeyMismatch);
            }
            let bits = der::bit_len(n);
            if bits < 2048 {
                return Err(E::RsaTooSmall { bits });
            }
            if der::strip_zeros(e) != [0x01, 0x00, 0x01] {
                return Err(E::RsaExponent {
                    exponent: format!("0x{}", hex::encode(der::strip_zeros(e))),
                });
            }
            if crate::roca::is_roca_fingerprinted(n) {
                return Err(E::Roca);
            }
            (bits, true)
        }
        CardKeyAlg::P256 => {
            if key_type != KeyType::EC {
                return Err(E::UnsupportedKey(format!("{key_type}")));
            }
            if f.ec_params.as_deref() != Some(der::P256_PARAMS) {
                return Err(E::UnsupportedKey("P-256以外の楕円曲線".into()));
            }
            if let Some(spki) = ec_public_spki
                && spki != key.spki_der
            {
                return Err(E::PublicKeyMismatch);
            }
            (256, false)
        }
    };
    Ok(KeyFacts {
        alg: key.alg,
        bits,
        local: true,
        never_extractable: true,
        sensitive: true,
        roca_checked,
        spki_sha256: hex::encode(der::sha256(&key.spki_der)),
    })
}

// ---------------------------------------------------------------- CSR and certificates

/// Builds the PKCS #10 request signed on the card (proof of possession) with
/// [`kmn_pki::csr::build`]. Needs a user login. Fault point `after_csr`.
pub fn build_csr_on_card(
    session: &CardSession,
    key: &CardKey,
    subject_der: &[u8],
) -> Result<Vec<u8>, TokenError> {
    let signer = crate::CardSigner::new(session, key)?;
    let csr = kmn_pki::csr::build(subject_der, &signer).map_err(|e| {
        signer
            .take_last_error()
            .unwrap_or_else(|| TokenError::BadInput(e.to_string()))
    })?;
    fault_point("after_csr")?;
    Ok(csr)
}

fn cert_object_template(
    cert_der: &[u8],
    id: &[u8],
    label: &str,
    category: u64,
) -> Result<Vec<Attribute>, TokenError> {
    let c = kmn_pki::parse::cert(cert_der)
        .map_err(|e| TokenError::BadInput(format!("証明書を解釈できません: {e}")))?;
    let serial = kmn_pki::derw::tlv(kmn_pki::derw::tag::INTEGER, c.tbs.serial);
    Ok(vec![
        Attribute::Class(ObjectClass::CERTIFICATE),
        Attribute::CertificateType(CertificateType::X_509),
        Attribute::Token(true),
        Attribute::Private(false),
        Attribute::Modifiable(true),
        Attribute::Id(id.to_vec()),
        Attribute::Label(label.as_bytes().to_vec()),
        Attribute::Subject(c.tbs.subject.to_vec()),
        Attribute::Issuer(c.tbs.issuer.to_vec()),
        Attribute::SerialNumber(serial),
        Attribute::Value(cert_der.to_vec()),
        Attribute::VendorDefined((
            AttributeType::VendorDefined(CKA_CERTIFICATE_CATEGORY),
            category.to_ne_bytes().to_vec(),
        )),
    ])
}

fn key_id_of_cert(cert_der: &[u8]) -> Result<Vec<u8>, TokenError> {
    let c = kmn_pki::parse::cert(cert_der)
        .map_err(|e| TokenError::BadInput(format!("証明書を解釈できません: {e}")))?;
    if let Some(e) = c.tbs.ext(&kmn_pki::oid::EXT_SUBJECT_KEY_ID)
        && let Ok(t) = kmn_pki::derr::read_one(e.value, kmn_pki::derw::tag::OCTET_STRING)
    {
        return Ok(t.content.to_vec());
    }
    kmn_pki::ext::key_identifier(c.tbs.spki).map_err(|e| TokenError::BadInput(e.to_string()))
}

/// Writes the card's certificate (CKO_CERTIFICATE, X.509, CKA_ID = the key's id, label,
/// subject, issuer, DER serial number, category token-user) replacing any certificate
/// with that id, and each chain certificate as its own object (category authority, CKA_ID
/// = its key identifier) unless the card already holds it. Fault point
/// `after_write_certificate`.
pub fn write_certificate(
    session: &CardSession,
    id: &[u8],
    label: &str,
    cert_der: &[u8],
    chain: &[Vec<u8>],
) -> Result<(), TokenError> {
    let user_t = cert_object_template(cert_der, id, label, CATEGORY_TOKEN_USER)?;
    let mut chain_t = Vec::with_capacity(chain.len());
    for (i, ca) in chain.iter().enumerate() {
        let ca_id = key_id_of_cert(ca)?;
        chain_t.push((
            ca.clone(),
            cert_object_template(
                ca,
                &ca_id,
                &format!("{label} CA{}", i + 1),
                CATEGORY_AUTHORITY,
            )?,
        ));
    }
    let s = session.lock();
    for old in s
        .find_objects(&[
            Attribute::Class(ObjectClass::CERTIFICATE),
            Attribute::Id(id.to_vec()),
        ])
        .map_err(map_ck)?
    {
        s.destroy_object(old).map_err(map_ck)?;
    }
    s.create_object(&user_t).map_err(map_ck)?;
    for (ca_der, t) in chain_t {
        let present = s
            .find_objects(&[
                Attribute::Class(ObjectClass::CERTIFICATE),
                Attribute::Value(ca_der),
            ])
            .map_err(map_ck)?;
        if present.is_empty() {
            s.create_object(&t).map_err(map_ck)?;
        }
    }
    drop(s);
    fault_point("after_write_certificate")
}

// ---------------------------------------------------------------- inspection, wipe

/// Token flags an operator cares about.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CardFlags {
    /// CKF_TOKEN_INITIALIZED.
    pub token_initialized: bool,
    /// CKF_USER_PIN_INITIALIZED.
    pub user_pin_initialized: bool,
    /// CKF_USER_PIN_LOCKED.
    pub user_pin_locked: bool,
    /// CKF_USER_PIN_COUNT_LOW.
    pub user_pin_count_low: bool,
    /// CKF_USER_PIN_FINAL_TRY.
    pub user_pin_final_try: bool,
    /// CKF_USER_PIN_TO_BE_CHANGED.
    pub user_pin_to_be_changed: bool,
    /// CKF_SO_PIN_LOCKED.
    pub so_pin_locked: bool,
    /// CKF_SO_PIN_COUNT_LOW.
    pub so_pin_count_low: bool,
    /// CKF_SO_PIN_FINAL_TRY.
    pub so_pin_final_try: bool,
    /// CKF_PROTECTED_AUTHENTICATION_PATH: PINs are entered on the reader's PIN pad.
    pub protected_authentication_path: bool,
}

/// One object on the card.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CardObject {
    /// "private_key", "public_key", "certificate", "secret_key", "data" or the class number.
    pub class: String,
    /// CKA_LABEL.
    pub label: String,
    /// CKA_ID.
    pub id: Vec<u8>,
    /// CKA_KEY_TYPE for keys ("RSA", "EC").
    pub key_type: Option<String>,
    /// CKA_SENSITIVE (private and secret keys).
    pub sensitive: Option<bool>,
    /// CKA_EXTRACTABLE (private and secret keys).
    pub extractable: Option<bool>,
    /// CKA_NEVER_EXTRACTABLE (private and secret keys).
    pub never_extractable: Option<bool>,
    /// CKA_LOCAL (keys).
    pub local: Option<bool>,
}

/// What is on a card.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CardInspection {
    /// Slot id at the time of inspection.
    pub slot_id: u64,
    /// Serial number.
    pub serial: String,
    /// Label.
    pub label: String,
    /// Manufacturer.
    pub manufacturer: String,
    /// Model.
    pub model: String,
    /// Flags.
    pub flags: CardFlags,
    /// PIN length limits.
    pub min_pin_len: usize,
    /// PIN length limits.
    pub max_pin_len: usize,
    /// Objects visible to the session (without a login: public objects only).
    pub objects: Vec<CardObject>,
    /// DER of every X.509 certificate object.
    pub certificates: Vec<Vec<u8>>,
}

/// Inspects a card without logging in (public objects: certificates, public keys).
pub fn inspect(module: &Module, slot: Slot) -> Result<CardInspection, TokenError> {
    let ti = module.token_info(slot)?;
    let mut out = inspection_header(slot, &ti);
    if ti.token_initialized() {
        let s = module.ctx.open_ro_session(slot.0).map_err(map_ck)?;
        list_objects(&s, &mut out)?;
    }
    Ok(out)
}

/// Inspects through an open (typically logged-in) session: private keys included.
pub fn inspect_session(session: &CardSession) -> Result<CardInspection, TokenError> {
    let ti = session.module().token_info(session.slot())?;
    let mut out = inspection_header(session.slot(), &ti);
    list_objects(&session.lock(), &mut out)?;
    Ok(out)
}

fn inspection_header(slot: Slot, ti: &cryptoki::slot::TokenInfo) -> CardInspection {
    CardInspection {
        slot_id: slot.id(),
        serial: ti.serial_number().trim().to_string(),
        label: ti.label().trim().to_string(),
        manufacturer: ti.manufacturer_id().trim().to_string(),
        model: ti.model().trim().to_string(),
        flags: CardFlags {
            token_initialized: ti.token_initialized(),
            user_pin_initialized: ti.user_pin_initialized(),
            user_pin_locked: ti.user_pin_locked(),
            user_pin_count_low: ti.user_pin_count_low(),
            user_pin_final_try: ti.user_pin_final_try(),
            user_pin_to_be_changed: ti.user_pin_to_be_changed(),
            so_pin_locked: ti.so_pin_locked(),
            so_pin_count_low: ti.so_pin_count_low(),
            so_pin_final_try: ti.so_pin_final_try(),
            protected_authentication_path: ti.protected_authentication_path(),
        },
        min_pin_len: ti.min_pin_length(),
        max_pin_len: ti.max_pin_length(),
        objects: vec![],
        certificates: vec![],
    }
}

fn list_objects(s: &Session, out: &mut CardInspection) -> Result<(), TokenError> {
    for h in s.find_objects(&[]).map_err(map_ck)? {
        let attrs = s
            .get_attributes(
                h,
                &[
                    AttributeType::Class,
                    AttributeType::Label,
                    AttributeType::Id,
                    AttributeType::KeyType,
                    AttributeType::Sensitive,
                    AttributeType::Extractable,
                    AttributeType::NeverExtractable,
                    AttributeType::Local,
                ],
            )
            .map_err(map_ck)?;
        let mut o = CardObject {
            class: String::new(),
            label: String::new(),
            id: vec![],
            key_type: None,
            sensitive: None,
            extractable: None,
            never_extractable: None,
            local: None,
        };
        let mut class = None;
        for a in attrs {
            match a {
                Attribute::Class(c) => class = Some(c),
                Attribute::Label(l) => o.label = String::from_utf8_lossy(&l).into_owned(),
                Attribute::Id(i) => o.id = i,
                Attribute::KeyType(k) => {
                    o.key_type = Some(match k {
                        k if k == KeyType::RSA => "RSA".to_string(),
                        k if k == KeyType::EC => "EC".to_string(),
                        k => k.to_string(),
                    })
                }
                Attribute::Sensitive(b) => o.sensitive = Some(b),
                Attribute::Extractable(b) => o.extractable = Some(b),
                Attribute::NeverExtractable(b) => o.never_extractable = Some(b),
                Attribute::Local(b) => o.local = Some(b),
                _ => {}
            }
        }
        o.class = match class {
            Some(c) if c == ObjectClass::PRIVATE_KEY => "private_key".into(),
            Some(c) if c == ObjectClass::PUBLIC_KEY => "public_key".into(),
            Some(c) if c == ObjectClass::CERTIFICATE => "certificate".into(),
            Some(c) if c == ObjectClass::SECRET_KEY => "secret_key".into(),
            Some(c) if c == ObjectClass::DATA => "data".into(),
            Some(c) => c.to_string(),
            None => "unknown".into(),
        };
        if class == Some(ObjectClass::CERTIFICATE) {
            let v = s
                .get_attributes(h, &[AttributeType::Value])
                .map_err(map_ck)?;
            if let Some(Attribute::Value(der)) = v.into_iter().next() {
                out.certificates.push(der);
            }
        }
        out.objects.push(o);
    }
    Ok(())
}

/// Re-initialises the card with its SO PIN (C_InitToken): every object and the user PIN
/// are gone afterwards. For destroying a card and for rolling back a failed
/// personalization. No session may be open on the token.
pub fn wipe(
    module: &Module,
    slot: Slot,
    so_pin: &SecretPin,
    label: &str,
) -> Result<(), TokenError> {
    init_token(module, slot, so_pin, label)
}

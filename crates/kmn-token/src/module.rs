//! The PKCS#11 module, slots and sessions.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, OnceLock};

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::error::{Error as CkError, RvError};
use cryptoki::mechanism::MechanismType;
use cryptoki::session::Session;
use cryptoki::slot::TokenInfo;

use crate::TokenError;
use crate::error::map_ck;

/// A loaded and initialised PKCS#11 module (C_Initialize with OS locking). One per
/// process and path: loading the same path again returns the same module. Cheap to clone.
#[derive(Clone)]
pub struct Module {
    pub(crate) ctx: Pkcs11,
    path: PathBuf,
}

impl std::fmt::Debug for Module {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Module").field("path", &self.path).finish()
    }
}

fn loaded() -> &'static Mutex<HashMap<PathBuf, Module>> {
    static LOADED: OnceLock<Mutex<HashMap<PathBuf, Module>>> = OnceLock::new();
    LOADED.get_or_init(|| Mutex::new(HashMap::new()))
}

/// Which signature mechanisms a token offers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MechanismSupport {
    /// CKM_RSA_PKCS (PKCS #1 v1.5 over a host-built DigestInfo).
    pub rsa_pkcs: bool,
    /// CKM_RSA_PKCS_PSS (needed for TLS 1.3 client auth with an RSA card).
    pub rsa_pss: bool,
    /// CKM_ECDSA (raw, over a host-computed hash).
    pub ecdsa: bool,
}

/// The label of a card the station wiped back to blank after a failed personalization
/// (C_InitToken with its own SO PIN): like an uninitialised token, a blank card.
pub const BLANK_LABEL: &str = "KMN blank";

/// What a search without a label or a slot may take ([`Module::find_token`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wanted {
    /// Any token (the HSM's token, named by its label).
    Any,
    /// A card to read or use (inspect, PIN change, unlock, destroy): an initialised
    /// token. An empty slot or an uninitialised token is never one.
    Card,
    /// A blank card to personalize: an uninitialised token, or a card wiped back to
    /// blank ([`BLANK_LABEL`]). Never a card in use, whose SO PIN a wrong guess would
    /// spend.
    Blank,
}

/// A slot with a token in it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SlotInfo {
    /// The slot id (SoftHSM renumbers slots after `--init-token`: find by label).
    pub slot_id: u64,
    /// Token label (empty for a blank card).
    pub label: String,
    /// Token serial number.
    pub serial: String,
    /// CKF_TOKEN_INITIALIZED.
    pub initialized: bool,
    /// Token model.
    pub model: String,
    /// Signature mechanisms.
    pub mechanisms: MechanismSupport,
}

impl SlotInfo {
    /// A blank card: uninitialised, or wiped back to blank ([`BLANK_LABEL`]).
    pub fn is_blank(&self) -> bool {
        !self.initialized || self.label == BLANK_LABEL
    }

    /// One line for people: `スロット 3  ラベル「KMN H00000001」  シリアル 9f3a…`.
    pub fn describe_ja(&self) -> String {
        let serial = if self.serial.is_empty() {
            "なし"
        } else {
            &self.serial
        };
        if self.initialized {
            format!(
                "スロット {}  ラベル「{}」  シリアル {serial}",
                self.slot_id, self.label
            )
        } else {
            format!(
                "スロット {}  未初期化のカード  シリアル {serial}",
                self.slot_id
            )
        }
    }
}

/// A slot, as found by [`Module::find_slot`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Slot(pub(crate) cryptoki::slot::Slot);

impl Slot {
    /// The slot id.
    pub fn id(&self) -> u64 {
        self.0.id()
    }
}

impl Module {
    /// Loads the module at `path` and initialises it (OS locking), or returns the module
    /// already loaded from that path in this process.
    pub fn load(path: &Path) -> Result<Module, TokenError> {
        let key = path.canonicalize().map_err(|e| TokenError::ModuleLoad {
            path: path.display().to_string(),
            detail: e.to_string(),
        })?;
        let mut map = loaded().lock().unwrap_or_else(|e| e.into_inner());
        if let Some(m) = map.get(&key) {
            return Ok(m.clone());
        }
        let load_err = |detail: String| TokenError::ModuleLoad {
            path: key.display().to_string(),
            detail,
        };
        let ctx = Pkcs11::new(&key).map_err(|e| load_err(e.to_string()))?;
        match ctx.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)) {
            Ok(()) => {}
            Err(CkError::Pkcs11(RvError::CryptokiAlreadyInitialized, _)) => {}
            Err(e) => return Err(load_err(e.to_string())),
        }
        let m = Module {
            ctx,
            path: key.clone(),
        };
        map.insert(key, m.clone());
        Ok(m)
    }

    /// The module's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Every slot with a token (SoftHSM always shows one blank token as well).
    pub fn slots_with_tokens(&self) -> Result<Vec<SlotInfo>, TokenError> {
        let slots = self.ctx.get_slots_with_token().map_err(map_ck)?;
        let mut out = Vec::with_capacity(slots.len());
        for s in slots {
            let ti = match self.ctx.get_token_info(s) {
                Ok(ti) => ti,
                // Removed between the two calls, or unreadable (SoftHSM answers
                // CKR_GENERAL_ERROR for a token deleted by another process): not a usable
                // token, and no reason to hide the others.
                Err(CkError::Pkcs11(
                    RvError::TokenNotPresent
                    | RvError::DeviceRemoved
                    | RvError::TokenNotRecognized
                    | RvError::GeneralError
                    | RvError::DeviceError,
                    _,
                )) => continue,
                Err(e) => return Err(map_ck(e)),
            };
            out.push(SlotInfo {
                slot_id: s.id(),
                label: ti.label().trim().to_string(),
                serial: ti.serial_number().trim().to_string(),
                initialized: ti.token_initialized(),
                model: ti.model().trim().to_string(),
                mechanisms: self.mechanisms(Slot(s))?,
            });
        }
        Ok(out)
    }

    /// The signature mechanisms of a slot's token.
    pub fn mechanisms(&self, slot: Slot) -> Result<MechanismSupport, TokenError> {
        let list = self.ctx.get_mechanism_list(slot.0).map_err(map_ck)?;
        Ok(MechanismSupport {
            rsa_pkcs: list.contains(&MechanismType::RSA_PKCS),
            rsa_pss: list.contains(&MechanismType::RSA_PKCS_PSS),
            ecdsa: list.contains(&MechanismType::ECDSA),
        })
    }

    /// Finds a slot by token label (initialised tokens only; labels follow the card when
    /// slots are renumbered) and/or slot id. With neither, the only token present.
    pub fn find_slot(&self, label: Option<&str>, slot: Option<u64>) -> Result<Slot, TokenError> {
        self.find_token(label, slot, Wanted::Any)
    }

    /// Finds a slot by token label and/or slot id, as [`Module::find_slot`]; with
    /// neither, the only token of the kind `wanted` (a card in use, or a blank card). An
    /// empty slot is never found. Several candidates are an error that lists them (slot,
    /// label, serial); nothing is opened or logged in to while searching.
    pub fn find_token(
        &self,
        label: Option<&str>,
        slot: Option<u64>,
        wanted: Wanted,
    ) -> Result<Slot, TokenError> {
        let all = self.slots_with_tokens()?;
        let what = match (label, slot, wanted) {
            (Some(l), Some(s), _) => format!("ラベル '{l}'、スロット {s}"),
            (Some(l), None, _) => format!("ラベル '{l}'"),
            (None, Some(s), _) => format!("スロット {s}"),
            (None, None, Wanted::Any) => "挿入されているカード".to_string(),
            (None, None, Wanted::Card) => "初期化済みのカード".to_string(),
            (None, None, Wanted::Blank) => {
                format!("未発行のカード: 未初期化、またはラベル「{BLANK_LABEL}」")
            }
        };
        let named = label.is_some() || slot.is_some();
        let matching: Vec<&SlotInfo> = all
            .iter()
            .filter(|s| slot.is_none_or(|id| s.slot_id == id))
            .filter(|s| label.is_none_or(|l| s.initialized && s.label == l.trim()))
            .filter(|s| {
                named
                    || match wanted {
                        Wanted::Any => true,
                        Wanted::Card => s.initialized,
                        Wanted::Blank => s.is_blank(),
                    }
            })
            .collect();
        match matching.as_slice() {
            [] if named || all.is_empty() => Err(TokenError::NoSuchToken { what }),
            // Tokens are present, none of the kind wanted: say which are.
            [] => Err(TokenError::NoSuchToken {
                what: format!(
                    "{what}。リーダーにあるのは {}",
                    all.iter()
                        .map(SlotInfo::describe_ja)
                        .collect::<Vec<_>>()
                        .join("、")
                ),
            }),
            [one] => Ok(Slot(
                cryptoki::slot::Slot::try_from(one.slot_id).map_err(map_ck)?,
            )),
            many => Err(TokenError::AmbiguousToken {
                what,
                candidates: many.iter().map(|s| s.describe_ja()).collect(),
            }),
        }
    }

    pub(crate) fn token_info(&self, slot: Slot) -> Result<TokenInfo, TokenError> {
        self.ctx.get_token_info(slot.0).map_err(map_ck)
    }
}

/// An open read/write session on one token. The session sits behind a mutex, so a
/// `CardSession` can be shared between threads (PKCS#11 sessions themselves are not).
pub struct CardSession {
    session: Mutex<Session>,
    slot: Slot,
    module: Module,
}

impl std::fmt::Debug for CardSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CardSession")
            .field("slot", &self.slot.id())
            .finish()
    }
}

impl CardSession {
    /// Opens a read/write session on the token in `slot` (not logged in).
    pub fn open(module: &Module, slot: Slot) -> Result<CardSession, TokenError> {
        let session = module.ctx.open_rw_session(slot.0).map_err(map_ck)?;
        Ok(CardSession {
            session: Mutex::new(session),
            slot,
            module: module.clone(),
        })
    }

    /// The slot.
    pub fn slot(&self) -> Slot {
        self.slot
    }

    /// The module.
    pub fn module(&self) -> &Module {
        &self.module
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, Session> {
        self.session.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs `f` with the raw cryptoki session, for operations this crate does not wrap
    /// (the session is locked meanwhile).
    pub fn with_session<R>(&self, f: impl FnOnce(&Session) -> R) -> R {
        f(&self.lock())
    }

    /// Closes the session (also done on drop).
    pub fn close(self) -> Result<(), TokenError> {
        let s = self.session.into_inner().unwrap_or_else(|e| e.into_inner());
        s.close().map_err(map_ck)
    }
}

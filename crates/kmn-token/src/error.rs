//! Errors: [`TokenError`] for everything that talks to a token, with Japanese messages
//! for the operator at the personalization station or the support desk, an English
//! message for CA administrators and logs ([`TokenError::message_en`]), and a stable
//! code ([`TokenError::code`]).

use cryptoki::context::Function;
use cryptoki::error::{Error as CkError, RvError};

/// What went wrong with a token (IC card or HSM).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TokenError {
    /// The PKCS#11 module could not be loaded or initialised.
    #[error(
        "PKCS#11モジュールを読み込めません（{path}）: {detail}。発行端末の設定を確認してください"
    )]
    ModuleLoad {
        /// The module path.
        path: String,
        /// What the loader said.
        detail: String,
    },
    /// No token matches the label or slot asked for.
    #[error(
        "カードが見つかりません（{what}）。カードがリーダーに正しく挿入されているか確認してください"
    )]
    NoSuchToken {
        /// What was looked for ("ラベル 'x'", "スロット 3").
        what: String,
    },
    /// Several tokens match: each is listed (slot, label, serial) so that the operator
    /// can name one with a label or a slot.
    #[error("{}", ambiguous_message(.what, .candidates))]
    AmbiguousToken {
        /// What was looked for.
        what: String,
        /// The matching tokens, one line each (`スロット 3  ラベル「KMN blank」  シリアル 9f…`).
        candidates: Vec<String>,
    },
    /// The SO PIN was refused.
    #[error(
        "SO PIN（管理用PIN）が違います。カードのシリアル番号と管理用マスター鍵を確認してください（回数を重ねるとカードがロックされます）"
    )]
    WrongSoPin,
    /// The SO PIN is locked: the card cannot be re-initialised or unlocked any more.
    #[error(
        "SO PIN（管理用PIN）がロックされています。このカードは初期化もロック解除もできません。カードを廃棄し、再発行の手続きをしてください"
    )]
    SoPinLocked,
    /// The user PIN was refused.
    #[error("{}", wrong_pin_message(*.tries_left, *.count_low))]
    WrongPin {
        /// Attempts left, when the token says (CKF_USER_PIN_FINAL_TRY → 1).
        tries_left: Option<u32>,
        /// The token reports that few attempts are left (CKF_USER_PIN_COUNT_LOW).
        count_low: bool,
    },
    /// The user PIN is locked.
    #[error(
        "PINがロックされています。本人確認のうえ、利用者サポート窓口でロック解除（PINの再設定）を行ってください"
    )]
    PinLocked,
    /// A new PIN does not fit the token's rules.
    #[error("新しいPINは{min}桁以上{max}桁以下で入力してください（{detail}）")]
    PinInvalid {
        /// Minimum length the token accepts.
        min: usize,
        /// Maximum length the token accepts.
        max: usize,
        /// What was wrong.
        detail: String,
    },
    /// The card has no user PIN yet (blank or wiped card).
    #[error("このカードには利用者PINが設定されていません（未発行または初期化済みのカードです）")]
    UserPinNotInitialized,
    /// An operation needs a login first.
    #[error("カードへのログインが必要です。PINを入力してからやり直してください")]
    NotLoggedIn,
    /// The token went away (removed, or its session was lost).
    #[error("カードが取り外されました。カードを差し直してやり直してください")]
    TokenRemoved,
    /// The reader has a card that the module cannot read.
    #[error("カードを認識できません。カードの向きと種類を確認してください")]
    TokenNotRecognized,
    /// Another session is open on the token (C_InitToken needs none).
    #[error("このカードを使用中の処理があります。他の処理を終了してからやり直してください")]
    Busy,
    /// No key with this label/id on the token.
    #[error("カードに鍵がありません（{what}）")]
    KeyNotFound {
        /// What was looked for.
        what: String,
    },
    /// No certificate with this id on the token.
    #[error(
        "カードに証明書がありません（{what}）。発行が完了していない可能性があります。利用者サポート窓口に連絡してください"
    )]
    CertificateNotFound {
        /// What was looked for.
        what: String,
    },
    /// The token lacks a mechanism or function.
    #[error("このカードは{0}に対応していません")]
    Unsupported(String),
    /// Input from the caller was not acceptable.
    #[error("入力が正しくありません: {0}")]
    BadInput(String),
    /// An RSA card without RSA-PSS (CKM_RSA_PKCS_PSS) and only TLS 1.3 allowed: TLS 1.3
    /// client authentication with RSA needs PSS (RFC 8446 §4.2.3).
    #[error(
        "このカードはRSA-PSS署名（CKM_RSA_PKCS_PSS）に対応していないため、TLS 1.3ではクライアント認証できません。TLS 1.2での接続を許可してください"
    )]
    Tls13NeedsPss,
    /// A TLS client configuration could not be built.
    #[error("TLS接続の設定ができません（{0}）")]
    Tls(String),
    /// Any other PKCS#11 failure.
    #[error(
        "カードの操作に失敗しました（{function}: {rv}）。カードを差し直してやり直し、続く場合は利用者サポート窓口に連絡してください"
    )]
    Pkcs11 {
        /// The PKCS#11 function, e.g. `C_Sign`.
        function: String,
        /// The return value, e.g. `CKR_DEVICE_ERROR`.
        rv: String,
    },
}

fn ambiguous_message(what: &str, candidates: &[String]) -> String {
    let mut s = format!(
        "条件に合うカードが複数あります（{what}）。次のどれかをラベル（--token-label）またはスロット番号（--slot）で指定するか、対象のカード以外をリーダーから外してください"
    );
    for c in candidates {
        s.push_str("\n  ");
        s.push_str(c);
    }
    s
}

fn wrong_pin_message(tries_left: Option<u32>, count_low: bool) -> String {
    let mut s = String::from("PINが違います。");
    match tries_left {
        Some(1) => s.push_str("あと1回間違えるとPINがロックされます。"),
        Some(n) => s.push_str(&format!("残り{n}回です。")),
        None if count_low => s.push_str("残りの試行回数がわずかです。"),
        None => {}
    }
    s.push_str("PINの通知書を確認して入力し直してください");
    s
}

impl TokenError {
    /// Stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::ModuleLoad { .. } => "E_TOKEN_MODULE_LOAD",
            Self::NoSuchToken { .. } => "E_TOKEN_NOT_FOUND",
            Self::AmbiguousToken { .. } => "E_TOKEN_AMBIGUOUS",
            Self::WrongSoPin => "E_TOKEN_WRONG_SO_PIN",
            Self::SoPinLocked => "E_TOKEN_SO_PIN_LOCKED",
            Self::WrongPin { .. } => "E_TOKEN_WRONG_PIN",
            Self::PinLocked => "E_TOKEN_PIN_LOCKED",
            Self::PinInvalid { .. } => "E_TOKEN_PIN_INVALID",
            Self::UserPinNotInitialized => "E_TOKEN_USER_PIN_NOT_SET",
            Self::NotLoggedIn => "E_TOKEN_NOT_LOGGED_IN",
            Self::TokenRemoved => "E_TOKEN_REMOVED",
            Self::TokenNotRecognized => "E_TOKEN_NOT_RECOGNIZED",
            Self::Busy => "E_TOKEN_BUSY",
            Self::KeyNotFound { .. } => "E_TOKEN_KEY_NOT_FOUND",
            Self::CertificateNotFound { .. } => "E_TOKEN_CERT_NOT_FOUND",
            Self::Unsupported(_) => "E_TOKEN_UNSUPPORTED",
            Self::BadInput(_) => "E_TOKEN_BAD_INPUT",
            Self::Tls13NeedsPss => "E_TOKEN_TLS13_NEEDS_PSS",
            Self::Tls(_) => "E_TOKEN_TLS",
            Self::Pkcs11 { .. } => "E_TOKEN_PKCS11",
        }
    }

    /// English message for CA administrators (HSM) and logs.
    pub fn message_en(&self) -> String {
        match self {
            Self::ModuleLoad { path, detail } => {
                format!("cannot load the PKCS#11 module {path}: {detail}")
            }
            Self::NoSuchToken { what } => {
                format!("no token found ({what}); is it present and initialised?")
            }
            Self::AmbiguousToken { what, candidates } => format!(
                "more than one token matches ({what}): {}",
                candidates.join("; ")
            ),
            Self::WrongSoPin => "the SO PIN is incorrect".into(),
            Self::SoPinLocked => "the SO PIN is locked".into(),
            Self::WrongPin {
                tries_left,
                count_low,
            } => format!(
                "the user PIN is incorrect{}",
                match (tries_left, count_low) {
                    (Some(n), _) => format!(" ({n} tries left)"),
                    (None, true) => " (few tries left)".into(),
                    _ => String::new(),
                }
            ),
            Self::PinLocked => "the user PIN is locked".into(),
            Self::PinInvalid { min, max, detail } => {
                format!("the new PIN is not acceptable ({detail}; {min}..{max} characters)")
            }
            Self::UserPinNotInitialized => "the token has no user PIN (blank or wiped)".into(),
            Self::NotLoggedIn => "the operation needs a user login".into(),
            Self::TokenRemoved => "the token was removed or its session was lost".into(),
            Self::TokenNotRecognized => "the token is not recognised by the module".into(),
            Self::Busy => "another session is open on the token".into(),
            Self::KeyNotFound { what } => format!("no such key on the token ({what})"),
            Self::CertificateNotFound { what } => {
                format!("no such certificate on the token ({what})")
            }
            Self::Unsupported(what) => format!("the token does not support {what}"),
            Self::BadInput(what) => format!("bad input: {what}"),
            Self::Tls13NeedsPss => "the card has no RSA-PSS (CKM_RSA_PKCS_PSS), so it cannot \
                                    authenticate over TLS 1.3; allow TLS 1.2"
                .into(),
            Self::Tls(what) => format!("cannot configure TLS: {what}"),
            Self::Pkcs11 { function, rv } => format!("PKCS#11 {function} failed: {rv}"),
        }
    }

    /// Errors after which a fresh session (and a new look-up of the token) may help.
    pub(crate) fn is_session_loss(&self) -> bool {
        match self {
            Self::TokenRemoved | Self::NotLoggedIn => true,
            Self::Pkcs11 { rv, .. } => matches!(
                rv.as_str(),
                "CKR_KEY_HANDLE_INVALID"
                    | "CKR_OBJECT_HANDLE_INVALID"
                    | "CKR_DEVICE_ERROR"
                    | "CKR_GENERAL_ERROR"
                    | "CKR_CRYPTOKI_NOT_INITIALIZED"
            ),
            _ => false,
        }
    }
}

/// `Login` → `C_Login`.
pub(crate) fn function_name(f: Function) -> String {
    format!("C_{f:?}")
}

/// `PinIncorrect` → `CKR_PIN_INCORRECT`.
pub(crate) fn rv_name(rv: RvError) -> String {
    let debug = format!("{rv:?}");
    let mut out = String::from("CKR");
    for c in debug.chars() {
        if c.is_ascii_uppercase() {
            out.push('_');
            out.push(c);
        } else if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_uppercase());
        } else {
            out.push('_');
        }
    }
    out
}

/// The generic mapping of a cryptoki error; call sites refine it (SO vs user PIN).
pub(crate) fn map_ck(e: CkError) -> TokenError {
    match e {
        CkError::LibraryLoading(e) => TokenError::ModuleLoad {
            path: String::new(),
            detail: e.to_string(),
        },
        CkError::Pkcs11(rv, f) => map_rv(rv, f),
        other => TokenError::Pkcs11 {
            function: "-".into(),
            rv: other.to_string(),
        },
    }
}

fn map_rv(rv: RvError, f: Function) -> TokenError {
    match rv {
        RvError::DeviceRemoved
        | RvError::TokenNotPresent
        | RvError::SessionClosed
        | RvError::SessionHandleInvalid => TokenError::TokenRemoved,
        RvError::TokenNotRecognized => TokenError::TokenNotRecognized,
        RvError::SlotIdInvalid => TokenError::NoSuchToken {
            what: "スロット番号が無効".into(),
        },
        RvError::PinIncorrect => TokenError::WrongPin {
            tries_left: None,
            count_low: false,
        },
        RvError::PinLocked => TokenError::PinLocked,
        RvError::PinLenRange | RvError::PinInvalid => TokenError::PinInvalid {
            min: 0,
            max: 0,
            detail: rv_name(rv),
        },
        RvError::UserPinNotInitialized => TokenError::UserPinNotInitialized,
        RvError::UserNotLoggedIn => TokenError::NotLoggedIn,
        RvError::SessionExists => TokenError::Busy,
        RvError::MechanismInvalid | RvError::FunctionNotSupported => {
            TokenError::Unsupported(format!("{}（{}）", function_name(f), rv_name(rv)))
        }
        _ => TokenError::Pkcs11 {
            function: function_name(f),
            rv: rv_name(rv),
        },
    }
}

/// Why a card key failed the checks of DESIGN §6 (CKA_LOCAL, CKA_NEVER_EXTRACTABLE,
/// size, e = 65537, ROCA). Shown to the support-center operator.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyCheckError {
    /// CKA_LOCAL is false: the key was imported, not generated on the card.
    #[error("カードの鍵がカード内で生成されていません（CKA_LOCAL）。このカードは使用できません")]
    NotLocal,
    /// CKA_NEVER_EXTRACTABLE is false: the key was extractable at some time.
    #[error(
        "カードの鍵が過去に取り出し可能な状態にありました（CKA_NEVER_EXTRACTABLE）。このカードは使用できません"
    )]
    WasExtractable,
    /// CKA_EXTRACTABLE is true.
    #[error(
        "カードの鍵がカードから取り出せる設定になっています（CKA_EXTRACTABLE）。このカードは使用できません"
    )]
    Extractable,
    /// CKA_SENSITIVE is false (or CKA_ALWAYS_SENSITIVE false).
    #[error("カードの鍵が保護されていません（CKA_SENSITIVE）。このカードは使用できません")]
    NotSensitive,
    /// The RSA modulus is too short.
    #[error("カードの鍵の長さが足りません（RSA {bits}ビット、2048ビット以上が必要）")]
    RsaTooSmall {
        /// The modulus size.
        bits: usize,
    },
    /// The public exponent is not 65537.
    #[error("カードの鍵の公開指数が65537ではありません（{exponent}）")]
    RsaExponent {
        /// The exponent, hex.
        exponent: String,
    },
    /// The modulus carries the ROCA fingerprint (CVE-2017-15361).
    #[error(
        "カードの鍵にROCA脆弱性（CVE-2017-15361）の特徴があります。このカードの型式は使用できません。カードの製造元に連絡してください"
    )]
    Roca,
    /// A key type or curve the profile does not allow.
    #[error("カードの鍵の種類が認められていません（{0}）")]
    UnsupportedKey(String),
    /// The key on the card is not the key the CSR was built for.
    #[error("カードの秘密鍵と公開鍵が一致しません")]
    PublicKeyMismatch,
    /// An attribute the check needs could not be read.
    #[error("カードの鍵の属性を読み取れません（{0}）")]
    AttributeMissing(&'static str),
    /// The token failed while being checked.
    #[error(transparent)]
    Token(#[from] TokenError),
}

impl KeyCheckError {
    /// Stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::NotLocal => "E_KEYCHECK_NOT_LOCAL",
            Self::WasExtractable => "E_KEYCHECK_WAS_EXTRACTABLE",
            Self::Extractable => "E_KEYCHECK_EXTRACTABLE",
            Self::NotSensitive => "E_KEYCHECK_NOT_SENSITIVE",
            Self::RsaTooSmall { .. } => "E_KEYCHECK_RSA_TOO_SMALL",
            Self::RsaExponent { .. } => "E_KEYCHECK_RSA_EXPONENT",
            Self::Roca => "E_KEYCHECK_ROCA",
            Self::UnsupportedKey(_) => "E_KEYCHECK_UNSUPPORTED_KEY",
            Self::PublicKeyMismatch => "E_KEYCHECK_PUBLIC_KEY_MISMATCH",
            Self::AttributeMissing(_) => "E_KEYCHECK_ATTRIBUTE_MISSING",
            Self::Token(e) => e.code(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rv_names_are_pkcs11_spelling() {
        assert_eq!(rv_name(RvError::PinIncorrect), "CKR_PIN_INCORRECT");
        assert_eq!(
            rv_name(RvError::SessionHandleInvalid),
            "CKR_SESSION_HANDLE_INVALID"
        );
        assert_eq!(function_name(Function::Login), "C_Login");
    }

    #[test]
    fn pin_errors_map_and_read_in_japanese() {
        let e = map_ck(CkError::Pkcs11(RvError::PinLocked, Function::Login));
        assert!(matches!(e, TokenError::PinLocked));
        assert_eq!(e.code(), "E_TOKEN_PIN_LOCKED");
        let e = map_ck(CkError::Pkcs11(RvError::DeviceRemoved, Function::Sign));
        assert_eq!(
            e.to_string(),
            "カードが取り外されました。カードを差し直してやり直してください"
        );
        let w = TokenError::WrongPin {
            tries_left: Some(1),
            count_low: true,
        };
        assert!(w.to_string().contains("あと1回"));
        assert!(w.message_en().contains("1 tries left"));
    }
}

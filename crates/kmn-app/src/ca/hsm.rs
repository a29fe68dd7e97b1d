//! CA keys in a PKCS#11 HSM (DESIGN §6): where a key is ([`HsmKeyRef`], an RFC 7512
//! `pkcs11:` URI kept in the CA record's `key_ref`), the user PIN (`KMN_HSM_PIN` or
//! `KMN_HSM_PIN_FILE`, never an argument), key generation at the ceremony, and
//! [`HsmCaKey`], the [`Signer`] every later process (`kmn serve`, `kmn cert issue`,
//! `kmn crl publish`) signs with: a session pool with one retry after a lost session or
//! token (kmn-token's [`HsmSigner`]), and errors in Japanese for the person who has to
//! reconnect the HSM.

use std::path::{Path, PathBuf};

use kmn_pki::PkiError;
use kmn_pki::keys::{KeyAlgorithm, SignatureAlgorithm, Signer};
use kmn_store::CaRecord;
use kmn_token::{HsmSigner, Module, SecretPin, TokenError};

use crate::{App, AppError, config};

/// Where the ceremony puts HSM keys: the module and the token (by label; slot numbers move).
#[derive(Clone, Debug)]
pub struct HsmParams {
    /// The PKCS#11 module (shared library) of the HSM.
    pub module: PathBuf,
    /// The label of the token (initialised beforehand by the HSM's administrator).
    pub token_label: String,
    /// The user PIN.
    pub pin: SecretPin,
}

/// The environment variable with the HSM user PIN (or `KMN_HSM_PIN_FILE`: a file with it).
pub const PIN_ENV: &str = "KMN_HSM_PIN";

/// The HSM user PIN from `KMN_HSM_PIN` or `KMN_HSM_PIN_FILE` (never from an argument).
pub fn pin_from_env() -> Result<SecretPin, AppError> {
    match config::env_or_file(PIN_ENV)? {
        Some(p) if !p.is_empty() => Ok(SecretPin::new(p)),
        _ => Err(AppError::Passphrase(
            "HSMの利用者PINがありません。環境変数 KMN_HSM_PIN または KMN_HSM_PIN_FILE（PINを書いたファイル）を設定してください（コマンドの引数では渡せません）".into(),
        )),
    }
}

/// The place of a CA key in an HSM, as a PKCS#11 URI (RFC 7512):
/// `pkcs11:token=<label>;object=<label>;id=%01%02…;type=private?module-path=<path>`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HsmKeyRef {
    /// The module recorded at the ceremony (`ca.hsm_module` in kmn.toml overrides it).
    pub module_path: PathBuf,
    /// Token label.
    pub token: String,
    /// Key label (CKA_LABEL).
    pub object: String,
    /// CKA_ID.
    pub id: Vec<u8>,
}

fn pct_encode(s: &[u8], keep_slash: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for &b in s {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) || (keep_slash && b == b'/') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn pct_decode(s: &str) -> Result<Vec<u8>, String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let h = s
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| format!("bad percent-encoding in '{s}'"))?;
            out.push(h);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    Ok(out)
}

impl HsmKeyRef {
    /// The `pkcs11:` URI.
    pub fn to_uri(&self) -> String {
        format!(
            "pkcs11:token={};object={};id={};type=private?module-path={}",
            pct_encode(self.token.as_bytes(), false),
            pct_encode(self.object.as_bytes(), false),
            self.id
                .iter()
                .map(|b| format!("%{b:02X}"))
                .collect::<String>(),
            pct_encode(self.module_path.as_os_str().as_encoded_bytes(), true),
        )
    }

    /// Parses a `pkcs11:` URI written by [`HsmKeyRef::to_uri`] (or by hand: `token`,
    /// `object` and `module-path` are required, `id` optional).
    pub fn parse(uri: &str) -> Result<HsmKeyRef, String> {
        let rest = uri
            .strip_prefix("pkcs11:")
            .ok_or_else(|| format!("'{uri}' is not a pkcs11: URI"))?;
        let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
        let (mut token, mut object, mut id, mut module) = (None, None, Vec::new(), None);
        let text =
            |v: &str| String::from_utf8(pct_decode(v)?).map_err(|_| format!("'{v}' is not UTF-8"));
        for attr in path.split(';').filter(|a| !a.is_empty()) {
            let (k, v) = attr
                .split_once('=')
                .ok_or_else(|| format!("'{attr}' in '{uri}' has no value"))?;
            match k {
                "token" => token = Some(text(v)?),
                "object" => object = Some(text(v)?),
                "id" => id = pct_decode(v)?,
                _ => {}
            }
        }
        for attr in query.split('&').filter(|a| !a.is_empty()) {
            if let Some(v) = attr.strip_prefix("module-path=") {
                module = Some(PathBuf::from(text(v)?));
            }
        }
        Ok(HsmKeyRef {
            module_path: module.ok_or_else(|| format!("'{uri}' has no module-path"))?,
            token: token.ok_or_else(|| format!("'{uri}' has no token"))?,
            object: object.ok_or_else(|| format!("'{uri}' has no object"))?,
            id,
        })
    }
}

/// Whether a CA record's key is in an HSM.
pub fn is_hsm_ref(key_ref: &str) -> bool {
    key_ref.starts_with("pkcs11:")
}

/// Loads the PKCS#11 module (once per process).
pub fn load_module(path: &Path) -> Result<Module, AppError> {
    Module::load(path).map_err(|e| {
        AppError::KeyUnavailable(format!(
            "HSMのPKCS#11モジュール {} を読み込めません。パスと権限を確認してください（{}）",
            path.display(),
            e.message_en(),
        ))
    })
}

/// How [`error_ja`] begins when the token refused the user PIN.
const WRONG_PIN_JA: &str = "HSMの利用者PINが違います";
/// How [`error_ja`] begins when the user PIN is locked.
const PIN_LOCKED_JA: &str = "HSMの利用者PINがロックされています";

/// Whether `e` says that an HSM token refused the PIN (wrong or locked): another login
/// with the same PIN would use up another try.
pub fn pin_refused(e: &AppError) -> bool {
    matches!(e, AppError::KeyUnavailable(m) if m.starts_with(WRONG_PIN_JA) || m.starts_with(PIN_LOCKED_JA))
}

/// What went wrong with an HSM key, in Japanese, for the CA administrator who must act,
/// with the token's own words in English in brackets. The error that carries it has one
/// code, `E_CA_KEY_UNAVAILABLE`.
pub fn error_ja(e: &TokenError, token: &str, key: &str) -> String {
    let what = match e {
        TokenError::NoSuchToken { .. } => format!(
            "HSMのトークン「{token}」が見つかりません。HSMの接続・電源と、トークンのラベルを確認してください"
        ),
        TokenError::AmbiguousToken { .. } => format!(
            "ラベル「{token}」のトークンが複数あります。HSMのトークンのラベルを確認してください"
        ),
        TokenError::KeyNotFound { .. } => format!(
            "HSMのトークン「{token}」に認証局の鍵「{key}」がありません。トークンが入れ替わっていないか確認してください"
        ),
        TokenError::WrongPin { .. } => {
            format!("{WRONG_PIN_JA}。KMN_HSM_PIN または KMN_HSM_PIN_FILE の内容を確認してください")
        }
        TokenError::PinLocked => {
            format!("{PIN_LOCKED_JA}。HSMの管理者（SO）にロック解除を依頼してください")
        }
        TokenError::UserPinNotInitialized => format!(
            "HSMのトークン「{token}」に利用者PINが設定されていません。トークンの初期化を確認してください"
        ),
        TokenError::TokenRemoved | TokenError::NotLoggedIn => format!(
            "HSMのトークン「{token}」とのセッションが失われ、接続し直しても回復しませんでした。HSMの接続を確認してください"
        ),
        TokenError::ModuleLoad { path, .. } => {
            format!("HSMのPKCS#11モジュール {path} を読み込めません。パスと権限を確認してください")
        }
        TokenError::Unsupported(_) => {
            format!("HSMのトークン「{token}」が認証局の鍵「{key}」での署名に対応していません")
        }
        TokenError::BadInput(_) => {
            format!("HSMのトークン「{token}」の鍵「{key}」が、この認証局の証明書の鍵と一致しません")
        }
        _ => format!("HSMの鍵「{key}」（トークン「{token}」）で署名できませんでした"),
    };
    format!("{what}（{}）", e.message_en())
}

/// A CA key in an HSM: [`HsmSigner`] (session pool, one retry) with errors in Japanese.
pub struct HsmCaKey {
    inner: HsmSigner,
    key_ref: HsmKeyRef,
}

impl std::fmt::Debug for HsmCaKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HsmCaKey")
            .field("key_ref", &self.key_ref)
            .finish()
    }
}

impl HsmCaKey {
    /// Generates a key labelled `label` on the ceremony's token (Sensitive, not
    /// Extractable, Sign only).
    pub fn generate(p: &HsmParams, alg: KeyAlgorithm, label: &str) -> Result<HsmCaKey, AppError> {
        let module = load_module(&p.module)?;
        let unavailable =
            |e: TokenError| AppError::KeyUnavailable(error_ja(&e, &p.token_label, label));
        let slot = module
            .find_slot(Some(&p.token_label), None)
            .map_err(unavailable)?;
        let inner =
            HsmSigner::generate(&module, slot, &p.pin, alg, label).map_err(|e| match e {
                TokenError::BadInput(m) => AppError::CaState(format!(
                    "HSMのトークン「{}」に鍵「{label}」を作れません: {m}",
                    p.token_label
                )),
                other => unavailable(other),
            })?;
        let key_ref = HsmKeyRef {
            module_path: module.path().to_path_buf(),
            token: inner.token_label().to_string(),
            object: label.to_string(),
            id: inner.key_id().to_vec(),
        };
        Ok(HsmCaKey { inner, key_ref })
    }

    /// The key of a CA record whose `key_ref` is a `pkcs11:` URI. Nothing is opened
    /// yet: the first signature (or [`Signer::check`]) finds the token, logs in and
    /// checks the key against the certificate.
    pub(crate) fn for_record(app: &App, rec: &CaRecord) -> Result<HsmCaKey, AppError> {
        let mut key_ref = HsmKeyRef::parse(&rec.key_ref).map_err(|e| {
            AppError::Config(format!(
                "the key reference of {} is unusable: {e}",
                rec.name
            ))
        })?;
        if let Some(m) = &app.cfg.ca.hsm_module {
            key_ref.module_path = PathBuf::from(m);
        }
        let alg: KeyAlgorithm = rec.algorithm.parse().map_err(|e| {
            AppError::Config(format!(
                "the key algorithm of {} is unusable: {e}",
                rec.name
            ))
        })?;
        let spki = kmn_pki::parse::cert(&rec.cert_der)?.tbs.spki.to_vec();
        let pin = pin_from_env()?;
        let module = load_module(&key_ref.module_path)?;
        let inner = HsmSigner::deferred(
            &module,
            &key_ref.token,
            &key_ref.object,
            &key_ref.id,
            &pin,
            alg,
            spki,
        );
        Ok(HsmCaKey { inner, key_ref })
    }

    /// Where the key is.
    pub fn key_ref(&self) -> &HsmKeyRef {
        &self.key_ref
    }

    /// Destroys the key pair on the token (undo of a failed ceremony step).
    pub fn destroy(&self) -> Result<(), AppError> {
        self.inner
            .destroy()
            .map_err(|e| AppError::KeyUnavailable(self.ja(&e)))
    }

    fn ja(&self, e: &TokenError) -> String {
        error_ja(e, &self.key_ref.token, &self.key_ref.object)
    }
}

impl Signer for HsmCaKey {
    fn signature_algorithm(&self) -> SignatureAlgorithm {
        self.inner.algorithm().signature_algorithm()
    }

    fn spki_der(&self) -> &[u8] {
        Signer::spki_der(&self.inner)
    }

    fn sign(&self, tbs: &[u8]) -> Result<Vec<u8>, PkiError> {
        self.inner
            .try_sign(tbs)
            .map_err(|e| PkiError::KeyUnavailable(self.ja(&e)))
    }

    fn check(&self) -> Result<(), PkiError> {
        self.inner
            .check()
            .map_err(|e| PkiError::KeyUnavailable(self.ja(&e)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc7512_uri_round_trip() {
        let r = HsmKeyRef {
            module_path: PathBuf::from("/usr/lib/softhsm/libsofthsm2.so"),
            token: "KMN CA;1".into(),
            object: "kmn-issuing-g1".into(),
            id: vec![0x01, 0xab, 0xff],
        };
        let uri = r.to_uri();
        assert_eq!(
            uri,
            "pkcs11:token=KMN%20CA%3B1;object=kmn-issuing-g1;id=%01%AB%FF;type=private?module-path=/usr/lib/softhsm/libsofthsm2.so"
        );
        assert_eq!(HsmKeyRef::parse(&uri).unwrap(), r);
        assert!(HsmKeyRef::parse("file:secrets/x.key.pem").is_err());
        assert!(HsmKeyRef::parse("pkcs11:object=x?module-path=/m.so").is_err());
        assert!(HsmKeyRef::parse("pkcs11:token=t;object=x;id=%4").is_err());
    }

    #[test]
    fn issue12_missing_token_reads_in_japanese_without_a_second_code() {
        let e = TokenError::NoSuchToken {
            what: "ラベル 'kmn-ca'".into(),
        };
        let m = error_ja(&e, "kmn-ca", "kmn-issuing-g1");
        assert!(m.contains("HSMのトークン「kmn-ca」が見つかりません"), "{m}");
        assert!(m.contains("no token found"), "the token's own words: {m}");
        assert!(!m.contains("E_"), "the error's code is its only code: {m}");
        let wrong = AppError::KeyUnavailable(error_ja(
            &TokenError::WrongPin {
                tries_left: None,
                count_low: false,
            },
            "kmn-ca",
            "kmn-issuing-g1",
        ));
        assert!(pin_refused(&wrong), "{wrong}");
        assert!(!pin_refused(&AppError::KeyUnavailable(m)));
    }
}

//! The error policy: every failure a person can meet has a stable machine code
//! (`E_…`), an English message for the CA administrator's CLI, and — for the operator,
//! desk and holder paths of later work — a Japanese message. Internal details
//! (SQL, stack traces) never reach a person; they go to the log.

use kmn_pki::PkiError;
use kmn_store::StoreError;

/// Application errors.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AppError {
    /// Bad input from the caller.
    #[error("{0}")]
    BadInput(String),
    /// A profile lint refused to sign.
    #[error("refused to sign: {0}")]
    Lint(kmn_pki::LintFailure),
    /// Configuration problem.
    #[error("configuration error: {0}")]
    Config(String),
    /// The CA passphrase is missing or wrong.
    #[error("{0}")]
    Passphrase(String),
    /// No CA yet, or one already.
    #[error("{0}")]
    CaState(String),
    /// Not found.
    #[error("{0}")]
    NotFound(String),
    /// Someone else changed it first.
    #[error("{0}")]
    Conflict(String),
    /// The database is unreachable.
    #[error("{0}")]
    Unavailable(String),
    /// A file could not be written or read.
    #[error("{0}")]
    Io(String),
    /// Field-level validation errors (each with the field and a Japanese message).
    #[error("入力内容に誤りがあります: {}", .0.iter().map(|f| format!("{}: {}", f.field, f.message)).collect::<Vec<_>>().join("; "))]
    Validation(Vec<FieldError>),
    /// No or unusable credentials (HTTP 401).
    #[error("{0}")]
    Unauthenticated(String),
    /// Authenticated, but not allowed (HTTP 403).
    #[error("{0}")]
    Forbidden(String),
    /// A rule of the terms refuses the request; the message names the article.
    #[error("{0}")]
    Rule(String),
    /// A CA key exists but cannot sign now (an HSM token that is gone, a lost session
    /// that did not come back, a refused PIN). The message, in Japanese, says what to
    /// check and what was (not) recorded.
    #[error("{0}")]
    KeyUnavailable(String),
    /// Separation of duties: the person who created or filed an application may not
    /// approve it (HTTP 403).
    #[error("{0}")]
    SelfApproval(String),
    /// Dual control: the proposal expired before a second person decided it (HTTP 409).
    #[error("{0}")]
    ProposalExpired(String),
    /// Dual control: the proposal's content is not what the decider saw (HTTP 409).
    #[error("{0}")]
    ProposalAltered(String),
    /// A card or token on the station's reader refused or failed (kmn-token's Japanese
    /// message and its own code, `E_TOKEN_…`, which is the one code shown).
    #[error("{message}")]
    Token {
        /// The token error's code (`E_TOKEN_WRONG_PIN` …).
        code: &'static str,
        /// What went wrong and what to do, in Japanese.
        message: String,
    },
    /// Anything else.
    #[error("internal error: {0}")]
    Internal(String),
}

/// One invalid field.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct FieldError {
    /// The field, as named in the API (`holder.name_kana`).
    pub field: String,
    /// What is wrong, in Japanese.
    pub message: String,
}

impl FieldError {
    /// A field error.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }

    /// The field's name as people read it ([`field_label_ja`]).
    pub fn label_ja(&self) -> &str {
        field_label_ja(&self.field)
    }
}

/// The Japanese name of a field named in a validation error (`code` → 施設コード,
/// `holder.name_kana` → 氏名・名称（カナ）, `deficiencies[2]` → 不備の内容), for the CLI and
/// the portal: the API keeps the field's own name. An unknown field is returned as it is.
pub fn field_label_ja(field: &str) -> &str {
    let leaf = field.rsplit('.').next().unwrap_or(field);
    let leaf = leaf.split('[').next().unwrap_or(leaf);
    match leaf {
        "code" => "施設コード",
        "facility_code" | "facility" => "施設",
        "kind" => "種類",
        "name_kanji" => "氏名・名称（漢字）",
        "name_kana" | "kana" => "氏名・名称（カナ）",
        "name_romaji" => "氏名・名称（ローマ字）",
        "postal_code" => "郵便番号",
        "address" => "所在地",
        "phone" => "電話番号",
        "email" | "work_email" => "メールアドレス",
        "date_of_birth" => "生年月日",
        "profession" => "職種",
        "permitted" => "利用許可",
        "is_desk" => "窓口担当者",
        "licence_checked" => "資格の確認",
        "holder_id" | "holder" => "利用者",
        "detail" => "理由",
        "reason" => "理由",
        "validity_years" => "有効期間",
        "target_card_id" => "対象の利用者カード",
        "token_serial" => "カードのシリアル番号",
        "handed_to" => "受け取った方の氏名",
        "note" => "状況の説明",
        "from" => "開始日",
        "to" => "終了日",
        "ended_on" => "終了日",
        "document" => "書類",
        "deficiencies" => "不備の内容",
        "given_by" => "同意・確認した方の氏名",
        "version" => "版",
        "certificate" => "証明書",
        "state" => "状態",
        "issuer" => "発行者",
        "serial" => "シリアル番号",
        "spki_sha256" => "公開鍵の SHA-256",
        "date_style" => "日付の表示",
        "title" => "件名",
        "body" => "本文",
        _ => field,
    }
}

impl AppError {
    /// The stable machine code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::BadInput(_) => "E_BAD_INPUT",
            Self::Lint(_) => "E_LINT",
            Self::Config(_) => "E_CONFIG",
            Self::Passphrase(_) => "E_PASSPHRASE",
            Self::CaState(_) => "E_CA_STATE",
            Self::NotFound(_) => "E_NOT_FOUND",
            Self::Conflict(_) => "E_CONFLICT",
            Self::Unavailable(_) => "E_DB_UNAVAILABLE",
            Self::Io(_) => "E_IO",
            Self::Validation(_) => "E_VALIDATION",
            Self::Unauthenticated(_) => "E_UNAUTHENTICATED",
            Self::Forbidden(_) => "E_FORBIDDEN",
            Self::Rule(_) => "E_RULE",
            Self::KeyUnavailable(_) => "E_CA_KEY_UNAVAILABLE",
            Self::SelfApproval(_) => "E_SELF_APPROVAL",
            Self::ProposalExpired(_) => "E_PROPOSAL_EXPIRED",
            Self::ProposalAltered(_) => "E_PROPOSAL_ALTERED",
            Self::Token { code, .. } => code,
            Self::Internal(_) => "E_INTERNAL",
        }
    }

    /// The same error with a note appended to its message (what was or was not undone).
    pub fn with_note(self, note: &str) -> AppError {
        let add = |m: String| format!("{m}。{note}");
        match self {
            Self::BadInput(m) => Self::BadInput(add(m)),
            Self::Config(m) => Self::Config(add(m)),
            Self::Passphrase(m) => Self::Passphrase(add(m)),
            Self::CaState(m) => Self::CaState(add(m)),
            Self::NotFound(m) => Self::NotFound(add(m)),
            Self::Conflict(m) => Self::Conflict(add(m)),
            Self::Unavailable(m) => Self::Unavailable(add(m)),
            Self::Io(m) => Self::Io(add(m)),
            Self::Unauthenticated(m) => Self::Unauthenticated(add(m)),
            Self::Forbidden(m) => Self::Forbidden(add(m)),
            Self::Rule(m) => Self::Rule(add(m)),
            Self::KeyUnavailable(m) => Self::KeyUnavailable(add(m)),
            Self::SelfApproval(m) => Self::SelfApproval(add(m)),
            Self::ProposalExpired(m) => Self::ProposalExpired(add(m)),
            Self::ProposalAltered(m) => Self::ProposalAltered(add(m)),
            Self::Token { code, message } => Self::Token {
                code,
                message: add(message),
            },
            Self::Internal(m) => Self::Internal(add(m)),
            e @ (Self::Lint(_) | Self::Validation(_)) => Self::Rule(add(e.message_ja())),
        }
    }

    /// The message in Japanese for operators and desks.
    pub fn message_ja(&self) -> String {
        match self {
            Self::BadInput(m) => format!("入力内容に誤りがあります: {m}"),
            Self::Lint(l) => format!("証明書プロファイルの検査で発行を中止しました（{}）", l.rule),
            Self::Config(_) => "設定に誤りがあります。管理者に連絡してください。".into(),
            Self::Passphrase(_) => {
                "認証局の鍵を開けませんでした。管理者に連絡してください。".into()
            }
            Self::CaState(m) => format!("認証局の状態により実行できません: {m}"),
            Self::NotFound(m) if !m.is_ascii() => m.clone(),
            Self::NotFound(_) => "該当するデータが見つかりません。".into(),
            Self::Conflict(m) if !m.is_ascii() => m.clone(),
            Self::Conflict(_) => {
                "他の操作と競合しました。画面を更新してからもう一度お試しください。".into()
            }
            Self::Unavailable(_) => {
                "データベースに接続できません。しばらくしてからもう一度お試しください。".into()
            }
            Self::Io(_) => "ファイルの書き込みに失敗しました。管理者に連絡してください。".into(),
            Self::Validation(fields) => format!("入力内容に誤りがあります（{}件）。", fields.len()),
            Self::Unauthenticated(m)
            | Self::Forbidden(m)
            | Self::Rule(m)
            | Self::SelfApproval(m)
            | Self::ProposalExpired(m)
            | Self::ProposalAltered(m) => m.clone(),
            Self::KeyUnavailable(m) | Self::Token { message: m, .. } => m.clone(),
            Self::Internal(_) => {
                "システムエラーが発生しました。サポートセンターに連絡してください。".into()
            }
        }
    }
}

impl From<PkiError> for AppError {
    fn from(e: PkiError) -> Self {
        match e {
            PkiError::Lint(l) => Self::Lint(l),
            PkiError::BadInput(m) => Self::BadInput(m),
            PkiError::WrongPassphrase => Self::Passphrase(e.to_string()),
            PkiError::KeyUnavailable(m) => Self::KeyUnavailable(m),
            other => Self::Internal(other.to_string()),
        }
    }
}

impl From<StoreError> for AppError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Unavailable { .. } | StoreError::UnsupportedUrl(_) => {
                Self::Unavailable(e.to_string())
            }
            StoreError::Conflict(m) => Self::Conflict(m),
            StoreError::NotFound(m) => Self::NotFound(m),
            StoreError::Refused(m) => Self::Rule(m),
            StoreError::Db(ref d) if is_connection_error(d) => Self::Unavailable(e.to_string()),
            other => Self::Internal(other.to_string()),
        }
    }
}

fn is_connection_error(e: &sqlx::Error) -> bool {
    matches!(
        e,
        sqlx::Error::Io(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::Tls(_)
    )
}

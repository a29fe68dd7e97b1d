//! `kmn card …`: cards on PKCS#11 tokens (第7–9・15条) — personalization (one card or a
//! batch, one token per slot), delivery (shipping, receipt, handover, loss in the post),
//! PIN mailers, PIN change and unlock, inspection and destruction. Answers in Japanese;
//! `--json` for machines. PINs never come from arguments: files, standard input when it
//! is not a terminal, or the reader's PIN pad.

use std::io::{BufRead, IsTerminal};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Subcommand;
use kmn_app::ra::delivery::{CardView, ReceiptChannel};
use kmn_app::rights::CaAdmin;
use kmn_app::station::personalization::{MailerOut, TokenRef, token_err};
use kmn_app::{App, AppError};
use kmn_token::SecretPin;
use serde_json::json;

use crate::ops::{Out, fail, jst, open, print};
use crate::tri;

#[derive(Subcommand, Debug)]
pub enum CardCommand {
    /// 承認済みの申請の利用者カードを発行する（カードの初期化・カード内での鍵生成・
    /// 証明書の書込み）。PIN通知書（PDF）は施設の受領確認まで保留されます。
    Personalize {
        /// カードリーダー（PKCS#11 モジュール）のパス
        #[arg(long)]
        module: PathBuf,
        /// トークンのラベル（省略時はスロット番号、どちらも省略時はリーダーの唯一の未発行のカード）
        #[arg(long)]
        token_label: Option<String>,
        /// スロット番号
        #[arg(long)]
        slot: Option<u64>,
        /// 申請番号
        #[arg(long)]
        application: String,
        /// 鍵の種類: rsa2048（既定）または p256
        #[arg(long, default_value = "rsa2048")]
        key: String,
        /// PIN通知書の保存先（既定: <data-dir>/mailers、アクセス権 0700）
        #[arg(long)]
        mailer_dir: Option<PathBuf>,
        /// 発行端末として接続するサーバー（例 https://ca.example.jp:8443）。省略時はこの
        /// データディレクトリで直接発行します
        #[arg(long, requires_all = ["cert", "key_file", "server_ca"])]
        server: Option<String>,
        /// 発行端末アカウントの証明書（PEM、チェーン可）
        #[arg(long)]
        cert: Option<PathBuf>,
        /// 発行端末アカウントの秘密鍵（PEM PKCS#8）
        #[arg(long)]
        key_file: Option<PathBuf>,
        /// サーバーの TLS 証明書を発行したルート証明書（PEM）
        #[arg(long)]
        server_ca: Option<PathBuf>,
    },
    /// 承認済みの申請をまとめて発行する（リーダーのカード1枚ごとに1件、古い申請から）
    PersonalizeBatch {
        /// カードリーダー（PKCS#11 モジュール）のパス
        #[arg(long)]
        module: PathBuf,
        /// 発行する申請番号（カンマ区切り。省略時は承認済みの申請を古い順に）
        #[arg(long, value_delimiter = ',')]
        applications: Vec<String>,
        /// 鍵の種類: rsa2048（既定）または p256
        #[arg(long, default_value = "rsa2048")]
        key: String,
        /// PIN通知書の保存先（既定: <data-dir>/mailers）
        #[arg(long)]
        mailer_dir: Option<PathBuf>,
        /// 進捗バーを表示しない
        #[arg(long)]
        no_progress: bool,
    },
    /// カードの内容（シリアル、オブジェクト、証明書と認証局での状態）を表示する
    Inspect {
        /// カードリーダー（PKCS#11 モジュール）のパス
        #[arg(long)]
        module: PathBuf,
        /// トークンのラベル（省略時はスロット番号、どちらも省略時はリーダーの唯一の初期化済みのカード）
        #[arg(long)]
        token_label: Option<String>,
        /// スロット番号
        #[arg(long)]
        slot: Option<u64>,
    },
    /// 利用者カードの一覧（閲覧はアクセスログに記録されます）
    List {
        /// 施設コードで絞り込む
        #[arg(long)]
        facility: Option<String>,
        /// 利用者IDで絞り込む
        #[arg(long)]
        holder: Option<String>,
        /// 表示する最大件数
        #[arg(long, default_value_t = 200)]
        limit: i64,
    },
    /// 利用者カードの記録（状態、発送・受領・交付、PIN通知書）を表示する
    Show {
        /// カード番号（C…）
        card: String,
    },
    /// 発送を記録する（利用規約第7条）
    Ship {
        /// カード番号（C…）
        card: String,
        /// 発送方法（例: 簡易書留）
        #[arg(long)]
        method: String,
        /// 追跡番号
        #[arg(long)]
        tracking: Option<String>,
    },
    /// 施設からの受領の連絡（書面・電話）を記録する（第8条）。PIN通知書が発送可能になります
    Receipt {
        /// カード番号（C…）
        card: String,
        /// paper（受領書）または phone（電話）
        #[arg(long)]
        channel: String,
        /// 記録（連絡をくれた方の氏名、受領書の番号など）
        #[arg(long)]
        note: String,
    },
    /// 利用者本人への交付を記録する（第8条）
    Handover {
        /// カード番号（C…）
        card: String,
        /// 受け取った利用者本人の氏名
        #[arg(long)]
        to: String,
        /// 交付した日時（RFC 3339、例 2026-11-26T10:00:00+09:00。省略時は現在）
        #[arg(long)]
        at: Option<String>,
    },
    /// 電話で受けた緊急失効（利用規約第11条）: 証明書をただちに失効させて CRL を公開し、
    /// 運用責任者の事後確認に回します。電話をかけてきた方・折り返し番号・本人確認の方法を記録します
    EmergencyRevoke {
        /// カード番号（PIN通知書のカード番号、例 C00000002。大文字小文字とハイフンは区別しません）
        card: String,
        /// lost（紛失）、stolen（盗難）、feared_misuse（不正使用のおそれ）
        #[arg(long)]
        reason: String,
        /// 電話をかけてきた方（氏名と利用者との関係）
        #[arg(long)]
        caller: String,
        /// 折り返しの電話番号
        #[arg(long)]
        callback: String,
        /// 本人確認の方法（確認した事項）
        #[arg(long)]
        identity_check: String,
        /// 最後に安全が確認できた日時（RFC 3339、例 2026-12-07T09:00:00+09:00）
        #[arg(long)]
        last_known_safe: Option<String>,
        /// 電話を受けた日時（RFC 3339、省略時は今）
        #[arg(long)]
        received_at: Option<String>,
        /// 状況の説明
        #[arg(long, default_value = "")]
        note: String,
    },
    /// 配送中の紛失を記録する: 証明書を失効（keyCompromise）し、PIN通知書を廃棄します
    LostInPost {
        /// カード番号（C…）
        card: String,
        /// 紛失の状況（配送業者の回答など）
        #[arg(long)]
        note: String,
    },
    /// 利用を一時停止する: 証明書を保留（certificateHold）にし、直ちにCRLに掲載します
    Suspend {
        /// カード番号（C…）
        card: String,
        /// 理由
        #[arg(long)]
        reason: String,
    },
    /// 一時停止を解除する: 証明書の保留を解除します
    Resume {
        /// カード番号（C…）
        card: String,
        /// 理由
        #[arg(long)]
        reason: String,
    },
    /// カードの返却を記録する（第15条）。返却後に廃棄できます
    Returned {
        /// カード番号（C…）
        card: String,
        /// 記録（返送の方法など）
        #[arg(long, default_value = "")]
        note: String,
    },
    /// 返却されたカードを廃棄する（第15条）: リーダーにあればカードを消去してから記録します
    Destroy {
        /// カード番号（C…）
        card: String,
        /// カードリーダー（PKCS#11 モジュール）のパス（カードを差して消去するとき）
        #[arg(long)]
        module: Option<PathBuf>,
        /// トークンのラベル（省略時はスロット番号、どちらも省略時はリーダーの唯一の初期化済みのカード）
        #[arg(long)]
        token_label: Option<String>,
        /// スロット番号
        #[arg(long)]
        slot: Option<u64>,
    },
    /// PIN通知書の一覧（held: 受領待ち、released: 発送可能、dispatched: 発送済み、destroyed: 廃棄）
    Mailers {
        /// 状態で絞り込む: held、released、dispatched、destroyed
        #[arg(long)]
        state: Option<String>,
    },
    /// PIN通知書の発送を記録する
    MailerDispatched {
        /// PIN通知書の番号（M…）
        mailer: String,
    },
    /// PINを変更する（利用者本人、第9条）。PINは --pin-file/--new-pin-file、
    /// 標準入力の1行目（現在のPIN）と2行目（新しいPIN）、またはPINパッド付きリーダーでは
    /// パッドから入力します
    ChangePin {
        /// カードリーダー（PKCS#11 モジュール）のパス
        #[arg(long)]
        module: PathBuf,
        /// トークンのラベル（省略時はスロット番号、どちらも省略時はリーダーの唯一の初期化済みのカード）
        #[arg(long)]
        token_label: Option<String>,
        /// スロット番号
        #[arg(long)]
        slot: Option<u64>,
        /// 現在のPINを記したファイル
        #[arg(long)]
        pin_file: Option<PathBuf>,
        /// 新しいPINを記したファイル
        #[arg(long)]
        new_pin_file: Option<PathBuf>,
    },
    /// ロックされたカードのPINを再設定する（サポートセンター、本人確認の後。第9条）。
    /// 新しいPIN通知書を作成します
    Unlock {
        /// カードリーダー（PKCS#11 モジュール）のパス
        #[arg(long)]
        module: PathBuf,
        /// トークンのラベル（省略時はスロット番号、どちらも省略時はリーダーの唯一の初期化済みのカード）
        #[arg(long)]
        token_label: Option<String>,
        /// スロット番号
        #[arg(long)]
        slot: Option<u64>,
        /// 本人確認の内容（確認した書類、担当者）。監査ログに記録されます
        #[arg(long)]
        identity_check: String,
        /// PIN通知書の保存先（既定: <data-dir>/mailers）
        #[arg(long)]
        mailer_dir: Option<PathBuf>,
    },
}

pub(crate) fn key_alg(key: &str) -> Result<kmn_token::CardKeyAlg, AppError> {
    match key {
        "rsa2048" => Ok(kmn_token::CardKeyAlg::Rsa2048),
        "p256" => Ok(kmn_token::CardKeyAlg::P256),
        other => Err(AppError::BadInput(format!(
            "鍵の種類 '{other}' は使えません（rsa2048, p256）"
        ))),
    }
}

/// The font (checked before any card is touched) and the mailer directory.
pub(crate) fn mailer_setup(
    data_dir: &Path,
    dir: &Option<PathBuf>,
) -> Result<(kmn_letters::Font, PathBuf), AppError> {
    let font = kmn_letters::Font::load_default().map_err(|e| AppError::Config(e.to_string()))?;
    let dir = dir.clone().unwrap_or_else(|| data_dir.join("mailers"));
    kmn_app::secrets::ensure_dir(&dir, 0o700)?;
    Ok((font, dir))
}

/// Reads a PIN from a file (first line, trailing newline removed).
pub(crate) fn pin_from_file(path: &Path, what: &str) -> Result<SecretPin, AppError> {
    refuse_shared_secret_file(path, what)?;
    let text = zeroize::Zeroizing::new(std::fs::read_to_string(path).map_err(|e| {
        AppError::BadInput(format!(
            "{what}のファイル {} を読めません: {e}",
            path.display()
        ))
    })?);
    let line = text.lines().next().unwrap_or("").trim_end_matches('\r');
    if line.is_empty() {
        return Err(AppError::BadInput(format!(
            "{what}のファイル {} が空です",
            path.display()
        )));
    }
    Ok(SecretPin::new(line))
}

/// Refuses a PIN or key file that its group or others may read or write (as `ssh`
/// refuses such a key file; issue 8 item 11): the PIN would be readable by anyone on
/// the station.
fn refuse_shared_secret_file(path: &Path, what: &str) -> Result<(), AppError> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path)
        .map_err(|e| {
            AppError::BadInput(format!(
                "{what}のファイル {} を読めません: {e}",
                path.display()
            ))
        })?
        .permissions()
        .mode()
        & 0o777;
    if mode & 0o077 != 0 {
        return Err(AppError::BadInput(format!(
            "{what}のファイル {} は他の利用者からも読み書きできる設定です（モード {mode:04o}）。`chmod 600 {}` で所有者だけが読めるようにしてから、もう一度実行してください",
            path.display(),
            path.display()
        )));
    }
    Ok(())
}

/// One PIN from standard input: the first line of a pipe, or typed at a terminal without
/// echo (`stty -echo` while it is read).
pub(crate) fn pin_from_stdin_line() -> Result<SecretPin, AppError> {
    let stdin = std::io::stdin();
    let tty = stdin.is_terminal();
    let stty = |arg: &str| {
        std::process::Command::new("stty")
            .arg(arg)
            .stdin(std::process::Stdio::inherit())
            .status()
            .is_ok_and(|s| s.success())
    };
    if tty {
        eprint!("担当者ICカードの PIN: ");
        let _ = std::io::Write::flush(&mut std::io::stderr());
        if !stty("-echo") {
            return Err(AppError::BadInput(
                "PIN を表示せずに入力できません。--pin-file で PIN のファイルを指定してください"
                    .into(),
            ));
        }
    }
    let mut line = zeroize::Zeroizing::new(String::new());
    let r = stdin.lock().read_line(&mut line);
    if tty {
        stty("echo");
        eprintln!();
    }
    r.map_err(|e| AppError::BadInput(format!("標準入力を読めません: {e}")))?;
    let pin = line.trim_end_matches(['\r', '\n']);
    if pin.is_empty() {
        return Err(AppError::BadInput(
            "PIN がありません（--pin-file か標準入力の1行目で渡してください）".into(),
        ));
    }
    Ok(SecretPin::new(pin))
}

/// PINs for `change-pin`: from the files given, otherwise from standard input when it
/// is not a terminal (line 1 the current PIN, line 2 the new one).
fn change_pin_inputs(
    pin_file: &Option<PathBuf>,
    new_pin_file: &Option<PathBuf>,
) -> Result<(SecretPin, SecretPin), AppError> {
    let mut stdin_lines: Option<Vec<zeroize::Zeroizing<String>>> = None;
    let mut from_stdin = |n: usize| -> Result<SecretPin, AppError> {
        if stdin_lines.is_none() {
            let stdin = std::io::stdin();
            if stdin.is_terminal() {
                return Err(AppError::BadInput(
                    "PINはコマンドの引数では受け付けません。--pin-file と --new-pin-file を指定するか、標準入力から渡してください（1行目: 現在のPIN、2行目: 新しいPIN）".into(),
                ));
            }
            let mut v = Vec::new();
            for l in stdin.lock().lines().take(2) {
                let l = l.map_err(|e| AppError::BadInput(format!("標準入力を読めません: {e}")))?;
                v.push(zeroize::Zeroizing::new(
                    l.trim_end_matches('\r').to_string(),
                ));
            }
            stdin_lines = Some(v);
        }
        let lines = stdin_lines.as_deref().unwrap_or(&[]);
        match lines.get(n) {
            Some(l) if !l.is_empty() => Ok(SecretPin::new(l.as_str())),
            _ => Err(AppError::BadInput(if n == 0 {
                "標準入力の1行目に現在のPINがありません".into()
            } else {
                "標準入力の2行目に新しいPINがありません".into()
            })),
        }
    };
    let old = match pin_file {
        Some(p) => pin_from_file(p, "現在のPIN")?,
        None => from_stdin(0)?,
    };
    let new = match new_pin_file {
        Some(p) => pin_from_file(p, "新しいPIN")?,
        None => from_stdin(if pin_file.is_some() { 0 } else { 1 })?,
    };
    Ok((old, new))
}

fn card_text(v: &CardView) -> String {
    let c = &v.card;
    let st = c
        .state
        .parse::<kmn_domain::CardState>()
        .map(|x| x.label_ja())
        .unwrap_or("");
    let mut s = format!(
        "カード      {}（{}）\n利用者      {}\n施設        {}\nトークン    {}\n証明書      {}（{}）\n",
        c.id,
        st,
        c.holder_id,
        c.facility_code,
        c.token_serial.as_deref().unwrap_or("-"),
        c.cert_serial_hex.as_deref().unwrap_or("-"),
        match v.certificate_status.as_deref() {
            Some("valid") => "有効",
            // certificateHold: a suspension, or a card not yet received (hold_until_receipt).
            Some("on_hold") if c.state == "suspended" => "保留中（利用停止中）",
            Some("on_hold") => "保留中（受領確認待ち）",
            Some("revoked") => "失効",
            _ => "-",
        }
    );
    let d = &v.delivery;
    if let Some(t) = d.shipped_at {
        s.push_str(&format!(
            "発送        {}  {}{}\n",
            jst(t),
            d.shipping_method.as_deref().unwrap_or(""),
            d.tracking_number
                .as_deref()
                .map(|n| format!("（追跡番号 {n}）"))
                .unwrap_or_default()
        ));
    }
    if let Some(t) = d.received_at {
        let ch = match d.receipt_channel.as_deref() {
            Some("desk") => ReceiptChannel::Desk.label_ja(),
            Some("paper") => ReceiptChannel::Paper.label_ja(),
            Some("phone") => ReceiptChannel::Phone.label_ja(),
            _ => "",
        };
        s.push_str(&format!(
            "受領確認    {}  {ch}{}\n",
            jst(t),
            d.receipt_note
                .as_deref()
                .map(|n| format!("（{n}）"))
                .unwrap_or_default()
        ));
    }
    if let Some(t) = d.handed_over_at {
        s.push_str(&format!(
            "交付        {}  {} 様（記録 {}）\n",
            jst(t),
            d.handed_over_to.as_deref().unwrap_or(""),
            d.handed_over_by.as_deref().unwrap_or("")
        ));
    }
    if let Some(t) = d.lost_at {
        s.push_str(&format!(
            "配送中の紛失 {}  {}\n",
            jst(t),
            d.lost_note.as_deref().unwrap_or("")
        ));
    }
    for m in &v.pin_mailers {
        s.push_str(&format!(
            "PIN通知書   {}  {}  {}\n",
            m.id,
            kmn_app::ra::delivery::mailer_state_label_ja(&m.state),
            m.file_name
        ));
    }
    s
}

fn token_ref(label: &Option<String>, slot: &Option<u64>) -> TokenRef {
    TokenRef {
        label: label.clone(),
        slot: *slot,
    }
}

/// `kmn card …`: one function per subcommand. The holder's `change-pin` and a remote
/// station's `personalize --server` need no data dir; every other subcommand opens it.
pub async fn card(data_dir: &Path, admin: &CaAdmin, c: &CardCommand, out: Out) -> ExitCode {
    use CardCommand as C;
    if let C::ChangePin {
        module,
        token_label,
        slot,
        pin_file,
        new_pin_file,
    } = c
    {
        return change_pin(
            module,
            &token_ref(token_label, slot),
            pin_file,
            new_pin_file,
            out,
        );
    }
    if let C::Personalize {
        module,
        token_label,
        slot,
        application,
        key,
        mailer_dir,
        server: Some(server),
        cert: Some(cert),
        key_file: Some(key_file),
        server_ca: Some(server_ca),
    } = c
    {
        let station = Remote {
            server,
            cert,
            key_file,
            server_ca,
        };
        let token = token_ref(token_label, slot);
        return personalize_remote(
            data_dir,
            &station,
            module,
            &token,
            application,
            key,
            mailer_dir,
            out,
        )
        .await;
    }
    let app = tri!(open(data_dir).await, out);
    match c {
        C::ChangePin { .. } => unreachable!("handled above: needs no data dir"),
        C::Personalize {
            module,
            token_label,
            slot,
            application,
            key,
            mailer_dir,
            ..
        } => {
            let token = token_ref(token_label, slot);
            personalize(
                &app,
                data_dir,
                admin,
                module,
                &token,
                application,
                key,
                mailer_dir,
                out,
            )
            .await
        }
        C::PersonalizeBatch {
            module,
            applications,
            key,
            mailer_dir,
            no_progress,
        } => {
            personalize_batch(
                &app,
                data_dir,
                admin,
                module,
                applications,
                key,
                mailer_dir,
                *no_progress,
                out,
            )
            .await
        }
        C::Inspect {
            module,
            token_label,
            slot,
        } => inspect(&app, module, &token_ref(token_label, slot), out).await,
        C::Show { card } => show(&app, admin, card, out).await,
        C::List {
            facility,
            holder,
            limit,
        } => {
            list(
                &app,
                admin,
                facility.as_deref(),
                holder.as_deref(),
                *limit,
                out,
            )
            .await
        }
        C::Ship {
            card,
            method,
            tracking,
        } => ship(&app, admin, card, method, tracking.as_deref(), out).await,
        C::Receipt {
            card,
            channel,
            note,
        } => receipt(&app, admin, card, channel, note, out).await,
        C::Handover { card, to, at } => handover(&app, admin, card, to, at.as_deref(), out).await,
        C::LostInPost { card, note } => lost_in_post(&app, admin, card, note, out).await,
        C::EmergencyRevoke {
            card,
            reason,
            caller,
            callback,
            identity_check,
            last_known_safe,
            received_at,
            note,
        } => {
            let call = kmn_app::ra::emergency::PhoneCall {
                caller: caller.clone(),
                callback: callback.clone(),
                identity_check: identity_check.clone(),
                received_at: tri!(rfc3339_opt("--received-at", received_at.as_deref()), out),
            };
            emergency_revoke(
                &app,
                admin,
                card,
                reason,
                last_known_safe.as_deref(),
                note,
                &call,
                out,
            )
            .await
        }
        C::Destroy {
            card,
            module,
            token_label,
            slot,
        } => {
            destroy(
                &app,
                admin,
                card,
                module.as_deref(),
                &token_ref(token_label, slot),
                out,
            )
            .await
        }
        C::Suspend { card, reason } => {
            suspend_or_resume(&app, admin, card, true, reason, out).await
        }
        C::Resume { card, reason } => {
            suspend_or_resume(&app, admin, card, false, reason, out).await
        }
        C::Returned { card, note } => returned(&app, admin, card, note, out).await,
        C::Mailers { state } => mailers(&app, admin, state.as_deref(), out).await,
        C::MailerDispatched { mailer } => mailer_dispatched(&app, admin, mailer, out).await,
        C::Unlock {
            module,
            token_label,
            slot,
            identity_check,
            mailer_dir,
        } => {
            let token = token_ref(token_label, slot);
            unlock(
                &app,
                data_dir,
                admin,
                module,
                &token,
                identity_check,
                mailer_dir,
                out,
            )
            .await
        }
    }
}

/// The center's station endpoints, for `personalize --server`.
struct Remote<'a> {
    server: &'a str,
    cert: &'a Path,
    key_file: &'a Path,
    server_ca: &'a Path,
}

/// `kmn card personalize --server …`: a station without the data dir.
#[allow(clippy::too_many_arguments)]
async fn personalize_remote(
    data_dir: &Path,
    station: &Remote<'_>,
    module: &Path,
    token: &TokenRef,
    application: &str,
    key: &str,
    mailer_dir: &Option<PathBuf>,
    out: Out,
) -> ExitCode {
    let alg = tri!(key_alg(key), out);
    let (font, dir) = tri!(mailer_setup(data_dir, mailer_dir), out);
    let mailer = MailerOut { font: &font, dir };
    let center = tri!(
        crate::api_client::ApiClient::new(
            station.server,
            station.cert,
            station.key_file,
            station.server_ca
        ),
        out
    );
    let p = tri!(
        kmn_app::station::personalization::personalize_with(
            &center,
            module,
            token,
            application,
            alg,
            &mailer
        )
        .await,
        out
    );
    personalized(out, application, &p)
}

/// `kmn card personalize`: a station on the server itself.
#[allow(clippy::too_many_arguments)]
async fn personalize(
    app: &App,
    data_dir: &Path,
    admin: &CaAdmin,
    module: &Path,
    token: &TokenRef,
    application: &str,
    key: &str,
    mailer_dir: &Option<PathBuf>,
    out: Out,
) -> ExitCode {
    let alg = tri!(key_alg(key), out);
    let (font, dir) = tri!(mailer_setup(data_dir, mailer_dir), out);
    let mailer = MailerOut { font: &font, dir };
    let p = tri!(
        kmn_app::station::personalization::personalize(
            app,
            admin,
            module,
            token,
            application,
            alg,
            &mailer
        )
        .await,
        out
    );
    personalized(out, application, &p)
}

/// `kmn card personalize-batch`.
#[allow(clippy::too_many_arguments)]
async fn personalize_batch(
    app: &App,
    data_dir: &Path,
    admin: &CaAdmin,
    module: &Path,
    applications: &[String],
    key: &str,
    mailer_dir: &Option<PathBuf>,
    no_progress: bool,
    out: Out,
) -> ExitCode {
    let alg = tri!(key_alg(key), out);
    let (font, dir) = tri!(mailer_setup(data_dir, mailer_dir), out);
    let mailer = MailerOut { font: &font, dir };
    batch(
        app,
        admin,
        module,
        applications,
        alg,
        &mailer,
        !no_progress && !out.json,
        out,
    )
    .await
}

/// `kmn card show`.
async fn show(app: &App, admin: &CaAdmin, card: &str, out: Out) -> ExitCode {
    let v = tri!(
        kmn_app::ra::delivery::view(app, &admin.reader(), card).await,
        out
    );
    print(out, json!(v), || card_text(&v))
}

/// `kmn card list`.
async fn list(
    app: &App,
    admin: &CaAdmin,
    facility: Option<&str>,
    holder: Option<&str>,
    limit: i64,
    out: Out,
) -> ExitCode {
    let v = tri!(
        kmn_app::ra::delivery::list(
            app,
            &admin.reader(),
            facility,
            holder,
            None,
            limit.clamp(1, 10_000)
        )
        .await,
        out
    );
    print(out, json!(v), || {
        let mut s = String::from("カード番号  状態            利用者      施設        有効期限\n");
        for c in &v {
            let st = c
                .state
                .parse::<kmn_domain::CardState>()
                .map(|x| x.label_ja())
                .unwrap_or("");
            s.push_str(&format!(
                "{}  {}  {}  {}  {}\n",
                c.id,
                pad(st, 14),
                c.holder_id,
                c.facility_code,
                c.not_after
                    .and_then(|t| time::OffsetDateTime::from_unix_timestamp(t).ok())
                    .map(kmn_domain::time_fmt::ja_date)
                    .unwrap_or_else(|| "-".into())
            ));
        }
        s.push_str(&format!("{}件", v.len()));
        s
    })
}

/// `s` padded with spaces to `width` columns (a full-width character is two).
pub(crate) fn pad(s: &str, width: usize) -> String {
    let w: usize = s.chars().map(|c| if c.is_ascii() { 1 } else { 2 }).sum();
    format!("{s}{}", " ".repeat(width.saturating_sub(w)))
}

/// `kmn card ship`.
async fn ship(
    app: &App,
    admin: &CaAdmin,
    card: &str,
    method: &str,
    tracking: Option<&str>,
    out: Out,
) -> ExitCode {
    let v = tri!(
        kmn_app::ra::delivery::ship(app, &admin.center(), card, method, tracking).await,
        out
    );
    print(out, json!(v), || {
        format!(
            "利用者カード {card} の発送を記録しました。施設の受領確認を待っています。\n{}",
            card_text(&v)
        )
    })
}

/// `kmn card receipt`: a receipt reported by telephone or on paper.
async fn receipt(
    app: &App,
    admin: &CaAdmin,
    card: &str,
    channel: &str,
    note: &str,
    out: Out,
) -> ExitCode {
    let ch = tri!(ReceiptChannel::parse_out_of_band(channel), out);
    let v = tri!(
        kmn_app::ra::delivery::record_receipt(app, &admin.center(), card, ch, note).await,
        out
    );
    print(out, json!(v), || {
        format!(
            "利用者カード {card} の受領を記録しました。PIN通知書を発送できます。\n{}",
            card_text(&v)
        )
    })
}

/// `kmn card handover`.
async fn handover(
    app: &App,
    admin: &CaAdmin,
    card: &str,
    to: &str,
    at: Option<&str>,
    out: Out,
) -> ExitCode {
    let at = match at {
        None => None,
        Some(t) => Some(tri!(
            time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339)
                .map(|t| t.unix_timestamp())
                .map_err(|_| AppError::BadInput(format!(
                    "交付日時 '{t}' を読めません（例 2026-11-26T10:00:00+09:00）"
                ))),
            out
        )),
    };
    let v = tri!(
        kmn_app::ra::delivery::hand_over(app, &admin.registrar(), card, to, at).await,
        out
    );
    print(out, json!(v), || {
        format!(
            "利用者カード {card} の交付を記録しました。\n{}",
            card_text(&v)
        )
    })
}

/// An optional RFC 3339 time, Unix seconds.
fn rfc3339_opt(what: &str, t: Option<&str>) -> Result<Option<i64>, AppError> {
    t.map(|t| {
        time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339)
            .map(|t| t.unix_timestamp())
            .map_err(|_| {
                AppError::BadInput(format!(
                    "{what} '{t}' を読めません（例 2026-12-07T09:00:00+09:00）"
                ))
            })
    })
    .transpose()
}

/// `kmn card emergency-revoke`: the telephone path of 第11条.
#[allow(clippy::too_many_arguments)]
async fn emergency_revoke(
    app: &App,
    admin: &CaAdmin,
    card: &str,
    reason: &str,
    last_known_safe: Option<&str>,
    note: &str,
    call: &kmn_app::ra::emergency::PhoneCall,
    out: Out,
) -> ExitCode {
    let cause = tri!(
        reason.parse::<kmn_domain::EmergencyCause>().map_err(|_| AppError::BadInput(format!(
            "緊急失効の理由 '{reason}' は使えません。lost（紛失）、stolen（盗難）、feared_misuse（不正使用のおそれ）のいずれかです"
        ))),
        out
    );
    let report = kmn_app::ra::emergency::EmergencyReport {
        cause,
        last_known_safe: tri!(rfc3339_opt("--last-known-safe", last_known_safe), out),
        note: note.to_string(),
    };
    let r = tri!(
        kmn_app::ra::emergency::by_phone(app, &admin.center(), card, &report, call).await,
        out
    );
    print(out, json!(r), || {
        let mut s = format!(
            "利用者カード {} の証明書（シリアル {}）をただちに失効させました（{}、利用規約第11条）。",
            r.card.card.id, r.serial_hex, r.grounds_label,
        );
        if let Some(p) = &r.review_proposal {
            s.push_str(&format!(
                "\n電話による失効のため、運用責任者の事後確認に回しました（提案 {p}）。"
            ));
        }
        match (&r.draft_application, &r.draft_error) {
            (Some(a), _) => s.push_str(&format!(
                "\n紛失届の下書き {a} を作成しました。施設の窓口に記入と提出を依頼してください。"
            )),
            (None, Some(e)) => s.push_str(&format!("\n紛失届の下書きは作成できませんでした: {e}")),
            (None, None) => {}
        }
        if r.alert {
            s.push_str(
                "\n注意: このアカウントによる1時間以内の緊急失効が多いため、警告を記録しました。",
            );
        }
        s
    })
}

/// `kmn card lost-in-post`.
async fn lost_in_post(app: &App, admin: &CaAdmin, card: &str, note: &str, out: Out) -> ExitCode {
    let v = tri!(
        kmn_app::ra::delivery::lost_in_post(app, &admin.center(), card, note).await,
        out
    );
    print(out, json!(v), || {
        format!(
            "利用者カード {card} を配送中の紛失として記録し、証明書を失効させました（{}）。PIN通知書は廃棄しました。\n{}",
            kmn_domain::RevocationReason::KeyCompromise.label_ja(),
            card_text(&v)
        )
    })
}

/// `kmn card destroy`, wiping the card when it is in the reader.
async fn destroy(
    app: &App,
    admin: &CaAdmin,
    card: &str,
    module: Option<&Path>,
    token: &TokenRef,
    out: Out,
) -> ExitCode {
    let reader = module.map(|m| (m, token));
    let v = tri!(
        kmn_app::station::personalization::destroy(app, &admin.center(), card, reader).await,
        out
    );
    print(out, json!(v), || {
        format!(
            "利用者カード {card} を廃棄し、記録しました（利用規約第15条）。{}\n{}",
            if module.is_some() {
                "カードの内容は消去済みです。"
            } else {
                ""
            },
            card_text(&v)
        )
    })
}

/// `kmn card suspend` and `kmn card resume`.
async fn suspend_or_resume(
    app: &App,
    admin: &CaAdmin,
    card: &str,
    suspend: bool,
    reason: &str,
    out: Out,
) -> ExitCode {
    let v = tri!(
        kmn_app::ra::delivery::suspend_or_resume(app, &admin.center(), card, suspend, reason).await,
        out
    );
    print(out, json!(v), || {
        format!(
            "利用者カード {card} の{}。\n{}",
            if suspend {
                "利用を停止しました（証明書は保留となり、CRLに掲載されます）"
            } else {
                "利用停止を解除しました"
            },
            card_text(&v)
        )
    })
}

/// `kmn card returned`.
async fn returned(app: &App, admin: &CaAdmin, card: &str, note: &str, out: Out) -> ExitCode {
    let v = tri!(
        kmn_app::ra::delivery::record_return(app, &admin.center(), card, note).await,
        out
    );
    print(out, json!(v), || {
        format!(
            "利用者カード {card} の返却を記録しました。`kmn card destroy {card}` で廃棄してください。\n{}",
            card_text(&v)
        )
    })
}

/// `kmn card mailers`.
async fn mailers(app: &App, admin: &CaAdmin, state: Option<&str>, out: Out) -> ExitCode {
    let list = tri!(
        kmn_app::ra::delivery::list_mailers(app, &admin.center(), state).await,
        out
    );
    print(out, json!(list), || {
        if list.is_empty() {
            return "該当するPIN通知書はありません".into();
        }
        let mut s = String::new();
        for m in &list {
            s.push_str(&format!(
                "{}  カード {}  {}  {}  {}\n",
                m.id,
                m.card_id,
                kmn_app::ra::delivery::mailer_state_label_ja(&m.state),
                jst(m.created_at),
                m.file_name
            ));
        }
        s
    })
}

/// `kmn card mailer-dispatched`.
async fn mailer_dispatched(app: &App, admin: &CaAdmin, mailer: &str, out: Out) -> ExitCode {
    let m = tri!(
        kmn_app::ra::delivery::mailer_dispatched(app, &admin.center(), mailer).await,
        out
    );
    print(out, json!(m), || {
        format!(
            "PIN通知書 {} の発送を記録しました（カード {}）",
            m.id, m.card_id
        )
    })
}

/// `kmn card unlock`: a new PIN and emergency code after the holder's identity was checked.
#[allow(clippy::too_many_arguments)]
async fn unlock(
    app: &App,
    data_dir: &Path,
    admin: &CaAdmin,
    module: &Path,
    token: &TokenRef,
    identity_check: &str,
    mailer_dir: &Option<PathBuf>,
    out: Out,
) -> ExitCode {
    let (font, dir) = tri!(mailer_setup(data_dir, mailer_dir), out);
    let mailer = MailerOut { font: &font, dir };
    let u = tri!(
        kmn_app::station::personalization::unlock(
            app,
            &admin.center(),
            module,
            token,
            identity_check,
            &mailer
        )
        .await,
        out
    );
    print(
        out,
        json!({"card": u.card, "pin_mailer": u.mailer_path, "pin_mailer_id": u.mailer_id}),
        || {
            format!(
                "利用者カード {} のPINを再設定しました。新しいPIN通知書: {}（{}）\n緊急失効コードも新しくなりました。",
                u.card.id,
                u.mailer_path.display(),
                u.mailer_id
            )
        },
    )
}

fn personalized(
    out: Out,
    application: &str,
    p: &kmn_app::station::personalization::Personalized,
) -> ExitCode {
    print(
        out,
        json!({"card": p.card, "application": p.application, "token_serial": p.token_serial, "pin_mailer": p.mailer_path}),
        || {
            format!(
                "利用者カード {} を発行しました（申請 {application}、トークン {}）。\nPIN通知書: {}\nPIN通知書は施設の受領確認まで保留し、確認の後に発送してください（利用規約第8条）。",
                p.card_id,
                p.token_serial,
                p.mailer_path.display()
            )
        },
    )
}

fn change_pin(
    module: &Path,
    token: &TokenRef,
    pin_file: &Option<PathBuf>,
    new_pin_file: &Option<PathBuf>,
    out: Out,
) -> ExitCode {
    let m = tri!(kmn_token::Module::load(module).map_err(token_err), out);
    let slot = tri!(
        m.find_token(token.label.as_deref(), token.slot, kmn_token::Wanted::Card)
            .map_err(token_err),
        out
    );
    // No PIN given and none on standard input: a reader with a PIN pad takes them there.
    if pin_file.is_none()
        && new_pin_file.is_none()
        && std::io::stdin().is_terminal()
        && kmn_token::has_pin_pad(&m, slot).unwrap_or(false)
    {
        eprintln!("カードリーダーのPINパッドで、現在のPINと新しいPINを入力してください。");
        let session = tri!(
            kmn_token::CardSession::open(&m, slot).map_err(token_err),
            out
        );
        tri!(
            kmn_token::change_pin_on_pin_pad(&session).map_err(token_err),
            out
        );
        return print(out, json!({"changed": true, "pin_pad": true}), || {
            "PINを変更しました。".into()
        });
    }
    let (old, new) = tri!(change_pin_inputs(pin_file, new_pin_file), out);
    if old.expose() == new.expose() {
        return fail(
            &AppError::BadInput("新しいPINが現在のPINと同じです".into()),
            out,
        );
    }
    let session = tri!(
        kmn_token::CardSession::open(&m, slot).map_err(token_err),
        out
    );
    tri!(
        kmn_token::change_pin(&session, &old, &new).map_err(token_err),
        out
    );
    print(out, json!({"changed": true}), || {
        "PINを変更しました。新しいPINは他人に知られないよう管理してください（利用規約第9条）。"
            .into()
    })
}

async fn inspect(app: &App, module: &Path, token: &TokenRef, out: Out) -> ExitCode {
    let i = tri!(
        kmn_app::station::personalization::inspect(app, module, token).await,
        out
    );
    let objects: Vec<_> = i
        .token
        .objects
        .iter()
        .map(|o| json!({"class": o.class, "label": o.label, "id": hex::encode(&o.id), "key_type": o.key_type, "sensitive": o.sensitive, "extractable": o.extractable, "local": o.local}))
        .collect();
    let certs: Vec<_> = i
        .certificates
        .iter()
        .map(|(s, sub, na, st)| json!({"serial": s, "subject": sub, "not_after": na, "status": st}))
        .collect();
    print(
        out,
        json!({"serial": i.token.serial, "label": i.token.label, "pin_locked": i.token.flags.user_pin_locked, "objects": objects, "certificates": certs, "card": i.card}),
        || {
            let mut s = format!(
                "トークン    {}（{}）\nPIN         {}\n",
                i.token.serial,
                i.token.label,
                if i.token.flags.user_pin_locked {
                    "ロック中（サポートセンターでロック解除が必要です）"
                } else {
                    "利用可能"
                }
            );
            if let Some(c) = &i.card {
                let st = c
                    .state
                    .parse::<kmn_domain::CardState>()
                    .map(|x| x.label_ja())
                    .unwrap_or("");
                s.push_str(&format!(
                    "カード      {}（{}、利用者 {}、施設 {}）\n",
                    c.id, st, c.holder_id, c.facility_code
                ));
            }
            for o in &i.token.objects {
                let class = match o.class.as_str() {
                    "private_key" => "秘密鍵",
                    "public_key" => "公開鍵",
                    "certificate" => "証明書",
                    "secret_key" => "共通鍵",
                    "data" => "データ",
                    other => other,
                };
                s.push_str(&format!("オブジェクト {class}  {}\n", o.label));
            }
            for (serial, subject, not_after, status) in &i.certificates {
                let status = match status.as_str() {
                    "expired" => "期限切れ",
                    "unknown" => "この認証局の発行ではありません",
                    other => kmn_domain::CertStatus::from_db(other)
                        .map(|x| x.label_ja())
                        .unwrap_or(other),
                };
                s.push_str(&format!(
                    "証明書      {serial}  {subject}  有効期限 {}  状態 {status}\n",
                    jst(*not_after)
                ));
            }
            s
        },
    )
}

/// `personalize-batch`: pairs each token on the reader(s) with an approved application
/// (oldest first, or the ones named), personalizes them one by one with a progress bar,
/// and prints a summary. A failed card is wiped and reported; the batch goes on.
#[allow(clippy::too_many_arguments)]
async fn batch(
    app: &App,
    admin: &CaAdmin,
    module: &Path,
    named: &[String],
    alg: kmn_token::CardKeyAlg,
    mailer: &MailerOut<'_>,
    progress: bool,
    out: Out,
) -> ExitCode {
    let m = tri!(kmn_token::Module::load(module).map_err(token_err), out);
    // Blank cards only (uninitialised, or wiped back to blank): a card in use left on
    // the reader is never initialised again, nor offered a guessed SO PIN.
    let all = tri!(m.slots_with_tokens().map_err(token_err), out);
    drop(m);
    let slots: Vec<_> = all.iter().filter(|s| s.is_blank()).collect();
    if slots.is_empty() {
        return fail(
            &AppError::BadInput(if all.is_empty() {
                "リーダーにカードがありません".into()
            } else {
                format!(
                    "リーダーに未発行のカード（未初期化、またはラベル「{}」）がありません。リーダーにあるのは {}",
                    kmn_token::BLANK_LABEL,
                    all.iter()
                        .map(kmn_token::SlotInfo::describe_ja)
                        .collect::<Vec<_>>()
                        .join("、")
                )
            }),
            out,
        );
    }
    // Every approved application, not only as many as there are cards: those left over
    // are reported (カードが足りない) rather than silently waiting for the next batch.
    let ids: Vec<String> = if named.is_empty() {
        tri!(
            kmn_app::ra::applications::approved_for_issue(app, &admin.center(), i64::MAX).await,
            out
        )
    } else {
        named.to_vec()
    };
    if ids.is_empty() {
        return fail(
            &AppError::BadInput("発行できる承認済みの申請がありません".into()),
            out,
        );
    }
    let n = ids.len().min(slots.len());
    let bar = if progress {
        let b = indicatif::ProgressBar::new(n as u64);
        b.set_style(
            indicatif::ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} 枚  {msg}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        b
    } else {
        indicatif::ProgressBar::hidden()
    };
    let mut done = Vec::new();
    let mut failed = Vec::new();
    let mut token_total = std::time::Duration::ZERO;
    let mut pdf_total = std::time::Duration::ZERO;
    let mut all_total = std::time::Duration::ZERO;
    let started = std::time::Instant::now();
    for (slot, id) in slots.iter().zip(ids.iter()).take(n) {
        bar.set_message(format!("申請 {id}（スロット {}）", slot.slot_id));
        let token = TokenRef {
            label: None,
            slot: Some(slot.slot_id),
        };
        match kmn_app::station::personalization::personalize(
            app, admin, module, &token, id, alg, mailer,
        )
        .await
        {
            Ok(p) => {
                token_total += p.timings.token;
                pdf_total += p.timings.pdf;
                all_total += p.timings.total;
                done.push(json!({"application": id, "card": p.card_id, "token_serial": p.token_serial, "pin_mailer": p.mailer_path,
                    "token_ms": p.timings.token.as_secs_f64() * 1e3, "pdf_ms": p.timings.pdf.as_secs_f64() * 1e3, "total_ms": p.timings.total.as_secs_f64() * 1e3}));
            }
            Err(e) => {
                bar.println(format!("申請 {id}: {} ({})", e.message_ja(), e.code()));
                failed.push(
                    json!({"application": id, "slot": slot.slot_id, "error": e.message_ja(), "code": e.code()}),
                );
            }
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    let elapsed = started.elapsed();
    let rest = all_total.saturating_sub(token_total + pdf_total);
    let ok = failed.is_empty();
    let code = print(
        out,
        json!({"personalized": done, "failed": failed, "not_issued": &ids[n..], "elapsed_s": elapsed.as_secs_f64(),
            "token_s": token_total.as_secs_f64(), "pdf_s": pdf_total.as_secs_f64(), "rest_s": rest.as_secs_f64()}),
        || {
            let mut s = format!(
                "一括発行: {} 枚発行、{} 件失敗（{:.1} 秒）\n",
                done.len(),
                failed.len(),
                elapsed.as_secs_f64()
            );
            for d in &done {
                s.push_str(&format!(
                    "  発行 申請 {} → カード {}（トークン {}）\n",
                    d["application"].as_str().unwrap_or(""),
                    d["card"].as_str().unwrap_or(""),
                    d["token_serial"].as_str().unwrap_or("")
                ));
            }
            for f in &failed {
                s.push_str(&format!(
                    "  失敗 申請 {}: {} ({})\n",
                    f["application"].as_str().unwrap_or(""),
                    f["error"].as_str().unwrap_or(""),
                    f["code"].as_str().unwrap_or("")
                ));
            }
            if ids.len() > n {
                s.push_str(&format!(
                    "カードが足りないため {} 件は未発行です。カードを入れ替えて再実行してください。\n",
                    ids.len() - n
                ));
            }
            s.push_str(&format!(
                "所要時間の内訳: カード {:.1} 秒、PIN通知書 {:.1} 秒、その他 {:.1} 秒\nPIN通知書は {} に保留されています（受領確認の後に発送）。",
                token_total.as_secs_f64(),
                pdf_total.as_secs_f64(),
                rest.as_secs_f64(),
                mailer.dir.display()
            ));
            s
        },
    );
    if ok { code } else { ExitCode::from(1) }
}

//! The support center's CLI (`kmn facility|person|application|account|document`): answers
//! in Japanese with a stable code; `--json` prints machine-readable output. Runs locally
//! against the data dir as an operator.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Args, Subcommand};
use kmn_app::actor::Role;
use kmn_app::ra::{accounts, applications, documents, facilities, persons};
use kmn_app::rights::CaAdmin;
use kmn_app::{App, AppError, SystemClock};
use kmn_domain::ApplicationAction;
use serde_json::json;

pub use crate::card_cmd::{CardCommand, card};

/// Output options shared by the operator commands.
#[derive(Args, Debug, Clone, Copy)]
pub struct Out {
    /// 機械処理用の JSON を標準出力に出す（値は英字のコードのまま）
    #[arg(long, global = true, display_order = 899)]
    pub json: bool,
}

#[derive(Subcommand, Debug)]
pub enum FacilityCommand {
    /// 利用施設を登録する
    Add {
        /// 施設コード（10桁の医療機関コードまたは介護保険事業所番号。医療機関コードは検証番号まで確認します）
        #[arg(long)]
        code: String,
        /// 施設の種類: hospital（病院）、clinic（診療所）、dental_clinic（歯科診療所）、
        /// pharmacy（薬局）、care_facility（介護施設）、visiting_nursing（訪問看護ステーション）、other（その他）
        #[arg(long)]
        kind: String,
        /// 名称（漢字）
        #[arg(long)]
        name_kanji: String,
        /// 名称（全角カタカナ）
        #[arg(long)]
        name_kana: String,
        /// 英字名称（証明書の発行先の組織名になります）
        #[arg(long)]
        name_romaji: String,
        /// 郵便番号（例 860-0806）
        #[arg(long)]
        postal_code: String,
        /// 所在地
        #[arg(long)]
        address: String,
        /// 電話番号（例 096-000-0000。入力したとおりに表示します）
        #[arg(long)]
        phone: String,
        /// 施設の連絡先メールアドレス（お知らせの送り先）
        #[arg(long)]
        email: String,
    },
    /// 利用施設の一覧
    List,
    /// 利用施設の詳細（同意の記録を含む）
    Show {
        /// 施設コード
        code: String,
    },
    /// 施設の同意（CPS・利用規約・個人情報の取扱い）を記録する（書面で受け付けた場合など）
    Consent {
        /// 施設コード
        code: String,
        /// 文書の種類: cps（認証局運用規程）、terms（利用規約）、privacy_policy（個人情報の取扱い）
        #[arg(long)]
        kind: String,
        /// 同意した版（公開されている版、例 2.01）
        #[arg(long)]
        version: String,
        /// 同意した方の氏名
        #[arg(long)]
        given_by: String,
    },
}

#[derive(Subcommand, Debug)]
pub enum PersonCommand {
    /// 利用者を登録する（施設への所属を含む）
    Add {
        /// 所属する施設の施設コード
        #[arg(long)]
        facility: String,
        /// 氏名（漢字、姓と名の間に空白）
        #[arg(long)]
        name_kanji: String,
        /// 氏名（全角カタカナ）
        #[arg(long)]
        name_kana: String,
        /// 氏名（ローマ字、例 Hanako Yamada）
        #[arg(long)]
        name_romaji: String,
        /// 生年月日（例 1985-04-01）
        #[arg(long)]
        date_of_birth: String,
        /// 職種: nurse（看護師）、pharmacist（薬剤師）、clinical_laboratory_technician（臨床検査技師）など。
        /// 医師（doctor）は申請できません（第4条1）
        #[arg(long)]
        profession: String,
        /// 勤務先のメールアドレス
        #[arg(long)]
        email: String,
        /// ネットワークの利用を許可されている（第4条1）
        #[arg(long)]
        permitted: bool,
        /// 施設の窓口担当者（第17条）
        #[arg(long)]
        desk: bool,
        /// 免許証で資格を確認した
        #[arg(long)]
        licence_checked: bool,
    },
    /// 利用者の詳細（閲覧はアクセスログに記録されます）
    Show {
        /// 利用者ID（H…）
        holder_id: String,
    },
    /// 施設の利用者の一覧
    List {
        /// 施設コード
        #[arg(long)]
        facility: String,
    },
}

#[derive(Subcommand, Debug)]
pub enum ApplicationCommand {
    /// 申請の一覧
    List {
        /// 状態で絞り込む: draft（下書き）、submitted（申請中）、returned（差戻し）、
        /// resubmitted（再申請）、approved（承認済み）、fulfilled（完了）、rejected（却下）、withdrawn（取下げ）
        #[arg(long)]
        status: Option<String>,
        /// 施設コードで絞り込む
        #[arg(long)]
        facility: Option<String>,
        /// 種類で絞り込む: new（新規発行）、renewal（更新）、reissue（再発行）、
        /// discontinuation（利用中止）、loss_report（紛失届）、info_change（変更届）
        #[arg(long)]
        kind: Option<String>,
        /// 表示する最大件数
        #[arg(long, default_value_t = 50)]
        limit: i64,
    },
    /// 申請の詳細（審査の経過を含む）
    Show {
        /// 申請番号（A…）
        id: String,
    },
    /// 承認する（第6条1）
    Approve {
        /// 申請番号（A…）
        id: String,
    },
    /// 不備を通知して差し戻す（第6条2）。--deficiency "項目|問題点|対応" を1つ以上
    Return {
        /// 申請番号（A…）
        id: String,
        /// 不備の内容「項目|問題点|対応」（不備ごとに繰り返し指定）
        #[arg(long, required = true)]
        deficiency: Vec<String>,
    },
    /// 却下する
    Reject {
        /// 申請番号（A…）
        id: String,
        /// 却下の理由（施設に通知されます）
        #[arg(long)]
        reason: String,
    },
    /// カードを発行しない申請（利用中止・紛失届・変更届）を完了する
    Complete {
        /// 申請番号（A…）
        id: String,
    },
}

#[derive(Subcommand, Debug)]
pub enum AccountCommand {
    /// アカウントを登録する（担当者証明書、または窓口担当者の利用者カード）
    Add {
        /// 権限: operator（サポートセンター担当者）、supervisor（サポートセンター責任者）、
        /// facility_desk（利用施設窓口）、auditor（監査担当者）、station（発行端末）
        #[arg(long)]
        role: String,
        /// 表示名
        #[arg(long)]
        name: String,
        /// 証明書ファイル（PEM または DER）
        #[arg(long, conflicts_with = "holder")]
        cert: Option<PathBuf>,
        /// 窓口アカウントの施設コード
        #[arg(long)]
        facility: Option<String>,
        /// 窓口担当者の利用者ID（その方の利用中のカードの証明書で登録します）
        #[arg(long, requires = "facility")]
        holder: Option<String>,
        /// この方の人としての識別子（担当者が複数の証明書・アカウントを持つとき同じ値を指定。二者承認は人で判定します）。窓口は利用者IDが使われます
        #[arg(long)]
        person: Option<String>,
    },
    /// サポートセンター職員（運用担当者・運用責任者・監査担当者）のICカード（トークン）を
    /// 発行し、アカウントを登録する。鍵はトークン内で生成され、PIN通知書（PDF）を作成します
    Enrol {
        /// 権限: operator（サポートセンター担当者）、supervisor（サポートセンター責任者）、auditor（監査担当者）
        #[arg(long)]
        role: String,
        /// 表示名（証明書の CN にも使います）
        #[arg(long)]
        name: String,
        /// この方の人としての識別子（英数字と - _ .、28文字以内。二者承認は人で判定します）
        #[arg(long)]
        person: String,
        /// PKCS#11 モジュール（カードリーダーのドライバ、テストでは SoftHSM2）
        #[arg(long)]
        module: PathBuf,
        /// トークンのラベル（省略時はスロット番号、どちらも省略時はリーダーの唯一の未使用のトークン）
        #[arg(long)]
        token_label: Option<String>,
        /// スロット番号
        #[arg(long)]
        slot: Option<u64>,
        /// 鍵の種類: rsa2048, p256
        #[arg(long, default_value = "p256")]
        key: String,
        /// PIN通知書の出力先（省略時は <data-dir>/mailers）
        #[arg(long)]
        mailer_dir: Option<PathBuf>,
        /// 更新するアカウント（新しいトークンの登録と同時に、古いアカウントを無効にし証明書を失効させます）
        #[arg(long)]
        replaces: Option<String>,
    },
    /// アカウントの一覧（証明書、有効期限、鍵の保管場所）
    List,
    /// アカウントを無効にする
    Disable {
        /// アカウントID（U…）
        id: String,
    },
    /// アカウントを無効にし、その証明書を失効させる（トークンの紛失・退職など）。CRL をすぐに公開します
    Revoke {
        /// アカウントID（U…）
        id: String,
        /// key-compromise（紛失・盗難・漏えいのおそれ）、cessation（退職・担当終了）、affiliation-changed（異動）
        #[arg(long)]
        reason: String,
        /// 理由の説明（監査ログに残ります）
        #[arg(long)]
        comment: String,
    },
}

#[derive(Subcommand, Debug)]
pub enum NoticeCommand {
    /// 施設へのお知らせの一覧（新しい順、本文を含む。閲覧はアクセスログに記録されます）
    List {
        /// 施設コードで絞り込む
        #[arg(long)]
        facility: Option<String>,
        /// 表示する最大件数
        #[arg(long, default_value_t = 20)]
        limit: i64,
    },
}

#[derive(Subcommand, Debug)]
pub enum DocumentCommand {
    /// CPS・利用規約・個人情報の取扱いの新しい版を公開し、全施設に通知する（第2条2）
    Publish {
        /// 文書の種類: cps（認証局運用規程）、terms（利用規約）、privacy_policy（個人情報の取扱い）
        #[arg(long)]
        kind: String,
        /// 版（例 2.01）
        #[arg(long)]
        version: String,
        /// 公開する文書のファイル（PDF など）
        file: PathBuf,
    },
    /// 公開した文書の一覧（種類・版・公開日時・ファイル名。各種類の最新の版が現行版です）
    List,
}

/// `kmn public-notice`: notices on the association's home page (第24条).
#[derive(clap::Subcommand, Debug)]
pub enum PublicNoticeCommand {
    /// お知らせをリポジトリ（本会ホームページ）にただちに掲載する（第24条）
    Publish {
        /// 件名（1行、100文字以内）
        #[arg(long)]
        title: String,
        /// 本文（5000文字以内。空行で段落を分けます）
        #[arg(
            long,
            conflicts_with = "body_file",
            required_unless_present = "body_file"
        )]
        body: Option<String>,
        /// 本文を UTF-8 のテキストファイルから読む
        #[arg(long, value_name = "FILE")]
        body_file: Option<PathBuf>,
    },
    /// 掲載中と取下げ済みのお知らせの一覧（新しい順）
    List,
    /// お知らせを取り下げる（記録は残ります）
    Withdraw {
        /// お知らせの番号（例 K00000001）
        id: String,
        /// 取下げの理由
        #[arg(long)]
        reason: String,
    },
}

pub(crate) fn fail(e: &AppError, out: Out) -> ExitCode {
    let crl = after_commit_reports();
    if !crl.text.is_empty() {
        eprintln!("{}", crl.text.trim_start());
    }
    if out.json {
        let fields: Vec<_> = match e {
            AppError::Validation(f) => f
                .iter()
                .map(|f| json!({"field": f.field, "message": f.message}))
                .collect(),
            _ => vec![],
        };
        println!(
            "{}",
            json!({"code": e.code(), "message": e.message_ja(), "fields": fields})
        );
    }
    // The code ends the first line; a message of several lines (the cards to choose
    // from) continues below it.
    let message = e.message_ja();
    let (first, rest) = message.split_once('\n').unwrap_or((&message, ""));
    eprintln!("エラー: {first} ({})", e.code());
    if !rest.is_empty() {
        eprintln!("{rest}");
    }
    match e {
        AppError::Validation(f) => {
            for f in f {
                eprintln!("  - {}: {}", f.label_ja(), f.message);
            }
        }
        // The portal hides these details from desks; the CLI runs on the server, where
        // the operator (or the administrator they call) needs them.
        AppError::Config(_)
        | AppError::Passphrase(_)
        | AppError::Unavailable(_)
        | AppError::Io(_)
        | AppError::Internal(_) => eprintln!("  詳細: {e}"),
        _ => {}
    }
    ExitCode::from(1)
}

pub(crate) fn print(out: Out, v: serde_json::Value, text: impl FnOnce() -> String) -> ExitCode {
    let crl = after_commit_reports();
    if out.json {
        let mut v = v;
        if let Some(o) = v.as_object_mut()
            && !crl.published.is_empty()
        {
            o.insert("crl_published".into(), json!(crl.published));
        }
        println!("{v}");
    } else {
        println!("{}{}", text(), crl.text);
    }
    ExitCode::SUCCESS
}

/// Who the CLI acts as (set once by `cmd::run`): the CRLs the after-commit runner
/// publishes are recorded under this name.
pub(crate) static CLI_ACTOR: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// What the after-commit runner did in this process (every app the CLI opens shares it).
static AFTER_COMMIT: std::sync::LazyLock<kmn_app::effects::Reports> =
    std::sync::LazyLock::new(Default::default);

/// The after-commit runner's CRL publications since the last call, for the command's
/// output. A failure is a warning on stderr at once: the revocation stays committed.
pub(crate) struct CrlReports {
    /// `{ca, number, entries}` of each CRL published.
    pub published: Vec<serde_json::Value>,
    /// The same for people (each on its own line, Japanese), or empty.
    pub text: String,
}

pub(crate) fn after_commit_reports() -> CrlReports {
    let mut r = CrlReports {
        published: Vec::new(),
        text: String::new(),
    };
    for rep in AFTER_COMMIT.take() {
        match rep {
            kmn_app::effects::Report::CrlPublished(p) => {
                r.text.push_str(&format!(
                    "\nCRL #{}（{}）を公開しました（{}件）。",
                    p.number, p.ca_name, p.entries
                ));
                r.published
                    .push(json!({"ca": p.ca_name, "number": p.number, "entries": p.entries}));
            }
            kmn_app::effects::Report::CrlFailed { ca_names, error } => eprintln!(
                "警告: 失効は記録しましたが、CRL（{}）を公開できませんでした: {error}。`kmn serve` が動いていれば直ちに、そうでなければ起動時に公開します（または `kmn crl publish`）",
                ca_names.join("、")
            ),
        }
    }
    r
}

/// Opens the data dir with the CLI's after-commit runner: a command that revokes
/// publishes the CRL before it returns (第16条), whichever use case revoked.
pub(crate) async fn open(data_dir: &Path) -> Result<App, AppError> {
    let app = App::open(data_dir, Arc::new(SystemClock)).await?;
    kmn_app::effects::install_publisher(
        &app,
        CLI_ACTOR.get().map_or("cli", String::as_str),
        &AFTER_COMMIT,
    );
    Ok(app)
}

pub(crate) fn jst(t: i64) -> String {
    kmn_domain::time_fmt::ja_datetime(
        time::OffsetDateTime::from_unix_timestamp(t).unwrap_or(time::OffsetDateTime::UNIX_EPOCH),
    )
}

/// A time the API gives in RFC 3339, as people read it (`2026年12月8日 14:05`, JST); the
/// text itself when it is not one.
pub(crate) fn jst_rfc3339(s: &str) -> String {
    time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
        .map(kmn_domain::time_fmt::ja_datetime)
        .unwrap_or_else(|_| s.to_string())
}

/// A calendar date stored as `YYYY-MM-DD` (a date of birth, an end date), as people read
/// it (`1985年4月1日`); the text itself when it is not one.
pub(crate) fn ja_ymd(s: &str) -> String {
    let f = time::macros::format_description!("[year]-[month]-[day]");
    time::Date::parse(s.trim(), &f)
        .map(|d| format!("{}年{}月{}日", d.year(), u8::from(d.month()), d.day()))
        .unwrap_or_else(|_| s.to_string())
}

#[macro_export]
macro_rules! tri {
    ($e:expr, $out:expr) => {
        match $e {
            Ok(v) => v,
            Err(e) => return fail(&AppError::from(e), $out),
        }
    };
}

pub async fn facility(data_dir: &Path, admin: &CaAdmin, c: &FacilityCommand, out: Out) -> ExitCode {
    let app = tri!(open(data_dir).await, out);
    match c {
        FacilityCommand::Add {
            code,
            kind,
            name_kanji,
            name_kana,
            name_romaji,
            postal_code,
            address,
            phone,
            email,
        } => {
            let i = facilities::FacilityInput {
                code: code.clone(),
                kind: kind.clone(),
                name_kanji: name_kanji.clone(),
                name_kana: name_kana.clone(),
                name_romaji: name_romaji.clone(),
                postal_code: postal_code.clone(),
                address: address.clone(),
                phone: phone.clone(),
                email: email.clone(),
            };
            let f = tri!(facilities::register(&app, &admin.center(), &i).await, out);
            print(out, serde_json::to_value(&f).unwrap_or_default(), || {
                format!("施設 {} {} を登録しました。", f.code, f.name_kanji)
            })
        }
        FacilityCommand::List => {
            let v = tri!(
                facilities::list(&app, &admin.reader(), None, 10_000).await,
                out
            );
            print(out, serde_json::to_value(&v).unwrap_or_default(), || {
                let mut s = String::from("施設コード   種類        名称\n");
                for f in &v {
                    let kind = f
                        .kind
                        .parse::<kmn_domain::FacilityKind>()
                        .map(|k| k.label_ja())
                        .unwrap_or("");
                    s.push_str(&format!("{}  {:<10}  {}\n", f.code, kind, f.name_kanji));
                }
                s.push_str(&format!("{}件", v.len()));
                s
            })
        }
        FacilityCommand::Show { code } => {
            let f = tri!(facilities::get(&app, &admin.reader(), code).await, out);
            let consents = tri!(facilities::consents(&app, &admin.reader(), code).await, out);
            print(out, json!({"facility": f, "consents": consents}), || {
                let mut s = format!(
                    "施設コード  {}\n名称        {}（{}）\n英字名称    {}\n所在地      {} {}\n電話        {}\n連絡先      {}\n状態        {}\n同意:\n",
                    f.code,
                    f.name_kanji,
                    f.name_kana,
                    f.name_romaji,
                    f.postal_code_ja(),
                    f.address,
                    f.phone,
                    f.email,
                    f.status
                        .parse::<kmn_domain::FacilityStatus>()
                        .map(|s| s.label_ja())
                        .unwrap_or("")
                );
                for c in &consents {
                    s.push_str(&format!(
                        "  {} 第{}版  {}  {}\n",
                        documents::kind_label(&c.kind),
                        c.version,
                        c.given_by,
                        jst(c.given_at)
                    ));
                }
                s
            })
        }
        FacilityCommand::Consent {
            code,
            kind,
            version,
            given_by,
        } => {
            let c = tri!(
                facilities::consent(&app, &admin.registrar(), code, kind, version, given_by).await,
                out
            );
            print(out, serde_json::to_value(&c).unwrap_or_default(), || {
                format!(
                    "施設 {code} の「{}」第{version}版への同意を記録しました。",
                    documents::kind_label(kind)
                )
            })
        }
    }
}

pub async fn person(data_dir: &Path, admin: &CaAdmin, c: &PersonCommand, out: Out) -> ExitCode {
    let app = tri!(open(data_dir).await, out);
    match c {
        PersonCommand::Add {
            facility,
            name_kanji,
            name_kana,
            name_romaji,
            date_of_birth,
            profession,
            email,
            permitted,
            desk,
            licence_checked,
        } => {
            let i = persons::PersonInput {
                facility_code: facility.clone(),
                name_kanji: name_kanji.clone(),
                name_kana: name_kana.clone(),
                name_romaji: name_romaji.clone(),
                date_of_birth: date_of_birth.clone(),
                profession: profession.clone(),
                work_email: email.clone(),
                permitted: *permitted,
                is_desk: *desk,
                licence_checked: *licence_checked,
            };
            let (p, _) = tri!(persons::register(&app, &admin.registrar(), &i).await, out);
            print(out, serde_json::to_value(&p).unwrap_or_default(), || {
                format!("利用者 {} {} を登録しました。", p.holder_id, p.name_kanji)
            })
        }
        PersonCommand::Show { holder_id } => {
            let (p, affs) = tri!(persons::get(&app, &admin.reader(), holder_id).await, out);
            print(out, json!({"person": p, "affiliations": affs}), || {
                let prof = p
                    .profession
                    .parse::<kmn_domain::Profession>()
                    .map(|x| x.label_ja())
                    .unwrap_or("");
                let mut s = format!(
                    "利用者ID    {}\n氏名        {}（{}）\n英字氏名    {}\n生年月日    {}\n職種        {}\nメール      {}\n所属:\n",
                    p.holder_id,
                    p.name_kanji,
                    p.name_kana,
                    p.name_romaji,
                    ja_ymd(&p.date_of_birth),
                    prof,
                    p.work_email
                );
                for a in &affs {
                    s.push_str(&format!(
                        "  {}  利用許可: {}  窓口: {}\n",
                        a.facility_code,
                        if a.permitted != 0 { "あり" } else { "なし" },
                        if a.is_desk != 0 {
                            "はい"
                        } else {
                            "いいえ"
                        }
                    ));
                }
                s
            })
        }
        PersonCommand::List { facility } => {
            let v = tri!(
                persons::list(&app, &admin.reader(), facility, None, 10_000).await,
                out
            );
            print(out, serde_json::to_value(&v).unwrap_or_default(), || {
                let mut s = String::new();
                for p in &v {
                    s.push_str(&format!(
                        "{}  {}（{}）\n",
                        p.holder_id, p.name_kanji, p.name_kana
                    ));
                }
                s.push_str(&format!("{}件", v.len()));
                s
            })
        }
    }
}

pub async fn application(
    data_dir: &Path,
    admin: &CaAdmin,
    c: &ApplicationCommand,
    out: Out,
) -> ExitCode {
    let app = tri!(open(data_dir).await, out);
    let show_row = |a: &kmn_app::views::Application| -> String {
        let kind = kmn_domain::ApplicationKind::from_codes(&a.kind, a.kind_detail.as_deref())
            .map(|k| k.label_ja())
            .unwrap_or("");
        let state = a
            .state
            .parse::<kmn_domain::ApplicationState>()
            .map(|s| s.label_ja())
            .unwrap_or("");
        format!(
            "{}  {}  {:<8}  {}  {}  {}",
            a.id,
            a.facility_code,
            kind,
            a.holder_id,
            state,
            jst(a.updated_at)
        )
    };
    let acted = |r: Result<kmn_app::views::Application, AppError>, what: &str| -> ExitCode {
        match r {
            Ok(a) => {
                let state = a
                    .state
                    .parse::<kmn_domain::ApplicationState>()
                    .map(|s| s.label_ja())
                    .unwrap_or("");
                print(out, serde_json::to_value(&a).unwrap_or_default(), || {
                    format!(
                        "申請 {} を{what}（状態: {state}）。施設に通知しました。",
                        a.id
                    )
                })
            }
            Err(e) => fail(&e, out),
        }
    };
    match c {
        ApplicationCommand::List {
            status,
            facility,
            kind,
            limit,
        } => {
            if let Some(st) = status {
                tri!(
                    st.parse::<kmn_domain::ApplicationState>()
                        .map_err(|e| AppError::BadInput(e.to_string())),
                    out
                );
            }
            const KINDS: [&str; 6] = [
                "new",
                "renewal",
                "reissue",
                "discontinuation",
                "loss_report",
                "info_change",
            ];
            if let Some(k) = kind.as_deref().filter(|k| !KINDS.contains(k)) {
                return fail(
                    &AppError::BadInput(format!(
                        "申請の種類 '{k}' はありません（{}）",
                        KINDS.join(", ")
                    )),
                    out,
                );
            }
            let f = applications::ApplicationQuery {
                facility_code: facility.clone(),
                state: status.clone(),
                kind: kind.clone(),
                limit: *limit,
                ..Default::default()
            };
            let v = tri!(applications::list(&app, &admin.reader(), f).await, out);
            print(out, serde_json::to_value(&v).unwrap_or_default(), || {
                let mut s = String::from(
                    "申請番号   施設コード  種類          利用者     状態      更新日時\n",
                );
                s.extend(v.iter().map(|a| show_row(a) + "\n"));
                s.push_str(&format!("{}件", v.len()));
                s
            })
        }
        ApplicationCommand::Show { id } => {
            let (a, rounds, docs) = tri!(applications::get(&app, &admin.reader(), id).await, out);
            print(
                out,
                json!({"application": a, "rounds": rounds, "documents": docs}),
                || {
                    let mut s = show_row(&a) + "\n経過:\n";
                    for r in &rounds {
                        let state = |code: &str| {
                            code.parse::<kmn_domain::ApplicationState>()
                                .map(|s| s.label_ja().to_string())
                                .unwrap_or_else(|_| code.to_string())
                        };
                        let action = r
                            .action
                            .parse::<kmn_domain::ApplicationActionKind>()
                            .map(|a| a.label_ja().to_string())
                            .unwrap_or_else(|_| r.action.clone());
                        s.push_str(&format!(
                            "  {}. {} {} → {}（{action}）  {}\n",
                            r.seq,
                            jst(r.at),
                            state(&r.from_state),
                            state(&r.to_state),
                            r.actor
                        ));
                        if let Some(d) = r.deficiencies.as_deref().and_then(|j| {
                            serde_json::from_str::<Vec<kmn_domain::Deficiency>>(j).ok()
                        }) {
                            for x in d {
                                s.push_str(&format!("     - {}\n", x.to_line_ja()));
                            }
                        }
                    }
                    for d in &docs {
                        s.push_str(&format!(
                            "書類: {} {}（{} バイト, SHA-256 {}）\n",
                            d.id, d.file_name, d.size, d.sha256
                        ));
                    }
                    s
                },
            )
        }
        ApplicationCommand::Approve { id } => acted(
            applications::review(&app, &admin.center(), id, ApplicationAction::Approve, None).await,
            "承認しました",
        ),
        ApplicationCommand::Complete { id } => acted(
            applications::review(&app, &admin.center(), id, ApplicationAction::Fulfil, None).await,
            "完了しました",
        ),
        ApplicationCommand::Reject { id, reason } => acted(
            applications::review(
                &app,
                &admin.center(),
                id,
                ApplicationAction::Reject {
                    reason: reason.clone(),
                },
                None,
            )
            .await,
            "却下しました",
        ),
        ApplicationCommand::Return { id, deficiency } => {
            let mut items = Vec::new();
            for d in deficiency {
                let parts: Vec<&str> = d.splitn(3, '|').collect();
                if parts.len() != 3 {
                    return fail(
                        &AppError::BadInput(format!(
                            "不備は「項目|問題点|対応」の形で指定してください: {d}"
                        )),
                        out,
                    );
                }
                // An item named as the API names the field (`name_kana`) reads as the
                // facility knows it (氏名・名称（カナ）).
                items.push((
                    kmn_app::error::field_label_ja(parts[0].trim()).to_string(),
                    parts[1].to_string(),
                    parts[2].to_string(),
                ));
            }
            let defs = tri!(applications::deficiencies(&items), out);
            acted(
                applications::review(
                    &app,
                    &admin.center(),
                    id,
                    ApplicationAction::Return { deficiencies: defs },
                    None,
                )
                .await,
                "差し戻しました",
            )
        }
    }
}

pub async fn account(data_dir: &Path, admin: &CaAdmin, c: &AccountCommand, out: Out) -> ExitCode {
    let app = tri!(open(data_dir).await, out);
    match c {
        AccountCommand::Add {
            role,
            name,
            cert,
            facility,
            holder,
            person,
        } => {
            let Some(role) = Role::parse(role) else {
                return fail(
                    &AppError::BadInput(format!(
                        "権限 '{role}' はありません（operator, supervisor, facility_desk, auditor, station）"
                    )),
                    out,
                );
            };
            let der = match (cert, holder) {
                (Some(p), _) => {
                    let bytes = tri!(
                        std::fs::read(p).map_err(|e| AppError::BadInput(format!(
                            "{} を読めません: {e}",
                            p.display()
                        ))),
                        out
                    );
                    tri!(kmn_pki::cert::pem_or_der(&bytes, "CERTIFICATE"), out)
                }
                (None, Some(h)) => {
                    let fac = facility.clone().unwrap_or_default();
                    tri!(
                        accounts::card_certificate(&app, &admin.center(), h, &fac).await,
                        out
                    )
                }
                (None, None) => {
                    return fail(
                        &AppError::BadInput(
                            "--cert または --facility と --holder を指定してください".into(),
                        ),
                        out,
                    );
                }
            };
            let a = tri!(
                accounts::add(
                    &app,
                    &admin.center(),
                    accounts::NewAccount {
                        role,
                        display_name: name.clone(),
                        cert_der: der,
                        facility_code: facility.clone(),
                        holder_id: holder.clone(),
                        person_id: person.clone(),
                    }
                )
                .await,
                out
            );
            print(out, serde_json::to_value(&a).unwrap_or_default(), || {
                format!(
                    "アカウント {}（{}、{}）を登録しました。証明書 SHA-256 {}",
                    a.id,
                    a.display_name,
                    role.label_ja(),
                    a.cert_fingerprint
                )
            })
        }
        AccountCommand::List => {
            let v = tri!(
                accounts::list_with_credentials(&app, &admin.center()).await,
                out
            );
            print(out, serde_json::to_value(&v).unwrap_or_default(), || {
                let mut s = String::new();
                for c in &v {
                    let a = &c.account;
                    let role = Role::parse(&a.role).map(|r| r.label_ja()).unwrap_or("");
                    let expiry = c
                        .cert_not_after
                        .and_then(|t| time::OffsetDateTime::from_unix_timestamp(t).ok())
                        .map(kmn_domain::time_fmt::ja_date)
                        .unwrap_or_else(|| "-".into());
                    let status = match c.cert_status.as_deref() {
                        Some("revoked") => "（失効）",
                        Some("on_hold") => "（保留中）",
                        _ => "",
                    };
                    s.push_str(&format!(
                        "{}  {:<14}  {}  {}{}\n    証明書 {}（{}）有効期限 {}{}  鍵: {}\n",
                        a.id,
                        role,
                        a.display_name,
                        a.facility_code.as_deref().unwrap_or("-"),
                        if a.disabled != 0 {
                            "  （無効）"
                        } else {
                            ""
                        },
                        c.cert_serial_hex.as_deref().unwrap_or("-"),
                        c.cert_profile
                            .as_deref()
                            .and_then(|p| p.parse::<kmn_domain::ProfileKind>().ok())
                            .map(kmn_domain::ProfileKind::label_ja)
                            .unwrap_or("不明"),
                        expiry,
                        status,
                        c.key_location
                            .as_ref()
                            .map(|k| k.label_ja())
                            .unwrap_or_else(|| "不明".into()),
                    ));
                }
                s.push_str(&format!("{}件", v.len()));
                s
            })
        }
        AccountCommand::Enrol {
            role,
            name,
            person,
            module,
            token_label,
            slot,
            key,
            mailer_dir,
            replaces,
        } => {
            let Some(role) = Role::parse(role) else {
                return fail(
                    &AppError::BadInput(format!(
                        "権限 '{role}' はありません（operator, supervisor, auditor）"
                    )),
                    out,
                );
            };
            let alg = tri!(crate::card_cmd::key_alg(key), out);
            let (font, dir) = tri!(crate::card_cmd::mailer_setup(data_dir, mailer_dir), out);
            let mailer = kmn_app::station::personalization::MailerOut { font: &font, dir };
            let token = kmn_app::station::personalization::TokenRef {
                label: token_label.clone(),
                slot: *slot,
            };
            let e = kmn_app::station::operator::OperatorEnrolment {
                role,
                display_name: name.clone(),
                person_id: person.clone(),
                replaces: replaces.clone(),
            };
            let done = tri!(
                kmn_app::station::operator::enrol(&app, admin, module, &token, &e, alg, &mailer)
                    .await,
                out
            );
            print(out, json!(done), || {
                let mut s = format!(
                    "アカウント {}（{}、{}）を登録しました。トークン {} に鍵を生成し、証明書 {} を書き込みました。\nPIN通知書: {}（本人に手渡し、PIN変更後に破棄するよう伝えてください）",
                    done.account.id,
                    done.account.display_name,
                    role.label_ja(),
                    done.token_serial,
                    done.cert_serial_hex,
                    done.mailer_path.display()
                );
                if let Some(old) = &done.replaced {
                    s.push_str(&format!(
                        "\n古いアカウント {old} は無効にし、その証明書は失効させました（{}）。",
                        kmn_domain::RevocationReason::Superseded.label_ja()
                    ));
                }
                s
            })
        }
        AccountCommand::Revoke {
            id,
            reason,
            comment,
        } => {
            let reason = tri!(
                kmn_app::station::operator::parse_credential_reason(reason),
                out
            );
            let serial = tri!(
                kmn_app::station::operator::revoke_credential(&app, admin, id, reason, comment)
                    .await,
                out
            );
            print(
                out,
                json!({"id": id, "disabled": true, "revoked_serial": serial, "reason": reason.rfc_name()}),
                || {
                    format!(
                        "アカウント {id} を無効にし、証明書 {serial} を失効させました（{}）。",
                        reason.label_ja(),
                    )
                },
            )
        }
        AccountCommand::Disable { id } => {
            tri!(accounts::disable(&app, &admin.center(), id).await, out);
            print(out, json!({"id": id, "disabled": true}), || {
                format!("アカウント {id} を無効にしました。")
            })
        }
    }
}

pub async fn notice(data_dir: &Path, admin: &CaAdmin, c: &NoticeCommand, out: Out) -> ExitCode {
    let app = tri!(open(data_dir).await, out);
    match c {
        NoticeCommand::List { facility, limit } => {
            let v = tri!(
                kmn_app::ra::notify::list(
                    &app,
                    &admin.reader(),
                    facility.as_deref(),
                    (*limit).clamp(1, 10_000)
                )
                .await,
                out
            );
            print(out, serde_json::to_value(&v).unwrap_or_default(), || {
                let mut s = String::new();
                for n in &v {
                    s.push_str(&format!(
                        "── {}  {}  {}{}\n件名: {}\n\n{}\n\n",
                        n.id,
                        jst(n.created_at),
                        n.facility_code.as_deref().unwrap_or("-"),
                        if n.read_at.is_some() {
                            "（既読）"
                        } else {
                            "（未読）"
                        },
                        n.subject,
                        n.body.trim_end()
                    ));
                }
                s.push_str(&format!("{}件", v.len()));
                s
            })
        }
    }
}

pub async fn document(data_dir: &Path, admin: &CaAdmin, c: &DocumentCommand, out: Out) -> ExitCode {
    let app = tri!(open(data_dir).await, out);
    match c {
        DocumentCommand::Publish {
            kind,
            version,
            file,
        } => {
            let bytes = tri!(
                std::fs::read(file).map_err(|e| AppError::BadInput(format!(
                    "{} を読めません: {e}",
                    file.display()
                ))),
                out
            );
            let name = file
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or("document")
                .to_string();
            let n = tri!(
                documents::publish(&app, &admin.center(), kind, version, &name, bytes).await,
                out
            );
            print(
                out,
                json!({"kind": kind, "version": version, "notified_facilities": n}),
                || {
                    format!(
                        "「{}」第{version}版を公開しました（{}/repo/{kind}）。{n}施設に通知しました。",
                        documents::kind_label(kind),
                        app.cfg.public_base_url
                    )
                },
            )
        }
        DocumentCommand::List => {
            let list = tri!(documents::list(&app).await, out);
            let flags = documents::current_flags(&list);
            let current = |i: usize| flags[i];
            let rows: Vec<_> = list
                .iter()
                .enumerate()
                .map(|(i, d)| json!({"kind": d.kind, "version": d.version, "file_name": d.file_name, "sha256": d.sha256, "published_at": d.published_at, "published_by": d.published_by, "current": current(i)}))
                .collect();
            print(out, json!(rows), || {
                if list.is_empty() {
                    return "公開した文書はありません（kmn document publish で公開します）".into();
                }
                let mut s = String::new();
                for (i, d) in list.iter().enumerate() {
                    s.push_str(&format!(
                        "{}  第{}版{}  {}公開  {}\n",
                        documents::kind_label(&d.kind),
                        d.version,
                        if current(i) { "（現行）" } else { "" },
                        jst(d.published_at),
                        d.file_name
                    ));
                }
                s.push_str(&format!("{}件", list.len()));
                s
            })
        }
    }
}

pub async fn public_notice(
    data_dir: &Path,
    admin: &CaAdmin,
    c: &PublicNoticeCommand,
    out: Out,
) -> ExitCode {
    use kmn_app::ra::public_notices;
    let app = tri!(open(data_dir).await, out);
    match c {
        PublicNoticeCommand::Publish {
            title,
            body,
            body_file,
        } => {
            let body = match (body, body_file) {
                (Some(b), _) => b.clone(),
                (None, Some(f)) => tri!(
                    std::fs::read_to_string(f).map_err(|e| AppError::BadInput(format!(
                        "{} を UTF-8 のテキストとして読めません: {e}",
                        f.display()
                    ))),
                    out
                ),
                (None, None) => String::new(),
            };
            let n = tri!(
                public_notices::publish(&app, &admin.center(), title, &body).await,
                out
            );
            print(out, json!(n), || {
                format!(
                    "お知らせ {} 「{}」をリポジトリ（ポータルの /public/repository、本文は /public/notices/{}）に掲載しました。",
                    n.id, n.title, n.id
                )
            })
        }
        PublicNoticeCommand::List => {
            let list = tri!(public_notices::all(&app, &admin.center(), 1000).await, out);
            print(out, json!(list), || {
                if list.is_empty() {
                    return "お知らせはありません（kmn public-notice publish で掲載します）".into();
                }
                let mut s = String::new();
                for n in &list {
                    let state = match (n.withdrawn_at, &n.withdrawn_reason) {
                        (Some(at), r) => format!(
                            "取下げ済み（{}、理由: {}）",
                            jst(at),
                            r.as_deref().unwrap_or("")
                        ),
                        (None, _) => "掲載中".into(),
                    };
                    s.push_str(&format!(
                        "{}  {}掲載  {}  {}\n",
                        n.id,
                        jst(n.published_at),
                        state,
                        n.title
                    ));
                }
                s.push_str(&format!("{}件", list.len()));
                s
            })
        }
        PublicNoticeCommand::Withdraw { id, reason } => {
            let n = tri!(
                public_notices::withdraw(&app, &admin.center(), id, reason).await,
                out
            );
            print(out, json!(n), || {
                format!(
                    "お知らせ {} 「{}」を取り下げました。リポジトリには表示されなくなります（記録は残ります）。",
                    n.id, n.title
                )
            })
        }
    }
}

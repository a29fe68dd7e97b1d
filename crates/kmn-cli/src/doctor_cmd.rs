//! `kmn doctor`: the doctor registry (issue 11 item 3) from the support center's CLI,
//! locally against the data dir as the center. Doctors (医師資格証 holders) are bound to
//! facilities by their registered HPKI authentication certificate, never by name.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Subcommand;
use kmn_app::AppError;
use kmn_app::ra::doctors;
use kmn_app::rights::CaAdmin;
use kmn_app::views::DoctorBinding;

use crate::ops::{Out, fail, jst, open, print};
use crate::tri;

#[derive(Subcommand, Debug)]
pub enum DoctorCommand {
    /// 医師資格証（HPKI）の認証用証明書を施設に登録する（受付）。施設の確認とセンターの承認の後に有効になります。
    /// 証明書は有効期限内のエンドエンティティ証明書で、鍵用途に digitalSignature があり、署名用証明書や本会の
    /// 証明書でないこと（[hpki] anchors を設定していればその認証局への検証）を確認します
    Enrol {
        /// 医師が業務を行う施設の施設コード
        #[arg(long)]
        facility: String,
        /// 認証用証明書のファイル（PEM または DER）
        #[arg(long)]
        cert: PathBuf,
    },
    /// 施設が書面で行った確認を記録する（通常は施設の窓口が API・ポータルで確認します）
    Confirm {
        /// 登録番号（DR で始まる）
        id: String,
        /// 書面で確認した施設の方の氏名
        #[arg(long)]
        given_by: String,
    },
    /// 施設が確認した登録を承認する（確認を記録した方とは別の担当者が行います。--actor で担当者を指定）
    Approve {
        /// 登録番号
        id: String,
    },
    /// 承認前の登録を不承認にする
    Refuse {
        /// 登録番号
        id: String,
        /// 理由（200文字以内）
        #[arg(long)]
        reason: String,
    },
    /// 承認前の登録を取り下げる
    Withdraw {
        /// 登録番号
        id: String,
        /// 理由（200文字以内）
        #[arg(long)]
        reason: String,
    },
    /// 有効な登録を終了する（医師が施設を離れた、カードを更新した など）
    End {
        /// 登録番号
        id: String,
        /// 終了日（YYYY-MM-DD）
        #[arg(long)]
        on: String,
        /// 理由（200文字以内）
        #[arg(long)]
        reason: String,
    },
    /// 医師の登録の一覧（閲覧はアクセスログに記録されます）
    List {
        /// 施設コードで絞り込む
        #[arg(long)]
        facility: Option<String>,
        /// 状態で絞り込む: enrolled, confirmed, active, ended, refused, withdrawn
        #[arg(long)]
        state: Option<String>,
        /// 最大件数
        #[arg(long, default_value_t = 200)]
        limit: i64,
    },
    /// 医師の登録の詳細（閲覧はアクセスログに記録されます）
    Show {
        /// 登録番号
        id: String,
        /// 登録された証明書を PEM で出力する
        #[arg(long)]
        pem: bool,
    },
    /// 証明書ファイルで有効な登録を照会する（ゲートウェイが行う照会と同じ: 発行者・シリアル番号・公開鍵がすべて一致するもの）
    Lookup {
        /// 証明書のファイル（PEM または DER）
        #[arg(long)]
        cert: PathBuf,
    },
}

fn text(b: &DoctorBinding) -> String {
    let state = b
        .state
        .parse::<kmn_domain::doctor::BindingState>()
        .map(|s| s.label_ja())
        .unwrap_or("");
    let mut s = format!(
        "登録番号    {}\n施設コード  {}\n状態        {}\n証明書      {}\n発行者      {}\nシリアル    {}\n公開鍵      SHA-256 {}\n有効期間    {} 〜 {}\n受付        {}  {}\n",
        b.id,
        b.facility_code,
        state,
        b.subject,
        b.issuer,
        b.serial_hex,
        b.spki_sha256,
        jst(b.not_before),
        jst(b.not_after),
        jst(b.enrolled_at),
        b.enrolled_by,
    );
    if let (Some(at), Some(by)) = (b.confirmed_at, &b.confirmed_by) {
        s.push_str(&format!("施設の確認  {}  {by}", jst(at)));
        if let Some(n) = &b.confirmed_note {
            s.push_str(&format!("（書面: {n}）"));
        }
        s.push('\n');
    }
    if let (Some(at), Some(by)) = (b.approved_at, &b.approved_by) {
        s.push_str(&format!("承認        {}  {by}\n", jst(at)));
    }
    if let (Some(at), Some(by)) = (b.closed_at, &b.closed_by) {
        s.push_str(&format!(
            "{}        {}  {by}  {}{}\n",
            state,
            jst(at),
            b.ended_on
                .as_deref()
                .map(|d| format!("終了日 {}  ", crate::ops::ja_ymd(d)))
                .unwrap_or_default(),
            b.close_reason.as_deref().unwrap_or("")
        ));
    }
    s
}

fn read(p: &Path) -> Result<Vec<u8>, AppError> {
    std::fs::read(p).map_err(|e| {
        AppError::BadInput(format!("証明書ファイル {} を読めません: {e}", p.display()))
    })
}

fn done(out: Out, b: DoctorBinding, what: &str) -> ExitCode {
    print(out, serde_json::to_value(&b).unwrap_or_default(), || {
        format!("{what}\n{}", text(&b))
    })
}

pub async fn doctor(data_dir: &Path, admin: &CaAdmin, c: &DoctorCommand, out: Out) -> ExitCode {
    let app = tri!(open(data_dir).await, out);
    match c {
        DoctorCommand::Enrol { facility, cert } => {
            let bytes = tri!(read(cert), out);
            let b = tri!(
                doctors::enrol(&app, &admin.registrar(), facility, &bytes).await,
                out
            );
            let msg = format!(
                "医師の証明書を施設 {facility} に登録しました（登録番号 {}）。施設の確認とセンターの承認の後に有効になります。",
                b.id
            );
            done(out, b, &msg)
        }
        DoctorCommand::Confirm { id, given_by } => {
            let b = tri!(
                doctors::confirm(&app, &admin.registrar(), id, Some(given_by)).await,
                out
            );
            done(out, b, &format!("登録 {id} の施設の確認を記録しました。"))
        }
        DoctorCommand::Approve { id } => {
            let b = tri!(doctors::approve(&app, &admin.center(), id).await, out);
            done(
                out,
                b,
                &format!("登録 {id} を承認しました。この証明書で施設の業務を行えます。"),
            )
        }
        DoctorCommand::Refuse { id, reason } => {
            let b = tri!(
                doctors::refuse(&app, &admin.center(), id, reason).await,
                out
            );
            done(out, b, &format!("登録 {id} を不承認にしました。"))
        }
        DoctorCommand::Withdraw { id, reason } => {
            let b = tri!(
                doctors::withdraw(&app, &admin.registrar(), id, reason).await,
                out
            );
            done(out, b, &format!("登録 {id} を取り下げました。"))
        }
        DoctorCommand::End { id, on, reason } => {
            let b = tri!(
                doctors::end(&app, &admin.registrar(), id, on, reason).await,
                out
            );
            done(
                out,
                b,
                &format!(
                    "登録 {id} を終了しました（終了日 {}）。",
                    crate::ops::ja_ymd(on)
                ),
            )
        }
        DoctorCommand::List {
            facility,
            state,
            limit,
        } => {
            let v = tri!(
                doctors::list(
                    &app,
                    &admin.reader(),
                    facility.as_deref(),
                    state.as_deref(),
                    None,
                    (*limit).clamp(1, 10_000),
                )
                .await,
                out
            );
            print(out, serde_json::to_value(&v).unwrap_or_default(), || {
                let mut s =
                    String::from("登録番号    施設コード  状態                          証明書\n");
                for b in &v {
                    let state = b
                        .state
                        .parse::<kmn_domain::doctor::BindingState>()
                        .map(|s| s.label_ja())
                        .unwrap_or("");
                    s.push_str(&format!(
                        "{}  {}  {:<28}  {}\n",
                        b.id, b.facility_code, state, b.subject
                    ));
                }
                s.push_str(&format!("{}件", v.len()));
                s
            })
        }
        DoctorCommand::Show { id, pem } => {
            let b = tri!(doctors::get(&app, &admin.reader(), id).await, out);
            if *pem {
                let der = tri!(doctors::certificate(&app, &admin.reader(), id).await, out);
                let p = kmn_pki::cert::to_pem(&der);
                return print(out, serde_json::json!({"certificate_pem": p}), || p.clone());
            }
            done(out, b, "")
        }
        DoctorCommand::Lookup { cert } => {
            let bytes = tri!(read(cert), out);
            let der = tri!(
                kmn_pki::cert::pem_or_der(&bytes, "CERTIFICATE")
                    .map_err(|e| AppError::BadInput(format!("証明書を読み取れません: {e}"))),
                out
            );
            let a = tri!(
                doctors::lookup_certificate(&app, &admin.doctor_lookup(), &der).await,
                out
            );
            print(out, serde_json::to_value(&a).unwrap_or_default(), || {
                if a.bindings.is_empty() {
                    "有効な登録はありません（未登録、承認前、終了済み、または別の鍵の証明書です）"
                        .into()
                } else {
                    let mut s = String::from("有効な登録:\n");
                    for b in &a.bindings {
                        let profession = b
                            .profession
                            .parse::<kmn_domain::Profession>()
                            .map(|p| p.label_ja())
                            .unwrap_or(b.profession.as_str());
                        s.push_str(&format!(
                            "  {}  施設 {}  職種 {profession}\n",
                            b.binding_id, b.facility_code
                        ));
                    }
                    s
                }
            })
        }
    }
}

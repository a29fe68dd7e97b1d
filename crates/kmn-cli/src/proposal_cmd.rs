//! `kmn proposal`: dual control from the command line (第12条, issue 10 item 3). Support-
//! center staff propose a revocation on the association's grounds — named cards, or every
//! card of a facility that leaves the network (frozen when proposed) — and a supervisor,
//! another person, approves or rejects it. Every call goes to the center's API over
//! mutual TLS with the person's own account certificate, so that the server, not this
//! command, knows who proposes and who decides (a local command could be anyone with a
//! shell on the server). An approval streams its progress: a bar on a terminal, then a
//! summary.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};
use kmn_app::AppError;
use serde_json::{Value, json};

use crate::api_client::{ApiClient, streamed_error};
use crate::ops::{Out, fail, jst_rfc3339, print};
use crate::tri;

/// The connection to the center's API, as the person's own account: the operator card
/// (token) in a reader, or — in the demo — a certificate and key file.
#[derive(Args, Debug, Clone)]
pub struct Conn {
    /// センターの API（例 https://ca.example.jp:8443）
    #[arg(long)]
    pub server: String,
    /// 担当者ICカード（トークン）のリーダーの PKCS#11 モジュール。カードの鍵でログインします（PIN は --pin-file か標準入力の1行目）
    #[arg(long, value_name = "LIB", conflicts_with_all = ["cert", "key_file"])]
    pub module: Option<PathBuf>,
    /// 担当者ICカードのラベル（リーダーに複数のカードがあるとき）
    #[arg(long, requires = "module")]
    pub token_label: Option<String>,
    /// 担当者ICカードのスロット番号（ラベルの代わりに）
    #[arg(long, requires = "module")]
    pub slot: Option<u64>,
    /// 担当者ICカードの PIN を1行目に書いたファイル（本人だけが読める権限 0600）。省略すると標準入力の1行目
    #[arg(long, value_name = "FILE", requires = "module")]
    pub pin_file: Option<PathBuf>,
    /// あなたのアカウントの証明書（PEM、チェーン可。ファイルの鍵はデモ環境のみ）
    #[arg(long, requires = "key_file", required_unless_present = "module")]
    pub cert: Option<PathBuf>,
    /// あなたのアカウントの秘密鍵（PEM PKCS#8）
    #[arg(long, requires = "cert")]
    pub key_file: Option<PathBuf>,
    /// サーバーの TLS 証明書を発行したルート証明書（PEM）
    #[arg(long)]
    pub server_ca: PathBuf,
}

#[derive(Subcommand, Debug)]
pub enum ProposalCommand {
    /// 本会による失効（利用規約第12条）を提案する: 指定したカード。運用責任者（別の人）の承認で失効します
    RevokeCards {
        /// カード番号（カンマ区切り、例 C00000002,C00000003。大文字小文字とハイフンは区別しません）
        #[arg(long, value_delimiter = ',', required = true)]
        cards: Vec<String>,
        /// 事由: breach（第12条(1)）、compromise（(2)）、misuse（(3)）、untrue_data（(4)）、unpaid_fees（(5)）、other（(6)）
        #[arg(long)]
        ground: String,
        /// カードの返却を求める（第15条）
        #[arg(long)]
        card_must_return: bool,
        /// 理由の説明（4〜500文字）
        #[arg(long)]
        note: String,
        #[command(flatten)]
        conn: Conn,
    },
    /// 本会による一括失効を提案する: 施設のすべての有効なカード（提案の時点で対象を確定します）
    RevokeFacility {
        /// 施設コード
        facility: String,
        /// 事由: breach、compromise、misuse、untrue_data、unpaid_fees、other（第12条(1)〜(6)）
        #[arg(long)]
        ground: String,
        /// カードの返却を求める（第15条）
        #[arg(long)]
        card_must_return: bool,
        /// 理由の説明（4〜500文字）
        #[arg(long)]
        note: String,
        #[command(flatten)]
        conn: Conn,
    },
    /// 提案の内容と内容のハッシュ（承認・却下で指定する値）を表示する
    Show {
        /// 提案番号
        id: String,
        #[command(flatten)]
        conn: Conn,
    },
    /// 提案を承認する（運用責任者。提案した本人は承認できません）。失効、返却の依頼、施設への通知をまとめて行い、進み具合を表示します
    Approve {
        /// 提案番号
        id: String,
        /// `kmn proposal show` で確認した内容のハッシュ（content_sha256）
        #[arg(long)]
        sha256: String,
        #[command(flatten)]
        conn: Conn,
    },
    /// 提案を却下する（運用責任者）
    Reject {
        /// 提案番号
        id: String,
        /// `kmn proposal show` で確認した内容のハッシュ（content_sha256）
        #[arg(long)]
        sha256: String,
        /// 却下の理由（500文字以内）
        #[arg(long)]
        reason: String,
        #[command(flatten)]
        conn: Conn,
    },
}

fn client(c: &Conn) -> Result<ApiClient, AppError> {
    match (&c.module, &c.cert, &c.key_file) {
        (Some(module), _, _) => {
            let pin = match &c.pin_file {
                Some(f) => crate::card_cmd::pin_from_file(f, "PIN")?,
                None => crate::card_cmd::pin_from_stdin_line()?,
            };
            ApiClient::with_card(
                &c.server,
                module,
                c.token_label.as_deref(),
                c.slot,
                &pin,
                &c.server_ca,
            )
        }
        (None, Some(cert), Some(key)) => ApiClient::new(&c.server, cert, key, &c.server_ca),
        _ => Err(AppError::BadInput(
            "担当者ICカード（--module）か、証明書と秘密鍵のファイル（--cert と --key-file）を指定してください".into(),
        )),
    }
}

/// The state of a proposal, in Japanese.
fn state_ja(s: &str) -> &str {
    match s {
        "proposed" => "承認待ち",
        "approved" => "承認済み",
        "rejected" => "却下",
        "expired" => "期限切れ",
        other => other,
    }
}

/// A proposal as the terminal shows it.
fn describe(p: &Value) -> String {
    let payload = &p["payload"];
    let cards = payload["cards"].as_array().map_or(0, Vec::len);
    let mut s = format!(
        "提案 {}（{}）\n  種類       {}\n  事由       {} {}\n  対象       {}{} 枚\n  返却       {}\n  理由       {}\n  提案者     {}（{}）\n  期限       {}\n  内容のハッシュ {}",
        p["id"].as_str().unwrap_or(""),
        state_ja(p["state"].as_str().unwrap_or("")),
        match p["kind"].as_str().unwrap_or("") {
            "association_revocation" => "本会による失効（利用規約第12条）",
            "emergency_revocation_review" => "電話による緊急失効の事後確認",
            other => other,
        },
        payload["article"].as_str().unwrap_or(""),
        payload["ground"]
            .as_str()
            .map(|g| g
                .parse::<kmn_domain::AssociationGround>()
                .map(|g| g.label_ja())
                .unwrap_or(g))
            .unwrap_or(""),
        payload["facility"]
            .as_str()
            .map(|f| format!("施設 {f} の全カード "))
            .unwrap_or_default(),
        cards,
        if payload["card_must_return"].as_bool() == Some(true) {
            "求める（第15条）"
        } else {
            "求めない"
        },
        payload["note"].as_str().unwrap_or(""),
        p["proposed_by"].as_str().unwrap_or(""),
        jst_rfc3339(p["proposed_at"].as_str().unwrap_or("")),
        jst_rfc3339(p["expires_at"].as_str().unwrap_or("")),
        p["content_sha256"].as_str().unwrap_or(""),
    );
    if let Some(list) = payload["cards"].as_array() {
        for c in list.iter().take(20) {
            s.push_str(&format!(
                "\n    {}  {}  証明書 {}",
                c["card_id"].as_str().unwrap_or(""),
                c["facility_code"].as_str().unwrap_or(""),
                c["serial_hex"].as_str().unwrap_or("")
            ));
        }
        if list.len() > 20 {
            s.push_str(&format!("\n    …ほか {} 枚", list.len() - 20));
        }
    }
    if let Some(by) = p["decided_by"].as_str() {
        s.push_str(&format!(
            "\n  決定者     {by}（{}）",
            jst_rfc3339(p["decided_at"].as_str().unwrap_or(""))
        ));
    }
    if let Some(n) = p["note"].as_str() {
        s.push_str(&format!("\n  決定の理由 {n}"));
    }
    s
}

/// A progress bar on stderr: redrawn on a terminal, every tenth otherwise.
struct Bar {
    tty: bool,
    shown_tenth: usize,
}

impl Bar {
    fn show(&mut self, done: usize, total: usize) {
        let total = total.max(1);
        let mut err = std::io::stderr();
        if self.tty {
            let filled = done * 30 / total;
            let _ = write!(
                err,
                "\r失効中 [{}{}] {done}/{total}",
                "#".repeat(filled),
                "-".repeat(30 - filled.min(30))
            );
            let _ = err.flush();
        } else {
            let tenth = done * 10 / total;
            if tenth > self.shown_tenth || done == total {
                self.shown_tenth = tenth;
                let _ = writeln!(err, "失効中 {done}/{total}");
            }
        }
    }

    fn end(&self) {
        if self.tty {
            let _ = writeln!(std::io::stderr());
        }
    }
}

pub async fn proposal(c: &ProposalCommand, out: Out) -> ExitCode {
    match c {
        ProposalCommand::RevokeCards {
            cards,
            ground,
            card_must_return,
            note,
            conn,
        } => {
            propose(
                conn,
                json!({"ground": ground, "card_ids": cards, "card_must_return": card_must_return, "note": note}),
                out,
            )
            .await
        }
        ProposalCommand::RevokeFacility {
            facility,
            ground,
            card_must_return,
            note,
            conn,
        } => {
            propose(
                conn,
                json!({"ground": ground, "facility_code": facility, "card_must_return": card_must_return, "note": note}),
                out,
            )
            .await
        }
        ProposalCommand::Show { id, conn } => {
            let api = tri!(client(conn), out);
            let p = tri!(
                api.call("GET", &format!("/api/v1/proposals/{}", path_id(id)), None)
                    .await,
                out
            );
            print(out, p.clone(), || describe(&p))
        }
        ProposalCommand::Approve { id, sha256, conn } => approve(conn, id, sha256, out).await,
        ProposalCommand::Reject {
            id,
            sha256,
            reason,
            conn,
        } => {
            let api = tri!(client(conn), out);
            let p = tri!(
                api.call(
                    "POST",
                    &format!("/api/v1/proposals/{}/reject", path_id(id)),
                    Some(json!({"content_sha256": sha256, "reason": reason})),
                )
                .await,
                out
            );
            print(out, p.clone(), || {
                format!("提案 {} を却下しました。\n{}", id, describe(&p))
            })
        }
    }
}

/// A proposal id as a path segment: only what ids are made of, so nothing else reaches
/// the request line.
fn path_id(id: &str) -> String {
    id.chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect()
}

async fn propose(conn: &Conn, body: Value, out: Out) -> ExitCode {
    let api = tri!(client(conn), out);
    let p = tri!(
        api.call("POST", "/api/v1/revocation-proposals", Some(body))
            .await,
        out
    );
    print(out, p.clone(), || {
        format!(
            "{}\n\n運用責任者（提案者とは別の人）に、提案番号と内容のハッシュを伝えて承認を依頼してください:\n  kmn proposal approve {} --sha256 {} …",
            describe(&p),
            p["id"].as_str().unwrap_or(""),
            p["content_sha256"].as_str().unwrap_or("")
        )
    })
}

async fn approve(conn: &Conn, id: &str, sha256: &str, out: Out) -> ExitCode {
    let api = tri!(client(conn), out);
    let mut bar = Bar {
        tty: std::io::stderr().is_terminal() && !out.json,
        shown_tenth: 0,
    };
    let last = tri!(
        api.call_streamed(
            "POST",
            &format!("/api/v1/proposals/{}/approve", path_id(id)),
            Some(json!({"content_sha256": sha256})),
            &mut |line| {
                if let (Some(done), Some(total)) = (line["done"].as_u64(), line["total"].as_u64())
                    && !out.json
                {
                    bar.show(
                        usize::try_from(done).unwrap_or(0),
                        usize::try_from(total).unwrap_or(0),
                    );
                }
            },
        )
        .await,
        out
    );
    bar.end();
    if let Some(e) = streamed_error(&last) {
        return fail(&e, out);
    }
    // A proposal of another kind answers in one JSON object, not a stream.
    let d = last.get("result").cloned().unwrap_or(last);
    print(out, d.clone(), || {
        let revoked = d["revoked"].as_array().map_or(0, Vec::len);
        let already = d["already_revoked"].as_array().map_or(0, Vec::len);
        format!(
            "提案 {id} を承認しました。\n  失効させた証明書  {revoked} 件\n  すでに失効していた証明書 {already} 件\n  返却を依頼したカード {} 枚\n  通知した施設      {} 施設\n\n{}",
            d["returns_requested"].as_u64().unwrap_or(0),
            d["facilities_notified"].as_u64().unwrap_or(0),
            describe(&d["proposal"])
        )
    })
}

//! `kmn`: the one binary of kmn-pki. CA-administrator commands answer in English;
//! operator commands (later work) in Japanese with a stable code. No command prompts on
//! a terminal: secrets come from the environment or files.
#![forbid(unsafe_code)]

mod api_client;
mod card_cmd;
mod cmd;
mod doctor_cmd;
mod gateway_cmd;
mod ops;
mod proposal_cmd;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// kmn-pki: the certification authority, registration authority and card lifecycle of
/// the Kumamoto Medical Network (くまもとメディカルネットワーク 利用者カード認証局).
#[derive(Parser, Debug)]
#[command(name = "kmn", version, about, long_about = None)]
pub struct Cli {
    // Global options come after each command's own in its help (display_order).
    /// The data dir: kmn.toml, the SQLite database, secrets/, repo/.
    #[arg(
        long,
        global = true,
        env = "KMN_DATA_DIR",
        default_value = "./kmn-data",
        display_order = 900
    )]
    pub data_dir: PathBuf,

    /// Who is acting, recorded in the audit log beside the OS user (default: cli:$USER).
    #[arg(long, global = true, env = "KMN_ACTOR", display_order = 901)]
    pub actor: Option<String>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Quick start: on first run make the data dir, kmn.toml (demo = true), the SQLite
    /// database, a demo CA, a TLS certificate, a demo facility that has consented and demo
    /// credentials for every role (in <data-dir>/demo/); then serve both listeners.
    Up {
        /// Start without the demo facility and credentials (and with demo = false).
        #[arg(long)]
        no_demo: bool,
    },
    /// Serve the HTTP listener (repository, health) and the HTTPS listener (API), and
    /// publish CRLs: within a second of every revocation and at least every 24 hours.
    Serve,
    /// CA administration: key ceremony (software or HSM keys), ARL, issuing-CA rollover,
    /// root-key backup and restore (3 of 5 custodians).
    #[command(subcommand)]
    Ca(cmd::CaCommand),
    /// Certificates: issue from a CSR, show (with the evidence of a revocation), revoke,
    /// the signed revocation receipt and the letter to the facility.
    #[command(subcommand)]
    Cert(cmd::CertCommand),
    /// CRLs.
    #[command(subcommand)]
    Crl(cmd::CrlCommand),
    /// 失効の証明（署名付きの失効受領証、第23条3）の検証
    #[command(subcommand)]
    Receipt(cmd::ReceiptCommand),
    /// Path validation (RFC 5280) with CRLs, OCSP and HPKI anchors: exit 0 valid, 1 invalid
    /// (reason on stderr), 2 usage.
    Verify(cmd::VerifyArgs),
    /// The audit log.
    #[command(subcommand)]
    Audit(cmd::AuditCommand),
    /// Configuration.
    #[command(subcommand)]
    Config(cmd::ConfigCommand),
    /// 利用施設（サポートセンター）
    Facility {
        #[command(subcommand)]
        command: ops::FacilityCommand,
        #[command(flatten)]
        out: ops::Out,
    },
    /// 利用者（サポートセンター）
    Person {
        #[command(subcommand)]
        command: ops::PersonCommand,
        #[command(flatten)]
        out: ops::Out,
    },
    /// 利用申請と審査（サポートセンター）
    Application {
        #[command(subcommand)]
        command: ops::ApplicationCommand,
        #[command(flatten)]
        out: ops::Out,
    },
    /// アカウント（クライアント証明書と権限）
    Account {
        #[command(subcommand)]
        command: ops::AccountCommand,
        #[command(flatten)]
        out: ops::Out,
    },
    /// 利用者カード（PKCS#11 トークン）の発行と確認
    Card {
        #[command(subcommand)]
        command: ops::CardCommand,
        #[command(flatten)]
        out: ops::Out,
    },
    /// 本会による失効（利用規約第12条）の提案と承認（二人による確認）。センターの API に
    /// ご自身のアカウントの証明書で接続します
    Proposal {
        #[command(subcommand)]
        command: proposal_cmd::ProposalCommand,
        #[command(flatten)]
        out: ops::Out,
    },
    /// 医師の登録（医師資格証 HPKI の認証用証明書と施設の結び付け）: 受付・施設の確認・承認・終了・一覧・照会
    Doctor {
        #[command(subcommand)]
        command: doctor_cmd::DoctorCommand,
        #[command(flatten)]
        out: ops::Out,
    },
    /// The mTLS reverse proxy in front of the network's services: every login checked
    /// (live CRLs, facility binding 第4条2), identity forwarded in X-KMN-* headers, the
    /// login record kept (docs/GATEWAY.md). Runs beside a service; needs no data dir.
    #[command(subcommand)]
    Gateway(gateway_cmd::GatewayCommand),
    /// 施設へのお知らせ（決定の通知）の確認
    Notice {
        #[command(subcommand)]
        command: ops::NoticeCommand,
        #[command(flatten)]
        out: ops::Out,
    },
    /// CPS・利用規約・個人情報の取扱いの公開と、公開した版の一覧
    Document {
        #[command(subcommand)]
        command: ops::DocumentCommand,
        #[command(flatten)]
        out: ops::Out,
    },
    /// 本会ホームページ（リポジトリ）のお知らせの掲載・一覧・取下げ（第24条）
    PublicNotice {
        #[command(subcommand)]
        command: ops::PublicNoticeCommand,
        #[command(flatten)]
        out: ops::Out,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("KMN_LOG")
                .unwrap_or_else(|_| "info".into())
                // cryptoki logs every vendor mechanism it has no name for as an error
                // while listing a token's mechanisms: noise, not a fault.
                .add_directive(
                    "cryptoki::mechanism=off"
                        .parse()
                        .expect("a valid directive"),
                ),
        )
        .with_writer(std::io::stderr)
        .init();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e} (E_INTERNAL)");
            return ExitCode::from(1);
        }
    };
    rt.block_on(cmd::run(cli))
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::Cli;

    fn japanese_chars(s: &str) -> usize {
        s.chars()
            .filter(|c| {
                ('\u{3040}'..='\u{30ff}').contains(c) || ('\u{4e00}'..='\u{9fff}').contains(c)
            })
            .count()
    }

    /// Whether a command's description is written in Japanese: kana and kanji at least
    /// half as many as Latin letters (an English text may quote 第23条3 or
    /// 「電子証明書失効のお知らせ」; a Japanese one names PKCS#11 or RFC 3339).
    fn is_japanese(s: &str) -> bool {
        let latin = s.chars().filter(char::is_ascii_alphabetic).count();
        japanese_chars(s) > 0 && japanese_chars(s) * 2 >= latin
    }

    /// Every command, subcommand and option of `kmn` has a description in `--help`, and a
    /// command described in Japanese describes its own options and subcommands in
    /// Japanese too (issue 12: one language per help page).
    #[test]
    fn issue12_every_command_and_option_has_a_description_in_one_language() {
        fn walk(c: &clap::Command, path: &str, inherited: &[String], problems: &mut Vec<String>) {
            let about = c.get_about().or(c.get_long_about()).map(|s| s.to_string());
            let japanese = about.as_deref().is_some_and(is_japanese);
            for a in c.get_arguments() {
                let id = a.get_id().as_str();
                // clap's own flags, and global options checked where they are declared.
                if matches!(id, "help" | "version") || inherited.iter().any(|g| g == id) {
                    continue;
                }
                let name = a
                    .get_long()
                    .map(|l| format!("--{l}"))
                    .unwrap_or_else(|| format!("<{id}>"));
                match a.get_help().or(a.get_long_help()).map(|s| s.to_string()) {
                    None => problems.push(format!("{path} {name}: no description")),
                    Some(h) if japanese && japanese_chars(&h) == 0 => {
                        problems.push(format!("{path} {name}: English on a Japanese page: {h}"))
                    }
                    Some(_) => {}
                }
            }
            let globals: Vec<String> = c
                .get_arguments()
                .filter(|a| a.is_global_set())
                .map(|a| a.get_id().to_string())
                .collect();
            for s in c.get_subcommands() {
                let p = format!("{path} {}", s.get_name());
                if s.get_name() == "help" {
                    continue;
                }
                match s.get_about().or(s.get_long_about()).map(|a| a.to_string()) {
                    None => problems.push(format!("{p}: no description")),
                    Some(h) if japanese && japanese_chars(&h) == 0 => {
                        problems.push(format!("{p}: English on a Japanese page: {h}"))
                    }
                    Some(_) => {}
                }
                walk(s, &p, &globals, problems);
            }
        }
        let mut cmd = Cli::command();
        cmd.build();
        let mut problems = Vec::new();
        walk(&cmd, "kmn", &[], &mut problems);
        assert!(problems.is_empty(), "{}", problems.join("\n"));
    }
}

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
    /// The data dir: kmn.toml, the SQLite database, secrets/, repo/.
    #[arg(
        long,
        global = true,
        env = "KMN_DATA_DIR",
        default_value = "./kmn-data"
    )]
    pub data_dir: PathBuf,

    /// Who is acting, recorded in the audit log beside the OS user (default: cli:$USER).
    #[arg(long, global = true, env = "KMN_ACTOR")]
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
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::from(1);
        }
    };
    rt.block_on(cmd::run(cli))
}

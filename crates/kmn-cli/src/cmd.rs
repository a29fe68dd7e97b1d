//! The commands.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Args, Subcommand, ValueEnum};
use kmn_app::ca::{self, CeremonyParams};
use kmn_app::views::CaKind;
use kmn_app::{App, AppError, Config, SystemClock};
use kmn_domain::{CertSerial, ProfileKind, RevocationReason, ValidityPeriod};
use kmn_pki::keys::KeyAlgorithm;

use crate::{Cli, Command};

#[derive(Subcommand, Debug)]
pub enum CaCommand {
    /// The key ceremony: offline root, online issuing CA (≥ 10 years), OCSP signer, the
    /// first ARL and CRL, and the policy OIDs. The passphrase of the software keys comes
    /// from KMN_CA_PASSPHRASE or KMN_CA_PASSPHRASE_FILE, never from an argument.
    /// With --hsm-module and --token-label the issuing CA's and the OCSP signer's keys
    /// are generated in the HSM token (sensitive, never extractable); the root stays a
    /// software key (offline; back it up with `kmn ca backup`).
    /// A second `ca init` over an existing CA is refused.
    Init(InitArgs),
    /// Re-sign the root's CRL (ARL). Loads the root key.
    SignArl,
    /// The root signs a new issuing CA (G2, …), which becomes the active one.
    NewIssuing {
        /// Key algorithm: p256, p384, rsa2048, rsa3072, rsa4096.
        #[arg(long, default_value = "p256")]
        key: KeyAlgorithm,
        /// Validity in years (at least 10).
        #[arg(long, default_value_t = 10)]
        years: i32,
        #[command(flatten)]
        hsm: HsmArgs,
    },
    /// A new OCSP signer for the active issuing CA (DESIGN §4: EKU OCSPSigning only,
    /// ocsp-nocheck, 90 days), its key where the issuing CA's key is; it is used at once,
    /// and `kmn serve` signs every stored OCSP response again with it. `kmn serve` does
    /// this by itself at notAfter − (ca.ocsp_validity_hours + ca.ocsp_resign_hours);
    /// this command is for an early change (a signer key feared compromised).
    NewOcspSigner,
    /// The root revokes an issuing CA (its key is compromised, or it is retired): its
    /// certificate is listed on the root's ARL, which is re-signed at once in the same
    /// transaction (never on the issuing CA's own CRL). Loads the root key. The active
    /// issuing CA is refused: run `kmn ca new-issuing` first.
    RevokeIssuing {
        /// The issuing CA's name (e.g. kmn-issuing-g1) or its certificate's serial (hex).
        ca: String,
        /// Why.
        #[arg(long, value_enum)]
        reason: IssuingRevocationReason,
        /// Free text kept with the revocation and in the audit log.
        #[arg(long)]
        comment: Option<String>,
    },
    /// Back up the root key for its custodians (DESIGN §6): the root's private key is
    /// wrapped under a fresh AES-256 key-encryption key (RFC 5649), which is split so that
    /// any 3 of 5 custodians can restore it. Writes the wrapped key, one share file and
    /// one printable A4 sheet (Japanese) per custodian, mode 0600; checks every 3 of the
    /// 5 shares before writing. Needs the root key file and the CA passphrase.
    Backup {
        /// Directory to write into (made with mode 0700; existing files are never
        /// overwritten). Hand each custodian their share and sheet, then delete them here.
        #[arg(long)]
        out: PathBuf,
    },
    /// Restore the root key from the wrapped key and the shares of at least 3 of the 5
    /// custodians (any 3): the key is checked against the root certificate and written as
    /// the root's key file, encrypted with the CA passphrase (never over an existing file).
    Restore {
        /// The wrapped root key file written by `kmn ca backup`.
        #[arg(long)]
        wrapped: PathBuf,
        /// A custodian's share file (or the lines typed from the printed sheet); repeat
        /// for each custodian present, at least 3.
        #[arg(long = "share", value_name = "FILE")]
        shares: Vec<PathBuf>,
        /// Only check that the shares restore the root key; write nothing (the restore
        /// test of the ceremony).
        #[arg(long)]
        verify_only: bool,
    },
}

/// Where to generate CA keys in an HSM. The user PIN comes from KMN_HSM_PIN or
/// KMN_HSM_PIN_FILE, never from an argument.
#[derive(Args, Debug, Clone)]
pub struct HsmArgs {
    /// The HSM's PKCS#11 module (shared library), e.g. /usr/lib/softhsm/libsofthsm2.so.
    /// With --token-label, the new CA keys are generated in the HSM instead of key files.
    #[arg(long, value_name = "PATH", requires = "token_label")]
    hsm_module: Option<PathBuf>,
    /// The label of the HSM token (initialised beforehand by the HSM administrator).
    #[arg(long, value_name = "LABEL", requires = "hsm_module")]
    token_label: Option<String>,
}

impl HsmArgs {
    fn params(&self) -> Result<Option<ca::HsmParams>, AppError> {
        match (&self.hsm_module, &self.token_label) {
            (Some(m), Some(t)) => Ok(Some(ca::HsmParams {
                module: m.clone(),
                token_label: t.clone(),
                pin: kmn_app::ca::hsm::pin_from_env()?,
            })),
            _ => Ok(None),
        }
    }
}

#[derive(Args, Debug)]
pub struct InitArgs {
    /// Root key: p256, p384, rsa2048, rsa3072, rsa4096.
    #[arg(long, default_value = "p384")]
    root_key: KeyAlgorithm,
    /// Issuing CA key (RSA-3072 for all-RSA relying parties).
    #[arg(long, default_value = "p256")]
    issuing_key: KeyAlgorithm,
    /// OCSP signer key.
    #[arg(long, default_value = "p256")]
    ocsp_key: KeyAlgorithm,
    /// Root validity, years.
    #[arg(long, default_value_t = 20)]
    root_years: i32,
    /// Issuing CA validity, years (at least 10).
    #[arg(long, default_value_t = 10)]
    issuing_years: i32,
    /// OCSP signer validity, days.
    #[arg(long, default_value_t = 90)]
    ocsp_days: i64,
    /// The association's registered policy arc; without it a registration-free UUID-derived arc (1.2.840.113556.1.8000.2554.…) is made.
    #[arg(long)]
    policy_arc: Option<String>,
    #[command(flatten)]
    hsm: HsmArgs,
}

#[derive(Subcommand, Debug)]
pub enum CertCommand {
    /// Issue a certificate from a CSR: PEM to stdout, details to stderr. The subject comes
    /// from the CSR; the registration path (later work) builds holder subjects itself.
    Issue {
        /// The CSR (PEM or DER).
        #[arg(long)]
        csr: PathBuf,
        /// Profile: user-card, operator, server, station (a personalization station).
        #[arg(long, default_value = "user-card")]
        profile: ProfileKind,
        /// Validity: 3y or 5y (第10条).
        #[arg(long)]
        validity: ValidityPeriod,
    },
    /// Show a certificate and its status.
    Show {
        /// Serial in hex (any case, colons optional).
        serial: CertSerial,
        /// Print the PEM instead of the details.
        #[arg(long)]
        pem: bool,
    },
    /// The signed revocation receipt (第23条3): a CMS SignedData (DER) over the record of
    /// docs/REVOCATION-RECEIPT.asn1, signed by the audit signer once the first CRL listing
    /// the revocation was published and read back. Check it with `kmn receipt verify`.
    Receipt {
        /// Serial in hex (any case, colons optional).
        serial: CertSerial,
        /// Where to write it (e.g. receipt.p7m); an existing file is not overwritten.
        #[arg(long)]
        out: PathBuf,
    },
    /// The Japanese letter to the facility (「電子証明書失効のお知らせ」, A4 PDF) with
    /// every timestamp of the evidence, once the first CRL listing it was published.
    Letter {
        /// Serial in hex (any case, colons optional).
        serial: CertSerial,
        /// Where to write the PDF; an existing file is not overwritten.
        #[arg(long)]
        out: PathBuf,
    },
    /// Revoke a certificate; the CRL is published at once.
    Revoke {
        /// Serial in hex (any case, colons optional).
        serial: CertSerial,
        /// key-compromise | privilege-withdrawn | superseded | affiliation-changed | cessation-of-operation
        #[arg(long)]
        reason: RevocationReason,
        /// Free text kept with the revocation. (The terms' grounds — 第11条, 第12条 … —
        /// go through the RA's paths, which record the article themselves.)
        #[arg(long)]
        comment: Option<String>,
        /// key-compromise only: the last time the key was known safe (RFC 3339).
        #[arg(long)]
        invalidity_date: Option<String>,
    },
}

#[derive(Subcommand, Debug)]
pub enum ReceiptCommand {
    /// 失効の証明（`kmn cert receipt`）を検証します: CMS の署名、署名者の証明書がルート
    /// 認証局まで連なること、文書署名用途（id-kp-documentSigning）、内容の型
    /// （id-ct-kmnRevocationReceipt）を確かめ、記録の内容を表示します。終了コード 0 は
    /// 検証成功、1 は失敗です。
    Verify {
        /// 失効の証明のファイル（DER、例 receipt.p7m）
        file: PathBuf,
        /// ルート認証局の証明書（PEM または DER）。省略時はデータディレクトリのリポジトリのルート
        #[arg(long)]
        root: Option<PathBuf>,
        /// CRL のファイル（DER または PEM）: その SHA-256 が、失効を最初に載せた CRL として
        /// 失効の証明に記録されたものと一致することも確かめます
        #[arg(long)]
        crl: Option<PathBuf>,
    },
}

#[derive(Subcommand, Debug)]
pub enum CrlCommand {
    /// Build, sign and publish the CRL of every issuing CA now.
    Publish,
}

#[derive(Subcommand, Debug)]
pub enum AuditCommand {
    /// Check the hash chain (edited, deleted, inserted or reordered events), the seals of
    /// the access log, and the chain against the newest signed checkpoint file (a rewound
    /// or rewritten chain). Exit 1 on any problem.
    Verify,
    /// Seal the reads logged so far and sign a checkpoint of the audit log now (with the
    /// audit signer's key: the CA passphrase, or the HSM PIN).
    Checkpoint,
    /// Make a new audit signer under the active issuing CA (a data dir made before audit
    /// signers existed, or to renew it; `kmn serve` also does this at start when none is
    /// valid for 30 more days).
    Key,
}

#[derive(Subcommand, Debug)]
pub enum ConfigCommand {
    /// Load kmn.toml and the environment, check them, and print the result (secrets redacted).
    Check,
}

/// The reasons for which the root revokes an issuing CA (RFC 5280 §5.3.1).
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum IssuingRevocationReason {
    /// keyCompromise.
    KeyCompromise,
    /// cACompromise.
    CaCompromise,
    /// superseded.
    Superseded,
    /// cessationOfOperation.
    CessationOfOperation,
}

impl IssuingRevocationReason {
    fn reason(self) -> RevocationReason {
        match self {
            Self::KeyCompromise => RevocationReason::KeyCompromise,
            Self::CaCompromise => RevocationReason::CaCompromise,
            Self::Superseded => RevocationReason::Superseded,
            Self::CessationOfOperation => RevocationReason::CessationOfOperation,
        }
    }
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum PurposeArg {
    Any,
    ClientAuth,
    ServerAuth,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum VerifyProfileArg {
    Rfc5280,
    Kmn,
}

#[derive(Args, Debug)]
pub struct VerifyArgs {
    /// Trust anchor(s), PEM or DER (the network's roots).
    #[arg(long, required_unless_present = "hpki_anchor")]
    anchor: Vec<PathBuf>,
    /// HPKI trust anchor(s), PEM or DER: the certificate is checked as an HPKI physician
    /// card's authentication certificate under them (the HPKI profile: the
    /// --hpki-auth-policy-oid policy, keyUsage digitalSignature without nonRepudiation, no
    /// extendedKeyUsage needed; a signature certificate is refused). With --anchor as well,
    /// the certificate is valid if either accepts it.
    #[arg(long)]
    hpki_anchor: Vec<PathBuf>,
    /// HPKI authentication certificate policy OIDs (an OID or an arc above it); default
    /// 1.2.392.100495.1.5.1.2 (a placeholder: see docs/VERIFY.md and set the OIDs of the
    /// HPKI certificate policy you trust).
    #[arg(long)]
    hpki_auth_policy_oid: Vec<String>,
    /// HPKI signature certificate policy OIDs, refused for login; default
    /// 1.2.392.100495.1.5.1.1 (see docs/VERIFY.md).
    #[arg(long)]
    hpki_signature_policy_oid: Vec<String>,
    /// Seconds an HPKI CA's CRL is still used past its nextUpdate.
    #[arg(long, default_value_t = 0)]
    hpki_crl_grace: u64,
    /// Also check the leaf by OCSP (RFC 6960) once the path is valid, asking the responder in
    /// its authorityInfoAccess (or --ocsp-url): the response must be signed by the issuing CA
    /// or its delegated OCSP signer, match the certificate and be current; revoked, unknown or
    /// no usable response makes the certificate invalid (fail closed).
    #[arg(long)]
    ocsp: bool,
    /// The OCSP responder to ask (http://, e.g. http://HOST/ocsp); implies --ocsp.
    #[arg(long)]
    ocsp_url: Option<String>,
    /// Intermediate certificates, PEM bundle or DER.
    #[arg(long)]
    intermediates: Vec<PathBuf>,
    /// CRLs (PEM or DER); with CRLs, revocation of the whole chain is checked.
    #[arg(long)]
    crl: Vec<PathBuf>,
    /// CRL URLs (http://, e.g. http://HOST/repo/kmn-issuing-g1.crl), fetched once. With URLs,
    /// every CRL (fetched or --crl) must verify with a given anchor or intermediate and is
    /// checked through the revocation index (docs/VERIFY.md); a CRL that cannot be fetched
    /// makes the certificates it covers invalid (fail closed).
    #[arg(long)]
    crl_url: Vec<String>,
    /// Validation time (RFC 3339); default now.
    #[arg(long)]
    at: Option<String>,
    /// Purpose of the leaf: client-auth and server-auth require that key purpose in the
    /// leaf's extendedKeyUsage (and in any CA of the path that has one).
    #[arg(long, value_enum, default_value = "any")]
    purpose: PurposeArg,
    /// With --purpose server-auth: the DNS name the server certificate must carry as a
    /// subjectAltName dNSName (RFC 6125; no common-name fallback; `*` only as the whole
    /// left-most label).
    #[arg(long)]
    dns_name: Option<String>,
    /// rfc5280, or kmn: adds the purpose's EKU (clientAuth unless server-auth) and this
    /// network's policy OID.
    #[arg(long, value_enum, default_value = "rfc5280")]
    profile: VerifyProfileArg,
    /// Policy OIDs the kmn profile accepts (default: the data dir's CA's user-card policy, or
    /// its server policy with --purpose server-auth).
    #[arg(long)]
    policy_oid: Vec<String>,
    /// The certificate to check (PEM or DER).
    cert: PathBuf,
}

/// A CA-administration command's error: `error: <message> (<CODE>)`, one line, one code
/// (the operator commands print `エラー: <メッセージ> (<CODE>)`, `ops::fail`).
fn fail(e: &AppError) -> ExitCode {
    let message = e.to_string();
    let (first, rest) = message.split_once('\n').unwrap_or((&message, ""));
    eprintln!("error: {first} ({})", e.code());
    if !rest.is_empty() {
        eprintln!("{rest}");
    }
    ExitCode::from(1)
}

async fn open(data_dir: &Path) -> Result<App, AppError> {
    crate::ops::open(data_dir).await
}

fn ts(t: i64) -> String {
    kmn_domain::time_fmt::rfc3339_unix(t)
}

pub async fn run(cli: Cli) -> ExitCode {
    let admin = kmn_app::rights::CaAdmin::local(cli.actor.as_deref());
    let who = admin.name().to_string();
    let _ = crate::ops::CLI_ACTOR.set(who.clone());
    let r = match &cli.command {
        Command::Up { no_demo } => return up(&cli.data_dir, !*no_demo).await,
        Command::Serve => return serve(&cli.data_dir).await,
        Command::Ca(c) => ca_cmd(&cli.data_dir, c, &admin).await,
        Command::Cert(c) => cert_cmd(&cli.data_dir, c, &admin).await,
        Command::Crl(CrlCommand::Publish) => crl_publish(&cli.data_dir, &who).await,
        Command::Verify(v) => return verify(&cli.data_dir, v).await,
        Command::Receipt(ReceiptCommand::Verify { file, root, crl }) => {
            return receipt_verify(&cli.data_dir, file, root.as_deref(), crl.as_deref()).await;
        }
        Command::Audit(AuditCommand::Verify) => return audit_verify(&cli.data_dir).await,
        Command::Audit(AuditCommand::Checkpoint) => audit_checkpoint(&cli.data_dir, &admin).await,
        Command::Audit(AuditCommand::Key) => audit_key(&cli.data_dir, &admin).await,
        Command::Config(ConfigCommand::Check) => config_check(&cli.data_dir).await,
        Command::Facility { command, out } => {
            return crate::ops::facility(&cli.data_dir, &admin, command, *out).await;
        }
        Command::Person { command, out } => {
            return crate::ops::person(&cli.data_dir, &admin, command, *out).await;
        }
        Command::Application { command, out } => {
            return crate::ops::application(&cli.data_dir, &admin, command, *out).await;
        }
        Command::Account { command, out } => {
            return crate::ops::account(&cli.data_dir, &admin, command, *out).await;
        }
        Command::Card { command, out } => {
            return crate::ops::card(&cli.data_dir, &admin, command, *out).await;
        }
        Command::Doctor { command, out } => {
            return crate::doctor_cmd::doctor(&cli.data_dir, &admin, command, *out).await;
        }
        Command::Notice { command, out } => {
            return crate::ops::notice(&cli.data_dir, &admin, command, *out).await;
        }
        Command::Document { command, out } => {
            return crate::ops::document(&cli.data_dir, &admin, command, *out).await;
        }
        Command::PublicNotice { command, out } => {
            return crate::ops::public_notice(&cli.data_dir, &admin, command, *out).await;
        }
        Command::Gateway(g) => return crate::gateway_cmd::gateway(g).await,
        Command::Proposal { command, out } => {
            return crate::proposal_cmd::proposal(command, *out).await;
        }
    };
    match r {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(&e),
    }
}

/// What a key ceremony may create before it can fail (the data dir, the database file,
/// `secrets/`, `repo/`): a failed ceremony removes what it created and leaves what was
/// there.
struct Made {
    data_dir: Option<PathBuf>,
    db: Option<PathBuf>,
    dirs: Vec<PathBuf>,
}

impl Made {
    fn before(data_dir: &Path, cfg: &Config) -> Made {
        let db = cfg
            .database_url(data_dir)
            .strip_prefix("sqlite://")
            .map(|p| PathBuf::from(p.split('?').next().unwrap_or_default()))
            .filter(|p| !p.as_os_str().is_empty() && !p.exists());
        let dirs = [data_dir.join("secrets"), cfg.repository_dir(data_dir)]
            .into_iter()
            .filter(|d| !d.exists())
            .collect();
        Made {
            data_dir: (!data_dir.exists()).then(|| data_dir.to_path_buf()),
            db,
            dirs,
        }
    }

    fn undo(&self) {
        if let Some(db) = &self.db {
            for suffix in ["", "-wal", "-shm", "-journal"] {
                let mut p = db.as_os_str().to_owned();
                p.push(suffix);
                let _ = std::fs::remove_file(PathBuf::from(p));
            }
        }
        // Only empty directories go: ca::init has removed its own files already.
        for d in &self.dirs {
            let _ = std::fs::remove_dir(d);
        }
        if let Some(d) = &self.data_dir {
            let _ = std::fs::remove_dir(d);
        }
    }
}

async fn ca_cmd(
    data_dir: &Path,
    c: &CaCommand,
    admin: &kmn_app::rights::CaAdmin,
) -> Result<(), AppError> {
    let who = admin.name();
    match c {
        CaCommand::Init(a) => {
            let cfg = Config::load_or_default(data_dir)?;
            let hsm = a.hsm.params()?;
            let passphrase = kmn_app::config::env_or_file("KMN_CA_PASSPHRASE")?.ok_or_else(|| {
                AppError::Passphrase(
                    "set KMN_CA_PASSPHRASE or KMN_CA_PASSPHRASE_FILE to the passphrase that will protect the CA keys (never on the command line)".into(),
                )
            })?;
            kmn_app::secrets::check_passphrase(&passphrase)?;
            if !cfg.demo {
                let unset = Config::unset_certificate_settings(data_dir)?;
                if !unset.is_empty() {
                    return Err(AppError::Config(format!(
                        "{} not configured: every certificate of this CA will carry them and they cannot change afterwards. Set them in {} (e.g. public_base_url = \"http://pki.example.jp\", organization = \"Kumamoto Medical Association\") or with KMN_PUBLIC_BASE_URL / KMN_ORGANIZATION, then run `kmn ca init` again (or set demo = true for a trial CA). Nothing was made.",
                        unset.join(" and "),
                        Config::path(data_dir).display()
                    )));
                }
            }
            let made = Made::before(data_dir, &cfg);
            kmn_app::secrets::ensure_dir(data_dir, 0o700)?;
            let app = match App::with_config(data_dir, cfg.clone(), Arc::new(SystemClock)).await {
                Ok(app) => app,
                Err(e) => {
                    made.undo();
                    return Err(e);
                }
            };
            let params = CeremonyParams {
                root_key: a.root_key,
                issuing_key: a.issuing_key,
                ocsp_key: a.ocsp_key,
                root_years: a.root_years,
                issuing_years: a.issuing_years,
                ocsp_days: a.ocsp_days,
                policy_arc: a.policy_arc.clone(),
                operator: who.to_string(),
                hsm,
            };
            let plan = match ca::ceremony_plan(&app) {
                Ok(p) => p,
                Err(e) => {
                    app.close().await;
                    made.undo();
                    return Err(e);
                }
            };
            println!("The certificates will carry:");
            for l in plan {
                println!("  {l}");
            }
            use std::io::Write;
            let _ = std::io::stdout().flush();
            let rec = match ca::init(&app, &params, &passphrase).await {
                Ok(rec) => rec,
                Err(e) => {
                    app.close().await;
                    made.undo();
                    return Err(e);
                }
            };
            if !Config::path(data_dir).exists() {
                kmn_app::secrets::write_atomic(
                    &Config::path(data_dir),
                    cfg.to_toml().as_bytes(),
                    0o600,
                )?;
            }
            println!("Key ceremony complete.");
            println!("  root         {}  SHA-256 {}", rec.root.0, rec.root.1);
            println!(
                "  issuing CA   {}  SHA-256 {}",
                rec.issuing.0, rec.issuing.1
            );
            println!("  OCSP signer  {}  SHA-256 {}", rec.ocsp.0, rec.ocsp.1);
            println!("  audit signer {}  SHA-256 {}", rec.audit.0, rec.audit.1);
            match &rec.checkpoint {
                Some(c) => println!(
                    "  checkpoint   #{} of the audit log (event {}) -> {}",
                    c.number,
                    c.event_seq,
                    c.path.display()
                ),
                None => println!(
                    "  checkpoint   not signed yet (see the log); `kmn audit checkpoint` signs one"
                ),
            }
            println!(
                "  policy arc   {} (user cards .1, operators .2, servers .3)",
                rec.policy_arc
            );
            for f in &rec.files {
                println!("  published    {f}");
            }
            for (name, key_ref) in &rec.key_refs {
                println!("  key          {name}  {key_ref}");
            }
            println!("The ceremony record is in the audit log (`kmn audit verify`).");
            Ok(())
        }
        CaCommand::SignArl => {
            let app = open(data_dir).await?;
            let p = ca::sign_arl(&app, admin).await?;
            println!(
                "ARL #{} of {} published: {} entries, next update {}",
                p.number,
                p.ca_name,
                p.entries,
                kmn_domain::time_fmt::rfc3339(p.next_update)
            );
            Ok(())
        }
        CaCommand::NewIssuing { key, years, hsm } => {
            let app = open(data_dir).await?;
            let hsm = hsm.params()?;
            let pass = app.cfg.ca_passphrase(data_dir)?;
            let made = ca::new_issuing(&app, *key, *years, admin, &pass, hsm.as_ref()).await?;
            println!(
                "New issuing CA {} (SHA-256 {}) is now active.",
                made.issuing.0, made.issuing.1
            );
            println!("  OCSP signer  {}  SHA-256 {}", made.ocsp.0, made.ocsp.1);
            println!("  audit signer {}  SHA-256 {}", made.audit.0, made.audit.1);
            for (name, key_ref) in &made.key_refs {
                println!("  key          {name}  {key_ref}");
            }
            Ok(())
        }
        CaCommand::NewOcspSigner => {
            let app = open(data_dir).await?;
            let k = ca::new_ocsp_signer(&app, admin).await?;
            println!(
                "OCSP signer {} (SHA-256 {}, key {}, until {}) is now active; `kmn serve` signs every stored OCSP response again with it.",
                k.name,
                k.fingerprint,
                k.key_ref,
                kmn_domain::time_fmt::rfc3339(k.not_after)
            );
            Ok(())
        }
        CaCommand::RevokeIssuing {
            ca: target,
            reason,
            comment,
        } => {
            let app = open(data_dir).await?;
            let r = ca::revoke_issuing(&app, target, reason.reason(), comment.as_deref(), admin)
                .await?;
            println!(
                "Issuing CA {} (certificate {}) revoked at {} ({}).",
                r.ca_name,
                r.serial_hex,
                ts(r.revoked_at),
                reason.reason().rfc_name()
            );
            println!(
                "ARL #{} of {} published: {} entries, next update {}",
                r.arl.number,
                r.arl.ca_name,
                r.arl.entries,
                kmn_domain::time_fmt::rfc3339(r.arl.next_update)
            );
            Ok(())
        }
        CaCommand::Backup { out } => {
            let app = open(data_dir).await?;
            let font = kmn_letters::Font::load_default()
                .map_err(|e| AppError::Config(format!("分散鍵の用紙（PDF）を作れません: {e}")))?;
            // The sheet is read by people: the association's Japanese name, not the
            // certificates' organization (`organization`, often in English).
            let org = kmn_letters::ASSOCIATION_JA.to_string();
            let render = |s: &kmn_app::ca::backup::Share| {
                let sheet = kmn_letters::ShareSheet {
                    custodian: s.custodian,
                    shares: s.shares,
                    threshold: s.threshold,
                    organization: org.clone(),
                    root_name: s.root_name.clone(),
                    root_sha256: s.root_sha256.clone(),
                    backup_id: s.backup_id.clone(),
                    created_on: s.created.to_offset(kmn_domain::time_fmt::JST).date(),
                    record_lines: s.record_lines(),
                };
                kmn_letters::share_sheet_pdf(&font, &sheet)
                    .map_err(|e| AppError::Io(format!("分散鍵の用紙（PDF）を作れません: {e}")))
            };
            let b = kmn_app::ca::backup::backup(&app, out, admin, Some(&render)).await?;
            println!(
                "ルート鍵のバックアップを作成しました（バックアップID {}）。",
                b.backup_id
            );
            println!("  ルート認証局        {}  SHA-256 {}", b.root.0, b.root.1);
            println!("  ラップ済みルート鍵  {}", b.wrapped_file.display());
            for (n, txt, pdf) in &b.custodians {
                println!(
                    "  保管者 {n}            {}{}",
                    txt.display(),
                    pdf.as_ref()
                        .map(|p| format!("  {}", p.display()))
                        .unwrap_or_default()
                );
            }
            println!(
                "{}人中{}人の分散鍵で復元できます（5つのうちどの3つの組み合わせでも復元できることを確認済み）。",
                kmn_app::ca::backup::SHARES,
                kmn_app::ca::backup::THRESHOLD
            );
            println!(
                "各保管者に分散鍵のファイルと印刷した用紙を渡し、このディレクトリの分散鍵は削除してください。"
            );
            println!(
                "復元の確認: kmn ca restore --verify-only --wrapped {} --share … --share … --share …",
                b.wrapped_file.display()
            );
            Ok(())
        }
        CaCommand::Restore {
            wrapped,
            shares,
            verify_only,
        } => {
            let app = open(data_dir).await?;
            let pass = match verify_only {
                true => None,
                false => Some(app.cfg.ca_passphrase(data_dir)?),
            };
            let pass = pass.as_ref().map(|p| p.as_str()).unwrap_or_default();
            let r = kmn_app::ca::backup::restore(&app, wrapped, shares, pass, admin, *verify_only)
                .await?;
            let used = r
                .custodians
                .iter()
                .map(u8::to_string)
                .collect::<Vec<_>>()
                .join("、");
            match &r.key_file {
                Some(p) => println!(
                    "ルート鍵を復元しました: {}（SHA-256 {}）。保管者 {used} の分散鍵を使い、{} に書き込みました（CAのパスフレーズで暗号化済み）。",
                    r.root.0,
                    r.root.1,
                    p.display()
                ),
                None => println!(
                    "復元を確認しました: 保管者 {used} の分散鍵からルート鍵を復元でき、ルート認証局 {}（SHA-256 {}）の証明書の鍵と一致しました。ファイルは書き込んでいません。",
                    r.root.0, r.root.1
                ),
            }
            Ok(())
        }
    }
}

async fn cert_cmd(
    data_dir: &Path,
    c: &CertCommand,
    admin: &kmn_app::rights::CaAdmin,
) -> Result<(), AppError> {
    let who = admin.name();
    let app = open(data_dir).await?;
    match c {
        CertCommand::Issue {
            csr,
            profile,
            validity,
        } => {
            let bytes = std::fs::read(csr).map_err(|e| {
                AppError::BadInput(format!("cannot read the CSR {}: {e}", csr.display()))
            })?;
            let i = kmn_app::ca::issue::issue_from_csr(&app, &bytes, *profile, *validity, admin)
                .await?;
            print!("{}", kmn_pki::cert::to_pem(&i.der));
            eprintln!("issued {profile} certificate");
            eprintln!("  serial      {}", i.serial_hex);
            eprintln!("  subject     {}", i.subject);
            eprintln!("  issuer      {}", i.ca_name);
            eprintln!(
                "  not after   {}",
                kmn_domain::time_fmt::rfc3339(i.not_after)
            );
            eprintln!("  SHA-256     {}", i.fingerprint_sha256);
            Ok(())
        }
        CertCommand::Show { serial, pem } => {
            let c = kmn_app::ca::issue::certificate(&app, admin, &serial.to_hex()).await?;
            let c = c.ok_or_else(|| {
                AppError::NotFound(format!(
                    "no certificate with serial {serial} was issued by this CA"
                ))
            })?;
            if *pem {
                print!("{}", kmn_pki::cert::to_pem(&c.der));
                return Ok(());
            }
            let now = app.now();
            let status = match (c.status, c.not_after < now) {
                (kmn_domain::CertStatus::Revoked, _) => "revoked",
                (_, true) => "expired",
                (kmn_domain::CertStatus::OnHold, _) => "on hold (awaiting receipt)",
                (kmn_domain::CertStatus::Valid, _) => "valid",
            };
            println!("serial       {}", c.serial_hex);
            println!("subject      {}", c.subject);
            println!("profile      {}", c.profile);
            println!("issuer       {}", c.ca_name);
            println!("not before   {}", ts(c.not_before));
            println!("not after    {}", ts(c.not_after));
            println!("SHA-256      {}", c.fingerprint_sha256);
            println!("status       {status}");
            if let Some(r) = &c.revocation {
                println!(
                    "reason       {} ({})",
                    r.reason.rfc_name(),
                    r.reason.label_ja()
                );
                println!("revoked at   {}", ts(r.revoked_at));
                if let Some(t) = r.request_received_at {
                    println!(
                        "requested at {} by {}",
                        ts(t),
                        r.requested_by.as_deref().unwrap_or("?")
                    );
                }
                if let Some(a) = &r.article {
                    println!("article      {a}");
                }
                if let Some(g) = &r.grounds {
                    let label = kmn_domain::RevocationGrounds::parse(g)
                        .map(kmn_domain::RevocationGrounds::label_ja)
                        .unwrap_or_default();
                    println!("grounds      {g} ({label})");
                }
                if let Some(ch) = &r.channel {
                    let label = ch
                        .parse::<kmn_domain::RevocationChannel>()
                        .map(|c| c.label_ja())
                        .unwrap_or_default();
                    println!("channel      {ch} ({label})");
                }
                if let Some(t) = r.invalidity_date {
                    println!("invalid from {}", ts(t));
                }
                if let Some(cm) = &r.comment {
                    println!("comment      {cm}");
                }
                let e =
                    kmn_app::ca::evidence::load(&app, &admin.reader(), &serial.to_hex()).await?;
                print_evidence(&e);
            }
            Ok(())
        }
        CertCommand::Receipt { serial, out } => {
            let r = kmn_app::ca::evidence::receipt(&app, &admin.reader(), &serial.to_hex()).await?;
            write_new(out, &r.der)?;
            println!(
                "失効の証明を {} に書き込みました（証明書 {}、最初のCRL 第{}号、作成 {}）。",
                out.display(),
                r.record.serial_hex(),
                r.record.first_crl.number,
                kmn_domain::time_fmt::ja_datetime_secs(r.record.issued_at)
            );
            println!("検証: kmn receipt verify {}", out.display());
            Ok(())
        }
        CertCommand::Letter { serial, out } => {
            let pdf =
                kmn_app::ca::evidence::letter(&app, &admin.reader(), &serial.to_hex()).await?;
            write_new(out, &pdf)?;
            println!(
                "電子証明書失効のお知らせ（PDF）を {} に書き込みました。",
                out.display()
            );
            Ok(())
        }
        CertCommand::Revoke {
            serial,
            reason,
            comment,
            invalidity_date,
        } => {
            let inv = match invalidity_date {
                None => None,
                Some(s) => Some(
                    time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
                        .map_err(|_| AppError::BadInput(format!("--invalidity-date '{s}' is not RFC 3339 (e.g. 2026-11-26T09:00:00+09:00)")))?,
                ),
            };
            let req = kmn_app::ca::revoke::RevokeRequest {
                serial: serial.clone(),
                reason: *reason,
                comment: comment.clone(),
                invalidity_date: inv,
                received_at: None,
                requested_by: who.to_string(),
            };
            let at = kmn_app::ca::revoke::revoke(&app, &req).await?;
            println!("revoked {} at {} ({})", serial, ts(at), reason.rfc_name());
            // The CRL was published by the after-commit effect (a failure is a warning
            // on stderr: the revocation stays).
            let crl = crate::ops::after_commit_reports();
            if !crl.text.is_empty() {
                println!("{}", crl.text.trim_start());
            }
            Ok(())
        }
    }
}

/// A time for people and machines: `2026-12-07T12:00:01Z (2026年12月7日 21:00:01)`.
fn both(t: i64) -> String {
    format!("{} ({})", ts(t), kmn_domain::time_fmt::ja_unix_secs(t))
}

/// The evidence block of `kmn cert show` (第23条3): every timestamp, or what has not
/// happened yet.
fn print_evidence(e: &kmn_app::views::Evidence) {
    let or_not = |t: Option<i64>, not: &str| t.map_or_else(|| not.to_string(), both);
    println!("evidence (第23条3)");
    println!(
        "  request received  {}",
        or_not(e.request_received_at, "not recorded")
    );
    if let Some(ch) = e.channel_label_ja() {
        println!(
            "  through           {} via {} ({ch})",
            e.requested_by.as_deref().unwrap_or("?"),
            e.channel.as_deref().unwrap_or("?")
        );
    }
    println!(
        "  revoked           {}",
        or_not(e.revoked_at, "not revoked")
    );
    match (e.first_crl_number, e.first_crl_published_at) {
        (Some(n), Some(t)) => {
            println!(
                "  first CRL         #{n}, published and read back {}",
                both(t)
            );
            if let Some(h) = &e.first_crl_sha256 {
                println!("  first CRL SHA-256 {h}");
            }
        }
        _ => println!("  first CRL         not yet published"),
    }
    match (e.first_ocsp_produced_at, e.first_ocsp_at) {
        (Some(p), Some(t)) => println!(
            "  first OCSP        produced {}, stored and read back {}",
            ts(p),
            both(t)
        ),
        _ => println!("  first OCSP        not yet signed and read back"),
    }
}

/// Writes a new file (never over an existing one).
fn write_new(path: &Path, bytes: &[u8]) -> Result<(), AppError> {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(|e| {
            AppError::Io(format!(
                "{} に書き込めません（既にあるファイルは上書きしません）: {e}",
                path.display()
            ))
        })?;
    f.write_all(bytes)
        .and_then(|()| f.sync_all())
        .map_err(|e| AppError::Io(format!("{} に書き込めません: {e}", path.display())))
}

/// `kmn receipt verify`: exit 0 when the receipt verifies, 1 otherwise.
async fn receipt_verify(
    data_dir: &Path,
    file: &Path,
    root: Option<&Path>,
    crl: Option<&Path>,
) -> ExitCode {
    let read = |p: &Path| {
        std::fs::read(p)
            .map_err(|e| AppError::BadInput(format!("{} を読み込めません: {e}", p.display())))
    };
    let r = async {
        let der = read(file)?;
        let anchors = match root {
            Some(p) => kmn_verify::load_pem_or_der_bundle(&read(p)?).map_err(|e| {
                AppError::BadInput(format!("{} を証明書として読めません: {e}", p.display()))
            })?,
            None => kmn_app::ca::evidence::repository_roots(&open(data_dir).await?),
        };
        let crl = match crl {
            Some(p) => Some(read(p)?),
            None => None,
        };
        kmn_app::ca::evidence::verify_receipt(&der, &anchors, crl.as_deref())
    }
    .await;
    let v = match r {
        Ok(v) => v,
        Err(e) => {
            eprintln!("検証できません: {e} ({})", e.code());
            return ExitCode::from(1);
        }
    };
    let r = &v.record;
    let ja = kmn_domain::time_fmt::ja_datetime_secs;
    let rfc = kmn_domain::time_fmt::rfc3339;
    let grounds = kmn_domain::RevocationGrounds::parse(&r.grounds)
        .map(kmn_domain::RevocationGrounds::label_ja)
        .unwrap_or_default();
    let channel = r
        .channel
        .parse::<kmn_domain::RevocationChannel>()
        .map(|c| c.label_ja())
        .unwrap_or_default();
    println!(
        "失効の証明を検証しました（署名、署名者の証明書のルート認証局までの検証、文書署名用途、内容の型）。"
    );
    println!("  証明書シリアル番号     {}", r.serial_hex());
    println!(
        "  発行者                 {}",
        kmn_pki::name::display_name_der(&r.issuer)
    );
    println!(
        "  失効の事由             {grounds} [{}]{}",
        r.grounds,
        r.article
            .as_deref()
            .map(|a| format!("（利用規約{a}）"))
            .unwrap_or_default()
    );
    println!(
        "  失効理由（RFC 5280）   {} ({})",
        r.reason.rfc_name(),
        r.reason.label_ja()
    );
    println!("  申出の経路             {channel} [{}]", r.channel);
    println!("  申出者                 {}", r.requested_by);
    println!(
        "  申出の受付             {}（{}）",
        ja(r.request_received_at),
        rfc(r.request_received_at)
    );
    println!(
        "  失効                   {}（{}）",
        ja(r.revoked_at),
        rfc(r.revoked_at)
    );
    if let Some(t) = r.invalidity_date {
        println!("  無効となった日時       {}（{}）", ja(t), rfc(t));
    }
    println!(
        "  最初のCRL              第{}号（thisUpdate {}）、公開・読み戻し {}（{}）",
        r.first_crl.number,
        rfc(r.first_crl.this_update),
        ja(r.first_crl.published_at),
        rfc(r.first_crl.published_at)
    );
    println!(
        "  最初のCRLのSHA-256     {}",
        hex::encode(r.first_crl.sha256)
    );
    match r.first_ocsp_at {
        Some(t) => println!("  最初のOCSP応答         {}（{}）", ja(t), rfc(t)),
        None => println!("  最初のOCSP応答         （作成時に未確認）"),
    }
    println!(
        "  作成（署名）           {}（{}）",
        ja(r.issued_at),
        rfc(r.issued_at)
    );
    println!("  署名者                 {}", v.chain.join(" ← "));
    if v.crl_matched {
        println!("  CRLの照合              一致（指定のCRLファイルのSHA-256が記録と同じです）");
    }
    ExitCode::SUCCESS
}

async fn crl_publish(data_dir: &Path, who: &str) -> Result<(), AppError> {
    let app = open(data_dir).await?;
    // The whole repository comes from the database: CA certificates and the root's ARL
    // first (a data dir restored from a backup has none), then fresh issuing CRLs.
    for r in kmn_app::ca::repo::rebuild(&app).await? {
        println!("{} restored -> {}", r.what, r.path.display());
    }
    for p in kmn_app::ca::crl::publish_all(&app, who).await? {
        println!(
            "CRL #{} of {} published: {} entries, this update {}, next update {} -> {}",
            p.number,
            p.ca_name,
            p.entries,
            kmn_domain::time_fmt::rfc3339(p.this_update),
            kmn_domain::time_fmt::rfc3339(p.next_update),
            p.path.display()
        );
    }
    Ok(())
}

async fn audit_verify(data_dir: &Path) -> ExitCode {
    let app = match open(data_dir).await {
        Ok(a) => a,
        Err(e) => return fail(&e),
    };
    match kmn_app::audit::verify(&app).await {
        Ok(r) => {
            for l in &r.checked {
                println!("{l}");
            }
            for w in &r.warnings {
                eprintln!("warning: {w}");
            }
            for p in &r.problems {
                eprintln!("audit log BROKEN: {p}");
            }
            if r.problems.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
        Err(e) => fail(&e),
    }
}

async fn audit_checkpoint(
    data_dir: &Path,
    admin: &kmn_app::rights::CaAdmin,
) -> Result<(), AppError> {
    let app = open(data_dir).await?;
    let c = kmn_app::audit::checkpoint(&app, admin).await?;
    println!(
        "checkpoint #{} of the audit log: event {}, head {}, signed {} by {} -> {}",
        c.number,
        c.event_seq,
        c.head_hash,
        kmn_domain::time_fmt::rfc3339(c.signed_at),
        c.signer,
        c.path.display()
    );
    Ok(())
}

async fn audit_key(data_dir: &Path, admin: &kmn_app::rights::CaAdmin) -> Result<(), AppError> {
    let app = open(data_dir).await?;
    let k = kmn_app::audit::new_key(&app, admin).await?;
    println!(
        "audit signer {} (SHA-256 {}, key {}, until {}) is now active",
        k.name,
        k.fingerprint,
        k.key_ref,
        kmn_domain::time_fmt::rfc3339(k.not_after)
    );
    Ok(())
}

/// `kmn config check`: every problem is printed, and the command fails (with the first
/// problem's code) when there is any. Each HSM key is opened once; a login the token
/// refused is never tried again with the same PIN (kmn-token keeps a refused PIN out).
async fn config_check(data_dir: &Path) -> Result<(), AppError> {
    let cfg = Config::load(data_dir)?;
    let app = App::with_config(data_dir, cfg.clone(), Arc::new(SystemClock)).await?;
    println!("{cfg:#?}");
    println!("database: reachable ({})", app.backend_name());
    let mut problems: Vec<AppError> = Vec::new();
    let mut refused_tokens: Vec<String> = Vec::new();
    let cas = kmn_app::views::public::cas(&app).await?;
    let now = app.now();
    let live: Vec<_> = cas
        .into_iter()
        .filter(|c| c.active && c.not_after > now)
        .collect();
    let online_software = live
        .iter()
        .any(|c| c.kind != CaKind::Root && !kmn_app::ca::hsm::is_hsm_ref(&c.key_ref));
    match cfg.ca_passphrase(data_dir) {
        Ok(_) => println!("CA passphrase: available"),
        // Not needed to serve when every online key is in the HSM (the root is offline).
        Err(AppError::Passphrase(m)) if !online_software => {
            println!("CA passphrase: not set ({m}); needed for the root key only")
        }
        Err(e) => {
            println!("CA passphrase: {e}");
            problems.push(e);
        }
    }
    for rec in live {
        let (name, key_ref) = (rec.name.clone(), rec.key_ref.clone());
        if rec.kind == CaKind::Root {
            let present = key_ref
                .strip_prefix("file:")
                .is_some_and(|f| data_dir.join(f).exists());
            println!(
                "CA key {name}: {key_ref}: {}",
                if present {
                    "present (move it to offline storage after the ceremony)"
                } else {
                    "offline"
                }
            );
            continue;
        }
        if !kmn_app::ca::hsm::is_hsm_ref(&key_ref)
            && problems
                .iter()
                .any(|p| matches!(p, AppError::Passphrase(_) | AppError::Config(_)))
        {
            println!("CA key {name}: {key_ref}: not checked (no usable CA passphrase)");
            continue;
        }
        let token = kmn_app::ca::hsm::HsmKeyRef::parse(&key_ref)
            .ok()
            .map(|r| r.token);
        if let Some(t) = token.as_ref().filter(|t| refused_tokens.contains(t)) {
            println!(
                "CA key {name}: {key_ref}: not checked: the token '{t}' refused the PIN above (another login would use up another PIN try)"
            );
            continue;
        }
        let r = ca::load_named(&app, &rec.name)
            .await
            .and_then(|c| c.signer.check().map_err(AppError::from));
        match r {
            Ok(()) => println!("CA key {name}: {key_ref}: usable"),
            Err(e) => {
                println!("CA key {name}: {key_ref}: {e}");
                if kmn_app::ca::hsm::pin_refused(&e) {
                    refused_tokens.extend(token);
                }
                problems.push(e);
            }
        }
    }
    match problems.len() {
        0 => {
            println!("configuration: OK");
            Ok(())
        }
        n => {
            println!("configuration: {n} problem(s)");
            Err(problems.remove(0))
        }
    }
}

async fn up(data_dir: &Path, demo: bool) -> ExitCode {
    let (app, first) =
        match kmn_app::quickstart::prepare(data_dir, Arc::new(SystemClock), demo).await {
            Ok(x) => x,
            Err(e) => return fail(&e),
        };
    if let Some(f) = first {
        println!(
            "kmn: made a CA in {} (passphrase in {})",
            data_dir.display(),
            f.passphrase_file.display()
        );
        println!(
            "kmn:   root       {}  SHA-256 {}",
            f.ceremony.root.0, f.ceremony.root.1
        );
        println!(
            "kmn:   issuing CA {}  SHA-256 {}",
            f.ceremony.issuing.0, f.ceremony.issuing.1
        );
        if let Some(d) = f.demo {
            println!(
                "kmn: demo facility {} (熊本デモ病院) has consented to the demo CPS and terms",
                d.facility_code
            );
            println!("kmn: demo credentials (PEM; PKCS#12 with password 'demo' where made):");
            for (role, cert, key, p12) in &d.credentials {
                println!(
                    "kmn:   {role:<14} {} {}{}",
                    cert.display(),
                    key.display(),
                    p12.as_ref()
                        .map(|p| format!(" {}", p.display()))
                        .unwrap_or_default()
                );
            }
            if let Some((_, cert, key, _)) = d.credentials.first() {
                println!(
                    "kmn: try: curl --cacert {} --cert {} --key {} https://{}/api/v1/whoami",
                    d.root_pem.display(),
                    cert.display(),
                    key.display(),
                    app.cfg.https_listen.replace("127.0.0.1", "localhost")
                );
            }
        }
    }
    serve_app(app).await
}

async fn serve(data_dir: &Path) -> ExitCode {
    match open(data_dir).await {
        Ok(app) => serve_app(app).await,
        Err(e) => fail(&e),
    }
}

async fn serve_app(app: App) -> ExitCode {
    // A revocation committed in this process wakes the CRL publisher below instead of
    // publishing beside it (one publisher per process).
    kmn_app::effects::install_waker(&app);
    // The issuing CAs' keys: CRLs must be signed within a second of a revocation.
    let mut cas = Vec::new();
    let records = kmn_app::views::public::cas(&app).await;
    let records = match records {
        Ok(r) => r,
        Err(e) => return fail(&e),
    };
    let now = app.now();
    for rec in records
        .into_iter()
        .filter(|c| c.kind == CaKind::Issuing && c.not_after > now)
    {
        match ca::load_named(&app, &rec.name).await {
            Ok(c) => cas.push(c),
            Err(e) => return fail(&e),
        }
    }
    if cas.is_empty() {
        return fail(&AppError::CaState(
            "no CA in this data dir: run `kmn ca init` (or `kmn up`) first".into(),
        ));
    }
    // An HSM key that cannot sign now does not stop the repository and the API: the
    // publisher retries every 200 ms and logs each failure.
    for c in &cas {
        if let Err(e) = c.signer.check() {
            eprintln!("kmn: warning: the key of {} cannot sign now: {e}", c.name());
        }
    }
    // The audit signer (issue 9 item 6): made when missing or expiring within 30 days.
    match kmn_app::audit::ensure_key(&app, "system:serve").await {
        Ok(Some(k)) => println!("kmn: new audit signer {} (key {})", k.name, k.key_ref),
        Ok(None) => {}
        Err(e) => eprintln!(
            "kmn: warning: no audit signer could be made, checkpoints will not be signed: {e}"
        ),
    }
    // Emergency codes kept before issue 10 as bare salted hashes are wrapped in the HMAC.
    match kmn_app::ra::emergency::wrap_legacy_codes(&app).await {
        Ok(0) => {}
        Ok(n) => println!("kmn: {n} emergency codes wrapped in the center's HMAC"),
        Err(e) => return fail(&e),
    }
    // The OCSP signers (issue 10 item 5): responses are signed ahead, never on request.
    let responders = match kmn_app::ca::ocsp::load(&app).await {
        Ok(r) => std::sync::Arc::new(r),
        Err(e) => return fail(&e),
    };
    // Every transaction that issues a certificate or changes its status signs its OCSP
    // responses before it commits (the signer loop is the safety net).
    kmn_app::ca::ocsp::install_presigner(&app, &responders);
    let running = match kmn_web::start(app.clone(), Some(responders.clone())).await {
        Ok(r) => r,
        Err(e) => return fail(&e),
    };
    // Only what is served.
    println!(
        "kmn: repository and health at http://{}/",
        running.http_addr
    );
    println!("kmn: OCSP at http://{}/ocsp", running.http_addr);
    println!("kmn: API at https://{}/api/v1/", running.https_addr);
    println!(
        "kmn: portal at https://{}/ (client certificate; public repository index at https://{}/public/repository)",
        running.https_addr, running.https_addr
    );
    println!(
        "kmn: emergency revocation form for holders (no client certificate) at https://{}/emergency",
        running.emergency_addr
    );
    use std::io::Write;
    let _ = std::io::stdout().flush();
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let publisher = tokio::spawn(kmn_app::ca::crl::publisher_loop(
        app.clone(),
        cas,
        stop_rx.clone(),
    ));
    let checkpoints = tokio::spawn(kmn_app::audit::checkpoint_loop(
        app.clone(),
        stop_rx.clone(),
    ));
    // The signer loop and the routes share the responders and their cache.
    let ocsp_signer = tokio::spawn(kmn_app::ca::ocsp::signer_loop(
        app.clone(),
        responders.clone(),
        stop_rx.clone(),
    ));
    let worker = tokio::spawn(kmn_app::jobs::worker_loop(app.clone(), stop_rx));
    let result = tokio::select! {
        r = running.done => match r {
            Ok(Ok(())) => ExitCode::SUCCESS,
            Ok(Err(e)) => { eprintln!("error: a listener stopped: {e} (E_INTERNAL)"); ExitCode::from(1) }
            Err(e) => { eprintln!("error: a listener stopped: {e} (E_INTERNAL)"); ExitCode::from(1) }
        },
        _ = shutdown_signal() => ExitCode::SUCCESS,
    };
    let _ = stop_tx.send(true);
    let _ = publisher.await;
    let _ = worker.await;
    let _ = ocsp_signer.await;
    let _ = checkpoints.await;
    app.close().await;
    result
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(s) => s,
        Err(_) => {
            let _ = ctrl_c.await;
            return;
        }
    };
    tokio::select! {
        _ = ctrl_c => {}
        _ = term.recv() => {}
    }
}

async fn verify(data_dir: &Path, v: &VerifyArgs) -> ExitCode {
    let usage = |m: String| {
        eprintln!("error: {m} (E_BAD_INPUT)");
        ExitCode::from(2)
    };
    let read =
        |p: &PathBuf| std::fs::read(p).map_err(|e| format!("cannot read {}: {e}", p.display()));
    let mut anchors = Vec::new();
    for a in &v.anchor {
        match read(a).and_then(|b| {
            kmn_verify::load_pem_or_der_bundle(&b).map_err(|e| format!("{}: {e}", a.display()))
        }) {
            Ok(mut c) => anchors.append(&mut c),
            Err(m) => return usage(m),
        }
    }
    let mut inters = Vec::new();
    for a in &v.intermediates {
        match read(a).and_then(|b| {
            kmn_verify::load_pem_or_der_bundle(&b).map_err(|e| format!("{}: {e}", a.display()))
        }) {
            Ok(mut c) => inters.append(&mut c),
            Err(m) => return usage(m),
        }
    }
    let mut crls = Vec::new();
    for a in &v.crl {
        match read(a)
            .and_then(|b| kmn_verify::load_crls(&b).map_err(|e| format!("{}: {e}", a.display())))
        {
            Ok(mut c) => crls.append(&mut c),
            Err(m) => return usage(m),
        }
    }
    let leaf = match read(&v.cert).and_then(|b| {
        kmn_verify::load_pem_or_der_bundle(&b).map_err(|e| format!("{}: {e}", v.cert.display()))
    }) {
        Ok(c) if !c.is_empty() => c[0].clone(),
        Ok(_) => return usage(format!("{} holds no certificate", v.cert.display())),
        Err(m) => return usage(m),
    };
    if let Some(name) = &v.dns_name {
        if !matches!(v.purpose, PurposeArg::ServerAuth) {
            return usage("--dns-name needs --purpose server-auth".into());
        }
        if let Err(e) = kmn_verify::check_dns_name_syntax(name) {
            return usage(format!("--dns-name: {e}"));
        }
    }
    let at = match &v.at {
        None => time::OffsetDateTime::now_utc(),
        Some(s) => {
            match time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339) {
                Ok(t) => t,
                Err(_) => return usage(format!("--at '{s}' is not RFC 3339")),
            }
        }
    };
    let profile = match v.profile {
        VerifyProfileArg::Rfc5280 => kmn_verify::Profile::Rfc5280,
        VerifyProfileArg::Kmn => {
            let mut oids = v.policy_oid.clone();
            if oids.is_empty() {
                let server = matches!(v.purpose, PurposeArg::ServerAuth);
                match policy_from_data_dir(data_dir, server).await {
                    Some(o) => oids.push(o),
                    None => {
                        return usage(
                            "--profile kmn needs --policy-oid, or a data dir with a CA".into(),
                        );
                    }
                }
            }
            let mut parsed = Vec::new();
            for o in &oids {
                match const_oid::ObjectIdentifier::new(o) {
                    Ok(p) => parsed.push(p),
                    Err(_) => {
                        return usage(format!("--policy-oid '{o}' is not an OID with 32-bit arcs"));
                    }
                }
            }
            kmn_verify::Profile::Kmn {
                policy_oids: parsed,
            }
        }
    };
    let opts = kmn_verify::VerifyOptions {
        at,
        purpose: match v.purpose {
            PurposeArg::Any => kmn_verify::Purpose::Any,
            PurposeArg::ClientAuth => kmn_verify::Purpose::ClientAuth,
            PurposeArg::ServerAuth => kmn_verify::Purpose::ServerAuth,
        },
        profile,
        check_revocation: !crls.is_empty(),
        dns_name: v.dns_name.clone(),
    };
    let mut hpki_anchors = Vec::new();
    for a in &v.hpki_anchor {
        match read(a).and_then(|b| {
            kmn_verify::load_pem_or_der_bundle(&b).map_err(|e| format!("{}: {e}", a.display()))
        }) {
            Ok(mut c) => hpki_anchors.append(&mut c),
            Err(m) => return usage(m),
        }
    }
    let hpki_profile = if hpki_anchors.is_empty() {
        None
    } else {
        let oids = |given: &[String], default: &str, what: &str| {
            let list: Vec<String> = if given.is_empty() {
                vec![default.to_string()]
            } else {
                given.to_vec()
            };
            list.iter()
                .map(|o| {
                    const_oid::ObjectIdentifier::new(o)
                        .map_err(|_| format!("{what} '{o}' is not an OID with 32-bit arcs"))
                })
                .collect::<Result<Vec<_>, _>>()
        };
        let auth = match oids(
            &v.hpki_auth_policy_oid,
            kmn_verify::DEFAULT_HPKI_AUTH_POLICY,
            "--hpki-auth-policy-oid",
        ) {
            Ok(o) => o,
            Err(m) => return usage(m),
        };
        let signature = match oids(
            &v.hpki_signature_policy_oid,
            kmn_verify::DEFAULT_HPKI_SIGNATURE_POLICY,
            "--hpki-signature-policy-oid",
        ) {
            Ok(o) => o,
            Err(m) => return usage(m),
        };
        Some(kmn_verify::Profile::Hpki {
            auth_policy_oids: auth,
            signature_policy_oids: signature,
            crl_grace: std::time::Duration::from_secs(v.hpki_crl_grace),
        })
    };
    if let Some(u) = &v.ocsp_url
        && !u.starts_with("http://")
    {
        return usage(format!(
            "--ocsp-url '{u}': only http:// responders are asked (OCSP responses are signed)"
        ));
    }
    let result = if !v.crl_url.is_empty() {
        verify_by_index(&leaf, &anchors, &inters, &crls, &v.crl_url, &opts).await
    } else if anchors.is_empty() {
        Err(None)
    } else {
        kmn_verify::verify(&leaf, &anchors, &inters, &crls, &opts).map_err(Some)
    };
    // The HPKI anchors, when the network's anchors did not accept the certificate.
    let (result, profile_used) = match (result, &hpki_profile) {
        (Err(first), Some(hp)) => {
            let mut hopts = opts.clone();
            hopts.profile = hp.clone();
            let r = if !v.crl_url.is_empty() {
                verify_by_index(&leaf, &hpki_anchors, &inters, &crls, &v.crl_url, &hopts).await
            } else {
                kmn_verify::verify(&leaf, &hpki_anchors, &inters, &crls, &hopts).map_err(Some)
            };
            match (r, first) {
                (Ok(p), _) => (Ok(p), hp.clone()),
                (Err(Some(e)), Some(f)) if !anchors.is_empty() => {
                    (Err(format!("{f}; under the HPKI anchors: {e}")), hp.clone())
                }
                (Err(Some(e)), _) => (Err(e.to_string()), hp.clone()),
                (Err(None), _) => return ExitCode::from(2),
            }
        }
        (Ok(p), _) => (Ok(p), opts.profile.clone()),
        (Err(Some(e)), _) => (Err(e.to_string()), opts.profile.clone()),
        (Err(None), _) => return ExitCode::from(2),
    };
    let path = match result {
        Ok(p) => p,
        Err(e) => {
            eprintln!("invalid: {e}");
            return ExitCode::from(1);
        }
    };
    if v.ocsp || v.ocsp_url.is_some() {
        let Some(issuer) = path.chain.get(1).cloned() else {
            eprintln!(
                "invalid: OCSP: the certificate is a trust anchor; it has no issuer to ask about it"
            );
            return ExitCode::from(1);
        };
        let cfg = kmn_crl_fetch::OcspConfig {
            responder_url: v.ocsp_url.clone(),
            ..kmn_crl_fetch::OcspConfig::default()
        };
        let cache = match kmn_crl_fetch::OcspCache::new(cfg) {
            Ok(c) => c,
            Err(e) => return usage(format!("--ocsp-url {e}")),
        };
        let at_secs = opts.at.unix_timestamp();
        let leaf2 = leaf.clone();
        let status =
            match tokio::task::spawn_blocking(move || cache.refresh_now(&leaf2, &issuer, at_secs))
                .await
            {
                Ok(s) => s,
                Err(e) => return usage(format!("--ocsp: {e}")),
            };
        match status {
            kmn_crl_fetch::OcspStatus::Good {
                this_update,
                next_update,
            } => println!(
                "OCSP: good (thisUpdate {}, nextUpdate {})",
                ts(this_update),
                ts(next_update)
            ),
            kmn_crl_fetch::OcspStatus::Revoked { time, reason } => {
                eprintln!(
                    "invalid: OCSP: certificate '{}' was revoked on {} (reason: {})",
                    path.subjects.first().cloned().unwrap_or_default(),
                    ts(time),
                    reason.unwrap_or("unspecified")
                );
                return ExitCode::from(1);
            }
            kmn_crl_fetch::OcspStatus::Unknown => {
                eprintln!("invalid: OCSP: the responder does not know the certificate (unknown)");
                return ExitCode::from(1);
            }
            kmn_crl_fetch::OcspStatus::Unavailable { why } => {
                eprintln!("invalid: OCSP: {why}");
                return ExitCode::from(1);
            }
        }
    }
    println!("valid: {}", path.subjects.join(" <- "));
    if path.revocation_checked {
        println!("revocation checked for every certificate of the path");
    }
    let operator = operator_policy_from_data_dir(data_dir).await;
    match kmn_verify::credential(&path, &profile_used, operator.as_slice()) {
        Ok(kmn_verify::Credential::KmnCard {
            facility_code,
            holder_id,
            role,
        }) => println!(
            "credential: kmn-card, facility {facility_code}, holder {holder_id}{}",
            role.map(|r| format!(", role {r}")).unwrap_or_default()
        ),
        Ok(kmn_verify::Credential::Operator { subject, .. }) => {
            println!("credential: operator, {subject}")
        }
        Ok(kmn_verify::Credential::Hpki {
            role,
            issuer,
            serial,
            spki_sha256,
        }) => println!(
            "credential: hpki, issuer '{issuer}', serial {serial}, SPKI SHA-256 {}{}",
            hex::encode(spki_sha256),
            role.map(|r| format!(", role {r}")).unwrap_or_default()
        ),
        Ok(_) => {}
        // Not one of the network's cards (e.g. a server certificate): nothing to say.
        Err(_) => {}
    }
    ExitCode::SUCCESS
}

/// `kmn verify --crl-url`: the revocation index from the --crl files and the URLs' CRLs,
/// each verified with one of the given CA certificates; a URL that fails is recorded and
/// fails closed. `Err(None)`: a usage error, already reported.
async fn verify_by_index(
    leaf: &[u8],
    anchors: &[Vec<u8>],
    inters: &[Vec<u8>],
    crls: &[Vec<u8>],
    crl_url: &[String],
    opts: &kmn_verify::VerifyOptions,
) -> Result<kmn_verify::ValidatedPath, Option<kmn_verify::VerifyError>> {
    let usage = |m: String| {
        eprintln!("error: {m} (E_BAD_INPUT)");
        None
    };
    if anchors.is_empty() {
        return Err(None);
    }
    {
        // The revocation index: --crl files and the URLs' CRLs, each verified with one of the
        // given CA certificates; a URL that fails is recorded and fails closed.
        let store = Arc::new(kmn_verify::RevocationStore::new(
            kmn_verify::RevocationConfig::default(),
        ));
        let issuers: Vec<Vec<u8>> = anchors.iter().chain(inters).cloned().collect();
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        for (i, der) in crls.iter().enumerate() {
            match kmn_verify::RevocationIndex::build(der, &issuers) {
                Ok(ix) => {
                    if let Err(e) = store.install(&format!("--crl #{}", i + 1), ix, None, now) {
                        return Err(usage(e));
                    }
                }
                // Under two anchor sets a CRL belongs to one of them only.
                Err(e) => eprintln!("warning: --crl #{}: {e}", i + 1),
            }
        }
        let fetcher = match kmn_crl_fetch::Fetcher::new(
            Arc::clone(&store),
            issuers,
            crl_url.to_vec(),
            kmn_crl_fetch::FetcherConfig::default(),
        ) {
            Ok(f) => f,
            Err(e) => return Err(usage(format!("--crl-url {e}"))),
        };
        let outcomes = match tokio::task::spawn_blocking(move || fetcher.refresh_all()).await {
            Ok(o) => o,
            Err(e) => return Err(usage(format!("--crl-url: {e}"))),
        };
        for (url, o) in &outcomes {
            match o {
                kmn_crl_fetch::Outcome::Updated {
                    crl_number,
                    entries,
                } => {
                    println!("fetched {url}: cRLNumber {crl_number}, {entries} revoked")
                }
                kmn_crl_fetch::Outcome::NotModified => {}
                kmn_crl_fetch::Outcome::Failed(e) => eprintln!("warning: {e}"),
            }
        }
        kmn_verify::verify_with_index(leaf, anchors, inters, &store.snapshot(), opts).map_err(Some)
    }
}

/// The data directory's CA's operator policy OID, to tell operator certificates apart.
async fn operator_policy_from_data_dir(data_dir: &Path) -> Vec<const_oid::ObjectIdentifier> {
    if !Config::path(data_dir).exists() {
        return Vec::new();
    }
    let Ok(app) = open(data_dir).await else {
        return Vec::new();
    };
    match ca::Policies::current(&app).await {
        Ok(p) => const_oid::ObjectIdentifier::new(&p.operator.to_string())
            .map(|o| vec![o])
            .unwrap_or_default(),
        Err(_) => Vec::new(),
    }
}

async fn policy_from_data_dir(data_dir: &Path, server: bool) -> Option<String> {
    if !Config::path(data_dir).exists() {
        return None;
    }
    let app = open(data_dir).await.ok()?;
    let p = ca::Policies::current(&app).await.ok()?;
    Some(if server { p.server } else { p.user_card }.to_string())
}

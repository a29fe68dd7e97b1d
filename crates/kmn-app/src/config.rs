//! Configuration: defaults ← `<data-dir>/kmn.toml` ← `KMN_…` environment variables.
//! Every secret may come from a `…_FILE`; secrets and database passwords are redacted
//! in `Debug` and in logs.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::AppError;

/// The configuration file's name inside the data dir.
pub const CONFIG_FILE: &str = "kmn.toml";

/// `kmn.toml`.
#[derive(Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Demo mode (written by `kmn up`): allows shortcuts no production CA takes.
    pub demo: bool,
    /// `sqlite://PATH` (relative to the data dir) or `postgres://…`.
    pub database_url: String,
    /// Base of the URLs written into certificates (CRL DP, AIA, CPS).
    pub public_base_url: String,
    /// HTTP listener (repository, OCSP, health).
    pub http_listen: String,
    /// HTTPS listener (API, portal).
    pub https_listen: String,
    /// HTTPS listener of the holders' emergency revocation form (第11条): the same
    /// certificate, no client certificate asked for.
    pub emergency_listen: String,
    /// Where CRLs and CA certificates are published (relative to the data dir).
    pub repository_dir: String,
    /// The association's name in romaji, for CA subjects.
    pub organization: String,
    /// TLS server certificate chain (PEM, leaf first) for the HTTPS listener.
    pub tls_cert_file: String,
    /// TLS server private key (PEM PKCS#8, mode 0600).
    pub tls_key_file: String,
    /// Days a renewed card's predecessor stays valid before it is revoked as superseded
    /// (第4条2; default 30).
    pub renewal_overlap_days: i64,
    /// Issue card certificates on certificateHold and release them when the facility
    /// confirms receipt (第8条, DESIGN §4 Receipt). Off by default.
    pub hold_until_receipt: bool,
    /// Hours a dual-control proposal waits for its second person before it expires
    /// (issue 9; default 72, 1–720).
    pub proposal_ttl_hours: i64,
    /// An alert goes to the center when one account takes this many emergency
    /// revocations within an hour (第11条, issue 10; default 5).
    pub emergency_alert_per_hour: i64,
    /// The support center's 24-hour telephone number, printed on PIN mailers for
    /// emergency revocation (第11条). Cards are not personalized until it is set.
    pub support_center_phone: String,
    /// CA settings.
    pub ca: CaConfig,
    /// Audit-log checkpoints.
    pub audit: AuditConfig,
    /// Limits of the HTTP and HTTPS listeners (issue 9 item 4).
    pub listen: ListenConfig,
    /// The JMA HPKI physician cards (医師資格証) of the doctor registry (issue 11).
    pub hpki: HpkiConfig,
}

/// `[hpki]`: what the doctor registry accepts as a doctor's HPKI authentication
/// certificate (issue 11 item 3). Uploaded certificates are always checked for being an
/// end-entity certificate, in its validity period, with keyUsage digitalSignature and
/// not one of this CA's own; the settings below add the chain and the policies.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct HpkiConfig {
    /// HPKI trust anchors (PEM or DER files, relative to the data dir or absolute). When
    /// any is set, an uploaded certificate must chain to one of them (RFC 5280 path
    /// validation, kmn-verify).
    pub anchors: Vec<String>,
    /// Intermediate HPKI CA certificates used to build the path (PEM or DER files).
    pub intermediates: Vec<String>,
    /// Certificate-policy OIDs of the HPKI authentication certificate (dotted). When any
    /// is set, an uploaded certificate must carry one of them.
    pub auth_policy_oids: Vec<String>,
    /// Certificate-policy OIDs of the HPKI signature certificate: a certificate carrying
    /// one is refused (a signature certificate is never a login credential).
    pub signature_policy_oids: Vec<String>,
}

/// `[listen]`: what each listener (HTTP and HTTPS alike) allows a client, so that slow,
/// idle, oversized or too frequent requests cannot exhaust the server.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct ListenConfig {
    /// A request head (request line and headers) must arrive complete within this many
    /// seconds of its first byte, and the first one within this many seconds of the
    /// connection being made (or of the TLS handshake ending). Default 10.
    pub header_read_timeout_secs: u64,
    /// A connection on which no byte moves either way for this many seconds is closed:
    /// an idle keep-alive connection, a stalled request body, a client that stops
    /// reading its response. Default 60.
    pub idle_timeout_secs: u64,
    /// The TLS handshake of the HTTPS listener must end within this many seconds of the
    /// connection being made. Default 10.
    pub tls_handshake_timeout_secs: u64,
    /// Open connections per listener; one more is refused (HTTP: `503` with
    /// `Retry-After`; HTTPS: closed) after waiting a quarter of a second for a free slot.
    /// Default 512.
    pub max_connections: u32,
    /// The largest JSON request body of the API, KiB. Default 64.
    pub json_body_limit_kib: u64,
    /// The largest document upload (PDF), MiB; documents themselves are at most 10 MiB.
    /// Default 12.
    pub document_body_limit_mib: u64,
    /// Requests per minute per client address on the routes that need no client
    /// certificate (`/health`, `/repo/…`, `/api/v1/openapi.json`, `/api/v1/health`).
    /// Default 600.
    pub public_requests_per_minute: u32,
    /// How many of those a client address may send at once before the rate applies.
    /// Default 120.
    pub public_burst: u32,
    /// Requests per minute per client certificate on the HTTPS listener (hospitals sit
    /// behind one NAT: authenticated callers are limited per account, not per address).
    /// Default 600.
    pub account_requests_per_minute: u32,
    /// How many of those a client certificate may send at once. Default 120.
    pub account_burst: u32,
    /// OCSP requests (`/ocsp`) per minute per client address: a limit of their own,
    /// since a relying party's gateway asks for every login from one address and each
    /// answer is a pre-signed response from memory. Default 60000 (1000 a second).
    pub ocsp_requests_per_minute: u32,
    /// How many OCSP requests a client address may send at once. Default 2000.
    pub ocsp_burst: u32,
}

impl Default for ListenConfig {
    fn default() -> Self {
        Self {
            header_read_timeout_secs: 10,
            idle_timeout_secs: 60,
            tls_handshake_timeout_secs: 10,
            max_connections: 512,
            json_body_limit_kib: 64,
            document_body_limit_mib: 12,
            public_requests_per_minute: 600,
            public_burst: 120,
            account_requests_per_minute: 600,
            account_burst: 120,
            ocsp_requests_per_minute: 60_000,
            ocsp_burst: 2_000,
        }
    }
}

impl ListenConfig {
    /// Checks the ranges (each problem named by its key).
    pub fn validate(&self) -> Result<(), AppError> {
        let secs = [
            ("header_read_timeout_secs", self.header_read_timeout_secs),
            ("idle_timeout_secs", self.idle_timeout_secs),
            (
                "tls_handshake_timeout_secs",
                self.tls_handshake_timeout_secs,
            ),
        ];
        for (key, v) in secs {
            if !(1..=3600).contains(&v) {
                return Err(AppError::Config(format!(
                    "listen.{key} must be 1..=3600 seconds (is {v})"
                )));
            }
        }
        if !(1..=65_536).contains(&self.max_connections) {
            return Err(AppError::Config(format!(
                "listen.max_connections must be 1..=65536 (is {})",
                self.max_connections
            )));
        }
        if !(1..=1024).contains(&self.json_body_limit_kib) {
            return Err(AppError::Config(format!(
                "listen.json_body_limit_kib must be 1..=1024 (is {})",
                self.json_body_limit_kib
            )));
        }
        let doc_min = kmn_domain::MAX_DOCUMENT_BYTES.div_ceil(1024 * 1024);
        if !(doc_min..=64).contains(&self.document_body_limit_mib) {
            return Err(AppError::Config(format!(
                "listen.document_body_limit_mib must be {doc_min}..=64 (documents are up to {doc_min} MiB; is {})",
                self.document_body_limit_mib
            )));
        }
        for (key, v) in [
            (
                "public_requests_per_minute",
                self.public_requests_per_minute,
            ),
            ("public_burst", self.public_burst),
            (
                "account_requests_per_minute",
                self.account_requests_per_minute,
            ),
            ("account_burst", self.account_burst),
            ("ocsp_requests_per_minute", self.ocsp_requests_per_minute),
            ("ocsp_burst", self.ocsp_burst),
        ] {
            if !(1..=1_000_000).contains(&v) {
                return Err(AppError::Config(format!(
                    "listen.{key} must be 1..=1000000 (is {v})"
                )));
            }
        }
        Ok(())
    }
}

/// `[audit]`: signed checkpoints of the audit log (issue 9 item 6).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct AuditConfig {
    /// Where the signed checkpoint files are kept, outside the database (relative to the
    /// data dir, or absolute: another disk, a host mount, a write-once share).
    /// `KMN_AUDIT_CHECKPOINT_DIR` overrides it.
    pub checkpoint_dir: String,
    /// `kmn serve` signs a checkpoint at least this often when the chain moved, minutes
    /// (besides after every CRL publication, i.e. after every revocation).
    pub checkpoint_interval_minutes: i64,
    /// `kmn serve` seals the reads of personal data into the chain this often, seconds.
    pub seal_interval_seconds: i64,
}

impl Default for AuditConfig {
    fn default() -> Self {
        Self {
            checkpoint_dir: "audit-checkpoints".into(),
            checkpoint_interval_minutes: 60,
            seal_interval_seconds: 60,
        }
    }
}

/// `[ca] ocsp_nonce`: what the OCSP responder does with a request's nonce (RFC 8954).
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum OcspNonce {
    /// Answer with the pre-signed response, which carries no nonce (RFC 8954 §2.1 lets
    /// a responder ignore it); nothing is signed on the request path.
    #[default]
    Ignore,
    /// Sign a response for a request with a nonce and echo it (bounded by
    /// `ocsp_nonce_per_second`); a nonce of other than 1 to 32 octets is
    /// `malformedRequest`. Requests without a nonce get the pre-signed response.
    Echo,
}

/// `[ca]`.
#[derive(Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct CaConfig {
    /// File with the passphrase of the software CA keys (relative to the data dir).
    /// `KMN_CA_PASSPHRASE` and `KMN_CA_PASSPHRASE_FILE` take precedence.
    pub passphrase_file: Option<String>,
    /// nextUpdate − thisUpdate of the issuing CA's CRL, hours (DESIGN §4: 48).
    pub crl_next_update_hours: i64,
    /// A CRL is issued at least this often, hours (第16条: 24).
    pub crl_interval_hours: i64,
    /// nextUpdate of the root's CRL (ARL), days.
    pub arl_next_update_days: i64,
    /// `/health` warns (`arl_next_update_soon`) this many days before the ARL's
    /// nextUpdate, so that the root key can be brought for `kmn ca sign-arl` (default 7).
    pub arl_warning_days: i64,
    /// nextUpdate − thisUpdate of a pre-signed OCSP response, hours (issue 10: 4 days,
    /// signed again half-way, and at once on every status change).
    pub ocsp_validity_hours: i64,
    /// The time allowed to sign every stored OCSP response again with a new OCSP signer,
    /// hours: `kmn serve` makes the new signer at notAfter − (`ocsp_validity_hours` + this),
    /// so that no response outlives the signer that signed it (issue 10, 24).
    pub ocsp_resign_hours: i64,
    /// What the OCSP responder does with a request's nonce (RFC 8954): `ignore` (the
    /// default: the pre-signed response, without a nonce) or `echo` (a response signed
    /// for that request, echoing the nonce, within [`CaConfig::ocsp_nonce_per_second`]).
    pub ocsp_nonce: OcspNonce,
    /// In `echo` mode, at most this many live-signed responses per second (all clients
    /// together); beyond it a request with a nonce gets the pre-signed response without
    /// one, as in `ignore` mode (default 50).
    pub ocsp_nonce_per_second: u32,
    /// The PKCS#11 module of the HSM on this machine, when it is not where the ceremony
    /// recorded it (the `module-path` of each HSM key's `pkcs11:` reference). The HSM user
    /// PIN comes from `KMN_HSM_PIN` or `KMN_HSM_PIN_FILE` only.
    pub hsm_module: Option<String>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            demo: false,
            database_url: "sqlite://kmn.db".into(),
            public_base_url: "http://127.0.0.1:8080".into(),
            http_listen: "127.0.0.1:8080".into(),
            https_listen: "127.0.0.1:8443".into(),
            emergency_listen: "127.0.0.1:8444".into(),
            repository_dir: "repo".into(),
            organization: "Kumamoto Medical Association".into(),
            tls_cert_file: "secrets/tls-server.crt.pem".into(),
            tls_key_file: "secrets/tls-server.key.pem".into(),
            renewal_overlap_days: kmn_domain::DEFAULT_RENEWAL_OVERLAP_DAYS,
            hold_until_receipt: false,
            proposal_ttl_hours: 72,
            emergency_alert_per_hour: 5,
            support_center_phone: String::new(),
            ca: CaConfig::default(),
            audit: AuditConfig::default(),
            listen: ListenConfig::default(),
            hpki: HpkiConfig::default(),
        }
    }
}

impl Default for CaConfig {
    fn default() -> Self {
        Self {
            passphrase_file: None,
            crl_next_update_hours: 48,
            crl_interval_hours: 24,
            arl_next_update_days: 365,
            arl_warning_days: 7,
            ocsp_validity_hours: 96,
            ocsp_resign_hours: 24,
            ocsp_nonce: OcspNonce::Ignore,
            ocsp_nonce_per_second: 50,
            hsm_module: None,
        }
    }
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("demo", &self.demo)
            .field("database_url", &kmn_store::redact_url(&self.database_url))
            .field("public_base_url", &self.public_base_url)
            .field("http_listen", &self.http_listen)
            .field("https_listen", &self.https_listen)
            .field("emergency_listen", &self.emergency_listen)
            .field("repository_dir", &self.repository_dir)
            .field("organization", &self.organization)
            .field("tls_cert_file", &self.tls_cert_file)
            .field("tls_key_file", &self.tls_key_file)
            .field("renewal_overlap_days", &self.renewal_overlap_days)
            .field("hold_until_receipt", &self.hold_until_receipt)
            .field("proposal_ttl_hours", &self.proposal_ttl_hours)
            .field("emergency_alert_per_hour", &self.emergency_alert_per_hour)
            .field("support_center_phone", &self.support_center_phone)
            .field("ca", &self.ca)
            .field("audit", &self.audit)
            .field("listen", &self.listen)
            .field("hpki", &self.hpki)
            .finish()
    }
}

impl std::fmt::Debug for CaConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CaConfig")
            .field("passphrase_file", &self.passphrase_file)
            .field("crl_next_update_hours", &self.crl_next_update_hours)
            .field("crl_interval_hours", &self.crl_interval_hours)
            .field("ocsp_validity_hours", &self.ocsp_validity_hours)
            .field("ocsp_resign_hours", &self.ocsp_resign_hours)
            .field("ocsp_nonce", &self.ocsp_nonce)
            .field("ocsp_nonce_per_second", &self.ocsp_nonce_per_second)
            .field("arl_next_update_days", &self.arl_next_update_days)
            .field("arl_warning_days", &self.arl_warning_days)
            .field("hsm_module", &self.hsm_module)
            .finish()
    }
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// Reads `NAME` or the file named by `NAME_FILE` (trailing newline removed).
pub fn env_or_file(name: &str) -> Result<Option<String>, AppError> {
    if let Some(v) = env(name) {
        return Ok(Some(v));
    }
    let file_var = format!("{name}_FILE");
    if let Some(path) = env(&file_var) {
        crate::secrets::check_secret_file(Path::new(&path), &format!("{file_var}={path}"))?;
        let v = std::fs::read_to_string(&path)
            .map_err(|e| AppError::Config(format!("cannot read {file_var}={path}: {e}")))?;
        return Ok(Some(v.trim_end_matches(['\r', '\n']).to_string()));
    }
    Ok(None)
}

impl Config {
    /// Path of kmn.toml in a data dir.
    pub fn path(data_dir: &Path) -> PathBuf {
        data_dir.join(CONFIG_FILE)
    }

    /// Loads kmn.toml (required) and applies the environment.
    pub fn load(data_dir: &Path) -> Result<Config, AppError> {
        let path = Self::path(data_dir);
        let text = std::fs::read_to_string(&path).map_err(|e| {
            AppError::Config(format!(
                "cannot read {} ({e}); run `kmn up` or `kmn ca init` to create a data dir",
                path.display()
            ))
        })?;
        let mut cfg =
            Self::parse(&text).map_err(|e| AppError::Config(format!("{}: {e}", path.display())))?;
        cfg.apply_env()?;
        cfg.validate()?;
        Ok(cfg)
    }

    /// Loads kmn.toml if present, else the defaults; then applies the environment.
    pub fn load_or_default(data_dir: &Path) -> Result<Config, AppError> {
        if Self::path(data_dir).exists() {
            return Self::load(data_dir);
        }
        let mut cfg = Config::default();
        cfg.apply_env()?;
        cfg.validate()?;
        Ok(cfg)
    }

    /// The settings that go into every CA certificate and cannot change afterwards
    /// (`public_base_url`, `organization`) that neither kmn.toml nor the environment
    /// (`KMN_PUBLIC_BASE_URL`, `KMN_ORGANIZATION`) sets, i.e. that would silently be the
    /// built-in defaults.
    pub fn unset_certificate_settings(data_dir: &Path) -> Result<Vec<&'static str>, AppError> {
        let table: toml::Table = match std::fs::read_to_string(Self::path(data_dir)) {
            Ok(text) => toml::from_str(&text).map_err(|e: toml::de::Error| {
                AppError::Config(format!("{}: {e}", Self::path(data_dir).display()))
            })?,
            Err(_) => toml::Table::new(),
        };
        Ok([
            ("public_base_url", "KMN_PUBLIC_BASE_URL"),
            ("organization", "KMN_ORGANIZATION"),
        ]
        .into_iter()
        .filter(|(key, var)| !table.contains_key(*key) && env(var).is_none())
        .map(|(key, _)| key)
        .collect())
    }

    /// Parses TOML text.
    pub fn parse(text: &str) -> Result<Config, String> {
        toml::from_str(text).map_err(|e| e.to_string())
    }

    /// The TOML text of this configuration.
    pub fn to_toml(&self) -> String {
        let body = toml::to_string_pretty(self).expect("config serialises");
        format!(
            "# kmn-pki configuration. Environment variables KMN_DATABASE_URL, KMN_PUBLIC_BASE_URL,\n\
             # KMN_ORGANIZATION, KMN_HTTP_LISTEN, KMN_HTTPS_LISTEN, KMN_EMERGENCY_LISTEN, KMN_REPOSITORY_DIR, KMN_DEMO, KMN_HOLD_UNTIL_RECEIPT,\n\
             # KMN_SUPPORT_CENTER_PHONE, KMN_AUDIT_CHECKPOINT_DIR and KMN_OCSP_NONCE override these values; secrets may also come from KMN_…_FILE.\n{body}"
        )
    }

    /// Applies `KMN_…` overrides.
    pub fn apply_env(&mut self) -> Result<(), AppError> {
        if let Some(v) = env_or_file("KMN_DATABASE_URL")? {
            self.database_url = v;
        }
        if let Some(v) = env("KMN_PUBLIC_BASE_URL") {
            self.public_base_url = v;
        }
        if let Some(v) = env("KMN_ORGANIZATION") {
            self.organization = v;
        }
        if let Some(v) = env("KMN_HTTP_LISTEN") {
            self.http_listen = v;
        }
        if let Some(v) = env("KMN_HTTPS_LISTEN") {
            self.https_listen = v;
        }
        if let Some(v) = env("KMN_EMERGENCY_LISTEN") {
            self.emergency_listen = v;
        }
        if let Some(v) = env("KMN_REPOSITORY_DIR") {
            self.repository_dir = v;
        }
        if let Some(v) = env("KMN_DEMO") {
            self.demo = matches!(v.as_str(), "1" | "true" | "yes");
        }
        if let Some(v) = env("KMN_SUPPORT_CENTER_PHONE") {
            self.support_center_phone = v;
        }
        if let Some(v) = env("KMN_AUDIT_CHECKPOINT_DIR") {
            self.audit.checkpoint_dir = v;
        }
        if let Some(v) = env("KMN_HOLD_UNTIL_RECEIPT") {
            self.hold_until_receipt = matches!(v.as_str(), "1" | "true" | "yes");
        }
        if let Some(v) = env("KMN_OCSP_NONCE") {
            self.ca.ocsp_nonce = match v.as_str() {
                "ignore" => OcspNonce::Ignore,
                "echo" => OcspNonce::Echo,
                _ => {
                    return Err(AppError::Config(format!(
                        "KMN_OCSP_NONCE '{v}' must be ignore or echo"
                    )));
                }
            };
        }
        Ok(())
    }

    /// Checks values that would otherwise fail later and obscurely.
    pub fn validate(&self) -> Result<(), AppError> {
        for (name, list) in [
            ("hpki.auth_policy_oids", &self.hpki.auth_policy_oids),
            (
                "hpki.signature_policy_oids",
                &self.hpki.signature_policy_oids,
            ),
        ] {
            for o in list {
                if der::asn1::ObjectIdentifier::new(o).is_err() {
                    return Err(AppError::Config(format!(
                        "{name}: '{o}' is not a dotted object identifier (e.g. 1.2.392.100495.1.5.1.1.2)"
                    )));
                }
            }
        }
        let phone = &self.support_center_phone;
        if phone.len() > 20
            || !phone
                .chars()
                .all(|c| c.is_ascii_digit() || c == '-' || c == '(' || c == ')')
        {
            return Err(AppError::Config(format!(
                "support_center_phone '{phone}' must be a telephone number of digits and hyphens (e.g. 096-000-0000)"
            )));
        }
        let u = &self.public_base_url;
        if !u.starts_with("http://") || u.ends_with('/') {
            return Err(AppError::Config(format!(
                "public_base_url '{u}' must be an http:// URL without a trailing slash (CRL and AIA URLs are plain HTTP, RFC 5280 §4.2.1.13)"
            )));
        }
        for (name, v) in [
            ("http_listen", &self.http_listen),
            ("https_listen", &self.https_listen),
            ("emergency_listen", &self.emergency_listen),
        ] {
            if v.parse::<std::net::SocketAddr>().is_err() {
                return Err(AppError::Config(format!(
                    "{name} '{v}' is not an address like 127.0.0.1:8080"
                )));
            }
        }
        if !(self.database_url.starts_with("sqlite:")
            || self.database_url.starts_with("postgres://")
            || self.database_url.starts_with("postgresql://"))
        {
            return Err(AppError::Config(format!(
                "database_url '{}' must start with sqlite:// or postgres://",
                kmn_store::redact_url(&self.database_url)
            )));
        }
        if self.ca.crl_next_update_hours <= self.ca.crl_interval_hours
            || self.ca.crl_interval_hours < 1
            || self.ca.crl_interval_hours > 24
        {
            return Err(AppError::Config(
                "ca.crl_interval_hours must be 1..=24 (第16条) and below ca.crl_next_update_hours"
                    .into(),
            ));
        }
        if !(1..=90).contains(&self.ca.arl_warning_days)
            || self.ca.arl_warning_days >= self.ca.arl_next_update_days
        {
            return Err(AppError::Config(
                "ca.arl_warning_days must be 1..=90 and below ca.arl_next_update_days".into(),
            ));
        }
        if !(2..=24 * 7).contains(&self.ca.ocsp_validity_hours) {
            return Err(AppError::Config(
                "ca.ocsp_validity_hours must be 2..=168 (a response is signed again half-way)"
                    .into(),
            ));
        }
        if !(1..=24 * 14).contains(&self.ca.ocsp_resign_hours) {
            return Err(AppError::Config(
                "ca.ocsp_resign_hours must be 1..=336 (the time to sign every stored OCSP response again with a new signer)"
                    .into(),
            ));
        }
        if !(1..=10_000).contains(&self.ca.ocsp_nonce_per_second) {
            return Err(AppError::Config(
                "ca.ocsp_nonce_per_second must be 1..=10000 (live-signed OCSP responses per second in echo mode)"
                    .into(),
            ));
        }
        if !(1..=24 * 60).contains(&self.audit.checkpoint_interval_minutes)
            || !(1..=3600).contains(&self.audit.seal_interval_seconds)
            || self.audit.checkpoint_dir.is_empty()
        {
            return Err(AppError::Config(
                "audit.checkpoint_interval_minutes must be 1..=1440, audit.seal_interval_seconds 1..=3600, and audit.checkpoint_dir set".into(),
            ));
        }
        if !(1..=1000).contains(&self.emergency_alert_per_hour) {
            return Err(AppError::Config(
                "emergency_alert_per_hour must be 1..=1000".into(),
            ));
        }
        if !(1..=720).contains(&self.proposal_ttl_hours) {
            return Err(AppError::Config(
                "proposal_ttl_hours must be 1..=720".into(),
            ));
        }
        if !(0..=90).contains(&self.renewal_overlap_days) {
            return Err(AppError::Config(
                "renewal_overlap_days must be 0..=90".into(),
            ));
        }
        if self.ca.arl_next_update_days < 1 || self.ca.arl_next_update_days > 400 {
            return Err(AppError::Config(
                "ca.arl_next_update_days must be 1..=400".into(),
            ));
        }
        self.listen.validate()
    }

    /// The database URL with relative SQLite paths resolved inside the data dir.
    pub fn database_url(&self, data_dir: &Path) -> String {
        if let Some(rest) = self.database_url.strip_prefix("sqlite://")
            && !rest.starts_with('/')
        {
            return format!("sqlite://{}", data_dir.join(rest).display());
        }
        self.database_url.clone()
    }

    /// A path from the configuration, relative to the data dir unless absolute.
    pub fn resolve(&self, data_dir: &Path, p: &str) -> PathBuf {
        let p = Path::new(p);
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            data_dir.join(p)
        }
    }

    /// The repository directory.
    pub fn repository_dir(&self, data_dir: &Path) -> PathBuf {
        let p = Path::new(&self.repository_dir);
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            data_dir.join(p)
        }
    }

    /// Where the audit checkpoint files are kept (`audit.checkpoint_dir`).
    pub fn checkpoint_dir(&self, data_dir: &Path) -> PathBuf {
        let p = Path::new(&self.audit.checkpoint_dir);
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            data_dir.join(p)
        }
    }

    /// The CA passphrase: `KMN_CA_PASSPHRASE`, `KMN_CA_PASSPHRASE_FILE`, or the file named in
    /// `ca.passphrase_file`. Never from a command-line argument.
    pub fn ca_passphrase(&self, data_dir: &Path) -> Result<zeroize::Zeroizing<String>, AppError> {
        if let Some(p) = env_or_file("KMN_CA_PASSPHRASE")? {
            return Ok(zeroize::Zeroizing::new(p));
        }
        if let Some(f) = &self.ca.passphrase_file {
            let path = data_dir.join(f);
            crate::secrets::check_secret_file(
                &path,
                &format!(
                    "the CA passphrase file {} (ca.passphrase_file)",
                    path.display()
                ),
            )?;
            let v = std::fs::read_to_string(&path).map_err(|e| {
                AppError::Passphrase(format!(
                    "cannot read the CA passphrase file {}: {e}",
                    path.display()
                ))
            })?;
            return Ok(zeroize::Zeroizing::new(
                v.trim_end_matches(['\r', '\n']).to_string(),
            ));
        }
        Err(AppError::Passphrase(
            "no CA passphrase: set KMN_CA_PASSPHRASE or KMN_CA_PASSPHRASE_FILE (never on the command line)".into(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_keys_are_refused() {
        assert!(Config::parse("demo = true\ndatabse_url = 'x'\n").is_err());
        let c = Config::parse("demo = true\n").unwrap();
        assert!(c.demo);
        assert_eq!(c.ca.crl_next_update_hours, 48);
    }

    #[test]
    fn debug_redacts_database_password() {
        let c = Config {
            database_url: "postgres://kmn:hunter22@db/kmn".into(),
            ..Config::default()
        };
        let d = format!("{c:?}");
        assert!(!d.contains("hunter22"), "{d}");
    }

    #[test]
    fn art16_crl_interval_at_most_24_hours() {
        let mut c = Config::default();
        c.ca.crl_interval_hours = 25;
        c.ca.crl_next_update_hours = 48;
        assert!(c.validate().is_err());
    }

    #[test]
    fn art16_arl_warning_days_default_7_and_checked() {
        let c = Config::parse("[ca]\narl_warning_days = 30\n").unwrap();
        assert_eq!(c.ca.arl_warning_days, 30);
        c.validate().unwrap();
        assert_eq!(Config::default().ca.arl_warning_days, 7);
        for bad in [
            "arl_warning_days = 0",
            "arl_warning_days = 91",
            "arl_warning_days = 10\narl_next_update_days = 10",
        ] {
            let c = Config::parse(&format!("[ca]\n{bad}\n")).unwrap();
            assert!(c.validate().is_err(), "{bad}");
        }
    }

    #[test]
    fn issue9_listener_limits_have_defaults_and_are_checked() {
        let c = Config::parse("[listen]\nidle_timeout_secs = 5\n").unwrap();
        assert_eq!(c.listen.idle_timeout_secs, 5);
        assert_eq!(c.listen.header_read_timeout_secs, 10);
        assert_eq!(c.listen.json_body_limit_kib, 64);
        assert_eq!(c.listen.document_body_limit_mib, 12);
        c.validate().unwrap();
        assert!(Config::parse("[listen]\nidle_timeot_secs = 5\n").is_err());
        for bad in [
            "header_read_timeout_secs = 0",
            "tls_handshake_timeout_secs = 3601",
            "max_connections = 0",
            "json_body_limit_kib = 0",
            "document_body_limit_mib = 9",
            "public_burst = 0",
            "account_requests_per_minute = 0",
        ] {
            let c = Config::parse(&format!("[listen]\n{bad}\n")).unwrap();
            let e = c.validate().unwrap_err().to_string();
            let key = bad.split(' ').next().unwrap();
            assert!(e.contains(&format!("listen.{key}")), "{bad}: {e}");
        }
    }

    #[test]
    fn issue11_hpki_policy_oids_are_checked() {
        let c = Config::parse(
            "[hpki]\nanchors = [\"hpki/root.pem\"]\nauth_policy_oids = [\"1.3.6.1.4.1.99999.1.1\"]\n",
        )
        .unwrap();
        assert_eq!(c.hpki.anchors, ["hpki/root.pem"]);
        c.validate().unwrap();
        let c = Config::parse("[hpki]\nsignature_policy_oids = [\"not an oid\"]\n").unwrap();
        let e = c.validate().unwrap_err().to_string();
        assert!(e.contains("hpki.signature_policy_oids"), "{e}");
        assert!(Config::parse("[hpki]\nanchor = []\n").is_err());
    }

    #[test]
    fn round_trip_toml() {
        let c = Config {
            demo: true,
            ..Config::default()
        };
        assert_eq!(Config::parse(&c.to_toml()).unwrap(), c);
    }
}

//! The gateway's own TOML file (docs/GATEWAY.md lists every key with an example).

use std::path::{Path, PathBuf};

use serde::Deserialize;

/// The kinds of credential an upstream may accept (`X-KMN-Credential`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
pub enum CredentialKind {
    /// A user card of this network (policy OID `….1`, DESIGN §4).
    #[serde(rename = "kmn-card")]
    KmnCard,
    /// An operator certificate of this network (policy OID `….2`): the center's staff.
    #[serde(rename = "operator")]
    Operator,
    /// A JMA 医師資格証 (HPKI authentication certificate) under an `[[hpki]]` anchor, bound
    /// to facilities by the doctor registry (`[registry]`).
    #[serde(rename = "hpki")]
    Hpki,
}

impl CredentialKind {
    /// The value of `X-KMN-Credential`.
    pub fn as_str(self) -> &'static str {
        match self {
            CredentialKind::KmnCard => "kmn-card",
            CredentialKind::Operator => "operator",
            CredentialKind::Hpki => "hpki",
        }
    }

    /// The credential in Japanese, for refusal pages.
    pub fn label_ja(self) -> &'static str {
        match self {
            CredentialKind::KmnCard => "利用者カード",
            CredentialKind::Operator => "担当者証明書",
            CredentialKind::Hpki => "医師資格証（HPKI カード）",
        }
    }
}

/// How an upstream binds a login to a facility (第4条2).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(tag = "binding", rename_all = "snake_case", deny_unknown_fields)]
pub enum FacilityBinding {
    /// A facility's own system: the certificate's facility code (subject OU) must be `code`.
    Fixed { code: String },
    /// A network-wide service: each request names the facility the user acts for in the
    /// header [`ACT_FOR_FACILITY_HEADER`]; the certificate's facility must be that one.
    PerRequest,
}

/// The request header naming the facility a user acts for (per-request binding).
pub const ACT_FOR_FACILITY_HEADER: &str = "x-kmn-act-for-facility";

/// When the login record is flushed to disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FsyncPolicy {
    /// After every record (slowest, nothing written is ever lost).
    Always,
    /// After each batch of records the writer finds waiting (group commit): a record is on
    /// disk within one write-and-fsync of the request that made it.
    #[default]
    Batch,
}

/// `[listen]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListenConfig {
    /// `host:port` of the HTTPS listener (`127.0.0.1:0` picks a free port).
    pub address: String,
    /// The gateway's TLS server certificate chain (PEM, leaf first).
    pub cert: PathBuf,
    /// Its private key (PEM: PKCS#8, SEC1 or PKCS#1).
    pub key: PathBuf,
    /// The local admin socket (`kmn gateway reload`); a Unix socket made with mode 0600.
    pub admin_socket: PathBuf,
    /// Offer TLS 1.2 too (for RSA cards without PSS, DESIGN §4). Default true.
    #[serde(default = "yes")]
    pub tls12: bool,
    /// Time a client has to send a request's head. Default 30.
    #[serde(default = "default_header_timeout")]
    pub header_timeout_seconds: u64,
    /// `host:port` of a plain-HTTP listener for the local monitoring agent: `GET /health`
    /// and `GET /metrics` (Prometheus). No personal data is shown there. Default: none.
    #[serde(default)]
    pub metrics_address: Option<String>,
}

/// `[trust]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrustConfig {
    /// Trust anchors (the network's root certificates), PEM or DER files.
    pub anchors: Vec<PathBuf>,
    /// The issuing CA certificates (G1, and G2 during a rollover): cards send their own
    /// certificate only.
    #[serde(default)]
    pub intermediates: Vec<PathBuf>,
    /// CRL URLs (`http://`): the root's ARL and each issuing CA's CRL.
    pub crl_urls: Vec<String>,
    /// Refetch interval, 1–300 seconds. Default 300.
    #[serde(default = "default_refetch")]
    pub refetch_seconds: u64,
    /// A CRL source not fetched successfully for this long fails closed. Default 3600.
    #[serde(default = "default_unreachable_grace")]
    pub unreachable_grace_seconds: u64,
    /// Time past a CRL's nextUpdate during which it is still used. Default 0.
    #[serde(default)]
    pub next_update_grace_seconds: u64,
    /// Policy OIDs of user cards (`….1`).
    pub card_policy_oids: Vec<String>,
    /// Policy OIDs of operator certificates (`….2`).
    #[serde(default)]
    pub operator_policy_oids: Vec<String>,
    /// OCSP for the network's own certificates: `true` or a responder URL. Default off.
    #[serde(default)]
    pub ocsp: Option<OcspSetting>,
}

/// `ocsp = true` (the responder named in each certificate's authorityInfoAccess) or
/// `ocsp = "http://…"` (every certificate of the anchor asked there).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum OcspSetting {
    Enabled(bool),
    Responder(String),
}

impl OcspSetting {
    /// `None`: OCSP off; `Some(None)`: from authorityInfoAccess; `Some(Some(url))`.
    pub fn responder(s: &Option<OcspSetting>) -> Option<Option<String>> {
        match s {
            None | Some(OcspSetting::Enabled(false)) => None,
            Some(OcspSetting::Enabled(true)) => Some(None),
            Some(OcspSetting::Responder(u)) => Some(Some(u.clone())),
        }
    }

    fn check(s: &Option<OcspSetting>, at: &str) -> Result<(), String> {
        if let Some(OcspSetting::Responder(u)) = s
            && !u.starts_with("http://")
        {
            return Err(format!(
                "{at}: ocsp = \"{u}\": a responder URL must start with http:// (OCSP responses are signed; use true for the certificates' own responder)"
            ));
        }
        Ok(())
    }
}

/// One `[[hpki]]`: an HPKI trust anchor (the JMA's 医師資格証 CA) with its own policy.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HpkiConfig {
    /// A name for logs and `kmn gateway status`.
    pub name: String,
    /// The HPKI root certificate(s), PEM or DER files.
    pub anchors: Vec<PathBuf>,
    /// Intermediate HPKI CA certificates, if any (a card sends its own certificate only).
    #[serde(default)]
    pub intermediates: Vec<PathBuf>,
    /// The HPKI CA's CRL URLs (`http://`).
    pub crl_urls: Vec<String>,
    /// The authentication certificate's policy OIDs (an OID under one of them is accepted).
    #[serde(default = "default_hpki_auth")]
    pub auth_policy_oids: Vec<String>,
    /// The signature certificate's policy OIDs: refused.
    #[serde(default = "default_hpki_sign")]
    pub signature_policy_oids: Vec<String>,
    /// Time past an HPKI CRL's nextUpdate during which it is still used (the JMA's CRL
    /// schedule is not the network's). Default 0.
    #[serde(default)]
    pub crl_grace_seconds: u64,
    /// Refetch interval of these CRLs, 1–300. Default 300.
    #[serde(default = "default_refetch")]
    pub refetch_seconds: u64,
    /// A CRL (or OCSP responder) of this anchor not reached for this long fails closed.
    /// Default 3600.
    #[serde(default = "default_unreachable_grace")]
    pub unreachable_grace_seconds: u64,
    /// OCSP for the cards of this anchor: `true` or a responder URL. Default off.
    #[serde(default)]
    pub ocsp: Option<OcspSetting>,
}

/// `[registry]`: the CA's doctor registry (`GET /api/v1/doctor-lookup`), asked with a
/// station account's certificate.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegistryConfig {
    /// The CA's API: `https://host:port`.
    pub url: String,
    /// The station account's certificate (PEM, leaf first).
    pub cert: PathBuf,
    /// Its private key (PEM).
    pub key: PathBuf,
    /// The root the CA's HTTPS server certificate chains to (PEM).
    pub ca: PathBuf,
    /// An answer is used without asking again for this long, 1–300. Default 300.
    #[serde(default = "default_refetch")]
    pub cache_seconds: u64,
    /// When the registry cannot be reached, an answer older than `cache_seconds` is still
    /// used until it is this much older; then logins fail closed. Default 600.
    #[serde(default = "default_registry_grace")]
    pub unreachable_grace_seconds: u64,
    /// Connect-and-answer timeout of one lookup. Default 5.
    #[serde(default = "default_registry_timeout")]
    pub timeout_seconds: u64,
}

/// `[log]`: the login record.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogConfig {
    /// The append-only, hash-chained JSON-lines file.
    pub path: PathBuf,
    /// A session ends after this many seconds without a request. Default 1800 (30 min).
    #[serde(default = "default_idle")]
    pub idle_seconds: u64,
    /// `batch` (default) or `always`.
    #[serde(default)]
    pub fsync: FsyncPolicy,
}

/// One `[[upstream]]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpstreamConfig {
    /// A name for logs.
    pub name: String,
    /// The service: `http://host:port` with an optional base path.
    pub url: String,
    /// Requests whose path starts with this prefix go here (the longest match wins).
    /// Default `/`.
    #[serde(default = "default_prefix")]
    pub path_prefix: String,
    /// Only requests for this Host (without port, case-insensitive). Default: any host.
    #[serde(default)]
    pub host: Option<String>,
    /// Remove `path_prefix` before forwarding. Default false.
    #[serde(default)]
    pub strip_prefix: bool,
    /// The credentials this service accepts.
    pub accept: Vec<CredentialKind>,
    /// The facility binding (第4条2).
    pub facility: FacilityBinding,
}

/// The whole file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GatewayConfig {
    pub listen: ListenConfig,
    pub trust: TrustConfig,
    pub log: LogConfig,
    /// HPKI trust anchors (`[[hpki]]`), for upstreams that accept `hpki`.
    #[serde(default)]
    pub hpki: Vec<HpkiConfig>,
    /// The doctor registry, needed with `[[hpki]]`.
    #[serde(default)]
    pub registry: Option<RegistryConfig>,
    #[serde(rename = "upstream")]
    pub upstreams: Vec<UpstreamConfig>,
}

fn yes() -> bool {
    true
}
fn default_header_timeout() -> u64 {
    30
}
fn default_refetch() -> u64 {
    300
}
fn default_unreachable_grace() -> u64 {
    3600
}
fn default_registry_grace() -> u64 {
    600
}
fn default_registry_timeout() -> u64 {
    5
}
fn default_hpki_auth() -> Vec<String> {
    vec![kmn_verify::DEFAULT_HPKI_AUTH_POLICY.into()]
}
fn default_hpki_sign() -> Vec<String> {
    vec![kmn_verify::DEFAULT_HPKI_SIGNATURE_POLICY.into()]
}
fn default_idle() -> u64 {
    1800
}
fn default_prefix() -> String {
    "/".into()
}

impl GatewayConfig {
    /// Reads and checks the file; relative paths are taken from the file's directory.
    pub fn load(path: &Path) -> Result<GatewayConfig, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let mut cfg: GatewayConfig =
            toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        let base = path.parent().unwrap_or(Path::new("."));
        let abs = |p: &mut PathBuf| {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        };
        abs(&mut cfg.listen.cert);
        abs(&mut cfg.listen.key);
        abs(&mut cfg.listen.admin_socket);
        abs(&mut cfg.log.path);
        cfg.trust.anchors.iter_mut().for_each(abs);
        cfg.trust.intermediates.iter_mut().for_each(abs);
        for h in &mut cfg.hpki {
            h.anchors.iter_mut().for_each(abs);
            h.intermediates.iter_mut().for_each(abs);
        }
        if let Some(r) = &mut cfg.registry {
            abs(&mut r.cert);
            abs(&mut r.key);
            abs(&mut r.ca);
        }
        cfg.check()
            .map_err(|e| format!("{}: {e}", path.display()))?;
        Ok(cfg)
    }

    /// The rules a file must meet beyond its syntax.
    pub fn check(&self) -> Result<(), String> {
        let t = &self.trust;
        if t.anchors.is_empty() {
            return Err("[trust] anchors: at least one trust anchor is needed".into());
        }
        if t.crl_urls.is_empty() {
            return Err("[trust] crl_urls: at least one CRL URL is needed (the ARL and each issuing CA's CRL); the gateway never runs without revocation checking".into());
        }
        if !(1..=300).contains(&t.refetch_seconds) {
            return Err(format!(
                "[trust] refetch_seconds = {}: must be 1–300 (CRLs are refetched at least every 5 minutes)",
                t.refetch_seconds
            ));
        }
        if t.card_policy_oids.is_empty() {
            return Err("[trust] card_policy_oids: the user-card policy OID is needed (`kmn ca show` prints it)".into());
        }
        for o in t.card_policy_oids.iter().chain(&t.operator_policy_oids) {
            const_oid::ObjectIdentifier::new(o)
                .map_err(|_| format!("[trust] policy OID '{o}' is not an OID"))?;
        }
        OcspSetting::check(&t.ocsp, "[trust]")?;
        for h in &self.hpki {
            let at = format!("[[hpki]] '{}'", h.name);
            if h.anchors.is_empty() {
                return Err(format!("{at}: anchors: at least one HPKI root is needed"));
            }
            if h.crl_urls.is_empty() {
                return Err(format!(
                    "{at}: crl_urls: the HPKI CA's CRL URL is needed (never without revocation checking)"
                ));
            }
            if !(1..=300).contains(&h.refetch_seconds) {
                return Err(format!(
                    "{at}: refetch_seconds = {}: must be 1–300",
                    h.refetch_seconds
                ));
            }
            if h.auth_policy_oids.is_empty() {
                return Err(format!(
                    "{at}: auth_policy_oids: the authentication certificate's policy OID is needed"
                ));
            }
            for o in h.auth_policy_oids.iter().chain(&h.signature_policy_oids) {
                const_oid::ObjectIdentifier::new(o)
                    .map_err(|_| format!("{at}: policy OID '{o}' is not an OID"))?;
            }
            OcspSetting::check(&h.ocsp, &at)?;
        }
        for (i, a) in self.hpki.iter().enumerate() {
            if self.hpki.iter().skip(i + 1).any(|b| b.name == a.name) {
                return Err(format!("[[hpki]] '{}' is named twice", a.name));
            }
        }
        if let Some(r) = &self.registry {
            if !r.url.starts_with("https://") {
                return Err(format!(
                    "[registry] url '{}' must start with https:// (the CA's API, with a station account's certificate)",
                    r.url
                ));
            }
            r.url
                .parse::<hyper::Uri>()
                .map_err(|e| format!("[registry] url '{}': {e}", r.url))?;
            if !(1..=300).contains(&r.cache_seconds) {
                return Err(format!(
                    "[registry] cache_seconds = {}: must be 1–300 (an answer is asked again at least every 5 minutes)",
                    r.cache_seconds
                ));
            }
            if r.timeout_seconds == 0 {
                return Err("[registry] timeout_seconds must be at least 1".into());
            }
        }
        if self.log.idle_seconds == 0 {
            return Err("[log] idle_seconds must be at least 1".into());
        }
        if self.upstreams.is_empty() {
            return Err("at least one [[upstream]] is needed".into());
        }
        for u in &self.upstreams {
            let at = format!("[[upstream]] '{}'", u.name);
            if !u.url.starts_with("http://") {
                return Err(format!(
                    "{at}: url '{}' must start with http:// (the gateway and the service share a host or a private network)",
                    u.url
                ));
            }
            u.url
                .parse::<hyper::Uri>()
                .map_err(|e| format!("{at}: url '{}': {e}", u.url))?;
            if !u.path_prefix.starts_with('/') {
                return Err(format!("{at}: path_prefix must start with '/'"));
            }
            if u.accept.is_empty() {
                return Err(format!("{at}: accept must name at least one credential"));
            }
            if u.accept.contains(&CredentialKind::Hpki) {
                if self.hpki.is_empty() {
                    return Err(format!(
                        "{at}: accepts hpki, but no [[hpki]] trust anchor is configured"
                    ));
                }
                if self.registry.is_none() {
                    return Err(format!(
                        "{at}: accepts hpki, but [registry] (the doctor registry that binds a doctor's card to facilities) is not configured"
                    ));
                }
            }
            if u.accept.contains(&CredentialKind::Operator) && t.operator_policy_oids.is_empty() {
                return Err(format!(
                    "{at}: accepts operator certificates, but [trust] operator_policy_oids is empty"
                ));
            }
            if let FacilityBinding::Fixed { code } = &u.facility
                && (code.is_empty() || !code.bytes().all(|b| b.is_ascii_digit()))
            {
                return Err(format!(
                    "{at}: facility code '{code}' must be the facility's digits"
                ));
            }
        }
        for (i, a) in self.upstreams.iter().enumerate() {
            for b in self.upstreams.iter().skip(i + 1) {
                if a.path_prefix == b.path_prefix
                    && a.host.as_deref().map(str::to_ascii_lowercase)
                        == b.host.as_deref().map(str::to_ascii_lowercase)
                {
                    return Err(format!(
                        "[[upstream]] '{}' and '{}' have the same host and path_prefix",
                        a.name, b.name
                    ));
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// The example in docs/GATEWAY.md parses and passes the checks as written.
    #[test]
    fn the_documented_example_is_valid() {
        let doc = include_str!("../../../docs/GATEWAY.md");
        let start = doc.find("```toml\n").unwrap() + "```toml\n".len();
        let end = start + doc[start..].find("```").unwrap();
        let cfg: GatewayConfig = toml::from_str(&doc[start..end]).unwrap();
        cfg.check().unwrap();
        assert_eq!(cfg.upstreams.len(), 2);
        assert_eq!(cfg.upstreams[1].facility, FacilityBinding::PerRequest);
    }

    #[test]
    fn hpki_needs_an_anchor_and_the_registry_and_refetch_is_capped() {
        let doc = include_str!("../../../docs/GATEWAY.md");
        let start = doc.find("```toml\n").unwrap() + "```toml\n".len();
        let end = start + doc[start..].find("```").unwrap();
        let text = &doc[start..end];
        let full: GatewayConfig = toml::from_str(text).unwrap();
        assert!(full.upstreams[1].accept.contains(&CredentialKind::Hpki));
        assert_eq!(
            OcspSetting::responder(&full.trust.ocsp),
            Some(Some("http://kmn.example.jp/ocsp".into()))
        );
        let mut no_registry = full.clone();
        no_registry.registry = None;
        let e = no_registry.check().unwrap_err();
        assert!(e.contains("[registry]"), "{e}");
        let mut no_anchor = full.clone();
        no_anchor.hpki.clear();
        let e = no_anchor.check().unwrap_err();
        assert!(e.contains("no [[hpki]] trust anchor"), "{e}");
        let mut plain = full.clone();
        if let Some(r) = plain.registry.as_mut() {
            r.url = "http://kmn.example.jp:8443".into();
        }
        assert!(plain.check().unwrap_err().contains("https://"));
        let mut cached = full.clone();
        if let Some(r) = cached.registry.as_mut() {
            r.cache_seconds = 301;
        }
        assert!(cached.check().unwrap_err().contains("1–300"));
        let mut https_ocsp = full;
        https_ocsp.hpki[0].ocsp = Some(OcspSetting::Responder("https://x/ocsp".into()));
        assert!(https_ocsp.check().unwrap_err().contains("http://"));
        let slow = text.replace("refetch_seconds = 300", "refetch_seconds = 301");
        let e = toml::from_str::<GatewayConfig>(&slow)
            .unwrap()
            .check()
            .unwrap_err();
        assert!(e.contains("1–300"), "{e}");
        let typo = text.replace("idle_seconds", "idle_secs");
        assert!(toml::from_str::<GatewayConfig>(&typo).is_err());
    }
}

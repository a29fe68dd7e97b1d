//! The HTTPS listener's TLS (DESIGN §7a): its rustls configuration, the client-certificate
//! verifier, and the watch over its own certificate.
//!
//! # Client certificates: the server builds the path
//!
//! Many card middlewares (OpenSC's libp11 engine under OpenSSL or curl, for one) send the
//! card's certificate alone, without the issuing CA's. The verifier therefore adds the
//! certificates of every issuing CA this center holds (G1 and G2 during a rollover) to the
//! intermediates the client sent, and lets webpki build the path to the root from them.
//! Client certificates stay optional at the TLS layer; revocation is checked by the
//! application on every request ([`crate::api::auth`]).
//!
//! # The listener's own certificate
//!
//! At start, and whenever a CRL is published (by this process, another instance or
//! `kmn crl publish`), a CA certificate is added, or the certificate file changes, the
//! listener looks up its own certificate in the store. When it has been revoked (or is on
//! hold):
//! - on a demo server (`demo = true`) whose certificate this center issued with the server
//!   profile, a new certificate and key are issued and served in its place;
//! - otherwise the listener refuses to start, or, while running, stops completing TLS
//!   handshakes (the HTTP repository, OCSP and CRL publication go on), with an error in
//!   the log that says which certificate and why. Installing a valid certificate and key
//!   in the configured files resumes HTTPS without a restart.

use std::sync::{Arc, RwLock};

use kmn_app::views::CaKind;
use kmn_app::{App, AppError};
use kmn_domain::CertStatus;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{DigitallySignedStruct, DistinguishedName, SignatureScheme};

/// How often the listener looks at the CRL numbers, the CAs and its certificate and key files.
const WATCH_INTERVAL: std::time::Duration = std::time::Duration::from_secs(1);

/// The actor recorded for a certificate the demo listener issues to replace a revoked one.
const RENEWAL_ACTOR: &str = "system:tls-renewal";

/// The rustls configuration the HTTPS listener uses for its next handshake; [`watch`]
/// swaps it (connections already made keep theirs). A view made by
/// [`ServerTls::without_client_auth`] serves the same certificate without ever sending
/// a CertificateRequest (the holders' emergency form: a phone's browser must not offer a
/// certificate picker), following every reload.
#[derive(Clone)]
pub struct ServerTls {
    config: Arc<RwLock<Arc<rustls::ServerConfig>>>,
    no_client_auth: bool,
    derived: Arc<std::sync::Mutex<Option<Derived>>>,
}

/// The configuration without client authentication derived from one base configuration
/// (keyed by the base's address, so that a reload derives a new one).
type Derived = (usize, Arc<rustls::ServerConfig>);

impl ServerTls {
    /// Holds `config`.
    pub fn new(config: rustls::ServerConfig) -> Self {
        ServerTls {
            config: Arc::new(RwLock::new(Arc::new(config))),
            no_client_auth: false,
            derived: Arc::default(),
        }
    }

    /// The same certificate, no client certificates asked for.
    pub fn without_client_auth(&self) -> Self {
        ServerTls {
            config: self.config.clone(),
            no_client_auth: true,
            derived: Arc::default(),
        }
    }

    /// The configuration for a handshake starting now.
    pub fn current(&self) -> Arc<rustls::ServerConfig> {
        let base = self
            .config
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        if !self.no_client_auth {
            return base;
        }
        let key = Arc::as_ptr(&base) as usize;
        let mut d = self.derived.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((k, c)) = d.as_ref()
            && *k == key
        {
            return c.clone();
        }
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let public = match rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
        {
            Ok(b) => {
                let mut c = b
                    .with_no_client_auth()
                    .with_cert_resolver(base.cert_resolver.clone());
                c.alpn_protocols = base.alpn_protocols.clone();
                Arc::new(c)
            }
            Err(e) => {
                tracing::error!(error = %e, "no TLS configuration without client authentication");
                return base;
            }
        };
        *d = Some((key, public.clone()));
        public
    }

    /// Replaces the configuration for handshakes from now on.
    pub fn reload_from_config(&self, config: Arc<rustls::ServerConfig>) {
        *self.config.write().unwrap_or_else(|e| e.into_inner()) = config;
    }
}

/// A client-certificate verifier that builds the path from the server's own issuing-CA
/// certificates as well as those the client sent.
#[derive(Debug)]
pub struct IssuingChainVerifier {
    inner: Arc<dyn ClientCertVerifier>,
    issuing: Vec<CertificateDer<'static>>,
}

impl IssuingChainVerifier {
    /// Wraps `inner` (a webpki verifier anchored at the root); `issuing` are the issuing
    /// CA certificates to offer as intermediates.
    pub fn new(inner: Arc<dyn ClientCertVerifier>, issuing: Vec<CertificateDer<'static>>) -> Self {
        IssuingChainVerifier { inner, issuing }
    }
}

impl ClientCertVerifier for IssuingChainVerifier {
    fn offer_client_auth(&self) -> bool {
        self.inner.offer_client_auth()
    }

    fn client_auth_mandatory(&self) -> bool {
        self.inner.client_auth_mandatory()
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        self.inner.root_hint_subjects()
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        let mut all: Vec<CertificateDer<'_>> = intermediates.to_vec();
        for c in &self.issuing {
            if !all.iter().any(|x| x.as_ref() == c.as_ref()) {
                all.push(CertificateDer::from(c.as_ref()));
            }
        }
        self.inner.verify_client_cert(end_entity, &all, now)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// A certificate resolver that has no certificate: every handshake is refused (alert
/// access_denied). Installed while the listener's own certificate is revoked.
#[derive(Debug)]
struct NoCertificate;

impl rustls::server::ResolvesServerCert for NoCertificate {
    fn resolve(
        &self,
        _hello: rustls::server::ClientHello<'_>,
    ) -> Option<Arc<rustls::sign::CertifiedKey>> {
        None
    }
}

/// The CA certificates of this center: the active root, and every issuing CA.
struct CaCerts {
    root: Vec<u8>,
    issuing: Vec<Vec<u8>>,
    /// Serials of every CA record (to notice a new one).
    serials: Vec<String>,
}

async fn ca_certs(app: &App) -> Result<CaCerts, AppError> {
    let cas = kmn_app::views::public::cas(app).await?;
    let root = cas
        .iter()
        .find(|c| c.kind == CaKind::Root && c.active)
        .cloned();
    let root = root.ok_or_else(|| AppError::CaState("no CA: run `kmn ca init` first".into()))?;
    let mut serials: Vec<String> = cas.iter().map(|c| c.serial_hex.clone()).collect();
    serials.sort();
    Ok(CaCerts {
        root: root.cert_der,
        issuing: cas
            .into_iter()
            .filter(|c| c.kind == CaKind::Issuing)
            .map(|c| c.cert_der)
            .collect(),
        serials,
    })
}

/// The listener's certificate chain and key, read from the configured files.
struct Identity {
    certs: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    /// SHA-256 of the certificate and key files as read (to notice a change).
    file: Vec<u8>,
}

/// SHA-256 over the certificate file and the key file (empty when unreadable).
fn files_digest(app: &App) -> Vec<u8> {
    use sha2::Digest;
    let mut h = sha2::Sha256::new();
    for p in [cert_path(app), key_path(app)] {
        let b = std::fs::read(p).unwrap_or_default();
        h.update((b.len() as u64).to_be_bytes());
        h.update(&b);
    }
    h.finalize().to_vec()
}

fn cert_path(app: &App) -> std::path::PathBuf {
    app.cfg.resolve(&app.data_dir, &app.cfg.tls_cert_file)
}

fn key_path(app: &App) -> std::path::PathBuf {
    app.cfg.resolve(&app.data_dir, &app.cfg.tls_key_file)
}

fn load_identity(app: &App) -> Result<Identity, AppError> {
    let cert_path = cert_path(app);
    let key_path = key_path(app);
    let file = std::fs::read(&cert_path).map_err(|e| {
        AppError::Config(format!(
            "cannot read the TLS certificate {}: {e}",
            cert_path.display()
        ))
    })?;
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&file)
        .collect::<Result<_, _>>()
        .map_err(|e| {
            AppError::Config(format!("bad TLS certificate {}: {e}", cert_path.display()))
        })?;
    if certs.is_empty() {
        return Err(AppError::Config(format!(
            "the TLS certificate file {} holds no certificate",
            cert_path.display()
        )));
    }
    let key_file = std::fs::read(&key_path).map_err(|e| {
        AppError::Config(format!(
            "cannot read the TLS key {}: {e}",
            key_path.display()
        ))
    })?;
    let key = PrivateKeyDer::from_pem_slice(&key_file)
        .map_err(|e| AppError::Config(format!("bad TLS key {}: {e}", key_path.display())))?;
    use sha2::Digest;
    let mut h = sha2::Sha256::new();
    for b in [&file, &key_file] {
        h.update((b.len() as u64).to_be_bytes());
        h.update(b);
    }
    Ok(Identity {
        certs,
        key,
        file: h.finalize().to_vec(),
    })
}

/// The rustls configuration: the given identity (or none: refuse every handshake), and
/// client certificates optional, verified against the root with the issuing CAs offered
/// as intermediates.
fn build(cas: &CaCerts, identity: Option<Identity>) -> Result<rustls::ServerConfig, AppError> {
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from(cas.root.clone()))
        .map_err(|e| {
            AppError::Config(format!(
                "the root certificate is not usable as a TLS trust anchor: {e}"
            ))
        })?;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let webpki = rustls::server::WebPkiClientVerifier::builder_with_provider(
        Arc::new(roots),
        provider.clone(),
    )
    .allow_unauthenticated()
    .build()
    .map_err(|e| AppError::Config(format!("client verifier: {e}")))?;
    let verifier = Arc::new(IssuingChainVerifier::new(
        webpki,
        cas.issuing
            .iter()
            .map(|d| CertificateDer::from(d.clone()))
            .collect(),
    ));
    let builder = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| AppError::Config(e.to_string()))?
        .with_client_cert_verifier(verifier);
    match identity {
        Some(id) => builder
            .with_single_cert(id.certs, id.key)
            .map_err(|e| AppError::Config(format!("the TLS certificate and key do not fit: {e}"))),
        None => Ok(builder.with_cert_resolver(Arc::new(NoCertificate))),
    }
}

/// The status of the listener's certificate in this center's store.
enum OwnStatus {
    /// Not issued by this center: its status is not known here.
    Foreign,
    /// Valid.
    Good,
    /// Revoked or on hold.
    Unusable {
        serial: String,
        why: String,
        /// A demo server's own server-profile certificate: the listener may issue a new one.
        renewable: bool,
    },
}

async fn own_status(app: &App, leaf: &[u8]) -> Result<OwnStatus, AppError> {
    let fp = kmn_pki::cert::fingerprint_sha256(leaf);
    let rec = kmn_app::views::public::certificate_by_fingerprint(app, &fp).await?;
    let Some(rec) = rec else {
        return Ok(OwnStatus::Foreign);
    };
    let why = match rec.status {
        CertStatus::Valid => return Ok(OwnStatus::Good),
        CertStatus::OnHold => "on hold".to_string(),
        CertStatus::Revoked => match &rec.revocation_reason {
            Some(r) => format!("revoked ({})", r.rfc_name()),
            None => "revoked".to_string(),
        },
    };
    Ok(OwnStatus::Unusable {
        renewable: app.cfg.demo && rec.profile == kmn_domain::ProfileKind::Server.as_str(),
        serial: rec.serial_hex,
        why,
    })
}

/// What the listener decided to serve.
enum Decision {
    /// Its certificate (possibly renewed just now).
    Serve(rustls::ServerConfig),
    /// Nothing: its certificate is unusable and cannot be renewed here.
    Refuse {
        config: rustls::ServerConfig,
        message: String,
    },
}

/// The state the watch compares against.
struct Seen {
    cert_file: Vec<u8>,
    ca_serials: Vec<String>,
    crl_numbers: Vec<(String, i64)>,
    refusing: bool,
}

async fn crl_numbers(app: &App) -> Result<Vec<(String, i64)>, AppError> {
    let last = kmn_app::views::public::last_crls(app).await?;
    let mut out = Vec::new();
    for ca in kmn_app::views::public::cas(app)
        .await?
        .iter()
        .filter(|c| c.kind != CaKind::OcspSigner)
    {
        let n = last
            .iter()
            .find(|c| c.ca_name == ca.name)
            .map(|c| c.number)
            .unwrap_or(0);
        out.push((ca.name.clone(), n));
    }
    Ok(out)
}

/// Looks at the listener's certificate and decides what to serve; renews a demo server's
/// revoked certificate. Returns the decision and the certificate file it was based on.
async fn decide(app: &App, cas: &CaCerts, at_start: bool) -> Result<(Decision, Vec<u8>), AppError> {
    let id = load_identity(app)?;
    let leaf = id.certs[0].as_ref().to_vec();
    match own_status(app, &leaf).await? {
        OwnStatus::Good => {
            let file = id.file.clone();
            Ok((Decision::Serve(build(cas, Some(id))?), file))
        }
        OwnStatus::Foreign => {
            if at_start {
                tracing::info!(
                file = %cert_path(app).display(),
                "the HTTPS listener's TLS certificate was not issued by this CA: its revocation status is not checked here"
                );
            }
            let file = id.file.clone();
            Ok((Decision::Serve(build(cas, Some(id))?), file))
        }
        OwnStatus::Unusable {
            serial,
            why,
            renewable: true,
        } => match kmn_app::quickstart::issue_tls_cert(app, RENEWAL_ACTOR).await {
            Ok(new_serial) => {
                tracing::warn!(
                    old_serial = %serial,
                    new_serial = %new_serial,
                    "the HTTPS listener's TLS certificate {serial} is {why}: issued a new one ({new_serial}) for this demo server and serving it"
                );
                let id = load_identity(app)?;
                let file = id.file.clone();
                Ok((Decision::Serve(build(cas, Some(id))?), file))
            }
            Err(e) => Ok((
                Decision::Refuse {
                    config: build(cas, None)?,
                    message: format!(
                        "the HTTPS listener's TLS certificate {serial} is {why} and a new one could not be issued ({e}): HTTPS is not served"
                    ),
                },
                id.file,
            )),
        },
        OwnStatus::Unusable {
            serial,
            why,
            renewable: false,
        } => Ok((
            Decision::Refuse {
                config: build(cas, None)?,
                message: format!(
                    "the HTTPS listener's TLS certificate {serial} is {why}: HTTPS is not served with it; install a valid server certificate and its key in {} and {}",
                    cert_path(app).display(),
                    key_path(app).display()
                ),
            },
            id.file,
        )),
    }
}

/// The rustls configuration of the HTTPS listener at start: the server chain and key from
/// the configuration (renewed first on a demo server when revoked); client certificates
/// optional, verified against the root with the issuing CAs' certificates. Refuses to
/// start when the certificate is revoked and cannot be renewed.
pub async fn tls_config(app: &App) -> Result<rustls::ServerConfig, AppError> {
    Ok(start_config(app).await?.0)
}

/// [`tls_config`] and the state for [`watch`].
pub(crate) async fn start_config(app: &App) -> Result<(rustls::ServerConfig, Watch), AppError> {
    let crls = crl_numbers(app).await?;
    let cas = ca_certs(app).await?;
    let (decision, file) = decide(app, &cas, true).await?;
    match decision {
        Decision::Serve(cfg) => Ok((
            cfg,
            Watch(Seen {
                cert_file: file,
                ca_serials: cas.serials,
                crl_numbers: crls,
                refusing: false,
            }),
        )),
        Decision::Refuse { message, .. } => {
            tracing::error!("{message}");
            Err(AppError::CaState(message))
        }
    }
}

/// What [`watch`] starts from.
pub struct Watch(Seen);

/// Watches the CRL publications, the CA certificates and the certificate file; swaps the
/// listener's configuration when they change what it should serve. Runs until the
/// process ends.
pub async fn watch(app: App, rustls: ServerTls, start: Watch) {
    let mut seen = start.0;
    loop {
        tokio::time::sleep(WATCH_INTERVAL).await;
        let (crls, cas) = match (crl_numbers(&app).await, ca_certs(&app).await) {
            (Ok(n), Ok(c)) => (n, c),
            (Err(e), _) | (_, Err(e)) => {
                tracing::error!(error = %e, "TLS certificate watch: database unavailable");
                continue;
            }
        };
        let file = files_digest(&app);
        let published = crls != seen.crl_numbers;
        let ca_changed = cas.serials != seen.ca_serials;
        let file_changed = file != seen.cert_file;
        if !(published || ca_changed || file_changed) {
            continue;
        }
        match decide(&app, &cas, false).await {
            Ok((Decision::Serve(cfg), file)) => {
                // A CRL that did not concern the listener changes nothing it serves.
                if seen.refusing || ca_changed || file != seen.cert_file {
                    rustls.reload_from_config(Arc::new(cfg));
                    if seen.refusing {
                        tracing::warn!("the HTTPS listener serves again with a valid certificate");
                    }
                }
                seen.cert_file = file;
                seen.refusing = false;
            }
            Ok((Decision::Refuse { config, message }, file)) => {
                if !seen.refusing || file != seen.cert_file {
                    rustls.reload_from_config(Arc::new(config));
                    tracing::error!("{message}");
                }
                seen.cert_file = file;
                seen.refusing = true;
            }
            Err(e) => {
                // Keep serving what was loaded; look again at the next change.
                tracing::error!(error = %e, "TLS certificate watch: cannot reload the listener's certificate");
                seen.cert_file = file;
            }
        }
        seen.crl_numbers = crls;
        seen.ca_serials = cas.serials;
    }
}

//! The key ceremony and the CA's keys: `kmn ca init` (root, issuing CA, OCSP signer,
//! first ARL and CRL, policy OIDs), `kmn ca sign-arl`, `kmn ca new-issuing` (the G2
//! rollover), `kmn ca revoke-issuing` (a root act on the ARL), and loading signers. The
//! root key is loaded only for the last three.
//!
//! The root key is always a software key (offline, backed up with `kmn ca backup`,
//! DESIGN §6). The issuing CA's and the OCSP signer's keys are software keys or, with
//! [`HsmParams`], generated in a PKCS#11 token; the CA record's `key_ref` says which
//! (`file:secrets/…` or a `pkcs11:` URI, see [`crate::ca::hsm`]), so every later process
//! loads the right signer.

pub mod backup;
pub mod crl;
pub mod evidence;
pub mod hsm;
pub mod issue;
pub mod ocsp;
pub mod publisher;
pub mod repo;
pub mod revoke;

use kmn_domain::{CertSerial, CertStatus, ProfileKind};
use kmn_pki::cert::{self, CertTemplate, IssuerInfo, Urls};
use kmn_pki::ext::{self, PolicyOid};
use kmn_pki::keys::{KeyAlgorithm, Signer, SoftwareKey, encrypt_pkcs8_pem};
use kmn_pki::lint::Expectations;
use kmn_pki::name::DistinguishedName;
use kmn_pki::oid;
use kmn_store::{CaKind, CaRecord, NewAuditEvent, NewCert, Tx};
use time::{Duration, OffsetDateTime};

use crate::{App, AppError, secrets};
use hsm::HsmCaKey;
pub use hsm::HsmParams;

/// Ceremony parameters (all lifetimes and algorithms are choices of the ceremony).
#[derive(Clone, Debug)]
pub struct CeremonyParams {
    /// Root key algorithm (default P-384).
    pub root_key: KeyAlgorithm,
    /// Issuing CA key algorithm (default P-256).
    pub issuing_key: KeyAlgorithm,
    /// OCSP signer key algorithm (default P-256).
    pub ocsp_key: KeyAlgorithm,
    /// Root validity in years (default 20).
    pub root_years: i32,
    /// Issuing CA validity in years (at least 10, DESIGN §4).
    pub issuing_years: i32,
    /// OCSP signer validity in days (default 90).
    pub ocsp_days: i64,
    /// The association's policy arc; a UUID-derived arc (1.2.840.113556.1.8000.2554.…) is made when absent.
    pub policy_arc: Option<String>,
    /// Who performs the ceremony (recorded in the audit log).
    pub operator: String,
    /// Generate the issuing CA's and the OCSP signer's keys in this HSM token (the root
    /// stays a software key).
    pub hsm: Option<HsmParams>,
}

impl Default for CeremonyParams {
    fn default() -> Self {
        Self {
            root_key: KeyAlgorithm::P384,
            issuing_key: KeyAlgorithm::P256,
            ocsp_key: KeyAlgorithm::P256,
            root_years: 20,
            issuing_years: 10,
            ocsp_days: 90,
            policy_arc: None,
            operator: "cli".into(),
            hsm: None,
        }
    }
}

/// The network's policy OIDs (DESIGN §4).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Policies {
    /// The arc.
    pub arc: PolicyOid,
    /// User cards: `<arc>.1`.
    pub user_card: PolicyOid,
    /// Operator certificates: `<arc>.2`.
    pub operator: PolicyOid,
    /// TLS servers of the network: `<arc>.3`.
    pub server: PolicyOid,
}

impl Policies {
    /// Derives the OIDs from the arc.
    pub fn from_arc(arc: PolicyOid) -> Self {
        Self {
            user_card: arc.child(1),
            operator: arc.child(2),
            server: arc.child(3),
            arc,
        }
    }

    /// The policy OID of an end-entity profile.
    pub fn for_profile(&self, p: ProfileKind) -> Vec<PolicyOid> {
        match p {
            ProfileKind::UserCard => vec![self.user_card.clone()],
            // A station is the center's own equipment: the operator policy (the issuing
            // CA asserts no other, and a new policy would need a new issuing CA).
            ProfileKind::Operator | ProfileKind::Station => vec![self.operator.clone()],
            ProfileKind::Server => vec![self.server.clone()],
            ProfileKind::IssuingCa => vec![
                self.user_card.clone(),
                self.operator.clone(),
                self.server.clone(),
            ],
            ProfileKind::Root | ProfileKind::OcspSigner | ProfileKind::AuditSigner => vec![],
        }
    }

    /// Loads them from the store.
    pub async fn current(app: &App) -> Result<Policies, AppError> {
        let mut tx = app.store.read().await?;
        let p = Self::load(&mut tx).await;
        tx.rollback().await?;
        p
    }

    /// The policies recorded in the store.
    pub(crate) async fn load(tx: &mut Tx) -> Result<Policies, AppError> {
        let arc = tx.setting("policy_arc").await?.ok_or_else(|| {
            AppError::CaState(
                "no CA in this data dir: run `kmn ca init` (or `kmn up`) first".into(),
            )
        })?;
        Ok(Self::from_arc(PolicyOid::parse(&arc)?))
    }
}

/// A loaded CA: its record, issuer facts and key.
pub struct LoadedCa {
    /// The record.
    pub(crate) record: CaRecord,
    /// Facts for the builder and the lints.
    pub info: IssuerInfo,
    /// Its key.
    pub signer: Box<dyn Signer>,
}

impl LoadedCa {
    /// Its short name.
    pub fn name(&self) -> &str {
        &self.record.name
    }

    /// Its certificate (DER).
    pub fn cert_der(&self) -> &[u8] {
        &self.record.cert_der
    }

    /// Its kind.
    pub fn kind(&self) -> crate::views::CaKind {
        self.record.kind.into()
    }
}

/// Software CA keys this process has decrypted, shared by every [`LoadedCa`] of the
/// same CA and key.
#[derive(Clone, Default)]
pub struct KeyCache(
    pub(crate)  std::sync::Arc<
        std::sync::Mutex<std::collections::HashMap<String, std::sync::Arc<dyn Signer>>>,
    >,
);

/// A cached key behind a `Box<dyn Signer>`.
struct SharedKey(std::sync::Arc<dyn Signer>);

impl Signer for SharedKey {
    fn signature_algorithm(&self) -> kmn_pki::keys::SignatureAlgorithm {
        self.0.signature_algorithm()
    }
    fn spki_der(&self) -> &[u8] {
        self.0.spki_der()
    }
    fn sign(&self, tbs: &[u8]) -> Result<Vec<u8>, kmn_pki::PkiError> {
        self.0.sign(tbs)
    }
    fn check(&self) -> Result<(), kmn_pki::PkiError> {
        self.0.check()
    }
}

/// Draws a new serial: 128 random bits (DESIGN §4).
pub fn new_serial() -> CertSerial {
    loop {
        let mut b = [0u8; 16];
        aws_lc_rs::rand::fill(&mut b).expect("system randomness");
        if let Some(s) = CertSerial::from_random(b) {
            return s;
        }
    }
}

/// Loads the key behind a CA record: a software key file (decrypted with `passphrase`)
/// or an HSM key (`pkcs11:`; the PIN comes from `KMN_HSM_PIN`/`KMN_HSM_PIN_FILE`).
pub(crate) fn load_signer(
    app: &App,
    ca: &CaRecord,
    passphrase: &str,
) -> Result<Box<dyn Signer>, AppError> {
    if hsm::is_hsm_ref(&ca.key_ref) {
        return Ok(Box::new(HsmCaKey::for_record(app, ca)?));
    }
    let Some(rel) = ca.key_ref.strip_prefix("file:") else {
        return Err(AppError::Config(format!(
            "the key of {} is at '{}', which this build cannot open (only file: and pkcs11: keys)",
            ca.name, ca.key_ref
        )));
    };
    let path = app.data_dir.join(rel);
    let pem = std::fs::read_to_string(&path).map_err(|e| {
        AppError::Io(format!(
            "cannot read the key of {} at {}: {e}",
            ca.name,
            path.display()
        ))
    })?;
    let key = SoftwareKey::from_encrypted_pem(&pem, passphrase.as_bytes()).map_err(|e| match e {
        kmn_pki::PkiError::WrongPassphrase => AppError::Passphrase(format!(
            "the CA passphrase is wrong: the key of {} could not be decrypted; nothing was changed",
            ca.name
        )),
        other => AppError::from(other),
    })?;
    let cert_spki = kmn_pki::parse::cert(&ca.cert_der)?.tbs.spki.to_vec();
    if key.spki_der() != cert_spki.as_slice() {
        return Err(AppError::Config(format!(
            "the key file of {} does not match its certificate",
            ca.name
        )));
    }
    Ok(Box::new(key))
}

/// Loads the active CA of a kind with its key.
pub async fn load_active(app: &App, kind: crate::views::CaKind) -> Result<LoadedCa, AppError> {
    load_active_kind(app, kind.into()).await
}

/// [`load_active`] with the store's kind.
pub(crate) async fn load_active_kind(app: &App, kind: CaKind) -> Result<LoadedCa, AppError> {
    let mut tx = app.store.read().await?;
    let rec = tx.active_ca(kind).await?;
    tx.rollback().await?;
    let rec = rec.ok_or_else(|| {
        AppError::CaState("no CA in this data dir: run `kmn ca init` (or `kmn up`) first".into())
    })?;
    load_record(app, rec)
}

/// Loads a CA record's key: a software key with the configured passphrase, or an HSM
/// key with the HSM user PIN (connected on its first signature).
pub async fn load_named(app: &App, name: &str) -> Result<LoadedCa, AppError> {
    let mut tx = app.store.read().await?;
    let cas = tx.list_cas().await;
    tx.rollback().await?;
    let rec = cas?
        .into_iter()
        .find(|c| c.name == name)
        .ok_or_else(|| AppError::CaState(format!("no CA named {name}")))?;
    load_record(app, rec)
}

/// Loads a CA record's key (see [`load_named`]).
pub(crate) fn load_record(app: &App, rec: CaRecord) -> Result<LoadedCa, AppError> {
    let signer = if hsm::is_hsm_ref(&rec.key_ref) {
        Box::new(HsmCaKey::for_record(app, &rec)?) as Box<dyn Signer>
    } else {
        let id = format!("{}|{}", rec.name, rec.key_ref);
        let cached = app.ca_keys.0.lock().ok().and_then(|m| m.get(&id).cloned());
        let key = match cached {
            Some(k) => k,
            None => {
                let pass = app.cfg.ca_passphrase(&app.data_dir)?;
                let k: std::sync::Arc<dyn Signer> = load_signer(app, &rec, &pass)?.into();
                if let Ok(mut m) = app.ca_keys.0.lock() {
                    m.insert(id, k.clone());
                }
                k
            }
        };
        Box::new(SharedKey(key)) as Box<dyn Signer>
    };
    let info = IssuerInfo::from_cert(&rec.cert_der, signer.signature_algorithm())?;
    Ok(LoadedCa {
        record: rec,
        info,
        signer,
    })
}

const ROOT_CN: &str = "Kumamoto Medical Network Root CA G1";
const ISSUING_G1_CN: &str = "Kumamoto Medical Network Issuing CA G1";
const OCSP_G1_CN: &str = "Kumamoto Medical Network OCSP Signer G1";

/// What the ceremony will write into the certificates, one line each, for the CA
/// administrator to read before anything is signed (the names and URLs cannot change
/// for certificates already issued).
pub fn ceremony_plan(app: &App) -> Result<Vec<String>, AppError> {
    let base = &app.cfg.public_base_url;
    Ok(vec![
        format!("root CA subject      {}", ca_subject(app, ROOT_CN)?),
        format!("issuing CA subject   {}", ca_subject(app, ISSUING_G1_CN)?),
        format!("OCSP signer subject  {}", ca_subject(app, OCSP_G1_CN)?),
        format!(
            "root CRL (ARL) URL   {}",
            repo::url(app, &repo::crl_file("kmn-root-g1"))
        ),
        format!(
            "root cert URL        {}",
            repo::url(app, &repo::cert_file("kmn-root-g1"))
        ),
        format!(
            "issuing CRL URL      {}",
            repo::url(app, &repo::crl_file("kmn-issuing-g1"))
        ),
        format!(
            "issuing cert URL     {}",
            repo::url(app, &repo::cert_file("kmn-issuing-g1"))
        ),
        format!("OCSP URL             {base}/ocsp"),
        format!("CPS URL              {base}/repo/cps"),
    ])
}

pub(crate) fn ca_subject(app: &App, cn: &str) -> Result<DistinguishedName, AppError> {
    let mut dn = DistinguishedName::default();
    dn.push(oid::AT_COUNTRY, "JP")?;
    dn.push(oid::AT_ORGANIZATION, &app.cfg.organization)?;
    dn.push(oid::AT_COMMON_NAME, cn)?;
    Ok(dn)
}

/// Records the intent, signs and records the certificate, inside `tx`.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn issue_in_tx(
    tx: &mut Tx,
    issuer_name: &str,
    issuer: &IssuerInfo,
    signer: &dyn Signer,
    t: &CertTemplate,
    expect: &Expectations,
    status: CertStatus,
    now: i64,
) -> Result<Vec<u8>, AppError> {
    let linted = cert::prepare(t, issuer, expect)?;
    let serial_hex = t.serial.to_hex();
    tx.insert_intent(
        &serial_hex,
        issuer_name,
        t.profile.as_str(),
        linted.tbs(),
        now,
    )
    .await?;
    let der = cert::sign(linted, signer)?;
    let subject = t.subject.to_string();
    tx.insert_certificate(&NewCert {
        serial_hex: &serial_hex,
        serial: t.serial.as_bytes(),
        ca_name: issuer_name,
        profile: t.profile.as_str(),
        subject: &subject,
        not_before: t.not_before.unix_timestamp(),
        not_after: t.not_after.unix_timestamp(),
        fingerprint_sha256: &cert::fingerprint_sha256(&der),
        der: &der,
        issued_at: now,
        status,
    })
    .await?;
    Ok(der)
}

/// What a ceremony made.
#[derive(Clone, Debug)]
pub struct CeremonyRecord {
    /// Root name and SHA-256 fingerprint.
    pub root: (String, String),
    /// Issuing CA name and fingerprint.
    pub issuing: (String, String),
    /// OCSP signer name and fingerprint.
    pub ocsp: (String, String),
    /// Audit signer name and fingerprint.
    pub audit: (String, String),
    /// The first signed checkpoint of the audit log (None when it could not be signed:
    /// the reason is logged, and `kmn serve` or `kmn audit checkpoint` signs one).
    pub checkpoint: Option<crate::audit::Checkpoint>,
    /// The policy arc.
    pub policy_arc: String,
    /// Files written.
    pub files: Vec<String>,
    /// Where each key is (CA name, `file:…` or `pkcs11:…`).
    pub key_refs: Vec<(String, String)>,
}

struct KeyFile {
    path: std::path::PathBuf,
    pem: String,
}

/// A newly made CA key: software (its encrypted file is written with the CA's records)
/// or generated in the HSM.
enum NewKey {
    Soft(SoftwareKey, KeyFile),
    Hsm(HsmCaKey),
}

impl NewKey {
    /// A key for the CA `name`: in the HSM when `hsm` is given, else a software key
    /// whose file (encrypted with `passphrase`) is `secrets/<name>.key.pem`.
    fn make(
        alg: KeyAlgorithm,
        name: &str,
        secrets_dir: &std::path::Path,
        passphrase: &str,
        hsm: Option<&HsmParams>,
    ) -> Result<NewKey, AppError> {
        match hsm {
            Some(h) => Ok(NewKey::Hsm(HsmCaKey::generate(h, alg, name)?)),
            None => {
                let (key, pkcs8) = SoftwareKey::generate(alg)?;
                let file = KeyFile {
                    path: secrets_dir.join(format!("{name}.key.pem")),
                    pem: encrypt_pkcs8_pem(&pkcs8, passphrase.as_bytes())?,
                };
                Ok(NewKey::Soft(key, file))
            }
        }
    }

    fn signer(&self) -> &dyn Signer {
        match self {
            NewKey::Soft(k, _) => k,
            NewKey::Hsm(k) => k,
        }
    }

    fn key_ref(&self, name: &str) -> String {
        match self {
            NewKey::Soft(..) => format!("file:secrets/{name}.key.pem"),
            NewKey::Hsm(k) => k.key_ref().to_uri(),
        }
    }

    fn file(&self) -> Option<&KeyFile> {
        match self {
            NewKey::Soft(_, f) => Some(f),
            NewKey::Hsm(_) => None,
        }
    }

    /// Undoes the key: removes its file, or destroys it on the token.
    fn discard(&self) {
        match self {
            NewKey::Soft(_, f) => {
                let _ = std::fs::remove_file(&f.path);
            }
            NewKey::Hsm(k) => {
                if let Err(e) = k.destroy() {
                    tracing::error!(error = %e, "could not destroy an HSM key of a failed ceremony step");
                }
            }
        }
    }
}

/// `kmn ca init`: the key ceremony. Refused when a CA exists. All or nothing: on any
/// failure, no key file, database row or repository file is left behind.
pub async fn init(
    app: &App,
    p: &CeremonyParams,
    passphrase: &str,
) -> Result<CeremonyRecord, AppError> {
    if p.issuing_years < 10 {
        return Err(AppError::BadInput(format!(
            "the issuing CA must be valid at least 10 years (DESIGN §4), not {}",
            p.issuing_years
        )));
    }
    if p.root_years <= p.issuing_years {
        return Err(AppError::BadInput(
            "the root must outlive the issuing CA: --root-years must exceed --issuing-years".into(),
        ));
    }
    if !(1..=366).contains(&p.ocsp_days) {
        return Err(AppError::BadInput("--ocsp-days must be 1 to 366".into()));
    }
    secrets::check_passphrase(passphrase)?;
    {
        let mut tx = app.store.begin().await?;
        let existing = tx.list_cas().await?;
        tx.rollback().await?;
        if let Some(root) = existing.iter().find(|c| c.kind == CaKind::Root) {
            return Err(AppError::CaState(format!(
                "a CA already exists in this data dir (root {}, made {}); a second ceremony is refused",
                root.name,
                kmn_domain::time_fmt::rfc3339_unix(root.created_at)
            )));
        }
    }
    let secrets_dir = app.data_dir.join("secrets");
    for n in [
        "kmn-root-g1",
        "kmn-issuing-g1",
        "kmn-ocsp-g1-1",
        "kmn-audit-g1-1",
    ] {
        if secrets_dir.join(format!("{n}.key.pem")).exists() {
            return Err(AppError::CaState(format!(
                "secrets/{n}.key.pem already exists: a second ceremony is refused"
            )));
        }
    }
    let repo_dir = app.repo_dir();
    repo::check_writable(&repo_dir)?;
    secrets::ensure_dir(&secrets_dir, 0o700)?;

    let now_t = app.clock.now();
    let now = now_t.unix_timestamp();
    let policies = Policies::from_arc(match &p.policy_arc {
        Some(a) => {
            let arc = PolicyOid::parse(a)?;
            if !arc.arcs_fit_32_bits() {
                return Err(AppError::BadInput(format!(
                    "policy arc {a} has an arc wider than 32 bits (such as 2.25.<uuid>); relying parties and pkilint cannot decode it"
                )));
            }
            arc
        }
        None => PolicyOid::from_uuid(uuid::Uuid::new_v4()),
    });

    // Keys: the root in software always (offline, backed up); the issuing CA and the
    // OCSP signer in the HSM when asked.
    let (root_key, root_pkcs8) = SoftwareKey::generate(p.root_key)?;
    let root_file = KeyFile {
        path: secrets_dir.join("kmn-root-g1.key.pem"),
        pem: encrypt_pkcs8_pem(&root_pkcs8, passphrase.as_bytes())?,
    };
    drop(root_pkcs8);
    let hsm = p.hsm.as_ref();
    let iss_key = NewKey::make(
        p.issuing_key,
        "kmn-issuing-g1",
        &secrets_dir,
        passphrase,
        hsm,
    )?;
    let ocsp_key = match NewKey::make(p.ocsp_key, "kmn-ocsp-g1-1", &secrets_dir, passphrase, hsm) {
        Ok(k) => k,
        Err(e) => {
            iss_key.discard();
            return Err(e);
        }
    };
    // The audit signer (issue 9 item 6): where the OCSP signer's key is, same algorithm.
    let audit_key = match NewKey::make(p.ocsp_key, "kmn-audit-g1-1", &secrets_dir, passphrase, hsm)
    {
        Ok(k) => k,
        Err(e) => {
            iss_key.discard();
            ocsp_key.discard();
            return Err(e);
        }
    };
    let new_keys = [&iss_key, &ocsp_key, &audit_key];
    let key_files: Vec<&KeyFile> = std::iter::once(&root_file)
        .chain(new_keys.iter().filter_map(|k| k.file()))
        .collect();

    // Root (self-signed).
    let root_name = "kmn-root-g1";
    let root_subject = ca_subject(app, ROOT_CN)?;
    let root_nb = now_t;
    let root_na = kmn_domain::cert::add_years(now_t, p.root_years) - Duration::seconds(1);
    let root_info = IssuerInfo {
        subject_der: root_subject.to_der(),
        key_id: ext::key_identifier(root_key.spki_der())?,
        spki_der: root_key.spki_der().to_vec(),
        not_before: root_nb,
        not_after: root_na,
        signature_algorithm: root_key.signature_algorithm(),
    };
    let root_t = CertTemplate {
        profile: ProfileKind::Root,
        serial: new_serial(),
        subject: root_subject,
        spki_der: root_key.spki_der().to_vec(),
        not_before: root_nb,
        not_after: root_na,
        policies: vec![],
        urls: Urls::default(),
        alt_names: vec![],
        hc_role: None,
    };

    let mut tx = app.store.begin().await?;
    let result = async {
        tx.set_setting("policy_arc", &policies.arc.to_string()).await?;
        let root_der = issue_in_tx(&mut tx, root_name, &root_info, &root_key, &root_t, &Expectations::default(), CertStatus::Valid, now).await?;

        // Issuing CA G1.
        let iss_name = "kmn-issuing-g1";
        let iss_t = CertTemplate {
            profile: ProfileKind::IssuingCa,
            serial: new_serial(),
            subject: ca_subject(app, ISSUING_G1_CN)?,
            spki_der: iss_key.signer().spki_der().to_vec(),
            not_before: now_t,
            not_after: kmn_domain::cert::add_years(now_t, p.issuing_years) - Duration::seconds(1),
            policies: policies.for_profile(ProfileKind::IssuingCa),
            urls: Urls {
                crl: Some(repo::url(app, &repo::crl_file(root_name))),
                ocsp: None,
                ca_issuers: Some(repo::url(app, &repo::cert_file(root_name))),
                cps: Some(format!("{}/repo/cps", app.cfg.public_base_url)),
            },
            alt_names: vec![],
            hc_role: None,
        };
        let iss_expect = Expectations { policies: policies.for_profile(ProfileKind::IssuingCa), validity: None, require_urls: true };
        let iss_der = issue_in_tx(&mut tx, root_name, &root_info, &root_key, &iss_t, &iss_expect, CertStatus::Valid, now).await?;
        let iss_info = IssuerInfo::from_cert(&iss_der, iss_key.signer().signature_algorithm())?;

        // OCSP signer (RFC 6960 §4.2.2.2), short-lived.
        let ocsp_name = "kmn-ocsp-g1-1";
        let ocsp_t = CertTemplate {
            profile: ProfileKind::OcspSigner,
            serial: new_serial(),
            subject: ca_subject(app, OCSP_G1_CN)?,
            spki_der: ocsp_key.signer().spki_der().to_vec(),
            not_before: now_t,
            not_after: now_t + Duration::days(p.ocsp_days),
            policies: vec![],
            urls: Urls::default(),
            alt_names: vec![],
            hc_role: None,
        };
        let ocsp_der = issue_in_tx(&mut tx, iss_name, &iss_info, iss_key.signer(), &ocsp_t, &Expectations::default(), CertStatus::Valid, now).await?;

        // Audit signer: signs the audit log's checkpoints.
        let audit_name = "kmn-audit-g1-1";
        let (audit_t, audit_expect) = crate::audit::signer_template(app, iss_name, iss_t.not_after, "G1", audit_key.signer().spki_der(), now_t)?;
        let audit_der = issue_in_tx(&mut tx, iss_name, &iss_info, iss_key.signer(), &audit_t, &audit_expect, CertStatus::Valid, now).await?;
        let audit_ref = audit_key.key_ref(audit_name);
        crate::audit::record_signer(&mut tx, audit_name, iss_name, &audit_t, &audit_der, &audit_ref, p.ocsp_key.as_str(), now).await?;

        let key_refs = vec![
            (root_name.to_string(), format!("file:secrets/{root_name}.key.pem")),
            (iss_name.to_string(), iss_key.key_ref(iss_name)),
            (ocsp_name.to_string(), ocsp_key.key_ref(ocsp_name)),
            (audit_name.to_string(), audit_ref.clone()),
        ];
        let records = [
            (root_name, CaKind::Root, None, &root_t, &root_der, p.root_key, &key_refs[0].1),
            (iss_name, CaKind::Issuing, Some(root_name), &iss_t, &iss_der, p.issuing_key, &key_refs[1].1),
            (ocsp_name, CaKind::OcspSigner, Some(iss_name), &ocsp_t, &ocsp_der, p.ocsp_key, &key_refs[2].1),
        ];
        for (name, kind, issuer, t, der, alg, key_ref) in records {
            tx.insert_ca(&CaRecord {
                name: name.into(),
                kind,
                issuer_name: issuer.map(str::to_string),
                serial_hex: t.serial.to_hex(),
                cert_der: der.clone(),
                key_ref: key_ref.clone(),
                algorithm: alg.as_str().into(),
                not_before: t.not_before.unix_timestamp(),
                not_after: t.not_after.unix_timestamp(),
                active: true,
                created_at: now,
            })
            .await?;
        }

        // Key files first, then the repository: CA certificates, ARL and first CRL.
        for k in &key_files {
            secrets::write_atomic(&k.path, k.pem.as_bytes(), 0o600)?;
        }
        let mut files = vec![];
        files.push(repo::publish(app, &repo::cert_file(root_name), &root_der)?);
        files.push(repo::publish(app, &repo::cert_file(iss_name), &iss_der)?);
        let arl_next = Duration::days(app.cfg.ca.arl_next_update_days);
        let arl = crl::publish_in_tx(app, &mut tx, root_name, &root_info, &root_key, arl_next, &p.operator).await?;
        repo::remember_published(app, &mut tx, &repo::crl_file(root_name)).await?;
        let crl_next = Duration::hours(app.cfg.ca.crl_next_update_hours);
        let first = crl::publish_in_tx(app, &mut tx, iss_name, &iss_info, iss_key.signer(), crl_next, &p.operator).await?;
        files.push(arl.path.clone());
        files.push(first.path.clone());

        let rec = CeremonyRecord {
            root: (root_name.into(), cert::fingerprint_sha256(&root_der)),
            issuing: (iss_name.into(), cert::fingerprint_sha256(&iss_der)),
            ocsp: (ocsp_name.into(), cert::fingerprint_sha256(&ocsp_der)),
            audit: (audit_name.into(), cert::fingerprint_sha256(&audit_der)),
            checkpoint: None,
            policy_arc: policies.arc.to_string(),
            files: files.iter().map(|f| f.display().to_string()).collect(),
            key_refs,
        };
        let summary = format!(
            "key ceremony: root {} ({}, SHA-256 {}), issuing CA {} ({}, SHA-256 {}), OCSP signer {} ({}, SHA-256 {}), audit signer {} ({}, SHA-256 {}), policy arc {}, ARL #{}, CRL #{}; keys: {}",
            root_name, p.root_key, rec.root.1, iss_name, p.issuing_key, rec.issuing.1, ocsp_name, p.ocsp_key, rec.ocsp.1, audit_name, p.ocsp_key, rec.audit.1,
            rec.policy_arc, arl.number, first.number,
            rec.key_refs.iter().map(|(n, r)| format!("{n} {r}")).collect::<Vec<_>>().join(", ")
        );
        tx.append_audit(&NewAuditEvent {
            at: now,
            actor: &p.operator,
            action: "ca.init",
            object: &format!("ca:{root_name}"),
            facility: None,
            summary: &summary,
        })
        .await?;
        Ok::<_, AppError>((rec, audit_der, audit_ref))
    }
    .await;
    let undo = || {
        let _ = std::fs::remove_file(&root_file.path);
        for k in new_keys {
            k.discard();
        }
        cleanup(&repo_dir);
    };
    match result {
        Ok((mut rec, audit_der, audit_ref)) => match tx.commit().await {
            Ok(()) => {
                // The first checkpoint, signed with the key in hand (the passphrase
                // need not be configured yet).
                let audit_rec = CaRecord {
                    name: rec.audit.0.clone(),
                    kind: CaKind::AuditSigner,
                    issuer_name: Some(rec.issuing.0.clone()),
                    serial_hex: String::new(),
                    cert_der: audit_der,
                    key_ref: audit_ref,
                    algorithm: p.ocsp_key.as_str().into(),
                    not_before: now,
                    not_after: now,
                    active: true,
                    created_at: now,
                };
                match crate::audit::checkpoint_with(app, &audit_rec, audit_key.signer()).await {
                    Ok(c) => rec.checkpoint = Some(c),
                    Err(e) => {
                        tracing::warn!(error = %e, "the first audit checkpoint could not be signed")
                    }
                }
                Ok(rec)
            }
            Err(e) => {
                undo();
                Err(e.into())
            }
        },
        Err(e) => {
            let _ = tx.rollback().await;
            undo();
            Err(e)
        }
    }
}

fn cleanup(repo_dir: &std::path::Path) {
    for n in [
        "kmn-root-g1.crt",
        "kmn-issuing-g1.crt",
        "kmn-root-g1.crl",
        "kmn-issuing-g1.crl",
    ] {
        let _ = std::fs::remove_file(repo_dir.join(n));
    }
}

/// `kmn ca sign-arl`: the root re-signs its CRL (the ARL). Loads the root key.
pub async fn sign_arl(
    app: &App,
    admin: &crate::rights::CaAdmin,
) -> Result<crl::Published, AppError> {
    let operator = admin.name();
    let root = load_active_kind(app, CaKind::Root).await?;
    let mut tx = app.store.begin().await?;
    let next = Duration::days(app.cfg.ca.arl_next_update_days);
    let r = crl::publish_in_tx(
        app,
        &mut tx,
        &root.record.name,
        &root.info,
        root.signer.as_ref(),
        next,
        operator,
    )
    .await;
    let r = match r {
        Ok(p) => repo::remember_published(app, &mut tx, &repo::crl_file(&root.record.name))
            .await
            .map(|()| p),
        Err(e) => Err(e),
    };
    crl::finish(tx, r).await
}

/// What `kmn ca new-issuing` made.
#[derive(Clone, Debug)]
pub struct NewIssuing {
    /// The new issuing CA and its SHA-256 fingerprint.
    pub issuing: (String, String),
    /// Its own OCSP signer and its fingerprint.
    pub ocsp: (String, String),
    /// Its audit signer (now the active one) and its fingerprint.
    pub audit: (String, String),
    /// Where each new key is (CA name, `file:…` or `pkcs11:…`).
    pub key_refs: Vec<(String, String)>,
}

/// The HSM of the active issuing CA, for the next one: the token and module of its
/// `pkcs11:` key (`ca.hsm_module` overrides the module), the PIN from the environment.
/// None when the active issuing CA's key is a software key. Refuses, naming what to
/// set, when the key is in an HSM but no PIN is given.
pub(crate) fn inherited_hsm(app: &App, active: &CaRecord) -> Result<Option<HsmParams>, AppError> {
    if !hsm::is_hsm_ref(&active.key_ref) {
        return Ok(None);
    }
    let r = hsm::HsmKeyRef::parse(&active.key_ref).map_err(|e| {
        AppError::Config(format!(
            "the key reference of {} is unusable: {e}",
            active.name
        ))
    })?;
    let module = app
        .cfg
        .ca
        .hsm_module
        .as_ref()
        .map(std::path::PathBuf::from)
        .unwrap_or(r.module_path);
    let pin = hsm::pin_from_env().map_err(|_| {
        AppError::Passphrase(format!(
            "the key of the active issuing CA {} is in the HSM token '{}'; the new issuing CA's key is made there too, so the HSM user PIN is needed: set KMN_HSM_PIN_FILE (or KMN_HSM_PIN), or name another token with --hsm-module and --token-label. Nothing was made.",
            active.name, r.token
        ))
    })?;
    Ok(Some(HsmParams {
        module,
        token_label: r.token,
        pin,
    }))
}

/// `kmn ca new-issuing`: the root signs a new issuing CA (G2, G3, …), which becomes the
/// active one, and the new CA signs its own OCSP signer; the old one keeps publishing
/// CRLs for what it issued. The keys are made where the active issuing CA's key is (the
/// same HSM token, see [`inherited_hsm`]) unless `hsm` names a token; software keys are
/// encrypted with `passphrase`.
pub async fn new_issuing(
    app: &App,
    key: KeyAlgorithm,
    years: i32,
    admin: &crate::rights::CaAdmin,
    passphrase: &str,
    hsm: Option<&HsmParams>,
) -> Result<NewIssuing, AppError> {
    let operator = admin.name();
    if years < 10 {
        return Err(AppError::BadInput(format!(
            "the issuing CA must be valid at least 10 years, not {years}"
        )));
    }
    secrets::check_passphrase(passphrase)?;
    let cas = {
        let mut tx = app.store.read().await?;
        let cas = tx.list_cas().await;
        tx.rollback().await?;
        cas?
    };
    let inherited = match (
        hsm,
        cas.iter().find(|c| c.kind == CaKind::Issuing && c.active),
    ) {
        (None, Some(active)) => inherited_hsm(app, active)?,
        _ => None,
    };
    let hsm = hsm.or(inherited.as_ref());
    let root = load_active_kind(app, CaKind::Root).await?;
    let generation = cas.iter().filter(|c| c.kind == CaKind::Issuing).count() + 1;
    let name = format!("kmn-issuing-g{generation}");
    let ocsp_name = format!("kmn-ocsp-g{generation}-1");
    let audit_name = format!("kmn-audit-g{generation}-1");
    let ocsp_alg = cas
        .iter()
        .rev()
        .find(|c| c.kind == CaKind::OcspSigner)
        .and_then(|c| c.algorithm.parse::<KeyAlgorithm>().ok())
        .unwrap_or(KeyAlgorithm::P256);
    let now_t = app.clock.now();
    let now = now_t.unix_timestamp();
    let secrets_dir = app.data_dir.join("secrets");
    for n in [&name, &ocsp_name, &audit_name] {
        let key_path = secrets_dir.join(format!("{n}.key.pem"));
        if key_path.exists() {
            return Err(AppError::CaState(format!(
                "{} already exists",
                key_path.display()
            )));
        }
    }
    repo::check_writable(&app.repo_dir())?;
    secrets::ensure_dir(&secrets_dir, 0o700)?;
    let new_key = NewKey::make(key, &name, &secrets_dir, passphrase, hsm)?;
    let ocsp_key = match NewKey::make(ocsp_alg, &ocsp_name, &secrets_dir, passphrase, hsm) {
        Ok(k) => k,
        Err(e) => {
            new_key.discard();
            return Err(e);
        }
    };
    let audit_key = match NewKey::make(ocsp_alg, &audit_name, &secrets_dir, passphrase, hsm) {
        Ok(k) => k,
        Err(e) => {
            new_key.discard();
            ocsp_key.discard();
            return Err(e);
        }
    };
    let audit_ref = audit_key.key_ref(&audit_name);
    let k = new_key.signer();
    let key_ref = new_key.key_ref(&name);
    let ocsp_ref = ocsp_key.key_ref(&ocsp_name);
    let root_name = root.record.name.clone();
    let mut tx = app.store.begin().await?;
    let r = async {
        let policies = Policies::load(&mut tx).await?;
        let t = CertTemplate {
            profile: ProfileKind::IssuingCa,
            serial: new_serial(),
            subject: ca_subject(
                app,
                &format!("Kumamoto Medical Network Issuing CA G{generation}"),
            )?,
            spki_der: k.spki_der().to_vec(),
            not_before: now_t,
            not_after: kmn_domain::cert::add_years(now_t, years) - Duration::seconds(1),
            policies: policies.for_profile(ProfileKind::IssuingCa),
            urls: Urls {
                crl: Some(repo::url(app, &repo::crl_file(&root_name))),
                ocsp: None,
                ca_issuers: Some(repo::url(app, &repo::cert_file(&root_name))),
                cps: Some(format!("{}/repo/cps", app.cfg.public_base_url)),
            },
            alt_names: vec![],
            hc_role: None,
        };
        let expect = Expectations {
            policies: policies.for_profile(ProfileKind::IssuingCa),
            validity: None,
            require_urls: true,
        };
        let der = issue_in_tx(&mut tx, &root_name, &root.info, root.signer.as_ref(), &t, &expect, CertStatus::Valid, now).await?;
        tx.insert_ca(&CaRecord {
            name: name.clone(),
            kind: CaKind::Issuing,
            issuer_name: Some(root_name.clone()),
            serial_hex: t.serial.to_hex(),
            cert_der: der.clone(),
            key_ref: key_ref.clone(),
            algorithm: key.as_str().into(),
            not_before: t.not_before.unix_timestamp(),
            not_after: t.not_after.unix_timestamp(),
            active: true,
            created_at: now,
        })
        .await?;
        tx.activate_ca(CaKind::Issuing, &name).await?;
        let info = IssuerInfo::from_cert(&der, k.signature_algorithm())?;

        // Its own OCSP signer (RFC 6960 §4.2.2.2): a responder answers for one issuer.
        let ocsp_t = CertTemplate {
            profile: ProfileKind::OcspSigner,
            serial: new_serial(),
            subject: ca_subject(
                app,
                &format!("Kumamoto Medical Network OCSP Signer G{generation}"),
            )?,
            spki_der: ocsp_key.signer().spki_der().to_vec(),
            not_before: now_t,
            not_after: now_t + Duration::days(90),
            policies: vec![],
            urls: Urls::default(),
            alt_names: vec![],
            hc_role: None,
        };
        let ocsp_der = issue_in_tx(&mut tx, &name, &info, k, &ocsp_t, &Expectations::default(), CertStatus::Valid, now).await?;
        record_delegated(&mut tx, CaKind::OcspSigner, &ocsp_name, &name, &ocsp_t, &ocsp_der, &ocsp_ref, ocsp_alg.as_str(), now).await?;

        // Its audit signer, which becomes the active one.
        let (audit_t, audit_expect) = crate::audit::signer_template(app, &name, t.not_after, &format!("G{generation}"), audit_key.signer().spki_der(), now_t)?;
        let audit_der = issue_in_tx(&mut tx, &name, &info, k, &audit_t, &audit_expect, CertStatus::Valid, now).await?;
        crate::audit::record_signer(&mut tx, &audit_name, &name, &audit_t, &audit_der, &audit_ref, ocsp_alg.as_str(), now).await?;
        let audit_fp = cert::fingerprint_sha256(&audit_der);

        for f in [new_key.file(), ocsp_key.file(), audit_key.file()].into_iter().flatten() {
            secrets::write_atomic(&f.path, f.pem.as_bytes(), 0o600)?;
        }
        repo::publish(app, &repo::cert_file(&name), &der)?;
        crl::publish_in_tx(app, &mut tx, &name, &info, k, Duration::hours(app.cfg.ca.crl_next_update_hours), operator).await?;
        let fp = cert::fingerprint_sha256(&der);
        let ocsp_fp = cert::fingerprint_sha256(&ocsp_der);
        tx.append_audit(&NewAuditEvent {
            at: now,
            actor: operator,
            action: "ca.new_issuing",
            object: &format!("ca:{name}"),
            facility: None,
            summary: &format!("root {root_name} signed issuing CA {name} ({key}, SHA-256 {fp}, key {key_ref}); it is now the active issuing CA; its OCSP signer {ocsp_name} ({ocsp_alg}, SHA-256 {ocsp_fp}, key {ocsp_ref}); its audit signer {audit_name} ({ocsp_alg}, SHA-256 {audit_fp}, key {audit_ref})"),
        })
        .await?;
        Ok::<_, AppError>(NewIssuing {
            issuing: (name.clone(), fp),
            ocsp: (ocsp_name.clone(), ocsp_fp),
            audit: (audit_name.clone(), audit_fp),
            key_refs: vec![(name.clone(), key_ref.clone()), (ocsp_name.clone(), ocsp_ref.clone()), (audit_name.clone(), audit_ref.clone())],
        })
    }
    .await;
    let undo = || {
        new_key.discard();
        ocsp_key.discard();
        audit_key.discard();
        let _ = std::fs::remove_file(app.repo_dir().join(repo::cert_file(&name)));
        let _ = std::fs::remove_file(app.repo_dir().join(repo::crl_file(&name)));
    };
    match r {
        Ok(made) => match tx.commit().await {
            Ok(()) => Ok(made),
            Err(e) => {
                undo();
                Err(e.into())
            }
        },
        Err(e) => {
            let _ = tx.rollback().await;
            undo();
            Err(e)
        }
    }
}

/// What `kmn ca revoke-issuing` did.
#[derive(Clone, Debug)]
pub struct RevokedIssuing {
    /// The issuing CA revoked.
    pub ca_name: String,
    /// Its certificate's serial (hex).
    pub serial_hex: String,
    /// When.
    pub revoked_at: i64,
    /// The ARL that lists it.
    pub arl: crl::Published,
}

/// `kmn ca revoke-issuing`: the root revokes an issuing CA's certificate (named by CA
/// name or certificate serial) and re-signs its ARL in the same transaction, so the
/// revocation is on the ARL — never on a CRL the revoked CA signs itself — or nothing
/// happened. Loads the root key.
///
/// The active issuing CA is refused: `kmn ca new-issuing` must come first (the new CA
/// becomes the active one), so issuance never stops and never falls back on an older CA.
/// After it, the revoked CA stays inactive; it still signs CRLs for what it issued.
pub async fn revoke_issuing(
    app: &App,
    target: &str,
    reason: kmn_domain::RevocationReason,
    comment: Option<&str>,
    admin: &crate::rights::CaAdmin,
) -> Result<RevokedIssuing, AppError> {
    let operator = admin.name();
    use kmn_domain::RevocationReason as R;
    if !matches!(
        reason,
        R::KeyCompromise | R::CaCompromise | R::Superseded | R::CessationOfOperation
    ) {
        return Err(AppError::BadInput(format!(
            "--reason {reason} is not a reason to revoke an issuing CA (key-compromise, ca-compromise, superseded, cessation-of-operation); nothing was revoked"
        )));
    }
    let root = load_active_kind(app, CaKind::Root).await?;
    let mut tx = app.store.begin().await?;
    let r = async {
        let cas = tx.list_cas().await?;
        let by_serial = target
            .parse::<CertSerial>()
            .ok()
            .map(|s| s.to_hex());
        let ca = cas
            .iter()
            .find(|c| c.name == target)
            .or_else(|| {
                by_serial
                    .as_ref()
                    .and_then(|h| cas.iter().find(|c| &c.serial_hex == h))
            });
        let serial_hex = match ca {
            Some(c) if c.kind == CaKind::Issuing && c.active => {
                return Err(AppError::CaState(format!(
                    "{} is the active issuing CA: run `kmn ca new-issuing` first (the new issuing CA becomes the active one), then revoke {}; nothing was revoked",
                    c.name, c.name
                )));
            }
            Some(c) if c.kind == CaKind::Issuing => c.serial_hex.clone(),
            Some(c) if c.kind == CaKind::Root => {
                return Err(AppError::Rule(format!(
                    "{} is the root CA: the root cannot revoke itself on its own ARL (relying parties remove it as a trust anchor); nothing was revoked",
                    c.name
                )));
            }
            Some(c) => {
                return Err(AppError::Rule(format!(
                    "{} is not an issuing CA (it is an OCSP signer): revoke its certificate {} with `kmn cert revoke`; nothing was revoked",
                    c.name, c.serial_hex
                )));
            }
            // Not a CA: the store names what it is (an end-entity certificate is refused).
            None => by_serial.ok_or_else(|| {
                AppError::NotFound(format!(
                    "no issuing CA named or with the serial '{target}' (`kmn cert show <serial>` shows a certificate); nothing was revoked"
                ))
            })?,
        };
        let cert = tx.certificate(&serial_hex).await?.ok_or_else(|| {
            AppError::NotFound(format!(
                "no issuing CA named or with the serial '{target}'; nothing was revoked"
            ))
        })?;
        if ca.is_none() && cert.profile == "issuing-ca" {
            return Err(AppError::CaState(format!(
                "certificate {serial_hex} is an issuing CA's certificate without a CA record in this data dir; nothing was revoked"
            )));
        }
        let now = app.now();
        tx.revoke_as_root(&kmn_store::Revocation {
            serial_hex: &serial_hex,
            reason,
            revoked_at: now,
            invalidity_date: None,
            article: None,
            comment,
            requested_by: operator,
            request_received_at: now,
            // The root's act: not a ground of the terms (the CPS governs it).
            grounds: None,
            channel: Some(kmn_domain::RevocationChannel::CaAdministrator.as_str()),
        })
        .await
        .map_err(|e| match e {
            kmn_store::StoreError::Conflict(_) => AppError::Conflict(format!(
                "the issuing CA certificate {serial_hex} is already revoked; nothing was changed"
            )),
            other => other.into(),
        })?;
        let ca_name = ca.map(|c| c.name.clone()).unwrap_or_default();
        let arl = crl::publish_in_tx(
            app,
            &mut tx,
            &root.record.name,
            &root.info,
            root.signer.as_ref(),
            Duration::days(app.cfg.ca.arl_next_update_days),
            operator,
        )
        .await?;
        repo::remember_published(app, &mut tx, &repo::crl_file(&root.record.name)).await?;
        tx.append_audit(&NewAuditEvent {
            at: now,
            actor: operator,
            action: "ca.revoke_issuing",
            object: &format!("ca:{ca_name}"),
            facility: None,
            summary: &format!(
                "root {} revoked issuing CA {ca_name} (certificate {serial_hex}, '{}', {}){}; ARL #{} lists it",
                root.record.name,
                cert.subject,
                reason.rfc_name(),
                comment.map(|c| format!(": {c}")).unwrap_or_default(),
                arl.number
            ),
        })
        .await?;
        Ok::<_, AppError>(RevokedIssuing {
            ca_name,
            serial_hex,
            revoked_at: now,
            arl,
        })
    }
    .await;
    crate::finish(tx, r).await
}

/// A new audit signer under the active issuing CA (`kmn audit key`, and `kmn serve` for
/// a data dir made before audit signers existed or whose signer expires soon): see
/// [`new_delegated_signer`].
pub(crate) async fn new_audit_signer(
    app: &App,
    operator: &str,
) -> Result<crate::audit::KeyMade, AppError> {
    new_delegated_signer(app, operator, Delegated::Audit).await
}

/// A new OCSP signer for the active issuing CA (`kmn ca new-ocsp-signer`, and `kmn
/// serve`'s rotation at notAfter − (response validity + re-signing time)): see
/// [`new_delegated_signer`]. The responders switch to it and re-sign every stored
/// response with it ([`crate::ca::ocsp`]).
pub async fn new_ocsp_signer(
    app: &App,
    admin: &crate::rights::CaAdmin,
) -> Result<crate::audit::KeyMade, AppError> {
    new_delegated_signer(app, admin.name(), Delegated::Ocsp).await
}

/// The rotation of `kmn serve` (no person: the system's own act, audited as such).
pub(crate) async fn rotate_ocsp_signer(
    app: &App,
    operator: &str,
) -> Result<crate::audit::KeyMade, AppError> {
    new_delegated_signer(app, operator, Delegated::Ocsp).await
}

/// Records a delegated signer's certificate (OCSP or audit signer, certified by
/// `issuer_name` from template `t`) as the active one of its kind.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn record_delegated(
    tx: &mut Tx,
    kind: CaKind,
    name: &str,
    issuer_name: &str,
    t: &CertTemplate,
    der: &[u8],
    key_ref: &str,
    algorithm: &str,
    now: i64,
) -> Result<(), AppError> {
    tx.insert_ca(&CaRecord {
        name: name.to_string(),
        kind,
        issuer_name: Some(issuer_name.to_string()),
        serial_hex: t.serial.to_hex(),
        cert_der: der.to_vec(),
        key_ref: key_ref.to_string(),
        algorithm: algorithm.to_string(),
        not_before: t.not_before.unix_timestamp(),
        not_after: t.not_after.unix_timestamp(),
        active: true,
        created_at: now,
    })
    .await?;
    tx.activate_ca(kind, name).await?;
    Ok(())
}

/// The end-entity signers the issuing CA certifies for itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Delegated {
    /// The audit log's checkpoints (id-kp-documentSigning).
    Audit,
    /// OCSP responses (id-kp-OCSPSigning, ocsp-nocheck; DESIGN §4).
    Ocsp,
}

/// The template of an OCSP signer's certificate (DESIGN §4: EKU OCSPSigning only,
/// ocsp-nocheck, short-lived), never past its issuing CA's notAfter.
pub(crate) fn ocsp_signer_template(
    app: &App,
    generation: &str,
    spki_der: &[u8],
    now: OffsetDateTime,
    days: i64,
    issuer_not_after: OffsetDateTime,
) -> Result<CertTemplate, AppError> {
    Ok(CertTemplate {
        profile: ProfileKind::OcspSigner,
        serial: new_serial(),
        subject: ca_subject(
            app,
            &format!("Kumamoto Medical Network OCSP Signer {generation}"),
        )?,
        spki_der: spki_der.to_vec(),
        not_before: now,
        not_after: (now + Duration::days(days)).min(issuer_not_after),
        policies: vec![],
        urls: Urls::default(),
        alt_names: vec![],
        hc_role: None,
    })
}

/// How long a rotated OCSP signer is valid (as at `kmn ca init`).
pub const OCSP_SIGNER_DAYS: i64 = 90;

/// A new delegated signer under the active issuing CA: its key where the issuing CA's
/// key is (the same HSM token, or a software key encrypted with the CA passphrase),
/// certified through the lint-before-sign path, and active at once.
pub(crate) async fn new_delegated_signer(
    app: &App,
    operator: &str,
    which: Delegated,
) -> Result<crate::audit::KeyMade, AppError> {
    let iss = load_active(app, crate::views::CaKind::Issuing).await?;
    let cas = {
        let mut tx = app.store.read().await?;
        let cas = tx.list_cas().await;
        tx.rollback().await?;
        cas?
    };
    let hsm = inherited_hsm(app, &iss.record)?;
    let generation = iss
        .record
        .name
        .strip_prefix("kmn-issuing-")
        .unwrap_or(&iss.record.name)
        .to_string();
    let secrets_dir = app.data_dir.join("secrets");
    let taken = |n: &str| {
        cas.iter().any(|c| c.name == n) || secrets_dir.join(format!("{n}.key.pem")).exists()
    };
    let prefix = match which {
        Delegated::Audit => "kmn-audit",
        Delegated::Ocsp => "kmn-ocsp",
    };
    let name = (1..)
        .map(|k| format!("{prefix}-{generation}-{k}"))
        .find(|n| !taken(n))
        .unwrap_or_default();
    let alg = cas
        .iter()
        .rev()
        .find(|c| c.kind == CaKind::OcspSigner)
        .and_then(|c| c.algorithm.parse::<KeyAlgorithm>().ok())
        .unwrap_or(KeyAlgorithm::P256);
    let passphrase = if hsm.is_some() {
        zeroize::Zeroizing::new(String::new())
    } else {
        app.cfg.ca_passphrase(&app.data_dir)?
    };
    secrets::ensure_dir(&secrets_dir, 0o700)?;
    let key = NewKey::make(alg, &name, &secrets_dir, passphrase.as_str(), hsm.as_ref())?;
    let key_ref = key.key_ref(&name);
    let now_t = app.clock.now();
    let now = now_t.unix_timestamp();
    let mut tx = app.store.begin().await?;
    let r = async {
        let (t, expect) = match which {
            Delegated::Audit => crate::audit::signer_template(
                app,
                &iss.record.name,
                iss.info.not_after,
                &generation.to_uppercase(),
                key.signer().spki_der(),
                now_t,
            )?,
            Delegated::Ocsp => (
                ocsp_signer_template(
                    app,
                    &generation.to_uppercase(),
                    key.signer().spki_der(),
                    now_t,
                    OCSP_SIGNER_DAYS,
                    iss.info.not_after,
                )?,
                Expectations::default(),
            ),
        };
        let der = issue_in_tx(
            &mut tx,
            &iss.record.name,
            &iss.info,
            iss.signer.as_ref(),
            &t,
            &expect,
            CertStatus::Valid,
            now,
        )
        .await?;
        match which {
            Delegated::Audit => {
                crate::audit::record_signer(
                    &mut tx,
                    &name,
                    &iss.record.name,
                    &t,
                    &der,
                    &key_ref,
                    alg.as_str(),
                    now,
                )
                .await?
            }
            Delegated::Ocsp => {
                record_delegated(
                    &mut tx,
                    CaKind::OcspSigner,
                    &name,
                    &iss.record.name,
                    &t,
                    &der,
                    &key_ref,
                    alg.as_str(),
                    now,
                )
                .await?
            }
        }
        if let Some(f) = key.file() {
            secrets::write_atomic(&f.path, f.pem.as_bytes(), 0o600)?;
        }
        let fp = cert::fingerprint_sha256(&der);
        let (action, what) = match which {
            Delegated::Audit => ("audit.key", "the audit signer"),
            Delegated::Ocsp => ("ca.ocsp_signer", "the OCSP signer"),
        };
        let role = match which {
            Delegated::Audit => "it signs the audit log's checkpoints from now on",
            Delegated::Ocsp => {
                "it signs OCSP responses from now on, and every stored response is signed again with it"
            }
        };
        tx.append_audit(&NewAuditEvent {
            at: now,
            actor: operator,
            action,
            object: &format!("ca:{name}"),
            facility: None,
            summary: &format!(
                "issuing CA {} certified {what} {name} ({alg}, SHA-256 {fp}, key {key_ref}, until {}); {role}",
                iss.record.name,
                kmn_domain::time_fmt::rfc3339(t.not_after)
            ),
        })
        .await?;
        Ok::<_, AppError>(crate::audit::KeyMade {
            name: name.clone(),
            fingerprint: fp,
            key_ref: key_ref.clone(),
            not_after: t.not_after,
        })
    }
    .await;
    match r {
        Ok(made) => match tx.commit().await {
            Ok(()) => Ok(made),
            Err(e) => {
                key.discard();
                Err(e.into())
            }
        },
        Err(e) => {
            let _ = tx.rollback().await;
            key.discard();
            Err(e)
        }
    }
}

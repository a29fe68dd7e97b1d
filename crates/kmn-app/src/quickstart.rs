//! `kmn up`: the quick start on the embedded default. On first run it makes the data
//! dir, `kmn.toml` (with `demo = true`), the SQLite database, a demo CA whose random
//! passphrase is written to `secrets/`, and a TLS server certificate for the HTTPS
//! listener. Later runs find all of it and only serve.

use std::path::Path;
use std::sync::Arc;

use kmn_domain::{ProfileKind, ValidityPeriod};
use kmn_pki::ext::AltName;
use kmn_pki::keys::{KeyAlgorithm, Signer, SoftwareKey};
use kmn_pki::name::DistinguishedName;
use kmn_store::CaKind;

use crate::ca::issue;
use crate::ca::{self, CeremonyParams};
use crate::config::Config;
use crate::{App, AppError, Clock, secrets};

/// What the first run made (None when everything existed).
#[derive(Clone, Debug)]
pub struct FirstRun {
    /// The ceremony.
    pub ceremony: ca::CeremonyRecord,
    /// Where the passphrase was written.
    pub passphrase_file: std::path::PathBuf,
    /// The demo seed (unless `--no-demo`).
    pub demo: Option<DemoSeed>,
}

/// Prepares the data dir; returns the opened app and, on first run, what was made.
pub async fn prepare(
    data_dir: &Path,
    clock: Arc<dyn Clock>,
    demo: bool,
) -> Result<(App, Option<FirstRun>), AppError> {
    secrets::ensure_dir(data_dir, 0o700)?;
    let cfg_path = Config::path(data_dir);
    let fresh = !cfg_path.exists();
    if fresh {
        let cfg = Config {
            demo,
            // A demo number: set the center's real one in kmn.toml before issuing cards.
            support_center_phone: if demo {
                "096-000-0000".into()
            } else {
                String::new()
            },
            ca: crate::config::CaConfig {
                passphrase_file: Some("secrets/ca-passphrase".into()),
                ..Default::default()
            },
            ..Config::default()
        };
        secrets::write_atomic(&cfg_path, cfg.to_toml().as_bytes(), 0o600)?;
    }
    let cfg = Config::load(data_dir)?;
    let app = App::with_config(data_dir, cfg, clock).await?;
    let mut tx = app.store.begin().await?;
    let has_ca = tx.active_ca(CaKind::Issuing).await?.is_some();
    tx.rollback().await?;
    let mut first = None;
    if !has_ca {
        let pass_path = data_dir.join("secrets/ca-passphrase");
        secrets::ensure_dir(&data_dir.join("secrets"), 0o700)?;
        let passphrase = match std::fs::read_to_string(&pass_path) {
            Ok(p) => p.trim_end().to_string(),
            Err(_) => {
                let p = secrets::random_passphrase();
                secrets::write_atomic(&pass_path, p.as_bytes(), 0o600)?;
                p
            }
        };
        let params = CeremonyParams {
            operator: "kmn-up".into(),
            ..CeremonyParams::default()
        };
        let ceremony = ca::init(&app, &params, &passphrase).await?;
        first = Some(FirstRun {
            ceremony,
            passphrase_file: pass_path,
            demo: None,
        });
    }
    ensure_tls_cert(&app).await?;
    if let Some(f) = first.as_mut()
        && app.cfg.demo
    {
        f.demo = Some(seed_demo(&app).await?);
    }
    Ok((app, first))
}

/// Issues the HTTPS listener's certificate (localhost, 127.0.0.1, ::1) when missing.
pub async fn ensure_tls_cert(app: &App) -> Result<(), AppError> {
    let cert_path = app.cfg.resolve(&app.data_dir, &app.cfg.tls_cert_file);
    let key_path = app.cfg.resolve(&app.data_dir, &app.cfg.tls_key_file);
    if cert_path.exists() && key_path.exists() {
        return Ok(());
    }
    issue_tls_cert(app, "kmn-up").await.map(|_| ())
}

/// Issues a new certificate and key for the HTTPS listener (localhost, 127.0.0.1, ::1)
/// from the active issuing CA and writes them to `tls_cert_file` (with the CA's
/// certificate) and `tls_key_file`, replacing what was there; returns the new serial.
/// `kmn up` uses it for the first certificate, and the demo listener to renew a
/// certificate that has been revoked.
pub async fn issue_tls_cert(app: &App, actor: &str) -> Result<String, AppError> {
    let cert_path = app.cfg.resolve(&app.data_dir, &app.cfg.tls_cert_file);
    let key_path = app.cfg.resolve(&app.data_dir, &app.cfg.tls_key_file);
    let ca = ca::load_active_kind(app, CaKind::Issuing).await?;
    let (key, pkcs8) = SoftwareKey::generate(KeyAlgorithm::P256)?;
    let mut subject = DistinguishedName::default();
    subject.push(kmn_pki::oid::AT_COUNTRY, "JP")?;
    subject.push(kmn_pki::oid::AT_ORGANIZATION, &app.cfg.organization)?;
    subject.push(kmn_pki::oid::AT_COMMON_NAME, "localhost")?;
    let alt = vec![
        AltName::Dns("localhost".into()),
        AltName::Ip("127.0.0.1".parse().expect("ip")),
        AltName::Ip("::1".parse().expect("ip")),
    ];
    let issued = issue::issue_template(
        app,
        &ca,
        ProfileKind::Server,
        ValidityPeriod::Years3,
        subject,
        key.spki_der().to_vec(),
        alt,
        None,
        actor,
    )
    .await?;
    let chain = format!(
        "{}{}",
        kmn_pki::cert::to_pem(&issued.der),
        kmn_pki::cert::to_pem(&ca.record.cert_der)
    );
    if let Some(dir) = key_path.parent() {
        secrets::ensure_dir(dir, 0o700)?;
    }
    secrets::write_atomic(
        &key_path,
        kmn_pki::cert::pem_encode("PRIVATE KEY", &pkcs8).as_bytes(),
        0o600,
    )?;
    secrets::write_atomic(&cert_path, chain.as_bytes(), 0o644)?;
    Ok(issued.serial_hex)
}

/// What the demo seed made: files with credentials per role.
#[derive(Clone, Debug)]
pub struct DemoSeed {
    /// The demo facility's code.
    pub facility_code: String,
    /// (role, PEM certificate path, PEM key path, PKCS#12 path if made).
    pub credentials: Vec<(
        String,
        std::path::PathBuf,
        std::path::PathBuf,
        Option<std::path::PathBuf>,
    )>,
    /// The root certificate (PEM) to trust the HTTPS listener.
    pub root_pem: std::path::PathBuf,
}

/// The demo facility code: 熊本県 (43), 医科 (1), with a valid check digit.
pub fn demo_facility_code() -> String {
    let first: [u8; 9] = [4, 3, 1, 0, 0, 0, 0, 0, 1];
    let s: String = first.iter().map(|d| char::from(b'0' + d)).collect();
    format!(
        "{s}{}",
        kmn_domain::facility::medical_code_check_digit(&first)
    )
}

/// A desk member's card certificate in demo mode (`demo = true`): a real new-card
/// application, drafted and filed by the desk, approved by `center` (separation of
/// duties) and fulfilled from a CSR signed with `key` — the card is `active`, so the
/// certificate can be bound to a desk account (issue 9 item 3: a desk logs in with the
/// member's own card). Used by `kmn up`, the tests and the benchmarks.
pub async fn demo_desk_card(
    app: &App,
    center: &crate::rights::Center,
    facility: &str,
    holder_id: &str,
    display_name: &str,
    key: &SoftwareKey,
) -> Result<Vec<u8>, AppError> {
    use crate::actor::Role;
    use crate::ra::applications;
    use crate::rights::{Capability, Registrar};
    let desk_actor = crate::actor::Actor {
        account_id: format!("demo:desk:{holder_id}"),
        role: Role::FacilityDesk,
        facility: Some(facility.to_string()),
        holder_id: Some(holder_id.to_string()),
        display_name: display_name.to_string(),
        person_id: holder_id.to_string(),
    };
    let desk = Registrar::from_actor(&desk_actor)?;
    let a = applications::create(
        app,
        &desk,
        &applications::ApplicationInput {
            facility_code: facility.to_string(),
            holder_id: holder_id.to_string(),
            kind: "new".into(),
            validity_years: Some(5),
            ..Default::default()
        },
    )
    .await?;
    applications::act(
        app,
        &desk,
        &a.id,
        kmn_domain::ApplicationAction::Submit,
        None,
    )
    .await?;
    applications::review(
        app,
        center,
        &a.id,
        kmn_domain::ApplicationAction::Approve,
        None,
    )
    .await?;
    let csr = kmn_pki::csr::build(&DistinguishedName::default().to_der(), key)?;
    let (_, _, cert_der) = applications::fulfil_from_csr(app, center, &a.id, &csr).await?;
    Ok(cert_der)
}

/// Seeds the demo (first run of `kmn up` without `--no-demo`): the CPS, the terms and the
/// privacy policy (demo texts), a consenting demo facility with a desk member and a nurse,
/// the desk member's card through the real application flow, and credentials for every
/// role under `<data-dir>/demo/` (PEM, and PKCS#12 when the `openssl` tool is present).
pub async fn seed_demo(app: &App) -> Result<DemoSeed, AppError> {
    use crate::actor::Role;
    use crate::ra::{accounts, documents, facilities, persons};
    let admin = crate::rights::Center::internal("kmn-up");
    let center = admin.registrar();
    for (kind, text) in [
        (
            "cps",
            "くまもとメディカルネットワーク PKI 認証局運用規程（CPS）— デモ環境用の版です。本番では本会が定める CPS を公開してください。\n",
        ),
        (
            "terms",
            "くまもとメディカルネットワーク利用者カードの利用規約 — デモ環境用の版です。本番では本会が定める利用規約を公開してください。\n",
        ),
        (
            "privacy_policy",
            "個人情報の取扱いについて — デモ環境用の版です。\n",
        ),
    ] {
        documents::publish(
            app,
            &admin,
            kind,
            "demo-1",
            &format!("{kind}.txt"),
            text.as_bytes().to_vec(),
        )
        .await?;
    }
    let code = demo_facility_code();
    facilities::register(
        app,
        &admin,
        &facilities::FacilityInput {
            code: code.clone(),
            kind: "hospital".into(),
            name_kanji: "熊本デモ病院".into(),
            name_kana: "クマモトデモビョウイン".into(),
            name_romaji: "Kumamoto Demo Hospital".into(),
            postal_code: "860-0806".into(),
            address: "熊本県熊本市中央区花畑町1-1".into(),
            phone: "096-000-0000".into(),
            email: "desk@demo-hospital.example.jp".into(),
        },
    )
    .await?;
    for kind in ["cps", "terms", "privacy_policy"] {
        facilities::consent(app, &center, &code, kind, "demo-1", "窓口 花子").await?;
    }
    let mut desk_in = crate::ra::persons::PersonInput {
        facility_code: code.clone(),
        name_kanji: "窓口 花子".into(),
        name_kana: "マドグチ ハナコ".into(),
        name_romaji: "Hanako Madoguchi".into(),
        date_of_birth: "1980-04-01".into(),
        profession: "medical_clerk".into(),
        work_email: "hanako@demo-hospital.example.jp".into(),
        permitted: true,
        is_desk: true,
        licence_checked: false,
    };
    let (desk, _) = persons::register(app, &center, &desk_in).await?;
    desk_in.name_kanji = "看護 太郎".into();
    desk_in.name_kana = "カンゴ タロウ".into();
    desk_in.name_romaji = "Taro Kango".into();
    desk_in.profession = "nurse".into();
    desk_in.is_desk = false;
    desk_in.work_email = "taro@demo-hospital.example.jp".into();
    persons::register(app, &center, &desk_in).await?;

    let dir = app.data_dir.join("demo");
    secrets::ensure_dir(&dir, 0o700)?;
    let ca = ca::load_active_kind(app, CaKind::Issuing).await?;
    let root_pem = dir.join("root-ca.pem");
    {
        let mut tx = app.store.begin().await?;
        let root = tx
            .active_ca(CaKind::Root)
            .await?
            .ok_or_else(|| AppError::CaState("no root".into()))?;
        tx.rollback().await?;
        secrets::write_atomic(
            &root_pem,
            kmn_pki::cert::to_pem(&root.cert_der).as_bytes(),
            0o644,
        )?;
    }
    let mut credentials = Vec::new();
    for (role, name) in [
        (Role::Operator, "デモ 担当者"),
        (Role::Supervisor, "デモ 責任者"),
        (Role::Auditor, "デモ 監査"),
        (Role::FacilityDesk, "窓口 花子"),
        (Role::Station, "デモ 発行端末"),
    ] {
        let (key, pkcs8) = SoftwareKey::generate(KeyAlgorithm::P256)?;
        let cert_der = if role == Role::FacilityDesk {
            demo_desk_card(app, &admin, &code, &desk.holder_id, "窓口 花子", &key).await?
        } else {
            let mut subject = DistinguishedName::default();
            subject.push(kmn_pki::oid::AT_COUNTRY, "JP")?;
            subject.push(kmn_pki::oid::AT_ORGANIZATION, &app.cfg.organization)?;
            subject.push(
                kmn_pki::oid::AT_COMMON_NAME,
                &format!("Demo {}", role.as_str()),
            )?;
            issue::issue_template(
                app,
                &ca,
                crate::ra::accounts::credential_profile(role),
                ValidityPeriod::Years3,
                subject,
                key.spki_der().to_vec(),
                vec![],
                None,
                "kmn-up",
            )
            .await?
            .der
        };
        let facility = (role == Role::FacilityDesk).then(|| code.clone());
        let holder = (role == Role::FacilityDesk).then(|| desk.holder_id.clone());
        accounts::add(
            app,
            &admin,
            accounts::NewAccount {
                role,
                display_name: name.into(),
                cert_der: cert_der.clone(),
                facility_code: facility,
                holder_id: holder,
                person_id: None,
            },
        )
        .await?;
        let cert_path = dir.join(format!("{}.pem", role.as_str()));
        let key_path = dir.join(format!("{}.key", role.as_str()));
        let chain = format!(
            "{}{}",
            kmn_pki::cert::to_pem(&cert_der),
            kmn_pki::cert::to_pem(&ca.record.cert_der)
        );
        secrets::write_atomic(&cert_path, chain.as_bytes(), 0o644)?;
        secrets::write_atomic(
            &key_path,
            kmn_pki::cert::pem_encode("PRIVATE KEY", &pkcs8).as_bytes(),
            0o600,
        )?;
        let p12 = dir.join(format!("{}.p12", role.as_str()));
        let made = std::process::Command::new("openssl")
            .args(["pkcs12", "-export", "-passout", "pass:demo", "-name"])
            .arg(role.as_str())
            .arg("-in")
            .arg(&cert_path)
            .arg("-inkey")
            .arg(&key_path)
            .arg("-out")
            .arg(&p12)
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false);
        credentials.push((
            role.as_str().to_string(),
            cert_path,
            key_path,
            made.then_some(p12),
        ));
    }
    Ok(DemoSeed {
        facility_code: code,
        credentials,
        root_pem,
    })
}

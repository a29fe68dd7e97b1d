//! Issue 3's benchmark: the REST API under load on loopback — applications drafted and
//! submitted by a facility desk and approved by an operator, over real TLS with client
//! certificates, with 100k holders already in the database. Prints applications/s and
//! p50/p99 latency per request kind, on SQLite and PostgreSQL.

use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result, anyhow};
use kmn_app::actor::Role;
use kmn_app::ra::{accounts, documents, facilities, persons};
use kmn_app::rights::CaAdmin;
use kmn_app::{App, Config, SystemClock};
use kmn_domain::ValidityPeriod;
use kmn_pki::keys::{KeyAlgorithm, Signer, SoftwareKey};
use kmn_pki::name::DistinguishedName;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Results of one run.
#[derive(Debug, Clone)]
pub struct LoadReport {
    pub backend: String,
    pub holders: usize,
    pub applications: usize,
    pub seconds: f64,
    pub apps_per_sec: f64,
    /// (request kind, p50 ms, p99 ms)
    pub latencies: Vec<(String, f64, f64)>,
}

struct Identity {
    chain: Vec<CertificateDer<'static>>,
    key: Vec<u8>,
}

async fn identity(app: &App, role: Role, facility: Option<&str>, cn: &str) -> Result<Identity> {
    let ca = kmn_app::ca::load_active(app, kmn_app::views::CaKind::Issuing).await?;
    let (k, pkcs8) = SoftwareKey::generate(KeyAlgorithm::P256)?;
    let der = match facility {
        // A desk logs in with the member's own card (issue 9 item 3).
        Some(code) => {
            let input = persons::PersonInput {
                facility_code: code.into(),
                name_kanji: "窓口 試験".into(),
                name_kana: "マドグチ シケン".into(),
                name_romaji: "Shiken Madoguchi".into(),
                date_of_birth: "1980-04-01".into(),
                profession: "medical_clerk".into(),
                work_email: "desk@example.jp".into(),
                permitted: true,
                is_desk: true,
                licence_checked: false,
            };
            let admin = CaAdmin::local(Some("bench")).center();
            let (desk, _) = persons::register(app, &admin.registrar(), &input).await?;
            kmn_app::quickstart::demo_desk_card(app, &admin, code, &desk.holder_id, cn, &k).await?
        }
        None => {
            let mut dn = DistinguishedName::default();
            dn.push(kmn_pki::oid::AT_COUNTRY, "JP")?;
            dn.push(kmn_pki::oid::AT_COMMON_NAME, cn)?;
            kmn_app::ca::issue::issue_template(
                app,
                &ca,
                accounts::credential_profile(role),
                ValidityPeriod::Years3,
                dn,
                k.spki_der().to_vec(),
                vec![],
                None,
                "bench",
            )
            .await?
            .der
        }
    };
    accounts::add(
        app,
        &CaAdmin::local(Some("bench")).center(),
        accounts::NewAccount {
            role,
            display_name: cn.into(),
            cert_der: der.clone(),
            facility_code: facility.map(str::to_string),
            holder_id: None,
            person_id: None,
        },
    )
    .await?;
    Ok(Identity {
        chain: vec![
            CertificateDer::from(der),
            CertificateDer::from(ca.cert_der().to_vec()),
        ],
        key: pkcs8.to_vec(),
    })
}

/// Inserts `n` holders affiliated to `facility` directly (one transaction, batched).
async fn seed_holders(app: &App, facility: &str, n: usize) -> Result<Vec<String>> {
    let mut ids = Vec::with_capacity(n);
    let mut tx = app.store_for_tests().begin().await?;
    let now = app.now();
    let batch = 500;
    let mut i = 0;
    while i < n {
        let end = (i + batch).min(n);
        let mut p = String::from(
            "INSERT INTO persons (holder_id, name_kanji, name_kana, name_romaji, date_of_birth, profession, licence_checked, work_email, created_at, updated_at, version) VALUES ",
        );
        let mut a = String::from(
            "INSERT INTO affiliations (holder_id, facility_code, permitted, is_desk, since) VALUES ",
        );
        for k in i..end {
            let id = format!("H{:08}", k + 1);
            if k > i {
                p.push(',');
                a.push(',');
            }
            p.push_str(&format!("('{id}','試験 {k}','シケン','Test Holder {k}','1985-04-01','nurse',0,'h{k}@example.jp',{now},{now},1)"));
            a.push_str(&format!("('{id}','{facility}',1,0,{now})"));
            ids.push(id);
        }
        tx.execute_raw(&p).await?;
        tx.execute_raw(&a).await?;
        i = end;
    }
    tx.execute_raw(&format!(
        "INSERT INTO counters (name, value) VALUES ('holder', {n})"
    ))
    .await?;
    tx.commit().await?;
    Ok(ids)
}

struct Conn {
    stream: tokio_rustls::client::TlsStream<tokio::net::TcpStream>,
    buf: Vec<u8>,
}

impl Conn {
    async fn open(
        addr: std::net::SocketAddr,
        root: &CertificateDer<'static>,
        id: &Identity,
    ) -> Result<Conn> {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(root.clone())?;
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let cfg = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_root_certificates(roots)
            .with_client_auth_cert(
                id.chain.clone(),
                PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(id.key.clone())),
            )?;
        let tcp = tokio::net::TcpStream::connect(addr).await?;
        tcp.set_nodelay(true)?;
        let stream = tokio_rustls::TlsConnector::from(Arc::new(cfg))
            .connect(ServerName::try_from("localhost")?.to_owned(), tcp)
            .await?;
        Ok(Conn {
            stream,
            buf: Vec::with_capacity(8192),
        })
    }

    /// One request on the kept-alive connection; returns (status, body).
    async fn post(&mut self, path: &str, body: &str) -> Result<(u16, Vec<u8>)> {
        let req = format!(
            "POST {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        self.stream.write_all(req.as_bytes()).await?;
        self.buf.clear();
        let mut tmp = [0u8; 8192];
        loop {
            if let Some(h) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&self.buf[..h]).to_string();
                let status: u16 = head
                    .split_whitespace()
                    .nth(1)
                    .ok_or_else(|| anyhow!("bad response"))?
                    .parse()?;
                let len: usize = head
                    .lines()
                    .find_map(|l| {
                        l.to_ascii_lowercase()
                            .strip_prefix("content-length:")
                            .map(|v| v.trim().to_string())
                    })
                    .ok_or_else(|| anyhow!("no content-length"))?
                    .parse()?;
                while self.buf.len() < h + 4 + len {
                    let n = self.stream.read(&mut tmp).await?;
                    if n == 0 {
                        return Err(anyhow!("connection closed"));
                    }
                    self.buf.extend_from_slice(&tmp[..n]);
                }
                return Ok((status, self.buf[h + 4..h + 4 + len].to_vec()));
            }
            let n = self.stream.read(&mut tmp).await?;
            if n == 0 {
                return Err(anyhow!("connection closed"));
            }
            self.buf.extend_from_slice(&tmp[..n]);
        }
    }
}

fn pct(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
    if v.is_empty() {
        return 0.0;
    }
    v[((v.len() as f64 - 1.0) * p).round() as usize]
}

/// Runs the load: `holders` seeded, `apps` applications over `conns` concurrent clients.
pub async fn run(
    database_url: &str,
    backend: &str,
    holders: usize,
    apps: usize,
    conns: usize,
) -> Result<LoadReport> {
    let dir = tempfile::tempdir()?;
    let cfg = Config {
        demo: true,
        database_url: database_url.into(),
        http_listen: "127.0.0.1:0".into(),
        https_listen: "127.0.0.1:0".into(),
        emergency_listen: "127.0.0.1:0".into(),
        ca: kmn_app::config::CaConfig {
            passphrase_file: Some("passphrase".into()),
            ..Default::default()
        },
        // The load comes from one desk and one operator: measure the server, not the
        // per-account rate limit.
        listen: kmn_app::config::ListenConfig {
            account_requests_per_minute: 1_000_000,
            account_burst: 1_000_000,
            ..Default::default()
        },
        ..Config::default()
    };
    kmn_app::secrets::write_atomic(
        &dir.path().join("passphrase"),
        b"bench-passphrase-123",
        0o600,
    )?;
    std::fs::write(dir.path().join("kmn.toml"), cfg.to_toml())?;
    let app = App::with_config(dir.path(), cfg, Arc::new(SystemClock)).await?;
    kmn_app::ca::init(
        &app,
        &kmn_app::ca::CeremonyParams::default(),
        "bench-passphrase-123",
    )
    .await?;
    kmn_app::quickstart::ensure_tls_cert(&app).await?;
    let admin = CaAdmin::local(Some("bench")).center();
    for kind in ["cps", "terms", "privacy_policy"] {
        documents::publish(&app, &admin, kind, "1", "d.txt", b"bench".to_vec()).await?;
    }
    let code = kmn_app::quickstart::demo_facility_code();
    facilities::register(
        &app,
        &admin,
        &facilities::FacilityInput {
            code: code.clone(),
            kind: "hospital".into(),
            name_kanji: "負荷試験病院".into(),
            name_kana: "フカシケンビョウイン".into(),
            name_romaji: "Load Test Hospital".into(),
            postal_code: "8600806".into(),
            address: "熊本".into(),
            phone: "0960000000".into(),
            email: "load@example.jp".into(),
        },
    )
    .await?;
    for kind in ["cps", "terms", "privacy_policy"] {
        facilities::consent(&app, &admin.registrar(), &code, kind, "1", "bench").await?;
    }
    let ids = seed_holders(&app, &code, holders)
        .await
        .context("seeding holders")?;
    let desk = identity(&app, Role::FacilityDesk, Some(&code), "Bench Desk").await?;
    let op = identity(&app, Role::Operator, None, "Bench Operator").await?;
    let root = {
        let mut tx = app.store_for_tests().begin().await?;
        let r = tx
            .active_ca(kmn_store::CaKind::Root)
            .await?
            .ok_or_else(|| anyhow!("no root"))?;
        tx.rollback().await?;
        CertificateDer::from(r.cert_der)
    };
    let running = kmn_web::start(app.clone(), None).await?;
    let addr = running.https_addr;
    let desk = Arc::new(desk);
    let op = Arc::new(op);
    let root = Arc::new(root);
    let per = apps / conns;
    let started = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..conns {
        let (desk, op, root, code) = (desk.clone(), op.clone(), root.clone(), code.clone());
        let mine: Vec<String> = ids.iter().skip(c * per).take(per).cloned().collect();
        tasks.push(tokio::spawn(async move {
            let mut d = Conn::open(addr, &root, &desk).await?;
            let mut o = Conn::open(addr, &root, &op).await?;
            let mut lat: [Vec<f64>; 3] = [vec![], vec![], vec![]];
            for h in mine {
                let t = Instant::now();
                let (st, body) = d.post("/api/v1/applications", &format!("{{\"facility_code\":\"{code}\",\"holder_id\":\"{h}\",\"kind\":\"new\",\"validity_years\":5}}")).await?;
                lat[0].push(t.elapsed().as_secs_f64() * 1e3);
                if st != 201 {
                    return Err(anyhow!("create: {st} {}", String::from_utf8_lossy(&body)));
                }
                let v: serde_json::Value = serde_json::from_slice(&body)?;
                let id = v["id"].as_str().ok_or_else(|| anyhow!("no id"))?.to_string();
                let t = Instant::now();
                let (st, body) = d.post(&format!("/api/v1/applications/{id}/submit"), "{}").await?;
                lat[1].push(t.elapsed().as_secs_f64() * 1e3);
                if st != 200 {
                    return Err(anyhow!("submit: {st} {}", String::from_utf8_lossy(&body)));
                }
                let t = Instant::now();
                let (st, body) = o.post(&format!("/api/v1/applications/{id}/approve"), "{}").await?;
                lat[2].push(t.elapsed().as_secs_f64() * 1e3);
                if st != 200 {
                    return Err(anyhow!("approve: {st} {}", String::from_utf8_lossy(&body)));
                }
            }
            Ok::<_, anyhow::Error>(lat)
        }));
    }
    let mut all: [Vec<f64>; 3] = [vec![], vec![], vec![]];
    for t in tasks {
        let lat = t.await??;
        for (i, l) in lat.into_iter().enumerate() {
            all[i].extend(l);
        }
    }
    let secs = started.elapsed().as_secs_f64();
    running.done.abort();
    let done = all[2].len();
    let mut latencies = Vec::new();
    for (i, name) in ["create", "submit", "approve"].iter().enumerate() {
        latencies.push((
            name.to_string(),
            pct(&mut all[i], 0.5),
            pct(&mut all[i], 0.99),
        ));
    }
    app.store_for_tests().close().await;
    Ok(LoadReport {
        backend: backend.into(),
        holders,
        applications: done,
        seconds: secs,
        apps_per_sec: done as f64 / secs,
        latencies,
    })
}

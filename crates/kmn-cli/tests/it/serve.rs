//! `kmn up`: the quick start serves the repository over HTTP (DER with the right media
//! types), health, and the HTTPS listener; a revocation committed by another process is
//! in the served CRL within a second or two (第16条).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use crate::support::{Env, tool};

pub(crate) struct Server {
    pub child: Child,
    pub http: String,
    pub https: String,
    /// The holders' emergency form listener (`https://127.0.0.1:PORT`).
    pub emergency: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(crate) fn start(env: &Env) -> Server {
    start_with_stderr(env, Stdio::null())
}

/// [`start`] with the server's log (stderr) going to `stderr`.
pub(crate) fn start_with_stderr(env: &Env, stderr: Stdio) -> Server {
    let mut c = env.cmd(&["up"]);
    c.env_remove("KMN_CA_PASSPHRASE")
        .env("KMN_HTTP_LISTEN", "127.0.0.1:0")
        .env("KMN_HTTPS_LISTEN", "127.0.0.1:0")
        .stdout(Stdio::piped())
        .stderr(stderr);
    let mut child = c.spawn().expect("kmn up");
    let out = child.stdout.take().unwrap();
    let mut lines = BufReader::new(out).lines();
    let (mut http, mut https, mut emergency) = (String::new(), String::new(), String::new());
    while http.is_empty() || https.is_empty() || emergency.is_empty() {
        let l = lines.next().expect("kmn up printed its URLs").unwrap();
        if let Some(u) = l.strip_prefix("kmn: repository and health at ") {
            http = u.trim_end_matches('/').to_string();
        }
        if let Some(u) =
            l.strip_prefix("kmn: emergency revocation form for holders (no client certificate) at ")
        {
            emergency = u.trim_end_matches("/emergency").to_string();
        }
        if let Some(u) = l.strip_prefix("kmn: API at ") {
            https = u
                .trim_end_matches('/')
                .trim_end_matches("/api/v1")
                .to_string();
        }
    }
    std::thread::spawn(move || for _ in lines {});
    Server {
        child,
        http,
        https,
        emergency,
    }
}

/// Revokes `serial` through the library (another process than the server: no CRL is
/// published by this one), with the CA administrator's grounds (keyCompromise).
pub(crate) async fn revoke_elsewhere(app: &kmn_app::App, serial: &str) {
    kmn_app::ca::revoke::revoke(
        app,
        &kmn_app::ca::revoke::RevokeRequest {
            serial: serial.parse().unwrap(),
            reason: kmn_domain::RevocationReason::KeyCompromise,
            comment: None,
            invalidity_date: None,
            received_at: None,
            requested_by: "test".into(),
        },
    )
    .await
    .unwrap();
}

/// The demo's desk card (窓口 花子, in use) of a `kmn up` data dir.
pub(crate) async fn demo_desk_card(app: &kmn_app::App) -> kmn_app::views::Card {
    kmn_app::ra::delivery::list(
        app,
        &crate::api_fixture::admin().reader(),
        None,
        None,
        None,
        10,
    )
    .await
    .unwrap()
    .first()
    .expect("the demo desk card")
    .clone()
}

/// Whether the DER CRL `crl` holds the serial's octets.
pub(crate) fn crl_lists(crl: &[u8], serial: &str) -> bool {
    let s = hex::decode(serial).unwrap();
    crl.windows(s.len()).any(|w| w == s.as_slice())
}

/// Polls the served CRL of the first issuing CA every `every` until it lists `serial`;
/// returns how long that took from `since`, or panics after `within`.
pub(crate) fn wait_until_on_crl(
    fetch: impl Fn() -> Vec<u8>,
    serial: &str,
    since: Instant,
    within: Duration,
    every: Duration,
) -> Duration {
    loop {
        if crl_lists(&fetch(), serial) {
            return since.elapsed();
        }
        assert!(
            since.elapsed() < within,
            "the revocation of {serial} never reached the served CRL"
        );
        std::thread::sleep(every);
    }
}

/// A plain HTTP/1.0 GET: (status, headers, body).
pub(crate) fn get(base: &str, path: &str) -> (u16, String, Vec<u8>) {
    let addr = base.trim_start_matches("http://");
    let mut s = TcpStream::connect(addr).unwrap();
    write!(s, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").unwrap();
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).unwrap();
    let split = buf.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8_lossy(&buf[..split]).to_string();
    let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    (status, head.to_lowercase(), buf[split + 4..].to_vec())
}

#[tokio::test]
async fn quick_start_serves_repository_health_and_https() {
    let env = Env::new();
    let srv = start(&env);
    assert!(env.data_dir().join("kmn.toml").exists());
    let toml = std::fs::read_to_string(env.data_dir().join("kmn.toml")).unwrap();
    assert!(toml.contains("demo = true"), "{toml}");
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(env.data_dir().join("secrets/ca-passphrase"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);

    let (st, head, body) = get(&srv.http, "/repo/kmn-issuing-g1.crl");
    assert_eq!(st, 200);
    assert!(
        head.contains("content-type: application/pkix-crl"),
        "{head}"
    );
    assert_eq!(body, std::fs::read(env.repo("kmn-issuing-g1.crl")).unwrap());
    // Issue 10: relying parties refetch cheaply — the same bytes answer 304 to their ETag.
    let etag = head
        .lines()
        .find_map(|l| l.strip_prefix("etag: "))
        .expect("an ETag")
        .trim()
        .to_string();
    let addr = srv.http.trim_start_matches("http://");
    let mut s = TcpStream::connect(addr).unwrap();
    write!(
        s,
        "GET /repo/kmn-issuing-g1.crl HTTP/1.0\r\nHost: {addr}\r\nIf-None-Match: {etag}\r\n\r\n"
    )
    .unwrap();
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).unwrap();
    let text = String::from_utf8_lossy(&buf);
    assert!(
        text.starts_with("HTTP/1.0 304") || text.starts_with("HTTP/1.1 304"),
        "{text}"
    );
    let (st, head, body) = get(&srv.http, "/repo/kmn-root-g1.crt");
    assert_eq!(st, 200);
    assert!(
        head.contains("content-type: application/pkix-cert"),
        "{head}"
    );
    assert_eq!(body[0], 0x30, "DER");
    assert_eq!(get(&srv.http, "/repo/../kmn.toml").0, 404);
    assert_eq!(get(&srv.http, "/repo/secrets.key").0, 404);
    let (st, _, body) = get(&srv.http, "/health");
    assert_eq!(st, 200);
    let h: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(h["status"], "ok");
    assert!(h["crls"].as_array().unwrap().len() >= 2);

    // HTTPS with the CA's own TLS certificate, verified against the root.
    let root = env.pem_of(&env.repo("kmn-root-g1.crt"), "cert");
    let (ok, out) = tool(
        "curl",
        &[
            "-sS",
            "--cacert",
            root.to_str().unwrap(),
            &format!("{}/api/v1/health", srv.https),
        ],
    );
    assert!(ok && out.contains("\"status\":\"ok\""), "{out}");

    // Client certificates over real TLS: the demo desk logs in with her card; without a
    // certificate the API answers 401 with a reason; the CPS and terms are published.
    let demo = env.data_dir().join("demo");
    let https = srv.https.replace("127.0.0.1", "localhost");
    let d = |f: &str| demo.join(f).to_str().unwrap().to_string();
    let (ok, out) = tool(
        "curl",
        &[
            "-sS",
            "--cacert",
            &d("root-ca.pem"),
            "--cert",
            &d("facility_desk.pem"),
            "--key",
            &d("facility_desk.key"),
            &format!("{https}/api/v1/whoami"),
        ],
    );
    assert!(
        ok && out.contains("\"role\":\"facility_desk\"")
            && out.contains(&kmn_app::quickstart::demo_facility_code()),
        "{out}"
    );
    let (_, out) = tool(
        "curl",
        &[
            "-sS",
            "-w",
            "%{http_code}",
            "--cacert",
            &d("root-ca.pem"),
            &format!("{https}/api/v1/whoami"),
        ],
    );
    assert!(
        out.ends_with("401") && out.contains("クライアント証明書"),
        "{out}"
    );
    assert!(demo.join("operator.p12").exists(), "PKCS#12 credentials");
    let (st, head, body) = get(&srv.http, "/repo/terms");
    assert_eq!(st, 200);
    assert!(head.contains("x-document-version: demo-1"), "{head}");
    assert!(String::from_utf8_lossy(&body).contains("利用規約"));
}

#[tokio::test]
async fn g2_revoked_operator_certificate_is_refused_over_tls() {
    let env = Env::new();
    let srv = start(&env);
    let demo = env.data_dir().join("demo");
    let https = srv.https.replace("127.0.0.1", "localhost");
    let d = |f: &str| demo.join(f).to_str().unwrap().to_string();
    let (ok, out) = tool(
        "curl",
        &[
            "-sS",
            "--cacert",
            &d("root-ca.pem"),
            "--cert",
            &d("operator.pem"),
            "--key",
            &d("operator.key"),
            &format!("{https}/api/v1/applications"),
        ],
    );
    assert!(ok && out.contains("\"items\""), "{out}");
    let pem = std::fs::read(demo.join("operator.pem")).unwrap();
    let der = kmn_pki::cert::pem_or_der(&pem, "CERTIFICATE").unwrap();
    let serial = kmn_pki::parse::cert(&der).unwrap().tbs.serial_hex();
    let pass = std::fs::read_to_string(env.data_dir().join("secrets/ca-passphrase")).unwrap();
    let env = env.env("KMN_CA_PASSPHRASE", pass.trim());
    env.ok(&["cert", "revoke", &serial, "--reason", "key-compromise"]);
    let (_, out) = tool(
        "curl",
        &[
            "-sS",
            "-w",
            "%{http_code}",
            "--cacert",
            &d("root-ca.pem"),
            "--cert",
            &d("operator.pem"),
            "--key",
            &d("operator.key"),
            &format!("{https}/api/v1/applications"),
        ],
    );
    assert!(
        out.ends_with("401") && out.contains("失効"),
        "a revoked certificate is refused on the next request: {out}"
    );
}

#[tokio::test]
async fn quick_start_without_demo_has_no_demo_data() {
    let env = Env::new();
    let mut c = env.cmd(&["up", "--no-demo"]);
    c.env_remove("KMN_CA_PASSPHRASE")
        .env("KMN_HTTP_LISTEN", "127.0.0.1:0")
        .env("KMN_HTTPS_LISTEN", "127.0.0.1:0")
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let mut child = c.spawn().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    while let Some(Ok(l)) = lines.next() {
        if l.starts_with("kmn: API at") {
            break;
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    assert!(!env.data_dir().join("demo").exists());
    let toml = std::fs::read_to_string(env.data_dir().join("kmn.toml")).unwrap();
    assert!(toml.contains("demo = false"), "{toml}");
}

#[tokio::test]
async fn art16_revocation_by_another_process_is_published_within_seconds() {
    let env = Env::new();
    let srv = start(&env);
    // Issue with the CLI (another process on the same SQLite database).
    let pass = std::fs::read_to_string(env.data_dir().join("secrets/ca-passphrase")).unwrap();
    let env = env.env("KMN_CA_PASSPHRASE", pass.trim());
    let csr = env.csr("u", "p256", "/C=JP/O=Clinic/CN=Taro", &[]);
    let (_, serial) = env.issue("u", &csr, "user-card", "3y");
    // Revoke through the library only: no CRL is published by this process.
    let app = env.app().await;
    revoke_elsewhere(&app, &serial).await;
    wait_until_on_crl(
        || get(&srv.http, "/repo/kmn-issuing-g1.crl").2,
        &serial,
        Instant::now(),
        Duration::from_secs(10),
        Duration::from_millis(100),
    );
    // The revocation records when the first CRL listing it was published (第23条3).
    let mut tx = app.store_for_tests().begin().await.unwrap();
    let c = tx.certificate(&serial).await.unwrap().unwrap();
    tx.rollback().await.unwrap();
    let r = c.revocation.unwrap();
    assert!(r.first_crl_number.unwrap() >= 2);
    assert!(r.first_crl_published_at.unwrap() - r.revoked_at <= 5);
}

#[tokio::test]
async fn issue8_data_dir_and_database_are_private_under_umask_000() {
    use std::os::unix::fs::PermissionsExt;
    let env = Env::new();
    let base = env.cmd(&[]);
    let mut c = std::process::Command::new("sh");
    c.arg("-c")
        .arg("umask 000 && exec \"$@\"")
        .arg("sh")
        .arg(env!("CARGO_BIN_EXE_kmn"))
        .arg("up");
    for (k, v) in base.get_envs() {
        match v {
            Some(v) => c.env(k, v),
            None => c.env_remove(k),
        };
    }
    c.env_remove("KMN_CA_PASSPHRASE")
        .env("KMN_HTTP_LISTEN", "127.0.0.1:0")
        .env("KMN_HTTPS_LISTEN", "127.0.0.1:0")
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let mut child = c.spawn().expect("kmn up");
    let out = child.stdout.take().unwrap();
    let mut lines = BufReader::new(out).lines();
    loop {
        let l = lines.next().expect("kmn up printed its URLs").unwrap();
        if l.starts_with("kmn: API at ") {
            break;
        }
    }
    let srv = Server {
        child,
        http: String::new(),
        https: String::new(),
        emergency: String::new(),
    };
    let mode = |p: &std::path::Path| {
        std::fs::symlink_metadata(p)
            .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
            .permissions()
            .mode()
            & 0o777
    };
    let d = env.data_dir();
    assert_eq!(mode(&d), 0o700, "the data dir");
    // The database is open (WAL mode): its WAL and SHM files exist now.
    for f in ["kmn.db", "kmn.db-wal", "kmn.db-shm", "kmn.toml"] {
        assert_eq!(mode(&d.join(f)), 0o600, "{f}");
    }
    assert_eq!(mode(&d.join("secrets")), 0o700, "secrets/");
    for e in std::fs::read_dir(d.join("secrets")).unwrap() {
        let p = e.unwrap().path();
        if p.is_file() && !p.to_string_lossy().ends_with(".crt.pem") {
            assert_eq!(mode(&p), 0o600, "{}", p.display());
        }
    }
    // No temporary file was left behind anywhere.
    for sub in ["", "secrets", "repo"] {
        for e in std::fs::read_dir(d.join(sub)).unwrap() {
            let n = e.unwrap().file_name().to_string_lossy().into_owned();
            assert!(!n.contains(".tmp-"), "{sub}/{n}");
        }
    }
    drop(srv);
}

/// Issue 9 item 6: `kmn serve` signs a checkpoint of the audit log after a revocation
/// (once its CRL is published), and serves the checkpoints read-only over HTTP.
#[tokio::test]
async fn issue9_serve_signs_a_checkpoint_after_a_revocation_and_publishes_it() {
    let env = Env::new();
    let srv = start(&env);
    let pass = std::fs::read_to_string(env.data_dir().join("secrets/ca-passphrase")).unwrap();
    let env = env.env("KMN_CA_PASSPHRASE", pass.trim());
    let csr = env.csr("u", "p256", "/C=JP/O=Clinic/CN=Taro", &[]);
    let (_, serial) = env.issue("u", &csr, "user-card", "3y");
    env.ok(&["cert", "revoke", &serial, "--reason", "key-compromise"]);
    let app = env.app().await;
    let mut tx = app.store_for_tests().read().await.unwrap();
    let (head, _) = tx.audit_head().await.unwrap();
    tx.rollback().await.unwrap();
    let started = Instant::now();
    loop {
        let (status, headers, body) = get(&srv.http, "/repo/audit/checkpoints/latest.p7s");
        if status == 200 {
            assert!(
                headers.contains("content-type: application/pkcs7-mime; smime-type=signed-data"),
                "{headers}"
            );
            let f = kmn_app::audit::read_checkpoint(&body).unwrap();
            if f.record.event_seq as i64 >= head {
                let (s, _, numbered) = get(
                    &srv.http,
                    &format!("/repo/audit/checkpoints/{}.p7s", f.record.number),
                );
                assert_eq!((s, numbered), (200, body));
                break;
            }
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "no checkpoint covered the revocation"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(get(&srv.http, "/repo/audit/checkpoints/../kmn.db").0, 404);
    assert_eq!(get(&srv.http, "/repo/audit/checkpoints/999.p7s").0, 404);
    let out = env.ok(&["audit", "verify"]);
    assert!(out.contains("with the signed hash"), "{out}");
}

//! The HTTPS listener with real clients (issue 8): a desk's card under OpenSSL with
//! OpenSC's PKCS#11 engine, which sends the card's certificate alone (item 9), and the
//! listener's own TLS certificate revoked while it serves (item 10).

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::cards::{pin_from_mailer, pkcs11_tool, softhsm, with_softhsm};
use crate::support::{Env, in_ci, tool};

/// A running `kmn up`, its HTTPS address and everything it logged.
struct Listener {
    child: Child,
    http: String,
    https: String,
    log: Arc<Mutex<String>>,
}

impl Drop for Listener {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Listener {
    fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }
}

/// Starts `kmn up` on loopback ports, keeping its log (stderr). A fresh data dir: the
/// quick start makes its CA with a passphrase of its own (in `secrets/`), so the test's
/// `KMN_CA_PASSPHRASE` is not passed.
fn listen(env: &Env) -> Listener {
    let fresh = !env.data_dir().join("kmn.toml").exists();
    let mut c = env.cmd(&["up"]);
    if fresh {
        c.env_remove("KMN_CA_PASSPHRASE");
    }
    c.env("KMN_HTTP_LISTEN", "127.0.0.1:0")
        .env("KMN_HTTPS_LISTEN", "127.0.0.1:0")
        .env("KMN_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = c.spawn().expect("kmn up");
    let log = Arc::new(Mutex::new(String::new()));
    let mut err = child.stderr.take().unwrap();
    let l = log.clone();
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = err.read(&mut buf) {
            if n == 0 {
                break;
            }
            l.lock()
                .unwrap()
                .push_str(&String::from_utf8_lossy(&buf[..n]));
        }
    });
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let (mut http, mut https) = (String::new(), String::new());
    while http.is_empty() || https.is_empty() {
        let Some(Ok(l)) = lines.next() else {
            let _ = child.kill();
            panic!(
                "kmn up stopped before serving: {}",
                log.lock().unwrap().as_str()
            );
        };
        if let Some(u) = l.strip_prefix("kmn: repository and health at ") {
            http = u
                .trim_end_matches('/')
                .trim_start_matches("http://")
                .to_string();
        }
        if let Some(u) = l.strip_prefix("kmn: API at ") {
            https = u
                .trim_end_matches('/')
                .trim_end_matches("/api/v1")
                .trim_start_matches("https://")
                .to_string();
        }
    }
    std::thread::spawn(move || for _ in lines {});
    Listener {
        child,
        http,
        https,
        log,
    }
}

/// The PKCS#11 engine of OpenSSL (Debian `libengine-pkcs11-openssl`), or None (a skip)
/// outside CI.
fn pkcs11_engine() -> Option<PathBuf> {
    let (_, out) = tool("openssl", &["version", "-e"]);
    let dir = out
        .split('"')
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/lib/x86_64-linux-gnu/engines-3"));
    let so = dir.join("pkcs11.so");
    match so.exists() {
        true => Some(so),
        false if in_ci() => panic!(
            "OpenSSL's PKCS#11 engine is required in CI (apt-get install libengine-pkcs11-openssl)"
        ),
        false => {
            eprintln!("SKIP: OpenSSL's PKCS#11 engine not installed");
            None
        }
    }
}

/// A card client: `openssl s_client` with the key on the card through the PKCS#11 engine
/// and only the card's certificate (no chain), the way a desk's card middleware does it.
struct CardClient {
    openssl_conf: PathBuf,
    softhsm_conf: PathBuf,
    key_uri: String,
    leaf_pem: PathBuf,
    root_pem: PathBuf,
}

impl CardClient {
    /// `GET path` over `version` (`-tls1_3`, `-tls1_2`): (exit success, stdout+stderr).
    fn get(&self, https: &str, version: &str, path: &str) -> (bool, String) {
        let mut c = Command::new("openssl");
        c.env("OPENSSL_CONF", &self.openssl_conf)
            .env("SOFTHSM2_CONF", &self.softhsm_conf)
            .args(["s_client", "-connect", https, "-servername", "localhost"])
            .arg("-CAfile")
            .arg(&self.root_pem)
            .args(["-verify_return_error", "-brief", "-ign_eof", version])
            .args([
                "-engine",
                "pkcs11",
                "-keyform",
                "engine",
                "-key",
                &self.key_uri,
            ])
            .arg("-cert")
            .arg(&self.leaf_pem)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = c.spawn().expect("openssl");
        write!(
            child.stdin.take().unwrap(),
            "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let o = child.wait_with_output().unwrap();
        (
            o.status.success(),
            format!(
                "{}{}",
                String::from_utf8_lossy(&o.stdout),
                String::from_utf8_lossy(&o.stderr)
            ),
        )
    }
}

fn json(s: &str) -> serde_json::Value {
    serde_json::from_str(s).unwrap_or_else(|e| panic!("{e}: {s}"))
}

/// Personalizes a card for the approved application `id` (`kmn card personalize`), binds
/// it to a desk account (`kmn account add --role facility_desk --cert`), and returns a
/// card client for it and the desk's facility. `reader` runs the personalization with the
/// SoftHSM2 configuration `softhsm_conf` (the reader the card is in).
fn desk_card(
    env: &Env,
    reader: &Env,
    softhsm_conf: &Path,
    module: &str,
    engine: &Path,
    id: &str,
) -> (CardClient, String) {
    let v = json(&reader.ok(&[
        "card",
        "personalize",
        "--module",
        module,
        "--application",
        id,
        "--json",
    ]));
    let card = &v["card"];
    let holder = card["holder_id"].as_str().unwrap();
    let serial = card["cert_serial_hex"].as_str().unwrap();
    let facility = card["facility_code"].as_str().unwrap().to_string();
    let (_, pin) = pin_from_mailer(
        Path::new(v["pin_mailer"].as_str().unwrap()),
        &[holder, card["id"].as_str().unwrap()],
    );
    // The card's certificate alone, as the card middleware sends it.
    let leaf_pem = env.path(&format!("{holder}-leaf.pem"));
    std::fs::write(&leaf_pem, env.ok(&["cert", "show", "--pem", serial])).unwrap();
    let (ok, text) = tool(
        "openssl",
        &["x509", "-noout", "-text", "-in", leaf_pem.to_str().unwrap()],
    );
    assert!(ok && text.contains("rsaEncryption"), "an RSA card: {text}");
    env.ok(&[
        "account",
        "add",
        "--role",
        "facility_desk",
        "--name",
        "窓口 担当",
        "--facility",
        &facility,
        "--cert",
        leaf_pem.to_str().unwrap(),
    ]);
    // The key on the card: its CKA_ID, as pkcs11-tool lists it.
    let label = format!("KMN {holder}");
    let (ok, objects) = pkcs11_tool(
        softhsm_conf,
        module,
        &["--token-label", &label, "--login", "--pin", &pin, "-O"],
    );
    assert!(ok, "{objects}");
    let key_id = objects
        .split("Private Key Object")
        .nth(1)
        .and_then(|s| s.lines().find_map(|l| l.trim().strip_prefix("ID:")))
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|| panic!("a private key with an ID on the card: {objects}"));
    let id_pct: String = key_id
        .as_bytes()
        .chunks(2)
        .map(|h| format!("%{}", std::str::from_utf8(h).unwrap()))
        .collect();
    let openssl_conf = env.path("openssl-pkcs11.cnf");
    std::fs::write(
        &openssl_conf,
        format!(
            "openssl_conf = openssl_init\n\
             [openssl_init]\nengines = engine_section\n\
             [engine_section]\npkcs11 = pkcs11_section\n\
             [pkcs11_section]\nengine_id = pkcs11\ndynamic_path = {}\nMODULE_PATH = {module}\ninit = 0\n",
            engine.display()
        ),
    )
    .unwrap();
    let root_pem = env.path("root.pem");
    std::fs::write(
        &root_pem,
        kmn_pki::cert::to_pem(&std::fs::read(env.repo("kmn-root-g1.crt")).unwrap()),
    )
    .unwrap();
    let client = CardClient {
        openssl_conf,
        softhsm_conf: softhsm_conf.to_path_buf(),
        key_uri: format!(
            "pkcs11:token={};id={id_pct};type=private;pin-value={pin}",
            label.replace(' ', "%20")
        ),
        leaf_pem,
        root_pem,
    };
    (client, facility)
}

/// A desk's card whose client sends only the card's certificate logs in over TLS 1.3
/// (RSA-PSS from the card) and TLS 1.2: the server builds the path from the issuing CAs it
/// holds — the first one and, after a rollover, the second.
#[tokio::test]
async fn issue8_a_card_that_sends_only_its_own_certificate_logs_in() {
    let Some(module) = softhsm() else { return };
    let Some(engine) = pkcs11_engine() else {
        return;
    };
    let (env, softhsm_conf) = with_softhsm(Env::new());
    let m = module.to_str().unwrap();
    let id = crate::cards::approved_desk_application(&env).await;
    let (g1_card, facility) = desk_card(&env, &env, &softhsm_conf, m, &engine, &id);
    env.ok(&["ca", "new-issuing"]);
    let id = crate::cards::more_approved_applications_as(
        &env,
        &[("菊池 一郎", "キクチ イチロウ", "Ichiro Kikuchi")],
        true,
    )
    .await
    .remove(0);
    // The first card is taken out of the reader: the second is made in another one.
    let (reader, reader_conf) = with_softhsm(Env {
        tmp: tempfile::tempdir().unwrap(),
        extra_env: vec![],
    });
    let reader = reader.env("KMN_DATA_DIR", env.data_dir().to_str().unwrap());
    let (g2_card, _) = desk_card(&env, &reader, &reader_conf, m, &engine, &id);
    let (_, text) = tool(
        "openssl",
        &[
            "x509",
            "-noout",
            "-issuer",
            "-in",
            g2_card.leaf_pem.to_str().unwrap(),
        ],
    );
    assert!(
        text.contains("G2"),
        "a card of the second issuing CA: {text}"
    );

    let srv = listen(&env);
    for (card, version, shown) in [
        (&g1_card, "-tls1_3", "TLSv1.3"),
        (&g1_card, "-tls1_2", "TLSv1.2"),
        (&g2_card, "-tls1_3", "TLSv1.3"),
        (&g2_card, "-tls1_2", "TLSv1.2"),
    ] {
        let (ok, out) = card.get(&srv.https, version, "/api/v1/whoami");
        assert!(ok, "{version}: {out}");
        assert!(out.contains(&format!("Protocol version: {shown}")), "{out}");
        assert!(out.contains("HTTP/1.1 200"), "{version}: {out}");
        let body = &out[out.find('{').unwrap_or_else(|| panic!("{out}"))..];
        let body = &body[..=body.rfind('}').unwrap()];
        let who = json(body);
        assert_eq!(who["role"], "facility_desk", "{version}: {who}");
        assert_eq!(who["facility_code"], facility, "{version}: {who}");
    }
}

/// The serial (lowercase hex) of the certificate the listener at `https` serves, or the
/// handshake's error.
fn served_serial(https: &str) -> Result<String, String> {
    let o = Command::new("openssl")
        .args(["s_client", "-connect", https, "-servername", "localhost"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let mut x = Command::new("openssl")
        .args(["x509", "-noout", "-serial"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    x.stdin.take().unwrap().write_all(&o.stdout).unwrap();
    let x = x.wait_with_output().unwrap();
    match String::from_utf8_lossy(&x.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("serial="))
    {
        Some(s) if o.status.success() => Ok(s.trim().to_lowercase()),
        _ => Err(format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        )),
    }
}

/// The serial of the listener's certificate file.
fn file_serial(env: &Env) -> String {
    let pem = std::fs::read(env.data_dir().join("secrets/tls-server.crt.pem")).unwrap();
    let der = kmn_pki::cert::pem_or_der(&pem, "CERTIFICATE").unwrap();
    kmn_pki::parse::cert(&der).unwrap().tbs.serial_hex()
}

/// Waits up to 20 s for `f` to hold; returns its last value.
fn wait_for<T>(mut f: impl FnMut() -> T, ok: impl Fn(&T) -> bool) -> T {
    let start = Instant::now();
    loop {
        let v = f();
        if ok(&v) || start.elapsed() > Duration::from_secs(20) {
            return v;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// A plain HTTP/1.0 GET status.
fn http_status(addr: &str, path: &str) -> u16 {
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    write!(s, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").unwrap();
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).unwrap();
    String::from_utf8_lossy(&buf)
        .split_whitespace()
        .nth(1)
        .unwrap()
        .parse()
        .unwrap()
}

/// The demo server (`kmn up`, demo = true) renews its own TLS certificate when it is
/// revoked: the next CRL publication makes it issue and serve a new one, and it says so.
#[tokio::test]
async fn issue8_a_demo_listener_renews_its_revoked_tls_certificate() {
    let env = Env::new();
    let srv = listen(&env);
    let old = file_serial(&env);
    assert_eq!(served_serial(&srv.https), Ok(old.clone()));
    let pass = std::fs::read_to_string(env.data_dir().join("secrets/ca-passphrase")).unwrap();
    let admin = Env {
        tmp: tempfile::tempdir().unwrap(),
        extra_env: vec![
            (
                "KMN_DATA_DIR".into(),
                env.data_dir().to_str().unwrap().into(),
            ),
            ("KMN_CA_PASSPHRASE".into(), pass.trim().into()),
        ],
    };
    admin.ok(&["cert", "revoke", &old, "--reason", "key-compromise"]);

    let served = wait_for(
        || served_serial(&srv.https),
        |s| matches!(s, Ok(s) if *s != old),
    );
    let new = served.unwrap_or_else(|e| panic!("the listener serves a certificate: {e}"));
    assert_ne!(new, old, "a renewed certificate: {}", srv.log());
    assert_eq!(file_serial(&env), new);
    let show = admin.ok(&["cert", "show", &new]);
    assert!(
        show.contains("status       valid") && show.contains("profile      server"),
        "{show}"
    );
    let show = admin.ok(&["cert", "show", &old]);
    assert!(show.contains("status       revoked"), "{show}");
    let log = srv.log();
    assert!(
        log.contains(&format!(
            "the HTTPS listener's TLS certificate {old} is revoked (keyCompromise): issued a new one ({new}) for this demo server and serving it"
        )),
        "{log}"
    );
    // A client that trusts the root logs in over the renewed certificate.
    let demo = env.data_dir().join("demo");
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
            &format!(
                "https://{}/api/v1/whoami",
                srv.https.replace("127.0.0.1", "localhost")
            ),
        ],
    );
    assert!(ok && out.contains("\"role\":\"operator\""), "{out}");
}

/// A production listener (demo = false) stops serving a revoked TLS certificate: the
/// handshake is refused from the next CRL publication on (the HTTP repository goes on),
/// the log says why, `kmn serve` refuses to start with it, and a valid certificate
/// installed in its place is served again without a restart.
#[tokio::test]
async fn issue8_a_production_listener_stops_serving_its_revoked_tls_certificate() {
    let env = Env::new();
    env.init(&[]);
    let srv = listen(&env);
    let old = file_serial(&env);
    assert_eq!(served_serial(&srv.https), Ok(old.clone()));
    env.ok(&["cert", "revoke", &old, "--reason", "key-compromise"]);

    let served = wait_for(|| served_serial(&srv.https), |s| s.is_err());
    let err = served.expect_err("the revoked certificate is no longer served");
    assert!(err.contains("alert access denied"), "{err}");
    let cert_file = env.data_dir().join("secrets/tls-server.crt.pem");
    let key_file = env.data_dir().join("secrets/tls-server.key.pem");
    let line = format!(
        "the HTTPS listener's TLS certificate {old} is revoked (keyCompromise): HTTPS is not served with it; install a valid server certificate and its key in {} and {}",
        cert_file.display(),
        key_file.display()
    );
    let log = wait_for(|| srv.log(), |l| l.contains(&line));
    assert!(log.contains(&line), "{log}");
    assert_eq!(http_status(&srv.http, "/repo/kmn-issuing-g1.crl"), 200);

    // A new certificate installed in the files is served again.
    let csr = env.csr(
        "tls2",
        "p256",
        "/C=JP/O=Center/CN=localhost",
        &["-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
    );
    let (pem, new) = env.issue("tls2", &csr, "server", "3y");
    let new = new.to_lowercase();
    let chain = format!(
        "{}{}",
        std::fs::read_to_string(&pem).unwrap(),
        kmn_pki::cert::to_pem(&std::fs::read(env.repo("kmn-issuing-g1.crt")).unwrap())
    );
    std::fs::copy(env.path("tls2.key"), &key_file).unwrap();
    std::fs::write(&cert_file, chain).unwrap();
    let served = wait_for(|| served_serial(&srv.https), |s| s.is_ok());
    assert_eq!(served, Ok(new.clone()), "{}", srv.log());
    drop(srv);

    // `kmn serve` refuses to start with a revoked certificate.
    env.ok(&["cert", "revoke", &new, "--reason", "superseded"]);
    let o = env
        .cmd(&["serve"])
        .env("KMN_HTTP_LISTEN", "127.0.0.1:0")
        .env("KMN_HTTPS_LISTEN", "127.0.0.1:0")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains(&format!(
            "the HTTPS listener's TLS certificate {new} is revoked (superseded): HTTPS is not served with it"
        )),
        "{err}"
    );
}

//! `kmn gateway` with HPKI physician cards, the doctor registry and OCSP (issue #11 items
//! 2–4), through the real binaries and real TLS: `kmn up` serves the API (the registry's
//! lookup, asked with the demo station's certificate), the CRLs and OCSP; a test HPKI CA
//! made with OpenSSL (crate::doctors::Hpki) publishes its own CRL over HTTP. A doctor
//! enrolled, confirmed and approved with `kmn doctor` logs in with the authentication
//! certificate and the service sees who; the signature certificate, an unregistered card
//! and a card of an unknown anchor are refused; a card on the HPKI CA's own CRL is refused;
//! an ended binding is refused after `kmn gateway reload`; the registry unreachable fails
//! closed after its grace. With OCSP on, a card revoked
//! with `kmn cert revoke` is refused after `reload` while the CRL the gateway holds does not
//! list it.

use std::path::{Path, PathBuf};

use crate::doctors::{AUTH_OID, Hpki, SIGN_OID};
use crate::gateway::{
    Gateway, config, connect, file_server, json, request, server_cert, start_gateway, upstream,
};
use crate::support::{Env, tool};

/// The test HPKI CA revokes `cert` (its OpenSSL database) and publishes a new CRL.
fn hpki_revoke(h: &Hpki, cert: &Path, dir: &Path) {
    let p = |f: &str| h.path(f).to_str().unwrap().to_string();
    let o = std::process::Command::new("openssl")
        .current_dir(h.path(""))
        .args([
            "ca",
            "-revoke",
            cert.to_str().unwrap(),
            "-config",
            &p("ca.cnf"),
        ])
        .args(["-keyfile", &p("root.key"), "-cert", &p("root.pem")])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    hpki_crl(h, dir);
}

/// Publishes the CRL of the test HPKI CA as `dir/hpki.crl` (DER, with a cRLNumber
/// and the authorityKeyIdentifier, as the HPKI CRL profile has them).
fn hpki_crl(h: &Hpki, dir: &Path) {
    if !h.path("ca.cnf").exists() {
        std::fs::write(
            h.path("ca.cnf"),
            "[ca]\ndefault_ca = hpki\n[hpki]\ndatabase = index.txt\ncrlnumber = crlnumber\n\
             default_md = sha256\ndefault_crl_days = 7\ncrl_extensions = crl_ext\n\
             [crl_ext]\nauthorityKeyIdentifier=keyid\n",
        )
        .unwrap();
        std::fs::write(h.path("index.txt"), "").unwrap();
        std::fs::write(h.path("crlnumber"), "1000\n").unwrap();
    }
    let p = |f: &str| h.path(f).to_str().unwrap().to_string();
    let out = dir.join("hpki.crl");
    let o = std::process::Command::new("openssl")
        .current_dir(h.path(""))
        .args(["ca", "-gencrl", "-config", &p("ca.cnf"), "-keyfile"])
        .args([
            &p("root.key"),
            "-cert",
            &p("root.pem"),
            "-out",
            &p("crl.pem"),
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let (ok, o) = tool(
        "openssl",
        &[
            "crl",
            "-in",
            &p("crl.pem"),
            "-outform",
            "DER",
            "-out",
            out.to_str().unwrap(),
        ],
    );
    assert!(ok, "{o}");
}

#[allow(clippy::too_many_arguments)]
fn hpki_config(
    env: &Env,
    name: &str,
    http: &str,
    hpki_repo: &str,
    root: &Path,
    registry: &str,
    tls: &(PathBuf, PathBuf, PathBuf),
    policies: &kmn_app::ca::Policies,
    service: &str,
    facility: &str,
) -> String {
    let demo = env.data_dir().join("demo");
    format!(
        r#"
[listen]
address = "127.0.0.1:0"
cert = "{cert}"
key = "{key}"
admin_socket = "{sock}"

[trust]
anchors = ["{kmn_root}"]
intermediates = ["{issuing}"]
crl_urls = ["{http}/repo/kmn-root-g1.crl", "{http}/repo/kmn-issuing-g1.crl"]
card_policy_oids = ["{card}"]

[[hpki]]
name = "test-hpki"
anchors = ["{hpki_root}"]
crl_urls = ["{hpki_repo}/hpki.crl"]
auth_policy_oids = ["{AUTH_OID}"]
signature_policy_oids = ["{SIGN_OID}"]
crl_grace_seconds = 86400

[registry]
url = "{registry}"
cert = "{station_cert}"
key = "{station_key}"
ca = "{server_root}"
cache_seconds = 300
unreachable_grace_seconds = 0
timeout_seconds = 3

[log]
path = "{log}"

[[upstream]]
name = "clinic"
url = "{service}"
path_prefix = "/clinic/"
accept = ["kmn-card", "hpki"]
facility = {{ binding = "fixed", code = "{facility}" }}

[[upstream]]
name = "other-clinic"
url = "{service}"
path_prefix = "/other/"
accept = ["hpki"]
facility = {{ binding = "fixed", code = "4319999999" }}

[[upstream]]
name = "viewer"
url = "{service}"
path_prefix = "/viewer/"
accept = ["kmn-card", "hpki"]
facility = {{ binding = "per_request" }}

[[upstream]]
name = "cards-only"
url = "{service}"
path_prefix = "/cards/"
accept = ["kmn-card"]
facility = {{ binding = "fixed", code = "{facility}" }}
"#,
        cert = tls.1.display(),
        key = tls.2.display(),
        sock = env.path(&format!("{name}.sock")).display(),
        kmn_root = env.repo("kmn-root-g1.crt").display(),
        issuing = env.repo("kmn-issuing-g1.crt").display(),
        card = policies.user_card,
        hpki_root = root.display(),
        station_cert = demo.join("station.pem").display(),
        station_key = demo.join("station.key").display(),
        server_root = demo.join("root-ca.pem").display(),
        log = env.path(&format!("{name}-login.jsonl")).display(),
    )
}

fn last_head(service: &crate::gateway::Upstream) -> String {
    service
        .heads
        .lock()
        .unwrap()
        .last()
        .unwrap()
        .to_ascii_lowercase()
}

fn serial_of(pem: &Path) -> String {
    let der = kmn_pki::cert::pem_or_der(&std::fs::read(pem).unwrap(), "CERTIFICATE").unwrap();
    kmn_pki::parse::cert(&der).unwrap().tbs.serial_hex()
}

/// The test HPKI CA's CRL published over HTTP, and `[hpki]` of kmn.toml set to it (what
/// the registry accepts at enrolment); returns the repository's URL.
fn hpki_setup(env: &Env, h: &Hpki) -> String {
    let repo_dir = env.path("hpki-repo");
    std::fs::create_dir_all(&repo_dir).unwrap();
    hpki_crl(h, &repo_dir);
    let toml_path = env.data_dir().join("kmn.toml");
    let mut cfg = std::fs::read_to_string(&toml_path).unwrap();
    for (k, v) in [
        ("anchors", h.root().display().to_string()),
        ("auth_policy_oids", AUTH_OID.to_string()),
        ("signature_policy_oids", SIGN_OID.to_string()),
    ] {
        cfg = cfg.replacen(&format!("\n{k} = []\n"), &format!("\n{k} = [\"{v}\"]\n"), 1);
    }
    std::fs::write(&toml_path, cfg).unwrap();
    file_server(repo_dir)
}

/// The registry's way with `kmn doctor`: enrolled by the center, confirmed in writing,
/// approved by another person; returns the binding id.
fn enrolled(env: &Env, facility: &str, cert: &Path) -> String {
    let b: serde_json::Value = serde_json::from_str(&env.ok(&[
        "doctor",
        "enrol",
        "--facility",
        facility,
        "--cert",
        cert.to_str().unwrap(),
        "--json",
    ]))
    .unwrap();
    let binding = b["id"].as_str().unwrap().to_string();
    env.ok(&[
        "--actor",
        "op-one",
        "doctor",
        "confirm",
        &binding,
        "--given-by",
        "窓口 一子",
    ]);
    env.ok(&["--actor", "op-two", "doctor", "approve", &binding]);
    binding
}

#[tokio::test]
async fn art4_2_gateway_accepts_a_registered_hpki_doctor_and_refuses_the_rest() {
    let env = Env::new();
    let srv = crate::serve::start(&env);
    let app = env.app().await;
    let policies = kmn_app::ca::Policies::current(&app).await.unwrap();
    let facility = kmn_app::quickstart::demo_facility_code();
    let h = Hpki::new("HPKI Test Root CA");
    let hpki_repo = hpki_setup(&env, &h);

    let auth = h.issue("auth", "Taro Isha", "auth");
    let sign = h.issue("sign", "Taro Isha", "sign");
    let unregistered = h.issue("unregistered", "Jiro Isha", "auth");
    let other = Hpki::new("Unknown HPKI Root");
    let stranger = other.issue("stranger", "Saburo Isha", "auth");
    let key = |p: &Path| p.with_extension("key");

    let binding = enrolled(&env, &facility, &auth);

    let tls = server_cert(&env);
    let service = upstream();
    let gw = start_gateway(
        &env,
        "hpki",
        &hpki_config(
            &env,
            "hpki",
            &srv.http,
            &hpki_repo,
            &h.root(),
            &srv.https.replace("127.0.0.1", "localhost"),
            &tls,
            &policies,
            &service.url,
            &facility,
        ),
    );
    let status = env.ok(&["gateway", "status", "--config", gw.config.to_str().unwrap()]);
    assert!(
        status.contains("[test-hpki]") && status.contains("hpki.crl"),
        "{status}"
    );

    // The doctor logs in at the clinic's system; the service sees who, for which facility.
    let mut d = connect(&gw, &tls.0, Some((&auth, &key(&auth))));
    let (st, _, body) = request(
        &mut d,
        "GET",
        "/clinic/chart",
        &[("X-KMN-Profession", "nurse")],
    );
    assert_eq!(st, 200, "{body}");
    let head = last_head(&service);
    for want in [
        "x-kmn-credential: hpki".to_string(),
        "x-kmn-profession: doctor".to_string(),
        format!("x-kmn-facility-code: {facility}"),
        format!("x-kmn-holder-id: {}", binding.to_ascii_lowercase()),
        format!("x-kmn-cert-serial: {}", serial_of(&auth)),
    ] {
        assert!(head.contains(&want), "{want} in {head}");
    }
    assert!(!head.contains("nurse"), "{head}");
    // 第4条2: not at a facility the doctor is not bound to; per request, only the bound one.
    let (st, _, body) = request(&mut d, "GET", "/other/chart", &[]);
    assert_eq!(st, 403, "{body}");
    let v = json(&body);
    assert_eq!(v["error"], "facility_mismatch", "{v}");
    assert!(v["message"].as_str().unwrap().contains("4319999999"), "{v}");
    let (st, _, body) = request(
        &mut d,
        "GET",
        "/viewer/patients",
        &[("X-KMN-Act-For-Facility", &facility)],
    );
    assert_eq!(st, 200, "{body}");
    assert!(last_head(&service).contains("x-kmn-credential: hpki"));
    let (st, _, body) = request(
        &mut d,
        "GET",
        "/viewer/patients",
        &[("X-KMN-Act-For-Facility", "4319999999")],
    );
    assert_eq!(
        (st, json(&body)["error"].as_str()),
        (403, Some("facility_mismatch"))
    );
    // A service that takes our cards only.
    let (st, _, body) = request(&mut d, "GET", "/cards/x", &[]);
    assert_eq!(st, 403);
    assert_eq!(json(&body)["error"], "credential_not_accepted", "{body}");
    // Our own cards still work beside the doctors'.
    let demo = |f: &str| env.data_dir().join("demo").join(f);
    let (st, _, body) = request(
        &mut connect(
            &gw,
            &tls.0,
            Some((&demo("facility_desk.pem"), &demo("facility_desk.key"))),
        ),
        "GET",
        "/clinic/chart",
        &[],
    );
    assert_eq!(st, 200, "{body}");
    assert!(last_head(&service).contains("x-kmn-credential: kmn-card"));

    // The card's signature certificate: refused, in Japanese for a browser.
    let mut s = connect(&gw, &tls.0, Some((&sign, &key(&sign))));
    let (st, _, body) = request(&mut s, "GET", "/clinic/chart", &[]);
    assert_eq!(st, 403, "{body}");
    assert_eq!(json(&body)["error"], "hpki_signature_certificate", "{body}");
    let (st, h_, body) = request(&mut s, "GET", "/clinic/chart", &[("Accept", "text/html")]);
    assert_eq!(st, 403);
    assert!(h_.contains("text/html"), "{h_}");
    assert!(body.contains("署名用") && body.contains("認証用"), "{body}");
    // A card with no binding.
    let (st, _, body) = request(
        &mut connect(&gw, &tls.0, Some((&unregistered, &key(&unregistered)))),
        "GET",
        "/clinic/chart",
        &[],
    );
    assert_eq!(st, 403, "{body}");
    let v = json(&body);
    assert_eq!(v["error"], "doctor_not_registered", "{v}");
    assert!(v["message"].as_str().unwrap().contains("医師登録"), "{v}");
    // A card of an HPKI CA the gateway does not trust.
    let (st, _, body) = request(
        &mut connect(&gw, &tls.0, Some((&stranger, &key(&stranger)))),
        "GET",
        "/clinic/chart",
        &[],
    );
    assert_eq!(st, 403, "{body}");
    assert_eq!(json(&body)["error"], "unknown_anchor", "{body}");

    // The HPKI CA's own CRL counts: a card it revoked is refused once the gateway has the
    // new CRL (at once with `reload`), whatever the registry says.
    let gone = h.issue("gone", "Shiro Isha", "auth");
    let (st, _, body) = request(
        &mut connect(&gw, &tls.0, Some((&gone, &key(&gone)))),
        "GET",
        "/clinic/chart",
        &[],
    );
    assert_eq!(
        (st, json(&body)["error"].as_str()),
        (403, Some("doctor_not_registered"))
    );
    hpki_revoke(&h, &gone, &env.path("hpki-repo"));
    let out = env.ok(&["gateway", "reload", "--config", gw.config.to_str().unwrap()]);
    assert!(out.contains("hpki.crl: cRLNumber"), "{out}");
    let (st, _, body) = request(
        &mut connect(&gw, &tls.0, Some((&gone, &key(&gone)))),
        "GET",
        "/clinic/chart",
        &[],
    );
    assert_eq!(
        (st, json(&body)["error"].as_str()),
        (403, Some("revoked")),
        "{body}"
    );

    // (The reload emptied the registry cache: the doctor's next login asks again.)
    let (st, _, body) = request(&mut d, "GET", "/clinic/chart", &[]);
    assert_eq!(st, 200, "{body}");

    // The doctor leaves: the binding ends. The answer cached (≤ 5 min) still stands until
    // the gateway is told; after `kmn gateway reload` the next request is refused.
    env.ok(&[
        "doctor",
        "end",
        &binding,
        "--on",
        &time::OffsetDateTime::now_utc()
            .to_offset(time::UtcOffset::from_hms(9, 0, 0).unwrap())
            .date()
            .to_string(),
        "--reason",
        "退職",
    ]);
    let (st, _, body) = request(
        &mut connect(&gw, &tls.0, Some((&auth, &key(&auth)))),
        "GET",
        "/clinic/chart",
        &[],
    );
    assert_eq!(
        st, 200,
        "answered from the cache, no lookup per request: {body}"
    );
    let out = env.ok(&["gateway", "reload", "--config", gw.config.to_str().unwrap()]);
    assert!(
        out.contains("flushed the doctor registry cache") && out.contains("hpki.crl"),
        "{out}"
    );
    let (st, _, body) = request(&mut d, "GET", "/clinic/chart", &[]);
    assert_eq!(st, 403, "{body}");
    assert_eq!(json(&body)["error"], "doctor_not_registered", "{body}");

    // The registry unreachable (and no answer held): fail closed, 503.
    let dead = start_gateway(
        &env,
        "noreg",
        &hpki_config(
            &env,
            "noreg",
            &srv.http,
            &hpki_repo,
            &h.root(),
            "https://127.0.0.1:1",
            &tls,
            &policies,
            &service.url,
            &facility,
        ),
    );
    let (st, _, body) = request(
        &mut connect(&dead, &tls.0, Some((&unregistered, &key(&unregistered)))),
        "GET",
        "/clinic/chart",
        &[],
    );
    assert_eq!(st, 503, "{body}");
    let v = json(&body);
    assert_eq!(v["error"], "registry_unavailable", "{v}");
    assert!(
        v["message"]
            .as_str()
            .unwrap()
            .contains("医師の登録を確認できない"),
        "{v}"
    );
    dead.stop();

    // The login record names the doctor by the binding and the refusals by reason.
    let c = gw.config.clone();
    gw.stop();
    let today = time::OffsetDateTime::now_utc()
        .to_offset(time::UtcOffset::from_hms(9, 0, 0).unwrap())
        .date()
        .to_string();
    let csv = env.ok(&[
        "gateway",
        "log",
        "export",
        "--config",
        c.to_str().unwrap(),
        "--from",
        &today,
        "--to",
        &today,
    ]);
    assert!(
        csv.contains(&format!("{binding},{facility},hpki"))
            && csv.contains("hpki_signature_certificate")
            && csv.contains("doctor_not_registered")
            && csv.contains("unknown_anchor"),
        "{csv}"
    );
}

/// The registry out of reach: a recent answer (within `cache_seconds` +
/// `unreachable_grace_seconds`) still stands, then logins fail closed (503).
#[tokio::test]
async fn art4_2_gateway_uses_a_recent_registry_answer_then_fails_closed() {
    let env = Env::new();
    let srv = crate::serve::start(&env);
    let app = env.app().await;
    let policies = kmn_app::ca::Policies::current(&app).await.unwrap();
    let facility = kmn_app::quickstart::demo_facility_code();
    let h = Hpki::new("HPKI Test Root CA");
    let hpki_repo = hpki_setup(&env, &h);
    let auth = h.issue("auth", "Taro Isha", "auth");
    let key = auth.with_extension("key");
    enrolled(&env, &facility, &auth);
    let tls = server_cert(&env);
    let service = upstream();
    let text = hpki_config(
        &env,
        "grace",
        &srv.http,
        &hpki_repo,
        &h.root(),
        &srv.https.replace("127.0.0.1", "localhost"),
        &tls,
        &policies,
        &service.url,
        &facility,
    )
    .replace("cache_seconds = 300", "cache_seconds = 1")
    .replace(
        "unreachable_grace_seconds = 0\ntimeout_seconds",
        "unreachable_grace_seconds = 5\ntimeout_seconds",
    );
    let gw = start_gateway(&env, "grace", &text);
    let (st, _, body) = request(
        &mut connect(&gw, &tls.0, Some((&auth, &key))),
        "GET",
        "/clinic/chart",
        &[],
    );
    let asked = std::time::Instant::now();
    assert_eq!(st, 200, "{body}");
    drop(srv);
    // Past cache_seconds, within the grace: the registry is asked, cannot be reached, and
    // the answer of a moment ago stands (a new connection each time: no per-connection
    // reuse).
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let (st, _, body) = request(
        &mut connect(&gw, &tls.0, Some((&auth, &key))),
        "GET",
        "/clinic/chart",
        &[],
    );
    assert_eq!(st, 200, "{body}");
    assert!(asked.elapsed() < std::time::Duration::from_secs(6));
    // Past cache_seconds + grace: fail closed.
    std::thread::sleep(std::time::Duration::from_millis(6500).saturating_sub(asked.elapsed()));
    let (st, _, body) = request(
        &mut connect(&gw, &tls.0, Some((&auth, &key))),
        "GET",
        "/clinic/chart",
        &[],
    );
    assert_eq!(st, 503, "{body}");
    assert_eq!(json(&body)["error"], "registry_unavailable", "{body}");
    gw.stop();
}

/// OCSP for our own cards: a card revoked with `kmn cert revoke` is refused after `kmn
/// gateway reload` although the CRLs the gateway fetches (a copy taken before, refetched
/// every 300 s) do not list it.
#[tokio::test]
async fn art11_gateway_ocsp_refuses_a_revoked_card_without_a_new_crl() {
    let env = Env::new();
    let srv = crate::serve::start(&env);
    let pass = std::fs::read_to_string(env.data_dir().join("secrets/ca-passphrase")).unwrap();
    let env = env.env("KMN_CA_PASSPHRASE", pass.trim());
    let app = env.app().await;
    let policies = kmn_app::ca::Policies::current(&app).await.unwrap();
    let card = crate::serve::demo_desk_card(&app).await;
    let serial = card.cert_serial_hex.clone().unwrap();
    let facility = kmn_app::quickstart::demo_facility_code();
    let frozen = env.path("frozen-repo");
    std::fs::create_dir_all(&frozen).unwrap();
    for f in ["kmn-root-g1.crl", "kmn-issuing-g1.crl"] {
        std::fs::copy(env.repo(f), frozen.join(f)).unwrap();
    }
    let repo = file_server(frozen.clone());
    let tls = server_cert(&env);
    let service = upstream();
    let text = config(
        &env,
        "ocsp",
        &repo,
        &tls,
        &policies,
        300,
        &service.url,
        &facility,
    )
    .replacen(
        "card_policy_oids",
        &format!("ocsp = \"{}/ocsp\"\ncard_policy_oids", srv.http),
        1,
    );
    let gw: Gateway = start_gateway(&env, "ocsp", &text);
    let demo = |f: &str| env.data_dir().join("demo").join(f);
    let (cert, key) = (demo("facility_desk.pem"), demo("facility_desk.key"));
    let mut s = connect(&gw, &tls.0, Some((&cert, &key)));
    // The first request: no OCSP answer yet (queued for the background refresher), the CRL
    // index decides.
    let (st, _, body) = request(&mut s, "GET", "/clinic-a/chart", &[]);
    assert_eq!(st, 200, "{body}");

    env.ok(&["cert", "revoke", &serial, "--reason", "key-compromise"]);
    // `kmn up` re-signs its OCSP answers within a moment of a revocation by another
    // process; each reload asks the responder again at once.
    let revoked = std::time::Instant::now();
    loop {
        let out = env.ok(&["gateway", "reload", "--config", gw.config.to_str().unwrap()]);
        if out.contains("1 revoked") {
            break;
        }
        assert!(
            revoked.elapsed() < std::time::Duration::from_secs(10),
            "OCSP never said revoked: {out}"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    let (st, _, body) = request(&mut s, "GET", "/clinic-a/chart", &[]);
    assert_eq!(st, 403, "{body}");
    let v = json(&body);
    assert_eq!(v["error"], "revoked", "{v}");
    assert!(
        v["message"].as_str().unwrap().contains("失効しています"),
        "{v}"
    );
    assert!(
        !crate::serve::crl_lists(
            &std::fs::read(frozen.join("kmn-issuing-g1.crl")).unwrap(),
            &serial
        ),
        "the CRL the gateway holds does not list the card"
    );
    let (st, _, body) = request(
        &mut connect(&gw, &tls.0, Some((&cert, &key))),
        "GET",
        "/clinic-a/chart",
        &[],
    );
    assert_eq!((st, json(&body)["error"].as_str()), (403, Some("revoked")));
    let status = env.ok(&["gateway", "status", "--config", gw.config.to_str().unwrap()]);
    assert!(
        status.contains("[kmn] OCSP (") && status.contains("1 certificate(s) held"),
        "{status}"
    );
    gw.stop();
}

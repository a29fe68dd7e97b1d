//! The OCSP responder of `kmn serve` (issue 10 item 5, RFC 6960): pre-signed responses
//! answered over POST and GET, checked with `openssl ocsp` and pkilint; a revocation
//! committed by another process reaches OCSP at once; unknown serials and other issuers
//! are `unauthorized`, garbage is `malformedRequest`, nothing crashes.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use crate::serve::{get, start};
use crate::support::{Env, tool, venv_bin};

/// A plain HTTP/1.0 POST: (status, headers, body).
fn post(base: &str, path: &str, ctype: &str, body: &[u8]) -> (u16, String, Vec<u8>) {
    let addr = base.trim_start_matches("http://");
    let mut s = TcpStream::connect(addr).unwrap();
    write!(
        s,
        "POST {path} HTTP/1.0\r\nHost: {addr}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .unwrap();
    s.write_all(body).unwrap();
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).unwrap();
    let split = buf.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8_lossy(&buf[..split]).to_string();
    let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    (status, head.to_lowercase(), buf[split + 4..].to_vec())
}

/// The unsigned OCSPResponse of an error status (RFC 6960 §4.2.1).
fn unsigned(code: u8) -> Vec<u8> {
    vec![0x30, 0x03, 0x0a, 0x01, code]
}

/// `openssl ocsp` against the server: (verified, output).
fn openssl_ocsp(url: &str, iss: &str, root: &str, cert: &str, extra: &[&str]) -> (bool, String) {
    let mut args = vec!["ocsp", "-issuer", iss];
    args.extend_from_slice(extra);
    args.extend_from_slice(&[
        "-cert",
        cert,
        "-url",
        url,
        "-CAfile",
        root,
        "-verify_other",
        iss,
        "-no_nonce",
    ]);
    tool("openssl", &args)
}

#[tokio::test]
async fn issue10_ocsp_answers_from_presigned_responses_and_sees_a_revocation_at_once() {
    let env = Env::new();
    let srv = start(&env);
    let pass = std::fs::read_to_string(env.data_dir().join("secrets/ca-passphrase")).unwrap();
    let env = env.env("KMN_CA_PASSPHRASE", pass.trim());
    let csr = env.csr("u", "p256", "/C=JP/O=Clinic/CN=Taro", &[]);
    let (pem, serial) = env.issue("u", &csr, "user-card", "3y");
    let root = env.pem_of(&env.repo("kmn-root-g1.crt"), "cert");
    let iss = env.pem_of(&env.repo("kmn-issuing-g1.crt"), "cert");
    let (root, iss, pem) = (
        root.to_str().unwrap().to_string(),
        iss.to_str().unwrap().to_string(),
        pem.to_str().unwrap().to_string(),
    );
    let url = format!("{}/ocsp", srv.http);

    // `good`, with SHA-1 and SHA-256 CertIDs, once the signer loop has signed it (it runs
    // every 100 ms; until then the answer is tryLater).
    let started = Instant::now();
    let resp1 = env.path("good-sha1.der");
    loop {
        let (ok, out) = openssl_ocsp(
            &url,
            &iss,
            &root,
            &pem,
            &["-respout", resp1.to_str().unwrap()],
        );
        if ok && out.contains(": good") {
            assert!(out.contains("Response verify OK"), "{out}");
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "no good response: {out}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let resp256 = env.path("good-sha256.der");
    let (ok, out) = openssl_ocsp(
        &url,
        &iss,
        &root,
        &pem,
        &["-sha256", "-respout", resp256.to_str().unwrap()],
    );
    assert!(
        ok && out.contains(": good") && out.contains("Response verify OK"),
        "{out}"
    );
    // Every response passes pkilint.
    if let Some(bin) = venv_bin("lint_ocsp_response") {
        for r in [&resp1, &resp256] {
            let o = std::process::Command::new(&bin)
                .args(["lint", "-s", "ERROR", "--document-format", "DER"])
                .arg(r)
                .output()
                .unwrap();
            let out = format!(
                "{}{}",
                String::from_utf8_lossy(&o.stdout),
                String::from_utf8_lossy(&o.stderr)
            );
            assert!(
                o.status.success() && !out.contains("(ERROR)") && !out.contains("(FATAL)"),
                "pkilint: {out}"
            );
        }
    }

    // GET with the request in base64 (percent-encoded `/`, `+`, `=`) answers the same
    // pre-signed bytes as POST, with a short Cache-Control.
    let req = env.path("req.der");
    let (ok, out) = tool(
        "openssl",
        &[
            "ocsp",
            "-issuer",
            &iss,
            "-cert",
            &pem,
            "-no_nonce",
            "-reqout",
            req.to_str().unwrap(),
        ],
    );
    assert!(ok, "{out}");
    let req_der = std::fs::read(&req).unwrap();
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD.encode(&req_der);
    let encoded = b64
        .replace('/', "%2F")
        .replace('+', "%2B")
        .replace('=', "%3D");
    let (st, head, body) = get(&srv.http, &format!("/ocsp/{encoded}"));
    assert_eq!(st, 200);
    assert!(
        head.contains("content-type: application/ocsp-response"),
        "{head}"
    );
    assert!(head.contains("cache-control: max-age="), "{head}");
    assert_eq!(
        body,
        std::fs::read(&resp1).unwrap(),
        "GET and POST answer the same bytes"
    );
    let (st, _, body2) = post(&srv.http, "/ocsp", "application/ocsp-request", &req_der);
    assert_eq!((st, &body2), (200, &body));
    // The default nonce mode ignores a nonce (RFC 8954 §2.1): the pre-signed response,
    // which carries none.
    let (ok, out) = tool(
        "openssl",
        &[
            "ocsp",
            "-issuer",
            &iss,
            "-cert",
            &pem,
            "-url",
            &url,
            "-CAfile",
            &root,
            "-verify_other",
            &iss,
        ],
    );
    assert!(
        ok && out.contains(": good") && out.contains("WARNING: no nonce in response"),
        "{out}"
    );

    // Bad input: garbage, truncated, bad base64, another issuer, a serial never issued.
    let (_, head, b) = post(&srv.http, "/ocsp", "application/ocsp-request", b"garbage");
    assert_eq!(b, unsigned(1), "malformedRequest");
    assert!(head.contains("cache-control: no-store"), "{head}");
    let (_, _, b) = post(
        &srv.http,
        "/ocsp",
        "application/ocsp-request",
        &req_der[..req_der.len() / 2],
    );
    assert_eq!(b, unsigned(1));
    assert_eq!(get(&srv.http, "/ocsp/%%%not-base64").2, unsigned(1));
    let (st, _, _) = post(
        &srv.http,
        "/ocsp",
        "application/ocsp-request",
        &vec![0x30; 64 * 1024],
    );
    assert_eq!(st, 413, "a huge request is refused before it is read");
    let (ok, out) = tool(
        "openssl",
        &[
            "ocsp",
            "-issuer",
            &iss,
            "-serial",
            "0x0102030405",
            "-url",
            &url,
            "-no_nonce",
        ],
    );
    assert!(!ok || out.contains("unauthorized"), "{out}");
    assert!(out.contains("unauthorized"), "an unknown serial: {out}");
    let (_, out) = tool(
        "openssl",
        &[
            "ocsp",
            "-issuer",
            &root,
            "-cert",
            &pem,
            "-url",
            &url,
            "-no_nonce",
        ],
    );
    assert!(out.contains("unauthorized"), "another issuer: {out}");

    // A revocation committed by another process: OCSP says revoked at once.
    let app = env.app().await;
    crate::serve::revoke_elsewhere(&app, &serial).await;
    let started = Instant::now();
    loop {
        let (ok, out) = openssl_ocsp(&url, &iss, &root, &pem, &["-sha256"]);
        if out.contains(": revoked") {
            assert!(ok && out.contains("Response verify OK"), "{out}");
            assert!(out.contains("Reason: keyCompromise"), "{out}");
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "the revocation did not reach OCSP: {out}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let (ok, out) = openssl_ocsp(&url, &iss, &root, &pem, &[]);
    assert!(ok && out.contains(": revoked"), "SHA-1 too: {out}");
}

/// Issue 10's lost-card story, the telephone way: a card in use → the support center
/// takes the call (`kmn card emergency-revoke`, the card number typed loosely) → OCSP
/// says revoked (keyCompromise) and the CRL lists the serial; the evidence has the call's
/// time, the revocation time and the first CRL that listed it.
#[tokio::test]
async fn art11_lost_card_story_by_phone_reaches_ocsp_and_the_crl() {
    let env = Env::new();
    let srv = start(&env);
    let pass = std::fs::read_to_string(env.data_dir().join("secrets/ca-passphrase")).unwrap();
    let env = env.env("KMN_CA_PASSPHRASE", pass.trim());
    let app = env.app().await;
    // The demo's desk card (窓口 花子), in use.
    let card = crate::serve::demo_desk_card(&app).await;
    let serial = card.cert_serial_hex.clone().unwrap();
    let pem = env.path("card.pem");
    std::fs::write(&pem, env.ok(&["cert", "show", "--pem", &serial])).unwrap();
    let root = env.pem_of(&env.repo("kmn-root-g1.crt"), "cert");
    let iss = env.pem_of(&env.repo("kmn-issuing-g1.crt"), "cert");
    let (root, iss, pem) = (
        root.to_str().unwrap().to_string(),
        iss.to_str().unwrap().to_string(),
        pem.to_str().unwrap().to_string(),
    );
    let url = format!("{}/ocsp", srv.http);
    let started = Instant::now();
    loop {
        let (_, out) = openssl_ocsp(&url, &iss, &root, &pem, &[]);
        if out.contains(": good") {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(10), "{out}");
        std::thread::sleep(Duration::from_millis(100));
    }
    // The call: refused without how identity was checked, then taken.
    let typed = format!("{}-{}", &card.id[..5], &card.id[5..]).to_lowercase();
    let o = env.run(&[
        "card",
        "emergency-revoke",
        &typed,
        "--reason",
        "lost",
        "--caller",
        "本人",
        "--callback",
        "090-0000-0000",
        "--identity-check",
        "",
    ]);
    crate::support::assert_fails(&o, 1, "本人確認の方法");
    let out = env.ok(&[
        "card",
        "emergency-revoke",
        &typed,
        "--reason",
        "lost",
        "--caller",
        "窓口 花子（本人）",
        "--callback",
        "090-0000-0000",
        "--identity-check",
        "生年月日と勤務先施設名を確認",
        "--note",
        "駅で紛失",
    ]);
    assert!(
        out.contains("ただちに失効させました") && out.contains("事後確認") && out.contains("CRL #"),
        "{out}"
    );
    let revoked_at = Instant::now();
    loop {
        let (ok, out) = openssl_ocsp(&url, &iss, &root, &pem, &["-sha256"]);
        if out.contains(": revoked") {
            assert!(ok && out.contains("Reason: keyCompromise"), "{out}");
            break;
        }
        assert!(
            revoked_at.elapsed() < Duration::from_secs(5),
            "OCSP did not see it: {out}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let (_, _, crl) = get(&srv.http, "/repo/kmn-issuing-g1.crl");
    assert!(
        crate::serve::crl_lists(&crl, &serial),
        "the CRL lists the serial"
    );
    // The evidence (第23条3).
    let mut tx = app.store_for_tests().read().await.unwrap();
    let c = tx.certificate(&serial).await.unwrap().unwrap();
    tx.rollback().await.unwrap();
    let r = c.revocation.unwrap();
    assert_eq!(r.grounds.as_deref(), Some("emergency:lost"));
    assert_eq!(r.channel.as_deref(), Some("phone"));
    assert!(r.request_received_at.unwrap() <= r.revoked_at);
    assert!(r.first_crl_number.is_some() && r.first_crl_published_at.is_some());
    let shown = env.ok(&["cert", "show", &serial]);
    assert!(
        shown.contains("grounds      emergency:lost (緊急失効（紛失）)")
            && shown.contains("channel      phone (電話受付（サポートセンター）)")
            && shown.contains("article      第11条"),
        "{shown}"
    );
    // The evidence record has every timestamp; the receipt verifies (issue 10 item 6).
    crate::evidence::wait_for_complete_evidence(&app, &serial, revoked_at).await;
    let receipt = env.path("receipt.p7m");
    env.ok(&[
        "cert",
        "receipt",
        &serial,
        "--out",
        receipt.to_str().unwrap(),
    ]);
    let v = env.ok(&[
        "receipt",
        "verify",
        receipt.to_str().unwrap(),
        "--root",
        &root,
    ]);
    assert!(v.contains(&serial) && v.contains("[phone]"), "{v}");
}

/// The signer loop's pass and the request path on both backends (issue 10 item 5): a new
/// certificate gets its responses in one pass, a revocation makes them stale and the next
/// pass answers `revoked`; an unknown serial is `unauthorized`.
async fn presigned_story(w: &crate::api_fixture::World) {
    use kmn_app::ca::ocsp;
    let (_, _, serial) = w.issued_card(&w.nurse_a).await;
    let responders = ocsp::load(&w.app).await.unwrap();
    assert!(ocsp::refresh(&w.app, &responders).await.unwrap() >= 1);
    let req = request_for(w, &serial).await;
    let a = ocsp::answer(&w.app, &responders, &req).await;
    assert_eq!(a.outcome, "good", "{a:?}");
    crate::serve::revoke_elsewhere(&w.app, &serial).await;
    ocsp::refresh(&w.app, &responders).await.unwrap();
    let a = ocsp::answer(&w.app, &responders, &req).await;
    assert_eq!(a.outcome, "revoked", "{a:?}");
    let parsed = kmn_pki::ocsp::parse_response(&a.der).unwrap();
    assert!(
        matches!(
            parsed.single.unwrap().status,
            Some(kmn_pki::ocsp::CertStatus::Revoked {
                reason: kmn_domain::RevocationReason::KeyCompromise,
                ..
            })
        ),
        "a revoked response"
    );
    let a = ocsp::answer(&w.app, &responders, &request_for(w, "0102030405").await).await;
    assert_eq!(a.outcome, "unauthorized");
}

#[tokio::test]
async fn issue10_presigned_responses_follow_a_revocation() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("ra.db").display());
    presigned_story(&crate::api_fixture::World::new(&url).await).await;
}

#[tokio::test]
async fn issue10_presigned_responses_follow_a_revocation_postgres() {
    if let Some(url) = crate::support::pg_url("ocsp_presigned").await {
        presigned_story(&crate::api_fixture::World::new(&url).await).await;
    }
}

/// A request for `serial` under the World's active issuing CA.
async fn request_for(w: &crate::api_fixture::World, serial: &str) -> Vec<u8> {
    let iss = active_issuing(w).await.cert_der;
    let hashes = kmn_pki::ocsp::IssuerHashes::from_cert(&iss).unwrap();
    let id = kmn_pki::ocsp::CertId::new(
        kmn_pki::ocsp::HashAlg::Sha256,
        &hashes,
        &hex::decode(serial).unwrap(),
    );
    kmn_pki::ocsp::request_der(&id)
}

/// Issue 10 item 5: a `good` response is signed in the issuance commit and a `revoked`
/// one in the revocation's — the very next request answers without the signer loop.
async fn presigned_in_commit_story(w: &crate::api_fixture::World) {
    use kmn_app::ca::ocsp;
    let responders = std::sync::Arc::new(ocsp::load(&w.app).await.unwrap());
    ocsp::install_presigner(&w.app, &responders);
    let (_, _, serial) = w.issued_card(&w.nurse_a).await;
    let req = request_for(w, &serial).await;
    let a = ocsp::answer(&w.app, &responders, &req).await;
    assert_eq!(a.outcome, "good", "signed in the issuance commit: {a:?}");
    crate::serve::revoke_elsewhere(&w.app, &serial).await;
    let a = ocsp::answer(&w.app, &responders, &req).await;
    assert_eq!(
        a.outcome, "revoked",
        "signed in the revocation's commit: {a:?}"
    );
    // Nothing was left for the signer loop to do for it.
    let mut tx = w.app.store_for_tests().read().await.unwrap();
    let stale = tx
        .ocsp_changed_since(&active_issuing(w).await.name, 0, w.app.now(), 1000)
        .await
        .unwrap();
    tx.rollback().await.unwrap();
    assert!(
        stale
            .iter()
            .all(|(d, stale)| d.serial_hex != serial || !stale),
        "{stale:?}"
    );
}

async fn active_issuing(w: &crate::api_fixture::World) -> kmn_store::CaRecord {
    let mut tx = w.app.store_for_tests().read().await.unwrap();
    let ca = tx
        .active_ca(kmn_store::CaKind::Issuing)
        .await
        .unwrap()
        .unwrap();
    tx.rollback().await.unwrap();
    ca
}

#[tokio::test]
async fn issue10_ocsp_presigned_in_the_issuance_and_revocation_commits() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("ra.db").display());
    presigned_in_commit_story(&crate::api_fixture::World::new(&url).await).await;
}

#[tokio::test]
async fn issue10_ocsp_presigned_in_the_issuance_and_revocation_commits_postgres() {
    if let Some(url) = crate::support::pg_url("ocsp_presign_commit").await {
        presigned_in_commit_story(&crate::api_fixture::World::new(&url).await).await;
    }
}

/// Issue 10 item 5: the OCSP signer is rotated at notAfter − (validity + re-signing
/// time); every stored response is signed again by the new signer, by the instance that
/// holds the CA's work lease only; no response outlives its signer.
async fn rotation_story(w: &crate::api_fixture::World) {
    use kmn_app::ca::ocsp;
    let ca = active_issuing(w).await.name;
    let a = ocsp::load(&w.app).await.unwrap();
    let b = ocsp::load(&w.app).await.unwrap();
    let (_, _, card) = w.issued_card(&w.nurse_a).await;
    let operator_der =
        crate::api_fixture::cert_for(&w.app, "運用 次郎", kmn_domain::ProfileKind::Operator).await;
    let operator = kmn_pki::parse::cert(&operator_der)
        .unwrap()
        .tbs
        .serial_hex();
    let serials = [card, operator];
    // Instance a signs them; b, without the lease, signs nothing meanwhile.
    assert!(ocsp::refresh(&w.app, &a).await.unwrap() >= 2);
    assert_eq!(
        ocsp::refresh(&w.app, &b).await.unwrap(),
        0,
        "b does not hold the lease"
    );
    let old = a.current()[0].clone();
    assert_eq!(
        ocsp::rotate_if_due(&w.app, &a).await.unwrap(),
        None,
        "not due yet"
    );
    // The rotation's time: the old signer's notAfter − (96 h + 24 h).
    let due_at = ocsp::rotation_due_at(old.not_after, &w.app);
    w.clock
        .set(time::OffsetDateTime::from_unix_timestamp(due_at + 1).unwrap());
    // a's lease ran out long ago: b takes the work over, rotates and re-signs.
    let new = ocsp::rotate_if_due(&w.app, &b)
        .await
        .unwrap()
        .expect("rotated");
    assert_ne!(new, old.signer_name);
    assert_eq!(ocsp::reload(&w.app, &b).await.unwrap(), vec![new.clone()]);
    assert_eq!(
        ocsp::rotate_if_due(&w.app, &b).await.unwrap(),
        None,
        "one rotation"
    );
    let mut passes = 0;
    loop {
        ocsp::refresh(&w.app, &b).await.unwrap();
        let mut tx = w.app.store_for_tests().read().await.unwrap();
        let left = tx.ocsp_count_signed_by_other(&ca, &new).await.unwrap();
        tx.rollback().await.unwrap();
        if left == 0 {
            break;
        }
        passes += 1;
        assert!(
            passes < 20,
            "{left} responses still signed by the old signer"
        );
    }
    let mut tx = w.app.store_for_tests().read().await.unwrap();
    let outliving = tx.ocsp_outliving_signer(&ca).await.unwrap();
    tx.rollback().await.unwrap();
    assert!(outliving.is_empty(), "{outliving:?}");
    // The answers carry the new signer's certificate.
    let new_cert = {
        let mut tx = w.app.store_for_tests().read().await.unwrap();
        let cas = tx.list_cas().await.unwrap();
        tx.rollback().await.unwrap();
        cas.into_iter().find(|c| c.name == new).unwrap().cert_der
    };
    for serial in &serials {
        let ans = ocsp::answer(&w.app, &b, &request_for(w, serial).await).await;
        assert_eq!(ans.outcome, "good", "{ans:?}");
        assert!(
            ans.der
                .windows(new_cert.len())
                .any(|x| x == new_cert.as_slice()),
            "signed by the new signer"
        );
    }
}

#[tokio::test]
async fn issue10_ocsp_signer_rotation_resigns_every_stored_response() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("ra.db").display());
    rotation_story(&crate::api_fixture::World::new(&url).await).await;
}

#[tokio::test]
async fn issue10_ocsp_signer_rotation_resigns_every_stored_response_postgres() {
    if let Some(url) = crate::support::pg_url("ocsp_rotation").await {
        rotation_story(&crate::api_fixture::World::new(&url).await).await;
    }
}

/// RFC 8954 with `[ca] ocsp_nonce = "echo"` (here `KMN_OCSP_NONCE=echo`): a request with a
/// nonce gets a response signed for it that echoes the nonce — `openssl ocsp` checks the
/// nonce and the signature, pkilint passes it — and no cache may keep it; a nonce of more
/// than 32 octets is `malformedRequest`; a request without a nonce gets the pre-signed
/// response as before.
#[tokio::test]
async fn rfc8954_echo_mode_signs_a_response_echoing_the_nonce() {
    let env = Env::new().env("KMN_OCSP_NONCE", "echo");
    let srv = start(&env);
    let pass = std::fs::read_to_string(env.data_dir().join("secrets/ca-passphrase")).unwrap();
    let env = env.env("KMN_CA_PASSPHRASE", pass.trim());
    let csr = env.csr("u", "p256", "/C=JP/O=Clinic/CN=Taro", &[]);
    let (pem, serial) = env.issue("u", &csr, "user-card", "3y");
    let root = env.pem_of(&env.repo("kmn-root-g1.crt"), "cert");
    let iss = env.pem_of(&env.repo("kmn-issuing-g1.crt"), "cert");
    let (root, iss, pem) = (
        root.to_str().unwrap().to_string(),
        iss.to_str().unwrap().to_string(),
        pem.to_str().unwrap().to_string(),
    );
    let url = format!("{}/ocsp", srv.http);
    // Without a nonce: the pre-signed response (once the signer loop has signed it).
    let started = Instant::now();
    let presigned = env.path("presigned.der");
    loop {
        let (ok, out) = openssl_ocsp(
            &url,
            &iss,
            &root,
            &pem,
            &["-respout", presigned.to_str().unwrap()],
        );
        if ok && out.contains(": good") {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(10), "{out}");
        std::thread::sleep(Duration::from_millis(100));
    }
    // With openssl's nonce (16 octets): echoed, verified.
    let live = env.path("live.der");
    for hash in [&[][..], &["-sha256"][..]] {
        let mut args = vec!["ocsp", "-issuer", &iss];
        args.extend_from_slice(hash);
        args.extend_from_slice(&[
            "-cert",
            &pem,
            "-url",
            &url,
            "-CAfile",
            &root,
            "-verify_other",
            &iss,
            "-respout",
            live.to_str().unwrap(),
        ]);
        let (ok, out) = tool("openssl", &args);
        assert!(
            ok && out.contains(": good")
                && out.contains("Response verify OK")
                && !out.contains("WARNING")
                && !out.contains("nonce"),
            "the nonce is echoed and verified ({hash:?}): {out}"
        );
        let (ok, text) = tool(
            "openssl",
            &[
                "ocsp",
                "-respin",
                live.to_str().unwrap(),
                "-resp_text",
                "-noverify",
            ],
        );
        assert!(ok && text.contains("OCSP Nonce"), "{text}");
        if let Some(bin) = venv_bin("lint_ocsp_response") {
            let o = std::process::Command::new(&bin)
                .args(["lint", "-s", "ERROR", "--document-format", "DER"])
                .arg(&live)
                .output()
                .unwrap();
            let out = format!(
                "{}{}",
                String::from_utf8_lossy(&o.stdout),
                String::from_utf8_lossy(&o.stderr)
            );
            assert!(
                o.status.success() && !out.contains("(ERROR)") && !out.contains("(FATAL)"),
                "pkilint: {out}"
            );
        }
    }
    assert_ne!(
        std::fs::read(&live).unwrap(),
        std::fs::read(&presigned).unwrap()
    );
    // Our own requests: a 32-octet nonce is echoed byte for byte, not cached; 33 octets
    // and an empty one are malformedRequest.
    let iss_der = kmn_pki::cert::pem_or_der(
        &std::fs::read(env.repo("kmn-issuing-g1.crt")).unwrap(),
        "CERTIFICATE",
    )
    .unwrap();
    let hashes = kmn_pki::ocsp::IssuerHashes::from_cert(&iss_der).unwrap();
    let serial_bytes = hex::decode(&serial).unwrap();
    let id = kmn_pki::ocsp::CertId::new(kmn_pki::ocsp::HashAlg::Sha1, &hashes, &serial_bytes);
    let nonce_ext = |n: &[u8]| {
        let mut v = vec![0x04, n.len() as u8];
        v.extend_from_slice(n);
        v
    };
    let ext = nonce_ext(&[0x5a; 32]);
    let (st, head, body) = post(
        &srv.http,
        "/ocsp",
        "application/ocsp-request",
        &kmn_pki::ocsp::request_der_with_nonce(&id, &ext),
    );
    assert_eq!(st, 200);
    assert!(head.contains("cache-control: no-store"), "{head}");
    assert!(
        body.windows(ext.len()).any(|w| w == ext.as_slice()),
        "the nonce is echoed"
    );
    let parsed = kmn_pki::ocsp::parse_response(&body).unwrap();
    assert_eq!(
        parsed.single.unwrap().status,
        Some(kmn_pki::ocsp::CertStatus::Good)
    );
    for bad in [
        nonce_ext(&[0x5a; 33]),
        nonce_ext(&[]),
        vec![0x02, 0x01, 0x01],
    ] {
        let (_, _, b) = post(
            &srv.http,
            "/ocsp",
            "application/ocsp-request",
            &kmn_pki::ocsp::request_der_with_nonce(&id, &bad),
        );
        assert_eq!(b, unsigned(1), "malformedRequest for {bad:02x?}");
    }
}

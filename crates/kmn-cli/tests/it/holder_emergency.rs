//! The holder's own emergency revocation (第11条, issue 10 item 2), through `kmn serve`:
//! the form's listener sends no CertificateRequest (the API's does); a wrong code and an
//! unknown card get the same answer; a cross-site post or one without a fresh form token
//! is refused; the right code revokes at once — OCSP says revoked, the CRL lists it — and
//! is spent; five wrong codes lock a card number out with the support center's number.

use std::time::{Duration, Instant};

use crate::serve::{get, start};
use crate::support::{Env, tool};

const CODE: &str = "314159265358";

fn curl(args: &[&str]) -> (bool, String) {
    tool("curl", args)
}

#[tokio::test]
async fn art11_holder_revokes_with_the_mailer_code_and_ocsp_and_crl_follow() {
    let env = Env::new();
    let srv = start(&env);
    let pass = std::fs::read_to_string(env.data_dir().join("secrets/ca-passphrase")).unwrap();
    let env = env.env("KMN_CA_PASSPHRASE", pass.trim());
    let app = env.app().await;
    // The demo desk card, given the emergency code printed on its (test) mailer.
    let card = crate::serve::demo_desk_card(&app).await;
    let serial = card.cert_serial_hex.clone().unwrap();
    {
        let pepper = kmn_app::ra::emergency::code_pepper(&app).unwrap();
        let sealed = kmn_app::ra::emergency::seal_code(&pepper, CODE).unwrap();
        assert!(sealed.starts_with("hmac1$") && !sealed.contains(CODE));
        let mut tx = app.store_for_tests().begin().await.unwrap();
        tx.set_card_revocation_code(&card.id, &sealed)
            .await
            .unwrap();
        tx.commit().await.unwrap();
    }
    let root = env.pem_of(&env.repo("kmn-root-g1.crt"), "cert");
    let root = root.to_str().unwrap().to_string();
    let base = srv.emergency.clone();
    let hostport = base.trim_start_matches("https://").to_string();

    // No CertificateRequest on the form's listener; the API's listener sends one.
    let handshake = |addr: &str| {
        let o = std::process::Command::new("openssl")
            .args(["s_client", "-connect", addr, "-msg", "-CAfile", &root])
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap();
        String::from_utf8_lossy(&o.stdout).to_string()
    };
    let form_hs = handshake(&hostport);
    assert!(form_hs.contains("Verify return code: 0"), "{form_hs}");
    assert!(!form_hs.contains("CertificateRequest"), "{form_hs}");
    let api_hs = handshake(srv.https.trim_start_matches("https://"));
    assert!(
        api_hs.contains("CertificateRequest"),
        "the API asks: {api_hs}"
    );

    // The form, in Japanese, with its token.
    let (ok, page) = curl(&["-sS", "--cacert", &root, &format!("{base}/emergency")]);
    assert!(ok && page.contains("利用者カードの緊急失効"), "{page}");
    let token = page
        .split("name=\"token\" value=\"")
        .nth(1)
        .and_then(|t| t.split('"').next())
        .expect("a form token")
        .to_string();
    let post = |fields: &[(&str, &str)], extra: &[&str]| {
        let mut args = vec![
            "-sS".to_string(),
            "-o".into(),
            "-".into(),
            "-w".into(),
            "\n%{http_code}".into(),
            "--cacert".into(),
            root.clone(),
        ];
        for (k, v) in fields {
            args.push("--data-urlencode".into());
            args.push(format!("{k}={v}"));
        }
        for e in extra {
            args.push((*e).to_string());
        }
        args.push(format!("{base}/emergency"));
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        let (_, out) = curl(&a);
        let (body, code) = out.rsplit_once('\n').unwrap();
        (code.to_string(), body.to_string())
    };
    // A wrong code and an unknown card: the same answer.
    let (st1, wrong) = post(
        &[
            ("token", &token),
            ("card_number", &card.id),
            ("code", "000000000000"),
            ("reason", "lost"),
        ],
        &[],
    );
    let (st2, unknown) = post(
        &[
            ("token", &token),
            ("card_number", "C99999998"),
            ("code", "000000000000"),
            ("reason", "lost"),
        ],
        &[],
    );
    assert_eq!((st1.as_str(), st2.as_str()), ("422", "422"));
    assert!(wrong.contains("正しくありません"), "{wrong}");
    assert_eq!(
        wrong, unknown,
        "one answer for a wrong code and an unknown card"
    );
    // Another site's form, or no fresh token: refused, nothing revoked.
    let (st, body) = post(
        &[
            ("token", &token),
            ("card_number", &card.id),
            ("code", CODE),
            ("reason", "lost"),
        ],
        &["-H", "Origin: https://evil.example"],
    );
    assert_eq!(st, "403", "{body}");
    let (st, _) = post(
        &[
            ("token", "1.00"),
            ("card_number", &card.id),
            ("code", CODE),
            ("reason", "lost"),
        ],
        &[],
    );
    assert_eq!(st, "403");
    // The JSON variant, with the right code (typed with hyphens): revoked at once.
    let typed = format!("{}-{}", &CODE[..4], &CODE[4..]);
    let (ok, out) = curl(&[
        "-sS",
        "--cacert",
        &root,
        "-H",
        "Content-Type: application/json",
        "--data",
        &format!(
            r#"{{"card_number":"{}","code":"{typed}","reason":"stolen"}}"#,
            card.id.to_lowercase()
        ),
        &format!("{base}/emergency.json"),
    ]);
    assert!(ok && out.contains(r#""status":"revoked""#), "{out}");
    let iss = env.pem_of(&env.repo("kmn-issuing-g1.crt"), "cert");
    let pem = env.path("card.pem");
    std::fs::write(&pem, env.ok(&["cert", "show", "--pem", &serial])).unwrap();
    let started = Instant::now();
    loop {
        let (_, out) = tool(
            "openssl",
            &[
                "ocsp",
                "-issuer",
                iss.to_str().unwrap(),
                "-cert",
                pem.to_str().unwrap(),
                "-url",
                &format!("{}/ocsp", srv.http),
                "-CAfile",
                &root,
                "-verify_other",
                iss.to_str().unwrap(),
                "-no_nonce",
            ],
        );
        if out.contains(": revoked") {
            assert!(out.contains("Reason: keyCompromise"), "{out}");
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(5), "{out}");
        std::thread::sleep(Duration::from_millis(50));
    }
    crate::serve::wait_until_on_crl(
        || get(&srv.http, "/repo/kmn-issuing-g1.crl").2,
        &serial,
        Instant::now(),
        Duration::from_secs(5),
        Duration::from_millis(50),
    );
    let mut tx = app.store_for_tests().read().await.unwrap();
    let c = tx.certificate(&serial).await.unwrap().unwrap();
    let spent = tx.card_revocation_code(&card.id).await.unwrap();
    tx.rollback().await.unwrap();
    let r = c.revocation.unwrap();
    assert_eq!(r.grounds.as_deref(), Some("emergency:stolen"));
    assert_eq!(r.channel.as_deref(), Some("holder"));
    assert_eq!(spent, None, "the code is single-use");
    // 第23条3: the evidence record has every timestamp, in order; the receipt verifies.
    crate::evidence::wait_for_complete_evidence(&app, &serial, started).await;
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
    assert!(
        v.contains(&serial) && v.contains("[holder]") && v.contains("[emergency:stolen]"),
        "{v}"
    );
    // Used once: the same code again is just a wrong code.
    let (st, again) = post(
        &[
            ("token", &token),
            ("card_number", &card.id),
            ("code", CODE),
            ("reason", "lost"),
        ],
        &[],
    );
    assert_eq!((st.as_str(), again.as_str()), ("422", wrong.as_str()));

    // Five wrong codes for a card number lock it out, with the center's number.
    for _ in 0..4 {
        post(
            &[
                ("token", &token),
                ("card_number", "C99999998"),
                ("code", "1"),
                ("reason", "lost"),
            ],
            &[],
        );
    }
    let (st, locked) = post(
        &[
            ("token", &token),
            ("card_number", "C99999998"),
            ("code", "1"),
            ("reason", "lost"),
        ],
        &[],
    );
    assert_eq!(st, "429", "{locked}");
    assert!(locked.contains("096-000-0000"), "{locked}");
}

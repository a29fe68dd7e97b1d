//! Operator credentials on tokens (issue 9 item 3, MHLW guideline G2: possession and
//! knowledge): `kmn account enrol` personalizes a SoftHSM2 token exactly like a holder's
//! card — key generated on the token, CSR signed there, certificate and chain written,
//! a PIN mailer — and creates the account in the same commit; renewal replaces the old
//! account and revokes its certificate; `kmn account revoke` disables an account and
//! revokes its certificate with the CRL published at once; outside `demo = true` an
//! operator account is never bound to a certificate whose key is in a file.

use crate::cards::{pin_from_mailer, pkcs11_tool, softhsm, with_softhsm};
use crate::support::{Env, assert_fails, tool};

fn json(s: &str) -> serde_json::Value {
    serde_json::from_str(s).unwrap_or_else(|e| panic!("{e}: {s}"))
}

/// The id of SoftHSM2's blank slot (after a token was initialised there are two slots).
fn blank_slot(conf: &std::path::Path) -> String {
    let o = std::process::Command::new("softhsm2-util")
        .env("SOFTHSM2_CONF", conf)
        .arg("--show-slots")
        .output()
        .expect("softhsm2-util");
    let text = String::from_utf8_lossy(&o.stdout).to_string();
    let mut slot = None;
    for line in text.lines() {
        let l = line.trim();
        // "Slot 1234" (not "Slot info:").
        if let Some(id) = l
            .strip_prefix("Slot ")
            .and_then(|s| s.trim().parse::<u64>().ok())
        {
            slot = Some(id);
        }
        if l.starts_with("Initialized:") && l.ends_with("no") {
            return slot.expect("a slot id before its token info").to_string();
        }
    }
    panic!("no blank slot: {text}")
}

/// Logs in to the token labelled `label` with `pin` and lists its objects.
fn objects(conf: &std::path::Path, m: &str, label: &str, pin: &str) -> (bool, String) {
    pkcs11_tool(
        conf,
        m,
        &[
            "--token-label",
            label,
            "--login",
            "--pin",
            pin,
            "--list-objects",
        ],
    )
}

#[tokio::test]
async fn issue9_operator_credentials_live_on_tokens() {
    let Some(module) = softhsm() else { return };
    let (env, conf) = with_softhsm(Env::new());
    env.init(&[]);
    let m = module.to_str().unwrap();

    // Outside demo mode, an operator certificate from a CSR (a key in a file) is refused.
    let csr = env.csr("op", "p256", "/C=JP/O=KMN/CN=file key", &[]);
    let (pem, _) = env.issue("op", &csr, "operator", "3y");
    let o = env.run(&[
        "account",
        "add",
        "--role",
        "operator",
        "--name",
        "ファイル鍵",
        "--cert",
        pem.to_str().unwrap(),
    ]);
    assert_fails(
        &o,
        1,
        "ICカード（トークン）上で鍵を生成した担当者証明書でのみ",
    );
    // A station is not enrolled on an operator token; a bad person id is refused before
    // any token is touched.
    let o = env.run(&[
        "account", "enrol", "--role", "station", "--name", "端末", "--person", "st1", "--module", m,
    ]);
    assert_fails(&o, 1, "サポートセンター職員");
    let o = env.run(&[
        "account",
        "enrol",
        "--role",
        "operator",
        "--name",
        "熊本 一郎",
        "--person",
        "熊本 一郎",
        "--module",
        m,
    ]);
    assert_fails(&o, 1, "人の識別子（--person）は英数字");

    // Enrol: the token is personalized, the account made, the PIN mailer written.
    let v = json(&env.ok(&[
        "account",
        "enrol",
        "--role",
        "supervisor",
        "--name",
        "熊本 一郎",
        "--person",
        "staff-01",
        "--module",
        m,
        "--json",
    ]));
    let account = v["account"]["id"].as_str().unwrap().to_string();
    let token_serial = v["token_serial"].as_str().unwrap().to_string();
    let serial = v["cert_serial_hex"].as_str().unwrap().to_string();
    assert_eq!(v["account"]["role"], "supervisor", "{v}");
    assert_eq!(v["account"]["person_id"], "staff-01", "{v}");
    assert_eq!(v["account"]["token_serial"], token_serial.as_str(), "{v}");
    let mailer = std::path::PathBuf::from(v["mailer_path"].as_str().unwrap());
    let (text, pin) = pin_from_mailer(&mailer, &[&account]);
    assert!(
        text.contains("運用担当者用ICカード") && text.contains("熊本 一郎"),
        "{text}"
    );
    assert!(!text.contains("緊急失効コード"), "{text}");

    // The key is on the token, sensitive and never extractable, with the certificate.
    let (ok, objs) = objects(&conf, m, "KMN staff-01", &pin);
    assert!(ok, "{objs}");
    assert!(
        objs.contains("Private Key Object")
            && objs.contains("never extractable")
            && objs.contains("sensitive")
            && objs.contains("Certificate Object"),
        "{objs}"
    );
    // The certificate is an operator certificate that verifies for client auth.
    let cert = env.ok(&["cert", "show", "--pem", &serial]);
    let cert_path = env.path("operator.pem");
    std::fs::write(&cert_path, cert).unwrap();
    let (ok, o) = env.verify_with_repository(
        "kmn-issuing-g1",
        &cert_path,
        &["-x509_strict", "-purpose", "sslclient"],
    );
    assert!(ok, "{o}");
    let (ok, o) = tool(
        "openssl",
        &[
            "x509",
            "-noout",
            "-subject",
            "-nameopt",
            "utf8",
            "-in",
            cert_path.to_str().unwrap(),
        ],
    );
    assert!(ok && o.contains("熊本 一郎"), "{o}");

    // `kmn account list` says where the key lives.
    let list = json(&env.ok(&["account", "list", "--json"]));
    let row = list
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["id"] == account.as_str())
        .unwrap_or_else(|| panic!("{list}"));
    assert_eq!(row["cert_profile"], "operator", "{row}");
    assert_eq!(row["key_location"]["kind"], "token", "{row}");
    assert_eq!(
        row["key_location"]["token_serial"],
        token_serial.as_str(),
        "{row}"
    );
    let text = env.ok(&["account", "list"]);
    assert!(
        text.contains(&format!("ICカード・トークン（シリアル {token_serial}）")),
        "{text}"
    );

    // That token holds a live account's key: it is never initialised again, and stays
    // as it was.
    let o = env.run(&[
        "account",
        "enrol",
        "--role",
        "supervisor",
        "--name",
        "熊本 一郎",
        "--person",
        "staff-01",
        "--module",
        m,
        "--token-label",
        "KMN staff-01",
    ]);
    assert_fails(&o, 1, "のトークンとして使用中です");
    assert!(
        objects(&conf, m, "KMN staff-01", &pin).0,
        "the token still opens with its PIN"
    );

    // Renewal on a new token: the new account in, the old one out and revoked, the CRL
    // published at once.
    let blank = blank_slot(&conf);
    let v2 = json(&env.ok(&[
        "account",
        "enrol",
        "--role",
        "supervisor",
        "--name",
        "熊本 一郎",
        "--person",
        "staff-01",
        "--module",
        m,
        "--slot",
        &blank,
        "--replaces",
        &account,
        "--json",
    ]));
    let account2 = v2["account"]["id"].as_str().unwrap().to_string();
    assert_ne!(account2, account);
    assert_eq!(v2["replaced"], account.as_str(), "{v2}");
    let list = json(&env.ok(&["account", "list", "--json"]));
    let by_id = |id: &str| {
        list.as_array()
            .unwrap()
            .iter()
            .find(|a| a["id"] == id)
            .cloned()
            .unwrap()
    };
    assert_eq!(by_id(&account)["disabled"], 1);
    assert_eq!(by_id(&account)["cert_status"], "revoked");
    assert_eq!(by_id(&account2)["disabled"], 0);
    let crl = env.pem_of(&env.repo("kmn-issuing-g1.crl"), "crl");
    let (ok, crl_text) = tool(
        "openssl",
        &["crl", "-noout", "-text", "-in", crl.to_str().unwrap()],
    );
    assert!(ok, "{crl_text}");
    assert!(
        crl_text.to_uppercase().contains(&serial.to_uppercase()) && crl_text.contains("Superseded"),
        "the old operator certificate is on the CRL: {crl_text}"
    );

    // A lost token: `kmn account revoke` disables the account and revokes at once.
    let o = env.run(&[
        "account",
        "revoke",
        &account2,
        "--reason",
        "lost",
        "--comment",
        "紛失",
    ]);
    assert_fails(&o, 1, "失効理由 'lost' は指定できません");
    let out = env.ok(&[
        "account",
        "revoke",
        &account2,
        "--reason",
        "key-compromise",
        "--comment",
        "トークン紛失の届出（本人より電話）",
    ]);
    assert!(
        out.contains("を無効にし、証明書") && out.contains("CRL #"),
        "{out}"
    );
    let list = json(&env.ok(&["account", "list", "--json"]));
    let row = list
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["id"] == account2.as_str())
        .unwrap();
    assert_eq!(row["disabled"], 1);
    assert_eq!(row["cert_status"], "revoked");
    let o = env.run(&[
        "account",
        "revoke",
        &account2,
        "--reason",
        "key-compromise",
        "--comment",
        "二度目",
    ]);
    assert_fails(&o, 1, "既に無効です");
}

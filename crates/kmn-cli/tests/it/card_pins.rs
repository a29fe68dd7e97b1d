//! Cards after personalization, through the binary on SoftHSM2: the holder changes the
//! PIN (第9条), the support center unlocks a card after an identity check (第9条), a
//! card lost in the post is revoked, comes back and is wiped (第8・15条), and a batch
//! personalizes one card per token.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};

use crate::cards::{
    approved_applications, more_approved_applications, pin_from_mailer, pkcs11_tool, softhsm,
    with_softhsm,
};
use crate::support::{Env, assert_fails, tool};

/// A personalized card: the `personalize --json` answer, its token label and initial PIN.
struct Card {
    v: serde_json::Value,
    id: String,
    label: String,
    pin: String,
    mailer: PathBuf,
}

/// Personalizes the application on the only token present (SoftHSM's blank slot).
fn personalize(env: &Env, module: &str, application: &str) -> Card {
    let out = env.ok(&[
        "card",
        "personalize",
        "--module",
        module,
        "--application",
        application,
        "--json",
    ]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["card"]["state"], "personalized", "{v}");
    let id = v["card"]["id"].as_str().unwrap().to_string();
    let holder = v["card"]["holder_id"].as_str().unwrap().to_string();
    let mailer = PathBuf::from(v["pin_mailer"].as_str().unwrap());
    let (_, pin) = pin_from_mailer(&mailer, &[&holder, &id]);
    Card {
        label: format!("KMN {holder}"),
        id,
        pin,
        mailer,
        v,
    }
}

/// Whether the PIN logs in to the token (pkcs11-tool --login --list-objects).
fn logs_in(conf: &Path, module: &str, label: &str, pin: &str) -> bool {
    pkcs11_tool(
        conf,
        module,
        &[
            "--token-label",
            label,
            "--login",
            "--pin",
            pin,
            "--list-objects",
        ],
    )
    .0
}

/// Runs `kmn` with `input` on standard input.
fn run_with_stdin(env: &Env, args: &[&str], input: &str) -> Output {
    let mut child = env
        .cmd(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run kmn");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn card_json(env: &Env, card: &str) -> serde_json::Value {
    serde_json::from_str(&env.ok(&["card", "show", card, "--json"])).unwrap()
}

fn contains_bytes(hay: &[u8], needle: &str) -> bool {
    hay.windows(needle.len()).any(|w| w == needle.as_bytes())
}

#[tokio::test]
async fn art9_holder_changes_pin_from_files_and_stdin() {
    let Some(module) = softhsm() else { return };
    let m = module.to_str().unwrap();
    let (env, conf) = with_softhsm(Env::new());
    let id = approved_applications(&env, &[("阿蘇 花子", "アソ ハナコ", "Hanako Aso")])
        .await
        .remove(0);
    let c = personalize(&env, m, &id);
    assert!(logs_in(&conf, m, &c.label, &c.pin));

    // From files: the current PIN (the mailer's) and a new one.
    let (f, g) = (env.path("pin"), env.path("new-pin"));
    std::fs::write(&f, format!("{}\n", c.pin)).unwrap();
    std::fs::write(&g, "24681357\n").unwrap();
    {
        // Issue 8 item 11: a PIN file that others may read is refused, and nothing changes.
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o644)).unwrap();
        std::fs::set_permissions(&g, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let from_files = |f: &Path, g: &Path| {
        env.run(&[
            "card",
            "change-pin",
            "--module",
            m,
            "--token-label",
            &c.label,
            "--pin-file",
            f.to_str().unwrap(),
            "--new-pin-file",
            g.to_str().unwrap(),
        ])
    };
    let o = from_files(&f, &g);
    assert_fails(
        &o,
        1,
        "他の利用者からも読み書きできる設定です（モード 0644）",
    );
    assert_fails(&o, 1, "chmod 600");
    assert!(
        logs_in(&conf, m, &c.label, &c.pin),
        "the PIN changed anyway"
    );
    crate::support::write_secret(&f, &format!("{}\n", c.pin));
    let o = from_files(&f, &g);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("PINを変更しました"), "{out}");
    assert!(!out.contains("24681357") && !out.contains(&c.pin), "{out}");
    assert!(
        !logs_in(&conf, m, &c.label, &c.pin),
        "the old PIN still logs in"
    );
    assert!(logs_in(&conf, m, &c.label, "24681357"));

    // From standard input: line 1 the current PIN, line 2 the new one.
    let cp = [
        "card",
        "change-pin",
        "--module",
        m,
        "--token-label",
        &c.label,
    ];
    let o = run_with_stdin(&env, &cp, "24681357\n97531864\n");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(!logs_in(&conf, m, &c.label, "24681357"));
    assert!(logs_in(&conf, m, &c.label, "97531864"));

    // A wrong current PIN: a clear Japanese error, exit 1, and the PIN is unchanged.
    let o = run_with_stdin(&env, &cp, "11112222\n33334444\n");
    assert_fails(&o, 1, "PINが違います");
    assert_fails(&o, 1, "E_TOKEN_WRONG_PIN");
    std::fs::write(&f, "11112222\n").unwrap();
    let o = from_files(&f, &g);
    assert_fails(&o, 1, "PINが違います");
    assert!(logs_in(&conf, m, &c.label, "97531864"));
    assert!(!logs_in(&conf, m, &c.label, "33334444"));
    assert!(!logs_in(&conf, m, &c.label, "24681357"));

    // One line only, and the same PIN twice: refused before the card is touched.
    let o = run_with_stdin(&env, &cp, "97531864\n");
    assert_fails(&o, 1, "2行目に新しいPINがありません");
    let o = run_with_stdin(&env, &cp, "97531864\n97531864\n");
    assert_fails(&o, 1, "新しいPINが現在のPINと同じです");

    // PINs never come from arguments: clap has no --pin.
    let o = env.run(&[
        "card",
        "change-pin",
        "--module",
        m,
        "--token-label",
        &c.label,
        "--pin",
        "97531864",
        "--new-pin-file",
        g.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2), "{o:?}");
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("unexpected argument '--pin'"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(logs_in(&conf, m, &c.label, "97531864"));
}

#[tokio::test]
async fn art9_unlock_after_identity_check_sets_new_pin_and_mailer() {
    let Some(module) = softhsm() else { return };
    let m = module.to_str().unwrap();
    let (env, conf) = with_softhsm(Env::new());
    let id = approved_applications(&env, &[("山田 太郎", "ヤマダ タロウ", "Taro Yamada")])
        .await
        .remove(0);
    let c = personalize(&env, m, &id);
    env.ok(&["card", "ship", &c.id, "--method", "簡易書留"]);
    env.ok(&[
        "card",
        "receipt",
        &c.id,
        "--channel",
        "phone",
        "--note",
        "阿蘇クリニック 窓口の佐藤様より電話",
    ]);

    // Without a usable identity check the card is not touched.
    for bad in ["", "   ", "済", "確認\u{7}済み"] {
        let o = env.run(&[
            "card",
            "unlock",
            "--module",
            m,
            "--token-label",
            &c.label,
            "--identity-check",
            bad,
        ]);
        assert_fails(&o, 1, "--identity-check");
    }
    let o = env.run(&["card", "unlock", "--module", m, "--token-label", &c.label]);
    assert_eq!(o.status.code(), Some(2), "--identity-check is required");
    assert!(logs_in(&conf, m, &c.label, &c.pin));

    let check = "運転免許証で本人確認（山田）";
    let out = env.ok(&[
        "card",
        "unlock",
        "--module",
        m,
        "--token-label",
        &c.label,
        "--identity-check",
        check,
        "--json",
    ]);
    let u: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(u["card"]["id"], c.id.as_str(), "{u}");
    let mailer = PathBuf::from(u["pin_mailer"].as_str().unwrap());
    assert_ne!(mailer, c.mailer, "a new PIN mailer");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&mailer).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let holder = c.v["card"]["holder_id"].as_str().unwrap();
    let (text, pin) = pin_from_mailer(&mailer, &[holder, &c.id]);
    assert!(
        text.contains("新しいPIN")
            && text.contains("ロック解除")
            && !text.contains("初期PIN")
            && !text.contains("受領を確認")
            && text.contains("山田")
            && text.contains(&c.id),
        "{text}"
    );
    assert_ne!(pin, c.pin);
    assert!(!out.contains(&pin), "the PIN is only in the mailer");
    assert!(logs_in(&conf, m, &c.label, &pin));
    assert!(
        !logs_in(&conf, m, &c.label, &c.pin),
        "the old PIN still logs in"
    );

    // The mailer is on record, released (the card was received), and listed.
    let v = card_json(&env, &c.id);
    let ms = v["pin_mailers"].as_array().unwrap();
    let new = ms
        .iter()
        .find(|x| x["id"] == u["pin_mailer_id"])
        .expect("the unlock mailer on record");
    assert_eq!(new["purpose"], "unlock");
    assert_eq!(new["state"], "released");

    // The audit log: the unlock with the identity check, never the PIN; the chain holds.
    {
        let app = env.app().await;
        let mut tx = app.store_for_tests().begin().await.unwrap();
        let ev = tx.audit_events(Some("card.unlock")).await.unwrap();
        tx.rollback().await.unwrap();
        assert_eq!(ev.len(), 1);
        assert!(ev[0].summary.contains(check), "{}", ev[0].summary);
        assert!(ev[0].summary.contains(&c.id), "{}", ev[0].summary);
        assert!(!ev[0].summary.contains(&pin), "{}", ev[0].summary);
    }
    let out = env.ok(&["audit", "verify"]);
    assert!(!out.is_empty());
    let db = std::fs::read(env.data_dir().join("kmn.db")).unwrap();
    let wal = std::fs::read(env.data_dir().join("kmn.db-wal")).unwrap_or_default();
    for bytes in [&db, &wal] {
        assert!(
            !contains_bytes(bytes, &pin),
            "the new PIN must not be stored"
        );
        assert!(
            !contains_bytes(bytes, &c.pin),
            "the old PIN must not be stored"
        );
    }
}

#[tokio::test]
async fn art15_lost_card_returned_and_destroyed_wipes_token() {
    let Some(module) = softhsm() else { return };
    let m = module.to_str().unwrap();
    let (env, conf) = with_softhsm(Env::new());
    let id = approved_applications(&env, &[("阿蘇 花子", "アソ ハナコ", "Hanako Aso")])
        .await
        .remove(0);
    let c = personalize(&env, m, &id);
    let serial = c.v["card"]["cert_serial_hex"].as_str().unwrap().to_string();
    let token_serial = c.v["token_serial"].as_str().unwrap().to_string();
    env.ok(&[
        "card",
        "ship",
        &c.id,
        "--method",
        "簡易書留",
        "--tracking",
        "1234-5678-9012",
    ]);
    let out = env.ok(&[
        "card",
        "lost-in-post",
        &c.id,
        "--note",
        "配送業者より紛失の連絡（追跡番号 1234-5678-9012）",
    ]);
    assert!(
        out.contains("鍵の危殆化（紛失・盗難を含む）") && !out.contains("keyCompromise"),
        "the reason in Japanese (issue 12): {out}"
    );
    // 第16条: the command published the CRL itself (the after-commit effect; no server
    // runs here) and says so.
    assert!(
        out.contains("CRL #") && out.contains("を公開しました"),
        "{out}"
    );

    // The certificate is revoked; the unsent PIN mailer is destroyed, file and all.
    let v = card_json(&env, &c.id);
    assert_eq!(v["card"]["state"], "lost", "{v}");
    assert_eq!(v["certificate_status"], "revoked", "{v}");
    let ms = v["pin_mailers"].as_array().unwrap();
    assert_eq!(ms.len(), 1, "{v}");
    assert_eq!(ms[0]["state"], "destroyed", "{v}");
    assert!(!c.mailer.exists(), "the mailer file is gone");
    assert!(!Path::new(ms[0]["file_name"].as_str().unwrap()).exists());

    // The repository's CRL lists it as Key Compromise as soon as the command returned.
    let crl = std::fs::read_dir(env.data_dir().join("repo"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| {
            let n = p.file_name().unwrap().to_string_lossy();
            n.contains("issuing") && n.ends_with(".crl")
        })
        .expect("the issuing CA's CRL in the repository");
    let (ok, text) = tool(
        "openssl",
        &[
            "crl",
            "-inform",
            "DER",
            "-noout",
            "-text",
            "-in",
            crl.to_str().unwrap(),
        ],
    );
    assert!(ok, "{text}");
    let want = serial.trim_start_matches('0').to_uppercase();
    let entry = text
        .split("Serial Number:")
        .find(|e| {
            e.trim()
                .trim_start_matches('0')
                .to_uppercase()
                .starts_with(&want)
        })
        .unwrap_or_else(|| panic!("serial {serial} not in the CRL:\n{text}"));
    assert!(entry.contains("Key Compromise"), "{entry}");

    // A lost card cannot be destroyed before it is back (第15条).
    let o = env.run(&["card", "destroy", &c.id]);
    assert_fails(&o, 1, "廃棄できません");
    assert_fails(&o, 1, "返却済みのカードのみ");

    let out = env.ok(&["card", "returned", &c.id, "--note", "郵便局で発見され返送"]);
    assert!(out.contains("返却を記録しました"), "{out}");
    assert_eq!(card_json(&env, &c.id)["card"]["state"], "returned");

    // The wrong token on the reader: refused, and that token is untouched.
    let o = std::process::Command::new("softhsm2-util")
        .env("SOFTHSM2_CONF", &conf)
        .args([
            "--init-token",
            "--free",
            "--label",
            "other card",
            "--so-pin",
            "1111111111111111",
            "--pin",
            "12345678",
        ])
        .output()
        .expect("softhsm2-util");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let o = env.run(&[
        "card",
        "destroy",
        &c.id,
        "--module",
        m,
        "--token-label",
        "other card",
    ]);
    assert_fails(&o, 1, &format!("利用者カード {} ではありません", c.id));
    assert!(logs_in(&conf, m, "other card", "12345678"));
    assert_eq!(card_json(&env, &c.id)["card"]["state"], "returned");
    assert!(logs_in(&conf, m, &c.label, &c.pin), "the card is untouched");

    // The right token: wiped with its SO PIN, then recorded.
    let out = env.ok(&[
        "card",
        "destroy",
        &c.id,
        "--module",
        m,
        "--token-label",
        &c.label,
    ]);
    assert!(out.contains("消去済み"), "{out}");
    let v = card_json(&env, &c.id);
    assert_eq!(v["card"]["state"], "destroyed", "{v}");
    let (_, slots) = pkcs11_tool(&conf, m, &["--list-token-slots"]);
    assert!(!slots.contains(&c.label), "{slots}");
    assert!(slots.contains("KMN destroyed"), "{slots}");
    assert!(slots.contains(&token_serial), "{slots}");
    let (ok, objs) = pkcs11_tool(
        &conf,
        m,
        &["--token-label", "KMN destroyed", "--list-objects"],
    );
    assert!(ok, "{objs}");
    assert!(
        !objs.contains("Object") && !objs.contains("label"),
        "no objects are left: {objs}"
    );
    assert!(!logs_in(&conf, m, "KMN destroyed", &c.pin));

    // Destroyed is final.
    let o = env.run(&["card", "destroy", &c.id]);
    assert_fails(&o, 1, "廃棄できません");
}

/// `n` blank cards on the reader (wiped back to blank, [`kmn_token::BLANK_LABEL`], their
/// SO PIN the one personalization derives from the serial), besides SoftHSM's free slot.
pub(crate) fn blank_tokens(conf: &Path, module: &str, master: &str, n: usize) {
    for _ in 0..n {
        crate::cards::blank_card(conf, module, master);
    }
}

/// The labels of the personalized tokens on the reader ("KMN H…").
fn card_labels(conf: &Path, module: &str) -> Vec<String> {
    let (ok, out) = pkcs11_tool(conf, module, &["--list-token-slots"]);
    assert!(ok, "{out}");
    out.lines()
        .filter_map(|l| {
            l.trim()
                .strip_prefix("token label")
                .map(|r| r.trim_start_matches([' ', ':']).trim())
        })
        .filter(|l| l.starts_with("KMN H"))
        .map(str::to_string)
        .collect()
}

#[tokio::test]
async fn personalize_batch_personalizes_one_card_per_token() {
    let Some(module) = softhsm() else { return };
    let m = module.to_str().unwrap();
    let master = "0123456789abcdef0123456789abcdef";
    let (env, conf) = with_softhsm(Env::new());
    let env = env.env("KMN_SO_PIN_MASTER", master);
    let ids = approved_applications(
        &env,
        &[
            ("阿蘇 花子", "アソ ハナコ", "Hanako Aso"),
            ("山田 太郎", "ヤマダ タロウ", "Taro Yamada"),
            ("佐藤 一郎", "サトウ イチロウ", "Ichiro Sato"),
            ("鈴木 次郎", "スズキ ジロウ", "Jiro Suzuki"),
        ],
    )
    .await;
    // Three tokens on the reader: two initialised blanks and SoftHSM's free slot.
    blank_tokens(&conf, m, master, 2);

    // Four approved applications, three cards: the oldest three are personalized and the
    // summary says one is left over.
    let out = env.ok(&["card", "personalize-batch", "--module", m]);
    assert!(out.contains("一括発行: 3 枚発行、0 件失敗"), "{out}");
    assert!(
        out.contains("カードが足りないため 1 件は未発行です"),
        "{out}"
    );
    assert!(out.contains("所要時間の内訳: カード"), "{out}");
    for id in &ids[..3] {
        assert!(out.contains(&format!("発行 申請 {id} → カード")), "{out}");
    }
    assert!(!out.contains(&format!("申請 {} →", ids[3])), "{out}");
    let first = card_labels(&conf, m);
    assert_eq!(first.len(), 3, "{first:?}");

    // A personalized card left on the reader is never wiped for another application.
    let o = env.run(&[
        "card",
        "personalize",
        "--module",
        m,
        "--token-label",
        &first[0],
        "--application",
        &ids[3],
    ]);
    assert_fails(&o, 1, "発行済みです");
    let (ok, objs) = pkcs11_tool(&conf, m, &["--token-label", &first[0], "--list-objects"]);
    assert!(ok && objs.contains("Certificate Object"), "{objs}");

    // The cards are taken out, three more applications approved and three blank cards
    // put in: the JSON answer has one entry per card with its timings.
    for l in &first {
        let o = std::process::Command::new("softhsm2-util")
            .env("SOFTHSM2_CONF", &conf)
            .args(["--delete-token", "--token", l])
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    let more = more_approved_applications(
        &env,
        &[
            ("高橋 三郎", "タカハシ サブロウ", "Saburo Takahashi"),
            ("田中 四郎", "タナカ シロウ", "Shiro Tanaka"),
            ("伊藤 五郎", "イトウ ゴロウ", "Goro Ito"),
        ],
    )
    .await;
    blank_tokens(&conf, m, master, 2);
    let o = env.run(&["card", "personalize-batch", "--module", m, "--json"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let done = v["personalized"].as_array().unwrap();
    assert_eq!(done.len(), 3, "{v}");
    assert_eq!(v["failed"].as_array().unwrap().len(), 0, "{v}");
    assert_eq!(v["not_issued"], serde_json::json!([more[2]]), "{v}");
    let issued: Vec<&str> = done
        .iter()
        .map(|d| d["application"].as_str().unwrap())
        .collect();
    assert_eq!(
        issued,
        [ids[3].as_str(), more[0].as_str(), more[1].as_str()]
    );
    for d in done {
        for k in ["token_ms", "pdf_ms", "total_ms"] {
            assert!(d[k].as_f64().unwrap() > 0.0, "{k}: {d}");
        }
        assert!(
            d["total_ms"].as_f64().unwrap()
                >= d["token_ms"].as_f64().unwrap() + d["pdf_ms"].as_f64().unwrap(),
            "{d}"
        );
    }
    for k in ["token_s", "pdf_s", "rest_s", "elapsed_s"] {
        assert!(v[k].as_f64().unwrap() > 0.0, "{k}: {v}");
    }

    // Each token has its own key and certificate, matching its card.
    let mut spkis = std::collections::HashSet::new();
    let mut token_serials = std::collections::HashSet::new();
    for d in done {
        let card = d["card"].as_str().unwrap();
        let c = card_json(&env, card);
        assert_eq!(c["card"]["state"], "personalized", "{c}");
        assert_eq!(c["card"]["token_serial"], d["token_serial"], "{c}");
        assert!(token_serials.insert(d["token_serial"].as_str().unwrap().to_string()));
        let holder = c["card"]["holder_id"].as_str().unwrap();
        let label = format!("KMN {holder}");
        let i: serde_json::Value = serde_json::from_str(&env.ok(&[
            "card",
            "inspect",
            "--module",
            m,
            "--token-label",
            &label,
            "--json",
        ]))
        .unwrap();
        assert_eq!(i["card"]["id"], card, "{i}");
        let cert_serial = c["card"]["cert_serial_hex"].as_str().unwrap();
        let certs = i["certificates"].as_array().unwrap();
        assert!(certs.iter().any(|x| x["serial"] == cert_serial), "{i}");
        let public_keys = i["objects"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|o| o["class"] == "public_key")
            .count();
        assert_eq!(public_keys, 1, "one key pair on the card: {i}");
        let cert_path = env.path(&format!("{card}.pem"));
        std::fs::write(&cert_path, env.ok(&["cert", "show", "--pem", cert_serial])).unwrap();
        let (ok, spki) = tool(
            "openssl",
            &[
                "x509",
                "-in",
                cert_path.to_str().unwrap(),
                "-noout",
                "-pubkey",
            ],
        );
        assert!(ok, "{spki}");
        assert!(spkis.insert(spki), "each card has its own key");
        let mailer = PathBuf::from(d["pin_mailer"].as_str().unwrap());
        let (_, pin) = pin_from_mailer(&mailer, &[holder, card]);
        let (ok, objs) = pkcs11_tool(
            &conf,
            m,
            &[
                "--token-label",
                &label,
                "--login",
                "--pin",
                &pin,
                "--list-objects",
            ],
        );
        assert!(ok, "{objs}");
        assert_eq!(objs.matches("Private Key Object").count(), 1, "{objs}");
    }
}

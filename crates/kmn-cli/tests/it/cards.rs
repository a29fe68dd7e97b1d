//! Cards on a real PKCS#11 token (SoftHSM2): personalization through the binary, the
//! key made and kept on the card, the certificate and chain written, the PIN mailer in
//! Japanese, and the PIN nowhere else (R1, 第7–9条).

use crate::support::{Env, assert_fails, in_ci, tool};

pub(crate) fn softhsm() -> Option<std::path::PathBuf> {
    match kmn_token::find_softhsm2_module() {
        Some(m) => Some(m),
        _ if in_ci() => panic!("SoftHSM2 is required in CI (apt-get install softhsm2 opensc)"),
        _ => {
            eprintln!("SKIP: SoftHSM2 not installed");
            None
        }
    }
}

/// A SoftHSM2 configuration of the test's own (tokens in its temp dir); returns the env
/// with `SOFTHSM2_CONF` set, and the configuration's path.
pub(crate) fn with_softhsm(env: Env) -> (Env, std::path::PathBuf) {
    let tokens = env.path("tokens");
    std::fs::create_dir_all(&tokens).unwrap();
    let conf = env.path("softhsm2.conf");
    std::fs::write(
        &conf,
        format!(
            "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\n",
            tokens.display()
        ),
    )
    .unwrap();
    let env = env.env("SOFTHSM2_CONF", conf.to_str().unwrap());
    (env, conf)
}

/// Runs `pkcs11-tool` against the SoftHSM2 configuration; returns (success, stdout+stderr).
pub(crate) fn pkcs11_tool(conf: &std::path::Path, module: &str, args: &[&str]) -> (bool, String) {
    let o = std::process::Command::new("pkcs11-tool")
        .env("SOFTHSM2_CONF", conf)
        .arg("--module")
        .arg(module)
        .args(args)
        .output()
        .expect("pkcs11-tool (Debian opensc)");
    (
        o.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        ),
    )
}

/// Runs `softhsm2-util` against the SoftHSM2 configuration; returns its stdout.
pub(crate) fn softhsm_util(conf: &std::path::Path, args: &[&str]) -> String {
    let o = std::process::Command::new("softhsm2-util")
        .env("SOFTHSM2_CONF", conf)
        .args(args)
        .output()
        .expect("softhsm2-util (Debian softhsm2)");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Initialises SoftHSM's free token with `label` and the SO PIN `so_pin` (a user PIN is
/// set too); returns its slot id (as softhsm2-util reports the reassignment).
pub(crate) fn init_token(conf: &std::path::Path, label: &str, so_pin: &str) -> String {
    let out = softhsm_util(
        conf,
        &[
            "--init-token",
            "--free",
            "--label",
            label,
            "--so-pin",
            so_pin,
            "--pin",
            "12345678",
        ],
    );
    out.rsplit("reassigned to slot ")
        .next()
        .map(|s| s.trim().to_string())
        .filter(|s| s.parse::<u64>().is_ok())
        .unwrap_or_else(|| panic!("no slot in: {out}"))
}

/// The serial of the token in slot `slot` (softhsm2-util --show-slots).
pub(crate) fn token_serial_of(conf: &std::path::Path, slot: &str) -> String {
    let out = softhsm_util(conf, &["--show-slots"]);
    let mut in_slot = false;
    for line in out.lines() {
        let line = line.trim();
        if let Some(id) = line
            .strip_prefix("Slot ")
            .filter(|id| id.trim().parse::<u64>().is_ok())
        {
            in_slot = id.trim() == slot;
        } else if in_slot && let Some(s) = line.strip_prefix("Serial number:") {
            return s.trim().to_string();
        }
    }
    panic!("no serial for slot {slot} in: {out}")
}

/// A card wiped back to blank as the station leaves it after a failed personalization:
/// labelled [`kmn_token::BLANK_LABEL`], its SO PIN derived from its serial with the
/// center's `master` secret. Returns (slot id, token serial).
pub(crate) fn blank_card(conf: &std::path::Path, module: &str, master: &str) -> (String, String) {
    let transient = "1111111111111111";
    let slot = init_token(conf, kmn_token::BLANK_LABEL, transient);
    let serial = token_serial_of(conf, &slot);
    let so_pin = kmn_token::SoPinDeriver::new(master.as_bytes().to_vec())
        .unwrap()
        .so_pin(&serial)
        .unwrap();
    let (ok, o) = pkcs11_tool(
        conf,
        module,
        &[
            "--slot",
            &slot,
            "--login",
            "--login-type",
            "so",
            "--so-pin",
            transient,
            "--change-pin",
            "--new-pin",
            so_pin.expose(),
        ],
    );
    assert!(ok, "{o}");
    (slot, serial)
}

/// The text of a PIN mailer (pdftotext) and the 8-digit PIN in it: the only 8-digit
/// number that is not the digits of one of `ids` (the holder and card ids, "H…", "C…").
pub(crate) fn pin_from_mailer(mailer: &std::path::Path, ids: &[&str]) -> (String, String) {
    let (ok, text) = tool("pdftotext", &["-layout", mailer.to_str().unwrap(), "-"]);
    assert!(ok, "{text}");
    let ids: Vec<&str> = ids.iter().map(|i| &i[1..]).collect();
    let pin = text
        .split(|c: char| !c.is_ascii_digit())
        .find(|t| t.len() == 8 && !ids.contains(t))
        .expect("an 8-digit PIN in the mailer")
        .to_string();
    (text, pin)
}

/// A data dir with an approved new-card application; returns its id.
pub(crate) async fn approved_application(env: &Env) -> String {
    approved_applications(env, &[("阿蘇 花子", "アソ ハナコ", "Hanako Aso")])
        .await
        .remove(0)
}

/// A data dir (`kmn ca init`) with the documents, one clinic that has consented, and an
/// approved new-card application per holder (kanji, kana, romaji), oldest first; returns
/// the application ids.
pub(crate) async fn approved_applications(
    env: &Env,
    holders: &[(&str, &str, &str)],
) -> Vec<String> {
    env.init(&[]);
    let app = env.app().await;
    let admin = kmn_app::rights::CaAdmin::local(Some("test"));
    for kind in ["cps", "terms", "privacy_policy"] {
        kmn_app::ra::documents::publish(&app, &admin.center(), kind, "1", "d.txt", b"x".to_vec())
            .await
            .unwrap();
    }
    let code = crate::api_fixture::facility_code(1, 555);
    kmn_app::ra::facilities::register(
        &app,
        &admin.center(),
        &kmn_app::ra::facilities::FacilityInput {
            code: code.clone(),
            kind: "clinic".into(),
            name_kanji: "阿蘇クリニック".into(),
            name_kana: "アソクリニック".into(),
            name_romaji: "Aso Clinic".into(),
            postal_code: "8600806".into(),
            address: "熊本県阿蘇市".into(),
            phone: "0967000000".into(),
            email: "aso@example.jp".into(),
        },
    )
    .await
    .unwrap();
    for kind in ["cps", "terms", "privacy_policy"] {
        kmn_app::ra::facilities::consent(&app, &admin.registrar(), &code, kind, "1", "窓口")
            .await
            .unwrap();
    }
    more_approved_applications(env, holders).await
}

/// More approved applications in a data dir made by [`approved_applications`].
pub(crate) async fn more_approved_applications(
    env: &Env,
    holders: &[(&str, &str, &str)],
) -> Vec<String> {
    more_approved_applications_as(env, holders, false).await
}

/// A data dir with an approved new-card application of a member of the clinic's desk
/// staff (第17条), whose card can log in to a desk account; returns its id.
pub(crate) async fn approved_desk_application(env: &Env) -> String {
    approved_applications(env, &[]).await;
    more_approved_applications_as(env, &[("阿蘇 花子", "アソ ハナコ", "Hanako Aso")], true)
        .await
        .remove(0)
}

/// [`more_approved_applications`], the holders being desk staff when `desk`.
pub(crate) async fn more_approved_applications_as(
    env: &Env,
    holders: &[(&str, &str, &str)],
    desk: bool,
) -> Vec<String> {
    let app = env.app().await;
    let admin = kmn_app::rights::CaAdmin::local(Some("test")).registrar();
    let code = crate::api_fixture::facility_code(1, 555);
    let mut ids = Vec::new();
    for (kanji, kana, romaji) in holders {
        let mut input = crate::api_fixture::person_input(&code, kanji, kana, romaji, "nurse", true);
        input.is_desk = desk;
        let (p, _) = kmn_app::ra::persons::register(&app, &admin, &input)
            .await
            .unwrap();
        let a = kmn_app::ra::applications::create(
            &app,
            &admin,
            &kmn_app::ra::applications::ApplicationInput {
                facility_code: code.clone(),
                holder_id: p.holder_id,
                kind: "new".into(),
                validity_years: Some(5),
                ..Default::default()
            },
        )
        .await
        .unwrap();
        for act in [
            kmn_domain::ApplicationAction::Submit,
            kmn_domain::ApplicationAction::Approve,
        ] {
            // Separation of duties: someone else approves what was filed.
            let who = if act == kmn_domain::ApplicationAction::Approve {
                kmn_app::rights::CaAdmin::local(Some("cli:supervisor")).registrar()
            } else {
                admin.clone()
            };
            kmn_app::ra::applications::act(&app, &who, &a.id, act, None)
                .await
                .unwrap();
        }
        ids.push(a.id);
    }
    ids
}

#[tokio::test]
async fn r1_art7_art9_personalize_a_card_on_a_token() {
    let Some(module) = softhsm() else { return };
    let (env, conf) = with_softhsm(Env::new());
    let id = approved_application(&env).await;
    let m = module.to_str().unwrap();
    let out = env.ok(&[
        "card",
        "personalize",
        "--module",
        m,
        "--application",
        &id,
        "--json",
    ]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["card"]["state"], "personalized", "{v}");
    assert_eq!(v["application"]["state"], "fulfilled");
    let serial = v["card"]["cert_serial_hex"].as_str().unwrap().to_string();
    assert!(!v["token_serial"].as_str().unwrap().is_empty());

    // The personalization is in the audit log, with the card's fulfilment.
    {
        let app = env.app().await;
        let mut tx = app.store_for_tests().begin().await.unwrap();
        let ev = tx.audit_events(Some("card.personalize")).await.unwrap();
        tx.rollback().await.unwrap();
        assert_eq!(ev.len(), 1);
        assert!(
            ev[0].summary.contains(v["token_serial"].as_str().unwrap()),
            "{}",
            ev[0].summary
        );
    }

    // The PIN mailer: Japanese, mode 0600, with the holder's name and the initial PIN.
    let mailer = std::path::PathBuf::from(v["pin_mailer"].as_str().unwrap());
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&mailer).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let (text, pin) = pin_from_mailer(
        &mailer,
        &[
            v["card"]["holder_id"].as_str().unwrap(),
            v["card"]["id"].as_str().unwrap(),
        ],
    );
    assert!(text.contains("阿蘇") && text.contains("初期PIN"), "{text}");

    // The key is on the card, sensitive and never extractable; the certificate is there too.
    let label = format!("KMN {}", v["card"]["holder_id"].as_str().unwrap());
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
    assert!(
        objs.contains("Private Key Object")
            && objs.contains("never extractable")
            && objs.contains("sensitive"),
        "{objs}"
    );
    assert!(objs.contains("Certificate Object"), "{objs}");
    let out = env.ok(&["card", "inspect", "--module", m, "--token-label", &label]);
    assert!(
        out.contains(&serial)
            && out.contains("状態 有効")
            && !out.contains("valid")
            && out.contains("発行済み"),
        "{out}"
    );

    // The PIN is nowhere but in the mailer: not in the database, the audit log or the output.
    let db = std::fs::read(env.data_dir().join("kmn.db")).unwrap();
    let wal = std::fs::read(env.data_dir().join("kmn.db-wal")).unwrap_or_default();
    for bytes in [&db, &wal] {
        assert!(
            !bytes.windows(pin.len()).any(|w| w == pin.as_bytes()),
            "the PIN must not be stored"
        );
    }
    assert!(!out.contains(&pin));

    // The chain on the card verifies with OpenSSL against the root.
    let cert = env.ok(&["cert", "show", "--pem", &serial]);
    let cert_path = env.path("card.pem");
    std::fs::write(&cert_path, cert).unwrap();
    let root = env.pem_of(&env.repo("kmn-root-g1.crt"), "cert");
    let iss = env.pem_of(&env.repo("kmn-issuing-g1.crt"), "cert");
    let (ok, o) = tool(
        "openssl",
        &[
            "verify",
            "-x509_strict",
            "-purpose",
            "sslclient",
            "-CAfile",
            root.to_str().unwrap(),
            "-untrusted",
            iss.to_str().unwrap(),
            cert_path.to_str().unwrap(),
        ],
    );
    assert!(ok, "{o}");

    // The same application cannot be personalized twice; the card is left alone.
    let o = env.run(&["card", "personalize", "--module", m, "--application", &id]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("発行できる状態ではありません"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let out = env.ok(&["card", "inspect", "--module", m, "--token-label", &label]);
    assert!(
        out.contains(&serial),
        "the card still holds its certificate: {out}"
    );
}

/// Without `--token-label` or `--slot` (issue 12, docs/OPERATOR.ja.md §8): `card inspect`
/// takes only an initialised card (never SoftHSM's free, uninitialised slot), `card
/// personalize` only a blank card (uninitialised, or wiped back to「KMN blank」), never a
/// card in use; when several remain the error lists each one (slot, label, serial) and
/// nothing on the reader is touched, so no SO PIN is ever tried on a guess.
#[tokio::test]
async fn issue12_art7_cards_without_a_label_blank_slot_is_not_a_candidate_and_several_are_listed() {
    let Some(module) = softhsm() else { return };
    let m = module.to_str().unwrap();
    let master = "issue12 master secret 0123456789";
    let (env, conf) = with_softhsm(Env::new());
    let env = env.env("KMN_SO_PIN_MASTER", master);
    let ids = approved_applications(
        &env,
        &[
            ("阿蘇 花子", "アソ ハナコ", "Hanako Aso"),
            ("菊池 次郎", "キクチ ジロウ", "Jiro Kikuchi"),
        ],
    )
    .await;

    // Only SoftHSM's free slot: nothing to inspect, and the error says what is there.
    let o = env.run(&["card", "inspect", "--module", m]);
    assert_fails(&o, 1, "(E_TOKEN_NOT_FOUND)");
    assert_fails(&o, 1, "初期化済みのカード");

    // The free slot is the one blank card: personalized without naming it.
    let v: serde_json::Value = serde_json::from_str(&env.ok(&[
        "card",
        "personalize",
        "--module",
        m,
        "--application",
        &ids[0],
        "--json",
    ]))
    .unwrap();
    let first_serial = v["token_serial"].as_str().unwrap().to_string();
    let first_label = format!("KMN {}", v["card"]["holder_id"].as_str().unwrap());

    // One initialised card and the free slot: inspect takes the card, not the free slot.
    let out = env.ok(&["card", "inspect", "--module", m]);
    assert!(
        out.contains(&first_serial) && out.contains(&first_label),
        "{out}"
    );

    // A second initialised token (another center's card, its SO PIN not ours): two cards
    // for inspect, listed with slot, label and serial; the free slot is not among them.
    let other_slot = init_token(&conf, "other card", "2222222222222222");
    let other_serial = token_serial_of(&conf, &other_slot);
    let o = env.run(&["card", "inspect", "--module", m]);
    assert_fails(&o, 1, "(E_TOKEN_AMBIGUOUS)");
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert_eq!(err.matches("(E_").count(), 1, "one code: {err}");
    assert!(
        err.lines().next().unwrap().ends_with("(E_TOKEN_AMBIGUOUS)"),
        "the code ends the first line, the cards follow: {err}"
    );
    for want in [
        format!("ラベル「{first_label}」  シリアル {first_serial}"),
        format!("スロット {other_slot}  ラベル「other card」  シリアル {other_serial}"),
        "--token-label".to_string(),
        "--slot".to_string(),
    ] {
        assert!(err.contains(&want), "expected '{want}' in: {err}");
    }
    assert!(
        !err.contains("未初期化"),
        "the free slot is no candidate: {err}"
    );
    let out = env.ok(&["card", "inspect", "--module", m, "--slot", &other_slot]);
    assert!(out.contains(&other_serial), "{out}");

    // Personalize: the two cards in use are never candidates, the free slot is the only
    // blank card and is taken.
    let v: serde_json::Value = serde_json::from_str(&env.ok(&[
        "card",
        "personalize",
        "--module",
        m,
        "--application",
        &ids[1],
        "--json",
    ]))
    .unwrap();
    let second_serial = v["token_serial"].as_str().unwrap().to_string();
    assert!(
        second_serial != first_serial && second_serial != other_serial,
        "{v}"
    );

    // Two cards wiped back to blank and the free slot: three blank cards. Personalize
    // lists them and touches none (labels and SO PINs as they were).
    let more =
        more_approved_applications(&env, &[("山鹿 三郎", "ヤマガ サブロウ", "Saburo Yamaga")])
            .await;
    let (blank1, blank1_serial) = blank_card(&conf, m, master);
    let (blank2, blank2_serial) = blank_card(&conf, m, master);
    let o = env.run(&[
        "card",
        "personalize",
        "--module",
        m,
        "--application",
        &more[0],
    ]);
    assert_fails(&o, 1, "(E_TOKEN_AMBIGUOUS)");
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    for want in [
        format!("スロット {blank1}  ラベル「KMN blank」  シリアル {blank1_serial}"),
        format!("スロット {blank2}  ラベル「KMN blank」  シリアル {blank2_serial}"),
        "未初期化のカード".to_string(),
    ] {
        assert!(err.contains(&want), "expected '{want}' in: {err}");
    }
    for in_use in [&first_label, "other card"] {
        assert!(
            !err.contains(in_use),
            "a card in use is no candidate: {err}"
        );
    }
    let (ok, slots) = pkcs11_tool(&conf, m, &["--list-token-slots"]);
    assert!(ok, "{slots}");
    assert_eq!(slots.matches("KMN blank").count(), 2, "{slots}");
    let a = serde_json::from_str::<serde_json::Value>(&env.ok(&[
        "application",
        "show",
        &more[0],
        "--json",
    ]))
    .unwrap();
    assert_eq!(a["application"]["state"], "approved", "nothing issued: {a}");

    // The operator picks one from the list: it is personalized with its own SO PIN.
    let v: serde_json::Value = serde_json::from_str(&env.ok(&[
        "card",
        "personalize",
        "--module",
        m,
        "--slot",
        &blank2,
        "--application",
        &more[0],
        "--json",
    ]))
    .unwrap();
    assert_eq!(v["token_serial"], blank2_serial.as_str(), "{v}");
}

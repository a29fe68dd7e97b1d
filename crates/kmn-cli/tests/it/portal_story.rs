//! Issue 12's whole story in a real browser (tests/browser/story.test.js): Chromium
//! through playwright-core against the real `kmn up` (SQLite), with a SoftHSM token for
//! the personalization. The support center enters a paper application with its scan and
//! returns it with deficiencies (第6条2); the desk reads the notice, attaches the
//! corrected form and resubmits; a second person of the center approves (第6条1, the one
//! who entered it is refused); `kmn card personalize` writes the card on SoftHSM and the
//! PIN mailer (第7条); the center ships it; the desk confirms receipt with the serial in
//! upper case with hyphens and hands it over (第8条1); the holder, on a phone-sized
//! screen without a certificate, follows the public repository page's link to the
//! emergency form and revokes the card with the code read from the mailer (第11条); the
//! revocation and its evidence are on the card page of the desk and of the center
//! (第23条3). Then the database is checked here: the application's rounds, the card, the
//! revocation, the CRL and the signed receipt.

use crate::portal::{browser_tools, kmn_up};
use crate::support::{Env, tool};

/// A one-page PDF with a few lines of text, as a scanner would make of a form (the
/// use case checks the `%PDF-` signature; Chromium's viewer shows the text).
fn scan_pdf(lines: &[&str]) -> Vec<u8> {
    let mut content = String::from("BT /F1 16 Tf 72 770 Td ");
    for l in lines {
        content.push_str(&format!("({l}) Tj 0 -26 Td "));
    }
    content.push_str("ET");
    let objects = [
        "<< /Type /Catalog /Pages 2 0 R >>".to_string(),
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_string(),
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>".to_string(),
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>".to_string(),
        format!(
            "<< /Length {} >>\nstream\n{content}\nendstream",
            content.len()
        ),
    ];
    let mut pdf = b"%PDF-1.4\n".to_vec();
    let mut offsets = Vec::new();
    for (i, o) in objects.iter().enumerate() {
        offsets.push(pdf.len());
        pdf.extend_from_slice(format!("{} 0 obj\n{o}\nendobj\n", i + 1).as_bytes());
    }
    let xref = pdf.len();
    pdf.extend_from_slice(
        format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes(),
    );
    for o in offsets {
        pdf.extend_from_slice(format!("{o:010} 00000 n \n").as_bytes());
    }
    pdf.extend_from_slice(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            objects.len() + 1
        )
        .as_bytes(),
    );
    pdf
}

/// The whole story of issue 12 in Chromium (see the module documentation); numbered
/// screenshots of every step under `target/portal-screenshots/story/`, axe-core on every
/// page (forms showing their errors included).
///
/// Headless Chromium sometimes routes a click to the PDF viewer's frame of a page that
/// shows a scan (the story presses those buttons with the keyboard, which made it pass
/// 31 runs in 32): when the browser part fails, the whole story runs once more from a
/// fresh data dir and server, and must pass then; both outputs are printed.
#[tokio::test]
async fn issue12_whole_story_in_chromium() {
    let Some(dir) = browser_tools() else { return };
    let Some(module) = crate::cards::softhsm() else {
        return;
    };
    if let Err(first) = story_once(&dir, &module).await {
        eprintln!(
            "the story's browser part failed once; running it again from the start:\n{first}"
        );
        if let Err(second) = story_once(&dir, &module).await {
            panic!("the story failed twice:\n{second}");
        }
    }
}

/// One run of the story from a fresh data dir: Err(the browser's output) when the browser
/// part fails; the checks of the database after it are assertions.
async fn story_once(dir: &std::path::Path, module: &std::path::Path) -> Result<(), String> {
    let (env, _conf) = crate::cards::with_softhsm(Env::new());
    let up = kmn_up(&env);
    let app = env.app().await;
    let demo = env.data_dir().join("demo");
    let admin = kmn_app::rights::CaAdmin::local(Some("cli:story-test"));
    let facility = kmn_app::quickstart::demo_facility_code();
    // The demo facility's nurse: no card yet; the paper application is theirs.
    let nurse = kmn_app::ra::persons::list(&app, &admin.reader(), &facility, None, 100)
        .await
        .unwrap()
        .into_iter()
        .find(|p| p.profession == "nurse")
        .unwrap();
    let work = env.path("story");
    std::fs::create_dir_all(&work).unwrap();
    let scan = work.join("paper-form.pdf");
    std::fs::write(
        &scan,
        scan_pdf(&[
            "Kumamoto Medical Network - user card application (scan)",
            "Facility: Kumamoto Demo Hospital",
            "Applicant: Taro Kango (nurse)",
        ]),
    )
    .unwrap();
    let corrected = work.join("paper-form-corrected.pdf");
    std::fs::write(
        &corrected,
        scan_pdf(&[
            "Kumamoto Medical Network - user card application (corrected)",
            "Facility telephone: 096-000-0000",
            "Attached: copy of the nursing licence",
        ]),
    )
    .unwrap();
    let out_file = work.join("story.json");
    let artifacts = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../target/portal-screenshots/story");
    let _ = std::fs::remove_dir_all(&artifacts);

    // Node gets what `kmn` gets (the data dir, SOFTHSM2_CONF, …) to personalize the card,
    // but the CA passphrase: `kmn up` made its own (in the data dir's secrets).
    let mut node = std::process::Command::new("node");
    for (k, v) in env.cmd(&[]).get_envs() {
        match v {
            Some(v) => node.env(k, v),
            None => node.env_remove(k),
        };
    }
    let started = std::time::Instant::now();
    let out = node
        .env_remove("KMN_CA_PASSPHRASE")
        .arg("story.test.js")
        .current_dir(dir)
        .env("KMN_PORTAL_URL", format!("https://{}", up.https))
        .envs(crate::portal::demo_logins(&demo))
        .env("KMN_FACILITY", &facility)
        .env("KMN_HOLDER", &nurse.holder_id)
        .env("KMN_HOLDER_NAME", &nurse.name_kanji)
        .env("KMN_PAPER_SCAN", &scan)
        .env("KMN_CORRECTED_SCAN", &corrected)
        .env("KMN_BIN", env!("CARGO_BIN_EXE_kmn"))
        .env("KMN_SOFTHSM_MODULE", module)
        .env("KMN_STORY_OUT", &out_file)
        .env("KMN_ARTIFACTS", &artifacts)
        .output()
        .expect("node");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!("{text}");
    eprintln!("the story took {:?} in the browser", started.elapsed());
    if !out.status.success() || !text.contains("all browser checks passed") {
        return Err(text);
    }
    let story: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&out_file).unwrap()).unwrap();
    let (app_id, card_id) = (
        story["application"].as_str().unwrap(),
        story["card"].as_str().unwrap(),
    );

    // The application's whole history, in the database: entered and filed by the
    // operator, returned by the operator, resubmitted by the desk, approved by the
    // supervisor, fulfilled by the personalization; both scans attached.
    let account = |role: &str| {
        let pem = std::fs::read_to_string(demo.join(format!("{role}.pem"))).unwrap();
        let der = crate::portal::der_of_pem(&pem);
        let app = &app;
        async move {
            kmn_app::actor::authenticate(app, &der)
                .await
                .unwrap()
                .account_id()
                .to_string()
        }
    };
    let (operator, supervisor, desk) = (
        account("operator").await,
        account("supervisor").await,
        account("facility_desk").await,
    );
    let (a, rounds, docs) = kmn_app::ra::applications::get(&app, &admin.reader(), app_id)
        .await
        .unwrap();
    assert_eq!(a.state, "fulfilled");
    assert_eq!(a.created_by, operator);
    assert_eq!(a.card_id.as_deref(), Some(card_id));
    let history: Vec<(&str, &str)> = rounds
        .iter()
        .map(|r| (r.action.as_str(), r.actor.as_str()))
        .collect();
    assert_eq!(
        history[..4],
        [
            ("submit", operator.as_str()),
            ("return", operator.as_str()),
            ("resubmit", desk.as_str()),
            ("approve", supervisor.as_str()),
        ],
        "{history:?}"
    );
    assert_eq!(history.len(), 5, "{history:?}");
    assert_eq!(history[4].0, "fulfil", "{history:?}");
    let returned = rounds[1].deficiencies.as_deref().unwrap();
    assert!(
        returned.contains("免許証の写しを添付してください")
            && returned.contains("施設の電話番号が記入されていません"),
        "{returned}"
    );
    assert_eq!(docs.len(), 2, "the scan and the corrected form");
    assert!(docs.iter().all(|d| d.size > 0));

    // The card: shipped, received at the desk, handed over to the nurse, then lost and
    // revoked by its holder through the emergency form.
    let v = kmn_app::ra::delivery::view(&app, &admin.reader(), card_id)
        .await
        .unwrap();
    assert_eq!(v.card.state, "lost");
    assert_eq!(v.certificate_status.as_deref(), Some("revoked"));
    assert_eq!(
        v.card.token_serial.as_deref(),
        story["token_serial"].as_str()
    );
    assert_eq!(v.delivery.receipt_channel.as_deref(), Some("desk"));
    assert_eq!(
        v.delivery.handed_over_to.as_deref(),
        Some(nurse.name_kanji.as_str())
    );
    let mailers: Vec<&str> = v.pin_mailers.iter().map(|m| m.state.as_str()).collect();
    assert_eq!(
        mailers,
        ["dispatched"],
        "the PIN mailer was sent after the receipt"
    );
    assert!(v.delivery.shipped_at.unwrap() <= v.delivery.received_at.unwrap());
    assert!(v.delivery.received_at.unwrap() <= v.delivery.handed_over_at.unwrap());
    let serial = v.card.cert_serial_hex.clone().unwrap();
    let e = kmn_app::ca::evidence::load(&app, &admin.reader(), &serial)
        .await
        .unwrap();
    assert_eq!(e.channel.as_deref(), Some("holder"));
    assert_eq!(e.grounds.as_deref(), Some("emergency:lost"));
    assert_eq!(
        e.requested_by.as_deref(),
        Some(format!("holder:{}", nurse.holder_id).as_str())
    );
    assert!(e.first_crl_number.is_some() && e.first_ocsp_at.is_some());

    // The CRL in the repository lists the serial; the receipt the center saved from the
    // portal verifies.
    let crl = env.pem_of(&env.repo("kmn-issuing-g1.crl"), "crl");
    let (ok, crl_text) = tool(
        "openssl",
        &["crl", "-noout", "-text", "-in", crl.to_str().unwrap()],
    );
    assert!(ok, "{crl_text}");
    let listed: Vec<String> = crl_text
        .lines()
        .filter_map(|l| l.trim().strip_prefix("Serial Number: "))
        .map(|s| s.trim().trim_start_matches('0').to_ascii_lowercase())
        .collect();
    assert!(
        listed.contains(&serial.trim_start_matches('0').to_string()),
        "{serial} not in the CRL: {listed:?}"
    );
    let receipt = work.join("revocation-receipt.p7m");
    let mut verify = env.cmd(&["receipt", "verify", receipt.to_str().unwrap()]);
    let o = verify.env_remove("KMN_CA_PASSPHRASE").output().unwrap();
    let said = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "{said}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(
        said.contains(&serial) && said.contains("利用者本人"),
        "{said}"
    );

    // Every step has its screenshot.
    let shots = std::fs::read_dir(&artifacts)
        .unwrap()
        .filter_map(Result::ok)
        .filter(|f| f.file_name().to_string_lossy().ends_with(".png"))
        .count();
    assert!(
        shots >= 20,
        "{shots} screenshots in {}",
        artifacts.display()
    );
    drop(up);
    Ok(())
}

//! Renders the letters (PIN mailers, the share sheet) and reads them back with `pdftotext`
//! (poppler-utils); each is kept with its pages as PNG (`pdftoppm`) under `target/letters/`.
//! Skips loudly when the font or pdftotext is missing, but fails when `CI=true`.

use std::process::Command;

use kmn_letters::{Font, MailerKind, PinMailer, ShareSheet, pin_mailer_pdf, share_sheet_pdf};

fn in_ci() -> bool {
    std::env::var("CI").as_deref() == Ok("true")
}

fn skip(why: &str) {
    assert!(!in_ci(), "CI=true, so this must not be skipped: {why}");
    eprintln!("\n*** SKIPPED pin_mailer test: {why} ***\n");
}

fn mailer() -> PinMailer {
    PinMailer {
        kind: kmn_letters::MailerKind::UserCard,
        holder_name_kanji: "山田 花子".into(),
        holder_id: "U-0012345".into(),
        facility_name_kanji: "医療法人 青葉会 みなと中央病院".into(),
        facility_code: "1312345678".into(),
        card_id: "KMN-2026-000123".into(),
        initial_pin: "482916".into(),
        emergency_revocation_code: "7QF4-K2MX-9TRB".into(),
        issued_on: time::macros::date!(2026 - 11 - 26),
        valid_until: Some(time::macros::date!(2031 - 11 - 25)),
        support_phone: "0120-123-456".into(),
    }
}

#[test]
fn pin_mailer_renders_and_reads_back() {
    let font = match Font::load_default() {
        Ok(f) => f,
        Err(e) => return skip(&format!("font missing: {e}")),
    };
    let m = mailer();
    let pdf = pin_mailer_pdf(&font, &m).expect("render");
    assert!(pdf.starts_with(b"%PDF"), "not a PDF");
    assert!(
        pdf.len() < 200 * 1024,
        "PDF is {} bytes: font subsetting is not working",
        pdf.len()
    );
    eprintln!("PIN mailer PDF size: {} bytes", pdf.len());

    let Some(text) = pdf_text(&pdf, "user-card.pdf") else {
        return;
    };
    for needle in [
        m.holder_name_kanji.as_str(),
        "初期PIN",
        &m.initial_pin,
        &m.emergency_revocation_code,
        "2026年11月26日",
        &m.support_phone,
        &m.card_id,
        "利用規約第9条",
        "利用規約第11条",
    ] {
        // Do not print the text on failure: it holds the (test) secrets; name the item only.
        assert!(
            text.contains(needle),
            "pdftotext output lacks an expected item ({needle})"
        );
    }
}

/// Issue 9 item 3: an operator token's mailer names the token and the account, carries the
/// PIN, and has no emergency code (a lost operator token is reported to the supervisor).
#[test]
fn issue9_operator_token_mailer_has_the_pin_and_no_emergency_code() {
    let font = match Font::load_default() {
        Ok(f) => f,
        Err(e) => return skip(&format!("font missing: {e}")),
    };
    let m = PinMailer {
        kind: kmn_letters::MailerKind::OperatorToken,
        holder_name_kanji: "熊本 一郎".into(),
        holder_id: "staff-0007".into(),
        facility_name_kanji: "熊本県医師会 認証局".into(),
        facility_code: String::new(),
        card_id: "U000012".into(),
        initial_pin: "90817263".into(),
        emergency_revocation_code: String::new(),
        issued_on: time::macros::date!(2026 - 12 - 7),
        valid_until: None,
        support_phone: "096-000-0000".into(),
    };
    let pdf = pin_mailer_pdf(&font, &m).expect("render");
    let Some(text) = pdf_text(&pdf, "operator-token.pdf") else {
        return;
    };
    for needle in [
        "運用担当者用ICカード",
        "熊本 一郎",
        "U000012",
        "90817263",
        "2026年12月7日",
        "認証局の運用責任者",
    ] {
        assert!(text.contains(needle), "operator mailer lacks {needle}");
    }
    assert!(
        !text.contains("緊急失効コード"),
        "an operator token has no emergency code"
    );
    assert!(
        !text.contains("利用者カード"),
        "an operator token is not a holder's card"
    );
}

/// Where the letters go as test artifacts: `target/letters/` (the PDF and its pages as
/// PNG, to look at), or `KMN_LETTERS_KEEP_DIR`.
fn artifacts_dir() -> std::path::PathBuf {
    let dir = std::env::var_os("KMN_LETTERS_KEEP_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/letters")
        });
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// `pdftotext -layout` of a PDF, or None (skipped) when poppler-utils is missing. The PDF
/// is kept under [`artifacts_dir`] and rendered there to PNG by `pdftoppm` (one file per
/// page, `<name>-1.png`…): each page must come out as a non-trivial picture.
fn pdf_text(pdf: &[u8], name: &str) -> Option<String> {
    let dir = artifacts_dir();
    let path = dir.join(name);
    std::fs::write(&path, pdf).unwrap();
    let text = match Command::new("pdftotext")
        .arg("-layout")
        .arg(&path)
        .arg("-")
        .output()
    {
        Ok(o) if o.status.success() => String::from_utf8(o.stdout).expect("utf-8"),
        _ => {
            skip("pdftotext not runnable; apt-get install poppler-utils");
            return None;
        }
    };
    let stem = name.trim_end_matches(".pdf");
    let png = Command::new("pdftoppm")
        .args(["-png", "-r", "110"])
        .arg(&path)
        .arg(dir.join(stem))
        .output()
        .expect("pdftoppm (poppler-utils)");
    assert!(
        png.status.success(),
        "pdftoppm failed: {}",
        String::from_utf8_lossy(&png.stderr)
    );
    let pages: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| {
            p.extension().is_some_and(|x| x == "png")
                && p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with(&format!("{stem}-")))
        })
        .collect();
    assert!(!pages.is_empty(), "pdftoppm wrote no page of {name}");
    for p in &pages {
        let png = std::fs::read(p).unwrap();
        assert!(png.starts_with(b"\x89PNG"), "{} is not a PNG", p.display());
        // A blank A4 page at 110 dpi compresses to a few kB; text makes it far larger.
        assert!(
            png.len() > 20_000,
            "{} looks blank ({} bytes)",
            p.display(),
            png.len()
        );
    }
    eprintln!(
        "letter {name}: {} page(s) as PNG in {}",
        pages.len(),
        dir.display()
    );
    Some(text)
}

/// 第9条, 第11条 (issue 12 item 2): the support center sends the mailer; the facility and
/// the holder are the addressee (in the window, above the sender's block); the emergency
/// code is grouped in fours on a slip below a 切り取り線, after the PIN; the card's
/// validity, how to change the PIN, a lock and an opened envelope are explained.
#[test]
fn art9_art11_pin_mailer_from_the_support_center_with_a_cut_off_code_slip() {
    let font = match Font::load_default() {
        Ok(f) => f,
        Err(e) => return skip(&format!("font missing: {e}")),
    };
    let mut m = mailer();
    m.emergency_revocation_code = "706194446066".into();
    let pdf = pin_mailer_pdf(&font, &m).expect("render");
    let Some(text) = pdf_text(&pdf, "mailer.pdf") else {
        return;
    };
    for needle in [
        "くまもとメディカルネットワーク",
        "サポートセンター",
        "熊本県医師会",
        "医療法人 青葉会 みなと中央病院",
        "7061-9444-6066",
        "切り取り線",
        "有効期限",
        "2031年11月25日まで",
        "初回利用時にPINを変更してください",
        "PINがロックされたとき",
        "封筒が開封されていたとき",
        "開封された状態で届いた場合",
        "受領を確認",
    ] {
        assert!(text.contains(needle), "the mailer lacks an item ({needle})");
    }
    let line_of = |needle: &str| {
        text.lines()
            .position(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("no line with {needle}"))
    };
    // The addressee comes first (the window), the facility is not the sender.
    let to = text
        .lines()
        .position(|l| l.trim_start().starts_with("山田 花子") && l.contains('様'))
        .expect("the holder as addressee");
    assert!(to < line_of("初期PIN（パスワード）のお知らせ"));
    assert!(
        line_of("医療法人 青葉会") < to,
        "the facility above the holder"
    );
    assert!(!text.contains("利用者カード発行担当"));
    // The PIN above the cut, the code below it.
    let cut = line_of("切り取り線");
    assert!(line_of("482916") < cut, "the PIN is above the 切り取り線");
    assert!(
        line_of("7061-9444-6066") > cut,
        "the code is below the 切り取り線"
    );
    // Already-grouped codes are not grouped twice.
    assert_eq!(kmn_letters::group_code("7QF4-K2MX-9TRB"), "7QF4-K2MX-9TRB");
}

/// 第9条: the mailer of an unlock says so — a new PIN and a new code, not 初期PIN and
/// not a receipt.
#[test]
fn art9_unlock_mailer_says_unlock_not_initial_pin() {
    let font = match Font::load_default() {
        Ok(f) => f,
        Err(e) => return skip(&format!("font missing: {e}")),
    };
    let mut m = mailer();
    m.kind = MailerKind::CardUnlock;
    m.initial_pin = "31415926".into();
    m.emergency_revocation_code = "111122223333".into();
    let pdf = pin_mailer_pdf(&font, &m).expect("render");
    let Some(text) = pdf_text(&pdf, "unlock.pdf") else {
        return;
    };
    for needle in [
        "ロック解除",
        "新しいPIN",
        "31415926",
        "1111-2222-3333",
        "切り取り線",
        "以前にお送りした緊急失効コードは使えなくなりました",
        "くまもとメディカルネットワーク",
    ] {
        assert!(
            text.contains(needle),
            "the unlock mailer lacks an item ({needle})"
        );
    }
    assert!(
        !text.contains("初期PIN"),
        "an unlock mailer has no initial PIN"
    );
    assert!(!text.contains("受領を確認"), "an unlock is not a receipt");
}

/// DESIGN §6: the custodian's sheet speaks Japanese, one time zone, and has lines for the
/// custodian's name, signature, the date and a witness; the hex is in fixed-width cells.
#[test]
fn design6_share_sheet_has_signature_and_witness_lines() {
    let font = match Font::load_default() {
        Ok(f) => f,
        Err(e) => return skip(&format!("font missing: {e}")),
    };
    let sheet = ShareSheet {
        custodian: 2,
        shares: 5,
        threshold: 3,
        organization: kmn_letters::ASSOCIATION_JA.into(),
        root_name: "kmn-root-g1".into(),
        root_sha256: "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0".into(),
        backup_id: "00112233445566778899aabbccddeeff".into(),
        created_on: time::macros::date!(2026 - 11 - 26),
        record_lines: vec![
            "kmn-root-key-share: v1".into(),
            "backup-id: 00112233445566778899aabbccddeeff".into(),
            "created: 2026-11-26T01:00:00Z".into(),
            "custodian: 2".into(),
            "share: 03a1 b2c3 d4e5 f607 1829 3a4b / 7f".into(),
            "share: 1111 ffff 0000 iiii 8888 eeee / 0a".into(),
            "checksum: 1a2b3c4d".into(),
        ],
    };
    let pdf = share_sheet_pdf(&font, &sheet).expect("render");
    let Some(text) = pdf_text(&pdf, "sheet.pdf") else {
        return;
    };
    for needle in [
        "熊本県医師会",
        "日本時間",
        "保管者氏名",
        "署名",
        "受領日",
        "立会人",
        "custodian: 2",
        "0f1e2d3c4b5a69788796a5b4c3d2e1f0",
        "backup-id: 00112233445566778899aabbccddeeff",
    ] {
        assert!(text.contains(needle), "the share sheet lacks {needle}");
    }
    assert!(!text.contains("Kumamoto"), "no English name on the sheet");
    assert!(!text.contains("UTC"), "one time zone on the sheet");
    // Fixed-width cells: the columns of the two share lines line up, character by
    // character (the narrow "1" and "i" take as much room as "f" and "e").
    let cols: Vec<usize> = text
        .lines()
        .filter(|l| l.contains("share: ") && l.contains(" / "))
        .map(|l| l.find(" / ").unwrap() - l.find("share:").unwrap())
        .collect();
    assert_eq!(cols.len(), 2, "two share lines");
    assert_eq!(cols[0], cols[1], "the share lines line up");
}

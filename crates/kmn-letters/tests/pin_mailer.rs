//! Renders a PIN mailer and reads it back with `pdftotext` (poppler-utils).
//! Skips loudly when the font or pdftotext is missing, but fails when `CI=true`.

use std::process::Command;

use kmn_letters::{Font, PinMailer, pin_mailer_pdf};

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

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mailer.pdf");
    std::fs::write(&path, &pdf).unwrap();
    if let Ok(out) = std::env::var("KMN_LETTERS_KEEP_PDF") {
        std::fs::write(out, &pdf).unwrap();
    }

    let out = match Command::new("pdftotext")
        .arg("-layout")
        .arg(&path)
        .arg("-")
        .output()
    {
        Ok(o) => o,
        Err(e) => {
            return skip(&format!(
                "pdftotext not runnable ({e}); apt-get install poppler-utils"
            ));
        }
    };
    assert!(
        out.status.success(),
        "pdftotext failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).expect("utf-8 from pdftotext");
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
        support_phone: "096-000-0000".into(),
    };
    let pdf = pin_mailer_pdf(&font, &m).expect("render");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("operator.pdf");
    std::fs::write(&path, &pdf).unwrap();
    let out = match Command::new("pdftotext")
        .arg("-layout")
        .arg(&path)
        .arg("-")
        .output()
    {
        Ok(o) if o.status.success() => o,
        _ => return skip("pdftotext not runnable; apt-get install poppler-utils"),
    };
    let text = String::from_utf8(out.stdout).expect("utf-8");
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

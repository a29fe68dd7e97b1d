//! The support center's CLI answers in Japanese with a stable code, and in JSON with
//! `--json`; bad input changes nothing.

use crate::support::{Env, assert_fails};

#[tokio::test]
async fn operator_cli_registers_reviews_and_answers_in_japanese() {
    let env = Env::new();
    env.init(&[]);
    let code = crate::api_fixture::facility_code(1, 777);
    let docs = env.path("terms.txt");
    std::fs::write(&docs, "利用規約（テスト）").unwrap();
    for kind in ["cps", "terms", "privacy_policy"] {
        let out = env.ok(&[
            "document",
            "publish",
            "--kind",
            kind,
            "--version",
            "2.00",
            docs.to_str().unwrap(),
        ]);
        assert!(out.contains("公開しました"), "{out}");
    }
    let add = |code: &str, kana: &str| {
        env.run(&[
            "facility",
            "add",
            "--code",
            code,
            "--kind",
            "clinic",
            "--name-kanji",
            "テスト診療所",
            "--name-kana",
            kana,
            "--name-romaji",
            "Test Clinic",
            "--postal-code",
            "860-0806",
            "--address",
            "熊本市中央区",
            "--phone",
            "096-000-0000",
            "--email",
            "t@example.jp",
        ])
    };
    // Bad input: a wrong check digit and hiragana kana → field errors in Japanese, nothing written.
    let bad = format!("{}{}", &code[..9], (code.as_bytes()[9] - b'0' + 1) % 10);
    let o = add(&bad, "てすと");
    assert_fails(&o, 1, "(E_VALIDATION)");
    let err = String::from_utf8_lossy(&o.stderr);
    // Issue 12: the fields by their Japanese names, not the API's (`code`, `name_kana`).
    assert!(
        err.contains("  - 施設コード: ")
            && err.contains("  - 氏名・名称（カナ）: ")
            && err.contains("カタカナ")
            && !err.contains("code:")
            && !err.contains("name_kana"),
        "{err}"
    );
    let o = env.run(&["facility", "list", "--json"]);
    assert_eq!(
        String::from_utf8_lossy(&o.stdout).trim(),
        "[]",
        "nothing was written"
    );
    let o = add(&code, "テストシンリョウジョ");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stdout).contains("を登録しました"));
    // Issue 12: one format for postal codes and telephone numbers (as typed).
    let out = env.ok(&["facility", "show", &code]);
    assert!(
        out.contains("〒860-0806 熊本市中央区") && out.contains("096-000-0000"),
        "{out}"
    );
    assert!(
        !out.contains("8600806") && !out.contains("0960000000"),
        "{out}"
    );
    let v: serde_json::Value =
        serde_json::from_str(&env.ok(&["facility", "show", &code, "--json"])).unwrap();
    assert_eq!(v["facility"]["postal_code"], "8600806", "{v}");
    for kind in ["cps", "terms", "privacy_policy"] {
        env.ok(&[
            "facility",
            "consent",
            &code,
            "--kind",
            kind,
            "--version",
            "2.00",
            "--given-by",
            "窓口 太郎",
        ]);
    }
    let o = env.run(&[
        "facility",
        "consent",
        &code,
        "--kind",
        "terms",
        "--version",
        "2.00",
        "--given-by",
        "窓口 太郎",
    ]);
    assert_fails(&o, 1, "既に記録されています");
    let out = env.ok(&[
        "person",
        "add",
        "--facility",
        &code,
        "--name-kanji",
        "山田 花子",
        "--name-kana",
        "ヤマダ ハナコ",
        "--name-romaji",
        "Hanako Yamada",
        "--date-of-birth",
        "1985-04-01",
        "--profession",
        "nurse",
        "--email",
        "h@example.jp",
        "--permitted",
        "--json",
    ]);
    let p: serde_json::Value = serde_json::from_str(&out).unwrap();
    let holder = p["holder_id"].as_str().unwrap().to_string();
    let out = env.ok(&["person", "show", &holder]);
    assert!(
        out.contains("看護師") && out.contains("利用許可: あり"),
        "{out}"
    );
    // Issue 12: a date of birth as people write it, the profession in Japanese.
    assert!(
        out.contains("生年月日    1985年4月1日") && !out.contains("nurse"),
        "{out}"
    );

    // An application drafted through the library (as the desk would over the API), reviewed with the CLI.
    let app = env.app().await;
    let a = kmn_app::ra::applications::create(
        &app,
        &kmn_app::rights::CaAdmin::local(Some("desk")).registrar(),
        &kmn_app::ra::applications::ApplicationInput {
            facility_code: code.clone(),
            holder_id: holder.clone(),
            kind: "new".into(),
            validity_years: Some(3),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    kmn_app::ra::applications::act(
        &app,
        &kmn_app::rights::CaAdmin::local(Some("desk")).registrar(),
        &a.id,
        kmn_domain::ApplicationAction::Submit,
        None,
    )
    .await
    .unwrap();
    let out = env.ok(&["application", "list", "--status", "submitted"]);
    assert!(
        out.contains(&a.id) && out.contains("申請中") && out.contains("1件"),
        "{out}"
    );
    let o = env.run(&[
        "application",
        "return",
        &a.id,
        "--deficiency",
        "no separator",
    ]);
    assert_fails(&o, 1, "項目|問題点|対応");
    let out = env.ok(&[
        "application",
        "return",
        &a.id,
        "--deficiency",
        "name_kana|フリガナが違います|申請書の写しを添付してください",
    ]);
    assert!(
        out.contains("差戻し") && out.contains("通知しました"),
        "{out}"
    );
    let o = env.run(&["application", "approve", &a.id]);
    assert_fails(&o, 1, "(E_CONFLICT)");
    let out = env.ok(&["application", "show", &a.id]);
    assert!(out.contains("フリガナが違います"), "{out}");
    // Issue 12 item 2: the history in Japanese, no state or action codes leaking through.
    assert!(out.contains("→") && !out.contains("submitted"), "{out}");
    let o = env.run(&["application", "approve", &a.id, "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["code"], "E_CONFLICT");
    assert!(v["message"].as_str().unwrap().contains("差戻し"), "{v}");

    // Issue 12: the notices read as an office writes them — the facility's name before
    // 御中, whole polite sentences, the holder by name — and `kmn notice list` shows them.
    env.ok(&[
        "document",
        "publish",
        "--kind",
        "privacy_policy",
        "--version",
        "2.01",
        docs.to_str().unwrap(),
    ]);
    let out = env.ok(&["notice", "list", "--facility", &code]);
    for want in [
        "テスト診療所 御中".to_string(),
        format!(
            "利用者 山田　花子 様（{holder}）の新規発行の申請（申請番号 {}）を受け付けましたので、お知らせいたします。",
            a.id
        ),
        "内容に不備がありましたので、お知らせいたします（利用規約第6条2）。".to_string(),
        "フリガナが違います".to_string(),
        "お手数ですが、内容を修正のうえ、再申請をお願いいたします。".to_string(),
        "第2.01版を公開いたしましたので、お知らせいたします。".to_string(),
        "1. 【氏名・名称（カナ）】フリガナが違います".to_string(),
        "件名: 【くまもとメディカルネットワーク】申請内容の不備のお知らせ（差戻し）".to_string(),
        "くまもとメディカルネットワーク サポートセンター（熊本県医師会）".to_string(),
    ] {
        assert!(out.contains(&want), "expected '{want}' in:\n{out}");
    }
    assert!(!out.contains(&format!("{code} 御中")), "{out}");
    assert!(
        !out.contains("について、申請"),
        "no title as a sentence: {out}"
    );

    // Accounts: outside the demo, staff certificates come on tokens only (`kmn account
    // enrol`, issue 9 item 3; operator_tokens.rs); a station's certificate from a CSR is
    // bound, listed and disabled.
    let csr = env.csr("op", "p256", "/C=JP/O=Center/CN=Operator Two", &[]);
    let (op_pem, _) = env.issue("op", &csr, "operator", "3y");
    let o = env.run(&[
        "account",
        "add",
        "--role",
        "operator",
        "--name",
        "担当 二郎",
        "--cert",
        op_pem.to_str().unwrap(),
    ]);
    assert_fails(&o, 1, "kmn account enrol --role operator");
    let csr = env.csr("st", "p256", "/C=JP/O=Center/CN=Station Two", &[]);
    let (pem, _) = env.issue("st", &csr, "station", "3y");
    let out = env.ok(&[
        "account",
        "add",
        "--role",
        "station",
        "--name",
        "発行端末 2号機",
        "--cert",
        pem.to_str().unwrap(),
    ]);
    assert!(out.contains("U000001") && out.contains("発行端末"), "{out}");
    let o = env.run(&[
        "account",
        "add",
        "--role",
        "station",
        "--name",
        "発行端末 2号機",
        "--cert",
        pem.to_str().unwrap(),
    ]);
    assert_fails(&o, 1, "既に登録されています");
    let o = env.run(&[
        "account",
        "add",
        "--role",
        "wizard",
        "--name",
        "x",
        "--cert",
        pem.to_str().unwrap(),
    ]);
    assert_fails(&o, 1, "権限 'wizard' はありません");
    env.ok(&["account", "disable", "U000001"]);
    let out = env.ok(&["account", "list"]);
    assert!(out.contains("（無効）"), "{out}");

    // Issue 9: a second certificate of the same person is bound to that person.
    let csr = env.csr("st2", "p256", "/C=JP/O=Center/CN=Station Two B", &[]);
    let (pem2, _) = env.issue("st2", &csr, "station", "3y");
    let v: serde_json::Value = serde_json::from_str(&env.ok(&[
        "account",
        "add",
        "--json",
        "--role",
        "station",
        "--name",
        "発行端末 2号機B",
        "--person",
        "staff-jiro",
        "--cert",
        pem2.to_str().unwrap(),
    ]))
    .unwrap();
    assert_eq!(v["person_id"], "staff-jiro", "{v}");
    let o = env.run(&[
        "account",
        "add",
        "--role",
        "station",
        "--name",
        "x",
        "--person",
        "two words",
        "--cert",
        pem.to_str().unwrap(),
    ]);
    assert_fails(&o, 1, "--person");
}

/// Issue 12: every error the CLI prints carries exactly one code, at the end of its one
/// line — `エラー: <メッセージ> (<CODE>)` for the operator commands (the fields of a
/// validation error below it, by their Japanese names), `error: <message> (<CODE>)` for
/// CA administration and the gateway — never two codes, none, or one inside the text.
#[tokio::test]
async fn issue12_an_error_carries_one_code_at_the_end_of_its_line() {
    let env = Env::new();
    env.init(&[]);
    let codes = |err: &str| {
        err.match_indices("E_")
            .filter(|(i, _)| err[..*i].ends_with('('))
            .count()
    };
    let shape = |args: &[&str], exit: i32, first_line: &str| -> String {
        let o = env.run(args);
        let err = String::from_utf8_lossy(&o.stderr).into_owned();
        assert_eq!(o.status.code(), Some(exit), "{args:?}: {err}");
        assert_eq!(err.lines().next(), Some(first_line), "{args:?}: {err}");
        assert_eq!(codes(&err), 1, "one code: {err}");
        assert_eq!(err.matches("E_").count(), 1, "no code in the text: {err}");
        err
    };
    shape(
        &["application", "show", "A99999999"],
        1,
        "エラー: 申請 A99999999 はありません (E_NOT_FOUND)",
    );
    shape(
        &["card", "mailers", "--state", "lost"],
        1,
        "エラー: 入力内容に誤りがあります: PIN通知書の状態 'lost' はありません（held, released, dispatched, destroyed） (E_BAD_INPUT)",
    );
    let err = shape(
        &[
            "person",
            "add",
            "--facility",
            "4310000015",
            "--name-kanji",
            "山田 花子",
            "--name-kana",
            "やまだ",
            "--name-romaji",
            "Hanako Yamada",
            "--date-of-birth",
            "1985-13-01",
            "--profession",
            "wizard",
            "--email",
            "h@example.jp",
        ],
        1,
        "エラー: 入力内容に誤りがあります（3件）。 (E_VALIDATION)",
    );
    for field in ["  - 氏名・名称（カナ）: ", "  - 生年月日: ", "  - 職種: "] {
        assert!(err.contains(field), "{field}: {err}");
    }
    // CA administration: the same one line, in English where the command is.
    let o = env.run(&["cert", "show", "0abc"]);
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.starts_with("error: ") && err.trim_end().ends_with("(E_NOT_FOUND)"),
        "{err}"
    );
    assert_eq!((err.lines().count(), codes(&err)), (1, 1), "{err}");
    // The gateway, which needs no data dir.
    let o = env.run(&[
        "gateway",
        "check",
        "--config",
        "/nonexistent/kmn-gateway.toml",
    ]);
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.starts_with("error: ") && err.trim_end().ends_with("(E_CONFIG)"),
        "{err}"
    );
    assert_eq!(codes(&err), 1, "{err}");
}

/// 第1条6・第2条2: `kmn document list` shows every published version, the newest of each
/// kind marked as the current one (the version facilities must consent to).
#[tokio::test]
async fn art2_2_document_list_marks_the_current_version() {
    let env = Env::new();
    env.init(&[]);
    let out = env.ok(&["document", "list"]);
    assert!(out.contains("公開した文書はありません"), "{out}");
    let file = env.path("terms.pdf");
    std::fs::write(&file, b"%PDF-1.4 terms").unwrap();
    for v in ["2.00", "2.01"] {
        env.ok(&[
            "document",
            "publish",
            "--kind",
            "terms",
            "--version",
            v,
            file.to_str().unwrap(),
        ]);
    }
    let out = env.ok(&["document", "list"]);
    assert!(
        out.contains("利用者カード利用規約  第2.00版  ")
            && out.contains("利用者カード利用規約  第2.01版（現行）")
            && out.contains("terms.pdf")
            && out.contains("2件"),
        "{out}"
    );
    assert!(
        !out.contains("terms  "),
        "kinds by their Japanese names: {out}"
    );
    let v: serde_json::Value =
        serde_json::from_str(&env.ok(&["document", "list", "--json"])).unwrap();
    let current: Vec<(&str, bool)> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["version"].as_str().unwrap(),
                d["current"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(current, [("2.00", false), ("2.01", true)]);
}

/// 第24条: the association gives notice on its home page — `kmn public-notice` publishes
/// at once, lists what is in force and what was withdrawn, and withdraws with a reason
/// (kept, never deleted); bad input is refused with one code and nothing recorded.
#[tokio::test]
async fn art24_public_notices_are_published_listed_and_withdrawn() {
    let env = Env::new();
    env.init(&[]);
    let out = env.ok(&["public-notice", "list"]);
    assert!(out.contains("お知らせはありません"), "{out}");
    let body = env.path("body.txt");
    std::fs::write(
        &body,
        "12月29日から1月3日まで、窓口での受付を休止します。\r\n\r\n緊急失効は24時間受け付けます。\r\n",
    )
    .unwrap();
    let v: serde_json::Value = serde_json::from_str(&env.ok(&[
        "public-notice",
        "publish",
        "--title",
        "年末年始の受付について",
        "--body-file",
        body.to_str().unwrap(),
        "--json",
    ]))
    .unwrap();
    assert_eq!(v["id"], "K00000001");
    assert_eq!(
        v["body"],
        "12月29日から1月3日まで、窓口での受付を休止します。\n\n緊急失効は24時間受け付けます。"
    );
    let out = env.ok(&[
        "public-notice",
        "publish",
        "--title",
        "CPS 改定の予定",
        "--body",
        "来月、認証局運用規程を改定します。",
    ]);
    assert!(
        out.contains("お知らせ K00000002 「CPS 改定の予定」をリポジトリ"),
        "{out}"
    );
    // Refused: an empty title, a title over two lines, no body; nothing recorded.
    for args in [
        &["--title", " ", "--body", "本文"][..],
        &["--title", "一行目\n二行目", "--body", "本文"][..],
        &["--title", "件名", "--body", "  "][..],
    ] {
        let mut a = vec!["public-notice", "publish"];
        a.extend_from_slice(args);
        let o = env.run(&a);
        crate::support::assert_fails(&o, 1, "E_VALIDATION");
    }
    let o = env.run(&["public-notice", "publish", "--title", "件名"]);
    assert!(!o.status.success(), "a notice needs a body");
    let out = env.ok(&[
        "public-notice",
        "withdraw",
        "k00000002",
        "--reason",
        "掲載の誤り",
    ]);
    assert!(
        out.contains("K00000002") && out.contains("取り下げました"),
        "{out}"
    );
    let o = env.run(&[
        "public-notice",
        "withdraw",
        "K00000002",
        "--reason",
        "もう一度",
    ]);
    crate::support::assert_fails(&o, 1, "E_CONFLICT");
    let o = env.run(&["public-notice", "withdraw", "K00000009", "--reason", "なし"]);
    crate::support::assert_fails(&o, 1, "E_NOT_FOUND");
    let out = env.ok(&["public-notice", "list"]);
    assert!(
        out.contains("K00000001")
            && out.contains("掲載中")
            && out.contains("年末年始の受付について"),
        "{out}"
    );
    assert!(
        out.contains("K00000002") && out.contains("取下げ済み") && out.contains("掲載の誤り"),
        "{out}"
    );
    assert!(out.contains("2件"), "{out}");
    // Only what is in force is public; both changes are audit events.
    let app = env.app().await;
    let public = kmn_app::ra::public_notices::in_force(&app, 10)
        .await
        .unwrap();
    assert_eq!(
        public.iter().map(|n| n.id.as_str()).collect::<Vec<_>>(),
        ["K00000001"]
    );
    let mut tx = app.store_for_tests().read().await.unwrap();
    for action in ["public_notice.publish", "public_notice.withdraw"] {
        let n = tx.audit_events(Some(action)).await.unwrap().len();
        assert_eq!(
            n,
            if action.ends_with("publish") { 2 } else { 1 },
            "{action}"
        );
    }
    tx.rollback().await.unwrap();
}

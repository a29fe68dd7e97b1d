//! The portal (issue 12): every page as every role and another facility, with exact
//! statuses; the security headers; the form token against cross-site posts; the desk's
//! receipt by a serial typed in upper case with hyphens; the center's review with a
//! deficiency checklist (第6条2); field-level errors; the emergency revocation button.
//! Driven in-process through the real HTTPS router; the browser tests
//! (`tests/browser/`, [`browser`]) drive the real binary with Chromium.

use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode};
use serde_json::json;
use tower::ServiceExt;

use crate::api_fixture::World;

struct Portal {
    w: World,
    router: axum::Router,
}

struct Page {
    status: StatusCode,
    headers: HeaderMap,
    body: String,
    /// The body as sent (a PDF, a CMS receipt).
    bytes: Vec<u8>,
}

impl Page {
    /// The form token of the page's forms.
    fn token(&self) -> String {
        let i = self
            .body
            .find("name=\"_token\" value=\"")
            .unwrap_or_else(|| panic!("no form token in page: {}", self.body));
        let rest = &self.body[i + "name=\"_token\" value=\"".len()..];
        rest[..rest.find('"').unwrap()].to_string()
    }
}

async fn world() -> Portal {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("ra.db").display());
    let w = World::new(&url).await;
    std::mem::forget(dir);
    let router = kmn_web::https_router(w.app.clone());
    Portal { w, router }
}

impl Portal {
    async fn send(&self, who: Option<&str>, req: Request<Body>) -> Page {
        let mut req = req;
        if let Some(w) = who {
            req.extensions_mut()
                .insert(kmn_web::api::auth::PeerCert(self.w.certs[w].clone()));
        }
        let resp = self.router.clone().oneshot(req).await.unwrap();
        let status = resp.status();
        let headers = resp.headers().clone();
        let bytes = axum::body::to_bytes(resp.into_body(), 16 * 1024 * 1024)
            .await
            .unwrap();
        Page {
            status,
            headers,
            body: String::from_utf8_lossy(&bytes).into_owned(),
            bytes: bytes.to_vec(),
        }
    }

    async fn get(&self, who: Option<&str>, uri: &str) -> Page {
        self.send(
            who,
            Request::builder()
                .method(Method::GET)
                .uri(uri)
                .header("host", "kmn.example.jp")
                .body(Body::empty())
                .unwrap(),
        )
        .await
    }

    async fn post(
        &self,
        who: Option<&str>,
        uri: &str,
        form: &[(&str, &str)],
        headers: &[(&str, &str)],
    ) -> Page {
        let mut b = Request::builder()
            .method(Method::POST)
            .uri(uri)
            .header("host", "kmn.example.jp")
            .header("content-type", "application/x-www-form-urlencoded");
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        self.send(
            who,
            b.body(Body::from(serde_urlencoded::to_string(form).unwrap()))
                .unwrap(),
        )
        .await
    }

    /// A `multipart/form-data` post (a form with a file input): `file` is
    /// `(field, file name, content type, bytes)`.
    async fn post_multipart(
        &self,
        who: Option<&str>,
        uri: &str,
        form: &[(&str, &str)],
        file: Option<(&str, &str, &str, &[u8])>,
        headers: &[(&str, &str)],
    ) -> Page {
        let boundary = "----kmnPortalTestBoundary7MA4YWxkTrZu0gW";
        let mut body = Vec::new();
        for (k, v) in form {
            body.extend_from_slice(
                format!(
                    "--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n"
                )
                .as_bytes(),
            );
        }
        if let Some((field, name, ct, bytes)) = file {
            body.extend_from_slice(
                format!(
                    "--{boundary}\r\nContent-Disposition: form-data; name=\"{field}\"; filename=\"{name}\"\r\nContent-Type: {ct}\r\n\r\n"
                )
                .as_bytes(),
            );
            body.extend_from_slice(bytes);
            body.extend_from_slice(b"\r\n");
        }
        body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
        let mut b = Request::builder()
            .method(Method::POST)
            .uri(uri)
            .header("host", "kmn.example.jp")
            .header(
                "content-type",
                format!("multipart/form-data; boundary={boundary}"),
            );
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        self.send(who, b.body(Body::from(body)).unwrap()).await
    }

    /// A form token for `who`, from a page with a form.
    async fn token(&self, who: &str, page: &str) -> String {
        let p = self.get(Some(who), page).await;
        assert_eq!(p.status, StatusCode::OK, "{page}: {}", p.body);
        p.token()
    }
}

/// Every portal page as every role and as a desk of another facility, with the exact
/// status (200, 401 without or with a revoked certificate, 403 for a role without the
/// right or another facility named, 404 for another facility's card or application —
/// answered like an absent one), and on every HTML answer the Content-Security-Policy
/// without any script and with `frame-ancestors 'none'`.
#[tokio::test]
async fn issue12_portal_pages_answer_every_role_and_facility_exactly() {
    let p = world().await;
    let w = &p.w;
    let (card_a, serial_a) = w.personalized_card(&w.nurse_a, "0a1b2c3d4e5f6789").await;
    let (_, c) = w
        .call(
            Some("operator"),
            Method::GET,
            &format!("/api/v1/cards/{card_a}"),
            None,
        )
        .await;
    let app_a = c["application_id"].as_str().unwrap().to_string();
    let (fa, fb) = (w.fac_a.clone(), w.fac_b.clone());
    let desk_a_account = account_of(w, "desk_a").await;
    let notice = kmn_app::ra::public_notices::publish(
        &w.app,
        &crate::api_fixture::admin(),
        "お知らせ",
        "本文",
    )
    .await
    .unwrap();
    // Columns: none, revoked, station, operator, supervisor, auditor, desk_a, desk_b.
    let who: [Option<&str>; 8] = [
        None,
        Some("revoked"),
        Some("station"),
        Some("operator"),
        Some("supervisor"),
        Some("auditor"),
        Some("desk_a"),
        Some("desk_b"),
    ];
    let rows: Vec<(String, [u16; 8])> = vec![
        ("/".into(), [200, 401, 403, 200, 200, 200, 200, 200]),
        ("/portal/".into(), [200, 401, 403, 200, 200, 200, 200, 200]),
        ("/public/repository".into(), [200; 8]),
        (format!("/public/notices/{}", notice.id), [200; 8]),
        ("/public/notices/K99999999".into(), [404; 8]),
        ("/static/portal.css".into(), [200; 8]),
        (
            "/portal/queues".into(),
            [401, 401, 403, 200, 200, 403, 403, 403],
        ),
        (
            "/portal/cards".into(),
            [401, 401, 403, 200, 200, 200, 200, 200],
        ),
        (
            format!("/portal/cards?facility={fb}"),
            [401, 401, 403, 200, 200, 200, 403, 200],
        ),
        (
            format!("/portal/cards/{card_a}"),
            [401, 401, 403, 200, 200, 200, 200, 404],
        ),
        (
            format!("/portal/facilities/{fa}"),
            [401, 401, 403, 200, 200, 200, 200, 403],
        ),
        (
            "/portal/applications".into(),
            [401, 401, 403, 200, 200, 200, 200, 200],
        ),
        (
            format!("/portal/applications?facility={fa}"),
            [401, 401, 403, 200, 200, 200, 200, 403],
        ),
        (
            format!("/portal/applications/{app_a}"),
            [401, 401, 403, 200, 200, 200, 200, 404],
        ),
        (
            "/portal/applications/new".into(),
            [401, 401, 403, 200, 200, 403, 200, 200],
        ),
        (
            "/portal/receipt".into(),
            [401, 401, 403, 200, 200, 403, 200, 200],
        ),
        (
            "/portal/notices".into(),
            [401, 401, 403, 200, 200, 200, 200, 200],
        ),
        (
            "/portal/persons?kana=%E3%83%A4%E3%83%9E%E3%83%80".into(),
            [401, 401, 403, 200, 200, 200, 200, 200],
        ),
        (
            "/portal/persons?kana=abc".into(),
            [401, 401, 403, 400, 400, 400, 400, 400],
        ),
        (
            "/portal/pin-mailers".into(),
            [401, 401, 403, 200, 200, 403, 403, 403],
        ),
        (
            "/portal/facilities".into(),
            [401, 401, 403, 200, 200, 403, 403, 403],
        ),
        (
            "/portal/accounts".into(),
            [401, 401, 403, 200, 200, 403, 403, 403],
        ),
        (
            format!("/portal/accounts/{desk_a_account}"),
            [401, 401, 403, 200, 200, 403, 403, 403],
        ),
        (
            "/portal/accounts/no-such-account".into(),
            [401, 401, 403, 404, 404, 403, 403, 403],
        ),
        (
            "/portal/audit".into(),
            [401, 401, 403, 403, 403, 200, 403, 403],
        ),
        (
            "/portal/audit?from=2026-13-01".into(),
            [401, 401, 403, 403, 403, 400, 403, 403],
        ),
        (
            "/portal/audit.csv".into(),
            [401, 401, 403, 403, 403, 200, 403, 403],
        ),
        (
            "/portal/access-log".into(),
            [401, 401, 403, 403, 403, 200, 403, 403],
        ),
        (
            "/portal/access-log.csv".into(),
            [401, 401, 403, 403, 403, 200, 403, 403],
        ),
        (
            "/portal/proposals".into(),
            [401, 401, 403, 200, 200, 403, 403, 403],
        ),
        (
            "/portal/proposals/P00000000000000000000000000000000".into(),
            [401, 401, 403, 404, 404, 403, 403, 403],
        ),
        (
            "/portal/dashboard".into(),
            [401, 401, 403, 200, 200, 403, 403, 403],
        ),
        (
            "/portal/settings".into(),
            [401, 401, 403, 200, 200, 200, 200, 200],
        ),
        // The letter and the signed receipt of a revocation: a certificate in use has
        // none (409); another facility's is answered like an unknown serial.
        (
            format!("/portal/certificates/{serial_a}/revocation-letter"),
            [401, 401, 403, 409, 409, 409, 409, 404],
        ),
        (
            format!("/portal/certificates/{serial_a}/revocation-receipt"),
            [401, 401, 403, 409, 409, 409, 409, 404],
        ),
        (
            "/portal/certificates/not-a-serial/revocation-letter".into(),
            [401, 401, 403, 400, 400, 400, 400, 400],
        ),
        ("/no/such/page".into(), [404; 8]),
    ];
    let mut wrong = Vec::new();
    for (path, expected) in &rows {
        for (i, who) in who.iter().enumerate() {
            let page = p.get(*who, path).await;
            let ctx = format!("{} GET {path}", who.unwrap_or("none"));
            if page.status.as_u16() != expected[i] {
                wrong.push(format!("{ctx}: {} (expected {})", page.status, expected[i]));
                continue;
            }
            let ct = page
                .headers
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_string();
            if ct.starts_with("text/html") {
                let csp = page
                    .headers
                    .get("content-security-policy")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default();
                assert!(
                    csp.contains("frame-ancestors 'none'")
                        && csp.contains("default-src 'none'")
                        && !csp.contains("script-src")
                        && !csp.contains("unsafe-inline"),
                    "{ctx}: CSP {csp}"
                );
                assert!(
                    !page.body.contains("<script"),
                    "{ctx}: no script in the portal"
                );
                assert!(page.body.contains("<html lang=\"ja\">"), "{ctx}");
                // Refusals are Japanese pages that say why.
                if page.status.is_client_error() {
                    assert!(
                        page.body.contains("class=\"alert\"")
                            || page.body.contains("class=\"field-error\""),
                        "{ctx}: {}",
                        page.body
                    );
                }
                // A desk of facility A sees nothing of facility B.
                if *who == Some("desk_a") {
                    for marker in ["水前寺", "Suizenji", w.nurse_b.as_str()] {
                        assert!(!page.body.contains(marker), "{ctx}: leaked {marker}");
                    }
                }
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "{} cells differ:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
    // Unknown API paths keep the API's JSON error.
    let page = p.get(Some("operator"), "/api/v1/no-such-route").await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
    assert!(page.body.contains("E_NOT_FOUND"), "{}", page.body);
    // The 403 for another facility is a Japanese page naming the reason.
    let page = p
        .get(Some("desk_a"), &format!("/portal/facilities/{fb}"))
        .await;
    assert!(
        page.body.contains("他の施設の情報は閲覧できません"),
        "{}",
        page.body
    );
}

/// 第8条1 through the portal: the desk types the card's serial in upper case with
/// hyphens (stored in lower case, as a SoftHSM token reports it) and the receipt is
/// confirmed. A post without the form token, with another account's token, or from
/// another origin is refused before anything changes; another facility's desk gets
/// 見つかりません.
#[tokio::test]
async fn art8_portal_receipt_ignores_case_and_hyphens_and_needs_the_form_token() {
    let p = world().await;
    let w = &p.w;
    let (card, _) = w.shipped_card(&w.nurse_a, "0a1b2c3d4e5f6789").await;
    let typed = "0A1B-2C3D-4E5F-6789";
    let before = w.counts().await;
    // No token.
    let r = p
        .post(
            Some("desk_a"),
            "/portal/receipt",
            &[("token_serial", typed)],
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    assert!(r.body.contains("正しくない送信"), "{}", r.body);
    // Another account's token.
    let other = p.token("desk_b", "/portal/receipt").await;
    let r = p
        .post(
            Some("desk_a"),
            "/portal/receipt",
            &[("_token", &other), ("token_serial", typed)],
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    // The right token from another site.
    let token = p.token("desk_a", "/portal/receipt").await;
    let r = p
        .post(
            Some("desk_a"),
            "/portal/receipt",
            &[("_token", &token), ("token_serial", typed)],
            &[("origin", "https://evil.example")],
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    // A form body the portal does not take.
    let r = p
        .send(
            Some("desk_a"),
            Request::builder()
                .method(Method::POST)
                .uri("/portal/receipt")
                .header("content-type", "text/plain")
                .body(Body::from(format!("_token={token}&token_serial={typed}")))
                .unwrap(),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    assert_eq!(w.counts().await, before, "a refused post changes nothing");
    // Another facility's desk, with its own token: not found.
    let tb = p.token("desk_b", "/portal/receipt").await;
    let r = p
        .post(
            Some("desk_b"),
            "/portal/receipt",
            &[("_token", &tb), ("token_serial", typed)],
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.body);
    assert!(r.body.contains("見つかりません"), "{}", r.body);
    assert!(!r.body.contains(&card), "another facility learns nothing");
    // The desk of the card's facility, typed in upper case with hyphens.
    let r = p
        .post(
            Some("desk_a"),
            "/portal/receipt",
            &[("_token", &token), ("token_serial", typed)],
            &[("origin", "https://kmn.example.jp")],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(r.body.contains("受領を確認しました"), "{}", r.body);
    assert!(r.body.contains(&card));
    let page = p
        .get(Some("desk_a"), &format!("/portal/cards/{card}"))
        .await;
    assert!(page.body.contains("受領済み"), "{}", page.body);
    assert!(page.body.contains("受領確認"), "timeline: {}", page.body);
    // The JSON API refuses a form media type for a state change.
    let (st, v) = w
        .raw(
            "desk_a",
            Method::POST,
            "/api/v1/cards/receipt",
            "application/x-www-form-urlencoded",
            format!("token_serial={typed}").into_bytes(),
        )
        .await;
    assert_eq!(st, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{v}");
    // Handover: the wrong person is refused with the rule's words; the holder is recorded.
    let r = p
        .post(
            Some("desk_a"),
            &format!("/portal/cards/{card}/handover"),
            &[("_token", &token), ("handed_to", "誰か 別人")],
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert!(r.body.contains("一致しません"), "{}", r.body);
    let r = p
        .post(
            Some("desk_a"),
            &format!("/portal/cards/{card}/handover"),
            &[("_token", &token), ("handed_to", "山田 花子")],
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(r.body.contains("交付済み"), "{}", r.body);
}

/// 第11条 from the portal: the desk's emergency revocation button revokes the card's
/// certificate at once; the card page then shows it revoked, with the step in its
/// timeline. Another facility's desk cannot (404, nothing revoked).
#[tokio::test]
async fn art11_portal_emergency_button_revokes_at_once() {
    let p = world().await;
    let w = &p.w;
    let (_, card, _) = w.issued_card(&w.nurse_a).await;
    let tb = p.token("desk_b", "/portal/receipt").await;
    let r = p
        .post(
            Some("desk_b"),
            &format!("/portal/cards/{card}/emergency"),
            &[("_token", &tb), ("cause", "lost"), ("note", "")],
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.body);
    let page = p
        .get(Some("desk_a"), &format!("/portal/cards/{card}"))
        .await;
    assert!(page.body.contains("緊急失効させる"), "{}", page.body);
    let token = page.token();
    let r = p
        .post(
            Some("desk_a"),
            &format!("/portal/cards/{card}/emergency"),
            &[("_token", &token), ("cause", "nonsense"), ("note", "")],
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    let r = p
        .post(
            Some("desk_a"),
            &format!("/portal/cards/{card}/emergency"),
            &[
                ("_token", &token),
                ("cause", "lost"),
                ("note", "通勤中に紛失"),
            ],
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(r.body.contains("失効させました"), "{}", r.body);
    assert!(r.body.contains("id=\"cert-status\">失効"), "{}", r.body);
    assert!(r.body.contains("証明書の失効"), "timeline: {}", r.body);
}

/// 第23条3 in the portal: once a card's certificate is revoked, its page shows the
/// evidence — the grounds with the article, the channel, every timestamp, the first CRL
/// listing it (number, time, SHA-256) and the first OCSP response — and, once that CRL
/// was read back, links the letter to the facility (PDF) and the signed revocation
/// receipt (CMS), which the card's desk, the center and the auditor download; before
/// the CRL both are refused in Japanese (409); another facility's desk gets 404. The
/// facility's notice of the revocation links the card.
#[tokio::test]
async fn art23_portal_card_page_shows_the_revocation_and_its_evidence() {
    let p = world().await;
    let w = &p.w;
    let (_, card, serial) = w.issued_card(&w.nurse_a).await;
    let page = p
        .get(Some("desk_a"), &format!("/portal/cards/{card}"))
        .await;
    assert!(!page.body.contains("id=\"evidence\""), "{}", page.body);
    let r = p
        .post(
            Some("desk_a"),
            &format!("/portal/cards/{card}/emergency"),
            &[
                ("_token", &page.token()),
                ("cause", "lost"),
                ("note", "院内で紛失"),
            ],
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    // Before the CRL: the evidence so far, and the files refused in Japanese.
    for body in [
        r.body.clone(),
        p.get(Some("operator"), &format!("/portal/cards/{card}"))
            .await
            .body,
    ] {
        assert!(
            body.contains("id=\"evidence\"")
                && body.contains("緊急失効（紛失）（利用規約第11条）")
                && body.contains("利用施設窓口")
                && body.contains("掲載を確認しています")
                && !body.contains("id=\"evidence-crl\"")
                && !body.contains("class=\"letter\""),
            "{body}"
        );
    }
    let letter = format!("/portal/certificates/{serial}/revocation-letter");
    let receipt = format!("/portal/certificates/{serial}/revocation-receipt");
    for path in [&letter, &receipt] {
        let r = p.get(Some("desk_a"), path).await;
        assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
        assert!(r.body.contains("まだCRLに掲載されていません"), "{}", r.body);
    }
    // The CRL (read back) and the OCSP response follow.
    w.clock.advance(time::Duration::seconds(1));
    kmn_app::ca::crl::publish_all(&w.app, "test").await.unwrap();
    w.clock.advance(time::Duration::seconds(1));
    let responders = kmn_app::ca::ocsp::load(&w.app).await.unwrap();
    kmn_app::ca::ocsp::refresh(&w.app, &responders)
        .await
        .unwrap();
    let e = kmn_app::ca::evidence::load(&w.app, &crate::api_fixture::admin().reader(), &serial)
        .await
        .unwrap();
    let crl_no = e.first_crl_number.unwrap();
    for who in ["desk_a", "operator", "supervisor", "auditor"] {
        let page = p.get(Some(who), &format!("/portal/cards/{card}")).await;
        assert_eq!(page.status, StatusCode::OK, "{who}: {}", page.body);
        let b = &page.body;
        assert!(
            b.contains(&format!("id=\"evidence-crl\">第{crl_no}号"))
                && b.contains(e.first_crl_sha256.as_deref().unwrap())
                && b.contains("id=\"evidence-ocsp\">")
                && b.contains("秒")
                && b.contains(&format!("href=\"{letter}\""))
                && b.contains(&format!("href=\"{receipt}\"")),
            "{who}: {b}"
        );
        // Who asked is the center's to see, as the timeline's actors (the auditor
        // reads it in the audit log).
        assert_eq!(
            b.contains("申出者"),
            matches!(who, "operator" | "supervisor"),
            "{who}: {b}"
        );
        let ct = |r: &Page| {
            r.headers
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_string()
        };
        let pdf = p.get(Some(who), &letter).await;
        assert_eq!(pdf.status, StatusCode::OK, "{who}: {}", pdf.body);
        assert_eq!(ct(&pdf), "application/pdf", "{who}");
        assert!(pdf.bytes.starts_with(b"%PDF"), "{who}");
        let der = p.get(Some(who), &receipt).await;
        assert_eq!(der.status, StatusCode::OK, "{who}: {}", der.body);
        assert!(
            ct(&der).starts_with("application/pkcs7-mime"),
            "{}",
            ct(&der)
        );
        let roots = kmn_app::ca::evidence::repository_roots(&w.app);
        let v = kmn_app::ca::evidence::verify_receipt(&der.bytes, &roots, None).unwrap();
        assert_eq!(v.record.serial_hex(), serial);
    }
    // Another facility's desk: like an unknown serial.
    for path in [&letter, &receipt] {
        let r = p.get(Some("desk_b"), path).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.body);
    }
    // The desk's notice of the revocation leads to the card.
    let notices = p.get(Some("desk_a"), "/portal/notices").await;
    assert!(
        notices.body.contains(&format!(
            "<a href=\"/portal/cards/{card}\">利用者カード {card} を開く</a>"
        )),
        "{}",
        notices.body
    );
}

/// 第8条1 in the portal: a handover the use case refuses (a name that is not the
/// holder's, an empty one) is answered on the card page beside the name field, with
/// what was typed kept and nothing recorded; the holder's own name records it.
#[tokio::test]
async fn art8_portal_handover_refusal_is_shown_beside_the_field() {
    let p = world().await;
    let w = &p.w;
    let (card, _) = w.shipped_card(&w.nurse_a, "0a1b2c3d4e5f6789").await;
    let token = p.token("desk_a", "/portal/receipt").await;
    let r = p
        .post(
            Some("desk_a"),
            "/portal/receipt",
            &[("_token", &token), ("token_serial", "0A1B-2C3D-4E5F-6789")],
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let path = format!("/portal/cards/{card}/handover");
    let before = w.counts().await;
    for (typed, status, says) in [
        (
            "別人 太郎",
            StatusCode::UNPROCESSABLE_ENTITY,
            "と一致しません",
        ),
        ("  ", StatusCode::BAD_REQUEST, "氏名を入力してください"),
    ] {
        let r = p
            .post(
                Some("desk_a"),
                &path,
                &[("_token", &token), ("handed_to", typed)],
                &[],
            )
            .await;
        assert_eq!(r.status, status, "{}", r.body);
        assert!(
            r.body.contains("id=\"handed_to-error\"")
                && r.body.contains(says)
                && r.body.contains(&format!("value=\"{typed}\""))
                && r.body.contains("aria-invalid=\"true\"")
                && r.body.contains("id=\"card-state\">受領済み"),
            "{}",
            r.body
        );
    }
    assert_eq!(w.counts().await, before, "nothing recorded");
    let (person, _) =
        kmn_app::ra::persons::get(&w.app, &crate::api_fixture::admin().reader(), &w.nurse_a)
            .await
            .unwrap();
    let r = p
        .post(
            Some("desk_a"),
            &path,
            &[("_token", &token), ("handed_to", &person.name_kanji)],
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(
        r.body.contains("id=\"card-state\">交付済み") && !r.body.contains("handed_to-error"),
        "{}",
        r.body
    );
}

/// The public repository page links the holders' emergency form on the port its
/// listener is bound to (`kmn up` with `emergency_listen = 127.0.0.1:0` binds another;
/// the story in Chromium follows the link), and names each certificate for what it is:
/// the OCSP and audit signers are not issuing CAs.
#[tokio::test]
async fn art11_repository_page_links_the_bound_emergency_port() {
    let p = world().await;
    let router = kmn_web::https_router(p.w.app.clone())
        .layer(axum::Extension(kmn_web::portal::EmergencyPort(48443)));
    let resp = router
        .oneshot(
            Request::builder()
                .uri("/public/repository")
                .header("host", "kmn.example.jp:8443")
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let body = axum::body::to_bytes(resp.into_body(), 1 << 20)
        .await
        .unwrap();
    let body = String::from_utf8_lossy(&body);
    assert!(
        body.contains("href=\"https://kmn.example.jp:48443/emergency\""),
        "{body}"
    );
    assert!(
        body.contains("ルート認証局") && body.contains("発行認証局"),
        "{body}"
    );
}

/// 第6条2 in the portal: the center returns an application with deficiencies from the
/// checklist and free text; the desk sees them, resubmits, and the center approves.
/// The desk's new-application form shows field-level Japanese errors and records
/// nothing then.
#[tokio::test]
async fn art6_2_portal_review_returns_with_deficiencies_and_desk_resubmits() {
    let p = world().await;
    let w = &p.w;
    // The desk drafts through the portal: first with no holder chosen.
    let token = p.token("desk_a", "/portal/applications/new").await;
    let before = w.counts().await;
    let r = p
        .post(
            Some("desk_a"),
            "/portal/applications/new",
            &[
                ("_token", &token),
                ("holder_id", ""),
                ("kind", "new"),
                ("validity_years", "5"),
            ],
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    assert!(
        r.body.contains("申請する利用者を選んでください"),
        "{}",
        r.body
    );
    let r = p
        .post(
            Some("desk_a"),
            "/portal/applications/new",
            &[
                ("_token", &token),
                ("holder_id", &w.nurse_a),
                ("kind", "new"),
                ("validity_years", "4"),
            ],
            &[],
        )
        .await;
    assert!(
        r.status == StatusCode::UNPROCESSABLE_ENTITY || r.status == StatusCode::BAD_REQUEST,
        "{}: {}",
        r.status,
        r.body
    );
    assert!(r.body.contains("class=\"alert\""), "{}", r.body);
    assert_eq!(w.counts().await, before, "nothing recorded");
    let r = p
        .post(
            Some("desk_a"),
            "/portal/applications/new",
            &[
                ("_token", &token),
                ("holder_id", &w.nurse_a),
                ("kind", "new"),
                ("validity_years", "5"),
            ],
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let location = r.headers["location"].to_str().unwrap().to_string();
    let id = location.rsplit('/').next().unwrap().to_string();
    let page = p.get(Some("desk_a"), &location).await;
    assert!(page.body.contains("下書き"), "{}", page.body);
    let r = p
        .post(
            Some("desk_a"),
            &format!("/portal/applications/{id}/submit"),
            &[("_token", &token), ("action", "submit")],
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(r.body.contains("申請中"), "{}", r.body);
    // The center's queue counts it.
    let q = p.get(Some("operator"), "/portal/queues").await;
    assert!(q.body.contains("審査待ちの申請"), "{}", q.body);
    // Returned with no deficiency: refused beside the field.
    let ot = p
        .token("operator", &format!("/portal/applications/{id}"))
        .await;
    let r = p
        .post(
            Some("operator"),
            &format!("/portal/applications/{id}/return"),
            &[("_token", &ot)],
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    // A free-text deficiency half written: refused in the form, with what was ticked
    // and typed kept, nothing returned.
    let r = p
        .post(
            Some("operator"),
            &format!("/portal/applications/{id}/return"),
            &[
                ("_token", &ot),
                ("check", "2"),
                ("field", "勤務先"),
                ("problem", ""),
                ("action", ""),
            ],
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    assert!(
        r.body.contains("id=\"return-error\"")
            && r.body.contains("value=\"2\" checked")
            && !r.body.contains("value=\"0\" checked")
            && r.body.contains("name=\"field\" value=\"勤務先\"")
            && r.body.contains("id=\"application-state\">申請中"),
        "{}",
        r.body
    );
    let r = p
        .post(
            Some("operator"),
            &format!("/portal/applications/{id}/return"),
            &[
                ("_token", &ot),
                ("check", "0"),
                ("field", "勤務先"),
                ("problem", "所属部署の記載がありません"),
                ("action", "所属部署を記入してください"),
            ],
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(r.body.contains("差戻し"), "{}", r.body);
    let page = p
        .get(Some("desk_a"), &format!("/portal/applications/{id}"))
        .await;
    for s in [
        "氏名のフリガナが記入されていません",
        "所属部署の記載がありません",
        "訂正して再提出する",
    ] {
        assert!(page.body.contains(s), "{s}: {}", page.body);
    }
    let r = p
        .post(
            Some("desk_a"),
            &format!("/portal/applications/{id}/submit"),
            &[("_token", &token), ("action", "resubmit")],
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let r = p
        .post(
            Some("operator"),
            &format!("/portal/applications/{id}/approve"),
            &[("_token", &ot)],
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(r.body.contains("承認済み"), "{}", r.body);
    // A desk cannot review (403), whatever it posts.
    let r = p
        .post(
            Some("desk_a"),
            &format!("/portal/applications/{id}/approve"),
            &[("_token", &token)],
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
}

/// The auditor's logs: filters, a field error for a bad date, and the CSV export (UTF-8
/// with a byte order mark, formula-looking cells neutralised).
#[tokio::test]
async fn g1_auditor_reads_audit_and_access_logs_with_filters_and_csv() {
    let p = world().await;
    let w = &p.w;
    let (card, _) = w.personalized_card(&w.nurse_a, "0a1b2c3d4e5f6789").await;
    let page = p
        .get(
            Some("auditor"),
            &format!("/portal/audit?object=card:{card}"),
        )
        .await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains(&format!("card:{card}")), "{}", page.body);
    // The chain's verification status heads the page.
    assert!(
        page.body.contains("id=\"chain-status\"") && page.body.contains("監査ログの検証"),
        "{}",
        page.body
    );
    let page = p
        .get(
            Some("auditor"),
            "/portal/audit?from=2026-12-02&to=2026-12-01",
        )
        .await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    assert!(page.body.contains("終了日は開始日以降"), "{}", page.body);
    let page = p
        .get(
            Some("auditor"),
            &format!("/portal/audit.csv?object=card:{card}"),
        )
        .await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv"),
    );
    assert!(page.body.starts_with('\u{FEFF}'), "BOM");
    assert!(page.body.contains(&format!("card:{card}")), "{}", page.body);
    // Reading a card from the portal is in the access log the auditor reads.
    p.get(Some("desk_a"), &format!("/portal/cards/{card}"))
        .await;
    let page = p
        .get(
            Some("auditor"),
            &format!("/portal/access-log?facility={}", w.fac_a),
        )
        .await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body.contains(&format!("card:{card}/delivery")),
        "{}",
        page.body
    );
}

/// The dashboard draws its pictures as SVG in the page (no script, no image fetched).
#[tokio::test]
async fn issue12_dashboard_is_server_rendered_svg() {
    let p = world().await;
    let w = &p.w;
    w.issued_card(&w.nurse_a).await;
    let page = p.get(Some("operator"), "/portal/dashboard").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.body.contains("<svg role=\"img\""), "{}", page.body);
    assert!(page.body.contains("状態別の利用者カード"));
    assert!(page.body.contains("利用中"), "{}", page.body);
}

/// 第24条 and 第1条5–6 on the public repository page (no certificate): the home-page
/// notices in force, newest first, each on its own page with its paragraphs (markup in a
/// notice is shown as text); a withdrawn notice disappears and its page answers 404; every
/// published version of a document is listed, the newest marked 現行; the delegated
/// signers are named for what they sign, not as issuing CAs.
#[tokio::test]
async fn art24_repository_shows_notices_and_every_document_version() {
    let p = world().await;
    let w = &p.w;
    let center = crate::api_fixture::admin();
    let first = kmn_app::ra::public_notices::publish(
        &w.app,
        &center,
        "年末年始の受付について",
        "12月29日から1月3日まで受付を休止します。\n\n緊急失効は24時間受け付けます。",
    )
    .await
    .unwrap();
    w.clock.advance(time::Duration::minutes(1));
    let second = kmn_app::ra::public_notices::publish(
        &w.app,
        &center,
        "<script>alert(1)</script> の表示",
        "本文",
    )
    .await
    .unwrap();
    let file = b"%PDF-1.4 terms v2".to_vec();
    kmn_app::ra::documents::publish(&w.app, &center, "terms", "9.00", "terms.pdf", file)
        .await
        .unwrap();
    let page = p.get(None, "/public/repository").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let b = &page.body;
    let (i1, i2) = (
        b.find("年末年始の受付について").expect("the first notice"),
        b.find("alert(1)").expect("the second notice"),
    );
    assert!(i2 < i1, "newest first");
    assert!(!b.contains("<script>"), "{b}");
    assert!(
        b.contains(&format!("href=\"/public/notices/{}\"", first.id)),
        "{b}"
    );
    assert!(b.contains("9.00（現行）"), "{b}");
    assert!(
        b.contains("/repo/terms/9.00") && b.matches("/repo/terms/").count() >= 2,
        "each version links its own file: {b}"
    );
    assert!(
        b.contains("監査ログ・失効の証明の署名者") || b.contains("OCSP応答の署名者"),
        "delegated signers by what they sign: {b}"
    );
    let n = p.get(None, &format!("/public/notices/{}", first.id)).await;
    assert_eq!(n.status, StatusCode::OK, "{}", n.body);
    assert!(
        n.body
            .contains("<p class=\"notice-body\">12月29日から1月3日まで受付を休止します。</p>")
            && n.body
                .contains("<p class=\"notice-body\">緊急失効は24時間受け付けます。</p>"),
        "paragraphs: {}",
        n.body
    );
    kmn_app::ra::public_notices::withdraw(&w.app, &center, &second.id, "表記の誤り")
        .await
        .unwrap();
    let gone = p.get(None, &format!("/public/notices/{}", second.id)).await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND, "{}", gone.body);
    assert!(
        gone.body.contains("このお知らせは見つかりません"),
        "{}",
        gone.body
    );
    let page = p.get(None, "/public/repository").await;
    assert!(!page.body.contains("alert(1)"), "{}", page.body);
    for bad in [
        "/public/notices/K0",
        "/public/notices/..%2F..",
        "/public/notices/K99999999",
    ] {
        assert_eq!(
            p.get(None, bad).await.status,
            StatusCode::NOT_FOUND,
            "{bad}"
        );
    }
}

/// 第12条 dual control in the portal: an operator's revocation proposal is shown to the
/// center with its content and hash; an operator cannot decide (403); the supervisor
/// approves the content they saw and the card's certificate is revoked; a changed hash
/// is refused (409) with nothing revoked.
#[tokio::test]
async fn art12_supervisor_decides_proposals_in_the_portal() {
    let p = world().await;
    let w = &p.w;
    let (_, card, _) = w.issued_card(&w.nurse_a).await;
    let (st, prop) = w
        .call(
            Some("operator"),
            Method::POST,
            "/api/v1/revocation-proposals",
            Some(json!({"ground": "breach", "card_ids": [card], "note": "規約違反の確認"})),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{prop}");
    let id = prop["id"].as_str().unwrap().to_string();
    let sha = prop["content_sha256"].as_str().unwrap().to_string();
    let list = p.get(Some("operator"), "/portal/proposals").await;
    assert!(
        list.body.contains(&id) && list.body.contains("承認待ち"),
        "{}",
        list.body
    );
    let q = p.get(Some("supervisor"), "/portal/queues").await;
    assert!(
        q.body.contains(
            "責任者の承認待ち（失効の提案など）</a></td><td class=\"num\" data-queue-count>1<"
        ),
        "{}",
        q.body
    );
    let page = p
        .get(Some("operator"), &format!("/portal/proposals/{id}"))
        .await;
    assert!(page.body.contains(&sha), "{}", page.body);
    assert!(
        !page.body.contains("この内容で承認する"),
        "an operator sees no decision form"
    );
    // The operator's own valid token: refused for want of the right, not of the token.
    let token = p.token("operator", "/portal/settings").await;
    let r = p
        .post(
            Some("operator"),
            &format!("/portal/proposals/{id}/approve"),
            &[("_token", &token), ("content_sha256", &sha)],
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    let page = p
        .get(Some("supervisor"), &format!("/portal/proposals/{id}"))
        .await;
    assert!(page.body.contains("この内容で承認する"), "{}", page.body);
    let st_token = page.token();
    let r = p
        .post(
            Some("supervisor"),
            &format!("/portal/proposals/{id}/approve"),
            &[("_token", &st_token), ("content_sha256", &"0".repeat(64))],
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    let card_page = p
        .get(Some("operator"), &format!("/portal/cards/{card}"))
        .await;
    assert!(
        card_page.body.contains("id=\"cert-status\">有効"),
        "{}",
        card_page.body
    );
    let r = p
        .post(
            Some("supervisor"),
            &format!("/portal/proposals/{id}/approve"),
            &[("_token", &st_token), ("content_sha256", &sha)],
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(
        r.body.contains("1枚の利用者カードの証明書を失効させました"),
        "{}",
        r.body
    );
    let card_page = p
        .get(Some("operator"), &format!("/portal/cards/{card}"))
        .await;
    assert!(
        card_page.body.contains("id=\"cert-status\">失効"),
        "{}",
        card_page.body
    );
}

/// 和暦 is a per-account display option (dates stay stored in UTC): the desk that
/// chooses it reads 令和8年11月26日, everyone else still 2026年11月26日.
#[tokio::test]
async fn issue12_wareki_is_a_per_account_display_option() {
    let p = world().await;
    let w = &p.w;
    let (card, _) = w.personalized_card(&w.nurse_a, "0a1b2c3d4e5f6789").await;
    let page = p
        .get(Some("desk_a"), &format!("/portal/cards/{card}"))
        .await;
    assert!(page.body.contains("2026年11月26日"), "{}", page.body);
    let token = page.token();
    let r = p
        .post(
            Some("desk_a"),
            "/portal/settings",
            &[("_token", &token), ("date_style", "showa")],
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    let r = p
        .post(
            Some("desk_a"),
            "/portal/settings",
            &[("_token", &token), ("date_style", "era")],
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(r.body.contains("保存しました"), "{}", r.body);
    let page = p
        .get(Some("desk_a"), &format!("/portal/cards/{card}"))
        .await;
    assert!(page.body.contains("令和8年11月26日"), "{}", page.body);
    assert!(!page.body.contains("2026年11月26日"), "{}", page.body);
    let page = p
        .get(Some("operator"), &format!("/portal/cards/{card}"))
        .await;
    assert!(page.body.contains("2026年11月26日"), "{}", page.body);
}

/// The portal's own reads (work queues, timeline, logs with filters, kana search,
/// dashboard, the receipt by a normalised serial) on PostgreSQL too.
#[tokio::test]
async fn issue12_portal_reads_on_postgresql() {
    let Some(url) = crate::support::pg_url("portal").await else {
        return;
    };
    let w = World::new(&url).await;
    let router = kmn_web::https_router(w.app.clone());
    let p = Portal { w, router };
    let w = &p.w;
    let (card, _) = w.shipped_card(&w.nurse_a, "0a1b2c3d4e5f6789").await;
    let q = p.get(Some("operator"), "/portal/queues").await;
    assert_eq!(q.status, StatusCode::OK, "{}", q.body);
    assert!(
        q.body
            .contains("受領確認待ち（発送済み）</a></td><td class=\"num\" data-queue-count>1<"),
        "{}",
        q.body
    );
    let token = p.token("desk_a", "/portal/receipt").await;
    let r = p
        .post(
            Some("desk_a"),
            "/portal/receipt",
            &[
                ("_token", &token),
                ("token_serial", " 0a1b-2C3D-4e5f-6789 "),
            ],
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    for (who, path, needle) in [
        (
            "desk_a",
            format!("/portal/cards/{card}"),
            "受領確認".to_string(),
        ),
        (
            "operator",
            "/portal/persons?kana=%E3%82%84%E3%81%BE%E3%81%A0".to_string(),
            "ヤマダ".to_string(),
        ),
        (
            "operator",
            "/portal/dashboard".to_string(),
            "<svg".to_string(),
        ),
        (
            "auditor",
            format!("/portal/audit?object=card:{card}&action=card."),
            format!("card:{card}"),
        ),
        (
            "auditor",
            format!("/portal/access-log?facility={}&from=2026-01-01", w.fac_a),
            format!("card:{card}/delivery"),
        ),
    ] {
        let page = p.get(Some(who), &path).await;
        assert_eq!(page.status, StatusCode::OK, "{who} {path}: {}", page.body);
        assert!(
            page.body.contains(&needle),
            "{who} {path}: {needle}: {}",
            page.body
        );
    }
}

// --- The browser tests ---------------------------------------------------------------------

/// A running `kmn up` (killed on drop) and its HTTPS address.
pub(crate) struct Up {
    child: std::process::Child,
    pub(crate) https: String,
}

impl Drop for Up {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(crate) fn kmn_up(env: &crate::support::Env) -> Up {
    use std::io::BufRead;
    let mut c = env.cmd(&["up"]);
    c.env_remove("KMN_CA_PASSPHRASE")
        .env("KMN_HTTP_LISTEN", "127.0.0.1:0")
        .env("KMN_HTTPS_LISTEN", "127.0.0.1:0")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null());
    let mut child = c.spawn().expect("kmn up");
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let mut https = String::new();
    let mut portal = false;
    while https.is_empty() || !portal {
        let Some(Ok(l)) = lines.next() else {
            let _ = child.kill();
            panic!("kmn up stopped before serving");
        };
        if let Some(u) = l.strip_prefix("kmn: API at ") {
            https = u
                .trim_end_matches("/api/v1/")
                .trim_start_matches("https://")
                .to_string();
        }
        // The banner's promise: the portal is served.
        portal |= l.starts_with("kmn: portal at https://");
    }
    std::thread::spawn(move || for _ in lines {});
    Up { child, https }
}

pub(crate) fn der_of_pem(pem: &str) -> Vec<u8> {
    use base64::Engine;
    let b64: String = pem
        .lines()
        .skip_while(|l| !l.starts_with("-----BEGIN CERTIFICATE"))
        .skip(1)
        .take_while(|l| !l.starts_with("-----END"))
        .collect();
    base64::engine::general_purpose::STANDARD
        .decode(b64)
        .unwrap()
}

/// The browser tests' logins: `KMN_<WHO>_CERT`/`_KEY` of the demo's desk, operator,
/// supervisor and auditor (PEM files `kmn up` writes under `<data-dir>/demo/`).
pub(crate) fn demo_logins(demo: &std::path::Path) -> Vec<(String, std::path::PathBuf)> {
    let mut v = Vec::new();
    for (who, file) in [
        ("DESK", "facility_desk"),
        ("OPERATOR", "operator"),
        ("SUPERVISOR", "supervisor"),
        ("AUDITOR", "auditor"),
    ] {
        v.push((format!("KMN_{who}_CERT"), demo.join(format!("{file}.pem"))));
        v.push((format!("KMN_{who}_KEY"), demo.join(format!("{file}.key"))));
    }
    v
}

/// What the browser tests need on this machine: Node.js, Debian's Chromium and the
/// project's node modules (`scripts/test` installs them). None (a skip) outside CI.
pub(crate) fn browser_tools() -> Option<std::path::PathBuf> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/browser");
    let chromium = std::env::var("KMN_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    let node = std::process::Command::new("node")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    let modules = dir.join("node_modules/playwright-core").exists()
        && dir.join("node_modules/axe-core").exists();
    let ok = node && std::path::Path::new(&chromium).exists() && modules;
    match ok {
        true => Some(dir),
        false if crate::support::in_ci() => panic!(
            "the browser tests need node, {chromium} and tests/browser/node_modules in CI (scripts/test installs them: apt-get install chromium; npm ci in tests/browser)"
        ),
        false => {
            eprintln!(
                "SKIP: browser tests (node: {node}, chromium: {}, node_modules: {modules})",
                std::path::Path::new(&chromium).exists()
            );
            None
        }
    }
}

/// The portal in a real browser (issue 12): Chromium through playwright-core against
/// `kmn up`, logged in with client certificates — the demo desk and operator that
/// `kmn up` writes, and a desk of a second facility made here. The desk confirms a
/// shipped card's receipt by typing its serial in upper case with hyphens; the operator's
/// work queue counts move; a desk of facility A opening facility B gets the Japanese
/// 403 page; a form without its token and a forged cross-site post are refused; pages
/// carry the CSP; axe-core finds no serious or critical violation. Screenshots are kept
/// under `target/portal-screenshots/`.
#[tokio::test]
async fn issue12_portal_in_chromium_with_client_certificates() {
    use kmn_app::rights::Capability;
    let Some(dir) = browser_tools() else { return };
    let env = crate::support::Env::new();
    let up = kmn_up(&env);
    let app = env.app().await;
    let demo = env.data_dir().join("demo");
    let actor_of = |role: &str| {
        let pem = std::fs::read_to_string(demo.join(format!("{role}.pem"))).unwrap();
        der_of_pem(&pem)
    };
    let desk = kmn_app::actor::authenticate(&app, &actor_of("facility_desk"))
        .await
        .unwrap();
    let operator = kmn_app::actor::authenticate(&app, &actor_of("operator"))
        .await
        .unwrap();
    let station = kmn_app::actor::authenticate(&app, &actor_of("station"))
        .await
        .unwrap();
    let desk_r = kmn_app::rights::Registrar::from_actor(&desk).unwrap();
    let center = kmn_app::rights::Center::from_actor(&operator).unwrap();
    let station = kmn_app::rights::Station::from_actor(&station).unwrap();
    let fac_a = kmn_app::quickstart::demo_facility_code();
    // The demo nurse's card: applied for by the desk, approved by the operator,
    // personalized (token serial in lower case, as SoftHSM reports it), shipped.
    let nurse = kmn_app::ra::persons::list(&app, &center.reader(), &fac_a, None, 100)
        .await
        .unwrap()
        .into_iter()
        .find(|p| p.profession == "nurse")
        .unwrap();
    let a = kmn_app::ra::applications::create(
        &app,
        &desk_r,
        &kmn_app::ra::applications::ApplicationInput {
            facility_code: fac_a.clone(),
            holder_id: nurse.holder_id.clone(),
            kind: "new".into(),
            validity_years: Some(5),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    kmn_app::ra::applications::act(
        &app,
        &desk_r,
        &a.id,
        kmn_domain::ApplicationAction::Submit,
        None,
    )
    .await
    .unwrap();
    kmn_app::ra::applications::review(
        &app,
        &center,
        &a.id,
        kmn_domain::ApplicationAction::Approve,
        None,
    )
    .await
    .unwrap();
    let (key, _) = kmn_pki::keys::SoftwareKey::generate(kmn_pki::keys::KeyAlgorithm::P256).unwrap();
    let csr =
        kmn_pki::csr::build(&kmn_pki::name::DistinguishedName::default().to_der(), &key).unwrap();
    let issued = kmn_app::station::issue(
        &app,
        &station,
        &a.id,
        &csr,
        &kmn_app::station::KeyReport {
            alg: "p256".into(),
            local: true,
            never_extractable: true,
            sensitive: true,
        },
    )
    .await
    .unwrap();
    kmn_app::station::complete(
        &app,
        &station,
        &a.id,
        &kmn_app::station::StationRecord {
            card_id: issued.card_id.clone(),
            serial_hex: issued.serial_hex.clone(),
            token_serial: "0a1b2c3d4e5f6789".into(),
            revocation_code: "123456789012".into(),
            summary: "browser test station".into(),
            mailer_file: "/nonexistent/mailer.pdf".into(),
            mailer_sha256: "00".into(),
        },
        "center",
    )
    .await
    .unwrap();
    kmn_app::ra::delivery::ship(&app, &center, &issued.card_id, "簡易書留", None)
        .await
        .unwrap();
    // A second facility with its own desk (the desk's card is that facility's card).
    let admin = kmn_app::rights::CaAdmin::local(Some("cli:browser-test"));
    let fac_b = crate::api_fixture::facility_code(4, 200);
    kmn_app::ra::facilities::register(
        &app,
        &admin.center(),
        &kmn_app::ra::facilities::FacilityInput {
            code: fac_b.clone(),
            kind: "pharmacy".into(),
            name_kanji: "水前寺薬局".into(),
            name_kana: "スイゼンジヤッキョク".into(),
            name_romaji: "Suizenji Pharmacy".into(),
            postal_code: "862-0950".into(),
            address: "熊本県熊本市中央区水前寺1-1-1".into(),
            phone: "096-111-1111".into(),
            email: "desk@suizenji.example.jp".into(),
        },
    )
    .await
    .unwrap();
    for kind in ["cps", "terms", "privacy_policy"] {
        kmn_app::ra::facilities::consent(
            &app,
            &admin.registrar(),
            &fac_b,
            kind,
            "demo-1",
            "薬局 次郎",
        )
        .await
        .unwrap();
    }
    let mut desk_b_in = crate::api_fixture::person_input(
        &fac_b,
        "薬局 次郎",
        "ヤッキョク ジロウ",
        "Jiro Yakkyoku",
        "medical_clerk",
        true,
    );
    desk_b_in.is_desk = true;
    let (desk_b_person, _) = kmn_app::ra::persons::register(&app, &admin.registrar(), &desk_b_in)
        .await
        .unwrap();
    let (key_b, pkcs8_b) =
        kmn_pki::keys::SoftwareKey::generate(kmn_pki::keys::KeyAlgorithm::P256).unwrap();
    let cert_b = kmn_app::quickstart::demo_desk_card(
        &app,
        &admin.center(),
        &fac_b,
        &desk_b_person.holder_id,
        "薬局 次郎",
        &key_b,
    )
    .await
    .unwrap();
    kmn_app::ra::accounts::add(
        &app,
        &admin.center(),
        kmn_app::ra::accounts::NewAccount {
            role: kmn_app::actor::Role::FacilityDesk,
            display_name: "薬局 次郎".into(),
            cert_der: cert_b.clone(),
            facility_code: Some(fac_b.clone()),
            holder_id: Some(desk_b_person.holder_id.clone()),
            person_id: None,
        },
    )
    .await
    .unwrap();
    let card_b = kmn_app::ra::delivery::list(&app, &admin.reader(), Some(&fac_b), None, None, 10)
        .await
        .unwrap()[0]
        .id
        .clone();
    let creds = env.path("browser-creds");
    std::fs::create_dir_all(&creds).unwrap();
    std::fs::write(creds.join("desk-b.pem"), kmn_pki::cert::to_pem(&cert_b)).unwrap();
    crate::support::write_secret(
        &creds.join("desk-b.key"),
        &kmn_pki::cert::pem_encode("PRIVATE KEY", &pkcs8_b),
    );
    // A person of facility B whose paper application the center enters, with a real PDF
    // as its scan.
    let paper_holder = kmn_app::ra::persons::register(
        &app,
        &admin.registrar(),
        &crate::api_fixture::person_input(
            &fac_b,
            "水前寺 花子",
            "スイゼンジ ハナコ",
            "Hanako Suizenji",
            "pharmacist",
            true,
        ),
    )
    .await
    .unwrap()
    .0
    .holder_id;
    let scan = creds.join("paper-form.pdf");
    std::fs::write(&scan, PAPER_PDF).unwrap();
    // Data on the remaining pages: a pending proposal (第12条) for the supervisor's
    // decision page, and a physician's HPKI certificate the desk uploads (第4条).
    let proposal = kmn_app::ra::association::propose(
        &app,
        &center,
        kmn_domain::AssociationGround::Breach,
        &kmn_app::ra::association::Target::Cards(vec![card_b.clone()]),
        true,
        "規約違反の確認（ブラウザ試験）",
    )
    .await
    .unwrap();
    let hpki = crate::doctors::Hpki::new("HPKI Test Root CA");
    let doctor_pem = hpki.issue("browser-doctor", "Taro Isha", "auth");
    let public_notice = kmn_app::ra::public_notices::publish(
        &app,
        &center,
        "年末年始の受付について",
        "12月29日から1月3日まで、窓口での受付を休止します。\n\n緊急失効は24時間受け付けます。",
    )
    .await
    .unwrap();
    let artifacts =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/portal-screenshots");
    let out = std::process::Command::new("node")
        .arg("portal.test.js")
        .current_dir(&dir)
        .env("KMN_PORTAL_URL", format!("https://{}", up.https))
        .envs(demo_logins(&demo))
        .env("KMN_FACILITY_A", &fac_a)
        .env("KMN_PROPOSAL", &proposal.id)
        .env("KMN_DOCTOR_PEM", &doctor_pem)
        .env("KMN_PUBLIC_NOTICE", &public_notice.id)
        .env("KMN_DESK_B_CERT", creds.join("desk-b.pem"))
        .env("KMN_DESK_B_KEY", creds.join("desk-b.key"))
        .env("KMN_CARD_A", &issued.card_id)
        .env("KMN_CARD_SERIAL_TYPED", "0A1B-2C3D-4E5F-6789")
        .env("KMN_CARD_B", &card_b)
        .env("KMN_FACILITY_B", &fac_b)
        .env("KMN_PAPER_HOLDER", &paper_holder)
        .env("KMN_PAPER_SCAN", &scan)
        .env("KMN_ARTIFACTS", &artifacts)
        .output()
        .expect("node");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!("{text}");
    assert!(out.status.success(), "browser tests failed:\n{text}");
    assert!(text.contains("all browser checks passed"), "{text}");
    // The receipt went through the real server into the database.
    let v = kmn_app::ra::delivery::view(&app, &center.reader(), &issued.card_id)
        .await
        .unwrap();
    assert_eq!(v.card.state, "received");
    assert_eq!(v.delivery.receipt_channel.as_deref(), Some("desk"));
    drop(up);
}

/// A PDF as a scanner makes one (the use case checks the `%PDF-` signature).
const SCAN: &[u8] = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n";

/// 第5条・第6条 on the portal: the support center enters a paper application received
/// by post for a facility with its scan attached (the way a facility's first
/// application arrives) — draft and document recorded together or not at all; the
/// scan is shown in the application page (a same-origin frame of `application/pdf`,
/// the page's policy widened by `frame-src 'self'` only); a non-PDF, an oversized file
/// and a form without its token are refused in Japanese with nothing recorded. The
/// desk uploads documents to its own applications; every new route as every role and
/// another facility, with exact statuses.
#[tokio::test]
async fn art6_portal_paper_application_with_its_scan_and_desk_uploads() {
    let p = world().await;
    let w = &p.w;
    let fa = w.fac_a.clone();
    let form_page = format!("/portal/applications/new?facility={fa}");
    let page = p.get(Some("operator"), &form_page).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(
        page.body.contains("enctype=\"multipart/form-data\"")
            && page.body.contains("type=\"file\"")
            && page.body.contains("郵送で届いた申請書"),
        "{}",
        page.body
    );
    let token = page.token();
    let post_new = |t: String,
                    file: Option<(&'static str, &'static str, Vec<u8>)>,
                    hdr: Vec<(&'static str, &'static str)>| {
        let (fa, nurse) = (fa.clone(), w.nurse_a.clone());
        let p = &p;
        async move {
            let f = [
                ("_token", t.as_str()),
                ("facility_code", fa.as_str()),
                ("holder_id", nurse.as_str()),
                ("kind", "new"),
                ("validity_years", "5"),
            ];
            p.post_multipart(
                Some("operator"),
                "/portal/applications/new",
                &f,
                file.as_ref()
                    .map(|(n, ct, b)| ("document", *n, *ct, b.as_slice())),
                &hdr,
            )
            .await
        }
    };
    let before = w.counts().await;
    // Not a PDF: the field's own Japanese error, nothing recorded.
    let r = post_new(
        token.clone(),
        Some(("form.txt", "text/plain", b"hello".to_vec())),
        vec![],
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert!(
        r.body.contains("class=\"field-error\"") && r.body.contains("PDF"),
        "{}",
        r.body
    );
    assert_eq!(w.counts().await, before, "nothing recorded for a non-PDF");
    // Over 10 MiB: refused in Japanese, nothing recorded.
    let big = [b"%PDF-1.7\n".to_vec(), vec![b'x'; 10 * 1024 * 1024]].concat();
    let r = post_new(
        token.clone(),
        Some(("big.pdf", "application/pdf", big)),
        vec![],
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert!(r.body.contains("class=\"field-error\""), "{}", r.body);
    assert!(
        !r.body.contains("Payload") && !r.body.contains("bytes"),
        "{}",
        r.body
    );
    assert_eq!(
        w.counts().await,
        before,
        "nothing recorded for an oversized file"
    );
    // Over the form's own limit (a file far beyond 10 MiB): refused in Japanese too.
    let huge = [b"%PDF-1.7\n".to_vec(), vec![b'x'; 12 * 1024 * 1024]].concat();
    let r = post_new(
        token.clone(),
        Some(("huge.pdf", "application/pdf", huge)),
        vec![],
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    assert!(r.body.contains("PDF は10MBまでです"), "{}", r.body);
    assert_eq!(w.counts().await, before, "nothing recorded for a huge file");
    // Without the form token, or from another site: 403 before anything is read.
    let r = post_new(
        String::new(),
        Some(("form.pdf", "application/pdf", SCAN.to_vec())),
        vec![],
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    assert!(
        r.body.contains("フォームの有効期限が切れたか"),
        "{}",
        r.body
    );
    let r = post_new(
        token.clone(),
        Some(("form.pdf", "application/pdf", SCAN.to_vec())),
        vec![("origin", "https://evil.example")],
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    assert_eq!(
        w.counts().await,
        before,
        "nothing recorded without the token"
    );
    // The paper application with its scan: one draft, one document.
    let r = post_new(
        token.clone(),
        Some(("申請書.pdf", "application/pdf", SCAN.to_vec())),
        vec![],
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let location = r.headers["location"].to_str().unwrap().to_string();
    let app_id = location.rsplit('/').next().unwrap().to_string();
    let page = p.get(Some("operator"), &location).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let csp = page.headers["content-security-policy"].to_str().unwrap();
    assert!(
        csp.contains("frame-src 'self'")
            && csp.contains("frame-ancestors 'none'")
            && csp.contains("default-src 'none'")
            && !csp.contains("script-src"),
        "{csp}"
    );
    assert!(page.body.contains("申請書.pdf"), "{}", page.body);
    let i = page
        .body
        .find("<iframe class=\"pdf\" src=\"")
        .expect("the scan framed in the page");
    let rest = &page.body[i + "<iframe class=\"pdf\" src=\"".len()..];
    let doc_url = rest[..rest.find('"').unwrap()].to_string();
    assert!(doc_url.starts_with("/portal/documents/D"), "{doc_url}");
    // The PDF itself: application/pdf, nosniff, framed by this site only.
    let d = p.get(Some("operator"), &doc_url).await;
    assert_eq!(d.status, StatusCode::OK);
    assert_eq!(d.headers["content-type"], "application/pdf");
    assert_eq!(d.headers["x-content-type-options"], "nosniff");
    assert_eq!(d.headers["x-frame-options"], "SAMEORIGIN");
    let pdf_csp = d.headers["content-security-policy"].to_str().unwrap();
    assert!(
        pdf_csp.contains("frame-ancestors 'self'") && pdf_csp.contains("default-src 'none'"),
        "{pdf_csp}"
    );
    assert!(
        d.headers["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("inline")
    );
    assert_eq!(d.body.as_bytes(), SCAN);
    let (_, v) = w
        .call(
            Some("operator"),
            Method::GET,
            &format!("/api/v1/applications/{app_id}"),
            None,
        )
        .await;
    assert_eq!(v["documents"].as_array().map(Vec::len), Some(1), "{v}");

    // The desk uploads to its own application: refusals first, nothing recorded.
    let upload = format!("/portal/applications/{app_id}/documents");
    let desk_token = p.token("desk_a", "/portal/settings").await;
    let before = w.counts().await;
    let r = p
        .post_multipart(
            Some("desk_a"),
            &upload,
            &[("_token", &desk_token)],
            Some(("document", "photo.png", "image/png", b"\x89PNG\r\n\x1a\n")),
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert!(
        r.body.contains("申請書のスキャン（PDF）") && r.body.contains("PDF"),
        "{}",
        r.body
    );
    let r = p
        .post_multipart(
            Some("desk_a"),
            &upload,
            &[("_token", &desk_token)],
            None,
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    assert!(
        r.body.contains("添付するファイルを選んでください"),
        "{}",
        r.body
    );
    let r = p
        .post_multipart(
            Some("desk_a"),
            &upload,
            &[],
            Some(("document", "a.pdf", "application/pdf", SCAN)),
            &[],
        )
        .await;
    assert_eq!(
        r.status,
        StatusCode::FORBIDDEN,
        "without the token: {}",
        r.body
    );
    // A URL-encoded post (what a cross-site form could send without a file) is refused.
    let r = p
        .post(Some("desk_a"), &upload, &[("_token", &desk_token)], &[])
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    assert_eq!(w.counts().await, before, "nothing recorded by the refusals");

    // Every role and the other facility, with its own fresh token.
    let who: [Option<&str>; 8] = [
        None,
        Some("revoked"),
        Some("station"),
        Some("operator"),
        Some("supervisor"),
        Some("auditor"),
        Some("desk_a"),
        Some("desk_b"),
    ];
    let mut tokens = Vec::new();
    for w in who {
        tokens.push(match w {
            Some(n) if !matches!(n, "revoked" | "station") => p.token(n, "/portal/settings").await,
            _ => String::new(),
        });
    }
    let mut wrong = Vec::new();
    let expect_get = [401, 401, 403, 200, 200, 200, 200, 404];
    for (i, who) in who.iter().enumerate() {
        let page = p.get(*who, &doc_url).await;
        if page.status.as_u16() != expect_get[i] {
            wrong.push(format!("{who:?} GET {doc_url}: {}", page.status));
        }
    }
    let expect_post = [401, 401, 403, 200, 200, 403, 200, 404];
    for (i, who) in who.iter().enumerate() {
        let before = w.counts().await;
        let r = p
            .post_multipart(
                *who,
                &upload,
                &[("_token", &tokens[i])],
                Some(("document", "scan.pdf", "application/pdf", SCAN)),
                &[],
            )
            .await;
        if r.status.as_u16() != expect_post[i] {
            wrong.push(format!("{who:?} POST {upload}: {} {}", r.status, r.body));
        }
        if r.status == StatusCode::OK {
            assert!(
                r.body.contains("書類「scan.pdf」を添付しました。"),
                "{}",
                r.body
            );
        } else {
            assert_eq!(
                w.counts().await,
                before,
                "{who:?}: nothing recorded when refused"
            );
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    let (_, v) = w
        .call(
            Some("desk_a"),
            Method::GET,
            &format!("/api/v1/applications/{app_id}"),
            None,
        )
        .await;
    assert_eq!(v["documents"].as_array().map(Vec::len), Some(4), "{v}");

    // A desk enters its facility's application with the form attached as well; the
    // facility is its own whatever the form says.
    let desk_b_token = p.token("desk_b", "/portal/applications/new").await;
    let r = p
        .post_multipart(
            Some("desk_b"),
            "/portal/applications/new",
            &[
                ("_token", &desk_b_token),
                ("facility_code", &fa),
                ("holder_id", &w.nurse_b),
                ("kind", "new"),
                ("validity_years", "3"),
            ],
            Some(("document", "form.pdf", "application/pdf", SCAN)),
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let loc = r.headers["location"].to_str().unwrap().to_string();
    let page = p.get(Some("desk_b"), &loc).await;
    assert!(
        page.body.contains(&w.fac_b) && page.body.contains("form.pdf"),
        "{}",
        page.body
    );
    assert_eq!(
        p.get(Some("desk_a"), &loc).await.status,
        StatusCode::NOT_FOUND
    );
}

/// A minimal well-formed one-page PDF (a browser's viewer opens it).
const PAPER_PDF: &[u8] = b"%PDF-1.4
1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj
2 0 obj << /Type /Pages /Kids [3 0 R] /Count 1 >> endobj
3 0 obj << /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >> endobj
trailer << /Root 1 0 R >>
%%EOF
";

/// The id of the account that logs in with the fixture's certificate `who`.
async fn account_of(w: &World, who: &str) -> String {
    use sha2::Digest;
    let center = kmn_app::rights::CaAdmin::local(Some("test")).center();
    let fp = hex::encode(sha2::Sha256::digest(&w.certs[who]));
    kmn_app::ra::accounts::list(&w.app, &center)
        .await
        .unwrap()
        .into_iter()
        .find(|a| a.cert_fingerprint.eq_ignore_ascii_case(&fp))
        .unwrap_or_else(|| panic!("no account for {who}"))
        .id
}

/// The supervisor's accounts page: every account with its certificate; an account
/// disabled there no longer logs in. The post needs the form token; a desk or an
/// auditor cannot disable anything; nothing changes on a refusal.
#[tokio::test]
async fn issue12_supervisor_lists_and_disables_accounts_in_the_portal() {
    let p = world().await;
    let w = &p.w;
    let desk_b = account_of(w, "desk_b").await;
    let page = p.get(Some("supervisor"), "/portal/accounts").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(
        page.body.contains("アカウントと証明書")
            && page.body.contains(&format!("/portal/accounts/{desk_b}"))
            && page.body.contains("利用者カード")
            && page.body.contains("有効"),
        "{}",
        page.body
    );
    assert!(
        page.body.contains("href=\"/portal/accounts\""),
        "the supervisor's menu"
    );
    let uri = format!("/portal/accounts/{desk_b}/disable");
    // Refusals: no token, a desk's and an auditor's own tokens, another site.
    let r = p.post(Some("supervisor"), &uri, &[], &[]).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    for who in ["desk_a", "desk_b", "auditor"] {
        let t = p.token(who, "/portal/settings").await;
        let r = p.post(Some(who), &uri, &[("_token", &t)], &[]).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{who}: {}", r.body);
    }
    let t = p
        .token("supervisor", &format!("/portal/accounts/{desk_b}"))
        .await;
    let r = p
        .post(
            Some("supervisor"),
            &uri,
            &[("_token", &t)],
            &[("origin", "https://evil.example")],
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    assert_eq!(
        p.get(Some("desk_b"), "/").await.status,
        StatusCode::OK,
        "still enabled"
    );
    let r = p
        .post(
            Some("supervisor"),
            "/portal/accounts/no-such-account/disable",
            &[("_token", &t)],
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.body);
    // The supervisor disables desk B's account: it can no longer log in.
    let r = p
        .post(Some("supervisor"), &uri, &[("_token", &t)], &[])
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(
        r.body.contains("アカウントを停止しました") && r.body.contains("停止中"),
        "{}",
        r.body
    );
    let r = p.get(Some("desk_b"), "/portal/cards").await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    assert!(
        r.body.contains("このアカウントは無効化されています"),
        "{}",
        r.body
    );
    // The registry: facilities with their consents by document and version.
    let page = p.get(Some("supervisor"), "/portal/facilities").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(
        page.body.contains(&w.fac_a)
            && page.body.contains(&w.fac_b)
            && page.body.contains("利用規約"),
        "{}",
        page.body
    );
}

/// 利用規約第4条 and issue 11 item 3 on the portal: the desk uploads a doctor's HPKI
/// certificate for its facility and confirms; the center approves (or refuses, with a
/// reason); the binding is ended with its date. A file that is not a certificate is
/// refused in Japanese with nothing recorded; another facility's desk sees nothing;
/// a desk cannot approve; a post without its token is refused. Every new route as
/// every role and another facility, with exact statuses.
#[tokio::test]
async fn art4_portal_doctor_registry_enrol_confirm_approve_end() {
    let p = world().await;
    let w = &p.w;
    let hpki = crate::doctors::Hpki::new("HPKI Test Root CA");
    // The certificate is dated from now: the clock stands just after it.
    let now = time::OffsetDateTime::now_utc() + time::Duration::minutes(1);
    w.clock.set(now);
    let count = || async {
        kmn_app::ra::doctors::list(
            &w.app,
            &crate::api_fixture::admin().reader(),
            None,
            None,
            None,
            100,
        )
        .await
        .unwrap()
        .len()
    };
    let token = p.token("desk_a", "/portal/doctors").await;
    // Not a certificate: refused beside the form, nothing recorded.
    let r = p
        .post_multipart(
            Some("desk_a"),
            "/portal/doctors",
            &[("_token", &token)],
            Some(("certificate", "doc.pem", "application/x-pem-file", b"hello")),
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert!(
        r.body.contains("証明書を読み取れません") && r.body.contains("医師資格証の証明書"),
        "{}",
        r.body
    );
    let pem = std::fs::read(hpki.issue("m1", "Taro Isha", "auth")).unwrap();
    let r = p
        .post_multipart(
            Some("desk_a"),
            "/portal/doctors",
            &[],
            Some(("certificate", "doc.pem", "application/x-pem-file", &pem)),
            &[],
        )
        .await;
    assert_eq!(
        r.status,
        StatusCode::FORBIDDEN,
        "without the token: {}",
        r.body
    );
    assert_eq!(count().await, 0, "nothing recorded by the refusals");
    let r = p
        .post_multipart(
            Some("desk_a"),
            "/portal/doctors",
            &[("_token", &token)],
            Some(("certificate", "doc.pem", "application/x-pem-file", &pem)),
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let loc = r.headers["location"].to_str().unwrap().to_string();
    let id = loc.rsplit('/').next().unwrap().to_string();
    let page = p.get(Some("desk_a"), &loc).await;
    assert!(
        page.body.contains("受付（施設の確認待ち）") && page.body.contains("Taro Isha"),
        "{}",
        page.body
    );
    let list = p.get(Some("desk_a"), "/portal/doctors").await;
    assert!(list.body.contains(&id), "{}", list.body);
    assert!(
        !p.get(Some("desk_b"), "/portal/doctors")
            .await
            .body
            .contains(&id),
        "facility B sees nothing of A"
    );

    // Every role and the other facility.
    let who: [Option<&str>; 8] = [
        None,
        Some("revoked"),
        Some("station"),
        Some("operator"),
        Some("supervisor"),
        Some("auditor"),
        Some("desk_a"),
        Some("desk_b"),
    ];
    let rows: [(&str, [u16; 8]); 3] = [
        ("/portal/doctors", [401, 401, 403, 200, 200, 200, 200, 200]),
        (&loc, [401, 401, 403, 200, 200, 200, 200, 404]),
        (
            "/portal/doctors/B-none",
            [401, 401, 403, 404, 404, 404, 404, 404],
        ),
    ];
    let mut wrong = Vec::new();
    for (path, expected) in rows {
        for (i, who) in who.iter().enumerate() {
            let s = p.get(*who, path).await.status.as_u16();
            if s != expected[i] {
                wrong.push(format!(
                    "{who:?} GET {path}: {s} (expected {})",
                    expected[i]
                ));
            }
        }
    }
    // Posts as every role with its own token, before the desk confirms: only the
    // desk of the facility (and the center, which must name who confirmed) may.
    let mut tokens = Vec::new();
    for w in who {
        tokens.push(match w {
            Some(n) if !matches!(n, "revoked" | "station") => p.token(n, "/portal/settings").await,
            _ => String::new(),
        });
    }
    let act = |a: &str| format!("/portal/doctors/{id}/{a}");
    let posts: [(String, [u16; 8]); 3] = [
        (act("approve"), [401, 401, 403, 409, 409, 403, 403, 403]),
        (act("confirm"), [401, 401, 403, 422, 422, 403, 0, 404]),
        (act("nonsense"), [401, 401, 403, 404, 404, 404, 404, 404]),
    ];
    for (path, expected) in &posts {
        for (i, who) in who.iter().enumerate() {
            if expected[i] == 0 {
                continue;
            }
            let s = p
                .post(*who, path, &[("_token", tokens[i].as_str())], &[])
                .await
                .status
                .as_u16();
            if s != expected[i] {
                wrong.push(format!(
                    "{who:?} POST {path}: {s} (expected {})",
                    expected[i]
                ));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));

    // The desk confirms; the center approves.
    let r = p
        .post(
            Some("desk_a"),
            &act("confirm"),
            &[("_token", &tokens[6])],
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(
        r.body.contains("施設の確認を記録しました") && r.body.contains("施設確認済み"),
        "{}",
        r.body
    );
    let r = p
        .post(
            Some("desk_a"),
            &act("approve"),
            &[("_token", &tokens[6])],
            &[],
        )
        .await;
    assert_eq!(
        r.status,
        StatusCode::FORBIDDEN,
        "a desk cannot approve: {}",
        r.body
    );
    let r = p
        .post(
            Some("operator"),
            &act("approve"),
            &[("_token", &tokens[3])],
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(
        r.body.contains("承認しました") && r.body.contains("id=\"doctor-state\">有効"),
        "{}",
        r.body
    );
    // Ended with its date: a bad date first, in Japanese beside nothing recorded.
    let r = p
        .post(
            Some("desk_a"),
            &act("end"),
            &[
                ("_token", &tokens[6]),
                ("ended_on", "2026/12/31"),
                ("reason", "退職"),
            ],
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert!(
        r.body
            .contains("終了日を YYYY-MM-DD の形式で入力してください"),
        "{}",
        r.body
    );
    let day = (now + time::Duration::hours(9)).date();
    let ymd = format!(
        "{:04}-{:02}-{:02}",
        day.year(),
        u8::from(day.month()),
        day.day()
    );
    let r = p
        .post(
            Some("desk_a"),
            &act("end"),
            &[
                ("_token", &tokens[6]),
                ("ended_on", &ymd),
                ("reason", "退職"),
            ],
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let shown = format!("{}年{}月{}日", day.year(), u8::from(day.month()), day.day());
    assert!(
        r.body.contains("登録を終了しました") && r.body.contains(&shown) && r.body.contains("退職"),
        "{}",
        r.body
    );

    // The center refuses another one, with a reason (and not without).
    let pem2 = std::fs::read(hpki.issue("m2", "Hanako Isha", "auth")).unwrap();
    let t = p.token("supervisor", "/portal/doctors").await;
    let r = p
        .post_multipart(
            Some("supervisor"),
            "/portal/doctors",
            &[("_token", &t), ("facility_code", &w.fac_b)],
            Some(("certificate", "doc.der", "application/pkix-cert", &pem2)),
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let loc2 = r.headers["location"].to_str().unwrap().to_string();
    let r = p
        .post(
            Some("supervisor"),
            &format!("{loc2}/refuse"),
            &[("_token", &t), ("reason", "")],
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert!(
        r.body.contains("理由を200文字以内で入力してください"),
        "{}",
        r.body
    );
    let r = p
        .post(
            Some("supervisor"),
            &format!("{loc2}/refuse"),
            &[("_token", &t), ("reason", "証明書の名義が申請と異なります")],
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(r.body.contains("登録を却下しました"), "{}", r.body);
    assert_eq!(
        p.get(Some("desk_a"), &loc2).await.status,
        StatusCode::NOT_FOUND
    );
}

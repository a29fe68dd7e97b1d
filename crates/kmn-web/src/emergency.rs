//! The holders' emergency revocation form (第11条, issue 10 item 2), on its own HTTPS
//! listener that never asks for a client certificate (a phone's browser would pop up a
//! certificate picker): a Japanese page and a JSON variant. The holder types the card
//! number and the emergency code printed on the PIN mailer; the certificate is revoked
//! at once ([`kmn_app::ra::emergency::by_holder`]).
//!
//! - `GET /emergency`: the form, with a form token (an HMAC of its time under the
//!   center's pepper, valid 30 minutes).
//! - `POST /emergency` (`application/x-www-form-urlencoded`): the token and, when the
//!   browser sends one, the `Origin` must be this site; the answer is a page.
//! - `POST /emergency.json` (`application/json`, `{"card_number", "code", "reason"}`):
//!   the same, for an app; a cross-site form cannot send this media type.
//!
//! An unknown card and a wrong code get the same answer (and the same work); after
//! [`kmn_app::ra::emergency::MAX_CODE_FAILURES`] wrong codes for a card number the answer
//! is the support center's telephone number. Requests are limited per address by the
//! listener's rate limit like every public route.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use kmn_app::App;
use kmn_app::ra::emergency::{self, HolderAnswer};
use kmn_domain::EmergencyCause;

/// The routes of the emergency listener.
pub fn router(app: App) -> Router {
    Router::new()
        .route("/", get(form))
        .route("/emergency", get(form).post(submit_form))
        .route("/emergency.json", post(submit_json))
        .layer(axum::extract::DefaultBodyLimit::max(4096))
        .with_state(app)
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

fn page(status: StatusCode, title: &str, body: &str) -> Response {
    let html = format!(
        "<!DOCTYPE html>\n<html lang=\"ja\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<title>{title}｜くまもとメディカルネットワーク</title>\
<style>body{{font-family:sans-serif;max-width:34em;margin:1em auto;padding:0 1em;line-height:1.6}}\
label{{display:block;margin-top:1em;font-weight:bold}}input,select{{font-size:1.2em;width:100%;box-sizing:border-box;padding:.3em}}\
button{{margin-top:1.5em;font-size:1.2em;padding:.5em 1em;background:#b00;color:#fff;border:0;border-radius:.3em}}\
.note{{background:#fff4e5;padding:.8em;border-left:4px solid #e90}}</style></head>\
<body><h1>{title}</h1>{body}</body></html>\n"
    );
    let mut r = (status, html).into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'",
        ),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::STRICT_TRANSPORT_SECURITY,
        HeaderValue::from_static("max-age=31536000"),
    );
    r
}

async fn form(State(app): State<App>) -> Response {
    let Ok(token) = emergency::form_token(&app) else {
        return page(
            StatusCode::SERVICE_UNAVAILABLE,
            "緊急失効の受付",
            "<p>ただいま受付できません。サポートセンターへお電話ください。</p>",
        );
    };
    let phone = esc(&app.cfg.support_center_phone);
    page(
        StatusCode::OK,
        "利用者カードの緊急失効",
        &format!(
            "<p>利用者カードを紛失した、盗まれた、または不正に使われるおそれがあるときは、ここでカードの電子証明書をただちに失効させられます（利用規約第11条）。失効したカードは二度と使えません。</p>\
<form method=\"post\" action=\"/emergency\">\
<input type=\"hidden\" name=\"token\" value=\"{token}\">\
<label for=\"card_number\">カード番号（PIN通知書に記載、例 C00000002）</label>\
<input id=\"card_number\" name=\"card_number\" required autocomplete=\"off\" inputmode=\"latin\">\
<label for=\"code\">緊急失効コード（PIN通知書に記載の12桁。ハイフンはあってもなくても構いません）</label>\
<input id=\"code\" name=\"code\" required autocomplete=\"off\" inputmode=\"numeric\">\
<label for=\"reason\">理由</label>\
<select id=\"reason\" name=\"reason\"><option value=\"lost\">紛失</option><option value=\"stolen\">盗難</option><option value=\"feared_misuse\">不正使用のおそれ（PINを知られたなど）</option></select>\
<button type=\"submit\">このカードを失効させる</button></form>\
<p class=\"note\">PIN通知書が手元にないときは、サポートセンター（電話 {phone}、24時間受付）へお電話ください。</p>"
        ),
    )
}

/// The words of each answer (the page and the JSON say the same).
fn words(app: &App, a: &HolderAnswer) -> (StatusCode, &'static str, String) {
    let phone = &app.cfg.support_center_phone;
    match a {
        HolderAnswer::Revoked { card_id, revoked_at } => (
            StatusCode::OK,
            "revoked",
            format!(
                "利用者カード {card_id} の電子証明書を失効させました（{}）。このカードはもう使えません。施設の窓口に紛失の届出をしてください。カードが見つかっても使わず、窓口に返却してください。",
                time::OffsetDateTime::from_unix_timestamp(*revoked_at)
                    .map(kmn_domain::time_fmt::ja_datetime)
                    .unwrap_or_default()
            ),
        ),
        HolderAnswer::AlreadyRevoked { card_id } => (
            StatusCode::OK,
            "already_revoked",
            format!("利用者カード {card_id} は既に失効しています。このカードは使えません。"),
        ),
        HolderAnswer::Refused => (
            StatusCode::UNPROCESSABLE_ENTITY,
            "refused",
            "カード番号または緊急失効コードが正しくありません。PIN通知書に記載のカード番号と緊急失効コードをご確認ください。".into(),
        ),
        HolderAnswer::LockedOut => (
            StatusCode::TOO_MANY_REQUESTS,
            "locked_out",
            format!(
                "入力の誤りが続いたため、このカード番号の受付を停止しました。サポートセンター（電話 {phone}、24時間受付）へお電話ください。"
            ),
        ),
    }
}

fn cause(reason: &str) -> Option<EmergencyCause> {
    reason.parse().ok()
}

fn same_origin(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN) else {
        // Browsers send Origin on a cross-site POST; its absence is a same-site form or
        // a non-browser client (which needs the form token anyway).
        return true;
    };
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default();
    origin.to_str().ok() == Some(format!("https://{host}").as_str())
}

async fn submit_form(
    State(app): State<App>,
    ConnectInfo(peer): ConnectInfo<std::net::SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if !same_origin(&headers) {
        return page(
            StatusCode::FORBIDDEN,
            "受付できません",
            "<p>このページからの送信ではないため受付できません。<a href=\"/emergency\">緊急失効のページ</a>から操作してください。</p>",
        );
    }
    let fields: std::collections::HashMap<String, String> =
        serde_urlencoded::from_bytes::<Vec<(String, String)>>(&body)
            .unwrap_or_default()
            .into_iter()
            .collect();
    let get = |k: &str| fields.get(k).map(String::as_str).unwrap_or_default();
    if !emergency::form_token_ok(&app, get("token")) {
        return page(
            StatusCode::FORBIDDEN,
            "受付できません",
            "<p>ページの有効期限（30分）が切れました。<a href=\"/emergency\">もう一度開いて</a>入力してください。</p>",
        );
    }
    let Some(c) = cause(get("reason")) else {
        return page(
            StatusCode::UNPROCESSABLE_ENTITY,
            "受付できません",
            "<p>理由を選んでください。<a href=\"/emergency\">戻る</a></p>",
        );
    };
    match emergency::by_holder(
        &app,
        get("card_number"),
        get("code"),
        c,
        &peer.ip().to_string(),
    )
    .await
    {
        Ok(a) => {
            let (st, _, msg) = words(&app, &a);
            let title = if st == StatusCode::OK {
                "失効を受け付けました"
            } else {
                "受付できません"
            };
            page(st, title, &format!("<p>{}</p>", esc(&msg)))
        }
        Err(e) => {
            tracing::error!(error = %e, "emergency form");
            page(
                StatusCode::SERVICE_UNAVAILABLE,
                "受付できません",
                &format!(
                    "<p>ただいま受付できません。サポートセンター（電話 {}）へお電話ください。</p>",
                    esc(&app.cfg.support_center_phone)
                ),
            )
        }
    }
}

async fn submit_json(
    State(app): State<App>,
    ConnectInfo(peer): ConnectInfo<std::net::SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let json = |st: StatusCode, v: serde_json::Value| {
        let mut r = (st, axum::Json(v)).into_response();
        r.headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        r
    };
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(';').next().unwrap_or("").trim() == "application/json");
    if !is_json {
        return json(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            serde_json::json!({"status": "refused", "message": "Content-Type は application/json にしてください"}),
        );
    }
    // Decoded as every API body is (the hostile corpus and the fuzz target cover it):
    // unreadable JSON 400, a missing or unknown field 422.
    let b = match axum::Json::<kmn_api_types::HolderEmergencyIn>::from_bytes(&body) {
        Ok(axum::Json(b)) => b,
        Err(r) => {
            return json(
                crate::api::error::json_rejection(r).status(),
                serde_json::json!({"status": "refused", "message": "card_number, code, reason（lost, stolen, feared_misuse）を JSON で送ってください"}),
            );
        }
    };
    let Some(c) = cause(&b.reason) else {
        return json(
            StatusCode::UNPROCESSABLE_ENTITY,
            serde_json::json!({"status": "refused", "message": "reason は lost, stolen, feared_misuse のいずれかです"}),
        );
    };
    match emergency::by_holder(&app, &b.card_number, &b.code, c, &peer.ip().to_string()).await {
        Ok(a) => {
            let (st, status, msg) = words(&app, &a);
            json(st, serde_json::json!({"status": status, "message": msg}))
        }
        Err(e) => {
            tracing::error!(error = %e, "emergency form (JSON)");
            json(
                StatusCode::SERVICE_UNAVAILABLE,
                serde_json::json!({"status": "unavailable", "message": format!("ただいま受付できません。サポートセンター（電話 {}）へお電話ください。", app.cfg.support_center_phone)}),
            )
        }
    }
}

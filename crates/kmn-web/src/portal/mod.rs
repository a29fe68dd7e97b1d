//! The portal (issue 12): server-rendered Japanese pages on the HTTPS listener for the
//! support center, facility desks (窓口), supervisors and auditors, and public pages.
//!
//! - Logged in by client certificate exactly like the API: the same [`Caller`]
//!   (certificate → account → [`kmn_app::actor::Actor`]) and the same capabilities
//!   (`Center`, `Registrar`, `Reader`, `Supervisor`, `Auditor`), then the same kmn-app use
//!   cases. No rule lives in a handler or a template: a refusal is the use case's own
//!   error, shown on a Japanese error page with its status (400 with field-level
//!   messages, 403, 404, 409, 422).
//! - Works without JavaScript; there is none. The stylesheet is ours
//!   (`/static/portal.css`), no CDN. Every page carries a `Content-Security-Policy`
//!   without any script source and with `frame-ancestors 'none'`, `no-store` caching
//!   and `nosniff`.
//! - Client certificates are ambient credentials, so every state-changing form carries
//!   a token bound to the account and the time under the server's secret
//!   ([`kmn_app::portal::form_token`]); a post without it, or from another origin, is
//!   refused (403) before anything is read or changed. The API refuses form media types
//!   for the same reason ([`crate::api`]).
//! - Dates are shown as 2026年12月2日 in JST (stored UTC); names in kanji with kana.

mod pages;
mod public;
mod svg;

use askama::Template;
use axum::Router;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use kmn_app::actor::{Actor, Role};
use kmn_app::{App, AppError};
use serde::de::DeserializeOwned;

use crate::api::auth::Caller;
use crate::api::error::{ApiError, status_of};

/// The stylesheet, served by us.
pub const CSS: &str = include_str!("../../static/portal.css");

/// The Content-Security-Policy of every portal page: no script at all, styles from
/// this site only, forms post to this site only, never framed.
pub const CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// [`CSP`] plus `frame-src 'self'`: the application page, which shows its attached PDF
/// in the page.
pub const CSP_FRAMING: &str = "default-src 'none'; style-src 'self'; img-src 'self' data:; frame-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// The policy of an attached PDF served to the portal: nothing loaded by it, framed by
/// this site's pages only.
pub const CSP_PDF: &str =
    "default-src 'none'; frame-ancestors 'self'; form-action 'none'; base-uri 'none'";

/// The port the holders' emergency form is bound to ([`crate::start`] adds it to the
/// HTTPS routes): the public repository page links the form there, also when
/// `emergency_listen` names port 0. Without it (a router built in-process) the port of
/// `emergency_listen` is linked.
#[derive(Clone, Copy, Debug)]
pub struct EmergencyPort(pub u16);

/// The body limit of the forms that carry a scanned form: the document limit
/// (`kmn_domain::MAX_DOCUMENT_BYTES`, 10 MiB) plus room for the other fields, so that
/// a file just over the limit is still refused by the use case in Japanese.
const UPLOAD_BODY_LIMIT: usize = 11 * 1024 * 1024;

/// The portal's routes (no fallback: [`crate::https_router`] adds [`not_found`] for
/// every unknown path outside the API).
pub fn router(app: App) -> Router {
    Router::new()
        .route("/", get(pages::home))
        .route("/portal", get(pages::home))
        .route("/portal/", get(pages::home))
        .route("/static/portal.css", get(css))
        .route("/public/repository", get(public::repository))
        .route("/public/notices/{id}", get(public::notice))
        .route("/portal/cards", get(pages::cards))
        .route("/portal/cards/{id}", get(pages::card))
        .route("/portal/cards/{id}/handover", post(pages::handover))
        .route("/portal/cards/{id}/emergency", post(pages::emergency))
        .route("/portal/cards/{id}/ship", post(pages::ship))
        .route(
            "/portal/certificates/{serial}/revocation-letter",
            get(pages::revocation_letter),
        )
        .route(
            "/portal/certificates/{serial}/revocation-receipt",
            get(pages::revocation_receipt),
        )
        .route(
            "/portal/receipt",
            get(pages::receipt_form).post(pages::receipt),
        )
        .route("/portal/notices", get(pages::notices))
        .route(
            "/portal/applications/new",
            get(pages::application_form)
                .post(pages::application_create)
                .layer(axum::extract::DefaultBodyLimit::max(UPLOAD_BODY_LIMIT)),
        )
        .route(
            "/portal/applications/{id}/documents",
            post(pages::document_upload)
                .layer(axum::extract::DefaultBodyLimit::max(UPLOAD_BODY_LIMIT)),
        )
        .route("/portal/documents/{id}", get(pages::document))
        .route("/portal/applications", get(pages::applications))
        .route("/portal/applications/{id}", get(pages::application))
        .route(
            "/portal/applications/{id}/submit",
            post(pages::application_submit),
        )
        .route(
            "/portal/applications/{id}/approve",
            post(pages::application_approve),
        )
        .route(
            "/portal/applications/{id}/return",
            post(pages::application_return),
        )
        .route("/portal/queues", get(pages::queues))
        .route("/portal/persons", get(pages::persons))
        .route(
            "/portal/doctors",
            get(pages::doctors_list).post(pages::doctor_enrol),
        )
        .route("/portal/doctors/{id}", get(pages::doctor))
        .route("/portal/doctors/{id}/{action}", post(pages::doctor_act))
        .route("/portal/facilities", get(pages::facilities_list))
        .route("/portal/facilities/{code}", get(pages::facility))
        .route("/portal/accounts", get(pages::accounts))
        .route("/portal/accounts/{id}", get(pages::account))
        .route(
            "/portal/accounts/{id}/disable",
            post(pages::account_disable),
        )
        .route("/portal/pin-mailers", get(pages::pin_mailers))
        .route(
            "/portal/pin-mailers/{id}/dispatched",
            post(pages::mailer_dispatched),
        )
        .route("/portal/audit", get(pages::audit))
        .route("/portal/audit.csv", get(pages::audit_csv))
        .route("/portal/access-log", get(pages::access))
        .route("/portal/access-log.csv", get(pages::access_csv))
        .route("/portal/proposals", get(pages::proposals))
        .route("/portal/proposals/{id}", get(pages::proposal))
        .route(
            "/portal/proposals/{id}/approve",
            post(pages::proposal_approve),
        )
        .route(
            "/portal/proposals/{id}/reject",
            post(pages::proposal_reject),
        )
        .route("/portal/dashboard", get(pages::dashboard))
        .route(
            "/portal/settings",
            get(pages::settings).post(pages::settings_save),
        )
        .layer(axum::extract::DefaultBodyLimit::max(64 * 1024))
        .layer(axum::middleware::from_fn_with_state(
            app.clone(),
            date_style,
        ))
        .layer(axum::middleware::from_fn(portal_headers))
        .with_state(app)
}

tokio::task_local! {
    /// The date style of the account the page is rendered for.
    static DATE_STYLE: kmn_app::portal::DateStyle;
}

/// Renders the request's page with the account's own date style (西暦 or 和暦).
async fn date_style(
    axum::extract::State(app): axum::extract::State<App>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let mut style = kmn_app::portal::DateStyle::Western;
    if let Some(crate::api::auth::PeerCert(der)) = req.extensions().get().cloned()
        && let Ok(actor) = kmn_app::actor::authenticate(&app, &der).await
        && let Ok(s) = kmn_app::portal::date_style(&app, &actor).await
    {
        style = s;
    }
    DATE_STYLE.scope(style, next.run(req)).await
}

fn era() -> bool {
    DATE_STYLE
        .try_with(|s| *s == kmn_app::portal::DateStyle::Era)
        .unwrap_or(false)
}

async fn css() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        CSS,
    )
        .into_response()
}

/// The security headers of every portal response.
fn secure(resp: &mut Response) {
    let h = resp.headers_mut();
    // A page that frames its own PDF (and the PDF itself) sets its own, minimally
    // widened policy ([`CSP_FRAMING`], [`CSP_PDF`]); every other response gets [`CSP`].
    if !h.contains_key(header::CONTENT_SECURITY_POLICY) {
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CSP),
        );
    }
    if !h.contains_key(header::X_FRAME_OPTIONS) {
        h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    }
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
}

async fn portal_headers(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let mut resp = next.run(req).await;
    secure(&mut resp);
    resp
}

/// Every unknown path outside `/api/`: the Japanese 404 page (the API keeps its JSON
/// error body).
pub async fn not_found(uri: axum::http::Uri) -> Response {
    if uri.path().starts_with("/api/") {
        let mut r =
            crate::api::error::ProtocolError::for_status(StatusCode::NOT_FOUND).into_response();
        r.headers_mut().insert(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        );
        return r;
    }
    let mut r = PageError::new(
        AppError::NotFound("お探しのページは見つかりません。".into()),
        None,
    )
    .into_response();
    secure(&mut r);
    r
}

// --- Who is logged in -----------------------------------------------------------------

/// A link of the navigation.
#[derive(Clone, Debug)]
pub struct Link {
    pub href: &'static str,
    pub label: &'static str,
}

/// The person at the screen, as the layout shows them.
#[derive(Clone, Debug)]
pub struct Me {
    /// Display name.
    pub name: String,
    /// Role label (窓口, サポートセンター担当者, …).
    pub role: String,
    /// The desk's facility.
    pub facility: Option<String>,
    /// The links of this role.
    pub nav: Vec<Link>,
    /// The form token for this page's forms.
    pub token: String,
}

fn nav_of(role: Role) -> Vec<Link> {
    let l = |href, label| Link { href, label };
    let mut v = vec![l("/", "ホーム")];
    match role {
        Role::FacilityDesk => v.extend([
            l("/portal/cards", "利用者カード"),
            l("/portal/receipt", "受領確認"),
            l("/portal/applications", "申請"),
            l("/portal/applications/new", "新規申請"),
            l("/portal/notices", "お知らせ"),
            l("/portal/doctors", "医師の登録"),
        ]),
        Role::Operator | Role::Supervisor => {
            v.extend([
                l("/portal/queues", "作業一覧"),
                l("/portal/applications", "申請"),
                l("/portal/cards", "利用者カード"),
                l("/portal/persons", "利用者検索"),
                l("/portal/facilities", "施設"),
                l("/portal/doctors", "医師の登録"),
                l("/portal/pin-mailers", "PIN通知書"),
                l("/portal/proposals", "承認待ち"),
                l("/portal/dashboard", "ダッシュボード"),
            ]);
            if role == Role::Supervisor {
                v.push(l("/portal/accounts", "アカウント"));
            }
        }
        Role::Auditor => v.extend([
            l("/portal/audit", "監査ログ"),
            l("/portal/access-log", "個人情報アクセス記録"),
        ]),
        Role::Station => {}
    }
    v.push(l("/portal/settings", "表示設定"));
    v.push(l("/public/repository", "リポジトリ"));
    v
}

/// The logged-in caller of a portal page: the same authentication as the API.
#[derive(Clone, Debug)]
pub struct Portal {
    pub actor: Actor,
    pub me: Me,
}

impl Portal {
    /// The capability `C` of the caller, or the error page.
    pub fn right<C: kmn_app::rights::Capability>(&self) -> Result<C, PageError> {
        C::from_actor(&self.actor).map_err(|e| self.fail(e))
    }

    /// An error page for this caller.
    pub fn fail(&self, e: AppError) -> PageError {
        PageError::new(e, Some(self.me.clone()))
    }
}

impl FromRequestParts<App> for Portal {
    type Rejection = PageError;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self, Self::Rejection> {
        let Caller(actor) = Caller::from_request_parts(parts, app)
            .await
            .map_err(|ApiError(e)| PageError::new(e, None))?;
        if actor.role() == Role::Station {
            return Err(PageError::new(
                AppError::Forbidden("発行端末の証明書ではポータルを利用できません".into()),
                None,
            ));
        }
        let token =
            kmn_app::portal::form_token(app, &actor).map_err(|e| PageError::new(e, None))?;
        let role = match (actor.role(), actor.facility()) {
            (Role::FacilityDesk, Some(f)) => format!("{}（{f}）", actor.role().label_ja()),
            (r, _) => r.label_ja().to_string(),
        };
        Ok(Portal {
            me: Me {
                name: actor.display_name().to_string(),
                role,
                facility: actor.facility().map(str::to_string),
                nav: nav_of(actor.role()),
                token,
            },
            actor,
        })
    }
}

// --- Errors ------------------------------------------------------------------------------

/// A refusal or failure shown as a Japanese page with its status.
#[derive(Debug)]
pub struct PageError(Box<Failure>);

#[derive(Debug)]
struct Failure {
    error: AppError,
    me: Option<Me>,
}

impl PageError {
    pub fn new(error: AppError, me: Option<Me>) -> Self {
        PageError(Box::new(Failure { error, me }))
    }
}

#[derive(Template)]
#[template(path = "portal/error.html")]
struct ErrorPage {
    me: Option<Me>,
    status: u16,
    title: &'static str,
    message: String,
    fields: Vec<(String, String)>,
}

/// The title of an error page by status.
fn error_title(s: StatusCode) -> &'static str {
    match s.as_u16() {
        400 => "入力内容に誤りがあります",
        401 => "ログインが必要です",
        403 => "この操作・画面は利用できません",
        404 => "見つかりません",
        409 => "他の操作と競合しました",
        413 => "送信された内容が大きすぎます",
        415 => "この形式の送信は受け付けられません",
        422 => "受け付けられませんでした",
        503 => "ただいま利用できません",
        _ => "システムエラー",
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let Failure { error, me } = *self.0;
        let status = status_of(&error);
        if status.is_server_error() {
            tracing::error!(error = %error, code = error.code(), "portal request failed");
        }
        let fields = match &error {
            AppError::Validation(f) => f
                .iter()
                .map(|f| (field_label(&f.field).to_string(), f.message.clone()))
                .collect(),
            _ => vec![],
        };
        let message = match (&error, status) {
            (AppError::Unauthenticated(m), _) => format!(
                "{m}。利用者カード（施設窓口の方）または担当者証明書をブラウザーに設定してから、もう一度開いてください。"
            ),
            _ => error.message_ja(),
        };
        let page = ErrorPage {
            me,
            status: status.as_u16(),
            title: error_title(status),
            message,
            fields,
        };
        html(status, &page)
    }
}

/// The Japanese name of a form field named in a validation error.
pub fn field_label(field: &str) -> &str {
    match field {
        "holder_id" => "利用者",
        "facility_code" => "施設",
        "kind" => "申請の種類",
        "detail" => "理由",
        "validity_years" => "有効期間",
        "target_card_id" => "対象の利用者カード",
        "token_serial" => "カードのシリアル番号",
        "handed_to" => "受け取った方の氏名",
        "note" => "状況の説明",
        "kana" => "氏名（カナ）",
        "from" => "開始日",
        "document" => "申請書のスキャン（PDF）",
        "to" => "終了日",
        f if f.starts_with("deficiencies") => "不備の内容",
        f => kmn_app::error::field_label_ja(f),
    }
}

/// Renders a template as an HTML response with `status`.
pub fn html<T: Template>(status: StatusCode, t: &T) -> Response {
    match t.render() {
        Ok(body) => {
            let mut r = (
                status,
                [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
                body,
            )
                .into_response();
            secure(&mut r);
            r
        }
        Err(e) => {
            tracing::error!(error = %e, "portal template failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "システムエラー").into_response()
        }
    }
}

// --- Queries and forms -------------------------------------------------------------------

/// Parses a query string (an unreadable one is a 400 page).
pub fn query<T: DeserializeOwned + Default>(
    p: &Portal,
    uri: &axum::http::Uri,
) -> Result<T, PageError> {
    match uri.query() {
        None => Ok(T::default()),
        Some(q) => serde_urlencoded::from_str(q).map_err(|_| {
            p.fail(AppError::BadInput(
                "URL の条件を読み取れませんでした".into(),
            ))
        }),
    }
}

/// The body of a state-changing form, after its checks: the media type of an HTML form,
/// the same origin when the browser names one, and this account's fresh form token.
/// Refused (403) before anything is read or changed otherwise.
pub fn form_pairs(
    app: &App,
    p: &Portal,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Vec<(String, String)>, PageError> {
    let media = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase());
    if media.as_deref() != Some("application/x-www-form-urlencoded") {
        return Err(p.fail(AppError::BadInput(
            "この画面のフォームから送信してください".into(),
        )));
    }
    check_origin(p, headers)?;
    let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(body).map_err(|_| {
        p.fail(AppError::BadInput(
            "フォームの内容を読み取れませんでした".into(),
        ))
    })?;
    let token = pairs
        .iter()
        .find(|(k, _)| k == "_token")
        .map(|(_, v)| v.as_str())
        .unwrap_or("");
    if !kmn_app::portal::form_token_ok(app, &p.actor, token) {
        return Err(token_refused(p));
    }
    Ok(pairs)
}

/// A `multipart/form-data` form (one carrying a file): its text fields and its one file
/// (`(field name, file name, bytes)`, when one was chosen), after the same checks as
/// [`form_pairs`] — same origin, this account's fresh form token — and before
/// anything is changed.
pub struct Multipart {
    pub fields: Vec<(String, String)>,
    pub file: Option<(String, String, Vec<u8>)>,
}

impl Multipart {
    /// A text field, trimmed (empty when absent).
    pub fn get(&self, name: &str) -> String {
        self.fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.trim().to_string())
            .unwrap_or_default()
    }
}

/// Whether the request's body is `multipart/form-data`.
pub fn is_multipart(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("multipart/form-data"))
}

/// Reads a `multipart/form-data` form (see [`Multipart`]).
pub async fn multipart(
    app: &App,
    p: &Portal,
    req: axum::extract::Request,
) -> Result<Multipart, PageError> {
    let headers = req.headers();
    use axum::extract::FromRequest;
    let unreadable = || {
        p.fail(AppError::BadInput(
            "フォームの内容を読み取れませんでした".into(),
        ))
    };
    if !is_multipart(headers) {
        return Err(p.fail(AppError::BadInput(
            "この画面のフォームから送信してください".into(),
        )));
    }
    check_origin(p, headers)?;
    // The request itself, so that the route's body limit applies.
    let mut mp = axum::extract::Multipart::from_request(req, &())
        .await
        .map_err(|_| unreadable())?;
    let mut out = Multipart {
        fields: vec![],
        file: None,
    };
    let failed = |e: axum::extract::multipart::MultipartError| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            p.fail(AppError::BadInput(
                "送信されたファイルが大きすぎます。PDF は10MBまでです".into(),
            ))
        } else {
            unreadable()
        }
    };
    while let Some(field) = mp.next_field().await.map_err(failed)? {
        let name = field.name().unwrap_or_default().to_string();
        match field.file_name().map(str::to_string) {
            Some(file_name) => {
                let bytes = field.bytes().await.map_err(failed)?;
                // A file input left empty sends a part with no name and no bytes.
                if !(file_name.is_empty() && bytes.is_empty()) && out.file.is_none() {
                    out.file = Some((name, file_name, bytes.to_vec()));
                }
            }
            None => {
                let text = field.text().await.map_err(failed)?;
                out.fields.push((name, text));
            }
        }
    }
    let token = out
        .fields
        .iter()
        .find(|(k, _)| k == "_token")
        .map(|(_, v)| v.as_str())
        .unwrap_or("");
    if !kmn_app::portal::form_token_ok(app, &p.actor, token) {
        return Err(token_refused(p));
    }
    Ok(out)
}

fn token_refused(p: &Portal) -> PageError {
    p.fail(AppError::Forbidden(
        "フォームの有効期限が切れたか、正しくない送信です。画面を開き直してからもう一度送信してください".into(),
    ))
}

/// A form posted from another site is refused (the browser names its origin).
fn check_origin(p: &Portal, headers: &HeaderMap) -> Result<(), PageError> {
    if let (Some(origin), Some(host)) = (
        headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()),
        headers.get(header::HOST).and_then(|v| v.to_str().ok()),
    ) && origin != format!("https://{host}")
    {
        return Err(p.fail(AppError::Forbidden(
            "他のサイトから送信されたフォームは受け付けません".into(),
        )));
    }
    Ok(())
}

/// [`form_pairs`], deserialized into `T` (unknown fields such as `_token` ignored).
pub fn form<T: DeserializeOwned>(
    app: &App,
    p: &Portal,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<T, PageError> {
    form_pairs(app, p, headers, body)?;
    serde_urlencoded::from_bytes(body).map_err(|_| {
        p.fail(AppError::BadInput(
            "フォームの内容を読み取れませんでした".into(),
        ))
    })
}

// --- Words ------------------------------------------------------------------------------

/// `2026年12月2日` (JST) of Unix seconds, or `令和8年12月2日` for an account that chose
/// 和暦.
pub fn date(t: i64) -> String {
    let f = if era() {
        kmn_domain::time_fmt::ja_era_date
    } else {
        kmn_domain::time_fmt::ja_date
    };
    time::OffsetDateTime::from_unix_timestamp(t)
        .map(f)
        .unwrap_or_default()
}

/// `2026年12月2日 20:43` (JST) of Unix seconds (or with the era, as [`date`]).
pub fn datetime(t: i64) -> String {
    let f = if era() {
        kmn_domain::time_fmt::ja_era_datetime
    } else {
        kmn_domain::time_fmt::ja_datetime
    };
    time::OffsetDateTime::from_unix_timestamp(t)
        .map(f)
        .unwrap_or_default()
}

/// A stored calendar date (`YYYY-MM-DD`, a date of birth) as `1985年4月1日`, or
/// `昭和60年4月1日` for an account that chose 和暦; what is not a date is shown as stored.
pub fn calendar_date(iso: &str) -> String {
    match kmn_domain::time_fmt::parse_iso_date(iso) {
        Some(d) if era() => kmn_domain::time_fmt::ja_era_calendar_date(d),
        Some(d) => kmn_domain::time_fmt::ja_calendar_date(d),
        None => iso.to_string(),
    }
}

/// `2026年12月2日 20時43分05秒` (JST) of Unix seconds, with the date as [`date`] shows
/// it: the evidence of a revocation, where the seconds matter (第23条3).
pub fn datetime_secs(t: i64) -> String {
    let j = time::OffsetDateTime::from_unix_timestamp(t)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
        .to_offset(kmn_domain::time_fmt::JST);
    format!(
        "{} {:02}時{:02}分{:02}秒",
        date(t),
        j.hour(),
        j.minute(),
        j.second()
    )
}

/// How long ago, in words (`3日`, `5時間`, `12分`).
pub fn age(now: i64, t: i64) -> String {
    let s = (now - t).max(0);
    if s >= 86_400 {
        format!("{}日", s / 86_400)
    } else if s >= 3600 {
        format!("{}時間", s / 3600)
    } else {
        format!("{}分", s / 60)
    }
}

/// A card state's label.
pub fn card_state(s: &str) -> String {
    s.parse::<kmn_domain::CardState>()
        .map(|s| s.label_ja().to_string())
        .unwrap_or_else(|_| s.to_string())
}

/// An application state's label.
pub fn application_state(s: &str) -> String {
    s.parse::<kmn_domain::ApplicationState>()
        .map(|s| s.label_ja().to_string())
        .unwrap_or_else(|_| s.to_string())
}

/// An application kind's label.
pub fn application_kind(kind: &str, detail: Option<&str>) -> String {
    kmn_domain::ApplicationKind::from_codes(kind, detail)
        .map(|k| k.label_ja().to_string())
        .unwrap_or_else(|_| kind.to_string())
}

/// A certificate status's label.
pub fn cert_status(s: &str) -> &'static str {
    match s {
        "valid" => "有効",
        "on_hold" => "一時保留中",
        "revoked" => "失効",
        _ => "不明",
    }
}

/// A name in kanji with its kana: `山田 花子（ヤマダ ハナコ）`.
pub fn name(p: &kmn_app::views::Person) -> String {
    format!("{}（{}）", p.name_kanji, p.name_kana)
}

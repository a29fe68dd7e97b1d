//! The portal's pages: each takes the caller's capability, calls the kmn-app use case
//! and renders its answer. No rule lives here.

use std::collections::HashMap;

use askama::Template;
use axum::body::Bytes;
use axum::extract::{FromRequestParts, Path, State};
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Redirect, Response};
use kmn_app::actor::Role;
use kmn_app::ra::{applications, delivery, emergency, facilities, notify, persons};
use kmn_app::rights::{Auditor, Center, Reader, Registrar, Supervisor};
use kmn_app::{App, AppError};
use serde::Deserialize;

use super::{
    Me, PageError, Portal, age, application_kind, application_state, card_state, cert_status, date,
    datetime, form, form_pairs, html, multipart, name, query,
};

type PageResult = Result<Response, PageError>;

// --- Home --------------------------------------------------------------------------------

#[derive(Template)]
#[template(path = "portal/home.html")]
struct HomePage {
    me: Me,
    queues: Vec<QueueRow>,
    desk: Option<DeskSummary>,
    notices: Vec<NoticeRow>,
}

struct DeskSummary {
    facility: String,
    cards: usize,
    due: usize,
    awaiting_receipt: usize,
    received: usize,
}

#[derive(Template)]
#[template(path = "portal/welcome.html")]
struct WelcomePage {}

/// `/`: the caller's home (each role routed to its pages); without a certificate, the
/// public welcome page.
pub async fn home(State(app): State<App>, req: axum::extract::Request) -> PageResult {
    let (mut parts, _) = req.into_parts();
    if parts
        .extensions
        .get::<crate::api::auth::PeerCert>()
        .is_none()
    {
        return Ok(html(StatusCode::OK, &WelcomePage {}));
    }
    let p = Portal::from_request_parts(&mut parts, &app).await?;
    let mut page = HomePage {
        me: p.me.clone(),
        queues: vec![],
        desk: None,
        notices: vec![],
    };
    match p.actor.role() {
        Role::Operator | Role::Supervisor => {
            let c: Center = p.right()?;
            page.queues = queue_rows(&app, &c).await.map_err(|e| p.fail(e))?;
        }
        Role::FacilityDesk => {
            let r: Reader = p.right()?;
            let now = app.now();
            let cards = delivery::list(&app, &r, None, None, None, 1000)
                .await
                .map_err(|e| p.fail(e))?;
            page.desk = Some(DeskSummary {
                facility: p.me.facility.clone().unwrap_or_default(),
                cards: cards.len(),
                due: cards
                    .iter()
                    .filter(|c| kmn_app::portal::renewal_due(c, now))
                    .count(),
                awaiting_receipt: cards.iter().filter(|c| c.state == "shipped").count(),
                received: cards.iter().filter(|c| c.state == "received").count(),
            });
            page.notices = notify::list(&app, &r, None, 5)
                .await
                .map_err(|e| p.fail(e))?
                .into_iter()
                .map(NoticeRow::from)
                .collect();
        }
        _ => {}
    }
    Ok(html(StatusCode::OK, &page))
}

// --- Cards -------------------------------------------------------------------------------

struct CardRow {
    id: String,
    holder: String,
    facility: String,
    state: String,
    not_after: String,
    due: bool,
}

#[derive(Template)]
#[template(path = "portal/cards.html")]
struct CardsPage {
    me: Me,
    rows: Vec<CardRow>,
    filter: String,
    due_days: i64,
}

#[derive(Deserialize, Default)]
pub struct CardsQuery {
    state: Option<String>,
    facility: Option<String>,
    holder: Option<String>,
}

/// Names (kanji with kana) of the people of the facilities of `cards`.
async fn names_of(
    app: &App,
    r: &Reader,
    facilities: impl Iterator<Item = String>,
) -> Result<HashMap<String, String>, AppError> {
    let mut out = HashMap::new();
    let mut seen = std::collections::BTreeSet::new();
    for f in facilities {
        if seen.insert(f.clone()) {
            for p in persons::list(app, r, &f, None, 5000).await? {
                out.insert(p.holder_id.clone(), name(&p));
            }
        }
    }
    Ok(out)
}

/// `/portal/cards`: the cards within reach (a desk: its own facility's; naming another
/// facility is refused with 403), with expiry dates and renewals due.
pub async fn cards(State(app): State<App>, p: Portal, uri: Uri) -> PageResult {
    let r: Reader = p.right()?;
    let q: CardsQuery = query(&p, &uri)?;
    let facility = q.facility.as_deref().filter(|s| !s.is_empty());
    let holder = q.holder.as_deref().filter(|s| !s.is_empty());
    let state = q.state.as_deref().filter(|s| !s.is_empty());
    let cards = delivery::list(&app, &r, facility, holder, None, 2000)
        .await
        .map_err(|e| p.fail(e))?;
    let cards: Vec<_> = cards
        .into_iter()
        .filter(|c| state.is_none_or(|s| c.state == s))
        .collect();
    let names = names_of(&app, &r, cards.iter().map(|c| c.facility_code.clone()))
        .await
        .map_err(|e| p.fail(e))?;
    let now = app.now();
    let rows = cards
        .iter()
        .map(|c| CardRow {
            id: c.id.clone(),
            holder: names
                .get(&c.holder_id)
                .cloned()
                .unwrap_or_else(|| c.holder_id.clone()),
            facility: c.facility_code.clone(),
            state: card_state(&c.state),
            not_after: c.not_after.map(date).unwrap_or_else(|| "—".into()),
            due: kmn_app::portal::renewal_due(c, now),
        })
        .collect();
    let mut filter = Vec::new();
    if let Some(s) = state {
        filter.push(format!("状態: {}", card_state(s)));
    }
    if let Some(f) = facility {
        filter.push(format!("施設: {f}"));
    }
    if let Some(h) = holder {
        filter.push(format!("利用者: {h}"));
    }
    Ok(html(
        StatusCode::OK,
        &CardsPage {
            me: p.me,
            rows,
            filter: filter.join("、"),
            due_days: kmn_app::portal::RENEWAL_NOTICE_DAYS,
        },
    ))
}

/// A step of a card's timeline as people read it (the audit log's English summary
/// stays in the auditor's pages).
struct TimelineRow {
    at: String,
    label: String,
    actor: String,
}

#[derive(Template)]
#[template(path = "portal/card.html")]
struct CardPage {
    me: Me,
    id: String,
    holder: String,
    facility: String,
    state: String,
    token_serial: String,
    cert_serial: String,
    cert_status: String,
    issued: String,
    not_after: String,
    shipped: String,
    received: String,
    handed_over: String,
    mailers: Vec<(String, String, String)>,
    timeline: Vec<TimelineRow>,
    show_actor: bool,
    can_hand_over: bool,
    can_revoke: bool,
    can_ship: bool,
    message: Option<String>,
    /// The handover refused: what was typed and why (shown beside the field).
    handover_error: Option<(String, String)>,
    /// The evidence of the certificate's revocation, once revoked (第23条3).
    evidence: Option<EvidenceView>,
}

/// The evidence of a revocation as the card page shows it (第23条3): every timestamp,
/// the grounds, the channel, and the letter and signed receipt once the first CRL
/// listing it was read back.
struct EvidenceView {
    grounds: String,
    channel: String,
    requested_by: String,
    comment: String,
    received: String,
    revoked: String,
    invalidity: String,
    /// The first CRL: its number, when it was published, its SHA-256.
    crl: Option<(i64, String, String)>,
    /// When the first OCSP response showing it revoked was stored and checked.
    ocsp: Option<String>,
    letter: String,
    receipt: String,
}

impl EvidenceView {
    fn of(e: kmn_app::views::Evidence) -> Self {
        let grounds = match (e.grounds_label_ja(), &e.article) {
            (Some(g), Some(a)) if !g.contains(a.as_str()) => format!("{g}（利用規約{a}）"),
            (Some(g), _) => g,
            (None, _) => e
                .reason
                .map(|r| r.label_ja().to_string())
                .unwrap_or_else(|| "（記録なし）".into()),
        };
        let crl = match (e.first_crl_number, e.first_crl_published_at) {
            (Some(n), Some(t)) => Some((
                n,
                super::datetime_secs(t),
                e.first_crl_sha256.clone().unwrap_or_default(),
            )),
            _ => None,
        };
        EvidenceView {
            grounds,
            channel: e.channel_label_ja().unwrap_or("（記録なし）").to_string(),
            requested_by: match e.requested_by.as_deref() {
                Some(r) => match r.strip_prefix("holder:") {
                    Some(h) => format!("利用者本人（{h}）"),
                    None => r.to_string(),
                },
                None => String::new(),
            },
            comment: e.comment.clone().unwrap_or_default(),
            received: e
                .request_received_at
                .map(super::datetime_secs)
                .unwrap_or_else(|| "—".into()),
            revoked: e
                .revoked_at
                .map(super::datetime_secs)
                .unwrap_or_else(|| "—".into()),
            invalidity: e
                .invalidity_date
                .map(super::datetime_secs)
                .unwrap_or_default(),
            crl,
            ocsp: e.first_ocsp_at.map(super::datetime_secs),
            letter: format!("/portal/certificates/{}/revocation-letter", e.serial_hex),
            receipt: format!("/portal/certificates/{}/revocation-receipt", e.serial_hex),
        }
    }
}

/// `/portal/cards/{id}`: one card, its delivery, its certificate's status and its whole
/// timeline, with the forms of the caller's next steps.
pub async fn card(State(app): State<App>, p: Portal, Path(id): Path<String>) -> PageResult {
    card_page(&app, &p, &id, None, StatusCode::OK).await
}

async fn card_page(
    app: &App,
    p: &Portal,
    id: &str,
    message: Option<String>,
    status: StatusCode,
) -> PageResult {
    card_page_with(app, p, id, message, None, status).await
}

async fn card_page_with(
    app: &App,
    p: &Portal,
    id: &str,
    message: Option<String>,
    handover_error: Option<(String, String)>,
    status: StatusCode,
) -> PageResult {
    let r: Reader = p.right()?;
    let (v, events) = kmn_app::portal::card_timeline(app, &r, id)
        .await
        .map_err(|e| p.fail(e))?;
    let evidence = match (v.certificate_status.as_deref(), &v.card.cert_serial_hex) {
        (Some("revoked"), Some(serial)) => Some(EvidenceView::of(
            kmn_app::ca::evidence::load(app, &r, serial)
                .await
                .map_err(|e| p.fail(e))?,
        )),
        _ => None,
    };
    let holder = match persons::get(app, &r, &v.card.holder_id).await {
        Ok((person, _)) => name(&person),
        Err(_) => v.card.holder_id.clone(),
    };
    let facility = match facilities::get(app, &r, &v.card.facility_code).await {
        Ok(f) => format!("{}（{}）", f.name_kanji, f.code),
        Err(_) => v.card.facility_code.clone(),
    };
    let registrar = <Registrar as kmn_app::rights::Capability>::from_actor(&p.actor).is_ok();
    let cert_live = matches!(v.certificate_status.as_deref(), Some("valid" | "on_hold"));
    let d = &v.delivery;
    let page = CardPage {
        me: p.me.clone(),
        id: v.card.id.clone(),
        holder,
        facility,
        state: card_state(&v.card.state),
        token_serial: v.card.token_serial.clone().unwrap_or_else(|| "—".into()),
        cert_serial: v.card.cert_serial_hex.clone().unwrap_or_else(|| "—".into()),
        cert_status: v
            .certificate_status
            .as_deref()
            .map(cert_status)
            .unwrap_or("—")
            .to_string(),
        issued: v.card.issued_at.map(date).unwrap_or_else(|| "—".into()),
        not_after: v.card.not_after.map(date).unwrap_or_else(|| "—".into()),
        shipped: d.shipped_at.map(datetime).unwrap_or_else(|| "—".into()),
        received: d.received_at.map(datetime).unwrap_or_else(|| "—".into()),
        handed_over: match (&d.handed_over_at, &d.handed_over_to) {
            (Some(t), Some(to)) => format!("{}（{to}）", datetime(*t)),
            _ => "—".into(),
        },
        mailers: v
            .pin_mailers
            .iter()
            .map(|m| {
                (
                    m.id.clone(),
                    delivery::mailer_state_label_ja(&m.state).to_string(),
                    date(m.created_at),
                )
            })
            .collect(),
        timeline: events
            .into_iter()
            .map(|e| TimelineRow {
                at: datetime(e.at),
                label: e.label,
                actor: e.actor,
            })
            .collect(),
        show_actor: p.actor.is_center(),
        can_hand_over: registrar && v.card.state == "received",
        can_revoke: registrar && cert_live,
        can_ship: p.actor.is_center() && v.card.state == "personalized",
        message,
        handover_error,
        evidence,
    };
    Ok(html(status, &page))
}

/// A file the portal hands over for saving (the letter, the signed receipt).
fn download(media_type: &'static str, file_name: String, bytes: Vec<u8>) -> Response {
    let mut resp = (
        [(
            header::CONTENT_TYPE,
            axum::http::HeaderValue::from_static(media_type),
        )],
        bytes,
    )
        .into_response();
    if let Ok(v) =
        axum::http::HeaderValue::from_str(&format!("attachment; filename=\"{file_name}\""))
    {
        resp.headers_mut().insert(header::CONTENT_DISPOSITION, v);
    }
    resp
}

/// `/portal/certificates/{serial}/revocation-letter`: the letter to the facility
/// (「電子証明書失効のお知らせ」, PDF) once the first CRL listing the revocation was
/// read back (第23条3); a desk gets its own facility's only.
pub async fn revocation_letter(
    State(app): State<App>,
    p: Portal,
    Path(serial): Path<String>,
) -> PageResult {
    let r: Reader = p.right()?;
    let pdf = kmn_app::ca::evidence::letter(&app, &r, &serial)
        .await
        .map_err(|e| p.fail(e))?;
    let name: String = serial
        .to_ascii_lowercase()
        .chars()
        .filter(char::is_ascii_hexdigit)
        .collect();
    Ok(download(
        "application/pdf",
        format!("revocation-letter-{name}.pdf"),
        pdf,
    ))
}

/// `/portal/certificates/{serial}/revocation-receipt`: the signed revocation receipt
/// (CMS SignedData, `kmn receipt verify` checks it), as the API gives it (第23条3).
pub async fn revocation_receipt(
    State(app): State<App>,
    p: Portal,
    Path(serial): Path<String>,
) -> PageResult {
    let r: Reader = p.right()?;
    let receipt = kmn_app::ca::evidence::receipt(&app, &r, &serial)
        .await
        .map_err(|e| p.fail(e))?;
    Ok(download(
        crate::api::evidence::RECEIPT_MEDIA_TYPE,
        format!("revocation-receipt-{}.p7m", receipt.record.serial_hex()),
        receipt.der,
    ))
}

#[derive(Deserialize)]
pub struct HandoverForm {
    #[serde(default)]
    handed_to: String,
}

/// `POST /portal/cards/{id}/handover`: the desk records the handover (第8条1).
pub async fn handover(
    State(app): State<App>,
    p: Portal,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> PageResult {
    let r: Registrar = p.right()?;
    let f: HandoverForm = form(&app, &p, &headers, &body)?;
    match delivery::hand_over(&app, &r, &id, &f.handed_to, None).await {
        Ok(_) => {}
        // A name refused: shown beside the field, with what was typed.
        Err(e @ (AppError::BadInput(_) | AppError::Rule(_) | AppError::Validation(_))) => {
            let status = crate::api::error::status_of(&e);
            return card_page_with(
                &app,
                &p,
                &id,
                None,
                Some((f.handed_to, e.message_ja())),
                status,
            )
            .await;
        }
        Err(e) => return Err(p.fail(e)),
    }
    card_page(
        &app,
        &p,
        &id,
        Some(format!(
            "{} さんへの交付を記録しました。",
            f.handed_to.trim()
        )),
        StatusCode::OK,
    )
    .await
}

#[derive(Deserialize)]
pub struct EmergencyForm {
    #[serde(default)]
    cause: String,
    #[serde(default)]
    note: String,
}

/// `POST /portal/cards/{id}/emergency`: the desk (or the center) revokes the card's
/// certificate at once (第11条).
pub async fn emergency(
    State(app): State<App>,
    p: Portal,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> PageResult {
    let r: Registrar = p.right()?;
    let f: EmergencyForm = form(&app, &p, &headers, &body)?;
    let cause: kmn_domain::EmergencyCause = f.cause.parse().map_err(|_| {
        p.fail(AppError::Validation(vec![kmn_app::error::FieldError::new(
            "cause",
            "失効の理由（紛失・盗難・不正使用のおそれ）を選んでください",
        )]))
    })?;
    let done = emergency::by_desk(
        &app,
        &r,
        &id,
        &emergency::EmergencyReport {
            cause,
            last_known_safe: None,
            note: f.note,
        },
    )
    .await
    .map_err(|e| p.fail(e))?;
    let mut msg = format!(
        "利用者カード {} の電子証明書を失効させました（{}、{}）。",
        done.card.card.id,
        done.grounds_label,
        datetime(done.revoked_at)
    );
    if let Some(a) = &done.draft_application {
        msg.push_str(&format!("紛失届の下書き（申請 {a}）を作成しました。"));
    }
    card_page(&app, &p, &done.card.card.id, Some(msg), StatusCode::OK).await
}

#[derive(Deserialize)]
pub struct ShipForm {
    #[serde(default)]
    method: String,
    #[serde(default)]
    tracking_number: String,
}

/// `POST /portal/cards/{id}/ship`: the center records the shipping (第7条).
pub async fn ship(
    State(app): State<App>,
    p: Portal,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> PageResult {
    let c: Center = p.right()?;
    let f: ShipForm = form(&app, &p, &headers, &body)?;
    let tracking = Some(f.tracking_number.as_str()).filter(|t| !t.trim().is_empty());
    delivery::ship(&app, &c, &id, &f.method, tracking)
        .await
        .map_err(|e| p.fail(e))?;
    card_page(
        &app,
        &p,
        &id,
        Some("発送を記録しました。".into()),
        StatusCode::OK,
    )
    .await
}

// --- Receipt -----------------------------------------------------------------------------

#[derive(Template)]
#[template(path = "portal/receipt.html")]
struct ReceiptPage {
    me: Me,
    value: String,
    error: Option<String>,
    done: Option<(String, String)>,
}

/// `/portal/receipt`: the form to confirm a card's receipt by its serial number.
pub async fn receipt_form(p: Portal) -> PageResult {
    Registrar::for_receipt(&p.actor).map_err(|e| p.fail(e))?;
    Ok(html(
        StatusCode::OK,
        &ReceiptPage {
            me: p.me,
            value: String::new(),
            error: None,
            done: None,
        },
    ))
}

#[derive(Deserialize)]
pub struct ReceiptForm {
    #[serde(default)]
    token_serial: String,
}

/// `POST /portal/receipt`: confirms receipt by the serial typed or scanned (case and
/// hyphens ignored, 第8条1). A wrong number is shown beside the field.
pub async fn receipt(
    State(app): State<App>,
    p: Portal,
    headers: HeaderMap,
    body: Bytes,
) -> PageResult {
    let r = Registrar::for_receipt(&p.actor).map_err(|e| p.fail(e))?;
    let f: ReceiptForm = form(&app, &p, &headers, &body)?;
    match delivery::confirm_receipt_by_serial(&app, &r, &f.token_serial).await {
        Ok(v) => Ok(html(
            StatusCode::OK,
            &ReceiptPage {
                me: p.me,
                value: String::new(),
                error: None,
                done: Some((v.card.id.clone(), card_state(&v.card.state))),
            },
        )),
        Err(
            e @ (AppError::NotFound(_)
            | AppError::BadInput(_)
            | AppError::Rule(_)
            | AppError::Validation(_)
            | AppError::Conflict(_)),
        ) => {
            let status = crate::api::error::status_of(&e);
            Ok(html(
                status,
                &ReceiptPage {
                    me: p.me,
                    value: f.token_serial,
                    error: Some(e.message_ja()),
                    done: None,
                },
            ))
        }
        Err(e) => Err(p.fail(e)),
    }
}

// --- Notices -----------------------------------------------------------------------------

struct NoticeRow {
    at: String,
    subject: String,
    body: String,
    facility: String,
    /// The page of what the notice is about (its address and its words).
    link: Option<(String, String)>,
}

impl From<kmn_app::views::Notice> for NoticeRow {
    fn from(n: kmn_app::views::Notice) -> Self {
        let link = match n.object.as_deref().and_then(|o| o.split_once(':')) {
            Some(("application", id)) => Some((
                format!("/portal/applications/{id}"),
                format!("申請 {id} を開く"),
            )),
            Some(("card", id)) => Some((
                format!("/portal/cards/{id}"),
                format!("利用者カード {id} を開く"),
            )),
            _ => None,
        };
        NoticeRow {
            at: datetime(n.created_at),
            subject: n.subject,
            body: n.body,
            facility: n.facility_code.unwrap_or_default(),
            link,
        }
    }
}

#[derive(Template)]
#[template(path = "portal/notices.html")]
struct NoticesPage {
    me: Me,
    rows: Vec<NoticeRow>,
}

/// `/portal/notices`: the notices the center sent (a desk: its facility's).
pub async fn notices(State(app): State<App>, p: Portal) -> PageResult {
    let r: Reader = p.right()?;
    let rows = notify::list(&app, &r, None, 200)
        .await
        .map_err(|e| p.fail(e))?
        .into_iter()
        .map(NoticeRow::from)
        .collect();
    Ok(html(StatusCode::OK, &NoticesPage { me: p.me, rows }))
}

// --- Applications ------------------------------------------------------------------------

struct ApplicationRow {
    id: String,
    facility: String,
    holder: String,
    kind: String,
    state: String,
    created: String,
    age: String,
}

#[derive(Template)]
#[template(path = "portal/applications.html")]
struct ApplicationsPage {
    me: Me,
    rows: Vec<ApplicationRow>,
    filter: String,
}

#[derive(Deserialize, Default)]
pub struct ApplicationsQuery {
    state: Option<String>,
    facility: Option<String>,
}

/// `/portal/applications`: applications within reach, by state (`submitted` also lists
/// the resubmitted ones: both wait for review).
pub async fn applications(State(app): State<App>, p: Portal, uri: Uri) -> PageResult {
    let r: Reader = p.right()?;
    let q: ApplicationsQuery = query(&p, &uri)?;
    let state = q.state.clone().filter(|s| !s.is_empty());
    let states: Vec<Option<String>> = match state.as_deref() {
        Some("submitted") => vec![Some("submitted".into()), Some("resubmitted".into())],
        s => vec![s.map(str::to_string)],
    };
    let mut list = Vec::new();
    for s in states {
        list.extend(
            applications::list(
                &app,
                &r,
                applications::ApplicationQuery {
                    facility_code: q.facility.clone().filter(|s| !s.is_empty()),
                    state: s,
                    limit: 500,
                    ..Default::default()
                },
            )
            .await
            .map_err(|e| p.fail(e))?,
        );
    }
    list.sort_by_key(|a| a.updated_at);
    let names = names_of(&app, &r, list.iter().map(|a| a.facility_code.clone()))
        .await
        .map_err(|e| p.fail(e))?;
    let now = app.now();
    let rows = list
        .iter()
        .map(|a| ApplicationRow {
            id: a.id.clone(),
            facility: a.facility_code.clone(),
            holder: names
                .get(&a.holder_id)
                .cloned()
                .unwrap_or_else(|| a.holder_id.clone()),
            kind: application_kind(&a.kind, a.kind_detail.as_deref()),
            state: application_state(&a.state),
            created: date(a.created_at),
            age: age(now, a.updated_at),
        })
        .collect();
    Ok(html(
        StatusCode::OK,
        &ApplicationsPage {
            me: p.me,
            rows,
            filter: state.map(|s| application_state(&s)).unwrap_or_default(),
        },
    ))
}

use kmn_app::portal::DEFICIENCY_CHECKLIST as CHECKLIST;

struct RoundRow {
    at: String,
    action: String,
    actor: String,
    state: String,
    deficiencies: Vec<(String, String, String)>,
    comment: String,
}

#[derive(Template)]
#[template(path = "portal/application.html")]
struct ApplicationPage {
    me: Me,
    id: String,
    facility: String,
    holder: String,
    kind: String,
    validity: String,
    state: String,
    state_code: String,
    card_id: String,
    created: String,
    rounds: Vec<RoundRow>,
    documents: Vec<DocumentView>,
    checklist: Vec<(usize, &'static str, &'static str, bool)>,
    can_submit: bool,
    can_upload: bool,
    can_review: bool,
    message: Option<String>,
    fields: Vec<(String, String)>,
    /// The return form as it was sent, when it was refused (shown again, nothing lost).
    returning: ReturnDraft,
}

/// What the reviewer put in the return form: the ticked items of the checklist, the
/// free-text deficiency, and why it was refused.
#[derive(Clone, Debug, Default)]
struct ReturnDraft {
    checked: Vec<usize>,
    field: String,
    problem: String,
    action: String,
    error: Option<String>,
}

/// An attached document as the application page shows it (and frames it).
struct DocumentView {
    url: String,
    file_name: String,
    uploaded: String,
    size: String,
}

/// `/portal/applications/{id}`: an application with its rounds (deficiencies included)
/// and documents; the desk's submit and the center's review.
pub async fn application(State(app): State<App>, p: Portal, Path(id): Path<String>) -> PageResult {
    application_page(&app, &p, &id, None, vec![], StatusCode::OK).await
}

async fn application_page(
    app: &App,
    p: &Portal,
    id: &str,
    message: Option<String>,
    fields: Vec<(String, String)>,
    status: StatusCode,
) -> PageResult {
    application_page_with(app, p, id, message, fields, ReturnDraft::default(), status).await
}

async fn application_page_with(
    app: &App,
    p: &Portal,
    id: &str,
    message: Option<String>,
    fields: Vec<(String, String)>,
    returning: ReturnDraft,
    status: StatusCode,
) -> PageResult {
    let r: Reader = p.right()?;
    let (a, rounds, docs) = applications::get(app, &r, id)
        .await
        .map_err(|e| p.fail(e))?;
    let holder = match persons::get(app, &r, &a.holder_id).await {
        Ok((person, _)) => name(&person),
        Err(_) => a.holder_id.clone(),
    };
    let desk = p.actor.role() == Role::FacilityDesk;
    let page = ApplicationPage {
        me: p.me.clone(),
        id: a.id.clone(),
        facility: a.facility_code.clone(),
        holder,
        kind: application_kind(&a.kind, a.kind_detail.as_deref()),
        validity: a
            .validity_years
            .map(|y| format!("{y}年"))
            .unwrap_or_else(|| "—".into()),
        state: application_state(&a.state),
        state_code: a.state.clone(),
        card_id: a.card_id.clone().unwrap_or_default(),
        created: datetime(a.created_at),
        rounds: rounds
            .iter()
            .map(|r| RoundRow {
                at: datetime(r.at),
                action: r
                    .action
                    .parse::<kmn_domain::ApplicationActionKind>()
                    .map(|a| a.label_ja().to_string())
                    .unwrap_or_else(|_| r.action.clone()),
                actor: r.actor.clone(),
                state: application_state(&r.to_state),
                deficiencies: r
                    .deficiencies
                    .as_deref()
                    .and_then(|d| serde_json::from_str::<Vec<kmn_domain::Deficiency>>(d).ok())
                    .unwrap_or_default()
                    .iter()
                    .map(|d| {
                        (
                            d.field().to_string(),
                            d.problem().to_string(),
                            d.action().to_string(),
                        )
                    })
                    .collect(),
                comment: r.comment.clone().unwrap_or_default(),
            })
            .collect(),
        documents: docs
            .iter()
            .map(|d| DocumentView {
                url: format!("/portal/documents/{}", d.id),
                file_name: d.file_name.clone(),
                uploaded: datetime(d.uploaded_at),
                size: format!("{}KB", (d.size + 1023) / 1024),
            })
            .collect(),
        checklist: CHECKLIST
            .iter()
            .enumerate()
            .map(|(i, (f, pr, _))| (i, *f, *pr, returning.checked.contains(&i)))
            .collect(),
        can_submit: (desk || p.actor.is_center())
            && matches!(a.state.as_str(), "draft" | "returned"),
        can_review: p.actor.is_center() && matches!(a.state.as_str(), "submitted" | "resubmitted"),
        can_upload: (desk || p.actor.is_center())
            && a.state
                .parse::<kmn_domain::ApplicationState>()
                .is_ok_and(|s| !s.is_final()),
        message,
        fields,
        returning,
    };
    let mut resp = html(status, &page);
    // The attached PDFs are shown in the page: frames of this site only.
    resp.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        axum::http::HeaderValue::from_static(super::CSP_FRAMING),
    );
    Ok(resp)
}

/// `/portal/documents/{id}`: an attached scan, served as `application/pdf` to be shown
/// in the application page (framed by this site only; the read is logged).
pub async fn document(State(app): State<App>, p: Portal, Path(id): Path<String>) -> PageResult {
    let r: Reader = p.right()?;
    let (d, bytes) = applications::document(&app, &r, &id)
        .await
        .map_err(|e| p.fail(e))?;
    let h = |v: &'static str| axum::http::HeaderValue::from_static(v);
    let mut resp = (
        [
            (header::CONTENT_TYPE, h("application/pdf")),
            (header::CONTENT_SECURITY_POLICY, h(super::CSP_PDF)),
            (header::X_FRAME_OPTIONS, h("SAMEORIGIN")),
        ],
        bytes,
    )
        .into_response();
    // The file name as given by the uploader is not put in a header: the id only.
    if let Ok(v) = axum::http::HeaderValue::from_str(&format!("inline; filename=\"{}.pdf\"", d.id))
    {
        resp.headers_mut().insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(resp)
}

/// `POST /portal/applications/{id}/documents`: attaches a scanned form (PDF, at most
/// 10 MiB) to an application; an unacceptable file is shown beside the form in
/// Japanese and nothing is recorded.
pub async fn document_upload(
    State(app): State<App>,
    p: Portal,
    Path(id): Path<String>,
    req: axum::extract::Request,
) -> PageResult {
    let r: Registrar = p.right()?;
    let form = multipart(&app, &p, req).await?;
    let Some((_, file_name, bytes)) = form.file else {
        return application_page(
            &app,
            &p,
            &id,
            None,
            vec![(
                super::field_label("document").to_string(),
                "添付するファイルを選んでください".into(),
            )],
            StatusCode::BAD_REQUEST,
        )
        .await;
    };
    match applications::add_document(&app, &r, &id, &file_name, &bytes).await {
        Ok(d) => {
            application_page(
                &app,
                &p,
                &id,
                Some(format!("書類「{}」を添付しました。", d.file_name)),
                vec![],
                StatusCode::OK,
            )
            .await
        }
        Err(AppError::Validation(fs)) => {
            let status = crate::api::error::status_of(&AppError::Validation(fs.clone()));
            let fields = fs
                .iter()
                .map(|f| (super::field_label(&f.field).to_string(), f.message.clone()))
                .collect();
            application_page(&app, &p, &id, None, fields, status).await
        }
        Err(e) => Err(p.fail(e)),
    }
}

/// `POST /portal/applications/{id}/submit`: files a draft, or refiles a returned
/// application after correction.
pub async fn application_submit(
    State(app): State<App>,
    p: Portal,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> PageResult {
    let r: Registrar = p.right()?;
    let pairs = form_pairs(&app, &p, &headers, &body)?;
    let action = match pairs
        .iter()
        .find(|(k, _)| k == "action")
        .map(|(_, v)| v.as_str())
    {
        Some("resubmit") => kmn_domain::ApplicationAction::Resubmit,
        _ => kmn_domain::ApplicationAction::Submit,
    };
    let again = matches!(action, kmn_domain::ApplicationAction::Resubmit);
    applications::act(&app, &r, &id, action, None)
        .await
        .map_err(|e| p.fail(e))?;
    let done = if again {
        "訂正した申請を再提出しました。"
    } else {
        "申請を提出しました。"
    };
    let next = if p.actor.is_center() {
        "審査待ちの一覧に入りました。"
    } else {
        "サポートセンターの審査をお待ちください。"
    };
    application_page(
        &app,
        &p,
        &id,
        Some(format!("{done}{next}")),
        vec![],
        StatusCode::OK,
    )
    .await
}

/// `POST /portal/applications/{id}/approve`: the center approves (第6条).
pub async fn application_approve(
    State(app): State<App>,
    p: Portal,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> PageResult {
    let c: Center = p.right()?;
    form_pairs(&app, &p, &headers, &body)?;
    applications::review(&app, &c, &id, kmn_domain::ApplicationAction::Approve, None)
        .await
        .map_err(|e| p.fail(e))?;
    application_page(
        &app,
        &p,
        &id,
        Some("申請を承認しました。".into()),
        vec![],
        StatusCode::OK,
    )
    .await
}

/// `POST /portal/applications/{id}/return`: the center returns the application with
/// its deficiencies — the checked items of the checklist and a free-text one (第6条2).
pub async fn application_return(
    State(app): State<App>,
    p: Portal,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> PageResult {
    let c: Center = p.right()?;
    let pairs = form_pairs(&app, &p, &headers, &body)?;
    let get = |k: &str| {
        pairs
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.trim().to_string())
            .unwrap_or_default()
    };
    let checked: Vec<usize> = pairs
        .iter()
        .filter(|(k, _)| k == "check")
        .filter_map(|(_, v)| v.parse::<usize>().ok())
        .filter(|i| *i < CHECKLIST.len())
        .collect();
    let mut items: Vec<(String, String, String)> = checked
        .iter()
        .filter_map(|i| CHECKLIST.get(*i))
        .map(|(f, pr, a)| (f.to_string(), pr.to_string(), a.to_string()))
        .collect();
    let (f, pr, a) = (get("field"), get("problem"), get("action"));
    // What was sent, to show again beside its error.
    let draft = |error: &str| ReturnDraft {
        checked: checked.clone(),
        field: f.clone(),
        problem: pr.clone(),
        action: a.clone(),
        error: Some(error.to_string()),
    };
    if !(f.is_empty() && pr.is_empty() && a.is_empty()) {
        items.push((f.clone(), pr.clone(), a.clone()));
    }
    if items.is_empty() {
        let why = "差戻しの理由を一覧から選ぶか、自由記入欄に入力してください";
        return application_page_with(
            &app,
            &p,
            &id,
            None,
            vec![("不備の内容".into(), why.into())],
            draft(why),
            StatusCode::BAD_REQUEST,
        )
        .await;
    }
    match applications::return_for_correction(&app, &c, &id, &items, None).await {
        Ok(_) => {
            application_page(
                &app,
                &p,
                &id,
                Some("不備を通知して申請を差し戻しました（利用規約第6条2）。".into()),
                vec![],
                StatusCode::OK,
            )
            .await
        }
        Err(AppError::Validation(fs)) => {
            let fields: Vec<(String, String)> = fs
                .iter()
                .map(|f| {
                    (
                        "自由記入の不備".to_string(),
                        format!(
                            "{}（項目・内容・対応方法をすべて入力してください）",
                            f.message
                        ),
                    )
                })
                .collect();
            let why = fields
                .iter()
                .map(|(_, m)| m.as_str())
                .collect::<Vec<_>>()
                .join("　");
            application_page_with(
                &app,
                &p,
                &id,
                None,
                fields,
                draft(&why),
                StatusCode::BAD_REQUEST,
            )
            .await
        }
        Err(e) => Err(p.fail(e)),
    }
}

struct Choice {
    value: String,
    label: String,
    selected: bool,
}

#[derive(Template)]
#[template(path = "portal/application_new.html")]
struct ApplicationFormPage {
    me: Me,
    facility: String,
    facilities: Vec<Choice>,
    holders: Vec<Choice>,
    kinds: Vec<Choice>,
    validity: Vec<Choice>,
    detail: String,
    target_card_id: String,
    errors: Vec<(String, String, String)>,
}

impl ApplicationFormPage {
    fn error_of(&self, field: &str) -> Option<&str> {
        self.errors
            .iter()
            .find(|(f, _, _)| f == field)
            .map(|(_, _, m)| m.as_str())
    }
}

#[derive(Deserialize, Default, Clone)]
pub struct ApplicationFormData {
    #[serde(default)]
    facility_code: String,
    #[serde(default)]
    holder_id: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    detail: String,
    #[serde(default)]
    validity_years: String,
    #[serde(default)]
    target_card_id: String,
}

const KINDS: &[(&str, &str)] = &[
    ("new", "新規発行"),
    ("renewal", "更新"),
    ("reissue", "再発行"),
    ("discontinuation", "利用中止"),
    ("loss_report", "紛失届"),
    ("info_change", "登録内容の変更"),
];

async fn application_form_page(
    app: &App,
    p: &Portal,
    data: ApplicationFormData,
    errors: Vec<(String, String, String)>,
    status: StatusCode,
) -> PageResult {
    let r: Registrar = p.right()?;
    let reader = r.reader();
    let facility = match &p.me.facility {
        Some(f) => f.clone(),
        None => data.facility_code.clone(),
    };
    let facilities = if p.actor.is_center() {
        facilities::list(app, &reader, None, 1000)
            .await
            .map_err(|e| p.fail(e))?
            .into_iter()
            .map(|f| Choice {
                selected: f.code == facility,
                label: format!("{}（{}）", f.name_kanji, f.code),
                value: f.code,
            })
            .collect()
    } else {
        vec![]
    };
    let holders = if facility.is_empty() {
        vec![]
    } else {
        persons::list(app, &reader, &facility, None, 5000)
            .await
            .map_err(|e| p.fail(e))?
            .into_iter()
            .map(|x| Choice {
                selected: x.holder_id == data.holder_id,
                label: format!("{}（{}）", name(&x), x.holder_id),
                value: x.holder_id,
            })
            .collect()
    };
    let kind = if data.kind.is_empty() {
        "new"
    } else {
        &data.kind
    };
    let page = ApplicationFormPage {
        me: p.me.clone(),
        facility,
        facilities,
        holders,
        kinds: KINDS
            .iter()
            .map(|(v, l)| Choice {
                value: v.to_string(),
                label: l.to_string(),
                selected: *v == kind,
            })
            .collect(),
        validity: [("5", "5年"), ("3", "3年")]
            .iter()
            .map(|(v, l)| Choice {
                value: v.to_string(),
                label: l.to_string(),
                selected: *v == data.validity_years
                    || (data.validity_years.is_empty() && *v == "5"),
            })
            .collect(),
        detail: data.detail,
        target_card_id: data.target_card_id,
        errors,
    };
    Ok(html(status, &page))
}

/// `/portal/applications/new`: the form of a new application (a desk: for its own
/// facility; the center: for a facility it chooses).
pub async fn application_form(State(app): State<App>, p: Portal, uri: Uri) -> PageResult {
    #[derive(Deserialize, Default)]
    struct Q {
        facility: Option<String>,
    }
    let q: Q = query(&p, &uri)?;
    application_form_page(
        &app,
        &p,
        ApplicationFormData {
            facility_code: q.facility.unwrap_or_default(),
            ..Default::default()
        },
        vec![],
        StatusCode::OK,
    )
    .await
}

/// `POST /portal/applications/new`: drafts the application; field-level Japanese errors
/// are shown beside the fields (400/422), nothing is recorded then.
pub async fn application_create(
    State(app): State<App>,
    p: Portal,
    req: axum::extract::Request,
) -> PageResult {
    let r: Registrar = p.right()?;
    // The form carries the scanned application form when one is attached (the paper
    // application received by post); without a file it may also come URL-encoded.
    let (data, scan) = if super::is_multipart(req.headers()) {
        let m = multipart(&app, &p, req).await?;
        let data = ApplicationFormData {
            facility_code: m.get("facility_code"),
            holder_id: m.get("holder_id"),
            kind: m.get("kind"),
            detail: m.get("detail"),
            validity_years: m.get("validity_years"),
            target_card_id: m.get("target_card_id"),
        };
        (data, m.file.map(|(_, n, b)| (n, b)))
    } else {
        let headers = req.headers().clone();
        let body = <Bytes as axum::extract::FromRequest<()>>::from_request(req, &())
            .await
            .map_err(|_| {
                p.fail(AppError::BadInput(
                    "フォームの内容を読み取れませんでした".into(),
                ))
            })?;
        (
            form::<ApplicationFormData>(&app, &p, &headers, &body)?,
            None,
        )
    };
    let facility =
        p.me.facility
            .clone()
            .unwrap_or_else(|| data.facility_code.clone());
    let mut errors = Vec::new();
    if facility.is_empty() {
        errors.push((
            "facility_code".to_string(),
            "施設".to_string(),
            "申請する施設を選んでください".to_string(),
        ));
    }
    if data.holder_id.trim().is_empty() {
        errors.push((
            "holder_id".to_string(),
            "利用者".to_string(),
            "申請する利用者を選んでください".to_string(),
        ));
    }
    let validity = match data.validity_years.trim() {
        "" => None,
        v => match v.parse::<i64>() {
            Ok(n) => Some(n),
            Err(_) => {
                errors.push((
                    "validity_years".into(),
                    "有効期間".into(),
                    "有効期間は3年または5年から選んでください".into(),
                ));
                None
            }
        },
    };
    if !errors.is_empty() {
        return application_form_page(&app, &p, data, errors, StatusCode::BAD_REQUEST).await;
    }
    let input = applications::ApplicationInput {
        facility_code: facility,
        holder_id: data.holder_id.trim().to_string(),
        kind: data.kind.trim().to_string(),
        detail: Some(data.detail.trim().to_string()).filter(|d| !d.is_empty()),
        validity_years: validity,
        target_card_id: Some(data.target_card_id.trim().to_string()).filter(|d| !d.is_empty()),
    };
    let created = match &scan {
        Some((file_name, bytes)) => {
            applications::create_with_document(&app, &r, &input, file_name, bytes)
                .await
                .map(|(a, _)| a)
        }
        None => applications::create(&app, &r, &input).await,
    };
    match created {
        Ok(a) => Ok(Redirect::to(&format!("/portal/applications/{}", a.id)).into_response()),
        Err(AppError::Validation(fs)) => {
            let errors = fs
                .iter()
                .map(|f| {
                    (
                        f.field.clone(),
                        super::field_label(&f.field).to_string(),
                        f.message.clone(),
                    )
                })
                .collect();
            application_form_page(&app, &p, data, errors, StatusCode::UNPROCESSABLE_ENTITY).await
        }
        Err(e @ (AppError::BadInput(_) | AppError::Rule(_))) => {
            let status = crate::api::error::status_of(&e);
            let errors = vec![("".to_string(), "申請".to_string(), e.message_ja())];
            application_form_page(&app, &p, data, errors, status).await
        }
        Err(e) => Err(p.fail(e)),
    }
}

// --- Support center ----------------------------------------------------------------------

struct QueueRow {
    label: &'static str,
    count: i64,
    age: String,
    href: &'static str,
}

async fn queue_rows(app: &App, c: &Center) -> Result<Vec<QueueRow>, AppError> {
    let now = app.now();
    Ok(kmn_app::portal::work_queues(app, c)
        .await?
        .into_iter()
        .map(|q| QueueRow {
            label: q.label,
            count: q.count,
            age: q.oldest.map(|t| age(now, t)).unwrap_or_else(|| "—".into()),
            href: q.href,
        })
        .collect())
}

#[derive(Template)]
#[template(path = "portal/queues.html")]
struct QueuesPage {
    me: Me,
    queues: Vec<QueueRow>,
}

/// `/portal/queues`: the support center's work queues on one page.
pub async fn queues(State(app): State<App>, p: Portal) -> PageResult {
    let c: Center = p.right()?;
    let queues = queue_rows(&app, &c).await.map_err(|e| p.fail(e))?;
    Ok(html(StatusCode::OK, &QueuesPage { me: p.me, queues }))
}

struct PersonRow {
    holder_id: String,
    name: String,
    profession: String,
    born: String,
}

#[derive(Template)]
#[template(path = "portal/persons.html")]
struct PersonsPage {
    me: Me,
    kana: String,
    rows: Vec<PersonRow>,
    searched: bool,
    error: Option<String>,
}

/// `/portal/persons?kana=`: people by the start of their kana name.
pub async fn persons(State(app): State<App>, p: Portal, uri: Uri) -> PageResult {
    #[derive(Deserialize, Default)]
    struct Q {
        kana: Option<String>,
    }
    let r: Reader = p.right()?;
    let q: Q = query(&p, &uri)?;
    let kana = q.kana.unwrap_or_default();
    if kana.trim().is_empty() {
        return Ok(html(
            StatusCode::OK,
            &PersonsPage {
                me: p.me,
                kana,
                rows: vec![],
                searched: false,
                error: None,
            },
        ));
    }
    match kmn_app::portal::search_persons(&app, &r, &kana, None).await {
        Ok(v) => {
            let rows = v
                .iter()
                .map(|x| PersonRow {
                    holder_id: x.holder_id.clone(),
                    name: name(x),
                    profession: kmn_domain::Profession::from_code(&x.profession)
                        .map(|p| p.label_ja().to_string())
                        .unwrap_or_else(|_| x.profession.clone()),
                    born: super::calendar_date(&x.date_of_birth),
                })
                .collect();
            Ok(html(
                StatusCode::OK,
                &PersonsPage {
                    me: p.me,
                    kana,
                    rows,
                    searched: true,
                    error: None,
                },
            ))
        }
        Err(AppError::Validation(fs)) => Ok(html(
            StatusCode::BAD_REQUEST,
            &PersonsPage {
                me: p.me,
                kana,
                rows: vec![],
                searched: false,
                error: fs.first().map(|f| f.message.clone()),
            },
        )),
        Err(e) => Err(p.fail(e)),
    }
}

#[derive(Template)]
#[template(path = "portal/facility.html")]
struct FacilityPage {
    me: Me,
    f: kmn_app::views::Facility,
    consents: Vec<(String, String, String, String)>,
}

/// `/portal/facilities/{code}`: a facility and its consents (a desk: only its own —
/// another facility is refused with 403).
pub async fn facility(State(app): State<App>, p: Portal, Path(code): Path<String>) -> PageResult {
    let r: Reader = p.right()?;
    let f = facilities::get(&app, &r, &code)
        .await
        .map_err(|e| p.fail(e))?;
    let consents = facilities::consents(&app, &r, &code)
        .await
        .map_err(|e| p.fail(e))?
        .into_iter()
        .map(|c| {
            (
                match c.kind.as_str() {
                    "cps" => "認証局運用規程（CPS）".to_string(),
                    "terms" => "利用規約".to_string(),
                    "privacy_policy" => "個人情報の取扱い".to_string(),
                    k => k.to_string(),
                },
                c.version,
                c.given_by,
                date(c.given_at),
            )
        })
        .collect();
    Ok(html(
        StatusCode::OK,
        &FacilityPage {
            me: p.me,
            f,
            consents,
        },
    ))
}

#[derive(Template)]
#[template(path = "portal/pin_mailers.html")]
struct MailersPage {
    me: Me,
    rows: Vec<(String, String, String, String)>,
    message: Option<String>,
}

async fn mailers_page(app: &App, p: &Portal, message: Option<String>) -> PageResult {
    let c: Center = p.right()?;
    let rows = delivery::list_mailers(app, &c, Some("released"))
        .await
        .map_err(|e| p.fail(e))?
        .into_iter()
        .map(|m| {
            (
                m.id.clone(),
                m.card_id.clone(),
                if m.purpose == "unlock" {
                    "ロック解除".to_string()
                } else {
                    "初回".to_string()
                },
                m.released_at.map(date).unwrap_or_else(|| "—".into()),
            )
        })
        .collect();
    Ok(html(
        StatusCode::OK,
        &MailersPage {
            me: p.me.clone(),
            rows,
            message,
        },
    ))
}

/// `/portal/pin-mailers`: PIN mailers ready to send (released by the receipt).
pub async fn pin_mailers(State(app): State<App>, p: Portal) -> PageResult {
    mailers_page(&app, &p, None).await
}

/// `POST /portal/pin-mailers/{id}/dispatched`: the center records the dispatch.
pub async fn mailer_dispatched(
    State(app): State<App>,
    p: Portal,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> PageResult {
    let c: Center = p.right()?;
    form_pairs(&app, &p, &headers, &body)?;
    delivery::mailer_dispatched(&app, &c, &id)
        .await
        .map_err(|e| p.fail(e))?;
    mailers_page(
        &app,
        &p,
        Some(format!("PIN通知書 {id} の発送を記録しました。")),
    )
    .await
}

// --- Auditor -----------------------------------------------------------------------------

#[derive(Deserialize, Default)]
pub struct LogForm {
    action: Option<String>,
    object: Option<String>,
    actor: Option<String>,
    facility: Option<String>,
    from: Option<String>,
    to: Option<String>,
}

impl LogForm {
    fn query(&self) -> kmn_app::portal::LogQuery {
        kmn_app::portal::LogQuery {
            action: self.action.clone(),
            object: self.object.clone(),
            actor: self.actor.clone(),
            facility: self.facility.clone(),
            from: self.from.clone(),
            to: self.to.clone(),
            limit: 1000,
        }
    }

    fn query_string(&self) -> String {
        let pairs: Vec<(&str, &str)> = [
            ("action", &self.action),
            ("object", &self.object),
            ("actor", &self.actor),
            ("facility", &self.facility),
            ("from", &self.from),
            ("to", &self.to),
        ]
        .into_iter()
        .filter_map(|(k, v)| v.as_deref().filter(|s| !s.is_empty()).map(|v| (k, v)))
        .collect();
        serde_urlencoded::to_string(pairs).unwrap_or_default()
    }
}

struct AuditRowView {
    seq: i64,
    at: String,
    actor: String,
    action: String,
    object: String,
    facility: String,
    summary: String,
}

#[derive(Template)]
#[template(path = "portal/audit.html")]
struct AuditPage {
    me: Me,
    chain: kmn_app::portal::ChainStatus,
    action_path: &'static str,
    show_action: bool,
    f: LogView,
    rows: Vec<AuditRowView>,
    csv: String,
    error: Option<String>,
}

struct LogView {
    action: String,
    object: String,
    actor: String,
    facility: String,
    from: String,
    to: String,
}

impl From<&LogForm> for LogView {
    fn from(f: &LogForm) -> Self {
        let s = |v: &Option<String>| v.clone().unwrap_or_default();
        LogView {
            action: s(&f.action),
            object: s(&f.object),
            actor: s(&f.actor),
            facility: s(&f.facility),
            from: s(&f.from),
            to: s(&f.to),
        }
    }
}

fn validation_message(e: &AppError) -> Option<String> {
    match e {
        AppError::Validation(fs) => Some(
            fs.iter()
                .map(|f| format!("{}: {}", super::field_label(&f.field), f.message))
                .collect::<Vec<_>>()
                .join("、"),
        ),
        _ => None,
    }
}

/// `/portal/audit`: the audit log with filters (auditors, read-only).
pub async fn audit(State(app): State<App>, p: Portal, uri: Uri) -> PageResult {
    let a: Auditor = p.right()?;
    let f: LogForm = query(&p, &uri)?;
    let chain = kmn_app::portal::chain_status(&app, &a)
        .await
        .map_err(|e| p.fail(e))?;
    let (rows, error, status) = match kmn_app::portal::audit_log(&app, &a, &f.query()).await {
        Ok(v) => (v, None, StatusCode::OK),
        Err(e) => match validation_message(&e) {
            Some(m) => (vec![], Some(m), StatusCode::BAD_REQUEST),
            None => return Err(p.fail(e)),
        },
    };
    let rows = rows
        .into_iter()
        .map(|e| AuditRowView {
            seq: e.seq,
            at: datetime(e.at),
            actor: e.actor,
            action: e.action,
            object: e.object,
            facility: e.facility.unwrap_or_default(),
            summary: e.summary,
        })
        .collect();
    Ok(html(
        status,
        &AuditPage {
            me: p.me,
            chain,
            action_path: "/portal/audit",
            show_action: true,
            csv: format!("/portal/audit.csv?{}", f.query_string()),
            f: LogView::from(&f),
            rows,
            error,
        },
    ))
}

fn csv_field(s: &str) -> String {
    // Formula-looking cells are prefixed so that a spreadsheet does not evaluate them.
    let s = if s.starts_with(['=', '+', '-', '@']) {
        format!("'{s}")
    } else {
        s.to_string()
    };
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

fn csv_response(file: &str, header_row: &[&str], rows: Vec<Vec<String>>) -> Response {
    // UTF-8 with a byte order mark: spreadsheets in Japan open it as UTF-8.
    let mut out = String::from("\u{FEFF}");
    out.push_str(&header_row.join(","));
    out.push_str("\r\n");
    for r in rows {
        out.push_str(&r.iter().map(|c| csv_field(c)).collect::<Vec<_>>().join(","));
        out.push_str("\r\n");
    }
    let mut resp = (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{file}\""),
            ),
        ],
        out,
    )
        .into_response();
    super::secure(&mut resp);
    resp
}

/// `/portal/audit.csv`: the same rows as CSV.
pub async fn audit_csv(State(app): State<App>, p: Portal, uri: Uri) -> PageResult {
    let a: Auditor = p.right()?;
    let f: LogForm = query(&p, &uri)?;
    let rows = kmn_app::portal::audit_log(&app, &a, &f.query())
        .await
        .map_err(|e| p.fail(e))?
        .into_iter()
        .map(|e| {
            vec![
                e.seq.to_string(),
                kmn_domain::time_fmt::rfc3339_unix(e.at),
                datetime(e.at),
                e.actor,
                e.action,
                e.object,
                e.facility.unwrap_or_default(),
                e.summary,
                e.hash,
            ]
        })
        .collect();
    Ok(csv_response(
        "audit-log.csv",
        &[
            "番号",
            "日時(UTC)",
            "日時(JST)",
            "操作者",
            "操作",
            "対象",
            "施設",
            "概要",
            "ハッシュ",
        ],
        rows,
    ))
}

struct AccessRowView {
    at: String,
    account: String,
    role: String,
    action: String,
    object: String,
    facility: String,
}

#[derive(Template)]
#[template(path = "portal/access.html")]
struct AccessPage {
    me: Me,
    action_path: &'static str,
    show_action: bool,
    f: LogView,
    rows: Vec<AccessRowView>,
    csv: String,
    error: Option<String>,
}

fn role_label(r: &str) -> String {
    Role::parse(r)
        .map(|r| r.label_ja().to_string())
        .unwrap_or_else(|| r.to_string())
}

/// `/portal/access-log`: the personal-data access log with filters (auditors).
pub async fn access(State(app): State<App>, p: Portal, uri: Uri) -> PageResult {
    let a: Auditor = p.right()?;
    let f: LogForm = query(&p, &uri)?;
    let (rows, error, status) = match kmn_app::portal::access_log(&app, &a, &f.query()).await {
        Ok(v) => (v, None, StatusCode::OK),
        Err(e) => match validation_message(&e) {
            Some(m) => (vec![], Some(m), StatusCode::BAD_REQUEST),
            None => return Err(p.fail(e)),
        },
    };
    let rows = rows
        .into_iter()
        .map(|r| AccessRowView {
            at: datetime(r.at),
            account: r.account_id,
            role: role_label(&r.role),
            action: r.action,
            object: r.object,
            facility: r.facility.unwrap_or_default(),
        })
        .collect();
    Ok(html(
        status,
        &AccessPage {
            me: p.me,
            action_path: "/portal/access-log",
            show_action: false,
            csv: format!("/portal/access-log.csv?{}", f.query_string()),
            f: LogView::from(&f),
            rows,
            error,
        },
    ))
}

/// `/portal/access-log.csv`: the same rows as CSV.
pub async fn access_csv(State(app): State<App>, p: Portal, uri: Uri) -> PageResult {
    let a: Auditor = p.right()?;
    let f: LogForm = query(&p, &uri)?;
    let rows = kmn_app::portal::access_log(&app, &a, &f.query())
        .await
        .map_err(|e| p.fail(e))?
        .into_iter()
        .map(|r| {
            vec![
                r.id.to_string(),
                kmn_domain::time_fmt::rfc3339_unix(r.at),
                datetime(r.at),
                r.account_id,
                role_label(&r.role),
                r.action,
                r.object,
                r.facility.unwrap_or_default(),
            ]
        })
        .collect();
    Ok(csv_response(
        "access-log.csv",
        &[
            "番号",
            "日時(UTC)",
            "日時(JST)",
            "アカウント",
            "権限",
            "操作",
            "対象",
            "施設",
        ],
        rows,
    ))
}

// --- Supervisor --------------------------------------------------------------------------

struct ProposalRowView {
    id: String,
    kind: String,
    state: String,
    proposed_by: String,
    proposed_at: String,
    expires_at: String,
}

fn proposal_kind(k: &str) -> String {
    match k {
        kmn_app::ra::association::KIND => "本会による失効（第12条）".into(),
        emergency::PHONE_REVIEW_KIND => "電話による緊急失効の事後確認".into(),
        k => k.to_string(),
    }
}

#[derive(Template)]
#[template(path = "portal/proposals.html")]
struct ProposalsPage {
    me: Me,
    rows: Vec<ProposalRowView>,
}

/// `/portal/proposals`: proposals of dual control (support-center staff read; a
/// supervisor decides).
pub async fn proposals(State(app): State<App>, p: Portal) -> PageResult {
    let c: Center = p.right()?;
    let rows = kmn_app::proposal::list(&app, &c, None)
        .await
        .map_err(|e| p.fail(e))?
        .into_iter()
        .map(|x| ProposalRowView {
            id: x.id,
            kind: proposal_kind(&x.kind),
            state: x.state.label_ja().to_string(),
            proposed_by: x.proposed_by_person,
            proposed_at: datetime(x.proposed_at),
            expires_at: datetime(x.expires_at),
        })
        .collect();
    Ok(html(StatusCode::OK, &ProposalsPage { me: p.me, rows }))
}

#[derive(Template)]
#[template(path = "portal/proposal.html")]
struct ProposalPage {
    me: Me,
    id: String,
    kind: String,
    state: String,
    payload: String,
    sha: String,
    proposed_by: String,
    proposed_at: String,
    expires_at: String,
    decided: String,
    note: String,
    can_decide: bool,
    message: Option<String>,
}

async fn proposal_page(app: &App, p: &Portal, id: &str, message: Option<String>) -> PageResult {
    let c: Center = p.right()?;
    let x = kmn_app::proposal::get(app, &c, id)
        .await
        .map_err(|e| p.fail(e))?;
    let payload = serde_json::from_str::<serde_json::Value>(&x.payload)
        .ok()
        .and_then(|v| serde_json::to_string_pretty(&v).ok())
        .unwrap_or_else(|| x.payload.clone());
    let page = ProposalPage {
        me: p.me.clone(),
        id: x.id.clone(),
        kind: proposal_kind(&x.kind),
        state: x.state.label_ja().to_string(),
        payload,
        sha: x.content_sha256.clone(),
        proposed_by: x.proposed_by_person.clone(),
        proposed_at: datetime(x.proposed_at),
        expires_at: datetime(x.expires_at),
        decided: match (&x.decided_by_person, x.decided_at) {
            (Some(who), Some(t)) => format!("{}（{who}）", datetime(t)),
            _ => "—".into(),
        },
        note: x.note.clone().unwrap_or_default(),
        can_decide: p.actor.role() == Role::Supervisor
            && x.state == kmn_domain::proposal::ProposalState::Proposed,
        message,
    };
    Ok(html(StatusCode::OK, &page))
}

/// `/portal/proposals/{id}`: one proposal with its content and its hash.
pub async fn proposal(State(app): State<App>, p: Portal, Path(id): Path<String>) -> PageResult {
    proposal_page(&app, &p, &id, None).await
}

#[derive(Deserialize)]
pub struct DecisionForm {
    #[serde(default)]
    content_sha256: String,
    #[serde(default)]
    reason: String,
}

/// `POST /portal/proposals/{id}/approve`: a supervisor — another person than the
/// proposer — approves the content they saw; an association revocation is carried out.
pub async fn proposal_approve(
    State(app): State<App>,
    p: Portal,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> PageResult {
    let s: Supervisor = p.right()?;
    let f: DecisionForm = form(&app, &p, &headers, &body)?;
    let kind = kmn_app::proposal::get(&app, &s.center(), &id)
        .await
        .map_err(|e| p.fail(e))?
        .kind;
    let msg = if kind == kmn_app::ra::association::KIND {
        let d = kmn_app::ra::association::approve(&app, &s, &id, &f.content_sha256, &mut |_, _| {})
            .await
            .map_err(|e| p.fail(e))?;
        format!(
            "承認し、{}枚の利用者カードの証明書を失効させました。",
            d.revoked.len()
        )
    } else {
        kmn_app::proposal::approve(&app, &s, &id, &f.content_sha256)
            .await
            .map_err(|e| p.fail(e))?;
        "承認しました。".to_string()
    };
    proposal_page(&app, &p, &id, Some(msg)).await
}

/// `POST /portal/proposals/{id}/reject`: a supervisor rejects, with a reason.
pub async fn proposal_reject(
    State(app): State<App>,
    p: Portal,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> PageResult {
    let s: Supervisor = p.right()?;
    let f: DecisionForm = form(&app, &p, &headers, &body)?;
    kmn_app::proposal::reject(&app, &s, &id, &f.content_sha256, &f.reason)
        .await
        .map_err(|e| p.fail(e))?;
    proposal_page(&app, &p, &id, Some("却下しました。".into())).await
}

// --- Dashboard ---------------------------------------------------------------------------

#[derive(Template)]
#[template(path = "portal/dashboard.html")]
struct DashboardPage {
    me: Me,
    charts: Vec<String>,
    crls: Vec<(String, i64, String, i64, String)>,
}

#[derive(Template)]
#[template(path = "portal/chart.html")]
struct ChartPart<'a> {
    chart: &'a super::svg::BarChart,
    id: &'a str,
    vertical: bool,
}

/// `/portal/dashboard`: pictures for the center (server-rendered SVG, no script).
pub async fn dashboard(State(app): State<App>, p: Portal) -> PageResult {
    let c: Center = p.right()?;
    let d = kmn_app::portal::dashboard(&app, &c)
        .await
        .map_err(|e| p.fail(e))?;
    use super::svg::BarChart;
    let charts = [
        (
            BarChart::horizontal("状態別の利用者カード", "枚", &d.cards_by_state),
            "cards",
            false,
        ),
        (
            BarChart::vertical("週ごとの申請数（過去12週）", "件", &d.applications_per_week),
            "weeks",
            true,
        ),
        (
            BarChart::horizontal("理由別の失効（過去1年）", "件", &d.revocations_by_reason),
            "reasons",
            false,
        ),
        (
            BarChart::vertical(
                "今後12か月に有効期限を迎える利用者カード",
                "枚",
                &d.expiries_by_month,
            ),
            "expiries",
            true,
        ),
    ];
    let mut parts = Vec::new();
    for (chart, id, vertical) in &charts {
        // Each chart is a template of its own (its text escaped there).
        parts.push(
            ChartPart {
                chart,
                id,
                vertical: *vertical,
            }
            .render()
            .map_err(|e| p.fail(AppError::Internal(e.to_string())))?,
        );
    }
    let page = DashboardPage {
        me: p.me,
        charts: parts,
        crls: d
            .crls
            .iter()
            .map(|(ca, n, age_s, entries, size)| {
                (
                    ca.clone(),
                    *n,
                    age(0, -*age_s),
                    *entries,
                    size.map(|s| format!("{s}バイト"))
                        .unwrap_or_else(|| "—".into()),
                )
            })
            .collect(),
    };
    Ok(html(StatusCode::OK, &page))
}

// --- Settings ----------------------------------------------------------------------------

#[derive(Template)]
#[template(path = "portal/settings.html")]
struct SettingsPage {
    me: Me,
    era: bool,
    example: String,
    message: Option<String>,
}

async fn settings_page(app: &App, p: &Portal, message: Option<String>) -> PageResult {
    let style = kmn_app::portal::date_style(app, &p.actor)
        .await
        .map_err(|e| p.fail(e))?;
    let now = time::OffsetDateTime::from_unix_timestamp(app.now())
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    let era = style == kmn_app::portal::DateStyle::Era;
    Ok(html(
        StatusCode::OK,
        &SettingsPage {
            me: p.me.clone(),
            era,
            example: if era {
                kmn_domain::time_fmt::ja_era_date(now)
            } else {
                kmn_domain::time_fmt::ja_date(now)
            },
            message,
        },
    ))
}

/// `/portal/settings`: the account's own display settings (西暦 or 和暦).
pub async fn settings(State(app): State<App>, p: Portal) -> PageResult {
    settings_page(&app, &p, None).await
}

#[derive(Deserialize)]
pub struct SettingsForm {
    #[serde(default)]
    date_style: String,
}

/// `POST /portal/settings`: records the account's date style.
pub async fn settings_save(
    State(app): State<App>,
    p: Portal,
    headers: HeaderMap,
    body: Bytes,
) -> PageResult {
    let f: SettingsForm = form(&app, &p, &headers, &body)?;
    let style = kmn_app::portal::DateStyle::parse(&f.date_style).map_err(|e| p.fail(e))?;
    kmn_app::portal::set_date_style(&app, &p.actor, style)
        .await
        .map_err(|e| p.fail(e))?;
    settings_page(&app, &p, Some("表示設定を保存しました。".into())).await
}

// --- Supervisor: accounts and their certificates; the facility registry ----------------

struct AccountRowView {
    id: String,
    name: String,
    role: String,
    facility: String,
    serial: String,
    profile: String,
    status: String,
    not_after: String,
    key: String,
    disabled: bool,
}

#[derive(Template)]
#[template(path = "portal/accounts.html")]
struct AccountsPage {
    me: Me,
    rows: Vec<AccountRowView>,
    /// One account's page (`/portal/accounts/{id}`) rather than the list.
    one: bool,
    message: Option<String>,
}

fn account_row(a: kmn_app::ra::accounts::AccountCredentials) -> AccountRowView {
    let role = Role::parse(&a.account.role)
        .map(|r| r.label_ja().to_string())
        .unwrap_or_else(|| a.account.role.clone());
    AccountRowView {
        id: a.account.id.clone(),
        name: a.account.display_name.clone(),
        role,
        facility: a.account.facility_code.clone().unwrap_or_default(),
        serial: a.cert_serial_hex.clone().unwrap_or_else(|| "—".into()),
        profile: match a.cert_profile.as_deref() {
            Some("operator") => "担当者証明書".into(),
            Some("user-card") => "利用者カード".into(),
            Some("station") => "発行端末".into(),
            Some(x) => x.to_string(),
            None => "—".into(),
        },
        status: a
            .cert_status
            .as_deref()
            .map(|s| cert_status(s).to_string())
            .unwrap_or_else(|| "—".into()),
        not_after: a.cert_not_after.map(date).unwrap_or_else(|| "—".into()),
        key: a
            .key_location
            .as_ref()
            .map(|k| k.label_ja())
            .unwrap_or_else(|| "—".into()),
        disabled: a.account.disabled != 0,
    }
}

async fn accounts_page(
    app: &App,
    p: &Portal,
    only: Option<&str>,
    message: Option<String>,
) -> PageResult {
    let c: Center = p.right()?;
    let all = kmn_app::ra::accounts::list_with_credentials(app, &c)
        .await
        .map_err(|e| p.fail(e))?;
    let rows: Vec<AccountRowView> = all
        .into_iter()
        .filter(|a| only.is_none_or(|id| a.account.id == id))
        .map(account_row)
        .collect();
    if let Some(id) = only
        && rows.is_empty()
    {
        return Err(p.fail(AppError::NotFound(format!("アカウント {id} はありません"))));
    }
    Ok(html(
        StatusCode::OK,
        &AccountsPage {
            me: p.me.clone(),
            rows,
            one: only.is_some(),
            message,
        },
    ))
}

/// `/portal/accounts`: every account with its certificate (serial, kind, status,
/// expiry) and where its key lives (support center; the supervisor's menu).
pub async fn accounts(State(app): State<App>, p: Portal) -> PageResult {
    accounts_page(&app, &p, None, None).await
}

/// `/portal/accounts/{id}`: one account and its certificate.
pub async fn account(State(app): State<App>, p: Portal, Path(id): Path<String>) -> PageResult {
    accounts_page(&app, &p, Some(&id), None).await
}

/// `POST /portal/accounts/{id}/disable`: the account can no longer log in.
pub async fn account_disable(
    State(app): State<App>,
    p: Portal,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> PageResult {
    let c: Center = p.right()?;
    form_pairs(&app, &p, &headers, &body)?;
    kmn_app::ra::accounts::disable(&app, &c, &id)
        .await
        .map_err(|e| p.fail(e))?;
    accounts_page(
        &app,
        &p,
        Some(&id),
        Some("アカウントを停止しました。この証明書ではログインできません。".into()),
    )
    .await
}

struct RegistryRow {
    code: String,
    name: String,
    kind: String,
    consents: Vec<(String, String, String)>,
}

#[derive(Template)]
#[template(path = "portal/facilities.html")]
struct FacilitiesPage {
    me: Me,
    rows: Vec<RegistryRow>,
}

/// `/portal/facilities`: the center's facility registry with each facility's consents
/// by document and version (利用規約第2条2).
pub async fn facilities_list(State(app): State<App>, p: Portal) -> PageResult {
    let c: Center = p.right()?;
    let r = c.reader();
    let list = facilities::list(&app, &r, None, 1000)
        .await
        .map_err(|e| p.fail(e))?;
    let mut rows = Vec::new();
    for f in list {
        let consents = facilities::consents(&app, &r, &f.code)
            .await
            .map_err(|e| p.fail(e))?
            .into_iter()
            .map(|c| (consent_kind(&c.kind), c.version, date(c.given_at)))
            .collect();
        rows.push(RegistryRow {
            name: format!("{}（{}）", f.name_kanji, f.name_kana),
            kind: f.kind,
            code: f.code,
            consents,
        });
    }
    Ok(html(StatusCode::OK, &FacilitiesPage { me: p.me, rows }))
}

fn consent_kind(k: &str) -> String {
    match k {
        "cps" => "認証局運用規程（CPS）".to_string(),
        "terms" => "利用規約".to_string(),
        "privacy_policy" => "個人情報の取扱い".to_string(),
        k => k.to_string(),
    }
}

// --- The doctor registry (issue 11 item 3; 利用規約第4条) --------------------------------

use kmn_app::ra::doctors;

struct DoctorRowView {
    id: String,
    facility: String,
    subject: String,
    serial: String,
    state: String,
    validity: String,
    enrolled: String,
    ended: String,
    closed: String,
    reason: String,
}

fn doctor_row(b: &kmn_app::views::DoctorBinding) -> DoctorRowView {
    DoctorRowView {
        id: b.id.clone(),
        facility: b.facility_code.clone(),
        subject: b.subject.clone(),
        serial: b.serial_hex.clone(),
        state: b
            .state
            .parse::<kmn_domain::doctor::BindingState>()
            .map(|s| s.label_ja().to_string())
            .unwrap_or_else(|_| b.state.clone()),
        validity: format!("{}〜{}", date(b.not_before), date(b.not_after)),
        enrolled: date(b.enrolled_at),
        ended: b
            .ended_on
            .as_deref()
            .and_then(|d| {
                time::Date::parse(d, time::macros::format_description!("[year]-[month]-[day]")).ok()
            })
            .map(|d| format!("{}年{}月{}日", d.year(), u8::from(d.month()), d.day()))
            .unwrap_or_default(),
        closed: b.closed_at.map(date).unwrap_or_default(),
        reason: b.close_reason.clone().unwrap_or_default(),
    }
}

#[derive(Template)]
#[template(path = "portal/doctors.html")]
struct DoctorsPage {
    me: Me,
    rows: Vec<DoctorRowView>,
    facilities: Vec<Choice>,
    can_enrol: bool,
    errors: Vec<(String, String)>,
}

async fn doctors_page(
    app: &App,
    p: &Portal,
    errors: Vec<(String, String)>,
    status: StatusCode,
) -> PageResult {
    let r: Reader = p.right()?;
    let rows = doctors::list(app, &r, p.me.facility.as_deref(), None, None, 500)
        .await
        .map_err(|e| p.fail(e))?
        .iter()
        .map(doctor_row)
        .collect();
    let facilities = if p.actor.is_center() {
        facilities::list(app, &r, None, 1000)
            .await
            .map_err(|e| p.fail(e))?
            .into_iter()
            .map(|f| Choice {
                selected: false,
                label: format!("{}（{}）", f.name_kanji, f.code),
                value: f.code,
            })
            .collect()
    } else {
        vec![]
    };
    let can_enrol = p.actor.is_center() || p.actor.role() == Role::FacilityDesk;
    Ok(html(
        status,
        &DoctorsPage {
            me: p.me.clone(),
            rows,
            facilities,
            can_enrol,
            errors,
        },
    ))
}

/// `/portal/doctors`: the doctors registered for the facility (a desk: its own), with
/// their states, and the form to upload a doctor's HPKI certificate.
pub async fn doctors_list(State(app): State<App>, p: Portal) -> PageResult {
    doctors_page(&app, &p, vec![], StatusCode::OK).await
}

fn field_errors(fs: &[kmn_app::error::FieldError]) -> Vec<(String, String)> {
    fs.iter()
        .map(|f| (doctor_field(&f.field).to_string(), f.message.clone()))
        .collect()
}

fn doctor_field(f: &str) -> &str {
    match f {
        "certificate" => "医師資格証の証明書",
        "given_by" => "確認した施設の方の氏名",
        "reason" => "理由",
        "ended_on" => "終了日",
        f => super::field_label(f),
    }
}

/// `POST /portal/doctors`: the desk (or the center, for a facility it chooses) uploads
/// a doctor's HPKI certificate (PEM or DER); refused in Japanese beside the form.
pub async fn doctor_enrol(
    State(app): State<App>,
    p: Portal,
    req: axum::extract::Request,
) -> PageResult {
    let r: Registrar = p.right()?;
    let form = multipart(&app, &p, req).await?;
    let facility =
        p.me.facility
            .clone()
            .unwrap_or_else(|| form.get("facility_code"));
    let bytes = form.file.map(|(_, _, b)| b).unwrap_or_default();
    match doctors::enrol(&app, &r, &facility, &bytes).await {
        Ok(b) => Ok(Redirect::to(&format!("/portal/doctors/{}", b.id)).into_response()),
        Err(e @ AppError::Validation(_)) => {
            let status = crate::api::error::status_of(&e);
            let AppError::Validation(fs) = e else {
                unreachable!()
            };
            doctors_page(&app, &p, field_errors(&fs), status).await
        }
        Err(e) => Err(p.fail(e)),
    }
}

#[derive(Template)]
#[template(path = "portal/doctor.html")]
struct DoctorPage {
    me: Me,
    b: DoctorRowView,
    issuer: String,
    state_code: String,
    confirmed: String,
    approved: String,
    center: bool,
    message: Option<String>,
    errors: Vec<(String, String)>,
}

async fn doctor_page(
    app: &App,
    p: &Portal,
    id: &str,
    message: Option<String>,
    errors: Vec<(String, String)>,
    status: StatusCode,
) -> PageResult {
    let r: Reader = p.right()?;
    let b = doctors::get(app, &r, id).await.map_err(|e| p.fail(e))?;
    let page = DoctorPage {
        me: p.me.clone(),
        b: doctor_row(&b),
        issuer: b.issuer.clone(),
        state_code: b.state.clone(),
        confirmed: b.confirmed_at.map(datetime).unwrap_or_default(),
        approved: b.approved_at.map(datetime).unwrap_or_default(),
        center: p.actor.is_center(),
        message,
        errors,
    };
    Ok(html(status, &page))
}

/// `/portal/doctors/{id}`: one registration with its steps and the actions its state
/// allows.
pub async fn doctor(State(app): State<App>, p: Portal, Path(id): Path<String>) -> PageResult {
    doctor_page(&app, &p, &id, None, vec![], StatusCode::OK).await
}

/// `POST /portal/doctors/{id}/{action}`: confirm (desk, or the center recording the
/// facility's written confirmation), approve or refuse (center), end with its date.
pub async fn doctor_act(
    State(app): State<App>,
    p: Portal,
    Path((id, action)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> PageResult {
    let pairs = form_pairs(&app, &p, &headers, &body)?;
    let get = |k: &str| {
        pairs
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.trim().to_string())
            .unwrap_or_default()
    };
    let r = match action.as_str() {
        "confirm" => {
            let reg: Registrar = p.right()?;
            let g = get("given_by");
            doctors::confirm(&app, &reg, &id, Some(g.as_str()).filter(|g| !g.is_empty()))
                .await
                .map(|_| "施設の確認を記録しました。")
        }
        "approve" => {
            let c: Center = p.right()?;
            doctors::approve(&app, &c, &id)
                .await
                .map(|_| "承認しました。この医師資格証で施設の医師として利用できます。")
        }
        "refuse" => {
            let c: Center = p.right()?;
            doctors::refuse(&app, &c, &id, &get("reason"))
                .await
                .map(|_| "登録を却下しました。")
        }
        "end" => {
            let reg: Registrar = p.right()?;
            doctors::end(&app, &reg, &id, &get("ended_on"), &get("reason"))
                .await
                .map(|_| "登録を終了しました。")
        }
        _ => {
            return Err(p.fail(AppError::NotFound(
                "お探しのページは見つかりません。".into(),
            )));
        }
    };
    match r {
        Ok(m) => doctor_page(&app, &p, &id, Some(m.into()), vec![], StatusCode::OK).await,
        Err(e @ AppError::Validation(_)) => {
            let status = crate::api::error::status_of(&e);
            let AppError::Validation(fs) = e else {
                unreachable!()
            };
            doctor_page(&app, &p, &id, None, field_errors(&fs), status).await
        }
        Err(e) => Err(p.fail(e)),
    }
}

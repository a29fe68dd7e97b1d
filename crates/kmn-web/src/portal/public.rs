//! Public pages of the HTTPS listener (no certificate): the repository's index — the
//! CA certificates, the CRLs, the published CPS, terms and privacy policy — and the
//! way to the holders' emergency revocation form; the association's home-page notices
//! (第24条).

use askama::Template;
use axum::Extension;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use kmn_app::App;

use super::{EmergencyPort, PageError, date, datetime, html};

struct DocumentRow {
    kind: String,
    label: String,
    version: String,
    published: String,
    href: String,
    current: bool,
}

struct CaRow {
    name: String,
    kind: String,
    not_after: String,
    crt: String,
    crl: Option<String>,
    crl_number: String,
    crl_next: String,
}

#[derive(Template)]
#[template(path = "portal/repository.html")]
struct RepositoryPage {
    cas: Vec<CaRow>,
    documents: Vec<DocumentRow>,
    notices: Vec<(String, String, String)>,
    emergency: String,
    phone: String,
}

/// `/public/repository`: the repository's index, linking the files `/repo/…` serves.
pub async fn repository(
    State(app): State<App>,
    bound: Option<Extension<EmergencyPort>>,
    headers: HeaderMap,
) -> Result<axum::response::Response, PageError> {
    let fail = |e| PageError::new(e, None);
    let cas = kmn_app::views::public::cas(&app).await.map_err(fail)?;
    let crls = kmn_app::views::public::last_crls(&app)
        .await
        .map_err(fail)?;
    let cas = cas
        .into_iter()
        .filter(|c| c.active)
        .map(|c| {
            let crl = crls.iter().find(|l| l.ca_name == c.name);
            CaRow {
                kind: match c.kind {
                    kmn_app::views::CaKind::Root => "ルート認証局".into(),
                    kmn_app::views::CaKind::Issuing => "発行認証局".into(),
                    kmn_app::views::CaKind::OcspSigner => "OCSP応答の署名者".into(),
                    kmn_app::views::CaKind::AuditSigner => "監査ログ・失効の証明の署名者".into(),
                },
                not_after: date(c.not_after),
                crt: format!("/repo/{}.crt", c.name),
                crl: crl.map(|_| format!("/repo/{}.crl", c.name)),
                crl_number: crl.map(|l| l.number.to_string()).unwrap_or_default(),
                crl_next: crl.map(|l| datetime(l.next_update)).unwrap_or_default(),
                name: c.name,
            }
        })
        .collect();
    // Every published version, the current one first within its kind (第1条5–6, 第2条2).
    let mut documents: Vec<DocumentRow> = Vec::new();
    let list = kmn_app::ra::documents::list(&app).await.map_err(fail)?;
    let flags = kmn_app::ra::documents::current_flags(&list);
    for (d, current) in list.into_iter().zip(flags) {
        let label = match d.kind.as_str() {
            "cps" => "認証局運用規程（CPS）",
            "terms" => "利用規約",
            _ => "個人情報の取扱い",
        };
        documents.push(DocumentRow {
            label: label.to_string(),
            version: d.version.clone(),
            published: date(d.published_at),
            href: format!("/repo/{}/{}", d.kind, d.version),
            kind: d.kind,
            current,
        });
    }
    documents.reverse();
    documents.sort_by_key(|d| {
        kmn_app::ra::documents::KINDS
            .iter()
            .position(|k| *k == d.kind)
    });
    let notices = kmn_app::ra::public_notices::in_force(&app, 50)
        .await
        .map_err(fail)?
        .into_iter()
        .map(|n| {
            (
                date(n.published_at),
                n.title,
                format!("/public/notices/{}", n.id),
            )
        })
        .collect();
    // The holders' form listens on its own port (no certificate asked there).
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("localhost");
    let host = match host.rsplit_once(':') {
        Some((h, p)) if p.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => host,
    };
    // The port it is bound to; the configured one for a router without a listener.
    let port = match bound {
        Some(Extension(EmergencyPort(p))) => p.to_string(),
        None => app
            .cfg
            .emergency_listen
            .rsplit_once(':')
            .map(|(_, p)| p.to_string())
            .unwrap_or_else(|| "8444".into()),
    };
    Ok(html(
        StatusCode::OK,
        &RepositoryPage {
            cas,
            documents,
            notices,
            emergency: format!("https://{host}:{port}/emergency"),
            phone: app.cfg.support_center_phone.clone(),
        },
    ))
}

#[derive(Template)]
#[template(path = "portal/public_notice.html")]
struct NoticePage {
    title: String,
    published: String,
    paragraphs: Vec<String>,
}

/// `/public/notices/{id}`: one notice of the association's home page (第24条); a
/// withdrawn or absent notice is "not found".
pub async fn notice(
    State(app): State<App>,
    axum::extract::Path(id): axum::extract::Path<String>,
) -> Result<axum::response::Response, PageError> {
    let n = kmn_app::ra::public_notices::public_get(&app, &id)
        .await
        .map_err(|e| PageError::new(e, None))?
        .ok_or_else(|| {
            PageError::new(
                kmn_app::AppError::NotFound(
                    "このお知らせは見つかりません（取り下げられたか、番号が違います）。".into(),
                ),
                None,
            )
        })?;
    Ok(html(
        StatusCode::OK,
        &NoticePage {
            title: n.title,
            published: date(n.published_at),
            paragraphs: n.body.split("\n\n").map(str::to_string).collect(),
        },
    ))
}

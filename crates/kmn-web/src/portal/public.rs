//! Public pages of the HTTPS listener (no certificate): the repository's index — the
//! CA certificates, the CRLs, the published CPS, terms and privacy policy — and the
//! way to the holders' emergency revocation form.

use askama::Template;
use axum::Extension;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use kmn_app::App;

use super::{EmergencyPort, PageError, date, datetime, html};

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
    documents: Vec<(String, String, String, String)>,
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
    let mut documents = Vec::new();
    for (kind, label) in [
        ("cps", "認証局運用規程（CPS）"),
        ("terms", "利用規約"),
        ("privacy_policy", "個人情報の取扱い"),
    ] {
        if let Some(d) = kmn_app::views::public::published_document(&app, kind, None)
            .await
            .map_err(fail)?
        {
            documents.push((
                label.to_string(),
                d.version.clone(),
                date(d.published_at),
                format!("/repo/{kind}"),
            ));
        }
    }
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
            emergency: format!("https://{host}:{port}/emergency"),
            phone: app.cfg.support_center_phone.clone(),
        },
    ))
}

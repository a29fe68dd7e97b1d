//! Versioned documents (第1条5–6, 第2条2): the CPS, the terms of use and the privacy
//! policy are stored by version and published in the repository; a new version of the
//! CPS or the terms requires every facility's fresh consent, so every facility is told.

use kmn_store::{NewAuditEvent, PublishedDocumentRow};
use sha2::Digest;

use crate::rights::Center;
use crate::{App, AppError};

/// The document kinds.
pub const KINDS: [&str; 3] = ["cps", "terms", "privacy_policy"];

/// Japanese names of the kinds.
pub fn kind_label(kind: &str) -> &'static str {
    match kind {
        "cps" => "認証局運用規程（CPS）",
        "terms" => "利用者カード利用規約",
        _ => "個人情報の取扱いについて",
    }
}

/// Publishes a new version; notifies every active facility.
pub async fn publish(
    app: &App,
    who: &Center,
    kind: &str,
    version: &str,
    file_name: &str,
    bytes: Vec<u8>,
) -> Result<usize, AppError> {
    let actor = who.actor();
    if !KINDS.contains(&kind) {
        return Err(AppError::BadInput(format!(
            "文書の種類 '{kind}' は使えません（cps, terms, privacy_policy）"
        )));
    }
    let v = version.trim();
    if v.is_empty()
        || v.len() > 32
        || !v
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || ".-_".contains(c))
    {
        return Err(AppError::BadInput(
            "版は英数字と . - _ で32文字以内で指定してください（例: 2.00）".into(),
        ));
    }
    if bytes.is_empty() || bytes.len() > 20 * 1024 * 1024 {
        return Err(AppError::BadInput(
            "文書ファイルが空か、20MiBを超えています".into(),
        ));
    }
    let now = app.now();
    let mut tx = app.store.begin().await?;
    let r = async {
        tx.insert_published_document(&PublishedDocumentRow {
            kind: kind.into(),
            version: v.into(),
            file_name: file_name.into(),
            sha256: hex::encode(sha2::Sha256::digest(&bytes)),
            bytes,
            published_at: now,
            published_by: actor.account_id.clone(),
        })
        .await
        .map_err(|e| match e {
            kmn_store::StoreError::Conflict(_) => AppError::Conflict(format!("{} 第{v}版は既に公開されています", kind_label(kind))),
            other => other.into(),
        })?;
        let facilities = tx.all_facility_codes().await?;
        let consent_needed = kind != "privacy_policy";
        for (code, _) in &facilities {
            let published = format!(
                "「{label}」第{v}版を公開いたしましたので、お知らせいたします。次のリポジトリでご覧いただけます。\n{base}/repo/{kind}",
                label = kind_label(kind),
                base = app.cfg.public_base_url,
            );
            let body = if consent_needed {
                format!(
                    "{published}\n\n新しい版にご同意いただくまで、貴施設からの利用申請はお受けできません（利用規約第2条2）。内容をご確認のうえ、同意の手続きをお願いいたします。"
                )
            } else {
                published
            };
            super::notify::notify(&mut tx, code, "document_published", &format!("【くまもとメディカルネットワーク】{}改定のお知らせ", kind_label(kind)), &body, Some(&format!("document:{kind}/{v}")), now).await?;
        }
        tx.append_audit(&NewAuditEvent {
            at: now,
            actor: &actor.account_id,
            action: "document.publish",
            object: &format!("document:{kind}/{v}"),
            facility: None,
            summary: &format!("published {kind} version {v} ({file_name}); {} facilities notified", facilities.len()),
        })
        .await?;
        Ok::<_, AppError>(facilities.len())
    }
    .await;
    crate::finish(tx, r).await
}

/// Every published version (public, as the repository is), by kind in the order of
/// [`KINDS`] and oldest first within a kind; the last of a kind is the current version.
pub async fn list(app: &App) -> Result<Vec<kmn_store::PublishedDocumentInfo>, AppError> {
    let mut tx = app.store.read().await?;
    let r = tx.published_documents().await;
    tx.rollback().await?;
    let mut v = r?;
    v.sort_by_key(|d| {
        KINDS
            .iter()
            .position(|k| *k == d.kind)
            .unwrap_or(KINDS.len())
    });
    Ok(v)
}

/// Which rows of [`list`] are the current version of their kind (the last of each kind).
pub fn current_flags(list: &[kmn_store::PublishedDocumentInfo]) -> Vec<bool> {
    (0..list.len())
        .map(|i| list.get(i + 1).is_none_or(|n| n.kind != list[i].kind))
        .collect()
}

/// The media type of a document by its file name.
pub fn media_type(file_name: &str) -> &'static str {
    let f = file_name.to_ascii_lowercase();
    if f.ends_with(".pdf") {
        "application/pdf"
    } else if f.ends_with(".html") || f.ends_with(".htm") {
        "text/html; charset=utf-8"
    } else {
        "text/plain; charset=utf-8"
    }
}

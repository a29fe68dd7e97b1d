//! Notices on the association's home page (第24条: the association may give notice on
//! its home page): the support center publishes a titled text, the repository shows it
//! to everyone without a certificate, and a notice is withdrawn — never deleted — with
//! its reason. Every change is an audit event.

use kmn_store::{NewAuditEvent, PublicNoticeRow};

use crate::error::FieldError;
use crate::rights::Center;
use crate::{App, AppError};

/// The longest title (characters).
pub const TITLE_MAX: usize = 100;
/// The longest body (characters).
pub const BODY_MAX: usize = 5000;

/// A notice as people read it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct PublicNotice {
    /// `K` and 8 digits.
    pub id: String,
    pub title: String,
    /// The text; lines separated by `\n`.
    pub body: String,
    /// Unix seconds.
    pub published_at: i64,
    /// The account that published it.
    pub published_by: String,
    /// When withdrawn (Unix seconds), if it was.
    pub withdrawn_at: Option<i64>,
    /// Why it was withdrawn.
    pub withdrawn_reason: Option<String>,
}

impl From<PublicNoticeRow> for PublicNotice {
    fn from(r: PublicNoticeRow) -> Self {
        Self {
            id: r.id,
            title: r.title,
            body: r.body,
            published_at: r.published_at,
            published_by: r.published_by,
            withdrawn_at: r.withdrawn_at,
            withdrawn_reason: r.withdrawn_reason,
        }
    }
}

/// A title: one line, 1–100 characters, no control characters.
fn check_title(title: &str) -> Result<String, FieldError> {
    let t = title.trim();
    if t.is_empty() {
        return Err(FieldError::new("title", "件名を入力してください"));
    }
    if t.chars().count() > TITLE_MAX {
        return Err(FieldError::new(
            "title",
            format!("件名は{TITLE_MAX}文字以内で入力してください"),
        ));
    }
    if t.chars().any(char::is_control) {
        return Err(FieldError::new(
            "title",
            "件名は1行で入力してください（改行や制御文字は使えません）",
        ));
    }
    Ok(t.to_string())
}

/// A body: 1–5000 characters; line breaks and tabs allowed (CRLF becomes LF), no other
/// control characters.
fn check_body(body: &str) -> Result<String, FieldError> {
    let b = body.replace("\r\n", "\n");
    let b = b.trim();
    if b.is_empty() {
        return Err(FieldError::new("body", "本文を入力してください"));
    }
    if b.chars().count() > BODY_MAX {
        return Err(FieldError::new(
            "body",
            format!("本文は{BODY_MAX}文字以内で入力してください"),
        ));
    }
    if b.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
        return Err(FieldError::new(
            "body",
            "本文に制御文字は使えません（改行は使えます）",
        ));
    }
    Ok(b.to_string())
}

/// Publishes a notice on the home page (the repository) at once.
pub async fn publish(
    app: &App,
    who: &Center,
    title: &str,
    body: &str,
) -> Result<PublicNotice, AppError> {
    let (title, body) = match (check_title(title), check_body(body)) {
        (Ok(t), Ok(b)) => (t, b),
        (t, b) => {
            return Err(AppError::Validation(
                [t.err(), b.err()].into_iter().flatten().collect(),
            ));
        }
    };
    let actor = who.actor();
    let now = app.now();
    let mut tx = app.store.begin().await?;
    let r = async {
        let id = format!("K{:08}", tx.next_counter("public_notice").await?);
        let row = PublicNoticeRow {
            id: id.clone(),
            title,
            body,
            published_at: now,
            published_by: actor.account_id.clone(),
            withdrawn_at: None,
            withdrawn_by: None,
            withdrawn_reason: None,
        };
        tx.insert_public_notice(&row).await?;
        tx.append_audit(&NewAuditEvent {
            at: now,
            actor: &actor.account_id,
            action: "public_notice.publish",
            object: &format!("public_notice:{id}"),
            facility: None,
            summary: &format!("published the home-page notice {id}: {}", row.title),
        })
        .await?;
        Ok::<_, AppError>(PublicNotice::from(row))
    }
    .await;
    crate::finish(tx, r).await
}

/// Withdraws a notice in force, with the reason (kept; the notice is not deleted).
pub async fn withdraw(
    app: &App,
    who: &Center,
    id: &str,
    reason: &str,
) -> Result<PublicNotice, AppError> {
    let id = id.trim().to_ascii_uppercase();
    let reason = super::delivery::clean("取下げの理由", reason, 500)?;
    if reason.is_empty() {
        return Err(AppError::Validation(vec![FieldError::new(
            "reason",
            "取下げの理由を入力してください",
        )]));
    }
    let actor = who.actor();
    let now = app.now();
    let mut tx = app.store.begin().await?;
    let r = async {
        let Some(n) = tx.public_notice(&id).await? else {
            return Err(AppError::NotFound(format!("お知らせ {id} はありません")));
        };
        if n.withdrawn_at.is_some() {
            return Err(AppError::Conflict(format!(
                "お知らせ {id} は既に取り下げられています"
            )));
        }
        if !tx
            .withdraw_public_notice(&id, now, &actor.account_id, &reason)
            .await?
        {
            return Err(AppError::Conflict(format!(
                "お知らせ {id} は他の担当者が先に取り下げました"
            )));
        }
        tx.append_audit(&NewAuditEvent {
            at: now,
            actor: &actor.account_id,
            action: "public_notice.withdraw",
            object: &format!("public_notice:{id}"),
            facility: None,
            summary: &format!("withdrew the home-page notice {id}: {reason}"),
        })
        .await?;
        let n = tx
            .public_notice(&id)
            .await?
            .ok_or_else(|| AppError::Internal(format!("notice {id} vanished")))?;
        Ok::<_, AppError>(PublicNotice::from(n))
    }
    .await;
    crate::finish(tx, r).await
}

/// The notices in force, newest first (public: no capability, like the repository).
pub async fn in_force(app: &App, limit: i64) -> Result<Vec<PublicNotice>, AppError> {
    let mut tx = app.store.read().await?;
    let r = tx.public_notices(false, limit.clamp(1, 1000)).await;
    tx.rollback().await?;
    Ok(r?.into_iter().map(Into::into).collect())
}

/// One notice in force (public); a withdrawn or absent notice is `None`.
pub async fn public_get(app: &App, id: &str) -> Result<Option<PublicNotice>, AppError> {
    let id = id.trim().to_ascii_uppercase();
    if id.len() != 9 || !id.starts_with('K') || !id[1..].bytes().all(|b| b.is_ascii_digit()) {
        return Ok(None);
    }
    let mut tx = app.store.read().await?;
    let r = tx.public_notice(&id).await;
    tx.rollback().await?;
    Ok(r?.filter(|n| n.withdrawn_at.is_none()).map(Into::into))
}

/// Every notice with the withdrawn ones (the support center's list).
pub async fn all(app: &App, _who: &Center, limit: i64) -> Result<Vec<PublicNotice>, AppError> {
    let mut tx = app.store.read().await?;
    let r = tx.public_notices(true, limit.clamp(1, 1000)).await;
    tx.rollback().await?;
    Ok(r?.into_iter().map(Into::into).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn art24_titles_are_one_line_and_bounded() {
        assert_eq!(check_title("  年末年始の受付 ").unwrap(), "年末年始の受付");
        assert_eq!(check_title("").unwrap_err().field, "title");
        assert!(check_title("一行目\n二行目").is_err());
        assert!(check_title(&"あ".repeat(TITLE_MAX + 1)).is_err());
        assert!(check_title(&"あ".repeat(TITLE_MAX)).is_ok());
    }

    #[test]
    fn art24_bodies_keep_lines_and_refuse_other_controls() {
        assert_eq!(check_body("一行目\r\n二行目\n").unwrap(), "一行目\n二行目");
        assert!(check_body("  \n ").is_err());
        assert!(check_body("ベル\u{7}").is_err());
        assert!(check_body(&"あ".repeat(BODY_MAX + 1)).is_err());
    }
}

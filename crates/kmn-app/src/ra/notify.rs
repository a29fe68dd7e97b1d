//! Notices to facilities (第6条2, 第24条): every decision writes a notice to the
//! facility's inbox and a mail to the outbox in the same transaction; the SMTP sender
//! (later work) drains the outbox.

use kmn_store::{NoticeRow, Tx};

use crate::actor::Actor;
use crate::{App, AppError};

/// Writes a notice (and its mail when the facility has an address).
pub async fn notify(
    tx: &mut Tx,
    facility_code: &str,
    kind: &str,
    subject: &str,
    body: &str,
    object: Option<&str>,
    now: i64,
) -> Result<String, AppError> {
    let id = format!("N{}", hex::encode(crate::ca::new_serial().as_bytes()));
    let mail_to = tx
        .facility(facility_code)
        .await?
        .map(|f| f.email)
        .filter(|e| !e.is_empty());
    let full_body = format!(
        "{body}\n\n--\nくまもとメディカルネットワーク サポートセンター\n（このメールは送信専用です。お問い合わせはサポートセンターまでお願いします。）"
    );
    tx.insert_notice(
        &NoticeRow {
            id: id.clone(),
            facility_code: Some(facility_code.to_string()),
            kind: kind.to_string(),
            subject: subject.to_string(),
            body: full_body,
            object: object.map(str::to_string),
            created_at: now,
            read_at: None,
        },
        mail_to.as_deref(),
    )
    .await?;
    Ok(id)
}

/// Notices to the actor's facility (the center: any, or one facility); the read is
/// logged (G1: notices name holders).
pub async fn list(
    app: &App,
    actor: &Actor,
    facility: Option<&str>,
    limit: i64,
) -> Result<Vec<NoticeRow>, AppError> {
    let scope = actor.scope(facility)?;
    let mut tx = app.store.read().await?;
    let v = tx.notices(scope.as_deref(), limit).await;
    tx.rollback().await?;
    let v = v?;
    crate::audit::log_read(app, actor, "list", "notices", scope.as_deref()).await?;
    Ok(v)
}

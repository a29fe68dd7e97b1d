//! Notices to facilities (第6条2, 第24条): every decision writes a notice to the
//! facility's inbox and a mail to the outbox in the same transaction; the SMTP sender
//! (later work) drains the outbox.
//!
//! A notice reads as a Japanese office writes one: the facility's name (not its code)
//! before 御中, whole polite sentences (「…を承認いたしましたので、お知らせいたします。」),
//! and the center's name at the end. Callers write the sentences; [`notify`] adds the
//! address and the signature.

use kmn_store::{NoticeRow, Tx};

use crate::AppError;

/// Writes a notice (and its mail when the facility has an address): `body` (whole
/// sentences) under「<施設名> 御中」, above the center's signature.
pub(crate) async fn notify(
    tx: &mut Tx,
    facility_code: &str,
    kind: &str,
    subject: &str,
    body: &str,
    object: Option<&str>,
    now: i64,
) -> Result<String, AppError> {
    let id = format!("N{}", hex::encode(crate::ca::new_serial().as_bytes()));
    let facility = tx.facility(facility_code).await?;
    let name = facility
        .as_ref()
        .map_or(facility_code, |f| f.name_kanji.as_str())
        .to_string();
    let mail_to = facility.map(|f| f.email).filter(|e| !e.is_empty());
    let full_body = format!(
        "{name} 御中\n\n{}\n\n--\nくまもとメディカルネットワーク サポートセンター（熊本県医師会）\n（このメールは送信専用です。お問い合わせはサポートセンターまでお願いいたします。）",
        body.trim_end()
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

/// Notices to the caller's facility (the center and auditors: any, or one facility); the
/// read is logged (G1: notices name holders).
pub async fn list(
    app: &crate::App,
    who: &crate::rights::Reader,
    facility: Option<&str>,
    limit: i64,
) -> Result<Vec<crate::views::Notice>, AppError> {
    let facility = who.listing(facility)?;
    let mut tx = app.store.read().await?;
    let v = tx.notices(facility.as_deref(), limit).await;
    tx.rollback().await?;
    let v: Vec<NoticeRow> = v?;
    crate::audit::log_read(app, who.actor(), "list", "notices", facility.as_deref()).await?;
    Ok(v.into_iter().map(Into::into).collect())
}

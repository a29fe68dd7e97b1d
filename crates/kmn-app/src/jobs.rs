//! The job runner (DESIGN §2): jobs are enqueued in the transaction of the change that
//! needs them, claimed by leases, and idempotent, so a job that ran but whose completion
//! was lost (a crash, an expired lease) does no harm when it runs again. Tested with a
//! fake clock. Later work adds CRL scheduling and mail sending as job kinds.

use kmn_store::{JobRow, NewAuditEvent, Tx};

use crate::{App, AppError};

/// Job kinds and their payloads.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Job {
    /// 第4条2, 第14条: after a renewal's overlap, revoke the predecessor (superseded).
    RevokeSuperseded {
        /// The old certificate.
        serial_hex: String,
        /// The old card.
        card_id: String,
        /// The renewal application.
        application_id: String,
    },
}

impl Job {
    fn kind(&self) -> &'static str {
        match self {
            Job::RevokeSuperseded { .. } => "revoke_superseded",
        }
    }
}

/// Enqueues a job inside `tx`, at `run_at`; the `dedup_key` makes it idempotent.
pub async fn enqueue(
    tx: &mut Tx,
    job: &Job,
    run_at: i64,
    dedup_key: &str,
    now: i64,
) -> Result<bool, AppError> {
    let id = format!("J{}", hex::encode(crate::ca::new_serial().as_bytes()));
    let payload = serde_json::to_string(job).map_err(|e| AppError::Internal(e.to_string()))?;
    Ok(tx
        .enqueue_job(&id, job.kind(), &payload, run_at, Some(dedup_key), now)
        .await?)
}

/// What one pass of the runner did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RunReport {
    /// Jobs completed.
    pub done: usize,
    /// Jobs that failed and will be retried.
    pub failed: usize,
}

/// Lease length.
pub const LEASE_SECS: i64 = 60;

/// Claims and runs the due jobs once.
pub async fn run_once(app: &App, owner: &str) -> Result<RunReport, AppError> {
    let now = app.now();
    let mut tx = app.store.begin().await?;
    let jobs = tx.claim_jobs(owner, now, LEASE_SECS, 50).await?;
    tx.commit().await?;
    let mut report = RunReport::default();
    for j in jobs {
        match execute(app, &j).await {
            Ok(()) => {
                let mut tx = app.store.begin().await?;
                tx.complete_job(&j.id, owner, app.now()).await?;
                tx.commit().await?;
                report.done += 1;
            }
            Err(e) => {
                tracing::warn!(job = %j.id, kind = %j.kind, error = %e, "job failed; will retry");
                let backoff = 60 * (1i64 << j.attempts.clamp(0, 6));
                let mut tx = app.store.begin().await?;
                tx.fail_job(&j.id, owner, &e.to_string(), app.now() + backoff)
                    .await?;
                tx.commit().await?;
                report.failed += 1;
            }
        }
    }
    Ok(report)
}

async fn execute(app: &App, j: &JobRow) -> Result<(), AppError> {
    let job: Job = serde_json::from_str(&j.payload)
        .map_err(|e| AppError::Internal(format!("bad job payload: {e}")))?;
    match job {
        Job::RevokeSuperseded {
            serial_hex,
            card_id,
            application_id,
        } => {
            let now = app.now();
            let mut tx = app.store.begin().await?;
            let r = async {
                let card = tx.card(&card_id).await?;
                let done = crate::ca::revoke::revoke_in_tx(
                    &mut tx,
                    &crate::ca::revoke::Order {
                        serial_hex: &serial_hex,
                        grounds: kmn_domain::RevocationGrounds::Renewal,
                        channel: kmn_domain::RevocationChannel::Job,
                        comment: Some(&format!(
                            "更新申請 {application_id} の重複期間の終了により利用者カード {card_id} を置換え"
                        )),
                        requested_by: "system:jobs",
                        received_at: now,
                        invalidity_date: None,
                        facility: card.as_ref().map(|c| c.facility_code.as_str()),
                    },
                    now,
                )
                .await?;
                // Already revoked (by an operator, or by an earlier run): nothing to do.
                if done == crate::ca::revoke::Outcome::AlreadyRevoked {
                    return Ok(());
                }
                // The old card is asked back (第15条1(3)) through the card's own
                // transitions: a state that allows no return request is left as it is.
                if let Some(card) = card {
                    let from: kmn_domain::CardState = card
                        .state
                        .parse()
                        .map_err(|e: kmn_domain::UnknownCode| AppError::Internal(e.to_string()))?;
                    if let Ok(t) = from.apply(kmn_domain::CardEvent::RequestReturn) {
                        tx.transition_card(&card_id, from.as_str(), card.version, t.state.as_str(), now)
                            .await?;
                        tx.append_audit(&NewAuditEvent {
                            at: now,
                            actor: "system:jobs",
                            action: "card.request_return",
                            object: &format!("card:{card_id}"),
                            facility: Some(&card.facility_code),
                            summary: &format!(
                                "renewal {application_id}: card {card_id} asked back ({} → {})",
                                from.as_str(),
                                t.state.as_str()
                            ),
                        })
                        .await?;
                    }
                }
                Ok::<_, AppError>(())
            }
            .await;
            crate::finish(tx, r).await
        }
    }
}

/// The worker loop of `kmn serve`: runs due jobs every second.
pub async fn worker_loop(app: App, mut stop: tokio::sync::watch::Receiver<bool>) {
    let id = hex::encode(crate::ca::new_serial().as_bytes());
    let owner = format!("worker-{}-{}", std::process::id(), &id[..8]);
    loop {
        if let Err(e) = run_once(&app, &owner).await {
            tracing::error!(error = %e, "job runner");
        }
        tokio::select! {
            _ = tokio::time::sleep(std::time::Duration::from_secs(1)) => {}
            _ = stop.changed() => return,
        }
    }
}

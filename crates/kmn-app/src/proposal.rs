//! Dual control (二者承認, issue 9 item 1): one [`Proposal`] type for every change one
//! person may not make alone — the revocation of a facility's association (第12条, issue
//! 10), later disclosure and termination. A proposal is a *kind* and a canonical JSON
//! *payload*; what it does once approved belongs to the use case of that kind, which
//! takes the [`Approved`] value (made only here, by [`approve`]).
//!
//! The rules (kmn-domain [`kmn_domain::proposal`]): proposed by one **person**; approved
//! or rejected by a different person holding [`Supervisor`] — persons, not accounts, so
//! one person with two certificates cannot approve their own proposal; the decider names
//! the SHA-256 of the content they saw and a mismatch is refused; a proposal expires
//! (72 h, `proposal_ttl_hours` in kmn.toml). Every transition is a compare-and-set in
//! the store with its audit event, in one transaction.

use kmn_domain::proposal::{self as rules, PendingProposal, ProposalRefusal, ProposalState};
use kmn_store::{NewAuditEvent, ProposalDecision, ProposalRow};

use crate::rights::{Center, Supervisor};
use crate::{App, AppError};

/// A proposal as the people deciding it see it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Proposal {
    /// Id (`P` + 32 hex digits).
    pub id: String,
    /// What it proposes (e.g. `association.revoke`).
    pub kind: String,
    /// The canonical JSON payload.
    pub payload: String,
    /// SHA-256 (hex) of the canonical content: the decider passes it back.
    pub content_sha256: String,
    /// Where it is.
    pub state: ProposalState,
    /// The proposing account.
    pub proposed_by: String,
    /// The proposing person.
    pub proposed_by_person: String,
    /// When (Unix seconds).
    pub proposed_at: i64,
    /// Until when it may be decided (Unix seconds).
    pub expires_at: i64,
    /// The deciding account.
    pub decided_by: Option<String>,
    /// The deciding person.
    pub decided_by_person: Option<String>,
    /// When it was decided (or found expired).
    pub decided_at: Option<i64>,
    /// The decider's note (a rejection's reason).
    pub note: Option<String>,
}

/// A proposal approved by a second person: the only way to obtain one is [`approve`],
/// so a use case that takes it cannot run without dual control.
#[derive(Clone, Debug)]
pub struct Approved(Proposal);

impl Approved {
    /// The approved proposal.
    pub fn proposal(&self) -> &Proposal {
        &self.0
    }
}

fn view(r: ProposalRow) -> Result<Proposal, AppError> {
    Ok(Proposal {
        state: r
            .state
            .parse()
            .map_err(|e: kmn_domain::UnknownCode| AppError::Internal(e.to_string()))?,
        id: r.id,
        kind: r.kind,
        payload: r.payload,
        content_sha256: r.content_sha256,
        proposed_by: r.proposed_by,
        proposed_by_person: r.proposed_by_person,
        proposed_at: r.proposed_at,
        expires_at: r.expires_at,
        decided_by: r.decided_by,
        decided_by_person: r.decided_by_person,
        decided_at: r.decided_at,
        note: r.note,
    })
}

fn refusal(e: ProposalRefusal) -> AppError {
    match e {
        ProposalRefusal::SamePerson => AppError::SelfApproval(e.to_string()),
        ProposalRefusal::Expired => AppError::ProposalExpired(e.to_string()),
        ProposalRefusal::Altered => AppError::ProposalAltered(e.to_string()),
        other => AppError::Conflict(other.to_string()),
    }
}

/// Proposes a change of `kind` with `payload` (any JSON; stored canonically, keys
/// sorted). Support-center staff propose; the proposal waits for a supervisor who is
/// another person.
pub async fn propose(
    app: &App,
    who: &Center,
    kind: &str,
    payload: &serde_json::Value,
) -> Result<Proposal, AppError> {
    let now = app.now();
    let ttl = app.cfg.proposal_ttl_hours;
    let mut tx = app.store.begin().await?;
    let r = propose_in_tx(&mut tx, who.actor(), kind, payload, now, ttl).await;
    crate::finish(tx, r).await
}

/// [`propose`] inside the caller's transaction (a use case that must put its act to a
/// supervisor in the same commit, e.g. an emergency revocation taken by telephone).
pub(crate) async fn propose_in_tx(
    tx: &mut kmn_store::Tx,
    actor: &crate::actor::Actor,
    kind: &str,
    payload: &serde_json::Value,
    now: i64,
    ttl_hours: i64,
) -> Result<Proposal, AppError> {
    let kind = kind.trim();
    if kind.is_empty() || kind.len() > 64 || !kind.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(AppError::BadInput(format!(
            "提案の種類 '{kind}' は使えません"
        )));
    }
    // serde_json's map is ordered by key: this text is canonical.
    let payload = serde_json::to_string(payload).map_err(|e| AppError::Internal(e.to_string()))?;
    let id = format!("P{}", hex::encode(crate::ca::new_serial().as_bytes()));
    let expires_at = now + ttl_hours.max(1) * 3600;
    let canonical =
        rules::canonical_content(&id, kind, &actor.person_id, now, expires_at, &payload)
            .map_err(|e| AppError::BadInput(e.to_string()))?;
    let row = ProposalRow {
        id: id.clone(),
        kind: kind.to_string(),
        payload,
        content_sha256: rules::content_hash(&canonical),
        state: ProposalState::Proposed.as_str().into(),
        proposed_by: actor.account_id.clone(),
        proposed_by_person: actor.person_id.clone(),
        proposed_at: now,
        expires_at,
        decided_by: None,
        decided_by_person: None,
        decided_at: None,
        note: None,
    };
    {
        tx.insert_proposal(&row).await?;
        tx.append_audit(&NewAuditEvent {
            at: now,
            actor: &actor.account_id,
            action: "proposal.propose",
            object: &format!("proposal:{id}"),
            facility: None,
            summary: &format!(
                "proposed {kind} (sha256 {}) as person {}",
                row.content_sha256, actor.person_id
            ),
        })
        .await?;
        view(row.clone())
    }
}

/// A proposal, for support-center staff.
pub async fn get(app: &App, _right: &Center, id: &str) -> Result<Proposal, AppError> {
    let mut tx = app.store.read().await?;
    let r = tx.proposal(id).await;
    tx.rollback().await?;
    view(r?.ok_or_else(|| AppError::NotFound(format!("提案 {id} はありません")))?)
}

/// Proposals in a state (all when None), newest first, for support-center staff (the
/// supervisors' list of what waits for them).
pub async fn list(
    app: &App,
    _right: &Center,
    state: Option<ProposalState>,
) -> Result<Vec<Proposal>, AppError> {
    let mut tx = app.store.read().await?;
    let r = tx.list_proposals(state.map(|s| s.as_str()), 500).await;
    tx.rollback().await?;
    r?.into_iter().map(view).collect()
}

/// Approves a proposal: a supervisor who is not the proposing person, naming the
/// content hash they saw, before it expires.
pub async fn approve(
    app: &App,
    who: &Supervisor,
    id: &str,
    seen_sha256: &str,
) -> Result<Approved, AppError> {
    decide(app, who, id, seen_sha256, ProposalState::Approved, None)
        .await
        .map(Approved)
}

/// Rejects a proposal, with a reason: the same rules as [`approve`].
pub async fn reject(
    app: &App,
    who: &Supervisor,
    id: &str,
    seen_sha256: &str,
    reason: &str,
) -> Result<Proposal, AppError> {
    let reason = reason.trim();
    if reason.is_empty() || reason.chars().count() > 500 {
        return Err(AppError::BadInput(
            "却下の理由を500文字以内で入力してください".into(),
        ));
    }
    decide(
        app,
        who,
        id,
        seen_sha256,
        ProposalState::Rejected,
        Some(reason),
    )
    .await
}

async fn decide(
    app: &App,
    who: &Supervisor,
    id: &str,
    seen_sha256: &str,
    to: ProposalState,
    note: Option<&str>,
) -> Result<Proposal, AppError> {
    let now = app.now();
    let mut tx = app.store.begin().await?;
    let r = decide_in_tx(&mut tx, who, id, seen_sha256, to, note, now).await;
    match crate::finish(tx, r).await? {
        (p, Ok(())) => Ok(p),
        (_, Err(e)) => Err(refusal(e)),
    }
}

/// Approves in the caller's transaction, so that what the approval does commits with it
/// (e.g. 第12条: the revocations, the return requests and the notices). The outer error
/// rolls back; the inner one (the proposal found expired, which is recorded) is for the
/// caller to commit and then return.
pub(crate) async fn approve_in_tx(
    tx: &mut kmn_store::Tx,
    who: &Supervisor,
    id: &str,
    seen_sha256: &str,
    now: i64,
) -> Result<Result<Approved, AppError>, AppError> {
    let (p, outcome) =
        decide_in_tx(tx, who, id, seen_sha256, ProposalState::Approved, None, now).await?;
    Ok(match outcome {
        Ok(()) => Ok(Approved(p)),
        Err(e) => Err(refusal(e)),
    })
}

#[allow(clippy::too_many_arguments)]
async fn decide_in_tx(
    tx: &mut kmn_store::Tx,
    who: &Supervisor,
    id: &str,
    seen_sha256: &str,
    to: ProposalState,
    note: Option<&str>,
    now: i64,
) -> Result<(Proposal, Result<(), ProposalRefusal>), AppError> {
    let actor = who.actor();
    {
        let p = tx
            .proposal(id)
            .await?
            .ok_or_else(|| AppError::NotFound(format!("提案 {id} はありません")))?;
        let p = view(p)?;
        let pending = PendingProposal {
            state: p.state,
            proposed_by_person: &p.proposed_by_person,
            content_sha256: &p.content_sha256,
            expires_at: p.expires_at,
        };
        let (to, outcome) =
            match rules::check_decision(&pending, &actor.person_id, seen_sha256, now) {
                Ok(()) => (to, Ok(())),
                // Found expired: recorded as such (and committed), then refused.
                Err(ProposalRefusal::Expired) => {
                    (ProposalState::Expired, Err(ProposalRefusal::Expired))
                }
                Err(e) => return Err(refusal(e)),
            };
        let (by, by_person) = match to {
            ProposalState::Expired => (None, None),
            _ => (
                Some(actor.account_id.as_str()),
                Some(actor.person_id.as_str()),
            ),
        };
        tx.decide_proposal(&ProposalDecision {
            id,
            from: ProposalState::Proposed.as_str(),
            to: to.as_str(),
            by,
            by_person,
            at: now,
            note: if outcome.is_ok() { note } else { None },
        })
        .await
        .map_err(|e| match e {
            kmn_store::StoreError::Conflict(_) => AppError::Conflict(format!(
                "提案 {id} は他の責任者が先に判断しました。最新の状態を確認してください"
            )),
            other => other.into(),
        })?;
        tx.append_audit(&NewAuditEvent {
            at: now,
            actor: &actor.account_id,
            action: match to {
                ProposalState::Approved => "proposal.approve",
                ProposalState::Rejected => "proposal.reject",
                _ => "proposal.expire",
            },
            object: &format!("proposal:{id}"),
            facility: None,
            summary: &format!(
                "{} {} (sha256 {}) proposed by person {}; decided by person {}",
                to.as_str(),
                p.kind,
                p.content_sha256,
                p.proposed_by_person,
                actor.person_id
            ),
        })
        .await?;
        let decided = Proposal {
            state: to,
            decided_by: by.map(str::to_string),
            decided_by_person: by_person.map(str::to_string),
            decided_at: Some(now),
            note: if outcome.is_ok() {
                note.map(str::to_string)
            } else {
                None
            },
            ..p
        };
        Ok((decided, outcome))
    }
}

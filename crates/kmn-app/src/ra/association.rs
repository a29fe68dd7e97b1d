//! Revocation by the association (第12条(1)–(6), issue 10 item 3), under dual control:
//! a support-center operator proposes — the ground (each item of 第12条 on its own), the
//! cards, whether they must come back (第15条), free text — and a supervisor who is
//! another **person** approves, naming the SHA-256 of what they saw, before the proposal
//! expires ([`crate::proposal`]). On approval the revocations (through the one
//! revocation path), the return requests and the notices to the facilities are one
//! transaction with the approval itself.
//!
//! **Bulk revocation** — every card of a facility that leaves the network — is one
//! proposal whose set of cards is frozen when it is proposed: a card issued afterwards is
//! not in it, and the supervisor approves exactly the list they saw.

use kmn_domain::{AssociationGround, CardEvent, NoticeKind, RevocationChannel, RevocationGrounds};
use kmn_store::NewAuditEvent;

use super::delivery::{AfterCommit, clean, state_of, transition};
use crate::ca::revoke::{Order, Outcome, revoke_in_tx};
use crate::proposal::{self, Proposal};
use crate::rights::{Center, Supervisor};
use crate::{App, AppError};

/// The proposal kind.
pub const KIND: &str = "association_revocation";

/// What is revoked: named cards, or every live card of one facility.
#[derive(Clone, Debug)]
pub enum Target {
    /// These cards (ids as printed, case and hyphens ignored).
    Cards(Vec<String>),
    /// Every card of this facility whose certificate is valid or on hold now.
    Facility(String),
}

/// One card frozen into a proposal.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FrozenCard {
    /// Card id.
    pub card_id: String,
    /// Its certificate.
    pub serial_hex: String,
    /// Its facility.
    pub facility_code: String,
}

/// The payload of an association revocation proposal (canonical JSON, hashed).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Payload {
    /// The ground's code (`breach`, `compromise`, `misuse`, `untrue_data`,
    /// `unpaid_fees`, `other`).
    pub ground: String,
    /// The article, e.g. `第12条(5)`.
    pub article: String,
    /// The cards, frozen when proposed.
    pub cards: Vec<FrozenCard>,
    /// For a bulk revocation: the facility.
    pub facility: Option<String>,
    /// Whether the cards must come back (第15条).
    pub card_must_return: bool,
    /// Why, in words.
    pub note: String,
}

/// Proposes an association revocation (support-center staff).
pub async fn propose(
    app: &App,
    who: &Center,
    ground: AssociationGround,
    target: &Target,
    card_must_return: bool,
    note: &str,
) -> Result<Proposal, AppError> {
    let note = clean("理由の説明", note, 500)?;
    if note.chars().count() < 4 {
        return Err(AppError::BadInput(
            "本会による失効には理由の説明（4文字以上）が必要です（利用規約第12条）".into(),
        ));
    }
    let mut tx = app.store.read().await?;
    let r = async {
        let mut cards = Vec::new();
        match target {
            Target::Cards(ids) => {
                if ids.is_empty() {
                    return Err(AppError::BadInput("対象のカードを指定してください".into()));
                }
                for id in ids {
                    let id = super::emergency::normalize_card_id(id);
                    let card = tx.card(&id).await?.ok_or_else(|| {
                        AppError::NotFound(format!("利用者カード {id} はありません"))
                    })?;
                    let serial = live_serial(&mut tx, &card).await?.ok_or_else(|| {
                        AppError::Rule(format!(
                            "利用者カード {id} の証明書は有効ではありません（失効済み、または未発行）"
                        ))
                    })?;
                    cards.push(FrozenCard {
                        card_id: card.id,
                        serial_hex: serial,
                        facility_code: card.facility_code,
                    });
                }
            }
            Target::Facility(code) => {
                if tx.facility(code).await?.is_none() {
                    return Err(AppError::NotFound(format!(
                        "施設 {code} は登録されていません"
                    )));
                }
                let mut after: Option<String> = None;
                loop {
                    let page = tx
                        .list_cards(Some(code), None, after.as_deref(), 500)
                        .await?;
                    let Some(last) = page.last().map(|c| c.id.clone()) else {
                        break;
                    };
                    for card in page {
                        if let Some(serial) = live_serial(&mut tx, &card).await? {
                            cards.push(FrozenCard {
                                card_id: card.id,
                                serial_hex: serial,
                                facility_code: card.facility_code,
                            });
                        }
                    }
                    after = Some(last);
                }
                if cards.is_empty() {
                    return Err(AppError::Rule(format!(
                        "施設 {code} には有効な証明書のカードがありません"
                    )));
                }
            }
        }
        cards.sort_by(|a, b| a.card_id.cmp(&b.card_id));
        cards.dedup();
        Ok(cards)
    }
    .await;
    tx.rollback().await?;
    let cards = r?;
    let payload = Payload {
        ground: ground.as_str().into(),
        article: RevocationGrounds::Association(ground)
            .article()
            .unwrap_or_default(),
        cards,
        facility: match target {
            Target::Facility(f) => Some(f.clone()),
            Target::Cards(_) => None,
        },
        card_must_return,
        note,
    };
    let json = serde_json::to_value(&payload).map_err(|e| AppError::Internal(e.to_string()))?;
    proposal::propose(app, who, KIND, &json).await
}

/// The certificate of a card when it is valid or on hold.
async fn live_serial(
    tx: &mut kmn_store::Tx,
    card: &kmn_store::CardRow,
) -> Result<Option<String>, AppError> {
    let Some(serial) = &card.cert_serial_hex else {
        return Ok(None);
    };
    Ok(tx
        .certificate(serial)
        .await?
        .filter(|c| c.status != kmn_domain::CertStatus::Revoked)
        .map(|_| serial.clone()))
}

/// What an approval did.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Decided {
    /// The approved proposal.
    pub proposal: Proposal,
    /// Certificates revoked now.
    pub revoked: Vec<String>,
    /// Certificates another path had revoked meanwhile (nothing written for them).
    pub already_revoked: Vec<String>,
    /// Cards asked back (第15条).
    pub returns_requested: usize,
    /// Facilities notified.
    pub facilities_notified: usize,
}

/// A supervisor approves: the approval, every revocation, return request and notice in
/// one transaction. `progress(done, total)` is called after each card.
pub async fn approve(
    app: &App,
    who: &Supervisor,
    id: &str,
    seen_sha256: &str,
    progress: &mut (dyn FnMut(usize, usize) + Send),
) -> Result<Decided, AppError> {
    let now = app.now();
    {
        // The kind first, without deciding anything.
        let mut tx = app.store.read().await?;
        let p = tx.proposal(id).await;
        tx.rollback().await?;
        match p? {
            Some(p) if p.kind == KIND => {}
            Some(p) => {
                return Err(AppError::Rule(format!(
                    "提案 {id} は本会による失効の提案ではありません（種類: {}）",
                    p.kind
                )));
            }
            None => return Err(AppError::NotFound(format!("提案 {id} はありません"))),
        }
    }
    let mut tx = app.store.begin().await?;
    let mut after = AfterCommit::default();
    let r = async {
        let approved = match proposal::approve_in_tx(&mut tx, who, id, seen_sha256, now).await? {
            Ok(a) => a,
            // Found expired: the expiry is recorded (committed below), then refused.
            Err(e) => return Ok(Err(e)),
        };
        let p = approved.proposal().clone();
        let payload: Payload = serde_json::from_str(&p.payload)
            .map_err(|e| AppError::Internal(format!("proposal {id}: {e}")))?;
        let ground: AssociationGround = payload
            .ground
            .parse()
            .map_err(|e: kmn_domain::UnknownCode| AppError::Internal(e.to_string()))?;
        let grounds = RevocationGrounds::Association(ground);
        let actor = who.actor();
        let comment = format!("{}（提案 {id}）", payload.note);
        let total = payload.cards.len();
        let (mut revoked, mut already, mut returns) = (Vec::new(), Vec::new(), 0);
        let mut facilities: Vec<String> = Vec::new();
        for (n, c) in payload.cards.iter().enumerate() {
            let outcome = revoke_in_tx(
                &mut tx,
                &Order {
                    serial_hex: &c.serial_hex,
                    grounds,
                    channel: RevocationChannel::Proposal,
                    comment: Some(&comment),
                    requested_by: &p.proposed_by,
                    received_at: p.proposed_at,
                    invalidity_date: None,
                    facility: Some(&c.facility_code),
                },
                now,
            )
            .await?;
            match outcome {
                Outcome::Revoked => revoked.push(c.serial_hex.clone()),
                Outcome::AlreadyRevoked => already.push(c.serial_hex.clone()),
            }
            if payload.card_must_return
                && let Some(card) = tx.card(&c.card_id).await?
                && state_of(&card)?.apply(CardEvent::RequestReturn).is_ok()
            {
                transition(
                    app,
                    &mut tx,
                    actor,
                    &card,
                    CardEvent::RequestReturn,
                    &format!("本会による失効（{}、{}）", grounds.label_ja(), payload.article),
                    &mut after,
                )
                .await?;
                returns += 1;
            }
            if !facilities.contains(&c.facility_code) {
                facilities.push(c.facility_code.clone());
            }
            progress(n + 1, total);
        }
        for f in &facilities {
            let list: Vec<&str> = payload
                .cards
                .iter()
                .filter(|c| &c.facility_code == f)
                .map(|c| c.card_id.as_str())
                .collect();
            let body = format!(
                "本会は、利用規約{}（{}）に基づき、次の利用者カードの電子証明書を失効いたしましたので、お知らせいたします。\n\n{}\n\n理由: {}{}",
                payload.article,
                ground.label_ja(),
                list.join("、"),
                payload.note,
                if payload.card_must_return {
                    "\n\n該当するカードは、本会へご返却をお願いいたします（利用規約第15条）。"
                } else {
                    ""
                }
            );
            super::notify::notify(
                &mut tx,
                f,
                NoticeKind::CertificateRevokedByAssociation.as_str(),
                &format!(
                    "【くまもとメディカルネットワーク】{}",
                    NoticeKind::CertificateRevokedByAssociation.label_ja()
                ),
                &body,
                Some(&format!("proposal:{id}")),
                now,
            )
            .await?;
        }
        tx.append_audit(&NewAuditEvent {
            at: now,
            actor: &actor.account_id,
            action: "association.revoke",
            object: &format!("proposal:{id}"),
            facility: payload.facility.as_deref(),
            summary: &format!(
                "{} ({}): {} revoked, {} already revoked, {} asked back, {} facilities notified; proposed by person {}, approved by person {}",
                grounds.code(),
                payload.article,
                revoked.len(),
                already.len(),
                returns,
                facilities.len(),
                p.proposed_by_person,
                actor.person_id
            ),
        })
        .await?;
        Ok(Ok(Decided {
            proposal: p,
            revoked,
            already_revoked: already,
            returns_requested: returns,
            facilities_notified: facilities.len(),
        }))
    }
    .await;
    super::delivery::finish_with(tx, r, after).await?
}

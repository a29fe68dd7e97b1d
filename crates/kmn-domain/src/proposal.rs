//! Dual control (二者承認): a change that one person may not make alone is first
//! *proposed* by one person and then *approved* (or rejected) by a **different person**
//! holding the supervisor's right (MHLW guideline G3, separation of duties; used for the
//! revocation of a facility's association under 第12条, later for disclosure and
//! termination). Persons, not accounts: one person with two certificates is still one
//! person.
//!
//! The approver decides on what they saw: a proposal is bound to the SHA-256 of its
//! canonical content ([`canonical_content`]) and the decision names that hash; a
//! proposal whose content differs from what the approver saw is refused. A proposal
//! expires ([`DEFAULT_PROPOSAL_TTL_SECS`]) so that a forgotten one cannot be approved
//! months later under other circumstances.
//!
//! Pure rules: time is an argument, nothing here touches storage.

use sha2::Digest;

use crate::enum_codes::coded_enum;

/// How long a proposal may wait for its second person: 72 hours.
pub const DEFAULT_PROPOSAL_TTL_SECS: i64 = 72 * 3600;

coded_enum! {
    /// Where a proposal is.
    pub enum ProposalState: "提案の状態" {
        /// Waiting for a second person.
        Proposed = "proposed" => "承認待ち",
        /// Approved by a second person.
        Approved = "approved" => "承認済み",
        /// Rejected by a second person.
        Rejected = "rejected" => "却下",
        /// Not decided in time.
        Expired = "expired" => "期限切れ",
    }
}

/// The canonical content of a proposal, the text its hash is taken over: a version
/// line, then one `name:value` line per field, the payload (canonical JSON made by the
/// caller) last. No field but the payload may contain a line break
/// ([`ProposalContentError`]), so the text is unambiguous.
pub fn canonical_content(
    id: &str,
    kind: &str,
    proposed_by_person: &str,
    proposed_at: i64,
    expires_at: i64,
    payload: &str,
) -> Result<String, ProposalContentError> {
    for (field, v) in [
        ("id", id),
        ("kind", kind),
        ("proposed_by", proposed_by_person),
    ] {
        if v.is_empty() || v.chars().any(char::is_control) {
            return Err(ProposalContentError(field));
        }
    }
    Ok(format!(
        "kmn-proposal-v1\nid:{id}\nkind:{kind}\nproposed_by:{proposed_by_person}\nproposed_at:{proposed_at}\nexpires_at:{expires_at}\npayload:{payload}"
    ))
}

/// A field of a proposal that is empty or holds a control character.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("提案の項目 {0} が空か、制御文字を含んでいます")]
pub struct ProposalContentError(pub &'static str);

/// SHA-256 (lower-case hex) of a proposal's canonical content.
pub fn content_hash(canonical: &str) -> String {
    hex::encode(sha2::Sha256::digest(canonical.as_bytes()))
}

/// What the decision rules look at.
#[derive(Clone, Copy, Debug)]
pub struct PendingProposal<'a> {
    /// Its state.
    pub state: ProposalState,
    /// The person who proposed it.
    pub proposed_by_person: &'a str,
    /// The hash of its content as stored.
    pub content_sha256: &'a str,
    /// When it expires (Unix seconds).
    pub expires_at: i64,
}

/// Why a decision is refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProposalRefusal {
    /// Already decided or expired.
    #[error("この提案は既に「{}」です", .0.label_ja())]
    NotPending(ProposalState),
    /// Past its expiry: it must be proposed again.
    #[error("この提案は承認期限を過ぎたため無効になりました。改めて提案してください")]
    Expired,
    /// The proposer (the same person, through any of their accounts) decides.
    #[error("提案した本人は承認・却下できません。別の責任者が判断してください（二者承認）")]
    SamePerson,
    /// The content differs from what the decider saw.
    #[error("提案の内容が確認時と異なります。最新の内容を確認してからやり直してください")]
    Altered,
}

/// Whether `decider_person`, who saw the content hash `seen_sha256`, may decide the
/// proposal at `now` (dual control). In this order: a decided proposal stays decided;
/// an expired one cannot be decided; the proposer cannot decide their own; the content
/// must be what the decider saw. The supervisor's right itself is a type in kmn-app.
pub fn check_decision(
    p: &PendingProposal<'_>,
    decider_person: &str,
    seen_sha256: &str,
    now: i64,
) -> Result<(), ProposalRefusal> {
    if p.state != ProposalState::Proposed {
        return Err(ProposalRefusal::NotPending(p.state));
    }
    if now >= p.expires_at {
        return Err(ProposalRefusal::Expired);
    }
    if decider_person == p.proposed_by_person {
        return Err(ProposalRefusal::SamePerson);
    }
    if !seen_sha256.trim().eq_ignore_ascii_case(p.content_sha256) {
        return Err(ProposalRefusal::Altered);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pending(hash: &str) -> PendingProposal<'_> {
        PendingProposal {
            state: ProposalState::Proposed,
            proposed_by_person: "P1",
            content_sha256: hash,
            expires_at: 1000,
        }
    }

    #[test]
    fn issue9_dual_control_rules() {
        let c = canonical_content("X1", "test", "P1", 0, 1000, "{\"a\":1}").unwrap();
        let h = content_hash(&c);
        assert_eq!(h.len(), 64);
        let p = pending(&h);
        assert_eq!(check_decision(&p, "P2", &h, 999), Ok(()));
        assert_eq!(
            check_decision(&p, "P2", &h.to_uppercase(), 10),
            Ok(()),
            "hex case does not matter"
        );
        assert_eq!(
            check_decision(&p, "P1", &h, 10),
            Err(ProposalRefusal::SamePerson)
        );
        assert_eq!(
            check_decision(&p, "P2", &h, 1000),
            Err(ProposalRefusal::Expired)
        );
        let other =
            content_hash(&canonical_content("X1", "test", "P1", 0, 1000, "{\"a\":2}").unwrap());
        assert_eq!(
            check_decision(&p, "P2", &other, 10),
            Err(ProposalRefusal::Altered)
        );
        let done = PendingProposal {
            state: ProposalState::Approved,
            ..p
        };
        assert_eq!(
            check_decision(&done, "P2", &h, 10),
            Err(ProposalRefusal::NotPending(ProposalState::Approved))
        );
    }

    #[test]
    fn issue9_canonical_content_is_unambiguous() {
        assert!(canonical_content("X1", "a\nb", "P1", 0, 1, "{}").is_err());
        assert!(canonical_content("X1", "k", "", 0, 1, "{}").is_err());
        assert_ne!(
            canonical_content("X1", "k", "P1", 0, 1, "{}").unwrap(),
            canonical_content("X1", "k", "P2", 0, 1, "{}").unwrap()
        );
    }
}

//! Why a certificate is revoked, as the terms of use name it, and who asked through which
//! channel (issue 10 item 1: one revocation path).
//!
//! Every revocation carries its [`RevocationGrounds`]; the grounds decide the RFC 5280
//! reason code (DESIGN §4 "Reasons"), the article of the terms written beside it, whether
//! the revocation is immediate (第11条: no review first) or needs dual control (第12条,
//! through a `Proposal`), and whether the card must come back (第15条). The application
//! layer never picks a reason code or an article by hand.

use crate::application::{DiscontinuationReason, ReissueCause, ReturnReason};
use crate::cert::RevocationReason;
use crate::enum_codes::coded_enum;

coded_enum! {
    /// 第11条: the card was lost or stolen, or misuse is feared (a PIN that may have
    /// leaked). Revoked at once, at any hour, without review; always keyCompromise.
    pub enum EmergencyCause: "緊急失効の理由" {
        /// The card was lost.
        Lost = "lost" => "紛失",
        /// The card was stolen.
        Stolen = "stolen" => "盗難",
        /// Misuse is feared (e.g. the PIN may have leaked) while the card is in hand.
        FearedMisuse = "feared_misuse" => "不正使用のおそれ（パスワード漏洩など）",
    }
}

coded_enum! {
    /// 第12条(1)–(6): the association's own grounds for revoking, each on its own.
    pub enum AssociationGround: "本会による失効の事由" {
        /// (1) The facility or the holder breached a duty under the CPS or the terms.
        Breach = "breach" => "CPS・本規約に基づく義務違反",
        /// (2) The association finds the certificate compromised, or fears it is.
        Compromise = "compromise" => "電子証明書の危殆化またはそのおそれ",
        /// (3) The certificate was misused, or the association finds a risk of it.
        Misuse = "misuse" => "電子証明書の不正利用またはその危険性",
        /// (4) The association confirmed that the card's data are untrue.
        UntrueData = "untrue_data" => "利用者カードの記載情報と事実との相違",
        /// (5) The service fees were not paid.
        UnpaidFees = "unpaid_fees" => "サービス料金の未払い",
        /// (6) Anything else the association deems necessary.
        Other = "other" => "その他本会が必要と判断した事由",
    }
}

impl AssociationGround {
    /// The item number of 第12条.
    pub fn item(self) -> u8 {
        match self {
            Self::Breach => 1,
            Self::Compromise => 2,
            Self::Misuse => 3,
            Self::UntrueData => 4,
            Self::UnpaidFees => 5,
            Self::Other => 6,
        }
    }

    /// DESIGN §4: compromise → keyCompromise; breach, misuse, untrue data, unpaid fees and
    /// the catch-all → privilegeWithdrawn.
    pub fn revocation_reason(self) -> RevocationReason {
        match self {
            Self::Compromise => RevocationReason::KeyCompromise,
            Self::Breach | Self::Misuse | Self::UntrueData | Self::UnpaidFees | Self::Other => {
                RevocationReason::PrivilegeWithdrawn
            }
        }
    }
}

impl ReturnReason {
    /// The item number of 第15条1.
    pub fn item(self) -> u8 {
        match self {
            Self::Breach => 1,
            Self::LeftNetwork => 2,
            Self::Discontinuation | Self::Reissue => 3,
            Self::NonPayment => 4,
            Self::AssociationRequest => 5,
        }
    }

    /// The revocation reason of a card asked back (DESIGN §4).
    pub fn revocation_reason(self) -> RevocationReason {
        match self {
            Self::Breach | Self::NonPayment | Self::AssociationRequest => {
                RevocationReason::PrivilegeWithdrawn
            }
            Self::LeftNetwork | Self::Discontinuation => RevocationReason::CessationOfOperation,
            Self::Reissue => RevocationReason::Superseded,
        }
    }
}

/// Why a certificate is revoked: every path that revokes names one of these.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RevocationGrounds {
    /// 第11条: emergency revocation, immediate.
    Emergency(EmergencyCause),
    /// 第12条(1)–(6): revocation by the association, under dual control.
    Association(AssociationGround),
    /// 第13条: the facility stops using the card.
    Discontinuation(DiscontinuationReason),
    /// 第14条1: a renewal supersedes the old card after the overlap.
    Renewal,
    /// 第14条2: a reissue (loss, damage, defect, a change of name) replaces the card.
    Reissue(ReissueCause),
    /// 第15条1: the association asks for the card back.
    Return(ReturnReason),
    /// 第8条: a card lost in the post before receipt was confirmed.
    LostInPost,
    /// 第27条3: the service ends; every certificate is revoked on the termination date.
    Termination,
    /// A certificate issued for a card that was never completed (the station could not
    /// finish it, or the fulfilment failed): no card ever held it.
    IssuanceAbandoned,
    /// A second certificate was issued for the same application before the first was
    /// bound to a card: the first is superseded (at most one unbound per application).
    IssuanceRepeated,
    /// The CA administrator's one-step path (`kmn cert revoke`, DESIGN §8) for the
    /// center's own certificates (operator, OCSP signer, server), with the RFC 5280
    /// reason given; the CPS, not the terms, governs these.
    Administrative(RevocationReason),
}

/// The reasons the CA administrator may give (never certificateHold, which is placed at
/// issuance only, nor cACompromise, which only the root's act puts on the ARL).
const ADMINISTRATIVE_REASONS: [RevocationReason; 5] = [
    RevocationReason::KeyCompromise,
    RevocationReason::PrivilegeWithdrawn,
    RevocationReason::Superseded,
    RevocationReason::AffiliationChanged,
    RevocationReason::CessationOfOperation,
];

impl serde::Serialize for RevocationGrounds {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.code())
    }
}

impl<'de> serde::Deserialize<'de> for RevocationGrounds {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let code = String::deserialize(d)?;
        Self::parse(&code).map_err(serde::de::Error::custom)
    }
}

/// Why grounds could not be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("失効の事由「{0}」は使えません")]
pub struct UnknownGrounds(pub String);

impl RevocationGrounds {
    /// The RFC 5280 reason code put on the CRL and in OCSP responses (DESIGN §4).
    pub fn reason(self) -> RevocationReason {
        match self {
            Self::Emergency(_) | Self::LostInPost => RevocationReason::KeyCompromise,
            Self::Association(g) => g.revocation_reason(),
            Self::Discontinuation(d) => d.revocation_reason(),
            Self::Renewal => RevocationReason::Superseded,
            Self::Reissue(c) => c.revocation_reason(),
            Self::Return(r) => r.revocation_reason(),
            Self::Termination | Self::IssuanceAbandoned => RevocationReason::CessationOfOperation,
            Self::IssuanceRepeated => RevocationReason::Superseded,
            Self::Administrative(r) => r,
        }
    }

    /// The article of the terms, as written beside the RFC reason (`第12条(5)`), or
    /// `None` for the CA administrator's and the issuance paths (CPS matters).
    pub fn article(self) -> Option<String> {
        Some(match self {
            Self::Emergency(_) => "第11条".into(),
            Self::Association(g) => format!("第12条({})", g.item()),
            Self::Discontinuation(_) => "第13条".into(),
            Self::Renewal => "第14条1".into(),
            Self::Reissue(_) => "第14条2".into(),
            Self::Return(r) => format!("第15条1({})", r.item()),
            Self::LostInPost => "第8条".into(),
            Self::Termination => "第27条3".into(),
            Self::IssuanceAbandoned | Self::IssuanceRepeated | Self::Administrative(_) => {
                return None;
            }
        })
    }

    /// What people read (portal, notices, letters).
    pub fn label_ja(self) -> String {
        match self {
            Self::Emergency(c) => format!("緊急失効（{}）", c.label_ja()),
            Self::Association(g) => format!("本会による失効（{}）", g.label_ja()),
            Self::Discontinuation(d) => format!("利用中止（{}）", d.label_ja()),
            Self::Renewal => "更新による置換え".into(),
            Self::Reissue(c) => format!("再発行（{}）", c.label_ja()),
            Self::Return(r) => format!("返却（{}）", r.label_ja()),
            Self::LostInPost => "配送中の紛失".into(),
            Self::Termination => "本サービスの廃止".into(),
            Self::IssuanceAbandoned => "発行処理の中断".into(),
            Self::IssuanceRepeated => "発行のやり直し（先に発行した証明書の置換え）".into(),
            Self::Administrative(r) => format!("認証局管理者による失効（{}）", r.label_ja()),
        }
    }

    /// The stable code stored beside the revocation (`emergency:lost`,
    /// `association:unpaid_fees`, `administrative:key_compromise`, …).
    pub fn code(self) -> String {
        match self {
            Self::Emergency(c) => format!("emergency:{c}"),
            Self::Association(g) => format!("association:{g}"),
            Self::Discontinuation(d) => format!("discontinuation:{d}"),
            Self::Renewal => "renewal".into(),
            Self::Reissue(c) => format!("reissue:{c}"),
            Self::Return(r) => format!("return:{r}"),
            Self::LostInPost => "lost_in_post".into(),
            Self::Termination => "termination".into(),
            Self::IssuanceAbandoned => "issuance_abandoned".into(),
            Self::IssuanceRepeated => "issuance_repeated".into(),
            Self::Administrative(r) => format!("administrative:{}", r.as_str()),
        }
    }

    /// Inverse of [`Self::code`].
    pub fn parse(code: &str) -> Result<Self, UnknownGrounds> {
        let unknown = || UnknownGrounds(code.to_string());
        let (head, tail) = match code.split_once(':') {
            Some((h, t)) => (h, Some(t)),
            None => (code, None),
        };
        let g = match (head, tail) {
            ("emergency", Some(t)) => Self::Emergency(t.parse().map_err(|_| unknown())?),
            ("association", Some(t)) => Self::Association(t.parse().map_err(|_| unknown())?),
            ("discontinuation", Some(t)) => {
                Self::Discontinuation(t.parse().map_err(|_| unknown())?)
            }
            ("reissue", Some(t)) => Self::Reissue(t.parse().map_err(|_| unknown())?),
            ("return", Some(t)) => Self::Return(t.parse().map_err(|_| unknown())?),
            ("administrative", Some(t)) => Self::Administrative(
                ADMINISTRATIVE_REASONS
                    .iter()
                    .copied()
                    .find(|r| r.as_str() == t)
                    .ok_or_else(unknown)?,
            ),
            ("renewal", None) => Self::Renewal,
            ("lost_in_post", None) => Self::LostInPost,
            ("termination", None) => Self::Termination,
            ("issuance_abandoned", None) => Self::IssuanceAbandoned,
            ("issuance_repeated", None) => Self::IssuanceRepeated,
            _ => return Err(unknown()),
        };
        Ok(g)
    }

    /// 第11条: revoked at once, before any review (the loss report follows).
    pub fn is_immediate(self) -> bool {
        matches!(self, Self::Emergency(_) | Self::LostInPost)
    }

    /// 第12条: the association revokes only under dual control (DESIGN §8: proposed by
    /// one person, approved by a different supervisor).
    pub fn needs_dual_control(self) -> bool {
        matches!(self, Self::Association(_))
    }

    /// 第15条: whether the card must come back (a lost or stolen card cannot; the loss
    /// procedure stands for its return, 第15条2).
    pub fn card_must_return(self) -> bool {
        match self {
            Self::Emergency(EmergencyCause::FearedMisuse) => true,
            Self::Emergency(_)
            | Self::LostInPost
            | Self::IssuanceAbandoned
            | Self::IssuanceRepeated => false,
            Self::Reissue(ReissueCause::Lost) => false,
            Self::Association(_)
            | Self::Discontinuation(_)
            | Self::Renewal
            | Self::Reissue(_)
            | Self::Return(_)
            | Self::Termination => true,
            Self::Administrative(_) => false,
        }
    }

    /// Whether an invalidityDate (the last time the card was known safe) may be given:
    /// only for a key compromise (RFC 5280 §5.3.2, DESIGN §4).
    pub fn allows_invalidity_date(self) -> bool {
        self.reason() == RevocationReason::KeyCompromise
    }

    /// Whether these grounds may revoke a holder's card certificate (every ground of the
    /// terms) — the administrative path is for the center's own certificates.
    pub fn applies_to_cards(self) -> bool {
        !matches!(self, Self::Administrative(_))
    }
}

coded_enum! {
    /// Through whom and how a revocation request arrived (第23条3: the evidence records it).
    pub enum RevocationChannel: "失効の受付経路" {
        /// The facility desk's emergency revocation (portal or API).
        Desk = "desk" => "利用施設窓口",
        /// The holder's own form, with the card number and the emergency code.
        Holder = "holder" => "利用者本人（緊急失効フォーム）",
        /// An operator taking a phone call.
        Phone = "phone" => "電話受付（サポートセンター）",
        /// An application reviewed by the support center (loss report, discontinuation,
        /// reissue, renewal).
        Application = "application" => "利用申請",
        /// A proposal approved under dual control (第12条).
        Proposal = "proposal" => "本会の決定（二者承認）",
        /// Card delivery (lost in the post, return).
        Delivery = "delivery" => "カードの配送・返却",
        /// A personalization station that could not complete a card.
        Station = "station" => "発行端末",
        /// The CA administrator's command line.
        CaAdministrator = "ca_administrator" => "認証局管理者",
        /// A scheduled job (renewal overlap ended, termination).
        Job = "job" => "定期処理",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn every() -> Vec<RevocationGrounds> {
        let mut v = Vec::new();
        v.extend(
            EmergencyCause::ALL
                .iter()
                .map(|c| RevocationGrounds::Emergency(*c)),
        );
        v.extend(
            AssociationGround::ALL
                .iter()
                .map(|g| RevocationGrounds::Association(*g)),
        );
        v.extend(
            DiscontinuationReason::ALL
                .iter()
                .map(|d| RevocationGrounds::Discontinuation(*d)),
        );
        v.extend(
            ReissueCause::ALL
                .iter()
                .map(|c| RevocationGrounds::Reissue(*c)),
        );
        v.extend(
            ReturnReason::ALL
                .iter()
                .map(|r| RevocationGrounds::Return(*r)),
        );
        v.extend([
            RevocationGrounds::Renewal,
            RevocationGrounds::LostInPost,
            RevocationGrounds::Termination,
            RevocationGrounds::IssuanceAbandoned,
            RevocationGrounds::IssuanceRepeated,
            RevocationGrounds::Administrative(RevocationReason::KeyCompromise),
            RevocationGrounds::Administrative(RevocationReason::Superseded),
        ]);
        v
    }

    #[test]
    fn art11_emergency_is_immediate_key_compromise() {
        for c in EmergencyCause::ALL {
            let g = RevocationGrounds::Emergency(*c);
            assert_eq!(g.reason(), RevocationReason::KeyCompromise);
            assert_eq!(g.article().as_deref(), Some("第11条"));
            assert!(g.is_immediate() && !g.needs_dual_control());
            assert!(g.allows_invalidity_date());
        }
        // A lost or stolen card cannot come back (第15条2: the loss procedure instead).
        assert!(!RevocationGrounds::Emergency(EmergencyCause::Lost).card_must_return());
        assert!(RevocationGrounds::Emergency(EmergencyCause::FearedMisuse).card_must_return());
    }

    #[test]
    fn art12_each_item_has_its_own_article_and_needs_dual_control() {
        let want = [
            (
                AssociationGround::Breach,
                "第12条(1)",
                RevocationReason::PrivilegeWithdrawn,
            ),
            (
                AssociationGround::Compromise,
                "第12条(2)",
                RevocationReason::KeyCompromise,
            ),
            (
                AssociationGround::Misuse,
                "第12条(3)",
                RevocationReason::PrivilegeWithdrawn,
            ),
            (
                AssociationGround::UntrueData,
                "第12条(4)",
                RevocationReason::PrivilegeWithdrawn,
            ),
            (
                AssociationGround::UnpaidFees,
                "第12条(5)",
                RevocationReason::PrivilegeWithdrawn,
            ),
            (
                AssociationGround::Other,
                "第12条(6)",
                RevocationReason::PrivilegeWithdrawn,
            ),
        ];
        assert_eq!(want.len(), AssociationGround::ALL.len());
        for (g, article, reason) in want {
            let r = RevocationGrounds::Association(g);
            assert_eq!(r.article().as_deref(), Some(article));
            assert_eq!(r.reason(), reason, "{g:?}");
            assert!(r.needs_dual_control() && !r.is_immediate());
            assert!(r.card_must_return());
        }
    }

    #[test]
    fn art12_5_unpaid_fees_allow_revocation_as_privilege_withdrawn() {
        let g = RevocationGrounds::Association(AssociationGround::UnpaidFees);
        assert_eq!(g.reason(), RevocationReason::PrivilegeWithdrawn);
        assert_eq!(g.code(), "association:unpaid_fees");
        assert!(!g.allows_invalidity_date());
    }

    #[test]
    fn art13_to_art27_map_to_design_reasons() {
        use RevocationGrounds as G;
        let cases = [
            (
                G::Discontinuation(DiscontinuationReason::LeftFacility),
                RevocationReason::AffiliationChanged,
                "第13条",
            ),
            (
                G::Discontinuation(DiscontinuationReason::StoppedUsing),
                RevocationReason::CessationOfOperation,
                "第13条",
            ),
            (G::Renewal, RevocationReason::Superseded, "第14条1"),
            (
                G::Reissue(ReissueCause::HolderRenamed),
                RevocationReason::Superseded,
                "第14条2",
            ),
            (
                G::Reissue(ReissueCause::Lost),
                RevocationReason::KeyCompromise,
                "第14条2",
            ),
            (
                G::Return(ReturnReason::NonPayment),
                RevocationReason::PrivilegeWithdrawn,
                "第15条1(4)",
            ),
            (
                G::Return(ReturnReason::LeftNetwork),
                RevocationReason::CessationOfOperation,
                "第15条1(2)",
            ),
            (G::LostInPost, RevocationReason::KeyCompromise, "第8条"),
            (
                G::Termination,
                RevocationReason::CessationOfOperation,
                "第27条3",
            ),
        ];
        for (g, reason, article) in cases {
            assert_eq!(g.reason(), reason, "{g:?}");
            assert_eq!(g.article().as_deref(), Some(article), "{g:?}");
        }
        assert_eq!(G::IssuanceAbandoned.article(), None);
        assert!(!G::Administrative(RevocationReason::KeyCompromise).applies_to_cards());
    }

    #[test]
    fn grounds_codes_round_trip_and_labels_are_japanese() {
        for g in every() {
            assert_eq!(RevocationGrounds::parse(&g.code()), Ok(g), "{}", g.code());
            assert!(!g.label_ja().is_ascii(), "{g:?}");
            // No ground of the terms ever puts cACompromise or certificateHold on a card.
            if g.applies_to_cards() {
                assert!(!matches!(
                    g.reason(),
                    RevocationReason::CaCompromise | RevocationReason::CertificateHold
                ));
            }
        }
        for bad in [
            "",
            "emergency",
            "emergency:",
            "emergency:lost:x",
            "association:fees",
            "renewal:x",
            "administrative:certificate-hold",
            "administrative:ca-compromise",
        ] {
            assert!(RevocationGrounds::parse(bad).is_err(), "{bad}");
        }
    }
}

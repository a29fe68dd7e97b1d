//! Certificate status, revocation reasons, profiles and validity periods.

use std::fmt;
use std::str::FromStr;

/// The profile a certificate is issued under (DESIGN §4).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ProfileKind {
    /// Offline root CA.
    Root,
    /// Online issuing CA.
    IssuingCa,
    /// Delegated OCSP signer (RFC 6960 §4.2.2.2).
    OcspSigner,
    /// The signer of the audit log's checkpoints (CMS, RFC 5652; id-kp-documentSigning,
    /// RFC 9336).
    AuditSigner,
    /// A holder's card certificate (client authentication to the network).
    UserCard,
    /// A support-center operator's certificate (portal and API).
    Operator,
    /// A TLS server certificate for the network's own services.
    Server,
    /// A personalization station's client certificate (発行端末, `kmn card personalize
    /// --server`): its own profile, so that an account of role station takes nothing else
    /// and no station certificate can act as an operator (issue 9 item 3).
    Station,
}

impl ProfileKind {
    /// The name used on the command line and in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Root => "root",
            Self::IssuingCa => "issuing-ca",
            Self::OcspSigner => "ocsp-signer",
            Self::AuditSigner => "audit-signer",
            Self::UserCard => "user-card",
            Self::Operator => "operator",
            Self::Server => "server",
            Self::Station => "station",
        }
    }

    /// The label people see.
    pub fn label_ja(self) -> &'static str {
        match self {
            Self::Root => "ルート認証局",
            Self::IssuingCa => "発行認証局",
            Self::OcspSigner => "OCSP応答署名者",
            Self::AuditSigner => "監査ログ署名者",
            Self::UserCard => "利用者カード",
            Self::Operator => "担当者証明書",
            Self::Server => "サーバー（TLS）",
            Self::Station => "発行端末",
        }
    }

    /// Profiles for end-entity certificates, the ones `kmn cert issue` accepts.
    pub const END_ENTITY: [ProfileKind; 4] =
        [Self::UserCard, Self::Operator, Self::Server, Self::Station];
}

impl FromStr for ProfileKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "root" => Self::Root,
            "issuing-ca" => Self::IssuingCa,
            "ocsp-signer" => Self::OcspSigner,
            "audit-signer" => Self::AuditSigner,
            "user-card" => Self::UserCard,
            "operator" => Self::Operator,
            "server" => Self::Server,
            "station" => Self::Station,
            other => {
                return Err(format!(
                    "unknown profile '{other}' (known: user-card, operator, server, station)"
                ));
            }
        })
    }
}

impl fmt::Display for ProfileKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The validity a card certificate is issued for: 3 or 5 years from the issue date
/// (第10条1・2; 5 years since Ver.2.00). Never shortened: a period the CA cannot cover is
/// refused (DESIGN §4).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ValidityPeriod {
    /// 3 years.
    Years3,
    /// 5 years.
    Years5,
}

impl ValidityPeriod {
    /// Number of years.
    pub fn years(self) -> i32 {
        match self {
            Self::Years3 => 3,
            Self::Years5 => 5,
        }
    }

    /// The notAfter for a certificate whose notBefore is `from`: the same calendar
    /// day and time `years` later (29 February maps to 28 February), minus one second,
    /// so that the period is exactly N years inclusive (RFC 5280 §4.1.2.5).
    pub fn not_after(self, from: time::OffsetDateTime) -> time::OffsetDateTime {
        add_years(from, self.years()) - time::Duration::seconds(1)
    }
}

/// `from` plus whole calendar years; 29 February becomes 28 February in a common year.
pub fn add_years(from: time::OffsetDateTime, years: i32) -> time::OffsetDateTime {
    let date = from.date();
    let target_year = date.year() + years;
    let new_date = date
        .replace_year(target_year)
        .or_else(|_| {
            date.replace_day(28)
                .and_then(|d| d.replace_year(target_year))
        })
        .expect("a valid calendar date");
    from.replace_date(new_date)
}

impl FromStr for ValidityPeriod {
    type Err = String;
    /// Accepts `3y`, `5y`, `3`, `5` (第10条: only 3 or 5 years exist).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "3y" | "3" => Ok(Self::Years3),
            "5y" | "5" => Ok(Self::Years5),
            other => Err(format!(
                "validity '{other}' is not offered: cards are valid 3 or 5 years (第10条); use 3y or 5y"
            )),
        }
    }
}

/// RFC 5280 §5.3.1 reason codes this CA uses, mapped from the terms' grounds
/// (第11・12・13・14・27条, DESIGN §4).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RevocationReason {
    /// Loss, theft or (suspected) compromise of the card (第11条, 第12条(2)).
    KeyCompromise,
    /// The association withdraws the right: breach, misuse, untrue data, unpaid fees
    /// (第12条(1)(3)(4)(5)).
    PrivilegeWithdrawn,
    /// Replaced by a reissue or a name change (第14条).
    Superseded,
    /// The holder left the facility (第13条, 第15条).
    AffiliationChanged,
    /// Discontinuation or termination of the service (第13条, 第27条).
    CessationOfOperation,
    /// An issuing CA's key was (or may have been) compromised: only on the root's ARL,
    /// for an issuing CA's certificate (`kmn ca revoke-issuing`, issue 8), never for an
    /// end-entity certificate.
    CaCompromise,
    /// Issued on hold until the facility confirms receipt (第8条, `hold_until_receipt`).
    /// Not a revocation: the only reason ever removed from a CRL.
    CertificateHold,
}

impl RevocationReason {
    /// The CRLReason code of RFC 5280 §5.3.1.
    pub fn code(self) -> u8 {
        match self {
            Self::KeyCompromise => 1,
            Self::CaCompromise => 2,
            Self::AffiliationChanged => 3,
            Self::Superseded => 4,
            Self::CessationOfOperation => 5,
            Self::CertificateHold => 6,
            Self::PrivilegeWithdrawn => 9,
        }
    }

    /// Inverse of [`Self::code`].
    pub fn from_code(code: u8) -> Option<Self> {
        Some(match code {
            1 => Self::KeyCompromise,
            2 => Self::CaCompromise,
            3 => Self::AffiliationChanged,
            4 => Self::Superseded,
            5 => Self::CessationOfOperation,
            6 => Self::CertificateHold,
            9 => Self::PrivilegeWithdrawn,
            _ => return None,
        })
    }

    /// The name used on the command line and in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::KeyCompromise => "key-compromise",
            Self::CaCompromise => "ca-compromise",
            Self::PrivilegeWithdrawn => "privilege-withdrawn",
            Self::Superseded => "superseded",
            Self::AffiliationChanged => "affiliation-changed",
            Self::CessationOfOperation => "cessation-of-operation",
            Self::CertificateHold => "certificate-hold",
        }
    }

    /// The RFC 5280 name.
    pub fn rfc_name(self) -> &'static str {
        match self {
            Self::KeyCompromise => "keyCompromise",
            Self::CaCompromise => "cACompromise",
            Self::PrivilegeWithdrawn => "privilegeWithdrawn",
            Self::Superseded => "superseded",
            Self::AffiliationChanged => "affiliationChanged",
            Self::CessationOfOperation => "cessationOfOperation",
            Self::CertificateHold => "certificateHold",
        }
    }

    /// The label people see (REQUIREMENTS, "Words people see").
    pub fn label_ja(self) -> &'static str {
        match self {
            Self::KeyCompromise => "鍵の危殆化（紛失・盗難を含む）",
            Self::CaCompromise => "認証局の鍵の危殆化",
            Self::PrivilegeWithdrawn => "資格の取消し",
            Self::Superseded => "再発行による置換え",
            Self::AffiliationChanged => "所属の変更",
            Self::CessationOfOperation => "利用中止",
            Self::CertificateHold => "一時保留",
        }
    }

    /// Whether an invalidityDate entry extension means something for this reason
    /// (DESIGN §4: only for keyCompromise — the last time the card was known safe).
    pub fn allows_invalidity_date(self) -> bool {
        matches!(self, Self::KeyCompromise)
    }
}

impl FromStr for RevocationReason {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "key-compromise" => Self::KeyCompromise,
            "ca-compromise" => Self::CaCompromise,
            "privilege-withdrawn" => Self::PrivilegeWithdrawn,
            "superseded" => Self::Superseded,
            "affiliation-changed" => Self::AffiliationChanged,
            "cessation-of-operation" => Self::CessationOfOperation,
            "certificate-hold" => Self::CertificateHold,
            other => {
                return Err(format!(
                    "unknown revocation reason '{other}' (known: key-compromise, privilege-withdrawn, superseded, affiliation-changed, cessation-of-operation)"
                ));
            }
        })
    }
}

impl fmt::Display for RevocationReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Status of an issued certificate (DESIGN §3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CertStatus {
    /// Valid (it may still have passed its notAfter: expiry is computed from the time).
    Valid,
    /// Issued on certificateHold until receipt is confirmed (第8条).
    OnHold,
    /// Revoked; never un-revoked.
    Revoked,
}

/// A status transition that is not allowed.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum CertStatusError {
    /// The certificate is already revoked.
    #[error("the certificate is already revoked; a revoked certificate is never un-revoked")]
    AlreadyRevoked,
    /// Release from hold was asked of a certificate that is not on hold.
    #[error("the certificate is not on hold")]
    NotOnHold,
    /// certificateHold is not a reason an operator revokes with.
    #[error("certificate-hold is not a revocation reason; holds are placed at issuance only")]
    HoldIsNotRevocation,
}

impl CertStatus {
    /// The name stored in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Valid => "valid",
            Self::OnHold => "on_hold",
            Self::Revoked => "revoked",
        }
    }

    /// Parse the database name.
    pub fn from_db(s: &str) -> Option<Self> {
        Some(match s {
            "valid" => Self::Valid,
            "on_hold" => Self::OnHold,
            "revoked" => Self::Revoked,
            _ => return None,
        })
    }

    /// The label people see.
    pub fn label_ja(self) -> &'static str {
        match self {
            Self::Valid => "有効",
            // certificateHold serves a suspended card as well as a card awaiting receipt.
            Self::OnHold => "保留中",
            Self::Revoked => "失効",
        }
    }

    /// Revoke: allowed from `Valid` and `OnHold` (DESIGN §3). A revoked certificate is
    /// never un-revoked (RFC 5280 §3.3), and certificateHold is not a revocation reason.
    pub fn revoke(self, reason: RevocationReason) -> Result<CertStatus, CertStatusError> {
        if reason == RevocationReason::CertificateHold {
            return Err(CertStatusError::HoldIsNotRevocation);
        }
        match self {
            Self::Valid | Self::OnHold => Ok(Self::Revoked),
            Self::Revoked => Err(CertStatusError::AlreadyRevoked),
        }
    }

    /// Release from hold on receipt (第8条): only `OnHold` becomes `Valid`.
    pub fn release(self) -> Result<CertStatus, CertStatusError> {
        match self {
            Self::OnHold => Ok(Self::Valid),
            Self::Revoked => Err(CertStatusError::AlreadyRevoked),
            Self::Valid => Err(CertStatusError::NotOnHold),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn art10_only_three_or_five_years() {
        assert_eq!("3y".parse(), Ok(ValidityPeriod::Years3));
        assert_eq!("5y".parse(), Ok(ValidityPeriod::Years5));
        let err = "4y".parse::<ValidityPeriod>().unwrap_err();
        assert!(err.contains("第10条"), "{err}");
    }

    #[test]
    fn art10_validity_is_full_calendar_years() {
        let from = datetime!(2026-11-26 03:00 UTC);
        assert_eq!(
            ValidityPeriod::Years5.not_after(from),
            datetime!(2031-11-26 02:59:59 UTC)
        );
        let leap = datetime!(2028-02-29 00:00 UTC);
        assert_eq!(
            ValidityPeriod::Years3.not_after(leap),
            datetime!(2031-02-27 23:59:59 UTC)
        );
    }

    #[test]
    fn rfc5280_5_3_1_reason_codes_round_trip() {
        for r in [
            RevocationReason::KeyCompromise,
            RevocationReason::CaCompromise,
            RevocationReason::PrivilegeWithdrawn,
            RevocationReason::Superseded,
            RevocationReason::AffiliationChanged,
            RevocationReason::CessationOfOperation,
            RevocationReason::CertificateHold,
        ] {
            assert_eq!(RevocationReason::from_code(r.code()), Some(r));
            assert_eq!(r.as_str().parse::<RevocationReason>(), Ok(r));
        }
        assert_eq!(RevocationReason::KeyCompromise.code(), 1);
        assert_eq!(RevocationReason::PrivilegeWithdrawn.code(), 9);
        assert_eq!(RevocationReason::CaCompromise.code(), 2);
    }

    #[test]
    fn design3_revoked_certificate_is_never_unrevoked() {
        let s = CertStatus::Valid
            .revoke(RevocationReason::KeyCompromise)
            .unwrap();
        assert_eq!(s, CertStatus::Revoked);
        assert_eq!(
            s.revoke(RevocationReason::Superseded),
            Err(CertStatusError::AlreadyRevoked)
        );
        assert_eq!(s.release(), Err(CertStatusError::AlreadyRevoked));
    }

    #[test]
    fn art8_hold_is_released_on_receipt_and_is_not_revocation() {
        assert_eq!(CertStatus::OnHold.release(), Ok(CertStatus::Valid));
        assert_eq!(CertStatus::Valid.release(), Err(CertStatusError::NotOnHold));
        assert_eq!(
            CertStatus::Valid.revoke(RevocationReason::CertificateHold),
            Err(CertStatusError::HoldIsNotRevocation)
        );
        assert_eq!(
            CertStatus::OnHold.revoke(RevocationReason::KeyCompromise),
            Ok(CertStatus::Revoked)
        );
    }

    #[test]
    fn design4_invalidity_date_only_for_key_compromise() {
        assert!(RevocationReason::KeyCompromise.allows_invalidity_date());
        assert!(!RevocationReason::Superseded.allows_invalidity_date());
    }
}

//! Who is acting, and what they may do (MHLW guideline G3: access by job and duty, checked
//! on every request). Portal and API users authenticate with client certificates issued by
//! this CA, mapped to accounts by SHA-256 fingerprint; the certificate's revocation status
//! is checked every time (DESIGN §1, §8).

use kmn_store::AccountRow;

use crate::{App, AppError};

/// Roles (REQUIREMENTS G3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Support-center operator (RA).
    Operator,
    /// Support-center supervisor: operator rights and more.
    Supervisor,
    /// A facility's desk (窓口, 第17条), bound to one facility.
    FacilityDesk,
    /// Read-only auditor.
    Auditor,
    /// Personalization station (`kmn card personalize --server`).
    Station,
}

impl Role {
    /// Stable code.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Operator => "operator",
            Self::Supervisor => "supervisor",
            Self::FacilityDesk => "facility_desk",
            Self::Auditor => "auditor",
            Self::Station => "station",
        }
    }

    /// Parses a code.
    pub fn parse(s: &str) -> Option<Role> {
        Some(match s {
            "operator" => Self::Operator,
            "supervisor" => Self::Supervisor,
            "facility_desk" => Self::FacilityDesk,
            "auditor" => Self::Auditor,
            "station" => Self::Station,
            _ => return None,
        })
    }

    /// Japanese label.
    pub fn label_ja(self) -> &'static str {
        match self {
            Self::Operator => "サポートセンター担当者",
            Self::Supervisor => "サポートセンター責任者",
            Self::FacilityDesk => "利用施設窓口",
            Self::Auditor => "監査担当者",
            Self::Station => "発行端末",
        }
    }
}

/// The facilities a caller's right reaches, obtained from the role before anything is
/// loaded (rights first): a caller without the right is refused (403) whatever id it
/// names; an object outside the scope is then answered exactly like an absent one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Scope {
    /// Every facility (support center, auditors for reading).
    All,
    /// One facility (its desk).
    Facility(String),
}

impl Scope {
    /// Whether data of `facility` is within reach.
    pub fn admits(&self, facility: &str) -> bool {
        match self {
            Self::All => true,
            Self::Facility(f) => f == facility,
        }
    }

    /// The facility a desk is limited to.
    pub fn facility(&self) -> Option<&str> {
        match self {
            Self::All => None,
            Self::Facility(f) => Some(f),
        }
    }

    /// `Ok(v)` when `v` exists and belongs to a facility within reach, else the
    /// not-found error: absent and foreign get one answer.
    pub fn visible<T>(
        &self,
        v: Option<T>,
        facility_of: impl Fn(&T) -> &str,
        not_found: impl FnOnce() -> AppError,
    ) -> Result<T, AppError> {
        match v {
            Some(v) if self.admits(facility_of(&v)) => Ok(v),
            _ => Err(not_found()),
        }
    }
}

/// An authenticated actor. Made only inside kmn-app: by [`authenticate`] from a client
/// certificate, or for the local CLI by [`crate::rights::CaAdmin::local`]. A use case
/// does not take an actor but the capability it needs ([`crate::rights`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Actor {
    /// Account id (or `cli:<user>` for the local CLI).
    pub(crate) account_id: String,
    /// Role.
    pub(crate) role: Role,
    /// The facility a desk is bound to.
    pub(crate) facility: Option<String>,
    /// The desk member's own holder id.
    pub(crate) holder_id: Option<String>,
    /// Name for people.
    pub(crate) display_name: String,
    /// The person behind the account (dual control compares persons, not accounts).
    pub(crate) person_id: String,
}

impl Actor {
    /// Account id (or `cli:<user>` for the local CLI).
    pub fn account_id(&self) -> &str {
        &self.account_id
    }

    /// Role.
    pub fn role(&self) -> Role {
        self.role
    }

    /// The facility a desk is bound to.
    pub fn facility(&self) -> Option<&str> {
        self.facility.as_deref()
    }

    /// The desk member's own holder id.
    pub fn holder_id(&self) -> Option<&str> {
        self.holder_id.as_deref()
    }

    /// Name for people.
    pub fn display_name(&self) -> &str {
        &self.display_name
    }

    /// The person behind the account: one person with two accounts (two certificates)
    /// is one person for dual control and separation of duties.
    pub fn person_id(&self) -> &str {
        &self.person_id
    }

    /// The local CLI, run by the support center on the server (an operator).
    pub(crate) fn cli(user: &str) -> Actor {
        Actor {
            account_id: user.to_string(),
            role: Role::Operator,
            facility: None,
            holder_id: None,
            display_name: user.to_string(),
            person_id: user.to_string(),
        }
    }

    /// A card's holder acting with the emergency code of their PIN mailer (第11条), with
    /// no account: `holder:<holder id>`. It reaches no capability (its role is never
    /// checked: the emergency form's use case takes none); the audit names it a holder.
    pub(crate) fn holder(holder_id: &str) -> Actor {
        Actor {
            account_id: format!("holder:{holder_id}"),
            role: Role::FacilityDesk,
            facility: None,
            holder_id: Some(holder_id.to_string()),
            display_name: "利用者本人".into(),
            person_id: holder_id.to_string(),
        }
    }

    /// The center's own personalization station (`kmn card personalize` on the server),
    /// acting for the local CLI user `cli`: a station, under the same name. Only the
    /// local CLI makes one; an operator's account is never a station (issue 8).
    pub(crate) fn local_station(cli: &Actor) -> Actor {
        Actor {
            account_id: cli.account_id.clone(),
            role: Role::Station,
            facility: None,
            holder_id: None,
            display_name: cli.display_name.clone(),
            person_id: cli.person_id.clone(),
        }
    }

    /// The role as the audit log names it: `holder` for a holder acting with the
    /// emergency code ([`Actor::holder`]), else the account's role.
    pub fn audit_role(&self) -> &'static str {
        if self.account_id.starts_with("holder:") {
            "holder"
        } else {
            self.role.as_str()
        }
    }

    /// Support-center staff (operator or supervisor).
    pub fn is_center(&self) -> bool {
        matches!(self.role, Role::Operator | Role::Supervisor)
    }
}

/// Authenticates a client certificate (DER): known to an enabled account, issued by
/// this CA, neither revoked, on hold nor expired.
pub async fn authenticate(app: &App, cert_der: &[u8]) -> Result<Actor, AppError> {
    let fp = kmn_pki::cert::fingerprint_sha256(cert_der);
    let mut tx = app.store.read().await?;
    let account = tx.account_by_fingerprint(&fp).await?;
    let status = tx.cert_status_by_fingerprint(&fp).await?;
    let issuer = tx.issuer_status_by_fingerprint(&fp).await?;
    tx.rollback().await?;
    let Some((_, status, not_after)) = status else {
        return Err(AppError::Unauthenticated(
            "この証明書は本認証局が発行したものではありません".into(),
        ));
    };
    match status.as_str() {
        "revoked" => {
            return Err(AppError::Unauthenticated(
                "この証明書は失効しています".into(),
            ));
        }
        "on_hold" => {
            return Err(AppError::Unauthenticated(
                "この証明書は受領確認待ちのため保留中です".into(),
            ));
        }
        _ => {}
    }
    if issuer.as_deref() == Some("revoked") {
        // `kmn ca revoke-issuing`: the issuing CA itself is on the root's ARL.
        return Err(AppError::Unauthenticated(
            "この証明書を発行した認証局の証明書が失効しているため、この証明書は使えません".into(),
        ));
    }
    if not_after < app.now() {
        return Err(AppError::Unauthenticated(
            "この証明書は有効期限が切れています".into(),
        ));
    }
    let a: AccountRow = account.ok_or_else(|| {
        AppError::Forbidden("この証明書に対応するアカウントが登録されていません".into())
    })?;
    if a.disabled != 0 {
        return Err(AppError::Forbidden(
            "このアカウントは無効化されています".into(),
        ));
    }
    let role = Role::parse(&a.role)
        .ok_or_else(|| AppError::Internal(format!("unknown role {}", a.role)))?;
    let person_id = a
        .person_id
        .clone()
        .or_else(|| a.holder_id.clone())
        .unwrap_or_else(|| a.id.clone());
    Ok(Actor {
        person_id,
        account_id: a.id,
        role,
        facility: a.facility_code,
        holder_id: a.holder_id,
        display_name: a.display_name,
    })
}

/// The name of a uid in `/etc/passwd`, or `uid <n>`.
fn user_name(uid: u32) -> String {
    std::fs::read_to_string("/etc/passwd")
        .ok()
        .and_then(|p| {
            p.lines().find_map(|l| {
                let mut f = l.split(':');
                let name = f.next()?;
                let id = f.nth(1)?.parse::<u32>().ok()?;
                (id == uid && !name.is_empty()).then(|| name.to_string())
            })
        })
        .unwrap_or_else(|| format!("uid {uid}"))
}

/// The operating-system user behind this process, as the audit log records it: the
/// account of the process (owner of `/proc/self`), preceded by the person who became it
/// (`SUDO_USER`, else the login uid of `/proc/self/loginuid`) when that is someone else,
/// e.g. `tanaka as root`. Neither `--actor` nor `$USER` changes it.
pub fn os_user() -> String {
    use std::os::unix::fs::MetadataExt;
    let Ok(uid) = std::fs::metadata("/proc/self").map(|m| m.uid()) else {
        return "unknown".into();
    };
    let me = user_name(uid);
    let sudo = std::env::var("SUDO_USER")
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty());
    let login = std::fs::read_to_string("/proc/self/loginuid")
        .ok()
        .and_then(|s| s.trim().parse::<u32>().ok())
        .filter(|&l| l != u32::MAX && l != uid)
        .map(user_name);
    match sudo.or(login) {
        Some(person) if person != me => format!("{person} as {me}"),
        _ => me,
    }
}

/// Who a local CLI command acts as in the audit log: `--actor` (or `KMN_ACTOR`) if
/// given, else `cli:$USER` (`cli:unknown` without `$USER`), always with the OS user
/// beside any name that is not simply `cli:<OS user>`: `cli:tanaka (os:root)`. A name
/// given on the command line cannot hide who ran the command.
pub fn cli_actor(given: Option<&str>) -> String {
    let os = os_user();
    let name = match given.map(str::trim).filter(|s| !s.is_empty()) {
        Some(a) => a.to_string(),
        None => format!(
            "cli:{}",
            std::env::var("USER")
                .ok()
                .filter(|u| !u.is_empty())
                .unwrap_or_else(|| "unknown".into())
        ),
    };
    if name == format!("cli:{os}") {
        name
    } else {
        format!("{name} (os:{os})")
    }
}

#[cfg(test)]
mod os_user_tests {
    use super::*;

    #[test]
    fn issue8_cli_actor_always_names_the_os_user() {
        let os = os_user();
        assert!(!os.is_empty());
        assert_eq!(
            cli_actor(Some("cli:tanaka")),
            format!("cli:tanaka (os:{os})")
        );
        // A name that pretends to carry the OS user still gets the real one appended.
        assert_eq!(
            cli_actor(Some("cli:x (os:nobody)")),
            format!("cli:x (os:nobody) (os:{os})")
        );
    }
}

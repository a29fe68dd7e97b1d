//! Rights as types (issue 9 item 1; MHLW guideline G3: access by job and duty). A use
//! case that needs a right takes the capability value for it, and a capability exists
//! only when the right was checked: it is made here, inside kmn-app, from an
//! authenticated [`Actor`] ([`crate::actor::authenticate`]) or, for the local CLI on the
//! server, by [`CaAdmin::local`], which records the operating-system user. Fields are
//! private, so code outside kmn-app can neither build a capability nor forge the actor
//! inside one: code without the right cannot call the function that needs it (the
//! model is lldap's `access-control`).
//!
//! | capability | who holds it | reach |
//! |---|---|---|
//! | [`Center`] | operator, supervisor | every facility |
//! | [`Supervisor`] | supervisor | every facility; approves [`crate::proposal`]s |
//! | [`Registrar`] | center, or a facility's desk | every facility / the desk's own |
//! | [`Reader`] | center, auditor, or a desk | every facility / the desk's own |
//! | [`Station`] | a personalization station | its own certificates |
//! | [`Auditor`] | auditor | reads everything, changes nothing |
//! | [`DoctorLookup`] | operator, supervisor, station | the doctor registry's lookup by certificate (the gateway) |
//! | [`CaAdmin`] | the local CLI on the server | the center's rights, the center's station |
//!
//! The refusals (403) keep their Japanese messages.
//!
//! Code without the right does not compile (these run with the ordinary tests; the
//! same cases with their exact compiler errors are in `tests/compile-fail/`, checked by
//! trybuild, `cargo test --workspace --test rights -- --ignored`):
//!
//! ```compile_fail
//! // An authenticated actor is not a right.
//! async fn f(app: &kmn_app::App, a: &kmn_app::actor::Actor) {
//!     let _ = kmn_app::ra::accounts::disable(app, a, "U000001").await;
//! }
//! ```
//!
//! ```compile_fail
//! // The right to read is not the right to act.
//! async fn f(app: &kmn_app::App, r: &kmn_app::rights::Reader) {
//!     let _ = kmn_app::ra::accounts::disable(app, r, "U000001").await;
//! }
//! ```
//!
//! ```compile_fail
//! // Outside kmn-app a capability cannot be made by hand.
//! fn f(c: &kmn_app::rights::Center) -> kmn_app::rights::Supervisor {
//!     kmn_app::rights::Supervisor { actor: c.actor().clone() }
//! }
//! ```
//!
//! ```compile_fail
//! // Dual control: the center cannot approve a proposal, only a supervisor.
//! async fn f(app: &kmn_app::App, c: &kmn_app::rights::Center) {
//!     let _ = kmn_app::proposal::approve(app, c, "P1", "00").await;
//! }
//! ```
//!
//! ```compile_fail
//! // A desk's right to act for its facility is not the center's approval of a doctor.
//! async fn f(app: &kmn_app::App, r: &kmn_app::rights::Registrar) {
//!     let _ = kmn_app::ra::doctors::approve(app, r, "DR00000001").await;
//! }
//! ```
//!
//! The control case compiles:
//!
//! ```
//! async fn f(app: &kmn_app::App, c: &kmn_app::rights::Center) {
//!     let _ = kmn_app::ra::accounts::disable(app, c, "U000001").await;
//! }
//! ```

use crate::AppError;
use crate::actor::{Actor, Role, Scope};

mod sealed {
    pub trait Sealed {}
}

/// A right obtained from an authenticated actor. Sealed: only kmn-app's capabilities
/// implement it.
pub trait Capability: sealed::Sealed + Sized + Send + Sync + 'static {
    /// Checks the actor's role before anything is loaded or parsed; a refusal is a
    /// `Forbidden` error with the message shown to the caller.
    fn from_actor(actor: &Actor) -> Result<Self, AppError>;

    /// Who holds the right.
    fn actor(&self) -> &Actor;
}

fn refused(actor: &Actor) -> AppError {
    AppError::Forbidden(format!(
        "この操作は行えません（あなたの権限: {}）",
        actor.role.label_ja()
    ))
}

fn station_cannot_read() -> AppError {
    AppError::Forbidden("発行端末はこの情報を閲覧できません".into())
}

fn desk_scope(actor: &Actor) -> Result<Scope, AppError> {
    actor
        .facility
        .clone()
        .map(Scope::Facility)
        .ok_or_else(|| AppError::Forbidden("窓口アカウントに施設が設定されていません".into()))
}

macro_rules! capability {
    ($name:ident, $from:expr) => {
        impl sealed::Sealed for $name {}
        impl Capability for $name {
            fn from_actor(actor: &Actor) -> Result<Self, AppError> {
                #[allow(clippy::redundant_closure_call)]
                ($from)(actor)
            }
            fn actor(&self) -> &Actor {
                &self.actor
            }
        }
        impl $name {
            /// Who holds the right.
            pub fn actor(&self) -> &Actor {
                &self.actor
            }
        }
    };
}

/// Support-center staff: an operator or a supervisor (the RA of the CPS).
#[derive(Clone, Debug)]
pub struct Center {
    actor: Actor,
}

capability!(Center, |a: &Actor| {
    if a.is_center() {
        Ok(Center { actor: a.clone() })
    } else {
        Err(AppError::Forbidden(format!(
            "この操作はサポートセンターのみ行えます（あなたの権限: {}）",
            a.role.label_ja()
        )))
    }
});

impl Center {
    /// The center acts for every facility.
    pub fn registrar(&self) -> Registrar {
        Registrar {
            actor: self.actor.clone(),
            scope: Scope::All,
        }
    }

    /// The center reads every facility.
    pub fn reader(&self) -> Reader {
        Reader {
            actor: self.actor.clone(),
            scope: Scope::All,
        }
    }
}

/// A support-center supervisor (サポートセンター責任者): the second person of dual
/// control.
#[derive(Clone, Debug)]
pub struct Supervisor {
    actor: Actor,
}

capability!(Supervisor, |a: &Actor| {
    if a.role == Role::Supervisor {
        Ok(Supervisor { actor: a.clone() })
    } else {
        Err(AppError::Forbidden(format!(
            "この操作はサポートセンター責任者のみ行えます（あなたの権限: {}）",
            a.role.label_ja()
        )))
    }
});

impl Supervisor {
    /// A supervisor has the center's rights.
    pub fn center(&self) -> Center {
        Center {
            actor: self.actor.clone(),
        }
    }
}

/// The right to act for facilities (register people, file applications, record
/// consents and handovers): the center for every facility, a desk (窓口, 第17条) for
/// its own. Auditors and stations have none.
#[derive(Clone, Debug)]
pub struct Registrar {
    actor: Actor,
    scope: Scope,
}

capability!(Registrar, |a: &Actor| {
    let scope = match a.role {
        Role::Operator | Role::Supervisor => Scope::All,
        Role::FacilityDesk => desk_scope(a)?,
        _ => return Err(refused(a)),
    };
    Ok(Registrar {
        actor: a.clone(),
        scope,
    })
});

impl Registrar {
    /// The facilities within reach.
    pub fn scope(&self) -> &Scope {
        &self.scope
    }

    /// Whether the holder is support-center staff.
    pub fn is_center(&self) -> bool {
        self.actor.is_center()
    }

    /// The center's right, for an action only the center may take; refused for a desk.
    pub fn center(&self) -> Result<Center, AppError> {
        Center::from_actor(&self.actor)
    }

    /// The right to act for `facility`: refused when it is outside reach.
    pub fn require(&self, facility: &str) -> Result<(), AppError> {
        if self.scope.admits(facility) {
            Ok(())
        } else {
            Err(AppError::Forbidden("他の施設の情報は操作できません".into()))
        }
    }

    /// The same right limited to one facility (never wider than this one).
    pub fn within(&self, facility: &str) -> Result<Registrar, AppError> {
        self.require(facility)?;
        Ok(Registrar {
            actor: self.actor.clone(),
            scope: Scope::Facility(facility.to_string()),
        })
    }

    /// The right to confirm a card's receipt (第8条1): a desk or the center, refused
    /// with the receipt's own message.
    pub fn for_receipt(actor: &Actor) -> Result<Registrar, AppError> {
        if actor.is_center() || actor.role == Role::FacilityDesk {
            Registrar::from_actor(actor)
        } else {
            Err(AppError::Forbidden(format!(
                "受領確認は施設窓口またはサポートセンターが行います（あなたの権限: {}）",
                actor.role.label_ja()
            )))
        }
    }

    /// A registrar reads what it may act for.
    pub fn reader(&self) -> Reader {
        Reader {
            actor: self.actor.clone(),
            scope: self.scope.clone(),
        }
    }
}

/// The right to read facility data: the center and auditors everywhere, a desk its own
/// facility; stations none.
#[derive(Clone, Debug)]
pub struct Reader {
    actor: Actor,
    scope: Scope,
}

capability!(Reader, |a: &Actor| {
    let scope = match a.role {
        Role::Operator | Role::Supervisor | Role::Auditor => Scope::All,
        Role::FacilityDesk => desk_scope(a)?,
        Role::Station => return Err(station_cannot_read()),
    };
    Ok(Reader {
        actor: a.clone(),
        scope,
    })
});

impl Reader {
    /// The facilities within reach.
    pub fn scope(&self) -> &Scope {
        &self.scope
    }

    /// The right to read `facility`: refused when it is outside reach.
    pub fn require(&self, facility: &str) -> Result<(), AppError> {
        if self.scope.admits(facility) {
            Ok(())
        } else {
            Err(AppError::Forbidden("他の施設の情報は閲覧できません".into()))
        }
    }

    /// The facility a listing is limited to: a desk sees only its own (naming another
    /// is refused), others what they ask for.
    pub fn listing(&self, requested: Option<&str>) -> Result<Option<String>, AppError> {
        match &self.scope {
            Scope::All => Ok(requested.map(str::to_string)),
            Scope::Facility(own) => match requested {
                Some(r) if r != own => {
                    Err(AppError::Forbidden("他の施設の情報は閲覧できません".into()))
                }
                _ => Ok(Some(own.clone())),
            },
        }
    }
}

/// A personalization station (`kmn card personalize --server`), or the center's own
/// station made by the local CLI ([`CaAdmin::station`]). Support-center staff are not
/// stations (issue 8).
#[derive(Clone, Debug)]
pub struct Station {
    actor: Actor,
}

capability!(Station, |a: &Actor| {
    if a.role == Role::Station {
        Ok(Station { actor: a.clone() })
    } else {
        Err(AppError::Forbidden(format!(
            "この操作は発行端末のみ行えます（あなたの権限: {}）",
            a.role.label_ja()
        )))
    }
});

impl Station {
    /// The station's account.
    pub fn account(&self) -> &str {
        &self.actor.account_id
    }
}

/// The right to look a presented HPKI certificate up in the doctor registry (issue 11
/// item 3): what `kmn gateway` asks at a doctor's login. Held by the center (operator,
/// supervisor) and by machine credentials of the role station (a gateway in front of a
/// network service is given a station account); desks and auditors have none, and the
/// answer carries facility codes and the profession only, no personal data.
#[derive(Clone, Debug)]
pub struct DoctorLookup {
    actor: Actor,
}

capability!(DoctorLookup, |a: &Actor| {
    if a.is_center() || a.role == Role::Station {
        Ok(DoctorLookup { actor: a.clone() })
    } else {
        Err(AppError::Forbidden(format!(
            "医師の登録の照会はサポートセンターまたはゲートウェイ（発行端末の資格）のみ行えます（あなたの権限: {}）",
            a.role.label_ja()
        )))
    }
});

/// A read-only auditor (監査担当者).
#[derive(Clone, Debug)]
pub struct Auditor {
    actor: Actor,
}

capability!(Auditor, |a: &Actor| {
    if a.role == Role::Auditor {
        Ok(Auditor { actor: a.clone() })
    } else {
        Err(refused(a))
    }
});

impl Auditor {
    /// An auditor reads every facility.
    pub fn reader(&self) -> Reader {
        Reader {
            actor: self.actor.clone(),
            scope: Scope::All,
        }
    }
}

/// The local CLI on the server (CA administration): whoever can run `kmn` against the
/// data dir already holds the database and the keys, so it acts with the center's
/// rights and as the center's own station. The audit log names it with the
/// operating-system user ([`crate::actor::cli_actor`]).
#[derive(Clone, Debug)]
pub struct CaAdmin {
    actor: Actor,
}

impl CaAdmin {
    /// The local CLI, acting as `--actor`/`KMN_ACTOR` (`given`) or `cli:$USER`, always
    /// recorded with the OS user beside it.
    pub fn local(given: Option<&str>) -> CaAdmin {
        let name = crate::actor::cli_actor(given);
        CaAdmin {
            actor: Actor::cli(&name),
        }
    }

    /// The name recorded in the audit log.
    pub fn name(&self) -> &str {
        &self.actor.account_id
    }

    /// Who acts.
    pub fn actor(&self) -> &Actor {
        &self.actor
    }

    /// The center's rights.
    pub fn center(&self) -> Center {
        Center {
            actor: self.actor.clone(),
        }
    }

    /// The center acts for every facility.
    pub fn registrar(&self) -> Registrar {
        self.center().registrar()
    }

    /// The center reads every facility.
    pub fn reader(&self) -> Reader {
        self.center().reader()
    }

    /// The center's right to look doctors' certificates up.
    pub fn doctor_lookup(&self) -> DoctorLookup {
        DoctorLookup {
            actor: self.actor.clone(),
        }
    }

    /// The center's own personalization station (`kmn card personalize` on the
    /// server), under the same name.
    pub fn station(&self) -> Station {
        Station {
            actor: Actor::local_station(&self.actor),
        }
    }
}

/// Capabilities made inside kmn-app (quick start, tests).
impl Center {
    pub(crate) fn internal(name: &str) -> Center {
        Center {
            actor: Actor::cli(name),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn actor(role: Role, facility: Option<&str>) -> Actor {
        Actor {
            account_id: "U1".into(),
            role,
            facility: facility.map(str::to_string),
            holder_id: None,
            display_name: "x".into(),
            person_id: "P1".into(),
        }
    }

    #[test]
    fn issue9_capabilities_follow_the_roles() {
        let op = actor(Role::Operator, None);
        let sup = actor(Role::Supervisor, None);
        let aud = actor(Role::Auditor, None);
        let desk = actor(Role::FacilityDesk, Some("F1"));
        let st = actor(Role::Station, None);
        assert!(Center::from_actor(&op).is_ok() && Center::from_actor(&sup).is_ok());
        for a in [&aud, &desk, &st] {
            let Err(AppError::Forbidden(m)) = Center::from_actor(a) else {
                panic!("center for {a:?}")
            };
            assert!(
                m.starts_with("この操作はサポートセンターのみ行えます"),
                "{m}"
            );
        }
        assert!(Supervisor::from_actor(&op).is_err());
        assert!(Supervisor::from_actor(&sup).is_ok());
        assert!(Registrar::from_actor(&aud).is_err() && Registrar::from_actor(&st).is_err());
        let r = Registrar::from_actor(&desk).unwrap();
        assert!(r.require("F1").is_ok() && r.require("F2").is_err());
        assert!(r.center().is_err());
        let Err(AppError::Forbidden(m)) = Reader::from_actor(&st) else {
            panic!()
        };
        assert_eq!(m, "発行端末はこの情報を閲覧できません");
        let rd = Reader::from_actor(&desk).unwrap();
        assert_eq!(rd.listing(None).unwrap().as_deref(), Some("F1"));
        assert!(rd.listing(Some("F2")).is_err());
        assert!(Station::from_actor(&op).is_err() && Station::from_actor(&st).is_ok());
        assert!(Auditor::from_actor(&aud).is_ok() && Auditor::from_actor(&op).is_err());
        let cli = CaAdmin::local(Some("cli:x"));
        assert!(cli.name().starts_with("cli:x"));
        assert_eq!(cli.station().actor().role, Role::Station);
    }
}

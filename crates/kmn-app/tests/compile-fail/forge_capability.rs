// Outside kmn-app neither a capability nor the actor inside one can be made by hand,
// and an approval of a proposal exists only by `proposal::approve`.
use kmn_app::actor::{Actor, Role};
use kmn_app::proposal::{Approved, Proposal};
use kmn_app::rights::{Center, Supervisor};

fn forge_actor() -> Actor {
    Actor {
        account_id: "U000001".into(),
        role: Role::Supervisor,
        facility: None,
        holder_id: None,
        display_name: "x".into(),
        person_id: "x".into(),
    }
}

fn forge_center(actor: Actor) -> Center {
    Center { actor }
}

fn forge_supervisor(actor: Actor) -> Supervisor {
    Supervisor { actor }
}

fn forge_approval(p: Proposal) -> Approved {
    Approved(p)
}

fn main() {
    let _ = (forge_actor, forge_center, forge_supervisor, forge_approval);
}

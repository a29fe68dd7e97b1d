// Outside kmn-app an actor cannot be made by hand (only `authenticate` and
// `CaAdmin::local` make one).
use kmn_app::actor::{Actor, Role};

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

fn main() {
    let _ = forge_actor;
}

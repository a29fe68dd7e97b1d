// Outside kmn-app a capability cannot be made by hand, not even from another one.
use kmn_app::rights::{Center, Supervisor};

fn promote(c: &Center) -> Supervisor {
    Supervisor {
        actor: c.actor().clone(),
    }
}

fn main() {
    let _ = promote;
}

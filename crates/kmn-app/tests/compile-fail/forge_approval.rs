// Dual control: an approval exists only by `proposal::approve`.
use kmn_app::proposal::{Approved, Proposal};

fn forge_approval(p: Proposal) -> Approved {
    Approved(p)
}

fn main() {
    let _ = forge_approval;
}

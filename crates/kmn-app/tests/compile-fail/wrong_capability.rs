// The right to read is not the right to act: a reader (an auditor, a desk) cannot
// disable an account, nor a registrar approve an application, nor the center approve
// a proposal (that takes a supervisor).
use kmn_app::App;
use kmn_app::rights::{Center, Reader, Registrar};

async fn disable(app: &App, reader: &Reader) {
    let _ = kmn_app::ra::accounts::disable(app, reader, "U000001").await;
}

async fn approve(app: &App, desk: &Registrar) {
    let _ = kmn_app::ra::applications::review(
        app,
        desk,
        "A00000001",
        kmn_domain::ApplicationAction::Approve,
        None,
    )
    .await;
}

async fn approve_proposal(app: &App, center: &Center) {
    let _ = kmn_app::proposal::approve(app, center, "P1", "00").await;
}

fn main() {
    let _ = (disable, approve, approve_proposal);
}

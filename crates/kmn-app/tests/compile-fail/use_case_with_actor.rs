// An authenticated actor is not a right: the use case wants the capability.
use kmn_app::App;
use kmn_app::actor::Actor;

async fn disable(app: &App, actor: &Actor) {
    let _ = kmn_app::ra::accounts::disable(app, actor, "U000001").await;
}

fn main() {
    let _ = disable;
}

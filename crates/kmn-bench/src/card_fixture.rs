//! Issue 4's card benchmark (`bench/cards`) needs approved applications, and the
//! operator CLI has no command to draft one: a facility desk drafts and submits it over
//! the API. `kmn-bench card-applications` plays the desk, through the library, for
//! holders already registered with `kmn person add`; `bench/cards` then approves them
//! with `kmn application approve`.

use std::path::Path;
use std::sync::Arc;

use anyhow::Result;
use kmn_app::ra::applications;
use kmn_app::rights::CaAdmin;
use kmn_app::{App, SystemClock};
use kmn_domain::ApplicationAction;

/// Drafts and submits a new-card application (5 years) for each holder; prints the
/// application ids, one per line.
pub async fn draft_and_submit(data_dir: &Path, facility: &str, holders: &[String]) -> Result<()> {
    let app = App::open(data_dir, Arc::new(SystemClock)).await?;
    let desk = CaAdmin::local(Some("bench-desk")).registrar();
    for h in holders {
        let a = applications::create(
            &app,
            &desk,
            &applications::ApplicationInput {
                facility_code: facility.to_string(),
                holder_id: h.clone(),
                kind: "new".into(),
                validity_years: Some(5),
                ..Default::default()
            },
        )
        .await?;
        applications::act(&app, &desk, &a.id, ApplicationAction::Submit, None).await?;
        println!("{}", a.id);
    }
    Ok(())
}

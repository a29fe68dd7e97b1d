//! Issue 10 item 2: the holders' emergency form must give the same answer **and the same
//! timing** for an unknown card number and a wrong emergency code, so that the form does
//! not tell which card numbers exist. `kmn-bench holder-timing` times
//! `kmn_app::ra::emergency::by_holder` both ways, interleaved, on one data dir with the
//! demo's card: an unknown card number (a fresh one each time) against the demo card with
//! a wrong code (its failure count cleared between attempts, untimed, so that the lockout
//! never answers instead). Prints the medians and their ratio; the baseline of the same
//! run is the wrong-code time.

use std::time::Instant;

use anyhow::{Result, ensure};
use kmn_app::ra::emergency::{self, HolderAnswer};
use kmn_domain::EmergencyCause;

use crate::setup::{self, Backend};
use crate::util::Stats;

/// The code the benchmark gives the demo card (never printed on anything).
const CODE: &str = "7061-9444-6066";

/// Medians of `n` attempts each way, in µs: (unknown card, wrong code).
pub fn run(backend: &Backend, n: usize) -> Result<(Stats, Stats)> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let tmp = tempfile::Builder::new()
        .prefix("kmn-bench-holder")
        .tempdir()?;
    rt.block_on(async {
        let b = setup::make_with(tmp.path(), backend, "holder", true).await?;
        let app = b.app.clone();
        kmn_app::quickstart::seed_demo(&app).await?;
        let admin = kmn_app::rights::CaAdmin::local(Some("bench"));
        let card = kmn_app::ra::delivery::list(&app, &admin.reader(), None, None, None, 10)
            .await?
            .into_iter()
            .next()
            .ok_or_else(|| anyhow::anyhow!("the demo has no card"))?;
        let pepper = emergency::code_pepper(&app)?;
        let sealed = emergency::seal_code(&pepper, CODE)?;
        {
            let mut tx = app.store_for_tests().begin().await?;
            tx.set_card_revocation_code(&card.id, &sealed).await?;
            tx.commit().await?;
        }
        let clear = |app: kmn_app::App| async move {
            let mut tx = app.store_for_tests().begin().await?;
            tx.execute_raw("DELETE FROM emergency_attempts").await?;
            tx.commit().await?;
            Ok::<(), anyhow::Error>(())
        };
        let (mut unknown, mut wrong) = (Vec::with_capacity(n), Vec::with_capacity(n));
        for i in 0..n + 20 {
            clear(app.clone()).await?;
            // An unknown number of the same shape as a real one.
            let number = format!("C9{:07}", i);
            let t = Instant::now();
            let a =
                emergency::by_holder(&app, &number, CODE, EmergencyCause::Lost, "bench").await?;
            let u = t.elapsed().as_secs_f64() * 1e6;
            ensure!(matches!(a, HolderAnswer::Refused), "unknown card: {a:?}");
            clear(app.clone()).await?;
            let t = Instant::now();
            let a = emergency::by_holder(
                &app,
                &card.id,
                "0000-0000-0000",
                EmergencyCause::Lost,
                "bench",
            )
            .await?;
            let w = t.elapsed().as_secs_f64() * 1e6;
            ensure!(matches!(a, HolderAnswer::Refused), "wrong code: {a:?}");
            // The first rounds warm the caches and the connection pool.
            if i >= 20 {
                unknown.push(u);
                wrong.push(w);
            }
        }
        b.finish().await?;
        Ok((Stats::of(&unknown), Stats::of(&wrong)))
    })
}

//! The one runner of after-commit effects ([`kmn_domain::Effect`]).
//!
//! A use case states its effects inside its transaction (`Tx::defer`; the one revocation
//! path, [`crate::ca::revoke`], defers [`Effect::PublishCrl`] for the certificate's CA),
//! and the store hands them to the runner installed here once the transaction has
//! committed — whichever use case it was (`kmn cert revoke`, `kmn card lost-in-post`,
//! an approval that revokes, a job, an operator's credential, a holder's form …). A
//! rolled-back transaction runs nothing. Two ways to run them:
//!
//! - [`install_publisher`] (the CLI): publishes the CRLs of the affected CAs there and
//!   then, so the revocation is in the repository's CRL when the command returns (第16条).
//!   What was published, or why it could not be, is kept for the command to report
//!   ([`Reports::take`]); a failure never undoes the committed revocation: `kmn serve` or
//!   `kmn crl publish` publishes it.
//! - [`install_waker`] (`kmn serve`): wakes the server's CRL publisher, which publishes
//!   within the debounce — one publisher, never two publications racing in one process
//!   (the CRL numbers are compare-and-set across processes anyway).

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use kmn_domain::Effect;

use crate::App;
use crate::ca::crl::Published;

/// What running the effects of one commit did.
#[derive(Clone, Debug)]
pub enum Report {
    /// A CRL was published.
    CrlPublished(Published),
    /// The CRLs of these CAs could not be published (the revocation stays committed).
    CrlFailed {
        /// The issuing CAs.
        ca_names: Vec<String>,
        /// Why, for people (Japanese).
        error: String,
    },
}

/// The reports of the effects run since the last [`Reports::take`].
#[derive(Clone, Debug, Default)]
pub struct Reports(Arc<Mutex<Vec<Report>>>);

impl Reports {
    /// Takes the reports gathered so far.
    pub fn take(&self) -> Vec<Report> {
        self.0
            .lock()
            .map(|mut g| std::mem::take(&mut *g))
            .unwrap_or_default()
    }

    fn push(&self, r: Report) {
        if let Ok(mut g) = self.0.lock() {
            g.push(r);
        }
    }
}

enum Mode {
    /// Publish at once (the CLI), as `actor`.
    Publish { actor: String, reports: Reports },
    /// Wake the publisher of `kmn serve`.
    Wake(Arc<tokio::sync::Notify>),
}

struct Runner {
    /// The app, on a store clone without this runner (no cycle; publishing a CRL
    /// defers no effect).
    app: App,
    mode: Mode,
}

impl kmn_store::AfterCommit for Runner {
    fn run(&self, effects: Vec<Effect>) -> Pin<Box<dyn Future<Output = ()> + Send + 'static>> {
        let ca_names: Vec<String> = effects
            .into_iter()
            .map(|e| match e {
                Effect::PublishCrl { ca_name } => ca_name,
            })
            .collect();
        match &self.mode {
            Mode::Wake(n) => {
                n.notify_one();
                Box::pin(async {})
            }
            Mode::Publish { actor, reports } => {
                let app = self.app.clone();
                let actor = actor.clone();
                let reports = reports.clone();
                Box::pin(async move {
                    match crate::ca::crl::publish_cas(&app, &actor, Some(&ca_names)).await {
                        Ok(ps) => {
                            for p in ps {
                                reports.push(Report::CrlPublished(p));
                            }
                        }
                        Err(e) => {
                            tracing::warn!(error = %e, "revocation committed, CRL not published");
                            reports.push(Report::CrlFailed {
                                ca_names,
                                error: e.message_ja(),
                            });
                        }
                    }
                })
            }
        }
    }
}

fn install(app: &App, mode: Mode) {
    let runner = Runner {
        app: App {
            store: app.store.without_after_commit(),
            ..app.clone()
        },
        mode,
    };
    app.store.set_after_commit(Some(Arc::new(runner)));
}

/// The CLI's runner: every committed revocation publishes its CA's CRL at once, as
/// `actor`; the outcomes are kept in `reports` for the command's output.
pub fn install_publisher(app: &App, actor: &str, reports: &Reports) {
    install(
        app,
        Mode::Publish {
            actor: actor.to_string(),
            reports: reports.clone(),
        },
    );
}

/// `kmn serve`'s runner: every committed revocation wakes this process's CRL publisher
/// ([`crate::ca::crl::publisher_loop`]).
pub fn install_waker(app: &App) {
    install(app, Mode::Wake(app.crl_wakes.clone()));
}

/// Removes the runner: effects are dropped (`kmn serve`, if running, finds the work by
/// its own poll).
pub fn uninstall(app: &App) {
    app.store.set_after_commit(None);
}

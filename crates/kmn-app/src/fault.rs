//! Test hooks inside publication (cargo feature `fault-points`, for tests only; a build
//! without the feature has none of this).
//!
//! [`set_crl_before_stamp`] installs an async hook that `crl::publish_in_tx` awaits after
//! the CRL has been encoded, signed, written and read back, and before it is recorded as
//! published and its revocations are stamped: the window in which a revocation committed
//! by another transaction must stay out of this CRL's stamps (第23条3). Hooks are kept per
//! data dir, so tests running side by side in one process do not see each other's.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use crate::App;

/// Where a publication stands when the hook runs.
#[derive(Clone, Debug)]
pub struct CrlPause {
    /// The CA.
    pub ca_name: String,
    /// The number of the CRL being published.
    pub number: i64,
    /// The file just written and read back.
    pub path: PathBuf,
}

/// A hook: called with the publication's state; publication resumes when it completes.
pub type CrlHook = Arc<dyn Fn(CrlPause) -> Pin<Box<dyn Future<Output = ()> + Send>> + Send + Sync>;

static BEFORE_STAMP: Mutex<Vec<(PathBuf, CrlHook)>> = Mutex::new(Vec::new());

/// Installs (`Some`) or removes (`None`) the hook of the data dir `data_dir`.
pub fn set_crl_before_stamp(data_dir: &Path, hook: Option<CrlHook>) {
    let mut hooks = BEFORE_STAMP.lock().unwrap_or_else(|e| e.into_inner());
    hooks.retain(|(d, _)| d != data_dir);
    if let Some(h) = hook {
        hooks.push((data_dir.to_path_buf(), h));
    }
}

/// Runs the hook of `app`'s data dir, if one is installed.
pub(crate) async fn crl_before_stamp(app: &App, pause: CrlPause) {
    let hook = BEFORE_STAMP
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .find(|(d, _)| *d == app.data_dir)
        .map(|(_, h)| h.clone());
    if let Some(h) = hook {
        h(pause).await;
    }
}
